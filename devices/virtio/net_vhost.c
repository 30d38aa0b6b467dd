/* virtio-net with its data path in the host kernel (`vhost = true` on a TAP
 * [[net]]): /dev/vhost-net moves frames between the guest's rings and the
 * TAP, vmm keeps the rest of the device (config space, features, status,
 * the TAP's offloads, and with more than one queue pair the control
 * queue). vhost-net serves one receive and transmit pair per descriptor:
 * each pair has its own /dev/vhost-net, with its own TAP queue as backend,
 * the same memory table, and its own kernel worker thread. The rings go to
 * the kernel at DRIVER_OK and come back at device reset; a pair the driver
 * turns off (VQ_PAIRS_SET, net_ctrl.c) has its TAP queue detached from
 * its rings (VHOST_NET_SET_BACKEND -1) and attached again when turned on.
 * The transport's kick eventfds (KVM ioeventfds) and call eventfds (MSI-X
 * irqfds, or virtio-mmio's, which the I/O thread turns into the interrupt
 * line) are the kernel's kick and call descriptors, as for a vhost-user
 * backend (fs.c). /dev/vhost-net is opened, owned and given the guest's
 * memory when the device is built, before vmm drops its privileges;
 * DRIVER_OK and reset, on a vCPU thread, and VQ_PAIRS_SET, on the I/O
 * thread, make the few ioctls sandbox.c allows for it. */
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

/* One /dev/vhost-net per queue pair: the kernel's vhost-net serves one
 * receive and one transmit ring per descriptor (its rings 0 and 1, the
 * pair's rx and tx), with a worker thread of its own. */
struct vhost_pair {
	int fd;			/* /dev/vhost-net */
	unsigned rings;		/* bit per ring (0 rx, 1 tx) the kernel was given */
	unsigned backend;	/* bit per ring with the pair's TAP queue attached */
};

struct net_vhost {
	int err_fd;		/* VHOST_SET_VRING_ERR, every ring of every pair */
	struct iothread *io;
	uint64_t features;	/* VHOST_GET_FEATURES, pair 0's (all the same kernel) */
	struct vhost_pair pair[NET_MAX_PAIRS];
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

/* One ioctl on pair p's /dev/vhost-net, logged when it fails; 0 or -errno. */
static int vh(struct net *n, unsigned p, unsigned long req, const char *what, void *arg)
{
	if (ioctl(n->vhost->pair[p].fd, req, arg) == 0)
		return 0;
	if (n->npairs > 1)
		log_err("%s: vhost-net (pair %u) %s: %m", n->name, p, what);
	else
		log_err("%s: vhost-net %s: %m", n->name, what);
	return -errno;
}

#define VH(n, p, req, arg)	vh((n), (p), (req), #req, (arg))

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

/* Pair p's TAP queue attached to (fd) or detached from (-1) each of its
 * rings the kernel has: it serves them from the attach until the detach.
 * 0 or -errno; on an attach that fails, what it attached is detached. */
static int set_backend(struct net *n, unsigned p, bool on)
{
	struct vhost_pair *vp = &n->vhost->pair[p];
	int ret = 0;

	for (unsigned r = 0; r < 2; r++) {
		struct vhost_vring_file be = { .index = r, .fd = on ? n->pair[p].fd : -1 };

		if (!(vp->rings & (1u << r)) || !(vp->backend & (1u << r)) == !on)
			continue;
		ret = VH(n, p, VHOST_NET_SET_BACKEND, &be);
		if (ret < 0)
			break;
		vp->backend ^= 1u << r;
	}
	if (ret < 0 && on)
		set_backend(n, p, false);
	return ret;
}

int net_vhost_set_active(struct net *n, unsigned k)
{
	int ret = 0;

	/* A detach that fails is logged; the TAP queue is detached next all
	 * the same, so the pair carries no frames. */
	for (unsigned p = k; p < n->npairs; p++)
		set_backend(n, p, false);
	for (unsigned p = 0; p < k; p++) {
		ret = set_backend(n, p, true);
		if (ret < 0) {
			/* None of the pairs this call was to turn on stays on. */
			for (unsigned q = n->active; q < k; q++)
				set_backend(n, q, false);
			return ret;
		}
	}
	return 0;
}

/* Detaches the TAP from every ring and stops them; the kernel keeps
 * nothing of the guest's buffers. */
void net_vhost_stop(struct net *n)
{
	for (unsigned p = 0; p < n->npairs; p++) {
		struct vhost_pair *vp = &n->vhost->pair[p];

		for (unsigned r = 0; r < 2; r++) {
			struct vhost_vring_file be = { .index = r, .fd = -1 };
			struct vhost_vring_state st = { .index = r };

			/* A ring without a TAP is served by nobody: its
			 * addresses are replaced at the next DRIVER_OK. */
			if (!(vp->backend & (1u << r)))
				continue;
			if (VH(n, p, VHOST_NET_SET_BACKEND, &be) == 0 &&
			    VH(n, p, VHOST_GET_VRING_BASE, &st) == 0)
				log_debug("%s: vhost-net queue %u stopped at avail index %u",
					  n->name, 2 * p + r, st.num);
		}
		vp->rings = vp->backend = 0;
	}
}

/* Queue q of the device is ring r of pair p's /dev/vhost-net. */
static int give_ring(struct net *n, unsigned p, unsigned r)
{
	const struct virtq *vq = &n->vd.vq[2 * p + r];
	struct vhost_vring_state num = { .index = r, .num = vq->size };
	struct vhost_vring_state base = { .index = r, .num = 0 };
	struct vhost_vring_addr addr = {
		.index = r,
		.desc_user_addr = (uintptr_t)vq->desc_hva,
		.used_user_addr = (uintptr_t)vq->used_hva,
		.avail_user_addr = (uintptr_t)vq->avail_hva,
	};
	struct vhost_vring_file kick = { .index = r }, call = { .index = r };
	int ret;

	n->vd.tops->queue_fds(&n->vd, 2 * p + r, &kick.fd, &call.fd);
	ret = VH(n, p, VHOST_SET_VRING_NUM, &num);
	if (ret == 0)
		ret = VH(n, p, VHOST_SET_VRING_BASE, &base);
	if (ret == 0)
		ret = VH(n, p, VHOST_SET_VRING_ADDR, &addr);
	if (ret == 0)
		ret = VH(n, p, VHOST_SET_VRING_CALL, &call);
	if (ret == 0)
		ret = VH(n, p, VHOST_SET_VRING_KICK, &kick);
	if (ret == 0)
		n->vhost->pair[p].rings |= 1u << r;
	return ret;
}

/* Every pair gets its rings (those the driver enabled); the pairs in use
 * (n->active, 1 after a reset) get their TAP queue, last: from there the
 * kernel moves frames. The others wait, rings given, for VQ_PAIRS_SET. */
int net_vhost_start(struct net *n)
{
	uint64_t f = virtio_net_vhost_acked(n->vd.features);
	int ret = 0;

	for (unsigned p = 0; ret == 0 && p < n->npairs; p++) {
		ret = VH(n, p, VHOST_SET_FEATURES, &f);
		for (unsigned r = 0; ret == 0 && r < 2; r++)
			if (n->vd.vq[2 * p + r].ready)
				ret = give_ring(n, p, r);
		if (ret == 0 && p < n->active)
			ret = set_backend(n, p, true);
	}
	if (ret < 0) {
		net_vhost_stop(n);
		return -EIO;
	}
	log_debug("%s: rings handed to vhost-net (features 0x%llx, %u of %u pairs on)", n->name,
		  (unsigned long long)f, n->active, n->npairs);
	return 0;
}

static const char *pair_state(const struct vhost_pair *vp)
{
	return vp->backend ? "running" : vp->rings ? "off" : "stopped";
}

/* Pair 0 as vhost=, the others as pN.vhost=: running (the kernel moves its
 * frames), off (rings given, the driver turned the pair off), stopped. */
size_t net_vhost_describe(struct net *n, char *buf, size_t len)
{
	size_t o = fmt_into(buf, len, " tap=%s vhost=%s", n->ifname,
			    pair_state(&n->vhost->pair[0]));

	if (n->npairs < 2)
		return o;
	o += fmt_into(buf + o, len - o, " pairs=%u active=%u ctrl_cmds=%llu ctrl_errors=%llu",
		      n->npairs, n->active, (unsigned long long)n->ctrl_cmds,
		      (unsigned long long)n->ctrl_errors);
	for (unsigned p = 1; p < n->npairs; p++)
		o += fmt_into(buf + o, len - o, " p%u.vhost=%s", p, pair_state(&n->vhost->pair[p]));
	return o;
}

/* Pair p's /dev/vhost-net: opened, owned (the kernel's worker thread for
 * it starts), its features read, the guest's memory and the error eventfd
 * given. */
static int open_pair(struct net *n, unsigned p, const char *table,
		     const struct vhost_memory *mem)
{
	struct net_vhost *v = n->vhost;
	struct vhost_vring_file err = { .fd = v->err_fd };
	uint64_t features;
	int ret;

	v->pair[p].fd = net_vhost_open(table, VHOST_NET_PATH);
	if (v->pair[p].fd < 0)
		return v->pair[p].fd;
	ret = VH(n, p, VHOST_SET_OWNER, NULL);
	if (ret == 0)
		ret = VH(n, p, VHOST_GET_FEATURES, &features);
	if (ret < 0)
		return ret;
	if (p == 0)
		v->features = features;
	/* The 12-byte header the TAP was given (TUNSETVNETHDRSZ) is the one
	 * the kernel expects with VERSION_1. */
	if (!(features & (1ULL << VIRTIO_F_VERSION_1))) {
		log_err("%s: vhost: the kernel's vhost-net lacks VIRTIO_F_VERSION_1 (features "
			"0x%llx); set vhost = false", table, (unsigned long long)features);
		return -EOPNOTSUPP;
	}
	ret = VH(n, p, VHOST_SET_MEM_TABLE, (void *)mem);
	for (unsigned r = 0; ret == 0 && r < 2; r++) {
		err.index = r;
		ret = VH(n, p, VHOST_SET_VRING_ERR, &err);
	}
	return ret;
}

int net_vhost_new(struct net *n, const char *table, const struct guest_mem *mem,
		  struct iothread *io)
{
	union {	/* the header and its regions[] */
		struct vhost_memory h;
		char room[sizeof(struct vhost_memory) +
			  GUEST_MEM_MAX_REGIONS * sizeof(struct vhost_memory_region)];
	} table_mem;
	struct net_vhost *v = calloc(1, sizeof(*v));
	int ret;

	if (!v)
		return -ENOMEM;
	v->err_fd = -1;
	for (unsigned p = 0; p < NET_MAX_PAIRS; p++)
		v->pair[p].fd = -1;
	v->io = io;
	n->vhost = v;
	ret = virtio_net_vhost_mem(mem, &table_mem.h, GUEST_MEM_MAX_REGIONS);
	if (ret < 0)
		return ret;
	v->err_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (v->err_fd < 0)
		return -errno;
	for (unsigned p = 0; ret == 0 && p < n->npairs; p++)
		ret = open_pair(n, p, table, &table_mem.h);
	if (ret == 0)
		ret = iothread_add(io, v->err_fd, on_err, n);
	if (ret == 0)
		log_debug("%s: vhost-net features 0x%llx, %u instance%s", n->name,
			  (unsigned long long)v->features, n->npairs, n->npairs > 1 ? "s" : "");
	return ret;
}

void net_vhost_free(struct net *n)
{
	struct net_vhost *v = n->vhost;

	if (!v)
		return;
	/* Closing a device stops its kernel worker and drops the TAP queue. */
	for (unsigned p = 0; p < NET_MAX_PAIRS; p++)
		if (v->pair[p].fd >= 0)
			close(v->pair[p].fd);
	if (v->err_fd >= 0)
		close(v->err_fd);
	free(v);
	n->vhost = NULL;
}
