/* Levelled logging to stderr, with a rate limit for messages on the packet path. */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>

enum log_level log_threshold = LOGL_INFO;

static const char *const level_names[] = { "error", "warning", "info", "debug" };

enum { RATELIMIT_BURST = 5, RATELIMIT_WINDOW_NS = 1000000000ull };

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_threshold)
		return;
	flockfile(stderr); /* one line per message, whichever thread writes */
	fprintf(stderr, "myvpn: %s: ", level_names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	funlockfile(stderr);
}

/* Call sites on the packet path are shared by every worker: one lock for all of them is
 * enough, since only dropped packets with debug logging on come here often. */
static pthread_mutex_t ratelimit_lock = PTHREAD_MUTEX_INITIALIZER;

int log_ratelimit_allow(struct log_ratelimit *rl, uint64_t now_ns)
{
	unsigned int suppressed = 0;
	int allow = 0;

	pthread_mutex_lock(&ratelimit_lock);
	if (now_ns - rl->window_start_ns >= RATELIMIT_WINDOW_NS) {
		suppressed = rl->suppressed;
		rl->window_start_ns = now_ns;
		rl->printed = 0;
		rl->suppressed = 0;
	}
	if (rl->printed < RATELIMIT_BURST) {
		rl->printed++;
		allow = 1;
	} else {
		rl->suppressed++;
	}
	pthread_mutex_unlock(&ratelimit_lock);
	if (suppressed)
		log_msg(LOGL_WARN, "%u similar messages suppressed", suppressed);
	return allow;
}
