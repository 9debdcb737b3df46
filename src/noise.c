/* noise.c: WireGuard's Noise_IKpsk2 handshake, mac1/mac2 cookies and transport keys. */
#include "noise.h"

#include <endian.h>
#include <string.h>

/*
 * Noise_IKpsk2:
 *   <- s
 *   ...
 *   -> e, es, s, ss, {t}
 *   <- e, ee, se, psk, {}
 *
 * C is the chaining key, H the running transcript hash, k the key of the next AEAD
 * (nonce 0, AD = H). Every function that builds or parses a message works on copies or
 * on state it owns, and commits to the handshake only once the whole message checks out,
 * so a forged message cannot disturb a handshake in progress.
 */

#define NS_PER_SEC UINT64_C(1000000000)

const uint8_t noise_initial_chaining_key[NOISE_HASH_LEN] = {
	0x60, 0xe2, 0x6d, 0xae, 0xf3, 0x27, 0xef, 0xc0,
	0x2e, 0xc3, 0x35, 0xe2, 0xa0, 0x25, 0xd2, 0xd0,
	0x16, 0xeb, 0x42, 0x06, 0xf8, 0x72, 0x77, 0xf5,
	0x2d, 0x38, 0xd1, 0x98, 0x8b, 0x78, 0xcd, 0x36,
};

const uint8_t noise_initial_hash[NOISE_HASH_LEN] = {
	0x22, 0x11, 0xb3, 0x61, 0x08, 0x1a, 0xc5, 0x66,
	0x69, 0x12, 0x43, 0xdb, 0x45, 0x8a, 0xd5, 0x32,
	0x2d, 0x9c, 0x6c, 0x66, 0x22, 0x93, 0xe8, 0xb7,
	0x0e, 0xe1, 0x9c, 0x65, 0xba, 0x07, 0x9e, 0xf3,
};

/* No NUL terminators on the wire: lengths are sizeof - 1. */
static const char label_mac1[] = "mac1----";
static const char label_cookie[] = "cookie--";

const char *noise_result_str(enum noise_result r)
{
	switch (r) {
	case NOISE_OK: return "ok";
	case NOISE_ERR_NO_IDENTITY: return "no private key";
	case NOISE_ERR_MESSAGE: return "malformed message";
	case NOISE_ERR_MAC1: return "bad mac1";
	case NOISE_ERR_DH: return "unusable public key";
	case NOISE_ERR_DECRYPT: return "decryption failed";
	case NOISE_ERR_UNKNOWN_PEER: return "unknown peer";
	case NOISE_ERR_REPLAY: return "replayed initiation";
	case NOISE_ERR_FLOOD: return "initiation flood";
	case NOISE_ERR_STATE: return "unexpected message";
	case NOISE_ERR_INDEX: return "wrong receiver index";
	case NOISE_ERR_CRYPTO: return "crypto library failure";
	}
	return "unknown";
}

static bool has_expired(uint64_t birth_ns, uint64_t max_age_s, uint64_t now_ns)
{
	return now_ns < birth_ns || now_ns - birth_ns >= max_age_s * NS_PER_SEC;
}

static bool labelled_key(uint8_t key[NOISE_SYMMETRIC_KEY_LEN], const char *label,
			 const uint8_t public_key[NOISE_PUBLIC_KEY_LEN])
{
	return wgcrypto_hash(key, label, strlen(label), public_key, NOISE_PUBLIC_KEY_LEN);
}

bool noise_static_identity_init(struct noise_static_identity *id,
				const uint8_t private_key[NOISE_PUBLIC_KEY_LEN])
{
	memmove(id->private_key, private_key, NOISE_PUBLIC_KEY_LEN);
	wgcrypto_x25519_clamp(id->private_key);
	id->has_identity = wgcrypto_x25519_public(id->public_key, id->private_key) &&
			   labelled_key(id->mac1_key, label_mac1, id->public_key) &&
			   labelled_key(id->cookie_key, label_cookie, id->public_key);
	if (!id->has_identity)
		noise_static_identity_clear(id);
	return id->has_identity;
}

void noise_static_identity_clear(struct noise_static_identity *id)
{
	wgcrypto_wipe(id, sizeof(*id));
}

static void handshake_wipe_secrets(struct noise_handshake *hs)
{
	wgcrypto_wipe(hs->ephemeral_private, sizeof(hs->ephemeral_private));
	wgcrypto_wipe(hs->remote_ephemeral, sizeof(hs->remote_ephemeral));
	wgcrypto_wipe(hs->hash, sizeof(hs->hash));
	wgcrypto_wipe(hs->chaining_key, sizeof(hs->chaining_key));
}

/* Zeroes the in-progress part; configuration and replay state stay. */
static void handshake_zero(struct noise_handshake *hs)
{
	handshake_wipe_secrets(hs);
	hs->local_index = 0;
	hs->remote_index = 0;
	hs->state = NOISE_HANDSHAKE_ZEROED;
}

bool noise_handshake_set_identity(struct noise_handshake *hs,
				  const struct noise_static_identity *id)
{
	handshake_zero(hs);
	if (id && id->has_identity &&
	    wgcrypto_x25519(hs->precomputed_static_static, id->private_key, hs->remote_static))
		return true;
	wgcrypto_wipe(hs->precomputed_static_static, sizeof(hs->precomputed_static_static));
	return false;
}

void noise_handshake_set_preshared_key(struct noise_handshake *hs,
				       const uint8_t preshared_key[NOISE_SYMMETRIC_KEY_LEN])
{
	if (preshared_key)
		memcpy(hs->preshared_key, preshared_key, NOISE_SYMMETRIC_KEY_LEN);
	else
		wgcrypto_wipe(hs->preshared_key, NOISE_SYMMETRIC_KEY_LEN);
}

bool noise_handshake_init(struct noise_handshake *hs, const struct noise_static_identity *id,
			  const uint8_t remote_static[NOISE_PUBLIC_KEY_LEN],
			  const uint8_t preshared_key[NOISE_SYMMETRIC_KEY_LEN])
{
	memset(hs, 0, sizeof(*hs));
	memcpy(hs->remote_static, remote_static, NOISE_PUBLIC_KEY_LEN);
	noise_handshake_set_preshared_key(hs, preshared_key);
	return noise_handshake_set_identity(hs, id);
}

void noise_handshake_clear(struct noise_handshake *hs)
{
	handshake_zero(hs);
}

void noise_handshake_wipe(struct noise_handshake *hs)
{
	wgcrypto_wipe(hs, sizeof(*hs));
}

void noise_tai64n(uint8_t out[NOISE_TIMESTAMP_LEN], uint64_t now_real_ns)
{
	/* coarse nanoseconds keep the timestamp from leaking a precise clock */
	uint64_t seconds = UINT64_C(0x400000000000000a) + now_real_ns / NS_PER_SEC;
	uint32_t nanos = (uint32_t)(now_real_ns % NS_PER_SEC) & ~UINT32_C(0xffffff);

	seconds = htobe64(seconds);
	nanos = htobe32(nanos);
	memcpy(out, &seconds, sizeof(seconds));
	memcpy(out + sizeof(seconds), &nanos, sizeof(nanos));
}

bool noise_new_index(uint32_t *index, bool (*in_use)(void *ctx, uint32_t index), void *ctx)
{
	/* the table is tiny next to 2^32, so this loop almost never runs twice */
	for (int tries = 0; tries < 64; tries++) {
		if (!wgcrypto_random(index, sizeof(*index)))
			return false;
		if (!in_use || !in_use(ctx, *index))
			return true;
	}
	return false;
}

/* ---- the symmetric state operations of Noise ---- */

static bool mix_hash(uint8_t hash[NOISE_HASH_LEN], const void *src, size_t len)
{
	return wgcrypto_hash(hash, hash, NOISE_HASH_LEN, src, len);
}

/* (C, k) = KDF2(C, in), or C = KDF1(C, in) when key is NULL. */
static bool mix_key(uint8_t ck[NOISE_HASH_LEN], uint8_t *key, const void *in, size_t len)
{
	return wgcrypto_kdf(ck, key, NULL, ck, NOISE_HASH_LEN, in, len);
}

static enum noise_result mix_dh(uint8_t ck[NOISE_HASH_LEN], uint8_t *key,
				const uint8_t private_key[NOISE_PUBLIC_KEY_LEN],
				const uint8_t public_key[NOISE_PUBLIC_KEY_LEN])
{
	uint8_t dh[NOISE_PUBLIC_KEY_LEN];
	enum noise_result r = NOISE_ERR_DH;

	if (wgcrypto_x25519(dh, private_key, public_key))
		r = mix_key(ck, key, dh, sizeof(dh)) ? NOISE_OK : NOISE_ERR_CRYPTO;
	wgcrypto_wipe(dh, sizeof(dh));
	return r;
}

static enum noise_result mix_precomputed_dh(uint8_t ck[NOISE_HASH_LEN], uint8_t *key,
					    const uint8_t precomputed[NOISE_PUBLIC_KEY_LEN])
{
	if (wgcrypto_is_zero(precomputed, NOISE_PUBLIC_KEY_LEN))
		return NOISE_ERR_DH;
	return mix_key(ck, key, precomputed, NOISE_PUBLIC_KEY_LEN) ? NOISE_OK : NOISE_ERR_CRYPTO;
}

/* (C, t, k) = KDF3(C, psk); H = HASH(H ‖ t). */
static bool mix_psk(uint8_t ck[NOISE_HASH_LEN], uint8_t hash[NOISE_HASH_LEN],
		    uint8_t key[NOISE_SYMMETRIC_KEY_LEN],
		    const uint8_t psk[NOISE_SYMMETRIC_KEY_LEN])
{
	uint8_t t[NOISE_HASH_LEN];
	bool ok = wgcrypto_kdf(ck, t, key, ck, NOISE_HASH_LEN, psk, NOISE_SYMMETRIC_KEY_LEN) &&
		  mix_hash(hash, t, sizeof(t));

	wgcrypto_wipe(t, sizeof(t));
	return ok;
}

/* The ephemeral travels in clear: H = HASH(H ‖ e); C = KDF1(C, e). */
static bool mix_ephemeral(uint8_t ck[NOISE_HASH_LEN], uint8_t hash[NOISE_HASH_LEN],
			  const uint8_t ephemeral[NOISE_PUBLIC_KEY_LEN])
{
	return mix_hash(hash, ephemeral, NOISE_PUBLIC_KEY_LEN) &&
	       mix_key(ck, NULL, ephemeral, NOISE_PUBLIC_KEY_LEN);
}

static bool message_encrypt(uint8_t *dst, const uint8_t *src, size_t len,
			    const uint8_t key[NOISE_SYMMETRIC_KEY_LEN],
			    uint8_t hash[NOISE_HASH_LEN])
{
	return wgcrypto_aead_seal_once(key, dst, src, len, 0, hash, NOISE_HASH_LEN) &&
	       mix_hash(hash, dst, noise_encrypted_len(len));
}

static enum noise_result message_decrypt(uint8_t *dst, const uint8_t *src, size_t ct_len,
					 const uint8_t key[NOISE_SYMMETRIC_KEY_LEN],
					 uint8_t hash[NOISE_HASH_LEN])
{
	if (!wgcrypto_aead_open_once(key, dst, src, ct_len, 0, hash, NOISE_HASH_LEN))
		return NOISE_ERR_DECRYPT;
	return mix_hash(hash, src, ct_len) ? NOISE_OK : NOISE_ERR_CRYPTO;
}

/* C = C0; H = HASH(H0 ‖ responder's static). */
static bool handshake_start(uint8_t ck[NOISE_HASH_LEN], uint8_t hash[NOISE_HASH_LEN],
			    const uint8_t responder_static[NOISE_PUBLIC_KEY_LEN])
{
	memcpy(ck, noise_initial_chaining_key, NOISE_HASH_LEN);
	memcpy(hash, noise_initial_hash, NOISE_HASH_LEN);
	return mix_hash(hash, responder_static, NOISE_PUBLIC_KEY_LEN);
}

/* ---- mac1, mac2 and cookies ---- */

/* Shortest message that carries macs: header, sender index, macs. */
static const size_t min_mac_msg_len =
	sizeof(struct message_header) + sizeof(uint32_t) + sizeof(struct message_macs);

static const struct message_macs *macs_of(const void *msg, size_t len)
{
	return (const struct message_macs *)((const uint8_t *)msg + len -
					      sizeof(struct message_macs));
}

/* mac1 covers everything before it, mac2 everything before it (mac1 included). */
static bool compute_mac1(uint8_t mac[COOKIE_LEN], const void *msg, size_t len,
			 const uint8_t key[NOISE_SYMMETRIC_KEY_LEN])
{
	return wgcrypto_mac(mac, key, NOISE_SYMMETRIC_KEY_LEN, msg,
			    len - sizeof(struct message_macs));
}

static bool compute_mac2(uint8_t mac[COOKIE_LEN], const void *msg, size_t len,
			 const uint8_t cookie[COOKIE_LEN])
{
	return wgcrypto_mac(mac, cookie, COOKIE_LEN, msg, len - COOKIE_LEN);
}

static bool mac1_valid(const void *msg, size_t len, const uint8_t key[NOISE_SYMMETRIC_KEY_LEN])
{
	const struct message_macs *macs = macs_of(msg, len);
	uint8_t mac[COOKIE_LEN];

	return compute_mac1(mac, msg, len, key) && wgcrypto_equal(mac, macs->mac1, COOKIE_LEN);
}

bool noise_cookie_init(struct noise_cookie *c, const uint8_t remote_static[NOISE_PUBLIC_KEY_LEN])
{
	memset(c, 0, sizeof(*c));
	return labelled_key(c->mac1_key, label_mac1, remote_static) &&
	       labelled_key(c->decryption_key, label_cookie, remote_static);
}

bool noise_cookie_add_macs(struct noise_cookie *c, void *msg, size_t len, uint64_t now_mono_ns)
{
	struct message_macs *macs;

	if (len < min_mac_msg_len)
		return false;
	macs = (struct message_macs *)((uint8_t *)msg + len - sizeof(*macs));
	if (!compute_mac1(macs->mac1, msg, len, c->mac1_key))
		return false;
	/* a cookie reply answers this mac1, and only this one */
	memcpy(c->last_mac1_sent, macs->mac1, COOKIE_LEN);
	c->have_sent_mac1 = true;

	/* stop a little early so the cookie does not die in flight */
	if (c->is_valid &&
	    !has_expired(c->birth_ns, COOKIE_SECRET_MAX_AGE - COOKIE_SECRET_LATENCY, now_mono_ns))
		return compute_mac2(macs->mac2, msg, len, c->cookie);
	memset(macs->mac2, 0, COOKIE_LEN);
	return true;
}

enum noise_result noise_cookie_consume_reply(struct noise_cookie *c,
					     const struct message_handshake_cookie *msg,
					     uint64_t now_mono_ns)
{
	uint8_t cookie[COOKIE_LEN];

	if (le32toh(msg->header.type) != MESSAGE_HANDSHAKE_COOKIE)
		return NOISE_ERR_MESSAGE;
	if (!c->have_sent_mac1)
		return NOISE_ERR_STATE;
	if (!wgcrypto_xaead_open(c->decryption_key, msg->nonce, cookie, msg->encrypted_cookie,
				 sizeof(msg->encrypted_cookie), c->last_mac1_sent, COOKIE_LEN))
		return NOISE_ERR_DECRYPT;
	memcpy(c->cookie, cookie, COOKIE_LEN);
	wgcrypto_wipe(cookie, sizeof(cookie));
	c->birth_ns = now_mono_ns;
	c->is_valid = true;
	c->have_sent_mac1 = false;
	return NOISE_OK;
}

void noise_cookie_checker_clear(struct noise_cookie_checker *chk)
{
	wgcrypto_wipe(chk, sizeof(*chk));
}

/* cookie = MAC(secret, source); the secret changes every COOKIE_SECRET_MAX_AGE. */
static bool make_cookie(uint8_t cookie[COOKIE_LEN], struct noise_cookie_checker *chk,
			const void *src, size_t src_len, uint64_t now_mono_ns)
{
	if (!chk->has_secret ||
	    has_expired(chk->secret_birth_ns, COOKIE_SECRET_MAX_AGE, now_mono_ns)) {
		chk->has_secret = wgcrypto_random(chk->secret, sizeof(chk->secret));
		chk->secret_birth_ns = now_mono_ns;
		if (!chk->has_secret)
			return false;
	}
	return wgcrypto_mac(cookie, chk->secret, sizeof(chk->secret), src, src_len);
}

enum noise_cookie_mac_state noise_cookie_validate(struct noise_cookie_checker *chk,
						  const struct noise_static_identity *id,
						  const void *msg, size_t len, const void *src,
						  size_t src_len, bool check_cookie,
						  uint64_t now_mono_ns)
{
	uint8_t cookie[COOKIE_LEN], mac[COOKIE_LEN];
	bool with_cookie;

	if (!id->has_identity || len < min_mac_msg_len || !mac1_valid(msg, len, id->mac1_key))
		return NOISE_COOKIE_INVALID_MAC;
	if (!check_cookie)
		return NOISE_COOKIE_VALID_MAC_BUT_NO_COOKIE;
	with_cookie = make_cookie(cookie, chk, src, src_len, now_mono_ns) &&
		      compute_mac2(mac, msg, len, cookie) &&
		      wgcrypto_equal(mac, macs_of(msg, len)->mac2, COOKIE_LEN);
	wgcrypto_wipe(cookie, sizeof(cookie));
	return with_cookie ? NOISE_COOKIE_VALID_MAC_WITH_COOKIE
			   : NOISE_COOKIE_VALID_MAC_BUT_NO_COOKIE;
}

bool noise_cookie_create_reply(struct noise_cookie_checker *chk,
			       const struct noise_static_identity *id,
			       struct message_handshake_cookie *dst, const void *msg, size_t len,
			       const void *src, size_t src_len, uint64_t now_mono_ns)
{
	uint8_t cookie[COOKIE_LEN];
	bool ok;

	if (!id->has_identity || len < min_mac_msg_len)
		return false;
	dst->header.type = htole32(MESSAGE_HANDSHAKE_COOKIE);
	/* initiation and response both put their sender index right after the header */
	memcpy(&dst->receiver_index, (const uint8_t *)msg + sizeof(struct message_header),
	       sizeof(dst->receiver_index));
	ok = wgcrypto_random(dst->nonce, sizeof(dst->nonce)) &&
	     make_cookie(cookie, chk, src, src_len, now_mono_ns) &&
	     wgcrypto_xaead_seal(id->cookie_key, dst->nonce, dst->encrypted_cookie, cookie,
				 COOKIE_LEN, macs_of(msg, len)->mac1, COOKIE_LEN);
	wgcrypto_wipe(cookie, sizeof(cookie));
	return ok;
}

/* ---- initiation ---- */

/* A fresh ephemeral for every message we build, mixed in as Noise's "e". */
static bool new_ephemeral(struct noise_handshake *hs, uint8_t public_key[NOISE_PUBLIC_KEY_LEN])
{
	return wgcrypto_x25519_generate(hs->ephemeral_private, public_key) &&
	       mix_ephemeral(hs->chaining_key, hs->hash, public_key);
}

static enum noise_result bool_result(bool ok)
{
	return ok ? NOISE_OK : NOISE_ERR_CRYPTO;
}

/* Builds e, es, s, ss, {t} into dst with hs's chaining key and hash. */
static enum noise_result build_initiation(struct noise_handshake *hs,
					  const struct noise_static_identity *id,
					  struct message_handshake_initiation *dst,
					  uint64_t now_real_ns)
{
	uint8_t key[NOISE_SYMMETRIC_KEY_LEN], timestamp[NOISE_TIMESTAMP_LEN];
	enum noise_result r;

	r = bool_result(handshake_start(hs->chaining_key, hs->hash, hs->remote_static) &&
			new_ephemeral(hs, dst->unencrypted_ephemeral));
	if (r == NOISE_OK)
		r = mix_dh(hs->chaining_key, key, hs->ephemeral_private, hs->remote_static);
	if (r == NOISE_OK)
		r = bool_result(message_encrypt(dst->encrypted_static, id->public_key,
						NOISE_PUBLIC_KEY_LEN, key, hs->hash));
	if (r == NOISE_OK)
		r = mix_precomputed_dh(hs->chaining_key, key, hs->precomputed_static_static);
	if (r == NOISE_OK) {
		noise_tai64n(timestamp, now_real_ns);
		r = bool_result(message_encrypt(dst->encrypted_timestamp, timestamp,
						NOISE_TIMESTAMP_LEN, key, hs->hash));
	}
	wgcrypto_wipe(key, sizeof(key));
	return r;
}

/* The last step of creating either message: macs on success, then the state that lets the
 * answer be consumed; a failed message leaves no half-made handshake behind. */
static enum noise_result finish_created(struct noise_handshake *hs, struct noise_cookie *cookie,
					void *msg, size_t len, enum noise_result r,
					uint32_t local_index, enum noise_handshake_state state,
					uint64_t now_mono_ns)
{
	if (r == NOISE_OK)
		r = bool_result(noise_cookie_add_macs(cookie, msg, len, now_mono_ns));
	if (r != NOISE_OK) {
		handshake_zero(hs);
		return r;
	}
	hs->local_index = local_index;
	hs->state = state;
	return NOISE_OK;
}

enum noise_result noise_handshake_create_initiation(struct noise_handshake *hs,
						    struct noise_cookie *cookie,
						    const struct noise_static_identity *id,
						    struct message_handshake_initiation *dst,
						    uint32_t local_index, uint64_t now_real_ns,
						    uint64_t now_mono_ns)
{
	enum noise_result r;

	if (!id->has_identity)
		return NOISE_ERR_NO_IDENTITY;
	handshake_zero(hs);
	memset(dst, 0, sizeof(*dst));
	dst->header.type = htole32(MESSAGE_HANDSHAKE_INITIATION);
	dst->sender_index = htole32(local_index);
	r = build_initiation(hs, id, dst, now_real_ns);
	return finish_created(hs, cookie, dst, sizeof(*dst), r, local_index,
			      NOISE_HANDSHAKE_CREATED_INITIATION, now_mono_ns);
}

/* Everything secret that consuming an initiation touches, to wipe in one go. */
struct initiation_scratch {
	uint8_t chaining_key[NOISE_HASH_LEN];
	uint8_t hash[NOISE_HASH_LEN];
	uint8_t key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t ephemeral[NOISE_PUBLIC_KEY_LEN];
	uint8_t remote_static[NOISE_PUBLIC_KEY_LEN];
	uint8_t timestamp[NOISE_TIMESTAMP_LEN];
};

/* Replays e, es, s with our static key, up to the initiator's decrypted static. */
static enum noise_result open_initiation_static(const struct noise_static_identity *id,
						const struct message_handshake_initiation *src,
						struct initiation_scratch *st)
{
	enum noise_result r;

	memcpy(st->ephemeral, src->unencrypted_ephemeral, NOISE_PUBLIC_KEY_LEN);
	r = bool_result(handshake_start(st->chaining_key, st->hash, id->public_key) &&
			mix_ephemeral(st->chaining_key, st->hash, st->ephemeral));
	if (r == NOISE_OK)
		r = mix_dh(st->chaining_key, st->key, id->private_key, st->ephemeral);
	if (r == NOISE_OK)
		r = message_decrypt(st->remote_static, src->encrypted_static,
				    sizeof(src->encrypted_static), st->key, st->hash);
	return r;
}

/* ss, {t}, then the timestamp and rate checks against what this peer sent before. */
static enum noise_result open_initiation_timestamp(const struct noise_handshake *hs,
						   const struct message_handshake_initiation *src,
						   struct initiation_scratch *st,
						   uint64_t now_mono_ns)
{
	const uint64_t min_gap_ns = NS_PER_SEC / INITIATIONS_PER_SECOND;
	enum noise_result r;

	r = mix_precomputed_dh(st->chaining_key, st->key, hs->precomputed_static_static);
	if (r == NOISE_OK)
		r = message_decrypt(st->timestamp, src->encrypted_timestamp,
				    sizeof(src->encrypted_timestamp), st->key, st->hash);
	if (r != NOISE_OK)
		return r;
	/* TAI64N is big-endian, so byte order is time order */
	if (memcmp(st->timestamp, hs->latest_timestamp, NOISE_TIMESTAMP_LEN) <= 0)
		return NOISE_ERR_REPLAY;
	if (hs->has_consumed_initiation &&
	    now_mono_ns - hs->last_initiation_consumed_ns < min_gap_ns)
		return NOISE_ERR_FLOOD;
	return NOISE_OK;
}

static enum noise_result check_header(uint32_t wire_type, enum message_type type,
				      const struct noise_static_identity *id, const void *msg,
				      size_t len)
{
	if (!id->has_identity)
		return NOISE_ERR_NO_IDENTITY;
	if (le32toh(wire_type) != (uint32_t)type)
		return NOISE_ERR_MESSAGE;
	return mac1_valid(msg, len, id->mac1_key) ? NOISE_OK : NOISE_ERR_MAC1;
}

enum noise_result noise_handshake_consume_initiation(
	const struct noise_static_identity *id, const struct message_handshake_initiation *src,
	struct noise_handshake *(*lookup)(void *ctx, const uint8_t key[NOISE_PUBLIC_KEY_LEN]),
	void *lookup_ctx, uint64_t now_mono_ns, struct noise_handshake **peer)
{
	struct initiation_scratch st;
	struct noise_handshake *hs = NULL;
	enum noise_result r;

	*peer = NULL;
	r = check_header(src->header.type, MESSAGE_HANDSHAKE_INITIATION, id, src, sizeof(*src));
	if (r == NOISE_OK)
		r = open_initiation_static(id, src, &st);
	if (r == NOISE_OK) {
		hs = lookup(lookup_ctx, st.remote_static);
		if (!hs ||
		    !wgcrypto_equal(hs->remote_static, st.remote_static, NOISE_PUBLIC_KEY_LEN))
			r = NOISE_ERR_UNKNOWN_PEER;
	}
	if (r == NOISE_OK)
		r = open_initiation_timestamp(hs, src, &st, now_mono_ns);
	if (r == NOISE_OK) {
		/*
		 * This replaces any initiation of ours in flight. local_index stays: the
		 * caller's index table still points at it until create_response replaces it.
		 */
		handshake_wipe_secrets(hs);
		memcpy(hs->remote_ephemeral, st.ephemeral, NOISE_PUBLIC_KEY_LEN);
		memcpy(hs->latest_timestamp, st.timestamp, NOISE_TIMESTAMP_LEN);
		memcpy(hs->hash, st.hash, NOISE_HASH_LEN);
		memcpy(hs->chaining_key, st.chaining_key, NOISE_HASH_LEN);
		hs->remote_index = le32toh(src->sender_index);
		hs->last_initiation_consumed_ns = now_mono_ns;
		hs->has_consumed_initiation = true;
		hs->state = NOISE_HANDSHAKE_CONSUMED_INITIATION;
		*peer = hs;
	}
	wgcrypto_wipe(&st, sizeof(st));
	return r;
}

/* ---- response ---- */

/* Builds e, ee, se, psk, {} into dst with hs's chaining key and hash. */
static enum noise_result build_response(struct noise_handshake *hs,
					struct message_handshake_response *dst)
{
	uint8_t key[NOISE_SYMMETRIC_KEY_LEN];
	enum noise_result r;

	r = bool_result(new_ephemeral(hs, dst->unencrypted_ephemeral));
	if (r == NOISE_OK)
		r = mix_dh(hs->chaining_key, NULL, hs->ephemeral_private, hs->remote_ephemeral);
	if (r == NOISE_OK)
		r = mix_dh(hs->chaining_key, NULL, hs->ephemeral_private, hs->remote_static);
	if (r == NOISE_OK)
		r = bool_result(mix_psk(hs->chaining_key, hs->hash, key, hs->preshared_key) &&
				message_encrypt(dst->encrypted_nothing, NULL, 0, key, hs->hash));
	wgcrypto_wipe(key, sizeof(key));
	return r;
}

enum noise_result noise_handshake_create_response(struct noise_handshake *hs,
						  struct noise_cookie *cookie,
						  const struct noise_static_identity *id,
						  struct message_handshake_response *dst,
						  uint32_t local_index, uint64_t now_mono_ns)
{
	enum noise_result r;

	if (!id->has_identity)
		return NOISE_ERR_NO_IDENTITY;
	if (hs->state != NOISE_HANDSHAKE_CONSUMED_INITIATION)
		return NOISE_ERR_STATE;
	memset(dst, 0, sizeof(*dst));
	dst->header.type = htole32(MESSAGE_HANDSHAKE_RESPONSE);
	dst->sender_index = htole32(local_index);
	dst->receiver_index = htole32(hs->remote_index);
	/* the transcript is spent either way: a second response could not reuse it */
	r = build_response(hs, dst);
	return finish_created(hs, cookie, dst, sizeof(*dst), r, local_index,
			      NOISE_HANDSHAKE_CREATED_RESPONSE, now_mono_ns);
}

struct response_scratch {
	uint8_t chaining_key[NOISE_HASH_LEN];
	uint8_t hash[NOISE_HASH_LEN];
	uint8_t key[NOISE_SYMMETRIC_KEY_LEN];
	uint8_t ephemeral[NOISE_PUBLIC_KEY_LEN];
};

static enum noise_result open_response(const struct noise_handshake *hs,
				       const struct noise_static_identity *id,
				       const struct message_handshake_response *src,
				       struct response_scratch *st)
{
	enum noise_result r;

	memcpy(st->chaining_key, hs->chaining_key, NOISE_HASH_LEN);
	memcpy(st->hash, hs->hash, NOISE_HASH_LEN);
	memcpy(st->ephemeral, src->unencrypted_ephemeral, NOISE_PUBLIC_KEY_LEN);
	r = bool_result(mix_ephemeral(st->chaining_key, st->hash, st->ephemeral));
	if (r == NOISE_OK)
		r = mix_dh(st->chaining_key, NULL, hs->ephemeral_private, st->ephemeral);
	if (r == NOISE_OK)
		r = mix_dh(st->chaining_key, NULL, id->private_key, st->ephemeral);
	if (r == NOISE_OK)
		r = bool_result(mix_psk(st->chaining_key, st->hash, st->key, hs->preshared_key));
	if (r == NOISE_OK)
		r = message_decrypt(NULL, src->encrypted_nothing, sizeof(src->encrypted_nothing),
				    st->key, st->hash);
	return r;
}

enum noise_result noise_handshake_consume_response(struct noise_handshake *hs,
						   const struct noise_static_identity *id,
						   const struct message_handshake_response *src)
{
	struct response_scratch st;
	enum noise_result r;

	r = check_header(src->header.type, MESSAGE_HANDSHAKE_RESPONSE, id, src, sizeof(*src));
	if (r == NOISE_OK && hs->state != NOISE_HANDSHAKE_CREATED_INITIATION)
		r = NOISE_ERR_STATE;
	if (r == NOISE_OK && le32toh(src->receiver_index) != hs->local_index)
		r = NOISE_ERR_INDEX;
	if (r == NOISE_OK)
		r = open_response(hs, id, src, &st);
	if (r == NOISE_OK) {
		memcpy(hs->remote_ephemeral, st.ephemeral, NOISE_PUBLIC_KEY_LEN);
		memcpy(hs->hash, st.hash, NOISE_HASH_LEN);
		memcpy(hs->chaining_key, st.chaining_key, NOISE_HASH_LEN);
		hs->remote_index = le32toh(src->sender_index);
		hs->state = NOISE_HANDSHAKE_CONSUMED_RESPONSE;
	}
	wgcrypto_wipe(&st, sizeof(st));
	return r;
}

/* ---- transport keys ---- */

enum noise_result noise_handshake_begin_session(struct noise_handshake *hs,
						struct noise_keypair *kp, uint64_t now_mono_ns)
{
	uint8_t t1[NOISE_SYMMETRIC_KEY_LEN], t2[NOISE_SYMMETRIC_KEY_LEN];
	bool initiator = hs->state == NOISE_HANDSHAKE_CONSUMED_RESPONSE;
	bool ok;

	if (!initiator && hs->state != NOISE_HANDSHAKE_CREATED_RESPONSE)
		return NOISE_ERR_STATE;
	memset(kp, 0, sizeof(*kp));
	/* (T1, T2) = KDF2(C, "") */
	ok = wgcrypto_kdf(t1, t2, NULL, hs->chaining_key, NOISE_HASH_LEN, NULL, 0) &&
	     wgcrypto_aead_init(&kp->send, initiator ? t1 : t2) &&
	     wgcrypto_aead_init(&kp->recv, initiator ? t2 : t1);
	wgcrypto_wipe(t1, sizeof(t1));
	wgcrypto_wipe(t2, sizeof(t2));
	kp->birth_ns = now_mono_ns;
	kp->local_index = hs->local_index;
	kp->remote_index = hs->remote_index;
	kp->is_initiator = initiator;
	handshake_zero(hs);
	if (!ok) {
		noise_keypair_clear(kp);
		return NOISE_ERR_CRYPTO;
	}
	return NOISE_OK;
}

void noise_keypair_clear(struct noise_keypair *kp)
{
	wgcrypto_aead_free(&kp->send);
	wgcrypto_aead_free(&kp->recv);
	wgcrypto_wipe(kp, sizeof(*kp));
}
