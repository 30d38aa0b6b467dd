/* Linux/x86 boot protocol (Documentation/arch/x86/boot.rst): we load the
 * protected-mode kernel and enter it at its 64-bit entry point with
 * boot_params in RSI, skipping the real-mode setup code. */
#include "boot.h"

#include <elf.h>
#include <errno.h>
#include <string.h>

#include "layout.h"

#define HDR_MAGIC 0x53726448	/* "HdrS" */

static int load_bzimage(const struct guest_mem *m, const uint8_t *img,
			size_t len, struct x86_kernel *k, const char **why)
{
	struct setup_header h;
	size_t hdr_end, setup_size, pm_size;
	uint64_t load, align, need;
	uint8_t *dst;

	if (len < 0x1f1 + sizeof(h)) {
		*why = "file too small for a bzImage";
		return -ENOEXEC;
	}
	memcpy(&h, img + 0x1f1, sizeof(h));
	if (h.header != HDR_MAGIC) {
		*why = "no Linux boot header (\"HdrS\")";
		return -ENOEXEC;
	}
	if (h.version < 0x20c || !(h.xloadflags & XLF_KERNEL_64)) {
		*why = "kernel lacks the 64-bit boot entry (boot protocol < 2.12)";
		return -ENOEXEC;
	}
	/* The header's own extent: it ends at 0x202 + the jump's offset. */
	hdr_end = 0x202 + img[0x201];
	if (hdr_end > 0x1f1 + sizeof(h))
		hdr_end = 0x1f1 + sizeof(h);
	memset(&k->hdr, 0, sizeof(k->hdr));
	memcpy(&k->hdr, img + 0x1f1, hdr_end - 0x1f1);

	setup_size = ((size_t)(h.setup_sects ? h.setup_sects : 4) + 1) * 512;
	if (setup_size >= len) {
		*why = "setup sectors extend past the end of the file";
		return -ENOEXEC;
	}
	pm_size = len - setup_size;

	align = h.kernel_alignment;
	if (align < 0x200000 || (align & (align - 1)))
		align = 0x200000;
	load = h.pref_address ? h.pref_address : X86_KERNEL_DEFAULT;
	if (load < X86_HIMEM || load & (align - 1))
		load = X86_KERNEL_DEFAULT;
	need = h.init_size > pm_size ? h.init_size : pm_size;

	if (!gm_valid(m, load, need)) {
		*why = "guest memory too small for this kernel (raise memory_mib)";
		return -ENOSPC;
	}
	dst = gm_ptr(m, load, pm_size);
	memcpy(dst, img + setup_size, pm_size);
	k->bzimage = true;
	k->start = load;
	k->end = load + need;
	k->entry = load + 0x200;	/* startup_64 */
	k->hdr.code32_start = (uint32_t)load;
	return 0;
}

static int load_elf(const struct guest_mem *m, const uint8_t *img, size_t len,
		    struct x86_kernel *k, const char **why)
{
	Elf64_Ehdr eh;
	uint64_t lo = UINT64_MAX, hi = 0;

	memcpy(&eh, img, sizeof(eh));
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64 ||
	    eh.e_ident[EI_DATA] != ELFDATA2LSB) {
		*why = "ELF file is not a 64-bit x86_64 image";
		return -ENOEXEC;
	}
	if (eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum == 0 ||
	    eh.e_phoff > len || eh.e_phnum > (len - eh.e_phoff) / sizeof(Elf64_Phdr)) {
		*why = "ELF program headers are missing or truncated";
		return -ENOEXEC;
	}
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		uint8_t *dst;

		memcpy(&ph, img + eh.e_phoff + (size_t)i * sizeof(ph), sizeof(ph));
		if (ph.p_type != PT_LOAD || ph.p_memsz == 0)
			continue;
		if (ph.p_filesz > ph.p_memsz || ph.p_offset > len ||
		    ph.p_filesz > len - ph.p_offset) {
			*why = "ELF segment extends past the end of the file";
			return -ENOEXEC;
		}
		dst = gm_ptr(m, ph.p_paddr, ph.p_memsz);
		if (!dst || ph.p_paddr < X86_HIMEM) {
			*why = "ELF segment does not fit in guest memory above 1 MiB";
			return -ENOSPC;
		}
		memcpy(dst, img + ph.p_offset, ph.p_filesz);
		memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
		if (ph.p_paddr < lo)
			lo = ph.p_paddr;
		if (ph.p_paddr + ph.p_memsz > hi)
			hi = ph.p_paddr + ph.p_memsz;
	}
	if (hi == 0) {
		*why = "ELF file has no loadable segment";
		return -ENOEXEC;
	}
	if (eh.e_entry < lo || eh.e_entry >= hi) {
		*why = "ELF entry point lies outside its loaded segments";
		return -ENOEXEC;
	}
	/* No setup header in a vmlinux: describe ourselves as a 2.15 loader
	 * talking to a kernel that takes its defaults. */
	memset(&k->hdr, 0, sizeof(k->hdr));
	k->hdr.boot_flag = 0xaa55;
	k->hdr.header = HDR_MAGIC;
	k->hdr.version = 0x20f;
	k->hdr.kernel_alignment = 0x1000000;
	k->hdr.initrd_addr_max = 0x7fffffff;
	k->hdr.cmdline_size = X86_CMDLINE_MAX - 1;
	k->bzimage = false;
	k->start = lo;
	k->end = hi;
	k->entry = eh.e_entry;
	return 0;
}

int x86_load_kernel(const struct guest_mem *m, const uint8_t *img, size_t len,
		    struct x86_kernel *k, const char **why)
{
	memset(k, 0, sizeof(*k));
	if (len >= sizeof(Elf64_Ehdr) && !memcmp(img, ELFMAG, SELFMAG))
		return load_elf(m, img, len, k, why);
	return load_bzimage(m, img, len, k, why);
}

int x86_initrd_addr(const struct guest_mem *m, const struct x86_kernel *k,
		    uint64_t len, uint64_t *addr)
{
	uint64_t top = gm_low_end(m);
	uint64_t max = k->hdr.initrd_addr_max ? k->hdr.initrd_addr_max : 0x37ffffff;

	if (top > max + 1)
		top = max + 1;
	if (len > top)
		return -ENOSPC;
	*addr = (top - len) & ~0xfffULL;
	if (*addr < k->end)
		return -ENOSPC;
	return 0;
}

static void e820_add(struct boot_params *bp, uint64_t addr, uint64_t size,
		     uint32_t type)
{
	unsigned n = bp->e820_entries;

	if (n >= sizeof(bp->e820_table) / sizeof(bp->e820_table[0]) || !size)
		return;
	bp->e820_table[n].addr = addr;
	bp->e820_table[n].size = size;
	bp->e820_table[n].type = type;
	bp->e820_entries = (uint8_t)(n + 1);
}

void x86_fill_e820(struct boot_params *bp, const struct guest_mem *m)
{
	const uint32_t ram = 1, reserved = 2;

	bp->e820_entries = 0;
	e820_add(bp, 0, X86_EBDA_START, ram);
	e820_add(bp, X86_EBDA_START, 0xa0000 - X86_EBDA_START, reserved);
	e820_add(bp, X86_ACPI_START, X86_ACPI_END - X86_ACPI_START, reserved);
	e820_add(bp, X86_HIMEM, gm_low_end(m) - X86_HIMEM, ram);
	for (unsigned i = 1; i < m->nregions; i++)
		e820_add(bp, m->regions[i].gpa, m->regions[i].size, ram);
}

int x86_write_boot_params(const struct guest_mem *m, const struct x86_kernel *k,
			  const char *cmdline, uint64_t initrd_addr,
			  uint64_t initrd_len, uint64_t rsdp, const char **why)
{
	struct boot_params bp;
	size_t clen = strlen(cmdline);
	uint32_t cmax = k->hdr.cmdline_size ? k->hdr.cmdline_size : 255;

	if (clen > cmax || clen >= X86_CMDLINE_MAX) {
		*why = "kernel command line longer than the kernel accepts";
		return -E2BIG;
	}
	if (gm_write(m, X86_CMDLINE, cmdline, clen + 1) < 0) {
		*why = "no room for the command line";
		return -EFAULT;
	}
	memset(&bp, 0, sizeof(bp));
	bp.hdr = k->hdr;
	bp.hdr.type_of_loader = 0xff;	/* undefined loader */
	bp.hdr.loadflags |= LOADED_HIGH | CAN_USE_HEAP | KEEP_SEGMENTS;
	bp.hdr.heap_end_ptr = 0xfe00;
	bp.hdr.cmd_line_ptr = (uint32_t)X86_CMDLINE;
	bp.ext_cmd_line_ptr = 0;
	if (initrd_len) {
		bp.hdr.ramdisk_image = (uint32_t)initrd_addr;
		bp.hdr.ramdisk_size = (uint32_t)initrd_len;
		bp.ext_ramdisk_image = (uint32_t)(initrd_addr >> 32);
		bp.ext_ramdisk_size = (uint32_t)(initrd_len >> 32);
	}
	bp.acpi_rsdp_addr = rsdp;
	x86_fill_e820(&bp, m);
	if (gm_write(m, X86_ZERO_PAGE, &bp, sizeof(bp)) < 0) {
		*why = "no room for the zero page";
		return -EFAULT;
	}
	return 0;
}
