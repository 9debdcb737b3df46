/* A worker's receive backlog (rx_backlog.h). */
#include "rx_backlog.h"

#include <assert.h>

_Static_assert((RX_BACKLOG_ENTRIES & (RX_BACKLOG_ENTRIES - 1)) == 0, "a power of two");

void rx_backlog_init(struct rx_backlog *b, uint8_t *slots, size_t slot_size, unsigned int nbufs)
{
	b->slots = slots;
	b->slot_size = slot_size;
	b->head = b->tail = 0;
	b->free_count = 0;
	/* highest first, so that the first receives use the lowest buffers */
	for (unsigned int i = nbufs < RX_BACKLOG_BUFS ? nbufs : RX_BACKLOG_BUFS; i-- > 0;) {
		b->refs[i] = 0;
		b->free[b->free_count++] = slots + (size_t)i * slot_size;
	}
}

static unsigned int buf_index(const struct rx_backlog *b, const uint8_t *p)
{
	return (unsigned int)((size_t)(p - b->slots) / b->slot_size);
}

static void release(struct rx_backlog *b, unsigned int i)
{
	b->free[b->free_count++] = b->slots + (size_t)i * b->slot_size;
}

unsigned int rx_backlog_take_bufs(struct rx_backlog *b, uint8_t **bufs, unsigned int max)
{
	unsigned int n = max < b->free_count ? max : b->free_count;

	for (unsigned int i = 0; i < n; i++)
		bufs[i] = b->free[--b->free_count];
	return n;
}

int rx_backlog_add(struct rx_backlog *b, uint8_t *const *bufs, unsigned int nbufs,
		   const struct transport_rx *rx, int n, struct transport_rx *sparse,
		   size_t sparse_len)
{
	int count = 0;

	for (int i = 0; i < n; i++) {
		b->refs[buf_index(b, rx[i].data)]++;
		if (rx[i].len <= sparse_len) {
			sparse[count++] = rx[i];
			continue;
		}
		assert(b->tail - b->head < RX_BACKLOG_ENTRIES);
		b->ring[b->tail++ % RX_BACKLOG_ENTRIES] = rx[i];
	}
	for (unsigned int i = 0; i < nbufs; i++) {
		unsigned int k = buf_index(b, bufs[i]);

		if (!b->refs[k])
			release(b, k);
	}
	return count;
}

int rx_backlog_pop(struct rx_backlog *b, struct transport_rx *out, int max)
{
	int n = 0;

	while (n < max && b->head != b->tail)
		out[n++] = b->ring[b->head++ % RX_BACKLOG_ENTRIES];
	return n;
}

void rx_backlog_done(struct rx_backlog *b, const uint8_t *data)
{
	unsigned int k = buf_index(b, data);

	if (!--b->refs[k])
		release(b, k);
}
