/* arm64 Image header checks and the boot layout in guest RAM. */
#include "image.h"

#include <errno.h>
#include <string.h>

#include "layout.h"

#define HDR_FLAG_BE		(1u << 0)	/* kernel is big-endian */
#define SZ_2M			0x200000ULL
#define SZ_4K			0x1000ULL
#define SZ_1G			0x40000000ULL

static uint64_t le64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

int arm64_image_parse(const uint8_t *img, size_t len, struct arm64_image *out,
		      const char **why)
{
	uint64_t flags;

	if (len < ARM64_IMAGE_HDR_SIZE) {
		*why = "too short for an arm64 Image header";
		return -EINVAL;
	}
	if ((uint32_t)le64(img + 56) != ARM64_IMAGE_MAGIC) {
		*why = "not an arm64 Image (no \"ARM\\x64\" magic at offset 56; "
		       "a compressed vmlinuz must be decompressed first)";
		return -EINVAL;
	}
	out->text_offset = le64(img + 8);
	out->image_size = le64(img + 16);
	flags = le64(img + 24);
	if (out->image_size == 0) {
		/* Linux before 3.17 left it 0 and assumed 0x80000. */
		*why = "Image header has image_size 0 (kernel older than Linux 3.17)";
		return -EINVAL;
	}
	if (flags & HDR_FLAG_BE) {
		*why = "big-endian kernel; only little-endian guests are supported";
		return -EINVAL;
	}
	if (len > out->image_size) {
		*why = "file is larger than the image_size its header declares";
		return -EINVAL;
	}
	if (out->text_offset % 8 || out->text_offset >= SZ_2M * 512) {
		*why = "Image header has an unusable text_offset";
		return -EINVAL;
	}
	return 0;
}

int arm64_boot_layout(uint64_t ram_base, uint64_t ram_size, const struct arm64_image *k,
		      uint64_t initrd_size, struct arm64_boot_layout *out, const char **why)
{
	uint64_t ram_end = ram_base + ram_size, kernel_end, fdt, window_end;

	/* Whether or not the header's "anywhere" flag is set, the bottom of
	 * RAM (2 MiB aligned) is a valid place. */
	if (ram_base % SZ_2M || ram_end < ram_base) {
		*why = "RAM is not 2 MiB aligned";
		return -EINVAL;
	}
	/* The initrd must lie in a 1 GiB-aligned window of at most 32 GiB that
	 * covers the kernel: keep both it and the tree below that. */
	window_end = (ram_base & ~(SZ_1G - 1)) + 32 * SZ_1G;
	if (ram_end > window_end)
		ram_end = window_end;
	out->kernel = ram_base + k->text_offset;
	kernel_end = out->kernel + k->image_size;
	fdt = (ram_end - ARM64_FDT_MAX) & ~(ARM64_FDT_ALIGN - 1);
	if (kernel_end < out->kernel || ram_end < ARM64_FDT_MAX || fdt < ram_base ||
	    kernel_end > fdt) {
		*why = "the kernel and the device tree do not fit in guest memory";
		return -ENOSPC;
	}
	out->fdt = fdt;
	out->initrd = 0;
	if (initrd_size) {
		uint64_t start = (fdt - initrd_size) & ~(SZ_4K - 1);

		if (initrd_size > fdt || start < kernel_end) {
			*why = "the initrd does not fit in guest memory beside the kernel";
			return -ENOSPC;
		}
		out->initrd = start;
	}
	return 0;
}
