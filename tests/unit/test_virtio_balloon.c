/* Unit tests for devices/virtio/balloon.c: a fake driver puts PFN arrays,
 * free page reports and statistics in real split rings over guest memory
 * (private, and the shared memfd vhost-user backends map), and the test
 * checks what the guest would see: pages given back read as zeroes, pages
 * outside RAM are refused without harm, the config space's target and
 * actual, the status words. No I/O thread: the test runs the stats tick. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fake_vq.h"
#include "log.h"
#include "memory.h"
#include "virtio/balloon.h"

#define RAM		(16 << 20)
#define QSIZE		64
#define RINGS		0x10000ULL	/* queue q's rings at RINGS * (q + 1) */
#define BUF		0x100000ULL	/* the driver's PFN array / stats buffer */
#define DATA		0x800000ULL	/* pages the tests give back */
#define PAGE		4096u

static struct guest_mem gm;
static struct virtio_dev *vd;
static uint16_t avail[4], used_seen[4];
static unsigned queue_signals, config_signals;

static void sig_queue(struct virtio_dev *d, unsigned q) { queue_signals++; }
static void sig_config(struct virtio_dev *d) { config_signals++; }
static const struct virtio_transport_ops tops = { .signal_queue = sig_queue,
						  .signal_config = sig_config };

static void start(bool shared, uint64_t features, const struct balloon_opts *o)
{
	assert_int_equal(gm_init_kind(&gm, 0, RAM, 0, 0, shared, false), 0);
	assert_int_equal(virtio_balloon_new(o, NULL, &vd), 0);
	pthread_mutex_init(&vd->lock, NULL);
	vd->tops = &tops;
	assert_int_equal(fake_vq_start(vd, &gm, RINGS, RINGS, QSIZE,
				       features | 1ULL << VIRTIO_F_VERSION_1), 0);
	memset(avail, 0, sizeof(avail));
	memset(used_seen, 0, sizeof(used_seen));
	queue_signals = config_signals = 0;
}

static const uint64_t ALL = 1ULL << VIRTIO_BALLOON_F_STATS_VQ |
			    1ULL << VIRTIO_BALLOON_F_REPORTING |
			    1ULL << VIRTIO_BALLOON_F_DEFLATE_ON_OOM;
static const struct balloon_opts OPTS = { .target_pages = 0, .deflate_on_oom = true,
					  .reporting = true, .stats_interval_s = 5 };

static int teardown(void **state)
{
	pthread_mutex_destroy(&vd->lock);
	virtio_balloon_free(vd);
	vd = NULL;
	gm_destroy(&gm);
	return 0;
}

/* One chain of `n` descriptors from `addr[i]`, `len[i]`; published, kicked. */
static void chain(unsigned q, unsigned n, const uint64_t *addr, const uint32_t *len, bool write)
{
	uint16_t head = (uint16_t)((avail[q] * 4) % QSIZE);

	for (unsigned i = 0; i < n; i++) {
		uint16_t flags = (uint16_t)((write ? VRING_DESC_F_WRITE : 0) |
					    (i + 1 < n ? VRING_DESC_F_NEXT : 0));

		assert_int_equal(fake_vq_desc(&vd->vq[q], (uint16_t)(head + i), addr[i], len[i],
					      flags, (uint16_t)((head + i + 1) % QSIZE)), 0);
	}
	assert_int_equal(fake_vq_publish(&vd->vq[q], &avail[q], head), 0);
	fake_vq_kick(vd, q);
}

/* How many chains the device returned on queue q since the last call. */
static unsigned returned(unsigned q)
{
	uint16_t idx;
	unsigned n;

	assert_int_equal(fake_vq_used_idx(&vd->vq[q], &idx), 0);
	n = (uint16_t)(idx - used_seen[q]);
	used_seen[q] = idx;
	return n;
}

static void send_pfns(unsigned q, const uint32_t *pfn, unsigned n)
{
	uint64_t a = BUF;
	uint32_t l = n * 4;

	assert_int_equal(gm_write(&gm, BUF, pfn, l), 0);
	chain(q, 1, &a, &l, false);
	assert_int_equal(returned(q), 1);
}

static void fill(uint64_t gpa, uint64_t len)
{
	memset(gm_ptr(&gm, gpa, len), 0xa5, len);
}

static bool zero(uint64_t gpa, uint64_t len)
{
	const uint8_t *p = gm_ptr(&gm, gpa, len);

	for (uint64_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static struct balloon_info info(void)
{
	struct balloon_info bi;

	virtio_balloon_info(vd, &bi);
	return bi;
}

/* Inflated pages go back (read as zeroes), the others keep their bytes;
 * deflate is counted only; PFNs outside RAM are refused one by one. */
static void inflate_deflate(bool shared)
{
	uint32_t pfn[] = { DATA / PAGE, DATA / PAGE + 1, DATA / PAGE + 3,
			   RAM / PAGE, 0xffffffffu, DATA / PAGE + 5 };

	start(shared, ALL, &OPTS);
	fill(DATA, 8 * PAGE);
	send_pfns(0, pfn, 6);
	assert_true(zero(DATA, 2 * PAGE));
	assert_false(zero(DATA + 2 * PAGE, PAGE));
	assert_true(zero(DATA + 3 * PAGE, PAGE));
	assert_false(zero(DATA + 4 * PAGE, PAGE));
	assert_true(zero(DATA + 5 * PAGE, PAGE));
	assert_false(zero(DATA + 6 * PAGE, 2 * PAGE));
	assert_int_equal(info().inflated, 6);
	assert_int_equal(info().bad, 2);
	assert_true(queue_signals > 0);

	send_pfns(1, pfn, 2);
	assert_int_equal(info().deflated, 2);
	/* The guest writes to a deflated page again: plain memory. */
	fill(DATA, PAGE);
	assert_false(zero(DATA, PAGE));
}

static void test_inflate_private(void **state) { inflate_deflate(false); }
static void test_inflate_shared(void **state) { inflate_deflate(true); }

/* A chain longer than BALLOON_PFNS_MAX: the rest is ignored, the chain
 * returned; a chain of huge buffers costs no more. */
static void test_inflate_huge_count(void **state)
{
	uint64_t a[3] = { BUF, BUF, 0 };
	uint32_t l[3] = { 0x10000, 0x10000, RAM };
	uint32_t *pfn = calloc(0x4000, 4);

	start(false, ALL, &OPTS);
	for (unsigned i = 0; i < 0x4000; i++)
		pfn[i] = DATA / PAGE;
	assert_int_equal(gm_write(&gm, BUF, pfn, 0x10000), 0);
	chain(0, 3, a, l, false);
	assert_int_equal(returned(0), 1);
	assert_int_equal(info().inflated, BALLOON_PFNS_MAX);
	/* A buffer outside RAM breaks the ring: NEEDS_RESET, no crash. */
	a[0] = RAM - 8;
	l[0] = 16;
	chain(0, 1, a, l, false);
	assert_true(vd->status & VIRTIO_CONFIG_S_NEEDS_RESET);
	free(pfn);
}

/* Free page reports: every page wholly inside a range goes back; the chain
 * comes back; partial pages at the edges stay. With STATS_VQ the reporting
 * queue is 3, without it 2. */
static void reporting(bool shared, bool stats)
{
	uint64_t a[2] = { DATA, DATA + 0x100000 + 0x800 };
	uint32_t l[2] = { 0x100000, 0x2000 };
	unsigned q = stats ? 3 : 2;

	start(shared, stats ? ALL : 1ULL << VIRTIO_BALLOON_F_REPORTING, &OPTS);
	fill(DATA, 0x104000);
	chain(q, 2, a, l, true);
	assert_int_equal(returned(q), 1);
	assert_true(zero(DATA, 0x100000));
	assert_false(zero(DATA + 0x100000, PAGE));		/* the edge page */
	assert_true(zero(DATA + 0x101000, PAGE));
	assert_false(zero(DATA + 0x102000, PAGE));
	assert_int_equal(info().reported_bytes, 0x101000);
	assert_int_equal(info().bad, 0);
}

static void test_reporting_private(void **state) { reporting(false, true); }
static void test_reporting_shared(void **state) { reporting(true, true); }
static void test_reporting_index(void **state) { reporting(false, false); }

/* Without REPORTING negotiated, index 3 is no queue of ours: chains there
 * are returned untouched. */
static void test_unused_queue(void **state)
{
	uint64_t a = DATA;
	uint32_t l = PAGE;

	start(false, 1ULL << VIRTIO_BALLOON_F_STATS_VQ, &OPTS);
	fill(DATA, PAGE);
	chain(3, 1, &a, &l, true);
	assert_int_equal(returned(3), 1);
	assert_false(zero(DATA, PAGE));
}

/* The statistics buffer is kept until the tick asks for new numbers; known
 * tags are recorded, unknown ones and a short last entry skipped. */
static void test_stats(void **state)
{
	uint8_t buf[10 * 4 + 5] = { 0 };
	uint16_t tags[4] = { VIRTIO_BALLOON_S_MEMFREE, VIRTIO_BALLOON_S_AVAIL, 999,
			     VIRTIO_BALLOON_S_MEMTOT };
	uint64_t vals[4] = { 100ULL << 20, 200ULL << 20, 7, 512ULL << 20 };
	uint64_t a = BUF;
	uint32_t l = sizeof(buf);
	struct balloon_info bi;
	char words[256];

	start(false, ALL, &OPTS);
	for (unsigned i = 0; i < 4; i++) {
		memcpy(buf + 10 * i, &tags[i], 2);
		memcpy(buf + 10 * i + 2, &vals[i], 8);
	}
	assert_int_equal(gm_write(&gm, BUF, buf, sizeof(buf)), 0);
	chain(2, 1, &a, &l, false);
	assert_int_equal(returned(2), 0);		/* held */
	bi = info();
	assert_int_equal(bi.stats_updates, 1);
	assert_int_equal(bi.stats[VIRTIO_BALLOON_S_MEMFREE], 100ULL << 20);
	assert_int_equal(bi.stats_valid, 1u << VIRTIO_BALLOON_S_MEMFREE |
			 1u << VIRTIO_BALLOON_S_AVAIL | 1u << VIRTIO_BALLOON_S_MEMTOT);
	virtio_balloon_status_words(&bi, words, sizeof(words));
	assert_string_equal(words, " balloon_target_mib=0 balloon_actual_mib=0 "
			    "balloon_reported_mib=0 guest_free_mib=100 guest_available_mib=200 "
			    "guest_total_mib=512");
	virtio_balloon_stats_tick(vd);
	assert_int_equal(returned(2), 1);
	virtio_balloon_stats_tick(vd);			/* nothing held: nothing */
	assert_int_equal(returned(2), 0);
	/* Two buffers at once: the older goes back. */
	chain(2, 1, &a, &l, false);
	chain(2, 1, &a, &l, false);
	assert_int_equal(returned(2), 1);
	/* Short output buffers are never overrun. */
	assert_true(virtio_balloon_status_words(&bi, words, 10) < 10);
	assert_int_equal(strlen(words), 9);
	assert_int_equal(virtio_balloon_status_words(&bi, words, 0), 0);
}

/* The target in num_pages with a config interrupt; the driver's actual;
 * features as configured; reset forgets actual. */
static void test_config(void **state)
{
	struct balloon_opts o = { .target_pages = 256, .deflate_on_oom = false,
				  .reporting = false, .stats_interval_s = 0 };
	struct virtio_balloon_config c;
	uint32_t actual = 1000;
	uint8_t gen;

	start(false, 0, &o);
	assert_int_equal(vd->ops->features(vd) & ALL, 0);
	assert_int_equal(vd->config_size, sizeof(c));
	vd->ops->config_read(vd, 0, (uint8_t *)&c, 8);
	assert_int_equal(c.num_pages, 256);
	gen = vd->config_gen;
	assert_int_equal(virtio_balloon_set_target(vd, 2048), 0);
	assert_int_equal(config_signals, 1);
	assert_int_not_equal(vd->config_gen, gen);
	vd->ops->config_read(vd, 0, (uint8_t *)&c, 4);
	assert_int_equal(c.num_pages, 2048);
	assert_int_equal(virtio_balloon_set_target(vd, RAM / PAGE + 1), -EINVAL);
	assert_int_equal(virtio_balloon_set_target(vd, 1ULL << 40), -EINVAL);
	assert_int_equal(info().target_pages, 2048);
	/* The driver writes actual; a write over num_pages changes nothing. */
	vd->ops->config_write(vd, 4, (uint8_t *)&actual, 4);
	vd->ops->config_write(vd, 0, (uint8_t *)&actual, 4);
	vd->ops->config_read(vd, 0, (uint8_t *)&c, 8);
	assert_int_equal(c.num_pages, 2048);
	assert_int_equal(c.actual, 1000);
	assert_int_equal(info().actual_pages, 1000);
	vd->ops->reset(vd);
	assert_int_equal(info().actual_pages, 0);

	teardown(NULL);
	start(false, 0, &OPTS);
	assert_int_equal(vd->ops->features(vd) & ALL, ALL);
}

/* gm_discard itself: alignment, bounds, both kinds of memory. */
static void test_discard(void **state)
{
	for (int shared = 0; shared < 2; shared++) {
		assert_int_equal(gm_init_kind(&gm, 0x1000000, RAM, 0x1400000, 0x2000000,
					      shared, false), 0);
		fill(0x1000000, 2 * PAGE);
		assert_int_equal(gm_discard(&gm, 0x1000000, PAGE), 0);
		assert_true(zero(0x1000000, PAGE));
		assert_false(zero(0x1001000, PAGE));
		assert_int_equal(gm_discard(&gm, 0x1000800, PAGE), -EINVAL);
		assert_int_equal(gm_discard(&gm, 0x1000000, 100), -EINVAL);
		assert_int_equal(gm_discard(&gm, 0x1000000, 0), -EINVAL);
		assert_int_equal(gm_discard(&gm, 0, PAGE), -EFAULT);
		/* Not across the hole, not past the end. */
		assert_int_equal(gm_discard(&gm, 0x13ff000, 2 * PAGE), -EFAULT);
		assert_int_equal(gm_discard(&gm, 0x2000000 + 12 * 0x100000, PAGE), -EFAULT);
		/* The region above the hole: its memfd offset. */
		fill(0x2000000, 2 * PAGE);
		fill(0x13ff000, PAGE);
		assert_int_equal(gm_discard(&gm, 0x2001000, PAGE), 0);
		assert_false(zero(0x2000000, PAGE));
		assert_true(zero(0x2001000, PAGE));
		assert_false(zero(0x13ff000, PAGE));
		assert_false(zero(0x1001000, PAGE));
		gm_destroy(&gm);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_inflate_private, teardown),
		cmocka_unit_test_teardown(test_inflate_shared, teardown),
		cmocka_unit_test_teardown(test_inflate_huge_count, teardown),
		cmocka_unit_test_teardown(test_reporting_private, teardown),
		cmocka_unit_test_teardown(test_reporting_shared, teardown),
		cmocka_unit_test_teardown(test_reporting_index, teardown),
		cmocka_unit_test_teardown(test_unused_queue, teardown),
		cmocka_unit_test_teardown(test_stats, teardown),
		cmocka_unit_test_teardown(test_config, teardown),
		cmocka_unit_test(test_discard),
	};

	log_set_level(LOG_LVL_ERR);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
