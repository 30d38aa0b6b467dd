/* Test helper: attaches to an existing TAP the way vmm will (IFF_TAP |
 * IFF_NO_PI | IFF_VNET_HDR) after dropping to UID:GID, to show that the
 * TAP's owner needs no CAP_NET_ADMIN. Usage: tap_open TAP UID GID */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/if_tun.h>

int main(int argc, char **argv)
{
	struct ifreq ifr = { 0 };
	uid_t uid;
	gid_t gid;
	int fd;

	if (argc != 4) {
		fprintf(stderr, "usage: tap_open TAP UID GID\n");
		return 2;
	}
	uid = (uid_t)strtoul(argv[2], NULL, 10);
	gid = (gid_t)strtoul(argv[3], NULL, 10);
	if (setgroups(0, NULL) < 0 || setgid(gid) < 0 || setuid(uid) < 0) {
		perror("tap_open: dropping privileges");
		return 2;
	}
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		perror("tap_open: /dev/net/tun");
		return 1;
	}
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;
	strncpy(ifr.ifr_name, argv[1], IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		fprintf(stderr, "tap_open: %s as %u:%u: %s\n", argv[1], (unsigned)uid,
			(unsigned)gid, strerror(errno));
		return 1;
	}
	close(fd);
	return 0;
}
