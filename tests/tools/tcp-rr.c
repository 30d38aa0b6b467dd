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
 * The client retries its connect for 30 s (the server may not listen yet).
 * Exit status 0, or 1 with the reason on stderr. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
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

static int client(const char *addr, unsigned port, unsigned long count)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	uint32_t *lat = calloc(count, sizeof(*lat));
	int fd = -1, on = 1;
	uint64_t t0, t1, start;
	char c = 'r';

	if (!lat)
		return die("calloc");
	if (inet_pton(AF_INET, addr, &a.sin_addr) != 1) {
		fprintf(stderr, "tcp-rr: %s: not an IPv4 address\n", addr);
		return 2;
	}
	start = now_ns();
	for (;;) {
		fd = socket(AF_INET, SOCK_STREAM, 0);
		if (fd < 0)
			return die("socket");
		if (connect(fd, (struct sockaddr *)&a, sizeof(a)) == 0)
			break;
		close(fd);
		if (now_ns() - start > 30000000000ULL)
			return die("connect (30 s)");
		usleep(200000);
	}
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

int main(int argc, char **argv)
{
	if (argc >= 3 && argc <= 4 && !strcmp(argv[1], "server"))
		return server((unsigned)number(argv[2], 65535),
			      argc == 4 ? number(argv[3], COUNT_MAX) : 1);
	if (argc == 5 && !strcmp(argv[1], "client"))
		return client(argv[2], (unsigned)number(argv[3], 65535),
			      number(argv[4], COUNT_MAX));
	fprintf(stderr, "usage: tcp-rr server PORT [CONNECTIONS]\n"
			"       tcp-rr client ADDR PORT COUNT\n");
	return 2;
}
