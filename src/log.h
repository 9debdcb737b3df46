/* Levelled logging to stderr, with a rate limit for messages on the packet path. */
#ifndef MYVPN_LOG_H
#define MYVPN_LOG_H

#include <stdint.h>

/* LOGL_: <syslog.h> (which libsystemd pulls in) owns the LOG_ names. */
enum log_level { LOGL_ERROR, LOGL_WARN, LOGL_INFO, LOGL_DEBUG };

extern enum log_level log_threshold;

/* Under systemd (JOURNAL_STREAM names our stderr), log to the journal with a priority per
 * level and SYSLOG_IDENTIFIER=myvpn; otherwise to stderr. Call once at start-up. */
void log_init(void);
void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A token bucket per call site: a burst of a few lines, then about one per second. */
struct log_ratelimit {
	uint64_t window_start_ns;
	unsigned int printed;
	unsigned int suppressed;
};
int log_ratelimit_allow(struct log_ratelimit *rl, uint64_t now_ns);

#define log_error(...) log_msg(LOGL_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOGL_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOGL_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOGL_DEBUG, __VA_ARGS__)

/* For the packet path: never more than a handful of lines per second per call site. */
#define log_ratelimited(level, now_ns, ...)                                  \
	do {                                                                 \
		static struct log_ratelimit rl_;                             \
		if ((level) <= log_threshold && log_ratelimit_allow(&rl_, (now_ns))) \
			log_msg((level), __VA_ARGS__);                       \
	} while (0)

#endif
