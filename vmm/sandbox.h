/* Seccomp allowlists, one per thread kind, with libseccomp. Each thread
 * loads its own filter (no TSYNC: the filters differ) once its setup is
 * done; any syscall outside its list kills the process with SIGSYS after
 * one log line that names the thread kind and the syscall. */
#ifndef VMM_SANDBOX_H
#define VMM_SANDBOX_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

enum sandbox_kind {
	SANDBOX_MAIN,	/* the event loop, the control socket, teardown */
	SANDBOX_IO,	/* the I/O thread: device queues, io_uring, backends */
	SANDBOX_VCPU,	/* KVM_RUN and the device emulation it calls */
	SANDBOX_NKINDS,
};

/* Called once by the main thread before any other thread starts: resolves
 * the syscall names for the SIGSYS handler and installs it. With `enabled`
 * false, sandbox_enter does nothing (config [vm] seccomp = false). */
int sandbox_init(bool enabled);

/* Loads the calling thread's filter; 0 or -errno (logged). */
int sandbox_enter(enum sandbox_kind kind);

/* Helper processes (virtiofsd) are started by a launcher process forked at
 * sandbox_init, before any filter: a filter survives fork and execve, so a
 * filtered thread must not start a program itself. What the launcher may
 * start is fixed before it forks: each program is registered here, from the
 * main thread, and a filtered thread can only name a registered program by
 * its handle. `fn(arg, fd)` runs in a new process, in a copy of vmm's memory
 * as it was at sandbox_init (so `arg` and what it points to must be built
 * before then and never change), and must exec or _exit. Returns the handle
 * (>= 0), -EBUSY after sandbox_init, -ENOSPC past SANDBOX_MAX_PROGS. */
#define SANDBOX_MAX_PROGS 32
typedef void (*sandbox_exec_fn)(const void *arg, int fd);
int sandbox_register(const char *name, sandbox_exec_fn fn, const void *arg);

/* Starts registered program `id` with `fd` (or -1) passed to it. The new
 * process is vmm's child (vmm is its subreaper), for waitpid, and is
 * already vmm's child when `fn` runs (PR_SET_PDEATHSIG). Before
 * sandbox_init, or with seccomp off, it is a plain fork. 0 and *pid, or
 * -errno (-EINVAL for an unknown id). */
int sandbox_spawn(int id, int fd, pid_t *pid);

/* vmm's end of the launcher's socket, or -1 before sandbox_init: for the
 * unit test that plays a compromised thread. */
int sandbox_launcher_fd(void);

/* The three allowlists, for `vmm --print-seccomp` and docs/operations.md. */
void sandbox_print(FILE *out);

#endif
