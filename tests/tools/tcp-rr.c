/* tcp-rr: TCP request/response rate, as netperf's TCP_RR: one byte each way
 * per transaction on one connection, TCP_NODELAY, the next request only
 * after the answer. Both ends of tests/integration/net_perf.sh's row: the
 * guest serves, the test host asks.
 *
 *   tcp-rr server PORT [CONNECTIONS]   answers each byte with one byte, for
 *                                      CONNECTIONS connections (default 1)
 *   tcp-rr client ADDR PORT COUNT      COUNT transactions, then one line:
 *     TCP-RR transactions=N seconds=S rate=R p50_us=.. p90_us=.. p99_us=.. max_us=..
 *
 *   tcp-rr send ADDR PORT [CHUNK]      a stream: standard input to ADDR:PORT in
 *                                      writes of CHUNK bytes (default 1024, as
 *                                      busybox nc), half-close, wait for the
 *                                      peer's close; then one line of what the
 *                                      sender's TCP saw, sampled every 5 ms:
 *     TCP-SEND bytes=N seconds=S samples=K mss=.. min_rtt_us=.. srtt_us=.. cwnd=..
 *       pacing_kib_s=.. goal_bytes=.. segs_out=.. data_segs_out=.. retrans=..
 *       busy_ms=.. rwnd_limited_ms=.. sndbuf_limited_ms=..
 *     (srtt, cwnd, pacing rate and goal are medians over the samples; goal is
 *     Linux's TSO frame size for that pacing rate and minimum RTT,
 *     tcp_tso_autosize with a 64 KiB gso_max_size, so net_perf can tell which
 *     term sizes the guest's frames: docs/performance.md)
 *
 * The clients retry their connect for 30 s (the server may not listen yet).
 * Exit status 0, or 1 with the reason on stderr. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <linux/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define COUNT_MAX	10000000UL

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static int die(const char *what)
{
	fprintf(stderr, "tcp-rr: %s: %s\n", what, strerror(errno));
	return 1;
}

/* One byte in or out, through EINTR; 1 done, 0 the peer closed, -1 error. */
static int one(int fd, char *c, int out)
{
	for (;;) {
		ssize_t r = out ? write(fd, c, 1) : read(fd, c, 1);

		if (r == 1)
			return 1;
		if (r == 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

static unsigned long number(const char *s, unsigned long max)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || !*s || v == 0 || v > max) {
		fprintf(stderr, "tcp-rr: %s: not a number from 1 to %lu\n", s, max);
		exit(2);
	}
	return v;
}

static int server(unsigned port, unsigned long conns)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	int one_i = 1, l = socket(AF_INET, SOCK_STREAM, 0);

	if (l < 0)
		return die("socket");
	setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one_i, sizeof(one_i));
	if (bind(l, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(l, 4) < 0)
		return die("bind/listen");
	printf("TCP-RR listening port=%u\n", port);
	fflush(stdout);
	while (conns--) {
		int fd = accept(l, NULL, NULL);
		unsigned long n = 0;
		char c;
		int r;

		if (fd < 0)
			return die("accept");
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one_i, sizeof(one_i));
		while ((r = one(fd, &c, 0)) == 1 && one(fd, &c, 1) == 1)
			n++;
		if (r < 0)
			return die("read");
		printf("TCP-RR served transactions=%lu\n", n);
		fflush(stdout);
		close(fd);
	}
	close(l);
	return 0;
}

static int cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

static int connect_retry(const char *addr, unsigned port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	uint64_t start = now_ns();
	int fd;

	if (inet_pton(AF_INET, addr, &a.sin_addr) != 1) {
		fprintf(stderr, "tcp-rr: %s: not an IPv4 address\n", addr);
		exit(2);
	}
	for (;;) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0)
			return -1;
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			return fd;
		close(fd);
		if (now_ns() - start > 30000000000ULL)
			return -1;
		usleep(200000);
	}
}

static int client(const char *addr, unsigned port, unsigned long count)
{
	uint32_t *lat = calloc(count, sizeof(*lat));
	int fd = -1, on = 1;
	uint64_t t0, t1;
	char c = 'r';

	if (!lat)
		return die("calloc");
	fd = connect_retry(addr, port);
	if (fd < 0)
		return die("connect (30 s)");
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	t0 = now_ns();
	for (unsigned long i = 0; i < count; i++) {
		uint64_t s = now_ns();

		if (one(fd, &c, 1) != 1)
			return die("write");
		if (one(fd, &c, 0) != 1) {
			if (errno == 0 || errno == EINTR)
				errno = ECONNRESET;
			return die("read");
		}
		s = (now_ns() - s + 500) / 1000;
		lat[i] = s > UINT32_MAX ? UINT32_MAX : (uint32_t)s;
	}
	t1 = now_ns();
	close(fd);
	qsort(lat, count, sizeof(*lat), cmp);
	printf("TCP-RR transactions=%lu seconds=%.3f rate=%.0f p50_us=%u p90_us=%u "
	       "p99_us=%u max_us=%u\n", count, (double)(t1 - t0) / 1e9,
	       (double)count * 1e9 / (double)(t1 - t0), lat[count / 2],
	       lat[count * 9 / 10], lat[count * 99 / 100], lat[count - 1]);
	free(lat);
	return 0;
}

#define SAMPLES_MAX	65536

struct samples {
	uint32_t srtt[SAMPLES_MAX], cwnd[SAMPLES_MAX], pacing[SAMPLES_MAX], goal[SAMPLES_MAX];
	unsigned n;
	uint32_t min_rtt;
};

static uint32_t median(uint32_t *v, unsigned n)
{
	if (!n)
		return 0;
	qsort(v, n, sizeof(*v), cmp);
	return v[n / 2];
}

/* Linux 6.1's tcp_tso_autosize in bytes: the pacing rate's bytes per
 * 2^sk_pacing_shift (10) seconds, plus gso_max_size >> (min_rtt_us >> 9)
 * (tcp_tso_rtt_log 9), at most gso_max_size (virtio-net: 64 KiB). */
static uint32_t tso_goal(uint64_t pacing, uint32_t min_rtt_us)
{
	uint64_t bytes = pacing >> 10;
	uint32_t r = min_rtt_us >> 9;

	if (r < 32)
		bytes += 65536u >> r;
	return bytes > 65536 ? 65536 : (uint32_t)bytes;
}

static void sample(int fd, struct samples *s, struct tcp_info *ti)
{
	socklen_t len = sizeof(*ti);

	memset(ti, 0, sizeof(*ti));
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, ti, &len) < 0 || s->n >= SAMPLES_MAX)
		return;
	s->srtt[s->n] = ti->tcpi_rtt;
	s->cwnd[s->n] = ti->tcpi_snd_cwnd;
	s->pacing[s->n] = ti->tcpi_pacing_rate >> 10 > UINT32_MAX ? UINT32_MAX :
			  (uint32_t)(ti->tcpi_pacing_rate >> 10);
	s->goal[s->n] = tso_goal(ti->tcpi_pacing_rate, ti->tcpi_min_rtt);
	s->min_rtt = ti->tcpi_min_rtt;
	s->n++;
}

static int sender(const char *addr, unsigned port, unsigned long chunk)
{
	static struct samples s;
	struct tcp_info ti;
	char *buf = malloc(chunk);
	unsigned long long bytes = 0;
	uint64_t t0, t1, last, now;
	int fd;

	if (!buf)
		return die("malloc");
	fd = connect_retry(addr, port);
	if (fd < 0)
		return die("connect");
	t0 = last = now_ns();
	for (;;) {
		ssize_t r = read(0, buf, chunk), w = 0;

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return die("read");
		if (r == 0)
			break;
		while (w < r) {
			ssize_t k = write(fd, buf + w, (size_t)(r - w));

			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0)
				return die("write");
			w += k;
		}
		bytes += (unsigned long long)r;
		now = now_ns();
		if (now - last >= 5000000) {
			sample(fd, &s, &ti);
			last = now;
		}
	}
	sample(fd, &s, &ti);	/* the last counts: segments, limits */
	if (shutdown(fd, SHUT_WR) < 0)
		return die("shutdown");
	for (;;) {		/* as nc: done when the peer closes */
		ssize_t r = read(fd, buf, chunk);

		if (r == 0)
			break;
		if (r < 0 && errno != EINTR)
			return die("read (socket)");
	}
	t1 = now_ns();
	printf("TCP-SEND bytes=%llu seconds=%.3f samples=%u mss=%u min_rtt_us=%u srtt_us=%u "
	       "cwnd=%u pacing_kib_s=%u goal_bytes=%u segs_out=%u data_segs_out=%u retrans=%u "
	       "busy_ms=%llu rwnd_limited_ms=%llu sndbuf_limited_ms=%llu\n",
	       bytes, (double)(t1 - t0) / 1e9, s.n, ti.tcpi_snd_mss, s.min_rtt,
	       median(s.srtt, s.n), median(s.cwnd, s.n), median(s.pacing, s.n),
	       median(s.goal, s.n), ti.tcpi_segs_out, ti.tcpi_data_segs_out,
	       ti.tcpi_total_retrans, (unsigned long long)ti.tcpi_busy_time / 1000,
	       (unsigned long long)ti.tcpi_rwnd_limited / 1000,
	       (unsigned long long)ti.tcpi_sndbuf_limited / 1000);
	close(fd);
	free(buf);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && argc <= 4 && !strcmp(argv[1], "server"))
		return server((unsigned)number(argv[2], 65535),
			      argc == 4 ? number(argv[3], COUNT_MAX) : 1);
	if (argc == 5 && !strcmp(argv[1], "client"))
		return client(argv[2], (unsigned)number(argv[3], 65535),
			      number(argv[4], COUNT_MAX));
	if (argc >= 4 && argc <= 5 && !strcmp(argv[1], "send"))
		return sender(argv[2], (unsigned)number(argv[3], 65535),
			      argc == 5 ? number(argv[4], 1 << 20) : 1024);
	fprintf(stderr, "usage: tcp-rr server PORT [CONNECTIONS]\n"
			"       tcp-rr client ADDR PORT COUNT\n"
			"       tcp-rr send ADDR PORT [CHUNK]\n");
	return 2;
}
