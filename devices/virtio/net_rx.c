/* virtio-net's receive path: frames from a pair's descriptor (TAP queue,
 * packet socket or passt's stream) into the guest's receive buffers, with
 * merged buffers and back-pressure. Where the backend reads a frame in one
 * call (recv_iov) and the chains taken from the ring have room for the
 * largest, the frame is read straight into them (zero-copy: the header
 * into a local buffer, translated there and written after it); else it is
 * read into rxbuf and copied, and waits there, the descriptor unread, until
 * the guest has room. Every chain the driver gives is checked; the device
 * is net.c. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "virtio/net-internal.h"

/* Frames taken from the TAP per wakeup, so that transmit gets its turn. */
#define RX_BUDGET	64
/* iovecs of one zero-copy read: the header's and the guest's buffers'.
 * Linux's mergeable buffers (1.5 KiB and up) need about 45 for the largest
 * frame, its big-packet chains 19; a guest that scatters finer is served
 * through rxbuf. */
#define RX_ZC_IOV	256
_Static_assert(RX_ZC_IOV <= IOV_MAX, "one readv");
/* rx_direct: the frame goes through rxbuf instead. */
#define RX_BOUNCE	2

static struct rx_slot *slot(struct net_pair *p, unsigned i)
{
	return &p->stash[(p->stash_first + i) % NET_QUEUE_SIZE];
}

/* Takes one more RX chain into the stash. 1: taken; 0: the ring is empty;
 * -EIO: the ring is broken (or the driver gave a chain we hold twice). */
static int stash_one(struct net_pair *p)
{
	struct net *n = p->n;
	struct virtq *q = &n->vd.vq[NET_RXQ_OF(p->index)];
	struct virtq_chain *c = &p->rxc;
	struct rx_slot *s;
	int r;

	for (;;) {
		r = virtq_pop(q, c);
		if (r <= 0)
			return r;
		if (p->stashed[c->head]) {
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
	s = slot(p, p->nstash);
	s->head = c->head;
	/* Buffers past RX_SLOT_IOV are left unused: less room, not an error. */
	r = virtq_chain_iov(c, true, 0, UINT64_MAX, s->iov, RX_SLOT_IOV, &s->cap);
	s->niov = r < 0 ? RX_SLOT_IOV : (unsigned)r;
	p->stashed[c->head] = true;
	p->nstash++;
	return 1;
}

/* Copies len bytes of src into the slot's buffers. */
static void slot_fill(const struct rx_slot *s, const void *from, size_t len)
{
	const uint8_t *src = from;

	for (unsigned i = 0; i < s->niov && len; i++) {
		size_t l = s->iov[i].iov_len < len ? s->iov[i].iov_len : len;

		memcpy(s->iov[i].iov_base, src, l);
		src += l;
		len -= l;
	}
}

/* Uses the first `need` stashed chains for a frame of len bytes, header
 * included, laid over them in order, and counts the frame. 1; -EIO: the
 * ring is broken. */
static int rx_push(struct net_pair *p, unsigned need, size_t len)
{
	struct net *n = p->n;
	struct virtq *q = &n->vd.vq[NET_RXQ_OF(p->index)];
	size_t left = len;

	for (unsigned i = 0; i < need; i++) {
		struct rx_slot *s = slot(p, 0);
		size_t l = s->cap < left ? (size_t)s->cap : left;

		left -= l;
		p->stashed[s->head] = false;
		p->stash_first = (p->stash_first + 1) % NET_QUEUE_SIZE;
		p->nstash--;
		if (virtq_push(q, s->head, (uint32_t)l) < 0)
			return -EIO;
	}
	n->st.rx_packets++;
	n->st.rx_bytes += len - NET_HDR_LEN;
	p->rx_frames++;
	net_irq_moved(&n->irq, p->index, len - NET_HDR_LEN, false);
	return 1;
}

/*
 * Places the held frame (rxbuf, rx_len bytes, header first) in the guest's
 * buffers: one chain, or with MRG_RXBUF as many as it takes. 1: delivered,
 * or dropped and counted; 0: the ring has too little room yet (the frame
 * stays held); -EIO: the ring is broken.
 */
static int rx_place(struct net_pair *p)
{
	struct net *n = p->n;
	struct virtq *q = &n->vd.vq[NET_RXQ_OF(p->index)];
	bool mrg = n->vd.features & (1ULL << VIRTIO_NET_F_MRG_RXBUF);
	struct virtio_net_hdr_v1 *h = (struct virtio_net_hdr_v1 *)p->rxbuf;
	const uint8_t *src = p->rxbuf;
	size_t left = p->rx_len;
	unsigned need = 0;
	uint64_t cap = 0;
	int r;

	while (cap < p->rx_len) {
		if (need == p->nstash) {
			/* Holding every buffer the ring has: no more can come. */
			if (p->nstash >= q->size)
				break;
			r = stash_one(p);
			if (r <= 0)
				return r;
		}
		cap += slot(p, need)->cap;
		need++;
		if (!mrg)
			break;
	}
	if (cap < p->rx_len) {
		/* The guest's buffers can never hold it. Keep them for the
		 * next frame. */
		n->st.rx_too_big++;
		return 1;
	}
	if (virtio_net_rx_hdr(h, n->vd.features, p->rx_len - NET_HDR_LEN,
			      (uint16_t)need) < 0) {
		n->st.rx_bad_hdr++;
		return 1;
	}
	for (unsigned i = 0; i < need; i++) {
		const struct rx_slot *s = slot(p, i);
		size_t l = s->cap < left ? (size_t)s->cap : left;

		slot_fill(s, src, l);
		src += l;
		left -= l;
	}
	return rx_push(p, need, p->rx_len);
}

/* Reads the next frame: into iov (cnt of them) when given, else into
 * rxbuf. Its length, header included; 0: none waiting (or passt was just
 * restarted); -1: the other end is gone and the link with it. Runts and
 * truncated frames are counted and skipped. */
static ssize_t rx_next(struct net_pair *p, const struct iovec *iov, int cnt)
{
	struct net *n = p->n;

	for (;;) {
		ssize_t r = iov ? n->be->recv_iov(p, iov, cnt) : n->be->recv(p);

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
		return r;
	}
}

/*
 * The room for one frame read straight into the stashed chains, taking
 * more from the ring as rx_place would (one chain without MRG_RXBUF):
 * iov[0] is *hdr, vmm's own, then the chains' buffers from NET_HDR_LEN
 * bytes into the first, RX_BUF_SIZE bytes in all, so that the largest
 * frame fits and a longer one reads as truncated, as into rxbuf. Returns
 * the iovecs' count; 0 when the chains have less room, are scattered over
 * more than RX_ZC_IOV buffers, or the first is shorter than the header
 * (rx_place then writes it across chains); -EIO: the ring is broken.
 */
static int rx_room(struct net_pair *p, struct virtio_net_hdr_v1 *hdr, struct iovec *iov)
{
	struct net *n = p->n;
	struct virtq *q = &n->vd.vq[NET_RXQ_OF(p->index)];
	bool mrg = n->vd.features & (1ULL << VIRTIO_NET_F_MRG_RXBUF);
	size_t want = RX_BUF_SIZE - NET_HDR_LEN, skip = NET_HDR_LEN;
	int k = 1, r;

	iov[0].iov_base = hdr;
	iov[0].iov_len = NET_HDR_LEN;
	for (unsigned i = 0; want; i++) {
		const struct rx_slot *s;

		if (i > 0 && !mrg)
			return 0;
		if (i == p->nstash) {
			if (p->nstash >= q->size)
				return 0;
			r = stash_one(p);
			if (r <= 0)
				return r;
		}
		s = slot(p, i);
		if (i == 0 && s->cap < NET_HDR_LEN)
			return 0;
		for (unsigned j = 0; j < s->niov && want; j++) {
			size_t l = s->iov[j].iov_len;

			if (skip >= l) {
				skip -= l;
				continue;
			}
			if (k == RX_ZC_IOV)
				return 0;
			l -= skip;
			if (l > want)
				l = want;
			iov[k].iov_base = (uint8_t *)s->iov[j].iov_base + skip;
			iov[k].iov_len = l;
			k++;
			want -= l;
			skip = 0;
		}
	}
	return k;
}

/*
 * The next frame straight into the guest's buffers (zero-copy), where the
 * backend can and the stash has room for any frame. The guest may change
 * its buffers meanwhile: nothing is read back from them; the header is
 * checked and translated in vmm's memory, then written to the first
 * chain. A frame dropped leaves its chains stashed, their contents
 * garbage the guest never sees as used. 1: delivered, or dropped and
 * counted; 0: none waiting; -1: the other end is gone; -EIO: the ring is
 * broken; RX_BOUNCE: through rxbuf instead (rx_bounce).
 */
static int rx_direct(struct net_pair *p)
{
	struct net *n = p->n;
	struct iovec iov[RX_ZC_IOV];
	struct virtio_net_hdr_v1 h;
	unsigned need = 0;
	uint64_t cap = 0;
	ssize_t len;
	int k, r;

	if (!n->be->recv_iov || !n->rx_zero_copy)
		return RX_BOUNCE;
	k = rx_room(p, &h, iov);
	if (k <= 0)
		return k < 0 ? k : RX_BOUNCE;
	len = rx_next(p, iov, k);
	if (len <= 0)
		return (int)len;
	/* len < RX_BUF_SIZE: the chains rx_room offered hold it. */
	while (cap < (uint64_t)len && need < p->nstash)
		cap += slot(p, need++)->cap;
	if (virtio_net_rx_hdr(&h, n->vd.features, (size_t)len - NET_HDR_LEN,
			      (uint16_t)need) < 0) {
		n->st.rx_bad_hdr++;
		return 1;
	}
	slot_fill(slot(p, 0), &h, NET_HDR_LEN);
	r = rx_push(p, need, (size_t)len);
	if (r > 0) {
		n->st.rx_zerocopy++;
		p->rx_zerocopy++;
	}
	return r;
}

/*
 * The next frame through rxbuf: read unless one is held, then placed.
 * 1: delivered, or dropped and counted; 0: none waiting, or held for
 * buffers (rx_held, the descriptor no longer watched); -1: the other end
 * is gone; -EIO: the ring is broken.
 */
static int rx_bounce(struct net_pair *p)
{
	struct virtq *q = &p->n->vd.vq[NET_RXQ_OF(p->index)];
	ssize_t len;
	int r;

	if (!p->rx_held) {
		len = rx_next(p, NULL, 0);
		if (len <= 0)
			return (int)len;
		p->rx_len = (size_t)len;
		p->rx_held = true;
	}
	r = rx_place(p);
	/* Out of buffers: wait for the next RX kick. Buffers added before
	 * the driver sees avail_event get no kick, hence the second look; and
	 * when those are still too few for a merged frame, avail_event must
	 * move past them too, or the driver's next buffers cross no event and
	 * the ring waits forever. Each round takes at least one buffer, so
	 * this ends. */
	while (r == 0) {
		virtq_set_avail_event(q);
		r = virtq_pending(q);
		if (r > 0)
			r = rx_place(p);
		else
			break;
	}
	if (r == 0)
		net_watch(p, false, p->tx_held);
	if (r > 0)
		p->rx_held = false;
	return r;
}

/* Moves frames from the pair's descriptor to the guest until it is empty,
 * the guest is out of buffers or the budget is spent. Lock held. */
void net_rx_run(struct net_pair *p)
{
	struct net *n = p->n;
	unsigned qi = NET_RXQ_OF(p->index);
	bool pushed = false;
	int r = 0;

	if (n->link_lost)
		return;
	if (p->index >= n->active || !virtio_dev_queue_live(&n->vd, qi)) {
		net_watch(p, false, p->tx_held);
		return;
	}
	for (unsigned budget = RX_BUDGET; budget; budget--) {
		r = p->rx_held ? RX_BOUNCE : rx_direct(p);
		if (r == RX_BOUNCE)
			r = rx_bounce(p);
		if (r <= 0)
			break;
		pushed = true;
	}
	if (r < 0 && !n->link_lost) {
		net_watch(p, false, p->tx_held);
		virtio_dev_needs_reset(&n->vd);
		return;
	}
	if (r > 0 || (r == 0 && !p->rx_held))
		net_watch(p, true, p->tx_held);
	if (pushed)
		net_irq_used(&n->irq, &n->vd, qi, net_irq_now());
}
