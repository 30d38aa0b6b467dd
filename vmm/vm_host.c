/* The VM as devices see it: struct dev_host (devices/host.h) over the KVM
 * helpers of vm.c, so that the transports need not know struct vm. */
#include "host.h"
#include "vm.h"

static int host_set_irq(void *ctx, uint32_t gsi, int level)
{
	return vm_set_irq(ctx, gsi, level);
}

static int host_msi_alloc(void *ctx, int *fd, uint32_t *gsi)
{
	return vm_msi_alloc(ctx, fd, gsi);
}

static int host_msi_route(void *ctx, uint32_t gsi, uint64_t addr, uint32_t data,
			  uint32_t devid)
{
	return vm_msi_route(ctx, gsi, addr, data, devid);
}

static int host_ioeventfd(void *ctx, uint64_t addr, uint32_t len, bool datamatch,
			  uint64_t data, int fd)
{
	if (datamatch)
		return vm_ioeventfd_data(ctx, addr, len, data, fd);
	return vm_ioeventfd(ctx, addr, len, fd);
}

static int host_add_cleanup(void *ctx, void (*fn)(void *opaque), void *opaque)
{
	return vm_add_cleanup(ctx, fn, opaque);
}

static const struct dev_host_ops vm_host_ops = {
	.set_irq = host_set_irq,
	.msi_alloc = host_msi_alloc,
	.msi_route = host_msi_route,
	.ioeventfd = host_ioeventfd,
	.add_cleanup = host_add_cleanup,
};

void vm_host_init(struct vm *vm)
{
	vm->host = (struct dev_host){
		.ops = &vm_host_ops, .ctx = vm,
		.mem = &vm->mem, .mmio = &vm->mmio, .io = &vm->io,
	};
}
