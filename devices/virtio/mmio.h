/* The virtio-mmio transport, version 2 (virtio 1.2, 4.2): one 512-byte
 * register window and one level-triggered interrupt line per device. Used
 * on aarch64, where the device tree names each window (virtio,mmio nodes);
 * it carries the same devices as virtio-pci (virtio/virtio.h). */
#ifndef VMM_VIRTIO_MMIO_H
#define VMM_VIRTIO_MMIO_H

#include <stdint.h>

#include <linux/virtio_mmio.h>

#include "virtio/virtio.h"

struct dev_host;

/* Register offsets VIRTIO_MMIO_* and interrupt status bits
 * VIRTIO_MMIO_INT_* (virtio 1.2, 4.2.2) come from <linux/virtio_mmio.h>.
 * Registers are 32 bits wide and take only aligned 32-bit accesses; the
 * device configuration from VIRTIO_MMIO_CONFIG on takes any width. */
/* What the MagicValue and VendorID registers read. */
#define VMMIO_MAGIC_VALUE	0x74726976u	/* "virt", little-endian */
#define VMMIO_VENDOR_VALUE	0x006d6d76u	/* "vmm\0", little-endian */
/* The window: registers and up to 256 bytes of device configuration. */
#define VMMIO_SIZE		0x200

/* Attaches `vd` at guest-physical `base` (VMMIO_SIZE bytes on host->mmio),
 * raising interrupt `irq` (as the host's set_irq takes it) while the
 * interrupt status is not zero. Kicks arrive through one datamatch
 * ioeventfd per queue (QueueNotify with the queue's index), watched by
 * host->io. vd must stay valid for the host's life; the transport is freed
 * by the cleanup it registers with the host. Main thread, before vCPUs run.
 * Returns 0 or -errno. */
int virtio_mmio_attach(struct dev_host *host, uint64_t base, uint32_t irq,
		       struct virtio_dev *vd);

#endif
