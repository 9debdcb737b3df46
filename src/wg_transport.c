/* UDP or TCP for each peer, in the device's transport mode (control thread only).
 *
 * udp: every peer over UDP. tcp: peers with a configured endpoint over TCP (a connection we open
 * to that address and port, or to the peer's TcpPort). auto (the default): UDP first. Without a
 * session (start-up, or after one expired), an initiation over UDP left unanswered for
 * WG_UDP_FIRST_WAIT (3 s) moves the peer to TCP at once, with a new initiation there: the tunnel
 * is up over TCP about 3 s after the first try. With a session, one lost initiation (a rekey) is
 * no reason to leave a working path: when two initiations over UDP in a row go unanswered for
 * REKEY_TIMEOUT each (10 s in all), the peer moves to TCP. A cookie reply over UDP is an answer
 * (the peer is under load, the path works). An initiation sent because the peer stayed silent for
 * 15 s while we sent data (UDP blocked mid-session) counts as one already: its retry goes over
 * TCP, 20 s after the path broke. While handshakes keep failing on TCP too (a peer without a TCP
 * listener, or down), retries alternate between the two. While on TCP, every WG_UDP_PROBE_INTERVAL
 * one initiation goes over UDP instead: if its response comes back over UDP, the handshake's usual
 * endpoint rule moves the peer back. Sessions survive both moves: they are the roaming rules'
 * business, not the transport's.
 *
 * A peer that reached us (a server's client) is answered on whatever transport its last
 * authenticated packet used: that is the endpoint rule, whatever our mode. Without an endpoint of
 * its own configuration it never moves to TCP: its address is a NAT's, nothing to dial. */
#include "wg.h"
#include "log.h"

#define WG_UDP_PROBE_INTERVAL_NS (30ull * 1000000000ull)
#define WG_UDP_FIRST_WAIT_NS (3ull * 1000000000ull)
enum { WG_UDP_TRIES_BEFORE_TCP = 2 };

const char *wg_transport_name(const struct dgram_addr *ep)
{
	if (ep->kind == TRANSPORT_RELAY)
		return "the rendezvous relay";
	return ep->kind == TRANSPORT_TCP ? "TCP" : "UDP";
}

/* Where to dial over TCP: the peer's TcpPort, else the port it listens on over UDP. */
static union endpoint tcp_remote(const struct wg_peer *p)
{
	return endpoint_with_port(&p->endpoint.remote, p->tcp_port ? p->tcp_port : p->udp_port);
}

void wg_transport_configure(struct wg_peer *p)
{
	bool tcp = p->dev->transport == TRANSPORT_MODE_TCP;

	p->endpoint.kind = tcp ? TRANSPORT_TCP : TRANSPORT_UDP;
	p->endpoint.conn = 0;
	if (p->udp_port) /* a configured endpoint */
		p->endpoint.remote = tcp ? tcp_remote(p)
					 : endpoint_with_port(&p->endpoint.remote, p->udp_port);
}

/* Ours to dial: a configured or learned server address, not a client's connection to us. */
static bool on_own_tcp(const struct wg_peer *p)
{
	return p->endpoint.kind == TRANSPORT_TCP && !p->endpoint.conn;
}

/* The move to TCP at the same address, or at the peer's TcpPort; returns where it dials. */
static struct dgram_addr move_to_tcp(struct wg_peer *p, uint64_t now)
{
	struct dgram_addr tcp = { .kind = TRANSPORT_TCP };

	p->udp_port = endpoint_port(&p->endpoint.remote); /* where the UDP probes go */
	tcp.remote = tcp_remote(p);
	p->udp_unanswered = 0;
	p->udp_fallback_ns = 0;
	log_info("peer %u: no handshake answer over UDP; trying TCP", p->id);
	wg_peer_move(p, &tcp);
	p->udp_probe_ns = now + WG_UDP_PROBE_INTERVAL_NS;
	return tcp;
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
	 * With a session, one lost initiation is common (a queue overflowed): only a second
	 * unanswered one in a row moves the peer to TCP. Without one, wg_transport_tick moves it
	 * WG_UDP_FIRST_WAIT after an unanswered initiation over UDP. */
	if (p->endpoint.kind == TRANSPORT_UDP && (!is_retry || p->udp_answer_ns >= last))
		p->udp_unanswered = why == WG_INITIATION_PEER_SILENT;
	if (p->endpoint.kind == TRANSPORT_UDP && is_retry && p->udp_answer_ns < last &&
	    ++p->udp_unanswered >= WG_UDP_TRIES_BEFORE_TCP) {
		*to = move_to_tcp(p, now);
	} else if (on_own_tcp(p) && (now >= p->udp_probe_ns || (is_retry && (p->retry_flip ^= 1)))) {
		log_debug("peer %u: probing UDP", p->id);
		*to = (struct dgram_addr){ .kind = TRANSPORT_UDP,
					   .remote = endpoint_with_port(&p->endpoint.remote, p->udp_port) };
		p->udp_probe_ns = now + WG_UDP_PROBE_INTERVAL_NS;
	}
	/* Only the control thread writes p->current: reading it here needs no lock. */
	p->udp_fallback_ns = to->kind == TRANSPORT_UDP && p->endpoint.kind == TRANSPORT_UDP &&
			     !p->current ? now + WG_UDP_FIRST_WAIT_NS : 0;
	/* The device timer is ours to lower (control thread); on_timer recomputes it anyway. */
	if (p->udp_fallback_ns && (!p->dev->timer.deadline_ns ||
				   p->udp_fallback_ns < p->dev->timer.deadline_ns))
		p->dev->timer.deadline_ns = p->udp_fallback_ns;
}

/* Still no session, and not even a cookie reply over UDP, since that initiation left. */
static bool udp_silent(const struct wg_peer *p)
{
	return !p->current && p->endpoint.kind == TRANSPORT_UDP && p->udp_answer_ns < p->initiation_ns;
}

uint64_t wg_transport_deadline(const struct wg_peer *p)
{
	if (p->dev->transport != TRANSPORT_MODE_AUTO)
		return 0;
	if (p->udp_fallback_ns && udp_silent(p))
		return p->udp_fallback_ns;
	return on_own_tcp(p) ? p->udp_probe_ns : 0;
}

void wg_transport_tick(struct wg_peer *p, uint64_t now)
{
	uint64_t due = p->dev->transport == TRANSPORT_MODE_AUTO ? p->udp_probe_ns : 0;

	if (p->udp_fallback_ns && now >= p->udp_fallback_ns) {
		bool silent = udp_silent(p);

		p->udp_fallback_ns = 0; /* answered or not, this wait is over */
		if (silent) {
			struct dgram_addr tcp = move_to_tcp(p, now);

			wg_send_initiation_to(p, &tcp, 1);
			p->initiation_ns = now;
			return;
		}
	}
	if (due && now >= due && on_own_tcp(p))
		wg_send_initiation(p, WG_INITIATION_NEW); /* wg_transport_pick sends it over UDP */
}
