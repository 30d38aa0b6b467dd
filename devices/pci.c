/* PCI bus 0, configuration mechanism #1 and ECAM, BAR sizing; see pci.h. */
#include "pci.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

/* Red Hat's PCI vendor ID and its "QEMU PCIe host bridge" device ID: a
 * host bridge that needs no chipset quirks in Linux. */
#define HOST_VENDOR	0x1b36
#define HOST_DEVICE	0x0008
#define CLASS_HOST_BRIDGE 0x060000

static void put16(uint8_t *p, uint16_t v)
{
	v = htole16(v);
	memcpy(p, &v, 2);
}

static void put32(uint8_t *p, uint32_t v)
{
	v = htole32(v);
	memcpy(p, &v, 4);
}

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return le32toh(v);
}

void pci_dev_init(struct pci_dev *d, uint16_t vendor, uint16_t device,
		  uint32_t class_code, uint16_t subsys_vendor, uint16_t subsys_id)
{
	memset(d, 0, sizeof(*d));
	put16(d->cfg + PCI_VENDOR_ID, vendor);
	put16(d->cfg + PCI_DEVICE_ID, device);
	d->cfg[PCI_REVISION_ID] = 1;
	d->cfg[PCI_CLASS_PROG] = (uint8_t)class_code;
	put16(d->cfg + PCI_CLASS_PROG + 1, (uint16_t)(class_code >> 8));
	put16(d->cfg + PCI_SUBSYSTEM_VENDOR_ID, subsys_vendor);
	put16(d->cfg + PCI_SUBSYSTEM_ID, subsys_id);
	put16(d->wmask + PCI_COMMAND, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER |
	      PCI_COMMAND_INTX_DISABLE);
	d->wmask[PCI_INTERRUPT_LINE] = 0xff;
	d->cap_next = PCI_STD_HEADER_SIZEOF;	/* right after the header */
}

void pci_bus_init(struct pci_bus *b, uint64_t mmio_base, uint64_t mmio_size,
		  bool host_bridge)
{
	memset(b, 0, sizeof(*b));
	pthread_mutex_init(&b->lock, NULL);
	b->mmio_next = mmio_base;
	b->mmio_end = mmio_base + mmio_size;
	if (host_bridge) {
		pci_dev_init(&b->host, HOST_VENDOR, HOST_DEVICE, CLASS_HOST_BRIDGE, 0, 0);
		b->dev[0] = &b->host;
	}
}

int pci_dev_add_bar64(struct pci_bus *b, struct pci_dev *d, unsigned idx,
		      uint64_t size)
{
	uint64_t addr;

	if (idx > PCI_STD_NUM_BARS - 2 || (idx & 1) || size < 4096 ||
	    (size & (size - 1)) || d->bar[idx].size)
		return -EINVAL;
	addr = (b->mmio_next + size - 1) & ~(size - 1);
	if (addr < b->mmio_next || addr + size > b->mmio_end)
		return -ENOSPC;
	b->mmio_next = addr + size;
	d->bar[idx] = (struct pci_bar){ addr, size };
	put32(d->cfg + PCI_BASE_ADDRESS_0 + 4 * idx, (uint32_t)addr | PCI_BASE_ADDRESS_MEM_TYPE_64);
	put32(d->cfg + PCI_BASE_ADDRESS_0 + 4 * idx + 4, (uint32_t)(addr >> 32));
	return 0;
}

uint8_t pci_dev_add_cap(struct pci_dev *d, const void *cap, size_t len)
{
	uint8_t off = d->cap_next;
	size_t next;

	if (len < 2 || d->cap_next == 0 || off + len > PCI_CFG_SPACE_SIZE)
		return 0;
	memcpy(d->cfg + off, cap, len);
	d->cfg[off + 1] = 0;
	if (d->cap_last)
		d->cfg[d->cap_last + 1] = off;
	else
		d->cfg[PCI_CAPABILITY_LIST] = off;
	d->cfg[PCI_STATUS] |= PCI_STATUS_CAP_LIST;
	d->cap_last = off;
	next = (off + len + 3) & ~(size_t)3;
	d->cap_next = next < PCI_CFG_SPACE_SIZE ? (uint8_t)next : 0;	/* 0: full */
	return off;
}

int pci_bus_add(struct pci_bus *b, struct pci_dev *d, unsigned slot)
{
	if (slot >= PCI_MAX_SLOTS || (slot == 0 && b->dev[0] == &b->host))
		return -EINVAL;
	if (b->dev[slot])
		return -EBUSY;
	d->slot = slot;
	b->dev[slot] = d;
	return 0;
}

bool pci_dev_mem_enabled(const struct pci_dev *d)
{
	/* Read without the bus lock from MMIO handlers: one byte, and a
	 * guest racing its own command write gets either answer. */
	return __atomic_load_n(&d->cfg[PCI_COMMAND], __ATOMIC_RELAXED) &
	       PCI_COMMAND_MEMORY;
}

/* A dword write to BAR register `reg` (0..5): sizing and placement
 * semantics; the value is kept, decoding stays at the assigned address. */
static void bar_write(struct pci_dev *d, unsigned reg, uint32_t v)
{
	unsigned base = reg & ~1u;
	uint64_t size = d->bar[base].size;

	if (!size)
		return;		/* no BAR here: reads as 0 */
	if (reg == base)
		v = (v & ~(uint32_t)(size - 1) & ~0xfu) | PCI_BASE_ADDRESS_MEM_TYPE_64;
	else
		v &= ~(uint32_t)((size - 1) >> 32);
	put32(d->cfg + PCI_BASE_ADDRESS_0 + 4 * reg, v);
}

static void dev_write(struct pci_dev *d, uint32_t off, const uint8_t *data,
		      uint32_t len)
{
	if (off >= PCI_BASE_ADDRESS_0 && off < PCI_BASE_ADDRESS_0 + 4 * PCI_STD_NUM_BARS) {
		uint32_t dw = off & ~3u;
		uint8_t v[4];

		memcpy(v, d->cfg + dw, 4);
		memcpy(v + (off - dw), data, len);
		bar_write(d, (dw - PCI_BASE_ADDRESS_0) / 4, get32(v));
		return;
	}
	for (uint32_t i = 0; i < len; i++)
		d->cfg[off + i] = (uint8_t)((d->cfg[off + i] & ~d->wmask[off + i]) |
					    (data[i] & d->wmask[off + i]));
	if (d->ops && d->ops->cfg_write)
		d->ops->cfg_write(d, off, len);
}

void pci_cfg_access(struct pci_bus *b, unsigned bus, unsigned slot, unsigned fn,
		    uint32_t off, uint8_t *data, uint32_t len, bool is_write)
{
	struct pci_dev *d = NULL;

	if ((len != 1 && len != 2 && len != 4) || (off & (len - 1)) ||
	    off >= PCI_CFG_SPACE_SIZE) {
		if (!is_write)
			memset(data, 0xff, len > 4 ? 4 : len);
		return;
	}
	if (bus == 0 && fn == 0 && slot < PCI_MAX_SLOTS)
		d = b->dev[slot];
	if (!d) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	if (is_write) {
		dev_write(d, off, data, len);
	} else {
		memcpy(data, d->cfg + off, len);
		if (d->ops && d->ops->cfg_read)
			d->ops->cfg_read(d, off, data, len);
	}
}

void pci_cfg_addr_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		     bool is_write)
{
	struct pci_bus *b = opaque;

	/* Only whole-dword accesses reach the address register; byte
	 * accesses (0xcf9 is a reset register on some chipsets) do not. */
	pthread_mutex_lock(&b->lock);
	if (offset != 0 || len != 4) {
		if (!is_write)
			memset(data, 0xff, len);
	} else if (is_write) {
		/* Bits 27:24 are AMD's extended-register extension: kept, so
		 * that offsets past 255 read as absent instead of aliasing. */
		b->addr = get32(data) & 0x8ffffffcu;
	} else {
		put32(data, b->addr);
	}
	pthread_mutex_unlock(&b->lock);
}

void pci_cfg_data_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		     bool is_write)
{
	struct pci_bus *b = opaque;
	uint32_t a;

	pthread_mutex_lock(&b->lock);
	a = b->addr;
	if (!(a & 0x80000000u)) {
		if (!is_write)
			memset(data, 0xff, len);
	} else {
		pci_cfg_access(b, (a >> 16) & 0xff, (a >> 11) & 0x1f, (a >> 8) & 7,
			       ((a >> 16) & 0xf00) + (a & 0xfc) + (uint32_t)offset,
			       data, len, is_write);
	}
	pthread_mutex_unlock(&b->lock);
}

void pci_ecam_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		 bool is_write)
{
	struct pci_bus *b = opaque;

	/* The bus handler guarantees offset + len within the window it was
	 * registered with, and len <= 8; a window larger than one bus decodes
	 * as bus > 0, which has no devices. pci_cfg_access checks width and
	 * alignment, but fills at most 4 bytes of a refused read. */
	if (len > 4) {
		if (!is_write)
			memset(data, 0xff, len);
		return;
	}
	pthread_mutex_lock(&b->lock);
	pci_cfg_access(b, (unsigned)(offset >> 20), (unsigned)(offset >> 15) & 0x1f,
		       (unsigned)(offset >> 12) & 7, (uint32_t)(offset & 0xfff), data, len,
		       is_write);
	pthread_mutex_unlock(&b->lock);
}
