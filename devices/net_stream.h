/* Ethernet frames on a stream socket, as passt (and QEMU's -netdev stream)
 * carry them: each frame preceded by its length, 32-bit big-endian, and no
 * virtio-net header. The socket is non-blocking and the I/O thread never
 * waits on it: a frame that arrives in pieces is buffered until whole, and
 * the tail of a frame the socket took only part of is kept and sent first
 * next time. The peer is hostile like the guest: a length over the limit
 * drops that frame (skipped, counted, logged at a limited rate), never the
 * connection. The device side is in virtio/net.c; passt itself in passt.c. */
#ifndef VMM_NET_STREAM_H
#define VMM_NET_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>

#define NET_STREAM_LEN		4		/* the length before each frame */
#define NET_STREAM_MIN_FRAME	14		/* an Ethernet header */
#define NET_STREAM_MAX_FRAME	(65535 + 18)	/* virtio/net.h NET_MAX_GSO_FRAME */

struct net_stream {
	int fd;			/* connected, non-blocking; -1 when none */
	const char *name;	/* for the log */
	/* Receive: in[in_off, in_len) read and not yet taken. */
	uint8_t *in;
	size_t in_off, in_len;
	uint32_t skip;		/* bytes of a refused frame still to drop */
	/* Transmit: out[out_off, out_len) the untaken tail of a frame. */
	uint8_t *out;
	size_t out_off, out_len;
	uint64_t oversize, runts;	/* frames dropped from the peer */
};

/* Buffers for a stream without a socket yet (fd -1). 0 or -ENOMEM. */
int net_stream_init(struct net_stream *s, const char *name);
/* Takes `fd` (made non-blocking) as the new connection, forgetting what was
 * buffered for the old one (not closed here). */
void net_stream_attach(struct net_stream *s, int fd);
void net_stream_free(struct net_stream *s);

/*
 * The next whole frame into buf (cap >= NET_STREAM_MAX_FRAME): its length;
 * 0 when none is whole yet (the socket is empty); -ECONNRESET when the peer
 * closed; another -errno on a read error. Frames over NET_STREAM_MAX_FRAME
 * or under NET_STREAM_MIN_FRAME are skipped and counted.
 */
ssize_t net_stream_recv(struct net_stream *s, uint8_t *buf, size_t cap);

/*
 * Sends one frame of `len` bytes given by iov[0..n). 0: taken (all sent, or
 * its tail kept for net_stream_flush); -EAGAIN: not taken, the socket is full
 * (an earlier tail is still waiting, or nothing could be written); -EMSGSIZE
 * for a frame outside the limits; -EPIPE or another -errno: the connection
 * failed.
 */
int net_stream_send(struct net_stream *s, const struct iovec *iov, int n, size_t len);

/* Writes the kept tail. 1: nothing is left; 0: some is (wait until the socket
 * is writable); -errno: the connection failed. */
int net_stream_flush(struct net_stream *s);

static inline bool net_stream_pending(const struct net_stream *s)
{
	return s->out_off < s->out_len;
}

#endif
