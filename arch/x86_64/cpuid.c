/* CPUID templating for x86_64 guests; see cpuid.h. */
#include "cpuid.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch.h"

enum { EAX, EBX, ECX, EDX };

#define F(n, f, i, r, b) { n, f, i, r, b }
static const struct cpu_feature features[] = {
	/* leaf 1 EDX */
	F("fpu", 1, 0, EDX, 0), F("vme", 1, 0, EDX, 1), F("de", 1, 0, EDX, 2),
	F("pse", 1, 0, EDX, 3), F("tsc", 1, 0, EDX, 4), F("msr", 1, 0, EDX, 5),
	F("pae", 1, 0, EDX, 6), F("mce", 1, 0, EDX, 7), F("cx8", 1, 0, EDX, 8),
	F("apic", 1, 0, EDX, 9), F("sep", 1, 0, EDX, 11), F("mtrr", 1, 0, EDX, 12),
	F("pge", 1, 0, EDX, 13), F("mca", 1, 0, EDX, 14), F("cmov", 1, 0, EDX, 15),
	F("pat", 1, 0, EDX, 16), F("pse36", 1, 0, EDX, 17),
	F("clflush", 1, 0, EDX, 19), F("mmx", 1, 0, EDX, 23),
	F("fxsr", 1, 0, EDX, 24), F("sse", 1, 0, EDX, 25), F("sse2", 1, 0, EDX, 26),
	F("ss", 1, 0, EDX, 27), F("ht", 1, 0, EDX, 28),
	/* leaf 1 ECX */
	F("pni", 1, 0, ECX, 0), F("sse3", 1, 0, ECX, 0),
	F("pclmulqdq", 1, 0, ECX, 1), F("monitor", 1, 0, ECX, 3),
	F("vmx", 1, 0, ECX, 5), F("ssse3", 1, 0, ECX, 9), F("fma", 1, 0, ECX, 12),
	F("cx16", 1, 0, ECX, 13), F("pdcm", 1, 0, ECX, 15), F("pcid", 1, 0, ECX, 17),
	F("sse4_1", 1, 0, ECX, 19), F("sse4_2", 1, 0, ECX, 20),
	F("x2apic", 1, 0, ECX, 21), F("movbe", 1, 0, ECX, 22),
	F("popcnt", 1, 0, ECX, 23), F("tsc_deadline_timer", 1, 0, ECX, 24),
	F("aes", 1, 0, ECX, 25), F("xsave", 1, 0, ECX, 26), F("avx", 1, 0, ECX, 28),
	F("f16c", 1, 0, ECX, 29), F("rdrand", 1, 0, ECX, 30),
	F("hypervisor", 1, 0, ECX, 31),
	/* leaf 7.0 EBX */
	F("fsgsbase", 7, 0, EBX, 0), F("bmi1", 7, 0, EBX, 3), F("hle", 7, 0, EBX, 4),
	F("avx2", 7, 0, EBX, 5), F("smep", 7, 0, EBX, 7), F("bmi2", 7, 0, EBX, 8),
	F("erms", 7, 0, EBX, 9), F("invpcid", 7, 0, EBX, 10), F("rtm", 7, 0, EBX, 11),
	F("mpx", 7, 0, EBX, 14), F("avx512f", 7, 0, EBX, 16),
	F("avx512dq", 7, 0, EBX, 17), F("rdseed", 7, 0, EBX, 18),
	F("adx", 7, 0, EBX, 19), F("smap", 7, 0, EBX, 20),
	F("avx512ifma", 7, 0, EBX, 21), F("clflushopt", 7, 0, EBX, 23),
	F("clwb", 7, 0, EBX, 24), F("avx512pf", 7, 0, EBX, 26),
	F("avx512er", 7, 0, EBX, 27), F("avx512cd", 7, 0, EBX, 28),
	F("sha_ni", 7, 0, EBX, 29), F("avx512bw", 7, 0, EBX, 30),
	F("avx512vl", 7, 0, EBX, 31),
	/* leaf 7.0 ECX */
	F("avx512vbmi", 7, 0, ECX, 1), F("umip", 7, 0, ECX, 2), F("pku", 7, 0, ECX, 3),
	F("waitpkg", 7, 0, ECX, 5), F("avx512_vbmi2", 7, 0, ECX, 6),
	F("gfni", 7, 0, ECX, 8), F("vaes", 7, 0, ECX, 9),
	F("vpclmulqdq", 7, 0, ECX, 10), F("avx512_vnni", 7, 0, ECX, 11),
	F("avx512_bitalg", 7, 0, ECX, 12), F("avx512_vpopcntdq", 7, 0, ECX, 14),
	F("la57", 7, 0, ECX, 16), F("rdpid", 7, 0, ECX, 22),
	F("movdiri", 7, 0, ECX, 27), F("movdir64b", 7, 0, ECX, 28),
	/* leaf 7.0 EDX */
	F("avx512_4vnniw", 7, 0, EDX, 2), F("avx512_4fmaps", 7, 0, EDX, 3),
	F("fsrm", 7, 0, EDX, 4), F("serialize", 7, 0, EDX, 14),
	F("tsxldtrk", 7, 0, EDX, 16), F("amx_bf16", 7, 0, EDX, 22),
	F("avx512_fp16", 7, 0, EDX, 23), F("amx_tile", 7, 0, EDX, 24),
	F("amx_int8", 7, 0, EDX, 25),
	/* leaf 0xd.1 EAX */
	F("xsaveopt", 0xd, 1, EAX, 0), F("xsavec", 0xd, 1, EAX, 1),
	F("xgetbv1", 0xd, 1, EAX, 2), F("xsaves", 0xd, 1, EAX, 3),
	/* leaf 0x80000001 ECX/EDX */
	F("lahf_lm", 0x80000001, 0, ECX, 0), F("svm", 0x80000001, 0, ECX, 2),
	F("abm", 0x80000001, 0, ECX, 5), F("sse4a", 0x80000001, 0, ECX, 6),
	F("misalignsse", 0x80000001, 0, ECX, 7),
	F("3dnowprefetch", 0x80000001, 0, ECX, 8),
	F("xop", 0x80000001, 0, ECX, 11), F("fma4", 0x80000001, 0, ECX, 16),
	F("tbm", 0x80000001, 0, ECX, 21), F("topoext", 0x80000001, 0, ECX, 22),
	F("syscall", 0x80000001, 0, EDX, 11), F("nx", 0x80000001, 0, EDX, 20),
	F("mmxext", 0x80000001, 0, EDX, 22), F("pdpe1gb", 0x80000001, 0, EDX, 26),
	F("rdtscp", 0x80000001, 0, EDX, 27), F("lm", 0x80000001, 0, EDX, 29),
	/* leaf 0x80000007 EDX */
	F("constant_tsc", 0x80000007, 0, EDX, 8),
};
#undef F

#define NFEATURES (sizeof(features) / sizeof(features[0]))

/* Hiding the first also hides the rest: a guest must never see AVX without
 * XSAVE, or AVX2 without AVX. */
static const char *const implies[][20] = {
	{ "xsave", "avx", "xsaveopt", "xsavec", "xgetbv1", "xsaves", "mpx",
	  "pku", "amx_tile", NULL },
	{ "avx", "avx2", "fma", "f16c", "avx512f", "vaes", "vpclmulqdq", "fma4",
	  "xop", "amx_tile", NULL },
	{ "avx512f", "avx512dq", "avx512ifma", "avx512pf", "avx512er",
	  "avx512cd", "avx512bw", "avx512vl", "avx512vbmi", "avx512_vbmi2",
	  "avx512_fp16", "avx512_vnni", "avx512_bitalg", "avx512_vpopcntdq",
	  "avx512_4vnniw", "avx512_4fmaps", NULL },
	{ "avx512_vnni", "avx512_bitalg", "avx512_vpopcntdq", "avx512_4vnniw",
	  "avx512_4fmaps", NULL },
	{ "amx_tile", "amx_bf16", "amx_int8", NULL },
	{ "sse", "sse2", "sse3", "ssse3", "sse4_1", "sse4_2", "avx", NULL },
	{ "sse2", "sse3", "ssse3", "sse4_1", "sse4_2", "avx", NULL },
	{ "sse3", "ssse3", "sse4_1", "sse4_2", "avx", NULL },
	{ "apic", "x2apic", "tsc_deadline_timer", NULL },
};

static const char *const *names_cache;

const char *const *arch_cpu_feature_names(void)
{
	if (!names_cache) {
		const char **n = calloc(NFEATURES + 1, sizeof(*n));

		if (!n)
			return NULL;
		for (size_t i = 0; i < NFEATURES; i++)
			n[i] = features[i].name;
		names_cache = n;
	}
	return names_cache;
}

const struct cpu_feature *cpuid_feature(const char *name)
{
	for (size_t i = 0; i < NFEATURES; i++)
		if (!strcmp(features[i].name, name))
			return &features[i];
	return NULL;
}

bool arch_cpu_feature_known(const char *name)
{
	return cpuid_feature(name) != NULL;
}

struct kvm_cpuid2 *cpuid_alloc(unsigned nent)
{
	struct kvm_cpuid2 *c = calloc(1, sizeof(*c) + nent * sizeof(c->entries[0]));

	if (c)
		c->nent = nent;
	return c;
}

struct kvm_cpuid2 *cpuid_dup(const struct kvm_cpuid2 *c)
{
	size_t sz = sizeof(*c) + c->nent * sizeof(c->entries[0]);
	struct kvm_cpuid2 *d = malloc(sz);

	if (d)
		memcpy(d, c, sz);
	return d;
}

struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *c, uint32_t fn,
				    uint32_t index)
{
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function != fn)
			continue;
		if ((e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) && e->index != index)
			continue;
		return e;
	}
	return NULL;
}

static uint32_t *reg_of(struct kvm_cpuid_entry2 *e, unsigned reg)
{
	switch (reg) {
	case EAX: return &e->eax;
	case EBX: return &e->ebx;
	case ECX: return &e->ecx;
	default: return &e->edx;
	}
}

int cpuid_has(struct kvm_cpuid2 *c, const char *name)
{
	const struct cpu_feature *f = cpuid_feature(name);
	struct kvm_cpuid_entry2 *e;

	if (!f)
		return 0;
	e = cpuid_find(c, f->fn, f->index);
	return e && (*reg_of(e, f->reg) >> f->bit & 1);
}

static void clear_feature(struct kvm_cpuid2 *c, const char *name)
{
	const struct cpu_feature *f = cpuid_feature(name);

	if (!f)
		return;
	/* Aliases (sse3/pni) share a bit; clear every entry that matches. */
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];

		if (e->function != f->fn)
			continue;
		if ((e->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) && e->index != f->index)
			continue;
		*reg_of(e, f->reg) &= ~(1u << f->bit);
	}
}

static void hide_with_implied(struct kvm_cpuid2 *c, const char *name, int depth)
{
	clear_feature(c, name);
	if (depth > 4)
		return;
	for (size_t i = 0; i < sizeof(implies) / sizeof(implies[0]); i++) {
		if (strcmp(implies[i][0], name))
			continue;
		for (size_t j = 1; implies[i][j]; j++)
			hide_with_implied(c, implies[i][j], depth + 1);
	}
}

/* x86-64-v2 plus the features every x86_64 server CPU since ~2013 has and
 * that matter to a Linux guest (AES-NI, PCLMUL, x2APIC, XSAVE for FPU state,
 * the speculation-control bits it needs to pick mitigations). */
static const char *const baseline[] = {
	"fpu", "vme", "de", "pse", "tsc", "msr", "pae", "mce", "cx8", "apic",
	"sep", "mtrr", "pge", "mca", "cmov", "pat", "pse36", "clflush", "mmx",
	"fxsr", "sse", "sse2", "ss", "ht", "sse3", "pni", "pclmulqdq", "ssse3",
	"cx16", "pcid", "sse4_1", "sse4_2", "x2apic", "popcnt",
	"tsc_deadline_timer", "aes", "xsave", "hypervisor", "fsgsbase", "smep",
	"erms", "smap", "xsaveopt", "lahf_lm", "syscall", "nx", "pdpe1gb",
	"rdtscp", "lm", "constant_tsc", NULL,
};

static bool in_baseline(const char *name)
{
	for (size_t i = 0; baseline[i]; i++)
		if (!strcmp(baseline[i], name))
			return true;
	return false;
}

/* XSAVE state components must follow the features that use them. */
static void fix_xsave_leaf(struct kvm_cpuid2 *c)
{
	struct kvm_cpuid_entry2 *d0 = cpuid_find(c, 0xd, 0);
	uint32_t keep = 0x3;	/* x87, SSE */

	if (!d0)
		return;
	if (!cpuid_has(c, "xsave")) {
		for (uint32_t i = 0; i < c->nent; i++)
			if (c->entries[i].function == 0xd)
				c->entries[i].eax = c->entries[i].ebx =
				c->entries[i].ecx = c->entries[i].edx = 0;
		return;
	}
	if (cpuid_has(c, "avx"))
		keep |= 1u << 2;
	if (cpuid_has(c, "mpx"))
		keep |= 3u << 3;
	if (cpuid_has(c, "avx512f"))
		keep |= 7u << 5;
	if (cpuid_has(c, "pku"))
		keep |= 1u << 9;
	if (cpuid_has(c, "amx_tile"))
		keep |= 3u << 17;
	d0->eax &= keep;
	d0->edx = 0;
	/* The XSAVE area sizes must describe what the guest may enable, not
	 * what the host has: Linux compares them with the sum of the
	 * components and turns XSAVE off on a mismatch. EBX (size for the
	 * current XCR0) is refreshed by KVM on XSETBV where it can; start it
	 * at the size for everything we offer, which is what Linux enables. */
	{
		uint32_t size = 576;	/* legacy area + XSAVE header */

		for (uint32_t i = 0; i < c->nent; i++) {
			struct kvm_cpuid_entry2 *e = &c->entries[i];

			if (e->function == 0xd && e->index >= 2 && e->index < 32 &&
			    (d0->eax >> e->index & 1) && e->ebx + e->eax > size)
				size = e->ebx + e->eax;
		}
		d0->ebx = d0->ecx = size;
	}
	/* Zero the sub-leaves describing user state components the guest
	 * cannot enable (supervisor ones, in 0xd.1 ECX, are KVM's business). */
	for (uint32_t i = 0; i < c->nent; i++) {
		struct kvm_cpuid_entry2 *e = &c->entries[i];
		uint32_t user_states = 0x3ff | (3u << 17);

		if (e->function == 0xd && e->index >= 2 && e->index < 32 &&
		    (user_states >> e->index & 1) && !(keep >> e->index & 1))
			e->eax = e->ebx = e->ecx = e->edx = 0;
	}
}

void cpuid_apply_template(struct kvm_cpuid2 *c, enum cpu_template t,
			  char *const *hide, size_t nhide)
{
	if (t == CPU_TEMPLATE_BASELINE) {
		for (size_t i = 0; i < NFEATURES; i++)
			if (!in_baseline(features[i].name))
				hide_with_implied(c, features[i].name, 0);
		/* Leaf 7 bits we do not name are newer than the baseline. */
		struct kvm_cpuid_entry2 *e7 = cpuid_find(c, 7, 0);
		if (e7) {
			uint32_t b = 0;
			static const char *const keep7[] = { "fsgsbase", "smep",
							     "erms", "smap" };
			for (size_t i = 0; i < 4; i++) {
				const struct cpu_feature *f = cpuid_feature(keep7[i]);
				b |= e7->ebx & (1u << f->bit);
			}
			e7->ebx = b;
			e7->ecx = 0;
			/* EDX: keep speculation control (IBRS/IBPB, STIBP,
			 * L1D_FLUSH, ARCH_CAPABILITIES, SSBD, MD_CLEAR). */
			e7->edx &= (1u << 10) | (1u << 26) | (1u << 27) |
				   (1u << 28) | (1u << 29) | (1u << 31);
			e7->eax = 0;	/* no further sub-leaves of 7 */
		}
	}
	for (size_t i = 0; i < nhide; i++)
		hide_with_implied(c, hide[i], 0);
	fix_xsave_leaf(c);
}

static unsigned bits_for(unsigned n)
{
	unsigned b = 0;

	while ((1u << b) < n)
		b++;
	return b;
}

void cpuid_set_topology(struct kvm_cpuid2 *c, unsigned apic_id, unsigned ncpus)
{
	struct kvm_cpuid_entry2 *e;
	unsigned core_bits = bits_for(ncpus);

	e = cpuid_find(c, 1, 0);
	if (e) {
		e->ebx &= 0x0000ffff;
		e->ebx |= (apic_id & 0xff) << 24;
		e->ebx |= (ncpus > 255 ? 255 : ncpus) << 16;
		if (ncpus > 1)
			e->edx |= 1u << 28;	/* HTT: EBX[23:16] valid */
		e->ecx |= 1u << 31;		/* running under a hypervisor */
	}
	/* Intel deterministic cache parameters: cores per package - 1. */
	for (uint32_t i = 0; i < c->nent; i++) {
		e = &c->entries[i];
		if (e->function == 4 && (e->eax & 0x1f)) {
			e->eax &= 0x03ffffff;
			e->eax |= ((ncpus - 1) & 0x3f) << 26;
			/* Each cache level is private to the core (1 thread). */
			e->eax &= ~(0xfffu << 14);
		}
	}
	/* Extended topology (0xb and 0x1f): SMT level then core level. */
	for (uint32_t i = 0; i < c->nent; i++) {
		e = &c->entries[i];
		if (e->function != 0xb && e->function != 0x1f)
			continue;
		e->edx = apic_id;
		switch (e->index) {
		case 0:
			e->eax = 0;
			e->ebx = 1;
			e->ecx = (1u << 8) | 0;
			break;
		case 1:
			e->eax = core_bits;
			e->ebx = ncpus;
			e->ecx = (2u << 8) | 1;
			break;
		default:
			e->eax = 0;
			e->ebx = 0;
			e->ecx = e->index;
			break;
		}
	}
	/* AMD: cores per package and the APIC ID width. */
	e = cpuid_find(c, 0x80000008, 0);
	if (e) {
		e->ecx &= ~0xf0ffu;
		e->ecx |= (ncpus - 1) & 0xff;
		e->ecx |= (core_bits & 0xf) << 12;
	}
	e = cpuid_find(c, 0x8000001e, 0);
	if (e) {
		e->eax = apic_id;
		e->ebx = apic_id & 0xff;	/* one thread per compute unit */
		e->ecx = 0;			/* one node */
	}
}

int cpuid_get_supported(int kvm_fd, struct kvm_cpuid2 **out)
{
	struct kvm_cpuid2 *c = NULL;
	unsigned nent = 64;

	for (;;) {
		free(c);
		c = cpuid_alloc(nent);
		if (!c)
			return -ENOMEM;
		if (ioctl(kvm_fd, KVM_GET_SUPPORTED_CPUID, c) == 0)
			break;
		if (errno != E2BIG || nent >= 4096) {
			int e = errno;
			free(c);
			return -e;
		}
		nent *= 2;
	}
	/* The paravirt leaves are what lets Linux use kvmclock and skip TSC
	 * calibration; KVM reports them, but make sure. */
	if (!cpuid_find(c, 0x40000000, 0)) {
		struct kvm_cpuid2 *d = cpuid_alloc(c->nent + 2);

		if (!d) {
			free(c);
			return -ENOMEM;
		}
		memcpy(d->entries, c->entries, c->nent * sizeof(c->entries[0]));
		d->entries[c->nent] = (struct kvm_cpuid_entry2){
			.function = 0x40000000, .eax = 0x40000001,
			.ebx = 0x4b4d564b, .ecx = 0x564b4d56, .edx = 0x4d,
		};
		/* clocksource2, nopiodelay, pv eoi, clocksource stable. */
		d->entries[c->nent + 1] = (struct kvm_cpuid_entry2){
			.function = 0x40000001,
			.eax = (1u << 3) | (1u << 1) | (1u << 6) | (1u << 24),
		};
		free(c);
		c = d;
	}
	*out = c;
	return 0;
}
