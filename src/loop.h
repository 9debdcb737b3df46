/* The event loop: epoll for fds, a short list of monotonic timers, one cached clock per turn.
 * One loop per thread; only loop_stop may be called from another thread. */
#ifndef MYVPN_LOOP_H
#define MYVPN_LOOP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

struct loop;

struct loop_source {
	void (*on_event)(struct loop_source *src, uint32_t events);
};

struct loop_timer {
	uint64_t deadline_ns; /* 0 = disarmed */
	void (*fire)(struct loop_timer *timer);
};

enum { LOOP_MAX_TIMERS = 8, LOOP_MAX_EVENTS = 16 };

/* Waking a sleeping thread costs tens of microseconds on a VM (the vCPU halts and must be
 * kicked). A reply usually follows a packet within that time, so polling briefly before
 * sleeping keeps the tunnel's added latency near zero for interactive traffic. */
#define LOOP_SPIN_NS_DEFAULT 100000ull

struct loop {
	int epoll_fd;
	bool stopping;
	uint64_t now_ns; /* CLOCK_MONOTONIC, refreshed once per wake-up */
	uint64_t spin_ns; /* how long to poll before sleeping after activity; 0 = never */
	uint64_t last_activity_ns;
	struct loop_timer *timers[LOOP_MAX_TIMERS];
	int timer_count;
	struct loop_source *backlog; /* work left from an event; NULL = none */
};

uint64_t loop_clock_ns(void);
int loop_init(struct loop *loop);
void loop_close(struct loop *loop);
int loop_add_fd(struct loop *loop, int fd, uint32_t events, struct loop_source *src);
int loop_del_fd(struct loop *loop, int fd);
/* Makes loop_run return after the current event; any thread may call it, but a loop asleep in
 * epoll only notices at its next event (the caller wakes it, e.g. through an eventfd). */
void loop_stop(struct loop *loop);
int loop_add_timer(struct loop *loop, struct loop_timer *timer);
/* Work an event left for later (a receive backlog served a chunk at a time, so that the other
 * sources get their turn in between): while set, the loop never sleeps and calls
 * src->on_event(src, 0) once per turn, after the turn's events. NULL clears it. Loop thread. */
static inline void loop_set_backlog(struct loop *loop, struct loop_source *src)
{
	loop->backlog = src;
}
/* Runs until loop->stopping is set. Returns 0, or -errno if epoll itself failed. */
int loop_run(struct loop *loop);

#endif
