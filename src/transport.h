/* The transport seam: how datagrams of the tunnel reach the peer (UDP today; TCP or a relay
 * later, each one file behind these ops). The engine sees only buffers and addresses.
 *
 * A worker owns one transport. Receiving fills the caller's buffers and returns one entry per
 * datagram; a buffer may hold several datagrams when the kernel coalesced them (UDP GRO), each
 * entry then points inside it. Sending takes a batch of datagrams with their destinations and
 * may hand runs of equal-sized datagrams to one destination to the kernel in one message
 * (UDP GSO). Every datagram that leaves or fails is counted in the transport's stats. */
#ifndef MYVPN_TRANSPORT_H
#define MYVPN_TRANSPORT_H

#include "addr.h"
#include "stats.h"

#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Our side of a datagram: the local address it arrived on (or is to leave from) and the
 * interface. family 0 means "unknown: let the kernel choose", as for a peer configured by
 * hand that has not spoken yet. */
struct local_addr {
	int family; /* 0, AF_INET or AF_INET6 */
	unsigned int ifindex;
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} addr;
};

/* Both ends of a datagram: where a peer is, and which of our addresses it talks to. A server
 * with several addresses answers from the one the client used, so the client's NAT and
 * firewall see the replies come from where they sent. */
enum transport_kind {
	TRANSPORT_UDP = 0,
	TRANSPORT_TCP = 1, /* a stream of datagrams, each behind a 2-byte big-endian length */
	/* Through our rendezvous R (transport_relay.c, rendezvous.h): remote is R's address and
	 * conn the destination's relay id there; a virtual endpoint "via R". */
	TRANSPORT_RELAY = 2,
};

/* Which transport a client uses to reach its peers (--transport). AUTO starts on UDP, moves
 * to TCP when no handshake answer comes over UDP, and back when UDP answers again. */
enum transport_mode {
	TRANSPORT_MODE_AUTO = 0,
	TRANSPORT_MODE_UDP,
	TRANSPORT_MODE_TCP,
};

struct dgram_addr {
	union endpoint remote; /* in the socket's family (IPv4 may be IPv4-mapped IPv6) */
	struct local_addr local;
	/* TCP: which connection. 0 means "ours to remote": the one we opened (or will open) to
	 * that address; a connection a peer opened to us has its own id, and a reply to it must
	 * take that connection or none (a client behind NAT cannot be called back). */
	uint32_t conn;
	uint8_t kind; /* enum transport_kind */
};

enum {
	TRANSPORT_MAX_BATCH = 64,   /* datagrams per send_batch, buffers per recv_batch */
	TRANSPORT_MAX_RX = 256,     /* datagrams per recv_batch, GRO segments included */
	TRANSPORT_GSO_MAX_BYTES = 65000,
	TRANSPORT_GSO_MAX_SEGMENTS = 64,
};

struct transport_rx {
	uint8_t *data; /* inside one of the caller's buffers; the caller may modify it */
	size_t len;
	struct dgram_addr from;
	/* When the kernel queued it (CLOCK_REALTIME ns, SO_TIMESTAMPNS), or 0 if unknown: the
	 * worker's queue management reads how long it waited in the socket. */
	uint64_t arrival_ns;
};

struct transport_tx {
	const uint8_t *data;
	size_t len;
	const struct dgram_addr *to; /* runs with the same pointer (or equal contents) may be merged */
};

struct transport;

struct transport_ops {
	/* Takes what the kernel has ready, never waiting: fills up to nbufs buffers of buf_size
	 * bytes and up to max_out entries. Returns the number of entries (0 if nothing was
	 * ready), or -errno on an error other than EAGAIN/EINTR. Truncated datagrams and kernel
	 * receive-queue overflows are counted as drops, not returned. */
	int (*recv_batch)(struct transport *t, uint8_t *const *bufs, size_t buf_size, int nbufs,
			  struct transport_rx *out, int max_out);
	/* Sends tx[0..count). Returns how many datagrams the kernel accepted; a datagram that
	 * fails costs only itself (the rest are still sent) and is counted under DROP_UDP_SEND,
	 * DROP_UDP_SEND_BLOCKED or DROP_UDP_SEND_UNREACHABLE by its errno. */
	int (*send_batch)(struct transport *t, const struct transport_tx *tx, int count);
	/* SO_MARK for policy routing (0 clears): 0 or -errno. */
	int (*set_mark)(struct transport *t, uint32_t mark);
	/* Path MTU probes: DF on the datagrams sent until it is turned off again (the socket's
	 * policy is DF clear). NULL where the transport has no such notion (TCP). 0 or -errno. */
	int (*set_dont_fragment)(struct transport *t, bool on);
	void (*close)(struct transport *t);
};

struct transport {
	const struct transport_ops *ops;
	int fd;        /* for epoll: readable when recv_batch has something */
	int family;    /* AF_INET6 (dual-stack) or AF_INET */
	struct stats *stats; /* the owning worker's counters */
	bool gso;      /* cleared for good if the kernel refuses UDP_SEGMENT */
	bool gro;      /* the kernel may coalesce received datagrams (UDP_GRO accepted) */
};

static inline int transport_recv_batch(struct transport *t, uint8_t *const *bufs,
				       size_t buf_size, int nbufs, struct transport_rx *out,
				       int max_out)
{
	return t->ops->recv_batch(t, bufs, buf_size, nbufs, out, max_out);
}

static inline int transport_send_batch(struct transport *t, const struct transport_tx *tx,
				       int count)
{
	return t->ops->send_batch(t, tx, count);
}

/* One datagram now (handshakes, keepalives): 0 or -errno. */
static inline int transport_send(struct transport *t, const void *data, size_t len,
				 const struct dgram_addr *to)
{
	struct transport_tx tx = { .data = data, .len = len, .to = to };

	return t->ops->send_batch(t, &tx, 1) == 1 ? 0 : -EIO;
}

/* ---- UDP (transport_udp.c) ---- */

struct transport_udp_options {
	uint16_t port;   /* 0: the kernel picks one, shared by the whole group */
	int count;       /* sockets in the group, one per worker (SO_REUSEPORT when > 1) */
	bool offload;    /* try UDP_SEGMENT on send and UDP_GRO on receive */
	uint32_t mark;   /* SO_MARK, 0 = none */
};

/* Opens count sockets bound to the same port (dual-stack where the kernel allows it, bounded
 * buffers, non-blocking, IP_PKTINFO/IPV6_RECVPKTINFO, SO_RXQ_OVFL and, where
 * the kernel has it, SO_TIMESTAMPNS on). A port another socket
 * already holds is refused (-EADDRINUSE), even one that would accept joining its
 * SO_REUSEPORT group. Either all are opened and out[0..count) set, or none, with a one-line
 * message in err. stats[i] becomes out[i]->stats. */
int transport_udp_open(const struct transport_udp_options *opts, struct stats *const *stats,
		       struct transport **out, char *err, size_t errlen);
int transport_local_port(const struct transport *t);
/* Datagrams the kernel dropped on this socket before we read them (a full receive queue),
 * as reported by SO_RXQ_OVFL with the datagrams that followed. */
uint64_t transport_udp_kernel_drops(const struct transport *t);

/* ---- TCP (transport_tcp.c) ---- */

struct transport_tcp_options {
	uint16_t port;   /* where to listen; 0: no listener, only connections we open */
	int udp_family;  /* addresses are reported in this family, as the UDP transport's */
	uint32_t mark;
	/* Whether a stranger's first frame may be the tunnel's: its announced length and its
	 * first byte. NULL: a WireGuard message (transport_tcp_hello_wireguard). */
	bool (*hello)(size_t len, uint8_t first);
};

bool transport_tcp_hello_wireguard(size_t len, uint8_t first);

/* One TCP transport serves the whole device: any thread may send on it (it has its own lock);
 * one thread receives. Its fd is an epoll instance over its listener, its connections and its
 * sweep timer; t->stats points at its own counters (transport_tcp_stats). */
int transport_tcp_open(const struct transport_tcp_options *opts, struct transport **out,
		       char *err, size_t errlen);
const struct stats *transport_tcp_stats(const struct transport *t);
int transport_tcp_port(const struct transport *t); /* the listener's, or 0 */
/* Open connections (for show and tests). */
unsigned int transport_tcp_connections(const struct transport *t);
/* Our connection to remote stopped being a peer's path (the peer is back on UDP): it closes
 * once unused both ways for TCP_RETIRE_QUIET (2 s), so that datagrams already on their way
 * still arrive. Sending on it again keeps it. Any thread. */
void transport_tcp_retire(struct transport *t, const union endpoint *remote);

/* ---- endpoints ---- */
bool dgram_addr_equal(const struct dgram_addr *a, const struct dgram_addr *b); /* remote and local */

#endif
