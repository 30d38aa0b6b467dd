/* CPUID for guests: what KVM supports, shaped by a template and a hide
 * list, then given each vCPU's topology. */
#ifndef VMM_X86_CPUID_H
#define VMM_X86_CPUID_H

#include <stddef.h>
#include <stdint.h>

#include <linux/kvm.h>

#include "config.h"

struct kvm_cpuid2 *cpuid_alloc(unsigned nent);
struct kvm_cpuid2 *cpuid_dup(const struct kvm_cpuid2 *c);
/* Entry for (function, index); index ignored for leaves without subleaves. */
struct kvm_cpuid_entry2 *cpuid_find(struct kvm_cpuid2 *c, uint32_t fn,
				    uint32_t index);

/* KVM_GET_SUPPORTED_CPUID, plus the KVM paravirt leaves if missing.
 * Returns 0 or -errno. */
int cpuid_get_supported(int kvm_fd, struct kvm_cpuid2 **out);

/* Applies the template and hide list (names already validated). Features
 * that depend on a hidden one are hidden with it (xsave -> avx -> avx2...). */
void cpuid_apply_template(struct kvm_cpuid2 *c, enum cpu_template t,
			  char *const *hide, size_t nhide);

/* One socket, `ncpus` cores, one thread each; this vCPU is `apic_id`. */
void cpuid_set_topology(struct kvm_cpuid2 *c, unsigned apic_id, unsigned ncpus);

/* Looks a feature up by its /proc/cpuinfo name. */
struct cpu_feature {
	const char *name;
	uint32_t fn, index;
	uint8_t reg;	/* 0 eax, 1 ebx, 2 ecx, 3 edx */
	uint8_t bit;
};
const struct cpu_feature *cpuid_feature(const char *name);
/* Whether the feature's bit is set in `c`. */
int cpuid_has(struct kvm_cpuid2 *c, const char *name);

#endif
