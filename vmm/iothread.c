/* The I/O thread's epoll loop; see iothread.h. */
#include "iothread.h"

#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "log.h"

struct io_watch {
	int fd;
	io_handler_fn fn;
	void *opaque;
	struct io_watch *next;
};

int iothread_init(struct iothread *t)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

	memset(t, 0, sizeof(*t));
	t->stop_fd = -1;
	t->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (t->epfd < 0)
		return -errno;
	t->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (t->stop_fd < 0)
		return -errno;
	/* data.ptr == NULL marks the stop eventfd. */
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, t->stop_fd, &ev) < 0)
		return -errno;
	return 0;
}

int iothread_add(struct iothread *t, int fd, io_handler_fn fn, void *opaque)
{
	struct io_watch *w = calloc(1, sizeof(*w));
	struct epoll_event ev = { .events = EPOLLIN };

	if (!w)
		return -ENOMEM;
	w->fd = fd;
	w->fn = fn;
	w->opaque = opaque;
	ev.data.ptr = w;
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int e = errno;

		free(w);
		return -e;
	}
	/* Only the building thread adds watches; the list is for freeing. */
	w->next = t->watches;
	t->watches = w;
	return 0;
}

static void *iothread_main(void *arg)
{
	struct iothread *t = arg;

	/* No device runs unconfined: without its filter, no VM. */
	if (t->enter && t->enter() < 0)
		_exit(1);
	for (;;) {
		struct epoll_event evs[16];
		int n = epoll_wait(t->epfd, evs, 16, -1);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			log_err("I/O thread: epoll_wait: %m");
			return NULL;
		}
		for (int i = 0; i < n; i++) {
			struct io_watch *w = evs[i].data.ptr;

			if (!w)
				return NULL;	/* stop requested */
			w->fn(w->opaque, evs[i].events);
		}
	}
}

int iothread_start(struct iothread *t)
{
	sigset_t all, old;
	int r;

	/* Signals belong to the main loop's signalfd and the vCPU kicks. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = pthread_create(&t->thread, NULL, iothread_main, t);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r)
		return -r;
	t->started = true;
	return 0;
}

void iothread_stop(struct iothread *t)
{
	uint64_t one = 1;

	if (!t->started)
		return;
	if (write(t->stop_fd, &one, sizeof(one)) < 0)
		log_warn("I/O thread: cannot signal stop: %m");
	pthread_join(t->thread, NULL);
	t->started = false;
}

void iothread_destroy(struct iothread *t)
{
	iothread_stop(t);
	while (t->watches) {
		struct io_watch *w = t->watches;

		t->watches = w->next;
		free(w);
	}
	if (t->stop_fd >= 0)
		close(t->stop_fd);
	if (t->epfd >= 0)
		close(t->epfd);
	t->stop_fd = t->epfd = -1;
}
