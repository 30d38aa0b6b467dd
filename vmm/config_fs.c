/* [[fs]]: virtio-fs shares, each served by a virtiofsd that vmm starts for
 * `source` or by a backend behind `socket`. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config-internal.h"
#include "host_tools.h"
#include "toml.h"

const char *const cfg_fs_caches[] = { "auto", "always", "none", NULL };
const char *const cfg_fs_sandboxes[] = { "namespace", "chroot", NULL };

/* [[fs]] keys; the loader refuses any other (config_known_keys). */
const char *const cfg_fs_keys[] = {
	"tag", "source", "socket", "read_only", "virtiofsd", "cache", "sandbox",
	"thread_pool_size", "pci_slot", NULL
};

/* The virtiofsd vmm starts: the one named, else the first there of Debian
 * 12's C one, Debian 13's Rust one and `virtiofsd` on PATH (NixOS); and
 * which of the two it is, so that it gets the options it understands. */
static void load_virtiofsd(struct ctx *c, const struct toml_value *tab, const char *table,
			   struct fs_config *f)
{
	unsigned line = tab->line;
	char why[160];
	const char *s;

	if (toml_get(tab, "virtiofsd")) {
		if (!(s = cfg_get_str(c, tab, table, "virtiofsd", &line)))
			return;
		f->virtiofsd = cfg_resolve_path(c, s, line, table, "virtiofsd");
		if (f->virtiofsd && access(f->virtiofsd, X_OK) < 0) {
			cfg_err(c, line, table, "virtiofsd", "%s: %s", f->virtiofsd,
				strerror(errno));
			return;
		}
	} else if (access(FS_VIRTIOFSD_DEFAULT, X_OK) == 0) {
		f->virtiofsd = cfg_dup(c, FS_VIRTIOFSD_DEFAULT, line, table, "virtiofsd");
	} else if (access(FS_VIRTIOFSD_LIBEXEC, X_OK) == 0) {
		f->virtiofsd = cfg_dup(c, FS_VIRTIOFSD_LIBEXEC, line, table, "virtiofsd");
	} else if (!(f->virtiofsd = host_find_program("virtiofsd"))) {
		cfg_err(c, line, table, "virtiofsd", "no virtiofsd at " FS_VIRTIOFSD_DEFAULT
			" (Debian 12: qemu-system-common), " FS_VIRTIOFSD_LIBEXEC " (Debian "
			"13: virtiofsd) or in PATH; install one or set virtiofsd");
		return;
	}
	if (!f->virtiofsd)
		return;
	switch (host_virtiofsd_kind(f->virtiofsd, why, sizeof(why))) {
	case VIRTIOFSD_RUST:
		f->virtiofsd_rust = true;
		break;
	case VIRTIOFSD_C:
		break;
	default:
		cfg_err(c, line, table, "virtiofsd", "%s: %s", f->virtiofsd, why);
	}
}

static void load_fs_entry(struct ctx *c, const struct toml_value *tab, size_t index,
			  struct vm_config *cfg)
{
	/* Options of the virtiofsd vmm starts: meaningless for an admin's socket. */
	static const char *const need_source[] = {
		"read_only", "virtiofsd", "cache", "sandbox", "thread_pool_size", NULL
	};
	struct fs_config *f = &cfg->fs[index];
	const struct toml_value *v;
	char table[32];
	unsigned line;
	const char *s;
	int64_t i;
	int e;
	struct stat st;

	snprintf(table, sizeof(table), "fs[%zu]", index);
	f->line = tab->line;
	cfg_check_keys(c, tab, table, cfg_fs_keys);
	cfg_get_slot(c, tab, table, &f->pci_slot);

	if (!toml_get(tab, "tag")) {
		cfg_missing(c, tab, table, "tag");
	} else if ((s = cfg_get_str(c, tab, table, "tag", &line))) {
		size_t n = strlen(s);

		if (n == 0 || n > FS_TAG_MAX)
			cfg_err(c, line, table, "tag", "is %zu bytes long; it must be 1 to %d",
				n, FS_TAG_MAX);
		else if (strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				"0123456789_.-") != n)
			cfg_err(c, line, table, "tag", "\"%.64s\" has a character other than "
				"A-Z a-z 0-9 _ . -", s);
		else
			memcpy(f->tag, s, n + 1);
	}

	if (toml_get(tab, "source") && toml_get(tab, "socket")) {
		cfg_err(c, tab->line, table, NULL, "give source (vmm starts virtiofsd) or "
			"socket (a virtiofsd already serves it), not both");
		return;
	}
	if (!toml_get(tab, "source") && !toml_get(tab, "socket")) {
		cfg_err(c, tab->line, table, "source", "missing required key (or give socket)");
		return;
	}
	if (toml_get(tab, "socket")) {
		for (size_t k = 0; need_source[k]; k++)
			if ((v = toml_get(tab, need_source[k])))
				cfg_err(c, v->line, table, need_source[k], "applies only to "
					"the virtiofsd vmm starts (with source); configure the "
					"backend behind socket instead");
		if ((s = cfg_get_str(c, tab, table, "socket", &line)))
			f->socket = cfg_resolve_path(c, s, line, table, "socket");
		return;
	}

	cfg_get_bool(c, tab, table, "read_only", &f->read_only);
	if ((e = cfg_get_enum(c, tab, table, "cache", cfg_fs_caches)) >= 0)
		f->cache = (enum fs_cache)e;
	if ((e = cfg_get_enum(c, tab, table, "sandbox", cfg_fs_sandboxes)) >= 0)
		f->sandbox = (enum fs_sandbox)e;
	if (cfg_get_int(c, tab, table, "thread_pool_size", 1, 1024, &i))
		f->thread_pool_size = (unsigned)i;
	load_virtiofsd(c, tab, table, f);
	if ((s = cfg_get_str(c, tab, table, "source", &line))) {
		f->source = cfg_resolve_path(c, s, line, table, "source");
		/* The C virtiofsd takes it as `-o source=PATH`, and a comma there
		 * starts another option (`/srv/a,xattr`, or one that undoes
		 * read_only). The Rust one's --shared-dir takes it whole. */
		if (f->source && !f->virtiofsd_rust && strchr(f->source, ','))
			cfg_err(c, line, table, "source", "%s: a comma cannot be passed to "
				"virtiofsd (it separates its -o options); rename the "
				"directory or bind-mount it at a path without one", f->source);
		else if (f->source && stat(f->source, &st) < 0)
			cfg_err(c, line, table, "source", "%s: %s", f->source, strerror(errno));
		else if (f->source && !S_ISDIR(st.st_mode))
			cfg_err(c, line, table, "source", "%s: not a directory", f->source);
	}
}

void cfg_load_fs(struct ctx *c, const struct toml_value *arr, struct vm_config *cfg)
{
	if (!arr)
		return;
	if (arr->kind != TOML_ARRAY) {
		cfg_err(c, arr->line, "fs", NULL, "expected an array of tables ([[fs]]), got %s",
			toml_kind_name(arr->kind));
		return;
	}
	if (toml_len(arr) > VM_FS_MAX) {
		cfg_err(c, arr->line, "fs", NULL, "%zu entries; the limit is %d",
			toml_len(arr), VM_FS_MAX);
		return;
	}
	cfg->fs = calloc(toml_len(arr) ? toml_len(arr) : 1, sizeof(*cfg->fs));
	if (!cfg->fs) {
		cfg_err(c, arr->line, "fs", NULL, "out of memory");
		return;
	}
	cfg->n_fs = toml_len(arr);
	for (size_t i = 0; i < cfg->n_fs; i++) {
		const struct toml_value *v = toml_at(arr, i);

		if (v->kind != TOML_TABLE) {
			cfg_err(c, v->line, "fs", NULL, "item %zu: expected a table, got %s",
				i, toml_kind_name(v->kind));
			continue;
		}
		load_fs_entry(c, v, i, cfg);
	}
	/* The guest tells shares apart by tag alone. */
	for (size_t i = 0; i < cfg->n_fs; i++)
		for (size_t k = 0; k < i; k++)
			if (cfg->fs[i].tag[0] && !strcmp(cfg->fs[i].tag, cfg->fs[k].tag)) {
				char table[32];

				snprintf(table, sizeof(table), "fs[%zu]", i);
				cfg_err(c, cfg->fs[i].line, table, "tag", "\"%s\" is already "
					"the tag of the share on line %u", cfg->fs[i].tag,
					cfg->fs[k].line);
				break;
			}
}
