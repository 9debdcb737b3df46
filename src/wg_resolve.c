/* Endpoint names looked up again. A peer configured by name (a home server behind a dynamic
 * address and a dynamic DNS name, say) that stops answering handshakes has its name looked up
 * once more (resolver.c, off the control loop), and moves to the address the name has now. */
#include "wg.h"
#include "log.h"
#include "resolver.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

/* Control thread: an answer goes to its peer if the peer is still there and still so named; a
 * new address becomes its endpoint, and an initiation goes there at once (the one in flight
 * went to the old address). */
static void on_answer(void *ctx, const struct resolver_answer *a)
{
	struct wg_device *dev = ctx;
	struct wg_peer *p = wg_peer_by_id(dev, (uint32_t)a->tag);
	union endpoint to;
	char who[32];

	if (!p)
		return;
	snprintf(who, sizeof(who), "peer %u:", p->id);
	if (!endpoint_name_follow(&p->endpoint_name, a, engine_sender(dev->engine)->transport->family,
				  &p->endpoint.remote, who, wg_now(dev), &dev->engine->stats, &to))
		return;
	wg_write_lock(dev);
	wg_peer_set_endpoint(p, &(struct dgram_addr){ .remote = to });
	wg_unlock(dev);
	wg_send_initiation(p, WG_INITIATION_NEW);
}

void wg_resolve_maybe(struct wg_peer *p, uint64_t now)
{
	struct wg_device *dev = p->dev;
	struct endpoint_name *en = &p->endpoint_name;
	int ret = 0;

	if (!endpoint_name_due(en, now, WG_LOOKUP_INTERVAL_S * 1000000000ull, &dev->engine->stats))
		return;
	if (!dev->resolver)
		ret = resolver_start(&dev->resolver, &dev->engine->loop, on_answer, dev);
	if (!ret)
		ret = resolver_ask(dev->resolver, en->name, en->port, p->id);
	if (ret) {
		en->pending = false;
		log_ratelimited(LOGL_WARN, now, "peer %u: cannot look up %s again: %s", p->id,
				en->name, strerror(-ret));
		return;
	}
	log_debug("peer %u: no answer; looking up %s again", p->id, en->name);
}

void wg_resolve_stop(struct wg_device *dev)
{
	resolver_stop(dev->resolver);
	dev->resolver = NULL;
}
