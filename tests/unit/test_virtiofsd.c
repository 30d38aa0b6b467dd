/* virtiofsd, both generations: which one a binary is (from its --help), the
 * command line vmm gives each, and what `vmm --check` says. The Rust one is
 * tests/tools/fake-virtiofsd-rust (argv[1]), a stand-in that accepts only
 * the Rust virtiofsd's documented options; the C one is Debian 12's
 * /usr/lib/qemu/virtiofsd (qemu-system-common, which tools/install-deps
 * installs with qemu-system-x86). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <limits.h>
#include <unistd.h>

#include "config.h"
#include "host_tools.h"
#include "virtio/fs.h"

static const char *fake;		/* the Rust stand-in, absolute */
static char dir[] = "/tmp/vmm-test-virtiofsd-XXXXXX";

static void test_kind(void **state __attribute__((unused)))
{
	char why[160] = "";

	assert_int_equal(host_virtiofsd_kind(fake, why, sizeof(why)), VIRTIOFSD_RUST);
	assert_int_equal(host_virtiofsd_kind(FS_VIRTIOFSD_DEFAULT, why, sizeof(why)),
			 VIRTIOFSD_C);
	assert_int_equal(host_virtiofsd_kind("/bin/true", why, sizeof(why)),
			 VIRTIOFSD_UNKNOWN);
	assert_non_null(strstr(why, "names neither --shared-dir"));
	assert_int_equal(host_virtiofsd_kind("/nonexistent/virtiofsd", why, sizeof(why)),
			 VIRTIOFSD_UNKNOWN);
	assert_string_equal(why, "cannot run it: No such file or directory");
}

static void check_argv(char *const *argv, const char *const *want)
{
	size_t i;

	for (i = 0; want[i]; i++) {
		assert_non_null(argv[i]);
		assert_string_equal(argv[i], want[i]);
	}
	assert_null(argv[i]);
}

/* The C one's command line is what vmm always gave it. */
static void test_argv_c(void **state __attribute__((unused)))
{
	struct fs_config cfg = {
		.source = "/srv/share", .virtiofsd = FS_VIRTIOFSD_DEFAULT,
		.cache = FS_CACHE_NONE, .sandbox = FS_SANDBOX_CHROOT, .thread_pool_size = 4,
	};
	const char *const want[] = {
		FS_VIRTIOFSD_DEFAULT, "--fd=3", "-o", "source=/srv/share", "-o", "cache=none",
		"-o", "sandbox=chroot", "--thread-pool-size=4", NULL,
	};
	struct virtiofsd_args a;

	virtio_fs_virtiofsd_argv(&cfg, &a);
	check_argv(a.argv, want);
}

/* The Rust one gets its own options, and the stand-in (which refuses
 * anything the Rust virtiofsd does not document) accepts them. */
static void test_argv_rust(void **state __attribute__((unused)))
{
	struct fs_config cfg = {
		.source = dir, .virtiofsd = (char *)fake, .virtiofsd_rust = true,
		.cache = FS_CACHE_NONE, .sandbox = FS_SANDBOX_CHROOT, .thread_pool_size = 4,
	};
	char src[PATH_MAX + 16], rec[PATH_MAX + 8], want[2 * PATH_MAX], out[2 * PATH_MAX];
	struct virtiofsd_args a;
	FILE *f;

	snprintf(src, sizeof(src), "--shared-dir=%s", dir);
	{
		const char *const args[] = {
			fake, "--fd=3", src, "--cache=never", "--sandbox=chroot",
			"--thread-pool-size=4", NULL,
		};

		virtio_fs_virtiofsd_argv(&cfg, &a);
		check_argv(a.argv, args);
	}
	snprintf(rec, sizeof(rec), "%s/argv", dir);
	setenv("FAKE_VIRTIOFSD_ARGV", rec, 1);
	assert_int_equal(host_run(a.argv), 0);
	f = fopen(rec, "r");
	assert_non_null(f);
	out[fread(out, 1, sizeof(out) - 1, f)] = '\0';
	fclose(f);
	unlink(rec);
	snprintf(want, sizeof(want), "--fd=3\n%s\n--cache=never\n--sandbox=chroot\n"
		 "--thread-pool-size=4\n", src);
	assert_string_equal(out, want);

	/* The defaults, without a thread pool size. */
	cfg.cache = FS_CACHE_AUTO;
	cfg.sandbox = FS_SANDBOX_NAMESPACE;
	cfg.thread_pool_size = 0;
	virtio_fs_virtiofsd_argv(&cfg, &a);
	assert_string_equal(a.argv[2], src);
	assert_string_equal(a.argv[3], "--cache=auto");
	assert_string_equal(a.argv[4], "--sandbox=namespace");
	assert_null(a.argv[5]);
	assert_int_equal(host_run(a.argv), 0);
	/* The stand-in is strict: the C dialect is refused. */
	cfg.virtiofsd_rust = false;
	virtio_fs_virtiofsd_argv(&cfg, &a);
	assert_int_equal(host_run(a.argv), 2);
	unsetenv("FAKE_VIRTIOFSD_ARGV");
}

/* The loader tells them apart, and --check says which it picked. */
static void test_config_check(void **state __attribute__((unused)))
{
	char text[2 * PATH_MAX + 256], *dump = NULL;
	struct vm_config cfg;
	size_t len = 0;
	FILE *f;

	/* A comma in the share's path: only the C one's -o cannot take it. */
	snprintf(text, sizeof(text), "[vm]\nname = 't'\n[boot]\nkernel = '%s'\n"
		 "[[fs]]\ntag = 'a'\nsource = '%s'\nvirtiofsd = '%s'\n"
		 "[[fs]]\ntag = 'b'\nsource = '/'\n", fake, dir, fake);
	assert_int_equal(config_parse("vm.toml", text, strlen(text), &cfg), 0);
	assert_true(cfg.fs[0].virtiofsd_rust);
	assert_false(cfg.fs[1].virtiofsd_rust);
	assert_string_equal(cfg.fs[1].virtiofsd, FS_VIRTIOFSD_DEFAULT);
	f = open_memstream(&dump, &len);
	assert_non_null(f);
	config_print(&cfg, f);
	fclose(f);
	config_free(&cfg);
	assert_non_null(strstr(dump, "  # the Rust virtiofsd (--shared-dir options)\n"));
	assert_non_null(strstr(dump, "virtiofsd = \"" FS_VIRTIOFSD_DEFAULT
			       "\"  # QEMU's C virtiofsd (-o source= options)\n"));
	free(dump);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kind),
		cmocka_unit_test(test_argv_c),
		cmocka_unit_test(test_argv_rust),
		cmocka_unit_test(test_config_check),
	};
	int ret;

	if (argc != 2 || argv[1][0] != '/' || !mkdtemp(dir)) {
		fprintf(stderr, "usage: test_virtiofsd /path/to/fake-virtiofsd-rust\n");
		return 2;
	}
	fake = argv[1];
	ret = cmocka_run_group_tests(tests, NULL, NULL);
	rmdir(dir);
	return ret;
}
