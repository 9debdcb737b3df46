/* The cross-platform userspace API (wireguard.com/xplatform) as pure text processing: get=1
 * and set=1 requests in, replies out. No sockets, no clocks: uapi_server.c is the I/O shell. */
#ifndef MYVPN_UAPI_H
#define MYVPN_UAPI_H

#include "portmap.h"
#include "stats.h"
#include "wg.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The protocol, one request per exchange on a stream:
 *
 *   get=1\n\n                  ->  private_key=<hex>\n listen_port=N\n [fwmark=N\n]
 *                                  { public_key=<hex>\n preshared_key=... allowed_ip=...
 *                                    [path_mtu=N\n] }*
 *                                  errno=0\n\n
 *                                  Each peer also has myvpn's transport=udp|tcp (with its
 *                                  endpoint) and transport_switches=N: wg skips keys it does
 *                                  not know, so wg show and wg showconf are unchanged.
 *                                  A peer with a TcpPort has tcp_port=N too.
 *   set=1\n key=value\n ... \n  ->  errno=0\n\n  or  errno=-N\n\n
 *                                  A peer also takes myvpn's tcp_port=N (0-65535): the port
 *                                  to dial over TCP, 0 = the endpoint's (what -c files'
 *                                  [Peer] TcpPort sends; wg(8) never does).
 *   stats=1\n\n                ->  rx_packets=N\n tx_packets=N\n rx_bytes=N\n tx_bytes=N\n
 *                                  keepalives_sent=N\n keepalives_received=N\n
 *                                  endpoint_changes=N\n { drop_<reason>=N\n }*  errno=0\n\n
 *
 * path_mtu (the inner MTU that path MTU probing found toward the peer) is myvpn's own key:
 * wg skips keys it does not know.
 *
 * stats=1 is myvpn's own extension (`myvpn show`): the worker's counters, one drop_ line per
 * reason, named by stats_drop_reason_name(). `wg` never sends it. With port mapping on, the
 * reply begins with the mapping (uapi_portmap):
 *
 *                                  portmap_state=none|requesting|mapped|failed\n
 *                                  [portmap_protocol=natpmp|upnp\n portmap_external=A.B.C.D:PORT\n
 *                                   [portmap_external_tcp_port=N\n] [portmap_lifetime=SECONDS\n]]
 *                                  [portmap_error=TEXT\n]
 *
 * (no lifetime line: a permanent UPnP lease). A plaintext interface's reply then names its
 * one remote (uapi_plain), what that remote is to us, and, once known, where it is and over which
 * transport (a server knows nothing of its client until it hears it):
 *
 *                                  plain_role=server|client|peer\n
 *                                  [plain_endpoint=ADDR:PORT\n plain_transport=udp|tcp\n]
 *
 * get=1 stays exactly wg's, so `wg show` and `wg showconf` see nothing new.
 *
 *   paths=1\n\n                ->  { public_key=<hex>\n path=direct|mapped|relay|tcp|none\n
 *                                  relay_tx_bytes=N\n relay_rx_bytes=N\n relayed_bytes=N\n }*
 *                                  errno=0\n\n
 *
 * paths=1 is myvpn's own too, answered only with a rendezvous (rendezvous.h) configured: how
 * each peer is reached, its bytes through the relay (the rest went direct), and on the
 * rendezvous the bytes it relayed from the peer.
 *
 *   prometheus=1\n\n           ->  the Prometheus exposition (metrics.h), errno=0\n\n
 *
 * also myvpn's own (`myvpn show --prometheus`), answered by uapi_server.c.
 *
 * A set request is parsed and checked whole before anything changes: a bad line, a peer that
 * cannot be created or a port the shell cannot bind leaves the device exactly as it was. Only
 * running out of memory part way through applying can leave it half changed (as in Linux).
 * Device keys come first; after the first public_key every key belongs to a peer.
 */

enum {
	UAPI_MAX_LINE = 256, /* the longest valid line is an IPv6 endpoint with a scope: ~70 */
};

/* What a plaintext interface's one remote is to us: a client's remote is its server. */
enum uapi_plain_role {
	UAPI_PLAIN_NONE,   /* an encrypted interface: no plain_ lines */
	UAPI_PLAIN_SERVER,
	UAPI_PLAIN_CLIENT,
	UAPI_PLAIN_PEER,
};

struct uapi_plain_remote {
	enum uapi_plain_role role;
	union endpoint endpoint;  /* unset until a server hears its client */
	enum transport_kind kind; /* the transport the remote is reached over now */
	const char *name;         /* a client's server given by name, or NULL */
	uint16_t name_port;
};

/* What the device cannot know itself: the shell owns the socket. */
struct uapi_device_info {
	uint16_t listen_port; /* the port actually bound */
	uint32_t fwmark;      /* SO_MARK of the socket, 0 = none */
	int udp_family;       /* AF_INET6 for a dual-stack socket, AF_INET; 0 = keep as given */
	struct portmap_status portmap; /* the router's mapping of our port; state NONE = off */
	struct uapi_plain_remote plain; /* role NONE for an encrypted interface */
};

/* A growable text buffer that wipes what it frees: replies hold the private key and requests
 * may hold private and preshared keys. Zero-initialise before use. */
struct uapi_buf {
	char *data;
	size_t len, cap;
};

int uapi_buf_append(struct uapi_buf *b, const void *data, size_t len);
int uapi_buf_printf(struct uapi_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends "name=<key in hex>\n" (the protocol's form of keys), wiping the hex text. */
int uapi_buf_put_key(struct uapi_buf *b, const char *name, const uint8_t key[NOISE_PUBLIC_KEY_LEN]);
/* Drops the first n bytes, wiping the bytes vacated at the end. */
void uapi_buf_consume(struct uapi_buf *b, size_t n);
void uapi_buf_free(struct uapi_buf *b);

/* Appends the whole reply to get=1 (ending "errno=0\n\n") to out: 0 or -ENOMEM. */
int uapi_get(const struct wg_device *dev, const struct uapi_device_info *info,
	     struct uapi_buf *out);

/* Appends the whole reply to stats=1 (ending "errno=0\n\n") to out: 0 or -ENOMEM. */
int uapi_stats(const struct stats *stats, struct uapi_buf *out);
/* Appends the whole reply to paths=1: 0 or -ENOMEM. */
int uapi_paths(const struct wg_device *dev, struct uapi_buf *out);
/* Appends the portmap_ lines of the stats=1 reply (none for state NONE); now_ns is the
 * monotonic clock, for the lifetime left. 0 or -ENOMEM. */
int uapi_portmap(const struct portmap_status *pm, uint64_t now_ns, struct uapi_buf *out);
/* Appends the plain_ lines of the stats=1 reply (none for role NONE): 0 or -ENOMEM. */
int uapi_plain(const struct uapi_plain_remote *r, struct uapi_buf *out);

/* Called after the request is checked and before anything is applied, so that a port the
 * shell cannot bind fails the whole request. Either may be NULL. 0 or -errno. */
struct uapi_set_hooks {
	void *ctx;
	int (*set_listen_port)(void *ctx, uint16_t port); /* 0 = any free port */
	int (*set_fwmark)(void *ctx, uint32_t fwmark);      /* 0 = clear */
	/* Around the changes (hooks included), after parsing and checking: the shell excludes
	 * readers of the device there, and only there. Either may be NULL. */
	void (*begin_changes)(void *ctx);
	void (*end_changes)(void *ctx);
	bool read_only; /* a plaintext interface: visible to wg show, not configurable (-EPERM) */
};

/* What a successful set changed outside the device, for a caller without hooks. */
struct uapi_set_result {
	bool new_listen_port, new_fwmark;
	uint16_t listen_port;
	uint32_t fwmark;
	unsigned int peers_added, peers_removed;
};

/*
 * Applies the key=value lines of a set request (without the "set=1" line), up to the first
 * empty line or the end of text. now_ns is the loop's monotonic clock (for keepalive timers).
 * hooks and result may be NULL. Returns 0 or a negative errno for the reply: -EINVAL for any
 * malformed or misplaced line, -EPROTONOSUPPORT for a protocol_version other than 1,
 * -EAFNOSUPPORT for an IPv6 endpoint on an IPv4-only socket, -ENOSPC beyond UINT_MAX / 2 peers,
 * -ENOMEM, or whatever a hook returned.
 */
int uapi_set(struct wg_device *dev, const struct uapi_device_info *info,
	     const struct uapi_set_hooks *hooks, const char *text, size_t len, uint64_t now_ns,
	     struct uapi_set_result *result);

/*
 * One complete request, as the shell cuts it from the stream (through its terminating empty
 * line): dispatches on "get=1", "set=1" or "stats=1" and appends the reply to out. stats may be
 * NULL: then stats=1 is an unknown operation, as for wireguard-go. Returns 0 when a reply was
 * appended, -EPROTO for an unknown operation (the connection should be closed, as
 * wireguard-go does), or -ENOMEM.
 */
int uapi_handle(struct wg_device *dev, const struct uapi_device_info *info,
		const struct uapi_set_hooks *hooks, const struct stats *stats, const char *request,
		size_t len, uint64_t now_ns, struct uapi_buf *out);

/* The length of the first complete request in data (through its "\n\n"), or 0 if none yet.
 * from: how much of data an earlier call already scanned, so a slow sender costs O(n). */
size_t uapi_request_length(const char *data, size_t len, size_t from);

#endif
