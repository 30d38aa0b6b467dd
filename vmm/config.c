/* The config loader: TOML tree -> struct vm_config, checking every key, type,
 * range and file up front so that nothing later has to. Here: reading the
 * file, dispatching tables to the section loaders (config_*.c), the key
 * helpers they share, config_free. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config-internal.h"
#include "log.h"
#include "toml.h"

/* A config is a few hundred bytes; this only stops a wrong path (a disk
 * image, /dev/zero) from being slurped. */
#define CONFIG_MAX_SIZE (1 << 20)

struct msg {
	unsigned line;
	unsigned seq;
	char *text;
};

void cfg_err(struct ctx *c, unsigned line, const char *table, const char *key,
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

bool cfg_type_ok(struct ctx *c, const struct toml_value *v, const char *table,
		 enum toml_kind kind)
{
	if (v->kind == kind)
		return true;
	cfg_err(c, v->line, table, v->key, "expected %s, got %s",
		toml_kind_name(kind), toml_kind_name(v->kind));
	return false;
}

/* Reports every key of `tab` not in `known`. */
void cfg_check_keys(struct ctx *c, const struct toml_value *tab, const char *table,
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

bool cfg_get_int(struct ctx *c, const struct toml_value *tab, const char *table,
		 const char *key, int64_t min, int64_t max, int64_t *out)
{
	const struct toml_value *v = toml_get(tab, key);

	if (!v || !cfg_type_ok(c, v, table, TOML_INTEGER))
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
const char *cfg_get_str(struct ctx *c, const struct toml_value *tab,
			const char *table, const char *key, unsigned *line)
{
	const struct toml_value *v = toml_get(tab, key);

	if (!v || !cfg_type_ok(c, v, table, TOML_STRING))
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
int cfg_get_enum(struct ctx *c, const struct toml_value *tab, const char *table,
		 const char *key, const char *const *names)
{
	char list[256];
	const char *s;
	size_t off = 0;
	unsigned line;

	s = cfg_get_str(c, tab, table, key, &line);
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

unsigned cfg_table_line(const struct toml_value *tab)
{
	return tab ? tab->line : 1;
}

void cfg_missing(struct ctx *c, const struct toml_value *tab, const char *table,
		 const char *key)
{
	cfg_err(c, cfg_table_line(tab), table, key, "missing required key");
}

char *cfg_dup(struct ctx *c, const char *s, unsigned line, const char *table,
	      const char *key)
{
	char *d = strdup(s);

	if (!d)
		cfg_err(c, line, table, key, "out of memory");
	return d;
}

/* `path` made absolute against the config's directory; NULL when empty. */
char *cfg_resolve_path(struct ctx *c, const char *path, unsigned line,
		       const char *table, const char *key)
{
	char *r;

	if (!*path) {
		cfg_err(c, line, table, key, "must not be empty");
		return NULL;
	}
	if (path[0] == '/' || !c->dir)
		return cfg_dup(c, path, line, table, key);
	if (asprintf(&r, "%s%s%s", c->dir,
		     c->dir[strlen(c->dir) - 1] == '/' ? "" : "/", path) < 0) {
		cfg_err(c, line, table, key, "out of memory");
		return NULL;
	}
	return r;
}

/* The file must be a readable regular file; stat first so that naming a
 * device (a watchdog, a tape) never opens it. */
void cfg_check_file(struct ctx *c, const char *path, unsigned line,
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
char *cfg_get_file(struct ctx *c, const struct toml_value *tab, const char *table,
		   const char *key)
{
	unsigned line;
	const char *s = cfg_get_str(c, tab, table, key, &line);
	char *path;

	if (!s)
		return NULL;
	path = cfg_resolve_path(c, s, line, table, key);
	if (path)
		cfg_check_file(c, path, line, table, key);
	return path;
}

bool cfg_name_char_ok(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
	       (ch >= '0' && ch <= '9') || ch == '_' || ch == '.' || ch == '-';
}

bool cfg_get_bool(struct ctx *c, const struct toml_value *tab, const char *table,
		  const char *key, bool *out)
{
	const struct toml_value *v = toml_get(tab, key);

	if (!v || !cfg_type_ok(c, v, table, TOML_BOOLEAN))
		return false;
	*out = v->u.boolean;
	return true;
}

#define USER_NAME_MAX 32

/* A string naming a user or group: a name from the usual character set or a
 * numeric id. Resolved where it is used: by netsetup for a TAP's owner and
 * group (on the host where the TAP is made), by vmm at start for [vm]. */
char *cfg_get_user(struct ctx *c, const struct toml_value *tab, const char *table,
		   const char *key)
{
	unsigned line;
	const char *s = cfg_get_str(c, tab, table, key, &line);
	size_t len;

	if (!s)
		return NULL;
	len = strlen(s);
	if (!len || len > USER_NAME_MAX) {
		cfg_err(c, line, table, key, "must be 1 to %d characters, not %zu",
			USER_NAME_MAX, len);
		return NULL;
	}
	for (size_t i = 0; i < len; i++) {
		if (!cfg_name_char_ok(s[i]) || s[i] == '.') {
			cfg_err(c, line, table, key,
				"\"%s\" is not a user/group name or numeric id", s);
			return NULL;
		}
	}
	return cfg_dup(c, s, line, table, key);
}

int config_check_startable(const struct vm_config *cfg)
{
	(void)cfg;	/* [[net]] runs since virtio-net exists */
	return 0;
}

static const struct section {
	const char *name;
	void (*load)(struct ctx *c, const struct toml_value *tab, struct vm_config *cfg);
} sections[] = {
	{ "vm", cfg_load_vm },
	{ "boot", cfg_load_boot },
	{ "console", cfg_load_console },
	{ "cpu", cfg_load_cpu },
	{ "log", cfg_load_log },
	{ "rng", cfg_load_rng },
	{ "vsock", cfg_load_vsock },
	{ "balloon", cfg_load_balloon },
};

#define NSECTIONS (sizeof(sections) / sizeof(sections[0]))

/* Every table the loader accepts, with its keys, in docs/config.md's order. */
static const struct known_table {
	const char *name;
	const char *const *keys;
} known_tables[] = {
	{ "vm", cfg_vm_keys },
	{ "boot", cfg_boot_keys },
	{ "console", cfg_console_keys },
	{ "cpu", cfg_cpu_keys },
	{ "log", cfg_log_keys },
	{ "net", cfg_net_keys },
	{ "disk", cfg_disk_keys },
	{ "rng", cfg_rng_keys },
	{ "fs", cfg_fs_keys },
	{ "vsock", cfg_vsock_keys },
	{ "balloon", cfg_balloon_keys },
};

#define NKNOWN (sizeof(known_tables) / sizeof(known_tables[0]))

const char *config_known_table(size_t i)
{
	return i < NKNOWN ? known_tables[i].name : NULL;
}

const char *const *config_known_keys(const char *table)
{
	for (size_t i = 0; i < NKNOWN; i++)
		if (!strcmp(known_tables[i].name, table))
			return known_tables[i].keys;
	return NULL;
}

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
	free(cfg->control_socket);
	free(cfg->user);
	free(cfg->group);
	free(cfg->kernel);
	free(cfg->initrd);
	free(cfg->cmdline);
	free(cfg->console_path);
	free(cfg->vsock_socket);
	for (size_t i = 0; i < cfg->n_cpu_hide; i++)
		free(cfg->cpu_hide[i]);
	free(cfg->cpu_hide);
	for (size_t i = 0; i < cfg->n_disk; i++) {
		free(cfg->disk[i].path);
		free(cfg->disk[i].label);
		free(cfg->disk[i].mkfs);
	}
	free(cfg->disk);
	for (size_t i = 0; i < cfg->n_net; i++) {
		free(cfg->net[i].uplink);
		free(cfg->net[i].owner);
		free(cfg->net[i].group);
		free(cfg->net[i].forward);
		free(cfg->net[i].passt);
		free(cfg->net[i].forward_address);
	}
	free(cfg->net);
	for (size_t i = 0; i < cfg->n_fs; i++) {
		free(cfg->fs[i].source);
		free(cfg->fs[i].socket);
		free(cfg->fs[i].virtiofsd);
	}
	free(cfg->fs);
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
	out->seccomp = true;
	out->ready = READY_STARTED;
	out->ready_port = READY_PORT_DEFAULT;
	out->ready_timeout_s = READY_TIMEOUT_DEFAULT_S;
	out->huge_pages = true;	/* as QEMU's RAM; docs/config.md */
	out->console_mode = CONSOLE_STDIO;
	out->console_max_size_mib = CONSOLE_MAX_SIZE_MIB_DEFAULT;
	out->cpu_template = CPU_TEMPLATE_HOST;
	out->log_level = LOG_LVL_INFO;
	out->rng_enabled = true;
	out->balloon_deflate_on_oom = true;
	out->balloon_reporting = true;
	out->balloon_stats_interval_s = 5;
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
		if (!strcmp(v->key, "disk")) {
			cfg_load_disks(&c, v, out);
			continue;
		}
		if (k < NSECTIONS) {
			if (v->kind != TOML_TABLE) {
				cfg_err(&c, v->line, v->key, NULL, "expected a table, got %s",
					toml_kind_name(v->kind));
				skip[k] = true;
			}
			continue;
		}
		if (config_known_keys(v->key))
			continue;	/* [[net]] and [[fs]]: loaded below, net once [vm] name is known */
		if (v->kind == TOML_TABLE || v->kind == TOML_ARRAY)
			cfg_err(&c, v->line, v->key, NULL, "unknown table");
		else
			cfg_err(&c, v->line, v->key, NULL, "unknown key");
	}
	for (size_t k = 0; k < NSECTIONS; k++)
		if (!skip[k])
			sections[k].load(&c, toml_get(root, sections[k].name), out);
	cfg_load_net(&c, toml_get(root, "net"), out);
	cfg_load_fs(&c, toml_get(root, "fs"), out);
	cfg_check_slots(&c, out);
	cfg_check_ready(&c, out);
	cfg_check_balloon(&c, out);
	cfg_check_merge_pages(&c, out);

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
