/* The guest kernel's command line: boot.cmdline plus the ip= parameter that
 * gives the guest the address of its first [[net]] entry with a subnet, and
 * for [vm] ready = "guest" the credential that tells the guest's systemd
 * where to report readiness (docs/operations.md). */
#include "cmdline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* Whether `cmdline` has a kernel parameter starting with `prefix`; either
 * way `*insert_at` is where the kernel's parameters end (at "--", whose
 * followers go to init, or at the end). */
static bool has_param(const char *cmdline, const char *prefix, size_t *insert_at)
{
	const char *p = cmdline;
	size_t plen = strlen(prefix);
	bool found = false;

	*insert_at = strlen(cmdline);
	while (*p) {
		size_t len;

		while (*p == ' ' || *p == '\t')
			p++;
		len = strcspn(p, " \t");
		if (len == 2 && !strncmp(p, "--", 2)) {
			*insert_at = (size_t)(p - cmdline);
			return found;
		}
		if (len >= plen && !strncmp(p, prefix, plen))
			found = true;
		p += len;
	}
	return found;
}

bool config_cmdline_sets_notify_socket(const char *cmdline)
{
	size_t at;

	return has_param(cmdline, "systemd.set_credential=vmm.notify_socket:", &at) ||
	       has_param(cmdline, "systemd.set_credential_binary=vmm.notify_socket:", &at);
}

char *config_kernel_cmdline(const struct vm_config *cfg)
{
	const char *base = cfg->cmdline ? cfg->cmdline : "";
	const struct net_config *n = NULL;
	char guest[16], gw[16], mask[16], ip[96] = "", cred[96] = "";
	size_t at;
	char *r;

	for (size_t i = 0; i < cfg->n_net && !n; i++)
		if (cfg->net[i].has_subnet)
			n = &cfg->net[i];
	if (n && !has_param(base, "ip=", &at)) {
		config_format_ipv4(n->guest_ip, guest);
		config_format_ipv4(n->gateway, gw);
		config_format_ipv4(config_prefix_mask(n->prefix), mask);
		/* The kernel's ip= (CONFIG_IP_PNP): client::gateway:netmask::device:off. */
		snprintf(ip, sizeof(ip), "ip=%s::%s:%s::eth%zu:off", guest, gw, mask,
			 (size_t)(n - cfg->net));
	}
	if (cfg->ready == READY_GUEST && cfg->vsock_cid)
		snprintf(cred, sizeof(cred), READY_CREDENTIAL_FMT, cfg->ready_port);
	has_param(base, "", &at);
	if (!ip[0] && !cred[0])
		return strdup(base);
	if (asprintf(&r, "%.*s%s%s%s%s%s%s", (int)at, base,
		     at && base[at - 1] != ' ' ? " " : "", ip, ip[0] && cred[0] ? " " : "",
		     cred, base[at] ? " " : "", base + at) < 0)
		return NULL;
	return r;
}
