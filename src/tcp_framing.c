/* Datagrams over a TCP stream: reassembly and the send queue (see tcp_framing.h). */
#include "tcp_framing.h"
#include "be.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static size_t frame_len(const uint8_t *p)
{
	return be16_get(p);
}

size_t tcp_rx_space(struct tcp_rx *r, uint8_t **at)
{
	if (!r->speaking) {
		*at = r->head + r->head_have;
		return sizeof(r->head) - r->head_have;
	}
	*at = r->buf + r->have;
	return TCP_RX_CAP - r->have;
}

/* The hello is complete and the tunnel's: from now on the stream has a buffer. */
static enum tcp_rx_status start_speaking(struct tcp_rx *r)
{
	r->buf = malloc(TCP_RX_CAP);
	if (!r->buf)
		return TCP_RX_NO_MEMORY;
	memcpy(r->buf, r->head, sizeof(r->head));
	r->have = sizeof(r->head);
	r->speaking = true;
	return TCP_RX_OK;
}

enum tcp_rx_status tcp_rx_arrived(struct tcp_rx *r, size_t n, tcp_hello_fn *hello)
{
	if (r->speaking) {
		r->have += n;
		return TCP_RX_OK;
	}
	r->head_have += (uint8_t)n;
	if (r->head_have >= TCP_FRAME_HEADER && !frame_len(r->head))
		return TCP_RX_ZERO_LENGTH;
	if (r->head_have < sizeof(r->head))
		return TCP_RX_OK;
	if (!hello(frame_len(r->head), r->head[TCP_FRAME_HEADER]))
		return TCP_RX_NOT_TUNNEL;
	return start_speaking(r);
}

int tcp_rx_next(const struct tcp_rx *r, size_t *off, const uint8_t **frame, size_t *len)
{
	size_t n;

	if (!r->speaking || r->have - *off < TCP_FRAME_HEADER)
		return 0;
	n = frame_len(r->buf + *off);
	if (!n)
		return -1;
	if (r->have - *off < TCP_FRAME_HEADER + n)
		return 0;
	*frame = r->buf + *off + TCP_FRAME_HEADER;
	*len = n;
	*off += TCP_FRAME_HEADER + n;
	return 1;
}

void tcp_rx_consume(struct tcp_rx *r, size_t off)
{
	if (!off)
		return; /* also before the hello, when there is no buffer */
	memmove(r->buf, r->buf + off, r->have - off);
	r->have -= off;
}

bool tcp_rx_mid_frame(const struct tcp_rx *r)
{
	return r->speaking ? r->have > 0 : r->head_have > 0;
}

void tcp_rx_free(struct tcp_rx *r)
{
	free(r->buf);
	*r = (struct tcp_rx){ 0 };
}

void tcp_frame_header(uint8_t hdr[TCP_FRAME_HEADER], size_t len)
{
	be16_put(hdr, (uint16_t)len);
}

int tcp_tx_push(struct tcp_tx *q, const uint8_t hdr[TCP_FRAME_HEADER], const uint8_t *data,
		size_t len, size_t sent)
{
	size_t total = TCP_FRAME_HEADER + len;

	if (sent >= total)
		return 0;
	if (q->have + total - sent > TCP_TX_CAP)
		return -ENOBUFS;
	if (!q->buf && !(q->buf = malloc(TCP_TX_CAP)))
		return -ENOMEM;
	if (sent < TCP_FRAME_HEADER) {
		memcpy(q->buf + q->have, hdr + sent, TCP_FRAME_HEADER - sent);
		q->have += TCP_FRAME_HEADER - sent;
		sent = TCP_FRAME_HEADER;
	}
	memcpy(q->buf + q->have, data + (sent - TCP_FRAME_HEADER), total - sent);
	q->have += total - sent;
	return 0;
}

void tcp_tx_pop(struct tcp_tx *q, size_t n)
{
	if (!n)
		return;
	memmove(q->buf, q->buf + n, q->have - n);
	q->have -= n;
}

void tcp_tx_free(struct tcp_tx *q)
{
	free(q->buf);
	*q = (struct tcp_tx){ 0 };
}
