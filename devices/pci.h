/* A PCI bus 0 with a host bridge at 00:00.0 and up to 31 single-function
 * devices, reached through configuration mechanism #1 (address latch and
 * data window; ports 0xcf8/0xcfc on x86). BARs are 64-bit memory BARs whose
 * addresses we assign from the MMIO window when the device is added; the
 * guest can size them and write them, but they decode where we put them
 * (Linux keeps firmware assignments that lie inside the host bridge's
 * window, as these do). */
#ifndef VMM_PCI_H
#define VMM_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Header offsets and bits (PCI_VENDOR_ID, PCI_COMMAND_MEMORY, ...),
 * capability IDs and MSI-X fields: the kernel's. */
#include <linux/pci_regs.h>

#define PCI_MAX_SLOTS		32

struct pci_dev;

struct pci_dev_ops {
	/* After a config-space write to [off, off+len) was applied through
	 * the write mask (BARs handled already). Bus lock held. */
	void (*cfg_write)(struct pci_dev *d, uint32_t off, uint32_t len);
	/* May replace the bytes a config read returns (live registers). */
	void (*cfg_read)(struct pci_dev *d, uint32_t off, uint8_t *data, uint32_t len);
};

struct pci_bar {
	uint64_t addr;		/* assigned guest-physical address; 0 = no BAR */
	uint64_t size;		/* power of two, >= 4 KiB */
};

struct pci_dev {
	uint8_t cfg[PCI_CFG_SPACE_SIZE];	/* what the guest reads */
	uint8_t wmask[PCI_CFG_SPACE_SIZE];	/* bits the guest may write */
	struct pci_bar bar[PCI_STD_NUM_BARS];	/* 64-bit BARs: index 0, 2 or 4 */
	uint8_t cap_next;		/* where the next capability goes */
	uint8_t cap_last;		/* offset of the last one, 0 = none */
	unsigned slot;
	const struct pci_dev_ops *ops;
	void *opaque;
};

struct pci_bus {
	pthread_mutex_t lock;		/* config address latch and all config spaces */
	uint32_t addr;			/* mechanism #1 address register */
	struct pci_dev host;		/* 00:00.0 */
	struct pci_dev *dev[PCI_MAX_SLOTS];
	uint64_t mmio_next, mmio_end;	/* BAR allocation window */
};

/* A bus allocating BARs from [mmio_base, +mmio_size), with the host bridge
 * at 00:00.0 when `host_bridge` (x86_64's mechanism #1 bus); without it
 * (arm64's device-tree "pci-host-ecam-generic", which needs none) slot 0
 * is free for a device. */
void pci_bus_init(struct pci_bus *b, uint64_t mmio_base, uint64_t mmio_size,
		  bool host_bridge);

/* A type 0 header: IDs, class (base << 16 | sub << 8 | prog-if), no
 * interrupt pin, command register writable for memory and bus mastering. */
void pci_dev_init(struct pci_dev *d, uint16_t vendor, uint16_t device,
		  uint32_t class_code, uint16_t subsys_vendor, uint16_t subsys_id);

/* Adds a 64-bit memory BAR at index `idx` (0, 2 or 4) of `size` bytes,
 * naturally aligned in the bus's window. Returns 0, -EINVAL or -ENOSPC. */
int pci_dev_add_bar64(struct pci_bus *b, struct pci_dev *d, unsigned idx,
		      uint64_t size);

/* Appends a capability (`len` bytes, first byte its ID; the next pointer
 * is filled in). Returns its config-space offset, or 0 when full. */
uint8_t pci_dev_add_cap(struct pci_dev *d, const void *cap, size_t len);

/* Puts the device at 00:`slot`.0. Returns 0, -EINVAL past PCI_MAX_SLOTS - 1
 * or for slot 0 on a bus with the host bridge, -EBUSY when the slot is
 * taken. */
int pci_bus_add(struct pci_bus *b, struct pci_dev *d, unsigned slot);

/* Whether the guest enabled memory decoding (command register bit 1). */
bool pci_dev_mem_enabled(const struct pci_dev *d);

/* Config space by bus/device/function and offset, as mechanism #1 and the
 * unit tests use it: len 1, 2 or 4 inside one dword. Absent functions read
 * all-ones and ignore writes. */
void pci_cfg_access(struct pci_bus *b, unsigned bus, unsigned slot, unsigned fn,
		    uint32_t off, uint8_t *data, uint32_t len, bool is_write);

/* Bus handlers for the address register (4 bytes) and data window
 * (4 bytes); opaque is the pci_bus. */
void pci_cfg_addr_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		     bool is_write);
void pci_cfg_data_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		     bool is_write);

/* PCI Express's enhanced configuration access (ECAM): a window of
 * PCI_ECAM_BUS_SIZE bytes per bus, offset = bus << 20 | device << 15 |
 * function << 12 | register. A bus handler for bus 0's window (arm64);
 * opaque is the pci_bus. Registers past the 256-byte header read all-ones
 * (no extended capabilities), as do accesses that are not 1, 2 or 4
 * naturally aligned bytes. */
#define PCI_ECAM_BUS_SIZE	0x100000u
void pci_ecam_io(void *opaque, uint64_t offset, uint8_t *data, uint32_t len,
		 bool is_write);

#endif
