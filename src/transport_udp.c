/* The UDP transport: a group of sockets on one port (one per worker), batched receive and send
 * with the kernel's UDP offloads, and our local address on every datagram.
 *
 * Receive: one recvmmsg; a buffer the kernel coalesced (UDP_GRO) is split into its datagrams;
 * the IP_PKTINFO/IPV6_PKTINFO of each datagram tells which of our addresses the peer used.
 * Send: runs of equal-sized datagrams to one destination leave as one UDP_SEGMENT message, each
 * from the local address the peer used (a pktinfo control message). Everything the kernel
 * refuses falls back one step at a time: a refused segmentation to one datagram per message,
 * a vanished local address to the kernel's choice, a refused datagram to a counted drop. */
#include "transport.h"
#include "log.h"

#include <netinet/udp.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* Room for every control message a datagram can carry to us: its destination (IPv4 on a
 * dual-stack socket comes in both forms), its GRO segment size, the kernel's drop counter and
 * its arrival time. */
enum {
	RX_CONTROL = CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(struct in_pktinfo)) +
		     CMSG_SPACE(sizeof(int)) + CMSG_SPACE(sizeof(uint32_t)) +
		     CMSG_SPACE(sizeof(struct timespec)),
	TX_CONTROL = CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(uint16_t)),
};

union rx_control {
	char buf[RX_CONTROL];
	struct cmsghdr align;
};

union tx_control {
	char buf[TX_CONTROL];
	struct cmsghdr align;
};

/* Scratch for one batch each way, allocated with the transport. Sending indexes iovecs by
 * datagram and messages by GSO run: message m carries datagrams tx_first[m] and the next
 * tx_segments[m] - 1. */
struct udp_transport {
	struct transport t;
	uint32_t rxq_seen; /* the kernel's cumulative drop counter when we last saw it */
	uint64_t kernel_rx_drops;
	struct mmsghdr rx_msgs[TRANSPORT_MAX_BATCH];
	struct iovec rx_iovs[TRANSPORT_MAX_BATCH];
	union endpoint rx_names[TRANSPORT_MAX_BATCH];
	union rx_control rx_control[TRANSPORT_MAX_BATCH];
	struct mmsghdr tx_msgs[TRANSPORT_MAX_BATCH];
	struct iovec tx_iovs[TRANSPORT_MAX_BATCH];
	union endpoint tx_names[TRANSPORT_MAX_BATCH];
	union tx_control tx_control[TRANSPORT_MAX_BATCH];
	int tx_first[TRANSPORT_MAX_BATCH];
	int tx_segments[TRANSPORT_MAX_BATCH];
};

static struct udp_transport *udp_of(struct transport *t)
{
	return (struct udp_transport *)((char *)t - offsetof(struct udp_transport, t));
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ---- receive ---- */

static bool cmsg_get(const struct cmsghdr *c, void *dst, size_t size)
{
	if (c->cmsg_len < CMSG_LEN(size))
		return false;
	memcpy(dst, CMSG_DATA(c), size);
	return true;
}

/* The packet's destination address, not ipi_spec_dst: that is what the peer sent to. */
static void local_from_v4(struct local_addr *local, const struct cmsghdr *c)
{
	struct in_pktinfo pi;

	if (!cmsg_get(c, &pi, sizeof(pi)))
		return;
	*local = (struct local_addr){ .family = AF_INET, .ifindex = (unsigned int)pi.ipi_ifindex,
				      .addr.v4 = pi.ipi_addr };
}

/* IPv4 on a dual-stack socket also comes as an IPv4-mapped IPV6_PKTINFO: keep it IPv4, so
 * that both forms compare equal and the reply's IP_PKTINFO is right. */
static void local_from_v6(struct local_addr *local, const struct cmsghdr *c)
{
	struct in6_pktinfo pi;

	if (!cmsg_get(c, &pi, sizeof(pi)))
		return;
	*local = (struct local_addr){ .family = AF_INET6, .ifindex = pi.ipi6_ifindex,
				      .addr.v6 = pi.ipi6_addr };
	if (IN6_IS_ADDR_V4MAPPED(&pi.ipi6_addr)) {
		local->family = AF_INET;
		memcpy(&local->addr.v4, &pi.ipi6_addr.s6_addr[12], sizeof(local->addr.v4));
	}
}

/* SO_RXQ_OVFL reports the socket's cumulative drop count as of this datagram's arrival; only
 * the increase is new. Datagrams queued from several CPUs may report it out of order. */
static void count_kernel_drops(struct udp_transport *u, const struct cmsghdr *c)
{
	uint32_t seen;

	if (!cmsg_get(c, &seen, sizeof(seen)) || (int32_t)(seen - u->rxq_seen) <= 0)
		return;
	u->kernel_rx_drops += seen - u->rxq_seen;
	if (u->t.stats)
		stats_drop(u->t.stats, DROP_KERNEL_RX, seen - u->rxq_seen);
	u->rxq_seen = seen;
}

/* The kernel's receive time (SO_TIMESTAMPNS: CLOCK_REALTIME). */
static void arrival_from(uint64_t *arrival_ns, const struct cmsghdr *c)
{
	struct timespec ts;

	if (cmsg_get(c, &ts, sizeof(ts)))
		*arrival_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void parse_control(struct udp_transport *u, struct msghdr *h, struct local_addr *local,
			  size_t *segment, uint64_t *arrival_ns)
{
	for (struct cmsghdr *c = CMSG_FIRSTHDR(h); c; c = CMSG_NXTHDR(h, c)) {
		int gro_size;

		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO)
			local_from_v4(local, c);
		else if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO)
			local_from_v6(local, c);
		else if (c->cmsg_level == SOL_UDP && c->cmsg_type == UDP_GRO &&
			 cmsg_get(c, &gro_size, sizeof(gro_size)) && gro_size > 0)
			*segment = (size_t)gro_size;
		else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_RXQ_OVFL)
			count_kernel_drops(u, c);
		else if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS)
			arrival_from(arrival_ns, c);
	}
}

/* Appends message i's datagrams (several if the kernel coalesced them) to out[count..max_out);
 * returns the new count. */
static int take(struct udp_transport *u, int i, uint8_t *buf, struct transport_rx *out,
		int count, int max_out)
{
	struct mmsghdr *m = &u->rx_msgs[i];
	struct dgram_addr from = { .remote = u->rx_names[i] };
	size_t len = m->msg_len, segment = len, off = 0;
	uint64_t arrival_ns = 0;

	if (m->msg_hdr.msg_flags & MSG_TRUNC) {
		stats_drop(u->t.stats, DROP_OVERSIZED, 1);
		return count;
	}
	parse_control(u, &m->msg_hdr, &from.local, &segment, &arrival_ns);
	if (segment == 0 || segment > len)
		segment = len;
	do { /* once even for an empty datagram, so that the engine sees and counts it */
		if (count == max_out) { /* see rx_buffers() */
			stats_drop(u->t.stats, DROP_OVERSIZED, (len - off + segment - 1) / segment);
			break;
		}
		out[count++] = (struct transport_rx){
			.data = buf + off, .len = len - off < segment ? len - off : segment, .from = from,
			.arrival_ns = arrival_ns,
		};
		off += segment;
	} while (off < len);
	return count;
}

/* A datagram taken from the kernel cannot be given back, so with GRO only as many buffers are
 * offered as out[] can hold when each is full: TRANSPORT_GSO_MAX_SEGMENTS datagrams, the most
 * that NIC GRO and our own senders put in one. A local sender's UDP_SEGMENT may reach the
 * kernel's 128; take() counts what then does not fit as dropped. */
static int rx_buffers(const struct transport *t, int nbufs, int max_out)
{
	int fit = t->gro ? max_out / TRANSPORT_GSO_MAX_SEGMENTS : max_out;

	if (fit < 1)
		fit = 1;
	if (nbufs > fit)
		nbufs = fit;
	return nbufs < TRANSPORT_MAX_BATCH ? nbufs : TRANSPORT_MAX_BATCH;
}

static void prepare_rx(struct udp_transport *u, uint8_t *const *bufs, size_t buf_size, int nbufs)
{
	for (int i = 0; i < nbufs; i++) {
		u->rx_iovs[i] = (struct iovec){ .iov_base = bufs[i], .iov_len = buf_size };
		u->rx_msgs[i].msg_hdr = (struct msghdr){
			.msg_name = &u->rx_names[i],
			.msg_namelen = sizeof(u->rx_names[i]),
			.msg_iov = &u->rx_iovs[i],
			.msg_iovlen = 1,
			.msg_control = u->rx_control[i].buf,
			.msg_controllen = sizeof(u->rx_control[i].buf),
		};
	}
}

static int udp_recv_batch(struct transport *t, uint8_t *const *bufs, size_t buf_size, int nbufs,
			  struct transport_rx *out, int max_out)
{
	struct udp_transport *u = udp_of(t);
	int n, count = 0;

	if (nbufs <= 0 || max_out <= 0)
		return 0;
	nbufs = rx_buffers(t, nbufs, max_out);
	prepare_rx(u, bufs, buf_size, nbufs);
	n = recvmmsg(t->fd, u->rx_msgs, (unsigned int)nbufs, MSG_DONTWAIT, NULL);
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++)
		count = take(u, i, bufs[i], out, count, max_out);
	return count;
}

/* ---- send ---- */

/* Our source address, if known. IPv4 (also to an IPv4-mapped peer on a dual-stack socket)
 * sets only the address: an interface index would make Linux assume the peer is on-link
 * there when its route leaves by another interface. IPv6 keeps it, as link-local needs. */
static size_t put_source(struct cmsghdr *c, const struct local_addr *local)
{
	if (local->family == AF_INET) {
		struct in_pktinfo pi = { .ipi_spec_dst = local->addr.v4 };

		*c = (struct cmsghdr){ .cmsg_len = CMSG_LEN(sizeof(pi)), .cmsg_level = IPPROTO_IP,
				       .cmsg_type = IP_PKTINFO };
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		return CMSG_SPACE(sizeof(pi));
	}
	if (local->family == AF_INET6) {
		struct in6_pktinfo pi = { .ipi6_addr = local->addr.v6, .ipi6_ifindex = local->ifindex };

		*c = (struct cmsghdr){ .cmsg_len = CMSG_LEN(sizeof(pi)), .cmsg_level = IPPROTO_IPV6,
				       .cmsg_type = IPV6_PKTINFO };
		memcpy(CMSG_DATA(c), &pi, sizeof(pi));
		return CMSG_SPACE(sizeof(pi));
	}
	return 0;
}

static size_t put_segment(struct cmsghdr *c, size_t size)
{
	uint16_t segment = (uint16_t)size;

	*c = (struct cmsghdr){ .cmsg_len = CMSG_LEN(sizeof(segment)), .cmsg_level = SOL_UDP,
			       .cmsg_type = UDP_SEGMENT };
	memcpy(CMSG_DATA(c), &segment, sizeof(segment));
	return CMSG_SPACE(sizeof(segment));
}

/* The peer's address in the socket's family; one the socket cannot reach is left for the
 * kernel to refuse. */
static socklen_t put_name(const struct transport *t, union endpoint *name,
			  const union endpoint *remote)
{
	*name = *remote;
	endpoint_to_family(name, t->family);
	return endpoint_len(name);
}

static void log_send_error(const struct dgram_addr *to, int count, int err)
{
	char buf[64];

	log_ratelimited(LOGL_WARN, now_ns(), "cannot send %d datagram%s to %s: %s", count,
			count == 1 ? "" : "s", endpoint_format(&to->remote, buf, sizeof(buf)),
			strerror(err));
}

static void count_sent(struct transport *t, int packets, size_t bytes)
{
	stats_add(&t->stats->tx_packets, (uint64_t)packets);
	stats_add(&t->stats->tx_bytes, bytes);
}

/* Why the kernel refused a datagram, as an operator would look for it: a firewall, routing, a
 * path MTU probe larger than the local link (DF set: the one datagram that can be too big), or
 * the rest (a full buffer, a bad address). */
static enum drop_reason send_drop_reason(int err)
{
	switch (err) {
	case EMSGSIZE:
		return DROP_TOO_BIG;
	case EPERM:
		return DROP_UDP_SEND_BLOCKED;
	case ENETUNREACH:
	case EHOSTUNREACH:
	case EHOSTDOWN:
	case ENETDOWN:
	case ENODEV:
	case EADDRNOTAVAIL:
		return DROP_UDP_SEND_UNREACHABLE;
	default:
		return DROP_UDP_SEND;
	}
}

static void count_failed(struct transport *t, const struct dgram_addr *to, int count, int err)
{
	stats_drop(t->stats, send_drop_reason(err), (uint64_t)count);
	if (err != EMSGSIZE) /* a probe's answer: the prober takes it as lost */
		log_send_error(to, count, err);
}

/* How the kernel refuses a source we no longer have: an IPv6 address with EINVAL, an IPv4
 * one with ENETUNREACH (a truly unreachable peer then costs one more try, without the
 * source), a vanished interface with ENODEV. */
static bool source_gone(int err)
{
	return err == EINVAL || err == EADDRNOTAVAIL || err == ENETUNREACH || err == ENODEV;
}

/* One datagram by itself, from its local address while *source; when that address seems to
 * have gone away, again without it (the kernel chooses), and *source turns false for the
 * caller's next datagrams to the same place. 0 or -errno; counted either way. */
static int send_one(struct udp_transport *u, const struct transport_tx *tx, bool *source)
{
	union tx_control control;
	union endpoint name;
	struct iovec iov = { .iov_base = (void *)tx->data, .iov_len = tx->len };
	struct msghdr h = { .msg_name = &name, .msg_namelen = put_name(&u->t, &name, &tx->to->remote),
			    .msg_iov = &iov, .msg_iovlen = 1 };

	for (;;) {
		int err;

		h.msg_controllen = *source ? put_source(&control.align, &tx->to->local) : 0;
		h.msg_control = h.msg_controllen ? control.buf : NULL;
		if (sendmsg(u->t.fd, &h, 0) >= 0) {
			count_sent(&u->t, 1, tx->len);
			return 0;
		}
		err = errno;
		if (err == EINTR)
			continue;
		if (h.msg_controllen && source_gone(err)) {
			*source = false;
			continue;
		}
		count_failed(&u->t, tx->to, 1, err);
		return -err;
	}
}

/* Returns how many of tx[0..count) the kernel took. */
static int send_each(struct udp_transport *u, const struct transport_tx *tx, int count,
		     bool source)
{
	int sent = 0;

	for (int i = 0; i < count; i++)
		sent += send_one(u, &tx[i], &source) == 0;
	return sent;
}

/* No checksum offload (EIO) or no GSO support at all (EOPNOTSUPP) will not change: stop
 * trying. EINVAL/EMSGSIZE (a segment over the route's MTU, or a bad source or destination)
 * concern this run only. */
static bool gso_refused(struct transport *t, int err)
{
	static atomic_flag logged = ATOMIC_FLAG_INIT;

	if (err == EIO || err == EOPNOTSUPP) {
		t->gso = false;
		if (!atomic_flag_test_and_set(&logged))
			log_info("UDP segmentation offload unavailable (%s); sending datagrams one by one",
				 strerror(err));
		return true;
	}
	return err == EINVAL || err == EMSGSIZE;
}

static bool same_destination(const struct transport_tx *a, const struct transport_tx *b)
{
	return a->to == b->to || dgram_addr_equal(a->to, b->to);
}

/* How many datagrams from tx[0] on can leave as one UDP_SEGMENT message: same destination,
 * same size, only the last one possibly shorter (the kernel cuts at the first one's size). */
static int run_length(const struct transport *t, const struct transport_tx *tx, int count)
{
	size_t size = tx[0].len, total = size;
	int n = 1;

	if (!t->gso || size == 0)
		return 1;
	while (n < count && n < TRANSPORT_GSO_MAX_SEGMENTS && tx[n].len && tx[n].len <= size &&
	       total + tx[n].len <= TRANSPORT_GSO_MAX_BYTES && same_destination(&tx[0], &tx[n])) {
		total += tx[n].len;
		if (tx[n++].len < size)
			break;
	}
	return n;
}

static void set_tx_msg(struct udp_transport *u, const struct transport_tx *tx, int m, int first,
		       int segments)
{
	struct msghdr *h = &u->tx_msgs[m].msg_hdr;
	char *control = u->tx_control[m].buf;
	const struct dgram_addr *to = tx[first].to;
	size_t len;

	u->tx_first[m] = first;
	u->tx_segments[m] = segments;
	*h = (struct msghdr){ .msg_name = &u->tx_names[m],
			      .msg_namelen = put_name(&u->t, &u->tx_names[m], &to->remote),
			      .msg_iov = &u->tx_iovs[first], .msg_iovlen = (size_t)segments };
	len = put_source(&u->tx_control[m].align, &to->local);
	if (segments > 1)
		len += put_segment((struct cmsghdr *)(control + len), tx[first].len);
	if (len) {
		h->msg_control = control;
		h->msg_controllen = len;
	}
}

/* Fills the scratch arrays for tx[0..count), count <= TRANSPORT_MAX_BATCH; returns how many
 * messages. */
static int prepare_tx(struct udp_transport *u, const struct transport_tx *tx, int count)
{
	int n = 0;

	for (int i = 0; i < count; i++)
		u->tx_iovs[i] = (struct iovec){ .iov_base = (void *)tx[i].data, .iov_len = tx[i].len };
	for (int i = 0; i < count; n++) {
		int segments = run_length(&u->t, tx + i, count - i);

		set_tx_msg(u, tx, n, i, segments);
		i += segments;
	}
	return n;
}

/* Message m was refused with err: retries what may still go, counts the rest. Returns how
 * many of its datagrams were sent. */
static int send_failed(struct udp_transport *u, const struct transport_tx *tx, int m, int err)
{
	const struct transport_tx *run = tx + u->tx_first[m];
	int segments = u->tx_segments[m];
	bool has_source = run->to->local.family != 0;

	if (segments > 1 && gso_refused(&u->t, err))
		return send_each(u, run, segments, true);
	if (has_source && source_gone(err))
		return send_each(u, run, segments, false);
	count_failed(&u->t, run->to, segments, err);
	return 0;
}

/* sendmmsg stops at the first message the kernel refuses; the next call starts there, fails
 * at once, and that message alone is dealt with before going on. A full socket buffer
 * (EAGAIN) would refuse the rest as well: they are dropped together. */
static int send_chunk(struct udp_transport *u, const struct transport_tx *tx, int count)
{
	int n = prepare_tx(u, tx, count), m = 0, sent = 0;

	while (m < n) {
		int r = sendmmsg(u->t.fd, u->tx_msgs + m, (unsigned int)(n - m), 0);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			count_failed(&u->t, tx[u->tx_first[m]].to, count - u->tx_first[m], errno);
			break;
		}
		if (r < 0) {
			sent += send_failed(u, tx, m++, errno);
			continue;
		}
		for (int i = m; i < m + r; i++) {
			count_sent(&u->t, u->tx_segments[i], u->tx_msgs[i].msg_len);
			sent += u->tx_segments[i];
		}
		m += r;
	}
	return sent;
}

static int udp_send_batch(struct transport *t, const struct transport_tx *tx, int count)
{
	int sent = 0;

	for (int i = 0; i < count; i += TRANSPORT_MAX_BATCH) {
		int chunk = count - i < TRANSPORT_MAX_BATCH ? count - i : TRANSPORT_MAX_BATCH;

		sent += send_chunk(udp_of(t), tx + i, chunk);
	}
	return sent;
}

/* ---- setup ---- */

static int udp_set_mark(struct transport *t, uint32_t mark)
{
	return setsockopt(t->fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0 ? -errno : 0;
}

/* IP_PMTUDISC_PROBE sets DF but ignores the kernel's path MTU cache: a probe is sent at its
 * size even when an ICMP lowered the cache, and only the path decides whether it arrives. */
static int udp_set_dont_fragment(struct transport *t, bool on)
{
	int v4 = on ? IP_PMTUDISC_PROBE : IP_PMTUDISC_DONT, v6 = on ? IPV6_PMTUDISC_PROBE : IPV6_PMTUDISC_DONT;

	if (setsockopt(t->fd, IPPROTO_IP, IP_MTU_DISCOVER, &v4, sizeof(v4)) < 0)
		return -errno;
	if (t->family == AF_INET6 &&
	    setsockopt(t->fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &v6, sizeof(v6)) < 0)
		return -errno;
	return 0;
}

static void udp_close(struct transport *t)
{
	close(t->fd);
	free(udp_of(t));
}

static const struct transport_ops udp_ops = {
	.recv_batch = udp_recv_batch,
	.send_batch = udp_send_batch,
	.set_mark = udp_set_mark,
	.set_dont_fragment = udp_set_dont_fragment,
	.close = udp_close,
};

/* The receive buffer's size is not what keeps latency low: the worker's queue management
 * (codel.h) keeps the standing queue in it near the target by marking or dropping at its head,
 * whatever the size. The size only bounds bursts, such as the data that arrives while a
 * worker is descheduled on a busy machine (several MB at a few Gbit/s): a smaller buffer would
 * tail-drop those, the sparse packets among them (pings, ACKs, handshakes) included. Linux
 * doubles the value for its accounting. */
enum { UDP_SOCKET_BUFFER = 4 << 20 };

static int udp_local_port(int fd)
{
	union endpoint ep;
	socklen_t len = sizeof(ep);

	if (getsockname(fd, &ep.sa, &len) < 0)
		return -errno;
	return ntohs(ep.sa.sa_family == AF_INET6 ? ep.in6.sin6_port : ep.in.sin_port);
}

int transport_local_port(const struct transport *t)
{
	return udp_local_port(t->fd);
}

uint64_t transport_udp_kernel_drops(const struct transport *t)
{
	const char *u = (const char *)t - offsetof(struct udp_transport, t);

	return ((const struct udp_transport *)u)->kernel_rx_drops;
}

/* What the group's sockets have in common while it is being opened. */
struct group {
	const struct transport_udp_options *opts;
	int family;
	uint16_t port;     /* the requested one until the first socket is bound */
	const char *step;  /* what failed, for the message */
};

struct sockopt {
	int family; /* 0: every family */
	int level, name, value;
	const char *text;
};

/* Dual-stack, our local address on every datagram, the kernel's drop counter, and one
 * don't-fragment policy for every send. The policy is the Linux WireGuard module's (it sends
 * with DF clear and lets the stack fragment): without it the kernel's default sets DF on a
 * datagram that fits the known path MTU but not on a UDP_SEGMENT batch (the batch is larger
 * than the MTU when DF is decided), so behind a path that drops ICMP a lone full-sized packet
 * vanished while bulk traffic got through fragmented. Path-MTU probes alone carry DF
 * (set_dont_fragment around their send, under the worker's send lock: wg_pmtu.c). The IPv4
 * option also governs IPv4 on a dual-stack socket. */
static const struct sockopt required_options[] = {
	{ AF_INET6, IPPROTO_IPV6, IPV6_V6ONLY, 0, "IPV6_V6ONLY" },
	{ 0, IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DONT, "IP_MTU_DISCOVER" },
	{ AF_INET6, IPPROTO_IPV6, IPV6_MTU_DISCOVER, IPV6_PMTUDISC_DONT, "IPV6_MTU_DISCOVER" },
	{ 0, IPPROTO_IP, IP_PKTINFO, 1, "IP_PKTINFO" }, /* IPv4 on a dual-stack socket too */
	{ AF_INET6, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, "IPV6_RECVPKTINFO" },
	{ 0, SOL_SOCKET, SO_RXQ_OVFL, 1, "SO_RXQ_OVFL" },
};

static int set_int(int fd, int level, int name, int value)
{
	return setsockopt(fd, level, name, &value, sizeof(value)) < 0 ? -errno : 0;
}

/* The *FORCE variants ignore rmem_max/wmem_max but need CAP_NET_ADMIN; a smaller buffer only
 * costs drops under bursts, so a refusal is worth a warning, once per group. */
static void set_buffers(int fd, bool warn)
{
	if (set_int(fd, SOL_SOCKET, SO_RCVBUFFORCE, UDP_SOCKET_BUFFER) &&
	    set_int(fd, SOL_SOCKET, SO_RCVBUF, UDP_SOCKET_BUFFER) && warn)
		log_warn("cannot set SO_RCVBUF: %s", strerror(errno));
	if (set_int(fd, SOL_SOCKET, SO_SNDBUFFORCE, UDP_SOCKET_BUFFER) &&
	    set_int(fd, SOL_SOCKET, SO_SNDBUF, UDP_SOCKET_BUFFER) && warn)
		log_warn("cannot set SO_SNDBUF: %s", strerror(errno));
}

static int configure(struct group *g, int fd, bool first, bool *gro)
{
	size_t n = sizeof(required_options) / sizeof(required_options[0]);
	int ret;

	for (size_t i = 0; i < n; i++) {
		const struct sockopt *o = &required_options[i];

		if (o->family && o->family != g->family)
			continue;
		g->step = o->text;
		ret = set_int(fd, o->level, o->name, o->value);
		if (ret)
			return ret;
	}
	set_buffers(fd, first);
	if (g->opts->mark) {
		g->step = "SO_MARK";
		ret = set_int(fd, SOL_SOCKET, SO_MARK, (int)g->opts->mark);
		if (ret)
			return ret;
	}
	*gro = g->opts->offload && !set_int(fd, SOL_UDP, UDP_GRO, 1);
	/* Arrival times for queue management; without them it has nothing to measure, and the
	 * tunnel still works. */
	set_int(fd, SOL_SOCKET, SO_TIMESTAMPNS, 1);
	return 0;
}

/* The first socket binds without SO_REUSEPORT, so that a port any other socket holds fails
 * with EADDRINUSE, even one whose owner would let us into its SO_REUSEPORT group; once it
 * holds the port, it lets the rest of the group in. */
static int bind_port(struct group *g, int fd, bool first)
{
	bool share = g->opts->count > 1;
	union endpoint ep = { 0 };
	int ret;

	if (share && !first) {
		g->step = "SO_REUSEPORT";
		ret = set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1);
		if (ret)
			return ret;
	}
	ep.sa.sa_family = (sa_family_t)g->family;
	if (g->family == AF_INET6)
		ep.in6.sin6_port = htons(g->port);
	else
		ep.in.sin_port = htons(g->port);
	g->step = "bind";
	if (bind(fd, &ep.sa, endpoint_len(&ep)) < 0)
		return -errno;
	if (!first)
		return 0;
	g->step = "getsockname";
	ret = udp_local_port(fd);
	if (ret < 0)
		return ret;
	g->port = (uint16_t)ret;
	g->step = "SO_REUSEPORT";
	return share ? set_int(fd, SOL_SOCKET, SO_REUSEPORT, 1) : 0;
}

/* Returns the fd or -errno. The first socket also settles the family: dual-stack IPv6,
 * or IPv4 alone where the kernel has no IPv6. */
static int open_socket(struct group *g, bool first, bool *gro)
{
	int fd, ret;

	g->step = "socket";
	fd = socket(g->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0 && errno == EAFNOSUPPORT && first && g->family == AF_INET6) {
		g->family = AF_INET;
		fd = socket(g->family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	}
	if (fd < 0)
		return -errno;
	ret = configure(g, fd, first, gro);
	if (!ret)
		ret = bind_port(g, fd, first);
	if (ret) {
		close(fd);
		return ret;
	}
	return fd;
}

static int open_transport(struct group *g, bool first, struct stats *stats,
			  struct transport **out)
{
	struct udp_transport *u = calloc(1, sizeof(*u));
	bool gro = false;
	int fd;

	g->step = "allocation";
	if (!u)
		return -ENOMEM;
	fd = open_socket(g, first, &gro);
	if (fd < 0) {
		free(u);
		return fd;
	}
	u->t = (struct transport){ .ops = &udp_ops, .fd = fd, .family = g->family, .stats = stats,
				   .gso = g->opts->offload, .gro = gro };
	*out = &u->t;
	return 0;
}

int transport_udp_open(const struct transport_udp_options *opts, struct stats *const *stats,
		       struct transport **out, char *err, size_t errlen)
{
	struct group g = { .opts = opts, .family = AF_INET6, .port = opts->port, .step = "count" };
	int i, ret = -EINVAL;

	if (opts->count < 1)
		goto err_open;
	for (i = 0; i < opts->count; i++) {
		ret = open_transport(&g, i == 0, stats[i], &out[i]);
		if (ret)
			goto err_sockets;
	}
	return 0;

err_sockets:
	while (i--) {
		udp_close(out[i]);
		out[i] = NULL;
	}
err_open:
	/* A port in use is the usual case and needs no detail; other steps say which failed. */
	if (!strcmp(g.step, "bind"))
		snprintf(err, errlen, "cannot listen on UDP port %u: %s", g.port, strerror(-ret));
	else
		snprintf(err, errlen, "cannot listen on UDP port %u (%s): %s", g.port, g.step,
			 strerror(-ret));
	return ret;
}
