/* Finding, identifying and running the host programs vmm starts besides the
 * guest (host_tools.h). */
#include "host_tools.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static char *in_dir(const char *dir, size_t dlen, const char *name)
{
	size_t n = strlen(name);
	char *p;

	if (dlen == 0 || dir[0] != '/')		/* "" or a relative PATH entry: never */
		return NULL;
	p = malloc(dlen + 1 + n + 1);
	if (!p)
		return NULL;
	memcpy(p, dir, dlen);
	p[dlen] = '/';
	memcpy(p + dlen + 1, name, n + 1);
	if (access(p, X_OK) == 0)
		return p;
	free(p);
	return NULL;
}

char *host_find_program(const char *name)
{
	static const char *const sbin[] = { "/usr/sbin", "/sbin" };
	const char *path = getenv("PATH");
	char *p;

	if (!name[0] || strchr(name, '/')) {
		errno = EINVAL;
		return NULL;
	}
	for (const char *s = path ? path : ""; *s;) {
		size_t len = strcspn(s, ":");

		if ((p = in_dir(s, len, name)))
			return p;
		s += len + (s[len] == ':');
	}
	for (size_t i = 0; i < sizeof(sbin) / sizeof(sbin[0]); i++)
		if ((p = in_dir(sbin[i], strlen(sbin[i]), name)))
			return p;
	errno = ENOENT;
	return NULL;
}

static int spawn(char *const argv[], int out_fd, pid_t *pid)
{
	posix_spawn_file_actions_t fa;
	int ret;

	if (posix_spawn_file_actions_init(&fa))
		return -ENOMEM;
	ret = posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (!ret && out_fd >= 0)
		ret = posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
	else if (!ret)
		ret = posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	if (!ret && out_fd >= 0)
		ret = posix_spawn_file_actions_adddup2(&fa, out_fd, 2);
	if (!ret)
		ret = posix_spawn(pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	return -ret;
}

static int wait_status(pid_t pid)
{
	int st;

	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int host_run(char *const argv[])
{
	pid_t pid;
	int ret = spawn(argv, -1, &pid);

	return ret < 0 ? ret : wait_status(pid);
}

/* What `path --help` prints on stdout and stderr, at most len - 1 bytes,
 * within 5 seconds (then it is killed). Returns the byte count or -errno. */
static ssize_t help_text(const char *path, char *buf, size_t len)
{
	char *argv[] = { (char *)path, "--help", NULL };
	struct timespec t0, t;
	int fds[2], ret;
	size_t n = 0;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC) < 0)
		return -errno;
	ret = spawn(argv, fds[1], &pid);
	close(fds[1]);
	if (ret < 0) {
		close(fds[0]);
		return ret;
	}
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd p = { .fd = fds[0], .events = POLLIN };
		long ms;
		ssize_t r;

		clock_gettime(CLOCK_MONOTONIC, &t);
		ms = 5000 - ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000);
		if (ms <= 0 || n + 1 >= len) {
			kill(pid, SIGKILL);
			break;
		}
		if (poll(&p, 1, (int)ms) < 0 && errno != EINTR)
			break;
		r = read(fds[0], buf + n, len - 1 - n);
		if (r < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	close(fds[0]);
	wait_status(pid);
	buf[n] = '\0';
	return (ssize_t)n;
}

enum virtiofsd_kind host_virtiofsd_kind(const char *path, char *why, size_t why_len)
{
	/* A config names one or two binaries; the fuzzer and tests parse many
	 * configs naming the same one. */
	static struct { char *path; enum virtiofsd_kind kind; } seen[4];
	static unsigned next;
	enum virtiofsd_kind kind = VIRTIOFSD_UNKNOWN;
	char *buf;
	ssize_t n;

	for (size_t i = 0; i < sizeof(seen) / sizeof(seen[0]); i++)
		if (seen[i].path && !strcmp(seen[i].path, path))
			return seen[i].kind;
	buf = malloc(65536);
	if (!buf) {
		snprintf(why, why_len, "out of memory");
		return VIRTIOFSD_UNKNOWN;
	}
	n = help_text(path, buf, 65536);
	if (n < 0)
		snprintf(why, why_len, "cannot run it: %s", strerror((int)-n));
	else if (strstr(buf, "--shared-dir"))
		kind = VIRTIOFSD_RUST;
	else if (strstr(buf, "source="))
		kind = VIRTIOFSD_C;
	else
		snprintf(why, why_len, "its --help names neither --shared-dir (the Rust "
			 "virtiofsd) nor -o source= (QEMU's C virtiofsd): is it a virtiofsd?");
	free(buf);
	if (kind != VIRTIOFSD_UNKNOWN) {
		unsigned i = next++ % (sizeof(seen) / sizeof(seen[0]));
		char *p = strdup(path);

		if (p) {
			free(seen[i].path);
			seen[i].path = p;
			seen[i].kind = kind;
		}
	}
	return kind;
}

const char *host_virtiofsd_kind_name(enum virtiofsd_kind kind)
{
	switch (kind) {
	case VIRTIOFSD_C:
		return "QEMU's C virtiofsd (-o source= options)";
	case VIRTIOFSD_RUST:
		return "the Rust virtiofsd (--shared-dir options)";
	default:
		return "an unknown virtiofsd";
	}
}
