/* Unit tests for vmm/safe_open.c: which symbolic links vmm, as root, follows
 * to the files a config names. The ownership cases need root (lchown). */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "safe_open.h"

#define OTHER 4242	/* a uid that is not root */

static char dir[] = "/tmp/vmm-test-safe-open-XXXXXX";
static char p[6][128];

static void mkfile(const char *path, uid_t uid, const char *text)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	assert_int_equal(chown(path, uid, uid), 0);
}

static void mklink(const char *target, const char *link, uid_t uid)
{
	assert_int_equal(symlink(target, link), 0);
	assert_int_equal(lchown(link, uid, uid), 0);
}

static int setup(void **state)
{
	if (geteuid() != 0) {
		print_message("test_safe_open: the ownership cases need root (lchown)\n");
		return 0;
	}
	log_set_level(LOG_LVL_ERR);
	if (!mkdtemp(dir))
		return -1;
	for (int i = 0; i < 6; i++)
		snprintf(p[i], sizeof(p[i]), "%s/%d", dir, i);
	return 0;
}

static int teardown(void **state)
{
	for (int i = 0; i < 6; i++)
		unlink(p[i]);
	rmdir(dir);
	return 0;
}

static void test_links(void **state)
{
	char buf[16] = "";
	struct stat st;
	int fd;

	if (geteuid() != 0)
		skip();
	mkfile(p[0], 0, "root's");		/* /etc/shadow, say */
	mkfile(p[1], OTHER, "theirs");		/* the VM user's own image */

	/* A plain file opens as always. */
	fd = safe_open(p[0], O_RDONLY, 0);
	assert_true(fd >= 0);
	close(fd);
	/* Root's own link to anyone's file: followed (/boot/vmlinuz). */
	mklink(p[1], p[2], 0);
	fd = safe_open(p[2], O_RDONLY, 0);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf) - 1), 6);
	assert_string_equal(buf, "theirs");
	close(fd);
	/* The user's link to the user's own file: followed. */
	mklink(p[1], p[3], OTHER);
	fd = safe_open(p[3], O_RDWR, 0);
	assert_true(fd >= 0);
	close(fd);
	/* The user's link to root's file: refused, for reading and appending. */
	mklink(p[0], p[4], OTHER);
	errno = 0;
	assert_int_equal(safe_open(p[4], O_RDWR, 0), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(safe_open(p[4], O_WRONLY | O_CREAT | O_APPEND, 0640), -1);
	assert_int_equal(errno, EPERM);
	assert_int_equal(stat(p[0], &st), 0);
	assert_int_equal(st.st_size, 6);	/* nothing appended */
	/* A dangling link is not followed to create its target. */
	assert_int_equal(unlink(p[0]), 0);
	mklink(p[0], p[5], 0);
	assert_int_equal(safe_open(p[5], O_WRONLY | O_CREAT | O_APPEND, 0640), -1);
	assert_int_equal(errno, ENOENT);
	assert_int_equal(lstat(p[0], &st), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_links),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
