/* Unit tests for vmm/thread.c: a thread's stack is the size asked for, below
 * a guard page, advised out of transparent huge pages (VmFlags "nh" in
 * smaps) before the thread runs, and unmapped by the join. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "thread.h"

struct mapping {
	uintptr_t lo, hi;
	char perm[5];
	bool nohuge;
};

/* The mapping of /proc/self/smaps that holds `addr`; false if none. */
static bool find_mapping(uintptr_t addr, struct mapping *out)
{
	char line[512];
	bool in = false, found = false;
	FILE *f = fopen("/proc/self/smaps", "re");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		char perm[5];

		if (sscanf(line, "%lx-%lx %4s", &lo, &hi, perm) == 3 && strchr(line, ' ')) {
			if (found)
				break;
			in = addr >= lo && addr < hi;
			if (in) {
				found = true;
				*out = (struct mapping){ .lo = lo, .hi = hi };
				memcpy(out->perm, perm, sizeof(perm));
			}
		} else if (in && !strncmp(line, "VmFlags:", 8)) {
			out->nohuge = strstr(line, " nh") != NULL;
		}
	}
	fclose(f);
	return found;
}

struct seen {
	struct mapping stack, below;
	bool below_found;
};

static void *probe(void *arg)
{
	struct seen *s = arg;
	volatile char here = 0;

	assert_true(find_mapping((uintptr_t)&here, &s->stack));
	s->below_found = find_mapping(s->stack.lo - 1, &s->below);
	return NULL;
}

static void test_stack_without_huge_pages(void **state)
{
	struct vmm_thread t;
	struct seen s = { 0 };
	long page = sysconf(_SC_PAGESIZE);
	unsigned char vec;

	(void)state;
	assert_int_equal(vmm_thread_start(&t, probe, &s), 0);
	vmm_thread_join(&t);
	assert_true(s.stack.nohuge);
	assert_string_equal(s.stack.perm, "rw-p");
	assert_int_equal(s.stack.hi - s.stack.lo, VMM_THREAD_STACK);
	/* The guard page right below, unreadable and out of huge pages too. */
	assert_true(s.below_found);
	assert_string_equal(s.below.perm, "---p");
	assert_int_equal(s.below.hi, s.stack.lo);
	assert_int_equal(s.below.hi - s.below.lo, page);
	/* Joined: the whole mapping is gone. */
	assert_null(t.map);
	assert_int_equal(mincore((void *)s.below.lo, (size_t)page, &vec), -1);
	assert_int_equal(mincore((void *)s.stack.lo, (size_t)page, &vec), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stack_without_huge_pages),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
