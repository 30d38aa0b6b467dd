/* Log sink: one line per message on stderr, prefixed "<N>" when journald or a
 * pipe reads it and with a readable word when a person watches a terminal. */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static enum log_level max_level = LOG_LVL_INFO;
static int use_prefix = -1;
static const char *log_ident = "vmm";

void log_set_ident(const char *ident) { log_ident = ident; }

void log_set_level(enum log_level max) { max_level = max; }
enum log_level log_get_level(void) { return max_level; }

static const char *level_word(enum log_level lvl)
{
	switch (lvl) {
	case LOG_LVL_ERR: return "error";
	case LOG_LVL_WARN: return "warning";
	case LOG_LVL_NOTICE: return "notice";
	case LOG_LVL_INFO: return "info";
	default: return "debug";
	}
}

/* Logging never changes errno: callers write `log_err("...: %m"); return
 * -errno;`, and %m must name the caller's errno, not one left by isatty or
 * write below. errno is saved first and restored before formatting and on
 * the way out. */
void vmm_vlog(enum log_level lvl, const char *fmt, va_list ap)
{
	int saved_errno = errno;
	char buf[1024];
	int n;

	if (lvl > max_level)
		return;
	if (use_prefix < 0)
		use_prefix = getenv("JOURNAL_STREAM") || !isatty(STDERR_FILENO);
	if (use_prefix)
		n = snprintf(buf, sizeof(buf), "<%d>%s: ", (int)lvl, log_ident);
	else
		n = snprintf(buf, sizeof(buf), "%s: %s: ", log_ident, level_word(lvl));
	if (n < 0) {
		errno = saved_errno;
		return;
	}
	errno = saved_errno;	/* for %m */
	vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	/* One write per line so vCPU threads never interleave mid-line. */
	n = 0;
	while (buf[n] && n < (int)sizeof(buf) - 2)
		n++;
	buf[n++] = '\n';
	if (write(STDERR_FILENO, buf, (size_t)n) < 0) {
		/* Nothing sensible to do when stderr is gone. */
	}
	errno = saved_errno;
}

void vmm_log(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmm_vlog(lvl, fmt, ap);
	va_end(ap);
}

size_t fmt_into(char *buf, size_t len, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (len == 0)
		return 0;
	va_start(ap, fmt);
	n = vsnprintf(buf, len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		buf[0] = '\0';
		return 0;
	}
	return (size_t)n < len ? (size_t)n : len - 1;
}

static pthread_mutex_t limit_lock = PTHREAD_MUTEX_INITIALIZER;

bool log_limit_pass(struct log_limit *l)
{
	int saved_errno = errno;
	struct timespec ts;
	unsigned long dropped = 0;
	uint64_t now;
	bool pass;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000 + 1;
	pthread_mutex_lock(&limit_lock);
	if (l->window_start_ms == 0 || now - l->window_start_ms >= l->interval_ms) {
		l->window_start_ms = now;
		l->passed = 0;
	}
	pass = l->passed < l->burst;
	if (pass) {
		l->passed++;
		dropped = l->dropped;
		l->dropped = 0;
	} else {
		l->dropped++;
	}
	pthread_mutex_unlock(&limit_lock);
	if (dropped)
		vmm_log(LOG_LVL_WARN, "%lu message(s) like the next were dropped (rate limit: "
			"%u per %u %s)", dropped, l->burst,
			l->interval_ms % 1000 ? l->interval_ms : l->interval_ms / 1000,
			l->interval_ms % 1000 ? "ms" : "s");
	errno = saved_errno;
	return pass;
}
