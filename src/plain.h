/* The plaintext tunnel: a 4-byte header, one peer, no cryptography. */
#ifndef MYVPN_PLAIN_H
#define MYVPN_PLAIN_H

#include "options.h"
#include "engine.h"
#include "worker.h"

#include <pthread.h>

/* Shared by the workers: the endpoint changes only when a server hears its client from a new
 * address, under lock; each worker keeps a copy and refreshes it when the generation moves. */
struct plain_tunnel {
	enum run_mode mode;
	pthread_mutex_t lock;
	struct dgram_addr endpoint; /* remote in the socket's family; unset until a server hears a client */
	unsigned int generation;    /* atomic: bumped on every endpoint change */
	uint64_t keepalive_ns;      /* 0 = off */
	uint64_t last_tx_ns;        /* atomic: last datagram of any kind sent */
	struct loop_timer keepalive_timer;
	struct engine *engine;
};

/* A worker's copy of the endpoint (worker.tunnel_local). */
struct plain_worker_state {
	struct dgram_addr endpoint;
	unsigned int generation;
};

extern const struct tunnel_ops plain_ops;

void plain_init(struct plain_tunnel *t, enum run_mode mode, const union endpoint *peer,
		int keepalive_seconds);
void plain_free(struct plain_tunnel *t);
/* Arms the keepalive timer on the control loop; a client speaks first, which opens its NAT
 * mapping at once. */
int plain_start(struct plain_tunnel *t, struct engine *e);

#endif
