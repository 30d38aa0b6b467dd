/* x86_64 per-VM state embedded in struct vm. */
#ifndef VMM_ARCH_VM_H
#define VMM_ARCH_VM_H

#include <stdint.h>

struct kvm_cpuid2;
struct pm_device;
struct pvpanic;
struct pci_bus;

struct arch_vm {
	struct kvm_cpuid2 *cpuid;	/* KVM_GET_SUPPORTED_CPUID, templated */
	uint64_t entry;			/* 64-bit kernel entry point */
	uint64_t boot_params;		/* zero page address, passed in RSI */
	struct pm_device *pm;
	struct pvpanic *pvpanic;
	struct pci_bus *pci;		/* bus 0: host bridge and virtio devices */
};

#endif
