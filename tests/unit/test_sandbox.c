/* Unit tests for vmm/sandbox.c's process launcher: it starts only programs
 * registered before sandbox_init, and a filtered thread that forges a
 * request (the old protocol carried a function pointer) gets -EINVAL and no
 * process. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "sandbox.h"

static const char marker[] = "launched";

/* The registered program: writes its argument to the fd it was given. */
static void say(const void *arg, int fd)
{
	const char *s = arg;

	if (write(fd, s, strlen(s)) < 0)
		_exit(1);
	_exit(0);
}

/* Never registered: a forged request must not reach it. */
static void evil(const void *arg, int fd)
{
	(void)arg;
	(void)fd;
	_exit(42);
}

static int prog_id = -1;

static int setup(void **state)
{
	prog_id = sandbox_register("say", say, marker);
	if (prog_id < 0)
		return -1;
	return sandbox_init(true);
}

static void test_registered_program_runs(void **state)
{
	int p[2], st = 0;
	char buf[32] = "";
	pid_t pid = -1;

	assert_int_equal(pipe(p), 0);
	assert_int_equal(sandbox_spawn(prog_id, p[1], &pid), 0);
	close(p[1]);
	assert_int_equal(read(p[0], buf, sizeof(buf) - 1), (ssize_t)strlen(marker));
	assert_string_equal(buf, marker);
	close(p[0]);
	/* vmm is the subreaper: the program is our child. */
	assert_int_equal(waitpid(pid, &st, 0), pid);
	assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}

static void test_table_fixed_after_init(void **state)
{
	pid_t pid = -1;

	assert_int_equal(sandbox_register("late", evil, NULL), -EBUSY);
	assert_int_equal(sandbox_spawn(prog_id + 1, -1, &pid), -EINVAL);
	assert_int_equal(sandbox_spawn(-1, -1, &pid), -EINVAL);
}

/* What a compromised vCPU thread can send on the launcher's socket, with its
 * filter loaded: the old request (function pointer and argument), an id out
 * of the table, a short message. Each must be answered -EINVAL. */
struct forged {
	int sent[3];
	pid_t reply[3];
	int filter;
};

static void *compromised(void *p)
{
	struct forged *f = p;
	int fd = sandbox_launcher_fd();
	struct { void (*fn)(const void *, int); const void *arg; } old = { evil, NULL };
	uint32_t bad_id = 1000;
	uint16_t short_msg = 0;
	const void *msgs[3] = { &old, &bad_id, &short_msg };
	size_t lens[3] = { sizeof(old), sizeof(bad_id), sizeof(short_msg) };

	f->filter = sandbox_enter(SANDBOX_VCPU);
	if (f->filter < 0)
		return NULL;
	for (int i = 0; i < 3; i++) {
		struct iovec iov = { (void *)msgs[i], lens[i] };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

		f->sent[i] = (int)sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (recv(fd, &f->reply[i], sizeof(f->reply[i]), 0) != sizeof(f->reply[i]))
			f->reply[i] = 0;
	}
	return NULL;
}

static void test_forged_requests_refused(void **state)
{
	struct forged f = { .filter = -1 };
	pthread_t t;
	int st;

	assert_true(sandbox_launcher_fd() >= 0);
	assert_int_equal(pthread_create(&t, NULL, compromised, &f), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(f.filter, 0);
	assert_int_equal(f.sent[0], 16);
	for (int i = 0; i < 3; i++)
		assert_int_equal(f.reply[i], -EINVAL);
	/* No process was started for any of them: `evil` would have exited at
	 * once and, orphaned into us (the subreaper), be waiting to be reaped.
	 * The only child left is the launcher itself, still running. */
	usleep(200 * 1000);
	assert_int_equal(waitpid(-1, &st, WNOHANG), 0);
	/* And the launcher still serves the real program. */
	test_registered_program_runs(state);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_registered_program_runs),
		cmocka_unit_test(test_table_fixed_after_init),
		cmocka_unit_test(test_forged_requests_refused),
	};

	return cmocka_run_group_tests(tests, setup, NULL);
}
