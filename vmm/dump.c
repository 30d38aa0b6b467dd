/* Writing what `vmm --dump-*` produces (dump.h); the tables themselves are
 * the architecture's (arch/<arch>/dump.c). */
#include "dump.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "log.h"

int dump_write(const char *path, const void *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
	const char *p = buf;
	int e = 0;

	if (fd < 0) {
		e = errno;
		log_err("%s: %s", path, strerror(e));
		return -e;
	}
	while (len) {
		ssize_t w = write(fd, p, len);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			e = w < 0 ? errno : EIO;
			break;
		}
		p += w;
		len -= (size_t)w;
	}
	if (close(fd) < 0 && !e)
		e = errno;
	if (e)
		log_err("%s: writing: %s", path, strerror(e));
	return -e;
}
