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
 *   timestamp: rss-KIND K kB            (that Rss by kind: text-libs (the binary, shared
 *                                        libraries, vDSO), heap ([heap], malloc arenas),
 *                                        stacks (the main one, each thread's), io-uring
 *                                        (rings and SQEs), other (all else: kvm_run,
 *                                        buffers, .bss))
 *   timestamp: private-minus-guest K kB (Private_Clean + Private_Dirty: pages no other
 *                                        process maps; what one more VM costs)
 *   timestamp: pss-minus-guest K kB     (Pss: shared pages divided among their users)
 *   timestamp: rss-total K kB
 *   timestamp: guest-mapping found|not-found
 *   timestamp: vmhwm K kB
 *   timestamp: exit CODE | timestamp: signal SIG | timestamp: timeout after SEC s
 * It exits with the command's code (128+SIG when killed by a signal, 124 on --timeout).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memmem, pipe2 */
#endif
#include <dirent.h>
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

/* Where the memory outside the guest RAM is: each mapping's Rss goes to one of these. */
enum mem_kind { MEM_TEXT_LIBS, MEM_HEAP, MEM_STACKS, MEM_IO_URING, MEM_OTHER, MEM_KINDS };
static const char *const mem_kind_name[MEM_KINDS] = {
	[MEM_TEXT_LIBS] = "text-libs", [MEM_HEAP] = "heap", [MEM_STACKS] = "stacks",
	[MEM_IO_URING] = "io-uring", [MEM_OTHER] = "other",
};

struct mapping {
	uint64_t lo, hi, size_kb, rss_kb, pss_kb, private_kb;
	char perm[5];
	char name[96];
};

struct mem_sample {
	uint64_t total_kb, minus_kb;		/* Rss: all, all but the guest RAM */
	uint64_t pss_kb, private_kb;		/* Pss, Private_*, all but the guest RAM */
	uint64_t kind_kb[MEM_KINDS];		/* the Rss of minus_kb by kind */
	bool found;
};

#define MAX_THREADS 256
#define MAX_MAPPINGS 4096

/* The stack pointers of PID's threads (from /proc/PID/task/TID/syscall, which holds
 * "NR ARGS... SP PC" while the thread sleeps in a system call, "-1 SP PC" when it
 * does not, "running" while it runs: read again then); returns how many. */
static unsigned thread_sps(pid_t pid, uint64_t *sps, unsigned max)
{
	char path[96], line[256];
	unsigned n = 0;
	DIR *d;
	struct dirent *e;

	snprintf(path, sizeof(path), "/proc/%d/task", (int)pid);
	d = opendir(path);
	if (!d)
		return 0;
	while ((e = readdir(d)) && n < max) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/proc/%d/task/%.16s/syscall", (int)pid, e->d_name);
		for (int tries = 0; tries < 100; tries++) {
			FILE *f = fopen(path, "re");
			char *tok, *save = NULL, *prev = NULL, *last = NULL;
			bool got = false;

			if (!f)
				break;
			got = fgets(line, sizeof(line), f) != NULL;
			fclose(f);
			if (!got)
				break;
			if (!strncmp(line, "running", 7)) {
				usleep(1000);
				continue;
			}
			for (tok = strtok_r(line, " \n", &save); tok; tok = strtok_r(NULL, " \n", &save)) {
				prev = last;
				last = tok;
			}
			if (prev)
				sps[n++] = strtoull(prev, NULL, 16);
			break;
		}
	}
	closedir(d);
	return n;
}

/* A glibc malloc arena: anonymous, read-write, on a 64 MiB boundary (HEAP_MAX_SIZE),
 * the rest of its reservation right above it without access. */
static bool is_arena(const struct mapping *m, const struct mapping *next)
{
	return !m->name[0] && !strcmp(m->perm, "rw-p") && !(m->lo & ((64ull << 20) - 1)) &&
	       next && next->lo == m->hi && !next->name[0] && !strcmp(next->perm, "---p");
}

static enum mem_kind classify(const struct mapping *m, const struct mapping *next,
			      const uint64_t *sps, unsigned nsps)
{
	/* Files (the binary, shared libraries) and the kernel's vDSO: code and its data. */
	if (m->name[0] == '/' || !strcmp(m->name, "[vdso]") || !strcmp(m->name, "[vvar]"))
		return MEM_TEXT_LIBS;
	if (!strcmp(m->name, "[heap]") || is_arena(m, next))
		return MEM_HEAP;
	if (!strcmp(m->name, "[stack]"))
		return MEM_STACKS;
	for (unsigned i = 0; i < nsps; i++)
		if (sps[i] >= m->lo && sps[i] < m->hi)
			return MEM_STACKS;
	if (strstr(m->name, "io_uring"))
		return MEM_IO_URING;
	return MEM_OTHER;
}

/* Reads /proc/PID/smaps: the Rss of every mapping, and again without the first mapping
 * whose Size is exactly guest_kb (the guest RAM; s->found says whether there was one),
 * that by kind, and its Pss and private (this process's alone) part. */
static int sample_smaps(pid_t pid, uint64_t guest_kb, struct mem_sample *s)
{
	static struct mapping maps[MAX_MAPPINGS];
	uint64_t sps[MAX_THREADS], val;
	char path[64], line[512];
	unsigned n = 0, nsps;
	struct mapping *cur = NULL;
	FILE *f;

	memset(s, 0, sizeof(*s));
	nsps = thread_sps(pid, sps, MAX_THREADS);
	snprintf(path, sizeof(path), "/proc/%d/smaps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f)) {
		unsigned long long lo, hi;
		char perm[5];
		int name_at = 0;

		if (sscanf(line, "%llx-%llx %4s %*s %*s %*s %n", &lo, &hi, perm, &name_at) == 3 &&
		    name_at > 0) {
			cur = n < MAX_MAPPINGS ? &maps[n++] : NULL;
			if (cur) {
				memset(cur, 0, sizeof(*cur));
				cur->lo = lo;
				cur->hi = hi;
				memcpy(cur->perm, perm, sizeof(perm));
				snprintf(cur->name, sizeof(cur->name), "%s", line + name_at);
				cur->name[strcspn(cur->name, "\n")] = 0;
			}
		} else if (!cur) {
			continue;
		} else if (sscanf(line, "Size: %" SCNu64 " kB", &val) == 1) {
			cur->size_kb = val;
		} else if (sscanf(line, "Rss: %" SCNu64 " kB", &val) == 1) {
			cur->rss_kb = val;
		} else if (sscanf(line, "Pss: %" SCNu64 " kB", &val) == 1) {
			cur->pss_kb = val;
		} else if (sscanf(line, "Private_Clean: %" SCNu64 " kB", &val) == 1 ||
			   sscanf(line, "Private_Dirty: %" SCNu64 " kB", &val) == 1) {
			cur->private_kb += val;
		}
	}
	fclose(f);
	for (unsigned i = 0; i < n; i++) {
		const struct mapping *m = &maps[i];

		s->total_kb += m->rss_kb;
		if (guest_kb && !s->found && m->size_kb == guest_kb) {
			s->found = true;
			continue;
		}
		s->minus_kb += m->rss_kb;
		s->pss_kb += m->pss_kb;
		s->private_kb += m->private_kb;
		s->kind_kb[classify(m, i + 1 < n ? &maps[i + 1] : NULL, sps, nsps)] += m->rss_kb;
	}
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
	struct mem_sample s;
	uint64_t hwm;
	int ret;

	ret = sample_smaps(pid, guest_mib * 1024, &s);
	if (ret) {
		printf("timestamp: cannot read /proc/%d/smaps: %s\n", (int)pid, strerror(-ret));
	} else {
		printf("timestamp: rss-minus-guest %" PRIu64 " kB\n", s.minus_kb);
		for (int k = 0; k < MEM_KINDS; k++)
			printf("timestamp: rss-%s %" PRIu64 " kB\n", mem_kind_name[k], s.kind_kb[k]);
		printf("timestamp: private-minus-guest %" PRIu64 " kB\n", s.private_kb);
		printf("timestamp: pss-minus-guest %" PRIu64 " kB\n", s.pss_kb);
		printf("timestamp: rss-total %" PRIu64 " kB\n", s.total_kb);
		if (guest_mib)
			printf("timestamp: guest-mapping %s\n", s.found ? "found" : "not-found");
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
