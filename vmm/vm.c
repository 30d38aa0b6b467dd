/* Building and tearing down a VM: the KVM fds, guest memory, vCPU fds, the
 * devices and their cleanups, and the interrupt routing devices use. */
#include "vm-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <linux/kvm.h>

#include "arch.h"
#include "log.h"
#include "boot_timer.h"
#include "sandbox.h"
#include "i8042.h"
#include "virtio/blk.h"
#include "virtio/fs.h"
#include "virtio/net.h"
#include "virtio/rng.h"
#include "virtio/vsock.h"
#include "virtio/balloon.h"

uint64_t vmm_now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The first line of a sysfs file, without its newline; false when it
 * cannot be read. */
static bool read_sysfs_line(const char *path, char *buf, size_t size)
{
	FILE *f = fopen(path, "re");

	if (!f)
		return false;
	if (!fgets(buf, (int)size, f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return true;
}

/* Shared guest RAM (for virtio-fs) gets huge pages only where the host's
 * shmem THP policy allows: say so where it does not, since the guest then
 * boots several times slower under nested paging (docs/performance.md). */
static void note_shmem_thp(void)
{
	static const char path[] = "/sys/kernel/mm/transparent_hugepage/shmem_enabled";
	char buf[128] = "", *a, *b;

	if (!read_sysfs_line(path, buf, sizeof(buf)))
		return;
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

/* [vm] merge_pages only offers guest RAM to KSM; the host's ksmd merges
 * while /sys/kernel/mm/ksm/run is 1, and Debian leaves it 0. */
static void note_ksm_run(void)
{
	static const char path[] = "/sys/kernel/mm/ksm/run";
	char buf[16] = "";

	if (read_sysfs_line(path, buf, sizeof(buf)) && strcmp(buf, "1"))
		log_warn("[vm] merge_pages = true, but %s is %s: the host merges no "
			 "pages until it is 1 (docs/operations.md)", path, buf);
}

static unsigned long long since_start(const struct vm *vm)
{
	return (unsigned long long)(vmm_now_us() - vm->t_start_us);
}

/* ---- interrupt routing, ioeventfds ---- */

#define VM_MAX_ROUTES 1024

int vm_set_irq(struct vm *vm, uint32_t gsi, int level)
{
	struct kvm_irq_level irq = { .irq = gsi, .level = (uint32_t)level };

	if (ioctl(vm->vm_fd, KVM_IRQ_LINE, &irq) < 0) {
		log_warn_limited("KVM_IRQ_LINE %u: %m", gsi);
		return -errno;
	}
	return 0;
}

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
		log_warn_limited("KVM_SET_GSI_ROUTING: %m");
		return -errno;
	}
	return 0;
}

static int irqfd_bind(struct vm *vm, int fd, uint32_t gsi)
{
	struct kvm_irqfd irqfd = { .fd = (uint32_t)fd, .gsi = gsi };

	if (ioctl(vm->vm_fd, KVM_IRQFD, &irqfd) < 0) {
		log_err("KVM_IRQFD for GSI %u: %m", gsi);
		return -errno;
	}
	return 0;
}

int vm_irqfds_ready(struct vm *vm)
{
	int ret = 0;

	pthread_mutex_lock(&vm->routes_lock);
	vm->irqfd_defer = false;
	if (vm->nirqfd_deferred)
		ret = routes_commit(vm);
	for (unsigned i = 0; ret == 0 && i < vm->nirqfd_deferred; i++)
		ret = irqfd_bind(vm, vm->irqfd_deferred[i].fd, vm->irqfd_deferred[i].gsi);
	free(vm->irqfd_deferred);
	vm->irqfd_deferred = NULL;
	vm->nirqfd_deferred = 0;
	pthread_mutex_unlock(&vm->routes_lock);
	return ret;
}

int vm_msi_alloc(struct vm *vm, int *fdp, uint32_t *gsip)
{
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
	if (vm->irqfd_defer) {
		void *p = realloc(vm->irqfd_deferred,
				  (vm->nirqfd_deferred + 1) * sizeof(*vm->irqfd_deferred));

		ret = p ? 0 : -ENOMEM;
		if (p) {
			vm->irqfd_deferred = p;
			vm->irqfd_deferred[vm->nirqfd_deferred].fd = fd;
			vm->irqfd_deferred[vm->nirqfd_deferred++].gsi = e->gsi;
		}
	} else {
		ret = irqfd_bind(vm, fd, e->gsi);
	}
	if (ret < 0) {
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

int vm_msi_route(struct vm *vm, uint32_t gsi, uint64_t addr, uint32_t data,
		 uint32_t devid)
{
	uint32_t flags = vm->msi_devid ? KVM_MSI_VALID_DEVID : 0;
	int ret = -ENOENT;

	if (!vm->msi_devid)
		devid = 0;
	pthread_mutex_lock(&vm->routes_lock);
	for (uint32_t i = 0; i < vm->routes->nr; i++) {
		struct kvm_irq_routing_entry *e = &vm->routes->entries[i];

		if (e->gsi != gsi || e->type != KVM_IRQ_ROUTING_MSI)
			continue;
		if (e->u.msi.address_lo == (uint32_t)addr &&
		    e->u.msi.address_hi == (uint32_t)(addr >> 32) &&
		    e->u.msi.data == data && e->flags == flags && e->u.msi.devid == devid) {
			ret = 0;
			break;
		}
		e->u.msi.address_lo = (uint32_t)addr;
		e->u.msi.address_hi = (uint32_t)(addr >> 32);
		e->u.msi.data = data;
		e->flags = flags;
		e->u.msi.devid = devid;
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

/* ---- devices and their cleanups ---- */

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
		      vm_virtio_attach_fn attach, unsigned slot, const char *kind, size_t index)
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
	return attach(vm, vd, slot);
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

int vm_balloon_set(struct vm *vm, uint64_t mib)
{
	if (!vm->balloon)
		return -ENODEV;
	if (mib >= vm->cfg->memory_mib)
		return -EINVAL;
	return virtio_balloon_set_target(vm->balloon, mib << 8);
}

size_t vm_balloon_status(struct vm *vm, char *buf, size_t len)
{
	struct balloon_info bi;

	if (len)
		buf[0] = '\0';
	if (!vm->balloon)
		return 0;
	virtio_balloon_info(vm->balloon, &bi);
	return virtio_balloon_status_words(&bi, buf, len);
}

/* virtio-vsock's guest connections to port P: "<socket>_<P>", connected by
 * the launcher from the prefix registered before it forked. */
static int vsock_connect(void *ctx, uint32_t port, int *fd)
{
	return sandbox_connect_port((int)(intptr_t)ctx, port, fd);
}

static int add_vsock(struct vm *vm, vm_virtio_attach_fn attach, unsigned slot)
{
	const struct vm_config *cfg = vm->cfg;
	struct virtio_dev *vd;
	int id = sandbox_register_socket_prefix("vsock", cfg->vsock_socket), ret;

	if (id < 0) {
		log_err("virtio-vsock: registering %s_<port> with the launcher: %s",
			cfg->vsock_socket, strerror(-id));
		return id;
	}
	ret = virtio_vsock_new(cfg->vsock_cid, cfg->vsock_socket, vsock_connect,
			       (void *)(intptr_t)id, &vm->io, &vd);
	if (ret == 0)
		ret = add_virtio(vm, vd, virtio_vsock_free, attach, slot, "vsock", 0);
	/* Registered after the transport's cleanup, so run before it: the
	 * event queue still works and host clients are closed first. */
	if (ret == 0)
		ret = vm_add_cleanup(vm, virtio_vsock_stop, vd);
	return ret;
}

int vm_add_virtio_devices(struct vm *vm, vm_virtio_attach_fn attach)
{
	const struct vm_config *cfg = vm->cfg;
	struct vm_dev_ref dev[VM_DEVICES_MAX];
	struct virtio_dev *vd = NULL;
	int n = config_devices(cfg, dev), ret = 0;

	if (n < 0) {
		log_err("placing the virtio devices: %s", strerror(-n));
		return n;
	}
	/* The guest probes them by slot (PCI) or device tree order (virtio-mmio,
	 * which follows the slots too): with no pci_slot anywhere, the config's
	 * order, so the first disk is /dev/vda and the first NIC eth0. */
	for (int i = 0; ret == 0 && i < n; i++) {
		size_t k = dev[i].index;
		void (*free_fn)(void *) = NULL;
		const char *kind = "";

		switch (dev[i].kind) {
		case VM_DEV_DISK:
			ret = virtio_blk_new(&cfg->disk[k], (unsigned)k, &vm->io, &vd);
			free_fn = virtio_blk_free;
			kind = "blk";
			break;
		case VM_DEV_NET:
			ret = virtio_net_new(&cfg->net[k], (unsigned)k, &vm->mem, &vm->io, &vd);
			free_fn = virtio_net_free;
			kind = "net";
			break;
		case VM_DEV_RNG:
			vd = virtio_rng_new();	/* NULL: add_virtio says -ENOMEM */
			free_fn = virtio_rng_free;
			kind = "rng";
			break;
		case VM_DEV_FS:
			/* virtio-fs, connected to its vhost-user backend now. */
			ret = virtio_fs_new(&cfg->fs[k], &vm->mem, &vm->io, &vd);
			free_fn = virtio_fs_free;
			kind = "fs";
			break;
		case VM_DEV_VSOCK:
			ret = add_vsock(vm, attach, dev[i].slot);
			continue;
		case VM_DEV_BALLOON: {
			struct balloon_opts o = {
				.target_pages = (uint32_t)(cfg->balloon_target_mib << 8),
				.deflate_on_oom = cfg->balloon_deflate_on_oom,
				.reporting = cfg->balloon_reporting,
				.stats_interval_s = cfg->balloon_stats_interval_s,
			};

			ret = virtio_balloon_new(&o, &vm->io, &vd);
			free_fn = virtio_balloon_free;
			kind = "balloon";
			vm->balloon = vd;
			break;
		}
		}
		if (ret == 0)
			ret = add_virtio(vm, vd, free_fn, attach, dev[i].slot, kind, k);
	}
	return ret;
}

/* ---- construction ---- */

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

int vm_init(struct vm *vm, const struct vm_config *cfg, uint64_t t_start_us)
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
	/* Only a vhost-user backend ([[fs]]) needs the memory as a shared fd.
	 * [vm] huge_pages asks for transparent huge pages (false: 4 KiB ones);
	 * anonymous memory gets them on a default host, shared memory only
	 * where shmem_enabled allows (note_shmem_thp says so). */
	ret = gm_init_kind(&vm->mem, base, size, hole_start, hole_end, cfg->n_fs > 0,
				  cfg->huge_pages);
	if (ret < 0) {
		log_err("allocating %llu MiB of guest memory: %s",
			(unsigned long long)cfg->memory_mib, strerror(-ret));
		return ret;
	}
	if (cfg->n_fs > 0 && cfg->huge_pages)
		note_shmem_thp();
	/* Shared RAM ([[fs]]) cannot be merged: the config refuses that. */
	if (cfg->merge_pages) {
		ret = gm_merge(&vm->mem);
		if (ret < 0) {
			log_err("[vm] merge_pages: madvise(MADV_MERGEABLE) of guest RAM: %s%s",
				strerror(-ret), ret == -EINVAL ? " (a host kernel without "
				"KSM, CONFIG_KSM; set merge_pages = false)" : "");
			return ret;
		}
		note_ksm_run();
	}
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
	ret = vm_console_open(vm);
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
	free(vm->irqfd_deferred);
	arch_vm_destroy(vm);
	i8042_free(vm->i8042);
	boot_timer_free(vm->boot_timer);
	vm_console_close(vm);
	gm_destroy(&vm->mem);
	if (vm->wake_fd >= 0)
		close(vm->wake_fd);
	if (vm->vm_fd >= 0)
		close(vm->vm_fd);
	if (vm->kvm_fd >= 0)
		close(vm->kvm_fd);
}
