/* virtio-net's backends, what the frames travel on (struct net_backend):
 * a TAP (it speaks the same 12-byte virtio-net header, IFF_VNET_HDR, so
 * frames cross with one readv or writev), a packet socket, or for mode =
 * "user" passt's stream socket (plain Ethernet frames, length-prefixed,
 * net_stream.c, no offloads); passt restarted when its connection fails;
 * and the constructors that open each. Attaching the TAP and its ioctls
 * are in tap.c, passt in passt.c; the device itself is net.c. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include "log.h"
#include "net_stream.h"
#include "passt.h"
#include "tap.h"
#include "virtio/net.h"
#include "virtio/net-internal.h"

/* The other end is gone: passt is restarted and the new connection takes
 * over (the guest keeps its link; what was in flight is lost, as on a
 * wire); any other backend loses the link. */
void net_peer_gone(struct net *n, int err)
{
	struct net_pair *p = &n->pair[0];	/* passt's is the only pair */
	int fd;

	if (!n->passt || n->link_lost) {
		net_lose_link(n, err);
		return;
	}
	log_warn("%s: the connection to passt failed (%s); restarting passt", n->name,
		 err == ECONNRESET ? "passt closed it" : strerror(err));
	if (p->in_ep)
		epoll_ctl(n->ep, EPOLL_CTL_DEL, p->fd, NULL);
	p->in_ep = false;
	close(p->fd);
	p->fd = -1;
	net_stream_attach(&n->stream, -1);
	if (passt_restart(n->passt, &fd) < 0) {
		p->ep_events = 0;
		net_lose_link(n, err);
		return;
	}
	p->fd = fd;
	net_stream_attach(&n->stream, fd);
	if (n->ep >= 0) {
		struct epoll_event ev = { .events = p->ep_events, .data.ptr = p };

		if (epoll_ctl(n->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
			log_warn("%s: epoll_ctl: %m", n->name);
			p->ep_events = 0;
			net_lose_link(n, errno);
		} else {
			p->in_ep = true;
		}
	}
}

/* ---- the backends ---- */

/* One frame per read: the header, then the frame, wherever iov says. */
static ssize_t fd_recv_iov(struct net_pair *p, const struct iovec *iov, int cnt)
{
	size_t room = 0;
	ssize_t r;

	for (int i = 0; i < cnt; i++)
		room += iov[i].iov_len;
	do
		r = readv(p->fd, iov, cnt);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno == EAGAIN ? 0 : -errno;
	if (r == 0)	/* a TAP may read empty; a socket's peer closed */
		return p->n->be == &net_tap_backend ? 0 : -ECONNRESET;
	if ((size_t)r == room)
		return -EMSGSIZE;	/* truncated: larger than any frame */
	return r;
}

static ssize_t fd_recv(struct net_pair *p)
{
	struct iovec iov = { .iov_base = p->rxbuf, .iov_len = RX_BUF_SIZE };

	return fd_recv_iov(p, &iov, 1);
}

static int fd_send(struct net_pair *p, const struct iovec *iov, int cnt, size_t len)
{
	ssize_t w;

	(void)len;
	do
		w = writev(p->fd, iov, cnt);
	while (w < 0 && errno == EINTR);
	return w < 0 ? -errno : 0;
}

static bool socket_gone(int err)
{
	return err == ECONNRESET || err == EPIPE || tap_gone(err);
}

static ssize_t stream_recv(struct net_pair *p)
{
	ssize_t r = net_stream_recv(&p->n->stream, p->rxbuf + NET_HDR_LEN,
				    RX_BUF_SIZE - NET_HDR_LEN - 1);

	if (r <= 0)
		return r;
	/* Plain frames: no offload, checksums complete. */
	memset(p->rxbuf, 0, NET_HDR_LEN);
	return r + NET_HDR_LEN;
}

static int stream_send(struct net_pair *p, const struct iovec *iov, int cnt, size_t len)
{
	return net_stream_send(&p->n->stream, iov + 1, cnt - 1, len);
}

static bool stream_gone(int err)
{
	return err != EAGAIN && err != EMSGSIZE && err != EINVAL;
}

static int stream_flush(struct net_pair *p)
{
	return net_stream_flush(&p->n->stream);
}

const struct net_backend net_tap_backend = {
	.kind = "TAP", .vnet_hdr = true, .recv = fd_recv, .recv_iov = fd_recv_iov,
	.send = fd_send, .gone = tap_gone,
};
static const struct net_backend socket_backend = {
	.kind = "socket", .vnet_hdr = true, .recv = fd_recv, .recv_iov = fd_recv_iov,
	.send = fd_send, .gone = socket_gone,
};
static const struct net_backend stream_backend = {
	.kind = "stream", .vnet_hdr = false, .recv = stream_recv, .send = stream_send,
	.gone = stream_gone, .flush = stream_flush,
};

/* ---- construction ---- */

static int new_on_fds(const int *fds, unsigned npairs, bool stream, const uint8_t mac[6],
		      uint16_t mtu, unsigned index, struct iothread *io, struct virtio_dev **out)
{
	struct net *n = net_alloc((int)index, npairs);
	int fd = fds[0];
	int ret;

	if (!n) {
		for (unsigned i = 0; i < npairs; i++)
			close(fds[i]);
		return -ENOMEM;
	}
	n->mtu = mtu;
	n->be = stream ? &stream_backend : &socket_backend;
	for (unsigned i = 0; i < npairs; i++)
		n->pair[i].fd = fds[i];
	for (unsigned i = 0; i < npairs; i++) {
		if (fcntl(fds[i], F_SETFL, fcntl(fds[i], F_GETFL) | O_NONBLOCK) < 0) {
			virtio_net_free(&n->vd);
			return -errno;
		}
	}
	snprintf(n->ifname, sizeof(n->ifname), "fd %d", fd);
	ret = stream ? net_stream_init(&n->stream, n->name) : 0;
	if (ret == 0 && stream)
		net_stream_attach(&n->stream, fd);
	if (ret == 0)
		ret = net_setup(n, mac, io);
	if (ret < 0) {
		virtio_net_free(&n->vd);
		return ret;
	}
	*out = &n->vd;
	return 0;
}

int virtio_net_new_fd(int fd, const uint8_t mac[6], uint16_t mtu, unsigned index,
		      struct iothread *io, struct virtio_dev **out)
{
	return new_on_fds(&fd, 1, false, mac, mtu, index, io, out);
}

int virtio_net_new_fds(const int *fds, unsigned npairs, const uint8_t mac[6], uint16_t mtu,
		       unsigned index, struct iothread *io, struct virtio_dev **out)
{
	if (npairs < 1 || npairs > NET_MAX_PAIRS)
		return -EINVAL;
	return new_on_fds(fds, npairs, false, mac, mtu, index, io, out);
}

int virtio_net_new_stream(int fd, const uint8_t mac[6], uint16_t mtu, unsigned index,
			  struct iothread *io, struct virtio_dev **out)
{
	return new_on_fds(&fd, 1, true, mac, mtu, index, io, out);
}

/* mode = "user": passt, started now (vmm's child; the launcher restarts it
 * later). The MTU is what passt's DHCP gives the guest (passt.c). */
static int new_user(const struct net_config *nc, unsigned index, struct iothread *io,
		    struct virtio_dev **out)
{
	struct net *n = net_alloc((int)index, 1);
	int ret;

	if (!n)
		return -ENOMEM;
	n->be = &stream_backend;
	n->mtu = 1500;
	snprintf(n->ifname, sizeof(n->ifname), "to passt");
	snprintf(n->name, sizeof(n->name), "virtio-net %u (passt)", index);
	ret = net_stream_init(&n->stream, n->name);
	if (ret == 0)
		ret = passt_new(nc, n->name, &n->passt, &n->pair[0].fd);
	if (ret == 0) {
		net_stream_attach(&n->stream, n->pair[0].fd);
		n->irq_hold_us = nc->irq_hold_us;
		ret = net_setup(n, nc->mac, io);
	}
	if (ret < 0) {
		virtio_net_free(&n->vd);
		return ret;
	}
	*out = &n->vd;
	return 0;
}

int virtio_net_new(const struct net_config *nc, unsigned index, const struct guest_mem *mem,
		   struct iothread *io, struct virtio_dev **out)
{
	struct net *n;
	char table[24];
	int ret;

	if (nc->mode == NET_MODE_USER)
		return new_user(nc, index, io, out);
	/* The loader allows more than one queue only on a TAP by name. */
	n = net_alloc((int)index, nc->tap_fd >= 0 || nc->queues < 1 ? 1 : nc->queues);
	if (!n)
		return -ENOMEM;
	snprintf(table, sizeof(table), "net[%u]", index);
	if (nc->tap_fd >= 0) {
		ret = tap_check_fd(table, nc->tap_fd, n->ifname);
		if (ret < 0)
			goto fail;
		n->pair[0].fd = nc->tap_fd;
	} else {
		snprintf(n->ifname, sizeof(n->ifname), "%s", nc->tap);
	}
	for (unsigned i = 0; i < n->npairs; i++) {
		struct net_pair *p = &n->pair[i];

		bool single = false;

		if (p->fd < 0 && (p->fd = tap_open(table, nc->tap, i, n->npairs,
						   nc->queues_given ? NULL : &single)) < 0) {
			ret = p->fd;
			goto fail;
		}
		if (single) {
			/* The default, not the user's word: fall back, said. */
			log_notice("%s: TAP %s is single-queue (made without multi_queue): "
				   "1 queue pair instead of %u; make it with tools/netsetup or "
				   "ip tuntap add %s mode tap multi_queue for more", table,
				   nc->tap, n->npairs, nc->tap);
			n->npairs = 1;
		}
		ret = tap_set_vnet_hdr(p->fd, NET_HDR_LEN);
		if (ret < 0) {
			log_err("%s: TAP %s: setting the virtio-net header: %s", table,
				n->ifname, strerror(-ret));
			goto fail;
		}
	}
	snprintf(n->name, sizeof(n->name), "virtio-net %u (%s)", index, n->ifname);
	n->mtu = tap_mtu(n->ifname);
	n->irq_hold_us = nc->irq_hold_us;
	n->rx_zero_copy = nc->rx_zero_copy;
	/* With vhost the kernel reads and writes the TAP: vmm does not watch it. */
	ret = nc->vhost ? net_vhost_new(n, table, mem, io) : 0;
	if (ret == 0)
		ret = net_setup(n, nc->mac, nc->vhost ? NULL : io);
	if (ret < 0)
		goto fail;
	log_debug("%s: MAC %02x:%02x:%02x:%02x:%02x:%02x, MTU %u, %u queue pairs%s", n->name,
		  nc->mac[0], nc->mac[1], nc->mac[2], nc->mac[3], nc->mac[4], nc->mac[5],
		  n->mtu, n->npairs, nc->vhost ? ", vhost-net" : "");
	*out = &n->vd;
	return 0;
fail:
	virtio_net_free(&n->vd);
	return ret;
}
