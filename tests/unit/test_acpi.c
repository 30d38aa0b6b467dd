/* Unit tests for arch/x86_64/acpi.c: the tables are parsed back out of guest
 * memory by byte offset, as a kernel would, independently of the structs the
 * builder uses: RSDP -> XSDT -> FADT/MADT -> DSDT, every checksum, the FADT
 * fields Linux needs for power-off and reset, the MADT entries per CPU. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <string.h>

#include <cmocka.h>

#include "acpi.h"
#include "layout.h"
#include "memory.h"

#define MiB (1024ULL * 1024)

static struct guest_mem mem;

static int setup(void **state)
{
	return gm_init(&mem, 0, 256 * MiB, X86_MMIO_HOLE_START,
			      X86_MMIO_HOLE_END) < 0 ? -1 : 0;
}

static int teardown(void **state)
{
	gm_destroy(&mem);
	return 0;
}

static uint8_t u8at(uint64_t gpa)
{
	uint8_t v;

	assert_int_equal(gm_read(&mem, gpa, &v, 1), 0);
	return v;
}

static uint16_t u16at(uint64_t gpa)
{
	uint16_t v;

	assert_int_equal(gm_read(&mem, gpa, &v, 2), 0);
	return v;
}

static uint32_t u32at(uint64_t gpa)
{
	uint32_t v;

	assert_int_equal(gm_read(&mem, gpa, &v, 4), 0);
	return v;
}

static uint64_t u64at(uint64_t gpa)
{
	uint64_t v;

	assert_int_equal(gm_read(&mem, gpa, &v, 8), 0);
	return v;
}

/* A system description table at `gpa`: signature, sane length inside the
 * ACPI area, zero byte sum. Returns its length. */
static uint32_t check_table(uint64_t gpa, const char *sig)
{
	uint32_t len = u32at(gpa + 4);
	const uint8_t *p;

	assert_true(gpa >= X86_ACPI_START);
	assert_true(len >= 36);
	assert_true(len < 0x10000);
	assert_true(gpa + len <= X86_ACPI_END);
	p = gm_ptr(&mem, gpa, len);
	assert_non_null(p);
	assert_memory_equal(p, sig, 4);
	assert_int_equal(acpi_checksum(p, len), 0);
	/* An independent sum, in case acpi_checksum is itself wrong. */
	{
		unsigned sum = 0;

		for (uint32_t i = 0; i < len; i++)
			sum += p[i];
		assert_int_equal(sum & 0xff, 0);
	}
	return len;
}

struct tables {
	uint64_t rsdp, xsdt, fadt, madt, dsdt;
};

static void find_tables(unsigned ncpus, struct tables *t)
{
	const uint8_t *r;
	uint32_t xlen;

	memset(t, 0, sizeof(*t));
	/* Stale garbage in the area must not matter. */
	memset(gm_ptr(&mem, X86_ACPI_START, X86_ACPI_END - X86_ACPI_START), 0x5a,
	       X86_ACPI_END - X86_ACPI_START);
	assert_int_equal(acpi_build(&mem, ncpus, &t->rsdp), 0);

	/* RSDP: 16-byte aligned where the kernel's BIOS scan finds it. */
	assert_true(t->rsdp >= X86_ACPI_START && t->rsdp < X86_ACPI_END);
	assert_int_equal(t->rsdp & 15, 0);
	r = gm_ptr(&mem, t->rsdp, 36);
	assert_non_null(r);
	assert_memory_equal(r, "RSD PTR ", 8);
	assert_int_equal(acpi_checksum(r, 20), 0);
	assert_int_equal(acpi_checksum(r, 36), 0);
	assert_int_equal(r[15], 2);			/* revision: ACPI 2+ */
	assert_int_equal(u32at(t->rsdp + 20), 36);	/* length */
	t->xsdt = u64at(t->rsdp + 24);

	xlen = check_table(t->xsdt, "XSDT");
	assert_int_equal((xlen - 36) % 8, 0);
	for (uint32_t off = 36; off < xlen; off += 8) {
		uint64_t a = u64at(t->xsdt + off);
		char sig[5] = { 0 };

		assert_int_equal(gm_read(&mem, a, sig, 4), 0);
		if (!strcmp(sig, "FACP")) {
			assert_int_equal(t->fadt, 0);
			t->fadt = a;
		} else if (!strcmp(sig, "APIC")) {
			assert_int_equal(t->madt, 0);
			t->madt = a;
		} else {
			print_error("unexpected table %s in XSDT\n", sig);
			fail();
		}
	}
	assert_int_not_equal(t->fadt, 0);
	assert_int_not_equal(t->madt, 0);
	check_table(t->fadt, "FACP");
	check_table(t->madt, "APIC");
	t->dsdt = u64at(t->fadt + 140);		/* X_DSDT */
	check_table(t->dsdt, "DSDT");
}

static void check_gas_io(uint64_t gpa, uint16_t port)
{
	assert_int_equal(u8at(gpa), 1);		/* system I/O */
	assert_int_equal(u8at(gpa + 1), 8);	/* 8 bits */
	assert_int_equal(u8at(gpa + 2), 0);
	assert_int_equal(u64at(gpa + 4), port);
}

static void test_rsdp_xsdt(void **state)
{
	struct tables t;

	find_tables(1, &t);
	assert_int_equal(t.rsdp, X86_ACPI_START);
	assert_int_equal(u32at(t.xsdt + 4), 36 + 2 * 8);
	/* The tables do not overlap the RSDP or each other. */
	assert_true(t.dsdt >= t.rsdp + 36);
	{
		uint64_t a[4] = { t.dsdt, t.fadt, t.madt, t.xsdt };

		for (int i = 0; i < 4; i++)
			for (int j = 0; j < 4; j++)
				if (i != j && a[i] < a[j])
					assert_true(a[i] + u32at(a[i] + 4) <= a[j]);
	}
}

static void test_fadt(void **state)
{
	struct tables t;
	uint64_t f;
	uint32_t flags;

	find_tables(1, &t);
	f = t.fadt;
	assert_int_equal(u8at(f + 8), 6);		/* revision */
	assert_int_equal(u32at(f + 4), 276);		/* length */
	flags = u32at(f + 112);
	assert_true(flags & (1u << 20));		/* HW_REDUCED_ACPI */
	assert_true(flags & (1u << 10));		/* RESET_REG_SUP */
	check_gas_io(f + 116, X86_PM_RESET);		/* RESET_REG */
	assert_int_equal(u64at(f + 120), 0x602);
	assert_int_equal(u8at(f + 128), 0x0f);		/* RESET_VALUE */
	check_gas_io(f + 244, X86_PM_SLEEP_CONTROL);	/* SLEEP_CONTROL_REG */
	assert_int_equal(u64at(f + 248), 0x600);
	check_gas_io(f + 256, X86_PM_SLEEP_STATUS);	/* SLEEP_STATUS_REG */
	/* 32-bit DSDT agrees with X_DSDT. */
	assert_int_equal(u32at(f + 40), t.dsdt);
	/* Hardware-reduced: no SCI, no PM1 blocks, no PM timer. */
	assert_int_equal(u16at(f + 46), 0);
	assert_int_equal(u32at(f + 64), 0);		/* PM1a_CNT_BLK */
	assert_int_equal(u32at(f + 76), 0);		/* PM_TMR_BLK */
	/* IAPC_BOOT_ARCH: 8042 present (bit 1). */
	assert_true(u16at(f + 109) & 2);
}

/* Decodes an AML PkgLength at p; returns its value, *nbytes its size. */
static size_t pkglen(const uint8_t *p, size_t *nbytes)
{
	unsigned extra = p[0] >> 6;
	size_t v;

	if (extra == 0) {
		*nbytes = 1;
		return p[0] & 0x3f;
	}
	v = p[0] & 0x0f;
	for (unsigned i = 0; i < extra; i++)
		v |= (size_t)p[1 + i] << (4 + 8 * i);
	*nbytes = 1 + extra;
	return v;
}

/* Checks one Device (NAME) { _HID "hid", _UID, _CRS { crs } } at *pp and
 * advances past it. */
static void check_device(const uint8_t **pp, const char *name, const char *hid,
			 const uint8_t *crs, size_t crs_len)
{
	const uint8_t *d = *pp, *end, *b;
	size_t nb, len, hl = strlen(hid);

	assert_int_equal(d[0], 0x5b);			/* ExtOpPrefix */
	assert_int_equal(d[1], 0x82);			/* DeviceOp */
	len = pkglen(d + 2, &nb);
	end = d + 2 + len;
	assert_memory_equal(d + 2 + nb, name, 4);
	b = d + 2 + nb + 4;
	assert_memory_equal(b, "\x08_HID\x0d", 6);
	assert_memory_equal(b + 6, hid, hl + 1);
	b += 6 + hl + 1;
	assert_memory_equal(b, "\x08_UID\x0a", 6);
	b += 7;
	assert_memory_equal(b, "\x08_CRS\x11", 6);
	len = pkglen(b + 6, &nb);
	assert_ptr_equal(b + 6 + len, end);		/* the buffer ends the device */
	b += 6 + nb;
	assert_int_equal(b[0], 0x0a);			/* BytePrefix */
	assert_int_equal(b[1], crs_len + 2);		/* + end tag */
	assert_memory_equal(b + 2, crs, crs_len);
	assert_memory_equal(b + 2 + crs_len, "\x79\x00", 2);
	assert_ptr_equal(b + 2 + crs_len + 2, end);
	*pp = end;
}

static void test_dsdt(void **state)
{
	static const uint8_t com1[] = { 0x47, 0x01, 0xf8, 0x03, 0xf8, 0x03, 0x01, 0x08,
					0x22, 0x10, 0x00 };	/* IRQ 4 */
	static const uint8_t kbd[] = { 0x47, 0x01, 0x60, 0x00, 0x60, 0x00, 0x01, 0x01,
				       0x47, 0x01, 0x64, 0x00, 0x64, 0x00, 0x01, 0x01,
				       0x22, 0x02, 0x00 };	/* IRQ 1 */
	static const uint8_t pvpanic[] = { 0x47, 0x01, 0x05, 0x05, 0x05, 0x05, 0x01, 0x01 };
	static const uint8_t pci[] = {
		/* WordBusNumber: producer, fixed 0..0, length 1 */
		0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x01, 0x00,
		/* I/O 0xcf8, 8 ports: configuration mechanism #1 */
		0x47, 0x01, 0xf8, 0x0c, 0xf8, 0x0c, 0x01, 0x08,
		/* DWordMemory 0xc0000000-0xdfffffff, read-write, non-cacheable */
		0x87, 0x17, 0x00, 0x00, 0x0c, 0x01, 0x00, 0x00, 0x00, 0x00,
		0x00, 0x00, 0x00, 0xc0, 0xff, 0xff, 0xff, 0xdf, 0x00, 0x00,
		0x00, 0x00, 0x00, 0x00, 0x00, 0x20,
	};
	struct tables t;
	uint32_t len;
	const uint8_t *p, *a, *scope_end, *s5;
	size_t nb;

	(void)state;
	find_tables(1, &t);
	len = u32at(t.dsdt + 4);
	assert_true(len > 36);
	p = gm_ptr(&mem, t.dsdt, len);

	/* Scope (\_SB) holds exactly the four devices, in order. */
	a = p + 36;
	assert_int_equal(a[0], 0x10);			/* ScopeOp */
	scope_end = a + 1 + pkglen(a + 1, &nb);
	assert_memory_equal(a + 1 + nb, "\\_SB_", 5);
	a += 1 + nb + 5;
	check_device(&a, "COM1", "PNP0501", com1, sizeof(com1));
	check_device(&a, "PS2K", "PNP0303", kbd, sizeof(kbd));
	check_device(&a, "PEVT", "QEMU0001", pvpanic, sizeof(pvpanic));
	check_device(&a, "PCI0", "PNP0A03", pci, sizeof(pci));
	assert_ptr_equal(a, scope_end);

	/* Name (_S5, Package (2) { SLP_TYP, 0 }) ends the table. */
	s5 = scope_end;
	assert_memory_equal(s5, "\x08_S5_", 5);
	assert_int_equal(s5[5], 0x12);			/* PackageOp */
	assert_int_equal(s5[6], 5);			/* PkgLength to the end */
	assert_int_equal(s5[7], 2);			/* NumElements */
	assert_int_equal(s5[8], 0x0a);			/* BytePrefix */
	assert_int_equal(s5[9], ACPI_S5_SLP_TYP);
	assert_int_equal(s5[10], 0x00);			/* ZeroOp */
	assert_ptr_equal(s5 + 11, p + len);
}

static void check_madt(unsigned ncpus)
{
	struct tables t;
	uint32_t len;
	uint64_t m;
	unsigned cpus = 0, ioapics = 0, isos = 0;
	uint8_t ioapic_id = 0;

	find_tables(ncpus, &t);
	m = t.madt;
	len = u32at(m + 4);
	assert_int_equal(u32at(m + 36), X86_LAPIC_ADDR);	/* local APIC */
	for (uint64_t off = 44; off < len;) {
		uint8_t type = u8at(m + off), elen = u8at(m + off + 1);

		assert_true(elen >= 2);
		assert_true(off + elen <= len);
		switch (type) {
		case 0:	/* processor local APIC */
			assert_int_equal(elen, 8);
			assert_int_equal(u8at(m + off + 2), cpus);	/* UID */
			assert_int_equal(u8at(m + off + 3), cpus);	/* APIC ID */
			assert_true(u32at(m + off + 4) & 1);		/* enabled */
			cpus++;
			break;
		case 1:	/* IOAPIC */
			assert_int_equal(elen, 12);
			ioapic_id = u8at(m + off + 2);
			assert_int_equal(u32at(m + off + 4), 0xfec00000);
			assert_int_equal(u32at(m + off + 8), 0);	/* GSI base */
			ioapics++;
			break;
		case 2:	/* interrupt source override */
			assert_int_equal(elen, 10);
			assert_int_equal(u8at(m + off + 2), 0);		/* ISA */
			assert_int_equal(u8at(m + off + 3), 0);		/* IRQ0 */
			assert_int_equal(u32at(m + off + 4), 2);	/* GSI2 */
			isos++;
			break;
		case 4:	/* local APIC NMI */
			assert_int_equal(elen, 6);
			break;
		default:
			print_error("unexpected MADT entry type %u\n", type);
			fail();
		}
		off += elen;
	}
	assert_int_equal(cpus, ncpus);
	assert_int_equal(ioapics, 1);
	assert_int_equal(isos, 1);
	/* The IOAPIC's ID must not collide with a CPU's APIC ID. */
	assert_true(ioapic_id >= ncpus);
}

static void test_madt_1cpu(void **state)
{
	check_madt(1);
}

static void test_madt_4cpu(void **state)
{
	check_madt(4);
}

static void test_madt_many(void **state)
{
	check_madt(64);
}

static void test_bad_ncpus(void **state)
{
	uint64_t rsdp = 0x1234;

	assert_int_equal(acpi_build(&mem, 0, &rsdp), -EINVAL);
	assert_int_equal(acpi_build(&mem, 256, &rsdp), -EINVAL);
	assert_int_equal(rsdp, 0x1234);
}

static void test_no_room(void **state)
{
	struct guest_mem small;
	uint64_t rsdp = 0;

	/* 512 KiB of RAM ends below the ACPI area. */
	assert_int_equal(gm_init(&small, 0, 512 * 1024, X86_MMIO_HOLE_START,
					X86_MMIO_HOLE_END), 0);
	assert_int_equal(acpi_build(&small, 1, &rsdp), -ENOSPC);
	gm_destroy(&small);
}

static void test_checksum(void **state)
{
	uint8_t b[5] = { 1, 2, 3, 4, 0 };

	assert_int_equal(acpi_checksum(b, 4), 0x100 - 10);
	b[4] = acpi_checksum(b, 4);
	assert_int_equal(acpi_checksum(b, 5), 0);
	assert_int_equal(acpi_checksum(b, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_checksum),
		cmocka_unit_test(test_rsdp_xsdt),
		cmocka_unit_test(test_fadt),
		cmocka_unit_test(test_dsdt),
		cmocka_unit_test(test_madt_1cpu),
		cmocka_unit_test(test_madt_4cpu),
		cmocka_unit_test(test_madt_many),
		cmocka_unit_test(test_bad_ncpus),
		cmocka_unit_test(test_no_room),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
