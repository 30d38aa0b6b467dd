/* The server's side of the control socket's `console` request: one client
 * at a time gets the serial console as a byte stream, the output ring
 * replayed first. The guest never waits for it: output goes out as fast as
 * the client reads, and what it could not take before the ring moved on is
 * skipped with a notice; input goes to the UART only as fast as the guest
 * drains its receive buffer, CONTROL_LINE_MAX bytes of it buffered here.
 * See control-internal.h; docs/operations.md documents the protocol. */
#include "control-internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

#define OUT_CHUNK	4096	/* bytes per send */
#define OUT_TURNS	16	/* sends per wakeup; then the main loop goes on */

static struct client *attached(struct control *c)
{
	struct client *cl;

	if (c->console_cl < 0)
		return NULL;
	cl = &c->clients[c->console_cl];
	return cl->fd >= 0 && cl->console ? cl : NULL;
}

/* Reads from the client while its input buffer has room; waits for it to
 * take output while some is unsent. */
static void rewatch(struct control *c, struct client *cl, bool out_blocked)
{
	uint32_t ev = (cl->len < sizeof(cl->buf) ? EPOLLIN : 0) |
		      (out_blocked ? EPOLLOUT : 0);

	if (control_watch(c, cl, ev) < 0)
		control_drop(cl);
}

static void push_input(struct control *c, struct client *cl,
		       const struct control_vm_ops *ops, void *vm)
{
	size_t n = cl->len ? ops->console_write(vm, (const uint8_t *)cl->buf, cl->len) : 0;

	if (n > cl->len)
		n = cl->len;
	memmove(cl->buf, cl->buf + n, cl->len - n);
	cl->len -= n;
	rewatch(c, cl, cl->events & EPOLLOUT);
}

/* Sends what it can without blocking; false when the client must be waited
 * for (EPOLLOUT) or was dropped. */
static bool send_some(struct control *c, struct client *cl, const void *buf, size_t len,
		      size_t *sent)
{
	ssize_t n = send(cl->fd, buf, len, MSG_DONTWAIT | MSG_NOSIGNAL);

	*sent = n > 0 ? (size_t)n : 0;
	if (n < 0 && errno != EAGAIN && errno != EINTR) {
		control_drop(cl);
		return false;
	}
	if (*sent < len) {
		rewatch(c, cl, true);
		return false;
	}
	return true;
}

static void flush_output(struct control *c, struct client *cl,
			 const struct control_vm_ops *ops, void *vm)
{
	uint8_t buf[OUT_CHUNK];
	uint64_t one = 1, skipped;
	size_t n, sent;

	for (unsigned turn = 0; turn < OUT_TURNS; turn++) {
		if (cl->note_off < cl->note_len) {
			bool all = send_some(c, cl, cl->note + cl->note_off,
					     cl->note_len - cl->note_off, &sent);

			cl->note_off += sent;
			if (!all)
				return;
			continue;
		}
		n = ops->console_read(vm, &cl->pos, buf, sizeof(buf), &skipped);
		if (skipped) {
			int len = snprintf(cl->note, sizeof(cl->note),
					   "\r\n[vmm: %llu bytes of console output skipped: "
					   "this client read too slowly]\r\n",
					   (unsigned long long)skipped);

			cl->note_len = len > 0 ? (size_t)len : 0;
			cl->note_off = 0;
			continue;
		}
		if (n == 0) {
			rewatch(c, cl, false);
			return;
		}
		bool all = send_some(c, cl, buf, n, &sent);

		cl->pos += sent;
		if (!all)
			return;
	}
	/* A guest that writes without end must not hold the main loop: the
	 * rest goes out on its next turn. */
	if (write(c->consfd, &one, sizeof(one)) < 0) {
		/* a saturated eventfd is readable all the same */
	}
}

void control_console_attach(struct control *c, struct client *cl,
			    const struct control_vm_ops *ops, void *vm)
{
	uint64_t skipped;

	/* Refused clients are closed: what they sent after the request line
	 * was meant for the guest, not for the request parser. */
	if (!ops->console_attach || !ops->console_read || !ops->console_write) {
		control_reply(cl, "error this VM has no console to attach to\n");
		control_drop(cl);
		return;
	}
	if (attached(c)) {
		control_reply(cl, "error the console is attached to another client; "
			      "detach that one first (Ctrl-] in `vmm ctl NAME console`)\n");
		control_drop(cl);
		return;
	}
	control_reply(cl, "ok console=attached\n");
	if (cl->fd < 0)
		return;
	cl->console = true;
	cl->note_len = cl->note_off = 0;
	cl->pos = 0;
	ops->console_read(vm, &cl->pos, NULL, 0, &skipped);	/* the oldest kept */
	c->console_cl = (int)(cl - c->clients);
	ops->console_attach(vm, c->consfd);
	log_info("control socket: a client attached to the console");
	push_input(c, cl, ops, vm);
	if (cl->fd >= 0)
		flush_output(c, cl, ops, vm);
}

void control_console_event(struct control *c, struct client *cl, uint32_t events,
			   const struct control_vm_ops *ops, void *vm)
{
	ssize_t n;

	if (events & EPOLLOUT)
		flush_output(c, cl, ops, vm);
	if (cl->fd < 0 || !(events & (EPOLLIN | EPOLLHUP | EPOLLERR)))
		return;
	if (cl->len == sizeof(cl->buf)) {
		/* Not reading: only a hang-up gets here. */
		if (events & (EPOLLHUP | EPOLLERR))
			control_drop(cl);
		return;
	}
	n = recv(cl->fd, cl->buf + cl->len, sizeof(cl->buf) - cl->len, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		control_drop(cl);	/* the client detached */
		return;
	}
	cl->len += (size_t)n;
	push_input(c, cl, ops, vm);
}

void control_console_kick(struct control *c, const struct control_vm_ops *ops, void *vm)
{
	struct client *cl = attached(c);
	uint64_t v;

	if (read(c->consfd, &v, sizeof(v)) < 0) {
		/* spurious: nothing to drain */
	}
	if (!cl)
		return;
	push_input(c, cl, ops, vm);
	/* While the client is not taking output, leave the ring alone: its
	 * next read re-arms the notification, so a blocked client costs the
	 * guest one eventfd write, not one per byte. */
	if (cl->fd >= 0 && !(cl->events & EPOLLOUT))
		flush_output(c, cl, ops, vm);
}

void control_console_reap(struct control *c, const struct control_vm_ops *ops, void *vm)
{
	if (c->console_cl < 0 || attached(c))
		return;
	c->console_cl = -1;
	if (ops->console_attach)
		ops->console_attach(vm, -1);
	log_info("control socket: the console client detached");
}
