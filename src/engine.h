/* The engine: N data-path workers and the control thread that owns everything else.
 *
 * The control thread runs the main event loop: signals, the UAPI socket, link events, the
 * tunnel's timers and its handshakes (the Diffie-Hellman work). Workers reach it through
 * engine_wake(): they post work into the tunnel's own queues and wake it with one eventfd.
 * The tunnel's state that workers read (peers, sessions, allowed IPs, endpoints) changes only
 * on the control thread, under the tunnel's write lock, which workers hold for reading around
 * each batch: no lock per packet.
 *
 *   control thread: loop { signals · UAPI · netlink · timers · handshake queue · requests }
 *         ▲ engine_wake (eventfd)            │ write lock: sessions, endpoints, peers
 *   worker 0..N-1:  loop { TUN queue i ⇄ socket i }   (read lock per batch)
 */
#ifndef MYVPN_ENGINE_H
#define MYVPN_ENGINE_H

#include "loop.h"
#include "stats.h"
#include "worker.h"

enum { ENGINE_MAX_WORKERS = 64, ENGINE_DEFAULT_MAX_WORKERS = 8 };

struct engine {
	struct loop loop; /* the control thread's */
	struct worker *workers;
	unsigned int worker_count;
	size_t mtu; /* the TUN's (engine_mtu): workers size and pad packets by it; it follows
		     * `ip link set IF mtu N` (control.c) */
	struct stats stats; /* the control thread's own counters (handshakes, keepalives) */
	int wake_fd;   /* workers -> control thread */
	int stop_fd;   /* control thread -> workers: readable once they must stop */
	struct loop_source wake_source;
	void (*on_wake)(struct engine *e); /* the tunnel drains its queues here */
	const struct tunnel_ops *ops;
	void *tunnel;
	/* The device's TCP transport, or NULL: every worker sends on it (it locks itself),
	 * worker 0 receives from it. Datagrams go to it when their endpoint's kind is TCP. */
	struct transport *tcp;
	/* atomic: our relay id at the rendezvous, the sender's id in relay envelopes (0: none) */
	uint32_t relay_id;
};

/* The TUN's MTU as workers read it: the control thread changes it while they run. */
static inline size_t engine_mtu(const struct engine *e)
{
	return __atomic_load_n(&e->mtu, __ATOMIC_RELAXED);
}

static inline void engine_set_mtu(struct engine *e, size_t mtu)
{
	__atomic_store_n(&e->mtu, mtu, __ATOMIC_RELAXED);
}

/* The default worker count: online CPUs, capped at ENGINE_DEFAULT_MAX_WORKERS. */
unsigned int engine_default_workers(void);
/* Sets up the control loop and count workers, each with one transport and lanes TUN queues
 * (worker i takes tun_fds[i * lanes ..]). The fds and transports become the engine's, also on
 * failure. 0 or -errno. */
int engine_init(struct engine *e, const struct tunnel_ops *ops, void *tunnel, size_t mtu,
		const int *tun_fds, unsigned int lanes, bool vnet_hdr, int gro_flags,
		struct transport **transports, unsigned int count);
/* Gives the engine the device's TCP transport (it becomes the engine's, also on failure).
 * Before engine_run. 0 or -errno. */
int engine_add_tcp(struct engine *e, struct transport *tcp);
/* Starts the worker threads, runs the control loop until it stops, then stops and joins the
 * workers. Returns 0 or -errno. */
int engine_run(struct engine *e);
void engine_free(struct engine *e);
/* Any thread: the control thread runs on_wake soon. Cheap enough for every queued message. */
void engine_wake(struct engine *e);
/* Any thread: stop everything (a worker found the TUN gone, a signal, ...). */
void engine_stop(struct engine *e);
/* Counters of every thread, summed. */
void engine_stats(const struct engine *e, struct stats *sum);
/* The transport handshakes and keepalives leave from. */
static inline struct worker *engine_sender(struct engine *e)
{
	return &e->workers[0];
}

#endif
