/* virtio-blk (virtio 1.2, 5.2) on a raw image file: READ, WRITE, FLUSH,
 * GET_ID, DISCARD and WRITE_ZEROES, executed through io_uring (one
 * submission per kick) or, without an I/O thread, synchronously. */
#ifndef VMM_VIRTIO_BLK_H
#define VMM_VIRTIO_BLK_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "virtio/virtio.h"

/* Request types (VIRTIO_BLK_T_*), status values (VIRTIO_BLK_S_*), feature
 * bits (VIRTIO_BLK_F_*), VIRTIO_BLK_ID_BYTES and the request, segment and
 * config layouts (virtio 1.2, 5.2) are the kernel's. */
#include <linux/virtio_blk.h>

#define VIRTIO_BLK_SECTOR		512

/* Limits we advertise and enforce. */
#define BLK_SEG_MAX		254	/* data buffers per request: queue size - 2 */
#define BLK_MAX_DISCARD_SEG	8	/* ranges per DISCARD / WRITE_ZEROES */
#define BLK_MAX_DISCARD_SECTORS	(1u << 22)	/* 2 GiB per range */
#define BLK_QUEUE_SIZE		256

/* struct virtio_blk_config as far as we fill it: up to write_zeroes_may_unmap
 * and its padding (the secure-erase fields are not offered). */
#define BLK_CFG_CAPACITY	offsetof(struct virtio_blk_config, capacity)
#define BLK_CFG_SEG_MAX		offsetof(struct virtio_blk_config, seg_max)
#define BLK_CFG_SIZE		(offsetof(struct virtio_blk_config, unused1) + 3)
_Static_assert(BLK_CFG_SIZE == 60, "virtio-blk config space size");

struct iothread;

/*
 * Opens the image of `dc` (creating a sparse one of size_mib when it is
 * missing; an existing file is never truncated), takes an OFD lock on it
 * (write lock, or read lock when read-only) and builds the device. With
 * `io`, requests go through io_uring and complete in that I/O thread; with
 * io NULL, each kick is executed synchronously. Returns 0 with *out set,
 * or -errno after logging why.
 */
int virtio_blk_new(const struct disk_config *dc, unsigned index,
		   struct iothread *io, struct virtio_dev **out);
/* Closes the image and frees the device (a vm cleanup). */
void virtio_blk_free(void *vd);

#endif
