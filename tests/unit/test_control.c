/* The control socket: the request parser, and the server driven through a
 * real socket with a fake VM (its control_vm_ops record what was asked).
 * Garbage of every kind must get an error reply, never a crash, and never an
 * action on the VM. The console attach: replay, one client at a time, input
 * as fast as the guest takes it, a slow client skipped ahead, no idle
 * timeout. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "console_ring.h"
#include "control.h"

/* ---- the fake VM ---- */

enum fake_state { VM_STATE_STARTING, VM_STATE_RUNNING, VM_STATE_PAUSED, VM_STATE_STOPPING };

static enum fake_state state = VM_STATE_RUNNING;
static unsigned npause, nresume, nshutdown, nexit;

/* What `status` shows; the server gets a pointer to it as its `vm`. */
static struct fake_vm {
	uint64_t t_start_us;
	uint64_t t_first_run_us, t_userspace_ready_us;
} vm;

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static const char *fake_state_name(void *opaque)
{
	static const char *const names[] = { "starting", "running", "paused", "stopping" };

	assert_ptr_equal(opaque, &vm);
	return names[state];
}

static void fake_status(void *opaque, struct control_status *st)
{
	assert_ptr_equal(opaque, &vm);
	*st = (struct control_status){
		.name = "fake", .state = fake_state_name(opaque), .vcpus = 2,
		.memory_mib = 128, .uptime_s = (now_us() - vm.t_start_us) / 1000000u,
		.first_kvm_run_us = vm.t_first_run_us,
		.userspace_ready_us = vm.t_userspace_ready_us,
	};
}

static int fake_pause(void *opaque)
{
	assert_ptr_equal(opaque, &vm);
	npause++;
	if (state == VM_STATE_STOPPING)
		return -EBUSY;
	state = VM_STATE_PAUSED;
	return 0;
}

static int fake_resume(void *opaque)
{
	assert_ptr_equal(opaque, &vm);
	nresume++;
	if (state == VM_STATE_STOPPING)
		return -EBUSY;
	state = VM_STATE_RUNNING;
	return 0;
}

static void fake_shutdown(void *opaque, const char *why)
{
	assert_ptr_equal(opaque, &vm);
	(void)why;
	nshutdown++;
	state = VM_STATE_STOPPING;
}

static void fake_kill(void *opaque, const char *why)
{
	assert_ptr_equal(opaque, &vm);
	(void)why;
	nexit++;
	state = VM_STATE_STOPPING;
}

/* A report longer than the old 1 KiB reply buffer: " qNNN=x..." words. */
#define QUEUES_WORDS 300
static size_t fake_describe_queues(void *opaque, char *buf, size_t len)
{
	size_t n = 0;

	assert_ptr_equal(opaque, &vm);
	for (unsigned i = 0; i < QUEUES_WORDS; i++) {
		int r = snprintf(buf + n, len - n, " q%03u=x", i);

		if (r < 0 || (size_t)r >= len - n)
			break;
		n += (size_t)r;
	}
	return n;
}

/* The fake VM's console: the real output ring, and a receive buffer that
 * takes `rx_room` more bytes (the test makes room and kicks the ring, as
 * the UART's rx_space does). */
static struct console_ring *ring;
static uint8_t rx[8192];
static size_t rx_len, rx_room;
static unsigned nattach, ndetach;

static void fake_console_attach(void *opaque, int fd)
{
	assert_ptr_equal(opaque, &vm);
	console_ring_set_notify(ring, fd);
	if (fd >= 0)
		nattach++;
	else
		ndetach++;
}

static size_t fake_console_read(void *opaque, uint64_t *pos, uint8_t *buf, size_t len,
				uint64_t *skipped)
{
	assert_ptr_equal(opaque, &vm);
	return console_ring_read(ring, pos, buf, len, skipped);
}

static size_t fake_console_write(void *opaque, const uint8_t *buf, size_t len)
{
	size_t n = len < rx_room ? len : rx_room;

	assert_ptr_equal(opaque, &vm);
	assert_true(rx_len + n <= sizeof(rx));
	memcpy(rx + rx_len, buf, n);
	rx_len += n;
	rx_room -= n;
	return n;
}

static const struct control_vm_ops fake_ops = {
	.status = fake_status, .state = fake_state_name, .pause = fake_pause,
	.resume = fake_resume, .shutdown = fake_shutdown, .kill = fake_kill,
	.describe_queues = fake_describe_queues, .console_attach = fake_console_attach,
	.console_read = fake_console_read, .console_write = fake_console_write,
};

/* What the server serves with: a test may take the console away. */
static const struct control_vm_ops *ops = &fake_ops;

/* ---- the parser ---- */

static uint64_t arg;	/* the last parse's argument */

static void parses(const char *line, enum control_cmd want)
{
	enum control_cmd cmd;
	char err[128];

	if (control_parse(line, strlen(line), &cmd, &arg, err, sizeof(err)) != 0)
		fail_msg("\"%s\": %s", line, err);
	assert_int_equal(cmd, want);
}

static void refused(const char *line, size_t len, const char *why)
{
	enum control_cmd cmd = CONTROL_HELP;
	char err[128] = "";

	assert_int_equal(control_parse(line, len, &cmd, &arg, err, sizeof(err)), -EINVAL);
	assert_int_equal(cmd, CONTROL_HELP);	/* untouched */
	if (!strstr(err, why))
		fail_msg("\"%s\" does not mention \"%s\"", err, why);
	for (const char *p = err; *p; p++)
		assert_true(*p >= 0x20 && *p < 0x7f);
}

static void test_parse(void **state_ __attribute__((unused)))
{
	char nul[] = { 's', 't', 'a', 't', 'u', 's', '\0', 'x' };
	char big[4096];

	parses("status", CONTROL_STATUS);
	parses("pause", CONTROL_PAUSE);
	parses("resume", CONTROL_RESUME);
	parses("shutdown", CONTROL_SHUTDOWN);
	parses("kill", CONTROL_KILL);
	parses("help", CONTROL_HELP);
	parses("queues", CONTROL_QUEUES);
	parses("console", CONTROL_CONSOLE);
	parses(" console\r", CONTROL_CONSOLE);
	parses("status\r", CONTROL_STATUS);		/* socat CRLF, telnet */
	parses("  \tstatus \t", CONTROL_STATUS);
	parses("balloon 128", CONTROL_BALLOON);
	assert_int_equal(arg, 128);
	parses(" balloon   0 \r", CONTROL_BALLOON);
	assert_int_equal(arg, 0);
	parses("balloon 16777216", CONTROL_BALLOON);
	assert_int_equal(arg, 16777216);
	refused("balloon", 7, "needs the target size in MiB");
	refused("balloon ", 8, "needs the target size in MiB");
	refused("balloon -1", 10, "not \"-1\"");
	refused("balloon 12M", 11, "not \"12M\"");
	refused("balloon 1 2", 11, "not \"1 2\"");
	refused("balloon 16777217", 16, "0 to 16777216");
	refused("balloon 99999999999999999999999", 31, "not \"");
	refused("status 1", 8, "takes no arguments");

	refused("", 0, "empty request");
	refused(" \t\r", 3, "empty request");
	refused("stat", 4, "unknown command \"stat\"");
	refused("statuses", 8, "unknown command");
	refused("STATUS", 6, "unknown command");
	refused("status now", 10, "takes no arguments");
	refused("kill -9", 7, "takes no arguments");
	refused("console vm1", 11, "\"console\" takes no arguments");
	refused("console -", 9, "takes no arguments");
	refused("consoles", 8, "unknown command");
	refused(nul, sizeof(nul), "not printable");
	refused("pause\x1b[2J", 9, "not printable");
	refused("\xff\xfe", 2, "0xff");
	memset(big, 'A', sizeof(big));
	refused(big, sizeof(big), "unknown command \"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA...\"");
	/* The length is the bound, not a NUL. */
	refused("killjoy", 4 + 1, "unknown command \"killj\"");
	parses("kill", CONTROL_KILL);
}

/* ---- the server through a real socket ---- */

static char dir[64], sock[128];
static struct control *ctl;

/* Runs the server until it has had nothing to do for `ms`. Unix sockets
 * deliver at once, so the tests' own requests need no more than 1 ms. */
static void serve_for(int ms)
{
	struct pollfd p = { .fd = control_fd(ctl), .events = POLLIN };

	while (poll(&p, 1, ms) > 0)
		control_process(ctl, ops, &vm);
}

static void serve(void)
{
	serve_for(1);
}

static int client(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	strcpy(sa.sun_path, sock);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void put(int fd, const void *buf, size_t len)
{
	assert_int_equal(send(fd, buf, len, MSG_NOSIGNAL), (ssize_t)len);
}

/* Everything the server sent to `fd` so far; "" when nothing. */
static char *replies(int fd)
{
	static char buf[8192];
	size_t got = 0;
	ssize_t n;

	serve();
	while ((n = recv(fd, buf + got, sizeof(buf) - 1 - got, MSG_DONTWAIT)) > 0)
		got += (size_t)n;
	buf[got] = '\0';
	return buf;
}

static bool hung_up(int fd)
{
	char c;

	serve();
	return recv(fd, &c, 1, MSG_DONTWAIT) == 0;
}

static int setup(void **state_ __attribute__((unused)))
{
	strcpy(dir, "/tmp/vmm-test-control-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(sock, sizeof(sock), "%s/run/fake.sock", dir);
	state = VM_STATE_RUNNING;
	npause = nresume = nshutdown = nexit = 0;
	vm.t_start_us = now_us();
	ops = &fake_ops;
	ring = console_ring_new();
	rx_len = 0;
	rx_room = 16;
	nattach = ndetach = 0;
	return ring ? control_open(sock, &ctl) : -1;
}

static int teardown(void **state_ __attribute__((unused)))
{
	char p[160];

	control_close(ctl);
	ctl = NULL;
	console_ring_free(ring);
	ring = NULL;
	snprintf(p, sizeof(p), "%s.lock", sock);
	unlink(p);
	unlink(sock);
	snprintf(p, sizeof(p), "%s/run", dir);
	rmdir(p);
	rmdir(dir);
	return 0;
}

static void test_socket_mode(void **state_ __attribute__((unused)))
{
	struct stat st;
	char p[160];

	assert_int_equal(stat(sock, &st), 0);
	assert_true(S_ISSOCK(st.st_mode));
	assert_int_equal(st.st_mode & 0777, 0600);
	snprintf(p, sizeof(p), "%s/run", dir);
	assert_int_equal(stat(p, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0700);
}

static void test_commands(void **state_ __attribute__((unused)))
{
	int fd = client();
	char want[256];

	put(fd, "status\n", 7);
	snprintf(want, sizeof(want), "ok name=fake state=running pid=%d vcpus=2 "
		 "memory_mib=128 uptime_s=0\n", (int)getpid());
	assert_string_equal(replies(fd), want);
	/* Boot phases appear once reached. */
	vm.t_first_run_us = 1500;
	vm.t_userspace_ready_us = 900000;
	put(fd, "status\n", 7);
	snprintf(want, sizeof(want), "ok name=fake state=running pid=%d vcpus=2 "
		 "memory_mib=128 uptime_s=0 boot_first_kvm_run_us=1500 "
		 "boot_userspace_ready_us=900000\n", (int)getpid());
	assert_string_equal(replies(fd), want);
	vm.t_first_run_us = 0;
	vm.t_userspace_ready_us = 0;
	/* Several requests in one write, CRLF too: one reply line each. */
	put(fd, "pause\npause\r\nstatus\nresume\n", 27);
	snprintf(want, sizeof(want), "ok state=paused\nok state=paused\nok name=fake "
		 "state=paused pid=%d vcpus=2 memory_mib=128 uptime_s=0\nok state=running\n",
		 (int)getpid());
	assert_string_equal(replies(fd), want);
	assert_int_equal(npause, 2);
	assert_int_equal(nresume, 1);
	/* A request split over writes is one request. */
	put(fd, "sh", 2);
	assert_string_equal(replies(fd), "");
	put(fd, "utdown\n", 7);
	assert_string_equal(replies(fd), "ok state=stopping\n");
	assert_int_equal(nshutdown, 1);
	put(fd, "pause\n", 6);
	assert_string_equal(replies(fd), "error the VM is stopping\n");
	put(fd, "kill\n", 5);
	assert_string_equal(replies(fd), "ok state=stopping\n");
	assert_int_equal(nexit, 1);
	close(fd);
}

static void test_garbage(void **state_ __attribute__((unused)))
{
	char line[CONTROL_LINE_MAX + 10];
	int fd = client();

	put(fd, "\n", 1);
	assert_string_equal(replies(fd), "error empty request; try \"help\"\n");
	put(fd, "reboot\n", 7);
	assert_string_equal(replies(fd), "error unknown command \"reboot\"; try \"help\"\n");
	put(fd, "kill\0\n", 6);
	assert_string_equal(replies(fd), "error request has a byte that is not printable "
			    "ASCII (0x00 at offset 4)\n");
	/* Still usable after errors. */
	put(fd, "help\n", 5);
	assert_string_equal(replies(fd),
			    "ok commands=status,pause,resume,shutdown,kill,queues,console,balloon,help\n");
	close(fd);

	/* The longest request that fits is answered... */
	fd = client();
	memset(line, ' ', CONTROL_LINE_MAX - 7);
	memcpy(line + CONTROL_LINE_MAX - 7, "status\n", 7);
	put(fd, line, CONTROL_LINE_MAX);
	assert_non_null(strstr(replies(fd), "ok name=fake"));
	close(fd);
	/* ... one byte more is an error, and the connection ends. */
	fd = client();
	memset(line, 'x', sizeof(line));
	put(fd, line, CONTROL_LINE_MAX);
	assert_string_equal(replies(fd), "error request longer than 255 bytes\n");
	assert_true(hung_up(fd));
	close(fd);

	/* Input ending in the middle of a request. */
	fd = client();
	put(fd, "stat", 4);
	shutdown(fd, SHUT_WR);
	assert_string_equal(replies(fd),
			    "error incomplete request: input ended without a newline\n");
	assert_true(hung_up(fd));
	close(fd);

	assert_int_equal(npause + nresume + nshutdown + nexit, 0);
	assert_int_equal(state, VM_STATE_RUNNING);
}

static void test_random_bytes(void **state_ __attribute__((unused)))
{
	unsigned seed = 12345;

	for (int round = 0; round < 300; round++) {
		char buf[700], *r, *line;
		int fd = client();
		size_t n = (size_t)rand_r(&seed) % sizeof(buf);

		for (size_t i = 0; i < n; i++) {
			buf[i] = (char)rand_r(&seed);
			/* keep clear of the valid words' first letters, so no
			 * random request can be a real command (`console`
			 * would make the rest guest input) */
			if (strchr("sprkhc", buf[i]))
				buf[i] = 'z';
		}
		put(fd, buf, n);
		shutdown(fd, SHUT_WR);
		r = replies(fd);
		/* Every reply is a whole error line. */
		for (line = r; *line; line = strchr(line, '\n') + 1) {
			assert_non_null(strchr(line, '\n'));
			assert_memory_equal(line, "error ", 6);
		}
		close(fd);
	}
	assert_int_equal(npause + nresume + nshutdown + nexit, 0);
}

static void test_many_clients(void **state_ __attribute__((unused)))
{
	int fds[CONTROL_CLIENTS_MAX + 4];
	char *r;

	for (unsigned i = 0; i < CONTROL_CLIENTS_MAX; i++)
		fds[i] = client();
	serve();
	for (unsigned i = CONTROL_CLIENTS_MAX; i < CONTROL_CLIENTS_MAX + 4; i++) {
		fds[i] = client();
		assert_string_equal(replies(fds[i]), "error too many clients; try again\n");
		assert_true(hung_up(fds[i]));
	}
	/* Those let in are served; a freed slot takes a new client. */
	put(fds[0], "status\n", 7);
	r = replies(fds[0]);
	assert_memory_equal(r, "ok name=fake", 12);
	close(fds[0]);
	serve();
	fds[0] = client();
	put(fds[0], "help\n", 5);
	assert_memory_equal(replies(fds[0]), "ok commands=", 12);
	for (unsigned i = 0; i < CONTROL_CLIENTS_MAX + 4; i++)
		close(fds[i]);
}

static void test_client_request(void **state_ __attribute__((unused)))
{
	char reply[CONTROL_REPLY_MAX];
	pid_t pid = fork();

	assert_true(pid >= 0);
	if (pid == 0) {
		/* The server in a child, so that the blocking client runs here. */
		for (int i = 0; i < 40; i++)
			serve_for(50);
		_exit(0);
	}
	assert_int_equal(control_request(sock, "status", reply, sizeof(reply), 2000), 0);
	assert_memory_equal(reply, "ok name=fake state=running", 26);
	assert_int_equal(control_request(sock, "bogus", reply, sizeof(reply), 2000), 1);
	assert_string_equal(reply, "error unknown command \"bogus\"; try \"help\"");
	/* The queues report arrives whole: every word, in order. */
	assert_int_equal(control_request(sock, "queues", reply, sizeof(reply), 2000), 0);
	assert_int_equal(strlen(reply), 2 + QUEUES_WORDS * 7);
	assert_memory_equal(reply, "ok q000=x q001=x", 16);
	assert_string_equal(reply + strlen(reply) - 7, " q299=x");
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
}

/* ---- console attach ---- */

#define ATTACHED "ok console=attached\n"
#define REFUSED "error the console is attached to another client; detach that one " \
	"first (Ctrl-] in `vmm ctl NAME console`)\n"

static void guest_says(const char *text)
{
	console_ring_put(ring, (const uint8_t *)text, strlen(text));
}

/* The guest drains its receive buffer: room for `n` more, and rx_space. */
static void guest_reads(size_t n)
{
	rx_room = n;
	console_ring_kick(ring);
}

/* Attach: the reply line, the ring replayed, then output as it comes; what
 * follows the request line, and every byte after, is input for the guest,
 * request words included. */
static void test_console(void **state_ __attribute__((unused)))
{
	int fd, other;

	guest_says("boot log\r\nlogin: ");
	fd = client();
	put(fd, "console\nro", 10);
	assert_string_equal(replies(fd), ATTACHED "boot log\r\nlogin: ");
	assert_int_equal(nattach, 1);
	assert_int_equal(rx_len, 2);
	assert_memory_equal(rx, "ro", 2);
	guest_says("ro");
	assert_string_equal(replies(fd), "ro");
	put(fd, "ot\r", 3);
	put(fd, "status\nkill\n", 12);
	assert_string_equal(replies(fd), "");
	assert_int_equal(rx_len, 16);
	assert_memory_equal(rx, "root\rstatus\nkill", 16);
	assert_int_equal(nexit, 0);	/* "kill\n" was typed, not asked */
	/* Requests on other connections are served meanwhile. */
	other = client();
	put(other, "status\n", 7);
	assert_memory_equal(replies(other), "ok name=fake state=running", 26);
	close(other);
	/* The guest took 16 bytes and no more: the rest waits for room. */
	assert_int_equal(rx_room, 0);
	guest_reads(16);
	assert_string_equal(replies(fd), "");
	assert_int_equal(rx_len, 17);
	assert_int_equal(rx[16], '\n');
	/* Detach: the VM hears of it; the next client attaches and gets the
	 * replay from the start again. */
	close(fd);
	serve();
	assert_int_equal(ndetach, 1);
	guest_says("# ");
	fd = client();
	put(fd, "console\n", 8);
	assert_string_equal(replies(fd), ATTACHED "boot log\r\nlogin: ro# ");
	assert_int_equal(nattach, 2);
	close(fd);
	serve();
	assert_int_equal(ndetach, 2);
}

/* One client at a time: a second one is refused with a line and closed,
 * the first one keeps the console. */
static void test_console_one_client(void **state_ __attribute__((unused)))
{
	int first = client(), second;

	put(first, "console\n", 8);
	assert_string_equal(replies(first), ATTACHED);
	second = client();
	put(second, "console\nls\r", 11);
	assert_string_equal(replies(second), REFUSED);
	assert_true(hung_up(second));
	close(second);
	assert_int_equal(rx_len, 0);	/* its "ls" went nowhere */
	assert_int_equal(nattach, 1);
	assert_int_equal(ndetach, 0);
	put(first, "x", 1);
	guest_says("x");
	assert_string_equal(replies(first), "x");
	assert_int_equal(rx_len, 1);
	/* Once the first one is gone, the console is free. */
	close(first);
	serve();
	second = client();
	put(second, "console\n", 8);
	assert_string_equal(replies(second), ATTACHED "x");
	close(second);
	serve();
	assert_int_equal(nattach, 2);
	assert_int_equal(ndetach, 2);
}

/* A VM without a console refuses, and closes the connection. */
static void test_console_none(void **state_ __attribute__((unused)))
{
	static const struct control_vm_ops no_console = {
		.status = fake_status, .state = fake_state_name, .pause = fake_pause,
		.resume = fake_resume, .shutdown = fake_shutdown, .kill = fake_kill,
		.describe_queues = fake_describe_queues,
	};
	int fd = client();

	ops = &no_console;
	put(fd, "console\n", 8);
	assert_string_equal(replies(fd), "error this VM has no console to attach to\n");
	assert_true(hung_up(fd));
	close(fd);
}

/* Input: no byte lost, none reordered, never more than the guest has room
 * for, while the client writes far more than the server buffers. */
static void test_console_input_flow(void **state_ __attribute__((unused)))
{
	uint8_t in[3000];
	int fd = client();

	for (size_t i = 0; i < sizeof(in); i++)
		in[i] = (uint8_t)(i * 13 + i / 256);
	rx_room = 5;
	put(fd, "console\n", 8);
	put(fd, in, sizeof(in));
	assert_string_equal(replies(fd), ATTACHED);
	assert_int_equal(rx_len, 5);
	for (int round = 0; round < 1000 && rx_len < sizeof(in); round++) {
		size_t before = rx_len;

		guest_reads(37);
		serve();
		assert_true(rx_len - before <= 37);
	}
	assert_int_equal(rx_len, sizeof(in));
	assert_memory_equal(rx, in, sizeof(in));
	close(fd);
}

/* Byte i of the slow-client test's output: never '[' or '\r'. */
static uint8_t pattern(uint64_t i)
{
	return (uint8_t)('a' + i % 23);
}

/* A client that does not read: the guest's output goes on (the ring only
 * keeps 64 KiB); once it reads again it gets a notice of how much it
 * missed, then the output from the oldest byte kept: every byte either
 * arrives in order or is counted in a notice. */
static void test_console_slow_client(void **state_ __attribute__((unused)))
{
	static const char note[] = "\r\n[vmm: ";
	static uint8_t got[4 << 20];
	const uint64_t total = 3 << 20;
	uint64_t expect = 0, skipped_total = 0;
	unsigned notices = 0;
	uint8_t chunk[4096];
	size_t n = 0, k;
	int fd = client(), rcvbuf = 4096, quiet = 0;

	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)), 0);
	put(fd, "console\n", 8);
	serve();
	for (uint64_t i = 0; i < total; i += sizeof(chunk)) {
		for (size_t j = 0; j < sizeof(chunk); j++)
			chunk[j] = pattern(i + j);
		console_ring_put(ring, chunk, sizeof(chunk));
		serve();
	}
	while (quiet < 20) {
		ssize_t r = recv(fd, got + n, sizeof(got) - n, MSG_DONTWAIT);

		if (r > 0) {
			n += (size_t)r;
			quiet = 0;
		} else {
			quiet++;
		}
		serve();
	}
	assert_true(n > strlen(ATTACHED));
	assert_memory_equal(got, ATTACHED, strlen(ATTACHED));
	for (k = strlen(ATTACHED); k < n;) {
		if (n - k >= sizeof(note) - 1 && !memcmp(got + k, note, sizeof(note) - 1)) {
			char *end;
			unsigned long long skipped = strtoull((char *)got + k + 8, &end, 10);
			const char *rest = " bytes of console output skipped: this client "
					   "read too slowly]\r\n";

			assert_memory_equal(end, rest, strlen(rest));
			assert_true(skipped > 0);
			expect += skipped;
			skipped_total += skipped;
			notices++;
			k = (size_t)((uint8_t *)end - got) + strlen(rest);
			continue;
		}
		if (got[k] != pattern(expect))
			fail_msg("byte %zu of the stream: '%c', expected output byte %llu '%c'",
				 k, got[k], (unsigned long long)expect, pattern(expect));
		expect++;
		k++;
	}
	assert_int_equal(expect, total);	/* up to the last byte, nothing lost unsaid */
	assert_true(notices >= 1);
	assert_true(skipped_total >= total - 2 * CONSOLE_RING_SIZE - (1 << 20));
	close(fd);
}

/* CONTROL_IDLE_S closes a silent request client, not an attached console. */
static void test_console_not_idle(void **state_ __attribute__((unused)))
{
	int fd = client(), idle = client();
	uint64_t until = now_us() + (CONTROL_IDLE_S + 2) * 1000000ull;

	put(fd, "console\n", 8);
	assert_string_equal(replies(fd), ATTACHED);
	while (now_us() < until)
		serve_for(200);
	assert_string_equal(replies(idle), "error idle for 10 s; closing\n");
	assert_true(hung_up(idle));
	guest_says("still here");
	assert_string_equal(replies(fd), "still here");
	assert_int_equal(ndetach, 0);
	close(idle);
	close(fd);
}

/* A second server on the same path is refused; a dead socket is replaced;
 * a file that is not a socket is left alone. */
static void test_ownership(void **state_ __attribute__((unused)))
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	struct control *other = NULL;
	char path[160];
	int fd;

	assert_int_equal(control_open(sock, &other), -EADDRINUSE);
	assert_null(other);
	assert_int_equal(access(sock, F_OK), 0);	/* not removed */

	snprintf(path, sizeof(path), "%s/stale.sock", dir);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	strcpy(sa.sun_path, path);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	close(fd);	/* left behind, nobody listening */
	assert_int_equal(control_open(path, &other), 0);
	control_close(other);
	assert_int_equal(access(path, F_OK), -1);	/* removed on close */

	snprintf(path, sizeof(path), "%s/file.sock", dir);
	close(open(path, O_CREAT | O_WRONLY, 0600));
	assert_int_equal(control_open(path, &other), -EEXIST);
	assert_int_equal(access(path, F_OK), 0);
	unlink(path);
	snprintf(path, sizeof(path), "%s/stale.sock.lock", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/file.sock.lock", dir);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse),
		cmocka_unit_test_setup_teardown(test_socket_mode, setup, teardown),
		cmocka_unit_test_setup_teardown(test_commands, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage, setup, teardown),
		cmocka_unit_test_setup_teardown(test_random_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(test_many_clients, setup, teardown),
		cmocka_unit_test_setup_teardown(test_client_request, setup, teardown),
		cmocka_unit_test_setup_teardown(test_ownership, setup, teardown),
		cmocka_unit_test_setup_teardown(test_console, setup, teardown),
		cmocka_unit_test_setup_teardown(test_console_one_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_console_none, setup, teardown),
		cmocka_unit_test_setup_teardown(test_console_input_flow, setup, teardown),
		cmocka_unit_test_setup_teardown(test_console_slow_client, setup, teardown),
		cmocka_unit_test_setup_teardown(test_console_not_idle, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
