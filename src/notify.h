/* The systemd service protocol (sd_notify): READY=1 once everything answers, STATUS= lines,
 * WATCHDOG=1 from the control loop, STOPPING=1. Without NOTIFY_SOCKET it does nothing. */
#ifndef MYVPN_NOTIFY_H
#define MYVPN_NOTIFY_H

#include "loop.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The watchdog pings come from a timer of the control thread's loop, at half of
 * WATCHDOG_USEC: a loop that hangs (or a process that is stopped) stops pinging and systemd
 * restarts it. The STATUS= line is refreshed on the same timer, at least every
 * NOTIFY_STATUS_INTERVAL_NS.
 */
#define NOTIFY_STATUS_INTERVAL_NS (10 * 1000000000ull)

/* Writes the one-line status ("2 peers, 1 with a handshake in the last 3 minutes"). */
typedef void (*notify_status_fn)(void *ctx, char *buf, size_t len);

struct notify {
	bool enabled;          /* NOTIFY_SOCKET is set */
	uint64_t interval_ns;  /* of the timer: half the watchdog's, or the status interval */
	bool watchdog;
	struct loop_timer timer;
	struct loop *loop;
	notify_status_fn status;
	void *ctx;
};

/* Reads NOTIFY_SOCKET and WATCHDOG_USEC and arms the timer on loop (n must outlive
 * loop_run). 0 or -errno; 0 and nothing armed without NOTIFY_SOCKET. */
int notify_init(struct notify *n, struct loop *loop, notify_status_fn status, void *ctx);
/* READY=1 with the first STATUS=: call once the interface, the sockets and the control socket
 * all work. */
void notify_ready(struct notify *n);
/* STOPPING=1: the service is shutting down. */
void notify_stopping(struct notify *n);

#endif
