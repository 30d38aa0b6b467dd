/* TAP attachment and the TUN ioctls virtio-net needs. Every failure is
 * logged naming the TAP and with what to do about it: a missing or busy
 * TAP is the commonest mistake in a config. */
#include "tap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/if_tun.h>

#include "log.h"

/* One TUNSETIFF on a fresh /dev/net/tun descriptor: the fd or -errno;
 * /dev/net/tun's own failure is logged and sets *logged. */
static int attach(const char *who, const char *name, unsigned flags, bool *logged)
{
	struct ifreq ifr = { 0 };
	int fd, e;

	fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		e = errno;
		log_err("%s: TAP %s: /dev/net/tun: %s%s", who, name, strerror(e),
			e == ENOENT ? " (is the tun module loaded?)" : "");
		*logged = true;
		return -e;
	}
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name);
	ifr.ifr_flags = (short)(IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | flags);
	if (ioctl(fd, TUNSETIFF, &ifr) == 0)
		return fd;
	e = errno;
	close(fd);
	return -e;
}

int tap_open(const char *who, const char *name, unsigned queue, unsigned nqueues,
	     bool *single)
{
	bool logged = false;
	int fd, e;

	if (if_nametoindex(name) == 0) {
		log_err("%s: TAP %s does not exist (create it first: tools/netsetup, "
			"or ip tuntap add %s mode tap multi_queue)", who, name, name);
		return -ENODEV;
	}
	/* The kernel refuses (EINVAL) an attach whose IFF_MULTI_QUEUE differs
	 * from the TAP's own: one queue works on either kind. */
	fd = attach(who, name, IFF_MULTI_QUEUE, &logged);
	if (fd >= 0 || fd != -EINVAL)
		goto out;
	if (nqueues == 1) {
		fd = attach(who, name, 0, &logged);
		goto out;
	}
	if (queue == 0 && (fd = attach(who, name, 0, &logged)) >= 0) {
		if (single) {
			*single = true;
			return fd;
		}
		close(fd);
		log_err("%s: TAP %s was made without multi_queue, so it has one queue and "
			"queues = %u needs %u: make it anew with tools/netsetup (which makes "
			"multi-queue TAPs) or ip tuntap add %s mode tap multi_queue, or set "
			"queues = 1", who, name, nqueues, nqueues, name);
		return -EINVAL;
	}
	fd = -EINVAL;
out:
	if (fd >= 0 || logged)
		return fd;
	e = -fd;
	switch (e) {
	case EBUSY:
		log_err("%s: TAP %s is busy: another process is attached to it", who, name);
		break;
	case EPERM:
		log_err("%s: TAP %s: permission denied: vmm runs as uid %u without "
			"CAP_NET_ADMIN and the TAP is not owned by it (netsetup's owner/group)",
			who, name, (unsigned)geteuid());
		break;
	case EINVAL:
		log_err("%s: %s is not a TAP device (a TUN, or another kind of interface)",
			who, name);
		break;
	default:
		log_err("%s: TAP %s: TUNSETIFF: %s", who, name, strerror(e));
	}
	return -e;
}

int tap_check_fd(const char *who, int fd, char *ifname)
{
	struct ifreq ifr = { 0 };
	unsigned need = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	int fl;

	if (fcntl(fd, F_GETFD) < 0) {
		log_err("%s: tap_fd %d is not an open file descriptor", who, fd);
		return -EBADF;
	}
	if (ioctl(fd, TUNGETIFF, &ifr) < 0) {
		log_err("%s: tap_fd %d is not an attached TAP (TUNGETIFF: %m)", who, fd);
		return -EINVAL;
	}
	if ((ifr.ifr_flags & need) != need) {
		log_err("%s: tap_fd %d (%.*s) lacks%s%s%s: open it with IFF_TAP | IFF_NO_PI | "
			"IFF_VNET_HDR", who, fd, IFNAMSIZ, ifr.ifr_name,
			ifr.ifr_flags & IFF_TAP ? "" : " IFF_TAP",
			ifr.ifr_flags & IFF_NO_PI ? "" : " IFF_NO_PI",
			ifr.ifr_flags & IFF_VNET_HDR ? "" : " IFF_VNET_HDR");
		return -EINVAL;
	}
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
		log_err("%s: tap_fd %d: fcntl: %m", who, fd);
		return -errno;
	}
	snprintf(ifname, IFNAMSIZ, "%.*s", IFNAMSIZ - 1, ifr.ifr_name);
	return 0;
}

int tap_set_vnet_hdr(int fd, int hdr_len)
{
	if (ioctl(fd, TUNSETVNETHDRSZ, &hdr_len) < 0 || ioctl(fd, TUNSETOFFLOAD, 0) < 0)
		return -errno;
	return 0;
}

int tap_set_queue(int fd, bool on)
{
	struct ifreq ifr = { .ifr_flags = on ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE };

	return ioctl(fd, TUNSETQUEUE, &ifr) < 0 ? -errno : 0;
}

int tap_set_offload(int fd, unsigned offloads)
{
	return ioctl(fd, TUNSETOFFLOAD, offloads) < 0 ? -errno : 0;
}

uint16_t tap_mtu(const char *ifname)
{
	struct ifreq ifr = { 0 };
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	int mtu = 1500;

	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (s >= 0 && ioctl(s, SIOCGIFMTU, &ifr) == 0 && ifr.ifr_mtu >= 68 &&
	    ifr.ifr_mtu <= 65535)
		mtu = ifr.ifr_mtu;
	if (s >= 0 && ioctl(s, SIOCGIFFLAGS, &ifr) == 0 && !(ifr.ifr_flags & IFF_UP))
		log_warn("TAP %s is down: the guest's frames are dropped until it is up",
			 ifname);
	if (s >= 0)
		close(s);
	return (uint16_t)mtu;
}

bool tap_gone(int err)
{
	return err == EBADFD || err == EBADF || err == ENODEV || err == ENXIO;
}
