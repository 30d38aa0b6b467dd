/* Unit tests for virtio-net multiqueue (devices/virtio/net_ctrl.c and the
 * pairs in net.c): a device of two queue pairs on two SOCK_SEQPACKET socket
 * pairs standing in for a multi-queue TAP's queues, driven by a fake driver
 * over real guest memory (tests/fake/fake_vq.c). The control queue: a valid
 * VQ_PAIRS_SET, out-of-range ones, short, overlong and garbage commands, a
 * chain with no status byte, a broken chain; the receive-mode and MAC
 * commands. Traffic on pair 1 both ways once the driver turned it on, and
 * none before. A bulk's transmit runs left to the interrupt timer
 * (interrupt_hold_us) with the driver's kicks off. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <endian.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_vq.h"
#include "log.h"
#include "memory.h"
#include "virtio/net-internal.h"

#define RAM		(4 << 20)
#define QSIZE		16
#define RINGS		0x10000ULL	/* queue q's rings at RINGS + q * RINGS */
#define CMD_GPA		0x100000ULL
#define ACK_GPA		0x180000ULL
#define BUF_GPA		0x200000ULL
#define CTRLQ		4
#define F(b)		(1ULL << (b))

static struct guest_mem gm;
static struct virtio_dev *vd;
static int peer[2] = { -1, -1 };
static uint16_t avail[CTRLQ + 1], next_desc[CTRLQ + 1];
static unsigned signals[CTRLQ + 1];

static void sig_queue(struct virtio_dev *d, unsigned q) { signals[q]++; }
static void sig_config(struct virtio_dev *d) { }
static const struct virtio_transport_ops tops = { .signal_queue = sig_queue,
						  .signal_config = sig_config };
static const uint8_t mac[6] = { 0x02, 0, 0, 0, 0, 0x02 };

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

static uint64_t ring_features = F(VIRTIO_F_VERSION_1);

static int setup(void **state)
{
	int fds[2], sv[2];

	for (unsigned i = 0; i < 2; i++) {
		assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sv), 0);
		fds[i] = sv[0];
		peer[i] = sv[1];
	}
	assert_int_equal(virtio_net_new_fds(fds, 2, mac, 1500, 0, NULL, &vd), 0);
	vd->tops = &tops;
	memset(gm.base, 0, RAM);
	memset(avail, 0, sizeof(avail));
	memset(next_desc, 0, sizeof(next_desc));
	memset(signals, 0, sizeof(signals));
	assert_int_equal(vd->nqueues, 5);
	assert_int_equal(fake_vq_start(vd, &gm, RINGS, RINGS, QSIZE,
				       ring_features | F(VIRTIO_NET_F_MAC) |
				       F(VIRTIO_NET_F_CTRL_VQ) | F(VIRTIO_NET_F_MQ)), 0);
	return 0;
}

/* EVENT_IDX, and interrupt_hold_us = 200 (the I/O thread's timer is not
 * watched: the test runs it, net_timer_run). */
static int setup_hold(void **state)
{
	struct net *n;

	ring_features = F(VIRTIO_F_VERSION_1) | F(VIRTIO_RING_F_EVENT_IDX);
	setup(state);
	ring_features = F(VIRTIO_F_VERSION_1);
	n = vd->priv;
	net_irq_free(&n->irq);
	assert_int_equal(net_irq_init(&n->irq, 200), 0);
	return 0;
}

static int teardown(void **state)
{
	virtio_net_free(vd);
	vd = NULL;
	for (unsigned i = 0; i < 2; i++) {
		close(peer[i]);
		peer[i] = -1;
	}
	return 0;
}

/* Makes a chain of n buffers available on queue q and kicks it. */
static void post(unsigned q, const uint64_t *addr, const uint32_t *len, const bool *wr,
		 unsigned n)
{
	uint16_t head = next_desc[q];

	for (unsigned i = 0; i < n; i++)
		assert_int_equal(fake_vq_desc(&vd->vq[q], (uint16_t)(head + i), addr[i], len[i],
					      (uint16_t)((i + 1 < n ? VRING_DESC_F_NEXT : 0) |
							 (wr[i] ? VRING_DESC_F_WRITE : 0)),
					      (uint16_t)((head + i + 1) % QSIZE)), 0);
	next_desc[q] = (uint16_t)((head + n) % QSIZE);
	assert_int_equal(fake_vq_publish(&vd->vq[q], &avail[q], head), 0);
	fake_vq_kick(vd, q);
}

static uint16_t used(unsigned q)
{
	uint16_t idx;

	assert_int_equal(fake_vq_used_idx(&vd->vq[q], &idx), 0);
	return idx;
}

/* Sends the command cmd[0..len) with a 1-byte status buffer: the status
 * the device wrote (0xee when it wrote none), after checking the used
 * element says 1 byte. */
static uint8_t ctrl(const void *cmd, uint32_t len)
{
	uint64_t addr[2] = { CMD_GPA, ACK_GPA };
	uint32_t lens[2] = { len, 1 };
	bool wr[2] = { false, true };
	uint8_t ack = 0xee;
	struct virtq_used_elem e;
	uint16_t before = used(CTRLQ);

	assert_int_equal(gm_write(&gm, CMD_GPA, cmd, len), 0);
	assert_int_equal(gm_write(&gm, ACK_GPA, &ack, 1), 0);
	post(CTRLQ, addr, lens, wr, 2);
	assert_int_equal(used(CTRLQ), (uint16_t)(before + 1));
	assert_int_equal(fake_vq_used_elem(&vd->vq[CTRLQ], before, &e), 0);
	assert_int_equal(e.len, 1);
	assert_int_equal(gm_read(&gm, ACK_GPA, &ack, 1), 0);
	return ack;
}

static uint8_t pairs_set(uint16_t k)
{
	uint8_t cmd[4] = { VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_VQ_PAIRS_SET };

	k = htole16(k);
	memcpy(cmd + 2, &k, 2);
	return ctrl(cmd, sizeof(cmd));
}

static bool described(const char *words)
{
	char buf[1024];

	vd->ops->describe(vd, buf, sizeof(buf));
	return strstr(buf, words) != NULL;
}

static void test_offered(void **state)
{
	uint8_t b[2];
	uint64_t f = vd->ops->features(vd);

	assert_true(f & F(VIRTIO_NET_F_MQ));
	assert_true(f & F(VIRTIO_NET_F_CTRL_VQ));
	vd->ops->config_read(vd, offsetof(struct virtio_net_config, max_virtqueue_pairs), b, 2);
	assert_int_equal(b[0] | b[1] << 8, 2);
	/* The first pair only until the driver asks. */
	assert_true(described(" pairs=2 active=1 "));
}

static void test_pairs_set(void **state)
{
	assert_int_equal(pairs_set(2), VIRTIO_NET_OK);
	assert_true(described(" pairs=2 active=2 ctrl_cmds=1 ctrl_errors=0 "));
	assert_true(signals[CTRLQ] > 0);
	assert_int_equal(pairs_set(1), VIRTIO_NET_OK);
	assert_true(described(" active=1 "));
	/* A device reset: back to the first pair. */
	assert_int_equal(pairs_set(2), VIRTIO_NET_OK);
	vd->ops->reset(vd);
	assert_true(described(" active=1 "));
}

static void test_pairs_out_of_range(void **state)
{
	assert_int_equal(pairs_set(0), VIRTIO_NET_ERR);
	assert_int_equal(pairs_set(3), VIRTIO_NET_ERR);
	assert_int_equal(pairs_set(0x8000), VIRTIO_NET_ERR);
	assert_true(described(" active=1 ctrl_cmds=3 ctrl_errors=3 "));
}

static void test_bad_commands(void **state)
{
	static const uint8_t only_class[1] = { VIRTIO_NET_CTRL_MQ };
	static const uint8_t short_pairs[3] = { VIRTIO_NET_CTRL_MQ, 0, 2 };
	static const uint8_t long_pairs[5] = { VIRTIO_NET_CTRL_MQ, 0, 2, 0, 0 };
	static const uint8_t rss[4] = { VIRTIO_NET_CTRL_MQ, VIRTIO_NET_CTRL_MQ_RSS_CONFIG, 2, 0 };
	static const uint8_t garbage[4] = { 0xff, 0xff, 0xff, 0xff };
	static const uint8_t vlan[4] = { VIRTIO_NET_CTRL_VLAN, 0, 1, 0 };
	static const uint8_t big_table[2 + 4 + 4] = { VIRTIO_NET_CTRL_MAC, 0, 3, 0, 0, 0 };
	static uint8_t huge[2048] = { VIRTIO_NET_CTRL_MQ, 0, 2, 0 };

	assert_int_equal(ctrl(only_class, sizeof(only_class)), VIRTIO_NET_ERR);
	assert_int_equal(ctrl(short_pairs, sizeof(short_pairs)), VIRTIO_NET_ERR);
	assert_int_equal(ctrl(long_pairs, sizeof(long_pairs)), VIRTIO_NET_ERR);
	assert_int_equal(ctrl(rss, sizeof(rss)), VIRTIO_NET_ERR);
	assert_int_equal(ctrl(garbage, sizeof(garbage)), VIRTIO_NET_ERR);
	assert_int_equal(ctrl(vlan, sizeof(vlan)), VIRTIO_NET_ERR);
	assert_int_equal(ctrl(big_table, sizeof(big_table)), VIRTIO_NET_ERR);
	/* Longer than the device reads (NET_CTRL_MAX): refused unread. */
	assert_int_equal(ctrl(huge, sizeof(huge)), VIRTIO_NET_ERR);
	assert_true(described(" active=1 "));
	assert_int_equal(vd->status & VIRTIO_CONFIG_S_NEEDS_RESET, 0);
	/* The queue still answers. */
	assert_int_equal(pairs_set(2), VIRTIO_NET_OK);
}

static void test_rx_mode_and_mac(void **state)
{
	static const uint8_t promisc[3] = { VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 1 };
	static const uint8_t allmulti[3] = { VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_ALLMULTI, 0 };
	static const uint8_t promisc2[3] = { VIRTIO_NET_CTRL_RX, VIRTIO_NET_CTRL_RX_PROMISC, 2 };
	static const uint8_t rx_unknown[3] = { VIRTIO_NET_CTRL_RX, 6, 1 };
	/* One unicast entry, no multicast ones. */
	static const uint8_t table[2 + 4 + 6 + 4] = { VIRTIO_NET_CTRL_MAC, 0, 1, 0, 0, 0,
						      2, 0, 0, 0, 0, 9, 0, 0, 0, 0 };
	static const uint8_t addr[8] = { VIRTIO_NET_CTRL_MAC, VIRTIO_NET_CTRL_MAC_ADDR_SET,
					 2, 0, 0, 0, 0, 9 };
	static const uint8_t announce[2] = { VIRTIO_NET_CTRL_ANNOUNCE, 0 };

	assert_int_equal(ctrl(promisc, sizeof(promisc)), VIRTIO_NET_OK);
	assert_int_equal(ctrl(allmulti, sizeof(allmulti)), VIRTIO_NET_OK);
	assert_int_equal(ctrl(promisc2, sizeof(promisc2)), VIRTIO_NET_ERR);
	assert_int_equal(ctrl(rx_unknown, sizeof(rx_unknown)), VIRTIO_NET_ERR);
	assert_int_equal(ctrl(table, sizeof(table)), VIRTIO_NET_OK);
	assert_int_equal(ctrl(table, sizeof(table) - 1), VIRTIO_NET_ERR);
	assert_int_equal(ctrl(addr, sizeof(addr)), VIRTIO_NET_OK);
	assert_int_equal(ctrl(announce, sizeof(announce)), VIRTIO_NET_OK);
}

/* No byte to write the status to: returned unwritten, counted; a chain
 * pointing outside guest RAM breaks the queue (NEEDS_RESET), no crash. */
static void test_bad_chains(void **state)
{
	uint64_t addr[2] = { CMD_GPA, RAM + 0x1000 };
	uint32_t lens[2] = { 4, 1 };
	bool wr[2] = { false, false };
	static const uint8_t cmd[4] = { VIRTIO_NET_CTRL_MQ, 0, 2, 0 };
	struct virtq_used_elem e;

	assert_int_equal(gm_write(&gm, CMD_GPA, cmd, 4), 0);
	post(CTRLQ, addr, lens, wr, 1);
	assert_int_equal(used(CTRLQ), 1);
	assert_int_equal(fake_vq_used_elem(&vd->vq[CTRLQ], 0, &e), 0);
	assert_int_equal(e.len, 0);
	assert_true(described(" active=1 ctrl_cmds=1 ctrl_errors=1 "));
	/* A write-only chain: no command at all. */
	addr[0] = ACK_GPA;
	wr[0] = true;
	post(CTRLQ, addr, lens, wr, 1);
	assert_int_equal(used(CTRLQ), 2);
	assert_true(described(" ctrl_errors=2 "));
	assert_int_equal(pairs_set(2), VIRTIO_NET_OK);
	/* The status buffer outside guest RAM. */
	wr[0] = false;
	wr[1] = true;
	addr[0] = CMD_GPA;
	post(CTRLQ, addr, lens, wr, 2);
	assert_true(vd->status & VIRTIO_CONFIG_S_NEEDS_RESET);
}

/* A frame each way through pair 1 (queues 2 and 3, peer[1]) once the
 * driver turned it on; before that its transmit queue is left alone. */
static void test_pair1_traffic(void **state)
{
	uint8_t frame[NET_HDR_LEN + 60], got[256];
	uint64_t addr[1] = { BUF_GPA };
	uint32_t lens[1] = { sizeof(frame) };
	bool wr[1] = { false };
	struct virtq_used_elem e;
	ssize_t r;

	memset(frame, 0, NET_HDR_LEN);
	for (unsigned i = NET_HDR_LEN; i < sizeof(frame); i++)
		frame[i] = (uint8_t)i;
	assert_int_equal(gm_write(&gm, BUF_GPA, frame, sizeof(frame)), 0);
	post(3, addr, lens, wr, 1);
	assert_int_equal(used(3), 0);
	assert_int_equal(read(peer[1], got, sizeof(got)), -1);

	assert_int_equal(pairs_set(2), VIRTIO_NET_OK);	/* runs pair 1's queues */
	assert_int_equal(used(3), 1);
	r = read(peer[1], got, sizeof(got));
	assert_int_equal(r, (ssize_t)sizeof(frame));
	assert_memory_equal(got + NET_HDR_LEN, frame + NET_HDR_LEN, 60);
	assert_int_equal(read(peer[0], got, sizeof(got)), -1);	/* not pair 0's */

	/* Receive: the frame from pair 1's peer lands in queue 2. */
	assert_int_equal(write(peer[1], frame, sizeof(frame)), (ssize_t)sizeof(frame));
	addr[0] = BUF_GPA + 0x10000;
	lens[0] = 2048;
	wr[0] = true;
	post(2, addr, lens, wr, 1);
	assert_int_equal(used(2), 1);
	assert_int_equal(fake_vq_used_elem(&vd->vq[2], 0, &e), 0);
	assert_int_equal(e.len, sizeof(frame));
	assert_int_equal(gm_read(&gm, BUF_GPA + 0x10000 + NET_HDR_LEN, got, 60), 0);
	assert_memory_equal(got, frame + NET_HDR_LEN, 60);
	assert_int_equal(used(0), 0);
	assert_true(described(" p1.rx_frames=1 p1.tx_frames=1"));
	assert_true(described(" rx_frames=0 tx_frames=0"));
}

/* Makes `count` frames of `len` bytes (a zero header, then a pattern)
 * available on pair 0's transmit queue, each in its own buffer; kicks once
 * when `kick`. */
static void tx_frames(unsigned count, uint32_t len, bool kick)
{
	static uint8_t frame[2048];
	static uint64_t gpa = BUF_GPA;

	memset(frame, 0, NET_HDR_LEN);
	for (unsigned i = NET_HDR_LEN; i < len; i++)
		frame[i] = (uint8_t)i;
	for (unsigned k = 0; k < count; k++) {
		uint16_t head = next_desc[1];

		assert_int_equal(gm_write(&gm, gpa, frame, len), 0);
		assert_int_equal(fake_vq_desc(&vd->vq[1], head, gpa, len, 0, 0), 0);
		next_desc[1] = (uint16_t)((head + 1) % QSIZE);
		assert_int_equal(fake_vq_publish(&vd->vq[1], &avail[1], head), 0);
		gpa += 4096;
	}
	if (kick)
		fake_vq_kick(vd, 1);
}

static unsigned frames_out(void)
{
	uint8_t got[4096];
	unsigned k = 0;

	while (read(peer[0], got, sizeof(got)) > 0)
		k++;
	return k;
}

/* The transmit queue's avail_event (EVENT_IDX): where the driver's next
 * kick is asked for. */
static uint16_t avail_event(void)
{
	uint16_t ev;

	assert_int_equal(gm_read(&gm, RINGS + RINGS + FAKE_VQ_USED + 4 + 8 * QSIZE, &ev, 2), 0);
	return le16toh(ev);
}

/* While the guest sends a bulk, a transmit run that sent frames leaves the
 * next one to the timer with the driver's kicks off: the frames the guest
 * adds meanwhile go out, and complete with one interrupt, when the timer
 * runs; the timer keeps polling while the bulk lingers, then asks for kicks
 * again. */
static void test_tx_deferred(void **state)
{
	struct net *n = vd->priv;
	uint64_t t;

	/* 6 full frames in one kick: a bulk; sent, kicks asked for from 6 on,
	 * the interrupt held */
	tx_frames(6, NET_HDR_LEN + 1514, true);
	assert_int_equal(frames_out(), 6);
	assert_int_equal(used(1), 6);
	assert_int_equal(avail_event(), 6);
	assert_int_equal(signals[1], 0);
	assert_true(n->irq.due[1] != 0);
	assert_int_equal(n->irq.tx_deferred, 0);
	/* the next kick's run sends its frame and leaves the next run to the
	 * timer: avail_event stays behind, so the driver does not kick */
	tx_frames(1, NET_HDR_LEN + 1514, true);
	assert_int_equal(frames_out(), 1);
	assert_int_equal(used(1), 7);
	assert_int_equal(avail_event(), 6);
	assert_int_equal(n->irq.tx_deferred, 1);
	assert_true(n->irq.tx_due[0] != 0);
	tx_frames(2, NET_HDR_LEN + 100, false);	/* no kick: none asked for */
	assert_int_equal(frames_out(), 0);
	/* the timer: the two go, their completions interrupt at once (and the
	 * held one with them), and the run after is deferred again */
	t = n->irq.tx_due[0];
	net_timer_run(n, net_irq_tx_due(&n->irq, t), t);
	assert_int_equal(frames_out(), 2);
	assert_int_equal(used(1), 9);
	assert_int_equal(signals[1], 1);
	assert_int_equal(n->irq.tx_deferred, 2);
	assert_true(n->irq.tx_due[0] > t);
	/* nothing new by then, but the bulk lingers: still polled, no kicks */
	t = n->irq.tx_due[0];
	net_timer_run(n, net_irq_tx_due(&n->irq, t), t);
	assert_int_equal(frames_out(), 0);
	assert_int_equal(avail_event(), 6);
	assert_true(n->irq.tx_due[0] > t);
	assert_true(described(" tx_deferred=3"));
	/* the linger over: kicks are asked for again, from 9 */
	usleep(NET_IRQ_LINGER_NS / 1000 + 1000);
	t = net_irq_now();
	net_timer_run(n, net_irq_tx_due(&n->irq, t), t);
	assert_int_equal(frames_out(), 0);
	assert_int_equal(avail_event(), 9);
	assert_true(n->irq.tx_due[0] == 0);
	assert_true(described(" tx_deferred=3"));
	/* a reset forgets a deferred run */
	tx_frames(6, NET_HDR_LEN + 1514, true);
	tx_frames(1, NET_HDR_LEN + 1514, true);
	assert_true(n->irq.tx_due[0] != 0);
	vd->ops->reset(vd);
	assert_true(n->irq.tx_due[0] == 0);
}

/* The parser alone: the edges of each command's length. */
static void test_parse(void **state)
{
	uint8_t b[8] = { VIRTIO_NET_CTRL_MQ, 0, 4, 0 };
	unsigned k = 0;

	assert_int_equal(virtio_net_ctrl_parse(b, 4, 4, &k), VIRTIO_NET_OK);
	assert_int_equal(k, 4);
	k = 0;
	assert_int_equal(virtio_net_ctrl_parse(b, 4, 3, &k), VIRTIO_NET_ERR);
	assert_int_equal(k, 0);
	assert_int_equal(virtio_net_ctrl_parse(b, 0, 4, &k), VIRTIO_NET_ERR);
	assert_int_equal(virtio_net_ctrl_parse(b, NET_CTRL_MAX + 1, 4, &k), VIRTIO_NET_ERR);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_tx_deferred, setup_hold, teardown),
		cmocka_unit_test_setup_teardown(test_offered, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pairs_set, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pairs_out_of_range, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_commands, setup, teardown),
		cmocka_unit_test_setup_teardown(test_rx_mode_and_mac, setup, teardown),
		cmocka_unit_test_setup_teardown(test_bad_chains, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pair1_traffic, setup, teardown),
		cmocka_unit_test(test_parse),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
