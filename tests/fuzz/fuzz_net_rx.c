/* libFuzzer target for the virtio-net receive path (devices/virtio/net.c):
 * frames from the "TAP" (a datagram socket pair standing in for it, one
 * frame per message, virtio-net header first, as with IFF_VNET_HDR) into
 * the guest's RX buffers. The frames, their headers, the RX ring, its
 * descriptors and the negotiated features (merged buffers on or off) all
 * come from the input. Checks: no access outside guest RAM (ASan), no
 * undefined behaviour (UBSan); every used element names a head inside the
 * ring and a length no larger than the writable bytes of that chain; with
 * merged buffers off, no frame larger than one chain; no more packets
 * delivered than frames sent, no more of them zero-copy than delivered.
 * The input may ask for chains with room for the largest frame (byte 5),
 * so that frames are read straight into the guest's buffers (net_rx.c's
 * zero-copy path): 32 KiB buffers that overlap one another, a short first
 * buffer or a first chain shorter than the header.
 *
 * Built by meson in a clang build directory set up with -Dfuzz=true
 * (docs/testing.md, "Fuzzing"); from the repository root:
 *   mkdir -p corpus-netrx && build-fuzz/tests/fuzz/fuzz_net_rx -max_total_time=120 -max_len=16384 corpus-netrx
 *
 * The device is driven without a transport (a stub signals nothing), as
 * in fuzz_net_tx.c; receive runs on the RX queue's kick.
 *
 * Guest RAM is two heap buffers (gpa [0, 32K) and [48K, 80K)) so that ASan's
 * redzones catch any access that leaves a region.
 *
 * Input: a 6-byte header, the frames, then the guest RAM image from gpa 0.
 *   0  u8   log2 of the queue size (mod 9: up to 256)
 *   1  u8   features: bit 0 MRG_RXBUF, 1 INDIRECT_DESC, 2 EVENT_IDX,
 *           3 GUEST_CSUM, 4 GUEST_TSO4, 5 GUEST_TSO6, 6 GUEST_UFO, 7 GUEST_ECN
 *   2  le16 avail index the "driver" publishes
 *   4  u8   number of frames (mod 8)
 *   5  u8   room chains (queue size 32 and up): bits 0-2, how many the
 *           harness makes available after the input's, each one writable
 *           descriptor over the whole high region, from the top of the
 *           descriptor table down; bits 4-7, s: the first of them starts
 *           with an s-byte buffer (at the high region's start, so it
 *           overlaps the next), bit 3: and is that buffer alone
 * Each frame: le16 length (header included; bit 15 set: times 4, for
 * frames past 32 KiB; 0: none sent), then its bytes, as many as the input has, the rest
 * zero. Rings at fixed places: desc 0x0, avail 0x1000, used 0x2000.
 */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "memory.h"
#include "virtio/net.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REGION		(32 * 1024)
#define HI_GPA		(48 * 1024)
#define HDR		6
#define DESC		0x0
#define AVAIL		0x1000
#define USED		0x2000

static void sig_queue(struct virtio_dev *d, unsigned q) { }
static void sig_config(struct virtio_dev *d) { }
static const struct virtio_transport_ops tops = { .signal_queue = sig_queue,
						  .signal_config = sig_config };

static struct guest_mem gm;
static struct virtio_dev *dev;
static int devfd, peer;
static uint8_t *snap[2];	/* guest RAM as the input left it */
static uint8_t frame[0x7fff * 4];	/* the longest a frame can say */

static void trap_unless(bool ok)
{
	if (!ok)
		__builtin_trap();
}

static void init(void)
{
	static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 1 };
	uint8_t *lo = malloc(REGION), *hi = malloc(REGION);
	int sv[2], big = 4 << 20;

	snap[0] = malloc(REGION);
	snap[1] = malloc(REGION);
	trap_unless(lo && hi && snap[0] && snap[1]);
	gm.memfd = -1;
	gm.total = 2 * REGION;
	gm.nregions = 2;
	gm.regions[0] = (struct guest_region){ 0, REGION, 0, lo };
	gm.regions[1] = (struct guest_region){ HI_GPA, REGION, REGION, hi };
	log_set_level((enum log_level)0);
	trap_unless(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
	setsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	setsockopt(sv[1], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	devfd = sv[0];
	peer = sv[1];
	trap_unless(virtio_net_new_fd(sv[0], mac, 1500, 0, NULL, &dev) == 0);
	dev->tops = &tops;
}

/* `len` bytes at gpa in one of the snapshot's regions, or NULL. */
static const uint8_t *at(uint8_t *const img[2], uint64_t gpa, uint64_t len)
{
	if (gpa + len >= gpa && gpa + len <= REGION)
		return img[0] + gpa;
	if (gpa >= HI_GPA && gpa + len >= gpa && gpa + len <= HI_GPA + REGION)
		return img[1] + (gpa - HI_GPA);
	return NULL;
}

/* The writable bytes of the chain at `head` in guest RAM image img (at
 * most; a chain the device refuses counts what its sound part has). */
static uint64_t writable(uint8_t *const img[2], unsigned qsize, unsigned head)
{
	const uint8_t *tab = at(img, DESC, 16ULL * qsize);
	unsigned n = qsize, i = head;
	uint64_t sum = 0;

	for (unsigned steps = 0; tab && i < n && steps < 1024; steps++) {
		struct virtq_desc d;

		memcpy(&d, tab + 16 * i, 16);
		if ((d.flags & VRING_DESC_F_INDIRECT) && tab == at(img, DESC, 16ULL * qsize)) {
			tab = at(img, d.addr, d.len);
			n = d.len / 16;
			i = 0;
			continue;
		}
		if (d.flags & VRING_DESC_F_WRITE)
			sum += d.len;
		if (!(d.flags & VRING_DESC_F_NEXT))
			break;
		i = d.next;
	}
	return sum;
}

/* Descriptor i of a queue of qsize: one buffer, continued at i - 1 when
 * `next` (the room chains are built from the top of the table down). */
static void put_desc(unsigned i, uint64_t addr, uint32_t len, bool next)
{
	struct virtq_desc d = { addr, len,
				(uint16_t)(VRING_DESC_F_WRITE | (next ? VRING_DESC_F_NEXT : 0)),
				(uint16_t)(i - 1) };

	memcpy(gm.regions[0].hva + DESC + 16 * i, &d, 16);
}

/* The room chains byte 5 asks for, made available after the input's
 * `idx`: the avail index to publish. */
static uint16_t add_room(uint8_t spec, unsigned qsize, uint16_t idx)
{
	unsigned n = spec & 7, s = spec >> 4, top = qsize - 1;

	if (qsize < 32)
		return idx;
	for (unsigned k = 0; k < n; k++) {
		uint16_t head = (uint16_t)top;

		if (k == 0 && s) {
			put_desc(top--, HI_GPA, s, !(spec & 8));
			if (!(spec & 8))
				put_desc(top--, HI_GPA, REGION, false);
		} else {
			put_desc(top--, HI_GPA, REGION, false);
		}
		memcpy(gm.regions[0].hva + AVAIL + 4 + 2 * (idx % qsize), &head, 2);
		idx++;
	}
	return idx;
}

/* Sends the input's frames; returns the rest of the input (guest RAM). */
static const uint8_t *send_frames(const uint8_t *p, const uint8_t *end, unsigned n,
				  unsigned *sent)
{
	*sent = 0;
	for (unsigned k = 0; k < n && end - p >= 2; k++) {
		uint16_t l16;
		size_t len, have;

		memcpy(&l16, p, 2);
		p += 2;
		len = l16 & 0x8000 ? (size_t)(l16 & 0x7fff) * 4 : l16;
		have = (size_t)(end - p) < len ? (size_t)(end - p) : len;
		memset(frame, 0, len);
		memcpy(frame, p, have);
		p += have;
		/* An empty datagram reads as a closed peer (EOF): the device
		 * would lose its link for good, and every later input with it. */
		if (len && send(peer, frame, len, MSG_DONTWAIT) == (ssize_t)len)
			(*sent)++;
	}
	return p;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int fbits[] = {
		VIRTIO_NET_F_MRG_RXBUF, VIRTIO_RING_F_INDIRECT_DESC, VIRTIO_RING_F_EVENT_IDX,
		VIRTIO_NET_F_GUEST_CSUM, VIRTIO_NET_F_GUEST_TSO4, VIRTIO_NET_F_GUEST_TSO6,
		VIRTIO_NET_F_GUEST_UFO, VIRTIO_NET_F_GUEST_ECN,
	};
	static bool ready;
	struct virtio_net_stats before, after;
	uint64_t features = 1ULL << VIRTIO_F_VERSION_1;
	uint8_t *now[2];
	const uint8_t *ram, *end = data + size;
	unsigned sent, qsize;
	uint16_t idx, used;
	struct virtq *q;
	size_t n;

	if (!ready) {
		init();
		ready = true;
	}
	if (size < HDR)
		return 0;
	for (unsigned i = 0; i < 8; i++)
		if (data[1] & (1u << i))
			features |= 1ULL << fbits[i];
	ram = send_frames(data + HDR, end, data[4] % 8, &sent);
	memset(gm.regions[0].hva, 0, REGION);
	memset(gm.regions[1].hva, 0, REGION);
	n = (size_t)(end - ram) < REGION ? (size_t)(end - ram) : REGION;
	memcpy(gm.regions[0].hva, ram, n);
	if ((size_t)(end - ram) > REGION) {
		n = (size_t)(end - ram) - REGION < REGION ? (size_t)(end - ram) - REGION : REGION;
		memcpy(gm.regions[1].hva, ram + REGION, n);
	}
	q = &dev->vq[NET_RXQ];
	virtq_reset(q);
	q->mem = &gm;
	qsize = 1u << (data[0] % 9);
	q->size = (uint16_t)qsize;
	q->desc = DESC;
	q->avail = AVAIL;
	q->used = USED;
	virtq_set_features(q, features);
	if (virtq_enable(q) < 0)
		goto out;
	memcpy(&idx, data + 2, 2);
	idx = add_room(data[5], qsize, idx);
	memcpy(gm.regions[0].hva + AVAIL + 2, &idx, 2);
	memset(gm.regions[0].hva + USED, 0, 4);
	memcpy(snap[0], gm.regions[0].hva, REGION);
	memcpy(snap[1], gm.regions[1].hva, REGION);
	dev->features = features;
	dev->status = VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;
	virtio_net_get_stats(dev, &before);
	dev->ops->queue_notify(dev, NET_RXQ);
	virtio_net_get_stats(dev, &after);
	trap_unless(after.rx_packets - before.rx_packets <= sent);
	trap_unless(after.rx_zerocopy - before.rx_zerocopy <=
		    after.rx_packets - before.rx_packets);
	now[0] = gm.regions[0].hva;
	now[1] = gm.regions[1].hva;
	memcpy(&used, gm.regions[0].hva + USED + 2, 2);
	/* The ring has room for qsize elements; more than that wraps over. */
	for (unsigned i = 0; i < used && i < qsize; i++) {
		uint32_t e[2];
		uint64_t cap;

		memcpy(e, gm.regions[0].hva + USED + 4 + 8 * i, 8);
		trap_unless(e[0] < qsize);
		/* The device's buffer writes may overwrite descriptors it
		 * read: either view of the chain will do. */
		cap = writable(snap, qsize, e[0]);
		if (cap < writable(now, qsize, e[0]))
			cap = writable(now, qsize, e[0]);
		trap_unless(e[1] <= cap);
	}
out:
	dev->ops->reset(dev);
	dev->status = 0;
	/* What the device did not take stays on its socket: drop it. */
	while (recv(devfd, frame, sizeof(frame), MSG_DONTWAIT) >= 0)
		;
	return 0;
}
