/* The plaintext tunnel: a 4-byte header, one peer, no cryptography.
 *
 * Peer and client accept datagrams only from the address they were given. A server learns its
 * client from the first datagram it hears (first contact) and the client's tunnel addresses from
 * the inner source of its first IP packets. It then follows the client to a new address (NAT
 * re-mapping) only for a well-formed IP packet whose inner source is the client's tunnel
 * address, and only once the old address has been silent for PLAIN_ROAM_QUIET_NS; a bare
 * keepalive moves it only from the client's own host (another port, or the other transport:
 * an idle client that switched between UDP and TCP), after the same silence. Every move is
 * logged, and a move to the other transport counts as a transport switch, as on the client.
 * Without authentication someone who can forge such a packet while the client is silent can
 * still redirect a server, which is why the plaintext modes warn at start-up.
 *
 * A server answers each keepalive from its client's host (its endpoint, or another port or
 * transport of the same address) with a keepalive: the client learns whether the path works,
 * and a client on TCP learns that UDP works again (plain_transport.c). */
#include "plain.h"
#include "log.h"
#include "packet.h"
#include "uapi.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void refresh_endpoint(struct plain_tunnel *t, struct plain_worker_state *st)
{
	unsigned int gen = __atomic_load_n(&t->generation, __ATOMIC_ACQUIRE);

	if (gen == st->generation)
		return;
	pthread_mutex_lock(&t->lock);
	st->endpoint = t->endpoint;
	st->source = t->source;
	st->generation = t->generation;
	pthread_mutex_unlock(&t->lock);
}

static void batch_begin(struct worker *w)
{
	refresh_endpoint(w->tunnel, w->tunnel_local);
}

static size_t plain_encap(struct worker *w, uint8_t *pkt, size_t len, uint8_t **dgram,
			  const struct dgram_addr **to)
{
	struct plain_tunnel *t = w->tunnel;
	struct plain_worker_state *st = w->tunnel_local;

	if (!endpoint_is_set(&st->endpoint.remote)) {
		worker_drop(w, DROP_NO_ENDPOINT);
		return 0;
	}
	/* the peer drops payloads larger than its TUN's MTU: tell the sender instead */
	if (worker_too_big(w, pkt, len, engine_mtu(w->engine)))
		return 0;
	*dgram = pkt - PLAIN_HEADER_LEN;
	plain_write_header(*dgram, PLAIN_DATA);
	*to = &st->endpoint;
	if (__atomic_load_n(&t->last_tx_ns, __ATOMIC_RELAXED) != w->loop.now_ns)
		__atomic_store_n(&t->last_tx_ns, w->loop.now_ns, __ATOMIC_RELAXED);
	return len + PLAIN_HEADER_LEN;
}

static void bump_generation(struct plain_tunnel *t)
{
	__atomic_store_n(&t->generation, t->generation + 1, __ATOMIC_RELEASE);
}

static void heard_client(struct worker *w, struct plain_tunnel *t)
{
	if (__atomic_load_n(&t->last_rx_ns, __ATOMIC_RELAXED) != w->loop.now_ns)
		__atomic_store_n(&t->last_rx_ns, w->loop.now_ns, __ATOMIC_RELAXED);
}

/* A server takes its client's address (first contact, a move, or the same client reaching
 * another of our addresses); the other workers pick it up at their next batch. */
static void learn_client(struct worker *w, struct plain_tunnel *t, const struct dgram_addr *from)
{
	char old[INET6_ADDRSTRLEN + 8], new[INET6_ADDRSTRLEN + 8];
	union endpoint was;
	bool moved, switched;

	pthread_mutex_lock(&t->lock);
	was = t->endpoint.remote;
	moved = !endpoint_equal(&t->endpoint.remote, &from->remote);
	switched = endpoint_is_set(&was) && t->endpoint.kind != from->kind;
	t->endpoint = *from;
	bump_generation(t);
	pthread_mutex_unlock(&t->lock);
	refresh_endpoint(t, w->tunnel_local);
	heard_client(w, t);
	if (switched) /* the client moved between UDP and TCP: counted as the client counts it */
		stats_add(&w->stats.transport_switches, 1);
	if (!moved)
		return;
	if (endpoint_is_set(&was))
		log_info("client endpoint is now %s (was %s)",
			 endpoint_format(&from->remote, new, sizeof(new)),
			 endpoint_format(&was, old, sizeof(old)));
	else
		log_info("client endpoint is now %s", endpoint_format(&from->remote, new, sizeof(new)));
	stats_add(&w->stats.endpoint_changes, 1);
}

static bool same_host(const union endpoint *a, const union endpoint *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)
		return a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
	return !memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, sizeof(a->in6.sin6_addr));
}

static bool source_known(const struct plain_client_source *s, const uint8_t *ip)
{
	return (ip[0] >> 4) == 4 ? s->have4 : s->have6;
}

static bool source_matches(const struct plain_client_source *s, const uint8_t *ip)
{
	if ((ip[0] >> 4) == 4)
		return s->have4 && memcmp(ip + 12, s->v4, sizeof(s->v4)) == 0;
	return s->have6 && memcmp(ip + 8, s->v6, sizeof(s->v6)) == 0;
}

/* The first IP packet of each family from the client's endpoint names its tunnel address. */
static void learn_source(struct worker *w, struct plain_tunnel *t, const uint8_t *ip)
{
	struct plain_worker_state *st = w->tunnel_local;

	if (source_known(&st->source, ip))
		return;
	pthread_mutex_lock(&t->lock);
	if (!source_known(&t->source, ip)) {
		if ((ip[0] >> 4) == 4) {
			memcpy(t->source.v4, ip + 12, sizeof(t->source.v4));
			t->source.have4 = true;
		} else {
			memcpy(t->source.v6, ip + 8, sizeof(t->source.v6));
			t->source.have6 = true;
		}
		bump_generation(t);
	}
	pthread_mutex_unlock(&t->lock);
	refresh_endpoint(t, w->tunnel_local);
}

static void refuse_move(struct worker *w, const struct dgram_addr *from, const char *why)
{
	char buf[INET6_ADDRSTRLEN + 8];

	worker_drop(w, DROP_UNKNOWN_SOURCE);
	log_ratelimited(LOGL_INFO, w->loop.now_ns, "client endpoint not moved to %s: %s",
			endpoint_format(&from->remote, buf, sizeof(buf)), why);
}

/* Whether a datagram from an address other than the client's may move the client there: see
 * the top of the file. ip is NULL for a keepalive. */
static bool may_move(struct worker *w, struct plain_tunnel *t, const struct dgram_addr *from,
		     const uint8_t *ip)
{
	const struct plain_worker_state *st = w->tunnel_local;
	const struct plain_client_source *s = &st->source;
	uint64_t last = __atomic_load_n(&t->last_rx_ns, __ATOMIC_RELAXED);

	if (!ip && !same_host(&from->remote, &st->endpoint.remote)) {
		refuse_move(w, from, "a keepalive from another host does not move a client");
		return false;
	}
	if (ip && (s->have4 || s->have6) && !source_matches(s, ip)) {
		refuse_move(w, from, "inner source is not the client's tunnel address");
		return false;
	}
	if (w->loop.now_ns - last < PLAIN_ROAM_QUIET_NS) {
		refuse_move(w, from, "the client's endpoint spoke less than 2 s ago");
		return false;
	}
	return true;
}

/* Server: accepts datagrams from the client's endpoint, and moves it as may_move allows. */
static bool server_accept(struct worker *w, struct plain_tunnel *t, const struct dgram_addr *from,
			  const uint8_t *ip)
{
	struct plain_worker_state *st = w->tunnel_local;

	if (endpoint_equal(&from->remote, &st->endpoint.remote)) {
		if (!dgram_addr_equal(from, &st->endpoint))
			learn_client(w, t, from); /* same client, another of our addresses */
		heard_client(w, t);
	} else if (!endpoint_is_set(&st->endpoint.remote) || may_move(w, t, from, ip)) {
		learn_client(w, t, from);
	} else {
		return false;
	}
	if (ip)
		learn_source(w, t, ip);
	return true;
}

static bool accept_source(struct worker *w, struct plain_tunnel *t, const struct dgram_addr *from,
			  const uint8_t *ip)
{
	struct plain_worker_state *st = w->tunnel_local;

	if (t->mode == MODE_SERVER)
		return server_accept(w, t, from, ip);
	if (endpoint_equal(&from->remote, &st->endpoint.remote))
		return true;
	worker_drop(w, DROP_UNKNOWN_SOURCE);
	return false;
}

/* Server: the answer to a keepalive, to its sender, if that is our client's host. */
static void answer_keepalive(struct worker *w, const struct dgram_addr *from)
{
	struct plain_worker_state *st = w->tunnel_local;
	uint8_t header[PLAIN_HEADER_LEN];

	if (!same_host(&from->remote, &st->endpoint.remote))
		return;
	plain_write_header(header, PLAIN_KEEPALIVE);
	if (worker_send(w, header, sizeof(header), from) == 0)
		stats_add(&w->stats.keepalives_sent, 1);
}

static size_t plain_decap(struct worker *w, uint8_t *dgram, size_t len,
			  const struct dgram_addr *from, uint8_t **ip)
{
	struct plain_tunnel *t = w->tunnel;
	enum drop_reason why;
	size_t ip_len = 0;
	enum rx_verdict v = plain_decode(dgram, len, engine_mtu(w->engine), &ip_len, &why);

	if (v == RX_DROP) {
		worker_drop(w, why);
		return 0;
	}
	if (!accept_source(w, t, from, v == RX_DATA ? dgram + PLAIN_HEADER_LEN : NULL)) {
		if (v == RX_KEEPALIVE && t->mode == MODE_SERVER)
			answer_keepalive(w, from); /* a client on TCP asking whether UDP works */
		return 0;
	}
	stats_add(&w->stats.rx_packets, 1);
	stats_add(&w->stats.rx_bytes, len);
	if (t->mode == MODE_CLIENT)
		plain_transport_heard(t, from, w->loop.now_ns);
	if (v == RX_KEEPALIVE) {
		stats_add(&w->stats.keepalives_received, 1);
		if (t->mode == MODE_SERVER)
			answer_keepalive(w, from);
		return 0;
	}
	*ip = dgram + PLAIN_HEADER_LEN;
	return ip_len;
}

const struct tunnel_ops plain_ops = {
	.batch_begin = batch_begin,
	.encap = plain_encap,
	.decap = plain_decap,
};

static void arm_keepalive(struct plain_tunnel *t)
{
	if (t->keepalive_ns)
		t->keepalive_timer.deadline_ns =
			__atomic_load_n(&t->last_tx_ns, __ATOMIC_RELAXED) + t->keepalive_ns;
}

void plain_send_keepalive(struct plain_tunnel *t, const struct dgram_addr *to)
{
	uint8_t header[PLAIN_HEADER_LEN];

	if (!endpoint_is_set(&to->remote))
		return;
	plain_write_header(header, PLAIN_KEEPALIVE);
	if (worker_send(engine_sender(t->engine), header, sizeof(header), to) == 0)
		stats_add(&t->engine->stats.keepalives_sent, 1);
	__atomic_store_n(&t->last_tx_ns, t->engine->loop.now_ns, __ATOMIC_RELAXED);
}

static void send_keepalive(struct plain_tunnel *t)
{
	struct dgram_addr to;

	pthread_mutex_lock(&t->lock);
	to = t->endpoint;
	pthread_mutex_unlock(&t->lock);
	plain_send_keepalive(t, &to);
}

/* Fires keepalive_ns after the last datagram sent; traffic in between pushes it back. */
static void on_keepalive_timer(struct loop_timer *timer)
{
	struct plain_tunnel *t = container_of(timer, struct plain_tunnel, keepalive_timer);

	if (t->engine->loop.now_ns - __atomic_load_n(&t->last_tx_ns, __ATOMIC_RELAXED) >= t->keepalive_ns)
		send_keepalive(t);
	arm_keepalive(t);
}

void plain_get_remote(struct plain_tunnel *t, struct uapi_plain_remote *out)
{
	out->role = t->mode == MODE_CLIENT ? UAPI_PLAIN_SERVER :
		    t->mode == MODE_SERVER ? UAPI_PLAIN_CLIENT : UAPI_PLAIN_PEER;
	pthread_mutex_lock(&t->lock);
	out->endpoint = t->endpoint.remote;
	out->kind = t->endpoint.kind;
	pthread_mutex_unlock(&t->lock);
	out->name = t->endpoint_name.name; /* set before start, freed after the end */
	out->name_port = t->endpoint_name.port;
}

void plain_init(struct plain_tunnel *t, enum run_mode mode, const union endpoint *peer,
		int keepalive_seconds, enum transport_mode transport)
{
	*t = (struct plain_tunnel){ .mode = mode, .endpoint = { .remote = *peer }, .generation = 1,
				    .keepalive_ns = (uint64_t)keepalive_seconds * 1000000000ull,
				    .transport = mode == MODE_CLIENT ? transport : TRANSPORT_MODE_UDP };
	pthread_mutex_init(&t->lock, NULL);
	t->keepalive_timer.fire = on_keepalive_timer;
}

void plain_free(struct plain_tunnel *t)
{
	plain_resolve_stop(t);
	pthread_mutex_destroy(&t->lock);
}

int plain_start(struct plain_tunnel *t, struct engine *e)
{
	int ret;

	t->engine = e;
	for (unsigned int i = 0; i < e->worker_count; i++) {
		e->workers[i].tunnel_local = calloc(1, sizeof(struct plain_worker_state));
		if (!e->workers[i].tunnel_local)
			return -ENOMEM;
	}
	t->last_tx_ns = e->loop.now_ns;
	ret = plain_transport_start(t);
	if (ret)
		return ret;
	if (t->mode == MODE_CLIENT)
		send_keepalive(t);
	arm_keepalive(t);
	return loop_add_timer(&e->loop, &t->keepalive_timer);
}
