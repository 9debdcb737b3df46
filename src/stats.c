/* Traffic counters and per-reason drop counters, printed on SIGUSR1 and at exit. */
#include "stats.h"

#include <inttypes.h>

static const char *const drop_names[DROP_REASON_COUNT] = {
	[DROP_SHORT] = "short",
	[DROP_BAD_HEADER] = "bad_header",
	[DROP_OVERSIZED] = "oversized",
	[DROP_NOT_IP] = "not_ip",
	[DROP_BAD_IP_LENGTH] = "bad_ip_length",
	[DROP_UNKNOWN_SOURCE] = "unknown_source",
	[DROP_NO_ENDPOINT] = "no_endpoint",
	[DROP_TUN_WRITE] = "tun_write",
	[DROP_UDP_SEND] = "udp_send",
	[DROP_TUN_NOT_IP] = "tun_not_ip",
	[DROP_NO_ROUTE] = "no_route",
	[DROP_UNKNOWN_INDEX] = "unknown_index",
	[DROP_DECRYPT] = "decrypt",
	[DROP_REPLAY] = "replay",
	[DROP_KEY_EXPIRED] = "key_expired",
	[DROP_SOURCE_NOT_ALLOWED] = "source_not_allowed",
	[DROP_HANDSHAKE_INVALID] = "handshake_invalid",
	[DROP_COOKIE_SENT] = "cookie_sent",
	[DROP_STAGED_OVERFLOW] = "staged_overflow",
	[DROP_HANDSHAKE_TIMEOUT] = "handshake_timeout",
	[DROP_CRYPTO] = "crypto",
	[DROP_BAD_OFFLOAD] = "bad_offload",
};

const char *stats_drop_reason_name(enum drop_reason reason)
{
	return reason < DROP_REASON_COUNT ? drop_names[reason] : "?";
}

void stats_print(const struct stats *s, FILE *out)
{
	fprintf(out, "myvpn: stats: tx %" PRIu64 " packets %" PRIu64 " bytes, rx %" PRIu64
		     " packets %" PRIu64 " bytes, keepalives sent %" PRIu64 " received %" PRIu64
		     ", endpoint changes %" PRIu64 "\n",
		s->tx_packets, s->tx_bytes, s->rx_packets, s->rx_bytes, s->keepalives_sent,
		s->keepalives_received, s->endpoint_changes);
	fprintf(out, "myvpn: drops:");
	for (int r = 0; r < DROP_REASON_COUNT; r++)
		fprintf(out, " %s=%" PRIu64, drop_names[r], s->drops[r]);
	fputc('\n', out);
}
