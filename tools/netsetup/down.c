/* netsetup down: removes what up made for the VMs given (links, tables)
 * and, after the last VM's table, the anchor table, with IPv4 forwarding
 * put back as it was. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions-internal.h"
#include "config.h"
#include "log.h"
#include "netsetup.h"
#include "nft.h"
#include "nl.h"
#include "plan.h"

/* ---- down ---- */

/* Adds ifindex `index` to the set `set` of `*n`; `said` ORs into `mark`. */
static void add_bridge(int *set, bool *mark, size_t *n, int index, bool said)
{
	size_t k;

	for (k = 0; k < *n && set[k] != index; k++)
		;
	if (k == *n) {
		set[(*n)++] = index;
		mark[k] = false;
	}
	mark[k] |= said;
}

static int down_vm(struct run *r, const struct vm *vm)
{
	char alias[128], name[128], cmd[256];
	size_t nb = 0;
	int *bridges, ret = 0;
	bool *said;

	if (read_state(r) < 0)
		return -1;
	alias_of(vm, alias, sizeof(alias));
	bridges = calloc(r->st.n_links + 1, sizeof(*bridges));
	said = calloc(r->st.n_links + 1, sizeof(*said));
	if (!bridges || !said) {
		free(bridges);
		free(said);
		log_err("%s: out of memory", vm->cfg.name);
		return -1;
	}
	/* The netsetup bridges this VM may use: its own, those its TAPs are
	 * ports of, and those its config names (found by the VM name alone
	 * even if the config changed since up). Its TAPs go first: a bridge
	 * is removed only when no other VM's TAP is left on it. */
	for (size_t k = 0; k < r->st.n_links; k++) {
		const struct nl_link *l = &r->st.links[k];
		const struct nl_link *m = nl_find_index(&r->st, l->master);
		int err;

		if (strcmp(l->alias, alias))
			continue;
		if (!strcmp(l->kind, "bridge")) {
			add_bridge(bridges, said, &nb, l->index, true);
			continue;
		}
		if (m && is_netsetup(m) && !strcmp(m->kind, "bridge"))
			add_bridge(bridges, said, &nb, m->index, true);
		err = nl_del_link(r->nl, l->index);
		if (err < 0) {
			log_err("%s: cannot remove %s: %s", vm->cfg.name, l->name, strerror(-err));
			ret = -1;
			continue;
		}
		log_notice("%s: removed %s", vm->cfg.name, l->name);
	}
	for (size_t i = 0; i < vm->cfg.n_net; i++) {
		const struct net_config *n = &vm->cfg.net[i];
		const struct nl_link *m = n->has_subnet ? nl_find_link(&r->st, n->bridge) : NULL;

		if (m && is_netsetup(m) && !strcmp(m->kind, "bridge"))
			add_bridge(bridges, said, &nb, m->index, false);
	}
	if (read_state(r) < 0)
		ret = -1;
	for (size_t k = 0; k < nb && !ret; k++) {
		const struct nl_link *l = nl_find_index(&r->st, bridges[k]);

		if (l && release_bridge(r, vm, l, said[k]) < 0)
			ret = -1;
	}
	free(bridges);
	free(said);
	snprintf(name, sizeof(name), NETSETUP_TABLE "%s", vm->cfg.name);
	if (nf_has_table(r->tables, name)) {
		snprintf(cmd, sizeof(cmd), "delete table ip %s", name);
		if (nf_run(r->nft, cmd, name) < 0)
			ret = -1;
		else
			log_notice("%s: removed nftables table ip %s", vm->cfg.name, name);
	}
	return ret;
}

/* After the last VM's table is gone: forwarding as it was, no anchor. */
static int down_anchor(struct run *r)
{
	char *listing, comment[128];
	int ret;

	if (read_state(r) < 0)
		return -1;
	if (!nf_has_table(r->tables, NETSETUP_ANCHOR))
		return 0;
	for (const char *p = strstr(r->tables, "table ip " NETSETUP_TABLE); p;
	     p = strstr(p + 1, "table ip " NETSETUP_TABLE))
		if (p == r->tables || p[-1] == '\n')
			return 0;	/* another VM still uses it */
	listing = nf_list(r->nft, "list table ip " NETSETUP_ANCHOR);
	if (listing && plan_table_comment(listing, comment, sizeof(comment)) &&
	    !strcmp(comment, "netsetup: ip_forward was 0")) {
		ret = write_sysctl(IP_FORWARD, 0);
		if (ret < 0)
			log_err("cannot turn IPv4 forwarding back off: %s", strerror(-ret));
		else
			log_notice("turned IPv4 forwarding back off, as it was before netsetup");
	}
	free(listing);
	return nf_run(r->nft, "delete table ip " NETSETUP_ANCHOR, "anchor table");
}

int cmd_down(struct run *r)
{
	int ret = 0;

	for (size_t v = 0; v < r->n; v++)
		if (down_vm(r, &r->vms[v]) < 0)
			ret = 1;
	if (down_anchor(r) < 0)
		ret = 1;
	return ret;
}
