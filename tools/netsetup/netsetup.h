/* netsetup (builds, checks and removes the host side of VM networks: bridge,
 * TAP, forwarding, NAT; docs/netsetup.md): between main.c and the
 * actions (up.c, down.c, status.c; actions.c for what they share). */
#ifndef NETSETUP_H
#define NETSETUP_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "nft.h"
#include "nl.h"

#define EXIT_INCOMPLETE 3	/* status: something is missing or differs */

struct vm {
	char *path;
	struct vm_config cfg;
	/* Per [[net]] entry, resolved in check_up. */
	uint32_t owner[VM_NET_MAX], group[VM_NET_MAX];
	const char *uplink[VM_NET_MAX];
	char uplink_buf[VM_NET_MAX][IFNAMSIZ];
};

/* One invocation: the VMs of the configs given, the netlink and nftables
 * handles, and the host's state as last read. */
struct run {
	struct vm *vms;
	size_t n;
	struct nl *nl;
	struct nft_ctx *nft;
	struct nl_state st;
	char *tables;		/* `list tables ip` */
};

/* actions.c: (re)reads links, addresses, the default route and the
 * nftables tables. */
int read_state(struct run *r);

/* up.c, down.c, status.c (status and rules). Each returns the exit
 * status. up, down and status need r->nl and r->nft open and read_state
 * done; rules needs no root: r->nl may be NULL. */
int cmd_up(struct run *r);
int cmd_down(struct run *r);
int cmd_status(struct run *r);
int cmd_rules(struct run *r);

#endif
