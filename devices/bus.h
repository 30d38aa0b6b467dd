/* Address-range dispatch for port I/O and MMIO exits. Devices register while
 * the VM is built; the table is read-only once vCPUs run, so lookups take no
 * lock. Devices serialise their own state. */
#ifndef VMM_BUS_H
#define VMM_BUS_H

#include <stdbool.h>
#include <stdint.h>

/* `offset` is relative to the range base; `data` holds `len` bytes
 * (1..8) little-endian. A read handler fills `data`. */
typedef void (*bus_handler_fn)(void *opaque, uint64_t offset, uint8_t *data,
			       uint32_t len, bool is_write);

struct bus_range {
	uint64_t base;
	uint64_t len;
	bus_handler_fn fn;
	void *opaque;
	const char *name;
};

#define BUS_MAX_RANGES 64

struct io_bus {
	const char *name;
	unsigned n;
	struct bus_range r[BUS_MAX_RANGES];	/* sorted by base, disjoint */
};

void bus_init(struct io_bus *bus, const char *name);
/* Returns 0, -EEXIST on overlap, -ENOSPC when full, -EINVAL on an empty or
 * wrapping range. */
int bus_register(struct io_bus *bus, uint64_t base, uint64_t len,
		 bus_handler_fn fn, void *opaque, const char *name);
/* Returns true when a device handled the access. Unclaimed reads return
 * all-ones, as on real hardware, and unclaimed writes are dropped. */
bool bus_access(const struct io_bus *bus, uint64_t addr, uint8_t *data,
		uint32_t len, bool is_write);

#endif
