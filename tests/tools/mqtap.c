/* mqtap: makes or removes a persistent multi-queue TAP (IFF_MULTI_QUEUE),
 * as tools/netsetup makes them, for net_mq.sh in the test host, whose
 * busybox tunctl makes single-queue TAPs only (and cannot remove a
 * multi-queue one: the kernel refuses an attach whose queue mode differs).
 * Usage: mqtap add|del NAME */
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <linux/if_tun.h>

int main(int argc, char **argv)
{
	struct ifreq ifr = { 0 };
	int fd;

	if (argc != 3 || (strcmp(argv[1], "add") && strcmp(argv[1], "del"))) {
		fprintf(stderr, "usage: mqtap add|del NAME\n");
		return 2;
	}
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0) {
		perror("mqtap: /dev/net/tun");
		return 1;
	}
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | IFF_MULTI_QUEUE;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", argv[2]);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		fprintf(stderr, "mqtap: %s: TUNSETIFF: %m\n", argv[2]);
		return 1;
	}
	if (ioctl(fd, TUNSETPERSIST, strcmp(argv[1], "add") ? 0UL : 1UL) < 0) {
		fprintf(stderr, "mqtap: %s: TUNSETPERSIST: %m\n", argv[2]);
		return 1;
	}
	close(fd);
	return 0;
}
