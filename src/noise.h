/* noise.h: WireGuard's Noise_IKpsk2 handshake, mac1/mac2 cookies and transport keys. */
#ifndef NOISE_H
#define NOISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "messages.h"
#include "wgcrypto.h"

/*
 * A pure module: no I/O, no clocks, no locks, no globals but constants. The caller
 * passes the time (realtime for TAI64N, monotonic for every age and rate limit, both in
 * nanoseconds), owns every struct, and serialises access to each one.
 *
 * Per device: one noise_static_identity and one noise_cookie_checker.
 * Per peer: one noise_handshake and one noise_cookie, plus the noise_keypairs that
 * finished handshakes produce.
 *
 *   initiator                                   responder
 *   create_initiation  ── initiation ──▶  (cookie_validate) consume_initiation
 *                                             create_response, begin_session (keypair "next")
 *   consume_response   ◀── response  ──
 *   begin_session (keypair "current")
 *
 * Under load the responder answers an initiation or response whose mac2 is missing with
 * a cookie reply (cookie_create_reply); the initiator consumes it (cookie_consume_reply)
 * and its next handshake message carries mac2.
 */

enum noise_result {
	NOISE_OK = 0,
	NOISE_ERR_NO_IDENTITY,	/* no private key set */
	NOISE_ERR_MESSAGE,	/* wrong type or non-zero reserved bytes */
	NOISE_ERR_MAC1,
	NOISE_ERR_DH,		/* low-order key, or no usable static-static secret */
	NOISE_ERR_DECRYPT,	/* an AEAD did not verify: wrong key, PSK or tampering */
	NOISE_ERR_UNKNOWN_PEER,
	NOISE_ERR_REPLAY,	/* timestamp not newer than the last one accepted */
	NOISE_ERR_FLOOD,	/* initiations from one peer less than 20 ms apart */
	NOISE_ERR_STATE,	/* this handshake is not waiting for this message */
	NOISE_ERR_INDEX,	/* receiver index is not this handshake's */
	NOISE_ERR_CRYPTO,	/* a library call failed */
};

const char *noise_result_str(enum noise_result r);

/* The initial chaining key C0 = HASH(CONSTRUCTION) and hash H0 = HASH(C0 ‖ IDENTIFIER). */
extern const uint8_t noise_initial_chaining_key[NOISE_HASH_LEN];
extern const uint8_t noise_initial_hash[NOISE_HASH_LEN];

struct noise_static_identity {
	uint8_t private_key[NOISE_PUBLIC_KEY_LEN];	/* clamped */
	uint8_t public_key[NOISE_PUBLIC_KEY_LEN];
	uint8_t mac1_key[NOISE_SYMMETRIC_KEY_LEN];	/* checks mac1 on messages to us */
	uint8_t cookie_key[NOISE_SYMMETRIC_KEY_LEN];	/* seals the cookie replies we send */
	bool has_identity;
};

/* Derives the rest from the private key (which is copied and clamped). */
bool noise_static_identity_init(struct noise_static_identity *id,
				const uint8_t private_key[NOISE_PUBLIC_KEY_LEN]);
void noise_static_identity_clear(struct noise_static_identity *id);

enum noise_handshake_state {
	NOISE_HANDSHAKE_ZEROED,
	NOISE_HANDSHAKE_CREATED_INITIATION,
	NOISE_HANDSHAKE_CONSUMED_INITIATION,
	NOISE_HANDSHAKE_CREATED_RESPONSE,
	NOISE_HANDSHAKE_CONSUMED_RESPONSE,
};

struct noise_handshake {
	enum noise_handshake_state state;
	uint32_t local_index;	/* our sender index for this handshake (host order) */
	uint32_t remote_index;	/* the peer's sender index (host order) */

	/* peer configuration */
	uint8_t remote_static[NOISE_PUBLIC_KEY_LEN];
	uint8_t preshared_key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t precomputed_static_static[NOISE_PUBLIC_KEY_LEN]; /* zero: unusable peer */

	/* in-progress handshake; wiped by begin_session and clear */
	uint8_t ephemeral_private[NOISE_PUBLIC_KEY_LEN];
	uint8_t remote_ephemeral[NOISE_PUBLIC_KEY_LEN];
	uint8_t hash[NOISE_HASH_LEN];
	uint8_t chaining_key[NOISE_HASH_LEN];

	/* replay and flood protection of initiations from this peer; survive clear */
	uint8_t latest_timestamp[NOISE_TIMESTAMP_LEN];
	uint64_t last_initiation_consumed_ns;
	bool has_consumed_initiation;
};

/*
 * Sets up a peer's handshake; preshared_key may be NULL (no PSK). Fails, leaving a
 * handshake that can never complete, when DH(our static, their static) is zero.
 */
bool noise_handshake_init(struct noise_handshake *hs, const struct noise_static_identity *id,
			  const uint8_t remote_static[NOISE_PUBLIC_KEY_LEN],
			  const uint8_t preshared_key[NOISE_SYMMETRIC_KEY_LEN]);
/* Recomputes the static-static secret after our private key changes; clears the handshake. */
bool noise_handshake_set_identity(struct noise_handshake *hs,
				  const struct noise_static_identity *id);
void noise_handshake_set_preshared_key(struct noise_handshake *hs,
				       const uint8_t preshared_key[NOISE_SYMMETRIC_KEY_LEN]);
/* Abandons any handshake in progress (the caller drops local_index from its table first). */
void noise_handshake_clear(struct noise_handshake *hs);
/* Wipes everything, configuration included. */
void noise_handshake_wipe(struct noise_handshake *hs);

/* 12-byte TAI64N of a CLOCK_REALTIME reading, nanoseconds rounded down to 2^24. */
void noise_tai64n(uint8_t out[NOISE_TIMESTAMP_LEN], uint64_t now_real_ns);

/*
 * A random sender index for which in_use (may be NULL) returns false; indices must be
 * unique across every pending handshake and live keypair of the device.
 */
bool noise_new_index(uint32_t *index, bool (*in_use)(void *ctx, uint32_t index), void *ctx);

/* Per-peer cookie state on the sending side: adds mac1/mac2, consumes cookie replies. */
struct noise_cookie {
	uint8_t mac1_key[NOISE_SYMMETRIC_KEY_LEN];	 /* HASH(LABEL_MAC1 ‖ peer's public) */
	uint8_t decryption_key[NOISE_SYMMETRIC_KEY_LEN]; /* HASH(LABEL_COOKIE ‖ peer's public) */
	uint8_t cookie[COOKIE_LEN];
	uint64_t birth_ns;
	uint8_t last_mac1_sent[COOKIE_LEN];
	bool is_valid;
	bool have_sent_mac1;
};

bool noise_cookie_init(struct noise_cookie *c, const uint8_t remote_static[NOISE_PUBLIC_KEY_LEN]);
/* Writes mac1, and mac2 while a fresh cookie is held, into the last 32 bytes of msg. */
bool noise_cookie_add_macs(struct noise_cookie *c, void *msg, size_t len, uint64_t now_mono_ns);
/* The caller finds c through msg->receiver_index (a handshake's or keypair's index). */
enum noise_result noise_cookie_consume_reply(struct noise_cookie *c,
					     const struct message_handshake_cookie *msg,
					     uint64_t now_mono_ns);

/* Per-device cookie state on the receiving side. Zero-initialise before use. */
struct noise_cookie_checker {
	uint8_t secret[NOISE_HASH_LEN];
	uint64_t secret_birth_ns;
	bool has_secret;
};

enum noise_cookie_mac_state {
	NOISE_COOKIE_INVALID_MAC,
	NOISE_COOKIE_VALID_MAC_BUT_NO_COOKIE,	/* mac1 good; mac2 absent, wrong or unchecked */
	NOISE_COOKIE_VALID_MAC_WITH_COOKIE,
};

/*
 * Most source bytes a cookie binds: an IPv6 address and a port. The caller passes the
 * source address's bytes followed by its port in network order; any fixed encoding works
 * as long as it is the same for validate and create_reply.
 */
enum { NOISE_COOKIE_SOURCE_MAX = 16 + 2 };

void noise_cookie_checker_clear(struct noise_cookie_checker *chk);
/*
 * Checks mac1 of an initiation or response (msg of len bytes), and mac2 too when
 * check_cookie (the device is under load). May rotate the secret.
 */
enum noise_cookie_mac_state noise_cookie_validate(struct noise_cookie_checker *chk,
						  const struct noise_static_identity *id,
						  const void *msg, size_t len, const void *src,
						  size_t src_len, bool check_cookie,
						  uint64_t now_mono_ns);
/* Builds the cookie reply to msg (whose mac1 the caller has validated). */
bool noise_cookie_create_reply(struct noise_cookie_checker *chk,
			       const struct noise_static_identity *id,
			       struct message_handshake_cookie *dst, const void *msg, size_t len,
			       const void *src, size_t src_len, uint64_t now_mono_ns);

/*
 * Handshake messages. A consume that fails leaves hs as it was; a create that fails
 * leaves it zeroed.
 *
 * Indices: create_initiation and create_response make local_index the handshake's
 * sender index, replacing hs->local_index, so the caller drops the old one from its
 * index table first whenever hs->state is not ZEROED. consume_initiation keeps
 * hs->local_index (a response to our abandoned initiation then fails on state).
 */

/*
 * Starts a new handshake (abandoning any other in progress) and adds the macs through
 * cookie.
 */
enum noise_result noise_handshake_create_initiation(struct noise_handshake *hs,
						    struct noise_cookie *cookie,
						    const struct noise_static_identity *id,
						    struct message_handshake_initiation *dst,
						    uint32_t local_index, uint64_t now_real_ns,
						    uint64_t now_mono_ns);

/*
 * Checks mac1, decrypts the initiator's static key and asks lookup for that peer's
 * handshake; on success stores the state there and sets *peer. mac2 is the caller's
 * business (noise_cookie_validate).
 */
enum noise_result noise_handshake_consume_initiation(
	const struct noise_static_identity *id, const struct message_handshake_initiation *src,
	struct noise_handshake *(*lookup)(void *ctx, const uint8_t key[NOISE_PUBLIC_KEY_LEN]),
	void *lookup_ctx, uint64_t now_mono_ns, struct noise_handshake **peer);

enum noise_result noise_handshake_create_response(struct noise_handshake *hs,
						  struct noise_cookie *cookie,
						  const struct noise_static_identity *id,
						  struct message_handshake_response *dst,
						  uint32_t local_index, uint64_t now_mono_ns);

/* hs is the handshake the caller found through src->receiver_index. */
enum noise_result noise_handshake_consume_response(struct noise_handshake *hs,
						   const struct noise_static_identity *id,
						   const struct message_handshake_response *src);

/* Transport keys of one session. The initiator sends with T1, the responder with T2. */
struct noise_keypair {
	struct wgcrypto_aead_key send;
	struct wgcrypto_aead_key recv;
	uint64_t birth_ns;	/* monotonic */
	uint32_t local_index;	/* what the peer writes as receiver in data to us */
	uint32_t remote_index;	/* what we write as receiver in data to the peer */
	bool is_initiator;	/* only the initiator rekeys on time */
};

/*
 * After create_response (responder) or consume_response (initiator): derives kp and
 * wipes the handshake's secrets, success or not. The index moves from hs to kp.
 * kp is overwritten, so clear (or move) whatever keypair it held first.
 */
enum noise_result noise_handshake_begin_session(struct noise_handshake *hs,
						struct noise_keypair *kp, uint64_t now_mono_ns);
/* Frees the contexts and wipes; safe on a zeroed keypair. */
void noise_keypair_clear(struct noise_keypair *kp);

#endif
