/* Unit tests for the WireGuard device glue: keypair slots and what is wiped when. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "wg.h"

#include <errno.h>
#include <string.h>

static void make_keypair(struct noise_keypair *kp, uint32_t local_index)
{
	uint8_t key[32];

	memset(kp, 0, sizeof(*kp));
	memset(key, 0x5a, sizeof(key));
	assert_true(wgcrypto_aead_init(&kp->send, key));
	assert_true(wgcrypto_aead_init(&kp->recv, key));
	kp->local_index = local_index;
}

static void setup_device(struct wg_device *dev, struct wg_peer **peer)
{
	uint8_t priv[32] = { 1 }, peer_priv[32] = { 2 }, peer_pub[32];

	assert_int_equal(wg_device_init(dev, priv), 0);
	assert_true(wgcrypto_x25519_public(peer_pub, peer_priv));
	assert_int_equal(wg_peer_add(dev, peer_pub, NULL, peer), 0);
}

static void sessions_wiped_on_clear(void **state)
{
	struct wg_device dev;
	struct wg_peer *p;
	struct noise_keypair kp;

	setup_device(&dev, &p);
	make_keypair(&kp, 7);
	wg_session_install(&p->current, &kp);
	assert_true(wgcrypto_is_zero(&kp, sizeof(kp))); /* moved, not copied */
	assert_true(p->current.valid);
	make_keypair(&kp, 8);
	wg_session_install(&p->next, &kp);

	struct wg_peer *found;
	assert_ptr_equal(wg_session_by_index(&dev, 8, &found), &p->next);
	assert_ptr_equal(found, p);
	wg_peer_promote_next(p);
	assert_ptr_equal(wg_session_by_index(&dev, 8, &found), &p->current);
	assert_ptr_equal(wg_session_by_index(&dev, 7, &found), &p->prev);
	assert_true(wgcrypto_is_zero(&p->next, sizeof(p->next)));

	wg_peer_clear_sessions(p);
	assert_true(wgcrypto_is_zero(&p->prev, sizeof(p->prev)));
	assert_true(wgcrypto_is_zero(&p->current, sizeof(p->current)));
	assert_true(wgcrypto_is_zero(&p->next, sizeof(p->next)));
	assert_null(wg_session_by_index(&dev, 8, &found));
	wg_device_free(&dev);
	assert_true(wgcrypto_is_zero(&dev.identity, sizeof(dev.identity)));
}

static void peers_wait_for_a_private_key(void **state)
{
	struct wg_device dev;
	struct wg_peer *p;
	uint8_t peer_priv[32] = { 3 }, peer_pub[32];

	assert_int_equal(wg_device_init(&dev, NULL), 0);
	assert_false(dev.identity.has_identity);
	assert_true(wgcrypto_x25519_public(peer_pub, peer_priv));
	assert_int_equal(wg_peer_add(&dev, peer_pub, NULL, &p), 0);
	assert_true(wgcrypto_is_zero(p->hs.precomputed_static_static, 32));
	assert_int_equal(wg_peer_add(&dev, peer_pub, NULL, &p), -EEXIST);
	wg_device_free(&dev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sessions_wiped_on_clear),
		cmocka_unit_test(peers_wait_for_a_private_key),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
