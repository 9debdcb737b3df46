/* Unit tests for the wg-quick config parser: a full file, the format's corners, every error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "config.h"
#include "transport.h"
#include "wgcrypto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define KEY1 "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE="
#define KEY2 "AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI="
#define KEY3 "AwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwM="
#define KEY4 "BAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQ="
/* KEY1 with non-zero padding bits: decodes leniently, but is not canonical */
#define KEY1_NONCANON "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQF="

static const char full_config[] =
	"# wg-quick style configuration\n"
	"[Interface]\n"
	"PrivateKey = " KEY1 "\n"
	"ListenPort = 51820   # inline comment\n"
	"Address = 10.0.0.1/24, fd00::1/64\n"
	"Address = 10.9.9.9\n"
	"MTU = 1380\n"
	"Workers = 4\n"
	"QueueTarget = 2.5ms\n"
	"FwMark = 0x1234\n"
	"DNS = 1.1.1.1, example.com\n"
	"Table = off\n"
	"PostUp = iptables -A FORWARD -i %i -j ACCEPT; echo up\n"
	"PreDown = true\n"
	"SaveConfig = false\n"
	"\n"
	"[Peer]\n"
	"  # first peer: IPv6 literal endpoint\n"
	"PublicKey = " KEY2 "\n"
	"PresharedKey = " KEY3 "\n"
	"Endpoint = [2001:db8::7]:51821\n"
	"AllowedIPs = 10.0.0.2/32, fd00::2/128\n"
	"AllowedIPs = 192.168.0.0/16\n"
	"PersistentKeepalive = 25\n"
	"\n"
	"[Peer]\n"
	"PublicKey = " KEY4 "\n"
	"Endpoint = vpn.example.com:4500\n"
	"AllowedIPs = 0.0.0.0/0, ::/0\n"
	"PersistentKeepalive = off\n";

static void key_equals(const uint8_t key[32], uint8_t byte)
{
	for (int i = 0; i < 32; i++)
		assert_int_equal(key[i], byte);
}

static void prefix_equals(const struct ip_prefix *p, const char *addr, int cidr)
{
	char buf[INET6_ADDRSTRLEN];

	assert_non_null(inet_ntop(p->family, &p->addr, buf, sizeof(buf)));
	assert_string_equal(buf, addr);
	assert_int_equal(p->cidr, cidr);
}

static int parse_str(struct config *cfg, const char *text, struct config_error *err)
{
	return config_parse(cfg, text, strlen(text), err);
}

static void full_config_parses(void **state)
{
	struct config cfg;
	struct config_error err;

	assert_int_equal(parse_str(&cfg, full_config, &err), 0);
	assert_true(cfg.has_private_key);
	key_equals(cfg.private_key, 1);
	assert_true(cfg.has_listen_port);
	assert_int_equal(cfg.listen_port, 51820);
	assert_int_equal(cfg.fwmark, 0x1234);
	assert_int_equal(cfg.mtu, 1380);
	assert_int_equal(cfg.workers, 4);
	assert_true(cfg.has_queue_target);
	assert_int_equal(cfg.queue_target_ns, 2500000);
	assert_int_equal(cfg.address_count, 3);
	prefix_equals(&cfg.addresses[0], "10.0.0.1", 24);
	prefix_equals(&cfg.addresses[1], "fd00::1", 64);
	prefix_equals(&cfg.addresses[2], "10.9.9.9", 32);
	assert_int_equal(cfg.peer_count, 2);

	const struct config_peer *a = &cfg.peers[0], *b = &cfg.peers[1];
	key_equals(a->public_key, 2);
	assert_true(a->has_psk);
	key_equals(a->psk, 3);
	assert_true(a->has_endpoint);
	assert_string_equal(a->endpoint_host, "2001:db8::7");
	assert_int_equal(a->endpoint_port, 51821);
	assert_int_equal(a->allowed_ip_count, 3);
	prefix_equals(&a->allowed_ips[0], "10.0.0.2", 32);
	prefix_equals(&a->allowed_ips[1], "fd00::2", 128);
	prefix_equals(&a->allowed_ips[2], "192.168.0.0", 16);
	assert_int_equal(a->persistent_keepalive, 25);
	assert_int_equal(a->line, 17);
	assert_int_equal(a->endpoint_line, 21);

	key_equals(b->public_key, 4);
	assert_false(b->has_psk);
	assert_string_equal(b->endpoint_host, "vpn.example.com");
	assert_int_equal(b->endpoint_port, 4500);
	assert_int_equal(b->allowed_ip_count, 2);
	prefix_equals(&b->allowed_ips[0], "0.0.0.0", 0);
	prefix_equals(&b->allowed_ips[1], "::", 0);
	assert_int_equal(b->persistent_keepalive, 0);
	assert_int_equal(b->line, 26);

	config_free(&cfg);
	assert_null(cfg.peers);
	assert_int_equal(cfg.peer_count, 0);
	assert_false(cfg.has_private_key);
	key_equals(cfg.private_key, 0);
}

/* DNS = accumulates servers and search domains, as Address does; a bad item is the line's. */
static void dns_key(void **state)
{
	struct config cfg;
	struct config_error err;

	assert_int_equal(parse_str(&cfg, "[Interface]\nDNS = 10.0.0.1, fd00::53\nDNS = corp.example\n", &err), 0);
	assert_int_equal(cfg.dns.server_count, 2);
	assert_int_equal(cfg.dns.search_count, 1);
	assert_string_equal(cfg.dns.search[0], "corp.example");
	config_free(&cfg);
	assert_int_equal(parse_str(&cfg, "[Interface]\n\nDNS = 10.0.0.1 *bad\n", &err), -EINVAL);
	assert_int_equal(err.line, 3);
	assert_non_null(strstr(err.message, "'*bad'"));
	/* a search domain before its server is fine; one with no server at all is refused at its
	 * first DNS line, not when the resolver is set after the interface came up */
	assert_int_equal(parse_str(&cfg, "[Interface]\nDNS = corp.example\nDNS = 10.0.0.1\n", &err), 0);
	config_free(&cfg);
	assert_int_equal(parse_str(&cfg, "[Interface]\nDNS = corp.example\nMTU = 1400\nDNS = b.example\n", &err),
			 -EINVAL);
	assert_int_equal(err.line, 2);
	assert_non_null(strstr(err.message, "corp.example needs a server"));
}

/* Table = off, auto, a number or a name (resolved later); anything else is the line's error. */
static void table_key(void **state)
{
	struct config cfg;
	struct config_error err;

	assert_int_equal(parse_str(&cfg, "[Interface]\nTable = off\n", &err), 0);
	assert_true(cfg.table_off);
	assert_string_equal(cfg.table, "");
	config_free(&cfg);
	assert_int_equal(parse_str(&cfg, "[Interface]\nTable = 1234\nTable = auto\n", &err), 0);
	assert_false(cfg.table_off);
	assert_string_equal(cfg.table, "");
	config_free(&cfg);
	assert_int_equal(parse_str(&cfg, "[Interface]\n\nTable = vpn-1\n", &err), 0);
	assert_string_equal(cfg.table, "vpn-1");
	assert_int_equal(cfg.table_line, 3);
	config_free(&cfg);
	assert_int_equal(parse_str(&cfg, "[Interface]\nTable = a b\n", &err), -EINVAL);
	assert_int_equal(err.line, 2);
	assert_non_null(strstr(err.message, "Table 'a b'"));
	assert_int_equal(parse_str(&cfg, "[Interface]\nTable = 0123456789012345678901234567890123\n", &err),
			 -EINVAL);
}

/* wg-quick's commands and SaveConfig are accepted, and where they are is kept for a warning. */
static void wg_quick_keys(void **state)
{
	struct config cfg;
	struct config_error err;

	assert_int_equal(parse_str(&cfg, "[Interface]\nMTU = 1400\nPostDown = a %i\nPreUp = b\n"
				   "SaveConfig = false\n", &err), 0);
	assert_int_equal(cfg.wg_quick_command_line, 3);
	assert_int_equal(cfg.save_config_line, 0);
	config_free(&cfg);
	assert_int_equal(parse_str(&cfg, "[Interface]\nSaveConfig = TRUE\n", &err), 0);
	assert_int_equal(cfg.wg_quick_command_line, 0);
	assert_int_equal(cfg.save_config_line, 2);
	config_free(&cfg);
}

static void empty_and_defaults(void **state)
{
	struct config cfg, zero;
	struct config_error err;

	memset(&zero, 0, sizeof(zero));
	assert_int_equal(config_parse(&cfg, "", 0, &err), 0);
	assert_memory_equal(&cfg, &zero, sizeof(cfg));
	assert_int_equal(parse_str(&cfg, "# nothing\n\n   \n[Interface]\n", &err), 0);
	assert_false(cfg.has_private_key);
	assert_false(cfg.has_listen_port);
	assert_int_equal(cfg.mtu, 0);
	assert_int_equal(cfg.workers, 0);
	assert_false(cfg.has_queue_target);
	assert_int_equal(cfg.peer_count, 0);
	assert_false(cfg.has_tcp_port);
	assert_int_equal(cfg.transport, TRANSPORT_MODE_AUTO);
	config_free(&cfg);

	assert_int_equal(parse_str(&cfg, "[Interface]\nTcpPort = 443\nTransport = TCP\n", &err), 0);
	assert_true(cfg.has_tcp_port);
	assert_int_equal(cfg.tcp_port, 443);
	assert_int_equal(cfg.transport, TRANSPORT_MODE_TCP);
	config_free(&cfg);
	assert_int_not_equal(parse_str(&cfg, "[Interface]\nTransport = quic\n", &err), 0);
	assert_int_not_equal(parse_str(&cfg, "[Interface]\nTcpPort = 65536\n", &err), 0);

	/* a peer alone, without endpoint or allowed IPs, is what a listening side writes */
	assert_int_equal(parse_str(&cfg, "[Peer]\nPublicKey=" KEY2, &err), 0);
	assert_int_equal(cfg.peer_count, 1);
	assert_false(cfg.peers[0].has_endpoint);
	assert_null(cfg.peers[0].endpoint_host);
	assert_int_equal(cfg.peers[0].allowed_ip_count, 0);
	assert_int_equal(cfg.peers[0].tcp_port, 0);
	config_free(&cfg);

	/* TcpPort in a [Peer]: where its TCP listener is */
	assert_int_equal(parse_str(&cfg, "[Peer]\nPublicKey=" KEY2 "\nTcpPort = 4443\n", &err), 0);
	assert_int_equal(cfg.peers[0].tcp_port, 4443);
	assert_false(cfg.has_tcp_port); /* not the interface's */
	config_free(&cfg);
}

/* Case, spacing, CRLF, repetition: the things editors and wg users actually produce. */
static void lenient_forms(void **state)
{
	static const char text[] =
		"\t[ interface ]\r\n"
		"privatekey=" KEY1 "\r\n"
		"PRIVATEKEY\t=\t" KEY3 "\r\n" /* last one wins, as in wg */
		"listenport = 0\r\n"
		"fwmark = OFF\r\n"
		"mtu = 576\r\n"
		"WORKERS = 1\r\n"
		"[PEER]\r\n"
		"publickey = " KEY2 "#comment right after\r\n"
		"endpoint = 192.0.2.1:1\r\n"
		"allowedips =\r\n"
		"allowedips = 10.1.0.0/16 ,10.2.0.0/16\r\n"
		"persistentkeepalive = 65535\r\n"
		"[Interface]\r\n"
		"Address = 10.0.0.1/32\r\n";
	struct config cfg;
	struct config_error err;

	assert_int_equal(parse_str(&cfg, text, &err), 0);
	key_equals(cfg.private_key, 3);
	assert_true(cfg.has_listen_port);
	assert_int_equal(cfg.listen_port, 0);
	assert_int_equal(cfg.fwmark, 0);
	assert_int_equal(cfg.mtu, 576);
	assert_int_equal(cfg.workers, 1);
	assert_int_equal(cfg.address_count, 1);
	assert_int_equal(cfg.peer_count, 1);
	assert_string_equal(cfg.peers[0].endpoint_host, "192.0.2.1");
	assert_int_equal(cfg.peers[0].endpoint_port, 1);
	assert_int_equal(cfg.peers[0].allowed_ip_count, 2);
	assert_int_equal(cfg.peers[0].persistent_keepalive, 65535);
	config_free(&cfg);

	assert_int_equal(parse_str(&cfg, "[Interface]\nFwMark = 4294967295\nMTU=65535\nWorkers=64\n", &err), 0);
	assert_int_equal(cfg.fwmark, UINT32_MAX);
	assert_int_equal(cfg.mtu, 65535);
	assert_int_equal(cfg.workers, 64);
	config_free(&cfg);
	assert_int_equal(parse_str(&cfg, "[Interface]\nQueueTarget = off\n", &err), 0);
	assert_true(cfg.has_queue_target);
	assert_int_equal(cfg.queue_target_ns, 0);
	config_free(&cfg);
	assert_int_equal(parse_str(&cfg, "[Interface]\nFwMark = 0xffffffff\n", &err), 0);
	assert_int_equal(cfg.fwmark, UINT32_MAX);
	config_free(&cfg);	assert_int_equal(parse_str(&cfg, "[Interface]\nUser = nobody\nUser = myvpn-1.x\n", &err), 0);
	assert_string_equal(cfg.user, "myvpn-1.x"); /* the last one wins */
	config_free(&cfg);
	assert_int_equal(parse_str(&cfg, "[Interface]\nRendezvous = Serve\n", &err), 0);
	assert_int_equal(cfg.rendezvous, CONFIG_RENDEZVOUS_SERVE);
	config_free(&cfg);
	assert_int_equal(parse_str(&cfg, "[Interface]\nRendezvous = AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA=\n", &err), 0);
	assert_int_equal(cfg.rendezvous, CONFIG_RENDEZVOUS_CLIENT);
	assert_int_equal(cfg.rendezvous_key[0], 1);
	assert_int_equal(cfg.rendezvous_key[31], 32);
	config_free(&cfg);
}

/* Many peers and allowed IPs make the arrays grow several times. */
static void many_peers(void **state)
{
	enum { PEERS = 40, IPS = 70 };
	char *text = malloc(PEERS * (80 + IPS * 32));
	struct config cfg;
	struct config_error err;
	size_t len = 0;

	assert_non_null(text);
	for (int i = 0; i < PEERS; i++) {
		uint8_t key[32];
		char b64[45];

		memset(key, i + 1, sizeof(key));
		wgcrypto_key_to_base64(b64, key);
		len += (size_t)sprintf(text + len, "[Peer]\nPublicKey = %s\n", b64);
		for (int j = 0; j < IPS; j++)
			len += (size_t)sprintf(text + len, "AllowedIPs = 10.%d.%d.0/24\n", i, j);
	}
	assert_int_equal(config_parse(&cfg, text, len, &err), 0);
	assert_int_equal(cfg.peer_count, PEERS);
	for (int i = 0; i < PEERS; i++) {
		char want[32];

		key_equals(cfg.peers[i].public_key, (uint8_t)(i + 1));
		assert_int_equal(cfg.peers[i].allowed_ip_count, IPS);
		sprintf(want, "10.%d.%d.0", i, IPS - 1);
		prefix_equals(&cfg.peers[i].allowed_ips[IPS - 1], want, 24);
	}
	config_free(&cfg);
	free(text);
}

struct bad_case {
	const char *text;
	int line;
	const char *fragment;
};

#define IFACE "[Interface]\n"
#define PEER2 "[Peer]\nPublicKey = " KEY2 "\n"

static const struct bad_case bad_cases[] = {
	{ "[Interfaces]\n", 1, "unknown section '[Interfaces]'" },
	{ "\n[Interface\n", 2, "no closing ']'" },
	{ IFACE "Foo = bar\n", 2, "unknown key 'Foo' in [Interface]" },
	{ PEER2 "ListenPort = 1\n", 3, "unknown key 'ListenPort' in [Peer]" },
	{ IFACE "PublicKey = " KEY2 "\n", 2, "unknown key 'PublicKey' in [Interface]" },
	{ "# top\nPrivateKey = " KEY1 "\n", 2, "outside any section" },
	{ IFACE "PrivateKey = short\n", 2, "PrivateKey is not a valid key" },
	{ IFACE "PrivateKey =\n", 2, "PrivateKey is not a valid key" },
	{ IFACE "PrivateKey = " KEY1_NONCANON "\n", 2, "PrivateKey is not a valid key" },
	{ "[Peer]\nPublicKey = " KEY2 "x\n", 2, "PublicKey is not a valid key" },
	{ PEER2 "PresharedKey = ####\n", 3, "PresharedKey is not a valid key" },
	{ IFACE "ListenPort = 65536\n", 2, "ListenPort '65536' out of range (0-65535)" },
	{ IFACE "ListenPort = -1\n", 2, "ListenPort '-1' is not a number" },
	{ IFACE "ListenPort = +1\n", 2, "ListenPort '+1' is not a number" },
	{ IFACE "ListenPort = 99999999999999999999999\n", 2, "out of range" },
	{ IFACE "ListenPort =\n", 2, "ListenPort '' is not a number" },
	{ IFACE "MTU = 575\n", 2, "MTU '575' out of range (576-65535)" },
	{ IFACE "MTU = 65536\n", 2, "MTU '65536' out of range" },
	{ IFACE "MTU = 1420 bytes\n", 2, "MTU '1420 bytes' is not a number" },
	{ IFACE "Workers = 0\n", 2, "Workers '0' out of range (1-64)" },
	{ IFACE "Workers = 65\n", 2, "Workers '65' out of range (1-64)" },
	{ IFACE "Workers = -1\n", 2, "Workers '-1' is not a number" },
	{ IFACE "Workers = auto\n", 2, "Workers 'auto' is not a number" },
	{ IFACE "Workers =\n", 2, "Workers '' is not a number" },
	{ PEER2 "Workers = 4\n", 3, "unknown key 'Workers' in [Peer]" },
	{ IFACE "PortMapping = maybe\n", 2, "PortMapping 'maybe' is neither yes nor no" },
	{ IFACE "PortMapping =\n", 2, "PortMapping '' is neither yes nor no" },
	{ PEER2 "PortMapping = yes\n", 3, "unknown key 'PortMapping' in [Peer]" },
	{ IFACE "NatKeepalive = soon\n", 2, "NatKeepalive 'soon' is not a number" },
	{ IFACE "NatKeepalive = 65536\n", 2, "NatKeepalive '65536' out of range (0-65535)" },
	{ IFACE "QueueTarget = 5 s\n", 2, "QueueTarget '5 s' is not a time" },
	{ IFACE "QueueTarget = 2000\n", 2, "QueueTarget '2000' is not a time" },
	{ IFACE "User = no body\n", 2, "User 'no body' is not a user name" },
	{ IFACE "Rendezvous = yes\n", 2, "Rendezvous 'yes' is neither \"serve\" nor a public key" },
	{ PEER2 "Rendezvous = serve\n", 3, "unknown key 'Rendezvous' in [Peer]" },
	{ IFACE "User =\n", 2, "User '' is not a user name" },
	{ IFACE "User = ../root\n", 2, "User '../root' is not a user name" },
	{ IFACE "FwMark = 0x100000000\n", 2, "FwMark '0x100000000' out of range" },
	{ IFACE "FwMark = 0x\n", 2, "FwMark '0x' is not a number" },
	{ IFACE "FwMark = 0x0x5\n", 2, "FwMark '0x0x5' is not a number" },
	{ IFACE "FwMark = on\n", 2, "FwMark 'on' is not a number" },
	{ IFACE "SaveConfig = yes\n", 2, "neither true nor false" },
	{ IFACE "Address = 10.0.0.1/33\n", 2, "Address: invalid prefix '10.0.0.1/33'" },
	{ IFACE "Address = 10.0.0.1/+8\n", 2, "invalid prefix '10.0.0.1/+8'" },
	{ IFACE "Address = 10.0.0.1/\n", 2, "invalid prefix '10.0.0.1/'" },
	{ IFACE "Address = 10.0.0.1,\n", 2, "invalid prefix ''" },
	{ IFACE "Address = fd00::1/129\n", 2, "invalid prefix 'fd00::1/129'" },
	{ PEER2 "AllowedIPs = 10.0.0.0/8, 10.256.0.0/16\n", 3,
	  "AllowedIPs: invalid prefix '10.256.0.0/16'" },
	{ PEER2 "AllowedIPs = 10.0.0.0/8 10.1.0.0/16\n", 3, "invalid prefix" },
	{ IFACE "ListenPort 51820\n", 2, "missing '=' in 'ListenPort 51820'" },
	{ IFACE " = 5\n", 2, "missing key before '='" },
	{ PEER2 "[Peer]\nPublicKey = " KEY3 "\n[Peer]\nPublicKey = " KEY2 "\n", 6,
	  "duplicate PublicKey: the peer on line 1 has the same key" },
	{ IFACE "[Peer]\nEndpoint = 192.0.2.1:1\n", 2, "[Peer] section has no PublicKey" },
	{ PEER2 "\n[Peer]\n# no key\n[Interface]\n", 4, "[Peer] section has no PublicKey" },
	{ PEER2 "[Peer]\n[Peer]\nPublicKey = " KEY3 "\n", 3, "[Peer] section has no PublicKey" },
	{ PEER2 "Endpoint = 192.0.2.1\n", 3, "has no port" },
	{ PEER2 "Endpoint = 192.0.2.1:\n", 3, "has no port" },
	{ PEER2 "Endpoint = :51820\n", 3, "has no host" },
	{ PEER2 "Endpoint = 192.0.2.1:0\n", 3, "Endpoint port '0' out of range (1-65535)" },
	{ PEER2 "Endpoint = 192.0.2.1:70000\n", 3, "Endpoint port '70000' out of range" },
	{ PEER2 "Endpoint = 192.0.2.1:http\n", 3, "Endpoint port 'http' is not a number" },
	{ PEER2 "Endpoint = 300.1.1.1:5\n", 3, "'300.1.1.1' is not an IPv4 address" },
	{ PEER2 "Endpoint = 2001:db8::1:51820\n", 3, "an IPv6 address needs brackets" },
	{ PEER2 "Endpoint = [2001:db8::1:51820\n", 3, "has no closing ']'" },
	{ PEER2 "Endpoint = [2001:db8::1]51820\n", 3, "has no port" },
	{ PEER2 "Endpoint = [10.0.0.1]:51820\n", 3, "'[10.0.0.1]' is not an IPv6 address" },
	{ PEER2 "Endpoint = bad/host:5\n", 3, "'bad/host' is not a valid host name" },
	{ PEER2 "PersistentKeepalive = 65536\n", 3,
	  "PersistentKeepalive '65536' out of range (0-65535)" },
	{ PEER2 "PersistentKeepalive = always\n", 3, "PersistentKeepalive 'always' is not a number" },
	{ PEER2 "DNS = 1.1.1.1\n", 3, "unknown key 'DNS' in [Peer]" },
	{ PEER2 "TcpPort = 0\n", 3, "TcpPort '0' out of range (1-65535)" },
	{ PEER2 "TcpPort = 65536\n", 3, "TcpPort '65536' out of range (1-65535)" },
	{ PEER2 "TcpPort = https\n", 3, "TcpPort 'https' is not a number" },
	{ IFACE "MTU = 1420\nMTU = \x01\n", 3, "MTU '?' is not a number" },
};

/* PortMapping: off unless asked for; the last value wins. */
static void port_mapping_key(void **state)
{
	static const struct {
		const char *text;
		bool on, given;
	} cases[] = {
		{ IFACE, false, false },
		{ IFACE "PortMapping = yes\n", true, true },
		{ IFACE "portmapping = On\n", true, true },
		{ IFACE "PortMapping = true\n", true, true },
		{ IFACE "PortMapping = no\n", false, true },
		{ IFACE "PortMapping = yes\nPortMapping = off\n", false, true },
	};
	struct config cfg;
	struct config_error err;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse_str(&cfg, cases[i].text, &err), 0);
		assert_int_equal(cfg.port_mapping, cases[i].on);
		assert_int_equal(cfg.has_port_mapping, cases[i].given);
		config_free(&cfg);
	}
}

/* NatKeepalive: unset (0) takes the default; otherwise seconds + 1, off = 0 s. */
static void nat_keepalive_key(void **state)
{
	static const struct {
		const char *text;
		int stored;
	} cases[] = {
		{ IFACE, 0 },
		{ IFACE "NatKeepalive = 10\n", 11 },
		{ IFACE "NatKeepalive = off\n", 1 },
		{ IFACE "NatKeepalive = 0\n", 1 },
	};
	struct config cfg;
	struct config_error err;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(parse_str(&cfg, cases[i].text, &err), 0);
		assert_int_equal(cfg.nat_keepalive, cases[i].stored);
		config_free(&cfg);
	}
}

/* Half-applied state would show up as a non-zero *out or, under ASan, as a leak. */
static void bad_inputs(void **state)
{
	struct config cfg, zero;
	struct config_error err;

	memset(&zero, 0, sizeof(zero));
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		int ret;

		memset(&cfg, 0xa5, sizeof(cfg));
		ret = parse_str(&cfg, c->text, &err);
		if (ret != -EINVAL || err.line != c->line || !strstr(err.message, c->fragment) ||
		    strchr(err.message, '\n'))
			fail_msg("case %zu: ret %d, line %d (want %d), message '%s' (want '%s')", i,
				 ret, err.line, c->line, err.message, c->fragment);
		assert_memory_equal(&cfg, &zero, sizeof(cfg));
	}
}

static void too_many_addresses(void **state)
{
	char text[64 * CONFIG_MAX_ADDRESSES];
	struct config cfg;
	struct config_error err;
	size_t len = (size_t)sprintf(text, IFACE);

	for (int i = 0; i <= CONFIG_MAX_ADDRESSES; i++)
		len += (size_t)sprintf(text + len, "Address = 10.0.0.%d/32\n", i + 1);
	assert_int_equal(config_parse(&cfg, text, len, &err), -EINVAL);
	assert_int_equal(err.line, CONFIG_MAX_ADDRESSES + 2);
	assert_non_null(strstr(err.message, "too many addresses"));
}

static void nul_byte_rejected(void **state)
{
	static const char text[] = "[Interface]\nMTU = 1420\0junk\n";
	struct config cfg;
	struct config_error err;

	assert_int_equal(config_parse(&cfg, text, sizeof(text) - 1, &err), -EINVAL);
	assert_int_equal(err.line, 2);
	assert_non_null(strstr(err.message, "NUL"));
	/* the length, not a NUL, ends the text: a config need not be a C string */
	assert_int_equal(config_parse(&cfg, "[Peer]\nPublicKey = " KEY2 "garbage", 63, &err), 0);
	assert_int_equal(cfg.peer_count, 1);
	config_free(&cfg);
}

static void secrets_not_echoed(void **state)
{
	static const char text[] = IFACE "PrivateKey = " KEY1 "A\n";
	struct config cfg;
	struct config_error err;

	assert_int_equal(parse_str(&cfg, text, &err), -EINVAL);
	assert_null(strstr(err.message, "AQEBAQEB"));
	assert_int_equal(parse_str(&cfg, PEER2 "PresharedKey = " KEY1 "A\n", &err), -EINVAL);
	assert_null(strstr(err.message, "AQEBAQEB"));
	/* err may be NULL */
	assert_int_equal(parse_str(&cfg, text, NULL), -EINVAL);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static void read_file(void **state)
{
	char dir[] = "/tmp/test_config.XXXXXX", path[64];
	struct config cfg;
	struct config_error err;
	bool exposed = true;

	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/wg0.conf", dir);
	write_file(path, full_config, 0600);
	assert_int_equal(config_read_file(&cfg, path, &exposed, &err), 0);
	assert_false(exposed);
	assert_int_equal(cfg.peer_count, 2);
	config_free(&cfg);

	chmod(path, 0640);
	assert_int_equal(config_read_file(&cfg, path, &exposed, &err), 0);
	assert_true(exposed);
	config_free(&cfg);
	chmod(path, 0604);
	assert_int_equal(config_read_file(&cfg, path, &exposed, &err), 0);
	assert_true(exposed);
	config_free(&cfg);

	write_file(path, IFACE "MTU = 1\n", 0600);
	assert_int_equal(config_read_file(&cfg, path, NULL, &err), -EINVAL);
	assert_int_equal(err.line, 2);

	assert_int_equal(config_read_file(&cfg, dir, &exposed, &err), -EISDIR);
	assert_int_equal(err.line, 0);
	unlink(path);
	assert_int_equal(config_read_file(&cfg, path, &exposed, &err), -ENOENT);
	assert_int_equal(err.line, 0);
	assert_non_null(strstr(err.message, "cannot open"));
	assert_false(exposed);
	rmdir(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(full_config_parses),
		cmocka_unit_test(empty_and_defaults),
		cmocka_unit_test(lenient_forms),
		cmocka_unit_test(many_peers),
		cmocka_unit_test(bad_inputs),
		cmocka_unit_test(port_mapping_key),
		cmocka_unit_test(nat_keepalive_key),
		cmocka_unit_test(too_many_addresses),
		cmocka_unit_test(dns_key),
		cmocka_unit_test(table_key),
		cmocka_unit_test(wg_quick_keys),
		cmocka_unit_test(nul_byte_rejected),
		cmocka_unit_test(secrets_not_echoed),
		cmocka_unit_test(read_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
