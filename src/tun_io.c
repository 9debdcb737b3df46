/* The TUN seam: batches of IP packets in and out of one TUN queue, offloads hidden inside. */
#include "tun_io.h"
#include "log.h"
#include "loop.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int tun_queue_init(struct tun_queue *q, int fd, bool vnet_hdr, int gro_flags, struct stats *stats)
{
	*q = (struct tun_queue){ .fd = fd, .vnet_hdr = vnet_hdr, .gro_flags = gro_flags,
				 .stats = stats };
	if (vnet_hdr) {
		q->carry = malloc(TUN_IO_CARRY_SIZE);
		if (!q->carry)
			return -ENOMEM;
	}
	return 0;
}

void tun_queue_free(struct tun_queue *q)
{
	free(q->carry);
	q->carry = NULL;
}

/* The queue has nothing more, or is gone. */
static void read_failed(struct tun_queue *q)
{
	if (errno == EBADFD || errno == EIO) {
		if (!q->gone)
			log_info("the TUN interface is gone");
		q->gone = true; /* ip link del: every read fails from now on */
	} else if (errno != EAGAIN && errno != EINTR) {
		log_ratelimited(LOGL_WARN, loop_clock_ns(), "TUN read: %s", strerror(errno));
	}
}

/* Splits the read at in (len bytes, virtio-net header first) into pkts[n..]. Returns the new
 * count; a read needing more room than is left goes to the carry buffer. */
static int split_read(struct tun_queue *q, uint8_t *in, size_t len, uint8_t *const pkts[],
		      size_t cap, size_t lens[], int n, int count)
{
	int need = offload_segments(in, len), made;

	if (need < 0 || need > count) {
		stats_drop(q->stats, DROP_BAD_OFFLOAD, 1);
		return n;
	}
	if (need > count - n) {
		memcpy(q->carry, in, len);
		q->carry_len = len;
		return n;
	}
	made = offload_split(in, len, pkts + n, (size_t)(count - n), cap, lens + n);
	if (made < 0) {
		stats_drop(q->stats, DROP_BAD_OFFLOAD, 1);
		return n;
	}
	return n + made;
}

static int read_offloaded(struct tun_queue *q, uint8_t *const pkts[], size_t cap, size_t lens[],
			  int count)
{
	int n = 0;

	if (q->carry_len) {
		size_t len = q->carry_len;

		q->carry_len = 0;
		memcpy(pkts[0] - OFFLOAD_VNET_HDR_LEN, q->carry, len);
		n = split_read(q, pkts[0] - OFFLOAD_VNET_HDR_LEN, len, pkts, cap, lens, 0, count);
	}
	while (n < count && !q->carry_len) {
		uint8_t *in = pkts[n] - OFFLOAD_VNET_HDR_LEN;
		ssize_t len = read(q->fd, in, cap + OFFLOAD_VNET_HDR_LEN);

		if (len < 0) {
			read_failed(q);
			break;
		}
		n = split_read(q, in, (size_t)len, pkts, cap, lens, n, count);
	}
	return n;
}

int tun_read_batch(struct tun_queue *q, uint8_t *const pkts[], size_t cap, size_t lens[],
		   int count)
{
	int n = 0;

	if (q->vnet_hdr)
		return read_offloaded(q, pkts, cap, lens, count);
	while (n < count) {
		ssize_t len = read(q->fd, pkts[n], cap);

		if (len < 0) {
			read_failed(q);
			break;
		}
		lens[n++] = (size_t)len;
	}
	return n;
}

void tun_write_batch(struct tun_queue *q, uint8_t *const pkts[], const size_t lens[], int count)
{
	int writes;

	if (!q->vnet_hdr) {
		for (int i = 0; i < count; i++)
			if (write(q->fd, pkts[i], lens[i]) < 0)
				stats_drop(q->stats, DROP_TUN_WRITE, 1);
		return;
	}
	writes = offload_coalesce(&q->gro, pkts, lens, (size_t)count, (unsigned int)q->gro_flags);
	for (int i = 0; i < writes; i++) {
		const struct offload_write *wr = &q->gro.writes[i];

		if (writev(q->fd, wr->iov, wr->iovcnt) < 0) {
			stats_drop(q->stats, DROP_TUN_WRITE, wr->count);
			log_ratelimited(LOGL_DEBUG, loop_clock_ns(), "TUN write: %s", strerror(errno));
		}
	}
}
