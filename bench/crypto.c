/* bench/crypto.c: ns per packet of ChaCha20-Poly1305 seal and open, for each way we can call it. */
/*
 * The data path seals and opens one 1420-byte packet at a time with a per-worker context,
 * so the per-call overhead of the library counts as much as the cipher. Variants:
 *   wgcrypto     the wgcrypto.h API as built in this tree (what the daemon runs)
 *   evp-rearm    OpenSSL 3 EVP re-armed per packet with EVP_CipherInit_ex2(nonce) and
 *                EVP_CIPHER_CTX_ctrl for the tag (the path wgcrypto.c took before)
 *   evp-params   the same context, but the tag travels in a prepared OSSL_PARAM array:
 *                given to EVP_CipherInit_ex2 on open, read with EVP_CIPHER_CTX_get_params on
 *                seal, so no ctrl-to-params translation per packet
 *   sodium       libsodium's crypto_aead_chacha20poly1305_ietf_*_detached (no context)
 * Every variant's ciphertext is checked against libsodium's before timing, so a faster
 * wrong path cannot win.
 *
 *   build/bench/crypto [packets] [rounds] [bytes]   (default 200000 packets, 5 rounds, 1420)
 * prints, per variant, the median over the rounds of ns per seal, per open and per both,
 * and the fastest round (the least disturbed by other load). A small size (64 bytes) shows
 * the fixed cost per call; `valgrind --tool=callgrind` on a short run counts instructions,
 * which other load does not disturb.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <sodium.h>

#include "wgcrypto.h"

enum { PKT_LEN = 1420, TAG_LEN = 16, NONCE_LEN = 12, MAX_ROUNDS = 15 };

struct variant {
	const char *name;
	bool (*setup)(const uint8_t key[32]);
	bool (*seal)(uint8_t *dst, const uint8_t *src, size_t len, uint64_t counter);
	bool (*open)(uint8_t *dst, const uint8_t *src, size_t ct_len, uint64_t counter);
	void (*teardown)(void);
};

static void nonce_of(uint8_t nonce[NONCE_LEN], uint64_t counter)
{
	memset(nonce, 0, 4);
	for (int i = 0; i < 8; i++)
		nonce[4 + i] = (uint8_t)(counter >> (8 * i));
}

/* wgcrypto: a send and a receive key, as a worker holds them. */
static struct wgcrypto_aead_key wg_send, wg_recv;

static bool wg_setup(const uint8_t key[32])
{
	return wgcrypto_aead_init(&wg_send, key) && wgcrypto_aead_init(&wg_recv, key);
}

static bool wg_seal(uint8_t *dst, const uint8_t *src, size_t len, uint64_t counter)
{
	return wgcrypto_aead_seal(&wg_send, dst, src, len, counter, NULL, 0);
}

static bool wg_open(uint8_t *dst, const uint8_t *src, size_t ct_len, uint64_t counter)
{
	return wgcrypto_aead_open(&wg_recv, dst, src, ct_len, counter, NULL, 0);
}

static void wg_teardown(void)
{
	wgcrypto_aead_free(&wg_send);
	wgcrypto_aead_free(&wg_recv);
}

/* EVP: one context per direction, keyed once. */
static EVP_CIPHER *chacha;
static EVP_CIPHER_CTX *evp_send, *evp_recv;

static bool evp_setup(const uint8_t key[32])
{
	chacha = EVP_CIPHER_fetch(NULL, "ChaCha20-Poly1305", NULL);
	evp_send = EVP_CIPHER_CTX_new();
	evp_recv = EVP_CIPHER_CTX_new();
	return chacha && evp_send && evp_recv &&
	       EVP_CipherInit_ex2(evp_send, chacha, key, NULL, 1, NULL) &&
	       EVP_CipherInit_ex2(evp_recv, chacha, key, NULL, 0, NULL);
}

static void evp_teardown(void)
{
	EVP_CIPHER_CTX_free(evp_send);
	EVP_CIPHER_CTX_free(evp_recv);
	EVP_CIPHER_free(chacha);
}

static bool rearm_seal(uint8_t *dst, const uint8_t *src, size_t len, uint64_t counter)
{
	uint8_t nonce[NONCE_LEN], scratch[TAG_LEN];
	int n;

	nonce_of(nonce, counter);
	return EVP_CipherInit_ex2(evp_send, NULL, NULL, nonce, 1, NULL) &&
	       EVP_CipherUpdate(evp_send, dst, &n, src, (int)len) &&
	       EVP_CipherFinal_ex(evp_send, scratch, &n) &&
	       EVP_CIPHER_CTX_ctrl(evp_send, EVP_CTRL_AEAD_GET_TAG, TAG_LEN, dst + len) == 1;
}

static bool rearm_open(uint8_t *dst, const uint8_t *src, size_t ct_len, uint64_t counter)
{
	uint8_t nonce[NONCE_LEN], tag[TAG_LEN], scratch[TAG_LEN];
	size_t len = ct_len - TAG_LEN;
	int n;

	nonce_of(nonce, counter);
	memcpy(tag, src + len, TAG_LEN);
	return EVP_CipherInit_ex2(evp_recv, NULL, NULL, nonce, 0, NULL) &&
	       EVP_CIPHER_CTX_ctrl(evp_recv, EVP_CTRL_AEAD_SET_TAG, TAG_LEN, tag) == 1 &&
	       EVP_CipherUpdate(evp_recv, dst, &n, src, (int)len) &&
	       EVP_CipherFinal_ex(evp_recv, scratch, &n) == 1;
}

static bool params_seal(uint8_t *dst, const uint8_t *src, size_t len, uint64_t counter)
{
	uint8_t nonce[NONCE_LEN], scratch[TAG_LEN];
	OSSL_PARAM get_tag[] = {
		OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, dst + len, TAG_LEN),
		OSSL_PARAM_END,
	};
	int n;

	nonce_of(nonce, counter);
	return EVP_CipherInit_ex2(evp_send, NULL, NULL, nonce, 1, NULL) &&
	       EVP_CipherUpdate(evp_send, dst, &n, src, (int)len) &&
	       EVP_CipherFinal_ex(evp_send, scratch, &n) &&
	       EVP_CIPHER_CTX_get_params(evp_send, get_tag);
}

static bool params_open(uint8_t *dst, const uint8_t *src, size_t ct_len, uint64_t counter)
{
	uint8_t nonce[NONCE_LEN], tag[TAG_LEN], scratch[TAG_LEN];
	size_t len = ct_len - TAG_LEN;
	OSSL_PARAM set_tag[] = {
		OSSL_PARAM_octet_string(OSSL_CIPHER_PARAM_AEAD_TAG, tag, TAG_LEN),
		OSSL_PARAM_END,
	};
	int n;

	nonce_of(nonce, counter);
	memcpy(tag, src + len, TAG_LEN);
	return EVP_CipherInit_ex2(evp_recv, NULL, NULL, nonce, 0, set_tag) &&
	       EVP_CipherUpdate(evp_recv, dst, &n, src, (int)len) &&
	       EVP_CipherFinal_ex(evp_recv, scratch, &n) == 1;
}

/* libsodium needs only the key. */
static uint8_t sodium_key[32];

static bool sodium_setup(const uint8_t key[32])
{
	memcpy(sodium_key, key, 32);
	return true;
}

static bool sodium_seal(uint8_t *dst, const uint8_t *src, size_t len, uint64_t counter)
{
	uint8_t nonce[NONCE_LEN];

	nonce_of(nonce, counter);
	return crypto_aead_chacha20poly1305_ietf_encrypt_detached(dst, dst + len, NULL, src, len,
								   NULL, 0, NULL, nonce,
								   sodium_key) == 0;
}

static bool sodium_open(uint8_t *dst, const uint8_t *src, size_t ct_len, uint64_t counter)
{
	uint8_t nonce[NONCE_LEN];
	size_t len = ct_len - TAG_LEN;

	nonce_of(nonce, counter);
	return crypto_aead_chacha20poly1305_ietf_decrypt_detached(dst, NULL, src, len, src + len,
								   NULL, 0, nonce,
								   sodium_key) == 0;
}

static void sodium_teardown(void)
{
	sodium_memzero(sodium_key, sizeof(sodium_key));
}

static const struct variant variants[] = {
	{ "wgcrypto", wg_setup, wg_seal, wg_open, wg_teardown },
	{ "evp-rearm", evp_setup, rearm_seal, rearm_open, evp_teardown },
	{ "evp-params", evp_setup, params_seal, params_open, evp_teardown },
	{ "sodium", sodium_setup, sodium_seal, sodium_open, sodium_teardown },
};

static uint8_t pt[PKT_LEN], ct[PKT_LEN + TAG_LEN], back[PKT_LEN];
static size_t pkt_len = PKT_LEN;

/* The variant must agree with libsodium on a few counters and reject a flipped bit. */
static bool check(const struct variant *v, const uint8_t key[32])
{
	uint8_t ref[PKT_LEN + TAG_LEN];
	unsigned long long ref_len;

	for (uint64_t c = 0; c < 1000; c += 333) {
		uint8_t nonce[NONCE_LEN];

		nonce_of(nonce, c);
		crypto_aead_chacha20poly1305_ietf_encrypt(ref, &ref_len, pt, pkt_len, NULL, 0,
							  NULL, nonce, key);
		if (!v->seal(ct, pt, pkt_len, c) || memcmp(ct, ref, pkt_len + TAG_LEN) != 0 ||
		    !v->open(back, ct, pkt_len + TAG_LEN, c) || memcmp(back, pt, pkt_len) != 0)
			return false;
		ct[c % (pkt_len + TAG_LEN)] ^= 1;
		if (v->open(back, ct, pkt_len + TAG_LEN, c))
			return false;
	}
	return true;
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return v[n / 2];
}

/* One round: seal then open `packets` times; ns per call of each into t[0], t[1]. */
static bool run_round(const struct variant *v, long packets, double t[2])
{
	double t0 = now_ns(), t1, t2, t3;
	bool ok = true;

	for (long i = 0; i < packets; i++)
		ok &= v->seal(ct, pt, pkt_len, (uint64_t)i);
	t1 = now_ns();
	/* one valid packet opened again and again: open's cost does not depend on it */
	ok &= v->seal(ct, pt, pkt_len, 7);
	t2 = now_ns();
	for (long i = 0; i < packets; i++)
		ok &= v->open(back, ct, pkt_len + TAG_LEN, 7);
	t3 = now_ns();
	t[0] = (t1 - t0) / packets;
	t[1] = (t3 - t2) / packets;
	return ok;
}

enum { N_VARIANTS = sizeof(variants) / sizeof(variants[0]) };

/*
 * Rounds go through every variant in turn, so that a neighbour's load on a shared machine
 * slows all of them alike; each variant is checked before its first round.
 */
static bool measure(const uint8_t key[32], long packets, int rounds,
		    double seal[][MAX_ROUNDS], double open[][MAX_ROUNDS], bool failed[])
{
	for (int r = 0; r < rounds; r++) {
		for (size_t i = 0; i < N_VARIANTS; i++) {
			const struct variant *v = &variants[i];
			double t[2] = { 0, 0 };

			if (failed[i])
				continue;
			failed[i] = !v->setup(key) || (r == 0 && !check(v, key)) ||
				    !run_round(v, packets, t);
			v->teardown();
			seal[i][r] = t[0];
			open[i][r] = t[1];
		}
	}
	for (size_t i = 0; i < N_VARIANTS; i++)
		if (failed[i])
			return false;
	return true;
}

static void report(int rounds, double seal[][MAX_ROUNDS], double open[][MAX_ROUNDS],
		   const bool failed[])
{
	printf("%-12s %9s %9s %9s %9s %10s\n", "variant", "seal ns", "open ns", "both ns",
	       "both min", "Gbit/s 1c");
	for (size_t i = 0; i < N_VARIANTS; i++) {
		double both[MAX_ROUNDS], min;

		if (failed[i]) {
			printf("%-12s FAILED (wrong output or library error)\n", variants[i].name);
			continue;
		}
		for (int r = 0; r < rounds; r++)
			both[r] = seal[i][r] + open[i][r];
		min = both[0];
		for (int r = 1; r < rounds; r++)
			min = both[r] < min ? both[r] : min;
		/* Gbit/s: one CPU sealing every packet and opening it again */
		printf("%-12s %9.0f %9.0f %9.0f %9.0f %10.2f\n", variants[i].name,
		       median(seal[i], rounds), median(open[i], rounds), median(both, rounds), min,
		       pkt_len * 8 / median(both, rounds));
	}
}

int main(int argc, char **argv)
{
	long packets = argc > 1 ? atol(argv[1]) : 200000;
	int rounds = argc > 2 ? atoi(argv[2]) : 5;
	long bytes = argc > 3 ? atol(argv[3]) : PKT_LEN;
	double seal[N_VARIANTS][MAX_ROUNDS], open[N_VARIANTS][MAX_ROUNDS];
	bool failed[N_VARIANTS] = { false };
	uint8_t key[32];
	bool ok;

	if (packets < 1 || rounds < 1 || rounds > MAX_ROUNDS || bytes < 1 || bytes > PKT_LEN) {
		fprintf(stderr, "usage: %s [packets >= 1] [rounds 1..%d] [bytes 1..%d]\n", argv[0],
			MAX_ROUNDS, PKT_LEN);
		return 2;
	}
	pkt_len = (size_t)bytes;
	if (wgcrypto_init() != 0) {
		fprintf(stderr, "crypto: library initialisation failed\n");
		return 1;
	}
	randombytes_buf(key, sizeof(key));
	randombytes_buf(pt, sizeof(pt));
	printf("ChaCha20-Poly1305, %d-byte packets, %ld per round, median of %d rounds "
	       "(OpenSSL %s, libsodium %s)\n",
	       (int)pkt_len, packets, rounds, OpenSSL_version(OPENSSL_VERSION_STRING),
	       sodium_version_string());
	ok = measure(key, packets, rounds, seal, open, failed);
	report(rounds, seal, open, failed);
	sodium_memzero(key, sizeof(key));
	return ok ? 0 : 1;
}
