/* Unit tests for arch/x86_64/boot.c: a synthetic bzImage and a hand-built
 * ELF64 vmlinux loaded into guest memory, the zero page read back field by
 * field (command line, initrd, RSDP, e820 with and without the MMIO hole),
 * and initrd placement. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <elf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "boot.h"
#include "layout.h"
#include "memory.h"

#define MiB (1024ULL * 1024)
#define GiB (1024 * MiB)

#define SETUP_SECTS	4
#define SETUP_SIZE	((SETUP_SECTS + 1) * 512)
#define PM_SIZE		0x3000
#define INIT_SIZE	(8 * MiB)

static struct guest_mem mem64;	/* 64 MiB, no split */

static int setup_mem(void **state)
{
	return gm_init(&mem64, 0, 64 * MiB, X86_MMIO_HOLE_START,
			      X86_MMIO_HOLE_END) < 0 ? -1 : 0;
}

static int teardown_mem(void **state)
{
	gm_destroy(&mem64);
	return 0;
}

/* A bzImage as the boot protocol describes it: boot sector + setup sectors,
 * the setup header at 0x1f1, then the protected-mode kernel. */
static uint8_t *make_bzimage(size_t *len, struct setup_header *hdr_out)
{
	struct setup_header h;
	size_t n = SETUP_SIZE + PM_SIZE;
	uint8_t *img = calloc(1, n);

	assert_non_null(img);
	memset(&h, 0, sizeof(h));
	h.setup_sects = SETUP_SECTS;
	h.syssize = PM_SIZE / 16;
	h.boot_flag = 0xaa55;
	/* "jmp short" over the header: the header ends at 0x202 + offset. */
	h.jump = (uint16_t)(0xeb | ((0x1f1 + sizeof(h) - 0x202) << 8));
	h.header = 0x53726448;	/* "HdrS" */
	h.version = 0x20f;
	h.loadflags = LOADED_HIGH;
	h.kernel_alignment = 0x200000;
	h.relocatable_kernel = 1;
	h.xloadflags = XLF_KERNEL_64;
	h.cmdline_size = 2047;
	h.initrd_addr_max = 0x7fffffff;
	h.pref_address = 0x1000000;
	h.init_size = INIT_SIZE;
	memcpy(img + 0x1f1, &h, sizeof(h));
	/* Recognisable setup code and protected-mode payload. */
	memset(img + 0x300, 0x5e, SETUP_SIZE - 0x300);
	for (size_t i = 0; i < PM_SIZE; i++)
		img[SETUP_SIZE + i] = (uint8_t)(i * 13 + 1);
	*len = n;
	if (hdr_out)
		*hdr_out = h;
	return img;
}

static void put_hdr(uint8_t *img, const struct setup_header *h)
{
	memcpy(img + 0x1f1, h, sizeof(*h));
}

static void test_bzimage_load(void **state)
{
	struct x86_kernel k;
	const char *why = NULL;
	size_t len;
	uint8_t *img = make_bzimage(&len, NULL);
	uint8_t *p;

	assert_int_equal(x86_load_kernel(&mem64, img, len, &k, &why), 0);
	assert_true(k.bzimage);
	assert_int_equal(k.start, 0x1000000);
	assert_int_equal(k.entry, 0x1000200);
	assert_int_equal(k.end, 0x1000000 + INIT_SIZE);
	/* The protected-mode part, and only it, lands at pref_address. */
	p = gm_ptr(&mem64, 0x1000000, PM_SIZE + 1);
	assert_non_null(p);
	assert_memory_equal(p, img + SETUP_SIZE, PM_SIZE);
	assert_int_equal(p[PM_SIZE], 0);
	/* The header is copied for the zero page. */
	assert_int_equal(k.hdr.header, 0x53726448);
	assert_int_equal(k.hdr.version, 0x20f);
	assert_int_equal(k.hdr.setup_sects, SETUP_SECTS);
	assert_int_equal(k.hdr.boot_flag, 0xaa55);
	assert_int_equal(k.hdr.cmdline_size, 2047);
	assert_int_equal(k.hdr.initrd_addr_max, 0x7fffffff);
	assert_int_equal(k.hdr.kernel_alignment, 0x200000);
	assert_int_equal(k.hdr.xloadflags, XLF_KERNEL_64);
	assert_int_equal(k.hdr.pref_address, 0x1000000);
	assert_int_equal(k.hdr.init_size, INIT_SIZE);
	assert_int_equal(k.hdr.code32_start, 0x1000000);
	free(img);
}

static void test_bzimage_pref_address(void **state)
{
	struct setup_header h;
	struct x86_kernel k;
	const char *why = NULL;
	size_t len;
	uint8_t *img = make_bzimage(&len, &h);

	/* A different, aligned pref_address is honoured. */
	h.pref_address = 0x2000000;
	put_hdr(img, &h);
	assert_int_equal(x86_load_kernel(&mem64, img, len, &k, &why), 0);
	assert_int_equal(k.start, 0x2000000);
	assert_int_equal(k.entry, 0x2000200);
	assert_memory_equal(gm_ptr(&mem64, 0x2000000, PM_SIZE), img + SETUP_SIZE,
			    PM_SIZE);

	/* No pref_address: the 16 MiB default. */
	h.pref_address = 0;
	put_hdr(img, &h);
	assert_int_equal(x86_load_kernel(&mem64, img, len, &k, &why), 0);
	assert_int_equal(k.start, X86_KERNEL_DEFAULT);

	/* init_size smaller than the payload: the payload's size counts. */
	h.pref_address = 0x1000000;
	h.init_size = 0x1000;
	put_hdr(img, &h);
	assert_int_equal(x86_load_kernel(&mem64, img, len, &k, &why), 0);
	assert_int_equal(k.end, 0x1000000 + PM_SIZE);

	/* setup_sects 0 means 4. */
	h.setup_sects = 0;
	put_hdr(img, &h);
	assert_int_equal(x86_load_kernel(&mem64, img, len, &k, &why), 0);
	assert_memory_equal(gm_ptr(&mem64, 0x1000000, PM_SIZE), img + SETUP_SIZE,
			    PM_SIZE);
	free(img);
}

static void test_bzimage_header_extent(void **state)
{
	struct setup_header h;
	struct x86_kernel k;
	const char *why = NULL;
	size_t len;
	uint8_t *img = make_bzimage(&len, &h);

	/* An older header ends before init_size (0x260): bytes past the end
	 * of the header are setup code and must not be taken as fields. */
	img[0x201] = 0x260 - 0x202;
	assert_int_equal(x86_load_kernel(&mem64, img, len, &k, &why), 0);
	assert_int_equal(k.hdr.pref_address, 0x1000000);
	assert_int_equal(k.hdr.init_size, 0);
	assert_int_equal(k.hdr.cmdline_size, 2047);
	free(img);
}

static void expect_reject(const uint8_t *img, size_t len, int err)
{
	struct x86_kernel k;
	const char *why = NULL;

	assert_int_equal(x86_load_kernel(&mem64, img, len, &k, &why), err);
	assert_non_null(why);
	assert_true(strlen(why) > 0);
}

static void test_bzimage_rejects(void **state)
{
	struct setup_header h, good;
	size_t len;
	uint8_t *img = make_bzimage(&len, &good);

	h = good;
	h.header = 0x53726449;
	put_hdr(img, &h);
	expect_reject(img, len, -ENOEXEC);

	h = good;
	h.version = 0x20b;
	put_hdr(img, &h);
	expect_reject(img, len, -ENOEXEC);

	h = good;
	h.version = 0x20c;	/* 2.12 is the first with the 64-bit entry */
	put_hdr(img, &h);
	{
		struct x86_kernel k;
		const char *why;

		assert_int_equal(x86_load_kernel(&mem64, img, len, &k, &why), 0);
	}

	h = good;
	h.xloadflags = 0x2;	/* XLF_CAN_BE_LOADED_ABOVE_4G without KERNEL_64 */
	put_hdr(img, &h);
	expect_reject(img, len, -ENOEXEC);

	/* Truncated: not even the whole header. */
	put_hdr(img, &good);
	expect_reject(img, 0x200, -ENOEXEC);
	expect_reject(img, 0x1f1 + sizeof(struct setup_header) - 1, -ENOEXEC);
	/* Truncated: the setup sectors run past the end of the file. */
	expect_reject(img, SETUP_SIZE, -ENOEXEC);
	h = good;
	h.setup_sects = 0x40;
	put_hdr(img, &h);
	expect_reject(img, len, -ENOEXEC);

	/* Needs more memory than the guest has; nothing gets written. */
	memset(gm_ptr(&mem64, 0x1000000, PM_SIZE), 0, PM_SIZE);
	h = good;
	h.init_size = 64 * MiB;
	put_hdr(img, &h);
	expect_reject(img, len, -ENOSPC);
	for (size_t i = 0; i < PM_SIZE; i++)
		assert_int_equal(((uint8_t *)gm_ptr(&mem64, 0x1000000, 1))[i], 0);
	free(img);
}

/* ---- ELF ---- */

struct elf_img {
	uint8_t buf[0x3000];
	Elf64_Ehdr *eh;
	Elf64_Phdr *ph;	/* 3 program headers */
};

/* Two PT_LOADs (text with bss, then data) and a PT_NOTE. */
static void make_elf(struct elf_img *e)
{
	memset(e->buf, 0, sizeof(e->buf));
	e->eh = (Elf64_Ehdr *)e->buf;
	e->ph = (Elf64_Phdr *)(e->buf + sizeof(Elf64_Ehdr));
	memcpy(e->eh->e_ident, ELFMAG, SELFMAG);
	e->eh->e_ident[EI_CLASS] = ELFCLASS64;
	e->eh->e_ident[EI_DATA] = ELFDATA2LSB;
	e->eh->e_ident[EI_VERSION] = EV_CURRENT;
	e->eh->e_type = ET_EXEC;
	e->eh->e_machine = EM_X86_64;
	e->eh->e_version = EV_CURRENT;
	e->eh->e_entry = 0x1000010;
	e->eh->e_phoff = sizeof(Elf64_Ehdr);
	e->eh->e_ehsize = sizeof(Elf64_Ehdr);
	e->eh->e_phentsize = sizeof(Elf64_Phdr);
	e->eh->e_phnum = 3;

	e->ph[0] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_X,
		.p_offset = 0x1000, .p_vaddr = 0xffffffff81000000ULL,
		.p_paddr = 0x1000000, .p_filesz = 0x800, .p_memsz = 0x4000,
		.p_align = 0x1000 };
	e->ph[1] = (Elf64_Phdr){ .p_type = PT_NOTE, .p_offset = 0x1800,
		.p_paddr = 0x100, .p_filesz = 0x10, .p_memsz = 0x10 };
	e->ph[2] = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_W,
		.p_offset = 0x2000, .p_vaddr = 0xffffffff81200000ULL,
		.p_paddr = 0x1200000, .p_filesz = 0x1000, .p_memsz = 0x1000,
		.p_align = 0x1000 };
	for (size_t i = 0; i < 0x800; i++)
		e->buf[0x1000 + i] = (uint8_t)(i ^ 0xa5);
	memset(e->buf + 0x1800, 0xee, 0x800);	/* not part of any PT_LOAD */
	for (size_t i = 0; i < 0x1000; i++)
		e->buf[0x2000 + i] = (uint8_t)(i * 3);
}

static void test_elf_load(void **state)
{
	static struct elf_img e;
	struct x86_kernel k;
	const char *why = NULL;
	uint8_t *p;

	make_elf(&e);
	/* Stale bytes where the bss goes. */
	p = gm_ptr(&mem64, 0x1000000, 0x4000);
	assert_non_null(p);
	memset(p, 0xcc, 0x4000);
	memset(gm_ptr(&mem64, 0x100, 0x10), 0x77, 0x10);

	assert_int_equal(x86_load_kernel(&mem64, e.buf, sizeof(e.buf), &k, &why), 0);
	assert_false(k.bzimage);
	assert_int_equal(k.entry, 0x1000010);
	assert_int_equal(k.start, 0x1000000);
	assert_int_equal(k.end, 0x1201000);
	assert_memory_equal(p, e.buf + 0x1000, 0x800);
	for (size_t i = 0x800; i < 0x4000; i++)
		assert_int_equal(p[i], 0);
	assert_memory_equal(gm_ptr(&mem64, 0x1200000, 0x1000), e.buf + 0x2000, 0x1000);
	/* The PT_NOTE is not loaded. */
	assert_int_equal(*(uint8_t *)gm_ptr(&mem64, 0x100, 1), 0x77);
	/* A made-up header good enough for the zero page. */
	assert_int_equal(k.hdr.header, 0x53726448);
	assert_true(k.hdr.version >= 0x20c);
	assert_int_equal(k.hdr.boot_flag, 0xaa55);
	assert_true(k.hdr.cmdline_size >= 255);
	assert_true(k.hdr.initrd_addr_max >= 0x37ffffff);
}

static void test_elf_rejects(void **state)
{
	static struct elf_img e;
	struct x86_kernel k;
	const char *why = NULL;

	make_elf(&e);
	e.eh->e_ident[EI_CLASS] = ELFCLASS32;
	expect_reject(e.buf, sizeof(e.buf), -ENOEXEC);

	make_elf(&e);
	e.eh->e_machine = EM_386;
	expect_reject(e.buf, sizeof(e.buf), -ENOEXEC);

	make_elf(&e);
	e.eh->e_ident[EI_DATA] = ELFDATA2MSB;
	expect_reject(e.buf, sizeof(e.buf), -ENOEXEC);

	/* Program headers truncated or absent. */
	make_elf(&e);
	expect_reject(e.buf, sizeof(Elf64_Ehdr) + 2 * sizeof(Elf64_Phdr), -ENOEXEC);
	make_elf(&e);
	e.eh->e_phnum = 0;
	expect_reject(e.buf, sizeof(e.buf), -ENOEXEC);
	make_elf(&e);
	e.eh->e_phoff = UINT64_MAX - 8;
	expect_reject(e.buf, sizeof(e.buf), -ENOEXEC);
	make_elf(&e);
	e.eh->e_phentsize = 32;
	expect_reject(e.buf, sizeof(e.buf), -ENOEXEC);

	/* Segment past the end of the file (and one whose end wraps). */
	make_elf(&e);
	e.ph[2].p_filesz = 0x1001;
	e.ph[2].p_memsz = 0x2000;
	expect_reject(e.buf, sizeof(e.buf), -ENOEXEC);
	make_elf(&e);
	e.ph[0].p_offset = UINT64_MAX - 0x10;
	expect_reject(e.buf, sizeof(e.buf), -ENOEXEC);
	make_elf(&e);
	e.ph[0].p_filesz = 0x5000;	/* filesz > memsz */
	expect_reject(e.buf, sizeof(e.buf), -ENOEXEC);

	/* Segment outside RAM, across its end, below 1 MiB, wrapping. */
	make_elf(&e);
	e.ph[2].p_paddr = 128 * MiB;
	expect_reject(e.buf, sizeof(e.buf), -ENOSPC);
	make_elf(&e);
	e.ph[2].p_paddr = 64 * MiB - 0x800;
	expect_reject(e.buf, sizeof(e.buf), -ENOSPC);
	make_elf(&e);
	e.ph[0].p_paddr = 0x80000;
	e.eh->e_entry = 0x80010;
	expect_reject(e.buf, sizeof(e.buf), -ENOSPC);
	make_elf(&e);
	e.ph[2].p_paddr = UINT64_MAX - 0x7ff;
	expect_reject(e.buf, sizeof(e.buf), -ENOSPC);

	/* Entry outside every segment, including one byte past the end. */
	make_elf(&e);
	e.eh->e_entry = 0x2000000;
	expect_reject(e.buf, sizeof(e.buf), -ENOEXEC);
	make_elf(&e);
	e.eh->e_entry = 0x1201000;
	expect_reject(e.buf, sizeof(e.buf), -ENOEXEC);
	make_elf(&e);
	e.eh->e_entry = 0xfffff;
	expect_reject(e.buf, sizeof(e.buf), -ENOEXEC);

	/* No PT_LOAD at all. */
	make_elf(&e);
	e.ph[0].p_type = PT_NOTE;
	e.ph[2].p_type = PT_NOTE;
	expect_reject(e.buf, sizeof(e.buf), -ENOEXEC);

	/* Sanity: the unmodified image still loads. */
	make_elf(&e);
	assert_int_equal(x86_load_kernel(&mem64, e.buf, sizeof(e.buf), &k, &why), 0);
}

/* ---- zero page ---- */

static void load_bz(const struct guest_mem *m, struct x86_kernel *k)
{
	const char *why = NULL;
	size_t len;
	uint8_t *img = make_bzimage(&len, NULL);

	assert_int_equal(x86_load_kernel(m, img, len, k, &why), 0);
	free(img);
}

static void read_zero_page(const struct guest_mem *m, struct boot_params *bp)
{
	assert_int_equal(gm_read(m, X86_ZERO_PAGE, bp, sizeof(*bp)), 0);
}

static void check_e820(const struct boot_params *bp, unsigned i, uint64_t addr,
		       uint64_t size, uint32_t type)
{
	const struct boot_e820_entry *e = &bp->e820_table[i];

	if (e->addr != addr || e->size != size || e->type != type)
		print_error("e820[%u] = [%#llx +%#llx type %u], want [%#llx +%#llx type %u]\n",
			    i, (unsigned long long)e->addr, (unsigned long long)e->size,
			    e->type, (unsigned long long)addr,
			    (unsigned long long)size, type);
	assert_true(e->addr == addr && e->size == size && e->type == type);
}

static void test_boot_params_256m(void **state)
{
	struct guest_mem m;
	struct x86_kernel k;
	static struct boot_params bp;
	const char *cmdline = "console=ttyS0 root=/dev/vda rw";
	const char *why = NULL;
	char back[64];

	assert_int_equal(gm_init(&m, 0, 256 * MiB, X86_MMIO_HOLE_START,
					X86_MMIO_HOLE_END), 0);
	load_bz(&m, &k);
	/* Garbage in the zero page must not survive. */
	memset(gm_ptr(&m, X86_ZERO_PAGE, sizeof(bp)), 0xab, sizeof(bp));
	assert_int_equal(x86_write_boot_params(&m, &k, cmdline, 0x0f000000, 0x123456,
					       0xe0000, &why), 0);
	read_zero_page(&m, &bp);

	assert_int_equal(bp.hdr.cmd_line_ptr, X86_CMDLINE);
	assert_int_equal(bp.ext_cmd_line_ptr, 0);
	assert_int_equal(gm_read(&m, bp.hdr.cmd_line_ptr, back, strlen(cmdline) + 1), 0);
	assert_string_equal(back, cmdline);

	assert_int_equal(bp.hdr.ramdisk_image, 0x0f000000);
	assert_int_equal(bp.hdr.ramdisk_size, 0x123456);
	assert_int_equal(bp.ext_ramdisk_image, 0);
	assert_int_equal(bp.ext_ramdisk_size, 0);
	assert_int_equal(bp.acpi_rsdp_addr, 0xe0000);
	assert_int_equal(bp.hdr.type_of_loader, 0xff);
	assert_true(bp.hdr.loadflags & LOADED_HIGH);
	assert_true(bp.hdr.loadflags & CAN_USE_HEAP);
	assert_int_equal(bp.hdr.header, 0x53726448);
	assert_int_equal(bp.hdr.version, 0x20f);
	assert_int_equal(bp.hdr.code32_start, 0x1000000);
	assert_int_equal(bp.sentinel, 0);
	assert_int_equal(bp.screen_info.orig_video_isVGA, 0);
	assert_int_equal(bp.secure_boot, 0);

	assert_int_equal(bp.e820_entries, 4);
	check_e820(&bp, 0, 0, 0x9fc00, 1);
	check_e820(&bp, 1, 0x9fc00, 0x400, 2);
	check_e820(&bp, 2, 0xe0000, 0x20000, 2);
	check_e820(&bp, 3, 0x100000, 256 * MiB - 0x100000, 1);

	/* Without an initrd the ramdisk fields are zero. */
	assert_int_equal(x86_write_boot_params(&m, &k, "", 0x0f000000, 0, 0xe0000,
					       &why), 0);
	read_zero_page(&m, &bp);
	assert_int_equal(bp.hdr.ramdisk_image, 0);
	assert_int_equal(bp.hdr.ramdisk_size, 0);
	assert_int_equal(*(char *)gm_ptr(&m, X86_CMDLINE, 1), '\0');
	gm_destroy(&m);
}

static void test_boot_params_high_mem(void **state)
{
	struct guest_mem m;
	struct x86_kernel k;
	static struct boot_params bp;
	const char *why = NULL;

	/* 5 GiB: 3 GiB below the hole, the other 2 GiB from 4 GiB up. */
	assert_int_equal(gm_init(&m, 0, 5 * GiB, X86_MMIO_HOLE_START,
					X86_MMIO_HOLE_END), 0);
	load_bz(&m, &k);
	assert_int_equal(x86_write_boot_params(&m, &k, "quiet", 0x123456000ULL,
					       0x100000002ULL, 0xe0000, &why), 0);
	read_zero_page(&m, &bp);
	assert_int_equal(bp.e820_entries, 5);
	check_e820(&bp, 0, 0, 0x9fc00, 1);
	check_e820(&bp, 1, 0x9fc00, 0x400, 2);
	check_e820(&bp, 2, 0xe0000, 0x20000, 2);
	check_e820(&bp, 3, 0x100000, 0xc0000000 - 0x100000, 1);
	check_e820(&bp, 4, 0x100000000ULL, 2 * GiB, 1);
	/* 64-bit initrd fields are split into the ext_ halves. */
	assert_int_equal(bp.hdr.ramdisk_image, 0x23456000);
	assert_int_equal(bp.ext_ramdisk_image, 1);
	assert_int_equal(bp.hdr.ramdisk_size, 2);
	assert_int_equal(bp.ext_ramdisk_size, 1);
	gm_destroy(&m);

	/* Exactly 3 GiB: no high region. */
	assert_int_equal(gm_init(&m, 0, 3 * GiB, X86_MMIO_HOLE_START,
					X86_MMIO_HOLE_END), 0);
	load_bz(&m, &k);
	assert_int_equal(x86_write_boot_params(&m, &k, "", 0, 0, 0, &why), 0);
	read_zero_page(&m, &bp);
	assert_int_equal(bp.e820_entries, 4);
	check_e820(&bp, 3, 0x100000, 0xc0000000 - 0x100000, 1);
	gm_destroy(&m);
}

static void test_cmdline_limits(void **state)
{
	struct x86_kernel k;
	static struct boot_params bp;
	const char *why = NULL;
	char *line = malloc(X86_CMDLINE_MAX + 16);

	assert_non_null(line);
	load_bz(&mem64, &k);	/* cmdline_size 2047 */
	memset(line, 'x', 2047);
	line[2047] = '\0';
	assert_int_equal(x86_write_boot_params(&mem64, &k, line, 0, 0, 0, &why), 0);
	assert_int_equal(((char *)gm_ptr(&mem64, X86_CMDLINE, 2048))[2047], '\0');

	/* One byte over: refused, and the zero page is not written. */
	memset(gm_ptr(&mem64, X86_ZERO_PAGE, sizeof(bp)), 0, sizeof(bp));
	line[2047] = 'y';
	line[2048] = '\0';
	why = NULL;
	assert_int_equal(x86_write_boot_params(&mem64, &k, line, 0, 0, 0, &why), -E2BIG);
	assert_non_null(why);
	read_zero_page(&mem64, &bp);
	assert_int_equal(bp.hdr.header, 0);

	/* A kernel that gives no cmdline_size takes 255 bytes. */
	k.hdr.cmdline_size = 0;
	memset(line, 'z', 256);
	line[255] = '\0';
	assert_int_equal(x86_write_boot_params(&mem64, &k, line, 0, 0, 0, &why), 0);
	line[255] = 'z';
	line[256] = '\0';
	assert_int_equal(x86_write_boot_params(&mem64, &k, line, 0, 0, 0, &why), -E2BIG);

	/* Whatever the kernel says, our buffer is X86_CMDLINE_MAX. */
	k.hdr.cmdline_size = 0x7fffffff;
	memset(line, 'w', X86_CMDLINE_MAX);
	line[X86_CMDLINE_MAX] = '\0';
	assert_int_equal(x86_write_boot_params(&mem64, &k, line, 0, 0, 0, &why), -E2BIG);
	free(line);
}

static void test_initrd_addr(void **state)
{
	struct guest_mem m;
	struct x86_kernel k;
	uint64_t addr = 0;
	const uint64_t len = 0x123456;

	assert_int_equal(gm_init(&m, 0, 256 * MiB, X86_MMIO_HOLE_START,
					X86_MMIO_HOLE_END), 0);
	load_bz(&m, &k);	/* initrd_addr_max 0x7fffffff, ends at 24 MiB */
	assert_int_equal(x86_initrd_addr(&m, &k, len, &addr), 0);
	assert_int_equal(addr & 0xfff, 0);
	assert_true(addr + len <= 256 * MiB);
	assert_true(addr + len > 256 * MiB - 0x1000);	/* as high as possible */
	assert_true(addr >= k.end);
	assert_int_equal(addr, (256 * MiB - len) & ~0xfffULL);

	/* Too big to fit above the kernel, or at all. */
	assert_int_equal(x86_initrd_addr(&m, &k, 256 * MiB - k.end + 1, &addr), -ENOSPC);
	assert_int_equal(x86_initrd_addr(&m, &k, 512 * MiB, &addr), -ENOSPC);
	/* Exactly the room there is. */
	assert_int_equal(x86_initrd_addr(&m, &k, 256 * MiB - k.end, &addr), 0);
	assert_int_equal(addr, k.end);
	gm_destroy(&m);

	/* 1 GiB of RAM, but the kernel takes initrds only below 896 MiB. */
	assert_int_equal(gm_init(&m, 0, 1 * GiB, X86_MMIO_HOLE_START,
					X86_MMIO_HOLE_END), 0);
	load_bz(&m, &k);
	k.hdr.initrd_addr_max = 0x37ffffff;
	assert_int_equal(x86_initrd_addr(&m, &k, len, &addr), 0);
	assert_int_equal(addr & 0xfff, 0);
	assert_true(addr + len - 1 <= 0x37ffffff);
	assert_true(addr + len > 0x38000000 - 0x1000);
	/* No initrd_addr_max at all: the old 0x37ffffff default. */
	k.hdr.initrd_addr_max = 0;
	assert_int_equal(x86_initrd_addr(&m, &k, len, &addr), 0);
	assert_true(addr + len - 1 <= 0x37ffffff);
	gm_destroy(&m);

	/* 5 GiB: the initrd stays below the hole (low memory). */
	assert_int_equal(gm_init(&m, 0, 5 * GiB, X86_MMIO_HOLE_START,
					X86_MMIO_HOLE_END), 0);
	load_bz(&m, &k);
	k.hdr.initrd_addr_max = 0xffffffff;
	assert_int_equal(x86_initrd_addr(&m, &k, len, &addr), 0);
	assert_true(addr + len <= 0xc0000000);
	assert_true(gm_valid(&m, addr, len));
	gm_destroy(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bzimage_load),
		cmocka_unit_test(test_bzimage_pref_address),
		cmocka_unit_test(test_bzimage_header_extent),
		cmocka_unit_test(test_bzimage_rejects),
		cmocka_unit_test(test_elf_load),
		cmocka_unit_test(test_elf_rejects),
		cmocka_unit_test(test_boot_params_256m),
		cmocka_unit_test(test_boot_params_high_mem),
		cmocka_unit_test(test_cmdline_limits),
		cmocka_unit_test(test_initrd_addr),
	};

	return cmocka_run_group_tests(tests, setup_mem, teardown_mem);
}
