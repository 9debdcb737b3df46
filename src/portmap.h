/* Port mapping: asks the NAT router in front of us to forward our listen ports to us, with
 * NAT-PMP (libnatpmp) or UPnP IGD (libminiupnpc), so that a peer can reach us first. */
#ifndef MYVPN_PORTMAP_H
#define MYVPN_PORTMAP_H

#include "loop.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

/*
 * Both libraries block (miniupnpc's discovery and HTTP calls take up to seconds), so the
 * protocol runs on a helper thread of its own. It shares only this struct with the control
 * thread, under pm->lock, and never touches the tunnel: the workers never wait for it, and the
 * control thread only takes the lock to copy a few fields.
 *
 *   none --start--> requesting --NAT-PMP answered / else UPnP IGD added--> mapped
 *                        |  \--neither (one warning line)--> failed --retry, backing off--+
 *                        +<------------------------------------------------------------------+
 *   mapped --half the lifetime--> renewed (same external port) --refused--> requesting
 *   mapped --listen port changed--> old mapping deleted --> requesting
 *   any --portmap_stop (SIGINT, SIGTERM, a fatal error)--> mapping deleted --> none
 *
 * NAT-PMP comes first: one UDP exchange with the default gateway, quick to fail (ICMP port
 * unreachable, or no answer within PORTMAP_NATPMP_WAIT_MS). PCP is not tried: Debian's
 * libnatpmp (20150609) speaks NAT-PMP only. The external address is IPv4.
 */

enum portmap_state { PORTMAP_NONE, PORTMAP_REQUESTING, PORTMAP_MAPPED, PORTMAP_FAILED };
enum portmap_protocol { PORTMAP_PROTO_NONE, PORTMAP_PROTO_NATPMP, PORTMAP_PROTO_UPNP };

enum {
	PORTMAP_LIFETIME = 3600,      /* seconds asked for; renewed at half of what was granted */
	PORTMAP_RETRY_MIN = 30,       /* seconds after a failure, doubling ... */
	PORTMAP_RETRY_MAX = 900,      /* ... up to this */
	PORTMAP_NATPMP_WAIT_MS = 2000, /* libnatpmp resends at 250, 500, 1000 ms */
	PORTMAP_UPNP_DISCOVER_MS = 2000,
	PORTMAP_DELETE_WAIT_MS = 1000, /* at exit: how long a NAT-PMP deletion may wait */
};

/* What the router granted. */
struct portmap_status {
	enum portmap_state state;
	enum portmap_protocol protocol;
	/* PORTMAP_MAPPED: the router's external IPv4 address with our UDP port there */
	struct sockaddr_storage external;
	uint16_t udp_port;      /* ours, the one mapped (or being requested) */
	uint16_t tcp_port;      /* ours, also mapped when the TCP transport listens; 0 = none */
	uint16_t external_tcp_port; /* the TCP mapping's external port; 0 = none */
	uint64_t expires_ns;    /* CLOCK_MONOTONIC; 0 = no end (a permanent UPnP lease) */
	char error[96];         /* PORTMAP_FAILED: why, for show and the log */
};

struct portmap {
	pthread_t thread;
	bool running;
	char description[40]; /* the UPnP mapping's description: "myvpn IFNAME" */
	uint32_t lifetime;    /* seconds asked for: PORTMAP_LIFETIME, or MYVPN_TEST_PORTMAP_LIFETIME */
	int wake_fd;   /* eventfd, control thread -> helper: ports changed, or stop */
	int notify_fd; /* eventfd, helper -> control thread: the status changed */
	struct loop *loop;
	struct loop_source notify_source;
	void (*on_change)(void *ctx); /* on the control thread; may be NULL */
	void *ctx;
	pthread_mutex_t lock; /* guards what follows */
	uint16_t want_udp, want_tcp;
	bool stop;
	struct portmap_status status;
};

/* Starts asking for udp_port (and tcp_port unless 0) on a helper thread, and watches for its
 * news on loop (the control thread's), where on_change(ctx) runs after each change of status.
 * ifname names the mapping at the router. 0 or -errno (then nothing runs). */
int portmap_start(struct portmap *pm, struct loop *loop, const char *ifname, uint16_t udp_port,
		  uint16_t tcp_port, void (*on_change)(void *ctx), void *ctx);
/* The listen ports changed (wg set listen-port): the old mapping is deleted and the new
 * ports are asked for. Control thread; returns at once. */
void portmap_set_ports(struct portmap *pm, uint16_t udp_port, uint16_t tcp_port);
/* Deletes the mapping at the router (bounded by the libraries' timeouts, about a second when
 * the router answers) and joins the thread. Safe on a portmap that never started. */
void portmap_stop(struct portmap *pm);
/* A copy of the status; state PORTMAP_NONE for a portmap that never started. */
void portmap_get(struct portmap *pm, struct portmap_status *out);
/* The external address and UDP port a peer can reach us at: 0, or -ENOENT unless mapped.
 * For the rendezvous code's list of candidates. */
int portmap_external(struct portmap *pm, struct sockaddr_storage *out);

const char *portmap_state_name(enum portmap_state state);       /* "none", "mapped", ... */
const char *portmap_protocol_name(enum portmap_protocol proto); /* "natpmp", "upnp", "" */

#endif
