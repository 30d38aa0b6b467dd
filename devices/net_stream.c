/* Length-prefixed Ethernet frames on a non-blocking stream socket (see
 * net_stream.h). Receive reads no further than the frame in progress, so
 * that whatever the peer sent beyond it stays in the socket and keeps it
 * readable: the device's level-triggered watch then works as on a TAP. */
#include "net_stream.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"

#define NET_STREAM_MAX_IOV	64	/* frame pieces per send, besides the length */

int net_stream_init(struct net_stream *s, const char *name)
{
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->name = name;
	s->in = malloc(NET_STREAM_LEN + NET_STREAM_MAX_FRAME);
	s->out = malloc(NET_STREAM_LEN + NET_STREAM_MAX_FRAME);
	if (!s->in || !s->out) {
		net_stream_free(s);
		return -ENOMEM;
	}
	return 0;
}

void net_stream_attach(struct net_stream *s, int fd)
{
	int fl = fd >= 0 ? fcntl(fd, F_GETFL) : -1;

	if (fl >= 0 && !(fl & O_NONBLOCK))
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	s->fd = fd;
	s->in_off = s->in_len = 0;
	s->out_off = s->out_len = 0;
	s->skip = 0;
}

void net_stream_free(struct net_stream *s)
{
	free(s->in);
	free(s->out);
	s->in = s->out = NULL;
}

/* Reads up to `want` bytes into `dst`: the count, 0 for none waiting,
 * -ECONNRESET at end of stream, -errno. */
static ssize_t fill(struct net_stream *s, uint8_t *dst, size_t want)
{
	ssize_t r;

	do
		r = read(s->fd, dst, want);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
	return r == 0 ? -ECONNRESET : r;
}

ssize_t net_stream_recv(struct net_stream *s, uint8_t *buf, size_t cap)
{
	if (s->fd < 0)
		return -ENOTCONN;
	for (;;) {
		size_t want;
		uint32_t len = 0;
		ssize_t r;

		if (s->skip) {
			/* The rest of a refused frame: read and dropped. */
			want = s->skip < NET_STREAM_LEN + NET_STREAM_MAX_FRAME ?
			       s->skip : NET_STREAM_LEN + NET_STREAM_MAX_FRAME;
			r = fill(s, s->in, want);
			if (r <= 0)
				return r;
			s->skip -= (uint32_t)r;
			continue;
		}
		if (s->in_len >= NET_STREAM_LEN) {
			memcpy(&len, s->in, sizeof(len));
			len = ntohl(len);
			if (len > NET_STREAM_MAX_FRAME || len < NET_STREAM_MIN_FRAME ||
			    len > cap) {
				if (len < NET_STREAM_MIN_FRAME)
					s->runts++;
				else
					s->oversize++;
				log_warn_limited("%s: dropped a %u-byte frame from the peer "
						 "(frames are %d to %d bytes)", s->name, len,
						 NET_STREAM_MIN_FRAME, NET_STREAM_MAX_FRAME);
				s->skip = len;
				s->in_len = 0;
				continue;
			}
			if (s->in_len == NET_STREAM_LEN + len) {
				memcpy(buf, s->in + NET_STREAM_LEN, len);
				s->in_len = 0;
				return len;
			}
			want = NET_STREAM_LEN + len - s->in_len;
		} else {
			want = NET_STREAM_LEN - s->in_len;
		}
		r = fill(s, s->in + s->in_len, want);
		if (r <= 0)
			return r;
		s->in_len += (size_t)r;
	}
}

/* Sends what is at out[out_off, out_len). */
int net_stream_flush(struct net_stream *s)
{
	while (net_stream_pending(s)) {
		ssize_t w = send(s->fd, s->out + s->out_off, s->out_len - s->out_off,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK ? 0 : -errno;
		s->out_off += (size_t)w;
	}
	s->out_off = s->out_len = 0;
	return 1;
}

/* Keeps the bytes of the length and the frame from `sent` on in `out`. */
static void keep_tail(struct net_stream *s, const struct iovec *iov, int n, size_t sent)
{
	size_t skip = sent;

	s->out_off = s->out_len = 0;
	for (int i = 0; i < n; i++) {
		const uint8_t *p = iov[i].iov_base;
		size_t l = iov[i].iov_len;

		if (skip >= l) {
			skip -= l;
			continue;
		}
		memcpy(s->out + s->out_len, p + skip, l - skip);
		s->out_len += l - skip;
		skip = 0;
	}
}

int net_stream_send(struct net_stream *s, const struct iovec *iov, int n, size_t len)
{
	struct iovec v[NET_STREAM_MAX_IOV + 1];
	struct msghdr mh = { .msg_iov = v, .msg_iovlen = (size_t)n + 1 };
	uint32_t be = htonl((uint32_t)len);
	size_t sum = 0;
	ssize_t w;
	int r;

	if (s->fd < 0)
		return -ENOTCONN;
	if (n < 0 || n > NET_STREAM_MAX_IOV)
		return -EINVAL;
	if (len < NET_STREAM_MIN_FRAME || len > NET_STREAM_MAX_FRAME)
		return -EMSGSIZE;
	r = net_stream_flush(s);
	if (r < 0)
		return r;
	if (r == 0)
		return -EAGAIN;
	v[0] = (struct iovec){ &be, sizeof(be) };
	for (int i = 0; i < n; i++) {
		v[i + 1] = iov[i];
		sum += iov[i].iov_len;
	}
	if (sum != len)
		return -EINVAL;
	do
		w = sendmsg(s->fd, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
	while (w < 0 && errno == EINTR);
	if (w < 0)
		return errno == EWOULDBLOCK ? -EAGAIN : -errno;
	if ((size_t)w < NET_STREAM_LEN + len)
		keep_tail(s, v, n + 1, (size_t)w);
	return 0;
}
