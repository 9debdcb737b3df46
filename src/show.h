/* `myvpn show [IFNAME] [--json]`: what `wg show` prints for each interface, plus myvpn's drop
 * counters, read from the UAPI sockets. Parsing and formatting are pure; show_main is the I/O. */
#ifndef MYVPN_SHOW_H
#define MYVPN_SHOW_H

#include "addr.h"
#include "stats.h"

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/*
 * Two requests per interface, each on its own connection:
 *
 *   get=1\n\n     the standard reply (wireguard.com/xplatform): keys, port, peers
 *   stats=1\n\n   myvpn's extension: traffic counters and drop_<reason>=N lines. A daemon
 *                 without it (wireguard-go) closes the connection: the interface is shown
 *                 without counters.
 */

enum {
	SHOW_ENDPOINT_LEN = 96, /* "[v6%scope]:port" as the daemon writes it, with room to spare */
	SHOW_NAME_LEN = 260,    /* a host name (253 at most), ':' and a port */
	SHOW_TIMEOUT_MS = 3000, /* a daemon that does not answer within this is skipped */
	SHOW_MAX_REPLY = 16 << 20,
};

struct show_peer {
	uint8_t public_key[32];
	bool has_preshared_key; /* the key itself is not kept */
	char endpoint[SHOW_ENDPOINT_LEN]; /* as the daemon wrote it; "" = none */
	char endpoint_name[SHOW_NAME_LEN]; /* myvpn's: "NAME:PORT" it came from; "" = none */
	uint64_t last_handshake_sec, last_handshake_nsec; /* Unix time; 0 = never */
	uint64_t rx_bytes, tx_bytes;
	uint16_t persistent_keepalive; /* seconds; 0 = off */
	/* paths=1 (a daemon with a rendezvous): how the peer is reached; path[0] 0 = unknown */
	char path[8];
	uint64_t relay_tx_bytes, relay_rx_bytes, relayed_bytes;
	uint32_t path_mtu; /* probed (myvpn's own path_mtu); 0 = not probed: the interface's */
	char transport[4]; /* myvpn's: "udp" or "tcp"; "" from a daemon that does not say */
	uint64_t transport_switches; /* myvpn's: moves between UDP and TCP */
	struct ip_prefix *allowed_ips; /* owned; in the daemon's order */
	size_t allowed_ip_count, allowed_ip_cap;
};

/* The router's mapping of the interface's port (the portmap_ lines of stats=1); state "" =
 * none reported (port mapping off, or a daemon without it). */
struct show_portmap {
	char state[16];    /* "requesting", "mapped", "failed" */
	char protocol[16]; /* "natpmp", "upnp" */
	char external[SHOW_ENDPOINT_LEN]; /* "A.B.C.D:PORT" */
	uint16_t external_tcp_port; /* 0 = no TCP mapping */
	bool has_lifetime;          /* false: a permanent lease */
	uint64_t lifetime;          /* seconds left */
	char error[128];
};

/* A plaintext interface's one remote (the plain_ lines of stats=1); role "" = none reported
 * (an encrypted interface, or a daemon without them). */
struct show_plain {
	char role[8];      /* what the remote is to us: "server", "client", "peer" */
	char endpoint[SHOW_ENDPOINT_LEN]; /* "ADDR:PORT"; "" = a server not yet heard from */
	char endpoint_name[SHOW_NAME_LEN]; /* a client's server given by name: "NAME:PORT" */
	char transport[4]; /* "udp", "tcp"; "" exactly when endpoint is */
};

struct show_interface {
	char name[IFNAMSIZ];
	bool has_private_key;
	uint8_t public_key[32]; /* derived from the private key, which is wiped at once */
	uint16_t listen_port;
	uint32_t fwmark; /* 0 = off */
	struct show_peer *peers; /* owned; in the daemon's order */
	size_t peer_count, peer_cap;
	bool has_stats; /* false for a daemon that does not answer stats=1 */
	struct stats stats;
	struct show_portmap portmap;
	struct show_plain plain;
	/* paths=1: the rendezvous role ("serve", "client"; "" = none) and, on a client, whether
	 * it is behind NAT ("behind", "none", "unknown"), as whom R sees it, its keepalive */
	char rendezvous[8], nat[8], seen[64];
	unsigned int nat_keepalive;
};

/*
 * Parses a reply to get=1 (through "errno=N" and the empty line) into ifc, which must be
 * zeroed (its name may be set). Lines with unknown keys are skipped, as wg does. Returns 0,
 * the daemon's own negative errno, -EBADMSG for a malformed reply, or -ENOMEM.
 */
int show_parse_get(struct show_interface *ifc, const char *reply, size_t len);
/* Parses a reply to stats=1 into *stats (zeroed first); unknown names are skipped. Same
 * return values as show_parse_get. */
int show_parse_stats(struct stats *stats, const char *reply, size_t len);
/* Parses a reply to paths=1 into the peers of ifc (matched by public key; others skipped).
 * Same return values as show_parse_get. */
int show_parse_paths(struct show_interface *ifc, const char *reply, size_t len);
/* Parses the portmap_ lines of a reply to stats=1 into *pm (zeroed first); other lines are
 * skipped. Same return values as show_parse_get. */
int show_parse_portmap(struct show_portmap *pm, const char *reply, size_t len);
/* Parses the plain_ lines of a reply to stats=1 into *pl (zeroed first); other lines are
 * skipped. An unknown role or transport, an endpoint that is not ADDR:PORT, or an endpoint
 * without a transport (or the reverse, or either without a role) is -EBADMSG. Otherwise as
 * show_parse_get. */
int show_parse_plain(struct show_plain *pl, const char *reply, size_t len);
/* Frees the peers and zeroes ifc. */
void show_interface_free(struct show_interface *ifc);

/* As wg: "1 year, 2 days, 1 minute, 5 seconds"; "" for 0. */
void show_format_duration(char *buf, size_t len, uint64_t seconds);
/* As wg: "512 B", "1.50 KiB", "2.00 MiB", "3.25 GiB", "1.00 TiB". */
void show_format_bytes(char *buf, size_t len, uint64_t bytes);

/* One interface as `wg show IFNAME` prints it (without colours; peers with the latest
 * handshake first; a "port mapping:" line after the port when the daemon reports one), then
 * myvpn's sections (a plaintext interface's remote under "transport:"), then "drops:" with the
 * non-zero drop counters, or "drops: none". now_sec is the Unix time, for "latest handshake: N
 * seconds ago". */
void show_print_text(FILE *out, const struct show_interface *ifc, uint64_t now_sec);
/* A JSON array with one object per interface (keys in the man page); "[]" for none. */
void show_print_json(FILE *out, const struct show_interface *ifcs, size_t count);

/* `myvpn show [IFNAME] [--json]`, argv[0] being "show": returns the exit status. */
int show_main(int argc, char **argv);

#endif
