/* Unit tests for the "too big" answers: when one is due, and its headers, quote and checksums. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "icmp.h"
#include "offload.h"

#include <string.h>

enum { HEADROOM = 64, BUF = HEADROOM + 2000 };

/* An IPv4 packet from 10.0.0.1 to 10.0.0.2 (or dst), a UDP-like payload of recognisable bytes. */
static uint8_t *make_v4(uint8_t *buf, size_t len, bool df, uint8_t proto, const uint8_t dst[4])
{
	uint8_t *p = buf + HEADROOM;
	static const uint8_t def_dst[4] = { 10, 0, 0, 2 };

	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 7);
	p[0] = 0x45;
	p[1] = 0;
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	p[6] = df ? 0x40 : 0;
	p[7] = 0;
	p[8] = 64;
	p[9] = proto;
	memcpy(p + 12, (uint8_t[4]){ 10, 0, 0, 1 }, 4);
	memcpy(p + 16, dst ? dst : def_dst, 4);
	return p;
}

static uint8_t *make_v6(uint8_t *buf, size_t len, uint8_t next, uint8_t dst0)
{
	uint8_t *p = buf + HEADROOM;

	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(i * 5);
	memset(p, 0, 40);
	p[0] = 0x60;
	p[4] = (uint8_t)((len - 40) >> 8);
	p[5] = (uint8_t)(len - 40);
	p[6] = next;
	p[7] = 64;
	p[8] = 0xfd; p[23] = 1;  /* fd00::1 */
	p[24] = dst0; p[39] = 2; /* fd00::2, or ff00::2 */
	return p;
}

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static void when_due(void **state)
{
	uint8_t buf[BUF];

	assert_true(icmp_too_big(make_v4(buf, 1400, true, 17, NULL), 1400, 1380));
	assert_false(icmp_too_big(make_v4(buf, 1400, false, 17, NULL), 1400, 1380)); /* may fragment */
	assert_false(icmp_too_big(make_v4(buf, 1380, true, 17, NULL), 1380, 1380));  /* fits */
	assert_true(icmp_too_big(make_v6(buf, 1400, 17, 0xfd), 1400, 1380));
	assert_false(icmp_too_big(make_v6(buf, 1280, 17, 0xfd), 1280, 1200)); /* IPv6 minimum */
	assert_true(icmp_too_big(make_v6(buf, 1281, 17, 0xfd), 1281, 1200));
}

static void ipv4_answer(void **state)
{
	uint8_t buf[BUF], orig[48], *reply;
	uint8_t *p = make_v4(buf, 1400, true, 17, NULL);
	size_t len;

	memcpy(orig, p, sizeof(orig));
	len = icmp_build_too_big(p, 1400, 1380, &reply);
	assert_int_equal(len, 20 + 8 + 20 + 8);
	assert_ptr_equal(reply, p - 28);
	assert_int_equal(reply[0], 0x45);
	assert_int_equal(be16(reply + 2), len);
	assert_int_equal(reply[9], 1);
	assert_memory_equal(reply + 12, orig + 16, 4); /* from the destination... */
	assert_memory_equal(reply + 16, orig + 12, 4); /* ...to the source */
	assert_int_equal(offload_csum_fold(offload_csum_add(0, reply, 20)), 0xffff);
	assert_int_equal(reply[20], 3); /* destination unreachable */
	assert_int_equal(reply[21], 4); /* fragmentation needed */
	assert_int_equal(be16(reply + 26), 1380);
	assert_int_equal(offload_csum_fold(offload_csum_add(0, reply + 20, len - 20)), 0xffff);
	assert_memory_equal(reply + 28, orig, 28); /* the header and 8 bytes */
}

static void ipv6_answer(void **state)
{
	uint8_t buf[BUF], orig[64], *reply;
	uint8_t *p = make_v6(buf, 1500, 6, 0xfd);
	size_t len;
	uint32_t sum;

	memcpy(orig, p, sizeof(orig));
	len = icmp_build_too_big(p, 1500, 1200, &reply);
	assert_int_equal(len, 1280); /* as much of the packet as fits in 1280 bytes */
	assert_ptr_equal(reply, p - 48);
	assert_int_equal(reply[0] >> 4, 6);
	assert_int_equal(be16(reply + 4), 1280 - 40);
	assert_int_equal(reply[6], 58);
	assert_memory_equal(reply + 8, orig + 24, 16);
	assert_memory_equal(reply + 24, orig + 8, 16);
	assert_int_equal(reply[40], 2); /* packet too big */
	assert_int_equal(be16(reply + 44) << 16 | be16(reply + 46), 1280); /* never below 1280 */
	sum = offload_pseudo_v6(reply + 8, reply + 24, 58, 1240);
	assert_int_equal(offload_csum_fold(offload_csum_add(sum, reply + 40, 1240)), 0xffff);
	assert_memory_equal(reply + 48, orig, sizeof(orig));

	p = make_v6(buf, 1400, 17, 0xfd);
	assert_int_equal(icmp_build_too_big(p, 1400, 1300, &reply), 1280);
	assert_int_equal(be16(reply + 46), 1300);
}

/* Errors are never answered, nor later fragments, nor anything from or to a group address. */
static void not_answered(void **state)
{
	uint8_t buf[BUF], *reply, *p;
	static const uint8_t bcast[4] = { 255, 255, 255, 255 }, mcast[4] = { 224, 0, 0, 5 };

	p = make_v4(buf, 1400, true, 1, NULL);
	p[20] = 3; /* an ICMP error itself */
	assert_int_equal(icmp_build_too_big(p, 1400, 1380, &reply), 0);
	p = make_v4(buf, 1400, true, 1, NULL);
	p[20] = 8; /* an echo request is answered */
	assert_int_not_equal(icmp_build_too_big(p, 1400, 1380, &reply), 0);
	p = make_v4(buf, 1400, true, 17, NULL);
	p[7] = 10; /* a later fragment */
	assert_int_equal(icmp_build_too_big(p, 1400, 1380, &reply), 0);
	assert_int_equal(icmp_build_too_big(make_v4(buf, 1400, true, 17, bcast), 1400, 1380, &reply), 0);
	assert_int_equal(icmp_build_too_big(make_v4(buf, 1400, true, 17, mcast), 1400, 1380, &reply), 0);
	p = make_v6(buf, 1400, 58, 0xfd);
	p[40] = 1; /* ICMPv6 destination unreachable */
	assert_int_equal(icmp_build_too_big(p, 1400, 1300, &reply), 0);
	p = make_v6(buf, 1400, 58, 0xfd);
	p[40] = 128; /* echo request */
	assert_int_not_equal(icmp_build_too_big(p, 1400, 1300, &reply), 0);
	assert_int_equal(icmp_build_too_big(make_v6(buf, 1400, 17, 0xff), 1400, 1300, &reply), 0);
	p = make_v4(buf, 1400, true, 17, NULL);
	p[0] = 0x4f; /* a header longer than the packet claims to quote */
	assert_int_not_equal(icmp_build_too_big(p, 1400, 1380, &reply), 0);
	assert_int_equal(icmp_build_too_big(p, 40, 30, &reply), 0);
}

/* The bucket starts full: a burst, then one answer per interval, and idle time refills it no
 * further than the burst. */
static void rate_limit(void **state)
{
	struct icmp_limit l = { 0 };
	uint64_t t = 5000000000ull, iv = ICMP_LIMIT_INTERVAL_NS;
	int sent = 0;

	(void)state;
	for (int i = 0; i < 100; i++)
		sent += icmp_limit_allow(&l, t);
	assert_int_equal(sent, ICMP_LIMIT_BURST);
	assert_false(icmp_limit_allow(&l, t + iv - 1));
	assert_true(icmp_limit_allow(&l, t + iv));
	assert_false(icmp_limit_allow(&l, t + iv));
	/* a steady stream of 1000 a second for 1 s gets 100 answers */
	t += iv;
	sent = 0;
	for (int i = 1; i <= 1000; i++)
		sent += icmp_limit_allow(&l, t + (uint64_t)i * 1000000);
	assert_int_equal(sent, 100);
	/* an hour of silence refills the burst, no more */
	t += 3600000000000ull;
	sent = 0;
	for (int i = 0; i < 100; i++)
		sent += icmp_limit_allow(&l, t);
	assert_int_equal(sent, ICMP_LIMIT_BURST);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(when_due),
		cmocka_unit_test(ipv4_answer),
		cmocka_unit_test(ipv6_answer),
		cmocka_unit_test(not_answered),
		cmocka_unit_test(rate_limit),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
