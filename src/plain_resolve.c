/* A plaintext client whose server was given by name looks the name up again when the server
 * stops answering its keepalives (plain_transport.c notices), at most every
 * PLAIN_LOOKUP_INTERVAL_NS, off the control loop (resolver.c); a new address becomes the
 * endpoint, and a keepalive asks there at once. */
#include "plain.h"
#include "log.h"
#include "resolver.h"
#include "transport.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define PLAIN_LOOKUP_INTERVAL_NS (15 * 1000000000ull)

int plain_set_endpoint_name(struct plain_tunnel *t, const char *name, uint16_t port)
{
	char *copy = strdup(name);

	if (!copy)
		return -ENOMEM;
	free(t->endpoint_name);
	t->endpoint_name = copy;
	t->endpoint_name_port = port;
	return 0;
}

/* Control thread: the endpoint moves; the TCP connection to the old address, if any, goes. */
static void move_endpoint(struct plain_tunnel *t, const union endpoint *to)
{
	union endpoint old = t->endpoint.remote;
	bool was_tcp = t->endpoint.kind == TRANSPORT_TCP;

	pthread_mutex_lock(&t->lock);
	t->endpoint.remote = *to;
	t->endpoint.kind = t->transport == TRANSPORT_MODE_TCP ? TRANSPORT_TCP : TRANSPORT_UDP;
	t->endpoint.conn = 0;
	__atomic_store_n(&t->generation, t->generation + 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&t->lock);
	if (was_tcp && t->engine->tcp)
		transport_tcp_retire(t->engine->tcp, &old);
}

static void on_answer(void *ctx, const struct resolver_answer *a)
{
	struct plain_tunnel *t = ctx;
	char was[INET6_ADDRSTRLEN + 8], now[INET6_ADDRSTRLEN + 8];
	union endpoint found = a->found;

	t->lookup_pending = false;
	endpoint_format(&t->endpoint.remote, was, sizeof(was));
	if (a->ret) {
		stats_add(&t->engine->stats.endpoint_lookup_failures, 1);
		log_ratelimited(LOGL_INFO, t->engine->loop.now_ns, "%s; staying at %s", a->why, was);
		return;
	}
	if (endpoint_to_family(&found, engine_sender(t->engine)->transport->family)) {
		stats_add(&t->engine->stats.endpoint_lookup_failures, 1);
		log_ratelimited(LOGL_INFO, t->engine->loop.now_ns,
				"%s resolves to IPv6, unavailable here; staying at %s", a->name, was);
		return;
	}
	if (endpoint_equal(&found, &t->endpoint.remote)) {
		log_debug("%s still resolves to %s", a->name, was);
		return;
	}
	endpoint_format(&found, now, sizeof(now));
	log_info("server %s resolves to %s now (was %s)", a->name, now, was);
	stats_add(&t->engine->stats.endpoint_changes, 1);
	move_endpoint(t, &found);
	plain_transport_moved(t, t->engine->loop.now_ns);
}

void plain_resolve_maybe(struct plain_tunnel *t, uint64_t now)
{
	int ret = 0;

	if (!t->endpoint_name || t->lookup_pending ||
	    (t->looked_up_ns && now - t->looked_up_ns < PLAIN_LOOKUP_INTERVAL_NS))
		return;
	t->looked_up_ns = now;
	if (!t->resolver)
		ret = resolver_start(&t->resolver, &t->engine->loop, on_answer, t);
	if (!ret)
		ret = resolver_ask(t->resolver, t->endpoint_name, t->endpoint_name_port, 0);
	if (ret) {
		log_ratelimited(LOGL_WARN, now, "cannot look up %s again: %s", t->endpoint_name,
				strerror(-ret));
		return;
	}
	t->lookup_pending = true;
	stats_add(&t->engine->stats.endpoint_lookups, 1);
	log_debug("no answer from the server; looking up %s again", t->endpoint_name);
}

void plain_resolve_stop(struct plain_tunnel *t)
{
	resolver_stop(t->resolver);
	t->resolver = NULL;
	free(t->endpoint_name);
	t->endpoint_name = NULL;
}
