/* Unit tests for devices/virtio/net.c: the header translation in both
 * directions, and the device against a fake driver (real split rings over
 * guest memory) with a SOCK_SEQPACKET socket standing in for the TAP: one
 * frame per message, header first, as a TAP with IFF_VNET_HDR gives them.
 * Receive: merged buffers, back-pressure without drops, frames too large for
 * the guest's buffers, frames read straight into the guest's buffers
 * (zero-copy) and the bounce buffer when they have too little room. Transmit: scattered frames, oversized and hostile
 * ones dropped and counted. Also the TAP errors that need no privileges,
 * and the device on a stream socket as passt drives it (mode = "user"):
 * length-prefixed plain frames, no offloads, the peer closing. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include <linux/if_tun.h>

#include "iothread.h"
#include "log.h"
#include "memory.h"
#include "virtio/net.h"

#define RAM		(4 << 20)
#define QSIZE		16
#define QBASE(q)	(0x10000ULL + 0x10000ULL * (q))	/* desc; avail +0x1000; used +0x2000 */
#define BUF_GPA		0x100000ULL
#define F(b)		(1ULL << (b))

static struct guest_mem gm;
static struct virtio_dev *vd;
static int peer = -1;		/* the "TAP" side of the socket pair */
static bool stream;		/* a SOCK_STREAM pair with passt's framing */
static struct iothread *io;	/* the device's I/O thread, where a test starts one */
static unsigned signals;
static uint16_t avail_idx[2], next_desc[2], used_seen[2];

static void sig_queue(struct virtio_dev *d, unsigned q) { signals++; }
static void sig_config(struct virtio_dev *d) { signals++; }
static const struct virtio_transport_ops tops = { .signal_queue = sig_queue,
						  .signal_config = sig_config };

static const uint8_t mac[6] = { 0x02, 0, 0, 0, 0, 0x01 };

static int group_setup(void **state)
{
	log_set_level(LOG_LVL_ERR);
	return gm_init(&gm, 0, RAM, 0, 0);
}

static int group_teardown(void **state)
{
	gm_destroy(&gm);
	return 0;
}

static void open_dev(uint64_t features, uint16_t qsize)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, (stream ? SOCK_STREAM : SOCK_SEQPACKET) |
				    SOCK_NONBLOCK, 0, sv), 0);
	peer = sv[1];
	/* A small send buffer: a 20000-byte frame is taken in part. */
	if (stream)
		setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &(int){ 4096 }, sizeof(int));
	if (stream)
		assert_int_equal(virtio_net_new_stream(sv[0], mac, 1500, 0, io, &vd), 0);
	else
		assert_int_equal(virtio_net_new_fd(sv[0], mac, 1500, 0, NULL, &vd), 0);
	vd->tops = &tops;
	memset(gm.base, 0, RAM);
	for (unsigned i = 0; i < 2; i++) {
		struct virtq *q = &vd->vq[i];

		q->mem = &gm;
		q->size = qsize;
		q->desc = QBASE(i);
		q->avail = QBASE(i) + 0x1000;
		q->used = QBASE(i) + 0x2000;
		virtq_set_features(q, features | F(VIRTIO_F_VERSION_1));
		assert_int_equal(virtq_enable(q), 0);
		avail_idx[i] = next_desc[i] = used_seen[i] = 0;
	}
	vd->features = features | F(VIRTIO_F_VERSION_1);
	vd->status = VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;
	signals = 0;
}

static const uint64_t all_features =
	F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_GUEST_CSUM) | F(VIRTIO_NET_F_MTU) |
	F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_GUEST_TSO4) | F(VIRTIO_NET_F_GUEST_TSO6) |
	F(VIRTIO_NET_F_HOST_TSO4) | F(VIRTIO_NET_F_HOST_TSO6) | F(VIRTIO_NET_F_MRG_RXBUF) |
	F(VIRTIO_NET_F_STATUS);

static int setup_mrg(void **state) { open_dev(all_features, QSIZE); return 0; }
static int setup_plain(void **state)
{
	open_dev(F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_MTU), QSIZE);
	return 0;
}
static int setup_small_ring(void **state) { open_dev(all_features, 4); return 0; }
static int setup_event_idx(void **state)
{
	open_dev(all_features | F(VIRTIO_RING_F_EVENT_IDX), QSIZE);
	return 0;
}

static int setup_stream(void **state)
{
	stream = true;
	open_dev(F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_MTU) | F(VIRTIO_NET_F_MRG_RXBUF) |
		 F(VIRTIO_NET_F_STATUS), QSIZE);
	return 0;
}

static int teardown(void **state)
{
	if (io)
		iothread_stop(io);
	virtio_net_free(vd);
	if (io) {
		iothread_destroy(io);
		free(io);
		io = NULL;
	}
	vd = NULL;
	if (peer >= 0)
		close(peer);
	peer = -1;
	stream = false;
	return 0;
}

/* The device's second look at the ring (virtq_pending, linked with
 * --wrap) can run a hook first: the driver adding buffers at that moment,
 * after avail_event was published but before the device rereads. */
int __real_virtq_pending(struct virtq *q);
int __wrap_virtq_pending(struct virtq *q);
static void (*pending_hook)(void);

int __wrap_virtq_pending(struct virtq *q)
{
	void (*h)(void) = pending_hook;

	pending_hook = NULL;	/* once */
	if (h && q == &vd->vq[NET_RXQ])
		h();
	return __real_virtq_pending(q);
}

/* ---- the fake driver ---- */

struct d { uint64_t addr; uint32_t len; bool write; };

/* Makes a chain of n descriptors available on queue qi (no kick). */
static void post(unsigned qi, const struct d *ds, unsigned n)
{
	uint16_t head = next_desc[qi];

	for (unsigned i = 0; i < n; i++) {
		uint16_t at = (uint16_t)((head + i) % vd->vq[qi].size);
		struct virtq_desc desc = {
			ds[i].addr, ds[i].len,
			(uint16_t)((i + 1 < n ? VRING_DESC_F_NEXT : 0) |
				   (ds[i].write ? VRING_DESC_F_WRITE : 0)),
			(uint16_t)((at + 1) % vd->vq[qi].size),
		};

		assert_int_equal(gm_write(&gm, QBASE(qi) + 16ULL * at, &desc, 16), 0);
	}
	next_desc[qi] = (uint16_t)((head + n) % vd->vq[qi].size);
	assert_int_equal(gm_write(&gm, QBASE(qi) + 0x1000 + 4 +
				  2ULL * (avail_idx[qi] % vd->vq[qi].size), &head, 2), 0);
	avail_idx[qi]++;
	assert_int_equal(gm_write(&gm, QBASE(qi) + 0x1000 + 2, &avail_idx[qi], 2), 0);
}

/* One writable RX buffer of len bytes at BUF_GPA + slot * 0x10000. */
static void post_rx(unsigned slot, uint32_t len)
{
	struct d b = { BUF_GPA + 0x10000ULL * slot, len, true };

	post(NET_RXQ, &b, 1);
}

static uint16_t used_idx(unsigned qi)
{
	uint16_t idx;

	assert_int_equal(gm_read(&gm, QBASE(qi) + 0x2002, &idx, 2), 0);
	return idx;
}

/* The next used element of queue qi the test has not looked at. */
static struct virtq_used_elem next_used(unsigned qi)
{
	struct virtq_used_elem e;

	assert_true(used_idx(qi) != used_seen[qi]);
	assert_int_equal(gm_read(&gm, QBASE(qi) + 0x2004 +
				 8ULL * (used_seen[qi] % vd->vq[qi].size), &e, 8), 0);
	used_seen[qi]++;
	return e;
}

static uint8_t frame_byte(size_t i) { return (uint8_t)(i * 13 + (i >> 8)); }

/* The "TAP" sends a frame of len bytes (header not counted) with header h. */
static void tap_send(const struct virtio_net_hdr_v1 *h, size_t len)
{
	static uint8_t buf[NET_HDR_LEN + 70000];

	memcpy(buf, h, NET_HDR_LEN);
	for (size_t i = 0; i < len; i++)
		buf[NET_HDR_LEN + i] = frame_byte(i);
	assert_int_equal(send(peer, buf, NET_HDR_LEN + len, 0), (ssize_t)(NET_HDR_LEN + len));
}

static struct virtio_net_stats stats(void)
{
	struct virtio_net_stats st;

	virtio_net_get_stats(vd, &st);
	return st;
}

/* ---- header translation ---- */

static void test_offloads(void **state)
{
	assert_int_equal(virtio_net_tun_offloads(0), 0);
	/* GSO without GUEST_CSUM is meaningless to TUN: nothing. */
	assert_int_equal(virtio_net_tun_offloads(F(VIRTIO_NET_F_GUEST_TSO4)), 0);
	assert_int_equal(virtio_net_tun_offloads(F(VIRTIO_NET_F_GUEST_CSUM)), TUN_F_CSUM);
	assert_int_equal(virtio_net_tun_offloads(all_features),
			 TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6);
	assert_int_equal(virtio_net_tun_offloads(all_features | F(VIRTIO_NET_F_GUEST_ECN) |
						 F(VIRTIO_NET_F_GUEST_UFO)),
			 TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6 | TUN_F_TSO_ECN | TUN_F_UFO);
	/* Host-side (guest TX) offloads are not the TAP's business. */
	assert_int_equal(virtio_net_tun_offloads(F(VIRTIO_NET_F_GUEST_CSUM) |
						 F(VIRTIO_NET_F_HOST_TSO4)), TUN_F_CSUM);
}

static void test_tx_hdr(void **state)
{
	uint64_t f = all_features;
	struct virtio_net_hdr_v1 in = { 0 }, out;

	/* Plain frame: all zero, num_buffers cleared. */
	in.num_buffers = 7;
	in.gso_size = 99;	/* meaningless without GSO: not passed on */
	assert_int_equal(virtio_net_tx_hdr(&in, f, 60, &out), 0);
	assert_int_equal(out.gso_size, 0);
	assert_int_equal(out.num_buffers, 0);

	/* Partial checksum and TSO4, as Linux sends them. */
	in = (struct virtio_net_hdr_v1){ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		.gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .hdr_len = 66, .gso_size = 1448,
		.csum_start = 34, .csum_offset = 16, .num_buffers = 3 };
	assert_int_equal(virtio_net_tx_hdr(&in, f, 65000, &out), 0);
	assert_int_equal(out.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(out.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	assert_int_equal(out.gso_size, 1448);
	assert_int_equal(out.hdr_len, 66);
	assert_int_equal(out.csum_start, 34);
	assert_int_equal(out.csum_offset, 16);
	assert_int_equal(out.num_buffers, 0);

	/* Not negotiated: TSO4 without HOST_TSO4, a checksum without CSUM. */
	assert_int_equal(virtio_net_tx_hdr(&in, f & ~F(VIRTIO_NET_F_HOST_TSO4), 65000, &out),
			 -EINVAL);
	assert_int_equal(virtio_net_tx_hdr(&in, f & ~F(VIRTIO_NET_F_CSUM), 65000, &out),
			 -EINVAL);
	/* ECN without HOST_ECN; with it, fine. */
	in.gso_type |= VIRTIO_NET_HDR_GSO_ECN;
	assert_int_equal(virtio_net_tx_hdr(&in, f, 65000, &out), -EINVAL);
	assert_int_equal(virtio_net_tx_hdr(&in, f | F(VIRTIO_NET_F_HOST_ECN), 65000, &out), 0);
	in.gso_type = VIRTIO_NET_HDR_GSO_TCPV6;
	assert_int_equal(virtio_net_tx_hdr(&in, f, 65000, &out), 0);
	in.gso_type = VIRTIO_NET_HDR_GSO_UDP;	/* UFO not negotiated */
	assert_int_equal(virtio_net_tx_hdr(&in, f, 65000, &out), -EINVAL);
	in.gso_type = 2;			/* no such type */
	assert_int_equal(virtio_net_tx_hdr(&in, f | F(VIRTIO_NET_F_HOST_UFO), 65000, &out),
			 -EINVAL);
	in.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;

	/* Offsets past the frame. */
	assert_int_equal(virtio_net_tx_hdr(&in, f, 51, &out), -EINVAL);	/* 34+16+2 */
	assert_int_equal(virtio_net_tx_hdr(&in, f, 66, &out), 0);
	in.hdr_len = 67;
	assert_int_equal(virtio_net_tx_hdr(&in, f, 66, &out), -EINVAL);
	in.hdr_len = 66;
	in.csum_start = 0xffff;
	in.csum_offset = 0xffff;		/* no 16-bit wrap */
	assert_int_equal(virtio_net_tx_hdr(&in, f, 65000, &out), -EINVAL);
	in.csum_start = 34;
	in.csum_offset = 16;
	in.gso_size = 0;
	assert_int_equal(virtio_net_tx_hdr(&in, f, 65000, &out), -EINVAL);
	in.gso_size = 1448;

	/* Flags the device alone may set, and unknown ones. */
	in.flags = VIRTIO_NET_HDR_F_DATA_VALID;
	assert_int_equal(virtio_net_tx_hdr(&in, f, 65000, &out), -EINVAL);
	in.flags = 0x80;
	assert_int_equal(virtio_net_tx_hdr(&in, f, 65000, &out), -EINVAL);
	/* ECN on a frame that is not GSO. */
	in = (struct virtio_net_hdr_v1){ .gso_type = VIRTIO_NET_HDR_GSO_ECN };
	assert_int_equal(virtio_net_tx_hdr(&in, f, 60, &out), -EINVAL);

	/* Frame limits: MTU + 18 for a plain frame, 64 KiB + 18 for GSO. */
	in = (struct virtio_net_hdr_v1){ 0 };
	assert_int_equal(virtio_net_tx_max_frame(&in, f, 1500), 1518);
	assert_int_equal(virtio_net_tx_max_frame(&in, f & ~F(VIRTIO_NET_F_MTU), 1500),
			 65535 + 18);
	in.gso_type = VIRTIO_NET_HDR_GSO_TCPV4;
	assert_int_equal(virtio_net_tx_max_frame(&in, f, 1500), NET_MAX_GSO_FRAME);
}

static void test_rx_hdr(void **state)
{
	struct virtio_net_hdr_v1 h = { .flags = VIRTIO_NET_HDR_F_DATA_VALID, .num_buffers = 0xdead };

	/* Without GUEST_CSUM: flags 0, num_buffers 1 (VERSION_1 always has it). */
	assert_int_equal(virtio_net_rx_hdr(&h, F(VIRTIO_NET_F_MAC), 100, 1), 0);
	assert_int_equal(h.flags, 0);
	assert_int_equal(h.num_buffers, 1);
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	assert_int_equal(virtio_net_rx_hdr(&h, F(VIRTIO_NET_F_MAC), 100, 1), -EINVAL);

	/* With it: DATA_VALID passes, unknown flag bits go. */
	h = (struct virtio_net_hdr_v1){ .flags = VIRTIO_NET_HDR_F_DATA_VALID | 0x40 };
	assert_int_equal(virtio_net_rx_hdr(&h, all_features, 100, 3), 0);
	assert_int_equal(h.flags, VIRTIO_NET_HDR_F_DATA_VALID);
	assert_int_equal(h.num_buffers, 3);

	/* A TSO4 super-frame for a guest that took GUEST_TSO4. */
	h = (struct virtio_net_hdr_v1){ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		.gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .gso_size = 1448, .hdr_len = 66,
		.csum_start = 34, .csum_offset = 16 };
	assert_int_equal(virtio_net_rx_hdr(&h, all_features, 30000, 20), 0);
	assert_int_equal(h.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	assert_int_equal(h.gso_size, 1448);
	assert_int_equal(h.csum_start, 34);
	/* ...and for one that did not (offloads changed under us). */
	assert_int_equal(virtio_net_rx_hdr(&h, all_features & ~F(VIRTIO_NET_F_GUEST_TSO4),
					   30000, 20), -EINVAL);
	h.gso_type = VIRTIO_NET_HDR_GSO_TCPV6 | VIRTIO_NET_HDR_GSO_ECN;
	assert_int_equal(virtio_net_rx_hdr(&h, all_features, 30000, 20), -EINVAL);
	/* A checksum position the frame does not have. */
	h.gso_type = 0;
	h.csum_start = 100;
	assert_int_equal(virtio_net_rx_hdr(&h, all_features, 110, 1), -EINVAL);
}

/* ---- receive ---- */

/* Checks that the frame of len bytes landed in the RX buffers `slots` of
 * size `bufsz`, header with num_buffers = nbuf first. */
static void assert_rx_frame(unsigned first_slot, uint32_t bufsz, size_t len, unsigned nbuf)
{
	size_t total = NET_HDR_LEN + len, off = 0;
	struct virtio_net_hdr_v1 h;

	for (unsigned i = 0; i < nbuf; i++) {
		struct virtq_used_elem e = next_used(NET_RXQ);
		uint32_t want = total - off < bufsz ? (uint32_t)(total - off) : bufsz;
		const uint8_t *p = gm_ptr(&gm, BUF_GPA + 0x10000ULL * (first_slot + i), bufsz);

		assert_int_equal(e.len, want);
		for (uint32_t k = 0; k < want; k++, off++)
			if (off >= NET_HDR_LEN)
				assert_int_equal(p[k], frame_byte(off - NET_HDR_LEN));
	}
	assert_int_equal(off, total);
	assert_int_equal(gm_read(&gm, BUF_GPA + 0x10000ULL * first_slot, &h, NET_HDR_LEN), 0);
	assert_int_equal(h.num_buffers, nbuf);
}

static void test_rx_single(void **state)
{
	struct virtio_net_hdr_v1 h = { .num_buffers = 0x5555 };	/* the TAP leaves it stale */

	post_rx(0, 2048);
	tap_send(&h, 1000);
	vd->ops->queue_notify(vd, NET_RXQ);
	assert_int_equal(used_idx(NET_RXQ), 1);
	assert_rx_frame(0, 2048, 1000, 1);
	assert_true(signals > 0);
	assert_int_equal(stats().rx_packets, 1);
	assert_int_equal(stats().rx_bytes, 1000);
}

static void test_rx_merge(void **state)
{
	struct virtio_net_hdr_v1 h = { .flags = VIRTIO_NET_HDR_F_DATA_VALID };

	for (unsigned i = 0; i < 4; i++)
		post_rx(i, 1024);
	tap_send(&h, 3000);	/* 3012 bytes: three buffers */
	virtio_net_rx_ready(vd);
	assert_int_equal(used_idx(NET_RXQ), 3);
	assert_rx_frame(0, 1024, 3000, 3);
	/* The fourth buffer is still the guest's, for the next frame. */
	tap_send(&h, 500);
	virtio_net_rx_ready(vd);
	assert_int_equal(used_idx(NET_RXQ), 4);
	assert_rx_frame(3, 1024, 500, 1);

	/* A 64 KiB TSO super-frame over 4 KiB buffers takes the whole ring
	 * (16): with 10 posted it waits, held, for the refill's kick. */
	h = (struct virtio_net_hdr_v1){ .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		.gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .gso_size = 1448, .hdr_len = 54,
		.csum_start = 34, .csum_offset = 16 };
	tap_send(&h, 65000);
	for (unsigned i = 0; i < 10; i++)
		post_rx(4 + i, 4096);
	virtio_net_rx_ready(vd);
	assert_int_equal(used_idx(NET_RXQ), 4);		/* held, nothing dropped */
	for (unsigned i = 10; i < 16; i++)
		post_rx(4 + i, 4096);
	vd->ops->queue_notify(vd, NET_RXQ);
	assert_int_equal(used_idx(NET_RXQ), 4 + 16);
	assert_rx_frame(4, 4096, 65000, 16);
	assert_int_equal(stats().rx_packets, 3);
	assert_int_equal(stats().rx_too_big + stats().rx_bad_hdr, 0);
}

/* No buffers: the frame waits (and the next ones stay in the TAP); the RX
 * kick that brings buffers delivers them all, in order. */
static void test_rx_backpressure(void **state)
{
	struct virtio_net_hdr_v1 h = { 0 };

	tap_send(&h, 100);
	tap_send(&h, 200);
	tap_send(&h, 300);
	virtio_net_rx_ready(vd);
	virtio_net_rx_ready(vd);	/* the socket is still readable: no change */
	assert_int_equal(used_idx(NET_RXQ), 0);
	post_rx(0, 2048);
	vd->ops->queue_notify(vd, NET_RXQ);
	assert_int_equal(used_idx(NET_RXQ), 1);
	assert_rx_frame(0, 2048, 100, 1);
	post_rx(1, 2048);
	post_rx(2, 2048);
	vd->ops->queue_notify(vd, NET_RXQ);
	assert_int_equal(used_idx(NET_RXQ), 3);
	assert_rx_frame(1, 2048, 200, 1);
	assert_rx_frame(2, 2048, 300, 1);
	assert_int_equal(stats().rx_packets, 3);
	assert_int_equal(stats().rx_too_big + stats().rx_bad_hdr + stats().rx_reset, 0);
}

/* Three buffers arrive while the device takes its second look: a
 * driver that checked avail_event before the device published it does not
 * kick for them. */
static void race_three_buffers(void)
{
	for (unsigned i = 3; i < 6; i++)
		post_rx(i, 2048);
}

/* With EVENT_IDX and merged buffers, a frame that needs more buffers than
 * the ring has, while the driver keeps adding a few at a time: the driver
 * kicks only when its index crosses avail_event (vring_need_event), so the
 * device must have published an avail_event past every buffer it took, or
 * the frame waits forever (as once seen, the receive side idle). */
static void test_rx_merge_event_idx(void **state)
{
	struct virtio_net_hdr_v1 h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		.gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .gso_size = 1448, .hdr_len = 54,
		.csum_start = 34, .csum_offset = 16 };
	uint16_t event, old;
	char report[1024];

	tap_send(&h, 20000);	/* 20012 bytes: ten 2 KiB buffers */
	for (unsigned i = 0; i < 3; i++)
		post_rx(i, 2048);
	pending_hook = race_three_buffers;
	virtio_net_rx_ready(vd);
	assert_null(pending_hook);	/* the device did take a second look */
	assert_int_equal(used_idx(NET_RXQ), 0);	/* held: six buffers are too few */
	/* What `vmm ctl NAME queues` shows of it. */
	virtio_dev_describe(vd, "net0", report, sizeof(report));
	assert_non_null(strstr(report, " net0.q0=size=16,last_avail=6,avail=6,used=0,"));
	assert_non_null(strstr(report, ",avail_event=6,"));
	assert_non_null(strstr(report, " rx_held=1 rx_len=20012 rx_stashed=6 "));

	/* The driver adds four more and kicks if its index crossed the event. */
	old = avail_idx[NET_RXQ];
	for (unsigned i = 6; i < 10; i++)
		post_rx(i, 2048);
	assert_int_equal(gm_read(&gm, QBASE(NET_RXQ) + 0x2000 + 4 + 8ULL * QSIZE, &event, 2), 0);
	assert_true((uint16_t)(avail_idx[NET_RXQ] - event - 1) <
		    (uint16_t)(avail_idx[NET_RXQ] - old));
	vd->ops->queue_notify(vd, NET_RXQ);
	assert_int_equal(used_idx(NET_RXQ), 10);
	assert_rx_frame(0, 2048, 20000, 10);
	assert_int_equal(stats().rx_packets, 1);
}

/* Without MRG_RXBUF a frame must fit one chain: a too-small buffer makes
 * the frame a counted drop, and the buffer serves the next frame. */
static void test_rx_too_big_plain(void **state)
{
	struct virtio_net_hdr_v1 h = { 0 };

	post_rx(0, 600);
	tap_send(&h, 1000);
	tap_send(&h, 500);
	virtio_net_rx_ready(vd);
	assert_int_equal(stats().rx_too_big, 1);
	assert_int_equal(used_idx(NET_RXQ), 1);
	assert_rx_frame(0, 600, 500, 1);
}

/* Merged buffers, but the whole ring (4 x 64 bytes) cannot hold the frame:
 * dropped and counted, no stall; the buffers serve a small frame. */
static void test_rx_too_big_ring(void **state)
{
	struct virtio_net_hdr_v1 h = { 0 };

	for (unsigned i = 0; i < 4; i++)
		post_rx(i, 64);
	tap_send(&h, 1000);
	tap_send(&h, 100);	/* 112 bytes: two buffers */
	virtio_net_rx_ready(vd);
	assert_int_equal(stats().rx_too_big, 1);
	assert_int_equal(used_idx(NET_RXQ), 2);
	assert_rx_frame(0, 64, 100, 2);
}

/* Hostile RX chains: read-only buffers are returned empty; a head made
 * available twice while we hold it breaks the queue (NEEDS_RESET). */
static void test_rx_hostile(void **state)
{
	struct virtio_net_hdr_v1 h = { 0 };
	struct d ro = { BUF_GPA, 2048, false };

	post(NET_RXQ, &ro, 1);
	post_rx(1, 2048);
	tap_send(&h, 100);
	virtio_net_rx_ready(vd);
	assert_int_equal(stats().rx_bad_buffers, 1);
	assert_int_equal(next_used(NET_RXQ).len, 0);
	assert_rx_frame(1, 2048, 100, 1);

	/* Offer buffer 2 (as head 2) twice; the frame needs both. */
	post_rx(2, 8);
	{
		uint16_t head = 2;

		assert_int_equal(gm_write(&gm, QBASE(NET_RXQ) + 0x1000 + 4 +
					  2ULL * (avail_idx[NET_RXQ] % QSIZE), &head, 2), 0);
		avail_idx[NET_RXQ]++;
		assert_int_equal(gm_write(&gm, QBASE(NET_RXQ) + 0x1002, &avail_idx[NET_RXQ], 2), 0);
	}
	tap_send(&h, 100);
	virtio_net_rx_ready(vd);
	assert_true(vd->status & VIRTIO_CONFIG_S_NEEDS_RESET);
}

/* A frame from the TAP with an offload the guest did not negotiate. */
static void test_rx_offload_mismatch(void **state)
{
	struct virtio_net_hdr_v1 h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		.gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .gso_size = 1448, .csum_start = 34,
		.csum_offset = 16 };

	post_rx(0, 4096);
	tap_send(&h, 3000);
	h = (struct virtio_net_hdr_v1){ 0 };
	tap_send(&h, 60);
	virtio_net_rx_ready(vd);
	assert_int_equal(stats().rx_bad_hdr, 1);
	assert_rx_frame(0, 4096, 60, 1);
}

/* ---- receive straight into the guest's buffers (zero-copy) ---- */

/* `vmm ctl NAME queues` names `word`. */
static bool described(const char *word)
{
	char report[1024];

	virtio_dev_describe(vd, "net0", report, sizeof(report));
	return strstr(report, word) != NULL;
}

/* Merged buffers with room for the largest frame (20 x 4 KiB): frames go
 * straight into the buffers, one or several, num_buffers and the header's
 * offload fields right; the chains a frame does not use serve the next.
 * Once less than the largest frame's room is left (16 x 4 KiB) the next
 * frame goes through the bounce buffer, as before. */
static void test_rx_zc_merge(void **state)
{
	struct virtio_net_hdr_v1 h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		.gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .gso_size = 1448, .hdr_len = 54,
		.csum_start = 34, .csum_offset = 16, .num_buffers = 0x5555 }, got;

	for (unsigned i = 0; i < QSIZE; i++)
		post_rx(i, 8192);	/* 128 KiB of room */
	tap_send(&h, 3000);
	tap_send(&h, 20000);	/* 20012 bytes: three buffers */
	virtio_net_rx_ready(vd);
	assert_int_equal(used_idx(NET_RXQ), 4);
	assert_rx_frame(0, 8192, 3000, 1);
	assert_rx_frame(1, 8192, 20000, 3);
	assert_int_equal(gm_read(&gm, BUF_GPA + 0x10000, &got, NET_HDR_LEN), 0);
	assert_int_equal(got.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(got.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	assert_int_equal(got.gso_size, 1448);
	assert_int_equal(got.csum_start, 34);
	assert_int_equal(got.csum_offset, 16);
	assert_int_equal(stats().rx_zerocopy, 2);
	assert_true(described(" rx_frames=2 tx_frames=0 rx_zerocopy=2"));

	/* 12 buffers left, 96 KiB: a 64 KiB frame still goes straight in,
	 * eight of them; then 4 (32 KiB) are too little: bounced. */
	tap_send(&h, 65000);
	tap_send(&h, 1000);
	virtio_net_rx_ready(vd);
	assert_int_equal(used_idx(NET_RXQ), 4 + 8 + 1);
	assert_rx_frame(4, 8192, 65000, 8);
	assert_rx_frame(12, 8192, 1000, 1);
	assert_int_equal(stats().rx_packets, 4);
	assert_int_equal(stats().rx_bytes, 3000 + 20000 + 65000 + 1000);
	assert_int_equal(stats().rx_zerocopy, 3);
	assert_int_equal(stats().rx_too_big + stats().rx_bad_hdr, 0);
	assert_true(described(" rx_stashed=3 "));
}

/* Buffers in guest RAM at gpa, len bytes, as one chain (no kick). */
static void post_rx_chain(const uint64_t *gpa, const uint32_t *len, unsigned n)
{
	struct d ds[8];

	for (unsigned i = 0; i < n; i++)
		ds[i] = (struct d){ gpa[i], len[i], true };
	post(NET_RXQ, ds, n);
}

/* A first buffer shorter than the header: the header is written across
 * buffers (4 + 6 + 2 bytes), the frame after it. A first chain shorter
 * than the header: that frame is bounced (rx_place writes the header
 * across chains), the next goes straight in. */
static void test_rx_zc_short_first(void **state)
{
	static const uint64_t gpa[3] = { BUF_GPA, BUF_GPA + 0x100, BUF_GPA + 0x10000 };
	static const uint32_t len[3] = { 4, 6, 0x10000 };
	struct virtio_net_hdr_v1 h = { .flags = VIRTIO_NET_HDR_F_DATA_VALID }, got;
	struct virtq_used_elem e;
	const uint8_t *b;

	post_rx_chain(gpa, len, 3);
	post_rx(2, 0x10000);
	tap_send(&h, 5000);
	virtio_net_rx_ready(vd);
	e = next_used(NET_RXQ);
	assert_int_equal(e.len, NET_HDR_LEN + 5000);
	assert_int_equal(gm_read(&gm, BUF_GPA, &got, 4), 0);
	assert_int_equal(gm_read(&gm, BUF_GPA + 0x100, (uint8_t *)&got + 4, 6), 0);
	assert_int_equal(gm_read(&gm, BUF_GPA + 0x10000, (uint8_t *)&got + 10, 2), 0);
	assert_int_equal(got.flags, VIRTIO_NET_HDR_F_DATA_VALID);
	assert_int_equal(got.num_buffers, 1);
	b = gm_ptr(&gm, BUF_GPA + 0x10000 + 2, 5000);
	for (size_t i = 0; i < 5000; i++)
		assert_int_equal(b[i], frame_byte(i));
	assert_int_equal(stats().rx_zerocopy, 1);

	/* Chains of 8 bytes, then 64 KiB and 64 KiB. */
	post_rx(3, 8);
	post_rx(4, 0x10000);
	tap_send(&h, 100);
	tap_send(&h, 200);
	virtio_net_rx_ready(vd);
	/* Slot 2's chain, stashed since, is first in line and with the two
	 * new ones has room for any frame: the 100 bytes go straight in. */
	assert_rx_frame(2, 0x10000, 100, 1);
	/* Then the 8-byte chain first: bounced, its header across two chains. */
	e = next_used(NET_RXQ);
	assert_int_equal(e.len, 8);
	e = next_used(NET_RXQ);
	assert_int_equal(e.len, NET_HDR_LEN + 200 - 8);
	assert_int_equal(gm_read(&gm, BUF_GPA + 0x30000, &got, 8), 0);
	assert_int_equal(gm_read(&gm, BUF_GPA + 0x40000, (uint8_t *)&got + 8, 4), 0);
	assert_int_equal(got.num_buffers, 2);
	b = gm_ptr(&gm, BUF_GPA + 0x40000 + 4, 200);
	for (size_t i = 0; i < 200; i++)
		assert_int_equal(b[i], frame_byte(i));
	assert_int_equal(stats().rx_packets, 3);
	assert_int_equal(stats().rx_zerocopy, 2);
}

/* Too little room: the frame is bounced and held, later ones wait in the
 * "TAP"; the buffers the driver adds take the held frame first, then the
 * next goes straight in: each frame once, in order. */
static void test_rx_zc_fallback(void **state)
{
	struct virtio_net_hdr_v1 h = { 0 };

	post_rx(0, 8192);
	post_rx(1, 8192);
	tap_send(&h, 1000);
	tap_send(&h, 20000);	/* three buffers */
	tap_send(&h, 3000);
	virtio_net_rx_ready(vd);
	assert_int_equal(used_idx(NET_RXQ), 1);
	assert_rx_frame(0, 8192, 1000, 1);
	assert_true(described(" rx_held=1 rx_len=20012 rx_stashed=1 "));
	for (unsigned i = 2; i < 14; i++)
		post_rx(i, 8192);
	vd->ops->queue_notify(vd, NET_RXQ);
	assert_int_equal(used_idx(NET_RXQ), 1 + 3 + 1);
	assert_rx_frame(1, 8192, 20000, 3);
	assert_rx_frame(4, 8192, 3000, 1);
	assert_int_equal(stats().rx_packets, 3);
	assert_int_equal(stats().rx_zerocopy, 1);
	assert_int_equal(stats().rx_too_big + stats().rx_bad_hdr + stats().rx_reset, 0);
	virtio_net_rx_ready(vd);
	assert_int_equal(used_idx(NET_RXQ), 5);
}

/* Read straight into the buffers, then dropped: a runt, a frame longer
 * than any (it fills the room: truncated), one with an offload the guest
 * did not take (UFO). No chain is used for them; the next frames take the
 * same buffers, the largest one exactly fitting the room it is given. */
static void test_rx_zc_drops(void **state)
{
	struct virtio_net_hdr_v1 h = { 0 };

	for (unsigned i = 0; i < 10; i++)
		post_rx(i, 8192);
	tap_send(&h, 10);
	tap_send(&h, NET_MAX_GSO_FRAME + 1);
	h.gso_type = VIRTIO_NET_HDR_GSO_UDP;
	h.gso_size = 1400;
	tap_send(&h, 3000);
	h = (struct virtio_net_hdr_v1){ 0 };
	tap_send(&h, 500);
	tap_send(&h, NET_MAX_GSO_FRAME);	/* the room of nine */
	virtio_net_rx_ready(vd);
	assert_int_equal(stats().rx_bad_hdr, 2);
	assert_int_equal(stats().rx_too_big, 1);
	assert_int_equal(used_idx(NET_RXQ), 1 + 9);
	assert_rx_frame(0, 8192, 500, 1);
	assert_rx_frame(1, 8192, NET_MAX_GSO_FRAME, 9);
	assert_int_equal(stats().rx_zerocopy, 2);
	assert_false(vd->status & VIRTIO_CONFIG_S_NEEDS_RESET);
}

/* Without merged buffers: one chain with room for the largest frame (a
 * 12-byte header buffer and 5 x 16 KiB, as Linux's big packets) takes a
 * frame straight in; a small chain gets the bounce buffer. */
static void test_rx_zc_plain(void **state)
{
	uint64_t gpa[6];
	uint32_t len[6];
	struct virtio_net_hdr_v1 h = { .num_buffers = 7 };

	gpa[0] = BUF_GPA;
	len[0] = NET_HDR_LEN;
	for (unsigned i = 1; i < 6; i++) {
		gpa[i] = BUF_GPA + NET_HDR_LEN + 0x4000ULL * (i - 1);
		len[i] = 0x4000;
	}
	post_rx_chain(gpa, len, 6);
	tap_send(&h, 30000);
	tap_send(&h, 100);
	virtio_net_rx_ready(vd);
	assert_int_equal(used_idx(NET_RXQ), 1);
	assert_rx_frame(0, 0x20000, 30000, 1);	/* contiguous, num_buffers 1 */
	assert_int_equal(stats().rx_zerocopy, 1);
	post_rx(4, 2048);
	vd->ops->queue_notify(vd, NET_RXQ);
	assert_rx_frame(4, 2048, 100, 1);
	assert_int_equal(stats().rx_packets, 2);
	assert_int_equal(stats().rx_zerocopy, 1);
}

/* ---- transmit ---- */

/* TX chain in buffer slot k (128 KiB each): the header, then the frame of
 * len bytes split over nseg descriptors. */
static void post_tx(unsigned k, const struct virtio_net_hdr_v1 *h, size_t len, unsigned nseg)
{
	uint64_t base = BUF_GPA + 0x20000ULL * k;
	uint8_t *p = gm_ptr(&gm, base + 0x100, len);
	size_t per = len / nseg;
	struct d ds[8];

	assert_int_equal(gm_write(&gm, base, h, NET_HDR_LEN), 0);
	for (size_t i = 0; i < len; i++)
		p[i] = frame_byte(i);
	ds[0] = (struct d){ base, NET_HDR_LEN, false };
	for (unsigned i = 0; i < nseg; i++)
		ds[1 + i] = (struct d){ base + 0x100 + per * i,
					(uint32_t)(i + 1 == nseg ? len - per * i : per), false };
	post(NET_TXQ, ds, 1 + nseg);
}

/* Receives one frame on the "TAP": returns its length without header. */
static ssize_t tap_recv(struct virtio_net_hdr_v1 *h, uint8_t *buf, size_t max)
{
	static uint8_t tmp[NET_HDR_LEN + 70000];
	ssize_t r = recv(peer, tmp, sizeof(tmp), MSG_DONTWAIT);

	if (r < 0)
		return -errno;
	assert_true(r >= NET_HDR_LEN);
	memcpy(h, tmp, NET_HDR_LEN);
	memcpy(buf, tmp + NET_HDR_LEN, (size_t)r - NET_HDR_LEN < max ? (size_t)r - NET_HDR_LEN : max);
	return r - NET_HDR_LEN;
}

static void test_tx_frame(void **state)
{
	static uint8_t got[70000];
	struct virtio_net_hdr_v1 h = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		.gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .hdr_len = 54, .gso_size = 1448,
		.csum_start = 34, .csum_offset = 16, .num_buffers = 9 }, out;

	post_tx(0, &h, 60000, 5);
	vd->ops->queue_notify(vd, NET_TXQ);
	assert_int_equal(next_used(NET_TXQ).len, 0);
	assert_int_equal(tap_recv(&out, got, sizeof(got)), 60000);
	assert_int_equal(out.gso_type, VIRTIO_NET_HDR_GSO_TCPV4);
	assert_int_equal(out.gso_size, 1448);
	assert_int_equal(out.flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(out.num_buffers, 0);
	for (size_t i = 0; i < 60000; i++)
		assert_int_equal(got[i], frame_byte(i));
	assert_true(signals > 0);

	/* Header and frame in one buffer. */
	h = (struct virtio_net_hdr_v1){ 0 };
	{
		uint8_t *p = gm_ptr(&gm, BUF_GPA, NET_HDR_LEN + 64);
		struct d one = { BUF_GPA, NET_HDR_LEN + 64, false };

		memset(p, 0, NET_HDR_LEN);
		for (size_t i = 0; i < 64; i++)
			p[NET_HDR_LEN + i] = frame_byte(i);
		post(NET_TXQ, &one, 1);
	}
	vd->ops->queue_notify(vd, NET_TXQ);
	assert_int_equal(tap_recv(&out, got, sizeof(got)), 64);
	for (size_t i = 0; i < 64; i++)
		assert_int_equal(got[i], frame_byte(i));
	assert_int_equal(stats().tx_packets, 2);
	assert_int_equal(stats().tx_bytes, 60064);
}

/* Frames over the negotiated size and hostile headers: dropped, counted,
 * their chains returned; the next good frame still goes out. */
static void test_tx_bad(void **state)
{
	static uint8_t got[70000];
	struct virtio_net_hdr_v1 h = { 0 }, out;
	struct d shorty = { BUF_GPA, 8, false };
	struct virtio_net_stats st;

	post_tx(1, &h, 1519, 2);	/* MTU 1500: 1518 is the most */
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.csum_start = 1000;
	post_tx(2, &h, 500, 1);		/* checksum past the end */
	post(NET_TXQ, &shorty, 1);	/* not even a header */
	h = (struct virtio_net_hdr_v1){ .gso_type = VIRTIO_NET_HDR_GSO_TCPV4, .gso_size = 1000 };
	post_tx(3, &h, 65536 + 18, 4);	/* GSO, over 64 KiB + 18 */
	h = (struct virtio_net_hdr_v1){ 0 };
	post_tx(4, &h, 1518, 3);	/* exactly the limit */
	vd->ops->queue_notify(vd, NET_TXQ);
	assert_int_equal(used_idx(NET_TXQ), 5);
	st = stats();
	assert_int_equal(st.tx_too_big, 2);
	assert_int_equal(st.tx_bad_hdr, 2);
	assert_int_equal(st.tx_packets, 1);
	assert_int_equal(tap_recv(&out, got, sizeof(got)), 1518);
	assert_int_equal(tap_recv(&out, got, sizeof(got)), -EAGAIN);
	assert_false(vd->status & VIRTIO_CONFIG_S_NEEDS_RESET);
}

/* A frame scattered over more buffers than writev takes at once. */
static void test_tx_many_segments(void **state)
{
	static uint8_t got[4096];
	struct virtio_net_hdr_v1 h = { 0 }, out;
	struct d ds[101];
	uint8_t *p = gm_ptr(&gm, BUF_GPA + 0x10000, 1000);

	assert_int_equal(gm_write(&gm, BUF_GPA, &h, NET_HDR_LEN), 0);
	ds[0] = (struct d){ BUF_GPA, NET_HDR_LEN, false };
	for (size_t i = 0; i < 1000; i++)
		p[i] = frame_byte(i);
	for (unsigned i = 0; i < 100; i++)
		ds[1 + i] = (struct d){ BUF_GPA + 0x10000 + 10 * i, 10, false };
	/* 101 descriptors need a bigger ring. */
	virtq_reset(&vd->vq[NET_TXQ]);
	vd->vq[NET_TXQ].mem = &gm;
	vd->vq[NET_TXQ].size = 128;
	vd->vq[NET_TXQ].desc = QBASE(NET_TXQ);
	vd->vq[NET_TXQ].avail = QBASE(NET_TXQ) + 0x1000;
	vd->vq[NET_TXQ].used = QBASE(NET_TXQ) + 0x2000;
	virtq_set_features(&vd->vq[NET_TXQ], vd->features);
	assert_int_equal(virtq_enable(&vd->vq[NET_TXQ]), 0);
	post(NET_TXQ, ds, 101);
	vd->ops->queue_notify(vd, NET_TXQ);
	assert_int_equal(tap_recv(&out, got, sizeof(got)), 1000);
	for (size_t i = 0; i < 1000; i++)
		assert_int_equal(got[i], frame_byte(i));
}

/* ---- config space and TAP errors ---- */

static void test_config_space(void **state)
{
	uint8_t cfg[NET_CFG_SIZE];

	vd->ops->config_read(vd, 0, cfg, NET_CFG_SIZE);
	assert_memory_equal(cfg, mac, 6);
	assert_int_equal(cfg[NET_CFG_STATUS], VIRTIO_NET_S_LINK_UP);
	assert_int_equal(cfg[NET_CFG_MTU] | cfg[NET_CFG_MTU + 1] << 8, 1500);
	assert_true(vd->ops->features(vd) & F(VIRTIO_NET_F_MRG_RXBUF));
	assert_false(vd->ops->features(vd) & F(VIRTIO_NET_F_CTRL_VQ));
}

/* ---- on a stream socket (passt) ---- */

/* The frames carry no header: no checksum or segmentation offload. */
static void test_stream_features(void **state)
{
	uint64_t f = vd->ops->features(vd);

	assert_true(f & F(VIRTIO_NET_F_MRG_RXBUF));
	assert_true(f & F(VIRTIO_NET_F_MAC));
	assert_int_equal(f & (F(VIRTIO_NET_F_CSUM) | F(VIRTIO_NET_F_GUEST_CSUM) |
			      F(VIRTIO_NET_F_HOST_TSO4) | F(VIRTIO_NET_F_HOST_TSO6) |
			      F(VIRTIO_NET_F_GUEST_TSO4) | F(VIRTIO_NET_F_GUEST_TSO6) |
			      F(VIRTIO_NET_F_HOST_UFO) | F(VIRTIO_NET_F_GUEST_UFO) |
			      F(VIRTIO_NET_F_HOST_ECN) | F(VIRTIO_NET_F_GUEST_ECN)), 0);
}

/* A frame that comes in two pieces reaches the guest once whole, with a
 * header that claims nothing; two frames in one write both arrive. */
static void test_stream_rx(void **state)
{
	static uint8_t f[2 * (4 + 1000)];
	uint32_t be = htonl(1000);

	for (unsigned k = 0; k < 2; k++) {
		memcpy(f + k * 1004, &be, 4);
		for (size_t i = 0; i < 1000; i++)
			f[k * 1004 + 4 + i] = frame_byte(i);
	}
	post_rx(0, 2048);
	post_rx(1, 2048);
	post_rx(2, 2048);
	assert_int_equal(send(peer, f, 2 + 500, 0), 502);
	virtio_net_rx_ready(vd);
	assert_int_equal(used_idx(NET_RXQ), 0);
	assert_int_equal(send(peer, f + 502, 502, 0), 502);
	virtio_net_rx_ready(vd);
	assert_int_equal(used_idx(NET_RXQ), 1);
	assert_rx_frame(0, 2048, 1000, 1);
	assert_int_equal(send(peer, f, sizeof(f), 0), (ssize_t)sizeof(f));
	virtio_net_rx_ready(vd);
	assert_int_equal(used_idx(NET_RXQ), 3);
	assert_int_equal(stats().rx_packets, 3);
}

/* The guest's frame goes out after its length, without the header; one
 * asking for a checksum offload that was not offered is dropped. */
static void test_stream_tx(void **state)
{
	struct virtio_net_hdr_v1 h = { 0 };
	uint8_t got[4 + 100];
	uint32_t be;

	post_tx(0, &h, 100, 2);
	h.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM;
	h.csum_start = 34;
	h.csum_offset = 16;
	post_tx(1, &h, 100, 1);
	vd->ops->queue_notify(vd, NET_TXQ);
	assert_int_equal(used_idx(NET_TXQ), 2);
	assert_int_equal(recv(peer, got, sizeof(got), MSG_DONTWAIT), 104);
	memcpy(&be, got, 4);
	assert_int_equal(ntohl(be), 100);
	for (size_t i = 0; i < 100; i++)
		assert_int_equal(got[4 + i], frame_byte(i));
	assert_int_equal(recv(peer, got, sizeof(got), MSG_DONTWAIT), -1);
	assert_int_equal(stats().tx_packets, 1);
	assert_int_equal(stats().tx_bad_hdr, 1);
}

/* The peer closes (no passt behind it to restart): the link goes down,
 * the guest is told, and transmit drops without a crash. */
static void test_stream_closed(void **state)
{
	struct virtio_net_hdr_v1 h = { 0 };
	uint8_t cfg[NET_CFG_SIZE];

	post_rx(0, 2048);
	close(peer);
	peer = -1;
	virtio_net_rx_ready(vd);
	vd->ops->config_read(vd, 0, cfg, NET_CFG_SIZE);
	assert_int_equal(cfg[NET_CFG_STATUS], 0);
	assert_true(signals > 0);
	post_tx(0, &h, 100, 1);
	vd->ops->queue_notify(vd, NET_TXQ);
	assert_int_equal(used_idx(NET_TXQ), 1);
	assert_int_equal(stats().tx_packets, 0);
	assert_false(vd->status & VIRTIO_CONFIG_S_NEEDS_RESET);
}

/* With an I/O thread, as vmm runs it: the guest sends faster than the peer
 * reads, so sends are taken in part (the tail kept), later frames wait on
 * the ring, and the I/O thread finishes them when the socket is writable
 * again. The peer must get every frame, whole and in order. */
static void test_stream_tx_io(void **state)
{
	enum { N = 12, LEN = 20000 };
	static uint8_t got[N * (4 + LEN) + 1];
	struct virtio_net_hdr_v1 h = { 0 };
	int small = 4096;
	size_t have = 0;
	ssize_t r;

	io = calloc(1, sizeof(*io));
	assert_non_null(io);
	assert_int_equal(iothread_init(io), 0);
	stream = true;
	open_dev(F(VIRTIO_NET_F_MAC) | F(VIRTIO_NET_F_STATUS), 64);	/* 3 descriptors a frame */
	assert_int_equal(iothread_start(io), 0);
	setsockopt(peer, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	for (unsigned k = 0; k < N; k++)
		post_tx(k, &h, LEN, 2);
	pthread_mutex_lock(&vd->lock);
	vd->ops->queue_notify(vd, NET_TXQ);
	pthread_mutex_unlock(&vd->lock);
	/* Read slowly, a little at a time, until all has come. */
	for (unsigned i = 0; i < 20000 && have < sizeof(got) - 1; i++) {
		r = recv(peer, got + have, 3000 < sizeof(got) - have ? 3000 : sizeof(got) - have,
			 MSG_DONTWAIT);
		if (r > 0)
			have += (size_t)r;
		else
			usleep(1000);
	}
	if (have != N * (4 + LEN)) {
		char d[512];

		pthread_mutex_lock(&vd->lock);
		vd->ops->describe(vd, d, sizeof(d));
		pthread_mutex_unlock(&vd->lock);
		fail_msg("%zu of %d bytes came; the device:%s", have, N * (4 + LEN), d);
	}
	for (unsigned k = 0; k < N; k++) {
		uint32_t be;

		memcpy(&be, got + k * (4 + LEN), 4);
		assert_int_equal(ntohl(be), LEN);
		for (size_t i = 0; i < LEN; i++)
			if (got[k * (4 + LEN) + 4 + i] != frame_byte(i))
				fail_msg("frame %u byte %zu", k, i);
	}
	for (unsigned i = 0; i < 2000 && used_idx(NET_TXQ) != N; i++)
		usleep(1000);
	assert_int_equal(used_idx(NET_TXQ), N);
	assert_int_equal(stats().tx_packets, N);
	assert_int_equal(stats().tx_errors, 0);
	/* All sent: the device no longer asks to hear that the socket is
	 * writable (it would spin the I/O thread). */
	{
		char d[512];

		for (unsigned i = 0; i < 1000; i++) {
			pthread_mutex_lock(&vd->lock);
			vd->ops->describe(vd, d, sizeof(d));
			pthread_mutex_unlock(&vd->lock);
			if (strstr(d, " watch=none ") || strstr(d, " watch=in "))
				break;
			usleep(1000);
		}
		if (!strstr(d, " watch=none ") && !strstr(d, " watch=in "))
			fail_msg("still watching for output:%s", d);
	}
}

static void test_tap_errors(void **state)
{
	struct net_config nc = { .tap_fd = -1 };
	struct virtio_dev *d = NULL;
	int fd;

	strcpy(nc.tap, "vmmtest-nosuch");
	assert_int_equal(virtio_net_new(&nc, 0, NULL, NULL, &d), -ENODEV);
	/* An inherited descriptor that is closed, or not a TAP. */
	nc.tap[0] = 0;
	nc.tap_fd = 1000;
	assert_int_equal(virtio_net_new(&nc, 0, NULL, NULL, &d), -EBADF);
	fd = open("/dev/null", O_RDWR);
	assert_true(fd >= 0);
	nc.tap_fd = fd;
	assert_int_equal(virtio_net_new(&nc, 0, NULL, NULL, &d), -EINVAL);
	close(fd);
	assert_null(d);
}

/* With CAP_NET_ADMIN: a real persistent TAP opens (offloads and header
 * size accepted) and a second attach is refused as busy. Skipped without. */
static void test_tap_real(void **state)
{
	struct net_config nc = { .tap_fd = -1 };
	struct virtio_dev *a = NULL, *b = NULL;
	struct ifreq ifr = { 0 };
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "vmmut%d", (int)getpid() % 100000);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	if (fd < 0 || ioctl(fd, TUNSETIFF, &ifr) < 0 || ioctl(fd, TUNSETPERSIST, 1) < 0) {
		if (fd >= 0)
			close(fd);
		skip();
	}
	close(fd);
	snprintf(nc.tap, sizeof(nc.tap), "%s", ifr.ifr_name);
	memcpy(nc.mac, mac, 6);
	assert_int_equal(virtio_net_new(&nc, 0, NULL, NULL, &a), 0);
	assert_int_equal(virtio_net_new(&nc, 1, NULL, NULL, &b), -EBUSY);
	virtio_net_free(a);
	/* Free again: the same TAP attaches once more. */
	assert_int_equal(virtio_net_new(&nc, 0, NULL, NULL, &a), 0);
	virtio_net_free(a);
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	assert_true(fd >= 0 && ioctl(fd, TUNSETIFF, &ifr) == 0 && ioctl(fd, TUNSETPERSIST, 0) == 0);
	close(fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_offloads),
		cmocka_unit_test(test_tx_hdr),
		cmocka_unit_test(test_rx_hdr),
		cmocka_unit_test_setup_teardown(test_rx_single, setup_mrg, teardown),
		cmocka_unit_test_setup_teardown(test_rx_merge, setup_mrg, teardown),
		cmocka_unit_test_setup_teardown(test_rx_merge_event_idx, setup_event_idx, teardown),
		cmocka_unit_test_setup_teardown(test_rx_backpressure, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_rx_too_big_plain, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_rx_too_big_ring, setup_small_ring, teardown),
		cmocka_unit_test_setup_teardown(test_rx_hostile, setup_mrg, teardown),
		cmocka_unit_test_setup_teardown(test_rx_offload_mismatch, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_rx_zc_merge, setup_mrg, teardown),
		cmocka_unit_test_setup_teardown(test_rx_zc_short_first, setup_mrg, teardown),
		cmocka_unit_test_setup_teardown(test_rx_zc_fallback, setup_mrg, teardown),
		cmocka_unit_test_setup_teardown(test_rx_zc_drops, setup_mrg, teardown),
		cmocka_unit_test_setup_teardown(test_rx_zc_plain, setup_plain, teardown),
		cmocka_unit_test_setup_teardown(test_tx_frame, setup_mrg, teardown),
		cmocka_unit_test_setup_teardown(test_tx_bad, setup_mrg, teardown),
		cmocka_unit_test_setup_teardown(test_tx_many_segments, setup_mrg, teardown),
		cmocka_unit_test_setup_teardown(test_config_space, setup_mrg, teardown),
		cmocka_unit_test_setup_teardown(test_stream_features, setup_stream, teardown),
		cmocka_unit_test_setup_teardown(test_stream_rx, setup_stream, teardown),
		cmocka_unit_test_setup_teardown(test_stream_tx, setup_stream, teardown),
		cmocka_unit_test_setup_teardown(test_stream_closed, setup_stream, teardown),
		cmocka_unit_test_teardown(test_stream_tx_io, teardown),
		cmocka_unit_test(test_tap_errors),
		cmocka_unit_test(test_tap_real),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
