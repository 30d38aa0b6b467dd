/* The aarch64 guest-physical memory map and interrupt numbers. MMIO lives
 * below 2 GiB, RAM starts at 2 GiB (as on QEMU's virt machine and kvmtool),
 * so a 32-bit DMA-capable device could later reach the first GiB of RAM. */
#ifndef VMM_ARM64_LAYOUT_H
#define VMM_ARM64_LAYOUT_H

/* GIC distributor; the GICv2 CPU interface follows it (GICv2 only). */
#define ARM64_GIC_DIST_BASE	0x08000000ULL
#define ARM64_GIC_DIST_SIZE	0x10000ULL
#define ARM64_GIC_CPU_BASE	0x08010000ULL
#define ARM64_GIC_CPU_SIZE	0x2000ULL
/* GICv3 ITS (virtio_transport "pci" only): its control frame and the
 * frame of GITS_TRANSLATER, where MSIs are written; as QEMU's virt machine. */
#define ARM64_GIC_ITS_BASE	0x08080000ULL
#define ARM64_GIC_ITS_SIZE	0x20000ULL
/* GICv3 redistributors: two 64 KiB frames (RD, SGI) per vCPU. */
#define ARM64_GIC_REDIST_BASE	0x10000000ULL
#define ARM64_GIC_REDIST_STRIDE	0x20000ULL

/* 16550A UART: 8 byte-wide registers (reg-shift 0). */
#define ARM64_UART_BASE		0x09000000ULL
#define ARM64_UART_SIZE		0x8ULL
#define ARM64_UART_CLOCK	1843200u
/* PL031 real-time clock (an AMBA PrimeCell: one 4 KiB page with ID registers). */
#define ARM64_RTC_BASE		0x09010000ULL
#define ARM64_RTC_SIZE		0x1000ULL

/* PL061 GPIO: the power button on pin 3 (a gpio-keys KEY_POWER), as on
 * QEMU's virt machine. */
#define ARM64_GPIO_BASE		0x09030000ULL
#define ARM64_GPIO_SIZE		0x1000ULL
#define ARM64_GPIO_POWER_PIN	3u

/* Boot timer (devices/boot_timer.h): the guest's init writes 123 here once
 * userspace is up (`devmem 0x9040000 8 123`). Not in the device tree. */
#define ARM64_BOOT_TIMER_BASE	0x09040000ULL

/* virtio-mmio devices: slot n at BASE + n * SIZE, interrupt SPI FIRST_SPI + n. */
#define ARM64_VIRTIO_MMIO_BASE	0x0a000000ULL
#define ARM64_VIRTIO_MMIO_SIZE	0x200ULL
#define ARM64_VIRTIO_MMIO_SLOTS	32u

/* PCI (virtio_transport "pci"): bus 0's ECAM window, and the window the
 * devices' BARs are placed in (the guest keeps them there:
 * linux,pci-probe-only). */
#define ARM64_PCI_ECAM_BASE	0x3f000000ULL
#define ARM64_PCI_ECAM_SIZE	0x100000ULL	/* one bus (PCI_ECAM_BUS_SIZE) */
#define ARM64_PCI_MMIO_BASE	0x40000000ULL
#define ARM64_PCI_MMIO_SIZE	0x40000000ULL
#define ARM64_RAM_BASE		0x80000000ULL

/* The device tree sits at the top of RAM, in a 2 MiB block of its own (the
 * boot protocol wants it 8-byte aligned, at most 2 MiB, and the kernel maps
 * it with 2 MiB blocks). */
#define ARM64_FDT_MAX		0x10000ULL	/* what we build fits easily in 64 KiB */
#define ARM64_FDT_ALIGN		0x200000ULL

/* Shared peripheral interrupts (GIC INTID = 32 + SPI). */
#define ARM64_SPI_UART		1u
#define ARM64_SPI_RTC		2u
#define ARM64_SPI_GPIO		3u
#define ARM64_SPI_VIRTIO_FIRST	16u
/* INTIDs KVM gives the GIC: 32 private + 224 shared. */
#define ARM64_GIC_NR_IRQS	256u

/* Architected timer PPIs (INTID = 16 + PPI), as KVM wires them. */
#define ARM64_PPI_TIMER_SEC	13u
#define ARM64_PPI_TIMER_PHYS	14u
#define ARM64_PPI_TIMER_VIRT	11u
#define ARM64_PPI_TIMER_HYP	10u

/* GICv2 can address at most 8 CPUs. */
#define ARM64_GICV2_MAX_CPUS	8u

#endif
