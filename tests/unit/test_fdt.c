/* Unit tests for the arm64 boot description (arch/aarch64/devicetree.c,
 * image.c): the device tree is parsed back with libfdt's read-only API and
 * every node and property the kernel needs is checked, as the kernel would
 * look them up (by path, compatible and phandle); the Image header checks and
 * the placement of kernel, initrd and tree in RAM. Runs on any host with
 * libfdt. With VMM_DUMP_DTB=FILE it also writes the 2-vCPU GICv3 tree with
 * two virtio-mmio devices there
 * (docs/aarch64.md shows it through dtc). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <libfdt.h>

#include "aarch64/devicetree.h"
#include "aarch64/image.h"
#include "aarch64/layout.h"

#define MiB (1024ULL * 1024)

static uint8_t blob[ARM64_FDT_MAX];
static uint64_t mpidr[8];

static void make_config(struct arm64_fdt_config *c, unsigned ncpus, unsigned gic)
{
	for (unsigned i = 0; i < 8; i++)
		mpidr[i] = (1ULL << 31) | i;	/* KVM's reset value for vCPU i < 16 */
	*c = (struct arm64_fdt_config){
		.ram_base = ARM64_RAM_BASE, .ram_size = 256 * MiB,
		.ncpus = ncpus, .mpidr = mpidr, .gic_version = gic,
		.gic_dist_base = ARM64_GIC_DIST_BASE, .gic_dist_size = ARM64_GIC_DIST_SIZE,
		.gic_redist_base = ARM64_GIC_REDIST_BASE,
		.gic_redist_size = ARM64_GIC_REDIST_STRIDE * ncpus,
		.gic_cpu_base = ARM64_GIC_CPU_BASE, .gic_cpu_size = ARM64_GIC_CPU_SIZE,
		.uart_base = ARM64_UART_BASE, .uart_size = ARM64_UART_SIZE,
		.uart_spi = ARM64_SPI_UART, .uart_clock = ARM64_UART_CLOCK,
		.rtc_base = ARM64_RTC_BASE, .rtc_size = ARM64_RTC_SIZE,
		.rtc_spi = ARM64_SPI_RTC,
		.gpio_base = ARM64_GPIO_BASE, .gpio_size = ARM64_GPIO_SIZE,
		.gpio_spi = ARM64_SPI_GPIO, .gpio_power_pin = ARM64_GPIO_POWER_PIN,
		.bootargs = "console=ttyS0 earlycon=uart,mmio,0x9000000 rdinit=/init",
		.initrd_start = 0x8f000000, .initrd_end = 0x8f123456,
	};
}

static void build(const struct arm64_fdt_config *c)
{
	memset(blob, 0xaa, sizeof(blob));
	assert_int_equal(arm64_fdt_build(blob, sizeof(blob), c), 0);
	assert_int_equal(fdt_check_header(blob), 0);
	assert_true(fdt_totalsize(blob) <= sizeof(blob));
}

static int node(const char *path)
{
	int off = fdt_path_offset(blob, path);

	if (off < 0)
		fail_msg("no node %s (%s)", path, fdt_strerror(off));
	return off;
}

static const void *prop(int off, const char *name, int *len)
{
	const void *p = fdt_getprop(blob, off, name, len);

	if (!p)
		fail_msg("no property %s in %s", name, fdt_get_name(blob, off, NULL));
	return p;
}

static uint32_t u32prop(int off, const char *name)
{
	int len;
	const fdt32_t *p = prop(off, name, &len);

	assert_int_equal(len, 4);
	return fdt32_to_cpu(*p);
}

static uint64_t u64prop(int off, const char *name)
{
	int len;
	const fdt64_t *p = prop(off, name, &len);

	assert_int_equal(len, 8);
	return fdt64_to_cpu(*p);
}

static void assert_str(int off, const char *name, const char *want)
{
	int len;
	const char *p = prop(off, name, &len);

	assert_int_equal(len, (int)strlen(want) + 1);
	assert_string_equal(p, want);
}

/* reg = <base size> with two cells each (the root's sizes). */
static void assert_reg(int off, uint64_t base, uint64_t size)
{
	int len;
	const fdt64_t *p = prop(off, "reg", &len);

	assert_int_equal(len, 16);
	assert_int_equal(fdt64_to_cpu(p[0]), base);
	assert_int_equal(fdt64_to_cpu(p[1]), size);
}

static void assert_irq(int off, uint32_t type, uint32_t num, uint32_t flags)
{
	int len;
	const fdt32_t *p = prop(off, "interrupts", &len);

	assert_int_equal(len, 12);
	assert_int_equal(fdt32_to_cpu(p[0]), type);
	assert_int_equal(fdt32_to_cpu(p[1]), num);
	assert_int_equal(fdt32_to_cpu(p[2]), flags);
}

static int only_compatible(const char *compat)
{
	int off = fdt_node_offset_by_compatible(blob, -1, compat);

	if (off < 0)
		fail_msg("no node compatible with %s", compat);
	assert_int_equal(fdt_node_offset_by_compatible(blob, off, compat), -FDT_ERR_NOTFOUND);
	return off;
}

static void test_root_and_memory(void **state)
{
	struct arm64_fdt_config c;
	int mem;

	make_config(&c, 1, 3);
	build(&c);
	assert_int_equal(u32prop(0, "#address-cells"), 2);
	assert_int_equal(u32prop(0, "#size-cells"), 2);
	assert_int_equal(fdt_node_check_compatible(blob, 0, "linux,dummy-virt"), 0);
	/* interrupt-parent resolves to the GIC. */
	assert_int_equal(fdt_node_offset_by_phandle(blob, u32prop(0, "interrupt-parent")),
			 only_compatible("arm,gic-v3"));

	mem = node("/memory@80000000");
	assert_str(mem, "device_type", "memory");
	assert_reg(mem, ARM64_RAM_BASE, 256 * MiB);
}

static void test_cpus(void **state)
{
	struct arm64_fdt_config c;
	int cpus, cpu, n = 0;

	make_config(&c, 2, 3);
	build(&c);
	cpus = node("/cpus");
	assert_int_equal(u32prop(cpus, "#address-cells"), 2);
	assert_int_equal(u32prop(cpus, "#size-cells"), 0);
	/* In order, reg = MPIDR affinity (without bit 31). */
	fdt_for_each_subnode(cpu, blob, cpus) {
		char name[16];

		snprintf(name, sizeof(name), "cpu@%d", n);
		assert_string_equal(fdt_get_name(blob, cpu, NULL), name);
		assert_str(cpu, "device_type", "cpu");
		assert_int_equal(fdt_node_check_compatible(blob, cpu, "arm,arm-v8"), 0);
		assert_str(cpu, "enable-method", "psci");
		assert_int_equal(u64prop(cpu, "reg"), (uint64_t)n);
		n++;
	}
	assert_int_equal(n, 2);
}

static void test_psci(void **state)
{
	struct arm64_fdt_config c;
	int psci;

	make_config(&c, 2, 3);
	build(&c);
	psci = node("/psci");
	/* The kernel's PSCI 0.2 driver matches "arm,psci-0.2", 1.0 the other. */
	assert_int_equal(fdt_node_check_compatible(blob, psci, "arm,psci-0.2"), 0);
	assert_int_equal(fdt_node_check_compatible(blob, psci, "arm,psci-1.0"), 0);
	assert_str(psci, "method", "hvc");
}

static void test_gic_v3(void **state)
{
	struct arm64_fdt_config c;
	const fdt64_t *reg;
	int gic, len;

	make_config(&c, 2, 3);
	build(&c);
	gic = only_compatible("arm,gic-v3");
	assert_string_equal(fdt_get_name(blob, gic, NULL), "intc@8000000");
	assert_non_null(fdt_getprop(blob, gic, "interrupt-controller", &len));
	assert_int_equal(len, 0);
	assert_int_equal(u32prop(gic, "#interrupt-cells"), 3);
	assert_int_equal(u32prop(gic, "phandle"), ARM64_FDT_PHANDLE_GIC);
	reg = prop(gic, "reg", &len);
	assert_int_equal(len, 32);
	assert_int_equal(fdt64_to_cpu(reg[0]), ARM64_GIC_DIST_BASE);
	assert_int_equal(fdt64_to_cpu(reg[1]), ARM64_GIC_DIST_SIZE);
	assert_int_equal(fdt64_to_cpu(reg[2]), ARM64_GIC_REDIST_BASE);
	assert_int_equal(fdt64_to_cpu(reg[3]), 2 * ARM64_GIC_REDIST_STRIDE);
	assert_int_equal(fdt_node_offset_by_compatible(blob, -1, "arm,cortex-a15-gic"),
			 -FDT_ERR_NOTFOUND);
}

static void test_gic_v2_and_timer_mask(void **state)
{
	struct arm64_fdt_config c;
	const fdt64_t *reg;
	const fdt32_t *irqs;
	int gic, timer, len;

	make_config(&c, 2, 2);
	build(&c);
	gic = only_compatible("arm,cortex-a15-gic");
	reg = prop(gic, "reg", &len);
	assert_int_equal(len, 32);
	assert_int_equal(fdt64_to_cpu(reg[0]), ARM64_GIC_DIST_BASE);
	assert_int_equal(fdt64_to_cpu(reg[2]), ARM64_GIC_CPU_BASE);
	assert_int_equal(fdt64_to_cpu(reg[3]), ARM64_GIC_CPU_SIZE);
	/* GICv2 PPIs name their CPUs: mask 0b11 in bits 8-15. */
	timer = only_compatible("arm,armv8-timer");
	irqs = prop(timer, "interrupts", &len);
	assert_int_equal(len, 48);
	for (int i = 0; i < 4; i++)
		assert_int_equal(fdt32_to_cpu(irqs[3 * i + 2]), 0x304);

	/* More CPUs than GICv2 can address is refused. */
	make_config(&c, 2, 2);
	c.ncpus = 9;
	assert_int_equal(arm64_fdt_build(blob, sizeof(blob), &c), -EINVAL);
}

static void test_timer(void **state)
{
	static const uint32_t want[4] = { 13, 14, 11, 10 };
	struct arm64_fdt_config c;
	const fdt32_t *irqs;
	int timer, len;

	make_config(&c, 2, 3);
	build(&c);
	timer = only_compatible("arm,armv8-timer");
	irqs = prop(timer, "interrupts", &len);
	/* Secure, non-secure physical, virtual, hypervisor: PPIs, level-high. */
	assert_int_equal(len, 48);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(fdt32_to_cpu(irqs[3 * i]), ARM64_FDT_IRQ_PPI);
		assert_int_equal(fdt32_to_cpu(irqs[3 * i + 1]), want[i]);
		assert_int_equal(fdt32_to_cpu(irqs[3 * i + 2]), ARM64_FDT_IRQ_LEVEL_HIGH);
	}
}

static void test_uart(void **state)
{
	struct arm64_fdt_config c;
	int uart;

	make_config(&c, 1, 3);
	build(&c);
	uart = only_compatible("ns16550a");
	assert_string_equal(fdt_get_name(blob, uart, NULL), "serial@9000000");
	assert_reg(uart, ARM64_UART_BASE, ARM64_UART_SIZE);
	assert_irq(uart, ARM64_FDT_IRQ_SPI, ARM64_SPI_UART, ARM64_FDT_IRQ_LEVEL_HIGH);
	assert_int_equal(u32prop(uart, "clock-frequency"), ARM64_UART_CLOCK);
	assert_int_equal(u32prop(uart, "reg-shift"), 0);
	assert_int_equal(u32prop(uart, "reg-io-width"), 1);
}

static void test_rtc(void **state)
{
	struct arm64_fdt_config c;
	int rtc, clk;

	make_config(&c, 1, 3);
	build(&c);
	rtc = only_compatible("arm,pl031");
	assert_int_equal(fdt_node_check_compatible(blob, rtc, "arm,primecell"), 0);
	assert_reg(rtc, ARM64_RTC_BASE, ARM64_RTC_SIZE);
	assert_irq(rtc, ARM64_FDT_IRQ_SPI, ARM64_SPI_RTC, ARM64_FDT_IRQ_LEVEL_HIGH);
	/* The AMBA bus wants a clock named apb_pclk. */
	assert_int_equal(fdt_stringlist_search(blob, rtc, "clock-names", "apb_pclk"), 0);
	clk = fdt_node_offset_by_phandle(blob, u32prop(rtc, "clocks"));
	assert_true(clk >= 0);
	assert_int_equal(fdt_node_check_compatible(blob, clk, "fixed-clock"), 0);
	assert_int_equal(u32prop(clk, "#clock-cells"), 0);
	assert_true(u32prop(clk, "clock-frequency") > 0);

	/* rtc_size 0 leaves it out. */
	c.rtc_size = 0;
	build(&c);
	assert_int_equal(fdt_node_offset_by_compatible(blob, -1, "arm,pl031"), -FDT_ERR_NOTFOUND);
}

/* The power button: a PL061 and a gpio-keys KEY_POWER on its pin, as the
 * kernel's gpio-keys and pl061 bindings describe them. */
static void test_power_button(void **state)
{
	struct arm64_fdt_config c;
	const fdt32_t *gpios;
	int gpio, keys, key, len;

	make_config(&c, 1, 3);
	build(&c);
	gpio = only_compatible("arm,pl061");
	assert_int_equal(fdt_node_check_compatible(blob, gpio, "arm,primecell"), 0);
	assert_reg(gpio, ARM64_GPIO_BASE, ARM64_GPIO_SIZE);
	assert_irq(gpio, ARM64_FDT_IRQ_SPI, ARM64_SPI_GPIO, ARM64_FDT_IRQ_LEVEL_HIGH);
	assert_non_null(prop(gpio, "gpio-controller", &len));
	assert_int_equal(u32prop(gpio, "#gpio-cells"), 2);
	assert_int_equal(fdt_stringlist_search(blob, gpio, "clock-names", "apb_pclk"), 0);
	assert_true(fdt_node_offset_by_phandle(blob, u32prop(gpio, "clocks")) >= 0);
	keys = only_compatible("gpio-keys");
	key = fdt_first_subnode(blob, keys);
	assert_true(key >= 0);
	assert_int_equal(u32prop(key, "linux,code"), 116);	/* KEY_POWER */
	gpios = prop(key, "gpios", &len);
	assert_int_equal(len, 12);
	assert_int_equal(fdt_node_offset_by_phandle(blob, fdt32_to_cpu(gpios[0])), gpio);
	assert_int_equal(fdt32_to_cpu(gpios[1]), ARM64_GPIO_POWER_PIN);
	assert_int_equal(fdt32_to_cpu(gpios[2]), 0);		/* active high */

	/* gpio_size 0 leaves both out; the RTC keeps its clock. */
	c.gpio_size = 0;
	build(&c);
	assert_int_equal(fdt_node_offset_by_compatible(blob, -1, "arm,pl061"), -FDT_ERR_NOTFOUND);
	assert_int_equal(fdt_node_offset_by_compatible(blob, -1, "gpio-keys"), -FDT_ERR_NOTFOUND);
	assert_true(fdt_node_offset_by_compatible(blob, -1, "fixed-clock") >= 0);
	c.rtc_size = 0;
	build(&c);
	assert_int_equal(fdt_node_offset_by_compatible(blob, -1, "fixed-clock"), -FDT_ERR_NOTFOUND);
}

static void test_chosen(void **state)
{
	struct arm64_fdt_config c;
	const char *stdout_path;
	int chosen, len;

	make_config(&c, 1, 3);
	build(&c);
	chosen = node("/chosen");
	assert_str(chosen, "bootargs", c.bootargs);
	assert_int_equal(u64prop(chosen, "linux,initrd-start"), 0x8f000000);
	assert_int_equal(u64prop(chosen, "linux,initrd-end"), 0x8f123456);
	/* stdout-path names the UART (earlycon without arguments uses it). */
	stdout_path = prop(chosen, "stdout-path", &len);
	assert_int_equal(node(stdout_path), only_compatible("ns16550a"));

	/* No initrd, no command line: neither property. */
	c.initrd_start = c.initrd_end = 0;
	c.bootargs = NULL;
	build(&c);
	chosen = node("/chosen");
	assert_null(fdt_getprop(blob, chosen, "linux,initrd-start", &len));
	assert_null(fdt_getprop(blob, chosen, "linux,initrd-end", &len));
	assert_null(fdt_getprop(blob, chosen, "bootargs", &len));
}

static void test_limits(void **state)
{
	struct arm64_fdt_config c;
	static char longargs[4096];

	make_config(&c, 1, 3);
	assert_true(arm64_fdt_build(blob, 512, &c) < 0);	/* too small */
	c.gic_version = 4;
	assert_int_equal(arm64_fdt_build(blob, sizeof(blob), &c), -EINVAL);
	make_config(&c, 1, 3);
	c.ncpus = 0;
	assert_int_equal(arm64_fdt_build(blob, sizeof(blob), &c), -EINVAL);
	/* A long command line fits. */
	make_config(&c, 8, 3);
	memset(longargs, 'x', sizeof(longargs) - 1);
	c.bootargs = longargs;
	build(&c);
	assert_str(node("/chosen"), "bootargs", longargs);
}

static void test_virtio_mmio_nodes(void **state)
{
	const struct arm64_fdt_virtio devs[2] = {
		{ ARM64_VIRTIO_MMIO_BASE, ARM64_VIRTIO_MMIO_SIZE, ARM64_SPI_VIRTIO_FIRST },
		{ ARM64_VIRTIO_MMIO_BASE + ARM64_VIRTIO_MMIO_SIZE, ARM64_VIRTIO_MMIO_SIZE,
		  ARM64_SPI_VIRTIO_FIRST + 1 },
	};
	struct arm64_fdt_config c;
	int dev, len;

	make_config(&c, 1, 3);
	build(&c);
	assert_int_equal(fdt_node_offset_by_compatible(blob, -1, "virtio,mmio"), -FDT_ERR_NOTFOUND);

	c.virtio = devs;
	c.nvirtio = 2;
	build(&c);
	dev = node("/virtio_mmio@a000000");
	assert_int_equal(fdt_node_check_compatible(blob, dev, "virtio,mmio"), 0);
	assert_reg(dev, ARM64_VIRTIO_MMIO_BASE, ARM64_VIRTIO_MMIO_SIZE);
	assert_irq(dev, ARM64_FDT_IRQ_SPI, ARM64_SPI_VIRTIO_FIRST, ARM64_FDT_IRQ_LEVEL_HIGH);
	assert_non_null(fdt_getprop(blob, dev, "dma-coherent", &len));
	dev = node("/virtio_mmio@a000200");
	assert_reg(dev, ARM64_VIRTIO_MMIO_BASE + ARM64_VIRTIO_MMIO_SIZE, ARM64_VIRTIO_MMIO_SIZE);
	assert_irq(dev, ARM64_FDT_IRQ_SPI, ARM64_SPI_VIRTIO_FIRST + 1, ARM64_FDT_IRQ_LEVEL_HIGH);
	/* The rest of the tree is intact. */
	node("/chosen");
	only_compatible("ns16550a");

	c.virtio = NULL;
	assert_int_equal(arm64_fdt_build(blob, sizeof(blob), &c), -EINVAL);
}

/* virtio_transport "pci": an ITS under the GIC, an ECAM bridge whose MSIs
 * go to it, no virtio-mmio node, and probe-only (the BARs stay put). */
static void test_pci(void **state)
{
	struct arm64_fdt_config c;
	const fdt32_t *p;
	int gic, its, pci, len;

	make_config(&c, 2, 3);
	c.pci = true;
	c.its_base = ARM64_GIC_ITS_BASE;
	c.its_size = ARM64_GIC_ITS_SIZE;
	c.pci_ecam_base = ARM64_PCI_ECAM_BASE;
	c.pci_ecam_size = ARM64_PCI_ECAM_SIZE;
	c.pci_mmio_base = ARM64_PCI_MMIO_BASE;
	c.pci_mmio_size = ARM64_PCI_MMIO_SIZE;
	build(&c);

	gic = only_compatible("arm,gic-v3");
	its = only_compatible("arm,gic-v3-its");
	assert_int_equal(fdt_parent_offset(blob, its), gic);
	assert_reg(its, ARM64_GIC_ITS_BASE, ARM64_GIC_ITS_SIZE);
	assert_non_null(prop(its, "msi-controller", &len));
	assert_int_equal(u32prop(its, "#msi-cells"), 1);
	assert_int_equal(fdt_node_offset_by_phandle(blob, ARM64_FDT_PHANDLE_ITS), its);

	pci = only_compatible("pci-host-ecam-generic");
	assert_int_equal(fdt_parent_offset(blob, pci), 0);
	assert_str(pci, "device_type", "pci");
	assert_reg(pci, ARM64_PCI_ECAM_BASE, ARM64_PCI_ECAM_SIZE);
	assert_int_equal(u32prop(pci, "#address-cells"), 3);
	assert_int_equal(u32prop(pci, "#size-cells"), 2);
	/* msi-map: requester ID n is device ID n at the ITS, for all 64 Ki. */
	p = prop(pci, "msi-map", &len);
	assert_int_equal(len, 16);
	assert_int_equal(fdt32_to_cpu(p[0]), 0);
	assert_int_equal(fdt32_to_cpu(p[1]), ARM64_FDT_PHANDLE_ITS);
	assert_int_equal(fdt32_to_cpu(p[2]), 0);
	assert_int_equal(fdt32_to_cpu(p[3]), 0x10000);
	p = prop(pci, "bus-range", &len);
	assert_int_equal(len, 8);
	assert_int_equal(fdt32_to_cpu(p[0]), 0);
	assert_int_equal(fdt32_to_cpu(p[1]), 0);
	/* One 64-bit memory window, PCI address = CPU address. */
	p = prop(pci, "ranges", &len);
	assert_int_equal(len, 28);
	assert_int_equal(fdt32_to_cpu(p[0]), 0x03000000);
	assert_int_equal((uint64_t)fdt32_to_cpu(p[1]) << 32 | fdt32_to_cpu(p[2]),
			 ARM64_PCI_MMIO_BASE);
	assert_int_equal((uint64_t)fdt32_to_cpu(p[3]) << 32 | fdt32_to_cpu(p[4]),
			 ARM64_PCI_MMIO_BASE);
	assert_int_equal((uint64_t)fdt32_to_cpu(p[5]) << 32 | fdt32_to_cpu(p[6]),
			 ARM64_PCI_MMIO_SIZE);
	assert_non_null(prop(pci, "dma-coherent", &len));
	assert_int_equal(u32prop(node("/chosen"), "linux,pci-probe-only"), 1);
	assert_int_equal(fdt_node_offset_by_compatible(blob, -1, "virtio,mmio"),
			 -FDT_ERR_NOTFOUND);
	/* The windows do not overlap the GIC, each other or RAM. */
	assert_true(ARM64_GIC_ITS_BASE >= ARM64_GIC_DIST_BASE + ARM64_GIC_DIST_SIZE);
	assert_true(ARM64_GIC_ITS_BASE + ARM64_GIC_ITS_SIZE <= ARM64_UART_BASE);
	assert_true(ARM64_PCI_ECAM_BASE >= ARM64_GIC_REDIST_BASE + 64 * ARM64_GIC_REDIST_STRIDE);
	assert_true(ARM64_PCI_ECAM_BASE + ARM64_PCI_ECAM_SIZE <= ARM64_PCI_MMIO_BASE);
	assert_true(ARM64_PCI_MMIO_BASE + ARM64_PCI_MMIO_SIZE <= ARM64_RAM_BASE);

	/* Without PCI: neither node, nor probe-only. */
	c.pci = false;
	build(&c);
	assert_int_equal(fdt_node_offset_by_compatible(blob, -1, "arm,gic-v3-its"),
			 -FDT_ERR_NOTFOUND);
	assert_int_equal(fdt_node_offset_by_compatible(blob, -1, "pci-host-ecam-generic"),
			 -FDT_ERR_NOTFOUND);
	assert_null(fdt_getprop(blob, node("/chosen"), "linux,pci-probe-only", &len));

	/* PCI needs a GICv3 (the ITS), and takes no virtio-mmio nodes. */
	c.pci = true;
	c.gic_version = 2;
	assert_int_equal(arm64_fdt_build(blob, sizeof(blob), &c), -EINVAL);
	c.gic_version = 3;
	c.its_size = 0;
	assert_int_equal(arm64_fdt_build(blob, sizeof(blob), &c), -EINVAL);
	(void)state;
}

/* ---- Image header and layout ---- */

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static void make_header(uint8_t *h, uint64_t text_offset, uint64_t image_size, uint64_t flags)
{
	memset(h, 0, ARM64_IMAGE_HDR_SIZE);
	put64(h + 8, text_offset);
	put64(h + 16, image_size);
	put64(h + 24, flags);
	put64(h + 56, ARM64_IMAGE_MAGIC);
}

static void test_image_header(void **state)
{
	uint8_t h[ARM64_IMAGE_HDR_SIZE];
	struct arm64_image k;
	const char *why = NULL;

	/* Debian 12's arm64 kernel: text_offset 0, ~32 MiB, LE, 4K, anywhere. */
	make_header(h, 0, 0x2010000, 0xa);
	assert_int_equal(arm64_image_parse(h, 32956352, &k, &why), 0);
	assert_int_equal(k.text_offset, 0);
	assert_int_equal(k.image_size, 0x2010000);

	make_header(h, 0x80000, 0x1000000, 0x2);
	assert_int_equal(arm64_image_parse(h, 0x800000, &k, &why), 0);
	assert_int_equal(k.text_offset, 0x80000);

	assert_int_equal(arm64_image_parse(h, 63, &k, &why), -EINVAL);	/* short */
	make_header(h, 0, 0x1000000, 0);
	h[56] = 'X';
	assert_int_equal(arm64_image_parse(h, 4096, &k, &why), -EINVAL);
	assert_non_null(strstr(why, "magic"));
	make_header(h, 0, 0x1000000, 1);				/* big-endian */
	assert_int_equal(arm64_image_parse(h, 4096, &k, &why), -EINVAL);
	make_header(h, 0x80000, 0, 0);					/* pre-3.17 */
	assert_int_equal(arm64_image_parse(h, 4096, &k, &why), -EINVAL);
	make_header(h, 0, 0x1000, 0);				/* file > image_size */
	assert_int_equal(arm64_image_parse(h, 0x2000, &k, &why), -EINVAL);
}

static void test_layout(void **state)
{
	struct arm64_image k = { .text_offset = 0, .image_size = 0x2010000 };
	struct arm64_boot_layout at;
	const char *why = NULL;
	uint64_t end = ARM64_RAM_BASE + 256 * MiB;

	assert_int_equal(arm64_boot_layout(ARM64_RAM_BASE, 256 * MiB, &k, 5 * MiB + 3,
					   &at, &why), 0);
	assert_int_equal(at.kernel, ARM64_RAM_BASE);
	/* Tree: 2 MiB-aligned block at the top of RAM, within RAM. */
	assert_int_equal(at.fdt % ARM64_FDT_ALIGN, 0);
	assert_true(at.fdt + ARM64_FDT_MAX <= end);
	assert_int_equal(at.fdt, end - 2 * MiB);
	/* Initrd: page aligned, right below the tree, above the kernel. */
	assert_int_equal(at.initrd % 4096, 0);
	assert_true(at.initrd + 5 * MiB + 3 <= at.fdt);
	assert_true(at.fdt - at.initrd < 5 * MiB + 3 + 4096);
	assert_true(at.initrd >= at.kernel + k.image_size);

	k.text_offset = 0x80000;
	assert_int_equal(arm64_boot_layout(ARM64_RAM_BASE, 256 * MiB, &k, 0, &at, &why), 0);
	assert_int_equal(at.kernel, ARM64_RAM_BASE + 0x80000);
	assert_int_equal(at.initrd, 0);

	/* Too small for kernel + tree, or kernel + tree + initrd. */
	assert_int_equal(arm64_boot_layout(ARM64_RAM_BASE, 32 * MiB, &k, 0, &at, &why), -ENOSPC);
	assert_int_equal(arm64_boot_layout(ARM64_RAM_BASE, 64 * MiB, &k, 40 * MiB, &at, &why),
			 -ENOSPC);
	assert_non_null(strstr(why, "initrd"));
	assert_int_equal(arm64_boot_layout(ARM64_RAM_BASE, 64 * MiB, &k, UINT64_MAX, &at, &why),
			 -ENOSPC);

	/* Large RAM: initrd and tree stay within 32 GiB of the 1 GiB-aligned
	 * window around the kernel. */
	assert_int_equal(arm64_boot_layout(ARM64_RAM_BASE, 64ULL << 30, &k, MiB, &at, &why), 0);
	assert_true(at.fdt + ARM64_FDT_MAX <= (32ULL << 30) + (2ULL << 30));
}

/* The tree vmm builds for 2 vCPUs on GICv3, for docs/aarch64.md. */
static void test_dump(void **state)
{
	const char *path = getenv("VMM_DUMP_DTB");
	const struct arm64_fdt_virtio devs[2] = {	/* a disk and the entropy device */
		{ ARM64_VIRTIO_MMIO_BASE, ARM64_VIRTIO_MMIO_SIZE, ARM64_SPI_VIRTIO_FIRST },
		{ ARM64_VIRTIO_MMIO_BASE + ARM64_VIRTIO_MMIO_SIZE, ARM64_VIRTIO_MMIO_SIZE,
		  ARM64_SPI_VIRTIO_FIRST + 1 },
	};
	struct arm64_fdt_config c;
	FILE *f;

	if (!path || !*path)
		skip();
	make_config(&c, 2, 3);
	c.virtio = devs;
	c.nvirtio = 2;
	c.bootargs = "console=ttyS0 panic=-1 rdinit=/init";
	build(&c);
	f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(blob, fdt_totalsize(blob), 1, f), 1);
	assert_int_equal(fclose(f), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_root_and_memory),
		cmocka_unit_test(test_cpus),
		cmocka_unit_test(test_psci),
		cmocka_unit_test(test_gic_v3),
		cmocka_unit_test(test_gic_v2_and_timer_mask),
		cmocka_unit_test(test_timer),
		cmocka_unit_test(test_uart),
		cmocka_unit_test(test_rtc),
		cmocka_unit_test(test_chosen),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_virtio_mmio_nodes),
		cmocka_unit_test(test_pci),
		cmocka_unit_test(test_power_button),
		cmocka_unit_test(test_image_header),
		cmocka_unit_test(test_layout),
		cmocka_unit_test(test_dump),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
