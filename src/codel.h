/* Queue management for the daemon's own queues: CoDel (RFC 8289) on the time packets waited,
 * and ECN congestion marks on inner IP packets. Pure: no syscalls, no globals, the clock is
 * passed in.
 *
 * A worker keeps one struct codel per queue it drains (its UDP socket's receive queue). For
 * every packet it takes, it passes the packet's sojourn time (now minus the kernel's arrival
 * timestamp) to codel_decide. CoDel's state machine, per RFC 8289:
 *
 *   sojourn < target ............................. fine; leaves the dropping state
 *   sojourn >= target, but for less than interval  fine (a burst, not a standing queue)
 *   sojourn >= target for a whole interval ....... congested: signal one packet, enter
 *                                                 dropping, next signal after interval/sqrt(n)
 *   still congested in the dropping state ........ signal again at interval/sqrt(n), n = 2, 3...
 *
 * "Signal" means: mark the packet CE if its sender negotiated ECN (codel_ecn_mark), else drop
 * it. Small packets (pure ACKs, pings, DNS, handshakes: the sparse flows) are never signalled:
 * codel_decide says which sizes may be. The signal goes to a bulk packet that arrives after the
 * decision, as CoDel's head drop does: the oldest packet in the queue is the one in hand. */
#ifndef MYVPN_CODEL_H
#define MYVPN_CODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	CODEL_TARGET_NS_DEFAULT = 1000000, /* 1 ms: the standing queue we accept */
	CODEL_INTERVAL_PER_TARGET = 20,    /* interval = 20 x target, CoDel's 5 % (fq_codel: 5/100 ms) */
	CODEL_SPARSE_MAX = 256,            /* packets of at most this size are never signalled */
};
#define CODEL_TARGET_NS_MIN 10000ull       /* 10 µs */
#define CODEL_TARGET_NS_MAX 1000000000ull  /* 1 s */

struct codel {
	uint64_t target_ns, interval_ns; /* target 0: disabled, codel_decide always says no */
	uint64_t first_above_ns;         /* when the sojourn may have stood above target for an
					  * interval; 0: it is below target now */
	uint64_t drop_next_ns;           /* the next signal, in the dropping state */
	uint32_t count, last_count;      /* signals in this dropping state, and the previous one's */
	bool dropping;
	bool pending;                    /* a signal is owed to the next bulk packet */
};

void codel_init(struct codel *c, uint64_t target_ns, uint64_t interval_ns);

/* How long a queue may stand above target_ns before the first signal: CoDel's interval,
 * kept at 20 times the target (1 ms -> 20 ms, fq_codel's 5 ms -> 100 ms). */
static inline uint64_t codel_interval(uint64_t target_ns)
{
	return target_ns * CODEL_INTERVAL_PER_TARGET;
}

/* One packet of len bytes leaves the queue at now_ns after waiting sojourn_ns. True if this
 * packet is to be marked or dropped. A packet of at most CODEL_SPARSE_MAX bytes is never the
 * one: a signal decided on it waits for the next larger packet. */
bool codel_decide(struct codel *c, uint64_t sojourn_ns, uint64_t now_ns, size_t len);

/* Parses a queue target as the command line (--queue-target) and config files (QueueTarget)
 * write it: milliseconds with an optional fraction ("1", "0.5"), optionally followed by "ms"
 * or "us", or "off" (or 0) for none. Within CODEL_TARGET_NS_MIN..MAX. 0 or -EINVAL. */
int codel_parse_target(const char *text, uint64_t *target_ns);

/* Sets ECN CE on an IPv4 or IPv6 packet that carries ECT(0) or ECT(1) (fixing the IPv4
 * header checksum), or leaves one already CE as it is. Returns false for a packet whose sender
 * does not do ECN (Not-ECT) or that is not IP: drop it instead. */
bool codel_ecn_mark(uint8_t *pkt, size_t len);

#endif
