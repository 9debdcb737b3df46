/* UDP or TCP for a plaintext client (--transport), on the control thread.
 *
 * udp or tcp: that one only. auto (the default): UDP first. The server answers every keepalive
 * from its client (plain.c), so silence is visible: when we have sent on the current transport and
 * nothing came back for PLAIN_ANSWER_WAIT, a keepalive asks; when it goes unanswered twice in a
 * row, the client moves to the other transport (UDP to TCP at the server's address and port, or
 * back). The keepalive sent at start-up is the first ask, and until anything has come back one
 * unanswered ask is enough: with UDP blocked, the tunnel runs over TCP about 3 s after start, as
 * in encrypted mode (wg_transport.c). While on TCP, a keepalive goes over UDP every
 * PLAIN_UDP_PROBE_INTERVAL, and the first datagram that comes back over UDP moves the client back.
 * The server follows its client as it follows any move (plain.c): at once for a new client, else
 * once the old endpoint has been quiet for 2 s, on a data packet or a keepalive from the same
 * host. Every unanswered ask also has a server given by name looked up again (plain_resolve.c);
 * such a client watches the silence in udp and tcp modes too, without changing transports. */
#include "plain.h"
#include "log.h"

#define NS 1000000000ull
#define PLAIN_ANSWER_WAIT_NS (3 * NS)
#define PLAIN_UDP_PROBE_INTERVAL_NS (30 * NS)
#define PLAIN_TRANSPORT_TICK_NS (NS / 2)
enum { PLAIN_ASKS_BEFORE_MOVE = 2 };

void plain_transport_heard(struct plain_tunnel *t, const struct dgram_addr *from, uint64_t now)
{
	uint64_t *slot = &t->rx_ns[from->kind == TRANSPORT_TCP];

	if (__atomic_load_n(slot, __ATOMIC_RELAXED) != now) /* one store per batch, not per packet */
		__atomic_store_n(slot, now, __ATOMIC_RELAXED);
}

static void move_to(struct plain_tunnel *t, enum transport_kind kind, uint64_t now)
{
	pthread_mutex_lock(&t->lock);
	t->endpoint.kind = kind;
	t->endpoint.conn = 0;
	__atomic_store_n(&t->generation, t->generation + 1, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&t->lock);
	t->asked_ns = 0;
	t->unanswered = 0;
	t->probe_ns = now;
	if (kind == TRANSPORT_UDP)
		transport_tcp_retire(t->engine->tcp, &t->endpoint.remote);
	stats_add(&t->engine->stats.transport_switches, 1);
	log_info("now over %s%s", kind == TRANSPORT_TCP ? "TCP" : "UDP",
		 kind == TRANSPORT_TCP ? ": no answer over UDP" : "");
}

static void ask(struct plain_tunnel *t, uint64_t now)
{
	plain_send_keepalive(t, &t->endpoint); /* only this thread writes t->endpoint */
	t->asked_ns = now;
}

/* Start-up over UDP, and not one datagram back on either transport yet. */
static bool never_heard(const struct plain_tunnel *t)
{
	return t->endpoint.kind == TRANSPORT_UDP &&
	       !__atomic_load_n(&t->rx_ns[TRANSPORT_UDP], __ATOMIC_RELAXED) &&
	       !__atomic_load_n(&t->rx_ns[TRANSPORT_TCP], __ATOMIC_RELAXED);
}

/* An ask went unanswered: the server's name may point elsewhere now; in auto mode, the other
 * transport is tried after PLAIN_ASKS_BEFORE_MOVE of them (one before anything came back). */
static void unanswered(struct plain_tunnel *t, uint64_t now)
{
	plain_resolve_maybe(t, now);
	if (t->transport == TRANSPORT_MODE_AUTO &&
	    (++t->unanswered >= PLAIN_ASKS_BEFORE_MOVE || never_heard(t)))
		move_to(t, t->endpoint.kind == TRANSPORT_TCP ? TRANSPORT_UDP : TRANSPORT_TCP, now);
	else
		ask(t, now);
}

/* The silence rule of the top of the file, on the current transport. */
static void check_answers(struct plain_tunnel *t, uint64_t now)
{
	uint64_t heard = __atomic_load_n(&t->rx_ns[t->endpoint.kind == TRANSPORT_TCP], __ATOMIC_RELAXED);
	uint64_t sent = __atomic_load_n(&t->last_tx_ns, __ATOMIC_RELAXED);

	if (t->asked_ns && heard >= t->asked_ns) {
		t->asked_ns = 0;
		t->unanswered = 0;
	} else if (t->asked_ns && now - t->asked_ns >= PLAIN_ANSWER_WAIT_NS) {
		unanswered(t, now);
	} else if (!t->asked_ns && sent > heard && now - heard >= PLAIN_ANSWER_WAIT_NS) {
		ask(t, now);
	}
}

static void on_tick(struct loop_timer *timer)
{
	struct plain_tunnel *t = container_of(timer, struct plain_tunnel, transport_timer);
	uint64_t now = t->engine->loop.now_ns;

	timer->deadline_ns = now + PLAIN_TRANSPORT_TICK_NS;
	if (t->transport == TRANSPORT_MODE_AUTO && t->endpoint.kind == TRANSPORT_TCP) {
		if (__atomic_load_n(&t->rx_ns[TRANSPORT_UDP], __ATOMIC_RELAXED) > t->probe_ns) {
			move_to(t, TRANSPORT_UDP, now);
			return;
		}
		if (now - t->probe_ns >= PLAIN_UDP_PROBE_INTERVAL_NS) {
			struct dgram_addr udp = { .remote = t->endpoint.remote, .kind = TRANSPORT_UDP };

			log_debug("probing UDP");
			plain_send_keepalive(t, &udp);
			t->probe_ns = now;
		}
	}
	check_answers(t, now);
}

void plain_transport_moved(struct plain_tunnel *t, uint64_t now)
{
	t->unanswered = 0;
	t->probe_ns = now;
	ask(t, now);
}

/* The silence is watched in auto mode, and by a client given its server by name. */
int plain_transport_start(struct plain_tunnel *t)
{
	uint64_t now = t->engine->loop.now_ns;

	if (!t->engine->tcp || t->mode != MODE_CLIENT)
		t->transport = TRANSPORT_MODE_UDP;
	t->endpoint.kind = t->transport == TRANSPORT_MODE_TCP ? TRANSPORT_TCP : TRANSPORT_UDP;
	if (t->mode != MODE_CLIENT || (t->transport != TRANSPORT_MODE_AUTO && !t->endpoint_name.name))
		return 0;
	t->asked_ns = now; /* the keepalive plain_start sends next */
	t->rx_ns[TRANSPORT_UDP] = t->rx_ns[TRANSPORT_TCP] = 0;
	t->transport_timer.fire = on_tick;
	t->transport_timer.deadline_ns = now + PLAIN_TRANSPORT_TICK_NS;
	return loop_add_timer(&t->engine->loop, &t->transport_timer);
}
