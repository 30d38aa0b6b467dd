// SPDX-License-Identifier: GPL-2.0-only
/*
 * timestamp: runs a command and prefixes each line of its output with the microseconds
 * since the command was started; at the first line holding a marker it samples the
 * command's memory (Rss outside the guest RAM mapping, VmHWM). Used by the boot-time
 * integration test to compare vmm with QEMU.
 *
 *   timestamp [--marker STR] [--kill-at-marker] [--guest-mib N] [--timeout SEC] -- CMD ARGS...
 *
 * --kill-at-marker: SIGKILL the command once the marker was seen and measured (for a
 * time to an early marker without waiting for the rest of the run).
 *
 * Output (on stdout, line buffered):
 *   [+123456] <line>
 *   timestamp: marker at N us
 *   timestamp: rss-minus-guest K kB     (K = Rss of all mappings but one of N MiB)
 *   timestamp: rss-total K kB
 *   timestamp: guest-mapping found|not-found
 *   timestamp: vmhwm K kB
 *   timestamp: exit CODE | timestamp: signal SIG | timestamp: timeout after SEC s
 * It exits with the command's code (128+SIG when killed by a signal, 124 on --timeout).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem, pipe2 */
#endif
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t child_pid;

static void usage(FILE *f)
{
	fprintf(f, "Usage: timestamp [--marker STR] [--kill-at-marker] [--guest-mib N] [--timeout SEC]"
		" -- CMD ARGS...\n");
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* SIGTERM, SIGINT and SIGHUP go on to the command, so that stopping the wrapper stops
 * the VMM the way stopping the VMM itself would. */
static void forward_signal(int sig)
{
	if (child_pid > 0)
		kill((pid_t)child_pid, sig);
}

/* Sums the Rss of every mapping in /proc/PID/smaps, and again without the first mapping
 * whose Size is exactly guest_kb (the guest RAM); *found says whether there was one. */
static int sample_smaps(pid_t pid, uint64_t guest_kb, uint64_t *total_kb, uint64_t *minus_kb,
			bool *found)
{
	char path[64], line[512];
	uint64_t size = 0, val;
	bool excluding = false;
	FILE *f;

	*total_kb = *minus_kb = 0;
	*found = false;
	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "Size: %" SCNu64 " kB", &val) == 1) {
			size = val;
			/* Size comes before Rss within a mapping's block. */
			excluding = guest_kb && !*found && size == guest_kb;
			if (excluding)
				*found = true;
		} else if (sscanf(line, "Rss: %" SCNu64 " kB", &val) == 1) {
			*total_kb += val;
			if (!excluding)
				*minus_kb += val;
		}
	}
	fclose(f);
	return 0;
}

static int read_status_kb(pid_t pid, const char *field, uint64_t *kb)
{
	char path[64], line[256];
	size_t flen = strlen(field);
	FILE *f;
	int ret = -ENOENT;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, field, flen) && line[flen] == ':' &&
		    sscanf(line + flen + 1, " %" SCNu64, kb) == 1) {
			ret = 0;
			break;
		}
	}
	fclose(f);
	return ret;
}

static void report_memory(pid_t pid, uint64_t guest_mib)
{
	uint64_t total, minus, hwm;
	bool found;
	int ret;

	ret = sample_smaps(pid, guest_mib * 1024, &total, &minus, &found);
	if (ret) {
		printf("timestamp: cannot read /proc/%d/smaps: %s\n", (int)pid, strerror(-ret));
	} else {
		printf("timestamp: rss-minus-guest %" PRIu64 " kB\n", minus);
		printf("timestamp: rss-total %" PRIu64 " kB\n", total);
		if (guest_mib)
			printf("timestamp: guest-mapping %s\n", found ? "found" : "not-found");
	}
	if (read_status_kb(pid, "VmHWM", &hwm) == 0)
		printf("timestamp: vmhwm %" PRIu64 " kB\n", hwm);
	else
		printf("timestamp: cannot read VmHWM of %d\n", (int)pid);
}

struct line_state {
	char *buf;
	size_t len, cap;
	const char *marker;
	bool marker_seen, kill_at_marker;
	uint64_t t0;
	pid_t pid;
	uint64_t guest_mib;
};

static void emit_line(struct line_state *ls, uint64_t t)
{
	printf("[+%" PRIu64 "] %.*s\n", t - ls->t0, (int)ls->len, ls->buf);
}

/* Called with the line collected so far, complete or not, so that a marker is timed when
 * its bytes arrive (all bytes of one read share its arrival time). */
static void check_marker(struct line_state *ls, uint64_t t)
{
	if (!ls->marker || ls->marker_seen || !memmem(ls->buf, ls->len, ls->marker, strlen(ls->marker)))
		return;
	ls->marker_seen = true;
	printf("timestamp: marker at %" PRIu64 " us\n", t - ls->t0);
	report_memory(ls->pid, ls->guest_mib);
	if (ls->kill_at_marker) {
		printf("timestamp: killing %d at the marker\n", (int)ls->pid);
		kill(ls->pid, SIGKILL);
	}
}

static int feed(struct line_state *ls, const char *data, size_t n, uint64_t t)
{
	for (size_t i = 0; i < n; i++) {
		char c = data[i];

		if (c == '\n') {
			emit_line(ls, t);
			check_marker(ls, t);
			ls->len = 0;
			continue;
		}
		if (c == '\r')
			continue;
		if (ls->len + 1 >= ls->cap) {
			size_t cap = ls->cap ? ls->cap * 2 : 4096;
			char *nb = realloc(ls->buf, cap);

			if (!nb)
				return -ENOMEM;
			ls->buf = nb;
			ls->cap = cap;
		}
		ls->buf[ls->len++] = c;
	}
	/* A marker in an unfinished line (a prompt) counts too; the line follows later. */
	check_marker(ls, t);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv)
{
	struct line_state ls = { 0 };
	unsigned long timeout_s = 0;
	int pfd[2], status, argi;
	struct sigaction sa;
	char buf[65536];
	pid_t pid;

	for (argi = 1; argi < argc; argi++) {
		char *end;

		if (!strcmp(argv[argi], "--")) {
			argi++;
			break;
		} else if (!strcmp(argv[argi], "--marker") && argi + 1 < argc) {
			ls.marker = argv[++argi];
			if (!*ls.marker)
				ls.marker = NULL;
		} else if (!strcmp(argv[argi], "--kill-at-marker")) {
			ls.kill_at_marker = true;
		} else if (!strcmp(argv[argi], "--guest-mib") && argi + 1 < argc) {
			errno = 0;
			ls.guest_mib = strtoull(argv[++argi], &end, 10);
			if (errno || *end) {
				fprintf(stderr, "timestamp: bad --guest-mib '%s'\n", argv[argi]);
				return 2;
			}
		} else if (!strcmp(argv[argi], "--timeout") && argi + 1 < argc) {
			errno = 0;
			timeout_s = strtoul(argv[++argi], &end, 10);
			if (errno || *end) {
				fprintf(stderr, "timestamp: bad --timeout '%s'\n", argv[argi]);
				return 2;
			}
		} else if (!strcmp(argv[argi], "-h") || !strcmp(argv[argi], "--help")) {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (argi >= argc) {
		usage(stderr);
		return 2;
	}

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (pipe2(pfd, O_CLOEXEC)) {
		perror("timestamp: pipe");
		return 1;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = forward_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);

	ls.t0 = now_us();
	pid = fork();
	if (pid < 0) {
		perror("timestamp: fork");
		return 1;
	}
	if (pid == 0) {
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		if (dup2(pfd[1], STDOUT_FILENO) < 0 || dup2(pfd[1], STDERR_FILENO) < 0)
			_exit(127);
		execvp(argv[argi], &argv[argi]);
		fprintf(stderr, "timestamp: cannot run %s: %s\n", argv[argi], strerror(errno));
		_exit(127);
	}
	child_pid = pid;
	ls.pid = pid;
	close(pfd[1]);

	/* Read until every writer (the command and whatever it forked) closed the pipe. */
	for (;;) {
		struct pollfd p = { .fd = pfd[0], .events = POLLIN };
		int timeout_ms = -1;
		ssize_t n;

		if (timeout_s) {
			uint64_t elapsed = now_us() - ls.t0, limit = (uint64_t)timeout_s * 1000000u;

			if (elapsed >= limit) {
				printf("timestamp: timeout after %lu s, killing %d\n", timeout_s, (int)pid);
				kill(pid, SIGKILL);
				waitpid(pid, &status, 0);
				return 124;
			}
			timeout_ms = (int)((limit - elapsed) / 1000u) + 1;
		}
		n = poll(&p, 1, timeout_ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			continue;
		n = read(pfd[0], buf, sizeof(buf));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		if (feed(&ls, buf, (size_t)n, now_us())) {
			fprintf(stderr, "timestamp: out of memory\n");
			kill(pid, SIGKILL);
			return 1;
		}
	}
	if (ls.len)
		emit_line(&ls, now_us());
	close(pfd[0]);

	while (waitpid(pid, &status, 0) < 0) {
		if (errno != EINTR) {
			perror("timestamp: waitpid");
			return 1;
		}
	}
	if (ls.marker && !ls.marker_seen)
		printf("timestamp: marker not seen\n");
	if (WIFEXITED(status)) {
		printf("timestamp: exit %d\n", WEXITSTATUS(status));
		return WEXITSTATUS(status);
	}
	printf("timestamp: signal %d\n", WTERMSIG(status));
	return 128 + WTERMSIG(status);
}
