/* The fake driver's virtqueues of fake_vq.h. */
#include "fake_vq.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>

int fake_vq_enable(struct virtq *vq, const struct guest_mem *gm, uint64_t ring, uint16_t size,
		   uint64_t features)
{
	virtq_reset(vq);
	vq->mem = gm;
	vq->size = size;
	vq->desc = ring;
	vq->avail = ring + FAKE_VQ_AVAIL;
	vq->used = ring + FAKE_VQ_USED;
	virtq_set_features(vq, features);
	return virtq_enable(vq);
}

int fake_vq_start(struct virtio_dev *vd, const struct guest_mem *gm, uint64_t ring0,
		  uint64_t stride, uint16_t size, uint64_t features)
{
	for (unsigned q = 0; q < vd->nqueues; q++) {
		int ret = fake_vq_enable(&vd->vq[q], gm, ring0 + q * stride, size, features);

		if (ret < 0)
			return ret;
	}
	vd->features = features;
	vd->status = VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;
	return 0;
}

/* A queue the driver never set up (a fuzzer may name one) has no rings. */
static bool unset(const struct virtq *vq)
{
	return !vq->mem || !vq->size;
}

int fake_vq_desc(const struct virtq *vq, uint16_t i, uint64_t addr, uint32_t len,
		 uint16_t flags, uint16_t next)
{
	struct virtq_desc d = { addr, len, flags, next };

	if (unset(vq))
		return -EINVAL;
	return gm_write(vq->mem, vq->desc + 16ULL * (i % vq->size), &d, sizeof(d));
}

int fake_vq_publish(const struct virtq *vq, uint16_t *idx, uint16_t head)
{
	int ret;

	if (unset(vq))
		return -EINVAL;
	ret = gm_write(vq->mem, vq->avail + 4 + 2ULL * (*idx % vq->size), &head, 2);
	if (ret < 0)
		return ret;
	(*idx)++;
	return gm_write(vq->mem, vq->avail + 2, idx, 2);
}

int fake_vq_used_idx(const struct virtq *vq, uint16_t *idx)
{
	if (unset(vq))
		return -EINVAL;
	return gm_read(vq->mem, vq->used + 2, idx, 2);
}

int fake_vq_used_elem(const struct virtq *vq, uint16_t i, struct virtq_used_elem *e)
{
	if (unset(vq))
		return -EINVAL;
	return gm_read(vq->mem, vq->used + 4 + 8ULL * (i % vq->size), e, sizeof(*e));
}

void fake_vq_kick(struct virtio_dev *vd, unsigned q)
{
	pthread_mutex_lock(&vd->lock);
	vd->ops->queue_notify(vd, q);
	pthread_mutex_unlock(&vd->lock);
}
