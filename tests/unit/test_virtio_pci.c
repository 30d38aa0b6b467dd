/* Unit tests for devices/pci.c and devices/virtio/pci.c: the PCI config
 * space (mechanism #1, BAR sizing, capability chain) and the virtio-pci
 * common configuration registers as a driver drives them, with virtio-rng
 * as the device, attached to the fake host of tests/fake. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "bus.h"
#include "log.h"
#include "pci.h"
#include "virtio/pci.h"
#include "virtio/rng.h"
#include "fake_host.h"

#define RAM	(1 << 20)
#define WIN	0xc0000000ULL

static struct fake_host fh;
static struct pci_bus bus;
static struct virtio_dev *rng;
static uint64_t bar;

/* ---- helpers ---- */

static uint32_t cfg_rd(unsigned slot, uint32_t off, uint32_t len)
{
	uint8_t d[4] = { 0 };
	uint32_t v = 0;

	pci_cfg_access(&bus, 0, slot, 0, off, d, len, false);
	memcpy(&v, d, len);
	return v;
}

static void cfg_wr(unsigned slot, uint32_t off, uint32_t v, uint32_t len)
{
	pci_cfg_access(&bus, 0, slot, 0, off, (uint8_t *)&v, len, true);
}

static uint64_t rd(uint64_t off, uint32_t len)
{
	uint64_t v = 0;

	assert_true(bus_access(&fh.mmio, bar + off, (uint8_t *)&v, len, false));
	return v;
}

static void wr(uint64_t off, uint64_t v, uint32_t len)
{
	assert_true(bus_access(&fh.mmio, bar + off, (uint8_t *)&v, len, true));
}

static int setup(void **state)
{
	log_set_level(LOG_LVL_ERR);
	if (fake_host_init(&fh, RAM) < 0)
		return -1;
	pci_bus_init(&bus, WIN, 0x10000000, true);
	rng = virtio_rng_new();
	if (!rng || virtio_pci_attach(&fh.host, &bus, 1, rng) < 0)
		return -1;
	bar = WIN;
	cfg_wr(1, PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 2);
	return 0;
}

static int teardown(void **state)
{
	fake_host_destroy(&fh);		/* the transport's cleanup runs here */
	return 0;
}

/* ---- PCI ---- */

static void test_config_mechanism(void **state)
{
	uint8_t d[4];
	uint32_t a = 0x80000000u | 1 << 11;	/* 00:01.0, offset 0 */

	pci_cfg_addr_io(&bus, 0, (uint8_t *)&a, 4, true);
	pci_cfg_data_io(&bus, 0, d, 4, false);
	assert_int_equal(d[0] | d[1] << 8, 0x1af4);
	assert_int_equal(d[2] | d[3] << 8, 0x1044);	/* 0x1040 + rng */
	/* Host bridge at 00:00.0, nothing at 00:02.0 or on function 1. */
	assert_int_equal(cfg_rd(0, 0x0a, 2), 0x0600);
	assert_int_equal(cfg_rd(2, 0, 4), 0xffffffff);
	a = 0x80000000u | 1 << 11 | 1 << 8;
	pci_cfg_addr_io(&bus, 0, (uint8_t *)&a, 4, true);
	pci_cfg_data_io(&bus, 0, d, 4, false);
	assert_int_equal(d[0] & d[1] & d[2] & d[3], 0xff);
	/* Enable bit clear: no config cycle. */
	a = 1 << 11;
	pci_cfg_addr_io(&bus, 0, (uint8_t *)&a, 4, true);
	pci_cfg_data_io(&bus, 0, d, 4, false);
	assert_int_equal(d[0], 0xff);
	/* Extended offsets do not alias the header. */
	a = 0x81000000u | 1 << 11;
	pci_cfg_addr_io(&bus, 0, (uint8_t *)&a, 4, true);
	pci_cfg_data_io(&bus, 0, d, 4, false);
	assert_int_equal(d[0] & d[1], 0xff);
}

static void test_bar_sizing(void **state)
{
	assert_int_equal(cfg_rd(1, PCI_BASE_ADDRESS_0, 4), (uint32_t)WIN | 4);
	cfg_wr(1, PCI_BASE_ADDRESS_0, 0xffffffff, 4);
	cfg_wr(1, PCI_BASE_ADDRESS_0 + 4, 0xffffffff, 4);
	assert_int_equal(cfg_rd(1, PCI_BASE_ADDRESS_0, 4), (uint32_t)~(VPCI_BAR_SIZE - 1) | 4);
	assert_int_equal(cfg_rd(1, PCI_BASE_ADDRESS_0 + 4, 4), 0xffffffff);
	cfg_wr(1, PCI_BASE_ADDRESS_0, (uint32_t)WIN, 4);
	cfg_wr(1, PCI_BASE_ADDRESS_0 + 4, 0, 4);
	assert_int_equal(cfg_rd(1, PCI_BASE_ADDRESS_0, 4), (uint32_t)WIN | 4);
	/* Unimplemented BARs and the ROM BAR stay 0. */
	cfg_wr(1, PCI_BASE_ADDRESS_0 + 8, 0xffffffff, 4);
	assert_int_equal(cfg_rd(1, PCI_BASE_ADDRESS_0 + 8, 4), 0);
	cfg_wr(1, PCI_ROM_ADDRESS, 0xffffffff, 4);
	assert_int_equal(cfg_rd(1, PCI_ROM_ADDRESS, 4), 0);
	/* Read-only IDs. */
	cfg_wr(1, 0, 0x12345678, 4);
	assert_int_equal(cfg_rd(1, 0, 2), 0x1af4);
}

static void test_caps(void **state)
{
	unsigned seen = 0, off = cfg_rd(1, PCI_CAPABILITY_LIST, 1), n = 0;

	assert_true(cfg_rd(1, PCI_STATUS, 2) & PCI_STATUS_CAP_LIST);
	while (off && n++ < 16) {
		unsigned id = cfg_rd(1, off, 1);

		assert_true(off >= 0x40 && off < 0x100);
		if (id == 0x11) {
			assert_int_equal(cfg_rd(1, off + 2, 2) & 0x7ff, 1);	/* 2 vectors */
			assert_int_equal(cfg_rd(1, off + 4, 4), VPCI_MSIX_OFF);
			seen |= 1 << 0;
		} else {
			unsigned type = cfg_rd(1, off + 3, 1);

			assert_int_equal(id, 0x09);
			assert_int_equal(cfg_rd(1, off + 4, 1), 0);	/* BAR 0 */
			if (type == 1)
				assert_int_equal(cfg_rd(1, off + 8, 4), VPCI_COMMON_OFF);
			if (type == 2)
				assert_int_equal(cfg_rd(1, off + 16, 4), VPCI_NOTIFY_MULT);
			seen |= 1u << type;
		}
		off = cfg_rd(1, off + 1, 1);
	}
	/* MSI-X, common, notify, ISR, PCI cfg; no device config for rng. */
	assert_int_equal(seen, 1 << 0 | 1 << 1 | 1 << 2 | 1 << 3 | 1 << 5);
}

/* ---- virtio-pci common configuration ---- */

static void test_memory_decoding(void **state)
{
	cfg_wr(1, PCI_COMMAND, 0, 2);
	assert_int_equal(rd(VPCI_NUM_QUEUES, 2), 0xffff);
	cfg_wr(1, PCI_COMMAND, PCI_COMMAND_MEMORY, 2);
	assert_int_equal(rd(VPCI_NUM_QUEUES, 2), 1);
}

static void test_features(void **state)
{
	wr(VPCI_STATUS, 0, 1);
	wr(VPCI_DFSELECT, 1, 4);
	assert_int_equal(rd(VPCI_DF, 4), 1);		/* VERSION_1 is bit 32 */
	wr(VPCI_DFSELECT, 2, 4);
	assert_int_equal(rd(VPCI_DF, 4), 0);
	wr(VPCI_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER, 1);
	/* Without VERSION_1, or with a feature not offered: no FEATURES_OK. */
	wr(VPCI_GFSELECT, 0, 4);
	wr(VPCI_GF, 0, 4);
	wr(VPCI_STATUS, 0x0b, 1);
	assert_int_equal(rd(VPCI_STATUS, 1) & VIRTIO_CONFIG_S_FEATURES_OK, 0);
	wr(VPCI_GFSELECT, 1, 4);
	wr(VPCI_GF, 1 | 1 << 20, 4);
	wr(VPCI_STATUS, 0x0b, 1);
	assert_int_equal(rd(VPCI_STATUS, 1) & VIRTIO_CONFIG_S_FEATURES_OK, 0);
	wr(VPCI_GF, 1, 4);
	wr(VPCI_STATUS, 0x0b, 1);
	assert_int_equal(rd(VPCI_STATUS, 1), 0x0b);
	assert_int_equal(rng->features, 1ULL << VIRTIO_F_VERSION_1);
	/* Frozen after FEATURES_OK. */
	wr(VPCI_GFSELECT, 0, 4);
	wr(VPCI_GF, 1 << 28, 4);
	assert_int_equal(rd(VPCI_GF, 4), 0);
	/* Reset clears status and features. */
	wr(VPCI_STATUS, 0, 1);
	assert_int_equal(rd(VPCI_STATUS, 1), 0);
	assert_int_equal(rng->features, 0);
}

static void test_queue_registers(void **state)
{
	wr(VPCI_STATUS, 0, 1);
	assert_int_equal(rd(VPCI_Q_SIZE, 2), 256);
	assert_int_equal(rd(VPCI_Q_NOFF, 2), 0);
	/* Vectors past the table read back as NO_VECTOR. */
	wr(VPCI_Q_MSIX, 1, 2);
	assert_int_equal(rd(VPCI_Q_MSIX, 2), 1);
	wr(VPCI_Q_MSIX, 2, 2);
	assert_int_equal(rd(VPCI_Q_MSIX, 2), 0xffff);
	wr(VPCI_MSIX_CONFIG, 0, 2);
	assert_int_equal(rd(VPCI_MSIX_CONFIG, 2), 0);
	wr(VPCI_MSIX_CONFIG, 0x7fff, 2);
	assert_int_equal(rd(VPCI_MSIX_CONFIG, 2), 0xffff);
	/* A queue that does not exist reads as size 0 and ignores writes. */
	wr(VPCI_Q_SELECT, 7, 2);
	assert_int_equal(rd(VPCI_Q_SIZE, 2), 0);
	wr(VPCI_Q_DESC, 0x1000, 8);
	wr(VPCI_Q_ENABLE, 1, 2);
	assert_int_equal(rd(VPCI_Q_ENABLE, 2), 0);
	wr(VPCI_Q_SELECT, 0xffff, 2);
	assert_int_equal(rd(VPCI_Q_DESC, 8), 0);
	wr(VPCI_Q_SELECT, 0, 2);
	/* 64-bit addresses as two 32-bit halves. */
	wr(VPCI_Q_DESC, 0x2000, 4);
	wr(VPCI_Q_DESC + 4, 0, 4);
	wr(VPCI_Q_AVAIL, 0x3000, 8);
	wr(VPCI_Q_USED, 0x4000, 8);
	wr(VPCI_Q_SIZE, 64, 2);
	assert_int_equal(rd(VPCI_Q_DESC, 8), 0x2000);
	assert_int_equal(rd(VPCI_Q_SIZE, 2), 64);
	/* Enabling before FEATURES_OK breaks the device: NEEDS_RESET. */
	wr(VPCI_Q_ENABLE, 1, 2);
	assert_int_equal(rd(VPCI_Q_ENABLE, 2), 0);
	assert_true(rd(VPCI_STATUS, 1) & VIRTIO_CONFIG_S_NEEDS_RESET);
	wr(VPCI_STATUS, 0, 1);
	assert_int_equal(rd(VPCI_STATUS, 1), 0);
	assert_int_equal(rd(VPCI_Q_SIZE, 2), 256);
	assert_int_equal(rd(VPCI_Q_DESC, 8), 0);
	assert_int_equal(rd(VPCI_Q_MSIX, 2), 0xffff);
}

static void negotiate(void)
{
	wr(VPCI_STATUS, 0, 1);
	wr(VPCI_STATUS, VIRTIO_CONFIG_S_ACKNOWLEDGE | VIRTIO_CONFIG_S_DRIVER, 1);
	wr(VPCI_GFSELECT, 1, 4);
	wr(VPCI_GF, 1, 4);
	wr(VPCI_STATUS, 0x0b, 1);
}

static void test_queue_enable(void **state)
{
	negotiate();
	/* A ring outside guest RAM: refused, NEEDS_RESET. */
	wr(VPCI_Q_DESC, RAM - 0x100, 8);
	wr(VPCI_Q_AVAIL, 0x3000, 8);
	wr(VPCI_Q_USED, 0x4000, 8);
	wr(VPCI_Q_ENABLE, 1, 2);
	assert_int_equal(rd(VPCI_Q_ENABLE, 2), 0);
	assert_true(rd(VPCI_STATUS, 1) & VIRTIO_CONFIG_S_NEEDS_RESET);
	/* A size over the maximum, or not a power of two: refused. */
	negotiate();
	wr(VPCI_Q_DESC, 0x2000, 8);
	wr(VPCI_Q_AVAIL, 0x3000, 8);
	wr(VPCI_Q_USED, 0x4000, 8);
	wr(VPCI_Q_SIZE, 512, 2);
	wr(VPCI_Q_ENABLE, 1, 2);
	assert_int_equal(rd(VPCI_Q_ENABLE, 2), 0);
	negotiate();
	wr(VPCI_Q_DESC, 0x2000, 8);
	wr(VPCI_Q_AVAIL, 0x3000, 8);
	wr(VPCI_Q_USED, 0x4000, 8);
	wr(VPCI_Q_SIZE, 48, 2);
	wr(VPCI_Q_ENABLE, 1, 2);
	assert_int_equal(rd(VPCI_Q_ENABLE, 2), 0);
	/* A good one; then its fields are frozen. */
	negotiate();
	wr(VPCI_Q_DESC, 0x2000, 8);
	wr(VPCI_Q_AVAIL, 0x3000, 8);
	wr(VPCI_Q_USED, 0x4000, 8);
	wr(VPCI_Q_SIZE, 64, 2);
	wr(VPCI_Q_ENABLE, 1, 2);
	assert_int_equal(rd(VPCI_Q_ENABLE, 2), 1);
	assert_int_equal(rd(VPCI_STATUS, 1), 0x0b);
	wr(VPCI_Q_DESC, 0x8000, 8);
	wr(VPCI_Q_SIZE, 8, 2);
	assert_int_equal(rd(VPCI_Q_DESC, 8), 0x2000);
	assert_int_equal(rd(VPCI_Q_SIZE, 2), 64);
	wr(VPCI_STATUS, 0x0f, 1);
	assert_int_equal(rd(VPCI_STATUS, 1), 0x0f);
	assert_true(virtio_dev_queue_live(rng, 0));
	wr(VPCI_STATUS, 0, 1);
	assert_false(virtio_dev_queue_live(rng, 0));
}

static void test_msix_and_isr(void **state)
{
	unsigned r = fh.msi_routes;

	/* Table entry 1: address, data, then unmask. */
	wr(VPCI_MSIX_OFF + 16, 0xfee00000, 4);
	wr(VPCI_MSIX_OFF + 24, 0x41, 4);
	assert_true(fh.msi_routes > r);
	assert_int_equal(fh.msi_route_devid, 1 << 3);	/* requester ID of 00:01.0 */
	assert_int_equal(rd(VPCI_MSIX_OFF + 28, 4), 1);		/* masked at reset */
	wr(VPCI_MSIX_OFF + 28, 0xfffffffe, 4);
	assert_int_equal(rd(VPCI_MSIX_OFF + 28, 4), 0);		/* reserved bits */
	/* Outside the table and PBA: reads 0, writes dropped. */
	assert_int_equal(rd(VPCI_MSIX_OFF + 32, 4), 0);
	assert_int_equal(rd(VPCI_PBA_OFF, 8), 0);
	assert_int_equal(rd(0x7ff8, 8), 0);
	wr(0x7ff8, ~0ULL, 8);
	/* A device config read on a device without config: zeros. */
	assert_int_equal(rd(VPCI_DEVCFG_OFF, 4), 0);
	/* ISR reads clear it. */
	rng->tops->signal_config(rng);
	assert_int_equal(rd(VPCI_ISR_OFF, 1), 2);
	assert_int_equal(rd(VPCI_ISR_OFF, 1), 0);
	/* The VIRTIO_PCI_CAP_PCI_CFG window reaches the same registers. */
	{
		unsigned off = cfg_rd(1, PCI_CAPABILITY_LIST, 1);

		while (off && !(cfg_rd(1, off, 1) == 9 && cfg_rd(1, off + 3, 1) == 5))
			off = cfg_rd(1, off + 1, 1);
		assert_true(off);
		cfg_wr(1, off + 4, 0, 1);
		cfg_wr(1, off + 8, VPCI_NUM_QUEUES, 4);
		cfg_wr(1, off + 12, 2, 4);
		assert_int_equal(cfg_rd(1, off + 16, 2), 1);
		/* An offset past the BAR reads nothing. */
		cfg_wr(1, off + 8, VPCI_BAR_SIZE - 1, 4);
		assert_int_equal(cfg_rd(1, off + 16, 4), 0);
	}
}

/* A device goes to the slot it is given (pci_slot), not the first free
 * one; a taken slot, the host bridge's and one past the bus are refused. */
static void test_slot(void **state)
{
	static struct virtio_dev *second;
	struct pci_dev d;

	second = virtio_rng_new();
	assert_non_null(second);
	assert_int_equal(virtio_pci_attach(&fh.host, &bus, 5, second), 0);
	assert_int_equal(cfg_rd(5, PCI_VENDOR_ID, 2), 0x1af4);
	assert_int_equal(cfg_rd(5, PCI_DEVICE_ID, 2), 0x1044);
	for (unsigned s = 2; s < 5; s++)
		assert_int_equal(cfg_rd(s, PCI_VENDOR_ID, 2), 0xffff);
	memset(&d, 0, sizeof(d));
	assert_int_equal(pci_bus_add(&bus, &d, 5), -EBUSY);
	assert_int_equal(pci_bus_add(&bus, &d, 1), -EBUSY);
	assert_int_equal(pci_bus_add(&bus, &d, 0), -EINVAL);
	assert_int_equal(pci_bus_add(&bus, &d, PCI_MAX_SLOTS), -EINVAL);
	assert_int_equal(pci_bus_add(&bus, &d, 31), 0);
	assert_int_equal(d.slot, 31);
	bus.dev[31] = NULL;	/* d is on the stack */
}

/* arm64's bus: no host bridge, so a device may take 00:00.0, reached
 * through an ECAM window (two buses' worth here, to see bus 1 absent);
 * MSI routes name each function's requester ID for the ITS. */
static void test_ecam_bare_bus(void **state)
{
	struct fake_host h;
	struct pci_bus b;
	struct io_bus ecam;
	struct virtio_dev *d0, *d5;
	struct pci_dev d;
	uint64_t v;
	const uint64_t base = 0x3f000000;

#define ECAM_RD(off, len) (v = 0, assert_true(bus_access(&ecam, base + (off), \
						(uint8_t *)&v, (len), false)), v)
	assert_int_equal(fake_host_init(&h, RAM), 0);
	pci_bus_init(&b, WIN, 0x10000000, false);
	bus_init(&ecam, "ecam");
	assert_int_equal(bus_register(&ecam, base, 2 * PCI_ECAM_BUS_SIZE, pci_ecam_io, &b,
				      "pci-ecam"), 0);
	d0 = virtio_rng_new();
	d5 = virtio_rng_new();
	assert_non_null(d0);
	assert_non_null(d5);
	assert_int_equal(virtio_pci_attach(&h.host, &b, 0, d0), 0);
	assert_int_equal(virtio_pci_attach(&h.host, &b, 5, d5), 0);
	memset(&d, 0, sizeof(d));
	assert_int_equal(pci_bus_add(&b, &d, 0), -EBUSY);

	assert_int_equal(ECAM_RD(PCI_VENDOR_ID, 4), 0x10441af4);
	assert_int_equal(ECAM_RD(5 << 15 | PCI_DEVICE_ID, 2), 0x1044);
	assert_int_equal(ECAM_RD(5 << 15 | PCI_CLASS_DEVICE, 2), 0xff00);
	/* Absent: other slots, function 1, bus 1, the extended space. */
	assert_int_equal(ECAM_RD(1 << 15, 4), 0xffffffff);
	assert_int_equal(ECAM_RD(1 << 12, 4), 0xffffffff);
	assert_int_equal(ECAM_RD(PCI_ECAM_BUS_SIZE, 4), 0xffffffff);
	assert_int_equal(ECAM_RD(5 << 15 | 0x100, 4), 0xffffffff);
	/* Misaligned and 8-byte accesses: all ones, no effect. */
	assert_int_equal(ECAM_RD(PCI_VENDOR_ID + 1, 2), 0xffff);
	assert_int_equal(ECAM_RD(PCI_VENDOR_ID, 8), ~0ULL);
	/* Writes go through the write mask: the command register takes memory
	 * decoding, the vendor ID stays. */
	v = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	assert_true(bus_access(&ecam, base + (5 << 15) + PCI_COMMAND, (uint8_t *)&v, 2, true));
	v = 0;
	assert_true(bus_access(&ecam, base + (5 << 15) + PCI_VENDOR_ID, (uint8_t *)&v, 2, true));
	assert_int_equal(ECAM_RD(5 << 15 | PCI_COMMAND, 2),
			 PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER);
	assert_int_equal(ECAM_RD(5 << 15 | PCI_VENDOR_ID, 2), 0x1af4);
	/* 00:05.0's MSI-X entry 0 (its BAR is the second one placed): the
	 * route carries requester ID 0x28. */
	v = 0x08090040;
	assert_true(bus_access(&h.mmio, WIN + VPCI_BAR_SIZE + VPCI_MSIX_OFF, (uint8_t *)&v, 4,
			       true));
	assert_int_equal(h.msi_route_devid, 5 << 3);
#undef ECAM_RD
	fake_host_destroy(&h);
	pthread_mutex_destroy(&b.lock);
	virtio_rng_free(d0);
	virtio_rng_free(d5);
	(void)state;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_mechanism),
		cmocka_unit_test(test_slot),
		cmocka_unit_test(test_bar_sizing),
		cmocka_unit_test(test_caps),
		cmocka_unit_test(test_memory_decoding),
		cmocka_unit_test(test_features),
		cmocka_unit_test(test_queue_registers),
		cmocka_unit_test(test_queue_enable),
		cmocka_unit_test(test_msix_and_isr),
		cmocka_unit_test(test_ecam_bare_bus),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
