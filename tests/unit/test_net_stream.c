/* Unit tests for devices/net_stream.c, passt's framing (a 32-bit big-endian
 * length before each Ethernet frame) on a SOCK_STREAM socket pair: frames
 * that arrive a few bytes at a time, several in one read, lengths out of
 * bounds (skipped, the next frame still whole), the peer closing, and a
 * send the socket takes only part of (the tail kept and sent first, so the
 * peer never sees a torn frame). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "log.h"
#include "net_stream.h"

static struct net_stream s;
static int peer = -1;
static uint8_t buf[NET_STREAM_MAX_FRAME];

static int setup(void **state)
{
	int sv[2];

	log_set_level(LOG_LVL_ERR);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	assert_int_equal(net_stream_init(&s, "test"), 0);
	net_stream_attach(&s, sv[0]);
	peer = sv[1];
	return 0;
}

static int teardown(void **state)
{
	close(s.fd);
	net_stream_free(&s);
	close(peer);
	return 0;
}

static uint8_t byte_at(uint32_t seed, size_t i) { return (uint8_t)(seed + i * 7 + (i >> 8)); }

/* A frame as the peer sends it: length, then len bytes from `seed`. */
static size_t frame(uint8_t *out, uint32_t len, uint32_t seed)
{
	uint32_t be = htonl(len);

	memcpy(out, &be, 4);
	for (size_t i = 0; i < len; i++)
		out[4 + i] = byte_at(seed, i);
	return 4 + (size_t)len;
}

static void put(const void *p, size_t len)
{
	assert_int_equal(send(peer, p, len, 0), (ssize_t)len);
}

static void expect_frame(uint32_t len, uint32_t seed)
{
	assert_int_equal(net_stream_recv(&s, buf, sizeof(buf)), len);
	for (size_t i = 0; i < len; i++)
		if (buf[i] != byte_at(seed, i))
			fail_msg("byte %zu of the frame: %u, wanted %u", i, buf[i], byte_at(seed, i));
}

/* One byte at a time: nothing until the last one, then the whole frame. */
static void test_partial(void **state)
{
	uint8_t f[4 + 60];
	size_t n = frame(f, 60, 1);

	assert_int_equal(net_stream_recv(&s, buf, sizeof(buf)), 0);
	for (size_t i = 0; i + 1 < n; i++) {
		put(f + i, 1);
		assert_int_equal(net_stream_recv(&s, buf, sizeof(buf)), 0);
	}
	put(f + n - 1, 1);
	expect_frame(60, 1);
	assert_int_equal(net_stream_recv(&s, buf, sizeof(buf)), 0);
}

/* Three frames in one write, the largest allowed among them; each comes
 * whole and alone. */
static void test_several(void **state)
{
	static uint8_t f[3 * (4 + NET_STREAM_MAX_FRAME)];
	size_t n = frame(f, 14, 2);

	n += frame(f + n, NET_STREAM_MAX_FRAME, 3);
	n += frame(f + n, 1514, 4);
	put(f, n);
	expect_frame(14, 2);
	expect_frame(NET_STREAM_MAX_FRAME, 3);
	expect_frame(1514, 4);
	assert_int_equal(net_stream_recv(&s, buf, sizeof(buf)), 0);
}

/* A length over the limit and one under an Ethernet header: both skipped
 * with their bytes, counted; the frames around them are intact. */
static void test_out_of_bounds(void **state)
{
	static uint8_t f[4 + NET_STREAM_MAX_FRAME + 1];
	size_t n;

	n = frame(f, 100, 5);
	put(f, n);
	n = frame(f, NET_STREAM_MAX_FRAME + 1, 6);
	put(f, n);
	n = frame(f, 13, 7);
	put(f, n);
	n = frame(f, 100, 8);
	put(f, n);
	expect_frame(100, 5);
	expect_frame(100, 8);
	assert_int_equal(s.oversize, 1);
	assert_int_equal(s.runts, 1);
	/* A huge length arriving slowly: its bytes are dropped as they come. */
	memset(f, 0xff, 4 + 1000);
	put(f, 4 + 1000);
	assert_int_equal(net_stream_recv(&s, buf, sizeof(buf)), 0);
	assert_int_equal(s.skip, 0xffffffffu - 1000);
	assert_int_equal(s.oversize, 2);
}

/* A buffer smaller than the frame: refused like an oversized one. */
static void test_small_buffer(void **state)
{
	uint8_t f[4 + 200];
	size_t n = frame(f, 200, 10);

	put(f, n);
	n = frame(f, 50, 11);
	put(f, n);
	assert_int_equal(net_stream_recv(&s, buf, 100), 50);
	assert_int_equal(buf[0], byte_at(11, 0));
}

/* The peer closes: mid-frame or between frames, end of stream. */
static void test_peer_closed(void **state)
{
	uint8_t f[4 + 60];

	frame(f, 60, 12);
	put(f, 30);
	assert_int_equal(net_stream_recv(&s, buf, sizeof(buf)), 0);
	close(peer);
	peer = -1;
	assert_int_equal(net_stream_recv(&s, buf, sizeof(buf)), -ECONNRESET);
	/* Writing to it now fails, and never raises SIGPIPE. */
	memset(buf, 1, 60);
	{
		struct iovec v = { buf, 60 };

		assert_int_equal(net_stream_send(&s, &v, 1, 60), -EPIPE);
	}
}

#define BIG 20000	/* larger than the socket's buffer: taken in part */

static uint8_t rcvd[1 << 22];
static size_t nrcvd;

/* Reads what the peer has. */
static void drain(void)
{
	ssize_t r;

	while ((r = recv(peer, rcvd + nrcvd, sizeof(rcvd) - nrcvd, MSG_DONTWAIT)) > 0)
		nrcvd += (size_t)r;
}

/* The frames the peer got: each must be BIG bytes of the pattern its first
 * byte starts, and nothing may be left over. Returns how many. */
static unsigned whole_frames(void)
{
	size_t off = 0;
	unsigned frames = 0;

	while (off + 4 <= nrcvd) {
		uint32_t len;

		memcpy(&len, rcvd + off, 4);
		assert_int_equal(ntohl(len), BIG);
		assert_true(off + 4 + BIG <= nrcvd);
		for (size_t i = 1; i < BIG; i++)
			assert_int_equal(rcvd[off + 4 + i], (uint8_t)(rcvd[off + 4] + i));
		off += 4 + BIG;
		frames++;
	}
	assert_int_equal(off, nrcvd);
	return frames;
}

/* Sends until the socket is full: a send is taken only in part, its tail
 * kept; the next is refused (-EAGAIN) while the tail waits. Flushed as the
 * peer reads, everything taken reaches it as whole frames. */
static void test_send_partial(void **state)
{
	static uint8_t f[BIG];
	int small = 4096, r = 0, rounds = 0;
	unsigned taken = 0;

	nrcvd = 0;
	setsockopt(s.fd, SOL_SOCKET, SO_SNDBUF, &small, sizeof(small));
	setsockopt(peer, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	for (unsigned k = 0; k < 100; k++) {
		struct iovec v[2] = { { f, 300 }, { f + 300, BIG - 300 } };

		for (size_t i = 0; i < sizeof(f); i++)
			f[i] = (uint8_t)(k + i);
		r = net_stream_send(&s, v, 2, sizeof(f));
		if (r == -EAGAIN)
			break;
		assert_int_equal(r, 0);
		taken++;
	}
	assert_int_equal(r, -EAGAIN);
	assert_true(net_stream_pending(&s));
	do {
		drain();
		assert_true(++rounds < 10000);
	} while ((r = net_stream_flush(&s)) == 0);
	assert_int_equal(r, 1);
	assert_false(net_stream_pending(&s));
	drain();
	assert_int_equal(whole_frames(), taken);
	/* Lengths out of bounds are never sent. */
	{
		struct iovec v = { f, 13 };

		assert_int_equal(net_stream_send(&s, &v, 1, 13), -EMSGSIZE);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_partial, setup, teardown),
		cmocka_unit_test_setup_teardown(test_several, setup, teardown),
		cmocka_unit_test_setup_teardown(test_out_of_bounds, setup, teardown),
		cmocka_unit_test_setup_teardown(test_small_buffer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_peer_closed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_send_partial, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
