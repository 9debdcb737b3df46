/* TUN offloads: split GSO super-packets read from the TUN, coalesce packets written to it.
 *
 * Read side: the kernel gives a super-packet whose IP and transport headers describe the whole
 * payload. Each segment gets a copy of those headers with the lengths, the IPv4 ID, the TCP
 * sequence number and flags fixed and every checksum computed in full, as the kernel's own
 * software GSO (tcp_gso_segment, __udp_gso_segment) would.
 *
 * Write side: packets of one flow merge into one write while they follow the kernel's GRO rules
 * (tcp_gro_receive, udp_gro_receive_segment): same addresses, ports and IP header fields; TCP
 * segments in sequence with the same ACK, window and option bytes, carrying only ACK or ACK|PSH;
 * every segment gso_size long except a shorter last one. Only the latest write of a flow is ever
 * extended, so a flow's packets reach the kernel in the order they came. A merged write is sent
 * with NEEDS_CSUM, which makes the kernel trust its payload (CHECKSUM_PARTIAL): that is why each
 * packet's checksums are verified before it is merged, unless the caller vouches for them
 * (OFFLOAD_GRO_TRUSTED). */
#include "offload.h"
#include "be.h"

#include <errno.h>
#include <netinet/in.h>
#include <string.h>

enum {
	IPV4_HDR_MIN = 20,
	IPV6_HDR_LEN = 40,
	TCP_HDR_MIN = 20,
	UDP_HDR_LEN = 8,
	TCP_CSUM_OFFSET = 16,
	UDP_CSUM_OFFSET = 6,
};

enum ipv4_frag_bits {
	IPV4_RESERVED = 0x8000,
	IPV4_DF = 0x4000,
	IPV4_MF = 0x2000,
	IPV4_OFFSET_MASK = 0x1fff,
};

enum tcp_flag_bits {
	TCP_FIN = 0x01,
	TCP_SYN = 0x02,
	TCP_RST = 0x04,
	TCP_PSH = 0x08,
	TCP_ACK = 0x10,
	TCP_URG = 0x20,
	TCP_ECE = 0x40,
	TCP_CWR = 0x80,
};

/* Where the headers of one IP packet are; filled by parse_packet. */
struct headers {
	unsigned int version, proto;
	size_t ip_len, l4_len, total; /* total: the IP length, which may be less than the buffer */
};

/* ---- checksums ---- */

/* Ones-complement addition in 64 bits: the carry out wraps around into bit 0. */
static uint64_t add64(uint64_t sum, uint64_t v)
{
	sum += v;
	return sum + (sum < v);
}

static uint64_t load64(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

uint32_t offload_csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t acc = sum, a = 0, b = 0;
	uint32_t w32 = 0;
	uint16_t w16 = 0;

	/* Two independent chains so the carries of one do not stall the other. */
	for (; len >= 32; p += 32, len -= 32) {
		a = add64(a, load64(p));
		b = add64(b, load64(p + 8));
		a = add64(a, load64(p + 16));
		b = add64(b, load64(p + 24));
	}
	for (; len >= 8; p += 8, len -= 8)
		a = add64(a, load64(p));
	acc = add64(add64(acc, a), b);
	if (len >= 4) {
		memcpy(&w32, p, 4);
		acc = add64(acc, w32);
		p += 4;
		len -= 4;
	}
	if (len >= 2) {
		memcpy(&w16, p, 2);
		acc = add64(acc, w16);
		p += 2;
		len -= 2;
	}
	if (len) {
		/* The odd byte is the first of a 16-bit word whose second byte is zero. */
		uint8_t last[2] = { p[0], 0 };

		memcpy(&w16, last, 2);
		acc = add64(acc, w16);
	}
	acc = (acc & 0xffffffff) + (acc >> 32);
	return (uint32_t)((acc & 0xffffffff) + (acc >> 32));
}

uint16_t offload_csum_fold(uint32_t sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

uint16_t offload_csum_finish(uint32_t sum)
{
	return (uint16_t)~offload_csum_fold(sum);
}

void offload_csum_replace(uint8_t *csum, uint16_t old, uint16_t new)
{
	uint16_t c;
	uint32_t sum;

	memcpy(&c, csum, sizeof(c));
	sum = (uint16_t)~c + (uint32_t)(uint16_t)~old + new;
	c = offload_csum_finish(sum);
	memcpy(csum, &c, sizeof(c));
}

/* Protocol and length as the 16-bit words they are on the wire, loaded in host order. */
static uint32_t pseudo_tail(uint8_t proto, uint32_t len)
{
	uint8_t tail[8] = { 0, 0, (uint8_t)(len >> 8), (uint8_t)len, 0, 0, 0, proto };

	be16_put(tail, (uint16_t)(len >> 16));
	return offload_csum_add(0, tail, sizeof(tail));
}

static uint32_t add32(uint32_t a, uint32_t b)
{
	a += b;
	return a + (a < b);
}

uint32_t offload_pseudo_v4(const uint8_t src[4], const uint8_t dst[4], uint8_t proto, uint32_t len)
{
	uint32_t sum = offload_csum_add(0, src, 4);

	return add32(offload_csum_add(sum, dst, 4), pseudo_tail(proto, len));
}

uint32_t offload_pseudo_v6(const uint8_t src[16], const uint8_t dst[16], uint8_t proto,
			   uint32_t len)
{
	uint32_t sum = offload_csum_add(0, src, 16);

	return add32(offload_csum_add(sum, dst, 16), pseudo_tail(proto, len));
}

/* The pseudo-header sum of the packet at ip, whose transport segment is l4_total bytes. */
static uint32_t pseudo_sum(const uint8_t *ip, unsigned int proto, size_t l4_total)
{
	if (ip[0] >> 4 == 4)
		return offload_pseudo_v4(ip + 12, ip + 16, (uint8_t)proto, (uint32_t)l4_total);
	return offload_pseudo_v6(ip + 8, ip + 24, (uint8_t)proto, (uint32_t)l4_total);
}

static void set_ipv4_csum(uint8_t *ip, size_t ip_len)
{
	uint16_t csum;

	ip[10] = ip[11] = 0;
	csum = offload_csum_finish(offload_csum_add(0, ip, ip_len));
	memcpy(ip + 10, &csum, 2);
}

/* Computes the transport checksum of l4_total bytes at ip + ip_len. UDP sends a computed zero
 * as 0xffff, since zero means "no checksum" there; TCP does not care which zero it gets. */
static void set_l4_csum(uint8_t *ip, size_t ip_len, unsigned int proto, size_t l4_total)
{
	uint8_t *l4 = ip + ip_len;
	uint8_t *field = l4 + (proto == IPPROTO_TCP ? TCP_CSUM_OFFSET : UDP_CSUM_OFFSET);
	uint16_t csum;

	field[0] = field[1] = 0;
	csum = offload_csum_finish(offload_csum_add(pseudo_sum(ip, proto, l4_total), l4, l4_total));
	if (csum == 0)
		csum = 0xffff;
	memcpy(field, &csum, 2);
}

/* ---- parsing ---- */

static int parse_ipv4(const uint8_t *pkt, size_t len, struct headers *h)
{
	size_t ihl;

	if (len < IPV4_HDR_MIN)
		return -EINVAL;
	ihl = (size_t)(pkt[0] & 0x0f) * 4;
	h->total = be16_get(pkt + 2);
	if (ihl < IPV4_HDR_MIN || ihl > h->total || h->total > len)
		return -EINVAL;
	/* A fragment has no transport header to speak of. */
	if (be16_get(pkt + 6) & (IPV4_MF | IPV4_OFFSET_MASK))
		return -EINVAL;
	h->ip_len = ihl;
	h->proto = pkt[9];
	return 0;
}

/* Extension headers are refused: the transport header must follow the fixed header. */
static int parse_ipv6(const uint8_t *pkt, size_t len, struct headers *h)
{
	if (len < IPV6_HDR_LEN)
		return -EINVAL;
	h->total = IPV6_HDR_LEN + (size_t)be16_get(pkt + 4);
	if (h->total > len)
		return -EINVAL;
	h->ip_len = IPV6_HDR_LEN;
	h->proto = pkt[6];
	return 0;
}

static int parse_transport(const uint8_t *pkt, struct headers *h)
{
	size_t room = h->total - h->ip_len;

	if (h->proto == IPPROTO_UDP) {
		h->l4_len = UDP_HDR_LEN;
	} else if (h->proto == IPPROTO_TCP) {
		if (room < TCP_HDR_MIN)
			return -EINVAL;
		h->l4_len = (size_t)(pkt[h->ip_len + 12] >> 4) * 4;
		if (h->l4_len < TCP_HDR_MIN)
			return -EINVAL;
	} else {
		return -EINVAL;
	}
	return h->l4_len <= room ? 0 : -EINVAL;
}

/* Finds the IP and TCP or UDP headers of the IP packet at pkt, all within its IP length. */
static int parse_packet(const uint8_t *pkt, size_t len, struct headers *h)
{
	int ret;

	if (len < 1)
		return -EINVAL;
	h->version = pkt[0] >> 4;
	if (h->version == 4)
		ret = parse_ipv4(pkt, len, h);
	else if (h->version == 6)
		ret = parse_ipv6(pkt, len, h);
	else
		ret = -EINVAL;
	return ret ? ret : parse_transport(pkt, h);
}

bool offload_csum_valid(const uint8_t *pkt, size_t len)
{
	struct headers h;
	size_t l4_total;

	if (parse_packet(pkt, len, &h))
		return false;
	if (h.version == 4 && offload_csum_fold(offload_csum_add(0, pkt, h.ip_len)) != 0xffff)
		return false;
	l4_total = h.total - h.ip_len;
	/* An IPv4 UDP checksum of zero was never computed: nothing to verify, nothing to trust. */
	if (h.proto == IPPROTO_UDP && be16_get(pkt + h.ip_len + UDP_CSUM_OFFSET) == 0)
		return false;
	return offload_csum_fold(offload_csum_add(pseudo_sum(pkt, h.proto, l4_total),
						  pkt + h.ip_len, l4_total)) == 0xffff;
}

/* ---- read side ---- */

/* What one TUN read holds: the packet after the vnet header, and for GSO its headers. */
struct gso_input {
	struct virtio_net_hdr vnet;
	const uint8_t *pkt;
	size_t len;
	struct headers h;
	size_t payload, segments;
};

static int parse_gso(struct gso_input *in)
{
	unsigned int type = in->vnet.gso_type & ~VIRTIO_NET_HDR_GSO_ECN;
	unsigned int want_version = type == VIRTIO_NET_HDR_GSO_TCPV4 ? 4 : 6;
	unsigned int want_proto = type == VIRTIO_NET_HDR_GSO_UDP_L4 ? IPPROTO_UDP : IPPROTO_TCP;

	if (type != VIRTIO_NET_HDR_GSO_TCPV4 && type != VIRTIO_NET_HDR_GSO_TCPV6 &&
	    type != VIRTIO_NET_HDR_GSO_UDP_L4)
		return -EINVAL;
	if (want_proto == IPPROTO_UDP && type != in->vnet.gso_type)
		return -EINVAL; /* ECN is a TCP matter */
	if (in->vnet.gso_size == 0 || parse_packet(in->pkt, in->len, &in->h))
		return -EINVAL;
	if (in->h.proto != want_proto || (want_proto == IPPROTO_TCP && in->h.version != want_version))
		return -EINVAL;
	in->payload = in->h.total - in->h.ip_len - in->h.l4_len;
	if (in->payload == 0)
		return -EINVAL;
	in->segments = (in->payload + in->vnet.gso_size - 1) / in->vnet.gso_size;
	return 0;
}

/* The checksum field at start + offset, and the start of the sum, lie inside the packet. */
static int csum_field_ok(size_t len, size_t start, size_t offset)
{
	return start < len && offset <= len - start && len - start - offset >= 2 ? 0 : -EINVAL;
}

static int parse_input(const uint8_t *buf, size_t buf_len, struct gso_input *in)
{
	if (buf_len < OFFLOAD_VNET_HDR_LEN)
		return -EINVAL;
	memcpy(&in->vnet, buf, sizeof(in->vnet));
	in->pkt = buf + OFFLOAD_VNET_HDR_LEN;
	in->len = buf_len - OFFLOAD_VNET_HDR_LEN;
	if (in->vnet.gso_type == VIRTIO_NET_HDR_GSO_NONE) {
		in->segments = 1;
		if (in->vnet.flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
			return csum_field_ok(in->len, in->vnet.csum_start, in->vnet.csum_offset);
		return in->len ? 0 : -EINVAL;
	}
	return parse_gso(in);
}

int offload_segments(const uint8_t *in, size_t in_len)
{
	struct gso_input gi;
	int ret = parse_input(in, in_len, &gi);

	return ret ? ret : (int)gi.segments;
}

int offload_finish_csum(uint8_t *pkt, size_t len, size_t start, size_t offset)
{
	uint16_t csum;

	if (csum_field_ok(len, start, offset))
		return -EINVAL;
	/* The field holds the pseudo-header sum, so summing over it includes it. */
	csum = offload_csum_finish(offload_csum_add(0, pkt + start, len - start));
	/* As skb_checksum_help does: a computed zero goes out as 0xffff (UDP's "no checksum"). */
	if (csum == 0)
		csum = 0xffff;
	memcpy(pkt + start + offset, &csum, 2);
	return 0;
}

static int split_none(const struct gso_input *in, uint8_t *const out[], size_t out_capacity,
		      size_t out_lens[])
{
	const struct virtio_net_hdr *v = &in->vnet;

	if (in->len > out_capacity)
		return -ENOSPC;
	memmove(out[0], in->pkt, in->len);
	if (v->flags & VIRTIO_NET_HDR_F_NEEDS_CSUM)
		offload_finish_csum(out[0], in->len, v->csum_start, v->csum_offset);
	out_lens[0] = in->len;
	return 1;
}

/* Fixes the headers copied into segment i of a TCP super-packet; seq0 is the first one's. */
static void fix_tcp(uint8_t *tcp, uint32_t seq0, size_t i, uint16_t gso_size, bool last)
{
	be32_put(tcp + 4, seq0 + (uint32_t)(i * gso_size));
	/* As tcp_gso_segment: the end of the data (FIN, PSH) belongs to the last segment, and a
	 * window reduction (CWR) is announced once, by the first. */
	if (!last)
		tcp[13] &= (uint8_t)~(TCP_FIN | TCP_PSH);
	if (i > 0)
		tcp[13] &= (uint8_t)~TCP_CWR;
}

/* Builds segment i at out from the super-packet: headers, then its share of the payload. */
static size_t build_segment(const struct gso_input *in, size_t i, uint8_t *out, uint16_t id0,
			    uint32_t seq0)
{
	const struct headers *h = &in->h;
	size_t hdrs = h->ip_len + h->l4_len, at = (size_t)in->vnet.gso_size * i;
	size_t seg = in->payload - at < in->vnet.gso_size ? in->payload - at : in->vnet.gso_size;
	uint8_t *l4 = out + h->ip_len;

	/* memmove: segment 0 may be built where it already lies. */
	memmove(out, in->pkt, hdrs);
	memmove(out + hdrs, in->pkt + hdrs + at, seg);
	if (h->version == 4) {
		be16_put(out + 2, (uint16_t)(hdrs + seg));
		be16_put(out + 4, (uint16_t)(id0 + i));
		set_ipv4_csum(out, h->ip_len);
	} else {
		be16_put(out + 4, (uint16_t)(h->l4_len + seg));
	}
	if (h->proto == IPPROTO_TCP)
		fix_tcp(l4, seq0, i, in->vnet.gso_size, i + 1 == in->segments);
	else
		be16_put(l4 + 4, (uint16_t)(UDP_HDR_LEN + seg));
	set_l4_csum(out, h->ip_len, h->proto, h->l4_len + seg);
	return hdrs + seg;
}

static int split_gso(const struct gso_input *in, uint8_t *const out[], size_t max_segments,
		     size_t out_capacity, size_t out_lens[])
{
	const uint8_t *l4 = in->pkt + in->h.ip_len;
	size_t first = in->payload < in->vnet.gso_size ? in->payload : in->vnet.gso_size;
	uint16_t id0 = in->h.version == 4 ? be16_get(in->pkt + 4) : 0;
	uint32_t seq0 = in->h.proto == IPPROTO_TCP ? be32_get(l4 + 4) : 0;

	if (in->segments > max_segments || in->h.ip_len + in->h.l4_len + first > out_capacity)
		return -ENOSPC;
	/* Last to first, so that building segment 0 in place overwrites nothing still needed. */
	for (size_t i = in->segments; i-- > 0;)
		out_lens[i] = build_segment(in, i, out[i], id0, seq0);
	return (int)in->segments;
}

int offload_split(const uint8_t *in, size_t in_len, uint8_t *const out[], size_t max_segments,
		  size_t out_capacity, size_t out_lens[])
{
	struct gso_input gi;
	int ret = parse_input(in, in_len, &gi);

	if (ret)
		return ret;
	if (max_segments < 1)
		return -ENOSPC;
	if (gi.vnet.gso_type == VIRTIO_NET_HDR_GSO_NONE)
		return split_none(&gi, out, out_capacity, out_lens);
	return split_gso(&gi, out, max_segments, out_capacity, out_lens);
}

/* ---- write side ---- */

/* One received packet as GRO sees it. proto is 0 when it belongs to no flow we track. */
struct gro_packet {
	uint8_t *ip;
	size_t len;
	struct headers h;
	size_t payload;
	bool candidate; /* may be merged, checksums permitting */
};

static bool tcp_candidate(const struct gro_packet *p)
{
	uint8_t flags = p->ip[p->h.ip_len + 13];

	return flags == TCP_ACK || flags == (TCP_ACK | TCP_PSH);
}

static bool udp_candidate(const struct gro_packet *p)
{
	const uint8_t *udp = p->ip + p->h.ip_len;

	return be16_get(udp + 4) == p->len - p->h.ip_len && be16_get(udp + UDP_CSUM_OFFSET) != 0;
}

/* IPv4 without options, with DF (so the kernel may give the segments any ID) and no reserved
 * bit; IPv6 with nothing between its header and the transport's. */
static bool ip_candidate(const struct gro_packet *p)
{
	if (p->h.total != p->len)
		return false;
	if (p->h.version == 6)
		return true;
	return p->h.ip_len == IPV4_HDR_MIN &&
	       (be16_get(p->ip + 6) & (IPV4_RESERVED | IPV4_DF)) == IPV4_DF;
}

static void classify(struct gro_packet *p, uint8_t *ip, size_t len, unsigned int flags)
{
	*p = (struct gro_packet){ .ip = ip, .len = len };
	if (len > OFFLOAD_MAX_IP_LEN || parse_packet(ip, len, &p->h)) {
		p->h.proto = 0;
		return;
	}
	p->payload = p->h.total - p->h.ip_len - p->h.l4_len;
	if (p->payload == 0 || !ip_candidate(p))
		return;
	if (p->h.proto == IPPROTO_TCP)
		p->candidate = (flags & OFFLOAD_GRO_TCP) && tcp_candidate(p);
	else
		p->candidate = (flags & OFFLOAD_GRO_UDP) && udp_candidate(p);
}

/* Same connection: version, protocol, addresses and ports. */
static bool same_flow(const struct gro_packet *a, const struct gro_packet *b)
{
	size_t addrs = a->h.version == 4 ? 12 : 8, addr_len = a->h.version == 4 ? 8 : 32;

	return a->h.proto && a->h.version == b->h.version && a->h.proto == b->h.proto &&
	       !memcmp(a->ip + addrs, b->ip + addrs, addr_len) &&
	       !memcmp(a->ip + a->h.ip_len, b->ip + b->h.ip_len, 4);
}

/* The IP header fields the segments of one super-packet must share (all but lengths, ID and
 * checksum): TOS and TTL for IPv4; version, traffic class, flow label, hop limit for IPv6. */
static bool same_ip_fields(const uint8_t *a, const uint8_t *b)
{
	if (a[0] >> 4 == 4)
		return a[1] == b[1] && a[8] == b[8];
	return !memcmp(a, b, 4) && a[7] == b[7];
}

/* Same ACK number, window and option bytes; the flags were checked by tcp_candidate. */
static bool same_tcp_fields(const struct gro_packet *a, const struct gro_packet *b)
{
	const uint8_t *ta = a->ip + a->h.ip_len, *tb = b->ip + b->h.ip_len;

	return a->h.l4_len == b->h.l4_len && !memcmp(ta + 8, tb + 8, 4) &&
	       !memcmp(ta + 14, tb + 14, 2) &&
	       !memcmp(ta + TCP_HDR_MIN, tb + TCP_HDR_MIN, a->h.l4_len - TCP_HDR_MIN);
}

static bool can_append(const struct offload_write *w, const struct gro_packet *head,
		       const struct gro_packet *p)
{
	if (!w->open || !p->candidate || w->count >= OFFLOAD_MAX_SEGMENTS ||
	    w->len + p->payload > OFFLOAD_MAX_IP_LEN || p->payload > w->gso_size ||
	    !same_ip_fields(head->ip, p->ip))
		return false;
	if (p->h.proto == IPPROTO_UDP)
		return true;
	return same_tcp_fields(head, p) && be32_get(p->ip + p->h.ip_len + 4) == w->next_seq;
}

static void start_write(struct offload_gro *gro, const struct gro_packet *p, unsigned int i)
{
	struct offload_write *w = &gro->writes[gro->write_count++];

	*w = (struct offload_write){ .first = i, .last = i, .count = 1, .len = p->len,
				     .proto = p->h.proto, .open = p->candidate,
				     .gso_size = (uint16_t)p->payload };
	if (p->h.proto == IPPROTO_TCP && p->candidate) {
		w->next_seq = be32_get(p->ip + p->h.ip_len + 4) + (uint32_t)p->payload;
		/* PSH ends what the sender meant as one unit: nothing may follow it. */
		w->psh = p->ip[p->h.ip_len + 13] & TCP_PSH;
		w->open = !w->psh;
	}
	gro->next[i] = UINT8_MAX;
}

/* Verifies both packets' checksums unless trusted; a head that fails closes its write, to be
 * passed as is. */
static bool checksums_ok(struct offload_write *w, const struct gro_packet *head,
			 const struct gro_packet *p, unsigned int flags)
{
	if (flags & OFFLOAD_GRO_TRUSTED)
		return true;
	if (!w->checked) {
		w->checked = true;
		if (!offload_csum_valid(head->ip, head->len)) {
			w->open = false;
			return false;
		}
	}
	return offload_csum_valid(p->ip, p->len);
}

static void append(struct offload_gro *gro, struct offload_write *w, const struct gro_packet *p,
		   unsigned int i)
{
	gro->next[w->last] = (uint8_t)i;
	gro->next[i] = UINT8_MAX;
	w->last = i;
	w->count++;
	w->len += p->payload;
	/* Only the last segment may be shorter than gso_size. */
	if (p->payload < w->gso_size)
		w->open = false;
	if (p->h.proto == IPPROTO_TCP) {
		w->next_seq += (uint32_t)p->payload;
		if (p->ip[p->h.ip_len + 13] & TCP_PSH) {
			w->psh = true;
			w->open = false;
		}
	}
}

/* The latest write of p's flow, if any: the only one p may join without reordering the flow. */
static struct offload_write *flow_write(struct offload_gro *gro, const struct gro_packet *pkts,
					const struct gro_packet *p)
{
	for (size_t k = gro->write_count; k-- > 0;) {
		struct offload_write *w = &gro->writes[k];

		if (same_flow(&pkts[w->first], p))
			return w;
	}
	return NULL;
}

/* Rewrites the first packet's headers to describe the whole super-packet, and fills vnet. The
 * transport checksum field gets the pseudo-header sum: the kernel adds the rest (NEEDS_CSUM). */
static void finish_merged(struct offload_write *w, const struct gro_packet *head)
{
	uint8_t *ip = head->ip, *l4 = ip + head->h.ip_len;
	size_t l4_total = w->len - head->h.ip_len;
	bool tcp = w->proto == IPPROTO_TCP;
	uint16_t partial = offload_csum_fold(pseudo_sum(ip, w->proto, l4_total));

	if (head->h.version == 4) {
		be16_put(ip + 2, (uint16_t)w->len);
		set_ipv4_csum(ip, head->h.ip_len);
	} else {
		be16_put(ip + 4, (uint16_t)l4_total);
	}
	if (tcp && w->psh)
		l4[13] |= TCP_PSH;
	if (!tcp)
		be16_put(l4 + 4, (uint16_t)l4_total);
	memcpy(l4 + (tcp ? TCP_CSUM_OFFSET : UDP_CSUM_OFFSET), &partial, 2);
	w->vnet = (struct virtio_net_hdr){
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		.gso_type = !tcp ? VIRTIO_NET_HDR_GSO_UDP_L4 :
			    head->h.version == 4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6,
		.hdr_len = (uint16_t)(head->h.ip_len + head->h.l4_len),
		.gso_size = w->gso_size,
		.csum_start = (uint16_t)head->h.ip_len,
		.csum_offset = tcp ? TCP_CSUM_OFFSET : UDP_CSUM_OFFSET,
	};
}

/* Lays out each write's iovecs: vnet header, first packet, then the merged payloads. */
static void finish_writes(struct offload_gro *gro, const struct gro_packet *pkts)
{
	struct iovec *iov = gro->iov;

	for (size_t k = 0; k < gro->write_count; k++) {
		struct offload_write *w = &gro->writes[k];
		const struct gro_packet *head = &pkts[w->first];

		if (w->count > 1)
			finish_merged(w, head);
		else
			w->vnet = (struct virtio_net_hdr){ .gso_type = VIRTIO_NET_HDR_GSO_NONE };
		w->iov = iov;
		*iov++ = (struct iovec){ .iov_base = &w->vnet, .iov_len = OFFLOAD_VNET_HDR_LEN };
		*iov++ = (struct iovec){ .iov_base = head->ip, .iov_len = head->len };
		for (unsigned int i = gro->next[w->first]; i != UINT8_MAX; i = gro->next[i]) {
			size_t hdrs = pkts[i].h.ip_len + pkts[i].h.l4_len;

			*iov++ = (struct iovec){ .iov_base = pkts[i].ip + hdrs, .iov_len = pkts[i].payload };
		}
		w->iovcnt = (int)(iov - w->iov);
		w->len = head->len + OFFLOAD_VNET_HDR_LEN;
		for (int j = 2; j < w->iovcnt; j++)
			w->len += w->iov[j].iov_len;
	}
}

int offload_coalesce(struct offload_gro *gro, uint8_t *const pkts[], const size_t lens[],
		     size_t count, unsigned int flags)
{
	struct gro_packet view[OFFLOAD_MAX_BATCH];

	if (count > OFFLOAD_MAX_BATCH)
		return -ENOSPC;
	gro->write_count = 0;
	for (unsigned int i = 0; i < count; i++) {
		struct gro_packet *p = &view[i];
		struct offload_write *w;

		classify(p, pkts[i], lens[i], flags);
		w = p->h.proto ? flow_write(gro, view, p) : NULL;
		if (w && can_append(w, &view[w->first], p) && checksums_ok(w, &view[w->first], p, flags))
			append(gro, w, p, i);
		else
			start_write(gro, p, i);
	}
	finish_writes(gro, view);
	return (int)gro->write_count;
}

ssize_t offload_gather(const struct offload_write *w, uint8_t *dst, size_t cap)
{
	size_t at = 0;

	if (w->len > cap)
		return -ENOSPC;
	for (int j = 0; j < w->iovcnt; j++) {
		memcpy(dst + at, w->iov[j].iov_base, w->iov[j].iov_len);
		at += w->iov[j].iov_len;
	}
	return (ssize_t)at;
}
