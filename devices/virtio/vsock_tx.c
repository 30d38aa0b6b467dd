/* virtio-vsock, packets from the driver (tx): every header field checked
 * against the spec and the connection's state, a bad one answered with RST
 * (ending its connection); REQUEST, RESPONSE, RST, SHUTDOWN, RW and the
 * credit ops applied to the connection table (vsock.c) and the host's
 * sockets (vsock_host.c). */
#include "virtio/vsock-internal.h"

#include <endian.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

static void queue_rst(struct vsock *v, const struct vsock_hdr *h)
{
	if (h->op == VIRTIO_VSOCK_OP_RST || v->nrst >= VSOCK_RST_MAX)
		return;
	v->rst[(v->rst_first + v->nrst) % VSOCK_RST_MAX].src = h->dst_port;
	v->rst[(v->rst_first + v->nrst) % VSOCK_RST_MAX].dst = h->src_port;
	v->nrst++;
}

/* What is wrong with a header whose chain has `avail` payload bytes, or
 * NULL. */
static const char *check_hdr(const struct vsock *v, const struct vsock_hdr *h, uint64_t avail)
{
	if (h->src_cid != v->cid)
		return "src_cid is not the guest's CID";
	if (h->dst_cid != VSOCK_HOST_CID)
		return "dst_cid is not the host's (2)";
	if (h->type != VIRTIO_VSOCK_TYPE_STREAM)
		return "type is not STREAM";
	if (h->op < VIRTIO_VSOCK_OP_REQUEST || h->op > VIRTIO_VSOCK_OP_CREDIT_REQUEST)
		return "unknown op";
	if (h->len > avail)
		return "len goes past the buffers";
	if (h->op == VIRTIO_VSOCK_OP_RW ? h->len > VSOCK_PKT_MAX : h->len != 0)
		return h->op == VIRTIO_VSOCK_OP_RW ? "len over 64 KiB" : "len on a control packet";
	if (h->op == VIRTIO_VSOCK_OP_SHUTDOWN ? (h->flags & ~3u) != 0 : h->flags != 0)
		return "unknown flags";
	return NULL;
}

/* The same for what a packet says about an existing connection. */
static const char *check_conn(const struct vsock_conn *c, const struct vsock_hdr *h)
{
	if (h->fwd_cnt - c->peer_fwd_cnt > c->tx_cnt - c->peer_fwd_cnt)
		return "fwd_cnt counts bytes never sent";
	if (h->op == VIRTIO_VSOCK_OP_RW && (c->rx_cnt - c->fwd_cnt) + h->len > VSOCK_BUF_SIZE)
		return "more data than the credit given";
	return NULL;
}

/* Drops the queued RSTs for a port pair that a new REQUEST reuses: they
 * answer older packets, and would reach the guest after its REQUEST. */
static void unqueue_rst(struct vsock *v, uint32_t src, uint32_t dst)
{
	unsigned kept = 0;

	for (unsigned i = 0; i < v->nrst; i++) {
		unsigned from = (v->rst_first + i) % VSOCK_RST_MAX;

		if (v->rst[from].src == src && v->rst[from].dst == dst)
			continue;
		v->rst[(v->rst_first + kept++) % VSOCK_RST_MAX] = v->rst[from];
	}
	v->nrst = kept;
}

/* A REQUEST with no connection: the guest connects to the host. */
static void guest_connect(struct vsock *v, const struct vsock_hdr *h)
{
	struct vsock_conn *c;
	int fd = -1, r = -ECONNREFUSED;

	unqueue_rst(v, h->dst_port, h->src_port);

	if (v->nconn >= VSOCK_CONN_MAX)
		r = -EMFILE;
	else if (v->connect_port)
		r = v->connect_port(v->connect_ctx, h->dst_port, &fd);
	c = r == 0 ? vsock_conn_alloc(v, fd) : NULL;
	if (c) {
		c->local_port = h->dst_port;
		c->peer_port = h->src_port;
		c->peer_buf_alloc = h->buf_alloc;
		c->peer_fwd_cnt = h->fwd_cnt;
		c->tx_cnt = h->fwd_cnt;	/* only differences count */
		c->state = VS_OPEN;
		r = vsock_host_watch(v, c);
		if (r == 0) {
			v->st.conns_open++;
			vsock_conn_pend(v, c, P_RESPONSE);
			return;
		}
		vsock_conn_free(v, c);
	} else if (fd >= 0) {
		close(fd);
	}
	v->st.conns_refused++;
	log_info_limited("%s: guest connection to host port %u refused: %s", v->name,
			 h->dst_port, strerror(-r));
	queue_rst(v, h);
}

static void guest_shutdown(struct vsock *v, struct vsock_conn *c, uint32_t flags)
{
	c->guest_shut |= (uint8_t)flags;
	if ((c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_RCV) && c->fd >= 0)
		shutdown(c->fd, SHUT_RD);
	if (vsock_host_flush(v, c) < 0) {
		vsock_conn_end(v, c, true);
		return;
	}
	if (c->state == VS_OPEN && c->guest_shut == (VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND) &&
	    !c->deadline_ms) {
		/* Closed: ended once what it sent has reached the host. */
		c->deadline_ms = vsock_now_ms() + VSOCK_TIMEOUT_MS;
		vsock_host_timer(v);
	}
}

static void conn_packet(struct vsock *v, struct vsock_conn *c, const struct vsock_hdr *h)
{
	c->peer_buf_alloc = h->buf_alloc;
	c->peer_fwd_cnt = h->fwd_cnt;
	if (c->state == VS_CLOSING) {
		/* Our full SHUTDOWN went: only its end matters now. */
		if (h->op == VIRTIO_VSOCK_OP_RST || h->op == VIRTIO_VSOCK_OP_SHUTDOWN)
			vsock_conn_end(v, c, h->op == VIRTIO_VSOCK_OP_SHUTDOWN);
		return;
	}
	switch (h->op) {
	case VIRTIO_VSOCK_OP_RST:
		if (c->state == VS_CONNECTING)
			log_info_limited("%s: the guest refused port %u", v->name, c->peer_port);
		vsock_conn_end(v, c, false);
		return;
	case VIRTIO_VSOCK_OP_RESPONSE:
		if (c->state != VS_CONNECTING || (c->pend & P_REQUEST))
			break;
		c->state = VS_OPEN;
		c->deadline_ms = 0;
		v->st.conns_open++;
		vsock_host_ok(v, c);
		return;
	case VIRTIO_VSOCK_OP_SHUTDOWN:
		if (c->state != VS_OPEN)
			break;
		guest_shutdown(v, c, h->flags);
		return;
	case VIRTIO_VSOCK_OP_RW:
		if (c->state != VS_OPEN || (c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_SEND))
			break;
		v->st.tx_bytes += h->len;
		if (vsock_host_write(v, c, &v->txc, VSOCK_HDR_LEN, h->len) < 0)
			vsock_conn_end(v, c, true);
		return;
	case VIRTIO_VSOCK_OP_CREDIT_UPDATE:
		return;		/* the credit is read from every packet */
	case VIRTIO_VSOCK_OP_CREDIT_REQUEST:
		vsock_conn_pend(v, c, P_CREDIT);
		return;
	default:	/* REQUEST: the connection exists */
		break;
	}
	vsock_guest_error(v, h, h->op == VIRTIO_VSOCK_OP_REQUEST ? "REQUEST for a connection that exists" :
		    "op not valid in the connection's state");
	vsock_conn_end(v, c, true);
}

/* One chain of the tx queue. */
static void tx_packet(struct vsock *v)
{
	const struct virtq_chain *ch = &v->txc;
	struct virtio_vsock_hdr raw;
	struct vsock_conn *c;
	const char *why;
	struct vsock_hdr h;

	if (ch->read_bytes < VSOCK_HDR_LEN ||
	    virtq_chain_read(ch, 0, &raw, sizeof(raw)) != sizeof(raw)) {
		vsock_guest_error(v, NULL, "packet shorter than its header");
		return;
	}
	h = (struct vsock_hdr){
		le64toh(raw.src_cid), le64toh(raw.dst_cid), le32toh(raw.src_port),
		le32toh(raw.dst_port), le32toh(raw.len), le16toh(raw.type), le16toh(raw.op),
		le32toh(raw.flags), le32toh(raw.buf_alloc), le32toh(raw.fwd_cnt),
	};
	v->st.tx_packets++;
	c = vsock_conn_find(v, h.dst_port, h.src_port);
	if (c && c->state == VS_DEAD)
		return;		/* an RST is on its way */
	why = check_hdr(v, &h, ch->read_bytes - VSOCK_HDR_LEN);
	if (!why && c)
		why = check_conn(c, &h);
	if (why) {
		vsock_guest_error(v, &h, why);
		if (c)
			vsock_conn_end(v, c, true);
		else
			queue_rst(v, &h);
		return;
	}
	if (c) {
		conn_packet(v, c, &h);
	} else if (h.op == VIRTIO_VSOCK_OP_REQUEST) {
		guest_connect(v, &h);
	} else if (h.op != VIRTIO_VSOCK_OP_RST) {
		/* Not a driver mistake as a rule: packets it sent before our
		 * RST reached it. Answered, not logged above debug. */
		log_debug("%s: op %u for no connection (port %u -> %u): RST", v->name, h.op,
			  h.src_port, h.dst_port);
		queue_rst(v, &h);
	}
}

/* One kick's state for tx_one. */
struct txkick {
	struct vsock *v;
	bool any;		/* a chain given back: the driver is told */
};

/* One tx chain: its packet handled, the chain given back. 1 (stop) once
 * the RST queue is full: vsock_tx_all runs again when it drains. */
static int tx_one(struct virtq_chain *c, void *opaque)
{
	struct txkick *k = opaque;
	struct vsock *v = k->v;

	tx_packet(v);
	if (virtq_push(&v->vd.vq[VSOCK_TXQ], c->head, 0) < 0)
		return -EIO;
	k->any = true;
	v->tx_stalled = v->nrst >= VSOCK_RST_MAX;
	return v->tx_stalled ? 1 : 0;
}

/* Reads the tx queue while RSTs can be queued. 0 or -EIO. */
int vsock_tx_all(struct vsock *v)
{
	struct txkick k = { v, false };
	int r = 0;

	v->tx_stalled = false;
	if (!virtio_dev_queue_live(&v->vd, VSOCK_TXQ))
		return 0;
	v->tx_stalled = v->nrst >= VSOCK_RST_MAX;
	if (!v->tx_stalled)
		r = virtq_drain(&v->vd.vq[VSOCK_TXQ], &v->txc, tx_one, &k);
	if (k.any)
		virtio_dev_used(&v->vd, VSOCK_TXQ);
	return r < 0 ? -EIO : 0;
}
