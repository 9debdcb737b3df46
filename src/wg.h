/* The WireGuard-protocol tunnel: peers, sessions, cryptokey routing, on the worker engine.
 *
 * Files: wg_device.c (the device, its lock and start-up), wg_peer.c (peers, their tables and
 * staged packets), wg_keypairs.c (session slots: the one place they change), wg_send.c (TUN ->
 * peer, keepalives, staged packets), wg_receive.c (peer -> TUN; handshake messages queued),
 * wg_handshake.c (the handshake thread's work: initiations, responses, cookies), wg_timers.c
 * (timer rules applied to peers, and what a worker's batch did to them), wg_resolve.c (endpoint
 * names looked up again when a peer stops answering).
 *
 * Threads and locks (see engine.h):
 *  - dev->lock: workers hold it for reading around each batch; the control thread takes it for
 *    writing to change peers, sessions, endpoints, allowed IPs or indices. So a worker never
 *    sees a peer or session freed under it, and the control thread may read all of that
 *    without locking.
 *  - peer->lock: the peer's timers, staged packets and roaming target, which workers change
 *    while holding only the read lock. Never take dev->lock while holding a peer->lock.
 *  - A session's send counter is atomic; its replay window has its own spinlock.
 *  - Workers never do handshake work: they queue handshake messages and post requests
 *    (initiate, promote a session, roam) that the control thread serves.
 */
#ifndef MYVPN_WG_H
#define MYVPN_WG_H

#include "allowedips.h"
#include "engine.h"
#include "hashtable.h"
#include "noise.h"
#include "ratelimiter.h"
#include "rendezvous.h"
#include "replay.h"
#include "resolver.h"
#include "timers.h"
#include "transport.h"
#include "worker.h"

#include <pthread.h>

enum {
	WG_OVERHEAD = MESSAGE_DATA_HEADER_LEN + NOISE_AUTHTAG_LEN, /* 32 bytes per data packet */
	WG_SHORT_KEY_LEN = 9,                /* "AbCd1234…" in logs */
	/* Handshake messages waiting for the control thread; past an eighth of this the device is
	 * under load and demands cookies (as the Linux module). */
	WG_HANDSHAKE_QUEUE_LEN = 4096,
	WG_UNDER_LOAD_QUEUE_LEN = WG_HANDSHAKE_QUEUE_LEN / 8,
	WG_HANDSHAKES_PER_SECOND = 20, /* per source address, for the Diffie-Hellman work */
	WG_HANDSHAKE_BURST = 5,
	WG_RATELIMITER_SOURCES = 8192,
	/* A peer configured by name is looked up again when it stops answering, at most this
	 * often (wg_resolve.c). */
	WG_LOOKUP_INTERVAL_S = 15,
};

/* What workers ask of the control thread, per peer (bits of wg_peer.requests). */
enum wg_request {
	WG_REQ_INITIATE = 1 << 0, /* traffic wants a session */
	WG_REQ_PROMOTE = 1 << 1,  /* data arrived under the next session: it is confirmed */
	WG_REQ_ROAM = 1 << 2,     /* authenticated data came from a new address */
	WG_REQ_PMTU = 1 << 3,     /* path MTU: a probe to answer, an answer, a peer that probes */
};

/* Path MTU probing toward one peer (wg_pmtu.c). */
enum { WG_PMTU_TAG_LEN = 16 }; /* every probe message, and the tag, is this long at least */
enum wg_pmtu_state {
	WG_PMTU_IDLE,   /* the peer has not shown it answers probes: the TUN's MTU */
	WG_PMTU_SEARCH, /* probes of sizes between lo (carried) and hi */
	WG_PMTU_DONE,   /* mtu found; confirmed now and then, raised later */
};

struct wg_pmtu {
	size_t mtu;          /* atomic: the inner MTU the path carries; 0 = not probed */
	uint64_t capable_ns; /* atomic: when the peer last showed it answers probes */
	uint64_t tagged_ns;  /* atomic: when we last told the peer we answer them */
	/* Control thread. */
	enum wg_pmtu_state state;
	size_t lo, hi, size; /* size: the probe in flight */
	uint32_t id;
	unsigned int tries;
	bool confirming; /* DONE: a probe of the size in use is in flight */
	uint64_t rx_bytes_at_probe; /* the peer's rx_bytes when this probe's first try left */
	uint64_t deadline_ns, raise_ns;
	/* Under peer->lock: what workers received. */
	uint32_t acked_id;
	bool ack_due;
	uint32_t ack_id;
	uint16_t ack_size;
};

struct wg_peer;
struct wg_session;

/* An entry of the index table: a receiver index we handed out, for a session or for the
 * handshake under way (session NULL). */
struct wg_index_entry {
	struct ht_node node;
	uint32_t index;
	struct wg_peer *peer;
	struct wg_session *session;
	bool linked;
};

/* One session: its keys, its receive window and its send counter. */
struct wg_session {
	struct noise_keypair kp; /* its contexts are the templates each thread copies */
	/* One cipher context per thread (workers, then the control thread), each made by its
	 * thread on first use: OpenSSL contexts cannot be shared. */
	struct wgcrypto_aead_key *send, *recv;
	unsigned int cipher_slots;
	struct wg_index_entry index;
	pthread_spinlock_t replay_lock;
	struct replay_window replay;
	uint64_t send_counter; /* atomic */
	/* atomic: data arrived under this session while it waited as next; workers send with
	 * it at once, before the control thread moves it to current */
	bool confirmed;
};

struct wg_device;

struct wg_peer {
	struct wg_device *dev;
	unsigned int id; /* for logs: "peer 3" */
	char short_key[WG_SHORT_KEY_LEN];
	struct ht_node key_node;               /* dev->peers_by_key */
	struct ht_node id_node;                /* dev->peers_by_id */
	struct wg_peer *list_next, *list_prev; /* the device's peers in the order they came */
	/* Control thread only. */
	struct noise_handshake hs;
	struct noise_cookie cookie;
	struct wg_index_entry hs_index; /* while our initiation waits for its response */
	uint64_t last_handshake_real_ns;
	uint64_t udp_probe_ns;        /* on TCP in auto mode: when to try UDP again */
	uint64_t udp_answer_ns;       /* last cookie reply over UDP: UDP works, the peer is busy */
	uint64_t initiation_ns;       /* when our last initiation left */
	bool retry_flip;              /* on TCP, failing: every other retry goes over UDP */
	unsigned int udp_unanswered;  /* initiations over UDP in a row without an answer */
	uint64_t udp_fallback_ns;     /* no session yet: when to move to TCP if UDP stays silent */
	bool endpoint_configured;     /* given an endpoint (config, UAPI): ours to dial over TCP */
	uint16_t tcp_port;            /* the port to dial over TCP; 0 = the endpoint's */
	uint16_t udp_port;            /* the configured endpoint's port, or the UDP one we left */
	uint64_t transport_switches;  /* atomic: moves between UDP and TCP */
	struct endpoint_name endpoint_name; /* the configured endpoint's host name (resolver.h) */
	/* Changed under dev->lock held for writing. */
	struct wg_session *previous, *current, *next; /* next: responder's, until the first data */
	struct dgram_addr endpoint; /* remote unset until known */
	/* Under lock. */
	pthread_mutex_t lock;
	struct timers timers;
	struct dgram_addr roam_to;
	uint32_t promote_index;
	/* Packets waiting for a session, oldest first, each at SLOT_HEADROOM in a stage slot. */
	uint8_t *staged;
	size_t stage_slot_size; /* of staged, sized by the MTU when it was allocated */
	uint16_t staged_len[MAX_STAGED_PACKETS];
	unsigned int staged_first, staged_count;
	/* Under dev->requests_lock. */
	unsigned int requests;
	struct wg_peer *request_next;
	/* Atomic. */
	uint64_t rx_bytes, tx_bytes;
	struct rdv_peer rdv; /* rendezvous.h: how a peer behind NAT is found and relayed */
	struct wg_pmtu pmtu;
};

/* A handshake message waiting for the control thread. */
struct wg_queued_message {
	uint16_t len;
	/* aligned: noise.c reads it through the wire structs (message_handshake_*) */
	_Alignas(uint64_t) uint8_t data[MESSAGE_INITIATION_LEN];
	struct dgram_addr from;
};

struct wg_device {
	pthread_rwlock_t lock;
	struct noise_static_identity identity;
	struct noise_cookie_checker cookie_checker;
	struct allowedips allowedips;
	struct hashtable peers_by_key, indices;
	struct hashtable peers_by_id; /* by wg_peer.id: relay ids at a rendezvous */
	uint8_t hash_secret[HT_KEY_BYTES];
	struct wg_peer *first_peer, *last_peer;
	unsigned int peer_count, next_peer_id;
	struct engine *engine; /* set by wg_device_start */
	unsigned int cipher_slots; /* workers + 1 */
	size_t stage_slot_size; /* atomic: for new staging buffers, from the MTU (wg_device_set_mtu) */
	struct loop_timer timer;   /* the earliest deadline over all peers */
	uint64_t worker_deadline_ns; /* atomic: an earlier deadline set off the timer (workers, UAPI) */
	uint64_t armed_deadline_ns;  /* atomic: timer.deadline_ns as the control thread published it */
	uint64_t prng;             /* the control thread's jitter */
	/* Diffie-Hellman budgets per source address: senders that did not (ratelimiter) and that
	 * did (proven_ratelimiter) prove their address with a cookie. */
	struct ratelimiter ratelimiter, proven_ratelimiter;
	uint64_t under_load_until_ns;
	/* Handshake messages from workers, a ring. */
	pthread_mutex_t queue_lock;
	struct wg_queued_message *queue;
	unsigned int queue_head, queue_count;
	/* Peers with requests, a list. */
	pthread_mutex_t requests_lock;
	struct wg_peer *requests;
	/* How peers with a configured endpoint are reached; control thread. AUTO and TCP fall
	 * back to UDP when the engine has no TCP transport. */
	enum transport_mode transport;
	struct rdv_device rdv; /* rendezvous.h */
	uint8_t *probe_buf; /* control thread: path MTU probes are sealed here (SLOT_SIZE) */
	uint64_t pmtu_raise_ns; /* how often probing looks for a path that grew (wg_pmtu_init) */
	struct resolver *resolver; /* endpoint names looked up again; NULL until needed */
};

extern const struct tunnel_ops wg_ops;

#define wg_for_each_peer(dev, p) for (struct wg_peer *p = (dev)->first_peer; p; p = p->list_next)

/* wg_device.c */
/* private_key may be NULL: a device configured later through the UAPI. */
int wg_device_init(struct wg_device *dev, const uint8_t *private_key);
void wg_device_free(struct wg_device *dev);
/* Binds the device to its engine (control loop, workers) and starts the peers' timers. */
int wg_device_start(struct wg_device *dev, struct engine *e);
/* The TUN's MTU changed: packets staged from now on get slots of the new size. */
void wg_device_set_mtu(struct wg_device *dev, size_t mtu);
static inline void wg_write_lock(struct wg_device *dev) { pthread_rwlock_wrlock(&dev->lock); }
static inline void wg_read_lock(struct wg_device *dev) { pthread_rwlock_rdlock(&dev->lock); }
static inline void wg_unlock(struct wg_device *dev) { pthread_rwlock_unlock(&dev->lock); }
/* The calling thread's monotonic clock: its loop's cached time. */
uint64_t wg_now(const struct wg_device *dev);

/* wg_peer.c (changes: control thread, under the write lock) */
/* A peer outside the device, its handshake precomputed with identity (one X25519: the costly
 * part, done before taking the write lock): -EINVAL when that DH is unusable. */
int wg_peer_new(struct wg_device *dev, const struct noise_static_identity *identity,
		const uint8_t public_key[NOISE_PUBLIC_KEY_LEN], const uint8_t *psk,
		struct wg_peer **out);
/* Write lock: the new peer joins the device's tables. */
void wg_peer_link(struct wg_device *dev, struct wg_peer *peer);
/* Frees a peer that was never linked (NULL is fine). */
void wg_peer_discard(struct wg_peer *peer);
int wg_peer_add(struct wg_device *dev, const uint8_t public_key[NOISE_PUBLIC_KEY_LEN],
		const uint8_t *psk, struct wg_peer **out);
int wg_peer_allow(struct wg_peer *peer, const struct ip_prefix *prefix);
struct wg_peer *wg_peer_by_key(const struct wg_device *dev, const uint8_t key[NOISE_PUBLIC_KEY_LEN]);
/* By the peer's id ("peer N"): any thread holding the read lock. */
struct wg_peer *wg_peer_by_id(const struct wg_device *dev, uint32_t id);
/* Frees the peer and forgets it everywhere (sessions, allowed IPs, requests): 0 or -ENOENT. */
int wg_peer_remove(struct wg_device *dev, struct wg_peer *peer);
void wg_peer_set_endpoint(struct wg_peer *peer, const struct dgram_addr *ep);
/* Under peer->lock: keeps the newest MAX_STAGED_PACKETS; false if it cannot (counted). */
bool wg_stage(struct wg_peer *peer, const uint8_t *pkt, size_t len, struct stats *stats);
/* Under peer->lock: drops the staged packets, counted under why. */
void wg_drop_staged(struct wg_peer *peer, struct stats *stats, enum drop_reason why);
/* Any thread: asks the control thread for work on the peer. */
void wg_peer_request(struct wg_peer *peer, unsigned int requests);
/* Control thread: serves the posted requests. */
void wg_serve_requests(struct wg_device *dev);

/* wg_keypairs.c */
/* Session lookup by our receiver index: any thread holding the read lock. */
struct wg_session *wg_session_by_index(const struct wg_device *dev, uint32_t index,
				       struct wg_peer **peer);
struct wg_peer *wg_peer_by_handshake_index(const struct wg_device *dev, uint32_t index);
bool wg_new_index(struct wg_device *dev, uint32_t *index);
/* Write lock held: the handshake's index is findable exactly while an initiation waits. */
void wg_sync_handshake_index(struct wg_peer *peer);
/* Write lock held: a fresh keypair (moved out of kp) becomes current (we initiated) or next
 * (we responded, until the initiator's first data confirms it). 0 or -ENOMEM. */
int wg_keypairs_install(struct wg_peer *peer, struct noise_keypair *kp, bool as_current);
/* Write lock held: next becomes current if it is still the session with that index. */
bool wg_keypairs_promote(struct wg_peer *peer, uint32_t index);
/* Write lock held: every session of the peer is freed and wiped. */
void wg_keypairs_clear(struct wg_peer *peer);
/* The calling thread's cipher context for the session (slot: worker id, or the control
 * thread's): made on first use. NULL if the library fails. */
struct wgcrypto_aead_key *wg_session_cipher(struct wg_session *s, unsigned int slot, bool send);

/* wg_send.c */
size_t wg_encap(struct worker *w, uint8_t *pkt, size_t len, uint8_t **dgram,
		const struct dgram_addr **to);
/* Control thread. */
void wg_send_keepalive(struct wg_peer *peer);
void wg_send_staged(struct wg_peer *peer);
/* Seals len bytes of plaintext at pkt (SLOT_HEADROOM before, room to pad after) under the
 * current session and sends it, with DF when probe. Not data for the timers. */
bool wg_send_control(struct wg_peer *peer, uint8_t *pkt, size_t len, bool probe);

/* wg_receive.c */
size_t wg_decap(struct worker *w, uint8_t *dgram, size_t len, const struct dgram_addr *from,
		uint8_t **ip);

/* wg_handshake.c (control thread) */
/* Why an initiation leaves: it tells the auto transport how much UDP silence it shows. */
enum wg_initiation_why {
	WG_INITIATION_NEW,         /* traffic wants a session, or the current one is ageing */
	WG_INITIATION_RETRY,       /* the last initiation went unanswered for REKEY_TIMEOUT */
	WG_INITIATION_PEER_SILENT, /* we sent data and heard nothing for 15 s */
};
void wg_send_initiation(struct wg_peer *peer, enum wg_initiation_why why);
/* Control thread: a new initiation, unless one left less than REKEY_TIMEOUT ago (wg_timers.c). */
void wg_want_handshake(struct wg_peer *peer);
/* One initiation, sent to each of to[0..count) (hole punching): whichever answers first
 * completes the handshake and becomes the endpoint. */
void wg_send_initiation_to(struct wg_peer *peer, const struct dgram_addr *to, unsigned int count);
/* Any thread: queues a handshake message for the control thread (false: queue full). */
bool wg_queue_handshake(struct wg_device *dev, const uint8_t *msg, size_t len,
			const struct dgram_addr *from);
void wg_serve_handshakes(struct wg_device *dev);
/* Write lock taken inside: the peer's endpoint becomes ep (counted, logged). The one place a
 * running peer's endpoint changes. */
void wg_peer_move(struct wg_peer *p, const struct dgram_addr *ep);

/* wg_resolve.c (control thread): endpoint names looked up again, off the control loop. */
/* The peer does not answer: its name is looked up again, at most every WG_LOOKUP_INTERVAL_S;
 * a new address becomes its endpoint when the answer comes. */
void wg_resolve_maybe(struct wg_peer *peer, uint64_t now);
/* At the device's end: answers still to come are dropped. */
void wg_resolve_stop(struct wg_device *dev);

/* wg_pmtu.c: path MTU probing between two myvpn peers (see the file for the wire format). */
/* Workers: the inner MTU toward the peer, the probed path's when it is below the TUN's. */
static inline size_t wg_peer_mtu(const struct wg_peer *p, size_t tun_mtu)
{
	size_t m = __atomic_load_n(&p->pmtu.mtu, __ATOMIC_RELAXED);

	return m && m < tun_mtu ? m : tun_mtu;
}
/* Worker, sending pkt (len bytes, room after it): now and then a tag in the padding tells the
 * peer we answer probes. Returns the plaintext's new length (len when untagged). */
size_t wg_pmtu_tag(struct worker *w, struct wg_peer *p, uint8_t *pkt, size_t len, size_t mtu);
/* Worker, receiving: plaintext that is not an IP packet is a probe message when this returns
 * true (handled: nothing goes to the TUN). */
bool wg_pmtu_message(struct worker *w, struct wg_peer *p, const uint8_t *plain, size_t len);
/* Worker, receiving an IP packet of ip_len bytes in len bytes of plaintext: notes a tag. */
void wg_pmtu_note_tag(struct worker *w, struct wg_peer *p, const uint8_t *plain, size_t len,
		      size_t ip_len);
/* Workers: a TCP SYN's MSS option is lowered to what fits mtu (checksum kept valid). */
void wg_pmtu_clamp_mss(uint8_t *pkt, size_t len, size_t mtu);
/* Control thread: timers and requests. */
/* Sets the device's probing intervals: WG_PMTU_RAISE, or MYVPN_TEST_PMTU_RAISE seconds (tests
 * only: a grown path found within seconds). */
void wg_pmtu_init(struct wg_device *dev);
void wg_pmtu_tick(struct wg_peer *p, uint64_t now);
uint64_t wg_pmtu_deadline(const struct wg_peer *p);
void wg_pmtu_serve(struct wg_peer *p);

/* wg_transport.c (control thread): UDP or TCP, per peer. */
/* Where the next initiation goes: the endpoint, or UDP when a probe is due; on a retry over
 * UDP in auto mode the peer may move to TCP. */
void wg_transport_pick(struct wg_peer *p, enum wg_initiation_why why, struct dgram_addr *to);
/* Deadline of the peer's next UDP probe (0: none), and the probe when it is due. */
uint64_t wg_transport_deadline(const struct wg_peer *p);
void wg_transport_tick(struct wg_peer *p, uint64_t now);
/* The kind a configured endpoint gets in the device's mode. */
void wg_transport_configure(struct wg_peer *p);
const char *wg_transport_name(const struct dgram_addr *ep);

/* wg_timers.c */
/* Any thread: the device timer fires by the peer's next deadline. peer->lock held. */
void wg_timers_changed(struct wg_peer *peer);
int wg_timers_start(struct wg_device *dev);
/* Control thread, on every wake-up: brings in the deadlines workers lowered. */
void wg_timers_fold(struct wg_device *dev);
/* Worker side: what a batch did to peers, applied once per peer at the end of the batch. */
enum wg_activity_flags {
	WG_ACT_DATA_SENT = 1 << 0,
	WG_ACT_SENT = 1 << 1,
	WG_ACT_RECEIVED = 1 << 2,
	WG_ACT_DATA_RECEIVED = 1 << 3,
	WG_ACT_WANT_HANDSHAKE = 1 << 4,
	WG_ACT_CONFIRMED = 1 << 5, /* data under current: maybe rekey in the last minute */
};
struct wg_activity {
	struct wg_peer *peer;
	unsigned int flags;
	uint64_t tx_bytes, rx_bytes;
};
/* A worker's own tunnel state (worker.tunnel_local). */
struct wg_worker_state {
	struct wg_activity act[TRANSPORT_MAX_RX];
	unsigned int count;
};
void wg_activity(struct worker *w, struct wg_peer *peer, unsigned int flags, uint64_t tx_bytes,
		 uint64_t rx_bytes);
void wg_activity_flush(struct worker *w);

#endif
