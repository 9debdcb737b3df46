/* sd_notify on the control thread: readiness, status, watchdog, stopping. */
#include "notify.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>

static void send_state(struct notify *n, const char *state)
{
	char status[200] = "";
	int ret;

	if (n->status)
		n->status(n->ctx, status, sizeof(status));
	ret = sd_notifyf(0, "%s%sSTATUS=%s", state, state[0] ? "\n" : "", status);
	if (ret < 0)
		log_ratelimited(LOGL_WARN, loop_clock_ns(), "sd_notify: %s", strerror(-ret));
}

static void on_timer(struct loop_timer *t)
{
	struct notify *n = container_of(t, struct notify, timer);

	send_state(n, n->watchdog ? "WATCHDOG=1" : "");
	t->deadline_ns = n->loop->now_ns + n->interval_ns;
}

int notify_init(struct notify *n, struct loop *loop, notify_status_fn status, void *ctx)
{
	uint64_t usec = 0;
	int ret;

	*n = (struct notify){ .loop = loop, .status = status, .ctx = ctx, .timer.fire = on_timer,
			      .interval_ns = NOTIFY_STATUS_INTERVAL_NS };
	n->enabled = getenv("NOTIFY_SOCKET") != NULL;
	if (!n->enabled)
		return 0;
	ret = sd_watchdog_enabled(0, &usec);
	if (ret > 0 && usec) {
		n->watchdog = true;
		if (usec * 1000 / 2 < n->interval_ns)
			n->interval_ns = usec * 1000 / 2;
		log_info("systemd watchdog: a ping every %llu ms",
			 (unsigned long long)(n->interval_ns / 1000000));
	}
	return loop_add_timer(loop, &n->timer);
}

void notify_ready(struct notify *n)
{
	if (!n->enabled)
		return;
	send_state(n, "READY=1");
	n->timer.deadline_ns = loop_clock_ns() + n->interval_ns;
}

void notify_stopping(struct notify *n)
{
	if (n->enabled)
		sd_notify(0, "STOPPING=1");
}
