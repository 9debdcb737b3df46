/* Unit tests for `myvpn show`: wg's durations and byte sizes, parsing get=1 and stats=1
 * replies, and the text and JSON they print. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"
#include "show.h"
#include "uapi.h"
#include "wgcrypto.h"

#define NOW 1700000000ull /* Unix time for "N seconds ago" */

/* ---- wg's units ---- */

static void durations(void **state)
{
	static const struct {
		uint64_t seconds;
		const char *text;
	} cases[] = {
		{ 0, "" },
		{ 1, "1 second" },
		{ 2, "2 seconds" },
		{ 25, "25 seconds" },
		{ 60, "1 minute" },
		{ 65, "1 minute, 5 seconds" },
		{ 120, "2 minutes" },
		{ 3600, "1 hour" },
		{ 3661, "1 hour, 1 minute, 1 second" },
		{ 7322, "2 hours, 2 minutes, 2 seconds" },
		{ 86400, "1 day" },
		{ 86400 + 5, "1 day, 5 seconds" },
		{ 2 * 86400 + 3 * 3600, "2 days, 3 hours" },
		{ 365 * 86400, "1 year" },
		{ 365 * 86400 + 2 * 86400 + 5, "1 year, 2 days, 5 seconds" },
		{ 2 * 365 * 86400 + 86400 + 3600 + 60 + 1, "2 years, 1 day, 1 hour, 1 minute, 1 second" },
		{ 65535, "18 hours, 12 minutes, 15 seconds" }, /* the longest keepalive */
	};
	char buf[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		show_format_duration(buf, sizeof(buf), cases[i].seconds);
		assert_string_equal(buf, cases[i].text);
	}
	/* truncation is safe */
	show_format_duration(buf, 8, 3661);
	assert_int_equal(strlen(buf), 7);
}

static void byte_sizes(void **state)
{
	static const struct {
		uint64_t bytes;
		const char *text;
	} cases[] = {
		{ 0, "0 B" },
		{ 1, "1 B" },
		{ 1023, "1023 B" },
		{ 1024, "1.00 KiB" },
		{ 1536, "1.50 KiB" },
		{ 159544, "155.80 KiB" },
		{ 1048575, "1024.00 KiB" }, /* wg switches units on the integer, then rounds */
		{ 1048576, "1.00 MiB" },
		{ 52428800, "50.00 MiB" },
		{ 1073741824ull - 1, "1024.00 MiB" },
		{ 1073741824ull, "1.00 GiB" },
		{ 5ull << 30, "5.00 GiB" },
		{ 1ull << 40, "1.00 TiB" },
		{ 3ull << 50, "3072.00 TiB" }, /* wg has no PiB */
		{ UINT64_MAX, "16777216.00 TiB" },
	};
	char buf[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		show_format_bytes(buf, sizeof(buf), cases[i].bytes);
		assert_string_equal(buf, cases[i].text);
	}
}

/* ---- a device as the daemon describes it ---- */

static char priv_hex[65], peer_hex[3][65], psk_hex[65];
static char pub_b64[45], peer_b64[3][45];

static int setup_keys(void **state)
{
	uint8_t key[32], pub[32];

	memset(key, 1, sizeof(key));
	wgcrypto_x25519_clamp(key);
	wgcrypto_key_to_hex(priv_hex, key);
	assert_true(wgcrypto_x25519_public(pub, key));
	wgcrypto_key_to_base64(pub_b64, pub);
	for (int i = 0; i < 3; i++) {
		memset(key, 2 + i, sizeof(key));
		wgcrypto_key_to_hex(peer_hex[i], key);
		wgcrypto_key_to_base64(peer_b64[i], key);
	}
	memset(key, 9, sizeof(key));
	wgcrypto_key_to_hex(psk_hex, key);
	return 0;
}

static const char zero_hex[] = "0000000000000000000000000000000000000000000000000000000000000000";

/*
 * Peer 0: handshake 65 s ago, traffic, keepalive, PSK, two allowed IPs, over TCP after 2 moves.
 * Peer 1: never a handshake, no endpoint (so no transport), no allowed IPs.
 * Peer 2: handshake 2 s ago (so wg lists it first), IPv6 endpoint, back on UDP.
 */
static char *get_reply(void)
{
	char *text;

	assert_true(asprintf(&text,
			     "private_key=%s\nlisten_port=51820\nfwmark=66\n"
			     "public_key=%s\npreshared_key=%s\nprotocol_version=1\n"
			     "endpoint=192.0.2.2:51820\ntransport=tcp\ntransport_switches=2\n"
			     "endpoint_name=home.example.net:51820\n"
			     "last_handshake_time_sec=%llu\n"
			     "last_handshake_time_nsec=5\ntx_bytes=1536\nrx_bytes=52428800\n"
			     "persistent_keepalive_interval=25\npath_mtu=1216\nallowed_ip=10.10.0.2/32\n"
			     "allowed_ip=fd10::2/128\n"
			     "public_key=%s\npreshared_key=%s\nprotocol_version=1\n"
			     "transport_switches=0\nlast_handshake_time_sec=0\nlast_handshake_time_nsec=0\ntx_bytes=0\n"
			     "rx_bytes=0\npersistent_keepalive_interval=0\n"
			     "public_key=%s\npreshared_key=%s\nprotocol_version=1\n"
			     "endpoint=[2001:db8::2]:51820\ntransport=udp\ntransport_switches=1\n"
			     "last_handshake_time_sec=%llu\n"
			     "last_handshake_time_nsec=0\ntx_bytes=100\nrx_bytes=0\n"
			     "persistent_keepalive_interval=0\nallowed_ip=10.10.0.4/32\n"
			     "errno=0\n\n",
			     priv_hex, peer_hex[0], psk_hex, NOW - 65, peer_hex[1], zero_hex,
			     peer_hex[2], zero_hex, NOW - 2) > 0);
	return text;
}

static char *stats_reply(void)
{
	struct stats st = { .rx_packets = 10, .tx_packets = 20, .rx_bytes = 3000, .tx_bytes = 4000,
			    .keepalives_sent = 1, .keepalives_received = 2, .endpoint_changes = 3 };
	struct uapi_buf out = { 0 };
	char *text;

	st.drops[DROP_SHORT] = 4;
	st.drops[DROP_BAD_HEADER] = 1;
	st.drops[DROP_DECRYPT] = 7;
	assert_int_equal(uapi_stats(&st, &out), 0);
	text = strndup(out.data, out.len);
	assert_non_null(text);
	uapi_buf_free(&out);
	return text;
}

static void load(struct show_interface *ifc, bool with_stats)
{
	char *get = get_reply(), *st = stats_reply();

	memset(ifc, 0, sizeof(*ifc));
	strcpy(ifc->name, "wg0");
	assert_int_equal(show_parse_get(ifc, get, strlen(get)), 0);
	if (with_stats) {
		assert_int_equal(show_parse_stats(&ifc->stats, st, strlen(st)), 0);
		ifc->has_stats = true;
	}
	free(get);
	free(st);
}

/* What a print function wrote, as a string the caller frees. */
static char *capture_text(const struct show_interface *ifc)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	show_print_text(f, ifc, NOW);
	fclose(f);
	return text;
}

static char *capture_json(const struct show_interface *ifcs, size_t count)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	assert_non_null(f);
	show_print_json(f, ifcs, count);
	fclose(f);
	return text;
}

static void parse_get(void **state)
{
	struct show_interface ifc;
	char b64[45];

	load(&ifc, false);
	assert_true(ifc.has_private_key);
	wgcrypto_key_to_base64(b64, ifc.public_key);
	assert_string_equal(b64, pub_b64);
	assert_int_equal(ifc.listen_port, 51820);
	assert_int_equal(ifc.fwmark, 66);
	assert_int_equal(ifc.peer_count, 3);
	assert_true(ifc.peers[0].has_preshared_key);
	assert_false(ifc.peers[1].has_preshared_key);
	assert_string_equal(ifc.peers[0].endpoint, "192.0.2.2:51820");
	assert_string_equal(ifc.peers[1].endpoint, "");
	assert_int_equal(ifc.peers[0].last_handshake_sec, NOW - 65);
	assert_int_equal(ifc.peers[0].last_handshake_nsec, 5);
	assert_int_equal(ifc.peers[0].rx_bytes, 52428800);
	assert_int_equal(ifc.peers[0].tx_bytes, 1536);
	assert_int_equal(ifc.peers[0].persistent_keepalive, 25);
	assert_int_equal(ifc.peers[0].path_mtu, 1216);
	assert_int_equal(ifc.peers[1].path_mtu, 0);
	assert_int_equal(ifc.peers[0].allowed_ip_count, 2);
	assert_int_equal(ifc.peers[0].allowed_ips[1].family, AF_INET6);
	assert_int_equal(ifc.peers[0].allowed_ips[1].cidr, 128);
	assert_int_equal(ifc.peers[1].allowed_ip_count, 0);
	assert_false(ifc.has_stats);
	show_interface_free(&ifc);
}

/* uapi_stats and show_parse_stats agree on every counter and every drop reason. */
static void parse_stats_round_trip(void **state)
{
	struct stats in = { 0 }, out;
	struct uapi_buf buf = { 0 };

	in.rx_packets = 1;
	in.tx_packets = 2;
	in.rx_bytes = 3;
	in.tx_bytes = UINT64_MAX;
	in.keepalives_sent = 5;
	in.keepalives_received = 6;
	in.endpoint_changes = 7;
	for (int r = 0; r < DROP_REASON_COUNT; r++)
		in.drops[r] = 1000 + (uint64_t)r;
	assert_int_equal(uapi_stats(&in, &buf), 0);
	assert_int_equal(show_parse_stats(&out, buf.data, buf.len), 0);
	assert_memory_equal(&in, &out, sizeof(in));
	uapi_buf_free(&buf);
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);

	return n >= m && !strcmp(s + n - m, suffix);
}

static void text_like_wg(void **state)
{
	struct show_interface ifc;
	char *text, *expected;

	load(&ifc, true);
	text = capture_text(&ifc);
	assert_true(asprintf(&expected,
			     "interface: wg0\n"
			     "  public key: %s\n"
			     "  private key: (hidden)\n"
			     "  listening port: 51820\n"
			     "  fwmark: 0x42\n"
			     "\n"
			     "peer: %s\n"
			     "  endpoint: [2001:db8::2]:51820\n"
			     "  allowed ips: 10.10.0.4/32\n"
			     "  latest handshake: 2 seconds ago\n"
			     "  transfer: 0 B received, 100 B sent\n"
			     "\n"
			     "peer: %s\n"
			     "  preshared key: (hidden)\n"
			     "  endpoint: 192.0.2.2:51820 (home.example.net:51820)\n"
			     "  allowed ips: 10.10.0.2/32, fd10::2/128\n"
			     "  latest handshake: 1 minute, 5 seconds ago\n"
			     "  transfer: 50.00 MiB received, 1.50 KiB sent\n"
			     "  persistent keepalive: every 25 seconds\n"
			     "\n"
			     "peer: %s\n"
			     "  allowed ips: (none)\n"
			     "\n"
			     "path mtu (probed):\n"
			     "  peer %s: 1216\n"
			     "\n"
			     "transport:\n"
			     "  peer %s: tcp, 2 switches\n"
			     "  peer %s: udp, 1 switch\n"
			     "\n"
			     "drops:\n"
			     "  short: 4\n"
			     "  bad_header: 1\n"
			     "  decrypt: 7\n",
			     pub_b64, peer_b64[2], peer_b64[0], peer_b64[1], peer_b64[0], peer_b64[0],
			     peer_b64[2]) > 0);
	assert_string_equal(text, expected);
	free(text);
	free(expected);

	/* no drops: one line; a daemon without stats=1 (wireguard-go): no section at all */
	memset(ifc.stats.drops, 0, sizeof(ifc.stats.drops));
	text = capture_text(&ifc);
	assert_non_null(strstr(text, "persistent keepalive: every 25 seconds\n\npeer: "));
	assert_true(ends_with(text, ": udp, 1 switch\n\ndrops: none\n"));
	free(text);
	ifc.has_stats = false;
	text = capture_text(&ifc);
	assert_null(strstr(text, "drops"));
	assert_non_null(strstr(text, "(none)\n\npath mtu (probed):\n  peer "));
	assert_non_null(strstr(text, ": 1216\n\ntransport:\n  peer "));
	assert_true(ends_with(text, ": udp, 1 switch\n"));
	free(text);
	show_interface_free(&ifc);
}

static void text_minimal_and_clock(void **state)
{
	struct show_interface ifc = { .name = "tun0" };
	char *text, *reply;

	/* no key, no port, no peers: only the name, as wg */
	assert_int_equal(show_parse_get(&ifc, "listen_port=0\nerrno=0\n\n", 23), 0);
	text = capture_text(&ifc);
	assert_string_equal(text, "interface: tun0\n");
	free(text);
	show_interface_free(&ifc);

	/* a handshake now, and one in the future */
	strcpy(ifc.name, "tun0");
	assert_true(asprintf(&reply,
			     "public_key=%s\nlast_handshake_time_sec=%llu\n"
			     "public_key=%s\nlast_handshake_time_sec=%llu\nerrno=0\n\n",
			     peer_hex[0], NOW, peer_hex[1], NOW + 10) > 0);
	assert_int_equal(show_parse_get(&ifc, reply, strlen(reply)), 0);
	text = capture_text(&ifc);
	assert_non_null(strstr(text, "  latest handshake: Now\n"));
	assert_non_null(strstr(text, "  latest handshake: (System clock wound backward; connection problems may ensue.)\n"));
	free(text);
	free(reply);
	show_interface_free(&ifc);
}

static void json_output(void **state)
{
	struct show_interface ifcs[2];
	char *text, *expected;

	load(&ifcs[0], true);
	load(&ifcs[1], false);
	strcpy(ifcs[1].name, "a\"b\\c"); /* escaped, whatever the name */
	ifcs[1].has_private_key = false;
	ifcs[1].peer_count = 0; /* freed below through peer_cap's array */
	text = capture_json(ifcs, 2);
	assert_true(asprintf(&expected,
			     "[\n"
			     "  {\n"
			     "    \"interface\": \"wg0\",\n"
			     "    \"public_key\": \"%s\",\n"
			     "    \"listen_port\": 51820,\n"
			     "    \"fwmark\": 66,\n"
			     "    \"port_mapping\": null,\n"
			     "    \"rendezvous\": null,\n"
			     "    \"plain\": null,\n"
			     "    \"peers\": [\n"
			     "      {\n"
			     "        \"public_key\": \"%s\",\n"
			     "        \"has_preshared_key\": true,\n"
			     "        \"endpoint\": \"192.0.2.2:51820\",\n"
			     "        \"endpoint_name\": \"home.example.net:51820\",\n"
			     "        \"allowed_ips\": [\"10.10.0.2/32\", \"fd10::2/128\"],\n"
			     "        \"latest_handshake\": %llu,\n"
			     "        \"rx_bytes\": 52428800,\n"
			     "        \"tx_bytes\": 1536,\n"
			     "        \"persistent_keepalive\": 25,\n"
			     "        \"path_mtu\": 1216,\n"
			     "        \"transport\": \"tcp\",\n"
			     "        \"transport_switches\": 2\n"
			     "      },\n"
			     "      {\n"
			     "        \"public_key\": \"%s\",\n"
			     "        \"has_preshared_key\": false,\n"
			     "        \"endpoint\": null,\n"
			     "        \"endpoint_name\": null,\n"
			     "        \"allowed_ips\": [],\n"
			     "        \"latest_handshake\": 0,\n"
			     "        \"rx_bytes\": 0,\n"
			     "        \"tx_bytes\": 0,\n"
			     "        \"persistent_keepalive\": 0,\n"
			     "        \"path_mtu\": 0,\n"
			     "        \"transport\": null,\n"
			     "        \"transport_switches\": 0\n"
			     "      },\n",
			     pub_b64, peer_b64[0], NOW - 65, peer_b64[1]) > 0);
	assert_memory_equal(text, expected, strlen(expected));
	free(expected);
	/* the daemon's order, not wg's: JSON is for programs */
	assert_non_null(strstr(text, "\"endpoint\": \"[2001:db8::2]:51820\""));
	assert_non_null(strstr(text, "    \"counters\": {\n"
				     "      \"rx_packets\": 10,\n"
				     "      \"tx_packets\": 20,\n"
				     "      \"rx_bytes\": 3000,\n"
				     "      \"tx_bytes\": 4000,\n"
				     "      \"keepalives_sent\": 1,\n"
				     "      \"keepalives_received\": 2,\n"
				     "      \"endpoint_changes\": 3,\n"
				     "      \"handshakes_received\": 0,\n"
				     "      \"relayed_packets\": 0,\n"
				     "      \"relayed_bytes\": 0,\n"
				     "      \"ecn_marked\": 0,\n"
				     "      \"transport_switches\": 0,\n"
				     "      \"endpoint_lookups\": 0,\n"
				     "      \"endpoint_lookup_failures\": 0\n"
				     "    },\n"
				     "    \"drops\": {\n"
				     "      \"short\": 4,\n"
				     "      \"bad_header\": 1,\n"
				     "      \"oversized\": 0,\n"));
	assert_non_null(strstr(text, "      \"decrypt\": 7,\n"));
	/* every reason, always: a stable set of keys */
	for (int r = 0; r < DROP_REASON_COUNT; r++) {
		char key[64];

		snprintf(key, sizeof(key), "\n      \"%s\": ", stats_drop_reason_name(r));
		assert_non_null(strstr(text, key));
	}
	assert_non_null(strstr(text, "\n  },\n  {\n    \"interface\": \"a\\\"b\\\\c\",\n"
				     "    \"public_key\": null,\n"
				     "    \"listen_port\": 51820,\n"
				     "    \"fwmark\": 66,\n"
				     "    \"port_mapping\": null,\n"
				     "    \"rendezvous\": null,\n"
				     "    \"plain\": null,\n"
				     "    \"peers\": [],\n"
				     "    \"counters\": null,\n"
				     "    \"drops\": null\n"
				     "  }\n]\n"));
	free(text);
	ifcs[1].peer_count = 3;
	show_interface_free(&ifcs[0]);
	show_interface_free(&ifcs[1]);

	text = capture_json(NULL, 0);
	assert_string_equal(text, "[]\n");
	free(text);
}

/* Anything malformed is refused whole; the daemon's own error comes back as it is. */
static void bad_replies(void **state)
{
	static const struct {
		const char *reply;
		int expected;
	} cases[] = {
		{ "errno=0\n\n", 0 },
		{ "listen_port=1\nunknown_key=whatever\nerrno=0\n\n", 0 }, /* skipped, as wg */
		{ "errno=-22\n\n", -EINVAL },
		{ "errno=22\n\n", -EINVAL },
		{ "errno=-95\n\n", -EOPNOTSUPP },
		{ "", -EBADMSG },
		{ "listen_port=1\n\n", -EBADMSG },		 /* no errno line */
		{ "errno=0\n", -EBADMSG },			 /* no empty line */
		{ "errno=0", -EBADMSG },
		{ "errno=0\nlisten_port=1\n\n", -EBADMSG },	 /* after errno */
		{ "listen_port\nerrno=0\n\n", -EBADMSG },	 /* no '=' */
		{ "=1\nerrno=0\n\n", -EBADMSG },
		{ "listen_port=65536\nerrno=0\n\n", -EBADMSG },
		{ "listen_port=-1\nerrno=0\n\n", -EBADMSG },
		{ "listen_port= 1\nerrno=0\n\n", -EBADMSG },
		{ "fwmark=4294967296\nerrno=0\n\n", -EBADMSG },
		{ "private_key=abc\nerrno=0\n\n", -EBADMSG },
		{ "public_key=zz\nerrno=0\n\n", -EBADMSG },
		{ "errno=x\n\n", -EBADMSG },
		{ "errno=\n\n", -EBADMSG },
		{ "errno=99999999999999999999999\n\n", -EBADMSG },
	};
	struct show_interface ifc;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		memset(&ifc, 0, sizeof(ifc));
		assert_int_equal(show_parse_get(&ifc, cases[i].reply, strlen(cases[i].reply)),
				 cases[i].expected);
		show_interface_free(&ifc);
	}
}

static void bad_peer_lines(void **state)
{
	static const char *const peer_lines[] = {
		"allowed_ip=10.0.0.1\n", /* the slash is required */
		"allowed_ip=10.0.0.1/33\n",
		"allowed_ip=bogus/8\n",
		"endpoint=1.2.3.4:5\x01\n",
		"endpoint=0123456789012345678901234567890123456789012345678901234567890123456789"
		"0123456789012345678901234567890123456789\n",
		"persistent_keepalive_interval=65536\n",
		"rx_bytes=18446744073709551616\n",
		"preshared_key=12\n",
	};
	struct show_interface ifc;
	char *reply;

	for (size_t i = 0; i < sizeof(peer_lines) / sizeof(peer_lines[0]); i++) {
		memset(&ifc, 0, sizeof(ifc));
		assert_true(asprintf(&reply, "public_key=%s\n%serrno=0\n\n", peer_hex[0],
				     peer_lines[i]) > 0);
		assert_int_equal(show_parse_get(&ifc, reply, strlen(reply)), -EBADMSG);
		free(reply);
		show_interface_free(&ifc);
	}
	/* a NUL inside a line, a line over the limit */
	memset(&ifc, 0, sizeof(ifc));
	assert_int_equal(show_parse_get(&ifc, "listen_port=1\0\nerrno=0\n\n", 24), -EBADMSG);
	reply = calloc(1, 2000);
	assert_non_null(reply);
	memset(reply, 'a', 1000);
	memcpy(reply, "x=", 2);
	strcpy(reply + 1000, "\nerrno=0\n\n");
	assert_int_equal(show_parse_get(&ifc, reply, strlen(reply)), -EBADMSG);
	free(reply);
	show_interface_free(&ifc);
}

static void stats_replies(void **state)
{
	const char *newer = "rx_packets=5\ndrop_from_the_future=3\ndrop_replay=2\nerrno=0\n\n";
	struct stats st;

	/* a newer daemon's counters are skipped; a missing one stays zero */
	assert_int_equal(show_parse_stats(&st, newer, strlen(newer)), 0);
	assert_int_equal(st.rx_packets, 5);
	assert_int_equal(st.drops[DROP_REPLAY], 2);
	assert_int_equal(st.tx_packets, 0);
	assert_int_equal(show_parse_stats(&st, "errno=-22\n\n", 11), -EINVAL);
	assert_int_equal(show_parse_stats(&st, "drop_replay=x\nerrno=0\n\n", 23), -EBADMSG);
}

/* paths=1 (a rendezvous): peer 0 relayed for part of its traffic, peer 2 direct, peer 1 not in
 * the reply; a key that is not a peer is skipped. */
static void paths_text(void **state)
{
	struct show_interface ifc;
	char *reply, *text;

	load(&ifc, false);
	assert_true(asprintf(&reply,
			     "public_key=%s\npath=relay\nrelay_tx_bytes=512\nrelay_rx_bytes=1048576\n"
			     "relayed_bytes=0\npublic_key=%s\npath=direct\nrelay_tx_bytes=0\n"
			     "relay_rx_bytes=0\nrelayed_bytes=2048\npublic_key=%s\npath=none\n"
			     "errno=0\n\n", peer_hex[0], peer_hex[2], zero_hex) > 0);
	assert_int_equal(show_parse_paths(&ifc, reply, strlen(reply)), 0);
	text = capture_text(&ifc);
	assert_non_null(strstr(text, "every 25 seconds\n  path: relayed through the rendezvous\n"
				     "  through the relay: 1.00 MiB received, 512 B sent\n"
				     "  direct: 49.00 MiB received, 1.00 KiB sent\n"));
	assert_non_null(strstr(text, "100 B sent\n  path: direct\n  relayed from this peer: 2.00 KiB\n"));
	assert_int_equal(ifc.peers[1].path[0], 0);
	free(text);
	text = capture_json(&ifc, 1);
	assert_non_null(strstr(text, "\"persistent_keepalive\": 25,\n        \"path_mtu\": 1216,\n"
				     "        \"transport\": \"tcp\",\n        \"transport_switches\": 2,\n"
				     "        \"path\": \"relay\",\n"
				     "        \"relay_rx_bytes\": 1048576,\n        \"relay_tx_bytes\": 512,\n"
				     "        \"relayed_bytes\": 0\n      }"));
	assert_non_null(strstr(text, "\"persistent_keepalive\": 0,\n        \"path_mtu\": 0,\n"
				     "        \"transport\": null,\n        \"transport_switches\": 0\n      }"));
	/* peer 1 above: no path */
	free(text);
	free(reply);
	assert_int_equal(show_parse_paths(&ifc, "public_key=zz\nerrno=0\n\n", 24), -EBADMSG);
	show_interface_free(&ifc);
}

/* The rendezvous lines before the first peer of paths=1: parsed and printed. */
static void rendezvous_state(void **state)
{
	static const char behind[] = "rendezvous=client\nnat=behind\nnat_keepalive_interval=25\n"
				     "seen=203.0.113.1:51820\nerrno=0\n\n";
	static const char public[] = "rendezvous=client\nnat=none\nnat_keepalive_interval=0\n"
				     "seen=203.0.113.40:51820\nerrno=0\n\n";
	struct show_interface ifc;
	char *text;

	load(&ifc, true);
	assert_int_equal(show_parse_paths(&ifc, behind, sizeof(behind) - 1), 0);
	text = capture_text(&ifc);
	assert_non_null(strstr(text, "  rendezvous: client, behind NAT "
				     "(seen at 203.0.113.1:51820), keepalive every 25 s\n"));
	free(text);
	text = capture_json(&ifc, 1);
	assert_non_null(strstr(text, "    \"rendezvous\": {\n      \"role\": \"client\",\n"
				     "      \"nat\": \"behind\",\n"
				     "      \"seen\": \"203.0.113.1:51820\",\n"
				     "      \"nat_keepalive\": 25\n    },\n"));
	free(text);
	assert_int_equal(show_parse_paths(&ifc, public, sizeof(public) - 1), 0);
	text = capture_text(&ifc);
	assert_non_null(strstr(text, "  rendezvous: client, public address 203.0.113.40:51820, "
				     "no keepalives\n"));
	free(text);
	show_interface_free(&ifc);
}

/* The portmap_ lines of stats=1: what uapi_portmap writes, show parses and prints, for each
 * state; the lines do not disturb the counters. */
static void port_mapping(void **state)
{
	struct portmap_status pm = { .state = PORTMAP_MAPPED, .protocol = PORTMAP_PROTO_NATPMP,
				     .external_tcp_port = 51821,
				     .expires_ns = 3000 * 1000000000ull + 5 };
	struct sockaddr_in *sin = (struct sockaddr_in *)&pm.external;
	struct show_interface ifc;
	struct uapi_buf buf = { 0 };
	char *text;

	sin->sin_family = AF_INET;
	sin->sin_addr.s_addr = htonl(0xcb007101); /* 203.0.113.1 */
	sin->sin_port = htons(51820);
	load(&ifc, true);
	assert_int_equal(uapi_portmap(&pm, 1000 * 1000000000ull, &buf), 0);
	assert_int_equal(uapi_stats(&ifc.stats, &buf), 0);
	assert_non_null(strstr(buf.data, "portmap_state=mapped\nportmap_protocol=natpmp\n"
					 "portmap_external=203.0.113.1:51820\n"
					 "portmap_external_tcp_port=51821\nportmap_lifetime=2000\n"));
	assert_int_equal(show_parse_portmap(&ifc.portmap, buf.data, buf.len), 0);
	assert_int_equal(show_parse_stats(&ifc.stats, buf.data, buf.len), 0);
	assert_int_equal(ifc.stats.rx_packets, 10);
	text = capture_text(&ifc);
	assert_non_null(strstr(text, "  listening port: 51820\n  fwmark: 0x42\n"
				     "  port mapping: 203.0.113.1:51820 (natpmp, TCP port 51821), "
				     "33 minutes, 20 seconds left\n"));
	free(text);
	text = capture_json(&ifc, 1);
	assert_non_null(strstr(text, "    \"port_mapping\": {\n      \"state\": \"mapped\",\n"
				     "      \"protocol\": \"natpmp\",\n"
				     "      \"external\": \"203.0.113.1:51820\",\n"
				     "      \"external_tcp_port\": 51821,\n"
				     "      \"lifetime\": 2000,\n      \"error\": \"\"\n    },\n"));
	free(text);

	/* a permanent UPnP lease has no lifetime line */
	pm.protocol = PORTMAP_PROTO_UPNP;
	pm.expires_ns = 0;
	pm.external_tcp_port = 0;
	buf.len = 0;
	assert_int_equal(uapi_portmap(&pm, 1, &buf), 0);
	assert_null(memmem(buf.data, buf.len, "lifetime", 8));
	assert_int_equal(show_parse_portmap(&ifc.portmap, buf.data, 0), -EBADMSG);
	assert_int_equal(uapi_stats(&ifc.stats, &buf), 0);
	assert_int_equal(show_parse_portmap(&ifc.portmap, buf.data, buf.len), 0);
	text = capture_text(&ifc);
	assert_non_null(strstr(text, "  port mapping: 203.0.113.1:51820 (upnp), permanent lease\n"));
	free(text);

	/* failed: the reason, on one line whatever the library said */
	pm = (struct portmap_status){ .state = PORTMAP_FAILED };
	strcpy(pm.error, "NAT-PMP: no answer;\nUPnP: no IGD answered");
	buf.len = 0;
	assert_int_equal(uapi_portmap(&pm, 1, &buf), 0);
	assert_int_equal(uapi_stats(&ifc.stats, &buf), 0);
	assert_int_equal(show_parse_portmap(&ifc.portmap, buf.data, buf.len), 0);
	text = capture_text(&ifc);
	assert_non_null(strstr(text, "  port mapping: failed (NAT-PMP: no answer; UPnP: no IGD answered)\n"));
	free(text);

	/* off: no line at all, in the reply or in the output */
	pm.state = PORTMAP_NONE;
	buf.len = 0;
	assert_int_equal(uapi_portmap(&pm, 1, &buf), 0);
	assert_int_equal(buf.len, 0);
	assert_int_equal(uapi_stats(&ifc.stats, &buf), 0);
	assert_int_equal(show_parse_portmap(&ifc.portmap, buf.data, buf.len), 0);
	text = capture_text(&ifc);
	assert_null(strstr(text, "port mapping"));
	free(text);
	assert_int_equal(show_parse_portmap(&ifc.portmap, "portmap_lifetime=x\nerrno=0\n\n", 29),
			 -EBADMSG);
	uapi_buf_free(&buf);
	show_interface_free(&ifc);
}

/* A plaintext interface as the daemon reports it: get=1 with only the port, stats=1 with the
 * plain_ lines (uapi_plain) and the counters, switches among them. */
static void load_plain_named(struct show_interface *ifc, enum uapi_plain_role role,
			     const char *ip, uint16_t port, enum transport_kind kind,
			     uint64_t switches, const char *name)
{
	struct uapi_plain_remote r = { .role = role, .kind = kind, .name = name, .name_port = port };
	struct stats st = { .rx_packets = 5, .transport_switches = switches };
	struct uapi_buf buf = { 0 };

	memset(ifc, 0, sizeof(*ifc));
	strcpy(ifc->name, "tun0");
	if (ip)
		assert_int_equal(addr_parse_literal(ip, port, &r.endpoint), 0);
	assert_int_equal(show_parse_get(ifc, "listen_port=40000\nerrno=0\n\n", 27), 0);
	assert_int_equal(uapi_plain(&r, &buf), 0);
	assert_int_equal(uapi_stats(&st, &buf), 0);
	assert_int_equal(show_parse_stats(&ifc->stats, buf.data, buf.len), 0);
	ifc->has_stats = true;
	assert_int_equal(show_parse_plain(&ifc->plain, buf.data, buf.len), 0);
	uapi_buf_free(&buf);
}

static void load_plain(struct show_interface *ifc, enum uapi_plain_role role, const char *ip,
		       uint16_t port, enum transport_kind kind, uint64_t switches)
{
	load_plain_named(ifc, role, ip, port, kind, switches, NULL);
}

static void plain_remote(void **state)
{
	struct show_interface ifc;
	char *text;

	load_plain(&ifc, UAPI_PLAIN_SERVER, "198.51.100.2", 12345, TRANSPORT_TCP, 1);
	assert_string_equal(ifc.plain.role, "server");
	assert_string_equal(ifc.plain.endpoint, "198.51.100.2:12345");
	assert_string_equal(ifc.plain.transport, "tcp");
	assert_int_equal(ifc.stats.rx_packets, 5); /* the plain_ lines do not disturb the counters */
	text = capture_text(&ifc);
	assert_string_equal(text, "interface: tun0\n  listening port: 40000\n"
				  "\ntransport:\n  server 198.51.100.2:12345: tcp, 1 switch\n"
				  "\ndrops: none\n");
	free(text);
	text = capture_json(&ifc, 1);
	assert_non_null(strstr(text, "    \"rendezvous\": null,\n"
				     "    \"plain\": {\n      \"role\": \"server\",\n"
				     "      \"endpoint\": \"198.51.100.2:12345\",\n"
				     "      \"endpoint_name\": null,\n"
				     "      \"transport\": \"tcp\"\n    },\n    \"peers\": [],\n"));
	assert_non_null(strstr(text, "      \"transport_switches\": 1,\n"));
	free(text);
	show_interface_free(&ifc);

	/* a server that has not heard its client: the role alone */
	load_plain(&ifc, UAPI_PLAIN_CLIENT, NULL, 0, TRANSPORT_UDP, 0);
	text = capture_text(&ifc);
	assert_true(ends_with(text, "  listening port: 40000\n"
				    "\ntransport:\n  client: not yet heard from\n\ndrops: none\n"));
	free(text);
	text = capture_json(&ifc, 1);
	assert_non_null(strstr(text, "    \"plain\": {\n      \"role\": \"client\",\n"
				     "      \"endpoint\": null,\n      \"endpoint_name\": null,\n"
				     "      \"transport\": null\n    },\n"));
	free(text);
	show_interface_free(&ifc);

	/* a client given its server by name */
	load_plain_named(&ifc, UAPI_PLAIN_SERVER, "198.51.100.2", 12345, TRANSPORT_UDP, 0,
			 "home.example.net");
	assert_string_equal(ifc.plain.endpoint_name, "home.example.net:12345");
	text = capture_text(&ifc);
	assert_non_null(strstr(text, "\ntransport:\n  server 198.51.100.2:12345 "
				     "(home.example.net:12345): udp, 0 switches\n"));
	free(text);
	text = capture_json(&ifc, 1);
	assert_non_null(strstr(text, "      \"endpoint_name\": \"home.example.net:12345\",\n"));
	free(text);
	show_interface_free(&ifc);

	load_plain(&ifc, UAPI_PLAIN_PEER, "2001:db8::2", 51820, TRANSPORT_UDP, 0);
	text = capture_text(&ifc);
	assert_non_null(strstr(text, "\ntransport:\n  peer [2001:db8::2]:51820: udp, 0 switches\n"));
	free(text);
	show_interface_free(&ifc);
}

/* Anything in a plain_ line that the daemon would never write is refused, and nothing kept. */
static void plain_bad_lines(void **state)
{
	static const char *const bad[] = {
		"plain_role=boss\n",
		"plain_role=\n",
		"plain_role=server \n",
		"plain_role=server\nplain_endpoint=198.51.100.2:12345\nplain_transport=quic\n",
		"plain_role=server\nplain_endpoint=198.51.100.2:12345\nplain_transport=TCP\n",
		"plain_role=server\nplain_endpoint=198.51.100.2\nplain_transport=udp\n",
		"plain_role=server\nplain_endpoint=198.51.100.2:0\nplain_transport=udp\n",
		"plain_role=server\nplain_endpoint=198.51.100.2:65536\nplain_transport=udp\n",
		"plain_role=server\nplain_endpoint=198.51.100.2:+1\nplain_transport=udp\n",
		"plain_role=server\nplain_endpoint=:12345\nplain_transport=udp\n",
		"plain_role=server\nplain_endpoint=198.51.100.2\x01:1\nplain_transport=udp\n",
		"plain_role=server\nplain_endpoint=198.51.100.2:12345\n",  /* no transport */
		"plain_role=server\nplain_transport=udp\n",                 /* no endpoint */
		"plain_endpoint=198.51.100.2:12345\nplain_transport=udp\n", /* no role */
	};
	struct show_plain pl;
	char reply[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(reply, sizeof(reply), "%srx_packets=1\nerrno=0\n\n", bad[i]);
		memset(&pl, 'x', sizeof(pl));
		if (show_parse_plain(&pl, reply, strlen(reply)) != -EBADMSG)
			fail_msg("accepted: %s", bad[i]);
		assert_int_equal(pl.role[0] | pl.endpoint[0] | pl.transport[0], 0);
	}
	/* lines of other sections, and plain_ keys of a newer daemon, are skipped */
	snprintf(reply, sizeof(reply), "portmap_state=requesting\nplain_role=peer\nplain_future=1\n"
				       "errno=0\n\n");
	assert_int_equal(show_parse_plain(&pl, reply, strlen(reply)), 0);
	assert_string_equal(pl.role, "peer");
	assert_int_equal(show_parse_plain(&pl, "rx_packets=1\nerrno=0\n\n", 22), 0);
	assert_int_equal(pl.role[0], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(durations),
		cmocka_unit_test(byte_sizes),
		cmocka_unit_test(parse_get),
		cmocka_unit_test(parse_stats_round_trip),
		cmocka_unit_test(text_like_wg),
		cmocka_unit_test(text_minimal_and_clock),
		cmocka_unit_test(json_output),
		cmocka_unit_test(bad_replies),
		cmocka_unit_test(bad_peer_lines),
		cmocka_unit_test(stats_replies),
		cmocka_unit_test(paths_text),
		cmocka_unit_test(port_mapping),
		cmocka_unit_test(rendezvous_state),
		cmocka_unit_test(plain_remote),
		cmocka_unit_test(plain_bad_lines),
	};
	return cmocka_run_group_tests(tests, setup_keys, NULL);
}
