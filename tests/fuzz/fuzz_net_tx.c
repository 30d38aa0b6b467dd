/* libFuzzer target for the virtio-net transmit path: the TX ring, its
 * descriptors, the virtio-net headers and the frames all come from the
 * input, with the negotiated features; the device writes what it accepts to
 * a datagram socket standing in for the TAP. Checks: no access outside
 * guest RAM (ASan), no undefined behaviour (UBSan), and every frame that
 * reaches the "TAP" carries a header that the negotiated features allow and
 * fits the size limits; one frame out per counted packet.
 *
 * Built by meson in a clang build directory set up with -Dfuzz=true
 * (docs/testing.md, "Fuzzing"); from the repository root:
 *   mkdir -p corpus-net && build-fuzz/tests/fuzz/fuzz_net_tx -max_total_time=120 -max_len=16384 corpus-net
 *
 * The device is driven without a transport (a stub signals nothing), so
 * no host (devices/host.h) is needed; tests/fake/fake_host.c is for the
 * transports.
 *
 * Guest RAM is two heap buffers (gpa [0, 32K) and [48K, 80K)) so that ASan's
 * redzones catch any access that leaves a region.
 *
 * Input: a 4-byte header, then the guest RAM image from gpa 0.
 *   0  u8  log2 of the queue size (mod 9: up to 256)
 *   1  u8  features: bit 0 INDIRECT_DESC, 1 EVENT_IDX, 2 CSUM, 3 HOST_TSO4,
 *          4 HOST_TSO6, 5 HOST_UFO, 6 HOST_ECN, 7 MTU (1500)
 *   2  le16 avail index the "driver" publishes
 * Rings at fixed places: desc 0x0, avail 0x1000, used 0x2000.
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
#define HDR		4

static void sig_queue(struct virtio_dev *d, unsigned q) { }
static void sig_config(struct virtio_dev *d) { }
static const struct virtio_transport_ops tops = { .signal_queue = sig_queue,
						  .signal_config = sig_config };

static struct guest_mem gm;
static struct virtio_dev *dev;
static int peer;

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

	trap_unless(lo && hi);
	gm.memfd = -1;
	gm.total = 2 * REGION;
	gm.nregions = 2;
	gm.regions[0] = (struct guest_region){ 0, REGION, 0, lo };
	gm.regions[1] = (struct guest_region){ HI_GPA, REGION, REGION, hi };
	log_set_level((enum log_level)0);
	trap_unless(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
	setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	peer = sv[1];
	trap_unless(virtio_net_new_fd(sv[0], mac, 1500, 0, NULL, &dev) == 0);
	dev->tops = &tops;
}

/* What reached the "TAP" must be a frame the checks allow. */
static unsigned drain(uint64_t features)
{
	static uint8_t buf[NET_HDR_LEN + NET_MAX_GSO_FRAME + 64];
	struct virtio_net_hdr_v1 h, again;
	unsigned frames = 0;
	ssize_t r;

	while ((r = recv(peer, buf, sizeof(buf), MSG_DONTWAIT)) >= 0) {
		size_t len = (size_t)r - NET_HDR_LEN;

		trap_unless(r >= NET_HDR_LEN + 14);
		memcpy(&h, buf, NET_HDR_LEN);
		trap_unless(len <= virtio_net_tx_max_frame(&h, features, 1500));
		trap_unless(virtio_net_tx_hdr(&h, features, len, &again) == 0);
		trap_unless(memcmp(&h, &again, NET_HDR_LEN) == 0);
		frames++;
	}
	return frames;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int fbits[] = {
		VIRTIO_RING_F_INDIRECT_DESC, VIRTIO_RING_F_EVENT_IDX, VIRTIO_NET_F_CSUM,
		VIRTIO_NET_F_HOST_TSO4, VIRTIO_NET_F_HOST_TSO6, VIRTIO_NET_F_HOST_UFO,
		VIRTIO_NET_F_HOST_ECN, VIRTIO_NET_F_MTU,
	};
	static bool ready;
	struct virtio_net_stats before, after;
	uint64_t features = 1ULL << VIRTIO_F_VERSION_1;
	struct virtq *q;
	uint16_t idx;
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
	memset(gm.regions[0].hva, 0, REGION);
	memset(gm.regions[1].hva, 0, REGION);
	n = size - HDR < REGION ? size - HDR : REGION;
	memcpy(gm.regions[0].hva, data + HDR, n);
	if (size - HDR > REGION) {
		n = size - HDR - REGION < REGION ? size - HDR - REGION : REGION;
		memcpy(gm.regions[1].hva, data + HDR + REGION, n);
	}
	q = &dev->vq[NET_TXQ];
	virtq_reset(q);
	q->mem = &gm;
	q->size = (uint16_t)(1u << (data[0] % 9));
	q->desc = 0;
	q->avail = 0x1000;
	q->used = 0x2000;
	virtq_set_features(q, features);
	if (virtq_enable(q) < 0)
		return 0;
	memcpy(&idx, data + 2, 2);
	memcpy((uint8_t *)gm.regions[0].hva + 0x1002, &idx, 2);
	dev->features = features;
	dev->status = VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;
	virtio_net_get_stats(dev, &before);
	dev->ops->queue_notify(dev, NET_TXQ);
	virtio_net_get_stats(dev, &after);
	trap_unless(drain(features) == after.tx_packets - before.tx_packets);
	dev->ops->reset(dev);
	return 0;
}
