/* Creating (and formatting) the image of a [[disk]] that does not exist yet
 * (disk_image.h). */
#include "disk_image.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "host_tools.h"
#include "log.h"

static const struct disk_fs formats[] = {
	[DISK_FORMAT_EXT4] = { "ext4", "mkfs.ext4", "e2fsprogs", 16, "-L" },
	[DISK_FORMAT_XFS] = { "xfs", "mkfs.xfs", "xfsprogs", 12, "-L" },
	[DISK_FORMAT_BTRFS] = { "btrfs", "mkfs.btrfs", "btrfs-progs", 255, "-L" },
	[DISK_FORMAT_VFAT] = { "vfat", "mkfs.vfat", "dosfstools", 11, "-n" },
};

const struct disk_fs *disk_fs_info(enum disk_format f)
{
	if (f <= DISK_FORMAT_NONE || (size_t)f >= sizeof(formats) / sizeof(formats[0]))
		return NULL;
	return &formats[f];
}

/* mkfs on the new image. Quiet where the tool can be (vfat's cannot: its
 * banner goes to stdout, which host_run discards); errors reach vmm's
 * stderr. ext4 needs -F for a regular file. */
static int run_mkfs(const struct disk_config *dc, const struct disk_fs *fs)
{
	char *argv[8];
	int n = 0;

	argv[n++] = dc->mkfs;
	if (dc->format == DISK_FORMAT_EXT4)
		argv[n++] = "-F";
	if (dc->format != DISK_FORMAT_VFAT)
		argv[n++] = "-q";
	if (dc->label) {
		argv[n++] = (char *)fs->label_opt;
		argv[n++] = dc->label;
	}
	argv[n++] = dc->path;
	argv[n] = NULL;
	return host_run(argv);
}

/* Removes the image this call made, unless the path now names another file. */
static void remove_new(const struct disk_config *dc, int fd)
{
	struct stat a, b;

	if (fstat(fd, &a) == 0 && lstat(dc->path, &b) == 0 &&
	    a.st_dev == b.st_dev && a.st_ino == b.st_ino)
		unlink(dc->path);
}

int disk_image_init(const struct disk_config *dc, int fd, const char *name)
{
	const struct disk_fs *fs = disk_fs_info(dc->format);
	int e, st;

	if (ftruncate(fd, (off_t)(dc->size_mib << 20)) < 0) {
		e = errno;
		log_err("%s: creating %s (%llu MiB): %s", name, dc->path,
			(unsigned long long)dc->size_mib, strerror(e));
		goto fail;
	}
	if (!fs) {
		log_info("%s: created sparse image %s of %llu MiB", name, dc->path,
			 (unsigned long long)dc->size_mib);
		return 0;
	}
	if (!dc->mkfs) {	/* the loader finds it for a missing image */
		e = ENOENT;
		log_err("%s: no %s to format %s", name, fs->mkfs, dc->path);
		goto fail;
	}
	st = run_mkfs(dc, fs);
	if (st != 0) {
		e = st < 0 ? -st : EIO;
		if (st < 0)
			log_err("%s: cannot run %s: %s; removed the new image %s", name,
				dc->mkfs, strerror(e), dc->path);
		else
			log_err("%s: %s failed (status %d; its messages are above); removed "
				"the new image %s", name, dc->mkfs, st, dc->path);
		goto fail;
	}
	log_info("%s: created image %s of %llu MiB, formatted %s%s%s", name, dc->path,
		 (unsigned long long)dc->size_mib, fs->name, dc->label ? ", label " : "",
		 dc->label ? dc->label : "");
	return 0;
fail:
	remove_new(dc, fd);
	close(fd);
	return -e;
}
