/* Unit tests for the UDP transport over loopback (no root needed): a group sharing one port,
 * refusal of a port in use, batches with GSO/GRO split back intact and in order, replies from
 * the local address the peer used, fallbacks when a source or a destination is refused, and
 * the drops counted on receive. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "transport.h"

#include <arpa/inet.h>
#include <net/if.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum {
	BUF_SIZE = 65536,
	RECORD_SIZE = 2048,
	MAX_RECORDS = 512,
	TIMEOUT_MS = 2000,
};

/* What arrived, copied out: the next receive reuses the buffers. */
struct record {
	uint8_t data[RECORD_SIZE];
	size_t len;
	struct dgram_addr from;
	uint64_t arrival_ns;
};

static uint64_t realtime_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint16_t bound_port(int fd)
{
	union endpoint ep;
	socklen_t len = sizeof(ep);

	assert_int_equal(getsockname(fd, &ep.sa, &len), 0);
	return ntohs(ep.sa.sa_family == AF_INET6 ? ep.in6.sin6_port : ep.in.sin_port);
}

static uint8_t bufmem[TRANSPORT_MAX_BATCH][BUF_SIZE];
static uint8_t *bufs[TRANSPORT_MAX_BATCH];
static struct transport_rx rx[TRANSPORT_MAX_RX];
static struct record records[MAX_RECORDS];
static bool coalesced; /* an entry started inside a buffer: the kernel used GRO */
static struct stats stats_a, stats_b;
static uint8_t payload[TRANSPORT_MAX_BATCH * 4][1500];

static int setup(void **state)
{
	for (int i = 0; i < TRANSPORT_MAX_BATCH; i++)
		bufs[i] = bufmem[i];
	memset(&stats_a, 0, sizeof(stats_a));
	memset(&stats_b, 0, sizeof(stats_b));
	coalesced = false;
	return 0;
}

static struct transport *open_group(uint16_t port, int count, bool offload, struct stats *st,
				    struct transport **out)
{
	struct transport_udp_options o = { .port = port, .count = count, .offload = offload };
	struct stats *s[4] = { st, st, st, st };
	char err[128] = "";
	int ret = transport_udp_open(&o, s, out, err, sizeof(err));

	if (ret)
		fail_msg("transport_udp_open: %s", err);
	return out[0];
}

static struct transport *open_one(bool offload, struct stats *st)
{
	struct transport *t;

	return open_group(0, 1, offload, st, &t);
}

static union endpoint ep(const char *ip, uint16_t port)
{
	union endpoint e;

	assert_int_equal(addr_parse_literal(ip, port, &e), 0);
	return e;
}

static struct dgram_addr to_addr(const char *ip, uint16_t port)
{
	return (struct dgram_addr){ .remote = ep(ip, port) };
}

static struct local_addr local_of(const char *ip)
{
	struct local_addr l = { .family = strchr(ip, ':') ? AF_INET6 : AF_INET };

	assert_int_equal(inet_pton(l.family, ip, &l.addr), 1);
	return l;
}

/* Compares whatever families the two use (a dual-stack socket reports IPv4 as mapped). */
static void assert_endpoint(union endpoint got, const char *ip, uint16_t port)
{
	union endpoint want = ep(ip, port);

	endpoint_to_family(&got, want.sa.sa_family);
	assert_true(endpoint_equal(&got, &want));
}

static uint16_t port_of(const struct transport *t)
{
	int port = transport_local_port(t);

	assert_true(port > 0);
	return (uint16_t)port;
}

static void copy_out(const struct transport_rx *r, struct record *rec)
{
	size_t offset = (size_t)(r->data - &bufmem[0][0]) % BUF_SIZE;

	coalesced |= offset != 0;
	assert_true(r->len <= RECORD_SIZE);
	memcpy(rec->data, r->data, r->len);
	rec->len = r->len;
	rec->from = r->from;
	rec->arrival_ns = r->arrival_ns;
}

/* Receives into records[] until want datagrams arrived or nothing came for timeout_ms;
 * returns how many. */
static int receive_max(struct transport *t, size_t buf_size, int want, int timeout_ms,
		       int max_out)
{
	int got = 0;

	while (got < want) {
		struct pollfd p = { .fd = t->fd, .events = POLLIN };
		int n;

		if (poll(&p, 1, timeout_ms) <= 0)
			break;
		n = transport_recv_batch(t, bufs, buf_size, TRANSPORT_MAX_BATCH, rx, max_out);
		assert_true(n >= 0);
		for (int i = 0; i < n && got < MAX_RECORDS; i++)
			copy_out(&rx[i], &records[got++]);
	}
	return got;
}

static int receive(struct transport *t, int want)
{
	return receive_max(t, BUF_SIZE, want, TIMEOUT_MS, TRANSPORT_MAX_RX);
}

/* Datagram id: its first two bytes, then a pattern the receiver can check. */
static const uint8_t *make_payload(int id, size_t len)
{
	uint8_t *p = payload[id];

	for (size_t i = 0; i < len; i++)
		p[i] = (uint8_t)(id * 7 + i);
	p[0] = (uint8_t)(id >> 8);
	p[1] = (uint8_t)id;
	return p;
}

static void assert_payload(const struct record *r, int id, size_t len)
{
	assert_int_equal(r->len, len);
	assert_int_equal(r->data[0] << 8 | r->data[1], id);
	for (size_t i = 2; i < len; i++)
		assert_int_equal(r->data[i], (uint8_t)(id * 7 + i));
}

static int plain_socket(int family)
{
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	return fd;
}

/* ---- a group on one port ---- */

static void group_shares_port(void **state)
{
	struct transport *g[2];
	int got[2] = { 0, 0 };
	uint16_t port;

	open_group(0, 2, false, &stats_b, g);
	port = port_of(g[0]);
	assert_int_equal(port_of(g[1]), port);
	/* SO_REUSEPORT spreads senders over the group by their address: with 32 of them, both
	 * sockets get some unless the second never joined. */
	for (int i = 0; i < 32; i++) {
		union endpoint dst = ep("127.0.0.1", port);
		int fd = plain_socket(AF_INET);

		assert_int_equal(sendto(fd, "x", 1, 0, &dst.sa, endpoint_len(&dst)), 1);
		close(fd);
	}
	for (int rounds = 0; got[0] + got[1] < 32 && rounds < 100; rounds++) {
		struct pollfd p[2] = { { .fd = g[0]->fd, .events = POLLIN },
				       { .fd = g[1]->fd, .events = POLLIN } };

		if (poll(p, 2, TIMEOUT_MS) <= 0)
			break;
		for (int i = 0; i < 2; i++)
			got[i] += transport_recv_batch(g[i], bufs, BUF_SIZE, TRANSPORT_MAX_BATCH, rx,
						       TRANSPORT_MAX_RX);
	}
	assert_int_equal(got[0] + got[1], 32);
	assert_true(got[0] > 0 && got[1] > 0);
	g[0]->ops->close(g[0]);
	g[1]->ops->close(g[1]);
}

static void assert_refused(uint16_t port, int count)
{
	struct transport_udp_options o = { .port = port, .count = count };
	struct stats *s[2] = { &stats_a, &stats_a };
	struct transport *out[2] = { NULL, NULL };
	char err[128] = "";

	assert_int_equal(transport_udp_open(&o, s, out, err, sizeof(err)), -EADDRINUSE);
	assert_non_null(strstr(err, "cannot listen on UDP port"));
	assert_null(out[0]);
	assert_null(out[1]);
}

static void port_in_use_refused(void **state)
{
	struct transport *g[2];
	union endpoint any = ep("0.0.0.0", 0);
	int one = 1, fd = plain_socket(AF_INET);
	uint16_t port;

	open_group(0, 2, false, &stats_b, g);
	port = port_of(g[0]);
	assert_refused(port, 1);
	assert_refused(port, 2); /* though our own group would let it in */

	/* Another program's socket that invites anyone of our user into its group. */
	assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)), 0);
	assert_int_equal(bind(fd, &any.sa, endpoint_len(&any)), 0);
	assert_refused(bound_port(fd), 2);
	close(fd);
	g[0]->ops->close(g[0]);
	g[1]->ops->close(g[1]);
}

/* Every socket of a group sends with DF clear, IPv4 (also on a dual-stack socket) and IPv6
 * alike, whether a datagram leaves alone or in a UDP_SEGMENT batch: the kernel's default
 * would set DF on one and not the other. */
static void dont_fragment_policy(void **state)
{
	struct transport *g[2];
	int v4, v6;
	socklen_t len = sizeof(int);

	open_group(0, 2, true, &stats_a, g);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(getsockopt(g[i]->fd, IPPROTO_IP, IP_MTU_DISCOVER, &v4, &len), 0);
		assert_int_equal(v4, IP_PMTUDISC_DONT);
		if (g[i]->family == AF_INET6) {
			assert_int_equal(getsockopt(g[i]->fd, IPPROTO_IPV6, IPV6_MTU_DISCOVER, &v6, &len), 0);
			assert_int_equal(v6, IPV6_PMTUDISC_DONT);
		}
	}
	g[0]->ops->close(g[0]);
	g[1]->ops->close(g[1]);
}

/* ---- batches ---- */

enum { RUN = 40, BIG = 1200, SHORT = 300 };

static void batch_round_trip(bool offload)
{
	struct transport *a = open_one(offload, &stats_a), *b = open_one(offload, &stats_b);
	struct dgram_addr to = to_addr("127.0.0.1", port_of(b));
	struct transport_tx tx[RUN + 1];
	uint64_t sent_ns, received_ns;

	for (int i = 0; i <= RUN; i++) {
		size_t len = i < RUN ? BIG : SHORT;

		tx[i] = (struct transport_tx){ .data = make_payload(i, len), .len = len, .to = &to };
	}
	sent_ns = realtime_ns();
	assert_int_equal(transport_send_batch(a, tx, RUN + 1), RUN + 1);
	assert_int_equal(stats_a.tx_packets, RUN + 1);
	assert_int_equal(stats_a.tx_bytes, RUN * BIG + SHORT);
	assert_int_equal(stats_a.drops[DROP_UDP_SEND], 0);
	assert_int_equal(a->gso, offload); /* loopback takes UDP_SEGMENT */

	assert_int_equal(receive(b, RUN + 1), RUN + 1);
	received_ns = realtime_ns();
	for (int i = 0; i <= RUN; i++) {
		assert_payload(&records[i], i, i < RUN ? BIG : SHORT);
		assert_endpoint(records[i].from.remote, "127.0.0.1", port_of(a));
		/* the kernel's arrival time (SO_TIMESTAMPNS), for queue management */
		assert_in_range(records[i].arrival_ns, sent_ns, received_ns);
	}
	print_message("offload %s: gro %s, received %s\n", offload ? "on" : "off",
		      b->gro ? "on" : "off", coalesced ? "coalesced" : "one per buffer");
	assert_int_equal(b->gro, offload);
	if (!offload)
		assert_false(coalesced);
	a->ops->close(a);
	b->ops->close(b);
}

static void batch_with_offload(void **state)
{
	batch_round_trip(true);
}

static void batch_without_offload(void **state)
{
	batch_round_trip(false);
}

/* More than TRANSPORT_MAX_BATCH in one call, in runs of changing size. */
static void batch_larger_than_max(void **state)
{
	enum { COUNT = 3 * TRANSPORT_MAX_BATCH + 5 };
	struct transport *a = open_one(true, &stats_a), *b = open_one(true, &stats_b);
	struct dgram_addr to = to_addr("::1", port_of(b));
	struct transport_tx tx[COUNT];

	for (int i = 0; i < COUNT; i++) {
		size_t len = 100 + (size_t)(i / 10) * 10;

		tx[i] = (struct transport_tx){ .data = make_payload(i, len), .len = len, .to = &to };
	}
	assert_int_equal(transport_send_batch(a, tx, COUNT), COUNT);
	assert_int_equal(receive(b, COUNT), COUNT);
	for (int i = 0; i < COUNT; i++)
		assert_payload(&records[i], i, 100 + (size_t)(i / 10) * 10);
	a->ops->close(a);
	b->ops->close(b);
}

/* A receiver with fewer entries than a coalesced buffer holds keeps what fits and counts the
 * rest. */
static void gro_overflow_counted(void **state)
{
	struct transport *a = open_one(true, &stats_a), *b = open_one(true, &stats_b);
	struct dgram_addr to = to_addr("127.0.0.1", port_of(b));
	struct transport_tx tx[RUN];
	int got;

	for (int i = 0; i < RUN; i++)
		tx[i] = (struct transport_tx){ .data = make_payload(i, BIG), .len = BIG, .to = &to };
	assert_int_equal(transport_send_batch(a, tx, RUN), RUN);
	got = receive_max(b, BUF_SIZE, RUN, 200, 10);
	print_message("%d received, %d counted as dropped\n", got,
		      (int)stats_b.drops[DROP_OVERSIZED]);
	assert_int_equal(got + (int)stats_b.drops[DROP_OVERSIZED], RUN);
	for (int i = 0; i < got; i++)
		assert_int_equal(records[i].len, BIG);
	a->ops->close(a);
	b->ops->close(b);
}

/* ---- local addresses ---- */

static void reply_from_local(const char *ip_b, bool offload)
{
	struct transport *a = open_one(offload, &stats_a), *b = open_one(offload, &stats_b);
	const char *ip_a = strchr(ip_b, ':') ? "::1" : "127.0.0.1";
	struct dgram_addr to = to_addr(ip_b, port_of(b)), reply;
	struct local_addr want = local_of(ip_b);

	if (!offload) /* once is enough */
		print_message("socket family %s\n", b->family == AF_INET6 ? "IPv6 dual-stack" : "IPv4");
	assert_int_equal(transport_send(a, "ping", 4, &to), 0);
	assert_int_equal(receive(b, 1), 1);
	reply = records[0].from;
	assert_int_equal(reply.local.family, want.family);
	assert_memory_equal(&reply.local.addr, &want.addr, want.family == AF_INET ? 4 : 16);
	assert_int_equal(reply.local.ifindex, if_nametoindex("lo"));
	assert_endpoint(reply.remote, ip_a, port_of(a));

	assert_int_equal(transport_send(b, "pong", 4, &reply), 0);
	assert_int_equal(receive(a, 1), 1);
	assert_endpoint(records[0].from.remote, ip_b, port_of(b));

	/* Without a local address the kernel chooses, which is not ip_b: the check above means
	 * something. */
	reply.local = (struct local_addr){ 0 };
	assert_int_equal(transport_send(b, "pong", 4, &reply), 0);
	assert_int_equal(receive(a, 1), 1);
	if (strcmp(ip_b, "::1"))
		assert_endpoint(records[0].from.remote, ip_a, port_of(b));
	a->ops->close(a);
	b->ops->close(b);
}

static void local_address_v4(void **state)
{
	reply_from_local("127.0.0.2", true);
	reply_from_local("127.0.0.3", false);
}

static void local_address_v6(void **state)
{
	reply_from_local("::1", true);
}

/* A local address we no longer have: the datagrams go anyway, from the kernel's choice, alone
 * or in a GSO run. */
static void stale_local_falls_back(const char *dst_ip, const char *stale_ip, unsigned int ifindex)
{
	struct transport *a = open_one(true, &stats_a), *b = open_one(true, &stats_b);
	struct dgram_addr to = to_addr(dst_ip, port_of(b));
	struct transport_tx tx[6];

	to.local = local_of(stale_ip);
	to.local.ifindex = ifindex;
	for (int i = 0; i < 6; i++)
		tx[i] = (struct transport_tx){ .data = make_payload(i, 500), .len = 500, .to = &to };
	assert_int_equal(transport_send_batch(a, tx, 5), 5);
	assert_int_equal(transport_send(a, tx[5].data, tx[5].len, &to), 0);
	assert_int_equal(stats_a.drops[DROP_UDP_SEND], 0);
	assert_int_equal(stats_a.tx_packets, 6);
	assert_true(a->gso);
	assert_int_equal(receive(b, 6), 6);
	for (int i = 0; i < 6; i++) {
		assert_payload(&records[i], i, 500);
		assert_endpoint(records[i].from.remote, dst_ip, port_of(a));
	}
	a->ops->close(a);
	b->ops->close(b);
	memset(&stats_a, 0, sizeof(stats_a));
}

static void stale_local(void **state)
{
	stale_local_falls_back("127.0.0.1", "198.51.100.7", 0);  /* ENETUNREACH */
	stale_local_falls_back("::1", "2001:db8::7", 0);         /* EINVAL */
	stale_local_falls_back("::1", "::1", 99999);             /* ENODEV: the interface is gone */
}

/* ---- failures cost only themselves ---- */

static void refused_destination(bool offload)
{
	struct transport *a = open_one(offload, &stats_a), *b = open_one(offload, &stats_b);
	struct dgram_addr good = to_addr("127.0.0.1", port_of(b));
	struct dgram_addr port0 = to_addr("127.0.0.1", 0); /* EINVAL */
	struct dgram_addr bcast = to_addr("255.255.255.255", port_of(b)); /* no SO_BROADCAST */
	const struct dgram_addr *plan[] = { &good, &good, &good, &port0, &port0, &good,
					    &good, &good, &bcast, &good, &good };
	enum { COUNT = sizeof(plan) / sizeof(plan[0]), FAILED = 3 };
	struct transport_tx tx[COUNT];
	int good_ids[COUNT], n = 0;

	for (int i = 0; i < COUNT; i++) {
		tx[i] = (struct transport_tx){ .data = make_payload(i, 400), .len = 400, .to = plan[i] };
		if (plan[i] == &good)
			good_ids[n++] = i;
	}
	assert_int_equal(transport_send_batch(a, tx, COUNT), COUNT - FAILED);
	assert_int_equal(stats_a.drops[DROP_UDP_SEND], FAILED);
	assert_int_equal(stats_a.tx_packets, COUNT - FAILED);
	assert_int_equal(stats_a.tx_bytes, (COUNT - FAILED) * 400);
	assert_int_equal(a->gso, offload);
	assert_int_equal(receive(b, n), n);
	for (int i = 0; i < n; i++)
		assert_payload(&records[i], good_ids[i], 400);
	assert_int_equal(receive_max(b, BUF_SIZE, 1, 100, TRANSPORT_MAX_RX), 0);
	a->ops->close(a);
	b->ops->close(b);
}

static void refused_with_offload(void **state)
{
	refused_destination(true);
}

static void refused_without_offload(void **state)
{
	refused_destination(false);
}

/* ---- receive drops ---- */

static void truncated_counted(void **state)
{
	struct transport *a = open_one(true, &stats_a), *b = open_one(true, &stats_b);
	struct dgram_addr to = to_addr("127.0.0.1", port_of(b));

	assert_int_equal(transport_send(a, make_payload(0, 1400), 1400, &to), 0);
	assert_int_equal(transport_send(a, make_payload(1, 100), 100, &to), 0);
	assert_int_equal(receive_max(b, 1000, 1, TIMEOUT_MS, TRANSPORT_MAX_RX), 1);
	assert_payload(&records[0], 1, 100);
	assert_int_equal(stats_b.drops[DROP_OVERSIZED], 1);
	a->ops->close(a);
	b->ops->close(b);
}

/* A receive queue too small for a burst: the kernel's count of what it dropped reaches us with
 * the next datagram. */
static void kernel_drops_counted(void **state)
{
	enum { BURST = 4 * TRANSPORT_MAX_BATCH };
	struct transport *a = open_one(false, &stats_a), *b = open_one(false, &stats_b);
	struct dgram_addr to = to_addr("127.0.0.1", port_of(b));
	struct transport_tx tx[BURST];
	int small = 4096, got;

	assert_int_equal(setsockopt(b->fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	for (int i = 0; i < BURST; i++)
		tx[i] = (struct transport_tx){ .data = make_payload(i, 1000), .len = 1000, .to = &to };
	assert_int_equal(transport_send_batch(a, tx, BURST), BURST);
	got = receive_max(b, BUF_SIZE, BURST, 200, TRANSPORT_MAX_RX);
	assert_true(got < BURST);
	assert_int_equal(transport_send(a, tx[0].data, tx[0].len, &to), 0);
	assert_int_equal(receive(b, 1), 1);
	print_message("%d of %d queued, %llu dropped by the kernel\n", got, BURST,
		      (unsigned long long)transport_udp_kernel_drops(b));
	assert_int_equal(transport_udp_kernel_drops(b), BURST - got);
	a->ops->close(a);
	b->ops->close(b);
}

/* ---- marks and addresses ---- */

static void set_mark(void **state)
{
	struct transport_udp_options o = { .count = 1, .mark = 42 };
	struct stats *s[1] = { &stats_a };
	struct transport *t = NULL;
	char err[128];
	uint32_t mark = 0;
	socklen_t len = sizeof(mark);
	int ret = transport_udp_open(&o, s, &t, err, sizeof(err));

	if (ret == -EPERM) { /* SO_MARK needs CAP_NET_ADMIN */
		assert_non_null(strstr(err, "SO_MARK"));
		assert_null(t);
		skip();
	}
	assert_int_equal(ret, 0);
	assert_int_equal(getsockopt(t->fd, SOL_SOCKET, SO_MARK, &mark, &len), 0);
	assert_int_equal(mark, 42);
	assert_int_equal(t->ops->set_mark(t, 7), 0);
	assert_int_equal(getsockopt(t->fd, SOL_SOCKET, SO_MARK, &mark, &len), 0);
	assert_int_equal(mark, 7);
	assert_int_equal(t->ops->set_mark(t, 0), 0);
	t->ops->close(t);
}

static void addr_equality(void **state)
{
	struct dgram_addr base = to_addr("127.0.0.1", 51820), other;

	base.local = local_of("127.0.0.2");
	base.local.ifindex = 1;
	other = base;
	assert_true(dgram_addr_equal(&base, &other));
	other.remote = ep("127.0.0.1", 51821);
	assert_false(dgram_addr_equal(&base, &other));
	other = base;
	other.local = local_of("127.0.0.3");
	other.local.ifindex = 1;
	assert_false(dgram_addr_equal(&base, &other));
	other = base;
	other.local.ifindex = 2;
	assert_false(dgram_addr_equal(&base, &other));
	other = base;
	other.local = (struct local_addr){ 0 };
	assert_false(dgram_addr_equal(&base, &other));
	base.local = other.local;
	assert_true(dgram_addr_equal(&base, &other));
	base.local = local_of("::1");
	other.local = local_of("::1");
	assert_true(dgram_addr_equal(&base, &other));
	other.local = local_of("::2");
	assert_false(dgram_addr_equal(&base, &other));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(group_shares_port, setup),
		cmocka_unit_test_setup(dont_fragment_policy, setup),
		cmocka_unit_test_setup(port_in_use_refused, setup),
		cmocka_unit_test_setup(batch_with_offload, setup),
		cmocka_unit_test_setup(batch_without_offload, setup),
		cmocka_unit_test_setup(batch_larger_than_max, setup),
		cmocka_unit_test_setup(gro_overflow_counted, setup),
		cmocka_unit_test_setup(local_address_v4, setup),
		cmocka_unit_test_setup(local_address_v6, setup),
		cmocka_unit_test_setup(stale_local, setup),
		cmocka_unit_test_setup(refused_with_offload, setup),
		cmocka_unit_test_setup(refused_without_offload, setup),
		cmocka_unit_test_setup(truncated_counted, setup),
		cmocka_unit_test_setup(kernel_drops_counted, setup),
		cmocka_unit_test_setup(set_mark, setup),
		cmocka_unit_test_setup(addr_equality, setup),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
