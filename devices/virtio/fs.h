/* virtio-fs (virtio 1.2, 5.11) as a vhost-user frontend: the device's config
 * space (tag, num_request_queues) lives here, its queues are served by a
 * virtiofsd over a unix socket; the guest's kicks reach virtiofsd through
 * KVM ioeventfds and its completions come back through irqfds, so the VMM
 * is not on the data path. */
#ifndef VMM_VIRTIO_FS_H
#define VMM_VIRTIO_FS_H

#include "config.h"
#include "virtio/virtio.h"

struct guest_mem;
struct iothread;

/* A new device for `cfg` (kept by reference), connected to its backend:
 * vmm's own virtiofsd started for cfg->source, or cfg->socket. A backend
 * that is not there is an error logged here. Not yet on a transport.
 * Returns 0 or -errno. */
int virtio_fs_new(const struct fs_config *cfg, const struct guest_mem *mem,
		  struct iothread *io, struct virtio_dev **out);
/* Disconnects, stops vmm's virtiofsd, frees (void * to serve as a vm cleanup). */
void virtio_fs_free(void *vd);

#endif
