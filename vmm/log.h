/* Logging to stderr with the "<N>" level prefix that systemd-journald parses. */
#ifndef VMM_LOG_H
#define VMM_LOG_H

#include <stdarg.h>
#include <stddef.h>

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

#define log_err(...) vmm_log(LOG_LVL_ERR, __VA_ARGS__)
#define log_warn(...) vmm_log(LOG_LVL_WARN, __VA_ARGS__)
#define log_notice(...) vmm_log(LOG_LVL_NOTICE, __VA_ARGS__)
#define log_info(...) vmm_log(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...) vmm_log(LOG_LVL_DEBUG, __VA_ARGS__)

#endif
