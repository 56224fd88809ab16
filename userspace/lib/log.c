// SPDX-License-Identifier: BSD-2-Clause
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

#include "lib/log.h"

static const char *log_prog = "aicert";
static int log_lvl = LOG_WARN;
static pthread_mutex_t log_lock = PTHREAD_MUTEX_INITIALIZER;

void log_init(const char *prog, int level)
{
	if (prog)
		log_prog = prog;
	log_lvl = level;
}

int log_level(void)
{
	return log_lvl;
}

void log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_lvl && level != LOG_ERROR)
		return;
	va_start(ap, fmt);
	/* one lock so lines from the drain thread and the hash workers never interleave */
	pthread_mutex_lock(&log_lock);
	fprintf(stderr, "%s: %s", log_prog, level == LOG_WARN ? "warning: " : "");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	pthread_mutex_unlock(&log_lock);
	va_end(ap);
}
