/* libFuzzer target for PCI configuration mechanism #1 (devices/pci.c): the
 * address register at port 0xcf8 and the data window at 0xcfc-0xcff,
 * registered on a port I/O bus as arch/x86_64/machine.c does, in front of
 * the host bridge and two virtio-pci functions (virtio-rng; their config
 * hooks in devices/virtio/pci.c: MSI-X control, the PCI_CFG window) on the
 * fake host (tests/fake). One bus per input.
 *
 * Input: 8-byte records
 *   0  u8   bit 0 write, bits 1-3 the port 0xcf8 + n (0..7), bits 4-5 the
 *           width 1 << n (1, 2, 4, 8: any alignment, the bus and the
 *           handlers refuse what they must)
 *   1  u8   when not 0, the record first latches an enabled address for
 *           slot (n & 3), offset (byte 2) & 0xfc: a shortcut to the
 *           interesting addresses
 *   2  u8   offset for the shortcut
 *   3  u8   bit 7: then a 32-bit write of this byte into the MSI-X table
 *           of function 1 + (n & 1), at (n & 0x3c), through its BAR (the
 *           memory decoding the config writes may have turned on)
 *   4  le32 value written
 *
 * Checks: no access outside any buffer (ASan), no undefined behaviour
 * (UBSan), no leak (LSan); after every access the read-only parts stay:
 * vendor, device and class IDs of the three functions, the BAR type bits,
 * the host bridge's lack of BARs, absent slots and functions reading
 * all-ones; the address register reads back what was written, masked.
 *
 * Built by meson in a clang build directory set up with -Dfuzz=true
 * (docs/testing.md, "Fuzzing"); from the repository root:
 *   mkdir -p corpus-pcicfg && build-fuzz/tests/fuzz/fuzz_pci_config -max_total_time=120 -max_len=2048 corpus-pcicfg
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
#define WIN	0xc0000000ULL
#define PORT	0xcf8
#define REC	8
#define NDEV	2

static struct fake_host fh;
static struct pci_bus bus;
static struct io_bus pio;

static uint32_t cfg_rd(unsigned slot, unsigned fn, uint32_t off, uint32_t len)
{
	uint32_t v = 0;

	pci_cfg_access(&bus, 0, slot, fn, off, (uint8_t *)&v, len, false);
	return v;
}

static void check(uint32_t addr_written)
{
	static const uint32_t ids[3] = { 0x00081b36, 0x10441af4, 0x10441af4 };
	uint32_t a = 0;

	for (unsigned s = 0; s < 3; s++) {
		fuzz_trap_unless(cfg_rd(s, 0, PCI_VENDOR_ID, 4) == ids[s]);
		fuzz_trap_unless(cfg_rd(s, 0, PCI_CLASS_REVISION, 4) >> 8 ==
				 (s ? 0xff0000u : 0x060000u));
		fuzz_trap_unless(cfg_rd(s, 1, PCI_VENDOR_ID, 4) == 0xffffffffu);
		for (unsigned b = 1; b < PCI_STD_NUM_BARS; b++)
			if (b != 1 || s == 0)
				fuzz_trap_unless(cfg_rd(s, 0, PCI_BASE_ADDRESS_0 + 4 * b, 4) == 0);
	}
	for (unsigned s = 1; s < 3; s++)
		fuzz_trap_unless((cfg_rd(s, 0, PCI_BASE_ADDRESS_0, 4) & 0xfff) ==
				 PCI_BASE_ADDRESS_MEM_TYPE_64);
	fuzz_trap_unless(cfg_rd(0, 0, PCI_BASE_ADDRESS_0, 4) == 0);
	fuzz_trap_unless(cfg_rd(3, 0, PCI_VENDOR_ID, 4) == 0xffffffffu);
	fuzz_trap_unless(cfg_rd(31, 0, PCI_VENDOR_ID, 2) == 0xffffu);
	fuzz_trap_unless(bus_access(&pio, PORT, (uint8_t *)&a, 4, false));
	fuzz_trap_unless(a == (addr_written & 0x8ffffffcu));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct virtio_dev *vd[NDEV];
	uint32_t latched = 0;

	if (!ready) {
		log_set_level((enum log_level)0);
		ready = true;
	}
	fuzz_trap_unless(fuzz_host_init(&fh, RAM) == 0);
	pci_bus_init(&bus, WIN, 0x10000000, true);
	bus_init(&pio, "pio");
	fuzz_trap_unless(bus_register(&pio, PORT, 4, pci_cfg_addr_io, &bus, "pci-addr") == 0);
	fuzz_trap_unless(bus_register(&pio, PORT + 4, 4, pci_cfg_data_io, &bus, "pci-data") == 0);
	for (unsigned i = 0; i < NDEV; i++) {
		vd[i] = virtio_rng_new();
		fuzz_trap_unless(vd[i] && virtio_pci_attach(&fh.host, &bus, i + 1, vd[i]) == 0);
	}
	for (size_t i = 0; i + REC <= size; i += REC) {
		const uint8_t *r = data + i;
		unsigned port = (r[0] >> 1) & 7;
		uint32_t len = 1u << ((r[0] >> 4) & 3);
		uint64_t v = 0;

		if (r[1]) {
			uint32_t a = 0x80000000u | (r[1] & 3u) << 11 | (r[2] & 0xfcu);

			bus_access(&pio, PORT, (uint8_t *)&a, 4, true);
			latched = a;
		}
		memcpy(&v, r + 4, 4);
		bus_access(&pio, PORT + port, (uint8_t *)&v, len, r[0] & 1);
		if ((r[0] & 1) && port == 0 && len == 4) {
			latched = (uint32_t)v;
		}
		check(latched);
		if ((r[3] & 0x80) != 0) {
			uint64_t x = r[3];

			bus_access(&fh.mmio, WIN + VPCI_BAR_SIZE * (r[3] & 1) + VPCI_MSIX_OFF +
				   (r[3] & 0x3c), (uint8_t *)&x, 4, true);
		}
	}
	fuzz_host_destroy(&fh);		/* the transports' cleanups */
	pthread_mutex_destroy(&bus.lock);
	for (unsigned i = 0; i < NDEV; i++)
		virtio_rng_free(vd[i]);
	return 0;
}
