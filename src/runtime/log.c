/* Logging to stderr; the threshold is process-wide and set once at demi_init. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum log_level log_threshold = LOG_WARN;

static const char *const level_names[] = {
	[LOG_ERROR] = "error", [LOG_WARN] = "warn", [LOG_INFO] = "info",
	[LOG_DEBUG] = "debug", [LOG_TRACE] = "trace",
};

int log_parse_level(const char *name)
{
	if (!name)
		return -1;
	for (int i = LOG_ERROR; i <= LOG_TRACE; i++)
		if (strcmp(name, level_names[i]) == 0)
			return i;
	if (strcmp(name, "warning") == 0)
		return LOG_WARN;
	return -1;
}

void log_init(const char *fallback)
{
	int lvl = log_parse_level(getenv("DEMI_LOG"));
	if (lvl < 0)
		lvl = log_parse_level(fallback);
	if (lvl > 0)
		log_threshold = (enum log_level)lvl;
}

void log_emit(enum log_level lvl, const char *file, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	const char *base = strrchr(file, '/');
	fprintf(stderr, "demi: %s: %s (%s:%d)\n", level_names[lvl], msg,
		base ? base + 1 : file, line);
}
