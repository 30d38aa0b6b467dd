/* vsock-test-io.c: the parts of tests/tools/vsock-test that are not its commands: md5
 * (RFC 1321), the seeded data stream, bounded I/O on non-blocking sockets (every wait
 * ends after idle_ms without progress) and the three kinds of endpoint. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "vsock-test.h"

int idle_ms = 60000;

/* say: one line to stdout in one write, so that lines from several processes on the
 * same console do not mix. */
void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if (n > (int)sizeof(buf) - 2)
		n = sizeof(buf) - 2;
	buf[n++] = '\n';
	if (write(1, buf, n) < 0)
		return;
}

double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- md5 (RFC 1321) ------------------------------------------------------------------ */

static const uint32_t md5_k[64] = {
	0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
	0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
	0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
	0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
	0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
	0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
	0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
	0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};
static const unsigned char md5_r[16] = { 7, 12, 17, 22, 5, 9, 14, 20, 4, 11, 16, 23, 6, 10, 15, 21 };

void md5_init(struct md5 *m)
{
	m->h[0] = 0x67452301;
	m->h[1] = 0xefcdab89;
	m->h[2] = 0x98badcfe;
	m->h[3] = 0x10325476;
	m->len = 0;
}

static void md5_block(struct md5 *m, const unsigned char *p)
{
	uint32_t w[16], a = m->h[0], b = m->h[1], c = m->h[2], d = m->h[3];

	for (int i = 0; i < 16; i++)
		w[i] = p[4 * i] | p[4 * i + 1] << 8 | p[4 * i + 2] << 16 | (uint32_t)p[4 * i + 3] << 24;
	for (int i = 0; i < 64; i++) {
		uint32_t f, t;
		int g;

		if (i < 16) {
			f = (b & c) | (~b & d);
			g = i;
		} else if (i < 32) {
			f = (d & b) | (~d & c);
			g = (5 * i + 1) % 16;
		} else if (i < 48) {
			f = b ^ c ^ d;
			g = (3 * i + 5) % 16;
		} else {
			f = c ^ (b | ~d);
			g = (7 * i) % 16;
		}
		t = a + f + md5_k[i] + w[g];
		a = d;
		d = c;
		c = b;
		int r = md5_r[(i / 16) * 4 + i % 4];
		b = b + (t << r | t >> (32 - r));
	}
	m->h[0] += a;
	m->h[1] += b;
	m->h[2] += c;
	m->h[3] += d;
}

void md5_update(struct md5 *m, const void *data, size_t n)
{
	const unsigned char *p = data;
	size_t have = m->len % 64;

	m->len += n;
	if (have) {
		size_t take = 64 - have < n ? 64 - have : n;

		memcpy(m->buf + have, p, take);
		p += take;
		n -= take;
		if (have + take < 64)
			return;
		md5_block(m, m->buf);
	}
	for (; n >= 64; p += 64, n -= 64)
		md5_block(m, p);
	memcpy(m->buf, p, n);
}

/* md5_hex: the digest as 32 hex digits into out[33]. */
void md5_hex(struct md5 *m, char out[33])
{
	unsigned char pad[72] = { 0x80 };
	uint64_t bits = m->len * 8;
	size_t padlen = 56 - m->len % 64;

	if (m->len % 64 >= 56)
		padlen += 64;
	for (int i = 0; i < 8; i++)
		pad[padlen + i] = bits >> (8 * i);
	md5_update(m, pad, padlen + 8);
	for (int i = 0; i < 16; i++)
		sprintf(out + 2 * i, "%02x", (m->h[i / 4] >> (8 * (i % 4))) & 0xff);
}

/* ---- the data stream: xorshift64* from the seed, 8 bytes a step ------------------------ */

void gen_init(struct gen *g, uint64_t seed)
{
	g->s = seed * 0x9e3779b97f4a7c15ULL + 0x2545f4914f6cdd1dULL;
	if (!g->s)
		g->s = 1;
}

/* gen_fill: the next CHUNK bytes of the stream (always whole chunks: the stream does not
 * depend on how the writer splits it). */
void gen_fill(struct gen *g, unsigned char *buf)
{
	for (size_t i = 0; i < CHUNK; i += 8) {
		uint64_t x = g->s;

		x ^= x >> 12;
		x ^= x << 25;
		x ^= x >> 27;
		g->s = x;
		x *= 0x2545f4914f6cdd1dULL;
		memcpy(buf + i, &x, 8);
	}
}

/* ---- bounded I/O on non-blocking sockets ---------------------------------------------- */

const char *io_name(long r)
{
	switch (r) {
	case IO_EOF: return "eof";
	case IO_RESET: return "reset";
	case IO_PIPE: return "epipe";
	case IO_IDLE: return "idle-timeout";
	default: return "error";
	}
}

int io_exit(long r)
{
	return r == IO_IDLE ? EXIT_IDLE : r == IO_ERR ? EXIT_FAILED : EXIT_CLOSED;
}

int io_errno(int e)
{
	return e == ECONNRESET ? IO_RESET : e == EPIPE ? IO_PIPE : IO_ERR;
}

int wait_fd(int fd, short ev, int ms)
{
	struct pollfd p = { .fd = fd, .events = ev };
	int r;

	do
		r = poll(&p, 1, ms);
	while (r < 0 && errno == EINTR);
	return r > 0 ? 0 : r == 0 ? IO_IDLE : IO_ERR;
}

/* read_some: up to n bytes, at least one; IO_EOF at the end of the stream. */
long read_some(int fd, void *buf, size_t n)
{
	for (;;) {
		ssize_t r = read(fd, buf, n);

		if (r > 0)
			return r;
		if (r == 0)
			return IO_EOF;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return io_errno(errno);
		if (wait_fd(fd, POLLIN, idle_ms))
			return IO_IDLE;
	}
}

long write_all(int fd, const void *buf, size_t n)
{
	const char *p = buf;
	size_t done = 0;

	while (done < n) {
		ssize_t r = send(fd, p + done, n - done, MSG_NOSIGNAL);

		if (r >= 0) {
			done += r;
			continue;
		}
		if (errno == ENOTSOCK)
			r = write(fd, p + done, n - done);
		if (r >= 0) {
			done += r;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return io_errno(errno);
		if (wait_fd(fd, POLLOUT, idle_ms))
			return IO_IDLE;
	}
	return done;
}

/* read_line: one line of at most max-1 bytes, read a byte at a time (nothing after the
 * newline is consumed); the newline is dropped. */
long read_line(int fd, char *line, size_t max)
{
	size_t n = 0;

	while (n < max - 1) {
		long r = read_some(fd, line + n, 1);

		if (r < 0)
			return r;
		if (line[n] == '\n') {
			line[n] = 0;
			return n;
		}
		n++;
	}
	return IO_ERR;
}

/* ---- endpoints -------------------------------------------------------------------------- */

int parse_u32(const char *s, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	if (!strcmp(s, "-1")) {
		*out = VMADDR_CID_ANY;
		return 0;
	}
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > UINT32_MAX)
		return -1;
	*out = v;
	return 0;
}

int parse_endpoint(const char *s, struct endpoint *ep)
{
	char tmp[256];
	char *colon;
	const char *path;

	memset(ep, 0, sizeof(*ep));
	ep->text = s;
	if (strlen(s) >= sizeof(tmp))
		return -1;
	strcpy(tmp, s);
	if (!strncmp(tmp, "vsock:", 6)) {
		ep->kind = EP_VSOCK;
		colon = strchr(tmp + 6, ':');
		if (!colon)
			return -1;
		*colon = 0;
		return parse_u32(tmp + 6, &ep->cid) || parse_u32(colon + 1, &ep->port) ? -1 : 0;
	}
	if (!strncmp(tmp, "unix:", 5)) {
		ep->kind = EP_UNIX;
		path = tmp + 5;
	} else if (!strncmp(tmp, "hybrid:", 7)) {
		ep->kind = EP_HYBRID;
		colon = strrchr(tmp + 7, ':');
		if (!colon || parse_u32(colon + 1, &ep->port))
			return -1;
		*colon = 0;
		path = tmp + 7;
	} else {
		return -1;
	}
	if (!*path || strlen(path) >= sizeof(ep->un.sun_path))
		return -1;
	ep->un.sun_family = AF_UNIX;
	strcpy(ep->un.sun_path, path);
	return 0;
}

int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* ep_connect: a connected, non-blocking socket, or -1 with *how saying why (an errno
 * name, "no-ok" when the hybrid socket closed or answered without OK, "idle-timeout"
 * when nothing came within ms). */
int ep_connect(const struct endpoint *ep, int ms, const char **how)
{
	static char why[96];
	int fd, err = 0;
	socklen_t len = sizeof(err);

	*how = why;
	if (ep->kind == EP_VSOCK) {
		struct sockaddr_vm vm = { .svm_family = AF_VSOCK, .svm_cid = ep->cid, .svm_port = ep->port };
		/* The kernel's own connect timeout (2 s by default) must not cut in first. */
		struct timeval tv = { .tv_sec = ms / 1000 + 30 };

		fd = socket(AF_VSOCK, SOCK_STREAM, 0);
		if (fd < 0) {
			snprintf(why, sizeof(why), "socket(AF_VSOCK): %s", strerror(errno));
			return -1;
		}
		setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv, sizeof(tv));
		set_nonblock(fd);
		if (connect(fd, (struct sockaddr *)&vm, sizeof(vm)) < 0) {
			if (errno != EINPROGRESS) {
				err = errno;
			} else if (wait_fd(fd, POLLOUT, ms)) {
				snprintf(why, sizeof(why), "idle-timeout");
				close(fd);
				return -1;
			} else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
				err = errno;
			}
		}
	} else {
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0 || connect(fd, (const struct sockaddr *)&ep->un, sizeof(ep->un)) < 0)
			err = errno;
		else
			set_nonblock(fd);
	}
	if (err) {
		snprintf(why, sizeof(why), "%s", err == ECONNRESET ? "ECONNRESET" :
			 err == ECONNREFUSED ? "ECONNREFUSED" : err == ETIMEDOUT ? "ETIMEDOUT" :
			 err == ENOENT ? "ENOENT" : strerror(err));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (ep->kind == EP_HYBRID) {
		char line[64];
		int n = snprintf(line, sizeof(line), "CONNECT %u\n", ep->port);
		long r = write_all(fd, line, n);
		int save = idle_ms;

		if (r >= 0) {
			idle_ms = ms;
			r = read_line(fd, line, sizeof(line));
			idle_ms = save;
		}
		if (r < 0 || strncmp(line, "OK ", 3)) {
			if (r < 0)
				snprintf(why, sizeof(why), "no-ok:%s", io_name(r));
			else
				snprintf(why, sizeof(why), "no-ok:answer '%.40s'", line);
			close(fd);
			return -1;
		}
	}
	return fd;
}

int ep_listen(const struct endpoint *ep)
{
	int fd;

	if (ep->kind == EP_VSOCK) {
		struct sockaddr_vm vm = { .svm_family = AF_VSOCK, .svm_cid = ep->cid, .svm_port = ep->port };

		fd = socket(AF_VSOCK, SOCK_STREAM, 0);
		if (fd < 0 || bind(fd, (struct sockaddr *)&vm, sizeof(vm)) < 0)
			return -1;
	} else if (ep->kind == EP_UNIX) {
		fd = socket(AF_UNIX, SOCK_STREAM, 0);
		if (fd < 0 || bind(fd, (const struct sockaddr *)&ep->un, sizeof(ep->un)) < 0)
			return -1;
	} else {
		errno = EINVAL;
		return -1;
	}
	return listen(fd, 128) < 0 ? -1 : fd;
}
