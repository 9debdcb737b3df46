/* Unit tests for the plaintext wire format, IP validation, addresses, MTU and the -t hook. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "addr.h"
#include "hook.h"
#include "mtu.h"
#include "packet.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

static size_t make_ipv4(uint8_t *buf, size_t total, size_t claimed)
{
	memset(buf, 0, total);
	buf[0] = 0x45;
	buf[2] = (uint8_t)(claimed >> 8);
	buf[3] = (uint8_t)claimed;
	return total;
}

static size_t make_ipv6(uint8_t *buf, size_t total, size_t payload)
{
	memset(buf, 0, total);
	buf[0] = 0x60;
	buf[4] = (uint8_t)(payload >> 8);
	buf[5] = (uint8_t)payload;
	return total;
}

struct decode_case {
	const char *name;
	uint8_t header[4];
	int ip;          /* 0: raw zero bytes, 4 or 6: a built packet */
	size_t body_len, claimed;
	enum rx_verdict verdict;
	enum drop_reason why;
	size_t payload_len;
};

static const struct decode_case decode_cases[] = {
	{ "ipv4 data", { 'm', 'v', 1, PLAIN_DATA }, 4, 100, 100, RX_DATA, 0, 100 },
	{ "ipv4 padded", { 'm', 'v', 1, PLAIN_DATA }, 4, 112, 100, RX_DATA, 0, 100 },
	{ "ipv6 data", { 'm', 'v', 1, PLAIN_DATA }, 6, 140, 100, RX_DATA, 0, 140 },
	{ "keepalive", { 'm', 'v', 1, PLAIN_KEEPALIVE }, 0, 0, 0, RX_KEEPALIVE, 0, 0 },
	{ "keepalive with body", { 'm', 'v', 1, PLAIN_KEEPALIVE }, 4, 40, 40, RX_DROP, DROP_BAD_HEADER, 0 },
	{ "bad magic", { 'x', 'v', 1, PLAIN_DATA }, 4, 100, 100, RX_DROP, DROP_BAD_HEADER, 0 },
	{ "bad version", { 'm', 'v', 2, PLAIN_DATA }, 4, 100, 100, RX_DROP, DROP_BAD_HEADER, 0 },
	{ "bad type", { 'm', 'v', 1, 9 }, 4, 100, 100, RX_DROP, DROP_BAD_HEADER, 0 },
	{ "not ip", { 'm', 'v', 1, PLAIN_DATA }, 0, 100, 0, RX_DROP, DROP_NOT_IP, 0 },
	{ "empty data", { 'm', 'v', 1, PLAIN_DATA }, 0, 0, 0, RX_DROP, DROP_NOT_IP, 0 },
	{ "ipv4 too short", { 'm', 'v', 1, PLAIN_DATA }, 4, 19, 19, RX_DROP, DROP_BAD_IP_LENGTH, 0 },
	{ "ipv4 claims more", { 'm', 'v', 1, PLAIN_DATA }, 4, 100, 101, RX_DROP, DROP_BAD_IP_LENGTH, 0 },
	{ "ipv4 claims less than header", { 'm', 'v', 1, PLAIN_DATA }, 4, 100, 10, RX_DROP, DROP_BAD_IP_LENGTH, 0 },
	{ "ipv6 claims more", { 'm', 'v', 1, PLAIN_DATA }, 6, 100, 61, RX_DROP, DROP_BAD_IP_LENGTH, 0 },
	{ "oversized", { 'm', 'v', 1, PLAIN_DATA }, 4, 1449, 1449, RX_DROP, DROP_OVERSIZED, 0 },
};

/* An IPv4 or IPv6 packet from src:sport to dst:dport (addresses as the last byte only). */
static size_t flow_packet(uint8_t *p, int version, uint8_t proto, uint8_t src, uint8_t dst,
			  uint16_t sport, uint16_t dport)
{
	size_t l4 = version == 4 ? 20 : 40;

	memset(p, 0, 80);
	if (version == 4) {
		p[0] = 0x45, p[9] = proto, p[15] = src, p[19] = dst;
	} else {
		p[0] = 0x60, p[6] = proto, p[23] = src, p[39] = dst;
	}
	p[l4] = (uint8_t)(sport >> 8), p[l4 + 1] = (uint8_t)sport;
	p[l4 + 2] = (uint8_t)(dport >> 8), p[l4 + 3] = (uint8_t)dport;
	return l4 + 20;
}

/* The same both ways; ports count for TCP and UDP only, and not in IPv4 fragments. */
static void flow_hash(void **state)
{
	uint8_t a[80], b[80];

	for (int v = 4; v <= 6; v += 2) {
		size_t len = flow_packet(a, v, 6, 1, 2, 40000, 5201);

		flow_packet(b, v, 6, 2, 1, 5201, 40000);
		assert_int_not_equal(packet_flow_hash(a, len), 0);
		assert_int_equal(packet_flow_hash(a, len), packet_flow_hash(b, len));
		flow_packet(b, v, 6, 1, 2, 40001, 5201); /* another connection */
		assert_int_not_equal(packet_flow_hash(a, len), packet_flow_hash(b, len));
		flow_packet(b, v, 17, 1, 2, 40000, 5201); /* UDP, same ports */
		assert_int_not_equal(packet_flow_hash(a, len), packet_flow_hash(b, len));
		flow_packet(a, v, 1, 1, 2, 1, 2); /* ICMP: the "ports" are not */
		flow_packet(b, v, 1, 1, 2, 3, 4);
		assert_int_equal(packet_flow_hash(a, len), packet_flow_hash(b, len));
	}
	flow_packet(a, 4, 17, 1, 2, 1000, 53);
	flow_packet(b, 4, 17, 1, 2, 1001, 53);
	a[6] = b[6] = 0x20; /* more fragments: the ports of the first fragment are not used */
	assert_int_equal(packet_flow_hash(a, 40), packet_flow_hash(b, 40));
	assert_int_equal(packet_flow_hash(a, 19), 0);
	a[0] = 0x50;
	assert_int_equal(packet_flow_hash(a, 40), 0);
}

static void decode_table(void **state)
{
	static uint8_t dgram[2048];

	for (size_t i = 0; i < sizeof(decode_cases) / sizeof(decode_cases[0]); i++) {
		const struct decode_case *c = &decode_cases[i];
		enum drop_reason why = 0;
		size_t payload = 0;

		memcpy(dgram, c->header, 4);
		memset(dgram + 4, 0, c->body_len);
		if (c->ip == 4)
			make_ipv4(dgram + 4, c->body_len, c->claimed);
		else if (c->ip == 6)
			make_ipv6(dgram + 4, c->body_len, c->claimed);
		enum rx_verdict v = plain_decode(dgram, 4 + c->body_len, 1448, &payload, &why);
		if (v != c->verdict || (v == RX_DROP && why != c->why) ||
		    (v == RX_DATA && payload != c->payload_len))
			fail_msg("%s: verdict %d why %d payload %zu", c->name, v, why, payload);
	}
}

static void short_datagrams(void **state)
{
	uint8_t d[3] = { 'm', 'v', 1 };
	enum drop_reason why;
	size_t payload;

	for (size_t len = 0; len < sizeof(d); len++) {
		assert_int_equal(plain_decode(d, len, 1448, &payload, &why), RX_DROP);
		assert_int_equal(why, DROP_SHORT);
	}
}

static void header_roundtrip(void **state)
{
	uint8_t d[4 + 20];
	enum drop_reason why;
	size_t payload;

	plain_write_header(d, PLAIN_DATA);
	make_ipv4(d + 4, 20, 20);
	assert_int_equal(plain_decode(d, sizeof(d), 1448, &payload, &why), RX_DATA);
	assert_int_equal(payload, 20);
}

static void prefixes(void **state)
{
	struct ip_prefix p;

	assert_int_equal(addr_parse_prefix("10.1.2.3/8", &p), 0);
	assert_int_equal(p.family, AF_INET);
	assert_int_equal(p.cidr, 8);
	assert_int_equal(addr_parse_prefix("10.1.2.3", &p), 0);
	assert_int_equal(p.cidr, 32);
	assert_int_equal(addr_parse_prefix("2001:db8::1", &p), 0);
	assert_int_equal(p.cidr, 128);
	assert_int_equal(addr_parse_prefix("::/0", &p), 0);
	assert_int_equal(p.cidr, 0);
	assert_int_equal(addr_parse_prefix("10.1.2.3/", &p), -EINVAL);
	assert_int_equal(addr_parse_prefix("10.1.2.3/x", &p), -EINVAL);
	assert_int_equal(addr_parse_prefix("10.1.2/24", &p), -EINVAL);
	assert_int_equal(addr_parse_prefix("", &p), -EINVAL);
}

static void ports(void **state)
{
	uint16_t port;

	assert_int_equal(addr_parse_port("1", false, &port), 0);
	assert_int_equal(addr_parse_port("65535", false, &port), 0);
	assert_int_equal(port, 65535);
	assert_int_equal(addr_parse_port("0", true, &port), 0);
	assert_int_equal(addr_parse_port("0", false, &port), -ERANGE);
	assert_int_equal(addr_parse_port("65536", true, &port), -ERANGE);
	assert_int_equal(addr_parse_port("", true, &port), -ERANGE);
	assert_int_equal(addr_parse_port("8o", true, &port), -ERANGE);
}

static void endpoints(void **state)
{
	union endpoint a, b;
	char buf[64];

	assert_int_equal(addr_parse_literal("192.0.2.1", 12345, &a), 0);
	assert_string_equal(endpoint_format(&a, buf, sizeof(buf)), "192.0.2.1:12345");
	b = a;
	assert_int_equal(endpoint_to_family(&b, AF_INET6), 0);
	assert_int_equal(b.sa.sa_family, AF_INET6);
	assert_true(IN6_IS_ADDR_V4MAPPED(&b.in6.sin6_addr));
	assert_string_equal(endpoint_format(&b, buf, sizeof(buf)), "192.0.2.1:12345");
	assert_false(endpoint_equal(&a, &b));
	assert_int_equal(endpoint_to_family(&b, AF_INET), 0);
	assert_true(endpoint_equal(&a, &b));
	assert_int_equal(addr_parse_literal("2001:db8::2", 51820, &a), 0);
	assert_string_equal(endpoint_format(&a, buf, sizeof(buf)), "[2001:db8::2]:51820");
	assert_int_equal(endpoint_to_family(&a, AF_INET), -EAFNOSUPPORT);
	assert_int_equal(addr_parse_literal("300.1.1.1", 1, &a), -EINVAL);
	assert_true(addr_looks_numeric("300.1.1.1"));
	assert_false(addr_looks_numeric("vpn.example.com"));
	assert_int_equal(addr_resolve("300.1.1.1", 1, &a, buf, sizeof(buf)), -EINVAL);
	assert_non_null(strstr(buf, "invalid address '300.1.1.1'"));
}

static void mtu_defaults(void **state)
{
	/* Outer IPv6 (40) + UDP (8) + our header (4), and WireGuard's 32: the familiar 1420. */
	assert_int_equal(mtu_for_underlay(1500, PLAIN_HEADER_LEN), 1448);
	assert_int_equal(mtu_for_underlay(1500, 32), 1420);
	/* FLET'S PPPoE: a 1454-byte underlay. */
	assert_int_equal(mtu_for_underlay(1454, PLAIN_HEADER_LEN), 1402);
	assert_true(mtu_in_range(1450));
	assert_true(mtu_in_range(TUNNEL_MTU_MIN));
	assert_false(mtu_in_range(TUNNEL_MTU_MIN - 1));
	assert_false(mtu_in_range(TUNNEL_MTU_MAX + 1));
}

static void hook_substitution(void **state)
{
	char out[64];

	assert_int_equal(hook_expand("ifconfig %s up; echo %s", "tun3", out, sizeof(out)), 0);
	assert_string_equal(out, "ifconfig tun3 up; echo tun3");
	assert_int_equal(hook_expand("100%", "tun3", out, sizeof(out)), 0);
	assert_string_equal(out, "100%");
	assert_int_equal(hook_expand("%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s%s", "tun3", out, sizeof(out)),
			 -ENAMETOOLONG);
	assert_int_equal(hook_run("exit 0"), 0);
	assert_int_equal(hook_run("exit 3"), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(decode_table),     cmocka_unit_test(short_datagrams),
		cmocka_unit_test(header_roundtrip), cmocka_unit_test(prefixes),
		cmocka_unit_test(ports),            cmocka_unit_test(endpoints),
		cmocka_unit_test(mtu_defaults),     cmocka_unit_test(hook_substitution),
		cmocka_unit_test(flow_hash),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
