/* The process launcher (vmm/launcher.c): starts virtiofsd, connects to
 * backend sockets (and to virtio-vsock's "<socket>_<port>" listeners) and
 * signals what it started, for filtered threads; see
 * sandbox.h for the API and docs/operations.md for the protocol. */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/close_range.h>

#include "log.h"
#include "sandbox-internal.h"

/* ---- the launcher: helper processes and sockets for filtered threads ----
 *
 * The launcher is forked before any filter is loaded and before vmm gives
 * up root, and keeps every privilege, so what a (possibly compromised)
 * filtered thread may ask of it is as narrow as it can be: an operation
 * and a 32-bit handle into a table that was fixed before the launcher
 * forked (sandbox_register*), plus the signal number for OP_SIGNAL or the
 * port number for OP_CONNECT_PORT (the launcher appends "_<port>" in
 * decimal to its own copy of the prefix: no other path can come of it). What
 * is started, connected to or signalled comes from the launcher's own copy
 * of that table, never from the request; a request of another size, with
 * fds attached, of an unknown operation, a handle out of the table or of
 * the wrong kind, or another signal gets -EINVAL and nothing done. */

enum { OP_START = 1, OP_CONNECT = 2, OP_SIGNAL = 3, OP_CONNECT_PORT = 4 };

struct launcher_req {
	uint32_t op;
	uint32_t id;
	uint32_t arg;		/* OP_SIGNAL: SIGTERM or SIGKILL; OP_CONNECT_PORT: the port; else 0 */
};

struct launcher_reply {
	int32_t err;		/* 0 or -errno */
	int32_t pid;		/* OP_START; an fd comes along with START and CONNECT */
};

struct entry {
	char name[32];
	bool is_socket;		/* sandbox_register_socket*, else a program */
	bool is_prefix;		/* sandbox_register_socket_prefix: sa is "<prefix>" */
	sandbox_exec_fn fn;
	const void *arg;
	struct sockaddr_un sa;	/* is_socket: where to connect */
	/* Programs: the last one started, in the process that started it
	 * (vmm before sandbox_init, the launcher after). */
	pid_t pid;
	int pidfd;
};

static struct entry entries[SANDBOX_MAX_PROGS];
static unsigned nentries;
static bool launcher_forked;		/* the table is fixed from then on */
static int launcher_fd = -1;		/* vmm's end of the socketpair */
static pthread_mutex_t launcher_lock = PTHREAD_MUTEX_INITIALIZER;
static int add_entry(const char *name, struct entry **e)
{
	if (!name)
		return -EINVAL;
	if (launcher_forked)
		return -EBUSY;
	if (nentries >= SANDBOX_MAX_PROGS)
		return -ENOSPC;
	*e = &entries[nentries];
	memset(*e, 0, sizeof(**e));
	snprintf((*e)->name, sizeof((*e)->name), "%s", name);
	(*e)->pid = -1;
	(*e)->pidfd = -1;
	return (int)nentries++;
}

int sandbox_register(const char *name, sandbox_exec_fn fn, const void *arg)
{
	struct entry *e;
	int id;

	if (!fn)
		return -EINVAL;
	id = add_entry(name, &e);
	if (id >= 0) {
		e->fn = fn;
		e->arg = arg;
	}
	return id;
}

int sandbox_register_socket(const char *name, const char *path)
{
	struct entry *e;
	int id;

	if (!path || !*path || strlen(path) >= sizeof(e->sa.sun_path))
		return -EINVAL;
	id = add_entry(name, &e);
	if (id >= 0) {
		e->is_socket = true;
		e->sa.sun_family = AF_UNIX;
		memcpy(e->sa.sun_path, path, strlen(path));
	}
	return id;
}

int sandbox_register_socket_prefix(const char *name, const char *prefix)
{
	struct entry *e;
	int id;

	/* "_4294967295" must fit after it. */
	if (!prefix || !*prefix || strlen(prefix) + 11 >= sizeof(e->sa.sun_path))
		return -EINVAL;
	id = sandbox_register_socket(name, prefix);
	if (id >= 0)
		entries[id].is_prefix = true;
	return id;
}

/* Whether the last process started for `e` may still run: until its pidfd
 * says it exited (an unreaped zombie counts as exited). */
static bool running(struct entry *e)
{
	struct pollfd p;

	if (e->pidfd < 0)
		return false;
	p = (struct pollfd){ .fd = e->pidfd, .events = POLLIN };
	if (poll(&p, 1, 0) == 0)
		return true;
	close(e->pidfd);
	e->pidfd = -1;
	return false;
}

/* Forks the program. In the launcher (`sock` >= 0): fork twice so that the
 * new process is orphaned into vmm (its subreaper) and waits for that
 * before running the program. In vmm itself (before sandbox_init, with one
 * thread): a plain fork. */
static pid_t launch(const struct entry *e, int lfd, int sock, pid_t vmm)
{
	int p[2];
	pid_t mid, pid = -1;

	if (sock < 0) {
		pid = fork();
		if (pid == 0) {
			e->fn(e->arg, lfd);
			_exit(127);
		}
		return pid < 0 ? -errno : pid;
	}
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	mid = fork();
	if (mid == 0) {
		pid = fork();
		if (pid == 0) {
			close(sock);
			/* Until then PR_SET_PDEATHSIG would name the middle one. */
			for (int i = 0; getppid() != vmm; i++) {
				if (i > 5000)
					_exit(126);
				usleep(1000);
			}
			e->fn(e->arg, lfd);
			_exit(127);
		}
		if (write(p[1], &pid, sizeof(pid)) < 0)
			_exit(1);
		_exit(0);
	}
	close(p[1]);
	if (mid < 0) {
		pid = -errno;
	} else {
		if (read(p[0], &pid, sizeof(pid)) != sizeof(pid) || pid < 0)
			pid = -EAGAIN;
		waitpid(mid, NULL, 0);	/* once reaped, `pid` is vmm's */
	}
	close(p[0]);
	return pid;
}

/* OP_START: a listening socket at an autobound abstract address (no path to
 * race on or clean up), our connection queued on it before the program
 * exists (so it is the one the program accepts), then the program. vmm
 * does not reap the new process while it waits for this answer, so the pid
 * cannot be reused before pidfd_open. */
static int op_start(struct entry *e, int sock, pid_t vmm, int *conn, pid_t *pidp)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	socklen_t salen = sizeof(sa);
	int lfd, fd = -1, ret;
	pid_t pid;

	if (running(e))
		return -EBUSY;
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -errno;
	if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa_family_t)) < 0 || listen(lfd, 1) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &salen) < 0)
		goto err;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, salen) < 0)
		goto err;
	pid = launch(e, lfd, sock, vmm);
	if (pid < 0) {
		errno = -pid;
		goto err;
	}
	close(lfd);
	e->pid = pid;
	e->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	*conn = fd;
	*pidp = pid;
	return 0;
err:
	ret = -errno;
	if (fd >= 0)
		close(fd);
	close(lfd);
	return ret;
}

static int op_connect(const struct entry *e, int *conn)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), ret;

	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)&e->sa, sizeof(e->sa)) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	*conn = fd;
	return 0;
}

/* OP_CONNECT_PORT: "<prefix>_<port>", built here. */
static int op_connect_port(const struct entry *e, uint32_t port, int *conn)
{
	struct sockaddr_un sa = e->sa;
	size_t len = strlen(e->sa.sun_path);
	int fd, ret;

	snprintf(sa.sun_path + len, sizeof(sa.sun_path) - len, "_%u", port);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	/* A unix stream connect completes or fails at once (EAGAIN: the
	 * backlog is full); it never leaves the launcher waiting. */
	if (connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	*conn = fd;
	return 0;
}

static int op_signal(struct entry *e, int sig)
{
	if (e->pidfd < 0)
		return -ESRCH;
	return syscall(SYS_pidfd_send_signal, e->pidfd, sig, NULL, 0) < 0 ? -errno : 0;
}

/* One request, checked field by field; *conn gets an fd to send back. */
static int serve(const struct launcher_req *r, int sock, pid_t vmm, int *conn, pid_t *pid)
{
	struct entry *e;

	if (r->id >= nentries)
		return -EINVAL;
	e = &entries[r->id];
	switch (r->op) {
	case OP_START:
		if (e->is_socket || r->arg)
			return -EINVAL;
		return op_start(e, sock, vmm, conn, pid);
	case OP_CONNECT:
		if (!e->is_socket || e->is_prefix || r->arg)
			return -EINVAL;
		return op_connect(e, conn);
	case OP_CONNECT_PORT:
		if (!e->is_prefix)
			return -EINVAL;
		return op_connect_port(e, r->arg, conn);
	case OP_SIGNAL:
		if (e->is_socket || (r->arg != SIGTERM && r->arg != SIGKILL))
			return -EINVAL;
		return op_signal(e, (int)r->arg);
	default:
		return -EINVAL;
	}
}

/* Closes every fd that came with a message: the launcher takes none. */
static bool drop_fds(struct msghdr *mh)
{
	bool any = false;

	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		any = true;
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		for (size_t i = 0; i + sizeof(int) <= c->cmsg_len - CMSG_LEN(0); i += sizeof(int)) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i, sizeof(fd));
			close(fd);
		}
	}
	return any;
}

static int send_reply(int sock, const struct launcher_reply *rep, int fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { (void *)rep, sizeof(*rep) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (fd >= 0) {
		struct cmsghdr *c;

		memset(&u, 0, sizeof(u));
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &fd, sizeof(fd));
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == (ssize_t)sizeof(*rep) ? 0 : -1;
}

static void launcher_main(int sock, pid_t vmm)
{
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (getppid() != vmm)
		_exit(0);
	/* Keep none of vmm's fds (the VM, TAPs, disks) but stdio and ours. */
	if (dup2(sock, 3) < 0)
		_exit(1);
	sock = 3;
	fcntl(sock, F_SETFD, FD_CLOEXEC);
	syscall(SYS_close_range, 4u, ~0u, 0u);
	/* Programs vmm started itself before this fork: still its unreaped
	 * children, so their pids are theirs. */
	for (unsigned i = 0; i < nentries; i++)
		if (!entries[i].is_socket && entries[i].pid > 0)
			entries[i].pidfd = (int)syscall(SYS_pidfd_open, entries[i].pid, 0);
		else
			entries[i].pidfd = -1;
	for (;;) {
		struct launcher_req req;
		struct launcher_reply rep = { 0, 0 };
		union {
			char buf[CMSG_SPACE(4 * sizeof(int))];
			struct cmsghdr align;
		} u;
		struct iovec iov = { &req, sizeof(req) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
		int conn = -1;
		pid_t pid = 0;
		ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);

		if (n == 0 || (n < 0 && errno != EINTR))
			_exit(0);	/* vmm is gone */
		if (n < 0)
			continue;
		/* SOCK_SEQPACKET: a longer message is truncated (MSG_TRUNC), a
		 * shorter one is short; either is refused, as are fds. */
		if (drop_fds(&mh) || n != (ssize_t)sizeof(req) ||
		    (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)))
			rep.err = -EINVAL;
		else
			rep.err = serve(&req, sock, vmm, &conn, &pid);
		rep.pid = rep.err == 0 ? pid : 0;
		n = send_reply(sock, &rep, rep.err == 0 ? conn : -1);
		if (conn >= 0)
			close(conn);
		if (n < 0)
			_exit(0);
	}
}

int launcher_start(void)
{
	pid_t vmm = getpid(), pid;
	int sv[2];

	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		log_err("sandbox: setting up the process launcher: %m");
		return -errno;
	}
	launcher_forked = true;
	pid = fork();
	if (pid < 0) {
		log_err("sandbox: starting the process launcher: %m");
		close(sv[0]);
		close(sv[1]);
		return -errno;
	}
	if (pid == 0) {
		close(sv[0]);
		launcher_main(sv[1], vmm);
		_exit(0);
	}
	close(sv[1]);
	launcher_fd = sv[0];
	/* vmm's pidfds of what it started are the launcher's business now. */
	for (unsigned i = 0; i < nentries; i++)
		if (entries[i].pidfd >= 0) {
			close(entries[i].pidfd);
			entries[i].pidfd = -1;
		}
	log_debug("sandbox: process launcher is pid %d (%u operation(s))", (int)pid, nentries);
	return 0;
}

int sandbox_launcher_fd(void)
{
	return launcher_fd;
}

/* One round trip to the launcher; `conn` is where an fd is expected, or
 * NULL when none may come. */
static int request(uint32_t op, int id, uint32_t arg, int *conn, pid_t *pid)
{
	struct launcher_req req = { op, (uint32_t)id, arg };
	struct launcher_reply rep;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { &rep, sizeof(rep) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
	struct cmsghdr *c;
	int fd = -1, ret = 0;
	ssize_t n = -1;

	pthread_mutex_lock(&launcher_lock);
	errno = 0;
	if (send(launcher_fd, &req, sizeof(req), MSG_NOSIGNAL) != (ssize_t)sizeof(req) ||
	    (n = recvmsg(launcher_fd, &mh, MSG_CMSG_CLOEXEC)) < 0)
		ret = errno ? -errno : -EIO;
	pthread_mutex_unlock(&launcher_lock);
	if (ret < 0)
		return ret;
	c = CMSG_FIRSTHDR(&mh);
	if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
	    c->cmsg_len == CMSG_LEN(sizeof(int)))
		memcpy(&fd, CMSG_DATA(c), sizeof(fd));
	if (n != (ssize_t)sizeof(rep) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
	    (rep.err == 0 && (conn != NULL) != (fd >= 0)) || (rep.err < 0 && fd >= 0)) {
		if (fd >= 0)
			close(fd);
		return -EPROTO;
	}
	if (rep.err < 0)
		return rep.err;
	if (conn)
		*conn = fd;
	if (pid)
		*pid = rep.pid;
	return 0;
}

int sandbox_start(int id, int *conn, pid_t *pid)
{
	if (id < 0 || (unsigned)id >= nentries || entries[id].is_socket)
		return -EINVAL;
	if (launcher_fd < 0)
		return op_start(&entries[id], -1, getpid(), conn, pid);
	return request(OP_START, id, 0, conn, pid);
}

int sandbox_connect(int id, int *conn)
{
	if (id < 0 || (unsigned)id >= nentries || !entries[id].is_socket || entries[id].is_prefix)
		return -EINVAL;
	if (launcher_fd < 0)
		return op_connect(&entries[id], conn);
	return request(OP_CONNECT, id, 0, conn, NULL);
}

int sandbox_connect_port(int id, uint32_t port, int *conn)
{
	if (id < 0 || (unsigned)id >= nentries || !entries[id].is_prefix)
		return -EINVAL;
	if (launcher_fd < 0)
		return op_connect_port(&entries[id], port, conn);
	return request(OP_CONNECT_PORT, id, port, conn, NULL);
}

int sandbox_signal(int id, int sig)
{
	if (id < 0 || (unsigned)id >= nentries || entries[id].is_socket ||
	    (sig != SIGTERM && sig != SIGKILL))
		return -EINVAL;
	if (launcher_fd < 0)
		return op_signal(&entries[id], sig);
	return request(OP_SIGNAL, id, (uint32_t)sig, NULL, NULL);
}

bool launcher_started(void)
{
	return launcher_forked;
}

unsigned launcher_nentries(void)
{
	return nentries;
}
