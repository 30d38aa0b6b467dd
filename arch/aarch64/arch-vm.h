/* aarch64 per-VM state embedded in struct vm. */
#ifndef VMM_ARCH_VM_H
#define VMM_ARCH_VM_H

#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "devicetree.h"
#include "layout.h"

struct kvm_vcpu_init;
struct pci_bus;
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
	/* virtio_transport: PCI (ECAM, MSI-X through the GICv3 ITS) or, when
	 * false, virtio-mmio slots. */
	bool virtio_pci;
	int its_fd;			/* the in-kernel ITS, -1 without PCI */
	struct pci_bus *pci;		/* with PCI */
	/* virtio-mmio slots in use, in slot order (as the device tree lists them). */
	struct arm64_fdt_virtio virtio[ARM64_VIRTIO_MMIO_SLOTS];
	unsigned nvirtio;
};

/* [vm] virtio_transport against what the host's KVM gives: `gic` 3, 2, or
 * 0 when there is no KVM to ask (taken as a GICv3 with an ITS); `its`, with
 * a GICv3, whether an ITS can be made. Sets *pci, and *why to the reason
 * for virtio-mmio (NULL with PCI). -ENOTSUP, logged, when "pci" cannot be
 * had. The one policy of the start and of --dump-dtb (machine.c). */
int arm64_virtio_transport(enum virtio_transport want, unsigned gic, bool its,
			   bool *pci, const char **why);

/* MPIDR_EL1 as KVM resets it for vCPU `id` (machine.c). */
uint64_t arm64_kvm_reset_mpidr(unsigned id);

/* Virtio-mmio slot n: its window and SPI (the device tree names them). The
 * node enters a->virtio in slot order; -ENOSPC past the last slot, -EBUSY
 * for a slot taken, logged with `name` (machine.c). */
int arm64_virtio_slot_add(struct arch_vm *a, unsigned n, const char *name);

/* Slot n's window and SPI. */
static inline struct arm64_fdt_virtio arm64_virtio_slot(unsigned n)
{
	return (struct arm64_fdt_virtio){
		.base = ARM64_VIRTIO_MMIO_BASE + n * ARM64_VIRTIO_MMIO_SIZE,
		.size = ARM64_VIRTIO_MMIO_SIZE,
		.spi = ARM64_SPI_VIRTIO_FIRST + n,
	};
}

#endif
