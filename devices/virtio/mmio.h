/* The virtio-mmio transport, version 2 (virtio 1.2, 4.2): one 512-byte
 * register window and one level-triggered interrupt line per device. Used
 * on aarch64, where the device tree names each window (virtio,mmio nodes);
 * it carries the same devices as virtio-pci (virtio/virtio.h). */
#ifndef VMM_VIRTIO_MMIO_H
#define VMM_VIRTIO_MMIO_H

#include <stdint.h>

#include "virtio/virtio.h"

struct dev_host;

/* Register offsets (virtio 1.2, 4.2.2). Registers are 32 bits wide and take
 * only aligned 32-bit accesses; the device configuration from VMMIO_CONFIG
 * on takes any width. */
#define VMMIO_MAGIC		0x000	/* "virt" */
#define VMMIO_VERSION		0x004
#define VMMIO_DEVICE_ID		0x008
#define VMMIO_VENDOR_ID		0x00c
#define VMMIO_DEVICE_FEATURES	0x010
#define VMMIO_DEVICE_FEATURES_SEL 0x014
#define VMMIO_DRIVER_FEATURES	0x020
#define VMMIO_DRIVER_FEATURES_SEL 0x024
#define VMMIO_QUEUE_SEL		0x030
#define VMMIO_QUEUE_NUM_MAX	0x034
#define VMMIO_QUEUE_NUM		0x038
#define VMMIO_QUEUE_READY	0x044
#define VMMIO_QUEUE_NOTIFY	0x050
#define VMMIO_INTERRUPT_STATUS	0x060
#define VMMIO_INTERRUPT_ACK	0x064
#define VMMIO_STATUS		0x070
#define VMMIO_QUEUE_DESC_LOW	0x080
#define VMMIO_QUEUE_DESC_HIGH	0x084
#define VMMIO_QUEUE_DRIVER_LOW	0x090
#define VMMIO_QUEUE_DRIVER_HIGH	0x094
#define VMMIO_QUEUE_DEVICE_LOW	0x0a0
#define VMMIO_QUEUE_DEVICE_HIGH	0x0a4
#define VMMIO_SHM_SEL		0x0ac
#define VMMIO_SHM_LEN_LOW	0x0b0
#define VMMIO_SHM_LEN_HIGH	0x0b4
#define VMMIO_SHM_BASE_LOW	0x0b8
#define VMMIO_SHM_BASE_HIGH	0x0bc
#define VMMIO_QUEUE_RESET	0x0c0
#define VMMIO_CONFIG_GENERATION	0x0fc
#define VMMIO_CONFIG		0x100

#define VMMIO_MAGIC_VALUE	0x74726976u
#define VMMIO_VENDOR_VALUE	0x006d6d76u	/* "vmm\0", little-endian */
#define VMMIO_INT_VRING		1u
#define VMMIO_INT_CONFIG	2u
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
