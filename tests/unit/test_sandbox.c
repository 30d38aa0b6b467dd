/* Unit tests for vmm/sandbox.c: the process launcher does only what was
 * registered before sandbox_init (start a program on a socket it makes,
 * connect to a path, signal what it started) and refuses forged requests;
 * and a compromised I/O, vCPU or main thread, with its real filter loaded,
 * cannot connect a socket, make one, signal another process, make an ioctl
 * outside its list, or get anything out of the launcher's old protocol. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <linux/kvm.h>

#include <cmocka.h>

#include "sandbox.h"

static const char marker[] = "launched";

/* A registered server: accepts one connection and writes its argument. */
static void say(const void *arg, int lfd)
{
	const char *s = arg;
	int c = accept(lfd, NULL, NULL);

	if (c < 0 || write(c, s, strlen(s)) < 0)
		_exit(1);
	_exit(0);
}

/* A registered server that waits to be signalled. */
static void sleeper(const void *arg, int lfd)
{
	(void)arg;
	(void)lfd;
	for (;;)
		pause();
}

/* Never registered: a forged request must not reach it. */
static void evil(const void *arg, int fd)
{
	(void)arg;
	(void)fd;
	_exit(42);
}

static int say_id = -1, sleeper_id = -1, sock_id = -1, port_id = -1;
static char dir[64], backend_path[96], victim_path[96], prefix[96], port_path[112];
static int backend_fd = -1, victim_fd = -1, port_fd = -1;	/* listening sockets */
static int fake_vm_fd = -1, fake_vcpu_fd = -1, fake_vcpu2_fd = -1;

static int listen_at(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 8) < 0)
		return -1;
	return fd;
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/vmm-sandbox-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(backend_path, sizeof(backend_path), "%s/backend.sock", dir);
	snprintf(victim_path, sizeof(victim_path), "%s/victim.sock", dir);
	backend_fd = listen_at(backend_path);
	victim_fd = listen_at(victim_path);
	/* virtio-vsock's guest connections: "<prefix>_<port>". */
	snprintf(prefix, sizeof(prefix), "%s/vm.vsock", dir);
	snprintf(port_path, sizeof(port_path), "%s_5000", prefix);
	port_fd = listen_at(port_path);
	/* /dev/null stands in for the KVM fds: a request on it is ENOTTY, but
	 * only once the filter let it through. */
	fake_vm_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	fake_vcpu_fd = open("/dev/null", O_RDWR | O_CLOEXEC);
	fake_vcpu2_fd = open("/dev/null", O_RDWR | O_CLOEXEC);	/* another vCPU's */
	if (backend_fd < 0 || victim_fd < 0 || port_fd < 0 || fake_vm_fd < 0 || fake_vcpu_fd < 0 ||
	    fake_vcpu2_fd < 0)
		return -1;
	say_id = sandbox_register("say", say, marker);
	sleeper_id = sandbox_register("sleeper", sleeper, NULL);
	sock_id = sandbox_register_socket("backend", backend_path);
	port_id = sandbox_register_socket_prefix("vsock", prefix);
	if (say_id < 0 || sleeper_id < 0 || sock_id < 0 || port_id < 0 ||
	    /* No room left for "_4294967295". */
	    sandbox_register_socket_prefix("too long", "/tmp/" "0123456789012345678901234567890123456789"
					   "0123456789012345678901234567890123456789"
					   "0123456789012345678901") != -EINVAL ||
	    sandbox_register_socket("too long", "/tmp/" "0123456789012345678901234567890123456789"
				    "0123456789012345678901234567890123456789"
				    "01234567890123456789012345678901") != -EINVAL ||
	    sandbox_set_kvm_fds(fake_vm_fd, (int[]){ fake_vcpu_fd, fake_vcpu2_fd }, 2) < 0)
		return -1;
	return sandbox_init(true);
}

/* The process a compromised thread tries to kill; test_compromised_thread_escapes
 * starts it, and teardown ends it even when the test failed midway (it
 * would hold the test's output open). */
static pid_t victim;

static int teardown(void **state)
{
	(void)state;
	if (victim > 0)
		kill(victim, SIGKILL);
	unlink(backend_path);
	unlink(victim_path);
	unlink(port_path);
	rmdir(dir);
	return 0;
}

/* Starts `say` and reads its marker from the connection the launcher made;
 * 0 when all went as it should. Runs filtered too. */
static int run_say(void)
{
	char buf[32] = "";
	int conn = -1, st = 0, ret;
	pid_t pid = -1;

	ret = sandbox_start(say_id, &conn, &pid);
	if (ret < 0)
		return ret;
	if (read(conn, buf, sizeof(buf) - 1) != (ssize_t)strlen(marker) || strcmp(buf, marker))
		ret = -EIO;
	close(conn);
	/* vmm is the subreaper: the program is our child. */
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
		ret = -ECHILD;
	return ret;
}

static void test_start_connects_to_the_program(void **state)
{
	(void)state;
	assert_int_equal(run_say(), 0);
}

static void test_table_fixed_after_init(void **state)
{
	int conn = -1, fd = 3;
	pid_t pid = -1;

	(void)state;
	assert_int_equal(sandbox_register("late", evil, NULL), -EBUSY);
	assert_int_equal(sandbox_register_socket("late", "/tmp/x"), -EBUSY);
	assert_int_equal(sandbox_set_kvm_fds(0, &fd, 1), -EBUSY);
	/* Handles out of the table, or of the other kind; signals other than
	 * SIGTERM and SIGKILL. */
	assert_int_equal(sandbox_start(sock_id + 1, &conn, &pid), -EINVAL);
	assert_int_equal(sandbox_start(-1, &conn, &pid), -EINVAL);
	assert_int_equal(sandbox_start(sock_id, &conn, &pid), -EINVAL);
	assert_int_equal(sandbox_connect(say_id, &conn), -EINVAL);
	assert_int_equal(sandbox_signal(sock_id, SIGTERM), -EINVAL);
	assert_int_equal(sandbox_signal(say_id, SIGSTOP), -EINVAL);
	assert_int_equal(sandbox_signal(say_id, 0), -EINVAL);
}

static void test_one_at_a_time_and_signals(void **state)
{
	int conn = -1, conn2 = -1, st = 0;
	pid_t pid = -1, pid2 = -1;

	(void)state;
	assert_int_equal(sandbox_start(sleeper_id, &conn, &pid), 0);
	/* A second one while the first runs: refused. */
	assert_int_equal(sandbox_start(sleeper_id, &conn2, &pid2), -EBUSY);
	assert_int_equal(sandbox_signal(sleeper_id, SIGTERM), 0);
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM);
	close(conn);
	/* Once it exited (and was reaped), a new one, and SIGKILL. */
	assert_int_equal(sandbox_start(sleeper_id, &conn, &pid2), 0);
	assert_int_equal(sandbox_signal(sleeper_id, SIGKILL), 0);
	assert_int_equal(waitpid(pid2, &st, 0), pid2);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	close(conn);
}

/* ---- from filtered threads ---- */

struct legit {
	enum sandbox_kind kind;
	int filter, say, connect, port, no_port;
};

static void *legit_thread(void *p)
{
	struct legit *l = p;
	int fd = -1;

	l->filter = sandbox_enter(l->kind);
	if (l->filter < 0)
		return NULL;
	l->say = run_say();
	l->connect = sandbox_connect(sock_id, &fd);
	if (fd >= 0)
		close(fd);
	fd = -1;
	l->port = sandbox_connect_port(port_id, 5000, &fd);
	if (fd >= 0)
		close(fd);
	fd = -1;
	l->no_port = sandbox_connect_port(port_id, 5001, &fd);	/* nobody there */
	if (fd >= 0)
		close(fd);
	return NULL;
}

/* What virtio-fs and virtio-vsock do from the I/O and vCPU threads works
 * under their filters: start virtiofsd, reap it, reconnect to a backend's
 * path, connect to "<prefix>_<port>". */
static void test_filtered_threads_use_the_launcher(void **state)
{
	static const enum sandbox_kind kinds[] = { SANDBOX_IO, SANDBOX_VCPU };

	(void)state;
	for (unsigned i = 0; i < 2; i++) {
		struct legit l = { .kind = kinds[i], .filter = -1, .say = -1, .connect = -1,
				   .port = -1 };
		pthread_t t;
		int c;

		assert_int_equal(pthread_create(&t, NULL, legit_thread, &l), 0);
		assert_int_equal(pthread_join(t, NULL), 0);
		assert_int_equal(l.filter, 0);
		assert_int_equal(l.say, 0);
		assert_int_equal(l.connect, 0);
		c = accept(backend_fd, NULL, NULL);
		assert_true(c >= 0);
		close(c);
		/* vsock: "<prefix>_5000" built by the launcher; _5001 absent. */
		assert_int_equal(l.port, 0);
		assert_int_equal(l.no_port, -ENOENT);
		c = accept(port_fd, NULL, NULL);
		assert_true(c >= 0);
		close(c);
	}
}

/* What a compromised thread can send on the launcher's socket, with its
 * filter loaded: the old requests (a function pointer and argument; a bare
 * program id), unknown operations, handles out of the table or of the wrong
 * kind, other signals, arguments where none belong, a short message, and a
 * well-formed request with an fd attached. Each must be answered -EINVAL,
 * with no fd. */
struct forged {
	enum sandbox_kind kind;
	int filter;
	int sent[16], reply[16], fds;
	unsigned n;
};

static void *compromised(void *p)
{
	struct forged *f = p;
	int fd = sandbox_launcher_fd();
	struct { void (*fn)(const void *, int); const void *arg; } old = { evil, NULL };
	uint32_t old_id = (uint32_t)say_id;
	uint16_t short_msg = 0;
	struct { uint32_t op, id, arg; } reqs[] = {
		{ 99, (uint32_t)say_id, 0 },		/* unknown operation */
		{ 0, (uint32_t)say_id, 0 },
		{ 1, 1000, 0 },				/* START, out of the table */
		{ 1, (uint32_t)sock_id, 0 },		/* START on a socket */
		{ 1, (uint32_t)say_id, 7 },		/* START with an argument */
		{ 2, (uint32_t)say_id, 0 },		/* CONNECT on a program */
		{ 3, (uint32_t)sleeper_id, SIGSTOP },	/* SIGNAL, another signal */
		{ 3, (uint32_t)sock_id, SIGKILL },	/* SIGNAL on a socket */
		{ 4, (uint32_t)sock_id, 5000 },		/* CONNECT_PORT on a plain socket */
		{ 4, (uint32_t)say_id, 5000 },		/* CONNECT_PORT on a program */
		{ 2, (uint32_t)port_id, 0 },		/* CONNECT on a vsock prefix */
		{ 1, (uint32_t)say_id, 0 },		/* valid, but with an fd */
	};
	const void *msgs[16] = { &old, &old_id, &short_msg };
	size_t lens[16] = { sizeof(old), sizeof(old_id), sizeof(short_msg) };
	unsigned n = 3;

	for (unsigned i = 0; i < sizeof(reqs) / sizeof(reqs[0]); i++, n++) {
		msgs[n] = &reqs[i];
		lens[n] = sizeof(reqs[i]);
	}
	f->n = n;
	f->filter = sandbox_enter(f->kind);
	if (f->filter < 0)
		return NULL;
	for (unsigned i = 0; i < n; i++) {
		union {
			char buf[CMSG_SPACE(sizeof(int))];
			struct cmsghdr align;
		} u, r;
		struct iovec iov = { (void *)msgs[i], lens[i] };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
		int32_t rep[2] = { 0, 0 };
		struct iovec riov = { rep, sizeof(rep) };
		struct msghdr rmh = { .msg_iov = &riov, .msg_iovlen = 1,
				      .msg_control = r.buf, .msg_controllen = sizeof(r.buf) };

		if (i == n - 1) {	/* the last one carries stdin along */
			struct cmsghdr *c;
			int in = 0;

			memset(&u, 0, sizeof(u));
			mh.msg_control = u.buf;
			mh.msg_controllen = sizeof(u.buf);
			c = CMSG_FIRSTHDR(&mh);
			c->cmsg_level = SOL_SOCKET;
			c->cmsg_type = SCM_RIGHTS;
			c->cmsg_len = CMSG_LEN(sizeof(int));
			memcpy(CMSG_DATA(c), &in, sizeof(in));
		}
		f->sent[i] = (int)sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (recvmsg(fd, &rmh, MSG_CMSG_CLOEXEC) != sizeof(rep))
			rep[0] = 0;
		if (CMSG_FIRSTHDR(&rmh))
			f->fds++;
		f->reply[i] = rep[0];
	}
	return NULL;
}

static void test_forged_requests_refused(void **state)
{
	static const enum sandbox_kind kinds[] = { SANDBOX_VCPU, SANDBOX_IO };
	int st;

	assert_true(sandbox_launcher_fd() >= 0);
	for (unsigned k = 0; k < 2; k++) {
		struct forged f = { .kind = kinds[k], .filter = -1 };
		pthread_t t;

		assert_int_equal(pthread_create(&t, NULL, compromised, &f), 0);
		assert_int_equal(pthread_join(t, NULL), 0);
		assert_int_equal(f.filter, 0);
		assert_int_equal(f.sent[0], 16);
		for (unsigned i = 0; i < f.n; i++) {
			if (f.reply[i] != -EINVAL)
				fail_msg("forged request %u from the %s filter: reply %d", i,
					 k ? "io" : "vcpu", f.reply[i]);
		}
		assert_int_equal(f.fds, 0);
	}
	/* No process was started for any of them: it would be our child (we
	 * are the subreaper). The only child left is the launcher itself. */
	usleep(200 * 1000);
	assert_int_equal(waitpid(-1, &st, WNOHANG), 0);
	/* And the launcher still serves the real program. */
	assert_int_equal(run_say(), 0);
}

/* ---- escapes: each in a child that loads a real filter and tries ---- */

enum escape {
	E_SOCKET,		/* socket(AF_UNIX) */
	E_CONNECT,		/* connect() to an arbitrary unix socket */
	E_KILL,			/* kill() another process */
	E_TGKILL,		/* tgkill() another process */
	E_PIDFD_SIGNAL,		/* pidfd_send_signal() (a pidfd made before) */
	E_IOCTL_TTY,		/* TIOCSTI: a request no thread makes */
	E_IOCTL_VM,		/* KVM_SET_USER_MEMORY_REGION on the VM fd */
	E_IOCTL_WRONG_FD,	/* KVM_RUN on the VM fd, not a vCPU fd */
	E_IOCTL_IRQ_WRONG_FD,	/* KVM_IRQ_LINE on a vCPU fd, not the VM fd */
	E_IOCTL_RUN,		/* KVM_RUN on a vCPU fd: only vCPU threads */
	E_IOCTL_ROUTING,	/* KVM_SET_GSI_ROUTING: only vCPU threads */
	E_IOCTL_OTHER_VCPU,	/* KVM_RUN on another vCPU's fd */
	E_NKINDS,
};

static const char *const escape_names[] = {
	"socket", "connect", "kill", "tgkill", "pidfd_send_signal", "ioctl TIOCSTI",
	"ioctl KVM_SET_USER_MEMORY_REGION", "ioctl KVM_RUN on the VM fd",
	"ioctl KVM_IRQ_LINE on a vCPU fd", "ioctl KVM_RUN", "ioctl KVM_SET_GSI_ROUTING",
	"ioctl KVM_RUN on another vCPU's fd",
};


/* Made before the filter: what a compromised thread would have at hand. */
struct tools {
	struct sockaddr_un sa;
	int s, pidfd;
};

static void try_escape(enum escape e, const struct tools *t)
{
	const struct sockaddr_un *sa = &t->sa;
	int s = t->s, pidfd = t->pidfd;
	char c = 'x';

	switch (e) {
	case E_SOCKET:
		syscall(SYS_socket, AF_UNIX, SOCK_STREAM, 0);
		break;
	case E_CONNECT:
		connect(s, (const struct sockaddr *)sa, sizeof(*sa));
		break;
	case E_KILL:
		kill(victim, SIGKILL);
		break;
	case E_TGKILL:
		syscall(SYS_tgkill, victim, victim, SIGKILL);
		break;
	case E_PIDFD_SIGNAL:
		syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
		break;
	case E_IOCTL_TTY:
		ioctl(STDIN_FILENO, TIOCSTI, &c);
		break;
	case E_IOCTL_VM:
		ioctl(fake_vm_fd, KVM_SET_USER_MEMORY_REGION, NULL);
		break;
	case E_IOCTL_WRONG_FD:
		ioctl(fake_vm_fd, KVM_RUN, 0);
		break;
	case E_IOCTL_IRQ_WRONG_FD:
		ioctl(fake_vcpu_fd, KVM_IRQ_LINE, NULL);
		break;
	case E_IOCTL_RUN:
		ioctl(fake_vcpu_fd, KVM_RUN, 0);
		break;
	case E_IOCTL_ROUTING:
		ioctl(fake_vm_fd, KVM_SET_GSI_ROUTING, NULL);
		break;
	case E_IOCTL_OTHER_VCPU:
		ioctl(fake_vcpu2_fd, KVM_RUN, 0);
		break;
	default:
		break;
	}
}

static const long escape_nr[] = {
	SYS_socket, SYS_connect, SYS_kill, SYS_tgkill, SYS_pidfd_send_signal, SYS_ioctl,
	SYS_ioctl, SYS_ioctl, SYS_ioctl, SYS_ioctl, SYS_ioctl, SYS_ioctl,
};
static long want_nr = -1;

/* In the child: dies by SIGSYS when the filter stopped the syscall tried,
 * exits 3 when it stopped another one. */
static void on_sigsys(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (si->si_syscall != want_nr)
		_exit(3);
	signal(sig, SIG_DFL);
	raise(sig);
}

/* What the thread kind does itself must not kill it. */
static void do_allowed(enum sandbox_kind kind)
{
	struct termios t = { 0 };

	isatty(STDERR_FILENO);					/* TCGETS on stderr */
	if (kind == SANDBOX_VCPU)
		ioctl(fake_vcpu_fd, KVM_RUN, 0);		/* ENOTTY from /dev/null */
	if (kind == SANDBOX_VCPU || kind == SANDBOX_IO)
		ioctl(fake_vm_fd, KVM_IRQ_LINE, NULL);
	if (kind == SANDBOX_MAIN)
		tcsetattr(STDIN_FILENO, TCSANOW, &t);		/* TCSETS on stdin */
}

/* -1: the escape was attempted and the child survived it (a failure);
 * SIGSYS: the filter stopped it; 0: the allowed calls passed. */
static int in_child(enum sandbox_kind kind, int e)
{
	int st = 0;
	pid_t pid = fork();

	if (pid == 0) {
		struct tools t = { .sa = { .sun_family = AF_UNIX } };
		struct sigaction sa = { .sa_sigaction = on_sigsys, .sa_flags = SA_SIGINFO };

		/* cmocka catches SIGSYS in tests: ours instead. */
		want_nr = e < 0 ? -1 : escape_nr[e];
		sigaction(SIGSYS, &sa, NULL);
		prctl(PR_SET_DUMPABLE, 0);	/* no core files */
		snprintf(t.sa.sun_path, sizeof(t.sa.sun_path), "%s", victim_path);
		t.s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		t.pidfd = (int)syscall(SYS_pidfd_open, victim, 0);
		if (t.s < 0 || t.pidfd < 0 ||
		    (kind == SANDBOX_VCPU ? sandbox_enter_vcpu(fake_vcpu_fd) : sandbox_enter(kind)) < 0)
			_exit(2);
		if (e < 0)
			do_allowed(kind);
		else
			try_escape((enum escape)e, &t);
		_exit(e < 0 ? 0 : 1);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -2;
	if (WIFSIGNALED(st))
		return WTERMSIG(st);
	return WEXITSTATUS(st) == 0 ? 0 : -1;
}

static void test_compromised_thread_escapes(void **state)
{
	static const enum sandbox_kind kinds[] = { SANDBOX_IO, SANDBOX_VCPU, SANDBOX_MAIN };
	static const char *const kind_names[] = { "io", "vcpu", "main" };
	int st, c;

	(void)state;
	victim = fork();
	if (victim == 0) {
		for (;;)
			pause();
	}
	assert_true(victim > 0);
	for (unsigned k = 0; k < 3; k++) {
		assert_int_equal(in_child(kinds[k], -1), 0);
		for (int e = 0; e < E_NKINDS; e++) {
			/* The vCPU threads' own requests are tried elsewhere. */
			if (kinds[k] == SANDBOX_VCPU && (e == E_IOCTL_RUN || e == E_IOCTL_ROUTING))
				continue;
			if (in_child(kinds[k], e) != SIGSYS)
				fail_msg("%s thread: %s was not stopped by the filter",
					 kind_names[k], escape_names[e]);
		}
	}
	/* The victim lives, and nothing connected to its socket. */
	assert_int_equal(kill(victim, 0), 0);
	assert_int_equal(waitpid(victim, &st, WNOHANG), 0);
	c = accept(victim_fd, NULL, NULL);
	assert_int_equal(c, -1);
	assert_true(errno == EAGAIN || errno == EWOULDBLOCK);
	kill(victim, SIGKILL);
	assert_int_equal(waitpid(victim, &st, 0), victim);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_connects_to_the_program),
		cmocka_unit_test(test_table_fixed_after_init),
		cmocka_unit_test(test_one_at_a_time_and_signals),
		cmocka_unit_test(test_filtered_threads_use_the_launcher),
		cmocka_unit_test(test_forged_requests_refused),
		cmocka_unit_test(test_compromised_thread_escapes),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
