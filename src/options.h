/* Command-line parsing for the seed-style modes (pure: reports errors in a buffer). */
#ifndef MYVPN_OPTIONS_H
#define MYVPN_OPTIONS_H

#include "addr.h"
#include "dns.h"
#include "transport.h"

#include <net/if.h>
#include <stdbool.h>
#include <stdio.h>

enum {
	SEED_PORT = 12345,          /* the seed's hard-coded port, still the peer-mode default */
	CLIENT_KEEPALIVE_DEFAULT = 25,
	MAX_ADDRESSES = 32,
	KEEPALIVE_MAX = 65535,
};

enum run_mode {
	MODE_PEER,   /* both ends name each other (seed's myvpn) */
	MODE_SERVER, /* learns the client from its packets (seed's myvpn_nat -s) */
	MODE_CLIENT, /* talks to a server, keeps the NAT mapping alive (seed's myvpn_nat -a) */
};

struct options {
	enum run_mode mode;
	const char *peer_host;      /* -a */
	uint16_t peer_port;         /* -p */
	uint16_t listen_port;       /* -s; 0 = ephemeral */
	const char *tun_command;    /* -t, "%s" replaced by the interface name */
	char ifname[IFNAMSIZ];      /* -i; empty = kernel's tun%d */
	struct ip_prefix addresses[MAX_ADDRESSES];
	int address_count;
	int mtu;                    /* 0 = computed default */
	int keepalive;              /* seconds; 0 = off */
	int verbosity;
	bool show_help, show_version;
	/* Encrypted (WireGuard protocol) mode: -c FILE, or the seed-style line with keys. */
	const char *config_file;      /* -c: a wg-quick format file */
	const char *private_key_file; /* --private-key */
	const char *peer_key;         /* --peer-key, base64 */
	bool encrypted;
	bool mtu_set, listen_port_set;
	/* `myvpn [-f] IFNAME`, as wireguard-go: an unconfigured encrypted interface that `wg` and
	 * wg-quick configure through the UAPI socket; in the background unless -f. */
	bool uapi_only, foreground;
	bool no_offload; /* --no-offload: plain TUN reads and writes, one packet each */
	bool allow_core_dumps; /* --allow-core-dumps: stay dumpable (keys end up in a core file) */
	/* --workers: data-path threads, 1..CONFIG_WORKERS_MAX; 0 = default. Allowed with -c,
	 * where it overrides the file's Workers: it says how to run, not what the tunnel is. */
	int workers;
	/* --queue-target: queue management's sojourn target (codel.h); 0 = off. Overrides the
	 * file's QueueTarget. */
	uint64_t queue_target_ns;
	bool queue_target_set;
	/* --metrics ADDR:PORT: serve Prometheus metrics there; overrides the file's Metrics. */
	union endpoint metrics;
	bool has_metrics;
	/* --gateway[=IFNAME] (servers): forward and masquerade the tunnel to the uplink. */
	bool gateway;
	const char *gateway_uplink; /* NULL: the default route's interface */
	/* --route-all (clients and peers): every packet through the tunnel, fail-closed unless
	 * --allow-leaks; --allow-lan lets the local networks through the kill switch. */
	bool route_all, allow_leaks, allow_lan;
	/* --dns ADDR|DOMAIN[,...] (repeatable): the resolver while the tunnel runs; replaces
	 * the file's DNS. */
	struct dns_settings dns;
	/* --tcp-port PORT: TCP listener for clients behind UDP-blocking networks; -1 = the UDP
	 * port's number, 0 = none. --transport: how this side reaches its peers. Both allowed
	 * with -c, where they override TcpPort and Transport. */
	int tcp_port;
	enum transport_mode transport;
	bool transport_set;
	/* --user USER: run as USER after set-up (overrides the file's User); NULL = stay. */
	const char *user;
	bool no_sandbox; /* --no-sandbox: no no_new_privs, no seccomp filter (debugging) */
	/* --port-mapping[=yes|no]: ask the NAT router for a mapping of our ports (portmap.h);
	 * overrides the file's PortMapping. -1 = unset, then the file decides (default no). */
	int port_mapping;
};

/* Parses argv into opts. prog_is_nat selects the myvpn_nat defaults. On error returns -EINVAL
 * and writes a one-line message (without the program name) into err. */
/* "udp", "tcp" or "auto": 0 or -EINVAL. */
int options_parse_transport(const char *text, enum transport_mode *out);
int options_parse(struct options *opts, int argc, char **argv, bool prog_is_nat, char *err,
		  size_t errlen);
bool options_ifname_valid(const char *name);
void options_usage(FILE *out, const char *prog);

#endif
