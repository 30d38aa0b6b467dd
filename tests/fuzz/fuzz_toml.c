/* libFuzzer target for the TOML parser and the config loader on top of it.
 *
 * Built by meson in a clang build directory set up with -Dfuzz=true
 * (docs/testing.md, "Fuzzing"); from the repository root:
 *   mkdir -p corpus && build-fuzz/tests/fuzz/fuzz_toml -max_total_time=60 -max_len=4096 corpus
 * Seed the corpus with real configs (docs/config.md has one) for deeper runs.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config.h"
#include "log.h"
#include "toml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads every node so that ASan sees any dangling or short allocation. */
static size_t walk(const struct toml_value *v)
{
	size_t n = v->line + (v->key ? strlen(v->key) : 0);

	switch (v->kind) {
	case TOML_STRING:
		n += v->u.str.len + (unsigned char)v->u.str.ptr[v->u.str.len];
		break;
	case TOML_TABLE:
	case TOML_ARRAY:
		for (size_t i = 0; i < toml_len(v); i++)
			n += walk(toml_at(v, i));
		break;
	default:
		break;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct toml_value *root;
	struct vm_config cfg;
	char err[256];

	/* Config errors are expected on nearly every input; keep stderr for
	 * the sanitizers. */
	log_set_level((enum log_level)0);

	root = toml_parse("fuzz.toml", (const char *)data, size, err, sizeof(err));
	/* The comparisons only keep the reads from being optimized away. */
	if (root && walk(root) == SIZE_MAX)
		__builtin_trap();
	if (!root && strlen(err) >= sizeof(err))
		__builtin_trap();
	toml_free(root);

	if (config_parse("fuzz.toml", (const char *)data, size, &cfg) == 0)
		config_free(&cfg);
	return 0;
}
