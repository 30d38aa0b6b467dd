/* The listening unix sockets vmm creates at a path (the control socket, the
 * guest readiness socket, the vsock device's host side): one rule for what
 * may be at the path already, and for removing only our own socket. */
#ifndef VMM_UNIX_LISTEN_H
#define VMM_UNIX_LISTEN_H

#include <sys/stat.h>
#include <sys/types.h>

/* Makes the directory of `path` (its last component removed), mode 0700, if
 * it is not there; its parent must exist. 0 (also when it existed), or
 * -errno. */
int unix_socket_dir(const char *path);

/* A stream socket listening on `path`, non-blocking and close-on-exec, born
 * with `mode` (set through the umask: no window in which it has another).
 * What is at `path` already: nothing, or a stale socket (nobody accepts on
 * it), which is removed; a file that is not a socket is refused (-EEXIST)
 * and left alone, as is a socket another process listens on (-EADDRINUSE).
 * On success returns the fd and, when `st` is not NULL, fills it with the
 * socket file's stat (st_dev and st_ino for unix_unlink_own). Else -errno
 * (-ENAMETOOLONG for a path that does not fit sockaddr_un), logged as
 * "WHAT PATH: ..." ("control socket /run/vmm/x.sock: ..."); a socket it bound
 * but could not listen on is removed again. */
int unix_listen_fresh(const char *path, mode_t mode, int backlog, const char *what,
		      struct stat *st);

/* Removes the socket at `path` if it still is the one of st_dev `dev` and
 * st_ino `ino`: a successor may already have replaced it. 0 when removed or
 * not ours (or gone); -errno when unlink failed. */
int unix_unlink_own(const char *path, dev_t dev, ino_t ino);

#endif
