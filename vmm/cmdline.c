/* The guest kernel's command line: boot.cmdline plus the ip= parameter that
 * gives the guest the address of its first [[net]] entry with a subnet. */
#include "cmdline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

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
