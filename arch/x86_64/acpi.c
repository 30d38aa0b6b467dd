/* ACPI tables for a hardware-reduced platform (ACPI 6.x, FADT flag
 * HW_REDUCED_ACPI): no PM timer, no SCI, no fixed hardware; power-off via
 * the sleep control register and reset via the reset register. */
#include "acpi.h"

#include <errno.h>
#include <string.h>

#include "layout.h"

struct __attribute__((packed)) acpi_header {
	char signature[4];
	uint32_t length;
	uint8_t revision;
	uint8_t checksum;
	char oem_id[6];
	char oem_table_id[8];
	uint32_t oem_revision;
	char creator_id[4];
	uint32_t creator_revision;
};

struct __attribute__((packed)) acpi_gas {
	uint8_t space_id;	/* 1 = system I/O */
	uint8_t bit_width;
	uint8_t bit_offset;
	uint8_t access_size;	/* 1 = byte */
	uint64_t address;
};

struct __attribute__((packed)) acpi_rsdp {
	char signature[8];
	uint8_t checksum;
	char oem_id[6];
	uint8_t revision;
	uint32_t rsdt_address;
	uint32_t length;
	uint64_t xsdt_address;
	uint8_t ext_checksum;
	uint8_t reserved[3];
};

struct __attribute__((packed)) acpi_fadt {
	struct acpi_header h;
	uint32_t firmware_ctrl;
	uint32_t dsdt;
	uint8_t reserved0;
	uint8_t pm_profile;
	uint16_t sci_int;
	uint32_t smi_cmd;
	uint8_t acpi_enable, acpi_disable, s4bios_req, pstate_cnt;
	uint32_t pm1a_evt, pm1b_evt, pm1a_cnt, pm1b_cnt, pm2_cnt, pm_tmr;
	uint32_t gpe0, gpe1;
	uint8_t pm1_evt_len, pm1_cnt_len, pm2_cnt_len, pm_tmr_len;
	uint8_t gpe0_len, gpe1_len, gpe1_base, cst_cnt;
	uint16_t p_lvl2_lat, p_lvl3_lat, flush_size, flush_stride;
	uint8_t duty_offset, duty_width, day_alrm, mon_alrm, century;
	uint16_t iapc_boot_arch;
	uint8_t reserved1;
	uint32_t flags;
	struct acpi_gas reset_reg;
	uint8_t reset_value;
	uint16_t arm_boot_arch;
	uint8_t minor_version;
	uint64_t x_firmware_ctrl;
	uint64_t x_dsdt;
	struct acpi_gas x_pm1a_evt, x_pm1b_evt, x_pm1a_cnt, x_pm1b_cnt;
	struct acpi_gas x_pm2_cnt, x_pm_tmr, x_gpe0, x_gpe1;
	struct acpi_gas sleep_control, sleep_status;
	uint64_t hypervisor_id;
};

_Static_assert(sizeof(struct acpi_fadt) == 276, "FADT is 276 bytes in ACPI 6");
_Static_assert(sizeof(struct acpi_rsdp) == 36, "RSDP is 36 bytes");

#define FADT_F_RESET_REG_SUP	(1u << 10)
#define FADT_F_PWR_BUTTON	(1u << 4)	/* no fixed power button */
#define FADT_F_SLP_BUTTON	(1u << 5)
#define FADT_F_HW_REDUCED	(1u << 20)
#define BOOT_ARCH_8042		(1u << 1)
#define BOOT_ARCH_NO_VGA	(1u << 2)
#define BOOT_ARCH_NO_CMOS_RTC	(1u << 5)

uint8_t acpi_checksum(const void *p, size_t len)
{
	const uint8_t *b = p;
	uint8_t sum = 0;

	for (size_t i = 0; i < len; i++)
		sum = (uint8_t)(sum + b[i]);
	return (uint8_t)(0 - sum);
}

static void header(struct acpi_header *h, const char *sig, uint32_t len,
		   uint8_t rev)
{
	memcpy(h->signature, sig, 4);
	h->length = len;
	h->revision = rev;
	memcpy(h->oem_id, "VMMVMM", 6);
	memcpy(h->oem_table_id, "VMMTABLE", 8);
	h->oem_revision = 1;
	memcpy(h->creator_id, "VMM ", 4);
	h->creator_revision = 1;
}

/* Emits an AML PkgLength for a package whose contents (after the length
 * bytes) are `len` bytes; returns how many bytes it wrote. */
static size_t aml_pkglen(uint8_t *out, size_t len)
{
	if (len + 1 < 0x40) {
		out[0] = (uint8_t)(len + 1);
		return 1;
	}
	len += 2;
	out[0] = (uint8_t)(0x40 | (len & 0xf));
	out[1] = (uint8_t)(len >> 4);
	return 2;
}

/* Device (NAME) { Name (_HID, "hid") Name (_UID, uid) Name (_CRS, ResourceTemplate () { crs }) } */
static size_t aml_device(uint8_t *out, const char name[4], const char *hid,
			 uint8_t uid, const uint8_t *crs, size_t crs_len)
{
	uint8_t body[128];
	size_t b = 0, n = 0, hl = strlen(hid);

	body[b++] = 0x08;		/* NameOp */
	memcpy(body + b, "_HID", 4);
	b += 4;
	body[b++] = 0x0d;		/* StringPrefix */
	memcpy(body + b, hid, hl + 1);
	b += hl + 1;
	body[b++] = 0x08;
	memcpy(body + b, "_UID", 4);
	b += 4;
	body[b++] = 0x0a;		/* BytePrefix */
	body[b++] = uid;
	body[b++] = 0x08;
	memcpy(body + b, "_CRS", 4);
	b += 4;
	body[b++] = 0x11;		/* BufferOp */
	b += aml_pkglen(body + b, 2 + crs_len + 2);
	body[b++] = 0x0a;		/* BufferSize as a byte */
	body[b++] = (uint8_t)(crs_len + 2);
	memcpy(body + b, crs, crs_len);
	b += crs_len;
	body[b++] = 0x79;		/* End tag, checksum 0 */
	body[b++] = 0x00;

	out[n++] = 0x5b;		/* ExtOpPrefix */
	out[n++] = 0x82;		/* DeviceOp */
	n += aml_pkglen(out + n, 4 + b);
	memcpy(out + n, name, 4);
	n += 4;
	memcpy(out + n, body, b);
	return n + b;
}

#define IO_DESC(port, len) 0x47, 0x01, (port) & 0xff, (port) >> 8, \
			   (port) & 0xff, (port) >> 8, 0x01, (len)
#define IRQ_DESC(irq) 0x22, (1 << (irq)) & 0xff, (1 << (irq)) >> 8
#define LE32(v) (uint8_t)(v), (uint8_t)((v) >> 8), (uint8_t)((v) >> 16), \
		(uint8_t)((v) >> 24)
/* WordBusNumber (ResourceProducer, MinFixed, MaxFixed, PosDecode, 0, lo, hi, 0, n) */
#define BUS_DESC(lo, hi) 0x88, 0x0d, 0x00, 0x02, 0x0c, 0x00, 0x00, 0x00, \
			 (lo), 0x00, (hi), 0x00, 0x00, 0x00, (hi) - (lo) + 1, 0x00
/* DWordMemory (ResourceProducer, PosDecode, MinFixed, MaxFixed, NonCacheable,
 * ReadWrite, 0, base, base + len - 1, 0, len) */
#define MEM32_DESC(base, len) 0x87, 0x17, 0x00, 0x00, 0x0c, 0x01, LE32(0), \
			      LE32(base), LE32((base) + (len) - 1), LE32(0), LE32(len)

/* The DSDT's AML:
 *   Scope (\_SB) {
 *     Device (COM1) { PNP0501, I/O 0x3f8-0x3ff, IRQ 4 }
 *     Device (PS2K) { PNP0303, I/O 0x60 and 0x64, IRQ 1 }
 *     Device (PEVT) { QEMU0001 (pvpanic), I/O 0x505 }
 *     Device (PCI0) { PNP0A03, bus 0, I/O 0xcf8-0xcff, the PCI MMIO window }
 *   }
 *   Name (_S5, Package () { 5, 0 })
 * The legacy devices must be declared: on a hardware-reduced platform Linux
 * has no legacy PIC and maps ISA interrupts only for devices ACPI names.
 * Likewise PCI: with ACPI, Linux scans only the root bridges the DSDT
 * declares, and takes their windows from _CRS. Devices use MSI-X only, so
 * there is no _PRT. */
static size_t build_aml(uint8_t *out)
{
	static const uint8_t com1[] = { IO_DESC(X86_PORT_COM1, 8),
					IRQ_DESC(X86_IRQ_COM1) };
	static const uint8_t kbd[] = { IO_DESC(0x60, 1), IO_DESC(0x64, 1),
				       IRQ_DESC(X86_IRQ_KBD) };
	static const uint8_t pvpanic[] = { IO_DESC(X86_PORT_PVPANIC, 1) };
	static const uint8_t pci[] = { BUS_DESC(0, 0), IO_DESC(X86_PORT_PCI_CONFIG, 8),
				       MEM32_DESC(X86_PCI_MMIO_START, X86_PCI_MMIO_SIZE) };
	static const uint8_t s5[] = { 0x08, '_', 'S', '5', '_', 0x12, 0x05, 0x02,
				      0x0a, ACPI_S5_SLP_TYP, 0x00 };
	uint8_t devs[512];
	size_t d = 0, n = 0;

	d += aml_device(devs + d, "COM1", "PNP0501", 0, com1, sizeof(com1));
	d += aml_device(devs + d, "PS2K", "PNP0303", 0, kbd, sizeof(kbd));
	d += aml_device(devs + d, "PEVT", "QEMU0001", 0, pvpanic, sizeof(pvpanic));
	d += aml_device(devs + d, "PCI0", "PNP0A03", 0, pci, sizeof(pci));

	out[n++] = 0x10;		/* ScopeOp */
	n += aml_pkglen(out + n, 5 + d);
	memcpy(out + n, "\\_SB_", 5);
	n += 5;
	memcpy(out + n, devs, d);
	n += d;
	memcpy(out + n, s5, sizeof(s5));
	return n + sizeof(s5);
}

static struct acpi_gas io_reg(uint16_t port)
{
	return (struct acpi_gas){ .space_id = 1, .bit_width = 8,
				  .access_size = 1, .address = port };
}

int acpi_build(const struct guest_mem *m, unsigned ncpus, uint64_t *rsdp_addr)
{
	uint8_t buf[16384];	/* well below X86_ACPI_END - X86_ACPI_START */
	size_t off = 0;
	uint64_t dsdt, fadt, madt, xsdt;
	const uint64_t base = X86_ACPI_START;

	memset(buf, 0, sizeof(buf));
	if (ncpus == 0 || ncpus > 255)
		return -EINVAL;

	/* RSDP first: 16-byte aligned in the BIOS area, where a kernel that
	 * ignores boot_params.acpi_rsdp_addr still scans for it. */
	off = 64;

	/* DSDT */
	dsdt = base + off;
	{
		struct acpi_header *h = (void *)(buf + off);
		size_t aml = build_aml(buf + off + sizeof(*h));

		header(h, "DSDT", (uint32_t)(sizeof(*h) + aml), 2);
		h->checksum = acpi_checksum(h, h->length);
		off += (h->length + 15) & ~15u;
	}

	/* FADT */
	fadt = base + off;
	{
		struct acpi_fadt *f = (void *)(buf + off);

		header(&f->h, "FACP", sizeof(*f), 6);
		f->x_dsdt = dsdt;
		f->dsdt = (uint32_t)dsdt;
		f->flags = FADT_F_HW_REDUCED | FADT_F_RESET_REG_SUP |
			   FADT_F_PWR_BUTTON | FADT_F_SLP_BUTTON;
		f->iapc_boot_arch = BOOT_ARCH_8042 | BOOT_ARCH_NO_VGA |
				    BOOT_ARCH_NO_CMOS_RTC;
		f->reset_reg = io_reg(X86_PM_RESET);
		f->reset_value = X86_PM_RESET_VALUE;
		f->sleep_control = io_reg(X86_PM_SLEEP_CONTROL);
		f->sleep_status = io_reg(X86_PM_SLEEP_STATUS);
		f->minor_version = 0;
		memcpy(&f->hypervisor_id, "VMMVMM\0\0", 8);
		f->h.checksum = acpi_checksum(f, sizeof(*f));
		off += (sizeof(*f) + 15) & ~15u;
	}

	/* MADT */
	madt = base + off;
	{
		struct acpi_header *h = (void *)(buf + off);
		uint8_t *p = buf + off + sizeof(*h);
		uint32_t lapic = (uint32_t)X86_LAPIC_ADDR, flags = 1; /* PCAT_COMPAT */
		size_t n = 0;

		memcpy(p + n, &lapic, 4);
		memcpy(p + n + 4, &flags, 4);
		n += 8;
		for (unsigned i = 0; i < ncpus; i++) {
			uint8_t e[8] = { 0, 8, (uint8_t)i, (uint8_t)i, 1, 0, 0, 0 };

			memcpy(p + n, e, 8);
			n += 8;
		}
		{
			uint32_t addr = (uint32_t)X86_IOAPIC_ADDR, gsi = 0;
			uint8_t e[12] = { 1, 12, 0, 0 };

			/* The IOAPIC's ID follows the CPUs' APIC IDs. */
			e[2] = (uint8_t)ncpus;
			memcpy(e + 4, &addr, 4);
			memcpy(e + 8, &gsi, 4);
			memcpy(p + n, e, 12);
			n += 12;
		}
		{
			/* ISA IRQ 0 (PIT) arrives on GSI 2, as on every PC. */
			uint8_t e[10] = { 2, 10, 0, 0, 2, 0, 0, 0, 0, 0 };

			memcpy(p + n, e, 10);
			n += 10;
		}
		{
			/* LINT1 of every CPU is NMI. */
			uint8_t e[6] = { 4, 6, 0xff, 0, 0, 1 };

			memcpy(p + n, e, 6);
			n += 6;
		}
		header(h, "APIC", (uint32_t)(sizeof(*h) + n), 5);
		h->checksum = acpi_checksum(h, h->length);
		off += (h->length + 15) & ~15u;
	}

	/* XSDT */
	xsdt = base + off;
	{
		struct acpi_header *h = (void *)(buf + off);
		uint64_t ent[2] = { fadt, madt };

		header(h, "XSDT", sizeof(*h) + sizeof(ent), 1);
		memcpy(buf + off + sizeof(*h), ent, sizeof(ent));
		h->checksum = acpi_checksum(h, h->length);
		off += (h->length + 15) & ~15u;
	}

	{
		struct acpi_rsdp *r = (void *)buf;

		memcpy(r->signature, "RSD PTR ", 8);
		memcpy(r->oem_id, "VMMVMM", 6);
		r->revision = 2;
		r->length = sizeof(*r);
		r->xsdt_address = xsdt;
		r->checksum = acpi_checksum(r, 20);
		r->ext_checksum = acpi_checksum(r, sizeof(*r));
	}

	if (gm_write(m, base, buf, off) < 0)
		return -ENOSPC;
	*rsdp_addr = base;
	return 0;
}
