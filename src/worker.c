/* A data-path worker: TUN -> transport and transport -> TUN in batches, on its own thread.
 *
 * Each wake-up takes whatever the kernel has ready, up to one batch, and never waits for more:
 * waiting to fill a batch would add latency. What a socket delivers goes through the receive
 * backlog (rx_backlog.h): sparse datagrams first, bulk ones a chunk per loop turn. No
 * allocation per packet. */
#include "worker.h"
#include "engine.h"
#include "icmp.h"
#include "log.h"
#include "packet.h"
#include "ping_trace.h"
#include "rendezvous.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

/* Datagrams this small are served before the bulk backlog (rx_backlog.h): a WireGuard data
 * message carrying an inner packet that CoDel calls sparse (the inner length padded to 16, a
 * 16-byte header and tag), and every handshake message. */
#define RX_SPARSE_WIRE_MAX (CODEL_SPARSE_MAX + 32)
/* Bulk datagrams per turn: between chunks the sockets are read again and the TUN queues get
 * their turn, so a sparse packet waits for one chunk at most. */
#define RX_BULK_CHUNK 128

static uint8_t *slot(uint8_t *slots, int i)
{
	return slots + (size_t)i * SLOT_SIZE;
}

void worker_drop(struct worker *w, enum drop_reason why)
{
	stats_drop(&w->stats, why, 1);
	log_ratelimited(LOGL_DEBUG, w->loop.now_ns, "dropped packet: %s", stats_drop_reason_name(why));
}

_Static_assert((int)SLOT_HEADROOM >= (int)ICMP_TOO_BIG_HEADROOM, "an ICMP answer is built in the headroom");

bool worker_too_big(struct worker *w, uint8_t *pkt, size_t len, size_t mtu)
{
	uint8_t *reply;
	size_t reply_len;

	if (!icmp_too_big(pkt, len, mtu))
		return false;
	worker_drop(w, DROP_TOO_BIG);
	if (!icmp_limit_allow(&w->icmp_limit, w->loop.now_ns))
		return true;
	reply_len = icmp_build_too_big(pkt, len, mtu, &reply);
	if (reply_len) {
		/* on the lane of the answer's flow, as every packet written to the TUN */
		unsigned int lane = packet_flow_hash(reply, reply_len) % w->lane_count;

		tun_write_batch(&w->lanes[lane].tun, &reply, &reply_len, 1);
	}
	return true;
}

uint64_t worker_jitter(struct worker *w)
{
	w->prng ^= w->prng << 13;
	w->prng ^= w->prng >> 7;
	w->prng ^= w->prng << 17;
	return w->prng;
}

/* Each run of datagrams with the same kind of endpoint goes to that transport: the UDP socket
 * under send_lock (directly, or in relay envelopes to the rendezvous), the device's TCP
 * transport (which locks itself). Returns how many left. */
static int send_locked(struct worker *w, const struct transport_tx *tx, int count)
{
	struct transport *tcp = w->engine->tcp;
	int sent = 0;

	for (int i = 0, run; i < count; i += run) {
		uint8_t kind = tx[i].to->kind;

		for (run = 1; i + run < count && tx[i + run].to->kind == kind; run++)
			;
		if (kind == TRANSPORT_TCP && tcp) {
			sent += transport_send_batch(tcp, tx + i, run);
			continue;
		}
		pthread_mutex_lock(&w->send_lock); /* the control thread counts here too */
		if (kind == TRANSPORT_TCP)
			stats_drop(&w->stats, DROP_TCP_NO_CONN, (uint64_t)run);
		else if (kind == TRANSPORT_RELAY)
			sent += transport_relay_send(w->transport, tx + i, run,
						     __atomic_load_n(&w->engine->relay_id, __ATOMIC_RELAXED));
		else
			sent += transport_send_batch(w->transport, tx + i, run);
		pthread_mutex_unlock(&w->send_lock);
	}
	return sent;
}

int worker_send(struct worker *w, const void *data, size_t len, const struct dgram_addr *to)
{
	struct transport_tx tx = { .data = data, .len = len, .to = to };

	return send_locked(w, &tx, 1) == 1 ? 0 : -EIO;
}

int worker_send_probe(struct worker *w, const void *data, size_t len, const struct dgram_addr *to)
{
	struct transport_tx tx = { .data = data, .len = len, .to = to };
	struct transport *t;
	int ret;

	/* UDP only: a TCP stream does not carry DF, nor does the relay, whose envelope would
	 * make the probe 12 bytes larger than it says */
	if (to->kind != TRANSPORT_UDP)
		return -EOPNOTSUPP;
	pthread_mutex_lock(&w->send_lock);
	t = w->transport;
	ret = t->ops->set_dont_fragment ? t->ops->set_dont_fragment(t, true) : -EOPNOTSUPP;
	if (!ret) {
		ret = transport_send_batch(t, &tx, 1) == 1 ? 0 : -EIO;
		if (t->ops->set_dont_fragment(t, false))
			log_warn("cannot clear DF after a path MTU probe: %s", strerror(errno));
	}
	pthread_mutex_unlock(&w->send_lock);
	return ret;
}

static bool is_ip(const uint8_t *pkt, size_t len)
{
	return len && (pkt[0] >> 4 == 4 || pkt[0] >> 4 == 6);
}

/* Frames the packets read from the TUN; returns how many datagrams are ready to send. */
static int frame_batch(struct worker *w, int count)
{
	int ready = 0;

	for (int i = 0; i < count; i++) {
		const struct dgram_addr *to;
		uint8_t *dgram;
		size_t len;

		if (!is_ip(w->tx_pkts[i], w->tx_lens[i])) {
			worker_drop(w, DROP_TUN_NOT_IP);
			continue;
		}
		PING_TRACE("tunread", w->tx_pkts[i], w->tx_lens[i], 0);
		len = w->ops->encap(w, w->tx_pkts[i], w->tx_lens[i], &dgram, &to);
		if (len)
			w->tx[ready++] = (struct transport_tx){ .data = dgram, .len = len, .to = to };
	}
	return ready;
}

/* One batch from one lane: the other lanes' turn comes before this one's next batch. */
static void on_tun_readable(struct loop_source *src, uint32_t events)
{
	struct worker_lane *lane = container_of(src, struct worker_lane, source);
	struct worker *w = lane->w;
	int count, ready;

	if (w->ops->batch_begin)
		w->ops->batch_begin(w);
	count = tun_read_batch(&lane->tun, w->tx_pkts, SLOT_MAX_PACKET, w->tx_lens, WORKER_BATCH);
	ready = frame_batch(w, count);
	if (ready)
		send_locked(w, w->tx, ready);
	if (w->ops->batch_end)
		w->ops->batch_end(w);
	if (lane->tun.gone)
		engine_stop(w->engine);
}

/* GRO buffers each hold up to TRANSPORT_GSO_MAX_SEGMENTS datagrams: offer only as many
 * buffers as the entries can describe. */
static int rx_buffers(const struct worker *w)
{
	int n = w->transport->gro ? TRANSPORT_MAX_RX / TRANSPORT_GSO_MAX_SEGMENTS : WORKER_BATCH;

	return n < WORKER_BATCH ? n : WORKER_BATCH;
}

static void write_lane(struct worker_lane *lane, uint8_t **pkts, size_t *lens, int count)
{
	for (int i = 0; i < count; i += OFFLOAD_MAX_BATCH) {
		int n = count - i < OFFLOAD_MAX_BATCH ? count - i : OFFLOAD_MAX_BATCH;

		tun_write_batch(&lane->tun, pkts + i, lens + i, n);
	}
}

/* Writes each packet on the lane of its flow (see struct worker_lane): the kernel then sends
 * that flow's replies to the same lane. A stable counting sort by lane keeps each flow's
 * order (and its segments next to each other, for coalescing). */
static void write_tun(struct worker *w, int count)
{
	uint8_t lane_of[TRANSPORT_MAX_RX];
	int start[WORKER_MAX_LANES + 1] = { 0 }, at[WORKER_MAX_LANES];

	if (w->lane_count == 1) {
		write_lane(&w->lanes[0], w->rx_ip, w->rx_ip_len, count);
		return;
	}
	for (int i = 0; i < count; i++) {
		lane_of[i] = (uint8_t)(packet_flow_hash(w->rx_ip[i], w->rx_ip_len[i]) % w->lane_count);
		start[lane_of[i] + 1]++;
	}
	for (unsigned int l = 0; l < w->lane_count; l++)
		start[l + 1] += start[l];
	memcpy(at, start, sizeof(at));
	for (int i = 0; i < count; i++) {
		int pos = at[lane_of[i]]++;

		w->rx_lane_ip[pos] = w->rx_ip[i];
		w->rx_lane_len[pos] = w->rx_ip_len[i];
	}
	for (unsigned int l = 0; l < w->lane_count; l++)
		if (start[l + 1] > start[l])
			write_lane(&w->lanes[l], w->rx_lane_ip + start[l], w->rx_lane_len + start[l],
				   start[l + 1] - start[l]);
}

void worker_set_queue_target(struct worker *w, uint64_t target_ns, uint64_t interval_ns)
{
	codel_init(&w->rx_codel, target_ns, interval_ns);
}

/* The receive timestamps' clock (SO_TIMESTAMPNS), read once per batch. */
static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* How long a datagram waited in the socket; 0 if unknown (or the clock stepped back). */
static uint64_t sojourn(const struct transport_rx *rx, uint64_t now_real)
{
	return rx->arrival_ns && now_real > rx->arrival_ns ? now_real - rx->arrival_ns : 0;
}

/* Queue management on a packet about to be written to the TUN: false if it is to be dropped
 * (counted). The signal falls on a decrypted packet, as only its inner header tells whether
 * its sender takes a CE mark instead of a loss; CoDel signals rarely (about one packet per
 * interval/sqrt(n)), so the crypto spent on the dropped ones is negligible. */
static bool admit(struct worker *w, const struct transport_rx *rx, uint8_t *ip, size_t len,
		  uint64_t now_real)
{
	if (!rx->arrival_ns || !codel_decide(&w->rx_codel, sojourn(rx, now_real), w->loop.now_ns, len))
		return true;
	if (codel_ecn_mark(ip, len)) {
		stats_add(&w->stats.ecn_marked, 1);
		return true;
	}
	worker_drop(w, DROP_QUEUE_DELAY);
	return false;
}

/* Decrypts (or unframes) entries rx[0..n) and writes what passes to the TUN; their buffers
 * are free again after. */
static void process(struct worker *w, struct transport_rx *rx, int n)
{
	uint64_t now_real = w->rx_codel.target_ns || PING_TRACE_ON ? realtime_ns() : 0;
	int count = 0;

	if (w->ops->batch_begin)
		w->ops->batch_begin(w);
	for (int i = 0; i < n; i++) {
		uint8_t *ip;
		size_t ip_len = w->ops->decap(w, rx[i].data, rx[i].len, &rx[i].from, &ip);

		if (ip_len)
			PING_TRACE("decap", ip, ip_len, sojourn(&rx[i], now_real));
		if (ip_len && admit(w, &rx[i], ip, ip_len, now_real)) {
			w->rx_ip[count] = ip;
			w->rx_ip_len[count++] = ip_len;
		}
	}
	if (w->ops->batch_end)
		w->ops->batch_end(w);
	if (count)
		write_tun(w, count);
	for (int i = 0; i < n; i++)
		rx_backlog_done(w->backlog, rx[i].data);
}

/* One turn of the receive side (rx_backlog.h): whatever t has ready goes into free buffers,
 * its sparse datagrams are served at once, then one chunk of the oldest bulk ones. Whatever
 * remains keeps the loop awake, a chunk per turn, between the other sources' turns. */
static void receive(struct worker *w, struct transport *t, int nbufs)
{
	uint8_t *bufs[WORKER_BATCH];
	unsigned int taken = rx_backlog_take_bufs(w->backlog, bufs, (unsigned int)nbufs);
	int n = taken ? transport_recv_batch(t, bufs, SLOT_SIZE, (int)taken, w->rx, TRANSPORT_MAX_RX) : 0;

	if (n < 0)
		log_ratelimited(LOGL_WARN, w->loop.now_ns, "receive: %s", strerror(-n));
	n = rx_backlog_add(w->backlog, bufs, taken, w->rx, n > 0 ? n : 0, w->rx_sparse,
			   RX_SPARSE_WIRE_MAX);
	if (n)
		process(w, w->rx_sparse, n);
	n = rx_backlog_pop(w->backlog, w->rx, RX_BULK_CHUNK);
	if (n)
		process(w, w->rx, n);
	loop_set_backlog(&w->loop, rx_backlog_empty(w->backlog) ? NULL : &w->backlog_source);
	w->rx_served = true;
}

static void on_udp_readable(struct loop_source *src, uint32_t events)
{
	struct worker *w = container_of(src, struct worker, udp_source);

	receive(w, w->transport, rx_buffers(w));
}

static void on_tcp_readable(struct loop_source *src, uint32_t events)
{
	struct worker *w = container_of(src, struct worker, tcp_source);

	receive(w, w->engine->tcp, WORKER_BATCH);
}

/* The backlog's chunk for this turn, unless a socket's event served one already; the socket
 * is read again too, so that a sparse datagram that came meanwhile does not wait. */
static void on_backlog(struct loop_source *src, uint32_t events)
{
	struct worker *w = container_of(src, struct worker, backlog_source);

	if (w->rx_served)
		w->rx_served = false;
	else
		receive(w, w->transport, rx_buffers(w));
}

int worker_add_tcp(struct worker *w, struct transport *tcp)
{
	w->tcp_source.on_event = on_tcp_readable;
	return loop_add_fd(&w->loop, tcp->fd, EPOLLIN, &w->tcp_source);
}

static void on_stop(struct loop_source *src, uint32_t events)
{
	struct worker *w = container_of(src, struct worker, stop_source);

	loop_stop(&w->loop);
}

int worker_swap_transport(struct worker *w, struct transport *t)
{
	int ret = loop_add_fd(&w->loop, t->fd, EPOLLIN, &w->udp_source);

	if (ret)
		return ret;
	t->stats = &w->stats;
	pthread_mutex_lock(&w->send_lock);
	loop_del_fd(&w->loop, w->transport->fd);
	w->transport->ops->close(w->transport);
	w->transport = t;
	pthread_mutex_unlock(&w->send_lock);
	return 0;
}

static int alloc_slots(struct worker *w)
{
	w->tx_slots = malloc((size_t)WORKER_BATCH * SLOT_SIZE);
	w->rx_slots = malloc((size_t)WORKER_BATCH * SLOT_SIZE);
	if (!w->tx_slots || !w->rx_slots)
		return -ENOMEM;
	for (int i = 0; i < WORKER_BATCH; i++)
		w->tx_pkts[i] = slot(w->tx_slots, i) + SLOT_HEADROOM;
	w->backlog = malloc(sizeof(*w->backlog));
	if (!w->backlog)
		return -ENOMEM;
	rx_backlog_init(w->backlog, w->rx_slots, SLOT_SIZE, WORKER_BATCH);
	return 0;
}

static int init_lanes(struct worker *w, const int *tun_fds, bool vnet_hdr, int gro_flags)
{
	int ret = 0;

	for (unsigned int i = 0; i < w->lane_count; i++) {
		struct worker_lane *lane = &w->lanes[i];

		lane->w = w;
		lane->source.on_event = on_tun_readable;
		if (!ret)
			ret = tun_queue_init(&lane->tun, tun_fds[i], vnet_hdr, gro_flags, &w->stats);
		else
			lane->tun.fd = tun_fds[i]; /* ours to close with the rest */
	}
	return ret;
}

static int watch_lanes(struct worker *w)
{
	int ret = 0;

	for (unsigned int i = 0; i < w->lane_count && !ret; i++)
		ret = loop_add_fd(&w->loop, w->lanes[i].tun.fd, EPOLLIN, &w->lanes[i].source);
	return ret;
}

int worker_init(struct worker *w, struct engine *e, unsigned int id, const int *tun_fds,
		unsigned int lanes, bool vnet_hdr, int gro_flags, struct transport *transport)
{
	int ret;

	*w = (struct worker){ .engine = e, .id = id, .ops = e->ops, .tunnel = e->tunnel,
			      .transport = transport, .prng = 0x9e3779b97f4a7c15ull * (id + 1),
			      .loop = { .epoll_fd = -1 }, .lane_count = lanes };
	pthread_mutex_init(&w->send_lock, NULL);
	w->udp_source.on_event = on_udp_readable;
	w->backlog_source.on_event = on_backlog;
	w->stop_source.on_event = on_stop;
	transport->stats = &w->stats;
	ret = init_lanes(w, tun_fds, vnet_hdr, gro_flags);
	if (!ret)
		ret = alloc_slots(w);
	if (!ret)
		ret = loop_init(&w->loop);
	if (!ret)
		ret = watch_lanes(w);
	if (!ret)
		ret = loop_add_fd(&w->loop, transport->fd, EPOLLIN, &w->udp_source);
	if (!ret)
		ret = loop_add_fd(&w->loop, e->stop_fd, EPOLLIN, &w->stop_source);
	return ret;
}

void worker_free(struct worker *w)
{
	loop_close(&w->loop);
	if (w->transport)
		w->transport->ops->close(w->transport);
	w->transport = NULL;
	for (unsigned int i = 0; i < w->lane_count; i++) {
		if (w->lanes[i].tun.fd >= 0)
			close(w->lanes[i].tun.fd);
		w->lanes[i].tun.fd = -1;
		tun_queue_free(&w->lanes[i].tun);
	}
	free(w->tunnel_local);
	w->tunnel_local = NULL;
	free(w->tx_slots);
	free(w->rx_slots);
	free(w->backlog);
	w->tx_slots = w->rx_slots = NULL;
	w->backlog = NULL;
	pthread_mutex_destroy(&w->send_lock);
}
