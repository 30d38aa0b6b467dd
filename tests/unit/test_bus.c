/* Unit tests for devices/bus.c: registration (order, overlap, limits) and
 * dispatch (offsets relative to the range, all-ones for unclaimed reads,
 * accesses that straddle a range end refused). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>

#include <cmocka.h>

#include "bus.h"

struct dev {
	int id;
	unsigned calls;
	uint64_t last_off;
	uint32_t last_len;
	bool last_write;
	uint8_t last_data[8];
};

static void handler(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		    bool is_write)
{
	struct dev *d = opaque;

	d->calls++;
	d->last_off = offset;
	d->last_len = len;
	d->last_write = is_write;
	if (is_write) {
		memcpy(d->last_data, data, len);
	} else {
		/* Reads return id, offset, then a counting pattern. */
		for (uint32_t i = 0; i < len; i++)
			data[i] = (uint8_t)(d->id * 16 + offset + i);
	}
}

static void test_register_sorted(void **state)
{
	struct io_bus bus;
	struct dev a = { .id = 1 }, b = { .id = 2 }, c = { .id = 3 };

	bus_init(&bus, "pio");
	assert_string_equal(bus.name, "pio");
	assert_int_equal(bus.n, 0);
	assert_int_equal(bus_register(&bus, 0x3f8, 8, handler, &b, "com1"), 0);
	assert_int_equal(bus_register(&bus, 0x60, 1, handler, &a, "kbd"), 0);
	assert_int_equal(bus_register(&bus, 0x600, 3, handler, &c, "pm"), 0);
	assert_int_equal(bus.n, 3);
	assert_int_equal(bus.r[0].base, 0x60);
	assert_int_equal(bus.r[1].base, 0x3f8);
	assert_int_equal(bus.r[2].base, 0x600);
	assert_ptr_equal(bus.r[1].opaque, &b);
	assert_string_equal(bus.r[2].name, "pm");
	assert_int_equal(bus.r[1].len, 8);
}

static void test_register_overlap(void **state)
{
	struct io_bus bus;
	struct dev a = { .id = 1 };

	bus_init(&bus, "mmio");
	assert_int_equal(bus_register(&bus, 0x100, 8, handler, &a, "a"), 0);
	assert_int_equal(bus_register(&bus, 0x200, 0x100, handler, &a, "b"), 0);
	/* Overlap at either end, inside, around, identical. */
	assert_int_equal(bus_register(&bus, 0x104, 8, handler, &a, "x"), -EEXIST);
	assert_int_equal(bus_register(&bus, 0xf8, 9, handler, &a, "x"), -EEXIST);
	assert_int_equal(bus_register(&bus, 0x102, 1, handler, &a, "x"), -EEXIST);
	assert_int_equal(bus_register(&bus, 0, 0x1000, handler, &a, "x"), -EEXIST);
	assert_int_equal(bus_register(&bus, 0x100, 8, handler, &a, "x"), -EEXIST);
	assert_int_equal(bus_register(&bus, 0x2ff, 1, handler, &a, "x"), -EEXIST);
	assert_int_equal(bus_register(&bus, 0x108, 0xf9, handler, &a, "x"), -EEXIST);
	assert_int_equal(bus.n, 2);
	/* Exactly adjacent is fine on both sides. */
	assert_int_equal(bus_register(&bus, 0xf8, 8, handler, &a, "lo"), 0);
	assert_int_equal(bus_register(&bus, 0x108, 0xf8, handler, &a, "mid"), 0);
	assert_int_equal(bus_register(&bus, 0x300, 1, handler, &a, "hi"), 0);
	assert_int_equal(bus.n, 5);
	for (unsigned i = 1; i < bus.n; i++)
		assert_true(bus.r[i - 1].base + bus.r[i - 1].len <= bus.r[i].base);

	/* Empty, wrapping, handler-less. */
	assert_int_equal(bus_register(&bus, 0x1000, 0, handler, &a, "x"), -EINVAL);
	assert_int_equal(bus_register(&bus, UINT64_MAX - 1, 4, handler, &a, "x"),
			 -EINVAL);
	assert_int_equal(bus_register(&bus, 0x1000, 4, NULL, &a, "x"), -EINVAL);
	assert_int_equal(bus.n, 5);
}

static void test_register_full(void **state)
{
	static struct io_bus bus;
	static struct dev d[BUS_MAX_RANGES + 1];
	uint8_t v;

	bus_init(&bus, "full");
	/* Registered in a scrambled order: 37 is coprime with 64. */
	for (unsigned i = 0; i < BUS_MAX_RANGES; i++) {
		unsigned k = (i * 37) % BUS_MAX_RANGES;

		d[k].id = (int)k;
		assert_int_equal(bus_register(&bus, 0x1000 + k * 0x10, 4, handler,
					      &d[k], "d"), 0);
	}
	assert_int_equal(bus.n, BUS_MAX_RANGES);
	assert_int_equal(bus_register(&bus, 0x100000, 4, handler, &d[BUS_MAX_RANGES],
				      "extra"), -ENOSPC);
	/* Every range dispatches to its own device (the binary search). */
	for (unsigned k = 0; k < BUS_MAX_RANGES; k++) {
		assert_true(bus_access(&bus, 0x1000 + k * 0x10 + 3, &v, 1, false));
		assert_int_equal(d[k].calls, 1);
		assert_int_equal(d[k].last_off, 3);
		assert_int_equal(v, (uint8_t)(k * 16 + 3));
		/* The gaps between them belong to nobody. */
		assert_false(bus_access(&bus, 0x1000 + k * 0x10 + 4, &v, 1, false));
		assert_int_equal(v, 0xff);
	}
	for (unsigned k = 0; k < BUS_MAX_RANGES; k++)
		assert_int_equal(d[k].calls, 1);
}

static void test_dispatch(void **state)
{
	struct io_bus bus;
	struct dev a = { .id = 1 }, b = { .id = 2 };
	uint8_t buf[8];

	bus_init(&bus, "pio");
	assert_int_equal(bus_register(&bus, 0x3f8, 8, handler, &a, "com1"), 0);
	assert_int_equal(bus_register(&bus, 0xd000, 0x100, handler, &b, "bar"), 0);

	buf[0] = 0x41;
	assert_true(bus_access(&bus, 0x3f8, buf, 1, true));
	assert_int_equal(a.calls, 1);
	assert_int_equal(a.last_off, 0);
	assert_int_equal(a.last_len, 1);
	assert_true(a.last_write);
	assert_int_equal(a.last_data[0], 0x41);

	memset(buf, 0, sizeof(buf));
	assert_true(bus_access(&bus, 0x3fd, buf, 1, false));
	assert_int_equal(a.last_off, 5);
	assert_false(a.last_write);
	assert_int_equal(buf[0], 16 + 5);

	/* Wider accesses, up to the last bytes of a range. */
	assert_true(bus_access(&bus, 0xd0f8, buf, 8, false));
	assert_int_equal(b.last_off, 0xf8);
	assert_int_equal(b.last_len, 8);
	assert_int_equal(buf[7], (uint8_t)(32 + 0xf8 + 7));
	memcpy(buf, "\x11\x22\x33\x44", 4);
	assert_true(bus_access(&bus, 0xd010, buf, 4, true));
	assert_memory_equal(b.last_data, "\x11\x22\x33\x44", 4);
	assert_int_equal(b.last_off, 0x10);
	assert_int_equal(a.calls, 2);
	assert_int_equal(b.calls, 2);
}

static void test_unclaimed(void **state)
{
	struct io_bus bus;
	struct dev a = { .id = 1 };
	uint8_t buf[8];

	bus_init(&bus, "pio");
	/* Empty bus. */
	memset(buf, 0, sizeof(buf));
	assert_false(bus_access(&bus, 0x80, buf, 4, false));
	assert_memory_equal(buf, "\xff\xff\xff\xff\0\0\0\0", 8);

	assert_int_equal(bus_register(&bus, 0x3f8, 8, handler, &a, "com1"), 0);
	memset(buf, 0, sizeof(buf));
	assert_false(bus_access(&bus, 0x3f7, buf, 1, false));
	assert_int_equal(buf[0], 0xff);
	assert_int_equal(buf[1], 0);
	memset(buf, 0, sizeof(buf));
	assert_false(bus_access(&bus, 0x400, buf, 8, false));
	assert_memory_equal(buf, "\xff\xff\xff\xff\xff\xff\xff\xff", 8);
	/* Unclaimed writes are dropped and the data left alone. */
	memset(buf, 0x12, sizeof(buf));
	assert_false(bus_access(&bus, 0x400, buf, 2, true));
	assert_int_equal(buf[0], 0x12);
	assert_int_equal(a.calls, 0);
}

static void test_straddle(void **state)
{
	struct io_bus bus;
	struct dev a = { .id = 1 }, b = { .id = 2 };
	uint8_t buf[8];

	bus_init(&bus, "pio");
	assert_int_equal(bus_register(&bus, 0x100, 8, handler, &a, "a"), 0);
	assert_int_equal(bus_register(&bus, 0x108, 8, handler, &b, "b"), 0);

	/* Ends one byte past range a (into b): refused, nobody called. */
	memset(buf, 0, sizeof(buf));
	assert_false(bus_access(&bus, 0x107, buf, 2, false));
	assert_int_equal(buf[0], 0xff);
	assert_int_equal(buf[1], 0xff);
	assert_false(bus_access(&bus, 0x104, buf, 8, true));
	/* Starts in a gap, ends inside a range. */
	assert_false(bus_access(&bus, 0xff, buf, 2, false));
	/* Runs off the last range. */
	assert_false(bus_access(&bus, 0x10c, buf, 8, false));
	assert_int_equal(a.calls, 0);
	assert_int_equal(b.calls, 0);
	/* Exactly to the end is fine. */
	assert_true(bus_access(&bus, 0x106, buf, 2, false));
	assert_true(bus_access(&bus, 0x108, buf, 8, false));
	assert_int_equal(a.calls, 1);
	assert_int_equal(b.calls, 1);

	/* Lengths outside 1..8. */
	assert_false(bus_access(&bus, 0x100, buf, 0, false));
	assert_false(bus_access(&bus, 0x100, buf, 9, true));
	assert_int_equal(a.calls, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_register_sorted),
		cmocka_unit_test(test_register_overlap),
		cmocka_unit_test(test_register_full),
		cmocka_unit_test(test_dispatch),
		cmocka_unit_test(test_unclaimed),
		cmocka_unit_test(test_straddle),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
