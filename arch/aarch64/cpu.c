/* CPU feature names for [cpu] hide on aarch64: none yet (the x86_64 list is
 * about CPUID; hiding arm64 ID register fields is not supported). */
#include <stddef.h>

#include "arch.h"

static const char *const no_features[] = { NULL };

const char *const *arch_cpu_feature_names(void)
{
	return no_features;
}

bool arch_cpu_feature_known(const char *name)
{
	(void)name;
	return false;
}
