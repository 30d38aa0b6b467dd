/* netsetup's view of the host network through rtnetlink (libmnl): links,
 * IPv4 addresses and the default route, and the few changes it makes. */
#ifndef NETSETUP_NL_H
#define NETSETUP_NL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <net/if.h>

#define NL_NO_ID UINT32_MAX	/* a TAP without owner or group */

struct nl_link {
	int index;
	char name[IFNAMSIZ];
	char kind[16];		/* IFLA_INFO_KIND: "bridge", "tun", "veth"; "" for none */
	char alias[128];	/* IFLA_IFALIAS: netsetup's ownership mark */
	int master;		/* ifindex of the bridge it is a port of, or 0 */
	unsigned flags;		/* IFF_* */
	uint32_t group;
	uint32_t mtu;
	uint8_t mac[6];
	/* kind "tun" only */
	bool tap;		/* IFF_TAP rather than IFF_TUN */
	bool persist;
	bool multi_queue;	/* IFF_MULTI_QUEUE: vmm's queues = N needs it */
	uint32_t tun_queues;	/* queues attached now: a VM uses it */
	uint32_t tun_owner, tun_group;	/* NL_NO_ID when unset */
};

struct nl_addr {
	int index;
	uint32_t addr;		/* host byte order */
	unsigned prefix;
};

struct nl_state {
	struct nl_link *links;
	size_t n_links;
	struct nl_addr *addrs;	/* IPv4 only */
	size_t n_addrs;
	int default_oif;	/* interface of the IPv4 default route (main table), or 0 */
};

struct nl;

int nl_open(struct nl **out);
void nl_close(struct nl *nl);

/* Dumps links, IPv4 addresses and the default route. */
int nl_read_state(struct nl *nl, struct nl_state *st);
void nl_state_free(struct nl_state *st);
const struct nl_link *nl_find_link(const struct nl_state *st, const char *name);
const struct nl_link *nl_find_index(const struct nl_state *st, int index);

int nl_create_bridge(struct nl *nl, const char *name);

/* What nl_set_link changes; a NULL/negative field is left alone. */
struct nl_change {
	const char *alias;
	const uint8_t *mac;
	uint32_t mtu;		/* 0 leaves it */
	int master;		/* ifindex; -1 leaves it */
	int64_t group;		/* -1 leaves it */
	int up;			/* 1 up, 0 down, -1 leaves it */
};
int nl_set_link(struct nl *nl, int index, const struct nl_change *ch);
int nl_del_link(struct nl *nl, int index);
int nl_add_addr(struct nl *nl, int index, uint32_t addr, unsigned prefix);
int nl_del_addr(struct nl *nl, int index, uint32_t addr, unsigned prefix);

/* A persistent TAP named `name` owned by `owner`/`group` (NL_NO_ID: none).
 * TAPs cannot be made over rtnetlink; this is the /dev/net/tun ioctl path,
 * also used to change the owner of an existing one. */
int tap_make(const char *name, uint32_t owner, uint32_t group);

#endif
