/* Intrusive chained hash table: peers by public key, sessions by receiver index. */
#ifndef MYVPN_HASHTABLE_H
#define MYVPN_HASHTABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * The table stores nodes embedded in the caller's structs and never allocates or frees them;
 * it only owns its bucket array. The caller computes each node's hash (ht_hash_key, keyed with
 * a secret so that remote parties cannot aim for one chain) and compares its own keys while
 * walking ht_first/ht_next, since two keys may share a hash.
 *
 * Lookups (ht_first, ht_next) write nothing, so several readers may run under a read lock;
 * ht_insert, ht_remove and ht_remove_if need the write lock. Buckets double when the load
 * passes 1 and never shrink.
 */

enum { HT_KEY_BYTES = 16 };

struct ht_node {
	struct ht_node *next;
	uint64_t hash;
};

struct hashtable {
	struct ht_node **buckets;
	size_t bucket_count; /* a power of two */
	size_t count;
};

/* The struct holding node, as container_of. */
#define ht_entry(node, type, member) ((type *)((char *)(node) - offsetof(type, member)))

/* initial_buckets is rounded up to a power of two (at least 1). 0 or -ENOMEM. */
int ht_init(struct hashtable *t, size_t initial_buckets);
/* Frees the buckets, not the nodes; the table is zeroed. Safe on a zeroed table. */
void ht_free(struct hashtable *t);

/*
 * Cannot fail: growth is best effort, and when the bigger bucket array cannot be allocated
 * the node goes into the current one, whose chains only get longer. n must not be in a table.
 */
void ht_insert(struct hashtable *t, struct ht_node *n, uint64_t hash);
/* O(chain). n must be in t: removing a stranger aborts. */
void ht_remove(struct hashtable *t, struct ht_node *n);
/*
 * Unlinks every node for which fn returns true and returns how many. fn may free a node for
 * which it returns true: the table does not touch it after the call.
 */
size_t ht_remove_if(struct hashtable *t, bool (*fn)(struct ht_node *n, void *ctx), void *ctx);

/* First node with this hash, or NULL. */
struct ht_node *ht_first(const struct hashtable *t, uint64_t hash);
/* Next node with the same hash as n, or NULL. */
struct ht_node *ht_next(const struct ht_node *n);

/* SipHash-2-4 (libsodium's crypto_shorthash) of data under secret. */
uint64_t ht_hash_key(const uint8_t secret[HT_KEY_BYTES], const void *data, size_t len);

#endif
