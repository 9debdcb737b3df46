/* The seed's plaintext tunnel: a 4-byte header, one peer, no cryptography. */
#ifndef MYVPN_PLAIN_H
#define MYVPN_PLAIN_H

#include "options.h"
#include "worker.h"

struct plain_tunnel {
	enum run_mode mode;
	union endpoint endpoint; /* in the socket's family; unset until a server hears a client */
	uint64_t keepalive_ns;   /* 0 = off */
	uint64_t last_tx_ns;     /* last datagram of any kind sent */
	struct loop_timer keepalive_timer;
	struct worker *worker;
};

extern const struct tunnel_ops plain_ops;

void plain_init(struct plain_tunnel *t, enum run_mode mode, const union endpoint *peer,
		int keepalive_seconds);
/* Arms the keepalive timer; a client speaks first, which opens its NAT mapping at once. */
int plain_start(struct plain_tunnel *t, struct worker *w);

#endif
