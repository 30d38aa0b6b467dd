/* The console's output ring (vmm/console_ring.c): what `vmm ctl NAME
 * console` replays on attach is exactly the last 64 KiB, oldest first,
 * across wraps; a reader that fell behind is moved on and told by how much;
 * the reader is woken once per burst, not once per byte. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "console_ring.h"

/* Byte `i` of the test's output stream: a pattern with no period that
 * divides the ring's size, so that a misplaced byte shows. */
static uint8_t at(uint64_t i)
{
	return (uint8_t)(i * 7 + i / 251);
}

static void put_range(struct console_ring *r, uint64_t from, uint64_t to, size_t chunk)
{
	uint8_t buf[5000];

	while (from < to) {
		size_t n = to - from < chunk ? (size_t)(to - from) : chunk;

		for (size_t i = 0; i < n; i++)
			buf[i] = at(from + i);
		console_ring_put(r, buf, n);
		from += n;
	}
}

/* Everything a new reader gets: position, skipped count and bytes. */
static size_t replay(struct console_ring *r, uint8_t *out, size_t len, uint64_t *first)
{
	uint64_t pos = 0, skipped;
	size_t got = 0, n;

	assert_int_equal(console_ring_read(r, &pos, NULL, 0, &skipped), 0);
	*first = pos;
	while ((n = console_ring_read(r, &pos, out + got, len - got > 1000 ? 1000 : len - got,
				      &skipped)) > 0) {
		assert_int_equal(skipped, 0);
		got += n;
		pos += n;
	}
	return got;
}

static void test_short(void **state __attribute__((unused)))
{
	struct console_ring *r = console_ring_new();
	uint8_t out[CONSOLE_RING_SIZE];
	uint64_t first;

	assert_non_null(r);
	assert_int_equal(replay(r, out, sizeof(out), &first), 0);
	console_ring_put(r, (const uint8_t *)"login: ", 7);
	assert_int_equal(replay(r, out, sizeof(out), &first), 7);
	assert_int_equal(first, 0);
	assert_memory_equal(out, "login: ", 7);
	console_ring_free(r);
}

/* Exactly 64 KiB kept, oldest first, for every way of crossing the end. */
static void test_wrap(void **state __attribute__((unused)))
{
	static uint8_t out[CONSOLE_RING_SIZE + 100];
	const uint64_t totals[] = { CONSOLE_RING_SIZE - 1, CONSOLE_RING_SIZE,
				    CONSOLE_RING_SIZE + 1, 3 * CONSOLE_RING_SIZE + 12345 };
	const size_t chunks[] = { 1, 4093, 5000 };

	for (size_t t = 0; t < sizeof(totals) / sizeof(totals[0]); t++) {
		for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
			struct console_ring *r = console_ring_new();
			uint64_t total = totals[t], first, want_first;
			size_t got;

			put_range(r, 0, total, chunks[c]);
			got = replay(r, out, sizeof(out), &first);
			want_first = total > CONSOLE_RING_SIZE ? total - CONSOLE_RING_SIZE : 0;
			assert_int_equal(got, total - want_first);
			assert_int_equal(first, want_first);
			for (size_t i = 0; i < got; i++)
				if (out[i] != at(first + i))
					fail_msg("total %llu chunk %zu: byte %zu is %u, not %u",
						 (unsigned long long)total, chunks[c], i,
						 out[i], at(first + i));
			console_ring_free(r);
		}
	}
}

/* One put larger than the ring keeps its own tail. */
static void test_put_larger_than_ring(void **state __attribute__((unused)))
{
	static uint8_t big[CONSOLE_RING_SIZE * 2 + 3], out[CONSOLE_RING_SIZE];
	struct console_ring *r = console_ring_new();
	uint64_t first;

	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = at(i);
	console_ring_put(r, (const uint8_t *)"xyz", 3);
	console_ring_put(r, big, sizeof(big));
	assert_int_equal(replay(r, out, sizeof(out), &first), CONSOLE_RING_SIZE);
	assert_int_equal(first, 3 + sizeof(big) - CONSOLE_RING_SIZE);
	assert_memory_equal(out, big + sizeof(big) - CONSOLE_RING_SIZE, CONSOLE_RING_SIZE);
	console_ring_free(r);
}

/* A reader that fell behind: moved to the oldest byte kept, told how many
 * it missed; a position past the end gives nothing. */
static void test_skipped(void **state __attribute__((unused)))
{
	struct console_ring *r = console_ring_new();
	uint64_t pos = 100, skipped;
	uint8_t b[10];

	put_range(r, 0, 200, 7);
	assert_int_equal(console_ring_read(r, &pos, b, sizeof(b), &skipped), 10);
	assert_int_equal(skipped, 0);
	assert_int_equal(pos, 100);	/* the caller advances it */
	assert_int_equal(b[0], at(100));
	put_range(r, 200, 200 + CONSOLE_RING_SIZE + 50, 4096);
	assert_int_equal(console_ring_read(r, &pos, b, sizeof(b), &skipped), 10);
	assert_int_equal(pos, 250);
	assert_int_equal(skipped, 150);
	assert_int_equal(b[0], at(250));
	pos = 1u << 30;
	assert_int_equal(console_ring_read(r, &pos, b, sizeof(b), &skipped), 0);
	assert_int_equal(pos, 200 + CONSOLE_RING_SIZE + 50);
	console_ring_free(r);
}

static uint64_t counter(int fd)
{
	uint64_t v = 0;

	if (read(fd, &v, sizeof(v)) < 0)
		return 0;
	return v;
}

/* The reader is woken once per burst; a read re-arms it; none without a
 * notify fd; a kick always wakes. */
static void test_notify(void **state __attribute__((unused)))
{
	struct console_ring *r = console_ring_new();
	int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	uint64_t pos = 0, skipped;
	uint8_t b[64];

	assert_true(efd >= 0);
	put_range(r, 0, 10, 1);
	console_ring_set_notify(r, efd);
	assert_int_equal(counter(efd), 0);
	put_range(r, 10, 50, 1);
	assert_int_equal(counter(efd), 1);
	put_range(r, 50, 60, 1);
	assert_int_equal(counter(efd), 0);	/* not read since: no new wakeup */
	assert_int_equal(console_ring_read(r, &pos, b, sizeof(b), &skipped), 60);
	put_range(r, 60, 61, 1);
	assert_int_equal(counter(efd), 1);
	console_ring_kick(r);
	assert_int_equal(counter(efd), 1);
	console_ring_set_notify(r, -1);
	put_range(r, 61, 70, 1);
	console_ring_kick(r);
	assert_int_equal(counter(efd), 0);
	close(efd);
	console_ring_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_short),
		cmocka_unit_test(test_wrap),
		cmocka_unit_test(test_put_larger_than_ring),
		cmocka_unit_test(test_skipped),
		cmocka_unit_test(test_notify),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
