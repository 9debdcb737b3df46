/* libFuzzer harness: untrusted datagrams into the receive paths of both tunnels (plaintext
 * framing and the WireGuard protocol), with a device that has one peer. The fds are invalid,
 * so replies fail and are counted, and what a worker answers itself (a plaintext server's
 * keepalive) goes to a transport that discards it; nothing may crash, leak or read out of
 * bounds. */
#include "log.h"
#include "plain.h"
#include "wg.h"

#include <stdlib.h>
#include <string.h>

static struct engine plain_engine, wg_engine;
static struct worker plain_worker, wg_worker;
static struct plain_tunnel plain;
static struct wg_device wg;

static int discard_batch(struct transport *t, const struct transport_tx *tx, int count)
{
	(void)t;
	(void)tx;
	return count;
}

static const struct transport_ops discard_ops = { .send_batch = discard_batch };
static struct transport discard = { .ops = &discard_ops, .fd = -1 };

/* An engine with one worker and no threads or fds: the harness calls the worker's hooks. */
static void fake_engine(struct engine *e, struct worker *w, const struct tunnel_ops *ops,
			void *tunnel)
{
	*e = (struct engine){ .mtu = 1420, .wake_fd = -1, .stop_fd = -1, .workers = w,
			      .worker_count = 1, .ops = ops, .tunnel = tunnel };
	*w = (struct worker){ .engine = e, .ops = ops, .tunnel = tunnel, .transport = &discard };
	e->loop.now_ns = w->loop.now_ns = 1000000000ull;
}

static void setup(void)
{
	static const uint8_t private_key[32] = { 1, 2, 3 }, peer_key_seed[32] = { 9, 8, 7 };
	uint8_t peer_public[32];
	struct ip_prefix all;
	union endpoint none = { 0 };
	struct wg_peer *p;

	log_threshold = LOGL_ERROR;
	fake_engine(&plain_engine, &plain_worker, &plain_ops, &plain);
	plain_init(&plain, MODE_SERVER, &none, 0, TRANSPORT_MODE_UDP);
	plain_start(&plain, &plain_engine);
	fake_engine(&wg_engine, &wg_worker, &wg_ops, &wg);
	wg_device_init(&wg, private_key);
	wgcrypto_x25519_public(peer_public, peer_key_seed);
	wg_peer_add(&wg, peer_public, NULL, &p);
	addr_parse_prefix("0.0.0.0/0", &all);
	wg_peer_allow(p, &all);
	wg_device_start(&wg, &wg_engine);
}

static void receive(struct worker *w, uint8_t *buf, size_t size, const struct dgram_addr *from)
{
	uint8_t *ip;

	if (w->ops->batch_begin)
		w->ops->batch_begin(w);
	w->ops->decap(w, buf, size, from, &ip);
	if (w->ops->batch_end)
		w->ops->batch_end(w);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	static uint8_t buf[SLOT_SIZE];
	struct dgram_addr from = { 0 };

	if (!ready) {
		setup();
		ready = true;
	}
	if (size > sizeof(buf))
		return 0;
	addr_parse_literal("192.0.2.7", 4242, &from.remote);
	memcpy(buf, data, size);
	receive(&plain_worker, buf, size, &from);
	memcpy(buf, data, size);
	receive(&wg_worker, buf, size, &from);
	wg_serve_handshakes(&wg); /* the control thread's share of the work */
	plain_worker.loop.now_ns += 1000000;
	wg_worker.loop.now_ns += 1000000;
	wg_engine.loop.now_ns += 1000000;
	return 0;
}
