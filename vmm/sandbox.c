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
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/close_range.h>
#include <linux/futex.h>

#include "log.h"

struct rule {
	const char *name;
	const char *cond;	/* the argument filter in words, "" for none */
	unsigned argc;
	struct scmp_arg_cmp arg;
	const char *why;
};

#define ANY(n, w)		{ n, "", 0, { 0 }, w }
#define ARG(n, c, a, w)		{ n, c, 1, a, w }
#define NO_EXEC			SCMP_A2(SCMP_CMP_MASKED_EQ, PROT_EXEC, 0)

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
	ANY("tgkill", "pthread_kill (vCPU kicks)"),
	ANY("rseq", "the C library's restartable sequences"),
	ANY("set_robust_list", "thread start in the C library"),
	ANY("getrandom", "the allocator's randomization"),
	ANY("exit", "thread exit"),
	ANY("exit_group", "process exit"),
};

static const struct rule main_rules[] = {
	ANY("epoll_wait", "the event loop"),
	ANY("epoll_pwait", "the event loop (aarch64 has no epoll_wait)"),
	ANY("epoll_ctl", "stdin back-pressure, control clients"),
	ANY("ioctl", "KVM_IRQ_LINE (Ctrl-Alt-Del), KVM_SET_GSI_ROUTING, TCSETS on the terminal; "
		"the fds are ours, the requests too many to list"),
	ANY("readv", "console I/O"),
	ANY("writev", "console I/O"),
	ANY("timerfd_settime", "shutdown_timeout"),
	ANY("accept4", "control socket clients"),
	ANY("recvfrom", "control socket requests"),
	ANY("sendto", "control socket replies, sd_notify"),
	ANY("sendmsg", "sd_notify"),
	ANY("newfstatat", "control socket removal at exit (lstat)"),
	ANY("fstat", "stdio at exit"),
	ANY("unlink", "control socket removal at exit"),
	ANY("unlinkat", "control socket removal at exit"),
	ARG("kill", "signal SIGTERM", SCMP_A1(SCMP_CMP_EQ, SIGTERM), "stopping virtiofsd at exit"),
	ARG("kill", "signal SIGKILL", SCMP_A1(SCMP_CMP_EQ, SIGKILL), "stopping virtiofsd at exit"),
	ANY("wait4", "reaping virtiofsd"),
	ANY("fcntl", "file flags of our own fds"),
};

/* Device emulation runs in both the vCPU threads (register accesses:
 * activate, reset) and the I/O thread (queue notifications). */
static const struct rule device_rules[] = {
	ANY("ioctl", "KVM_RUN, KVM_IRQ_LINE, KVM_SET_GSI_ROUTING, KVM_IRQFD, KVM_IOEVENTFD, "
		"TUN; on fds vmm opened itself"),
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
	ANY("sendmsg", "vhost-user requests with fds"),
	ANY("recvmsg", "vhost-user replies"),
	ANY("sendto", "vhost-user, sd_notify"),
	ANY("recvfrom", "vhost-user liveness check (MSG_PEEK)"),
	ANY("poll", "vhost-user reply timeout"),
	ANY("ppoll", "vhost-user reply timeout (aarch64 has no poll)"),
	ARG("socket", "domain AF_UNIX", SCMP_A0(SCMP_CMP_EQ, AF_UNIX),
	    "reconnecting a vhost-user backend"),
	ANY("connect", "reconnecting a vhost-user backend"),
	ANY("bind", "restarting virtiofsd: its listening socket (autobind)"),
	ANY("listen", "restarting virtiofsd: its listening socket"),
	ANY("getsockname", "restarting virtiofsd: its socket's abstract address"),
	ANY("fcntl", "file flags of our own fds"),
	ARG("kill", "signal SIGTERM", SCMP_A1(SCMP_CMP_EQ, SIGTERM), "stopping virtiofsd"),
	ARG("kill", "signal SIGKILL", SCMP_A1(SCMP_CMP_EQ, SIGKILL), "stopping virtiofsd"),
	ANY("wait4", "reaping virtiofsd"),
};

static const struct rule io_rules[] = {
	ANY("epoll_wait", "the I/O loop"),
	ANY("epoll_pwait", "the I/O loop (aarch64 has no epoll_wait)"),
};

static const struct rule vcpu_rules[] = {
	/* KVM_RUN is in device_rules' ioctl; nothing beyond the devices. */
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

/* ---- the launcher: starting programs from filtered threads ----
 *
 * The launcher is forked before any filter is loaded and keeps every
 * privilege, so what a (possibly compromised) filtered thread may ask of it
 * is as narrow as it can be: one 32-bit handle into a table of programs that
 * was fixed before the launcher forked (sandbox_register). The function and
 * its argument come from that table in the launcher's own memory, never
 * from the request; any other request gets -EINVAL. */

struct prog {
	char name[32];
	sandbox_exec_fn fn;
	const void *arg;
};

static struct prog progs[SANDBOX_MAX_PROGS];
static unsigned nprogs;
static bool launcher_forked;		/* the table is fixed from then on */
static int launcher_fd = -1;		/* vmm's end of the socketpair */
static pthread_mutex_t launcher_lock = PTHREAD_MUTEX_INITIALIZER;

int sandbox_register(const char *name, sandbox_exec_fn fn, const void *arg)
{
	if (!fn || !name)
		return -EINVAL;
	if (launcher_forked)
		return -EBUSY;
	if (nprogs >= SANDBOX_MAX_PROGS)
		return -ENOSPC;
	snprintf(progs[nprogs].name, sizeof(progs[nprogs].name), "%s", name);
	progs[nprogs].fn = fn;
	progs[nprogs].arg = arg;
	return (int)nprogs++;
}

/* In the launcher: fork twice so that the new process is orphaned into vmm
 * (its subreaper) and waits for that before running the program. */
static pid_t launch(const struct prog *prog, int fd, int sock, pid_t vmm)
{
	int p[2];
	pid_t mid, pid = -1;

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
			prog->fn(prog->arg, fd);
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
	for (;;) {
		uint32_t id;
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} u;
		struct iovec iov = { &id, sizeof(id) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
				     .msg_control = u.buf, .msg_controllen = sizeof(u.buf) };
		struct cmsghdr *c;
		int fd = -1;
		pid_t pid;
		ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);

		if (n == 0 || (n < 0 && errno != EINTR))
			_exit(0);	/* vmm is gone */
		if (n < 0)
			continue;
		c = CMSG_FIRSTHDR(&mh);
		if (c && c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS &&
		    c->cmsg_len == CMSG_LEN(sizeof(int)))
			memcpy(&fd, CMSG_DATA(c), sizeof(fd));
		/* SOCK_SEQPACKET: a longer message is truncated (MSG_TRUNC), a
		 * shorter one is short; either is refused, as is an unknown id. */
		if (n != (ssize_t)sizeof(id) || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
		    id >= nprogs)
			pid = -EINVAL;
		else
			pid = launch(&progs[id], fd, sock, vmm);
		if (fd >= 0)
			close(fd);
		if (send(sock, &pid, sizeof(pid), MSG_NOSIGNAL) < 0)
			_exit(0);
	}
}

static int launcher_start(void)
{
	pid_t vmm = getpid(), pid;
	int sv[2];

	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		log_err("seccomp: setting up the process launcher: %m");
		return -errno;
	}
	launcher_forked = true;
	pid = fork();
	if (pid < 0) {
		log_err("seccomp: starting the process launcher: %m");
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
	log_debug("seccomp: process launcher is pid %d (%u program(s))", (int)pid, nprogs);
	return 0;
}

int sandbox_launcher_fd(void)
{
	return launcher_fd;
}

int sandbox_spawn(int id, int fd, pid_t *pid)
{
	uint32_t req = (uint32_t)id;
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { &req, sizeof(req) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	pid_t r;
	int ret = 0;

	if (id < 0 || (unsigned)id >= nprogs)
		return -EINVAL;
	if (launcher_fd < 0) {
		r = fork();
		if (r < 0)
			return -errno;
		if (r == 0) {
			progs[id].fn(progs[id].arg, fd);
			_exit(127);
		}
		*pid = r;
		return 0;
	}
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
	pthread_mutex_lock(&launcher_lock);
	errno = 0;
	if (sendmsg(launcher_fd, &mh, MSG_NOSIGNAL) != (ssize_t)sizeof(req) ||
	    recv(launcher_fd, &r, sizeof(r), 0) != (ssize_t)sizeof(r))
		ret = errno ? -errno : -EIO;
	pthread_mutex_unlock(&launcher_lock);
	if (ret < 0)
		return ret;
	if (r < 0)
		return (int)r;
	*pid = r;
	return 0;
}

int sandbox_init(bool on)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys,
				.sa_flags = SA_SIGINFO };
	int ret;

	enabled = on;
	if (!on)
		return 0;
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

static int add_rules(scmp_filter_ctx ctx, const struct rule *r, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int nr = seccomp_syscall_resolve_name(r[i].name);
		int ret;

		if (nr < 0)
			continue;	/* not a syscall on this architecture */
		ret = r[i].argc ? seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 1, r[i].arg)
				: seccomp_rule_add(ctx, SCMP_ACT_ALLOW, nr, 0);
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

void sandbox_print(FILE *out)
{
	fprintf(out, "# Syscalls each vmm thread may make once its filter is loaded;\n"
		     "# any other kills vmm with SIGSYS after a log line naming it.\n");
	for (int k = 0; k < SANDBOX_NKINDS; k++) {
		fprintf(out, "\n[%s thread]\n", kinds[k].name);
		for (unsigned i = 0; i < 3; i++)
			for (size_t j = 0; kinds[k].rules[i] && j < kinds[k].n[i]; j++) {
				const struct rule *r = &kinds[k].rules[i][j];

				fprintf(out, "%-16s %-24s %s\n", r->name, r->cond, r->why);
			}
	}
}
