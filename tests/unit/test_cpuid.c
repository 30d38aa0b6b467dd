/* Unit tests for arch/x86_64/cpuid.c on a made-up but realistic
 * KVM_GET_SUPPORTED_CPUID table (an AVX-512 capable Intel-like host with the
 * AMD extended leaves): hide lists with their implied features, the baseline
 * template, the XSAVE leaf that must follow them, and the topology leaves. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "arch.h"
#include "cpuid.h"

#define BIT(n) (1u << (n))
#define SIG KVM_CPUID_FLAG_SIGNIFCANT_INDEX

/* Leaf 1 */
#define L1_ECX	(BIT(0) | BIT(1) | BIT(3) | BIT(9) | BIT(12) | BIT(13) | BIT(17) | \
		 BIT(19) | BIT(20) | BIT(21) | BIT(22) | BIT(23) | BIT(24) | \
		 BIT(25) | BIT(26) | BIT(28) | BIT(29) | BIT(30))
#define L1_EDX	0x0f8bfbffu	/* fpu..sse2, no HTT (bit 28) */
#define L1_EBX	0x07100800u	/* APIC id 7, 16 logical, CLFLUSH 8 */
/* Leaf 7.0: fsgsbase tsc_adjust(1) bmi1 avx2 smep bmi2 erms invpcid
 * avx512f avx512dq rdseed adx smap clflushopt clwb avx512cd sha_ni
 * avx512bw avx512vl, and bit 13 (unnamed) */
#define L7_EBX	(BIT(0) | BIT(1) | BIT(3) | BIT(5) | BIT(7) | BIT(8) | BIT(9) | \
		 BIT(10) | BIT(13) | BIT(16) | BIT(17) | BIT(18) | BIT(19) | \
		 BIT(20) | BIT(23) | BIT(24) | BIT(28) | BIT(29) | BIT(30) | BIT(31))
/* avx512vbmi umip pku ospke(4) avx512_vbmi2 gfni vaes vpclmulqdq
 * avx512_vnni avx512_bitalg avx512_vpopcntdq la57 rdpid */
#define L7_ECX	(BIT(1) | BIT(2) | BIT(3) | BIT(4) | BIT(6) | BIT(8) | BIT(9) | \
		 BIT(10) | BIT(11) | BIT(12) | BIT(14) | BIT(16) | BIT(22))
/* fsrm md_clear(10) serialize avx512_fp16 ibrs(26) stibp(27)
 * l1d_flush(28) arch_caps(29) ssbd(31) */
#define L7_EDX	(BIT(4) | BIT(10) | BIT(14) | BIT(23) | BIT(26) | BIT(27) | \
		 BIT(28) | BIT(29) | BIT(31))
#define L7_EDX_SPEC (BIT(10) | BIT(26) | BIT(27) | BIT(28) | BIT(29) | BIT(31))
/* XCR0: x87 SSE AVX opmask ZMM_Hi256 Hi16_ZMM PKRU */
#define XCR0	(BIT(0) | BIT(1) | BIT(2) | BIT(5) | BIT(6) | BIT(7) | BIT(9))

static const struct kvm_cpuid_entry2 host[] = {
	{ .function = 0, .eax = 0x1f, .ebx = 0x756e6547, .ecx = 0x6c65746e,
	  .edx = 0x49656e69 },
	{ .function = 1, .eax = 0x000806f8, .ebx = L1_EBX, .ecx = L1_ECX,
	  .edx = L1_EDX },
	/* Deterministic cache parameters: L1d, L1i, L2, L3, then the null
	 * leaf. Host: 2 threads share L1/L2, 64 share L3, 32 cores. */
	{ .function = 4, .index = 0, .flags = SIG, .eax = 0x7c004121,
	  .ebx = 0x02c0003f, .ecx = 0x3f },
	{ .function = 4, .index = 1, .flags = SIG, .eax = 0x7c004122,
	  .ebx = 0x01c0003f, .ecx = 0x3f },
	{ .function = 4, .index = 2, .flags = SIG, .eax = 0x7c004143,
	  .ebx = 0x03c0003f, .ecx = 0x7ff },
	{ .function = 4, .index = 3, .flags = SIG, .eax = 0x7c0fc163,
	  .ebx = 0x03c0003f, .ecx = 0xbfff, .edx = 4 },
	{ .function = 4, .index = 4, .flags = SIG },
	{ .function = 7, .index = 0, .flags = SIG, .eax = 1, .ebx = L7_EBX,
	  .ecx = L7_ECX, .edx = L7_EDX },
	{ .function = 7, .index = 1, .flags = SIG, .eax = BIT(4) | BIT(5) },
	{ .function = 0xb, .index = 0, .flags = SIG, .eax = 1, .ebx = 2,
	  .ecx = 0x100, .edx = 7 },
	{ .function = 0xb, .index = 1, .flags = SIG, .eax = 7, .ebx = 64,
	  .ecx = 0x201, .edx = 7 },
	{ .function = 0xb, .index = 2, .flags = SIG, .ecx = 2, .edx = 7 },
	{ .function = 0xd, .index = 0, .flags = SIG, .eax = XCR0, .ebx = 0xa88,
	  .ecx = 0xa88 },
	{ .function = 0xd, .index = 1, .flags = SIG, .eax = 0xf, .ebx = 0xa88,
	  .ecx = BIT(8) | BIT(11) | BIT(12) },
	{ .function = 0xd, .index = 2, .flags = SIG, .eax = 0x100, .ebx = 0x240 },
	{ .function = 0xd, .index = 5, .flags = SIG, .eax = 0x40, .ebx = 0x440 },
	{ .function = 0xd, .index = 6, .flags = SIG, .eax = 0x200, .ebx = 0x480 },
	{ .function = 0xd, .index = 7, .flags = SIG, .eax = 0x400, .ebx = 0x680 },
	{ .function = 0xd, .index = 9, .flags = SIG, .eax = 0x8, .ebx = 0xa80 },
	{ .function = 0x40000000, .eax = 0x40000001, .ebx = 0x4b4d564b,
	  .ecx = 0x564b4d56, .edx = 0x4d },
	{ .function = 0x40000001, .eax = 0x01007afb },
	{ .function = 0x80000000, .eax = 0x80000021 },
	/* lahf_lm abm 3dnowprefetch / syscall nx pdpe1gb rdtscp lm */
	{ .function = 0x80000001, .ecx = BIT(0) | BIT(5) | BIT(8),
	  .edx = BIT(11) | BIT(20) | BIT(26) | BIT(27) | BIT(29) },
	{ .function = 0x80000007, .edx = BIT(8) },
	/* 46/57-bit addresses; ECX: host NC 63, ApicIdSize 7, and bits
	 * 16-17 (perf TSC size) that topology must not touch. */
	{ .function = 0x80000008, .eax = 0x392e, .ecx = 0x3703f },
	{ .function = 0x8000001e, .eax = 0x3e, .ebx = 0x11f, .ecx = 0x300 },
};

#define NHOST (sizeof(host) / sizeof(host[0]))

static struct kvm_cpuid2 *make_host(void)
{
	struct kvm_cpuid2 *c = cpuid_alloc(NHOST);

	assert_non_null(c);
	assert_int_equal(c->nent, NHOST);
	memcpy(c->entries, host, sizeof(host));
	return c;
}

static struct kvm_cpuid_entry2 *get(struct kvm_cpuid2 *c, uint32_t fn, uint32_t idx)
{
	struct kvm_cpuid_entry2 *e = cpuid_find(c, fn, idx);

	if (!e)
		print_error("no CPUID entry %#x.%u\n", fn, idx);
	assert_non_null(e);
	return e;
}

/* Every register of every entry equal to `want`, except the one named. */
static void assert_only_diff(const struct kvm_cpuid2 *c,
			     const struct kvm_cpuid_entry2 *want,
			     uint32_t fn, uint32_t idx, unsigned reg, uint32_t clear)
{
	for (uint32_t i = 0; i < c->nent; i++) {
		const struct kvm_cpuid_entry2 *e = &c->entries[i];
		uint32_t w[4] = { want[i].eax, want[i].ebx, want[i].ecx, want[i].edx };
		const uint32_t g[4] = { e->eax, e->ebx, e->ecx, e->edx };

		assert_int_equal(e->function, want[i].function);
		assert_int_equal(e->index, want[i].index);
		assert_int_equal(e->flags, want[i].flags);
		if (e->function == fn && e->index == idx)
			w[reg] &= ~clear;
		for (unsigned r = 0; r < 4; r++) {
			if (g[r] != w[r])
				print_error("%#x.%u reg %u: %#x, want %#x\n",
					    e->function, e->index, r, g[r], w[r]);
			assert_int_equal(g[r], w[r]);
		}
	}
}

static void test_find(void **state)
{
	struct kvm_cpuid2 *c = make_host();
	struct kvm_cpuid2 *d;

	assert_int_equal(get(c, 0xb, 1)->ebx, 64);
	assert_int_equal(get(c, 0xb, 0)->ebx, 2);
	assert_int_equal(get(c, 0xd, 5)->ebx, 0x440);
	assert_null(cpuid_find(c, 0xd, 3));
	assert_null(cpuid_find(c, 0x80000005, 0));
	/* Leaves without subleaves ignore the index. */
	assert_int_equal(get(c, 0x80000001, 3)->ecx, host[22].ecx);
	d = cpuid_dup(c);
	assert_non_null(d);
	assert_int_equal(d->nent, c->nent);
	assert_memory_equal(d->entries, c->entries, sizeof(host));
	free(c);
	free(d);
}

static void test_hide_cx16(void **state)
{
	struct kvm_cpuid2 *c = make_host();
	char *hide[] = { "cx16" };

	assert_true(cpuid_has(c, "cx16"));
	cpuid_apply_template(c, CPU_TEMPLATE_HOST, hide, 1);
	assert_false(cpuid_has(c, "cx16"));
	/* Nothing else changes anywhere. */
	assert_only_diff(c, host, 1, 0, 2, BIT(13));
	free(c);
}

static void test_host_no_hide_is_identity(void **state)
{
	struct kvm_cpuid2 *c = make_host();

	cpuid_apply_template(c, CPU_TEMPLATE_HOST, NULL, 0);
	assert_only_diff(c, host, 0, 0, 0, 0);
	free(c);
}

static void test_hide_xsave(void **state)
{
	struct kvm_cpuid2 *c = make_host();
	char *hide[] = { "xsave" };

	cpuid_apply_template(c, CPU_TEMPLATE_HOST, hide, 1);
	assert_false(cpuid_has(c, "xsave"));
	assert_false(cpuid_has(c, "avx"));
	assert_false(cpuid_has(c, "avx2"));
	assert_false(cpuid_has(c, "avx512f"));
	assert_false(cpuid_has(c, "avx512vl"));
	assert_false(cpuid_has(c, "fma"));
	assert_false(cpuid_has(c, "f16c"));
	assert_false(cpuid_has(c, "vaes"));
	assert_false(cpuid_has(c, "pku"));
	/* The whole XSAVE leaf goes. */
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function != 0xd)
			continue;
		assert_int_equal(e->eax, 0);
		assert_int_equal(e->ebx, 0);
		assert_int_equal(e->ecx, 0);
		assert_int_equal(e->edx, 0);
	}
	/* Unrelated features stay. */
	assert_true(cpuid_has(c, "cx16"));
	assert_true(cpuid_has(c, "sse4_2"));
	assert_true(cpuid_has(c, "aes"));
	assert_true(cpuid_has(c, "bmi2"));
	assert_true(cpuid_has(c, "smep"));
	assert_int_equal(get(c, 1, 0)->ecx, L1_ECX & ~(BIT(26) | BIT(28) | BIT(12) | BIT(29)));
	free(c);
}

static void test_hide_avx(void **state)
{
	static const char *const gone[] = {
		"avx", "avx2", "fma", "f16c", "avx512f", "avx512dq", "avx512cd",
		"avx512bw", "avx512vl", "avx512vbmi", "avx512_vbmi2",
		"avx512_vnni", "avx512_bitalg", "avx512_vpopcntdq", "avx512_fp16",
		"vaes", "vpclmulqdq",
	};
	struct kvm_cpuid2 *c = make_host();
	char *hide[] = { "avx" };
	struct kvm_cpuid_entry2 *d0;

	cpuid_apply_template(c, CPU_TEMPLATE_HOST, hide, 1);
	for (size_t i = 0; i < sizeof(gone) / sizeof(gone[0]); i++) {
		if (cpuid_has(c, gone[i]))
			print_error("%s still set after hiding avx\n", gone[i]);
		assert_false(cpuid_has(c, gone[i]));
	}
	assert_int_equal(get(c, 7, 0)->ebx & 0xffff0000u,
			 L7_EBX & 0xffff0000u & ~(BIT(16) | BIT(17) | BIT(28) |
						   BIT(30) | BIT(31)));
	/* XSAVE stays, for x87/SSE (and PKRU) state. */
	assert_true(cpuid_has(c, "xsave"));
	assert_true(cpuid_has(c, "xsaveopt"));
	assert_true(cpuid_has(c, "pku"));
	assert_true(cpuid_has(c, "sse4_2"));
	assert_true(cpuid_has(c, "bmi1"));
	assert_true(cpuid_has(c, "gfni"));
	d0 = get(c, 0xd, 0);
	assert_int_equal(d0->eax & 0x3, 0x3);
	assert_int_equal(d0->eax & BIT(2), 0);
	assert_int_equal(d0->eax & (BIT(5) | BIT(6) | BIT(7)), 0);
	assert_int_equal(d0->eax, BIT(0) | BIT(1) | BIT(9));
	assert_int_equal(d0->edx, 0);
	/* The subleaves of the states that went are empty; PKRU's is not. */
	for (uint32_t idx = 2; idx <= 7; idx++) {
		struct kvm_cpuid_entry2 *e = cpuid_find(c, 0xd, idx);

		if (!e)
			continue;
		assert_int_equal(e->eax, 0);
		assert_int_equal(e->ebx, 0);
	}
	assert_int_equal(get(c, 0xd, 9)->eax, 8);
	assert_int_equal(get(c, 0xd, 1)->eax, 0xf);
	free(c);
}

static void test_hide_avx512f(void **state)
{
	struct kvm_cpuid2 *c = make_host();
	char *hide[] = { "avx512f" };

	cpuid_apply_template(c, CPU_TEMPLATE_HOST, hide, 1);
	assert_true(cpuid_has(c, "avx"));
	assert_true(cpuid_has(c, "avx2"));
	assert_false(cpuid_has(c, "avx512f"));
	assert_false(cpuid_has(c, "avx512bw"));
	assert_false(cpuid_has(c, "avx512_vnni"));
	assert_false(cpuid_has(c, "avx512_vpopcntdq"));
	assert_false(cpuid_has(c, "avx512_fp16"));
	assert_int_equal(get(c, 0xd, 0)->eax, BIT(0) | BIT(1) | BIT(2) | BIT(9));
	assert_int_equal(get(c, 0xd, 2)->eax, 0x100);
	assert_int_equal(get(c, 0xd, 5)->eax, 0);
	free(c);
}

static void test_hide_several(void **state)
{
	struct kvm_cpuid2 *c = make_host();
	char *hide[] = { "pku", "rdrand", "la57", "sse4_2" };

	cpuid_apply_template(c, CPU_TEMPLATE_HOST, hide, 4);
	assert_false(cpuid_has(c, "pku"));
	assert_false(cpuid_has(c, "rdrand"));
	assert_false(cpuid_has(c, "la57"));
	assert_false(cpuid_has(c, "sse4_2"));
	/* Only what was named, and no more. */
	assert_true(cpuid_has(c, "sse4_1"));
	assert_true(cpuid_has(c, "popcnt"));
	assert_true(cpuid_has(c, "rdseed"));
	assert_true(cpuid_has(c, "gfni"));
	assert_int_equal(get(c, 1, 0)->ecx, L1_ECX & ~(BIT(20) | BIT(30)));
	/* PKRU state leaves XCR0 with pku. */
	assert_int_equal(get(c, 0xd, 0)->eax & BIT(9), 0);
	assert_int_equal(get(c, 0xd, 9)->eax, 0);
	/* The XSAVE area now ends with AVX-512's ZMM_Hi256 (0x680 + 0x400),
	 * not with PKRU (0xa80 + 8): Linux checks these sizes and turns XSAVE
	 * off if they disagree with the components. */
	assert_int_equal(get(c, 0xd, 0)->ecx, 0xa80);
	assert_int_equal(get(c, 0xd, 0)->ebx, 0xa80);
	free(c);
}

static void test_baseline(void **state)
{
	static const char *const kept[] = {
		"fpu", "tsc", "cx8", "apic", "cmov", "clflush", "mmx", "fxsr", "sse",
		"sse2", "sse3", "pni", "pclmulqdq", "ssse3", "cx16", "pcid",
		"sse4_1", "sse4_2", "x2apic", "popcnt", "tsc_deadline_timer", "aes",
		"xsave", "fsgsbase", "smep", "erms", "smap", "xsaveopt", "lahf_lm",
		"syscall", "nx", "pdpe1gb", "rdtscp", "lm", "constant_tsc",
	};
	static const char *const dropped[] = {
		"avx", "avx2", "avx512f", "fma", "f16c", "movbe", "rdrand",
		"monitor", "bmi1", "bmi2", "invpcid", "adx", "rdseed", "clflushopt",
		"clwb", "sha_ni", "avx512vl", "pku", "umip", "gfni", "vaes", "la57",
		"rdpid", "fsrm", "serialize", "xsavec", "xgetbv1", "xsaves",
		"abm", "3dnowprefetch", "avx512_vnni",
	};
	struct kvm_cpuid2 *c = make_host();
	struct kvm_cpuid_entry2 *e7;

	cpuid_apply_template(c, CPU_TEMPLATE_BASELINE, NULL, 0);
	for (size_t i = 0; i < sizeof(kept) / sizeof(kept[0]); i++) {
		if (!cpuid_has(c, kept[i]))
			print_error("baseline lost %s\n", kept[i]);
		assert_true(cpuid_has(c, kept[i]));
	}
	for (size_t i = 0; i < sizeof(dropped) / sizeof(dropped[0]); i++) {
		if (cpuid_has(c, dropped[i]))
			print_error("baseline kept %s\n", dropped[i]);
		assert_false(cpuid_has(c, dropped[i]));
	}
	/* Leaf 7: exactly the four named bits, no unnamed ones. */
	e7 = get(c, 7, 0);
	assert_int_equal(e7->ebx, BIT(0) | BIT(7) | BIT(9) | BIT(20));
	assert_int_equal(e7->ecx, 0);
	assert_int_equal(e7->eax, 0);
	assert_int_equal(e7->edx, L7_EDX_SPEC);
	/* XSAVE with x87 and SSE state only, XSAVEOPT only; the area is the
	 * legacy region plus the header. */
	assert_int_equal(get(c, 0xd, 0)->eax, 0x3);
	assert_int_equal(get(c, 0xd, 0)->ecx, 576);
	assert_int_equal(get(c, 0xd, 0)->ebx, 576);
	assert_int_equal(get(c, 0xd, 1)->eax, 0x1);
	assert_int_equal(get(c, 0xd, 2)->eax, 0);
	assert_int_equal(get(c, 0xd, 9)->eax, 0);

	/* A hide list applies on top of the template. */
	free(c);
	c = make_host();
	{
		char *hide[] = { "aes" };

		cpuid_apply_template(c, CPU_TEMPLATE_BASELINE, hide, 1);
		assert_false(cpuid_has(c, "aes"));
		assert_true(cpuid_has(c, "sse4_2"));
	}
	free(c);
}

static void test_topology_4(void **state)
{
	struct kvm_cpuid2 *c = make_host();
	struct kvm_cpuid_entry2 *e;

	cpuid_set_topology(c, 2, 4);
	e = get(c, 1, 0);
	assert_int_equal(e->ebx >> 24, 2);
	assert_int_equal((e->ebx >> 16) & 0xff, 4);
	assert_int_equal(e->ebx & 0xffff, L1_EBX & 0xffff);
	assert_true(e->edx & BIT(28));
	assert_true(e->ecx & BIT(31));
	assert_int_equal(e->ecx & ~BIT(31), L1_ECX);
	assert_int_equal(e->eax, 0x000806f8);

	/* Leaf 4: cores per package - 1, caches private to the core. */
	for (uint32_t i = 0; i < 4; i++) {
		e = get(c, 4, i);
		assert_int_equal(e->eax >> 26, 3);
		assert_int_equal((e->eax >> 14) & 0xfff, 0);
		assert_int_equal(e->eax & 0x3fff, host[2 + i].eax & 0x3fff);
		assert_int_equal(e->ebx, host[2 + i].ebx);
	}
	assert_int_equal(get(c, 4, 4)->eax, 0);

	e = get(c, 0xb, 0);	/* SMT level: 1 thread per core */
	assert_int_equal(e->eax & 0x1f, 0);
	assert_int_equal(e->ebx & 0xffff, 1);
	assert_int_equal(e->ecx & 0xff, 0);
	assert_int_equal((e->ecx >> 8) & 0xff, 1);
	assert_int_equal(e->edx, 2);
	e = get(c, 0xb, 1);	/* core level: 4 cores, 2 bits of APIC ID */
	assert_int_equal(e->eax & 0x1f, 2);
	assert_int_equal(e->ebx & 0xffff, 4);
	assert_int_equal(e->ecx & 0xff, 1);
	assert_int_equal((e->ecx >> 8) & 0xff, 2);
	assert_int_equal(e->edx, 2);
	e = get(c, 0xb, 2);	/* invalid level terminates the list */
	assert_int_equal(e->ebx & 0xffff, 0);
	assert_int_equal((e->ecx >> 8) & 0xff, 0);
	assert_int_equal(e->ecx & 0xff, 2);
	assert_int_equal(e->edx, 2);

	e = get(c, 0x80000008, 0);
	assert_int_equal(e->ecx & 0xff, 3);
	assert_int_equal((e->ecx >> 12) & 0xf, 2);
	assert_int_equal(e->ecx & 0x30000, 0x30000);
	assert_int_equal(e->eax, 0x392e);
	assert_int_equal(get(c, 0x8000001e, 0)->eax, 2);
	free(c);
}

static void test_topology_sizes(void **state)
{
	static const struct { unsigned n, bits; } cases[] = {
		{ 1, 0 }, { 2, 1 }, { 3, 2 }, { 4, 2 }, { 5, 3 }, { 8, 3 },
		{ 9, 4 }, { 64, 6 }, { 255, 8 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kvm_cpuid2 *c = make_host();
		unsigned n = cases[i].n, id = n - 1;
		struct kvm_cpuid_entry2 *e;

		cpuid_set_topology(c, id, n);
		e = get(c, 1, 0);
		assert_int_equal(e->ebx >> 24, id);
		assert_int_equal((e->ebx >> 16) & 0xff, n);
		assert_true(e->ecx & BIT(31));
		if (n > 1)
			assert_true(e->edx & BIT(28));
		assert_int_equal(get(c, 0xb, 1)->eax & 0x1f, cases[i].bits);
		assert_int_equal(get(c, 0xb, 1)->ebx & 0xffff, n);
		assert_int_equal(get(c, 0xb, 0)->edx, id);
		assert_int_equal(get(c, 0xb, 1)->edx, id);
		assert_int_equal(get(c, 0x80000008, 0)->ecx & 0xff, n - 1);
		assert_int_equal((get(c, 0x80000008, 0)->ecx >> 12) & 0xf, cases[i].bits);
		assert_int_equal(get(c, 4, 0)->eax >> 26, (n - 1) & 0x3f);
		free(c);
	}
}

static void test_feature_names(void **state)
{
	static const char *const known[] = {
		"cx16", "xsave", "avx", "avx2", "avx512f", "sse3", "pni", "lm",
		"constant_tsc", "xsaves", "topoext", "hypervisor",
	};
	static const char *const unknown[] = {
		"", "bogus", "avx3", "cx1", "cx16 ", " cx16", "avx512", "sse5",
	};
	const struct cpu_feature *a, *b;
	const char *const *names;
	int seen_pni = 0, seen_sse3 = 0;
	size_t n = 0;

	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		assert_true(arch_cpu_feature_known(known[i]));
	for (size_t i = 0; i < sizeof(unknown) / sizeof(unknown[0]); i++)
		assert_false(arch_cpu_feature_known(unknown[i]));

	a = cpuid_feature("sse3");
	b = cpuid_feature("pni");
	assert_non_null(a);
	assert_non_null(b);
	assert_int_equal(a->fn, 1);
	assert_int_equal(a->fn, b->fn);
	assert_int_equal(a->reg, b->reg);
	assert_int_equal(a->bit, 0);
	assert_int_equal(a->bit, b->bit);
	a = cpuid_feature("cx16");
	assert_int_equal(a->fn, 1);
	assert_int_equal(a->reg, 2);
	assert_int_equal(a->bit, 13);
	a = cpuid_feature("avx512f");
	assert_int_equal(a->fn, 7);
	assert_int_equal(a->index, 0);
	assert_int_equal(a->reg, 1);
	assert_int_equal(a->bit, 16);

	names = arch_cpu_feature_names();
	assert_non_null(names);
	for (; names[n]; n++) {
		assert_true(arch_cpu_feature_known(names[n]));
		seen_pni |= !strcmp(names[n], "pni");
		seen_sse3 |= !strcmp(names[n], "sse3");
	}
	assert_true(n > 50);
	assert_true(seen_pni && seen_sse3);
}

static void test_alias_hide(void **state)
{
	struct kvm_cpuid2 *c = make_host();
	char *hide_pni[] = { "pni" };
	char *hide_sse3[] = { "sse3" };

	assert_true(cpuid_has(c, "pni"));
	cpuid_apply_template(c, CPU_TEMPLATE_HOST, hide_pni, 1);
	assert_false(cpuid_has(c, "pni"));
	assert_false(cpuid_has(c, "sse3"));
	assert_int_equal(get(c, 1, 0)->ecx & BIT(0), 0);
	free(c);

	c = make_host();
	cpuid_apply_template(c, CPU_TEMPLATE_HOST, hide_sse3, 1);
	assert_false(cpuid_has(c, "pni"));
	assert_false(cpuid_has(c, "ssse3"));
	assert_false(cpuid_has(c, "sse4_1"));
	assert_false(cpuid_has(c, "avx"));
	assert_true(cpuid_has(c, "sse2"));
	free(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_find),
		cmocka_unit_test(test_hide_cx16),
		cmocka_unit_test(test_host_no_hide_is_identity),
		cmocka_unit_test(test_hide_xsave),
		cmocka_unit_test(test_hide_avx),
		cmocka_unit_test(test_hide_avx512f),
		cmocka_unit_test(test_hide_several),
		cmocka_unit_test(test_baseline),
		cmocka_unit_test(test_topology_4),
		cmocka_unit_test(test_topology_sizes),
		cmocka_unit_test(test_feature_names),
		cmocka_unit_test(test_alias_hide),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
