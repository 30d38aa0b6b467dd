/* A TOML 1.0 reader for vmm's config files: everything but floats, dates
 * and keys holding U+0000, parsed into a tree whose every node remembers its
 * source line. */
#ifndef VMM_TOML_H
#define VMM_TOML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum toml_kind {
	TOML_TABLE,
	TOML_ARRAY,
	TOML_STRING,
	TOML_INTEGER,
	TOML_BOOLEAN,
};

struct toml_value {
	enum toml_kind kind;
	unsigned line;		/* 1-based line of the key, table header or array item */
	char *key;		/* key in the parent table; NULL for the root and array items */
	union {
		bool boolean;
		int64_t integer;
		struct {
			char *ptr;	/* NUL-terminated, but \u0000 may put NULs inside */
			size_t len;
		} str;
		struct {
			/* Array items, or table entries in document order. */
			struct toml_value **items;
			size_t len;
		} list;
	} u;
};

/*
 * Parses `len` bytes of `text` (need not be NUL-terminated). Returns the root
 * table, to be freed with toml_free, or NULL with "name:line: message" in
 * `err` (truncated to `errlen`; `err` may be NULL). Floats, dates and keys
 * holding U+0000 are rejected as unsupported. No global state: safe from
 * any thread.
 */
struct toml_value *toml_parse(const char *name, const char *text, size_t len,
			      char *err, size_t errlen);

void toml_free(struct toml_value *v);

/* Entry `key` of `table`; NULL when absent or `table` is not a table. */
const struct toml_value *toml_get(const struct toml_value *table, const char *key);

/* Number of items of an array or entries of a table; 0 for anything else. */
size_t toml_len(const struct toml_value *v);

/* The i-th item of an array or entry of a table; NULL when out of range. */
const struct toml_value *toml_at(const struct toml_value *v, size_t i);

/* "a table", "an integer"...: for "expected X, got Y" messages. */
const char *toml_kind_name(enum toml_kind kind);

#endif
