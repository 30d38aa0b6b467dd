/* sd_notify for vmm: READY=1, STATUS= and STOPPING=1 to the service
 * manager; see notify.h. */
#include "notify.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"

static int notify_fd = -1;
static atomic_bool warned;

int notify_init(void)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	size_t len;
	int fd, ret;

	if (!path || !*path)
		return 0;
	len = strlen(path);
	/* A path, or an abstract address written with a leading '@'. */
	if ((path[0] != '/' && path[0] != '@') || len >= sizeof(sa.sun_path)) {
		log_warn("NOTIFY_SOCKET=%.120s is not a socket path; not notifying", path);
		unsetenv("NOTIFY_SOCKET");
		return -EINVAL;
	}
	memcpy(sa.sun_path, path, len);
	if (path[0] == '@')
		sa.sun_path[0] = '\0';
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa,
			      (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len)) < 0) {
		ret = -errno;
		log_warn("NOTIFY_SOCKET %.120s: %s; not notifying", path, strerror(-ret));
		if (fd >= 0)
			close(fd);
		unsetenv("NOTIFY_SOCKET");
		return ret;
	}
	unsetenv("NOTIFY_SOCKET");
	notify_fd = fd;
	return 0;
}

void notify_send(const char *msg)
{
	if (notify_fd < 0)
		return;
	if (send(notify_fd, msg, strlen(msg), MSG_NOSIGNAL) < 0 &&
	    !atomic_exchange(&warned, true))
		log_warn("notifying the service manager: %m");
}

void notify_sendf(const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	if (notify_fd < 0)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	notify_send(msg);
}

void notify_close(void)
{
	if (notify_fd >= 0)
		close(notify_fd);
	notify_fd = -1;
}
