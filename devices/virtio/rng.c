/* virtio-rng: fills each chain's writable part from getrandom(). */
#include "virtio/rng.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#include "log.h"

/* Bytes one request gets at most: bounds the work of one chain; the
 * driver asks again for more. */
#define RNG_MAX_PER_REQUEST	(64 * 1024)
#define RNG_QUEUE_SIZE		256

struct rng {
	struct virtio_dev vd;
	struct virtq_chain chain;	/* 24 KiB: not on the I/O thread's stack */
};

static uint64_t rng_features(struct virtio_dev *vd)
{
	return 1ULL << VIRTIO_F_INDIRECT_DESC | 1ULL << VIRTIO_F_EVENT_IDX;
}

static void rng_config_read(struct virtio_dev *vd, uint32_t off, uint8_t *data,
			    uint32_t len)
{
	(void)vd;	/* config_size is 0: never called */
}

/* Fills the writable buffers; returns the bytes written. */
static uint32_t fill(const struct virtq_chain *c)
{
	uint32_t done = 0;

	for (unsigned i = c->nread; i < c->n && done < RNG_MAX_PER_REQUEST; i++) {
		uint8_t *p = c->iov[i].hva;
		uint32_t want = c->iov[i].len, got = 0;

		if (want > RNG_MAX_PER_REQUEST - done)
			want = RNG_MAX_PER_REQUEST - done;
		while (got < want) {
			ssize_t r = getrandom(p + got, want - got, 0);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				log_warn("virtio-rng: getrandom: %m");
				return done + got;
			}
			got += (uint32_t)r;
		}
		done += got;
	}
	return done;
}

static void rng_notify(struct virtio_dev *vd, unsigned qi)
{
	struct rng *rng = vd->priv;
	struct virtq *q = &vd->vq[qi];
	int r;

	do {
		while ((r = virtq_pop(q, &rng->chain)) > 0) {
			r = virtq_push(q, rng->chain.head, fill(&rng->chain));
			if (r < 0)
				break;
		}
		if (r < 0)
			break;
		virtq_set_avail_event(q);
		r = virtq_pending(q);
	} while (r > 0);
	if (r < 0) {
		virtio_dev_needs_reset(vd);
		return;
	}
	virtio_dev_used(vd, qi);
}

static const struct virtio_dev_ops rng_ops = {
	.features = rng_features,
	.config_read = rng_config_read,
	.queue_notify = rng_notify,
};

struct virtio_dev *virtio_rng_new(void)
{
	struct rng *rng = calloc(1, sizeof(*rng));

	if (!rng)
		return NULL;
	rng->vd = (struct virtio_dev){
		.name = "virtio-rng", .id = VIRTIO_ID_RNG, .nqueues = 1,
		.queue_max = RNG_QUEUE_SIZE, .config_size = 0, .ops = &rng_ops,
		.priv = rng,
	};
	return &rng->vd;
}

void virtio_rng_free(void *vd)
{
	free(vd ? ((struct virtio_dev *)vd)->priv : NULL);
}
