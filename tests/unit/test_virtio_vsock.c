/* Unit tests for devices/virtio/vsock.c and vsock_host.c: a fake driver
 * puts packets in real split rings over guest memory (tx), gives receive
 * buffers (rx) and reads what the device answers; the host side is a real
 * listening socket in /tmp plus socket pairs for guest connections. The
 * device has no I/O thread: the test runs virtio_vsock_poll. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cmocka.h>

#include "fake_vq.h"
#include "log.h"
#include "memory.h"
#include "virtio/vsock.h"

#define RAM		(8 << 20)
#define QSIZE		256
#define RINGS		0x10000ULL	/* queue q's rings at RINGS * (q + 1) */
#define RXBUF(i)	(0x100000ULL + 0x2000ULL * (i))
#define RXBUF_LEN	(4096 + 44)
#define TXBUF		0x400000ULL
#define TXBUF_LEN	0x20000
#define CID		3
#define OPEN_PORT	5000	/* guest connections there succeed (socket pair) */
#define EVENT_PORT	6000	/* ... and there get an eventfd (no peer) */
#define BUF_SIZE	(256 * 1024)

static struct guest_mem gm;
static struct virtio_dev *vd;
static char dir[] = "/tmp/vmm-test-vsock-XXXXXX";
static char sock_path[128];
static uint16_t rx_avail, rx_used, tx_avail;
static int peer = -1;		/* host end of the last OPEN_PORT connection */
static unsigned signals;
static uint32_t g_buf_alloc = 65536, g_fwd_cnt;

static void sig_queue(struct virtio_dev *d, unsigned q) { signals++; }
static void sig_config(struct virtio_dev *d) { signals++; }
static const struct virtio_transport_ops tops = { .signal_queue = sig_queue,
						   .signal_config = sig_config };

static int fake_connect(void *ctx, uint32_t port, int *fd)
{
	int sv[2];

	if (port == EVENT_PORT) {
		*fd = eventfd(0, EFD_CLOEXEC);
		return *fd < 0 ? -errno : 0;
	}
	if (port != OPEN_PORT)
		return -ECONNREFUSED;
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	if (peer >= 0)
		close(peer);
	peer = sv[1];
	*fd = sv[0];
	return 0;
}

static int group_setup(void **state)
{
	log_set_level(LOG_LVL_ERR);
	if (!mkdtemp(dir))
		return -1;
	snprintf(sock_path, sizeof(sock_path), "%s/vm.vsock", dir);
	return gm_init(&gm, 0, RAM, 0, 0);
}

static int group_teardown(void **state)
{
	rmdir(dir);
	gm_destroy(&gm);
	return 0;
}

static int setup(void **state)
{
	assert_int_equal(virtio_vsock_new(CID, sock_path, fake_connect, NULL, NULL, &vd), 0);
	pthread_mutex_init(&vd->lock, NULL);
	vd->tops = &tops;
	memset(gm.base, 0, 0x50000);
	assert_int_equal(fake_vq_start(vd, &gm, RINGS, RINGS, QSIZE,
				       1ULL << VIRTIO_F_VERSION_1), 0);
	rx_avail = rx_used = tx_avail = 0;
	g_buf_alloc = 65536;
	g_fwd_cnt = 0;
	signals = 0;
	return 0;
}

static int teardown(void **state)
{
	virtio_vsock_stop(vd);
	pthread_mutex_destroy(&vd->lock);
	virtio_vsock_free(vd);
	vd = NULL;
	if (peer >= 0)
		close(peer);
	peer = -1;
	return 0;
}

static void put_desc(unsigned q, uint16_t i, uint64_t addr, uint32_t len, bool write)
{
	assert_int_equal(fake_vq_desc(&vd->vq[q], i, addr, len, write ? VRING_DESC_F_WRITE : 0, 0),
			 0);
}

static void publish(unsigned q, uint16_t *idx, uint16_t head)
{
	assert_int_equal(fake_vq_publish(&vd->vq[q], idx, head), 0);
}

/* n receive buffers of RXBUF_LEN bytes, one descriptor each. */
static void rx_post(unsigned n)
{
	for (unsigned k = 0; k < n; k++) {
		uint16_t i = rx_avail % QSIZE;

		put_desc(0, i, RXBUF(i), RXBUF_LEN, true);
		publish(0, &rx_avail, i);
	}
	fake_vq_kick(vd, 0);
}

static struct virtio_vsock_hdr hdr(uint16_t op, uint32_t sport, uint32_t dport, uint32_t len)
{
	return (struct virtio_vsock_hdr){
		.src_cid = CID, .dst_cid = 2, .src_port = sport, .dst_port = dport,
		.len = len, .type = VIRTIO_VSOCK_TYPE_STREAM, .op = op,
		.buf_alloc = g_buf_alloc, .fwd_cnt = g_fwd_cnt,
	};
}

/* One tx packet: the header and `chain_data` bytes of payload in one
 * readable descriptor (the header says what it says). */
static void tx_raw(const struct virtio_vsock_hdr *h, const void *data, uint32_t chain_data)
{
	uint16_t i = tx_avail % QSIZE;

	assert_true(44 + chain_data <= TXBUF_LEN);
	assert_int_equal(gm_write(&gm, TXBUF, h, 44), 0);
	if (chain_data)
		assert_int_equal(gm_write(&gm, TXBUF + 44, data, chain_data), 0);
	put_desc(1, i, TXBUF, 44 + chain_data, false);
	publish(1, &tx_avail, i);
	fake_vq_kick(vd, 1);
}

static void tx(uint16_t op, uint32_t sport, uint32_t dport, const void *data, uint32_t len)
{
	struct virtio_vsock_hdr h = hdr(op, sport, dport, len);

	tx_raw(&h, data, len);
}

/* The next packet the device used; false when none. */
static bool rx_next(struct virtio_vsock_hdr *h, void *data, size_t cap)
{
	uint16_t used;
	struct virtq_used_elem e;

	assert_int_equal(fake_vq_used_idx(&vd->vq[0], &used), 0);
	if (used == rx_used)
		return false;
	assert_int_equal(fake_vq_used_elem(&vd->vq[0], rx_used, &e), 0);
	rx_used++;
	assert_true(e.len >= 44 && e.len <= RXBUF_LEN);
	assert_int_equal(gm_read(&gm, RXBUF(e.id), h, 44), 0);
	assert_int_equal(h->len, e.len - 44);
	assert_int_equal(h->src_cid, 2);
	assert_int_equal(h->dst_cid, CID);
	assert_int_equal(h->type, VIRTIO_VSOCK_TYPE_STREAM);
	if (data) {
		assert_true(h->len <= cap);
		assert_int_equal(gm_read(&gm, RXBUF(e.id) + 44, data, h->len), 0);
	}
	return true;
}

static void expect(uint16_t op, uint32_t sport, uint32_t dport)
{
	struct virtio_vsock_hdr h;

	assert_true(rx_next(&h, NULL, 0));
	assert_int_equal(h.op, op);
	assert_int_equal(h.src_port, sport);
	assert_int_equal(h.dst_port, dport);
}

static void expect_nothing(void)
{
	struct virtio_vsock_hdr h;

	assert_false(rx_next(&h, NULL, 0));
}

static void poll_dev(void)
{
	virtio_vsock_poll(vd);
}

/* A guest connection from port `gp` to OPEN_PORT, accepted. */
static void guest_open(uint32_t gp)
{
	struct virtio_vsock_hdr h;

	tx(VIRTIO_VSOCK_OP_REQUEST, gp, OPEN_PORT, NULL, 0);
	assert_true(rx_next(&h, NULL, 0));
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RESPONSE);
	assert_int_equal(h.src_port, OPEN_PORT);
	assert_int_equal(h.dst_port, gp);
	assert_int_equal(h.buf_alloc, BUF_SIZE);
	assert_int_equal(h.fwd_cnt, 0);
	assert_true(peer >= 0);
}

static ssize_t peer_read(int fd, void *buf, size_t len)
{
	struct pollfd p = { fd, POLLIN, 0 };

	if (poll(&p, 1, 1000) != 1)
		return -2;	/* nothing in a second */
	return read(fd, buf, len);
}

static void test_config(void **state)
{
	uint8_t b[8];
	struct stat st;

	vd->ops->config_read(vd, 0, b, 8);
	assert_int_equal(b[0], CID);
	assert_int_equal(vd->id, VIRTIO_ID_VSOCK);
	assert_int_equal(vd->nqueues, 3);
	assert_int_equal(vd->ops->features(vd) & (1ULL << VIRTIO_VSOCK_F_SEQPACKET), 0);
	assert_int_equal(stat(sock_path, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
}

/* Guest-initiated: REQUEST, RESPONSE, data both ways, the host's
 * half-close, the guest's close answered with RST. */
static void test_guest_lifecycle(void **state)
{
	struct virtio_vsock_hdr h;
	char buf[64];

	rx_post(16);
	guest_open(1234);
	tx(VIRTIO_VSOCK_OP_RW, 1234, OPEN_PORT, "hello", 5);
	assert_int_equal(peer_read(peer, buf, sizeof(buf)), 5);
	assert_memory_equal(buf, "hello", 5);

	assert_int_equal(write(peer, "world!", 6), 6);
	poll_dev();
	assert_true(rx_next(&h, buf, sizeof(buf)));
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RW);
	assert_int_equal(h.len, 6);
	assert_memory_equal(buf, "world!", 6);
	assert_int_equal(h.fwd_cnt, 5);		/* the 5 bytes reached the host */

	/* The host closes its sending half: SHUTDOWN(SEND) to the guest. */
	shutdown(peer, SHUT_WR);
	poll_dev();
	assert_true(rx_next(&h, NULL, 0));
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_SHUTDOWN);
	assert_int_equal(h.flags, VIRTIO_VSOCK_SHUTDOWN_SEND);
	/* The guest can still send. */
	tx(VIRTIO_VSOCK_OP_RW, 1234, OPEN_PORT, "more", 4);
	assert_int_equal(peer_read(peer, buf, sizeof(buf)), 4);
	/* The guest closes: the host sees EOF, the guest gets its RST. */
	struct virtio_vsock_hdr sh = hdr(VIRTIO_VSOCK_OP_SHUTDOWN, 1234, OPEN_PORT, 0);

	sh.flags = VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND;
	tx_raw(&sh, NULL, 0);
	expect(VIRTIO_VSOCK_OP_RST, OPEN_PORT, 1234);
	assert_int_equal(peer_read(peer, buf, sizeof(buf)), 0);
	/* Gone: more data for it is answered with RST. */
	tx(VIRTIO_VSOCK_OP_RW, 1234, OPEN_PORT, "x", 1);
	expect(VIRTIO_VSOCK_OP_RST, OPEN_PORT, 1234);
	expect_nothing();
}

/* A refused guest connection gets RST; a guest RST on an open one closes
 * the host's socket. */
static void test_guest_refused_and_rst(void **state)
{
	char buf[8];

	rx_post(8);
	tx(VIRTIO_VSOCK_OP_REQUEST, 99, 7777, NULL, 0);
	expect(VIRTIO_VSOCK_OP_RST, 7777, 99);
	guest_open(100);
	tx(VIRTIO_VSOCK_OP_RST, 100, OPEN_PORT, NULL, 0);
	assert_int_equal(peer_read(peer, buf, sizeof(buf)), 0);
	expect_nothing();	/* an RST is never answered */
}

static int host_client(const char *line)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	strcpy(sa.sun_path, sock_path);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	if (line)
		assert_int_equal(write(fd, line, strlen(line)), (ssize_t)strlen(line));
	poll_dev();
	return fd;
}

/* Host-initiated: CONNECT, the guest's RESPONSE, "OK <port>", data; a
 * refused port closes the client with no OK; a bad line is closed. */
static void test_host_lifecycle(void **state)
{
	struct virtio_vsock_hdr h;
	char buf[64];
	int fd, fd2, fd3;

	rx_post(16);
	fd = host_client("CONNECT 52\n");
	assert_true(rx_next(&h, NULL, 0));
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_REQUEST);
	assert_int_equal(h.dst_port, 52);
	assert_int_equal(h.src_port, 1u << 30);
	assert_int_equal(h.buf_alloc, BUF_SIZE);
	tx(VIRTIO_VSOCK_OP_RESPONSE, 52, 1u << 30, NULL, 0);
	assert_int_equal(peer_read(fd, buf, sizeof(buf)), 14);
	assert_memory_equal(buf, "OK 1073741824\n", 14);
	assert_int_equal(write(fd, "ping", 4), 4);
	poll_dev();
	assert_true(rx_next(&h, buf, sizeof(buf)));
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_RW);
	assert_int_equal(h.len, 4);
	tx(VIRTIO_VSOCK_OP_RW, 52, 1u << 30, "pong", 4);
	assert_int_equal(peer_read(fd, buf, sizeof(buf)), 4);
	assert_memory_equal(buf, "pong", 4);

	/* Refused by the guest: no OK line, EOF. */
	fd2 = host_client("CONNECT 53\n");
	expect(VIRTIO_VSOCK_OP_REQUEST, (1u << 30) + 1, 53);
	tx(VIRTIO_VSOCK_OP_RST, 53, (1u << 30) + 1, NULL, 0);
	assert_int_equal(peer_read(fd2, buf, sizeof(buf)), 0);
	close(fd2);

	/* Not a CONNECT line, a port out of range, a line too long. */
	const char *bad[] = { "HELLO\n", "CONNECT 4294967296\n", "CONNECT -1\n",
			      "CONNECT 1 2\n", "CONNECT 12345678901234567890123456789\n" };
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		fd3 = host_client(bad[i]);
		/* Closed: EOF, or ECONNRESET where bytes were left unread. */
		assert_true(peer_read(fd3, buf, sizeof(buf)) == 0 || errno == ECONNRESET);
		close(fd3);
	}
	expect_nothing();

	/* The host client closes: a full SHUTDOWN, then the guest's RST ends it. */
	close(fd);
	poll_dev();
	assert_true(rx_next(&h, NULL, 0));
	assert_int_equal(h.op, VIRTIO_VSOCK_OP_SHUTDOWN);
	assert_int_equal(h.flags, VIRTIO_VSOCK_SHUTDOWN_RCV | VIRTIO_VSOCK_SHUTDOWN_SEND);
	tx(VIRTIO_VSOCK_OP_RST, 52, 1u << 30, NULL, 0);
	expect_nothing();
}

/* Host to guest: never more than the guest's credit. */
static void test_credit_to_guest(void **state)
{
	static char big[5000];
	struct virtio_vsock_hdr h;
	char buf[RXBUF_LEN];
	uint32_t got = 0;

	rx_post(32);
	g_buf_alloc = 1000;
	guest_open(2000);
	memset(big, 'z', sizeof(big));
	assert_int_equal(write(peer, big, sizeof(big)), (ssize_t)sizeof(big));
	poll_dev();
	poll_dev();
	while (rx_next(&h, buf, sizeof(buf))) {
		assert_int_equal(h.op, VIRTIO_VSOCK_OP_RW);
		got += h.len;
	}
	assert_int_equal(got, 1000);
	/* The guest read 600 of them: 600 more may come. */
	g_fwd_cnt = 600;
	tx(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 2000, OPEN_PORT, NULL, 0);
	got = 0;
	while (rx_next(&h, buf, sizeof(buf)))
		got += h.len;
	assert_int_equal(got, 600);
	/* A fwd_cnt past what was sent is a lie: RST. */
	g_fwd_cnt = 1601;
	tx(VIRTIO_VSOCK_OP_CREDIT_UPDATE, 2000, OPEN_PORT, NULL, 0);
	expect(VIRTIO_VSOCK_OP_RST, OPEN_PORT, 2000);
}

/* Guest to host: what the host does not read is kept up to the credit
 * given; past it, RST; a host that drains gets the guest a CREDIT_UPDATE. */
static void test_credit_from_guest(void **state)
{
	static char chunk[65536];
	struct virtio_vsock_hdr h;
	int small = 4096;
	size_t total = 0, sent = 0;
	uint32_t last_fwd = 0;
	bool credit = false, rst = false;

	rx_post(32);
	guest_open(3000);
	setsockopt(peer, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	memset(chunk, 'q', sizeof(chunk));
	/* 256 KiB plus what the socket pair itself holds. */
	for (int i = 0; i < 4; i++)
		tx(VIRTIO_VSOCK_OP_RW, 3000, OPEN_PORT, chunk, sizeof(chunk));
	/* Everything taken: no RST yet. */
	while (rx_next(&h, NULL, 0)) {
		assert_int_not_equal(h.op, VIRTIO_VSOCK_OP_RST);
		credit |= h.op == VIRTIO_VSOCK_OP_CREDIT_UPDATE;
		if (h.fwd_cnt > last_fwd)
			last_fwd = h.fwd_cnt;
	}
	/* The host drains: its credit comes back. */
	for (;;) {
		ssize_t n = peer_read(peer, chunk, sizeof(chunk));

		if (n <= 0)
			break;
		total += (size_t)n;
		poll_dev();
		if (total == 4 * sizeof(chunk))
			break;
	}
	assert_int_equal(total, 4 * sizeof(chunk));
	while (rx_next(&h, NULL, 0)) {
		credit |= h.op == VIRTIO_VSOCK_OP_CREDIT_UPDATE;
		if (h.fwd_cnt > last_fwd)
			last_fwd = h.fwd_cnt;
	}
	/* Told of its freed space: at least half the buffer is free again. */
	assert_true(credit);
	assert_true(BUF_SIZE - (4 * sizeof(chunk) - last_fwd) >= BUF_SIZE / 2);
	/* Then the host stops reading: the device takes what its socket and
	 * its 256 KiB hold, and refuses the packet past the credit it gave. */
	for (int i = 0; i < 64 && !rst; i++) {
		tx(VIRTIO_VSOCK_OP_RW, 3000, OPEN_PORT, chunk, sizeof(chunk));
		sent += sizeof(chunk);
		while (rx_next(&h, NULL, 0))
			if (h.op == VIRTIO_VSOCK_OP_RST)
				rst = true;
	}
	/* The device refused the packet that went past the credit it gave. */
	assert_true(rst);
	assert_true(sent > BUF_SIZE);
}

/* Malformed headers: each answered with RST (to the ports it gave), and
 * a bad packet on an open connection ends it. */
static void test_malformed(void **state)
{
	struct virtio_vsock_hdr h;
	char buf[8];
	int before;

	rx_post(64);
	h = hdr(VIRTIO_VSOCK_OP_REQUEST, 10, OPEN_PORT, 0);
	h.src_cid = 4;
	tx_raw(&h, NULL, 0);
	expect(VIRTIO_VSOCK_OP_RST, OPEN_PORT, 10);
	h = hdr(VIRTIO_VSOCK_OP_REQUEST, 10, OPEN_PORT, 0);
	h.dst_cid = 5;
	tx_raw(&h, NULL, 0);
	expect(VIRTIO_VSOCK_OP_RST, OPEN_PORT, 10);
	h = hdr(VIRTIO_VSOCK_OP_REQUEST, 10, OPEN_PORT, 0);
	h.type = VIRTIO_VSOCK_TYPE_SEQPACKET;
	tx_raw(&h, NULL, 0);
	expect(VIRTIO_VSOCK_OP_RST, OPEN_PORT, 10);
	h = hdr(99, 10, OPEN_PORT, 0);
	tx_raw(&h, NULL, 0);
	expect(VIRTIO_VSOCK_OP_RST, OPEN_PORT, 10);
	h = hdr(VIRTIO_VSOCK_OP_INVALID, 10, OPEN_PORT, 0);
	tx_raw(&h, NULL, 0);
	expect(VIRTIO_VSOCK_OP_RST, OPEN_PORT, 10);
	/* Unknown connection. */
	tx(VIRTIO_VSOCK_OP_RW, 11, 4444, "abc", 3);
	expect(VIRTIO_VSOCK_OP_RST, 4444, 11);
	tx(VIRTIO_VSOCK_OP_SHUTDOWN, 11, 4444, NULL, 0);
	expect(VIRTIO_VSOCK_OP_RST, 4444, 11);
	expect_nothing();

	/* On an open connection: len past the chain ends it. */
	guest_open(12);
	before = peer;
	h = hdr(VIRTIO_VSOCK_OP_RW, 12, OPEN_PORT, 100);
	tx_raw(&h, "short", 5);
	expect(VIRTIO_VSOCK_OP_RST, OPEN_PORT, 12);
	assert_int_equal(peer_read(before, buf, sizeof(buf)), 0);
	/* len over 64 KiB, with the chain holding it. */
	guest_open(13);
	h = hdr(VIRTIO_VSOCK_OP_RW, 13, OPEN_PORT, 65537);
	static char big[65537];

	tx_raw(&h, big, sizeof(big));
	expect(VIRTIO_VSOCK_OP_RST, OPEN_PORT, 13);
	/* Payload on a control packet, flags where none belong. */
	guest_open(14);
	h = hdr(VIRTIO_VSOCK_OP_CREDIT_REQUEST, 14, OPEN_PORT, 2);
	tx_raw(&h, "ab", 2);
	expect(VIRTIO_VSOCK_OP_RST, OPEN_PORT, 14);
	guest_open(15);
	h = hdr(VIRTIO_VSOCK_OP_RW, 15, OPEN_PORT, 1);
	h.flags = 1;
	tx_raw(&h, "a", 1);
	expect(VIRTIO_VSOCK_OP_RST, OPEN_PORT, 15);
	/* Duplicate REQUEST: RST, and the first connection is gone too. */
	guest_open(16);
	before = peer;
	tx(VIRTIO_VSOCK_OP_REQUEST, 16, OPEN_PORT, NULL, 0);
	expect(VIRTIO_VSOCK_OP_RST, OPEN_PORT, 16);
	assert_int_equal(peer_read(before, buf, sizeof(buf)), 0);
	/* A chain shorter than a header: dropped, nothing to answer. */
	h = hdr(VIRTIO_VSOCK_OP_REQUEST, 17, OPEN_PORT, 0);
	uint16_t i = tx_avail % QSIZE;

	gm_write(&gm, TXBUF, &h, 44);
	put_desc(1, i, TXBUF, 20, false);
	publish(1, &tx_avail, i);
	fake_vq_kick(vd, 1);
	expect_nothing();
	/* CREDIT_REQUEST is answered with CREDIT_UPDATE. */
	guest_open(18);
	tx(VIRTIO_VSOCK_OP_CREDIT_REQUEST, 18, OPEN_PORT, NULL, 0);
	expect(VIRTIO_VSOCK_OP_CREDIT_UPDATE, OPEN_PORT, 18);
}

/* 1024 connections at once; the next is refused with RST. */
static void test_table_cap(void **state)
{
	struct virtio_vsock_hdr h;
	unsigned ok = 0;

	for (uint32_t p = 0; p < 1025; p++) {
		if (p % 128 == 0) {
			while (rx_next(&h, NULL, 0))
				ok += h.op == VIRTIO_VSOCK_OP_RESPONSE;
			rx_post(128);
		}
		tx(VIRTIO_VSOCK_OP_REQUEST, 10000 + p, EVENT_PORT, NULL, 0);
	}
	rx_post(8);
	while (rx_next(&h, NULL, 0)) {
		if (h.op == VIRTIO_VSOCK_OP_RST) {
			assert_int_equal(h.dst_port, 10000 + 1024);
			continue;
		}
		ok += h.op == VIRTIO_VSOCK_OP_RESPONSE;
	}
	assert_int_equal(ok, 1024);
}

/* VM stop: TRANSPORT_RESET on the event queue, host connections closed. */
static void test_stop(void **state)
{
	struct virtq_used_elem e;
	uint32_t id = 0xffffffff;
	uint16_t ev_avail = 0, used;
	char buf[8];

	rx_post(4);
	guest_open(40);
	put_desc(2, 0, 0x380000, 4, true);
	publish(2, &ev_avail, 0);
	fake_vq_kick(vd, 2);
	virtio_vsock_stop(vd);
	assert_int_equal(fake_vq_used_idx(&vd->vq[2], &used), 0);
	assert_int_equal(used, 1);
	assert_int_equal(fake_vq_used_elem(&vd->vq[2], 0, &e), 0);
	assert_int_equal(e.len, 4);
	gm_read(&gm, 0x380000, &id, 4);
	assert_int_equal(id, VIRTIO_VSOCK_EVENT_TRANSPORT_RESET);
	assert_int_equal(peer_read(peer, buf, sizeof(buf)), 0);
	assert_int_equal(access(sock_path, F_OK), -1);
}

/* A device reset drops every connection. */
static void test_reset(void **state)
{
	char buf[8];

	rx_post(4);
	guest_open(50);
	pthread_mutex_lock(&vd->lock);
	vd->ops->reset(vd);
	pthread_mutex_unlock(&vd->lock);
	assert_int_equal(peer_read(peer, buf, sizeof(buf)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_config, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_guest_refused_and_rst, setup, teardown),
		cmocka_unit_test_setup_teardown(test_host_lifecycle, setup, teardown),
		cmocka_unit_test_setup_teardown(test_credit_to_guest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_credit_from_guest, setup, teardown),
		cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_table_cap, setup, teardown),
		cmocka_unit_test_setup_teardown(test_stop, setup, teardown),
		cmocka_unit_test_setup_teardown(test_reset, setup, teardown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
