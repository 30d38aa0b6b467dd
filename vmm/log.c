/* Log sink: one line per message on stderr, prefixed "<N>" when journald or a
 * pipe reads it and with a readable word when a person watches a terminal. */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
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
