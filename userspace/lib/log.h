/* SPDX-License-Identifier: BSD-2-Clause */
/* log.h - the one logger: "<prog>: message" on stderr, filtered by level (-v / -q). */
#ifndef AICERT_LOG_H
#define AICERT_LOG_H

enum log_level {
	LOG_QUIET = -1, /* only errors */
	LOG_ERROR = 0,
	LOG_WARN = 1,
	LOG_INFO = 2,
	LOG_DEBUG = 3,
};

void log_init(const char *prog, int level);
int log_level(void);
void log_msg(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_err(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
