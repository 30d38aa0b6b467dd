/* Unit tests for vmm/iothread.c: watches added and removed while the thread
 * runs, from other threads and from a handler, as a vhost-user backend's
 * reconnects do; no watch is left behind per reconnect. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cmocka.h>

#include "iothread.h"

struct counter {
	int fd;
	atomic_int calls;
	struct iothread *t;
	bool del_self;		/* the handler removes its own watch */
};

static void on_event(void *opaque, uint32_t events)
{
	struct counter *c = opaque;
	uint64_t v;

	if (read(c->fd, &v, sizeof(v)) < 0)
		return;
	if (c->del_self)
		iothread_del(c->t, c->fd);
	atomic_fetch_add(&c->calls, 1);
}

static void kick(int fd)
{
	uint64_t one = 1;

	assert_int_equal(write(fd, &one, sizeof(one)), sizeof(one));
}

static int wait_calls(struct counter *c, int want)
{
	for (int i = 0; i < 2000 && atomic_load(&c->calls) < want; i++)
		usleep(1000);
	return atomic_load(&c->calls);
}

static void test_del_stops_handler(void **state)
{
	struct iothread t;
	struct counter c = { .t = &t };

	assert_int_equal(iothread_init(&t), 0);
	c.fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(c.fd >= 0);
	assert_int_equal(iothread_add(&t, c.fd, on_event, &c), 0);
	assert_int_equal(iothread_start(&t), 0);
	kick(c.fd);
	assert_int_equal(wait_calls(&c, 1), 1);
	assert_int_equal(iothread_del(&t, c.fd), 0);
	assert_int_equal(iothread_del(&t, c.fd), -ENOENT);
	kick(c.fd);
	usleep(50 * 1000);
	assert_int_equal(atomic_load(&c.calls), 1);
	iothread_destroy(&t);
	close(c.fd);
}

/* A reconnect loop: each connection's fd is watched, then removed by its
 * own handler (the hang-up), and a new one is added from this thread. At
 * the end nothing is left: neither live nor retired watches. */
static void test_reconnects_leave_no_watch(void **state)
{
	struct iothread t;
	struct counter c[50];

	assert_int_equal(iothread_init(&t), 0);
	assert_int_equal(iothread_start(&t), 0);
	for (int i = 0; i < 50; i++) {
		c[i] = (struct counter){ .t = &t, .del_self = true };
		c[i].fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		assert_true(c[i].fd >= 0);
		assert_int_equal(iothread_add(&t, c[i].fd, on_event, &c[i]), 0);
		kick(c[i].fd);
		assert_int_equal(wait_calls(&c[i], 1), 1);
		assert_int_equal(iothread_del(&t, c[i].fd), -ENOENT);
		close(c[i].fd);
	}
	/* Nothing watched, and the I/O thread has freed what it retired
	 * (the last one at the end of its last batch). */
	for (int i = 0; i < 2000 && __atomic_load_n(&t.retired, __ATOMIC_ACQUIRE); i++)
		usleep(1000);
	pthread_mutex_lock(&t.lock);
	assert_null(t.watches);
	assert_null(t.retired);
	pthread_mutex_unlock(&t.lock);
	iothread_destroy(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_del_stops_handler),
		cmocka_unit_test(test_reconnects_leave_no_watch),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
