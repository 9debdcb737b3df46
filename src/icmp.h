/* "Too big" answers to packets the tunnel will not carry (pure, no I/O): an ICMP "fragmentation
 * needed" (IPv4, with DF set) or an ICMPv6 "packet too big", built in front of the packet it
 * answers, so that no buffer is needed on the data path. */
#ifndef MYVPN_ICMP_H
#define MYVPN_ICMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	/* Bytes a reply needs before the packet it answers: its IPv6 + ICMPv6 headers. */
	ICMP_TOO_BIG_HEADROOM = 40 + 8,
	ICMP_IPV6_MIN_MTU = 1280, /* RFC 8200: every IPv6 link carries this much */
	ICMP_LIMIT_BURST = 20,    /* answers sent at once after a quiet spell... */
};
#define ICMP_LIMIT_INTERVAL_NS 10000000ull /* ...then one per 10 ms: 100 a second */

/* A token bucket of answers (one per worker), kept as time credit: each answer costs one
 * interval, and credit accrues with the time that passed, up to the burst. Zeroed: full. */
struct icmp_limit {
	uint64_t credit_ns, last_ns;
};

/* Whether one more answer may go out at now_ns (a monotonic clock, never going back); if so,
 * it is spent. */
bool icmp_limit_allow(struct icmp_limit *l, uint64_t now_ns);

/* The packet (a whole IPv4 or IPv6 packet of len bytes) is larger than mtu and may not be
 * fragmented on its way: IPv6, or IPv4 with DF set. An IPv6 packet is never too big for
 * 1280 bytes: every IPv6 path must carry that much (the underlay fragments it if need be). */
bool icmp_too_big(const uint8_t *pkt, size_t len, size_t mtu);

/* Builds the answer to a too-big packet in the ICMP_TOO_BIG_HEADROOM bytes before pkt,
 * quoting the packet (IPv4: its header and 8 bytes, RFC 792; IPv6: as much as fits in 1280
 * bytes, RFC 4443), from the packet's destination to its source, and advertising mtu. Returns
 * the answer's start in *reply and its length, or 0 when none is due: the packet is itself an
 * ICMP error, a later fragment, or comes from or goes to an address that must not be
 * answered (unspecified, multicast, broadcast). The packet is overwritten. */
size_t icmp_build_too_big(uint8_t *pkt, size_t len, size_t mtu, uint8_t **reply);

#endif
