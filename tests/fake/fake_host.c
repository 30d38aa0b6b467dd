/* The fake dev_host of fake_host.h: real memory, bus and I/O thread; the
 * KVM calls recorded. */
#include "fake_host.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>

static int fake_set_irq(void *ctx, uint32_t gsi, int level)
{
	struct fake_host *f = ctx;

	atomic_fetch_add(&f->irq_calls, 1);
	if (gsi >= FAKE_HOST_GSIS)
		return -EINVAL;
	atomic_store(&f->irq_level[gsi], level);
	return 0;
}

static int fake_msi_alloc(void *ctx, int *fd, uint32_t *gsi)
{
	struct fake_host *f = ctx;

	if (f->msi_error)
		return f->msi_error;
	*fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (*fd < 0)
		return -errno;
	*gsi = f->next_gsi++;
	f->msi_allocs++;
	return 0;
}

static int fake_msi_route(void *ctx, uint32_t gsi, uint64_t addr, uint32_t data,
			  uint32_t devid)
{
	struct fake_host *f = ctx;

	f->msi_routes++;
	f->msi_route_devid = devid;
	return 0;
}

static int fake_ioeventfd(void *ctx, uint64_t addr, uint32_t len, bool datamatch,
			  uint64_t data, int fd)
{
	struct fake_host *f = ctx;

	f->ioeventfds++;
	f->ioeventfd_addr = addr;
	f->ioeventfd_len = len;
	f->ioeventfd_datamatch = datamatch;
	f->ioeventfd_data = data;
	return 0;
}

static int fake_add_cleanup(void *ctx, void (*fn)(void *), void *opaque)
{
	struct fake_host *f = ctx;

	if (f->ncleanups == FAKE_HOST_CLEANUPS)
		return -ENOSPC;
	f->cleanups[f->ncleanups].fn = fn;
	f->cleanups[f->ncleanups].opaque = opaque;
	f->ncleanups++;
	return 0;
}

static const struct dev_host_ops fake_ops = {
	.set_irq = fake_set_irq,
	.msi_alloc = fake_msi_alloc,
	.msi_route = fake_msi_route,
	.ioeventfd = fake_ioeventfd,
	.add_cleanup = fake_add_cleanup,
};

int fake_host_init(struct fake_host *f, uint64_t ram)
{
	int ret;

	memset(f, 0, sizeof(*f));
	for (unsigned i = 0; i < FAKE_HOST_GSIS; i++)
		atomic_init(&f->irq_level[i], -1);
	f->next_gsi = FAKE_HOST_MSI_GSI;
	f->io.epfd = f->io.stop_fd = -1;
	bus_init(&f->mmio, "mmio");
	ret = gm_init(&f->mem, 0, ram, 0, 0);
	if (ret < 0)
		return ret;
	ret = iothread_init(&f->io);
	if (ret < 0) {
		gm_destroy(&f->mem);
		return ret;
	}
	f->host = (struct dev_host){
		.ops = &fake_ops, .ctx = f, .mem = &f->mem, .mmio = &f->mmio, .io = &f->io,
	};
	return 0;
}

void fake_host_destroy(struct fake_host *f)
{
	iothread_stop(&f->io);
	while (f->ncleanups > 0) {
		f->ncleanups--;
		f->cleanups[f->ncleanups].fn(f->cleanups[f->ncleanups].opaque);
	}
	iothread_destroy(&f->io);
	gm_destroy(&f->mem);
}
