/* Logging to stderr with the "<N>" level prefix that systemd-journald parses. */
#ifndef VMM_LOG_H
#define VMM_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum log_level {
	LOG_LVL_ERR = 3,
	LOG_LVL_WARN = 4,
	LOG_LVL_NOTICE = 5,
	LOG_LVL_INFO = 6,
	LOG_LVL_DEBUG = 7,
};

/* The program name every line starts with (default "vmm"); netsetup, which
 * shares the config loader, sets its own. */
void log_set_ident(const char *ident);

/* Messages above this level are dropped. Default LOG_LVL_INFO. */
void log_set_level(enum log_level max);
enum log_level log_get_level(void);

void vmm_log(enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void vmm_vlog(enum log_level lvl, const char *fmt, va_list ap);

/* snprintf into buf[len] that returns what it wrote, at most len - 1 bytes
 * (0 when len is 0 or on error): for reports built piece by piece. */
size_t fmt_into(char *buf, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Rate limits for messages a guest can trigger at will (a pvpanic write, a
 * broken queue, a refused feature): at most `burst` lines per `interval_ms`
 * from one call site, then silence until the interval ends; the next line
 * that passes is preceded by one saying how many were dropped. Thread-safe. */
struct log_limit {
	unsigned burst;
	unsigned interval_ms;
	uint64_t window_start_ms;	/* 0: no window yet */
	unsigned passed;		/* lines in this window */
	unsigned long dropped;		/* since the last line that passed */
};
#define LOG_LIMIT_BURST		5
#define LOG_LIMIT_INTERVAL_MS	60000
#define LOG_LIMIT_INIT { LOG_LIMIT_BURST, LOG_LIMIT_INTERVAL_MS, 0, 0, 0 }

/* True when the caller may log its line now (logging the "dropped" line
 * first when some were); false while the site is over its limit. */
bool log_limit_pass(struct log_limit *l);

/* log_*_limited: the same as log_*, at most LOG_LIMIT_BURST lines a minute
 * per call site. */
#define vmm_log_limited(lvl, ...)						\
	do {									\
		static struct log_limit log_limit_ = LOG_LIMIT_INIT;		\
		if (lvl <= log_get_level() && log_limit_pass(&log_limit_))	\
			vmm_log(lvl, __VA_ARGS__);				\
	} while (0)
#define log_err_limited(...) vmm_log_limited(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn_limited(...) vmm_log_limited(LOG_LVL_WARN, __VA_ARGS__)
#define log_notice_limited(...) vmm_log_limited(LOG_LVL_NOTICE, __VA_ARGS__)
#define log_info_limited(...) vmm_log_limited(LOG_LVL_INFO, __VA_ARGS__)

#define log_err(...) vmm_log(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) vmm_log(LOG_LVL_WARN, __VA_ARGS__)
#define log_notice(...) vmm_log(LOG_LVL_NOTICE, __VA_ARGS__)
#define log_info(...) vmm_log(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) vmm_log(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
