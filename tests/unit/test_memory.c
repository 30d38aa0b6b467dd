/* Unit tests for vmm/memory.c: region layout around the MMIO hole, the
 * bounds of every accessor (region ends, the hole, uint64 overflow, len 0),
 * and that the pages really are the memfd's shared pages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "memory.h"

#define MiB (1024ULL * 1024)

/* 16 MiB of RAM with a hole at [8 MiB, 12 MiB): [0, 8M) and [12M, 20M). */
#define RAM	(16 * MiB)
#define HOLE_S	(8 * MiB)
#define HOLE_E	(12 * MiB)
#define HI_END	(HOLE_E + (RAM - HOLE_S))

static int setup_split(void **state)
{
	static struct guest_mem m;

	if (gm_init(&m, 0, RAM, HOLE_S, HOLE_E) < 0)
		return -1;
	*state = &m;
	return 0;
}

static int teardown(void **state)
{
	gm_destroy(*state);
	return 0;
}

static void test_split_layout(void **state)
{
	struct guest_mem *m = *state;

	assert_true(m->memfd >= 0);
	assert_int_equal(m->total, RAM);
	assert_int_equal(m->nregions, 2);
	assert_int_equal(m->regions[0].gpa, 0);
	assert_int_equal(m->regions[0].size, HOLE_S);
	assert_int_equal(m->regions[0].fd_offset, 0);
	assert_ptr_equal(m->regions[0].hva, m->base);
	assert_int_equal(m->regions[1].gpa, HOLE_E);
	assert_int_equal(m->regions[1].size, RAM - HOLE_S);
	assert_int_equal(m->regions[1].fd_offset, HOLE_S);
	assert_ptr_equal(m->regions[1].hva, m->base + HOLE_S);
	assert_int_equal(gm_low_end(m), HOLE_S);

	/* gm_ptr translates through the right region. */
	assert_ptr_equal(gm_ptr(m, 0, 1), m->base);
	assert_ptr_equal(gm_ptr(m, 0x1234, 4), m->base + 0x1234);
	assert_ptr_equal(gm_ptr(m, HOLE_E, 1), m->base + HOLE_S);
	assert_ptr_equal(gm_ptr(m, HOLE_E + 0x5678, 8), m->base + HOLE_S + 0x5678);
}

static void test_region_ends(void **state)
{
	struct guest_mem *m = *state;
	uint8_t b = 0;

	/* Last byte of the low region is RAM; the next is the hole. */
	assert_non_null(gm_ptr(m, HOLE_S - 1, 1));
	assert_true(gm_valid(m, HOLE_S - 1, 1));
	assert_null(gm_ptr(m, HOLE_S, 1));
	assert_false(gm_valid(m, HOLE_S, 1));
	/* A whole region at once is fine, one byte more is not. */
	assert_true(gm_valid(m, 0, HOLE_S));
	assert_false(gm_valid(m, 0, HOLE_S + 1));
	assert_true(gm_valid(m, HOLE_E, RAM - HOLE_S));
	assert_false(gm_valid(m, HOLE_E, RAM - HOLE_S + 1));

	/* Inside the hole. */
	assert_false(gm_valid(m, HOLE_S + MiB, 1));
	assert_false(gm_valid(m, HOLE_E - 1, 1));
	assert_int_equal(gm_read(m, HOLE_E - 1, &b, 1), -EFAULT);
	assert_int_equal(gm_write(m, HOLE_S, &b, 1), -EFAULT);
	assert_int_equal(gm_zero(m, HOLE_S + 4096, 1), -EFAULT);

	/* First and last byte of the high region, then one past the end. */
	assert_true(gm_valid(m, HOLE_E, 1));
	assert_true(gm_valid(m, HI_END - 1, 1));
	assert_false(gm_valid(m, HI_END, 1));
	assert_null(gm_ptr(m, HI_END, 1));
	assert_int_equal(gm_read(m, HI_END - 1, &b, 1), 0);
	assert_int_equal(gm_read(m, HI_END, &b, 1), -EFAULT);
	assert_false(gm_valid(m, 64ULL << 30, 1));
}

static void test_crossing(void **state)
{
	struct guest_mem *m = *state;
	uint8_t buf[16];

	memset(buf, 0x5a, sizeof(buf));
	/* Ending exactly at the region end is fine; one more byte crosses. */
	assert_int_equal(gm_write(m, HOLE_S - 4, buf, 4), 0);
	assert_int_equal(gm_write(m, HOLE_S - 4, buf, 5), -EFAULT);
	assert_int_equal(gm_read(m, HOLE_S - 2, buf, 4), -EFAULT);
	assert_int_equal(gm_zero(m, HOLE_S - 1, 2), -EFAULT);
	assert_null(gm_ptr(m, HOLE_S - 8, 16));
	/* A failed write must not have written its in-range part. */
	memset(buf, 0x11, sizeof(buf));
	assert_int_equal(gm_write(m, HOLE_S - 2, buf, 4), -EFAULT);
	assert_int_equal(gm_read(m, HOLE_S - 2, buf, 2), 0);
	assert_int_equal(buf[0], 0x5a);
	assert_int_equal(buf[1], 0x5a);

	/* Spanning the whole hole, low region to high region. */
	assert_false(gm_valid(m, HOLE_S - 1, HOLE_E - HOLE_S + 2));
	/* Starting in the hole and ending in the high region. */
	assert_false(gm_valid(m, HOLE_E - 2, 4));
	/* Crossing the end of RAM. */
	assert_false(gm_valid(m, HI_END - 4, 8));
	assert_int_equal(gm_write(m, HI_END - 4, buf, 8), -EFAULT);
}

static void test_overflow(void **state)
{
	struct guest_mem *m = *state;
	uint8_t buf[4] = { 0 };

	assert_null(gm_ptr(m, UINT64_MAX - 1, 4));
	assert_false(gm_valid(m, UINT64_MAX - 1, 4));
	assert_int_equal(gm_read(m, UINT64_MAX - 1, buf, 4), -EFAULT);
	assert_int_equal(gm_write(m, UINT64_MAX - 1, buf, 4), -EFAULT);
	assert_int_equal(gm_zero(m, UINT64_MAX - 1, 4), -EFAULT);
	/* Valid start, length that wraps gpa + len around to a small value. */
	assert_null(gm_ptr(m, 0x1000, UINT64_MAX));
	assert_null(gm_ptr(m, 0x1000, UINT64_MAX - 0xfff));
	assert_null(gm_ptr(m, HOLE_E, UINT64_MAX - HOLE_E + 1));
	assert_false(gm_valid(m, HOLE_E + 16, UINT64_MAX - 8));
	assert_null(gm_ptr(m, UINT64_MAX, 1));
}

static void test_len_zero(void **state)
{
	struct guest_mem *m = *state;
	uint8_t b = 0x77;

	/* len 0 is valid exactly where a 1-byte access would be. */
	assert_non_null(gm_ptr(m, 0x1000, 0));
	assert_ptr_equal(gm_ptr(m, HOLE_E, 0), m->base + HOLE_S);
	assert_null(gm_ptr(m, HOLE_S, 0));
	assert_null(gm_ptr(m, HI_END, 0));
	assert_null(gm_ptr(m, UINT64_MAX, 0));
	assert_true(gm_valid(m, HOLE_S - 1, 0));
	assert_false(gm_valid(m, HOLE_S, 0));
	assert_false(gm_valid(m, HI_END, 0));

	assert_int_equal(gm_write(m, 0x2000, &b, 1), 0);
	assert_int_equal(gm_read(m, 0x2000, &b, 0), 0);
	assert_int_equal(gm_write(m, 0x2000, &b, 0), 0);
	assert_int_equal(gm_zero(m, 0x2000, 0), 0);
	/* ... and touched nothing. */
	b = 0;
	assert_int_equal(gm_read(m, 0x2000, &b, 1), 0);
	assert_int_equal(b, 0x77);

	assert_int_equal(gm_read(m, HOLE_S, &b, 0), -EFAULT);
	assert_int_equal(gm_write(m, HI_END, &b, 0), -EFAULT);
	assert_int_equal(gm_zero(m, HOLE_S + 1, 0), -EFAULT);
}

static void test_read_write_zero(void **state)
{
	struct guest_mem *m = *state;
	uint8_t in[300], out[300];

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 7 + 3);
	assert_int_equal(gm_write(m, HOLE_E + 0x10000, in, sizeof(in)), 0);
	memset(out, 0, sizeof(out));
	assert_int_equal(gm_read(m, HOLE_E + 0x10000, out, sizeof(out)), 0);
	assert_memory_equal(in, out, sizeof(in));
	/* The high region is backed by memfd offset HOLE_S onwards. */
	assert_memory_equal(m->base + HOLE_S + 0x10000, in, sizeof(in));

	assert_int_equal(gm_zero(m, HOLE_E + 0x10000 + 10, 100), 0);
	assert_int_equal(gm_read(m, HOLE_E + 0x10000, out, sizeof(out)), 0);
	assert_memory_equal(out, in, 10);
	for (size_t i = 10; i < 110; i++)
		assert_int_equal(out[i], 0);
	assert_memory_equal(out + 110, in + 110, sizeof(in) - 110);
}

static void test_memfd_shared(void **state)
{
	struct guest_mem *m = *state;
	const char msg[] = "shared with vhost-user";
	char back[sizeof(msg)];
	int seals;

	/* Written through the accessor, visible through the file. */
	assert_int_equal(gm_write(m, 0x3000, msg, sizeof(msg)), 0);
	memset(back, 0, sizeof(back));
	assert_int_equal(pread(m->memfd, back, sizeof(back), 0x3000), sizeof(back));
	assert_memory_equal(back, msg, sizeof(msg));

	/* High region: guest address HOLE_E + x is file offset HOLE_S + x. */
	assert_int_equal(gm_write(m, HOLE_E + 0x4000, msg, sizeof(msg)), 0);
	memset(back, 0, sizeof(back));
	assert_int_equal(pread(m->memfd, back, sizeof(back),
			       (off_t)(HOLE_S + 0x4000)), sizeof(back));
	assert_memory_equal(back, msg, sizeof(msg));

	/* And the other way: written through the file, read by the guest. */
	assert_int_equal(pwrite(m->memfd, "XYZ", 3, 0x5000), 3);
	memset(back, 0, sizeof(back));
	assert_int_equal(gm_read(m, 0x5000, back, 3), 0);
	assert_memory_equal(back, "XYZ", 3);

	assert_int_equal(lseek(m->memfd, 0, SEEK_END), (off_t)RAM);
	/* The size is sealed: a backend's mapping can never lose its pages. */
	seals = fcntl(m->memfd, F_GET_SEALS);
	assert_true(seals >= 0);
	assert_true(seals & F_SEAL_SHRINK);
	assert_true(seals & F_SEAL_GROW);
	assert_int_equal(ftruncate(m->memfd, (off_t)(RAM / 2)), -1);
	assert_int_equal(fcntl(m->memfd, F_GETFD), FD_CLOEXEC);
}

static void test_no_hole_needed(void **state)
{
	struct guest_mem m;

	/* RAM ends below the hole: one region. */
	assert_int_equal(gm_init(&m, 0, 4 * MiB, HOLE_S, HOLE_E), 0);
	assert_int_equal(m.nregions, 1);
	assert_int_equal(m.regions[0].size, 4 * MiB);
	assert_true(gm_valid(&m, 4 * MiB - 1, 1));
	assert_false(gm_valid(&m, 4 * MiB, 1));
	gm_destroy(&m);

	/* RAM ends exactly at the hole: still one region. */
	assert_int_equal(gm_init(&m, 0, HOLE_S, HOLE_S, HOLE_E), 0);
	assert_int_equal(m.nregions, 1);
	assert_int_equal(gm_low_end(&m), HOLE_S);
	assert_false(gm_valid(&m, HOLE_E, 1));
	gm_destroy(&m);

	/* hole_start == hole_end means no hole at all. */
	assert_int_equal(gm_init(&m, 0, 16 * MiB, HOLE_S, HOLE_S), 0);
	assert_int_equal(m.nregions, 1);
	assert_true(gm_valid(&m, HOLE_S, 1));
	assert_true(gm_valid(&m, 16 * MiB - 1, 1));
	gm_destroy(&m);
}

static void test_base_gpa(void **state)
{
	const uint64_t base = 0x80000000ULL;
	struct guest_mem m;
	uint32_t v = 0xdeadbeef, r = 0;

	/* aarch64 style: RAM at 2 GiB, no hole. */
	assert_int_equal(gm_init(&m, base, 32 * MiB, 0, 0), 0);
	assert_int_equal(m.nregions, 1);
	assert_int_equal(m.regions[0].gpa, base);
	assert_int_equal(m.regions[0].size, 32 * MiB);
	assert_int_equal(gm_low_end(&m), base + 32 * MiB);

	assert_false(gm_valid(&m, 0, 1));
	assert_false(gm_valid(&m, base - 1, 1));
	assert_false(gm_valid(&m, base - 2, 4));
	assert_true(gm_valid(&m, base, 1));
	assert_ptr_equal(gm_ptr(&m, base, 4), m.base);
	assert_true(gm_valid(&m, base + 32 * MiB - 1, 1));
	assert_false(gm_valid(&m, base + 32 * MiB, 1));
	assert_false(gm_valid(&m, base + 32 * MiB - 2, 4));

	assert_int_equal(gm_write(&m, base + 0x100, &v, 4), 0);
	assert_int_equal(pread(m.memfd, &r, 4, 0x100), 4);
	assert_int_equal(r, 0xdeadbeef);
	assert_int_equal(gm_read(&m, 0x100, &r, 4), -EFAULT);
	gm_destroy(&m);

	/* With a hole above RAM start the split is relative to base_gpa. */
	assert_int_equal(gm_init(&m, base, 32 * MiB, base + 16 * MiB,
					base + 64 * MiB), 0);
	assert_int_equal(m.nregions, 2);
	assert_int_equal(m.regions[0].size, 16 * MiB);
	assert_int_equal(m.regions[1].gpa, base + 64 * MiB);
	assert_int_equal(m.regions[1].size, 16 * MiB);
	assert_int_equal(m.regions[1].fd_offset, 16 * MiB);
	assert_true(gm_valid(&m, base + 64 * MiB + 16 * MiB - 1, 1));
	assert_false(gm_valid(&m, base + 64 * MiB + 16 * MiB, 1));
	gm_destroy(&m);
}

static void test_invalid_sizes(void **state)
{
	struct guest_mem m;

	assert_int_equal(gm_init(&m, 0, 0, 0, 0), -EINVAL);
	assert_int_equal(m.memfd, -1);
	assert_int_equal(m.nregions, 0);
	assert_int_equal(gm_init(&m, 0, 4096 + 1, 0, 0), -EINVAL);
	assert_int_equal(gm_init(&m, 0, 100, 0, 0), -EINVAL);
	assert_int_equal(gm_init(&m, 0x800, 4096, 0, 0), -EINVAL);
	/* base + size wraps around. */
	assert_int_equal(gm_init(&m, UINT64_MAX & ~0xfffULL, 0x2000, 0, 0),
			 -EINVAL);
	/* A hole starting at or below RAM start leaves no low region. */
	assert_int_equal(gm_init(&m, 0, 16 * MiB, 0, HOLE_E), -EINVAL);
	assert_int_equal(m.memfd, -1);
	assert_null(m.base);
	assert_int_equal(m.nregions, 0);
	assert_null(gm_ptr(&m, 0, 1));

	/* Destroy leaves a harmless empty object behind. */
	assert_int_equal(gm_init(&m, 0, 4096, 0, 0), 0);
	assert_true(gm_valid(&m, 4095, 1));
	gm_destroy(&m);
	assert_int_equal(m.memfd, -1);
	assert_int_equal(m.nregions, 0);
	assert_false(gm_valid(&m, 0, 1));
	gm_destroy(&m);
}

/* The line that starts with `key` in /proc/self/smaps for the mapping that
 * starts at `addr`, into `line`; false when there is none. */
static bool smaps_line(const void *addr, const char *key, char *line, size_t size)
{
	char want[32];
	bool in = false, found = false;
	FILE *f = fopen("/proc/self/smaps", "re");

	if (!f)
		return false;
	snprintf(want, sizeof(want), "%lx-", (unsigned long)(uintptr_t)addr);
	while (!found && fgets(line, (int)size, f)) {
		if (strchr(line, '-') && strchr(line, ' ') && strchr(line, '-') < strchr(line, ' '))
			in = !strncmp(line, want, strlen(want));
		else
			found = in && !strncmp(line, key, strlen(key));
	}
	fclose(f);
	return found;
}

/* The "THPeligible:" value of the mapping that starts at `addr`, or -1 when
 * it cannot be read. */
static int thp_eligible(const void *addr)
{
	char line[256];
	int v = -1;

	if (!smaps_line(addr, "THPeligible:", line, sizeof(line)) ||
	    sscanf(line, "THPeligible: %d", &v) != 1)
		return -1;
	return v;
}

/* Whether the mapping that starts at `addr` has the VmFlags flag "mg"
 * (VM_MERGEABLE: offered to KSM). */
static bool vm_mergeable(const void *addr)
{
	char line[512];

	if (!smaps_line(addr, "VmFlags:", line, sizeof(line)))
		return false;
	line[strcspn(line, "\n")] = '\0';
	strcat(line, " ");
	return strstr(line, " mg ") != NULL;
}

/* Whether /proc/self/maps has a mapping that starts at `addr`. */
static bool mapped_at(const void *addr)
{
	char line[256], want[32];
	bool found = false;
	FILE *f = fopen("/proc/self/maps", "re");

	if (!f)
		return false;
	snprintf(want, sizeof(want), "%lx-", (unsigned long)(uintptr_t)addr);
	while (!found && fgets(line, sizeof(line), f))
		found = !strncmp(line, want, strlen(want));
	fclose(f);
	return found;
}

/* Whether /sys/kernel/mm/transparent_hugepage/enabled is "always" or "madvise". */
static bool host_thp(void)
{
	char buf[128] = "";
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "re");

	if (!f)
		return false;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return strstr(buf, "[always]") || strstr(buf, "[madvise]");
}

/* Anonymous guest memory (no vhost-user backend): no fd, the same layout and
 * accessors, and eligible for transparent huge pages where the host has them. */
static void test_anonymous(void **state)
{
	struct guest_mem m;
	uint32_t v = 0x5a5aa5a5, r = 0;

	(void)state;
	assert_int_equal(gm_init_kind(&m, 0, RAM, HOLE_S, HOLE_E, false, true), 0);
	assert_int_equal(m.memfd, -1);
	assert_int_equal((uintptr_t)m.base % (2 * MiB), 0);	/* huge-page aligned */
	assert_int_equal(m.total, RAM);
	assert_int_equal(m.nregions, 2);
	assert_int_equal(m.regions[1].gpa, HOLE_E);
	assert_ptr_equal(m.regions[1].hva, m.base + HOLE_S);
	assert_int_equal(gm_write(&m, HOLE_E + 0x10, &v, 4), 0);
	assert_int_equal(gm_read(&m, HOLE_E + 0x10, &r, 4), 0);
	assert_int_equal(r, v);
	assert_int_equal(gm_write(&m, HOLE_S, &v, 4), -EFAULT);
	assert_int_equal(gm_write(&m, HI_END - 2, &v, 4), -EFAULT);
	/* A child (the process launcher) does not get guest RAM: no mapping at
	 * its address, so no copy-on-write sharing with vmm. */
	{
		pid_t pid = fork();
		int status = 0;

		assert_true(pid >= 0);
		if (pid == 0)
			_exit(mapped_at(m.base) ? 1 : 0);
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
		assert_true(mapped_at(m.base));	/* the parent has it */
	}
	if (host_thp())
		assert_int_equal(thp_eligible(m.base), 1);
	else
		print_message("(transparent huge pages are off on this host: eligibility not checked)\n");
	gm_destroy(&m);
	assert_int_equal(m.memfd, -1);
	assert_null(m.base);

	/* Shared memory keeps its memfd (what a vhost-user backend maps). */
	assert_int_equal(gm_init_kind(&m, 0, 4 * MiB, 0, 0, true, true), 0);
	assert_true(m.memfd >= 0);
	assert_int_equal((uintptr_t)m.base % (2 * MiB), 0);
	gm_destroy(&m);

	/* huge = false ([vm] huge_pages = false): 4 KiB pages even where THP is on. */
	assert_int_equal(gm_init_kind(&m, 0, RAM, HOLE_S, HOLE_E, false, false), 0);
	assert_int_equal(m.memfd, -1);
	if (host_thp())
		assert_int_equal(thp_eligible(m.base), 0);
	gm_destroy(&m);
}

/* gm_merge ([vm] merge_pages): private RAM becomes VM_MERGEABLE, where the
 * kernel has KSM (without it madvise says EINVAL, which vmm reports); shared
 * RAM, which KSM would silently not merge, is refused. */
static void test_merge(void **state)
{
	struct guest_mem m;
	bool ksm = access("/sys/kernel/mm/ksm", F_OK) == 0;

	(void)state;
	assert_int_equal(gm_init_kind(&m, 0, RAM, HOLE_S, HOLE_E, false, false), 0);
	assert_false(vm_mergeable(m.base));
	assert_int_equal(gm_merge(&m), ksm ? 0 : -EINVAL);
	assert_int_equal(vm_mergeable(m.base), ksm);
	gm_destroy(&m);

	assert_int_equal(gm_init_kind(&m, 0, 4 * MiB, 0, 0, true, false), 0);
	assert_int_equal(gm_merge(&m), -EOPNOTSUPP);
	assert_false(vm_mergeable(m.base));
	gm_destroy(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_split_layout, setup_split, teardown),
		cmocka_unit_test_setup_teardown(test_region_ends, setup_split, teardown),
		cmocka_unit_test_setup_teardown(test_crossing, setup_split, teardown),
		cmocka_unit_test_setup_teardown(test_overflow, setup_split, teardown),
		cmocka_unit_test_setup_teardown(test_len_zero, setup_split, teardown),
		cmocka_unit_test_setup_teardown(test_read_write_zero, setup_split, teardown),
		cmocka_unit_test_setup_teardown(test_memfd_shared, setup_split, teardown),
		cmocka_unit_test(test_no_hole_needed),
		cmocka_unit_test(test_base_gpa),
		cmocka_unit_test(test_invalid_sizes),
		cmocka_unit_test(test_anonymous),
		cmocka_unit_test(test_merge),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
