/* [[disk]]: the virtio-blk images, each checked to exist (or to be creatable)
 * and no two naming one file. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config-internal.h"
#include "toml.h"

#define DISK_SIZE_MIB_MAX (1ULL << 30)	/* 1 PiB */

/* [[disk]] keys; the loader refuses any other (config_known_keys). */
const char *const cfg_disk_keys[] = {
	"path", "read_only", "serial", "size_mib", "direct", "pci_slot", NULL
};

static void load_disk(struct ctx *c, const struct toml_value *tab, struct disk_config *d)
{
	const char *s;
	unsigned line;
	int64_t i;

	d->line = tab->line;
	cfg_check_keys(c, tab, "disk", cfg_disk_keys);
	cfg_get_bool(c, tab, "disk", "read_only", &d->read_only);
	cfg_get_bool(c, tab, "disk", "direct", &d->direct);
	cfg_get_slot(c, tab, "disk", &d->pci_slot);
	if (cfg_get_int(c, tab, "disk", "size_mib", 1, (int64_t)DISK_SIZE_MIB_MAX, &i))
		d->size_mib = (uint64_t)i;
	if ((s = cfg_get_str(c, tab, "disk", "serial", &line))) {
		size_t n = strlen(s);

		if (n > DISK_SERIAL_MAX)
			cfg_err(c, line, "disk", "serial", "is %zu bytes long; the limit is %d",
				n, DISK_SERIAL_MAX);
		else
			for (size_t k = 0; k <= n; k++)
				d->serial[k] = (k < n && (s[k] < 0x20 || s[k] == 0x7f)) ? '?' : s[k];
	}
	if (!toml_get(tab, "path")) {
		cfg_missing(c, tab, "disk", "path");
		return;
	}
	if (!(s = cfg_get_str(c, tab, "disk", "path", &line)))
		return;
	d->path = cfg_resolve_path(c, s, line, "disk", "path");
	if (!d->path)
		return;
	if (d->size_mib && d->read_only)
		cfg_err(c, line, "disk", "size_mib",
			"cannot create an image for a read-only disk");
	else if (d->size_mib && access(d->path, F_OK) < 0 && errno == ENOENT)
		return;		/* created at start */
	else
		cfg_check_file(c, d->path, line, "disk", "path");
}

void cfg_load_disks(struct ctx *c, const struct toml_value *arr, struct vm_config *cfg)
{
	size_t n = toml_len(arr);

	if (arr->kind != TOML_ARRAY) {
		cfg_err(c, arr->line, "disk", NULL, "expected an array of tables ([[disk]]), got %s",
			toml_kind_name(arr->kind));
		return;
	}
	if (n > VM_DISKS_MAX) {
		cfg_err(c, arr->line, "disk", NULL, "%zu disks; the limit is %d", n, VM_DISKS_MAX);
		return;
	}
	cfg->disk = calloc(n ? n : 1, sizeof(*cfg->disk));
	if (!cfg->disk) {
		cfg_err(c, arr->line, "disk", NULL, "out of memory");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct toml_value *t = toml_at(arr, i);

		if (t->kind != TOML_TABLE) {
			cfg_err(c, t->line, "disk", NULL, "item %zu: expected a table, got %s",
				i + 1, toml_kind_name(t->kind));
			continue;
		}
		load_disk(c, t, &cfg->disk[cfg->n_disk++]);
	}
	/* Two disks on one image would corrupt it (and the lock would stop
	 * the second anyway, with a less helpful message). */
	for (size_t i = 0; i < cfg->n_disk; i++) {
		for (size_t k = 0; k < i; k++) {
			const char *a = cfg->disk[i].path, *b = cfg->disk[k].path;
			struct stat sa, sb;

			if (!a || !b)
				continue;
			if (!strcmp(a, b) || (stat(a, &sa) == 0 && stat(b, &sb) == 0 &&
					       sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino)) {
				cfg_err(c, cfg->disk[i].line, "disk", "path",
					"%s is already the image of the disk on line %u",
					a, cfg->disk[k].line);
				break;
			}
		}
	}
}
