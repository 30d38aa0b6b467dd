/* virtio-blk (virtio 1.2, 5.2) on a raw image file: READ, WRITE, FLUSH,
 * GET_ID, DISCARD and WRITE_ZEROES, executed through io_uring (one
 * submission per kick) or, without an I/O thread, synchronously. */
#ifndef VMM_VIRTIO_BLK_H
#define VMM_VIRTIO_BLK_H

#include <stdint.h>

#include "config.h"
#include "virtio/virtio.h"

/* Request types and status values (virtio 1.2, 5.2.6). */
#define VIRTIO_BLK_T_IN			0
#define VIRTIO_BLK_T_OUT		1
#define VIRTIO_BLK_T_FLUSH		4
#define VIRTIO_BLK_T_GET_ID		8
#define VIRTIO_BLK_T_DISCARD		11
#define VIRTIO_BLK_T_WRITE_ZEROES	13

#define VIRTIO_BLK_S_OK		0
#define VIRTIO_BLK_S_IOERR	1
#define VIRTIO_BLK_S_UNSUPP	2

/* Feature bits. */
#define VIRTIO_BLK_F_SEG_MAX		2
#define VIRTIO_BLK_F_RO			5
#define VIRTIO_BLK_F_BLK_SIZE		6
#define VIRTIO_BLK_F_FLUSH		9
#define VIRTIO_BLK_F_DISCARD		13
#define VIRTIO_BLK_F_WRITE_ZEROES	14

#define VIRTIO_BLK_ID_BYTES		20
#define VIRTIO_BLK_SECTOR		512

/* Limits we advertise and enforce. */
#define BLK_SEG_MAX		254	/* data buffers per request: queue size - 2 */
#define BLK_MAX_DISCARD_SEG	8	/* ranges per DISCARD / WRITE_ZEROES */
#define BLK_MAX_DISCARD_SECTORS	(1u << 22)	/* 2 GiB per range */
#define BLK_QUEUE_SIZE		256

/* struct virtio_blk_config up to write_zeroes_may_unmap, as we fill it. */
#define BLK_CFG_CAPACITY		0
#define BLK_CFG_SEG_MAX			12
#define BLK_CFG_BLK_SIZE		20
#define BLK_CFG_NUM_QUEUES		34
#define BLK_CFG_MAX_DISCARD_SECTORS	36
#define BLK_CFG_MAX_DISCARD_SEG		40
#define BLK_CFG_DISCARD_ALIGN		44
#define BLK_CFG_MAX_WZ_SECTORS		48
#define BLK_CFG_MAX_WZ_SEG		52
#define BLK_CFG_WZ_MAY_UNMAP		56
#define BLK_CFG_SIZE			60

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
