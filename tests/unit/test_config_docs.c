/* docs/config.md and the man page vmm.toml(5) against the config loader:
 * every key the loader accepts is documented, and every documented key is
 * accepted, so drift fails here. The loader's side comes from its own lists
 * (config_known_keys). The document is the first argument
 * (tests/unit/meson.build passes it): docs/config.md, where the key tables
 * under each "## `[table]`" heading count, or docs/man/vmm.toml.5.scd (a name
 * ending in .scd), where a line "*key* = ..." under a "## [table]" heading
 * documents a key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "config.h"

#define DOC_KEYS_MAX 256
#define NAME_MAX_LEN 64

struct doc_key {
	char table[NAME_MAX_LEN];
	char key[NAME_MAX_LEN];
	unsigned line;
};

static const char *docs_path;
static struct doc_key doc_keys[DOC_KEYS_MAX];
static size_t n_doc_keys;
static char doc_tables[32][NAME_MAX_LEN];
static size_t n_doc_tables;

/* Copies the name between `open` and the next `close` at `s` into `out`;
 * the length of what was consumed, or 0 when `s` does not match. */
static size_t take_name(const char *s, const char *open, char close, char out[NAME_MAX_LEN])
{
	size_t o = strlen(open), n = 0;

	if (strncmp(s, open, o))
		return 0;
	while (s[o + n] && s[o + n] != close && n < NAME_MAX_LEN - 1)
		n++;
	if (!n || s[o + n] != close)
		return 0;
	memcpy(out, s + o, n);
	out[n] = '\0';
	return o + n + 1;
}

/* Markdown: headings "## `[vm]`" and "## `[[net]]`" start a table's section;
 * any other "## " heading ends it. Within one, a row "| `key` | ..."
 * documents a key.
 * scdoc: headings "## [vm]" and "## [[net]]" start a table's section; any
 * other heading ("# ..." or "## ...") ends it. Within one, a line starting
 * "*key*" (the bold term of an indented definition) documents a key. */
static int read_docs(void **state)
{
	char line[1024], table[NAME_MAX_LEN] = "";
	const char *hopen = "`[", *hopen2 = "`[[", *kopen = "| `";
	char kclose = '`';
	unsigned lineno = 0;
	size_t plen;
	bool scd;
	FILE *f;

	(void)state;
	if (!docs_path) {
		fprintf(stderr, "usage: test_config_docs docs/config.md|docs/man/vmm.toml.5.scd\n");
		return -1;
	}
	plen = strlen(docs_path);
	scd = plen > 4 && !strcmp(docs_path + plen - 4, ".scd");
	if (scd) {
		hopen = "[";
		hopen2 = "[[";
		kopen = "*";
		kclose = '*';
	}
	f = fopen(docs_path, "r");
	if (!f) {
		perror(docs_path);
		return -1;
	}
	while (fgets(line, sizeof(line), f)) {
		char name[NAME_MAX_LEN];

		lineno++;
		if (!strncmp(line, "## ", 3) || (scd && line[0] == '#')) {
			table[0] = '\0';
			if (!strncmp(line, "## ", 3) &&
			    (take_name(line + 3, hopen2, ']', name) ||
			     take_name(line + 3, hopen, ']', name))) {
				snprintf(table, sizeof(table), "%s", name);
				if (n_doc_tables < sizeof(doc_tables) / sizeof(doc_tables[0]))
					snprintf(doc_tables[n_doc_tables++], NAME_MAX_LEN, "%s", name);
			}
			continue;
		}
		if (!table[0] || !take_name(line, kopen, kclose, name))
			continue;
		if (n_doc_keys == DOC_KEYS_MAX) {
			fprintf(stderr, "%s: more than %d keys\n", docs_path, DOC_KEYS_MAX);
			fclose(f);
			return -1;
		}
		snprintf(doc_keys[n_doc_keys].table, NAME_MAX_LEN, "%s", table);
		snprintf(doc_keys[n_doc_keys].key, NAME_MAX_LEN, "%s", name);
		doc_keys[n_doc_keys].line = lineno;
		n_doc_keys++;
	}
	fclose(f);
	return 0;
}

static bool documented(const char *table, const char *key)
{
	for (size_t i = 0; i < n_doc_keys; i++)
		if (!strcmp(doc_keys[i].table, table) && !strcmp(doc_keys[i].key, key))
			return true;
	return false;
}

static bool accepted(const char *table, const char *key)
{
	const char *const *keys = config_known_keys(table);

	for (size_t i = 0; keys && keys[i]; i++)
		if (!strcmp(keys[i], key))
			return true;
	return false;
}

/* The parser itself: it must find the tables and keys it is meant to. */
static void test_docs_parsed(void **state)
{
	(void)state;
	assert_true(n_doc_tables >= 5);
	assert_true(documented("vm", "name"));
	assert_true(documented("net", "subnet"));
	assert_false(documented("vm", "subnet"));
}

static void test_tables_match(void **state)
{
	unsigned bad = 0;
	const char *t;

	(void)state;
	for (size_t i = 0; (t = config_known_table(i)); i++) {
		size_t k;

		for (k = 0; k < n_doc_tables; k++)
			if (!strcmp(doc_tables[k], t))
				break;
		if (k == n_doc_tables) {
			print_error("%s: table [%s] is accepted but has no section\n",
				    docs_path, t);
			bad++;
		}
	}
	for (size_t k = 0; k < n_doc_tables; k++) {
		if (!config_known_keys(doc_tables[k])) {
			print_error("%s: table [%s] is documented but the loader refuses it\n",
				    docs_path, doc_tables[k]);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

static void test_accepted_keys_documented(void **state)
{
	unsigned bad = 0;
	const char *t;

	(void)state;
	for (size_t i = 0; (t = config_known_table(i)); i++) {
		const char *const *keys = config_known_keys(t);

		assert_non_null(keys);
		for (size_t k = 0; keys[k]; k++) {
			if (!documented(t, keys[k])) {
				print_error("%s: %s.%s is accepted by the loader but not in the "
					    "[%s] key table\n", docs_path, t, keys[k], t);
				bad++;
			}
		}
	}
	assert_int_equal(bad, 0);
}

static void test_documented_keys_accepted(void **state)
{
	unsigned bad = 0;

	(void)state;
	for (size_t i = 0; i < n_doc_keys; i++) {
		if (!accepted(doc_keys[i].table, doc_keys[i].key)) {
			print_error("%s:%u: %s.%s is documented but the loader refuses it\n",
				    docs_path, doc_keys[i].line, doc_keys[i].table,
				    doc_keys[i].key);
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_docs_parsed),
		cmocka_unit_test(test_tables_match),
		cmocka_unit_test(test_accepted_keys_documented),
		cmocka_unit_test(test_documented_keys_accepted),
	};

	if (argc > 1)
		docs_path = argv[1];
	return cmocka_run_group_tests(tests, read_docs, NULL);
}
