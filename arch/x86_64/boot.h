/* Linux x86 boot protocol: kernel image loading (bzImage, vmlinux ELF) and
 * the zero page (boot_params with e820, command line, initrd). */
#ifndef VMM_X86_BOOT_H
#define VMM_X86_BOOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <asm/bootparam.h>

#include "memory.h"

struct x86_kernel {
	bool bzimage;
	uint64_t entry;		/* 64-bit entry point (physical) */
	uint64_t start, end;	/* guest-physical range the kernel occupies,
				 * including its decompression space */
	struct setup_header hdr;	/* from the image (bzImage) or made up */
};

/* Loads a bzImage (64-bit boot protocol, >= 2.12) or a 64-bit vmlinux ELF
 * from `img` into guest memory. Returns 0 or -errno; `*why` names the
 * problem for the log. */
int x86_load_kernel(const struct guest_mem *m, const uint8_t *img, size_t len,
		    struct x86_kernel *k, const char **why);

/* Where an initrd of `len` bytes goes: as high as the kernel allows in low
 * memory, above the kernel. Returns 0 or -ENOSPC. */
int x86_initrd_addr(const struct guest_mem *m, const struct x86_kernel *k,
		    uint64_t len, uint64_t *addr);

/* Fills the e820 table in `bp` from the memory layout. */
void x86_fill_e820(struct boot_params *bp, const struct guest_mem *m);

/* Writes the command line and the zero page. initrd_len 0 = no initrd. */
int x86_write_boot_params(const struct guest_mem *m, const struct x86_kernel *k,
			  const char *cmdline, uint64_t initrd_addr,
			  uint64_t initrd_len, uint64_t rsdp, const char **why);

#endif
