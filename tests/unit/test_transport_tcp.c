/* Unit tests for the TCP transport over loopback (no root needed): frames from a connection
 * arrive whole and in order as datagrams, from a TCP address, and with no arrival time, whatever
 * the caller's entries held before (a stale time made the worker's CoDel drop them). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "transport.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

enum { BUF_SIZE = 2048, NBUFS = 8, TIMEOUT_MS = 2000 };

static uint8_t bufmem[NBUFS][BUF_SIZE];
static uint8_t *bufs[NBUFS];

static bool accept_any(size_t len, uint8_t first)
{
	(void)len;
	(void)first;
	return true;
}

static struct transport *open_listener(void)
{
	struct transport_tcp_options o = { .udp_family = AF_INET, .hello = accept_any };
	struct transport *t;
	char err[128] = "";

	for (uint16_t port = 42100; port < 42200; port++) {
		o.port = port;
		if (!transport_tcp_open(&o, &t, err, sizeof(err)))
			return t;
	}
	fail_msg("transport_tcp_open: %s", err);
	return NULL;
}

static int connect_to(uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	return fd;
}

static void send_frame(int fd, uint8_t fill, size_t len)
{
	uint8_t frame[2 + BUF_SIZE];

	frame[0] = (uint8_t)(len >> 8);
	frame[1] = (uint8_t)len;
	memset(frame + 2, fill, len);
	assert_int_equal(write(fd, frame, 2 + len), (ssize_t)(2 + len));
}

/* Receives until want entries came, each entry poisoned beforehand. */
static int receive(struct transport *t, struct transport_rx *rx, int want)
{
	int got = 0;

	for (int i = 0; i < NBUFS; i++) {
		bufs[i] = bufmem[i];
		rx[i] = (struct transport_rx){ .arrival_ns = 12345, .len = 999 };
	}
	while (got < want) {
		struct pollfd p = { .fd = t->fd, .events = POLLIN };
		int n;

		assert_int_equal(poll(&p, 1, TIMEOUT_MS), 1);
		n = t->ops->recv_batch(t, bufs + got, BUF_SIZE, NBUFS - got, rx + got, NBUFS - got);
		assert_true(n >= 0);
		got += n;
	}
	return got;
}

static void test_frames_arrive_without_arrival_time(void **state)
{
	struct transport *t = open_listener();
	static const uint8_t fills[3] = { 0xa1, 0xb2, 0xc3 };
	struct transport_rx rx[NBUFS];
	int fd = connect_to((uint16_t)transport_tcp_port(t));

	(void)state;
	send_frame(fd, fills[0], 148);
	send_frame(fd, fills[1], 1452);
	send_frame(fd, fills[2], 32);
	assert_int_equal(receive(t, rx, 3), 3);
	assert_int_equal(rx[0].len, 148);
	assert_int_equal(rx[1].len, 1452);
	assert_int_equal(rx[2].len, 32);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(rx[i].arrival_ns, 0);
		assert_int_equal(rx[i].from.kind, TRANSPORT_TCP);
		assert_int_equal(rx[i].data[0], fills[i]);
		assert_int_equal(rx[i].data[rx[i].len - 1], rx[i].data[0]);
	}
	assert_int_equal(transport_tcp_connections(t), 1);
	close(fd);
	t->ops->close(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frames_arrive_without_arrival_time),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
