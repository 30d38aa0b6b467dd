/* safe_open: see safe_open.h. */
#include "safe_open.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"

int safe_open(const char *path, int flags, mode_t mode)
{
	struct stat lst, st, got;
	int fd;

	if (geteuid() != 0)
		return open(path, flags, mode);	/* the kernel checks our rights */
	fd = open(path, flags | O_NOFOLLOW, mode);
	if (fd >= 0 || errno != ELOOP)
		return fd;
	/* ELOOP with O_NOFOLLOW: the last component is a link (or a real
	 * loop, which stat reports again). */
	if (lstat(path, &lst) < 0 || stat(path, &st) < 0)
		return -1;
	if (!S_ISLNK(lst.st_mode)) {
		errno = ELOOP;
		return -1;
	}
	if (lst.st_uid != 0 && lst.st_uid != st.st_uid) {
		log_err("%s is a symbolic link made by uid %u to a file of uid %u: vmm (as "
			"root) follows a link only when root or the file's owner made it",
			path, (unsigned)lst.st_uid, (unsigned)st.st_uid);
		errno = EPERM;
		return -1;
	}
	fd = open(path, flags & ~(O_CREAT | O_EXCL), mode);
	if (fd < 0)
		return -1;
	/* The link may have been replaced between the check and the open. */
	if (fstat(fd, &got) < 0 || got.st_dev != st.st_dev || got.st_ino != st.st_ino) {
		close(fd);
		log_err("%s changed while vmm opened it", path);
		errno = EPERM;
		return -1;
	}
	return fd;
}
