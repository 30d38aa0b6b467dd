/* Unit tests for devices/virtio/virtq.c: a fake driver lays out rings in real
 * guest memory (memfd, split around a hole, every region fenced by PROT_NONE
 * guard pages) the way a guest does, and the device side pops and pushes.
 * Well-formed chains, 16-bit index wrap, notification suppression, and each
 * kind of malformed chain, which must break the queue without a stray access. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "log.h"
#include "memory.h"
#include "virtio/virtq.h"

#define KiB	1024ULL
#define MiB	(1024 * KiB)
#define RAM	(16 * MiB)
#define HOLE_S	(8 * MiB)		/* RAM: [0, 8M) and [12M, 20M) */
#define HOLE_E	(12 * MiB)
#define HI_END	(HOLE_E + (RAM - HOLE_S))
#define GUARD	(64 * KiB)

/* Ring and buffer placement, sized for the largest queue (32768). */
#define DESC_GPA	0x10000ULL	/* 512 KiB */
#define AVAIL_GPA	0x90000ULL	/* 64 KiB + 6 */
#define USED_GPA	0xa1000ULL	/* 256 KiB + 6 */
#define BUF_GPA		0x100000ULL	/* bump allocator, region 0 */
#define TABLE_GPA	0x600000ULL	/* indirect tables, region 0 */
#define HI_GPA		(HOLE_E + 0x1000)	/* region 1 */

static struct guest_mem gm;
static uint8_t *fenced;		/* the guarded re-mapping of gm's regions */
static size_t fenced_len;
static struct virtq_chain chain;

/* ---- guest memory with guard pages ---- */

/* gm_init maps both regions back to back, so an overrun of region 0
 * would land silently in region 1. Re-map each region between PROT_NONE
 * guards and point gm's regions there: any read or write outside RAM now
 * faults, and cmocka reports the fault as a failed test. */
static int group_setup(void **state)
{
	uint8_t *p;

	if (gm_init(&gm, 0, RAM, HOLE_S, HOLE_E) < 0 || gm.nregions != 2)
		return -1;
	fenced_len = 3 * GUARD + RAM;
	fenced = mmap(NULL, fenced_len, PROT_NONE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (fenced == MAP_FAILED)
		return -1;
	p = fenced + GUARD;
	for (unsigned i = 0; i < gm.nregions; i++) {
		struct guest_region *r = &gm.regions[i];

		if (mmap(p, r->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
			 gm.memfd, (off_t)r->fd_offset) == MAP_FAILED)
			return -1;
		r->hva = p;
		p += r->size + GUARD;
	}
	/* Malformed chains are logged once each; keep the test output short. */
	log_set_level(LOG_LVL_ERR);
	return 0;
}

static int group_teardown(void **state)
{
	munmap(fenced, fenced_len);
	gm_destroy(&gm);
	return 0;
}

static int zero_ram(void **state)
{
	memset(gm.base, 0, RAM);
	return 0;
}

/* Every iov must be exactly the host view of its guest range, wholly in one
 * region; checked from the region table, not through gm_ptr. */
static void assert_chain_in_ram(const struct virtq_chain *c)
{
	for (unsigned k = 0; k < c->n; k++) {
		const struct virtq_iov *v = &c->iov[k];
		bool found = false;

		for (unsigned i = 0; i < gm.nregions; i++) {
			const struct guest_region *r = &gm.regions[i];

			if (v->gpa >= r->gpa && v->gpa - r->gpa <= r->size &&
			    v->len <= r->size - (v->gpa - r->gpa)) {
				assert_ptr_equal(v->hva, r->hva + (v->gpa - r->gpa));
				found = true;
			}
		}
		assert_true(found);
		assert_true(v->len > 0);
	}
}

/* ---- the fake driver ---- */

struct buf {
	uint64_t gpa;
	uint32_t len;
	bool write;
};

struct drv {
	struct virtq *q;
	uint16_t size;
	uint16_t avail_idx;	/* the driver's next avail slot */
	uint16_t next_desc;	/* descriptors are handed out round robin */
	uint64_t next_buf;
};

static void w16(uint64_t gpa, uint16_t v) { assert_int_equal(gm_write(&gm, gpa, &v, 2), 0); }
static uint16_t r16(uint64_t gpa)
{
	uint16_t v;

	assert_int_equal(gm_read(&gm, gpa, &v, 2), 0);
	return v;
}

static uint32_t r32(uint64_t gpa)
{
	uint32_t v;

	assert_int_equal(gm_read(&gm, gpa, &v, 4), 0);
	return v;
}

static void put_desc(uint64_t table, unsigned i, uint64_t addr, uint32_t len,
		     uint16_t flags, uint16_t next)
{
	struct virtq_desc d = { addr, len, flags, next };

	assert_int_equal(gm_write(&gm, table + 16ULL * i, &d, sizeof(d)), 0);
}

static void drv_init(struct drv *d, struct virtq *q, uint16_t size, uint64_t features)
{
	memset(q, 0, sizeof(*q));
	q->mem = &gm;
	q->name = "test";
	q->size = size;
	q->desc = DESC_GPA;
	q->avail = AVAIL_GPA;
	q->used = USED_GPA;
	virtq_set_features(q, features | (1ULL << VIRTIO_F_VERSION_1));
	/* A driver allocates its rings zeroed. */
	assert_int_equal(gm_zero(&gm, DESC_GPA, 16ULL * size), 0);
	assert_int_equal(gm_zero(&gm, AVAIL_GPA, 6 + 2ULL * size), 0);
	assert_int_equal(gm_zero(&gm, USED_GPA, 6 + 8ULL * size), 0);
	assert_int_equal(virtq_enable(q), 0);
	memset(d, 0, sizeof(*d));
	d->q = q;
	d->size = size;
	d->next_buf = BUF_GPA;
}

/* Both sides as if `idx` buffers had already gone round the ring. */
static void drv_start_at(struct drv *d, uint16_t idx)
{
	d->avail_idx = idx;
	w16(AVAIL_GPA + 2, idx);
	w16(USED_GPA + 2, idx);
	d->q->last_avail = d->q->shadow_avail = d->q->used_idx = idx;
	d->q->signalled_used = idx;
}

/* A buffer of `len` bytes filled with `fill`. */
static struct buf drv_buf(struct drv *d, uint32_t len, uint8_t fill, bool write)
{
	struct buf b = { d->next_buf, len, write };

	memset(gm_ptr(&gm, b.gpa, len), fill, len);
	d->next_buf = (d->next_buf + len + 63) & ~63ULL;
	return b;
}

/* Writes a chain of direct descriptors and returns its head. With `table`
 * non-zero the chain ends in an indirect descriptor for `nind` descriptors
 * written sequentially at `table`. */
static uint16_t drv_chain_ind(struct drv *d, const struct buf *b, unsigned n,
			      uint64_t table, const struct buf *ib, unsigned nind)
{
	unsigned total = n + (table ? 1 : 0);
	uint16_t idx[64];
	uint16_t mask = d->size - 1;

	assert_true(total > 0 && total <= 64);
	for (unsigned k = 0; k < total; k++)
		idx[k] = d->next_desc++ & mask;
	for (unsigned k = 0; k < n; k++) {
		uint16_t fl = (b[k].write ? VRING_DESC_F_WRITE : 0) |
			      (k + 1 < total ? VRING_DESC_F_NEXT : 0);
		put_desc(DESC_GPA, idx[k], b[k].gpa, b[k].len, fl,
			 k + 1 < total ? idx[k + 1] : 0);
	}
	if (table) {
		for (unsigned k = 0; k < nind; k++)
			put_desc(table, k, ib[k].gpa, ib[k].len,
				 (ib[k].write ? VRING_DESC_F_WRITE : 0) |
				 (k + 1 < nind ? VRING_DESC_F_NEXT : 0), k + 1);
		put_desc(DESC_GPA, idx[n], table, nind * 16, VRING_DESC_F_INDIRECT, 0);
	}
	return idx[0];
}

static uint16_t drv_chain(struct drv *d, const struct buf *b, unsigned n)
{
	return drv_chain_ind(d, b, n, 0, NULL, 0);
}

/* Puts a head into the avail ring; visible only after drv_kick. */
static void drv_offer(struct drv *d, uint16_t head)
{
	w16(AVAIL_GPA + 4 + 2ULL * (d->avail_idx & (d->size - 1)), head);
	d->avail_idx++;
}

static void drv_kick(struct drv *d)
{
	/* Ring entries before the index, as a guest's virtio_wmb does. */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	w16(AVAIL_GPA + 2, d->avail_idx);
}

static void drv_used(struct drv *d, uint16_t idx, uint32_t *id, uint32_t *len)
{
	uint64_t e = USED_GPA + 4 + 8ULL * (idx & (d->size - 1));

	*id = r32(e);
	*len = r32(e + 4);
}

static uint16_t used_idx(void) { return r16(USED_GPA + 2); }
static void set_used_event(struct drv *d, uint16_t v) { w16(AVAIL_GPA + 4 + 2ULL * d->size, v); }
static uint16_t avail_event(struct drv *d) { return r16(USED_GPA + 4 + 8ULL * d->size); }

/* ---- setup and validation ---- */

static void test_validate(void **state)
{
	struct virtq q = { .mem = &gm, .size = 256, .desc = DESC_GPA,
			   .avail = AVAIL_GPA, .used = USED_GPA };

	assert_int_equal(virtq_validate(&q), 0);
	q.size = 32768;
	assert_int_equal(virtq_validate(&q), 0);
	q.size = 1;
	assert_int_equal(virtq_validate(&q), 0);
	q.size = 0;
	assert_int_equal(virtq_validate(&q), -EINVAL);
	q.size = 3;
	assert_int_equal(virtq_validate(&q), -EINVAL);
	q.size = 384;
	assert_int_equal(virtq_validate(&q), -EINVAL);
	q.size = 256;

	/* Alignment: 16, 2, 4. */
	q.desc = DESC_GPA + 8;
	assert_int_equal(virtq_validate(&q), -EINVAL);
	q.desc = DESC_GPA;
	q.avail = AVAIL_GPA + 1;
	assert_int_equal(virtq_validate(&q), -EINVAL);
	q.avail = AVAIL_GPA + 2;
	assert_int_equal(virtq_validate(&q), 0);
	q.avail = AVAIL_GPA;
	q.used = USED_GPA + 2;
	assert_int_equal(virtq_validate(&q), -EINVAL);
	q.used = USED_GPA;

	/* Whole rings in RAM: in the hole, across a region end, past the top,
	 * and the event fields (the last 2 bytes) count. */
	q.desc = HOLE_S;
	assert_int_equal(virtq_validate(&q), -EINVAL);
	q.desc = HOLE_S - 16 * 255;
	assert_int_equal(virtq_validate(&q), -EINVAL);
	q.desc = HOLE_S - 16 * 256;
	assert_int_equal(virtq_validate(&q), 0);
	q.desc = DESC_GPA;
	q.used = HI_END - (4 + 8 * 256);
	assert_int_equal(virtq_validate(&q), -EINVAL);
	q.used = HI_END - (6 + 8 * 256) - 2;
	assert_int_equal(virtq_validate(&q), 0);
	q.used = USED_GPA;
	q.avail = HOLE_S - (4 + 2 * 256);
	assert_int_equal(virtq_validate(&q), -EINVAL);
	q.avail = UINT64_MAX - 1;
	assert_int_equal(virtq_validate(&q), -EINVAL);
	q.avail = AVAIL_GPA;
	q.mem = NULL;
	assert_int_equal(virtq_validate(&q), -EINVAL);

	/* A failed enable leaves the queue idle: nothing to pop or push. */
	q.mem = &gm;
	q.used = HOLE_S;
	assert_int_equal(virtq_enable(&q), -EINVAL);
	assert_false(q.ready);
	assert_int_equal(virtq_pop(&q, &chain), 0);
	assert_int_equal(virtq_push(&q, 0, 0), -EINVAL);
	assert_false(virtq_should_notify(&q));
}

static void test_features(void **state)
{
	struct virtq q = { 0 };

	virtq_set_features(&q, 1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	assert_true(q.indirect);
	assert_false(q.event_idx);
	virtq_set_features(&q, (1ULL << VIRTIO_RING_F_EVENT_IDX) | (1ULL << VIRTIO_F_VERSION_1));
	assert_false(q.indirect);
	assert_true(q.event_idx);
}

/* ---- well-formed chains ---- */

static void test_single(void **state)
{
	struct virtq q;
	struct drv d;
	struct buf b;
	uint32_t id, len;
	uint8_t got[100];
	uint16_t head;

	drv_init(&d, &q, 16, 0);
	assert_int_equal(virtq_pop(&q, &chain), 0);

	b = drv_buf(&d, 100, 0x5a, false);
	head = drv_chain(&d, &b, 1);
	drv_offer(&d, head);
	/* Not kicked yet: the device must not see it. */
	assert_int_equal(virtq_pop(&q, &chain), 0);
	drv_kick(&d);

	assert_int_equal(virtq_pop(&q, &chain), 1);
	assert_int_equal(chain.head, head);
	assert_int_equal(chain.n, 1);
	assert_int_equal(chain.nread, 1);
	assert_int_equal(chain.nwrite, 0);
	assert_int_equal(chain.read_bytes, 100);
	assert_int_equal(chain.write_bytes, 0);
	assert_int_equal(chain.iov[0].gpa, b.gpa);
	assert_int_equal(chain.iov[0].len, 100);
	assert_false(chain.iov[0].write);
	assert_ptr_equal(chain.iov[0].hva, gm_ptr(&gm, b.gpa, 100));
	assert_chain_in_ram(&chain);
	assert_int_equal(virtq_chain_read(&chain, 0, got, sizeof(got)), 100);
	for (unsigned k = 0; k < sizeof(got); k++)
		assert_int_equal(got[k], 0x5a);
	/* Nothing writable to write into. */
	assert_int_equal(virtq_chain_write(&chain, 0, got, 1), 0);

	assert_int_equal(virtq_pop(&q, &chain), 0);
	assert_int_equal(virtq_push(&q, head, 0), 0);
	assert_int_equal(used_idx(), 1);
	drv_used(&d, 0, &id, &len);
	assert_int_equal(id, head);
	assert_int_equal(len, 0);
	/* One push per pop. */
	assert_int_equal(virtq_push(&q, head, 0), -EINVAL);
	assert_int_equal(used_idx(), 1);
}

static void test_read_then_write(void **state)
{
	struct virtq q;
	struct drv d;
	struct buf b[4];
	uint8_t hdr[20], resp[4097], check[4097];
	uint32_t id, len;
	uint16_t head;

	drv_init(&d, &q, 16, 0);
	b[0] = drv_buf(&d, 16, 0x11, false);
	b[1] = drv_buf(&d, 512, 0x22, false);
	b[2] = drv_buf(&d, 1, 0, true);
	b[3] = drv_buf(&d, 4096, 0, true);
	head = drv_chain(&d, b, 4);
	drv_offer(&d, head);
	drv_kick(&d);

	assert_int_equal(virtq_pop(&q, &chain), 1);
	assert_int_equal(chain.n, 4);
	assert_int_equal(chain.nread, 2);
	assert_int_equal(chain.nwrite, 2);
	assert_int_equal(chain.read_bytes, 528);
	assert_int_equal(chain.write_bytes, 4097);
	for (unsigned k = 0; k < 4; k++) {
		assert_int_equal(chain.iov[k].gpa, b[k].gpa);
		assert_int_equal(chain.iov[k].len, b[k].len);
		assert_int_equal(chain.iov[k].write, b[k].write);
	}
	assert_chain_in_ram(&chain);

	/* A header read straddling two descriptors. */
	assert_int_equal(virtq_chain_read(&chain, 10, hdr, sizeof(hdr)), 20);
	for (unsigned k = 0; k < 6; k++)
		assert_int_equal(hdr[k], 0x11);
	for (unsigned k = 6; k < 20; k++)
		assert_int_equal(hdr[k], 0x22);
	assert_int_equal(virtq_chain_read(&chain, 520, hdr, sizeof(hdr)), 8);
	assert_int_equal(virtq_chain_read(&chain, 528, hdr, sizeof(hdr)), 0);

	/* The response fills the writable part only, across both buffers. */
	for (unsigned k = 0; k < sizeof(resp); k++)
		resp[k] = (uint8_t)(k * 7 + 1);
	assert_int_equal(virtq_chain_write(&chain, 0, resp, sizeof(resp)), 4097);
	assert_int_equal(virtq_chain_write(&chain, 4000, resp, 200), 97);
	assert_int_equal(gm_read(&gm, b[2].gpa, check, 1), 0);
	assert_int_equal(gm_read(&gm, b[3].gpa, check + 1, 4096), 0);
	assert_memory_equal(check, resp, 4000);
	assert_int_equal(*(uint8_t *)gm_ptr(&gm, b[0].gpa, 1), 0x11);

	assert_int_equal(virtq_push(&q, head, 4097), 0);
	drv_used(&d, 0, &id, &len);
	assert_int_equal(id, head);
	assert_int_equal(len, 4097);
}

static void test_zero_length(void **state)
{
	struct virtq q;
	struct drv d;
	struct buf b[3];
	uint16_t head;

	drv_init(&d, &q, 16, 0);
	/* A zero-length descriptor names no memory, so even an address outside
	 * RAM is harmless: it is skipped. */
	b[0] = (struct buf){ 0xdead0000000ULL, 0, false };
	b[1] = drv_buf(&d, 8, 1, false);
	b[2] = (struct buf){ HOLE_S, 0, true };
	head = drv_chain(&d, b, 3);
	drv_offer(&d, head);
	drv_kick(&d);
	assert_int_equal(virtq_pop(&q, &chain), 1);
	assert_int_equal(chain.n, 1);
	assert_int_equal(chain.nread, 1);
	assert_int_equal(chain.iov[0].gpa, b[1].gpa);
	assert_false(q.broken);
}

static void test_whole_ring_chain(void **state)
{
	struct virtq q;
	struct drv d;
	struct buf b[8];
	uint16_t head;

	/* A chain may use every descriptor of the table. */
	drv_init(&d, &q, 8, 0);
	for (unsigned k = 0; k < 8; k++)
		b[k] = drv_buf(&d, 64, (uint8_t)k, k >= 5);
	head = drv_chain(&d, b, 8);
	drv_offer(&d, head);
	drv_kick(&d);
	assert_int_equal(virtq_pop(&q, &chain), 1);
	assert_int_equal(chain.n, 8);
	assert_int_equal(chain.nread, 5);
	assert_int_equal(chain.nwrite, 3);
}

static void test_indirect(void **state)
{
	struct virtq q;
	struct drv d;
	struct buf ib[3];
	uint16_t head;

	drv_init(&d, &q, 16, 1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	ib[0] = drv_buf(&d, 48, 0x33, false);
	ib[1] = drv_buf(&d, 100, 0, true);
	ib[2] = drv_buf(&d, 200, 0, true);
	/* The table sits above the hole and chains out of order: 0 -> 2 -> 1;
	 * the WRITE flag on the descriptor naming the table is ignored. */
	put_desc(HI_GPA, 0, ib[0].gpa, ib[0].len, VRING_DESC_F_NEXT, 2);
	put_desc(HI_GPA, 2, ib[1].gpa, ib[1].len, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 1);
	put_desc(HI_GPA, 1, ib[2].gpa, ib[2].len, VRING_DESC_F_WRITE, 0);
	put_desc(DESC_GPA, 5, HI_GPA, 3 * 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_WRITE, 0);
	drv_offer(&d, 5);
	drv_kick(&d);

	assert_int_equal(virtq_pop(&q, &chain), 1);
	assert_int_equal(chain.head, 5);
	assert_int_equal(chain.n, 3);
	assert_int_equal(chain.nread, 1);
	assert_int_equal(chain.nwrite, 2);
	assert_int_equal(chain.iov[0].gpa, ib[0].gpa);
	assert_int_equal(chain.iov[1].gpa, ib[1].gpa);
	assert_int_equal(chain.iov[2].gpa, ib[2].gpa);
	assert_int_equal(chain.read_bytes, 48);
	assert_int_equal(chain.write_bytes, 300);
	assert_chain_in_ram(&chain);

	/* Linux's layout: one sequential table as the whole chain. */
	head = drv_chain_ind(&d, NULL, 0, TABLE_GPA, ib, 3);
	drv_offer(&d, head);
	drv_kick(&d);
	assert_int_equal(virtq_pop(&q, &chain), 1);
	assert_int_equal(chain.head, head);
	assert_int_equal(chain.n, 3);
	assert_int_equal(virtq_push(&q, 5, 300), 0);
	assert_int_equal(virtq_push(&q, head, 0), 0);
	assert_int_equal(used_idx(), 2);
}

static void test_direct_then_indirect(void **state)
{
	struct virtq q;
	struct drv d;
	struct buf b[2], ib[3];
	uint16_t head;

	drv_init(&d, &q, 16, 1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	b[0] = drv_buf(&d, 16, 1, false);
	b[1] = drv_buf(&d, 32, 2, false);
	ib[0] = drv_buf(&d, 64, 3, false);
	ib[1] = drv_buf(&d, 128, 0, true);
	ib[2] = drv_buf(&d, 1, 0, true);
	head = drv_chain_ind(&d, b, 2, TABLE_GPA, ib, 3);
	drv_offer(&d, head);
	drv_kick(&d);

	assert_int_equal(virtq_pop(&q, &chain), 1);
	assert_int_equal(chain.n, 5);
	assert_int_equal(chain.nread, 3);
	assert_int_equal(chain.nwrite, 2);
	assert_int_equal(chain.iov[0].gpa, b[0].gpa);
	assert_int_equal(chain.iov[1].gpa, b[1].gpa);
	assert_int_equal(chain.iov[2].gpa, ib[0].gpa);
	assert_int_equal(chain.iov[3].gpa, ib[1].gpa);
	assert_int_equal(chain.iov[4].gpa, ib[2].gpa);
	assert_int_equal(chain.read_bytes, 112);
	assert_int_equal(chain.write_bytes, 129);
	assert_chain_in_ram(&chain);
}

static void test_indirect_longest(void **state)
{
	struct virtq q;
	struct drv d;
	struct buf b;

	/* VIRTQ_MAX_CHAIN descriptors in all, the indirect one included. */
	drv_init(&d, &q, 16, 1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	b = drv_buf(&d, 4, 9, false);
	for (unsigned k = 0; k < VIRTQ_MAX_CHAIN - 1; k++)
		put_desc(TABLE_GPA, k, b.gpa, b.len,
			 k + 2 < VIRTQ_MAX_CHAIN ? VRING_DESC_F_NEXT : 0, (uint16_t)(k + 1));
	put_desc(DESC_GPA, 0, TABLE_GPA, (VIRTQ_MAX_CHAIN - 1) * 16, VRING_DESC_F_INDIRECT, 0);
	drv_offer(&d, 0);
	drv_kick(&d);
	assert_int_equal(virtq_pop(&q, &chain), 1);
	assert_int_equal(chain.n, VIRTQ_MAX_CHAIN - 1);
	assert_int_equal(chain.read_bytes, 4 * (VIRTQ_MAX_CHAIN - 1));
}

static void test_wraparound(void **state)
{
	struct virtq q;
	struct drv d;
	struct buf b[2];
	uint16_t heads[8];
	uint32_t id, len;

	/* Start 3 short of the 16-bit wrap: the chains cross both the ring's
	 * slot wrap (index & 7) and 65535 -> 0, on both rings. */
	drv_init(&d, &q, 8, 0);
	drv_start_at(&d, 65533);
	for (unsigned k = 0; k < 4; k++) {
		b[0] = drv_buf(&d, 10, (uint8_t)k, false);
		b[1] = drv_buf(&d, 10, 0, true);
		heads[k] = drv_chain(&d, b, 2);
		drv_offer(&d, heads[k]);
	}
	drv_kick(&d);
	for (unsigned k = 0; k < 4; k++) {
		assert_int_equal(virtq_pop(&q, &chain), 1);
		assert_int_equal(chain.head, heads[k]);
		assert_int_equal(chain.n, 2);
		assert_int_equal(*(uint8_t *)chain.iov[0].hva, k);
	}
	assert_int_equal(virtq_pop(&q, &chain), 0);
	assert_int_equal(q.last_avail, 1);
	for (unsigned k = 0; k < 4; k++)
		assert_int_equal(virtq_push(&q, heads[k], 10 + k), 0);
	assert_int_equal(used_idx(), 1);
	for (unsigned k = 0; k < 4; k++) {
		drv_used(&d, (uint16_t)(65533 + k), &id, &len);
		assert_int_equal(id, heads[k]);
		assert_int_equal(len, 10 + k);
	}

	/* A full ring: avail idx - last_avail == size is legal. */
	for (unsigned k = 0; k < 8; k++) {
		b[0] = drv_buf(&d, 10, (uint8_t)(0x80 + k), false);
		heads[k] = drv_chain(&d, b, 1);
		drv_offer(&d, heads[k]);
	}
	drv_kick(&d);
	for (unsigned k = 0; k < 8; k++) {
		assert_int_equal(virtq_pop(&q, &chain), 1);
		assert_int_equal(chain.head, heads[k]);
		assert_int_equal(*(uint8_t *)chain.iov[0].hva, 0x80 + k);
		assert_int_equal(virtq_push(&q, heads[k], 100 + k), 0);
	}
	assert_int_equal(virtq_pop(&q, &chain), 0);
	assert_false(q.broken);
	assert_int_equal(used_idx(), 9);
	for (unsigned k = 0; k < 8; k++) {
		drv_used(&d, (uint16_t)(1 + k), &id, &len);
		assert_int_equal(id, heads[k]);
		assert_int_equal(len, 100 + k);
	}
}

static void test_avail_idx_read_once(void **state)
{
	struct virtq q;
	struct drv d;
	struct buf b;
	uint16_t h0, h1;

	drv_init(&d, &q, 8, 0);
	b = drv_buf(&d, 8, 0, false);
	h0 = drv_chain(&d, &b, 1);
	h1 = drv_chain(&d, &b, 1);
	drv_offer(&d, h0);
	drv_offer(&d, h1);
	drv_kick(&d);
	assert_int_equal(virtq_pop(&q, &chain), 1);
	/* The batch was fixed by one read of the index: a change now only
	 * shows once the batch is consumed, and a jump is caught then. */
	w16(AVAIL_GPA + 2, 2 + 9);
	assert_int_equal(virtq_pop(&q, &chain), 1);
	assert_int_equal(chain.head, h1);
	assert_int_equal(virtq_pop(&q, &chain), -EIO);
	assert_true(q.broken);
}

/* ---- notification suppression ---- */

/* Pops one offered chain and pushes it. */
static void one_round(struct drv *d)
{
	struct buf b = { BUF_GPA, 4, true };
	uint16_t head = drv_chain(d, &b, 1);

	drv_offer(d, head);
	drv_kick(d);
	assert_int_equal(virtq_pop(d->q, &chain), 1);
	assert_int_equal(virtq_push(d->q, head, 4), 0);
}

static void test_event_idx_notify(void **state)
{
	struct virtq q;
	struct drv d;

	drv_init(&d, &q, 8, 1ULL << VIRTIO_RING_F_EVENT_IDX);
	set_used_event(&d, 100);
	one_round(&d);				/* used idx 1 */
	/* The first decision has nothing to compare with: notify. */
	assert_true(virtq_should_notify(&q));
	/* Nothing new since: no notification whatever used_event says. */
	set_used_event(&d, 1);
	assert_false(virtq_should_notify(&q));

	one_round(&d);				/* entry 1 written: used idx 2 */
	assert_true(virtq_should_notify(&q));

	set_used_event(&d, 5);
	one_round(&d);				/* 3 */
	assert_false(virtq_should_notify(&q));
	one_round(&d);				/* 4 */
	one_round(&d);				/* 5 */
	assert_false(virtq_should_notify(&q));
	one_round(&d);				/* entry 5 written: 6 */
	assert_true(virtq_should_notify(&q));

	/* Several pushes per decision: notify when used_event was passed
	 * anywhere in the batch. */
	set_used_event(&d, 7);
	one_round(&d);
	one_round(&d);
	one_round(&d);				/* 6 -> 9 */
	assert_true(virtq_should_notify(&q));

	/* With EVENT_IDX the NO_INTERRUPT flag is ignored. */
	w16(AVAIL_GPA, VRING_AVAIL_F_NO_INTERRUPT);
	set_used_event(&d, 9);
	one_round(&d);
	assert_true(virtq_should_notify(&q));
}

static void test_event_idx_wrap(void **state)
{
	struct virtq q;
	struct drv d;

	drv_init(&d, &q, 8, 1ULL << VIRTIO_RING_F_EVENT_IDX);
	drv_start_at(&d, 65534);
	set_used_event(&d, 65535);
	one_round(&d);				/* 65535 */
	assert_true(virtq_should_notify(&q));	/* first decision */
	one_round(&d);				/* entry 65535 written: 0 */
	assert_true(virtq_should_notify(&q));
	set_used_event(&d, 65535);		/* already passed: 64 Ki away */
	one_round(&d);
	assert_false(virtq_should_notify(&q));
	set_used_event(&d, 1);
	one_round(&d);				/* 2 */
	assert_true(virtq_should_notify(&q));
}

static void test_no_interrupt_flag(void **state)
{
	struct virtq q;
	struct drv d;

	drv_init(&d, &q, 8, 0);
	set_used_event(&d, 1000);		/* ignored without EVENT_IDX */
	one_round(&d);
	assert_true(virtq_should_notify(&q));
	w16(AVAIL_GPA, VRING_AVAIL_F_NO_INTERRUPT);
	one_round(&d);
	assert_false(virtq_should_notify(&q));
	w16(AVAIL_GPA, 0);
	assert_true(virtq_should_notify(&q));
}

static void test_avail_event(void **state)
{
	struct virtq q;
	struct drv d;
	struct buf b = { BUF_GPA, 4, false };

	drv_init(&d, &q, 8, 1ULL << VIRTIO_RING_F_EVENT_IDX);
	drv_start_at(&d, 65535);
	one_round(&d);
	one_round(&d);
	assert_int_equal(q.last_avail, 1);
	virtq_suppress_notify(&q);
	assert_int_equal(r16(USED_GPA), 0);	/* flags stay 0 with EVENT_IDX */
	virtq_set_avail_event(&q);
	/* Kick me when you fill slot 1, the next one I have not seen. */
	assert_int_equal(avail_event(&d), 1);
	assert_int_equal(virtq_pending(&q), 0);
	/* A buffer that raced with the publication is found by the re-check. */
	drv_offer(&d, drv_chain(&d, &b, 1));
	drv_kick(&d);
	assert_int_equal(virtq_pending(&q), 1);
	assert_int_equal(virtq_pop(&q, &chain), 1);
	virtq_set_avail_event(&q);
	assert_int_equal(avail_event(&d), 2);

	/* Without EVENT_IDX: the NO_NOTIFY flag, and avail_event untouched. */
	drv_init(&d, &q, 8, 0);
	w16(USED_GPA + 4 + 8 * 8, 0x4242);
	virtq_suppress_notify(&q);
	assert_int_equal(r16(USED_GPA), VRING_USED_F_NO_NOTIFY);
	virtq_set_avail_event(&q);
	assert_int_equal(r16(USED_GPA), 0);
	assert_int_equal(avail_event(&d), 0x4242);
	assert_int_equal(virtq_pending(&q), 0);

	/* A jumping index found by the re-check breaks the queue too. */
	w16(AVAIL_GPA + 2, 9);
	assert_int_equal(virtq_pending(&q), -EIO);
	assert_true(q.broken);
}

/* virtq_drain's `each`: pushes the chain, stops after `stop_after` chains
 * (1) or fails at chain `fail_at` (-EIO); counts what it saw. */
struct drain_probe { unsigned seen, stop_after, fail_at; struct virtq *q; };

static int drain_each(struct virtq_chain *c, void *opaque)
{
	struct drain_probe *p = opaque;

	p->seen++;
	if (p->fail_at && p->seen == p->fail_at)
		return -EIO;
	assert_int_equal(virtq_push(p->q, c->head, 0), 0);
	return p->stop_after && p->seen == p->stop_after ? 1 : 0;
}

static void test_drain(void **state)
{
	struct virtq q;
	struct drv d;
	struct buf b = { BUF_GPA, 4, false };
	struct drain_probe p = { .q = &q };

	drv_init(&d, &q, 8, 1ULL << VIRTIO_RING_F_EVENT_IDX);
	for (int i = 0; i < 3; i++)
		drv_offer(&d, drv_chain(&d, &b, 1));
	drv_kick(&d);
	/* Everything taken, the next kick asked for at the next slot. */
	assert_int_equal(virtq_drain(&q, &chain, drain_each, &p), 0);
	assert_int_equal(p.seen, 3);
	assert_int_equal(used_idx(), 3);
	assert_int_equal(avail_event(&d), 3);

	/* `each` stops it: the rest stays available, no kick asked for. */
	for (int i = 0; i < 3; i++)
		drv_offer(&d, drv_chain(&d, &b, 1));
	drv_kick(&d);
	p = (struct drain_probe){ .q = &q, .stop_after = 1 };
	assert_int_equal(virtq_drain(&q, &chain, drain_each, &p), 1);
	assert_int_equal(p.seen, 1);
	assert_int_equal(avail_event(&d), 3);
	assert_int_equal(virtq_pending(&q), 1);

	/* An error from `each` comes back as it is. */
	p = (struct drain_probe){ .q = &q, .fail_at = 1 };
	assert_int_equal(virtq_drain(&q, &chain, drain_each, &p), -EIO);

	/* A broken ring: virtq's -EIO, `each` never called. */
	drv_init(&d, &q, 8, 1ULL << VIRTIO_RING_F_EVENT_IDX);
	w16(AVAIL_GPA + 2, 9);
	p = (struct drain_probe){ .q = &q };
	assert_int_equal(virtq_drain(&q, &chain, drain_each, &p), -EIO);
	assert_int_equal(p.seen, 0);
	assert_true(q.broken);
}

/* ---- malformed rings ---- */

static uint8_t *snapshot;

static int malformed_setup(void **state)
{
	zero_ram(state);
	snapshot = malloc(RAM);
	return snapshot ? 0 : -1;
}

static int malformed_teardown(void **state)
{
	free(snapshot);
	snapshot = NULL;
	return 0;
}

/*
 * Kicks what the test laid out, pops, and checks the queue broke for the
 * expected reason, wrote nothing into guest memory, and stays broken. The
 * guard pages catch any access outside RAM while it runs.
 */
static void expect_broken(struct drv *d, const char *why)
{
	struct virtq *q = d->q;

	drv_kick(d);
	memcpy(snapshot, gm.base, RAM);
	assert_int_equal(virtq_pop(q, &chain), -EIO);
	assert_true(q->broken);
	assert_non_null(q->error);
	if (!strstr(q->error, why))
		fail_msg("broken for \"%s\", expected \"%s\"", q->error, why);
	assert_memory_equal(snapshot, gm.base, RAM);
	assert_int_equal(virtq_pop(q, &chain), -EIO);
	assert_int_equal(virtq_push(q, chain.head, 0), -EIO);
	assert_false(virtq_should_notify(q));
	assert_int_equal(virtq_pending(q), -EIO);
	assert_int_equal(used_idx(), 0);
}

static void test_bad_loop(void **state)
{
	struct virtq q;
	struct drv d;

	drv_init(&d, &q, 16, 1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	put_desc(DESC_GPA, 0, BUF_GPA, 8, VRING_DESC_F_NEXT, 0);
	drv_offer(&d, 0);
	expect_broken(&d, "loop");

	drv_init(&d, &q, 16, 0);
	put_desc(DESC_GPA, 3, BUF_GPA, 8, VRING_DESC_F_NEXT, 7);
	put_desc(DESC_GPA, 7, BUF_GPA, 8, VRING_DESC_F_NEXT, 3);
	drv_offer(&d, 3);
	expect_broken(&d, "loop");

	/* Inside an indirect table. */
	drv_init(&d, &q, 16, 1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	put_desc(TABLE_GPA, 0, BUF_GPA, 8, VRING_DESC_F_NEXT, 1);
	put_desc(TABLE_GPA, 1, BUF_GPA, 8, VRING_DESC_F_NEXT, 0);
	put_desc(DESC_GPA, 0, TABLE_GPA, 32, VRING_DESC_F_INDIRECT, 0);
	drv_offer(&d, 0);
	expect_broken(&d, "loop");

	/* In a queue larger than the chain cap, the cap ends the walk. */
	drv_init(&d, &q, 32768, 0);
	for (unsigned k = 0; k < 2000; k++)
		put_desc(DESC_GPA, k, BUF_GPA, 8, VRING_DESC_F_NEXT, (uint16_t)((k + 1) % 2000));
	drv_offer(&d, 0);
	expect_broken(&d, "too long");
}

static void test_bad_address(void **state)
{
	static const struct { uint64_t addr; uint32_t len; } bad[] = {
		{ HI_END, 1 },			/* past the top of RAM */
		{ HI_END - 8, 16 },		/* across it */
		{ HOLE_S, 4 },			/* in the hole */
		{ HOLE_S - 8, 16 },		/* across region 0's end */
		{ HOLE_E - 4, 8 },		/* into region 1 from the hole */
		{ 0xfffffffffffff000ULL, 0x2000 },	/* gpa + len wraps */
		{ UINT64_MAX, 1 },
		{ 0, UINT32_MAX },		/* longer than RAM */
	};

	for (unsigned k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
		struct virtq q;
		struct drv d;
		struct buf b[2];

		drv_init(&d, &q, 16, 0);
		b[0] = drv_buf(&d, 8, 0, false);
		b[1] = (struct buf){ bad[k].addr, bad[k].len, true };
		drv_offer(&d, drv_chain(&d, b, 2));
		expect_broken(&d, "outside guest RAM");
	}
}

static void test_bad_index(void **state)
{
	struct virtq q;
	struct drv d;

	/* Head out of range in the avail ring. */
	drv_init(&d, &q, 16, 0);
	drv_offer(&d, 16);
	expect_broken(&d, "available ring entry out of range");

	/* next out of range. */
	drv_init(&d, &q, 16, 0);
	put_desc(DESC_GPA, 0, BUF_GPA, 8, VRING_DESC_F_NEXT, 16);
	drv_offer(&d, 0);
	expect_broken(&d, "descriptor index out of range");

	/* next past the end of an indirect table. */
	drv_init(&d, &q, 16, 1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	put_desc(TABLE_GPA, 0, BUF_GPA, 8, VRING_DESC_F_NEXT, 2);
	put_desc(DESC_GPA, 0, TABLE_GPA, 32, VRING_DESC_F_INDIRECT, 0);
	drv_offer(&d, 0);
	expect_broken(&d, "descriptor index out of range");
}

static void test_bad_too_long(void **state)
{
	struct virtq q;
	struct drv d;

	/* One past the cap, through an indirect table of distinct entries. */
	drv_init(&d, &q, 16, 1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	for (unsigned k = 0; k < VIRTQ_MAX_CHAIN; k++)
		put_desc(TABLE_GPA, k, BUF_GPA, 4,
			 k + 1 < VIRTQ_MAX_CHAIN ? VRING_DESC_F_NEXT : 0, (uint16_t)(k + 1));
	put_desc(DESC_GPA, 0, TABLE_GPA, VIRTQ_MAX_CHAIN * 16, VRING_DESC_F_INDIRECT, 0);
	drv_offer(&d, 0);
	expect_broken(&d, "too long");
}

static void test_bad_length_overflow(void **state)
{
	struct virtq q;
	struct drv d;

	/* 600 x 8 MiB, each in RAM, is more than the 32-bit used length. */
	drv_init(&d, &q, 16, 1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	for (unsigned k = 0; k < 600; k++)
		put_desc(TABLE_GPA, k, 0, (uint32_t)(8 * MiB),
			 VRING_DESC_F_WRITE | (k + 1 < 600 ? VRING_DESC_F_NEXT : 0),
			 (uint16_t)(k + 1));
	put_desc(DESC_GPA, 0, TABLE_GPA, 600 * 16, VRING_DESC_F_INDIRECT, 0);
	drv_offer(&d, 0);
	expect_broken(&d, "4 GiB");
}

static void test_bad_indirect(void **state)
{
	struct virtq q;
	struct drv d;
	struct buf ib = { BUF_GPA, 8, false };

	/* Not negotiated. */
	drv_init(&d, &q, 16, 0);
	drv_offer(&d, drv_chain_ind(&d, NULL, 0, TABLE_GPA, &ib, 1));
	expect_broken(&d, "not negotiated");

	/* A table inside a table. */
	drv_init(&d, &q, 16, 1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	put_desc(TABLE_GPA + 0x1000, 0, BUF_GPA, 8, 0, 0);
	put_desc(TABLE_GPA, 0, TABLE_GPA + 0x1000, 16, VRING_DESC_F_INDIRECT, 0);
	put_desc(DESC_GPA, 0, TABLE_GPA, 16, VRING_DESC_F_INDIRECT, 0);
	drv_offer(&d, 0);
	expect_broken(&d, "nested");

	/* Lengths: empty, not a whole number of descriptors. */
	drv_init(&d, &q, 16, 1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	put_desc(DESC_GPA, 0, TABLE_GPA, 0, VRING_DESC_F_INDIRECT, 0);
	drv_offer(&d, 0);
	expect_broken(&d, "bad indirect table length");

	drv_init(&d, &q, 16, 1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	put_desc(TABLE_GPA, 0, BUF_GPA, 8, 0, 0);
	put_desc(DESC_GPA, 0, TABLE_GPA, 24, VRING_DESC_F_INDIRECT, 0);
	drv_offer(&d, 0);
	expect_broken(&d, "bad indirect table length");

	/* A table that runs off the end of region 0 or sits in the hole. */
	drv_init(&d, &q, 16, 1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	put_desc(DESC_GPA, 0, HOLE_S - 16, 32, VRING_DESC_F_INDIRECT, 0);
	drv_offer(&d, 0);
	expect_broken(&d, "indirect table outside guest RAM");

	drv_init(&d, &q, 16, 1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	put_desc(DESC_GPA, 0, HOLE_S, 16, VRING_DESC_F_INDIRECT, 0);
	drv_offer(&d, 0);
	expect_broken(&d, "indirect table outside guest RAM");

	/* The table must end the chain. */
	drv_init(&d, &q, 16, 1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	put_desc(TABLE_GPA, 0, BUF_GPA, 8, 0, 0);
	put_desc(DESC_GPA, 0, TABLE_GPA, 16, VRING_DESC_F_INDIRECT | VRING_DESC_F_NEXT, 1);
	put_desc(DESC_GPA, 1, BUF_GPA, 8, 0, 0);
	drv_offer(&d, 0);
	expect_broken(&d, "indirect descriptor with NEXT");
}

static void test_bad_order(void **state)
{
	struct virtq q;
	struct drv d;
	struct buf b[3], ib[2];

	drv_init(&d, &q, 16, 1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	b[0] = drv_buf(&d, 8, 0, false);
	b[1] = drv_buf(&d, 8, 0, true);
	b[2] = drv_buf(&d, 8, 0, false);
	drv_offer(&d, drv_chain(&d, b, 3));
	expect_broken(&d, "readable descriptor after a writable one");

	/* Across the step from the main table into an indirect one. */
	drv_init(&d, &q, 16, 1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	ib[0] = b[2];
	ib[1] = b[1];
	drv_offer(&d, drv_chain_ind(&d, &b[1], 1, TABLE_GPA, ib, 2));
	expect_broken(&d, "readable descriptor after a writable one");
}

static void test_bad_avail_idx(void **state)
{
	struct virtq q;
	struct drv d;

	drv_init(&d, &q, 16, 0);
	d.avail_idx = 17;
	expect_broken(&d, "ran ahead");

	/* The same across the 16-bit wrap; and an index moving backwards. */
	drv_init(&d, &q, 16, 0);
	drv_start_at(&d, 65530);
	d.avail_idx = (uint16_t)(65530 + 17);
	drv_kick(&d);
	assert_int_equal(virtq_pop(&q, &chain), -EIO);
	assert_non_null(strstr(q.error, "ran ahead"));

	drv_init(&d, &q, 16, 0);
	drv_start_at(&d, 100);
	d.avail_idx = 99;
	drv_kick(&d);
	assert_int_equal(virtq_pop(&q, &chain), -EIO);
	assert_true(q.broken);
}

static void test_reset_after_broken(void **state)
{
	struct virtq q;
	struct drv d;
	struct buf b;

	drv_init(&d, &q, 16, 0);
	drv_offer(&d, 99);
	drv_kick(&d);
	assert_int_equal(virtq_pop(&q, &chain), -EIO);

	/* The driver resets the device and sets the queue up again. */
	virtq_reset(&q);
	assert_false(q.broken);
	assert_false(q.ready);
	assert_ptr_equal(q.mem, &gm);
	assert_string_equal(q.name, "test");
	memset(gm.base, 0, RAM);
	drv_init(&d, &q, 16, 0);
	b = drv_buf(&d, 8, 0, false);
	drv_offer(&d, drv_chain(&d, &b, 1));
	drv_kick(&d);
	assert_int_equal(virtq_pop(&q, &chain), 1);
}

static void test_push_checks(void **state)
{
	struct virtq q;
	struct drv d;

	drv_init(&d, &q, 16, 0);
	assert_int_equal(virtq_push(&q, 0, 0), -EINVAL);	/* nothing popped */
	one_round(&d);
	assert_int_equal(virtq_push(&q, 0, 0), -EINVAL);
	assert_int_equal(used_idx(), 1);
	drv_offer(&d, 0);
	drv_kick(&d);
	assert_int_equal(virtq_pop(&q, &chain), 1);
	assert_int_equal(virtq_push(&q, 16, 0), -EINVAL);	/* no such head */
	assert_int_equal(used_idx(), 1);
}

/* ---- virtq_chain_iov and the copies built on it ---- */

/* The iovec must be the host view of [gpa, gpa + len) inside one region. */
static void assert_iov_is(const struct iovec *v, uint64_t gpa, size_t len)
{
	assert_ptr_equal(v->iov_base, gm_ptr(&gm, gpa, len));
	assert_int_equal(v->iov_len, len);
}

static void test_chain_iov(void **state)
{
	struct virtq q;
	struct drv d;
	struct buf b[4];
	struct iovec iov[8];
	uint64_t bytes;

	drv_init(&d, &q, 16, 0);
	b[0] = drv_buf(&d, 16, 0x11, false);
	b[1] = (struct buf){ HI_GPA, 512, false };	/* region 1, past the hole */
	b[2] = drv_buf(&d, 1, 0, true);
	b[3] = drv_buf(&d, 4096, 0, true);
	drv_offer(&d, drv_chain(&d, b, 4));
	drv_kick(&d);
	assert_int_equal(virtq_pop(&q, &chain), 1);

	/* Whole parts, each buffer in its own region. */
	assert_int_equal(virtq_chain_iov(&chain, false, 0, UINT64_MAX, iov, 8, &bytes), 2);
	assert_int_equal(bytes, 528);
	assert_iov_is(&iov[0], b[0].gpa, 16);
	assert_iov_is(&iov[1], HI_GPA, 512);
	assert_int_equal(virtq_chain_iov(&chain, true, 0, UINT64_MAX, iov, 8, &bytes), 2);
	assert_int_equal(bytes, 4097);
	assert_iov_is(&iov[0], b[2].gpa, 1);
	assert_iov_is(&iov[1], b[3].gpa, 4096);

	/* A slice straddling two buffers. */
	assert_int_equal(virtq_chain_iov(&chain, false, 10, 20, iov, 8, &bytes), 2);
	assert_int_equal(bytes, 20);
	assert_iov_is(&iov[0], b[0].gpa + 10, 6);
	assert_iov_is(&iov[1], HI_GPA, 14);

	/* The wrong direction: a range past the readable part stops at its
	 * end and never reaches the writable buffers, nor the reverse. */
	assert_int_equal(virtq_chain_iov(&chain, false, 520, 100, iov, 8, &bytes), 1);
	assert_int_equal(bytes, 8);
	assert_iov_is(&iov[0], HI_GPA + 504, 8);
	assert_int_equal(virtq_chain_iov(&chain, false, 528, 1, iov, 8, &bytes), 0);
	assert_int_equal(bytes, 0);
	assert_int_equal(virtq_chain_iov(&chain, true, 4097, 1, iov, 8, &bytes), 0);
	assert_int_equal(bytes, 0);

	/* Too many buffers for max: -E2BIG, with the start of the range. */
	assert_int_equal(virtq_chain_iov(&chain, true, 0, 4097, iov, 1, &bytes), -E2BIG);
	assert_int_equal(bytes, 1);
	assert_iov_is(&iov[0], b[2].gpa, 1);
	assert_int_equal(virtq_chain_iov(&chain, false, 0, 1, iov, 0, &bytes), -E2BIG);
	assert_int_equal(bytes, 0);
	/* Exactly max is fine, and an empty range needs none. */
	assert_int_equal(virtq_chain_iov(&chain, true, 0, 4097, iov, 2, NULL), 2);
	assert_int_equal(virtq_chain_iov(&chain, true, 0, 0, iov, 0, &bytes), 0);

	/* Lengths and offsets that would overflow a sum. */
	assert_int_equal(virtq_chain_iov(&chain, false, 10, UINT64_MAX, iov, 8, &bytes), 2);
	assert_int_equal(bytes, 518);
	assert_int_equal(virtq_chain_iov(&chain, false, UINT64_MAX, UINT64_MAX, iov, 8,
					 &bytes), 0);
	assert_int_equal(virtq_chain_iov(&chain, true, UINT64_MAX - 2, 8, iov, 8, &bytes), 0);
	assert_int_equal(bytes, 0);
	assert_int_equal(virtq_chain_read(&chain, UINT64_MAX, iov, 8), 0);
}

static void test_chain_iov_outside_ram(void **state)
{
	struct virtq q;
	struct drv d;
	struct buf b[2];

	/* A buffer outside RAM never becomes an iovec: the pop refuses the
	 * whole chain and breaks the queue. */
	drv_init(&d, &q, 16, 0);
	b[0] = drv_buf(&d, 8, 0, true);
	b[1] = (struct buf){ HOLE_S - 8, 16, true };
	drv_offer(&d, drv_chain(&d, b, 2));
	expect_broken(&d, "outside guest RAM");
}

static void test_chain_copy_wide(void **state)
{
	struct virtq q;
	struct drv d;
	struct buf b[300];
	uint8_t got[1200], want[1200];

	/* Wider than one round of the copy's iovec batch. */
	drv_init(&d, &q, 16, 1ULL << VIRTIO_RING_F_INDIRECT_DESC);
	for (unsigned k = 0; k < 300; k++) {
		b[k] = drv_buf(&d, 4, (uint8_t)k, false);
		memset(want + 4 * k, (uint8_t)k, 4);
		put_desc(TABLE_GPA, k, b[k].gpa, 4, k + 1 < 300 ? VRING_DESC_F_NEXT : 0,
			 (uint16_t)(k + 1));
	}
	put_desc(DESC_GPA, 0, TABLE_GPA, 300 * 16, VRING_DESC_F_INDIRECT, 0);
	drv_offer(&d, 0);
	drv_kick(&d);
	assert_int_equal(virtq_pop(&q, &chain), 1);
	assert_int_equal(virtq_chain_read(&chain, 0, got, sizeof(got)), 1200);
	assert_memory_equal(got, want, 1200);
	assert_int_equal(virtq_chain_read(&chain, 402, got, sizeof(got)), 798);
	assert_memory_equal(got, want + 402, 798);
}

#define T(f) cmocka_unit_test_setup(f, zero_ram)
#define M(f) cmocka_unit_test_setup_teardown(f, malformed_setup, malformed_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_validate),
		T(test_features),
		T(test_single),
		T(test_read_then_write),
		T(test_zero_length),
		T(test_whole_ring_chain),
		T(test_indirect),
		T(test_direct_then_indirect),
		T(test_indirect_longest),
		T(test_wraparound),
		T(test_avail_idx_read_once),
		T(test_event_idx_notify),
		T(test_event_idx_wrap),
		T(test_no_interrupt_flag),
		T(test_avail_event),
		T(test_drain),
		M(test_bad_loop),
		M(test_bad_address),
		M(test_bad_index),
		M(test_bad_too_long),
		M(test_bad_length_overflow),
		M(test_bad_indirect),
		M(test_bad_order),
		M(test_bad_avail_idx),
		T(test_reset_after_broken),
		T(test_push_checks),
		T(test_chain_iov),
		M(test_chain_iov_outside_ram),
		T(test_chain_copy_wide),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
