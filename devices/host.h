/* What a device transport may ask of the machine it is attached to: guest
 * memory, the MMIO bus, the I/O thread, interrupts, ioeventfds and teardown.
 * The transports (virtio/pci.c, virtio/mmio.c) take a `struct dev_host *` at
 * attach time instead of the whole VM, so they never see struct vm; the VMM
 * fills one per VM (vmm/vm_host.c), unit tests hand them a fake
 * (tests/fake/fake_host.h). In the spirit of Firecracker's VirtioInterrupt. */
#ifndef VMM_DEVICES_HOST_H
#define VMM_DEVICES_HOST_H

#include <stdbool.h>
#include <stdint.h>

struct guest_mem;
struct io_bus;
struct iothread;

/* Each op returns 0 or -errno and gets `ctx` back as its first argument. */
struct dev_host_ops {
	/* Sets the level of a wired interrupt line (a GSI as the in-kernel
	 * irqchip numbers it). virtio-mmio's line, from vCPU threads (register
	 * writes) and the I/O thread (completions), under the device's lock. */
	int (*set_irq)(void *ctx, uint32_t gsi, int level);
	/* A new MSI GSI and an eventfd bound to it (KVM_IRQFD): writing the fd
	 * interrupts the guest. The fd becomes the caller's to close. The route
	 * points nowhere useful until msi_route. At attach, main thread. */
	int (*msi_alloc)(void *ctx, int *fd, uint32_t *gsi);
	/* Points a GSI from msi_alloc at an MSI address/data pair sent by the
	 * PCI function `devid` (its requester ID, bus << 8 | device << 3 |
	 * function), which an arm64 GICv3 ITS translates by and x86_64
	 * ignores. From vCPU threads (MSI-X table writes), under the device's
	 * lock. */
	int (*msi_route)(void *ctx, uint32_t gsi, uint64_t addr, uint32_t data,
			 uint32_t devid);
	/* Guest writes of `len` bytes to MMIO `addr` (of exactly `data` when
	 * `datamatch`) signal `fd` in the kernel instead of exiting to us
	 * (KVM_IOEVENTFD). The fd stays the caller's. At attach, main thread. */
	int (*ioeventfd)(void *ctx, uint64_t addr, uint32_t len, bool datamatch,
			 uint64_t data, int fd);
	/* Runs fn(opaque) when the machine is torn down, after the I/O thread
	 * stopped, last registered first. At attach, main thread. */
	int (*add_cleanup)(void *ctx, void (*fn)(void *opaque), void *opaque);
};

struct dev_host {
	const struct dev_host_ops *ops;
	void *ctx;			/* the ops' first argument (the VM) */
	struct guest_mem *mem;		/* where the queues' rings live */
	struct io_bus *mmio;		/* register windows go here, at attach */
	struct iothread *io;		/* kick and completion fds are watched here */
};

static inline int dev_host_set_irq(struct dev_host *h, uint32_t gsi, int level)
{
	return h->ops->set_irq(h->ctx, gsi, level);
}

static inline int dev_host_msi_alloc(struct dev_host *h, int *fd, uint32_t *gsi)
{
	return h->ops->msi_alloc(h->ctx, fd, gsi);
}

static inline int dev_host_msi_route(struct dev_host *h, uint32_t gsi, uint64_t addr,
				     uint32_t data, uint32_t devid)
{
	return h->ops->msi_route(h->ctx, gsi, addr, data, devid);
}

static inline int dev_host_ioeventfd(struct dev_host *h, uint64_t addr, uint32_t len,
				     bool datamatch, uint64_t data, int fd)
{
	return h->ops->ioeventfd(h->ctx, addr, len, datamatch, data, fd);
}

static inline int dev_host_add_cleanup(struct dev_host *h, void (*fn)(void *opaque),
				       void *opaque)
{
	return h->ops->add_cleanup(h->ctx, fn, opaque);
}

#endif
