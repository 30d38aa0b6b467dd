/* The I/O thread: one epoll loop that runs device work (virtqueue kicks from
 * KVM ioeventfds, io_uring completions) off the vCPU threads. Devices
 * register eventfds while the VM is built; handlers run in this thread only. */
#ifndef VMM_IOTHREAD_H
#define VMM_IOTHREAD_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/* Called in the I/O thread when `fd` is readable; `events` from epoll. */
typedef void (*io_handler_fn)(void *opaque, uint32_t events);

struct io_watch;

struct iothread {
	int epfd;
	int stop_fd;		/* eventfd: iothread_stop wakes the loop */
	pthread_t thread;
	bool started;
	struct io_watch *watches;	/* freed by iothread_destroy */
	/* Runs first in the thread, once (vm.c: the seccomp filter); the
	 * thread exits the process when it fails. NULL: nothing. */
	int (*enter)(void);
};

/* 0 or -errno. */
int iothread_init(struct iothread *t);
/* Watch `fd` for input; the handler runs in the I/O thread. Safe before and
 * after iothread_start. Returns 0 or -errno. */
int iothread_add(struct iothread *t, int fd, io_handler_fn fn, void *opaque);
int iothread_start(struct iothread *t);
/* Stops and joins the thread; handlers are not running when it returns. */
void iothread_stop(struct iothread *t);
/* Stops if needed and frees everything; does not close the watched fds. */
void iothread_destroy(struct iothread *t);

#endif
