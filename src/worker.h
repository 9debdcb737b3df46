/* A data-path worker: a thread with its own event loop that owns one TUN queue and one
 * transport (a UDP socket of the device's SO_REUSEPORT group) and moves packets between them in
 * batches, running each packet to completion: read, seal or open, send or write. There is no
 * hand-off between threads on the data path; the kernel keeps each flow on one TUN queue and
 * one socket, so a flow's packets stay in order.
 *
 * What a packet looks like on the wire is the tunnel's business (tunnel_ops): plaintext
 * framing or the WireGuard protocol, on the same engine. */
#ifndef MYVPN_WORKER_H
#define MYVPN_WORKER_H

#include "codel.h"
#include "icmp.h"
#include "loop.h"
#include "rx_backlog.h"
#include "stats.h"
#include "transport.h"
#include "tun_io.h"

#include <pthread.h>
#include <stdbool.h>

enum {
	WORKER_MAX_LANES = 8,      /* TUN queues per worker */
	WORKER_TUN_QUEUES_MAX = 256, /* the kernel's limit per TUN device (MAX_TAP_QUEUES) */
	WORKER_BATCH = TRANSPORT_MAX_BATCH,
	SLOT_SIZE = 66048,  /* any IP packet (or 64 KB GSO read) fits, with head- and tailroom */
	SLOT_HEADROOM = 64, /* room to prepend a header (or an ICMP answer) without moving the packet */
	SLOT_TAILROOM = 64, /* room for padding and an authentication tag */
	SLOT_MAX_PACKET = SLOT_SIZE - SLOT_HEADROOM - SLOT_TAILROOM,
};

struct worker;
struct engine;

/* One of a worker's TUN queues. The kernel sends each flow's outgoing packets to the queue
 * that last wrote that flow's incoming ones, and the worker writes each flow to the lane its
 * hash picks (packet_flow_hash): flows that hash apart wait in separate rings, so a ping or an
 * ACK is not queued behind a bulk transfer's backlog; the worker serves its lanes in turn, a
 * batch each. This is the flow queueing of fq_codel, done by the kernel's multi-queue TUN. */
struct worker_lane {
	struct tun_queue tun;
	struct loop_source source;
	struct worker *w;
};

struct tunnel_ops {
	/* Around each batch, on the worker's thread: the tunnel takes its shared state for
	 * reading and, after, publishes what the batch did (timers, counters). May be NULL. */
	void (*batch_begin)(struct worker *w);
	void (*batch_end)(struct worker *w);
	/* Frames the IP packet at pkt in place (SLOT_HEADROOM bytes free before it, SLOT_TAILROOM
	 * after). Returns the datagram's length with *dgram and *to set (to stays valid until
	 * batch_end), or 0 if the packet was dropped (and counted) or kept for later. */
	size_t (*encap)(struct worker *w, uint8_t *pkt, size_t len, uint8_t **dgram,
			const struct dgram_addr **to);
	/* Consumes one received datagram (which it may modify). Returns the length of an IP packet
	 * at *ip to write to the TUN, or 0 when there is nothing to write. */
	size_t (*decap)(struct worker *w, uint8_t *dgram, size_t len, const struct dgram_addr *from,
			uint8_t **ip);
};

struct worker {
	struct engine *engine;
	unsigned int id; /* 0..workers-1: also this thread's slot in per-thread state */
	pthread_t thread;
	bool started;
	struct loop loop;
	const struct tunnel_ops *ops;
	void *tunnel;       /* the ops' shared state */
	void *tunnel_local; /* the ops' state for this worker alone; freed with it */
	struct worker_lane lanes[WORKER_MAX_LANES];
	unsigned int lane_count;
	struct transport *transport;
	pthread_mutex_t send_lock; /* the control thread sends on this worker's transport too */
	struct loop_source udp_source, stop_source, tcp_source;
	uint64_t prng; /* timer jitter only; never for anything secret */
	struct icmp_limit icmp_limit; /* of "too big" answers */
	/* TUN -> peer */
	uint8_t *tx_slots;
	uint8_t *tx_pkts[WORKER_BATCH];
	size_t tx_lens[WORKER_BATCH];
	struct transport_tx tx[WORKER_BATCH];
	/* peer -> TUN */
	uint8_t *rx_slots;
	struct rx_backlog *backlog; /* of rx_slots: read, not yet processed (rx_backlog.h) */
	struct loop_source backlog_source;
	bool rx_served; /* a socket's event served the backlog this turn */
	struct transport_rx rx[TRANSPORT_MAX_RX];
	struct transport_rx rx_sparse[TRANSPORT_MAX_RX];
	uint8_t *rx_ip[TRANSPORT_MAX_RX];
	size_t rx_ip_len[TRANSPORT_MAX_RX];
	uint8_t *rx_lane_ip[TRANSPORT_MAX_RX]; /* rx_ip sorted by lane, order kept per flow */
	size_t rx_lane_len[TRANSPORT_MAX_RX];
	/* Queue management of this worker's socket receive queue: how long each datagram
	 * waited there (its kernel timestamp) decides CE marks and drops (codel.h). */
	struct codel rx_codel;
	struct stats stats;
};

/* TUN queues per worker for a device of that many workers: WORKER_MAX_LANES, fewer where
 * the kernel's limit on queues requires it. */
static inline unsigned int worker_lane_count(unsigned int workers)
{
	unsigned int lanes = workers ? WORKER_TUN_QUEUES_MAX / workers : 1;

	return lanes > WORKER_MAX_LANES ? WORKER_MAX_LANES : lanes ? lanes : 1;
}

/* Sets up w (no thread yet). tun_fds[0..lanes) and transport become the worker's; the
 * engine's stop eventfd wakes its loop. 0 or -errno. */
int worker_init(struct worker *w, struct engine *e, unsigned int id, const int *tun_fds,
		unsigned int lanes, bool vnet_hdr, int gro_flags, struct transport *transport);
void worker_free(struct worker *w);
/* Sends one datagram now, from any thread (handshakes, keepalives): 0 or -errno. Counted in
 * the worker's stats: their transmit counters are only written under send_lock. */
int worker_send(struct worker *w, const void *data, size_t len, const struct dgram_addr *to);
/* worker_send with DF set (a path MTU probe) on the worker's UDP socket; the socket's policy
 * (DF clear) is back before any other datagram leaves. -EOPNOTSUPP over TCP or the relay. */
int worker_send_probe(struct worker *w, const void *data, size_t len, const struct dgram_addr *to);
/* Replaces the worker's transport (a new listen port); call with the worker outside any
 * batch (the tunnel's shared state held for writing). The old one is closed. 0 or -errno. */
int worker_swap_transport(struct worker *w, struct transport *t);
/* Worker 0 receives for the device's TCP transport (engine.tcp) too: 0 or -errno. */
int worker_add_tcp(struct worker *w, struct transport *tcp);
/* Queue management: the sojourn target (0 disables it) and CoDel's interval. Before the
 * worker's thread runs. */
void worker_set_queue_target(struct worker *w, uint64_t target_ns, uint64_t interval_ns);
/* Counts a dropped packet, with a rate-limited debug line. */
void worker_drop(struct worker *w, enum drop_reason why);
/* A packet read from the TUN that is larger than mtu and may not be fragmented (IPv6, or IPv4
 * with DF) is dropped (DROP_TOO_BIG) and answered through the TUN with an ICMP "fragmentation
 * needed" / ICMPv6 "packet too big" advertising mtu, rate limited. Returns true when the packet
 * was dropped so; pkt needs ICMP_TOO_BIG_HEADROOM bytes before it and is overwritten. Packets
 * read from the TUN are already split: a GSO super-packet is judged by its segments, whose size
 * is gso_size plus headers, never by its total length. */
bool worker_too_big(struct worker *w, uint8_t *pkt, size_t len, size_t mtu);
/* xorshift64: spread for timer jitter, not secrecy. */
uint64_t worker_jitter(struct worker *w);

#endif
