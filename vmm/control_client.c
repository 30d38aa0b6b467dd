/* The control socket's clients: `vmm ctl NAME REQUEST` and `vmm list`, and
 * control_request under both; see control.h. */
#include "control.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "config.h"

int control_request(const char *path, const char *request, char *out, size_t len,
		    int timeout_ms)
{
	struct timeval tv = { .tv_sec = timeout_ms / 1000,
			      .tv_usec = (timeout_ms % 1000) * 1000 };
	struct sockaddr_un sa;
	char line[CONTROL_LINE_MAX + 1];
	size_t got = 0;
	int fd, ret;

	if (len == 0)
		return -EINVAL;
	out[0] = '\0';
	ret = control_addr(path, &sa);
	if (ret < 0)
		return ret;
	if ((size_t)snprintf(line, sizeof(line), "%s\n", request) >= sizeof(line))
		return -E2BIG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Bounded waits everywhere: a stuck VMM must not hang its client. */
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    send(fd, line, strlen(line), MSG_NOSIGNAL) != (ssize_t)strlen(line)) {
		ret = -errno;
		goto out;
	}
	while (got + 1 < len) {
		ssize_t n = recv(fd, out + got, len - 1 - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = errno == EAGAIN ? -ETIMEDOUT : -errno;
			goto out;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (memchr(out, '\n', got))
			break;
	}
	out[got] = '\0';
	out[strcspn(out, "\n")] = '\0';
	if (!strncmp(out, "ok", 2) && (out[2] == '\0' || out[2] == ' '))
		ret = 0;
	else if (!strncmp(out, "error", 5))
		ret = 1;
	else
		ret = -EPROTO;
out:
	close(fd);
	return ret;
}

/* The socket of VM `name` in the runtime directory; a name with a '/' is a
 * socket path already. */
static int socket_path(const char *name, char *buf, size_t len)
{
	char dir[PATH_MAX];

	if (strchr(name, '/')) {
		if ((size_t)snprintf(buf, len, "%s", name) >= len)
			return -ENAMETOOLONG;
		return 0;
	}
	if (config_runtime_dir(dir, sizeof(dir)) < 0) {
		fprintf(stderr, "vmm: no runtime directory: set VMM_RUNTIME_DIR or "
			"XDG_RUNTIME_DIR, or give the socket's path\n");
		return -ENOENT;
	}
	if ((size_t)snprintf(buf, len, "%s/%s.sock", dir, name) >= len)
		return -ENAMETOOLONG;
	return 0;
}

int control_main_ctl(int argc, char **argv)
{
	char path[PATH_MAX], reply[CONTROL_REPLY_MAX];
	int ret;

	if (argc != 3) {
		fprintf(stderr, "Usage: vmm ctl NAME|SOCKET "
			"status|pause|resume|shutdown|kill|queues|help\n");
		return 2;
	}
	if (socket_path(argv[1], path, sizeof(path)) < 0)
		return 1;
	ret = control_request(path, argv[2], reply, sizeof(reply), 5000);
	if (ret < 0) {
		if (ret == -ENOENT || ret == -ECONNREFUSED)
			fprintf(stderr, "vmm: %s: no VM is running there (%s)\n", path,
				strerror(-ret));
		else
			fprintf(stderr, "vmm: %s: %s\n", path, strerror(-ret));
		return 1;
	}
	printf("%s\n", reply);
	return ret == 0 ? 0 : 1;
}

/* The value of `key` in an "ok k=v k=v" reply, or "-". */
static void field(const char *reply, const char *key, char *out, size_t len)
{
	size_t k = strlen(key);

	snprintf(out, len, "-");
	for (const char *p = reply; (p = strstr(p, key)); p += k) {
		if ((p == reply || p[-1] == ' ') && p[k] == '=') {
			snprintf(out, len, "%.*s", (int)strcspn(p + k + 1, " "), p + k + 1);
			return;
		}
	}
}

static void format_uptime(const char *s, char *out, size_t len)
{
	char *end;
	unsigned long long t = strtoull(s, &end, 10);

	if (end == s || *end)
		snprintf(out, len, "-");
	else if (t >= 86400)
		snprintf(out, len, "%llud%02lluh", t / 86400, t % 86400 / 3600);
	else if (t >= 3600)
		snprintf(out, len, "%lluh%02llum", t / 3600, t % 3600 / 60);
	else if (t >= 60)
		snprintf(out, len, "%llum%02llus", t / 60, t % 60);
	else
		snprintf(out, len, "%llus", t);
}

static int is_sock_name(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return n > 5 && d->d_name[0] != '.' && !strcmp(d->d_name + n - 5, ".sock");
}

int control_main_list(int argc, char **argv)
{
	char dir[PATH_MAX], path[PATH_MAX], reply[1024];
	char name[64], state[32], pid[16], vcpus[8], mem[24], up_s[24], up[24];
	struct dirent **ents;
	int n;

	(void)argv;
	if (argc != 1) {
		fprintf(stderr, "Usage: vmm list\n");
		return 2;
	}
	if (config_runtime_dir(dir, sizeof(dir)) < 0) {
		fprintf(stderr, "vmm: no runtime directory: set VMM_RUNTIME_DIR or "
			"XDG_RUNTIME_DIR\n");
		return 1;
	}
	n = scandir(dir, &ents, is_sock_name, alphasort);
	if (n < 0 && errno != ENOENT) {
		fprintf(stderr, "vmm: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	printf("%-16s %-9s %8s %5s %9s %7s\n", "NAME", "STATE", "PID", "VCPUS",
	       "MEMORY", "UPTIME");
	for (int i = 0; i < n; i++) {
		int ret;

		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name) >=
		    sizeof(path))
			ret = -ENAMETOOLONG;
		else
			ret = control_request(path, "status", reply, sizeof(reply), 2000);
		/* A socket nobody listens on is what a VM that could not clean
		 * up left behind: it is not running. */
		if (ret == -ECONNREFUSED || ret == -ENOENT) {
			free(ents[i]);
			continue;
		}
		snprintf(name, sizeof(name), "%.*s", (int)(strlen(ents[i]->d_name) - 5),
			 ents[i]->d_name);
		if (ret == 0)
			field(reply, "name", name, sizeof(name));
		if (ret != 0) {
			printf("%-16s %-9s (%s)\n", name, "unknown",
			       ret < 0 ? strerror(-ret) : reply);
			free(ents[i]);
			continue;
		}
		field(reply, "state", state, sizeof(state));
		field(reply, "pid", pid, sizeof(pid));
		field(reply, "vcpus", vcpus, sizeof(vcpus));
		field(reply, "memory_mib", mem, sizeof(mem) - 4);
		if (strcmp(mem, "-"))
			strcat(mem, "MiB");
		field(reply, "uptime_s", up_s, sizeof(up_s));
		format_uptime(up_s, up, sizeof(up));
		printf("%-16s %-9s %8s %5s %9s %7s\n", name, state, pid, vcpus, mem, up);
		free(ents[i]);
	}
	if (n > 0)
		free(ents);
	return 0;
}
