/* Datagrams over a TCP stream (pure: no syscalls): each one is a 2-byte big-endian length and the
 * datagram, the framing of Mullvad's udp-over-tcp. The receive side reassembles frames from
 * whatever pieces the stream delivers; the send side queues what a partial write left over.
 * transport_tcp.c does the reading and writing. */
#ifndef MYVPN_TCP_FRAMING_H
#define MYVPN_TCP_FRAMING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	TCP_FRAME_HEADER = 2,
	TCP_FRAME_MAX = 65535,
	TCP_RX_CAP = TCP_FRAME_HEADER + TCP_FRAME_MAX, /* one maximal frame */
	TCP_HELLO_LEN = 3,           /* a stranger's first bytes: length and the first byte */
	TCP_TX_CAP = 256 * 1024,     /* per connection: ~170 full-size packets queued, then drops */
};

/* Whether a stream whose first frame announces len bytes starting with first is the tunnel's. */
typedef bool tcp_hello_fn(size_t len, uint8_t first);

/* One connection's incoming stream. Until its first TCP_HELLO_LEN bytes prove it is the
 * tunnel's, it is read into head and costs no buffer; then into buf. Zero-initialise. */
struct tcp_rx {
	uint8_t head[TCP_HELLO_LEN];
	uint8_t head_have;
	bool speaking;
	uint8_t *buf;   /* TCP_RX_CAP bytes once speaking; owned */
	size_t have;
};

enum tcp_rx_status {
	TCP_RX_OK = 0,
	TCP_RX_ZERO_LENGTH, /* a frame announced 0 bytes: the stream is broken */
	TCP_RX_NOT_TUNNEL,  /* the first frame is not the tunnel's */
	TCP_RX_NO_MEMORY,
};

/* Where the next bytes of the stream go (*at) and how many may come: before the hello, only
 * its missing bytes. 0: the buffer holds a whole frame already; take frames first. */
size_t tcp_rx_space(struct tcp_rx *r, uint8_t **at);
/* n bytes (at most what tcp_rx_space offered) arrived at *at. */
enum tcp_rx_status tcp_rx_arrived(struct tcp_rx *r, size_t n, tcp_hello_fn *hello);
/* The next complete frame at *off (start at 0): 1 with *frame and *len set and *off moved past
 * it; 0 when none is complete yet; -1 for a length of 0. Frames stay valid until consumed. */
int tcp_rx_next(const struct tcp_rx *r, size_t *off, const uint8_t **frame, size_t *len);
/* Forgets the first off bytes (the frames taken). */
void tcp_rx_consume(struct tcp_rx *r, size_t off);
/* Bytes of an unfinished frame (or hello) are waiting: where a stream must not end. */
bool tcp_rx_mid_frame(const struct tcp_rx *r);
void tcp_rx_free(struct tcp_rx *r);

/* One connection's outgoing queue, allocated on the first partial write. Zero-initialise. */
struct tcp_tx {
	uint8_t *buf;   /* TCP_TX_CAP bytes; owned */
	size_t have;
};

void tcp_frame_header(uint8_t hdr[TCP_FRAME_HEADER], size_t len);
/* Queues the part of the frame hdr+data[0..len) past its first `sent` bytes (those a write
 * already took): 0, -ENOBUFS when the queue has no room for it, or -ENOMEM. On failure
 * nothing is queued. */
int tcp_tx_push(struct tcp_tx *q, const uint8_t hdr[TCP_FRAME_HEADER], const uint8_t *data,
		size_t len, size_t sent);
/* A write took the first n queued bytes. */
void tcp_tx_pop(struct tcp_tx *q, size_t n);
void tcp_tx_free(struct tcp_tx *q);

#endif
