/* netsetup up: the checks it makes before it changes anything, then the
 * bridges, TAPs, forwarding and nftables tables it builds. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions-internal.h"
#include "config.h"
#include "host_ids.h"
#include "log.h"
#include "netsetup.h"
#include "nft.h"
#include "nl.h"
#include "plan.h"

/* ---- up: checks ---- */

/* A link netsetup may use for `vm`: absent, or made by netsetup for it. */
static int check_own_link(const struct run *r, const struct vm *vm, const struct net_config *n,
			  size_t i, const char *key, const char *name, const char *kind)
{
	const struct nl_link *l = nl_find_link(&r->st, name);
	char alias[128];

	if (!l)
		return 0;
	alias_of(vm, alias, sizeof(alias));
	if (!strcmp(l->alias, alias) && !strcmp(l->kind, kind) &&
	    (strcmp(kind, "tun") || l->tap))
		return 0;
	if (!strncmp(l->alias, NETSETUP_ALIAS, strlen(NETSETUP_ALIAS)) && strcmp(l->alias, alias))
		log_err("%s:%u: net[%zu].%s: interface %s already exists: netsetup made it "
			"for VM \"%s\"", vm->path, n->line, i, key, name,
			l->alias + strlen(NETSETUP_ALIAS));
	else
		log_err("%s:%u: net[%zu].%s: interface %s already exists and was not made by "
			"netsetup (it is a%s %s); choose another name or remove it", vm->path,
			n->line, i, key, name, l->kind[0] ? "" : "n",
			l->kind[0] ? l->kind : "interface without a kind");
	return -1;
}

/* The bridge of an entry with a subnet: absent, netsetup's for this VM
 * alone, or netsetup's and used by other VMs, which it may join only with the
 * same subnet and gateway. `*usable` is the bridge `up` will use, if any. */
static unsigned check_bridge(const struct run *r, const struct vm *vm, const struct net_config *n,
			     size_t i, const struct nl_link **usable)
{
	const struct nl_link *l = nl_find_link(&r->st, n->bridge);
	const char *who;
	char alias[128], gw[16];

	*usable = NULL;
	if (!l)
		return 0;
	alias_of(vm, alias, sizeof(alias));
	if (!is_netsetup(l) || strcmp(l->kind, "bridge")) {
		log_err("%s:%u: net[%zu].bridge: interface %s already exists and was not made by "
			"netsetup (it is a%s %s); choose another name or remove it, or leave "
			"out `subnet` to add the TAP to it as it is", vm->path, n->line, i,
			n->bridge, l->kind[0] ? "" : "n",
			l->kind[0] ? l->kind : "interface without a kind");
		return 1;
	}
	who = bridge_other_user(&r->st, vm, l);
	if ((!who && !strcmp(l->alias, alias)) ||
	    link_has_addr(&r->st, l->index, n->gateway, n->prefix)) {
		*usable = l;
		return 0;
	}
	config_format_ipv4(n->gateway, gw);
	if (who)
		log_err("%s:%u: net[%zu].subnet: bridge %s is netsetup's bridge of VM \"%s\" and "
			"has no address %s/%u; VMs on one bridge share its subnet and gateway: "
			"choose another bridge name, or VM \"%s\"'s subnet", vm->path, n->line,
			i, n->bridge, who, gw, n->prefix, who);
	else
		log_err("%s:%u: net[%zu].subnet: bridge %s is a bridge netsetup made for several "
			"VMs and has no address %s/%u; choose another bridge name, or `netsetup "
			"down` the VMs on it first", vm->path, n->line, i, n->bridge, gw, n->prefix);
	return 1;
}

/* An entry without a subnet joins an existing bridge, which must be there and
 * not one of netsetup's (those are joined with their subnet). */
static unsigned check_attach(const struct run *r, const struct vm *vm, const struct net_config *n,
			     size_t i)
{
	const struct nl_link *l = nl_find_link(&r->st, n->bridge);

	if (!l) {
		log_err("%s:%u: net[%zu].bridge: no bridge %s on this host; without `subnet` "
			"netsetup only adds the TAP to an existing bridge (give `subnet` to have "
			"netsetup make one)", vm->path, n->line, i, n->bridge);
		return 1;
	}
	if (strcmp(l->kind, "bridge")) {
		log_err("%s:%u: net[%zu].bridge: %s is a%s %s, not a bridge", vm->path, n->line, i,
			n->bridge, l->kind[0] ? "" : "n",
			l->kind[0] ? l->kind : "interface without a kind");
		return 1;
	}
	if (is_netsetup(l)) {
		log_err("%s:%u: net[%zu].bridge: %s is a bridge netsetup made for a subnet; to "
			"share it give this entry the same `subnet` as the VMs on it", vm->path,
			n->line, i, n->bridge);
		return 1;
	}
	return 0;
}

static int check_up(struct run *r)
{
	unsigned problems = 0;

	for (size_t v = 0; v < r->n; v++) {
		struct vm *vm = &r->vms[v];

		for (size_t i = 0; i < vm->cfg.n_net; i++) {
			const struct net_config *n = &vm->cfg.net[i];
			const struct nl_link *own_bridge = NULL, *up;

			if (!n->tap[0]) {
				/* tap_fd only: someone else made the TAP. */
				if (n->bridge[0]) {
					log_err("%s:%u: net[%zu].tap: missing; netsetup needs the "
						"TAP's name to attach it to %s", vm->path, n->line,
						i, n->bridge);
					problems++;
				}
				continue;
			}
			if (resolve_id(n->owner, true, &vm->owner[i]) < 0) {
				log_err("%s:%u: net[%zu].owner: no user \"%s\" in " HOST_PASSWD_FILE,
					vm->path, n->line, i, n->owner);
				problems++;
			}
			if (resolve_id(n->group, false, &vm->group[i]) < 0) {
				log_err("%s:%u: net[%zu].group: no group \"%s\" in " HOST_GROUP_FILE,
					vm->path, n->line, i, n->group);
				problems++;
			}
			if (check_own_link(r, vm, n, i, "tap", n->tap, "tun") < 0)
				problems++;
			if (!n->bridge[0])
				continue;
			if (!n->has_subnet) {
				problems += check_attach(r, vm, n, i);
				continue;
			}
			problems += check_bridge(r, vm, n, i, &own_bridge);

			if (n->uplink) {
				up = nl_find_link(&r->st, n->uplink);
				if (!up) {
					log_err("%s:%u: net[%zu].uplink: no interface %s on this "
						"host", vm->path, n->line, i, n->uplink);
					problems++;
				}
			} else {
				up = nl_find_index(&r->st, r->st.default_oif);
				if (!up) {
					log_err("%s:%u: net[%zu].uplink: not given, and this host "
						"has no IPv4 default route to take it from",
						vm->path, n->line, i);
					problems++;
				}
			}
			if (up && !strncmp(up->alias, NETSETUP_ALIAS, strlen(NETSETUP_ALIAS))) {
				log_err("%s:%u: net[%zu].uplink: %s is a VM interface made by "
					"netsetup", vm->path, n->line, i, up->name);
				problems++;
			} else if (up) {
				snprintf(vm->uplink_buf[i], IFNAMSIZ, "%s", up->name);
				vm->uplink[i] = vm->uplink_buf[i];
			}

			/* The subnet must be new to this host: an address already in
			 * it elsewhere (the LAN, another VM) would make routing to
			 * the guest ambiguous. */
			for (size_t a = 0; a < r->st.n_addrs; a++) {
				const struct nl_addr *ad = &r->st.addrs[a];
				const struct nl_link *l = nl_find_index(&r->st, ad->index);
				char s1[16], s2[16];

				if (own_bridge && ad->index == own_bridge->index)
					continue;
				if (!plan_overlap(n->subnet, n->prefix, ad->addr, ad->prefix))
					continue;
				config_format_ipv4(n->subnet, s1);
				config_format_ipv4(ad->addr, s2);
				log_err("%s:%u: net[%zu].subnet: %s/%u overlaps %s/%u on %s, "
					"which this host already has", vm->path, n->line, i, s1,
					n->prefix, s2, ad->prefix, l ? l->name : "?");
				problems++;
			}
		}
	}
	if (problems)
		log_err("%u problem%s found; nothing was changed", problems,
			problems == 1 ? "" : "s");
	return problems ? -1 : 0;
}

/* ---- up: changes ---- */

/* The anchor table records whether forwarding was off before netsetup, so
 * that the last `down` can put it back. */
static int up_forwarding(struct run *r)
{
	int fwd = 0, ret;
	char cmd[256];

	ret = read_sysctl(IP_FORWARD, &fwd);
	if (ret < 0) {
		log_err(IP_FORWARD ": %s", strerror(-ret));
		return -1;
	}
	if (!nf_has_table(r->tables, NETSETUP_ANCHOR)) {
		snprintf(cmd, sizeof(cmd), "add table ip " NETSETUP_ANCHOR
			 " { comment \"netsetup: ip_forward was %d\"; }", fwd ? 1 : 0);
		if (nf_run(r->nft, cmd, "anchor table") < 0)
			return -1;
	}
	if (!fwd) {
		ret = write_sysctl(IP_FORWARD, 1);
		if (ret < 0) {
			log_err("cannot enable IPv4 forwarding: " IP_FORWARD ": %s",
				strerror(-ret));
			return -1;
		}
		log_notice("enabled IPv4 forwarding");
	}
	return 0;
}

/* Lets forwards from 127.0.0.1 reach the guests behind `bridge`: routing
 * refuses a loopback source on any other interface without it (the output
 * DNAT keeps the source 127.0.0.1 until postrouting masquerades it). The
 * input chain of every VM table keeps guests off 127/8 in return. */
static int up_route_localnet(const struct vm *vm, const char *bridge)
{
	char path[96];
	int val = 0, ret;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/route_localnet", bridge);
	if (!read_sysctl(path, &val) && val == 1)
		return 0;
	ret = write_sysctl(path, 1);
	if (ret < 0) {
		log_err("%s: %s: %s", vm->cfg.name, path, strerror(-ret));
		return -1;
	}
	log_notice("%s: %s takes forwards from 127.0.0.1 (route_localnet)", vm->cfg.name, bridge);
	return 0;
}

static int up_bridge(struct run *r, const struct vm *vm, const struct net_config *n)
{
	const struct nl_link *l = nl_find_link(&r->st, n->bridge);
	char alias[128], addr[16];
	const char *who;
	bool have = false;
	uint8_t mac[6];
	int ret;

	alias_of(vm, alias, sizeof(alias));
	plan_bridge_mac(n, mac);
	if (!l) {
		if (nl_create_bridge(r->nl, n->bridge) < 0 || read_state(r) < 0)
			return -1;
		l = nl_find_link(&r->st, n->bridge);
		if (!l)
			return -1;
		log_notice("%s: created bridge %s", vm->cfg.name, n->bridge);
	}
	/* A bridge just made has no alias yet. */
	who = bridge_other_user(&r->st, vm, l);
	if (l->alias[0] && (who || strcmp(l->alias, alias))) {
		/* Another VM's, or shared already: its MAC, addresses and
		 * alias stay as they are (check_up saw our gateway on it),
		 * except that it is marked shared, belonging to no one VM. */
		if (strcmp(l->alias, NETSETUP_ALIAS_SHARED) || l->group != NETSETUP_IFGROUP) {
			struct nl_change ch = { .alias = NETSETUP_ALIAS_SHARED, .master = -1,
						.group = NETSETUP_IFGROUP, .up = -1 };

			if (link_change(r, l, &ch, "mark it shared") < 0)
				return -1;
			log_notice("%s: shares bridge %s%s%s", vm->cfg.name, n->bridge,
				   who ? " with VM " : "", who ? who : "");
		}
		goto up;
	}
	/* Only what differs is sent: `up` on a finished host changes nothing. */
	if (strcmp(l->alias, alias) || memcmp(l->mac, mac, 6) || l->group != NETSETUP_IFGROUP) {
		struct nl_change ch = { .alias = alias, .mac = mac, .master = -1,
					.group = NETSETUP_IFGROUP, .up = -1 };

		if (link_change(r, l, &ch, "set alias, address and group") < 0)
			return -1;
	}

	/* Exactly one address: the gateway. */
	for (size_t a = 0; a < r->st.n_addrs; a++) {
		const struct nl_addr *ad = &r->st.addrs[a];

		if (ad->index != l->index)
			continue;
		if (ad->addr == n->gateway && ad->prefix == n->prefix) {
			have = true;
			continue;
		}
		config_format_ipv4(ad->addr, addr);
		ret = nl_del_addr(r->nl, l->index, ad->addr, ad->prefix);
		if (ret < 0) {
			log_err("%s: cannot remove old address %s/%u: %s", n->bridge, addr,
				ad->prefix, strerror(-ret));
			return -1;
		}
		log_notice("%s: removed old address %s/%u from %s", vm->cfg.name, addr,
			   ad->prefix, n->bridge);
	}
	config_format_ipv4(n->gateway, addr);
	if (!have) {
		ret = nl_add_addr(r->nl, l->index, n->gateway, n->prefix);
		if (ret < 0) {
			log_err("%s: cannot add address %s/%u: %s", n->bridge, addr, n->prefix,
				strerror(-ret));
			return -1;
		}
		log_notice("%s: %s has address %s/%u", vm->cfg.name, n->bridge, addr, n->prefix);
	}
up:
	if (!(l->flags & IFF_UP)) {
		struct nl_change ch = { .master = -1, .group = -1, .up = 1 };

		if (link_change(r, l, &ch, "bring it up") < 0)
			return -1;
	}
	if (n->n_forward && up_route_localnet(vm, n->bridge) < 0)
		return -1;
	return 0;
}

static int up_tap(struct run *r, const struct vm *vm, size_t i)
{
	const struct net_config *n = &vm->cfg.net[i];
	const struct nl_link *l = nl_find_link(&r->st, n->tap), *br = NULL;
	char alias[128];
	int master = 0;

	alias_of(vm, alias, sizeof(alias));
	if (l && (l->tun_owner != vm->owner[i] || l->tun_group != vm->group[i] || !l->persist)) {
		/* The kernel cannot clear a TAP's owner: make it anew. */
		if (nl_del_link(r->nl, l->index) < 0)
			log_warn("%s: cannot remove it to change its owner", n->tap);
		l = NULL;
		log_notice("%s: TAP %s had another owner; making it anew", vm->cfg.name, n->tap);
	}
	if (l && !l->multi_queue && l->tun_queues) {
		log_warn("%s: TAP %s is single-queue (made by an older netsetup) and in use: "
			 "it is made multi-queue by netsetup up while its VM is stopped",
			 vm->cfg.name, n->tap);
	} else if (l && !l->multi_queue) {
		/* A TAP keeps its queue mode: make it anew for queues = N. */
		if (nl_del_link(r->nl, l->index) < 0)
			log_warn("%s: cannot remove it to make it multi-queue", n->tap);
		l = NULL;
		log_notice("%s: TAP %s was single-queue; making it anew, multi-queue",
			   vm->cfg.name, n->tap);
	}
	if (!l) {
		if (tap_make(n->tap, vm->owner[i], vm->group[i]) < 0 || read_state(r) < 0)
			return -1;
		l = nl_find_link(&r->st, n->tap);
		if (!l)
			return -1;
		log_notice("%s: created TAP %s%s%s", vm->cfg.name, n->tap,
			   n->owner ? " owned by " : "", n->owner ? n->owner : "");
	}
	if (n->bridge[0]) {
		br = nl_find_link(&r->st, n->bridge);
		master = br ? br->index : 0;
	}
	if (br && !n->has_subnet) {
		/* Joining a bridge that is not netsetup's must not change it:
		 * a MAC above its ports' keeps its own, and its MTU on the TAP
		 * keeps the bridge from lowering its own to the TAP's. */
		uint8_t mac[6];

		plan_tap_mac(n, mac);
		if (memcmp(l->mac, mac, 6) || l->mtu != br->mtu) {
			struct nl_change ch = { .mac = mac, .mtu = br->mtu, .master = -1,
						.group = -1, .up = -1 };

			if (link_change(r, l, &ch, "set MAC address and MTU") < 0)
				return -1;
		}
	}
	if (strcmp(l->alias, alias) || l->master != master) {
		struct nl_change ch = { .alias = alias, .master = master, .group = -1, .up = -1 };

		if (link_change(r, l, &ch, "set alias and bridge") < 0)
			return -1;
	}
	if (!(l->flags & IFF_UP)) {
		struct nl_change ch = { .master = -1, .group = -1, .up = 1 };

		if (link_change(r, l, &ch, "bring it up") < 0)
			return -1;
	}
	return 0;
}

/* Links made for this VM that its config no longer names. */
static int up_stale(struct run *r, const struct vm *vm)
{
	char alias[128];

	alias_of(vm, alias, sizeof(alias));
	for (size_t k = 0; k < r->st.n_links; k++) {
		const struct nl_link *l = &r->st.links[k];
		bool named = false;

		if (strcmp(l->alias, alias))
			continue;
		for (size_t i = 0; i < vm->cfg.n_net; i++)
			named |= !strcmp(l->name, vm->cfg.net[i].tap) ||
				 (vm->cfg.net[i].has_subnet && !strcmp(l->name, vm->cfg.net[i].bridge));
		if (named)
			continue;
		if (!strcmp(l->kind, "bridge")) {
			if (release_bridge(r, vm, l, false) < 0)
				return -1;
			continue;
		}
		if (nl_del_link(r->nl, l->index) < 0) {
			log_err("%s: cannot remove %s, no longer in the config", vm->cfg.name,
				l->name);
			return -1;
		}
		log_notice("%s: removed %s, no longer in the config", vm->cfg.name, l->name);
	}
	return read_state(r);
}

static int up_table(struct run *r, const struct vm *vm)
{
	char name[128], cmd[256], want[160], have[160];
	char *text, *listing, *all = NULL;
	int ret = -1;

	snprintf(name, sizeof(name), NETSETUP_TABLE "%s", vm->cfg.name);
	text = plan_nft_table(&vm->cfg, vm->uplink);
	if (!text) {
		if (errno) {
			log_err("%s: out of memory", vm->cfg.name);
			return -1;
		}
		/* No subnet: no table, and none left from an older config. */
		if (!nf_has_table(r->tables, name))
			return 0;
		snprintf(cmd, sizeof(cmd), "delete table ip %s", name);
		return nf_run(r->nft, cmd, name);
	}
	if (nf_has_table(r->tables, name)) {
		snprintf(cmd, sizeof(cmd), "list table ip %s", name);
		listing = nf_list(r->nft, cmd);
		if (listing && plan_table_comment(listing, have, sizeof(have)) &&
		    plan_table_comment(text, want, sizeof(want)) && !strcmp(have, want)) {
			free(listing);
			free(text);
			return 0;
		}
		free(listing);
	}
	/* add + delete + define in one transaction: the table is replaced
	 * atomically, never missing in between. */
	if (asprintf(&all, "add table ip %s\ndelete table ip %s\n%s", name, name, text) < 0) {
		all = NULL;
		goto out;
	}
	ret = nf_run(r->nft, all, name);
	if (!ret)
		log_notice("%s: installed nftables table ip %s", vm->cfg.name, name);
out:
	free(all);
	free(text);
	return ret;
}

int cmd_up(struct run *r)
{
	bool fwd = false;

	if (check_up(r) < 0)
		return 1;
	for (size_t v = 0; v < r->n; v++)
		fwd |= vm_has_subnet(&r->vms[v]);
	if (fwd && up_forwarding(r) < 0)
		return 1;
	for (size_t v = 0; v < r->n; v++) {
		struct vm *vm = &r->vms[v];

		if (up_stale(r, vm) < 0)
			return 1;
		for (size_t i = 0; i < vm->cfg.n_net; i++) {
			const struct net_config *n = &vm->cfg.net[i];

			if (n->has_subnet && up_bridge(r, vm, n) < 0)
				return 1;
			if (n->tap[0] && up_tap(r, vm, i) < 0)
				return 1;
			if (read_state(r) < 0)
				return 1;
		}
		if (up_table(r, vm) < 0)
			return 1;
	}
	return 0;
}
