/* virtio-net, the device: the receive and transmit paths between the
 * guest's queues and a backend (struct net_backend, net_backend.c: a TAP,
 * a packet socket, or passt's stream socket, and the constructors), the
 * device ops, the I/O thread's events, the set-up every constructor shares
 * and the teardown. The header rules are in net_hdr.c. Every chain the
 * driver gives is checked here; a bad frame is dropped and counted, never
 * a crash. */
#include "virtio/net.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include "iothread.h"
#include "log.h"
#include "net_stream.h"
#include "passt.h"
#include "tap.h"
#include "virtio/net-internal.h"

/* Frames taken from the TAP per wakeup, so that transmit gets its turn. */
#define RX_BUDGET	64
/* iovecs handed to writev; a chain with more is copied into txbuf. */
#define TX_MAX_IOV	64

/* ---- the descriptor the I/O thread watches ---- */

/* Driver mistakes are logged once per device: a guest must not flood the
 * log. They are all counted. */
static void guest_error(struct net *n, const char *why)
{
	if (n->warned_guest)
		return;
	n->warned_guest = true;
	log_warn("%s: dropped a frame from the driver: %s (further ones only counted)",
		 n->name, why);
}

static void watch(struct net *n, bool rx, bool tx)
{
	uint32_t want = (rx ? EPOLLIN : 0) | (tx ? EPOLLOUT : 0);
	struct epoll_event ev = { .events = want, .data.ptr = n };

	if (n->ep < 0 || n->link_lost || want == n->ep_events)
		return;
	if (epoll_ctl(n->ep, EPOLL_CTL_MOD, n->fd, &ev) < 0)
		log_warn("%s: epoll_ctl: %m", n->name);
	else
		n->ep_events = want;
}

static bool rx_watched(const struct net *n) { return n->ep_events & EPOLLIN; }

/* The TAP went away (deleted, or the fd detached): stop watching it, tell
 * the guest its link is down. */
void net_lose_link(struct net *n, int err)
{
	if (n->link_lost)
		return;
	log_warn("%s: %s %s: %s; the guest's link is down from now on", n->name,
		 n->be->kind, n->ifname, strerror(err));
	if (n->ep >= 0)
		epoll_ctl(n->ep, EPOLL_CTL_DEL, n->fd, NULL);
	n->ep_events = 0;
	n->link_lost = true;
	n->config.status = 0;
	n->vd.config_gen++;
	if (n->vd.status & VIRTIO_CONFIG_S_DRIVER_OK)
		n->vd.tops->signal_config(&n->vd);
}

/* ---- receive ---- */

static struct rx_slot *slot(struct net *n, unsigned i)
{
	return &n->stash[(n->stash_first + i) % NET_QUEUE_SIZE];
}

/* Takes one more RX chain into the stash. 1: taken; 0: the ring is empty;
 * -EIO: the ring is broken (or the driver gave a chain we hold twice). */
static int stash_one(struct net *n)
{
	struct virtq *q = &n->vd.vq[NET_RXQ];
	struct virtq_chain *c = &n->rxc;
	struct rx_slot *s;
	int r;

	for (;;) {
		r = virtq_pop(q, c);
		if (r <= 0)
			return r;
		if (n->stashed[c->head]) {
			log_warn_limited("%s: driver made RX buffer %u available twice", n->name,
				 c->head);
			q->broken = true;
			q->error = "RX chain made available while in use";
			return -EIO;
		}
		if (c->write_bytes)
			break;
		/* Nothing to receive into: give it back empty. */
		n->st.rx_bad_buffers++;
		if (virtq_push(q, c->head, 0) < 0)
			return -EIO;
	}
	s = slot(n, n->nstash);
	s->head = c->head;
	/* Buffers past RX_SLOT_IOV are left unused: less room, not an error. */
	r = virtq_chain_iov(c, true, 0, UINT64_MAX, s->iov, RX_SLOT_IOV, &s->cap);
	s->niov = r < 0 ? RX_SLOT_IOV : (unsigned)r;
	n->stashed[c->head] = true;
	n->nstash++;
	return 1;
}

/* Copies len bytes of src into the slot's buffers. */
static void slot_fill(const struct rx_slot *s, const uint8_t *src, size_t len)
{
	for (unsigned i = 0; i < s->niov && len; i++) {
		size_t l = s->iov[i].iov_len < len ? s->iov[i].iov_len : len;

		memcpy(s->iov[i].iov_base, src, l);
		src += l;
		len -= l;
	}
}

/*
 * Places the held frame (rxbuf, rx_len bytes, header first) in the guest's
 * buffers: one chain, or with MRG_RXBUF as many as it takes. 1: delivered,
 * or dropped and counted; 0: the ring has too little room yet (the frame
 * stays held); -EIO: the ring is broken.
 */
static int rx_place(struct net *n)
{
	struct virtq *q = &n->vd.vq[NET_RXQ];
	bool mrg = n->vd.features & (1ULL << VIRTIO_NET_F_MRG_RXBUF);
	struct virtio_net_hdr_v1 *h = (struct virtio_net_hdr_v1 *)n->rxbuf;
	const uint8_t *p = n->rxbuf;
	size_t left = n->rx_len;
	unsigned need = 0;
	uint64_t cap = 0;
	int r;

	while (cap < n->rx_len) {
		if (need == n->nstash) {
			/* Holding every buffer the ring has: no more can come. */
			if (n->nstash >= q->size)
				break;
			r = stash_one(n);
			if (r <= 0)
				return r;
		}
		cap += slot(n, need)->cap;
		need++;
		if (!mrg)
			break;
	}
	if (cap < n->rx_len) {
		/* The guest's buffers can never hold it. Keep them for the
		 * next frame. */
		n->st.rx_too_big++;
		return 1;
	}
	if (virtio_net_rx_hdr(h, n->vd.features, n->rx_len - NET_HDR_LEN,
			      (uint16_t)need) < 0) {
		n->st.rx_bad_hdr++;
		return 1;
	}
	for (unsigned i = 0; i < need; i++) {
		struct rx_slot *s = slot(n, 0);
		size_t l = s->cap < left ? (size_t)s->cap : left;

		slot_fill(s, p, l);
		p += l;
		left -= l;
		n->stashed[s->head] = false;
		n->stash_first = (n->stash_first + 1) % NET_QUEUE_SIZE;
		n->nstash--;
		if (virtq_push(q, s->head, (uint32_t)l) < 0)
			return -EIO;
	}
	n->st.rx_packets++;
	n->st.rx_bytes += n->rx_len - NET_HDR_LEN;
	net_irq_moved(&n->irq, n->rx_len - NET_HDR_LEN);
	return 1;
}

/* Reads the next frame into rxbuf. 1: held; 0: none waiting (or passt
 * was just restarted); -1: the other end is gone and the link with it.
 * Runts and oversized frames are counted and skipped. */
static int rx_read(struct net *n)
{
	for (;;) {
		ssize_t r = n->be->recv(n);

		if (r == 0)
			return 0;
		if (r == -EMSGSIZE) {
			n->st.rx_too_big++;
			continue;
		}
		if (r < 0) {
			if (n->be->gone((int)-r)) {
				/* A restarted passt's socket is watched afresh:
				 * nothing to read now, nothing broken. */
				net_peer_gone(n, (int)-r);
				return n->link_lost ? -1 : 0;
			}
			if (!n->warned_tap) {
				n->warned_tap = true;
				log_warn("%s: reading %s %s: %s", n->name, n->be->kind, n->ifname,
					 strerror((int)-r));
			}
			return 0;
		}
		if ((size_t)r < NET_HDR_LEN + 14) {
			n->st.rx_bad_hdr++;
			continue;
		}
		n->rx_len = (size_t)r;
		n->rx_held = true;
		return 1;
	}
}

/* Moves frames from the TAP to the guest until the TAP is empty, the guest
 * is out of buffers or the budget is spent. Lock held. */
static void rx_run(struct net *n)
{
	struct virtq *q = &n->vd.vq[NET_RXQ];
	bool pushed = false;
	int r = 0;

	if (n->link_lost)
		return;
	if (!virtio_dev_queue_live(&n->vd, NET_RXQ)) {
		watch(n, false, n->tx_held);
		return;
	}
	for (unsigned budget = RX_BUDGET; budget; budget--) {
		if (!n->rx_held && (r = rx_read(n)) <= 0)
			break;
		r = rx_place(n);
		/* Out of buffers: wait for the next RX kick. Buffers added
		 * before the driver sees avail_event get no kick, hence the
		 * second look; and when those are still too few for a merged
		 * frame, avail_event must move past them too, or the driver's
		 * next buffers cross no event and the ring waits forever. Each
		 * round takes at least one buffer, so this ends. */
		while (r == 0) {
			virtq_set_avail_event(q);
			r = virtq_pending(q);
			if (r > 0)
				r = rx_place(n);
			else
				break;
		}
		if (r == 0) {
			watch(n, false, n->tx_held);
			break;
		}
		if (r < 0)
			break;
		n->rx_held = false;
		pushed = true;
	}
	if (r < 0 && !n->link_lost) {
		watch(n, false, n->tx_held);
		virtio_dev_needs_reset(&n->vd);
		return;
	}
	if (r > 0 || (r == 0 && !n->rx_held))
		watch(n, true, n->tx_held);
	if (pushed)
		net_irq_used(&n->irq, &n->vd, NET_RXQ, net_irq_now());
}

/* ---- transmit ---- */

/* Sends txc. 1: done (sent, or dropped and counted); 0: the TAP cannot
 * take it now (EAGAIN, with an I/O thread to wait for it). */
static int tx_send(struct net *n)
{
	const struct virtq_chain *c = &n->txc;
	struct virtio_net_hdr_v1 in, out;
	struct iovec iov[TX_MAX_IOV + 1];
	uint64_t frame;
	int r, w;

	if (c->read_bytes < NET_HDR_LEN + 14) {
		n->st.tx_bad_hdr++;
		guest_error(n, "shorter than the header and an Ethernet header");
		return 1;
	}
	frame = c->read_bytes - NET_HDR_LEN;
	virtq_chain_read(c, 0, &in, NET_HDR_LEN);
	if (frame > virtio_net_tx_max_frame(&in, n->vd.features, n->mtu)) {
		n->st.tx_too_big++;
		guest_error(n, "larger than the negotiated frame size");
		return 1;
	}
	if (virtio_net_tx_hdr(&in, n->vd.features, (size_t)frame, &out) < 0) {
		n->st.tx_bad_hdr++;
		guest_error(n, "invalid virtio-net header (flags, offload or offsets)");
		return 1;
	}
	iov[0].iov_base = &out;
	iov[0].iov_len = NET_HDR_LEN;
	r = virtq_chain_iov(c, false, NET_HDR_LEN, frame, iov + 1, TX_MAX_IOV, NULL);
	if (r < 0) {
		/* Scattered wider than writev takes: linearise. */
		virtq_chain_read(c, NET_HDR_LEN, n->txbuf, (size_t)frame);
		iov[1].iov_base = n->txbuf;
		iov[1].iov_len = (size_t)frame;
		r = 1;
	}
	w = n->link_lost ? -ENOTCONN : n->be->send(n, iov, r + 1, (size_t)frame);
	if (w == -EAGAIN && n->ep >= 0)
		return 0;
	if (w < 0) {
		n->st.tx_errors++;
		if (n->link_lost) {
			/* counted only */
		} else if (n->be->gone((int)-w)) {
			net_peer_gone(n, (int)-w);
		} else if (!n->warned_tap) {
			n->warned_tap = true;
			log_warn("%s: %s %s refused a frame: %s (further ones only counted)",
				 n->name, n->be->kind, n->ifname, strerror((int)-w));
		}
		return 1;
	}
	n->st.tx_packets++;
	n->st.tx_bytes += frame;
	net_irq_moved(&n->irq, frame);
	return 1;
}

/* A stream backend may hold the tail of a frame the socket took only part
 * of: it goes first. True when nothing is left of it. */
static bool tx_flushed(struct net *n)
{
	int r;

	if (!n->be->flush || n->link_lost)
		return true;
	r = n->be->flush(n);
	if (r < 0)
		net_peer_gone(n, -r);	/* the tail is lost with the connection */
	return r != 0;
}

static void tx_run(struct net *n)
{
	struct virtq *q = &n->vd.vq[NET_TXQ];
	bool pushed = false;
	int r;

	if (!virtio_dev_queue_live(&n->vd, NET_TXQ))
		return;
	if (!n->tx_held && !tx_flushed(n)) {
		watch(n, rx_watched(n), true);
		return;
	}
	if (n->tx_held) {
		if (tx_send(n) == 0)
			return;
		n->tx_held = false;
		watch(n, rx_watched(n), false);
		if (virtq_push(q, n->txc.head, 0) < 0)
			goto broken;
		pushed = true;
	}
	do {
		while ((r = virtq_pop(q, &n->txc)) > 0) {
			if (tx_send(n) == 0) {
				n->tx_held = true;
				watch(n, rx_watched(n), true);
				goto out;
			}
			if (virtq_push(q, n->txc.head, 0) < 0)
				goto broken;
			pushed = true;
		}
		if (r < 0)
			goto broken;
		virtq_set_avail_event(q);
		r = virtq_pending(q);
	} while (r > 0);
	if (r < 0)
		goto broken;
out:
	/* Writable again is only news while something waits to be sent. */
	if (!n->tx_held)
		watch(n, rx_watched(n), !tx_flushed(n));
	if (pushed)
		net_irq_used(&n->irq, &n->vd, NET_TXQ, net_irq_now());
	return;
broken:
	virtio_dev_needs_reset(&n->vd);
}

/* ---- device ops ---- */

static uint64_t net_features(struct virtio_dev *vd)
{
	static const int bits[] = {
		VIRTIO_NET_F_MTU, VIRTIO_NET_F_MAC, VIRTIO_NET_F_MRG_RXBUF,
		VIRTIO_NET_F_STATUS, VIRTIO_RING_F_INDIRECT_DESC, VIRTIO_RING_F_EVENT_IDX,
	};
	/* Only where frames carry the header: a plain Ethernet frame has no
	 * room for a partial checksum or a segment size. */
	static const int offloads[] = {
		VIRTIO_NET_F_CSUM, VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_GUEST_TSO4,
		VIRTIO_NET_F_GUEST_TSO6, VIRTIO_NET_F_GUEST_ECN, VIRTIO_NET_F_GUEST_UFO,
		VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_HOST_TSO6, VIRTIO_NET_F_HOST_ECN,
		VIRTIO_NET_F_HOST_UFO,
	};
	struct net *n = vd->priv;
	uint64_t f = 0;

	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++)
		f |= 1ULL << bits[i];
	for (size_t i = 0; n->be->vnet_hdr && i < sizeof(offloads) / sizeof(offloads[0]); i++)
		f |= 1ULL << offloads[i];
	return n->vhost ? net_vhost_offered(n, f) : f;
}

static void net_config_read(struct virtio_dev *vd, uint32_t off, uint8_t *data,
			    uint32_t len)
{
	struct net *n = vd->priv;

	memcpy(data, (const uint8_t *)&n->config + off, len);	/* the transport checked the range */
}

static int set_offload(struct net *n, unsigned offloads)
{
	int ret;

	if (n->be != &net_tap_backend || n->link_lost)
		return 0;
	ret = tap_set_offload(n->fd, offloads);
	if (ret < 0)
		log_err("%s: TUNSETOFFLOAD 0x%x on %s: %s", n->name, offloads, n->ifname,
			strerror(-ret));
	return ret;
}

static int net_activate(struct virtio_dev *vd)
{
	struct net *n = vd->priv;
	int ret = set_offload(n, virtio_net_tun_offloads(vd->features));

	if (ret < 0)
		return ret;
	log_debug("%s: features 0x%llx, TAP offloads 0x%x", n->name,
		  (unsigned long long)vd->features, virtio_net_tun_offloads(vd->features));
	if (n->vhost)
		return net_vhost_start(n);
	watch(n, true, false);
	return 0;
}

static void net_reset(struct virtio_dev *vd)
{
	struct net *n = vd->priv;

	if (n->vhost)
		net_vhost_stop(n);
	/* The guest's buffers are gone: a frame we held is lost, counted. */
	if (n->rx_held)
		n->st.rx_reset++;
	n->rx_held = false;
	n->tx_held = false;
	n->nstash = n->stash_first = 0;
	memset(n->stashed, 0, sizeof(n->stashed));
	net_irq_reset(&n->irq);
	watch(n, false, false);
	set_offload(n, 0);
}

static void net_notify(struct virtio_dev *vd, unsigned qi)
{
	struct net *n = vd->priv;

	if (qi == NET_TXQ)
		tx_run(n);
	else
		rx_run(n);	/* new buffers: resume reading the TAP */
}

/* What receive and transmit wait for, for `vmm ctl NAME queues`. */
static size_t net_describe(struct virtio_dev *vd, char *buf, size_t len)
{
	struct net *n = vd->priv;

	if (n->vhost)
		return net_vhost_describe(n, buf, len);
	return fmt_into(buf, len, " %s=%s rx_held=%d rx_len=%zu rx_stashed=%u tx_held=%d "
			"watch=%s%s%s rx_frames=%llu tx_frames=%llu irq_sent=%llu irq_held=%llu",
			n->passt ? "stream" : "tap", n->passt ? "passt" : n->ifname, n->rx_held,
			n->rx_held ? n->rx_len : 0, n->nstash,
			n->tx_held, n->link_lost ? "lost" : n->ep_events ? "" : "none",
			n->ep_events & EPOLLIN ? "in" : "", n->ep_events & EPOLLOUT ? "out" : "",
			(unsigned long long)n->st.rx_packets,
			(unsigned long long)n->st.tx_packets, (unsigned long long)n->irq.sent,
			(unsigned long long)n->irq.held);
}

static const struct virtio_dev_ops net_ops = {
	.features = net_features,
	.config_read = net_config_read,
	.activate = net_activate,
	.reset = net_reset,
	.queue_notify = net_notify,
	.describe = net_describe,
};

/* vhost = true: the kernel serves the queues (net_vhost.c), the transport
 * hands it the kick eventfds. */
static const struct virtio_dev_ops net_vhost_ops = {
	.features = net_features,
	.config_read = net_config_read,
	.activate = net_activate,
	.reset = net_reset,
	.describe = net_describe,
};

void virtio_net_rx_ready(struct virtio_dev *vd)
{
	pthread_mutex_lock(&vd->lock);
	rx_run(vd->priv);
	pthread_mutex_unlock(&vd->lock);
}

/* The I/O thread: the TAP is readable, or writable again after EAGAIN. */
static void tap_event(void *opaque, uint32_t events)
{
	struct net *n = opaque;
	struct epoll_event ev[2];
	uint32_t got = 0;
	int k = epoll_wait(n->ep, ev, 2, 0);

	for (int i = 0; i < k; i++)
		got |= ev[i].events;
	pthread_mutex_lock(&n->vd.lock);
	/* Reported even when not asked for: a TAP deleted, passt ended. */
	if (got & (EPOLLERR | EPOLLHUP) && !(got & (EPOLLIN | EPOLLOUT)))
		net_peer_gone(n, n->passt ? ECONNRESET : ENODEV);
	if (got & EPOLLOUT)
		tx_run(n);
	if (got & EPOLLIN)
		rx_run(n);
	pthread_mutex_unlock(&n->vd.lock);
}

/* The I/O thread: a held interrupt is due. */
static void irq_event(void *opaque, uint32_t events)
{
	struct net *n = opaque;

	pthread_mutex_lock(&n->vd.lock);
	net_irq_timer(&n->irq, &n->vd);
	pthread_mutex_unlock(&n->vd.lock);
}

void virtio_net_get_stats(struct virtio_dev *vd, struct virtio_net_stats *st)
{
	struct net *n = vd->priv;

	pthread_mutex_lock(&vd->lock);
	*st = n->st;
	pthread_mutex_unlock(&vd->lock);
}

/* ---- construction ---- */

int net_setup(struct net *n, const uint8_t mac[6], struct iothread *io)
{
	struct epoll_event ev = { .events = 0, .data.ptr = n };
	int ret;

	n->rxbuf = malloc(RX_BUF_SIZE);
	n->txbuf = malloc(NET_MAX_GSO_FRAME);
	if (!n->rxbuf || !n->txbuf)
		return -ENOMEM;
	n->vd = (struct virtio_dev){
		.name = n->name, .id = VIRTIO_ID_NET, .nqueues = 2,
		.queue_max = NET_QUEUE_SIZE, .config_size = NET_CFG_SIZE,
		.ops = n->vhost ? &net_vhost_ops : &net_ops, .priv = n,
	};
	memcpy(n->config.mac, mac, 6);
	n->config.status = htole16(VIRTIO_NET_S_LINK_UP);
	n->config.max_virtqueue_pairs = htole16(1);
	n->config.mtu = htole16(n->mtu);
	if (!io)
		return 0;
	/* Holds need the I/O thread to end them. */
	ret = net_irq_init(&n->irq, n->irq_hold_us);
	if (ret == 0 && n->irq.tfd >= 0)
		ret = iothread_add(io, n->irq.tfd, irq_event, n);
	if (ret < 0) {
		log_err("%s: interrupt timer: %s", n->name, strerror(-ret));
		return ret;
	}
	/* An epoll of our own, so that the TAP can be left unwatched while
	 * the guest has no buffers without touching the I/O thread's set. */
	n->ep = epoll_create1(EPOLL_CLOEXEC);
	if (n->ep < 0 || epoll_ctl(n->ep, EPOLL_CTL_ADD, n->fd, &ev) < 0) {
		log_err("%s: epoll: %m", n->name);
		return -errno;
	}
	return iothread_add(io, n->ep, tap_event, n);
}

struct net *net_alloc(int index)
{
	struct net *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	n->fd = n->ep = n->irq.tfd = -1;
	n->be = &net_tap_backend;
	n->stream.fd = -1;
	snprintf(n->name, sizeof(n->name), "virtio-net %d", index);
	return n;
}

void virtio_net_free(void *p)
{
	struct virtio_dev *vd = p;
	struct net *n;

	if (!vd)
		return;
	n = (struct net *)vd;	/* vd is the first member; priv may be unset */
	if (n->st.tx_packets || n->st.rx_packets)
		log_debug("%s: rx %llu frames, %llu bytes; tx %llu frames, %llu bytes",
			  n->name, (unsigned long long)n->st.rx_packets,
			  (unsigned long long)n->st.rx_bytes,
			  (unsigned long long)n->st.tx_packets,
			  (unsigned long long)n->st.tx_bytes);
	if (n->st.rx_too_big || n->st.rx_bad_hdr || n->st.rx_reset || n->st.tx_too_big ||
	    n->st.tx_bad_hdr || n->st.tx_errors || n->st.rx_bad_buffers)
		log_info("%s: dropped: rx %llu too big, %llu bad header, %llu at reset, "
			 "%llu empty buffers; tx %llu too big, %llu bad header, %llu refused",
			 n->name, (unsigned long long)n->st.rx_too_big,
			 (unsigned long long)n->st.rx_bad_hdr,
			 (unsigned long long)n->st.rx_reset,
			 (unsigned long long)n->st.rx_bad_buffers,
			 (unsigned long long)n->st.tx_too_big,
			 (unsigned long long)n->st.tx_bad_hdr,
			 (unsigned long long)n->st.tx_errors);
	net_vhost_free(n);
	if (n->ep >= 0)
		close(n->ep);
	net_irq_free(&n->irq);
	if (n->fd >= 0)
		close(n->fd);
	passt_free(n->passt);	/* after the close: passt then exits by itself */
	net_stream_free(&n->stream);
	free(n->rxbuf);
	free(n->txbuf);
	free(n);
}
