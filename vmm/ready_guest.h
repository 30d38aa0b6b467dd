/* [vm] ready = "guest": the guest's own service manager says when it is
 * ready. vmm listens where the vsock device connects guest connections to
 * CID 2 port ready_port (`<[vsock] socket>_<port>`), reads one sd_notify
 * message per connection (systemd's vsock-stream protocol: newline-separated
 * VAR=value assignments, ended by the sender's shutdown or close) and relays
 * READY=1, STATUS= and STOPPING=1 to vmm's own NOTIFY_SOCKET. The guest is
 * hostile: bounded clients, bounded messages, silent clients hung up on. */
#ifndef VMM_READY_GUEST_H
#define VMM_READY_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#define READY_MSG_MAX 4096		/* bytes of one message; more: dropped */
#define READY_CLIENTS_MAX 4		/* connections read at once; more wait */
#define READY_CLIENT_TIMEOUT_S 5	/* a connection without EOF by then: dropped */
#define READY_STATUS_MAX 256		/* STATUS= relayed up to this many bytes */

/* What one message asks vmm to relay. Pointers point into the message. */
struct ready_msg {
	bool ready;			/* READY=1 */
	bool stopping;			/* STOPPING=1 */
	const char *status;		/* the last STATUS= value, or NULL */
	size_t status_len;
	size_t ignored;			/* assignments not relayed (X_SYSTEMD_*, READY=0 ...) */
	const char *first_ignored;	/* the first of them, for a debug line */
	size_t first_ignored_len;
};

/* Parses `len` bytes: assignments separated by '\n' (or '\r'), the last one
 * with or without a newline, empty lines skipped. Only "READY=1",
 * "STOPPING=1" and "STATUS=..." count; everything else is ignored, as
 * systemd ignores unknown assignments. Returns 0, -EMSGSIZE when `len`
 * exceeds READY_MSG_MAX, -EINVAL for a NUL byte (the whole message is
 * refused: it is not text). */
int ready_parse(const char *buf, size_t len, struct ready_msg *out);

/* The message vmm sends up for `m`: "READY=1", "STOPPING=1" and
 * "STATUS=..." (cut at READY_STATUS_MAX, bytes other than printable ASCII
 * made '?') joined by newlines. Returns its length; 0 when there is
 * nothing to relay. `len` of READY_STATUS_MAX + 64 always suffices. */
size_t ready_format(const struct ready_msg *m, char *buf, size_t len);

struct ready_guest;

/* Creates the listener at `path` (mode 0600; then owned by `uid`:`gid`
 * where not -1, the user vmm switches to, whose vsock device connects to
 * it), replacing a stale socket, refusing a path in use or not a socket.
 * `timeout_s` (0: none) is how long after ready_guest_start vmm waits for
 * READY=1 before logging that the guest is late. Call before the sandbox:
 * it makes sockets and timers. Returns 0 or -errno (logged). */
int ready_guest_open(const char *path, uid_t uid, gid_t gid, unsigned timeout_s,
		     struct ready_guest **out);

/* An epoll fd to watch in the main loop: readable when there is work for
 * ready_guest_process. */
int ready_guest_fd(const struct ready_guest *rg);

/* The VM starts: the readiness timeout counts from now. */
void ready_guest_start(struct ready_guest *rg);

/* Accepts, reads, hangs up on silent clients, notes the timeout; calls
 * `relay` for each complete message with something to relay. Main thread
 * only. */
void ready_guest_process(struct ready_guest *rg,
			 void (*relay)(void *ctx, const struct ready_msg *m), void *ctx);

/* Closes every connection and removes the socket if it is still ours. */
void ready_guest_close(struct ready_guest *rg);

#endif
