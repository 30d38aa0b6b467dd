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

/* Starts a helper process (a child process, not a thread) that runs
 * `fn(arg, fd)` in a new process: a filter survives fork and execve, so a
 * filtered thread must not start a program itself. `fn` runs in a copy of
 * vmm's memory as it was at sandbox_init (pointers into data built before
 * then stay valid) and must exec or _exit. The new process is vmm's child
 * (vmm is its subreaper), for waitpid, and is already vmm's child when `fn`
 * runs (PR_SET_PDEATHSIG). Before sandbox_init, or with seccomp off, it is
 * a plain fork. 0 and *pid, or -errno. */
int sandbox_spawn(void (*fn)(void *arg, int fd), void *arg, int fd, pid_t *pid);

/* The three allowlists, for `vmm --print-seccomp` and docs/operations.md. */
void sandbox_print(FILE *out);

#endif
