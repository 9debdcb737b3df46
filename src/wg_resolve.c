/* Endpoint names looked up again. A peer configured by name (a home server behind a dynamic
 * address and a dynamic DNS name, say) that stops answering handshakes has its name looked up
 * once more (resolver.c, off the control loop), and moves to the address the name has now. */
#include "wg.h"
#include "log.h"
#include "resolver.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

void wg_peer_set_endpoint_name(struct wg_peer *p, char *name, uint16_t port)
{
	free(p->endpoint_name);
	p->endpoint_name = name;
	p->endpoint_name_port = name ? port : 0;
	p->lookup_pending = false; /* an answer for the old name is ignored */
	p->looked_up_ns = 0;
}

/* The peer moves to the name's address when it has a new one, and handshakes there at once:
 * the initiation in flight went to the old address. */
static void apply_answer(struct wg_device *dev, struct wg_peer *p, const struct resolver_answer *a)
{
	char was[INET6_ADDRSTRLEN + 8], now[INET6_ADDRSTRLEN + 8];
	union endpoint found = a->found;

	endpoint_format(&p->endpoint.remote, was, sizeof(was));
	if (a->ret) {
		stats_add(&dev->engine->stats.endpoint_lookup_failures, 1);
		log_ratelimited(LOGL_INFO, wg_now(dev), "peer %u: %s; staying at %s", p->id, a->why, was);
		return;
	}
	if (endpoint_to_family(&found, engine_sender(dev->engine)->transport->family)) {
		stats_add(&dev->engine->stats.endpoint_lookup_failures, 1);
		log_ratelimited(LOGL_INFO, wg_now(dev),
				"peer %u: %s resolves to IPv6, unavailable here; staying at %s",
				p->id, a->name, was);
		return;
	}
	if (endpoint_equal(&found, &p->endpoint.remote)) {
		log_debug("peer %u: %s still resolves to %s", p->id, a->name, was);
		return;
	}
	endpoint_format(&found, now, sizeof(now));
	log_info("peer %u: %s resolves to %s now (was %s): handshaking there", p->id, a->name, now,
		 was);
	stats_add(&dev->engine->stats.endpoint_changes, 1);
	wg_write_lock(dev);
	wg_peer_set_endpoint(p, &(struct dgram_addr){ .remote = found });
	wg_unlock(dev);
	wg_send_initiation(p, WG_INITIATION_NEW);
}

/* Control thread: an answer goes to its peer if the peer is still there and still so named. */
static void on_answer(void *ctx, const struct resolver_answer *a)
{
	struct wg_device *dev = ctx;
	struct wg_peer *p = wg_peer_by_id(dev, (uint32_t)a->tag);

	if (p && p->lookup_pending && p->endpoint_name && !strcmp(p->endpoint_name, a->name) &&
	    p->endpoint_name_port == a->port) {
		p->lookup_pending = false;
		apply_answer(dev, p, a);
	}
}

void wg_resolve_maybe(struct wg_peer *p, uint64_t now)
{
	struct wg_device *dev = p->dev;
	int ret = 0;

	if (!p->endpoint_name || p->lookup_pending ||
	    (p->looked_up_ns && now - p->looked_up_ns < WG_LOOKUP_INTERVAL_S * 1000000000ull))
		return;
	p->looked_up_ns = now;
	if (!dev->resolver)
		ret = resolver_start(&dev->resolver, &dev->engine->loop, on_answer, dev);
	if (!ret)
		ret = resolver_ask(dev->resolver, p->endpoint_name, p->endpoint_name_port, p->id);
	if (ret) {
		log_ratelimited(LOGL_WARN, now, "peer %u: cannot look up %s again: %s", p->id,
				p->endpoint_name, strerror(-ret));
		return;
	}
	p->lookup_pending = true;
	stats_add(&dev->engine->stats.endpoint_lookups, 1);
	log_debug("peer %u: no answer; looking up %s again", p->id, p->endpoint_name);
}

void wg_resolve_stop(struct wg_device *dev)
{
	resolver_stop(dev->resolver);
	dev->resolver = NULL;
}
