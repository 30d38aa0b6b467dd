/* Device slots on x86_64: the PCI device numbers on bus 0 that `pci_slot`
 * names (the guest sees the device at 0000:00:NN.0). */
#include "arch.h"
#include "pci.h"

const char *arch_device_slots(unsigned *first, unsigned *last)
{
	/* 00:00.0 is the host bridge (devices/pci.c). */
	*first = 1;
	*last = PCI_MAX_SLOTS - 1;
	return "PCI device numbers on bus 0; 0 is the host bridge";
}
