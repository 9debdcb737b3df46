/* UDP or TCP for each peer, in the device's transport mode (control thread only).
 *
 * udp: every peer over UDP.  tcp: peers with a configured endpoint over TCP (a connection we
 * open to that address and port).  auto (the default): UDP first; when two initiations over UDP
 * in a row go unanswered for REKEY_TIMEOUT each (10 s in all), the peer moves to TCP; a cookie reply
 * over UDP is an answer (the peer is under load, the path works). An initiation sent because the
 * peer stayed silent for 15 s while we sent data (UDP blocked mid-session) counts as one
 * already: its retry goes over TCP, 20 s after the path broke. While handshakes keep failing
 * on TCP too (a peer without a TCP listener, or down), retries alternate between the two. While on TCP,
 * every WG_UDP_PROBE_INTERVAL one initiation goes over UDP instead: if its response comes back
 * over UDP, the handshake's usual endpoint rule moves the peer back. Sessions survive both moves:
 * they are the roaming rules' business, not the transport's.
 *
 * A peer that reached us (a server's client) is answered on whatever transport its last
 * authenticated packet used: that is the endpoint rule, whatever our mode. Without an endpoint
 * of its own configuration it never moves to TCP: its address is a NAT's, nothing to dial. */
#include "wg.h"
#include "log.h"

#define WG_UDP_PROBE_INTERVAL_NS (30ull * 1000000000ull)
enum { WG_UDP_TRIES_BEFORE_TCP = 2 };

const char *wg_transport_name(const struct dgram_addr *ep)
{
	if (ep->kind == TRANSPORT_RELAY)
		return "the rendezvous relay";
	return ep->kind == TRANSPORT_TCP ? "TCP" : "UDP";
}

void wg_transport_configure(const struct wg_device *dev, struct dgram_addr *ep)
{
	ep->kind = dev->transport == TRANSPORT_MODE_TCP ? TRANSPORT_TCP : TRANSPORT_UDP;
	ep->conn = 0;
}

/* Ours to dial: a configured or learned server address, not a client's connection to us. */
static bool on_own_tcp(const struct wg_peer *p)
{
	return p->endpoint.kind == TRANSPORT_TCP && !p->endpoint.conn;
}

void wg_transport_pick(struct wg_peer *p, enum wg_initiation_why why, struct dgram_addr *to)
{
	uint64_t now = wg_now(p->dev), last = p->initiation_ns;
	bool is_retry = why == WG_INITIATION_RETRY;

	*to = p->endpoint;
	p->initiation_ns = now;
	/* A peer found through a rendezvous is UDP, direct or relayed: punching, not TCP. */
	if (p->dev->transport != TRANSPORT_MODE_AUTO || p->rdv.managed || !p->endpoint_configured)
		return;
	/* A cookie reply since the last initiation means UDP gets through: keep retrying there.
	 * One lost initiation is common (the peer was starting up, a queue overflowed): only a
	 * second unanswered one in a row moves the peer to TCP. */
	if (p->endpoint.kind == TRANSPORT_UDP && (!is_retry || p->udp_answer_ns >= last))
		p->udp_unanswered = why == WG_INITIATION_PEER_SILENT;
	if (p->endpoint.kind == TRANSPORT_UDP && is_retry && p->udp_answer_ns < last &&
	    ++p->udp_unanswered >= WG_UDP_TRIES_BEFORE_TCP) {
		struct dgram_addr tcp = { .remote = p->endpoint.remote, .kind = TRANSPORT_TCP };

		p->udp_unanswered = 0;

		log_info("peer %u: no handshake answer over UDP; trying TCP", p->id);
		wg_peer_move(p, &tcp);
		p->udp_probe_ns = now + WG_UDP_PROBE_INTERVAL_NS;
		*to = tcp;
	} else if (on_own_tcp(p) && (now >= p->udp_probe_ns || (is_retry && (p->retry_flip ^= 1)))) {
		log_debug("peer %u: probing UDP", p->id);
		*to = (struct dgram_addr){ .remote = p->endpoint.remote, .kind = TRANSPORT_UDP };
		p->udp_probe_ns = now + WG_UDP_PROBE_INTERVAL_NS;
	}
}

uint64_t wg_transport_deadline(const struct wg_peer *p)
{
	if (p->dev->transport != TRANSPORT_MODE_AUTO || !on_own_tcp(p))
		return 0;
	return p->udp_probe_ns;
}

void wg_transport_tick(struct wg_peer *p, uint64_t now)
{
	uint64_t due = wg_transport_deadline(p);

	if (due && now >= due)
		wg_send_initiation(p, WG_INITIATION_NEW); /* wg_transport_pick sends it over UDP */
}
