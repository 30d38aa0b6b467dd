/* Unit tests for vmm/ready_guest.c ([vm] ready = "guest"): the sd_notify
 * message parser and what vmm relays, the listener over a real unix socket
 * (the vsock device's side played by a plain connect), and the credential
 * on the kernel command line (vmm/cmdline.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "cmdline.h"
#include "config.h"
#include "ready_guest.h"

/* What relay() would send for `msg`, or "<NUL>"/"<SIZE>" for a refusal. */
static const char *relayed(const char *msg, size_t len)
{
	static char out[READY_STATUS_MAX + 64];
	struct ready_msg m;
	int ret = ready_parse(msg, len, &m);

	if (ret == -EINVAL)
		return "<NUL>";
	if (ret == -EMSGSIZE)
		return "<SIZE>";
	assert_int_equal(ret, 0);
	ready_format(&m, out, sizeof(out));
	return out;
}

#define RELAYED(lit) relayed(lit, sizeof(lit) - 1)
#define RELAYED_ARGS(lit) lit, sizeof(lit) - 1

static void test_parse(void **state __attribute__((unused)))
{
	struct ready_msg m;

	/* What systemd's PID 1 sends at the end of its boot. */
	assert_string_equal(RELAYED("READY=1\nSTATUS=Ready."), "READY=1\nSTATUS=Ready.");
	/* Several assignments, with and without a trailing newline, \r too. */
	assert_string_equal(RELAYED("STATUS=a\nREADY=1\n"), "READY=1\nSTATUS=a");
	assert_string_equal(RELAYED("STATUS=a\r\nSTOPPING=1\r\n\n"), "STOPPING=1\nSTATUS=a");
	assert_string_equal(RELAYED("READY=1"), "READY=1");
	/* The last STATUS counts, as in systemd. */
	assert_string_equal(RELAYED("STATUS=one\nSTATUS=two"), "STATUS=two");
	assert_string_equal(RELAYED("STATUS="), "STATUS=");
	/* Only READY=1 is readiness; STOPPING likewise. */
	assert_string_equal(RELAYED("READY=0"), "");
	assert_string_equal(RELAYED("READY=1x\nREADY= 1\nready=1\nSTOPPING=0"), "");
	/* Unknown assignments are ignored and counted; the first is named. */
	assert_int_equal(ready_parse(RELAYED_ARGS("X_SYSTEMD_UNIT_ACTIVE=basic.target\n"
						  "EXIT_STATUS=0\nREADY=1"), &m), 0);
	assert_true(m.ready);
	assert_int_equal(m.ignored, 2);
	assert_int_equal(m.first_ignored_len, strlen("X_SYSTEMD_UNIT_ACTIVE=basic.target"));
	assert_memory_equal(m.first_ignored, "X_SYSTEMD_UNIT_ACTIVE=", 22);
	assert_string_equal(RELAYED("X_SYSTEMD_SHUTDOWN=poweroff\nEXIT_STATUS=0"), "");
	assert_string_equal(RELAYED(""), "");
	assert_string_equal(RELAYED("\n\n"), "");
	/* A NUL byte anywhere refuses the whole message. */
	assert_string_equal(RELAYED("READY=1\0"), "<NUL>");
	assert_string_equal(RELAYED("STATUS=a\0b\nREADY=1"), "<NUL>");
}

static void test_limits(void **state __attribute__((unused)))
{
	char big[READY_MSG_MAX + 2], want[READY_STATUS_MAX + 16];
	const char *out;

	/* READY_MSG_MAX bytes are a message; one more is not. */
	memset(big, 'x', sizeof(big));
	memcpy(big, "READY=1\nSTATUS=", 15);
	out = relayed(big, READY_MSG_MAX);
	/* STATUS is cut at READY_STATUS_MAX bytes. */
	memcpy(want, "READY=1\nSTATUS=", 15);
	memset(want + 15, 'x', READY_STATUS_MAX);
	want[15 + READY_STATUS_MAX] = '\0';
	assert_string_equal(out, want);
	assert_string_equal(relayed(big, READY_MSG_MAX + 1), "<SIZE>");
	/* Control characters and bytes past ASCII become '?'. */
	assert_string_equal(RELAYED("STATUS=a\tb\x1b[31m\xc3\xa9"), "STATUS=a?b?[31m??");
	/* A short buffer: whole assignments or none. */
	{
		struct ready_msg m;
		char small[12];

		assert_int_equal(ready_parse("READY=1\nSTOPPING=1", 18, &m), 0);
		assert_int_equal(ready_format(&m, small, sizeof(small)), 7);
		assert_string_equal(small, "READY=1");
	}
}

/* ---- the listener ---- */

static char sockdir[64], sockpath[96];
static char got[8][READY_STATUS_MAX + 64];
static unsigned ngot;

static void relay(void *ctx, const struct ready_msg *m)
{
	assert_ptr_equal(ctx, &ngot);
	assert_true(ngot < 8);
	ready_format(m, got[ngot++], sizeof(got[0]));
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Runs the listener until `fd`, a client, sees vmm's end of the connection. */
static void serve_until_closed(struct ready_guest *rg, int fd)
{
	char c;

	for (int i = 0; i < 100; i++) {
		ready_guest_process(rg, relay, &ngot);
		if (recv(fd, &c, 1, MSG_DONTWAIT) == 0)
			return;
		usleep(10000);
	}
	fail_msg("vmm did not close the connection");
}

static void test_listener(void **state __attribute__((unused)))
{
	const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	struct ready_guest *rg;
	struct stat st;
	char big[READY_MSG_MAX + 100];
	int fd, fd2;

	snprintf(sockdir, sizeof(sockdir), "%s/vmm-test-ready-XXXXXX", base);
	assert_non_null(mkdtemp(sockdir));
	snprintf(sockpath, sizeof(sockpath), "%s/t.vsock_8888", sockdir);
	/* A stale socket is replaced; a file that is not one is refused. */
	fd = open(sockpath, O_CREAT | O_WRONLY | O_CLOEXEC, 0600);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(ready_guest_open(sockpath, (uid_t)-1, (gid_t)-1, 0, &rg), -EEXIST);
	unlink(sockpath);
	assert_int_equal(ready_guest_open(sockpath, (uid_t)-1, (gid_t)-1, 0, &rg), 0);
	assert_int_equal(stat(sockpath, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	/* In use: refused, and the first listener keeps its socket. */
	{
		struct ready_guest *rg2;

		assert_int_equal(ready_guest_open(sockpath, (uid_t)-1, (gid_t)-1, 0, &rg2),
				 -EADDRINUSE);
	}

	/* systemd's vsock-stream sender: connect, send, shutdown(SHUT_WR), then
	 * wait for EOF. vmm relays and closes. */
	ngot = 0;
	fd = connect_to(sockpath);
	assert_int_equal(send(fd, "READY=1\nSTATUS=Ready.", 21, 0), 21);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	serve_until_closed(rg, fd);
	close(fd);
	assert_int_equal(ngot, 1);
	assert_string_equal(got[0], "READY=1\nSTATUS=Ready.");

	/* Sent in pieces, ended by close: one message. */
	fd = connect_to(sockpath);
	fd2 = connect_to(sockpath);	/* a second client at the same time */
	assert_int_equal(send(fd, "STATUS=x", 8, 0), 8);
	ready_guest_process(rg, relay, &ngot);
	ready_guest_process(rg, relay, &ngot);
	assert_int_equal(ngot, 1);	/* nothing before the end */
	assert_int_equal(send(fd, "y\nSTOPPING=1", 12, 0), 12);
	assert_int_equal(send(fd2, "STATUS=second", 13, 0), 13);
	assert_int_equal(shutdown(fd, SHUT_WR), 0);
	serve_until_closed(rg, fd);
	close(fd);
	assert_int_equal(ngot, 2);
	assert_string_equal(got[1], "STOPPING=1\nSTATUS=xy");
	assert_int_equal(shutdown(fd2, SHUT_WR), 0);
	serve_until_closed(rg, fd2);
	close(fd2);
	assert_int_equal(ngot, 3);
	assert_string_equal(got[2], "STATUS=second");

	/* Too long: hung up on, nothing relayed. */
	memset(big, 'x', sizeof(big));
	memcpy(big, "READY=1\n", 8);
	fd = connect_to(sockpath);
	assert_int_equal(send(fd, big, sizeof(big), 0), (ssize_t)sizeof(big));
	serve_until_closed(rg, fd);
	close(fd);
	assert_int_equal(ngot, 3);

	/* Closed: the socket is gone. */
	ready_guest_close(rg);
	assert_int_equal(stat(sockpath, &st), -1);
	assert_int_equal(rmdir(sockdir), 0);
}

/* ---- the credential ---- */

static void test_cmdline(void **state __attribute__((unused)))
{
	struct vm_config cfg = { .ready = READY_GUEST, .ready_port = 8888, .vsock_cid = 3 };
	char *s;

	cfg.cmdline = "console=ttyS0 quiet";
	s = config_kernel_cmdline(&cfg);
	assert_string_equal(s, "console=ttyS0 quiet "
			    "systemd.set_credential=vmm.notify_socket:vsock-stream:2:8888");
	free(s);
	/* Before "--": what follows goes to init. */
	cfg.cmdline = "console=ttyS0 -- single";
	cfg.ready_port = 1;
	s = config_kernel_cmdline(&cfg);
	assert_string_equal(s, "console=ttyS0 "
			    "systemd.set_credential=vmm.notify_socket:vsock-stream:2:1 -- single");
	free(s);
	cfg.cmdline = "";
	s = config_kernel_cmdline(&cfg);
	assert_string_equal(s, "systemd.set_credential=vmm.notify_socket:vsock-stream:2:1");
	free(s);
	/* Another ready, or no vsock: nothing added. */
	cfg.ready = READY_USERSPACE;
	cfg.cmdline = "console=ttyS0";
	s = config_kernel_cmdline(&cfg);
	assert_string_equal(s, "console=ttyS0");
	free(s);

	assert_true(config_cmdline_sets_notify_socket(
		"a systemd.set_credential=vmm.notify_socket:vsock:2:1 b"));
	assert_true(config_cmdline_sets_notify_socket(
		"systemd.set_credential_binary=vmm.notify_socket:dnNvY2s="));
	assert_false(config_cmdline_sets_notify_socket(
		"systemd.set_credential=other:x -- systemd.set_credential=vmm.notify_socket:x"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test(test_limits),
		cmocka_unit_test(test_listener),
		cmocka_unit_test(test_cmdline),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
