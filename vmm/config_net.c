/* [[net]]: the VM's TAP on the vmm side (or passt, mode = "user"), its host
 * network for tools/netsetup, and the IPv4 helpers both share. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cmdline.h"
#include "config-internal.h"
#include "toml.h"

int config_parse_ipv4(const char *s, uint32_t *addr)
{
	struct in_addr a;

	/* inet_pton takes only the dotted quad: no "10.1", no octal "010". */
	if (inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*addr = ntohl(a.s_addr);
	return 0;
}

int config_parse_cidr(const char *s, uint32_t *addr, unsigned *prefix)
{
	const char *slash = strchr(s, '/');
	char ip[INET_ADDRSTRLEN];
	unsigned p = 0;
	size_t i;

	if (!slash || (size_t)(slash - s) >= sizeof(ip))
		return -EINVAL;
	memcpy(ip, s, (size_t)(slash - s));
	ip[slash - s] = '\0';
	if (config_parse_ipv4(ip, addr) < 0)
		return -EINVAL;
	for (i = 1; slash[i]; i++) {
		if (slash[i] < '0' || slash[i] > '9' || i > 2)
			return -EINVAL;
		p = p * 10 + (unsigned)(slash[i] - '0');
	}
	if (i == 1 || p > 32 || (slash[1] == '0' && slash[2]))
		return -EINVAL;
	*prefix = p;
	return 0;
}

uint32_t config_prefix_mask(unsigned prefix)
{
	return prefix ? ~(uint32_t)0 << (32 - (prefix > 32 ? 32 : prefix)) : 0;
}

void config_format_ipv4(uint32_t addr, char buf[16])
{
	snprintf(buf, 16, "%u.%u.%u.%u", addr >> 24, (addr >> 16) & 0xff,
		 (addr >> 8) & 0xff, addr & 0xff);
}

#define NET_PREFIX_MIN 8
#define NET_PREFIX_MAX 30	/* a /31 has no room for gateway and guest */

/* Interface names end up in netlink requests and nft rule text: keep them
 * to characters that need no quoting anywhere. */
static bool ifname_ok(struct ctx *c, const char *s, unsigned line, const char *table,
		      const char *key)
{
	size_t len = strlen(s);

	if (!len || len > VM_IFNAME_MAX) {
		cfg_err(c, line, table, key, "must be 1 to %d characters, not %zu",
			VM_IFNAME_MAX, len);
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		if (!cfg_name_char_ok(s[i])) {
			cfg_err(c, line, table, key,
				"\"%s\" has a character other than A-Z a-z 0-9 _ . - at offset %zu",
				s, i);
			return false;
		}
	}
	if (s[0] == '.' || s[0] == '-') {
		cfg_err(c, line, table, key, "must not start with '.' or '-'");
		return false;
	}
	return true;
}

/* Copies the interface name at `key` into `dst`; false when absent or bad. */
static bool get_ifname(struct ctx *c, const struct toml_value *tab, const char *table,
		       const char *key, char dst[VM_IFNAME_MAX + 1])
{
	unsigned line;
	const char *s = cfg_get_str(c, tab, table, key, &line);

	if (!s || !ifname_ok(c, s, line, table, key))
		return false;
	memcpy(dst, s, strlen(s) + 1);
	return true;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	for (int i = 0; i < 6; i++) {
		unsigned v = 0;

		for (int k = 0; k < 2; k++) {
			char ch = s[i * 3 + k];

			if (ch >= '0' && ch <= '9')
				v = v * 16 + (unsigned)(ch - '0');
			else if ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'f')
				v = v * 16 + (unsigned)((ch | 0x20) - 'a' + 10);
			else
				return -EINVAL;
		}
		if (s[i * 3 + 2] != (i == 5 ? '\0' : ':'))
			return -EINVAL;
		mac[i] = (uint8_t)v;
	}
	return 0;
}

/* Stable across restarts and hosts, so that the guest's view of its NIC (and
 * any DHCP lease or neighbour cache keyed on it) does not change: FNV-1a of
 * the VM name and the entry's index, with the locally administered bit set
 * and the multicast bit clear. */
static void derive_mac(const char *name, size_t index, uint8_t mac[6])
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (const char *p = name; *p; p++)
		h = (h ^ (unsigned char)*p) * 0x100000001b3ull;
	h = (h ^ 0xff) * 0x100000001b3ull;	/* separator: "a" + 11 != "a1" + 1 */
	h = (h ^ (index & 0xff)) * 0x100000001b3ull;
	mac[0] = 0x02;
	for (int i = 1; i < 6; i++)
		mac[i] = (uint8_t)(h >> (8 * (i - 1)));
}

/* The address at `key` (default `def`) must be a usable host of the subnet. */
static void get_host_addr(struct ctx *c, const struct toml_value *tab, const char *table,
			  const char *key, struct net_config *n, uint32_t def, uint32_t *out)
{
	uint32_t mask = config_prefix_mask(n->prefix), a;
	char net[16];
	unsigned line;
	const char *s;

	*out = def;
	if (!toml_get(tab, key))
		return;
	s = cfg_get_str(c, tab, table, key, &line);
	if (!s)
		return;
	if (config_parse_ipv4(s, &a) < 0) {
		cfg_err(c, line, table, key, "\"%.64s\" is not an IPv4 address (a.b.c.d)", s);
		return;
	}
	config_format_ipv4(n->subnet, net);
	if ((a & mask) != n->subnet)
		cfg_err(c, line, table, key, "%s is outside the subnet %s/%u", s, net, n->prefix);
	else if (a == n->subnet || a == (n->subnet | ~mask))
		cfg_err(c, line, table, key,
			"%s is the %s address of %s/%u, not a usable host address", s,
			a == n->subnet ? "network" : "broadcast", net, n->prefix);
	else
		*out = a;
}

static void load_forward(struct ctx *c, const struct toml_value *fw, const char *table,
			 struct net_config *n)
{
	if (!cfg_type_ok(c, fw, table, TOML_ARRAY) || !toml_len(fw))
		return;
	if (toml_len(fw) > VM_FORWARD_MAX) {
		cfg_err(c, fw->line, table, "forward", "has %zu items; the limit is %d",
			toml_len(fw), VM_FORWARD_MAX);
		return;
	}
	n->forward = calloc(toml_len(fw), sizeof(*n->forward));
	if (!n->forward) {
		cfg_err(c, fw->line, table, "forward", "out of memory");
		return;
	}
	for (size_t i = 0; i < toml_len(fw); i++) {
		const struct toml_value *v = toml_at(fw, i);
		struct net_forward f = { .proto = NET_PROTO_TCP, .line = v->line };
		unsigned long hp, gp;
		const char *s;
		char *end;
		size_t k;

		if (v->kind != TOML_STRING) {
			cfg_err(c, v->line, table, "forward", "item %zu: expected a string, got %s",
				i + 1, toml_kind_name(v->kind));
			continue;
		}
		s = v->u.str.ptr;
		/* "HOST:GUEST" or "HOST:GUEST/udp"; strtoul alone would take
		 * signs and spaces. */
		errno = 0;
		hp = s[0] >= '0' && s[0] <= '9' ? strtoul(s, &end, 10) : 0;
		if (hp && *end == ':' && end[1] >= '0' && end[1] <= '9') {
			gp = strtoul(end + 1, &end, 10);
			if (!strcmp(end, "/udp"))
				f.proto = NET_PROTO_UDP;
			else if (*end && strcmp(end, "/tcp"))
				gp = 0;
		} else {
			gp = 0;
		}
		if (strlen(s) != v->u.str.len || errno || !hp || !gp || hp > 65535 || gp > 65535) {
			cfg_err(c, v->line, table, "forward",
				"item %zu: \"%.64s\" is not HOST_PORT:GUEST_PORT[/tcp|/udp] "
				"with ports 1 to 65535", i + 1, s);
			continue;
		}
		f.host_port = (uint16_t)hp;
		f.guest_port = (uint16_t)gp;
		for (k = 0; k < n->n_forward; k++)
			if (n->forward[k].host_port == f.host_port && n->forward[k].proto == f.proto)
				break;
		if (k < n->n_forward) {
			cfg_err(c, v->line, table, "forward", "item %zu: host port %u/%s is "
				"forwarded twice", i + 1, f.host_port,
				f.proto == NET_PROTO_UDP ? "udp" : "tcp");
			continue;
		}
		n->forward[n->n_forward++] = f;
	}
}

/* [[net]] keys; the loader refuses any other (config_known_keys). */
const char *const cfg_net_keys[] = {
	"tap", "mac", "tap_fd", "bridge", "subnet", "gateway", "guest_ip",
	"uplink", "owner", "group", "forward", "pci_slot", "mode", "forward_address", "passt",
	"vhost", "interrupt_hold_us", "queues", "rx_zero_copy", NULL
};

/* ---- mode = "user": passt instead of a TAP ---- */

static const char *const net_modes[] = { "tap", "user", NULL };

/* The first executable `name` in PATH, or NULL. */
static char *path_lookup(const char *name)
{
	const char *path = getenv("PATH");
	char *r;

	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	while (*path) {
		size_t len = strcspn(path, ":");

		if (len && asprintf(&r, "%.*s/%s", (int)len, path, name) >= 0) {
			if (access(r, X_OK) == 0)
				return r;
			free(r);
		}
		path += len + (path[len] == ':');
	}
	return NULL;
}

/* The keys of mode "user": `forward` (without a subnet: passt does the
 * forwarding), `forward_address` and `passt`; the TAP and host-network
 * keys have no meaning there and are refused, each at its own line. */
static void load_user_entry(struct ctx *c, const struct toml_value *tab, const char *table,
			    struct net_config *n)
{
	static const char *const tap_only[] = {
		"tap", "tap_fd", "bridge", "subnet", "gateway", "guest_ip", "uplink",
		"owner", "group", NULL
	};
	const struct toml_value *v;
	unsigned line = tab->line;
	const char *s;

	for (size_t k = 0; tap_only[k]; k++)
		if ((v = toml_get(tab, tap_only[k])))
			cfg_err(c, v->line, table, tap_only[k], "does not apply to mode = \"user\" "
				"(passt connects the guest; there is no TAP or bridge)");
	if ((v = toml_get(tab, "forward")))
		load_forward(c, v, table, n);
	s = "127.0.0.1";
	if (cfg_get_bool(c, tab, table, "vhost", &n->vhost) && n->vhost)
		cfg_err(c, toml_get(tab, "vhost")->line, table, "vhost", "applies only to a TAP: "
			"with mode = \"user\" the frames go through passt's socket");
	n->vhost = false;
	if (toml_get(tab, "forward_address"))
		s = cfg_get_str(c, tab, table, "forward_address", &line);
	if (s) {
		unsigned char a[16];

		if (inet_pton(AF_INET, s, a) != 1 && inet_pton(AF_INET6, s, a) != 1)
			cfg_err(c, line, table, "forward_address", "\"%.64s\" is not an IPv4 or "
				"IPv6 address", s);
		else
			n->forward_address = cfg_dup(c, s, line, table, "forward_address");
	}
	line = tab->line;
	if (!toml_get(tab, "passt")) {
		n->passt = path_lookup(NET_PASST_DEFAULT);
		if (!n->passt)
			cfg_err(c, line, table, "passt", "passt is not in PATH (install the "
				"Debian package passt, or set passt = \"/path/to/passt\")");
		return;
	}
	s = cfg_get_str(c, tab, table, "passt", &line);
	if (s)
		n->passt = cfg_resolve_path(c, s, line, table, "passt");
	if (n->passt && access(n->passt, X_OK) < 0)
		cfg_err(c, line, table, "passt", "%s: %s", n->passt, strerror(errno));
}

/* `queues`: more than one pair needs a queue of its own per pair, which only
 * a multi-queue TAP opened by name gives (with vhost = true too: one
 * /dev/vhost-net per pair, each on its TAP queue). Unset, one pair per vCPU
 * there (as Linux's driver then uses one per CPU) up to NET_QUEUES_MAX,
 * else 1. */
static void load_queues(struct ctx *c, const struct toml_value *tab, const char *table,
			unsigned vcpus, struct net_config *n)
{
	const struct toml_value *v = toml_get(tab, "queues");
	bool by_name = n->mode == NET_MODE_TAP && !toml_get(tab, "tap_fd");
	int64_t q;

	n->queues = 1;
	if (!v) {
		if (by_name)
			n->queues = vcpus < NET_QUEUES_MAX ? vcpus : NET_QUEUES_MAX;
		return;
	}
	n->queues_given = true;
	if (!cfg_get_int(c, tab, table, "queues", 1, NET_QUEUES_MAX, &q) || q == 1)
		return;
	if (n->mode == NET_MODE_USER)
		cfg_err(c, v->line, table, "queues", "must be 1 with mode = \"user\": the "
			"frames go through passt's one socket");
	else if (!by_name)
		cfg_err(c, v->line, table, "queues", "must be 1 with tap_fd: an inherited "
			"descriptor is one queue of the TAP; give the TAP by name (tap = ...) "
			"for more");
	else
		n->queues = (unsigned)q;
}

static void load_net_entry(struct ctx *c, const struct toml_value *tab, size_t index,
			   struct vm_config *cfg)
{
	/* Keys that describe a network netsetup owns: meaningless on a bridge
	 * it does not own (`bridge` without `subnet`) or on a bare TAP. */
	static const struct {
		const char *key, *why;
	} need_subnet[] = {
		{ "gateway", "the gateway of a network netsetup does not own is not its to set" },
		{ "guest_ip", "without it the guest's address is the LAN's business: "
			      "set it in the guest or by DHCP" },
		{ "uplink", "it is the interface netsetup's NAT leaves by" },
		{ "forward", "netsetup forwards host ports only to a guest on a subnet it "
			     "routes; on an existing bridge reach the guest at its own address" },
		{ NULL, NULL }
	};
	struct net_config *n = &cfg->net[index];
	const struct toml_value *v;
	char table[32];
	unsigned line;
	const char *s;
	int64_t fd;

	snprintf(table, sizeof(table), "net[%zu]", index);
	n->line = tab->line;
	n->tap_fd = -1;
	cfg_check_keys(c, tab, table, cfg_net_keys);
	cfg_get_slot(c, tab, table, &n->pci_slot);
	n->irq_hold_us = NET_IRQ_HOLD_US_DEFAULT;
	if (cfg_get_int(c, tab, table, "interrupt_hold_us", 0, NET_IRQ_HOLD_US_MAX, &fd))
		n->irq_hold_us = (uint32_t)fd;
	n->rx_zero_copy = true;
	cfg_get_bool(c, tab, table, "rx_zero_copy", &n->rx_zero_copy);

	if (toml_get(tab, "mode")) {
		int m = cfg_get_enum(c, tab, table, "mode", net_modes);

		if (m >= 0)
			n->mode = (enum net_mode)m;
	}
	if (n->mode == NET_MODE_USER) {
		load_user_entry(c, tab, table, n);
	} else {
		static const char *const user_only[] = { "forward_address", "passt", NULL };

		for (size_t k = 0; user_only[k]; k++)
			if ((v = toml_get(tab, user_only[k])))
				cfg_err(c, v->line, table, user_only[k],
					"applies only to mode = \"user\"");
		/* 0-2 are stdio, never a TAP. */
		if (cfg_get_int(c, tab, table, "tap_fd", 3, INT32_MAX, &fd))
			n->tap_fd = (int)fd;
		cfg_get_bool(c, tab, table, "vhost", &n->vhost);
		/* vhost-net signals the guest itself: no hold of vmm's applies. */
		if (n->vhost && (v = toml_get(tab, "interrupt_hold_us")))
			cfg_err(c, v->line, table, "interrupt_hold_us",
				"does not apply with vhost = true (the kernel's vhost-net "
				"interrupts the guest itself)");
		if (n->vhost && (v = toml_get(tab, "rx_zero_copy")))
			cfg_err(c, v->line, table, "rx_zero_copy",
				"does not apply with vhost = true (the kernel's vhost-net "
				"moves the frames)");
		if (toml_get(tab, "tap"))
			get_ifname(c, tab, table, "tap", n->tap);
		else if (!toml_get(tab, "tap_fd"))
			cfg_err(c, tab->line, table, "tap", "missing required key (or give tap_fd)");
	}
	load_queues(c, tab, table, cfg->vcpus, n);

	if ((s = cfg_get_str(c, tab, table, "mac", &line))) {
		if (parse_mac(s, n->mac) < 0)
			cfg_err(c, line, table, "mac", "\"%.64s\" is not a MAC address "
				"(xx:xx:xx:xx:xx:xx)", s);
		else if (n->mac[0] & 1)
			cfg_err(c, line, table, "mac", "%s is a multicast address; the "
				"first byte must be even (02:... is the usual choice)", s);
		else if (!(n->mac[0] | n->mac[1] | n->mac[2] | n->mac[3] | n->mac[4] | n->mac[5]))
			cfg_err(c, line, table, "mac", "must not be all zeros");
		else
			n->mac_given = true;
	}
	if (!n->mac_given)
		derive_mac(cfg->name, index, n->mac);

	if (n->mode == NET_MODE_USER)
		return;
	n->owner = cfg_get_user(c, tab, table, "owner");
	n->group = cfg_get_user(c, tab, table, "group");

	if (!toml_get(tab, "subnet")) {
		/* `bridge` alone: the TAP joins a bridge that exists already
		 * (a LAN bridge); netsetup adds and removes only the TAP. */
		if (toml_get(tab, "bridge"))
			get_ifname(c, tab, table, "bridge", n->bridge);
		for (size_t k = 0; need_subnet[k].key; k++)
			if ((v = toml_get(tab, need_subnet[k].key)))
				cfg_err(c, v->line, table, need_subnet[k].key,
					"needs `subnet`: %s", need_subnet[k].why);
		return;
	}
	if ((s = cfg_get_str(c, tab, table, "subnet", &line))) {
		uint32_t mask;
		char net[16];

		if (config_parse_cidr(s, &n->subnet, &n->prefix) < 0) {
			cfg_err(c, line, table, "subnet", "\"%.64s\" is not an IPv4 subnet "
				"(a.b.c.d/prefix, e.g. \"10.1.0.0/24\")", s);
			return;
		}
		if (n->prefix < NET_PREFIX_MIN || n->prefix > NET_PREFIX_MAX) {
			cfg_err(c, line, table, "subnet", "prefix /%u is out of range (/%d to /%d)",
				n->prefix, NET_PREFIX_MIN, NET_PREFIX_MAX);
			return;
		}
		mask = config_prefix_mask(n->prefix);
		if (n->subnet & ~mask) {
			config_format_ipv4(n->subnet & mask, net);
			cfg_err(c, line, table, "subnet", "%s has host bits set (the network "
				"is %s/%u)", s, net, n->prefix);
			return;
		}
	} else {
		return;
	}
	if (!toml_get(tab, "bridge"))
		cfg_err(c, tab->line, table, "bridge", "missing required key (`subnet` needs it)");
	else if (!get_ifname(c, tab, table, "bridge", n->bridge))
		return;
	get_host_addr(c, tab, table, "gateway", n, n->subnet + 1, &n->gateway);
	get_host_addr(c, tab, table, "guest_ip", n, n->subnet + 2, &n->guest_ip);
	if (n->gateway == n->guest_ip) {
		char a[16];

		config_format_ipv4(n->gateway, a);
		v = toml_get(tab, "guest_ip") ? toml_get(tab, "guest_ip") : toml_get(tab, "gateway");
		cfg_err(c, v ? v->line : tab->line, table, v ? v->key : "guest_ip",
			"gateway and guest_ip are both %s", a);
	}
	n->has_subnet = true;
	if (toml_get(tab, "uplink")) {
		char name[VM_IFNAME_MAX + 1];

		if (get_ifname(c, tab, table, "uplink", name))
			n->uplink = cfg_dup(c, name, toml_get(tab, "uplink")->line, table,
					    "uplink");
	}
	if ((v = toml_get(tab, "forward")))
		load_forward(c, v, table, n);
}

/* Checks between entries: each names its own TAP, bridge and subnet. */
static void check_net_entries(struct ctx *c, struct vm_config *cfg)
{
	for (size_t i = 0; i < cfg->n_net; i++) {
		struct net_config *a = &cfg->net[i];
		char table[32];

		snprintf(table, sizeof(table), "net[%zu]", i);
		for (size_t k = 0; k < i; k++) {
			struct net_config *b = &cfg->net[k];
			uint32_t mask;

			if (a->tap[0] && (!strcmp(a->tap, b->tap) || !strcmp(a->tap, b->bridge)))
				cfg_err(c, a->line, table, "tap", "\"%s\" is also used by net[%zu]",
					a->tap, k);
			if (a->bridge[0] && (!strcmp(a->bridge, b->bridge) ||
					     !strcmp(a->bridge, b->tap)))
				cfg_err(c, a->line, table, "bridge",
					"\"%s\" is also used by net[%zu]", a->bridge, k);
			if (a->mac_given && b->mac_given && !memcmp(a->mac, b->mac, 6))
				cfg_err(c, a->line, table, "mac", "is also net[%zu]'s", k);
			if (!a->has_subnet || !b->has_subnet)
				continue;
			mask = config_prefix_mask(a->prefix < b->prefix ? a->prefix : b->prefix);
			if ((a->subnet & mask) == (b->subnet & mask))
				cfg_err(c, a->line, table, "subnet", "overlaps net[%zu]'s subnet", k);
			for (size_t x = 0; x < a->n_forward; x++)
				for (size_t y = 0; y < b->n_forward; y++)
					if (a->forward[x].host_port == b->forward[y].host_port &&
					    a->forward[x].proto == b->forward[y].proto)
						cfg_err(c, a->forward[x].line, table, "forward",
							"host port %u is also forwarded by net[%zu]",
							a->forward[x].host_port, k);
		}
		if (a->tap[0] && !strcmp(a->tap, a->bridge))
			cfg_err(c, a->line, table, "bridge", "must differ from tap");
	}
}

/* Two passt instances cannot listen on the same host port and address. */
static void check_user_forwards(struct ctx *c, struct vm_config *cfg)
{
	for (size_t i = 0; i < cfg->n_net; i++) {
		const struct net_config *a = &cfg->net[i];
		char table[32];

		snprintf(table, sizeof(table), "net[%zu]", i);
		for (size_t k = 0; k < i && a->mode == NET_MODE_USER; k++) {
			const struct net_config *b = &cfg->net[k];

			if (b->mode != NET_MODE_USER || !a->forward_address || !b->forward_address ||
			    strcmp(a->forward_address, b->forward_address))
				continue;
			for (size_t x = 0; x < a->n_forward; x++)
				for (size_t y = 0; y < b->n_forward; y++)
					if (a->forward[x].host_port == b->forward[y].host_port &&
					    a->forward[x].proto == b->forward[y].proto)
						cfg_err(c, a->forward[x].line, table, "forward",
							"host port %u on %s is also forwarded by "
							"net[%zu]", a->forward[x].host_port,
							a->forward_address, k);
		}
	}
}

void cfg_load_net(struct ctx *c, const struct toml_value *arr, struct vm_config *cfg)
{
	char *cmdline;

	if (!arr)
		return;
	if (arr->kind != TOML_ARRAY) {
		cfg_err(c, arr->line, "net", NULL, "expected an array of tables ([[net]]), got %s",
			toml_kind_name(arr->kind));
		return;
	}
	if (toml_len(arr) > VM_NET_MAX) {
		cfg_err(c, arr->line, "net", NULL, "%zu entries; the limit is %d",
			toml_len(arr), VM_NET_MAX);
		return;
	}
	cfg->net = calloc(toml_len(arr), sizeof(*cfg->net));
	if (!cfg->net) {
		cfg_err(c, arr->line, "net", NULL, "out of memory");
		return;
	}
	cfg->n_net = toml_len(arr);
	for (size_t i = 0; i < toml_len(arr); i++) {
		const struct toml_value *v = toml_at(arr, i);

		if (v->kind != TOML_TABLE) {
			cfg_err(c, v->line, "net", NULL, "item %zu: expected a table, got %s",
				i, toml_kind_name(v->kind));
			continue;
		}
		load_net_entry(c, v, i, cfg);
	}
	check_net_entries(c, cfg);
	check_user_forwards(c, cfg);

	/* The ip= parameter is added at boot: refuse now what would not fit. */
	cmdline = config_kernel_cmdline(cfg);
	if (cmdline && strlen(cmdline) >= VM_CMDLINE_MAX)
		cfg_err(c, arr->line, "net", NULL, "boot.cmdline with the guest's ip= parameter "
			"is %zu bytes long; the limit is %d", strlen(cmdline), VM_CMDLINE_MAX - 1);
	free(cmdline);
}
