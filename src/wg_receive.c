/* WireGuard receive path on the workers: data messages to the TUN (decrypt in place, replay
 * window, source check), handshake messages queued for the control thread. What changes
 * shared state (roaming, confirming a session) is posted to the control thread as a request. */
#include "wg.h"
#include "log.h"
#include "packet.h"

#include <endian.h>
#include <string.h>

/* Decrypts in place. Returns the plaintext length, or -1 with the packet dropped. */
static long open_data(struct worker *w, struct wg_session *s, uint8_t *dgram, size_t len)
{
	uint64_t counter;
	size_t ct_len = len - MESSAGE_DATA_HEADER_LEN;
	struct wgcrypto_aead_key *key = wg_session_cipher(s, w->id, false);
	bool fresh;

	memcpy(&counter, dgram + offsetof(struct message_data, counter), sizeof(counter));
	counter = le64toh(counter);
	if (timers_keypair_expired(s->kp.birth_ns, counter, w->loop.now_ns)) {
		worker_drop(w, DROP_KEY_EXPIRED);
		return -1;
	}
	if (!key) {
		worker_drop(w, DROP_CRYPTO);
		return -1;
	}
	if (!wgcrypto_aead_open(key, dgram + MESSAGE_DATA_HEADER_LEN,
				dgram + MESSAGE_DATA_HEADER_LEN, ct_len, counter, NULL, 0)) {
		worker_drop(w, DROP_DECRYPT);
		return -1;
	}
	pthread_spin_lock(&s->replay_lock);
	fresh = replay_check_and_update(&s->replay, counter);
	pthread_spin_unlock(&s->replay_lock);
	if (!fresh) {
		worker_drop(w, DROP_REPLAY);
		return -1;
	}
	return (long)(ct_len - NOISE_AUTHTAG_LEN);
}

/* Roaming: only ever called after the packet from `from` was authenticated. */
static void maybe_roam(struct wg_peer *p, const struct dgram_addr *from)
{
	if (dgram_addr_equal(&p->endpoint, from))
		return;
	pthread_mutex_lock(&p->lock);
	p->roam_to = *from;
	pthread_mutex_unlock(&p->lock);
	wg_peer_request(p, WG_REQ_ROAM);
}

static void confirm_session(struct wg_peer *p, struct wg_session *s)
{
	if (s != p->next)
		return;
	__atomic_store_n(&s->confirmed, true, __ATOMIC_RELEASE);
	pthread_mutex_lock(&p->lock);
	p->promote_index = s->index.index;
	pthread_mutex_unlock(&p->lock);
	wg_peer_request(p, WG_REQ_PROMOTE);
}

/* Checks the inner packet, then hands it to the TUN; a keepalive stops here. */
static size_t inner_packet(struct worker *w, struct wg_peer *p, uint8_t *plain, size_t len,
			   uint8_t **ip)
{
	enum drop_reason why;
	size_t ip_len, mtu;

	if (!len) {
		stats_add(&w->stats.keepalives_received, 1);
		return 0;
	}
	if (wg_pmtu_message(w, p, plain, len))
		return 0;
	/* Before the source check: a control message is no IP packet (rendezvous.h). */
	if (p->dev->rdv.mode != RDV_OFF && rdv_is_control(plain, len)) {
		rdv_worker_control(w, p, plain, len);
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
	if (len - ip_len >= WG_PMTU_TAG_LEN)
		wg_pmtu_note_tag(w, p, plain, len, ip_len);
	mtu = wg_peer_mtu(p, engine_mtu(w->engine));
	if (mtu < engine_mtu(w->engine)) /* the path is narrower than the TUN: so are its SYNs */
		wg_pmtu_clamp_mss(plain, ip_len, mtu);
	*ip = plain;
	return ip_len;
}

static size_t receive_data(struct worker *w, uint8_t *dgram, size_t len,
			   const struct dgram_addr *from, uint8_t **ip)
{
	struct wg_device *dev = w->tunnel;
	struct wg_peer *p;
	struct wg_session *s;
	uint32_t index;
	long plain_len;
	size_t ip_len;

	if (len < MESSAGE_DATA_MIN_LEN) {
		worker_drop(w, DROP_SHORT);
		return 0;
	}
	memcpy(&index, dgram + offsetof(struct message_data, receiver_index), sizeof(index));
	s = wg_session_by_index(dev, le32toh(index), &p);
	if (!s) {
		worker_drop(w, DROP_UNKNOWN_INDEX);
		return 0;
	}
	plain_len = open_data(w, s, dgram, len);
	if (plain_len < 0)
		return 0;
	maybe_roam(p, from);
	confirm_session(p, s);
	stats_add(&w->stats.rx_packets, 1);
	stats_add(&w->stats.rx_bytes, len);
	if (from->kind == TRANSPORT_RELAY)
		__atomic_fetch_add(&p->rdv.relay_rx_bytes, len, __ATOMIC_RELAXED);
	ip_len = inner_packet(w, p, dgram + MESSAGE_DATA_HEADER_LEN, (size_t)plain_len, ip);
	wg_activity(w, p, WG_ACT_RECEIVED | (ip_len ? WG_ACT_DATA_RECEIVED : 0) |
			  (s == p->current ? WG_ACT_CONFIRMED : 0), 0, len);
	return ip_len;
}

static void queue_handshake(struct worker *w, const uint8_t *dgram, size_t len, size_t want,
			    const struct dgram_addr *from)
{
	if (len != want) {
		worker_drop(w, DROP_HANDSHAKE_INVALID);
		return;
	}
	if (!wg_queue_handshake(w->tunnel, dgram, len, from))
		worker_drop(w, DROP_HANDSHAKE_QUEUE_FULL);
}

size_t wg_decap(struct worker *w, uint8_t *dgram, size_t len, const struct dgram_addr *from,
		uint8_t **ip)
{
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
		queue_handshake(w, dgram, len, MESSAGE_INITIATION_LEN, from);
		return 0;
	case MESSAGE_HANDSHAKE_RESPONSE:
		queue_handshake(w, dgram, len, MESSAGE_RESPONSE_LEN, from);
		return 0;
	case MESSAGE_HANDSHAKE_COOKIE:
		queue_handshake(w, dgram, len, MESSAGE_COOKIE_LEN, from);
		return 0;
	case MESSAGE_RELAY:
		if (((struct wg_device *)w->tunnel)->rdv.mode != RDV_OFF)
			return rdv_worker_relay(w, dgram, len, from, ip);
		break;
	}
	worker_drop(w, DROP_BAD_HEADER);
	return 0;
}
