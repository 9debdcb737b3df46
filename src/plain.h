/* The plaintext tunnel: a 4-byte header, one peer, no cryptography. */
#ifndef MYVPN_PLAIN_H
#define MYVPN_PLAIN_H

#include "options.h"
#include "engine.h"
#include "resolver.h"
#include "worker.h"

#include <pthread.h>

/* A server moves its client's endpoint to a new address only after the old one has been silent
 * this long (hysteresis): a stranger cannot take over a client that is talking. */
#define PLAIN_ROAM_QUIET_NS 2000000000ull

/* The client's tunnel addresses as a server learns them: the inner source of the first IP
 * packet of each family from the client's endpoint. */
struct plain_client_source {
	bool have4, have6;
	uint8_t v4[4], v6[16];
};

/* Shared by the workers: the endpoint (and the learned client source) changes only when a
 * server hears its client, under lock; each worker keeps a copy and refreshes it when the
 * generation moves. */
struct plain_tunnel {
	enum run_mode mode;
	pthread_mutex_t lock;
	struct dgram_addr endpoint; /* remote in the socket's family; unset until a server hears a client */
	struct plain_client_source source; /* server: the client's tunnel addresses */
	unsigned int generation;    /* atomic: bumped on every endpoint or source change */
	uint64_t last_rx_ns;        /* atomic, server: last datagram accepted from the endpoint */
	uint64_t keepalive_ns;      /* 0 = off */
	uint64_t last_tx_ns;        /* atomic: last datagram of any kind sent */
	struct loop_timer keepalive_timer;
	struct engine *engine;
	/* A client's transport (plain_transport.c): endpoint.kind says which one is in use. */
	enum transport_mode transport;
	uint64_t rx_ns[2];          /* atomic, client: last datagram from the server, per transport_kind */
	uint64_t asked_ns;          /* control: our unanswered keepalive on the current transport; 0 = none */
	uint64_t probe_ns;          /* control, on TCP: our last keepalive over UDP */
	unsigned int unanswered;    /* control: asks in a row that got no answer */
	struct loop_timer transport_timer;
	/* A client given its server by name (plain_resolve.c); control thread. */
	struct endpoint_name endpoint_name; /* .name NULL: by address */
	struct resolver *resolver;  /* NULL until the first lookup */
};

/* A worker's copy of the endpoint (worker.tunnel_local). */
struct plain_worker_state {
	struct dgram_addr endpoint;
	struct plain_client_source source;
	unsigned int generation;
};

extern const struct tunnel_ops plain_ops;

struct uapi_plain_remote;

void plain_init(struct plain_tunnel *t, enum run_mode mode, const union endpoint *peer,
		int keepalive_seconds, enum transport_mode transport);
void plain_free(struct plain_tunnel *t);
/* Arms the keepalive timer on the control loop; a client speaks first, which opens its NAT
 * mapping at once. */
int plain_start(struct plain_tunnel *t, struct engine *e);

/* The remote as stats=1 reports it (uapi.h), copied under the lock: any thread. */
void plain_get_remote(struct plain_tunnel *t, struct uapi_plain_remote *out);

/* plain.c, for plain_transport.c: a keepalive to `to` now (control thread). */
void plain_send_keepalive(struct plain_tunnel *t, const struct dgram_addr *to);

/* plain_transport.c: UDP or TCP for a client. */
/* Call from plain_start, after t->engine is set: 0 or -errno. */
int plain_transport_start(struct plain_tunnel *t);
/* Call from a worker for each datagram accepted from the server. */
void plain_transport_heard(struct plain_tunnel *t, const struct dgram_addr *from, uint64_t now);
/* Control thread: the endpoint moved to a new address; a keepalive asks there now. */
void plain_transport_moved(struct plain_tunnel *t, uint64_t now);

/* plain_resolve.c (control thread): a client's server given by name. */
/* The server was given as name (copied): it is looked up again when the server stops
 * answering. Before plain_start. 0 or -ENOMEM. */
int plain_set_endpoint_name(struct plain_tunnel *t, const char *name, uint16_t port);
/* The server does not answer: its name is looked up again, at most every 15 s. */
void plain_resolve_maybe(struct plain_tunnel *t, uint64_t now);
/* Once the control loop has stopped: lookups under way are dropped. */
void plain_resolve_stop(struct plain_tunnel *t);

#endif
