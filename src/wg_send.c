/* WireGuard send path: TUN packets to peers (cryptokey routing, padding, sealing in place),
 * initiations, keepalives, and the packets staged while a handshake was under way. */
#include "wg.h"
#include "log.h"

#include <endian.h>
#include <string.h>
#include <time.h>

static uint64_t now_ns(struct wg_peer *p)
{
	return p->dev->worker->loop->now_ns;
}

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Zero padding to a multiple of 16 hides exact lengths, but never beyond the MTU. */
static size_t padded_length(size_t len, size_t mtu)
{
	size_t padded = (len + MESSAGE_PADDING_MULTIPLE - 1) & ~(size_t)(MESSAGE_PADDING_MULTIPLE - 1);

	return padded > mtu && len <= mtu ? mtu : padded;
}

/* Seals pkt (len bytes, headroom before, tailroom after) into a data message ending where the
 * tag ends. Returns the message length and sets *msg. */
static size_t seal(struct wg_peer *p, struct wg_session *s, uint8_t *pkt, size_t len,
		   uint8_t **msg)
{
	struct message_data *hdr = (struct message_data *)(pkt - MESSAGE_DATA_HEADER_LEN);
	size_t padded = len ? padded_length(len, p->dev->worker->mtu) : 0;
	uint64_t counter = s->send_counter++;

	memset(pkt + len, 0, padded - len);
	hdr->header.type = htole32(MESSAGE_DATA);
	hdr->receiver_index = htole32(s->kp.remote_index);
	hdr->counter = htole64(counter);
	if (!wgcrypto_aead_seal(&s->kp.send, pkt, pkt, padded, counter, NULL, 0))
		return 0;
	*msg = (uint8_t *)hdr;
	return MESSAGE_DATA_HEADER_LEN + padded + NOISE_AUTHTAG_LEN;
}

static void sent_event(struct wg_peer *p, size_t len, bool is_data)
{
	uint64_t now = now_ns(p);

	p->tx_bytes += len;
	if (is_data)
		timers_data_sent(&p->timers, now, wg_jitter(p->dev));
	timers_any_authenticated_packet_sent(&p->timers, now);
	timers_any_authenticated_packet_traversal(&p->timers, now);
	wg_timers_changed(p);
}

/* The session to send with, or NULL when a handshake is needed first. */
static struct wg_session *sending_session(struct wg_peer *p)
{
	struct wg_session *s = &p->current;
	uint64_t now = now_ns(p);

	if (!s->valid || timers_keypair_expired(s->kp.birth_ns, s->send_counter, now))
		return NULL;
	if (timers_should_rekey_on_send(s->kp.birth_ns, s->send_counter, s->kp.is_initiator, now))
		wg_want_handshake(p);
	return s;
}

size_t wg_encap(struct worker *w, uint8_t *pkt, size_t len, uint8_t **dgram,
		       const union endpoint **to)
{
	struct wg_device *dev = w->tunnel;
	struct wg_peer *p = allowedips_lookup_packet_dst(&dev->allowedips, pkt, len);
	struct wg_session *s;
	size_t msg_len;

	if (!p) {
		worker_drop(w, DROP_NO_ROUTE);
		return 0;
	}
	if (!endpoint_is_set(&p->endpoint)) {
		worker_drop(w, DROP_NO_ENDPOINT);
		return 0;
	}
	s = sending_session(p);
	if (!s) {
		if (!wg_stage(p, pkt, len))
			worker_drop(w, DROP_STAGED_OVERFLOW);
		wg_want_handshake(p);
		return 0;
	}
	msg_len = seal(p, s, pkt, len, dgram);
	if (!msg_len) {
		worker_drop(w, DROP_CRYPTO);
		return 0;
	}
	*to = &p->endpoint;
	sent_event(p, msg_len, true);
	return msg_len;
}

void wg_send_initiation(struct wg_peer *p, bool is_retry)
{
	struct wg_device *dev = p->dev;
	struct message_handshake_initiation msg;
	uint32_t index;
	uint64_t now = now_ns(p);

	if (!endpoint_is_set(&p->endpoint))
		return;
	if (!wg_new_index(dev, &index) ||
	    noise_handshake_create_initiation(&p->hs, &p->cookie, &dev->identity, &msg, index,
					      realtime_ns(), now) != NOISE_OK) {
		log_ratelimited(LOG_WARN, now, "peer %u: cannot create a handshake initiation", p->id);
		return;
	}
	log_debug("peer %u: sending handshake initiation%s", p->id, is_retry ? " (retry)" : "");
	worker_send(dev->worker, &msg, sizeof(msg), &p->endpoint);
	timers_handshake_initiated(&p->timers, now, wg_jitter(dev));
	sent_event(p, sizeof(msg), false);
}

/* Traffic wants a session: initiate, at most once per REKEY_TIMEOUT. */
void wg_want_handshake(struct wg_peer *p)
{
	if (timers_handshake_wanted(&p->timers, now_ns(p)))
		wg_send_initiation(p, false);
	wg_timers_changed(p);
}

void wg_send_keepalive(struct wg_peer *p)
{
	uint8_t buf[SLOT_HEADROOM + SLOT_TAILROOM], *msg;
	struct wg_session *s = sending_session(p);
	size_t len;

	if (!endpoint_is_set(&p->endpoint))
		return;
	if (!s) {
		wg_want_handshake(p);
		return;
	}
	len = seal(p, s, buf + SLOT_HEADROOM, 0, &msg);
	if (len && worker_send(p->dev->worker, msg, len, &p->endpoint) == 0) {
		p->dev->worker->stats.keepalives_sent++;
		sent_event(p, len, false);
	}
}

/* A session just became usable: send what waited for it, or a keepalive that confirms the
 * session to the responder at once. */
void wg_send_staged(struct wg_peer *p)
{
	size_t slot_size = p->dev->stage_slot_size;
	struct wg_session *s = sending_session(p);

	if (!s)
		return;
	if (!p->staged_count) {
		wg_send_keepalive(p);
		return;
	}
	for (; p->staged_count; p->staged_count--) {
		unsigned int pos = p->staged_first;
		uint8_t *pkt = p->staged + pos * slot_size + SLOT_HEADROOM, *msg;
		size_t len = seal(p, s, pkt, p->staged_len[pos], &msg);

		p->staged_first = (pos + 1) % MAX_STAGED_PACKETS;
		if (len && worker_send(p->dev->worker, msg, len, &p->endpoint) == 0)
			sent_event(p, len, true);
	}
	p->staged_first = 0;
}
