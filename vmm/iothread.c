/* The I/O thread's epoll loop; see iothread.h. */
#include "iothread.h"

#include <errno.h>
#include <stdatomic.h>
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
	atomic_bool dead;	/* removed: skip it in the current batch */
	struct io_watch *next;
};

int iothread_init(struct iothread *t)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };

	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->lock, NULL);
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
	pthread_mutex_lock(&t->lock);
	if (epoll_ctl(t->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int e = errno;

		pthread_mutex_unlock(&t->lock);
		free(w);
		return -e;
	}
	w->next = t->watches;
	t->watches = w;
	pthread_mutex_unlock(&t->lock);
	return 0;
}

int iothread_del(struct iothread *t, int fd)
{
	struct io_watch **pp, *w = NULL;

	pthread_mutex_lock(&t->lock);
	for (pp = &t->watches; *pp; pp = &(*pp)->next) {
		if ((*pp)->fd == fd) {
			w = *pp;
			*pp = w->next;
			break;
		}
	}
	if (w) {
		/* The fd may already be closed (then epoll dropped it). */
		epoll_ctl(t->epfd, EPOLL_CTL_DEL, fd, NULL);
		atomic_store(&w->dead, true);
		/* An epoll_wait may have returned it already: freed after that
		 * batch, by the I/O thread (or by iothread_destroy). */
		w->next = t->retired;
		__atomic_store_n(&t->retired, w, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&t->lock);
	return w ? 0 : -ENOENT;
}

static void free_list(struct io_watch *w)
{
	while (w) {
		struct io_watch *next = w->next;

		free(w);
		w = next;
	}
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
			if (!atomic_load(&w->dead))
				w->fn(w->opaque, evs[i].events);
		}
		/* No event of this batch names a retired watch any more, and
		 * the next epoll_wait cannot return one. */
		if (__atomic_load_n(&t->retired, __ATOMIC_ACQUIRE)) {
			struct io_watch *r;

			pthread_mutex_lock(&t->lock);
			r = t->retired;
			__atomic_store_n(&t->retired, NULL, __ATOMIC_RELEASE);
			pthread_mutex_unlock(&t->lock);
			free_list(r);
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
	r = vmm_thread_start(&t->thread, iothread_main, t);
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
	vmm_thread_join(&t->thread);
	t->started = false;
}

void iothread_destroy(struct iothread *t)
{
	iothread_stop(t);
	free_list(t->watches);
	free_list(t->retired);
	t->watches = t->retired = NULL;
	if (t->stop_fd >= 0)
		close(t->stop_fd);
	if (t->epfd >= 0)
		close(t->epfd);
	t->stop_fd = t->epfd = -1;
}
