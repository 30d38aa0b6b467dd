/* libFuzzer target for passt's framing (devices/net_stream.c): a byte
 * stream from the peer (length-prefixed Ethernet frames, or anything else)
 * arrives on a SOCK_STREAM socket pair in chunks whose size comes from the
 * input, and net_stream_recv takes frames after each chunk. Checks, besides
 * ASan and UBSan: the frames returned are exactly those a reference parser
 * finds in the stream (lengths 14 to NET_STREAM_MAX_FRAME and within the
 * buffer; any other length skips that many bytes), in order and byte for
 * byte; nothing is returned early; the end of the stream reads as
 * -ECONNRESET.
 *
 * Built by meson in a clang build directory set up with -Dfuzz=true
 * (docs/testing.md, "Fuzzing"); from the repository root:
 *   mkdir -p corpus-netstream && build-fuzz/tests/fuzz/fuzz_net_stream -max_total_time=120 corpus-netstream
 *
 * Input: 2 header bytes, then the stream.
 *   0  u8   chunk size - 1 (1 to 256 bytes per send)
 *   1  u8   bit 0: the receive buffer is 1514 bytes, else the largest frame
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "net_stream.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t buf[NET_STREAM_MAX_FRAME];

/* The next frame the reference parser finds from *pos: its offset and
 * length, or false when the stream has no further whole frame. */
static bool next_frame(const uint8_t *s, size_t n, size_t *pos, size_t cap, size_t *off,
		       uint32_t *len)
{
	while (*pos + 4 <= n) {
		uint32_t l;

		memcpy(&l, s + *pos, 4);
		l = ntohl(l);
		if (l < NET_STREAM_MIN_FRAME || l > NET_STREAM_MAX_FRAME || l > cap) {
			*pos += 4 + (size_t)l;	/* skipped, perhaps past the end */
			continue;
		}
		if (*pos + 4 + l > n)
			return false;
		*off = *pos + 4;
		*len = l;
		*pos += 4 + (size_t)l;
		return true;
	}
	return false;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool quiet;
	struct net_stream s;
	const uint8_t *st;
	size_t chunk, cap, n, sent = 0, pos = 0, off, got = 0;
	uint32_t len;
	int sv[2];
	ssize_t r;

	if (!quiet) {
		log_set_level(LOG_LVL_ERR);	/* the drops are logged, rate-limited */
		quiet = true;
	}
	if (size < 2)
		return 0;
	chunk = (size_t)data[0] + 1;
	cap = data[1] & 1 ? 1514 : sizeof(buf);
	st = data + 2;
	n = size - 2;
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		abort();
	if (net_stream_init(&s, "fuzz") < 0)
		abort();
	net_stream_attach(&s, sv[0]);
	for (;;) {
		/* Every frame whole in what was sent so far comes out, no more. */
		while ((r = net_stream_recv(&s, buf, cap)) > 0) {
			if (!next_frame(st, sent, &pos, cap, &off, &len) || (size_t)r != len ||
			    memcmp(buf, st + off, len))
				abort();
			got++;
		}
		if (r < 0)
			abort();
		{
			size_t p = pos;

			if (next_frame(st, sent, &p, cap, &off, &len))
				abort();	/* a whole frame was left behind */
		}
		if (sent == n)
			break;
		{
			size_t c = n - sent < chunk ? n - sent : chunk;

			if (send(sv[1], st + sent, c, 0) != (ssize_t)c)
				abort();
			sent += c;
		}
	}
	close(sv[1]);
	if (net_stream_recv(&s, buf, cap) != -ECONNRESET)
		abort();
	(void)got;
	close(sv[0]);
	net_stream_free(&s);
	return 0;
}
