/* What the config unit tests (test_config.c, test_config_devices.c) share:
 * a temporary directory with a kernel, an initrd and a few files the
 * configs name, and parsing with stderr captured, so that each error's
 * exact "file:line: key: message" can be asserted. */
#ifndef VMM_TESTS_CONFIG_FIXTURE_H
#define VMM_TESTS_CONFIG_FIXTURE_H

#include <limits.h>
#include <stddef.h>

#include "config.h"

extern char tmpdir[256];	/* holds bzImage, initrd.img, sub/vmlinux, adir/ */
extern char cfgname[PATH_MAX];	/* tmpdir/vm.toml: errors name it, paths start there */
extern char logbuf[65536];	/* what log_err printed during the last parse */

void path_in(char *buf, size_t size, const char *rel);
void write_file(const char *rel, const char *text, size_t len);
/* cmocka group set-up and tear-down: the directory and its files. */
int group_setup(void **state);
int group_teardown(void **state);
/* Runs `fn` with stderr going to logbuf. */
int capture(int (*fn)(const char *, const char *, struct vm_config *),
	    const char *name, const char *text, struct vm_config *cfg);
/* config_parse of `text` as file `name`, stderr into logbuf. */
int parse_named(const char *name, const char *text, struct vm_config *cfg);
/* config_load of file `name` (`text` unused), for capture. */
int do_load(const char *name, const char *text, struct vm_config *cfg);
/* `text` parses without a message. */
void parse_ok(const char *text, struct vm_config *cfg);
unsigned count_lines(const char *s);
/* Asserts that the log holds "<cfgname>:<line>: <msg>". */
void assert_logged(unsigned line, const char *msg);
/* Asserts that `text` is rejected with exactly `nerr` messages, the first
 * (they come in line order) being "<cfgname>:<line>: <msg>", and that the
 * config is left empty. */
void parse_bad(const char *text, unsigned nerr, unsigned line, const char *msg);

#define VM "[vm]\nname = \"t\"\n"
#define BOOT "[boot]\nkernel = \"bzImage\"\n"
#define BASE VM BOOT		/* valid; added lines start at 5 */

#endif
