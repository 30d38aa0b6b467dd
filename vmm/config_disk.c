/* [[disk]]: the virtio-blk images, each checked to exist (or to be creatable)
 * and no two naming one file. */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config-internal.h"
#include "disk_image.h"
#include "host_tools.h"
#include "toml.h"

#define DISK_SIZE_MIB_MAX (1ULL << 30)	/* 1 PiB */

/* [[disk]] keys; the loader refuses any other (config_known_keys). */
const char *const cfg_disk_keys[] = {
	"path", "read_only", "serial", "size_mib", "direct", "pci_slot", "format",
	"label", NULL
};

/* `format` values, in enum disk_format order from DISK_FORMAT_EXT4. */
static const char *const disk_formats[] = { "ext4", "xfs", "btrfs", "vfat", NULL };

/* format and label: checked whatever the image; the mkfs looked for only
 * when the image is missing (vmm will create it). An existing image is
 * never formatted. */
static void load_format(struct ctx *c, const struct toml_value *tab, struct disk_config *d,
			bool missing)
{
	const struct toml_value *v = toml_get(tab, "format");
	const struct disk_fs *fs;
	unsigned line;
	const char *s;
	int e;

	if ((s = cfg_get_str(c, tab, "disk", "label", &line)) && !v)
		cfg_err(c, line, "disk", "label", "applies only with format");
	if (!v)
		return;
	if ((e = cfg_get_enum(c, tab, "disk", "format", disk_formats)) < 0)
		return;
	d->format = (enum disk_format)(e + 1);
	fs = disk_fs_info(d->format);
	if (!d->size_mib) {
		cfg_err(c, v->line, "disk", "format", "applies only with size_mib (vmm "
			"formats only an image it creates)");
		return;
	}
	if (s) {
		size_t n = strlen(s);
		bool ok = n > 0;

		for (size_t k = 0; k < n; k++)
			ok = ok && (unsigned char)s[k] >= 0x20 && s[k] != 0x7f &&
			     !(d->format == DISK_FORMAT_VFAT &&
			       ((unsigned char)s[k] > 0x7e || strchr("\"*+,./:;<=>?[\\]|", s[k])));
		if (n > fs->label_max)
			cfg_err(c, line, "disk", "label", "is %zu bytes long; %s takes at most %zu",
				n, fs->name, fs->label_max);
		else if (!ok)
			cfg_err(c, line, "disk", "label", "\"%.64s\": %s", s,
				d->format == DISK_FORMAT_VFAT ? "vfat takes printable ASCII "
				"without \"*+,./:;<=>?[\\]|" : "empty, or has a control character");
		else
			d->label = cfg_dup(c, s, line, "disk", "label");
	}
	if (missing && !(d->mkfs = host_find_program(fs->mkfs)))
		cfg_err(c, v->line, "disk", "format", "%s is not in PATH, /usr/sbin or /sbin "
			"(Debian package %s); it formats the image vmm creates", fs->mkfs,
			fs->package);
}

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
	if (d->size_mib && d->read_only) {
		cfg_err(c, line, "disk", "size_mib",
			"cannot create an image for a read-only disk");
	} else if (d->size_mib && access(d->path, F_OK) < 0 && errno == ENOENT) {
		load_format(c, tab, d, true);	/* created at start */
		return;
	} else {
		cfg_check_file(c, d->path, line, "disk", "path");
	}
	load_format(c, tab, d, false);
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
