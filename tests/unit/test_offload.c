/* Unit tests for the TUN offloads: checksums against a naive reference, GSO splitting, NEEDS_CSUM,
 * GRO coalescing and its refusals, and malformed input (exact-size heap copies, so ASan sees any
 * read past the end). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "offload.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

enum {
	VNET = OFFLOAD_VNET_HDR_LEN,
	MSS = 1400,
	SEGS = 10,
	CAP = 65536,
	OPT_LEN = 12, /* the size of a timestamp option with its padding */
};

enum { FIN = 0x01, SYN = 0x02, RST = 0x04, PSH = 0x08, ACK = 0x10, URG = 0x20, ECE = 0x40,
       CWR = 0x80 };

static uint8_t pattern[2 * CAP];
static uint8_t bufs[OFFLOAD_MAX_BATCH][CAP];

/* ---- a naive reference: 16-bit big-endian words, one at a time ---- */

static uint32_t ref_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)(p[i] << 8 | p[i + 1]);
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t ref_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)sum;
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void put16(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

static size_t ip_hdr_len(const uint8_t *ip)
{
	return ip[0] >> 4 == 4 ? (size_t)(ip[0] & 15) * 4 : 40;
}

static uint32_t ref_pseudo(const uint8_t *ip, uint8_t proto, size_t l4_len)
{
	uint32_t sum = ip[0] >> 4 == 4 ? ref_add(0, ip + 12, 8) : ref_add(0, ip + 8, 32);

	return sum + proto + (uint32_t)(l4_len >> 16) + (uint32_t)(l4_len & 0xffff);
}

/* Both checksums of a packet verify, by the reference's arithmetic. */
static bool ref_valid(const uint8_t *ip, size_t len)
{
	size_t ihl = ip_hdr_len(ip);
	uint8_t proto = ip[0] >> 4 == 4 ? ip[9] : ip[6];

	if (ip[0] >> 4 == 4 && ref_fold(ref_add(0, ip, ihl)) != 0xffff)
		return false;
	return ref_fold(ref_add(ref_pseudo(ip, proto, len - ihl), ip + ihl, len - ihl)) == 0xffff;
}

static void ref_fix_csums(uint8_t *ip, size_t len)
{
	size_t ihl = ip_hdr_len(ip);
	uint8_t proto = ip[0] >> 4 == 4 ? ip[9] : ip[6];
	uint8_t *field = ip + ihl + (proto == IPPROTO_TCP ? 16 : 6);

	if (ip[0] >> 4 == 4) {
		put16(ip + 10, 0);
		put16(ip + 10, (uint16_t)~ref_fold(ref_add(0, ip, ihl)));
	}
	put16(field, 0);
	put16(field, (uint16_t)~ref_fold(ref_add(ref_pseudo(ip, proto, len - ihl), ip + ihl,
						 len - ihl)));
}

/* ---- packet builder ---- */

struct spec {
	int version;
	uint8_t proto, tcp_flags, ttl, tos;
	uint16_t sport, dport, id, window;
	uint32_t seq, ack;
	bool no_df;
	size_t opt_len;
};

static struct spec tcp_spec(int version)
{
	return (struct spec){ .version = version, .proto = IPPROTO_TCP, .tcp_flags = ACK, .ttl = 64,
			      .sport = 40000, .dport = 5201, .id = 0xfffa, .window = 502,
			      .seq = 0xfffff000, .ack = 0x01020304, .opt_len = OPT_LEN };
}

static size_t build_ip(uint8_t *ip, const struct spec *s, size_t l4_total)
{
	static const uint8_t v4_addrs[8] = { 10, 0, 0, 1, 10, 0, 0, 2 };
	static const uint8_t v6_addrs[32] = { 0xfd, 0, [15] = 1, [16] = 0xfd, [31] = 2 };

	if (s->version == 4) {
		memset(ip, 0, 20);
		ip[0] = 0x45;
		ip[1] = s->tos;
		put16(ip + 2, 20 + l4_total);
		put16(ip + 4, s->id);
		put16(ip + 6, s->no_df ? 0 : 0x4000);
		ip[8] = s->ttl;
		ip[9] = s->proto;
		memcpy(ip + 12, v4_addrs, 8);
		return 20;
	}
	memset(ip, 0, 40);
	ip[0] = 0x60;
	put16(ip + 4, l4_total);
	ip[6] = s->proto;
	ip[7] = s->ttl;
	memcpy(ip + 8, v6_addrs, 32);
	return 40;
}

/* An IP packet with valid checksums: headers from s, then plen bytes of the pattern at off. */
static size_t build(uint8_t *ip, const struct spec *s, size_t off, size_t plen)
{
	size_t l4_len = s->proto == IPPROTO_TCP ? 20 + s->opt_len : 8;
	size_t ihl = build_ip(ip, s, l4_len + plen);
	uint8_t *l4 = ip + ihl;

	memset(l4, 0, l4_len);
	put16(l4, s->sport);
	put16(l4 + 2, s->dport);
	if (s->proto == IPPROTO_TCP) {
		put32(l4 + 4, s->seq);
		put32(l4 + 8, s->ack);
		l4[12] = (uint8_t)(l4_len / 4 << 4);
		l4[13] = s->tcp_flags;
		put16(l4 + 14, s->window);
		for (size_t i = 20; i < l4_len; i++)
			l4[i] = (uint8_t)(i == 20 || i == 21 ? 1 : 0x30 + i); /* NOP NOP, then "TS" */
	} else {
		put16(l4 + 4, l4_len + plen);
	}
	memcpy(l4 + l4_len, pattern + off, plen);
	ref_fix_csums(ip, ihl + l4_len + plen);
	return ihl + l4_len + plen;
}

/* A TUN read: vnet header, then one packet of plen payload bytes with the header s describes.
 * As the kernel does, the transport checksum field holds junk we must ignore (it is really the
 * pseudo-header sum). */
static size_t build_super(uint8_t *buf, const struct spec *s, size_t plen, uint16_t gso_size)
{
	size_t len = build(buf + VNET, s, 0, plen);
	size_t ihl = ip_hdr_len(buf + VNET);
	struct virtio_net_hdr v = {
		.flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
		.gso_type = s->proto == IPPROTO_UDP ? VIRTIO_NET_HDR_GSO_UDP_L4 :
			    s->version == 4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6,
		.hdr_len = 7, /* a lie, to show it is not believed */
		.gso_size = gso_size,
		.csum_start = (uint16_t)ihl,
		.csum_offset = s->proto == IPPROTO_UDP ? 6 : 16,
	};

	put16(buf + VNET + ihl + v.csum_offset, 0xdead);
	memcpy(buf, &v, sizeof(v));
	return VNET + len;
}

static void fill_pattern(void)
{
	for (size_t i = 0; i < sizeof(pattern); i++)
		pattern[i] = (uint8_t)(i * 7 + i / 251);
}

static uint8_t **slot_ptrs(void)
{
	static uint8_t *ptrs[OFFLOAD_MAX_BATCH];

	for (size_t i = 0; i < OFFLOAD_MAX_BATCH; i++)
		ptrs[i] = bufs[i];
	return ptrs;
}

/* ---- checksums ---- */

static uint16_t as_be(uint16_t host_order_csum)
{
	uint8_t b[2];

	memcpy(b, &host_order_csum, 2);
	return get16(b);
}

static void csum_matches_reference(void **state)
{
	static uint8_t data[700];
	uint32_t x = 12345;

	(void)state;
	for (size_t i = 0; i < sizeof(data); i++) {
		x = x * 1103515245 + 12345;
		data[i] = (uint8_t)(x >> 16);
	}
	for (size_t off = 0; off < 8; off++) {
		for (size_t len = 0; len + off <= sizeof(data); len++) {
			uint16_t ref = ref_fold(ref_add(0, data + off, len));
			uint16_t got = as_be(offload_csum_fold(offload_csum_add(0, data + off, len)));
			size_t half = len / 2 & ~(size_t)1;
			uint32_t chained = offload_csum_add(offload_csum_add(0, data + off, half),
							    data + off + half, len - half);

			assert_int_equal(got, ref);
			assert_int_equal(as_be(offload_csum_fold(chained)), ref);
		}
	}
	memset(data, 0xff, sizeof(data));
	assert_int_equal(as_be(offload_csum_fold(offload_csum_add(0, data, sizeof(data)))), 0xffff);
}

static void pseudo_matches_reference(void **state)
{
	uint8_t ip4[20] = { 0x45, [12] = 192, 168, 1, 2, 203, 0, 113, 200 };
	uint8_t ip6[40] = { 0x60, [8] = 0x20, 0x01, 0x0d, 0xb8, [23] = 9, [24] = 0xfe, 0x80, [39] = 1 };

	(void)state;
	assert_int_equal(as_be(offload_csum_fold(offload_pseudo_v4(ip4 + 12, ip4 + 16, 6, 1480))),
			 ref_fold(ref_pseudo(ip4, 6, 1480)));
	assert_int_equal(as_be(offload_csum_fold(offload_pseudo_v6(ip6 + 8, ip6 + 24, 17, 70000))),
			 ref_fold(ref_pseudo(ip6, 17, 70000)));
}

/* ---- read side ---- */

struct split_case {
	const char *name;
	int version;
	uint8_t proto, flags;
	size_t payload;
	bool in_place;
};

static const struct split_case split_cases[] = {
	{ "tcp4 fin psh cwr", 4, IPPROTO_TCP, ACK | PSH | FIN | CWR, SEGS * MSS, false },
	{ "tcp6 fin psh", 6, IPPROTO_TCP, ACK | PSH | FIN, SEGS * MSS, false },
	{ "tcp4 short tail", 4, IPPROTO_TCP, ACK | PSH, SEGS * MSS - 333, false },
	{ "tcp6 in place", 6, IPPROTO_TCP, ACK | PSH, SEGS * MSS - 1, true },
	{ "tcp4 in place", 4, IPPROTO_TCP, ACK | FIN | CWR, SEGS * MSS, true },
	{ "udp4", 4, IPPROTO_UDP, 0, SEGS * MSS - 7, false },
	{ "udp6 in place", 6, IPPROTO_UDP, 0, SEGS * MSS, true },
	{ "tcp4 one segment", 4, IPPROTO_TCP, ACK | PSH | FIN | CWR, MSS, false },
};

static void check_tcp_segment(const uint8_t *l4, const struct spec *s, size_t i, size_t n)
{
	uint8_t want = s->tcp_flags;

	if (i + 1 < n)
		want &= (uint8_t)~(FIN | PSH);
	if (i > 0)
		want &= (uint8_t)~CWR;
	assert_int_equal(get32(l4 + 4), (uint32_t)(s->seq + i * MSS));
	assert_int_equal(l4[13], want);
	assert_int_equal(get32(l4 + 8), s->ack);
	assert_int_equal(get16(l4 + 14), s->window);
}

static void check_segments(const struct split_case *c, const struct spec *s, uint8_t *const out[],
			   const size_t lens[], int n)
{
	size_t hdrs = (c->version == 4 ? 20 : 40) + (c->proto == IPPROTO_TCP ? 20 + OPT_LEN : 8);

	assert_int_equal(n, (int)((c->payload + MSS - 1) / MSS));
	for (int i = 0; i < n; i++) {
		size_t seg = i + 1 < n ? MSS : c->payload - (size_t)i * MSS;
		const uint8_t *ip = out[i], *l4 = ip + ip_hdr_len(ip);

		assert_int_equal(lens[i], hdrs + seg);
		assert_true(ref_valid(ip, lens[i]));
		assert_true(offload_csum_valid(ip, lens[i]));
		assert_memory_equal(ip + hdrs, pattern + (size_t)i * MSS, seg);
		if (c->version == 4) {
			assert_int_equal(get16(ip + 2), lens[i]);
			assert_int_equal(get16(ip + 4), (uint16_t)(s->id + i));
		} else {
			assert_int_equal(get16(ip + 4), lens[i] - 40);
		}
		if (c->proto == IPPROTO_TCP)
			check_tcp_segment(l4, s, (size_t)i, (size_t)n);
		else
			assert_int_equal(get16(l4 + 4), 8 + seg);
	}
}

static void split_table(void **state)
{
	static uint8_t in[CAP + VNET];
	uint8_t *out[OFFLOAD_MAX_BATCH];
	size_t lens[OFFLOAD_MAX_BATCH];

	(void)state;
	for (size_t k = 0; k < sizeof(split_cases) / sizeof(split_cases[0]); k++) {
		const struct split_case *c = &split_cases[k];
		struct spec s = tcp_spec(c->version);
		size_t len;
		int n;

		print_message("  %s\n", c->name);
		s.proto = c->proto;
		s.tcp_flags = c->flags;
		len = build_super(in, &s, c->payload, MSS);
		memcpy(out, slot_ptrs(), sizeof(out));
		if (c->in_place)
			out[0] = in + VNET;
		assert_int_equal(offload_segments(in, len), (int)((c->payload + MSS - 1) / MSS));
		n = offload_split(in, len, out, OFFLOAD_MAX_BATCH, CAP, lens);
		check_segments(c, &s, out, lens, n);
	}
}

/* A single packet, its checksum left for us: the field holds the pseudo-header sum. */
static void needs_csum_completion(void **state)
{
	static uint8_t in[2000];
	uint8_t *out[1] = { bufs[0] };
	size_t lens[1];

	(void)state;
	for (int proto = 0; proto < 2; proto++) {
		struct spec s = tcp_spec(proto ? 6 : 4);
		size_t len, ihl = proto ? 40 : 20, off = proto ? 6 : 16;
		struct virtio_net_hdr v = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM,
					    .csum_start = (uint16_t)ihl, .csum_offset = (uint16_t)off };

		s.proto = proto ? IPPROTO_UDP : IPPROTO_TCP;
		len = build(in + VNET, &s, 5, 1001);
		put16(in + VNET + ihl + off, ref_fold(ref_pseudo(in + VNET, s.proto, len - ihl)));
		assert_false(ref_valid(in + VNET, len));
		memcpy(in, &v, sizeof(v));
		assert_int_equal(offload_split(in, VNET + len, out, 1, CAP, lens), 1);
		assert_int_equal(lens[0], len);
		assert_true(ref_valid(bufs[0], len));
		/* In place, the same. */
		out[0] = in + VNET;
		assert_int_equal(offload_split(in, VNET + len, out, 1, CAP, lens), 1);
		assert_true(ref_valid(in + VNET, len));
		out[0] = bufs[0];
	}
}

/* A UDP checksum that computes to zero goes out as 0xffff: zero would mean "none". */
static void udp_zero_checksum(void **state)
{
	static uint8_t in[VNET + 200];
	struct spec s = tcp_spec(4);
	uint8_t *out[1] = { bufs[0] }, *ip = in + VNET, *udp = ip + 20;
	size_t len, lens[1];
	uint16_t sum;
	struct virtio_net_hdr v = { .flags = VIRTIO_NET_HDR_F_NEEDS_CSUM, .csum_start = 20,
				    .csum_offset = 6 };

	(void)state;
	s.proto = IPPROTO_UDP;
	len = build(ip, &s, 0, 100);
	/* Choose the last two payload bytes so that the data sums to 0xffff. */
	put16(udp + 6, 0);
	put16(udp + 8 + 98, 0);
	sum = ref_fold(ref_add(ref_pseudo(ip, IPPROTO_UDP, 108), udp, 108));
	put16(udp + 8 + 98, 0xffff - sum);
	for (int gso = 0; gso < 2; gso++) {
		v.gso_type = gso ? VIRTIO_NET_HDR_GSO_UDP_L4 : VIRTIO_NET_HDR_GSO_NONE;
		v.gso_size = gso ? 100 : 0;
		put16(udp + 6, ref_fold(ref_pseudo(ip, IPPROTO_UDP, 108)));
		memcpy(in, &v, sizeof(v));
		assert_int_equal(offload_split(in, VNET + len, out, 1, CAP, lens), 1);
		assert_int_equal(get16(bufs[0] + 20 + 6), 0xffff);
		assert_true(ref_valid(bufs[0], lens[0]));
	}
}

static void plain_packet_copied(void **state)
{
	static const uint8_t in[VNET + 5] = { [VNET] = 0x45, 1, 2, 3, 4 };
	uint8_t *out[1] = { bufs[0] };
	size_t lens[1];

	(void)state;
	assert_int_equal(offload_split(in, sizeof(in), out, 1, CAP, lens), 1);
	assert_int_equal(lens[0], 5);
	assert_memory_equal(bufs[0], in + VNET, 5);
}

static void split_no_room(void **state)
{
	static uint8_t in[CAP + VNET];
	struct spec s = tcp_spec(4);
	size_t len = build_super(in, &s, SEGS * MSS, MSS), lens[OFFLOAD_MAX_BATCH];
	size_t hdrs = 20 + 20 + OPT_LEN;

	(void)state;
	assert_int_equal(offload_split(in, len, slot_ptrs(), SEGS - 1, CAP, lens), -ENOSPC);
	assert_int_equal(offload_split(in, len, slot_ptrs(), 0, CAP, lens), -ENOSPC);
	assert_int_equal(offload_split(in, len, slot_ptrs(), SEGS, hdrs + MSS - 1, lens), -ENOSPC);
	assert_int_equal(offload_split(in, len, slot_ptrs(), SEGS, hdrs + MSS, lens), SEGS);
	assert_int_equal(offload_split(in, VNET + 20, slot_ptrs(), 1, 19, lens), -EINVAL);
	in[VNET] = 0x45;
	memset(in, 0, VNET);
	assert_int_equal(offload_split(in, VNET + 20, slot_ptrs(), 1, 19, lens), -ENOSPC);
}

/* ---- malformed input ---- */

struct poke {
	size_t at; /* byte of the IP packet */
	uint8_t value;
};

struct bad_case {
	const char *name;
	int version;
	struct poke pokes[3];
	size_t npokes;
	size_t cut;     /* bytes of the read to keep, 0 for all */
	uint16_t gso_size, csum_start, csum_offset;
	int gso_type;   /* -1: keep the builder's */
};

#define KEEP .gso_size = MSS, .gso_type = -1
#define POKE(a, v) .pokes = { { a, v } }, .npokes = 1
#define NONE_CSUM(start, off) .csum_start = start, .csum_offset = off, \
	.gso_type = VIRTIO_NET_HDR_GSO_NONE

static const struct bad_case bad_cases[] = {
	{ "no vnet header", 4, .cut = 9, KEEP },
	{ "vnet header only", 4, .cut = VNET, KEEP },
	{ "truncated ipv4 header", 4, .cut = VNET + 19, KEEP },
	{ "truncated tcp header", 4, .cut = VNET + 39, KEEP },
	{ "truncated ipv6 header", 6, .cut = VNET + 39, KEEP },
	{ "truncated payload", 6, .cut = VNET + 1000, KEEP },
	{ "gso_size 0", 4, .gso_size = 0, .gso_type = -1 },
	{ "ihl 4", 4, POKE(0, 0x44), KEEP },
	{ "ihl 0", 4, POKE(0, 0x40), KEEP },
	{ "ihl past the end", 4, .pokes = { { 0, 0x4f }, { 2, 0 }, { 3, 40 } }, .npokes = 3, KEEP },
	{ "ipv4 total length lies", 4, POKE(2, 0xff), KEEP },
	{ "ipv4 total length below header", 4, .pokes = { { 2, 0 }, { 3, 10 } }, .npokes = 2, KEEP },
	{ "ipv4 fragment", 4, POKE(6, 0x20), KEEP },
	{ "ipv4 fragment offset", 4, POKE(7, 0x01), KEEP },
	{ "ipv4 not tcp", 4, POKE(9, IPPROTO_ICMP), KEEP },
	{ "version 5", 4, POKE(0, 0x55), KEEP },
	{ "ipv6 payload length lies", 6, POKE(4, 0xff), KEEP },
	{ "ipv6 extension header", 6, POKE(6, 0 /* hop-by-hop */), KEEP },
	{ "tcp data offset 4", 4, POKE(32, 0x40), KEEP },
	{ "tcp data offset past the end", 4,
	  .pokes = { { 32, 0xf0 }, { 2, 0 }, { 3, 60 } }, .npokes = 3, KEEP },
	{ "no payload", 4, .pokes = { { 2, 0 }, { 3, 52 } }, .npokes = 2, KEEP },
	{ "no v6 payload", 6, .pokes = { { 4, 0 }, { 5, 32 } }, .npokes = 2, KEEP },
	{ "tcpv4 with ipv6", 6, .gso_size = MSS, .gso_type = VIRTIO_NET_HDR_GSO_TCPV4 },
	{ "tcpv6 with ipv4", 4, .gso_size = MSS, .gso_type = VIRTIO_NET_HDR_GSO_TCPV6 },
	{ "udp_l4 with tcp", 4, .gso_size = MSS, .gso_type = VIRTIO_NET_HDR_GSO_UDP_L4 },
	{ "udp_l4 with ecn", 4, .gso_size = MSS,
	  .gso_type = VIRTIO_NET_HDR_GSO_UDP_L4 | VIRTIO_NET_HDR_GSO_ECN },
	{ "ufo", 4, .gso_size = MSS, .gso_type = VIRTIO_NET_HDR_GSO_UDP },
	{ "unknown gso type", 4, .gso_size = MSS, .gso_type = 9 },
	{ "needs_csum start past end", 4, NONE_CSUM(5000, 0) },
	{ "needs_csum start at end", 4, NONE_CSUM(1452, 0) },
	{ "needs_csum field past end", 4, NONE_CSUM(20, 1431) },
	{ "needs_csum huge offset", 4, NONE_CSUM(20, 0xffff) },
	{ "none but empty", 4, .cut = VNET, NONE_CSUM(0, 0) },
};

/* Runs one malformed read from an exact-size heap copy: ASan catches any read past its end. */
static void run_bad_case(const struct bad_case *c, uint8_t *in)
{
	struct spec s = tcp_spec(c->version);
	bool none = c->gso_type == VIRTIO_NET_HDR_GSO_NONE;
	size_t len = build_super(in, &s, none ? 1400 : 3 * MSS, MSS);
	size_t lens[OFFLOAD_MAX_BATCH];
	struct virtio_net_hdr v;
	uint8_t *copy;

	memcpy(&v, in, sizeof(v));
	v.gso_size = c->gso_size;
	if (c->gso_type >= 0)
		v.gso_type = (uint8_t)c->gso_type;
	if (none) {
		v.csum_start = c->csum_start;
		v.csum_offset = c->csum_offset;
	}
	memcpy(in, &v, sizeof(v));
	for (size_t i = 0; i < c->npokes; i++)
		in[VNET + c->pokes[i].at] = c->pokes[i].value;
	if (c->cut)
		len = c->cut;
	copy = malloc(len);
	memcpy(copy, in, len);
	print_message("  %s\n", c->name);
	assert_int_equal(offload_segments(copy, len), -EINVAL);
	assert_int_equal(offload_split(copy, len, slot_ptrs(), OFFLOAD_MAX_BATCH, CAP, lens), -EINVAL);
	free(copy);
}

static void malformed_table(void **state)
{
	static uint8_t in[CAP + VNET];

	(void)state;
	for (size_t k = 0; k < sizeof(bad_cases) / sizeof(bad_cases[0]); k++)
		run_bad_case(&bad_cases[k], in);
}

/* ---- write side ---- */

/* n consecutive segments of one flow into bufs[first..], MSS bytes each but the last (last_len). */
static void build_run(uint8_t **pkts, size_t *lens, size_t first, size_t n, const struct spec *s0,
		      size_t last_len)
{
	struct spec s = *s0;

	for (size_t i = 0; i < n; i++) {
		size_t plen = i + 1 == n ? last_len : MSS;

		s.tcp_flags = i + 1 == n ? s0->tcp_flags : (uint8_t)(s0->tcp_flags & ~PSH);
		pkts[first + i] = bufs[first + i];
		lens[first + i] = build(pkts[first + i], &s, i * MSS, plen);
		s.seq += (uint32_t)plen;
		s.id++;
	}
}

static void check_super_vnet(const struct virtio_net_hdr *v, int version, size_t hdrs)
{
	assert_int_equal(v->flags, VIRTIO_NET_HDR_F_NEEDS_CSUM);
	assert_int_equal(v->gso_type, version == 4 ? VIRTIO_NET_HDR_GSO_TCPV4 : VIRTIO_NET_HDR_GSO_TCPV6);
	assert_int_equal(v->gso_size, MSS);
	assert_int_equal(v->hdr_len, hdrs);
	assert_int_equal(v->csum_start, version == 4 ? 20 : 40);
	assert_int_equal(v->csum_offset, 16);
}

/* Splits what coalescing made, as the kernel would, and expects the original segments back. */
static void check_resplit(const uint8_t *super, size_t len, uint8_t **orig, const size_t *orig_lens,
			  size_t n)
{
	static uint8_t seg_bufs[SEGS][CAP];
	uint8_t *out[SEGS];
	size_t lens[SEGS];

	for (size_t i = 0; i < SEGS; i++)
		out[i] = seg_bufs[i];
	assert_int_equal(offload_split(super, len, out, SEGS, CAP, lens), (int)n);
	for (size_t i = 0; i < n; i++) {
		assert_int_equal(lens[i], orig_lens[i]);
		assert_memory_equal(out[i], orig[i], lens[i]);
	}
}

static void coalesce_roundtrip(void **state)
{
	static uint8_t super[CAP + VNET];
	static uint8_t copies[SEGS][2000];
	static struct offload_gro gro;
	uint8_t *pkts[SEGS], *orig[SEGS];
	size_t lens[SEGS];

	(void)state;
	for (int version = 4; version <= 6; version += 2) {
		struct spec s = tcp_spec(version);
		size_t ihl = version == 4 ? 20 : 40, hdrs = ihl + 20 + OPT_LEN, len;
		struct virtio_net_hdr v;
		uint8_t *ip = super + VNET;

		s.tcp_flags = ACK | PSH;
		build_run(pkts, lens, 0, SEGS, &s, MSS - 99);
		for (size_t i = 0; i < SEGS; i++) {
			memcpy(copies[i], pkts[i], lens[i]);
			orig[i] = copies[i];
		}
		assert_int_equal(offload_coalesce(&gro, pkts, lens, SEGS, OFFLOAD_GRO_TCP), 1);
		assert_int_equal(gro.writes[0].count, SEGS);
		assert_int_equal(gro.writes[0].iovcnt, SEGS + 1);
		len = (size_t)offload_gather(&gro.writes[0], super, sizeof(super));
		assert_int_equal(len, gro.writes[0].len);
		assert_int_equal(len, VNET + hdrs + SEGS * MSS - 99);
		memcpy(&v, super, sizeof(v));
		check_super_vnet(&v, version, hdrs);
		assert_int_equal(get16(ip + (version == 4 ? 2 : 4)), len - VNET - (version == 4 ? 0 : 40));
		assert_int_equal(get32(ip + ihl + 4), s.seq);
		assert_int_equal(ip[ihl + 13], ACK | PSH);
		assert_memory_equal(ip + hdrs, pattern, SEGS * MSS - 99);
		/* The field holds the pseudo-header sum, as the kernel expects for NEEDS_CSUM. */
		assert_int_equal(get16(ip + ihl + 16), ref_fold(ref_pseudo(ip, IPPROTO_TCP, len - VNET - ihl)));
		if (version == 4)
			assert_int_equal(ref_fold(ref_add(0, ip, 20)), 0xffff);
		check_resplit(super, len, orig, lens, SEGS);
	}
}

/* What happens to segment 2 of 4 (or the flags given) and the writes that must result. */
struct refuse_case {
	const char *name;
	size_t at;   /* byte of packet 2 to change, SIZE_MAX for none */
	uint8_t xor;
	unsigned int flags;
	size_t writes, first_count;
	int version;
};

/* Offsets in packet 2: IPv4 (20 bytes) then TCP, so TCP byte n is at 20 + n. */
static const struct refuse_case refuse_cases[] = {
	{ "all merge", SIZE_MAX, 0, OFFLOAD_GRO_TCP, 1, 4, 4 },
	{ "all merge v6", SIZE_MAX, 0, OFFLOAD_GRO_TCP, 1, 4, 6 },
	{ "no offload flags", SIZE_MAX, 0, 0, 4, 1, 4 },
	{ "udp flag only", SIZE_MAX, 0, OFFLOAD_GRO_UDP, 4, 1, 4 },
	{ "other port", 20 + 3, 1, OFFLOAD_GRO_TCP, 3, 2, 4 },
	{ "other address", 19, 1, OFFLOAD_GRO_TCP, 3, 2, 4 },
	{ "other v6 address", 39, 1, OFFLOAD_GRO_TCP, 3, 2, 6 },
	{ "sequence gap", 20 + 7, 1, OFFLOAD_GRO_TCP, 3, 2, 4 },
	{ "syn", 20 + 13, SYN, OFFLOAD_GRO_TCP, 3, 2, 4 },
	{ "fin", 20 + 13, FIN, OFFLOAD_GRO_TCP, 3, 2, 4 },
	{ "rst", 20 + 13, RST, OFFLOAD_GRO_TCP, 3, 2, 4 },
	{ "urg", 20 + 13, URG, OFFLOAD_GRO_TCP, 3, 2, 4 },
	{ "ece", 20 + 13, ECE, OFFLOAD_GRO_TCP, 3, 2, 4 },
	{ "cwr", 20 + 13, CWR, OFFLOAD_GRO_TCP, 3, 2, 4 },
	{ "psh", 20 + 13, PSH, OFFLOAD_GRO_TCP, 2, 3, 4 },
	{ "other ack", 20 + 11, 1, OFFLOAD_GRO_TCP, 3, 2, 4 },
	{ "other window", 20 + 15, 1, OFFLOAD_GRO_TCP, 3, 2, 4 },
	{ "other options", 20 + 30, 1, OFFLOAD_GRO_TCP, 3, 2, 4 },
	{ "other v6 options", 40 + 25, 1, OFFLOAD_GRO_TCP, 3, 2, 6 },
	{ "other ttl", 8, 1, OFFLOAD_GRO_TCP, 3, 2, 4 },
	{ "other tos", 1, 4, OFFLOAD_GRO_TCP, 3, 2, 4 },
	{ "other hop limit", 7, 1, OFFLOAD_GRO_TCP, 3, 2, 6 },
	{ "other flow label", 3, 1, OFFLOAD_GRO_TCP, 3, 2, 6 },
	{ "no df", 6, 0x40, OFFLOAD_GRO_TCP, 3, 2, 4 },
	{ "bad tcp checksum", 20 + 16, 1, OFFLOAD_GRO_TCP, 3, 2, 4 },
	{ "bad v6 tcp checksum", 40 + 16, 1, OFFLOAD_GRO_TCP, 3, 2, 6 },
	{ "bad payload", 500, 0x10, OFFLOAD_GRO_TCP, 3, 2, 4 },
	{ "bad ip checksum", 10, 1, OFFLOAD_GRO_TCP, 3, 2, 4 },
	/* trusted: what the sender made is merged as it is */
	{ "bad tcp checksum, trusted", 20 + 16, 1, OFFLOAD_GRO_TCP | OFFLOAD_GRO_TRUSTED, 1, 4, 4 },
	{ "bad v6 tcp checksum, trusted", 40 + 16, 1, OFFLOAD_GRO_TCP | OFFLOAD_GRO_TRUSTED, 1, 4, 6 },
	{ "other port, trusted", 20 + 3, 1, OFFLOAD_GRO_TCP | OFFLOAD_GRO_TRUSTED, 3, 2, 4 },
};

/* Changes one byte and, unless it is meant to break them, fixes the checksums after it. */
static void mangle(uint8_t *ip, size_t len, const struct refuse_case *c)
{
	ip[c->at] ^= c->xor;
	if (strncmp(c->name, "bad", 3))
		ref_fix_csums(ip, len);
}

static void coalesce_refusals(void **state)
{
	static struct offload_gro gro;
	uint8_t *pkts[4];
	size_t lens[4];

	(void)state;
	for (size_t k = 0; k < sizeof(refuse_cases) / sizeof(refuse_cases[0]); k++) {
		const struct refuse_case *c = &refuse_cases[k];
		struct spec s = tcp_spec(c->version);
		uint8_t before[2000];

		print_message("  %s\n", c->name);
		build_run(pkts, lens, 0, 4, &s, MSS);
		if (c->at != SIZE_MAX)
			mangle(pkts[2], lens[2], c);
		memcpy(before, pkts[2], lens[2]);
		assert_int_equal(offload_coalesce(&gro, pkts, lens, 4, c->flags), (int)c->writes);
		assert_int_equal(gro.writes[0].count, c->first_count);
		/* A packet passed through is left as it was, behind a zero header. */
		for (size_t w = 0; w < gro.write_count; w++) {
			const struct offload_write *wr = &gro.writes[w];

			if (wr->count == 1) {
				assert_int_equal(wr->vnet.gso_type, VIRTIO_NET_HDR_GSO_NONE);
				assert_int_equal(wr->vnet.flags, 0);
				assert_int_equal(wr->iovcnt, 2);
				assert_int_equal(wr->len, VNET + lens[wr->first]);
			}
			if (wr->first == 2 && wr->count == 1)
				assert_memory_equal(pkts[2], before, lens[2]);
		}
	}
}

/* Two flows interleaved, a short segment that ends a run, and a pure ACK in the middle. */
static void coalesce_interleaved(void **state)
{
	static struct offload_gro gro;
	struct spec a = tcp_spec(4), b = tcp_spec(6);
	uint8_t *pkts[12], *tmp[12];
	size_t lens[12], tmp_lens[12];

	(void)state;
	b.sport = 1234;
	build_run(tmp, tmp_lens, 0, 6, &a, 700);
	build_run(tmp, tmp_lens, 6, 6, &b, MSS);
	for (size_t i = 0; i < 6; i++) {
		pkts[2 * i] = tmp[i], lens[2 * i] = tmp_lens[i];
		pkts[2 * i + 1] = tmp[6 + i], lens[2 * i + 1] = tmp_lens[6 + i];
	}
	assert_int_equal(offload_coalesce(&gro, pkts, lens, 12, OFFLOAD_GRO_TCP), 2);
	assert_int_equal(gro.writes[0].first, 0);
	assert_int_equal(gro.writes[0].count, 6);
	assert_int_equal(gro.writes[1].first, 1);
	assert_int_equal(gro.writes[1].count, 6);
	assert_int_equal(gro.writes[0].len, VNET + 20 + 32 + 5 * MSS + 700);

	/* A pure ACK of flow a between its segments keeps its place: the segment after it may not
	 * join the write before it, even though its sequence number would fit. */
	build_run(pkts, lens, 0, 3, &a, MSS);
	pkts[3] = bufs[3];
	memcpy(pkts[3], pkts[2], lens[2]);
	lens[3] = lens[2];
	a.seq += 2 * MSS;
	lens[2] = build(pkts[2], &a, 0, 0);
	assert_int_equal(offload_coalesce(&gro, pkts, lens, 4, OFFLOAD_GRO_TCP), 3);
	assert_int_equal(gro.writes[0].count, 2);
	assert_int_equal(gro.writes[1].first, 2);
	assert_int_equal(gro.writes[2].first, 3);
}

/* The super-packet stops below 65536 bytes of IP length. */
static void coalesce_size_limit(void **state)
{
	static struct offload_gro gro;
	struct spec s = tcp_spec(4);
	uint8_t *pkts[50];
	size_t lens[50], total;

	(void)state;
	build_run(pkts, lens, 0, 50, &s, MSS);
	assert_int_equal(offload_coalesce(&gro, pkts, lens, 50, OFFLOAD_GRO_TCP), 2);
	total = gro.writes[0].len - VNET;
	assert_true(total <= 65535);
	assert_true(total + MSS > 65535);
	assert_int_equal(gro.writes[0].count + gro.writes[1].count, 50);
	assert_int_equal(offload_coalesce(&gro, pkts, lens, OFFLOAD_MAX_BATCH + 1, OFFLOAD_GRO_TCP),
			 -ENOSPC);
}

static void coalesce_udp(void **state)
{
	static struct offload_gro gro;
	static uint8_t super[CAP + VNET];
	static uint8_t seg_bufs[5][CAP];
	uint8_t *pkts[5], *out[5];
	size_t lens[5], out_lens[5], len;

	(void)state;
	for (int version = 4; version <= 6; version += 2) {
		struct spec s = tcp_spec(version);

		s.proto = IPPROTO_UDP;
		for (size_t i = 0; i < 5; i++) {
			pkts[i] = bufs[i];
			out[i] = seg_bufs[i];
			lens[i] = build(pkts[i], &s, i * MSS, i == 4 ? 3 : MSS);
			s.id++;
		}
		assert_int_equal(offload_coalesce(&gro, pkts, lens, 5, OFFLOAD_GRO_TCP), 5);
		assert_int_equal(offload_coalesce(&gro, pkts, lens, 5, OFFLOAD_GRO_UDP), 1);
		assert_int_equal(gro.writes[0].vnet.gso_type, VIRTIO_NET_HDR_GSO_UDP_L4);
		assert_int_equal(gro.writes[0].vnet.csum_offset, 6);
		len = (size_t)offload_gather(&gro.writes[0], super, sizeof(super));
		assert_memory_equal(super + VNET + (version == 4 ? 28 : 48), pattern, 4 * MSS + 3);
		assert_int_equal(offload_split(super, len, out, 5, CAP, out_lens), 5);
		for (size_t i = 0; i < 5; i++) {
			assert_true(ref_valid(out[i], out_lens[i]));
			assert_memory_equal(out[i] + out_lens[i] - (i == 4 ? 3 : MSS), pattern + i * MSS,
					    i == 4 ? 3 : MSS);
		}
	}
}

/* Garbage and truncated packets pass through untouched, from exact-size copies. */
static void coalesce_garbage(void **state)
{
	static struct offload_gro gro;
	struct spec s = tcp_spec(4);
	uint8_t *pkts[6];
	size_t lens[6] = { 0, 1, 19, 39, 45, 0 };
	uint8_t full[2000];
	size_t full_len = build(full, &s, 0, MSS);

	(void)state;
	lens[5] = full_len;
	for (size_t i = 0; i < 6; i++) {
		pkts[i] = malloc(lens[i] ? lens[i] : 1);
		memcpy(pkts[i], full, lens[i]);
	}
	assert_int_equal(offload_coalesce(&gro, pkts, lens, 6, OFFLOAD_GRO_TCP), 6);
	for (size_t i = 0; i < 6; i++) {
		assert_int_equal(gro.writes[i].len, VNET + lens[i]);
		free(pkts[i]);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(csum_matches_reference),
		cmocka_unit_test(pseudo_matches_reference),
		cmocka_unit_test(split_table),
		cmocka_unit_test(needs_csum_completion),
		cmocka_unit_test(udp_zero_checksum),
		cmocka_unit_test(plain_packet_copied),
		cmocka_unit_test(split_no_room),
		cmocka_unit_test(malformed_table),
		cmocka_unit_test(coalesce_roundtrip),
		cmocka_unit_test(coalesce_refusals),
		cmocka_unit_test(coalesce_interleaved),
		cmocka_unit_test(coalesce_size_limit),
		cmocka_unit_test(coalesce_udp),
		cmocka_unit_test(coalesce_garbage),
	};

	fill_pattern();
	return cmocka_run_group_tests(tests, NULL, NULL);
}
