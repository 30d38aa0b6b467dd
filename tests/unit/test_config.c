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
#include "config_fixture.h"
#include "log.h"

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
	/* virtio_transport: auto by default; "mmio" exists on aarch64 only. */
	parse_ok(VM BOOT, &cfg);
	assert_int_equal(cfg.virtio_transport, VIRTIO_TRANSPORT_AUTO);
	config_free(&cfg);
	parse_ok(VM "virtio_transport = \"pci\"\n" BOOT, &cfg);
	assert_int_equal(cfg.virtio_transport, VIRTIO_TRANSPORT_PCI);
	config_free(&cfg);
#if defined(__x86_64__)
	parse_bad(VM "virtio_transport = \"mmio\"\n" BOOT, 1, 3,
		  "vm.virtio_transport: \"mmio\" is aarch64 only; x86_64's machine has "
		  "virtio-pci (\"pci\" or \"auto\")");
#else
	parse_ok(VM "virtio_transport = \"mmio\"\n" BOOT, &cfg);
	assert_int_equal(cfg.virtio_transport, VIRTIO_TRANSPORT_MMIO);
	config_free(&cfg);
#endif
	parse_bad(VM "virtio_transport = \"virtio-pci\"\n" BOOT, 1, 3,
		  "vm.virtio_transport: invalid value \"virtio-pci\" (expected one of \"auto\", "
		  "\"pci\", \"mmio\")");
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
		 VM "vcpus = 3\nmemory_mib = 2048\nshutdown_timeout = 7\n"
		 "virtio_transport = 'pci'\n" BOOT
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
	assert_non_null(strstr(out, "virtio_transport = \"pci\"\n"));
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
	assert_int_equal(again.virtio_transport, VIRTIO_TRANSPORT_PCI);
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
		cmocka_unit_test(test_console_max_size),
		cmocka_unit_test(test_missing_required),
		cmocka_unit_test(test_all_errors_reported),
		cmocka_unit_test(test_syntax_errors),
		cmocka_unit_test(test_cmdline),
		cmocka_unit_test(test_load),
		cmocka_unit_test(test_print_roundtrip),
		cmocka_unit_test(test_vm_ops),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
