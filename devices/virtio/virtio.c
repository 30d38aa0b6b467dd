/* What every virtio transport does the same way: the device status state
 * machine (virtio 1.2, 2.1 and 3.1.1), queue enabling and the interrupt and
 * NEEDS_RESET helpers devices call. The transports (pci.c, mmio.c) decode
 * their registers and call these with vd->lock held. */
#include "virtio/virtio.h"

#include <errno.h>
#include <unistd.h>

#include "host.h"
#include "log.h"

void virtio_dev_used(struct virtio_dev *vd, unsigned q)
{
	if (virtq_should_notify(&vd->vq[q]))
		vd->tops->signal_queue(vd, q);
}

void virtio_kick(const struct virtio_dev *vd, unsigned q, int kick_fd)
{
	uint64_t one = 1;

	if (write(kick_fd, &one, sizeof(one)) < 0)
		log_warn_limited("%s: kick of queue %u: %m", vd->name, q);
}

void virtio_dev_needs_reset(struct virtio_dev *vd)
{
	if (vd->status & VIRTIO_CONFIG_S_NEEDS_RESET)
		return;
	log_warn_limited("%s: device needs reset (the driver must reset it to use it again)",
		 vd->name);
	vd->status |= VIRTIO_CONFIG_S_NEEDS_RESET;
	vd->config_gen++;
	vd->tops->signal_config(vd);
}

bool virtio_dev_queue_live(const struct virtio_dev *vd, unsigned q)
{
	return q < vd->nqueues && vd->vq[q].ready && !vd->vq[q].broken &&
	       (vd->status & (VIRTIO_CONFIG_S_DRIVER_OK | VIRTIO_CONFIG_S_NEEDS_RESET)) ==
	       VIRTIO_CONFIG_S_DRIVER_OK;
}

bool virtio_dev_queue_ours(const struct virtio_dev *vd, unsigned q)
{
	return vd->ops->queue_notify && !(q < 32 && (vd->backend_queues >> q & 1));
}

void virtio_dev_reset(struct virtio_dev *vd)
{
	if (vd->ops->reset)
		vd->ops->reset(vd);
	for (unsigned i = 0; i < vd->nqueues; i++) {
		virtq_reset(&vd->vq[i]);
		vd->vq[i].size = vd->queue_max;
	}
	vd->features = 0;
	vd->status = 0;
}

bool virtio_dev_set_status(struct virtio_dev *vd, uint64_t offered,
			   uint64_t driver_features, uint8_t v)
{
	uint8_t old = vd->status;

	/* Only a reset clears bits; NEEDS_RESET is the device's to set. */
	v = (uint8_t)((v | old) & ~VIRTIO_CONFIG_S_NEEDS_RESET) |
	    (old & VIRTIO_CONFIG_S_NEEDS_RESET);
	if ((v & VIRTIO_CONFIG_S_FEATURES_OK) && !(old & VIRTIO_CONFIG_S_FEATURES_OK)) {
		uint64_t f = driver_features;

		if ((f & ~offered) || !(f & (1ULL << VIRTIO_F_VERSION_1))) {
			log_warn_limited("%s: driver accepted features 0x%llx, offered 0x%llx: "
				 "refusing FEATURES_OK", vd->name,
				 (unsigned long long)f, (unsigned long long)offered);
			v &= (uint8_t)~VIRTIO_CONFIG_S_FEATURES_OK;
		} else {
			vd->features = f;
			for (unsigned i = 0; i < vd->nqueues; i++)
				virtq_set_features(&vd->vq[i], f);
		}
	}
	if (!(v & VIRTIO_CONFIG_S_FEATURES_OK))
		v &= (uint8_t)~VIRTIO_CONFIG_S_DRIVER_OK;
	vd->status = v;
	if ((v & VIRTIO_CONFIG_S_DRIVER_OK) && !(old & VIRTIO_CONFIG_S_DRIVER_OK)) {
		if (vd->ops->activate && vd->ops->activate(vd) < 0) {
			virtio_dev_needs_reset(vd);
			return false;
		}
		return true;
	}
	return false;
}

void virtio_dev_queue_enable(struct virtio_dev *vd, unsigned i)
{
	struct virtq *q = &vd->vq[i];

	if (q->ready)
		return;
	if (!(vd->status & VIRTIO_CONFIG_S_FEATURES_OK) || q->size > vd->queue_max ||
	    virtq_enable(q) < 0) {
		log_warn_limited("%s: driver enabled queue %u with an invalid layout "
			 "(size %u, rings 0x%llx/0x%llx/0x%llx)", vd->name, i, q->size,
			 (unsigned long long)q->desc, (unsigned long long)q->avail,
			 (unsigned long long)q->used);
		q->ready = false;
		virtio_dev_needs_reset(vd);
	}
}

int virtio_transport_attach(struct virtio_dev *vd, struct dev_host *host,
			    uint32_t config_max, const struct virtio_transport_ops *tops,
			    void *transport, void (*free_fn)(void *opaque),
			    uint64_t *offered)
{
	int ret;

	if (vd->nqueues == 0 || vd->nqueues > VIRTIO_MAX_QUEUES ||
	    vd->config_size > config_max || vd->queue_max == 0 ||
	    vd->queue_max > VIRTQ_MAX_SIZE || (vd->queue_max & (vd->queue_max - 1)))
		return -EINVAL;
	pthread_mutex_init(&vd->lock, NULL);
	ret = dev_host_add_cleanup(host, free_fn, transport);
	if (ret < 0) {
		pthread_mutex_destroy(&vd->lock);
		return ret;
	}
	vd->transport = transport;
	vd->tops = tops;
	*offered = vd->ops->features(vd) | (1ULL << VIRTIO_F_VERSION_1);
	for (unsigned i = 0; i < vd->nqueues; i++) {
		vd->vq[i].mem = host->mem;
		vd->vq[i].name = vd->name;
	}
	return 0;
}

size_t virtio_dev_describe(struct virtio_dev *vd, const char *tag, char *buf, size_t len)
{
	size_t n;

	/* Each piece writes at most what is left less one: n < len throughout. */
	pthread_mutex_lock(&vd->lock);
	n = fmt_into(buf, len, " %s.status=0x%x", tag, vd->status);
	for (unsigned i = 0; i < vd->nqueues && n + 1 < len; i++) {
		n += fmt_into(buf + n, len - n, " %s.q%u=", tag, i);
		n += virtq_describe(&vd->vq[i], virtio_dev_queue_ours(vd, i), buf + n, len - n);
		if (vd->tops && vd->tops->describe_queue)
			n += vd->tops->describe_queue(vd, i, buf + n, len - n);
	}
	if (vd->ops->describe && n + 1 < len)
		n += vd->ops->describe(vd, buf + n, len - n);
	pthread_mutex_unlock(&vd->lock);
	return n;
}
