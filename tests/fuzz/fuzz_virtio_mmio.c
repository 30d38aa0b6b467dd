/* libFuzzer target for the virtio-mmio transport (devices/virtio/mmio.c):
 * its 512-byte window (registers and device configuration) through the MMIO
 * bus handler, with a real device behind it: virtio-rng, or virtio-blk in
 * synchronous mode on a 64 KiB image (a memfd, zeroed per input). A fresh
 * fake host (tests/fake) and device per input; the I/O thread's work
 * (kicks) runs in the fuzzer's thread.
 *
 * Input: byte 0 bit 0 picks virtio-blk; then 12-byte records
 *   0  u8   op (mod 8, below)
 *   1  u8   width: 1 << (w % 4) bytes (1, 2, 4, 8)
 *   2  le16 offset
 *   4  le64 value
 * ops: 0/1 window write/read at offset % 0x200 (the bus refuses accesses
 * that cross its end); 2 a 32-bit register write at (offset % 0x100) & ~3;
 * 3 InterruptACK of value; 4 the next step of a driver's start-up (reset,
 * ACK, DRIVER, features = offered & value, FEATURES_OK, queues set up and
 * enabled with sizes from value, DRIVER_OK), the step after the last being
 * a reset; 5 eight bytes of value into guest RAM at 8 * offset (rings and
 * requests); 6 QueueNotify of queue value, then the I/O work; 7 the I/O
 * work alone.
 *
 * Checks: no access outside guest RAM (a heap buffer) or any other buffer
 * (ASan), no undefined behaviour (UBSan), no leak (LSan, the device is
 * torn down per input); MagicValue, Version and DeviceID read what they
 * must; a status write of 0 reads back 0; the interrupt line (as the fake
 * host recorded it) is high exactly while InterruptStatus is not zero.
 *
 * Built by meson in a clang build directory set up with -Dfuzz=true
 * (docs/testing.md, "Fuzzing"); from the repository root:
 *   mkdir -p corpus-vmmio && build-fuzz/tests/fuzz/fuzz_virtio_mmio -max_total_time=120 -max_len=4096 corpus-vmmio
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fuzz_host.h"
#include "log.h"
#include "virtio/blk.h"
#include "virtio/mmio.h"
#include "virtio/rng.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM	(64 * 1024)
#define BASE	0xd0000000ULL
#define IRQ	5
#define REC	12
#define STEPS	7

static struct fake_host fh;
static struct virtio_dev *vd;

static uint64_t win_rd(uint64_t off, uint32_t len)
{
	uint64_t v = 0;

	bus_access(&fh.mmio, BASE + off, (uint8_t *)&v, len, false);
	return v;
}

static void win_wr(uint64_t off, uint64_t v, uint32_t len)
{
	bus_access(&fh.mmio, BASE + off, (uint8_t *)&v, len, true);
}

static uint32_t reg_rd(uint32_t off)
{
	return (uint32_t)win_rd(off, 4);
}

static void reg_wr(uint32_t off, uint32_t v)
{
	win_wr(off, v, 4);
}

static void step(unsigned s, uint64_t v)
{
	uint64_t offered;

	switch (s) {
	case 0:
		reg_wr(VIRTIO_MMIO_STATUS, 0);
		break;
	case 1:
		reg_wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE);
		break;
	case 2:
		reg_wr(VIRTIO_MMIO_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER);
		break;
	case 3:
		reg_wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 0);
		offered = reg_rd(VIRTIO_MMIO_DEVICE_FEATURES);
		reg_wr(VIRTIO_MMIO_DEVICE_FEATURES_SEL, 1);
		offered |= (uint64_t)reg_rd(VIRTIO_MMIO_DEVICE_FEATURES) << 32;
		offered &= v | 1ULL << VIRTIO_F_VERSION_1;
		reg_wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 0);
		reg_wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)offered);
		reg_wr(VIRTIO_MMIO_DRIVER_FEATURES_SEL, 1);
		reg_wr(VIRTIO_MMIO_DRIVER_FEATURES, (uint32_t)(offered >> 32));
		break;
	case 4:
		reg_wr(VIRTIO_MMIO_STATUS, reg_rd(VIRTIO_MMIO_STATUS) | VIRTIO_CONFIG_S_FEATURES_OK);
		break;
	case 5:
		for (unsigned q = 0; q < vd->nqueues; q++) {
			uint32_t base = 0x4000u * q;

			reg_wr(VIRTIO_MMIO_QUEUE_SEL, q);
			reg_wr(VIRTIO_MMIO_QUEUE_NUM,
			       reg_rd(VIRTIO_MMIO_QUEUE_NUM_MAX) >> (v >> (4 * q) & 7));
			reg_wr(VIRTIO_MMIO_QUEUE_DESC_LOW, base);
			reg_wr(VIRTIO_MMIO_QUEUE_DESC_HIGH, 0);
			reg_wr(VIRTIO_MMIO_QUEUE_AVAIL_LOW, base + 0x1000);
			reg_wr(VIRTIO_MMIO_QUEUE_AVAIL_HIGH, 0);
			reg_wr(VIRTIO_MMIO_QUEUE_USED_LOW, base + 0x2000);
			reg_wr(VIRTIO_MMIO_QUEUE_USED_HIGH, 0);
			reg_wr(VIRTIO_MMIO_QUEUE_READY, 1);
		}
		break;
	case 6:
		reg_wr(VIRTIO_MMIO_STATUS, reg_rd(VIRTIO_MMIO_STATUS) | VIRTIO_CONFIG_S_DRIVER_OK);
		break;
	}
}

static void check(void)
{
	int level = atomic_load(&fh.irq_level[IRQ]);

	fuzz_trap_unless(reg_rd(VIRTIO_MMIO_MAGIC_VALUE) == VMMIO_MAGIC_VALUE);
	fuzz_trap_unless(reg_rd(VIRTIO_MMIO_VERSION) == 2);
	fuzz_trap_unless(reg_rd(VIRTIO_MMIO_DEVICE_ID) == vd->id);
	fuzz_trap_unless((level == 1) == (reg_rd(VIRTIO_MMIO_INTERRUPT_STATUS) != 0));
}

static void op(const uint8_t *r, unsigned *s)
{
	uint32_t len = 1u << (r[1] % 4);
	uint16_t off;
	uint64_t v;

	memcpy(&off, r + 2, 2);
	memcpy(&v, r + 4, 8);
	switch (r[0] % 8) {
	case 0:
		win_wr(off % VMMIO_SIZE, v, len);
		break;
	case 1:
		win_rd(off % VMMIO_SIZE, len);
		break;
	case 2:
		reg_wr((off % 0x100) & ~3u, (uint32_t)v);
		if ((off % 0x100 & ~3u) == VIRTIO_MMIO_STATUS && (uint32_t)v == 0)
			fuzz_trap_unless(reg_rd(VIRTIO_MMIO_STATUS) == 0);
		break;
	case 3:
		reg_wr(VIRTIO_MMIO_INTERRUPT_ACK, (uint32_t)v);
		break;
	case 4:
		step(*s, v);
		*s = (*s + 1) % STEPS;
		break;
	case 5:
		memcpy(fh.mem.regions[0].hva + (8 * (size_t)off) % RAM, &v, 8);
		break;
	case 6:
		reg_wr(VIRTIO_MMIO_QUEUE_NOTIFY, (uint32_t)(v % vd->nqueues));
		fuzz_io_run(4);
		break;
	case 7:
		fuzz_io_run(4);
		break;
	}
	check();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	bool blk;
	unsigned s = 0;

	if (!ready) {
		log_set_level((enum log_level)0);
		ready = true;
	}
	if (size < 1)
		return 0;
	blk = data[0] & 1;
	fuzz_trap_unless(fuzz_host_init(&fh, RAM) == 0);
	vd = fuzz_dev_new(blk);
	fuzz_trap_unless(vd && virtio_mmio_attach(&fh.host, BASE, IRQ, vd) == 0);
	for (size_t i = 1; i + REC <= size; i += REC)
		op(data + i, &s);
	fuzz_host_destroy(&fh);		/* the transport's cleanup */
	fuzz_dev_free(vd, blk);
	return 0;
}
