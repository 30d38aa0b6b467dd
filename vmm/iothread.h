/* The I/O thread: one epoll loop that runs device work (virtqueue kicks from
 * KVM ioeventfds, io_uring completions) off the vCPU threads. Devices
 * register eventfds while the VM is built, and a few again at run time from
 * vCPU or I/O threads (a reconnected vhost-user backend); handlers run in
 * this thread only. */
#ifndef VMM_IOTHREAD_H
#define VMM_IOTHREAD_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "thread.h"

/* Called in the I/O thread when `fd` is readable; `events` from epoll. */
typedef void (*io_handler_fn)(void *opaque, uint32_t events);

struct io_watch;

struct iothread {
	int epfd;
	int stop_fd;		/* eventfd: iothread_stop wakes the loop */
	struct vmm_thread thread;
	bool started;
	pthread_mutex_t lock;		/* watches, retired */
	struct io_watch *watches;	/* freed by iothread_destroy */
	/* Removed by iothread_del; the I/O thread frees them after the batch
	 * of events that may still name them. */
	struct io_watch *retired;
	/* Runs first in the thread, once (vm.c: the seccomp filter); the
	 * thread exits the process when it fails. NULL: nothing. */
	int (*enter)(void);
};

/* 0 or -errno. */
int iothread_init(struct iothread *t);
/* Watch `fd` for input; the handler runs in the I/O thread. Safe before and
 * after iothread_start, from any thread. Returns 0 or -errno. */
int iothread_add(struct iothread *t, int fd, io_handler_fn fn, void *opaque);
/* Stops watching `fd` (call it before closing the fd): its handler is not
 * called again once this returns, unless it is running right now in the I/O
 * thread. From any thread, the I/O thread's handlers included. 0, or
 * -ENOENT when `fd` is not watched. */
int iothread_del(struct iothread *t, int fd);
int iothread_start(struct iothread *t);
/* Stops and joins the thread; handlers are not running when it returns. */
void iothread_stop(struct iothread *t);
/* Stops if needed and frees everything; does not close the watched fds. */
void iothread_destroy(struct iothread *t);

#endif
