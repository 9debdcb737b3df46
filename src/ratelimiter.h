/* Per-source token buckets that limit handshake messages, as the Linux module's ratelimiter. */
#ifndef MYVPN_RATELIMITER_H
#define MYVPN_RATELIMITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "hashtable.h"

/*
 * Each source holds a bucket of up to `burst` packets that refills at `packets_per_second`.
 * A source is an IPv4 address, or the /64 of an IPv6 address (one host usually owns a whole
 * /64, so finer keys would let it fill the table alone); an IPv4-mapped IPv6 address counts
 * as its IPv4 address. A bucket idle long enough to be full again is dropped, at most once a
 * second, by the next ratelimiter_allow. When max_entries sources are tracked, new ones are
 * refused until that collection frees room.
 *
 * All memory is reserved by ratelimiter_init, so ratelimiter_allow never allocates. Not
 * thread-safe: the caller holds one lock around every call.
 */

enum ratelimiter_defaults {
	RATELIMITER_PACKETS_PER_SECOND = 20,
	RATELIMITER_BURST = 5,
	/* The Linux module's largest table. Reserved but untouched until used: a few pages
	 * in normal use, 3.5 MiB when an attack fills it. */
	RATELIMITER_MAX_ENTRIES = 65536,
};

struct ratelimiter_entry;

struct ratelimiter {
	struct hashtable table;
	uint8_t secret[HT_KEY_BYTES];	 /* random: sources cannot be picked to collide */
	struct ratelimiter_entry *pool;	 /* max_entries of them */
	struct ht_node *free_list;	 /* entries the collection returned */
	size_t pool_used, max_entries;	 /* pool[pool_used..] have never been used */
	uint64_t packet_cost_ns, bucket_ns; /* tokens are nanoseconds of credit */
	uint64_t idle_ns;		 /* an entry idle this long is full, and dropped */
	uint64_t next_gc_ns;
};

/* 0, -EINVAL (a zero or absurd rate, burst or bound) or -ENOMEM. */
int ratelimiter_init(struct ratelimiter *r, uint64_t packets_per_second, uint64_t burst,
		     size_t max_entries);
/* Frees everything and wipes the secret. Safe on a zeroed ratelimiter. */
void ratelimiter_free(struct ratelimiter *r);

/*
 * Whether one more handshake message from src may be processed at now_ns (a monotonic
 * clock). Sources of other families are refused.
 */
bool ratelimiter_allow(struct ratelimiter *r, const struct sockaddr *src, uint64_t now_ns);

/* Sources tracked now. */
size_t ratelimiter_count(const struct ratelimiter *r);

#endif
