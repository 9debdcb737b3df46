/* test_noise.c: in-process Noise_IKpsk2 handshakes, tampering, replay and cookie tests. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <endian.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "noise.h"

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define MS UINT64_C(1000000)
#define SEC UINT64_C(1000000000)

/* One end of the tunnel: its device state and its view of the other end. */
struct side {
	struct noise_static_identity id;
	struct noise_cookie_checker checker;
	struct noise_handshake hs;
	struct noise_cookie cookie;
	struct noise_keypair kp;
	bool knows_peer; /* whether lookup finds hs */
};

struct fixture {
	struct side i, r; /* initiator, responder */
	uint64_t real_ns, mono_ns;
	struct message_handshake_initiation init;
	struct message_handshake_response resp;
};

static const uint8_t src_a[] = { 192, 0, 2, 1, 0xca, 0x6c };	/* 192.0.2.1:51820 */
static const uint8_t src_b[] = { 192, 0, 2, 2, 0xca, 0x6c };

static struct noise_handshake *lookup(void *ctx, const uint8_t key[NOISE_PUBLIC_KEY_LEN])
{
	struct side *s = ctx;

	if (!s->knows_peer || memcmp(s->hs.remote_static, key, NOISE_PUBLIC_KEY_LEN) != 0)
		return NULL;
	return &s->hs;
}

static void side_keys(struct side *s)
{
	uint8_t priv[32], pub[32];

	assert_true(wgcrypto_x25519_generate(priv, pub));
	assert_true(noise_static_identity_init(&s->id, priv));
	assert_memory_equal(s->id.public_key, pub, 32);
	wgcrypto_wipe(priv, sizeof(priv));
}

static void side_pair(struct side *s, const uint8_t remote[32], const uint8_t *psk)
{
	assert_true(noise_handshake_init(&s->hs, &s->id, remote, psk));
	assert_true(noise_cookie_init(&s->cookie, remote));
	s->knows_peer = true;
}

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	uint8_t psk[32];

	assert_non_null(f);
	side_keys(&f->i);
	side_keys(&f->r);
	assert_true(wgcrypto_random(psk, sizeof(psk)));
	side_pair(&f->i, f->r.id.public_key, psk);
	side_pair(&f->r, f->i.id.public_key, psk);
	f->real_ns = 1700000000 * SEC;
	f->mono_ns = 1000 * SEC;
	*state = f;
	return 0;
}

static void side_clear(struct side *s)
{
	noise_keypair_clear(&s->kp);
	noise_handshake_wipe(&s->hs);
	noise_static_identity_clear(&s->id);
	noise_cookie_checker_clear(&s->checker);
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	side_clear(&f->i);
	side_clear(&f->r);
	free(f);
	return 0;
}

static void advance(struct fixture *f, uint64_t ns)
{
	f->real_ns += ns;
	f->mono_ns += ns;
}

static enum noise_result create_initiation(struct fixture *f, uint32_t index)
{
	return noise_handshake_create_initiation(&f->i.hs, &f->i.cookie, &f->i.id, &f->init, index,
						 f->real_ns, f->mono_ns);
}

static enum noise_result consume_initiation(struct fixture *f,
					    const struct message_handshake_initiation *msg)
{
	struct noise_handshake *peer = (struct noise_handshake *)1;
	enum noise_result r;

	r = noise_handshake_consume_initiation(&f->r.id, msg, lookup, &f->r, f->mono_ns, &peer);
	assert_ptr_equal(peer, r == NOISE_OK ? &f->r.hs : NULL);
	return r;
}

static enum noise_result create_response(struct fixture *f, uint32_t index)
{
	return noise_handshake_create_response(&f->r.hs, &f->r.cookie, &f->r.id, &f->resp, index,
					       f->mono_ns);
}

static enum noise_result consume_response(struct fixture *f,
					  const struct message_handshake_response *msg)
{
	return noise_handshake_consume_response(&f->i.hs, &f->i.id, msg);
}

/* Runs a full handshake; both sides end with keypairs. */
static void handshake(struct fixture *f)
{
	assert_int_equal(create_initiation(f, 0x11111111), NOISE_OK);
	assert_int_equal(consume_initiation(f, &f->init), NOISE_OK);
	assert_int_equal(create_response(f, 0x22222222), NOISE_OK);
	assert_int_equal(noise_handshake_begin_session(&f->r.hs, &f->r.kp, f->mono_ns), NOISE_OK);
	assert_int_equal(consume_response(f, &f->resp), NOISE_OK);
	assert_int_equal(noise_handshake_begin_session(&f->i.hs, &f->i.kp, f->mono_ns), NOISE_OK);
}

/* Sends one message from a to b and back over the keypairs. */
static void assert_data_flows(struct noise_keypair *a, struct noise_keypair *b, uint64_t counter)
{
	static const char msg[] = "a packet of exactly thirty-two!!";
	uint8_t buf[sizeof(msg) + 16];

	memcpy(buf, msg, sizeof(msg));
	assert_true(wgcrypto_aead_seal(&a->send, buf, buf, sizeof(msg), counter, NULL, 0));
	assert_true(wgcrypto_aead_open(&b->recv, buf, buf, sizeof(buf), counter, NULL, 0));
	assert_memory_equal(buf, msg, sizeof(msg));
	assert_true(wgcrypto_aead_seal(&b->send, buf, buf, sizeof(msg), counter, NULL, 0));
	assert_true(wgcrypto_aead_open(&a->recv, buf, buf, sizeof(buf), counter, NULL, 0));
	assert_memory_equal(buf, msg, sizeof(msg));
}

/* Recomputes mac1 so that a tampered message reaches the Noise layer. */
static void remac(void *msg, size_t len, const struct noise_static_identity *receiver)
{
	uint8_t *mac1 = (uint8_t *)msg + len - 2 * COOKIE_LEN;

	assert_true(wgcrypto_mac(mac1, receiver->mac1_key, 32, msg, len - 2 * COOKIE_LEN));
}

/*
 * A fixed-key handshake from an independent reference written in Python against
 * wireguard.md (hashlib BLAKE2s and HMAC, pyca/cryptography X25519 and ChaCha20-Poly1305).
 * Keys: si = 0x01..0x20, sr = 0x21..0x40, ei = 0x41..0x60, er = 0x61..0x80 (clamped),
 * psk = 0x81..0xa0; sender indices 0x01020304 (initiator) and 0x0a0b0c0d (responder);
 * realtime 1700000000.123456789 s. kat_c_init/kat_h_init are C and H after the
 * initiation; kat_data_i is T1-sealed (counter 0), kat_data_r T2-sealed (counter 1).
 */
static const uint8_t kat_si[32] = {
	0x00, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b, 0x0c,
	0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
	0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x60,
};
static const uint8_t kat_sr[32] = {
	0x20, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x2a, 0x2b, 0x2c,
	0x2d, 0x2e, 0x2f, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38,
	0x39, 0x3a, 0x3b, 0x3c, 0x3d, 0x3e, 0x3f, 0x40,
};
static const uint8_t kat_ei[32] = {
	0x40, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47, 0x48, 0x49, 0x4a, 0x4b, 0x4c,
	0x4d, 0x4e, 0x4f, 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57, 0x58,
	0x59, 0x5a, 0x5b, 0x5c, 0x5d, 0x5e, 0x5f, 0x60,
};
static const uint8_t kat_psk[32] = {
	0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c,
	0x8d, 0x8e, 0x8f, 0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98,
	0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f, 0xa0,
};
static const uint8_t kat_initiation[148] = {
	0x01, 0x00, 0x00, 0x00, 0x04, 0x03, 0x02, 0x01, 0x64, 0xb1, 0x01, 0xb1,
	0xd0, 0xbe, 0x5a, 0x87, 0x04, 0xbd, 0x07, 0x8f, 0x98, 0x95, 0x00, 0x1f,
	0xc0, 0x3e, 0x8e, 0x9f, 0x95, 0x22, 0xf1, 0x88, 0xdd, 0x12, 0x8d, 0x98,
	0x46, 0xd4, 0x84, 0x66, 0x15, 0x8a, 0x0e, 0x4c, 0xa2, 0x42, 0xd1, 0x51,
	0xca, 0x97, 0xab, 0x90, 0x15, 0x9a, 0x98, 0xb6, 0x7e, 0x61, 0x66, 0x25,
	0xe6, 0x8b, 0x40, 0x65, 0xd3, 0x57, 0x37, 0x6b, 0x65, 0x98, 0xe6, 0x44,
	0xad, 0x7d, 0x67, 0x8c, 0x02, 0x95, 0xd2, 0x2d, 0xe4, 0xcb, 0x43, 0xd5,
	0x13, 0x55, 0x81, 0xed, 0x36, 0x34, 0x6b, 0xfa, 0x7c, 0xf4, 0x2a, 0x12,
	0x26, 0x39, 0xf8, 0x93, 0x15, 0xe6, 0x7f, 0x2b, 0x43, 0xde, 0x40, 0xf9,
	0x9f, 0x8e, 0x6b, 0xe9, 0x13, 0x5e, 0x16, 0x32, 0xac, 0x4d, 0x3f, 0x91,
	0xdd, 0x19, 0x98, 0x8a, 0x47, 0x8f, 0x66, 0x62, 0x66, 0xe6, 0x69, 0x48,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00,
};
static const uint8_t kat_c_init[32] = {
	0x64, 0x36, 0x93, 0xa7, 0x63, 0x6a, 0x42, 0xb5, 0x88, 0xf1, 0x15, 0xbc,
	0x0a, 0xae, 0x9a, 0x1d, 0xb8, 0x43, 0x26, 0x34, 0xb2, 0xe8, 0xd9, 0x6e,
	0xd6, 0x7d, 0x30, 0x8e, 0x74, 0xe1, 0x32, 0xf5,
};
static const uint8_t kat_h_init[32] = {
	0x35, 0x3f, 0xeb, 0xbe, 0xfe, 0x8c, 0x2c, 0xae, 0x06, 0x79, 0xc8, 0x3d,
	0x17, 0x45, 0x4f, 0xd3, 0xe9, 0x37, 0x6c, 0x67, 0xa1, 0xe0, 0x75, 0xc7,
	0x74, 0xa3, 0x3b, 0x1a, 0xa1, 0xce, 0x15, 0x76,
};
static const uint8_t kat_response[92] = {
	0x02, 0x00, 0x00, 0x00, 0x0d, 0x0c, 0x0b, 0x0a, 0x04, 0x03, 0x02, 0x01,
	0x24, 0x4f, 0xe3, 0xb9, 0x63, 0xe8, 0x99, 0xdd, 0x29, 0x5b, 0xaf, 0xfc,
	0xe2, 0x48, 0xd3, 0x53, 0x0f, 0x3a, 0x9a, 0x74, 0x79, 0xba, 0x06, 0x30,
	0x02, 0x68, 0x0e, 0xbf, 0xe7, 0xad, 0xad, 0x49, 0x27, 0xd9, 0xd0, 0xc1,
	0x0d, 0xbd, 0x89, 0x2b, 0x07, 0x2d, 0xfd, 0x62, 0xf2, 0xb6, 0xd4, 0x2b,
	0x1d, 0x98, 0x77, 0x0e, 0x17, 0x1a, 0xe0, 0x70, 0x07, 0x76, 0x0a, 0x06,
	0x70, 0x2d, 0x51, 0x03, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
};
static const uint8_t kat_data_i[48] = {
	0xb3, 0xe1, 0x13, 0xcf, 0xc2, 0xcc, 0xf9, 0x50, 0xb7, 0xba, 0x89, 0xd8,
	0x33, 0x04, 0xbc, 0x23, 0x38, 0xfe, 0x1c, 0xc9, 0x1d, 0x02, 0x14, 0xe7,
	0x5a, 0x9b, 0x22, 0xa2, 0x2e, 0x9e, 0x74, 0x86, 0x0e, 0xe3, 0xd2, 0x6d,
	0x66, 0xd9, 0x01, 0x8f, 0x2a, 0x6f, 0xaf, 0xf7, 0x38, 0x09, 0xb7, 0xc5,
};
static const uint8_t kat_data_r[48] = {
	0x8d, 0x22, 0x1c, 0x00, 0x22, 0x2d, 0xf2, 0x6d, 0x00, 0xea, 0xe9, 0x60,
	0xb9, 0x7b, 0x2c, 0xac, 0x43, 0xd8, 0x6a, 0x9a, 0x9d, 0x63, 0xa7, 0x69,
	0x93, 0xec, 0x6f, 0xa8, 0xcf, 0xa9, 0x86, 0x5a, 0x3e, 0x0d, 0x93, 0x90,
	0x6e, 0x6b, 0x25, 0x88, 0xad, 0x17, 0x07, 0xac, 0xa8, 0x31, 0x7f, 0x51,
};

static const char kat_text_i[] = "initiator to responder, 32 bytes";
static const char kat_text_r[] = "responder to initiator, 32 bytes";

/* Responder side of the vector: consume the reference initiation. */
static void kat_responder(struct side *r, const struct noise_static_identity *id_i)
{
	struct message_handshake_initiation init;
	struct noise_handshake *peer;

	memcpy(&init, kat_initiation, sizeof(init)); /* the array may be misaligned */
	assert_true(noise_static_identity_init(&r->id, kat_sr));
	side_pair(r, id_i->public_key, kat_psk);
	assert_int_equal(noise_handshake_consume_initiation(&r->id, &init, lookup, r, 0, &peer),
			 NOISE_OK);
	assert_memory_equal(r->hs.chaining_key, kat_c_init, 32);
	assert_memory_equal(r->hs.hash, kat_h_init, 32);
	assert_int_equal(r->hs.remote_index, 0x01020304);
	assert_memory_equal(r->hs.remote_ephemeral, kat_initiation + 8, 32);
}

/* Initiator side: the state after sending the initiation, then the reference response. */
static void kat_initiator(struct noise_handshake *hs, struct noise_keypair *kp,
			  const struct noise_static_identity *id_i, const uint8_t sr_public[32])
{
	struct message_handshake_response resp;

	memcpy(&resp, kat_response, sizeof(resp));
	assert_true(noise_handshake_init(hs, id_i, sr_public, kat_psk));
	hs->state = NOISE_HANDSHAKE_CREATED_INITIATION;
	hs->local_index = 0x01020304;
	memcpy(hs->ephemeral_private, kat_ei, 32);
	memcpy(hs->chaining_key, kat_c_init, 32);
	memcpy(hs->hash, kat_h_init, 32);
	assert_int_equal(noise_handshake_consume_response(hs, id_i, &resp), NOISE_OK);
	assert_int_equal(hs->remote_index, 0x0a0b0c0d);
	assert_int_equal(noise_handshake_begin_session(hs, kp, 0), NOISE_OK);
}

static void test_fixed_key_vector(void **state)
{
	struct noise_static_identity id_i;
	struct noise_handshake hs_i;
	struct noise_keypair kp;
	struct side r = { 0 };
	uint8_t buf[sizeof(kat_data_i)];

	assert_true(noise_static_identity_init(&id_i, kat_si));
	kat_responder(&r, &id_i);
	kat_initiator(&hs_i, &kp, &id_i, r.id.public_key);

	/* the initiator sends with T1 and receives with T2 */
	assert_true(wgcrypto_aead_seal(&kp.send, buf, (const uint8_t *)kat_text_i, 32, 0, NULL, 0));
	assert_memory_equal(buf, kat_data_i, sizeof(kat_data_i));
	assert_true(wgcrypto_aead_open(&kp.recv, buf, kat_data_r, sizeof(kat_data_r), 1, NULL, 0));
	assert_memory_equal(buf, kat_text_r, 32);

	noise_keypair_clear(&kp);
	noise_handshake_wipe(&hs_i);
	noise_static_identity_clear(&id_i);
	side_clear(&r);
}

static void test_constants(void **state)
{
	static const char construction[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
	static const char identifier[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";
	uint8_t c0[32], h0[32];

	assert_true(wgcrypto_hash(c0, construction, sizeof(construction) - 1, NULL, 0));
	assert_memory_equal(c0, noise_initial_chaining_key, 32);
	assert_true(wgcrypto_hash(h0, c0, 32, identifier, sizeof(identifier) - 1));
	assert_memory_equal(h0, noise_initial_hash, 32);
	assert_int_equal(sizeof(struct message_handshake_initiation), 148);
	assert_int_equal(sizeof(struct message_handshake_response), 92);
	assert_int_equal(sizeof(struct message_handshake_cookie), 64);
	assert_int_equal(sizeof(struct message_data), 16);
	assert_true(REJECT_AFTER_MESSAGES == UINT64_MAX - 8192);
	assert_int_equal(REKEY_AFTER_TIME_RECV, 165);
}

static void test_tai64n(void **state)
{
	static const struct {
		uint64_t real_ns;
		uint8_t want[12];
	} cases[] = {
		{ 0, { 0x40, 0, 0, 0, 0, 0, 0, 0x0a, 0, 0, 0, 0 } },
		/* nanoseconds round down to a multiple of 2^24 */
		{ 1999999999, { 0x40, 0, 0, 0, 0, 0, 0, 0x0b, 0x3b, 0, 0, 0 } },
		{ UINT64_C(1700000000123456789),
		  { 0x40, 0, 0, 0, 0x65, 0x53, 0xf1, 0x0a, 0x07, 0, 0, 0 } },
	};
	uint8_t out[12];

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		noise_tai64n(out, cases[i].real_ns);
		assert_memory_equal(out, cases[i].want, 12);
	}
}

static void test_handshake(void **state)
{
	struct fixture *f = *state;
	uint8_t zero[32] = { 0 };

	assert_int_equal(create_initiation(f, 0x11111111), NOISE_OK);
	assert_int_equal(f->i.hs.state, NOISE_HANDSHAKE_CREATED_INITIATION);
	assert_int_equal(le32toh(f->init.header.type), MESSAGE_HANDSHAKE_INITIATION);
	assert_int_equal(le32toh(f->init.sender_index), 0x11111111);
	assert_memory_equal(f->init.macs.mac2, zero, COOKIE_LEN); /* no cookie held */

	assert_int_equal(consume_initiation(f, &f->init), NOISE_OK);
	assert_int_equal(f->r.hs.state, NOISE_HANDSHAKE_CONSUMED_INITIATION);
	assert_int_equal(f->r.hs.remote_index, 0x11111111);

	assert_int_equal(create_response(f, 0x22222222), NOISE_OK);
	assert_int_equal(le32toh(f->resp.sender_index), 0x22222222);
	assert_int_equal(le32toh(f->resp.receiver_index), 0x11111111);
	assert_int_equal(noise_handshake_begin_session(&f->r.hs, &f->r.kp, f->mono_ns), NOISE_OK);

	assert_int_equal(consume_response(f, &f->resp), NOISE_OK);
	assert_int_equal(noise_handshake_begin_session(&f->i.hs, &f->i.kp, f->mono_ns), NOISE_OK);

	assert_true(f->i.kp.is_initiator);
	assert_false(f->r.kp.is_initiator);
	assert_int_equal(f->i.kp.local_index, 0x11111111);
	assert_int_equal(f->i.kp.remote_index, 0x22222222);
	assert_int_equal(f->r.kp.local_index, 0x22222222);
	assert_int_equal(f->r.kp.remote_index, 0x11111111);
	assert_int_equal(f->i.kp.birth_ns, f->mono_ns);

	/* initiator's send key is the responder's receive key, and the other way round */
	assert_data_flows(&f->i.kp, &f->r.kp, 0);
	assert_data_flows(&f->i.kp, &f->r.kp, 1234567);

	/* the session wiped the handshake's secrets */
	for (struct side *s = &f->i; s; s = s == &f->i ? &f->r : NULL) {
		assert_int_equal(s->hs.state, NOISE_HANDSHAKE_ZEROED);
		assert_true(wgcrypto_is_zero(s->hs.chaining_key, 32));
		assert_true(wgcrypto_is_zero(s->hs.hash, 32));
		assert_true(wgcrypto_is_zero(s->hs.ephemeral_private, 32));
		assert_true(wgcrypto_is_zero(s->hs.remote_ephemeral, 32));
	}
	/* begin_session only once per handshake */
	assert_int_equal(noise_handshake_begin_session(&f->i.hs, &f->i.kp, f->mono_ns),
			 NOISE_ERR_STATE);
}

static void test_keys_are_directional(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[48] = "hello";

	handshake(f);
	assert_true(wgcrypto_aead_seal(&f->i.kp.send, buf, buf, 32, 0, NULL, 0));
	/* our own receive key cannot open what we sent: T1 != T2 */
	assert_false(wgcrypto_aead_open(&f->i.kp.recv, buf, buf, sizeof(buf), 0, NULL, 0));
}

static void test_second_handshake_new_keys(void **state)
{
	struct fixture *f = *state;
	struct noise_keypair old_i, old_r;
	uint8_t buf[48] = { 0 };

	handshake(f);
	old_i = f->i.kp;
	old_r = f->r.kp;
	advance(f, REKEY_AFTER_TIME * SEC);
	handshake(f);
	assert_data_flows(&f->i.kp, &f->r.kp, 0);
	assert_true(wgcrypto_aead_seal(&old_i.send, buf, buf, 32, 0, NULL, 0));
	assert_false(wgcrypto_aead_open(&f->r.kp.recv, buf, buf, sizeof(buf), 0, NULL, 0));
	noise_keypair_clear(&old_i);
	noise_keypair_clear(&old_r);
}

static void test_no_psk(void **state)
{
	struct fixture *f = *state;

	noise_handshake_set_preshared_key(&f->i.hs, NULL);
	noise_handshake_set_preshared_key(&f->r.hs, NULL);
	handshake(f);
	assert_data_flows(&f->i.kp, &f->r.kp, 7);
}

static void test_psk_mismatch(void **state)
{
	struct fixture *f = *state;
	uint8_t other[32];

	assert_true(wgcrypto_random(other, sizeof(other)));
	noise_handshake_set_preshared_key(&f->r.hs, other);
	assert_int_equal(create_initiation(f, 1), NOISE_OK);
	/* the PSK enters only with the response */
	assert_int_equal(consume_initiation(f, &f->init), NOISE_OK);
	assert_int_equal(create_response(f, 2), NOISE_OK);
	assert_int_equal(consume_response(f, &f->resp), NOISE_ERR_DECRYPT);
	assert_int_equal(f->i.hs.state, NOISE_HANDSHAKE_CREATED_INITIATION);

	/* PSK on one side only */
	noise_handshake_set_preshared_key(&f->r.hs, NULL);
	advance(f, SEC);
	assert_int_equal(create_initiation(f, 3), NOISE_OK);
	assert_int_equal(consume_initiation(f, &f->init), NOISE_OK);
	assert_int_equal(create_response(f, 4), NOISE_OK);
	assert_int_equal(consume_response(f, &f->resp), NOISE_ERR_DECRYPT);
}

static void test_wrong_responder_key(void **state)
{
	struct fixture *f = *state;
	struct side stranger = { 0 };

	/* the initiator believes the responder's key is the stranger's */
	side_keys(&stranger);
	side_pair(&f->i, stranger.id.public_key, NULL);
	assert_int_equal(create_initiation(f, 1), NOISE_OK);
	assert_int_equal(consume_initiation(f, &f->init), NOISE_ERR_MAC1);
	/* even with a mac1 that passes, the static key does not decrypt */
	remac(&f->init, sizeof(f->init), &f->r.id);
	assert_int_equal(consume_initiation(f, &f->init), NOISE_ERR_DECRYPT);
	assert_int_equal(f->r.hs.state, NOISE_HANDSHAKE_ZEROED);
	side_clear(&stranger);
}

static void test_unknown_peer(void **state)
{
	struct fixture *f = *state;

	f->r.knows_peer = false;
	assert_int_equal(create_initiation(f, 1), NOISE_OK);
	assert_int_equal(consume_initiation(f, &f->init), NOISE_ERR_UNKNOWN_PEER);
}

static void test_replay_and_flood(void **state)
{
	struct fixture *f = *state;
	struct message_handshake_initiation first;

	assert_int_equal(create_initiation(f, 1), NOISE_OK);
	first = f->init;
	assert_int_equal(consume_initiation(f, &first), NOISE_OK);

	/* the very same message later: same timestamp */
	advance(f, SEC);
	assert_int_equal(consume_initiation(f, &first), NOISE_ERR_REPLAY);

	/* a fresh initiation whose clock did not move */
	f->real_ns -= SEC;
	assert_int_equal(create_initiation(f, 2), NOISE_OK);
	assert_int_equal(consume_initiation(f, &f->init), NOISE_ERR_REPLAY);
	/* a clock that went back */
	f->real_ns -= 10 * SEC;
	assert_int_equal(create_initiation(f, 3), NOISE_OK);
	assert_int_equal(consume_initiation(f, &f->init), NOISE_ERR_REPLAY);
	f->real_ns += 11 * SEC;

	/* newer timestamp, but only 10 ms after the last one consumed */
	f->mono_ns -= SEC - 10 * MS;
	assert_int_equal(create_initiation(f, 4), NOISE_OK);
	assert_int_equal(consume_initiation(f, &f->init), NOISE_ERR_FLOOD);
	f->mono_ns += 10 * MS;
	assert_int_equal(consume_initiation(f, &f->init), NOISE_OK);

	/* a rejected replay leaves the accepted handshake intact */
	assert_int_equal(consume_initiation(f, &first), NOISE_ERR_REPLAY);
	assert_int_equal(f->r.hs.remote_index, 4);
	assert_int_equal(create_response(f, 5), NOISE_OK);
	assert_int_equal(consume_response(f, &f->resp), NOISE_OK);
}

static void test_initiation_byte_flips(void **state)
{
	struct fixture *f = *state;
	struct message_handshake_initiation msg;
	uint8_t *bytes = (uint8_t *)&msg;

	assert_int_equal(create_initiation(f, 0xabcdef01), NOISE_OK);
	/* mac2 (132..147) is unchecked when no cookie is required, so stop before it */
	for (size_t i = 0; i < offsetof(struct message_handshake_initiation, macs.mac2); i++) {
		for (unsigned int bit = 0; bit < 8; bit += 7) {
			msg = f->init;
			bytes[i] ^= (uint8_t)(1u << bit);
			assert_int_not_equal(consume_initiation(f, &msg), NOISE_OK);
		}
	}
	/*
	 * With mac1 recomputed the flips reach the Noise layer. The sender index (4..7)
	 * is covered by mac1 alone, as in WireGuard, so it is left out.
	 */
	for (size_t i = 0; i < offsetof(struct message_handshake_initiation, macs); i++) {
		if (i >= 4 && i < 8)
			continue;
		msg = f->init;
		bytes[i] ^= 0x01;
		remac(&msg, sizeof(msg), &f->r.id);
		assert_int_not_equal(consume_initiation(f, &msg), NOISE_OK);
	}
	assert_int_equal(f->r.hs.state, NOISE_HANDSHAKE_ZEROED);
	assert_int_equal(consume_initiation(f, &f->init), NOISE_OK);
}

static void test_response_byte_flips(void **state)
{
	struct fixture *f = *state;
	struct message_handshake_response msg;
	uint8_t *bytes = (uint8_t *)&msg;

	assert_int_equal(create_initiation(f, 0x01020304), NOISE_OK);
	assert_int_equal(consume_initiation(f, &f->init), NOISE_OK);
	assert_int_equal(create_response(f, 0x05060708), NOISE_OK);
	for (size_t i = 0; i < offsetof(struct message_handshake_response, macs.mac2); i++) {
		for (unsigned int bit = 0; bit < 8; bit += 7) {
			msg = f->resp;
			bytes[i] ^= (uint8_t)(1u << bit);
			assert_int_not_equal(consume_response(f, &msg), NOISE_OK);
		}
	}
	for (size_t i = 0; i < offsetof(struct message_handshake_response, macs); i++) {
		if (i >= 4 && i < 8) /* sender index: mac1 only */
			continue;
		msg = f->resp;
		bytes[i] ^= 0x01;
		remac(&msg, sizeof(msg), &f->i.id);
		assert_int_not_equal(consume_response(f, &msg), NOISE_OK);
	}
	assert_int_equal(f->i.hs.state, NOISE_HANDSHAKE_CREATED_INITIATION);
	assert_int_equal(consume_response(f, &f->resp), NOISE_OK);
	/* and only once */
	assert_int_equal(consume_response(f, &f->resp), NOISE_ERR_STATE);
}

static void test_low_order_ephemeral(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(create_initiation(f, 1), NOISE_OK);
	memset(f->init.unencrypted_ephemeral, 0, NOISE_PUBLIC_KEY_LEN);
	remac(&f->init, sizeof(f->init), &f->r.id);
	assert_int_equal(consume_initiation(f, &f->init), NOISE_ERR_DH);
}

static void test_wrong_state_and_index(void **state)
{
	struct fixture *f = *state;
	struct message_handshake_response stale;

	assert_int_equal(create_response(f, 9), NOISE_ERR_STATE);
	assert_int_equal(noise_handshake_begin_session(&f->r.hs, &f->r.kp, 0), NOISE_ERR_STATE);

	/* a response to an initiation that a retransmission has since replaced */
	assert_int_equal(create_initiation(f, 100), NOISE_OK);
	assert_int_equal(consume_initiation(f, &f->init), NOISE_OK);
	assert_int_equal(create_response(f, 200), NOISE_OK);
	stale = f->resp;
	advance(f, REKEY_TIMEOUT * SEC);
	assert_int_equal(create_initiation(f, 101), NOISE_OK);
	assert_int_equal(consume_response(f, &stale), NOISE_ERR_INDEX);

	/* the retransmission completes */
	assert_int_equal(consume_initiation(f, &f->init), NOISE_OK);
	assert_int_equal(create_response(f, 201), NOISE_OK);
	assert_int_equal(consume_response(f, &f->resp), NOISE_OK);

	/* no private key */
	noise_static_identity_clear(&f->r.id);
	assert_int_equal(consume_initiation(f, &f->init), NOISE_ERR_NO_IDENTITY);
}

static void test_crossing_initiations(void **state)
{
	struct fixture *f = *state;
	struct message_handshake_initiation from_r;
	struct noise_handshake *peer;

	assert_int_equal(create_initiation(f, 1), NOISE_OK);
	assert_int_equal(noise_handshake_create_initiation(&f->r.hs, &f->r.cookie, &f->r.id,
							   &from_r, 2, f->real_ns, f->mono_ns),
			 NOISE_OK);
	/* each side's initiation replaces its own, whose index stays for the caller to drop */
	assert_int_equal(consume_initiation(f, &f->init), NOISE_OK);
	assert_int_equal(f->r.hs.local_index, 2);
	assert_int_equal(noise_handshake_consume_initiation(&f->i.id, &from_r, lookup, &f->i,
							    f->mono_ns, &peer),
			 NOISE_OK);
	assert_ptr_equal(peer, &f->i.hs);
	assert_int_equal(f->i.hs.local_index, 1);
	/* so a response to either abandoned initiation is refused */
	assert_int_equal(create_response(f, 3), NOISE_OK);
	assert_int_equal(consume_response(f, &f->resp), NOISE_ERR_STATE);
}

static void test_wrong_type(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(create_initiation(f, 1), NOISE_OK);
	f->init.header.type = htole32(MESSAGE_HANDSHAKE_INITIATION | 0x100); /* reserved byte */
	remac(&f->init, sizeof(f->init), &f->r.id);
	assert_int_equal(consume_initiation(f, &f->init), NOISE_ERR_MESSAGE);
}

static void test_set_identity(void **state)
{
	struct fixture *f = *state;
	uint8_t zero[32] = { 0 }, old_public[32];

	/* a peer key that gives a zero static-static DH makes a handshake that never runs */
	assert_false(noise_handshake_init(&f->i.hs, &f->i.id, zero, NULL));
	assert_true(wgcrypto_is_zero(f->i.hs.precomputed_static_static, 32));
	assert_int_equal(create_initiation(f, 1), NOISE_ERR_DH);
	assert_int_equal(f->i.hs.state, NOISE_HANDSHAKE_ZEROED);

	/* the responder changes its private key; the initiator's old view stops working */
	memcpy(old_public, f->r.id.public_key, 32);
	side_pair(&f->i, old_public, NULL);
	noise_handshake_set_preshared_key(&f->r.hs, NULL);
	side_keys(&f->r);
	assert_true(noise_handshake_set_identity(&f->r.hs, &f->r.id));
	assert_int_equal(create_initiation(f, 1), NOISE_OK);
	assert_int_equal(consume_initiation(f, &f->init), NOISE_ERR_MAC1);
	side_pair(&f->i, f->r.id.public_key, NULL);
	handshake(f);
	assert_data_flows(&f->i.kp, &f->r.kp, 3);
}

/* Recomputes the cookie from wireguard.md's formulas rather than through noise.c. */
static void assert_cookie_by_the_book(struct fixture *f,
				      const struct message_handshake_cookie *reply)
{
	uint8_t key[32], cookie[COOKIE_LEN], expect[COOKIE_LEN];

	/* reply = XAEAD(HASH(LABEL_COOKIE ‖ responder's public), nonce, cookie, AD = mac1) */
	assert_true(wgcrypto_hash(key, "cookie--", 8, f->r.id.public_key, 32));
	assert_true(wgcrypto_xaead_open(key, reply->nonce, cookie, reply->encrypted_cookie,
					sizeof(reply->encrypted_cookie), f->init.macs.mac1,
					COOKIE_LEN));
	/* cookie = MAC(secret, source) */
	assert_true(wgcrypto_mac(expect, f->r.checker.secret, 32, src_a, sizeof(src_a)));
	assert_memory_equal(cookie, expect, COOKIE_LEN);
	assert_memory_equal(f->i.cookie.cookie, expect, COOKIE_LEN);
}

static void test_cookie_round_trip(void **state)
{
	struct fixture *f = *state;
	struct message_handshake_cookie reply, tampered;
	uint8_t zero[COOKIE_LEN] = { 0 }, mac[COOKIE_LEN];

	assert_int_equal(create_initiation(f, 0x77), NOISE_OK);
	/* under load: mac1 passes but there is no cookie yet */
	assert_int_equal(noise_cookie_validate(&f->r.checker, &f->r.id, &f->init, sizeof(f->init),
					       src_a, sizeof(src_a), true, f->mono_ns),
			 NOISE_COOKIE_VALID_MAC_BUT_NO_COOKIE);
	assert_int_equal(noise_cookie_validate(&f->r.checker, &f->r.id, &f->init, sizeof(f->init),
					       src_a, sizeof(src_a), false, f->mono_ns),
			 NOISE_COOKIE_VALID_MAC_BUT_NO_COOKIE);
	assert_true(noise_cookie_create_reply(&f->r.checker, &f->r.id, &reply, &f->init,
					      sizeof(f->init), src_a, sizeof(src_a), f->mono_ns));
	assert_int_equal(le32toh(reply.header.type), MESSAGE_HANDSHAKE_COOKIE);
	assert_int_equal(le32toh(reply.receiver_index), 0x77);

	/* every tampered byte is refused, and the cookie state stays as it was */
	for (size_t i = 0; i < sizeof(reply); i++) {
		tampered = reply;
		((uint8_t *)&tampered)[i] ^= 0x01;
		if (i >= 4 && i < 8)
			continue; /* receiver index: the caller's lookup key, not authenticated */
		assert_int_not_equal(
			noise_cookie_consume_reply(&f->i.cookie, &tampered, f->mono_ns), NOISE_OK);
	}
	assert_false(f->i.cookie.is_valid);

	assert_int_equal(noise_cookie_consume_reply(&f->i.cookie, &reply, f->mono_ns), NOISE_OK);
	assert_true(f->i.cookie.is_valid);
	assert_cookie_by_the_book(f, &reply);
	/* a reply answers one mac1 only */
	assert_int_equal(noise_cookie_consume_reply(&f->i.cookie, &reply, f->mono_ns),
			 NOISE_ERR_STATE);

	/* the retransmission carries mac2, which now verifies from that source only */
	advance(f, REKEY_TIMEOUT * SEC);
	assert_int_equal(create_initiation(f, 0x78), NOISE_OK);
	assert_memory_not_equal(f->init.macs.mac2, zero, COOKIE_LEN);
	assert_int_equal(noise_cookie_validate(&f->r.checker, &f->r.id, &f->init, sizeof(f->init),
					       src_a, sizeof(src_a), true, f->mono_ns),
			 NOISE_COOKIE_VALID_MAC_WITH_COOKIE);
	assert_int_equal(noise_cookie_validate(&f->r.checker, &f->r.id, &f->init, sizeof(f->init),
					       src_b, sizeof(src_b), true, f->mono_ns),
			 NOISE_COOKIE_VALID_MAC_BUT_NO_COOKIE);
	assert_true(wgcrypto_mac(mac, f->i.cookie.cookie, COOKIE_LEN, &f->init, 132));
	assert_memory_equal(f->init.macs.mac2, mac, COOKIE_LEN);
	/* the handshake itself goes through with mac2 set */
	assert_int_equal(consume_initiation(f, &f->init), NOISE_OK);

	/* mac2 covers mac1 and everything before it */
	f->init.macs.mac2[0] ^= 1;
	assert_int_equal(noise_cookie_validate(&f->r.checker, &f->r.id, &f->init, sizeof(f->init),
					       src_a, sizeof(src_a), true, f->mono_ns),
			 NOISE_COOKIE_VALID_MAC_BUT_NO_COOKIE);
	f->init.macs.mac1[0] ^= 1;
	assert_int_equal(noise_cookie_validate(&f->r.checker, &f->r.id, &f->init, sizeof(f->init),
					       src_a, sizeof(src_a), true, f->mono_ns),
			 NOISE_COOKIE_INVALID_MAC);
}

static void test_cookie_on_response(void **state)
{
	struct fixture *f = *state;
	struct message_handshake_cookie reply;

	/* the initiator can be the one under load: it answers the response with a cookie */
	assert_int_equal(create_initiation(f, 0x10), NOISE_OK);
	assert_int_equal(consume_initiation(f, &f->init), NOISE_OK);
	assert_int_equal(create_response(f, 0x20), NOISE_OK);
	assert_int_equal(noise_cookie_validate(&f->i.checker, &f->i.id, &f->resp, sizeof(f->resp),
					       src_b, sizeof(src_b), true, f->mono_ns),
			 NOISE_COOKIE_VALID_MAC_BUT_NO_COOKIE);
	assert_true(noise_cookie_create_reply(&f->i.checker, &f->i.id, &reply, &f->resp,
					      sizeof(f->resp), src_b, sizeof(src_b), f->mono_ns));
	assert_int_equal(le32toh(reply.receiver_index), 0x20);
	assert_int_equal(noise_cookie_consume_reply(&f->r.cookie, &reply, f->mono_ns), NOISE_OK);
}

static enum noise_cookie_mac_state validate_init(struct fixture *f, const void *src,
						  size_t src_len)
{
	return noise_cookie_validate(&f->r.checker, &f->r.id, &f->init, sizeof(f->init), src,
				     src_len, true, f->mono_ns);
}

static void test_cookie_expiry(void **state)
{
	struct fixture *f = *state;
	struct message_handshake_cookie reply;
	uint8_t zero[COOKIE_LEN] = { 0 };

	assert_int_equal(create_initiation(f, 1), NOISE_OK);
	assert_true(noise_cookie_create_reply(&f->r.checker, &f->r.id, &reply, &f->init,
					      sizeof(f->init), src_a, sizeof(src_a), f->mono_ns));
	assert_int_equal(noise_cookie_consume_reply(&f->i.cookie, &reply, f->mono_ns), NOISE_OK);

	/* the held cookie is used until shortly before the secret would rotate */
	advance(f, (COOKIE_SECRET_MAX_AGE - COOKIE_SECRET_LATENCY) * SEC - 1);
	assert_int_equal(create_initiation(f, 2), NOISE_OK);
	assert_memory_not_equal(f->init.macs.mac2, zero, COOKIE_LEN);
	assert_int_equal(validate_init(f, src_a, sizeof(src_a)),
			 NOISE_COOKIE_VALID_MAC_WITH_COOKIE);

	/* once the secret rotates, that same mac2 no longer verifies */
	advance(f, COOKIE_SECRET_LATENCY * SEC + 1);
	assert_int_equal(validate_init(f, src_a, sizeof(src_a)),
			 NOISE_COOKIE_VALID_MAC_BUT_NO_COOKIE);

	/* and the initiator has stopped sending it */
	assert_int_equal(create_initiation(f, 3), NOISE_OK);
	assert_memory_equal(f->init.macs.mac2, zero, COOKIE_LEN);
}

static bool in_use_below(void *ctx, uint32_t index)
{
	unsigned int *calls = ctx;

	return ++*calls < 3; /* the first two draws collide */
}

static bool always_in_use(void *ctx, uint32_t index)
{
	return true;
}

static void test_new_index(void **state)
{
	uint32_t a = 0, b = 0;
	unsigned int calls = 0;

	assert_true(noise_new_index(&a, NULL, NULL));
	assert_true(noise_new_index(&b, in_use_below, &calls));
	assert_int_equal(calls, 3);
	assert_int_not_equal(a, b); /* 2^-32 flake chance */
	assert_false(noise_new_index(&a, always_in_use, NULL));
}

static void test_result_strings(void **state)
{
	for (int r = NOISE_OK; r <= NOISE_ERR_CRYPTO; r++)
		assert_string_not_equal(noise_result_str((enum noise_result)r), "unknown");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_constants),
		cmocka_unit_test(test_tai64n),
		cmocka_unit_test(test_fixed_key_vector),
		cmocka_unit_test_setup_teardown(test_handshake, setup, teardown),
		cmocka_unit_test_setup_teardown(test_keys_are_directional, setup, teardown),
		cmocka_unit_test_setup_teardown(test_second_handshake_new_keys, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_psk, setup, teardown),
		cmocka_unit_test_setup_teardown(test_psk_mismatch, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_responder_key, setup, teardown),
		cmocka_unit_test_setup_teardown(test_unknown_peer, setup, teardown),
		cmocka_unit_test_setup_teardown(test_replay_and_flood, setup, teardown),
		cmocka_unit_test_setup_teardown(test_initiation_byte_flips, setup, teardown),
		cmocka_unit_test_setup_teardown(test_response_byte_flips, setup, teardown),
		cmocka_unit_test_setup_teardown(test_low_order_ephemeral, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_state_and_index, setup, teardown),
		cmocka_unit_test_setup_teardown(test_crossing_initiations, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_type, setup, teardown),
		cmocka_unit_test_setup_teardown(test_set_identity, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cookie_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cookie_on_response, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cookie_expiry, setup, teardown),
		cmocka_unit_test(test_new_index),
		cmocka_unit_test(test_result_strings),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
