/* The virtio 1.x split virtqueue, device side, shared by every virtio device:
 * ring layout, descriptor-chain parsing against a hostile driver, used-ring
 * updates and notification suppression (EVENT_IDX, flags). */
#ifndef VMM_VIRTQ_H
#define VMM_VIRTQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "memory.h"

/* Ring fields are little-endian (VIRTIO_F_VERSION_1) and are read and written
 * in place: we only build for little-endian hosts. Legacy (pre-1.0) queues,
 * with their guest-endian fields and page-aligned layout, are not offered. */
#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "virtq.c accesses little-endian ring fields natively"
#endif

/* The flag and feature bits are the kernel's UAPI ones: VRING_DESC_F_NEXT,
 * _WRITE, _INDIRECT, VRING_AVAIL_F_NO_INTERRUPT, VRING_USED_F_NO_NOTIFY,
 * VIRTIO_RING_F_INDIRECT_DESC and _EVENT_IDX (virtio_ring.h), and
 * VIRTIO_F_VERSION_1 (virtio_config.h). */
#include <linux/virtio_config.h>
#include <linux/virtio_ring.h>

#define VIRTQ_MAX_SIZE		32768	/* split ring limit (spec 2.7) */
/* Descriptors one chain may visit, the one pointing at an indirect table
 * included. Bounds the work a single kick can cost us and, with the
 * per-table bound in virtq.c, catches loops. */
#define VIRTQ_MAX_CHAIN		1024
/* Total bytes of one chain: the used ring reports lengths in 32 bits. */
#define VIRTQ_MAX_BYTES		UINT32_MAX

/* Guest-visible layout (spec 2.7.5-2.7.8): the kernel's struct vring_desc
 * and friends with plain integer types, in place because the fields are
 * read natively (above). virtq.c checks they match the kernel's. */
struct virtq_desc {
	uint64_t addr;
	uint32_t len;
	uint16_t flags;
	uint16_t next;
};

struct virtq_avail {
	uint16_t flags;
	uint16_t idx;
	uint16_t ring[];	/* [size], then le16 used_event */
};

struct virtq_used_elem {
	uint32_t id;
	uint32_t len;
};

struct virtq_used {
	uint16_t flags;
	uint16_t idx;
	struct virtq_used_elem ring[];	/* [size], then le16 avail_event */
};

/*
 * One split virtqueue. The transport fills mem, size, desc/avail/used and the
 * negotiated features (virtq_set_features), then calls virtq_enable. The
 * structure is not locked: the device that owns it serialises pop, push and
 * the notification calls.
 */
struct virtq {
	const struct guest_mem *mem;
	const char *name;		/* for log lines; may be NULL */
	uint16_t size;			/* power of 2, 1..VIRTQ_MAX_SIZE */
	uint64_t desc, avail, used;	/* guest-physical, set by the transport */
	bool ready;			/* enabled and validated */
	bool event_idx, indirect;	/* negotiated features */
	uint16_t last_avail;		/* next avail ring slot to consume */
	uint16_t shadow_avail;		/* avail->idx as last read */
	uint16_t used_idx;		/* our copy of used->idx */
	uint16_t signalled_used;	/* used_idx at the last notify decision */
	bool signalled_used_valid;
	bool broken;			/* malformed ring: device sets NEEDS_RESET */
	const char *error;		/* why broken, for logs and tests */

	/* Host views of the rings, from gm_ptr in virtq_enable. Guest RAM is
	 * never remapped while the VM lives, and every index into them is
	 * reduced modulo size, so they stay inside the checked ranges. */
	struct virtq_desc *desc_hva;
	struct virtq_avail *avail_hva;
	struct virtq_used *used_hva;
};

/* One guest buffer of a chain. hva came from gm_ptr for exactly [gpa, gpa+len). */
struct virtq_iov {
	uint64_t gpa;
	void *hva;
	uint32_t len;
	bool write;		/* device-writable */
};

/*
 * A popped chain. Device-readable buffers come first: iov[0..nread), then the
 * device-writable ones iov[nread..n). Zero-length descriptors are accepted
 * but get no iov. About 24 KiB: allocate it with the device, not on the stack
 * of a vCPU thread.
 */
struct virtq_chain {
	uint16_t head;		/* what virtq_push takes back */
	unsigned n, nread, nwrite;
	uint64_t read_bytes, write_bytes;	/* sum <= VIRTQ_MAX_BYTES */
	struct virtq_iov iov[VIRTQ_MAX_CHAIN];
};

/* Set event_idx and indirect from the negotiated feature bits. */
void virtq_set_features(struct virtq *q, uint64_t features);

/* 0 when size is legal and each ring is aligned (16/2/4) and wholly inside
 * one guest RAM region; -EINVAL otherwise. */
int virtq_validate(const struct virtq *q);

/* Validate, map the rings and start from index 0 (the driver's state after
 * it enables a queue). Returns 0 or -EINVAL; the queue stays not ready on
 * error. */
int virtq_enable(struct virtq *q);

/* Forget everything the driver set up (device reset); keeps mem and name. */
void virtq_reset(struct virtq *q);

/*
 * Take the next available chain. Returns 1 with *c filled, 0 when the ring
 * is empty (or the queue is not ready), and -EIO when the driver broke the
 * ring: q->broken is set, q->error says why, and every later call fails
 * until virtq_reset. The device then sets DEVICE_NEEDS_RESET.
 */
int virtq_pop(struct virtq *q, struct virtq_chain *c);

/* Return a chain to the driver with `written` bytes written to its
 * device-writable part. -EIO on a broken queue, -EINVAL for a head that
 * cannot be outstanding (a device bug). */
int virtq_push(struct virtq *q, uint16_t head, uint32_t written);

/* After pushes: true when the driver wants a used-buffer notification
 * (EVENT_IDX used_event, else VIRTQ_AVAIL_F_NO_INTERRUPT). Call once per
 * batch of pushes; it records what it decided. */
bool virtq_should_notify(struct virtq *q);

/*
 * Available-buffer notifications. While draining, a device may call
 * virtq_suppress_notify. Before it waits for the next kick it calls
 * virtq_set_avail_event (publishes avail_event = last_avail, or clears
 * VIRTQ_USED_F_NO_NOTIFY) and then virtq_pending: buffers the driver added
 * before it could see the publication produce no kick, so a return of 1
 * means "pop again instead of sleeping".
 */
void virtq_suppress_notify(struct virtq *q);
void virtq_set_avail_event(struct virtq *q);
/* 1 when chains are waiting, 0 when not, -EIO when the avail index is bad. */
int virtq_pending(struct virtq *q);

/*
 * A kick's whole work: pops every available chain into *c and hands it to
 * `each`, which pushes it or keeps it, until the ring is empty with the
 * next kick asked for (virtq_set_avail_event, then virtq_pending once more
 * for chains added meanwhile). `each` returns 0 to go on, 1 to stop here
 * (the device comes back later; no kick is asked for), or -errno to stop
 * with that error. Returns 0 (drained), 1 (stopped by `each`) or -errno
 * (virtq's -EIO on a broken ring, or each's).
 */
int virtq_drain(struct virtq *q, struct virtq_chain *c,
		int (*each)(struct virtq_chain *c, void *opaque), void *opaque);

/* The queue's state as "key=value,..." for a `queues` report: our indices
 * and the driver's as its rings hold them now (avail idx and flags,
 * used_event; the avail_event we published). With !ours (a vhost-user
 * backend serves the queue) only what the rings hold. Returns the length
 * written. */
size_t virtq_describe(const struct virtq *q, bool ours, char *buf, size_t len);

/*
 * Host iovecs for bytes [off, off + len) of a popped chain's readable
 * (write false) or device-writable (write true) part, stopping where that
 * part ends: a range past it is cut short, never extended into the other
 * part. Each iovec is a slice of one virtq_iov, whose hva gm_ptr checked
 * for the whole buffer at pop time, so no iovec leaves guest RAM. Returns
 * the number of iovecs, or -E2BIG when the range spans more than `max`
 * buffers: iov[0..max) then holds its start. *bytes, unless NULL, gets
 * what the filled iovecs cover (<= len, <= VIRTQ_MAX_BYTES).
 */
int virtq_chain_iov(const struct virtq_chain *c, bool write, uint64_t off,
		    uint64_t len, struct iovec *iov, unsigned max, uint64_t *bytes);

/* Copy between a chain and a host buffer, as one byte stream starting `off`
 * bytes into the readable (resp. writable) part. Return the bytes copied,
 * short when the chain ends first. */
size_t virtq_chain_read(const struct virtq_chain *c, uint64_t off, void *dst,
			size_t len);
size_t virtq_chain_write(const struct virtq_chain *c, uint64_t off,
			 const void *src, size_t len);

#endif
