/* vsock-test: both ends of the vsock integration tests (tests/integration/vsock.sh and
 * vsock_perf.sh). One small request protocol, spoken over AF_VSOCK (in the guest; on a
 * host with vhost-vsock, QEMU's), over a unix stream socket (the host listener
 * <socket>_<PORT> that vmm hands guest connections to CID 2 port PORT) and over vmm's
 * hybrid unix socket (Firecracker's host side: "CONNECT <port>\n", "OK <host_port>\n").
 *
 * Endpoints: vsock:CID:PORT (CID -1: any, for serve), unix:PATH, hybrid:PATH:PORT.
 *
 *   vsock-test serve ENDPOINT PREFIX   listens; prints "PREFIX-LISTENING ENDPOINT" once
 *                                      it does, then serves each connection in a child
 *                                      and prints one "PREFIX-SERVED ..." line for it
 *   vsock-test client ENDPOINT OP N SEED [abort=M]
 *                                      one request (below); prints one result line
 *   vsock-test concurrent K ENDPOINT N K connections open at once (each waits until all
 *                                      are connected), request i: sink, source or echo
 *                                      (i mod 3) of N bytes with seed 1000+i
 *   vsock-test refused ENDPOINT SECONDS a connect that must fail (vsock: ECONNRESET or
 *                                      ECONNREFUSED; hybrid: no OK line, the connection
 *                                      closed) within SECONDS
 *   vsock-test gen N SEED              the data stream to stdout (to check md5 with md5sum)
 *   vsock-test cid                     this machine's own CID (/dev/vsock)
 *
 * Requests (the client's first line): "sink N SEED": the client sends N bytes of
 * stream(SEED) and the server answers "md5 HEX COUNT\n" of what it read. "source N SEED":
 * the server sends N bytes of stream(SEED) and then "md5 HEX COUNT\n" of what it sent.
 * "echo N SEED": the server sends back what it reads until EOF; the client sends N bytes
 * and reads N back. N = 0 streams without end (sink and source: the stop tests). Both
 * ends compute md5 and the client compares; abort=M makes the client close after M bytes.
 *
 * Every wait is bounded (VSOCK_TEST_IDLE seconds without progress, default 60).
 * Exit status: 0 ok; 1 failed (a wrong checksum, refused, an unexpected answer); 2 usage;
 * 3 the peer closed or reset the connection early (how= says which); 4 no progress for
 * VSOCK_TEST_IDLE seconds (refused: nothing within SECONDS). Built static by
 * tests/testhost/run and run-arm64 for the busybox guest and the test host; meson builds
 * it for the project's warnings.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#define CHUNK 65536
#define EXIT_FAILED 1
#define EXIT_USAGE 2
#define EXIT_CLOSED 3
#define EXIT_IDLE 4

static int idle_ms = 60000;

/* say: one line to stdout in one write, so that lines from several processes on the
 * same console do not mix. */
static void say(const char *fmt, ...)
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

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- md5 (RFC 1321) ------------------------------------------------------------------ */

struct md5 {
	uint32_t h[4];
	uint64_t len;
	unsigned char buf[64];
};

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

static void md5_init(struct md5 *m)
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

static void md5_update(struct md5 *m, const void *data, size_t n)
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
static void md5_hex(struct md5 *m, char out[33])
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

struct gen {
	uint64_t s;
};

static void gen_init(struct gen *g, uint64_t seed)
{
	g->s = seed * 0x9e3779b97f4a7c15ULL + 0x2545f4914f6cdd1dULL;
	if (!g->s)
		g->s = 1;
}

/* gen_fill: the next CHUNK bytes of the stream (always whole chunks: the stream does not
 * depend on how the writer splits it). */
static void gen_fill(struct gen *g, unsigned char *buf)
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

/* Results of the I/O helpers: >= 0 bytes, or one of these. */
enum { IO_EOF = -1, IO_RESET = -2, IO_PIPE = -3, IO_IDLE = -4, IO_ERR = -5 };

static const char *io_name(long r)
{
	switch (r) {
	case IO_EOF: return "eof";
	case IO_RESET: return "reset";
	case IO_PIPE: return "epipe";
	case IO_IDLE: return "idle-timeout";
	default: return "error";
	}
}

static int io_exit(long r)
{
	return r == IO_IDLE ? EXIT_IDLE : r == IO_ERR ? EXIT_FAILED : EXIT_CLOSED;
}

static int io_errno(int e)
{
	return e == ECONNRESET ? IO_RESET : e == EPIPE ? IO_PIPE : IO_ERR;
}

static int wait_fd(int fd, short ev, int ms)
{
	struct pollfd p = { .fd = fd, .events = ev };
	int r;

	do
		r = poll(&p, 1, ms);
	while (r < 0 && errno == EINTR);
	return r > 0 ? 0 : r == 0 ? IO_IDLE : IO_ERR;
}

/* read_some: up to n bytes, at least one; IO_EOF at the end of the stream. */
static long read_some(int fd, void *buf, size_t n)
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

static long write_all(int fd, const void *buf, size_t n)
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
static long read_line(int fd, char *line, size_t max)
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

struct endpoint {
	enum { EP_VSOCK, EP_UNIX, EP_HYBRID } kind;
	unsigned cid, port;
	struct sockaddr_un un;
	const char *text;
};

static int parse_u32(const char *s, unsigned *out)
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

static int parse_endpoint(const char *s, struct endpoint *ep)
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

static int set_nonblock(int fd)
{
	int fl = fcntl(fd, F_GETFL);

	return fl < 0 ? -1 : fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}

/* ep_connect: a connected, non-blocking socket, or -1 with *how saying why (an errno
 * name, "no-ok" when the hybrid socket closed or answered without OK, "idle-timeout"
 * when nothing came within ms). */
static int ep_connect(const struct endpoint *ep, int ms, const char **how)
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

static int ep_listen(const struct endpoint *ep)
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

/* ---- requests --------------------------------------------------------------------------- */

struct req {
	char op[8];
	uint64_t n, seed;
};

static int parse_req(const char *line, struct req *q)
{
	char op[8];

	if (sscanf(line, "%7s %" SCNu64 " %" SCNu64, op, &q->n, &q->seed) != 3)
		return -1;
	if (strcmp(op, "sink") && strcmp(op, "source") && strcmp(op, "echo"))
		return -1;
	strcpy(q->op, op);
	return 0;
}

/* send_stream: n bytes of stream(seed) (n = 0: until an error); *sent counts them. */
static long send_stream(int fd, uint64_t n, uint64_t seed, struct md5 *m, uint64_t *sent)
{
	static unsigned char buf[CHUNK];
	struct gen g;

	gen_init(&g, seed);
	*sent = 0;
	while (!n || *sent < n) {
		size_t len = CHUNK;
		long r;

		gen_fill(&g, buf);
		if (n && n - *sent < len)
			len = n - *sent;
		md5_update(m, buf, len);
		r = write_all(fd, buf, len);
		if (r < 0)
			return r;
		*sent += len;
	}
	return 0;
}

/* recv_stream: n bytes (n = 0: until the stream ends, which returns IO_EOF). */
static long recv_stream(int fd, uint64_t n, struct md5 *m, uint64_t *got)
{
	static unsigned char buf[CHUNK];

	*got = 0;
	while (!n || *got < n) {
		size_t want = !n || n - *got > CHUNK ? CHUNK : n - *got;
		long r = read_some(fd, buf, want);

		if (r < 0)
			return r;
		md5_update(m, buf, r);
		*got += r;
	}
	return 0;
}

/* serve_one: the server's side of one connection. */
static void serve_one(int fd, const char *prefix)
{
	static unsigned char buf[CHUNK];
	char line[128], hex[33];
	struct req q;
	struct md5 m;
	uint64_t count = 0;
	long r = read_line(fd, line, sizeof(line));

	md5_init(&m);
	if (r < 0) {
		say("%s-SERVED none request=%s", prefix, io_name(r));
		return;
	}
	if (parse_req(line, &q)) {
		say("%s-SERVED bad request '%.60s'", prefix, line);
		return;
	}
	if (!strcmp(q.op, "sink")) {
		r = recv_stream(fd, q.n, &m, &count);
		md5_hex(&m, hex);
		if (r >= 0 || (r == IO_EOF && !q.n)) {
			int n = snprintf(line, sizeof(line), "md5 %s %" PRIu64 "\n", hex, count);

			r = write_all(fd, line, n);
		}
	} else if (!strcmp(q.op, "source")) {
		r = send_stream(fd, q.n, q.seed, &m, &count);
		md5_hex(&m, hex);
		if (r >= 0) {
			int n = snprintf(line, sizeof(line), "md5 %s %" PRIu64 "\n", hex, count);

			r = write_all(fd, line, n);
		}
	} else {
		for (;;) {
			r = read_some(fd, buf, sizeof(buf));
			if (r < 0)
				break;
			md5_update(&m, buf, r);
			count += r;
			r = write_all(fd, buf, r);
			if (r < 0)
				break;
		}
		md5_hex(&m, hex);
		if (r == IO_EOF)
			r = 0;
	}
	say("%s-SERVED %s n=%" PRIu64 " seed=%" PRIu64 " bytes=%" PRIu64 " md5=%s end=%s", prefix,
	    q.op, q.n, q.seed, count, hex, r >= 0 ? "ok" : io_name(r));
}

static int cmd_serve(const struct endpoint *ep, const char *prefix)
{
	int lfd = ep_listen(ep);

	if (lfd < 0) {
		say("%s-LISTEN-FAILED %s: %s", prefix, ep->text, strerror(errno));
		return EXIT_FAILED;
	}
	signal(SIGCHLD, SIG_IGN); /* children reap themselves */
	say("%s-LISTENING %s", prefix, ep->text);
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		pid_t pid;

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			say("%s-ACCEPT-FAILED %s", prefix, strerror(errno));
			sleep(1);
			continue;
		}
		pid = fork();
		if (pid == 0) {
			close(lfd);
			set_nonblock(fd);
			serve_one(fd, prefix);
			_exit(0);
		}
		if (pid < 0)
			say("%s-FORK-FAILED %s", prefix, strerror(errno));
		close(fd);
	}
}

/* client_req: the client's side of request q on connected fd; abort (non-zero): close
 * after that many bytes. Prints one result line and returns the exit status. */
static int client_req(int fd, const struct req *q, uint64_t abort_at, const char *tag)
{
	char line[128], mine[33], theirs[33] = "", word[8];
	struct md5 m;
	uint64_t count = 0, their_count = 0, limit = abort_at ? abort_at : q->n;
	double t0 = now_s(), secs;
	long r;
	int n = snprintf(line, sizeof(line), "%s %" PRIu64 " %" PRIu64 "\n", q->op, q->n, q->seed);

	md5_init(&m);
	r = write_all(fd, line, n);
	if (r >= 0 && !strcmp(q->op, "sink")) {
		r = send_stream(fd, limit, q->seed, &m, &count);
	} else if (r >= 0 && !strcmp(q->op, "source")) {
		r = recv_stream(fd, limit, &m, &count);
	} else if (r >= 0) {
		/* echo: send and read back at once (the server's buffers are finite). */
		static unsigned char out[CHUNK], in[CHUNK];
		struct md5 back;
		struct gen g;
		uint64_t sent = 0;
		size_t off = CHUNK;

		md5_init(&back);
		gen_init(&g, q->seed);
		while (r >= 0 && count < limit) {
			struct pollfd p = { .fd = fd, .events = POLLIN | (sent < limit ? POLLOUT : 0) };

			if (poll(&p, 1, idle_ms) == 0) {
				r = IO_IDLE;
				break;
			}
			if (sent < limit && (p.revents & POLLOUT)) {
				size_t len;
				ssize_t w;

				if (off == CHUNK) {
					gen_fill(&g, out);
					off = 0;
				}
				len = CHUNK - off;
				if (limit - sent < len)
					len = limit - sent;
				w = send(fd, out + off, len, MSG_NOSIGNAL);
				if (w < 0 && errno != EAGAIN && errno != EINTR) {
					r = io_errno(errno);
					break;
				}
				if (w > 0) {
					md5_update(&m, out + off, w);
					off += w;
					sent += w;
				}
			}
			if (p.revents & (POLLIN | POLLHUP | POLLERR)) {
				ssize_t k = read(fd, in, limit - count < CHUNK ? limit - count : CHUNK);

				if (k == 0)
					r = IO_EOF;
				else if (k < 0 && errno != EAGAIN && errno != EINTR)
					r = io_errno(errno);
				else if (k > 0) {
					md5_update(&back, in, k);
					count += k;
				}
			}
		}
		md5_hex(&back, theirs);
		their_count = count;
	}
	secs = now_s() - t0;
	if (r < 0) {
		say("%s %s failed how=%s bytes=%" PRIu64 " seconds=%.3f", tag, q->op, io_name(r), count, secs);
		close(fd);
		return io_exit(r);
	}
	if (abort_at) {
		/* Closed with the transfer half done (unread data makes it a reset). */
		close(fd);
		say("%s %s aborted bytes=%" PRIu64, tag, q->op, count);
		return 0;
	}
	md5_hex(&m, mine);
	if (strcmp(q->op, "echo")) {
		r = read_line(fd, line, sizeof(line));
		if (r < 0) {
			say("%s %s failed how=%s no md5 line after bytes=%" PRIu64, tag, q->op, io_name(r), count);
			close(fd);
			return io_exit(r);
		}
		if (sscanf(line, "%7s %32s %" SCNu64, word, theirs, &their_count) != 3 || strcmp(word, "md5")) {
			say("%s %s failed answer '%.60s'", tag, q->op, line);
			close(fd);
			return EXIT_FAILED;
		}
		secs = now_s() - t0;
	}
	close(fd);
	if (strcmp(mine, theirs) || their_count != count) {
		say("%s %s failed mismatch bytes=%" PRIu64 " md5=%s peer_bytes=%" PRIu64 " peer_md5=%s",
		    tag, q->op, count, mine, their_count, theirs);
		return EXIT_FAILED;
	}
	say("%s %s ok bytes=%" PRIu64 " md5=%s seconds=%.3f mib_s=%.2f", tag, q->op, count, mine, secs,
	    count / 1048576.0 / (secs > 0.001 ? secs : 0.001));
	return 0;
}

static int cmd_client(const struct endpoint *ep, char **argv, int argc)
{
	struct req q;
	char line[96];
	uint64_t abort_at = 0;
	const char *how;
	int fd;

	snprintf(line, sizeof(line), "%s %s %s", argv[0], argv[1], argv[2]);
	if (parse_req(line, &q))
		return EXIT_USAGE;
	if (argc > 3 && sscanf(argv[3], "abort=%" SCNu64, &abort_at) != 1)
		return EXIT_USAGE;
	fd = ep_connect(ep, idle_ms, &how);
	if (fd < 0) {
		say("client %s connect failed how=%s", q.op, how);
		return strstr(how, "idle-timeout") ? EXIT_IDLE : EXIT_FAILED;
	}
	return client_req(fd, &q, abort_at, "client");
}

static int cmd_concurrent(int k, const struct endpoint *ep, uint64_t n)
{
	static const char *const ops[] = { "sink", "source", "echo" };
	int go[2], ready[2], ok = 0, failed = 0, connected = 0;
	pid_t *pids = calloc(k, sizeof(*pids));

	if (!pids || pipe(go) < 0 || pipe(ready) < 0)
		return EXIT_FAILED;
	for (int i = 0; i < k; i++) {
		pids[i] = fork();
		if (pids[i] == 0) {
			struct req q = { .n = n, .seed = 1000 + i };
			char tag[32], c = 1;
			const char *how;
			int fd;

			close(go[1]);
			close(ready[0]);
			strcpy(q.op, ops[i % 3]);
			snprintf(tag, sizeof(tag), "concurrent %d", i);
			fd = ep_connect(ep, idle_ms, &how);
			if (fd < 0) {
				say("%s %s connect failed how=%s", tag, q.op, how);
				_exit(EXIT_FAILED);
			}
			/* All connected at once, then all transfer at once: the parent closes
			 * go once each child has said it is connected (or given up). */
			if (write(ready[1], &c, 1) != 1 || read(go[0], &c, 1) < 0)
				_exit(EXIT_FAILED);
			_exit(client_req(fd, &q, 0, tag));
		}
	}
	close(go[0]);
	close(ready[1]);
	while (connected < k) {
		char c;

		if (wait_fd(ready[0], POLLIN, idle_ms) || read(ready[0], &c, 1) != 1)
			break; /* every child connected or exited (EOF), or none for too long */
		connected++;
	}
	close(go[1]);
	for (int i = 0; i < k; i++) {
		int st;

		if (pids[i] > 0 && waitpid(pids[i], &st, 0) == pids[i] && WIFEXITED(st) && !WEXITSTATUS(st))
			ok++;
		else
			failed++;
	}
	say("concurrent done connections=%d open_at_once=%d ok=%d failed=%d", k, connected, ok, failed);
	return failed || connected != k ? EXIT_FAILED : 0;
}

static int cmd_refused(const struct endpoint *ep, int seconds)
{
	double t0 = now_s();
	const char *how;
	int fd = ep_connect(ep, seconds * 1000, &how);
	int ms = (int)((now_s() - t0) * 1000);

	if (fd >= 0) {
		say("refused failed connected ms=%d", ms);
		close(fd);
		return EXIT_FAILED;
	}
	if (strstr(how, "idle-timeout")) {
		say("refused failed how=%s ms=%d (no answer within %d s)", how, ms, seconds);
		return EXIT_IDLE;
	}
	/* vsock: the guest's connect ends in an error from the RST; hybrid: the socket
	 * closes without an OK line. A kernel connect timeout is no refusal. */
	if (ep->kind == EP_VSOCK ? (strcmp(how, "ECONNRESET") && strcmp(how, "ECONNREFUSED")) :
				   !strstr(how, "no-ok:eof") && !strstr(how, "no-ok:reset")) {
		say("refused failed how=%s ms=%d", how, ms);
		return EXIT_FAILED;
	}
	say("refused ok how=%s ms=%d", how, ms);
	return 0;
}

static int cmd_gen(uint64_t n, uint64_t seed)
{
	struct md5 m;
	uint64_t sent;

	md5_init(&m);
	return send_stream(1, n, seed, &m, &sent) < 0 ? EXIT_FAILED : 0;
}

static int cmd_cid(void)
{
	unsigned cid = 0;
	int fd = open("/dev/vsock", O_RDONLY);

	if (fd < 0 || ioctl(fd, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid) < 0) {
		say("cid failed: %s", strerror(errno));
		return EXIT_FAILED;
	}
	close(fd);
	say("%u", cid);
	return 0;
}

static int usage(void)
{
	fprintf(stderr,
		"usage: vsock-test serve ENDPOINT PREFIX\n"
		"       vsock-test client ENDPOINT sink|source|echo N SEED [abort=M]\n"
		"       vsock-test concurrent K ENDPOINT N\n"
		"       vsock-test refused ENDPOINT SECONDS\n"
		"       vsock-test gen N SEED\n"
		"       vsock-test cid\n"
		"ENDPOINT: vsock:CID:PORT, unix:PATH, hybrid:PATH:PORT\n");
	return EXIT_USAGE;
}

int main(int argc, char **argv)
{
	struct endpoint ep;
	const char *idle = getenv("VSOCK_TEST_IDLE");
	unsigned a, b;

	if (idle && atoi(idle) > 0)
		idle_ms = atoi(idle) * 1000;
	signal(SIGPIPE, SIG_IGN);
	if (argc == 4 && !strcmp(argv[1], "serve") && !parse_endpoint(argv[2], &ep))
		return cmd_serve(&ep, argv[3]);
	if ((argc == 6 || argc == 7) && !strcmp(argv[1], "client") && !parse_endpoint(argv[2], &ep)) {
		int r = cmd_client(&ep, argv + 3, argc - 3);

		return r == EXIT_USAGE ? usage() : r;
	}
	if (argc == 5 && !strcmp(argv[1], "concurrent") && !parse_u32(argv[2], &a) && a > 0 &&
	    a <= 256 && !parse_endpoint(argv[3], &ep) && !parse_u32(argv[4], &b))
		return cmd_concurrent(a, &ep, b);
	if (argc == 4 && !strcmp(argv[1], "refused") && !parse_endpoint(argv[2], &ep) &&
	    !parse_u32(argv[3], &a) && a > 0 && a < 3600)
		return cmd_refused(&ep, a);
	if (argc == 4 && !strcmp(argv[1], "gen") && !parse_u32(argv[2], &a) && !parse_u32(argv[3], &b))
		return cmd_gen(a, b);
	if (argc == 2 && !strcmp(argv[1], "cid"))
		return cmd_cid();
	return usage();
}
