/* aarch64 per-VM state embedded in struct vm. */
#ifndef VMM_ARCH_VM_H
#define VMM_ARCH_VM_H

#include <stdint.h>

#include "devicetree.h"
#include "layout.h"

struct kvm_vcpu_init;
struct pl031;
struct pl061;

struct arch_vm {
	uint32_t vcpu_target;		/* KVM_ARM_PREFERRED_TARGET */
	int gic_fd;			/* the in-kernel GIC device */
	unsigned gic_version;		/* 3, or 2 where the host has no GICv3 */
	uint64_t entry;			/* kernel load address = entry point */
	uint64_t fdt;			/* device tree address, passed in x0 */
	uint64_t *mpidr;		/* per vCPU, as the device tree names them */
	struct pl031 *rtc;
	struct pl061 *gpio;		/* the power button */
	/* virtio-mmio slots in use, in slot order (as the device tree lists them). */
	struct arm64_fdt_virtio virtio[ARM64_VIRTIO_MMIO_SLOTS];
	unsigned nvirtio;
};

#endif
