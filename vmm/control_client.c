/* The control socket's clients: `vmm ctl NAME REQUEST` and `vmm list`, and
 * control_request under both; `vmm ctl NAME console`; see control.h. */
#include "control.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "config.h"

/* Sets the socket's send and receive timeouts (0: none). */
static int set_timeouts(int fd, int timeout_ms)
{
	struct timeval tv = { .tv_sec = timeout_ms / 1000,
			      .tv_usec = (timeout_ms % 1000) * 1000 };

	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	return 0;
}

/* Connects to the socket at `path` and sends `request` with its newline,
 * every wait bounded by timeout_ms: a stuck VMM must not hang its client.
 * Returns the socket, its timeouts still set, or -errno. */
static int send_request(const char *path, const char *request, int timeout_ms)
{
	struct sockaddr_un sa;
	char line[CONTROL_LINE_MAX + 1];
	int fd, ret;

	ret = control_addr(path, &sa);
	if (ret < 0)
		return ret;
	if ((size_t)snprintf(line, sizeof(line), "%s\n", request) >= sizeof(line))
		return -E2BIG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	ret = set_timeouts(fd, timeout_ms);
	if (ret == 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		ret = -errno;
	if (ret == 0) {
		ssize_t n = send(fd, line, strlen(line), MSG_NOSIGNAL);

		if (n != (ssize_t)strlen(line))
			ret = n < 0 ? -errno : -EIO;
	}
	if (ret < 0) {
		close(fd);
		return ret;
	}
	return fd;
}

/* A reply line: 0 for "ok ...", 1 for "error ...", else -EPROTO. */
static int reply_status(const char *line)
{
	if (!strncmp(line, "ok", 2) && (line[2] == '\0' || line[2] == ' '))
		return 0;
	return strncmp(line, "error", 5) ? -EPROTO : 1;
}

int control_request(const char *path, const char *request, char *out, size_t len,
		    int timeout_ms)
{
	size_t got = 0;
	int fd, ret;

	if (len == 0)
		return -EINVAL;
	out[0] = '\0';
	fd = send_request(path, request, timeout_ms);
	if (fd < 0)
		return fd;
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
	ret = reply_status(out);
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

static void unreachable(const char *path, int err)
{
	if (err == ENOENT || err == ECONNREFUSED)
		fprintf(stderr, "vmm: %s: no VM is running there (%s)\n", path, strerror(err));
	else
		fprintf(stderr, "vmm: %s: %s\n", path, strerror(err));
}

int control_main_ctl(int argc, char **argv)
{
	char path[PATH_MAX], reply[CONTROL_REPLY_MAX], req[CONTROL_LINE_MAX];
	bool balloon = argc == 4 && !strcmp(argv[2], "balloon");
	int ret;

	if (argc != 3 && !balloon) {
		fprintf(stderr, "Usage: vmm ctl NAME|SOCKET "
			"status|pause|resume|shutdown|kill|queues|console|help\n"
			"       vmm ctl NAME|SOCKET balloon MIB\n");
		return 2;
	}
	if (balloon && (size_t)snprintf(req, sizeof(req), "balloon %s", argv[3]) >= sizeof(req)) {
		fprintf(stderr, "vmm: balloon: %s is not a size in MiB\n", argv[3]);
		return 2;
	}
	if (socket_path(argv[1], path, sizeof(path)) < 0)
		return 1;
	if (!strcmp(argv[2], "console"))
		return control_console(path, argv[1]);
	ret = control_request(path, balloon ? req : argv[2], reply, sizeof(reply), 5000);
	if (ret < 0) {
		unreachable(path, -ret);
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

/* ---- `vmm ctl NAME console` ---- */

static volatile sig_atomic_t console_signal;

static void on_console_signal(int sig)
{
	console_signal = sig;
}

static int write_all(int fd, const uint8_t *buf, size_t len)
{
	while (len) {
		ssize_t n = write(fd, buf, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Connects, asks for the console and reads the reply line into `reply`;
 * what came after it (the replay's start) goes to `rest`. Returns the
 * connected socket (non-blocking), or -errno (the reply in `reply` for an
 * error line: -EPERM). */
static int console_open(const char *path, char *reply, size_t len, uint8_t *rest,
			size_t restsize, size_t *nrest)
{
	uint8_t buf[CONTROL_LINE_MAX * 2];
	size_t got = 0;
	uint8_t *nl = NULL;
	int fd, ret;

	fd = send_request(path, "console", 5000);
	if (fd < 0)
		return fd;
	while (!nl && got < sizeof(buf)) {
		ssize_t n = recv(fd, buf + got, sizeof(buf) - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			ret = n == 0 ? -EPROTO : errno == EAGAIN ? -ETIMEDOUT : -errno;
			goto fail;
		}
		got += (size_t)n;
		nl = memchr(buf, '\n', got);
	}
	if (!nl) {
		ret = -EPROTO;
		goto fail;
	}
	snprintf(reply, len, "%.*s", (int)(nl - buf), (const char *)buf);
	ret = reply_status(reply);
	if (ret != 0) {
		ret = ret > 0 ? -EPERM : ret;
		goto fail;
	}
	*nrest = got - (size_t)(nl + 1 - buf);
	if (*nrest > restsize)
		*nrest = restsize;	/* cannot happen: buf is smaller */
	memcpy(rest, nl + 1, *nrest);
	/* The console is a session: waits are ours to choose now. */
	ret = set_timeouts(fd, 0);
	if (ret < 0)
		goto fail;
	return fd;
fail:
	close(fd);
	return ret;
}

enum console_end { END_DETACH, END_CLOSED, END_SIGNAL, END_ERROR };

/* Copies both ways until Ctrl-], the end of stdin, vmm closing the
 * connection, a signal, or an error. Never blocks on the socket, so the
 * detach key works even while the guest takes no input. */
static enum console_end console_copy(int fd, const sigset_t *waitmask)
{
	uint8_t in[4096], out[16384];
	size_t in_len = 0, in_off = 0;
	bool in_end = false;

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = STDIN_FILENO, .events = in_len || in_end ? 0 : POLLIN },
			{ .fd = fd, .events = POLLIN | (in_len ? POLLOUT : 0) },
		};
		ssize_t n;

		if (in_end && !in_len)
			return END_DETACH;
		if (ppoll(p, 2, NULL, waitmask) < 0) {
			if (errno != EINTR)
				return END_ERROR;
			if (console_signal)
				return END_SIGNAL;
			continue;
		}
		if (p[1].revents & (POLLIN | POLLHUP | POLLERR)) {
			n = recv(fd, out, sizeof(out), MSG_DONTWAIT);
			if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
				return END_CLOSED;
			if (n > 0 && write_all(STDOUT_FILENO, out, (size_t)n) < 0)
				return END_ERROR;
		}
		if (p[0].revents & (POLLIN | POLLHUP | POLLERR)) {
			uint8_t *key;

			n = read(STDIN_FILENO, in, sizeof(in));
			if (n < 0 && (errno == EINTR || errno == EAGAIN))
				continue;
			if (n <= 0) {
				in_end = true;	/* end of input detaches */
				continue;
			}
			in_off = 0;
			in_len = (size_t)n;
			key = memchr(in, CONTROL_DETACH_KEY, in_len);
			if (key) {
				in_len = (size_t)(key - in);
				in_end = true;
			}
		}
		if (in_len) {
			n = send(fd, in + in_off, in_len, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n < 0 && errno != EAGAIN && errno != EINTR)
				return END_CLOSED;
			if (n > 0) {
				in_off += (size_t)n;
				in_len -= (size_t)n;
			}
		}
	}
}

int control_console(const char *path, const char *name)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	struct sigaction sa = { .sa_handler = on_console_signal };
	char reply[CONTROL_LINE_MAX];
	uint8_t rest[CONTROL_LINE_MAX * 2];
	struct termios saved, raw;
	sigset_t block, waitmask;
	enum console_end end;
	bool is_raw = false;
	size_t nrest = 0;
	int fd, err;

	fd = console_open(path, reply, sizeof(reply), rest, sizeof(rest), &nrest);
	if (fd == -EPERM) {	/* "error MESSAGE" */
		fprintf(stderr, "vmm: %s: %s\n", name, reply + strspn(reply + 5, " ") + 5);
		return 1;
	}
	if (fd < 0) {
		unreachable(path, -fd);
		return 1;
	}
	/* Signals arrive only inside ppoll, so that every way out restores
	 * the terminal. In raw mode the keyboard sends none: Ctrl-C is the
	 * guest's. */
	sigemptyset(&block);
	for (unsigned i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&block, sigs[i]);
	sigprocmask(SIG_BLOCK, &block, &waitmask);
	for (unsigned i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++) {
		sigdelset(&waitmask, sigs[i]);
		sigaction(sigs[i], &sa, NULL);
	}
	signal(SIGPIPE, SIG_IGN);
	if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0) {
		raw = saved;
		cfmakeraw(&raw);
		is_raw = tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0;
	}
	fprintf(stderr, "attached to %s; Ctrl-] detaches%s", name, is_raw ? "\r\n" : "\n");
	end = write_all(STDOUT_FILENO, rest, nrest) < 0 ? END_ERROR :
	      console_copy(fd, &waitmask);
	err = errno;
	close(fd);
	if (is_raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved);
	switch (end) {
	case END_DETACH:
		fprintf(stderr, "%sdetached from %s\n", is_raw ? "\n" : "", name);
		return 0;
	case END_CLOSED:
		fprintf(stderr, "%svmm: %s closed the console (the VM stopped)\n",
			is_raw ? "\n" : "", name);
		return 0;
	case END_SIGNAL:
		fprintf(stderr, "%sdetached from %s (%s)\n", is_raw ? "\n" : "", name,
			strsignal(console_signal));
		signal(console_signal, SIG_DFL);
		sigprocmask(SIG_UNBLOCK, &block, NULL);
		raise(console_signal);
		return 128 + console_signal;
	default:
		fprintf(stderr, "%svmm: %s: console: %s\n", is_raw ? "\n" : "", name,
			strerror(err));
		return 1;
	}
}
