/* The event loop: epoll for fds, a short list of monotonic timers, one cached clock per turn. */
#include "loop.h"

#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

uint64_t loop_clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int loop_init(struct loop *loop)
{
	*loop = (struct loop){ .now_ns = loop_clock_ns(), .spin_ns = LOOP_SPIN_NS_DEFAULT };
	if (getenv("MYVPN_SPIN_US"))
		loop->spin_ns = strtoull(getenv("MYVPN_SPIN_US"), NULL, 10) * 1000;
	loop->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
	return loop->epoll_fd < 0 ? -errno : 0;
}

void loop_close(struct loop *loop)
{
	if (loop->epoll_fd >= 0)
		close(loop->epoll_fd);
	loop->epoll_fd = -1;
}

void loop_stop(struct loop *loop)
{
	__atomic_store_n(&loop->stopping, true, __ATOMIC_RELEASE);
}

int loop_add_fd(struct loop *loop, int fd, uint32_t events, struct loop_source *src)
{
	struct epoll_event ev = { .events = events, .data.ptr = src };

	return epoll_ctl(loop->epoll_fd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int loop_del_fd(struct loop *loop, int fd)
{
	return epoll_ctl(loop->epoll_fd, EPOLL_CTL_DEL, fd, NULL) < 0 ? -errno : 0;
}

int loop_add_timer(struct loop *loop, struct loop_timer *timer)
{
	if (loop->timer_count == LOOP_MAX_TIMERS)
		return -ENOSPC;
	loop->timers[loop->timer_count++] = timer;
	return 0;
}

/* Milliseconds until the earliest armed timer, rounded up so we never wake early; -1 if none. */
static int next_timeout_ms(const struct loop *loop)
{
	uint64_t earliest = UINT64_MAX;

	for (int i = 0; i < loop->timer_count; i++)
		if (loop->timers[i]->deadline_ns && loop->timers[i]->deadline_ns < earliest)
			earliest = loop->timers[i]->deadline_ns;
	if (earliest == UINT64_MAX)
		return -1;
	if (earliest <= loop->now_ns)
		return 0;
	return (int)((earliest - loop->now_ns + 999999) / 1000000);
}

static void fire_due_timers(struct loop *loop)
{
	for (int i = 0; i < loop->timer_count; i++) {
		struct loop_timer *t = loop->timers[i];

		if (t->deadline_ns && t->deadline_ns <= loop->now_ns) {
			t->deadline_ns = 0;
			t->fire(t);
		}
	}
}

/* Polls without sleeping while activity is recent, yielding so that a process sharing the
 * core (the other tunnel end, the application) is not starved; then sleeps in epoll_wait. */
static int wait_events(struct loop *loop, struct epoll_event *events)
{
	int n;

	while (loop->now_ns - loop->last_activity_ns < loop->spin_ns) {
		n = epoll_wait(loop->epoll_fd, events, LOOP_MAX_EVENTS, 0);
		if (n != 0)
			return n;
		sched_yield();
		loop->now_ns = loop_clock_ns();
		if (next_timeout_ms(loop) == 0)
			return 0;
	}
	return epoll_wait(loop->epoll_fd, events, LOOP_MAX_EVENTS, next_timeout_ms(loop));
}

int loop_run(struct loop *loop)
{
	struct epoll_event events[LOOP_MAX_EVENTS];

	while (!__atomic_load_n(&loop->stopping, __ATOMIC_ACQUIRE)) {
		int n = loop->backlog ? epoll_wait(loop->epoll_fd, events, LOOP_MAX_EVENTS, 0)
				      : wait_events(loop, events);

		if (n < 0 && errno != EINTR)
			return -errno;
		loop->now_ns = loop_clock_ns();
		if (n > 0 || loop->backlog)
			loop->last_activity_ns = loop->now_ns;
		for (int i = 0; i < n && !__atomic_load_n(&loop->stopping, __ATOMIC_ACQUIRE); i++) {
			struct loop_source *src = events[i].data.ptr;
			src->on_event(src, events[i].events);
		}
		if (loop->backlog)
			loop->backlog->on_event(loop->backlog, 0);
		fire_due_timers(loop);
	}
	return 0;
}
