/* Unit tests for the TCP stream framing: a table of streams, each fed one byte at a time and all
 * at once, with the frames and the verdict they must give; the hello rules of both tunnels; and
 * the send queue with partial writes and a full queue. (fuzz_tcp_framing explores the rest.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "packet.h"
#include "tcp_framing.h"
#include "transport.h"

#include <errno.h>
#include <string.h>

static bool any_hello(size_t len, uint8_t first)
{
	(void)first;
	return len > 0;
}

struct stream_case {
	const char *name;
	const char *bytes;
	size_t len;
	tcp_hello_fn *hello;
	enum tcp_rx_status status; /* from tcp_rx_arrived */
	int zero_later;            /* 1: tcp_rx_next meets a length of 0 after the frames */
	unsigned int frames;
	size_t frame_len[3];
	bool mid_frame;            /* at the end */
};

#define S(text) text, sizeof(text) - 1

static const struct stream_case cases[] = {
	{ "two frames", S("\0\3abc\0\1x"), any_hello, TCP_RX_OK, 0, 2, { 3, 1 }, false },
	{ "frame and a half", S("\0\3abc\0\4xy"), any_hello, TCP_RX_OK, 0, 1, { 3 }, true },
	{ "header cut", S("\0\3abc\0"), any_hello, TCP_RX_OK, 0, 1, { 3 }, true },
	{ "zero first", S("\0\0"), any_hello, TCP_RX_ZERO_LENGTH, 0, 0, { 0 }, false },
	{ "zero later", S("\0\1a\0\0\0\1b"), any_hello, TCP_RX_OK, 1, 1, { 1 }, false },
	{ "http", S("GET / HTTP/1.0\r\n"), transport_tcp_hello_wireguard, TCP_RX_NOT_TUNNEL, 0, 0, { 0 }, false },
	{ "plaintext keepalive", S("\0\4mv\1\2"), plain_tcp_hello, TCP_RX_OK, 0, 1, { 4 }, false },
	{ "plaintext too short", S("\0\3mv\1"), plain_tcp_hello, TCP_RX_NOT_TUNNEL, 0, 0, { 0 }, false },
	{ "wireguard data", S("\0\x20\4\0\0\0" "0123456789abcdef0123456789ab"),
	  transport_tcp_hello_wireguard, TCP_RX_OK, 0, 1, { 32 }, false },
	{ "wireguard initiation, wrong size", S("\0\x20\1"), transport_tcp_hello_wireguard,
	  TCP_RX_NOT_TUNNEL, 0, 0, { 0 }, false },
};

/* Feeds c's bytes in pieces of `piece`, taking frames as they complete. */
static void run(const struct stream_case *c, size_t piece)
{
	struct tcp_rx rx = { 0 };
	enum tcp_rx_status st = TCP_RX_OK;
	unsigned int frames = 0;
	int zero = 0;

	for (size_t pos = 0; pos < c->len && st == TCP_RX_OK && !zero;) {
		uint8_t *at;
		size_t room = tcp_rx_space(&rx, &at), n = c->len - pos, off = 0, len;
		const uint8_t *frame;
		int got;

		n = n < piece ? n : piece;
		n = n < room ? n : room;
		memcpy(at, c->bytes + pos, n);
		pos += n;
		st = tcp_rx_arrived(&rx, n, c->hello);
		while ((got = tcp_rx_next(&rx, &off, &frame, &len)) == 1) {
			assert_true(frames < c->frames);
			assert_int_equal(len, c->frame_len[frames]);
			frames++;
		}
		zero = got < 0;
		tcp_rx_consume(&rx, zero ? 0 : off);
	}
	assert_int_equal(st, c->status);
	assert_int_equal(zero, c->zero_later);
	assert_int_equal(frames, c->frames);
	if (st == TCP_RX_OK && !zero)
		assert_int_equal(tcp_rx_mid_frame(&rx), c->mid_frame);
	tcp_rx_free(&rx);
}

static void streams(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		print_message("%s\n", cases[i].name);
		run(&cases[i], 1);
		run(&cases[i], 1000);
	}
}

/* A stranger's first bytes cost no buffer until they prove themselves. */
static void stranger_has_no_buffer(void **state)
{
	struct tcp_rx rx = { 0 };
	uint8_t *at;

	(void)state;
	assert_int_equal(tcp_rx_space(&rx, &at), TCP_HELLO_LEN);
	memcpy(at, "\0\4", 2);
	assert_int_equal(tcp_rx_arrived(&rx, 2, plain_tcp_hello), TCP_RX_OK);
	assert_null(rx.buf);
	assert_true(tcp_rx_mid_frame(&rx));
	assert_int_equal(tcp_rx_space(&rx, &at), 1);
	*at = 'm';
	assert_int_equal(tcp_rx_arrived(&rx, 1, plain_tcp_hello), TCP_RX_OK);
	assert_non_null(rx.buf);
	assert_int_equal(tcp_rx_space(&rx, &at), TCP_RX_CAP - 3);
	tcp_rx_free(&rx);
}

static void send_queue(void **state)
{
	static uint8_t big[TCP_FRAME_MAX];
	struct tcp_tx q = { 0 };
	uint8_t hdr[TCP_FRAME_HEADER];
	size_t queued = 0;

	(void)state;
	/* a write took one byte of the header: the rest of the header, then the data */
	tcp_frame_header(hdr, 3);
	assert_int_equal(tcp_tx_push(&q, hdr, (const uint8_t *)"abc", 3, 1), 0);
	assert_int_equal(q.have, 4);
	assert_memory_equal(q.buf, "\3abc", 4);
	/* a write took the header and one byte */
	assert_int_equal(tcp_tx_push(&q, hdr, (const uint8_t *)"abc", 3, 3), 0);
	assert_memory_equal(q.buf + 4, "bc", 2);
	/* all of it: nothing to queue */
	assert_int_equal(tcp_tx_push(&q, hdr, (const uint8_t *)"abc", 3, 5), 0);
	assert_int_equal(q.have, 6);
	tcp_tx_pop(&q, 5);
	assert_int_equal(q.have, 1);
	assert_int_equal(q.buf[0], 'c');
	/* full-size frames until the queue refuses one, whole */
	tcp_frame_header(hdr, sizeof(big));
	while (tcp_tx_push(&q, hdr, big, sizeof(big), 0) == 0)
		queued++;
	assert_int_equal(queued, (TCP_TX_CAP - 1) / (TCP_FRAME_HEADER + TCP_FRAME_MAX));
	assert_int_equal(q.have, 1 + queued * (TCP_FRAME_HEADER + TCP_FRAME_MAX));
	assert_int_equal(tcp_tx_push(&q, hdr, big, sizeof(big), 0), -ENOBUFS);
	tcp_tx_free(&q);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(streams),
		cmocka_unit_test(stranger_has_no_buffer),
		cmocka_unit_test(send_queue),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
