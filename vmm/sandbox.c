/* Seccomp allowlists per thread kind, as data; see sandbox.h. The tables
 * are what docs/operations.md shows and `vmm --print-seccomp` prints: keep
 * a reason beside every entry and review additions like code. */
#include "sandbox.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <seccomp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <poll.h>
#include <sys/un.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/close_range.h>
#include <linux/futex.h>
#include <linux/if_tun.h>
#include <linux/kvm.h>
#include <sys/ioctl.h>

#include "log.h"

/* What a rule's first argument must be, when it names an fd or a pid that
 * is only known at run time. */
enum a0 {
	A0_ANY,
	A0_VM,		/* the VM fd (sandbox_set_kvm_fds) */
	A0_VCPU,	/* one of the vCPU fds: one rule each */
	A0_STDIN,
	A0_STDERR,
	A0_SELF,	/* this process's pid (tgkill's tgid) */
};

static const char *const a0_words[] = {
	[A0_ANY] = "", [A0_VM] = "VM fd", [A0_VCPU] = "vCPU fds", [A0_STDIN] = "stdin",
	[A0_STDERR] = "stderr", [A0_SELF] = "vmm's own tgid",
};

struct rule {
	const char *name;
	const char *cond;	/* the argument filter in words, "" for none */
	unsigned argc;
	struct scmp_arg_cmp arg;
	enum a0 a0;
	unsigned long req;	/* ioctl request, for the printed table */
	const char *why;
};

#define ANY(n, w)		{ n, "", 0, { 0 }, A0_ANY, 0, w }
#define ARG(n, c, a, w)		{ n, c, 1, a, A0_ANY, 0, w }
#define NO_EXEC			SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)
/* The kernel reads ioctl's fd and request as 32-bit ints, whatever the
 * upper half of the register holds: compare only the lower half, as it
 * does. Request numbers differ per architecture; the macros know them. */
#define LOW32			0xffffffffu
#define IOCTL(r, fd, w)							\
	{ "ioctl", #r, 1, SCMP_A1(SCMP_CMP_MASKED_EQ, LOW32, (r)), fd, (r), w }

/* Every thread: the C library and the allocator underneath our code. */
static const struct rule common_rules[] = {
	ANY("read", "eventfds, sockets, the console"),
	ANY("write", "log lines (stderr), eventfds, the console"),
	ANY("close", "fds of devices and connections that go away"),
	ANY("futex", "mutexes and condition variables"),
	ARG("mmap", "prot without PROT_EXEC", NO_EXEC, "malloc"),
	ARG("mprotect", "prot without PROT_EXEC", NO_EXEC, "malloc arenas"),
	ANY("munmap", "free"),
	ANY("madvise", "free, thread exit"),
	ANY("brk", "malloc"),
	ANY("mremap", "realloc"),
	ANY("rt_sigprocmask", "pthread_sigmask, thread exit"),
	ANY("rt_sigreturn", "return from the kick and SIGSYS handlers"),
	ANY("restart_syscall", "a syscall interrupted by the kick signal"),
	ANY("clock_gettime", "timestamps (when the vDSO cannot serve them)"),
	ANY("clock_nanosleep", "usleep"),
	ANY("nanosleep", "usleep"),
	ANY("sched_yield", "spinning locks in the C library"),
	ANY("getpid", "pthread_kill and raise (tgkill takes the pid)"),
	ANY("gettid", "raise and abort (glibc asks the kernel for its own tid)"),
	{ "tgkill", "", 0, { 0 }, A0_SELF, 0, "pthread_kill (vCPU kicks), raise; no other process" },
	ANY("rseq", "the C library's restartable sequences"),
	ANY("set_robust_list", "thread start in the C library"),
	ANY("getrandom", "the allocator's randomization"),
	ANY("exit", "thread exit"),
	ANY("exit_group", "process exit"),
	IOCTL(TCGETS, A0_STDERR, "isatty(stderr) at the first log line (vmm/log.c)"),
};

static const struct rule main_rules[] = {
	ANY("epoll_wait", "the event loop"),
	ANY("epoll_pwait", "the event loop (aarch64 has no epoll_wait)"),
	ANY("epoll_ctl", "stdin back-pressure, control clients"),
	IOCTL(KVM_IRQ_LINE, A0_VM, "serial input, Ctrl-Alt-Del / the power button"),
	IOCTL(TCGETS, A0_STDIN, "tcsetattr at exit (glibc reads the settings first)"),
	IOCTL(TCSETS, A0_STDIN, "the terminal back to cooked mode at exit"),
	ANY("readv", "console I/O"),
	ANY("writev", "console I/O"),
	ANY("timerfd_settime", "shutdown_timeout"),
	ANY("accept4", "control socket clients"),
	ANY("recvfrom", "control socket requests"),
	ANY("sendto", "control socket replies, sd_notify"),
	ANY("sendmsg", "sd_notify, launcher requests (stopping virtiofsd at exit)"),
	ANY("recvmsg", "launcher replies"),
	ANY("newfstatat", "control socket removal at exit (lstat)"),
	ANY("fstat", "stdio at exit"),
	ANY("unlink", "control socket removal at exit"),
	ANY("unlinkat", "control socket removal at exit"),
	ANY("wait4", "reaping virtiofsd"),
	ANY("fcntl", "file flags of our own fds"),
};

/* Device emulation runs in both the vCPU threads (register accesses:
 * activate, reset) and the I/O thread (queue notifications). Sockets to a
 * vhost-user backend and signals to virtiofsd come from the launcher. */
static const struct rule device_rules[] = {
	ANY("readv", "TAP frames, disk I/O without io_uring"),
	ANY("writev", "TAP frames, disk I/O without io_uring"),
	ANY("pread64", "disk I/O without io_uring"),
	ANY("pwrite64", "disk I/O without io_uring"),
	ANY("preadv", "disk I/O without io_uring"),
	ANY("pwritev", "disk I/O without io_uring"),
	ANY("preadv2", "disk I/O without io_uring"),
	ANY("pwritev2", "disk I/O without io_uring"),
	ANY("fsync", "virtio-blk flush"),
	ANY("fdatasync", "virtio-blk flush"),
	ANY("fallocate", "virtio-blk discard and write zeroes"),
	ANY("ftruncate", "the console file starting over at [console] max_size_mib"),
	ANY("lseek", "disk size"),
	ANY("io_uring_enter", "virtio-blk submissions and completions"),
	ANY("eventfd2", "MSI-X vectors (irqfds) set up by the driver"),
	ANY("epoll_ctl", "watching a reconnected vhost-user backend"),
	ANY("sendmsg", "vhost-user requests with fds, launcher requests"),
	ANY("recvmsg", "vhost-user replies, launcher replies (with the backend's fd)"),
	ANY("sendto", "vhost-user, sd_notify"),
	ANY("recvfrom", "vhost-user liveness check (MSG_PEEK)"),
	ANY("poll", "vhost-user reply timeout"),
	ANY("ppoll", "vhost-user reply timeout (aarch64 has no poll)"),
	ANY("fcntl", "file flags of our own fds"),
	ANY("wait4", "reaping virtiofsd"),
};

static const struct rule io_rules[] = {
	ANY("epoll_wait", "the I/O loop"),
	ANY("epoll_pwait", "the I/O loop (aarch64 has no epoll_wait)"),
	IOCTL(KVM_IRQ_LINE, A0_VM, "virtio-mmio and serial interrupts"),
};

/* KVM_IRQFD and KVM_IOEVENTFD are set up before the threads start. */
static const struct rule vcpu_rules[] = {
	IOCTL(KVM_RUN, A0_VCPU, "running the guest"),
	IOCTL(KVM_GET_REGS, A0_VCPU, "the guest's pc in an error message (x86_64)"),
	IOCTL(KVM_GET_ONE_REG, A0_VCPU, "the guest's pc in an error message (aarch64)"),
	IOCTL(KVM_IRQ_LINE, A0_VM, "interrupts of the devices a register access touches"),
	IOCTL(KVM_SET_GSI_ROUTING, A0_VM, "MSI-X table writes by the driver"),
	IOCTL(TUNSETOFFLOAD, A0_ANY, "virtio-net offloads the driver accepted (TAP fds)"),
};

#define N(t) (sizeof(t) / sizeof((t)[0]))

static const struct {
	const char *name;
	const struct rule *rules[3];
	size_t n[3];
} kinds[SANDBOX_NKINDS] = {
	[SANDBOX_MAIN] = { "main", { common_rules, main_rules, NULL },
			   { N(common_rules), N(main_rules), 0 } },
	[SANDBOX_IO] = { "io", { common_rules, device_rules, io_rules },
			 { N(common_rules), N(device_rules), N(io_rules) } },
	[SANDBOX_VCPU] = { "vcpu", { common_rules, device_rules, vcpu_rules },
			   { N(common_rules), N(device_rules), N(vcpu_rules) } },
};

/* Names for the SIGSYS handler, resolved before any filter is loaded:
 * the handler may only call async-signal-safe functions. */
#define MAX_NR 512
static char nr_names[MAX_NR][24];
static bool enabled;
static __thread int thread_kind = -1;

static size_t append(char *buf, size_t n, size_t cap, const char *s)
{
	while (*s && n < cap)
		buf[n++] = *s++;
	return n;
}

/* Set by the first thread in on_sigsys: the one whose line gets written. */
static atomic_int sigsys_taken;
static int sigsys_never;	/* a futex nobody wakes */

static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	char line[160], num[16];
	int nr = si->si_syscall, i = (int)sizeof(num);
	unsigned u = nr < 0 ? 0u - (unsigned)nr : (unsigned)nr;
	size_t n = 0;

	(void)uc;
	(void)sig;
	/* Two threads can trap at once (every vCPU runs the same code): the
	 * second waits for the first to log and kill the process, rather than
	 * killing it before the line is out. */
	if (atomic_exchange(&sigsys_taken, 1))
		for (;;)
			syscall(SYS_futex, &sigsys_never, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
	num[--i] = '\0';
	do {
		num[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u && i > 1);
	if (nr < 0)
		num[--i] = '-';
	n = append(line, n, sizeof(line), "vmm: seccomp: thread ");
	n = append(line, n, sizeof(line),
		   thread_kind >= 0 && thread_kind < SANDBOX_NKINDS ? kinds[thread_kind].name : "?");
	n = append(line, n, sizeof(line), " called forbidden syscall ");
	n = append(line, n, sizeof(line),
		   nr >= 0 && nr < MAX_NR && nr_names[nr][0] ? nr_names[nr] : "unknown");
	n = append(line, n, sizeof(line), " (nr ");
	n = append(line, n, sizeof(line), num + i);
	n = append(line, n, sizeof(line), ")\n");
	if (write(STDERR_FILENO, line, n) < 0) {
		/* dying anyway */
	}
	/* SIGSYS is blocked inside its own handler: another forbidden call
	 * makes the kernel reset it to the default action and deliver it
	 * (force_sig_seccomp), so the process dies by SIGSYS, core and all.
	 * getppid is on no thread's list (the test trigger uses it too). */
	syscall(SYS_getppid);
	syscall(SYS_exit_group, 128 + SIGSYS);	/* not reached */
}

/* ---- the launcher: helper processes and sockets for filtered threads ----
 *
 * The launcher is forked before any filter is loaded and before vmm gives
 * up root, and keeps every privilege, so what a (possibly compromised)
 * filtered thread may ask of it is as narrow as it can be: an operation
 * and a 32-bit handle into a table that was fixed before the launcher
 * forked (sandbox_register*), plus the signal number for OP_SIGNAL. What
 * is started, connected to or signalled comes from the launcher's own copy
 * of that table, never from the request; a request of another size, with
 * fds attached, of an unknown operation, a handle out of the table or of
 * the wrong kind, or another signal gets -EINVAL and nothing done. */

enum { OP_START = 1, OP_CONNECT = 2, OP_SIGNAL = 3 };

struct launcher_req {
	uint32_t op;
	uint32_t id;
	uint32_t arg;		/* OP_SIGNAL: SIGTERM or SIGKILL; else 0 */
};

struct launcher_reply {
	int32_t err;		/* 0 or -errno */
	int32_t pid;		/* OP_START; an fd comes along with START and CONNECT */
};

struct entry {
	char name[32];
	bool is_socket;		/* sandbox_register_socket, else a program */
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
static int vm_fd = -1;
static int *vcpu_fds;
static unsigned nvcpu_fds;
/* The calling vCPU thread's own fd (sandbox_enter_vcpu), or -1: its filter
 * then allows KVM_RUN and the other vCPU ioctls on that fd only, one rule
 * each instead of one per vCPU on every exit's KVM_RUN. */
static __thread int own_vcpu_fd = -1;

int sandbox_set_kvm_fds(int vm, const int *vcpus, unsigned n)
{
	int *copy = NULL;

	if (launcher_forked)
		return -EBUSY;
	if (n && !(copy = malloc(n * sizeof(*copy))))
		return -ENOMEM;
	if (n)
		memcpy(copy, vcpus, n * sizeof(*copy));
	free(vcpu_fds);
	vcpu_fds = copy;
	nvcpu_fds = n;
	vm_fd = vm;
	return 0;
}

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
		if (!e->is_socket || r->arg)
			return -EINVAL;
		return op_connect(e, conn);
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

static int launcher_start(void)
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
	if (id < 0 || (unsigned)id >= nentries || !entries[id].is_socket)
		return -EINVAL;
	if (launcher_fd < 0)
		return op_connect(&entries[id], conn);
	return request(OP_CONNECT, id, 0, conn, NULL);
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

int sandbox_init(bool on)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys,
				.sa_flags = SA_SIGINFO };
	int ret;

	enabled = on;
	/* The launcher runs with seccomp off too: it keeps root for virtiofsd
	 * restarts after vmm gave it up. */
	if (!on)
		return nentries ? launcher_start() : 0;
	/* Probed once here, not by threads racing in seccomp_init. */
	if (seccomp_api_get() < 1) {
		log_err("seccomp: this kernel or libseccomp has no usable seccomp filter support");
		return -ENOSYS;
	}
	for (int nr = 0; nr < MAX_NR; nr++) {
		char *s = seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, nr);

		if (s) {
			snprintf(nr_names[nr], sizeof(nr_names[nr]), "%s", s);
			free(s);
		}
	}
	ret = launcher_start();
	if (ret < 0)
		return ret;
	if (sigaction(SIGSYS, &sa, NULL) < 0) {
		log_err("seccomp: installing the SIGSYS handler: %m");
		return -errno;
	}
	return 0;
}

static int add_rule(scmp_filter_ctx ctx, int nr, const struct rule *r, bool a0, long v)
{
	struct scmp_arg_cmp cmp[2];
	unsigned n = 0;

	if (a0)
		cmp[n++] = SCMP_A0(SCMP_CMP_MASKED_EQ, LOW32, (scmp_datum_t)v & LOW32);
	if (r->argc)
		cmp[n++] = r->arg;
	return seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, n, cmp);
}

/* Several rules for one syscall are OR-ed; the comparisons within one rule
 * are AND-ed. */
static int add_rules(scmp_filter_ctx ctx, const struct rule *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(r[i].name);
		int ret = 0;

		if (nr < 0)
			continue;	/* not a syscall on this architecture */
		switch (r[i].a0) {
		case A0_ANY:
			ret = add_rule(ctx, nr, &r[i], false, 0);
			break;
		case A0_VM:
			if (vm_fd >= 0)	/* else none: no VM to talk to */
				ret = add_rule(ctx, nr, &r[i], true, vm_fd);
			break;
		case A0_VCPU:
			if (own_vcpu_fd >= 0) {
				ret = add_rule(ctx, nr, &r[i], true, own_vcpu_fd);
				break;
			}
			for (unsigned j = 0; j < nvcpu_fds && ret == 0; j++)
				ret = add_rule(ctx, nr, &r[i], true, vcpu_fds[j]);
			break;
		case A0_STDIN:
			ret = add_rule(ctx, nr, &r[i], true, STDIN_FILENO);
			break;
		case A0_STDERR:
			ret = add_rule(ctx, nr, &r[i], true, STDERR_FILENO);
			break;
		case A0_SELF:
			ret = add_rule(ctx, nr, &r[i], true, getpid());
			break;
		}
		if (ret < 0) {
			log_err("seccomp: rule for %s: %s", r[i].name, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

#ifdef VMM_DEBUG_SECCOMP_TRIGGER
/* Test builds only (tests/smoke/meson.build): VMM_SECCOMP_TRIGGER=KIND
 * makes that thread call a syscall no list allows, once its filter is on. */
static void debug_trigger(enum sandbox_kind kind)
{
	const char *want = getenv("VMM_SECCOMP_TRIGGER");

	if (want && !strcmp(want, kinds[kind].name))
		syscall(SYS_getppid);
}
#endif

int sandbox_enter(enum sandbox_kind kind)
{
	scmp_filter_ctx ctx;
	sigset_t sys;
	int ret = 0;

	if (!enabled)
		return 0;
	/* A blocked SIGSYS would kill without the log line: the I/O thread
	 * starts with every signal blocked. */
	sigemptyset(&sys);
	sigaddset(&sys, SIGSYS);
	pthread_sigmask(SIG_UNBLOCK, &sys, NULL);
	ctx = seccomp_init(SCMP_ACT_TRAP);
	if (!ctx) {
		log_err("seccomp: cannot create the %s thread's filter", kinds[kind].name);
		return -ENOMEM;
	}
	for (unsigned i = 0; i < 3 && ret == 0; i++)
		if (kinds[kind].rules[i])
			ret = add_rules(ctx, kinds[kind].rules[i], kinds[kind].n[i]);
	thread_kind = (int)kind;
	if (ret == 0) {
		ret = seccomp_load(ctx);
		if (ret < 0)
			log_err("seccomp: loading the %s thread's filter: %s", kinds[kind].name,
				strerror(-ret));
	}
	seccomp_release(ctx);
#ifdef VMM_DEBUG_SECCOMP_TRIGGER
	if (ret == 0)
		debug_trigger(kind);
#endif
	return ret;
}

int sandbox_enter_vcpu(int vcpu_fd)
{
	bool known = false;

	for (unsigned j = 0; j < nvcpu_fds; j++)
		known |= vcpu_fds[j] == vcpu_fd;
	if (!known && enabled) {
		log_err("seccomp: vCPU fd %d is not one of sandbox_set_kvm_fds'", vcpu_fd);
		return -EINVAL;
	}
	own_vcpu_fd = vcpu_fd;
	return sandbox_enter(SANDBOX_VCPU);
}

void sandbox_print(FILE *out)
{
	fprintf(out, "# Syscalls each vmm thread may make once its filter is loaded;\n"
		     "# any other kills vmm with SIGSYS after a log line naming it.\n"
		     "# ioctl requests are shown as this build's numbers (they differ per\n"
		     "# architecture), each on the fds named.\n");
	for (int k = 0; k < SANDBOX_NKINDS; k++) {
		fprintf(out, "\n[%s thread]\n", kinds[k].name);
		for (unsigned i = 0; i < 3; i++)
			for (size_t j = 0; kinds[k].rules[i] && j < kinds[k].n[i]; j++) {
				const struct rule *r = &kinds[k].rules[i][j];
				char cond[96];

				if (r->req)
					snprintf(cond, sizeof(cond), "%s (0x%lx) on %s", r->cond,
						 r->req, a0_words[r->a0][0] ? a0_words[r->a0] :
						 "any fd");
				else if (r->a0 != A0_ANY)
					snprintf(cond, sizeof(cond), "%s%s%s", r->cond,
						 r->cond[0] ? ", " : "", a0_words[r->a0]);
				else
					snprintf(cond, sizeof(cond), "%s", r->cond);
				fprintf(out, "%-16s %-40s %s\n", r->name, cond, r->why);
			}
	}
}
