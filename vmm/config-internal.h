/* Shared by the config loader's files (config.c, config_*.c): the loading
 * context, the key helpers every section uses, and the section loaders. */
#ifndef VMM_CONFIG_INTERNAL_H
#define VMM_CONFIG_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "toml.h"

struct msg;

struct ctx {
	const char *src;	/* config name for messages */
	char *dir;		/* where relative paths start */
	unsigned errors;
	/* Held back until the end, to be printed in line order. */
	struct msg *msgs;
	size_t nmsgs;
};

/* Records "src:line: table.key: message" (control characters made '?'),
 * printed in line order when loading ends; any error fails the load. */
void cfg_err(struct ctx *c, unsigned line, const char *table, const char *key,
	     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* True when `v` is of `kind`; otherwise reports "expected X, got Y". */
bool cfg_type_ok(struct ctx *c, const struct toml_value *v, const char *table,
		 enum toml_kind kind);
/* Reports every key of `tab` not in the NULL-terminated `known`. */
void cfg_check_keys(struct ctx *c, const struct toml_value *tab, const char *table,
		    const char *const *known);

/* The getters: false/NULL/-1 when `key` is absent or wrong (wrong is
 * reported); `*out` is left alone then, so it keeps its default. */
bool cfg_get_int(struct ctx *c, const struct toml_value *tab, const char *table,
		 const char *key, int64_t min, int64_t max, int64_t *out);
bool cfg_get_bool(struct ctx *c, const struct toml_value *tab, const char *table,
		  const char *key, bool *out);
/* The string at `key`, with no NUL inside; `line` (may be NULL) gets its line. */
const char *cfg_get_str(struct ctx *c, const struct toml_value *tab,
			const char *table, const char *key, unsigned *line);
/* Index in the NULL-terminated `names` of the string at `key`. */
int cfg_get_enum(struct ctx *c, const struct toml_value *tab, const char *table,
		 const char *key, const char *const *names);
/* An existing, readable regular file named by `key`, resolved; caller frees. */
char *cfg_get_file(struct ctx *c, const struct toml_value *tab, const char *table,
		   const char *key);
/* A user or group name or numeric id (not resolved here); caller frees. */
char *cfg_get_user(struct ctx *c, const struct toml_value *tab, const char *table,
		   const char *key);

/* Key pci_slot of `tab` (may be NULL), range-checked against
 * arch_device_slots; `out` says not given when it is absent or wrong. */
void cfg_get_slot(struct ctx *c, const struct toml_value *tab, const char *table,
		  struct dev_slot *out);
/* Once every device is loaded: two devices on one slot, more devices than
 * slots. */
void cfg_check_slots(struct ctx *c, const struct vm_config *cfg);

/* Once every table is loaded: [vm] ready = "guest" needs [vsock], and the
 * readiness socket's path must fit. */
void cfg_check_ready(struct ctx *c, const struct vm_config *cfg);
/* [vm] merge_pages = true with [[fs]] shares: refused (it would do nothing). */
void cfg_check_merge_pages(struct ctx *c, const struct vm_config *cfg);

/* Line of a table's header; 1 for an absent table. */
unsigned cfg_table_line(const struct toml_value *tab);
/* Reports "missing required key" at the table's header. */
void cfg_missing(struct ctx *c, const struct toml_value *tab, const char *table,
		 const char *key);
/* strdup, reporting "out of memory" at `line`. */
char *cfg_dup(struct ctx *c, const char *s, unsigned line, const char *table,
	      const char *key);
/* `path` made absolute against the config's directory; NULL when empty. */
char *cfg_resolve_path(struct ctx *c, const char *path, unsigned line,
		       const char *table, const char *key);
/* Reports unless `path` is a readable regular file (never opens a device). */
void cfg_check_file(struct ctx *c, const char *path, unsigned line,
		    const char *table, const char *key);
/* A-Z a-z 0-9 _ . -: names that need no quoting in paths, logs and nft rules. */
bool cfg_name_char_ok(char ch);

/* The section loaders. `tab` may be NULL (table absent: defaults stay);
 * the array loaders take the [[name]] value as it is in the document. */
void cfg_load_vm(struct ctx *c, const struct toml_value *tab, struct vm_config *cfg);
void cfg_load_boot(struct ctx *c, const struct toml_value *tab, struct vm_config *cfg);
void cfg_load_console(struct ctx *c, const struct toml_value *tab, struct vm_config *cfg);
void cfg_load_cpu(struct ctx *c, const struct toml_value *tab, struct vm_config *cfg);
void cfg_load_log(struct ctx *c, const struct toml_value *tab, struct vm_config *cfg);
void cfg_load_rng(struct ctx *c, const struct toml_value *tab, struct vm_config *cfg);
void cfg_load_balloon(struct ctx *c, const struct toml_value *tab, struct vm_config *cfg);
/* Once every table is loaded: the balloon's target below guest memory. */
void cfg_check_balloon(struct ctx *c, const struct vm_config *cfg);
void cfg_load_vsock(struct ctx *c, const struct toml_value *tab, struct vm_config *cfg);
void cfg_load_disks(struct ctx *c, const struct toml_value *arr, struct vm_config *cfg);
void cfg_load_net(struct ctx *c, const struct toml_value *arr, struct vm_config *cfg);
void cfg_load_fs(struct ctx *c, const struct toml_value *arr, struct vm_config *cfg);

/* The keys each table accepts, NULL-terminated: each loader checks its
 * table against its list, and config_known_keys hands them out. */
extern const char *const cfg_vm_keys[];
extern const char *const cfg_boot_keys[];
extern const char *const cfg_console_keys[];
extern const char *const cfg_cpu_keys[];
extern const char *const cfg_rng_keys[];
extern const char *const cfg_vsock_keys[];
extern const char *const cfg_balloon_keys[];
extern const char *const cfg_log_keys[];
extern const char *const cfg_disk_keys[];
extern const char *const cfg_net_keys[];
extern const char *const cfg_fs_keys[];

/* Value names, indexed by the enum they spell; NULL-terminated. The
 * printer (config_print.c) writes them back. */
extern const char *const cfg_ready_marks[];	/* enum ready_mark */
extern const char *const cfg_console_modes[];	/* enum console_mode */
extern const char *const cfg_cpu_templates[];	/* enum cpu_template */
extern const char *const cfg_virtio_transports[];	/* enum virtio_transport */
extern const char *const cfg_fs_caches[];	/* enum fs_cache */
extern const char *const cfg_fs_sandboxes[];	/* enum fs_sandbox */
/* [log] level names and the LOG_LVL_* each stands for. */
extern const char *const cfg_log_levels[];
extern const int cfg_log_level_values[];

#endif
