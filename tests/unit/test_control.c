/* The control socket: the request parser, and the server driven through a
 * real socket with a fake VM (its control_vm_ops record what was asked).
 * Garbage of every kind must get an error reply, never a crash, and never an
 * action on the VM. */
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

static const struct control_vm_ops fake_ops = {
	.status = fake_status, .state = fake_state_name, .pause = fake_pause,
	.resume = fake_resume, .shutdown = fake_shutdown, .kill = fake_kill,
	.describe_queues = fake_describe_queues,
};

/* ---- the parser ---- */

static void parses(const char *line, enum control_cmd want)
{
	enum control_cmd cmd;
	char err[128];

	assert_int_equal(control_parse(line, strlen(line), &cmd, err, sizeof(err)), 0);
	assert_int_equal(cmd, want);
}

static void refused(const char *line, size_t len, const char *why)
{
	enum control_cmd cmd = CONTROL_HELP;
	char err[128] = "";

	assert_int_equal(control_parse(line, len, &cmd, err, sizeof(err)), -EINVAL);
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
	parses("status\r", CONTROL_STATUS);		/* socat CRLF, telnet */
	parses("  \tstatus \t", CONTROL_STATUS);

	refused("", 0, "empty request");
	refused(" \t\r", 3, "empty request");
	refused("stat", 4, "unknown command \"stat\"");
	refused("statuses", 8, "unknown command");
	refused("STATUS", 6, "unknown command");
	refused("status now", 10, "takes no arguments");
	refused("kill -9", 7, "takes no arguments");
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
		control_process(ctl, &fake_ops, &vm);
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
	return control_open(sock, &ctl);
}

static int teardown(void **state_ __attribute__((unused)))
{
	char p[160];

	control_close(ctl);
	ctl = NULL;
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
			    "ok commands=status,pause,resume,shutdown,kill,queues,help\n");
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
			 * random request can be a real command */
			if (strchr("sprkh", buf[i]))
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
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
