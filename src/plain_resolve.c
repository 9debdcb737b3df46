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
	endpoint_name_set(&t->endpoint_name, copy, port);
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
	uint64_t now = t->engine->loop.now_ns;
	union endpoint to;

	if (!endpoint_name_follow(&t->endpoint_name, a, engine_sender(t->engine)->transport->family,
				  &t->endpoint.remote, "server:", now, &t->engine->stats, &to))
		return;
	move_endpoint(t, &to);
	plain_transport_moved(t, now);
}

void plain_resolve_maybe(struct plain_tunnel *t, uint64_t now)
{
	struct endpoint_name *en = &t->endpoint_name;
	int ret = 0;

	if (!endpoint_name_due(en, now, PLAIN_LOOKUP_INTERVAL_NS, &t->engine->stats))
		return;
	if (!t->resolver)
		ret = resolver_start(&t->resolver, &t->engine->loop, on_answer, t);
	if (!ret)
		ret = resolver_ask(t->resolver, en->name, en->port, 0);
	if (ret) {
		en->pending = false;
		log_ratelimited(LOGL_WARN, now, "cannot look up %s again: %s", en->name, strerror(-ret));
		return;
	}
	log_debug("no answer from the server; looking up %s again", en->name);
}

void plain_resolve_stop(struct plain_tunnel *t)
{
	resolver_stop(t->resolver);
	t->resolver = NULL;
	endpoint_name_set(&t->endpoint_name, NULL, 0);
}
