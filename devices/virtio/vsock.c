/* virtio-vsock, the device: the connection table, packets to the driver
 * (rx: control packets owed, then data as far as the driver's credit
 * goes), the event queue and the device ops. Packets from the driver (tx)
 * are vsock_tx.c's, the unix sockets on the host side vsock_host.c's. */
#include "virtio/vsock-internal.h"

#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "iothread.h"
#include "log.h"

/* iovecs one rx packet's payload is read into. */
#define RX_MAX_IOV	64

uint64_t vsock_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A driver mistake: counted, and logged within the rate limit. */
void vsock_guest_error(struct vsock *v, const struct vsock_hdr *h, const char *why)
{
	v->st.bad_packets++;
	log_warn_limited("%s: refused a packet from the driver (op %u, port %u -> %u): %s",
			 v->name, h ? h->op : 0, h ? h->src_port : 0, h ? h->dst_port : 0, why);
}

/* ---- the connection table ---- */

struct vsock_conn *vsock_conn_find(struct vsock *v, uint32_t local, uint32_t peer)
{
	for (unsigned i = 0; i < v->hiwater; i++) {
		struct vsock_conn *c = &v->conn[i];

		if (c->state > VS_LINE && c->local_port == local && c->peer_port == peer)
			return c;
	}
	return NULL;
}

struct vsock_conn *vsock_conn_alloc(struct vsock *v, int fd)
{
	if (v->nconn >= VSOCK_CONN_MAX)
		return NULL;
	for (unsigned i = 0; i < VSOCK_CONN_MAX; i++) {
		struct vsock_conn *c = &v->conn[i];
		bool in_ctl = c->in_ctl;
		int next = c->ctl_next;

		if (c->state != VS_FREE)
			continue;
		/* A freed slot may still sit on the control list (pend 0):
		 * the list skips it, so its links stay. */
		memset(c, 0, sizeof(*c));
		c->in_ctl = in_ctl;
		c->ctl_next = next;
		c->fd = fd;
		c->writable = true;
		v->nconn++;
		if (i + 1 > v->hiwater)
			v->hiwater = i + 1;
		return c;
	}
	return NULL;
}

void vsock_conn_free(struct vsock *v, struct vsock_conn *c)
{
	vsock_host_close(v, c);
	vsock_host_buf_drop(c);
	c->state = VS_FREE;
	c->pend = 0;
	c->deadline_ms = 0;
	v->nconn--;
	while (v->hiwater && v->conn[v->hiwater - 1].state == VS_FREE)
		v->hiwater--;
}

void vsock_conn_pend(struct vsock *v, struct vsock_conn *c, uint8_t p)
{
	int i = (int)(c - v->conn);

	c->pend |= p;
	if (c->in_ctl)
		return;
	c->in_ctl = true;
	c->ctl_next = -1;
	if (v->ctl_tail >= 0)
		v->conn[v->ctl_tail].ctl_next = i;
	else
		v->ctl_head = i;
	v->ctl_tail = i;
}

void vsock_conn_end(struct vsock *v, struct vsock_conn *c, bool rst)
{
	/* The guest never heard of a connection whose REQUEST is unsent. */
	if (c->state == VS_LINE || (c->state == VS_CONNECTING && (c->pend & P_REQUEST)))
		rst = false;
	if (!rst) {
		vsock_conn_free(v, c);
		return;
	}
	vsock_host_close(v, c);
	vsock_host_buf_drop(c);
	c->state = VS_DEAD;
	c->deadline_ms = 0;
	c->pend = 0;
	vsock_conn_pend(v, c, P_RST);
}

/* Drops every connection (device reset, VM stop): host sockets closed. */
static void drop_all(struct vsock *v)
{
	for (unsigned i = 0; i < v->hiwater; i++)
		if (v->conn[i].state != VS_FREE)
			vsock_conn_free(v, &v->conn[i]);
	for (unsigned i = 0; i < VSOCK_CONN_MAX; i++)
		v->conn[i].in_ctl = false;
	v->ctl_head = v->ctl_tail = -1;
	v->nrst = 0;
	v->rx_held = false;
	v->tx_stalled = false;
}

/* ---- to the driver (rx) ---- */

/* Holds an rx chain with room for a header: 1, 0 when the ring has none,
 * -EIO when it is broken. */
static int rx_get(struct vsock *v)
{
	struct virtq *q = &v->vd.vq[VSOCK_RXQ];
	int r;

	if (v->rx_held)
		return 1;
	if (!virtio_dev_queue_live(&v->vd, VSOCK_RXQ))
		return 0;
	for (;;) {
		r = virtq_pop(q, &v->rxc);
		if (r == 0) {
			/* Out of buffers: ask for a kick when the driver adds
			 * some, then look once more for any it added meanwhile. */
			virtq_set_avail_event(q);
			r = virtq_pending(q);
			if (r > 0)
				continue;
			return r;
		}
		if (r < 0)
			return r;
		if (v->rxc.write_bytes >= VSOCK_HDR_LEN) {
			v->rx_held = true;
			return 1;
		}
		vsock_guest_error(v, NULL, "rx buffer shorter than a packet header");
		if (virtq_push(q, v->rxc.head, 0) < 0)
			return -EIO;
	}
}

/* Puts the header in the held chain, whose payload (len bytes) is in
 * place, and gives it to the driver. */
static int rx_put(struct vsock *v, struct vsock_conn *c, uint32_t src_port,
		  uint32_t dst_port, uint16_t op, uint32_t flags, uint32_t len)
{
	struct virtio_vsock_hdr h = {
		.src_cid = htole64(VSOCK_HOST_CID), .dst_cid = htole64(v->cid),
		.src_port = htole32(src_port), .dst_port = htole32(dst_port),
		.len = htole32(len), .type = htole16(VIRTIO_VSOCK_TYPE_STREAM),
		.op = htole16(op), .flags = htole32(flags),
		.buf_alloc = htole32(c ? VSOCK_BUF_SIZE : 0),
		.fwd_cnt = htole32(c ? c->fwd_cnt : 0),
	};

	if (c)
		c->fwd_sent = c->fwd_cnt;
	virtq_chain_write(&v->rxc, 0, &h, sizeof(h));
	v->rx_held = false;
	v->st.rx_packets++;
	return virtq_push(&v->vd.vq[VSOCK_RXQ], v->rxc.head, VSOCK_HDR_LEN + len);
}

/* One control packet `c` owes, the most urgent first. */
static int send_ctl(struct vsock *v, struct vsock_conn *c)
{
	static const struct { uint8_t bit; uint16_t op; } order[] = {
		{ P_RST, VIRTIO_VSOCK_OP_RST }, { P_REQUEST, VIRTIO_VSOCK_OP_REQUEST },
		{ P_RESPONSE, VIRTIO_VSOCK_OP_RESPONSE }, { P_SHUTDOWN, VIRTIO_VSOCK_OP_SHUTDOWN },
		{ P_CREDIT, VIRTIO_VSOCK_OP_CREDIT_UPDATE },
	};

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		if (!(c->pend & order[i].bit))
			continue;
		c->pend &= (uint8_t)~order[i].bit;
		if (order[i].bit == P_RST) {
			v->st.rst_sent++;
			c->pend = 0;
		}
		int r = rx_put(v, c, c->local_port, c->peer_port, order[i].op,
			       order[i].bit == P_SHUTDOWN ? c->shut_flags : 0, 0);
		if (order[i].bit == P_RST)
			vsock_conn_free(v, c);
		return r;
	}
	return 0;
}

/* Sends the RSTs and control packets owed. 1: all sent; 0: out of rx
 * buffers; -EIO. */
static int send_ctls(struct vsock *v)
{
	int r;

	while (v->nrst) {
		r = rx_get(v);
		if (r <= 0)
			return r;
		v->st.rst_sent++;
		r = rx_put(v, NULL, v->rst[v->rst_first].src, v->rst[v->rst_first].dst,
			   VIRTIO_VSOCK_OP_RST, 0, 0);
		v->rst_first = (v->rst_first + 1) % VSOCK_RST_MAX;
		v->nrst--;
		if (r < 0)
			return r;
	}
	while (v->ctl_head >= 0) {
		struct vsock_conn *c = &v->conn[v->ctl_head];

		if (c->pend) {
			r = rx_get(v);
			if (r <= 0)
				return r;
			r = send_ctl(v, c);
			if (r < 0)
				return r;
			if (c->pend)
				continue;
		}
		v->ctl_head = c->ctl_next;
		c->in_ctl = false;
		if (v->ctl_head < 0)
			v->ctl_tail = -1;
	}
	return 1;
}

static uint32_t credit(const struct vsock_conn *c)
{
	uint32_t inflight = c->tx_cnt - c->peer_fwd_cnt;

	return inflight >= c->peer_buf_alloc ? 0 : c->peer_buf_alloc - inflight;
}

void vsock_conn_host_gone(struct vsock *v, struct vsock_conn *c)
{
	vsock_host_close(v, c);
	vsock_host_buf_drop(c);
	c->shut_flags = VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND;
	vsock_conn_pend(v, c, P_SHUTDOWN);
	c->state = VS_CLOSING;
	c->deadline_ms = vsock_now_ms() + VSOCK_TIMEOUT_MS;
	vsock_host_timer(v);
}

/* Reads from `c`'s host socket into the held rx chain and sends it:
 * 1 when a packet went, 0 when none could, -EIO. */
static int rx_data(struct vsock *v, struct vsock_conn *c)
{
	struct iovec iov[RX_MAX_IOV];
	uint64_t room = v->rxc.write_bytes - VSOCK_HDR_LEN, max = credit(c);
	ssize_t got;
	int n;

	if (max > room)
		max = room;
	if (max > VSOCK_PKT_MAX)
		max = VSOCK_PKT_MAX;
	n = virtq_chain_iov(&v->rxc, true, VSOCK_HDR_LEN, max, iov, RX_MAX_IOV, NULL);
	if (n == -E2BIG)
		n = RX_MAX_IOV;
	if (n <= 0)
		return 0;
	do
		got = readv(c->fd, iov, n);
	while (got < 0 && errno == EINTR);
	if (got > 0) {
		c->tx_cnt += (uint32_t)got;
		v->st.rx_bytes += (uint64_t)got;
		return rx_put(v, c, c->local_port, c->peer_port, VIRTIO_VSOCK_OP_RW, 0,
			      (uint32_t)got) < 0 ? -EIO : 1;
	}
	c->readable = false;
	if (got < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	if (got < 0) {
		log_debug("%s: port %u: host socket: %m", v->name, c->local_port);
		vsock_conn_end(v, c, true);
		return 0;
	}
	/* EOF: the host sends no more. */
	c->host_eof = true;
	if (c->host_hup) {
		vsock_conn_host_gone(v, c);
	} else {
		c->shut_flags |= VIRTIO_VSOCK_SHUTDOWN_SEND;
		vsock_conn_pend(v, c, P_SHUTDOWN);
	}
	return 0;
}

static bool wants_rx(const struct vsock_conn *c)
{
	return c->state == VS_OPEN && c->readable && !c->host_eof && c->fd >= 0 &&
	       !(c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_RCV) && credit(c) > 0;
}

/* Control packets, then a round of data over the connections, while rx
 * buffers last. 0, or -EIO for a broken ring. */
static int rx_all(struct vsock *v, bool *used)
{
	uint64_t before = v->st.rx_packets;
	bool progress;
	int r;

	for (;;) {
		r = send_ctls(v);
		if (r <= 0)
			break;
		progress = false;
		for (unsigned i = 0; i < v->hiwater && r > 0; i++) {
			if (!wants_rx(&v->conn[i]))
				continue;
			r = rx_get(v);
			if (r > 0)
				r = rx_data(v, &v->conn[i]);
			if (r > 0)
				progress = true;
			else if (r == 0 && v->rx_held)
				r = 1;	/* this socket had nothing: try the next */
		}
		if (r < 0)
			break;
		/* Without data sent, go round again only for what an EOF or
		 * an error owes (a SHUTDOWN, an RST). */
		if (!progress && v->ctl_head < 0 && !v->nrst)
			break;
	}
	*used = v->st.rx_packets != before;
	return r < 0 ? -EIO : 0;
}

void vsock_pump(struct vsock *v)
{
	bool used = false;

	for (int round = 0; round < 8; round++) {
		bool u;

		if (rx_all(v, &u) < 0)
			goto broken;
		used |= u;
		if (!v->tx_stalled || v->nrst >= VSOCK_RST_MAX)
			break;
		if (vsock_tx_all(v) < 0)
			goto broken;
	}
	if (used)
		virtio_dev_used(&v->vd, VSOCK_RXQ);
	return;
broken:
	virtio_dev_needs_reset(&v->vd);
}

/* ---- device ops ---- */

static uint64_t vsock_features(struct virtio_dev *vd)
{
	return 1ULL << VIRTIO_RING_F_INDIRECT_DESC | 1ULL << VIRTIO_RING_F_EVENT_IDX;
}

static void vsock_config_read(struct virtio_dev *vd, uint32_t off, uint8_t *data,
			      uint32_t len)
{
	struct vsock *v = vd->priv;

	memcpy(data, (const uint8_t *)&v->config + off, len);	/* checked by the transport */
}

static void vsock_reset(struct virtio_dev *vd)
{
	struct vsock *v = vd->priv;

	if (v->nconn)
		log_info("%s: driver reset: %u connection(s) dropped", v->name, v->nconn);
	drop_all(v);
}

static void vsock_notify(struct virtio_dev *vd, unsigned q)
{
	struct vsock *v = vd->priv;

	if (q == VSOCK_TXQ && vsock_tx_all(v) < 0) {
		virtio_dev_needs_reset(vd);
		return;
	}
	if (q != VSOCK_EVQ)
		vsock_pump(v);
}

static size_t vsock_describe(struct virtio_dev *vd, char *buf, size_t len)
{
	struct vsock *v = vd->priv;
	int n = snprintf(buf, len, " cid=%llu conns=%u rst_queued=%u tx_stalled=%d",
			 (unsigned long long)v->cid, v->nconn, v->nrst, v->tx_stalled);

	return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}

static const struct virtio_dev_ops vsock_ops = {
	.features = vsock_features,
	.config_read = vsock_config_read,
	.reset = vsock_reset,
	.queue_notify = vsock_notify,
	.describe = vsock_describe,
};

void virtio_vsock_poll(struct virtio_dev *vd)
{
	struct vsock *v = vd->priv;

	pthread_mutex_lock(&vd->lock);
	vsock_host_events(v);
	vsock_pump(v);
	pthread_mutex_unlock(&vd->lock);
}

static void on_events(void *opaque, uint32_t events)
{
	(void)events;
	virtio_vsock_poll(opaque);
}

int virtio_vsock_new(uint64_t cid, const char *socket, vsock_connect_fn connect_port,
		     void *connect_ctx, struct iothread *io, struct virtio_dev **out)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 1 };
	struct vsock *v;
	int r;

	*out = NULL;
	if (cid < VSOCK_CID_MIN || cid > VSOCK_CID_MAX)
		return -EINVAL;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	snprintf(v->name, sizeof(v->name), "virtio-vsock cid %llu", (unsigned long long)cid);
	v->vd = (struct virtio_dev){
		.name = v->name, .id = VIRTIO_ID_VSOCK, .nqueues = 3,
		.queue_max = VSOCK_QUEUE_SIZE, .config_size = sizeof(v->config),
		.ops = &vsock_ops, .priv = v,
	};
	v->cid = cid;
	v->config.guest_cid = htole64(cid);
	v->lfd = v->tfd = -1;
	v->ctl_head = v->ctl_tail = -1;
	v->next_port = VSOCK_LOCAL_PORT_FIRST;
	v->connect_port = connect_port;
	v->connect_ctx = connect_ctx;
	for (unsigned i = 0; i < VSOCK_CONN_MAX; i++)
		v->conn[i].fd = -1;
	v->ep = epoll_create1(EPOLL_CLOEXEC);
	v->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (v->ep < 0 || v->tfd < 0 || epoll_ctl(v->ep, EPOLL_CTL_ADD, v->tfd, &ev) < 0) {
		r = -errno;
		log_err("%s: %s", v->name, strerror(-r));
		goto fail;
	}
	if (socket) {
		r = vsock_host_listen(v, socket);
		if (r < 0)
			goto fail;
	}
	if (io) {
		r = iothread_add(io, v->ep, on_events, &v->vd);
		if (r < 0) {
			log_err("%s: watching its sockets: %s", v->name, strerror(-r));
			goto fail;
		}
		v->io = io;
	}
	*out = &v->vd;
	return 0;
fail:
	virtio_vsock_free(&v->vd);
	return r;
}

void virtio_vsock_stop(void *opaque)
{
	struct virtio_dev *vd = opaque;
	struct vsock *v = vd->priv;
	struct virtq *q = &vd->vq[VSOCK_EVQ];

	pthread_mutex_lock(&vd->lock);
	if (virtio_dev_queue_live(vd, VSOCK_EVQ)) {
		struct virtio_vsock_event e = { .id = htole32(VIRTIO_VSOCK_EVENT_TRANSPORT_RESET) };
		int r = virtq_pop(q, &v->txc);

		if (r > 0 && virtq_chain_write(&v->txc, 0, &e, sizeof(e)) == sizeof(e) &&
		    virtq_push(q, v->txc.head, sizeof(e)) == 0)
			virtio_dev_used(vd, VSOCK_EVQ);
		else if (r > 0)
			virtq_push(q, v->txc.head, 0);
	}
	if (v->nconn)
		log_info("%s: VM stops: closing %u connection(s)", v->name, v->nconn);
	drop_all(v);
	vsock_host_unlisten(v);
	pthread_mutex_unlock(&vd->lock);
}

void virtio_vsock_free(void *opaque)
{
	struct virtio_dev *vd = opaque;
	struct vsock *v;

	if (!vd)
		return;
	v = vd->priv;
	for (unsigned i = 0; i < v->hiwater; i++)
		if (v->conn[i].state != VS_FREE)
			vsock_conn_free(v, &v->conn[i]);
	vsock_host_unlisten(v);
	if (v->io)
		iothread_del(v->io, v->ep);
	if (v->ep >= 0)
		close(v->ep);
	if (v->tfd >= 0)
		close(v->tfd);
	free(v);
}

void virtio_vsock_get_stats(struct virtio_dev *vd, struct virtio_vsock_stats *st)
{
	struct vsock *v = vd->priv;

	pthread_mutex_lock(&vd->lock);
	*st = v->st;
	pthread_mutex_unlock(&vd->lock);
}
