/* Unit tests for the WireGuard device glue: keypair slots and what is wiped when. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "engine.h"
#include "messages.h"
#include "transport.h"
#include "wg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

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

/* The responder's path: next waits for the first data, then becomes current; the initiator's
 * path: a new session is current at once. Every session is found by its index exactly while
 * it is in a slot, and nothing is left of it after. */
static void keypair_rotation(void **state)
{
	struct wg_device dev;
	struct wg_peer *p, *found;
	struct noise_keypair kp;

	setup_device(&dev, &p);
	make_keypair(&kp, 7);
	assert_int_equal(wg_keypairs_install(p, &kp, true), 0);
	assert_true(wgcrypto_is_zero(&kp, sizeof(kp))); /* moved, not copied */
	assert_non_null(p->current);
	make_keypair(&kp, 8);
	assert_int_equal(wg_keypairs_install(p, &kp, false), 0);
	assert_ptr_equal(wg_session_by_index(&dev, 8, &found), p->next);
	assert_ptr_equal(found, p);
	assert_false(wg_keypairs_promote(p, 9)); /* not the session that was confirmed */
	assert_true(wg_keypairs_promote(p, 8));
	assert_ptr_equal(wg_session_by_index(&dev, 8, &found), p->current);
	assert_ptr_equal(wg_session_by_index(&dev, 7, &found), p->previous);
	assert_null(p->next);

	make_keypair(&kp, 9); /* we initiated: current at once, and the oldest goes */
	assert_int_equal(wg_keypairs_install(p, &kp, true), 0);
	assert_ptr_equal(wg_session_by_index(&dev, 9, &found), p->current);
	assert_ptr_equal(wg_session_by_index(&dev, 8, &found), p->previous);
	assert_null(wg_session_by_index(&dev, 7, &found));

	wg_keypairs_clear(p);
	assert_null(p->previous);
	assert_null(p->current);
	assert_null(p->next);
	assert_null(wg_session_by_index(&dev, 8, &found));
	assert_null(wg_session_by_index(&dev, 9, &found));
	assert_int_equal(dev.indices.count, 0);
	wg_device_free(&dev);
	assert_true(wgcrypto_is_zero(&dev.identity, sizeof(dev.identity)));
}

/* Each thread gets its own cipher context, made on first use from the session's keys. */
static void per_thread_ciphers(void **state)
{
	struct wg_device dev;
	struct wg_peer *p;
	struct noise_keypair kp;
	uint8_t buf[64] = "hello", out[64];

	setup_device(&dev, &p);
	dev.cipher_slots = 3;
	make_keypair(&kp, 7);
	assert_int_equal(wg_keypairs_install(p, &kp, true), 0);
	struct wgcrypto_aead_key *a = wg_session_cipher(p->current, 0, true);
	struct wgcrypto_aead_key *b = wg_session_cipher(p->current, 2, false);

	assert_non_null(a);
	assert_non_null(b);
	assert_ptr_not_equal(a->ctx, b->ctx);
	assert_ptr_equal(wg_session_cipher(p->current, 0, true), a); /* made once */
	assert_null(wg_session_cipher(p->current, 3, true));
	assert_true(wgcrypto_aead_seal(a, out, buf, 16, 1, NULL, 0));
	assert_true(wgcrypto_aead_open(b, out, out, 32, 1, NULL, 0)); /* same key both ways here */
	assert_memory_equal(out, buf, 16);
	wg_device_free(&dev);
}

/* A removed peer is gone from every table, and its waiting plaintext is wiped. */
static void peer_removal(void **state)
{
	struct wg_device dev;
	struct wg_peer *p;
	struct noise_keypair kp;
	struct ip_prefix prefix;
	uint8_t key[32], pkt[40] = { 0x45 };

	setup_device(&dev, &p);
	dev.stage_slot_size = 1500 + SLOT_HEADROOM + SLOT_TAILROOM;
	memcpy(key, p->hs.remote_static, 32);
	assert_int_equal(addr_parse_prefix("10.0.0.2/32", &prefix), 0);
	assert_int_equal(wg_peer_allow(p, &prefix), 0);
	make_keypair(&kp, 7);
	assert_int_equal(wg_keypairs_install(p, &kp, true), 0);
	assert_true(wg_stage(p, pkt, sizeof(pkt), &(struct stats){ 0 }));
	assert_int_equal(wg_peer_remove(&dev, p), 0);
	assert_null(wg_peer_by_key(&dev, key));
	assert_null(allowedips_lookup(&dev.allowedips, AF_INET, &prefix.addr));
	assert_null(wg_session_by_index(&dev, 7, &p));
	assert_int_equal(dev.peer_count, 0);
	assert_null(dev.first_peer);
	wg_device_free(&dev);
}

/* Packets staged behind a handshake leave sealed once the session is up (the path of
 * receive_response): a data header written in front of each stage slot, whatever its
 * alignment. An odd MTU makes odd-sized slots, so most headers are misaligned; under UBSan
 * (-fno-sanitize-recover) a misaligned access there aborts the test. Each datagram, read from
 * a real socket, carries the receiver index and its counter, and opens to the packet. */
static void staged_packets_sealed(void **state)
{
	enum { MTU = 1421, COUNT = 5, LEN = 41 };
	struct transport_udp_options opts = { .count = 1 };
	struct stats *no_stats[1] = { NULL };
	struct transport *t;
	struct engine e;
	struct wg_device dev;
	struct wg_peer *p;
	struct noise_keypair kp;
	struct wgcrypto_aead_key key;
	union endpoint to = { .in = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) } };
	socklen_t to_len = sizeof(to.in);
	uint8_t pkt[LEN], msg[256], zero[32] = { 0 }, keybytes[32];
	char err[256];
	int rx = socket(AF_INET, SOCK_DGRAM, 0), tun[2];

	assert_true(rx >= 0);
	assert_int_equal(bind(rx, &to.sa, to_len), 0);
	assert_int_equal(getsockname(rx, &to.sa, &to_len), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_DGRAM, 0, tun), 0); /* stands in for the TUN */
	assert_int_equal(transport_udp_open(&opts, no_stats, &t, err, sizeof(err)), 0);
	setup_device(&dev, &p);
	assert_int_equal(engine_init(&e, &wg_ops, &dev, MTU, &tun[0], 1, false, 0, &t, 1), 0);
	assert_int_equal(wg_device_start(&dev, &e), 0);
	assert_true(dev.stage_slot_size % 8 != 0);
	p->endpoint.remote = to;

	for (int i = 0; i < COUNT; i++) {
		memset(pkt, 0x40 + i, sizeof(pkt));
		pkt[0] = 0x45;
		assert_true(wg_stage(p, pkt, sizeof(pkt), &e.stats));
	}
	make_keypair(&kp, 7);
	kp.remote_index = 0x11223344;
	kp.birth_ns = wg_now(&dev); /* a fresh session */
	assert_int_equal(wg_keypairs_install(p, &kp, true), 0);
	wg_send_staged(p);
	assert_int_equal(p->staged_count, 0);

	memset(keybytes, 0x5a, sizeof(keybytes)); /* make_keypair's key */
	assert_true(wgcrypto_aead_init(&key, keybytes));
	for (int i = 0; i < COUNT; i++) {
		ssize_t n = recv(rx, msg, sizeof(msg), MSG_DONTWAIT);
		size_t body;
		uint32_t type, receiver;
		uint64_t counter;

		assert_true(n > (ssize_t)MESSAGE_DATA_HEADER_LEN);
		body = (size_t)n - MESSAGE_DATA_HEADER_LEN;
		memcpy(&type, msg + offsetof(struct message_data, header), 4);
		memcpy(&receiver, msg + offsetof(struct message_data, receiver_index), 4);
		memcpy(&counter, msg + offsetof(struct message_data, counter), 8);
		assert_int_equal(le32toh(type), MESSAGE_DATA);
		assert_int_equal(le32toh(receiver), 0x11223344);
		assert_int_equal(le64toh(counter), i);
		assert_int_equal(body, 48 + 16); /* padded to 16, and the tag */
		assert_true(wgcrypto_aead_open(&key, msg + MESSAGE_DATA_HEADER_LEN,
					       msg + MESSAGE_DATA_HEADER_LEN, body, (uint64_t)i, NULL, 0));
		memset(pkt, 0x40 + i, sizeof(pkt));
		pkt[0] = 0x45;
		assert_memory_equal(msg + MESSAGE_DATA_HEADER_LEN, pkt, LEN);
		assert_memory_equal(msg + MESSAGE_DATA_HEADER_LEN + LEN, zero, 48 - LEN);
	}
	assert_int_equal(recv(rx, msg, sizeof(msg), MSG_DONTWAIT), -1);
	wgcrypto_aead_free(&key);
	wg_device_free(&dev);
	engine_free(&e);
	close(tun[1]);
	close(rx);
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

/* Whether a wake-up of the control thread is pending (and clears it). */
static bool woken(int wake_fd)
{
	uint64_t count;

	return read(wake_fd, &count, sizeof(count)) == (ssize_t)sizeof(count);
}

/* A worker's deadline later than the one armed needs no wake-up of the control thread (its
 * timer fires first and rescans every peer): bulk traffic used to wake it once per batch. An
 * earlier deadline wakes it and is folded into its timer; with nothing armed, any does. */
static void timers_wake_only_for_earlier_deadlines(void **state)
{
	struct engine e = { .wake_fd = eventfd(0, EFD_NONBLOCK) };
	struct wg_device dev;
	struct wg_peer *p;

	assert_true(e.wake_fd >= 0);
	setup_device(&dev, &p);
	dev.engine = &e;
	dev.timer.deadline_ns = 5000;
	wg_timers_fold(&dev);
	p->timers.zero_key_material = 9000;
	wg_timers_changed(p);
	assert_false(woken(e.wake_fd));
	wg_timers_fold(&dev);
	assert_int_equal(dev.timer.deadline_ns, 5000);

	p->timers.zero_key_material = 3000;
	wg_timers_changed(p);
	assert_true(woken(e.wake_fd));
	wg_timers_fold(&dev);
	assert_int_equal(dev.timer.deadline_ns, 3000);
	p->timers.zero_key_material = 4000;
	wg_timers_changed(p);
	assert_false(woken(e.wake_fd));
	wg_timers_fold(&dev);
	assert_int_equal(dev.timer.deadline_ns, 3000);

	dev.timer.deadline_ns = 0;
	wg_timers_fold(&dev);
	p->timers.zero_key_material = 9000;
	wg_timers_changed(p);
	assert_true(woken(e.wake_fd));
	dev.engine = NULL;
	wg_device_free(&dev);
	close(e.wake_fd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(keypair_rotation),
		cmocka_unit_test(per_thread_ciphers),
		cmocka_unit_test(peer_removal),
		cmocka_unit_test(staged_packets_sealed),
		cmocka_unit_test(peers_wait_for_a_private_key),
		cmocka_unit_test(timers_wake_only_for_earlier_deadlines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
