/* netsetup status (what up made and what is missing or differs) and
 * rules (the nftables table up would install). */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions-internal.h"
#include "config.h"
#include "netsetup.h"
#include "nft.h"
#include "nl.h"
#include "plan.h"

/* ---- status ---- */

static void report(bool ok, unsigned *missing, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void report(bool ok, unsigned *missing, const char *fmt, ...)
{
	va_list ap;

	printf("%-8s ", ok ? "ok" : "MISSING");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	if (!ok)
		(*missing)++;
}

static void status_vm(struct run *r, struct vm *vm, unsigned *missing)
{
	const char *name = vm->cfg.name;
	char alias[128], tname[128], cmd[160], want[160], have[160];
	char *text, *listing;
	bool same;

	alias_of(vm, alias, sizeof(alias));
	for (size_t i = 0; i < vm->cfg.n_net; i++) {
		const struct net_config *n = &vm->cfg.net[i];
		const struct nl_link *t = n->tap[0] ? nl_find_link(&r->st, n->tap) : NULL;
		const struct nl_link *b = n->bridge[0] ? nl_find_link(&r->st, n->bridge) : NULL;
		uint32_t owner;
		char addr[16];

		if (n->tap[0] && !t)
			report(false, missing, "%s: TAP %s does not exist", name, n->tap);
		else if (t && strcmp(t->alias, alias))
			report(false, missing, "%s: %s exists but was not made by netsetup for %s",
			       name, n->tap, name);
		else if (t) {
			bool ok = (t->flags & IFF_UP) && (!b || t->master == b->index);

			resolve_id(n->owner, true, &owner);
			ok &= owner == t->tun_owner;
			report(ok, missing, "%s: TAP %s%s%s%s", name, n->tap,
			       t->flags & IFF_UP ? "" : ", down",
			       b && t->master != b->index ? ", not on its bridge" : "",
			       owner != t->tun_owner ? ", wrong owner" : "");
		}
		if (!n->bridge[0])
			continue;
		if (!n->has_subnet) {
			/* Not netsetup's: that it is there is all it needs. */
			report(b && !strcmp(b->kind, "bridge"), missing, "%s: existing bridge %s%s",
			       name, n->bridge, !b ? " does not exist" :
			       strcmp(b->kind, "bridge") ? " is not a bridge" : "");
			continue;
		}
		config_format_ipv4(n->gateway, addr);
		if (!b) {
			report(false, missing, "%s: bridge %s does not exist", name, n->bridge);
		} else if (strcmp(b->alias, alias) && strcmp(b->alias, NETSETUP_ALIAS_SHARED)) {
			report(false, missing, "%s: %s exists but was not made by netsetup for %s%s",
			       name, n->bridge, name, is_netsetup(b) ? " (run up to share it)" : "");
		} else {
			bool has = link_has_addr(&r->st, b->index, n->gateway, n->prefix);
			int localnet = 1;
			char path[96];

			if (n->n_forward) {
				snprintf(path, sizeof(path),
					 "/proc/sys/net/ipv4/conf/%s/route_localnet", n->bridge);
				read_sysctl(path, &localnet);
			}
			report(has && (b->flags & IFF_UP) && localnet == 1, missing,
			       "%s: bridge %s %s/%u%s%s%s%s", name, n->bridge, addr, n->prefix,
			       strcmp(b->alias, alias) ? " (shared)" : "",
			       has ? "" : " (address missing)", b->flags & IFF_UP ? "" : ", down",
			       localnet == 1 ? "" : ", route_localnet off");
		}
	}
	snprintf(tname, sizeof(tname), NETSETUP_TABLE "%s", name);
	if (!vm_has_subnet(vm))
		return;
	if (!nf_has_table(r->tables, tname)) {
		report(false, missing, "%s: nftables table ip %s does not exist", name, tname);
		return;
	}
	/* The fingerprint needs the uplinks as `up` resolved them. */
	for (size_t i = 0; i < vm->cfg.n_net; i++) {
		const struct net_config *n = &vm->cfg.net[i];
		const struct nl_link *up = n->uplink ? nl_find_link(&r->st, n->uplink) :
				      nl_find_index(&r->st, r->st.default_oif);

		vm->uplink[i] = up ? up->name : n->uplink;
	}
	text = plan_nft_table(&vm->cfg, vm->uplink);
	snprintf(cmd, sizeof(cmd), "list table ip %s", tname);
	listing = nf_list(r->nft, cmd);
	same = text && listing && plan_table_comment(text, want, sizeof(want)) &&
	       plan_table_comment(listing, have, sizeof(have)) && !strcmp(want, have);
	report(same, missing, "%s: nftables table ip %s%s", name, tname,
	       same ? "" : " (differs from the config: run up)");
	free(text);
	free(listing);
}

int cmd_status(struct run *r)
{
	unsigned missing = 0;
	int fwd = 0;
	bool any = false;

	for (size_t v = 0; v < r->n; v++) {
		status_vm(r, &r->vms[v], &missing);
		any |= vm_has_subnet(&r->vms[v]);
	}
	if (!r->n) {
		/* Everything netsetup made, whatever the configs say. */
		for (size_t k = 0; k < r->st.n_links; k++) {
			const struct nl_link *l = &r->st.links[k];

			if (!strcmp(l->alias, NETSETUP_ALIAS_SHARED))
				printf("link     %s (%s) shared by VMs\n", l->name, l->kind);
			else if (is_netsetup(l))
				printf("link     %s (%s) for VM %s\n", l->name, l->kind,
				       l->alias + strlen(NETSETUP_ALIAS));
		}
		for (const char *p = r->tables; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
			if (!strncmp(p, "table ip " NETSETUP_ANCHOR, 9 + strlen(NETSETUP_ANCHOR)))
				printf("nft      %.*s\n", (int)strcspn(p, "\n"), p);
	}
	read_sysctl(IP_FORWARD, &fwd);
	if (any)
		report(fwd, &missing, "host: IPv4 forwarding %s", fwd ? "on" : "off");
	else if (!r->n)
		printf("sysctl   IPv4 forwarding %s\n", fwd ? "on" : "off");
	return missing ? EXIT_INCOMPLETE : 0;
}

int cmd_rules(struct run *r)
{
	for (size_t v = 0; v < r->n; v++) {
		struct vm *vm = &r->vms[v];
		char *text;

		for (size_t i = 0; i < vm->cfg.n_net; i++) {
			const struct net_config *n = &vm->cfg.net[i];
			const struct nl_link *up = r->nl && !n->uplink ?
				nl_find_index(&r->st, r->st.default_oif) : NULL;

			vm->uplink[i] = n->uplink ? n->uplink : up ? up->name : "UPLINK";
		}
		text = plan_nft_table(&vm->cfg, vm->uplink);
		if (text)
			fputs(text, stdout);
		free(text);
	}
	return 0;
}
