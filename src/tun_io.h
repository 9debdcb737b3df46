/* The TUN seam: read and write batches of IP packets on one queue of the TUN device.
 *
 * With offloads, every read and write carries a virtio-net header, a read may be a TCP or UDP
 * super-packet (split here into packets) and consecutive received segments of one flow are
 * coalesced here into one write. Callers see only IP packets. */
#ifndef MYVPN_TUN_IO_H
#define MYVPN_TUN_IO_H

#include "offload.h"
#include "stats.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct tun_queue {
	int fd;
	bool vnet_hdr;  /* reads and writes carry a virtio-net header */
	int gro_flags;  /* enum offload_gro_flags the kernel accepts on writes */
	bool gone;      /* the interface was deleted: nothing more will come */
	struct stats *stats;
	struct offload_gro gro;
	/* A read whose segments did not fit the rest of a batch waits here for the next one. */
	uint8_t *carry;
	size_t carry_len;
};

enum { TUN_IO_CARRY_SIZE = 65536 + OFFLOAD_VNET_HDR_LEN };

int tun_queue_init(struct tun_queue *q, int fd, bool vnet_hdr, int gro_flags, struct stats *stats);
void tun_queue_free(struct tun_queue *q);

/* Reads until the queue is empty or count packets are in: packet i is written at pkts[i] (room
 * for cap bytes, and OFFLOAD_VNET_HDR_LEN bytes before it that a read may use) and its length
 * in lens[i]. Never waits. Returns the number of packets; sets q->gone when the interface
 * disappeared. Malformed super-packets are dropped and counted. */
int tun_read_batch(struct tun_queue *q, uint8_t *const pkts[], size_t cap, size_t lens[],
		   int count);

/* Writes count IP packets (pkts may be rewritten in place while coalescing). Packets the
 * kernel refuses are counted under DROP_TUN_WRITE. */
void tun_write_batch(struct tun_queue *q, uint8_t *const pkts[], const size_t lens[], int count);

#endif
