/* libFuzzer harness: random edits of the allowed-IPs table, checked against a naive list.
 *
 * Input: a stream of 7-byte ops: kind (insert twice as often as remove or remove-by-owner),
 * owner (8 of them), family bit and cidr, and 4 address bytes that fill both ends of a v6
 * address so prefixes nest often. After every op, lookups of that address and each owner's
 * in-order listing must match the list; at the end, address-order walks must too. */
#include "allowedips.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

enum { OWNERS = 8, MAX_ENTRIES = 512, OP_BYTES = 7 };

struct entry {
	int family;
	uint8_t key[16], cidr;
	int owner;
	unsigned long seq; /* when the owner got it */
};

static struct entry ref[MAX_ENTRIES];
static size_t nref;
static unsigned long seq;
static char owner_slots[OWNERS];

static void check(bool ok)
{
	if (!ok)
		abort();
}

static void mask(uint8_t *out, const uint8_t *in, unsigned int cidr)
{
	for (unsigned int i = 0; i < 16; i++) {
		unsigned int keep = cidr > i * 8 ? cidr - i * 8 : 0;

		out[i] = keep >= 8 ? in[i] : (uint8_t)(in[i] & ~(0xff >> keep));
	}
}

static struct entry *ref_find(int family, const uint8_t *key, uint8_t cidr)
{
	for (size_t i = 0; i < nref; i++)
		if (ref[i].family == family && ref[i].cidr == cidr && !memcmp(ref[i].key, key, 16))
			return &ref[i];
	return NULL;
}

static void *ref_lookup(int family, const uint8_t *addr)
{
	int best = -1, best_cidr = -1;
	uint8_t m[16];

	for (size_t i = 0; i < nref; i++) {
		mask(m, addr, ref[i].cidr);
		if (ref[i].family == family && ref[i].cidr > best_cidr && !memcmp(m, ref[i].key, 16)) {
			best = ref[i].owner;
			best_cidr = ref[i].cidr;
		}
	}
	return best < 0 ? NULL : &owner_slots[best];
}

/* Expects the owner's prefixes in seq order (in_order) or address order. */
struct expect {
	const struct entry *want[MAX_ENTRIES];
	size_t n, seen;
};

static int cmp_seq(const void *a, const void *b)
{
	unsigned long x = (*(const struct entry *const *)a)->seq;
	unsigned long y = (*(const struct entry *const *)b)->seq;

	return (x > y) - (x < y);
}

static int cmp_addr(const void *a, const void *b)
{
	const struct entry *x = *(const struct entry *const *)a, *y = *(const struct entry *const *)b;
	int c = (x->family == AF_INET6) - (y->family == AF_INET6);

	if (!c)
		c = memcmp(x->key, y->key, 16);
	return c ? c : x->cidr - y->cidr;
}

static int expect_next(void *ctx, int family, const void *addr, uint8_t cidr)
{
	struct expect *e = ctx;
	const struct entry *w;

	check(e->seen < e->n);
	w = e->want[e->seen++];
	check(w->family == family && w->cidr == cidr &&
	      !memcmp(w->key, addr, family == AF_INET ? 4 : 16));
	return 0;
}

static void check_listing(const struct allowedips *t, int owner, bool in_order)
{
	static struct expect e;

	e.n = e.seen = 0;
	for (size_t i = 0; i < nref; i++)
		if (ref[i].owner == owner)
			e.want[e.n++] = &ref[i];
	qsort(e.want, e.n, sizeof(e.want[0]), in_order ? cmp_seq : cmp_addr);
	if (in_order)
		check(!allowedips_walk_by_owner_in_order(t, &owner_slots[owner], expect_next, &e));
	else
		check(!allowedips_walk_by_owner(t, &owner_slots[owner], expect_next, &e));
	check(e.seen == e.n);
}

static void apply(struct allowedips *t, const uint8_t *op)
{
	int owner = op[1] % OWNERS, family = op[2] & 0x80 ? AF_INET6 : AF_INET;
	uint8_t cidr = (uint8_t)((op[2] & 0x7f) % (family == AF_INET ? 33 : 129));
	uint8_t addr[16] = { op[3], op[4], op[5], op[6] }, key[16];
	struct entry *e;

	addr[12] = op[3];
	addr[15] = op[6];
	if (family == AF_INET)
		memset(addr + 4, 0, 12);
	mask(key, addr, cidr);
	e = ref_find(family, key, cidr);
	switch (op[0] % 4) {
	case 0:
	case 1:
		if (!e && nref == MAX_ENTRIES)
			return;
		check(!allowedips_insert(t, family, addr, cidr, &owner_slots[owner]));
		if (!e) {
			e = &ref[nref++];
			*e = (struct entry){ .family = family, .cidr = cidr, .owner = -1 };
			memcpy(e->key, key, 16);
		}
		if (e->owner != owner)
			e->seq = ++seq;
		e->owner = owner;
		break;
	case 2:
		check(allowedips_remove(t, family, addr, cidr) == (e ? 0 : -ENOENT));
		if (e)
			*e = ref[--nref];
		break;
	default: {
		size_t kept = 0, before = nref;

		for (size_t i = 0; i < nref; i++)
			if (ref[i].owner != owner)
				ref[kept++] = ref[i];
		nref = kept;
		check(allowedips_remove_by_owner(t, &owner_slots[owner]) == before - kept);
	}
	}
	check(allowedips_lookup(t, AF_INET, addr) == ref_lookup(AF_INET, addr));
	check(allowedips_lookup(t, AF_INET6, addr) == ref_lookup(AF_INET6, addr));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct allowedips t;

	nref = 0;
	seq = 0;
	allowedips_init(&t);
	for (; size >= OP_BYTES; data += OP_BYTES, size -= OP_BYTES) {
		apply(&t, data);
		for (int o = 0; o < OWNERS; o++)
			check_listing(&t, o, true);
	}
	for (int o = 0; o < OWNERS; o++)
		check_listing(&t, o, false);
	for (int o = 0; o < OWNERS; o++)
		allowedips_remove_by_owner(&t, &owner_slots[o]);
	check(!t.root4 && !t.root6 && !t.owners);
	allowedips_free(&t);
	return 0;
}
