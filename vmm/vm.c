/* VM construction from a validated config, the vCPU threads, and the event
 * loop that owns the lifecycle: guest exits, signals, console input. */
#include "vm.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "arch.h"
#include "control.h"
#include "log.h"
#include "notify.h"
#include "sandbox.h"
#include "boot_timer.h"
#include "i8042.h"
#include "serial.h"
#include "virtio/blk.h"
#include "virtio/fs.h"
#include "virtio/net.h"
#include "virtio/rng.h"

#define KICK_SIGNAL SIGUSR1

uint64_t vmm_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* Shared guest RAM (for virtio-fs) gets huge pages only where the host's
 * shmem THP policy allows: say so where it does not, since the guest then
 * boots several times slower under nested paging (docs/performance.md). */
static void note_shmem_thp(void)
{
	static const char path[] = "/sys/kernel/mm/transparent_hugepage/shmem_enabled";
	char buf[128] = "", *a, *b;
	FILE *f = fopen(path, "re");

	if (!f)
		return;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	a = strchr(buf, '[');
	b = a ? strchr(a, ']') : NULL;
	if (!a || !b)
		return;
	*b = '\0';
	if (!strcmp(a + 1, "never") || !strcmp(a + 1, "deny"))
		log_info("guest RAM is shared with the virtio-fs backend, and %s is \"%s\": "
			 "no huge pages for it (\"advise\" there gives them; docs/performance.md)",
			 path, a + 1);
}

static unsigned long long since_start(const struct vm *vm)
{
	return (unsigned long long)(vmm_now_us() - vm->t_start_us);
}

/* READY=1 to the service manager, once, at the mark [vm] ready names. */
static void notify_ready(struct vm *vm)
{
	if (!atomic_exchange(&vm->notified_ready, true))
		notify_send("READY=1\nSTATUS=Running");
}

void vm_userspace_ready(void *ctx)
{
	struct vm *vm = ctx;
	uint64_t t = vmm_now_us() - vm->t_start_us;

	atomic_store(&vm->t_userspace_ready_us, t);
	log_info("boot: guest userspace ready at %llu us", (unsigned long long)t);
	if (vm->cfg->ready == READY_USERSPACE)
		notify_ready(vm);
}

static const char *exit_code_name(int code)
{
	switch (code) {
	case VM_EXIT_POWEROFF: return "poweroff";
	case VM_EXIT_REBOOT: return "reboot";
	case VM_EXIT_PANIC: return "panic";
	case VM_EXIT_FORCED: return "forced stop";
	case VM_EXIT_CRASH: return "vCPU error";
	default: return "error";
	}
}

void vm_request_exit(struct vm *vm, int code, const char *why)
{
	int expected = -1;
	uint64_t one = 1;

	/* Once a stop was requested, the guest going down either way is the
	 * graceful outcome we asked for. */
	if (atomic_load(&vm->graceful_stop) &&
	    (code == VM_EXIT_POWEROFF || code == VM_EXIT_REBOOT))
		code = VM_EXIT_POWEROFF;
	if (!atomic_compare_exchange_strong(&vm->exit_code, &expected, code))
		return;
	atomic_store(&vm->t_shutdown_us, vmm_now_us() - vm->t_start_us);
	log_info("boot: guest shutdown at %llu us (%s)",
		 (unsigned long long)atomic_load(&vm->t_shutdown_us), exit_code_name(code));
	log_notice("%s; exiting with code %d (%s)", why, code, exit_code_name(code));
	notify_sendf("STOPPING=1\nSTATUS=Stopping: %s", why);
	if (write(vm->wake_fd, &one, sizeof(one)) < 0) {
		/* The counter cannot overflow with one write per VM. */
	}
}

int vm_set_irq(struct vm *vm, uint32_t gsi, int level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = (uint32_t)level };

	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0) {
		log_warn("KVM_IRQ_LINE %u: %m", gsi);
		return -errno;
	}
	return 0;
}

/* ---- interrupt routing, ioeventfds ---- */

#define VM_MAX_ROUTES 1024

static int routes_init(struct vm *vm)
{
	struct kvm_irq_routing *r;
	uint32_t top = 0;

	r = calloc(1, sizeof(*r) + VM_MAX_ROUTES * sizeof(r->entries[0]));
	if (!r)
		return -ENOMEM;
	r->nr = arch_irq_routes(r->entries, VM_MAX_ROUTES);
	for (uint32_t i = 0; i < r->nr; i++)
		if (r->entries[i].gsi >= top)
			top = r->entries[i].gsi + 1;
	vm->routes = r;
	vm->next_gsi = top;
	return 0;
}

static int routes_commit(struct vm *vm)
{
	if (ioctl(vm->vm_fd, KVM_SET_GSI_ROUTING, vm->routes) < 0) {
		log_warn("KVM_SET_GSI_ROUTING: %m");
		return -errno;
	}
	return 0;
}

int vm_msi_alloc(struct vm *vm, int *fdp, uint32_t *gsip)
{
	struct kvm_irqfd irqfd = { 0 };
	struct kvm_irq_routing_entry *e;
	int fd, ret;

	pthread_mutex_lock(&vm->routes_lock);
	if (vm->routes->nr == VM_MAX_ROUTES) {
		ret = -ENOSPC;
		goto out;
	}
	e = &vm->routes->entries[vm->routes->nr];
	memset(e, 0, sizeof(*e));
	e->gsi = vm->next_gsi;
	e->type = KVM_IRQ_ROUTING_MSI;
	vm->routes->nr++;
	ret = routes_commit(vm);
	if (ret < 0) {
		vm->routes->nr--;
		goto out;
	}
	/* The GSI is used up from here on, even if binding it fails. */
	vm->next_gsi++;
	fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	irqfd.fd = (uint32_t)fd;
	irqfd.gsi = e->gsi;
	if (ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0) {
		ret = -errno;
		log_err("KVM_IRQFD for GSI %u: %m", e->gsi);
		close(fd);
		goto out;
	}
	*fdp = fd;
	*gsip = e->gsi;
	ret = 0;
out:
	pthread_mutex_unlock(&vm->routes_lock);
	return ret;
}

int vm_msi_route(struct vm *vm, uint32_t gsi, uint64_t addr, uint32_t data)
{
	int ret = -ENOENT;

	pthread_mutex_lock(&vm->routes_lock);
	for (uint32_t i = 0; i < vm->routes->nr; i++) {
		struct kvm_irq_routing_entry *e = &vm->routes->entries[i];

		if (e->gsi != gsi || e->type != KVM_IRQ_ROUTING_MSI)
			continue;
		if (e->u.msi.address_lo == (uint32_t)addr &&
		    e->u.msi.address_hi == (uint32_t)(addr >> 32) &&
		    e->u.msi.data == data) {
			ret = 0;
			break;
		}
		e->u.msi.address_lo = (uint32_t)addr;
		e->u.msi.address_hi = (uint32_t)(addr >> 32);
		e->u.msi.data = data;
		ret = routes_commit(vm);
		break;
	}
	pthread_mutex_unlock(&vm->routes_lock);
	return ret;
}

int vm_ioeventfd(struct vm *vm, uint64_t addr, uint32_t len, int fd)
{
	struct kvm_ioeventfd io = { .addr = addr, .len = len, .fd = fd };

	if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0) {
		log_err("KVM_IOEVENTFD at 0x%llx: %m", (unsigned long long)addr);
		return -errno;
	}
	return 0;
}

int vm_ioeventfd_data(struct vm *vm, uint64_t addr, uint32_t len, uint64_t data, int fd)
{
	struct kvm_ioeventfd io = {
		.datamatch = data, .addr = addr, .len = len, .fd = fd,
		.flags = KVM_IOEVENTFD_FLAG_DATAMATCH,
	};

	if (ioctl(vm->vm_fd, KVM_IOEVENTFD, &io) < 0) {
		log_err("KVM_IOEVENTFD at 0x%llx (value %llu): %m", (unsigned long long)addr,
			(unsigned long long)data);
		return -errno;
	}
	return 0;
}

int vm_add_cleanup(struct vm *vm, void (*fn)(void *opaque), void *opaque)
{
	struct vm_cleanup *c = reallocarray(vm->cleanups, vm->ncleanups + 1,
					    sizeof(*c));

	if (!c)
		return -ENOMEM;
	vm->cleanups = c;
	c[vm->ncleanups++] = (struct vm_cleanup){ fn, opaque };
	return 0;
}

/* One device to its transport; the device is freed with the VM, after the
 * transport (cleanups run last-registered first). */
static int add_virtio(struct vm *vm, struct virtio_dev *vd, void (*free_fn)(void *),
		      vm_virtio_attach_fn attach, const char *kind, size_t index)
{
	struct vm_vdev *v;
	int ret;

	if (!vd)
		return -ENOMEM;
	ret = vm_add_cleanup(vm, free_fn, vd);
	if (ret < 0) {
		free_fn(vd);
		return ret;
	}
	v = reallocarray(vm->vdevs, vm->nvdevs + 1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	vm->vdevs = v;
	v[vm->nvdevs].vd = vd;
	snprintf(v[vm->nvdevs].tag, sizeof(v[vm->nvdevs].tag), "%s%zu", kind, index % 1000);
	vm->nvdevs++;
	return attach(vm, vd);
}

size_t vm_describe_queues(struct vm *vm, char *buf, size_t len)
{
	size_t n = 0;

	if (len == 0)
		return 0;
	buf[0] = '\0';
	for (unsigned i = 0; i < vm->nvdevs && n + 1 < len; i++)
		n += virtio_dev_describe(vm->vdevs[i].vd, vm->vdevs[i].tag, buf + n, len - n);
	return n;
}

int vm_add_virtio_devices(struct vm *vm, vm_virtio_attach_fn attach)
{
	const struct vm_config *cfg = vm->cfg;
	struct virtio_dev *vd;
	int ret = 0;

	/* Disks first, in config order: the first is /dev/vda. */
	for (size_t i = 0; ret == 0 && i < cfg->ndisks; i++) {
		ret = virtio_blk_new(&cfg->disks[i], (unsigned)i, &vm->io, &vd);
		if (ret == 0)
			ret = add_virtio(vm, vd, virtio_blk_free, attach, "blk", i);
	}
	/* NICs next, in config order: the first is eth0 (net.ifnames=0). */
	for (size_t i = 0; ret == 0 && i < cfg->n_net; i++) {
		ret = virtio_net_new(&cfg->net[i], (unsigned)i, &vm->io, &vd);
		if (ret == 0)
			ret = add_virtio(vm, vd, virtio_net_free, attach, "net", i);
	}
	if (ret == 0 && cfg->rng_enabled)
		ret = add_virtio(vm, virtio_rng_new(), virtio_rng_free, attach, "rng", 0);
	/* [[fs]]: virtio-fs, each connected to its vhost-user backend now. */
	for (size_t i = 0; ret == 0 && i < cfg->n_fs; i++) {
		ret = virtio_fs_new(&cfg->fs[i], &vm->mem, &vm->io, &vd);
		if (ret == 0)
			ret = add_virtio(vm, vd, virtio_fs_free, attach, "fs", i);
	}
	return ret;
}

/* ---- construction ---- */

static int open_console(struct vm *vm)
{
	const struct vm_config *c = vm->cfg;

	switch (c->console_mode) {
	case CONSOLE_STDIO:
		vm->console_out = STDOUT_FILENO;
		return 0;
	case CONSOLE_FILE:
		vm->console_out = open(c->console_path,
				       O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
		if (vm->console_out < 0) {
			log_err("console.path %s: %m", c->console_path);
			return -errno;
		}
		return 0;
	default:
		vm->console_out = -1;
		return 0;
	}
}

static int create_vcpu(struct vm *vm, unsigned id)
{
	struct vcpu *v = &vm->vcpus[id];

	v->vm = vm;
	v->id = id;
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)id);
	if (v->fd < 0) {
		log_err("KVM_CREATE_VCPU %u: %m", id);
		return -errno;
	}
	v->run = mmap(NULL, (size_t)vm->run_size, PROT_READ | PROT_WRITE,
		      MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		log_err("mmap of vCPU %u run area: %m", id);
		return -errno;
	}
	return arch_vcpu_init(vm, v);
}

int vm_create(struct vm *vm, const struct vm_config *cfg, uint64_t t_start_us)
{
	uint64_t base, hole_start, hole_end, size;
	int ret;

	memset(vm, 0, sizeof(*vm));
	vm->cfg = cfg;
	vm->t_start_us = t_start_us;
	vm->kvm_fd = vm->vm_fd = vm->wake_fd = -1;
	vm->console_out = -1;
	vm->mem.memfd = -1;
	atomic_store(&vm->exit_code, -1);
	vm->nvcpus = cfg->vcpus;
	bus_init(&vm->pio, "pio");
	bus_init(&vm->mmio, "mmio");
	vm->io.epfd = vm->io.stop_fd = -1;
	pthread_mutex_init(&vm->routes_lock, NULL);
	pthread_mutex_init(&vm->pause_lock, NULL);
	pthread_cond_init(&vm->pause_cond, NULL);
	vm->stop_timer_fd = -1;
	vm_host_init(vm);

	vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
	if (vm->kvm_fd < 0) {
		ret = -errno;
		log_err("cannot open /dev/kvm: %m (is KVM enabled, and may this "
			"user use it? membership of group 'kvm' usually grants it)");
		return ret;
	}
	if (ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0) != KVM_API_VERSION) {
		log_err("/dev/kvm speaks an unexpected API version");
		return -EINVAL;
	}
	if (ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IMMEDIATE_EXIT) <= 0 ||
	    ioctl(vm->kvm_fd, KVM_CHECK_EXTENSION, KVM_CAP_IRQCHIP) <= 0) {
		log_err("this kernel's KVM lacks KVM_CAP_IMMEDIATE_EXIT or "
			"KVM_CAP_IRQCHIP (Linux 4.11 or later is needed)");
		return -ENOTSUP;
	}
	do {
		vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
	} while (vm->vm_fd < 0 && errno == EINTR);
	if (vm->vm_fd < 0) {
		ret = -errno;
		log_err("KVM_CREATE_VM: %m");
		return ret;
	}
	vm->run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (vm->run_size < (int)sizeof(struct kvm_run)) {
		log_err("KVM_GET_VCPU_MMAP_SIZE: %m");
		return -EINVAL;
	}
	vm->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (vm->wake_fd < 0)
		return -errno;

	size = cfg->memory_mib << 20;
	arch_mem_layout(size, &base, &hole_start, &hole_end);
	/* Only a vhost-user backend ([[fs]]) needs the memory as a shared fd;
	 * with [vm] huge_pages, anonymous memory gets transparent huge pages on
	 * a default host, shared memory only where shmem_enabled allows. */
	ret = guest_mem_init_kind(&vm->mem, base, size, hole_start, hole_end, cfg->n_fs > 0,
				  cfg->huge_pages);
	if (ret < 0) {
		log_err("allocating %llu MiB of guest memory: %s",
			(unsigned long long)cfg->memory_mib, strerror(-ret));
		return ret;
	}
	if (cfg->n_fs > 0 && cfg->huge_pages)
		note_shmem_thp();
	log_debug("boot: KVM VM created at %llu us", since_start(vm));
	ret = arch_vm_init(vm);
	if (ret < 0)
		return ret;
	ret = routes_init(vm);
	if (ret < 0)
		return ret;
	ret = iothread_init(&vm->io);
	if (ret < 0) {
		log_err("I/O thread setup: %s", strerror(-ret));
		return ret;
	}
	for (unsigned i = 0; i < vm->mem.nregions; i++) {
		const struct guest_region *r = &vm->mem.regions[i];
		struct kvm_userspace_memory_region mr = {
			.slot = i, .guest_phys_addr = r->gpa,
			.memory_size = r->size, .userspace_addr = (uintptr_t)r->hva,
		};

		if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &mr) < 0) {
			ret = -errno;
			log_err("KVM_SET_USER_MEMORY_REGION slot %u: %m", i);
			return ret;
		}
	}
	ret = open_console(vm);
	if (ret < 0)
		return ret;
	ret = arch_devices_init(vm);
	if (ret < 0)
		return ret;
	log_debug("boot: memory and devices ready at %llu us", since_start(vm));
	ret = arch_load_kernel(vm);
	if (ret < 0)
		return ret;
	log_debug("boot: kernel loaded at %llu us", since_start(vm));
	vm->vcpus = calloc(vm->nvcpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return -ENOMEM;
	for (unsigned i = 0; i < vm->nvcpus; i++)
		vm->vcpus[i].fd = -1;
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		ret = create_vcpu(vm, i);
		if (ret < 0)
			return ret;
	}
	return 0;
}

void vm_destroy(struct vm *vm)
{
	if (vm->vcpus) {
		for (unsigned i = 0; i < vm->nvcpus; i++) {
			if (vm->vcpus[i].run)
				munmap(vm->vcpus[i].run, (size_t)vm->run_size);
			if (vm->vcpus[i].fd >= 0)
				close(vm->vcpus[i].fd);
		}
		free(vm->vcpus);
	}
	/* Devices may have work queued there: stop it before freeing them. */
	iothread_destroy(&vm->io);
	while (vm->ncleanups > 0) {
		vm->ncleanups--;
		vm->cleanups[vm->ncleanups].fn(vm->cleanups[vm->ncleanups].opaque);
	}
	free(vm->cleanups);
	free(vm->vdevs);
	vm->vdevs = NULL;
	vm->nvdevs = 0;
	free(vm->routes);
	arch_vm_destroy(vm);
	serial_destroy(vm->serial);
	i8042_destroy(vm->i8042);
	boot_timer_destroy(vm->boot_timer);
	if (vm->console_out > STDERR_FILENO)
		close(vm->console_out);
	guest_mem_destroy(&vm->mem);
	if (vm->wake_fd >= 0)
		close(vm->wake_fd);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
}

/* ---- vCPU threads ---- */

static void log_internal_error(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	char bytes[3 * 16 + 1] = "";

	if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION &&
	    run->emulation_failure.ndata >= 3 &&
	    (run->emulation_failure.flags &
	     KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES)) {
		unsigned n = run->emulation_failure.insn_size;

		if (n > 15)
			n = 15;
		for (unsigned i = 0; i < n; i++)
			snprintf(bytes + 3 * i, 4, " %02x",
				 run->emulation_failure.insn_bytes[i]);
	}
	log_err("vCPU %u: KVM internal error, suberror %u at pc 0x%llx%s%s%s",
		v->id, run->internal.suberror, (unsigned long long)arch_vcpu_pc(v),
		bytes[0] ? " (instruction:" : "", bytes, bytes[0] ? ")" : "");
	if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION)
		log_err("KVM could not emulate that instruction; if this host's "
			"KVM lacks hardware virtualization, hiding the feature "
			"that uses it in [cpu] hide may help (e.g. \"xsave\", \"cx16\")");
}

/* Returns false when the vCPU must stop. */
static bool handle_exit(struct vcpu *v)
{
	struct vm *vm = v->vm;
	struct kvm_run *run = v->run;

	switch (run->exit_reason) {
	case KVM_EXIT_IO: {
		uint32_t size = run->io.size;
		uint64_t end = (uint64_t)run->io.data_offset +
			       (uint64_t)run->io.count * size;

		if (size == 0 || size > 4 || end > (uint64_t)vm->run_size)
			return true;
		for (uint32_t i = 0; i < run->io.count; i++)
			bus_access(&vm->pio, run->io.port,
				   (uint8_t *)run + run->io.data_offset + i * size,
				   size, run->io.direction == KVM_EXIT_IO_OUT);
		return true;
	}
	case KVM_EXIT_MMIO:
		bus_access(&vm->mmio, run->mmio.phys_addr, run->mmio.data,
			   run->mmio.len, run->mmio.is_write);
		return true;
	case KVM_EXIT_INTR:
		return true;
	case KVM_EXIT_HLT:
		vm_request_exit(vm, VM_EXIT_POWEROFF, "guest halted its CPU");
		return false;
	case KVM_EXIT_SHUTDOWN:
		vm_request_exit(vm, VM_EXIT_REBOOT, "guest triple-faulted (reset)");
		return false;
	case KVM_EXIT_SYSTEM_EVENT:
		switch (run->system_event.type) {
		case KVM_SYSTEM_EVENT_SHUTDOWN:
			vm_request_exit(vm, VM_EXIT_POWEROFF, "guest powered off");
			break;
		case KVM_SYSTEM_EVENT_RESET:
			vm_request_exit(vm, VM_EXIT_REBOOT, "guest asked for a reset");
			break;
		case KVM_SYSTEM_EVENT_CRASH:
			vm_request_exit(vm, VM_EXIT_PANIC, "guest reported a crash");
			break;
		default:
			log_warn("vCPU %u: unknown system event %u", v->id,
				 run->system_event.type);
			return true;
		}
		return false;
	case KVM_EXIT_INTERNAL_ERROR:
		log_internal_error(v);
		vm_request_exit(vm, VM_EXIT_CRASH, "vCPU stopped on a KVM internal error");
		return false;
	case KVM_EXIT_FAIL_ENTRY:
		log_err("vCPU %u: KVM could not enter the guest (hardware reason 0x%llx)",
			v->id, (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		vm_request_exit(vm, VM_EXIT_CRASH, "vCPU entry failed");
		return false;
	default:
		log_err("vCPU %u: unhandled KVM exit reason %u", v->id, run->exit_reason);
		vm_request_exit(vm, VM_EXIT_CRASH, "vCPU stopped on an unknown exit");
		return false;
	}
}

/* Parks the calling vCPU thread while a pause is requested. The kick that
 * brought it here may have set immediate_exit: clear it for the next run. A
 * stop wakes it too (vm_run broadcasts after setting `stopping`). */
static void vcpu_park(struct vcpu *v)
{
	struct vm *vm = v->vm;

	pthread_mutex_lock(&vm->pause_lock);
	v->run->immediate_exit = 0;
	vm->nparked++;
	pthread_cond_broadcast(&vm->pause_cond);
	while (atomic_load(&vm->pause_requested) && !atomic_load(&vm->stopping))
		pthread_cond_wait(&vm->pause_cond, &vm->pause_lock);
	vm->nparked--;
	pthread_mutex_unlock(&vm->pause_lock);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	struct vm *vm = v->vm;
	sigset_t kick;

	sigemptyset(&kick);
	sigaddset(&kick, KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &kick, NULL);
	if (sandbox_enter(SANDBOX_VCPU) < 0) {
		vm_request_exit(vm, VM_EXIT_ERROR, "a vCPU thread could not load its seccomp filter");
		return NULL;
	}
	pthread_mutex_lock(&vm->pause_lock);
	vm->nactive++;
	pthread_mutex_unlock(&vm->pause_lock);

	while (!atomic_load(&vm->stopping)) {
		if (atomic_load(&vm->pause_requested)) {
			vcpu_park(v);
			continue;	/* re-check `stopping` */
		}
		if (v->id == 0 && !atomic_load(&vm->ready)) {
			uint64_t t = vmm_now_us() - vm->t_start_us;

			atomic_store(&vm->t_first_run_us, t);
			log_info("boot: first KVM_RUN at %llu us", (unsigned long long)t);
			atomic_store(&vm->ready, true);
			if (vm->cfg->ready == READY_STARTED)
				notify_ready(vm);
			else
				notify_send("STATUS=Booting: waiting for the guest's userspace");
		}
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			log_err("vCPU %u: KVM_RUN: %m", v->id);
			vm_request_exit(vm, VM_EXIT_CRASH, "KVM_RUN failed");
			break;
		}
		if (!handle_exit(v))
			break;
	}
	pthread_mutex_lock(&vm->pause_lock);
	vm->nactive--;
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	return NULL;
}

static int iothread_enter(void)
{
	return sandbox_enter(SANDBOX_IO);
}

static void kick_handler(int sig)
{
	(void)sig;	/* only there to interrupt KVM_RUN */
}

/* ---- event loop ---- */

struct loop {
	int epfd, sigfd, timerfd, rxfd;
	bool stdin_watched, stdin_ok;
	struct termios saved_tty;
	bool tty_raw;
};

static int rx_space_fd = -1;

void vm_console_rx_space(void *ctx);
void vm_console_rx_space(void *ctx)
{
	uint64_t one = 1;

	(void)ctx;
	if (rx_space_fd >= 0 && write(rx_space_fd, &one, sizeof(one)) < 0) {
		/* eventfd counter saturation is harmless */
	}
}

static void watch_stdin(struct loop *l, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = STDIN_FILENO };

	if (!l->stdin_ok || l->stdin_watched == on)
		return;
	if (epoll_ctl(l->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, STDIN_FILENO,
		      &ev) < 0) {
		/* Regular files and /dev/null cannot be polled: no input. */
		l->stdin_ok = false;
		return;
	}
	l->stdin_watched = on;
}

static void read_stdin(struct vm *vm, struct loop *l)
{
	uint8_t buf[256];
	size_t space = serial_input_space(vm->serial);
	ssize_t n;

	if (space == 0) {
		/* Back-pressure: resume when the guest drains its buffer. */
		watch_stdin(l, false);
		return;
	}
	n = read(STDIN_FILENO, buf, space < sizeof(buf) ? space : sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		watch_stdin(l, false);
		l->stdin_ok = false;
		return;
	}
	serial_push_input(vm->serial, buf, (size_t)n);
}

void vm_shutdown(struct vm *vm, const char *why)
{
	struct itimerspec its = { .it_value.tv_sec = vm->cfg->shutdown_timeout_s };

	if (atomic_load(&vm->graceful_stop) || atomic_load(&vm->exit_code) >= 0)
		return;		/* already on its way */
	atomic_store(&vm->graceful_stop, true);
	if (vm->cfg->shutdown_timeout_s == 0) {
		vm_request_exit(vm, VM_EXIT_FORCED, "stop requested and shutdown_timeout is 0");
		return;
	}
	log_notice("%s: asking the guest to shut down (%s), "
		   "forcing it off in %u s", why, arch_guest_shutdown_method(),
		   vm->cfg->shutdown_timeout_s);
	notify_sendf("STOPPING=1\nSTATUS=Shutting down the guest (%s)", why);
	/* A paused guest could not react. */
	pthread_mutex_lock(&vm->pause_lock);
	atomic_store(&vm->pause_requested, false);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	if (arch_request_guest_shutdown(vm) < 0)
		log_warn("the guest is not accepting the %s; waiting for the timeout",
			 arch_guest_shutdown_method());
	if (vm->stop_timer_fd >= 0)
		timerfd_settime(vm->stop_timer_fd, 0, &its, NULL);
}

static void on_stop_signal(struct vm *vm, struct loop *l, int sig)
{
	char why[64];

	(void)l;
	if (atomic_load(&vm->graceful_stop)) {
		vm_request_exit(vm, VM_EXIT_FORCED, "second stop signal: stopping the guest now");
		return;
	}
	snprintf(why, sizeof(why), "received %s", strsignal(sig));
	vm_shutdown(vm, why);
}

enum vm_state vm_get_state(struct vm *vm)
{
	if (atomic_load(&vm->graceful_stop) || atomic_load(&vm->exit_code) >= 0)
		return VM_STATE_STOPPING;
	if (atomic_load(&vm->pause_requested))
		return VM_STATE_PAUSED;
	return atomic_load(&vm->ready) ? VM_STATE_RUNNING : VM_STATE_STARTING;
}

const char *vm_state_name(enum vm_state state)
{
	static const char *const names[] = {
		[VM_STATE_STARTING] = "starting", [VM_STATE_RUNNING] = "running",
		[VM_STATE_PAUSED] = "paused", [VM_STATE_STOPPING] = "stopping",
	};

	return (unsigned)state < 4 ? names[state] : "unknown";
}

int vm_pause(struct vm *vm)
{
	struct timespec deadline;
	int ret = 0;

	if (vm_get_state(vm) == VM_STATE_STOPPING)
		return -EBUSY;
	pthread_mutex_lock(&vm->pause_lock);
	if (atomic_load(&vm->pause_requested))
		goto out;
	atomic_store(&vm->pause_requested, true);
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		if (!vm->vcpus[i].started)
			continue;
		vm->vcpus[i].run->immediate_exit = 1;
		pthread_kill(vm->vcpus[i].thread, KICK_SIGNAL);
	}
	clock_gettime(CLOCK_REALTIME, &deadline);
	deadline.tv_sec += 2;
	while (vm->nparked < vm->nactive && ret == 0)
		ret = pthread_cond_timedwait(&vm->pause_cond, &vm->pause_lock, &deadline);
	if (vm->nparked < vm->nactive) {
		log_warn("pause: %u of %u vCPUs did not stop; resuming", vm->nactive - vm->nparked,
			 vm->nactive);
		atomic_store(&vm->pause_requested, false);
		pthread_cond_broadcast(&vm->pause_cond);
		ret = -ETIMEDOUT;
		goto out;
	}
	ret = 0;
	log_notice("VM paused");
	notify_send("STATUS=Paused");
out:
	pthread_mutex_unlock(&vm->pause_lock);
	return ret;
}

int vm_resume(struct vm *vm)
{
	if (vm_get_state(vm) == VM_STATE_STOPPING)
		return -EBUSY;
	pthread_mutex_lock(&vm->pause_lock);
	if (atomic_load(&vm->pause_requested)) {
		atomic_store(&vm->pause_requested, false);
		pthread_cond_broadcast(&vm->pause_cond);
		log_notice("VM resumed");
		notify_send(atomic_load(&vm->ready) ? "STATUS=Running" : "STATUS=Starting");
	}
	pthread_mutex_unlock(&vm->pause_lock);
	return 0;
}

static int loop_setup(struct vm *vm, struct loop *l, const sigset_t *stopsigs)
{
	struct epoll_event ev = { .events = EPOLLIN };

	memset(l, 0, sizeof(*l));
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->sigfd = signalfd(-1, stopsigs, SFD_CLOEXEC | SFD_NONBLOCK);
	l->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	l->rxfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->epfd < 0 || l->sigfd < 0 || l->timerfd < 0 || l->rxfd < 0)
		return -errno;
	rx_space_fd = l->rxfd;
	vm->stop_timer_fd = l->timerfd;
	int fds[] = { l->sigfd, l->timerfd, l->rxfd, vm->wake_fd,
		      vm->ctl ? control_fd(vm->ctl) : -1 };
	for (unsigned i = 0; i < 5; i++) {
		ev.data.fd = fds[i];
		if (fds[i] >= 0 && epoll_ctl(l->epfd, EPOLL_CTL_ADD, fds[i], &ev) < 0)
			return -errno;
	}
	if (vm->cfg->console_mode == CONSOLE_STDIO) {
		l->stdin_ok = true;
		if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &l->saved_tty) == 0) {
			struct termios raw = l->saved_tty;

			/* Raw input for the guest's shell, but keep ISIG:
			 * Ctrl-C stops the VM gracefully, like any daemon. */
			cfmakeraw(&raw);
			raw.c_lflag |= ISIG;
			raw.c_oflag |= OPOST | ONLCR;
			if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
				l->tty_raw = true;
		}
		watch_stdin(l, true);
	}
	return 0;
}

static void loop_teardown(struct loop *l)
{
	if (l->tty_raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &l->saved_tty);
	rx_space_fd = -1;
	int fds[] = { l->epfd, l->sigfd, l->timerfd, l->rxfd };
	for (unsigned i = 0; i < 4; i++)
		if (fds[i] > 0)
			close(fds[i]);
}

static void drain(int fd)
{
	uint64_t v;

	while (read(fd, &v, sizeof(v)) > 0)
		;
}

int vm_run(struct vm *vm)
{
	struct sigaction sa = { .sa_handler = kick_handler };
	sigset_t stopsigs, blocked;
	struct loop l;
	int ret, code;
	unsigned started = 0;

	sigemptyset(&stopsigs);
	sigaddset(&stopsigs, SIGTERM);
	sigaddset(&stopsigs, SIGINT);
	sigaddset(&stopsigs, SIGHUP);
	blocked = stopsigs;
	sigaddset(&blocked, KICK_SIGNAL);
	/* Threads inherit this mask: stop signals arrive only through the
	 * signalfd; the kick signal is unblocked in vCPU threads alone. */
	pthread_sigmask(SIG_BLOCK, &blocked, NULL);
	sigaction(KICK_SIGNAL, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	ret = loop_setup(vm, &l, &stopsigs);
	if (ret < 0) {
		log_err("event loop setup: %s", strerror(-ret));
		loop_teardown(&l);
		return VM_EXIT_ERROR;
	}
	vm->io.enter = iothread_enter;
	ret = iothread_start(&vm->io);
	if (ret < 0) {
		log_err("starting the I/O thread: %s", strerror(-ret));
		loop_teardown(&l);
		return VM_EXIT_ERROR;
	}
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		ret = pthread_create(&vm->vcpus[i].thread, NULL, vcpu_thread, &vm->vcpus[i]);
		if (ret) {
			log_err("starting vCPU %u thread: %s", i, strerror(ret));
			vm_request_exit(vm, VM_EXIT_ERROR, "could not start every vCPU");
			break;
		}
		vm->vcpus[i].started = true;
		started++;
	}
	/* The main thread's setup ends here: from now on, its allowlist. */
	if (sandbox_enter(SANDBOX_MAIN) < 0)
		vm_request_exit(vm, VM_EXIT_ERROR, "the main thread could not load its seccomp filter");

	while (atomic_load(&vm->exit_code) < 0) {
		struct epoll_event evs[8];
		int n = epoll_wait(l.epfd, evs, 8, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_err("epoll_wait: %m");
			vm_request_exit(vm, VM_EXIT_ERROR, "event loop failed");
			break;
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == l.sigfd) {
				struct signalfd_siginfo si;

				while (read(l.sigfd, &si, sizeof(si)) == sizeof(si))
					on_stop_signal(vm, &l, (int)si.ssi_signo);
			} else if (fd == l.timerfd) {
				drain(l.timerfd);
				vm_request_exit(vm, VM_EXIT_FORCED,
						"guest did not shut down within shutdown_timeout");
			} else if (fd == l.rxfd) {
				drain(l.rxfd);
				watch_stdin(&l, true);
			} else if (fd == STDIN_FILENO) {
				read_stdin(vm, &l);
			} else if (fd == vm->wake_fd) {
				drain(vm->wake_fd);
			} else if (vm->ctl && fd == control_fd(vm->ctl)) {
				control_process(vm->ctl, vm);
			}
		}
	}

	atomic_store(&vm->stopping, true);
	/* Parked vCPUs wake up, see `stopping` and leave. */
	pthread_mutex_lock(&vm->pause_lock);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	for (unsigned i = 0; i < vm->nvcpus; i++) {
		if (!vm->vcpus[i].started)
			continue;
		vm->vcpus[i].run->immediate_exit = 1;
		pthread_kill(vm->vcpus[i].thread, KICK_SIGNAL);
	}
	for (unsigned i = 0; i < vm->nvcpus; i++)
		if (vm->vcpus[i].started)
			pthread_join(vm->vcpus[i].thread, NULL);
	(void)started;
	iothread_stop(&vm->io);
	vm->stop_timer_fd = -1;
	loop_teardown(&l);
	code = atomic_load(&vm->exit_code);
	return code < 0 ? VM_EXIT_ERROR : code;
}
