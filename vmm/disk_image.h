/* A [[disk]] image vmm creates: a sparse file of size_mib, formatted with
 * mkfs.* when `format` asks for a file system. Only a missing image is ever
 * created (by the caller, with O_EXCL), formatted, or (when that fails)
 * removed again. */
#ifndef VMM_DISK_IMAGE_H
#define VMM_DISK_IMAGE_H

#include <stddef.h>

#include "config.h"

/* One `format` value: its mkfs, the Debian package that has it, the
 * longest label the file system takes (bytes), and mkfs's label option. */
struct disk_fs {
	const char *name;	/* "ext4" */
	const char *mkfs;	/* "mkfs.ext4" */
	const char *package;	/* "e2fsprogs" */
	size_t label_max;
	const char *label_opt;	/* "-L" */
};

/* DISK_FORMAT_EXT4..DISK_FORMAT_VFAT; NULL for DISK_FORMAT_NONE. */
const struct disk_fs *disk_fs_info(enum disk_format f);

/*
 * Makes `fd`, a file this process has just created at dc->path (O_CREAT |
 * O_EXCL), an image of dc->size_mib MiB, formatted with dc->mkfs when
 * dc->format is set. Returns 0; or -errno after logging why (prefixed with
 * `name`), with fd closed and the file removed. mkfs runs as a child
 * process: call this before threads start and before privileges are dropped.
 */
int disk_image_init(const struct disk_config *dc, int fd, const char *name);

#endif
