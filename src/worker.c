/* A data-path worker: TUN -> UDP and UDP -> TUN in batches, with no allocation per packet.
 *
 * Each wake-up takes whatever the kernel has ready, up to one batch, and never waits for more:
 * waiting to fill a batch would add latency. One sendmmsg per TUN batch; one recvmmsg per UDP
 * batch, then one write per packet (the TUN has no batched write without offloads). */
#include "worker.h"
#include "log.h"

#include <errno.h>
#include <netinet/udp.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

static uint8_t *slot(struct packet_batch *b, int i)
{
	return b->slots + (size_t)i * SLOT_SIZE;
}

void worker_drop(struct worker *w, enum drop_reason why)
{
	w->stats.drops[why]++;
	log_ratelimited(LOG_DEBUG, w->loop->now_ns, "dropped packet: %s", stats_drop_reason_name(why));
}

/* Sends tx.msgs[from..count) one datagram each; what the kernel refuses is counted, never
 * retried. */
static void send_each(struct worker *w, int from, int count)
{
	int sent = from;

	while (sent < count) {
		int n = sendmmsg(w->udp_fd, w->tx.msgs + sent, (unsigned int)(count - sent), 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			log_ratelimited(LOG_WARN, w->loop->now_ns, "send failed: %s", strerror(errno));
			w->stats.drops[DROP_UDP_SEND] += (uint64_t)(count - sent);
			break;
		}
		for (int i = sent; i < sent + n; i++)
			w->stats.tx_bytes += w->tx.msgs[i].msg_len;
		w->stats.tx_packets += (uint64_t)n;
		sent += n;
	}
}

static void set_gso_msg(struct worker *w, int n, int first, int segments, size_t size)
{
	struct msghdr *m = &w->gso.msgs[n].msg_hdr;
	const struct msghdr *src = &w->tx.msgs[first].msg_hdr;
	struct cmsghdr *c = &w->gso.cmsg[n].align;
	uint16_t segment_size = (uint16_t)size;

	*m = (struct msghdr){ .msg_name = src->msg_name, .msg_namelen = src->msg_namelen,
			      .msg_iov = &w->tx.iovs[first], .msg_iovlen = (size_t)segments };
	w->gso.first[n] = first;
	w->gso.segments[n] = segments;
	if (segments == 1)
		return;
	m->msg_control = w->gso.cmsg[n].buf;
	m->msg_controllen = sizeof(w->gso.cmsg[n].buf);
	c->cmsg_level = SOL_UDP;
	c->cmsg_type = UDP_SEGMENT;
	c->cmsg_len = CMSG_LEN(sizeof(segment_size));
	memcpy(CMSG_DATA(c), &segment_size, sizeof(segment_size));
}

/* Groups tx.msgs[0..count) into GSO messages; returns how many. */
static int group_gso(struct worker *w, int count)
{
	int n = 0;

	for (int i = 0; i < count; n++) {
		const void *to = w->tx.msgs[i].msg_hdr.msg_name;
		size_t size = w->tx.iovs[i].iov_len, total = size;
		int j = i + 1;

		while (j < count && j - i < UDP_GSO_MAX_SEGMENTS && w->tx.msgs[j].msg_hdr.msg_name == to &&
		       w->tx.iovs[j].iov_len <= size && total + w->tx.iovs[j].iov_len <= UDP_GSO_MAX_BYTES) {
			total += w->tx.iovs[j].iov_len;
			if (w->tx.iovs[j++].iov_len < size)
				break; /* only the last segment may be shorter */
		}
		set_gso_msg(w, n, i, j - i, size);
		i = j;
	}
	return n;
}

/* A kernel or path that refuses UDP_SEGMENT (no checksum offload: EIO; a segment larger than
 * the route's MTU: EINVAL/EMSGSIZE) gets the datagrams one by one instead. */
static bool gso_refused(struct worker *w, int err)
{
	if (err != EIO && err != EINVAL && err != EMSGSIZE && err != EOPNOTSUPP)
		return false;
	if (err == EIO || err == EOPNOTSUPP) {
		log_info("UDP segmentation offload unavailable (%s); sending datagrams one by one",
			 strerror(err));
		w->udp_gso = false;
	}
	return true;
}

/* Sends tx.msgs[0..count), with UDP GSO where it applies. */
static void send_batch(struct worker *w, int count)
{
	int n, sent = 0;

	if (!w->udp_gso) {
		send_each(w, 0, count);
		return;
	}
	n = group_gso(w, count);
	while (sent < n) {
		int r = sendmmsg(w->udp_fd, w->gso.msgs + sent, (unsigned int)(n - sent), 0);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (gso_refused(w, errno)) {
				send_each(w, w->gso.first[sent], count);
				return;
			}
			log_ratelimited(LOG_WARN, w->loop->now_ns, "send failed: %s", strerror(errno));
			w->stats.drops[DROP_UDP_SEND] += (uint64_t)(count - w->gso.first[sent]);
			return;
		}
		for (int i = sent; i < sent + r; i++) {
			w->stats.tx_bytes += w->gso.msgs[i].msg_len;
			w->stats.tx_packets += (uint64_t)w->gso.segments[i];
		}
		sent += r;
	}
}

static void prepare_tx(struct worker *w, int i, uint8_t *data, size_t len, const union endpoint *to)
{
	w->tx.iovs[i] = (struct iovec){ .iov_base = data, .iov_len = len };
	w->tx.msgs[i].msg_hdr = (struct msghdr){
		.msg_name = (void *)to,
		.msg_namelen = endpoint_len(to),
		.msg_iov = &w->tx.iovs[i],
		.msg_iovlen = 1,
	};
}

int worker_send(struct worker *w, const void *data, size_t len, const union endpoint *to)
{
	if (sendto(w->udp_fd, data, len, 0, &to->sa, endpoint_len(to)) < 0) {
		w->stats.drops[DROP_UDP_SEND]++;
		log_ratelimited(LOG_WARN, w->loop->now_ns, "send failed: %s", strerror(errno));
		return -errno;
	}
	w->stats.tx_packets++;
	w->stats.tx_bytes += len;
	return 0;
}

static int frame(struct worker *w, int count, uint8_t *pkt, size_t len)
{
	const union endpoint *to;
	uint8_t *dgram;
	size_t dgram_len;

	if (len == 0 || (pkt[0] >> 4 != 4 && pkt[0] >> 4 != 6)) {
		worker_drop(w, DROP_TUN_NOT_IP);
		return count;
	}
	dgram_len = w->ops->encap(w, pkt, len, &dgram, &to);
	if (dgram_len)
		prepare_tx(w, count++, dgram, dgram_len, to);
	return count;
}

static void read_error(struct worker *w)
{
	if (errno == EBADFD || errno == EIO) {
		/* The interface was deleted under us (ip link del): nothing left to do. */
		log_info("the TUN interface is gone: shutting down");
		w->loop->stopping = true;
	} else if (errno != EAGAIN && errno != EINTR) {
		log_ratelimited(LOG_WARN, w->loop->now_ns, "TUN read: %s", strerror(errno));
	}
}

/* One read with a virtio-net header: a packet, or a super-packet split into segments, each
 * in its own slot (the first in place). Returns the new count of framed packets, or -1 when
 * the TUN has nothing more. A read that does not fit the batch flushes it first. */
static int read_offloaded(struct worker *w, int count)
{
	uint8_t *in = slot(&w->tx, count) + SLOT_HEADROOM - OFFLOAD_VNET_HDR_LEN;
	uint8_t *out[WORKER_BATCH];
	size_t lens[WORKER_BATCH];
	ssize_t len = read(w->tun_fd, in, SLOT_MAX_PACKET + OFFLOAD_VNET_HDR_LEN);
	int need, n;

	if (len < 0) {
		read_error(w);
		return -1;
	}
	need = offload_segments(in, (size_t)len);
	if (need < 0 || need > WORKER_BATCH) {
		worker_drop(w, DROP_BAD_OFFLOAD);
		return count;
	}
	if (need > WORKER_BATCH - count) {
		send_batch(w, count);
		memmove(slot(&w->tx, 0) + SLOT_HEADROOM - OFFLOAD_VNET_HDR_LEN, in, (size_t)len);
		in = slot(&w->tx, 0) + SLOT_HEADROOM - OFFLOAD_VNET_HDR_LEN;
		count = 0;
	}
	for (int i = 0; i < need; i++)
		out[i] = slot(&w->tx, count + i) + SLOT_HEADROOM;
	n = offload_split(in, (size_t)len, out, (size_t)(WORKER_BATCH - count), SLOT_MAX_PACKET, lens);
	if (n < 0) {
		worker_drop(w, DROP_BAD_OFFLOAD);
		return count;
	}
	for (int i = 0; i < n; i++)
		count = frame(w, count, out[i], lens[i]);
	return count;
}

/* Reads from the TUN until it is empty or a batch is full, and frames each packet. Returns
 * how many are ready to send. */
static int read_tun_batch(struct worker *w)
{
	int count = 0;

	while (count < WORKER_BATCH) {
		uint8_t *pkt = slot(&w->tx, count) + SLOT_HEADROOM;
		ssize_t len;

		if (w->vnet_hdr) {
			int next = read_offloaded(w, count);

			if (next < 0)
				break;
			count = next;
			continue;
		}
		len = read(w->tun_fd, pkt, SLOT_MAX_PACKET);
		if (len < 0) {
			read_error(w);
			break;
		}
		count = frame(w, count, pkt, (size_t)len);
	}
	return count;
}

static void on_tun_readable(struct loop_source *src, uint32_t events)
{
	struct worker *w = container_of(src, struct worker, tun_source);
	int count = read_tun_batch(w);

	if (count)
		send_batch(w, count);
}

/* Writes the batch's decapsulated packets to the TUN: with offloads, consecutive segments of
 * one TCP (or UDP) flow become one super-packet, one write instead of dozens. */
static void write_tun_batch(struct worker *w, int count)
{
	if (!w->vnet_hdr) {
		for (int i = 0; i < count; i++)
			if (write(w->tun_fd, w->rx_ip[i], w->rx_ip_len[i]) < 0)
				worker_drop(w, DROP_TUN_WRITE);
		return;
	}
	int writes = offload_coalesce(&w->gro, w->rx_ip, w->rx_ip_len, (size_t)count, (unsigned int)w->gro_flags);

	for (int i = 0; i < writes; i++) {
		const struct offload_write *wr = &w->gro.writes[i];

		if (writev(w->tun_fd, wr->iov, wr->iovcnt) < 0) {
			w->stats.drops[DROP_TUN_WRITE] += wr->count;
			log_ratelimited(LOG_DEBUG, w->loop->now_ns, "TUN write: %s", strerror(errno));
		}
	}
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
	int count = 0;

	for (int i = 0; i < n; i++) {
		uint8_t *ip;
		size_t ip_len;

		if (w->rx.msgs[i].msg_hdr.msg_flags & MSG_TRUNC) {
			worker_drop(w, DROP_OVERSIZED);
			continue;
		}
		ip_len = w->ops->decap(w, slot(&w->rx, i), w->rx.msgs[i].msg_len, &w->rx.addrs[i], &ip);
		if (ip_len) {
			w->rx_ip[count] = ip;
			w->rx_ip_len[count++] = ip_len;
		}
	}
	if (count)
		write_tun_batch(w, count);
}

static int alloc_batch(struct packet_batch *b)
{
	b->slots = malloc((size_t)WORKER_BATCH * SLOT_SIZE);
	return b->slots ? 0 : -ENOMEM;
}

int worker_init(struct worker *w, struct loop *loop, const struct tunnel_ops *ops, void *tunnel,
		int tun_fd, int udp_fd, int udp_family, size_t mtu)
{
	int ret;

	*w = (struct worker){ .loop = loop, .ops = ops, .tunnel = tunnel, .tun_fd = tun_fd,
			      .udp_fd = udp_fd, .udp_family = udp_family, .mtu = mtu };
	w->tun_source.on_event = on_tun_readable;
	w->udp_source.on_event = on_udp_readable;
	if (alloc_batch(&w->tx) || alloc_batch(&w->rx)) {
		worker_free(w);
		return -ENOMEM;
	}
	ret = loop_add_fd(loop, tun_fd, EPOLLIN, &w->tun_source);
	if (!ret)
		ret = loop_add_fd(loop, udp_fd, EPOLLIN, &w->udp_source);
	if (ret)
		worker_free(w);
	return ret;
}

void worker_free(struct worker *w)
{
	free(w->tx.slots);
	free(w->rx.slots);
	w->tx.slots = w->rx.slots = NULL;
}
