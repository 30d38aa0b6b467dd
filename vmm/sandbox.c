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
#include <linux/vhost.h>
#include <sys/ioctl.h>

#include "log.h"
#include "sandbox-internal.h"

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
	ANY("madvise", "free, thread exit, virtio-balloon returning private guest RAM (MADV_DONTNEED)"),
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
	ANY("epoll_ctl", "stdin back-pressure, control and guest readiness clients, an "
			 "attached console's back-pressure both ways, vsock connections closed at exit"),
	IOCTL(KVM_IRQ_LINE, A0_VM, "serial input (stdin, an attached console), "
		"Ctrl-Alt-Del / the power button"),
	IOCTL(TCGETS, A0_STDIN, "tcsetattr at exit (glibc reads the settings first)"),
	IOCTL(TCSETS, A0_STDIN, "the terminal back to cooked mode at exit"),
	ANY("readv", "console I/O"),
	ANY("writev", "console I/O"),
	ANY("timerfd_settime", "shutdown_timeout, guest readiness timeouts"),
	ANY("accept4", "control socket clients, guest readiness connections (vsock)"),
	ANY("recvfrom", "control socket requests, an attached console's input"),
	ANY("sendto", "control socket replies, an attached console's output, sd_notify"),
	ANY("sendmsg", "sd_notify, launcher requests (stopping virtiofsd at exit)"),
	ANY("recvmsg", "launcher replies"),
	ANY("newfstatat", "control, vsock and guest readiness socket removal at exit (lstat)"),
	ANY("fstat", "stdio at exit"),
	ANY("unlink", "control, vsock and guest readiness socket removal at exit"),
	ANY("unlinkat", "control, vsock and guest readiness socket removal at exit"),
	ANY("wait4", "reaping virtiofsd"),
	ANY("fcntl", "file flags of our own fds"),
};

/* Device emulation runs in both the vCPU threads (register accesses:
 * activate, reset) and the I/O thread (queue notifications). Sockets to a
 * vhost-user backend and signals to virtiofsd come from the launcher. */
static const struct rule device_rules[] = {
	ANY("readv", "TAP frames, disk I/O without io_uring, vsock data from host clients"),
	ANY("writev", "TAP frames, disk I/O without io_uring"),
	ANY("pread64", "disk I/O without io_uring"),
	ANY("pwrite64", "disk I/O without io_uring"),
	ANY("preadv", "disk I/O without io_uring"),
	ANY("pwritev", "disk I/O without io_uring"),
	ANY("preadv2", "disk I/O without io_uring"),
	ANY("pwritev2", "disk I/O without io_uring"),
	ANY("fsync", "virtio-blk flush"),
	ANY("fdatasync", "virtio-blk flush"),
	ANY("fallocate", "virtio-blk discard and write zeroes, virtio-balloon returning shared guest RAM (hole punch)"),
	ANY("ftruncate", "the console file starting over at [console] max_size_mib"),
	ANY("lseek", "disk size"),
	ANY("io_uring_enter", "virtio-blk submissions and completions"),
	ANY("eventfd2", "MSI-X vectors (irqfds) set up by the driver"),
	ANY("epoll_ctl", "watching a reconnected vhost-user backend, vsock connections"),
	ANY("sendmsg", "vhost-user requests with fds, launcher requests, vsock data to host clients"),
	ANY("recvmsg", "vhost-user replies, launcher replies (with the backend's or a vsock listener's fd)"),
	ANY("sendto", "vhost-user, sd_notify, launcher requests (vsock connections to <socket>_<port>)"),
	ANY("recvfrom", "vhost-user liveness check (MSG_PEEK)"),
	ANY("poll", "vhost-user reply timeout"),
	ANY("ppoll", "vhost-user reply timeout (aarch64 has no poll)"),
	ANY("fcntl", "file flags of our own fds"),
	ANY("wait4", "reaping virtiofsd"),
	ANY("timerfd_settime", "virtio-vsock: deadlines of a CONNECT line and of the guest's answer; "
			       "virtio-net: a held interrupt's deadline (interrupt_hold_us)"),
	/* The control queue (I/O thread) and a device reset (vCPU thread)
	 * change the pairs in use: the TAP must steer no flow to a queue of
	 * a pair the driver turned off. Only on the TAP fds vmm opened. */
	IOCTL(TUNSETQUEUE, A0_ANY, "virtio-net queues = N: a TAP queue attached or detached as the driver turns its pair on or off"),
	/* With vhost = true the same two threads start and stop the kernel's
	 * service of a pair (devices/virtio/net_vhost.c): DRIVER_OK and reset
	 * on a vCPU thread, VQ_PAIRS_SET on the I/O thread. */
	IOCTL(VHOST_NET_SET_BACKEND, A0_ANY, "vhost-net: a pair's TAP queue attached at DRIVER_OK and when the driver turns the pair on, detached at reset and when it turns it off"),
};

static const struct rule io_rules[] = {
	ANY("epoll_wait", "the I/O loop"),
	ANY("epoll_pwait", "the I/O loop (aarch64 has no epoll_wait)"),
	IOCTL(KVM_IRQ_LINE, A0_VM, "virtio-mmio and serial interrupts"),
	ANY("accept4", "virtio-vsock: host clients on its socket"),
	ANY("shutdown", "virtio-vsock: a guest's half-close passed on to the host client"),
};

/* KVM_IRQFD and KVM_IOEVENTFD are set up before the threads start. */
static const struct rule vcpu_rules[] = {
	IOCTL(KVM_RUN, A0_VCPU, "running the guest"),
	IOCTL(KVM_GET_REGS, A0_VCPU, "the guest's pc in an error message (x86_64)"),
	IOCTL(KVM_GET_ONE_REG, A0_VCPU, "the guest's pc in an error message (aarch64)"),
#if defined(__x86_64__)
	IOCTL(KVM_GET_SREGS, A0_VCPU, "control registers in the log of a guest triple fault"),
	IOCTL(KVM_GET_VCPU_EVENTS, A0_VCPU, "the pending exception in the log of a triple fault"),
#endif
	IOCTL(KVM_IRQ_LINE, A0_VM, "interrupts of the devices a register access touches"),
	IOCTL(KVM_SET_GSI_ROUTING, A0_VM, "MSI-X table writes by the driver"),
	IOCTL(TUNSETOFFLOAD, A0_ANY, "virtio-net offloads the driver accepted (TAP fds)"),
	/* virtio-net with vhost = true: /dev/vhost-net was opened, owned and
	 * given the guest's memory before the filters; DRIVER_OK hands it the
	 * rings, device reset takes them back (devices/virtio/net_vhost.c). */
	IOCTL(VHOST_SET_FEATURES, A0_ANY, "vhost-net: the ring features the driver accepted"),
	IOCTL(VHOST_SET_VRING_NUM, A0_ANY, "vhost-net: a ring's size"),
	IOCTL(VHOST_SET_VRING_BASE, A0_ANY, "vhost-net: a ring starts at index 0"),
	IOCTL(VHOST_SET_VRING_ADDR, A0_ANY, "vhost-net: where the driver put a ring"),
	IOCTL(VHOST_SET_VRING_KICK, A0_ANY, "vhost-net: a queue's kick eventfd (KVM ioeventfd)"),
	IOCTL(VHOST_SET_VRING_CALL, A0_ANY, "vhost-net: the irqfd of the vector the driver chose"),
	IOCTL(VHOST_GET_VRING_BASE, A0_ANY, "vhost-net: a ring stopped at device reset"),
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

	if (launcher_started())
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

int sandbox_init(bool on)
{
	struct sigaction sa = { .sa_sigaction = on_sigsys,
				.sa_flags = SA_SIGINFO };
	int ret;

	enabled = on;
	/* The launcher runs with seccomp off too: it keeps root for virtiofsd
	 * restarts after vmm gave it up. */
	if (!on)
		return launcher_nentries() ? launcher_start() : 0;
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
