/* virtio-rng (virtio 1.2, 5.4): one request queue whose device-writable
 * buffers the device fills from the host's getrandom(). */
#ifndef VMM_VIRTIO_RNG_H
#define VMM_VIRTIO_RNG_H

#include "virtio/virtio.h"

/* A new device, not yet on a transport; NULL when out of memory. */
struct virtio_dev *virtio_rng_new(void);
/* Frees it (void * to serve as a vm cleanup). */
void virtio_rng_free(void *vd);

#endif
