/* "Too big" answers, built in place in front of the packet they answer.
 *
 * The answer comes from the packet's destination: the tunnel has no address of its own that
 * the sender would accept (its own address would be a martian on the TUN), and the
 * destination is routed through the tunnel, so reverse-path filters let the answer in. The
 * sender's stack matches the quoted header to its socket and lowers its path MTU for that
 * destination, as it would for a router's answer. */
#include "icmp.h"
#include "be.h"
#include "offload.h"

#include <string.h>

enum {
	IPV4_HLEN = 20,
	IPV6_HLEN = 40,
	ICMP_HLEN = 8,
	PROTO_ICMP = 1,
	PROTO_ICMPV6 = 58,
	ICMP_DEST_UNREACH = 3,
	ICMP_FRAG_NEEDED = 4,
	ICMPV6_PKT_TOOBIG = 2,
	ICMPV6_INFO_MIN = 128, /* types below are errors */
	IPV4_DF = 0x4000,
	IPV4_FRAG_OFFSET = 0x1fff,
	REPLY_TTL = 64,
};

/* Checksums are stored as computed: offload_csum_* works on 16-bit words in memory order. */
static void put_csum(uint8_t *p, uint16_t csum)
{
	memcpy(p, &csum, sizeof(csum));
}

bool icmp_too_big(const uint8_t *pkt, size_t len, size_t mtu)
{
	if (len <= mtu || len < IPV4_HLEN)
		return false;
	if (pkt[0] >> 4 == 6)
		return len > (mtu > ICMP_IPV6_MIN_MTU ? mtu : ICMP_IPV6_MIN_MTU);
	return pkt[0] >> 4 == 4 && (be16_get(pkt + 6) & IPV4_DF);
}

/* ---- IPv4 ---- */

static bool v4_unicast(const uint8_t *a)
{
	static const uint8_t any[4], bcast[4] = { 255, 255, 255, 255 };

	return memcmp(a, any, 4) && memcmp(a, bcast, 4) && (a[0] & 0xf0) != 0xe0;
}

/* An ICMP error (anything but echo, timestamp and their replies, and the like) is never
 * answered, so that two hosts never answer each other's errors forever. */
static bool v4_is_icmp_error(const uint8_t *pkt, size_t ihl, size_t len)
{
	if (pkt[9] != PROTO_ICMP || len < ihl + 1)
		return false;
	switch (pkt[ihl]) {
	case 3: case 4: case 5: case 11: case 12:
		return true;
	}
	return false;
}

static size_t build_v4(uint8_t *pkt, size_t len, size_t mtu, uint8_t **reply)
{
	size_t ihl = (size_t)(pkt[0] & 0x0f) * 4;
	size_t quote = ihl + 8 < len ? ihl + 8 : len;
	uint8_t *ip = pkt - IPV4_HLEN - ICMP_HLEN, *icmp = ip + IPV4_HLEN;
	size_t total = IPV4_HLEN + ICMP_HLEN + quote;

	if (ihl < IPV4_HLEN || ihl > len || (be16_get(pkt + 6) & IPV4_FRAG_OFFSET) ||
	    !v4_unicast(pkt + 12) || !v4_unicast(pkt + 16) || v4_is_icmp_error(pkt, ihl, len))
		return 0;
	memset(ip, 0, IPV4_HLEN + ICMP_HLEN);
	ip[0] = 0x45;
	ip[1] = 0xc0; /* internetwork control, as routers send their errors */
	be16_put(ip + 2, (uint16_t)total);
	ip[8] = REPLY_TTL;
	ip[9] = PROTO_ICMP;
	memcpy(ip + 12, pkt + 16, 4);
	memcpy(ip + 16, pkt + 12, 4);
	put_csum(ip + 10, offload_csum_finish(offload_csum_add(0, ip, IPV4_HLEN)));
	icmp[0] = ICMP_DEST_UNREACH;
	icmp[1] = ICMP_FRAG_NEEDED;
	be16_put(icmp + 6, (uint16_t)(mtu < 0xffff ? mtu : 0xffff)); /* next-hop MTU, RFC 1191 */
	put_csum(icmp + 2, offload_csum_finish(offload_csum_add(0, icmp, ICMP_HLEN + quote)));
	*reply = ip;
	return total;
}

/* ---- IPv6 ---- */

static bool v6_unicast(const uint8_t *a)
{
	static const uint8_t any[16];

	return memcmp(a, any, 16) && a[0] != 0xff;
}

/* Only an ICMPv6 error right after the fixed header is recognised: an error behind extension
 * headers is rare enough that answering it once (rate limited) does no harm. */
static bool v6_is_icmp_error(const uint8_t *pkt, size_t len)
{
	return pkt[6] == PROTO_ICMPV6 && len > IPV6_HLEN && pkt[IPV6_HLEN] < ICMPV6_INFO_MIN;
}

static size_t build_v6(uint8_t *pkt, size_t len, size_t mtu, uint8_t **reply)
{
	size_t room = ICMP_IPV6_MIN_MTU - IPV6_HLEN - ICMP_HLEN;
	size_t quote = len < room ? len : room, icmp_len = ICMP_HLEN + quote;
	uint8_t *ip = pkt - IPV6_HLEN - ICMP_HLEN, *icmp = ip + IPV6_HLEN;
	uint32_t sum;

	if (len < IPV6_HLEN || !v6_unicast(pkt + 8) || !v6_unicast(pkt + 24) ||
	    v6_is_icmp_error(pkt, len))
		return 0;
	memset(ip, 0, IPV6_HLEN + ICMP_HLEN);
	ip[0] = 0x60;
	be16_put(ip + 4, (uint16_t)icmp_len);
	ip[6] = PROTO_ICMPV6;
	ip[7] = REPLY_TTL;
	memcpy(ip + 8, pkt + 24, 16);
	memcpy(ip + 24, pkt + 8, 16);
	icmp[0] = ICMPV6_PKT_TOOBIG;
	be32_put(icmp + 4, (uint32_t)(mtu > ICMP_IPV6_MIN_MTU ? mtu : ICMP_IPV6_MIN_MTU));
	sum = offload_pseudo_v6(ip + 8, ip + 24, PROTO_ICMPV6, (uint32_t)icmp_len);
	put_csum(icmp + 2, offload_csum_finish(offload_csum_add(sum, icmp, icmp_len)));
	*reply = ip;
	return IPV6_HLEN + icmp_len;
}

bool icmp_limit_allow(struct icmp_limit *l, uint64_t now_ns)
{
	uint64_t max = ICMP_LIMIT_BURST * ICMP_LIMIT_INTERVAL_NS;

	l->credit_ns += now_ns - l->last_ns;
	l->last_ns = now_ns;
	if (l->credit_ns > max)
		l->credit_ns = max;
	if (l->credit_ns < ICMP_LIMIT_INTERVAL_NS)
		return false;
	l->credit_ns -= ICMP_LIMIT_INTERVAL_NS;
	return true;
}

size_t icmp_build_too_big(uint8_t *pkt, size_t len, size_t mtu, uint8_t **reply)
{
	if (len < IPV4_HLEN)
		return 0;
	return pkt[0] >> 4 == 6 ? build_v6(pkt, len, mtu, reply) : build_v4(pkt, len, mtu, reply);
}
