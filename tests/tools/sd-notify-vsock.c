/* sd-notify-vsock: sends one sd_notify message the way systemd's PID 1 does
 * when the credential vmm.notify_socket names an AF_VSOCK address, for the
 * busybox test guest, which has no systemd ([vm] ready = "guest",
 * tests/integration/ready_guest.sh). It follows systemd's
 * src/libsystemd/sd-daemon/sd-daemon.c (pid_notify_with_fds_internal) and
 * src/basic/socket-util.c (socket_address_parse_vsock):
 *   - the address comes from the first systemd.set_credential=vmm.notify_socket:
 *     on the kernel command line (PID 1 imports it from there; the first
 *     assignment of a credential wins);
 *   - "vsock:CID:PORT" tries SOCK_DGRAM, then SOCK_SEQPACKET, then SOCK_STREAM;
 *     "vsock-stream:", "vsock-seqpacket:", "vsock-dgram:" force the type; CID
 *     may be a number or hypervisor/local/host, and must not be empty;
 *   - it binds to a privileged port (1023 downwards) where it may;
 *   - stream and seqpacket: connect, send the whole message, shutdown(SHUT_WR),
 *     then wait for the peer's EOF (data instead is an error).
 * Usage: sd-notify-vsock [--address ADDR] ASSIGNMENT... (joined with '\n', as
 * systemd-notify does). Prints one line saying what happened; exit 0 when
 * the message went out and the peer closed. Built static by the test-host
 * scripts (tests/testhost/run, run-arm64). */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/vm_sockets.h>

#define CRED "systemd.set_credential=vmm.notify_socket:"

/* The credential's value from /proc/cmdline, or NULL. */
static char *address_from_cmdline(void)
{
	static char buf[4096];
	FILE *f = fopen("/proc/cmdline", "r");
	size_t n;
	char *p;

	if (!f)
		return NULL;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	for (p = strtok(buf, " \t\n"); p; p = strtok(NULL, " \t\n")) {
		if (!strcmp(p, "--"))
			return NULL;	/* the rest is init's */
		if (!strncmp(p, CRED, strlen(CRED)))
			return p + strlen(CRED);
	}
	return NULL;
}

static int parse_u32(const char *s, size_t len, unsigned *out)
{
	char tmp[16], *end;
	unsigned long v;

	if (!len || len >= sizeof(tmp))
		return -EINVAL;
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	errno = 0;
	v = strtoul(tmp, &end, 10);
	if (*end || errno || v > UINT_MAX)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

/* socket_address_parse_vsock: type 0 for plain "vsock:". */
static int parse_address(const char *s, int *type, struct sockaddr_vm *sa)
{
	static const struct { const char *prefix; int type; } forms[] = {
		{ "vsock:", 0 }, { "vsock-dgram:", SOCK_DGRAM },
		{ "vsock-seqpacket:", SOCK_SEQPACKET }, { "vsock-stream:", SOCK_STREAM },
	};
	const char *cid, *colon;
	unsigned port, c;
	size_t i, clen;

	for (i = 0; i < sizeof(forms) / sizeof(forms[0]); i++)
		if (!strncmp(s, forms[i].prefix, strlen(forms[i].prefix)))
			break;
	if (i == sizeof(forms) / sizeof(forms[0]))
		return -EPROTO;
	*type = forms[i].type;
	cid = s + strlen(forms[i].prefix);
	colon = strchr(cid, ':');
	if (!colon || parse_u32(colon + 1, strlen(colon + 1), &port) < 0 ||
	    port == VMADDR_PORT_ANY)
		return -EINVAL;
	clen = (size_t)(colon - cid);
	if (clen == 0)
		return -EINVAL;	/* VMADDR_CID_ANY: sd_notify refuses it */
	if (clen == 10 && !strncmp(cid, "hypervisor", 10))
		c = VMADDR_CID_HYPERVISOR;
	else if (clen == 5 && !strncmp(cid, "local", 5))
		c = 1;		/* VMADDR_CID_LOCAL */
	else if (clen == 4 && !strncmp(cid, "host", 4))
		c = VMADDR_CID_HOST;
	else if (parse_u32(cid, clen, &c) < 0)
		return -EINVAL;
	*sa = (struct sockaddr_vm){ .svm_family = AF_VSOCK, .svm_cid = c, .svm_port = port };
	return 0;
}

static void timeout(int sig)
{
	static const char msg[] = "sd-notify-vsock: no EOF from the host within 30 s\n";

	(void)sig;
	if (write(STDOUT_FILENO, msg, sizeof(msg) - 1) < 0) {
		/* exiting either way */
	}
	_exit(3);
}

int main(int argc, char **argv)
{
	const char *addr = NULL;
	struct sockaddr_vm sa, me = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY };
	char msg[4096];
	size_t len = 0, off = 0;
	int type, fd, i = 1, ret;
	char c;

	if (argc > 2 && !strcmp(argv[1], "--address")) {
		addr = argv[2];
		i = 3;
	}
	for (; i < argc; i++) {
		int n = snprintf(msg + len, sizeof(msg) - len, "%s%s", len ? "\n" : "", argv[i]);

		if (n < 0 || (size_t)n >= sizeof(msg) - len) {
			printf("sd-notify-vsock: message too long\n");
			return 2;
		}
		len += (size_t)n;
	}
	if (!addr)
		addr = address_from_cmdline();
	if (!addr) {
		printf("sd-notify-vsock: no " CRED " on the kernel command line\n");
		return 2;
	}
	ret = parse_address(addr, &type, &sa);
	if (ret < 0) {
		printf("sd-notify-vsock: %s: %s\n", addr, strerror(-ret));
		return 2;
	}
	/* sd_notify's order: the requested type, or DGRAM, SEQPACKET, STREAM. */
	fd = socket(AF_VSOCK, (type ? type : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
	if (fd < 0 && !type) {
		type = SOCK_SEQPACKET;
		fd = socket(AF_VSOCK, type | SOCK_CLOEXEC, 0);
		if (fd < 0) {
			type = SOCK_STREAM;
			fd = socket(AF_VSOCK, type | SOCK_CLOEXEC, 0);
		}
	} else if (!type) {
		type = SOCK_DGRAM;
	}
	if (fd < 0) {
		printf("sd-notify-vsock: socket(AF_VSOCK): %s\n", strerror(errno));
		return 1;
	}
	/* From a privileged port, as PID 1: the host may trust those more. */
	for (me.svm_port = 1023; me.svm_port > 0; me.svm_port--)
		if (bind(fd, (struct sockaddr *)&me, sizeof(me)) == 0 || errno != EADDRINUSE)
			break;
	if (type != SOCK_DGRAM && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		printf("sd-notify-vsock: connect to %s: %s\n", addr, strerror(errno));
		return 1;
	}
	do {
		ssize_t n = type == SOCK_DGRAM ?
			sendto(fd, msg + off, len - off, MSG_NOSIGNAL, (struct sockaddr *)&sa,
			       sizeof(sa)) :
			send(fd, msg + off, len - off, MSG_NOSIGNAL);

		if (n < 0) {
			printf("sd-notify-vsock: send to %s: %s\n", addr, strerror(errno));
			return 1;
		}
		if (type != SOCK_STREAM && (size_t)n < len) {
			printf("sd-notify-vsock: short send to %s\n", addr);
			return 1;
		}
		off += (size_t)n;
	} while (off < len);
	if (type != SOCK_DGRAM) {
		ssize_t n;

		/* The end of the message is our EOF; the host's EOF says it has it. */
		if (shutdown(fd, SHUT_WR) < 0) {
			printf("sd-notify-vsock: shutdown: %s\n", strerror(errno));
			return 1;
		}
		signal(SIGALRM, timeout);
		alarm(30);
		n = recv(fd, &c, 1, MSG_NOSIGNAL);
		alarm(0);
		if (n != 0) {
			printf("sd-notify-vsock: waiting for the host's EOF: %s\n",
			       n < 0 ? strerror(errno) : "it sent data");
			return 1;
		}
	}
	close(fd);
	printf("sd-notify-vsock: sent %zu bytes to %s from port %u; the host closed\n", len,
	       addr, me.svm_port);
	return 0;
}
