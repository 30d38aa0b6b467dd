/* The x86_64 machine: in-kernel PIC/IOAPIC/LAPIC and PIT, a 16550 on COM1,
 * an i8042, ACPI power management ports, pvpanic and the boot timer; kernel
 * entry in long mode through the 64-bit boot protocol. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "acpi.h"
#include "arch.h"
#include "boot.h"
#include "boot_timer.h"
#include "cmdline.h"
#include "cpuid.h"
#include "i8042.h"
#include "layout.h"
#include "log.h"
#include "safe_open.h"
#include "pci.h"
#include "serial.h"
#include "virtio/pci.h"
#include "vm.h"

void arch_mem_layout(uint64_t size, uint64_t *base, uint64_t *hole_start,
		     uint64_t *hole_end)
{
	(void)size;
	*base = 0;
	*hole_start = X86_MMIO_HOLE_START;
	*hole_end = X86_MMIO_HOLE_END;
}

int arch_vm_init(struct vm *vm)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	uint64_t idmap = X86_IDENTITY_MAP_ADDR;
	int ret;

	if (ioctl(vm->vm_fd, KVM_SET_TSS_ADDR, (unsigned long)X86_TSS_ADDR) < 0) {
		log_err("KVM_SET_TSS_ADDR: %m");
		return -errno;
	}
	if (ioctl(vm->vm_fd, KVM_SET_IDENTITY_MAP_ADDR, &idmap) < 0)
		log_debug("KVM_SET_IDENTITY_MAP_ADDR: %m (not needed on this host)");
	if (ioctl(vm->vm_fd, KVM_CREATE_IRQCHIP, 0) < 0) {
		log_err("KVM_CREATE_IRQCHIP: %m");
		return -errno;
	}
	if (ioctl(vm->vm_fd, KVM_CREATE_PIT2, &pit) < 0) {
		log_err("KVM_CREATE_PIT2: %m");
		return -errno;
	}
	ret = cpuid_get_supported(vm->kvm_fd, &vm->arch.cpuid);
	if (ret < 0) {
		log_err("KVM_GET_SUPPORTED_CPUID: %s", strerror(-ret));
		return ret;
	}
	cpuid_apply_template(vm->arch.cpuid, vm->cfg->cpu_template,
			     vm->cfg->cpu_hide, vm->cfg->n_cpu_hide);
	return 0;
}

void arch_vm_destroy(struct vm *vm)
{
	free(vm->arch.cpuid);
	vm->arch.cpuid = NULL;
	free(vm->arch.pci);
	vm->arch.pci = NULL;
}

/* What KVM_CREATE_IRQCHIP routes by itself: GSI 0-15 to both PICs and the
 * IOAPIC, 16-23 to the IOAPIC. */
unsigned arch_irq_routes(struct kvm_irq_routing_entry *e, unsigned max)
{
	unsigned n = 0;

	for (uint32_t gsi = 0; gsi < 24; gsi++) {
		if (gsi < 16 && n < max)
			e[n++] = (struct kvm_irq_routing_entry){
				.gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
				.u.irqchip = { gsi < 8 ? KVM_IRQCHIP_PIC_MASTER :
					       KVM_IRQCHIP_PIC_SLAVE, gsi % 8 },
			};
		if (n < max)
			e[n++] = (struct kvm_irq_routing_entry){
				.gsi = gsi, .type = KVM_IRQ_ROUTING_IRQCHIP,
				.u.irqchip = { KVM_IRQCHIP_IOAPIC, gsi },
			};
	}
	return n;
}

/* ---- platform devices ---- */

static void serial_irq(void *ctx, int level)
{
	vm_set_irq(ctx, X86_IRQ_COM1, level);
}

static void kbd_irq(void *ctx, int level)
{
	vm_set_irq(ctx, X86_IRQ_KBD, level);
}

static void kbd_reset(void *ctx)
{
	vm_request_exit(ctx, VM_EXIT_REBOOT, "guest reset the CPU through the i8042");
}

/* ACPI sleep control (0x600), sleep status (0x601), reset (0x602). */
static void pm_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		  bool is_write)
{
	struct vm *vm = opaque;

	if (!is_write) {
		memset(data, 0, len);
		return;
	}
	switch (X86_PORT_PM + offset) {
	case X86_PM_SLEEP_CONTROL: {
		unsigned typ = (data[0] >> ACPI_SLP_TYP_SHIFT) & 7;

		if ((data[0] & ACPI_SLP_EN) && typ == ACPI_S5_SLP_TYP)
			vm_request_exit(vm, VM_EXIT_POWEROFF, "guest powered off (ACPI S5)");
		else if (data[0] & ACPI_SLP_EN)
			log_warn_limited("guest asked for sleep state %u, which is not supported", typ);
		break;
	}
	case X86_PM_RESET:
		if (data[0] == X86_PM_RESET_VALUE)
			vm_request_exit(vm, VM_EXIT_REBOOT, "guest reset through ACPI");
		break;
	default:
		break;
	}
}

#define PVPANIC_PANICKED	(1 << 0)
#define PVPANIC_CRASH_LOADED	(1 << 1)

static void pvpanic_io(void *opaque, uint64_t offset, uint8_t *data,
		       uint32_t len, bool is_write)
{
	struct vm *vm = opaque;

	if (!is_write) {
		memset(data, 0, len);
		data[0] = PVPANIC_PANICKED | PVPANIC_CRASH_LOADED;
		return;
	}
	if (data[0] & PVPANIC_PANICKED)
		vm_request_exit(vm, VM_EXIT_PANIC, "guest kernel panicked (pvpanic)");
	else if (data[0] & PVPANIC_CRASH_LOADED)
		log_notice_limited("guest panicked and is running its crash kernel");
}

/* Port 0x80 is the POST-code/delay port Linux writes to for I/O delays. */
static void sink_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		    bool is_write)
{
	if (!is_write)
		memset(data, 0xff, len);
}

/* Slot n is PCI device 00:n.0 (arch_device_slots). */
static int attach_pci(struct vm *vm, struct virtio_dev *vd, unsigned slot)
{
	return virtio_pci_attach(&vm->host, vm->arch.pci, slot, vd);
}

static int pci_devices_init(struct vm *vm)
{
	int ret = 0;

	vm->arch.pci = calloc(1, sizeof(*vm->arch.pci));
	if (!vm->arch.pci)
		return -ENOMEM;
	pci_bus_init(vm->arch.pci, X86_PCI_MMIO_START, X86_PCI_MMIO_SIZE, true);
	ret |= bus_register(&vm->pio, X86_PORT_PCI_CONFIG, 4, pci_cfg_addr_io,
			    vm->arch.pci, "pci-addr");
	ret |= bus_register(&vm->pio, X86_PORT_PCI_CONFIG + 4, 4, pci_cfg_data_io,
			    vm->arch.pci, "pci-data");
	if (ret)
		return -EINVAL;
	/* Without pci_slot keys the first device is 00:01.0. */
	return vm_add_virtio_devices(vm, attach_pci);
}

int arch_devices_init(struct vm *vm)
{
	struct i8042_ops kops = { .set_irq = kbd_irq, .reset = kbd_reset, .ctx = vm };
	int ret = 0;

	vm->serial = vm_console_serial_new(vm, serial_irq);
	vm->i8042 = i8042_new(&kops);
	vm->boot_timer = boot_timer_new(vm_userspace_ready, vm);
	if (!vm->serial || !vm->i8042 || !vm->boot_timer)
		return -ENOMEM;
	ret |= bus_register(&vm->pio, X86_PORT_COM1, 8, serial_io, vm->serial, "com1");
	ret |= bus_register(&vm->pio, I8042_DATA_PORT, 1, i8042_data_io, vm->i8042, "i8042-data");
	ret |= bus_register(&vm->pio, I8042_CMD_PORT, 1, i8042_cmd_io, vm->i8042, "i8042-cmd");
	ret |= bus_register(&vm->pio, X86_PORT_PM, 3, pm_io, vm, "acpi-pm");
	ret |= bus_register(&vm->pio, X86_PORT_PVPANIC, 1, pvpanic_io, vm, "pvpanic");
	ret |= bus_register(&vm->pio, X86_PORT_POST, 1, sink_io, vm, "post");
	ret |= bus_register(&vm->mmio, X86_BOOT_TIMER_ADDR, BOOT_TIMER_SIZE, boot_timer_io,
			    vm->boot_timer, "boot-timer");
	if (ret) {
		log_err("registering platform devices failed");
		return -EINVAL;
	}
	ret = pci_devices_init(vm);
	if (ret < 0)
		log_err("setting up PCI devices failed: %s", strerror(-ret));
	return ret;
}

const char *arch_guest_shutdown_method(void)
{
	return "Ctrl-Alt-Del";
}

int arch_request_guest_shutdown(struct vm *vm)
{
	return i8042_send_ctrl_alt_del(vm->i8042);
}

/* ---- kernel loading ---- */

static int map_file(const char *path, const char *what, uint8_t **p, size_t *len)
{
	struct stat st;
	int fd = safe_open(path, O_RDONLY | O_CLOEXEC, 0);

	if (fd < 0) {
		log_err("%s %s: %m", what, path);
		return -errno;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size == 0) {
		log_err("%s %s: not a non-empty regular file", what, path);
		close(fd);
		return -EINVAL;
	}
	*len = (size_t)st.st_size;
	*p = mmap(NULL, *len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (*p == MAP_FAILED) {
		log_err("%s %s: mmap: %m", what, path);
		return -errno;
	}
	return 0;
}

/* Writes page tables identity-mapping the first 4 GiB with 2 MiB pages, and
 * a flat GDT; the 64-bit boot protocol needs both. */
static int write_boot_tables(const struct guest_mem *m)
{
	uint64_t pml4 = X86_PDPT | 0x3, pdpt[4], pd[512];
	static const uint64_t gdt[4] = {
		0,
		0x00af9b000000ffffULL,	/* 0x08: 64-bit code */
		0x00cf93000000ffffULL,	/* 0x10: data */
		0x008f8b000000ffffULL,	/* 0x18: TSS */
	};

	if (gm_zero(m, X86_PML4, 0x6000) < 0 || gm_write(m, X86_PML4, &pml4, 8) < 0)
		return -EFAULT;
	for (unsigned i = 0; i < 4; i++) {
		pdpt[i] = (X86_PD + i * 0x1000ULL) | 0x3;
		for (unsigned j = 0; j < 512; j++)
			pd[j] = ((uint64_t)i << 30 | (uint64_t)j << 21) | 0x83;
		if (gm_write(m, X86_PD + i * 0x1000ULL, pd, sizeof(pd)) < 0)
			return -EFAULT;
	}
	if (gm_write(m, X86_PDPT, pdpt, sizeof(pdpt)) < 0 ||
	    gm_write(m, X86_GDT_ADDR, gdt, sizeof(gdt)) < 0 ||
	    gm_zero(m, X86_IDT_ADDR, 8) < 0)
		return -EFAULT;
	return 0;
}

static int load_initrd(struct vm *vm, const struct x86_kernel *k,
		       uint64_t *addr, uint64_t *len)
{
	const char *path = vm->cfg->initrd;
	struct stat st;
	uint8_t *dst;
	uint64_t done = 0;
	int fd, ret = 0;

	*addr = *len = 0;
	if (!path)
		return 0;
	fd = safe_open(path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0) {
		log_err("initrd %s: %m", path);
		return -errno;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		log_err("initrd %s: not a regular file", path);
		ret = -EINVAL;
		goto out;
	}
	if (x86_initrd_addr(&vm->mem, k, (uint64_t)st.st_size, addr) < 0) {
		log_err("initrd %s (%lld bytes) does not fit in guest memory "
			"beside the kernel; raise memory_mib", path,
			(long long)st.st_size);
		ret = -ENOSPC;
		goto out;
	}
	dst = gm_ptr(&vm->mem, *addr, (uint64_t)st.st_size);
	if (!dst) {
		ret = -EFAULT;
		goto out;
	}
	/* Straight into guest memory: no intermediate copy. */
	while (done < (uint64_t)st.st_size) {
		ssize_t r = pread(fd, dst + done, (size_t)st.st_size - done, (off_t)done);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			log_err("initrd %s: read failed: %s", path,
				r < 0 ? strerror(errno) : "file shrank");
			ret = -EIO;
			goto out;
		}
		done += (uint64_t)r;
	}
	*len = done;
out:
	close(fd);
	return ret;
}

int arch_load_kernel(struct vm *vm)
{
	struct x86_kernel k;
	const char *why = NULL;
	uint8_t *img = NULL;
	size_t len = 0;
	uint64_t initrd_addr, initrd_len, rsdp;
	char *cmdline;
	int ret;

	ret = map_file(vm->cfg->kernel, "kernel", &img, &len);
	if (ret < 0)
		return ret;
	ret = x86_load_kernel(&vm->mem, img, len, &k, &why);
	munmap(img, len);
	if (ret < 0) {
		log_err("kernel %s: %s", vm->cfg->kernel, why);
		return ret;
	}
	log_debug("kernel: %s, loaded at 0x%llx-0x%llx, entry 0x%llx",
		  k.bzimage ? "bzImage" : "ELF", (unsigned long long)k.start,
		  (unsigned long long)k.end, (unsigned long long)k.entry);
	ret = load_initrd(vm, &k, &initrd_addr, &initrd_len);
	if (ret < 0)
		return ret;
	ret = acpi_build(&vm->mem, vm->nvcpus, &rsdp);
	if (ret < 0) {
		log_err("building ACPI tables failed");
		return ret;
	}
	/* boot.cmdline plus the guest's ip= from [[net]] (config_kernel_cmdline). */
	cmdline = config_kernel_cmdline(vm->cfg);
	if (!cmdline)
		return -ENOMEM;
	ret = x86_write_boot_params(&vm->mem, &k, cmdline, initrd_addr, initrd_len, rsdp,
				    &why);
	free(cmdline);
	if (ret < 0) {
		log_err("boot parameters: %s", why);
		return ret;
	}
	ret = write_boot_tables(&vm->mem);
	if (ret < 0) {
		log_err("writing boot page tables failed");
		return ret;
	}
	vm->arch.entry = k.entry;
	vm->arch.boot_params = X86_ZERO_PAGE;
	return 0;
}

/* ---- vCPU ---- */

#define MSR_IA32_MISC_ENABLE	0x1a0
#define MSR_MTRR_DEF_TYPE	0x2ff

static int set_msrs(struct vcpu *v)
{
	struct {
		struct kvm_msrs hdr;
		struct kvm_msr_entry e[2];
	} msrs = { 0 };

	msrs.hdr.nmsrs = 2;
	msrs.e[0].index = MSR_IA32_MISC_ENABLE;
	msrs.e[0].data = 1;		/* fast strings */
	msrs.e[1].index = MSR_MTRR_DEF_TYPE;
	msrs.e[1].data = (1 << 11) | 6;	/* MTRRs on, default write-back */
	if (ioctl(v->fd, KVM_SET_MSRS, &msrs) < 0)
		return -errno;
	/* KVM_SET_MSRS returns how many it set; a host that refuses one of
	 * these still boots Linux, so do not fail. */
	return 0;
}

static int set_lint(struct vcpu *v)
{
	struct kvm_lapic_state lapic;
	uint32_t lvt;

	if (ioctl(v->fd, KVM_GET_LAPIC, &lapic) < 0)
		return -errno;
	/* LINT0 = ExtINT (the PIC), LINT1 = NMI, as firmware leaves them. */
	memcpy(&lvt, &lapic.regs[0x350], 4);
	lvt = (lvt & ~0x700u) | 0x700;
	memcpy(&lapic.regs[0x350], &lvt, 4);
	memcpy(&lvt, &lapic.regs[0x360], 4);
	lvt = (lvt & ~0x700u) | 0x400;
	memcpy(&lapic.regs[0x360], &lvt, 4);
	if (ioctl(v->fd, KVM_SET_LAPIC, &lapic) < 0)
		return -errno;
	return 0;
}

static int set_boot_regs(struct vm *vm, struct vcpu *v)
{
	struct kvm_sregs sregs;
	struct kvm_regs regs;
	struct kvm_fpu fpu;
	struct kvm_segment code = {
		.base = 0, .limit = 0xffffffff, .selector = 0x08, .type = 0xb,
		.present = 1, .dpl = 0, .db = 0, .s = 1, .l = 1, .g = 1,
	};
	struct kvm_segment data = code;
	struct kvm_segment tss = code;

	data.selector = 0x10;
	data.type = 0x3;
	data.db = 1;
	data.l = 0;
	tss.selector = 0x18;
	tss.type = 0xb;
	tss.s = 0;
	tss.l = 0;
	tss.g = 0;
	tss.limit = 0xfffff;

	if (ioctl(v->fd, KVM_GET_SREGS, &sregs) < 0)
		return -errno;
	sregs.cs = code;
	sregs.ds = sregs.es = sregs.fs = sregs.gs = sregs.ss = data;
	sregs.tr = tss;
	sregs.gdt.base = X86_GDT_ADDR;
	sregs.gdt.limit = 4 * 8 - 1;
	sregs.idt.base = X86_IDT_ADDR;
	sregs.idt.limit = 7;
	sregs.cr3 = X86_PML4;
	sregs.cr4 |= 0x20;			/* PAE */
	sregs.cr0 |= 0x80000001 | 0x10;		/* PG, PE, ET */
	sregs.efer |= 0x500;			/* LME, LMA */
	if (ioctl(v->fd, KVM_SET_SREGS, &sregs) < 0)
		return -errno;

	memset(&regs, 0, sizeof(regs));
	regs.rflags = 0x2;
	regs.rip = vm->arch.entry;
	regs.rsp = regs.rbp = X86_BOOT_STACK;
	regs.rsi = vm->arch.boot_params;
	if (ioctl(v->fd, KVM_SET_REGS, &regs) < 0)
		return -errno;

	memset(&fpu, 0, sizeof(fpu));
	fpu.fcw = 0x37f;
	fpu.mxcsr = 0x1f80;
	if (ioctl(v->fd, KVM_SET_FPU, &fpu) < 0)
		return -errno;
	return 0;
}

int arch_vcpu_init(struct vm *vm, struct vcpu *v)
{
	struct kvm_cpuid2 *c = cpuid_dup(vm->arch.cpuid);
	int ret;

	if (!c)
		return -ENOMEM;
	cpuid_set_topology(c, v->id, vm->nvcpus);
	ret = ioctl(v->fd, KVM_SET_CPUID2, c) < 0 ? -errno : 0;
	free(c);
	if (ret < 0) {
		log_err("vCPU %u: KVM_SET_CPUID2: %s", v->id, strerror(-ret));
		return ret;
	}
	ret = set_msrs(v);
	if (ret == 0)
		ret = set_lint(v);
	/* Application processors wait for the guest's INIT/SIPI. */
	if (ret == 0 && v->id == 0)
		ret = set_boot_regs(vm, v);
	if (ret < 0)
		log_err("vCPU %u: register setup failed: %s", v->id, strerror(-ret));
	return ret;
}

uint64_t arch_vcpu_pc(struct vcpu *v)
{
	struct kvm_regs regs;

	if (ioctl(v->fd, KVM_GET_REGS, &regs) < 0)
		return 0;
	return regs.rip;
}

void arch_vcpu_log_crash(struct vcpu *v)
{
	struct kvm_regs r;
	struct kvm_sregs s;
	struct kvm_vcpu_events ev;
	bool have_ev = ioctl(v->fd, KVM_GET_VCPU_EVENTS, &ev) == 0;

	if (ioctl(v->fd, KVM_GET_REGS, &r) < 0 || ioctl(v->fd, KVM_GET_SREGS, &s) < 0) {
		log_err("vCPU %u: its registers cannot be read: %m", v->id);
		return;
	}
	if (r.rip == 0xfff0 && s.cs.selector == 0xf000) {
		/* AMD: the VMCB is undefined after a shutdown intercept, and
		 * KVM INITs the vCPU (arch/x86/kvm/svm/svm.c,
		 * shutdown_interception). Its exception fields survive that:
		 * the last exception KVM itself delivered or re-delivered. */
		log_err("vCPU %u: its registers are lost: KVM reset it at the shutdown (as KVM "
			"on AMD does); the last exception KVM delivered to it: vector %u, "
			"error code 0x%x (not necessarily the one that faulted)", v->id,
			have_ev ? ev.exception.nr : 0, have_ev ? ev.exception.error_code : 0);
		return;
	}
	log_err("vCPU %u: rip 0x%llx rsp 0x%llx rflags 0x%llx rax 0x%llx rbx 0x%llx "
		"rcx 0x%llx rdx 0x%llx rsi 0x%llx rdi 0x%llx rbp 0x%llx", v->id,
		(unsigned long long)r.rip, (unsigned long long)r.rsp,
		(unsigned long long)r.rflags, (unsigned long long)r.rax,
		(unsigned long long)r.rbx, (unsigned long long)r.rcx,
		(unsigned long long)r.rdx, (unsigned long long)r.rsi,
		(unsigned long long)r.rdi, (unsigned long long)r.rbp);
	log_err("vCPU %u: cs 0x%x ss 0x%x cr0 0x%llx cr2 0x%llx cr3 0x%llx cr4 0x%llx "
		"efer 0x%llx idt 0x%llx/0x%x gdt 0x%llx/0x%x tr 0x%x base 0x%llx "
		"gs base 0x%llx", v->id, s.cs.selector, s.ss.selector,
		(unsigned long long)s.cr0, (unsigned long long)s.cr2,
		(unsigned long long)s.cr3, (unsigned long long)s.cr4,
		(unsigned long long)s.efer, (unsigned long long)s.idt.base, s.idt.limit,
		(unsigned long long)s.gdt.base, s.gdt.limit, s.tr.selector,
		(unsigned long long)s.tr.base, (unsigned long long)s.gs.base);
	if (have_ev)
		log_err("vCPU %u: exception injected %u pending %u vector %u error code %s0x%x; "
			"interrupt injected %u vector %u; nmi injected %u pending %u masked %u",
			v->id, ev.exception.injected, ev.exception.pending, ev.exception.nr,
			ev.exception.has_error_code ? "" : "(none) ", ev.exception.error_code,
			ev.interrupt.injected, ev.interrupt.nr, ev.nmi.injected, ev.nmi.pending,
			ev.nmi.masked);
}
