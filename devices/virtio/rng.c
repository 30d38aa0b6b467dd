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
	struct iovec iov[VIRTQ_MAX_CHAIN];	/* the chain's writable part */
};

static uint64_t rng_features(struct virtio_dev *vd)
{
	return 1ULL << VIRTIO_RING_F_INDIRECT_DESC | 1ULL << VIRTIO_RING_F_EVENT_IDX;
}

static void rng_config_read(struct virtio_dev *vd, uint32_t off, uint8_t *data,
			    uint32_t len)
{
	(void)vd;	/* config_size is 0: never called */
}

/* Fills the writable buffers, RNG_MAX_PER_REQUEST bytes at most; returns
 * the bytes written. */
static uint32_t fill(struct rng *rng)
{
	int n = virtq_chain_iov(&rng->chain, true, 0, RNG_MAX_PER_REQUEST, rng->iov,
				VIRTQ_MAX_CHAIN, NULL);
	uint32_t done = 0;

	/* n >= 0: the chain has no more than VIRTQ_MAX_CHAIN buffers. */
	for (int i = 0; i < n; i++) {
		uint8_t *p = rng->iov[i].iov_base;
		uint32_t want = (uint32_t)rng->iov[i].iov_len, got = 0;

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

static int rng_one(struct virtq_chain *c, void *opaque)
{
	struct rng *rng = opaque;

	return virtq_push(&rng->vd.vq[0], c->head, fill(rng));
}

static void rng_notify(struct virtio_dev *vd, unsigned qi)
{
	struct rng *rng = vd->priv;

	if (virtq_drain(&vd->vq[qi], &rng->chain, rng_one, rng) < 0) {
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
