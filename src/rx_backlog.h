/* A worker's receive backlog: datagrams read from its sockets and not yet processed.
 *
 * The kernel's socket queue is a FIFO: a ping or an ACK that arrives behind a bulk transfer's
 * backlog waits until everything before it has been decrypted. So a worker reads what its
 * sockets hold into its own buffers as early as it can, serves the sparse datagrams (small
 * ones: handshakes, pings, ACKs, DNS) at once, and the bulk ones in arrival order, a chunk at a
 * time, reading again between chunks. That is the flow queueing of fq_codel with the only flow
 * key there is before decryption, the size; CoDel still sees each datagram's kernel arrival
 * time, so time spent here counts as queueing.
 *
 * The buffers are the worker's receive slots. A GRO read puts many datagrams in one buffer, so
 * a buffer goes back to the free list when the last datagram in it is done. Pure bookkeeping:
 * no system calls, no allocation. */
#ifndef MYVPN_RX_BACKLOG_H
#define MYVPN_RX_BACKLOG_H

#include "transport.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
	RX_BACKLOG_BUFS = TRANSPORT_MAX_BATCH,
	/* Every buffer full of the smallest GRO segments, and no more: a power of two. */
	RX_BACKLOG_ENTRIES = RX_BACKLOG_BUFS * TRANSPORT_GSO_MAX_SEGMENTS,
};

struct rx_backlog {
	uint8_t *slots; /* the buffers, slot_size bytes each, one after the other */
	size_t slot_size;
	uint8_t *free[RX_BACKLOG_BUFS];
	unsigned int free_count;
	uint16_t refs[RX_BACKLOG_BUFS]; /* entries not yet done in each buffer */
	struct transport_rx ring[RX_BACKLOG_ENTRIES]; /* the bulk entries, oldest at head */
	unsigned int head, tail;                       /* free-running; tail - head entries */
};

void rx_backlog_init(struct rx_backlog *b, uint8_t *slots, size_t slot_size, unsigned int nbufs);
/* Up to max free buffers to receive into (they stay out of the free list until
 * rx_backlog_add). Returns how many. */
unsigned int rx_backlog_take_bufs(struct rx_backlog *b, uint8_t **bufs, unsigned int max);
/* Accounts for what a receive put into the nbufs buffers taken: entries rx[0..n). Those of at
 * most sparse_len bytes are copied to sparse[] (room for n) and their count returned; the rest
 * join the bulk FIFO. Buffers the receive left empty are free again. */
int rx_backlog_add(struct rx_backlog *b, uint8_t *const *bufs, unsigned int nbufs,
		   const struct transport_rx *rx, int n, struct transport_rx *sparse,
		   size_t sparse_len);
/* Moves up to max of the oldest bulk entries to out[], in arrival order; returns how many. */
int rx_backlog_pop(struct rx_backlog *b, struct transport_rx *out, int max);
/* The datagram that began at data (an entry's original data pointer) is done: its buffer is
 * free again once all of its datagrams are. */
void rx_backlog_done(struct rx_backlog *b, const uint8_t *data);
static inline bool rx_backlog_empty(const struct rx_backlog *b)
{
	return b->head == b->tail;
}

#endif
