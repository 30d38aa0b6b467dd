/* virtio-net (virtio 1.2, 5.1) on a host TAP device (tap.h), or on passt
 * (passt.h) for mode = "user": one receive and transmit queue pair, or on a
 * multi-queue TAP up to NET_QUEUES_MAX pairs and a control queue, checksum
 * and TSO/UFO offloads mirrored to the TAP (none on passt), merged receive
 * buffers. Receive is driven by the TAP's readability in the I/O
 * thread, transmit by the queue's kick. */
#ifndef VMM_VIRTIO_NET_H
#define VMM_VIRTIO_NET_H

#include <stddef.h>
#include <stdint.h>

/* VIRTIO_NET_F_*, VIRTIO_NET_HDR_F_*, the GSO types, struct
 * virtio_net_hdr_v1 and struct virtio_net_config are the kernel's. */
#include <linux/virtio_net.h>

#include "config.h"
#include "virtio/pci.h"

#define NET_RXQ			0
#define NET_TXQ			1
#define NET_QUEUE_SIZE		256
/* The header on both queues and on the TAP (TUNSETVNETHDRSZ): with
 * VIRTIO_F_VERSION_1 it always carries num_buffers. */
#define NET_HDR_LEN		12
_Static_assert(sizeof(struct virtio_net_hdr_v1) == NET_HDR_LEN, "virtio-net header");

/* Frame limits, Ethernet header included, virtio-net header excluded. A
 * VLAN tag may come on top of the MTU. A GSO frame is one TCP/UDP super-
 * packet of at most 64 KiB of IP datagram. */
#define NET_ETH_OVERHEAD	(14 + 4)
#define NET_MAX_GSO_FRAME	(65535 + NET_ETH_OVERHEAD)

/* struct virtio_net_config (virtio_net.h) up to mtu, as we fill it. */
#define NET_CFG_MAC		offsetof(struct virtio_net_config, mac)
#define NET_CFG_STATUS		offsetof(struct virtio_net_config, status)
#define NET_CFG_MTU		offsetof(struct virtio_net_config, mtu)
#define NET_CFG_SIZE		offsetof(struct virtio_net_config, speed)
_Static_assert(NET_CFG_STATUS == 6 && NET_CFG_MTU == 10 && NET_CFG_SIZE == 12,
	       "virtio-net config layout");

/* What the device counts; packets dropped are never silent. */
struct virtio_net_stats {
	uint64_t rx_packets, rx_bytes;	/* delivered to the guest */
	uint64_t tx_packets, tx_bytes;	/* written to the TAP */
	uint64_t rx_too_big;		/* host frame larger than the guest's buffers can hold */
	uint64_t rx_bad_hdr;		/* from the TAP: offload the guest did not negotiate, runt */
	uint64_t rx_reset;		/* held when the driver reset the device */
	uint64_t tx_too_big;		/* guest frame over the negotiated size */
	uint64_t tx_bad_hdr;		/* guest header invalid or short */
	uint64_t tx_errors;		/* the TAP refused the frame (down, EINVAL...) */
	uint64_t rx_bad_buffers;	/* RX chains without writable bytes */
	uint64_t rx_zerocopy;		/* of rx_packets, read straight into the guest's buffers */
};

struct guest_mem;
struct iothread;

/*
 * Attaches to the TAP of `nc` (by name, IFF_TAP | IFF_NO_PI | IFF_VNET_HDR,
 * or the inherited tap_fd) and builds the device, the `index`th NIC. With
 * `io`, the TAP is watched by that I/O thread; with nc->vhost the kernel's
 * vhost-net serves the queues instead, with `mem` as the guest's memory
 * (net_vhost.c). Returns 0 with *out set, or -errno after logging why,
 * naming the TAP.
 */
int virtio_net_new(const struct net_config *nc, unsigned index, const struct guest_mem *mem,
		   struct iothread *io, struct virtio_dev **out);

/*
 * The device on an already open packet descriptor `fd` that is not a TAP
 * (a SOCK_SEQPACKET or SOCK_DGRAM socket: one frame per read or write,
 * each preceded by the NET_HDR_LEN-byte header, no TUN ioctls). For tests
 * and the fuzzer; `mtu` is what the device advertises. Takes ownership of
 * fd. Without an I/O thread, receive runs when the RX queue is kicked or
 * virtio_net_rx_ready is called.
 */
int virtio_net_new_fd(int fd, const uint8_t mac[6], uint16_t mtu, unsigned index,
		      struct iothread *io, struct virtio_dev **out);

/* The same with `npairs` queue pairs (1..NET_QUEUES_MAX), pair i on
 * fds[i], and the control queue when npairs > 1. Takes ownership of every
 * fd; -EINVAL for a count out of range (none taken). */
int virtio_net_new_fds(const int *fds, unsigned npairs, const uint8_t mac[6], uint16_t mtu,
		       unsigned index, struct iothread *io, struct virtio_dev **out);

/*
 * The same on a connected stream socket `fd` that carries plain Ethernet
 * frames, each after its 32-bit big-endian length (passt's protocol,
 * net_stream.h): no virtio-net header and no offloads are offered. For
 * tests and the fuzzer; mode = "user" NICs get theirs from passt.c.
 */
int virtio_net_new_stream(int fd, const uint8_t mac[6], uint16_t mtu, unsigned index,
			  struct iothread *io, struct virtio_dev **out);

/* Closes the TAP (or stops passt) and frees the device (a vm cleanup). */
void virtio_net_free(void *vd);

/* What the I/O thread runs when the TAP is readable; takes vd->lock. */
void virtio_net_rx_ready(struct virtio_dev *vd);

void virtio_net_get_stats(struct virtio_dev *vd, struct virtio_net_stats *st);

/* ---- header rules (net_hdr.c): pure, exported for the tests ---- */

/* TUNSETOFFLOAD flags for the negotiated features: what the guest accepts
 * on receive (GUEST_CSUM, GUEST_TSO4/6, GUEST_ECN, GUEST_UFO). */
unsigned virtio_net_tun_offloads(uint64_t features);

/* The largest frame (without the virtio-net header) the driver may send
 * with header `h`: NET_MAX_GSO_FRAME for a GSO frame, else mtu plus the
 * Ethernet overhead (mtu is 0 when VIRTIO_NET_F_MTU was not negotiated:
 * then any MTU the driver may set, 65535). */
size_t virtio_net_tx_max_frame(const struct virtio_net_hdr_v1 *h, uint64_t features,
			       uint16_t mtu);

/*
 * Guest to TAP: checks the driver's header `in` for a frame of `frame_len`
 * bytes against the negotiated features and writes the header the TAP
 * gets to *out (flags, GSO fields and checksum offsets only where they
 * apply; num_buffers 0). Returns 0, or -EINVAL when the frame must be
 * dropped: unknown flag bits, an offload that was not negotiated, a
 * checksum position or header length past the frame, GSO without a size.
 */
int virtio_net_tx_hdr(const struct virtio_net_hdr_v1 *in, uint64_t features,
		      size_t frame_len, struct virtio_net_hdr_v1 *out);

/*
 * TAP to guest: rewrites the TAP's header `h` for the driver, for a frame
 * of `frame_len` bytes delivered in `num_buffers` buffers. Returns 0, or
 * -EINVAL when the driver cannot take the frame (an offload it did not
 * negotiate: a TAP whose offloads changed under us).
 */
int virtio_net_rx_hdr(struct virtio_net_hdr_v1 *h, uint64_t features, size_t frame_len,
		      uint16_t num_buffers);

#endif
