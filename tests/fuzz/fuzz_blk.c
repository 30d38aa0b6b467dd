/* libFuzzer target for virtio-blk request parsing and execution: the ring,
 * descriptors, request headers, data and discard segments all come from the
 * input; the device runs every request (synchronous mode) against a small
 * temporary image. Checks: no access outside guest RAM or the image
 * (ASan), no undefined behaviour (UBSan), the image never changes size.
 *
 * Built by meson in a clang build directory set up with -Dfuzz=true
 * (docs/testing.md, "Fuzzing"); from the repository root:
 *   mkdir -p corpus-blk && build-fuzz/tests/fuzz/fuzz_blk -max_total_time=120 -max_len=8192 corpus-blk
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
 *   1  u8  bit 0 INDIRECT_DESC, bit 1 EVENT_IDX, bit 2 read-only disk
 *   2  le16 avail index the "driver" publishes
 * Rings at fixed places: desc 0x0, avail 0x1000, used 0x2000.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fake_vq.h"
#include "log.h"
#include "memory.h"
#include "virtio/blk.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REGION		(32 * 1024)
#define HI_GPA		(48 * 1024)
#define HDR		4
#define IMG_SIZE	(64 * 1024)

static void sig_queue(struct virtio_dev *d, unsigned q) { }
static void sig_config(struct virtio_dev *d) { }
static const struct virtio_transport_ops tops = { .signal_queue = sig_queue,
						   .signal_config = sig_config };

static struct guest_mem gm;
static char img[] = "/tmp/fuzz-blk-XXXXXX";
static struct virtio_dev *dev[2];	/* read-write, read-only */

static void trap_unless(bool ok)
{
	if (!ok)
		__builtin_trap();
}

static void init(void)
{
	uint8_t *lo = malloc(REGION), *hi = malloc(REGION);
	struct disk_config dc = { .path = img };
	int fd = mkstemp(img);

	trap_unless(lo && hi && fd >= 0 && ftruncate(fd, IMG_SIZE) == 0);
	close(fd);
	gm.memfd = -1;
	gm.total = 2 * REGION;
	gm.nregions = 2;
	gm.regions[0] = (struct guest_region){ 0, REGION, 0, lo };
	gm.regions[1] = (struct guest_region){ HI_GPA, REGION, REGION, hi };
	log_set_level((enum log_level)0);
	strcpy(dc.serial, "fuzz");
	trap_unless(virtio_blk_new(&dc, 0, NULL, &dev[0]) == 0);
	/* A second, read-only open of the same image needs no lock of its
	 * own in this process: OFD locks conflict per open file, so use a
	 * copy. */
	{
		static char ro[] = "/tmp/fuzz-blk-ro-XXXXXX";

		fd = mkstemp(ro);
		trap_unless(fd >= 0 && ftruncate(fd, IMG_SIZE) == 0);
		close(fd);
		dc.path = ro;
		dc.read_only = true;
		trap_unless(virtio_blk_new(&dc, 1, NULL, &dev[1]) == 0);
	}
	for (int i = 0; i < 2; i++) {
		dev[i]->tops = &tops;
		dev[i]->status = VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct virtio_dev *vd;
	struct virtq *q;
	uint16_t idx;
	size_t n;
	struct stat st;

	if (!ready) {
		init();
		ready = true;
	}
	if (size < HDR)
		return 0;
	vd = dev[(data[1] >> 2) & 1];
	memset(gm.regions[0].hva, 0, REGION);
	memset(gm.regions[1].hva, 0, REGION);
	n = size - HDR < REGION ? size - HDR : REGION;
	memcpy(gm.regions[0].hva, data + HDR, n);
	if (size - HDR > REGION) {
		n = size - HDR - REGION < REGION ? size - HDR - REGION : REGION;
		memcpy(gm.regions[1].hva, data + HDR + REGION, n);
	}
	q = &vd->vq[0];
	if (fake_vq_enable(q, &gm, 0, (uint16_t)(1u << (data[0] % 9)),
			   (1ULL << VIRTIO_F_VERSION_1) |
			   ((data[1] & 1) ? 1ULL << VIRTIO_RING_F_INDIRECT_DESC : 0) |
			   ((data[1] & 2) ? 1ULL << VIRTIO_RING_F_EVENT_IDX : 0)) < 0)
		return 0;
	memcpy(&idx, data + 2, 2);
	memcpy((uint8_t *)gm.regions[0].hva + 0x1002, &idx, 2);
	vd->status = VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;
	vd->ops->queue_notify(vd, 0);
	/* No oracle on the rings: the driver's buffers may overlap them, and
	 * a read from the image may rewrite avail->idx mid-kick (legal). */
	trap_unless(stat(img, &st) == 0 && st.st_size == IMG_SIZE);
	vd->ops->reset(vd);
	return 0;
}
