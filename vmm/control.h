/* The control socket: a unix stream socket per VM (default
 * /run/vmm/NAME.sock, mode 0600) served by the main thread's event loop,
 * and the `vmm ctl` / `vmm list` clients. The protocol is one request line
 * in, one reply line out, except `console`, after whose reply the connection
 * is the serial console's byte stream; docs/operations.md documents it. */
#ifndef VMM_CONTROL_H
#define VMM_CONTROL_H

#include <stddef.h>
#include <stdint.h>

#define CONTROL_LINE_MAX 256	/* a request with its newline; longer is an error */
#define CONTROL_CLIENTS_MAX 8	/* more are answered with an error and closed */
#define CONTROL_REPLY_MAX 8192	/* one reply line, `queues` the longest */
#define CONTROL_IDLE_S 10	/* a client silent for this long is closed */
#define CONTROL_DETACH_KEY 0x1d	/* Ctrl-]: `vmm ctl NAME console` detaches */

enum control_cmd {
	CONTROL_STATUS,
	CONTROL_PAUSE,
	CONTROL_RESUME,
	CONTROL_SHUTDOWN,
	CONTROL_KILL,
	CONTROL_HELP,
	CONTROL_QUEUES,
	CONTROL_CONSOLE,
	CONTROL_BALLOON,	/* takes one argument: the target in MiB */
};

/* Parses one request line (`len` bytes, without the newline; a trailing CR
 * and surrounding blanks are allowed). Returns 0 and sets *cmd (and *arg,
 * the decimal argument of `balloon`; 0 for the others), or -EINVAL with a
 * one-line, printable reason in `err`. Never reads past `len`. */
int control_parse(const char *line, size_t len, enum control_cmd *cmd, uint64_t *arg,
		  char *err, size_t errlen);

struct control;

/* What `status` reports. */
struct control_status {
	const char *name;
	const char *state;		/* as control_vm_ops.state gives it */
	unsigned vcpus;
	uint64_t memory_mib;
	uint64_t uptime_s;
	/* Boot phases in microseconds since exec; 0 until reached. */
	uint64_t first_kvm_run_us, first_serial_us, userspace_ready_us, shutdown_us;
	/* Words appended as they are (" balloon_target_mib=N ..."): the
	 * devices' own state; "" for none. */
	char extra[384];
};

/* The VM as the server sees it, `vm` being the caller's opaque pointer: the
 * server knows nothing else of the VM (so a test can play one). Called from
 * control_process only, on the main thread. */
struct control_vm_ops {
	void (*status)(void *vm, struct control_status *st);
	/* The lifecycle state's name: "starting", "running", "paused",
	 * "stopping". */
	const char *(*state)(void *vm);
	/* 0, -EBUSY once the VM is stopping, -ETIMEDOUT when the vCPUs did not
	 * stop (pause only); the reply says which. */
	int (*pause)(void *vm);
	int (*resume)(void *vm);
	/* A graceful stop, as SIGTERM starts one; `why` is logged. */
	void (*shutdown)(void *vm, const char *why);
	/* Stops the guest now, as a timed-out graceful stop would. */
	void (*kill)(void *vm, const char *why);
	/* Every virtio queue's state as words (" blk0.q0=..."); returns the
	 * length written, at most len - 1. */
	size_t (*describe_queues)(void *vm, char *buf, size_t len);
	/* `balloon MIB`: the balloon's new target. 0, -ENODEV with no
	 * balloon, -EINVAL when MIB is not below guest memory. NULL: as
	 * -ENODEV. */
	int (*balloon)(void *vm, uint64_t mib);
	/* The serial console, for `console` (NULL: the request is refused).
	 * console_attach: until it is called again with -1, eventfd `fd` is
	 * written when the console has new output or room for input.
	 * console_read: output from position *pos on, as console_ring_read
	 * (vmm/console_ring.h). console_write: input for the guest; returns
	 * what its receive buffer took, the rest waits for `fd`. */
	void (*console_attach)(void *vm, int fd);
	size_t (*console_read)(void *vm, uint64_t *pos, uint8_t *buf, size_t len,
			       uint64_t *skipped);
	size_t (*console_write)(void *vm, const uint8_t *buf, size_t len);
};

/* Creates the directory of `path` (0700) when missing, takes `path`.lock,
 * removes a stale socket (one nobody listens on) and listens on `path`
 * with mode 0600. -EADDRINUSE when another vmm holds it; other -errno on
 * failure. Everything is logged. */
int control_open(const char *path, struct control **out);

/* An fd for the caller's epoll: readable when control_process has work. */
int control_fd(const struct control *c);

/* Accepts clients, reads requests and answers them without blocking; acts on
 * `vm` through `ops` (main thread only). */
void control_process(struct control *c, const struct control_vm_ops *ops, void *vm);

/* Closes every client and removes the socket if it is still ours. */
void control_close(struct control *c);

/* `path` made into a unix socket address; -ENAMETOOLONG when it does not
 * fit. For the server and the clients alike. */
struct sockaddr_un;
int control_addr(const char *path, struct sockaddr_un *sa);

/* Client side: sends `request` to the socket at `path` and reads one reply
 * line into `reply` (newline removed). Returns 0 for an "ok" reply, 1 for
 * an "error" reply, -errno when the VMM could not be asked. */
int control_request(const char *path, const char *request, char *reply,
		    size_t len, int timeout_ms);

/* `vmm ctl NAME|PATH COMMAND` and `vmm list`: argv[0] is "ctl" / "list".
 * Return the process exit status. */
int control_main_ctl(int argc, char **argv);
int control_main_list(int argc, char **argv);

/* `vmm ctl NAME console`: the terminal (raw mode when stdin is one) or
 * stdin/stdout attached to the console of the VM at `path` until Ctrl-]
 * (CONTROL_DETACH_KEY) or the end of stdin (0), vmm closing the connection
 * (0), a signal (the terminal restored first), or an error (1). */
int control_console(const char *path, const char *name);

#endif
