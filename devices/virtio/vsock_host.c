/* virtio-vsock, the host side (Firecracker's hybrid vsock): the listening
 * unix socket, each host client's "CONNECT <port>\n" line and the "OK
 * <port>\n" answer, guest-to-host bytes written to the clients (and kept,
 * up to the credit given, while a client does not read), the deadlines.
 * Host-to-guest bytes are read by vsock.c straight into rx buffers. */
#include "virtio/vsock-internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "log.h"
#include "unix_listen.h"

/* epoll tags: the listener, the timer, then connection i as TAG_CONN + i. */
enum { TAG_LISTEN = 0, TAG_TIMER = 1, TAG_CONN = 2 };

#define LISTEN_BACKLOG	64

/* ---- the listening socket ---- */

int vsock_host_listen(struct vsock *v, const char *path)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = TAG_LISTEN };
	char what[sizeof(v->name) + 8];
	struct stat st;
	int r;

	unix_socket_dir(path);	/* the runtime directory, as the control socket makes it */
	snprintf(what, sizeof(what), "%s socket", v->name);
	/* born 0600, as the control socket */
	v->lfd = unix_listen_fresh(path, 0600, LISTEN_BACKLOG, what, &st);
	if (v->lfd < 0) {
		r = v->lfd;
		v->lfd = -1;
		return r;
	}
	v->path = strdup(path);
	v->dev = st.st_dev;
	v->ino = st.st_ino;
	if (!v->path || epoll_ctl(v->ep, EPOLL_CTL_ADD, v->lfd, &ev) < 0) {
		r = v->path ? -errno : -ENOMEM;
		vsock_host_unlisten(v);
		return r;
	}
	log_info("%s: host connections on %s", v->name, path);
	return 0;
}

void vsock_host_unlisten(struct vsock *v)
{
	if (v->lfd >= 0) {
		epoll_ctl(v->ep, EPOLL_CTL_DEL, v->lfd, NULL);
		close(v->lfd);
		v->lfd = -1;
	}
	/* Only our own socket: a successor may have replaced it. */
	if (v->path)
		unix_unlink_own(v->path, v->dev, v->ino);
	free(v->path);
	v->path = NULL;
}

/* ---- connections ---- */

int vsock_host_watch(struct vsock *v, struct vsock_conn *c)
{
	struct epoll_event ev = {
		.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
		.data.u64 = TAG_CONN + (uint64_t)(c - v->conn),
	};
	int fl = fcntl(c->fd, F_GETFL);

	if (fl < 0 || fcntl(c->fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
	    epoll_ctl(v->ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		return -errno;
	c->readable = c->writable = true;	/* a read or write tells */
	return 0;
}

void vsock_host_close(struct vsock *v, struct vsock_conn *c)
{
	if (c->fd < 0)
		return;
	epoll_ctl(v->ep, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	c->fd = -1;
}

/* The ring of bytes kept for a host client is mapped and unmapped
 * directly: 256 KiB chunks malloc'd and freed in the I/O thread would make
 * glibc trim its per-thread heap, and that reads
 * /proc/sys/vm/overcommit_memory, which the thread's filter refuses. */
static uint8_t *buf_get(void)
{
	void *p = mmap(NULL, VSOCK_BUF_SIZE, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

void vsock_host_buf_drop(struct vsock_conn *c)
{
	if (c->buf)
		munmap(c->buf, VSOCK_BUF_SIZE);
	c->buf = NULL;
	c->buf_off = c->buf_len = 0;
}

/* Bytes written, -EAGAIN, or -EPIPE when the host side is gone. */
static ssize_t send_iov(int fd, struct iovec *iov, int n)
{
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = (size_t)n };
	ssize_t w;

	do
		w = sendmsg(fd, &mh, MSG_DONTWAIT | MSG_NOSIGNAL);
	while (w < 0 && errno == EINTR);
	if (w >= 0)
		return w;
	return errno == EAGAIN || errno == EWOULDBLOCK ? -EAGAIN : -EPIPE;
}

/* The guest learns of freed buffer space with every packet; when it has
 * used more than half of what it knows of and a quarter more is free, it
 * gets a CREDIT_UPDATE of its own. */
static void maybe_credit(struct vsock *v, struct vsock_conn *c)
{
	uint32_t unseen = c->fwd_cnt - c->fwd_sent;
	uint32_t guest_free = VSOCK_BUF_SIZE - (c->rx_cnt - c->fwd_sent);

	if (unseen >= VSOCK_BUF_SIZE / 4 && guest_free < VSOCK_BUF_SIZE / 2)
		vsock_conn_pend(v, c, P_CREDIT);
}

int vsock_host_write(struct vsock *v, struct vsock_conn *c, const struct virtq_chain *ch,
		     uint32_t off, uint32_t len)
{
	struct iovec iov[64];
	uint32_t done = 0, pos, first;

	c->rx_cnt += len;
	if (c->fd < 0)
		return -EPIPE;
	if (c->buf_len == 0 && c->writable) {
		int n = virtq_chain_iov(ch, false, off, len, iov, 64, NULL);
		ssize_t w = n == 0 ? 0 : send_iov(c->fd, iov, n == -E2BIG ? 64 : n);

		if (w == -EPIPE)
			return -EPIPE;
		if (w == -EAGAIN)
			c->writable = false;
		else
			done = (uint32_t)w;
		c->fwd_cnt += done;
	}
	if (done < len) {
		/* The credit check bounds what is kept by VSOCK_BUF_SIZE. */
		if (c->buf_len + (len - done) > VSOCK_BUF_SIZE)
			return -EPIPE;
		if (!c->buf && !(c->buf = buf_get()))
			return -EPIPE;
		pos = (c->buf_off + c->buf_len) % VSOCK_BUF_SIZE;
		first = VSOCK_BUF_SIZE - pos < len - done ? VSOCK_BUF_SIZE - pos : len - done;
		virtq_chain_read(ch, off + done, c->buf + pos, first);
		virtq_chain_read(ch, off + done + first, c->buf, len - done - first);
		c->buf_len += len - done;
	}
	if (c->buf_len && c->writable)
		return vsock_host_flush(v, c);
	maybe_credit(v, c);
	return 0;
}

int vsock_host_flush(struct vsock *v, struct vsock_conn *c)
{
	while (c->buf_len && c->writable && c->fd >= 0) {
		uint32_t first = VSOCK_BUF_SIZE - c->buf_off;
		struct iovec iov[2] = {
			{ c->buf + c->buf_off, first < c->buf_len ? first : c->buf_len },
			{ c->buf, first < c->buf_len ? c->buf_len - first : 0 },
		};
		ssize_t w = send_iov(c->fd, iov, iov[1].iov_len ? 2 : 1);

		if (w == -EPIPE)
			return -EPIPE;
		if (w == -EAGAIN) {
			c->writable = false;
			break;
		}
		c->buf_off = (c->buf_off + (uint32_t)w) % VSOCK_BUF_SIZE;
		c->buf_len -= (uint32_t)w;
		c->fwd_cnt += (uint32_t)w;
	}
	if (c->buf_len == 0) {
		vsock_host_buf_drop(c);	/* an idle connection holds no buffer */
		if ((c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_SEND) && !c->wr_shut && c->fd >= 0) {
			shutdown(c->fd, SHUT_WR);
			c->wr_shut = true;
		}
		if (c->guest_shut == (VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND)) {
			/* All it sent is out: the guest's close completes. */
			vsock_conn_end(v, c, true);
			return 0;
		}
	}
	maybe_credit(v, c);
	return 0;
}

void vsock_host_ok(struct vsock *v, struct vsock_conn *c)
{
	char line[24];
	int n = snprintf(line, sizeof(line), "OK %u\n", c->local_port);
	struct iovec iov = { line, (size_t)n };

	/* Nothing was written to the client before: its buffer takes it. */
	if (c->fd < 0 || send_iov(c->fd, &iov, 1) != n) {
		vsock_conn_end(v, c, true);
		return;
	}
	c->readable = true;	/* it may have written already */
	log_debug("%s: host connection to guest port %u is open (local port %u)", v->name,
		  c->peer_port, c->local_port);
}

/* The next free local port from VSOCK_LOCAL_PORT_FIRST up. */
static uint32_t local_port(struct vsock *v)
{
	for (;;) {
		uint32_t p = v->next_port++;
		bool used = false;

		if (v->next_port < VSOCK_LOCAL_PORT_FIRST)
			v->next_port = VSOCK_LOCAL_PORT_FIRST;
		for (unsigned i = 0; i < v->hiwater && !used; i++)
			used = v->conn[i].state != VS_FREE && v->conn[i].local_port == p;
		if (!used)
			return p;
	}
}

/* "CONNECT <port>": the port, or -1. */
static int64_t parse_line(const char *s)
{
	uint64_t port = 0;

	if (strncmp(s, "CONNECT ", 8))
		return -1;
	s += 8;
	if (!*s || strlen(s) > 10)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		port = port * 10 + (uint64_t)(*s - '0');
	}
	return port > UINT32_MAX ? -1 : (int64_t)port;
}

/* Reads a host client's line a byte at a time (what follows it is the
 * stream's), then asks the guest. */
static void read_line(struct vsock *v, struct vsock_conn *c)
{
	int64_t port;
	char ch;

	for (;;) {
		ssize_t r = read(c->fd, &ch, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r <= 0) {
			vsock_conn_end(v, c, false);
			return;
		}
		if (ch == '\n')
			break;
		if (c->line_len + 1 >= VSOCK_LINE_MAX) {
			log_info_limited("%s: host client sent a line too long for CONNECT <port>",
					 v->name);
			vsock_conn_end(v, c, false);
			return;
		}
		c->line[c->line_len++] = ch;
	}
	c->line[c->line_len] = '\0';
	port = parse_line(c->line);
	if (port < 0) {
		log_info_limited("%s: host client sent no \"CONNECT <port>\" line; closed it",
				 v->name);
		vsock_conn_end(v, c, false);
		return;
	}
	c->peer_port = (uint32_t)port;
	c->local_port = local_port(v);
	c->state = VS_CONNECTING;
	c->deadline_ms = vsock_now_ms() + VSOCK_TIMEOUT_MS;
	vsock_conn_pend(v, c, P_REQUEST);
}

static void accept_all(struct vsock *v)
{
	for (;;) {
		int fd = accept4(v->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		struct vsock_conn *c;

		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
				log_warn_limited("%s: accepting a host client: %m", v->name);
			if (errno != EINTR)
				return;
			continue;
		}
		c = vsock_conn_alloc(v, fd);
		if (!c) {
			log_warn_limited("%s: %d connections: refused a host client", v->name,
					 VSOCK_CONN_MAX);
			close(fd);
			continue;
		}
		c->state = VS_LINE;
		c->deadline_ms = vsock_now_ms() + VSOCK_TIMEOUT_MS;
		if (vsock_host_watch(v, c) < 0) {
			vsock_conn_end(v, c, false);
			continue;
		}
		read_line(v, c);
	}
}

void vsock_host_timer(struct vsock *v)
{
	struct itimerspec its = { { 0, 0 }, { 0, 0 } };
	bool want = false;

	for (unsigned i = 0; i < v->hiwater && !want; i++)
		want = v->conn[i].state != VS_FREE && v->conn[i].deadline_ms;
	if (want == v->timer_on)
		return;
	if (want)
		its.it_value.tv_nsec = its.it_interval.tv_nsec = 250 * 1000 * 1000;
	if (timerfd_settime(v->tfd, 0, &its, NULL) == 0)
		v->timer_on = want;
}

static void expire(struct vsock *v)
{
	uint64_t now = vsock_now_ms(), n;

	if (read(v->tfd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		log_warn_limited("%s: timer: %m", v->name);
	for (unsigned i = 0; i < v->hiwater; i++) {
		struct vsock_conn *c = &v->conn[i];

		if (c->state == VS_FREE || !c->deadline_ms || c->deadline_ms > now)
			continue;
		if (c->state == VS_LINE)
			log_info_limited("%s: host client sent no CONNECT line within %d ms",
					 v->name, VSOCK_TIMEOUT_MS);
		else if (c->state == VS_CONNECTING)
			log_info_limited("%s: the guest did not answer a connection to port %u "
					 "within %d ms", v->name, c->peer_port, VSOCK_TIMEOUT_MS);
		vsock_conn_end(v, c, true);
	}
}

/* One connection's socket changed. */
static void conn_event(struct vsock *v, struct vsock_conn *c, uint32_t events)
{
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		c->readable = true;
	if (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
		c->writable = true;
	if (events & EPOLLHUP)
		c->host_hup = true;
	if (c->state == VS_LINE) {
		read_line(v, c);
		return;
	}
	if (c->state == VS_CONNECTING && c->host_hup) {
		vsock_conn_end(v, c, true);	/* the client gave up waiting */
		return;
	}
	if (c->state != VS_OPEN)
		return;
	if (c->host_hup && (c->host_eof || (c->guest_shut & VIRTIO_VSOCK_SHUTDOWN_RCV))) {
		/* Nothing more either way from this client. */
		vsock_conn_host_gone(v, c);
		return;
	}
	if (c->buf_len && vsock_host_flush(v, c) < 0)
		vsock_conn_end(v, c, true);
}

void vsock_host_events(struct vsock *v)
{
	struct epoll_event ev[64];
	int n = epoll_wait(v->ep, ev, 64, 0);

	for (int i = 0; i < n; i++) {
		uint64_t tag = ev[i].data.u64;
		struct vsock_conn *c;

		if (tag == TAG_LISTEN) {
			accept_all(v);
		} else if (tag == TAG_TIMER) {
			expire(v);
		} else if (tag - TAG_CONN < VSOCK_CONN_MAX) {
			c = &v->conn[tag - TAG_CONN];
			if (c->state != VS_FREE && c->fd >= 0)
				conn_event(v, c, ev[i].events);
		}
	}
	vsock_host_timer(v);
}
