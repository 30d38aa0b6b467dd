/* Finding, identifying and running the host programs vmm starts besides the
 * guest (host_tools.h). */
#include "host_tools.h"

#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
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
