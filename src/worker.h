/* A data-path worker: owns its TUN fd, UDP socket and batch buffers, and moves packets between
 * them in batches. Several workers (one per core) can later share one tunnel. */
#ifndef MYVPN_WORKER_H
#define MYVPN_WORKER_H

#include "addr.h"
#include "loop.h"
#include "options.h"
#include "stats.h"

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/uio.h>

enum {
	WORKER_BATCH = 64,
	SLOT_SIZE = 65536,  /* any IP packet fits, whatever MTU the user sets later */
	SLOT_HEADROOM = 64, /* room to prepend our header without moving the packet */
};

/* The other side of the tunnel. */
struct tunnel {
	enum run_mode mode;
	union endpoint endpoint; /* in the socket's family; unset until a server hears a client */
	uint64_t keepalive_ns;   /* 0 = off */
	uint64_t last_tx_ns;     /* last datagram of any kind sent */
};

struct packet_batch {
	uint8_t *slots; /* WORKER_BATCH * SLOT_SIZE bytes */
	struct mmsghdr msgs[WORKER_BATCH];
	struct iovec iovs[WORKER_BATCH];
	union endpoint addrs[WORKER_BATCH];
};

struct worker {
	struct loop *loop;
	struct tunnel *tunnel;
	int tun_fd, udp_fd, udp_family;
	size_t mtu;
	struct loop_source tun_source, udp_source;
	struct loop_timer keepalive_timer;
	struct packet_batch tx, rx;
	struct stats stats;
};

int worker_init(struct worker *w, struct loop *loop, struct tunnel *tunnel, int tun_fd,
		int udp_fd, int udp_family, size_t mtu);
void worker_free(struct worker *w);
/* Sends one keepalive now if the peer's address is known. */
void worker_send_keepalive(struct worker *w);

#endif
