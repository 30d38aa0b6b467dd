/* Checks between VM configs and the nftables text netsetup installs: pure
 * functions of the configs, unit-tested in tests/unit/test_netsetup.c. */
#include "plan.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"

bool plan_overlap(uint32_t a, unsigned pa, uint32_t b, unsigned pb)
{
	uint32_t mask = config_prefix_mask(pa < pb ? pa : pb);

	return (a & mask) == (b & mask);
}

static const char *proto_name(enum net_proto p)
{
	return p == NET_PROTO_UDP ? "udp" : "tcp";
}

/* Entry `na` (x of `pa`) names the bridge entry `nb` (y of `pb`) also names:
 * both join an existing bridge, or both share netsetup's with one subnet,
 * gateway and a guest_ip each. */
static unsigned check_same_bridge(const struct plan_vm *pa, size_t x, const struct net_config *na,
				  const struct plan_vm *pb, size_t y, const struct net_config *nb)
{
	char s1[16], s2[16];

	if (na->has_subnet != nb->has_subnet) {
		log_err("%s:%u: net[%zu].bridge: \"%s\" has %s here but %s in net[%zu] of %s:%u; "
			"give both the same subnet to share netsetup's bridge, or neither to "
			"join an existing one", pa->path, na->line, x, na->bridge,
			na->has_subnet ? "a subnet" : "no subnet",
			nb->has_subnet ? "a subnet" : "none", y, pb->path, nb->line);
		return 1;
	}
	if (!na->has_subnet)
		return 0;
	if (na->subnet != nb->subnet || na->prefix != nb->prefix) {
		config_format_ipv4(na->subnet, s1);
		config_format_ipv4(nb->subnet, s2);
		log_err("%s:%u: net[%zu].subnet: %s/%u differs from %s/%u of net[%zu] in %s:%u, "
			"on the same bridge %s; VMs sharing a bridge share its subnet", pa->path,
			na->line, x, s1, na->prefix, s2, nb->prefix, y, pb->path, nb->line,
			na->bridge);
		return 1;
	}
	if (na->gateway != nb->gateway) {
		config_format_ipv4(na->gateway, s1);
		config_format_ipv4(nb->gateway, s2);
		log_err("%s:%u: net[%zu].gateway: %s differs from %s of net[%zu] in %s:%u, on the "
			"same bridge %s; the bridge has one address", pa->path, na->line, x, s1,
			s2, y, pb->path, nb->line, na->bridge);
		return 1;
	}
	if (na->guest_ip == nb->guest_ip) {
		config_format_ipv4(na->guest_ip, s1);
		log_err("%s:%u: net[%zu].guest_ip: %s is also the guest_ip of net[%zu] in %s:%u, "
			"on the shared bridge %s; give each VM its own (the default is the "
			"subnet's second address)", pa->path, na->line, x, s1, y, pb->path,
			nb->line, na->bridge);
		return 1;
	}
	return 0;
}

unsigned plan_check_configs(const struct plan_vm *vms, size_t n)
{
	unsigned problems = 0;

	for (size_t i = 0; i < n; i++) {
		const struct vm_config *a = vms[i].cfg;

		for (size_t j = 0; j < i; j++) {
			const struct vm_config *b = vms[j].cfg;

			if (!strcmp(a->name, b->name)) {
				log_err("%s: vm.name: \"%s\" is also the name of the VM in %s; "
					"netsetup names what it makes after the VM",
					vms[i].path, a->name, vms[j].path);
				problems++;
			}
			for (size_t x = 0; x < a->n_net; x++) {
				const struct net_config *na = &a->net[x];

				for (size_t y = 0; y < b->n_net; y++) {
					const struct net_config *nb = &b->net[y];
					char s1[16], s2[16];

					if (na->tap[0] && (!strcmp(na->tap, nb->tap) ||
							   !strcmp(na->tap, nb->bridge))) {
						log_err("%s:%u: net[%zu].tap: \"%s\" is also used "
							"by net[%zu] in %s:%u", vms[i].path,
							na->line, x, na->tap, y, vms[j].path,
							nb->line);
						problems++;
					}
					if (na->bridge[0] && !strcmp(na->bridge, nb->tap)) {
						log_err("%s:%u: net[%zu].bridge: \"%s\" is the "
							"TAP of net[%zu] in %s:%u", vms[i].path,
							na->line, x, na->bridge, y, vms[j].path,
							nb->line);
						problems++;
					}
					if (na->bridge[0] && !strcmp(na->bridge, nb->bridge))
						problems += check_same_bridge(&vms[i], x, na,
									      &vms[j], y, nb);
					else if (na->has_subnet && nb->has_subnet &&
						 plan_overlap(na->subnet, na->prefix,
							      nb->subnet, nb->prefix)) {
						config_format_ipv4(na->subnet, s1);
						config_format_ipv4(nb->subnet, s2);
						log_err("%s:%u: net[%zu].subnet: %s/%u overlaps "
							"%s/%u of net[%zu] in %s:%u", vms[i].path,
							na->line, x, s1, na->prefix, s2,
							nb->prefix, y, vms[j].path, nb->line);
						problems++;
					}
					if (!na->has_subnet || !nb->has_subnet)
						continue;
					for (size_t f = 0; f < na->n_forward; f++)
						for (size_t g = 0; g < nb->n_forward; g++) {
							const struct net_forward *fa = &na->forward[f];
							const struct net_forward *fb = &nb->forward[g];

							if (fa->host_port != fb->host_port ||
							    fa->proto != fb->proto)
								continue;
							log_err("%s:%u: net[%zu].forward: host "
								"port %u/%s is also forwarded "
								"by %s:%u", vms[i].path, fa->line,
								x, fa->host_port,
								proto_name(fa->proto),
								vms[j].path, fb->line);
							problems++;
						}
				}
			}
		}
	}
	return problems;
}

void plan_bridge_mac(const struct net_config *n, uint8_t mac[6])
{
	memcpy(mac, n->mac, 6);
	mac[0] = (uint8_t)((mac[0] ^ 0x04) | 0x02);
	mac[0] &= (uint8_t)~1;
}

void plan_tap_mac(const struct net_config *n, uint8_t mac[6])
{
	memcpy(mac, n->mac, 6);
	mac[0] = 0xfe;
}

/* A growing string; `ok` goes false on ENOMEM and stays so. */
struct sbuf {
	char *p;
	size_t len, cap;
	bool ok;
};

static void sb_printf(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	char *np;
	int n;

	if (!b->ok)
		return;
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->ok = false;
			return;
		}
		if (b->p && b->len + (size_t)n < b->cap) {
			b->len += (size_t)n;
			return;
		}
		np = realloc(b->p, b->cap + (size_t)n + 256);
		if (!np) {
			b->ok = false;
			return;
		}
		b->p = np;
		b->cap += (size_t)n + 256;
	}
}

static uint32_t fnv1a32(const char *s)
{
	uint32_t h = 0x811c9dc5u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x01000193u;
	return h;
}

/* `cond` selects the connections a forward applies to: from outside in
 * prerouting (never from a VM bridge: VMs do not reach each other through
 * the host's ports either), and from the host itself in output, to any of
 * its addresses, 127.0.0.1 included. */
static void forward_rules(struct sbuf *b, const struct vm_config *cfg, const char *cond)
{
	for (size_t i = 0; i < cfg->n_net; i++) {
		const struct net_config *n = &cfg->net[i];
		char guest[16];

		if (!n->has_subnet)
			continue;
		config_format_ipv4(n->guest_ip, guest);
		for (size_t k = 0; k < n->n_forward; k++)
			sb_printf(b, "\t\t%sfib daddr type local %s dport %u dnat to %s:%u\n",
				  cond, proto_name(n->forward[k].proto), n->forward[k].host_port,
				  guest, n->forward[k].guest_port);
	}
}

char *plan_nft_table(const struct vm_config *cfg, const char *const *uplinks)
{
	struct sbuf body = { .ok = true }, out = { .ok = true };
	bool any = false, forwards = false;
	char cond[32];

	for (size_t i = 0; i < cfg->n_net; i++) {
		any |= cfg->net[i].has_subnet;
		forwards |= cfg->net[i].has_subnet && cfg->net[i].n_forward;
	}
	if (!any) {
		errno = 0;
		return NULL;
	}

	/* Forwarding: established traffic back is accepted first. Isolation:
	 * nothing is forwarded between this VM's bridge and any other VM
	 * bridge (interface group), in either direction; with the same rules
	 * in every VM's table, every pair is covered while either VM is up,
	 * and no table needs a list of the others. Traffic within one bridge
	 * (a shared one) is bridged and never gets here, unless br_netfilter
	 * passes it through this hook with the bridge as both interfaces,
	 * which these rules leave alone. Policy accept leaves all else to the
	 * host's own firewall (a drop in any table still wins). A loopback
	 * source from a VM is spoofed. */
	sb_printf(&body, "\tchain forward {\n"
		  "\t\ttype filter hook forward priority filter; policy accept;\n"
		  "\t\tiifgroup %u ip saddr 127.0.0.0/8 drop\n"
		  "\t\tct state established,related accept\n", NETSETUP_IFGROUP);
	for (size_t i = 0; i < cfg->n_net; i++) {
		const char *br = cfg->net[i].bridge;

		if (!cfg->net[i].has_subnet)
			continue;
		sb_printf(&body, "\t\tiifname \"%s\" oifgroup %u oifname != \"%s\" drop\n"
			  "\t\toifname \"%s\" iifgroup %u iifname != \"%s\" drop\n",
			  br, NETSETUP_IFGROUP, br, br, NETSETUP_IFGROUP, br);
	}
	sb_printf(&body, "\t}\n");
	/* route_localnet on a bridge (for forwards from 127.0.0.1) would also
	 * let its guests reach the host's 127/8 services: only replies to the
	 * host's own connections may come in for 127/8. In every VM's table,
	 * like the isolation drop, so that it holds while any VM is up. */
	sb_printf(&body, "\tchain input {\n"
		  "\t\ttype filter hook input priority filter; policy accept;\n"
		  "\t\tiifgroup %u ip saddr 127.0.0.0/8 drop\n"
		  "\t\tiifgroup %u ip daddr 127.0.0.0/8 ct state invalid,new,untracked drop\n"
		  "\t}\n", NETSETUP_IFGROUP, NETSETUP_IFGROUP);
	sb_printf(&body, "\tchain postrouting {\n"
		  "\t\ttype nat hook postrouting priority srcnat; policy accept;\n");
	for (size_t i = 0; i < cfg->n_net; i++) {
		const struct net_config *n = &cfg->net[i];
		char net[16];

		if (!n->has_subnet)
			continue;
		config_format_ipv4(n->subnet, net);
		sb_printf(&body, "\t\tip saddr %s/%u oifname \"%s\" masquerade\n", net, n->prefix,
			  uplinks[i] ? uplinks[i] : "?");
		/* A forward from 127.0.0.1 leaves with that source, which the
		 * guest would drop: the gateway's address instead. */
		if (n->n_forward)
			sb_printf(&body, "\t\tip saddr 127.0.0.0/8 oifname \"%s\" masquerade\n",
				  n->bridge);
	}
	sb_printf(&body, "\t}\n");
	if (forwards) {
		sb_printf(&body, "\tchain prerouting {\n"
			  "\t\ttype nat hook prerouting priority dstnat; policy accept;\n");
		snprintf(cond, sizeof(cond), "iifgroup != %u ", NETSETUP_IFGROUP);
		forward_rules(&body, cfg, cond);
		/* NF_IP_PRI_NAT_DST: nft has no "dstnat" name in the output hook. */
		sb_printf(&body, "\t}\n\tchain output {\n"
			  "\t\ttype nat hook output priority -100; policy accept;\n");
		forward_rules(&body, cfg, "");
		sb_printf(&body, "\t}\n");
	}
	if (!body.ok) {
		free(body.p);
		errno = ENOMEM;
		return NULL;
	}
	sb_printf(&out, "table ip " NETSETUP_TABLE "%s {\n"
		  "\tcomment \"netsetup %s fp=%08x\"\n%s}\n",
		  cfg->name, cfg->name, fnv1a32(body.p), body.p);
	free(body.p);
	if (!out.ok) {
		free(out.p);
		errno = ENOMEM;
		return NULL;
	}
	return out.p;
}

bool plan_table_comment(const char *text, char *buf, size_t len)
{
	const char *p = strstr(text, "comment \""), *end;

	if (!p || !len)
		return false;
	p += strlen("comment \"");
	end = strchr(p, '"');
	if (!end || (size_t)(end - p) >= len)
		return false;
	memcpy(buf, p, (size_t)(end - p));
	buf[end - p] = '\0';
	return true;
}
