/* libFuzzer target for the virtio-pci transport (devices/virtio/pci.c): BAR 0
 * (common configuration, ISR, device configuration, notify, MSI-X table and
 * PBA) through the MMIO bus handler, and config space (the MSI-X control
 * word, the VIRTIO_PCI_CAP_PCI_CFG window) through pci_cfg_access, with a
 * real device behind it: virtio-rng, or virtio-blk in synchronous mode on a
 * 64 KiB image (a memfd, zeroed per input). A fresh fake host (tests/fake), bus and device
 * per input; the I/O thread's work (kicks) runs in the fuzzer's thread.
 *
 * Input: byte 0 bit 0 picks virtio-blk; then 12-byte records
 *   0  u8   op (mod 8, below)
 *   1  u8   width: 1 << (w % 4) bytes (1, 2, 4, 8)
 *   2  le16 offset
 *   4  le64 value
 * ops: 0/1 BAR 0 write/read at offset % 0x8000 (the bus refuses accesses
 * that cross its end); 2/3 config space write/read at offset % 256; 4 the
 * next step of a driver's start-up (reset and memory decoding on, ACK,
 * DRIVER, features = offered & value, FEATURES_OK, queues set up and
 * enabled with sizes and vectors from value, MSI-X on and unmasked,
 * DRIVER_OK), the step after the last being a reset; 5 eight bytes of
 * value into guest RAM at 8 * offset (rings and requests); 6 a kick of
 * queue value through the notify region, then the I/O work; 7 the I/O
 * work alone.
 *
 * Checks: no access outside guest RAM (a heap buffer) or any other buffer
 * (ASan), no undefined behaviour (UBSan), no leak (LSan, the device is
 * torn down per input); NumQueues reads the device's count; a status write
 * of 0 reads back 0; the PBA never holds a bit past the last vector, nor,
 * with MSI-X on and not function-masked, one of a vector the table leaves
 * unmasked (it must have fired).
 *
 * Built by meson in a clang build directory set up with -Dfuzz=true
 * (docs/testing.md, "Fuzzing"); from the repository root:
 *   mkdir -p corpus-vpci && build-fuzz/tests/fuzz/fuzz_virtio_pci -max_total_time=120 -max_len=4096 corpus-vpci
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
#include "pci.h"
#include "virtio/blk.h"
#include "virtio/pci.h"
#include "virtio/rng.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM	(64 * 1024)
#define WIN	0xc0000000ULL
#define REC	12
#define STEPS	8

static struct fake_host fh;
static struct pci_bus bus;
static struct virtio_dev *vd;
static unsigned slot, msix_cap, nvec;

static uint64_t bar_rd(uint64_t off, uint32_t len)
{
	uint64_t v = 0;

	bus_access(&fh.mmio, WIN + off, (uint8_t *)&v, len, false);
	return v;
}

static void bar_wr(uint64_t off, uint64_t v, uint32_t len)
{
	bus_access(&fh.mmio, WIN + off, (uint8_t *)&v, len, true);
}

static uint32_t cfg_rd(uint32_t off, uint32_t len)
{
	uint32_t v = 0;

	pci_cfg_access(&bus, 0, slot, 0, off, (uint8_t *)&v, len, false);
	return v;
}

static void cfg_wr(uint32_t off, uint32_t v, uint32_t len)
{
	pci_cfg_access(&bus, 0, slot, 0, off, (uint8_t *)&v, len, true);
}

static void step(unsigned s, uint64_t v)
{
	uint64_t offered;

	switch (s) {
	case 0:
		cfg_wr(PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
		bar_wr(VPCI_STATUS, 0, 1);
		break;
	case 1:
		bar_wr(VPCI_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE, 1);
		break;
	case 2:
		bar_wr(VPCI_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER, 1);
		break;
	case 3:
		bar_wr(VPCI_DFSELECT, 0, 4);
		offered = bar_rd(VPCI_DF, 4);
		bar_wr(VPCI_DFSELECT, 1, 4);
		offered |= bar_rd(VPCI_DF, 4) << 32;
		offered &= v | 1ULL << VIRTIO_F_VERSION_1;
		bar_wr(VPCI_GFSELECT, 0, 4);
		bar_wr(VPCI_GF, (uint32_t)offered, 4);
		bar_wr(VPCI_GFSELECT, 1, 4);
		bar_wr(VPCI_GF, offered >> 32, 4);
		break;
	case 4:
		bar_wr(VPCI_STATUS, bar_rd(VPCI_STATUS, 1) | VIRTIO_CONFIG_S_FEATURES_OK, 1);
		break;
	case 5:
		bar_wr(VPCI_MSIX_CONFIG, 0, 2);
		for (unsigned q = 0; q < vd->nqueues; q++) {
			uint64_t base = 0x4000ULL * q;

			bar_wr(VPCI_Q_SELECT, q, 2);
			bar_wr(VPCI_Q_SIZE, bar_rd(VPCI_Q_SIZE, 2) >> (v >> (4 * q) & 7), 2);
			bar_wr(VPCI_Q_MSIX, (v >> 32) & 1 ? VIRTIO_NO_VECTOR : q + 1, 2);
			bar_wr(VPCI_Q_DESC, base, 8);
			bar_wr(VPCI_Q_AVAIL, base + 0x1000, 8);
			bar_wr(VPCI_Q_USED, base + 0x2000, 8);
			bar_wr(VPCI_Q_ENABLE, 1, 2);
		}
		break;
	case 6:
		cfg_wr(msix_cap + PCI_MSIX_FLAGS, PCI_MSIX_FLAGS_ENABLE | (v & 1 ? PCI_MSIX_FLAGS_MASKALL : 0), 2);
		for (unsigned i = 0; i < nvec; i++)
			bar_wr(VPCI_MSIX_OFF + 16 * i + PCI_MSIX_ENTRY_VECTOR_CTRL, 0, 4);
		break;
	case 7:
		bar_wr(VPCI_STATUS, bar_rd(VPCI_STATUS, 1) | VIRTIO_CONFIG_S_DRIVER_OK, 1);
		break;
	}
}

static void check(void)
{
	uint16_t flags;
	uint64_t pba;

	if (!(cfg_rd(PCI_COMMAND, 2) & PCI_COMMAND_MEMORY))
		return;
	fuzz_trap_unless(bar_rd(VPCI_NUM_QUEUES, 2) == vd->nqueues);
	pba = bar_rd(VPCI_PBA_OFF, 8);
	fuzz_trap_unless(!(pba >> nvec));
	flags = (uint16_t)cfg_rd(msix_cap + PCI_MSIX_FLAGS, 2);
	if (!(flags & PCI_MSIX_FLAGS_ENABLE) || (flags & PCI_MSIX_FLAGS_MASKALL))
		return;
	for (unsigned i = 0; i < nvec; i++)
		if (pba & (1ULL << i))
			fuzz_trap_unless(bar_rd(VPCI_MSIX_OFF + 16 * i + PCI_MSIX_ENTRY_VECTOR_CTRL, 4) &
					 PCI_MSIX_ENTRY_CTRL_MASKBIT);
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
		bar_wr(off % VPCI_BAR_SIZE, v, len);
		if ((off % VPCI_BAR_SIZE) == VPCI_STATUS && len == 1 && (uint8_t)v == 0 &&
		    (cfg_rd(PCI_COMMAND, 2) & PCI_COMMAND_MEMORY))
			fuzz_trap_unless(bar_rd(VPCI_STATUS, 1) == 0);
		break;
	case 1:
		bar_rd(off % VPCI_BAR_SIZE, len);
		break;
	case 2:
		cfg_wr(off % 256, (uint32_t)v, len);
		break;
	case 3:
		cfg_rd(off % 256, len);
		break;
	case 4:
		step(*s, v);
		*s = (*s + 1) % STEPS;
		break;
	case 5:
		memcpy(fh.mem.regions[0].hva + (8 * (size_t)off) % RAM, &v, 8);
		break;
	case 6:
		bar_wr(VPCI_NOTIFY_OFF + VPCI_NOTIFY_MULT * (v % vd->nqueues), v % vd->nqueues, 2);
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
	pci_bus_init(&bus, WIN, 0x10000000, true);
	vd = fuzz_dev_new(blk);
	fuzz_trap_unless(vd && virtio_pci_attach(&fh.host, &bus, 1, vd) == 0);
	slot = 1;
	nvec = vd->nqueues + 1;
	for (msix_cap = cfg_rd(PCI_CAPABILITY_LIST, 1); msix_cap;
	     msix_cap = cfg_rd(msix_cap + PCI_CAP_LIST_NEXT, 1))
		if (cfg_rd(msix_cap, 1) == PCI_CAP_ID_MSIX)
			break;
	fuzz_trap_unless(msix_cap != 0);
	for (size_t i = 1; i + REC <= size; i += REC)
		op(data + i, &s);
	fuzz_host_destroy(&fh);		/* the transport's cleanup */
	pthread_mutex_destroy(&bus.lock);
	fuzz_dev_free(vd, blk);
	return 0;
}
