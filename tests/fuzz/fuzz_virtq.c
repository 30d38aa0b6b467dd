/* libFuzzer target for the split virtqueue: queue parameters, rings,
 * descriptors and indirect tables all come from the input, and the device
 * side pops, checks, touches and pushes every chain it is given.
 *
 * Built by meson in a clang build directory set up with -Dfuzz=true
 * (docs/testing.md, "Fuzzing"); from the repository root:
 *   mkdir -p corpus && build-fuzz/tests/fuzz/fuzz_virtq -max_total_time=120 -max_len=8192 corpus
 *
 * Guest RAM here is two heap buffers described as guest_mem regions (gpa
 * [0, 32K) and [48K, 80K), a hole between), not a memfd: ASan's redzones
 * around each buffer then catch any access that leaves a region.
 *
 * Input: a 20-byte header, then the guest RAM image from gpa 0 (bytes past
 * 32 KiB continue at 48 KiB).
 *   0     u8   log2 of the queue size (mod 16)
 *   1     u8   bit 0 INDIRECT_DESC, bit 1 EVENT_IDX, bit 2 start at `start`
 *   2     le16 start: initial last_avail/used index (wrap-around)
 *   4     le32 desc, le32 avail, le32 used (guest-physical)
 *   16    le16 a second avail idx the "driver" publishes after the first drain
 *   18    le16 used_event the "driver" asks for
 */
#include <endian.h>
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "memory.h"
#include "virtio/virtq.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REGION		(32 * 1024)
#define HI_GPA		(48 * 1024)
#define HDR		20

static struct guest_mem gm;
static struct virtq_chain chain;

static void trap_unless(bool ok)
{
	if (!ok)
		__builtin_trap();
}

static void mem_init(void)
{
	uint8_t *lo = malloc(REGION), *hi = malloc(REGION);

	trap_unless(lo && hi);
	gm.memfd = -1;
	gm.total = 2 * REGION;
	gm.nregions = 2;
	gm.regions[0] = (struct guest_region){ 0, REGION, 0, lo };
	gm.regions[1] = (struct guest_region){ HI_GPA, REGION, REGION, hi };
	log_set_level((enum log_level)0);
}

static uint16_t le16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, 2);
	return le16toh(v);
}

static uint32_t le32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

/* What a popped chain must look like, checked against the region table;
 * then every byte of every buffer is touched, so ASan sees a bad hva. */
static void check_chain(const struct virtq_chain *c, const struct virtq *q)
{
	uint64_t rd = 0, wr = 0, got;
	struct iovec iov[8];
	uint8_t hdr[64];
	int n;

	trap_unless(c->head < q->size);
	trap_unless(c->n == c->nread + c->nwrite && c->n <= VIRTQ_MAX_CHAIN);
	for (unsigned k = 0; k < c->n; k++) {
		const struct virtq_iov *v = &c->iov[k];
		bool inside = false;

		trap_unless(v->write == (k >= c->nread) && v->len > 0);
		for (unsigned i = 0; i < gm.nregions; i++) {
			const struct guest_region *r = &gm.regions[i];

			if (v->gpa >= r->gpa && v->gpa - r->gpa < r->size &&
			    v->len <= r->size - (v->gpa - r->gpa) &&
			    v->hva == r->hva + (v->gpa - r->gpa))
				inside = true;
		}
		trap_unless(inside);
		if (v->write) {
			wr += v->len;
			memset(v->hva, 0xa5, v->len);
		} else {
			volatile uint8_t sum = 0;

			rd += v->len;
			for (uint32_t b = 0; b < v->len; b++)
				sum += ((const uint8_t *)v->hva)[b];
			(void)sum;
		}
	}
	trap_unless(rd == c->read_bytes && wr == c->write_bytes);
	trap_unless(rd + wr <= VIRTQ_MAX_BYTES);
	/* The copy helpers, as a device reads a header and writes a status. */
	trap_unless(virtq_chain_read(c, 0, hdr, sizeof(hdr)) ==
		    (rd < sizeof(hdr) ? rd : sizeof(hdr)));
	trap_unless(virtq_chain_write(c, wr ? wr - 1 : 0, hdr, 1) == (wr ? 1u : 0u));
	/* The iovec helper, as blk and net build their I/O: each iovec is
	 * touched, and together they cover what the part holds past off. */
	n = virtq_chain_iov(c, true, 1, UINT64_MAX, iov, 8, &got);
	trap_unless(n == -E2BIG || (n >= 0 && got == (wr ? wr - 1 : 0)));
	for (int k = 0; k < (n < 0 ? 8 : n); k++)
		memset(iov[k].iov_base, 0x5a, iov[k].iov_len);
}

/* Pops until the ring is empty or broken; returns false once broken. The
 * rings may overlap the buffers we write, so the driver's index can move
 * while we drain: stop after a few rings' worth instead of waiting. */
static bool drain(struct virtq *q)
{
	for (unsigned n = 0; n < 4u * q->size + 4; n++) {
		int r = virtq_pop(q, &chain);

		if (r < 0) {
			trap_unless(q->broken && q->error);
			trap_unless(virtq_push(q, 0, 0) < 0);
			return false;
		}
		if (r == 0) {
			trap_unless(!q->broken);
			return true;
		}
		trap_unless(r == 1);
		check_chain(&chain, q);
		trap_unless(virtq_push(q, chain.head, (uint32_t)chain.write_bytes) == 0);
	}
	return !q->broken;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct virtq q = { 0 };
	size_t img;

	if (!gm.nregions)
		mem_init();
	if (size < HDR)
		return 0;

	memset(gm.regions[0].hva, 0, REGION);
	memset(gm.regions[1].hva, 0, REGION);
	img = size - HDR;
	if (img > 2 * REGION)
		img = 2 * REGION;
	memcpy(gm.regions[0].hva, data + HDR, img < REGION ? img : REGION);
	if (img > REGION)
		memcpy(gm.regions[1].hva, data + HDR + REGION, img - REGION);

	q.mem = &gm;
	q.name = "fuzz";
	q.size = (uint16_t)(1u << (data[0] % 16));
	q.desc = le32(data + 4);
	q.avail = le32(data + 8);
	q.used = le32(data + 12);
	virtq_set_features(&q, (data[1] & 1 ? 1ULL << VIRTIO_RING_F_INDIRECT_DESC : 0) |
			       (data[1] & 2 ? 1ULL << VIRTIO_RING_F_EVENT_IDX : 0));
	if (virtq_enable(&q) < 0) {
		trap_unless(!q.ready && virtq_pop(&q, &chain) == 0);
		return 0;
	}
	if (data[1] & 4)
		q.last_avail = q.shadow_avail = q.used_idx = le16(data + 2);

	if (!drain(&q))
		return 0;
	(void)virtq_should_notify(&q);
	virtq_set_avail_event(&q);
	if (virtq_pending(&q) < 0)
		return 0;

	/* The driver adds more (or lies about how many) and asks for an
	 * interrupt at used_event. */
	memcpy(&q.avail_hva->idx, data + 16, 2);
	memcpy(&q.avail_hva->ring[q.size], data + 18, 2);
	if (virtq_pending(&q) < 0) {
		trap_unless(q.broken);
		return 0;
	}
	if (drain(&q)) {
		(void)virtq_should_notify(&q);
		virtq_suppress_notify(&q);
	}
	return 0;
}
