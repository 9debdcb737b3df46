/* Unit tests for CoDel (clock passed in) and ECN CE marking. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "codel.h"

#define MS 1000000ull
#define BULK 1400
#define SPARSE 64

/* Feeds one bulk packet every step_ns from start to end (exclusive) with the given sojourn;
 * records at which times a signal came. Returns the number of signals. */
static int feed(struct codel *c, uint64_t start, uint64_t end, uint64_t step, uint64_t sojourn,
		uint64_t *at, int max)
{
	int n = 0;

	for (uint64_t t = start; t < end; t += step)
		if (codel_decide(c, sojourn, t, BULK)) {
			if (n < max)
				at[n] = t;
			n++;
		}
	return n;
}

static void test_disabled(void **state)
{
	struct codel c;
	uint64_t at[4];

	codel_init(&c, 0, 100 * MS);
	assert_int_equal(feed(&c, 1, 1000 * MS, MS, 50 * MS, at, 4), 0);
}

/* A queue above target for less than an interval is a burst: no signal. */
static void test_burst_is_not_signalled(void **state)
{
	struct codel c;
	uint64_t at[4];

	codel_init(&c, MS, 100 * MS);
	assert_int_equal(feed(&c, 1, 90 * MS, MS, 5 * MS, at, 4), 0);
	assert_int_equal(feed(&c, 90 * MS, 300 * MS, MS, 0, at, 4), 0);
	/* above again: the interval starts over */
	assert_int_equal(feed(&c, 300 * MS, 399 * MS, MS, 5 * MS, at, 4), 0);
}

/* A standing queue: the first signal one interval after it rose above target, the next ones
 * at interval/sqrt(2), interval/sqrt(3), ... after each other. */
static void test_standing_queue_control_law(void **state)
{
	struct codel c;
	uint64_t at[8];
	int n;

	codel_init(&c, MS, 100 * MS);
	n = feed(&c, 10 * MS, 400 * MS, MS, 2 * MS, at, 8);
	assert_int_equal(at[0], 110 * MS);
	assert_int_equal(at[1], 210 * MS);           /* 110 + 100/sqrt(1) */
	assert_int_equal(at[2], 281 * MS);           /* 210 + 100/sqrt(2) = 280.7 */
	assert_int_equal(at[3], 339 * MS);           /* 280.7 + 100/sqrt(3) = 338.4 */
	assert_int_equal(at[4], 389 * MS);           /* 338.4 + 50 = 388.4 */
	assert_int_equal(n, 5);
	assert_true(c.dropping);
	/* below target: the dropping state ends at once */
	assert_false(codel_decide(&c, 0, 400 * MS, BULK));
	assert_false(c.dropping);
}

/* Congestion right after a dropping state resumes at the rate it had reached. */
static void test_resumes_count(void **state)
{
	struct codel c;
	uint64_t at[16];

	codel_init(&c, MS, 100 * MS);
	/* 100, 200, 270.7, 328.4, 378.4, 423.1, 463.9 */
	assert_int_equal(feed(&c, 0, 500 * MS, MS, 2 * MS, at, 16), 7);
	assert_int_equal(c.count, 7);
	feed(&c, 500 * MS, 510 * MS, MS, 0, at, 16);
	assert_false(c.dropping);
	feed(&c, 510 * MS, 611 * MS, MS, 2 * MS, at, 16);
	assert_true(c.dropping);
	assert_int_equal(c.count, 6); /* count - last_count: 7 - 1 */
}

/* Sparse packets are never signalled; the signal goes to the next bulk packet. */
static void test_sparse_packets_spared(void **state)
{
	struct codel c;

	codel_init(&c, MS, 100 * MS);
	for (uint64_t t = 0; t < 150 * MS; t += MS)
		assert_false(codel_decide(&c, 3 * MS, t, SPARSE));
	assert_true(c.pending);
	assert_false(codel_decide(&c, 3 * MS, 150 * MS, CODEL_SPARSE_MAX));
	assert_true(codel_decide(&c, 3 * MS, 150 * MS + 1, CODEL_SPARSE_MAX + 1));
	assert_false(codel_decide(&c, 3 * MS, 150 * MS + 2, BULK));
}

/* A signal owed when the queue drains is forgotten. */
static void test_pending_forgotten_when_drained(void **state)
{
	struct codel c;

	codel_init(&c, MS, 100 * MS);
	for (uint64_t t = 0; t <= 100 * MS; t += MS)
		codel_decide(&c, 3 * MS, t, SPARSE);
	assert_true(c.pending);
	assert_false(codel_decide(&c, 0, 101 * MS, BULK));
	assert_false(codel_decide(&c, 3 * MS, 102 * MS, BULK));
}

/* ---- ECN ---- */

static uint16_t ipv4_checksum(const uint8_t *h)
{
	uint32_t sum = 0;

	for (int i = 0; i < 20; i += 2)
		sum += (uint32_t)(h[i] << 8 | h[i + 1]);
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void ipv4_packet(uint8_t *p, uint8_t tos)
{
	uint16_t check;

	memset(p, 0, 60);
	p[0] = 0x45;
	p[1] = tos;
	p[3] = 60;
	p[8] = 64;
	p[9] = 6;
	memcpy(p + 12, "\xc0\x00\x02\x01\xc0\x00\x02\x02", 8);
	check = ipv4_checksum(p);
	p[10] = (uint8_t)(check >> 8);
	p[11] = (uint8_t)check;
}

static void test_ecn_ipv4(void **state)
{
	static const struct {
		uint8_t tos, after;
		bool marked;
	} cases[] = {
		{ 0x00, 0x00, false }, /* Not-ECT: drop instead */
		{ 0xb8, 0xb8, false }, /* DSCP EF, Not-ECT */
		{ 0x02, 0x03, true },  /* ECT(0) */
		{ 0x01, 0x03, true },  /* ECT(1) */
		{ 0x03, 0x03, true },  /* already CE */
		{ 0xba, 0xbb, true },  /* DSCP kept */
		{ 0xff, 0xff, true },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t p[60];

		ipv4_packet(p, cases[i].tos);
		assert_int_equal(codel_ecn_mark(p, sizeof(p)), cases[i].marked);
		assert_int_equal(p[1], cases[i].after);
		assert_int_equal(ipv4_checksum(p), 0); /* the header still verifies */
	}
}

static void test_ecn_ipv6(void **state)
{
	uint8_t p[60] = { 0x60 };

	assert_false(codel_ecn_mark(p, sizeof(p)));
	assert_int_equal(p[1], 0);
	p[0] = 0x6b; /* traffic class 0xb? with flow label bits around it */
	p[1] = 0xaf; /* ECN bits of the traffic class: 0b10 (ECT(0)) */
	assert_true(codel_ecn_mark(p, sizeof(p)));
	assert_int_equal(p[0], 0x6b);
	assert_int_equal(p[1], 0xbf);
}

static void test_ecn_not_ip(void **state)
{
	uint8_t p[60] = { 0x45, 0x02 };

	assert_false(codel_ecn_mark(p, 19)); /* shorter than an IPv4 header */
	p[0] = 0x65;
	assert_false(codel_ecn_mark(p, 39));
	p[0] = 0x00;
	assert_false(codel_ecn_mark(p, sizeof(p)));
}

static void test_parse_target(void **state)
{
	static const struct {
		const char *text;
		int ret;
		uint64_t ns;
	} cases[] = {
		{ "1", 0, 1000000 },
		{ "0.5", 0, 500000 },
		{ "2ms", 0, 2000000 },
		{ "250us", 0, 250000 },
		{ "1.25ms", 0, 1250000 },
		{ "0", 0, 0 },
		{ "off", 0, 0 },
		{ "1000", 0, 1000000000 },
		{ "0.01", 0, 10000 },
		{ "0.001", -EINVAL, 0 },   /* 1 µs: below the minimum */
		{ "1001", -EINVAL, 0 },
		{ "99999999999999999999", -EINVAL, 0 },
		{ "", -EINVAL, 0 },
		{ "-1", -EINVAL, 0 },
		{ "1s", -EINVAL, 0 },
		{ "ms", -EINVAL, 0 },
		{ "1 ms", -EINVAL, 0 },
		{ "1.", -EINVAL, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t ns = 12345;

		assert_int_equal(codel_parse_target(cases[i].text, &ns), cases[i].ret);
		if (!cases[i].ret)
			assert_int_equal(ns, cases[i].ns);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_disabled),
		cmocka_unit_test(test_burst_is_not_signalled),
		cmocka_unit_test(test_standing_queue_control_law),
		cmocka_unit_test(test_resumes_count),
		cmocka_unit_test(test_sparse_packets_spared),
		cmocka_unit_test(test_pending_forgotten_when_drained),
		cmocka_unit_test(test_ecn_ipv4),
		cmocka_unit_test(test_ecn_ipv6),
		cmocka_unit_test(test_ecn_not_ip),
		cmocka_unit_test(test_parse_target),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
