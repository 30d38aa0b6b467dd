/* Unit tests for devices/virtio/mmio.c: the virtio-mmio version 2 register
 * file as a driver drives it, the interrupt line, and one request end to
 * end through the I/O thread, with virtio-rng as the device and fakes for
 * the fake host of tests/fake. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "virtio/mmio.h"
#include "virtio/rng.h"
#include "fake_host.h"

#define RAM	(1 << 20)
#define BASE	0x0a000000ULL
#define IRQ	48u

static struct fake_host fh;
static struct virtio_dev *rng;

/* ---- helpers ---- */

static uint32_t rd(uint64_t off)
{
	uint32_t v = 0;

	assert_true(bus_access(&fh.mmio, BASE + off, (uint8_t *)&v, 4, false));
	return v;
}

static void wr(uint64_t off, uint32_t v)
{
	assert_true(bus_access(&fh.mmio, BASE + off, (uint8_t *)&v, 4, true));
}

static int setup(void **state)
{
	log_set_level(LOG_LVL_ERR);
	if (fake_host_init(&fh, RAM) < 0)
		return -1;
	rng = virtio_rng_new();
	if (!rng || virtio_mmio_attach(&fh.host, BASE, IRQ, rng) < 0)
		return -1;
	return iothread_start(&fh.io);
}

static int teardown(void **state)
{
	fake_host_destroy(&fh);		/* the transport's cleanup runs here */
	return 0;
}

static void negotiate(void)
{
	wr(VIRTIO_MMIO_STATUS, 0);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 1);		/* VERSION_1 */
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 0);
	wr(VIRTIO_MMIO_STATUS, 0x0b);
}

static void queue_at(uint64_t desc, uint64_t avail, uint64_t used, uint32_t num)
{
	wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	wr(VIRTIO_MMIO_QUEUE_NUM, num);
	wr(VIRTIO_MMIO_QUEUE_DESC_LOW, (uint32_t)desc);
	wr(VIRTIO_MMIO_QUEUE_DESC_HIGH, (uint32_t)(desc >> 32));
	wr(VIRTIO_MMIO_QUEUE_AVAIL_LOW, (uint32_t)avail);
	wr(VIRTIO_MMIO_QUEUE_AVAIL_HIGH, (uint32_t)(avail >> 32));
	wr(VIRTIO_MMIO_QUEUE_USED_LOW, (uint32_t)used);
	wr(VIRTIO_MMIO_QUEUE_USED_HIGH, (uint32_t)(used >> 32));
}

/* ---- tests ---- */

static void test_identity(void **state)
{
	assert_int_equal(rd(VIRTIO_MMIO_MAGIC_VALUE), 0x74726976);
	assert_int_equal(rd(VIRTIO_MMIO_VERSION), 2);
	assert_int_equal(rd(VIRTIO_MMIO_DEVICE_ID), VIRTIO_ID_RNG);
	assert_int_equal(rd(VIRTIO_MMIO_VENDOR_ID), VMMIO_VENDOR_VALUE);
	/* No shared memory regions: length -1. */
	wr(VIRTIO_MMIO_SHM_SEL, 0);
	assert_int_equal(rd(VIRTIO_MMIO_SHM_LEN_LOW), 0xffffffff);
	assert_int_equal(rd(VIRTIO_MMIO_SHM_LEN_HIGH), 0xffffffff);
	/* One queue kick register, one ioeventfd per queue matching its index. */
	assert_int_equal(fh.ioeventfds, 1);
	assert_int_equal(fh.ioeventfd_addr, BASE + VIRTIO_MMIO_QUEUE_NOTIFY);
	assert_int_equal(fh.ioeventfd_len, 4);
	assert_true(fh.ioeventfd_datamatch);
	assert_int_equal(fh.ioeventfd_data, 0);
}

static void test_access_widths(void **state)
{
	uint8_t b[8] = { 0xaa, 0xaa };

	/* Registers take aligned 32-bit accesses only. */
	assert_true(bus_access(&fh.mmio, BASE + VIRTIO_MMIO_MAGIC_VALUE, b, 2, false));
	assert_int_equal(b[0] | b[1], 0);
	assert_true(bus_access(&fh.mmio, BASE + VIRTIO_MMIO_MAGIC_VALUE + 1, b, 4, false));
	assert_int_equal(b[0] | b[1] | b[2] | b[3], 0);
	b[0] = VIRTIO_CONFIG_S_ACKNOWLEDGE;
	assert_true(bus_access(&fh.mmio, BASE + VIRTIO_MMIO_STATUS, b, 1, true));
	assert_int_equal(rd(VIRTIO_MMIO_STATUS), 0);
	/* The device config of a device that has none: zeros, writes dropped. */
	memset(b, 0xaa, sizeof(b));
	assert_true(bus_access(&fh.mmio, BASE + VIRTIO_MMIO_CONFIG, b, 8, false));
	assert_int_equal(b[0] | b[7], 0);
	assert_true(bus_access(&fh.mmio, BASE + VMMIO_SIZE - 4, b, 4, true));
	/* The window ends where it should. */
	assert_false(bus_access(&fh.mmio, BASE + VMMIO_SIZE, b, 4, false));
}

static void test_features(void **state)
{
	wr(VIRTIO_MMIO_STATUS, 0);
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
	assert_int_equal(rd(VIRTIO_MMIO_DEVICE_FEATURES), 1);		/* VERSION_1 is bit 32 */
	wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 2);
	assert_int_equal(rd(VIRTIO_MMIO_DEVICE_FEATURES), 0);
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	/* Without VERSION_1: no FEATURES_OK. */
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 0);
	wr(VIRTIO_MMIO_STATUS, 0x0b);
	assert_int_equal(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK, 0);
	/* A feature not offered: no FEATURES_OK either. */
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 1 | 1 << 20);
	wr(VIRTIO_MMIO_STATUS, 0x0b);
	assert_int_equal(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_FEATURES_OK, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 1);
	wr(VIRTIO_MMIO_STATUS, 0x0b);
	assert_int_equal(rd(VIRTIO_MMIO_STATUS), 0x0b);
	assert_int_equal(rng->features, 1ULL << VIRTIO_F_VERSION_1);
	/* Frozen after FEATURES_OK. */
	wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
	wr(VIRTIO_MMIO_DRIVER_FEATURES, 1 << 28);
	wr(VIRTIO_MMIO_STATUS, 0x0f);
	assert_int_equal(rng->features, 1ULL << VIRTIO_F_VERSION_1);
	wr(VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(rd(VIRTIO_MMIO_STATUS), 0);
	assert_int_equal(rng->features, 0);
}

static void test_queue_setup(void **state)
{
	wr(VIRTIO_MMIO_STATUS, 0);
	wr(VIRTIO_MMIO_QUEUE_SEL, 0);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), rng->queue_max);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	/* A queue that does not exist: size 0, never ready. */
	wr(VIRTIO_MMIO_QUEUE_SEL, 1);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_NUM_MAX), 0);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	/* Enabling before FEATURES_OK breaks the device: NEEDS_RESET and a
	 * configuration interrupt, which the driver acknowledges. */
	wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
	queue_at(0x2000, 0x3000, 0x4000, 64);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	assert_true(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET);
	assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_CONFIG);
	assert_int_equal(atomic_load(&fh.irq_level[IRQ]), 1);
	wr(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_CONFIG);
	assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), 0);
	assert_int_equal(atomic_load(&fh.irq_level[IRQ]), 0);
	/* A ring past the end of RAM, a size over the maximum, a size that is
	 * not a power of two: refused. */
	negotiate();
	queue_at(RAM - 0x100, 0x3000, 0x4000, 64);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	negotiate();
	queue_at(0x2000, 0x3000, 0x4000, 2 * rng->queue_max);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	negotiate();
	queue_at(0x2000, 0x3000, 0x4000, 0x10040);	/* 64 if truncated to 16 bits */
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	/* A good one, above 4 GiB in its high halves? No RAM there: low. */
	negotiate();
	wr(VIRTIO_MMIO_INTERRUPT_ACK, ~0u);
	queue_at(0x2000, 0x3000, 0x4000, 64);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 1);
	assert_int_equal(rd(VIRTIO_MMIO_STATUS), 0x0b);
	/* Frozen once ready. */
	queue_at(0x8000, 0x9000, 0xa000, 8);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_DESC_LOW), 0x2000);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_USED_LOW), 0x4000);
	assert_int_equal(rng->vq[0].size, 64);
	/* Before DRIVER_OK the driver may take the queue back by writing 0. */
	wr(VIRTIO_MMIO_QUEUE_READY, 0);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	assert_int_equal(rng->vq[0].size, 64);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_DESC_LOW), 0);
	queue_at(0x2000, 0x3000, 0x4000, 64);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 1);
	wr(VIRTIO_MMIO_STATUS, 0x0f);
	assert_true(virtio_dev_queue_live(rng, 0));
	/* Once live, the device may hold the queue's buffers: writing 0 does
	 * not pull the ring from under it. The device stops and asks for a
	 * reset (NEEDS_RESET, a configuration interrupt). */
	wr(VIRTIO_MMIO_QUEUE_READY, 0);
	assert_int_equal(rd(VIRTIO_MMIO_STATUS) & VIRTIO_CONFIG_S_NEEDS_RESET,
			 VIRTIO_CONFIG_S_NEEDS_RESET);
	assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS) & VIRTIO_MMIO_INT_CONFIG,
			 VIRTIO_MMIO_INT_CONFIG);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_DESC_LOW), 0x2000);
	assert_false(virtio_dev_queue_live(rng, 0));
	/* The reset takes it back. */
	wr(VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_READY), 0);
	assert_int_equal(rd(VIRTIO_MMIO_QUEUE_DESC_LOW), 0);
}

static bool wait_line(int level)
{
	for (int i = 0; i < 2000; i++) {
		if (atomic_load(&fh.irq_level[IRQ]) == level)
			return true;
		usleep(1000);
	}
	return false;
}

/* A driver's request: one 16-byte writable buffer, a kick through
 * QueueNotify (the path KVM's ioeventfd takes in a real VM), the used ring
 * and the interrupt as Linux's vm_interrupt() sees them. */
static void test_request(void **state)
{
	uint8_t *ram = gm_ptr(&fh.mem, 0, RAM);
	uint8_t zero[16] = { 0 };
	uint16_t idx;
	uint32_t id, len;

	assert_non_null(ram);
	memset(ram, 0, RAM);
	negotiate();
	wr(VIRTIO_MMIO_INTERRUPT_ACK, ~0u);
	assert_true(wait_line(0));
	queue_at(0x2000, 0x3000, 0x4000, 64);
	wr(VIRTIO_MMIO_QUEUE_READY, 1);
	wr(VIRTIO_MMIO_STATUS, 0x0f);
	/* Descriptor 0: 16 bytes at 0x10000, device-writable. */
	uint64_t a = 0x10000;
	uint32_t l = 16;
	uint16_t f = 2, z = 0, one = 1;

	memcpy(ram + 0x2000, &a, 8);
	memcpy(ram + 0x2008, &l, 4);
	memcpy(ram + 0x200c, &f, 2);
	memcpy(ram + 0x3004, &z, 2);		/* ring[0] = descriptor 0 */
	/* The I/O thread may be serving DRIVER_OK's kick right now: the ring
	 * entry must be visible before the index (a driver's virtio_wmb). */
	__atomic_thread_fence(__ATOMIC_RELEASE);
	memcpy(ram + 0x3002, &one, 2);		/* avail idx = 1 */
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 5);		/* no such queue: ignored */
	wr(VIRTIO_MMIO_QUEUE_NOTIFY, 0);
	assert_true(wait_line(1));
	memcpy(&idx, ram + 0x4002, 2);
	memcpy(&id, ram + 0x4004, 4);
	memcpy(&len, ram + 0x4008, 4);
	assert_int_equal(idx, 1);
	assert_int_equal(id, 0);
	assert_int_equal(len, 16);
	assert_memory_not_equal(ram + 0x10000, zero, 16);
	assert_int_equal(rd(VIRTIO_MMIO_INTERRUPT_STATUS), VIRTIO_MMIO_INT_VRING);
	wr(VIRTIO_MMIO_INTERRUPT_ACK, VIRTIO_MMIO_INT_VRING);
	assert_int_equal(atomic_load(&fh.irq_level[IRQ]), 0);
	/* A reset lowers nothing further and leaves the line low. */
	wr(VIRTIO_MMIO_STATUS, 0);
	assert_int_equal(atomic_load(&fh.irq_level[IRQ]), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_identity),
		cmocka_unit_test(test_access_widths),
		cmocka_unit_test(test_features),
		cmocka_unit_test(test_queue_setup),
		cmocka_unit_test(test_request),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
