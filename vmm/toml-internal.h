/* Shared by the TOML parser's two files: toml.c (the tree and the API) and
 * toml_lex.c (tokens and scalar values). Not part of the toml.h API. */
#ifndef VMM_TOML_INTERNAL_H
#define VMM_TOML_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "toml.h"

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

static inline struct node *node_of(struct toml_value *v)
{
	return (struct node *)v;
}

static inline unsigned depth_of(struct toml_value *v)
{
	return node_of(v)->depth;
}

/* Errors (toml.c): only the first one is kept, as "name:line: message";
 * all return -1. */
int tp_perr_at(struct parser *ps, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int tp_perr(struct parser *ps, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* "unexpected X, expected `what`", naming the byte at the cursor. */
int tp_perr_unexpected(struct parser *ps, const char *what);

/* A new value at `line`; NULL (reported) past MAX_DEPTH or out of memory. */
struct toml_value *tp_new_value(struct parser *ps, enum toml_kind kind,
				unsigned line, unsigned depth);

/* The lexer (toml_lex.c). Those returning int give 0 or -1 (reported). */
void tp_skip_ws(struct parser *ps);		/* spaces and tabs */
/* Consumes one LF or CRLF: 1 when done, 0 when none is here, -1 on a lone CR. */
int tp_eat_newline(struct parser *ps);
int tp_skip_comment(struct parser *ps);		/* at '#', up to the newline */
int tp_skip_blank(struct parser *ps);		/* whitespace, newlines, comments */
/* At the opening quote of any of the four string forms; *out is malloc'd. */
int tp_parse_string(struct parser *ps, char **out, size_t *outlen);
/* A bare, quoted or dotted key into keys[MAX_DEPTH]: the number of parts. */
int tp_parse_key(struct parser *ps, char **keys);
void tp_free_keys(char **keys, int n);
/* "a.b.c" for messages. */
const char *tp_key_path(char **keys, int n, char *buf, size_t size);
/* A boolean or an integer; floats and dates are refused, saying why. */
struct toml_value *tp_parse_scalar(struct parser *ps, unsigned depth);

#endif
