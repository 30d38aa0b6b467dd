/* Unit tests for vmm/log.c: the line format, that logging never changes
 * errno (the `log_err("...: %m"); return -errno;` pattern depends on it), and
 * the rate limit for messages a guest can trigger. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"

/* Points stderr at a fresh temporary file (not a terminal: the logger's
 * isatty() check fails there with ENOTTY) and returns the saved stderr. */
static int stderr_to_file(char *path, size_t len)
{
	int saved = dup(STDERR_FILENO);
	int fd;

	snprintf(path, len, "/tmp/vmm-test-log.XXXXXX");
	fd = mkstemp(path);
	assert_true(fd >= 0 && saved >= 0);
	assert_int_equal(dup2(fd, STDERR_FILENO), STDERR_FILENO);
	close(fd);
	return saved;
}

static void read_back(int saved, const char *path, char *out, size_t len)
{
	int fd;
	ssize_t n;

	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);
	fd = open(path, O_RDONLY);
	assert_true(fd >= 0);
	n = read(fd, out, len - 1);
	assert_true(n >= 0);
	out[n] = '\0';
	close(fd);
	unlink(path);
}

/* The first message of the process decides the prefix with isatty(), which
 * sets ENOTTY on a file: %m must still print the caller's errno, and errno
 * must be the caller's afterwards. */
static void test_first_message_keeps_errno(void **state)
{
	char path[64], out[512];
	int saved = stderr_to_file(path, sizeof(path));

	unsetenv("JOURNAL_STREAM");
	errno = ENOENT;
	log_err("opening %s: %m", "disk.img");
	assert_int_equal(errno, ENOENT);
	errno = EACCES;
	log_warn("again: %m");
	assert_int_equal(errno, EACCES);
	read_back(saved, path, out, sizeof(out));
	assert_string_equal(out, "<3>vmm: opening disk.img: No such file or directory\n"
				 "<4>vmm: again: Permission denied\n");
}

/* A failed write (stderr closed) must not leak its EBADF either, nor must a
 * message dropped by the level filter touch errno. */
static void test_failed_write_and_filtered_keep_errno(void **state)
{
	int saved = dup(STDERR_FILENO);

	assert_true(saved >= 0);
	close(STDERR_FILENO);
	errno = EIO;
	log_err("nowhere to go: %m");
	assert_int_equal(errno, EIO);
	assert_int_equal(dup2(saved, STDERR_FILENO), STDERR_FILENO);
	close(saved);

	errno = ENOSPC;
	log_debug("below the level: %m");
	assert_int_equal(errno, ENOSPC);
}

static void test_fmt_into_clamps(void **state)
{
	char buf[8];

	assert_int_equal(fmt_into(buf, sizeof(buf), "%s", "abc"), 3);
	assert_string_equal(buf, "abc");
	assert_int_equal(fmt_into(buf, sizeof(buf), "%s", "0123456789"), 7);
	assert_string_equal(buf, "0123456");
	assert_int_equal(fmt_into(buf, 0, "x"), 0);
}

/* A guest that triggers the same message a thousand times gets
 * LOG_LIMIT_BURST lines; after the interval, one line counts the dropped
 * ones and the message passes again. */
static void test_rate_limit(void **state)
{
	char path[64], out[2048];
	struct log_limit l = { .burst = 3, .interval_ms = 200 };
	int saved = stderr_to_file(path, sizeof(path)), passed = 0;

	for (int i = 0; i < 1000; i++)
		log_warn_limited("flood %d", i);
	for (int i = 0; i < 10; i++)
		passed += log_limit_pass(&l);
	assert_int_equal(passed, 3);
	usleep(250 * 1000);
	errno = EPIPE;
	assert_true(log_limit_pass(&l));
	assert_int_equal(errno, EPIPE);
	read_back(saved, path, out, sizeof(out));
	assert_string_equal(out, "<4>vmm: flood 0\n<4>vmm: flood 1\n<4>vmm: flood 2\n"
				 "<4>vmm: flood 3\n<4>vmm: flood 4\n"
				 "<4>vmm: 7 message(s) like the next were dropped "
				 "(rate limit: 3 per 200 ms)\n");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_first_message_keeps_errno),
		cmocka_unit_test(test_failed_write_and_filtered_keep_errno),
		cmocka_unit_test(test_fmt_into_clamps),
		cmocka_unit_test(test_rate_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
