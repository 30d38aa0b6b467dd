/* Virtio devices, whatever their transport.
 *
 * A device is a `struct virtio_dev` (queues, negotiated features, status)
 * plus a `struct virtio_dev_ops` table; blk.c, net.c, rng.c and fs.c know
 * nothing of how the guest reaches them. The transports (pci.c: modern
 * virtio-pci with MSI-X, used on x86_64; mmio.c: virtio-mmio version 2,
 * used on aarch64) drive the same table and share the status and queue
 * rules below (virtio.c); they reach the VM only through the struct
 * dev_host they are attached with (host.h). */
#ifndef VMM_VIRTIO_VIRTIO_H
#define VMM_VIRTIO_VIRTIO_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* Device status bits VIRTIO_CONFIG_S_* (virtio 1.2, 2.1), VIRTIO_F_VERSION_1,
 * device IDs VIRTIO_ID_*: the kernel's definitions. */
#include <linux/virtio_config.h>
#include <linux/virtio_ids.h>

#include "virtio/virtq.h"

#define VIRTIO_NO_VECTOR	0xffff
#define VIRTIO_MAX_QUEUES	9	/* virtio-net: 4 queue pairs and its control queue */

struct virtio_dev;

/* What a device implements. Every call is made with vd->lock held. */
struct virtio_dev_ops {
	/* Device feature bits; the transport adds VIRTIO_F_VERSION_1. */
	uint64_t (*features)(struct virtio_dev *vd);
	/* Device-specific config space; off + len <= config_size, len 1..8. */
	void (*config_read)(struct virtio_dev *vd, uint32_t off, uint8_t *data,
			    uint32_t len);
	void (*config_write)(struct virtio_dev *vd, uint32_t off,
			     const uint8_t *data, uint32_t len);	/* optional */
	/* The driver set DRIVER_OK (features final, queues set up). Optional;
	 * a negative return sets NEEDS_RESET. */
	int (*activate)(struct virtio_dev *vd);
	/* Device reset: finish or drop in-flight work; the transport resets
	 * the queues afterwards. Optional. */
	void (*reset)(struct virtio_dev *vd);
	/* The driver kicked queue `q` (ready, DRIVER_OK). Runs in the I/O
	 * thread. NULL for a device whose queues are all served outside the
	 * VMM (vhost-user): the transport then leaves the kick eventfds alone
	 * and the device takes them with tops->queue_fds. A device that
	 * serves some queues itself and hands others out (virtio-net on
	 * vhost-net with a control queue) sets vd->backend_queues instead. */
	void (*queue_notify)(struct virtio_dev *vd, unsigned q);
	/* Appends the device's own state to a `queues` report (vmm ctl NAME
	 * queues), as " key=value" words. Optional. */
	size_t (*describe)(struct virtio_dev *vd, char *buf, size_t len);
};

/* Interrupts, provided by the transport. */
struct virtio_transport_ops {
	void (*signal_queue)(struct virtio_dev *vd, unsigned q);
	void (*signal_config)(struct virtio_dev *vd);
	/* For the queues the VMM does not serve (virtio_dev_queue_ours false),
	 * lock held, from activate and after: the
	 * eventfd KVM signals when the driver kicks queue q, and the irqfd of
	 * the MSI-X vector the driver chose for it (-1 when none). Both stay
	 * the transport's: pass them on (vhost-user), never close them. */
	void (*queue_fds)(struct virtio_dev *vd, unsigned q, int *kick_fd, int *call_fd);
	/* Appends queue q's interrupt state (vector, masked, pending) to a
	 * `queues` report, as ",key=value". Optional. */
	size_t (*describe_queue)(struct virtio_dev *vd, unsigned q, char *buf, size_t len);
};

struct virtio_dev {
	const char *name;			/* for logs: "virtio-blk vda" */
	uint16_t id;				/* VIRTIO_ID_* */
	unsigned nqueues;			/* 1..VIRTIO_MAX_QUEUES */
	uint16_t queue_max;			/* power of two */
	uint32_t config_size;			/* bytes of device config */
	const struct virtio_dev_ops *ops;
	void *priv;				/* the device's own state */
	/* Bit per queue served outside the VMM (a kernel vhost-net pair),
	 * where ops->queue_notify serves the others; fixed before attach. */
	uint32_t backend_queues;

	/* Owned by the transport, read by devices. */
	pthread_mutex_t lock;
	struct virtq vq[VIRTIO_MAX_QUEUES];
	uint64_t features;			/* negotiated, fixed at FEATURES_OK */
	uint8_t status;
	uint8_t config_gen;
	const struct virtio_transport_ops *tops;
	void *transport;
};

/* For devices, lock held: after a batch of virtq_push on queue q, send the
 * used-buffer interrupt if the driver wants one. */
void virtio_dev_used(struct virtio_dev *vd, unsigned q);
/* For devices, lock held: a virtq call returned -EIO. Sets NEEDS_RESET and
 * sends a configuration-change interrupt (virtio 1.2, 2.1.2). */
void virtio_dev_needs_reset(struct virtio_dev *vd);
/* The queue is usable: DRIVER_OK, no NEEDS_RESET, enabled. */
bool virtio_dev_queue_live(const struct virtio_dev *vd, unsigned q);
/* The VMM serves queue q (the transport reads its kicks and calls
 * queue_notify), rather than a backend given its eventfds (tops->queue_fds):
 * there is a queue_notify and q is not in vd->backend_queues. */
bool virtio_dev_queue_ours(const struct virtio_dev *vd, unsigned q);

/* Takes vd->lock: one line of words for `vmm ctl NAME queues`, each
 * queue as " TAG.qN=size=..,last_avail=..,avail=..,used=..,..." (the
 * driver's indices read from the rings now), then the device's own words.
 * What a stuck device waits for shows here. Returns the length written. */
size_t virtio_dev_describe(struct virtio_dev *vd, const char *tag, char *buf, size_t len);

/* ---- for transports, lock held ---- */

/* Kicks queue q through its kick eventfd, as KVM's ioeventfd does: for the
 * queues a transport kicks itself (at DRIVER_OK, and a notify write KVM did
 * not catch). */
void virtio_kick(const struct virtio_dev *vd, unsigned q, int kick_fd);

/* The device half of a reset: ops->reset, every queue back to its reset
 * state (size queue_max), features and status 0. The transport resets its
 * own registers (vectors, selectors, interrupt status) beside it. */
void virtio_dev_reset(struct virtio_dev *vd);
/* The driver wrote a non-zero device status (0 means reset: the transport
 * calls virtio_dev_reset). Checks the driver's features against `offered`
 * at FEATURES_OK, activates the device at DRIVER_OK. Returns true when the
 * device has just gone live: the transport then kicks every queue, since
 * buffers made available before DRIVER_OK got no kick anyone acted on. */
bool virtio_dev_set_status(struct virtio_dev *vd, uint64_t offered,
			   uint64_t driver_features, uint8_t v);
/* The driver enabled queue q (its size and ring addresses are set): checks
 * the layout, sets NEEDS_RESET for an invalid one. */
void virtio_dev_queue_enable(struct virtio_dev *vd, unsigned q);

/* ---- for transports, at attach (main thread, before vCPUs run) ---- */

struct dev_host;

/* What every transport does to take on `vd`: checks its queue count and
 * sizes and that its config space fits in `config_max` bytes (-EINVAL),
 * initialises vd->lock, registers free_fn(transport) with the host's
 * cleanups (it must destroy vd->lock), installs `tops` and `transport`,
 * points the queues at the host's guest memory and the device's name, and
 * sets *offered to the device's features plus VIRTIO_F_VERSION_1. On error
 * nothing is registered and the caller frees `transport`. Returns 0 or
 * -errno. */
int virtio_transport_attach(struct virtio_dev *vd, struct dev_host *host,
			    uint32_t config_max, const struct virtio_transport_ops *tops,
			    void *transport, void (*free_fn)(void *opaque),
			    uint64_t *offered);

#endif
