/* virtio-blk reset with a request in flight in io_uring (devices/virtio/blk.c,
 * blk_reset): the device must not return from the reset, nor let the driver
 * have the buffers back, before the request has finished writing guest
 * memory, even when the wait is interrupted by a vCPU kick signal (-EINTR:
 * the kick signal is installed without SA_RESTART).
 *
 * The test holds the device's io_uring submission back (--wrap=io_uring_submit)
 * so that the read is still in flight when the reset starts, and makes the
 * first wait inside the reset return -EINTR (--wrap=__io_uring_get_cqe); the
 * held-back submission goes to the kernel on the next wait. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <liburing.h>

#include "fake_vq.h"
#include "iothread.h"
#include "log.h"
#include "memory.h"
#include "virtio/blk.h"

#define RAM		(1 << 20)
#define QSIZE		16
#define RINGS		0x1000ULL	/* desc, avail, used: a page each */
#define HDR_GPA		0x10000ULL
#define DATA_GPA	0x20000ULL
#define STATUS_GPA	0x30000ULL
#define LEN		4096

int __real_io_uring_submit(struct io_uring *ring);
int __wrap_io_uring_submit(struct io_uring *ring);
int __real___io_uring_get_cqe(struct io_uring *ring, struct io_uring_cqe **cqe_ptr,
			      unsigned submit, unsigned wait_nr, sigset_t *sigmask);
int __wrap___io_uring_get_cqe(struct io_uring *ring, struct io_uring_cqe **cqe_ptr,
			      unsigned submit, unsigned wait_nr, sigset_t *sigmask);

static struct io_uring *held;	/* a submission held back */
static unsigned eintr_left;	/* waits to interrupt */
static unsigned waits;

int __wrap_io_uring_submit(struct io_uring *ring)
{
	held = ring;
	return 0;
}

int __wrap___io_uring_get_cqe(struct io_uring *ring, struct io_uring_cqe **cqe_ptr,
			      unsigned submit, unsigned wait_nr, sigset_t *sigmask)
{
	waits++;
	if (eintr_left) {
		eintr_left--;
		return -EINTR;		/* a vCPU kick arrived */
	}
	if (held == ring) {
		held = NULL;
		__real_io_uring_submit(ring);
	}
	return __real___io_uring_get_cqe(ring, cqe_ptr, submit, wait_nr, sigmask);
}

static void sig(struct virtio_dev *d, unsigned q) { }
static void sig_config(struct virtio_dev *d) { }
static const struct virtio_transport_ops tops = { .signal_queue = sig,
						   .signal_config = sig_config };

static void test_reset_waits_through_eintr(void **state)
{
	char img[] = "/tmp/vmm-test-blk-reset-XXXXXX";
	static uint8_t content[LEN];
	struct disk_config dc = { .path = img };
	struct iothread io;
	struct guest_mem gm;
	struct virtio_dev *vd;
	struct virtq *q;
	uint8_t hdr[16] = { 0 }, after[LEN];
	uint16_t head = 0, idx = 0;
	int fd;

	log_set_level(LOG_LVL_ERR);
	assert_int_equal(gm_init(&gm, 0, RAM, 0, 0), 0);
	fd = mkstemp(img);
	assert_true(fd >= 0);
	for (size_t i = 0; i < LEN; i++)
		content[i] = (uint8_t)(i * 13 + 1);
	assert_int_equal(pwrite(fd, content, LEN, 0), LEN);
	/* An I/O thread that is never started: io_uring mode, nobody reaps. */
	assert_int_equal(iothread_init(&io), 0);
	strcpy(dc.serial, "reset");
	assert_int_equal(virtio_blk_new(&dc, 0, &io, &vd), 0);
	pthread_mutex_init(&vd->lock, NULL);
	vd->tops = &tops;
	q = &vd->vq[0];
	assert_int_equal(fake_vq_enable(q, &gm, RINGS, QSIZE, 1ULL << VIRTIO_F_VERSION_1), 0);

	/* A 4 KiB read of sector 0: header, data (device-writable), status. */
	struct virtq_desc d[3] = {
		{ HDR_GPA, 16, VRING_DESC_F_NEXT, 1 },
		{ DATA_GPA, LEN, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2 },
		{ STATUS_GPA, 1, VRING_DESC_F_WRITE, 0 },
	};
	for (uint16_t i = 0; i < 3; i++)
		assert_int_equal(fake_vq_desc(q, i, d[i].addr, d[i].len, d[i].flags, d[i].next), 0);
	assert_int_equal(gm_write(&gm, HDR_GPA, hdr, sizeof(hdr)), 0);	/* T_IN, sector 0 */
	assert_int_equal(fake_vq_publish(q, &idx, head), 0);
	fake_vq_kick(vd, 0);
	assert_non_null(held);		/* in flight: submitted, not done */

	/* The driver resets the device; the first wait is interrupted. */
	eintr_left = 1;
	pthread_mutex_lock(&vd->lock);
	vd->ops->reset(vd);
	pthread_mutex_unlock(&vd->lock);
	assert_true(waits >= 2);
	/* The read was done by the time the reset returned... */
	assert_null(held);
	assert_int_equal(gm_read(&gm, DATA_GPA, after, LEN), 0);
	assert_memory_equal(after, content, LEN);
	/* ...and was not answered: the driver gave the buffers up. */
	assert_int_equal(fake_vq_used_idx(q, &idx), 0);
	assert_int_equal(idx, 0);

	virtio_blk_free(vd);
	iothread_destroy(&io);
	close(fd);
	unlink(img);
	gm_destroy(&gm);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reset_waits_through_eintr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
