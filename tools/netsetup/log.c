/* netsetup's log sink, in place of vmm/log.c so that the shared config code
 * reports as "netsetup:" rather than "vmm:"; same "<N>" prefix rules. */
#include "log.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static enum log_level max_level = LOG_LVL_NOTICE;

void log_set_level(enum log_level max) { max_level = max; }
enum log_level log_get_level(void) { return max_level; }

void vmm_vlog(enum log_level lvl, const char *fmt, va_list ap)
{
	static int use_prefix = -1;
	char buf[1024];
	int n;

	if (lvl > max_level)
		return;
	/* journald parses "<N>"; a person at a terminal gets plain text. */
	if (use_prefix < 0)
		use_prefix = getenv("JOURNAL_STREAM") != NULL;
	if (use_prefix)
		n = snprintf(buf, sizeof(buf), "<%d>netsetup: ", (int)lvl);
	else
		n = snprintf(buf, sizeof(buf), "netsetup: %s", lvl <= LOG_LVL_ERR ? "error: " :
			     lvl == LOG_LVL_WARN ? "warning: " : "");
	if (n < 0)
		return;
	vsnprintf(buf + n, sizeof(buf) - (size_t)n - 1, fmt, ap);
	n = 0;
	while (buf[n] && n < (int)sizeof(buf) - 2)
		n++;
	buf[n++] = '\n';
	if (write(STDERR_FILENO, buf, (size_t)n) < 0) {
		/* Nothing sensible to do when stderr is gone. */
	}
}

void vmm_log(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vmm_vlog(lvl, fmt, ap);
	va_end(ap);
}
