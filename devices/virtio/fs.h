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
/* The command line of vmm's virtiofsd for a `source` share, in the dialect
 * of the one configured: QEMU's C virtiofsd takes `-o source=DIR -o cache=
 * -o sandbox=`, the Rust one `--shared-dir=DIR --cache= --sandbox=` (its
 * `-o` forms are deprecated). The listening socket is fd 3 (`--fd=3`).
 * Fills argv (NULL-terminated) with pointers into cfg and `a`; async-signal-
 * safe (it runs in the new process). */
struct virtiofsd_args {
	char *argv[12];
	char src[4096 + 32], cache[32], sandbox[32], threads[48];
};
void virtio_fs_virtiofsd_argv(const struct fs_config *cfg, struct virtiofsd_args *a);

/* Disconnects, stops vmm's virtiofsd, frees (void * to serve as a vm cleanup). */
void virtio_fs_free(void *vd);

#endif
