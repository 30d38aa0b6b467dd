/* vsock-test.h: what vsock-test.c (the commands and the request protocol) takes from
 * vsock-test-io.c: md5, the seeded data stream, bounded I/O on non-blocking sockets,
 * and the endpoints. */
#ifndef VSOCK_TEST_H
#define VSOCK_TEST_H

#include <stddef.h>
#include <stdint.h>
#include <sys/un.h>

#define CHUNK 65536
#define EXIT_FAILED 1
#define EXIT_USAGE 2
#define EXIT_CLOSED 3
#define EXIT_IDLE 4

/* No progress for this long fails an I/O helper with IO_IDLE (VSOCK_TEST_IDLE). */
extern int idle_ms;

/* One line to stdout in one write, so that lines of several processes do not mix. */
void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
double now_s(void);

struct md5 {
	uint32_t h[4];
	uint64_t len;
	unsigned char buf[64];
};

void md5_init(struct md5 *m);
void md5_update(struct md5 *m, const void *data, size_t n);
/* The digest as 32 hex digits into out[33]; ends the computation. */
void md5_hex(struct md5 *m, char out[33]);

/* The data stream: xorshift64* from the seed, in whole CHUNKs. */
struct gen {
	uint64_t s;
};

void gen_init(struct gen *g, uint64_t seed);
void gen_fill(struct gen *g, unsigned char *buf);

/* Results of the I/O helpers: >= 0 bytes, or one of these. */
enum { IO_EOF = -1, IO_RESET = -2, IO_PIPE = -3, IO_IDLE = -4, IO_ERR = -5 };
const char *io_name(long r);
int io_exit(long r);	/* the exit status for a failed transfer */
int io_errno(int e);
int wait_fd(int fd, short ev, int ms);
long read_some(int fd, void *buf, size_t n);
long write_all(int fd, const void *buf, size_t n);
long read_line(int fd, char *line, size_t max);

/* vsock:CID:PORT (CID -1: any), unix:PATH, hybrid:PATH:PORT. */
struct endpoint {
	enum { EP_VSOCK, EP_UNIX, EP_HYBRID } kind;
	unsigned cid, port;
	struct sockaddr_un un;
	const char *text;
};

int parse_u32(const char *s, unsigned *out);
int parse_endpoint(const char *s, struct endpoint *ep);
int set_nonblock(int fd);
/* A connected, non-blocking socket, or -1 with *how saying why. */
int ep_connect(const struct endpoint *ep, int ms, const char **how);
int ep_listen(const struct endpoint *ep);

#endif
