/* rtnetlink through libmnl: the dumps netsetup plans from and the link and
 * address changes it applies. One request at a time, each acknowledged. */
#include "nl.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>

#include "log.h"

struct nl {
	struct mnl_socket *sock;
	unsigned portid;
	unsigned seq;
	char buf[32768];	/* MNL_SOCKET_DUMP_SIZE: big enough for any dump message */
};

int nl_open(struct nl **out)
{
	struct nl *nl = calloc(1, sizeof(*nl));
	int ret;

	if (!nl)
		return -ENOMEM;
	nl->sock = mnl_socket_open(NETLINK_ROUTE);
	if (!nl->sock) {
		ret = -errno;
		log_err("netlink: cannot open a socket: %m");
		free(nl);
		return ret;
	}
	if (mnl_socket_bind(nl->sock, 0, MNL_SOCKET_AUTOPID) < 0) {
		ret = -errno;
		log_err("netlink: bind: %m");
		mnl_socket_close(nl->sock);
		free(nl);
		return ret;
	}
	nl->portid = mnl_socket_get_portid(nl->sock);
	nl->seq = (unsigned)time(NULL);
	*out = nl;
	return 0;
}

void nl_close(struct nl *nl)
{
	if (!nl)
		return;
	mnl_socket_close(nl->sock);
	free(nl);
}

/* Sends the message in nl->buf and runs `cb` on every reply until the ack
 * or the end of the dump. Returns 0 or the kernel's -errno. */
static int nl_talk(struct nl *nl, struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	unsigned seq = nlh->nlmsg_seq = ++nl->seq;
	ssize_t n;
	int ret;

	if (mnl_socket_sendto(nl->sock, nlh, nlh->nlmsg_len) < 0)
		return -errno;
	do {
		n = mnl_socket_recvfrom(nl->sock, nl->buf, sizeof(nl->buf));
		if (n < 0)
			return -errno;
		ret = mnl_cb_run(nl->buf, (size_t)n, seq, nl->portid, cb, data);
	} while (ret > 0);
	return ret < 0 ? -errno : 0;
}

static struct nlmsghdr *nl_msg(struct nl *nl, uint16_t type, uint16_t flags)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(nl->buf);

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = NLM_F_REQUEST | flags;
	return nlh;
}

/* ---- dumps ---- */

static void copy_str(char *dst, size_t size, const struct nlattr *a)
{
	size_t len = mnl_attr_get_payload_len(a);
	const char *s = mnl_attr_get_str(a);

	len = strnlen(s, len);
	if (len >= size)
		len = size - 1;
	memcpy(dst, s, len);
	dst[len] = '\0';
}

static int tun_attr_cb(const struct nlattr *a, void *data)
{
	struct nl_link *l = data;

	switch (mnl_attr_get_type(a)) {
	case IFLA_TUN_OWNER:
		l->tun_owner = mnl_attr_get_u32(a);
		break;
	case IFLA_TUN_GROUP:
		l->tun_group = mnl_attr_get_u32(a);
		break;
	case IFLA_TUN_TYPE:
		l->tap = mnl_attr_get_u8(a) == IFF_TAP;
		break;
	case IFLA_TUN_PERSIST:
		l->persist = mnl_attr_get_u8(a);
		break;
	case IFLA_TUN_MULTI_QUEUE:
		l->multi_queue = mnl_attr_get_u8(a);
		break;
	case IFLA_TUN_NUM_QUEUES:
		l->tun_queues = mnl_attr_get_u32(a);
		break;
	}
	return MNL_CB_OK;
}

static int linkinfo_cb(const struct nlattr *a, void *data)
{
	struct nl_link *l = data;

	if (mnl_attr_get_type(a) == IFLA_INFO_KIND)
		copy_str(l->kind, sizeof(l->kind), a);
	else if (mnl_attr_get_type(a) == IFLA_INFO_DATA && !strcmp(l->kind, "tun"))
		mnl_attr_parse_nested(a, tun_attr_cb, l);
	return MNL_CB_OK;
}

static int link_attr_cb(const struct nlattr *a, void *data)
{
	struct nl_link *l = data;

	switch (mnl_attr_get_type(a)) {
	case IFLA_IFNAME:
		copy_str(l->name, sizeof(l->name), a);
		break;
	case IFLA_IFALIAS:
		copy_str(l->alias, sizeof(l->alias), a);
		break;
	case IFLA_MASTER:
		l->master = (int)mnl_attr_get_u32(a);
		break;
	case IFLA_GROUP:
		l->group = mnl_attr_get_u32(a);
		break;
	case IFLA_MTU:
		l->mtu = mnl_attr_get_u32(a);
		break;
	case IFLA_ADDRESS:
		if (mnl_attr_get_payload_len(a) == 6)
			memcpy(l->mac, mnl_attr_get_payload(a), 6);
		break;
	case IFLA_LINKINFO:
		/* INFO_KIND comes before INFO_DATA, which needs it. */
		mnl_attr_parse_nested(a, linkinfo_cb, l);
		break;
	}
	return MNL_CB_OK;
}

static int link_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_state *st = data;
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct nl_link *l;

	if (!(st->n_links & 15)) {
		l = reallocarray(st->links, st->n_links + 16, sizeof(*l));
		if (!l) {
			errno = ENOMEM;
			return MNL_CB_ERROR;
		}
		st->links = l;
	}
	l = &st->links[st->n_links++];
	memset(l, 0, sizeof(*l));
	l->index = ifi->ifi_index;
	l->flags = ifi->ifi_flags;
	l->tun_owner = l->tun_group = NL_NO_ID;
	mnl_attr_parse(nlh, sizeof(*ifi), link_attr_cb, l);
	return MNL_CB_OK;
}

struct addr_parse {
	uint32_t local, address;
	bool has_local, has_address;
};

static int addr_attr_cb(const struct nlattr *a, void *data)
{
	struct addr_parse *p = data;

	if (mnl_attr_get_payload_len(a) != 4)
		return MNL_CB_OK;
	if (mnl_attr_get_type(a) == IFA_LOCAL) {
		p->local = ntohl(mnl_attr_get_u32(a));
		p->has_local = true;
	} else if (mnl_attr_get_type(a) == IFA_ADDRESS) {
		p->address = ntohl(mnl_attr_get_u32(a));
		p->has_address = true;
	}
	return MNL_CB_OK;
}

static int addr_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_state *st = data;
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct addr_parse p = { 0 };
	struct nl_addr *a;

	if (ifa->ifa_family != AF_INET)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*ifa), addr_attr_cb, &p);
	if (!p.has_local && !p.has_address)
		return MNL_CB_OK;
	if (!(st->n_addrs & 15)) {
		a = reallocarray(st->addrs, st->n_addrs + 16, sizeof(*a));
		if (!a) {
			errno = ENOMEM;
			return MNL_CB_ERROR;
		}
		st->addrs = a;
	}
	a = &st->addrs[st->n_addrs++];
	a->index = (int)ifa->ifa_index;
	/* IFA_LOCAL is the interface's own address; IFA_ADDRESS is the peer
	 * on point-to-point links. */
	a->addr = p.has_local ? p.local : p.address;
	a->prefix = ifa->ifa_prefixlen;
	return MNL_CB_OK;
}

struct route_parse {
	int oif;
	bool gateway;
};

static int route_attr_cb(const struct nlattr *a, void *data)
{
	struct route_parse *p = data;

	if (mnl_attr_get_type(a) == RTA_OIF)
		p->oif = (int)mnl_attr_get_u32(a);
	else if (mnl_attr_get_type(a) == RTA_MULTIPATH && !p->oif &&
		 mnl_attr_get_payload_len(a) >= sizeof(struct rtnexthop))
		p->oif = ((const struct rtnexthop *)mnl_attr_get_payload(a))->rtnh_ifindex;
	return MNL_CB_OK;
}

static int route_cb(const struct nlmsghdr *nlh, void *data)
{
	struct nl_state *st = data;
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct route_parse p = { 0 };

	if (rtm->rtm_family != AF_INET || rtm->rtm_dst_len || rtm->rtm_table != RT_TABLE_MAIN ||
	    rtm->rtm_type != RTN_UNICAST || st->default_oif)
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*rtm), route_attr_cb, &p);
	st->default_oif = p.oif;
	return MNL_CB_OK;
}

/* One dump request: `hdr` (the family-specific header, family set) after the
 * netlink header, every reply to `cb`. */
static int nl_dump(struct nl *nl, uint16_t type, const void *hdr, size_t len, mnl_cb_t cb,
		   struct nl_state *st, const char *what)
{
	struct nlmsghdr *nlh = nl_msg(nl, type, NLM_F_DUMP);
	int ret;

	memcpy(mnl_nlmsg_put_extra_header(nlh, len), hdr, len);
	ret = nl_talk(nl, nlh, cb, st);
	if (ret < 0)
		log_err("netlink: cannot list %s: %s", what, strerror(-ret));
	return ret;
}

int nl_read_state(struct nl *nl, struct nl_state *st)
{
	const struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	const struct ifaddrmsg ifa = { .ifa_family = AF_INET };
	const struct rtmsg rtm = { .rtm_family = AF_INET };
	int ret;

	memset(st, 0, sizeof(*st));
	ret = nl_dump(nl, RTM_GETLINK, &ifi, sizeof(ifi), link_cb, st, "links");
	if (!ret)
		ret = nl_dump(nl, RTM_GETADDR, &ifa, sizeof(ifa), addr_cb, st, "addresses");
	if (!ret)
		ret = nl_dump(nl, RTM_GETROUTE, &rtm, sizeof(rtm), route_cb, st, "routes");
	if (ret < 0)
		nl_state_free(st);
	return ret;
}

void nl_state_free(struct nl_state *st)
{
	free(st->links);
	free(st->addrs);
	memset(st, 0, sizeof(*st));
}

const struct nl_link *nl_find_link(const struct nl_state *st, const char *name)
{
	for (size_t i = 0; i < st->n_links; i++)
		if (!strcmp(st->links[i].name, name))
			return &st->links[i];
	return NULL;
}

const struct nl_link *nl_find_index(const struct nl_state *st, int index)
{
	for (size_t i = 0; i < st->n_links; i++)
		if (st->links[i].index == index)
			return &st->links[i];
	return NULL;
}

/* ---- changes ---- */

int nl_create_bridge(struct nl *nl, const char *name)
{
	struct nlmsghdr *nlh = nl_msg(nl, RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL | NLM_F_ACK);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));
	struct nlattr *info;
	int ret;

	ifi->ifi_family = AF_UNSPEC;
	mnl_attr_put_strz(nlh, IFLA_IFNAME, name);
	info = mnl_attr_nest_start(nlh, IFLA_LINKINFO);
	mnl_attr_put_strz(nlh, IFLA_INFO_KIND, "bridge");
	mnl_attr_nest_end(nlh, info);
	ret = nl_talk(nl, nlh, NULL, NULL);
	if (ret < 0)
		log_err("%s: cannot create the bridge: %s", name, strerror(-ret));
	return ret;
}

int nl_set_link(struct nl *nl, int index, const struct nl_change *ch)
{
	struct nlmsghdr *nlh = nl_msg(nl, RTM_NEWLINK, NLM_F_ACK);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = index;
	if (ch->up >= 0) {
		ifi->ifi_change = IFF_UP;
		ifi->ifi_flags = ch->up ? IFF_UP : 0;
	}
	if (ch->alias)
		mnl_attr_put_strz(nlh, IFLA_IFALIAS, ch->alias);
	if (ch->mac)
		mnl_attr_put(nlh, IFLA_ADDRESS, 6, ch->mac);
	if (ch->mtu)
		mnl_attr_put_u32(nlh, IFLA_MTU, ch->mtu);
	if (ch->master >= 0)
		mnl_attr_put_u32(nlh, IFLA_MASTER, (uint32_t)ch->master);
	if (ch->group >= 0)
		mnl_attr_put_u32(nlh, IFLA_GROUP, (uint32_t)ch->group);
	return nl_talk(nl, nlh, NULL, NULL);
}

int nl_del_link(struct nl *nl, int index)
{
	struct nlmsghdr *nlh = nl_msg(nl, RTM_DELLINK, NLM_F_ACK);
	struct ifinfomsg *ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifi));

	ifi->ifi_family = AF_UNSPEC;
	ifi->ifi_index = index;
	return nl_talk(nl, nlh, NULL, NULL);
}

static int addr_req(struct nl *nl, uint16_t type, uint16_t flags, int index, uint32_t addr,
		    unsigned prefix)
{
	struct nlmsghdr *nlh = nl_msg(nl, type, NLM_F_ACK | flags);
	struct ifaddrmsg *ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	uint32_t bcast = addr | ~(prefix ? ~(uint32_t)0 << (32 - prefix) : 0);

	ifa->ifa_family = AF_INET;
	ifa->ifa_prefixlen = (uint8_t)prefix;
	ifa->ifa_scope = RT_SCOPE_UNIVERSE;
	ifa->ifa_index = (uint32_t)index;
	mnl_attr_put_u32(nlh, IFA_LOCAL, htonl(addr));
	mnl_attr_put_u32(nlh, IFA_ADDRESS, htonl(addr));
	if (type == RTM_NEWADDR && prefix < 31)
		mnl_attr_put_u32(nlh, IFA_BROADCAST, htonl(bcast));
	return nl_talk(nl, nlh, NULL, NULL);
}

int nl_add_addr(struct nl *nl, int index, uint32_t addr, unsigned prefix)
{
	return addr_req(nl, RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, index, addr, prefix);
}

int nl_del_addr(struct nl *nl, int index, uint32_t addr, unsigned prefix)
{
	return addr_req(nl, RTM_DELADDR, 0, index, addr, prefix);
}

int tap_make(const char *name, uint32_t owner, uint32_t group)
{
	struct ifreq ifr = { 0 };
	int fd, ret = 0;

	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		log_err("%s: cannot open /dev/net/tun: %m", name);
		return ret;
	}
	/* No IFF_VNET_HDR here: vmm sets the offload flags it wants when it
	 * attaches. Multi-queue, since a persistent TAP keeps the queue mode
	 * it was made with, and vmm's [[net]] queues = N attaches N queues
	 * (one queue attaches to either kind). */
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE;
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		ret = -errno;
		log_err("%s: cannot create the TAP: %m", name);
		goto out;
	}
	/* The kernel takes no "unset": a TAP that should lose its owner is
	 * made anew by the caller. */
	if ((owner != NL_NO_ID && ioctl(fd, TUNSETOWNER, (unsigned long)owner) < 0) ||
	    (group != NL_NO_ID && ioctl(fd, TUNSETGROUP, (unsigned long)group) < 0)) {
		ret = -errno;
		log_err("%s: cannot set the TAP's owner: %m", name);
		goto out;
	}
	if (ioctl(fd, TUNSETPERSIST, 1UL) < 0) {
		ret = -errno;
		log_err("%s: cannot make the TAP persistent: %m", name);
	}
out:
	close(fd);
	return ret;
}
