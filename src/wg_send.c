/* WireGuard send path: TUN packets to peers (cryptokey routing, padding, sealing in place) on
 * the workers; keepalives and the packets staged while a handshake was under way on the
 * control thread. */
#include "wg.h"
#include "log.h"

#include <endian.h>
#include <string.h>

/* Zero padding to a multiple of 16 hides exact lengths, but never beyond the MTU. */
static size_t padded_length(size_t len, size_t mtu)
{
	size_t padded = (len + MESSAGE_PADDING_MULTIPLE - 1) & ~(size_t)(MESSAGE_PADDING_MULTIPLE - 1);

	return padded > mtu && len <= mtu ? mtu : padded;
}

/* The session to send with and its counter, or NULL when a handshake is needed first. */
static struct wg_session *sending_session(struct wg_peer *p, uint64_t now, uint64_t *counter,
					  bool *want_handshake)
{
	struct wg_session *s = p->current;

	/* The peer just proved it has next: replies must not go out under the old session. */
	if (p->next && __atomic_load_n(&p->next->confirmed, __ATOMIC_ACQUIRE))
		s = p->next;
	*want_handshake = false;
	if (!s || timers_keypair_expired(s->kp.birth_ns, 0, now)) {
		*want_handshake = true;
		return NULL;
	}
	*counter = __atomic_fetch_add(&s->send_counter, 1, __ATOMIC_RELAXED);
	if (timers_keypair_expired(s->kp.birth_ns, *counter, now)) {
		*want_handshake = true;
		return NULL;
	}
	*want_handshake = timers_should_rekey_on_send(s->kp.birth_ns, *counter, s->kp.is_initiator, now);
	return s;
}

/* Seals pkt (len bytes, headroom before, tailroom after) into a data message ending where the
 * tag ends. Returns the message length and sets *msg, or 0. */
static size_t seal(struct wg_session *s, unsigned int slot, uint64_t counter, size_t mtu,
		   uint8_t *pkt, size_t len, uint8_t **msg)
{
	uint8_t *hdr = pkt - MESSAGE_DATA_HEADER_LEN;
	size_t padded = len ? padded_length(len, mtu) : 0;
	struct wgcrypto_aead_key *key = wg_session_cipher(s, slot, true);
	uint32_t type = htole32(MESSAGE_DATA), receiver = htole32(s->kp.remote_index);
	uint64_t counter_le = htole64(counter);

	if (!key)
		return 0;
	memset(pkt + len, 0, padded - len);
	/* memcpy: the header sits wherever the packet's headroom puts it, aligned or not */
	memcpy(hdr + offsetof(struct message_data, header), &type, sizeof(type));
	memcpy(hdr + offsetof(struct message_data, receiver_index), &receiver, sizeof(receiver));
	memcpy(hdr + offsetof(struct message_data, counter), &counter_le, sizeof(counter_le));
	if (!wgcrypto_aead_seal(key, pkt, pkt, padded, counter, NULL, 0))
		return 0;
	*msg = hdr;
	return MESSAGE_DATA_HEADER_LEN + padded + NOISE_AUTHTAG_LEN;
}

static void stage(struct worker *w, struct wg_peer *p, const uint8_t *pkt, size_t len)
{
	pthread_mutex_lock(&p->lock);
	wg_stage(p, pkt, len, &w->stats);
	pthread_mutex_unlock(&p->lock);
	wg_activity(w, p, WG_ACT_WANT_HANDSHAKE, 0, 0);
}

size_t wg_encap(struct worker *w, uint8_t *pkt, size_t len, uint8_t **dgram,
		const struct dgram_addr **to)
{
	struct wg_device *dev = w->tunnel;
	struct wg_peer *p = allowedips_lookup_packet_dst(&dev->allowedips, pkt, len);
	struct wg_session *s;
	uint64_t counter;
	bool want;
	size_t msg_len, mtu;

	if (!p) {
		worker_drop(w, DROP_NO_ROUTE);
		return 0;
	}
	mtu = wg_peer_mtu(p, engine_mtu(w->engine));
	if (worker_too_big(w, pkt, len, mtu))
		return 0;
	if (!endpoint_is_set(&p->endpoint.remote)) {
		/* A peer the rendezvous looks for: kept for the session that punching brings,
		 * so the first packet (a ping, a TCP SYN) is not lost. */
		if (__atomic_load_n(&p->rdv.managed, __ATOMIC_RELAXED)) {
			pthread_mutex_lock(&p->lock);
			wg_stage(p, pkt, len, &w->stats);
			pthread_mutex_unlock(&p->lock);
		} else {
			worker_drop(w, DROP_NO_ENDPOINT);
		}
		return 0;
	}
	s = sending_session(p, w->loop.now_ns, &counter, &want);
	if (!s) {
		stage(w, p, pkt, len);
		return 0;
	}
	if (mtu < engine_mtu(w->engine))
		wg_pmtu_clamp_mss(pkt, len, mtu);
	len = wg_pmtu_tag(w, p, pkt, len, mtu);
	msg_len = seal(s, w->id, counter, mtu, pkt, len, dgram);
	if (!msg_len) {
		worker_drop(w, DROP_CRYPTO);
		return 0;
	}
	*to = &p->endpoint;
	if (p->endpoint.kind == TRANSPORT_RELAY)
		__atomic_fetch_add(&p->rdv.relay_tx_bytes, msg_len, __ATOMIC_RELAXED);
	wg_activity(w, p, WG_ACT_DATA_SENT | WG_ACT_SENT | (want ? WG_ACT_WANT_HANDSHAKE : 0),
		    msg_len, 0);
	return msg_len;
}

/* ---- control thread ---- */

static unsigned int control_slot(const struct wg_device *dev)
{
	return dev->cipher_slots - 1;
}

/* Seals and sends one packet (len may be 0: a keepalive; data: an IP packet, for the timers).
 * peer->lock held. */
static bool send_sealed(struct wg_peer *p, struct wg_session *s, uint8_t *pkt, size_t len,
			bool data)
{
	struct wg_device *dev = p->dev;
	uint64_t now = wg_now(dev), counter = __atomic_fetch_add(&s->send_counter, 1, __ATOMIC_RELAXED);
	uint8_t *msg;
	size_t msg_len;

	if (timers_keypair_expired(s->kp.birth_ns, counter, now))
		return false;
	msg_len = seal(s, control_slot(dev), counter, engine_mtu(dev->engine), pkt, len, &msg);
	if (!msg_len) {
		stats_drop(&dev->engine->stats, DROP_CRYPTO, 1);
		return false;
	}
	if (worker_send(engine_sender(dev->engine), msg, msg_len, &p->endpoint))
		return false;
	__atomic_fetch_add(&p->tx_bytes, msg_len, __ATOMIC_RELAXED);
	if (p->endpoint.kind == TRANSPORT_RELAY)
		__atomic_fetch_add(&p->rdv.relay_tx_bytes, msg_len, __ATOMIC_RELAXED);
	if (data)
		timers_data_sent(&p->timers, now, dev->prng += 0x9e3779b97f4a7c15ull);
	timers_any_authenticated_packet_sent(&p->timers, now);
	timers_any_authenticated_packet_traversal(&p->timers, now);
	return true;
}

bool wg_send_control(struct wg_peer *p, uint8_t *pkt, size_t len, bool probe)
{
	struct wg_device *dev = p->dev;
	struct wg_session *s = p->current;
	uint64_t now = wg_now(dev), counter;
	uint8_t *msg;
	size_t msg_len;
	int ret;

	if (!s || !endpoint_is_set(&p->endpoint.remote))
		return false;
	counter = __atomic_fetch_add(&s->send_counter, 1, __ATOMIC_RELAXED);
	if (timers_keypair_expired(s->kp.birth_ns, counter, now))
		return false;
	msg_len = seal(s, control_slot(dev), counter, engine_mtu(dev->engine), pkt, len, &msg);
	if (!msg_len)
		return false;
	ret = probe ? worker_send_probe(engine_sender(dev->engine), msg, msg_len, &p->endpoint)
		    : worker_send(engine_sender(dev->engine), msg, msg_len, &p->endpoint);
	if (ret)
		return false;
	__atomic_fetch_add(&p->tx_bytes, msg_len, __ATOMIC_RELAXED);
	if (p->endpoint.kind == TRANSPORT_RELAY)
		__atomic_fetch_add(&p->rdv.relay_tx_bytes, msg_len, __ATOMIC_RELAXED);
	pthread_mutex_lock(&p->lock);
	timers_any_authenticated_packet_sent(&p->timers, now);
	timers_any_authenticated_packet_traversal(&p->timers, now);
	wg_timers_changed(p);
	pthread_mutex_unlock(&p->lock);
	return true;
}

/* peer->lock held. */
static void keepalive_locked(struct wg_peer *p)
{
	uint8_t buf[SLOT_HEADROOM + SLOT_TAILROOM];

	if (!p->current || !endpoint_is_set(&p->endpoint.remote))
		return;
	if (send_sealed(p, p->current, buf + SLOT_HEADROOM, 0, false))
		stats_add(&p->dev->engine->stats.keepalives_sent, 1);
	wg_timers_changed(p);
}

void wg_send_keepalive(struct wg_peer *p)
{
	pthread_mutex_lock(&p->lock);
	keepalive_locked(p);
	pthread_mutex_unlock(&p->lock);
}

/* A session just became usable: send what waited for it, or a keepalive that confirms the
 * session to the responder at once. */
void wg_send_staged(struct wg_peer *p)
{
	size_t slot_size;

	pthread_mutex_lock(&p->lock);
	slot_size = p->stage_slot_size;
	if (!p->staged_count) {
		keepalive_locked(p);
		pthread_mutex_unlock(&p->lock);
		return;
	}
	for (; p->staged_count && p->current; p->staged_count--) {
		unsigned int pos = p->staged_first;

		p->staged_first = (pos + 1) % MAX_STAGED_PACKETS;
		send_sealed(p, p->current, p->staged + pos * slot_size + SLOT_HEADROOM,
			    p->staged_len[pos], true);
	}
	if (!p->staged_count)
		p->staged_first = 0;
	wg_timers_changed(p);
	pthread_mutex_unlock(&p->lock);
}
