/* Levelled logging to stderr, with a rate limit for messages on the packet path. */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>

enum log_level log_threshold = LOG_INFO;

static const char *const level_names[] = { "error", "warning", "info", "debug" };

enum { RATELIMIT_BURST = 5, RATELIMIT_WINDOW_NS = 1000000000ull };

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_threshold)
		return;
	fprintf(stderr, "myvpn: %s: ", level_names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

int log_ratelimit_allow(struct log_ratelimit *rl, uint64_t now_ns)
{
	if (now_ns - rl->window_start_ns >= RATELIMIT_WINDOW_NS) {
		if (rl->suppressed)
			log_msg(LOG_WARN, "%u similar messages suppressed", rl->suppressed);
		rl->window_start_ns = now_ns;
		rl->printed = 0;
		rl->suppressed = 0;
	}
	if (rl->printed < RATELIMIT_BURST) {
		rl->printed++;
		return 1;
	}
	rl->suppressed++;
	return 0;
}
