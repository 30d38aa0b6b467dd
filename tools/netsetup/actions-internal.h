/* Private to netsetup's action files (actions.c, up.c, down.c, status.c):
 * the helpers actions.c keeps for all of them. main.c uses netsetup.h only. */
#ifndef NETSETUP_ACTIONS_INTERNAL_H
#define NETSETUP_ACTIONS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netsetup.h"
#include "nl.h"

#define IP_FORWARD "/proc/sys/net/ipv4/ip_forward"

/* The alias netsetup gives the links it makes for `vm`. */
void alias_of(const struct vm *vm, char *buf, size_t len);
/* True when one of vm's [[net]] entries has a subnet (NAT, forwarding). */
bool vm_has_subnet(const struct vm *vm);
/* True when netsetup made the link (its alias says so). */
bool is_netsetup(const struct nl_link *l);
/* True when link `index` has addr/prefix. */
bool link_has_addr(const struct nl_state *st, int index, uint32_t addr, unsigned prefix);
/* Another VM using netsetup's bridge `br`: its name, or NULL. */
const char *bridge_other_user(const struct nl_state *st, const struct vm *vm,
			      const struct nl_link *br);
/* A user (or group) name or number into *id; NL_NO_ID for none. 0 or -ENOENT. */
int resolve_id(const char *s, bool user, uint32_t *id);
/* A sysctl's integer value, as /proc/sys shows it. 0 or -errno. */
int read_sysctl(const char *path, int *val);
int write_sysctl(const char *path, int val);
/* nl_set_link, logged as "LINK: cannot WHAT". 0 or -errno. */
int link_change(struct run *r, const struct nl_link *l, const struct nl_change *ch,
		const char *what);
/* netsetup's bridge `l`, which `vm` no longer uses: removed, or left to the
 * VMs still on it. 0 or -1. */
int release_bridge(struct run *r, const struct vm *vm, const struct nl_link *l, bool said);

#endif
