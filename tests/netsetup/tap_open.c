/* Test helper: attaches to an existing TAP the way vmm will with [[net]]
 * queues = 2 (two queues, IFF_TAP | IFF_NO_PI | IFF_VNET_HDR |
 * IFF_MULTI_QUEUE; then the second detached and attached again, as the
 * driver turns its pair off and on) after dropping to UID:GID, to show that
 * netsetup's TAP is multi-queue and that its owner needs no CAP_NET_ADMIN.
 * Usage: tap_open TAP UID GID */
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
	int fd[2];

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
	for (int q = 0; q < 2; q++) {
		fd[q] = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
		if (fd[q] < 0) {
			perror("tap_open: /dev/net/tun");
			return 1;
		}
		ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR | IFF_MULTI_QUEUE;
		strncpy(ifr.ifr_name, argv[1], IFNAMSIZ - 1);
		if (ioctl(fd[q], TUNSETIFF, &ifr) < 0) {
			fprintf(stderr, "tap_open: %s queue %d as %u:%u: %s\n", argv[1], q,
				(unsigned)uid, (unsigned)gid, strerror(errno));
			return 1;
		}
	}
	for (int on = 0; on < 2; on++) {
		struct ifreq qr = { .ifr_flags = on ? IFF_ATTACH_QUEUE : IFF_DETACH_QUEUE };

		if (ioctl(fd[1], TUNSETQUEUE, &qr) < 0) {
			fprintf(stderr, "tap_open: %s: TUNSETQUEUE %s as %u:%u: %s\n", argv[1],
				on ? "attach" : "detach", (unsigned)uid, (unsigned)gid,
				strerror(errno));
			return 1;
		}
	}
	close(fd[0]);
	close(fd[1]);
	return 0;
}
