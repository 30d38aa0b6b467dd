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
 * VSOCK_TEST_IDLE seconds (refused: nothing within SECONDS). md5, the data stream,
 * the I/O helpers and the endpoints are in vsock-test-io.c. Built static by
 * tests/testhost/run and run-arm64 for the busybox guest and the test host; meson builds
 * it for the project's warnings.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "vsock-test.h"

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
