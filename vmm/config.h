/* The VM configuration: parsed from TOML and validated completely before any
 * KVM call. Everything downstream trusts these values. */
#ifndef VMM_CONFIG_H
#define VMM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define VM_NAME_MAX 63
#define VM_VCPUS_MAX 64
#define VM_CMDLINE_MAX 4096

enum console_mode {
	CONSOLE_STDIO,	/* guest serial on stdout; stdin feeds it when a tty or pipe */
	CONSOLE_FILE,	/* guest serial appended to `console.path` */
	CONSOLE_OFF,	/* discarded */
};

enum cpu_template {
	CPU_TEMPLATE_HOST,	/* what KVM supports on this host */
	CPU_TEMPLATE_BASELINE,	/* x86-64-v2 level feature set, stable across hosts */
};

struct vm_config {
	char *source;		/* config file path, for messages */

	/* [vm] */
	char name[VM_NAME_MAX + 1];
	unsigned vcpus;			/* 1..VM_VCPUS_MAX, default 1 */
	uint64_t memory_mib;		/* >= 16, default 256 */
	unsigned shutdown_timeout_s;	/* SIGTERM grace period, default 30; 0 = kill at once */

	/* [boot] */
	char *kernel;		/* required, absolute or relative to the config's directory */
	char *initrd;		/* optional, NULL when absent */
	char *cmdline;		/* optional, "" when absent */

	/* [console] */
	enum console_mode console_mode;	/* key `mode`, default stdio */
	char *console_path;		/* key `path`, required when mode = "file" */

	/* [cpu] */
	enum cpu_template cpu_template;	/* key `template`, default host */
	char **cpu_hide;		/* key `hide`: feature names, validated */
	size_t n_cpu_hide;

	/* [log] */
	int log_level;			/* key `level`: "error".."debug" as LOG_LVL_*, default info */
};

/* Parses and validates `path`. On error prints "file:line: key: message"
 * through log_err for every problem found and returns -1; on success fills
 * `out` (caller frees with config_free) and returns 0. */
int config_load(const char *path, struct vm_config *out);

/* Same on an in-memory document; `name` is used in messages. */
int config_parse(const char *name, const char *text, size_t len,
		 struct vm_config *out);

void config_free(struct vm_config *cfg);

/* Human-readable dump used by `vmm --check`. */
void config_print(const struct vm_config *cfg, FILE *out);

#endif
