/* The WireGuard-protocol tunnel: peers, sessions, cryptokey routing, on the worker engine.
 *
 * Files: wg_peer.c (peers, keypair slots, index lookup, staging), wg_send.c (TUN -> peer,
 * initiations, keepalives), wg_receive.c (peer -> TUN, handshake messages, cookies),
 * wg_timers.c (the timer rules of timers.c applied to peers). */
#ifndef MYVPN_WG_H
#define MYVPN_WG_H

#include "allowedips.h"
#include "noise.h"
#include "replay.h"
#include "timers.h"
#include "worker.h"

enum {
	WG_MAX_PEERS = 1024,
	WG_OVERHEAD = MESSAGE_DATA_HEADER_LEN + NOISE_AUTHTAG_LEN, /* 32 bytes per data packet */
	WG_LOAD_HANDSHAKES_PER_SECOND = 128, /* beyond this, demand cookies (mac2) */
	WG_SHORT_KEY_LEN = 9,                /* "AbCd1234…" in logs */
};

/* One keypair slot: a session's keys, its receive window and its send counter. */
struct wg_session {
	struct noise_keypair kp;
	struct replay_window replay;
	uint64_t send_counter;
	bool valid;
};

struct wg_device;

struct wg_peer {
	struct wg_device *dev;
	unsigned int id; /* for logs: "peer 3" */
	char short_key[WG_SHORT_KEY_LEN];
	struct noise_handshake hs;
	struct noise_cookie cookie;
	struct wg_session prev, current, next; /* next: responder's, until the first data */
	union endpoint endpoint;               /* socket family; unset until known */
	struct timers timers;
	uint64_t rx_bytes, tx_bytes;
	uint64_t last_handshake_real_ns;
	/* Packets waiting for a session, oldest first, each at SLOT_HEADROOM in a stage slot. */
	uint8_t *staged;
	uint16_t staged_len[MAX_STAGED_PACKETS];
	unsigned int staged_first, staged_count;
};

struct wg_device {
	struct noise_static_identity identity;
	struct noise_cookie_checker cookie_checker;
	struct allowedips allowedips;
	struct wg_peer *peers[WG_MAX_PEERS];
	unsigned int peer_count, next_peer_id;
	struct worker *worker;
	struct loop_timer timer; /* the earliest deadline over all peers */
	size_t stage_slot_size;
	uint64_t prng;           /* jitter only; never for anything secret */
	uint64_t load_window_start_ns, under_load_until_ns;
	unsigned int handshakes_in_window;
	/* The last session that decrypted: most batches are one flow from one peer. */
	struct wg_session *last_session;
	struct wg_peer *last_peer;
};

extern const struct tunnel_ops wg_ops;

/* wg_peer.c */
/* private_key may be NULL: a device configured later through the UAPI. */
int wg_device_init(struct wg_device *dev, const uint8_t *private_key);
void wg_device_free(struct wg_device *dev);
int wg_peer_add(struct wg_device *dev, const uint8_t public_key[NOISE_PUBLIC_KEY_LEN],
		const uint8_t *psk, struct wg_peer **out);
int wg_peer_allow(struct wg_peer *peer, const struct ip_prefix *prefix);
struct wg_peer *wg_peer_by_key(struct wg_device *dev, const uint8_t key[NOISE_PUBLIC_KEY_LEN]);
/* Frees the peer and forgets it everywhere (sessions, allowed IPs, caches): 0 or -ENOENT. */
int wg_peer_remove(struct wg_device *dev, struct wg_peer *peer);
struct wg_session *wg_session_by_index(struct wg_device *dev, uint32_t index, struct wg_peer **peer);
struct wg_peer *wg_peer_by_handshake_index(struct wg_device *dev, uint32_t index);
bool wg_new_index(struct wg_device *dev, uint32_t *index);
void wg_session_clear(struct wg_session *s);
/* Moves a freshly derived keypair into a slot and clears what it replaces. */
void wg_session_install(struct wg_session *slot, struct noise_keypair *kp);
void wg_peer_promote_next(struct wg_peer *peer);
void wg_peer_clear_sessions(struct wg_peer *peer);
bool wg_stage(struct wg_peer *peer, const uint8_t *pkt, size_t len);
void wg_drop_staged(struct wg_peer *peer);
uint64_t wg_jitter(struct wg_device *dev);

/* wg_send.c */
size_t wg_encap(struct worker *w, uint8_t *pkt, size_t len, uint8_t **dgram,
		const union endpoint **to);
void wg_send_initiation(struct wg_peer *peer, bool is_retry);
void wg_want_handshake(struct wg_peer *peer);
void wg_send_keepalive(struct wg_peer *peer);
void wg_send_staged(struct wg_peer *peer);

/* wg_timers.c */
int wg_device_start(struct wg_device *dev, struct worker *w);
/* Call after any timers_* event on peer: the device wakes up in time for it. */
void wg_timers_changed(struct wg_peer *peer);

#endif
