/* A data-path worker: owns its TUN fd, UDP socket and batch buffers, and moves packets between
 * them in batches. What a packet looks like on the wire is the tunnel's business (tunnel_ops):
 * plaintext framing or the WireGuard protocol, on the same engine. */
#ifndef MYVPN_WORKER_H
#define MYVPN_WORKER_H

#include "addr.h"
#include "loop.h"
#include "offload.h"
#include "stats.h"

#include <stdbool.h>
#include <sys/socket.h>
#include <sys/uio.h>

enum {
	WORKER_BATCH = 64,
	SLOT_SIZE = 66048,  /* any IP packet (or 64 KB GSO read) fits, with head- and tailroom */
	SLOT_HEADROOM = 64, /* room to prepend a header without moving the packet */
	SLOT_TAILROOM = 64, /* room for padding and an authentication tag */
	SLOT_MAX_PACKET = SLOT_SIZE - SLOT_HEADROOM - SLOT_TAILROOM,
};

struct worker;

struct tunnel_ops {
	/* Frames the IP packet at pkt in place (SLOT_HEADROOM bytes free before it, SLOT_TAILROOM
	 * after). Returns the datagram's length with *dgram and *to set, or 0 if the packet was
	 * dropped (and counted) or kept for later. */
	size_t (*encap)(struct worker *w, uint8_t *pkt, size_t len, uint8_t **dgram,
			const union endpoint **to);
	/* Consumes one received datagram (which it may modify). Returns the length of an IP packet
	 * at *ip to write to the TUN, or 0 when there is nothing to write. */
	size_t (*decap)(struct worker *w, uint8_t *dgram, size_t len, const union endpoint *from,
			uint8_t **ip);
};

struct packet_batch {
	uint8_t *slots; /* WORKER_BATCH * SLOT_SIZE bytes */
	struct mmsghdr msgs[WORKER_BATCH];
	struct iovec iovs[WORKER_BATCH];
	union endpoint addrs[WORKER_BATCH];
};

/* UDP GSO: runs of datagrams to one peer, all one size but the last, leave in one message and
 * the kernel cuts them (UDP_SEGMENT): one trip through the UDP stack instead of dozens. */
enum { UDP_GSO_MAX_BYTES = 65000, UDP_GSO_MAX_SEGMENTS = 64 };

struct gso_batch {
	struct mmsghdr msgs[WORKER_BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} cmsg[WORKER_BATCH];
	int first[WORKER_BATCH];    /* index of the message's first datagram in tx */
	int segments[WORKER_BATCH]; /* datagrams it carries */
};

struct worker {
	struct loop *loop;
	const struct tunnel_ops *ops;
	void *tunnel; /* the ops' own state */
	int tun_fd, udp_fd, udp_family;
	size_t mtu;
	struct loop_source tun_source, udp_source;
	struct packet_batch tx, rx;
	/* TUN offloads: reads and writes carry a virtio-net header; a read may be a TCP or UDP
	 * super-packet to split, and received segments of one flow are coalesced into one write. */
	bool vnet_hdr;
	int gro_flags; /* enum offload_gro_flags */
	bool udp_gso;  /* cleared for good if the kernel refuses UDP_SEGMENT */
	struct gso_batch gso;
	struct offload_gro gro;
	uint8_t *rx_ip[WORKER_BATCH];
	size_t rx_ip_len[WORKER_BATCH];
	struct stats stats;
};

int worker_init(struct worker *w, struct loop *loop, const struct tunnel_ops *ops, void *tunnel,
		int tun_fd, int udp_fd, int udp_family, size_t mtu);
void worker_free(struct worker *w);
/* Sends one datagram now (handshakes, keepalives); returns 0 or -errno. Counts it. */
int worker_send(struct worker *w, const void *data, size_t len, const union endpoint *to);
/* Counts a dropped packet, with a rate-limited debug line. */
void worker_drop(struct worker *w, enum drop_reason why);

#endif
