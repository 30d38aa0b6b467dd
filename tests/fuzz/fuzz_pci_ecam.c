/* libFuzzer target for PCI's enhanced configuration access (ECAM,
 * devices/pci.c pci_ecam_io), as arch/aarch64/machine.c registers it on the
 * MMIO bus for virtio_transport = "pci": a bus without a host bridge, with
 * virtio-rng functions at 00:00.0 and 00:05.0 (their config hooks in
 * devices/virtio/pci.c: MSI-X control, the PCI_CFG window) on the fake host
 * (tests/fake). The window here spans two buses, so that bus 1 decodes too.
 * One bus per input.
 *
 * Input: 8-byte records
 *   0  u8   bit 0 write, bits 1-2 the width 1 << n (1, 2, 4, 8: any
 *           alignment; the bus and the handler refuse what they must), bit 3:
 *           then a 32-bit write of byte 3 into the MSI-X table of function
 *           (bit 4 ? 00:05.0 : 00:00.0), at (byte 3 & 0x3c), through its BAR
 *   1  le24 offset in the window (bytes 1-3; bit 21 and up wrap)
 *   4  le32 value written
 *
 * Checks: no access outside any buffer (ASan), no undefined behaviour
 * (UBSan), no leak (LSan); after every access the read-only parts stay:
 * both functions' vendor, device and class IDs and BAR type bits; every
 * other slot, function 1, bus 1 and the extended space read all-ones.
 *
 * Built by meson in a clang build directory set up with -Dfuzz=true
 * (docs/testing.md, "Fuzzing"); from the repository root:
 *   mkdir -p corpus-ecam && build-fuzz/tests/fuzz/fuzz_pci_ecam -max_total_time=120 -max_len=2048 corpus-ecam
 */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bus.h"
#include "fuzz_host.h"
#include "log.h"
#include "pci.h"
#include "virtio/pci.h"
#include "virtio/rng.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RAM	(16 * 1024)
#define WIN	0x40000000ULL
#define BASE	0x3f000000ULL
#define SPAN	(2 * PCI_ECAM_BUS_SIZE)
#define REC	8

static struct fake_host fh;
static struct pci_bus bus;
static struct io_bus ecam;

static uint32_t rd(uint64_t off, uint32_t len)
{
	uint32_t v = 0;

	fuzz_trap_unless(bus_access(&ecam, BASE + off, (uint8_t *)&v, len, false));
	return v;
}

static void check(void)
{
	static const unsigned slots[2] = { 0, 5 };

	for (unsigned i = 0; i < 2; i++) {
		uint64_t f = (uint64_t)slots[i] << 15;

		fuzz_trap_unless(rd(f + PCI_VENDOR_ID, 4) == 0x10441af4u);
		fuzz_trap_unless(rd(f + PCI_CLASS_REVISION, 4) >> 8 == 0xff0000u);
		fuzz_trap_unless((rd(f + PCI_BASE_ADDRESS_0, 4) & 0xfff) ==
				 PCI_BASE_ADDRESS_MEM_TYPE_64);
		fuzz_trap_unless(rd(f + 0x100, 4) == 0xffffffffu);
		fuzz_trap_unless(rd(f + (1 << 12), 4) == 0xffffffffu);	/* function 1 */
	}
	fuzz_trap_unless(rd(1 << 15, 4) == 0xffffffffu);
	fuzz_trap_unless(rd(31 << 15, 2) == 0xffffu);
	fuzz_trap_unless(rd(PCI_ECAM_BUS_SIZE, 4) == 0xffffffffu);	/* bus 1 */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct virtio_dev *vd[2];

	if (!ready) {
		log_set_level((enum log_level)0);
		ready = true;
	}
	fuzz_trap_unless(fuzz_host_init(&fh, RAM) == 0);
	pci_bus_init(&bus, WIN, 0x10000000, false);
	bus_init(&ecam, "ecam");
	fuzz_trap_unless(bus_register(&ecam, BASE, SPAN, pci_ecam_io, &bus, "pci-ecam") == 0);
	for (unsigned i = 0; i < 2; i++) {
		vd[i] = virtio_rng_new();
		fuzz_trap_unless(vd[i] && virtio_pci_attach(&fh.host, &bus, i ? 5 : 0, vd[i]) == 0);
	}
	for (size_t i = 0; i + REC <= size; i += REC) {
		const uint8_t *r = data + i;
		uint32_t len = 1u << ((r[0] >> 1) & 3);
		uint64_t off = ((uint64_t)r[1] | (uint64_t)r[2] << 8 | (uint64_t)r[3] << 16) % SPAN;
		uint64_t v = 0;

		memcpy(&v, r + 4, 4);
		/* Near the window's end a wide access runs past it: the bus refuses. */
		bus_access(&ecam, BASE + off, (uint8_t *)&v, len, r[0] & 1);
		check();
		if (r[0] & 8) {
			uint64_t x = r[3];

			bus_access(&fh.mmio, WIN + VPCI_BAR_SIZE * ((r[0] >> 4) & 1) +
				   VPCI_MSIX_OFF + (r[3] & 0x3c), (uint8_t *)&x, 4, true);
		}
	}
	fuzz_host_destroy(&fh);		/* the transports' cleanups */
	pthread_mutex_destroy(&bus.lock);
	for (unsigned i = 0; i < 2; i++)
		virtio_rng_free(vd[i]);
	return 0;
}
