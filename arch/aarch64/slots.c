/* Device slots on aarch64: what `pci_slot` names. On PCI the device number
 * on bus 0 (00:n.0; there is no host bridge function to take 0); on
 * virtio-mmio the window ARM64_VIRTIO_MMIO_BASE + n * ARM64_VIRTIO_MMIO_SIZE
 * with SPI ARM64_SPI_VIRTIO_FIRST + n (arch/aarch64/machine.c). */
#include "arch.h"
#include "layout.h"

const char *arch_device_slots(unsigned *first, unsigned *last)
{
	*first = 0;
	*last = ARM64_VIRTIO_MMIO_SLOTS - 1;
	return "PCI device numbers on bus 0, or virtio-mmio windows";
}
