/* Device slots on aarch64: the virtio-mmio windows that `pci_slot` names
 * (slot n: ARM64_VIRTIO_MMIO_BASE + n * ARM64_VIRTIO_MMIO_SIZE, SPI
 * ARM64_SPI_VIRTIO_FIRST + n; arch/aarch64/machine.c). */
#include "arch.h"
#include "layout.h"

const char *arch_device_slots(unsigned *first, unsigned *last)
{
	*first = 0;
	*last = ARM64_VIRTIO_MMIO_SLOTS - 1;
	return "virtio-mmio windows";
}
