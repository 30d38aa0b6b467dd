/* virtio-net's control queue (virtio 1.2, 5.1.6.5), offered with more than
 * one queue pair: the driver picks how many pairs it uses
 * (VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET). The receive-mode and MAC-filter
 * commands are acknowledged without filtering (the device delivers every
 * frame, as a promiscuous NIC) should a driver send them unasked. Every
 * command is hostile input: its header and length are checked before any
 * of it is believed, a malformed one gets VIRTIO_NET_ERR, a chain with no
 * room for the status is returned unwritten and counted. */
#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "log.h"
#include "virtio/net-internal.h"

/* Class and command bytes, then the data. */
#define CTRL_HDR	2

/* MAC_TABLE_SET: a table's entry count, le32, then that many addresses. The
 * two tables, each no longer than the device will read. */
static bool mac_table(const uint8_t *d, size_t len, size_t *used)
{
	uint32_t entries;

	if (len < 4)
		return false;
	memcpy(&entries, d, 4);
	entries = le32toh(entries);
	if (entries > (len - 4) / 6)
		return false;
	*used = 4 + (size_t)entries * 6;
	return true;
}

uint8_t virtio_net_ctrl_parse(const uint8_t *buf, size_t len, unsigned npairs,
			      unsigned *pairs)
{
	const uint8_t *d = buf + CTRL_HDR;
	size_t dl, a, b;
	uint16_t k;

	if (len < CTRL_HDR || len > NET_CTRL_MAX)
		return VIRTIO_NET_ERR;
	dl = len - CTRL_HDR;
	switch (buf[0]) {
	case VIRTIO_NET_CTRL_RX:
		/* PROMISC .. NOBCAST: one byte, on or off. */
		if (buf[1] > VIRTIO_NET_CTRL_RX_NOBCAST || dl != 1 || d[0] > 1)
			return VIRTIO_NET_ERR;
		return VIRTIO_NET_OK;
	case VIRTIO_NET_CTRL_MAC:
		if (buf[1] == VIRTIO_NET_CTRL_MAC_ADDR_SET)
			return dl == 6 ? VIRTIO_NET_OK : VIRTIO_NET_ERR;
		if (buf[1] != VIRTIO_NET_CTRL_MAC_TABLE_SET || !mac_table(d, dl, &a) ||
		    !mac_table(d + a, dl - a, &b) || a + b != dl)
			return VIRTIO_NET_ERR;
		return VIRTIO_NET_OK;
	case VIRTIO_NET_CTRL_ANNOUNCE:
		return buf[1] == VIRTIO_NET_CTRL_ANNOUNCE_ACK && dl == 0 ? VIRTIO_NET_OK :
									  VIRTIO_NET_ERR;
	case VIRTIO_NET_CTRL_MQ:
		/* RSS and hash reports are not offered. */
		if (buf[1] != VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET || dl != 2)
			return VIRTIO_NET_ERR;
		memcpy(&k, d, 2);
		k = le16toh(k);
		if (k < 1 || k > npairs)
			return VIRTIO_NET_ERR;
		*pairs = k;
		return VIRTIO_NET_OK;
	default:
		return VIRTIO_NET_ERR;
	}
}

/* One chain: the command, then the status byte written back. */
static int ctrl_one(struct net *n, struct virtq *q)
{
	const struct virtq_chain *c = &n->ctrlc;
	uint8_t buf[NET_CTRL_MAX] = { 0 };
	uint8_t ack = VIRTIO_NET_ERR;
	unsigned pairs = 0;

	n->ctrl_cmds++;
	if (c->write_bytes < 1) {
		/* Nowhere to answer: the driver waits on a status it never
		 * gets; its own doing, and counted. */
		n->ctrl_errors++;
		log_warn_limited("%s: control command without a status byte", n->name);
		return virtq_push(q, c->head, 0);
	}
	if (c->read_bytes <= NET_CTRL_MAX) {
		size_t len = virtq_chain_read(c, 0, buf, (size_t)c->read_bytes);

		ack = virtio_net_ctrl_parse(buf, len, n->npairs, &pairs);
	}
	if (ack == VIRTIO_NET_OK && pairs && net_set_active(n, pairs) < 0)
		ack = VIRTIO_NET_ERR;
	if (ack != VIRTIO_NET_OK) {
		n->ctrl_errors++;
		log_warn_limited("%s: control command %u.%u (%llu bytes) refused", n->name,
				 c->read_bytes ? buf[0] : 0, c->read_bytes > 1 ? buf[1] : 0,
				 (unsigned long long)c->read_bytes);
	}
	virtq_chain_write(c, 0, &ack, 1);
	return virtq_push(q, c->head, 1);
}

/* One kick's state for ctrl_each. */
struct ctrl_kick {
	struct net *n;
	struct virtq *q;
	bool pushed;
};

static int ctrl_each(struct virtq_chain *c, void *opaque)
{
	struct ctrl_kick *k = opaque;

	(void)c;	/* n->ctrlc, which ctrl_one reads */
	if (ctrl_one(k->n, k->q) < 0)
		return -EIO;
	k->pushed = true;
	return 0;
}

void net_ctrl_run(struct net *n)
{
	unsigned qi = 2 * n->npairs;
	struct ctrl_kick k = { n, &n->vd.vq[qi], false };

	if (!virtio_dev_queue_live(&n->vd, qi))
		return;
	if (virtq_drain(k.q, &n->ctrlc, ctrl_each, &k) < 0) {
		virtio_dev_needs_reset(&n->vd);
		return;
	}
	if (k.pushed)
		virtio_dev_used(&n->vd, qi);	/* the driver spins on it: never held */
}
