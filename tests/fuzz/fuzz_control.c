/* libFuzzer target for the control socket's server (vmm/control.c): the
 * request parser control_parse on every line of the input, in a buffer of
 * exactly that line's size, and the same bytes streamed to a server
 * (control_open on a temporary path) by a connected client in chunks whose
 * size comes from the input, with control_process serving them against a
 * fake VM (as tests/unit/test_control.c plays one) whose answers also come
 * from the input.
 *
 * Checks: no access outside any buffer, control_parse's line included
 * (ASan), no undefined behaviour (UBSan), no leak of memory (LSan) or of a
 * client slot (every input's client is dropped by the end: the next one
 * gets served); control_parse returns 0 with a known command or -EINVAL
 * with a printable, terminated reason; every reply line is printable,
 * starts "ok" or "error" and ends in a newline; no more replies than
 * request lines, plus one for the end of the input. The fake VM has no
 * console: `console` is refused and ends the connection, so the stream
 * stays one of reply lines (the attached console is test_control's).
 *
 * Input: 4 bytes, then the request stream.
 *   0  u8  chunk size - 1 (bytes per send)
 *   1  u8  length of `queues` (x 64 bytes, cut at what the reply has room for)
 *   2  u8  length of the VM name (x 2 bytes)
 *   3  u8  what pause and resume return: 0, -EBUSY, -ETIMEDOUT, -EIO (mod 4)
 *
 * Built by meson in a clang build directory set up with -Dfuzz=true
 * (docs/testing.md, "Fuzzing"); from the repository root:
 *   mkdir -p corpus-ctl && build-fuzz/tests/fuzz/fuzz_control -max_total_time=120 -max_len=4096 corpus-ctl
 */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HDR	4

static struct control *ctl;
static struct sockaddr_un sa;
static size_t queues_len, name_len;
static int pause_ret;
static char name[512];

static void trap_unless(bool ok)
{
	if (!ok)
		__builtin_trap();
}

static void fake_status(void *vm, struct control_status *st)
{
	*st = (struct control_status){ .name = name, .state = "running", .vcpus = 2,
				       .memory_mib = 256, .uptime_s = 1,
				       .first_kvm_run_us = 1000, .shutdown_us = 0 };
}

static const char *fake_state(void *vm) { return "running"; }
static int fake_pause(void *vm) { return pause_ret; }
static void fake_stop(void *vm, const char *why) { }

static size_t fake_queues(void *vm, char *buf, size_t len)
{
	size_t n = queues_len < len ? queues_len : len - 1;

	memset(buf, 'q', n);
	buf[n] = '\0';
	return n;
}

static const struct control_vm_ops ops = {
	.status = fake_status, .state = fake_state, .pause = fake_pause,
	.resume = fake_pause, .shutdown = fake_stop, .kill = fake_stop,
	.describe_queues = fake_queues,
};

static char dir[] = "/tmp/fuzz-control-XXXXXX", path[64], lock[80];

/* The socket, its lock file and their directory go when the fuzzer exits. */
static void cleanup(void)
{
	control_close(ctl);
	unlink(lock);
	rmdir(dir);
}

static void init(void)
{

	log_set_level((enum log_level)0);
	trap_unless(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/ctl.sock", dir);
	trap_unless(control_open(path, &ctl) == 0);
	trap_unless(control_addr(path, &sa) == 0);
	snprintf(lock, sizeof(lock), "%s.lock", path);
	atexit(cleanup);
}

static void parse_lines(const uint8_t *p, size_t n)
{
	while (n > 0) {
		const uint8_t *nl = memchr(p, '\n', n);
		size_t len = nl ? (size_t)(nl - p) : n;
		char *line = malloc(len ? len : 1), err[128];
		enum control_cmd cmd = (enum control_cmd)-1;
		uint64_t arg = UINT64_MAX;
		int r;

		trap_unless(line != NULL);
		memcpy(line, p, len);
		memset(err, 0x55, sizeof(err));
		r = control_parse(line, len, &cmd, &arg, err, sizeof(err));
		trap_unless(r == 0 || r == -EINVAL);
		if (r == 0) {
			trap_unless((unsigned)cmd <= CONTROL_BALLOON);
			/* `balloon`'s argument is bounded; the others have none. */
			trap_unless(cmd == CONTROL_BALLOON ? arg <= 1ULL << 24 : arg == 0);
		} else {
			size_t el = strnlen(err, sizeof(err));

			trap_unless(el > 0 && el < sizeof(err));
			for (size_t i = 0; i < el; i++)
				trap_unless(err[i] >= 0x20 && err[i] < 0x7f);
		}
		free(line);
		p += nl ? len + 1 : len;
		n -= nl ? len + 1 : len;
	}
}

/* Reads what the server sent so far; returns false at EOF (dropped). */
struct replies {
	char buf[4 * CONTROL_REPLY_MAX];
	size_t len;		/* of an unfinished line */
	unsigned lines;
};

static void check_line(const char *s, size_t n)
{
	trap_unless((n >= 2 && !memcmp(s, "ok", 2)) || (n >= 5 && !memcmp(s, "error", 5)));
	for (size_t i = 0; i < n; i++)
		trap_unless(s[i] >= 0x20 && s[i] < 0x7f);
}

static bool take_replies(int fd, struct replies *r)
{
	for (;;) {
		ssize_t got = recv(fd, r->buf + r->len, sizeof(r->buf) - r->len, MSG_DONTWAIT);
		char *start = r->buf, *nl;
		size_t left;

		if (got < 0)
			return true;
		if (got == 0) {
			trap_unless(r->len == 0);	/* replies end in a newline */
			return false;
		}
		left = r->len + (size_t)got;
		while ((nl = memchr(start, '\n', left))) {
			check_line(start, (size_t)(nl - start));
			r->lines++;
			left -= (size_t)(nl + 1 - start);
			start = nl + 1;
		}
		memmove(r->buf, start, left);
		r->len = left;
		trap_unless(r->len < sizeof(r->buf));
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int rets[] = { 0, -EBUSY, -ETIMEDOUT, -EIO };
	static bool ready;
	static struct replies r;
	const uint8_t *p = data + HDR;
	size_t left, chunk, nlines = 0;
	bool open = true;
	int fd;

	if (!ready) {
		init();
		ready = true;
	}
	if (size < HDR)
		return 0;
	chunk = (size_t)data[0] + 1;
	queues_len = (size_t)data[1] * 64;
	name_len = (size_t)data[2] * 2;
	memset(name, 'n', name_len);
	name[name_len] = '\0';
	pause_ret = rets[data[3] % 4];
	left = size - HDR;
	parse_lines(p, left);
	for (size_t i = 0; i < left; i++)
		nlines += p[i] == '\n';

	memset(&r, 0, sizeof(r));
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	trap_unless(fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	control_process(ctl, &ops, NULL);	/* accepts it */
	while (left > 0 && open) {
		size_t n = left < chunk ? left : chunk;
		ssize_t sent = send(fd, p, n, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (sent <= 0)
			break;		/* dropped, or not reading: the server's call */
		p += sent;
		left -= (size_t)sent;
		control_process(ctl, &ops, NULL);
		open = take_replies(fd, &r);
	}
	shutdown(fd, SHUT_WR);
	/* The server must now drop the client: at EOF, with or without a
	 * request left unfinished. */
	for (unsigned i = 0; open && i < 64; i++) {
		struct pollfd pfd = { .fd = control_fd(ctl), .events = POLLIN };

		poll(&pfd, 1, 100);
		control_process(ctl, &ops, NULL);
		open = take_replies(fd, &r);
	}
	trap_unless(!open);
	trap_unless(r.lines <= nlines + 1);
	close(fd);
	return 0;
}
