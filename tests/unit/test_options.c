/* Unit tests for command-line parsing: the seed's lines, defaults per mode, and every error. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "options.h"

#include <errno.h>
#include <string.h>

enum { MAX_ARGS = 32 };

static int parse(struct options *o, bool nat, char *err, const char *line)
{
	static char buf[512];
	char *argv[MAX_ARGS] = { nat ? "myvpn_nat" : "myvpn" };
	int argc = 1;

	/* Split on '|' so that arguments can hold spaces, as the -t command does. */
	strcpy(buf, line);
	for (char *tok = strtok(buf, "|"); tok && argc < MAX_ARGS - 1; tok = strtok(NULL, "|"))
		argv[argc++] = tok;
	return options_parse(o, argc, argv, nat, err, 256);
}

static void seed_peer_line(void **state)
{
	struct options o;
	char err[256];

	assert_int_equal(parse(&o, false, err,
			       "-a|172.16.5.129|-p|12345|-t|ifconfig %s 192.168.1.1 mtu 1450  pointopoint 192.168.1.2"),
			 0);
	assert_int_equal(o.mode, MODE_PEER);
	assert_string_equal(o.peer_host, "172.16.5.129");
	assert_int_equal(o.peer_port, 12345);
	assert_int_equal(o.listen_port, SEED_PORT);
	assert_int_equal(o.keepalive, 0);
	assert_string_equal(o.tun_command, "ifconfig %s 192.168.1.1 mtu 1450  pointopoint 192.168.1.2");
}

static void seed_nat_lines(void **state)
{
	struct options o;
	char err[256];

	assert_int_equal(parse(&o, true, err, "-s|12345|-t|ifconfig %s x"), 0);
	assert_int_equal(o.mode, MODE_SERVER);
	assert_int_equal(o.listen_port, 12345);
	assert_int_equal(parse(&o, true, err, "-a|160.16.95.238|-p|12345|-t|ifconfig %s y"), 0);
	assert_int_equal(o.mode, MODE_CLIENT);
	assert_int_equal(o.listen_port, 0);
	assert_int_equal(o.keepalive, CLIENT_KEEPALIVE_DEFAULT);
}

static void new_options(void **state)
{
	struct options o;
	char err[256];

	assert_int_equal(parse(&o, false, err,
			       "-a|2001:db8::2|--listen-port|5000|-i|vpn0|--address|10.0.0.1/24|--address|fd00::1/64|--mtu|1412|--keepalive|7|-v|-v"),
			 0);
	assert_int_equal(o.listen_port, 5000);
	assert_string_equal(o.ifname, "vpn0");
	assert_int_equal(o.address_count, 2);
	assert_int_equal(o.addresses[0].family, AF_INET);
	assert_int_equal(o.addresses[0].cidr, 24);
	assert_int_equal(o.addresses[1].family, AF_INET6);
	assert_int_equal(o.addresses[1].cidr, 64);
	assert_int_equal(o.mtu, 1412);
	assert_int_equal(o.keepalive, 7);
	assert_int_equal(o.verbosity, 2);
	assert_int_equal(parse(&o, false, err, "--mode|client|-a|192.0.2.1"), 0);
	assert_int_equal(o.mode, MODE_CLIENT);
	assert_int_equal(parse(&o, true, err, "-a|192.0.2.1|--keepalive|0"), 0);
	assert_int_equal(o.keepalive, 0);
}

struct error_case {
	const char *line;
	const char *message_part;
};

static const struct error_case error_cases[] = {
	{ "--bogus", "unknown option '--bogus'" },
	{ "-x", "unknown option '-x'" },
	{ "-a", "needs an argument" },
	{ "-a|192.0.2.1|-p|0", "out of range" },
	{ "-a|192.0.2.1|-p|65536", "out of range" },
	{ "-a|192.0.2.1|-p|12ab", "out of range" },
	{ "-s|-1", "out of range" },
	{ "-a|192.0.2.1|--mtu|575", "MTU '575' out of range" },
	{ "-a|192.0.2.1|--mtu|70000", "out of range" },
	{ "-a|192.0.2.1|--workers|0", "workers '0' out of range (1-64)" },
	{ "-a|192.0.2.1|--workers|65", "workers '65' out of range (1-64)" },
	{ "-a|192.0.2.1|--workers|-2", "workers '-2' out of range" },
	{ "-a|192.0.2.1|--workers|4x", "workers '4x' out of range" },
	{ "-a|192.0.2.1|--workers=", "workers '' out of range" },
	{ "-a|192.0.2.1|--workers", "needs an argument" },
	{ "-a|192.0.2.1|--queue-target|1s", "queue target '1s' is not a time" },
	{ "-a|192.0.2.1|--queue-target|0.001", "queue target '0.001' is not a time" },
	{ "-a|192.0.2.1|--queue-target|none", "queue target 'none' is not a time" },
	{ "-a|192.0.2.1|-i|abcdefghijklmnop", "invalid interface name" },
	{ "-a|192.0.2.1|-i|a b", "invalid interface name" },
	{ "-a|192.0.2.1|-i|x;rm", "invalid interface name" },
	{ "-a|192.0.2.1|--address|10.0.0.300/24", "invalid address" },
	{ "-a|192.0.2.1|--address|10.0.0.1/33", "invalid address" },
	{ "-a|192.0.2.1|--address|fd00::1/129", "invalid address" },
	{ "-a|192.0.2.1|--keepalive|-1", "keepalive" },
	{ "--mode|client", "missing -a" },
	{ "--mode|peer", "missing -a" },
	{ "--mode|bogus", "unknown mode" },
	{ "-p|12345", "-p is the port to send to" },
	{ "-a|192.0.2.1|extra", "unexpected argument 'extra'" },
};

static void errors_are_one_clear_line(void **state)
{
	for (size_t i = 0; i < sizeof(error_cases) / sizeof(error_cases[0]); i++) {
		struct options o;
		char err[256] = "";

		int ret = parse(&o, false, err, error_cases[i].line);
		if (ret != -EINVAL || !strstr(err, error_cases[i].message_part) || strchr(err, '\n'))
			fail_msg("case '%s': ret %d, message '%s'", error_cases[i].line, ret, err);
	}
}

/* How to run, not what the tunnel is: allowed in every mode, and with -c. */
static void workers_option(void **state)
{
	static const struct {
		const char *line;
		int workers;
	} cases[] = {
		{ "-a|192.0.2.1", 0 },
		{ "-a|192.0.2.1|--workers|1", 1 },
		{ "-s|5000|--workers|64", 64 },
		{ "-c|wg0.conf|--workers|8", 8 },
		{ "--workers|3|wg0", 3 },
		{ "--workers=2|--workers=5|-a|192.0.2.1", 5 }, /* the last one wins */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct options o;
		char err[256] = "";

		if (parse(&o, false, err, cases[i].line) || o.workers != cases[i].workers)
			fail_msg("case '%s': workers %d, message '%s'", cases[i].line, o.workers, err);
	}
}

/* --queue-target: unset (the file's or the default), a time, or off. */
static void queue_target_option(void **state)
{
	static const struct {
		const char *line;
		bool set;
		uint64_t ns;
	} cases[] = {
		{ "-a|192.0.2.1", false, 0 },
		{ "-a|192.0.2.1|--queue-target|2", true, 2000000 },
		{ "-c|wg0.conf|--queue-target=500us", true, 500000 },
		{ "--queue-target|off|wg0", true, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct options o;
		char err[256] = "";

		if (parse(&o, false, err, cases[i].line) || o.queue_target_set != cases[i].set ||
		    o.queue_target_ns != cases[i].ns)
			fail_msg("case '%s': set %d, %llu ns, message '%s'", cases[i].line,
				 o.queue_target_set, (unsigned long long)o.queue_target_ns, err);
	}
}

/* --tcp-port and --transport: defaults, values, and one-line errors. */
static void transport_options(void **state)
{
	struct options o;
	char err[256] = "";

	assert_int_equal(parse(&o, true, err, "-s|51820"), 0);
	assert_int_equal(o.tcp_port, -1); /* the UDP port's number */
	assert_int_equal(o.transport, TRANSPORT_MODE_AUTO);
	assert_int_equal(parse(&o, true, err, "-s|51820|--tcp-port|443"), 0);
	assert_int_equal(o.tcp_port, 443);
	assert_int_equal(parse(&o, true, err, "-s|51820|--tcp-port|0"), 0);
	assert_int_equal(o.tcp_port, 0);
	assert_int_equal(parse(&o, true, err, "-a|192.0.2.1|--transport|tcp"), 0);
	assert_int_equal(o.transport, TRANSPORT_MODE_TCP);
	assert_int_equal(parse(&o, true, err, "-c|wg0.conf|--transport|udp"), 0);
	assert_int_equal(o.transport, TRANSPORT_MODE_UDP);
	assert_int_equal(parse(&o, true, err, "-a|192.0.2.1|--transport|quic"), -EINVAL);
	assert_non_null(strstr(err, "--transport 'quic'"));
	assert_int_equal(parse(&o, true, err, "-s|1|--tcp-port|70000"), -EINVAL);
	assert_non_null(strstr(err, "--tcp-port"));
}

/* --port-mapping[=yes|no]: unset by default (the file decides), one-line error otherwise. */
static void port_mapping_option(void **state)
{
	struct options o;
	char err[256] = "";

	assert_int_equal(parse(&o, true, err, "-s|51820"), 0);
	assert_int_equal(o.port_mapping, -1);
	assert_int_equal(parse(&o, true, err, "-s|51820|--port-mapping"), 0);
	assert_int_equal(o.port_mapping, 1);
	assert_int_equal(parse(&o, true, err, "-c|wg0.conf|--port-mapping=no"), 0);
	assert_int_equal(o.port_mapping, 0);
	assert_int_equal(parse(&o, true, err, "-c|wg0.conf|--port-mapping=yes"), 0);
	assert_int_equal(o.port_mapping, 1);
	assert_int_equal(parse(&o, true, err, "-s|1|--port-mapping=auto"), -EINVAL);
	assert_string_equal(err, "invalid --port-mapping 'auto' (yes or no)");
}

/* --user and --no-sandbox: allowed in every form, -c and IFNAME included. */
static void privilege_options(void **state)
{
	struct options o;
	char err[256] = "";

	assert_int_equal(parse(&o, true, err, "-s|51820"), 0);
	assert_null(o.user);
	assert_false(o.no_sandbox);
	assert_int_equal(parse(&o, true, err, "-c|wg0.conf|--user|nobody|--no-sandbox"), 0);
	assert_string_equal(o.user, "nobody");
	assert_true(o.no_sandbox);
	assert_int_equal(parse(&o, false, err, "--user|65534|wg0"), 0);
	assert_string_equal(o.user, "65534");
	assert_true(o.uapi_only);
	assert_int_equal(parse(&o, true, err, "-s|1|--user|"), -EINVAL);
	assert_non_null(strstr(err, "--user"));
}

/* Off unless asked for, and accepted by every form (it says how to run, not what to run). */
static void allow_core_dumps_option(void **state)
{
	static const char *const lines[] = {
		"-a|192.0.2.1|--allow-core-dumps", "-c|wg0.conf|--allow-core-dumps",
		"--allow-core-dumps|wg0", "-s|5000|--allow-core-dumps",
	};
	struct options o;
	char err[256];

	assert_int_equal(parse(&o, false, err, "-a|192.0.2.1"), 0);
	assert_false(o.allow_core_dumps);
	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		if (parse(&o, false, err, lines[i]) || !o.allow_core_dumps)
			fail_msg("case '%s': allow_core_dumps %d, message '%s'", lines[i],
				 o.allow_core_dumps, err);
	}
}

static void ifname_rules(void **state)
{
	assert_true(options_ifname_valid("tun0"));
	assert_true(options_ifname_valid("wg-office.1"));
	assert_true(options_ifname_valid("vpn%d"));
	assert_true(options_ifname_valid("abcdefghijklmno"));
	assert_false(options_ifname_valid("abcdefghijklmnop"));
	assert_false(options_ifname_valid(""));
	assert_false(options_ifname_valid(".."));
	assert_false(options_ifname_valid("a/b"));
}

/* --gateway belongs to servers, --route-all to clients and peers, the kill-switch flags to it. */
static void exit_options(void **state)
{
	struct options o;
	char err[256];

	assert_int_equal(parse(&o, true, err, "-s|51820|--gateway"), 0);
	assert_true(o.gateway);
	assert_null(o.gateway_uplink);
	assert_int_equal(parse(&o, true, err, "-s|51820|--gateway=eth0"), 0);
	assert_string_equal(o.gateway_uplink, "eth0");
	assert_int_equal(parse(&o, true, err, "-s|51820|--gateway=a/b"), -EINVAL);
	assert_non_null(strstr(err, "uplink"));
	assert_int_equal(parse(&o, true, err, "-a|192.0.2.1|--gateway"), -EINVAL);
	assert_non_null(strstr(err, "--gateway is for a server"));
	assert_int_equal(parse(&o, true, err, "-a|192.0.2.1|--route-all|--allow-lan"), 0);
	assert_true(o.route_all && o.allow_lan && !o.allow_leaks);
	assert_int_equal(parse(&o, true, err, "-s|51820|--route-all"), -EINVAL);
	assert_int_equal(parse(&o, true, err, "-a|192.0.2.1|--allow-leaks"), -EINVAL);
	assert_non_null(strstr(err, "--route-all"));
	assert_int_equal(parse(&o, false, err, "--gateway|wg0"), -EINVAL);
}

/* --dns: servers and search domains, repeatable and as lists; the resolv.conf they make. */
static void dns_option(void **state)
{
	struct options o;
	char err[256], text[512];
	int len;

	assert_int_equal(parse(&o, true, err, "-a|192.0.2.1|--dns|10.0.0.1, fd00::1|--dns|example.org"), 0);
	assert_int_equal(o.dns.server_count, 2);
	assert_int_equal(o.dns.servers[1].family, AF_INET6);
	assert_int_equal(o.dns.search_count, 1);
	len = dns_resolv_conf(text, sizeof(text), &o.dns, "wg0");
	assert_int_equal(len, (int)strlen(text));
	assert_string_equal(strchr(text, '\n') + 1,
			    "nameserver 10.0.0.1\nnameserver fd00::1\nsearch example.org\n");
	assert_int_equal(strncmp(text, "# myvpn wg0:", 12), 0);
	assert_int_equal(dns_resolv_conf(text, 40, &o.dns, "wg0"), -ENOSPC);
	assert_int_equal(parse(&o, true, err, "-a|192.0.2.1|--dns|10.0.0.1,bad/name"), -EINVAL);
	assert_non_null(strstr(err, "'bad/name'"));
	assert_int_equal(parse(&o, true, err,
			       "-a|192.0.2.1|--dns|10.0.0.1,10.0.0.2,10.0.0.3,10.0.0.4,10.0.0.5,10.0.0.6,10.0.0.7,10.0.0.8,10.0.0.9"),
			 -EINVAL);
	assert_non_null(strstr(err, "too many DNS servers"));
	assert_int_equal(parse(&o, false, err, "--dns|10.0.0.1|wg0"), -EINVAL);
	/* search domains alone: refused before anything is set up */
	assert_int_equal(parse(&o, true, err, "-a|192.0.2.1|--dns|example.org"), -EINVAL);
	assert_non_null(strstr(err, "example.org needs a server"));
	assert_int_equal(parse(&o, true, err, "-a|192.0.2.1|--dns|example.org|--dns|10.0.0.1"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(seed_peer_line),
		cmocka_unit_test(seed_nat_lines),
		cmocka_unit_test(new_options),
		cmocka_unit_test(errors_are_one_clear_line),
		cmocka_unit_test(workers_option),
		cmocka_unit_test(queue_target_option),
		cmocka_unit_test(transport_options),
		cmocka_unit_test(port_mapping_option),
		cmocka_unit_test(privilege_options),
		cmocka_unit_test(allow_core_dumps_option),
		cmocka_unit_test(ifname_rules),
		cmocka_unit_test(dns_option),
		cmocka_unit_test(exit_options),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
