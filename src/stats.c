/* Traffic counters and per-reason drop counters: the table, sums, and the one-line print. */
#include "stats.h"

#include <inttypes.h>

#define COUNTER(field, text) { #field, text, offsetof(struct stats, field) }

const struct stats_counter stats_counters[] = {
	COUNTER(rx_packets, "datagrams accepted from peers"),
	COUNTER(tx_packets, "datagrams sent to peers"),
	COUNTER(rx_bytes, "bytes of datagrams accepted from peers"),
	COUNTER(tx_bytes, "bytes of datagrams sent to peers"),
	COUNTER(keepalives_sent, "keepalives sent"),
	COUNTER(keepalives_received, "keepalives received"),
	COUNTER(endpoint_changes, "times a peer's address changed (roaming, or its name's new address)"),
	COUNTER(handshakes_received, "handshake messages that passed every check"),
	COUNTER(relayed_packets, "datagrams relayed between two peers (rendezvous)"),
	COUNTER(relayed_bytes, "bytes of datagrams relayed between two peers (rendezvous)"),
	COUNTER(ecn_marked, "packets marked ECN CE by queue management instead of dropped"),
	COUNTER(transport_switches, "times a peer moved between UDP and TCP"),
	COUNTER(endpoint_lookups, "times a silent peer's endpoint name was looked up again"),
	COUNTER(endpoint_lookup_failures, "endpoint names looked up again that gave no usable address"),
};
const size_t stats_counter_count = sizeof(stats_counters) / sizeof(stats_counters[0]);

static const struct {
	const char *name, *help;
} drops[DROP_REASON_COUNT] = {
	[DROP_SHORT] = { "short", "datagram shorter than its header" },
	[DROP_BAD_HEADER] = { "bad_header", "unknown message type or header" },
	[DROP_OVERSIZED] = { "oversized", "larger than the MTU, or truncated by the socket" },
	[DROP_NOT_IP] = { "not_ip", "payload neither IPv4 nor IPv6" },
	[DROP_BAD_IP_LENGTH] = { "bad_ip_length", "IP length disagrees with the datagram" },
	[DROP_UNKNOWN_SOURCE] = { "unknown_source", "datagram not from the configured peer" },
	[DROP_NO_ENDPOINT] = { "no_endpoint", "no address known for the peer" },
	[DROP_TUN_WRITE] = { "tun_write", "the kernel refused the packet on the TUN" },
	[DROP_UDP_SEND] = { "udp_send", "the kernel refused the datagram" },
	[DROP_TUN_NOT_IP] = { "tun_not_ip", "the TUN gave a packet that is not IP" },
	[DROP_NO_ROUTE] = { "no_route", "no peer's allowed IPs cover the destination" },
	[DROP_UNKNOWN_INDEX] = { "unknown_index", "data for a session we do not have" },
	[DROP_DECRYPT] = { "decrypt", "authentication failed" },
	[DROP_REPLAY] = { "replay", "counter already seen or too old" },
	[DROP_KEY_EXPIRED] = { "key_expired", "session too old" },
	[DROP_SOURCE_NOT_ALLOWED] = { "source_not_allowed", "inner source not in the sender's allowed IPs" },
	[DROP_HANDSHAKE_INVALID] = { "handshake_invalid", "bad mac1, unknown peer, replayed or malformed handshake" },
	[DROP_COOKIE_SENT] = { "cookie_sent", "handshake under load without a cookie: answered with one" },
	[DROP_STAGED_OVERFLOW] = { "staged_overflow", "too many packets waiting for a handshake" },
	[DROP_HANDSHAKE_TIMEOUT] = { "handshake_timeout", "waiting packets dropped: no handshake" },
	[DROP_CRYPTO] = { "crypto", "the crypto library failed" },
	[DROP_BAD_OFFLOAD] = { "bad_offload", "a TUN super-packet that cannot be split" },
	[DROP_HANDSHAKE_QUEUE_FULL] = { "handshake_queue_full", "handshake thread behind: message not queued" },
	[DROP_RATELIMITED] = { "ratelimited", "too many handshake messages from one source address" },
	[DROP_KERNEL_RX] = { "kernel_rx", "the socket's receive queue overflowed in the kernel (per buffer: one may hold a GRO batch)" },
	[DROP_TCP_NOT_TUNNEL] = { "tcp_not_tunnel", "TCP: a first frame that is not the tunnel's" },
	[DROP_TCP_ZERO_LENGTH] = { "tcp_zero_length", "TCP: a frame of length 0" },
	[DROP_TCP_CUT] = { "tcp_cut", "TCP: the stream ended inside a frame" },
	[DROP_TCP_INCOMPLETE] = { "tcp_incomplete", "TCP: a frame not completed within 10 s" },
	[DROP_TCP_SILENT] = { "tcp_silent", "TCP: a connection that sent nothing for 10 s" },
	[DROP_TCP_IDLE] = { "tcp_idle", "TCP: a connection unused too long" },
	[DROP_TCP_NO_CONN] = { "tcp_no_conn", "TCP: no connection to send on" },
	[DROP_TCP_QUEUE_FULL] = { "tcp_queue_full", "TCP: the connection's send queue is full" },
	[DROP_TCP_TOO_MANY] = { "tcp_too_many", "TCP: connection refused, too many open" },
	[DROP_UDP_SEND_BLOCKED] = { "udp_send_blocked", "a firewall rule refused the datagram (EPERM)" },
	[DROP_UDP_SEND_UNREACHABLE] = { "udp_send_unreachable", "no route to the peer's address" },
	[DROP_RDV_QUEUE_FULL] = { "rdv_queue_full", "rendezvous: too many control messages waiting" },
	[DROP_RDV_INVALID] = { "rdv_invalid", "rendezvous: malformed control message, or not for our role" },
	[DROP_RELAY_DENIED] = { "relay_denied", "rendezvous: relay envelope refused (not peers, not introduced, not accepted)" },
	[DROP_RELAY_RATELIMITED] = { "relay_ratelimited", "rendezvous: over the relay's rate limit" },
	[DROP_TOO_BIG] = { "too_big", "larger than the tunnel's or the peer's path MTU, with DF or IPv6: answered with ICMP (or a path MTU probe larger than the local link)" },
	[DROP_QUEUE_DELAY] = { "queue_delay", "queue management: waited above the queue target, not ECN-capable" },
	[DROP_STAGED_OVERSIZED] = { "staged_oversized", "larger than the waiting packets' slots: the MTU grew during a handshake" },
};

const char *stats_drop_reason_name(enum drop_reason reason)
{
	return reason < DROP_REASON_COUNT ? drops[reason].name : "?";
}

const char *stats_drop_reason_help(enum drop_reason reason)
{
	return reason < DROP_REASON_COUNT ? drops[reason].help : "?";
}

void stats_sum(struct stats *sum, const struct stats *src)
{
	const uint64_t *in = (const uint64_t *)src;
	uint64_t *out = (uint64_t *)sum;

	_Static_assert(sizeof(struct stats) % sizeof(uint64_t) == 0, "stats holds only counters");
	for (size_t i = 0; i < sizeof(*src) / sizeof(uint64_t); i++)
		out[i] += __atomic_load_n(&in[i], __ATOMIC_RELAXED);
}

void stats_print(const struct stats *s, FILE *out)
{
	fprintf(out, "myvpn: stats:");
	for (size_t i = 0; i < stats_counter_count; i++)
		fprintf(out, " %s=%" PRIu64, stats_counters[i].name,
			stats_counter_value(s, &stats_counters[i]));
	fprintf(out, "\nmyvpn: drops:");
	for (int r = 0; r < DROP_REASON_COUNT; r++)
		fprintf(out, " %s=%" PRIu64, drops[r].name, s->drops[r]);
	fputc('\n', out);
}
