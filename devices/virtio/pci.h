/* The modern (virtio 1.x) PCI transport: vendor 0x1af4, device 0x1040 + id,
 * the common/notify/ISR/device/PCI-cfg capabilities and MSI-X in one 64-bit
 * memory BAR. The devices it carries are described in virtio/virtio.h. */
#ifndef VMM_VIRTIO_PCI_H
#define VMM_VIRTIO_PCI_H

#include <stdint.h>

#include "virtio/virtio.h"

/* ---- the PCI transport ---- */

struct dev_host;
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

/* Common configuration registers (virtio 1.2, 4.1.4.3); pci.c checks them
 * against the kernel's struct virtio_pci_common_cfg. */
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

/* Attaches `vd` to `bus` as PCI function 00:`slot`.0: BAR 0 on host->mmio,
 * capabilities, one MSI route and irqfd per vector (msi_alloc), one
 * ioeventfd per queue watched by host->io. vd must stay valid for the
 * host's life; the transport is freed by the cleanup it registers with
 * the host. Main thread, before vCPUs run. Returns 0 or -errno. */
int virtio_pci_attach(struct dev_host *host, struct pci_bus *bus, unsigned slot,
		      struct virtio_dev *vd);

#endif
