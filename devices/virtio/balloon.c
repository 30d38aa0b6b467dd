/* virtio-balloon: inflate, deflate, statistics and free page reporting
 * queues; what the guest gives up goes back to the host (gm_discard). */
#include "virtio/balloon.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "iothread.h"
#include "log.h"

#define BALLOON_QUEUE_SIZE	256

/* What a queue index is for. The indices are packed: a queue whose feature
 * was not negotiated takes no index (virtio 1.2, 5.5.2; Linux's
 * virtio_find_vqs skips it), so the reporting queue is 3 with the
 * statistics queue and 2 without (free page hinting is never offered). */
enum bq_role { BQ_INFLATE, BQ_DEFLATE, BQ_STATS, BQ_REPORTING, BQ_NONE };

struct balloon {
	struct virtio_dev vd;
	struct balloon_opts opts;
	struct virtio_balloon_config config;	/* num_pages, actual: little-endian */
	struct balloon_info info;
	bool stats_held;		/* the driver's statistics buffer is ours */
	uint16_t stats_head;
	int tfd;			/* statistics timer, or -1 */
	struct iothread *io;
	uint32_t pfn[BALLOON_PFNS_MAX];
	struct virtq_chain chain;	/* 24 KiB: not on the I/O thread's stack */
};

static enum bq_role role(const struct virtio_dev *vd, unsigned qi)
{
	bool stats = vd->features & 1ULL << VIRTIO_BALLOON_F_STATS_VQ;
	bool rep = vd->features & 1ULL << VIRTIO_BALLOON_F_REPORTING;

	if (qi < 2)
		return qi == 0 ? BQ_INFLATE : BQ_DEFLATE;
	if (qi == 2 && stats)
		return BQ_STATS;
	if (rep && qi == (stats ? 3u : 2u))
		return BQ_REPORTING;
	return BQ_NONE;
}

static uint64_t balloon_features(struct virtio_dev *vd)
{
	struct balloon *b = vd->priv;
	uint64_t f = 1ULL << VIRTIO_RING_F_INDIRECT_DESC | 1ULL << VIRTIO_RING_F_EVENT_IDX;

	if (b->opts.deflate_on_oom)
		f |= 1ULL << VIRTIO_BALLOON_F_DEFLATE_ON_OOM;
	if (b->opts.reporting)
		f |= 1ULL << VIRTIO_BALLOON_F_REPORTING;
	if (b->opts.stats_interval_s)
		f |= 1ULL << VIRTIO_BALLOON_F_STATS_VQ;
	return f;
}

static void balloon_config_read(struct virtio_dev *vd, uint32_t off, uint8_t *data,
				uint32_t len)
{
	struct balloon *b = vd->priv;

	memcpy(data, (uint8_t *)&b->config + off, len);
}

/* The driver writes `actual` (bytes 4..7); num_pages is the device's. */
static void balloon_config_write(struct virtio_dev *vd, uint32_t off, const uint8_t *data,
				 uint32_t len)
{
	struct balloon *b = vd->priv;
	uint32_t a = offsetof(struct virtio_balloon_config, actual);

	for (uint32_t i = 0; i < len; i++)
		if (off + i >= a && off + i < a + 4)
			((uint8_t *)&b->config)[off + i] = data[i];
	b->info.actual_pages = le32toh(b->config.actual);
}

static void discard(struct balloon *b, uint64_t gpa, uint64_t len)
{
	int r = gm_discard(b->vd.vq[0].mem, gpa, len);

	if (r < 0 && b->info.bad++ < 8)
		log_warn("%s: giving back [0x%llx, +0x%llx): %s%s", b->vd.name,
			 (unsigned long long)gpa, (unsigned long long)len, strerror(-r),
			 b->info.bad == 8 ? " (not logged again)" : "");
}

/* One chain of PFNs: inflated ones go back to the host, consecutive ones
 * in one call; deflated ones need nothing (the guest's next touch maps a
 * zero page). Returns how many PFNs were read. */
static unsigned pfns(struct balloon *b, bool inflate)
{
	size_t got = virtq_chain_read(&b->chain, 0, b->pfn, sizeof(b->pfn));
	unsigned n = (unsigned)(got / sizeof(uint32_t));
	uint64_t run = 0, len = 0;

	if (!inflate) {
		b->info.deflated += n;
		return n;
	}
	b->info.inflated += n;
	for (unsigned i = 0; i < n; i++) {
		uint64_t gpa = (uint64_t)le32toh(b->pfn[i]) << VIRTIO_BALLOON_PFN_SHIFT;

		if (len && gpa == run + len) {
			len += BALLOON_PAGE_SIZE;
			continue;
		}
		if (len)
			discard(b, run, len);
		run = gpa;
		len = BALLOON_PAGE_SIZE;
	}
	if (len)
		discard(b, run, len);
	return n;
}

/* One free page report: every buffer is a free range of guest RAM (popping
 * checked it lies in RAM); the 4 KiB pages wholly inside go back. */
static void report(struct balloon *b)
{
	for (unsigned i = 0; i < b->chain.n; i++) {
		const struct virtq_iov *v = &b->chain.iov[i];
		uint64_t start = (v->gpa + BALLOON_PAGE_SIZE - 1) & ~(uint64_t)(BALLOON_PAGE_SIZE - 1);
		uint64_t end = (v->gpa + v->len) & ~(uint64_t)(BALLOON_PAGE_SIZE - 1);

		if (end <= start)
			continue;
		discard(b, start, end - start);
		b->info.reported_bytes += end - start;
	}
}

/* A statistics buffer: entries of { le16 tag, le64 val } (10 bytes,
 * packed). Unknown tags are skipped. */
static void stats(struct balloon *b)
{
	uint8_t buf[BALLOON_STATS_MAX * 10];
	size_t got = virtq_chain_read(&b->chain, 0, buf, sizeof(buf));

	for (size_t off = 0; off + 10 <= got; off += 10) {
		uint16_t tag;
		uint64_t val;

		memcpy(&tag, buf + off, 2);
		memcpy(&val, buf + off + 2, 8);
		tag = le16toh(tag);
		if (tag >= BALLOON_STATS_TAGS)
			continue;
		b->info.stats[tag] = le64toh(val);
		b->info.stats_valid |= 1u << tag;
	}
	b->info.stats_updates++;
}

/* One kick's state for balloon_one. */
struct bkick {
	struct balloon *b;
	struct virtq *q;
	enum bq_role rl;
	bool used;
};

static int balloon_one(struct virtq_chain *c, void *opaque)
{
	struct bkick *k = opaque;
	struct balloon *b = k->b;
	int r;

	if (k->rl == BQ_STATS) {
		/* Kept until the next tick asks for new numbers; a second one
		 * means the driver lost track: give the older back. */
		stats(b);
		if (b->stats_held && virtq_push(k->q, b->stats_head, 0) == 0)
			k->used = true;
		b->stats_held = true;
		b->stats_head = c->head;
		return 0;
	}
	if (k->rl == BQ_INFLATE || k->rl == BQ_DEFLATE)
		pfns(b, k->rl == BQ_INFLATE);
	else if (k->rl == BQ_REPORTING)
		report(b);
	r = virtq_push(k->q, c->head, 0);
	if (r == 0)
		k->used = true;
	return r;
}

static void balloon_notify(struct virtio_dev *vd, unsigned qi)
{
	struct bkick k = { vd->priv, &vd->vq[qi], role(vd, qi), false };

	if (virtq_drain(k.q, &k.b->chain, balloon_one, &k) < 0) {
		virtio_dev_needs_reset(vd);
		return;
	}
	if (k.used)
		virtio_dev_used(vd, qi);
}

static void balloon_reset(struct virtio_dev *vd)
{
	struct balloon *b = vd->priv;

	/* The queues go back to their reset state: the held buffer with them.
	 * A reset driver has no balloon any more. */
	b->stats_held = false;
	b->config.actual = 0;
	b->info.actual_pages = 0;
}

static size_t balloon_describe(struct virtio_dev *vd, char *buf, size_t len)
{
	struct balloon *b = vd->priv;
	int n = snprintf(buf, len, " balloon.target=%u balloon.actual=%u balloon.inflated=%llu "
			 "balloon.deflated=%llu balloon.reported_mib=%llu balloon.bad=%llu",
			 b->info.target_pages, b->info.actual_pages,
			 (unsigned long long)b->info.inflated, (unsigned long long)b->info.deflated,
			 (unsigned long long)(b->info.reported_bytes >> 20),
			 (unsigned long long)b->info.bad);

	return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}

static const struct virtio_dev_ops balloon_ops = {
	.features = balloon_features,
	.config_read = balloon_config_read,
	.config_write = balloon_config_write,
	.reset = balloon_reset,
	.queue_notify = balloon_notify,
	.describe = balloon_describe,
};

void virtio_balloon_stats_tick(struct virtio_dev *vd)
{
	struct balloon *b = vd->priv;

	pthread_mutex_lock(&vd->lock);
	for (unsigned qi = 2; qi < vd->nqueues; qi++) {
		if (role(vd, qi) != BQ_STATS || !b->stats_held || !virtio_dev_queue_live(vd, qi))
			continue;
		b->stats_held = false;
		if (virtq_push(&vd->vq[qi], b->stats_head, 0) < 0)
			virtio_dev_needs_reset(vd);
		else
			virtio_dev_used(vd, qi);
	}
	pthread_mutex_unlock(&vd->lock);
}

static void on_timer(void *opaque, uint32_t events)
{
	struct virtio_dev *vd = opaque;
	struct balloon *b = vd->priv;
	uint64_t ticks;

	(void)events;
	if (read(b->tfd, &ticks, sizeof(ticks)) != sizeof(ticks))
		return;
	virtio_balloon_stats_tick(vd);
}

int virtio_balloon_new(const struct balloon_opts *o, struct iothread *io,
		       struct virtio_dev **out)
{
	struct balloon *b = calloc(1, sizeof(*b));
	int r;

	if (!b)
		return -ENOMEM;
	b->vd = (struct virtio_dev){
		.name = "virtio-balloon", .id = VIRTIO_ID_BALLOON, .nqueues = 4,
		.queue_max = BALLOON_QUEUE_SIZE, .config_size = sizeof(b->config),
		.ops = &balloon_ops, .priv = b,
	};
	b->opts = *o;
	b->config.num_pages = htole32(o->target_pages);
	b->info.target_pages = o->target_pages;
	b->tfd = -1;
	if (io && o->stats_interval_s) {
		struct itimerspec its = { .it_interval.tv_sec = o->stats_interval_s,
					  .it_value.tv_sec = o->stats_interval_s };

		b->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
		if (b->tfd < 0 || timerfd_settime(b->tfd, 0, &its, NULL) < 0) {
			r = -errno;
			goto fail;
		}
		r = iothread_add(io, b->tfd, on_timer, &b->vd);
		if (r < 0)
			goto fail;
		b->io = io;
	}
	*out = &b->vd;
	return 0;
fail:
	log_err("virtio-balloon: statistics timer: %s", strerror(-r));
	virtio_balloon_free(&b->vd);
	return r;
}

void virtio_balloon_free(void *opaque)
{
	struct virtio_dev *vd = opaque;
	struct balloon *b;

	if (!vd)
		return;
	b = vd->priv;
	if (b->io)
		iothread_del(b->io, b->tfd);
	if (b->tfd >= 0)
		close(b->tfd);
	free(b);
}

int virtio_balloon_set_target(struct virtio_dev *vd, uint64_t pages)
{
	struct balloon *b = vd->priv;
	const struct guest_mem *m = vd->vq[0].mem;

	if (pages > UINT32_MAX || (m && pages > m->total / BALLOON_PAGE_SIZE))
		return -EINVAL;
	pthread_mutex_lock(&vd->lock);
	b->config.num_pages = htole32((uint32_t)pages);
	b->info.target_pages = (uint32_t)pages;
	vd->config_gen++;
	if (vd->status & VIRTIO_CONFIG_S_DRIVER_OK && vd->tops)
		vd->tops->signal_config(vd);
	pthread_mutex_unlock(&vd->lock);
	return 0;
}

void virtio_balloon_info(struct virtio_dev *vd, struct balloon_info *out)
{
	struct balloon *b = vd->priv;

	pthread_mutex_lock(&vd->lock);
	*out = b->info;
	pthread_mutex_unlock(&vd->lock);
}

size_t virtio_balloon_status_words(const struct balloon_info *bi, char *buf, size_t len)
{
	static const struct { unsigned tag; const char *key; } mib[] = {
		{ VIRTIO_BALLOON_S_MEMFREE, "guest_free_mib" },
		{ VIRTIO_BALLOON_S_AVAIL, "guest_available_mib" },
		{ VIRTIO_BALLOON_S_MEMTOT, "guest_total_mib" },
		{ VIRTIO_BALLOON_S_CACHES, "guest_caches_mib" },
		{ VIRTIO_BALLOON_S_SWAP_IN, "guest_swap_in_mib" },
		{ VIRTIO_BALLOON_S_SWAP_OUT, "guest_swap_out_mib" },
	};
	size_t n;
	int w;

	if (len == 0)
		return 0;
	w = snprintf(buf, len, " balloon_target_mib=%u balloon_actual_mib=%u "
		     "balloon_reported_mib=%llu", bi->target_pages / 256, bi->actual_pages / 256,
		     (unsigned long long)(bi->reported_bytes >> 20));
	n = w < 0 ? 0 : (size_t)w < len ? (size_t)w : len - 1;
	for (size_t i = 0; i < sizeof(mib) / sizeof(mib[0]) && n + 1 < len; i++) {
		if (!(bi->stats_valid & 1u << mib[i].tag))
			continue;
		w = snprintf(buf + n, len - n, " %s=%llu", mib[i].key,
			     (unsigned long long)(bi->stats[mib[i].tag] >> 20));
		n += w < 0 ? 0 : (size_t)w < len - n ? (size_t)w : len - n - 1;
	}
	return n;
}
