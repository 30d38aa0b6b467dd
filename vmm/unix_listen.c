/* unix_listen: see unix_listen.h. */
#include "unix_listen.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

int unix_socket_dir(const char *path)
{
	char dir[PATH_MAX];
	char *slash;

	if (strlen(path) >= sizeof(dir))
		return -ENAMETOOLONG;
	strcpy(dir, path);
	slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	if (mkdir(dir, 0700) == 0) {
		log_info("created %s (mode 0700) for sockets", dir);
		return 0;
	}
	return errno == EEXIST ? 0 : -errno;
}

/* Someone accepts connections on `sa`: 1; a dead socket: 0; else -errno. */
static int probe(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0), ret;

	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0 || errno == EAGAIN)
		ret = 1;	/* EAGAIN: alive, with a full backlog */
	else if (errno == ECONNREFUSED)
		ret = 0;
	else
		ret = -errno;
	close(fd);
	return ret;
}

/* Removes a stale socket at `sa`; refuses anything else there. */
static int clear_path(const struct sockaddr_un *sa, const char *what)
{
	const char *path = sa->sun_path;
	struct stat st;
	int ret;

	if (lstat(path, &st) < 0) {
		if (errno == ENOENT)
			return 0;
		ret = -errno;
		log_err("%s %s: %s", what, path, strerror(-ret));
		return ret;
	}
	if (!S_ISSOCK(st.st_mode)) {
		log_err("%s %s exists and is not a socket; not removing it", what, path);
		return -EEXIST;
	}
	ret = probe(sa);
	if (ret > 0) {
		log_err("%s %s: another process listens on it", what, path);
		return -EADDRINUSE;
	}
	if (ret < 0) {
		log_err("%s %s: %s", what, path, strerror(-ret));
		return ret;
	}
	if (unlink(path) < 0 && errno != ENOENT) {
		ret = -errno;
		log_err("removing the stale %s %s: %s", what, path, strerror(-ret));
		return ret;
	}
	log_info("removed the stale %s %s", what, path);
	return 0;
}

int unix_listen_fresh(const char *path, mode_t mode, int backlog, const char *what,
		      struct stat *st)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct stat own;
	mode_t old;
	int fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_err("%s %s: path longer than %zu bytes", what, path,
			sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	strcpy(sa.sun_path, path);
	ret = clear_path(&sa, what);
	if (ret < 0)
		return ret;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		ret = -errno;
		log_err("%s %s: socket: %s", what, path, strerror(-ret));
		return ret;
	}
	old = umask(~mode & 0777);
	ret = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (ret < 0 || stat(path, &own) < 0) {
		ret = -errno;
		log_err("%s %s: %s", what, path, strerror(-ret));
		close(fd);
		return ret;
	}
	if (listen(fd, backlog) < 0) {
		ret = -errno;
		log_err("%s %s: listen: %s", what, path, strerror(-ret));
		close(fd);
		unix_unlink_own(path, own.st_dev, own.st_ino);
		return ret;
	}
	if (st)
		*st = own;
	return fd;
}

int unix_unlink_own(const char *path, dev_t dev, ino_t ino)
{
	struct stat st;

	if (lstat(path, &st) < 0 || st.st_dev != dev || st.st_ino != ino)
		return 0;
	return unlink(path) < 0 ? -errno : 0;
}
