/* Rendezvous: two peers behind NAT find each other through a third peer R that both reach,
 * punch holes through their NATs, and fall back to R relaying their datagrams.
 *
 * Roles (a -c file): R has `Rendezvous = serve` and knows A and B as ordinary peers. A and B
 * have `Rendezvous = <R's public key>`, R as a peer with an Endpoint, and each other as peers
 * without one ("managed" peers: their address comes from R).
 *
 * ---- Control messages: inside the WireGuard session with R ----
 * A control message is the plaintext of an ordinary data message of the A-R session, so it is
 * authenticated and encrypted by the session and R knows which peer sent it without any
 * crypto of its own. Its first byte is 0x00: IP version 0, which is neither IPv4 nor IPv6, so
 *  - it can never collide with user traffic (the TUN carries only IPv4 and IPv6), and needs no
 *    reserved inner address: the receiving myvpn takes it out before the allowed-IPs source
 *    check and before the TUN, and the sender seals it straight to the session, without the
 *    allowed-IPs lookup. So whatever AllowedIPs R and its peers have, nothing changes for them.
 *  - a stock WireGuard peer that got one anyway drops it as "neither IPv4 nor IPv6" (Linux:
 *    rx_errors; wireguard-go: drops unknown IP versions) after authenticating it. And none
 *    gets one: a client sends them only to the peer it named as its Rendezvous, and R answers
 *    only peers that spoke first (HELLO or QUERY), i.e. that run this extension.
 * The data message pads it to 16 bytes; the header's count gives the real length.
 *
 *   header (8 bytes): 00 'R' 'D' 'V' | type | flags | count | version (1)
 *   address (18 bytes): IPv6 address (IPv4 as ::ffff:a.b.c.d), port (big endian)
 *   HELLO  A->R: count addresses: A's local addresses and listen port.  flags: RELAY (A accepts
 *                datagrams relayed to it), MAPPED (the first address is a port mapping A's NAT
 *                router made for it: NAT-PMP, PCP or UPnP). Sent every RDV_HELLO_INTERVAL_S: R
 *                learns that A speaks the extension, and sees A's current NAT address (the
 *                session's endpoint).
 *   QUERY  A->R: B's public key (32), then A's local addresses as in HELLO (a QUERY is also a
 *                HELLO). "Where is B?"
 *   PEER   R->A and R->B at once: the other's public key (32), the other's relay id (4, BE),
 *                the receiver's own relay id (4, BE), the other's endpoint as R sees it (18),
 *                then the other's local addresses. flags: RELAY (R relays between the two),
 *                MAPPED (as in the other's HELLO).
 *   SEEN   R->A, the answer to every HELLO and QUERY: the address R sees A's datagrams come
 *                from (18), no addresses. A compares it with its own addresses to learn
 *                whether it is behind NAT (see "Keepalives"). Answering also means R never
 *                owes A WireGuard's passive keepalive (R sends data back at once), so R, with
 *                its public address, sends no keepalives at all. An older client drops SEEN
 *                as an invalid control message, and goes on working.
 * R introduces A and B (PEER to both) only when each asked about the other (both list the
 * other as a peer: mutual interest), both are R's peers and said HELLO recently; else it says
 * nothing. So a peer of R learns no address of a peer that does not look for it, and a
 * stranger, with no session, learns nothing. Both ask at start, and R answers the second
 * question. R remembers the pair, and when either side's endpoint changes (R roams it: any
 * authenticated packet from a new address, such as a keepalive) it sends PEER to both again,
 * at most once a second, so both punch again.
 *
 * ---- Getting there fast ----
 * Until R's session is up nothing else can happen, and the first initiation to R is often
 * lost (R or the network still starting): the client retries R after 1 s, 2 s, 4 s, then
 * every REKEY_TIMEOUT, instead of WireGuard's flat 5 s, and says HELLO at the first tick
 * (RDV_TICK_MS) the session is up. Packets for a managed peer with no address yet are
 * staged, not dropped: the first packet of a connection goes out as soon as the punched (or
 * relayed) session completes.
 *
 * ---- Hole punching ----
 * On PEER, the client takes the candidates (R's view of the other's NAT address first, then
 * its local addresses), points the peer's endpoint at the first, and sends one handshake
 * initiation to every candidate in each of RDV_PUNCH_ROUNDS rounds, RDV_PUNCH_INTERVAL_MS
 * apart. Both sides do so at the same moment (R tells both), so each side's NAT has an
 * outgoing mapping when the other's initiation comes in. The first handshake that completes
 * sets the endpoint (the usual rule: a handshake message's source becomes the endpoint), and
 * punching stops as soon as one has. A stale duplicate of the same initiation is harmless:
 * the responder rejects it as a replayed timestamp.
 *
 * ---- Relay ----
 * When the rounds end without a direct handshake and R offered relaying, the peer's endpoint
 * becomes a virtual one, "via R" (kind TRANSPORT_RELAY, conn = the other's relay id). Its
 * datagrams go to R's address on the same UDP socket in an envelope (transport_relay.c):
 *   u32 type (LE) = MESSAGE_RELAY | u32 destination's relay id (BE) | u32 sender's (BE)
 * followed by the WireGuard datagram as it is: R never holds A-B keys. R checks that the
 * sender's id is the peer whose endpoint the envelope came from, that both are its peers, that
 * it introduced them to each other (so each asked for the other) and that the destination
 * accepts relaying (HELLO's flag), charges both
 * rate limits (per sender, total), and sends the same bytes to the destination's endpoint. The
 * receiver takes an envelope only from its R's address and hands the inner datagram to the
 * WireGuard receive path as if it came from the virtual endpoint. Every RDV_RETRY_INTERVAL the
 * client asks R again, both sides punch again, and a direct handshake moves the traffic off R.
 * The relay id is the peer's id at R (its "peer N" number).
 *
 * ---- Keepalives ----
 * Only the side behind NAT needs them, and only to keep its NAT's UDP mappings open: R's
 * address as seen by R (SEEN) differs from all our local address:port pairs -> behind NAT.
 * Then R and every managed peer reached directly (kind UDP, not relayed) get a keepalive
 * every NatKeepalive seconds (default RDV_NAT_KEEPALIVE_S = 25) that nothing else crossed
 * the path: the persistent keepalive's timer (timers.h nat_keepalive_interval), which an
 * explicit PersistentKeepalive overrides. 25 s is under the shortest common UDP mapping
 * lifetimes: Linux conntrack forgets an unanswered flow after 30 s (nf_conntrack_udp_timeout)
 * and an answered one after 120 s (_stream); many home routers after 30-60 s. A node whose
 * address R sees as it is (public, no NAT), and R itself, send none; before SEEN arrives
 * nothing is sent either (HELLO, every RDV_HELLO_INTERVAL_S, keeps R's mapping meanwhile).
 *
 * Port mapping (NAT-PMP/UPnP) adds our mapped external address as the first local candidate,
 * flagged MAPPED: rdv_set_extra_candidate is that hook. A peer that ends up talking to it
 * reports the path as "mapped".
 */
#ifndef MYVPN_RENDEZVOUS_H
#define MYVPN_RENDEZVOUS_H

#include "addr.h"
#include "loop.h"
#include "transport.h"

#include <net/if.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum rdv_mode {
	RDV_OFF = 0,
	RDV_SERVE,
	RDV_CLIENT,
};

enum rdv_msg_type {
	RDV_HELLO = 1,
	RDV_QUERY = 2,
	RDV_PEER = 3,
	RDV_SEEN = 4,
};

/* Whether we are behind NAT, from R's SEEN. */
enum rdv_nat {
	RDV_NAT_UNKNOWN = 0,
	RDV_NAT_BEHIND, /* R sees another address than any of ours */
	RDV_NAT_NONE,   /* R sees one of our own addresses and our port */
};

enum rdv_flags {
	RDV_F_RELAY = 1 << 0,
	RDV_F_MAPPED = 1 << 1,
};

enum {
	RDV_VERSION = 1,
	RDV_HEADER_LEN = 8,
	RDV_ADDR_LEN = 18,
	RDV_KEY_LEN = 32,
	RDV_MAX_ADDRS = 8,
	RDV_MAX_MSG = RDV_HEADER_LEN + RDV_KEY_LEN + 8 + RDV_ADDR_LEN * (RDV_MAX_ADDRS + 1),
	RDV_MAX_CANDIDATES = RDV_MAX_ADDRS + 2, /* the NAT address, local ones, a mapped one */
	RDV_MAX_PARTNERS = 16,		 /* peers R introduced one peer to */
	RDV_QUEUE_LEN = 64,
	RDV_TICK_MS = 250,
	RDV_PUNCH_ROUNDS = 10,
	RDV_PUNCH_INTERVAL_MS = 400, /* so 4 s of punching before the relay */
	RDV_HELLO_INTERVAL_S = 15,
	RDV_RETRY_INTERVAL_S = 20,    /* not direct: ask R again (and punch again) */
	RDV_REGISTERED_S = 3 * RDV_HELLO_INTERVAL_S, /* R forgets a client silent this long */
	RDV_RELAY_HEADER_LEN = 12,
	RDV_NAT_KEEPALIVE_S = 25, /* NatKeepalive's default */
};

/* Relay budgets: bytes per second per sending peer, and in total. */
#define RDV_RELAY_PEER_RATE (8ull << 20)
#define RDV_RELAY_TOTAL_RATE (32ull << 20)
/* How far ahead of its rate a sender may run (a burst): 50 ms of traffic. */
#define RDV_BUDGET_BURST_NS 50000000ull

/* The first bytes of a control message; byte 0 is IP version 0. */
extern const uint8_t rdv_magic[4];

/* A decoded control message. Addresses are AF_INET or AF_INET6 (never mapped). */
struct rdv_msg {
	uint8_t type, flags;
	uint8_t key[RDV_KEY_LEN];        /* QUERY: whom; PEER: who */
	uint32_t peer_id, your_id;       /* PEER */
	union endpoint observed;         /* PEER */
	union endpoint addrs[RDV_MAX_ADDRS];
	unsigned int addr_count;
};

/* ---- pure: wire format (rendezvous_msg.c) ---- */
/* Encodes m into buf (at least RDV_MAX_MSG bytes): the length, or 0 if m is invalid. */
size_t rdv_encode(const struct rdv_msg *m, uint8_t *buf, size_t cap);
/* Decodes len bytes (padding after the message allowed): 0 or -EBADMSG. */
int rdv_decode(const uint8_t *buf, size_t len, struct rdv_msg *m);
/* Whether a decrypted data message's plaintext is a control message. */
bool rdv_is_control(const uint8_t *plain, size_t len);

/* A relay envelope's header. */
struct rdv_relay_header {
	uint32_t dst, src;
};
/* Parses the envelope at dgram: 0, or -EBADMSG (short, or its inner message is another
 * envelope). */
int rdv_relay_parse(const uint8_t *dgram, size_t len, struct rdv_relay_header *h);

/* A byte rate with a burst of RDV_BUDGET_BURST_NS, as a GCRA (a token bucket kept as one
 * "theoretical arrival time", tat): each datagram moves tat on by its length at the rate, and
 * is refused when tat would run more than the burst ahead of now. Excess is dropped evenly
 * rather than in whole windows, which TCP through the relay takes far better. Shared by
 * worker threads: one atomic, compare and swap. */
struct rdv_budget {
	uint64_t tat;
};
bool rdv_budget_take(struct rdv_budget *b, uint64_t now_ns, size_t len, uint64_t bytes_per_s);

/* ---- per peer state (in struct wg_peer) ---- */
struct rdv_peer {
	/* Client side, control thread. */
	bool managed; /* no configured Endpoint: its address comes from R */
	struct dgram_addr cand[RDV_MAX_CANDIDATES];
	unsigned int cand_count;
	uint32_t remote_id; /* its relay id at R */
	union endpoint mapped; /* its port-mapped address, in our socket's family; family 0: none */
	bool relay_offered;
	unsigned int punch_round; /* rounds done; punching while < RDV_PUNCH_ROUNDS and active */
	bool punching;
	uint64_t punch_next_ns, punch_start_real_ns, query_next_ns;
	/* Server side: written by the control thread under the device's write lock, read by
	 * workers under the read lock. */
	uint64_t registered_ns; /* last HELLO or QUERY; 0 = never */
	bool accepts_relay;
	bool locals_mapped; /* locals[0] is a port mapping */
	union endpoint locals[RDV_MAX_ADDRS];
	unsigned int local_count;
	union endpoint told; /* its endpoint when R last introduced it */
	uint32_t asked[RDV_MAX_PARTNERS]; /* ids of the peers it asked about (control thread) */
	unsigned int asked_count;
	uint64_t reintroduced_ns; /* the last introduction after a move */
	uint32_t partners[RDV_MAX_PARTNERS];
	unsigned int partner_count;
	struct rdv_budget budget;
	/* Atomic counters. */
	uint64_t relay_tx_bytes, relay_rx_bytes; /* client: this peer's datagrams through R */
	uint64_t relayed_bytes, relay_denied;     /* server: forwarded from this peer, refused */
};

/* A control message from a worker, waiting for the control thread. */
struct rdv_queued {
	uint8_t key[RDV_KEY_LEN]; /* the sender: a key, not a pointer (it may be removed) */
	uint16_t len;
	uint8_t data[RDV_MAX_MSG];
};

struct rdv_device {
	enum rdv_mode mode;
	uint8_t server_key[RDV_KEY_LEN]; /* client: R */
	char ifname[IFNAMSIZ];           /* ours: its addresses are not candidates */
	union endpoint locals[RDV_MAX_ADDRS];
	unsigned int local_count;
	union endpoint extra; /* a mapped external address (port mapping); family 0 = none */
	enum rdv_nat nat;     /* client: from R's last SEEN */
	union endpoint seen;  /* client: our address as R last saw it */
	uint16_t nat_keepalive_s; /* client, behind NAT: the keepalive interval; 0 = none */
	uint64_t hello_next_ns;
	uint64_t server_backoff_ns; /* client: the wait before the next initiation to R */
	struct loop_timer timer;
	pthread_mutex_t queue_lock;
	struct rdv_queued queue[RDV_QUEUE_LEN];
	unsigned int queue_head, queue_count;
	struct rdv_budget total_budget; /* server */
};

struct wg_device;
struct wg_peer;
struct worker;

/* ---- the device's side (rendezvous.c) ---- */
/* Setup, before wg_device_start: the mode, R's key (client), our interface name. Marks the
 * peers without an endpoint as managed. -ENOENT (with a message) when R is not a peer with
 * an Endpoint. */
int rdv_configure(struct wg_device *dev, enum rdv_mode mode, const uint8_t *server_key,
		  const char *ifname, char *err, size_t errlen);
/* A reloaded configuration: the peers without an Endpoint there (no_endpoint) are looked for
 * through R, the others not. Control thread. */
void rdv_manage(struct wg_device *dev, struct wg_peer *p, bool no_endpoint);
/* From wg_device_start: the timer. 0 or -errno. */
int rdv_start(struct wg_device *dev);
void rdv_free(struct wg_device *dev);
/* Control thread, on every wake-up: serves the queued control messages. */
void rdv_serve(struct wg_device *dev);
/* Control thread, after a peer's endpoint changed (wg_peer_move): on R, its partners and it
 * learn the new address and punch again. */
void rdv_peer_moved(struct wg_peer *p);
/* Control thread: a mapped external address to offer as a candidate (family 0: none); R
 * hears of it with the next HELLO, at once. main.c calls it when the port mapping changes. */
void rdv_set_extra_candidate(struct wg_device *dev, const union endpoint *ep);

/* Control thread: an address of another interface came or went (netlink): a client reads its
 * local addresses again and says HELLO at once, so R offers the new ones and SEEN tells
 * whether we are still behind NAT. */
void rdv_addresses_changed(struct wg_device *dev);

/* Workers (read lock held). A control message from authenticated peer p: queued. */
void rdv_worker_control(struct worker *w, struct wg_peer *p, const uint8_t *msg, size_t len);
/* A relay envelope: R forwards it; a client unwraps it (returns what wg_decap returns). */
size_t rdv_worker_relay(struct worker *w, uint8_t *dgram, size_t len,
			const struct dgram_addr *from, uint8_t **ip);

/* ---- the relay transport (transport_relay.c) ---- */
/* Sends tx[0..count) (endpoints of kind TRANSPORT_RELAY: remote = R, conn = the destination's
 * relay id) in envelopes from our id src_id, on the UDP socket udp. Returns how many left;
 * each failure counted in udp->stats. */
int transport_relay_send(struct transport *udp, const struct transport_tx *tx, int count,
			 uint32_t src_id);

#endif
