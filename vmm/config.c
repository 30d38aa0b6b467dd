/* The config loader: TOML tree -> struct vm_config, checking every key, type,
 * range and file up front so that nothing later has to. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arch.h"
#include "log.h"
#include "toml.h"

/* A config is a few hundred bytes; this only stops a wrong path (a disk
 * image, /dev/zero) from being slurped. */
#define CONFIG_MAX_SIZE (1 << 20)

#define MEMORY_MIB_MIN 16
#define MEMORY_MIB_MAX (1 << 20)
#define SHUTDOWN_TIMEOUT_MAX 3600

struct msg {
	unsigned line;
	unsigned seq;
	char *text;
};

struct ctx {
	const char *src;	/* config name for messages */
	char *dir;		/* where relative paths start */
	unsigned errors;
	/* Held back until the end, to be printed in line order. */
	struct msg *msgs;
	size_t nmsgs;
};

static void cfg_err(struct ctx *c, unsigned line, const char *table, const char *key,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void cfg_err(struct ctx *c, unsigned line, const char *table, const char *key,
		    const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	int n;

	n = snprintf(msg, sizeof(msg), "%s:%u: %s%s%s: ", c->src, line, table,
		     key ? "." : "", key ? key : "");
	if (n >= 0 && (size_t)n < sizeof(msg)) {
		va_start(ap, fmt);
		vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
		va_end(ap);
	}
	/* Keys and values come from the file and may hold escaped control
	 * characters; keep them from forging log lines. */
	for (char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = '?';
	c->errors++;
	if (!(c->nmsgs & 15)) {
		struct msg *m = reallocarray(c->msgs, c->nmsgs + 16, sizeof(*m));

		if (!m)
			goto now;
		c->msgs = m;
	}
	c->msgs[c->nmsgs].text = strdup(msg);
	if (!c->msgs[c->nmsgs].text)
		goto now;
	c->msgs[c->nmsgs].line = line;
	c->msgs[c->nmsgs].seq = c->errors;
	c->nmsgs++;
	return;
now:
	log_err("%s", msg);
}

static int msg_cmp(const void *a, const void *b)
{
	const struct msg *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void flush_errors(struct ctx *c)
{
	if (c->nmsgs)
		qsort(c->msgs, c->nmsgs, sizeof(*c->msgs), msg_cmp);
	for (size_t i = 0; i < c->nmsgs; i++) {
		log_err("%s", c->msgs[i].text);
		free(c->msgs[i].text);
	}
	free(c->msgs);
	c->msgs = NULL;
	c->nmsgs = 0;
}

static bool type_ok(struct ctx *c, const struct toml_value *v, const char *table,
		    enum toml_kind kind)
{
	if (v->kind == kind)
		return true;
	cfg_err(c, v->line, table, v->key, "expected %s, got %s",
		toml_kind_name(kind), toml_kind_name(v->kind));
	return false;
}

/* Reports every key of `tab` not in `known`. */
static void check_keys(struct ctx *c, const struct toml_value *tab, const char *table,
		       const char *const *known)
{
	for (size_t i = 0; i < toml_len(tab); i++) {
		const struct toml_value *v = toml_at(tab, i);
		size_t k;

		for (k = 0; known[k]; k++)
			if (!strcmp(known[k], v->key))
				break;
		if (!known[k])
			cfg_err(c, v->line, table, v->key, "unknown %s",
				v->kind == TOML_TABLE ? "table" : "key");
	}
}

static bool get_int(struct ctx *c, const struct toml_value *tab, const char *table,
		    const char *key, int64_t min, int64_t max, int64_t *out)
{
	const struct toml_value *v = toml_get(tab, key);

	if (!v || !type_ok(c, v, table, TOML_INTEGER))
		return false;
	if (v->u.integer < min || v->u.integer > max) {
		cfg_err(c, v->line, table, key, "%lld is out of range (%lld to %lld)",
			(long long)v->u.integer, (long long)min, (long long)max);
		return false;
	}
	*out = v->u.integer;
	return true;
}

/* The string at `key`, or NULL when absent or wrong (reported). */
static const char *get_str(struct ctx *c, const struct toml_value *tab,
			   const char *table, const char *key, unsigned *line)
{
	const struct toml_value *v = toml_get(tab, key);

	if (!v || !type_ok(c, v, table, TOML_STRING))
		return NULL;
	if (strlen(v->u.str.ptr) != v->u.str.len) {
		cfg_err(c, v->line, table, key, "must not contain a NUL character");
		return NULL;
	}
	if (line)
		*line = v->line;
	return v->u.str.ptr;
}

/* Index in `names` of the string at `key`; -1 when absent or invalid. */
static int get_enum(struct ctx *c, const struct toml_value *tab, const char *table,
		    const char *key, const char *const *names)
{
	char list[256];
	const char *s;
	size_t off = 0;
	unsigned line;

	s = get_str(c, tab, table, key, &line);
	if (!s)
		return -1;
	for (int i = 0; names[i]; i++)
		if (!strcmp(names[i], s))
			return i;
	list[0] = '\0';
	for (int i = 0; names[i] && off < sizeof(list); i++) {
		int n = snprintf(list + off, sizeof(list) - off, "%s\"%s\"",
				 i ? ", " : "", names[i]);

		if (n < 0)
			break;
		off += (size_t)n;
	}
	cfg_err(c, line, table, key, "invalid value \"%.64s\" (expected one of %s)", s, list);
	return -1;
}

static unsigned table_line(const struct toml_value *tab)
{
	return tab ? tab->line : 1;
}

static void missing(struct ctx *c, const struct toml_value *tab, const char *table,
		    const char *key)
{
	cfg_err(c, table_line(tab), table, key, "missing required key");
}

static char *dup_or_oom(struct ctx *c, const char *s, unsigned line, const char *table,
			const char *key)
{
	char *d = strdup(s);

	if (!d)
		cfg_err(c, line, table, key, "out of memory");
	return d;
}

/* `path` made absolute against the config's directory; NULL when empty. */
static char *resolve_path(struct ctx *c, const char *path, unsigned line,
			  const char *table, const char *key)
{
	char *r;

	if (!*path) {
		cfg_err(c, line, table, key, "must not be empty");
		return NULL;
	}
	if (path[0] == '/' || !c->dir)
		return dup_or_oom(c, path, line, table, key);
	if (asprintf(&r, "%s%s%s", c->dir,
		     c->dir[strlen(c->dir) - 1] == '/' ? "" : "/", path) < 0) {
		cfg_err(c, line, table, key, "out of memory");
		return NULL;
	}
	return r;
}

/* The file must be a readable regular file; stat first so that naming a
 * device (a watchdog, a tape) never opens it. */
static void check_file(struct ctx *c, const char *path, unsigned line,
		       const char *table, const char *key)
{
	struct stat st;
	int fd;

	if (stat(path, &st) < 0) {
		cfg_err(c, line, table, key, "%s: %s", path, strerror(errno));
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		cfg_err(c, line, table, key, "%s: not a regular file", path);
		return;
	}
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		cfg_err(c, line, table, key, "%s: %s", path, strerror(errno));
		return;
	}
	close(fd);
}

/* An existing, readable file named by `key`, resolved; NULL when absent. */
static char *get_file(struct ctx *c, const struct toml_value *tab, const char *table,
		      const char *key)
{
	unsigned line;
	const char *s = get_str(c, tab, table, key, &line);
	char *path;

	if (!s)
		return NULL;
	path = resolve_path(c, s, line, table, key);
	if (path)
		check_file(c, path, line, table, key);
	return path;
}

static bool name_char_ok(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
	       (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-';
}

static void load_vm(struct ctx *c, const struct toml_value *tab, struct vm_config *cfg)
{
	static const char *const known[] = {
		"name", "vcpus", "memory_mib", "shutdown_timeout", NULL
	};
	unsigned line;
	const char *name;
	int64_t i;

	check_keys(c, tab, "vm", known);

	if (!toml_get(tab, "name")) {
		missing(c, tab, "vm", "name");
	} else if ((name = get_str(c, tab, "vm", "name", &line))) {
		size_t len = strlen(name), bad;

		/* The name ends up in paths, the journal and the process title. */
		for (bad = 0; bad < len && name_char_ok(name[bad]); bad++)
			;
		if (!len || len > VM_NAME_MAX)
			cfg_err(c, line, "vm", "name", "must be 1 to %d characters, not %zu",
				VM_NAME_MAX, len);
		else if (bad < len)
			cfg_err(c, line, "vm", "name",
				"\"%.64s\" has a character other than A-Z a-z 0-9 _ . - at offset %zu",
				name, bad);
		else if (name[0] == '.' || name[0] == '-')
			cfg_err(c, line, "vm", "name", "must not start with '.' or '-'");
		else
			memcpy(cfg->name, name, len + 1);
	}
	if (get_int(c, tab, "vm", "vcpus", 1, VM_VCPUS_MAX, &i))
		cfg->vcpus = (unsigned)i;
	if (get_int(c, tab, "vm", "memory_mib", MEMORY_MIB_MIN, MEMORY_MIB_MAX, &i))
		cfg->memory_mib = (uint64_t)i;
	if (get_int(c, tab, "vm", "shutdown_timeout", 0, SHUTDOWN_TIMEOUT_MAX, &i))
		cfg->shutdown_timeout_s = (unsigned)i;
}

static void load_boot(struct ctx *c, const struct toml_value *tab, struct vm_config *cfg)
{
	static const char *const known[] = { "kernel", "initrd", "cmdline", NULL };
	const char *s;
	unsigned line;

	check_keys(c, tab, "boot", known);

	if (!toml_get(tab, "kernel"))
		missing(c, tab, "boot", "kernel");
	else
		cfg->kernel = get_file(c, tab, "boot", "kernel");
	cfg->initrd = get_file(c, tab, "boot", "initrd");

	s = get_str(c, tab, "boot", "cmdline", &line);
	if (s && strlen(s) >= VM_CMDLINE_MAX) {
		cfg_err(c, line, "boot", "cmdline", "is %zu bytes long; the limit is %d",
			strlen(s), VM_CMDLINE_MAX - 1);
	} else if (s) {
		char *d = dup_or_oom(c, s, line, "boot", "cmdline");

		if (d) {
			free(cfg->cmdline);
			cfg->cmdline = d;
		}
	}
}

static const char *const console_modes[] = {
	[CONSOLE_STDIO] = "stdio", [CONSOLE_FILE] = "file", [CONSOLE_OFF] = "off", NULL
};

static void load_console(struct ctx *c, const struct toml_value *tab, struct vm_config *cfg)
{
	static const char *const known[] = { "mode", "path", NULL };
	const struct toml_value *pv;
	const char *s;
	unsigned line;
	int mode;

	check_keys(c, tab, "console", known);

	mode = get_enum(c, tab, "console", "mode", console_modes);
	if (mode >= 0)
		cfg->console_mode = (enum console_mode)mode;
	else if (toml_get(tab, "mode"))
		return;		/* path rules make no sense with a bad mode */

	pv = toml_get(tab, "path");
	if (cfg->console_mode == CONSOLE_FILE && !pv) {
		cfg_err(c, table_line(tab), "console", "path",
			"missing required key (mode = \"file\" needs it)");
	} else if (cfg->console_mode != CONSOLE_FILE && pv) {
		cfg_err(c, pv->line, "console", "path", "only valid with mode = \"file\"");
	} else if (pv && (s = get_str(c, tab, "console", "path", &line))) {
		cfg->console_path = resolve_path(c, s, line, "console", "path");
	}
}

static const char *const cpu_templates[] = {
	[CPU_TEMPLATE_HOST] = "host", [CPU_TEMPLATE_BASELINE] = "baseline", NULL
};

static size_t common_prefix(const char *a, const char *b)
{
	size_t n = 0;

	while (a[n] && a[n] == b[n])
		n++;
	return n;
}

/* Names up to eight known features, those closest to the typo first. */
static void unknown_feature(struct ctx *c, unsigned line, const char *name)
{
	const char *const *names = arch_cpu_feature_names();
	size_t off = 0, best = 0, shown = 0, i;
	bool more = false;
	char list[200];

	for (i = 0; names && names[i]; i++)
		if (common_prefix(names[i], name) > best)
			best = common_prefix(names[i], name);
	if (best < 2)
		best = 0;
	list[0] = '\0';
	for (i = 0; names && names[i]; i++) {
		int n;

		if (common_prefix(names[i], name) < best)
			continue;
		if (shown == 8) {
			more = true;
			break;
		}
		n = snprintf(list + off, sizeof(list) - off, "%s%s", shown ? ", " : "", names[i]);
		if (n < 0 || (size_t)n >= sizeof(list) - off)
			break;
		off += (size_t)n;
		shown++;
	}
	cfg_err(c, line, "cpu", "hide", "unknown CPU feature \"%.64s\" (known names include: "
		"%s%s; see docs/config.md)", name, list, more ? ", ..." : "");
}

static void load_cpu(struct ctx *c, const struct toml_value *tab, struct vm_config *cfg)
{
	static const char *const known[] = { "template", "hide", NULL };
	const struct toml_value *hide;
	int t;

	check_keys(c, tab, "cpu", known);

	t = get_enum(c, tab, "cpu", "template", cpu_templates);
	if (t >= 0)
		cfg->cpu_template = (enum cpu_template)t;

	hide = toml_get(tab, "hide");
	if (!hide || !type_ok(c, hide, "cpu", TOML_ARRAY) || !toml_len(hide))
		return;
	cfg->cpu_hide = calloc(toml_len(hide), sizeof(*cfg->cpu_hide));
	if (!cfg->cpu_hide) {
		cfg_err(c, hide->line, "cpu", "hide", "out of memory");
		return;
	}
	for (size_t i = 0; i < toml_len(hide); i++) {
		const struct toml_value *v = toml_at(hide, i);
		const char *s;
		size_t k;

		if (v->kind != TOML_STRING) {
			cfg_err(c, v->line, "cpu", "hide", "item %zu: expected a string, got %s",
				i + 1, toml_kind_name(v->kind));
			continue;
		}
		s = v->u.str.ptr;
		if (strlen(s) != v->u.str.len) {
			cfg_err(c, v->line, "cpu", "hide", "item %zu: must not contain a NUL character",
				i + 1);
			continue;
		}
		if (!arch_cpu_feature_known(s)) {
			unknown_feature(c, v->line, s);
			continue;
		}
		for (k = 0; k < cfg->n_cpu_hide; k++)
			if (!strcmp(cfg->cpu_hide[k], s))
				break;
		if (k < cfg->n_cpu_hide) {
			cfg_err(c, v->line, "cpu", "hide", "\"%s\" is listed twice", s);
			continue;
		}
		cfg->cpu_hide[cfg->n_cpu_hide] = dup_or_oom(c, s, v->line, "cpu", "hide");
		if (cfg->cpu_hide[cfg->n_cpu_hide])
			cfg->n_cpu_hide++;
	}
}

static const char *const log_levels[] = {
	"error", "warning", "notice", "info", "debug", NULL
};

static const int log_level_values[] = {
	LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_NOTICE, LOG_LVL_INFO, LOG_LVL_DEBUG
};

static void load_log(struct ctx *c, const struct toml_value *tab, struct vm_config *cfg)
{
	static const char *const known[] = { "level", NULL };
	int l;

	check_keys(c, tab, "log", known);
	l = get_enum(c, tab, "log", "level", log_levels);
	if (l >= 0)
		cfg->log_level = log_level_values[l];
}

static const struct section {
	const char *name;
	void (*load)(struct ctx *c, const struct toml_value *tab, struct vm_config *cfg);
} sections[] = {
	{ "vm", load_vm },
	{ "boot", load_boot },
	{ "console", load_console },
	{ "cpu", load_cpu },
	{ "log", load_log },
};

#define NSECTIONS (sizeof(sections) / sizeof(sections[0]))

/* Planned tables: named in the error so that users know they are coming. */
static const char *const later[] = { "disk", "net", "fs", "rng", NULL };

/* Absolute directory of the config `name`, so that relative paths still work
 * after vmm changes directory. NULL when it cannot be found: paths then stay
 * relative to the current directory, which is where `name` is. */
static char *config_dir(const char *name)
{
	const char *slash = strrchr(name, '/');
	char *cwd, *dir;

	if (slash == name)
		return strdup("/");
	if (slash && name[0] == '/')
		return strndup(name, (size_t)(slash - name));
	cwd = getcwd(NULL, 0);
	if (!cwd || !slash)
		return cwd;
	if (asprintf(&dir, "%s/%.*s", cwd, (int)(slash - name), name) < 0)
		dir = NULL;
	free(cwd);
	return dir;
}

void config_free(struct vm_config *cfg)
{
	if (!cfg)
		return;
	free(cfg->source);
	free(cfg->kernel);
	free(cfg->initrd);
	free(cfg->cmdline);
	free(cfg->console_path);
	for (size_t i = 0; i < cfg->n_cpu_hide; i++)
		free(cfg->cpu_hide[i]);
	free(cfg->cpu_hide);
	memset(cfg, 0, sizeof(*cfg));
}

int config_parse(const char *name, const char *text, size_t len, struct vm_config *out)
{
	struct ctx c = { .src = name ? name : "<config>" };
	bool skip[NSECTIONS] = { false };
	struct toml_value *root;
	char err[512];

	memset(out, 0, sizeof(*out));
	root = toml_parse(c.src, text, len, err, sizeof(err));
	if (!root) {
		log_err("%s", err);
		return -1;
	}

	out->vcpus = 1;
	out->memory_mib = 256;
	out->shutdown_timeout_s = 30;
	out->console_mode = CONSOLE_STDIO;
	out->cpu_template = CPU_TEMPLATE_HOST;
	out->log_level = LOG_LVL_INFO;
	out->source = strdup(c.src);
	out->cmdline = strdup("");
	c.dir = config_dir(c.src);
	if (!out->source || !out->cmdline)
		cfg_err(&c, 1, "config", NULL, "out of memory");

	for (size_t i = 0; i < toml_len(root); i++) {
		const struct toml_value *v = toml_at(root, i);
		size_t k;

		for (k = 0; k < NSECTIONS; k++)
			if (!strcmp(sections[k].name, v->key))
				break;
		if (k < NSECTIONS) {
			if (v->kind != TOML_TABLE) {
				cfg_err(&c, v->line, v->key, NULL, "expected a table, got %s",
					toml_kind_name(v->kind));
				skip[k] = true;
			}
			continue;
		}
		for (k = 0; later[k]; k++)
			if (!strcmp(later[k], v->key))
				break;
		if (later[k])
			cfg_err(&c, v->line, v->key, NULL,
				"not supported yet (arrives in a later release)");
		else if (v->kind == TOML_TABLE || v->kind == TOML_ARRAY)
			cfg_err(&c, v->line, v->key, NULL, "unknown table");
		else
			cfg_err(&c, v->line, v->key, NULL, "unknown key");
	}
	for (size_t k = 0; k < NSECTIONS; k++)
		if (!skip[k])
			sections[k].load(&c, toml_get(root, sections[k].name), out);

	toml_free(root);
	free(c.dir);
	flush_errors(&c);
	if (c.errors) {
		config_free(out);
		return -1;
	}
	return 0;
}

int config_load(const char *path, struct vm_config *out)
{
	size_t len = 0, cap = 4096;
	char *buf = NULL, *nb;
	ssize_t n;
	int fd, rc = -1;

	memset(out, 0, sizeof(*out));
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		log_err("%s: cannot open config: %s", path, strerror(errno));
		return -1;
	}
	/* Read to EOF rather than trust st_size: the config may be a pipe. */
	for (;;) {
		if (!buf || len == cap) {
			cap = buf ? cap * 2 : cap;
			nb = realloc(buf, cap);
			if (!nb) {
				log_err("%s: cannot read config: %s", path, strerror(ENOMEM));
				goto out;
			}
			buf = nb;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_err("%s: cannot read config: %s", path, strerror(errno));
			goto out;
		}
		if (!n)
			break;
		len += (size_t)n;
		if (len > CONFIG_MAX_SIZE) {
			log_err("%s: config larger than %d bytes; wrong file?", path,
				CONFIG_MAX_SIZE);
			goto out;
		}
	}
	rc = config_parse(path, buf, len, out);
out:
	free(buf);
	close(fd);
	return rc;
}

/* TOML basic string, so that the dump can be read back as a config. */
static void print_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch == '"' || ch == '\\')
			fprintf(f, "\\%c", ch);
		else if (ch < 0x20 || ch == 0x7f)
			fprintf(f, "\\u%04x", ch);
		else
			fputc(ch, f);
	}
	fputc('"', f);
}

static const char *log_level_name(int level)
{
	for (size_t i = 0; log_levels[i]; i++)
		if (log_level_values[i] == level)
			return log_levels[i];
	return "info";
}

void config_print(const struct vm_config *cfg, FILE *f)
{
	fputs("# ", f);
	for (const char *p = cfg->source ? cfg->source : "config"; *p; p++)
		fputc((unsigned char)*p < 0x20 || *p == 0x7f ? '?' : *p, f);
	fputs(": validated, defaults filled in\n", f);
	fprintf(f, "[vm]\nname = ");
	print_str(f, cfg->name);
	fprintf(f, "\nvcpus = %u\nmemory_mib = %llu\nshutdown_timeout = %u\n",
		cfg->vcpus, (unsigned long long)cfg->memory_mib, cfg->shutdown_timeout_s);

	fprintf(f, "\n[boot]\nkernel = ");
	print_str(f, cfg->kernel ? cfg->kernel : "");
	if (cfg->initrd) {
		fprintf(f, "\ninitrd = ");
		print_str(f, cfg->initrd);
	} else {
		fprintf(f, "\n# no initrd");
	}
	fprintf(f, "\ncmdline = ");
	print_str(f, cfg->cmdline ? cfg->cmdline : "");

	fprintf(f, "\n\n[console]\nmode = \"%s\"\n",
		(unsigned)cfg->console_mode <= CONSOLE_OFF ? console_modes[cfg->console_mode] : "?");
	if (cfg->console_path) {
		fprintf(f, "path = ");
		print_str(f, cfg->console_path);
		fputc('\n', f);
	}

	fprintf(f, "\n[cpu]\ntemplate = \"%s\"\nhide = [",
		(unsigned)cfg->cpu_template <= CPU_TEMPLATE_BASELINE ?
		cpu_templates[cfg->cpu_template] : "?");
	for (size_t i = 0; i < cfg->n_cpu_hide; i++) {
		fputs(i ? ", " : "", f);
		print_str(f, cfg->cpu_hide[i]);
	}
	fprintf(f, "]\n\n[log]\nlevel = \"%s\"\n", log_level_name(cfg->log_level));
}
