/* Unit tests for vmm/host_ids.c: [vm] user/group and netsetup's owner/group
 * looked up in passwd- and group-format files, without NSS. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "host_ids.h"

static char path[] = "/tmp/vmm-test-host-ids-XXXXXX";

static const char *file_with(const char *text)
{
	FILE *f;

	strcpy(path, "/tmp/vmm-test-host-ids-XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	f = fdopen(fd, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	return path;
}

static void test_user_by_name_and_uid(void **state)
{
	const char *p = file_with("root:x:0:0:root:/root:/bin/sh\n"
				  "# a comment\n"
				  "broken line without colons\n"
				  "vmm:x:998:997:vmm:/nonexistent:/usr/sbin/nologin\n"
				  "nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n");
	struct host_id u;

	assert_int_equal(host_user(p, "vmm", 0, &u), 0);
	assert_string_equal(u.name, "vmm");
	assert_int_equal(u.id, 998);
	assert_int_equal(u.gid, 997);
	assert_int_equal(host_user(p, NULL, 65534, &u), 0);
	assert_string_equal(u.name, "nobody");
	assert_int_equal(host_user(p, "vm", 0, &u), -ENOENT);	/* no prefix match */
	assert_int_equal(host_user(p, "broken line without colons", 0, &u), -ENOENT);
	assert_int_equal(host_user(p, NULL, 4242, &u), -ENOENT);
	unlink(p);
	assert_int_equal(host_user(p, "vmm", 0, &u), -ENOENT);	/* no file */
}

static void test_group(void **state)
{
	const char *p = file_with("root:x:0:\nkvm:x:104:alice,bob\nnogroup:x:65534:\n");
	struct host_id g;

	assert_int_equal(host_group(p, "kvm", 0, &g), 0);
	assert_int_equal(g.id, 104);
	assert_int_equal(host_group(p, NULL, 65534, &g), 0);
	assert_string_equal(g.name, "nogroup");
	assert_int_equal(host_group(p, "alice", 0, &g), -ENOENT);	/* a member, not a group */
	unlink(p);
}

/* A line longer than the buffer ends the search with -ERANGE (glibc would
 * hand the same line back forever), even if the name comes later. */
static void test_long_line(void **state)
{
	size_t n = 20000;
	char *text = malloc(n + 64);
	struct host_id g;

	assert_non_null(text);
	memcpy(text, "big:x:5:", 8);
	memset(text + 8, 'a', n);
	strcpy(text + 8 + n, "\nsmall:x:6:\n");
	(void)file_with(text);
	free(text);
	assert_int_equal(host_group(path, "small", 0, &g), -ERANGE);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_user_by_name_and_uid),
		cmocka_unit_test(test_group),
		cmocka_unit_test(test_long_line),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
