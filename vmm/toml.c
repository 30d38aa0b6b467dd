/* TOML parser: TOML 1.0 minus floats and dates, hardened for untrusted input
 * (bounded nesting, never reads past `len`, rejects NULs and bad UTF-8).
 * Here: the tree (tables, arrays, headers, TOML's redefinition rules), error
 * reporting and the lookup API; tokens and scalars are in toml_lex.c. */
#include "toml.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "toml-internal.h"

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

int tp_perr_at(struct parser *ps, unsigned line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vperr_at(ps, line, fmt, ap);
	va_end(ap);
	return -1;
}

int tp_perr(struct parser *ps, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vperr_at(ps, ps->line, fmt, ap);
	va_end(ap);
	return -1;
}

/* Names the byte at the cursor for "unexpected ..." messages. */
int tp_perr_unexpected(struct parser *ps, const char *what)
{
	unsigned char c;

	if (ps->p >= ps->end)
		return tp_perr(ps, "unexpected end of input, expected %s", what);
	c = (unsigned char)*ps->p;
	if (c == '\n' || c == '\r')
		return tp_perr(ps, "unexpected end of line, expected %s", what);
	if (c > 0x20 && c < 0x7f)
		return tp_perr(ps, "unexpected '%c', expected %s", c, what);
	return tp_perr(ps, "unexpected byte 0x%02x, expected %s", c, what);
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

struct toml_value *tp_new_value(struct parser *ps, enum toml_kind kind,
				unsigned line, unsigned depth)
{
	struct node *n;

	if (depth > MAX_DEPTH) {
		tp_perr(ps, "nested deeper than %d levels", MAX_DEPTH);
		return NULL;
	}
	n = calloc(1, sizeof(*n));
	if (!n) {
		tp_perr(ps, "out of memory");
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
			return tp_perr(ps, "out of memory");
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

static struct toml_value *parse_value(struct parser *ps, unsigned depth);
static int parse_keyval(struct parser *ps, struct toml_value *table);

static struct toml_value *parse_array(struct parser *ps, unsigned depth)
{
	const unsigned start = ps->line;
	struct toml_value *arr, *item;

	arr = tp_new_value(ps, TOML_ARRAY, start, depth);
	if (!arr)
		return NULL;
	ps->p++;
	for (;;) {
		if (tp_skip_blank(ps) < 0)
			goto fail;
		if (ps->p >= ps->end) {
			tp_perr_at(ps, start, "unterminated array");
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
		if (tp_skip_blank(ps) < 0)
			goto fail;
		if (ps->p >= ps->end) {
			tp_perr_at(ps, start, "unterminated array");
			goto fail;
		}
		if (*ps->p == ']')
			break;
		if (*ps->p != ',') {
			tp_perr_unexpected(ps, "',' or ']' in array");
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

	tab = tp_new_value(ps, TOML_TABLE, ps->line, depth);
	if (!tab)
		return NULL;
	ps->p++;
	tp_skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '}')
		goto done;
	for (;;) {
		tp_skip_ws(ps);
		if (ps->p < ps->end && *ps->p == '}') {
			tp_perr(ps, "trailing comma in inline table");
			goto fail;
		}
		if (parse_keyval(ps, tab) < 0)
			goto fail;
		tp_skip_ws(ps);
		if (ps->p < ps->end && *ps->p == '}')
			break;
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p >= ps->end || *ps->p == '\n' || *ps->p == '\r')
			tp_perr(ps, "inline table must end on the line it starts ('}' missing)");
		else
			tp_perr_unexpected(ps, "',' or '}' in inline table");
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
		tp_perr_unexpected(ps, "a value");
		return NULL;
	}
	switch (*ps->p) {
	case '"':
	case '\'':
		v = tp_new_value(ps, TOML_STRING, ps->line, depth);
		if (v && tp_parse_string(ps, &v->u.str.ptr, &v->u.str.len) < 0) {
			toml_free(v);
			v = NULL;
		}
		return v;
	case '[':
		return parse_array(ps, depth);
	case '{':
		return parse_inline_table(ps, depth);
	default:
		return tp_parse_scalar(ps, depth);
	}
}

/* `key = value` into `table`, creating the tables a dotted key names. */
static int parse_keyval(struct parser *ps, struct toml_value *table)
{
	const unsigned line = ps->line;
	struct toml_value *t = table, *v, *child;
	char *keys[MAX_DEPTH], path[256];
	int n, i;

	n = tp_parse_key(ps, keys);
	if (n < 0)
		return -1;
	tp_skip_ws(ps);
	if (ps->p >= ps->end || *ps->p != '=') {
		tp_perr_unexpected(ps, "'=' after the key");
		goto fail;
	}
	ps->p++;
	tp_skip_ws(ps);

	for (i = 0; i < n - 1; i++) {
		child = find(t, keys[i]);
		if (!child) {
			child = tp_new_value(ps, TOML_TABLE, line, depth_of(t) + 1);
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
			tp_perr_at(ps, line, "'%s' is already %s (line %u), not a table",
				   tp_key_path(keys, i + 1, path, sizeof(path)),
				   toml_kind_name(child->kind), child->line);
			goto fail;
		} else if (!(node_of(child)->flags & F_DOTTED) ||
			   (node_of(child)->flags & F_INLINE)) {
			tp_perr_at(ps, line, "cannot add keys to table '%s' (defined on line %u) from here",
				   tp_key_path(keys, i + 1, path, sizeof(path)), child->line);
			goto fail;
		}
		t = child;
	}
	child = find(t, keys[n - 1]);
	if (child) {
		tp_perr_at(ps, line, "duplicate key '%s' (first defined on line %u)",
			   tp_key_path(keys, n, path, sizeof(path)), child->line);
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
	tp_free_keys(keys, n);
	return 0;
fail:
	tp_free_keys(keys, n);
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
	tp_skip_ws(ps);
	n = tp_parse_key(ps, keys);
	if (n < 0)
		return -1;
	if (ps->p >= ps->end || *ps->p != ']' ||
	    (aot && (ps->end - ps->p < 2 || ps->p[1] != ']'))) {
		tp_perr_unexpected(ps, aot ? "']]' to close the header" : "']' to close the header");
		goto fail;
	}
	ps->p += aot ? 2 : 1;

	for (i = 0; i < n; i++) {
		const bool last = i == n - 1;
		struct node *cn;

		child = find(t, keys[i]);
		if (!child) {
			child = tp_new_value(ps, aot && last ? TOML_ARRAY : TOML_TABLE, line,
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
		tp_key_path(keys, i + 1, path, sizeof(path));
		cn = node_of(child);
		if (last && aot) {
			if (child->kind != TOML_ARRAY || !(cn->flags & F_AOT)) {
				tp_perr_at(ps, line, "'%s' is already %s (line %u), not an array of tables",
					   path, toml_kind_name(child->kind), child->line);
				goto fail;
			}
		} else if (last) {
			if (child->kind != TOML_TABLE) {
				tp_perr_at(ps, line, "'%s' is already %s (line %u), not a table",
					   path, toml_kind_name(child->kind), child->line);
				goto fail;
			}
			if (!(cn->flags & F_IMPLICIT)) {
				tp_perr_at(ps, line, "table '%s' is already defined (line %u)",
					   path, child->line);
				goto fail;
			}
			cn->flags = (cn->flags & ~F_IMPLICIT) | F_DEFINED;
			child->line = line;
		} else if (child->kind == TOML_ARRAY && (cn->flags & F_AOT)) {
			/* [a.b] after [[a]] extends a's last element. */
			child = child->u.list.items[child->u.list.len - 1];
		} else if (child->kind != TOML_TABLE) {
			tp_perr_at(ps, line, "'%s' is already %s (line %u), not a table",
				   path, toml_kind_name(child->kind), child->line);
			goto fail;
		} else if (cn->flags & F_INLINE) {
			tp_perr_at(ps, line, "cannot extend inline table '%s' (line %u)",
				   path, child->line);
			goto fail;
		}
		t = child;
	}
	if (aot) {
		elem = tp_new_value(ps, TOML_TABLE, line, depth_of(t) + 1);
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
	tp_free_keys(keys, n);
	return 0;
fail:
	tp_free_keys(keys, n);
	return -1;
}

/* After a key/value or header: optional comment, then newline or the end. */
static int end_of_line(struct parser *ps)
{
	int r;

	tp_skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '#' && tp_skip_comment(ps) < 0)
		return -1;
	if (ps->p >= ps->end)
		return 0;
	r = tp_eat_newline(ps);
	if (r < 0)
		return -1;
	if (!r)
		return tp_perr_unexpected(ps, "the end of the line");
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
			tp_perr(&ps, "no input");
			return NULL;
		}
	}
	root = tp_new_value(&ps, TOML_TABLE, 1, 0);
	if (!root)
		return NULL;
	node_of(root)->flags = F_DEFINED;
	cur = root;
	if (len >= 3 && !memcmp(ps.p, "\xef\xbb\xbf", 3))
		ps.p += 3;

	while (ps.p < ps.end) {
		tp_skip_ws(&ps);
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
