/* virtio-net's receive path: frames from a pair's descriptor (TAP queue,
 * packet socket or passt's stream) into the guest's receive buffers, with
 * merged buffers and back-pressure (a frame waits in rxbuf, the descriptor
 * unread, until the guest has room). Every chain the driver gives is
 * checked; the device is net.c. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "log.h"
#include "virtio/net-internal.h"

/* Frames taken from the TAP per wakeup, so that transmit gets its turn. */
#define RX_BUDGET	64

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
		struct rx_slot *s = slot(p, 0);
		size_t l = s->cap < left ? (size_t)s->cap : left;

		slot_fill(s, src, l);
		src += l;
		left -= l;
		p->stashed[s->head] = false;
		p->stash_first = (p->stash_first + 1) % NET_QUEUE_SIZE;
		p->nstash--;
		if (virtq_push(q, s->head, (uint32_t)l) < 0)
			return -EIO;
	}
	n->st.rx_packets++;
	n->st.rx_bytes += p->rx_len - NET_HDR_LEN;
	p->rx_frames++;
	net_irq_moved(&n->irq, p->index, p->rx_len - NET_HDR_LEN);
	return 1;
}

/* Reads the next frame into rxbuf. 1: held; 0: none waiting (or passt
 * was just restarted); -1: the other end is gone and the link with it.
 * Runts and oversized frames are counted and skipped. */
static int rx_read(struct net_pair *p)
{
	struct net *n = p->n;

	for (;;) {
		ssize_t r = n->be->recv(p);

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
		p->rx_len = (size_t)r;
		p->rx_held = true;
		return 1;
	}
}

/* Moves frames from the pair's descriptor to the guest until it is empty,
 * the guest is out of buffers or the budget is spent. Lock held. */
void net_rx_run(struct net_pair *p)
{
	struct net *n = p->n;
	unsigned qi = NET_RXQ_OF(p->index);
	struct virtq *q = &n->vd.vq[qi];
	bool pushed = false;
	int r = 0;

	if (n->link_lost)
		return;
	if (p->index >= n->active || !virtio_dev_queue_live(&n->vd, qi)) {
		net_watch(p, false, p->tx_held);
		return;
	}
	for (unsigned budget = RX_BUDGET; budget; budget--) {
		if (!p->rx_held && (r = rx_read(p)) <= 0)
			break;
		r = rx_place(p);
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
				r = rx_place(p);
			else
				break;
		}
		if (r == 0) {
			net_watch(p, false, p->tx_held);
			break;
		}
		if (r < 0)
			break;
		p->rx_held = false;
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
