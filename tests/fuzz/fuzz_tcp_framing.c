/* libFuzzer harness: the TCP transport's stream framing (tcp_framing.c).
 *
 * Receive: an untrusted stream arrives in pieces of fuzzer-chosen sizes and its frames are
 * taken a few at a time, as transport_tcp.c does; what comes out (the frames, in order, then OK,
 * a zero length or a first frame that is not the tunnel's, and whether the stream stopped
 * inside a frame) must match a naive parse of the whole stream at once.
 * Send: frames of fuzzer-chosen lengths (up to 65,535) are written partially and queued as
 * transport_tcp.c does, with the queue drained by writes of random sizes; the bytes that leave
 * must be exactly the accepted frames with their headers, and a frame refused for lack of room
 * must leave nothing behind.
 *
 * Input: byte 0 picks the hello rule, byte 1 seeds the piece sizes, byte 2 is how many frames
 * are taken per round (1-8); the rest is the stream, and also the lengths of the sent frames. */
#include "tcp_framing.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

enum {
	MAX_FRAMES = 1 << 16,
	MAX_SENT = 16, /* frames per input on the send side: up to 1 MiB, enough to fill the 256 KiB queue */
};

static void check(bool ok)
{
	if (!ok)
		abort();
}

static uint32_t prng_state;

static uint32_t prng(void)
{
	prng_state ^= prng_state << 13;
	prng_state ^= prng_state >> 17;
	prng_state ^= prng_state << 5;
	return prng_state;
}

static uint8_t hello_rule;

static bool hello(size_t len, uint8_t first)
{
	switch (hello_rule % 3) {
	case 0: return true;
	case 1: return len >= 4 && first == 'm'; /* the plaintext tunnel's */
	default: return (first & 1) && len > 8;
	}
}

static size_t len16(const uint8_t *p)
{
	return (size_t)p[0] << 8 | p[1];
}

/* The naive parse: the whole stream at once. */
struct reference {
	enum tcp_rx_status status;
	size_t count, offsets[MAX_FRAMES], lens[MAX_FRAMES];
	size_t leftover; /* bytes after the last complete frame, when OK */
};

static void parse_whole(const uint8_t *s, size_t size, struct reference *ref)
{
	size_t pos = 0;

	ref->status = TCP_RX_OK;
	ref->count = 0;
	if (size >= 2 && !len16(s)) {
		ref->status = TCP_RX_ZERO_LENGTH;
		return;
	}
	if (size >= 3 && !hello(len16(s), s[2])) {
		ref->status = TCP_RX_NOT_TUNNEL;
		return;
	}
	while (size - pos >= 2) {
		size_t n = len16(s + pos);

		if (!n) {
			ref->status = TCP_RX_ZERO_LENGTH;
			return;
		}
		if (size - pos < 2 + n)
			break;
		ref->offsets[ref->count] = pos + 2;
		ref->lens[ref->count++] = n;
		pos += 2 + n;
	}
	ref->leftover = size - pos;
}

static struct reference ref;

/* Takes up to `limit` frames per round until none is complete; compares each with the
 * reference. Returns false once the stream is broken (a length of 0). */
static bool drain(struct tcp_rx *rx, const uint8_t *s, size_t *taken, unsigned int limit)
{
	for (;;) {
		size_t off = 0, len;
		const uint8_t *frame;
		unsigned int k = 0;
		int got = 0;

		while (k < limit && (got = tcp_rx_next(rx, &off, &frame, &len)) == 1) {
			check(*taken < ref.count && len == ref.lens[*taken]);
			check(!memcmp(frame, s + ref.offsets[*taken], len));
			++*taken;
			k++;
		}
		if (got < 0) {
			check(ref.status == TCP_RX_ZERO_LENGTH);
			return false;
		}
		if (off)
			tcp_rx_consume(rx, off);
		if (k < limit)
			return true;
	}
}

static void receive_side(const uint8_t *s, size_t size, unsigned int limit)
{
	struct tcp_rx rx = { 0 };
	enum tcp_rx_status st = TCP_RX_OK;
	size_t pos = 0, taken = 0;
	bool alive = true;

	parse_whole(s, size, &ref);
	while (alive && pos < size) {
		uint8_t *at;
		size_t room = tcp_rx_space(&rx, &at), piece;

		if (!room) {
			size_t before = rx.have;

			alive = drain(&rx, s, &taken, limit);
			check(!alive || rx.have < before); /* a full buffer always holds a frame */
			continue;
		}
		piece = 1 + prng() % (prng() & 1 ? 7 : 3000);
		piece = piece < room ? piece : room;
		piece = piece < size - pos ? piece : size - pos;
		memcpy(at, s + pos, piece);
		pos += piece;
		st = tcp_rx_arrived(&rx, piece, hello);
		if (st != TCP_RX_OK)
			break;
		alive = drain(&rx, s, &taken, limit);
	}
	if (st != TCP_RX_OK) {
		check(st == ref.status);
	} else if (alive) {
		check(ref.status == TCP_RX_OK && taken == ref.count);
		check(tcp_rx_mid_frame(&rx) == (ref.leftover > 0));
	}
	tcp_rx_free(&rx);
}

static uint8_t pattern[TCP_FRAME_MAX];
static uint8_t wire[MAX_SENT * (TCP_FRAME_HEADER + TCP_FRAME_MAX)], expected[sizeof(wire)];

static void send_side(const uint8_t *s, size_t size)
{
	struct tcp_tx q = { 0 };
	size_t out = 0, want = 0;

	for (size_t i = 0; i + 1 < size && i < 2 * MAX_SENT; i += 2) {
		size_t len = 1 + len16(s + i) % TCP_FRAME_MAX, total = TCP_FRAME_HEADER + len;
		uint8_t hdr[TCP_FRAME_HEADER];
		size_t written = 0, before = q.have;
		int ret;

		tcp_frame_header(hdr, len);
		if (!q.have) { /* nothing queued: a direct write takes part of it */
			written = prng() % (total + 1);
			memcpy(wire + out, hdr, written < 2 ? written : 2);
			if (written > 2)
				memcpy(wire + out + 2, pattern, written - 2);
			out += written;
		}
		ret = tcp_tx_push(&q, hdr, pattern, len, written);
		if (ret) {
			check(ret == -ENOBUFS && !written && q.have == before);
		} else {
			memcpy(expected + want, hdr, 2);
			memcpy(expected + want + 2, pattern, len);
			want += total;
		}
		if (q.have && prng() & 1) {
			size_t n = prng() % (q.have + 1);

			memcpy(wire + out, q.buf, n);
			out += n;
			tcp_tx_pop(&q, n);
		}
	}
	if (q.have)
		memcpy(wire + out, q.buf, q.have);
	out += q.have;
	check(out == want && !memcmp(wire, expected, want));
	tcp_tx_free(&q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 3)
		return 0;
	if (!pattern[1])
		for (size_t i = 0; i < sizeof(pattern); i++)
			pattern[i] = (uint8_t)(i * 7 + 1);
	hello_rule = data[0];
	prng_state = 0x9e3779b9u ^ data[1];
	receive_side(data + 3, size - 3, 1 + data[2] % 8);
	send_side(data + 3, size - 3);
	return 0;
}
