/* virtio-net with its data path in the host kernel (`vhost = true` on a TAP
 * [[net]]): /dev/vhost-net moves frames between the guest's rings and the
 * TAP, vmm keeps the rest of the device (config space, features, status,
 * the TAP's offloads). The rings go to the kernel at DRIVER_OK and come
 * back at device reset; the transport's kick eventfds (KVM ioeventfds) and
 * call eventfds (MSI-X irqfds, or virtio-mmio's, which the I/O thread turns
 * into the interrupt line) are the kernel's kick and call descriptors, as
 * for a vhost-user backend (fs.c). /dev/vhost-net is opened, owned and
 * given the guest's memory when the device is built, before vmm drops its
 * privileges; DRIVER_OK and reset, on a vCPU thread, make the few ioctls
 * sandbox.c allows for it. */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>		/* IFNAMSIZ, for net-internal.h */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/vhost.h>

#include "iothread.h"
#include "log.h"
#include "memory.h"
#include "virtio/net-internal.h"

#define VHOST_NET_PATH	"/dev/vhost-net"

/* The ring and header bits the kernel implements, and so offers (or not)
 * in VHOST_GET_FEATURES: vmm offers the guest one only where the kernel
 * has it. VIRTIO_F_ANY_LAYOUT is bit 27, which vhost-net reads as
 * VHOST_NET_F_VIRTIO_NET_HDR (the kernel would make the header itself,
 * for a TAP without one): never sent. */
#define VHOST_RING_BITS	(1ULL << VIRTIO_RING_F_INDIRECT_DESC | 1ULL << VIRTIO_RING_F_EVENT_IDX | \
			 1ULL << VIRTIO_NET_F_MRG_RXBUF | 1ULL << VIRTIO_F_VERSION_1)

struct net_vhost {
	int fd;			/* /dev/vhost-net */
	int err_fd;		/* VHOST_SET_VRING_ERR, both queues */
	struct iothread *io;
	uint64_t features;	/* VHOST_GET_FEATURES */
	unsigned started;	/* bit per queue the kernel serves */
};

uint64_t virtio_net_vhost_offered(uint64_t device, uint64_t vhost)
{
	return device & ~(VHOST_RING_BITS & ~vhost);
}

uint64_t virtio_net_vhost_acked(uint64_t driver)
{
	return driver & VHOST_RING_BITS;
}

uint64_t net_vhost_offered(const struct net *n, uint64_t device)
{
	return virtio_net_vhost_offered(device, n->vhost->features);
}

int virtio_net_vhost_mem(const struct guest_mem *m, struct vhost_memory *out, unsigned max)
{
	if (m->nregions > max)
		return -E2BIG;
	out->nregions = m->nregions;
	out->padding = 0;
	for (unsigned i = 0; i < m->nregions; i++)
		out->regions[i] = (struct vhost_memory_region){
			.guest_phys_addr = m->regions[i].gpa,
			.memory_size = m->regions[i].size,
			.userspace_addr = (uintptr_t)m->regions[i].hva,
		};
	return 0;
}

int net_vhost_open(const char *table, const char *path)
{
	int fd = open(path, O_RDWR | O_CLOEXEC), err = errno;

	if (fd >= 0)
		return fd;
	if (err == ENOENT || err == ENODEV || err == ENXIO)
		log_err("%s: vhost: %s: %s (the host kernel's vhost-net is not loaded: "
			"modprobe vhost_net; or set vhost = false)", table, path, strerror(err));
	else if (err == EACCES || err == EPERM)
		log_err("%s: vhost: %s: %s (vmm needs read and write access to it, as to "
			"the TAP: run vmm as root, or give its user access to %s)", table,
			path, strerror(err), path);
	else
		log_err("%s: vhost: %s: %s", table, path, strerror(err));
	return -err;
}

/* One ioctl, logged when it fails; 0 or -errno. */
static int vh(struct net *n, unsigned long req, const char *what, void *arg)
{
	if (ioctl(n->vhost->fd, req, arg) == 0)
		return 0;
	log_err("%s: vhost-net %s: %m", n->name, what);
	return -errno;
}

#define VH(n, req, arg)	vh((n), (req), #req, (arg))

/* The kernel found a ring it cannot serve (an address outside guest
 * memory, a broken chain): the driver must reset the device. */
static void on_err(void *opaque, uint32_t events)
{
	struct net *n = opaque;
	uint64_t cnt;

	(void)events;
	if (read(n->vhost->err_fd, &cnt, sizeof(cnt)) != sizeof(cnt))
		return;
	pthread_mutex_lock(&n->vd.lock);
	log_warn_limited("%s: vhost-net reported a broken ring; the driver must reset the device",
			 n->name);
	virtio_dev_needs_reset(&n->vd);
	pthread_mutex_unlock(&n->vd.lock);
}

/* Detaches the TAP from every queue and stops the rings; the kernel keeps
 * nothing of the guest's buffers. */
void net_vhost_stop(struct net *n)
{
	for (unsigned q = 0; q < 2; q++) {
		struct vhost_vring_file be = { .index = q, .fd = -1 };
		struct vhost_vring_state st = { .index = q };

		if (!(n->vhost->started & (1u << q)))
			continue;
		if (VH(n, VHOST_NET_SET_BACKEND, &be) == 0 &&
		    VH(n, VHOST_GET_VRING_BASE, &st) == 0)
			log_debug("%s: vhost-net queue %u stopped at avail index %u", n->name, q,
				  st.num);
	}
	n->vhost->started = 0;
}

static int start_queue(struct net *n, unsigned q)
{
	const struct virtq *vq = &n->vd.vq[q];
	struct vhost_vring_state num = { .index = q, .num = vq->size };
	struct vhost_vring_state base = { .index = q, .num = 0 };
	struct vhost_vring_addr addr = {
		.index = q,
		.desc_user_addr = (uintptr_t)vq->desc_hva,
		.used_user_addr = (uintptr_t)vq->used_hva,
		.avail_user_addr = (uintptr_t)vq->avail_hva,
	};
	struct vhost_vring_file kick = { .index = q }, call = { .index = q };
	struct vhost_vring_file be = { .index = q, .fd = n->pair[0].fd };
	int ret;

	n->vd.tops->queue_fds(&n->vd, q, &kick.fd, &call.fd);
	ret = VH(n, VHOST_SET_VRING_NUM, &num);
	if (ret == 0)
		ret = VH(n, VHOST_SET_VRING_BASE, &base);
	if (ret == 0)
		ret = VH(n, VHOST_SET_VRING_ADDR, &addr);
	if (ret == 0)
		ret = VH(n, VHOST_SET_VRING_CALL, &call);
	if (ret == 0)
		ret = VH(n, VHOST_SET_VRING_KICK, &kick);
	/* The TAP last: from here the kernel moves frames. */
	if (ret == 0)
		ret = VH(n, VHOST_NET_SET_BACKEND, &be);
	if (ret == 0)
		n->vhost->started |= 1u << q;
	return ret;
}

int net_vhost_start(struct net *n)
{
	uint64_t f = virtio_net_vhost_acked(n->vd.features);
	int ret = VH(n, VHOST_SET_FEATURES, &f);

	for (unsigned q = 0; ret == 0 && q < 2; q++)
		if (n->vd.vq[q].ready)
			ret = start_queue(n, q);
	if (ret < 0) {
		net_vhost_stop(n);
		return -EIO;
	}
	log_debug("%s: rings handed to vhost-net (features 0x%llx)", n->name,
		  (unsigned long long)f);
	return 0;
}

size_t net_vhost_describe(struct net *n, char *buf, size_t len)
{
	return fmt_into(buf, len, " tap=%s vhost=%s", n->ifname,
			n->vhost->started ? "running" : "stopped");
}

int net_vhost_new(struct net *n, const char *table, const struct guest_mem *mem,
		  struct iothread *io)
{
	union {	/* the header and its regions[] */
		struct vhost_memory h;
		char room[sizeof(struct vhost_memory) +
			  GUEST_MEM_MAX_REGIONS * sizeof(struct vhost_memory_region)];
	} table_mem;
	struct vhost_vring_file err = { .fd = -1 };
	struct net_vhost *v = calloc(1, sizeof(*v));
	int ret;

	if (!v)
		return -ENOMEM;
	v->fd = v->err_fd = -1;
	v->io = io;
	n->vhost = v;
	v->fd = net_vhost_open(table, VHOST_NET_PATH);
	if (v->fd < 0)
		return v->fd;
	ret = VH(n, VHOST_SET_OWNER, NULL);
	if (ret == 0)
		ret = VH(n, VHOST_GET_FEATURES, &v->features);
	if (ret < 0)
		return ret;
	/* The 12-byte header the TAP was given (TUNSETVNETHDRSZ) is the one
	 * the kernel expects with VERSION_1. */
	if (!(v->features & (1ULL << VIRTIO_F_VERSION_1))) {
		log_err("%s: vhost: the kernel's vhost-net lacks VIRTIO_F_VERSION_1 (features "
			"0x%llx); set vhost = false", table, (unsigned long long)v->features);
		return -EOPNOTSUPP;
	}
	ret = virtio_net_vhost_mem(mem, &table_mem.h, GUEST_MEM_MAX_REGIONS);
	if (ret == 0)
		ret = VH(n, VHOST_SET_MEM_TABLE, &table_mem.h);
	if (ret < 0)
		return ret;
	v->err_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (v->err_fd < 0)
		return -errno;
	err.fd = v->err_fd;
	for (unsigned q = 0; ret == 0 && q < 2; q++) {
		err.index = q;
		ret = VH(n, VHOST_SET_VRING_ERR, &err);
	}
	if (ret == 0)
		ret = iothread_add(io, v->err_fd, on_err, n);
	if (ret == 0)
		log_debug("%s: vhost-net features 0x%llx", n->name,
			  (unsigned long long)v->features);
	return ret;
}

void net_vhost_free(struct net *n)
{
	struct net_vhost *v = n->vhost;

	if (!v)
		return;
	/* Closing the device stops the kernel's worker and drops the TAP. */
	if (v->fd >= 0)
		close(v->fd);
	if (v->err_fd >= 0)
		close(v->err_fd);
	free(v);
	n->vhost = NULL;
}
