/* Unit tests for vmm/config*.c: defaults, ranges, enums, path resolution and
 * file checks, and the exact "file:line: key: message" of every error. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch.h"
#include "config.h"
#include "log.h"

static char tmpdir[256];	/* holds bzImage, initrd.img, sub/vmlinux, adir/ */
static char cfgname[PATH_MAX];	/* tmpdir/vm.toml: errors name it, paths start there */
static char logbuf[65536];	/* what log_err printed during the last parse */

static void path_in(char *buf, size_t size, const char *rel)
{
	snprintf(buf, size, "%s/%s", tmpdir, rel);
}

static void write_file(const char *rel, const char *text, size_t len)
{
	char p[PATH_MAX];
	FILE *f;

	path_in(p, sizeof(p), rel);
	f = fopen(p, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

static int group_setup(void **state __attribute__((unused)))
{
	char p[PATH_MAX];

	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";

	if ((size_t)snprintf(tmpdir, sizeof(tmpdir), "%s/vmm-test-config-XXXXXX", base) >=
	    sizeof(tmpdir))
		return -1;
	if (!mkdtemp(tmpdir))
		return -1;
	snprintf(cfgname, sizeof(cfgname), "%s/vm.toml", tmpdir);
	path_in(p, sizeof(p), "sub");
	if (mkdir(p, 0755) < 0)
		return -1;
	path_in(p, sizeof(p), "adir");
	if (mkdir(p, 0755) < 0)
		return -1;
	write_file("bzImage", "kernel", 6);
	write_file("initrd.img", "initrd", 6);
	write_file("sub/vmlinux", "kernel", 6);
	write_file("noread", "secret", 6);
	path_in(p, sizeof(p), "noread");
	return chmod(p, 0);
}

static int group_teardown(void **state __attribute__((unused)))
{
	static const char *const files[] = {
		"bzImage", "initrd.img", "sub/vmlinux", "noread", "vm.toml", "big.toml",
	};
	char p[PATH_MAX];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		path_in(p, sizeof(p), files[i]);
		unlink(p);
	}
	path_in(p, sizeof(p), "sub");
	rmdir(p);
	path_in(p, sizeof(p), "adir");
	rmdir(p);
	return rmdir(tmpdir);
}

/* Runs `fn` with stderr going to logbuf. */
static int capture(int (*fn)(const char *, const char *, struct vm_config *),
		   const char *name, const char *text, struct vm_config *cfg)
{
	FILE *tmp = tmpfile();
	int saved, rc;
	size_t n;

	assert_non_null(tmp);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(tmp), STDERR_FILENO) >= 0);
	rc = fn(name, text, cfg);
	dup2(saved, STDERR_FILENO);
	close(saved);
	rewind(tmp);
	n = fread(logbuf, 1, sizeof(logbuf) - 1, tmp);
	logbuf[n] = '\0';
	fclose(tmp);
	return rc;
}

static int do_parse(const char *name, const char *text, struct vm_config *cfg)
{
	return config_parse(name, text, strlen(text), cfg);
}

static int do_load(const char *name, const char *text __attribute__((unused)),
		   struct vm_config *cfg)
{
	return config_load(name, cfg);
}

static int parse_named(const char *name, const char *text, struct vm_config *cfg)
{
	return capture(do_parse, name, text, cfg);
}

static void parse_ok(const char *text, struct vm_config *cfg)
{
	if (parse_named(cfgname, text, cfg) != 0)
		print_error("config rejected:\n%s\nlog:\n%s", text, logbuf);
	assert_string_equal(logbuf, "");
}

static unsigned count_lines(const char *s)
{
	unsigned n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Asserts that the log holds "<cfgname>:<line>: <msg>". */
static void assert_logged(unsigned line, const char *msg)
{
	char want[PATH_MAX + 512];

	snprintf(want, sizeof(want), "%s:%u: %s", cfgname, line, msg);
	if (!strstr(logbuf, want)) {
		print_error("wanted \"%s\" in log:\n%s", want, logbuf);
		fail();
	}
}

/* Asserts that `text` is rejected with exactly `nerr` messages, the first
 * (they come in line order) being "<cfgname>:<line>: <msg>", and that the
 * config is left empty. */
static void parse_bad(const char *text, unsigned nerr, unsigned line, const char *msg)
{
	struct vm_config cfg;

	char want[PATH_MAX + 512];
	const char *first;

	memset(&cfg, 0xa5, sizeof(cfg));
	assert_int_equal(parse_named(cfgname, text, &cfg), -1);
	snprintf(want, sizeof(want), "%s:%u: %s", cfgname, line, msg);
	first = strstr(logbuf, want);
	if (!first || memchr(logbuf, '\n', (size_t)(first - logbuf))) {
		print_error("wanted \"%s\" first in log:\n%s", want, logbuf);
		fail();
	}
	if (count_lines(logbuf) != nerr) {
		print_error("wanted %u errors:\n%s", nerr, logbuf);
		fail();
	}
	assert_null(cfg.kernel);
	assert_null(cfg.source);
	assert_int_equal(cfg.n_cpu_hide, 0);
	config_free(&cfg);
}

#define VM "[vm]\nname = \"t\"\n"
#define BOOT "[boot]\nkernel = \"bzImage\"\n"
#define BASE VM BOOT		/* valid; added lines start at 5 */

static void test_minimal_defaults(void **state __attribute__((unused)))
{
	struct vm_config cfg;
	char want[PATH_MAX];

	parse_ok(BASE, &cfg);
	assert_string_equal(cfg.source, cfgname);
	assert_string_equal(cfg.name, "t");
	assert_int_equal(cfg.vcpus, 1);
	assert_int_equal(cfg.memory_mib, 256);
	assert_int_equal(cfg.shutdown_timeout_s, 30);
	assert_int_equal(cfg.ready, READY_STARTED);
	assert_true(cfg.huge_pages);
	assert_false(cfg.merge_pages);
	path_in(want, sizeof(want), "bzImage");
	assert_string_equal(cfg.kernel, want);
	assert_null(cfg.initrd);
	assert_string_equal(cfg.cmdline, "");
	assert_int_equal(cfg.console_mode, CONSOLE_STDIO);
	assert_null(cfg.console_path);
	assert_int_equal(cfg.cpu_template, CPU_TEMPLATE_HOST);
	assert_null(cfg.cpu_hide);
	assert_int_equal(cfg.n_cpu_hide, 0);
	assert_int_equal(cfg.log_level, LOG_LVL_INFO);
	config_free(&cfg);
	/* config_free leaves a zeroed struct and may be called again. */
	assert_null(cfg.source);
	config_free(&cfg);
}

static const char *feature(size_t i)
{
	const char *const *names = arch_cpu_feature_names();

	assert_non_null(names);
	for (size_t k = 0; k <= i; k++)
		assert_non_null(names[k]);
	assert_true(arch_cpu_feature_known(names[i]));
	return names[i];
}

static void test_full(void **state __attribute__((unused)))
{
	struct vm_config cfg;
	char text[2048], want[PATH_MAX];

	snprintf(text, sizeof(text),
		 "# every key\n"
		 "[vm]\n"
		 "name = \"web-1.example_A\"\n"
		 "vcpus = 4\n"
		 "memory_mib = 1_024\n"
		 "shutdown_timeout = 0\n"
		 "[boot]\n"
		 "kernel = '%s/bzImage'\n"
		 "initrd = \"initrd.img\"\n"
		 "cmdline = \"console=ttyS0 quiet\"\n"
		 "[console]\n"
		 "mode = \"file\"\n"
		 "path = \"console.log\"\n"
		 "[cpu]\n"
		 "template = \"baseline\"\n"
		 "hide = [\"%s\", \"%s\"]\n"
		 "[log]\n"
		 "level = \"debug\"\n",
		 tmpdir, feature(1), feature(0));
	parse_ok(text, &cfg);
	assert_string_equal(cfg.name, "web-1.example_A");
	assert_int_equal(cfg.vcpus, 4);
	assert_int_equal(cfg.memory_mib, 1024);
	assert_int_equal(cfg.shutdown_timeout_s, 0);
	path_in(want, sizeof(want), "bzImage");
	assert_string_equal(cfg.kernel, want);
	path_in(want, sizeof(want), "initrd.img");
	assert_string_equal(cfg.initrd, want);
	assert_string_equal(cfg.cmdline, "console=ttyS0 quiet");
	assert_int_equal(cfg.console_mode, CONSOLE_FILE);
	path_in(want, sizeof(want), "console.log");
	assert_string_equal(cfg.console_path, want);
	assert_int_equal(cfg.cpu_template, CPU_TEMPLATE_BASELINE);
	assert_int_equal(cfg.n_cpu_hide, 2);
	assert_string_equal(cfg.cpu_hide[0], feature(1));
	assert_string_equal(cfg.cpu_hide[1], feature(0));
	assert_int_equal(cfg.log_level, LOG_LVL_DEBUG);
	config_free(&cfg);
}

static void test_relative_paths(void **state __attribute__((unused)))
{
	struct vm_config cfg;
	char cwd[PATH_MAX], real[PATH_MAX], want[PATH_MAX * 2];

	/* Relative to the config's directory, not the current one. */
	parse_ok(VM "[boot]\nkernel = \"sub/vmlinux\"\ninitrd = \"sub/../initrd.img\"\n", &cfg);
	path_in(want, sizeof(want), "sub/vmlinux");
	assert_string_equal(cfg.kernel, want);
	path_in(want, sizeof(want), "sub/../initrd.img");
	assert_string_equal(cfg.initrd, want);
	config_free(&cfg);

	/* A config named relative to the current directory still yields
	 * absolute paths, so that a later chdir cannot break them. */
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	assert_non_null(realpath(tmpdir, real));
	assert_int_equal(chdir(tmpdir), 0);
	assert_int_equal(parse_named("vm.toml", BASE, &cfg), 0);
	snprintf(want, sizeof(want), "%s/bzImage", real);
	assert_string_equal(cfg.kernel, want);
	config_free(&cfg);
	assert_int_equal(parse_named("sub/x.toml", VM "[boot]\nkernel = \"vmlinux\"\n", &cfg), 0);
	snprintf(want, sizeof(want), "%s/sub/vmlinux", real);
	assert_string_equal(cfg.kernel, want);
	config_free(&cfg);
	/* Errors still name the file as given. */
	assert_int_equal(parse_named("vm.toml", "[vm]\n", &cfg), -1);
	assert_non_null(strstr(logbuf, "vm.toml:1: vm.name: missing required key"));
	assert_int_equal(chdir(cwd), 0);
}

static void test_missing_files(void **state __attribute__((unused)))
{
	char msg[PATH_MAX + 128];

	snprintf(msg, sizeof(msg), "boot.kernel: %s/nope: No such file or directory", tmpdir);
	parse_bad(VM "[boot]\nkernel = \"nope\"\n", 1, 4, msg);

	snprintf(msg, sizeof(msg), "boot.initrd: %s/sub/none.img: No such file or directory", tmpdir);
	parse_bad(BASE "initrd = 'sub/none.img'\n", 1, 5, msg);

	snprintf(msg, sizeof(msg), "boot.kernel: %s/adir: not a regular file", tmpdir);
	parse_bad(VM "[boot]\nkernel = \"adir\"\n", 1, 4, msg);
	parse_bad(VM "[boot]\nkernel = \"/dev/null\"\n", 1, 4,
		  "boot.kernel: /dev/null: not a regular file");
	snprintf(msg, sizeof(msg), "boot.kernel: %s/bzImage/x: Not a directory", tmpdir);
	parse_bad(VM "[boot]\nkernel = \"bzImage/x\"\n", 1, 4, msg);
	parse_bad(VM "[boot]\nkernel = \"\"\n", 1, 4, "boot.kernel: must not be empty");

	/* Both missing: both reported. */
	parse_bad(VM "[boot]\nkernel = \"k1\"\ninitrd = \"i1\"\n", 2, 4, "boot.kernel: ");
	assert_logged(5, "boot.initrd: ");

	if (geteuid() != 0) {
		snprintf(msg, sizeof(msg), "boot.kernel: %s/noread: Permission denied", tmpdir);
		parse_bad(VM "[boot]\nkernel = \"noread\"\n", 1, 4, msg);
	}
}

static void test_vm_ranges(void **state __attribute__((unused)))
{
	static const struct {
		const char *line;
		const char *err;	/* NULL: valid */
	} cases[] = {
		{ "vcpus = 0", "vm.vcpus: 0 is out of range (1 to 64)" },
		{ "vcpus = 1", NULL },
		{ "vcpus = 64", NULL },
		{ "vcpus = 65", "vm.vcpus: 65 is out of range (1 to 64)" },
		{ "vcpus = -9223372036854775808", "vm.vcpus: -9223372036854775808 is out of range" },
		{ "memory_mib = 15", "vm.memory_mib: 15 is out of range (16 to 1048576)" },
		{ "memory_mib = 16", NULL },
		{ "memory_mib = 1048576", NULL },
		{ "memory_mib = 1048577", "vm.memory_mib: 1048577 is out of range" },
		{ "shutdown_timeout = -1", "vm.shutdown_timeout: -1 is out of range (0 to 3600)" },
		{ "shutdown_timeout = 0", NULL },
		{ "shutdown_timeout = 3600", NULL },
		{ "shutdown_timeout = 3601", "vm.shutdown_timeout: 3601 is out of range" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char text[256];
		struct vm_config cfg;
		long long v = atoll(strchr(cases[i].line, '=') + 1);

		snprintf(text, sizeof(text), VM "%s\n" BOOT, cases[i].line);
		if (cases[i].err) {
			parse_bad(text, 1, 3, cases[i].err);
			continue;
		}
		parse_ok(text, &cfg);
		if (!strncmp(cases[i].line, "vcpus", 5))
			assert_int_equal(cfg.vcpus, v);
		else if (!strncmp(cases[i].line, "memory_mib", 10))
			assert_int_equal(cfg.memory_mib, v);
		else
			assert_int_equal(cfg.shutdown_timeout_s, v);
		config_free(&cfg);
	}
}

static void test_vm_name(void **state __attribute__((unused)))
{
	static const char *const good[] = {
		"a", "vm0", "A.b-c_d", "9lives", "x.",
		"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk",	/* 63 */
	};
	static const struct {
		const char *name, *err;
	} bad[] = {
		{ "", "vm.name: must be 1 to 63 characters, not 0" },
		{ "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl",
		  "vm.name: must be 1 to 63 characters, not 64" },
		{ ".hidden", "vm.name: must not start with '.' or '-'" },
		{ "-opt", "vm.name: must not start with '.' or '-'" },
		{ "a b", "vm.name: \"a b\" has a character other than A-Z a-z 0-9 _ . - at offset 1" },
		{ "a/b", "vm.name: \"a/b\" has a character other than A-Z a-z 0-9 _ . - at offset 1" },
		{ "caf\xc3\xa9", "vm.name: \"caf\xc3\xa9\" has a character other than A-Z a-z 0-9 _ . - at offset 3" },
		{ "a\\u0000b", "vm.name: must not contain a NUL character" },
		{ "a\\nb", "vm.name: \"a?b\" has a character other than" },
	};
	struct vm_config cfg;
	char text[256];

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(text, sizeof(text), "[vm]\nname = \"%s\"\n" BOOT, good[i]);
		parse_ok(text, &cfg);
		assert_string_equal(cfg.name, good[i]);
		config_free(&cfg);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "[vm]\nname = \"%s\"\n" BOOT, bad[i].name);
		parse_bad(text, 1, 2, bad[i].err);
	}
}

static void test_types(void **state __attribute__((unused)))
{
	parse_bad(VM "vcpus = \"2\"\n" BOOT, 1, 3, "vm.vcpus: expected an integer, got a string");
	parse_bad("[vm]\nname = 1\n" BOOT, 1, 2, "vm.name: expected a string, got an integer");
	parse_bad(VM "memory_mib = [512]\n" BOOT, 1, 3, "vm.memory_mib: expected an integer, got an array");
	parse_bad(VM "shutdown_timeout = true\n" BOOT, 1, 3,
		  "vm.shutdown_timeout: expected an integer, got a boolean");
	parse_bad(VM "[boot]\nkernel = ['bzImage']\n", 1, 4, "boot.kernel: expected a string, got an array");
	parse_bad(BASE "cmdline = {}\n", 1, 5, "boot.cmdline: expected a string, got a table");
	parse_bad(BASE "[console]\nmode = true\n", 1, 6, "console.mode: expected a string, got a boolean");
	parse_bad(BASE "[console]\nmode = 'file'\npath = 3\n", 1, 7,
		  "console.path: expected a string, got an integer");
	parse_bad(BASE "[cpu]\ntemplate = 0\n", 1, 6, "cpu.template: expected a string, got an integer");
	parse_bad(BASE "[cpu]\nhide = \"avx2\"\n", 1, 6, "cpu.hide: expected an array, got a string");
	parse_bad(BASE "[cpu]\nhide = [\n  1,\n]\n", 1, 7,
		  "cpu.hide: item 1: expected a string, got an integer");
	parse_bad(BASE "[log]\nlevel = 7\n", 1, 6, "log.level: expected a string, got an integer");
	parse_bad("vm = 1\n" BOOT, 1, 1, "vm: expected a table, got an integer");
	parse_bad("log = [1]\n" BASE, 1, 1, "log: expected a table, got an array");
	parse_bad(BASE "[[cpu]]\n", 1, 5, "cpu: expected a table, got an array");
	/* Inline tables are tables. */
	{
		struct vm_config cfg;

		parse_ok("log = { level = 'error' }\n" BASE, &cfg);
		assert_int_equal(cfg.log_level, LOG_LVL_ERR);
		config_free(&cfg);
	}
}

static void test_enums(void **state __attribute__((unused)))
{
	static const struct {
		const char *name;
		int value;
	} modes[] = {
		{ "stdio", CONSOLE_STDIO }, { "off", CONSOLE_OFF },
	}, templates[] = {
		{ "host", CPU_TEMPLATE_HOST }, { "baseline", CPU_TEMPLATE_BASELINE },
	}, levels[] = {
		{ "error", LOG_LVL_ERR }, { "warning", LOG_LVL_WARN },
		{ "notice", LOG_LVL_NOTICE }, { "info", LOG_LVL_INFO },
		{ "debug", LOG_LVL_DEBUG },
	};
	struct vm_config cfg;
	char text[256];

	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
		snprintf(text, sizeof(text), BASE "[console]\nmode = \"%s\"\n", modes[i].name);
		parse_ok(text, &cfg);
		assert_int_equal(cfg.console_mode, modes[i].value);
		assert_null(cfg.console_path);
		config_free(&cfg);
	}
	parse_ok(VM "ready = \"userspace\"\n" BOOT, &cfg);
	assert_int_equal(cfg.ready, READY_USERSPACE);
	config_free(&cfg);
	parse_ok(VM "ready = \"started\"\n" BOOT, &cfg);
	assert_int_equal(cfg.ready, READY_STARTED);
	config_free(&cfg);
	parse_bad(VM "ready = \"init\"\n" BOOT, 1, 3,
		  "vm.ready: invalid value \"init\" (expected one of \"started\", \"userspace\", "
		  "\"guest\")");
	parse_bad(VM "ready = true\n" BOOT, 1, 3, "vm.ready: expected a string, got a boolean");
	parse_ok(VM "huge_pages = false\n" BOOT, &cfg);
	assert_false(cfg.huge_pages);
	config_free(&cfg);
	parse_bad(VM "huge_pages = \"no\"\n" BOOT, 1, 3,
		  "vm.huge_pages: expected a boolean, got a string");
	parse_ok(VM "merge_pages = true\n" BOOT, &cfg);
	assert_true(cfg.merge_pages);
	config_free(&cfg);
	parse_bad(VM "merge_pages = 1\n" BOOT, 1, 3,
		  "vm.merge_pages: expected a boolean, got an integer");
	/* With [[fs]] RAM is shared memory, which KSM does not merge. */
	parse_bad(VM "merge_pages = true\n" BOOT "[[fs]]\ntag = 'x'\nsocket = '/x'\n", 1, 3,
		  "vm.merge_pages: true does nothing with [[fs]] shares: guest RAM is then "
		  "memory shared with the virtio-fs backend, and the kernel merges only "
		  "private memory (remove one of them)");
	parse_ok(VM "merge_pages = false\n" BOOT "[[fs]]\ntag = 'x'\nsocket = '/x'\n", &cfg);
	assert_false(cfg.merge_pages);
	config_free(&cfg);
	for (size_t i = 0; i < sizeof(templates) / sizeof(templates[0]); i++) {
		snprintf(text, sizeof(text), BASE "[cpu]\ntemplate = \"%s\"\n", templates[i].name);
		parse_ok(text, &cfg);
		assert_int_equal(cfg.cpu_template, templates[i].value);
		config_free(&cfg);
	}
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		snprintf(text, sizeof(text), BASE "[log]\nlevel = \"%s\"\n", levels[i].name);
		parse_ok(text, &cfg);
		assert_int_equal(cfg.log_level, levels[i].value);
		config_free(&cfg);
	}
	parse_bad(BASE "[console]\nmode = \"tty\"\n", 1, 6,
		  "console.mode: invalid value \"tty\" (expected one of \"stdio\", \"file\", \"off\")");
	parse_bad(BASE "[cpu]\ntemplate = \"Host\"\n", 1, 6,
		  "cpu.template: invalid value \"Host\" (expected one of \"host\", \"baseline\")");
	parse_bad(BASE "[log]\nlevel = \"warn\"\n", 1, 6,
		  "log.level: invalid value \"warn\" (expected one of \"error\", \"warning\", "
		  "\"notice\", \"info\", \"debug\")");
}

static void test_console(void **state __attribute__((unused)))
{
	struct vm_config cfg;

	parse_ok(BASE "[console]\nmode = \"file\"\npath = \"/var/log/vm.log\"\n", &cfg);
	assert_int_equal(cfg.console_mode, CONSOLE_FILE);
	assert_string_equal(cfg.console_path, "/var/log/vm.log");
	config_free(&cfg);

	parse_bad(BASE "\n[console]\nmode = \"file\"\n", 1, 6,
		  "console.path: missing required key (mode = \"file\" needs it)");
	parse_bad(BASE "[console]\npath = \"x.log\"\n", 1, 6,
		  "console.path: only valid with mode = \"file\"");
	parse_bad(BASE "[console]\nmode = \"off\"\npath = \"x.log\"\n", 1, 7,
		  "console.path: only valid with mode = \"file\"");
	parse_bad(BASE "[console]\nmode = \"file\"\npath = \"\"\n", 1, 7,
		  "console.path: must not be empty");
	/* A bad mode is one error, not also one about path. */
	parse_bad(BASE "[console]\nmode = \"File\"\npath = \"x\"\n", 1, 6, "console.mode: invalid value");
}

static void test_cpu_hide(void **state __attribute__((unused)))
{
	struct vm_config cfg;
	char text[512], msg[256];

	parse_ok(BASE "[cpu]\nhide = []\n", &cfg);
	assert_int_equal(cfg.n_cpu_hide, 0);
	config_free(&cfg);

	snprintf(text, sizeof(text), BASE "[cpu]\nhide = ['%s']\n", feature(2));
	parse_ok(text, &cfg);
	assert_int_equal(cfg.n_cpu_hide, 1);
	assert_string_equal(cfg.cpu_hide[0], feature(2));
	config_free(&cfg);

	/* The message suggests names: those sharing the longest prefix with
	 * the typo, or else the first ones. */
	snprintf(msg, sizeof(msg), "cpu.hide: unknown CPU feature \"no_such_feature\" "
		 "(known names include: %s, %s", feature(0), feature(1));
	snprintf(text, sizeof(text), BASE "[cpu]\nhide = [\n'%s',\n'no_such_feature',\n]\n", feature(0));
	parse_bad(text, 1, 8, msg);
	snprintf(msg, sizeof(msg), "cpu.hide: unknown CPU feature \"%sQ\" "
		 "(known names include: %s", feature(2), feature(2));
	snprintf(text, sizeof(text), BASE "[cpu]\nhide = ['%sQ']\n", feature(2));
	parse_bad(text, 1, 6, msg);

	snprintf(msg, sizeof(msg), "cpu.hide: \"%s\" is listed twice", feature(0));
	snprintf(text, sizeof(text), BASE "[cpu]\nhide = ['%s', '%s', '%s']\n",
		 feature(0), feature(1), feature(0));
	parse_bad(text, 1, 6, msg);

	/* Names are exact: no case folding, no NUL tricks. */
	snprintf(text, sizeof(text), BASE "[cpu]\nhide = [\"%s\\u0000x\", \"\"]\n", feature(0));
	parse_bad(text, 2, 6, "cpu.hide: item 1: must not contain a NUL character");
	assert_logged(6, "cpu.hide: unknown CPU feature \"\" (known names include: ");
	assert_false(arch_cpu_feature_known(""));
}

static void test_unknown(void **state __attribute__((unused)))
{
	parse_bad(VM "vcpu = 2\n" BOOT, 1, 3, "vm.vcpu: unknown key");
	parse_bad(BASE "kernal = 'x'\n", 1, 5, "boot.kernal: unknown key");
	parse_bad("debug = true\n" BASE, 1, 1, "debug: unknown key");
	parse_bad(BASE "[network]\nx = 1\n", 1, 5, "network: unknown table");
	parse_bad(BASE "[vm.extra]\n", 1, 5, "vm.extra: unknown table");
	parse_bad(BASE "[[disk]]\npath = 'nonexistent.img'\nsize = 1\n", 2, 6, "disk.path: ");
	assert_logged(7, "disk.size: unknown key");
	/* [[net]] is parsed now (tools/netsetup); an empty entry lacks its TAP. */
	parse_bad(BASE "[[net]]\n", 1, 5, "net[0].tap: missing required key");
	parse_bad(BASE "[[fs]]\n", 2, 5, "fs[0].tag: missing required key");
	assert_logged(5, "fs[0].source: missing required key (or give socket)");
	parse_bad(BASE "[rng]\nenable = true\n", 1, 6, "rng.enable: unknown key");
	parse_bad(BASE "[console]\nmode = 'off'\nspeed = 9600\n[cpu]\nflags = []\n", 2, 7,
		  "console.speed: unknown key");
	assert_logged(9, "cpu.flags: unknown key");
}

/* [[net]] interrupt_hold_us: 50 by default, 0 turns holds off, the range
 * is bounded and a wrong value names its line. */
static void test_net_interrupt_hold(void **state __attribute__((unused)))
{
	struct vm_config cfg;

	parse_ok(BASE "[[net]]\ntap = 'tap0'\n[[net]]\ntap = 'tap1'\ninterrupt_hold_us = 0\n"
		 "[[net]]\ntap = 'tap2'\ninterrupt_hold_us = 1000\n", &cfg);
	assert_int_equal(cfg.net[0].irq_hold_us, 50);
	assert_int_equal(cfg.net[1].irq_hold_us, 0);
	assert_int_equal(cfg.net[2].irq_hold_us, 1000);
	config_free(&cfg);
	parse_bad(BASE "[[net]]\ntap = 'tap0'\ninterrupt_hold_us = 1001\n", 1, 7,
		  "net[0].interrupt_hold_us: ");
	parse_bad(BASE "[[net]]\ntap = 'tap0'\ninterrupt_hold_us = true\n", 1, 7,
		  "net[0].interrupt_hold_us: ");
	/* vhost-net interrupts the guest itself: a hold would be ignored. */
	parse_bad(BASE "[[net]]\ntap = 'tap0'\nvhost = true\ninterrupt_hold_us = 20\n", 1, 8,
		  "net[0].interrupt_hold_us: does not apply with vhost = true");
}

/* [[net]] queues: one pair per vCPU up to NET_QUEUES_MAX on a TAP by name,
 * 1 elsewhere; more than 1 set explicitly only on a TAP by name, without
 * vhost; each refusal names its line and says why. */
static void test_net_queues(void **state __attribute__((unused)))
{
	struct vm_config cfg;

	parse_ok("[vm]\nname = \"t\"\nvcpus = 2\n" BOOT "[[net]]\ntap = 'tap0'\n"
		 "[[net]]\ntap = 'tap1'\nqueues = 1\n[[net]]\ntap_fd = 3\n"
		 "[[net]]\ntap = 'tap3'\nvhost = true\n", &cfg);
	assert_int_equal(cfg.net[0].queues, 2);
	assert_false(cfg.net[0].queues_given);
	assert_int_equal(cfg.net[1].queues, 1);
	assert_true(cfg.net[1].queues_given);
	assert_int_equal(cfg.net[2].queues, 1);
	assert_int_equal(cfg.net[3].queues, 1);
	config_free(&cfg);
	parse_ok("[vm]\nname = \"t\"\nvcpus = 16\n" BOOT "[[net]]\ntap = 'tap0'\n"
		 "[[net]]\ntap = 'tap1'\nqueues = 3\n", &cfg);
	assert_int_equal(cfg.net[0].queues, NET_QUEUES_MAX);
	assert_int_equal(cfg.net[1].queues, 3);
	config_free(&cfg);
	parse_ok(BASE "[[net]]\ntap = 'tap0'\n", &cfg);
	assert_int_equal(cfg.net[0].queues, 1);	/* one vCPU */
	config_free(&cfg);
	parse_bad(BASE "[[net]]\ntap = 'tap0'\nqueues = 5\n", 1, 7, "net[0].queues: ");
	parse_bad(BASE "[[net]]\ntap = 'tap0'\nqueues = 0\n", 1, 7, "net[0].queues: ");
	parse_bad(BASE "[[net]]\ntap = 'tap0'\nqueues = '2'\n", 1, 7, "net[0].queues: ");
	parse_bad(BASE "[[net]]\ntap_fd = 3\nqueues = 2\n", 1, 7,
		  "net[0].queues: must be 1 with tap_fd: an inherited descriptor is one queue");
	parse_bad(BASE "[[net]]\ntap = 'tap0'\nvhost = true\nqueues = 2\n", 1, 8,
		  "net[0].queues: more than one with vhost = true is not supported yet");
	parse_bad(BASE "[[net]]\nmode = 'user'\npasst = '/bin/true'\nqueues = 2\n", 1, 8,
		  "net[0].queues: must be 1 with mode = \"user\"");
}

/* A comma in a share's path would end virtiofsd's `-o source=` option and
 * start another one (`xattr`, or one that defeats read_only). */
static void test_fs_source_comma(void **state __attribute__((unused)))
{
	parse_bad(BASE "[[fs]]\ntag = 'x'\nsource = '/srv/a,xattr'\nread_only = true\n", 1, 7,
		  "fs[0].source: /srv/a,xattr: a comma cannot be passed to virtiofsd (it "
		  "separates its -o options); rename the directory or bind-mount it at a path "
		  "without one");
}

/* [[disk]] format and label: only for an image vmm creates (size_mib), the
 * mkfs looked up only when the image is missing, labels held to each file
 * system's limit. */
static void test_disk_format(void **state __attribute__((unused)))
{
	struct vm_config cfg;
	char p[PATH_MAX];

	parse_ok(BASE "[[disk]]\npath = 'new.img'\nsize_mib = 64\nformat = 'ext4'\n"
		 "label = 'data'\n", &cfg);
	assert_int_equal(cfg.disk[0].format, DISK_FORMAT_EXT4);
	assert_string_equal(cfg.disk[0].label, "data");
	assert_non_null(cfg.disk[0].mkfs);
	assert_non_null(strstr(cfg.disk[0].mkfs, "/mkfs.ext4"));
	config_free(&cfg);
	/* Existing image: nothing to format, no mkfs needed. */
	parse_ok(BASE "[[disk]]\npath = 'initrd.img'\nsize_mib = 64\nformat = 'ext4'\n", &cfg);
	assert_int_equal(cfg.disk[0].format, DISK_FORMAT_EXT4);
	assert_null(cfg.disk[0].mkfs);
	config_free(&cfg);

	parse_bad(BASE "[[disk]]\npath = 'initrd.img'\nformat = 'ext4'\n", 1, 7,
		  "disk.format: applies only with size_mib (vmm formats only an image it "
		  "creates)");
	parse_bad(BASE "[[disk]]\npath = 'new.img'\nsize_mib = 64\nformat = 'ntfs'\n", 1, 8,
		  "disk.format: ");
	parse_bad(BASE "[[disk]]\npath = 'new.img'\nsize_mib = 64\nlabel = 'x'\n", 1, 8,
		  "disk.label: applies only with format");
	parse_bad(BASE "[[disk]]\npath = 'new.img'\nsize_mib = 64\nformat = 'ext4'\n"
		  "label = '0123456789abcdefg'\n", 1, 9,
		  "disk.label: is 17 bytes long; ext4 takes at most 16");
	/* An existing image: the label is checked all the same. */
	parse_bad(BASE "[[disk]]\npath = 'initrd.img'\nsize_mib = 64\nformat = 'xfs'\n"
		  "label = '0123456789abc'\n", 1, 9,
		  "disk.label: is 13 bytes long; xfs takes at most 12");
	parse_bad(BASE "[[disk]]\npath = 'initrd.img'\nsize_mib = 64\nformat = 'vfat'\n"
		  "label = 'A.B'\n", 1, 9,
		  "disk.label: \"A.B\": vfat takes printable ASCII without");
	parse_bad(BASE "[[disk]]\npath = 'new.img'\nsize_mib = 64\nformat = 'ext4'\n"
		  "label = ''\n", 1, 9, "disk.label: \"\": empty, or has a control character");
	/* A missing mkfs: Debian's xfsprogs is not among tools/install-deps'
	 * packages (a host that has it skips this, visibly). */
	snprintf(p, sizeof(p), "/usr/sbin/mkfs.xfs");
	if (access(p, X_OK) == 0 || access("/sbin/mkfs.xfs", X_OK) == 0)
		skip();
	{
		char *path = getenv("PATH") ? strdup(getenv("PATH")) : NULL;

		setenv("PATH", "/nonexistent", 1);
		parse_bad(BASE "[[disk]]\npath = 'new.img'\nsize_mib = 512\nformat = 'xfs'\n",
			  1, 8, "disk.format: mkfs.xfs is not in PATH, /usr/sbin or /sbin (Debian "
			  "package xfsprogs); it formats the image vmm creates");
		if (path)
			setenv("PATH", path, 1);
		free(path);
	}
}

/* [console] max_size_mib: with a file only, and at least 1 MiB. */
static void test_console_max_size(void **state __attribute__((unused)))
{
	parse_bad(BASE "[console]\nmode = 'stdio'\nmax_size_mib = 8\n", 1, 7,
		  "console.max_size_mib: only valid with mode = \"file\"");
	parse_bad(BASE "[console]\nmode = 'file'\npath = 'c.log'\nmax_size_mib = 0\n", 1, 8,
		  "console.max_size_mib: 0 is out of range");
}

static void test_missing_required(void **state __attribute__((unused)))
{
	parse_bad("", 2, 1, "vm.name: missing required key");
	assert_logged(1, "boot.kernel: missing required key");
	parse_bad("# comment\n\n[vm]\nvcpus = 2\n" BOOT, 1, 3, "vm.name: missing required key");
	parse_bad(VM "\n\n[boot]\ninitrd = 'initrd.img'\n", 1, 5, "boot.kernel: missing required key");
	/* Defined by dotted keys from the root: the table's line is the key's. */
	parse_bad("boot.kernel = 'bzImage'\n\nvm.vcpus = 2\n", 1, 3, "vm.name: missing required key");
}

static void test_all_errors_reported(void **state __attribute__((unused)))
{
	parse_bad("[vm]\n"
		  "name = \"-bad\"\n"
		  "vcpus = 0\n"
		  "memory = 5\n"
		  "[boot]\n"
		  "kernel = \"missing\"\n"
		  "[console]\n"
		  "mode = \"serial\"\n"
		  "[[disk]]\n"
		  "[cpu]\n"
		  "hide = [\"nope\"]\n",
		  7, 2, "vm.name: must not start with '.' or '-'");
	assert_logged(3, "vm.vcpus: 0 is out of range");
	assert_logged(4, "vm.memory: unknown key");
	assert_logged(6, "boot.kernel: ");
	assert_logged(8, "console.mode: invalid value \"serial\"");
	assert_logged(9, "disk.path: missing required key");
	assert_logged(11, "cpu.hide: unknown CPU feature \"nope\"");
}

static void test_syntax_errors(void **state __attribute__((unused)))
{
	parse_bad(VM "vcpus = 1.5\n" BOOT, 1, 3, "'1.5': floating-point values are not supported");
	parse_bad(VM "name = 'again'\n" BOOT, 1, 3, "duplicate key 'name' (first defined on line 2)");
	parse_bad("[vm\n", 1, 1, "unexpected end of line, expected ']' to close the header");
	parse_bad(BASE "[vm]\n", 1, 5, "table 'vm' is already defined (line 1)");
}

static void test_cmdline(void **state __attribute__((unused)))
{
	struct vm_config cfg;
	char *text = malloc(VM_CMDLINE_MAX + 128);
	char arg[VM_CMDLINE_MAX + 1];

	assert_non_null(text);
	memset(arg, 'x', sizeof(arg));
	arg[VM_CMDLINE_MAX - 1] = '\0';
	snprintf(text, VM_CMDLINE_MAX + 128, BASE "cmdline = \"%s\"\n", arg);
	parse_ok(text, &cfg);
	assert_int_equal(strlen(cfg.cmdline), VM_CMDLINE_MAX - 1);
	config_free(&cfg);

	arg[VM_CMDLINE_MAX - 1] = 'x';
	arg[VM_CMDLINE_MAX] = '\0';
	snprintf(text, VM_CMDLINE_MAX + 128, BASE "cmdline = \"%s\"\n", arg);
	parse_bad(text, 1, 5, "boot.cmdline: is 4096 bytes long; the limit is 4095");
	free(text);

	parse_ok(BASE "cmdline = \"console=ttyS0 root=/dev/vda \\\"quoted\\\"\"\n", &cfg);
	assert_string_equal(cfg.cmdline, "console=ttyS0 root=/dev/vda \"quoted\"");
	config_free(&cfg);
}

static void test_load(void **state __attribute__((unused)))
{
	struct vm_config cfg;
	char path[PATH_MAX], want[PATH_MAX];
	const char *good = BASE "initrd = 'initrd.img'\n";
	char *big;

	write_file("vm.toml", good, strlen(good));
	assert_int_equal(capture(do_load, cfgname, NULL, &cfg), 0);
	assert_string_equal(logbuf, "");
	assert_string_equal(cfg.source, cfgname);
	path_in(want, sizeof(want), "initrd.img");
	assert_string_equal(cfg.initrd, want);
	config_free(&cfg);

	write_file("vm.toml", "[vm]\nvcpus = 100\n", 17);
	assert_int_equal(capture(do_load, cfgname, NULL, &cfg), -1);
	assert_logged(2, "vm.vcpus: 100 is out of range");
	assert_logged(1, "boot.kernel: missing required key");

	path_in(path, sizeof(path), "absent.toml");
	assert_int_equal(capture(do_load, path, NULL, &cfg), -1);
	assert_non_null(strstr(logbuf, "absent.toml: cannot open config: No such file or directory"));
	assert_null(cfg.source);

	assert_int_equal(capture(do_load, tmpdir, NULL, &cfg), -1);
	assert_non_null(strstr(logbuf, ": cannot read config: Is a directory"));

	/* A wrong path to something huge is refused, not slurped. */
	big = malloc((1 << 20) + 2);
	assert_non_null(big);
	memset(big, '\n', (1 << 20) + 2);
	write_file("big.toml", big, (1 << 20) + 2);
	free(big);
	path_in(path, sizeof(path), "big.toml");
	assert_int_equal(capture(do_load, path, NULL, &cfg), -1);
	assert_non_null(strstr(logbuf, "big.toml: config larger than 1048576 bytes"));
}

static void test_print_roundtrip(void **state __attribute__((unused)))
{
	struct vm_config cfg, again;
	char text[1024], *out = NULL;
	size_t outlen = 0;
	FILE *f;

	snprintf(text, sizeof(text),
		 VM "vcpus = 3\nmemory_mib = 2048\nshutdown_timeout = 7\n" BOOT
		 "initrd = 'initrd.img'\ncmdline = \"a=\\\"b\\\" \\\\ \\t\"\n"
		 "[console]\nmode = 'file'\npath = 'out.log'\n"
		 "[cpu]\ntemplate = 'baseline'\nhide = ['%s']\n[log]\nlevel = 'notice'\n",
		 feature(0));
	parse_ok(text, &cfg);
	f = open_memstream(&out, &outlen);
	assert_non_null(f);
	config_print(&cfg, f);
	assert_int_equal(fclose(f), 0);
	assert_non_null(strstr(out, "vcpus = 3\n"));
	assert_non_null(strstr(out, "memory_mib = 2048\n"));
	assert_non_null(strstr(out, "level = \"notice\"\n"));
	assert_non_null(strstr(out, "template = \"baseline\"\n"));

	/* The dump is itself a valid config with the same values. */
	parse_ok(out, &again);
	assert_string_equal(again.name, cfg.name);
	assert_int_equal(again.vcpus, 3);
	assert_int_equal(again.memory_mib, 2048);
	assert_int_equal(again.shutdown_timeout_s, 7);
	assert_string_equal(again.kernel, cfg.kernel);
	assert_string_equal(again.initrd, cfg.initrd);
	assert_string_equal(again.cmdline, "a=\"b\" \\ \t");
	assert_string_equal(again.cmdline, cfg.cmdline);
	assert_int_equal(again.console_mode, CONSOLE_FILE);
	assert_string_equal(again.console_path, cfg.console_path);
	assert_int_equal(again.cpu_template, CPU_TEMPLATE_BASELINE);
	assert_int_equal(again.n_cpu_hide, 1);
	assert_string_equal(again.cpu_hide[0], feature(0));
	assert_int_equal(again.log_level, LOG_LVL_NOTICE);
	config_free(&again);
	config_free(&cfg);
	free(out);

	/* Defaults print too, and read back. */
	parse_ok(BASE, &cfg);
	out = NULL;
	f = open_memstream(&out, &outlen);
	assert_non_null(f);
	config_print(&cfg, f);
	assert_int_equal(fclose(f), 0);
	assert_non_null(strstr(out, "mode = \"stdio\"\n"));
	assert_non_null(strstr(out, "hide = []\n"));
	parse_ok(out, &again);
	assert_null(again.initrd);
	config_free(&again);
	config_free(&cfg);
	free(out);
}

/* [vm] control_socket, user, group. */
/* [vm] ready = "guest" and its keys (the [vsock] cases that load: test_vsock*). */
static void test_ready_guest(void **state __attribute__((unused)))
{
	struct vm_config cfg;

	parse_ok(BASE, &cfg);
	assert_int_equal(cfg.ready_port, 8888);
	assert_int_equal(cfg.ready_timeout_s, 120);
	config_free(&cfg);
	/* Without [vsock] the guest has no way to report. */
	parse_bad(VM "ready = \"guest\"\n" BOOT, 1, 3,
		  "vm.ready: \"guest\" needs a [vsock] table (with a valid cid): the guest "
		  "reports over vsock (docs/operations.md)");
	/* The guest keys do nothing with another ready: refused, not ignored. */
	parse_bad(VM "ready_port = 9000\nready_timeout = 5\n" BOOT, 2, 3,
		  "vm.ready_port: only valid with ready = \"guest\"");
	assert_logged(4, "vm.ready_timeout: only valid with ready = \"guest\"");
	parse_bad(VM "ready = \"userspace\"\nready_timeout = 5\n" BOOT, 1, 4,
		  "vm.ready_timeout: only valid with ready = \"guest\"");
	/* Ranges: port 0 and VMADDR_PORT_ANY are no ports; a day at most. (Each
	 * config also lacks [vsock]: that error comes first, on line 3.) */
	static const struct { const char *line; const char *msg; } bad[] = {
		{ "ready_port = 0", "vm.ready_port: 0 is out of range (1 to 4294967294)" },
		{ "ready_port = 4294967295",
		  "vm.ready_port: 4294967295 is out of range (1 to 4294967294)" },
		{ "ready_timeout = 86401", "vm.ready_timeout: 86401 is out of range (0 to 86400)" },
		{ "ready_timeout = \"2m\"", "vm.ready_timeout: expected an integer, got a string" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char text[256];

		snprintf(text, sizeof(text), VM "ready = \"guest\"\n%s\n" BOOT, bad[i].line);
		parse_bad(text, 2, 3, "vm.ready: \"guest\" needs a [vsock] table (with a valid cid)");
		assert_logged(4, bad[i].msg);
	}
	/* With [vsock]: the defaults, or what is given. */
	parse_ok(VM "ready = \"guest\"\n" BOOT "[vsock]\ncid = 3\nsocket = \"v.vsock\"\n", &cfg);
	assert_int_equal(cfg.ready, READY_GUEST);
	assert_int_equal(cfg.ready_port, 8888);
	assert_int_equal(cfg.ready_timeout_s, 120);
	config_free(&cfg);
	parse_ok(VM "ready = \"guest\"\nready_port = 1\nready_timeout = 0\n" BOOT
		 "[vsock]\ncid = 3\nsocket = \"v.vsock\"\n", &cfg);
	assert_int_equal(cfg.ready_port, 1);
	assert_int_equal(cfg.ready_timeout_s, 0);
	config_free(&cfg);
	/* A command line that sets the credential itself would win in the guest. */
	parse_bad(VM "ready = \"guest\"\n" "[boot]\nkernel = \"bzImage\"\ncmdline = "
		  "\"systemd.set_credential=vmm.notify_socket:vsock:2:1\"\n"
		  "[vsock]\ncid = 3\nsocket = \"v.vsock\"\n", 1, 3,
		  "vm.ready: boot.cmdline sets the vmm.notify_socket credential itself");
}

static void test_vm_ops(void **state __attribute__((unused)))
{
	struct vm_config cfg;
	char want[PATH_MAX + 32], *out = NULL;
	size_t outlen = 0;
	FILE *f;

	/* The default: RUNDIR/NAME.sock, RUNDIR from VMM_RUNTIME_DIR first. */
	setenv("VMM_RUNTIME_DIR", "/tmp/rundir", 1);
	parse_ok(BASE, &cfg);
	assert_string_equal(cfg.control_socket, "/tmp/rundir/t.sock");
	assert_true(cfg.control_socket_default);
	assert_null(cfg.user);
	assert_null(cfg.group);
	config_free(&cfg);

	/* Configured: relative to the config's directory; "" turns it off. */
	parse_ok(VM "control_socket = \"ctl/t.sock\"\n" BOOT, &cfg);
	snprintf(want, sizeof(want), "%s/ctl/t.sock", tmpdir);
	assert_string_equal(cfg.control_socket, want);
	assert_false(cfg.control_socket_default);
	config_free(&cfg);
	parse_ok(VM "control_socket = \"\"\n" BOOT, &cfg);
	assert_null(cfg.control_socket);
	assert_false(cfg.control_socket_default);
	/* --check prints it, and the printout reads back the same. */
	f = open_memstream(&out, &outlen);
	assert_non_null(f);
	config_print(&cfg, f);
	assert_int_equal(fclose(f), 0);
	assert_non_null(strstr(out, "control_socket = \"\"\n"));
	config_free(&cfg);
	free(out);

	parse_bad(VM "control_socket = \"/run/vmm/"
		  "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		  ".sock\"\n" BOOT, 1, 3, "vm.control_socket: /run/vmm/aaaa");
	assert_non_null(strstr(logbuf, "bytes long; a unix socket's path can have at most 107"));
	parse_bad(VM "control_socket = 1\n" BOOT, 1, 3,
		  "vm.control_socket: expected a string, got an integer");

	/* user and group: names or ids, checked like [[net]] owner/group. */
	parse_ok(VM "user = \"vmm-vm1\"\ngroup = \"kvm\"\n" BOOT, &cfg);
	assert_string_equal(cfg.user, "vmm-vm1");
	assert_string_equal(cfg.group, "kvm");
	out = NULL;
	f = open_memstream(&out, &outlen);
	assert_non_null(f);
	config_print(&cfg, f);
	assert_int_equal(fclose(f), 0);
	assert_non_null(strstr(out, "user = \"vmm-vm1\"\ngroup = \"kvm\"\n"));
	config_free(&cfg);
	free(out);
	parse_ok(VM "user = \"1000\"\n" BOOT, &cfg);
	assert_string_equal(cfg.user, "1000");
	config_free(&cfg);
	parse_bad(VM "user = \"root; rm\"\n" BOOT, 1, 3,
		  "vm.user: \"root; rm\" is not a user/group name or numeric id");
	parse_bad(VM "group = \"\"\n" BOOT, 1, 3, "vm.group: must be 1 to 32 characters, not 0");

	/* No runtime directory (not root, no XDG_RUNTIME_DIR): no default socket. */
	unsetenv("VMM_RUNTIME_DIR");
	if (geteuid() != 0) {
		char *xdg = getenv("XDG_RUNTIME_DIR") ? strdup(getenv("XDG_RUNTIME_DIR")) : NULL;

		unsetenv("XDG_RUNTIME_DIR");
		parse_ok(BASE, &cfg);
		assert_null(cfg.control_socket);
		assert_true(cfg.control_socket_default);
		config_free(&cfg);
		if (xdg)
			setenv("XDG_RUNTIME_DIR", xdg, 1);
		free(xdg);
	} else {
		parse_ok(BASE, &cfg);
		assert_string_equal(cfg.control_socket, "/run/vmm/t.sock");
		config_free(&cfg);
	}
}

/* slots_place on its own: explicit slots first, the rest on the lowest free
 * ones in order, and each way it refuses. */
static void test_slots_place(void **state __attribute__((unused)))
{
	unsigned out[8];
	size_t bad = 99;

	/* Nothing explicit: the config's order, from the first slot. */
	assert_int_equal(slots_place((int[]){ -1, -1, -1 }, 3, 1, 31, out, &bad), 0);
	assert_int_equal(out[0], 1);
	assert_int_equal(out[1], 2);
	assert_int_equal(out[2], 3);
	/* A NIC on 5 after two disks stays on 5 when a third disk comes, and
	 * the automatic ones go around it: 1 2 3 4 6. */
	assert_int_equal(slots_place((int[]){ -1, -1, 5, -1 }, 4, 1, 31, out, &bad), 0);
	assert_int_equal(out[2], 5);
	assert_int_equal(slots_place((int[]){ -1, -1, -1, 5, -1, -1, -1 }, 7, 1, 31, out,
				     &bad), 0);
	assert_int_equal(out[0], 1);
	assert_int_equal(out[1], 2);
	assert_int_equal(out[2], 3);
	assert_int_equal(out[3], 5);
	assert_int_equal(out[4], 4);
	assert_int_equal(out[5], 6);
	assert_int_equal(out[6], 7);
	/* An explicit slot later in the list is placed before the earlier
	 * automatic ones look: the automatic device does not take 1. */
	assert_int_equal(slots_place((int[]){ -1, 1 }, 2, 1, 31, out, &bad), 0);
	assert_int_equal(out[0], 2);
	assert_int_equal(out[1], 1);
	/* Slot 0 exists where first is 0 (virtio-mmio). */
	assert_int_equal(slots_place((int[]){ -1, 0 }, 2, 0, 31, out, &bad), 0);
	assert_int_equal(out[0], 1);
	assert_int_equal(out[1], 0);
	/* Refusals name the device at fault. */
	assert_int_equal(slots_place((int[]){ -1, 4, 4 }, 3, 1, 31, out, &bad), -EEXIST);
	assert_int_equal(bad, 2);
	assert_int_equal(slots_place((int[]){ -1, 0 }, 2, 1, 31, out, &bad), -EINVAL);
	assert_int_equal(bad, 1);
	assert_int_equal(slots_place((int[]){ 32 }, 1, 1, 31, out, &bad), -EINVAL);
	assert_int_equal(bad, 0);
	assert_int_equal(slots_place((int[]){ -1, 2, -1, -1 }, 4, 1, 3, out, &bad), -ENOSPC);
	assert_int_equal(bad, 3);
	assert_int_equal(slots_place((int[]){ -1 }, 1, 1, 32, out, &bad), -EINVAL);
	assert_int_equal(slots_place(NULL, 0, 1, 31, out, NULL), 0);
}

/* pci_slot in the loader: accepted on [[disk]], [[net]], [[fs]] and [rng],
 * placed by config_devices, printed by --check; refused out of range, of
 * the wrong type, twice on one slot, and when the devices outnumber the
 * slots. */
/* [vsock]: cid range and presence, socket default and length, slot. */
static void test_vsock(void **state __attribute__((unused)))
{
	struct vm_dev_ref dev[VM_DEVICES_MAX];
	struct vm_config cfg;
	char *out = NULL, want[PATH_MAX];
	size_t outlen = 0;
	FILE *f;

	parse_ok(BASE, &cfg);
	assert_int_equal(cfg.vsock_cid, 0);	/* no table, no device */
	assert_null(cfg.vsock_socket);
	config_free(&cfg);

	setenv("VMM_RUNTIME_DIR", "/tmp/rundir", 1);
	parse_ok(BASE "[vsock]\ncid = 3\n", &cfg);
	assert_int_equal(cfg.vsock_cid, 3);
	assert_string_equal(cfg.vsock_socket, "/tmp/rundir/t.vsock");
	/* The device comes last: after the rng. */
	assert_int_equal(config_devices(&cfg, dev), 2);
	assert_int_equal(dev[1].kind, VM_DEV_VSOCK);
	f = open_memstream(&out, &outlen);
	assert_non_null(f);
	config_print(&cfg, f);
	assert_int_equal(fclose(f), 0);
	assert_non_null(strstr(out, "[vsock]\ncid = 3\nsocket = \"/tmp/rundir/t.vsock\"\n# pci_slot = "));
	free(out);
	config_free(&cfg);

	parse_ok(BASE "[vsock]\ncid = 4294967294\nsocket = 'v.sock'\npci_slot = 9\n", &cfg);
	assert_int_equal(cfg.vsock_cid, 4294967294u);
	path_in(want, sizeof(want), "v.sock");
	assert_string_equal(cfg.vsock_socket, want);	/* from the config's directory */
	assert_int_equal(cfg.vsock_pci_slot.slot, 9);
	config_free(&cfg);

	parse_bad(BASE "[vsock]\n", 1, 5, "vsock.cid: missing required key");
	parse_bad(BASE "[vsock]\ncid = 2\n", 1, 6, "vsock.cid: 2 is out of range (3 to 4294967294)");
	parse_bad(BASE "[vsock]\ncid = 4294967295\n", 1, 6,
		  "vsock.cid: 4294967295 is out of range (3 to 4294967294)");
	parse_bad(BASE "[vsock]\ncid = '3'\n", 1, 6, "vsock.cid: expected an integer, got a string");
	parse_bad(BASE "[vsock]\ncid = 3\nsocket = ''\n", 1, 7, "vsock.socket: must not be empty");
	parse_bad(BASE "[vsock]\ncid = 3\nport = 1\n", 1, 7, "vsock.port: unknown key");
	/* 96 bytes is the most: "_4294967295" must fit after it. */
	parse_ok(BASE "[vsock]\ncid = 3\nsocket = '/" "0123456789012345678901234567890123456789"
		 "0123456789012345678901234567890123456789" "012345678901234'\n", &cfg);
	config_free(&cfg);
	parse_bad(BASE "[vsock]\ncid = 3\nsocket = '/" "0123456789012345678901234567890123456789"
		  "0123456789012345678901234567890123456789" "0123456789012345'\n", 1, 7,
		  "vsock.socket: /0123");
	parse_bad(BASE "[[vsock]]\ncid = 3\n", 1, 5, "vsock: expected a table");
	parse_bad(BASE "[vsock]\ncid = 3\npci_slot = 5\n[rng]\npci_slot = 5\n", 1, 7,
		  "vsock.pci_slot: slot 5 is taken already by rng (line 9)");
	/* No runtime directory, no default. */
	unsetenv("VMM_RUNTIME_DIR");
	if (geteuid() != 0) {
		char *xdg = getenv("XDG_RUNTIME_DIR") ? strdup(getenv("XDG_RUNTIME_DIR")) : NULL;

		unsetenv("XDG_RUNTIME_DIR");
		parse_bad(BASE "[vsock]\ncid = 3\n", 1, 5, "vsock.socket: no default");
		if (xdg) {
			setenv("XDG_RUNTIME_DIR", xdg, 1);
			free(xdg);
		}
	}
}

/* [balloon]: the table adds the device, defaults, ranges, target below
 * guest memory, --check output, slot. */
static void test_balloon(void **state __attribute__((unused)))
{
	struct vm_dev_ref dev[VM_DEVICES_MAX];
	struct vm_config cfg;
	char *out = NULL;
	size_t outlen = 0;
	FILE *f;

	parse_ok(BASE, &cfg);
	assert_false(cfg.balloon_enabled);	/* no table, no device */
	config_free(&cfg);

	parse_ok(BASE "[balloon]\n", &cfg);
	assert_true(cfg.balloon_enabled);
	assert_int_equal(cfg.balloon_target_mib, 0);
	assert_true(cfg.balloon_deflate_on_oom);
	assert_true(cfg.balloon_reporting);
	assert_int_equal(cfg.balloon_stats_interval_s, 5);
	assert_int_equal(config_devices(&cfg, dev), 2);	/* after the rng */
	assert_int_equal(dev[1].kind, VM_DEV_BALLOON);
	f = open_memstream(&out, &outlen);
	assert_non_null(f);
	config_print(&cfg, f);
	assert_int_equal(fclose(f), 0);
	assert_non_null(strstr(out, "[balloon]\nenabled = true\ntarget_mib = 0\n"
			       "deflate_on_oom = true\nfree_page_reporting = true\n"
			       "stats_interval_s = 5\n# pci_slot = "));
	free(out);
	config_free(&cfg);

	parse_ok(BASE "[balloon]\ntarget_mib = 100\ndeflate_on_oom = false\n"
		 "free_page_reporting = false\nstats_interval_s = 0\npci_slot = 9\n", &cfg);
	assert_int_equal(cfg.balloon_target_mib, 100);
	assert_false(cfg.balloon_deflate_on_oom);
	assert_false(cfg.balloon_reporting);
	assert_int_equal(cfg.balloon_stats_interval_s, 0);
	assert_int_equal(cfg.balloon_pci_slot.slot, 9);
	config_free(&cfg);

	parse_ok(BASE "[balloon]\nenabled = false\n", &cfg);
	assert_false(cfg.balloon_enabled);
	assert_int_equal(config_devices(&cfg, dev), 1);
	config_free(&cfg);

	parse_bad(BASE "[balloon]\ntarget_mib = 256\n", 1, 6,
		  "balloon.target_mib: 256 MiB is not less than the guest's memory ([vm] memory_mib = 256)");
	parse_bad(BASE "[balloon]\ntarget_mib = -1\n", 1, 6, "balloon.target_mib: -1 is out of range");
	parse_bad(BASE "[balloon]\nstats_interval_s = 86401\n", 1, 6,
		  "balloon.stats_interval_s: 86401 is out of range (0 to 86400)");
	parse_bad(BASE "[balloon]\nfree_page_reporting = 1\n", 1, 6,
		  "balloon.free_page_reporting: expected a boolean");
	parse_bad(BASE "[balloon]\nfree_page_hint = true\n", 1, 6, "balloon.free_page_hint: unknown key");
	parse_bad(BASE "[balloon]\nenabled = false\npci_slot = 4\n", 1, 7,
		  "balloon.pci_slot: applies only to an enabled balloon");
	parse_bad(BASE "[balloon]\npci_slot = 5\n[rng]\npci_slot = 5\n", 1, 6,
		  "balloon.pci_slot: slot 5 is taken already by rng (line 8)");
}

static void test_pci_slot(void **state __attribute__((unused)))
{
	struct vm_dev_ref dev[VM_DEVICES_MAX];
	struct vm_config cfg;
	unsigned first, last;
	const char *what = arch_device_slots(&first, &last);
	char text[8192], msg[256], *out = NULL;
	size_t outlen = 0, len;
	FILE *f;

	/* Lines: 5 [[disk]], 8 [[disk]], 9 pci_slot, 12 [[net]], 14 pci_slot,
	 * 15 [rng], 16 pci_slot, 17 [[fs]], 20 pci_slot. */
	parse_ok(BASE "[[disk]]\npath = 'a.img'\nsize_mib = 1\n"
		 "[[disk]]\npci_slot = 7\npath = 'b.img'\nsize_mib = 1\n"
		 "[[net]]\ntap = 't0'\npci_slot = 5\n"
		 "[rng]\npci_slot = 9\n"
		 "[[fs]]\ntag = 'x'\nsocket = '/run/x.sock'\npci_slot = 31\n", &cfg);
	assert_false(cfg.disk[0].pci_slot.given);
	assert_true(cfg.disk[1].pci_slot.given);
	assert_int_equal(cfg.disk[1].pci_slot.slot, 7);
	assert_int_equal(cfg.disk[1].pci_slot.line, 9);
	assert_int_equal(cfg.net[0].pci_slot.slot, 5);
	assert_int_equal(cfg.rng_pci_slot.slot, 9);
	assert_int_equal(cfg.fs[0].pci_slot.slot, 31);
	assert_int_equal(cfg.fs[0].pci_slot.line, 20);
	/* Creation order disks, NICs, rng, shares; the one automatic disk
	 * takes the first slot. */
	assert_int_equal(config_devices(&cfg, dev), 5);
	assert_int_equal(dev[0].kind, VM_DEV_DISK);
	assert_int_equal(dev[0].slot, first);
	assert_int_equal(dev[1].kind, VM_DEV_DISK);
	assert_int_equal(dev[1].index, 1);
	assert_int_equal(dev[1].slot, 7);
	assert_int_equal(dev[2].kind, VM_DEV_NET);
	assert_int_equal(dev[2].slot, 5);
	assert_int_equal(dev[3].kind, VM_DEV_RNG);
	assert_int_equal(dev[3].slot, 9);
	assert_int_equal(dev[4].kind, VM_DEV_FS);
	assert_int_equal(dev[4].slot, 31);
	/* --check shows every slot; automatic ones commented, so that reading
	 * the dump back keeps them automatic. */
	f = open_memstream(&out, &outlen);
	assert_non_null(f);
	config_print(&cfg, f);
	assert_int_equal(fclose(f), 0);
	snprintf(msg, sizeof(msg), "# pci_slot = %u (automatic)\n", first);
	assert_non_null(strstr(out, msg));
	assert_non_null(strstr(out, "  # derived from the VM name\npci_slot = 5\n"));
	assert_non_null(strstr(out, "enabled = true\npci_slot = 9\n"));
	assert_non_null(strstr(out, "[[fs]]\npci_slot = 31\n"));
	config_free(&cfg);
	parse_ok(out, &cfg);
	assert_false(cfg.disk[0].pci_slot.given);
	assert_int_equal(cfg.disk[1].pci_slot.slot, 7);
	assert_int_equal(cfg.net[0].pci_slot.slot, 5);
	config_free(&cfg);
	free(out);

	/* Without pci_slot: the old order, from the first slot. */
	parse_ok(BASE "[[net]]\ntap = 't0'\n[[disk]]\npath = 'a.img'\nsize_mib = 1\n", &cfg);
	assert_int_equal(config_devices(&cfg, dev), 3);
	assert_int_equal(dev[0].kind, VM_DEV_DISK);
	assert_int_equal(dev[0].slot, first);
	assert_int_equal(dev[1].kind, VM_DEV_NET);
	assert_int_equal(dev[1].slot, first + 1);
	assert_int_equal(dev[2].kind, VM_DEV_RNG);
	assert_int_equal(dev[2].slot, first + 2);
	config_free(&cfg);

	/* Two devices on one slot: the second named, with the first's line. */
	parse_bad(BASE "[[disk]]\npath = 'a.img'\nsize_mib = 1\npci_slot = 5\n"
		  "[[net]]\ntap = 't0'\npci_slot = 5\n", 1, 11,
		  "net[0].pci_slot: slot 5 is taken already by disk[0] (line 8)");
	parse_bad(BASE "[[net]]\ntap = 't0'\npci_slot = 5\n"
		  "[[net]]\ntap = 't1'\npci_slot = 5\n[rng]\npci_slot = 5\n", 2, 10,
		  "net[1].pci_slot: slot 5 is taken already by net[0] (line 7)");
	assert_logged(12, "rng.pci_slot: slot 5 is taken already by net[0] (line 7)");
	parse_bad(BASE "[[disk]]\npath = 'a.img'\nsize_mib = 1\npci_slot = 4\n"
		  "[[disk]]\npath = 'b.img'\nsize_mib = 1\npci_slot = 4\n", 1, 12,
		  "disk.pci_slot: slot 4 is taken already by disk[0] (line 8)");
	/* Out of range: past the last slot, before the first (x86_64's 0 is
	 * the host bridge), negative. */
	snprintf(text, sizeof(text), BASE "[rng]\npci_slot = %u\n", last + 1);
	snprintf(msg, sizeof(msg), "rng.pci_slot: %u is out of range: %u to %u (%s)",
		 last + 1, first, last, what);
	parse_bad(text, 1, 6, msg);
	snprintf(text, sizeof(text), BASE "[[fs]]\ntag = 'x'\nsocket = '/x'\npci_slot = -1\n");
	snprintf(msg, sizeof(msg), "fs[0].pci_slot: -1 is out of range: %u to %u (%s)",
		 first, last, what);
	parse_bad(text, 1, 8, msg);
	if (first > 0) {
		snprintf(text, sizeof(text), BASE "[[disk]]\npath = 'a.img'\nsize_mib = 1\n"
			 "pci_slot = %u\n", first - 1);
		snprintf(msg, sizeof(msg), "disk.pci_slot: %u is out of range: %u to %u (%s)",
			 first - 1, first, last, what);
		parse_bad(text, 1, 8, msg);
	}
	/* Wrong type. */
	parse_bad(BASE "[[net]]\ntap = 't0'\npci_slot = '5'\n", 1, 7,
		  "net[0].pci_slot: expected an integer, got a string");
	parse_bad(BASE "[[disk]]\npath = 'a.img'\nsize_mib = 1\npci_slot = true\n", 1, 8,
		  "disk.pci_slot: expected an integer, got a boolean");
	/* A slot for a removed rng. */
	parse_bad(BASE "[rng]\nenabled = false\npci_slot = 3\n", 1, 7,
		  "rng.pci_slot: applies only to an enabled rng");

	/* More devices than slots: 16 disks, 8 NICs, the rng and 8 shares
	 * (33) on 31 or 32 slots; the first that finds none is named. */
	len = (size_t)snprintf(text, sizeof(text), "%s", BASE);
	for (unsigned i = 0; i < VM_DISKS_MAX; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
					"[[disk]]\npath = 'd%u.img'\nsize_mib = 1\n", i);
	for (unsigned i = 0; i < VM_NET_MAX; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
					"[[net]]\ntap = 't%u'\n", i);
	for (unsigned i = 0; i < VM_FS_MAX; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
					"[[fs]]\ntag = 'f%u'\nsocket = '/f%u'\n", i, i);
	assert_true(len < sizeof(text));
	/* Lines: disks 5..52, NICs 53..68, fs[i] at 69 + 3i; the first device
	 * without a slot is fs[6] (31 slots) or fs[7] (32). */
	snprintf(msg, sizeof(msg),
		 "fs[%u]: 33 virtio devices, but this machine has %u slots for them (%s)",
		 last - first + 1 == 31 ? 6 : 7, last - first + 1, what);
	parse_bad(text, 1, 69 + 3 * (last - first + 1 == 31 ? 6 : 7), msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_minimal_defaults),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_relative_paths),
		cmocka_unit_test(test_missing_files),
		cmocka_unit_test(test_vm_ranges),
		cmocka_unit_test(test_vm_name),
		cmocka_unit_test(test_types),
		cmocka_unit_test(test_enums),
		cmocka_unit_test(test_console),
		cmocka_unit_test(test_cpu_hide),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_fs_source_comma),
		cmocka_unit_test(test_net_interrupt_hold),
		cmocka_unit_test(test_net_queues),
		cmocka_unit_test(test_disk_format),
		cmocka_unit_test(test_console_max_size),
		cmocka_unit_test(test_missing_required),
		cmocka_unit_test(test_all_errors_reported),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_cmdline),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_print_roundtrip),
		cmocka_unit_test(test_ready_guest),
		cmocka_unit_test(test_vm_ops),
		cmocka_unit_test(test_slots_place),
		cmocka_unit_test(test_pci_slot),
		cmocka_unit_test(test_vsock),
		cmocka_unit_test(test_balloon),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
