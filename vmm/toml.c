/* TOML parser: TOML 1.0 minus floats and dates, hardened for untrusted input
 * (bounded nesting, never reads past `len`, rejects NULs and bad UTF-8). */
#include "toml.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Bounds the parser's recursion and the depth of the tree, so toml_free's
 * recursion is bounded too. Configs need 3 or 4. */
#define MAX_DEPTH 64

/* How a table came to be; TOML's redefinition rules depend on it. */
enum {
	F_IMPLICIT = 1 << 0,	/* named as a prefix of a [header]: one header may still define it */
	F_DEFINED = 1 << 1,	/* by a [header], [[header]] or the document root */
	F_DOTTED = 1 << 2,	/* by a dotted key: more dotted keys may add to it */
	F_INLINE = 1 << 3,	/* { inline } table: sealed */
	F_AOT = 1 << 4,		/* array made by [[header]]: more [[header]]s append */
};

struct node {
	struct toml_value v;	/* first, so a toml_value * is a node * */
	size_t cap;		/* allocated items */
	unsigned flags;
	unsigned depth;		/* root is 0 */
};

struct parser {
	const char *name;
	const char *p;
	const char *end;
	unsigned line;
	char *err;
	size_t errlen;
	bool failed;
};

struct sbuf {
	char *p;
	size_t len;
	size_t cap;
};

static struct node *node_of(struct toml_value *v)
{
	return (struct node *)v;
}

static unsigned depth_of(struct toml_value *v)
{
	return node_of(v)->depth;
}

static int vperr_at(struct parser *ps, unsigned line, const char *fmt, va_list ap)
	__attribute__((format(printf, 3, 0)));

static int vperr_at(struct parser *ps, unsigned line, const char *fmt, va_list ap)
{
	int n;

	/* Only the first error counts: later ones are consequences. */
	if (ps->failed)
		return -1;
	ps->failed = true;
	if (!ps->err || !ps->errlen)
		return -1;
	n = snprintf(ps->err, ps->errlen, "%s:%u: ", ps->name, line);
	if (n >= 0 && (size_t)n < ps->errlen)
		vsnprintf(ps->err + n, ps->errlen - (size_t)n, fmt, ap);
	/* Keys quoted in messages may hold escaped control characters; they
	 * must not forge log lines or terminal sequences. */
	for (char *c = ps->err; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	return -1;
}

static int perr_at(struct parser *ps, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int perr_at(struct parser *ps, unsigned line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vperr_at(ps, line, fmt, ap);
	va_end(ap);
	return -1;
}

static int perr(struct parser *ps, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int perr(struct parser *ps, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vperr_at(ps, ps->line, fmt, ap);
	va_end(ap);
	return -1;
}

/* Names the byte at the cursor for "unexpected ..." messages. */
static int perr_unexpected(struct parser *ps, const char *what)
{
	unsigned char c;

	if (ps->p >= ps->end)
		return perr(ps, "unexpected end of input, expected %s", what);
	c = (unsigned char)*ps->p;
	if (c == '\n' || c == '\r')
		return perr(ps, "unexpected end of line, expected %s", what);
	if (c > 0x20 && c < 0x7f)
		return perr(ps, "unexpected '%c', expected %s", c, what);
	return perr(ps, "unexpected byte 0x%02x, expected %s", c, what);
}

const char *toml_kind_name(enum toml_kind kind)
{
	switch (kind) {
	case TOML_TABLE: return "a table";
	case TOML_ARRAY: return "an array";
	case TOML_STRING: return "a string";
	case TOML_INTEGER: return "an integer";
	case TOML_BOOLEAN: return "a boolean";
	}
	return "an unknown value";
}

static struct toml_value *new_value(struct parser *ps, enum toml_kind kind,
				    unsigned line, unsigned depth)
{
	struct node *n;

	if (depth > MAX_DEPTH) {
		perr(ps, "nested deeper than %d levels", MAX_DEPTH);
		return NULL;
	}
	n = calloc(1, sizeof(*n));
	if (!n) {
		perr(ps, "out of memory");
		return NULL;
	}
	n->v.kind = kind;
	n->v.line = line;
	n->depth = depth;
	return &n->v;
}

void toml_free(struct toml_value *v)
{
	if (!v)
		return;
	free(v->key);
	switch (v->kind) {
	case TOML_STRING:
		free(v->u.str.ptr);
		break;
	case TOML_ARRAY:
	case TOML_TABLE:
		for (size_t i = 0; i < v->u.list.len; i++)
			toml_free(v->u.list.items[i]);
		free(v->u.list.items);
		break;
	default:
		break;
	}
	free(node_of(v));
}

static int push(struct parser *ps, struct toml_value *list, struct toml_value *item)
{
	struct node *n = node_of(list);

	if (list->u.list.len == n->cap) {
		size_t cap = n->cap ? n->cap * 2 : 4;
		struct toml_value **items;

		items = reallocarray(list->u.list.items, cap, sizeof(*items));
		if (!items)
			return perr(ps, "out of memory");
		list->u.list.items = items;
		n->cap = cap;
	}
	list->u.list.items[list->u.list.len++] = item;
	return 0;
}

static struct toml_value *find(const struct toml_value *table, const char *key)
{
	/* Linear: config tables hold a handful of keys. */
	for (size_t i = 0; i < table->u.list.len; i++)
		if (!strcmp(table->u.list.items[i]->key, key))
			return table->u.list.items[i];
	return NULL;
}

const struct toml_value *toml_get(const struct toml_value *table, const char *key)
{
	if (!table || table->kind != TOML_TABLE || !key)
		return NULL;
	return find(table, key);
}

size_t toml_len(const struct toml_value *v)
{
	if (!v || (v->kind != TOML_TABLE && v->kind != TOML_ARRAY))
		return 0;
	return v->u.list.len;
}

const struct toml_value *toml_at(const struct toml_value *v, size_t i)
{
	if (i >= toml_len(v))
		return NULL;
	return v->u.list.items[i];
}

static int sb_put(struct parser *ps, struct sbuf *b, const char *s, size_t n)
{
	if (b->cap - b->len < n + 1) {
		size_t cap = b->cap ? b->cap : 32;
		char *p;

		while (cap - b->len < n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p)
			return perr(ps, "out of memory");
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
	return 0;
}

static bool is_ctrl(unsigned char c)
{
	return (c < 0x20 && c != '\t') || c == 0x7f;
}

static bool is_bare(char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '_' || c == '-';
}

/* Length of the valid UTF-8 sequence at p (1 to 4), 0 when invalid:
 * overlong forms, surrogates and code points past U+10FFFF included. */
static size_t utf8_seq(const char *s, size_t avail)
{
	const unsigned char *p = (const unsigned char *)s;
	uint32_t cp, min;
	size_t n;

	if (p[0] < 0x80)
		return 1;
	if ((p[0] & 0xe0) == 0xc0) {
		n = 2, cp = p[0] & 0x1f, min = 0x80;
	} else if ((p[0] & 0xf0) == 0xe0) {
		n = 3, cp = p[0] & 0x0f, min = 0x800;
	} else if ((p[0] & 0xf8) == 0xf0) {
		n = 4, cp = p[0] & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (avail < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (p[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t'))
		ps->p++;
}

/* Consumes one LF or CRLF: 1 when done, 0 when none is here, -1 on a lone CR. */
static int eat_newline(struct parser *ps)
{
	if (ps->p >= ps->end)
		return 0;
	if (*ps->p == '\n') {
		ps->p++;
		ps->line++;
		return 1;
	}
	if (*ps->p == '\r') {
		if (ps->end - ps->p < 2 || ps->p[1] != '\n')
			return perr(ps, "carriage return not followed by a newline");
		ps->p += 2;
		ps->line++;
		return 1;
	}
	return 0;
}

/* At '#': skips to the end of the line, leaving the newline. */
static int skip_comment(struct parser *ps)
{
	ps->p++;
	while (ps->p < ps->end && *ps->p != '\n' && *ps->p != '\r') {
		size_t n;

		if (is_ctrl((unsigned char)*ps->p))
			return perr(ps, "control character 0x%02x in comment",
				    (unsigned char)*ps->p);
		n = utf8_seq(ps->p, (size_t)(ps->end - ps->p));
		if (!n)
			return perr(ps, "invalid UTF-8 in comment");
		ps->p += n;
	}
	return 0;
}

/* Whitespace, newlines and comments, as allowed between array items. */
static int skip_blank(struct parser *ps)
{
	for (;;) {
		int r;

		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == '#' && skip_comment(ps) < 0)
			return -1;
		r = eat_newline(ps);
		if (r < 0)
			return -1;
		if (!r)
			return 0;
	}
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int put_utf8(struct parser *ps, struct sbuf *b, uint32_t cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xc0 | cp >> 6);
		u[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xe0 | cp >> 12);
		u[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		u[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		u[0] = (char)(0xf0 | cp >> 18);
		u[1] = (char)(0x80 | (cp >> 12 & 0x3f));
		u[2] = (char)(0x80 | (cp >> 6 & 0x3f));
		u[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return sb_put(ps, b, u, n);
}

/* After a backslash in a basic string. */
static int parse_escape(struct parser *ps, struct sbuf *b, bool multi)
{
	static const char from[] = "btnfr\"\\", to[] = "\b\t\n\f\r\"\\";
	const char *e;
	uint32_t cp = 0;
	size_t ndig;
	char c;

	if (ps->p >= ps->end)
		return perr(ps, "unterminated string");
	c = *ps->p;
	if (c && (e = strchr(from, c))) {
		ps->p++;
		return sb_put(ps, b, &to[e - from], 1);
	}
	if (c == 'u' || c == 'U') {
		ndig = c == 'u' ? 4 : 8;
		if ((size_t)(ps->end - ps->p) < ndig + 1)
			return perr(ps, "\\%c escape needs %zu hex digits", c, ndig);
		for (size_t i = 1; i <= ndig; i++) {
			int h = hexval(ps->p[i]);

			if (h < 0)
				return perr(ps, "\\%c escape needs %zu hex digits", c, ndig);
			cp = cp << 4 | (uint32_t)h;
		}
		if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return perr(ps, "\\%c%.*s is not a Unicode scalar value", c,
				    (int)ndig, ps->p + 1);
		ps->p += ndig + 1;
		return put_utf8(ps, b, cp);
	}
	if (multi && (c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
		/* Line-ending backslash: eats the newline and the whitespace after. */
		skip_ws(ps);
		if (eat_newline(ps) <= 0)
			return ps->failed ? -1 : perr(ps, "invalid escape: '\\' followed by whitespace must end the line");
		for (;;) {
			int r;

			skip_ws(ps);
			r = eat_newline(ps);
			if (r < 0)
				return -1;
			if (!r)
				return 0;
		}
	}
	if (c > 0x20 && c < 0x7f)
		return perr(ps, "invalid escape sequence '\\%c'", c);
	return perr(ps, "invalid escape sequence: '\\' followed by byte 0x%02x",
		    (unsigned char)c);
}

/* At the opening quote of any of the four string forms. */
static int parse_string(struct parser *ps, char **out, size_t *outlen)
{
	const char q = *ps->p;
	const bool literal = q == '\'';
	const unsigned start = ps->line;
	struct sbuf b = { 0 };
	bool multi = false;

	if (ps->end - ps->p >= 3 && ps->p[1] == q && ps->p[2] == q) {
		multi = true;
		ps->p += 3;
		/* A newline right after the opening delimiter is not content. */
		if (eat_newline(ps) < 0)
			goto fail;
	} else {
		ps->p++;
	}
	for (;;) {
		unsigned char c;
		size_t n;

		if (ps->p >= ps->end) {
			perr_at(ps, start, "unterminated string");
			goto fail;
		}
		c = (unsigned char)*ps->p;
		if (c == q) {
			if (!multi) {
				ps->p++;
				break;
			}
			for (n = 0; ps->p + n < ps->end && ps->p[n] == q; n++)
				;
			if (n >= 3) {
				/* Up to two quotes may sit just before the closing three. */
				if (n > 5) {
					perr(ps, "too many quotes at the end of a multi-line string");
					goto fail;
				}
				if (sb_put(ps, &b, ps->p, n - 3) < 0)
					goto fail;
				ps->p += n;
				break;
			}
			if (sb_put(ps, &b, ps->p, n) < 0)
				goto fail;
			ps->p += n;
			continue;
		}
		if (c == '\\' && !literal) {
			ps->p++;
			if (parse_escape(ps, &b, multi) < 0)
				goto fail;
			continue;
		}
		if (c == '\n' || c == '\r') {
			if (!multi) {
				perr(ps, "newline in a single-line string");
				goto fail;
			}
			/* CRLF becomes LF: values must not depend on the editor. */
			if (eat_newline(ps) < 0 || sb_put(ps, &b, "\n", 1) < 0)
				goto fail;
			continue;
		}
		if (is_ctrl(c)) {
			perr(ps, "control character 0x%02x in string (use an escape)", c);
			goto fail;
		}
		n = utf8_seq(ps->p, (size_t)(ps->end - ps->p));
		if (!n) {
			perr(ps, "invalid UTF-8 in string");
			goto fail;
		}
		if (sb_put(ps, &b, ps->p, n) < 0)
			goto fail;
		ps->p += n;
	}
	if (!b.p && sb_put(ps, &b, "", 0) < 0)
		goto fail;
	*out = b.p;
	*outlen = b.len;
	return 0;
fail:
	free(b.p);
	return -1;
}

static void free_keys(char **keys, int n)
{
	for (int i = 0; i < n; i++)
		free(keys[i]);
}

/* Parses `a`, `"a b".c`, `a . 'b'`: up to MAX_DEPTH parts into keys[]. */
static int parse_key(struct parser *ps, char **keys)
{
	int n = 0;

	for (;;) {
		char *k = NULL;
		size_t len;

		if (n == MAX_DEPTH) {
			perr(ps, "key has more than %d parts", MAX_DEPTH);
			goto fail;
		}
		if (ps->p < ps->end && (*ps->p == '"' || *ps->p == '\'')) {
			if (ps->end - ps->p >= 3 && ps->p[1] == *ps->p && ps->p[2] == *ps->p) {
				perr(ps, "a key cannot be a multi-line string");
				goto fail;
			}
			if (parse_string(ps, &k, &len) < 0)
				goto fail;
			if (strlen(k) != len) {
				free(k);
				perr(ps, "a key cannot contain a NUL character");
				goto fail;
			}
		} else if (ps->p < ps->end && is_bare(*ps->p)) {
			const char *s = ps->p;

			while (ps->p < ps->end && is_bare(*ps->p))
				ps->p++;
			k = strndup(s, (size_t)(ps->p - s));
			if (!k) {
				perr(ps, "out of memory");
				goto fail;
			}
		} else {
			perr_unexpected(ps, "a key");
			goto fail;
		}
		keys[n++] = k;
		skip_ws(ps);
		if (ps->p >= ps->end || *ps->p != '.')
			return n;
		ps->p++;
		skip_ws(ps);
	}
fail:
	free_keys(keys, n);
	return -1;
}

/* "a.b.c" for messages. */
static const char *key_path(char **keys, int n, char *buf, size_t size)
{
	size_t off = 0;

	buf[0] = '\0';
	for (int i = 0; i < n && off < size; i++) {
		int r = snprintf(buf + off, size - off, "%s%s", i ? "." : "",
				 keys[i] ? keys[i] : "?");

		if (r < 0)
			break;
		off += (size_t)r;
	}
	return buf;
}

static int parse_int(struct parser *ps, const char *s, size_t n, int64_t *out)
{
	const int shown = n > 40 ? 40 : (int)n;
	const uint64_t pos_max = (uint64_t)INT64_MAX;
	uint64_t v = 0, limit = pos_max;
	bool neg = false, prev_digit = false;
	unsigned base = 10;
	size_t i = 0;

	if (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-';
		i = 1;
	}
	if (n - i >= 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'o' || s[i + 1] == 'b')) {
		if (i)
			return perr(ps, "'%.*s': hexadecimal, octal and binary integers take no sign",
				    shown, s);
		base = s[i + 1] == 'x' ? 16 : s[i + 1] == 'o' ? 8 : 2;
		i += 2;
	} else if (n - i > 1 && s[i] == '0') {
		return perr(ps, "'%.*s': leading zeros are not allowed", shown, s);
	}
	if (i == n)
		return perr(ps, "'%.*s' is not a valid integer", shown, s);
	if (neg)
		limit = pos_max + 1;
	for (; i < n; i++) {
		int d = hexval(s[i]);

		if (s[i] == '_') {
			if (!prev_digit || i + 1 == n || hexval(s[i + 1]) < 0 ||
			    (unsigned)hexval(s[i + 1]) >= base)
				return perr(ps, "'%.*s': '_' must sit between two digits",
					    shown, s);
			prev_digit = false;
			continue;
		}
		if (d < 0 || (unsigned)d >= base)
			return perr(ps, "'%.*s' is not a valid integer", shown, s);
		if (v > (limit - (unsigned)d) / base)
			return perr(ps, "'%.*s' does not fit in 64 bits", shown, s);
		v = v * base + (unsigned)d;
		prev_digit = true;
	}
	if (!neg)
		*out = (int64_t)v;
	else if (v == pos_max + 1)
		*out = INT64_MIN;
	else
		*out = -(int64_t)v;
	return 0;
}

static bool is_token(char c)
{
	return is_bare(c) || c == '+' || c == '.' || c == ':';
}

static bool all_digits(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* Booleans and integers; floats and dates are recognized to say why not. */
static struct toml_value *parse_scalar(struct parser *ps, unsigned depth)
{
	const char *s = ps->p, *body;
	struct toml_value *v;
	size_t n = 0, bn;
	int shown;

	while (s + n < ps->end && is_token(s[n]))
		n++;
	if (!n) {
		perr_unexpected(ps, "a value");
		return NULL;
	}
	shown = n > 40 ? 40 : (int)n;
	if ((n == 4 && !memcmp(s, "true", 4)) || (n == 5 && !memcmp(s, "false", 5))) {
		v = new_value(ps, TOML_BOOLEAN, ps->line, depth);
		if (v)
			v->u.boolean = n == 4;
		ps->p += n;
		return v;
	}
	body = s;
	bn = n;
	if (*s == '+' || *s == '-')
		body++, bn--;
	if (bn == 3 && (!memcmp(body, "inf", 3) || !memcmp(body, "nan", 3))) {
		perr(ps, "'%.*s': floating-point values are not supported", shown, s);
		return NULL;
	}
	if (!bn || body[0] < '0' || body[0] > '9') {
		perr(ps, "invalid value '%.*s' (strings must be quoted)", shown, s);
		return NULL;
	}
	if (!(bn > 1 && body[0] == '0' && (body[1] == 'x' || body[1] == 'o' || body[1] == 'b'))) {
		if (memchr(s, ':', n) || (bn > 4 && all_digits(body, 4) && body[4] == '-')) {
			perr(ps, "'%.*s': dates and times are not supported", shown, s);
			return NULL;
		}
		if (memchr(s, '.', n) || memchr(s, 'e', n) || memchr(s, 'E', n)) {
			perr(ps, "'%.*s': floating-point values are not supported", shown, s);
			return NULL;
		}
	}
	v = new_value(ps, TOML_INTEGER, ps->line, depth);
	if (!v)
		return NULL;
	if (parse_int(ps, s, n, &v->u.integer) < 0) {
		toml_free(v);
		return NULL;
	}
	ps->p += n;
	return v;
}

static struct toml_value *parse_value(struct parser *ps, unsigned depth);
static int parse_keyval(struct parser *ps, struct toml_value *table);

static struct toml_value *parse_array(struct parser *ps, unsigned depth)
{
	const unsigned start = ps->line;
	struct toml_value *arr, *item;

	arr = new_value(ps, TOML_ARRAY, start, depth);
	if (!arr)
		return NULL;
	ps->p++;
	for (;;) {
		if (skip_blank(ps) < 0)
			goto fail;
		if (ps->p >= ps->end) {
			perr_at(ps, start, "unterminated array");
			goto fail;
		}
		if (*ps->p == ']')
			break;
		item = parse_value(ps, depth + 1);
		if (!item)
			goto fail;
		if (push(ps, arr, item) < 0) {
			toml_free(item);
			goto fail;
		}
		if (skip_blank(ps) < 0)
			goto fail;
		if (ps->p >= ps->end) {
			perr_at(ps, start, "unterminated array");
			goto fail;
		}
		if (*ps->p == ']')
			break;
		if (*ps->p != ',') {
			perr_unexpected(ps, "',' or ']' in array");
			goto fail;
		}
		ps->p++;
	}
	ps->p++;
	return arr;
fail:
	toml_free(arr);
	return NULL;
}

static struct toml_value *parse_inline_table(struct parser *ps, unsigned depth)
{
	struct toml_value *tab;

	tab = new_value(ps, TOML_TABLE, ps->line, depth);
	if (!tab)
		return NULL;
	ps->p++;
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '}')
		goto done;
	for (;;) {
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == '}') {
			perr(ps, "trailing comma in inline table");
			goto fail;
		}
		if (parse_keyval(ps, tab) < 0)
			goto fail;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == '}')
			break;
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p >= ps->end || *ps->p == '\n' || *ps->p == '\r')
			perr(ps, "inline table must end on the line it starts ('}' missing)");
		else
			perr_unexpected(ps, "',' or '}' in inline table");
		goto fail;
	}
done:
	ps->p++;
	node_of(tab)->flags |= F_INLINE;
	return tab;
fail:
	toml_free(tab);
	return NULL;
}

static struct toml_value *parse_value(struct parser *ps, unsigned depth)
{
	struct toml_value *v;

	if (ps->p >= ps->end) {
		perr_unexpected(ps, "a value");
		return NULL;
	}
	switch (*ps->p) {
	case '"':
	case '\'':
		v = new_value(ps, TOML_STRING, ps->line, depth);
		if (v && parse_string(ps, &v->u.str.ptr, &v->u.str.len) < 0) {
			toml_free(v);
			v = NULL;
		}
		return v;
	case '[':
		return parse_array(ps, depth);
	case '{':
		return parse_inline_table(ps, depth);
	default:
		return parse_scalar(ps, depth);
	}
}

/* `key = value` into `table`, creating the tables a dotted key names. */
static int parse_keyval(struct parser *ps, struct toml_value *table)
{
	const unsigned line = ps->line;
	struct toml_value *t = table, *v, *child;
	char *keys[MAX_DEPTH], path[256];
	int n, i;

	n = parse_key(ps, keys);
	if (n < 0)
		return -1;
	skip_ws(ps);
	if (ps->p >= ps->end || *ps->p != '=') {
		perr_unexpected(ps, "'=' after the key");
		goto fail;
	}
	ps->p++;
	skip_ws(ps);

	for (i = 0; i < n - 1; i++) {
		child = find(t, keys[i]);
		if (!child) {
			child = new_value(ps, TOML_TABLE, line, depth_of(t) + 1);
			if (!child)
				goto fail;
			node_of(child)->flags = F_DOTTED;
			child->key = keys[i];
			keys[i] = NULL;
			if (push(ps, t, child) < 0) {
				toml_free(child);
				goto fail;
			}
		} else if (child->kind != TOML_TABLE) {
			perr_at(ps, line, "'%s' is already %s (line %u), not a table",
				key_path(keys, i + 1, path, sizeof(path)),
				toml_kind_name(child->kind), child->line);
			goto fail;
		} else if (!(node_of(child)->flags & F_DOTTED) ||
			   (node_of(child)->flags & F_INLINE)) {
			perr_at(ps, line, "cannot add keys to table '%s' (defined on line %u) from here",
				key_path(keys, i + 1, path, sizeof(path)), child->line);
			goto fail;
		}
		t = child;
	}
	child = find(t, keys[n - 1]);
	if (child) {
		perr_at(ps, line, "duplicate key '%s' (first defined on line %u)",
			key_path(keys, n, path, sizeof(path)), child->line);
		goto fail;
	}
	v = parse_value(ps, depth_of(t) + 1);
	if (!v)
		goto fail;
	v->line = line;
	v->key = keys[n - 1];
	keys[n - 1] = NULL;
	if (push(ps, t, v) < 0) {
		toml_free(v);
		goto fail;
	}
	free_keys(keys, n);
	return 0;
fail:
	free_keys(keys, n);
	return -1;
}

/* At '[': a [table] or [[array.of.tables]] header; *cur becomes its table. */
static int parse_header(struct parser *ps, struct toml_value *root,
			struct toml_value **cur)
{
	const unsigned line = ps->line;
	struct toml_value *t = root, *child, *elem;
	char *keys[MAX_DEPTH], path[256];
	bool aot = false;
	int n, i;

	ps->p++;
	if (ps->p < ps->end && *ps->p == '[') {
		aot = true;
		ps->p++;
	}
	skip_ws(ps);
	n = parse_key(ps, keys);
	if (n < 0)
		return -1;
	if (ps->p >= ps->end || *ps->p != ']' ||
	    (aot && (ps->end - ps->p < 2 || ps->p[1] != ']'))) {
		perr_unexpected(ps, aot ? "']]' to close the header" : "']' to close the header");
		goto fail;
	}
	ps->p += aot ? 2 : 1;

	for (i = 0; i < n; i++) {
		const bool last = i == n - 1;
		struct node *cn;

		child = find(t, keys[i]);
		if (!child) {
			child = new_value(ps, aot && last ? TOML_ARRAY : TOML_TABLE, line,
					  depth_of(t) + 1);
			if (!child)
				goto fail;
			node_of(child)->flags = aot && last ? F_AOT : last ? F_DEFINED : F_IMPLICIT;
			child->key = keys[i];
			keys[i] = NULL;
			if (push(ps, t, child) < 0) {
				toml_free(child);
				goto fail;
			}
			t = child;
			continue;
		}
		key_path(keys, i + 1, path, sizeof(path));
		cn = node_of(child);
		if (last && aot) {
			if (child->kind != TOML_ARRAY || !(cn->flags & F_AOT)) {
				perr_at(ps, line, "'%s' is already %s (line %u), not an array of tables",
					path, toml_kind_name(child->kind), child->line);
				goto fail;
			}
		} else if (last) {
			if (child->kind != TOML_TABLE) {
				perr_at(ps, line, "'%s' is already %s (line %u), not a table",
					path, toml_kind_name(child->kind), child->line);
				goto fail;
			}
			if (!(cn->flags & F_IMPLICIT)) {
				perr_at(ps, line, "table '%s' is already defined (line %u)",
					path, child->line);
				goto fail;
			}
			cn->flags = (cn->flags & ~F_IMPLICIT) | F_DEFINED;
			child->line = line;
		} else if (child->kind == TOML_ARRAY && (cn->flags & F_AOT)) {
			/* [a.b] after [[a]] extends a's last element. */
			child = child->u.list.items[child->u.list.len - 1];
		} else if (child->kind != TOML_TABLE) {
			perr_at(ps, line, "'%s' is already %s (line %u), not a table",
				path, toml_kind_name(child->kind), child->line);
			goto fail;
		} else if (cn->flags & F_INLINE) {
			perr_at(ps, line, "cannot extend inline table '%s' (line %u)",
				path, child->line);
			goto fail;
		}
		t = child;
	}
	if (aot) {
		elem = new_value(ps, TOML_TABLE, line, depth_of(t) + 1);
		if (!elem)
			goto fail;
		node_of(elem)->flags = F_DEFINED;
		if (push(ps, t, elem) < 0) {
			toml_free(elem);
			goto fail;
		}
		t = elem;
	}
	*cur = t;
	free_keys(keys, n);
	return 0;
fail:
	free_keys(keys, n);
	return -1;
}

/* After a key/value or header: optional comment, then newline or the end. */
static int end_of_line(struct parser *ps)
{
	int r;

	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '#' && skip_comment(ps) < 0)
		return -1;
	if (ps->p >= ps->end)
		return 0;
	r = eat_newline(ps);
	if (r < 0)
		return -1;
	if (!r)
		return perr_unexpected(ps, "the end of the line");
	return 0;
}

struct toml_value *toml_parse(const char *name, const char *text, size_t len,
			      char *err, size_t errlen)
{
	struct parser ps = {
		.name = name ? name : "<input>",
		.p = text,
		.end = text + len,
		.line = 1,
		.err = err,
		.errlen = errlen,
	};
	struct toml_value *root, *cur;

	if (err && errlen)
		err[0] = '\0';
	if (!text) {
		ps.p = ps.end = "";
		if (len) {
			perr(&ps, "no input");
			return NULL;
		}
	}
	root = new_value(&ps, TOML_TABLE, 1, 0);
	if (!root)
		return NULL;
	node_of(root)->flags = F_DEFINED;
	cur = root;
	if (len >= 3 && !memcmp(ps.p, "\xef\xbb\xbf", 3))
		ps.p += 3;

	while (ps.p < ps.end) {
		skip_ws(&ps);
		if (ps.p >= ps.end)
			break;
		if (*ps.p == '[') {
			if (parse_header(&ps, root, &cur) < 0)
				goto fail;
		} else if (*ps.p != '#' && *ps.p != '\n' && *ps.p != '\r') {
			if (parse_keyval(&ps, cur) < 0)
				goto fail;
		}
		if (end_of_line(&ps) < 0)
			goto fail;
	}
	return root;
fail:
	toml_free(root);
	return NULL;
}
