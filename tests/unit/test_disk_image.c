/* [[disk]] format: an image vmm creates (through virtio_blk_new, the path a
 * VM start takes) is formatted by the real mkfs and checked with blkid; an
 * existing image is never formatted; a failing mkfs leaves no file behind. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "host_tools.h"
#include "virtio/blk.h"

static char dir[] = "/tmp/vmm-test-disk-image-XXXXXX";
static char img[PATH_MAX];

static int group_setup(void **state __attribute__((unused)))
{
	if (!mkdtemp(dir))
		return -1;
	snprintf(img, sizeof(img), "%s/data.img", dir);
	return 0;
}

static int group_teardown(void **state __attribute__((unused)))
{
	return rmdir(dir);
}

static int teardown(void **state __attribute__((unused)))
{
	unlink(img);
	return 0;
}

/* `blkid -o value -s TAG img`, newline stripped. */
static void blkid(const char *tag, char *out, size_t len)
{
	char cmd[PATH_MAX + 64];
	char *blkid_path = host_find_program("blkid");
	FILE *p;

	assert_non_null(blkid_path);
	snprintf(cmd, sizeof(cmd), "%s -p -o value -s %s %s", blkid_path, tag, img);
	free(blkid_path);
	p = popen(cmd, "r");
	assert_non_null(p);
	if (!fgets(out, (int)len, p))
		out[0] = '\0';
	pclose(p);
	out[strcspn(out, "\n")] = '\0';
}

static void create(enum disk_format f, const char *mkfs, const char *label)
{
	char *tool = mkfs ? host_find_program(mkfs) : NULL;
	struct disk_config dc = {
		.path = img, .size_mib = 64, .format = f, .label = (char *)label, .mkfs = tool,
	};
	struct virtio_dev *d = NULL;
	struct stat st;

	if (mkfs)
		assert_non_null(tool);	/* tools/install-deps installs it */
	assert_int_equal(virtio_blk_new(&dc, 0, NULL, &d), 0);
	virtio_blk_free(d);
	free(tool);
	assert_int_equal(stat(img, &st), 0);
	assert_int_equal(st.st_size, 64 << 20);
	assert_int_equal(st.st_mode & 0777, 0600);
}

static void test_ext4(void **state __attribute__((unused)))
{
	char v[256];

	create(DISK_FORMAT_EXT4, "mkfs.ext4", "data");
	blkid("TYPE", v, sizeof(v));
	assert_string_equal(v, "ext4");
	blkid("LABEL", v, sizeof(v));
	assert_string_equal(v, "data");
}

static void test_vfat(void **state __attribute__((unused)))
{
	char v[256];

	create(DISK_FORMAT_VFAT, "mkfs.vfat", "BOOT");
	blkid("TYPE", v, sizeof(v));
	assert_string_equal(v, "vfat");
	blkid("LABEL", v, sizeof(v));
	assert_string_equal(v, "BOOT");
}

/* Without format: sparse and all zeros, no file system. */
static void test_plain(void **state __attribute__((unused)))
{
	char v[256];

	create(DISK_FORMAT_NONE, NULL, NULL);
	blkid("TYPE", v, sizeof(v));
	assert_string_equal(v, "");
}

/* An existing image with data: opened as it is. The mkfs named would fail
 * if it ran, and the bytes are what they were. */
static void test_existing_untouched(void **state __attribute__((unused)))
{
	struct disk_config dc = {
		.path = img, .size_mib = 64, .format = DISK_FORMAT_EXT4, .mkfs = "/bin/false",
	};
	static uint8_t data[1 << 20], back[1 << 20];
	struct virtio_dev *d = NULL;
	int fd;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (uint8_t)(i * 7 + 3);
	fd = open(img, O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, sizeof(data)), sizeof(data));
	close(fd);
	assert_int_equal(virtio_blk_new(&dc, 0, NULL, &d), 0);
	virtio_blk_free(d);
	fd = open(img, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, back, sizeof(back)), sizeof(back));
	close(fd);
	assert_memory_equal(data, back, sizeof(data));
}

/* mkfs fails (exits 1), or cannot be run: an error, and the half-made
 * image is gone. */
static void test_mkfs_fails(void **state __attribute__((unused)))
{
	struct disk_config dc = {
		.path = img, .size_mib = 8, .format = DISK_FORMAT_EXT4, .mkfs = "/bin/false",
	};
	struct virtio_dev *d = NULL;

	assert_int_equal(virtio_blk_new(&dc, 0, NULL, &d), -EIO);
	assert_null(d);
	assert_int_equal(access(img, F_OK), -1);
	assert_int_equal(errno, ENOENT);
	dc.mkfs = "/nonexistent/mkfs.ext4";
	assert_int_equal(virtio_blk_new(&dc, 0, NULL, &d), -ENOENT);
	assert_int_equal(access(img, F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_teardown(test_ext4, teardown),
		cmocka_unit_test_teardown(test_vfat, teardown),
		cmocka_unit_test_teardown(test_plain, teardown),
		cmocka_unit_test_teardown(test_existing_untouched, teardown),
		cmocka_unit_test_teardown(test_mkfs_fails, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
