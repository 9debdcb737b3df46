/* Traffic counters and per-reason drop counters, printed on SIGUSR1 and at exit. */
#ifndef MYVPN_STATS_H
#define MYVPN_STATS_H

#include <stdint.h>
#include <stdio.h>

enum drop_reason {
	DROP_SHORT,          /* datagram shorter than our header */
	DROP_BAD_HEADER,     /* unknown magic, version or message type */
	DROP_OVERSIZED,      /* payload larger than the TUN MTU */
	DROP_NOT_IP,         /* payload is neither IPv4 nor IPv6 */
	DROP_BAD_IP_LENGTH,  /* IP header length disagrees with the datagram */
	DROP_UNKNOWN_SOURCE, /* datagram not from the peer we were told about */
	DROP_NO_ENDPOINT,    /* packet to send but no peer address known yet */
	DROP_TUN_WRITE,      /* the kernel refused the packet on the TUN */
	DROP_UDP_SEND,       /* sendmmsg failed (buffer full, no route, ...) */
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
	DROP_REASON_COUNT
};

struct stats {
	uint64_t tx_packets, tx_bytes;      /* UDP datagrams sent to the peer */
	uint64_t rx_packets, rx_bytes;      /* UDP datagrams accepted from the peer */
	uint64_t keepalives_sent, keepalives_received;
	uint64_t endpoint_changes;
	uint64_t drops[DROP_REASON_COUNT];
};

const char *stats_drop_reason_name(enum drop_reason reason);
void stats_print(const struct stats *stats, FILE *out);

#endif
