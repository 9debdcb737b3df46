/* Traffic counters and per-reason drop counters: one table that every printer iterates
 * (SIGUSR1 and exit, `myvpn show` through the UAPI's stats=1, later metrics).
 *
 * Each thread that moves packets owns one struct stats and is its only writer; readers sum
 * the threads' copies (stats_sum). Writes and reads are relaxed atomic loads and stores, not
 * read-modify-write instructions: a single writer needs no lock prefix, and a reader sees
 * whole 64-bit values. */
#ifndef MYVPN_STATS_H
#define MYVPN_STATS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum drop_reason {
	DROP_SHORT,          /* datagram shorter than our header */
	DROP_BAD_HEADER,     /* unknown magic, version or message type */
	DROP_OVERSIZED,      /* payload larger than the TUN MTU, or truncated by the socket */
	DROP_NOT_IP,         /* payload is neither IPv4 nor IPv6 */
	DROP_BAD_IP_LENGTH,  /* IP header length disagrees with the datagram */
	DROP_UNKNOWN_SOURCE, /* datagram not from the peer we were told about */
	DROP_NO_ENDPOINT,    /* packet to send but no peer address known yet */
	DROP_TUN_WRITE,      /* the kernel refused the packet on the TUN */
	DROP_UDP_SEND,       /* the kernel refused the datagram (buffer full, ...; not below) */
	DROP_TUN_NOT_IP,     /* the TUN gave us something that is not IPv4/IPv6 */
	DROP_NO_ROUTE,       /* no peer's allowed IPs cover the destination */
	DROP_UNKNOWN_INDEX,  /* data for a session we do not have */
	DROP_DECRYPT,        /* authentication failed: forged, corrupted or wrong key */
	DROP_REPLAY,         /* counter already seen or too old */
	DROP_KEY_EXPIRED,    /* session older than REJECT_AFTER_TIME */
	DROP_SOURCE_NOT_ALLOWED, /* inner source address not in the sender's allowed IPs */
	DROP_HANDSHAKE_INVALID,  /* bad mac1, unknown peer, replayed or malformed handshake */
	DROP_COOKIE_SENT,    /* handshake under load without a valid cookie: answered, not processed */
	DROP_STAGED_OVERFLOW, /* more than 128 packets waiting for a handshake */
	DROP_HANDSHAKE_TIMEOUT, /* waiting packets dropped after 90 s without a handshake */
	DROP_CRYPTO,         /* the crypto library failed */
	DROP_BAD_OFFLOAD,    /* a TUN super-packet we cannot split */
	DROP_HANDSHAKE_QUEUE_FULL, /* the handshake thread is behind: message not queued */
	DROP_RATELIMITED,    /* too many handshake messages from one source address */
	DROP_KERNEL_RX,      /* the kernel dropped datagrams: our socket's receive queue was full */
	DROP_TCP_NOT_TUNNEL, /* TCP: a stranger's first frame is not the tunnel's (not WireGuard): closed */
	DROP_TCP_ZERO_LENGTH, /* TCP: a frame of length 0: closed */
	DROP_TCP_CUT,        /* TCP: the stream ended inside a frame */
	DROP_TCP_INCOMPLETE, /* TCP: a frame (or a stranger's first bytes) unfinished for 10 s: closed */
	DROP_TCP_SILENT,     /* TCP: a stranger that sent nothing for 10 s: closed */
	DROP_TCP_IDLE,       /* TCP: a connection unused too long: closed */
	DROP_TCP_NO_CONN,    /* TCP: datagram for a connection that is gone (or cannot open yet) */
	DROP_TCP_QUEUE_FULL, /* TCP: the connection's send queue is full (a slow reader) */
	DROP_TCP_TOO_MANY,   /* TCP: a connection refused: the table is full */
	DROP_STAGED_OVERSIZED, /* larger than the slots of packets already waiting (the MTU grew) */
	DROP_UDP_SEND_BLOCKED, /* the kernel refused the datagram with EPERM: a firewall rule */
	DROP_UDP_SEND_UNREACHABLE, /* no route or interface to the peer (ENETUNREACH, ...) */
	DROP_RDV_QUEUE_FULL,  /* rendezvous: control messages come faster than they are served */
	DROP_RDV_INVALID,     /* rendezvous: a malformed control message, or one not for our role */
	DROP_RELAY_DENIED,    /* rendezvous: a relay envelope we may not forward or accept */
	DROP_RELAY_RATELIMITED, /* rendezvous: over the relay's per-peer or total budget */
	DROP_TOO_BIG,        /* larger than the tunnel's MTU (or the peer's path MTU) and not to be
			      * fragmented: answered with ICMP "fragmentation needed" / "packet too big";
			      * also a path MTU probe larger than the local link (EMSGSIZE) */
	DROP_QUEUE_DELAY,    /* queue management (codel.h): a standing queue above the target, and
			      * the packet's sender does not do ECN */
	DROP_REASON_COUNT
};

struct stats {
	uint64_t tx_packets, tx_bytes;      /* datagrams sent to peers */
	uint64_t rx_packets, rx_bytes;      /* datagrams accepted from peers */
	uint64_t keepalives_sent, keepalives_received;
	uint64_t endpoint_changes;
	uint64_t handshakes_received;       /* initiations and responses that passed the checks */
	uint64_t relayed_packets, relayed_bytes; /* rendezvous: datagrams forwarded between peers */
	uint64_t ecn_marked;                /* packets marked CE by queue management, not dropped */
	uint64_t transport_switches;        /* peers moved between UDP and TCP */
	uint64_t endpoint_lookups;          /* names of silent peers looked up again */
	uint64_t endpoint_lookup_failures;  /* ... that found no usable address */
	uint64_t drops[DROP_REASON_COUNT];
};

/* One device-wide counter: its name in stats=1 and metrics, what it means, where it lives. */
struct stats_counter {
	const char *name;
	const char *help;
	size_t offset; /* of the uint64_t in struct stats */
};

extern const struct stats_counter stats_counters[];
extern const size_t stats_counter_count;

static inline void stats_add(uint64_t *counter, uint64_t n)
{
	__atomic_store_n(counter, __atomic_load_n(counter, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

static inline void stats_drop(struct stats *s, enum drop_reason why, uint64_t n)
{
	stats_add(&s->drops[why], n);
}

static inline uint64_t stats_counter_value(const struct stats *s, const struct stats_counter *c)
{
	return *(const uint64_t *)((const char *)s + c->offset);
}

const char *stats_drop_reason_name(enum drop_reason reason);
const char *stats_drop_reason_help(enum drop_reason reason);
/* Adds every counter of src (read atomically: another thread may be writing it) to sum. */
void stats_sum(struct stats *sum, const struct stats *src);
void stats_print(const struct stats *stats, FILE *out);

#endif
