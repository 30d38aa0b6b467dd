/* Unit tests for devices/virtio/net_irq.c, virtio-net's interrupt
 * moderation, on two queues over fake guest memory with a transport that
 * counts interrupts: small exchanges interrupt at once; after a bulk the
 * guest sent the interrupt waits hold_us (its timer set for then) and every
 * completion meanwhile shares it, and so does a small frame's within the
 * bulk's linger; a transmit run in a bulk leaves the next run to the timer
 * (net_irq_tx_defer); a bulk the guest receives, with its small
 * answers, interrupts at once; interrupt_hold_us = 0 never waits; a reset forgets
 * what was owed; the driver's suppression still has the last word; the
 * timerfd, when it fires, delivers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <net/if.h>
#include <poll.h>
#include <string.h>
#include <sys/timerfd.h>

#include <cmocka.h>

#include "log.h"
#include "memory.h"
#include "virtio/net-internal.h"

#define RAM		(1 << 20)
#define QBASE(q)	(0x10000ULL + 0x10000ULL * (q))
#define HOLD_US		100
#define T0		1000000000ULL	/* an arbitrary "now", in ns */

static struct guest_mem gm;
static struct virtio_dev vd;
static struct net_irq m;
static unsigned signals[2];

static void sig_queue(struct virtio_dev *d, unsigned q) { signals[q]++; }
static void sig_config(struct virtio_dev *d) { }
static const struct virtio_transport_ops tops = { .signal_queue = sig_queue,
						  .signal_config = sig_config };

static int group_setup(void **state)
{
	log_set_level(LOG_LVL_ERR);
	return gm_init(&gm, 0, RAM, 0, 0);
}

static int group_teardown(void **state)
{
	gm_destroy(&gm);
	return 0;
}

static void open_queues(uint32_t hold_us)
{
	memset(gm.base, 0, RAM);
	memset(&vd, 0, sizeof(vd));
	vd.nqueues = 2;
	vd.tops = &tops;
	for (unsigned i = 0; i < 2; i++) {
		struct virtq *q = &vd.vq[i];

		q->mem = &gm;
		q->size = 16;
		q->desc = QBASE(i);
		q->avail = QBASE(i) + 0x1000;
		q->used = QBASE(i) + 0x2000;
		virtq_set_features(q, 1ULL << VIRTIO_F_VERSION_1);
		assert_int_equal(virtq_enable(q), 0);
	}
	signals[0] = signals[1] = 0;
	assert_int_equal(net_irq_init(&m, hold_us), 0);
}

static int setup(void **state) { open_queues(HOLD_US); return 0; }
static int setup_off(void **state) { open_queues(0); return 0; }
static int teardown(void **state) { net_irq_free(&m); return 0; }

/* The deadline the timerfd is set for, in ns from now; 0 when stopped. */
static uint64_t timer_left(void)
{
	struct itimerspec its;

	assert_int_equal(timerfd_gettime(m.tfd, &its), 0);
	return (uint64_t)its.it_value.tv_sec * 1000000000ULL + (uint64_t)its.it_value.tv_nsec;
}

/* A ping, a 1-byte request and its answer: each interrupt goes at once. */
static void test_small_at_once(void **state)
{
	for (unsigned i = 0; i < 10; i++) {
		net_irq_moved(&m, 0, 60, true);
		net_irq_used(&m, &vd, NET_RXQ, T0 + i * 1000);
		net_irq_moved(&m, 0, 60, true);
		net_irq_used(&m, &vd, NET_TXQ, T0 + i * 1000 + 500);
	}
	assert_int_equal(signals[NET_RXQ], 10);
	assert_int_equal(signals[NET_TXQ], 10);
	assert_int_equal(m.held, 0);
	assert_int_equal(m.sent, 20);
	assert_int_equal(timer_left(), 0);
}

/* After a bulk the interrupt waits hold_us, shared by what completes
 * meanwhile; then the queue starts over. */
static void test_bulk_held(void **state)
{
	net_irq_moved(&m, 0, 65536, true);
	net_irq_used(&m, &vd, NET_RXQ, T0);
	assert_int_equal(signals[NET_RXQ], 0);
	assert_int_equal(m.held, 1);
	assert_true(m.due[NET_RXQ] == T0 + HOLD_US * 1000ULL);
	/* the timer is set (T0 is long past on CLOCK_MONOTONIC: it is due) */
	assert_true(m.armed == T0 + HOLD_US * 1000ULL);
	for (unsigned i = 1; i < 5; i++) {
		net_irq_moved(&m, 0, 65536, true);
		net_irq_used(&m, &vd, NET_RXQ, T0 + i * 10000);
	}
	net_irq_expire(&m, &vd, T0 + HOLD_US * 1000ULL - 1);
	assert_int_equal(signals[NET_RXQ], 0);
	net_irq_expire(&m, &vd, T0 + HOLD_US * 1000ULL);
	assert_int_equal(signals[NET_RXQ], 1);
	assert_int_equal(m.held, 1);
	assert_true(m.armed == 0);
	/* counted afresh: once the bulk's linger is over (from the interrupt
	 * that announced it), a small frame goes at once */
	net_irq_moved(&m, 0, 100, true);
	net_irq_used(&m, &vd, NET_RXQ, T0 + HOLD_US * 1000ULL + NET_IRQ_LINGER_NS);
	assert_int_equal(signals[NET_RXQ], 2);
	assert_int_equal(signals[NET_TXQ], 0);
}

/* Within the linger after a bulk, a small frame's interrupt waits too: a
 * stream's frames are not all large. After it, at once again. */
static void test_bulk_lingers(void **state)
{
	net_irq_moved(&m, 0, 65536, true);
	net_irq_used(&m, &vd, NET_TXQ, T0);
	net_irq_expire(&m, &vd, T0 + HOLD_US * 1000ULL);
	assert_int_equal(signals[NET_TXQ], 1);
	net_irq_moved(&m, 0, 1000, true);
	net_irq_used(&m, &vd, NET_TXQ, T0 + 500000);
	assert_int_equal(signals[NET_TXQ], 1);
	assert_int_equal(m.held, 2);
	assert_true(m.due[NET_TXQ] == T0 + 500000 + HOLD_US * 1000ULL);
	net_irq_expire(&m, &vd, T0 + 500000 + HOLD_US * 1000ULL);
	assert_int_equal(signals[NET_TXQ], 2);
	net_irq_moved(&m, 0, 1000, true);
	net_irq_used(&m, &vd, NET_TXQ, T0 + HOLD_US * 1000ULL + NET_IRQ_LINGER_NS - 1);
	assert_int_equal(signals[NET_TXQ], 2);	/* the linger, from the bulk's interrupt */
	net_irq_expire(&m, &vd, T0 + 2 * HOLD_US * 1000ULL + NET_IRQ_LINGER_NS);
	assert_int_equal(signals[NET_TXQ], 3);
	net_irq_moved(&m, 0, 1000, true);
	net_irq_used(&m, &vd, NET_TXQ, T0 + 3 * HOLD_US * 1000ULL + NET_IRQ_LINGER_NS);
	assert_int_equal(signals[NET_TXQ], 4);
	assert_int_equal(m.held, 3);
}

/* A transmit run in a bulk leaves the next run to the timer, once per
 * hold; outside a bulk, or with interrupt_hold_us = 0, it does not. */
static void test_tx_defer(void **state)
{
	assert_false(net_irq_tx_defer(&m, 0, T0));	/* no bulk yet */
	net_irq_moved(&m, 0, 65536, true);
	net_irq_used(&m, &vd, NET_TXQ, T0);
	assert_true(net_irq_tx_defer(&m, 0, T0 + 1000));
	assert_true(m.tx_due[0] == T0 + 1000 + HOLD_US * 1000ULL);
	assert_true(net_irq_tx_defer(&m, 0, T0 + 5000));	/* still that one */
	assert_true(m.tx_due[0] == T0 + 1000 + HOLD_US * 1000ULL);
	assert_int_equal(m.tx_deferred, 1);
	/* the timer is set for the earlier of the interrupt and the run */
	assert_true(m.armed == T0 + HOLD_US * 1000ULL);
	assert_false(net_irq_tx_defer(&m, 1, T0 + 5000));	/* another pair */
	assert_int_equal(net_irq_tx_due(&m, T0 + HOLD_US * 1000ULL), 0);
	net_irq_expire(&m, &vd, T0 + HOLD_US * 1000ULL);
	assert_true(m.armed == T0 + 1000 + HOLD_US * 1000ULL);
	assert_int_equal(net_irq_tx_due(&m, T0 + 1000 + HOLD_US * 1000ULL), 1);
	assert_true(m.tx_due[0] == 0);
	assert_int_equal(net_irq_tx_due(&m, T0 + 1000 + HOLD_US * 1000ULL), 0);
	/* the timed run's completions go at once */
	net_irq_flush(&m, &vd, NET_TXQ, T0 + 1000 + HOLD_US * 1000ULL);
	assert_int_equal(signals[NET_TXQ], 2);
	assert_true(m.armed == 0);
	/* after the linger (from the bulk's interrupt), kicks again */
	assert_true(net_irq_tx_defer(&m, 0, T0 + HOLD_US * 1000ULL + NET_IRQ_LINGER_NS - 1));
	net_irq_tx_due(&m, UINT64_MAX);
	assert_false(net_irq_tx_defer(&m, 0, T0 + HOLD_US * 1000ULL + NET_IRQ_LINGER_NS));
	/* a reset forgets a deferred run */
	net_irq_moved(&m, 0, 65536, true);
	net_irq_used(&m, &vd, NET_TXQ, T0 + 3 * NET_IRQ_LINGER_NS);
	assert_true(net_irq_tx_defer(&m, 0, T0 + 3 * NET_IRQ_LINGER_NS));
	net_irq_reset(&m);
	assert_int_equal(net_irq_tx_due(&m, UINT64_MAX), 0);
	assert_false(net_irq_tx_defer(&m, 0, T0 + 3 * NET_IRQ_LINGER_NS));
}

static void test_tx_defer_off(void **state)
{
	net_irq_moved(&m, 0, 65536, true);
	net_irq_used(&m, &vd, NET_TXQ, T0);
	assert_false(net_irq_tx_defer(&m, 0, T0 + 1000));
	assert_int_equal(net_irq_tx_due(&m, UINT64_MAX), 0);
}

/* A stream the guest receives: its frames and its ACKs interrupt at once,
 * so that the ACKs the sender waits for leave without a hold. Once the
 * guest sends a bulk too, the hold applies. */
static void test_receiving_at_once(void **state)
{
	for (unsigned i = 0; i < 8; i++) {
		net_irq_moved(&m, 0, 65536, false);
		net_irq_used(&m, &vd, NET_RXQ, T0 + i * 1000);
		net_irq_moved(&m, 0, 66, true);
		net_irq_used(&m, &vd, NET_TXQ, T0 + i * 1000 + 500);
	}
	assert_int_equal(signals[NET_RXQ], 8);
	assert_int_equal(signals[NET_TXQ], 8);
	assert_int_equal(m.held, 0);
	net_irq_moved(&m, 0, 65536, true);
	net_irq_moved(&m, 0, 65536, false);
	net_irq_used(&m, &vd, NET_RXQ, T0 + 10000);
	assert_int_equal(signals[NET_RXQ], 8);
	assert_int_equal(m.held, 1);
}

/* Both queues held: the timer is set for the earlier, then the later. */
static void test_two_queues(void **state)
{
	net_irq_moved(&m, 0, 20000, true);
	net_irq_used(&m, &vd, NET_TXQ, T0);
	net_irq_used(&m, &vd, NET_RXQ, T0 + 30000);
	assert_true(m.armed == T0 + HOLD_US * 1000ULL);
	net_irq_expire(&m, &vd, T0 + HOLD_US * 1000ULL);
	assert_int_equal(signals[NET_TXQ], 1);
	assert_int_equal(signals[NET_RXQ], 0);
	assert_true(m.armed == T0 + 30000 + HOLD_US * 1000ULL);
	net_irq_expire(&m, &vd, T0 + 30000 + HOLD_US * 1000ULL);
	assert_int_equal(signals[NET_RXQ], 1);
	assert_true(m.armed == 0);
}

/* interrupt_hold_us = 0: no timer, never a hold. */
static void test_off(void **state)
{
	assert_int_equal(m.tfd, -1);
	for (unsigned i = 0; i < 5; i++) {
		net_irq_moved(&m, 0, 65536, true);
		net_irq_used(&m, &vd, NET_RXQ, T0 + i);
	}
	assert_int_equal(signals[NET_RXQ], 5);
	assert_int_equal(m.held, 0);
}

/* A reset forgets what was owed: the driver's rings are gone. */
static void test_reset(void **state)
{
	net_irq_moved(&m, 0, 65536, true);
	net_irq_used(&m, &vd, NET_RXQ, T0);
	net_irq_reset(&m);
	assert_true(m.armed == 0);
	assert_int_equal(timer_left(), 0);
	net_irq_expire(&m, &vd, T0 + 10 * HOLD_US * 1000ULL);
	assert_int_equal(signals[NET_RXQ], 0);
	net_irq_used(&m, &vd, NET_RXQ, T0 + 20 * HOLD_US * 1000ULL);
	assert_int_equal(signals[NET_RXQ], 1);
}

/* What the driver suppressed (VRING_AVAIL_F_NO_INTERRUPT) stays so when a
 * held interrupt comes due. */
static void test_suppressed(void **state)
{
	uint16_t *flags = gm_ptr(&gm, QBASE(NET_RXQ) + 0x1000, 2);

	assert_non_null(flags);
	*flags = VRING_AVAIL_F_NO_INTERRUPT;
	net_irq_moved(&m, 0, 65536, true);
	net_irq_used(&m, &vd, NET_RXQ, T0);
	net_irq_expire(&m, &vd, T0 + HOLD_US * 1000ULL);
	assert_int_equal(signals[NET_RXQ], 0);
	assert_int_equal(m.sent, 1);
	assert_true(m.due[NET_RXQ] == 0);
}

/* The real timer: a hold from now fires within a second and delivers. */
static void test_timer_fires(void **state)
{
	struct pollfd p = { .fd = m.tfd, .events = POLLIN };
	uint64_t now = net_irq_now();

	net_irq_moved(&m, 0, 65536, true);
	net_irq_used(&m, &vd, NET_TXQ, now);
	assert_true(timer_left() > 0);
	assert_int_equal(poll(&p, 1, 1000), 1);
	assert_true(net_irq_now() >= now + HOLD_US * 1000ULL);
	assert_int_equal(net_irq_timer(&m, net_irq_now()), 0);
	net_irq_expire(&m, &vd, net_irq_now());
	assert_int_equal(signals[NET_TXQ], 1);
	assert_int_equal(timer_left(), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_small_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bulk_held, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bulk_lingers, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_defer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_tx_defer_off, setup_off, teardown),
		cmocka_unit_test_setup_teardown(test_receiving_at_once, setup, teardown),
		cmocka_unit_test_setup_teardown(test_two_queues, setup, teardown),
		cmocka_unit_test_setup_teardown(test_off, setup_off, teardown),
		cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
		cmocka_unit_test_setup_teardown(test_suppressed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_timer_fires, setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
