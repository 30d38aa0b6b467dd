/* The aarch64 machine: in-kernel GICv3 (GICv2 where the host has no v3),
 * the architected timer, a 16550A on MMIO, a PL031 RTC, virtio devices on
 * PCI (MSI-X through a GICv3 ITS) or virtio-mmio; the kernel entered
 * through the arm64 boot protocol (x0 = device tree, MMU off) and secondary
 * vCPUs started by the guest with PSCI CPU_ON, which KVM handles. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "arch.h"
#include "boot_timer.h"
#include "cmdline.h"
#include "devicetree.h"
#include "image.h"
#include "layout.h"
#include "log.h"
#include "safe_open.h"
#include "pl031.h"
#include "pci.h"
#include "pl061.h"
#include "serial.h"
#include "virtio/mmio.h"
#include "virtio/pci.h"
#include "vm.h"

void arch_mem_layout(uint64_t size, uint64_t *base, uint64_t *hole_start,
		     uint64_t *hole_end)
{
	(void)size;
	*base = ARM64_RAM_BASE;
	*hole_start = *hole_end = 0;
}

/* KVM_IRQ_LINE's encoding of a shared peripheral interrupt. */
static uint32_t spi_irq(uint32_t spi)
{
	return (uint32_t)KVM_ARM_IRQ_TYPE_SPI << KVM_ARM_IRQ_TYPE_SHIFT | (32 + spi);
}

static int gic_attr(int fd, uint32_t group, uint64_t attr, void *val, const char *what)
{
	struct kvm_device_attr a = {
		.group = group, .attr = attr, .addr = (uint64_t)(uintptr_t)val,
	};

	if (ioctl(fd, KVM_SET_DEVICE_ATTR, &a) < 0) {
		log_err("GICv%s: setting %s: %m", what[0] == '2' ? "2" : "3", what + 1);
		return -errno;
	}
	return 0;
}

static int choose_transport(struct vm *vm);

/* The GIC device and its addresses; KVM_DEV_ARM_VGIC_CTRL_INIT must wait
 * until every vCPU exists (gic_finish). */
static int gic_create(struct vm *vm)
{
	struct kvm_create_device dev = { .type = KVM_DEV_TYPE_ARM_VGIC_V3 };
	uint64_t dist = ARM64_GIC_DIST_BASE, redist = ARM64_GIC_REDIST_BASE;
	uint64_t cpu = ARM64_GIC_CPU_BASE;
	uint32_t nr_irqs = ARM64_GIC_NR_IRQS;
	int ret;

	vm->arch.gic_version = 3;
	if (ioctl(vm->vm_fd, KVM_CREATE_DEVICE, &dev) < 0) {
		log_info("no in-kernel GICv3 (%m); trying GICv2");
		dev = (struct kvm_create_device){ .type = KVM_DEV_TYPE_ARM_VGIC_V2 };
		if (ioctl(vm->vm_fd, KVM_CREATE_DEVICE, &dev) < 0) {
			log_err("KVM_CREATE_DEVICE: no in-kernel GICv3 or GICv2: %m");
			return -errno;
		}
		vm->arch.gic_version = 2;
		if (vm->nvcpus > ARM64_GICV2_MAX_CPUS) {
			log_err("this host's KVM offers only a GICv2, which serves at most "
				"%u vCPUs; lower [vm] vcpus", ARM64_GICV2_MAX_CPUS);
			close((int)dev.fd);
			return -EINVAL;
		}
	}
	vm->arch.gic_fd = (int)dev.fd;
	if (vm->arch.gic_version == 3) {
		ret = gic_attr(vm->arch.gic_fd, KVM_DEV_ARM_VGIC_GRP_ADDR,
			       KVM_VGIC_V3_ADDR_TYPE_DIST, &dist, "3distributor address");
		if (ret == 0)
			ret = gic_attr(vm->arch.gic_fd, KVM_DEV_ARM_VGIC_GRP_ADDR,
				       KVM_VGIC_V3_ADDR_TYPE_REDIST, &redist,
				       "3redistributor address");
	} else {
		ret = gic_attr(vm->arch.gic_fd, KVM_DEV_ARM_VGIC_GRP_ADDR,
			       KVM_VGIC_V2_ADDR_TYPE_DIST, &dist, "2distributor address");
		if (ret == 0)
			ret = gic_attr(vm->arch.gic_fd, KVM_DEV_ARM_VGIC_GRP_ADDR,
				       KVM_VGIC_V2_ADDR_TYPE_CPU, &cpu, "2CPU interface address");
	}
	if (ret == 0)
		ret = gic_attr(vm->arch.gic_fd, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, &nr_irqs,
			       vm->arch.gic_version == 3 ? "3number of IRQs" : "2number of IRQs");
	if (ret == 0)
		ret = choose_transport(vm);
	return ret;
}

int arm64_virtio_transport(enum virtio_transport want, unsigned gic, bool its,
			   bool *pci, const char **why)
{
	bool can = gic == 0 || (gic == 3 && its);

	*pci = false;
	*why = NULL;
	if (want == VIRTIO_TRANSPORT_MMIO) {
		*why = "[vm] virtio_transport = \"mmio\"";
		return 0;
	}
	if (!can) {
		*why = gic == 2 ? "this host's KVM gives a GICv2, which has no ITS for PCI's MSIs" :
				  "this host's KVM has no GICv3 ITS for PCI's MSIs";
		if (want == VIRTIO_TRANSPORT_PCI) {
			log_err("[vm] virtio_transport = \"pci\" cannot be: %s (use \"mmio\" "
				"or \"auto\")", *why);
			return -ENOTSUP;
		}
		return 0;
	}
	*pci = true;
	return 0;
}

/* [vm] virtio_transport on this VM: the ITS is made where PCI may be
 * wanted, and whether that worked decides (arm64_virtio_transport). */
static int choose_transport(struct vm *vm)
{
	enum virtio_transport want = vm->cfg->virtio_transport;
	struct kvm_create_device its = { .type = KVM_DEV_TYPE_ARM_VGIC_ITS };
	uint64_t base = ARM64_GIC_ITS_BASE;
	const char *why;
	bool pci;
	int ret;

	if (want != VIRTIO_TRANSPORT_MMIO && vm->arch.gic_version == 3) {
		if (ioctl(vm->vm_fd, KVM_CREATE_DEVICE, &its) == 0)
			vm->arch.its_fd = (int)its.fd;
		else
			log_info("KVM_CREATE_DEVICE for a GICv3 ITS: %m");
	}
	ret = arm64_virtio_transport(want, vm->arch.gic_version, vm->arch.its_fd >= 0, &pci,
				     &why);
	if (ret < 0)
		return ret;
	if (!pci) {
		log_info("virtio devices on virtio-mmio: %s", why);
		return 0;
	}
	ret = gic_attr(vm->arch.its_fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_ITS_ADDR_TYPE,
		       &base, "3ITS address");
	if (ret < 0)
		return ret;
	if (ioctl(vm->vm_fd, KVM_CHECK_EXTENSION, KVM_CAP_MSI_DEVID) <= 0) {
		log_err("KVM has a GICv3 ITS but no KVM_CAP_MSI_DEVID");
		return -ENOTSUP;
	}
	vm->arch.virtio_pci = true;
	vm->msi_devid = true;
	log_info("virtio devices on PCI: ECAM at 0x%llx, MSI-X through a GICv3 ITS at 0x%llx",
		 (unsigned long long)ARM64_PCI_ECAM_BASE, (unsigned long long)ARM64_GIC_ITS_BASE);
	return 0;
}

static int gic_finish(struct vm *vm)
{
	int ret = gic_attr(vm->arch.gic_fd, KVM_DEV_ARM_VGIC_GRP_CTRL,
			   KVM_DEV_ARM_VGIC_CTRL_INIT, NULL,
			   vm->arch.gic_version == 3 ? "3initialisation" : "2initialisation");

	if (ret == 0 && vm->arch.its_fd >= 0)
		ret = gic_attr(vm->arch.its_fd, KVM_DEV_ARM_VGIC_GRP_CTRL,
			       KVM_DEV_ARM_VGIC_CTRL_INIT, NULL, "3ITS initialisation");
	/* The devices' MSI eventfds (vm_msi_alloc, at attach) can be bound
	 * now, and their routes go back in place of KVM's defaults. */
	return ret < 0 ? ret : vm_irqfds_ready(vm);
}

/* MPIDR_EL1 as KVM resets it for vCPU `id` (arch/arm64/kvm/sys_regs.c,
 * reset_mpidr): Aff0 = id[3:0], Aff1 = id[11:4], Aff2 = id[19:12]. The
 * device tree is written before the vCPUs exist; arch_vcpu_init checks the
 * real value against it. */
uint64_t arm64_kvm_reset_mpidr(unsigned id)
{
	return (1ULL << 31) | (uint64_t)(id & 0xf) | (uint64_t)((id >> 4) & 0xff) << 8 |
	       (uint64_t)((id >> 12) & 0xff) << 16;
}

int arch_vm_init(struct vm *vm)
{
	struct kvm_vcpu_init init;

	vm->arch.gic_fd = -1;
	vm->arch.its_fd = -1;
	vm->irqfd_defer = true;		/* KVM_IRQFD: EAGAIN until gic_finish */
	if (vm->cfg->cpu_template != CPU_TEMPLATE_HOST) {
		log_err("[cpu] template = \"baseline\" is x86_64 only; use \"host\" on aarch64");
		return -EINVAL;
	}
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_ARM_PSCI_0_2) <= 0) {
		log_err("this kernel's KVM lacks PSCI 0.2 (KVM_CAP_ARM_PSCI_0_2), "
			"which starting and stopping vCPUs needs");
		return -ENOTSUP;
	}
	memset(&init, 0, sizeof(init));
	if (ioctl(vm->vm_fd, KVM_ARM_PREFERRED_TARGET, &init) < 0) {
		log_err("KVM_ARM_PREFERRED_TARGET: %m");
		return -errno;
	}
	vm->arch.vcpu_target = init.target;
	vm->arch.mpidr = calloc(vm->nvcpus, sizeof(*vm->arch.mpidr));
	if (!vm->arch.mpidr)
		return -ENOMEM;
	for (unsigned i = 0; i < vm->nvcpus; i++)
		vm->arch.mpidr[i] = arm64_kvm_reset_mpidr(i);
	return gic_create(vm);
}

void arch_vm_destroy(struct vm *vm)
{
	if (vm->arch.its_fd >= 0)
		close(vm->arch.its_fd);
	vm->arch.its_fd = -1;
	if (vm->arch.gic_fd >= 0)
		close(vm->arch.gic_fd);
	vm->arch.gic_fd = -1;
	if (vm->arch.pci)
		pthread_mutex_destroy(&vm->arch.pci->lock);
	free(vm->arch.pci);
	vm->arch.pci = NULL;
	free(vm->arch.mpidr);
	vm->arch.mpidr = NULL;
	pl031_free(vm->arch.rtc);
	vm->arch.rtc = NULL;
	pl061_free(vm->arch.gpio);
	vm->arch.gpio = NULL;
}

/* What the in-kernel GIC routes by itself: GSI n to SPI n (KVM's default
 * routing), kept when vm_msi_alloc replaces the table. */
unsigned arch_irq_routes(struct kvm_irq_routing_entry *e, unsigned max)
{
	unsigned n = 0;

	for (uint32_t spi = 0; spi < ARM64_GIC_NR_IRQS - 32 && n < max; spi++)
		e[n++] = (struct kvm_irq_routing_entry){
			.gsi = spi, .type = KVM_IRQ_ROUTING_IRQCHIP,
			.u.irqchip = { .irqchip = 0, .pin = spi },
		};
	return n;
}

/* ---- platform devices ---- */

static void serial_irq(void *ctx, int level)
{
	vm_set_irq(ctx, spi_irq(ARM64_SPI_UART), level);
}

static void gpio_irq(void *ctx, int level)
{
	vm_set_irq(ctx, spi_irq(ARM64_SPI_GPIO), level);
}

/* Slot n (arch_device_slots): a window at ARM64_VIRTIO_MMIO_BASE + n *
 * ARM64_VIRTIO_MMIO_SIZE and SPI ARM64_SPI_VIRTIO_FIRST + n, named in the
 * device tree, whose nodes are kept in slot order: the guest probes them in
 * that order, as it probes PCI devices in slot order on x86_64. */
int arm64_virtio_slot_add(struct arch_vm *a, unsigned n, const char *name)
{
	struct arm64_fdt_virtio *v = a->virtio, node = arm64_virtio_slot(n);
	unsigned at = a->nvirtio;

	if (n >= ARM64_VIRTIO_MMIO_SLOTS || at == ARM64_VIRTIO_MMIO_SLOTS) {
		log_err("%s: virtio-mmio slot %u: there are %u", name, n,
			ARM64_VIRTIO_MMIO_SLOTS);
		return -ENOSPC;
	}
	for (unsigned i = 0; i < a->nvirtio; i++) {
		if (v[i].base == node.base) {
			log_err("%s: virtio-mmio slot %u is taken", name, n);
			return -EBUSY;
		}
		if (v[i].base > node.base && at == a->nvirtio)
			at = i;
	}
	memmove(&v[at + 1], &v[at], (a->nvirtio - at) * sizeof(*v));
	v[at] = node;
	a->nvirtio++;
	return 0;
}

static int attach_mmio(struct vm *vm, struct virtio_dev *vd, unsigned n)
{
	struct arm64_fdt_virtio node = arm64_virtio_slot(n);
	int ret = arm64_virtio_slot_add(&vm->arch, n, vd->name);

	return ret < 0 ? ret : virtio_mmio_attach(&vm->host, node.base, spi_irq(node.spi), vd);
}

static int attach_pci(struct vm *vm, struct virtio_dev *vd, unsigned slot)
{
	return virtio_pci_attach(&vm->host, vm->arch.pci, slot, vd);
}

/* Bus 0 behind a "pci-host-ecam-generic" bridge: no host bridge function,
 * so slot n is 00:n.0 from 0 up (arch_device_slots). */
static int pci_devices_init(struct vm *vm)
{
	vm->arch.pci = calloc(1, sizeof(*vm->arch.pci));
	if (!vm->arch.pci)
		return -ENOMEM;
	pci_bus_init(vm->arch.pci, ARM64_PCI_MMIO_BASE, ARM64_PCI_MMIO_SIZE, false);
	if (bus_register(&vm->mmio, ARM64_PCI_ECAM_BASE, ARM64_PCI_ECAM_SIZE, pci_ecam_io,
			 vm->arch.pci, "pci-ecam") < 0) {
		log_err("registering the PCI ECAM window failed");
		return -EINVAL;
	}
	return vm_add_virtio_devices(vm, attach_pci);
}

int arch_devices_init(struct vm *vm)
{
	int ret = 0;

	vm->serial = vm_console_serial_new(vm, serial_irq);
	vm->arch.rtc = pl031_new();
	vm->arch.gpio = pl061_new(gpio_irq, vm);
	vm->boot_timer = boot_timer_new(vm_userspace_ready, vm);
	if (!vm->serial || !vm->arch.rtc || !vm->arch.gpio || !vm->boot_timer)
		return -ENOMEM;
	ret |= bus_register(&vm->mmio, ARM64_UART_BASE, ARM64_UART_SIZE, serial_io,
			    vm->serial, "uart");
	ret |= bus_register(&vm->mmio, ARM64_RTC_BASE, ARM64_RTC_SIZE, pl031_io,
			    vm->arch.rtc, "pl031");
	ret |= bus_register(&vm->mmio, ARM64_GPIO_BASE, ARM64_GPIO_SIZE, pl061_io,
			    vm->arch.gpio, "pl061");
	ret |= bus_register(&vm->mmio, ARM64_BOOT_TIMER_BASE, BOOT_TIMER_SIZE, boot_timer_io,
			    vm->boot_timer, "boot-timer");
	if (ret) {
		log_err("registering platform devices failed");
		return -EINVAL;
	}
	if (vm->arch.virtio_pci)
		return pci_devices_init(vm);
	return vm_add_virtio_devices(vm, attach_mmio);
}

/* A press of the power button (PL061 pin, gpio-keys KEY_POWER): systemd-
 * logind powers off, acpid runs its power action. A guest with neither
 * ignores it and is stopped after shutdown_timeout. */
const char *arch_guest_shutdown_method(void)
{
	return "power button";
}

int arch_request_guest_shutdown(struct vm *vm)
{
	pl061_press(vm->arch.gpio, ARM64_GPIO_POWER_PIN);
	return 0;
}

/* ---- kernel loading ---- */

/* Reads all of `path` into guest memory at `gpa` (checked for `len` bytes). */
static int read_into_guest(struct vm *vm, const char *path, const char *what,
			   uint64_t gpa, uint64_t len)
{
	uint8_t *dst = gm_ptr(&vm->mem, gpa, len);
	uint64_t done = 0;
	int fd, ret = 0;

	if (!dst)
		return -EFAULT;
	fd = safe_open(path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0) {
		log_err("%s %s: %m", what, path);
		return -errno;
	}
	while (done < len) {
		ssize_t r = pread(fd, dst + done, (size_t)(len - done), (off_t)done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			log_err("%s %s: read failed: %s", what, path,
				r < 0 ? strerror(errno) : "file shrank");
			ret = -EIO;
			break;
		}
		done += (uint64_t)r;
	}
	close(fd);
	return ret;
}

static int file_size(const char *path, const char *what, uint64_t *size)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		log_err("%s %s: %m", what, path);
		return -errno;
	}
	if (!S_ISREG(st.st_mode) || st.st_size == 0) {
		log_err("%s %s: not a non-empty regular file", what, path);
		return -EINVAL;
	}
	*size = (uint64_t)st.st_size;
	return 0;
}

static int read_header(const char *path, uint8_t *hdr)
{
	ssize_t r;
	int fd = safe_open(path, O_RDONLY | O_CLOEXEC, 0);

	if (fd < 0) {
		log_err("kernel %s: %m", path);
		return -errno;
	}
	r = pread(fd, hdr, ARM64_IMAGE_HDR_SIZE, 0);
	close(fd);
	if (r != ARM64_IMAGE_HDR_SIZE) {
		log_err("kernel %s: cannot read its header", path);
		return -EIO;
	}
	return 0;
}

static int write_fdt(struct vm *vm, uint64_t initrd, uint64_t initrd_len)
{
	/* boot.cmdline plus the guest's ip= from [[net]]. */
	char *cmdline = config_kernel_cmdline(vm->cfg);
	struct arm64_fdt_config c = {
		.ram_base = vm->mem.regions[0].gpa, .ram_size = vm->mem.total,
		.ncpus = vm->nvcpus, .mpidr = vm->arch.mpidr,
		.gic_version = vm->arch.gic_version,
		.gic_dist_base = ARM64_GIC_DIST_BASE, .gic_dist_size = ARM64_GIC_DIST_SIZE,
		.gic_redist_base = ARM64_GIC_REDIST_BASE,
		.gic_redist_size = ARM64_GIC_REDIST_STRIDE * vm->nvcpus,
		.gic_cpu_base = ARM64_GIC_CPU_BASE, .gic_cpu_size = ARM64_GIC_CPU_SIZE,
		.uart_base = ARM64_UART_BASE, .uart_size = ARM64_UART_SIZE,
		.uart_spi = ARM64_SPI_UART, .uart_clock = ARM64_UART_CLOCK,
		.rtc_base = ARM64_RTC_BASE, .rtc_size = ARM64_RTC_SIZE,
		.rtc_spi = ARM64_SPI_RTC,
		.gpio_base = ARM64_GPIO_BASE, .gpio_size = ARM64_GPIO_SIZE,
		.gpio_spi = ARM64_SPI_GPIO, .gpio_power_pin = ARM64_GPIO_POWER_PIN,
		.virtio = vm->arch.virtio, .nvirtio = vm->arch.nvirtio,
		.pci = vm->arch.virtio_pci,
		.its_base = ARM64_GIC_ITS_BASE, .its_size = ARM64_GIC_ITS_SIZE,
		.pci_ecam_base = ARM64_PCI_ECAM_BASE, .pci_ecam_size = ARM64_PCI_ECAM_SIZE,
		.pci_mmio_base = ARM64_PCI_MMIO_BASE, .pci_mmio_size = ARM64_PCI_MMIO_SIZE,
		.bootargs = cmdline,
		.initrd_start = initrd, .initrd_end = initrd + initrd_len,
	};
	void *buf = gm_ptr(&vm->mem, vm->arch.fdt, ARM64_FDT_MAX);
	int ret;

	if (!cmdline)
		return -ENOMEM;
	ret = buf ? arm64_fdt_build(buf, ARM64_FDT_MAX, &c) : -EFAULT;
	free(cmdline);
	if (ret == -EFAULT)
		return ret;
	if (ret < 0) {
		log_err("building the device tree failed (libfdt error %d; is the "
			"command line longer than the room for it?)", ret);
		return -EINVAL;
	}
	return 0;
}

int arch_load_kernel(struct vm *vm)
{
	struct arm64_image k;
	struct arm64_boot_layout at;
	uint8_t hdr[ARM64_IMAGE_HDR_SIZE];
	uint64_t klen, ilen = 0;
	const char *why = NULL;
	int ret;

	if (vm->mem.nregions != 1)
		return -EINVAL;
	ret = file_size(vm->cfg->kernel, "kernel", &klen);
	if (ret == 0)
		ret = read_header(vm->cfg->kernel, hdr);
	if (ret < 0)
		return ret;
	if (arm64_image_parse(hdr, klen, &k, &why) < 0) {
		log_err("kernel %s: %s", vm->cfg->kernel, why);
		return -EINVAL;
	}
	if (vm->cfg->initrd) {
		ret = file_size(vm->cfg->initrd, "initrd", &ilen);
		if (ret < 0)
			return ret;
	}
	ret = arm64_boot_layout(vm->mem.regions[0].gpa, vm->mem.total, &k, ilen, &at, &why);
	if (ret < 0) {
		log_err("%s; raise [vm] memory_mib", why);
		return ret;
	}
	/* The bss past the file is zero already: guest memory starts zeroed. */
	ret = read_into_guest(vm, vm->cfg->kernel, "kernel", at.kernel, klen);
	if (ret == 0 && ilen)
		ret = read_into_guest(vm, vm->cfg->initrd, "initrd", at.initrd, ilen);
	if (ret < 0)
		return ret;
	log_debug("kernel: Image at 0x%llx (%llu bytes with bss), initrd at 0x%llx, "
		  "device tree at 0x%llx", (unsigned long long)at.kernel,
		  (unsigned long long)k.image_size, (unsigned long long)at.initrd,
		  (unsigned long long)at.fdt);
	vm->arch.entry = at.kernel;
	vm->arch.fdt = at.fdt;
	return write_fdt(vm, at.initrd, ilen);
}

/* ---- vCPU ---- */

#define CORE_REG(x) (KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | \
		     (offsetof(struct kvm_regs, x) / sizeof(uint32_t)))
#define REG_MPIDR_EL1	ARM64_SYS_REG(3, 0, 0, 0, 5)

/* PSTATE at entry: EL1h, debug, SError, IRQ and FIQ masked. */
#define PSTATE_BOOT	(PSR_MODE_EL1h | PSR_D_BIT | PSR_A_BIT | PSR_I_BIT | PSR_F_BIT)

static int set_reg(struct vcpu *v, uint64_t id, uint64_t val)
{
	struct kvm_one_reg r = { .id = id, .addr = (uint64_t)(uintptr_t)&val };

	return ioctl(v->fd, KVM_SET_ONE_REG, &r) < 0 ? -errno : 0;
}

static int get_reg(struct vcpu *v, uint64_t id, uint64_t *val)
{
	struct kvm_one_reg r = { .id = id, .addr = (uint64_t)(uintptr_t)val };

	return ioctl(v->fd, KVM_GET_ONE_REG, &r) < 0 ? -errno : 0;
}

/* The boot protocol: x0 = device tree, x1-x3 = 0, MMU and caches off (KVM's
 * vCPU reset state), entry at the start of the Image. */
static int set_boot_regs(struct vm *vm, struct vcpu *v)
{
	int ret = set_reg(v, CORE_REG(regs.pstate), PSTATE_BOOT);

	for (unsigned i = 0; ret == 0 && i < 4; i++)
		ret = set_reg(v, CORE_REG(regs.regs[i]), i == 0 ? vm->arch.fdt : 0);
	if (ret == 0)
		ret = set_reg(v, CORE_REG(regs.pc), vm->arch.entry);
	return ret;
}

int arch_vcpu_init(struct vm *vm, struct vcpu *v)
{
	struct kvm_vcpu_init init = { .target = vm->arch.vcpu_target };
	uint64_t mpidr;
	int ret;

	init.features[0] |= 1u << KVM_ARM_VCPU_PSCI_0_2;
	/* Secondaries wait, powered off, for the guest's PSCI CPU_ON. */
	if (v->id != 0)
		init.features[0] |= 1u << KVM_ARM_VCPU_POWER_OFF;
	if (ioctl(v->fd, KVM_ARM_VCPU_INIT, &init) < 0) {
		log_err("vCPU %u: KVM_ARM_VCPU_INIT: %m", v->id);
		return -errno;
	}
	ret = get_reg(v, REG_MPIDR_EL1, &mpidr);
	if (ret < 0) {
		log_err("vCPU %u: reading MPIDR_EL1: %s", v->id, strerror(-ret));
		return ret;
	}
	if ((mpidr & 0xff00ffffffULL) != (vm->arch.mpidr[v->id] & 0xff00ffffffULL)) {
		log_err("vCPU %u: KVM gave it MPIDR 0x%llx, the device tree says 0x%llx",
			v->id, (unsigned long long)mpidr,
			(unsigned long long)vm->arch.mpidr[v->id]);
		return -EINVAL;
	}
	if (v->id == 0) {
		ret = set_boot_regs(vm, v);
		if (ret < 0) {
			log_err("vCPU 0: setting boot registers: %s", strerror(-ret));
			return ret;
		}
	}
	/* vCPUs are created in order; the GIC can be initialised once the
	 * last one exists (KVM sizes its per-CPU state then). */
	if (v->id == vm->nvcpus - 1)
		return gic_finish(vm);
	return 0;
}

uint64_t arch_vcpu_pc(struct vcpu *v)
{
	uint64_t pc;

	return get_reg(v, CORE_REG(regs.pc), &pc) < 0 ? 0 : pc;
}

void arch_vcpu_log_crash(struct vcpu *v)
{
	log_err("vCPU %u: pc 0x%llx", v->id, (unsigned long long)arch_vcpu_pc(v));
}
