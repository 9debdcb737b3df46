/* test_wgcrypto.c: known-answer and misuse tests for the WireGuard primitive wrappers. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "wgcrypto.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Decodes hex into a fresh heap buffer (tests only); *len gets the byte count. */
static uint8_t *unhex(const char *hex, size_t *len)
{
	size_t n = strlen(hex) / 2;
	uint8_t *out = malloc(n ? n : 1);

	assert_non_null(out);
	for (size_t i = 0; i < n; i++) {
		unsigned int byte;

		assert_int_equal(sscanf(hex + 2 * i, "%2x", &byte), 1);
		out[i] = (uint8_t)byte;
	}
	if (len)
		*len = n;
	return out;
}

static void assert_hex_equal(const uint8_t *got, const char *want_hex)
{
	size_t len;
	uint8_t *want = unhex(want_hex, &len);

	assert_memory_equal(got, want, len);
	free(want);
}

/* Fills buf with a repeatable pattern. */
static void pattern(uint8_t *buf, size_t len, uint8_t seed)
{
	for (size_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(seed + i * 31);
}

static void test_init(void **state)
{
	assert_int_equal(wgcrypto_init(), 0);
	assert_int_equal(wgcrypto_init(), 0);
}

static void test_blake2s(void **state)
{
	static const struct {
		const char *in;
		const char *out;
	} cases[] = {
		/* RFC 7693 appendix B */
		{ "abc", "508c5e8c327c14e2e1a72ba34eeb452f37458b209ed63a294d999b4c86675982" },
		{ "", "69217a3079908094e11121d042354a7c1f55b6482ca1a51e1b250dfd1ed0eef9" },
		/* C0 of wireguard.md */
		{ "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s",
		  "60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36" },
	};
	uint8_t out[WGCRYPTO_HASH_LEN];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		assert_true(wgcrypto_hash(out, cases[i].in, strlen(cases[i].in), NULL, 0));
		assert_hex_equal(out, cases[i].out);
	}
}

static void test_blake2s_two_parts(void **state)
{
	static const char construction[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
	static const char identifier[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";
	uint8_t c0[WGCRYPTO_HASH_LEN], h0[WGCRYPTO_HASH_LEN], whole[WGCRYPTO_HASH_LEN];

	assert_int_equal(sizeof(construction) - 1, 37);
	assert_int_equal(sizeof(identifier) - 1, 34);
	assert_true(wgcrypto_hash(c0, construction, sizeof(construction) - 1, NULL, 0));
	assert_true(wgcrypto_hash(h0, c0, sizeof(c0), identifier, sizeof(identifier) - 1));
	assert_hex_equal(h0, "2211b361081ac566691243db458ad5322d9c6c662293e8b70ee19c65ba079ef3");

	assert_true(wgcrypto_hash(whole, "abc", 3, NULL, 0));
	assert_true(wgcrypto_hash(c0, "a", 1, "bc", 2));
	assert_memory_equal(c0, whole, sizeof(whole));
	/* the output may alias the first part, as HASH(H ‖ x) needs */
	memcpy(c0, "abc", 3);
	assert_true(wgcrypto_hash(c0, c0, 3, NULL, 0));
	assert_memory_equal(c0, whole, sizeof(whole));
}

static void test_mac(void **state)
{
	/* expected values from Python's hashlib.blake2s(data, key=..., digest_size=16) */
	static const struct {
		size_t key_len;
		const char *in;
		size_t in_len;
		const char *out;
	} cases[] = {
		{ 32, "abc", 3, "61ba5f165c194692e09d12520cc4c74a" },
		{ 32, "", 0, "9536f9b267655743dee97b8a670f9f53" },
	};
	uint8_t key[32], out[WGCRYPTO_MAC_LEN], msg[64], hash[WGCRYPTO_HASH_LEN];

	for (size_t i = 0; i < sizeof(key); i++)
		key[i] = (uint8_t)i;
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		assert_true(wgcrypto_mac(out, key, cases[i].key_len, cases[i].in, cases[i].in_len));
		assert_hex_equal(out, cases[i].out);
	}
	/* a 16-byte key, as mac2 uses the cookie */
	for (size_t i = 0; i < sizeof(msg); i++)
		msg[i] = (uint8_t)i;
	assert_true(wgcrypto_mac(out, key, 16, msg, sizeof(msg)));
	assert_hex_equal(out, "dd55c51c98f8ab96ed272882941f0b6a");

	/* the classic trap: a truncated keyed BLAKE2s-256 differs */
	assert_true(wgcrypto_mac(out, key, 32, "abc", 3));
	assert_true(wgcrypto_hash(hash, "abc", 3, NULL, 0));
	assert_memory_not_equal(out, hash, sizeof(out));

	assert_false(wgcrypto_mac(out, key, 0, "abc", 3));
	assert_false(wgcrypto_mac(out, key, 33, "abc", 3));
}

static void test_hmac(void **state)
{
	static const char fox[] = "The quick brown fox jumps over the lazy dog";
	uint8_t out[WGCRYPTO_HASH_LEN];

	/* Python: hmac.new(b"key", fox, hashlib.blake2s) */
	assert_true(wgcrypto_hmac(out, "key", 3, fox, strlen(fox)));
	assert_hex_equal(out, "f93215bb90d4af4c3061cd932fb169fb8bb8a91d0b4022baea1271e1323cd9a0");
}

static void test_kdf(void **state)
{
	/* wireguard-go device/kdf_test.go (the first row is the one in wireguard.md) */
	static const struct {
		const char *key, *in, *t[3];
	} cases[] = {
		{ "test-key", "test-input",
		  { "6f0e5ad38daba1bea8a0d213688736f19763239305e0f58aba697f9ffc41c633",
		    "df1194df20802a4fe594cde27e92991c8cae66c366e8106aaa937a55fa371e8a",
		    "fac6e2745a325f5dc5d11a5b165aad08b0ada28e7b4e666b7c077934a4d76c24" } },
		{ "wireguard", "wireguard",
		  { "491d43bbfdaa8750aaf535e334ecbfe5129967cd64635101c566d4caefda96e8",
		    "1e71a379baefd8a79aa4662212fcafe19a23e2b609a3db7d6bcba8f560e3d25f",
		    "31e1ae48bddfbe5de38f295e5452b1909a1b4e38e183926af3780b0c1e1f0160" } },
		{ "", "",
		  { "8387b46bf43eccfcf349552a095d8315c4055beb90208fb1be23b894bc2ed5d0",
		    "58a0e5f6faefccf4807bff1f05fa8a9217945762040bcec2f4b4a62bdfe0e86e",
		    "0ce6ea98ec548f8e281e93e32db65621c45eb18dc6f0a7ad94178610a2f7338e" } },
	};
	uint8_t t1[32], t2[32], t3[32];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		const char *key = cases[i].key, *in = cases[i].in;

		assert_true(wgcrypto_kdf(t1, NULL, NULL, key, strlen(key), in, strlen(in)));
		assert_hex_equal(t1, cases[i].t[0]);
		memset(t1, 0, sizeof(t1));
		assert_true(wgcrypto_kdf(t1, t2, NULL, key, strlen(key), in, strlen(in)));
		assert_hex_equal(t1, cases[i].t[0]);
		assert_hex_equal(t2, cases[i].t[1]);
		assert_true(wgcrypto_kdf(t1, t2, t3, key, strlen(key), in, strlen(in)));
		assert_hex_equal(t1, cases[i].t[0]);
		assert_hex_equal(t2, cases[i].t[1]);
		assert_hex_equal(t3, cases[i].t[2]);
	}
}

static void test_kdf_aliasing(void **state)
{
	uint8_t ck[32], expect1[32], expect2[32], k[32];

	pattern(ck, sizeof(ck), 7);
	assert_true(wgcrypto_kdf(expect1, expect2, NULL, ck, sizeof(ck), "x", 1));
	/* C, k = KDF2(C, x) in place */
	assert_true(wgcrypto_kdf(ck, k, NULL, ck, sizeof(ck), "x", 1));
	assert_memory_equal(ck, expect1, sizeof(ck));
	assert_memory_equal(k, expect2, sizeof(k));
}

static const char alice_private[] =
	"77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a";
static const char alice_public[] =
	"8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a";
static const char bob_private[] =
	"5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb";
static const char bob_public[] =
	"de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f";
static const char alice_bob_shared[] =
	"4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742";

static void test_x25519_rfc7748(void **state)
{
	uint8_t *a_priv = unhex(alice_private, NULL), *b_priv = unhex(bob_private, NULL);
	uint8_t *a_pub = unhex(alice_public, NULL), *b_pub = unhex(bob_public, NULL);
	uint8_t pub[32], shared[32];

	assert_true(wgcrypto_x25519_public(pub, a_priv));
	assert_memory_equal(pub, a_pub, 32);
	assert_true(wgcrypto_x25519_public(pub, b_priv));
	assert_memory_equal(pub, b_pub, 32);
	assert_true(wgcrypto_x25519(shared, a_priv, b_pub));
	assert_hex_equal(shared, alice_bob_shared);
	assert_true(wgcrypto_x25519(shared, b_priv, a_pub));
	assert_hex_equal(shared, alice_bob_shared);
	/* clamping changes nothing X25519 would not ignore anyway */
	wgcrypto_x25519_clamp(a_priv);
	assert_true(wgcrypto_x25519(shared, a_priv, b_pub));
	assert_hex_equal(shared, alice_bob_shared);
	free(a_priv);
	free(b_priv);
	free(a_pub);
	free(b_pub);
}

static void test_x25519_rejects_low_order(void **state)
{
	static const char *low_order[] = {
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0100000000000000000000000000000000000000000000000000000000000000",
		"e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
		"5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	};
	uint8_t *priv = unhex(alice_private, NULL);
	uint8_t shared[32];

	for (size_t i = 0; i < ARRAY_SIZE(low_order); i++) {
		uint8_t *pub = unhex(low_order[i], NULL);

		memset(shared, 0xaa, sizeof(shared));
		assert_false(wgcrypto_x25519(shared, priv, pub));
		assert_true(wgcrypto_is_zero(shared, sizeof(shared)));
		free(pub);
	}
	free(priv);
}

static void test_x25519_generate(void **state)
{
	uint8_t a_priv[32], a_pub[32], b_priv[32], b_pub[32], pub[32], s1[32], s2[32];

	assert_true(wgcrypto_x25519_generate(a_priv, a_pub));
	assert_true(wgcrypto_x25519_generate(b_priv, b_pub));
	assert_memory_not_equal(a_priv, b_priv, 32);
	assert_int_equal(a_priv[0] & 7, 0);
	assert_int_equal(a_priv[31] & 0xc0, 0x40);
	assert_true(wgcrypto_x25519_public(pub, a_priv));
	assert_memory_equal(pub, a_pub, 32);
	assert_true(wgcrypto_x25519(s1, a_priv, b_pub));
	assert_true(wgcrypto_x25519(s2, b_priv, a_pub));
	assert_memory_equal(s1, s2, 32);
}

static const char sunscreen[] = "Ladies and Gentlemen of the class of '99: If I could offer you "
				"only one tip for the future, sunscreen would be it.";
static const char sunscreen_ad[] = "50515253c0c1c2c3c4c5c6c7";

static void sunscreen_key(uint8_t key[32])
{
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(0x80 + i);
}

static void test_chacha20poly1305_rfc8439(void **state)
{
	static const char ct_hex[] =
		"d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
		"3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
		"92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
		"3ff4def08e4b7a9de576d26586cec64b6116"
		"1ae10b594f09e26a7e902ecbd0600691";
	const size_t len = sizeof(sunscreen) - 1;
	uint8_t key[32], buf[256], out[256];
	uint8_t *nonce = unhex("070000004041424344454647", NULL);
	size_t ad_len;
	uint8_t *ad = unhex(sunscreen_ad, &ad_len);
	struct wgcrypto_aead_key k;

	assert_int_equal(len, 114);
	sunscreen_key(key);
	assert_true(wgcrypto_aead_init(&k, key));
	assert_true(wgcrypto_aead_seal_nonce(&k, buf, (const uint8_t *)sunscreen, len, nonce, ad,
					     ad_len));
	assert_hex_equal(buf, ct_hex);
	assert_true(wgcrypto_aead_open_nonce(&k, out, buf, len + 16, nonce, ad, ad_len));
	assert_memory_equal(out, sunscreen, len);
	/* in place, both ways, on the same context */
	memcpy(buf, sunscreen, len);
	assert_true(wgcrypto_aead_seal_nonce(&k, buf, buf, len, nonce, ad, ad_len));
	assert_hex_equal(buf, ct_hex);
	assert_true(wgcrypto_aead_open_nonce(&k, buf, buf, len + 16, nonce, ad, ad_len));
	assert_memory_equal(buf, sunscreen, len);
	wgcrypto_aead_free(&k);
	wgcrypto_aead_free(&k);
	free(nonce);
	free(ad);
}

/* Our counter nonce against libsodium's independent implementation. */
static void test_aead_counter_vs_libsodium(void **state)
{
	static const uint64_t counters[] = { 0, 1, 0x0102030405060708ULL, UINT64_MAX };
	static const size_t lens[] = { 0, 1, 15, 16, 17, 64, 1420 };
	uint8_t key[32], ad[32], pt[1420], ours[1436], theirs[1436], back[1420], nonce[12];
	struct wgcrypto_aead_key k;

	pattern(key, sizeof(key), 1);
	pattern(ad, sizeof(ad), 2);
	pattern(pt, sizeof(pt), 3);
	assert_true(wgcrypto_aead_init(&k, key));
	for (size_t c = 0; c < ARRAY_SIZE(counters); c++) {
		memset(nonce, 0, sizeof(nonce));
		for (int b = 0; b < 8; b++)
			nonce[4 + b] = (uint8_t)(counters[c] >> (8 * b));
		for (size_t l = 0; l < ARRAY_SIZE(lens); l++) {
			size_t len = lens[l], ad_len = l % 2 ? sizeof(ad) : 0;
			unsigned long long theirs_len;

			assert_true(wgcrypto_aead_seal(&k, ours, pt, len, counters[c], ad, ad_len));
			crypto_aead_chacha20poly1305_ietf_encrypt(theirs, &theirs_len, pt, len, ad,
								  ad_len, NULL, nonce, key);
			assert_int_equal(theirs_len, len + 16);
			assert_memory_equal(ours, theirs, len + 16);
			assert_true(wgcrypto_aead_open(&k, back, ours, len + 16, counters[c], ad,
						       ad_len));
			assert_memory_equal(back, pt, len);
		}
	}
	wgcrypto_aead_free(&k);
}

static void test_aead_rejects(void **state)
{
	static const uint8_t ad[] = "ad", other_ad[] = "aD";
	uint8_t key[32], pt[40], ct[56], out[40];
	struct wgcrypto_aead_key k;

	pattern(key, sizeof(key), 9);
	pattern(pt, sizeof(pt), 4);
	assert_true(wgcrypto_aead_init(&k, key));
	assert_true(wgcrypto_aead_seal(&k, ct, pt, sizeof(pt), 5, ad, 2));
	for (size_t i = 0; i < sizeof(ct); i++) {
		ct[i] ^= 0x01;
		memset(out, 0xaa, sizeof(out));
		assert_false(wgcrypto_aead_open(&k, out, ct, sizeof(ct), 5, ad, 2));
		/* unauthenticated plaintext never survives */
		assert_true(wgcrypto_is_zero(out, sizeof(out)));
		ct[i] ^= 0x01;
	}
	assert_false(wgcrypto_aead_open(&k, out, ct, sizeof(ct), 6, ad, 2));
	assert_false(wgcrypto_aead_open(&k, out, ct, sizeof(ct), 5, other_ad, 2));
	assert_false(wgcrypto_aead_open(&k, out, ct, sizeof(ct), 5, NULL, 0));
	assert_false(wgcrypto_aead_open(&k, out, ct, 15, 5, NULL, 0));
	assert_true(wgcrypto_aead_open(&k, out, ct, sizeof(ct), 5, ad, 2));
	assert_memory_equal(out, pt, sizeof(pt));
	wgcrypto_aead_free(&k);

	/* an uninitialised (zeroed) key fails cleanly */
	memset(&k, 0, sizeof(k));
	assert_false(wgcrypto_aead_seal(&k, ct, pt, sizeof(pt), 0, NULL, 0));
}

static void test_aead_dup_and_once(void **state)
{
	uint8_t key[32], pt[100], ct1[116], ct2[116], out[100];
	struct wgcrypto_aead_key k, copy;

	pattern(key, sizeof(key), 11);
	pattern(pt, sizeof(pt), 12);
	assert_true(wgcrypto_aead_init(&k, key));
	assert_true(wgcrypto_aead_dup(&copy, &k));
	assert_true(wgcrypto_aead_seal(&k, ct1, pt, sizeof(pt), 42, NULL, 0));
	wgcrypto_aead_free(&k);
	assert_true(wgcrypto_aead_seal(&copy, ct2, pt, sizeof(pt), 42, NULL, 0));
	assert_memory_equal(ct1, ct2, sizeof(ct1));
	assert_true(wgcrypto_aead_open_once(key, out, ct1, sizeof(ct1), 42, NULL, 0));
	assert_memory_equal(out, pt, sizeof(pt));
	assert_true(wgcrypto_aead_seal_once(key, ct2, pt, sizeof(pt), 42, NULL, 0));
	assert_memory_equal(ct1, ct2, sizeof(ct1));
	wgcrypto_aead_free(&copy);
}

static void test_xchacha20poly1305_draft(void **state)
{
	/* draft-irtf-cfrg-xchacha-03 appendix A.3.1 */
	static const char ct_hex[] =
		"bd6d179d3e83d43b9576579493c0e939572a1700252bfaccbed2902c21396cbb"
		"731c7f1b0b4aa6440bf3a82f4eda7e39ae64c6708c54c216cb96b72e1213b452"
		"2f8c9ba40db5d945b11b69b982c1bb9e3f3fac2bc369488f76b2383565d3fff9"
		"21f9664c97637da9768812f615c68b13b52e"
		"c0875924c1c7987947deafd8780acf49";
	const size_t len = sizeof(sunscreen) - 1;
	uint8_t key[32], buf[256], out[256];
	uint8_t *nonce = unhex("404142434445464748494a4b4c4d4e4f5051525354555657", NULL);
	size_t ad_len;
	uint8_t *ad = unhex(sunscreen_ad, &ad_len);

	sunscreen_key(key);
	assert_true(wgcrypto_xaead_seal(key, nonce, buf, (const uint8_t *)sunscreen, len, ad,
					ad_len));
	assert_hex_equal(buf, ct_hex);
	assert_true(wgcrypto_xaead_open(key, nonce, out, buf, len + 16, ad, ad_len));
	assert_memory_equal(out, sunscreen, len);
	for (size_t i = 0; i < len + 16; i++) {
		buf[i] ^= 0x80;
		assert_false(wgcrypto_xaead_open(key, nonce, out, buf, len + 16, ad, ad_len));
		buf[i] ^= 0x80;
	}
	assert_false(wgcrypto_xaead_open(key, nonce, out, buf, len + 16, NULL, 0));
	assert_false(wgcrypto_xaead_open(key, nonce, out, buf, 15, ad, ad_len));
	free(nonce);
	free(ad);
}

static void test_base64(void **state)
{
	static const struct {
		const char *text;
		bool ok;
	} cases[] = {
		{ "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", true },
		{ "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=", true },
		{ "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo", false },   /* no padding */
		{ "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo==", false }, /* too long */
		{ "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmp=", false },  /* trailing bits */
		{ "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTm==", false },  /* 31 bytes */
		{ "hSDwCYkwp1R0i33ctD73Wg2/Og0mOBr066Spjqqb!mo=", false },  /* bad character */
		{ " SDwCYkwp1R0i33ctD73Wg2/Og0mOBr066SpjqqbTmo=", false },  /* whitespace */
		{ "hSDwCYkwp1R0i33ctD73Wg2_Og0mOBr066SpjqqbTmo=", false },  /* URL alphabet */
		{ "", false },
	};
	uint8_t key[32], back[32];
	char text[WGCRYPTO_KEY_B64_LEN + 1];
	uint8_t *alice = unhex(alice_public, NULL);

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		memset(key, 0x5a, sizeof(key));
		assert_int_equal(wgcrypto_key_from_base64(key, cases[i].text), cases[i].ok);
		if (!cases[i].ok) {
			for (size_t j = 0; j < sizeof(key); j++)
				assert_int_equal(key[j], 0x5a); /* untouched */
			continue;
		}
		wgcrypto_key_to_base64(text, key);
		assert_string_equal(text, cases[i].text);
	}
	assert_true(wgcrypto_key_from_base64(key, cases[1].text));
	assert_memory_equal(key, alice, 32);

	pattern(key, sizeof(key), 200);
	wgcrypto_key_to_base64(text, key);
	assert_int_equal(strlen(text), WGCRYPTO_KEY_B64_LEN);
	assert_true(wgcrypto_key_from_base64(back, text));
	assert_memory_equal(back, key, sizeof(key));
	free(alice);
}

static void test_hex(void **state)
{
	static const struct {
		const char *text;
		bool ok;
	} cases[] = {
		{ alice_public, true },
		{ "8520F0098930A754748B7DDCB43EF75A0DBF3A0D26381AF4EBA4A98EAA9B4E6A", true },
		{ "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6", false },
		{ "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a0", false },
		{ "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6g", false },
		{ "8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6 ", false },
		{ "", false },
	};
	uint8_t key[32];
	char text[WGCRYPTO_KEY_HEX_LEN + 1];
	uint8_t *alice = unhex(alice_public, NULL);

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		memset(key, 0x5a, sizeof(key));
		assert_int_equal(wgcrypto_key_from_hex(key, cases[i].text), cases[i].ok);
		if (cases[i].ok)
			assert_memory_equal(key, alice, 32);
		else
			assert_int_equal(key[0], 0x5a);
	}
	wgcrypto_key_to_hex(text, alice);
	assert_string_equal(text, alice_public); /* lowercase, as wg expects */
	free(alice);
}

static void test_helpers(void **state)
{
	uint8_t a[33], b[33], r1[32], r2[32];

	pattern(a, sizeof(a), 3);
	memcpy(b, a, sizeof(a));
	assert_true(wgcrypto_equal(a, b, sizeof(a)));
	b[32] ^= 1;
	assert_false(wgcrypto_equal(a, b, sizeof(a)));
	assert_false(wgcrypto_is_zero(a, sizeof(a)));
	wgcrypto_wipe(a, sizeof(a));
	assert_true(wgcrypto_is_zero(a, sizeof(a)));
	assert_true(wgcrypto_random(r1, sizeof(r1)));
	assert_true(wgcrypto_random(r2, sizeof(r2)));
	assert_memory_not_equal(r1, r2, sizeof(r1));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_init),
		cmocka_unit_test(test_blake2s),
		cmocka_unit_test(test_blake2s_two_parts),
		cmocka_unit_test(test_mac),
		cmocka_unit_test(test_hmac),
		cmocka_unit_test(test_kdf),
		cmocka_unit_test(test_kdf_aliasing),
		cmocka_unit_test(test_x25519_rfc7748),
		cmocka_unit_test(test_x25519_rejects_low_order),
		cmocka_unit_test(test_x25519_generate),
		cmocka_unit_test(test_chacha20poly1305_rfc8439),
		cmocka_unit_test(test_aead_counter_vs_libsodium),
		cmocka_unit_test(test_aead_rejects),
		cmocka_unit_test(test_aead_dup_and_once),
		cmocka_unit_test(test_xchacha20poly1305_draft),
		cmocka_unit_test(test_base64),
		cmocka_unit_test(test_hex),
		cmocka_unit_test(test_helpers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
