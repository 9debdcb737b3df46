/* A data-path worker: TUN -> UDP and UDP -> TUN in batches, with no allocation per packet.
 *
 * Each wake-up takes whatever the kernel has ready, up to one batch, and never waits for more:
 * waiting to fill a batch would add latency. One sendmmsg per TUN batch; one recvmmsg per UDP
 * batch, then one write per packet (the TUN has no batched write without offloads). */
#include "worker.h"
#include "log.h"
#include "packet.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

static uint8_t *slot(struct packet_batch *b, int i)
{
	return b->slots + (size_t)i * SLOT_SIZE;
}

static void drop(struct worker *w, enum drop_reason why)
{
	w->stats.drops[why]++;
	log_ratelimited(LOG_DEBUG, w->loop->now_ns, "dropped packet: %s", stats_drop_reason_name(why));
}

static void arm_keepalive(struct worker *w)
{
	if (w->tunnel->keepalive_ns)
		w->keepalive_timer.deadline_ns = w->tunnel->last_tx_ns + w->tunnel->keepalive_ns;
}

/* Sends tx.msgs[0..count); whatever the kernel refuses is counted, never retried. */
static void send_batch(struct worker *w, int count)
{
	int sent = 0;

	while (sent < count) {
		int n = sendmmsg(w->udp_fd, w->tx.msgs + sent, (unsigned int)(count - sent), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_ratelimited(LOG_WARN, w->loop->now_ns, "send to peer failed: %s", strerror(errno));
			w->stats.drops[DROP_UDP_SEND] += (uint64_t)(count - sent);
			break;
		}
		for (int i = sent; i < sent + n; i++)
			w->stats.tx_bytes += w->tx.msgs[i].msg_len;
		w->stats.tx_packets += (uint64_t)n;
		sent += n;
	}
	if (sent) {
		w->tunnel->last_tx_ns = w->loop->now_ns;
		arm_keepalive(w);
	}
}

static void prepare_tx(struct worker *w, int i, uint8_t *data, size_t len)
{
	struct msghdr *m = &w->tx.msgs[i].msg_hdr;

	w->tx.iovs[i] = (struct iovec){ .iov_base = data, .iov_len = len };
	*m = (struct msghdr){
		.msg_name = &w->tunnel->endpoint,
		.msg_namelen = endpoint_len(&w->tunnel->endpoint),
		.msg_iov = &w->tx.iovs[i],
		.msg_iovlen = 1,
	};
}

/* Reads up to one batch from the TUN. Returns how many packets were framed for sending. */
static int read_tun_batch(struct worker *w)
{
	int count = 0;

	for (int i = 0; i < WORKER_BATCH; i++) {
		uint8_t *pkt = slot(&w->tx, count) + SLOT_HEADROOM;
		ssize_t len = read(w->tun_fd, pkt, SLOT_SIZE - SLOT_HEADROOM);

		if (len < 0) {
			if (errno != EAGAIN && errno != EINTR)
				log_ratelimited(LOG_WARN, w->loop->now_ns, "TUN read: %s", strerror(errno));
			break;
		}
		if (len == 0 || (pkt[0] >> 4 != 4 && pkt[0] >> 4 != 6)) {
			drop(w, DROP_TUN_NOT_IP);
			continue;
		}
		plain_write_header(pkt - PLAIN_HEADER_LEN, PLAIN_DATA);
		prepare_tx(w, count++, pkt - PLAIN_HEADER_LEN, (size_t)len + PLAIN_HEADER_LEN);
	}
	return count;
}

static void on_tun_readable(struct loop_source *src, uint32_t events)
{
	struct worker *w = container_of(src, struct worker, tun_source);
	int count = read_tun_batch(w);

	if (!count)
		return;
	if (!endpoint_is_set(&w->tunnel->endpoint)) {
		w->stats.drops[DROP_NO_ENDPOINT] += (uint64_t)count;
		log_ratelimited(LOG_INFO, w->loop->now_ns, "no client has connected yet; dropping");
		return;
	}
	send_batch(w, count);
}

/* Peer and client accept only the address they were given. A server follows its client
 * wherever its packets come from: that is how it crosses NAT and survives re-mapping. */
static bool accept_source(struct worker *w, const union endpoint *from)
{
	struct tunnel *t = w->tunnel;
	char buf[INET6_ADDRSTRLEN + 8];

	if (endpoint_equal(from, &t->endpoint))
		return true;
	if (t->mode != MODE_SERVER) {
		drop(w, DROP_UNKNOWN_SOURCE);
		return false;
	}
	log_info("client endpoint is now %s", endpoint_format(from, buf, sizeof(buf)));
	t->endpoint = *from;
	w->stats.endpoint_changes++;
	return true;
}

static void deliver(struct worker *w, const uint8_t *dgram, size_t len, const union endpoint *from)
{
	enum drop_reason why;
	size_t ip_len = 0;
	enum rx_verdict v = plain_decode(dgram, len, w->mtu, &ip_len, &why);

	if (v == RX_DROP) {
		drop(w, why);
		return;
	}
	if (!accept_source(w, from))
		return;
	w->stats.rx_packets++;
	w->stats.rx_bytes += len;
	if (v == RX_KEEPALIVE) {
		w->stats.keepalives_received++;
		return;
	}
	if (write(w->tun_fd, dgram + PLAIN_HEADER_LEN, ip_len) < 0)
		drop(w, DROP_TUN_WRITE);
}

static void prepare_rx(struct worker *w)
{
	for (int i = 0; i < WORKER_BATCH; i++) {
		w->rx.iovs[i] = (struct iovec){ .iov_base = slot(&w->rx, i), .iov_len = SLOT_SIZE };
		w->rx.msgs[i].msg_hdr = (struct msghdr){
			.msg_name = &w->rx.addrs[i],
			.msg_namelen = sizeof(w->rx.addrs[i]),
			.msg_iov = &w->rx.iovs[i],
			.msg_iovlen = 1,
		};
	}
}

static void on_udp_readable(struct loop_source *src, uint32_t events)
{
	struct worker *w = container_of(src, struct worker, udp_source);
	int n;

	prepare_rx(w);
	n = recvmmsg(w->udp_fd, w->rx.msgs, WORKER_BATCH, MSG_DONTWAIT, NULL);
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			log_ratelimited(LOG_WARN, w->loop->now_ns, "UDP receive: %s", strerror(errno));
		return;
	}
	for (int i = 0; i < n; i++) {
		struct msghdr *m = &w->rx.msgs[i].msg_hdr;

		if (m->msg_flags & MSG_TRUNC) {
			drop(w, DROP_OVERSIZED);
			continue;
		}
		deliver(w, slot(&w->rx, i), w->rx.msgs[i].msg_len, &w->rx.addrs[i]);
	}
}

void worker_send_keepalive(struct worker *w)
{
	uint8_t *hdr = slot(&w->tx, 0) + SLOT_HEADROOM;

	if (!endpoint_is_set(&w->tunnel->endpoint))
		return;
	plain_write_header(hdr, PLAIN_KEEPALIVE);
	prepare_tx(w, 0, hdr, PLAIN_HEADER_LEN);
	send_batch(w, 1);
	w->stats.keepalives_sent++;
}

/* Fires keepalive_ns after the last datagram sent; traffic in between pushes it back. */
static void on_keepalive_timer(struct loop_timer *timer)
{
	struct worker *w = container_of(timer, struct worker, keepalive_timer);

	if (w->loop->now_ns - w->tunnel->last_tx_ns >= w->tunnel->keepalive_ns)
		worker_send_keepalive(w);
	arm_keepalive(w);
}

static int alloc_batch(struct packet_batch *b)
{
	b->slots = malloc((size_t)WORKER_BATCH * SLOT_SIZE);
	return b->slots ? 0 : -ENOMEM;
}

int worker_init(struct worker *w, struct loop *loop, struct tunnel *tunnel, int tun_fd,
		int udp_fd, int udp_family, size_t mtu)
{
	int ret;

	*w = (struct worker){ .loop = loop, .tunnel = tunnel, .tun_fd = tun_fd, .udp_fd = udp_fd,
			      .udp_family = udp_family, .mtu = mtu };
	w->tun_source.on_event = on_tun_readable;
	w->udp_source.on_event = on_udp_readable;
	w->keepalive_timer.fire = on_keepalive_timer;
	if (alloc_batch(&w->tx) || alloc_batch(&w->rx)) {
		worker_free(w);
		return -ENOMEM;
	}
	ret = loop_add_fd(loop, tun_fd, EPOLLIN, &w->tun_source);
	if (!ret)
		ret = loop_add_fd(loop, udp_fd, EPOLLIN, &w->udp_source);
	if (!ret)
		ret = loop_add_timer(loop, &w->keepalive_timer);
	if (ret) {
		worker_free(w);
		return ret;
	}
	tunnel->last_tx_ns = loop->now_ns;
	arm_keepalive(w);
	return 0;
}

void worker_free(struct worker *w)
{
	free(w->tx.slots);
	free(w->rx.slots);
	w->tx.slots = w->rx.slots = NULL;
}
