/* Sorted range table with binary search; see bus.h. */
#include "bus.h"

#include <errno.h>
#include <string.h>

void bus_init(struct io_bus *bus, const char *name)
{
	memset(bus, 0, sizeof(*bus));
	bus->name = name;
}

int bus_register(struct io_bus *bus, uint64_t base, uint64_t len,
		 bus_handler_fn fn, void *opaque, const char *name)
{
	unsigned i;

	if (len == 0 || base + len < base || !fn)
		return -EINVAL;
	if (bus->n == BUS_MAX_RANGES)
		return -ENOSPC;
	for (i = 0; i < bus->n; i++) {
		const struct bus_range *r = &bus->r[i];

		if (base < r->base + r->len && r->base < base + len)
			return -EEXIST;
		if (r->base > base)
			break;
	}
	memmove(&bus->r[i + 1], &bus->r[i], (bus->n - i) * sizeof(bus->r[0]));
	bus->r[i] = (struct bus_range){ base, len, fn, opaque, name };
	bus->n++;
	return 0;
}

static const struct bus_range *bus_find(const struct io_bus *bus, uint64_t addr)
{
	unsigned lo = 0, hi = bus->n;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct bus_range *r = &bus->r[mid];

		if (addr < r->base)
			hi = mid;
		else if (addr - r->base >= r->len)
			lo = mid + 1;
		else
			return r;
	}
	return NULL;
}

bool bus_access(const struct io_bus *bus, uint64_t addr, uint8_t *data,
		uint32_t len, bool is_write)
{
	const struct bus_range *r = bus_find(bus, addr);

	/* An access must lie wholly inside one device's range. */
	if (!r || len == 0 || len > 8 || len > r->len - (addr - r->base)) {
		if (!is_write)
			memset(data, 0xff, len > 8 ? 8 : len);
		return false;
	}
	r->fn(r->opaque, addr - r->base, data, len, is_write);
	return true;
}
