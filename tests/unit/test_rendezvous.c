/* Unit tests for the rendezvous wire formats (control messages, relay envelopes) and the
 * relay's byte budget. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "messages.h"
#include "rendezvous.h"

#include <arpa/inet.h>
#include <endian.h>

static union endpoint v4(const char *ip, uint16_t port)
{
	union endpoint ep = { 0 };

	ep.in.sin_family = AF_INET;
	inet_pton(AF_INET, ip, &ep.in.sin_addr);
	ep.in.sin_port = htons(port);
	return ep;
}

static union endpoint v6(const char *ip, uint16_t port)
{
	union endpoint ep = { 0 };

	ep.in6.sin6_family = AF_INET6;
	inet_pton(AF_INET6, ip, &ep.in6.sin6_addr);
	ep.in6.sin6_port = htons(port);
	return ep;
}

static void test_peer_round_trip(void **state)
{
	struct rdv_msg m = { .type = RDV_PEER, .flags = RDV_F_RELAY | RDV_F_MAPPED, .peer_id = 7,
			     .your_id = 3, .observed = v4("198.51.100.2", 40000), .addr_count = 2 };
	struct rdv_msg out;
	uint8_t buf[RDV_MAX_MSG + 16];
	size_t len;

	memset(m.key, 0xab, sizeof(m.key));
	m.addrs[0] = v4("10.0.0.2", 51820);
	m.addrs[1] = v6("2001:db8::2", 51820);
	len = rdv_encode(&m, buf, sizeof(buf));
	assert_int_equal(len, RDV_HEADER_LEN + RDV_KEY_LEN + 8 + 3 * RDV_ADDR_LEN);
	assert_true(rdv_is_control(buf, len));
	assert_int_equal(buf[0] >> 4, 0); /* never an IPv4 or IPv6 packet */
	memset(buf + len, 0, 16);        /* a data message's padding */
	assert_int_equal(rdv_decode(buf, len + 16, &out), 0);
	assert_int_equal(out.type, RDV_PEER);
	assert_int_equal(out.flags, RDV_F_RELAY | RDV_F_MAPPED);
	assert_int_equal(out.peer_id, 7);
	assert_int_equal(out.your_id, 3);
	assert_memory_equal(out.key, m.key, sizeof(m.key));
	assert_true(endpoint_equal(&out.observed, &m.observed));
	assert_int_equal(out.addr_count, 2);
	assert_true(endpoint_equal(&out.addrs[0], &m.addrs[0]));
	assert_true(endpoint_equal(&out.addrs[1], &m.addrs[1]));
}

static void test_query_and_hello(void **state)
{
	struct rdv_msg q = { .type = RDV_QUERY, .addr_count = 1 }, h = { .type = RDV_HELLO };
	struct rdv_msg out;
	uint8_t buf[RDV_MAX_MSG];
	size_t len;

	memset(q.key, 0x11, sizeof(q.key));
	q.addrs[0] = v4("192.0.2.9", 1);
	len = rdv_encode(&q, buf, sizeof(buf));
	assert_int_equal(rdv_decode(buf, len, &out), 0);
	assert_int_equal(out.type, RDV_QUERY);
	assert_memory_equal(out.key, q.key, sizeof(q.key));
	assert_int_equal(out.addr_count, 1);
	len = rdv_encode(&h, buf, sizeof(buf));
	assert_int_equal(len, RDV_HEADER_LEN);
	assert_int_equal(rdv_decode(buf, len, &out), 0);
	assert_int_equal(out.type, RDV_HELLO);
	assert_int_equal(out.addr_count, 0);
}

/* SEEN carries one address, the one R sees, and nothing else. */
static void test_seen(void **state)
{
	struct rdv_msg m = { .type = RDV_SEEN, .observed = v6("2001:db8::7", 4444) }, out;
	uint8_t buf[RDV_MAX_MSG];
	size_t len = rdv_encode(&m, buf, sizeof(buf));

	assert_int_equal(len, RDV_HEADER_LEN + RDV_ADDR_LEN);
	assert_int_equal(rdv_decode(buf, len, &out), 0);
	assert_int_equal(out.type, RDV_SEEN);
	assert_true(endpoint_equal(&out.observed, &m.observed));
	assert_int_equal(out.addr_count, 0);
	assert_int_equal(rdv_decode(buf, len - 1, &out), -EBADMSG);
	m.observed = v4("198.51.100.9", 51820);
	len = rdv_encode(&m, buf, sizeof(buf));
	assert_int_equal(rdv_decode(buf, len, &out), 0);
	assert_true(endpoint_equal(&out.observed, &m.observed));
}

/* Every truncation, a wrong magic, version, type or count is refused. */
static void test_rejects(void **state)
{
	struct rdv_msg m = { .type = RDV_PEER, .addr_count = 3 }, out;
	uint8_t buf[RDV_MAX_MSG];
	size_t len;

	for (int i = 0; i < 3; i++)
		m.addrs[i] = v4("10.1.1.1", (uint16_t)(100 + i));
	len = rdv_encode(&m, buf, sizeof(buf));
	for (size_t l = 0; l < len; l++)
		assert_int_not_equal(rdv_decode(buf, l, &out), 0);
	buf[0] = 0x45; /* an IPv4 packet */
	assert_false(rdv_is_control(buf, len));
	assert_int_not_equal(rdv_decode(buf, len, &out), 0);
	buf[0] = 0;
	buf[7] = RDV_VERSION + 1;
	assert_int_not_equal(rdv_decode(buf, len, &out), 0);
	buf[7] = RDV_VERSION;
	buf[4] = 99;
	assert_int_not_equal(rdv_decode(buf, len, &out), 0);
	buf[4] = RDV_PEER;
	buf[6] = RDV_MAX_ADDRS + 1;
	assert_int_not_equal(rdv_decode(buf, len, &out), 0);
	m.addr_count = RDV_MAX_ADDRS + 1;
	assert_int_equal(rdv_encode(&m, buf, sizeof(buf)), 0);
	m.addr_count = 1;
	assert_int_equal(rdv_encode(&m, buf, 10), 0); /* too small a buffer */
}

static void test_relay_header(void **state)
{
	uint8_t d[RDV_RELAY_HEADER_LEN + 32] = { 0 };
	uint32_t type = htole32(MESSAGE_RELAY), dst = htobe32(5), src = htobe32(9);
	uint32_t inner = htole32(MESSAGE_DATA);
	struct rdv_relay_header h;

	memcpy(d, &type, 4);
	memcpy(d + 4, &dst, 4);
	memcpy(d + 8, &src, 4);
	memcpy(d + 12, &inner, 4);
	assert_int_equal(rdv_relay_parse(d, sizeof(d), &h), 0);
	assert_int_equal(h.dst, 5);
	assert_int_equal(h.src, 9);
	assert_int_not_equal(rdv_relay_parse(d, RDV_RELAY_HEADER_LEN + 3, &h), 0);
	memcpy(d + 12, &type, 4); /* an envelope in an envelope */
	assert_int_not_equal(rdv_relay_parse(d, sizeof(d), &h), 0);
	/* stock WireGuard's types are 1-4 with zero reserved bytes: ours is none of them */
	assert_true(MESSAGE_RELAY > 0xff);
}

/* 10,000 bytes a second: a byte costs 100 us, and the 50 ms burst is 500 bytes. */
static void test_budget(void **state)
{
	struct rdv_budget b = { 0 };
	uint64_t rate = 10000, ms = 1000000, t0 = 5000 * ms;

	_Static_assert(RDV_BUDGET_BURST_NS == 50000000ull, "the cases below assume a 50 ms burst");
	assert_true(rdv_budget_take(&b, t0, 300, rate));
	assert_true(rdv_budget_take(&b, t0, 200, rate));
	assert_false(rdv_budget_take(&b, t0, 1, rate));       /* the burst is spent */
	assert_false(rdv_budget_take(&b, t0 + 9 * ms, 100, rate)); /* 90 of 100 bytes back */
	assert_true(rdv_budget_take(&b, t0 + 10 * ms, 100, rate));
	assert_false(rdv_budget_take(&b, t0 + 10 * ms, 1, rate));
	/* idle for a second: no more than the burst again, not a second's worth */
	assert_true(rdv_budget_take(&b, t0 + 1000 * ms, 500, rate));
	assert_false(rdv_budget_take(&b, t0 + 1000 * ms, 1, rate));
	/* at the rate exactly, for a while: all through */
	for (int i = 1; i <= 100; i++)
		assert_true(rdv_budget_take(&b, t0 + 1000 * ms + (uint64_t)i * 10 * ms, 100, rate));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_peer_round_trip),
		cmocka_unit_test(test_query_and_hello),
		cmocka_unit_test(test_seen),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_relay_header),
		cmocka_unit_test(test_budget),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
