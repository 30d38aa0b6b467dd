/* Unit tests for vmm/toml*.c: each supported TOML feature value by value, each
 * error class with its file:line, and robustness on truncated input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "toml.h"

static char errbuf[512];

static struct toml_value *parse_n(const char *text, size_t len)
{
	struct toml_value *root = toml_parse("t.toml", text, len, errbuf, sizeof(errbuf));

	if (!root)
		print_error("unexpected parse error: %s\n", errbuf);
	assert_non_null(root);
	assert_int_equal(root->kind, TOML_TABLE);
	assert_string_equal(errbuf, "");
	return root;
}

static struct toml_value *parse(const char *text)
{
	return parse_n(text, strlen(text));
}

/* Asserts failure with an error naming `loc` ("t.toml:3:") and containing `what`. */
static void fail_n(const char *text, size_t len, const char *loc, const char *what)
{
	struct toml_value *root = toml_parse("t.toml", text, len, errbuf, sizeof(errbuf));

	if (root) {
		print_error("parsed, but should not have: \"%s\"\n", text);
		toml_free(root);
		fail();
	}
	if (strncmp(errbuf, loc, strlen(loc)) || !strstr(errbuf, what)) {
		print_error("error \"%s\"\n wanted prefix \"%s\" and \"%s\"\n", errbuf, loc, what);
		fail();
	}
}

static void fail_parse(const char *text, const char *loc, const char *what)
{
	fail_n(text, strlen(text), loc, what);
}

/* Follows "a.b.c" through tables (test keys have no dots of their own). */
static const struct toml_value *at(const struct toml_value *t, const char *dotted)
{
	char buf[256], *save = NULL, *k;

	snprintf(buf, sizeof(buf), "%s", dotted);
	for (k = strtok_r(buf, ".", &save); k && t; k = strtok_r(NULL, ".", &save))
		t = toml_get(t, k);
	if (!t)
		print_error("no value at %s\n", dotted);
	assert_non_null(t);
	return t;
}

static void check_int(const struct toml_value *t, const char *dotted, int64_t want)
{
	const struct toml_value *v = at(t, dotted);

	assert_int_equal(v->kind, TOML_INTEGER);
	if (v->u.integer != want)
		print_error("%s: %lld != %lld\n", dotted, (long long)v->u.integer,
			    (long long)want);
	assert_true(v->u.integer == want);
}

static void check_str_n(const struct toml_value *t, const char *dotted,
			const char *want, size_t len)
{
	const struct toml_value *v = at(t, dotted);

	assert_int_equal(v->kind, TOML_STRING);
	assert_int_equal(v->u.str.len, len);
	assert_memory_equal(v->u.str.ptr, want, len);
	assert_int_equal(v->u.str.ptr[len], '\0');
}

static void check_str(const struct toml_value *t, const char *dotted, const char *want)
{
	check_str_n(t, dotted, want, strlen(want));
}

static void check_bool(const struct toml_value *t, const char *dotted, bool want)
{
	const struct toml_value *v = at(t, dotted);

	assert_int_equal(v->kind, TOML_BOOLEAN);
	assert_int_equal(v->u.boolean, want);
}

/* ---- valid documents ---- */

static void test_empty(void **state __attribute__((unused)))
{
	struct toml_value *r;

	r = parse("");
	assert_int_equal(toml_len(r), 0);
	assert_int_equal(r->line, 1);
	assert_null(r->key);
	toml_free(r);

	r = parse("# only a comment\n\n   \t\n# another # with hash\r\n");
	assert_int_equal(toml_len(r), 0);
	toml_free(r);

	r = toml_parse("t.toml", NULL, 0, errbuf, sizeof(errbuf));
	assert_non_null(r);
	assert_int_equal(toml_len(r), 0);
	toml_free(r);
}

static void test_keys(void **state __attribute__((unused)))
{
	struct toml_value *r = parse(
		"bare_key-1 = 1\n"
		"1234 = 2\n"
		"\"quoted key\" = 3\n"
		"'literal \\key' = 4\n"
		"\"\" = 5\n"
		"\"esc\\u0041\" = 6\n"
		"  indented\t=\t7   # trailing comment\n");
	const struct toml_value *v;

	assert_int_equal(toml_len(r), 7);
	check_int(r, "bare_key-1", 1);
	check_int(r, "1234", 2);
	check_int(r, "quoted key", 3);
	check_int(r, "literal \\key", 4);
	v = toml_get(r, "");
	assert_non_null(v);
	assert_int_equal(v->u.integer, 5);
	check_int(r, "escA", 6);
	check_int(r, "indented", 7);
	/* Entries keep document order, keys and lines. */
	v = toml_at(r, 2);
	assert_string_equal(v->key, "quoted key");
	assert_int_equal(v->line, 3);
	assert_int_equal(toml_at(r, 6)->line, 7);
	assert_null(toml_at(r, 7));
	toml_free(r);
}

static void test_dotted_keys(void **state __attribute__((unused)))
{
	struct toml_value *r = parse(
		"a.b.c = 1\n"
		"a . b . d = 2\n"
		"a.\"x y\".'z' = 3\n"
		"[t]\n"
		"p.q = true\n"
		"p.r = false\n");
	const struct toml_value *a = at(r, "a");

	assert_int_equal(a->kind, TOML_TABLE);
	assert_int_equal(a->line, 1);
	assert_int_equal(toml_len(a), 2);
	check_int(r, "a.b.c", 1);
	check_int(r, "a.b.d", 2);
	assert_int_equal(at(r, "a.b.d")->line, 2);
	check_int(toml_get(a, "x y"), "z", 3);
	check_bool(r, "t.p.q", true);
	check_bool(r, "t.p.r", false);
	assert_int_equal(at(r, "t.p")->line, 5);
	toml_free(r);
}

static void test_basic_strings(void **state __attribute__((unused)))
{
	struct toml_value *r = parse(
		"s1 = \"plain\"\n"
		"s2 = \"tab\\tnl\\ncr\\rbs\\bff\\fq\\\"bsl\\\\\"\n"
		"s3 = \"\\u00e9\\u20AC\\U0001F600\"\n"
		"s4 = \"a\\u0000b\"\n"
		"s5 = \"\"\n"
		"s6 = \"h\xc3\xa9 \xe2\x82\xac raw\ttab\"\n"
		"s7 = \"# not a comment\"\n");

	check_str(r, "s1", "plain");
	check_str(r, "s2", "tab\tnl\ncr\rbs\bff\fq\"bsl\\");
	check_str(r, "s3", "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80");
	check_str_n(r, "s4", "a\0b", 3);
	check_str(r, "s5", "");
	check_str(r, "s6", "h\xc3\xa9 \xe2\x82\xac raw\ttab");
	check_str(r, "s7", "# not a comment");
	toml_free(r);
}

static void test_literal_strings(void **state __attribute__((unused)))
{
	struct toml_value *r = parse(
		"path = 'C:\\Users\\nodejs\\templates'\n"
		"quoted = 'Tom \"Dubs\" Preston'\n"
		"empty = ''\n");

	check_str(r, "path", "C:\\Users\\nodejs\\templates");
	check_str(r, "quoted", "Tom \"Dubs\" Preston");
	check_str(r, "empty", "");
	toml_free(r);
}

static void test_multiline_strings(void **state __attribute__((unused)))
{
	struct toml_value *r = parse(
		"m1 = \"\"\"\n"
		"Roses are red\n"
		"Violets are blue\"\"\"\n"
		"m2 = \"\"\"one \\\n"
		"      two \\   \n"
		"\n"
		"   three\"\"\"\n"
		"m3 = \"\"\"q \"quoted\" \"\" x\"\"\"\n"
		"m4 = \"\"\"ends with two quotes\"\"\"\"\"\n"
		"m5 = '''\n"
		"raw \\n stays\n"
		"  indent'''\n"
		"m6 = '''x''''\n"
		"m7 = \"\"\"crlf\r\nline\"\"\"\n"
		"m8 = \"\"\"\"\"\"\n"
		"after = 9\n");

	check_str(r, "m1", "Roses are red\nViolets are blue");
	check_str(r, "m2", "one two three");
	check_str(r, "m3", "q \"quoted\" \"\" x");
	check_str(r, "m4", "ends with two quotes\"\"");
	check_str(r, "m5", "raw \\n stays\n  indent");
	check_str(r, "m6", "x'");
	check_str(r, "m7", "crlf\nline");
	check_str(r, "m8", "");
	/* Lines keep counting through multi-line values. */
	assert_int_equal(at(r, "m2")->line, 4);
	assert_int_equal(at(r, "m3")->line, 8);
	assert_int_equal(at(r, "m6")->line, 13);
	check_int(r, "after", 9);
	assert_int_equal(at(r, "m8")->line, 16);
	assert_int_equal(at(r, "after")->line, 17);
	toml_free(r);
}

static void test_integers(void **state __attribute__((unused)))
{
	struct toml_value *r = parse(
		"a = 42\n"
		"b = +17\n"
		"c = -5\n"
		"d = 0\n"
		"e = -0\n"
		"f = +0\n"
		"g = 1_000_000\n"
		"h = 0xDEAD_beef\n"
		"i = 0o755\n"
		"j = 0b1101_0110\n"
		"k = 9223372036854775807\n"
		"l = -9223372036854775808\n"
		"m = 0x7fffffffffffffff\n"
		"n = 0x0\n"
		"o = 5_3_4\n");

	check_int(r, "a", 42);
	check_int(r, "b", 17);
	check_int(r, "c", -5);
	check_int(r, "d", 0);
	check_int(r, "e", 0);
	check_int(r, "f", 0);
	check_int(r, "g", 1000000);
	check_int(r, "h", 0xdeadbeef);
	check_int(r, "i", 0755);
	check_int(r, "j", 0xd6);
	check_int(r, "k", INT64_MAX);
	check_int(r, "l", INT64_MIN);
	check_int(r, "m", INT64_MAX);
	check_int(r, "n", 0);
	check_int(r, "o", 534);
	toml_free(r);
}

static void test_booleans(void **state __attribute__((unused)))
{
	struct toml_value *r = parse("t = true\nf = false\n");

	check_bool(r, "t", true);
	check_bool(r, "f", false);
	toml_free(r);
}

static void test_arrays(void **state __attribute__((unused)))
{
	struct toml_value *r = parse(
		"empty = []\n"
		"ints = [ 1, 2, 3 ]\n"
		"mixed = [\"a\", 2, true, ['x'], {k = 1}]\n"
		"nested = [[1, 2], [[3]], []]\n"
		"multi = [\n"
		"  \"one\",   # first\n"
		"  # a comment line\n"
		"\n"
		"  \"two\",\n"
		"]\n"
		"tight=[1,2,]\n");
	const struct toml_value *v;

	v = at(r, "empty");
	assert_int_equal(v->kind, TOML_ARRAY);
	assert_int_equal(toml_len(v), 0);

	v = at(r, "ints");
	assert_int_equal(toml_len(v), 3);
	for (size_t i = 0; i < 3; i++) {
		assert_int_equal(toml_at(v, i)->kind, TOML_INTEGER);
		assert_int_equal(toml_at(v, i)->u.integer, (int64_t)i + 1);
		assert_null(toml_at(v, i)->key);
	}

	v = at(r, "mixed");
	assert_int_equal(toml_len(v), 5);
	assert_string_equal(toml_at(v, 0)->u.str.ptr, "a");
	assert_int_equal(toml_at(v, 1)->u.integer, 2);
	assert_true(toml_at(v, 2)->u.boolean);
	assert_int_equal(toml_at(v, 3)->kind, TOML_ARRAY);
	assert_string_equal(toml_at(toml_at(v, 3), 0)->u.str.ptr, "x");
	assert_int_equal(toml_at(v, 4)->kind, TOML_TABLE);
	check_int(toml_at(v, 4), "k", 1);

	v = at(r, "nested");
	assert_int_equal(toml_len(v), 3);
	assert_int_equal(toml_at(toml_at(v, 0), 1)->u.integer, 2);
	assert_int_equal(toml_at(toml_at(toml_at(v, 1), 0), 0)->u.integer, 3);
	assert_int_equal(toml_len(toml_at(v, 2)), 0);

	v = at(r, "multi");
	assert_int_equal(v->line, 5);
	assert_int_equal(toml_len(v), 2);
	assert_string_equal(toml_at(v, 0)->u.str.ptr, "one");
	assert_int_equal(toml_at(v, 0)->line, 6);
	assert_string_equal(toml_at(v, 1)->u.str.ptr, "two");
	assert_int_equal(toml_at(v, 1)->line, 9);

	v = at(r, "tight");
	assert_int_equal(toml_len(v), 2);
	assert_int_equal(v->line, 11);
	toml_free(r);
}

static void test_inline_tables(void **state __attribute__((unused)))
{
	struct toml_value *r = parse(
		"point = { x = 1, y = -2 }\n"
		"empty = {}\n"
		"nest = { a = { b = \"c\" }, d.e = true, arr = [1] }\n");
	const struct toml_value *v;

	v = at(r, "point");
	assert_int_equal(v->kind, TOML_TABLE);
	assert_int_equal(toml_len(v), 2);
	check_int(r, "point.x", 1);
	check_int(r, "point.y", -2);
	assert_int_equal(toml_len(at(r, "empty")), 0);
	check_str(r, "nest.a.b", "c");
	check_bool(r, "nest.d.e", true);
	assert_int_equal(toml_len(at(r, "nest.arr")), 1);
	toml_free(r);
}

static void test_tables(void **state __attribute__((unused)))
{
	struct toml_value *r = parse(
		"top = 1\n"
		"[vm]\n"
		"name = \"x\"\n"
		"\n"
		"[ dog . \"tater.man\" ]\n"
		"type = 'pug'\n"
		"[x.y.z]\n"
		"w = 1\n"
		"[x]  # defining a super-table afterwards is fine\n"
		"v = 2\n"
		"[x.y.q]\n"
		"[fruit]\n"
		"apple.color = 'red'\n"
		"[fruit.apple.texture]\n"
		"smooth = true\n");
	const struct toml_value *v;

	check_int(r, "top", 1);
	v = at(r, "vm");
	assert_int_equal(v->kind, TOML_TABLE);
	assert_int_equal(v->line, 2);
	check_str(r, "vm.name", "x");
	assert_int_equal(at(r, "vm.name")->line, 3);
	v = toml_get(at(r, "dog"), "tater.man");
	assert_non_null(v);
	assert_int_equal(v->line, 5);
	check_str(v, "type", "pug");
	check_int(r, "x.y.z.w", 1);
	check_int(r, "x.v", 2);
	/* The header that defines an implicit table gives it its line. */
	assert_int_equal(at(r, "x")->line, 9);
	assert_int_equal(at(r, "x.y.z")->line, 7);
	assert_int_equal(toml_len(at(r, "x.y.q")), 0);
	check_str(r, "fruit.apple.color", "red");
	check_bool(r, "fruit.apple.texture.smooth", true);
	toml_free(r);
}

static void test_array_of_tables(void **state __attribute__((unused)))
{
	struct toml_value *r = parse(
		"[[disk]]\n"
		"path = 'a.img'\n"
		"\n"
		"[[disk]]\n"
		"path = 'b.img'\n"
		"ro = true\n"
		"[disk.opts]\n"
		"cache = 'none'\n"
		"[[disk.part]]\n"
		"n = 1\n"
		"[[disk.part]]\n"
		"n = 2\n"
		"[[ empty ]]\n");
	const struct toml_value *arr = at(r, "disk"), *d0, *d1, *parts;

	assert_int_equal(arr->kind, TOML_ARRAY);
	assert_int_equal(arr->line, 1);
	assert_int_equal(toml_len(arr), 2);
	d0 = toml_at(arr, 0);
	d1 = toml_at(arr, 1);
	assert_int_equal(d0->kind, TOML_TABLE);
	assert_int_equal(d0->line, 1);
	assert_int_equal(d1->line, 4);
	check_str(d0, "path", "a.img");
	assert_int_equal(toml_len(d0), 1);
	check_str(d1, "path", "b.img");
	check_bool(d1, "ro", true);
	check_str(d1, "opts.cache", "none");
	parts = toml_get(d1, "part");
	assert_int_equal(toml_len(parts), 2);
	check_int(toml_at(parts, 0), "n", 1);
	check_int(toml_at(parts, 1), "n", 2);
	assert_int_equal(toml_at(parts, 1)->line, 11);
	assert_int_equal(toml_len(at(r, "empty")), 1);
	toml_free(r);
}

static void test_line_endings_and_bom(void **state __attribute__((unused)))
{
	struct toml_value *r = parse("\xef\xbb\xbf# bom\r\na = 1\r\n[t]\r\nb = [\r\n 2,\r\n]\r\n");

	check_int(r, "a", 1);
	assert_int_equal(at(r, "a")->line, 2);
	assert_int_equal(at(r, "t")->line, 3);
	assert_int_equal(toml_at(at(r, "t.b"), 0)->line, 5);
	toml_free(r);

	/* No final newline. */
	r = parse("a = 'x'");
	check_str(r, "a", "x");
	toml_free(r);
}

static void test_helpers(void **state __attribute__((unused)))
{
	struct toml_value *r = parse("s = 'x'\nt = {}\n");

	assert_null(toml_get(r, "missing"));
	assert_null(toml_get(at(r, "s"), "x"));
	assert_null(toml_get(NULL, "x"));
	assert_int_equal(toml_len(at(r, "s")), 0);
	assert_int_equal(toml_len(NULL), 0);
	assert_null(toml_at(at(r, "s"), 0));
	assert_null(toml_at(at(r, "t"), 0));
	assert_string_equal(toml_kind_name(TOML_TABLE), "a table");
	assert_string_equal(toml_kind_name(TOML_ARRAY), "an array");
	assert_string_equal(toml_kind_name(TOML_STRING), "a string");
	assert_string_equal(toml_kind_name(TOML_INTEGER), "an integer");
	assert_string_equal(toml_kind_name(TOML_BOOLEAN), "a boolean");
	toml_free(r);
	toml_free(NULL);
}

/* ---- invalid documents ---- */

static void test_err_duplicates(void **state __attribute__((unused)))
{
	fail_parse("a = 1\nb = 2\na = 3\n", "t.toml:3:", "duplicate key 'a' (first defined on line 1)");
	fail_parse("[t]\nx = 1\n\"x\" = 2\n", "t.toml:3:", "duplicate key 'x'");
	fail_parse("a.b = 1\na.b = 2\n", "t.toml:2:", "duplicate key 'a.b'");
	fail_parse("[a]\n[b]\n[a]\n", "t.toml:3:", "table 'a' is already defined (line 1)");
	fail_parse("[a.b]\n[a.b]\n", "t.toml:2:", "table 'a.b' is already defined");
	fail_parse("[x.y]\n[x]\n[x]\n", "t.toml:3:", "table 'x' is already defined (line 2)");
	fail_parse("a = 1\n[a]\n", "t.toml:2:", "'a' is already an integer (line 1), not a table");
	fail_parse("a = 1\n[a.b]\n", "t.toml:2:", "'a' is already an integer");
	fail_parse("a = 'x'\na.b = 1\n", "t.toml:2:", "'a' is already a string");
	fail_parse("t = {}\nt = {}\n", "t.toml:2:", "duplicate key 't'");
	fail_parse("t = {a = 1, a = 2}\n", "t.toml:1:", "duplicate key 'a'");
}

static void test_err_redefinition(void **state __attribute__((unused)))
{
	/* Tables made by dotted keys cannot get a header... */
	fail_parse("[fruit]\napple.color = 'red'\n[fruit.apple]\n", "t.toml:3:",
		   "table 'fruit.apple' is already defined (line 2)");
	/* ...and tables with a header cannot be reached by dotted keys. */
	fail_parse("[a.b.c]\nz = 9\n[a]\nb.c.t = 1\n", "t.toml:4:", "cannot add keys to table 'b'");
	fail_parse("[a.b.c.d]\n[a]\nb.c.d.k.t = 1\n", "t.toml:3:", "cannot add keys to table 'b'");
	/* Inline tables are sealed. */
	fail_parse("t = {a = 1}\n[t.b]\n", "t.toml:2:", "cannot extend inline table 't'");
	fail_parse("t = {a = 1}\nt.b = 2\n", "t.toml:2:", "cannot add keys to table 't'");
	fail_parse("t = {a = {}, a.b = 1}\n", "t.toml:1:", "cannot add keys to table 'a'");
	fail_parse("t = {a = 1}\n[t]\n", "t.toml:2:", "table 't' is already defined");
	/* Arrays of tables against static arrays and tables. */
	fail_parse("a = []\n[[a]]\n", "t.toml:2:", "'a' is already an array (line 1), not an array of tables");
	fail_parse("[a]\n[[a]]\n", "t.toml:2:", "'a' is already a table");
	fail_parse("[[a]]\n[a]\n", "t.toml:2:", "'a' is already an array");
	fail_parse("a = [{}]\n[a.b]\n", "t.toml:2:", "'a' is already an array");
	fail_parse("[[a]]\nb = 1\n[a.b]\n", "t.toml:3:", "'a.b' is already an integer");
}

static void test_err_escapes(void **state __attribute__((unused)))
{
	fail_parse("s = \"bad \\x41\"\n", "t.toml:1:", "invalid escape sequence '\\x'");
	fail_parse("s = \"bad \\e\"\n", "t.toml:1:", "invalid escape sequence '\\e'");
	fail_parse("s = \"\\ \"\n", "t.toml:1:", "invalid escape");
	fail_parse("s = \"\"\"ok\n\\ x\"\"\"\n", "t.toml:2:", "'\\' followed by whitespace must end the line");
	fail_parse("s = \"\\u12\"\n", "t.toml:1:", "\\u escape needs 4 hex digits");
	fail_parse("s = \"\\u12G4\"\n", "t.toml:1:", "\\u escape needs 4 hex digits");
	fail_parse("s = \"\\U0000123\"\n", "t.toml:1:", "\\U escape needs 8 hex digits");
	fail_parse("s = \"\\uD800\"\n", "t.toml:1:", "not a Unicode scalar value");
	fail_parse("s = \"\\U00110000\"\n", "t.toml:1:", "not a Unicode scalar value");
	fail_parse("s = \"\\", "t.toml:1:", "unterminated string");
	fail_parse("\"k\\q\" = 1\n", "t.toml:1:", "invalid escape sequence '\\q'");
	fail_parse("\"a\\u0000\" = 1\n", "t.toml:1:", "a key cannot contain a NUL character");
}

static void test_err_control_chars(void **state __attribute__((unused)))
{
	fail_parse("s = \"a\x01z\"\n", "t.toml:1:", "control character 0x01 in string");
	fail_parse("s = 'a\x7fz'\n", "t.toml:1:", "control character 0x7f in string");
	fail_parse("x = 1\ns = \"\"\"a\n\x1b[31m\"\"\"\n", "t.toml:3:", "control character 0x1b");
	fail_parse("# bell \x07\n", "t.toml:1:", "control character 0x07 in comment");
	fail_parse("a = 1\rb = 2\n", "t.toml:1:", "carriage return not followed by a newline");
	fail_parse("s = \"\"\"a\rb\"\"\"\n", "t.toml:1:", "carriage return");
	fail_parse("s = \"a\nb\"\n", "t.toml:1:", "newline in a single-line string");
	fail_parse("s = 'a\nb'\n", "t.toml:1:", "newline in a single-line string");
	fail_parse("s = \"\xff\"\n", "t.toml:1:", "invalid UTF-8 in string");
	fail_parse("s = \"\xc0\xaf\"\n", "t.toml:1:", "invalid UTF-8 in string");	/* overlong */
	fail_parse("s = '\xed\xa0\x80'\n", "t.toml:1:", "invalid UTF-8 in string");	/* surrogate */
	fail_parse("s = \"\xe2\x82\"", "t.toml:1:", "invalid UTF-8 in string");	/* cut short */
	fail_parse("# \xf5\x80\x80\x80\n", "t.toml:1:", "invalid UTF-8 in comment");
}

static void test_err_nul_bytes(void **state __attribute__((unused)))
{
	static const char in_str[] = "a = 1\ns = \"x\0y\"\n";
	static const char in_key[] = "a\0 = 1\n";
	static const char in_comment[] = "a = 1 # x\0\n";
	static const char at_top[] = "a = 1\n\0";
	static const char in_value[] = "a = 1\0\n";

	fail_n(in_str, sizeof(in_str) - 1, "t.toml:2:", "control character 0x00 in string");
	fail_n(in_key, sizeof(in_key) - 1, "t.toml:1:", "unexpected byte 0x00");
	fail_n(in_comment, sizeof(in_comment) - 1, "t.toml:1:", "control character 0x00 in comment");
	fail_n(at_top, sizeof(at_top) - 1, "t.toml:2:", "unexpected byte 0x00, expected a key");
	fail_n(in_value, sizeof(in_value) - 1, "t.toml:1:", "unexpected byte 0x00");
}

static void test_err_unterminated(void **state __attribute__((unused)))
{
	fail_parse("a = 1\ns = \"abc", "t.toml:2:", "unterminated string");
	fail_parse("s = 'abc", "t.toml:1:", "unterminated string");
	fail_parse("x = 0\ns = \"\"\"abc\n\ndef\n", "t.toml:2:", "unterminated string");
	fail_parse("s = '''abc''", "t.toml:1:", "unterminated string");
	fail_parse("a = [1,\n2,\n", "t.toml:1:", "unterminated array");
	fail_parse("a = [1 2]\n", "t.toml:1:", "unexpected '2', expected ',' or ']' in array");
	fail_parse("a = { x = 1\n", "t.toml:1:", "inline table must end on the line it starts");
	fail_parse("a = { x = 1,\n y = 2 }\n", "t.toml:1:", "expected a key");
	fail_parse("a = { x = 1, }\n", "t.toml:1:", "trailing comma in inline table");
	fail_parse("a = { x = 1 y = 2 }\n", "t.toml:1:", "expected ',' or '}' in inline table");
	fail_parse("s = \"\"\"a\"\"\"\"\"\"\n", "t.toml:1:", "too many quotes");
}

static void test_err_integers(void **state __attribute__((unused)))
{
	fail_parse("a = 9223372036854775808\n", "t.toml:1:", "'9223372036854775808' does not fit in 64 bits");
	fail_parse("a = -9223372036854775809\n", "t.toml:1:", "does not fit in 64 bits");
	fail_parse("a = 0x8000000000000000\n", "t.toml:1:", "does not fit in 64 bits");
	fail_parse("a = 99999999999999999999999\n", "t.toml:1:", "does not fit in 64 bits");
	fail_parse("a = 007\n", "t.toml:1:", "'007': leading zeros are not allowed");
	fail_parse("a = -01\n", "t.toml:1:", "leading zeros are not allowed");
	fail_parse("a = 1__0\n", "t.toml:1:", "'_' must sit between two digits");
	fail_parse("a = _1\n", "t.toml:1:", "invalid value '_1'");
	fail_parse("a = 1_\n", "t.toml:1:", "'_' must sit between two digits");
	fail_parse("a = 0x_1\n", "t.toml:1:", "'_' must sit between two digits");
	fail_parse("a = -0x1\n", "t.toml:1:", "take no sign");
	fail_parse("a = 0b102\n", "t.toml:1:", "'0b102' is not a valid integer");
	fail_parse("a = 0o8\n", "t.toml:1:", "is not a valid integer");
	fail_parse("a = 0x\n", "t.toml:1:", "'0x' is not a valid integer");
	fail_parse("a = 0XFF\n", "t.toml:1:", "'0XFF'");
	/* toml-test: an uppercase prefix is not a leading zero. */
	fail_parse("a = 0X1\n", "t.toml:1:", "'0X1': uppercase base prefix not allowed in TOML");
	fail_parse("a = 0XE\n", "t.toml:1:", "'0XE': uppercase base prefix not allowed in TOML");
	fail_parse("a = 0O7\n", "t.toml:1:", "uppercase base prefix not allowed");
	fail_parse("a = 0B1\n", "t.toml:1:", "uppercase base prefix not allowed");
	fail_parse("a = 12abc\n", "t.toml:1:", "'12abc' is not a valid integer");
	fail_parse("a = +\n", "t.toml:1:", "invalid value '+'");
	fail_parse("a = ++1\n", "t.toml:1:", "invalid value '++1'");
}

static void test_err_unsupported(void **state __attribute__((unused)))
{
	fail_parse("a = 1.5\n", "t.toml:1:", "'1.5': floating-point values are not supported");
	fail_parse("a = -3e10\n", "t.toml:1:", "floating-point values are not supported");
	fail_parse("a = 6.02E+23\n", "t.toml:1:", "floating-point values are not supported");
	fail_parse("a = inf\n", "t.toml:1:", "floating-point values are not supported");
	fail_parse("a = -nan\n", "t.toml:1:", "floating-point values are not supported");
	fail_parse("a = [1, +inf]\n", "t.toml:1:", "floating-point values are not supported");
	fail_parse("d = 1979-05-27\n", "t.toml:1:", "'1979-05-27': dates and times are not supported");
	fail_parse("d = 07:32:00\n", "t.toml:1:", "dates and times are not supported");
	fail_parse("d = 1979-05-27T07:32:00Z\n", "t.toml:1:", "dates and times are not supported");
	fail_parse("d = 1979-05-27 07:32:00\n", "t.toml:1:", "dates and times are not supported");
}

static void test_err_syntax(void **state __attribute__((unused)))
{
	fail_parse("mode = stdio\n", "t.toml:1:", "invalid value 'stdio' (strings must be quoted)");
	fail_parse("a = TRUE\n", "t.toml:1:", "invalid value 'TRUE'");
	fail_parse("a =\n", "t.toml:1:", "unexpected end of line, expected a value");
	fail_parse("a = ", "t.toml:1:", "unexpected end of input, expected a value");
	fail_parse("a\n", "t.toml:1:", "expected '=' after the key");
	fail_parse("a b = 1\n", "t.toml:1:", "unexpected 'b', expected '=' after the key");
	fail_parse("= 1\n", "t.toml:1:", "unexpected '=', expected a key");
	fail_parse("a. = 1\n", "t.toml:1:", "expected a key");
	fail_parse("a = 1 2\n", "t.toml:1:", "unexpected '2', expected the end of the line");
	fail_parse("a = 'x' 'y'\n", "t.toml:1:", "expected the end of the line");
	fail_parse("a = 1\n\n[t\nb = 2\n", "t.toml:3:", "expected ']' to close the header");
	fail_parse("[t]]\n", "t.toml:1:", "unexpected ']', expected the end of the line");
	fail_parse("[[t]\n", "t.toml:1:", "expected ']]' to close the header");
	fail_parse("[[t] ]\n", "t.toml:1:", "expected ']]' to close the header");
	fail_parse("[]\n", "t.toml:1:", "expected a key");
	fail_parse("[ [t] ]\n", "t.toml:1:", "expected a key");
	fail_parse("[t] x = 1\n", "t.toml:1:", "expected the end of the line");
	fail_parse("\"\"\"k\"\"\" = 1\n", "t.toml:1:", "a key cannot be a multi-line string");
	fail_parse("a = [,]\n", "t.toml:1:", "unexpected ',', expected a value");
	fail_parse("a = [1,,2]\n", "t.toml:1:", "expected a value");
	fail_parse("\xc3\xa9 = 1\n", "t.toml:1:", "unexpected byte 0xc3, expected a key");
}

static void test_err_depth(void **state __attribute__((unused)))
{
	char doc[1024];
	int n = 0;

	/* Nesting is bounded so that neither parsing nor freeing can exhaust
	 * the stack; 10 levels are fine, 100 are not. */
	n = snprintf(doc, sizeof(doc), "a = ");
	for (int i = 0; i < 10; i++)
		doc[n++] = '[';
	for (int i = 0; i < 10; i++)
		doc[n++] = ']';
	doc[n] = '\0';
	toml_free(parse(doc));

	n = snprintf(doc, sizeof(doc), "a = ");
	for (int i = 0; i < 100; i++)
		doc[n++] = '[';
	doc[n] = '\0';
	fail_parse(doc, "t.toml:1:", "nested deeper than 64 levels");

	n = snprintf(doc, sizeof(doc), "a = ");
	for (int i = 0; i < 100; i++)
		n += snprintf(doc + n, sizeof(doc) - (size_t)n, "{a=");
	fail_parse(doc, "t.toml:1:", "nested deeper than 64 levels");

	n = snprintf(doc, sizeof(doc), "x = 1\n[a");
	for (int i = 0; i < 100; i++)
		n += snprintf(doc + n, sizeof(doc) - (size_t)n, ".a");
	snprintf(doc + n, sizeof(doc) - (size_t)n, "]\n");
	fail_parse(doc, "t.toml:2:", "key has more than 64 parts");
}

static void test_err_buffer(void **state __attribute__((unused)))
{
	char small[12];

	/* A short buffer gets a truncated, terminated message; none is fine too. */
	memset(small, 'X', sizeof(small));
	assert_null(toml_parse("file.toml", "a = ?", 5, small, sizeof(small)));
	assert_string_equal(small, "file.toml:1");
	assert_null(toml_parse("file.toml", "a = ?", 5, NULL, 0));
	assert_null(toml_parse(NULL, "a = ?", 5, errbuf, sizeof(errbuf)));
	assert_non_null(strstr(errbuf, "<input>:1: "));
	/* Control characters in quoted keys do not reach the message. */
	assert_null(toml_parse("f", "\"a\\nb\" = 1\n\"a\\nb\" = 2\n", 22, errbuf, sizeof(errbuf)));
	assert_non_null(strstr(errbuf, "duplicate key 'a?b'"));
}

/* Every prefix of a document using every feature, in a buffer of exactly that
 * size: a read past `len` shows up under valgrind or ASan. */
static void test_truncations(void **state __attribute__((unused)))
{
	static const char doc[] =
		"# header\n"
		"top = \"t\\u00e9\\U0001F600\" # c\n"
		"[vm]\n"
		"name = 'x'\n"
		"n = -0 \n"
		"m = \"\"\"a\\\n  b\"\"\"\n"
		"l = '''x\r\ny'''\n"
		"a.b.c = [1, [2, {x = true}], 'q',\n # c\n]\n"
		"[[d.e]]\n"
		"f = { g = 1_000, h.i = false }\n"
		"[ d . e . j ]\n"
		"k = 0b1\n";
	size_t ok = 0;

	for (size_t len = 0; len < sizeof(doc); len++) {
		char *buf = malloc(len ? len : 1);
		struct toml_value *r;

		assert_non_null(buf);
		memcpy(buf, doc, len);
		r = toml_parse("t.toml", buf, len, errbuf, sizeof(errbuf));
		if (r)
			ok++;
		else
			assert_non_null(strstr(errbuf, "t.toml:"));
		toml_free(r);
		free(buf);
	}
	/* The whole document is valid, and many prefixes end on a line break. */
	assert_true(ok > 10);
	toml_free(parse(doc));
}

/* Random byte flips of a valid document: any outcome but a crash is fine. */
static void test_mutations(void **state __attribute__((unused)))
{
	static const char doc[] =
		"[vm]\nname = \"a\\tb\"\nv = [1, 0x2, {a.b = 'c'}]\n[[x.y]]\nz = \"\"\"q\n\"\"\"\n";
	static const char alphabet[] = "[]{}\"'\\=.,#\n\r \t0x_u-+ae\0\x80\xff";
	unsigned seed = 12345;
	char buf[sizeof(doc)];

	for (int iter = 0; iter < 20000; iter++) {
		struct toml_value *r;

		memcpy(buf, doc, sizeof(doc));
		for (int k = 0; k < 3; k++) {
			seed = seed * 1103515245u + 12345u;
			buf[(seed >> 8) % (sizeof(doc) - 1)] =
				alphabet[(seed >> 20) % (sizeof(alphabet) - 1)];
		}
		r = toml_parse("m", buf, sizeof(doc) - 1, errbuf, sizeof(errbuf));
		if (!r)
			assert_int_equal(strncmp(errbuf, "m:", 2), 0);
		toml_free(r);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_keys),
		cmocka_unit_test(test_dotted_keys),
		cmocka_unit_test(test_basic_strings),
		cmocka_unit_test(test_literal_strings),
		cmocka_unit_test(test_multiline_strings),
		cmocka_unit_test(test_integers),
		cmocka_unit_test(test_booleans),
		cmocka_unit_test(test_arrays),
		cmocka_unit_test(test_inline_tables),
		cmocka_unit_test(test_tables),
		cmocka_unit_test(test_array_of_tables),
		cmocka_unit_test(test_line_endings_and_bom),
		cmocka_unit_test(test_helpers),
		cmocka_unit_test(test_err_duplicates),
		cmocka_unit_test(test_err_redefinition),
		cmocka_unit_test(test_err_escapes),
		cmocka_unit_test(test_err_control_chars),
		cmocka_unit_test(test_err_nul_bytes),
		cmocka_unit_test(test_err_unterminated),
		cmocka_unit_test(test_err_integers),
		cmocka_unit_test(test_err_unsupported),
		cmocka_unit_test(test_err_syntax),
		cmocka_unit_test(test_err_depth),
		cmocka_unit_test(test_err_buffer),
		cmocka_unit_test(test_truncations),
		cmocka_unit_test(test_mutations),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
