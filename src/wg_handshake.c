/* The handshake thread's work (the engine's control thread): the queue of handshake messages
 * from the workers, initiations, responses, cookie replies, and the requests workers post.
 *
 * Workers only copy handshake messages into a bounded queue. Here, each is checked in order
 * of cost: mac1 (cheap), then mac2 and per-source token buckets (see admit), with a cookie
 * reply for senders that must prove their address, and only then the Diffie-Hellman work. A flood therefore costs workers a copy and this
 * thread a MAC, and never delays data packets, which do not pass through here. */
#include "wg.h"
#include "log.h"

#include <endian.h>
#include <string.h>
#include <time.h>

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct stats *control_stats(struct wg_device *dev)
{
	return &dev->engine->stats;
}

static void drop(struct wg_device *dev, enum drop_reason why)
{
	stats_drop(control_stats(dev), why, 1);
	log_ratelimited(LOGL_DEBUG, wg_now(dev), "dropped handshake message: %s",
			stats_drop_reason_name(why));
}

static void send_message_to(struct wg_peer *p, const void *msg, size_t len,
			    const struct dgram_addr *to)
{
	if (worker_send(engine_sender(p->dev->engine), msg, len, to) == 0)
		__atomic_fetch_add(&p->tx_bytes, len, __ATOMIC_RELAXED);
}

static void send_message(struct wg_peer *p, const void *msg, size_t len)
{
	send_message_to(p, msg, len, &p->endpoint);
}

/* ---- the queue ---- */

bool wg_queue_handshake(struct wg_device *dev, const uint8_t *msg, size_t len,
			const struct dgram_addr *from)
{
	struct wg_queued_message *m;
	bool was_empty;

	pthread_mutex_lock(&dev->queue_lock);
	if (dev->queue_count == WG_HANDSHAKE_QUEUE_LEN) {
		pthread_mutex_unlock(&dev->queue_lock);
		return false;
	}
	m = &dev->queue[(dev->queue_head + dev->queue_count) % WG_HANDSHAKE_QUEUE_LEN];
	was_empty = dev->queue_count++ == 0;
	memcpy(m->data, msg, len);
	m->len = (uint16_t)len;
	m->from = *from;
	pthread_mutex_unlock(&dev->queue_lock);
	if (was_empty)
		engine_wake(dev->engine);
	return true;
}

/* Takes the oldest message; *backlog is how many were queued with it. */
static bool dequeue(struct wg_device *dev, struct wg_queued_message *out, unsigned int *backlog)
{
	pthread_mutex_lock(&dev->queue_lock);
	*backlog = dev->queue_count;
	if (dev->queue_count) {
		*out = dev->queue[dev->queue_head];
		dev->queue_head = (dev->queue_head + 1) % WG_HANDSHAKE_QUEUE_LEN;
		dev->queue_count--;
	}
	pthread_mutex_unlock(&dev->queue_lock);
	return *backlog > 0;
}

/* ---- checks before the Diffie-Hellman work ---- */

static size_t cookie_source(const union endpoint *from, uint8_t out[NOISE_COOKIE_SOURCE_MAX])
{
	if (from->sa.sa_family == AF_INET6) {
		memcpy(out, &from->in6.sin6_addr, 16);
		memcpy(out + 16, &from->in6.sin6_port, 2);
		return 18;
	}
	memcpy(out, &from->in.sin_addr, 4);
	memcpy(out + 4, &from->in.sin_port, 2);
	return 6;
}

/* Under load while an eighth of the queue waits, and for a second after, as the Linux module:
 * a flood that comes in waves does not get a fresh start with each wave. */
static bool under_load(struct wg_device *dev, unsigned int backlog)
{
	uint64_t now = wg_now(dev);

	if (backlog >= WG_UNDER_LOAD_QUEUE_LEN)
		dev->under_load_until_ns = now + 1000000000ull;
	return now < dev->under_load_until_ns;
}

static void send_cookie(struct wg_device *dev, const struct wg_queued_message *m,
			const uint8_t *src, size_t src_len)
{
	struct message_handshake_cookie reply;

	if (noise_cookie_create_reply(&dev->cookie_checker, &dev->identity, &reply, m->data, m->len,
				      src, src_len, wg_now(dev)))
		worker_send(engine_sender(dev->engine), &reply, sizeof(reply), &m->from);
	drop(dev, DROP_COOKIE_SENT);
}

/* True if the message may cost a Diffie-Hellman. mac1 must be valid. A sender that proved its
 * address with a cookie (mac2) gets WG_HANDSHAKES_PER_SECOND per source address, past which
 * it is dropped. A sender that did not must prove it with a cookie reply when the device is
 * under load, or when its own address went past its budget: a flood from one address costs
 * us a cookie reply per message, and a spoofer of that address cannot use up the budget of
 * the real peer there, which answers the cookie. */
static bool admit(struct wg_device *dev, const struct wg_queued_message *m, unsigned int backlog)
{
	uint8_t src[NOISE_COOKIE_SOURCE_MAX];
	size_t src_len = cookie_source(&m->from.remote, src);
	enum noise_cookie_mac_state state = noise_cookie_validate(
		&dev->cookie_checker, &dev->identity, m->data, m->len, src, src_len, true,
		wg_now(dev));

	if (state == NOISE_COOKIE_INVALID_MAC) {
		drop(dev, DROP_HANDSHAKE_INVALID);
		return false;
	}
	if (state == NOISE_COOKIE_VALID_MAC_WITH_COOKIE) {
		if (ratelimiter_allow(&dev->proven_ratelimiter, &m->from.remote.sa, wg_now(dev)))
			return true;
		drop(dev, DROP_RATELIMITED);
		return false;
	}
	if (under_load(dev, backlog) ||
	    !ratelimiter_allow(&dev->ratelimiter, &m->from.remote.sa, wg_now(dev))) {
		send_cookie(dev, m, src, src_len);
		return false;
	}
	return true;
}

/* ---- messages ---- */

static void handshake_done(struct wg_peer *p)
{
	p->last_handshake_real_ns = realtime_ns();
	pthread_mutex_lock(&p->lock);
	timers_handshake_complete(&p->timers, wg_now(p->dev));
	wg_timers_changed(p);
	pthread_mutex_unlock(&p->lock);
	log_info("peer %u (%s): handshake complete", p->id, p->short_key);
}

static void received(struct wg_peer *p, size_t len)
{
	uint64_t now = wg_now(p->dev);

	stats_add(&control_stats(p->dev)->rx_packets, 1);
	stats_add(&control_stats(p->dev)->rx_bytes, len);
	stats_add(&control_stats(p->dev)->handshakes_received, 1);
	__atomic_fetch_add(&p->rx_bytes, len, __ATOMIC_RELAXED);
	timers_any_authenticated_packet_received(&p->timers, now);
	timers_any_authenticated_packet_traversal(&p->timers, now);
}

void wg_peer_move(struct wg_peer *p, const struct dgram_addr *from)
{
	char buf[INET6_ADDRSTRLEN + 8];

	if (dgram_addr_equal(&p->endpoint, from))
		return;
	if (!endpoint_equal(&p->endpoint.remote, &from->remote)) {
		stats_add(&control_stats(p->dev)->endpoint_changes, 1);
		log_info("peer %u: endpoint is now %s", p->id,
			 endpoint_format(&from->remote, buf, sizeof(buf)));
	}
	if (p->endpoint.kind != from->kind && endpoint_is_set(&p->endpoint.remote)) {
		__atomic_fetch_add(&p->transport_switches, 1, __ATOMIC_RELAXED);
		stats_add(&control_stats(p->dev)->transport_switches, 1);
		log_info("peer %u: now over %s", p->id, wg_transport_name(from));
		if (p->endpoint.kind == TRANSPORT_TCP && !p->endpoint.conn && p->dev->engine &&
		    p->dev->engine->tcp)
			transport_tcp_retire(p->dev->engine->tcp, &p->endpoint.remote);
	}
	wg_write_lock(p->dev);
	p->endpoint = *from;
	wg_unlock(p->dev);
	rdv_peer_moved(p);
}

static void set_endpoint(struct wg_peer *p, const struct dgram_addr *from)
{
	wg_peer_move(p, from);
}

/* What a user can act on is said at info level (rate limited): a key that is not one of our
 * peers, or a message made with the wrong keys. The rest (replays, stale indices) is routine. */
static void explain_rejection(struct wg_device *dev, const char *what, const struct dgram_addr *from,
			      enum noise_result r)
{
	char addr[INET6_ADDRSTRLEN + 8];

	endpoint_format(&from->remote, addr, sizeof(addr));
	if (r == NOISE_ERR_UNKNOWN_PEER)
		log_ratelimited(LOGL_INFO, wg_now(dev), "handshake %s from %s rejected: its public key is not one of our peers'",
				what, addr);
	else if (r == NOISE_ERR_DECRYPT || r == NOISE_ERR_DH)
		log_ratelimited(LOGL_INFO, wg_now(dev), "handshake %s from %s rejected: not made with our public key, or a wrong preshared key",
				what, addr);
	else
		log_ratelimited(LOGL_DEBUG, wg_now(dev), "handshake %s from %s rejected: %s", what, addr,
				noise_result_str(r));
}

static struct noise_handshake *lookup_handshake(void *ctx, const uint8_t key[NOISE_PUBLIC_KEY_LEN])
{
	struct wg_peer *p = wg_peer_by_key(ctx, key);

	return p ? &p->hs : NULL;
}

static void send_response(struct wg_peer *p)
{
	struct wg_device *dev = p->dev;
	struct message_handshake_response msg;
	struct noise_keypair kp = { 0 };
	uint32_t index;
	uint64_t now = wg_now(dev);
	int ret;

	if (!wg_new_index(dev, &index) ||
	    noise_handshake_create_response(&p->hs, &p->cookie, &dev->identity, &msg, index, now) ||
	    noise_handshake_begin_session(&p->hs, &kp, now)) {
		log_ratelimited(LOGL_WARN, now, "peer %u: cannot create a handshake response", p->id);
		return;
	}
	wg_write_lock(dev);
	wg_sync_handshake_index(p);
	ret = wg_keypairs_install(p, &kp, false);
	wg_unlock(dev);
	if (ret)
		return;
	send_message(p, &msg, sizeof(msg));
	pthread_mutex_lock(&p->lock);
	timers_response_sent(&p->timers, now);
	timers_session_derived(&p->timers, now);
	timers_any_authenticated_packet_sent(&p->timers, now);
	timers_any_authenticated_packet_traversal(&p->timers, now);
	wg_timers_changed(p);
	pthread_mutex_unlock(&p->lock);
}

static void receive_initiation(struct wg_device *dev, const struct wg_queued_message *m)
{
	struct noise_handshake *hs;
	struct wg_peer *p;
	enum noise_result r;

	r = noise_handshake_consume_initiation(&dev->identity, (const void *)m->data,
					       lookup_handshake, dev, wg_now(dev), &hs);
	if (r != NOISE_OK) {
		explain_rejection(dev, "initiation", &m->from, r);
		drop(dev, DROP_HANDSHAKE_INVALID);
		return;
	}
	p = container_of(hs, struct wg_peer, hs);
	log_debug("peer %u: received handshake initiation", p->id);
	/* The peer's UDP reaches us and our response goes back the same way: as good a sign
	 * that UDP works as a cookie reply, so two peers starting together stay on UDP. */
	if (m->from.kind == TRANSPORT_UDP)
		p->udp_answer_ns = wg_now(dev);
	set_endpoint(p, &m->from);
	pthread_mutex_lock(&p->lock);
	received(p, m->len);
	pthread_mutex_unlock(&p->lock);
	send_response(p);
}

static void receive_response(struct wg_device *dev, const struct wg_queued_message *m)
{
	const struct message_handshake_response *msg = (const void *)m->data;
	struct noise_keypair kp = { 0 };
	struct wg_peer *p = wg_peer_by_handshake_index(dev, le32toh(msg->receiver_index));
	uint64_t now = wg_now(dev);
	enum noise_result r = p ? noise_handshake_consume_response(&p->hs, &dev->identity, msg)
				: NOISE_ERR_INDEX;
	int ret;

	if (r == NOISE_OK)
		r = noise_handshake_begin_session(&p->hs, &kp, now);
	if (r != NOISE_OK) {
		explain_rejection(dev, "response", &m->from, r);
		drop(dev, DROP_HANDSHAKE_INVALID);
		return;
	}
	wg_write_lock(dev);
	wg_sync_handshake_index(p);
	ret = wg_keypairs_install(p, &kp, true);
	wg_unlock(dev);
	if (ret)
		return;
	set_endpoint(p, &m->from);
	pthread_mutex_lock(&p->lock);
	timers_session_derived(&p->timers, now);
	received(p, m->len);
	pthread_mutex_unlock(&p->lock);
	handshake_done(p);
	wg_send_staged(p);
}

static void receive_cookie(struct wg_device *dev, const struct wg_queued_message *m)
{
	const struct message_handshake_cookie *msg = (const void *)m->data;
	uint32_t index = le32toh(msg->receiver_index);
	struct wg_peer *p = NULL;

	if (!wg_session_by_index(dev, index, &p))
		p = wg_peer_by_handshake_index(dev, index);
	if (!p || noise_cookie_consume_reply(&p->cookie, msg, wg_now(dev)) != NOISE_OK) {
		drop(dev, DROP_HANDSHAKE_INVALID);
		return;
	}
	if (m->from.kind == TRANSPORT_UDP)
		p->udp_answer_ns = wg_now(dev); /* a busy peer, not a blocked path */
}

static void handle(struct wg_device *dev, const struct wg_queued_message *m, unsigned int backlog)
{
	uint32_t type;

	memcpy(&type, m->data, sizeof(type));
	switch (le32toh(type)) {
	case MESSAGE_HANDSHAKE_INITIATION:
		if (admit(dev, m, backlog))
			receive_initiation(dev, m);
		break;
	case MESSAGE_HANDSHAKE_RESPONSE:
		if (admit(dev, m, backlog))
			receive_response(dev, m);
		break;
	case MESSAGE_HANDSHAKE_COOKIE:
		receive_cookie(dev, m);
		break;
	}
}

/* Serves the queue in slices, so that requests and the UAPI get their turn during a flood. */
void wg_serve_handshakes(struct wg_device *dev)
{
	struct wg_queued_message m;
	unsigned int backlog;

	for (int i = 0; i < 256 && dequeue(dev, &m, &backlog); i++) {
		dev->engine->loop.now_ns = loop_clock_ns();
		handle(dev, &m, backlog);
	}
	wgcrypto_wipe(&m, sizeof(m));
	pthread_mutex_lock(&dev->queue_lock);
	backlog = dev->queue_count;
	pthread_mutex_unlock(&dev->queue_lock);
	if (backlog)
		engine_wake(dev->engine);
}

/* One initiation to each of to[0..count). */
static void initiate(struct wg_peer *p, const struct dgram_addr *to, unsigned int count,
		     bool is_retry)
{
	struct wg_device *dev = p->dev;
	struct message_handshake_initiation msg;
	uint32_t index;
	uint64_t now = wg_now(dev);

	if (!wg_new_index(dev, &index) ||
	    noise_handshake_create_initiation(&p->hs, &p->cookie, &dev->identity, &msg, index,
					      realtime_ns(), now) != NOISE_OK) {
		log_ratelimited(LOGL_WARN, now, "peer %u: cannot create a handshake initiation", p->id);
		return;
	}
	wg_write_lock(dev);
	wg_sync_handshake_index(p);
	wg_unlock(dev);
	log_debug("peer %u: sending handshake initiation%s over %s%s", p->id,
		  is_retry ? " (retry)" : "", wg_transport_name(to), count > 1 ? " to each candidate" : "");
	for (unsigned int i = 0; i < count; i++)
		send_message_to(p, &msg, sizeof(msg), &to[i]);
	pthread_mutex_lock(&p->lock);
	timers_handshake_initiated(&p->timers, now, dev->prng += 0x9e3779b97f4a7c15ull);
	timers_any_authenticated_packet_sent(&p->timers, now);
	timers_any_authenticated_packet_traversal(&p->timers, now);
	wg_timers_changed(p);
	pthread_mutex_unlock(&p->lock);
}

void wg_send_initiation(struct wg_peer *p, enum wg_initiation_why why)
{
	struct dgram_addr to;

	if (!endpoint_is_set(&p->endpoint.remote))
		return;
	wg_transport_pick(p, why, &to);
	initiate(p, &to, 1, why == WG_INITIATION_RETRY);
}

void wg_send_initiation_to(struct wg_peer *p, const struct dgram_addr *to, unsigned int count)
{
	if (count)
		initiate(p, to, count, false);
}

/* ---- requests from the workers ---- */

static void promote(struct wg_peer *p)
{
	uint32_t index;
	bool promoted;

	pthread_mutex_lock(&p->lock);
	index = p->promote_index;
	pthread_mutex_unlock(&p->lock);
	wg_write_lock(p->dev);
	promoted = wg_keypairs_promote(p, index);
	wg_unlock(p->dev);
	if (!promoted)
		return;
	handshake_done(p);
	pthread_mutex_lock(&p->lock);
	if (!p->staged_count) {
		pthread_mutex_unlock(&p->lock);
		return;
	}
	pthread_mutex_unlock(&p->lock);
	wg_send_staged(p);
}

static void roam(struct wg_peer *p)
{
	struct dgram_addr to;

	pthread_mutex_lock(&p->lock);
	to = p->roam_to;
	pthread_mutex_unlock(&p->lock);
	set_endpoint(p, &to);
}

static void serve(struct wg_peer *p, unsigned int requests)
{
	if (requests & WG_REQ_ROAM)
		roam(p);
	if (requests & WG_REQ_PROMOTE)
		promote(p);
	if (requests & WG_REQ_INITIATE)
		wg_want_handshake(p);
	if (requests & WG_REQ_PMTU)
		wg_pmtu_serve(p);
}

void wg_serve_requests(struct wg_device *dev)
{
	for (;;) {
		struct wg_peer *p;
		unsigned int requests;

		pthread_mutex_lock(&dev->requests_lock);
		p = dev->requests;
		if (p) {
			dev->requests = p->request_next;
			requests = p->requests;
			p->requests = 0;
			p->request_next = NULL;
		}
		pthread_mutex_unlock(&dev->requests_lock);
		if (!p)
			return;
		serve(p, requests);
	}
}
