/* Unit tests for the generated nftables rulesets of the gateway and the kill switch: each is
 * parsed by the real libnftables in check mode (no kernel needed) and holds the rules that
 * make it safe. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "gateway.h"
#include "route_all.h"

#include <errno.h>
#include <arpa/inet.h>
#include <nftables/libnftables.h>
#include <stdio.h>
#include <string.h>

static bool nft_accepts(const char *ruleset)
{
	struct nft_ctx *nft = nft_ctx_new(NFT_CTX_DEFAULT);
	int ret;

	nft_ctx_set_dry_run(nft, true);
	nft_ctx_buffer_error(nft);
	ret = nft_run_cmd_from_buffer(nft, ruleset);
	if (ret)
		fprintf(stderr, "%s\n%s", ruleset, nft_ctx_get_error_buffer(nft));
	nft_ctx_free(nft);
	return ret == 0;
}

static struct ip_prefix prefix(int family, const char *text, uint8_t cidr)
{
	struct ip_prefix p = { .family = family, .cidr = cidr };

	inet_pton(family, text, &p.addr);
	return p;
}

static void gateway_both_families(void **state)
{
	struct ip_prefix p[] = { prefix(AF_INET, "10.10.0.0", 24), prefix(AF_INET6, "fd10::", 64),
				 prefix(AF_INET, "10.20.0.0", 16) };
	int old[2] = { 0, 1 };
	char buf[8192];

	assert_true(gateway_ruleset(buf, sizeof(buf), "myvpn-wg0", "wg0", "eth0", p, 3, old) > 0);
	/* A stale table of the same name is replaced in the same transaction. */
	assert_non_null(strstr(buf, "table inet myvpn-wg0\ndelete table inet myvpn-wg0\n"));
	assert_non_null(strstr(buf, "iifname \"wg0\" meta nfproto ipv4 ip saddr != { 10.10.0.0/24, 10.20.0.0/16 } counter drop"));
	assert_non_null(strstr(buf, "iifname \"wg0\" meta nfproto ipv6 ip6 saddr != { fd10::/64 } counter drop"));
	assert_non_null(strstr(buf, "oifname \"eth0\" ip6 saddr { fd10::/64 } masquerade"));
	assert_non_null(strstr(buf, "iifname \"eth0\" oifname \"wg0\" tcp flags & (syn | rst) == syn tcp option maxseg size set rt mtu"));
	assert_non_null(strstr(buf, "ip_forward=0 ipv6_forwarding=1"));
	/* The spoofing drop comes before anything that accepts. */
	assert_true(strstr(buf, "spoofed") < strstr(buf, "established,related accept"));
	assert_true(nft_accepts(buf));
}

/* A tunnel without IPv6 addresses forwards no IPv6 at all, and masquerades none. */
static void gateway_ipv4_only(void **state)
{
	struct ip_prefix p[] = { prefix(AF_INET, "192.168.1.1", 32), prefix(AF_INET, "192.168.1.2", 32) };
	int old[2] = { 1, -1 };
	char buf[8192];

	assert_true(gateway_ruleset(buf, sizeof(buf), "myvpn-tun0", "tun0", "eth0", p, 2, old) > 0);
	assert_non_null(strstr(buf, "iifname \"tun0\" meta nfproto ipv6  counter drop"));
	assert_null(strstr(buf, "ip6 saddr"));
	assert_true(nft_accepts(buf));
	assert_int_equal(gateway_ruleset(buf, 100, "myvpn-tun0", "tun0", "eth0", p, 2, old), -ENOSPC);
}

static void kill_switch(void **state)
{
	struct ip_prefix lan[] = { prefix(AF_INET, "192.0.2.0", 24), prefix(AF_INET6, "2001:db8::", 64) };
	char buf[8192];

	assert_true(route_all_ruleset(buf, sizeof(buf), "myvpn-ks-wg0", "wg0", 51820, NULL, 0) > 0);
	assert_non_null(strstr(buf, "meta mark 51820 accept"));
	assert_non_null(strstr(buf, "oifname { \"lo\", \"wg0\" } accept"));
	assert_non_null(strstr(buf, "counter drop"));
	assert_null(strstr(buf, "daddr")); /* no LAN without --allow-lan */
	assert_true(nft_accepts(buf));
	assert_true(route_all_ruleset(buf, sizeof(buf), "myvpn-ks-wg0", "wg0", 7, lan, 2) > 0);
	assert_non_null(strstr(buf, "ip daddr 192.0.2.0/24 accept"));
	assert_non_null(strstr(buf, "ip6 daddr 2001:db8::/64 accept"));
	assert_true(nft_accepts(buf));
	assert_int_equal(route_all_ruleset(buf, 64, "myvpn-ks-wg0", "wg0", 7, lan, 2), -ENOSPC);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(gateway_both_families),
		cmocka_unit_test(gateway_ipv4_only),
		cmocka_unit_test(kill_switch),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
