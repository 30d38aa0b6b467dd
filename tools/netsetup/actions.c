/* What netsetup's actions (up.c, down.c, status.c) share: reading the
 * host's state, netsetup's marks on links (aliases), user and group names,
 * sysctls, changing a link and letting go of a bridge. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "actions-internal.h"
#include "host_ids.h"
#include "log.h"
#include "netsetup.h"
#include "nft.h"
#include "nl.h"
#include "plan.h"

int read_state(struct run *r)
{
	nl_state_free(&r->st);
	free(r->tables);
	r->tables = NULL;
	if (nl_read_state(r->nl, &r->st) < 0)
		return -1;
	r->tables = nf_list(r->nft, "list tables ip");
	if (!r->tables) {
		log_err("nftables: cannot list tables");
		return -1;
	}
	return 0;
}

void alias_of(const struct vm *vm, char *buf, size_t len)
{
	snprintf(buf, len, NETSETUP_ALIAS "%s", vm->cfg.name);
}

bool vm_has_subnet(const struct vm *vm)
{
	for (size_t i = 0; i < vm->cfg.n_net; i++)
		if (vm->cfg.net[i].has_subnet)
			return true;
	return false;
}

bool is_netsetup(const struct nl_link *l)
{
	return !strncmp(l->alias, NETSETUP_ALIAS, strlen(NETSETUP_ALIAS));
}

bool link_has_addr(const struct nl_state *st, int index, uint32_t addr, unsigned prefix)
{
	for (size_t a = 0; a < st->n_addrs; a++)
		if (st->addrs[a].index == index && st->addrs[a].addr == addr &&
		    st->addrs[a].prefix == prefix)
			return true;
	return false;
}

/* A VM other than `vm` using netsetup's bridge `br`: the one its alias
 * names, or one whose TAP is its port. Its name, or NULL when none. */
const char *bridge_other_user(const struct nl_state *st, const struct vm *vm,
			      const struct nl_link *br)
{
	char alias[128];

	alias_of(vm, alias, sizeof(alias));
	if (is_netsetup(br) && strcmp(br->alias, alias) && strcmp(br->alias, NETSETUP_ALIAS_SHARED))
		return br->alias + strlen(NETSETUP_ALIAS);
	for (size_t k = 0; k < st->n_links; k++) {
		const struct nl_link *l = &st->links[k];

		if (l->master == br->index && is_netsetup(l) && strcmp(l->alias, alias))
			return l->alias + strlen(NETSETUP_ALIAS);
	}
	return NULL;
}

int resolve_id(const char *s, bool user, uint32_t *id)
{
	char *end;
	unsigned long v;

	*id = NL_NO_ID;
	if (!s)
		return 0;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (!*end && !errno && v < NL_NO_ID) {
		*id = (uint32_t)v;
		return 0;
	}
	/* The same files vmm reads [vm] user and group from (vmm/host_ids.h). */
	struct host_id found;
	int ret = user ? host_user(HOST_PASSWD_FILE, s, 0, &found) :
		host_group(HOST_GROUP_FILE, s, 0, &found);

	if (ret < 0)
		return ret;
	*id = found.id;
	return 0;
}
int read_sysctl(const char *path, int *val)
{
	char buf[16] = { 0 };
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return -EIO;
	*val = atoi(buf);
	return 0;
}

int write_sysctl(const char *path, int val)
{
	char buf[16];
	int fd = open(path, O_WRONLY | O_CLOEXEC), ret = 0;

	if (fd < 0)
		return -errno;
	snprintf(buf, sizeof(buf), "%d\n", val);
	if (write(fd, buf, strlen(buf)) < 0)
		ret = -errno;
	close(fd);
	return ret;
}

int link_change(struct run *r, const struct nl_link *l, const struct nl_change *ch,
		const char *what)
{
	int ret = nl_set_link(r->nl, l->index, ch);

	if (ret < 0)
		log_err("%s: cannot %s: %s", l->name, what, strerror(-ret));
	return ret;
}

/* netsetup's bridge `l`, which `vm` no longer uses: removed, unless another
 * VM still does; then it is left to them, marked shared. `said`: say so
 * even if nothing changes (this VM's TAP just left it). */
int release_bridge(struct run *r, const struct vm *vm, const struct nl_link *l, bool said)
{
	const char *who = bridge_other_user(&r->st, vm, l);
	char alias[128];
	int ret;

	alias_of(vm, alias, sizeof(alias));
	if (who) {
		if (!strcmp(l->alias, alias)) {
			struct nl_change ch = { .alias = NETSETUP_ALIAS_SHARED, .master = -1,
						.group = -1, .up = -1 };

			if (link_change(r, l, &ch, "mark it shared") < 0)
				return -1;
			said = true;
		}
		if (said)
			log_notice("%s: kept bridge %s, which VM %s still uses", vm->cfg.name,
				   l->name, who);
		return 0;
	}
	ret = nl_del_link(r->nl, l->index);
	if (ret < 0) {
		log_err("%s: cannot remove %s: %s", vm->cfg.name, l->name, strerror(-ret));
		return -1;
	}
	log_notice("%s: removed %s", vm->cfg.name, l->name);
	return 0;
}
