/* Virtio devices and their PCI transport.
 *
 * The first half is transport-independent: a device is a `struct virtio_dev`
 * (queues, negotiated features, status) plus a `struct virtio_dev_ops`
 * table; blk.c and rng.c know nothing of PCI and virtio-mmio will drive the
 * same table. The second half is the modern (virtio 1.x) PCI transport:
 * vendor 0x1af4, device 0x1040 + id, the common/notify/ISR/device/PCI-cfg
 * capabilities and MSI-X in one 64-bit memory BAR. */
#ifndef VMM_VIRTIO_PCI_H
#define VMM_VIRTIO_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "virtio/virtq.h"

/* Device status bits (virtio 1.2, 2.1). */
#define VIRTIO_STATUS_ACKNOWLEDGE	0x01
#define VIRTIO_STATUS_DRIVER		0x02
#define VIRTIO_STATUS_DRIVER_OK		0x04
#define VIRTIO_STATUS_FEATURES_OK	0x08
#define VIRTIO_STATUS_NEEDS_RESET	0x40
#define VIRTIO_STATUS_FAILED		0x80

#define VIRTIO_ID_BLOCK		2
#define VIRTIO_ID_RNG		4
#define VIRTIO_ID_FS		26

#define VIRTIO_NO_VECTOR	0xffff
#define VIRTIO_MAX_QUEUES	8

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
	 * thread. NULL for a device whose queues are served outside the VMM
	 * (vhost-user): the transport then leaves the kick eventfds alone and
	 * the device takes them with tops->queue_fds. */
	void (*queue_notify)(struct virtio_dev *vd, unsigned q);
};

/* Interrupts, provided by the transport. */
struct virtio_transport_ops {
	void (*signal_queue)(struct virtio_dev *vd, unsigned q);
	void (*signal_config)(struct virtio_dev *vd);
	/* For devices without queue_notify, lock held, from activate: the
	 * eventfd KVM signals when the driver kicks queue q, and the irqfd of
	 * the MSI-X vector the driver chose for it (-1 when none). Both stay
	 * the transport's: pass them on (vhost-user), never close them. */
	void (*queue_fds)(struct virtio_dev *vd, unsigned q, int *kick_fd, int *call_fd);
};

struct virtio_dev {
	const char *name;			/* for logs: "virtio-blk vda" */
	uint16_t id;				/* VIRTIO_ID_* */
	unsigned nqueues;			/* 1..VIRTIO_MAX_QUEUES */
	uint16_t queue_max;			/* power of two */
	uint32_t config_size;			/* bytes of device config */
	const struct virtio_dev_ops *ops;
	void *priv;				/* the device's own state */

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

/* ---- the PCI transport ---- */

struct vm;
struct pci_bus;

/* BAR 0 layout. The notify region has one 4-byte slot per queue
 * (notify_off_multiplier 4); the MSI-X table has nqueues + 1 vectors
 * (vector 0 for config changes, by convention of Linux's driver, but any
 * assignment the driver writes is honoured). */
#define VPCI_COMMON_OFF		0x0000
#define VPCI_COMMON_LEN		0x003c
#define VPCI_ISR_OFF		0x1000
#define VPCI_DEVCFG_OFF		0x2000
#define VPCI_DEVCFG_MAX		0x1000
#define VPCI_NOTIFY_OFF		0x3000
#define VPCI_NOTIFY_MULT	4
#define VPCI_MSIX_OFF		0x4000
#define VPCI_PBA_OFF		0x5000
#define VPCI_BAR_SIZE		0x8000

/* Common configuration registers (virtio 1.2, 4.1.4.3). */
#define VPCI_DFSELECT		0x00
#define VPCI_DF			0x04
#define VPCI_GFSELECT		0x08
#define VPCI_GF			0x0c
#define VPCI_MSIX_CONFIG	0x10
#define VPCI_NUM_QUEUES		0x12
#define VPCI_STATUS		0x14
#define VPCI_CFG_GENERATION	0x15
#define VPCI_Q_SELECT		0x16
#define VPCI_Q_SIZE		0x18
#define VPCI_Q_MSIX		0x1a
#define VPCI_Q_ENABLE		0x1c
#define VPCI_Q_NOFF		0x1e
#define VPCI_Q_DESC		0x20
#define VPCI_Q_AVAIL		0x28
#define VPCI_Q_USED		0x30
#define VPCI_Q_NOTIFY_DATA	0x38
#define VPCI_Q_RESET		0x3a

/* Creates the PCI function for `vd` on `bus`: BAR, capabilities, one MSI
 * route and irqfd per vector, one KVM ioeventfd per queue watched by the
 * VM's I/O thread. vd must stay valid for the VM's life; the transport is
 * freed by vm_destroy. Returns 0 or -errno. */
int virtio_pci_create(struct vm *vm, struct pci_bus *bus, struct virtio_dev *vd);

#endif
