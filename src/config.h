/* Parser for wg-quick configuration files: pure, except config_read_file, which only reads. */
#ifndef MYVPN_CONFIG_H
#define MYVPN_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "dns.h"

/*
 * The format is wg(8)'s, with wg-quick(8)'s extra [Interface] keys:
 *
 *   [Interface]   PrivateKey, ListenPort, FwMark (number, 0x-hex or "off"), Address (list),
 *                 MTU (576-65535), Workers (1-64, myvpn's own), QueueTarget (ms, "off";
 *                 myvpn's own), Metrics (ADDR:PORT,
 *                 myvpn's own), Gateway (yes, no or the uplink's name; myvpn's own),
 *                 Table (only "off" matters: no full tunnel), User (a user name
 *                 to run as after set-up, myvpn's own), Rendezvous ("serve", or the
 *                 public key of the [Peer] that introduces us to peers behind NAT;
 *                 myvpn's own), PortMapping (yes or no, myvpn's own), DNS (list of
 *                 servers and search domains, as wg-quick's); PreUp, PostUp, PreDown,
 *                 PostDown and SaveConfig (true/false) are accepted and ignored.
 *   [Peer]        PublicKey (required), PresharedKey, Endpoint (host:port, a.b.c.d:port or
 *                 [v6]:port), AllowedIPs (list), PersistentKeepalive (number or "off"),
 *                 TcpPort (1-65535: the port to dial when the peer is reached over TCP,
 *                 instead of the Endpoint's; myvpn's own).
 *
 * Section names and keys are case-insensitive; whitespace around keys, values and list items
 * is trimmed; '#' starts a comment anywhere on a line. A repeated key replaces the earlier
 * value, except Address and AllowedIPs, which accumulate; a repeated [Interface] continues
 * the same interface. Each [Peer] starts a new peer, and two peers may not share a key.
 */

enum config_limits {
	CONFIG_MAX_ADDRESSES = 32,
	CONFIG_MTU_MIN = 576,
	CONFIG_MTU_MAX = 65535,
	CONFIG_MAX_FILE_SIZE = 1 << 20,
	CONFIG_MAX_HOST_LEN = 253, /* longest DNS name */
	CONFIG_WORKERS_MAX = 64,
};

enum config_rendezvous {
	CONFIG_RENDEZVOUS_OFF = 0,
	CONFIG_RENDEZVOUS_SERVE,  /* Rendezvous = serve: introduce and relay our peers */
	CONFIG_RENDEZVOUS_CLIENT, /* Rendezvous = KEY: that peer introduces us */
};

/* line is 1-based; 0 means the error is about the file as a whole (open, read, size). */
struct config_error {
	int line;
	char message[256];
};

struct config_peer {
	uint8_t public_key[32];
	bool has_psk;
	uint8_t psk[32];
	/* Not resolved: a name, a dotted IPv4 address or a bare IPv6 address (brackets
	 * removed), ready for addr_resolve. Owned by the config. NULL without an Endpoint. */
	char *endpoint_host;
	uint16_t endpoint_port;
	bool has_endpoint;
	/* As written: host bits are kept, and duplicates are not merged. Owned by the config. */
	struct ip_prefix *allowed_ips;
	size_t allowed_ip_count;
	uint16_t persistent_keepalive; /* seconds; 0 = off */
	uint16_t tcp_port;	       /* TcpPort (myvpn's own): where to dial over TCP; 0 = Endpoint's */
	int line;		       /* of the [Peer] header, for the caller's messages */
	int endpoint_line;	       /* of the Endpoint key, to report a failed resolution */
};

struct config {
	bool has_private_key;
	uint8_t private_key[32]; /* as written; not clamped */
	uint16_t listen_port;	 /* 0 = random */
	bool has_listen_port;
	uint16_t tcp_port;       /* TcpPort: 0 = no TCP listener */
	bool has_tcp_port;       /* unset: the ListenPort's number */
	int transport;           /* Transport: enum transport_mode; AUTO when unset */
	uint32_t fwmark;	 /* 0 = off */
	struct ip_prefix addresses[CONFIG_MAX_ADDRESSES]; /* host bits kept: 10.0.0.1/24 */
	int address_count;
	int mtu; /* 0 = unset; the caller applies its default (1420) */
	int workers; /* data-path threads; 0 = unset, the caller's default */
	uint64_t queue_target_ns; /* QueueTarget, when has_queue_target; 0 = off */
	bool has_queue_target;
	union endpoint metrics; /* the Prometheus listener, when has_metrics */
	bool has_metrics;
	bool gateway;		   /* Gateway = yes | IFNAME: the clients' way out */
	char gateway_uplink[16];   /* IFNAME, or empty for the default route's interface */
	bool table_off;		   /* Table = off: no routes, no full tunnel */
	/* Table = NUMBER or NAME: the routes of every allowed IP (default routes included) go
	 * there, and no full tunnel is set up; empty for auto (the main table). The caller
	 * resolves it (route_table.h) and reports an error at table_line. */
	char table[32];
	int table_line;
	/* wg-quick's own work, which myvpn -c does not do: the first PreUp, PostUp, PreDown or
	 * PostDown line, and SaveConfig = true's line (0: none); the caller warns. */
	int wg_quick_command_line, save_config_line;
	char user[64];		   /* User: whom to run as after set-up; empty = stay */
	int rendezvous;		   /* Rendezvous: enum config_rendezvous */
	uint8_t rendezvous_key[32]; /* CONFIG_RENDEZVOUS_CLIENT: the introducing peer's key */
	int nat_keepalive;	   /* NatKeepalive: seconds + 1 (0 = unset: the default) */
	bool port_mapping;	   /* PortMapping = yes: ask the NAT router to forward our ports */
	bool has_port_mapping;	   /* PortMapping given (yes or no): unset may mean a default */
	struct dns_settings dns;   /* DNS: accumulates, as Address */
	struct config_peer *peers; /* owned; in file order */
	size_t peer_count;
};

/*
 * Parses len bytes of text (need not be NUL-terminated). Returns 0 and fills *out, or
 * -EINVAL (or -ENOMEM) with *out zeroed and err->line/err->message describing the first
 * problem, so that the caller can print "FILE:LINE: MESSAGE". Messages never contain key
 * material. err may be NULL.
 */
int config_parse(struct config *out, const char *buf, size_t len, struct config_error *err);

/*
 * Reads path (at most CONFIG_MAX_FILE_SIZE bytes) and parses it. *exposed is set when the
 * file is readable by group or others (the caller prints wg's "Warning: `FILE' is world
 * accessible"); it may be NULL. File errors return -errno with err->line = 0.
 */
int config_read_file(struct config *out, const char *path, bool *exposed,
		     struct config_error *err);

/* Frees what the config owns, wipes its keys and zeroes it. Safe on a zeroed config. */
void config_free(struct config *cfg);

#endif
