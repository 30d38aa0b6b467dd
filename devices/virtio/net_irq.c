/* virtio-net's interrupt moderation ([[net]] interrupt_hold_us): when a
 * used-buffer interrupt of a queue goes to the guest, and when the transmit
 * queue runs. While the guest sends a bulk of data (NET_IRQ_BULK bytes or
 * more on the queue pair since the queue's last interrupt, and for
 * NET_IRQ_LINGER_NS after one), the interrupt waits up to hold_us, so that
 * what completes meanwhile (the host's ACKs of the stream, its own sent
 * frames) is announced by one interrupt, as NICs classify their interrupt
 * rate by the bytes per interrupt (Intel's adaptive ITR); and a transmit run
 * that sent frames leaves the next run to the same timer with the queue's
 * notifications off (net_irq_tx_defer), which polls the queue while the
 * bulk lingers, so that the guest's frames cost no kick and complete
 * together. The linger runs from the last interrupt that announced a bulk.
 * Linux's TCP sends what the application wrote since its last transmit
 * completion (autocorking), so fewer completions make larger frames, and
 * fewer frames fewer exits per MiB (docs/performance.md). Otherwise interrupts go at once and kicks run the
 * queue: a ping, a request/response exchange, and a guest that receives a
 * stream, whose ACKs the sender is waiting for (holding those interrupts
 * cost host->guest streams up to a third of their rate in the test host).
 * The hold is a timerfd the I/O thread watches; the queue's EVENT_IDX
 * suppression still decides at the end whether the guest wants the
 * interrupt. */
#include <errno.h>
#include <net/if.h>
#include <stdint.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "virtio/net-internal.h"

uint64_t net_irq_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

int net_irq_init(struct net_irq *m, uint32_t hold_us)
{
	memset(m, 0, sizeof(*m));
	m->tfd = -1;
	m->hold_ns = (uint64_t)hold_us * 1000;
	if (!hold_us)
		return 0;
	m->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	return m->tfd < 0 ? -errno : 0;
}

void net_irq_free(struct net_irq *m)
{
	if (m->tfd >= 0)
		close(m->tfd);
	m->tfd = -1;
}

/* Sets the timer for the earliest interrupt owed, or stops it. */
static void arm(struct net_irq *m)
{
	struct itimerspec its = { 0 };
	uint64_t due = 0;

	for (unsigned q = 0; q < NET_IRQ_QUEUES; q++)
		if (m->due[q] && (!due || m->due[q] < due))
			due = m->due[q];
	for (unsigned p = 0; p < NET_MAX_PAIRS; p++)
		if (m->tx_due[p] && (!due || m->tx_due[p] < due))
			due = m->tx_due[p];
	if (due == m->armed)
		return;
	its.it_value.tv_sec = (time_t)(due / 1000000000ULL);
	its.it_value.tv_nsec = (long)(due % 1000000000ULL);
	if (timerfd_settime(m->tfd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
		log_warn_limited("virtio-net: timerfd_settime: %m");
	m->armed = due;
}

/* A bulk since q's last interrupt (re)starts its pair's linger. */
static void note_bulk(struct net_irq *m, unsigned q, uint64_t now)
{
	if (m->tfd >= 0 && m->sent_bytes[q] >= NET_IRQ_BULK)
		m->bulk_until[q / 2] = now + NET_IRQ_LINGER_NS;
}

static void flush(struct net_irq *m, struct virtio_dev *vd, unsigned q, uint64_t now)
{
	note_bulk(m, q, now);
	m->due[q] = 0;
	m->sent_bytes[q] = 0;
	m->sent++;
	virtio_dev_used(vd, q);
}

void net_irq_flush(struct net_irq *m, struct virtio_dev *vd, unsigned q, uint64_t now)
{
	flush(m, vd, q, now);
	if (m->tfd >= 0)
		arm(m);
}

bool net_irq_tx_defer(struct net_irq *m, unsigned pair, uint64_t now)
{
	if (m->tfd < 0 || now >= m->bulk_until[pair])
		return false;
	if (!m->tx_due[pair]) {
		m->tx_due[pair] = now + m->hold_ns;
		m->tx_deferred++;
		arm(m);
	}
	return true;
}

unsigned net_irq_tx_due(struct net_irq *m, uint64_t now)
{
	unsigned mask = 0;

	for (unsigned p = 0; p < NET_MAX_PAIRS; p++)
		if (m->tx_due[p] && m->tx_due[p] <= now) {
			m->tx_due[p] = 0;
			mask |= 1u << p;
		}
	return mask;
}

/* A pair's frames decide its own two queues' interrupts: another pair's
 * bulk does not hold this one's ping. Only what the guest sends counts. */
void net_irq_moved(struct net_irq *m, unsigned pair, uint64_t bytes, bool tx)
{
	if (!tx)
		return;
	m->sent_bytes[2 * pair] += bytes;
	m->sent_bytes[2 * pair + 1] += bytes;
}

void net_irq_used(struct net_irq *m, struct virtio_dev *vd, unsigned q, uint64_t now)
{
	if (m->due[q])
		return;		/* already owed: goes at its time */
	note_bulk(m, q, now);
	if (m->tfd < 0 || now >= m->bulk_until[q / 2]) {
		flush(m, vd, q, now);
		return;
	}
	m->held++;
	m->due[q] = now + m->hold_ns;
	arm(m);
}

void net_irq_expire(struct net_irq *m, struct virtio_dev *vd, uint64_t now)
{
	for (unsigned q = 0; q < NET_IRQ_QUEUES; q++)
		if (m->due[q] && m->due[q] <= now)
			flush(m, vd, q, now);
	arm(m);
}

void net_irq_reset(struct net_irq *m)
{
	memset(m->due, 0, sizeof(m->due));
	memset(m->sent_bytes, 0, sizeof(m->sent_bytes));
	memset(m->bulk_until, 0, sizeof(m->bulk_until));
	memset(m->tx_due, 0, sizeof(m->tx_due));
	if (m->tfd >= 0)
		arm(m);
}

/* The I/O thread: the timer of a held interrupt or a deferred transmit run
 * went off. */
unsigned net_irq_timer(struct net_irq *m, uint64_t now)
{
	uint64_t ticks;

	if (read(m->tfd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		log_warn_limited("virtio-net: reading the interrupt timer: %m");
	m->armed = 0;	/* fired (or stopped): arm() sets it again if owed */
	return net_irq_tx_due(m, now);
}
