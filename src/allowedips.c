/* Cryptokey routing table: longest-prefix match from IPv4/IPv6 prefixes to an owner. */
#include "allowedips.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

/*
 * Path-compressed binary trie. Each node stores a masked prefix (key/cidr);
 * a child's cidr is always longer than its parent's, and child[b] holds the
 * prefixes whose bit number parent->cidr is b. Nodes without an owner exist
 * only to join two subtrees, so they always have both children; insert and
 * removal keep that so the trie never holds more than 2n - 1 nodes for n
 * prefixes. Bit 0 is the most significant bit of byte 0.
 *
 * Every owned node is also on its owner's list (prev/next), in the order
 * the prefixes were given to that owner, as the Linux module keeps a
 * per-peer list of its nodes. The owner map finds a list from the owner
 * pointer, so removing or listing one peer never scans the other peers'
 * prefixes.
 */
struct allowedips_node {
	struct allowedips_node *child[2];
	void *owner;
	struct allowedips_node *prev, *next; /* owner's list; unused while ownerless */
	uint8_t family; /* of an owned node: which trie to descend to remove it */
	uint8_t cidr;
	uint8_t key[16];
};

/* One owner's list, a slot of the owner map. */
struct allowedips_owner {
	const void *owner;
	struct allowedips_node *first, *last;
	size_t count;
};

enum { V4_BITS = 32, V6_BITS = 128 };

/* Header offsets used by the packet lookups. */
enum {
	IPV4_HDR_LEN = 20, IPV4_SRC = 12, IPV4_DST = 16,
	IPV6_HDR_LEN = 40, IPV6_SRC = 8, IPV6_DST = 24,
};

static unsigned int family_bits(int family)
{
	if (family == AF_INET)
		return V4_BITS;
	if (family == AF_INET6)
		return V6_BITS;
	return 0;
}

static struct allowedips_node **root_of(struct allowedips *t, int family)
{
	return family == AF_INET ? &t->root4 : &t->root6;
}

static unsigned int bit_at(const uint8_t *a, unsigned int i)
{
	return (a[i / 8] >> (7 - i % 8)) & 1;
}

/* Copies only the bytes the prefix covers: an IPv4 addr has just 4. */
static void mask_prefix(uint8_t *out, const uint8_t *in, unsigned int cidr)
{
	memset(out, 0, 16);
	memcpy(out, in, (cidr + 7) / 8);
	if (cidr % 8)
		out[cidr / 8] &= (uint8_t)(0xff << (8 - cidr % 8));
}

/*
 * Number of leading bits a and b share, capped at limit. Bits before from
 * are known equal already (an ancestor matched them), which keeps a walk
 * down the trie O(address bits) overall.
 */
static unsigned int common_bits(const uint8_t *a, const uint8_t *b,
				unsigned int from, unsigned int limit)
{
	for (unsigned int i = from / 8; i * 8 < limit; i++) {
		unsigned int x = a[i] ^ b[i];

		if (x) {
			/* x is a non-zero byte held in a 32-bit int. */
			unsigned int n = i * 8 + (unsigned int)__builtin_clz(x) - 24;

			return n < limit ? n : limit;
		}
	}
	return limit;
}

/*
 * Owner map: open addressing with linear probing, at most half full, keyed
 * by the owner pointer. Deleting shifts later entries of the probe run back
 * instead of leaving tombstones, so churn of peers never slows it down.
 */
enum { OWNERS_MIN_CAP = 16 };

static size_t owner_home(const void *owner, size_t cap)
{
	/* splitmix64's finalizer: peers allocated side by side spread out. */
	uint64_t h = (uint64_t)(uintptr_t)owner;

	h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
	h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
	return (size_t)(h ^ (h >> 31)) & (cap - 1);
}

/* The slot holding owner, or the free slot where it would go. */
static struct allowedips_owner *owner_slot(struct allowedips_owner *slots,
					   size_t cap, const void *owner)
{
	size_t i = owner_home(owner, cap);

	while (slots[i].owner && slots[i].owner != owner)
		i = (i + 1) & (cap - 1);
	return &slots[i];
}

static struct allowedips_owner *owner_find(const struct allowedips *t,
					   const void *owner)
{
	struct allowedips_owner *o;

	if (!owner || !t->owners_cap)
		return NULL;
	o = owner_slot(t->owners, t->owners_cap, owner);
	return o->owner ? o : NULL;
}

/* Makes room for one more owner, so that owner_get cannot fail later. */
static int owners_reserve(struct allowedips *t)
{
	size_t cap = t->owners_cap ? t->owners_cap * 2 : OWNERS_MIN_CAP;
	struct allowedips_owner *slots;

	if ((t->owners_used + 1) * 2 <= t->owners_cap)
		return 0;
	slots = calloc(cap, sizeof(*slots));
	if (!slots)
		return -ENOMEM;
	for (size_t i = 0; i < t->owners_cap; i++)
		if (t->owners[i].owner)
			*owner_slot(slots, cap, t->owners[i].owner) = t->owners[i];
	free(t->owners);
	t->owners = slots;
	t->owners_cap = cap;
	return 0;
}

/* Finds or adds owner's list; owners_reserve must have run first. */
static struct allowedips_owner *owner_get(struct allowedips *t, const void *owner)
{
	struct allowedips_owner *o = owner_slot(t->owners, t->owners_cap, owner);

	if (!o->owner) {
		o->owner = owner;
		t->owners_used++;
	}
	return o;
}

static void owner_delete(struct allowedips *t, struct allowedips_owner *o)
{
	size_t mask = t->owners_cap - 1, hole = (size_t)(o - t->owners), j;

	/* An entry may fill the hole if the hole lies between its home slot
	 * and where it sits; otherwise a probe from its home would stop at
	 * the hole and miss it. */
	for (j = (hole + 1) & mask; t->owners[j].owner; j = (j + 1) & mask) {
		size_t home = owner_home(t->owners[j].owner, t->owners_cap);

		if (((j - home) & mask) >= ((j - hole) & mask)) {
			t->owners[hole] = t->owners[j];
			hole = j;
		}
	}
	t->owners[hole] = (struct allowedips_owner){ 0 };
	t->owners_used--;
}

/* An empty table holds no memory. Called once a removal is complete: a move
 * empties the map for a moment, in the middle of an insert. */
static void owners_release_if_empty(struct allowedips *t)
{
	if (t->owners_used)
		return;
	free(t->owners);
	t->owners = NULL;
	t->owners_cap = 0;
}

/* Gives n to owner, at the end of owner's list. */
static void list_append(struct allowedips_owner *o, struct allowedips_node *n)
{
	n->prev = o->last;
	n->next = NULL;
	if (o->last)
		o->last->next = n;
	else
		o->first = n;
	o->last = n;
	o->count++;
}

/* Takes n away from its owner; an owner left with nothing leaves the map. */
static void disown(struct allowedips *t, struct allowedips_node *n)
{
	struct allowedips_owner *o = owner_find(t, n->owner);

	if (!o) {
		fprintf(stderr, "allowedips: owned node missing from owner map\n");
		abort();
	}
	if (n->prev)
		n->prev->next = n->next;
	else
		o->first = n->next;
	if (n->next)
		n->next->prev = n->prev;
	else
		o->last = n->prev;
	n->prev = n->next = NULL;
	n->owner = NULL;
	if (--o->count == 0)
		owner_delete(t, o);
}

static void give(struct allowedips *t, struct allowedips_node *n, int family,
		 void *owner)
{
	/* A repeat keeps its place in the owner's listing order. */
	if (n->owner == owner)
		return;
	if (n->owner)
		disown(t, n);
	n->owner = owner;
	n->family = (uint8_t)family;
	list_append(owner_get(t, owner), n);
}

static struct allowedips_node *new_node(const uint8_t *key, uint8_t cidr)
{
	struct allowedips_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	memcpy(n->key, key, sizeof(n->key));
	n->cidr = cidr;
	return n;
}

static void free_tree(struct allowedips_node *n)
{
	if (!n)
		return;
	free_tree(n->child[0]);
	free_tree(n->child[1]);
	free(n);
}

void allowedips_init(struct allowedips *t)
{
	t->root4 = NULL;
	t->root6 = NULL;
	t->owners = NULL;
	t->owners_cap = 0;
	t->owners_used = 0;
}

void allowedips_free(struct allowedips *t)
{
	free_tree(t->root4);
	free_tree(t->root6);
	free(t->owners);
	allowedips_init(t);
}

/*
 * Hangs a new node for key/cidr where *slot (old) diverges from it at bit
 * common: under a fresh join node, or above old when key/cidr contains it.
 * Returns the new node, or NULL with the trie unchanged.
 */
static struct allowedips_node *split(struct allowedips_node **slot,
				     const uint8_t *key, uint8_t cidr,
				     unsigned int common)
{
	struct allowedips_node *old = *slot, *leaf, *join;
	uint8_t join_key[16];

	leaf = new_node(key, cidr);
	if (!leaf)
		return NULL;
	if (common == cidr) {
		leaf->child[bit_at(old->key, cidr)] = old;
		*slot = leaf;
		return leaf;
	}
	mask_prefix(join_key, key, common);
	join = new_node(join_key, (uint8_t)common);
	if (!join) {
		free(leaf);
		return NULL;
	}
	join->child[bit_at(key, common)] = leaf;
	join->child[bit_at(old->key, common)] = old;
	*slot = join;
	return leaf;
}

/*
 * The node for key/cidr, made if missing (then still ownerless: the caller
 * gives it an owner before anyone can see it). NULL only for -ENOMEM.
 */
static struct allowedips_node *find_or_add(struct allowedips_node **slot,
					   const uint8_t *key, uint8_t cidr)
{
	unsigned int from = 0;

	for (;;) {
		struct allowedips_node *n = *slot;
		unsigned int limit, common;

		if (!n) {
			*slot = new_node(key, cidr);
			return *slot;
		}
		limit = n->cidr < cidr ? n->cidr : cidr;
		common = common_bits(n->key, key, from, limit);
		if (common < n->cidr)
			return split(slot, key, cidr, common);
		if (n->cidr == cidr)
			return n;
		from = n->cidr;
		slot = &n->child[bit_at(key, n->cidr)];
	}
}

int allowedips_insert(struct allowedips *t, int family, const void *addr,
		      uint8_t cidr, void *owner)
{
	unsigned int bits = family_bits(family);
	struct allowedips_node *n;
	uint8_t key[16];

	if (!bits || cidr > bits || !owner)
		return -EINVAL;
	/* Both allocations come before any change, so -ENOMEM leaves the
	 * table as it was. */
	if (owners_reserve(t))
		return -ENOMEM;
	mask_prefix(key, addr, cidr);
	n = find_or_add(root_of(t, family), key, cidr);
	if (!n) {
		owners_release_if_empty(t);
		return -ENOMEM;
	}
	give(t, n, family, owner);
	return 0;
}

void *allowedips_lookup(const struct allowedips *t, int family,
			const void *addr)
{
	const struct allowedips_node *n;
	unsigned int bits = family_bits(family), from = 0;
	void *best = NULL;

	if (!bits)
		return NULL;
	n = family == AF_INET ? t->root4 : t->root6;
	while (n && common_bits(n->key, addr, from, n->cidr) == n->cidr) {
		if (n->owner)
			best = n->owner;
		if (n->cidr == bits)
			break;
		from = n->cidr;
		n = n->child[bit_at(addr, n->cidr)];
	}
	return best;
}

/* Restores the invariant at *slot: an ownerless node needs two children. */
static void collapse(struct allowedips_node **slot)
{
	struct allowedips_node *n = *slot;

	if (!n || n->owner || (n->child[0] && n->child[1]))
		return;
	*slot = n->child[0] ? n->child[0] : n->child[1];
	free(n);
}

static int remove_masked(struct allowedips *t, struct allowedips_node **slot,
			 const uint8_t *key, uint8_t cidr, unsigned int from)
{
	struct allowedips_node *n = *slot;
	int ret;

	if (!n || n->cidr > cidr ||
	    common_bits(n->key, key, from, n->cidr) < n->cidr)
		return -ENOENT;
	if (n->cidr == cidr) {
		if (!n->owner)
			return -ENOENT;
		disown(t, n);
		collapse(slot);
		return 0;
	}
	ret = remove_masked(t, &n->child[bit_at(key, n->cidr)], key, cidr,
			    n->cidr);
	if (!ret)
		collapse(slot);
	return ret;
}

int allowedips_remove(struct allowedips *t, int family, const void *addr,
		      uint8_t cidr)
{
	unsigned int bits = family_bits(family);
	uint8_t key[16];
	int ret;

	if (!bits || cidr > bits)
		return -EINVAL;
	mask_prefix(key, addr, cidr);
	ret = remove_masked(t, root_of(t, family), key, cidr, 0);
	owners_release_if_empty(t);
	return ret;
}

size_t allowedips_remove_by_owner(struct allowedips *t, const void *owner)
{
	struct allowedips_owner *o = owner_find(t, owner);
	struct allowedips_node *n, *next;
	size_t removed = 0;

	/* Each removal descends from the root again, which is what lets the
	 * join nodes above it collapse; the last one drops o from the map. */
	for (n = o ? o->first : NULL; n; n = next) {
		uint8_t key[16];

		next = n->next;
		memcpy(key, n->key, sizeof(key));
		if (remove_masked(t, root_of(t, n->family), key, n->cidr, 0)) {
			fprintf(stderr, "allowedips: listed prefix missing from trie\n");
			abort();
		}
		removed++;
	}
	owners_release_if_empty(t);
	return removed;
}

/* Trie preorder over the prefixes of owner, or of everyone for NULL. */
static int walk(const struct allowedips_node *n, int family, const void *owner,
		int (*fn)(void *, int, const void *, uint8_t), void *ctx)
{
	int ret;

	if (!n)
		return 0;
	if (n->owner && (!owner || n->owner == owner)) {
		ret = fn(ctx, family, n->key, n->cidr);
		if (ret)
			return ret;
	}
	ret = walk(n->child[0], family, owner, fn, ctx);
	if (ret)
		return ret;
	return walk(n->child[1], family, owner, fn, ctx);
}

static int walk_tries(const struct allowedips *t, const void *owner,
		      int (*fn)(void *, int, const void *, uint8_t), void *ctx)
{
	int ret = walk(t->root4, AF_INET, owner, fn, ctx);

	if (ret)
		return ret;
	return walk(t->root6, AF_INET6, owner, fn, ctx);
}

/* Trie preorder, as bytes: v4 first, then key, then the shorter prefix. */
static int trie_order(const void *a, const void *b)
{
	const struct allowedips_node *x = *(const struct allowedips_node *const *)a;
	const struct allowedips_node *y = *(const struct allowedips_node *const *)b;
	int c = (x->family == AF_INET6) - (y->family == AF_INET6);

	if (!c)
		c = memcmp(x->key, y->key, sizeof(x->key));
	return c ? c : x->cidr - y->cidr;
}

/* An owner's list sorted into trie order; falls back to a full walk, which
 * gives the same calls, when there is no memory to sort in. */
static int walk_owner_sorted(const struct allowedips *t,
			     const struct allowedips_owner *o,
			     int (*fn)(void *, int, const void *, uint8_t),
			     void *ctx)
{
	const struct allowedips_node **v = malloc(o->count * sizeof(*v));
	const struct allowedips_node *n;
	size_t i = 0;
	int ret = 0;

	if (!v)
		return walk_tries(t, o->owner, fn, ctx);
	for (n = o->first; n; n = n->next)
		v[i++] = n;
	qsort(v, o->count, sizeof(*v), trie_order);
	for (i = 0; !ret && i < o->count; i++)
		ret = fn(ctx, v[i]->family, v[i]->key, v[i]->cidr);
	free(v);
	return ret;
}

int allowedips_walk_by_owner(const struct allowedips *t, const void *owner,
			     int (*fn)(void *ctx, int family, const void *addr,
				       uint8_t cidr),
			     void *ctx)
{
	const struct allowedips_owner *o;

	if (!owner)
		return walk_tries(t, NULL, fn, ctx);
	o = owner_find(t, owner);
	return o ? walk_owner_sorted(t, o, fn, ctx) : 0;
}

static void *lookup_packet(const struct allowedips *t, const uint8_t *pkt,
			   size_t len, size_t off4, size_t off6)
{
	if (len < 1)
		return NULL;
	switch (pkt[0] >> 4) {
	case 4:
		if (len < IPV4_HDR_LEN)
			return NULL;
		return allowedips_lookup(t, AF_INET, pkt + off4);
	case 6:
		if (len < IPV6_HDR_LEN)
			return NULL;
		return allowedips_lookup(t, AF_INET6, pkt + off6);
	default:
		return NULL;
	}
}

void *allowedips_lookup_packet_dst(const struct allowedips *t,
				   const uint8_t *pkt, size_t len)
{
	return lookup_packet(t, pkt, len, IPV4_DST, IPV6_DST);
}

void *allowedips_lookup_packet_src(const struct allowedips *t,
				   const uint8_t *pkt, size_t len)
{
	return lookup_packet(t, pkt, len, IPV4_SRC, IPV6_SRC);
}

int allowedips_walk_by_owner_in_order(const struct allowedips *t, const void *owner,
				      int (*fn)(void *ctx, int family, const void *addr,
						uint8_t cidr),
				      void *ctx)
{
	const struct allowedips_owner *o = owner_find(t, owner);

	for (const struct allowedips_node *n = o ? o->first : NULL; n; n = n->next) {
		int ret = fn(ctx, n->family, n->key, n->cidr);

		if (ret)
			return ret;
	}
	return 0;
}
