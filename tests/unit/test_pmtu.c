/* Unit tests for path MTU probing's packet work: the MSS clamp of TCP SYNs. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "offload.h"
#include "wg.h"

#include <arpa/inet.h>
#include <string.h>

/* An IPv4 or IPv6 TCP segment (a 28-byte header: NOP NOP NOP NOP MSS) with 10 bytes of
 * payload and valid checksums. */
static size_t make_syn(uint8_t *p, bool v6, uint8_t flags, uint16_t mss)
{
	size_t ip = v6 ? 40 : 20, len = ip + 28 + 10;
	uint8_t *t = p + ip;
	uint32_t sum;
	uint16_t c;

	memset(p, 0, len);
	if (v6) {
		p[0] = 0x60;
		p[5] = (uint8_t)(len - 40);
		p[6] = 6;
		p[7] = 64;
		p[8] = 0xfd; p[23] = 1; p[24] = 0xfd; p[39] = 2;
	} else {
		p[0] = 0x45;
		p[3] = (uint8_t)len;
		p[8] = 64;
		p[9] = 6;
		memcpy(p + 12, (uint8_t[4]){ 10, 0, 0, 1 }, 4);
		memcpy(p + 16, (uint8_t[4]){ 10, 0, 0, 2 }, 4);
		c = offload_csum_finish(offload_csum_add(0, p, 20));
		memcpy(p + 10, &c, 2);
	}
	t[0] = 0x30; t[1] = 0x39; t[3] = 80; /* ports 12345 -> 80 */
	t[12] = 7 << 4;
	t[13] = flags;
	t[14] = 0xff;
	t[20] = 1; t[21] = 1; t[22] = 1; t[23] = 1;
	t[24] = 2; t[25] = 4; t[26] = (uint8_t)(mss >> 8); t[27] = (uint8_t)mss;
	sum = v6 ? offload_pseudo_v6(p + 8, p + 24, 6, (uint32_t)(len - ip))
		 : offload_pseudo_v4(p + 12, p + 16, 6, (uint32_t)(len - ip));
	c = offload_csum_finish(offload_csum_add(sum, t, len - ip));
	memcpy(t + 16, &c, 2);
	return len;
}

static uint16_t mss_of(const uint8_t *p, bool v6)
{
	const uint8_t *t = p + (v6 ? 40 : 20);

	return (uint16_t)(t[26] << 8 | t[27]);
}

static void clamp(void **state)
{
	static const struct { bool v6; uint8_t flags; uint16_t mss; size_t mtu; uint16_t want; } cases[] = {
		{ false, 0x02, 1460, 1216, 1176 }, /* SYN: 1216 - 20 - 20 */
		{ false, 0x12, 1460, 1216, 1176 }, /* SYN-ACK */
		{ true, 0x02, 1440, 1216, 1156 },  /* 1216 - 40 - 20 */
		{ false, 0x02, 1000, 1216, 1000 }, /* already small: untouched */
		{ false, 0x10, 1460, 1216, 1460 }, /* not a SYN: untouched */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t pkt[128];
		size_t len = make_syn(pkt, cases[i].v6, cases[i].flags, cases[i].mss);

		assert_true(offload_csum_valid(pkt, len));
		wg_pmtu_clamp_mss(pkt, len, cases[i].mtu);
		assert_int_equal(mss_of(pkt, cases[i].v6), cases[i].want);
		assert_true(offload_csum_valid(pkt, len));
	}
}

/* Truncated or odd options never make it read or write past the packet. */
static void malformed(void **state)
{
	uint8_t pkt[128];
	size_t len = make_syn(pkt, false, 0x02, 1460);

	pkt[20 + 12] = 15 << 4; /* options claim 60 bytes: more than the packet */
	wg_pmtu_clamp_mss(pkt, len, 1216);
	assert_int_equal(mss_of(pkt, false), 1460);
	len = make_syn(pkt, false, 0x02, 1460);
	pkt[20 + 25] = 0; /* an option of length 0 */
	wg_pmtu_clamp_mss(pkt, len, 1216);
	wg_pmtu_clamp_mss(pkt, 30, 1216); /* cut inside the TCP header */
	len = make_syn(pkt, false, 0x02, 1460);
	pkt[7] = 8; /* a later fragment: no TCP header there */
	wg_pmtu_clamp_mss(pkt, len, 1216);
	assert_int_equal(mss_of(pkt, false), 1460);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(clamp),
		cmocka_unit_test(malformed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
