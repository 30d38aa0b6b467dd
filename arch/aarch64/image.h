/* The arm64 Linux `Image` header (Documentation/arm64/booting.rst) and where
 * kernel, initrd and device tree go in guest RAM. Pure computation: unit-
 * tested on every host. */
#ifndef VMM_ARM64_IMAGE_H
#define VMM_ARM64_IMAGE_H

#include <stddef.h>
#include <stdint.h>

#define ARM64_IMAGE_MAGIC	0x644d5241u	/* "ARM\x64" */
#define ARM64_IMAGE_HDR_SIZE	64u

struct arm64_image {
	uint64_t text_offset;	/* load offset from a 2 MiB-aligned base */
	uint64_t image_size;	/* bytes the kernel occupies, bss included */
};

/* Checks the 64-byte header of `len` bytes at `img`. Returns 0, or -EINVAL
 * with *why set to a reason fit for an error message. */
int arm64_image_parse(const uint8_t *img, size_t len, struct arm64_image *out,
		      const char **why);

struct arm64_boot_layout {
	uint64_t kernel;		/* load address = entry point */
	uint64_t initrd;		/* 0 when initrd_size is 0 */
	uint64_t fdt;
};

/* Places the kernel at the bottom of RAM (base + text_offset), the device
 * tree in the last 2 MiB block of RAM and the initrd right below it. Returns
 * 0, or -ENOSPC with *why set when they do not fit. */
int arm64_boot_layout(uint64_t ram_base, uint64_t ram_size, const struct arm64_image *k,
		      uint64_t initrd_size, struct arm64_boot_layout *out, const char **why);

#endif
