/* Path MTU probing between two myvpn peers, in the manner of RFC 8899 (datagram PLPMTUD):
 * padded probes of chosen sizes, sent with DF and answered through the tunnel, find the
 * largest inner packet the path carries; packets above it get a "too big" answer from the
 * worker (worker_too_big) and TCP SYNs have their MSS clamped to it, so that traffic fits the
 * path instead of relying on fragments, which a path may drop.
 *
 * Invisible to stock WireGuard peers. Everything below travels inside ordinary, authenticated
 * data messages, and nothing that a stock receiver would reject is ever sent to it:
 *  - A receiver (Linux, wireguard-go, boringtun) reads the inner IP packet's length from its
 *    header and trims what follows: padding after the packet is accepted whatever its length
 *    or content. So we announce ourselves with a TAG: 16 bytes at the end of that padding,
 *    on an ordinary data packet now and then (at most every WG_PMTU_TAG_INTERVAL, only on a
 *    packet small enough that the tag never makes it exceed the MTU). A stock peer trims it.
 *  - A plaintext whose first nibble is neither 4 nor 6 is not an IP packet: a stock receiver
 *    would count and log it as invalid. PROBEs and ACKs are such plaintexts, so they go only
 *    to a peer that showed us a tag (or a probe) recently: a stock peer never gets one.
 *    (A padded keepalive does not work: a zero-length plaintext is the keepalive, and any
 *    padding makes it a non-IP packet.)
 *
 * A message (tag, probe or ack) is 16 bytes: 0x00 'm' 'y' 'v' 'p' 'n' 'P' 'M' (the 0 nibble
 * makes it "not IP"), the type, a zero, the probe's size (big-endian 16 bits), its id (32
 * bits). A probe is that header followed by zeros up to its size: the inner packet size it
 * tests. An ack repeats the probe's id and size.
 *
 * Search (control thread, per peer): first a probe of the TUN's MTU (the usual answer: the
 * path carries it all); if three tries go unanswered, a binary search on 16-byte steps between
 * WG_PMTU_BASE and the largest untried size. Once found, the size is confirmed every
 * WG_PMTU_CONFIRM: three lost confirmations mean the path shrank (a black hole), and the MTU
 * drops to WG_PMTU_BASE at once while a new search runs. WG_PMTU_RAISE after a search began, a
 * search above the current size looks for a path that grew: the whole TUN MTU first, as at
 * the start. Until it succeeds, the size in use stays.
 */
#include "wg.h"
#include "log.h"
#include "offload.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

enum {
	PMTU_PROBE = 1,
	PMTU_ACK = 2,
	PMTU_TAG = 3,
	WG_PMTU_BASE = 1200,     /* inner bytes every path carries: 1280-byte IPv6, minus ours */
	WG_PMTU_STEP = 16,       /* search granularity: the padding multiple */
	WG_PMTU_TRIES = 3,       /* RFC 8899 MAX_PROBES */
	PMTU_ALIVE_ID = 0x80000000u, /* xored into a confirmation's id for its small twin */
};

#define NS(s) ((uint64_t)(s) * 1000000000ull)
static const uint64_t WG_PMTU_PROBE_TIMEOUT = NS(1) / 2,
		      WG_PMTU_CONFIRM = NS(10),
		      WG_PMTU_RAISE = NS(120),
		      WG_PMTU_TAG_INTERVAL = NS(5),
		      WG_PMTU_CAPABLE_FOR = NS(180); /* a tag or probe is good for this long */

static const uint8_t magic[8] = { 0x00, 'm', 'y', 'v', 'p', 'n', 'P', 'M' };

static void put_header(uint8_t *h, uint8_t type, uint16_t size, uint32_t id)
{
	uint16_t size_be = htons(size);
	uint32_t id_be = htonl(id);

	memcpy(h, magic, sizeof(magic));
	h[8] = type;
	h[9] = 0;
	memcpy(h + 10, &size_be, 2);
	memcpy(h + 12, &id_be, 4);
}

static bool get_header(const uint8_t *h, uint8_t *type, uint16_t *size, uint32_t *id)
{
	uint16_t size_be;
	uint32_t id_be;

	if (memcmp(h, magic, sizeof(magic)))
		return false;
	*type = h[8];
	memcpy(&size_be, h + 10, 2);
	memcpy(&id_be, h + 12, 4);
	*size = ntohs(size_be);
	*id = ntohl(id_be);
	return true;
}

/* ---- workers ---- */

size_t wg_pmtu_tag(struct worker *w, struct wg_peer *p, uint8_t *pkt, size_t len, size_t mtu)
{
	size_t at = (len + WG_PMTU_STEP - 1) & ~(size_t)(WG_PMTU_STEP - 1);
	uint64_t now = w->loop.now_ns, last = __atomic_load_n(&p->pmtu.tagged_ns, __ATOMIC_RELAXED);

	if (at + WG_PMTU_TAG_LEN > mtu || (last && now - last < WG_PMTU_TAG_INTERVAL))
		return len;
	if (!__atomic_compare_exchange_n(&p->pmtu.tagged_ns, &last, now, false, __ATOMIC_RELAXED,
					 __ATOMIC_RELAXED))
		return len; /* another worker tags this round */
	memset(pkt + len, 0, at - len);
	put_header(pkt + at, PMTU_TAG, 0, 0);
	log_debug("peer %u: a %zu-byte packet carries our path MTU tag", p->id, len);
	return at + WG_PMTU_TAG_LEN;
}

static void capable(struct worker *w, struct wg_peer *p)
{
	uint64_t was = __atomic_exchange_n(&p->pmtu.capable_ns, w->loop.now_ns, __ATOMIC_RELAXED);

	if (!was)
		wg_peer_request(p, WG_REQ_PMTU); /* start probing it */
}

void wg_pmtu_note_tag(struct worker *w, struct wg_peer *p, const uint8_t *plain, size_t len,
		      size_t ip_len)
{
	uint8_t type;
	uint16_t size;
	uint32_t id;

	if (get_header(plain + len - WG_PMTU_TAG_LEN, &type, &size, &id) && type == PMTU_TAG)
		capable(w, p);
}

bool wg_pmtu_message(struct worker *w, struct wg_peer *p, const uint8_t *plain, size_t len)
{
	uint8_t type;
	uint16_t size;
	uint32_t id;

	if (len < WG_PMTU_TAG_LEN || plain[0] >> 4 || !get_header(plain, &type, &size, &id))
		return false;
	capable(w, p);
	pthread_mutex_lock(&p->lock);
	if (type == PMTU_PROBE) {
		p->pmtu.ack_due = true;
		p->pmtu.ack_id = id;
		p->pmtu.ack_size = (uint16_t)len;
	} else if (type == PMTU_ACK) {
		p->pmtu.acked_id = id;
	}
	pthread_mutex_unlock(&p->lock);
	if (type == PMTU_PROBE || type == PMTU_ACK)
		wg_peer_request(p, WG_REQ_PMTU);
	wg_activity(w, p, WG_ACT_RECEIVED, 0, 0);
	return true;
}

/* The TCP header of a first fragment (IPv4) or right after the fixed header (IPv6), or NULL. */
static uint8_t *tcp_header(uint8_t *pkt, size_t len, size_t *ip_hlen)
{
	if (pkt[0] >> 4 == 4 && len >= 20) {
		*ip_hlen = (size_t)(pkt[0] & 0x0f) * 4;
		if (pkt[9] != 6 || ((pkt[6] & 0x1f) | pkt[7]))
			return NULL;
	} else if (pkt[0] >> 4 == 6 && len >= 40) {
		*ip_hlen = 40;
		if (pkt[6] != 6)
			return NULL;
	} else {
		return NULL;
	}
	return len >= *ip_hlen + 20 ? pkt + *ip_hlen : NULL;
}

void wg_pmtu_clamp_mss(uint8_t *pkt, size_t len, size_t mtu)
{
	size_t ip_hlen, opt_end, max;
	uint8_t *tcp = tcp_header(pkt, len, &ip_hlen);

	if (!tcp || !(tcp[13] & 0x02)) /* SYN */
		return;
	opt_end = (size_t)(tcp[12] >> 4) * 4;
	if (opt_end < 20 || ip_hlen + opt_end > len)
		return;
	max = mtu - ip_hlen - 20;
	for (size_t i = 20; i < opt_end;) {
		uint16_t old, new;

		if (tcp[i] == 0)
			return;
		if (tcp[i] == 1) {
			i++;
			continue;
		}
		if (i + 1 >= opt_end || tcp[i + 1] < 2 || i + tcp[i + 1] > opt_end)
			return;
		if (tcp[i] == 2 && tcp[i + 1] == 4) {
			memcpy(&old, tcp + i + 2, 2);
			if (ntohs(old) <= max)
				return;
			new = htons((uint16_t)max);
			memcpy(tcp + i + 2, &new, 2);
			offload_csum_replace(tcp + 16, old, new);
			return;
		}
		i += tcp[i + 1];
	}
}

/* ---- control thread ---- */

void wg_pmtu_init(struct wg_device *dev)
{
	const char *test = getenv("MYVPN_TEST_PMTU_RAISE");

	dev->pmtu_raise_ns = test ? NS(strtoul(test, NULL, 10)) : WG_PMTU_RAISE;
	if (!dev->pmtu_raise_ns)
		dev->pmtu_raise_ns = WG_PMTU_RAISE;
}

/* DONE: the next confirmation, or the search for a grown path if that comes first. */
static void schedule_done(struct wg_pmtu *m, uint64_t now)
{
	m->deadline_ns = now + WG_PMTU_CONFIRM;
	if (m->raise_ns > now && m->raise_ns < m->deadline_ns)
		m->deadline_ns = m->raise_ns;
}

static size_t tun_mtu(const struct wg_peer *p)
{
	return engine_mtu(p->dev->engine);
}

static bool probe_buffer(struct wg_device *dev)
{
	if (!dev->probe_buf)
		dev->probe_buf = calloc(1, SLOT_SIZE);
	return dev->probe_buf != NULL;
}

static void send_probe(struct wg_peer *p, uint64_t now)
{
	struct wg_device *dev = p->dev;
	uint8_t *pkt = dev->probe_buf + SLOT_HEADROOM;

	/* A confirmation goes with a 16-byte probe whose answer only shows that the path is up
	 * (see lost()); it leaves first, since the peer keeps one answer due and the last wins. */
	if (p->pmtu.confirming) {
		put_header(pkt, PMTU_PROBE, WG_PMTU_TAG_LEN, p->pmtu.id ^ PMTU_ALIVE_ID);
		wg_send_control(p, pkt, WG_PMTU_TAG_LEN, false);
	}
	memset(pkt, 0, p->pmtu.size);
	put_header(pkt, PMTU_PROBE, (uint16_t)p->pmtu.size, p->pmtu.id);
	p->pmtu.deadline_ns = now + WG_PMTU_PROBE_TIMEOUT;
	if (!p->pmtu.tries)
		p->pmtu.rx_bytes_at_probe = __atomic_load_n(&p->rx_bytes, __ATOMIC_RELAXED);
	/* Refused here (larger than the local link, say): lost at once, no retries. */
	if (!wg_send_control(p, pkt, p->pmtu.size, true))
		p->pmtu.tries = WG_PMTU_TRIES - 1;
}

static void set_mtu(struct wg_peer *p, size_t mtu, const char *why)
{
	size_t was = __atomic_exchange_n(&p->pmtu.mtu, mtu, __ATOMIC_RELAXED);

	if (was != mtu)
		log_info("peer %u: path MTU %zu (%s)", p->id, mtu, why);
}

/* The next size between lo (carried) and hi (not tried, or lost above it), or the end. */
static void next_probe(struct wg_peer *p, uint64_t now)
{
	struct wg_pmtu *m = &p->pmtu;
	size_t half = ((m->hi - m->lo) / 2) & ~(size_t)(WG_PMTU_STEP - 1);

	if (m->hi < m->lo + WG_PMTU_STEP) {
		m->state = WG_PMTU_DONE;
		m->confirming = false;
		set_mtu(p, m->lo, "probed");
		m->size = m->lo;
		m->tries = 0;
		schedule_done(m, now);
		return;
	}
	m->size = m->lo + (half > WG_PMTU_STEP ? half : WG_PMTU_STEP);
	m->id++;
	m->tries = 0;
	send_probe(p, now);
}

static void start_search(struct wg_peer *p, size_t lo, size_t hi, uint64_t now)
{
	struct wg_pmtu *m = &p->pmtu;

	m->state = WG_PMTU_SEARCH;
	m->lo = lo;
	m->hi = hi;
	m->size = hi; /* the whole MTU first: most paths carry it */
	m->id++;
	m->tries = 0;
	m->raise_ns = now + p->dev->pmtu_raise_ns;
	send_probe(p, now);
}

static bool can_probe(const struct wg_peer *p, uint64_t now)
{
	uint64_t seen = __atomic_load_n(&p->pmtu.capable_ns, __ATOMIC_RELAXED);

	return seen && now - seen < WG_PMTU_CAPABLE_FOR && p->current &&
	       endpoint_is_set(&p->endpoint.remote) && p->endpoint.kind == TRANSPORT_UDP &&
	       tun_mtu(p) >= WG_PMTU_BASE && probe_buffer(p->dev);
}

/* A probe went unanswered WG_PMTU_TRIES times. */
static void lost(struct wg_peer *p, uint64_t now)
{
	struct wg_pmtu *m = &p->pmtu;

	if (m->state == WG_PMTU_DONE) {
		m->confirming = false;
		/* Not even the small twins were answered: the whole path is down (UDP blocked,
		 * the peer gone), which says nothing about the size it carries. */
		if (__atomic_load_n(&p->rx_bytes, __ATOMIC_RELAXED) == m->rx_bytes_at_probe) {
			schedule_done(m, now);
			return;
		}
		log_info("peer %u: %zu-byte packets no longer cross the path", p->id, m->size);
		set_mtu(p, WG_PMTU_BASE, "black hole: searching again");
		start_search(p, WG_PMTU_BASE, m->size - 1, now);
		return;
	}
	m->hi = m->size - 1;
	next_probe(p, now);
}

void wg_pmtu_tick(struct wg_peer *p, uint64_t now)
{
	struct wg_pmtu *m = &p->pmtu;
	size_t top = tun_mtu(p);

	if (!can_probe(p, now)) {
		m->state = WG_PMTU_IDLE;
		m->deadline_ns = 0;
		/* A TCP stream carries the whole MTU whatever the UDP path does; a return to UDP
		 * searches again from the top. */
		if (p->endpoint.kind == TRANSPORT_TCP)
			set_mtu(p, 0, "over TCP: the tunnel's MTU");
		return;
	}
	if (m->state == WG_PMTU_IDLE) {
		start_search(p, WG_PMTU_BASE, top, now);
		return;
	}
	if (now < m->deadline_ns)
		return;
	if (m->state == WG_PMTU_DONE && !m->confirming) {
		if (now >= m->raise_ns) {
			if (m->lo + WG_PMTU_STEP <= top) {
				start_search(p, m->lo, top, now); /* the path may have grown */
				return;
			}
			m->raise_ns = now + p->dev->pmtu_raise_ns; /* at the TUN's MTU already */
		}
		m->confirming = true; /* the size in use, with a fresh id */
		m->id++;
		m->tries = 0;
		send_probe(p, now);
		return;
	}
	if (m->tries + 1 >= WG_PMTU_TRIES) {
		lost(p, now);
		return;
	}
	m->tries++;
	send_probe(p, now); /* a retry */
}

uint64_t wg_pmtu_deadline(const struct wg_peer *p)
{
	return p->pmtu.deadline_ns;
}

/* An answer to the probe in flight. */
static void acked(struct wg_peer *p, uint64_t now)
{
	struct wg_pmtu *m = &p->pmtu;

	if (m->state == WG_PMTU_SEARCH) {
		m->lo = m->size;
		next_probe(p, now);
	} else if (m->state == WG_PMTU_DONE) {
		m->confirming = false;
		schedule_done(m, now);
	}
}

static void send_ack(struct wg_peer *p, uint32_t id, uint16_t size)
{
	uint8_t buf[SLOT_HEADROOM + WG_PMTU_TAG_LEN + SLOT_TAILROOM];

	put_header(buf + SLOT_HEADROOM, PMTU_ACK, size, id);
	wg_send_control(p, buf + SLOT_HEADROOM, WG_PMTU_TAG_LEN, false);
}

void wg_pmtu_serve(struct wg_peer *p)
{
	struct wg_pmtu *m = &p->pmtu;
	uint64_t now = wg_now(p->dev);
	bool ack_due;
	uint32_t ack_id, acked_id;
	uint16_t ack_size;

	pthread_mutex_lock(&p->lock);
	ack_due = m->ack_due;
	ack_id = m->ack_id;
	ack_size = m->ack_size;
	acked_id = m->acked_id;
	m->ack_due = false;
	pthread_mutex_unlock(&p->lock);
	if (ack_due)
		send_ack(p, ack_id, ack_size);
	if (acked_id == m->id && (m->state == WG_PMTU_SEARCH || m->confirming))
		acked(p, now);
	else
		wg_pmtu_tick(p, now);
	if (m->deadline_ns && (!p->dev->timer.deadline_ns || m->deadline_ns < p->dev->timer.deadline_ns))
		p->dev->timer.deadline_ns = m->deadline_ns;
}
