/* The main thread's event loop and the VM's lifecycle: exit requests, stop
 * signals and the shutdown timer, console input, the control socket. */
#include "vm-internal.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <termios.h>
#include <unistd.h>

#include "arch.h"
#include "control.h"
#include "log.h"
#include "notify.h"
#include "ready_guest.h"
#include "sandbox.h"
#include "serial.h"

/* ---- readiness and exit requests ---- */

void vm_notify_ready(struct vm *vm)
{
	if (!atomic_exchange(&vm->notified_ready, true))
		notify_send("READY=1\nSTATUS=Running");
}

void vm_userspace_ready(void *ctx)
{
	struct vm *vm = ctx;
	uint64_t t = vmm_now_us() - vm->t_start_us;

	atomic_store(&vm->t_userspace_ready_us, t);
	log_info("boot: guest userspace ready at %llu us", (unsigned long long)t);
	if (vm->cfg->ready == READY_USERSPACE)
		vm_notify_ready(vm);
}

/* [vm] ready = "guest": what the guest's service manager said, passed on
 * to vmm's own (vmm/ready_guest.c picked READY=1, STATUS=, STOPPING=1). */
static void relay_guest_notify(void *ctx, const struct ready_msg *m)
{
	struct vm *vm = ctx;
	char msg[READY_STATUS_MAX + 64];

	if (m->ready && !atomic_exchange(&vm->notified_ready, true))
		log_info("boot: guest READY=1 at %llu us",
			 (unsigned long long)(vmm_now_us() - vm->t_start_us));
	if (ready_format(m, msg, sizeof(msg)))
		notify_send(msg);
}

static const char *exit_code_name(int code)
{
	switch (code) {
	case VM_EXIT_POWEROFF: return "poweroff";
	case VM_EXIT_REBOOT: return "reboot";
	case VM_EXIT_PANIC: return "panic";
	case VM_EXIT_FORCED: return "forced stop";
	case VM_EXIT_CRASH: return "vCPU error";
	default: return "error";
	}
}

void vm_request_exit(struct vm *vm, int code, const char *why)
{
	int expected = -1;
	uint64_t one = 1;

	/* Once a stop was requested, the guest going down either way is the
	 * graceful outcome we asked for. */
	if (atomic_load(&vm->graceful_stop) &&
	    (code == VM_EXIT_POWEROFF || code == VM_EXIT_REBOOT))
		code = VM_EXIT_POWEROFF;
	if (!atomic_compare_exchange_strong(&vm->exit_code, &expected, code))
		return;
	atomic_store(&vm->t_shutdown_us, vmm_now_us() - vm->t_start_us);
	log_info("boot: guest shutdown at %llu us (%s)",
		 (unsigned long long)atomic_load(&vm->t_shutdown_us), exit_code_name(code));
	log_notice("%s; exiting with code %d (%s)", why, code, exit_code_name(code));
	notify_sendf("STOPPING=1\nSTATUS=Stopping: %s", why);
	if (write(vm->wake_fd, &one, sizeof(one)) < 0) {
		/* The counter cannot overflow with one write per VM. */
	}
}

/* ---- console input, stop requests, state ---- */

struct loop {
	int epfd, sigfd, timerfd, rxfd;
	bool stdin_watched, stdin_ok;
	struct termios saved_tty;
	bool tty_raw;
};

static void watch_stdin(struct loop *l, bool on)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = STDIN_FILENO };

	if (!l->stdin_ok || l->stdin_watched == on)
		return;
	if (epoll_ctl(l->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, STDIN_FILENO,
		      &ev) < 0) {
		/* Regular files and /dev/null cannot be polled: no input. */
		l->stdin_ok = false;
		return;
	}
	l->stdin_watched = on;
}

static void read_stdin(struct vm *vm, struct loop *l)
{
	uint8_t buf[256];
	size_t space = serial_input_space(vm->serial);
	ssize_t n;

	if (space == 0) {
		/* Back-pressure: resume when the guest drains its buffer. */
		watch_stdin(l, false);
		return;
	}
	n = read(STDIN_FILENO, buf, space < sizeof(buf) ? space : sizeof(buf));
	if (n < 0 && (errno == EINTR || errno == EAGAIN))
		return;
	if (n <= 0) {
		watch_stdin(l, false);
		l->stdin_ok = false;
		return;
	}
	serial_push_input(vm->serial, buf, (size_t)n);
}

void vm_shutdown(struct vm *vm, const char *why)
{
	struct itimerspec its = { .it_value.tv_sec = vm->cfg->shutdown_timeout_s };

	if (atomic_load(&vm->graceful_stop) || atomic_load(&vm->exit_code) >= 0)
		return;		/* already on its way */
	atomic_store(&vm->graceful_stop, true);
	if (vm->cfg->shutdown_timeout_s == 0) {
		vm_request_exit(vm, VM_EXIT_FORCED, "stop requested and shutdown_timeout is 0");
		return;
	}
	log_notice("%s: asking the guest to shut down (%s), "
		   "forcing it off in %u s", why, arch_guest_shutdown_method(),
		   vm->cfg->shutdown_timeout_s);
	notify_sendf("STOPPING=1\nSTATUS=Shutting down the guest (%s)", why);
	/* A paused guest could not react. */
	pthread_mutex_lock(&vm->pause_lock);
	atomic_store(&vm->pause_requested, false);
	pthread_cond_broadcast(&vm->pause_cond);
	pthread_mutex_unlock(&vm->pause_lock);
	if (arch_request_guest_shutdown(vm) < 0)
		log_warn("the guest is not accepting the %s; waiting for the timeout",
			 arch_guest_shutdown_method());
	if (vm->stop_timer_fd >= 0)
		timerfd_settime(vm->stop_timer_fd, 0, &its, NULL);
}

static void on_stop_signal(struct vm *vm, struct loop *l, int sig)
{
	char why[64];

	(void)l;
	if (atomic_load(&vm->graceful_stop)) {
		vm_request_exit(vm, VM_EXIT_FORCED, "second stop signal: stopping the guest now");
		return;
	}
	snprintf(why, sizeof(why), "received %s", strsignal(sig));
	vm_shutdown(vm, why);
}

enum vm_state vm_get_state(struct vm *vm)
{
	if (atomic_load(&vm->graceful_stop) || atomic_load(&vm->exit_code) >= 0)
		return VM_STATE_STOPPING;
	if (atomic_load(&vm->pause_requested))
		return VM_STATE_PAUSED;
	return atomic_load(&vm->ready) ? VM_STATE_RUNNING : VM_STATE_STARTING;
}

const char *vm_state_name(enum vm_state state)
{
	static const char *const names[] = {
		[VM_STATE_STARTING] = "starting", [VM_STATE_RUNNING] = "running",
		[VM_STATE_PAUSED] = "paused", [VM_STATE_STOPPING] = "stopping",
	};

	return (unsigned)state < 4 ? names[state] : "unknown";
}

/* ---- the control socket's view of the VM ---- */

static void ctl_status(void *opaque, struct control_status *st)
{
	struct vm *vm = opaque;

	*st = (struct control_status){
		.name = vm->cfg->name,
		.state = vm_state_name(vm_get_state(vm)),
		.vcpus = vm->cfg->vcpus,
		.memory_mib = vm->cfg->memory_mib,
		.uptime_s = (vmm_now_us() - vm->t_start_us) / 1000000u,
		.first_kvm_run_us = atomic_load(&vm->t_first_run_us),
		.first_serial_us = atomic_load(&vm->t_first_serial_us),
		.userspace_ready_us = atomic_load(&vm->t_userspace_ready_us),
		.shutdown_us = atomic_load(&vm->t_shutdown_us),
	};
	vm_balloon_status(vm, st->extra, sizeof(st->extra));
}

static int ctl_balloon(void *vm, uint64_t mib)
{
	return vm_balloon_set(vm, mib);
}

static const char *ctl_state(void *vm)
{
	return vm_state_name(vm_get_state(vm));
}

static int ctl_pause(void *vm)
{
	return vm_pause(vm);
}

static int ctl_resume(void *vm)
{
	return vm_resume(vm);
}

static void ctl_shutdown(void *vm, const char *why)
{
	vm_shutdown(vm, why);
}

static void ctl_kill(void *vm, const char *why)
{
	vm_request_exit(vm, VM_EXIT_FORCED, why);
}

static size_t ctl_describe_queues(void *vm, char *buf, size_t len)
{
	return vm_describe_queues(vm, buf, len);
}

static void ctl_console_attach(void *vm, int fd)
{
	vm_console_attach(vm, fd);
}

static size_t ctl_console_read(void *vm, uint64_t *pos, uint8_t *buf, size_t len,
			       uint64_t *skipped)
{
	return vm_console_read(vm, pos, buf, len, skipped);
}

static size_t ctl_console_write(void *vm, const uint8_t *buf, size_t len)
{
	return vm_console_write(vm, buf, len);
}

static const struct control_vm_ops ctl_ops = {
	.status = ctl_status, .state = ctl_state, .pause = ctl_pause,
	.resume = ctl_resume, .shutdown = ctl_shutdown, .kill = ctl_kill,
	.describe_queues = ctl_describe_queues, .console_attach = ctl_console_attach,
	.console_read = ctl_console_read, .console_write = ctl_console_write,
	.balloon = ctl_balloon,
};

/* ---- event loop ---- */

static int loop_setup(struct vm *vm, struct loop *l, const sigset_t *stopsigs)
{
	struct epoll_event ev = { .events = EPOLLIN };

	memset(l, 0, sizeof(*l));
	l->epfd = epoll_create1(EPOLL_CLOEXEC);
	l->sigfd = signalfd(-1, stopsigs, SFD_CLOEXEC | SFD_NONBLOCK);
	l->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	l->rxfd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (l->epfd < 0 || l->sigfd < 0 || l->timerfd < 0 || l->rxfd < 0)
		return -errno;
	vm_console_set_rx_fd(l->rxfd);
	vm->stop_timer_fd = l->timerfd;
	int fds[] = { l->sigfd, l->timerfd, l->rxfd, vm->wake_fd,
		      vm->ctl ? control_fd(vm->ctl) : -1,
		      vm->ready_guest ? ready_guest_fd(vm->ready_guest) : -1 };
	for (unsigned i = 0; i < sizeof(fds) / sizeof(fds[0]); i++) {
		ev.data.fd = fds[i];
		if (fds[i] >= 0 && epoll_ctl(l->epfd, EPOLL_CTL_ADD, fds[i], &ev) < 0)
			return -errno;
	}
	if (vm->cfg->console_mode == CONSOLE_STDIO) {
		l->stdin_ok = true;
		if (isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &l->saved_tty) == 0) {
			struct termios raw = l->saved_tty;

			/* Raw input for the guest's shell, but keep ISIG:
			 * Ctrl-C stops the VM gracefully, like any daemon. */
			cfmakeraw(&raw);
			raw.c_lflag |= ISIG;
			raw.c_oflag |= OPOST | ONLCR;
			if (tcsetattr(STDIN_FILENO, TCSANOW, &raw) == 0)
				l->tty_raw = true;
		}
		watch_stdin(l, true);
	}
	return 0;
}

static void loop_teardown(struct loop *l)
{
	if (l->tty_raw)
		tcsetattr(STDIN_FILENO, TCSANOW, &l->saved_tty);
	vm_console_set_rx_fd(-1);
	int fds[] = { l->epfd, l->sigfd, l->timerfd, l->rxfd };
	for (unsigned i = 0; i < 4; i++)
		if (fds[i] > 0)
			close(fds[i]);
}

static void drain(int fd)
{
	uint64_t v;

	while (read(fd, &v, sizeof(v)) > 0)
		;
}

static int iothread_enter(void)
{
	return sandbox_enter(SANDBOX_IO);
}

int vm_run(struct vm *vm)
{
	sigset_t stopsigs, blocked;
	struct loop l;
	int ret, code;

	sigemptyset(&stopsigs);
	sigaddset(&stopsigs, SIGTERM);
	sigaddset(&stopsigs, SIGINT);
	sigaddset(&stopsigs, SIGHUP);
	blocked = stopsigs;
	sigaddset(&blocked, VCPU_KICK_SIGNAL);
	/* Threads inherit this mask: stop signals arrive only through the
	 * signalfd; the kick signal is unblocked in vCPU threads alone. */
	pthread_sigmask(SIG_BLOCK, &blocked, NULL);
	vcpu_kick_setup();
	signal(SIGPIPE, SIG_IGN);

	ret = loop_setup(vm, &l, &stopsigs);
	if (ret < 0) {
		log_err("event loop setup: %s", strerror(-ret));
		loop_teardown(&l);
		return VM_EXIT_ERROR;
	}
	vm->io.enter = iothread_enter;
	ret = iothread_start(&vm->io);
	if (ret < 0) {
		log_err("starting the I/O thread: %s", strerror(-ret));
		loop_teardown(&l);
		return VM_EXIT_ERROR;
	}
	if (vm->ready_guest)
		ready_guest_start(vm->ready_guest);
	vcpus_start(vm);
	/* The main thread's setup ends here: from now on, its allowlist. */
	if (sandbox_enter(SANDBOX_MAIN) < 0)
		vm_request_exit(vm, VM_EXIT_ERROR, "the main thread could not load its seccomp filter");

	while (atomic_load(&vm->exit_code) < 0) {
		struct epoll_event evs[8];
		int n = epoll_wait(l.epfd, evs, 8, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_err("epoll_wait: %m");
			vm_request_exit(vm, VM_EXIT_ERROR, "event loop failed");
			break;
		}
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;

			if (fd == l.sigfd) {
				struct signalfd_siginfo si;

				while (read(l.sigfd, &si, sizeof(si)) == sizeof(si))
					on_stop_signal(vm, &l, (int)si.ssi_signo);
			} else if (fd == l.timerfd) {
				drain(l.timerfd);
				vm_request_exit(vm, VM_EXIT_FORCED,
						"guest did not shut down within shutdown_timeout");
			} else if (fd == l.rxfd) {
				drain(l.rxfd);
				watch_stdin(&l, true);
			} else if (fd == STDIN_FILENO) {
				read_stdin(vm, &l);
			} else if (fd == vm->wake_fd) {
				drain(vm->wake_fd);
			} else if (vm->ctl && fd == control_fd(vm->ctl)) {
				control_process(vm->ctl, &ctl_ops, vm);
			} else if (vm->ready_guest && fd == ready_guest_fd(vm->ready_guest)) {
				ready_guest_process(vm->ready_guest, relay_guest_notify, vm);
			}
		}
	}

	vcpus_stop(vm);
	iothread_stop(&vm->io);
	vm->stop_timer_fd = -1;
	loop_teardown(&l);
	code = atomic_load(&vm->exit_code);
	return code < 0 ? VM_EXIT_ERROR : code;
}
