/* Unit tests for devices/virtio/blk.c: a fake driver puts requests (header,
 * data, status, in the descriptor layouts a driver may use) in a real split
 * ring over guest memory; the device runs them synchronously against a
 * temporary image, and the test checks the status byte, the used length,
 * guest memory and the bytes of the image file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_vq.h"
#include "log.h"
#include "memory.h"
#include "virtio/blk.h"

#define RAM		(4 << 20)
#define QSIZE		16
#define RINGS		0x1000ULL	/* desc, avail, used: a page each */
#define HDR_GPA		0x10000ULL
#define DATA_GPA	0x20000ULL
#define STATUS_GPA	0x30000ULL
#define IMG_SECTORS	2048		/* 1 MiB */

static struct guest_mem gm;
static char img[] = "/tmp/vmm-test-blk-XXXXXX";
static int img_fd = -1;
static struct virtio_dev *vd;
static unsigned signals;
static uint16_t avail_idx;

static void sig_queue(struct virtio_dev *d, unsigned q) { signals++; }
static void sig_config(struct virtio_dev *d) { signals++; }
static const struct virtio_transport_ops tops = { .signal_queue = sig_queue,
						   .signal_config = sig_config };

/* Byte i of the image as first written. */
static uint8_t img_byte(uint64_t i) { return (uint8_t)(i * 7 + (i >> 9)); }

static int group_setup(void **state)
{
	static uint8_t buf[IMG_SECTORS * 512];

	log_set_level(LOG_LVL_ERR);
	if (gm_init(&gm, 0, RAM, 0, 0) < 0)
		return -1;
	img_fd = mkstemp(img);
	if (img_fd < 0)
		return -1;
	for (size_t i = 0; i < sizeof(buf); i++)
		buf[i] = img_byte(i);
	return pwrite(img_fd, buf, sizeof(buf), 0) == (ssize_t)sizeof(buf) ? 0 : -1;
}

static int group_teardown(void **state)
{
	close(img_fd);
	unlink(img);
	gm_destroy(&gm);
	return 0;
}

static void open_dev(bool ro)
{
	struct disk_config dc = { .path = img, .read_only = ro };
	struct virtq *q;

	strcpy(dc.serial, "serial-0123456789abc");	/* exactly 20 bytes */
	assert_int_equal(virtio_blk_new(&dc, 0, NULL, &vd), 0);
	vd->tops = &tops;
	q = &vd->vq[0];
	memset(gm.base, 0, 0x40000);
	assert_int_equal(fake_vq_enable(q, &gm, RINGS, QSIZE, 1ULL << VIRTIO_F_VERSION_1), 0);
	vd->status = VIRTIO_CONFIG_S_FEATURES_OK | VIRTIO_CONFIG_S_DRIVER_OK;
	avail_idx = 0;
	signals = 0;
}

static int setup_rw(void **state) { open_dev(false); return 0; }
static int setup_ro(void **state) { open_dev(true); return 0; }
static int teardown(void **state) { virtio_blk_free(vd); vd = NULL; return 0; }

struct d { uint64_t addr; uint32_t len; bool write; };

/* Puts a chain of n descriptors in the ring, kicks, and returns the used
 * element's length; *status is the byte at STATUS_GPA afterwards. */
static uint32_t submit(const struct d *ds, unsigned n)
{
	const struct virtq *q = &vd->vq[0];
	uint16_t head = (uint16_t)(avail_idx % QSIZE);
	struct virtq_used_elem e;

	for (unsigned i = 0; i < n; i++) {
		uint16_t flags = (uint16_t)((i + 1 < n ? VRING_DESC_F_NEXT : 0) |
					    (ds[i].write ? VRING_DESC_F_WRITE : 0));

		assert_int_equal(fake_vq_desc(q, (uint16_t)(head + i), ds[i].addr, ds[i].len, flags,
					      (uint16_t)((head + i + 1) % QSIZE)), 0);
	}
	assert_int_equal(fake_vq_publish(q, &avail_idx, head), 0);
	vd->ops->queue_notify(vd, 0);
	assert_int_equal(fake_vq_used_elem(q, (uint16_t)(avail_idx - 1), &e), 0);
	assert_int_equal(e.id, head);
	return e.len;
}

static void put_hdr(uint32_t type, uint64_t sector)
{
	uint8_t h[16] = { 0 };

	memcpy(h, &type, 4);
	memcpy(h + 8, &sector, 8);
	assert_int_equal(gm_write(&gm, HDR_GPA, h, 16), 0);
	*(uint8_t *)gm_ptr(&gm, STATUS_GPA, 1) = 0xee;	/* not a status value */
}

static uint8_t status(void) { return *(uint8_t *)gm_ptr(&gm, STATUS_GPA, 1); }

/* 3-descriptor request: header, data, status. */
static uint32_t request(uint32_t type, uint64_t sector, uint32_t len, bool data_in)
{
	struct d ds[3] = {
		{ HDR_GPA, 16, false }, { DATA_GPA, len, data_in }, { STATUS_GPA, 1, true },
	};

	put_hdr(type, sector);
	if (len == 0) {
		ds[1] = ds[2];
		return submit(ds, 2);
	}
	return submit(ds, 3);
}

static void assert_image(uint64_t off, const uint8_t *want, size_t len)
{
	uint8_t got[4096];

	assert_true(len <= sizeof(got));
	assert_int_equal(pread(img_fd, got, len, (off_t)off), (ssize_t)len);
	assert_memory_equal(got, want, len);
}

static void assert_image_original(uint64_t off, size_t len)
{
	uint8_t want[4096];

	for (size_t i = 0; i < len; i++)
		want[i] = img_byte(off + i);
	assert_image(off, want, len);
}

static void test_read(void **state)
{
	const uint8_t *p = gm_ptr(&gm, DATA_GPA, 1024);

	assert_int_equal(request(VIRTIO_BLK_T_IN, 2, 1024, true), 1025);
	assert_int_equal(status(), VIRTIO_BLK_S_OK);
	for (unsigned i = 0; i < 1024; i++)
		assert_int_equal(p[i], img_byte(1024 + i));
	assert_true(signals > 0);
	/* The last sector, exactly. */
	assert_int_equal(request(VIRTIO_BLK_T_IN, IMG_SECTORS - 1, 512, true), 513);
	assert_int_equal(status(), VIRTIO_BLK_S_OK);
}

static void test_write(void **state)
{
	uint8_t *p = gm_ptr(&gm, DATA_GPA, 512);

	memset(p, 0x5a, 512);
	assert_int_equal(request(VIRTIO_BLK_T_OUT, 4, 512, false), 1);
	assert_int_equal(status(), VIRTIO_BLK_S_OK);
	assert_image(4 * 512, p, 512);
	assert_image_original(5 * 512, 512);
	assert_int_equal(request(VIRTIO_BLK_T_FLUSH, 0, 0, false), 1);
	assert_int_equal(status(), VIRTIO_BLK_S_OK);
	/* Restore for the other tests. */
	assert_int_equal(pwrite(img_fd, (uint8_t[512]){ 0 }, 512, 4 * 512), 512);
	for (unsigned i = 0; i < 512; i++)
		p[i] = img_byte(4 * 512 + i);
	assert_int_equal(pwrite(img_fd, p, 512, 4 * 512), 512);
}

/* Header and data in one descriptor: any framing is legal in virtio 1.x. */
static void test_write_merged_header(void **state)
{
	uint8_t *p = gm_ptr(&gm, HDR_GPA, 16 + 512);
	struct d ds[2] = { { HDR_GPA, 16 + 512, false }, { STATUS_GPA, 1, true } };

	put_hdr(VIRTIO_BLK_T_OUT, 8);
	memset(p + 16, 0xa7, 512);
	assert_int_equal(submit(ds, 2), 1);
	assert_int_equal(status(), VIRTIO_BLK_S_OK);
	assert_image(8 * 512, p + 16, 512);
	for (unsigned i = 0; i < 512; i++)
		p[16 + i] = img_byte(8 * 512 + i);
	assert_int_equal(pwrite(img_fd, p + 16, 512, 8 * 512), 512);
}

static void test_bad_ranges(void **state)
{
	static const uint64_t sectors[] = {
		IMG_SECTORS, IMG_SECTORS - 1, UINT64_MAX, UINT64_MAX / 512, 1ULL << 55,
	};

	for (unsigned i = 0; i < sizeof(sectors) / sizeof(sectors[0]); i++) {
		assert_int_equal(request(VIRTIO_BLK_T_OUT, sectors[i], 1024, false), 1);
		assert_int_equal(status(), VIRTIO_BLK_S_IOERR);
		request(VIRTIO_BLK_T_IN, sectors[i], 1024, true);
		assert_int_equal(status(), VIRTIO_BLK_S_IOERR);
	}
	/* Not a whole number of sectors. */
	request(VIRTIO_BLK_T_OUT, 0, 100, false);
	assert_int_equal(status(), VIRTIO_BLK_S_IOERR);
	assert_image_original(IMG_SECTORS * 512 - 1024, 1024);
	assert_image_original(0, 1024);
}

static void test_unsupported(void **state)
{
	uint32_t types[] = { 2, 3, 5, 7, 9, 10, 12, 14, 0xffffffff };

	for (unsigned i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		assert_int_equal(request(types[i], 0, 512, true), 1);
		assert_int_equal(status(), VIRTIO_BLK_S_UNSUPP);
	}
}

static void test_bad_layout(void **state)
{
	struct d only_read[2] = { { HDR_GPA, 16, false }, { DATA_GPA, 512, false } };
	struct d short_hdr[2] = { { HDR_GPA, 8, false }, { STATUS_GPA, 1, true } };

	/* No writable byte: nothing to answer in; used length 0, no crash. */
	put_hdr(VIRTIO_BLK_T_IN, 0);
	assert_int_equal(submit(only_read, 2), 0);
	/* A header cut short. */
	put_hdr(VIRTIO_BLK_T_IN, 0);
	assert_int_equal(submit(short_hdr, 2), 1);
	assert_int_equal(status(), VIRTIO_BLK_S_IOERR);
	/* The device keeps working. */
	assert_int_equal(request(VIRTIO_BLK_T_IN, 0, 512, true), 513);
	assert_int_equal(status(), VIRTIO_BLK_S_OK);
	assert_false(vd->vq[0].broken);
}

static void test_get_id(void **state)
{
	assert_int_equal(request(VIRTIO_BLK_T_GET_ID, 0, 20, true), 21);
	assert_int_equal(status(), VIRTIO_BLK_S_OK);
	assert_memory_equal(gm_ptr(&gm, DATA_GPA, 20), "serial-0123456789abc", 20);
	/* A smaller buffer gets what fits. */
	assert_int_equal(request(VIRTIO_BLK_T_GET_ID, 0, 4, true), 5);
	assert_int_equal(status(), VIRTIO_BLK_S_OK);
}

static void put_seg(unsigned i, uint64_t sector, uint32_t num, uint32_t flags)
{
	uint8_t s[16];

	memcpy(s, &sector, 8);
	memcpy(s + 8, &num, 4);
	memcpy(s + 12, &flags, 4);
	assert_int_equal(gm_write(&gm, DATA_GPA + 16 * i, s, 16), 0);
}

static void test_discard_zeroes(void **state)
{
	static const uint8_t zeros[1024];

	put_seg(0, 16, 2, 0);
	assert_int_equal(request(VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, false), 1);
	assert_int_equal(status(), VIRTIO_BLK_S_OK);
	assert_image(16 * 512, zeros, 1024);
	assert_image_original(18 * 512, 512);

	put_seg(0, 32, 2, 0);
	put_seg(1, 40, 1, 0);
	assert_int_equal(request(VIRTIO_BLK_T_DISCARD, 0, 32, false), 1);
	assert_int_equal(status(), VIRTIO_BLK_S_OK);
	assert_image(32 * 512, zeros, 1024);
	assert_image(40 * 512, zeros, 512);
	assert_image_original(34 * 512, 512);

	/* The unmap flag on DISCARD is UNSUPP; out of range or empty is IOERR. */
	put_seg(0, 50, 1, 1);
	request(VIRTIO_BLK_T_DISCARD, 0, 16, false);
	assert_int_equal(status(), VIRTIO_BLK_S_UNSUPP);
	put_seg(0, IMG_SECTORS - 1, 2, 0);
	request(VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, false);
	assert_int_equal(status(), VIRTIO_BLK_S_IOERR);
	put_seg(0, 50, 0, 0);
	request(VIRTIO_BLK_T_DISCARD, 0, 16, false);
	assert_int_equal(status(), VIRTIO_BLK_S_IOERR);
	request(VIRTIO_BLK_T_DISCARD, 0, 8, false);	/* half a segment */
	assert_int_equal(status(), VIRTIO_BLK_S_IOERR);
	assert_image_original(IMG_SECTORS * 512 - 512, 512);
	assert_image_original(50 * 512, 512);
}

static void test_readonly(void **state)
{
	uint8_t *p = gm_ptr(&gm, DATA_GPA, 512);

	assert_true(vd->ops->features(vd) & (1ULL << VIRTIO_BLK_F_RO));
	assert_false(vd->ops->features(vd) & (1ULL << VIRTIO_BLK_F_DISCARD));
	memset(p, 0x11, 512);
	assert_int_equal(request(VIRTIO_BLK_T_OUT, 0, 512, false), 1);
	assert_int_equal(status(), VIRTIO_BLK_S_IOERR);
	put_seg(0, 0, 1, 0);
	request(VIRTIO_BLK_T_WRITE_ZEROES, 0, 16, false);
	assert_int_equal(status(), VIRTIO_BLK_S_IOERR);
	request(VIRTIO_BLK_T_DISCARD, 0, 16, false);
	assert_int_equal(status(), VIRTIO_BLK_S_IOERR);
	assert_image_original(0, 512);
	assert_int_equal(request(VIRTIO_BLK_T_IN, 0, 512, true), 513);
	assert_int_equal(status(), VIRTIO_BLK_S_OK);
}

static void test_config_space(void **state)
{
	uint8_t c[BLK_CFG_SIZE];
	uint64_t cap;
	uint32_t seg;

	vd->ops->config_read(vd, 0, c, sizeof(c));
	memcpy(&cap, c + BLK_CFG_CAPACITY, 8);
	memcpy(&seg, c + BLK_CFG_SEG_MAX, 4);
	assert_int_equal(cap, IMG_SECTORS);
	assert_int_equal(seg, BLK_SEG_MAX);
	assert_true(BLK_SEG_MAX + 2 <= BLK_QUEUE_SIZE);
}

/* A second user of the image is refused by the OFD lock. */
static void test_lock(void **state)
{
	struct disk_config dc = { .path = img };
	struct virtio_dev *other = NULL;

	assert_int_equal(virtio_blk_new(&dc, 1, NULL, &other), -EAGAIN);
	dc.read_only = true;
	assert_int_equal(virtio_blk_new(&dc, 1, NULL, &other), -EAGAIN);
	assert_null(other);
}

static void test_missing_and_create(void **state)
{
	char path[] = "/tmp/vmm-test-blk-new-XXXXXX";
	struct disk_config dc = { .path = path };
	struct virtio_dev *d = NULL;
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	unlink(path);
	assert_int_equal(virtio_blk_new(&dc, 1, NULL, &d), -ENOENT);
	dc.size_mib = 3;
	assert_int_equal(virtio_blk_new(&dc, 1, NULL, &d), 0);
	virtio_blk_free(d);
	/* Existing: opened as is, never truncated to size_mib. */
	assert_int_equal(truncate(path, 1 << 20), 0);
	assert_int_equal(virtio_blk_new(&dc, 1, NULL, &d), 0);
	{
		uint8_t c[8];
		uint64_t cap;

		d->ops->config_read(d, 0, c, 8);
		memcpy(&cap, c, 8);
		assert_int_equal(cap, 2048);
	}
	virtio_blk_free(d);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_write, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_write_merged_header, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_bad_ranges, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_unsupported, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_bad_layout, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_get_id, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_discard_zeroes, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_readonly, setup_ro, teardown),
		cmocka_unit_test_setup_teardown(test_config_space, setup_rw, teardown),
		cmocka_unit_test_setup_teardown(test_lock, setup_rw, teardown),
		cmocka_unit_test(test_missing_and_create),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
