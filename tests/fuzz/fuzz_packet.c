/* libFuzzer harness: untrusted datagrams into the receive paths of both tunnels (plaintext
 * framing and the WireGuard protocol), with a device that has one peer. The fds are invalid,
 * so replies fail and are counted; nothing may crash, leak or read out of bounds. */
#include "plain.h"
#include "wg.h"

#include <stdlib.h>
#include <string.h>

static struct loop loop;
static struct worker plain_worker, wg_worker;
static struct plain_tunnel plain;
static struct wg_device wg;

static void setup(void)
{
	static const uint8_t private_key[32] = { 1, 2, 3 }, peer_key_seed[32] = { 9, 8, 7 };
	uint8_t peer_public[32];
	struct ip_prefix all;
	union endpoint none = { 0 };
	struct wg_peer *p;

	loop.now_ns = 1000000000ull;
	plain_worker = (struct worker){ .loop = &loop, .ops = &plain_ops, .tunnel = &plain,
					.tun_fd = -1, .udp_fd = -1, .mtu = 1420 };
	plain_init(&plain, MODE_SERVER, &none, 0);
	plain.worker = &plain_worker;
	wg_worker = (struct worker){ .loop = &loop, .ops = &wg_ops, .tunnel = &wg, .tun_fd = -1,
				     .udp_fd = -1, .mtu = 1420 };
	wg_device_init(&wg, private_key);
	wgcrypto_x25519_public(peer_public, peer_key_seed);
	wg_peer_add(&wg, peer_public, NULL, &p);
	addr_parse_prefix("0.0.0.0/0", &all);
	wg_peer_allow(p, &all);
	wg.worker = &wg_worker;
	wg.stage_slot_size = 1420 + SLOT_HEADROOM + SLOT_TAILROOM;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	static uint8_t buf[SLOT_SIZE];
	union endpoint from;
	uint8_t *ip;

	if (!ready) {
		setup();
		ready = true;
	}
	if (size > sizeof(buf))
		return 0;
	addr_parse_literal("192.0.2.7", 4242, &from);
	memcpy(buf, data, size);
	plain_worker.ops->decap(&plain_worker, buf, size, &from, &ip);
	memcpy(buf, data, size);
	wg_worker.ops->decap(&wg_worker, buf, size, &from, &ip);
	loop.now_ns += 1000000;
	return 0;
}
