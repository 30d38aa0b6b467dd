/* libFuzzer target for virtio-net's control queue (devices/virtio/net_ctrl.c):
 * the control ring, its descriptors and the commands all come from the input,
 * on a device of NET_MAX_PAIRS queue pairs on datagram sockets. The input is
 * also given to the command parser alone. Checks: no access outside guest
 * RAM (ASan), no undefined behaviour (UBSan); the pairs in use stay within
 * 1..NET_MAX_PAIRS
 * and are 1 again after a reset; the parser answers OK or ERR and sets the
 * pairs only for an accepted VQ_PAIRS_SET, in range.
 *
 * Built by meson in a clang build directory set up with -Dfuzz=true
 * (docs/testing.md, "Fuzzing"); from the repository root:
 *   mkdir -p corpus-ctrl && build-fuzz/tests/fuzz/fuzz_net_ctrl -max_total_time=120 corpus-ctrl
 *
 * Guest RAM is two heap buffers (gpa [0, 32K) and [48K, 80K)) so that ASan's
 * redzones catch any access that leaves a region.
 *
 * Input: a 4-byte header, then the guest RAM image from gpa 0.
 *   0  u8  log2 of the queue size (mod 9: up to 256)
 *   1  u8  features: bit 0 INDIRECT_DESC, 1 EVENT_IDX
 *   2  le16 avail index the "driver" publishes
 * Rings at fixed places: desc 0x0, avail 0x1000, used 0x2000.
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "memory.h"
#include "virtio/net-internal.h"

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

static void trap_unless(bool ok)
{
	if (!ok)
		__builtin_trap();
}

static void init(void)
{
	static const uint8_t mac[6] = { 2, 0, 0, 0, 0, 1 };
	uint8_t *lo = malloc(REGION), *hi = malloc(REGION);
	int fds[NET_MAX_PAIRS], sv[2];

	trap_unless(lo && hi);
	gm.memfd = -1;
	gm.total = 2 * REGION;
	gm.nregions = 2;
	gm.regions[0] = (struct guest_region){ 0, REGION, 0, lo };
	gm.regions[1] = (struct guest_region){ HI_GPA, REGION, REGION, hi };
	log_set_level((enum log_level)0);
	for (unsigned i = 0; i < NET_MAX_PAIRS; i++) {
		trap_unless(socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
		close(sv[1]);
		fds[i] = sv[0];
	}
	trap_unless(virtio_net_new_fds(fds, NET_MAX_PAIRS, mac, 1500, 0, NULL, &dev) == 0);
	dev->tops = &tops;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	uint64_t features = 1ULL << VIRTIO_F_VERSION_1 | 1ULL << VIRTIO_NET_F_CTRL_VQ |
			    1ULL << VIRTIO_NET_F_MQ;
	struct net *n;
	struct virtq *q;
	unsigned pairs = 0;
	uint8_t st;
	uint16_t idx;
	size_t len;

	if (!ready) {
		init();
		ready = true;
	}
	n = dev->priv;
	/* The parser alone, on the raw input. */
	st = virtio_net_ctrl_parse(data, size, NET_MAX_PAIRS, &pairs);
	trap_unless(st == VIRTIO_NET_OK || st == VIRTIO_NET_ERR);
	trap_unless(pairs <= NET_MAX_PAIRS && (st == VIRTIO_NET_OK || pairs == 0));
	if (size < HDR)
		return 0;
	if (data[1] & 1)
		features |= 1ULL << VIRTIO_RING_F_INDIRECT_DESC;
	if (data[1] & 2)
		features |= 1ULL << VIRTIO_RING_F_EVENT_IDX;
	memset(gm.regions[0].hva, 0, REGION);
	memset(gm.regions[1].hva, 0, REGION);
	len = size - HDR < REGION ? size - HDR : REGION;
	memcpy(gm.regions[0].hva, data + HDR, len);
	if (size - HDR > REGION) {
		len = size - HDR - REGION < REGION ? size - HDR - REGION : REGION;
		memcpy(gm.regions[1].hva, data + HDR + REGION, len);
	}
	q = &dev->vq[2 * NET_MAX_PAIRS];
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
	dev->ops->queue_notify(dev, 2 * NET_MAX_PAIRS);
	trap_unless(n->active >= 1 && n->active <= NET_MAX_PAIRS);
	dev->ops->reset(dev);
	trap_unless(n->active == 1);
	return 0;
}
