/* The control socket: the server in the main thread's event loop and the
 * request parser; see control.h (the clients are in control_client.c, the
 * console attach in control_console.c).
 * The server never blocks and never trusts a client: every read is bounded,
 * every reply is one send that either fits or loses the client. */
#include "control.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "control-internal.h"
#include "log.h"
#include "unix_listen.h"

/* CLOCK_MONOTONIC in microseconds, for the clients' idle time. */
static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* ---- requests ---- */

static const char *const cmd_names[] = {
	[CONTROL_STATUS] = "status", [CONTROL_PAUSE] = "pause",
	[CONTROL_RESUME] = "resume", [CONTROL_SHUTDOWN] = "shutdown",
	[CONTROL_KILL] = "kill", [CONTROL_HELP] = "help",
	[CONTROL_QUEUES] = "queues", [CONTROL_CONSOLE] = "console",
	[CONTROL_BALLOON] = "balloon",
};

/* `balloon MIB`: no more than this (16 TiB), so MIB << 8 pages fits. */
#define BALLOON_ARG_MAX (1ULL << 24)

#define NCMDS (sizeof(cmd_names) / sizeof(cmd_names[0]))

static bool blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* `s` (n bytes) for an error message: printable ASCII, at most 32 bytes. */
static void quote(char *out, size_t size, const char *s, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < n && i < 32 && k + 2 < size; i++)
		out[k++] = s[i] >= 0x20 && s[i] < 0x7f ? s[i] : '?';
	if (n > 32 && k + 4 < size) {
		memcpy(out + k, "...", 3);
		k += 3;
	}
	out[k] = '\0';
}

/* The argument of `balloon`: decimal digits, at most BALLOON_ARG_MAX. */
static int parse_mib(const char *s, size_t n, uint64_t *out, char *err, size_t errlen)
{
	uint64_t v = 0;
	char shown[40];

	for (size_t i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9' || n > 9) {
			quote(shown, sizeof(shown), s, n);
			snprintf(err, errlen, "\"balloon\" takes a size in MiB (0 to %llu), "
				 "not \"%s\"", BALLOON_ARG_MAX, shown);
			return -EINVAL;
		}
		v = v * 10 + (uint64_t)(s[i] - '0');
	}
	if (v > BALLOON_ARG_MAX) {
		snprintf(err, errlen, "\"balloon\" takes a size in MiB (0 to %llu)",
			 BALLOON_ARG_MAX);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

int control_parse(const char *line, size_t len, enum control_cmd *cmd, uint64_t *arg,
		  char *err, size_t errlen)
{
	char shown[40];
	size_t b = 0, e = len, w;

	if (e > 0 && line[e - 1] == '\r')
		e--;
	while (b < e && blank(line[b]))
		b++;
	while (e > b && blank(line[e - 1]))
		e--;
	if (b == e) {
		snprintf(err, errlen, "empty request; try \"help\"");
		return -EINVAL;
	}
	for (size_t i = b; i < e; i++) {
		if (line[i] < 0x20 || line[i] >= 0x7f) {
			snprintf(err, errlen, "request has a byte that is not printable "
				 "ASCII (0x%02x at offset %zu)", (unsigned char)line[i], i);
			return -EINVAL;
		}
	}
	for (w = b; w < e && !blank(line[w]); w++)
		;
	for (size_t k = 0; k < NCMDS; k++) {
		if (strlen(cmd_names[k]) != w - b || memcmp(cmd_names[k], line + b, w - b))
			continue;
		*arg = 0;
		if (k == CONTROL_BALLOON) {
			size_t a = w;

			while (a < e && blank(line[a]))
				a++;
			if (a == e) {
				snprintf(err, errlen, "\"balloon\" needs the target size in MiB");
				return -EINVAL;
			}
			if (parse_mib(line + a, e - a, arg, err, errlen) < 0)
				return -EINVAL;
		} else if (w != e) {
			snprintf(err, errlen, "\"%s\" takes no arguments", cmd_names[k]);
			return -EINVAL;
		}
		*cmd = (enum control_cmd)k;
		return 0;
	}
	quote(shown, sizeof(shown), line + b, w - b);
	snprintf(err, errlen, "unknown command \"%s\"; try \"help\"", shown);
	return -EINVAL;
}

/* ---- server ---- */

/* epoll tags beside the client indexes */
#define TAG_LISTEN CONTROL_CLIENTS_MAX
#define TAG_TIMER (CONTROL_CLIENTS_MAX + 1)
#define TAG_CONSOLE (CONTROL_CLIENTS_MAX + 2)

int control_fd(const struct control *c)
{
	return c->epfd;
}

void control_drop(struct client *cl)
{
	if (cl->fd >= 0)
		close(cl->fd);	/* also leaves the epoll set */
	cl->fd = -1;
	cl->len = 0;
	cl->console = false;	/* control_console_reap tells the VM */
}

/* One reply line, sent whole or not at all: a client that does not read its
 * replies is dropped rather than waited for. */
void control_reply(struct client *cl, const char *text)
{
	size_t n = strlen(text);

	if (cl->fd < 0)
		return;
	if (send(cl->fd, text, n, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)n)
		control_drop(cl);
}

int control_watch(struct control *c, struct client *cl, uint32_t events)
{
	struct epoll_event ev = { .events = events,
				  .data.u64 = (uint64_t)(cl - c->clients) };

	if (cl->events == events)
		return 0;
	if (epoll_ctl(c->epfd, EPOLL_CTL_MOD, cl->fd, &ev) < 0)
		return -errno;
	cl->events = events;
	return 0;
}

static void replyf(struct client *cl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void replyf(struct client *cl, const char *fmt, ...)
{
	char text[CONTROL_LINE_MAX + 64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text) - 1, fmt, ap);
	va_end(ap);
	strcat(text, "\n");
	control_reply(cl, text);
}

static void arm_timer(struct control *c, bool on)
{
	struct itimerspec its = { 0 };

	if (on)
		its.it_value.tv_sec = its.it_interval.tv_sec = 1;
	timerfd_settime(c->timerfd, 0, &its, NULL);
}

static unsigned nclients(const struct control *c)
{
	unsigned n = 0;

	for (unsigned i = 0; i < CONTROL_CLIENTS_MAX; i++)
		n += c->clients[i].fd >= 0;
	return n;
}

/* The boot-phase times (microseconds since exec) appear once reached. */
static void status_reply(struct client *cl, const struct control_vm_ops *ops, void *vm)
{
	struct control_status st = { 0 };
	char text[1024];
	size_t n;

	ops->status(vm, &st);
	const struct { const char *key; uint64_t us; } phases[] = {
		{ "boot_first_kvm_run_us", st.first_kvm_run_us },
		{ "boot_first_serial_us", st.first_serial_us },
		{ "boot_userspace_ready_us", st.userspace_ready_us },
		{ "boot_shutdown_us", st.shutdown_us },
	};
	n = (size_t)snprintf(text, sizeof(text),
			     "ok name=%s state=%s pid=%d vcpus=%u memory_mib=%llu uptime_s=%llu",
			     st.name, st.state, (int)getpid(), st.vcpus,
			     (unsigned long long)st.memory_mib, (unsigned long long)st.uptime_s);
	for (size_t i = 0; i < sizeof(phases) / sizeof(phases[0]) && n < sizeof(text); i++)
		if (phases[i].us)
			n += (size_t)snprintf(text + n, sizeof(text) - n, " %s=%llu",
					      phases[i].key, (unsigned long long)phases[i].us);
	if (n < sizeof(text))
		n += (size_t)snprintf(text + n, sizeof(text) - n, "%.*s",
				      (int)sizeof(st.extra) - 1, st.extra);
	if (n < sizeof(text) - 1)
		strcpy(text + n, "\n");
	else
		strcpy(text + sizeof(text) - 2, "\n");
	control_reply(cl, text);
}

static void execute(struct control *c, struct client *cl,
		    const struct control_vm_ops *ops, void *vm, enum control_cmd cmd,
		    uint64_t arg)
{
	int ret;

	switch (cmd) {
	case CONTROL_STATUS:
		status_reply(cl, ops, vm);
		return;
	case CONTROL_HELP:
		control_reply(cl, "ok commands=status,pause,resume,shutdown,kill,queues,"
			      "console,balloon,help\n");
		return;
	case CONTROL_CONSOLE:
		control_console_attach(c, cl, ops, vm);
		return;
	case CONTROL_QUEUES: {
		char text[CONTROL_REPLY_MAX];
		size_t n = (size_t)snprintf(text, sizeof(text), "ok");

		n += ops->describe_queues(vm, text + n, sizeof(text) - n - 1);
		strcpy(text + n, "\n");
		control_reply(cl, text);
		return;
	}
	case CONTROL_PAUSE:
		ret = ops->pause(vm);
		break;
	case CONTROL_RESUME:
		ret = ops->resume(vm);
		break;
	case CONTROL_SHUTDOWN:
		ops->shutdown(vm, "shutdown requested on the control socket");
		ret = 0;
		break;
	case CONTROL_KILL:
		ops->kill(vm, "kill requested on the control socket");
		ret = 0;
		break;
	case CONTROL_BALLOON:
		ret = ops->balloon ? ops->balloon(vm, arg) : -ENODEV;
		if (ret == -ENODEV) {
			control_reply(cl, "error this VM has no balloon ([balloon] in its config)\n");
			return;
		}
		if (ret == -EINVAL) {
			replyf(cl, "error %llu MiB is not less than the guest's memory",
			       (unsigned long long)arg);
			return;
		}
		if (ret == 0) {
			replyf(cl, "ok balloon_target_mib=%llu", (unsigned long long)arg);
			return;
		}
		break;
	default:
		ret = -EINVAL;
		break;
	}
	if (ret == -EBUSY)
		control_reply(cl, "error the VM is stopping\n");
	else if (ret == -ETIMEDOUT)
		control_reply(cl, "error the vCPUs did not stop within 2 s; "
			      "the VM keeps running\n");
	else if (ret < 0)
		replyf(cl, "error %s", strerror(-ret));
	else
		replyf(cl, "ok state=%s", ops->state(vm));
}

static void client_read(struct control *c, struct client *cl,
			const struct control_vm_ops *ops, void *vm)
{
	char err[128], *start, *nl;
	enum control_cmd cmd;
	uint64_t arg;
	size_t left;
	ssize_t n;

	n = recv(cl->fd, cl->buf + cl->len, sizeof(cl->buf) - cl->len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		if (n == 0 && cl->len)
			control_reply(cl, "error incomplete request: input ended "
				      "without a newline\n");
		control_drop(cl);
		return;
	}
	cl->len += (size_t)n;
	cl->last_us = now_us();
	start = cl->buf;
	left = cl->len;
	while (cl->fd >= 0 && (nl = memchr(start, '\n', left))) {
		size_t line = (size_t)(nl - start);

		left -= line + 1;
		start = nl + 1;
		if (control_parse(nl - line, line, &cmd, &arg, err, sizeof(err)) < 0) {
			replyf(cl, "error %s", err);
		} else if (cmd == CONTROL_CONSOLE) {
			/* What follows the request line is console input. */
			memmove(cl->buf, start, left);
			cl->len = left;
			execute(c, cl, ops, vm, cmd, arg);
			return;
		} else {
			execute(c, cl, ops, vm, cmd, arg);
		}
	}
	if (cl->fd < 0)
		return;
	memmove(cl->buf, start, left);
	cl->len = left;
	if (cl->len == sizeof(cl->buf)) {
		/* No way to find the next request's start: hang up. */
		replyf(cl, "error request longer than %d bytes", CONTROL_LINE_MAX - 1);
		control_drop(cl);
	}
}

static void accept_clients(struct control *c)
{
	for (;;) {
		int fd = accept4(c->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct epoll_event ev = { .events = EPOLLIN };
		struct client *cl = NULL;

		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
				return;
			/* Out of fds: level-triggered epoll would spin on the
			 * listener; leave it alone until the next timer tick. */
			log_warn("control socket: accept: %m; retrying in 1 s");
			epoll_ctl(c->epfd, EPOLL_CTL_DEL, c->lfd, NULL);
			c->listen_paused = true;
			arm_timer(c, true);
			return;
		}
		for (unsigned i = 0; i < CONTROL_CLIENTS_MAX && !cl; i++)
			if (c->clients[i].fd < 0)
				cl = &c->clients[i];
		if (!cl) {
			static const char busy[] = "error too many clients; try again\n";

			if (send(fd, busy, sizeof(busy) - 1, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
				/* it is being closed either way */
			}
			close(fd);
			continue;
		}
		ev.data.u64 = (uint64_t)(cl - c->clients);
		if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			continue;
		}
		cl->fd = fd;
		cl->len = 0;
		cl->events = ev.events;
		cl->console = false;
		cl->last_us = now_us();
		arm_timer(c, true);
	}
}

static void on_timer(struct control *c)
{
	uint64_t ticks, now = now_us();
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TAG_LISTEN };

	if (read(c->timerfd, &ticks, sizeof(ticks)) < 0) {
		/* spurious wakeup: nothing to drain */
	}
	if (c->listen_paused && epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->lfd, &ev) == 0)
		c->listen_paused = false;
	for (unsigned i = 0; i < CONTROL_CLIENTS_MAX; i++) {
		struct client *cl = &c->clients[i];

		/* An attached console is a session, not a request. */
		if (cl->fd >= 0 && !cl->console &&
		    now - cl->last_us >= CONTROL_IDLE_S * 1000000ull) {
			replyf(cl, "error idle for %d s; closing", CONTROL_IDLE_S);
			control_drop(cl);
		}
	}
	if (!nclients(c) && !c->listen_paused)
		arm_timer(c, false);
}

void control_process(struct control *c, const struct control_vm_ops *ops, void *vm)
{
	struct epoll_event evs[CONTROL_CLIENTS_MAX + 3];
	int n = epoll_wait(c->epfd, evs, CONTROL_CLIENTS_MAX + 3, 0);

	for (int i = 0; i < n; i++) {
		uint64_t tag = evs[i].data.u64;
		struct client *cl = tag < CONTROL_CLIENTS_MAX ? &c->clients[tag] : NULL;

		if (tag == TAG_LISTEN)
			accept_clients(c);
		else if (tag == TAG_TIMER)
			on_timer(c);
		else if (tag == TAG_CONSOLE)
			control_console_kick(c, ops, vm);
		else if (cl && cl->fd >= 0 && cl->console)
			control_console_event(c, cl, evs[i].events, ops, vm);
		else if (cl && cl->fd >= 0)
			client_read(c, cl, ops, vm);
		/* Before the next event: a freed slot may take a new client. */
		control_console_reap(c, ops, vm);
	}
}

int control_addr(const char *path, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa->sun_path))
		return -ENAMETOOLONG;
	strcpy(sa->sun_path, path);
	return 0;
}

static int take_lock(struct control *c, const char *path)
{
	char lock[PATH_MAX];

	if ((size_t)snprintf(lock, sizeof(lock), "%s.lock", path) >= sizeof(lock))
		return -ENAMETOOLONG;
	c->lockfd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (c->lockfd < 0) {
		log_err("control socket: %s: %m", lock);
		return -errno;
	}
	if (flock(c->lockfd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;

		if (e == EWOULDBLOCK) {
			log_err("control socket %s is held by another running vmm (see "
				"`vmm list`); two VMs must not share a name or socket", path);
			return -EADDRINUSE;
		}
		log_err("control socket: locking %s: %s", lock, strerror(e));
		return -e;
	}
	return 0;
}

static int bind_socket(struct control *c, const char *path)
{
	struct stat st;

	/* born 0600: only the user vmm runs as talks to it */
	c->lfd = unix_listen_fresh(path, 0600, CONTROL_CLIENTS_MAX, "control socket", &st);
	if (c->lfd < 0)
		return c->lfd;
	c->bound = true;
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	return 0;
}

int control_open(const char *path, struct control **out)
{
	struct epoll_event ev = { .events = EPOLLIN };
	struct control *c = calloc(1, sizeof(*c));
	int ret;

	*out = NULL;
	if (!c)
		return -ENOMEM;
	c->epfd = c->lfd = c->lockfd = c->timerfd = c->consfd = c->console_cl = -1;
	for (unsigned i = 0; i < CONTROL_CLIENTS_MAX; i++)
		c->clients[i].fd = -1;
	c->path = strdup(path);
	if (!c->path) {
		ret = -ENOMEM;
		goto fail;
	}
	ret = unix_socket_dir(path);
	if (ret < 0) {
		log_err("control socket %s: creating its directory: %s", path, strerror(-ret));
		goto fail;
	}
	ret = take_lock(c, path);
	if (ret < 0)
		goto fail;
	ret = bind_socket(c, path);
	if (ret < 0)
		goto fail;
	c->epfd = epoll_create1(EPOLL_CLOEXEC);
	c->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	c->consfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->epfd < 0 || c->timerfd < 0 || c->consfd < 0) {
		ret = -errno;
		goto fail;
	}
	ev.data.u64 = TAG_LISTEN;
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->lfd, &ev) < 0) {
		ret = -errno;
		goto fail;
	}
	ev.data.u64 = TAG_TIMER;
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->timerfd, &ev) < 0) {
		ret = -errno;
		goto fail;
	}
	ev.data.u64 = TAG_CONSOLE;
	if (epoll_ctl(c->epfd, EPOLL_CTL_ADD, c->consfd, &ev) < 0) {
		ret = -errno;
		goto fail;
	}
	log_info("control socket: %s", path);
	*out = c;
	return 0;
fail:
	control_close(c);	/* removes the socket if we bound it */
	return ret;
}

void control_close(struct control *c)
{
	int ret;

	if (!c)
		return;
	for (unsigned i = 0; i < CONTROL_CLIENTS_MAX; i++)
		control_drop(&c->clients[i]);
	/* Only our own socket: a successor may already have replaced it. After
	 * switching to [vm] user this may fail for lack of rights on the
	 * directory; the next vmm on this path then removes it as stale. */
	if (c->bound && (ret = unix_unlink_own(c->path, c->dev, c->ino)) < 0)
		log_debug("leaving the control socket %s behind: %s", c->path, strerror(-ret));
	int fds[] = { c->epfd, c->lfd, c->timerfd, c->lockfd, c->consfd };
	for (unsigned i = 0; i < 5; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(c->path);
	free(c);
}
