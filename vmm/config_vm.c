/* The VM-wide tables: [vm] (with the control socket's default place), [boot],
 * [console], [cpu], [rng] and [log]. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch.h"
#include "cmdline.h"
#include "config-internal.h"
#include "log.h"
#include "toml.h"

#define MEMORY_MIB_MIN 16
#define MEMORY_MIB_MAX (1 << 20)
#define SHUTDOWN_TIMEOUT_MAX 3600
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

static void load_vm_ready(struct ctx *c, const struct toml_value *tab, struct vm_config *cfg);

/* [vm] control_socket, user, group: how the running VM is operated. */
static void load_vm_ops(struct ctx *c, const struct toml_value *tab, struct vm_config *cfg)
{
	char dir[PATH_MAX];
	unsigned line = cfg_table_line(tab);
	const char *s;

	cfg->user = cfg_get_user(c, tab, "vm", "user");
	cfg->group = cfg_get_user(c, tab, "vm", "group");
	if (toml_get(tab, "control_socket")) {
		s = cfg_get_str(c, tab, "vm", "control_socket", &line);
		if (s && *s)
			cfg->control_socket = cfg_resolve_path(c, s, line, "vm", "control_socket");
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

const char *const cfg_ready_marks[] = {
	[READY_STARTED] = "started", [READY_USERSPACE] = "userspace",
	[READY_GUEST] = "guest", NULL
};

const char *const cfg_virtio_transports[] = {
	[VIRTIO_TRANSPORT_AUTO] = "auto", [VIRTIO_TRANSPORT_PCI] = "pci",
	[VIRTIO_TRANSPORT_MMIO] = "mmio", NULL
};

/* [vm] keys; the loader refuses any other (config_known_keys). */
const char *const cfg_vm_keys[] = {
	"name", "vcpus", "memory_mib", "shutdown_timeout", "control_socket",
	"user", "group", "seccomp", "ready", "ready_port", "ready_timeout", "huge_pages",
	"merge_pages", "virtio_transport", NULL
};

static void load_vm_transport(struct ctx *c, const struct toml_value *tab,
			      struct vm_config *cfg);

void cfg_load_vm(struct ctx *c, const struct toml_value *tab, struct vm_config *cfg)
{
	unsigned line;
	const char *name;
	int64_t i;

	cfg_check_keys(c, tab, "vm", cfg_vm_keys);

	if (!toml_get(tab, "name")) {
		cfg_missing(c, tab, "vm", "name");
	} else if ((name = cfg_get_str(c, tab, "vm", "name", &line))) {
		size_t len = strlen(name), bad;

		/* The name ends up in paths, the journal and the process title. */
		for (bad = 0; bad < len && cfg_name_char_ok(name[bad]); bad++)
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
	if (cfg_get_int(c, tab, "vm", "vcpus", 1, VM_VCPUS_MAX, &i))
		cfg->vcpus = (unsigned)i;
	if (cfg_get_int(c, tab, "vm", "memory_mib", MEMORY_MIB_MIN, MEMORY_MIB_MAX, &i))
		cfg->memory_mib = (uint64_t)i;
	if (cfg_get_int(c, tab, "vm", "shutdown_timeout", 0, SHUTDOWN_TIMEOUT_MAX, &i))
		cfg->shutdown_timeout_s = (unsigned)i;
	cfg_get_bool(c, tab, "vm", "seccomp", &cfg->seccomp);
	cfg_get_bool(c, tab, "vm", "huge_pages", &cfg->huge_pages);
	if (cfg_get_bool(c, tab, "vm", "merge_pages", &cfg->merge_pages))
		cfg->merge_pages_line = toml_get(tab, "merge_pages")->line;
	load_vm_ready(c, tab, cfg);
	load_vm_ops(c, tab, cfg);
	load_vm_transport(c, tab, cfg);
}

/* [vm] virtio_transport: x86_64's machine has PCI only; arm64 has both
 * (arch/aarch64/machine.c chooses for "auto" and refuses "pci" where the
 * host's KVM has no GICv3 ITS). */
static void load_vm_transport(struct ctx *c, const struct toml_value *tab,
			      struct vm_config *cfg)
{
	int64_t i;

	if ((i = cfg_get_enum(c, tab, "vm", "virtio_transport", cfg_virtio_transports)) < 0)
		return;
	cfg->virtio_transport = (enum virtio_transport)i;
#if defined(__x86_64__)
	if (cfg->virtio_transport == VIRTIO_TRANSPORT_MMIO)
		cfg_err(c, toml_get(tab, "virtio_transport")->line, "vm", "virtio_transport", "\"mmio\" is aarch64 only; "
			"x86_64's machine has virtio-pci (\"pci\" or \"auto\")");
#endif
}

/* [vm] ready and, for ready = "guest", ready_port and ready_timeout. */
static void load_vm_ready(struct ctx *c, const struct toml_value *tab, struct vm_config *cfg)
{
	static const char *const guest_keys[] = { "ready_port", "ready_timeout" };
	const struct toml_value *v = toml_get(tab, "ready");
	int64_t i;

	cfg->ready_line = v ? v->line : cfg_table_line(tab);
	if ((i = cfg_get_enum(c, tab, "vm", "ready", cfg_ready_marks)) >= 0)
		cfg->ready = (enum ready_mark)i;
	else if (v)
		return;		/* a bad mark: the guest keys would only add noise */
	if (cfg->ready != READY_GUEST) {
		/* Keys that would do nothing are an error, not a silent no-op. */
		for (size_t k = 0; k < 2; k++)
			if ((v = toml_get(tab, guest_keys[k])))
				cfg_err(c, v->line, "vm", guest_keys[k],
					"only valid with ready = \"guest\"");
		return;
	}
	/* 0xffffffff is VMADDR_PORT_ANY: no port a guest can connect to. */
	if (cfg_get_int(c, tab, "vm", "ready_port", 1, 0xfffffffe, &i))
		cfg->ready_port = (uint32_t)i;
	if (cfg_get_int(c, tab, "vm", "ready_timeout", 0, READY_TIMEOUT_MAX_S, &i))
		cfg->ready_timeout_s = (unsigned)i;
}

void cfg_check_ready(struct ctx *c, const struct vm_config *cfg)
{
	char *cmdline;
	size_t len;

	if (cfg->ready != READY_GUEST)
		return;
	if (!cfg->vsock_cid) {
		cfg_err(c, cfg->ready_line, "vm", "ready", "\"guest\" needs a [vsock] table "
			"(with a valid cid): the guest reports over vsock (docs/operations.md)");
		return;
	}
	if (!cfg->vsock_socket)
		return;		/* [vsock] socket was wrong: reported there */
	/* vmm listens at SOCKET_PORT, the vsock device's place for CID 2 port PORT. */
	len = strlen(cfg->vsock_socket) + 1 + (size_t)snprintf(NULL, 0, "%u", cfg->ready_port);
	if (len > CONTROL_PATH_MAX)
		cfg_err(c, cfg->ready_line, "vm", "ready", "the readiness socket %s_%u is %zu "
			"bytes long; a unix socket's path can have at most %d (a shorter "
			"[vsock] socket or ready_port)", cfg->vsock_socket, cfg->ready_port,
			len, CONTROL_PATH_MAX);
	if (cfg->cmdline && config_cmdline_sets_notify_socket(cfg->cmdline))
		cfg_err(c, cfg->ready_line, "vm", "ready", "boot.cmdline sets the "
			"vmm.notify_socket credential itself; with ready = \"guest\" vmm sets it "
			"(remove it from boot.cmdline, or choose another ready)");
	/* The credential is added at boot: refuse now what would not fit. */
	cmdline = config_kernel_cmdline(cfg);
	if (cmdline && strlen(cmdline) >= VM_CMDLINE_MAX)
		cfg_err(c, cfg->ready_line, "vm", "ready", "boot.cmdline with the readiness "
			"credential is %zu bytes long; the limit is %d", strlen(cmdline),
			VM_CMDLINE_MAX - 1);
	free(cmdline);
}

void cfg_check_merge_pages(struct ctx *c, const struct vm_config *cfg)
{
	/* With [[fs]] guest RAM is a MAP_SHARED memfd (the virtio-fs backend
	 * maps it), and the kernel merges private anonymous pages only: it
	 * takes MADV_MERGEABLE on a shared mapping and ignores it. */
	if (cfg->merge_pages && cfg->n_fs > 0)
		cfg_err(c, cfg->merge_pages_line, "vm", "merge_pages", "true does nothing with "
			"[[fs]] shares: guest RAM is then memory shared with the virtio-fs "
			"backend, and the kernel merges only private memory (remove one of them)");
}

/* [boot] keys; the loader refuses any other (config_known_keys). */
const char *const cfg_boot_keys[] = { "kernel", "initrd", "cmdline", NULL };

void cfg_load_boot(struct ctx *c, const struct toml_value *tab, struct vm_config *cfg)
{
	const char *s;
	unsigned line;

	cfg_check_keys(c, tab, "boot", cfg_boot_keys);

	if (!toml_get(tab, "kernel"))
		cfg_missing(c, tab, "boot", "kernel");
	else
		cfg->kernel = cfg_get_file(c, tab, "boot", "kernel");
	cfg->initrd = cfg_get_file(c, tab, "boot", "initrd");

	s = cfg_get_str(c, tab, "boot", "cmdline", &line);
	if (s && strlen(s) >= VM_CMDLINE_MAX) {
		cfg_err(c, line, "boot", "cmdline", "is %zu bytes long; the limit is %d",
			strlen(s), VM_CMDLINE_MAX - 1);
	} else if (s) {
		char *d = cfg_dup(c, s, line, "boot", "cmdline");

		if (d) {
			free(cfg->cmdline);
			cfg->cmdline = d;
		}
	}
}

const char *const cfg_console_modes[] = {
	[CONSOLE_STDIO] = "stdio", [CONSOLE_FILE] = "file", [CONSOLE_OFF] = "off", NULL
};

/* [console] keys; the loader refuses any other (config_known_keys). */
const char *const cfg_console_keys[] = { "mode", "path", "max_size_mib", NULL };

void cfg_load_console(struct ctx *c, const struct toml_value *tab, struct vm_config *cfg)
{
	const struct toml_value *pv;
	const char *s;
	unsigned line;
	int64_t i;
	int mode;

	cfg_check_keys(c, tab, "console", cfg_console_keys);

	mode = cfg_get_enum(c, tab, "console", "mode", cfg_console_modes);
	if (mode >= 0)
		cfg->console_mode = (enum console_mode)mode;
	else if (toml_get(tab, "mode"))
		return;		/* path rules make no sense with a bad mode */

	pv = toml_get(tab, "path");
	if (cfg->console_mode == CONSOLE_FILE && !pv) {
		cfg_err(c, cfg_table_line(tab), "console", "path",
			"missing required key (mode = \"file\" needs it)");
	} else if (cfg->console_mode != CONSOLE_FILE && pv) {
		cfg_err(c, pv->line, "console", "path", "only valid with mode = \"file\"");
	} else if (pv && (s = cfg_get_str(c, tab, "console", "path", &line))) {
		cfg->console_path = cfg_resolve_path(c, s, line, "console", "path");
	}
	pv = toml_get(tab, "max_size_mib");
	if (pv && cfg->console_mode != CONSOLE_FILE)
		cfg_err(c, pv->line, "console", "max_size_mib", "only valid with mode = \"file\"");
	else if (cfg_get_int(c, tab, "console", "max_size_mib", 1, CONSOLE_MAX_SIZE_MIB_MAX, &i))
		cfg->console_max_size_mib = (uint64_t)i;
}

const char *const cfg_cpu_templates[] = {
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

/* [cpu] keys; the loader refuses any other (config_known_keys). */
const char *const cfg_cpu_keys[] = { "template", "hide", NULL };

void cfg_load_cpu(struct ctx *c, const struct toml_value *tab, struct vm_config *cfg)
{
	const struct toml_value *hide;
	int t;

	cfg_check_keys(c, tab, "cpu", cfg_cpu_keys);

	t = cfg_get_enum(c, tab, "cpu", "template", cfg_cpu_templates);
	if (t >= 0)
		cfg->cpu_template = (enum cpu_template)t;

	hide = toml_get(tab, "hide");
	if (!hide || !cfg_type_ok(c, hide, "cpu", TOML_ARRAY) || !toml_len(hide))
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
		cfg->cpu_hide[cfg->n_cpu_hide] = cfg_dup(c, s, v->line, "cpu", "hide");
		if (cfg->cpu_hide[cfg->n_cpu_hide])
			cfg->n_cpu_hide++;
	}
}

/* [rng] keys; the loader refuses any other (config_known_keys). */
const char *const cfg_rng_keys[] = { "enabled", "pci_slot", NULL };

void cfg_load_rng(struct ctx *c, const struct toml_value *tab, struct vm_config *cfg)
{
	cfg_check_keys(c, tab, "rng", cfg_rng_keys);
	cfg_get_bool(c, tab, "rng", "enabled", &cfg->rng_enabled);
	cfg_get_slot(c, tab, "rng", &cfg->rng_pci_slot);
	/* A slot for a device that is not there would be a silent no-op. */
	if (cfg->rng_pci_slot.given && !cfg->rng_enabled)
		cfg_err(c, cfg->rng_pci_slot.line, "rng", "pci_slot",
			"applies only to an enabled rng (enabled = false removes the device)");
}

const char *const cfg_log_levels[] = {
	"error", "warning", "notice", "info", "debug", NULL
};

const int cfg_log_level_values[] = {
	LOG_LVL_ERR, LOG_LVL_WARN, LOG_LVL_NOTICE, LOG_LVL_INFO, LOG_LVL_DEBUG
};

/* [log] keys; the loader refuses any other (config_known_keys). */
const char *const cfg_log_keys[] = { "level", NULL };

void cfg_load_log(struct ctx *c, const struct toml_value *tab, struct vm_config *cfg)
{
	int l;

	cfg_check_keys(c, tab, "log", cfg_log_keys);
	l = cfg_get_enum(c, tab, "log", "level", cfg_log_levels);
	if (l >= 0)
		cfg->log_level = cfg_log_level_values[l];
}
