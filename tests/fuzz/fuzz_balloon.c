/* libFuzzer target for virtio-balloon (devices/virtio/balloon.c): the input
 * is a script of driver actions on the four queues (inflate and deflate
 * chains with any PFNs, free page reports with any ranges, statistics
 * buffers with any entries, descriptors anywhere, chains of any length),
 * config reads and writes, target changes, statistics ticks, resets and
 * feature sets (which move the reporting queue between indices 2 and 3).
 * Checks: no access outside guest RAM or the device (ASan), no undefined
 * behaviour (UBSan), no leak (LSan); a page the driver inflated reads as
 * zeroes afterwards (it went back to the host); the status words fit.
 *
 * Built by meson in a clang build directory set up with -Dfuzz=true
 * (docs/testing.md, "Fuzzing"); from the repository root:
 *   mkdir -p corpus-balloon && build-fuzz/tests/fuzz/fuzz_balloon -max_total_time=60 -max_len=4096 corpus-balloon
 *
 * Guest RAM is private memory from gm_init_kind (gm_discard needs page
 * alignment, which the heap does not give). One device per input.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fake_vq.h"
#include "log.h"
#include "memory.h"
#include "virtio/balloon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM		(1 << 20)
#define QSIZE		16
#define RING(q)		(0x1000ULL * 3 * (q))	/* desc, avail, used: a page each */
#define BUF		0x20000ULL		/* what chains point at, by default */
#define BUF_LEN		0x10000

static void sig_queue(struct virtio_dev *d, unsigned q) { }
static void sig_config(struct virtio_dev *d) { }
static const struct virtio_transport_ops tops = { .signal_queue = sig_queue,
						  .signal_config = sig_config };

static struct guest_mem gm;
static uint16_t avail[4];

static void trap_unless(bool ok)
{
	if (!ok)
		__builtin_trap();
}

struct in {
	const uint8_t *p;
	size_t n;
};

static uint32_t take(struct in *in, unsigned bytes)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < bytes && in->n; i++, in->n--)
		v |= (uint32_t)*in->p++ << (8 * i);
	return v;
}

static void setup_queues(struct virtio_dev *vd, uint64_t features)
{
	trap_unless(fake_vq_start(vd, &gm, RING(0), RING(1), QSIZE, features) == 0);
	memset(avail, 0, sizeof(avail));
	memset(gm.base, 0, RING(4));
}

/* A chain of n descriptors, each (addr, len, flags) from the input or the
 * buffer, its payload at BUF from the input; published and kicked. */
static void chain(struct virtio_dev *vd, unsigned q, struct in *in)
{
	unsigned n = take(in, 1) % 6 + 1, payload = take(in, 2) % 512;
	uint16_t head = (uint16_t)(take(in, 1) % QSIZE);
	uint32_t inflate_pfn = UINT32_MAX;
	bool first_plain = false;	/* descriptor 0 readable, at BUF, >= 4 bytes */

	for (unsigned i = 0; i < payload && in->n; i++)
		gm.base[BUF + i] = (uint8_t)take(in, 1);
	for (unsigned i = 0; i < n; i++) {
		uint8_t how = (uint8_t)take(in, 1);
		struct virtq_desc d = {
			.addr = how & 1 ? take(in, 4) : BUF + (how >> 4) * 64ULL,
			.len = how & 2 ? take(in, 4) : payload,
			.flags = (uint16_t)((how & 4 ? VRING_DESC_F_WRITE : 0) |
					    (i + 1 < n ? VRING_DESC_F_NEXT : 0)),
			.next = (uint16_t)((head + i + 1) % QSIZE),
		};

		fake_vq_desc(&vd->vq[q], (uint16_t)(head + i), d.addr, d.len, d.flags, d.next);
		if (i == 0)
			first_plain = d.addr == BUF && d.len >= 4 && !(d.flags & VRING_DESC_F_WRITE);
	}
	/* The first PFN of an inflate chain at BUF: checked below. */
	if (q == 0 && first_plain && payload >= 4)
		memcpy(&inflate_pfn, gm.base + BUF, 4);
	fake_vq_publish(&vd->vq[q], &avail[q], head);
	fake_vq_kick(vd, q);
	/* A PFN of the buffer region inflated: zero now (unless the chain
	 * was refused, or the page holds the chain's own rings or array). */
	if (q == 0 && !(vd->status & VIRTIO_CONFIG_S_NEEDS_RESET) &&
	    inflate_pfn >= (BUF + BUF_LEN) / 4096 && inflate_pfn < RAM / 4096) {
		const uint8_t *p = gm.base + (uint64_t)inflate_pfn * 4096;
		uint16_t used;

		fake_vq_used_idx(&vd->vq[0], &used);
		if (used == avail[0])
			for (unsigned i = 0; i < 4096; i++)
				trap_unless(p[i] == 0);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct in in = { data, size };
	struct balloon_opts o = { .target_pages = take(&in, 2), .deflate_on_oom = true,
				  .reporting = true, .stats_interval_s = 1 };
	struct virtio_dev *vd;
	struct balloon_info bi;
	char words[512];

	if (!ready) {
		log_set_level((enum log_level)0);
		trap_unless(gm_init_kind(&gm, 0, RAM, 0, 0, false, false) == 0);
		ready = true;
	}
	trap_unless(virtio_balloon_new(&o, NULL, &vd) == 0);
	pthread_mutex_init(&vd->lock, NULL);
	vd->tops = &tops;
	setup_queues(vd, vd->ops->features(vd) | 1ULL << VIRTIO_F_VERSION_1);
	/* Touch the data pages so that a discard has something to zero. */
	memset(gm.base + BUF + BUF_LEN, 0x5a, RAM - BUF - BUF_LEN);

	while (in.n) {
		uint8_t op = (uint8_t)take(&in, 1);
		uint8_t buf[8];
		uint32_t off, len;

		switch (op % 8) {
		case 0: case 1: case 2:
			chain(vd, op / 8 % 4, &in);
			break;
		case 3:
			off = take(&in, 1) % 16;
			len = take(&in, 1) % 8 + 1;
			if (off + len > vd->config_size)
				break;
			memcpy(buf, in.p, in.n < len ? in.n : len);
			pthread_mutex_lock(&vd->lock);
			if (op & 8)
				vd->ops->config_write(vd, off, buf, len);
			else
				vd->ops->config_read(vd, off, buf, len);
			pthread_mutex_unlock(&vd->lock);
			break;
		case 4:
			(void)virtio_balloon_set_target(vd, take(&in, 4));
			break;
		case 5:
			virtio_balloon_stats_tick(vd);
			break;
		case 6:
			pthread_mutex_lock(&vd->lock);
			vd->ops->reset(vd);
			pthread_mutex_unlock(&vd->lock);
			/* The driver starts again, with features of its choice. */
			setup_queues(vd, (uint64_t)(take(&in, 1) & 0x26) | 1ULL << VIRTIO_F_VERSION_1);
			break;
		case 7:
			virtio_balloon_info(vd, &bi);
			trap_unless(virtio_balloon_status_words(&bi, words, sizeof(words)) <
				    sizeof(words));
			trap_unless(virtio_balloon_status_words(&bi, words, op % 32 + 1) <
				    op % 32 + 1u);
			break;
		}
	}
	pthread_mutex_destroy(&vd->lock);
	virtio_balloon_free(vd);
	return 0;
}
