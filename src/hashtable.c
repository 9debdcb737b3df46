/* Intrusive chained hash table: peers by public key, sessions by receiver index. */
#include "hashtable.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

_Static_assert(HT_KEY_BYTES == crypto_shorthash_KEYBYTES, "SipHash key size");
_Static_assert(sizeof(uint64_t) == crypto_shorthash_BYTES, "SipHash output size");

/* Past this, doubling the bucket array would overflow its size in bytes. */
#define MAX_BUCKETS (SIZE_MAX / 2 / sizeof(struct ht_node *))

/* SipHash output is uniform in every bit, so the low bits make a good index. */
static size_t bucket_of(size_t bucket_count, uint64_t hash)
{
	return (size_t)(hash & (bucket_count - 1));
}

int ht_init(struct hashtable *t, size_t initial_buckets)
{
	size_t n = 1;

	memset(t, 0, sizeof(*t));
	while (n < initial_buckets && n < MAX_BUCKETS)
		n *= 2;
	t->buckets = calloc(n, sizeof(*t->buckets));
	if (!t->buckets)
		return -ENOMEM;
	t->bucket_count = n;
	return 0;
}

void ht_free(struct hashtable *t)
{
	free(t->buckets);
	memset(t, 0, sizeof(*t));
}

static void link_node(struct ht_node **buckets, size_t bucket_count, struct ht_node *n)
{
	struct ht_node **head = &buckets[bucket_of(bucket_count, n->hash)];

	n->next = *head;
	*head = n;
}

/* Rehashes into twice the buckets; on allocation failure keeps the current ones. */
static void grow(struct hashtable *t)
{
	size_t new_count = t->bucket_count * 2;
	struct ht_node **fresh, *n, *next;

	if (t->bucket_count >= MAX_BUCKETS)
		return;
	fresh = calloc(new_count, sizeof(*fresh));
	if (!fresh)
		return;
	for (size_t i = 0; i < t->bucket_count; i++)
		for (n = t->buckets[i]; n; n = next) {
			next = n->next;
			link_node(fresh, new_count, n);
		}
	free(t->buckets);
	t->buckets = fresh;
	t->bucket_count = new_count;
}

void ht_insert(struct hashtable *t, struct ht_node *n, uint64_t hash)
{
	if (t->count >= t->bucket_count)
		grow(t);
	n->hash = hash;
	link_node(t->buckets, t->bucket_count, n);
	t->count++;
}

void ht_remove(struct hashtable *t, struct ht_node *n)
{
	struct ht_node **pp = &t->buckets[bucket_of(t->bucket_count, n->hash)];

	while (*pp && *pp != n)
		pp = &(*pp)->next;
	if (!*pp) {
		fprintf(stderr, "ht_remove: node %p is not in the table\n", (void *)n);
		abort();
	}
	*pp = n->next;
	n->next = NULL;
	t->count--;
}

size_t ht_remove_if(struct hashtable *t, bool (*fn)(struct ht_node *n, void *ctx), void *ctx)
{
	struct ht_node **pp, *n, *next;
	size_t removed = 0;

	for (size_t i = 0; i < t->bucket_count && t->count; i++) {
		pp = &t->buckets[i];
		while ((n = *pp) != NULL) {
			next = n->next; /* read first: fn may free n */
			if (fn(n, ctx)) {
				*pp = next;
				t->count--;
				removed++;
			} else {
				pp = &n->next;
			}
		}
	}
	return removed;
}

static struct ht_node *from(struct ht_node *n, uint64_t hash)
{
	while (n && n->hash != hash)
		n = n->next;
	return n;
}

struct ht_node *ht_first(const struct hashtable *t, uint64_t hash)
{
	return from(t->buckets[bucket_of(t->bucket_count, hash)], hash);
}

struct ht_node *ht_next(const struct ht_node *n)
{
	return from(n->next, n->hash);
}

uint64_t ht_hash_key(const uint8_t secret[HT_KEY_BYTES], const void *data, size_t len)
{
	unsigned char out[crypto_shorthash_BYTES];
	uint64_t hash = 0;

	crypto_shorthash(out, data, len, secret);
	/* little-endian, as SipHash's reference, so that its test vectors hold everywhere */
	for (int i = crypto_shorthash_BYTES - 1; i >= 0; i--)
		hash = hash << 8 | out[i];
	return hash;
}
