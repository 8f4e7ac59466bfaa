/* Logging to stderr, with a level set by DEMI_LOG (error, warn, info, debug, trace). */
#ifndef DEMI_RUNTIME_LOG_H
#define DEMI_RUNTIME_LOG_H

enum log_level { LOG_ERROR = 1, LOG_WARN, LOG_INFO, LOG_DEBUG, LOG_TRACE };

/*
 * Hidden: the library's own code reads it straight (one compare with memory
 * per log site), not through the GOT; it never leaves libdemi.
 */
extern enum log_level log_threshold __attribute__((visibility("hidden")));

/* Parses a level name; returns the level or -1 if unknown. */
int log_parse_level(const char *name);
/* Sets the threshold from DEMI_LOG (or `fallback` when unset or unknown). */
void log_init(const char *fallback);
void log_emit(enum log_level lvl, const char *file, int line, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

#define LOG_AT(lvl, ...)                                                       \
	do {                                                                   \
		if (__builtin_expect((lvl) <= log_threshold, 0))               \
			log_emit((lvl), __FILE__, __LINE__, __VA_ARGS__);      \
	} while (0)
#define log_error(...) LOG_AT(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) LOG_AT(LOG_WARN, __VA_ARGS__)
#define log_info(...) LOG_AT(LOG_INFO, __VA_ARGS__)
#define log_debug(...) LOG_AT(LOG_DEBUG, __VA_ARGS__)
#define log_trace(...) LOG_AT(LOG_TRACE, __VA_ARGS__)

#endif
