/* [vsock]: the virtio-vsock device, its guest CID and the unix socket of
 * its host side (docs/config.md, docs/virtio.md). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "config-internal.h"

/* VMADDR_CID_HOST is 2 and U32_MAX is VMADDR_CID_ANY: a guest gets 3 up. */
#define CID_MIN		3
#define CID_MAX		0xfffffffeLL
/* Guest connections to port P go to "<socket>_<P>": room for "_4294967295". */
#define SUFFIX_MAX	11

const char *const cfg_vsock_keys[] = { "cid", "socket", "pci_slot", NULL };

void cfg_load_vsock(struct ctx *c, const struct toml_value *tab, struct vm_config *cfg)
{
	size_t max = sizeof(((struct sockaddr_un *)0)->sun_path) - 1 - SUFFIX_MAX;
	unsigned line = cfg_table_line(tab);
	char dir[PATH_MAX];
	int64_t cid = 0;
	const char *s;

	if (!tab)
		return;
	cfg_check_keys(c, tab, "vsock", cfg_vsock_keys);
	if (!toml_get(tab, "cid"))
		cfg_missing(c, tab, "vsock", "cid");
	else if (cfg_get_int(c, tab, "vsock", "cid", CID_MIN, CID_MAX, &cid))
		cfg->vsock_cid = (uint32_t)cid;
	cfg_get_slot(c, tab, "vsock", &cfg->vsock_pci_slot);
	if (toml_get(tab, "socket")) {
		s = cfg_get_str(c, tab, "vsock", "socket", &line);
		if (s && !*s)
			cfg_err(c, line, "vsock", "socket", "must not be empty");
		else if (s)
			cfg->vsock_socket = cfg_resolve_path(c, s, line, "vsock", "socket");
	} else if (!cfg->name[0] || config_runtime_dir(dir, sizeof(dir)) < 0) {
		cfg_err(c, line, "vsock", "socket", "no default: it is RUNDIR/NAME.vsock, and %s",
			cfg->name[0] ? "there is no runtime directory (VMM_RUNTIME_DIR, "
			"XDG_RUNTIME_DIR)" : "[vm] has no name");
	} else if (asprintf(&cfg->vsock_socket, "%s/%s.vsock", dir, cfg->name) < 0) {
		cfg->vsock_socket = NULL;
		cfg_err(c, line, "vsock", "socket", "out of memory");
	}
	if (cfg->vsock_socket && strlen(cfg->vsock_socket) > max)
		cfg_err(c, line, "vsock", "socket", "%s is %zu bytes long; with \"_<port>\" "
			"for guest connections a unix socket's path allows %zu",
			cfg->vsock_socket, strlen(cfg->vsock_socket), max);
	if (!cfg->vsock_cid) {
		free(cfg->vsock_socket);
		cfg->vsock_socket = NULL;
	}
}
