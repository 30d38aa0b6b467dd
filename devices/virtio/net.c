/* virtio-net, the device: the transmit path between the guest's queues
 * and a backend (struct net_backend, net_backend.c: a TAP,
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

void net_watch(struct net_pair *p, bool rx, bool tx)
{
	struct net *n = p->n;
	uint32_t want = (rx ? EPOLLIN : 0) | (tx ? EPOLLOUT : 0);
	struct epoll_event ev = { .events = want, .data.ptr = p };

	if (n->ep < 0 || n->link_lost || !p->in_ep || want == p->ep_events)
		return;
	if (epoll_ctl(n->ep, EPOLL_CTL_MOD, p->fd, &ev) < 0)
		log_warn("%s: epoll_ctl: %m", n->name);
	else
		p->ep_events = want;
}

static bool rx_watched(const struct net_pair *p) { return p->ep_events & EPOLLIN; }

/* The TAP went away (deleted, or the fd detached): stop watching it, tell
 * the guest its link is down. */
void net_lose_link(struct net *n, int err)
{
	if (n->link_lost)
		return;
	log_warn("%s: %s %s: %s; the guest's link is down from now on", n->name,
		 n->be->kind, n->ifname, strerror(err));
	for (unsigned i = 0; i < n->npairs; i++) {
		if (n->ep >= 0 && n->pair[i].in_ep)
			epoll_ctl(n->ep, EPOLL_CTL_DEL, n->pair[i].fd, NULL);
		n->pair[i].in_ep = false;
		n->pair[i].ep_events = 0;
	}
	n->link_lost = true;
	n->config.status = 0;
	n->vd.config_gen++;
	if (n->vd.status & VIRTIO_CONFIG_S_DRIVER_OK)
		n->vd.tops->signal_config(&n->vd);
}

/* ---- transmit ---- */

/* Sends txc. 1: done (sent, or dropped and counted); 0: the TAP cannot
 * take it now (EAGAIN, with an I/O thread to wait for it). */
static int tx_send(struct net_pair *p)
{
	struct net *n = p->n;
	const struct virtq_chain *c = &p->txc;
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
		virtq_chain_read(c, NET_HDR_LEN, p->txbuf, (size_t)frame);
		iov[1].iov_base = p->txbuf;
		iov[1].iov_len = (size_t)frame;
		r = 1;
	}
	w = n->link_lost ? -ENOTCONN : n->be->send(p, iov, r + 1, (size_t)frame);
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
	p->tx_frames++;
	net_irq_moved(&n->irq, p->index, frame, true);
	return 1;
}

/* A stream backend may hold the tail of a frame the socket took only part
 * of: it goes first. True when nothing is left of it. */
static bool tx_flushed(struct net_pair *p)
{
	struct net *n = p->n;
	int r;

	if (!n->be->flush || n->link_lost)
		return true;
	r = n->be->flush(p);
	if (r < 0)
		net_peer_gone(n, -r);	/* the tail is lost with the connection */
	return r != 0;
}

/* Sends what the guest made available on p's transmit queue. While the
 * guest sends a bulk (and its linger lasts), a run that sent frames, and
 * every run of the timer, leaves the queue's notifications off and the next
 * run to the interrupt timer (net_irq_tx_defer): the queue is polled every
 * interrupt_hold_us instead of kicked. `timed` is the timer's run, whose
 * completions go to the guest at once. Once the linger is over, a run asks
 * for kicks again. */
static void tx_run_as(struct net_pair *p, bool timed)
{
	struct net *n = p->n;
	unsigned qi = NET_TXQ_OF(p->index);
	struct virtq *q = &n->vd.vq[qi];
	bool pushed = false;
	int r;

	/* A pair the driver turned off keeps what it made available. */
	if (p->index >= n->active || !virtio_dev_queue_live(&n->vd, qi))
		return;
	if (!p->tx_held && !tx_flushed(p)) {
		net_watch(p, rx_watched(p), true);
		return;
	}
	if (p->tx_held) {
		if (tx_send(p) == 0)
			return;
		p->tx_held = false;
		net_watch(p, rx_watched(p), false);
		if (virtq_push(q, p->txc.head, 0) < 0)
			goto broken;
		pushed = true;
	}
	for (;;) {
		while ((r = virtq_pop(q, &p->txc)) > 0) {
			if (tx_send(p) == 0) {
				p->tx_held = true;
				net_watch(p, rx_watched(p), true);
				goto out;
			}
			if (virtq_push(q, p->txc.head, 0) < 0)
				goto broken;
			pushed = true;
		}
		if (r < 0)
			goto broken;
		if ((pushed || timed) && net_irq_tx_defer(&n->irq, p->index, net_irq_now())) {
			virtq_suppress_notify(q);	/* the timer runs the queue next */
			break;
		}
		virtq_set_avail_event(q);
		r = virtq_pending(q);
		if (r <= 0)
			break;
	}
	if (r < 0)
		goto broken;
out:
	/* Writable again is only news while something waits to be sent. */
	if (!p->tx_held)
		net_watch(p, rx_watched(p), !tx_flushed(p));
	if (pushed && timed)
		net_irq_flush(&n->irq, &n->vd, qi, net_irq_now());
	else if (pushed)
		net_irq_used(&n->irq, &n->vd, qi, net_irq_now());
	return;
broken:
	virtio_dev_needs_reset(&n->vd);
}

static void tx_run(struct net_pair *p) { tx_run_as(p, false); }

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
	/* One pair needs no control queue: a device as it always was. */
	if (n->npairs > 1)
		f |= 1ULL << VIRTIO_NET_F_CTRL_VQ | 1ULL << VIRTIO_NET_F_MQ;
	return n->vhost ? net_vhost_offered(n, f) : f;
}

static void net_config_read(struct virtio_dev *vd, uint32_t off, uint8_t *data,
			    uint32_t len)
{
	struct net *n = vd->priv;

	memcpy(data, (const uint8_t *)&n->config + off, len);	/* the transport checked the range */
}

/* TUNSETOFFLOAD is the TAP's, whichever queue sets it: pair 0's, which is
 * never detached. */
static int set_offload(struct net *n, unsigned offloads)
{
	int ret;

	if (n->be != &net_tap_backend || n->link_lost)
		return 0;
	ret = tap_set_offload(n->pair[0].fd, offloads);
	if (ret < 0)
		log_err("%s: TUNSETOFFLOAD 0x%x on %s: %s", n->name, offloads, n->ifname,
			strerror(-ret));
	return ret;
}

/* A pair's fd is in n->ep only while the pair is on (its TAP queue
 * attached): nothing arrives on a detached queue, and no event of a pair
 * that is off (EPOLLERR and EPOLLHUP come unasked) can take the link down. */
static void pair_listen(struct net_pair *p, bool on)
{
	struct net *n = p->n;
	struct epoll_event ev = { .events = 0, .data.ptr = p };

	if (n->ep < 0 || n->link_lost || p->in_ep == on)
		return;
	if (epoll_ctl(n->ep, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, p->fd, &ev) < 0) {
		log_warn("%s: epoll_ctl: %m", n->name);
		return;
	}
	p->in_ep = on;
	p->ep_events = 0;
}

int net_set_active(struct net *n, unsigned k)
{
	bool tap = n->be == &net_tap_backend && !n->link_lost;
	unsigned was = n->active;
	int r;

	if (k < 1 || k > n->npairs)
		return -EINVAL;
	/* The TAP steers each flow to one of its attached queues: a queue
	 * nobody reads would swallow its flows. A pair whose queue cannot be
	 * attached is not turned on (EINVAL: it already is). */
	for (unsigned i = was; tap && i < k; i++) {
		r = tap_set_queue(n->pair[i].fd, true);
		if (r < 0 && r != -EINVAL) {
			log_warn_limited("%s: TUNSETQUEUE attach queue %u of %s: %s", n->name, i,
					 n->ifname, strerror(-r));
			while (i-- > was)
				tap_set_queue(n->pair[i].fd, false);
			return -EIO;
		}
	}
	/* With vhost the kernel starts serving the pairs turned on once their
	 * TAP queue is attached, and stops those turned off before it is
	 * detached. */
	if (n->vhost && net_vhost_set_active(n, k) < 0) {
		for (unsigned i = was; tap && i < k; i++)
			tap_set_queue(n->pair[i].fd, false);
		return -EIO;
	}
	for (unsigned i = k; tap && i < was; i++) {
		r = tap_set_queue(n->pair[i].fd, false);
		if (r < 0 && r != -EINVAL)
			log_warn_limited("%s: TUNSETQUEUE detach queue %u of %s: %s", n->name, i,
					 n->ifname, strerror(-r));
	}
	n->active = k;
	for (unsigned i = 0; i < n->npairs; i++) {
		struct net_pair *p = &n->pair[i];

		pair_listen(p, i < k);
		if (i >= was && i < k && !n->vhost &&
		    (n->vd.status & VIRTIO_CONFIG_S_DRIVER_OK)) {
			net_rx_run(p);
			tx_run(p);
		}
	}
	return 0;
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
	net_watch(&n->pair[0], true, false);
	return 0;
}

static void net_reset(struct virtio_dev *vd)
{
	struct net *n = vd->priv;

	if (n->vhost)
		net_vhost_stop(n);
	for (unsigned i = 0; i < n->npairs; i++) {
		struct net_pair *p = &n->pair[i];

		/* The guest's buffers are gone: a frame we held is lost, counted. */
		if (p->rx_held)
			n->st.rx_reset++;
		p->rx_held = false;
		p->tx_held = false;
		p->nstash = p->stash_first = 0;
		memset(p->stashed, 0, sizeof(p->stashed));
		net_watch(p, false, false);
	}
	net_irq_reset(&n->irq);
	/* Until the driver says otherwise, the first pair only (virtio 1.2,
	 * 5.1.6.5.5). */
	if (n->active != 1)
		net_set_active(n, 1);
	set_offload(n, 0);
}

static void net_notify(struct virtio_dev *vd, unsigned qi)
{
	struct net *n = vd->priv;

	if (n->npairs > 1 && qi == 2 * n->npairs)
		net_ctrl_run(n);
	else if (n->vhost)
		return;	/* a data queue is the kernel's; the transport never asks */
	else if (qi < 2 * n->npairs && qi % 2)
		tx_run(&n->pair[qi / 2]);
	else if (qi < 2 * n->npairs)
		net_rx_run(&n->pair[qi / 2]);	/* new buffers: resume reading the TAP */
}

static size_t describe_pair(const struct net_pair *p, char *buf, size_t len)
{
	char pre[16] = "";

	if (p->index)
		snprintf(pre, sizeof(pre), "p%u.", p->index);
	return fmt_into(buf, len, " %srx_held=%d %srx_len=%zu %srx_stashed=%u %stx_held=%d "
			"%swatch=%s%s%s %srx_frames=%llu %stx_frames=%llu %srx_zerocopy=%llu",
			pre, p->rx_held, pre, p->rx_held ? p->rx_len : 0, pre, p->nstash,
			pre, p->tx_held, pre,
			p->n->link_lost ? "lost" : p->ep_events ? "" : "none",
			p->ep_events & EPOLLIN ? "in" : "", p->ep_events & EPOLLOUT ? "out" : "",
			pre, (unsigned long long)p->rx_frames,
			pre, (unsigned long long)p->tx_frames,
			pre, (unsigned long long)p->rx_zerocopy);
}

/* What receive and transmit wait for, for `vmm ctl NAME queues`: pair 0's
 * words as they always were, then every other pair's, prefixed pN. */
static size_t net_describe(struct virtio_dev *vd, char *buf, size_t len)
{
	struct net *n = vd->priv;
	size_t o;

	if (n->vhost)
		return net_vhost_describe(n, buf, len);
	o = fmt_into(buf, len, " %s=%s", n->passt ? "stream" : "tap",
		     n->passt ? "passt" : n->ifname);
	if (n->npairs > 1)
		o += fmt_into(buf + o, len - o, " pairs=%u active=%u ctrl_cmds=%llu "
			      "ctrl_errors=%llu", n->npairs, n->active,
			      (unsigned long long)n->ctrl_cmds,
			      (unsigned long long)n->ctrl_errors);
	for (unsigned i = 0; i < n->npairs; i++)
		o += describe_pair(&n->pair[i], buf + o, len - o);
	o += fmt_into(buf + o, len - o, " irq_sent=%llu irq_held=%llu tx_deferred=%llu",
		      (unsigned long long)n->irq.sent, (unsigned long long)n->irq.held,
		      (unsigned long long)n->irq.tx_deferred);
	return o;
}

static const struct virtio_dev_ops net_ops = {
	.features = net_features,
	.config_read = net_config_read,
	.activate = net_activate,
	.reset = net_reset,
	.queue_notify = net_notify,
	.describe = net_describe,
};

/* vhost = true: the kernel serves the data queues (net_vhost.c), the
 * transport hands it their kick eventfds (vd.backend_queues); vmm serves
 * the control queue, when there is one. */
static const struct virtio_dev_ops net_vhost_ops = {
	.features = net_features,
	.config_read = net_config_read,
	.activate = net_activate,
	.reset = net_reset,
	.queue_notify = net_notify,
	.describe = net_describe,
};

void virtio_net_rx_ready(struct virtio_dev *vd)
{
	struct net *n = vd->priv;

	pthread_mutex_lock(&vd->lock);
	for (unsigned i = 0; i < n->active; i++)
		net_rx_run(&n->pair[i]);
	pthread_mutex_unlock(&vd->lock);
}

/* The I/O thread: a pair's TAP queue is readable, or writable again after
 * EAGAIN. */
static void tap_event(void *opaque, uint32_t events)
{
	struct net *n = opaque;
	struct epoll_event ev[NET_MAX_PAIRS];
	int k = epoll_wait(n->ep, ev, NET_MAX_PAIRS, 0);

	pthread_mutex_lock(&n->vd.lock);
	for (int i = 0; i < k && !n->link_lost; i++) {
		struct net_pair *p = ev[i].data.ptr;
		uint32_t got = ev[i].events;

		if (!p->in_ep)
			continue;	/* turned off since epoll_wait */
		/* Reported even when not asked for: a TAP deleted, passt ended. */
		if (got & (EPOLLERR | EPOLLHUP) && !(got & (EPOLLIN | EPOLLOUT)))
			net_peer_gone(n, n->passt ? ECONNRESET : ENODEV);
		if (got & EPOLLOUT)
			tx_run(p);
		if (got & EPOLLIN)
			net_rx_run(p);
	}
	pthread_mutex_unlock(&n->vd.lock);
}

void net_timer_run(struct net *n, unsigned due, uint64_t now)
{
	for (unsigned i = 0; i < n->npairs; i++)
		if (due & (1u << i))
			tx_run_as(&n->pair[i], true);
	net_irq_expire(&n->irq, &n->vd, now);
}

/* The I/O thread: a held interrupt or a deferred transmit run is due. */
static void irq_event(void *opaque, uint32_t events)
{
	struct net *n = opaque;
	uint64_t now = net_irq_now();

	pthread_mutex_lock(&n->vd.lock);
	net_timer_run(n, net_irq_timer(&n->irq, now), now);
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
	int ret;

	for (unsigned i = 0; i < n->npairs; i++) {
		n->pair[i].rxbuf = malloc(RX_BUF_SIZE);
		n->pair[i].txbuf = malloc(NET_MAX_GSO_FRAME);
		if (!n->pair[i].rxbuf || !n->pair[i].txbuf)
			return -ENOMEM;
	}
	n->vd = (struct virtio_dev){
		.name = n->name, .id = VIRTIO_ID_NET,
		.nqueues = n->npairs > 1 ? 2 * n->npairs + 1 : 2,
		.queue_max = NET_QUEUE_SIZE, .config_size = NET_CFG_SIZE,
		.ops = n->vhost ? &net_vhost_ops : &net_ops, .priv = n,
		.backend_queues = n->vhost ? (1u << 2 * n->npairs) - 1 : 0,
	};
	memcpy(n->config.mac, mac, 6);
	n->config.status = htole16(VIRTIO_NET_S_LINK_UP);
	n->config.max_virtqueue_pairs = htole16((uint16_t)n->npairs);
	n->config.mtu = htole16(n->mtu);
	/* The first pair only until the driver asks for more. */
	n->active = n->npairs;
	ret = net_set_active(n, 1);
	if (ret < 0 || !io)
		return ret;
	/* Holds need the I/O thread to end them. */
	ret = net_irq_init(&n->irq, n->irq_hold_us);
	if (ret == 0 && n->irq.tfd >= 0)
		ret = iothread_add(io, n->irq.tfd, irq_event, n);
	if (ret < 0) {
		log_err("%s: interrupt timer: %s", n->name, strerror(-ret));
		return ret;
	}
	/* An epoll of our own, so that a queue can be left unwatched while
	 * the guest has no buffers without touching the I/O thread's set. */
	n->ep = epoll_create1(EPOLL_CLOEXEC);
	if (n->ep < 0) {
		log_err("%s: epoll: %m", n->name);
		return -errno;
	}
	/* The pairs in use: the first. */
	for (unsigned i = 0; i < n->active; i++) {
		struct epoll_event ev = { .events = 0, .data.ptr = &n->pair[i] };

		if (epoll_ctl(n->ep, EPOLL_CTL_ADD, n->pair[i].fd, &ev) < 0) {
			log_err("%s: epoll: %m", n->name);
			return -errno;
		}
		n->pair[i].in_ep = true;
	}
	return iothread_add(io, n->ep, tap_event, n);
}

struct net *net_alloc(int index, unsigned npairs)
{
	struct net *n;

	if (npairs < 1 || npairs > NET_MAX_PAIRS)
		return NULL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->pair = calloc(npairs, sizeof(*n->pair));
	if (!n->pair) {
		free(n);
		return NULL;
	}
	n->npairs = npairs;
	n->active = 1;
	n->rx_zero_copy = true;		/* [[net]] rx_zero_copy's default */
	for (unsigned i = 0; i < npairs; i++) {
		n->pair[i].n = n;
		n->pair[i].index = i;
		n->pair[i].fd = -1;
	}
	n->ep = n->irq.tfd = -1;
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
		log_debug("%s: rx %llu frames (%llu zero-copy), %llu bytes; tx %llu frames, "
			  "%llu bytes", n->name, (unsigned long long)n->st.rx_packets,
			  (unsigned long long)n->st.rx_zerocopy,
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
	for (unsigned i = 0; i < n->npairs; i++) {
		if (n->pair[i].fd >= 0)
			close(n->pair[i].fd);
		free(n->pair[i].rxbuf);
		free(n->pair[i].txbuf);
	}
	passt_free(n->passt);	/* after the close: passt then exits by itself */
	net_stream_free(&n->stream);
	free(n->pair);
	free(n);
}
