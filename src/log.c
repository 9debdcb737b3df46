/* Levelled logging to stderr, or to the journal under systemd, with a rate limit for messages
 * on the packet path. */
#include "log.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <syslog.h>
#include <systemd/sd-journal.h>

enum log_level log_threshold = LOGL_INFO;

static const char *const level_names[] = { "error", "warning", "info", "debug" };

enum { RATELIMIT_BURST = 5, RATELIMIT_WINDOW_NS = 1000000000ull };

static const int priorities[] = { LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG };
static int to_journal;

/* systemd sets JOURNAL_STREAM to the device and inode of the stream it connected to stderr;
 * when stderr is still that stream, the journal gets each line with its priority. */
void log_init(void)
{
	const char *env = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;

	to_journal = env && sscanf(env, "%llu:%llu", &dev, &ino) == 2 && fstat(2, &st) == 0 &&
		     st.st_dev == dev && st.st_ino == ino;
}

static int journal_send(enum log_level level, const char *fmt, va_list ap)
{
	char text[1024];

	vsnprintf(text, sizeof(text), fmt, ap);
	return sd_journal_send("MESSAGE=%s", text, "PRIORITY=%d", priorities[level],
			       "SYSLOG_IDENTIFIER=myvpn", NULL);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;

	if (level > log_threshold)
		return;
	if (to_journal) {
		va_start(ap, fmt);
		if (journal_send(level, fmt, ap) >= 0) {
			va_end(ap);
			return;
		}
		va_end(ap); /* journald gone: stderr still reaches someone */
	}
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
