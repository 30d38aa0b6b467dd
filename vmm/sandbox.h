/* Seccomp allowlists, one per thread kind, with libseccomp. Each thread
 * loads its own filter (no TSYNC: the filters differ) once its setup is
 * done; any syscall outside its list kills the process with SIGSYS after
 * one log line that names the thread kind and the syscall. */
#ifndef VMM_SANDBOX_H
#define VMM_SANDBOX_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

enum sandbox_kind {
	SANDBOX_MAIN,	/* the event loop, the control socket, teardown */
	SANDBOX_IO,	/* the I/O thread: device queues, io_uring, backends */
	SANDBOX_VCPU,	/* KVM_RUN and the device emulation it calls */
	SANDBOX_NKINDS,
};

/* Called once by the main thread before any other thread starts and before
 * privileges_drop: resolves the syscall names for the SIGSYS handler,
 * installs it and forks the launcher (below) when anything is registered.
 * With `enabled` false, sandbox_enter does nothing ([vm] seccomp = false). */
int sandbox_init(bool enabled);

/* Loads the calling thread's filter; 0 or -errno (logged). */
int sandbox_enter(enum sandbox_kind kind);
/* A vCPU thread's sandbox_enter(SANDBOX_VCPU): its vCPU ioctls (KVM_RUN...)
 * are allowed on `vcpu_fd`, its own, and on no other vCPU's fd. */
int sandbox_enter_vcpu(int vcpu_fd);

/* KVM fds the filters name: ioctl requests on the VM fd and on vCPU fds
 * are allowed on those fds only. Call from the main thread before
 * sandbox_init (the table is fixed then: -EBUSY after); without it no
 * VM or vCPU ioctl is allowed at all. `vcpu_fds` is copied. */
int sandbox_set_kvm_fds(int vm_fd, const int *vcpu_fds, unsigned n);

/* Helper processes (virtiofsd) and the sockets to them are made by a
 * launcher process forked at sandbox_init, before any filter and before
 * vmm gives up root: a filter survives fork and execve, so a filtered
 * thread must not start a program, and after the drop it could neither
 * start virtiofsd with its privileges nor signal it. What the launcher
 * may do is fixed before it forks: each operation is registered here, from
 * the main thread, and a filtered thread can only name it by its handle.
 * Registering returns the handle (>= 0), -EBUSY after sandbox_init,
 * -ENOSPC past SANDBOX_MAX_PROGS, -EINVAL for a bad argument.
 *
 * A server program: `fn(arg, fd)` runs in a new process, in a copy of
 * vmm's memory as it was at sandbox_init (so `arg` and what it points to
 * must be built before then and never change), with `fd` a listening unix
 * socket of its own, and must exec or _exit. */
#define SANDBOX_MAX_PROGS 32
typedef void (*sandbox_exec_fn)(const void *arg, int fd);
int sandbox_register(const char *name, sandbox_exec_fn fn, const void *arg);

/* A unix stream socket path to connect to (copied; at most 107 bytes). */
int sandbox_register_socket(const char *name, const char *path);

/* A unix stream socket path prefix (virtio-vsock's socket): connections
 * go to "<prefix>_<port>", the launcher building the path itself from the
 * prefix registered here and a port number, so a filtered thread can name
 * no other file. The prefix is copied; with "_4294967295" it must fit in
 * 107 bytes. */
int sandbox_register_socket_prefix(const char *name, const char *prefix);

/* Starts server program `id`: the launcher makes its listening socket (an
 * autobound abstract address), connects to it, starts the program on it
 * and hands back the connected fd in *conn and the pid in *pid. The
 * process is vmm's child (vmm is its subreaper), for waitpid, and is
 * already vmm's child when `fn` runs (PR_SET_PDEATHSIG). At most one runs
 * per handle: -EBUSY while the last one has not exited. Before
 * sandbox_init the same happens in this process. 0 or -errno (-EINVAL for
 * a handle of another kind or none). */
int sandbox_start(int id, int *conn, pid_t *pid);

/* Connects to registered socket `id`: 0 and the fd in *conn, or -errno. */
int sandbox_connect(int id, int *conn);

/* Connects to "<prefix>_<port>" of registered prefix `id`, without
 * waiting (a full backlog is -EAGAIN): 0 and the non-blocking fd in *conn,
 * or -errno. */
int sandbox_connect_port(int id, uint32_t port, int *conn);

/* Sends SIGTERM or SIGKILL (nothing else) to the last process started for
 * `id`, through the launcher's pidfd of it (never a recycled pid; and the
 * launcher may signal it after vmm gave up root). 0 or -errno. */
int sandbox_signal(int id, int sig);

/* vmm's end of the launcher's socket, or -1 before sandbox_init: for the
 * unit test that plays a compromised thread. */
int sandbox_launcher_fd(void);

/* The three allowlists, for `vmm --print-seccomp` and docs/operations.md. */
void sandbox_print(FILE *out);

#endif
