/* The x86_64 guest-physical memory map. */
#ifndef VMM_X86_LAYOUT_H
#define VMM_X86_LAYOUT_H

#define X86_GDT_ADDR		0x500ULL
#define X86_IDT_ADDR		0x520ULL
#define X86_BOOT_STACK		0x8ff0ULL
#define X86_ZERO_PAGE		0x7000ULL
#define X86_PML4		0x9000ULL
#define X86_PDPT		0xa000ULL
#define X86_PD			0xb000ULL	/* 4 pages: 4 GiB of 2 MiB pages */
#define X86_CMDLINE		0x20000ULL
#define X86_CMDLINE_MAX		0x10000ULL
#define X86_EBDA_START		0x9fc00ULL
#define X86_ACPI_START		0xe0000ULL	/* RSDP, then the tables */
#define X86_ACPI_END		0x100000ULL
#define X86_HIMEM		0x100000ULL
#define X86_KERNEL_DEFAULT	0x1000000ULL	/* 16 MiB */

/* Everything from 3 GiB to 4 GiB is MMIO: PCI windows, IOAPIC, LAPIC. */
#define X86_MMIO_HOLE_START	0xc0000000ULL
#define X86_MMIO_HOLE_END	0x100000000ULL
/* PCI BARs: assigned by us from this window, declared in the DSDT. */
#define X86_PCI_MMIO_START	0xc0000000ULL
#define X86_PCI_MMIO_SIZE	0x20000000ULL	/* 512 MiB, up to 0xdfffffff */
/* Boot timer (devices/boot_timer.h): one page, outside the PCI window and
 * below the IOAPIC and QEMU microvm's virtio-mmio slots (0xfeb00000), so the
 * guest's init can write 123 to it under either VMM (docs/lifecycle.md). */
#define X86_BOOT_TIMER_ADDR	0xfea00000ULL
#define X86_IOAPIC_ADDR		0xfec00000ULL
#define X86_LAPIC_ADDR		0xfee00000ULL
#define X86_TSS_ADDR		0xfffbd000ULL
#define X86_IDENTITY_MAP_ADDR	0xfffbc000ULL

/* Port I/O used by our platform devices. */
#define X86_PORT_COM1		0x3f8
#define X86_IRQ_COM1		4
#define X86_IRQ_KBD		1
#define X86_PORT_PM		0x600	/* ACPI sleep control/status, reset */
#define X86_PM_SLEEP_CONTROL	0x600
#define X86_PM_SLEEP_STATUS	0x601
#define X86_PM_RESET		0x602
#define X86_PM_RESET_VALUE	0x0f
#define X86_PORT_PVPANIC	0x505
#define X86_PORT_POST		0x80
#define X86_PORT_PCI_CONFIG	0xcf8	/* mechanism #1: address 0xcf8, data 0xcfc */

#endif
