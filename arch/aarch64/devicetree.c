/* The arm64 guest's device tree: memory, CPUs (PSCI), GIC (with an ITS for
 * PCI), architected timer, 16550 UART, PL031 RTC, PL061 GPIO with a
 * gpio-keys power button, virtio-mmio devices or a PCI host bridge, /chosen. Written front to back
 * with libfdt's sequential-write API, so the tree reads in the order built.
 * Nodes and properties follow the kernel's bindings
 * (Documentation/devicetree/bindings/) and what QEMU's virt machine emits. */
#include "devicetree.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <libfdt.h>

#include "layout.h"

#define TRY(x) do { int r_ = (x); if (r_ < 0) return r_; } while (0)

/* Root: #address-cells = #size-cells = 2, so every "reg" is <hi lo hi lo>. */
static int prop_reg(void *fdt, uint64_t base, uint64_t size)
{
	fdt64_t reg[2] = { cpu_to_fdt64(base), cpu_to_fdt64(size) };

	return fdt_property(fdt, "reg", reg, sizeof(reg));
}

static int prop_irq(void *fdt, uint32_t type, uint32_t num, uint32_t flags)
{
	fdt32_t irq[3] = { cpu_to_fdt32(type), cpu_to_fdt32(num), cpu_to_fdt32(flags) };

	return fdt_property(fdt, "interrupts", irq, sizeof(irq));
}

/* Opens "name@hexaddr". */
static int begin_node_at(void *fdt, const char *name, uint64_t addr)
{
	char buf[64];

	snprintf(buf, sizeof(buf), "%s@%llx", name, (unsigned long long)addr);
	return fdt_begin_node(fdt, buf);
}

static int add_memory(void *fdt, const struct arm64_fdt_config *c)
{
	TRY(begin_node_at(fdt, "memory", c->ram_base));
	TRY(fdt_property_string(fdt, "device_type", "memory"));
	TRY(prop_reg(fdt, c->ram_base, c->ram_size));
	return fdt_end_node(fdt);
}

/* Secondary CPUs start powered off; the kernel brings them up with PSCI
 * CPU_ON, which KVM handles itself. The kernel numbers CPUs in tree order. */
static int add_cpus(void *fdt, const struct arm64_fdt_config *c)
{
	TRY(fdt_begin_node(fdt, "cpus"));
	TRY(fdt_property_u32(fdt, "#address-cells", 2));
	TRY(fdt_property_u32(fdt, "#size-cells", 0));
	for (unsigned i = 0; i < c->ncpus; i++) {
		uint64_t hwid = c->mpidr[i] & 0xff00ffffffULL;	/* affinity fields */

		TRY(begin_node_at(fdt, "cpu", hwid));
		TRY(fdt_property_string(fdt, "device_type", "cpu"));
		TRY(fdt_property_string(fdt, "compatible", "arm,arm-v8"));
		TRY(fdt_property_string(fdt, "enable-method", "psci"));
		TRY(fdt_property_u64(fdt, "reg", hwid));
		TRY(fdt_end_node(fdt));
	}
	return fdt_end_node(fdt);
}

/* KVM implements PSCI 1.x (0.2 at least, with the PSCI_0_2 vCPU feature) and
 * takes calls through HVC. 0.2 fixed the function IDs, so no cpu_on etc. */
static int add_psci(void *fdt)
{
	static const char compat[] = "arm,psci-1.0\0arm,psci-0.2";

	TRY(fdt_begin_node(fdt, "psci"));
	TRY(fdt_property(fdt, "compatible", compat, sizeof(compat)));
	TRY(fdt_property_string(fdt, "method", "hvc"));
	return fdt_end_node(fdt);
}

static int add_gic(void *fdt, const struct arm64_fdt_config *c)
{
	fdt64_t reg[4] = { cpu_to_fdt64(c->gic_dist_base), cpu_to_fdt64(c->gic_dist_size) };

	TRY(begin_node_at(fdt, "intc", c->gic_dist_base));
	if (c->gic_version == 3) {
		reg[2] = cpu_to_fdt64(c->gic_redist_base);
		reg[3] = cpu_to_fdt64(c->gic_redist_size);
		TRY(fdt_property_string(fdt, "compatible", "arm,gic-v3"));
	} else {
		reg[2] = cpu_to_fdt64(c->gic_cpu_base);
		reg[3] = cpu_to_fdt64(c->gic_cpu_size);
		TRY(fdt_property_string(fdt, "compatible", "arm,cortex-a15-gic"));
	}
	TRY(fdt_property(fdt, "reg", reg, sizeof(reg)));
	if (c->gic_version == 3)
		TRY(fdt_property_u32(fdt, "#redistributor-regions", 1));
	TRY(fdt_property(fdt, "interrupt-controller", NULL, 0));
	TRY(fdt_property_u32(fdt, "#interrupt-cells", 3));
	/* Children (the ITS) use the root's address size. */
	TRY(fdt_property_u32(fdt, "#address-cells", 2));
	TRY(fdt_property_u32(fdt, "#size-cells", 2));
	TRY(fdt_property(fdt, "ranges", NULL, 0));
	TRY(fdt_property_u32(fdt, "phandle", ARM64_FDT_PHANDLE_GIC));
	if (c->pci) {
		/* arm,gic-v3-its binding: one cell, the device ID (PCI's
		 * requester ID, as the bridge's msi-map maps it). */
		TRY(begin_node_at(fdt, "msi-controller", c->its_base));
		TRY(fdt_property_string(fdt, "compatible", "arm,gic-v3-its"));
		TRY(prop_reg(fdt, c->its_base, c->its_size));
		TRY(fdt_property(fdt, "msi-controller", NULL, 0));
		TRY(fdt_property_u32(fdt, "#msi-cells", 1));
		TRY(fdt_property_u32(fdt, "phandle", ARM64_FDT_PHANDLE_ITS));
		TRY(fdt_end_node(fdt));
	}
	return fdt_end_node(fdt);
}

/* The generic ECAM host bridge binding (pci-host-ecam-generic.yaml): bus
 * 0 only, one 64-bit memory window mapped 1:1, MSIs to the ITS (msi-map,
 * as QEMU's virt machine: msi-parent would need the device ID as a cell
 * of its own, which a bridge cannot give per function); no legacy
 * interrupts (the functions have no interrupt pin) and no I/O space. */
static int add_pci(void *fdt, const struct arm64_fdt_config *c)
{
	fdt32_t bus_range[2] = { cpu_to_fdt32(0), cpu_to_fdt32(0) };
	fdt32_t msi_map[4] = {
		cpu_to_fdt32(0), cpu_to_fdt32(ARM64_FDT_PHANDLE_ITS), cpu_to_fdt32(0),
		cpu_to_fdt32(0x10000),
	};
	/* <pci.hi pci.mid pci.lo  cpu.hi cpu.lo  size.hi size.lo>: ss = 11
	 * (64-bit memory space), not prefetchable. */
	fdt32_t ranges[7] = {
		cpu_to_fdt32(0x03000000),
		cpu_to_fdt32((uint32_t)(c->pci_mmio_base >> 32)),
		cpu_to_fdt32((uint32_t)c->pci_mmio_base),
		cpu_to_fdt32((uint32_t)(c->pci_mmio_base >> 32)),
		cpu_to_fdt32((uint32_t)c->pci_mmio_base),
		cpu_to_fdt32((uint32_t)(c->pci_mmio_size >> 32)),
		cpu_to_fdt32((uint32_t)c->pci_mmio_size),
	};

	TRY(begin_node_at(fdt, "pcie", c->pci_ecam_base));
	TRY(fdt_property_string(fdt, "compatible", "pci-host-ecam-generic"));
	TRY(fdt_property_string(fdt, "device_type", "pci"));
	TRY(prop_reg(fdt, c->pci_ecam_base, c->pci_ecam_size));
	TRY(fdt_property(fdt, "bus-range", bus_range, sizeof(bus_range)));
	TRY(fdt_property_u32(fdt, "#address-cells", 3));
	TRY(fdt_property_u32(fdt, "#size-cells", 2));
	TRY(fdt_property(fdt, "ranges", ranges, sizeof(ranges)));
	/* Every requester ID is its own device ID at the ITS (pci-msi.txt:
	 * rid-base, msi-controller, msi-base, length). */
	TRY(fdt_property(fdt, "msi-map", msi_map, sizeof(msi_map)));
	/* Virtqueues are in guest RAM, which the devices access coherently. */
	TRY(fdt_property(fdt, "dma-coherent", NULL, 0));
	return fdt_end_node(fdt);
}

/* Secure physical, non-secure physical, virtual and hypervisor timer PPIs.
 * On GICv2 the flags carry the mask of CPUs the PPI goes to. */
static int add_timer(void *fdt, const struct arm64_fdt_config *c)
{
	static const uint32_t ppis[4] = {
		ARM64_PPI_TIMER_SEC, ARM64_PPI_TIMER_PHYS,
		ARM64_PPI_TIMER_VIRT, ARM64_PPI_TIMER_HYP,
	};
	static const char compat[] = "arm,armv8-timer\0arm,armv7-timer";
	uint32_t flags = ARM64_FDT_IRQ_LEVEL_HIGH;
	fdt32_t irqs[12];

	if (c->gic_version == 2)
		flags |= ((1u << c->ncpus) - 1) << 8;
	for (unsigned i = 0; i < 4; i++) {
		irqs[3 * i] = cpu_to_fdt32(ARM64_FDT_IRQ_PPI);
		irqs[3 * i + 1] = cpu_to_fdt32(ppis[i]);
		irqs[3 * i + 2] = cpu_to_fdt32(flags);
	}
	TRY(fdt_begin_node(fdt, "timer"));
	TRY(fdt_property(fdt, "compatible", compat, sizeof(compat)));
	TRY(fdt_property(fdt, "interrupts", irqs, sizeof(irqs)));
	TRY(fdt_property(fdt, "always-on", NULL, 0));
	return fdt_end_node(fdt);
}

/* The 8250 driver's binding: byte-wide registers one byte apart. */
static int add_uart(void *fdt, const struct arm64_fdt_config *c)
{
	TRY(begin_node_at(fdt, "serial", c->uart_base));
	TRY(fdt_property_string(fdt, "compatible", "ns16550a"));
	TRY(prop_reg(fdt, c->uart_base, c->uart_size));
	TRY(prop_irq(fdt, ARM64_FDT_IRQ_SPI, c->uart_spi, ARM64_FDT_IRQ_LEVEL_HIGH));
	TRY(fdt_property_u32(fdt, "clock-frequency", c->uart_clock));
	TRY(fdt_property_u32(fdt, "reg-shift", 0));
	TRY(fdt_property_u32(fdt, "reg-io-width", 1));
	return fdt_end_node(fdt);
}

/* An AMBA PrimeCell: the bus driver enables the clock named apb_pclk before
 * it reads the cell's ID registers, so it needs one, if only a fixed one. */
/* The AMBA bus clock the PrimeCell drivers (PL031, PL061) ask for. */
static int add_apb_clock(void *fdt)
{
	TRY(fdt_begin_node(fdt, "apb-pclk"));
	TRY(fdt_property_string(fdt, "compatible", "fixed-clock"));
	TRY(fdt_property_u32(fdt, "#clock-cells", 0));
	TRY(fdt_property_u32(fdt, "clock-frequency", 24000000));
	TRY(fdt_property_string(fdt, "clock-output-names", "clk24mhz"));
	TRY(fdt_property_u32(fdt, "phandle", ARM64_FDT_PHANDLE_APB_CLK));
	return fdt_end_node(fdt);
}

static int add_rtc(void *fdt, const struct arm64_fdt_config *c)
{
	static const char compat[] = "arm,pl031\0arm,primecell";

	TRY(begin_node_at(fdt, "rtc", c->rtc_base));
	TRY(fdt_property(fdt, "compatible", compat, sizeof(compat)));
	TRY(prop_reg(fdt, c->rtc_base, c->rtc_size));
	TRY(prop_irq(fdt, ARM64_FDT_IRQ_SPI, c->rtc_spi, ARM64_FDT_IRQ_LEVEL_HIGH));
	TRY(fdt_property_u32(fdt, "clocks", ARM64_FDT_PHANDLE_APB_CLK));
	TRY(fdt_property_string(fdt, "clock-names", "apb_pclk"));
	return fdt_end_node(fdt);
}

/* The PL061 and, on its power pin, a gpio-keys power button (KEY_POWER):
 * what QEMU's virt machine gives its guests, so systemd-logind or acpid
 * in the guest turns a press into a clean poweroff. */
static int add_gpio(void *fdt, const struct arm64_fdt_config *c)
{
	static const char compat[] = "arm,pl061\0arm,primecell";
	fdt32_t gpios[3] = {
		cpu_to_fdt32(ARM64_FDT_PHANDLE_GPIO), cpu_to_fdt32(c->gpio_power_pin),
		cpu_to_fdt32(0),	/* active high */
	};

	TRY(begin_node_at(fdt, "pl061", c->gpio_base));
	TRY(fdt_property(fdt, "compatible", compat, sizeof(compat)));
	TRY(prop_reg(fdt, c->gpio_base, c->gpio_size));
	TRY(prop_irq(fdt, ARM64_FDT_IRQ_SPI, c->gpio_spi, ARM64_FDT_IRQ_LEVEL_HIGH));
	TRY(fdt_property(fdt, "gpio-controller", NULL, 0));
	TRY(fdt_property_u32(fdt, "#gpio-cells", 2));
	TRY(fdt_property_u32(fdt, "clocks", ARM64_FDT_PHANDLE_APB_CLK));
	TRY(fdt_property_string(fdt, "clock-names", "apb_pclk"));
	TRY(fdt_property_u32(fdt, "phandle", ARM64_FDT_PHANDLE_GPIO));
	TRY(fdt_end_node(fdt));

	TRY(fdt_begin_node(fdt, "gpio-keys"));
	TRY(fdt_property_string(fdt, "compatible", "gpio-keys"));
	TRY(fdt_begin_node(fdt, "poweroff"));
	TRY(fdt_property_string(fdt, "label", "GPIO Key Poweroff"));
	TRY(fdt_property_u32(fdt, "linux,code", ARM64_FDT_KEY_POWER));
	TRY(fdt_property(fdt, "gpios", gpios, sizeof(gpios)));
	TRY(fdt_end_node(fdt));
	return fdt_end_node(fdt);
}

int arm64_fdt_virtio_mmio_node(void *fdt, uint64_t base, uint64_t size, uint32_t spi)
{
	TRY(begin_node_at(fdt, "virtio_mmio", base));
	TRY(fdt_property_string(fdt, "compatible", "virtio,mmio"));
	TRY(prop_reg(fdt, base, size));
	TRY(prop_irq(fdt, ARM64_FDT_IRQ_SPI, spi, ARM64_FDT_IRQ_LEVEL_HIGH));
	/* Virtqueues are in guest RAM, which the device accesses coherently. */
	TRY(fdt_property(fdt, "dma-coherent", NULL, 0));
	return fdt_end_node(fdt);
}

static int add_chosen(void *fdt, const struct arm64_fdt_config *c)
{
	char path[64];

	TRY(fdt_begin_node(fdt, "chosen"));
	if (c->bootargs && c->bootargs[0])
		TRY(fdt_property_string(fdt, "bootargs", c->bootargs));
	/* Lets plain `earlycon` (no arguments) find the UART, and makes it the
	 * console when the command line names none. */
	snprintf(path, sizeof(path), "/serial@%llx", (unsigned long long)c->uart_base);
	TRY(fdt_property_string(fdt, "stdout-path", path));
	if (c->initrd_end > c->initrd_start) {
		TRY(fdt_property_u64(fdt, "linux,initrd-start", c->initrd_start));
		TRY(fdt_property_u64(fdt, "linux,initrd-end", c->initrd_end));
	}
	/* Linux keeps the BAR addresses vmm gave (the devices decode there)
	 * instead of assigning its own. */
	if (c->pci)
		TRY(fdt_property_u32(fdt, "linux,pci-probe-only", 1));
	return fdt_end_node(fdt);
}

int arm64_fdt_build(void *buf, size_t size, const struct arm64_fdt_config *c)
{
	if (c->ncpus == 0 || !c->mpidr || (c->gic_version != 2 && c->gic_version != 3) ||
	    (c->gic_version == 2 && c->ncpus > ARM64_GICV2_MAX_CPUS) ||
	    (c->nvirtio && !c->virtio) || size > INT32_MAX ||
	    (c->pci && (c->gic_version != 3 || c->nvirtio || !c->its_size ||
			!c->pci_ecam_size || !c->pci_mmio_size)))
		return -EINVAL;
	TRY(fdt_create(buf, (int)size));
	TRY(fdt_finish_reservemap(buf));
	TRY(fdt_begin_node(buf, ""));
	TRY(fdt_property_string(buf, "compatible", "linux,dummy-virt"));
	TRY(fdt_property_string(buf, "model", "vmm"));
	TRY(fdt_property_u32(buf, "#address-cells", 2));
	TRY(fdt_property_u32(buf, "#size-cells", 2));
	TRY(fdt_property_u32(buf, "interrupt-parent", ARM64_FDT_PHANDLE_GIC));
	TRY(add_memory(buf, c));
	TRY(add_cpus(buf, c));
	TRY(add_psci(buf));
	TRY(add_gic(buf, c));
	TRY(add_timer(buf, c));
	TRY(add_uart(buf, c));
	if (c->rtc_size || c->gpio_size)
		TRY(add_apb_clock(buf));
	if (c->rtc_size)
		TRY(add_rtc(buf, c));
	if (c->gpio_size)
		TRY(add_gpio(buf, c));
	for (unsigned i = 0; i < c->nvirtio; i++)
		TRY(arm64_fdt_virtio_mmio_node(buf, c->virtio[i].base, c->virtio[i].size,
					       c->virtio[i].spi));
	if (c->pci)
		TRY(add_pci(buf, c));
	TRY(add_chosen(buf, c));
	TRY(fdt_end_node(buf));
	return fdt_finish(buf);
}
