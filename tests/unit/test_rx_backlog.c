/* Unit tests for the receive backlog: sparse datagrams come out at once and bulk ones in
 * arrival order, a buffer is free again only when every datagram in it is done, and a full
 * backlog offers no buffer rather than overwrite one in use. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "rx_backlog.h"

#include <stdlib.h>
#include <string.h>

enum { SLOT = 4096, NBUFS = 4, SPARSE = 288 };

static uint8_t slots[NBUFS * SLOT];

/* What a GRO receive makes of one buffer: count datagrams of len bytes one after the other,
 * then one of last_len (0: none), each numbered in its first byte from *seq on. */
static int gro_read(uint8_t *buf, size_t len, int count, size_t last_len, struct transport_rx *rx,
		    int *seq)
{
	int n = 0;
	size_t off = 0;

	for (; n < count + (last_len != 0); n++) {
		size_t l = n < count ? len : last_len;

		rx[n] = (struct transport_rx){ .data = buf + off, .len = l };
		buf[off] = (uint8_t)(*seq)++;
		off += l;
	}
	return n;
}

static struct rx_backlog *new_backlog(void)
{
	struct rx_backlog *b = calloc(1, sizeof(*b));

	assert_non_null(b);
	rx_backlog_init(b, slots, SLOT, NBUFS);
	return b;
}

static void sparse_first_bulk_in_order(void **state)
{
	struct rx_backlog *b = new_backlog();
	struct transport_rx rx[64], sparse[64], out[64];
	uint8_t *bufs[NBUFS];
	int seq = 0, n;

	(void)state;
	assert_int_equal(rx_backlog_take_bufs(b, bufs, 2), 2);
	/* buffer 0: five bulk datagrams and a ping at the end (GRO's shorter last segment);
	 * buffer 1: left empty by the receive */
	n = gro_read(bufs[0], 600, 5, 100, rx, &seq);
	assert_int_equal(rx_backlog_add(b, bufs, 2, rx, n, sparse, SPARSE), 1);
	assert_int_equal(sparse[0].data[0], 5);
	assert_int_equal(b->free_count, NBUFS - 1); /* the empty one is back */

	assert_int_equal(rx_backlog_take_bufs(b, bufs, 1), 1);
	n = gro_read(bufs[0], 600, 3, 0, rx, &seq);
	assert_int_equal(rx_backlog_add(b, bufs, 1, rx, n, sparse, SPARSE), 0);
	assert_int_equal(rx_backlog_pop(b, out, 4), 4);
	for (int i = 0; i < 4; i++)
		assert_int_equal(out[i].data[0], i);
	assert_int_equal(rx_backlog_pop(b, out + 4, 64), 4);
	assert_int_equal(out[4].data[0], 4);
	for (int i = 5; i < 8; i++)
		assert_int_equal(out[i].data[0], i + 1); /* 5 was the ping */
	assert_true(rx_backlog_empty(b));
	free(b);
}

static void buffers_free_when_all_done(void **state)
{
	struct rx_backlog *b = new_backlog();
	struct transport_rx rx[64], sparse[64], out[64];
	uint8_t *bufs[NBUFS];
	int seq = 0, n;

	(void)state;
	assert_int_equal(rx_backlog_take_bufs(b, bufs, NBUFS), NBUFS);
	assert_int_equal(rx_backlog_take_bufs(b, bufs, 1), 0); /* none left to offer */
	n = gro_read(bufs[0], 600, 3, 64, rx, &seq);
	n += gro_read(bufs[1], 700, 2, 0, rx + n, &seq);
	assert_int_equal(rx_backlog_add(b, bufs, NBUFS, rx, n, sparse, SPARSE), 1);
	assert_int_equal(b->free_count, 2); /* buffers 2 and 3 were not used */

	rx_backlog_done(b, sparse[0].data); /* the ping, done first: buffer 0 still in use */
	assert_int_equal(b->free_count, 2);
	assert_int_equal(rx_backlog_pop(b, out, 3), 3);
	for (int i = 0; i < 2; i++)
		rx_backlog_done(b, out[i].data);
	assert_int_equal(b->free_count, 2);
	rx_backlog_done(b, out[2].data); /* the last of buffer 0 */
	assert_int_equal(b->free_count, 3);
	assert_ptr_equal(b->free[2], slots);
	assert_int_equal(rx_backlog_pop(b, out, 64), 2);
	rx_backlog_done(b, out[0].data);
	rx_backlog_done(b, out[1].data);
	assert_int_equal(b->free_count, NBUFS);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(sparse_first_bulk_in_order),
		cmocka_unit_test(buffers_free_when_all_done),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
