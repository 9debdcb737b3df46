/* Cryptokey routing table: longest-prefix match from IPv4/IPv6 prefixes to an owner. */
#include "allowedips.h"

#include <errno.h>
#include <stdbool.h>
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
 */
struct allowedips_node {
	struct allowedips_node *child[2];
	void *owner;
	uint64_t seq; /* when this prefix was given to its owner: listings keep that order */
	uint8_t cidr;
	uint8_t key[16];
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

static struct allowedips_node *new_node(const uint8_t *key, uint8_t cidr,
					void *owner, uint64_t seq)
{
	struct allowedips_node *n = calloc(1, sizeof(*n));

	if (!n)
		return NULL;
	memcpy(n->key, key, sizeof(n->key));
	n->cidr = cidr;
	n->owner = owner;
	n->seq = seq;
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
	t->next_seq = 0;
}

void allowedips_free(struct allowedips *t)
{
	free_tree(t->root4);
	free_tree(t->root6);
	allowedips_init(t);
}

/*
 * Hangs a new node for key/cidr where *slot (old) diverges from it at bit
 * common: under a fresh join node, or above old when key/cidr contains it.
 */
static int split(struct allowedips_node **slot, const uint8_t *key,
		 uint8_t cidr, void *owner, uint64_t seq, unsigned int common)
{
	struct allowedips_node *old = *slot, *leaf, *join;
	uint8_t join_key[16];

	leaf = new_node(key, cidr, owner, seq);
	if (!leaf)
		return -ENOMEM;
	if (common == cidr) {
		leaf->child[bit_at(old->key, cidr)] = old;
		*slot = leaf;
		return 0;
	}
	mask_prefix(join_key, key, common);
	join = new_node(join_key, (uint8_t)common, NULL, 0);
	if (!join) {
		free(leaf);
		return -ENOMEM;
	}
	join->child[bit_at(key, common)] = leaf;
	join->child[bit_at(old->key, common)] = old;
	*slot = join;
	return 0;
}

static int insert_masked(struct allowedips_node **slot, const uint8_t *key,
			 uint8_t cidr, void *owner, uint64_t seq)
{
	unsigned int from = 0;

	for (;;) {
		struct allowedips_node *n = *slot;
		unsigned int limit, common;

		if (!n) {
			*slot = new_node(key, cidr, owner, seq);
			return *slot ? 0 : -ENOMEM;
		}
		limit = n->cidr < cidr ? n->cidr : cidr;
		common = common_bits(n->key, key, from, limit);
		if (common < n->cidr)
			return split(slot, key, cidr, owner, seq, common);
		if (n->cidr == cidr) {
			/* Same prefix: this is how ownership moves. A join
			 * node that becomes a prefix, or a move, takes the new
			 * place in the listing order; a repeat keeps its own. */
			if (n->owner != owner)
				n->seq = seq;
			n->owner = owner;
			return 0;
		}
		from = n->cidr;
		slot = &n->child[bit_at(key, n->cidr)];
	}
}

int allowedips_insert(struct allowedips *t, int family, const void *addr,
		      uint8_t cidr, void *owner)
{
	unsigned int bits = family_bits(family);
	uint8_t key[16];

	if (!bits || cidr > bits || !owner)
		return -EINVAL;
	mask_prefix(key, addr, cidr);
	return insert_masked(root_of(t, family), key, cidr, owner, ++t->next_seq);
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

static int remove_masked(struct allowedips_node **slot, const uint8_t *key,
			 uint8_t cidr, unsigned int from)
{
	struct allowedips_node *n = *slot;
	int ret;

	if (!n || n->cidr > cidr ||
	    common_bits(n->key, key, from, n->cidr) < n->cidr)
		return -ENOENT;
	if (n->cidr == cidr) {
		if (!n->owner)
			return -ENOENT;
		n->owner = NULL;
		collapse(slot);
		return 0;
	}
	ret = remove_masked(&n->child[bit_at(key, n->cidr)], key, cidr,
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

	if (!bits || cidr > bits)
		return -EINVAL;
	mask_prefix(key, addr, cidr);
	return remove_masked(root_of(t, family), key, cidr, 0);
}

static size_t remove_owner(struct allowedips_node **slot, const void *owner)
{
	struct allowedips_node *n = *slot;
	size_t removed;

	if (!n)
		return 0;
	removed = remove_owner(&n->child[0], owner) +
		  remove_owner(&n->child[1], owner);
	if (n->owner == owner) {
		n->owner = NULL;
		removed++;
	}
	collapse(slot);
	return removed;
}

size_t allowedips_remove_by_owner(struct allowedips *t, const void *owner)
{
	/* NULL would match every join node and count them as prefixes. */
	if (!owner)
		return 0;
	return remove_owner(&t->root4, owner) + remove_owner(&t->root6, owner);
}

static int walk(const struct allowedips_node *n, int family,
		const void *owner,
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

int allowedips_walk_by_owner(const struct allowedips *t, const void *owner,
			     int (*fn)(void *ctx, int family, const void *addr,
				       uint8_t cidr),
			     void *ctx)
{
	int ret = walk(t->root4, AF_INET, owner, fn, ctx);

	if (ret)
		return ret;
	return walk(t->root6, AF_INET6, owner, fn, ctx);
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

struct ordered_entry {
	const struct allowedips_node *node;
	int family;
};

struct ordered_list {
	struct ordered_entry *items;
	size_t count, cap;
};

static int collect(const struct allowedips_node *n, int family, const void *owner,
		   struct ordered_list *list)
{
	if (!n)
		return 0;
	if (n->owner && n->owner == owner) {
		if (list->count == list->cap) {
			size_t cap = list->cap ? list->cap * 2 : 16;
			struct ordered_entry *items = realloc(list->items, cap * sizeof(*items));

			if (!items)
				return -ENOMEM;
			list->items = items;
			list->cap = cap;
		}
		list->items[list->count++] = (struct ordered_entry){ n, family };
	}
	if (collect(n->child[0], family, owner, list))
		return -ENOMEM;
	return collect(n->child[1], family, owner, list);
}

static int by_seq(const void *a, const void *b)
{
	uint64_t x = ((const struct ordered_entry *)a)->node->seq;
	uint64_t y = ((const struct ordered_entry *)b)->node->seq;

	return (x > y) - (x < y);
}

int allowedips_walk_by_owner_in_order(const struct allowedips *t, const void *owner,
				      int (*fn)(void *ctx, int family, const void *addr,
						uint8_t cidr),
				      void *ctx)
{
	struct ordered_list list = { 0 };
	int ret = collect(t->root4, AF_INET, owner, &list);

	if (!ret)
		ret = collect(t->root6, AF_INET6, owner, &list);
	if (!ret)
		qsort(list.items, list.count, sizeof(*list.items), by_seq);
	for (size_t i = 0; !ret && i < list.count; i++)
		ret = fn(ctx, list.items[i].family, list.items[i].node->key, list.items[i].node->cidr);
	free(list.items);
	return ret;
}
