/* Per-source token buckets that limit handshake messages, as the Linux module's ratelimiter. */
#include "ratelimiter.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

enum {
	NSEC_PER_SEC = 1000000000,
	GC_INTERVAL_NS = NSEC_PER_SEC,
	MAX_ENTRIES_LIMIT = 1 << 24, /* beyond any sensible table; keeps the sizes small */
	KEY_BYTES = 9,		     /* family, then 4 (IPv4) or 8 (IPv6 /64) address bytes */
};

struct ratelimiter_entry {
	struct ht_node node; /* node.next links the free list while unused */
	uint64_t last_ns;
	uint64_t tokens_ns;
	uint8_t key[KEY_BYTES];
};

int ratelimiter_init(struct ratelimiter *r, uint64_t packets_per_second, uint64_t burst,
		     size_t max_entries)
{
	int ret;

	memset(r, 0, sizeof(*r));
	if (!packets_per_second || packets_per_second > NSEC_PER_SEC || !burst || !max_entries ||
	    max_entries > MAX_ENTRIES_LIMIT || burst > UINT64_MAX / NSEC_PER_SEC)
		return -EINVAL;
	if (sodium_init() < 0)
		return -ENOMEM;
	/* as large as the bound, so that inserting never grows it: no allocation per packet */
	ret = ht_init(&r->table, max_entries);
	if (ret)
		return ret;
	/* calloc of this size maps zero pages: only the entries ever used take memory */
	r->pool = calloc(max_entries, sizeof(*r->pool));
	if (!r->pool) {
		ht_free(&r->table);
		return -ENOMEM;
	}
	randombytes_buf(r->secret, sizeof(r->secret));
	r->max_entries = max_entries;
	r->packet_cost_ns = NSEC_PER_SEC / packets_per_second;
	r->bucket_ns = r->packet_cost_ns * burst;
	/* after bucket_ns without packets a bucket is full, so forgetting it changes nothing */
	r->idle_ns = r->bucket_ns > GC_INTERVAL_NS ? r->bucket_ns : GC_INTERVAL_NS;
	return 0;
}

void ratelimiter_free(struct ratelimiter *r)
{
	ht_free(&r->table);
	free(r->pool);
	sodium_memzero(r, sizeof(*r));
}

size_t ratelimiter_count(const struct ratelimiter *r)
{
	return r->table.count;
}

/* The bytes that name src's bucket, zero-padded; false for a family we do not limit. */
static bool source_key(const struct sockaddr *src, uint8_t key[KEY_BYTES])
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)src;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)src;

	memset(key, 0, KEY_BYTES);
	if (src->sa_family == AF_INET) {
		key[0] = 4;
		memcpy(key + 1, &sin->sin_addr, 4);
		return true;
	}
	if (src->sa_family != AF_INET6)
		return false;
	if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		key[0] = 4;
		memcpy(key + 1, &sin6->sin6_addr.s6_addr[12], 4);
	} else {
		key[0] = 6;
		memcpy(key + 1, sin6->sin6_addr.s6_addr, 8);
	}
	return true;
}

struct gc_context {
	struct ratelimiter *r;
	uint64_t now_ns;
};

static bool collect_idle(struct ht_node *n, void *ctx)
{
	struct gc_context *gc = ctx;
	struct ratelimiter_entry *e = ht_entry(n, struct ratelimiter_entry, node);

	if (gc->now_ns < e->last_ns || gc->now_ns - e->last_ns < gc->r->idle_ns)
		return false;
	n->next = gc->r->free_list;
	gc->r->free_list = n;
	return true;
}

static void collect(struct ratelimiter *r, uint64_t now_ns)
{
	struct gc_context gc = { r, now_ns };

	if (now_ns < r->next_gc_ns)
		return;
	r->next_gc_ns = now_ns + GC_INTERVAL_NS;
	if (r->table.count)
		ht_remove_if(&r->table, collect_idle, &gc);
}

static struct ratelimiter_entry *find(const struct ratelimiter *r, const uint8_t *key,
				      uint64_t hash)
{
	for (struct ht_node *n = ht_first(&r->table, hash); n; n = ht_next(n)) {
		struct ratelimiter_entry *e = ht_entry(n, struct ratelimiter_entry, node);

		if (!memcmp(e->key, key, KEY_BYTES))
			return e;
	}
	return NULL;
}

/* An unused entry, or NULL when max_entries sources are tracked. */
static struct ratelimiter_entry *take_entry(struct ratelimiter *r)
{
	struct ht_node *n = r->free_list;

	if (n) {
		r->free_list = n->next;
		return ht_entry(n, struct ratelimiter_entry, node);
	}
	if (r->pool_used == r->max_entries)
		return NULL;
	return &r->pool[r->pool_used++];
}

/* A new source starts with a full bucket, of which this packet takes one. */
static bool add_source(struct ratelimiter *r, const uint8_t *key, uint64_t hash, uint64_t now_ns)
{
	struct ratelimiter_entry *e = take_entry(r);

	if (!e)
		return false;
	memcpy(e->key, key, KEY_BYTES);
	e->last_ns = now_ns;
	e->tokens_ns = r->bucket_ns - r->packet_cost_ns;
	ht_insert(&r->table, &e->node, hash);
	return true;
}

static bool take_token(const struct ratelimiter *r, struct ratelimiter_entry *e, uint64_t now_ns)
{
	if (now_ns > e->last_ns) {
		uint64_t elapsed = now_ns - e->last_ns;

		e->tokens_ns = elapsed >= r->bucket_ns - e->tokens_ns ? r->bucket_ns
								       : e->tokens_ns + elapsed;
		e->last_ns = now_ns;
	}
	if (e->tokens_ns < r->packet_cost_ns)
		return false;
	e->tokens_ns -= r->packet_cost_ns;
	return true;
}

bool ratelimiter_allow(struct ratelimiter *r, const struct sockaddr *src, uint64_t now_ns)
{
	uint8_t key[KEY_BYTES];
	struct ratelimiter_entry *e;
	uint64_t hash;

	if (!source_key(src, key))
		return false;
	collect(r, now_ns);
	hash = ht_hash_key(r->secret, key, sizeof(key));
	e = find(r, key, hash);
	return e ? take_token(r, e, now_ns) : add_source(r, key, hash, now_ns);
}
