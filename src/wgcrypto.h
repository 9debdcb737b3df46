/* wgcrypto.h: WireGuard's primitives as thin wrappers over OpenSSL 3 libcrypto and libsodium. */
#ifndef WGCRYPTO_H
#define WGCRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Every function here is safe to call from several threads at once, except that one
 * struct wgcrypto_aead_key must not be used by two threads at the same time (keep one
 * per worker; wgcrypto_aead_dup makes the copies). The library objects are fetched once,
 * lazily, on first use; wgcrypto_init only lets the caller fail early.
 *
 * Functions returning bool return false on any failure and never leave secrets behind:
 * outputs are wiped when they fail.
 */

enum wgcrypto_lengths {
	WGCRYPTO_KEY_LEN = 32,		/* X25519 keys, AEAD keys, chaining keys */
	WGCRYPTO_HASH_LEN = 32,		/* BLAKE2s-256 */
	WGCRYPTO_MAC_LEN = 16,		/* keyed BLAKE2s-128 */
	WGCRYPTO_AEAD_TAG_LEN = 16,	/* Poly1305 */
	WGCRYPTO_AEAD_NONCE_LEN = 12,	/* ChaCha20-Poly1305 IETF */
	WGCRYPTO_XAEAD_NONCE_LEN = 24,	/* XChaCha20-Poly1305 */
	WGCRYPTO_KEY_B64_LEN = 44,	/* base64 of 32 bytes, one '=' of padding; no NUL */
	WGCRYPTO_KEY_HEX_LEN = 64,	/* lowercase hex; no NUL */
};

/* Fetches the OpenSSL algorithms and initialises libsodium. 0 or -errno. Idempotent. */
int wgcrypto_init(void);

/* Secure wipe that the compiler may not elide. */
void wgcrypto_wipe(void *p, size_t len);
/* Constant-time comparison: true when equal. */
bool wgcrypto_equal(const void *a, const void *b, size_t len);
/* Constant-time test for all zero bytes. */
bool wgcrypto_is_zero(const void *p, size_t len);
/* Cryptographically secure random bytes. */
bool wgcrypto_random(void *buf, size_t len);

/* HASH: BLAKE2s-256 of a ‖ b. b may be NULL with b_len 0. */
bool wgcrypto_hash(uint8_t out[WGCRYPTO_HASH_LEN], const void *a, size_t a_len,
		   const void *b, size_t b_len);

/* MAC: keyed BLAKE2s with a 16-byte digest (not a truncated BLAKE2s-256). key_len 1..32. */
bool wgcrypto_mac(uint8_t out[WGCRYPTO_MAC_LEN], const void *key, size_t key_len,
		  const void *in, size_t in_len);

/* HMAC-BLAKE2s-256 (RFC 2104, 64-byte block). */
bool wgcrypto_hmac(uint8_t out[WGCRYPTO_HASH_LEN], const void *key, size_t key_len,
		   const void *in, size_t in_len);

/*
 * KDFn(key, in): the HKDF-like chain of wireguard.md. Writes the first, second and third
 * 32-byte outputs to out1..out3; out2 and out3 may be NULL to stop early (KDF1, KDF2).
 * Outputs may alias key (C = KDF1(C, x) is the common case) but not in.
 */
bool wgcrypto_kdf(uint8_t *out1, uint8_t *out2, uint8_t *out3, const void *key,
		  size_t key_len, const void *in, size_t in_len);

/* X25519 private-key clamping, as WireGuard stores its keys. */
void wgcrypto_x25519_clamp(uint8_t key[WGCRYPTO_KEY_LEN]);
/* New clamped private key and its public key. */
bool wgcrypto_x25519_generate(uint8_t private_key[WGCRYPTO_KEY_LEN],
			      uint8_t public_key[WGCRYPTO_KEY_LEN]);
bool wgcrypto_x25519_public(uint8_t public_key[WGCRYPTO_KEY_LEN],
			    const uint8_t private_key[WGCRYPTO_KEY_LEN]);
/* DH; false also when the result is all zero (a low-order peer key). */
bool wgcrypto_x25519(uint8_t shared[WGCRYPTO_KEY_LEN], const uint8_t private_key[WGCRYPTO_KEY_LEN],
		     const uint8_t public_key[WGCRYPTO_KEY_LEN]);

/*
 * ChaCha20-Poly1305 with a key scheduled once. init allocates; seal and open do not.
 * The nonce is 4 zero bytes ‖ LE64(counter), as WireGuard's transport and handshake use.
 * seal writes len bytes of ciphertext then the 16-byte tag to dst; open reads
 * ct_len (≥ 16) bytes and writes ct_len - 16 bytes of plaintext. dst may equal src
 * (in place) but must not otherwise overlap it. ad may be NULL when ad_len is 0.
 * open wipes dst when the tag does not verify.
 */
struct evp_cipher_ctx_st;
struct wgcrypto_aead_key {
	struct evp_cipher_ctx_st *ctx;
};

bool wgcrypto_aead_init(struct wgcrypto_aead_key *k, const uint8_t key[WGCRYPTO_KEY_LEN]);
/* dst gets an independent context with the same key (one per worker thread). */
bool wgcrypto_aead_dup(struct wgcrypto_aead_key *dst, const struct wgcrypto_aead_key *src);
/* Frees and wipes; safe on a zeroed or already freed key. */
void wgcrypto_aead_free(struct wgcrypto_aead_key *k);
bool wgcrypto_aead_seal(struct wgcrypto_aead_key *k, uint8_t *dst, const uint8_t *src,
			size_t len, uint64_t counter, const uint8_t *ad, size_t ad_len);
bool wgcrypto_aead_open(struct wgcrypto_aead_key *k, uint8_t *dst, const uint8_t *src,
			size_t ct_len, uint64_t counter, const uint8_t *ad, size_t ad_len);
/* The same with a raw 96-bit nonce (for known-answer tests). */
bool wgcrypto_aead_seal_nonce(struct wgcrypto_aead_key *k, uint8_t *dst, const uint8_t *src,
			      size_t len, const uint8_t nonce[WGCRYPTO_AEAD_NONCE_LEN],
			      const uint8_t *ad, size_t ad_len);
bool wgcrypto_aead_open_nonce(struct wgcrypto_aead_key *k, uint8_t *dst, const uint8_t *src,
			      size_t ct_len, const uint8_t nonce[WGCRYPTO_AEAD_NONCE_LEN],
			      const uint8_t *ad, size_t ad_len);

/* One-shot forms for the handshake, where each key encrypts a single message. */
bool wgcrypto_aead_seal_once(const uint8_t key[WGCRYPTO_KEY_LEN], uint8_t *dst,
			     const uint8_t *src, size_t len, uint64_t counter,
			     const uint8_t *ad, size_t ad_len);
bool wgcrypto_aead_open_once(const uint8_t key[WGCRYPTO_KEY_LEN], uint8_t *dst,
			     const uint8_t *src, size_t ct_len, uint64_t counter,
			     const uint8_t *ad, size_t ad_len);

/* XChaCha20-Poly1305 (libsodium), same buffer conventions as the AEAD above. */
bool wgcrypto_xaead_seal(const uint8_t key[WGCRYPTO_KEY_LEN],
			 const uint8_t nonce[WGCRYPTO_XAEAD_NONCE_LEN], uint8_t *dst,
			 const uint8_t *src, size_t len, const uint8_t *ad, size_t ad_len);
bool wgcrypto_xaead_open(const uint8_t key[WGCRYPTO_KEY_LEN],
			 const uint8_t nonce[WGCRYPTO_XAEAD_NONCE_LEN], uint8_t *dst,
			 const uint8_t *src, size_t ct_len, const uint8_t *ad, size_t ad_len);

/* Key text forms. Encoders write a NUL after the 44 or 64 characters (buffer 45 or 65). */
void wgcrypto_key_to_base64(char out[WGCRYPTO_KEY_B64_LEN + 1],
			    const uint8_t key[WGCRYPTO_KEY_LEN]);
/* Exactly 44 characters of canonical base64 followed by NUL; key untouched on failure. */
bool wgcrypto_key_from_base64(uint8_t key[WGCRYPTO_KEY_LEN], const char *b64);
void wgcrypto_key_to_hex(char out[WGCRYPTO_KEY_HEX_LEN + 1], const uint8_t key[WGCRYPTO_KEY_LEN]);
/* Exactly 64 hex characters followed by NUL (either case); key untouched on failure. */
bool wgcrypto_key_from_hex(uint8_t key[WGCRYPTO_KEY_LEN], const char *hex);

#endif
