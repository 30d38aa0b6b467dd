/* The device tree an arm64 Linux guest boots with, built with libfdt. Plain
 * C over libfdt (no KVM headers): compiled and unit-tested on every host. */
#ifndef VMM_ARM64_FDT_H
#define VMM_ARM64_FDT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arm64_fdt_virtio {
	uint64_t base, size;
	uint32_t spi;
};

struct arm64_fdt_config {
	uint64_t ram_base, ram_size;

	unsigned ncpus;
	const uint64_t *mpidr;		/* ncpus entries: each vCPU's MPIDR_EL1 */

	unsigned gic_version;		/* 2 or 3 */
	uint64_t gic_dist_base, gic_dist_size;
	/* GICv3: the redistributor region; GICv2: the CPU interface. */
	uint64_t gic_redist_base, gic_redist_size;
	uint64_t gic_cpu_base, gic_cpu_size;

	uint64_t uart_base, uart_size;
	uint32_t uart_spi, uart_clock;

	uint64_t rtc_base, rtc_size;	/* rtc_size 0: no PL031 */
	uint32_t rtc_spi;

	uint64_t gpio_base, gpio_size;	/* gpio_size 0: no PL061, no power button */
	uint32_t gpio_spi, gpio_power_pin;

	/* virtio-mmio devices (ARM64_VIRTIO_MMIO_* slots), in probe order. */
	const struct arm64_fdt_virtio *virtio;
	unsigned nvirtio;
	/* PCI instead: a "pci-host-ecam-generic" bridge for bus 0 (its ECAM
	 * window, one memory window for BARs, MSIs through a GICv3 ITS, a
	 * child of the GIC node), and /chosen's linux,pci-probe-only. GICv3
	 * only; no virtio-mmio nodes with it. */
	bool pci;
	uint64_t its_base, its_size;
	uint64_t pci_ecam_base, pci_ecam_size;
	uint64_t pci_mmio_base, pci_mmio_size;

	const char *bootargs;		/* NULL or "" for none */
	uint64_t initrd_start, initrd_end;	/* equal: no initrd */
};

/* Builds the tree into buf (at most `size` bytes; fdt_totalsize() tells how
 * much it used). Returns 0, a negative libfdt error (-FDT_ERR_NOSPACE when
 * `size` is too small) or -EINVAL for an unusable config. */
int arm64_fdt_build(void *buf, size_t size, const struct arm64_fdt_config *c);

/* One virtio-mmio transport: node "virtio_mmio@BASE" under the root with
 * a level-triggered SPI. arm64_fdt_build calls it for each entry of
 * config->virtio; exposed for the transport's own tests. Call only while the
 * root node is open (sequential-write API). Returns 0 or a libfdt error. */
int arm64_fdt_virtio_mmio_node(void *fdt, uint64_t base, uint64_t size, uint32_t spi);

/* GIC interrupt specifier cells (the binding's encoding). */
#define ARM64_FDT_IRQ_SPI		0u
#define ARM64_FDT_IRQ_PPI		1u
#define ARM64_FDT_IRQ_EDGE_RISING	1u
#define ARM64_FDT_IRQ_LEVEL_HIGH	4u

/* Phandles of the nodes others refer to. */
#define ARM64_FDT_PHANDLE_GIC		1u
#define ARM64_FDT_PHANDLE_APB_CLK	2u
#define ARM64_FDT_PHANDLE_GPIO		3u
#define ARM64_FDT_PHANDLE_ITS		4u

/* linux,code of the power button: KEY_POWER (linux/input-event-codes.h). */
#define ARM64_FDT_KEY_POWER		116u

#endif
