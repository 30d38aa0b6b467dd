/* The virtio-net header rules, both ways, and the TAP offloads they imply
 * (virtio 1.2, 5.1.6): pure functions of a header and the negotiated
 * features, apart from the device so that the unit tests and fuzz_net_tx
 * check them alone. The driver's header is never trusted: an offload it
 * did not negotiate, or an offset past the frame, drops the frame. */
#include "virtio/net.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <linux/if_tun.h>

unsigned virtio_net_tun_offloads(uint64_t features)
{
	unsigned f = 0;

	/* TUN ignores the GSO flags without TUN_F_CSUM, as the spec ties
	 * GUEST_TSO* to GUEST_CSUM. */
	if (!(features & (1ULL << VIRTIO_NET_F_GUEST_CSUM)))
		return 0;
	f |= TUN_F_CSUM;
	if (features & (1ULL << VIRTIO_NET_F_GUEST_TSO4))
		f |= TUN_F_TSO4;
	if (features & (1ULL << VIRTIO_NET_F_GUEST_TSO6))
		f |= TUN_F_TSO6;
	if ((f & (TUN_F_TSO4 | TUN_F_TSO6)) &&
	    (features & (1ULL << VIRTIO_NET_F_GUEST_ECN)))
		f |= TUN_F_TSO_ECN;
	if (features & (1ULL << VIRTIO_NET_F_GUEST_UFO))
		f |= TUN_F_UFO;
	return f;
}

/* The feature that lets a frame of this GSO type (ECN bit removed) cross,
 * from the guest (host_side) or to it; -1 for an unknown type. */
static int gso_feature(uint8_t type, bool host_side)
{
	switch (type) {
	case VIRTIO_NET_HDR_GSO_TCPV4:
		return host_side ? VIRTIO_NET_F_HOST_TSO4 : VIRTIO_NET_F_GUEST_TSO4;
	case VIRTIO_NET_HDR_GSO_TCPV6:
		return host_side ? VIRTIO_NET_F_HOST_TSO6 : VIRTIO_NET_F_GUEST_TSO6;
	case VIRTIO_NET_HDR_GSO_UDP:
		return host_side ? VIRTIO_NET_F_HOST_UFO : VIRTIO_NET_F_GUEST_UFO;
	default:
		return -1;
	}
}

static bool has(uint64_t features, int bit)
{
	return bit >= 0 && (features & (1ULL << bit));
}

size_t virtio_net_tx_max_frame(const struct virtio_net_hdr_v1 *h, uint64_t features,
			       uint16_t mtu)
{
	if ((h->gso_type & ~VIRTIO_NET_HDR_GSO_ECN) != VIRTIO_NET_HDR_GSO_NONE)
		return NET_MAX_GSO_FRAME;
	if (!has(features, VIRTIO_NET_F_MTU) || mtu == 0)
		mtu = 65535;
	return (size_t)mtu + NET_ETH_OVERHEAD;
}

int virtio_net_tx_hdr(const struct virtio_net_hdr_v1 *in, uint64_t features,
		      size_t frame_len, struct virtio_net_hdr_v1 *out)
{
	uint8_t type = in->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;
	bool ecn = in->gso_type & VIRTIO_NET_HDR_GSO_ECN;

	memset(out, 0, sizeof(*out));
	/* DATA_VALID and RSC_INFO are the device's to set (5.1.6.2.1). */
	if (in->flags & ~VIRTIO_NET_HDR_F_NEEDS_CSUM)
		return -EINVAL;
	if (in->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) {
		/* The 16-bit checksum lands at csum_start + csum_offset. */
		if (!has(features, VIRTIO_NET_F_CSUM) ||
		    (size_t)in->csum_start + in->csum_offset + 2 > frame_len)
			return -EINVAL;
		out->flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
		out->csum_start = in->csum_start;
		out->csum_offset = in->csum_offset;
	}
	if (type == VIRTIO_NET_HDR_GSO_NONE)
		return ecn ? -EINVAL : 0;
	if (!has(features, gso_feature(type, true)) || in->gso_size == 0 ||
	    in->hdr_len > frame_len ||
	    (ecn && (type == VIRTIO_NET_HDR_GSO_UDP || !has(features, VIRTIO_NET_F_HOST_ECN))))
		return -EINVAL;
	out->gso_type = in->gso_type;
	out->gso_size = in->gso_size;
	out->hdr_len = in->hdr_len;
	return 0;
}

int virtio_net_rx_hdr(struct virtio_net_hdr_v1 *h, uint64_t features, size_t frame_len,
		      uint16_t num_buffers)
{
	uint8_t type = h->gso_type & (uint8_t)~VIRTIO_NET_HDR_GSO_ECN;

	if (!has(features, VIRTIO_NET_F_GUEST_CSUM)) {
		/* Without GUEST_CSUM flags must be 0 (5.1.6.3.2); a partial
		 * checksum cannot be finished by a guest that did not ask. */
		if (h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
			return -EINVAL;
		h->flags = 0;
	} else {
		h->flags &= VIRTIO_NET_HDR_F_NEEDS_CSUM | VIRTIO_NET_HDR_F_DATA_VALID;
		if ((h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM) &&
		    (size_t)h->csum_start + h->csum_offset + 2 > frame_len)
			return -EINVAL;
	}
	if (!(h->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM))
		h->csum_start = h->csum_offset = 0;
	if (type == VIRTIO_NET_HDR_GSO_NONE) {
		h->gso_type = 0;
		h->gso_size = h->hdr_len = 0;
	} else if (!has(features, gso_feature(type, false)) ||
		   ((h->gso_type & VIRTIO_NET_HDR_GSO_ECN) &&
		    !has(features, VIRTIO_NET_F_GUEST_ECN))) {
		return -EINVAL;
	}
	/* 1 without MRG_RXBUF (5.1.6.4.1): VERSION_1 headers always have it. */
	h->num_buffers = num_buffers;
	return 0;
}
