/* netsetup's pure half: checks between VM configs, subnet arithmetic and the
 * nftables text for one VM. No system calls, so the unit tests drive it. */
#ifndef NETSETUP_PLAN_H
#define NETSETUP_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Every VM bridge is put in this interface group so that one rule, the same
 * in every VM's table, can drop forwarding between any two of them without
 * knowing the other VMs. 0x766d is "vm". */
#define NETSETUP_IFGROUP 0x766d
/* IFLA_IFALIAS of every link netsetup makes: "netsetup:VMNAME". It is how
 * `down` finds exactly what it made, and how `up` tells its own bridge from
 * someone else's. */
#define NETSETUP_ALIAS "netsetup:"
/* The alias of a bridge that several VMs with the same subnet share: it
 * belongs to no single VM, and the last `down` of a VM on it removes it.
 * '(' cannot be in a VM name, so no VM's alias is this. */
#define NETSETUP_ALIAS_SHARED NETSETUP_ALIAS "(shared)"
/* nftables: one table per VM, "ip netsetup-VMNAME", and while any exists the
 * empty anchor table "ip netsetup", whose comment remembers whether IPv4
 * forwarding was on before netsetup turned it on. */
#define NETSETUP_TABLE "netsetup-"
#define NETSETUP_ANCHOR "netsetup"

struct plan_vm {
	const char *path;		/* config file, for messages */
	const struct vm_config *cfg;
};

/* Whether two IPv4 prefixes share an address. */
bool plan_overlap(uint32_t a, unsigned pa, uint32_t b, unsigned pb);

/* Problems between configs given together: one VM name twice, a TAP name
 * used twice, overlapping subnets on different bridges, one bridge named with
 * different subnets or gateways (or with a subnet by one and as an existing
 * bridge by another), one guest_ip twice on a shared bridge, a host port
 * forwarded twice. Logs each as "FILE:LINE: net[i].KEY: ..." and returns
 * their number. */
unsigned plan_check_configs(const struct plan_vm *vms, size_t n);

/* The bridge's own MAC: fixed, so that the gateway's MAC the guest has
 * cached does not change when ports come and go (a bridge otherwise takes
 * the lowest port MAC). The guest MAC with 0x04 added to the first byte:
 * still unicast and locally administered, never equal to the guest's. */
void plan_bridge_mac(const struct net_config *n, uint8_t mac[6]);

/* The MAC of a TAP that joins a bridge netsetup does not own: the guest MAC
 * with the first byte 0xfe. A bridge whose MAC was never set takes the
 * lowest of its ports', and a LAN bridge must not change its MAC because a
 * TAP joined; 0xfe.. is above any vendor or usual local MAC (libvirt does the
 * same). The guest never sees it. */
void plan_tap_mac(const struct net_config *n, uint8_t mac[6]);

/* nft input for the VM's table "ip netsetup-NAME": masquerade out of the
 * uplink, the isolation drop, DNAT port forwards (from outside and from the
 * host itself, 127.0.0.1 included), and the drop that keeps guests off the
 * host's 127/8 once a bridge has route_localnet. uplinks[i] is the uplink
 * of cfg->net[i] (ignored for entries without a subnet). Its first line
 * inside the table is a comment with a fingerprint of the rest, which `up`
 * compares to leave an unchanged table alone. NULL if the VM has no subnet
 * (errno 0) or on ENOMEM. */
char *plan_nft_table(const struct vm_config *cfg, const char *const *uplinks);

/* The text of the first `comment "..."` in nft text (ours or a listing);
 * false when there is none. */
bool plan_table_comment(const char *text, char *buf, size_t len);

#endif
