/* Unit tests for the intrusive hash table: 200,000 entries, equal hashes, every removal spot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "hashtable.h"

#include <stdlib.h>
#include <string.h>

enum { MANY = 200000 };
#define STRANGER (42 + (1 << 20))

struct item {
	uint32_t key;
	struct ht_node node;
};

static const uint8_t secret[HT_KEY_BYTES] = { 7, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };

static uint64_t hash_of(uint32_t key)
{
	return ht_hash_key(secret, &key, sizeof(key));
}

/* The caller's half of a lookup: walk the nodes with the key's hash and compare keys. */
static struct item *lookup(const struct hashtable *t, uint32_t key)
{
	for (struct ht_node *n = ht_first(t, hash_of(key)); n; n = ht_next(n)) {
		struct item *it = ht_entry(n, struct item, node);

		if (it->key == key)
			return it;
	}
	return NULL;
}

static void many_entries(void **state)
{
	struct item *items = calloc(MANY, sizeof(*items));
	struct hashtable t;

	assert_non_null(items);
	assert_int_equal(ht_init(&t, 1), 0); /* one bucket: every entry comes by growing */
	for (uint32_t i = 0; i < MANY; i++) {
		items[i].key = i;
		ht_insert(&t, &items[i].node, hash_of(i));
	}
	assert_int_equal(t.count, MANY);
	assert_true(t.bucket_count >= MANY && t.bucket_count < 2 * MANY);
	for (uint32_t i = 0; i < MANY; i++)
		assert_ptr_equal(lookup(&t, i), &items[i]);
	assert_null(lookup(&t, MANY));
	for (uint32_t i = 1; i < MANY; i += 2)
		ht_remove(&t, &items[i].node);
	assert_int_equal(t.count, MANY / 2);
	for (uint32_t i = 0; i < MANY; i++)
		assert_ptr_equal(lookup(&t, i), i % 2 ? NULL : &items[i]);
	for (uint32_t i = 0; i < MANY; i += 2)
		ht_remove(&t, &items[i].node);
	assert_int_equal(t.count, 0);
	assert_null(lookup(&t, 0));
	ht_free(&t);
	free(items);
}

static void init_rounds_up(void **state)
{
	static const struct {
		size_t asked, got;
	} cases[] = { { 0, 1 }, { 1, 1 }, { 2, 2 }, { 3, 4 }, { 1000, 1024 }, { 1024, 1024 } };
	struct hashtable t;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(ht_init(&t, cases[i].asked), 0);
		assert_int_equal(t.bucket_count, cases[i].got);
		assert_int_equal(t.count, 0);
		ht_free(&t);
	}
}

/* Growth doubles at load 1 and rehashes every entry, including chains of equal hashes. */
static void growth_keeps_entries(void **state)
{
	struct item items[1000];
	struct hashtable t;

	assert_int_equal(ht_init(&t, 4), 0);
	for (uint32_t i = 0; i < 1000; i++) {
		items[i].key = i;
		/* every tenth shares a hash with its neighbour */
		ht_insert(&t, &items[i].node, hash_of(i % 10 == 1 ? i - 1 : i));
		if (i == 4)
			assert_int_equal(t.bucket_count, 8);
	}
	assert_int_equal(t.bucket_count, 1024);
	for (uint32_t i = 0; i < 1000; i++) {
		uint64_t h = hash_of(i % 10 == 1 ? i - 1 : i);
		bool found = false;

		for (struct ht_node *n = ht_first(&t, h); n; n = ht_next(n))
			found |= n == &items[i].node;
		assert_true(found);
	}
	ht_free(&t);
}

/* Keys are in the chain's order; collect them to a string such as "abc". */
static void chain_is(const struct hashtable *t, uint64_t hash, const char *expected)
{
	char got[16] = "";
	size_t len = 0;

	for (struct ht_node *n = ht_first(t, hash); n && len < sizeof(got) - 1; n = ht_next(n))
		got[len++] = (char)ht_entry(n, struct item, node)->key;
	assert_string_equal(got, expected);
}

/*
 * Three nodes share hash 42, and a stranger's hash 42 + 2^20 lands in their bucket. Insertion
 * pushes at the head, so the chain reads c, b, a.
 */
static void equal_hashes_and_removal(void **state)
{
	static const struct {
		char removed;
		const char *left;
	} cases[] = {
		{ 'c', "ba" }, /* head */
		{ 'b', "ca" }, /* middle */
		{ 'a', "cb" }, /* tail */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct item items[4] = { { .key = 'a' }, { .key = 'x' }, { .key = 'b' }, { .key = 'c' } };
		struct hashtable t;

		assert_int_equal(ht_init(&t, 1), 0);
		ht_insert(&t, &items[0].node, 42);
		ht_insert(&t, &items[1].node, STRANGER);
		ht_insert(&t, &items[2].node, 42);
		ht_insert(&t, &items[3].node, 42);
		chain_is(&t, 42, "cba");
		chain_is(&t, STRANGER, "x");
		chain_is(&t, 44, "");
		ht_remove(&t, &items[cases[i].removed == 'a' ? 0 : cases[i].removed == 'b' ? 2 : 3].node);
		chain_is(&t, 42, cases[i].left);
		chain_is(&t, STRANGER, "x");
		assert_int_equal(t.count, 3);
		ht_free(&t);
	}
}

static bool remove_odd(struct ht_node *n, void *ctx)
{
	struct item *it = ht_entry(n, struct item, node);

	if (!(it->key % 2))
		return false;
	(*(size_t *)ctx)++;
	free(it); /* allowed: the table no longer touches a node it was told to drop */
	return true;
}

static void remove_if_may_free(void **state)
{
	struct hashtable t;
	size_t freed = 0;

	assert_int_equal(ht_init(&t, 2), 0);
	for (uint32_t i = 0; i < 500; i++) {
		struct item *it = calloc(1, sizeof(*it));

		assert_non_null(it);
		it->key = i;
		ht_insert(&t, &it->node, i < 100 ? 7 : hash_of(i)); /* a long chain, then spread */
	}
	assert_int_equal(ht_remove_if(&t, remove_odd, &freed), 250);
	assert_int_equal(freed, 250);
	assert_int_equal(t.count, 250);
	for (uint32_t i = 100; i < 500; i++)
		assert_true((lookup(&t, i) != NULL) == !(i % 2));
	for (size_t b = 0; b < t.bucket_count; b++)
		for (struct ht_node *n = t.buckets[b], *next; n; n = next) {
			next = n->next;
			free(ht_entry(n, struct item, node));
		}
	ht_free(&t);
}

static void free_empty_and_zeroed(void **state)
{
	struct hashtable t;

	assert_int_equal(ht_init(&t, 16), 0);
	ht_free(&t);
	assert_null(t.buckets);
	assert_int_equal(t.bucket_count, 0);
	ht_free(&t); /* twice, and on the zeroed table it leaves */
}

/* SipHash-2-4 vectors from the reference implementation (key 00..0f, message 00..len-1). */
static void hash_key_vectors(void **state)
{
	static const struct {
		size_t len;
		uint64_t hash;
	} cases[] = {
		{ 0, 0x726fdb47dd0e0e31ULL },
		{ 15, 0xa129ca6149be45e5ULL },
	};
	uint8_t key[HT_KEY_BYTES], msg[64], other[HT_KEY_BYTES];

	for (int i = 0; i < HT_KEY_BYTES; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		assert_int_equal(ht_hash_key(key, msg, cases[i].len), cases[i].hash);
	memcpy(other, key, sizeof(other));
	other[0] ^= 1;
	assert_int_not_equal(ht_hash_key(key, msg, 15), ht_hash_key(other, msg, 15));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(many_entries),
		cmocka_unit_test(init_rounds_up),
		cmocka_unit_test(growth_keeps_entries),
		cmocka_unit_test(equal_hashes_and_removal),
		cmocka_unit_test(remove_if_may_free),
		cmocka_unit_test(free_empty_and_zeroed),
		cmocka_unit_test(hash_key_vectors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
