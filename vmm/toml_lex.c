/* The TOML lexer: whitespace, comments, strings with their escapes, keys,
 * integers and booleans; floats and dates are recognized only to refuse them. */
#include "toml.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "toml-internal.h"

struct sbuf {
	char *p;
	size_t len;
	size_t cap;
};

static int sb_put(struct parser *ps, struct sbuf *b, const char *s, size_t n)
{
	if (b->cap - b->len < n + 1) {
		size_t cap = b->cap ? b->cap : 32;
		char *p;

		while (cap - b->len < n + 1)
			cap *= 2;
		p = realloc(b->p, cap);
		if (!p)
			return tp_perr(ps, "out of memory");
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

void tp_skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t'))
		ps->p++;
}

/* Consumes one LF or CRLF: 1 when done, 0 when none is here, -1 on a lone CR. */
int tp_eat_newline(struct parser *ps)
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
			return tp_perr(ps, "carriage return not followed by a newline");
		ps->p += 2;
		ps->line++;
		return 1;
	}
	return 0;
}

/* At '#': skips to the end of the line, leaving the newline. */
int tp_skip_comment(struct parser *ps)
{
	ps->p++;
	while (ps->p < ps->end && *ps->p != '\n' && *ps->p != '\r') {
		size_t n;

		if (is_ctrl((unsigned char)*ps->p))
			return tp_perr(ps, "control character 0x%02x in comment",
				       (unsigned char)*ps->p);
		n = utf8_seq(ps->p, (size_t)(ps->end - ps->p));
		if (!n)
			return tp_perr(ps, "invalid UTF-8 in comment");
		ps->p += n;
	}
	return 0;
}

/* Whitespace, newlines and comments, as allowed between array items. */
int tp_skip_blank(struct parser *ps)
{
	for (;;) {
		int r;

		tp_skip_ws(ps);
		if (ps->p < ps->end && *ps->p == '#' && tp_skip_comment(ps) < 0)
			return -1;
		r = tp_eat_newline(ps);
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
		return tp_perr(ps, "unterminated string");
	c = *ps->p;
	if (c && (e = strchr(from, c))) {
		ps->p++;
		return sb_put(ps, b, &to[e - from], 1);
	}
	if (c == 'u' || c == 'U') {
		ndig = c == 'u' ? 4 : 8;
		if ((size_t)(ps->end - ps->p) < ndig + 1)
			return tp_perr(ps, "\\%c escape needs %zu hex digits", c, ndig);
		for (size_t i = 1; i <= ndig; i++) {
			int h = hexval(ps->p[i]);

			if (h < 0)
				return tp_perr(ps, "\\%c escape needs %zu hex digits", c, ndig);
			cp = cp << 4 | (uint32_t)h;
		}
		if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return tp_perr(ps, "\\%c%.*s is not a Unicode scalar value", c,
				       (int)ndig, ps->p + 1);
		ps->p += ndig + 1;
		return put_utf8(ps, b, cp);
	}
	if (multi && (c == ' ' || c == '\t' || c == '\n' || c == '\r')) {
		/* Line-ending backslash: eats the newline and the whitespace after. */
		tp_skip_ws(ps);
		if (tp_eat_newline(ps) <= 0)
			return ps->failed ? -1 : tp_perr(ps, "invalid escape: '\\' followed by whitespace must end the line");
		for (;;) {
			int r;

			tp_skip_ws(ps);
			r = tp_eat_newline(ps);
			if (r < 0)
				return -1;
			if (!r)
				return 0;
		}
	}
	if (c > 0x20 && c < 0x7f)
		return tp_perr(ps, "invalid escape sequence '\\%c'", c);
	return tp_perr(ps, "invalid escape sequence: '\\' followed by byte 0x%02x",
		       (unsigned char)c);
}

/* At the opening quote of any of the four string forms. */
int tp_parse_string(struct parser *ps, char **out, size_t *outlen)
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
		if (tp_eat_newline(ps) < 0)
			goto fail;
	} else {
		ps->p++;
	}
	for (;;) {
		unsigned char c;
		size_t n;

		if (ps->p >= ps->end) {
			tp_perr_at(ps, start, "unterminated string");
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
					tp_perr(ps, "too many quotes at the end of a multi-line string");
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
				tp_perr(ps, "newline in a single-line string");
				goto fail;
			}
			/* CRLF becomes LF: values must not depend on the editor. */
			if (tp_eat_newline(ps) < 0 || sb_put(ps, &b, "\n", 1) < 0)
				goto fail;
			continue;
		}
		if (is_ctrl(c)) {
			tp_perr(ps, "control character 0x%02x in string (use an escape)", c);
			goto fail;
		}
		n = utf8_seq(ps->p, (size_t)(ps->end - ps->p));
		if (!n) {
			tp_perr(ps, "invalid UTF-8 in string");
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

void tp_free_keys(char **keys, int n)
{
	for (int i = 0; i < n; i++)
		free(keys[i]);
}

/* Parses `a`, `"a b".c`, `a . 'b'`: up to MAX_DEPTH parts into keys[]. */
int tp_parse_key(struct parser *ps, char **keys)
{
	int n = 0;

	for (;;) {
		char *k = NULL;
		size_t len;

		if (n == MAX_DEPTH) {
			tp_perr(ps, "key has more than %d parts", MAX_DEPTH);
			goto fail;
		}
		if (ps->p < ps->end && (*ps->p == '"' || *ps->p == '\'')) {
			if (ps->end - ps->p >= 3 && ps->p[1] == *ps->p && ps->p[2] == *ps->p) {
				tp_perr(ps, "a key cannot be a multi-line string");
				goto fail;
			}
			if (tp_parse_string(ps, &k, &len) < 0)
				goto fail;
			if (strlen(k) != len) {
				free(k);
				tp_perr(ps, "a key cannot contain a NUL character");
				goto fail;
			}
		} else if (ps->p < ps->end && is_bare(*ps->p)) {
			const char *s = ps->p;

			while (ps->p < ps->end && is_bare(*ps->p))
				ps->p++;
			k = strndup(s, (size_t)(ps->p - s));
			if (!k) {
				tp_perr(ps, "out of memory");
				goto fail;
			}
		} else {
			tp_perr_unexpected(ps, "a key");
			goto fail;
		}
		keys[n++] = k;
		tp_skip_ws(ps);
		if (ps->p >= ps->end || *ps->p != '.')
			return n;
		ps->p++;
		tp_skip_ws(ps);
	}
fail:
	tp_free_keys(keys, n);
	return -1;
}

/* "a.b.c" for messages. */
const char *tp_key_path(char **keys, int n, char *buf, size_t size)
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
			return tp_perr(ps, "'%.*s': hexadecimal, octal and binary integers take no sign",
				       shown, s);
		base = s[i + 1] == 'x' ? 16 : s[i + 1] == 'o' ? 8 : 2;
		i += 2;
	} else if (n - i > 1 && s[i] == '0' && (s[i + 1] == 'X' || s[i + 1] == 'O' ||
						s[i + 1] == 'B')) {
		return tp_perr(ps, "'%.*s': uppercase base prefix not allowed in TOML "
			       "(0x, 0o or 0b)", shown, s);
	} else if (n - i > 1 && s[i] == '0') {
		return tp_perr(ps, "'%.*s': leading zeros are not allowed", shown, s);
	}
	if (i == n)
		return tp_perr(ps, "'%.*s' is not a valid integer", shown, s);
	if (neg)
		limit = pos_max + 1;
	for (; i < n; i++) {
		int d = hexval(s[i]);

		if (s[i] == '_') {
			if (!prev_digit || i + 1 == n || hexval(s[i + 1]) < 0 ||
			    (unsigned)hexval(s[i + 1]) >= base)
				return tp_perr(ps, "'%.*s': '_' must sit between two digits",
					       shown, s);
			prev_digit = false;
			continue;
		}
		if (d < 0 || (unsigned)d >= base)
			return tp_perr(ps, "'%.*s' is not a valid integer", shown, s);
		if (v > (limit - (unsigned)d) / base)
			return tp_perr(ps, "'%.*s' does not fit in 64 bits", shown, s);
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
struct toml_value *tp_parse_scalar(struct parser *ps, unsigned depth)
{
	const char *s = ps->p, *body;
	struct toml_value *v;
	size_t n = 0, bn;
	int shown;

	while (s + n < ps->end && is_token(s[n]))
		n++;
	if (!n) {
		tp_perr_unexpected(ps, "a value");
		return NULL;
	}
	shown = n > 40 ? 40 : (int)n;
	if ((n == 4 && !memcmp(s, "true", 4)) || (n == 5 && !memcmp(s, "false", 5))) {
		v = tp_new_value(ps, TOML_BOOLEAN, ps->line, depth);
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
		tp_perr(ps, "'%.*s': floating-point values are not supported", shown, s);
		return NULL;
	}
	if (!bn || body[0] < '0' || body[0] > '9') {
		tp_perr(ps, "invalid value '%.*s' (strings must be quoted)", shown, s);
		return NULL;
	}
	/* A base prefix, in either case (parse_int refuses uppercase): "0xE" is
	 * not a float. */
	if (!(bn > 1 && body[0] == '0' && ((body[1] | 0x20) == 'x' || (body[1] | 0x20) == 'o' ||
					   (body[1] | 0x20) == 'b'))) {
		if (memchr(s, ':', n) || (bn > 4 && all_digits(body, 4) && body[4] == '-')) {
			tp_perr(ps, "'%.*s': dates and times are not supported", shown, s);
			return NULL;
		}
		if (memchr(s, '.', n) || memchr(s, 'e', n) || memchr(s, 'E', n)) {
			tp_perr(ps, "'%.*s': floating-point values are not supported", shown, s);
			return NULL;
		}
	}
	v = tp_new_value(ps, TOML_INTEGER, ps->line, depth);
	if (!v)
		return NULL;
	if (parse_int(ps, s, n, &v->u.integer) < 0) {
		toml_free(v);
		return NULL;
	}
	ps->p += n;
	return v;
}
