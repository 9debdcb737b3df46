/* The TCP transport: WireGuard datagrams over TCP streams for networks that block UDP.
 *
 * Framing (Mullvad's udp-over-tcp, so a tcp2udp relay in front of any WireGuard server works):
 * each datagram is a 2-byte big-endian length followed by the datagram. TCP_NODELAY on.
 *
 * One instance serves the device. Its fd is an epoll instance holding the listener, every
 * connection, a 1-second sweep timer and an eventfd that says "frames are waiting in our
 * buffers"; the receiving thread polls that one fd. Any thread may send: a mutex guards it all.
 *
 * A connection's life (each close but the last counted under its own drop reason):
 *   accepted (a stranger) --first 3 bytes look like the tunnel's (a WireGuard message)--> speaking
 *   a first frame that is not the tunnel's --> closed (tcp_not_tunnel)
 *   any frame of length 0 --> closed (tcp_zero_length); the stream ends mid-frame (tcp_cut)
 *   a stranger that sends nothing for HELLO_TIMEOUT --> closed (tcp_silent)
 *   a frame (or a stranger's first bytes) unfinished for HELLO_TIMEOUT --> closed (tcp_incomplete)
 *   speaking, silent for CONN_IDLE; ours, unused both ways for OUTGOING_IDLE --> closed (tcp_idle)
 *   ours, retired (the peer is back on UDP) and unused both ways for RETIRE_QUIET --> closed
 * Connections we open (to a server) are found by remote address (dgram_addr.conn 0) and
 * reopened on demand, no sooner than a backoff that doubles after each failure up to 30 s.
 *
 * Memory: a stranger costs a struct and a socket; a receive buffer (one maximal frame) is
 * allocated once its first bytes look like WireGuard, a send queue on its first partial write.
 * A full send queue drops, so a slow reader never stalls anyone else. */
#include "transport.h"
#include "log.h"
#include "messages.h"
#include "tcp_framing.h"

#include <fcntl.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

enum {
	MAX_CONNS = 2048,
	MAX_DIALS = 16,
	EV_LISTEN = MAX_CONNS, EV_TIMER, EV_MORE, /* epoll tags past the connection indices */
};

#define NS 1000000000ull
#define HELLO_TIMEOUT_NS (10 * NS)  /* a connection that never completes a frame */
#define CONN_IDLE_NS (180 * NS)     /* REJECT_AFTER_TIME: no session outlives it */
#define OUTGOING_IDLE_NS (60 * NS)  /* ours, unused both ways: the peer moved back to UDP */
#define RETIRE_QUIET_NS (2 * NS)    /* ours, retired: unused both ways this long */
#define CONNECT_TIMEOUT_NS (10 * NS)
#define BACKOFF_MIN_NS (1 * NS)
#define BACKOFF_MAX_NS (30 * NS)

struct conn {
	int fd;              /* -1: free slot */
	uint32_t id;
	bool outgoing, connecting, queued_more, retired;
	union endpoint remote;
	uint64_t opened_ns, last_rx_ns, last_tx_ns;
	struct tcp_rx rx;
	struct tcp_tx tx;
};

/* Outgoing attempts by address: when the next may start. */
struct dial {
	union endpoint remote;
	uint64_t next_ns, backoff_ns;
};

struct tcp_transport {
	struct transport t;
	struct stats stats;
	pthread_mutex_t lock;
	int listen_fd, timer_fd, more_fd;
	uint16_t port;
	uint32_t mark;
	uint32_t generation;
	tcp_hello_fn *hello;
	unsigned int open_count;
	bool listen_paused;
	struct conn conns[MAX_CONNS];
	struct dial dials[MAX_DIALS];
};

static struct tcp_transport *tcp_of(struct transport *t)
{
	return (struct tcp_transport *)((char *)t - offsetof(struct tcp_transport, t));
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS + (uint64_t)ts.tv_nsec;
}

static int epoll_tag(struct tcp_transport *c, int fd, uint32_t events, uint64_t tag, int op)
{
	struct epoll_event ev = { .events = events, .data.u64 = tag };

	return epoll_ctl(c->t.fd, op, fd, &ev) ? -errno : 0;
}

static void drop(struct tcp_transport *c, enum drop_reason why, const struct conn *k)
{
	char buf[INET6_ADDRSTRLEN + 8];

	stats_drop(&c->stats, why, 1);
	log_ratelimited(LOGL_DEBUG, now_ns(), "tcp %s: %s", k ? endpoint_format(&k->remote, buf, sizeof(buf)) : "-",
			stats_drop_reason_name(why));
}

/* ---- connections ---- */

static void conn_close(struct tcp_transport *c, struct conn *k)
{
	if (k->fd < 0)
		return;
	close(k->fd); /* leaves the epoll set with it */
	tcp_rx_free(&k->rx);
	tcp_tx_free(&k->tx);
	*k = (struct conn){ .fd = -1 };
	c->open_count--;
}

static struct conn *conn_new(struct tcp_transport *c, int fd, const union endpoint *remote,
			     bool outgoing)
{
	for (unsigned int i = 0; i < MAX_CONNS; i++) {
		struct conn *k = &c->conns[i];

		if (k->fd >= 0)
			continue;
		if (epoll_tag(c, fd, EPOLLIN | (outgoing ? EPOLLOUT : 0), i, EPOLL_CTL_ADD))
			return NULL;
		/* ids are never 0 and name one slot; the generation tells reuses apart */
		c->generation = c->generation + 1 ? c->generation + 1 : 1;
		*k = (struct conn){ .fd = fd, .id = (c->generation % (UINT32_MAX / MAX_CONNS) + 1) * MAX_CONNS + i,
				    .outgoing = outgoing, .connecting = outgoing, .remote = *remote,
				    .opened_ns = now_ns() };
		k->last_rx_ns = k->opened_ns;
		c->open_count++;
		return k;
	}
	return NULL;
}

static struct conn *conn_by_id(struct tcp_transport *c, uint32_t id)
{
	struct conn *k = &c->conns[id % MAX_CONNS];

	return k->fd >= 0 && k->id == id && !k->outgoing ? k : NULL;
}

static struct conn *conn_outgoing(struct tcp_transport *c, const union endpoint *remote)
{
	for (unsigned int i = 0; i < MAX_CONNS; i++)
		if (c->conns[i].fd >= 0 && c->conns[i].outgoing &&
		    endpoint_equal(&c->conns[i].remote, remote))
			return &c->conns[i];
	return NULL;
}

static void set_nodelay(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

/* The tunnel's one policy for DF (as on its UDP socket): its packets leave without it, so that
 * a path that drops ICMP (a path-MTU black hole) fragments them instead of swallowing every
 * full-sized segment. */
static void set_no_df(int fd, int family)
{
	int v4 = IP_PMTUDISC_DONT, v6 = IPV6_PMTUDISC_DONT;

	setsockopt(fd, IPPROTO_IP, IP_MTU_DISCOVER, &v4, sizeof(v4));
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &v6, sizeof(v6));
}

/* ---- dialing (connections we open) ---- */

static struct dial *dial_for(struct tcp_transport *c, const union endpoint *remote)
{
	struct dial *free_slot = &c->dials[0];

	for (int i = 0; i < MAX_DIALS; i++) {
		if (endpoint_equal(&c->dials[i].remote, remote))
			return &c->dials[i];
		if (!endpoint_is_set(&c->dials[i].remote))
			free_slot = &c->dials[i];
	}
	*free_slot = (struct dial){ .remote = *remote, .backoff_ns = BACKOFF_MIN_NS };
	return free_slot;
}

static struct conn *dial(struct tcp_transport *c, const union endpoint *remote)
{
	struct dial *d = dial_for(c, remote);
	uint64_t now = now_ns();
	struct conn *k;
	int fd;

	if (now < d->next_ns)
		return NULL;
	d->next_ns = now + d->backoff_ns;
	d->backoff_ns = d->backoff_ns * 2 < BACKOFF_MAX_NS ? d->backoff_ns * 2 : BACKOFF_MAX_NS;
	fd = socket(remote->sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return NULL;
	set_nodelay(fd);
	set_no_df(fd, remote->sa.sa_family);
	if (c->mark)
		setsockopt(fd, SOL_SOCKET, SO_MARK, &c->mark, sizeof(c->mark));
	if ((connect(fd, &remote->sa, endpoint_len(remote)) && errno != EINPROGRESS) ||
	    !(k = conn_new(c, fd, remote, true))) {
		close(fd);
		return NULL;
	}
	return k;
}

/* A connection we opened carried a frame back: the path works, retry quickly next time. */
static void dial_succeeded(struct tcp_transport *c, const struct conn *k)
{
	struct dial *d = dial_for(c, &k->remote);

	d->next_ns = 0;
	d->backoff_ns = BACKOFF_MIN_NS;
}

/* ---- sending ---- */

static void want_write(struct tcp_transport *c, struct conn *k, bool on)
{
	epoll_tag(c, k->fd, EPOLLIN | (on ? EPOLLOUT : 0), (uint64_t)(k - c->conns), EPOLL_CTL_MOD);
}

/* Writes what the queue holds; false if the connection broke. */
static bool flush(struct tcp_transport *c, struct conn *k)
{
	ssize_t n;

	if (!k->tx.have)
		return true;
	n = send(k->fd, k->tx.buf, k->tx.have, MSG_NOSIGNAL);
	if (n < 0)
		return errno == EAGAIN || errno == EINTR;
	tcp_tx_pop(&k->tx, (size_t)n);
	if (!k->tx.have)
		want_write(c, k, false);
	return true;
}

/* One frame: straight to the socket when nothing waits before it, else behind the queue.
 * -ENOBUFS: the queue is full, the frame dropped whole; another error: the stream is broken. */
static int send_frame(struct tcp_transport *c, struct conn *k, const uint8_t *data, size_t len)
{
	uint8_t hdr[TCP_FRAME_HEADER];
	struct iovec iov[2] = { { hdr, TCP_FRAME_HEADER }, { (void *)data, len } };
	ssize_t n = 0;
	int ret;

	tcp_frame_header(hdr, len);
	if (!k->connecting && !k->tx.have) {
		n = writev(k->fd, iov, 2);
		if (n < 0 && errno != EAGAIN && errno != EINTR)
			return -errno;
		if (n < 0)
			n = 0;
		if ((size_t)n == TCP_FRAME_HEADER + len)
			return 0;
	}
	ret = tcp_tx_push(&k->tx, hdr, data, len, (size_t)n);
	if (ret)
		return n > 0 ? -EIO : ret; /* part of the frame left: the rest must follow */
	want_write(c, k, true);
	return 0;
}

static struct conn *route(struct tcp_transport *c, const struct dgram_addr *to)
{
	struct conn *k;

	if (to->conn)
		return conn_by_id(c, to->conn);
	k = conn_outgoing(c, &to->remote);
	return k ? k : dial(c, &to->remote);
}

static int tcp_send_batch(struct transport *t, const struct transport_tx *tx, int count)
{
	struct tcp_transport *c = tcp_of(t);
	int sent = 0;

	pthread_mutex_lock(&c->lock);
	for (int i = 0; i < count; i++) {
		struct conn *k = tx[i].len <= TCP_FRAME_MAX ? route(c, tx[i].to) : NULL;
		int ret;

		if (!k) {
			drop(c, DROP_TCP_NO_CONN, NULL);
			continue;
		}
		ret = send_frame(c, k, tx[i].data, tx[i].len);
		k->last_tx_ns = now_ns();
		k->retired = false;
		if (ret == -ENOBUFS) {
			drop(c, DROP_TCP_QUEUE_FULL, k);
		} else if (ret) {
			drop(c, DROP_UDP_SEND, k);
			conn_close(c, k);
		} else {
			stats_add(&c->stats.tx_packets, 1);
			stats_add(&c->stats.tx_bytes, tx[i].len);
			sent++;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return sent;
}

/* ---- receiving ---- */

/* A stranger's first frame: a WireGuard message of its exact size, or data. */
bool transport_tcp_hello_wireguard(size_t len, uint8_t first)
{
	switch (first) {
	case MESSAGE_HANDSHAKE_INITIATION: return len == MESSAGE_INITIATION_LEN;
	case MESSAGE_HANDSHAKE_RESPONSE: return len == MESSAGE_RESPONSE_LEN;
	case MESSAGE_HANDSHAKE_COOKIE: return len == MESSAGE_COOKIE_LEN;
	case MESSAGE_DATA: return len >= MESSAGE_DATA_MIN_LEN;
	default: return false;
	}
}

static const enum drop_reason rx_drops[] = {
	[TCP_RX_ZERO_LENGTH] = DROP_TCP_ZERO_LENGTH,
	[TCP_RX_NOT_TUNNEL] = DROP_TCP_NOT_TUNNEL,
	[TCP_RX_NO_MEMORY] = DROP_TCP_TOO_MANY,
};

/* Reads what the socket has (a stranger, only the missing bytes of its hello, so that it never
 * costs a buffer). false: the connection is finished (closed by the peer, or bad: counted). */
static bool fill(struct tcp_transport *c, struct conn *k)
{
	enum tcp_rx_status st;
	uint8_t *at;
	size_t room = tcp_rx_space(&k->rx, &at);
	ssize_t n;

	if (!room)
		return true; /* a whole frame waits: take() makes room */
	n = recv(k->fd, at, room, 0);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR))
		return false;
	if (n < 0)
		return true;
	st = tcp_rx_arrived(&k->rx, (size_t)n, c->hello);
	if (st != TCP_RX_OK) {
		drop(c, rx_drops[st], k);
		tcp_rx_free(&k->rx); /* counted: not also as cut */
		return false;
	}
	return true;
}

static void report_from(const struct conn *k, struct dgram_addr *from)
{
	*from = (struct dgram_addr){ .remote = k->remote, .kind = TRANSPORT_TCP,
				     .conn = k->outgoing ? 0 : k->id };
}

/* Moves the complete frames of k's buffer into the caller's buffers. Returns how many, or -1
 * when the stream is broken (a length of 0). *more: complete frames remain for next time. */
static int take(struct tcp_transport *c, struct conn *k, uint8_t *const *bufs, size_t buf_size,
		int nbufs, struct transport_rx *out, bool *more)
{
	size_t off = 0, next = 0, len;
	const uint8_t *frame;
	int n = 0, got;

	*more = false;
	while ((got = tcp_rx_next(&k->rx, &next, &frame, &len)) == 1) {
		if (n == nbufs) {
			*more = true;
			break;
		}
		off = next;
		if (len > buf_size) {
			stats_drop(&c->stats, DROP_OVERSIZED, 1);
			continue;
		}
		memcpy(bufs[n], frame, len);
		/* No arrival time: the frame may have waited in our stream buffer as well as the
		 * kernel's, and the outer TCP's own congestion control governs that queue. */
		out[n] = (struct transport_rx){ .data = bufs[n], .len = len };
		report_from(k, &out[n].from);
		n++;
	}
	if (got < 0) {
		drop(c, DROP_TCP_ZERO_LENGTH, k);
		return -1;
	}
	if (off)
		tcp_rx_consume(&k->rx, off);
	if (n) {
		k->last_rx_ns = now_ns();
		if (k->outgoing)
			dial_succeeded(c, k);
	}
	return n;
}

static void accept_all(struct tcp_transport *c)
{
	for (;;) {
		union endpoint remote;
		socklen_t len = sizeof(remote);
		int fd = accept4(c->listen_fd, &remote.sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				/* out of fds: the listener would stay readable; rest it until the sweep */
				drop(c, DROP_TCP_TOO_MANY, NULL);
				epoll_tag(c, c->listen_fd, 0, EV_LISTEN, EPOLL_CTL_MOD);
				c->listen_paused = true;
			}
			return;
		}
		set_no_df(fd, remote.sa.sa_family);
		endpoint_to_family(&remote, c->t.family);
		set_nodelay(fd);
		if (!conn_new(c, fd, &remote, false)) {
			drop(c, DROP_TCP_TOO_MANY, NULL);
			close(fd);
		}
	}
}

/* Once a second: strangers that never spoke, frames never completed, idle connections. */
static void sweep(struct tcp_transport *c)
{
	uint64_t now = now_ns(), expired;

	if (read(c->timer_fd, &expired, sizeof(expired)) < 0)
		return;
	if (c->listen_paused && !epoll_tag(c, c->listen_fd, EPOLLIN, EV_LISTEN, EPOLL_CTL_MOD))
		c->listen_paused = false;
	for (unsigned int i = 0; i < MAX_CONNS; i++) {
		struct conn *k = &c->conns[i];

		if (k->fd < 0)
			continue;
		if (k->connecting && now - k->opened_ns > CONNECT_TIMEOUT_NS) {
			drop(c, DROP_TCP_NO_CONN, k);
			conn_close(c, k);
		} else if ((!k->rx.speaking || k->rx.have) && now - k->last_rx_ns > HELLO_TIMEOUT_NS) {
			drop(c, tcp_rx_mid_frame(&k->rx) ? DROP_TCP_INCOMPLETE : DROP_TCP_SILENT, k);
			conn_close(c, k);
		} else if (now - k->last_rx_ns > CONN_IDLE_NS ||
			   (k->outgoing && now - k->last_rx_ns > OUTGOING_IDLE_NS &&
			    now - k->last_tx_ns > OUTGOING_IDLE_NS)) {
			drop(c, DROP_TCP_IDLE, k);
			conn_close(c, k);
		} else if (k->retired && now - k->last_rx_ns > RETIRE_QUIET_NS &&
			   now - k->last_tx_ns > RETIRE_QUIET_NS) {
			conn_close(c, k); /* no longer needed: not a drop */
		}
	}
}

static void connected(struct tcp_transport *c, struct conn *k)
{
	int err = 0;
	socklen_t len = sizeof(err);

	getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &err, &len);
	if (err) {
		char buf[INET6_ADDRSTRLEN + 8];

		log_ratelimited(LOGL_INFO, now_ns(), "TCP connection to %s failed: %s",
				endpoint_format(&k->remote, buf, sizeof(buf)), strerror(err));
		stats_drop(&c->stats, DROP_TCP_NO_CONN, k->tx.have ? 1 : 0);
		conn_close(c, k);
		return;
	}
	k->connecting = false;
	if (!flush(c, k))
		conn_close(c, k);
	else if (!k->tx.have)
		want_write(c, k, false);
}

/* Serves one connection's event; returns the frames it gave. */
static int serve(struct tcp_transport *c, struct conn *k, uint32_t events, uint8_t *const *bufs,
		 size_t buf_size, int nbufs, struct transport_rx *out)
{
	bool more = false;
	int n = 0;

	if (k->connecting && (events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
		connected(c, k);
		if (k->fd < 0)
			return 0;
	}
	if ((events & EPOLLOUT) && !k->connecting && !flush(c, k)) {
		conn_close(c, k);
		return 0;
	}
	if (!(events & (EPOLLIN | EPOLLERR | EPOLLHUP)) && !k->queued_more)
		return 0;
	if (!k->queued_more && !fill(c, k)) {
		/* the frames that came before the end still count; then the rest, if any, is cut */
		n = take(c, k, bufs, buf_size, nbufs, out, &more);
		if (n >= 0 && !more && tcp_rx_mid_frame(&k->rx))
			drop(c, DROP_TCP_CUT, k);
		conn_close(c, k);
		return n < 0 ? 0 : n;
	}
	n = take(c, k, bufs, buf_size, nbufs, out, &more);
	if (n < 0) {
		conn_close(c, k);
		return 0;
	}
	k->queued_more = more;
	return n;
}

/* Frames left in buffers for lack of room: the eventfd keeps our fd readable until served. */
static int serve_queued(struct tcp_transport *c, uint8_t *const *bufs, size_t buf_size,
			int nbufs, struct transport_rx *out, int *room)
{
	int got = 0;

	for (unsigned int i = 0; i < MAX_CONNS && *room > 0; i++) {
		struct conn *k = &c->conns[i];
		int n;

		if (k->fd < 0 || !k->queued_more)
			continue;
		n = serve(c, k, 0, bufs + got, buf_size, *room, out + got);
		got += n;
		*room -= n;
	}
	return got;
}

static void signal_more(struct tcp_transport *c, bool more)
{
	uint64_t v = 1;

	if (more)
		(void)!write(c->more_fd, &v, sizeof(v));
	else
		(void)!read(c->more_fd, &v, sizeof(v));
}

static bool any_queued(const struct tcp_transport *c)
{
	for (unsigned int i = 0; i < MAX_CONNS; i++)
		if (c->conns[i].fd >= 0 && c->conns[i].queued_more)
			return true;
	return false;
}

static int tcp_recv_batch(struct transport *t, uint8_t *const *bufs, size_t buf_size, int nbufs,
			  struct transport_rx *out, int max_out)
{
	struct tcp_transport *c = tcp_of(t);
	struct epoll_event ev[32];
	int room = nbufs < max_out ? nbufs : max_out, got, n;
	bool more;

	pthread_mutex_lock(&c->lock);
	got = serve_queued(c, bufs, buf_size, nbufs, out, &room);
	n = room > 0 ? epoll_wait(t->fd, ev, 32, 0) : 0;
	for (int i = 0; i < n; i++) {
		uint64_t tag = ev[i].data.u64;
		int k;

		if (tag == EV_LISTEN) {
			accept_all(c);
		} else if (tag == EV_TIMER) {
			sweep(c);
		} else if (tag < MAX_CONNS && c->conns[tag].fd >= 0) {
			k = serve(c, &c->conns[tag], ev[i].events, bufs + got, buf_size, room, out + got);
			got += k;
			room -= k;
		}
	}
	more = any_queued(c);
	signal_more(c, more);
	pthread_mutex_unlock(&c->lock);
	return got;
}

/* ---- set-up ---- */

static int tcp_set_mark(struct transport *t, uint32_t mark)
{
	struct tcp_transport *c = tcp_of(t);

	pthread_mutex_lock(&c->lock);
	c->mark = mark;
	pthread_mutex_unlock(&c->lock);
	return 0;
}

static void tcp_close(struct transport *t)
{
	struct tcp_transport *c = tcp_of(t);

	for (unsigned int i = 0; i < MAX_CONNS; i++)
		conn_close(c, &c->conns[i]);
	if (c->listen_fd >= 0)
		close(c->listen_fd);
	if (c->timer_fd >= 0)
		close(c->timer_fd);
	if (c->more_fd >= 0)
		close(c->more_fd);
	if (t->fd >= 0)
		close(t->fd);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static const struct transport_ops tcp_ops = {
	.recv_batch = tcp_recv_batch,
	.send_batch = tcp_send_batch,
	.set_mark = tcp_set_mark,
	.close = tcp_close,
};

/* Dual-stack where the kernel allows it, as the UDP socket. */
static int listen_on(struct tcp_transport *c, uint16_t port, char *err, size_t errlen)
{
	union endpoint any = { .in6 = { .sin6_family = AF_INET6, .sin6_port = htons(port),
					 .sin6_addr = IN6ADDR_ANY_INIT } };
	int one = 1, zero = 0, fd = socket(AF_INET6, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0 || setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof(zero))) {
		if (fd >= 0)
			close(fd);
		any = (union endpoint){ .in = { .sin_family = AF_INET, .sin_port = htons(port) } };
		fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	}
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, &any.sa, endpoint_len(&any)) || listen(fd, 1024)) {
		int ret = -errno;

		snprintf(err, errlen, "cannot listen on TCP port %u: %s", port, strerror(errno));
		close(fd);
		return ret;
	}
	c->listen_fd = fd;
	c->port = port;
	return epoll_tag(c, fd, EPOLLIN, EV_LISTEN, EPOLL_CTL_ADD);
}

/* Every connection needs an fd: make room for the whole table if the hard limit allows. */
static void raise_fd_limit(void)
{
	struct rlimit r;

	if (getrlimit(RLIMIT_NOFILE, &r) || r.rlim_cur >= MAX_CONNS + 1024)
		return;
	r.rlim_cur = r.rlim_max < MAX_CONNS + 1024 ? r.rlim_max : MAX_CONNS + 1024;
	setrlimit(RLIMIT_NOFILE, &r);
}

static int open_fds(struct tcp_transport *c)
{
	struct itimerspec second = { .it_interval = { 1, 0 }, .it_value = { 1, 0 } };

	c->t.fd = epoll_create1(EPOLL_CLOEXEC);
	c->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
	c->more_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (c->t.fd < 0 || c->timer_fd < 0 || c->more_fd < 0 ||
	    timerfd_settime(c->timer_fd, 0, &second, NULL))
		return -errno;
	if (epoll_tag(c, c->timer_fd, EPOLLIN, EV_TIMER, EPOLL_CTL_ADD))
		return -errno;
	return epoll_tag(c, c->more_fd, EPOLLIN, EV_MORE, EPOLL_CTL_ADD);
}

int transport_tcp_open(const struct transport_tcp_options *opts, struct transport **out,
		       char *err, size_t errlen)
{
	struct tcp_transport *c = calloc(1, sizeof(*c));
	int ret;

	if (!c)
		return -ENOMEM;
	c->t = (struct transport){ .ops = &tcp_ops, .fd = -1, .family = opts->udp_family,
				   .stats = &c->stats };
	c->listen_fd = c->timer_fd = c->more_fd = -1;
	c->mark = opts->mark;
	c->hello = opts->hello ? opts->hello : transport_tcp_hello_wireguard;
	pthread_mutex_init(&c->lock, NULL);
	for (unsigned int i = 0; i < MAX_CONNS; i++)
		c->conns[i].fd = -1;
	raise_fd_limit();
	ret = open_fds(c);
	if (ret)
		snprintf(err, errlen, "cannot set up the TCP transport: %s", strerror(-ret));
	if (!ret && opts->port)
		ret = listen_on(c, opts->port, err, errlen);
	if (ret) {
		tcp_close(&c->t);
		return ret;
	}
	*out = &c->t;
	return 0;
}

const struct stats *transport_tcp_stats(const struct transport *t)
{
	return t->stats;
}

int transport_tcp_port(const struct transport *t)
{
	return ((const struct tcp_transport *)t)->port;
}

void transport_tcp_retire(struct transport *t, const union endpoint *remote)
{
	struct tcp_transport *c = tcp_of(t);
	struct conn *k;

	pthread_mutex_lock(&c->lock);
	k = conn_outgoing(c, remote);
	if (k)
		k->retired = true;
	pthread_mutex_unlock(&c->lock);
}

unsigned int transport_tcp_connections(const struct transport *t)
{
	return ((const struct tcp_transport *)t)->open_count;
}
