/* Command-line parsing for the seed-style modes (pure: reports errors in a buffer). */
#include "options.h"
#include "codel.h"
#include "config.h"
#include "mtu.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum long_only_option {
	OPT_ADDRESS = 0x100,
	OPT_MTU,
	OPT_KEEPALIVE,
	OPT_MODE,
	OPT_VERSION,
	OPT_PRIVATE_KEY,
	OPT_PEER_KEY,
	OPT_NO_OFFLOAD,
	OPT_WORKERS,
	OPT_METRICS,
	OPT_GATEWAY,
	OPT_ROUTE_ALL,
	OPT_ALLOW_LEAKS,
	OPT_ALLOW_LAN,
	OPT_DNS,
	OPT_TCP_PORT,
	OPT_TRANSPORT,
	OPT_USER,
	OPT_NO_SANDBOX,
	OPT_ALLOW_CORE_DUMPS,
	OPT_PORT_MAPPING,
	OPT_QUEUE_TARGET,
};

static const struct option long_options[] = {
	{ "remote", required_argument, NULL, 'a' },
	{ "port", required_argument, NULL, 'p' },
	{ "listen-port", required_argument, NULL, 's' },
	{ "tun-command", required_argument, NULL, 't' },
	{ "ifname", required_argument, NULL, 'i' },
	{ "address", required_argument, NULL, OPT_ADDRESS },
	{ "mtu", required_argument, NULL, OPT_MTU },
	{ "keepalive", required_argument, NULL, OPT_KEEPALIVE },
	{ "mode", required_argument, NULL, OPT_MODE },
	{ "verbose", no_argument, NULL, 'v' },
	{ "help", no_argument, NULL, 'h' },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ "config", required_argument, NULL, 'c' },
	{ "foreground", no_argument, NULL, 'f' },
	{ "no-offload", no_argument, NULL, OPT_NO_OFFLOAD },
	{ "workers", required_argument, NULL, OPT_WORKERS },
	{ "queue-target", required_argument, NULL, OPT_QUEUE_TARGET },
	{ "metrics", required_argument, NULL, OPT_METRICS },
	{ "gateway", optional_argument, NULL, OPT_GATEWAY },
	{ "route-all", no_argument, NULL, OPT_ROUTE_ALL },
	{ "allow-leaks", no_argument, NULL, OPT_ALLOW_LEAKS },
	{ "allow-lan", no_argument, NULL, OPT_ALLOW_LAN },
	{ "dns", required_argument, NULL, OPT_DNS },
	{ "tcp-port", required_argument, NULL, OPT_TCP_PORT },
	{ "transport", required_argument, NULL, OPT_TRANSPORT },
	{ "user", required_argument, NULL, OPT_USER },
	{ "no-sandbox", no_argument, NULL, OPT_NO_SANDBOX },
	{ "allow-core-dumps", no_argument, NULL, OPT_ALLOW_CORE_DUMPS },
	{ "port-mapping", optional_argument, NULL, OPT_PORT_MAPPING },
	{ "private-key", required_argument, NULL, OPT_PRIVATE_KEY },
	{ "peer-key", required_argument, NULL, OPT_PEER_KEY },
	{ 0 }
};

static int fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int parse_int(const char *text, long min, long max, int *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(text, &end, 10);
	if (errno || end == text || *end || v < min || v > max)
		return -ERANGE;
	*out = (int)v;
	return 0;
}

/* Kernel names are at most IFNAMSIZ-1 bytes; we also keep to characters that are safe to
 * substitute into the -t shell command. "%d" lets the kernel pick the number. */
bool options_ifname_valid(const char *name)
{
	size_t len = strlen(name);

	return len > 0 && len < IFNAMSIZ && strcmp(name, ".") && strcmp(name, "..") &&
	       strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-%") ==
		       len;
}

static int parse_mode(const char *text, enum run_mode *mode)
{
	if (!strcmp(text, "peer"))
		*mode = MODE_PEER;
	else if (!strcmp(text, "server"))
		*mode = MODE_SERVER;
	else if (!strcmp(text, "client"))
		*mode = MODE_CLIENT;
	else
		return -EINVAL;
	return 0;
}

int options_parse_transport(const char *text, enum transport_mode *out)
{
	if (!strcmp(text, "auto"))
		*out = TRANSPORT_MODE_AUTO;
	else if (!strcmp(text, "udp"))
		*out = TRANSPORT_MODE_UDP;
	else if (!strcmp(text, "tcp"))
		*out = TRANSPORT_MODE_TCP;
	else
		return -EINVAL;
	return 0;
}

struct parse_state {
	bool have_port, have_listen, have_mode, have_keepalive;
};

static int parse_one(struct options *o, struct parse_state *st, int opt, const char *arg,
		     char *err, size_t errlen)
{
	switch (opt) {
	case 'a':
		o->peer_host = arg;
		return 0;
	case 'p':
		st->have_port = true;
		if (addr_parse_port(arg, false, &o->peer_port))
			return fail(err, errlen, "port '%s' out of range (1-65535)", arg);
		return 0;
	case 's':
		st->have_listen = true;
		if (addr_parse_port(arg, true, &o->listen_port))
			return fail(err, errlen, "listen port '%s' out of range (0-65535)", arg);
		return 0;
	case 't':
		o->tun_command = arg;
		return 0;
	case 'i':
		if (!options_ifname_valid(arg))
			return fail(err, errlen,
				    "invalid interface name '%s' (1-%d characters: letters, digits, '_', '-', '.')",
				    arg, IFNAMSIZ - 1);
		strcpy(o->ifname, arg);
		return 0;
	case OPT_ADDRESS:
		if (o->address_count == MAX_ADDRESSES)
			return fail(err, errlen, "too many --address options (at most %d)", MAX_ADDRESSES);
		if (addr_parse_prefix(arg, &o->addresses[o->address_count]))
			return fail(err, errlen, "invalid address '%s' (expected IP or IP/PREFIX)", arg);
		o->address_count++;
		return 0;
	case OPT_MTU:
		if (parse_int(arg, TUNNEL_MTU_MIN, TUNNEL_MTU_MAX, &o->mtu))
			return fail(err, errlen, "MTU '%s' out of range (%d-%d)", arg, TUNNEL_MTU_MIN,
				    TUNNEL_MTU_MAX);
		return 0;
	case OPT_KEEPALIVE:
		st->have_keepalive = true;
		if (parse_int(arg, 0, KEEPALIVE_MAX, &o->keepalive))
			return fail(err, errlen, "keepalive '%s' out of range (0-%d seconds)", arg,
				    KEEPALIVE_MAX);
		return 0;
	case OPT_MODE:
		st->have_mode = true;
		if (parse_mode(arg, &o->mode))
			return fail(err, errlen, "unknown mode '%s' (peer, server or client)", arg);
		return 0;
	case 'v':
		o->verbosity++;
		return 0;
	case 'h':
		o->show_help = true;
		return 0;
	case OPT_VERSION:
		o->show_version = true;
		return 0;
	case 'c':
		o->config_file = arg;
		return 0;
	case 'f':
		o->foreground = true;
		return 0;
	case OPT_NO_OFFLOAD:
		o->no_offload = true;
		return 0;
	case OPT_ALLOW_CORE_DUMPS:
		o->allow_core_dumps = true;
		return 0;
	case OPT_WORKERS:
		if (parse_int(arg, 1, CONFIG_WORKERS_MAX, &o->workers))
			return fail(err, errlen, "workers '%s' out of range (1-%d)", arg,
				    CONFIG_WORKERS_MAX);
		return 0;
	case OPT_QUEUE_TARGET:
		if (codel_parse_target(arg, &o->queue_target_ns))
			return fail(err, errlen,
				    "queue target '%s' is not a time (e.g. 1, 0.5ms, 250us, or off; 0.01-1000 ms)",
				    arg);
		o->queue_target_set = true;
		return 0;
	case OPT_METRICS:
		if (addr_parse_listen(arg, &o->metrics))
			return fail(err, errlen, "--metrics '%s' is not ADDRESS:PORT (numeric, e.g. 127.0.0.1:9586)",
				    arg);
		o->has_metrics = true;
		return 0;
	case OPT_GATEWAY:
		if (arg && (!options_ifname_valid(arg) || strchr(arg, '%')))
			return fail(err, errlen, "invalid uplink interface name '%s'", arg);
		o->gateway = true;
		o->gateway_uplink = arg;
		return 0;
	case OPT_ROUTE_ALL:
		o->route_all = true;
		return 0;
	case OPT_ALLOW_LEAKS:
		o->allow_leaks = true;
		return 0;
	case OPT_ALLOW_LAN:
		o->allow_lan = true;
		return 0;
	case OPT_DNS:
		return dns_parse_list(&o->dns, arg, err, errlen);
	case OPT_TCP_PORT:
		if (parse_int(arg, 0, 65535, &o->tcp_port))
			return fail(err, errlen, "invalid --tcp-port '%s' (0-65535, 0 = no TCP listener)", arg);
		return 0;
	case OPT_TRANSPORT:
		if (options_parse_transport(arg, &o->transport))
			return fail(err, errlen, "invalid --transport '%s' (udp, tcp or auto)", arg);
		o->transport_set = true;
		return 0;
	case OPT_USER:
		if (!*arg)
			return fail(err, errlen, "--user needs a user name");
		o->user = arg;
		return 0;
	case OPT_NO_SANDBOX:
		o->no_sandbox = true;
		return 0;
	case OPT_PORT_MAPPING:
		if (!arg || !strcmp(arg, "yes"))
			o->port_mapping = 1;
		else if (!strcmp(arg, "no"))
			o->port_mapping = 0;
		else
			return fail(err, errlen, "invalid --port-mapping '%s' (yes or no)", arg);
		return 0;
	case OPT_PRIVATE_KEY:
		o->private_key_file = arg;
		return 0;
	case OPT_PEER_KEY:
		o->peer_key = arg;
		return 0;
	}
	return fail(err, errlen, "internal error: unhandled option");
}

static int unknown_option(char **argv, int opt, char *err, size_t errlen)
{
	const char *word = argv[optind - 1];

	if (opt == ':')
		return fail(err, errlen, "option '%s' needs an argument", word);
	if (optopt)
		return fail(err, errlen, "unknown option '-%c'", optopt);
	return fail(err, errlen, "unknown option '%s'", word);
}

/* The seed's rules: myvpn is peer-to-peer when told -a, myvpn_nat is a client when told -a,
 * and either is a server otherwise. Only the peer binds 12345 by default, as the seed did. */
/* -c carries everything the seed-style flags would: mixing them would leave two truths. */
static int check_encryption(struct options *o, const struct parse_state *st, char *err,
			    size_t errlen)
{
	o->encrypted = o->config_file || o->private_key_file;
	if (o->config_file && (o->peer_host || o->private_key_file || o->peer_key || st->have_port ||
			       st->have_mode || st->have_keepalive || o->address_count || o->mtu ||
			       st->have_listen))
		return fail(err, errlen, "-c takes every setting from the file; drop the other tunnel options");
	if (o->peer_key && !o->private_key_file)
		return fail(err, errlen, "--peer-key needs --private-key FILE");
	if (o->private_key_file && !o->peer_key)
		return fail(err, errlen, "--private-key needs --peer-key BASE64 (the other side's public key)");
	return 0;
}

static int apply_defaults(struct options *o, const struct parse_state *st, bool prog_is_nat,
			  char *err, size_t errlen)
{
	int ret = check_encryption(o, st, err, errlen);

	if (!ret)
		ret = dns_settings_check(&o->dns, err, errlen);
	if (ret)
		return ret;
	o->mtu_set = o->mtu != 0;
	o->listen_port_set = st->have_listen;
	if (o->config_file)
		return 0;
	if (!st->have_mode)
		o->mode = !o->peer_host ? MODE_SERVER : prog_is_nat ? MODE_CLIENT : MODE_PEER;
	if (o->gateway && o->mode != MODE_SERVER)
		return fail(err, errlen, "--gateway is for a server (no -a): it forwards the clients' traffic");
	if (o->route_all && o->mode == MODE_SERVER)
		return fail(err, errlen, "--route-all is for a client or a peer (-a ADDRESS)");
	if (o->mode != MODE_SERVER && !o->peer_host)
		return fail(err, errlen, "missing -a ADDRESS: %s mode needs the other side's address",
			    o->mode == MODE_PEER ? "peer" : "client");
	if (o->mode == MODE_SERVER && o->peer_host)
		return fail(err, errlen, "-a makes no sense in server mode: the server learns the client's address");
	if (o->mode == MODE_SERVER && st->have_port)
		return fail(err, errlen, "-p is the port to send to; a server uses -s PORT to listen");
	if (!st->have_port)
		o->peer_port = SEED_PORT;
	if (!st->have_listen)
		o->listen_port = o->mode == MODE_CLIENT ? 0 : SEED_PORT;
	if (!st->have_keepalive)
		o->keepalive = o->mode == MODE_CLIENT ? CLIENT_KEEPALIVE_DEFAULT : 0;
	return 0;
}

/* `myvpn [-f] IFNAME`: everything else comes later, through the UAPI. */
static int interface_mode(struct options *o, const struct parse_state *st, int count,
			  char **words, char *err, size_t errlen)
{
	if (count > 1 || o->peer_host || o->config_file || o->private_key_file || o->peer_key ||
	    o->tun_command || o->gateway || o->route_all || o->dns.server_count ||
	    o->dns.search_count || o->ifname[0] || o->address_count || o->mtu || st->have_port ||
	    st->have_listen || st->have_mode || st->have_keepalive)
		return fail(err, errlen, "unexpected argument '%s'", words[count > 1 ? 1 : 0]);
	if (!options_ifname_valid(words[0]) || strchr(words[0], '%'))
		return fail(err, errlen, "invalid interface name '%s' (1-%d characters: letters, digits, '_', '-', '.')",
			    words[0], IFNAMSIZ - 1);
	strcpy(o->ifname, words[0]);
	o->uapi_only = o->encrypted = true;
	return 0;
}

int options_parse(struct options *o, int argc, char **argv, bool prog_is_nat, char *err,
		  size_t errlen)
{
	struct parse_state st = { 0 };
	int opt, ret;

	memset(o, 0, sizeof(*o));
	o->tcp_port = -1;
	o->port_mapping = -1;
	optind = 0; /* full re-initialisation, so that tests may parse repeatedly */
	opterr = 0;
	while ((opt = getopt_long(argc, argv, ":a:p:s:t:i:c:fvh", long_options, NULL)) != -1) {
		if (opt == '?' || opt == ':')
			return unknown_option(argv, opt, err, errlen);
		ret = parse_one(o, &st, opt, optarg, err, errlen);
		if (ret)
			return ret;
	}
	if (o->show_help || o->show_version)
		return 0;
	if (optind < argc)
		return interface_mode(o, &st, argc - optind, argv + optind, err, errlen);
	if ((o->allow_leaks || o->allow_lan) && !o->route_all && !o->config_file)
		return fail(err, errlen, "--allow-leaks and --allow-lan go with --route-all");
	if (o->foreground)
		return fail(err, errlen, "-f is for `myvpn -f IFNAME`: the other modes stay in the foreground anyway");
	return apply_defaults(o, &st, prog_is_nat, err, errlen);
}

void options_usage(FILE *out, const char *prog)
{
	fprintf(out,
		"Usage: %s [-a ADDRESS [-p PORT]] [-s PORT] [-t \"CMD %%s\"] [options]\n"
		"       %s -c FILE [-i IFNAME]\n"
		"       %s [-f] IFNAME       (an interface for wg and wg-quick, as wireguard-go)\n"
		"       %s genkey | pubkey\n"
		"  -a, --remote ADDRESS    the other side (peer mode in myvpn, client mode in myvpn_nat)\n"
		"  -p, --port PORT         the other side's port (default %d)\n"
		"  -s, --listen-port PORT  UDP port to listen on (default %d; client: ephemeral)\n"
		"  -t, --tun-command CMD   shell command configuring the TUN; %%s is its name\n"
		"  -i, --ifname NAME       interface name (default: the kernel's tun%%d)\n"
		"      --address CIDR      add an address to the interface (repeatable, IPv4/IPv6)\n"
		"      --mtu N             interface MTU (default: fits a 1500-byte underlay)\n"
		"      --keepalive SECS    keepalive after SECS idle (client default %d, 0 = off)\n"
		"      --mode MODE         peer, server or client, overriding the program name\n"
		"  -c, --config FILE       encrypted: a wg-quick format file ([Interface], [Peer])\n"
		"      --private-key FILE  encrypted seed-style: our private key (from 'myvpn genkey')\n"
		"      --peer-key BASE64   encrypted seed-style: the other side's public key\n"
		"      --gateway[=IFNAME]  server: forward and masquerade the tunnel to IFNAME\n"
		"                          (default: the interface of the default route)\n"
		"      --route-all         client: all traffic through the tunnel, fail-closed\n"
		"      --allow-leaks       with --route-all: no kill switch\n"
		"      --allow-lan         with --route-all: the local networks stay reachable\n"
		"      --dns ADDR[,...]    the resolver while the tunnel runs (servers, search\n"
		"                          domains; repeatable); the old one comes back on exit\n"
		"  -f, --foreground        with IFNAME: do not daemonize\n"
		"      --no-offload        no TUN or UDP segmentation offloads (one packet per syscall)\n"
		"      --workers N         data-path threads (1-%d; default: online CPUs, at most 8)\n"
		"      --queue-target MS   queue management: mark or drop packets that waited longer\n"
		"                          (default 1 ms; 'off' disables it)\n"
		"      --tcp-port PORT     also listen on TCP PORT (default: the UDP port; 0 = off)\n"
		"      --port-mapping[=no] ask the NAT router to forward our ports (NAT-PMP, UPnP IGD)\n"
		"      --transport MODE    udp, tcp or auto (default: UDP, TCP when UDP is blocked)\n"
		"      --metrics ADDR:PORT serve Prometheus metrics at http://ADDR:PORT/metrics\n"
		"      --user USER         after set-up, run as USER with CAP_NET_ADMIN only\n"
		"      --no-sandbox        no seccomp filter, no no_new_privs (debugging)\n"
		"      --allow-core-dumps  stay dumpable: a crash may write the keys to a core file\n"
		"  -v, --verbose           more logging (debug)\n"
		"  -h, --help              this text\n"
		"Signals: SIGINT/SIGTERM stop, SIGHUP reloads a -c file, SIGUSR1 prints counters.\n",
		prog, prog, prog, prog, SEED_PORT, SEED_PORT, CLIENT_KEEPALIVE_DEFAULT,
		CONFIG_WORKERS_MAX);
}
