/* The seed's plaintext tunnel: a 4-byte header, one peer, no cryptography.
 *
 * Peer and client accept datagrams only from the address they were given. A server follows its
 * client wherever its well-formed packets come from: that is how it crosses NAT and survives
 * re-mapping. Without authentication anyone can redirect a server this way, which is why the
 * plaintext modes warn at start-up. */
#include "plain.h"
#include "log.h"
#include "packet.h"

static void arm_keepalive(struct plain_tunnel *t)
{
	if (t->keepalive_ns)
		t->keepalive_timer.deadline_ns = t->last_tx_ns + t->keepalive_ns;
}

static size_t plain_encap(struct worker *w, uint8_t *pkt, size_t len, uint8_t **dgram,
			  const union endpoint **to)
{
	struct plain_tunnel *t = w->tunnel;

	if (!endpoint_is_set(&t->endpoint)) {
		worker_drop(w, DROP_NO_ENDPOINT);
		return 0;
	}
	*dgram = pkt - PLAIN_HEADER_LEN;
	plain_write_header(*dgram, PLAIN_DATA);
	*to = &t->endpoint;
	if (t->last_tx_ns != w->loop->now_ns) {
		t->last_tx_ns = w->loop->now_ns;
		arm_keepalive(t);
	}
	return len + PLAIN_HEADER_LEN;
}

static bool accept_source(struct worker *w, struct plain_tunnel *t, const union endpoint *from)
{
	char buf[INET6_ADDRSTRLEN + 8];

	if (endpoint_equal(from, &t->endpoint))
		return true;
	if (t->mode != MODE_SERVER) {
		worker_drop(w, DROP_UNKNOWN_SOURCE);
		return false;
	}
	log_info("client endpoint is now %s", endpoint_format(from, buf, sizeof(buf)));
	t->endpoint = *from;
	w->stats.endpoint_changes++;
	return true;
}

static size_t plain_decap(struct worker *w, uint8_t *dgram, size_t len, const union endpoint *from,
			  uint8_t **ip)
{
	struct plain_tunnel *t = w->tunnel;
	enum drop_reason why;
	size_t ip_len = 0;
	enum rx_verdict v = plain_decode(dgram, len, w->mtu, &ip_len, &why);

	if (v == RX_DROP) {
		worker_drop(w, why);
		return 0;
	}
	if (!accept_source(w, t, from))
		return 0;
	w->stats.rx_packets++;
	w->stats.rx_bytes += len;
	if (v == RX_KEEPALIVE) {
		w->stats.keepalives_received++;
		return 0;
	}
	*ip = dgram + PLAIN_HEADER_LEN;
	return ip_len;
}

const struct tunnel_ops plain_ops = { .encap = plain_encap, .decap = plain_decap };

static void send_keepalive(struct plain_tunnel *t)
{
	uint8_t header[PLAIN_HEADER_LEN];

	if (!endpoint_is_set(&t->endpoint))
		return;
	plain_write_header(header, PLAIN_KEEPALIVE);
	if (worker_send(t->worker, header, sizeof(header), &t->endpoint) == 0)
		t->worker->stats.keepalives_sent++;
	t->last_tx_ns = t->worker->loop->now_ns;
}

/* Fires keepalive_ns after the last datagram sent; traffic in between pushes it back. */
static void on_keepalive_timer(struct loop_timer *timer)
{
	struct plain_tunnel *t = container_of(timer, struct plain_tunnel, keepalive_timer);

	if (t->worker->loop->now_ns - t->last_tx_ns >= t->keepalive_ns)
		send_keepalive(t);
	arm_keepalive(t);
}

void plain_init(struct plain_tunnel *t, enum run_mode mode, const union endpoint *peer,
		int keepalive_seconds)
{
	*t = (struct plain_tunnel){ .mode = mode, .endpoint = *peer,
				    .keepalive_ns = (uint64_t)keepalive_seconds * 1000000000ull };
	t->keepalive_timer.fire = on_keepalive_timer;
}

int plain_start(struct plain_tunnel *t, struct worker *w)
{
	t->worker = w;
	t->last_tx_ns = w->loop->now_ns;
	if (t->mode == MODE_CLIENT)
		send_keepalive(t);
	arm_keepalive(t);
	return loop_add_timer(w->loop, &t->keepalive_timer);
}
