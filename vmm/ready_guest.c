/* [vm] ready = "guest": the listener for the guest's sd_notify messages and
 * their parser; see ready_guest.h and docs/operations.md. */
#include "ready_guest.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "unix_listen.h"

/* ---- the message ---- */

static void note_ignored(struct ready_msg *m, const char *line, size_t len)
{
	if (!m->ignored++) {
		m->first_ignored = line;
		m->first_ignored_len = len;
	}
}

int ready_parse(const char *buf, size_t len, struct ready_msg *out)
{
	size_t i = 0;

	memset(out, 0, sizeof(*out));
	if (len > READY_MSG_MAX)
		return -EMSGSIZE;
	if (memchr(buf, '\0', len))
		return -EINVAL;
	while (i < len) {
		const char *line = buf + i;
		size_t n = 0;

		while (i + n < len && line[n] != '\n' && line[n] != '\r')
			n++;
		i += n + 1;
		if (!n)
			continue;
		if (n == 7 && !memcmp(line, "READY=1", 7))
			out->ready = true;
		else if (n == 10 && !memcmp(line, "STOPPING=1", 10))
			out->stopping = true;
		else if (n >= 7 && !memcmp(line, "STATUS=", 7)) {
			out->status = line + 7;
			out->status_len = n - 7;
		} else
			note_ignored(out, line, n);
	}
	return 0;
}

size_t ready_format(const struct ready_msg *m, char *buf, size_t len)
{
	size_t n = 0;

	if (!len)
		return 0;
	buf[0] = '\0';
#define ADD(s)									\
	do {									\
		int w_ = snprintf(buf + n, len - n, "%s%s", n ? "\n" : "", (s));	\
		if (w_ < 0 || (size_t)w_ >= len - n) {				\
			buf[n] = '\0';	/* whole assignments only */		\
			return n;						\
		}								\
		n += (size_t)w_;						\
	} while (0)
	if (m->ready)
		ADD("READY=1");
	if (m->stopping)
		ADD("STOPPING=1");
	if (m->status) {
		size_t sl = m->status_len < READY_STATUS_MAX ? m->status_len : READY_STATUS_MAX;
		char st[READY_STATUS_MAX + 8];

		memcpy(st, "STATUS=", 7);
		/* Printable ASCII only: the text ends up in systemctl status and
		 * the journal, and systemd drops a STATUS that is not UTF-8. */
		for (size_t k = 0; k < sl; k++) {
			unsigned char ch = (unsigned char)m->status[k];

			st[7 + k] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
		}
		st[7 + sl] = '\0';
		ADD(st);
	}
#undef ADD
	return n;
}

/* ---- the listener ---- */

struct client {
	int fd;			/* -1: free */
	size_t len;
	uint64_t since_us;	/* accepted at */
	char buf[READY_MSG_MAX + 1];	/* one byte more: how a long message shows */
};

struct ready_guest {
	int epfd, lfd, tickfd, timeoutfd;
	bool listening;		/* lfd is in the epoll set (not while full) */
	bool ready_seen;	/* a READY=1 arrived */
	bool bound;
	bool logged_ignored;
	unsigned timeout_s;
	dev_t dev;
	ino_t ino;
	char *path;
	struct client clients[READY_CLIENTS_MAX];
};

/* epoll tags beside the client indexes */
#define TAG_LISTEN READY_CLIENTS_MAX
#define TAG_TICK (READY_CLIENTS_MAX + 1)
#define TAG_TIMEOUT (READY_CLIENTS_MAX + 2)

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int ready_guest_fd(const struct ready_guest *rg)
{
	return rg->epfd;
}

static int watch(struct ready_guest *rg, int fd, uint64_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = tag };

	return epoll_ctl(rg->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static unsigned nclients(const struct ready_guest *rg)
{
	unsigned n = 0;

	for (unsigned i = 0; i < READY_CLIENTS_MAX; i++)
		n += rg->clients[i].fd >= 0;
	return n;
}

/* The 1 s tick runs while a client is connected: it hangs up on silent ones. */
static void arm_tick(struct ready_guest *rg, bool on)
{
	struct itimerspec its = { 0 };

	if (on)
		its.it_value.tv_sec = its.it_interval.tv_sec = 1;
	timerfd_settime(rg->tickfd, 0, &its, NULL);
}

static void drop(struct ready_guest *rg, struct client *cl)
{
	if (cl->fd >= 0)
		close(cl->fd);	/* also leaves the epoll set */
	cl->fd = -1;
	cl->len = 0;
	/* A slot is free: take the connections waiting in the backlog. */
	if (!rg->listening && watch(rg, rg->lfd, TAG_LISTEN) == 0)
		rg->listening = true;
	if (!nclients(rg))
		arm_tick(rg, false);
}

static void finish(struct ready_guest *rg, struct client *cl,
		   void (*relay)(void *ctx, const struct ready_msg *m), void *ctx)
{
	struct ready_msg m;
	int ret = ready_parse(cl->buf, cl->len, &m);

	if (ret == -EINVAL) {
		log_warn_limited("guest readiness: a message with a NUL byte (ignored)");
		return;
	}
	if (ret < 0)
		return;		/* too long: reported while reading */
	if (m.ignored && !rg->logged_ignored) {
		rg->logged_ignored = true;
		log_debug("guest readiness: ignoring %.*s and any other assignment but "
			  "READY=1, STATUS= and STOPPING=1", (int)(m.first_ignored_len > 64 ?
			  64 : m.first_ignored_len), m.first_ignored);
	}
	if (m.ready && !rg->ready_seen) {
		rg->ready_seen = true;
		if (rg->timeout_s)
			timerfd_settime(rg->timeoutfd, 0, &(struct itimerspec){ 0 }, NULL);
	}
	if (m.ready || m.stopping || m.status)
		relay(ctx, &m);
}

static void read_client(struct ready_guest *rg, struct client *cl,
			void (*relay)(void *ctx, const struct ready_msg *m), void *ctx)
{
	ssize_t n = read(cl->fd, cl->buf + cl->len, sizeof(cl->buf) - cl->len);

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n < 0) {
		/* Reset by the guest before its end: no message. */
		log_debug("guest readiness: connection lost: %m");
		drop(rg, cl);
		return;
	}
	if (n == 0) {
		/* The sender's shutdown (or close) ends the message; our close
		 * is the EOF systemd 256 and later wait for before going on. */
		finish(rg, cl, relay, ctx);
		drop(rg, cl);
		return;
	}
	cl->len += (size_t)n;
	if (cl->len > READY_MSG_MAX) {
		log_warn_limited("guest readiness: a message longer than %d bytes (dropped)",
				 READY_MSG_MAX);
		drop(rg, cl);
	}
}

static void accept_clients(struct ready_guest *rg)
{
	for (;;) {
		struct client *cl = NULL;
		int fd;

		for (unsigned i = 0; i < READY_CLIENTS_MAX && !cl; i++)
			if (rg->clients[i].fd < 0)
				cl = &rg->clients[i];
		if (!cl) {
			/* Full: the rest wait in the listen backlog until a slot
			 * frees; level-triggered epoll must not spin meanwhile. */
			epoll_ctl(rg->epfd, EPOLL_CTL_DEL, rg->lfd, NULL);
			rg->listening = false;
			return;
		}
		fd = accept4(rg->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				log_debug("guest readiness: accept: %m");
			return;
		}
		if (watch(rg, fd, (uint64_t)(cl - rg->clients)) < 0) {
			close(fd);
			continue;
		}
		cl->fd = fd;
		cl->len = 0;
		cl->since_us = now_us();
		arm_tick(rg, true);
	}
}

static void on_tick(struct ready_guest *rg)
{
	uint64_t ticks, now = now_us();

	if (read(rg->tickfd, &ticks, sizeof(ticks)) < 0) {
		/* spurious wakeup: nothing to drain */
	}
	for (unsigned i = 0; i < READY_CLIENTS_MAX; i++) {
		struct client *cl = &rg->clients[i];

		if (cl->fd >= 0 && now - cl->since_us >= READY_CLIENT_TIMEOUT_S * 1000000ull) {
			log_warn_limited("guest readiness: a connection without a complete "
					 "message within %d s (closed)", READY_CLIENT_TIMEOUT_S);
			drop(rg, cl);
		}
	}
}

static void on_timeout(struct ready_guest *rg)
{
	uint64_t ticks;

	if (read(rg->timeoutfd, &ticks, sizeof(ticks)) < 0 || rg->ready_seen)
		return;
	log_warn("guest readiness: no READY=1 from the guest within %u s ([vm] ready_timeout); "
		 "vmm has not told its service manager READY=1 and keeps waiting. Does the "
		 "guest run systemd 254 or later with virtio-vsock, and does its kernel "
		 "command line reach it? (docs/operations.md)", rg->timeout_s);
}

void ready_guest_process(struct ready_guest *rg,
			 void (*relay)(void *ctx, const struct ready_msg *m), void *ctx)
{
	struct epoll_event evs[READY_CLIENTS_MAX + 3];
	int n = epoll_wait(rg->epfd, evs, READY_CLIENTS_MAX + 3, 0);

	for (int i = 0; i < n; i++) {
		uint64_t tag = evs[i].data.u64;

		if (tag == TAG_LISTEN)
			accept_clients(rg);
		else if (tag == TAG_TICK)
			on_tick(rg);
		else if (tag == TAG_TIMEOUT)
			on_timeout(rg);
		else if (tag < READY_CLIENTS_MAX && rg->clients[tag].fd >= 0)
			read_client(rg, &rg->clients[tag], relay, ctx);
	}
}

void ready_guest_start(struct ready_guest *rg)
{
	struct itimerspec its = { .it_value.tv_sec = rg->timeout_s };

	if (rg->timeout_s && !rg->ready_seen)
		timerfd_settime(rg->timeoutfd, 0, &its, NULL);
}

static int bind_socket(struct ready_guest *rg, const char *path, uid_t uid, gid_t gid)
{
	struct stat st;
	int ret;

	/* born 0600: no window to chmod */
	rg->lfd = unix_listen_fresh(path, 0600, 2 * READY_CLIENTS_MAX, "guest readiness socket",
				    &st);
	if (rg->lfd < 0)
		return rg->lfd;
	rg->bound = true;
	rg->dev = st.st_dev;
	rg->ino = st.st_ino;
	/* Its one client is vmm's own vsock device, which runs as the user
	 * vmm switches to ([vm] user); until then only we may connect. */
	if ((uid != (uid_t)-1 || gid != (gid_t)-1) && chown(path, uid, gid) < 0) {
		ret = -errno;
		log_err("guest readiness socket %s: chown: %s", path, strerror(-ret));
		return ret;
	}
	return 0;
}

int ready_guest_open(const char *path, uid_t uid, gid_t gid, unsigned timeout_s,
		     struct ready_guest **out)
{
	struct ready_guest *rg = calloc(1, sizeof(*rg));
	int ret;

	*out = NULL;
	if (!rg)
		return -ENOMEM;
	rg->lfd = rg->tickfd = rg->timeoutfd = -1;
	rg->timeout_s = timeout_s;
	for (unsigned i = 0; i < READY_CLIENTS_MAX; i++)
		rg->clients[i].fd = -1;
	rg->path = strdup(path);
	rg->epfd = epoll_create1(EPOLL_CLOEXEC);
	rg->tickfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	rg->timeoutfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	if (!rg->path || rg->epfd < 0 || rg->tickfd < 0 || rg->timeoutfd < 0) {
		ret = rg->path ? -errno : -ENOMEM;
		log_err("guest readiness: %s", strerror(-ret));
		goto fail;
	}
	ret = bind_socket(rg, path, uid, gid);
	if (ret < 0)
		goto fail;
	if ((ret = watch(rg, rg->lfd, TAG_LISTEN)) < 0 ||
	    (ret = watch(rg, rg->tickfd, TAG_TICK)) < 0 ||
	    (ret = watch(rg, rg->timeoutfd, TAG_TIMEOUT)) < 0) {
		log_err("guest readiness: epoll: %s", strerror(-ret));
		goto fail;
	}
	rg->listening = true;
	log_info("guest readiness: listening on %s", path);
	*out = rg;
	return 0;
fail:
	ready_guest_close(rg);
	return ret;
}

void ready_guest_close(struct ready_guest *rg)
{
	int ret;

	if (!rg)
		return;
	for (unsigned i = 0; i < READY_CLIENTS_MAX; i++)
		if (rg->clients[i].fd >= 0)
			close(rg->clients[i].fd);
	/* Only our own socket: a successor may already have replaced it. */
	if (rg->bound && (ret = unix_unlink_own(rg->path, rg->dev, rg->ino)) < 0)
		log_debug("leaving the guest readiness socket %s behind: %s", rg->path,
			  strerror(-ret));
	int fds[] = { rg->epfd, rg->lfd, rg->tickfd, rg->timeoutfd };
	for (unsigned i = 0; i < 4; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	free(rg->path);
	free(rg);
}
