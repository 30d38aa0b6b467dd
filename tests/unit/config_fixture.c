/* See config_fixture.h. */
#include "config_fixture.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <sys/stat.h>
#include <unistd.h>

char tmpdir[256];	/* holds bzImage, initrd.img, sub/vmlinux, adir/ */
char cfgname[PATH_MAX];	/* tmpdir/vm.toml: errors name it, paths start there */
char logbuf[65536];	/* what log_err printed during the last parse */

void path_in(char *buf, size_t size, const char *rel)
{
	snprintf(buf, size, "%s/%s", tmpdir, rel);
}

void write_file(const char *rel, const char *text, size_t len)
{
	char p[PATH_MAX];
	FILE *f;

	path_in(p, sizeof(p), rel);
	f = fopen(p, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(text, 1, len, f), len);
	assert_int_equal(fclose(f), 0);
}

int group_setup(void **state)
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

int group_teardown(void **state)
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
int capture(int (*fn)(const char *, const char *, struct vm_config *),
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

int do_load(const char *name, const char *text __attribute__((unused)),
		   struct vm_config *cfg)
{
	return config_load(name, cfg);
}

int parse_named(const char *name, const char *text, struct vm_config *cfg)
{
	return capture(do_parse, name, text, cfg);
}

void parse_ok(const char *text, struct vm_config *cfg)
{
	if (parse_named(cfgname, text, cfg) != 0)
		print_error("config rejected:\n%s\nlog:\n%s", text, logbuf);
	assert_string_equal(logbuf, "");
}

unsigned count_lines(const char *s)
{
	unsigned n = 0;

	for (; *s; s++)
		n += *s == '\n';
	return n;
}

/* Asserts that the log holds "<cfgname>:<line>: <msg>". */
void assert_logged(unsigned line, const char *msg)
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
void parse_bad(const char *text, unsigned nerr, unsigned line, const char *msg)
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
