/* Rendezvous on the device: R introduces its peers and relays for them; its clients ask,
 * punch and fall back to the relay. The protocol and its choices are described in
 * rendezvous.h; this file is the control thread's part (the queue of control messages, the
 * timer) and the workers' part (queueing control messages, relay envelopes). */
#include "rendezvous.h"
#include "wg.h"
#include "log.h"

#include <errno.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#define NS_PER_MS 1000000ull
#define NS_PER_S 1000000000ull

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static int socket_family(const struct wg_device *dev)
{
	return engine_sender(dev->engine)->transport->family;
}

static struct wg_peer *server_of(const struct wg_device *dev)
{
	return dev->rdv.mode == RDV_CLIENT ? wg_peer_by_key(dev, dev->rdv.server_key) : NULL;
}

/* ---- set-up ---- */

int rdv_configure(struct wg_device *dev, enum rdv_mode mode, const uint8_t *server_key,
		  const char *ifname, char *err, size_t errlen)
{
	struct wg_peer *server = NULL;

	dev->rdv.mode = mode;
	dev->rdv.nat_keepalive_s = RDV_NAT_KEEPALIVE_S;
	snprintf(dev->rdv.ifname, sizeof(dev->rdv.ifname), "%s", ifname);
	if (mode != RDV_CLIENT)
		return 0;
	memcpy(dev->rdv.server_key, server_key, RDV_KEY_LEN);
	server = wg_peer_by_key(dev, server_key);
	if (!server || !endpoint_is_set(&server->endpoint.remote)) {
		snprintf(err, errlen, "Rendezvous: no [Peer] with that public key and an Endpoint");
		return -ENOENT;
	}
	wg_for_each_peer(dev, p)
		p->rdv.managed = p != server && !endpoint_is_set(&p->endpoint.remote);
	return 0;
}

void rdv_manage(struct wg_device *dev, struct wg_peer *p, bool no_endpoint)
{
	bool managed = dev->rdv.mode == RDV_CLIENT && no_endpoint && p != server_of(dev);

	if (managed && !p->rdv.managed)
		p->rdv.query_next_ns = 0; /* a new one: ask at once */
	p->rdv.managed = managed;
}

void rdv_set_extra_candidate(struct wg_device *dev, const union endpoint *ep)
{
	dev->rdv.extra = *ep;
	dev->rdv.hello_next_ns = 0; /* tell R at once */
}

void rdv_addresses_changed(struct wg_device *dev)
{
	if (dev->rdv.mode != RDV_CLIENT)
		return;
	log_debug("rendezvous: our addresses changed; telling the rendezvous");
	dev->rdv.hello_next_ns = 0;
}

/* Our addresses a peer on the same network could reach, with our port: every address of an
 * up, non-loopback interface but the tunnel's, and no IPv6 link-local one. On failure the
 * last list stays. */
static void refresh_locals(struct wg_device *dev)
{
	struct ifaddrs *list;
	int port = transport_local_port(engine_sender(dev->engine)->transport);
	unsigned int n = 0;

	if (port <= 0 || getifaddrs(&list))
		return;
	if (dev->rdv.extra.sa.sa_family)
		dev->rdv.locals[n++] = dev->rdv.extra; /* first: MAPPED says so */
	for (struct ifaddrs *a = list; a && n < RDV_MAX_ADDRS - 1; a = a->ifa_next) {
		union endpoint ep = { 0 };

		if (!a->ifa_addr || !(a->ifa_flags & IFF_UP) || (a->ifa_flags & IFF_LOOPBACK) ||
		    !strcmp(a->ifa_name, dev->rdv.ifname))
			continue;
		if (a->ifa_addr->sa_family == AF_INET) {
			ep.in = *(struct sockaddr_in *)a->ifa_addr;
			ep.in.sin_port = htons((uint16_t)port);
		} else if (a->ifa_addr->sa_family == AF_INET6) {
			ep.in6 = *(struct sockaddr_in6 *)a->ifa_addr;
			if (IN6_IS_ADDR_LINKLOCAL(&ep.in6.sin6_addr))
				continue;
			ep.in6.sin6_port = htons((uint16_t)port);
			ep.in6.sin6_scope_id = 0;
		} else {
			continue;
		}
		dev->rdv.locals[n++] = ep;
	}
	freeifaddrs(list);
	dev->rdv.local_count = n;
}

/* ---- sending control messages ---- */

/* Sealed in place: room for the data header before, padding and the tag after. */
static bool send_msg(struct wg_peer *to, const struct rdv_msg *m)
{
	uint8_t buf[SLOT_HEADROOM + RDV_MAX_MSG + MESSAGE_PADDING_MULTIPLE + SLOT_TAILROOM];
	size_t len = rdv_encode(m, buf + SLOT_HEADROOM, RDV_MAX_MSG);

	return len && wg_send_control(to, buf + SLOT_HEADROOM, len, false);
}

static void put_locals(const struct wg_device *dev, struct rdv_msg *m)
{
	if (dev->rdv.extra.sa.sa_family && dev->rdv.local_count)
		m->flags |= RDV_F_MAPPED;
	m->addr_count = dev->rdv.local_count;
	memcpy(m->addrs, dev->rdv.locals, sizeof(m->addrs[0]) * m->addr_count);
}

/* ---- R: introductions ---- */

static bool registered(const struct wg_peer *p, uint64_t now)
{
	uint64_t at = __atomic_load_n(&p->rdv.registered_ns, __ATOMIC_RELAXED);

	return at && now - at < RDV_REGISTERED_S * NS_PER_S;
}

static bool in_list(const uint32_t *ids, unsigned int count, uint32_t id)
{
	for (unsigned int i = 0; i < count; i++)
		if (ids[i] == id)
			return true;
	return false;
}

static bool is_partner(const struct wg_peer *p, uint32_t id)
{
	return in_list(p->rdv.partners, p->rdv.partner_count, id);
}

/* A full list forgets its oldest entry. */
static void add_to_list(uint32_t *ids, unsigned int *count, uint32_t id)
{
	if (in_list(ids, *count, id))
		return;
	if (*count == RDV_MAX_PARTNERS) {
		memmove(ids, ids + 1, sizeof(ids[0]) * (RDV_MAX_PARTNERS - 1));
		(*count)--;
	}
	ids[(*count)++] = id;
}

/* Write lock held: workers read the partners. */
static void add_partner(struct wg_peer *p, uint32_t id)
{
	add_to_list(p->rdv.partners, &p->rdv.partner_count, id);
}

/* Tells `to` where `about` is. */
static void send_peer(struct wg_peer *to, struct wg_peer *about)
{
	struct rdv_msg m = { .type = RDV_PEER, .peer_id = about->id, .your_id = to->id,
			     .observed = about->endpoint.remote,
			     .addr_count = about->rdv.local_count };

	memcpy(m.key, about->hs.remote_static, RDV_KEY_LEN);
	memcpy(m.addrs, about->rdv.locals, sizeof(m.addrs[0]) * m.addr_count);
	if (about->rdv.accepts_relay && to->rdv.accepts_relay)
		m.flags |= RDV_F_RELAY;
	if (about->rdv.locals_mapped)
		m.flags |= RDV_F_MAPPED;
	if (!send_msg(to, &m))
		log_debug("peer %u: cannot tell it about peer %u yet (no session)", to->id, about->id);
}

static void introduce(struct wg_device *dev, struct wg_peer *a, struct wg_peer *b)
{
	wg_write_lock(dev);
	add_partner(a, b->id);
	add_partner(b, a->id);
	wg_unlock(dev);
	a->rdv.told = a->endpoint.remote;
	b->rdv.told = b->endpoint.remote;
	send_peer(a, b);
	send_peer(b, a);
	log_info("rendezvous: introduced peer %u and peer %u to each other", a->id, b->id);
}

/* A peer whose NAT address changed since R last introduced it is introduced again to its
 * partners, at most once a second: both sides punch again. */
static void reintroduce(struct wg_device *dev, struct wg_peer *p)
{
	uint64_t now = wg_now(dev);

	if (!p->rdv.told.sa.sa_family || endpoint_equal(&p->rdv.told, &p->endpoint.remote) ||
	    !registered(p, now) || now - p->rdv.reintroduced_ns < NS_PER_S)
		return;
	p->rdv.reintroduced_ns = now;
	log_info("rendezvous: peer %u moved; introducing it again", p->id);
	for (unsigned int i = 0; i < p->rdv.partner_count; i++) {
		struct wg_peer *q = wg_peer_by_id(dev, p->rdv.partners[i]);

		if (q && registered(q, now))
			introduce(dev, p, q);
	}
}

void rdv_peer_moved(struct wg_peer *p)
{
	if (p->dev->rdv.mode == RDV_SERVE && p->endpoint.kind == TRANSPORT_UDP)
		reintroduce(p->dev, p);
}

/* Tells p where its datagrams come from: whether it is behind NAT. */
static void send_seen(struct wg_peer *p)
{
	struct rdv_msg m = { .type = RDV_SEEN, .observed = p->endpoint.remote };

	if (!send_msg(p, &m))
		log_debug("peer %u: cannot tell it its address (no session)", p->id);
}

/* HELLO, or the HELLO part of a QUERY: answered with SEEN. */
static void serve_hello(struct wg_device *dev, struct wg_peer *p, const struct rdv_msg *m)
{
	wg_write_lock(dev);
	__atomic_store_n(&p->rdv.registered_ns, wg_now(dev), __ATOMIC_RELAXED);
	p->rdv.accepts_relay = m->flags & RDV_F_RELAY;
	p->rdv.locals_mapped = (m->flags & RDV_F_MAPPED) && m->addr_count;
	p->rdv.local_count = m->addr_count;
	memcpy(p->rdv.locals, m->addrs, sizeof(m->addrs[0]) * m->addr_count);
	wg_unlock(dev);
	send_seen(p);
	reintroduce(dev, p); /* in case the move came before the peer registered */
}

/* Answered only about a peer of ours that speaks the extension (said HELLO lately) and asked
 * about the asker too. */
static void serve_query(struct wg_device *dev, struct wg_peer *p, const struct rdv_msg *m)
{
	struct wg_peer *q = wg_peer_by_key(dev, m->key);

	serve_hello(dev, p, m);
	if (!q || q == p) {
		log_debug("rendezvous: peer %u asked for a key that is not another peer of ours", p->id);
		return;
	}
	add_to_list(p->rdv.asked, &p->rdv.asked_count, q->id);
	if (!registered(q, wg_now(dev)) || !in_list(q->rdv.asked, q->rdv.asked_count, p->id)) {
		log_debug("rendezvous: peer %u asked for peer %u, which does not look for it (yet)",
			  p->id, q->id);
		return;
	}
	introduce(dev, p, q);
}

/* ---- clients: punching ---- */

/* A direct session that completed since this punch began. */
static bool direct_since(const struct wg_peer *p, uint64_t since_real_ns)
{
	return p->endpoint.kind == TRANSPORT_UDP && p->current &&
	       p->last_handshake_real_ns >= since_real_ns;
}

static bool is_direct(const struct wg_peer *p)
{
	return p->endpoint.kind == TRANSPORT_UDP && p->current && p->last_handshake_real_ns &&
	       realtime_ns() - p->last_handshake_real_ns < REJECT_AFTER_TIME * NS_PER_S;
}

/* Whether to ask R (again): never found; on the relay (a direct path may have opened); or
 * packets wait for a session that the last known address does not give. An idle peer is
 * left alone: the other side's question makes R introduce both anyway. */
static bool wants_path(struct wg_peer *p)
{
	unsigned int waiting;

	if (!endpoint_is_set(&p->endpoint.remote) || p->endpoint.kind == TRANSPORT_RELAY)
		return true;
	if (is_direct(p))
		return false;
	pthread_mutex_lock(&p->lock);
	waiting = p->staged_count;
	pthread_mutex_unlock(&p->lock);
	return waiting > 0;
}

static void add_candidate(struct wg_peer *p, const union endpoint *ep, int family)
{
	struct dgram_addr c = { .remote = *ep, .kind = TRANSPORT_UDP };

	if (!ep->sa.sa_family || endpoint_to_family(&c.remote, family) ||
	    p->rdv.cand_count == RDV_MAX_CANDIDATES)
		return;
	for (unsigned int i = 0; i < p->rdv.cand_count; i++)
		if (endpoint_equal(&p->rdv.cand[i].remote, &c.remote))
			return;
	p->rdv.cand[p->rdv.cand_count++] = c;
}

static void relay_through(struct wg_peer *p, struct wg_peer *server)
{
	struct dgram_addr via = { .remote = server->endpoint.remote, .local = server->endpoint.local,
				  .kind = TRANSPORT_RELAY, .conn = p->rdv.remote_id };

	log_info("peer %u: no direct path; relayed through the rendezvous", p->id);
	wg_peer_move(p, &via);
	wg_send_initiation(p, WG_INITIATION_NEW);
}

/* One round: an initiation to every candidate; after the last round, the relay if no direct
 * handshake came. */
static void punch_step(struct wg_peer *p, uint64_t now)
{
	struct wg_peer *server = server_of(p->dev);
	char buf[INET6_ADDRSTRLEN + 8];

	if (p->rdv.punch_round && direct_since(p, p->rdv.punch_start_real_ns)) {
		p->rdv.punching = false;
		log_info("peer %u: direct path to %s", p->id,
			 endpoint_format(&p->endpoint.remote, buf, sizeof(buf)));
		return;
	}
	if (p->rdv.punch_round < RDV_PUNCH_ROUNDS) {
		wg_send_initiation_to(p, p->rdv.cand, p->rdv.cand_count);
		p->rdv.punch_round++;
		p->rdv.punch_next_ns = now + RDV_PUNCH_INTERVAL_MS * NS_PER_MS;
		return;
	}
	p->rdv.punching = false;
	p->rdv.query_next_ns = now + RDV_RETRY_INTERVAL_S * NS_PER_S;
	if (p->endpoint.kind == TRANSPORT_RELAY)
		log_debug("peer %u: still no direct path; staying on the relay", p->id);
	else if (p->rdv.relay_offered && server)
		relay_through(p, server);
	else
		log_info("peer %u: no direct path, and no relay offered", p->id);
}

/* R told us where p is: punch. While relayed, the relay carries traffic meanwhile. */
static void serve_peer(struct wg_device *dev, const struct rdv_msg *m)
{
	struct wg_peer *p = wg_peer_by_key(dev, m->key);
	int family = socket_family(dev);

	if (!p || !p->rdv.managed) {
		log_debug("rendezvous: told about a key that is not a peer we look for");
		return;
	}
	p->rdv.cand_count = 0;
	add_candidate(p, &m->observed, family);
	for (unsigned int i = 0; i < m->addr_count; i++)
		add_candidate(p, &m->addrs[i], family);
	p->rdv.remote_id = m->peer_id;
	p->rdv.relay_offered = m->flags & RDV_F_RELAY;
	memset(&p->rdv.mapped, 0, sizeof(p->rdv.mapped));
	if ((m->flags & RDV_F_MAPPED) && m->addr_count) {
		p->rdv.mapped = m->addrs[0];
		if (endpoint_to_family(&p->rdv.mapped, family))
			memset(&p->rdv.mapped, 0, sizeof(p->rdv.mapped));
	}
	__atomic_store_n(&dev->engine->relay_id, m->your_id, __ATOMIC_RELAXED);
	if (!p->rdv.cand_count)
		return;
	if (!endpoint_is_set(&p->endpoint.remote))
		wg_peer_move(p, &p->rdv.cand[0]); /* traffic waits for a session meanwhile */
	log_info("peer %u: %u candidate address%s from the rendezvous; punching", p->id,
		 p->rdv.cand_count, p->rdv.cand_count == 1 ? "" : "es");
	p->rdv.punching = true;
	p->rdv.punch_round = 0;
	p->rdv.punch_start_real_ns = realtime_ns();
	punch_step(p, wg_now(dev));
}

/* ---- clients: keepalives behind NAT ---- */

/* Our address as R sees it is one of ours (address and port): no NAT between us and R. */
static enum rdv_nat nat_of(const struct wg_device *dev, const union endpoint *seen)
{
	unsigned int first = dev->rdv.extra.sa.sa_family && dev->rdv.local_count ? 1 : 0;

	for (unsigned int i = first; i < dev->rdv.local_count; i++)
		if (endpoint_equal(&dev->rdv.locals[i], seen))
			return RDV_NAT_NONE;
	return RDV_NAT_BEHIND;
}

static void serve_seen(struct wg_device *dev, const struct rdv_msg *m)
{
	enum rdv_nat nat = nat_of(dev, &m->observed);
	char buf[INET6_ADDRSTRLEN + 8];

	if (nat == dev->rdv.nat && endpoint_equal(&m->observed, &dev->rdv.seen))
		return;
	dev->rdv.nat = nat;
	dev->rdv.seen = m->observed;
	endpoint_format(&m->observed, buf, sizeof(buf));
	if (nat == RDV_NAT_NONE)
		log_info("rendezvous: the rendezvous sees us at %s, our own address: no keepalives",
			 buf);
	else
		log_info("rendezvous: the rendezvous sees us at %s: behind NAT; "
			 "keepalives every %u s", buf, dev->rdv.nat_keepalive_s);
}

/* Behind NAT: R and the peers reached directly get keepalives; no one else does. */
static uint16_t nat_keepalive_for(const struct wg_device *dev, const struct wg_peer *p,
				  const struct wg_peer *server)
{
	if (dev->rdv.nat != RDV_NAT_BEHIND)
		return 0;
	if (p == server)
		return dev->rdv.nat_keepalive_s;
	if (p->rdv.managed && p->endpoint.kind == TRANSPORT_UDP &&
	    endpoint_is_set(&p->endpoint.remote))
		return dev->rdv.nat_keepalive_s;
	return 0;
}

static void update_keepalives(struct wg_device *dev, struct wg_peer *server, uint64_t now)
{
	wg_for_each_peer(dev, p) {
		uint16_t want = nat_keepalive_for(dev, p, server);

		if (p->timers.nat_keepalive_interval == want)
			continue;
		pthread_mutex_lock(&p->lock);
		timers_set_nat_keepalive(&p->timers, now, want);
		wg_timers_changed(p);
		pthread_mutex_unlock(&p->lock);
		log_debug("peer %u: keepalive behind NAT %s", p->id, want ? "on" : "off");
	}
}

/* ---- the queue from the workers ---- */

void rdv_worker_control(struct worker *w, struct wg_peer *p, const uint8_t *msg, size_t len)
{
	struct rdv_device *r = &p->dev->rdv;
	struct rdv_queued *q;
	bool was_empty;

	if (len > RDV_MAX_MSG)
		len = RDV_MAX_MSG; /* padding; rdv_decode finds the real end */
	pthread_mutex_lock(&r->queue_lock);
	if (r->queue_count == RDV_QUEUE_LEN) {
		pthread_mutex_unlock(&r->queue_lock);
		worker_drop(w, DROP_RDV_QUEUE_FULL);
		return;
	}
	q = &r->queue[(r->queue_head + r->queue_count) % RDV_QUEUE_LEN];
	was_empty = r->queue_count++ == 0;
	memcpy(q->key, p->hs.remote_static, RDV_KEY_LEN);
	memcpy(q->data, msg, len);
	q->len = (uint16_t)len;
	pthread_mutex_unlock(&r->queue_lock);
	if (was_empty)
		engine_wake(w->engine);
}

static bool dequeue(struct rdv_device *r, struct rdv_queued *out)
{
	bool got;

	pthread_mutex_lock(&r->queue_lock);
	got = r->queue_count > 0;
	if (got) {
		*out = r->queue[r->queue_head];
		r->queue_head = (r->queue_head + 1) % RDV_QUEUE_LEN;
		r->queue_count--;
	}
	pthread_mutex_unlock(&r->queue_lock);
	return got;
}

/* Who may say what: R takes HELLO and QUERY from its peers; a client takes PEER from its R. */
static void handle(struct wg_device *dev, const struct rdv_queued *q)
{
	struct wg_peer *p = wg_peer_by_key(dev, q->key);
	struct rdv_msg m;

	if (!p || rdv_decode(q->data, q->len, &m)) {
		stats_drop(&dev->engine->stats, DROP_RDV_INVALID, 1);
		return;
	}
	if (dev->rdv.mode == RDV_SERVE && m.type == RDV_HELLO)
		serve_hello(dev, p, &m);
	else if (dev->rdv.mode == RDV_SERVE && m.type == RDV_QUERY)
		serve_query(dev, p, &m);
	else if (dev->rdv.mode == RDV_CLIENT && m.type == RDV_PEER && p == server_of(dev))
		serve_peer(dev, &m);
	else if (dev->rdv.mode == RDV_CLIENT && m.type == RDV_SEEN && p == server_of(dev))
		serve_seen(dev, &m);
	else
		stats_drop(&dev->engine->stats, DROP_RDV_INVALID, 1);
}

void rdv_serve(struct wg_device *dev)
{
	struct rdv_queued q;

	if (dev->rdv.mode == RDV_OFF)
		return;
	for (int i = 0; i < RDV_QUEUE_LEN && dequeue(&dev->rdv, &q); i++)
		handle(dev, &q);
}

/* ---- clients: the timer ---- */

static bool send_hello(struct wg_device *dev, struct wg_peer *server)
{
	struct rdv_msg m = { .type = RDV_HELLO, .flags = RDV_F_RELAY };

	refresh_locals(dev);
	put_locals(dev, &m);
	return send_msg(server, &m);
}

static bool send_query(struct wg_device *dev, struct wg_peer *server, struct wg_peer *p)
{
	struct rdv_msg m = { .type = RDV_QUERY, .flags = RDV_F_RELAY };

	memcpy(m.key, p->hs.remote_static, RDV_KEY_LEN);
	put_locals(dev, &m);
	return send_msg(server, &m);
}

/* No session with R: start one. WireGuard's timers retry after REKEY_TIMEOUT (5 s), but
 * nothing of the rendezvous works without R, and the first initiation is often lost (R, or
 * the network, still starting up): retry after 1 s, 2 s, 4 s, then every REKEY_TIMEOUT. */
static void connect_server(struct wg_device *dev, struct wg_peer *server, uint64_t now)
{
	uint64_t wait = dev->rdv.server_backoff_ns ? dev->rdv.server_backoff_ns : NS_PER_S;

	if (server->current || now - server->initiation_ns < wait)
		return;
	wg_send_initiation(server, WG_INITIATION_NEW);
	dev->rdv.server_backoff_ns = wait * 2 < REKEY_TIMEOUT * NS_PER_S ? wait * 2
								  : REKEY_TIMEOUT * NS_PER_S;
}

static void client_tick(struct wg_device *dev, uint64_t now)
{
	struct wg_peer *server = server_of(dev);

	if (!server)
		return;
	if (now >= dev->rdv.hello_next_ns) {
		if (send_hello(dev, server)) {
			dev->rdv.hello_next_ns = now + RDV_HELLO_INTERVAL_S * NS_PER_S;
			dev->rdv.server_backoff_ns = 0;
		} else {
			connect_server(dev, server, now);
			dev->rdv.hello_next_ns = now; /* at the next tick: as soon as it is up */
			return;
		}
	}
	update_keepalives(dev, server, now);
	wg_for_each_peer(dev, p) {
		if (!p->rdv.managed)
			continue;
		if (p->rdv.punching) {
			if (now >= p->rdv.punch_next_ns)
				punch_step(p, now);
		} else if (now >= p->rdv.query_next_ns && wants_path(p) &&
			   send_query(dev, server, p)) {
			p->rdv.query_next_ns = now + RDV_RETRY_INTERVAL_S * NS_PER_S;
		}
	}
}

static void on_timer(struct loop_timer *timer)
{
	struct rdv_device *r = container_of(timer, struct rdv_device, timer);
	struct wg_device *dev = container_of(r, struct wg_device, rdv);
	uint64_t now = dev->engine->loop.now_ns;

	if (r->mode == RDV_CLIENT)
		client_tick(dev, now);
	timer->deadline_ns = now + RDV_TICK_MS * NS_PER_MS;
}

int rdv_start(struct wg_device *dev)
{
	if (dev->rdv.mode != RDV_CLIENT)
		return 0;
	dev->rdv.timer.fire = on_timer;
	dev->rdv.timer.deadline_ns = dev->engine->loop.now_ns + 1;
	return loop_add_timer(&dev->engine->loop, &dev->rdv.timer);
}

void rdv_free(struct wg_device *dev)
{
	wgcrypto_wipe(dev->rdv.queue, sizeof(dev->rdv.queue));
	dev->rdv.queue_count = 0;
}

/* ---- relay envelopes, on the workers ---- */

/* R: both are ours, R introduced them, both spoke lately, the receiver accepts relaying. */
static bool may_relay(const struct wg_peer *src, const struct wg_peer *dst, uint64_t now)
{
	return registered(src, now) && registered(dst, now) && dst->rdv.accepts_relay &&
	       is_partner(src, dst->id) && endpoint_is_set(&dst->endpoint.remote);
}

static size_t forward(struct worker *w, struct wg_device *dev, const uint8_t *dgram, size_t len,
		      const struct dgram_addr *from, const struct rdv_relay_header *h)
{
	struct wg_peer *src = wg_peer_by_id(dev, h->src), *dst = wg_peer_by_id(dev, h->dst);
	uint64_t now = w->loop.now_ns;

	/* the sender's id must be the peer whose authenticated endpoint this came from */
	if (!src || !dst || src == dst || !endpoint_equal(&src->endpoint.remote, &from->remote) ||
	    !may_relay(src, dst, now)) {
		if (src)
			__atomic_fetch_add(&src->rdv.relay_denied, 1, __ATOMIC_RELAXED);
		worker_drop(w, DROP_RELAY_DENIED);
		return 0;
	}
	if (!rdv_budget_take(&src->rdv.budget, now, len, RDV_RELAY_PEER_RATE) ||
	    !rdv_budget_take(&dev->rdv.total_budget, now, len, RDV_RELAY_TOTAL_RATE)) {
		worker_drop(w, DROP_RELAY_RATELIMITED);
		return 0;
	}
	if (worker_send(w, dgram, len, &dst->endpoint) == 0) {
		__atomic_fetch_add(&src->rdv.relayed_bytes, len, __ATOMIC_RELAXED);
		stats_add(&w->stats.relayed_packets, 1);
		stats_add(&w->stats.relayed_bytes, len);
	}
	return 0;
}

size_t rdv_worker_relay(struct worker *w, uint8_t *dgram, size_t len,
			const struct dgram_addr *from, uint8_t **ip)
{
	struct wg_device *dev = w->tunnel;
	struct rdv_relay_header h;
	struct wg_peer *server;
	struct dgram_addr via;

	if (rdv_relay_parse(dgram, len, &h)) {
		worker_drop(w, DROP_BAD_HEADER);
		return 0;
	}
	if (dev->rdv.mode == RDV_SERVE)
		return forward(w, dev, dgram, len, from, &h);
	server = server_of(dev);
	if (!server || from->kind != TRANSPORT_UDP ||
	    !endpoint_equal(&server->endpoint.remote, &from->remote)) {
		worker_drop(w, DROP_RELAY_DENIED);
		return 0;
	}
	via = (struct dgram_addr){ .remote = from->remote, .local = from->local,
				   .kind = TRANSPORT_RELAY, .conn = h.src };
	return wg_decap(w, dgram + RDV_RELAY_HEADER_LEN, len - RDV_RELAY_HEADER_LEN, &via, ip);
}
