/* The config loader: TOML tree -> struct vm_config, checking every key, type,
 * range and file up front so that nothing later has to. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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

static char *get_user(struct ctx *c, const struct toml_value *tab, const char *table,
		      const char *key);

#define CONTROL_PATH_MAX 107	/* sizeof(sockaddr_un.sun_path) - 1 */

int config_runtime_dir(char *buf, size_t len)
{
	const char *env = getenv("VMM_RUNTIME_DIR"), *xdg = getenv("XDG_RUNTIME_DIR");
	int n;

	if (env && *env)
		n = snprintf(buf, len, "%s", env);
	else if (geteuid() == 0)
		n = snprintf(buf, len, "/run/vmm");
	else if (xdg && xdg[0] == '/')
		n = snprintf(buf, len, "%s/vmm", xdg);
	else
		return -ENOENT;
	return n < 0 || (size_t)n >= len ? -ENOENT : 0;
}

/* [vm] control_socket, user, group: how the running VM is operated. */
static void load_vm_ops(struct ctx *c, const struct toml_value *tab, struct vm_config *cfg)
{
	char dir[PATH_MAX];
	unsigned line = table_line(tab);
	const char *s;

	cfg->user = get_user(c, tab, "vm", "user");
	cfg->group = get_user(c, tab, "vm", "group");
	if (toml_get(tab, "control_socket")) {
		s = get_str(c, tab, "vm", "control_socket", &line);
		if (s && *s)
			cfg->control_socket = resolve_path(c, s, line, "vm", "control_socket");
	} else if ((cfg->control_socket_default = true) && cfg->name[0] &&
		   config_runtime_dir(dir, sizeof(dir)) == 0) {
		/* Without a runtime directory there is no default socket. */
		if (asprintf(&cfg->control_socket, "%s/%s.sock", dir, cfg->name) < 0) {
			cfg->control_socket = NULL;
			cfg_err(c, line, "vm", "control_socket", "out of memory");
		}
	}
	if (cfg->control_socket && strlen(cfg->control_socket) > CONTROL_PATH_MAX) {
		if (!cfg->control_socket_default)
			cfg_err(c, line, "vm", "control_socket", "%s is %zu bytes long; a unix "
				"socket's path can have at most %d", cfg->control_socket,
				strlen(cfg->control_socket), CONTROL_PATH_MAX);
		/* A default that cannot be: no socket, as without a RUNDIR. */
		free(cfg->control_socket);
		cfg->control_socket = NULL;
	}
}

static bool get_bool(struct ctx *c, const struct toml_value *tab, const char *table,
		     const char *key, bool *out);

static const char *const ready_marks[] = {
	[READY_STARTED] = "started", [READY_USERSPACE] = "userspace", NULL
};

static void load_vm(struct ctx *c, const struct toml_value *tab, struct vm_config *cfg)
{
	static const char *const known[] = {
		"name", "vcpus", "memory_mib", "shutdown_timeout", "control_socket",
		"user", "group", "seccomp", "ready", "huge_pages", NULL
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
	get_bool(c, tab, "vm", "seccomp", &cfg->seccomp);
	get_bool(c, tab, "vm", "huge_pages", &cfg->huge_pages);
	if ((i = get_enum(c, tab, "vm", "ready", ready_marks)) >= 0)
		cfg->ready = (enum ready_mark)i;
	load_vm_ops(c, tab, cfg);
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

static bool get_bool(struct ctx *c, const struct toml_value *tab, const char *table,
		     const char *key, bool *out)
{
	const struct toml_value *v = toml_get(tab, key);

	if (!v || !type_ok(c, v, table, TOML_BOOLEAN))
		return false;
	*out = v->u.boolean;
	return true;
}

static void load_rng(struct ctx *c, const struct toml_value *tab, struct vm_config *cfg)
{
	static const char *const known[] = { "enabled", NULL };

	check_keys(c, tab, "rng", known);
	get_bool(c, tab, "rng", "enabled", &cfg->rng_enabled);
}

#define DISK_SIZE_MIB_MAX (1ULL << 30)	/* 1 PiB */

static void load_disk(struct ctx *c, const struct toml_value *tab, struct disk_config *d)
{
	static const char *const known[] = {
		"path", "read_only", "serial", "size_mib", "direct", NULL
	};
	const char *s;
	unsigned line;
	int64_t i;

	d->line = tab->line;
	check_keys(c, tab, "disk", known);
	get_bool(c, tab, "disk", "read_only", &d->read_only);
	get_bool(c, tab, "disk", "direct", &d->direct);
	if (get_int(c, tab, "disk", "size_mib", 1, (int64_t)DISK_SIZE_MIB_MAX, &i))
		d->size_mib = (uint64_t)i;
	if ((s = get_str(c, tab, "disk", "serial", &line))) {
		size_t n = strlen(s);

		if (n > DISK_SERIAL_MAX)
			cfg_err(c, line, "disk", "serial", "is %zu bytes long; the limit is %d",
				n, DISK_SERIAL_MAX);
		else
			for (size_t k = 0; k <= n; k++)
				d->serial[k] = (k < n && (s[k] < 0x20 || s[k] == 0x7f)) ? '?' : s[k];
	}
	if (!toml_get(tab, "path")) {
		missing(c, tab, "disk", "path");
		return;
	}
	if (!(s = get_str(c, tab, "disk", "path", &line)))
		return;
	d->path = resolve_path(c, s, line, "disk", "path");
	if (!d->path)
		return;
	if (d->size_mib && d->read_only)
		cfg_err(c, line, "disk", "size_mib",
			"cannot create an image for a read-only disk");
	else if (d->size_mib && access(d->path, F_OK) < 0 && errno == ENOENT)
		return;		/* created at start */
	else
		check_file(c, d->path, line, "disk", "path");
}

static void load_disks(struct ctx *c, const struct toml_value *arr, struct vm_config *cfg)
{
	size_t n = toml_len(arr);

	if (arr->kind != TOML_ARRAY) {
		cfg_err(c, arr->line, "disk", NULL, "expected an array of tables ([[disk]]), got %s",
			toml_kind_name(arr->kind));
		return;
	}
	if (n > VM_DISKS_MAX) {
		cfg_err(c, arr->line, "disk", NULL, "%zu disks; the limit is %d", n, VM_DISKS_MAX);
		return;
	}
	cfg->disks = calloc(n ? n : 1, sizeof(*cfg->disks));
	if (!cfg->disks) {
		cfg_err(c, arr->line, "disk", NULL, "out of memory");
		return;
	}
	for (size_t i = 0; i < n; i++) {
		const struct toml_value *t = toml_at(arr, i);

		if (t->kind != TOML_TABLE) {
			cfg_err(c, t->line, "disk", NULL, "item %zu: expected a table, got %s",
				i + 1, toml_kind_name(t->kind));
			continue;
		}
		load_disk(c, t, &cfg->disks[cfg->ndisks++]);
	}
	/* Two disks on one image would corrupt it (and the lock would stop
	 * the second anyway, with a less helpful message). */
	for (size_t i = 0; i < cfg->ndisks; i++) {
		for (size_t k = 0; k < i; k++) {
			const char *a = cfg->disks[i].path, *b = cfg->disks[k].path;
			struct stat sa, sb;

			if (!a || !b)
				continue;
			if (!strcmp(a, b) || (stat(a, &sa) == 0 && stat(b, &sb) == 0 &&
					       sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino)) {
				cfg_err(c, cfg->disks[i].line, "disk", "path",
					"%s is already the image of the disk on line %u",
					a, cfg->disks[k].line);
				break;
			}
		}
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

/* ---- [[net]]: the VM's TAP on the vmm side, its host network for netsetup ---- */

int config_parse_ipv4(const char *s, uint32_t *addr)
{
	struct in_addr a;

	/* inet_pton takes only the dotted quad: no "10.1", no octal "010". */
	if (inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*addr = ntohl(a.s_addr);
	return 0;
}

int config_parse_cidr(const char *s, uint32_t *addr, unsigned *prefix)
{
	const char *slash = strchr(s, '/');
	char ip[INET_ADDRSTRLEN];
	unsigned p = 0;
	size_t i;

	if (!slash || (size_t)(slash - s) >= sizeof(ip))
		return -EINVAL;
	memcpy(ip, s, (size_t)(slash - s));
	ip[slash - s] = '\0';
	if (config_parse_ipv4(ip, addr) < 0)
		return -EINVAL;
	for (i = 1; slash[i]; i++) {
		if (slash[i] < '0' || slash[i] > '9' || i > 2)
			return -EINVAL;
		p = p * 10 + (unsigned)(slash[i] - '0');
	}
	if (i == 1 || p > 32 || (slash[1] == '0' && slash[2]))
		return -EINVAL;
	*prefix = p;
	return 0;
}

uint32_t config_prefix_mask(unsigned prefix)
{
	return prefix ? ~(uint32_t)0 << (32 - (prefix > 32 ? 32 : prefix)) : 0;
}

void config_format_ipv4(uint32_t addr, char buf[16])
{
	snprintf(buf, 16, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 0xff,
		 (addr >> 8) & 0xff, addr & 0xff);
}

#define NET_PREFIX_MIN 8
#define NET_PREFIX_MAX 30	/* a /31 has no room for gateway and guest */
#define NET_USER_MAX 32

/* Interface names end up in netlink requests and nft rule text: keep them
 * to characters that need no quoting anywhere. */
static bool ifname_ok(struct ctx *c, const char *s, unsigned line, const char *table,
		      const char *key)
{
	size_t len = strlen(s);

	if (!len || len > VM_IFNAME_MAX) {
		cfg_err(c, line, table, key, "must be 1 to %d characters, not %zu",
			VM_IFNAME_MAX, len);
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		if (!name_char_ok(s[i])) {
			cfg_err(c, line, table, key,
				"\"%s\" has a character other than A-Z a-z 0-9 _ . - at offset %zu",
				s, i);
			return false;
		}
	}
	if (s[0] == '.' || s[0] == '-') {
		cfg_err(c, line, table, key, "must not start with '.' or '-'");
		return false;
	}
	return true;
}

/* Copies the interface name at `key` into `dst`; false when absent or bad. */
static bool get_ifname(struct ctx *c, const struct toml_value *tab, const char *table,
		       const char *key, char dst[VM_IFNAME_MAX + 1])
{
	unsigned line;
	const char *s = get_str(c, tab, table, key, &line);

	if (!s || !ifname_ok(c, s, line, table, key))
		return false;
	memcpy(dst, s, strlen(s) + 1);
	return true;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++) {
		unsigned v = 0;

		for (int k = 0; k < 2; k++) {
			char ch = s[i * 3 + k];

			if (ch >= '0' && ch <= '9')
				v = v * 16 + (unsigned)(ch - '0');
			else if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f')
				v = v * 16 + (unsigned)((ch | 0x20) - 'a' + 10);
			else
				return -EINVAL;
		}
		if (s[i * 3 + 2] != (i == 5 ? '\0' : ':'))
			return -EINVAL;
		mac[i] = (uint8_t)v;
	}
	return 0;
}

/* Stable across restarts and hosts, so that the guest's view of its NIC (and
 * any DHCP lease or neighbour cache keyed on it) does not change: FNV-1a of
 * the VM name and the entry's index, with the locally administered bit set
 * and the multicast bit clear. */
static void derive_mac(const char *name, size_t index, uint8_t mac[6])
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (const char *p = name; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
	h = (h ^ 0xff) * 0x100000001b3ull;	/* separator: "a" + 11 != "a1" + 1 */
	h = (h ^ (index & 0xff)) * 0x100000001b3ull;
	mac[0] = 0x02;
	for (int i = 1; i < 6; i++)
		mac[i] = (uint8_t)(h >> (8 * (i - 1)));
}

/* A string naming a user or group: a name from the usual character set or a
 * numeric id. Resolved by netsetup, on the host where the TAP is made. */
static char *get_user(struct ctx *c, const struct toml_value *tab, const char *table,
		      const char *key)
{
	unsigned line;
	const char *s = get_str(c, tab, table, key, &line);
	size_t len;

	if (!s)
		return NULL;
	len = strlen(s);
	if (!len || len > NET_USER_MAX) {
		cfg_err(c, line, table, key, "must be 1 to %d characters, not %zu",
			NET_USER_MAX, len);
		return NULL;
	}
	for (size_t i = 0; i < len; i++) {
		if (!name_char_ok(s[i]) || s[i] == '.') {
			cfg_err(c, line, table, key,
				"\"%s\" is not a user/group name or numeric id", s);
			return NULL;
		}
	}
	return dup_or_oom(c, s, line, table, key);
}

/* The address at `key` (default `def`) must be a usable host of the subnet. */
static void get_host_addr(struct ctx *c, const struct toml_value *tab, const char *table,
			  const char *key, struct net_config *n, uint32_t def, uint32_t *out)
{
	uint32_t mask = config_prefix_mask(n->prefix), a;
	char net[16];
	unsigned line;
	const char *s;

	*out = def;
	if (!toml_get(tab, key))
		return;
	s = get_str(c, tab, table, key, &line);
	if (!s)
		return;
	if (config_parse_ipv4(s, &a) < 0) {
		cfg_err(c, line, table, key, "\"%.64s\" is not an IPv4 address (a.b.c.d)", s);
		return;
	}
	config_format_ipv4(n->subnet, net);
	if ((a & mask) != n->subnet)
		cfg_err(c, line, table, key, "%s is outside the subnet %s/%u", s, net, n->prefix);
	else if (a == n->subnet || a == (n->subnet | ~mask))
		cfg_err(c, line, table, key,
			"%s is the %s address of %s/%u, not a usable host address", s,
			a == n->subnet ? "network" : "broadcast", net, n->prefix);
	else
		*out = a;
}

static void load_forward(struct ctx *c, const struct toml_value *fw, const char *table,
			 struct net_config *n)
{
	if (!type_ok(c, fw, table, TOML_ARRAY) || !toml_len(fw))
		return;
	if (toml_len(fw) > VM_FORWARD_MAX) {
		cfg_err(c, fw->line, table, "forward", "has %zu items; the limit is %d",
			toml_len(fw), VM_FORWARD_MAX);
		return;
	}
	n->forward = calloc(toml_len(fw), sizeof(*n->forward));
	if (!n->forward) {
		cfg_err(c, fw->line, table, "forward", "out of memory");
		return;
	}
	for (size_t i = 0; i < toml_len(fw); i++) {
		const struct toml_value *v = toml_at(fw, i);
		struct net_forward f = { .proto = NET_PROTO_TCP, .line = v->line };
		unsigned long hp, gp;
		const char *s;
		char *end;
		size_t k;

		if (v->kind != TOML_STRING) {
			cfg_err(c, v->line, table, "forward", "item %zu: expected a string, got %s",
				i + 1, toml_kind_name(v->kind));
			continue;
		}
		s = v->u.str.ptr;
		/* "HOST:GUEST" or "HOST:GUEST/udp"; strtoul alone would take
		 * signs and spaces. */
		errno = 0;
		hp = s[0] >= '0' && s[0] <= '9' ? strtoul(s, &end, 10) : 0;
		if (hp && *end == ':' && end[1] >= '0' && end[1] <= '9') {
			gp = strtoul(end + 1, &end, 10);
			if (!strcmp(end, "/udp"))
				f.proto = NET_PROTO_UDP;
			else if (*end && strcmp(end, "/tcp"))
				gp = 0;
		} else {
			gp = 0;
		}
		if (strlen(s) != v->u.str.len || errno || !hp || !gp || hp > 65535 || gp > 65535) {
			cfg_err(c, v->line, table, "forward",
				"item %zu: \"%.64s\" is not HOST_PORT:GUEST_PORT[/tcp|/udp] "
				"with ports 1 to 65535", i + 1, s);
			continue;
		}
		f.host_port = (uint16_t)hp;
		f.guest_port = (uint16_t)gp;
		for (k = 0; k < n->n_forward; k++)
			if (n->forward[k].host_port == f.host_port && n->forward[k].proto == f.proto)
				break;
		if (k < n->n_forward) {
			cfg_err(c, v->line, table, "forward", "item %zu: host port %u/%s is "
				"forwarded twice", i + 1, f.host_port,
				f.proto == NET_PROTO_UDP ? "udp" : "tcp");
			continue;
		}
		n->forward[n->n_forward++] = f;
	}
}

static void load_net_entry(struct ctx *c, const struct toml_value *tab, size_t index,
			   struct vm_config *cfg)
{
	static const char *const known[] = {
		"tap", "mac", "tap_fd", "bridge", "subnet", "gateway", "guest_ip",
		"uplink", "owner", "group", "forward", NULL
	};
	/* Keys that describe the host network: meaningless without a subnet. */
	static const char *const need_subnet[] = {
		"bridge", "gateway", "guest_ip", "uplink", "forward", NULL
	};
	struct net_config *n = &cfg->net[index];
	const struct toml_value *v;
	char table[32];
	unsigned line;
	const char *s;
	int64_t fd;

	snprintf(table, sizeof(table), "net[%zu]", index);
	n->line = tab->line;
	n->tap_fd = -1;
	check_keys(c, tab, table, known);

	/* 0-2 are stdio, never a TAP. */
	if (get_int(c, tab, table, "tap_fd", 3, INT32_MAX, &fd))
		n->tap_fd = (int)fd;
	if (toml_get(tab, "tap"))
		get_ifname(c, tab, table, "tap", n->tap);
	else if (!toml_get(tab, "tap_fd"))
		cfg_err(c, tab->line, table, "tap", "missing required key (or give tap_fd)");

	if ((s = get_str(c, tab, table, "mac", &line))) {
		if (parse_mac(s, n->mac) < 0)
			cfg_err(c, line, table, "mac", "\"%.64s\" is not a MAC address "
				"(xx:xx:xx:xx:xx:xx)", s);
		else if (n->mac[0] & 1)
			cfg_err(c, line, table, "mac", "%s is a multicast address; the "
				"first byte must be even (02:... is the usual choice)", s);
		else if (!(n->mac[0] | n->mac[1] | n->mac[2] | n->mac[3] | n->mac[4] | n->mac[5]))
			cfg_err(c, line, table, "mac", "must not be all zeros");
		else
			n->mac_given = true;
	}
	if (!n->mac_given)
		derive_mac(cfg->name, index, n->mac);

	n->owner = get_user(c, tab, table, "owner");
	n->group = get_user(c, tab, table, "group");

	if (!toml_get(tab, "subnet")) {
		for (size_t k = 0; need_subnet[k]; k++)
			if ((v = toml_get(tab, need_subnet[k])))
				cfg_err(c, v->line, table, need_subnet[k],
					"needs `subnet` (the host network it belongs to)");
		return;
	}
	if ((s = get_str(c, tab, table, "subnet", &line))) {
		uint32_t mask;
		char net[16];

		if (config_parse_cidr(s, &n->subnet, &n->prefix) < 0) {
			cfg_err(c, line, table, "subnet", "\"%.64s\" is not an IPv4 subnet "
				"(a.b.c.d/prefix, e.g. \"10.1.0.0/24\")", s);
			return;
		}
		if (n->prefix < NET_PREFIX_MIN || n->prefix > NET_PREFIX_MAX) {
			cfg_err(c, line, table, "subnet", "prefix /%u is out of range (/%d to /%d)",
				n->prefix, NET_PREFIX_MIN, NET_PREFIX_MAX);
			return;
		}
		mask = config_prefix_mask(n->prefix);
		if (n->subnet & ~mask) {
			config_format_ipv4(n->subnet & mask, net);
			cfg_err(c, line, table, "subnet", "%s has host bits set (the network "
				"is %s/%u)", s, net, n->prefix);
			return;
		}
	} else {
		return;
	}
	if (!toml_get(tab, "bridge"))
		cfg_err(c, tab->line, table, "bridge", "missing required key (`subnet` needs it)");
	else if (!get_ifname(c, tab, table, "bridge", n->bridge))
		return;
	get_host_addr(c, tab, table, "gateway", n, n->subnet + 1, &n->gateway);
	get_host_addr(c, tab, table, "guest_ip", n, n->subnet + 2, &n->guest_ip);
	if (n->gateway == n->guest_ip) {
		char a[16];

		config_format_ipv4(n->gateway, a);
		v = toml_get(tab, "guest_ip") ? toml_get(tab, "guest_ip") : toml_get(tab, "gateway");
		cfg_err(c, v ? v->line : tab->line, table, v ? v->key : "guest_ip",
			"gateway and guest_ip are both %s", a);
	}
	n->has_subnet = true;
	if (toml_get(tab, "uplink")) {
		char name[VM_IFNAME_MAX + 1];

		if (get_ifname(c, tab, table, "uplink", name))
			n->uplink = dup_or_oom(c, name, toml_get(tab, "uplink")->line, table,
					       "uplink");
	}
	if ((v = toml_get(tab, "forward")))
		load_forward(c, v, table, n);
}

/* Checks between entries: each names its own TAP, bridge and subnet. */
static void check_net_entries(struct ctx *c, struct vm_config *cfg)
{
	for (size_t i = 0; i < cfg->n_net; i++) {
		struct net_config *a = &cfg->net[i];
		char table[32];

		snprintf(table, sizeof(table), "net[%zu]", i);
		for (size_t k = 0; k < i; k++) {
			struct net_config *b = &cfg->net[k];
			uint32_t mask;

			if (a->tap[0] && (!strcmp(a->tap, b->tap) || !strcmp(a->tap, b->bridge)))
				cfg_err(c, a->line, table, "tap", "\"%s\" is also used by net[%zu]",
					a->tap, k);
			if (a->bridge[0] && (!strcmp(a->bridge, b->bridge) ||
					     !strcmp(a->bridge, b->tap)))
				cfg_err(c, a->line, table, "bridge",
					"\"%s\" is also used by net[%zu]", a->bridge, k);
			if (a->mac_given && b->mac_given && !memcmp(a->mac, b->mac, 6))
				cfg_err(c, a->line, table, "mac", "is also net[%zu]'s", k);
			if (!a->has_subnet || !b->has_subnet)
				continue;
			mask = config_prefix_mask(a->prefix < b->prefix ? a->prefix : b->prefix);
			if ((a->subnet & mask) == (b->subnet & mask))
				cfg_err(c, a->line, table, "subnet", "overlaps net[%zu]'s subnet", k);
			for (size_t x = 0; x < a->n_forward; x++)
				for (size_t y = 0; y < b->n_forward; y++)
					if (a->forward[x].host_port == b->forward[y].host_port &&
					    a->forward[x].proto == b->forward[y].proto)
						cfg_err(c, a->forward[x].line, table, "forward",
							"host port %u is also forwarded by net[%zu]",
							a->forward[x].host_port, k);
		}
		if (a->tap[0] && !strcmp(a->tap, a->bridge))
			cfg_err(c, a->line, table, "bridge", "must differ from tap");
	}
}

static void load_net(struct ctx *c, const struct toml_value *arr, struct vm_config *cfg)
{
	char *cmdline;

	if (!arr)
		return;
	if (arr->kind != TOML_ARRAY) {
		cfg_err(c, arr->line, "net", NULL, "expected an array of tables ([[net]]), got %s",
			toml_kind_name(arr->kind));
		return;
	}
	if (toml_len(arr) > VM_NET_MAX) {
		cfg_err(c, arr->line, "net", NULL, "%zu entries; the limit is %d",
			toml_len(arr), VM_NET_MAX);
		return;
	}
	cfg->net = calloc(toml_len(arr), sizeof(*cfg->net));
	if (!cfg->net) {
		cfg_err(c, arr->line, "net", NULL, "out of memory");
		return;
	}
	cfg->n_net = toml_len(arr);
	for (size_t i = 0; i < toml_len(arr); i++) {
		const struct toml_value *v = toml_at(arr, i);

		if (v->kind != TOML_TABLE) {
			cfg_err(c, v->line, "net", NULL, "item %zu: expected a table, got %s",
				i, toml_kind_name(v->kind));
			continue;
		}
		load_net_entry(c, v, i, cfg);
	}
	check_net_entries(c, cfg);

	/* The ip= parameter is added at boot: refuse now what would not fit. */
	cmdline = config_kernel_cmdline(cfg);
	if (cmdline && strlen(cmdline) >= VM_CMDLINE_MAX)
		cfg_err(c, arr->line, "net", NULL, "boot.cmdline with the guest's ip= parameter "
			"is %zu bytes long; the limit is %d", strlen(cmdline), VM_CMDLINE_MAX - 1);
	free(cmdline);
}

static bool has_ip_param(const char *cmdline, size_t *insert_at)
{
	const char *p = cmdline;

	*insert_at = strlen(cmdline);
	while (*p) {
		size_t len;

		while (*p == ' ' || *p == '\t')
			p++;
		len = strcspn(p, " \t");
		/* Parameters after "--" go to init, not the kernel. */
		if (len == 2 && !strncmp(p, "--", 2)) {
			*insert_at = (size_t)(p - cmdline);
			return false;
		}
		if (len >= 3 && !strncmp(p, "ip=", 3))
			return true;
		p += len;
	}
	return false;
}

char *config_kernel_cmdline(const struct vm_config *cfg)
{
	const char *base = cfg->cmdline ? cfg->cmdline : "";
	const struct net_config *n = NULL;
	char guest[16], gw[16], mask[16];
	size_t at;
	char *r;

	for (size_t i = 0; i < cfg->n_net && !n; i++)
		if (cfg->net[i].has_subnet)
			n = &cfg->net[i];
	if (!n || has_ip_param(base, &at))
		return strdup(base);
	config_format_ipv4(n->guest_ip, guest);
	config_format_ipv4(n->gateway, gw);
	config_format_ipv4(config_prefix_mask(n->prefix), mask);
	/* The kernel's ip= (CONFIG_IP_PNP): client::gateway:netmask::device:off. */
	if (asprintf(&r, "%.*s%sip=%s::%s:%s::eth%zu:off%s%s", (int)at, base,
		     at && base[at - 1] != ' ' ? " " : "", guest, gw, mask,
		     (size_t)(n - cfg->net), base[at] ? " " : "", base + at) < 0)
		return NULL;
	return r;
}

/* ---- [[fs]] ---- */

static const char *const fs_caches[] = { "auto", "always", "none", NULL };
static const char *const fs_sandboxes[] = { "namespace", "chroot", NULL };

static void load_fs_entry(struct ctx *c, const struct toml_value *tab, size_t index,
			  struct vm_config *cfg)
{
	static const char *const known[] = {
		"tag", "source", "socket", "read_only", "virtiofsd", "cache", "sandbox",
		"thread_pool_size", NULL
	};
	/* Options of the virtiofsd vmm starts: meaningless for an admin's socket. */
	static const char *const need_source[] = {
		"read_only", "virtiofsd", "cache", "sandbox", "thread_pool_size", NULL
	};
	struct fs_config *f = &cfg->fs[index];
	const struct toml_value *v;
	char table[32];
	unsigned line;
	const char *s;
	int64_t i;
	int e;
	struct stat st;

	snprintf(table, sizeof(table), "fs[%zu]", index);
	f->line = tab->line;
	check_keys(c, tab, table, known);

	if (!toml_get(tab, "tag")) {
		missing(c, tab, table, "tag");
	} else if ((s = get_str(c, tab, table, "tag", &line))) {
		size_t n = strlen(s);

		if (n == 0 || n > FS_TAG_MAX)
			cfg_err(c, line, table, "tag", "is %zu bytes long; it must be 1 to %d",
				n, FS_TAG_MAX);
		else if (strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				"0123456789_.-") != n)
			cfg_err(c, line, table, "tag", "\"%.64s\" has a character other than "
				"A-Z a-z 0-9 _ . -", s);
		else
			memcpy(f->tag, s, n + 1);
	}

	if (toml_get(tab, "source") && toml_get(tab, "socket")) {
		cfg_err(c, tab->line, table, NULL, "give source (vmm starts virtiofsd) or "
			"socket (a virtiofsd already serves it), not both");
		return;
	}
	if (!toml_get(tab, "source") && !toml_get(tab, "socket")) {
		cfg_err(c, tab->line, table, "source", "missing required key (or give socket)");
		return;
	}
	if (toml_get(tab, "socket")) {
		for (size_t k = 0; need_source[k]; k++)
			if ((v = toml_get(tab, need_source[k])))
				cfg_err(c, v->line, table, need_source[k], "applies only to "
					"the virtiofsd vmm starts (with source); configure the "
					"backend behind socket instead");
		if ((s = get_str(c, tab, table, "socket", &line)))
			f->socket = resolve_path(c, s, line, table, "socket");
		return;
	}

	get_bool(c, tab, table, "read_only", &f->read_only);
	if ((e = get_enum(c, tab, table, "cache", fs_caches)) >= 0)
		f->cache = (enum fs_cache)e;
	if ((e = get_enum(c, tab, table, "sandbox", fs_sandboxes)) >= 0)
		f->sandbox = (enum fs_sandbox)e;
	if (get_int(c, tab, table, "thread_pool_size", 1, 1024, &i))
		f->thread_pool_size = (unsigned)i;
	if ((s = get_str(c, tab, table, "source", &line))) {
		f->source = resolve_path(c, s, line, table, "source");
		if (f->source && stat(f->source, &st) < 0)
			cfg_err(c, line, table, "source", "%s: %s", f->source, strerror(errno));
		else if (f->source && !S_ISDIR(st.st_mode))
			cfg_err(c, line, table, "source", "%s: not a directory", f->source);
	}
	line = tab->line;
	if (toml_get(tab, "virtiofsd"))
		s = get_str(c, tab, table, "virtiofsd", &line);
	else
		s = FS_VIRTIOFSD_DEFAULT;
	if (s) {
		f->virtiofsd = resolve_path(c, s, line, table, "virtiofsd");
		if (f->virtiofsd && access(f->virtiofsd, X_OK) < 0)
			cfg_err(c, line, table, "virtiofsd", "%s: %s%s", f->virtiofsd,
				strerror(errno), toml_get(tab, "virtiofsd") ? "" :
				" (Debian package qemu-system-common; or set virtiofsd)");
	}
}

static void load_fs(struct ctx *c, const struct toml_value *arr, struct vm_config *cfg)
{
	if (!arr)
		return;
	if (arr->kind != TOML_ARRAY) {
		cfg_err(c, arr->line, "fs", NULL, "expected an array of tables ([[fs]]), got %s",
			toml_kind_name(arr->kind));
		return;
	}
	if (toml_len(arr) > VM_FS_MAX) {
		cfg_err(c, arr->line, "fs", NULL, "%zu entries; the limit is %d",
			toml_len(arr), VM_FS_MAX);
		return;
	}
	cfg->fs = calloc(toml_len(arr) ? toml_len(arr) : 1, sizeof(*cfg->fs));
	if (!cfg->fs) {
		cfg_err(c, arr->line, "fs", NULL, "out of memory");
		return;
	}
	cfg->n_fs = toml_len(arr);
	for (size_t i = 0; i < cfg->n_fs; i++) {
		const struct toml_value *v = toml_at(arr, i);

		if (v->kind != TOML_TABLE) {
			cfg_err(c, v->line, "fs", NULL, "item %zu: expected a table, got %s",
				i, toml_kind_name(v->kind));
			continue;
		}
		load_fs_entry(c, v, i, cfg);
	}
	/* The guest tells shares apart by tag alone. */
	for (size_t i = 0; i < cfg->n_fs; i++)
		for (size_t k = 0; k < i; k++)
			if (cfg->fs[i].tag[0] && !strcmp(cfg->fs[i].tag, cfg->fs[k].tag)) {
				char table[32];

				snprintf(table, sizeof(table), "fs[%zu]", i);
				cfg_err(c, cfg->fs[i].line, table, "tag", "\"%s\" is already "
					"the tag of the share on line %u", cfg->fs[i].tag,
					cfg->fs[k].line);
				break;
			}
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
	{ "vm", load_vm },
	{ "boot", load_boot },
	{ "console", load_console },
	{ "cpu", load_cpu },
	{ "log", load_log },
	{ "rng", load_rng },
};

#define NSECTIONS (sizeof(sections) / sizeof(sections[0]))

/* Planned tables: named in the error so that users know they are coming. */
static const char *const later[] = { NULL };

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
	for (size_t i = 0; i < cfg->n_cpu_hide; i++)
		free(cfg->cpu_hide[i]);
	free(cfg->cpu_hide);
	for (size_t i = 0; i < cfg->n_net; i++) {
		free(cfg->net[i].uplink);
		free(cfg->net[i].owner);
		free(cfg->net[i].group);
		free(cfg->net[i].forward);
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
	out->huge_pages = true;	/* as QEMU's RAM; docs/config.md */
	out->console_mode = CONSOLE_STDIO;
	out->cpu_template = CPU_TEMPLATE_HOST;
	out->log_level = LOG_LVL_INFO;
	out->rng_enabled = true;
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
			load_disks(&c, v, out);
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
		if (!strcmp(v->key, "net") || !strcmp(v->key, "fs"))
			continue;	/* load_net, once [vm] name is known; load_fs */
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
	load_net(&c, toml_get(root, "net"), out);
	load_fs(&c, toml_get(root, "fs"), out);

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

static void print_net(const struct vm_config *cfg, FILE *f)
{
	for (size_t i = 0; i < cfg->n_net; i++) {
		const struct net_config *n = &cfg->net[i];
		char a[16];

		fprintf(f, "\n[[net]]\n");
		if (n->tap[0])
			fprintf(f, "tap = \"%s\"\n", n->tap);
		if (n->tap_fd >= 0)
			fprintf(f, "tap_fd = %d\n", n->tap_fd);
		fprintf(f, "mac = \"%02x:%02x:%02x:%02x:%02x:%02x\"%s\n", n->mac[0], n->mac[1],
			n->mac[2], n->mac[3], n->mac[4], n->mac[5],
			n->mac_given ? "" : "  # derived from the VM name");
		if (n->owner)
			fprintf(f, "owner = \"%s\"\n", n->owner);
		if (n->group)
			fprintf(f, "group = \"%s\"\n", n->group);
		if (!n->has_subnet) {
			fprintf(f, "# no subnet: netsetup makes only the TAP\n");
			continue;
		}
		config_format_ipv4(n->subnet, a);
		fprintf(f, "bridge = \"%s\"\nsubnet = \"%s/%u\"\n", n->bridge, a, n->prefix);
		config_format_ipv4(n->gateway, a);
		fprintf(f, "gateway = \"%s\"\n", a);
		config_format_ipv4(n->guest_ip, a);
		fprintf(f, "guest_ip = \"%s\"\n", a);
		if (n->uplink)
			fprintf(f, "uplink = \"%s\"\n", n->uplink);
		else
			fprintf(f, "# uplink: the interface of the default route\n");
		fprintf(f, "forward = [");
		for (size_t k = 0; k < n->n_forward; k++)
			fprintf(f, "%s\"%u:%u/%s\"", k ? ", " : "", n->forward[k].host_port,
				n->forward[k].guest_port,
				n->forward[k].proto == NET_PROTO_UDP ? "udp" : "tcp");
		fprintf(f, "]\n");
	}
}

static void print_fs(const struct vm_config *cfg, FILE *f)
{
	for (size_t i = 0; i < cfg->n_fs; i++) {
		const struct fs_config *fs = &cfg->fs[i];

		fprintf(f, "\n[[fs]]\ntag = ");
		print_str(f, fs->tag);
		if (fs->socket) {
			fprintf(f, "\nsocket = ");
			print_str(f, fs->socket);
			fputc('\n', f);
			continue;
		}
		fprintf(f, "\nsource = ");
		print_str(f, fs->source ? fs->source : "");
		fprintf(f, "\nread_only = %s\nvirtiofsd = ", fs->read_only ? "true" : "false");
		print_str(f, fs->virtiofsd ? fs->virtiofsd : "");
		fprintf(f, "\ncache = \"%s\"\nsandbox = \"%s\"\n", fs_caches[fs->cache],
			fs_sandboxes[fs->sandbox]);
		if (fs->thread_pool_size)
			fprintf(f, "thread_pool_size = %u\n", fs->thread_pool_size);
	}
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
	fprintf(f, "control_socket = ");
	print_str(f, cfg->control_socket ? cfg->control_socket : "");
	fputc('\n', f);
	fprintf(f, "seccomp = %s\n", cfg->seccomp ? "true" : "false");
	fprintf(f, "ready = \"%s\"\n", ready_marks[cfg->ready]);
	fprintf(f, "huge_pages = %s\n", cfg->huge_pages ? "true" : "false");
	if (cfg->user) {
		fprintf(f, "user = ");
		print_str(f, cfg->user);
		fputc('\n', f);
	}
	if (cfg->group) {
		fprintf(f, "group = ");
		print_str(f, cfg->group);
		fputc('\n', f);
	}

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
	fprintf(f, "]\n\n[rng]\nenabled = %s\n", cfg->rng_enabled ? "true" : "false");
	for (size_t i = 0; i < cfg->ndisks; i++) {
		const struct disk_config *d = &cfg->disks[i];

		fprintf(f, "\n[[disk]]\npath = ");
		print_str(f, d->path ? d->path : "");
		fprintf(f, "\nread_only = %s\ndirect = %s\nserial = ",
			d->read_only ? "true" : "false", d->direct ? "true" : "false");
		print_str(f, d->serial);
		if (d->size_mib)
			fprintf(f, "\nsize_mib = %llu", (unsigned long long)d->size_mib);
		fputc('\n', f);
	}
	fprintf(f, "\n[log]\nlevel = \"%s\"\n", log_level_name(cfg->log_level));
	print_net(cfg, f);
	print_fs(cfg, f);
}
