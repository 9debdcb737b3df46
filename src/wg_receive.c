/* WireGuard receive path: data messages to the TUN (decrypt in place, replay window, source
 * check, roaming), handshake messages, and cookie replies under load. */
#include "wg.h"
#include "log.h"
#include "packet.h"

#include <endian.h>
#include <string.h>
#include <time.h>

static uint64_t now_ns(struct wg_device *dev)
{
	return dev->worker->loop->now_ns;
}

/* Roaming: only ever called after the packet from `from` was authenticated. */
static void update_endpoint(struct wg_peer *p, const union endpoint *from)
{
	char buf[INET6_ADDRSTRLEN + 8];

	if (endpoint_equal(&p->endpoint, from))
		return;
	p->endpoint = *from;
	p->dev->worker->stats.endpoint_changes++;
	log_info("peer %u: endpoint is now %s", p->id, endpoint_format(from, buf, sizeof(buf)));
}

static void received_event(struct wg_peer *p, size_t len)
{
	uint64_t now = now_ns(p->dev);

	p->rx_bytes += len;
	p->dev->worker->stats.rx_packets++;
	p->dev->worker->stats.rx_bytes += len;
	timers_any_authenticated_packet_received(&p->timers, now);
	timers_any_authenticated_packet_traversal(&p->timers, now);
}

static void handshake_done(struct wg_peer *p)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	p->last_handshake_real_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	timers_handshake_complete(&p->timers, now_ns(p->dev));
	log_info("peer %u (%s): handshake complete", p->id, p->short_key);
}

/* Decrypts in place. Returns the plaintext length, or -1 with the packet dropped. */
static long open_data(struct worker *w, struct wg_session *s, uint8_t *dgram, size_t len)
{
	const struct message_data *hdr = (const struct message_data *)dgram;
	uint64_t counter = le64toh(hdr->counter);
	size_t ct_len = len - MESSAGE_DATA_HEADER_LEN;

	if (timers_keypair_expired(s->kp.birth_ns, counter, w->loop->now_ns)) {
		worker_drop(w, DROP_KEY_EXPIRED);
		return -1;
	}
	if (!wgcrypto_aead_open(&s->kp.recv, dgram + MESSAGE_DATA_HEADER_LEN,
				dgram + MESSAGE_DATA_HEADER_LEN, ct_len, counter, NULL, 0)) {
		worker_drop(w, DROP_DECRYPT);
		return -1;
	}
	if (!replay_check_and_update(&s->replay, counter)) {
		worker_drop(w, DROP_REPLAY);
		return -1;
	}
	return (long)(ct_len - NOISE_AUTHTAG_LEN);
}

static void session_confirmed(struct wg_peer *p, struct wg_session *s)
{
	if (s == &p->next) {
		wg_peer_promote_next(p);
		handshake_done(p);
		if (p->staged_count)
			wg_send_staged(p);
	}
	if (timers_lastminute_rekey(&p->timers, p->current.kp.birth_ns, p->current.kp.is_initiator,
				    now_ns(p->dev)))
		wg_want_handshake(p);
}

/* Checks the inner packet, then hands it to the TUN; a keepalive stops here. */
static size_t inner_packet(struct wg_peer *p, uint8_t *plain, size_t len, uint8_t **ip)
{
	struct worker *w = p->dev->worker;
	enum drop_reason why;
	size_t ip_len;

	if (!len) {
		w->stats.keepalives_received++;
		return 0;
	}
	ip_len = ip_packet_length(plain, len, &why);
	if (!ip_len) {
		worker_drop(w, why);
		return 0;
	}
	if (allowedips_lookup_packet_src(&p->dev->allowedips, plain, ip_len) != p) {
		worker_drop(w, DROP_SOURCE_NOT_ALLOWED);
		return 0;
	}
	timers_data_received(&p->timers, now_ns(p->dev));
	*ip = plain;
	return ip_len;
}

static size_t receive_data(struct worker *w, uint8_t *dgram, size_t len,
			   const union endpoint *from, uint8_t **ip)
{
	struct wg_device *dev = w->tunnel;
	const struct message_data *hdr = (const struct message_data *)dgram;
	struct wg_peer *p;
	struct wg_session *s;
	long plain_len;
	size_t ip_len;

	if (len < MESSAGE_DATA_MIN_LEN) {
		worker_drop(w, DROP_SHORT);
		return 0;
	}
	s = wg_session_by_index(dev, le32toh(hdr->receiver_index), &p);
	if (!s) {
		worker_drop(w, DROP_UNKNOWN_INDEX);
		return 0;
	}
	plain_len = open_data(w, s, dgram, len);
	if (plain_len < 0)
		return 0;
	update_endpoint(p, from);
	received_event(p, len);
	session_confirmed(p, s);
	ip_len = inner_packet(p, dgram + MESSAGE_DATA_HEADER_LEN, (size_t)plain_len, ip);
	wg_timers_changed(p);
	return ip_len;
}

/* Under load (many handshakes per second) an initiation or response must prove, with mac2,
 * that its sender can receive at its source address; otherwise it gets a cookie reply. */
static bool under_load(struct wg_device *dev)
{
	uint64_t now = now_ns(dev);

	if (now - dev->load_window_start_ns >= 1000000000ull) {
		dev->load_window_start_ns = now;
		dev->handshakes_in_window = 0;
	}
	if (++dev->handshakes_in_window > WG_LOAD_HANDSHAKES_PER_SECOND)
		dev->under_load_until_ns = now + 1000000000ull;
	return now < dev->under_load_until_ns;
}

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

/* Returns true if the message may be processed further. */
static bool check_macs(struct wg_device *dev, const void *msg, size_t len,
		       const union endpoint *from)
{
	struct worker *w = dev->worker;
	uint8_t src[NOISE_COOKIE_SOURCE_MAX];
	size_t src_len = cookie_source(from, src);
	bool load = under_load(dev);
	struct message_handshake_cookie reply;
	enum noise_cookie_mac_state state = noise_cookie_validate(
		&dev->cookie_checker, &dev->identity, msg, len, src, src_len, load, now_ns(dev));

	if (state == NOISE_COOKIE_INVALID_MAC) {
		worker_drop(w, DROP_HANDSHAKE_INVALID);
		return false;
	}
	if (!load || state == NOISE_COOKIE_VALID_MAC_WITH_COOKIE)
		return true;
	if (noise_cookie_create_reply(&dev->cookie_checker, &dev->identity, &reply, msg, len, src,
				      src_len, now_ns(dev)))
		worker_send(w, &reply, sizeof(reply), from);
	worker_drop(w, DROP_COOKIE_SENT);
	return false;
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
	uint64_t now = now_ns(dev);

	if (!wg_new_index(dev, &index) ||
	    noise_handshake_create_response(&p->hs, &p->cookie, &dev->identity, &msg, index, now) ||
	    noise_handshake_begin_session(&p->hs, &kp, now)) {
		log_ratelimited(LOG_WARN, now, "peer %u: cannot create a handshake response", p->id);
		return;
	}
	wg_session_install(&p->next, &kp);
	dev->last_session = NULL;
	worker_send(dev->worker, &msg, sizeof(msg), &p->endpoint);
	timers_response_sent(&p->timers, now);
	timers_session_derived(&p->timers, now);
	timers_any_authenticated_packet_sent(&p->timers, now);
	timers_any_authenticated_packet_traversal(&p->timers, now);
}

static void receive_initiation(struct wg_device *dev, const uint8_t *dgram, size_t len,
			       const union endpoint *from)
{
	struct noise_handshake *hs;
	struct wg_peer *p;
	enum noise_result r;

	if (len != MESSAGE_INITIATION_LEN) {
		worker_drop(dev->worker, DROP_HANDSHAKE_INVALID);
		return;
	}
	if (!check_macs(dev, dgram, len, from))
		return;
	r = noise_handshake_consume_initiation(&dev->identity, (const void *)dgram, lookup_handshake,
					       dev, now_ns(dev), &hs);
	if (r != NOISE_OK) {
		log_ratelimited(LOG_DEBUG, now_ns(dev), "invalid initiation: %s", noise_result_str(r));
		worker_drop(dev->worker, DROP_HANDSHAKE_INVALID);
		return;
	}
	p = container_of(hs, struct wg_peer, hs);
	log_debug("peer %u: received handshake initiation", p->id);
	update_endpoint(p, from);
	received_event(p, len);
	send_response(p);
	wg_timers_changed(p);
}

static void receive_response(struct wg_device *dev, const uint8_t *dgram, size_t len,
			     const union endpoint *from)
{
	const struct message_handshake_response *msg = (const void *)dgram;
	struct noise_keypair kp = { 0 };
	struct wg_peer *p;
	uint64_t now = now_ns(dev);

	if (len != MESSAGE_RESPONSE_LEN) {
		worker_drop(dev->worker, DROP_HANDSHAKE_INVALID);
		return;
	}
	if (!check_macs(dev, dgram, len, from))
		return;
	p = wg_peer_by_handshake_index(dev, le32toh(msg->receiver_index));
	if (!p || noise_handshake_consume_response(&p->hs, &dev->identity, msg) != NOISE_OK ||
	    noise_handshake_begin_session(&p->hs, &kp, now) != NOISE_OK) {
		worker_drop(dev->worker, DROP_HANDSHAKE_INVALID);
		return;
	}
	/* The initiator may use the new session at once: the response proves the peer has it. */
	wg_session_clear(&p->next);
	wg_session_clear(&p->prev);
	p->prev = p->current;
	memset(&p->current, 0, sizeof(p->current));
	wg_session_install(&p->current, &kp);
	dev->last_session = NULL;
	update_endpoint(p, from);
	timers_session_derived(&p->timers, now);
	received_event(p, len);
	handshake_done(p);
	wg_send_staged(p);
	wg_timers_changed(p);
}

static void receive_cookie(struct wg_device *dev, const uint8_t *dgram, size_t len)
{
	const struct message_handshake_cookie *msg = (const void *)dgram;
	uint32_t index = le32toh(msg->receiver_index);
	struct wg_peer *p = NULL;

	if (len != MESSAGE_COOKIE_LEN) {
		worker_drop(dev->worker, DROP_HANDSHAKE_INVALID);
		return;
	}
	if (!wg_session_by_index(dev, index, &p))
		p = wg_peer_by_handshake_index(dev, index);
	if (!p || noise_cookie_consume_reply(&p->cookie, msg, now_ns(dev)) != NOISE_OK)
		worker_drop(dev->worker, DROP_HANDSHAKE_INVALID);
}

static size_t wg_decap(struct worker *w, uint8_t *dgram, size_t len, const union endpoint *from,
		       uint8_t **ip)
{
	struct wg_device *dev = w->tunnel;
	uint32_t type;

	if (len < sizeof(type)) {
		worker_drop(w, DROP_SHORT);
		return 0;
	}
	memcpy(&type, dgram, sizeof(type));
	switch (le32toh(type)) {
	case MESSAGE_DATA:
		return receive_data(w, dgram, len, from, ip);
	case MESSAGE_HANDSHAKE_INITIATION:
		receive_initiation(dev, dgram, len, from);
		return 0;
	case MESSAGE_HANDSHAKE_RESPONSE:
		receive_response(dev, dgram, len, from);
		return 0;
	case MESSAGE_HANDSHAKE_COOKIE:
		receive_cookie(dev, dgram, len);
		return 0;
	}
	worker_drop(w, DROP_BAD_HEADER);
	return 0;
}

const struct tunnel_ops wg_ops = { .encap = wg_encap, .decap = wg_decap };
