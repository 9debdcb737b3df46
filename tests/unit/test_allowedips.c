/* Unit tests for the allowed-IPs tries: fixed tables and a randomized naive reference. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <cmocka.h>

#include "allowedips.h"

/* A sanitizer report fails the run instead of scrolling past a green result. */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1";
}

/* Distinct owner addresses; the table never dereferences them. */
enum { NUM_OWNERS = 32 };
static char owner_slots[NUM_OWNERS];
#define OWNER(i) ((void *)&owner_slots[(i)])
enum { A, B, C, D, E, F, G, H, NONE = -1 };

static void *owner_of(int idx)
{
	return idx == NONE ? NULL : OWNER(idx);
}

/* Addresses as four big-endian words, like the kernel selftest's ip6(). */
struct addr {
	uint8_t b[16];
};

static struct addr words(uint32_t w0, uint32_t w1, uint32_t w2, uint32_t w3)
{
	const uint32_t w[4] = { w0, w1, w2, w3 };
	struct addr a;

	for (int i = 0; i < 16; i++)
		a.b[i] = (uint8_t)(w[i / 4] >> (24 - 8 * (i % 4)));
	return a;
}

static struct addr ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	return words((uint32_t)a << 24 | (uint32_t)b << 16 | (uint32_t)c << 8 | d,
		     0, 0, 0);
}

#define ip6 words

/* One row: insert addr/cidr for owner, or expect lookup(addr) == owner. */
struct ai_row {
	enum { INS, LOOK, NOT } op;
	int family;
	uint32_t w[4];
	uint8_t cidr;
	int owner;
};

#define V4(a, b, c, d) AF_INET, { (uint32_t)(a) << 24 | (b) << 16 | (c) << 8 | (d) }
#define V6(a, b, c, d) AF_INET6, { (a), (b), (c), (d) }
#define INS4(o, a, b, c, d, cidr) { INS, V4(a, b, c, d), (cidr), (o) }
#define INS6(o, a, b, c, d, cidr) { INS, V6(a, b, c, d), (cidr), (o) }
#define LOOK4(o, a, b, c, d) { LOOK, V4(a, b, c, d), 0, (o) }
#define LOOK6(o, a, b, c, d) { LOOK, V6(a, b, c, d), 0, (o) }
#define NOT4(o, a, b, c, d) { NOT, V4(a, b, c, d), 0, (o) }

static void run_rows(struct allowedips *t, const struct ai_row *rows, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct ai_row *r = &rows[i];
		struct addr a = words(r->w[0], r->w[1], r->w[2], r->w[3]);
		void *got;

		if (r->op == INS) {
			assert_int_equal(allowedips_insert(t, r->family, a.b, r->cidr,
							   owner_of(r->owner)), 0);
			continue;
		}
		got = allowedips_lookup(t, r->family, a.b);
		if ((r->op == LOOK) != (got == owner_of(r->owner)))
			fail_msg("row %zu: lookup gave owner %td, %s %d", i + 1,
				 got ? (char *)got - owner_slots : -1,
				 r->op == LOOK ? "want" : "must not be", r->owner);
	}
}

#define RUN_ROWS(t, rows) run_rows((t), (rows), sizeof(rows) / sizeof((rows)[0]))

/* Ported from Linux drivers/net/wireguard/selftest/allowedips.c. */
static const struct ai_row kernel_rows[] = {
	INS4(A, 192, 168, 4, 0, 24),
	INS4(B, 192, 168, 4, 4, 32),
	INS4(C, 192, 168, 0, 0, 16),
	INS4(D, 192, 95, 5, 64, 27),
	/* Replaces the previous entry; needs host bits masked to notice. */
	INS4(C, 192, 95, 5, 65, 27),
	INS6(D, 0x26075300, 0x60006b00, 0, 0xc05f0543, 128),
	INS6(C, 0x26075300, 0x60006b00, 0, 0, 64),
	INS4(E, 0, 0, 0, 0, 0),
	INS6(E, 0, 0, 0, 0, 0),
	INS6(F, 0, 0, 0, 0, 0),
	INS6(G, 0x24046800, 0, 0, 0, 32),
	INS6(H, 0x24046800, 0x40040800, 0xdeadbeef, 0xdeadbeef, 64),
	INS6(A, 0x24046800, 0x40040800, 0xdeadbeef, 0xdeadbeef, 128),
	INS6(C, 0x24446800, 0x40e40800, 0xdeaebeef, 0xdefbeef, 128),
	INS6(B, 0x24446800, 0xf0e40800, 0xeeaebeef, 0, 98),
	INS4(G, 64, 15, 112, 0, 20),
	INS4(H, 64, 15, 123, 211, 25),
	INS4(A, 10, 0, 0, 0, 25),
	INS4(B, 10, 0, 0, 128, 25),
	INS4(A, 10, 1, 0, 0, 30),
	INS4(B, 10, 1, 0, 4, 30),
	INS4(C, 10, 1, 0, 8, 29),
	INS4(D, 10, 1, 0, 16, 29),

	LOOK4(A, 192, 168, 4, 20),
	LOOK4(A, 192, 168, 4, 0),
	LOOK4(B, 192, 168, 4, 4),
	LOOK4(C, 192, 168, 200, 182),
	LOOK4(C, 192, 95, 5, 68),
	LOOK4(E, 192, 95, 5, 96),
	LOOK6(D, 0x26075300, 0x60006b00, 0, 0xc05f0543),
	LOOK6(C, 0x26075300, 0x60006b00, 0, 0xc02e01ee),
	LOOK6(F, 0x26075300, 0x60006b01, 0, 0),
	LOOK6(G, 0x24046800, 0x40040806, 0, 0x1006),
	LOOK6(G, 0x24046800, 0x40040806, 0x1234, 0x5678),
	LOOK6(F, 0x240467ff, 0x40040806, 0x1234, 0x5678),
	LOOK6(F, 0x24046801, 0x40040806, 0x1234, 0x5678),
	LOOK6(H, 0x24046800, 0x40040800, 0x1234, 0x5678),
	LOOK6(H, 0x24046800, 0x40040800, 0, 0),
	LOOK6(H, 0x24046800, 0x40040800, 0x10101010, 0x10101010),
	LOOK6(A, 0x24046800, 0x40040800, 0xdeadbeef, 0xdeadbeef),
	LOOK4(G, 64, 15, 116, 26),
	LOOK4(G, 64, 15, 127, 3),
	LOOK4(G, 64, 15, 123, 1),
	LOOK4(H, 64, 15, 123, 128),
	LOOK4(H, 64, 15, 123, 129),
	LOOK4(A, 10, 0, 0, 52),
	LOOK4(B, 10, 0, 0, 220),
	LOOK4(A, 10, 1, 0, 2),
	LOOK4(B, 10, 1, 0, 6),
	LOOK4(C, 10, 1, 0, 10),
	LOOK4(D, 10, 1, 0, 20),

	/* Hosts spread over the top bits, then removed by owner below. */
	INS4(A, 1, 0, 0, 0, 32),
	INS4(A, 64, 0, 0, 0, 32),
	INS4(A, 128, 0, 0, 0, 32),
	INS4(A, 192, 0, 0, 0, 32),
	INS4(A, 255, 0, 0, 0, 32),
};

static const struct ai_row kernel_after_remove_a[] = {
	NOT4(A, 1, 0, 0, 0),
	NOT4(A, 64, 0, 0, 0),
	NOT4(A, 128, 0, 0, 0),
	NOT4(A, 192, 0, 0, 0),
	NOT4(A, 255, 0, 0, 0),
	/* Everything A owned falls back to the next owner up. */
	LOOK4(E, 1, 0, 0, 0),
	LOOK4(C, 192, 168, 4, 20),
	LOOK4(B, 192, 168, 4, 4),
	LOOK4(E, 10, 0, 0, 52),
	LOOK4(B, 10, 1, 0, 6),
	LOOK6(H, 0x24046800, 0x40040800, 0xdeadbeef, 0xdeadbeef),
	LOOK6(D, 0x26075300, 0x60006b00, 0, 0xc05f0543),
};

static void test_kernel_table(void **state)
{
	struct allowedips t;

	(void)state;
	allowedips_init(&t);
	RUN_ROWS(&t, kernel_rows);
	/* 6 from the table (one v6) plus the 5 hosts. */
	assert_int_equal(allowedips_remove_by_owner(&t, OWNER(A)), 9);
	RUN_ROWS(&t, kernel_after_remove_a);
	allowedips_free(&t);
	assert_null(t.root4);
	assert_null(t.root6);
}

static void test_kernel_nested_remove(void **state)
{
	static const struct ai_row rows[] = {
		INS4(A, 192, 168, 0, 0, 16),
		INS4(A, 192, 168, 0, 0, 24),
	};
	struct allowedips t;
	struct addr x = ip4(192, 168, 0, 1);

	(void)state;
	allowedips_init(&t);
	RUN_ROWS(&t, rows);
	assert_int_equal(allowedips_remove_by_owner(&t, OWNER(A)), 2);
	assert_null(allowedips_lookup(&t, AF_INET, x.b));
	assert_null(t.root4);
}

/* 128 hosts each differing from all-ones in one bit: a maximally deep v6 trie. */
static void test_kernel_deep_v6(void **state)
{
	struct allowedips t;

	(void)state;
	allowedips_init(&t);
	for (int i = 0; i < 128; i++) {
		struct addr a;

		memset(a.b, 0xff, 16);
		a.b[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
		assert_int_equal(allowedips_insert(&t, AF_INET6, a.b, 128,
						   OWNER(i % 4)), 0);
	}
	for (int i = 0; i < 128; i++) {
		struct addr a;

		memset(a.b, 0xff, 16);
		a.b[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
		assert_ptr_equal(allowedips_lookup(&t, AF_INET6, a.b), OWNER(i % 4));
		a.b[15] ^= i == 127 ? 0x02 : 0x01;
		assert_null(allowedips_lookup(&t, AF_INET6, a.b));
	}
	allowedips_free(&t);
}

/* Collects walk results as "family/hex/cidr" lines for easy comparison. */
struct walk_log {
	char text[2048];
	size_t len;
	int calls, stop_after;
};

static int log_prefix(void *ctx, int family, const void *addr, uint8_t cidr)
{
	struct walk_log *log = ctx;
	const uint8_t *b = addr;
	int n = family == AF_INET ? 4 : 16;

	log->len += (size_t)snprintf(log->text + log->len, sizeof(log->text) - log->len,
				     "%d/", family == AF_INET ? 4 : 6);
	for (int i = 0; i < n; i++)
		log->len += (size_t)snprintf(log->text + log->len,
					     sizeof(log->text) - log->len, "%02x", b[i]);
	log->len += (size_t)snprintf(log->text + log->len, sizeof(log->text) - log->len,
				     "/%u ", cidr);
	log->calls++;
	return log->calls == log->stop_after ? 99 : 0;
}

static void test_kernel_iteration(void **state)
{
	static const struct ai_row rows[] = {
		INS4(A, 192, 95, 5, 93, 27),
		INS6(A, 0x26075300, 0x60006b00, 0, 0xc05f0543, 128),
		INS4(A, 10, 1, 0, 20, 29),
		INS6(A, 0x26075300, 0x6d8a6bf8, 0xdab1f1df, 0xc05f1523, 83),
		INS6(A, 0x26075300, 0x6d8a6bf8, 0xdab1f1df, 0xc05f1523, 21),
		INS4(B, 10, 1, 0, 0, 24),
		INS6(B, 0x26075300, 0, 0, 0, 32),
	};
	struct walk_log log = { .len = 0 };
	struct allowedips t;

	(void)state;
	allowedips_init(&t);
	RUN_ROWS(&t, rows);
	assert_int_equal(allowedips_walk_by_owner(&t, OWNER(A), log_prefix, &log), 0);
	/* Masked, v4 before v6, address order, shorter prefix first. */
	assert_string_equal(log.text,
			    "4/0a010010/29 4/c05f0540/27 "
			    "6/26075000000000000000000000000000/21 "
			    "6/2607530060006b0000000000c05f0543/128 "
			    "6/260753006d8a6bf8dab1e00000000000/83 ");
	assert_int_equal(log.calls, 5);

	memset(&log, 0, sizeof(log));
	assert_int_equal(allowedips_walk_by_owner(&t, OWNER(B), log_prefix, &log), 0);
	assert_string_equal(log.text, "4/0a010000/24 6/26075300000000000000000000000000/32 ");

	memset(&log, 0, sizeof(log));
	assert_int_equal(allowedips_walk_by_owner(&t, OWNER(C), log_prefix, &log), 0);
	assert_int_equal(log.calls, 0);

	/* NULL lists everything; a non-zero return stops the walk. */
	memset(&log, 0, sizeof(log));
	assert_int_equal(allowedips_walk_by_owner(&t, NULL, log_prefix, &log), 0);
	assert_int_equal(log.calls, 7);
	memset(&log, 0, sizeof(log));
	log.stop_after = 3;
	assert_int_equal(allowedips_walk_by_owner(&t, NULL, log_prefix, &log), 99);
	assert_int_equal(log.calls, 3);

	/* An owner with nothing, never or no longer (B's entries removed): both walks call
	 * nothing and stay defined (no null pointer handed on: UBSan aborts otherwise). */
	{
		struct addr b4 = ip4(10, 1, 0, 0);
		uint8_t b6[16] = { 0x26, 0x07, 0x53 };

		assert_int_equal(allowedips_remove(&t, AF_INET, &b4, 24), 0);
		assert_int_equal(allowedips_remove(&t, AF_INET6, b6, 32), 0);
	}
	for (int i = 0; i < 2; i++) {
		const void *owner = i ? OWNER(B) : OWNER(C);

		memset(&log, 0, sizeof(log));
		assert_int_equal(allowedips_walk_by_owner(&t, owner, log_prefix, &log), 0);
		assert_int_equal(allowedips_walk_by_owner_in_order(&t, owner, log_prefix, &log), 0);
		assert_int_equal(log.calls, 0);
	}
	allowedips_free(&t);
}

static void test_move_ownership(void **state)
{
	struct allowedips t;
	struct addr net = ip4(10, 0, 0, 0), host = ip4(10, 9, 8, 7);
	struct walk_log log = { .len = 0 };

	(void)state;
	allowedips_init(&t);
	assert_int_equal(allowedips_insert(&t, AF_INET, net.b, 8, OWNER(A)), 0);
	assert_ptr_equal(allowedips_lookup(&t, AF_INET, host.b), OWNER(A));
	assert_int_equal(allowedips_insert(&t, AF_INET, net.b, 8, OWNER(B)), 0);
	assert_ptr_equal(allowedips_lookup(&t, AF_INET, host.b), OWNER(B));
	allowedips_walk_by_owner(&t, OWNER(A), log_prefix, &log);
	assert_int_equal(log.calls, 0);
	allowedips_walk_by_owner(&t, OWNER(B), log_prefix, &log);
	assert_string_equal(log.text, "4/0a000000/8 ");
	/* A no longer owns it, so removing A must leave it in place. */
	assert_int_equal(allowedips_remove_by_owner(&t, OWNER(A)), 0);
	assert_ptr_equal(allowedips_lookup(&t, AF_INET, host.b), OWNER(B));
	allowedips_free(&t);
}

static void test_host_bits_masked(void **state)
{
	struct allowedips t;
	struct addr sloppy = ip4(10, 1, 2, 3), other = ip4(10, 200, 0, 1);
	struct addr v6 = ip6(0x20010db8, 0x12345678, 0x9abcdef0, 0x11111111);
	struct addr v6in = ip6(0x20010db8, 0x7fffffff, 0xffffffff, 0xffffffff);
	struct walk_log log = { .len = 0 };

	(void)state;
	allowedips_init(&t);
	assert_int_equal(allowedips_insert(&t, AF_INET, sloppy.b, 8, OWNER(A)), 0);
	assert_int_equal(allowedips_insert(&t, AF_INET6, v6.b, 33, OWNER(A)), 0);
	assert_ptr_equal(allowedips_lookup(&t, AF_INET, other.b), OWNER(A));
	assert_ptr_equal(allowedips_lookup(&t, AF_INET6, v6in.b), OWNER(A));
	allowedips_walk_by_owner(&t, OWNER(A), log_prefix, &log);
	assert_string_equal(log.text,
			    "4/0a000000/8 6/20010db8000000000000000000000000/33 ");
	/* Removal masks too, so any address inside names the prefix. */
	assert_int_equal(allowedips_remove(&t, AF_INET, other.b, 8), 0);
	assert_int_equal(allowedips_remove(&t, AF_INET6, v6in.b, 33), 0);
	assert_null(t.root4);
	assert_null(t.root6);
}

static void test_default_route(void **state)
{
	struct allowedips t;
	struct addr zero = ip4(0, 0, 0, 0), any4 = ip4(203, 0, 113, 9);
	struct addr ones4 = ip4(255, 255, 255, 255), net = ip4(203, 0, 113, 0);
	struct addr zero6 = ip6(0, 0, 0, 0), any6 = ip6(0xfe800000, 0, 0, 1);

	(void)state;
	allowedips_init(&t);
	assert_null(allowedips_lookup(&t, AF_INET, any4.b));
	assert_int_equal(allowedips_insert(&t, AF_INET, any4.b, 0, OWNER(A)), 0);
	assert_ptr_equal(allowedips_lookup(&t, AF_INET, any4.b), OWNER(A));
	assert_ptr_equal(allowedips_lookup(&t, AF_INET, zero.b), OWNER(A));
	assert_ptr_equal(allowedips_lookup(&t, AF_INET, ones4.b), OWNER(A));
	assert_null(allowedips_lookup(&t, AF_INET6, any6.b));

	assert_int_equal(allowedips_insert(&t, AF_INET, net.b, 24, OWNER(B)), 0);
	assert_ptr_equal(allowedips_lookup(&t, AF_INET, any4.b), OWNER(B));
	assert_ptr_equal(allowedips_lookup(&t, AF_INET, ones4.b), OWNER(A));

	assert_int_equal(allowedips_insert(&t, AF_INET6, any6.b, 0, OWNER(C)), 0);
	assert_ptr_equal(allowedips_lookup(&t, AF_INET6, any6.b), OWNER(C));
	assert_ptr_equal(allowedips_lookup(&t, AF_INET6, zero6.b), OWNER(C));
	assert_ptr_equal(allowedips_lookup(&t, AF_INET, zero.b), OWNER(A));

	/* Removing the /0 leaves the /24 reachable and the rest unrouted. */
	assert_int_equal(allowedips_remove(&t, AF_INET, zero.b, 0), 0);
	assert_ptr_equal(allowedips_lookup(&t, AF_INET, any4.b), OWNER(B));
	assert_null(allowedips_lookup(&t, AF_INET, ones4.b));
	allowedips_free(&t);
}

static void test_hosts(void **state)
{
	struct allowedips t;
	struct addr h4 = ip4(192, 0, 2, 1), n4 = ip4(192, 0, 2, 0);
	struct addr n4b = ip4(192, 0, 2, 2), n4c = ip4(64, 0, 2, 1);
	struct addr h6 = ip6(0x20010db8, 0, 0, 1), n6 = ip6(0x20010db8, 0, 0, 0);
	struct addr n6b = ip6(0xa0010db8, 0, 0, 1);

	(void)state;
	allowedips_init(&t);
	assert_int_equal(allowedips_insert(&t, AF_INET, h4.b, 32, OWNER(A)), 0);
	assert_int_equal(allowedips_insert(&t, AF_INET6, h6.b, 128, OWNER(B)), 0);
	assert_ptr_equal(allowedips_lookup(&t, AF_INET, h4.b), OWNER(A));
	assert_null(allowedips_lookup(&t, AF_INET, n4.b));
	assert_null(allowedips_lookup(&t, AF_INET, n4b.b));
	assert_null(allowedips_lookup(&t, AF_INET, n4c.b));
	assert_ptr_equal(allowedips_lookup(&t, AF_INET6, h6.b), OWNER(B));
	assert_null(allowedips_lookup(&t, AF_INET6, n6.b));
	assert_null(allowedips_lookup(&t, AF_INET6, n6b.b));
	/* The v4 bytes of a v6 address must not leak into the v4 trie. */
	assert_null(allowedips_lookup(&t, AF_INET6, h4.b));
	allowedips_free(&t);
}

static void test_invalid_args(void **state)
{
	struct allowedips t;
	struct addr a = ip4(10, 0, 0, 0);

	(void)state;
	allowedips_init(&t);
	assert_int_equal(allowedips_insert(&t, AF_INET, a.b, 33, OWNER(A)), -EINVAL);
	assert_int_equal(allowedips_insert(&t, AF_INET6, a.b, 129, OWNER(A)), -EINVAL);
	assert_int_equal(allowedips_insert(&t, AF_UNIX, a.b, 8, OWNER(A)), -EINVAL);
	assert_int_equal(allowedips_insert(&t, AF_INET, a.b, 8, NULL), -EINVAL);
	assert_int_equal(allowedips_remove(&t, AF_INET, a.b, 33), -EINVAL);
	assert_int_equal(allowedips_remove(&t, AF_UNIX, a.b, 8), -EINVAL);
	assert_null(allowedips_lookup(&t, AF_UNIX, a.b));
	assert_null(t.root4);
	assert_null(t.root6);
	assert_int_equal(allowedips_remove_by_owner(&t, NULL), 0);
}

static void test_remove_prefix(void **state)
{
	struct allowedips t;
	struct addr n8 = ip4(10, 0, 0, 0), n16 = ip4(10, 1, 0, 0);
	struct addr n16b = ip4(10, 2, 0, 0), host = ip4(10, 1, 2, 3);

	(void)state;
	allowedips_init(&t);
	assert_int_equal(allowedips_remove(&t, AF_INET, n8.b, 8), -ENOENT);
	assert_int_equal(allowedips_insert(&t, AF_INET, n16.b, 16, OWNER(A)), 0);
	assert_int_equal(allowedips_insert(&t, AF_INET, n16b.b, 16, OWNER(B)), 0);
	/* 10.0.0.0/14 is only the join node between the two /16s. */
	assert_int_equal(allowedips_remove(&t, AF_INET, n8.b, 14), -ENOENT);
	assert_int_equal(allowedips_remove(&t, AF_INET, n8.b, 8), -ENOENT);
	assert_int_equal(allowedips_remove(&t, AF_INET, host.b, 24), -ENOENT);
	assert_int_equal(allowedips_insert(&t, AF_INET, n8.b, 8, OWNER(C)), 0);
	assert_ptr_equal(allowedips_lookup(&t, AF_INET, host.b), OWNER(A));
	assert_int_equal(allowedips_remove(&t, AF_INET, n16.b, 16), 0);
	assert_int_equal(allowedips_remove(&t, AF_INET, n16.b, 16), -ENOENT);
	assert_ptr_equal(allowedips_lookup(&t, AF_INET, host.b), OWNER(C));
	assert_int_equal(allowedips_remove(&t, AF_INET, n8.b, 8), 0);
	assert_null(allowedips_lookup(&t, AF_INET, host.b));
	assert_ptr_equal(allowedips_lookup(&t, AF_INET, n16b.b), OWNER(B));
	assert_int_equal(allowedips_remove(&t, AF_INET, n16b.b, 16), 0);
	assert_null(t.root4);
}

static void test_families_separate(void **state)
{
	struct allowedips t;
	struct addr a = ip4(10, 0, 0, 1);

	(void)state;
	allowedips_init(&t);
	assert_int_equal(allowedips_insert(&t, AF_INET, a.b, 0, OWNER(A)), 0);
	assert_null(allowedips_lookup(&t, AF_INET6, a.b));
	assert_int_equal(allowedips_insert(&t, AF_INET6, a.b, 0, OWNER(B)), 0);
	assert_ptr_equal(allowedips_lookup(&t, AF_INET, a.b), OWNER(A));
	assert_ptr_equal(allowedips_lookup(&t, AF_INET6, a.b), OWNER(B));
	assert_int_equal(allowedips_remove(&t, AF_INET6, a.b, 0), 0);
	assert_ptr_equal(allowedips_lookup(&t, AF_INET, a.b), OWNER(A));
	allowedips_free(&t);
}

static void test_packet_lookup(void **state)
{
	struct allowedips t;
	uint8_t p4[20] = { 0x45 }, p6[40] = { 0x60 };
	struct addr s4 = ip4(10, 0, 0, 1), d4 = ip4(10, 0, 0, 2);
	struct addr s6 = ip6(0xfd000000, 0, 0, 1), d6 = ip6(0xfd000000, 0, 0, 2);

	(void)state;
	memcpy(p4 + 12, s4.b, 4);
	memcpy(p4 + 16, d4.b, 4);
	memcpy(p6 + 8, s6.b, 16);
	memcpy(p6 + 24, d6.b, 16);
	allowedips_init(&t);
	assert_int_equal(allowedips_insert(&t, AF_INET, s4.b, 32, OWNER(A)), 0);
	assert_int_equal(allowedips_insert(&t, AF_INET, d4.b, 32, OWNER(B)), 0);
	assert_int_equal(allowedips_insert(&t, AF_INET6, s6.b, 128, OWNER(C)), 0);
	assert_int_equal(allowedips_insert(&t, AF_INET6, d6.b, 128, OWNER(D)), 0);

	assert_ptr_equal(allowedips_lookup_packet_src(&t, p4, sizeof(p4)), OWNER(A));
	assert_ptr_equal(allowedips_lookup_packet_dst(&t, p4, sizeof(p4)), OWNER(B));
	assert_ptr_equal(allowedips_lookup_packet_src(&t, p6, sizeof(p6)), OWNER(C));
	assert_ptr_equal(allowedips_lookup_packet_dst(&t, p6, sizeof(p6)), OWNER(D));

	/* Truncated headers, an empty buffer and a foreign version match nothing. */
	assert_null(allowedips_lookup_packet_dst(&t, p4, sizeof(p4) - 1));
	assert_null(allowedips_lookup_packet_src(&t, p6, sizeof(p6) - 1));
	assert_null(allowedips_lookup_packet_dst(&t, p4, 0));
	p4[0] = 0x55;
	assert_null(allowedips_lookup_packet_dst(&t, p4, sizeof(p4)));
	/* A v6 header that claims v4 is read as v4, whose addresses differ. */
	p6[0] = 0x45;
	assert_null(allowedips_lookup_packet_dst(&t, p6, sizeof(p6)));
	allowedips_free(&t);
}

/* Walks that must list nothing, for owners that never had or no longer have prefixes. */
static void expect_nothing_of(struct allowedips *t, const void *owner)
{
	struct walk_log log = { .len = 0 };

	assert_int_equal(allowedips_walk_by_owner_in_order(t, owner, log_prefix, &log), 0);
	assert_int_equal(log.calls, 0);
	if (owner) {
		assert_int_equal(allowedips_walk_by_owner(t, owner, log_prefix, &log), 0);
		assert_int_equal(log.calls, 0);
	}
	assert_int_equal(allowedips_remove_by_owner(t, owner), 0);
}

static void test_owner_without_prefixes(void **state)
{
	struct allowedips t;
	struct addr a = ip4(10, 0, 0, 1), b = ip6(0xfd000000, 0, 0, 1);

	(void)state;
	allowedips_init(&t);
	expect_nothing_of(&t, OWNER(A));
	expect_nothing_of(&t, NULL);
	assert_int_equal(allowedips_insert(&t, AF_INET, a.b, 32, OWNER(A)), 0);
	assert_int_equal(allowedips_insert(&t, AF_INET6, b.b, 128, OWNER(B)), 0);
	expect_nothing_of(&t, OWNER(C));
	expect_nothing_of(&t, NULL);
	/* A had one prefix, removed by name: A is back to having none. */
	assert_int_equal(allowedips_remove(&t, AF_INET, a.b, 32), 0);
	expect_nothing_of(&t, OWNER(A));
	assert_ptr_equal(allowedips_lookup(&t, AF_INET6, b.b), OWNER(B));
	assert_int_equal(allowedips_remove_by_owner(&t, OWNER(B)), 1);
	expect_nothing_of(&t, OWNER(B));
	assert_null(t.root6);
	assert_null(t.owners);
}

/*
 * In-order listings: one row is an insert, a remove or a remove_by_owner,
 * followed by what each of owners A, B and C must list, in order.
 */
struct order_row {
	enum { O_INS, O_DEL, O_DEL_OWNER } op;
	int family;
	uint32_t w[4];
	uint8_t cidr;
	int owner;
	const char *want[3];
};

#define OINS4(o, a, b, c, d, cidr) O_INS, V4(a, b, c, d), (cidr), (o)
#define OINS6(o, a, b, c, d, cidr) O_INS, V6(a, b, c, d), (cidr), (o)
#define ODEL4(a, b, c, d, cidr) O_DEL, V4(a, b, c, d), (cidr), NONE
#define ODEL_OWNER(o) O_DEL_OWNER, 0, { 0 }, 0, (o)

static void run_order_rows(const struct order_row *rows, size_t n)
{
	struct allowedips t;

	allowedips_init(&t);
	for (size_t i = 0; i < n; i++) {
		const struct order_row *r = &rows[i];
		struct addr a = words(r->w[0], r->w[1], r->w[2], r->w[3]);

		if (r->op == O_INS)
			assert_int_equal(allowedips_insert(&t, r->family, a.b, r->cidr,
							   OWNER(r->owner)), 0);
		else if (r->op == O_DEL)
			assert_int_equal(allowedips_remove(&t, r->family, a.b, r->cidr), 0);
		else
			allowedips_remove_by_owner(&t, OWNER(r->owner));
		for (int o = A; o <= C; o++) {
			struct walk_log log = { .len = 0 };

			assert_int_equal(allowedips_walk_by_owner_in_order(&t, OWNER(o),
									 log_prefix, &log), 0);
			if (strcmp(log.text, r->want[o]))
				fail_msg("row %zu owner %d: got \"%s\", want \"%s\"", i + 1, o,
					 log.text, r->want[o]);
		}
	}
	allowedips_free(&t);
}

#define RUN_ORDER_ROWS(rows) run_order_rows((rows), sizeof(rows) / sizeof((rows)[0]))

/* Insertion order, not address order, and the families interleaved. */
static void test_in_order_interleaved(void **state)
{
	static const struct order_row rows[] = {
		{ OINS6(A, 0xfd000000, 0, 0, 2, 128), { "6/fd000000000000000000000000000002/128 ", "", "" } },
		{ OINS4(A, 10, 0, 0, 9, 32), { "6/fd000000000000000000000000000002/128 4/0a000009/32 ", "", "" } },
		{ OINS6(A, 0xfd000000, 0, 0, 1, 128),
		  { "6/fd000000000000000000000000000002/128 4/0a000009/32 "
		    "6/fd000000000000000000000000000001/128 ", "", "" } },
		{ OINS4(A, 10, 0, 0, 1, 8),
		  { "6/fd000000000000000000000000000002/128 4/0a000009/32 "
		    "6/fd000000000000000000000000000001/128 4/0a000000/8 ", "", "" } },
		/* A repeat keeps its place. */
		{ OINS4(A, 10, 0, 0, 9, 32),
		  { "6/fd000000000000000000000000000002/128 4/0a000009/32 "
		    "6/fd000000000000000000000000000001/128 4/0a000000/8 ", "", "" } },
		{ ODEL4(10, 0, 0, 9, 32),
		  { "6/fd000000000000000000000000000002/128 "
		    "6/fd000000000000000000000000000001/128 4/0a000000/8 ", "", "" } },
		{ ODEL_OWNER(A), { "", "", "" } },
	};

	(void)state;
	RUN_ORDER_ROWS(rows);
}

/* A prefix that changes owner leaves one list and joins the end of the other. */
static void test_in_order_moves(void **state)
{
	static const struct order_row rows[] = {
		{ OINS4(A, 10, 1, 0, 0, 16), { "4/0a010000/16 ", "", "" } },
		{ OINS4(A, 10, 2, 0, 0, 16), { "4/0a010000/16 4/0a020000/16 ", "", "" } },
		{ OINS4(A, 10, 3, 0, 0, 16), { "4/0a010000/16 4/0a020000/16 4/0a030000/16 ", "", "" } },
		{ OINS6(B, 0xfd000000, 0, 0, 0, 8), { "4/0a010000/16 4/0a020000/16 4/0a030000/16 ",
						       "6/fd000000000000000000000000000000/8 ", "" } },
		/* Moves out of the middle of A's list... */
		{ OINS4(B, 10, 2, 0, 0, 16), { "4/0a010000/16 4/0a030000/16 ",
					       "6/fd000000000000000000000000000000/8 4/0a020000/16 ", "" } },
		/* ...and back again, now last. */
		{ OINS4(A, 10, 2, 0, 0, 16), { "4/0a010000/16 4/0a030000/16 4/0a020000/16 ",
					       "6/fd000000000000000000000000000000/8 ", "" } },
		/* The head and the tail of a list move too. */
		{ OINS4(C, 10, 1, 0, 0, 16), { "4/0a030000/16 4/0a020000/16 ",
					       "6/fd000000000000000000000000000000/8 ", "4/0a010000/16 " } },
		{ OINS4(C, 10, 2, 0, 0, 16), { "4/0a030000/16 ", "6/fd000000000000000000000000000000/8 ",
					       "4/0a010000/16 4/0a020000/16 " } },
		/* A join node (10.0.0.0/14 above the /16s) turning into a prefix. */
		{ OINS4(A, 10, 0, 0, 0, 14), { "4/0a030000/16 4/0a000000/14 ",
					       "6/fd000000000000000000000000000000/8 ",
					       "4/0a010000/16 4/0a020000/16 " } },
		/* B's only prefix moves away: B is left with nothing. */
		{ OINS6(C, 0xfd000000, 0, 0, 0, 8), { "4/0a030000/16 4/0a000000/14 ", "",
						       "4/0a010000/16 4/0a020000/16 "
						       "6/fd000000000000000000000000000000/8 " } },
		{ ODEL_OWNER(C), { "4/0a030000/16 4/0a000000/14 ", "", "" } },
		{ OINS4(C, 10, 2, 0, 0, 16), { "4/0a030000/16 4/0a000000/14 ", "", "4/0a020000/16 " } },
	};

	(void)state;
	RUN_ORDER_ROWS(rows);
}

/*
 * A gateway's worth of peers: each of 100,000 owners gets a v4 /32 and a v6
 * /128, then every second one is removed. Removing one owner must cost its
 * own prefixes, not the table's; whole-table scans made this quadratic
 * (minutes, where it now takes a fraction of a second).
 */
enum { MANY = 100000 };
static char many_slots[MANY];

static void many_addrs(int i, struct addr *v4, struct addr *v6)
{
	*v4 = ip4(10, (uint8_t)(i >> 16), (uint8_t)(i >> 8), (uint8_t)i);
	*v6 = ip6(0xfd000000, 0, (uint32_t)i * 0x9e3779b1u, (uint32_t)i);
}

static void check_many_listing(struct allowedips *t, int i)
{
	struct walk_log log = { .len = 0 }, want = { .len = 0 };
	struct addr v4, v6;

	many_addrs(i, &v4, &v6);
	log_prefix(&want, AF_INET, v4.b, 32);
	log_prefix(&want, AF_INET6, v6.b, 128);
	assert_int_equal(allowedips_walk_by_owner_in_order(t, &many_slots[i], log_prefix,
							   &log), 0);
	assert_string_equal(log.text, want.text);
}

static void test_many_owners(void **state)
{
	struct timespec start, end;
	struct allowedips t;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &start);
	allowedips_init(&t);
	for (int i = 0; i < MANY; i++) {
		struct addr v4, v6;

		many_addrs(i, &v4, &v6);
		assert_int_equal(allowedips_insert(&t, AF_INET, v4.b, 32, &many_slots[i]), 0);
		assert_int_equal(allowedips_insert(&t, AF_INET6, v6.b, 128, &many_slots[i]), 0);
	}
	for (int i = 1; i < MANY; i += 2)
		assert_int_equal(allowedips_remove_by_owner(&t, &many_slots[i]), 2);
	for (int i = 0; i < MANY; i++) {
		void *want = i % 2 ? NULL : &many_slots[i];
		struct addr v4, v6;

		many_addrs(i, &v4, &v6);
		if (allowedips_lookup(&t, AF_INET, v4.b) != want ||
		    allowedips_lookup(&t, AF_INET6, v6.b) != want)
			fail_msg("owner %d: wrong lookup", i);
	}
	clock_gettime(CLOCK_MONOTONIC, &end);
	for (int i = 0; i < MANY; i += 997) {
		if (i % 2)
			expect_nothing_of(&t, &many_slots[i]);
		else
			check_many_listing(&t, i);
	}
	allowedips_free(&t);
	print_message("%d owners x 2 prefixes, half removed, all looked up: %.3f s\n", MANY,
		      (double)(end.tv_sec - start.tv_sec) + (end.tv_nsec - start.tv_nsec) / 1e9);
}

/* Randomized comparison against a linear-scan reference, with a fixed seed. */

struct ref_entry {
	uint8_t key[16];
	uint8_t cidr;
	int owner;
	uint64_t seq; /* when the owner got it: the in-order listing's order */
};

struct ref_table {
	struct ref_entry *e;
	size_t n, cap;
	uint64_t seq;
	int family;
	unsigned int bits;
};

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* splitmix64: tiny, seedable and identical everywhere. */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static unsigned int rnd_below(unsigned int n)
{
	return (unsigned int)(rnd() % n);
}

static void ref_mask(uint8_t *out, const uint8_t *in, unsigned int cidr)
{
	for (unsigned int i = 0; i < 16; i++) {
		unsigned int keep = cidr > i * 8 ? cidr - i * 8 : 0;

		out[i] = keep >= 8 ? in[i] : (uint8_t)(in[i] & ~(0xff >> keep));
	}
}

static bool ref_contains(const struct ref_entry *e, const uint8_t *addr)
{
	unsigned int full = e->cidr / 8, rest = e->cidr % 8;

	if (memcmp(addr, e->key, full))
		return false;
	return !rest || ((addr[full] ^ e->key[full]) & (0xff00 >> rest)) == 0;
}

static struct ref_entry *ref_find(struct ref_table *r, const uint8_t *key,
				  unsigned int cidr)
{
	for (size_t i = 0; i < r->n; i++)
		if (r->e[i].cidr == cidr && !memcmp(r->e[i].key, key, 16))
			return &r->e[i];
	return NULL;
}

static void ref_insert(struct ref_table *r, const uint8_t *addr,
		       unsigned int cidr, int owner)
{
	uint8_t key[16];
	struct ref_entry *e;

	ref_mask(key, addr, cidr);
	e = ref_find(r, key, cidr);
	if (!e) {
		if (r->n == r->cap) {
			r->cap = r->cap ? 2 * r->cap : 256;
			r->e = realloc(r->e, r->cap * sizeof(*r->e));
			assert_non_null(r->e);
		}
		e = &r->e[r->n++];
		memcpy(e->key, key, 16);
		e->cidr = (uint8_t)cidr;
		e->owner = NONE;
	}
	/* A repeat keeps its place; a new owner lists it last. */
	if (e->owner != owner)
		e->seq = ++r->seq;
	e->owner = owner;
}

static int ref_lookup(const struct ref_table *r, const uint8_t *addr)
{
	int best = NONE, best_cidr = -1;

	for (size_t i = 0; i < r->n; i++) {
		if (r->e[i].cidr > best_cidr && ref_contains(&r->e[i], addr)) {
			best = r->e[i].owner;
			best_cidr = r->e[i].cidr;
		}
	}
	return best;
}

static bool ref_remove(struct ref_table *r, const uint8_t *addr, unsigned int cidr)
{
	uint8_t key[16];
	struct ref_entry *e;

	ref_mask(key, addr, cidr);
	e = ref_find(r, key, cidr);
	if (!e)
		return false;
	*e = r->e[--r->n];
	return true;
}

static size_t ref_remove_owner(struct ref_table *r, int owner)
{
	size_t kept = 0, before = r->n;

	for (size_t i = 0; i < r->n; i++)
		if (r->e[i].owner != owner)
			r->e[kept++] = r->e[i];
	r->n = kept;
	return before - kept;
}

/*
 * Addresses cluster around a few bases, or around prefixes already present,
 * so that random prefixes nest and split each other instead of scattering.
 */
static struct addr bases[8];

static void random_bytes(uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)rnd();
}

/* Keeps the first keep bits of src and randomizes the rest. */
static struct addr mutate(const uint8_t *src, unsigned int keep, unsigned int bits)
{
	struct addr a, noise;

	memset(&a, 0, sizeof(a));
	random_bytes(noise.b, 16);
	ref_mask(a.b, src, keep);
	for (unsigned int i = keep; i < bits; i++)
		if ((noise.b[i / 8] >> (i % 8)) & 1)
			a.b[i / 8] |= (uint8_t)(0x80 >> (i % 8));
	return a;
}

static struct addr random_addr(const struct ref_table *r)
{
	unsigned int pick = rnd_below(8);
	struct addr a;

	if (pick < 4 && r->n) {
		const struct ref_entry *e = &r->e[rnd_below((unsigned int)r->n)];

		return mutate(e->key, rnd_below(e->cidr + 1u), r->bits);
	}
	if (pick < 7) {
		a = bases[rnd_below(8)];
		for (unsigned int k = rnd_below(4); k > 0; k--) {
			unsigned int bit = rnd_below(r->bits);

			a.b[bit / 8] ^= (uint8_t)(0x80 >> (bit % 8));
		}
		return a;
	}
	return mutate(a.b, 0, r->bits);
}

/* Query addresses mostly fall inside an existing prefix, often deep inside. */
static struct addr random_query(const struct ref_table *r)
{
	if (r->n && rnd_below(4)) {
		const struct ref_entry *e = &r->e[rnd_below((unsigned int)r->n)];

		return mutate(e->key, e->cidr, r->bits);
	}
	return random_addr(r);
}

static void check_queries(struct allowedips *t, const struct ref_table *r,
			  int queries)
{
	for (int i = 0; i < queries; i++) {
		struct addr q = random_query(r);
		void *got = allowedips_lookup(t, r->family, q.b);
		int want = ref_lookup(r, q.b);

		if (got != owner_of(want))
			fail_msg("v%d query %d: got owner %td, want %d",
				 r->family == AF_INET ? 4 : 6, i,
				 got ? (char *)got - owner_slots : -1, want);
	}
}

struct walk_check {
	const struct ref_table *r;
	int owner;
	size_t seen;
	uint8_t last_key[16], last_cidr; /* address order: key, then shorter first */
};

static int check_walked(void *ctx, int family, const void *addr, uint8_t cidr)
{
	struct walk_check *w = ctx;
	struct ref_table *r = (struct ref_table *)w->r;
	uint8_t key[16] = { 0 };
	struct ref_entry *e;

	assert_int_equal(family, r->family);
	memcpy(key, addr, r->bits / 8);
	e = ref_find(r, key, cidr);
	assert_non_null(e);
	assert_int_equal(e->owner, w->owner);
	if (w->seen) {
		int c = memcmp(w->last_key, key, 16);

		assert_true(c < 0 || (c == 0 && w->last_cidr < cidr));
	}
	memcpy(w->last_key, key, 16);
	w->last_cidr = cidr;
	w->seen++;
	return 0;
}

/* The in-order walk must give owner's reference prefixes by seq. */
struct order_check {
	const struct ref_table *r;
	const struct ref_entry **want;
	size_t seen, n;
};

static int check_ordered(void *ctx, int family, const void *addr, uint8_t cidr)
{
	struct order_check *c = ctx;
	const struct ref_entry *e;

	assert_true(c->seen < c->n);
	e = c->want[c->seen++];
	assert_int_equal(family, c->r->family);
	assert_int_equal(cidr, e->cidr);
	assert_memory_equal(addr, e->key, c->r->bits / 8);
	return 0;
}

static int by_ref_seq(const void *a, const void *b)
{
	uint64_t x = (*(const struct ref_entry *const *)a)->seq;
	uint64_t y = (*(const struct ref_entry *const *)b)->seq;

	return (x > y) - (x < y);
}

static void check_in_order(struct allowedips *t, const struct ref_table *r, int o)
{
	struct order_check c = { r, calloc(r->n + 1, sizeof(*c.want)), 0, 0 };

	assert_non_null(c.want);
	for (size_t i = 0; i < r->n; i++)
		if (r->e[i].owner == o)
			c.want[c.n++] = &r->e[i];
	qsort(c.want, c.n, sizeof(*c.want), by_ref_seq);
	assert_int_equal(allowedips_walk_by_owner_in_order(t, OWNER(o), check_ordered, &c), 0);
	assert_int_equal(c.seen, c.n);
	free(c.want);
}

/* Each owner's walks must list exactly that owner's reference prefixes. */
static void check_walks(struct allowedips *t, const struct ref_table *r)
{
	for (int o = 0; o < NUM_OWNERS; o++) {
		struct walk_check w = { .r = r, .owner = o };
		size_t want = 0;

		for (size_t i = 0; i < r->n; i++)
			want += r->e[i].owner == o;
		assert_int_equal(allowedips_walk_by_owner(t, OWNER(o), check_walked, &w), 0);
		assert_int_equal(w.seen, want);
		check_in_order(t, r, o);
	}
}

enum {
	RAND_PREFIXES = 4000,
	RAND_BATCH = 500,
	RAND_QUERIES = 1000,
	RAND_REMOVALS = 1500,
};

static void insert_phase(struct allowedips *t, struct ref_table *r)
{
	for (int i = 1; i <= RAND_PREFIXES; i++) {
		int owner = (int)rnd_below(NUM_OWNERS);
		unsigned int cidr;
		struct addr a;

		/* Some inserts repeat a present prefix: an ownership move. */
		if (r->n && rnd_below(10) == 0) {
			const struct ref_entry *e = &r->e[rnd_below((unsigned int)r->n)];

			a = mutate(e->key, e->cidr, r->bits);
			cidr = e->cidr;
		} else {
			a = random_addr(r);
			cidr = rnd_below(r->bits + 1);
		}
		assert_int_equal(allowedips_insert(t, r->family, a.b, (uint8_t)cidr,
						   OWNER(owner)), 0);
		ref_insert(r, a.b, cidr, owner);
		if (i % RAND_BATCH == 0)
			check_queries(t, r, RAND_QUERIES);
	}
	check_walks(t, r);
}

static void remove_phase(struct allowedips *t, struct ref_table *r)
{
	for (int i = 1; i <= RAND_REMOVALS; i++) {
		unsigned int cidr;
		struct addr a;
		int want, got;

		/* Half name a present prefix (through random host bits). */
		if (r->n && rnd_below(2)) {
			const struct ref_entry *e = &r->e[rnd_below((unsigned int)r->n)];

			a = mutate(e->key, e->cidr, r->bits);
			cidr = e->cidr;
		} else {
			a = random_addr(r);
			cidr = rnd_below(r->bits + 1);
		}
		want = ref_remove(r, a.b, cidr) ? 0 : -ENOENT;
		got = allowedips_remove(t, r->family, a.b, (uint8_t)cidr);
		assert_int_equal(got, want);
		if (i % RAND_BATCH == 0)
			check_queries(t, r, RAND_QUERIES);
	}
	check_walks(t, r);
}

static void remove_owners_phase(struct allowedips *t, struct ref_table *r)
{
	for (int o = 0; o < NUM_OWNERS; o++) {
		size_t want = ref_remove_owner(r, o);

		assert_int_equal(allowedips_remove_by_owner(t, OWNER(o)), want);
		if (o % 4 == 3)
			check_queries(t, r, RAND_QUERIES / 2);
	}
	assert_int_equal(r->n, 0);
}

static void run_random(int family, uint64_t seed)
{
	struct ref_table r = { .family = family, .bits = family == AF_INET ? 32 : 128 };
	struct allowedips t;

	rng_state = seed;
	for (int i = 0; i < 8; i++) {
		memset(&bases[i], 0, sizeof(bases[i]));
		random_bytes(bases[i].b, r.bits / 8);
	}
	allowedips_init(&t);
	insert_phase(&t, &r);
	remove_phase(&t, &r);
	/* Refill so the owner sweep runs over a dense, mixed trie. */
	insert_phase(&t, &r);
	remove_owners_phase(&t, &r);
	/* No prefixes left must mean no nodes left: joins were collapsed. */
	assert_null(family == AF_INET ? t.root4 : t.root6);
	allowedips_free(&t);
	free(r.e);
}

static void test_random_v4(void **state)
{
	(void)state;
	run_random(AF_INET, 0x1234567890abcdefULL);
	run_random(AF_INET, 7);
}

static void test_random_v6(void **state)
{
	(void)state;
	run_random(AF_INET6, 0xfeedfacecafebeefULL);
	run_random(AF_INET6, 11);
}

/*
 * Owners come and go in random batches, as peers on a gateway do, so the
 * owner map deletes and reuses its slots many times over. Each owner has up
 * to three host routes of its own; the reference is what each owner should
 * list, in order.
 */
enum { CHURN_OWNERS = 3000, CHURN_ROUNDS = 12, CHURN_MAX = 3 };

struct churn_owner {
	int n;
	struct { int family; uint8_t slot; } p[CHURN_MAX];
};

static struct addr churn_addr(int owner, int family, int slot)
{
	uint32_t id = (uint32_t)owner * CHURN_MAX + (uint32_t)slot;

	if (family == AF_INET)
		return ip4(100, (uint8_t)(id >> 16), (uint8_t)(id >> 8), (uint8_t)id);
	return ip6(0xfd00beef, id * 0x9e3779b1u, 0, id);
}

static void check_churn_owner(struct allowedips *t, const struct churn_owner *c, int o)
{
	struct walk_log log = { .len = 0 }, want = { .len = 0 };

	for (int k = 0; k < c->n; k++) {
		struct addr a = churn_addr(o, c->p[k].family, c->p[k].slot);

		log_prefix(&want, c->p[k].family, a.b, c->p[k].family == AF_INET ? 32 : 128);
		assert_ptr_equal(allowedips_lookup(t, c->p[k].family, a.b), &many_slots[o]);
	}
	assert_int_equal(allowedips_walk_by_owner_in_order(t, &many_slots[o], log_prefix,
							   &log), 0);
	if (strcmp(log.text, want.text))
		fail_msg("owner %d lists \"%s\", want \"%s\"", o, log.text, want.text);
}

static void churn_add(struct allowedips *t, struct churn_owner *c, int o)
{
	c->n = 1 + (int)rnd_below(CHURN_MAX);
	for (int k = 0; k < c->n; k++) {
		struct addr a;

		c->p[k].family = rnd_below(2) ? AF_INET : AF_INET6;
		c->p[k].slot = (uint8_t)k;
		a = churn_addr(o, c->p[k].family, k);
		assert_int_equal(allowedips_insert(t, c->p[k].family, a.b,
						   c->p[k].family == AF_INET ? 32 : 128,
						   &many_slots[o]), 0);
	}
}

static void test_owner_churn(void **state)
{
	static struct churn_owner ref[CHURN_OWNERS];
	struct allowedips t;

	(void)state;
	rng_state = 0xc0ffee;
	memset(ref, 0, sizeof(ref));
	allowedips_init(&t);
	for (int round = 0; round < CHURN_ROUNDS; round++) {
		for (int o = 0; o < CHURN_OWNERS; o++) {
			unsigned int dice = rnd_below(4);

			if (dice == 0) {
				assert_int_equal(allowedips_remove_by_owner(&t, &many_slots[o]),
						 ref[o].n);
				ref[o].n = 0;
			} else if (dice == 1 && !ref[o].n) {
				churn_add(&t, &ref[o], o);
			}
		}
		for (int o = 0; o < CHURN_OWNERS; o++)
			check_churn_owner(&t, &ref[o], o);
	}
	for (int o = 0; o < CHURN_OWNERS; o++)
		assert_int_equal(allowedips_remove_by_owner(&t, &many_slots[o]), ref[o].n);
	assert_null(t.root4);
	assert_null(t.root6);
	assert_null(t.owners);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kernel_table),
		cmocka_unit_test(test_kernel_nested_remove),
		cmocka_unit_test(test_kernel_deep_v6),
		cmocka_unit_test(test_kernel_iteration),
		cmocka_unit_test(test_move_ownership),
		cmocka_unit_test(test_host_bits_masked),
		cmocka_unit_test(test_default_route),
		cmocka_unit_test(test_hosts),
		cmocka_unit_test(test_invalid_args),
		cmocka_unit_test(test_remove_prefix),
		cmocka_unit_test(test_families_separate),
		cmocka_unit_test(test_packet_lookup),
		cmocka_unit_test(test_owner_without_prefixes),
		cmocka_unit_test(test_in_order_interleaved),
		cmocka_unit_test(test_in_order_moves),
		cmocka_unit_test(test_many_owners),
		cmocka_unit_test(test_owner_churn),
		cmocka_unit_test(test_random_v4),
		cmocka_unit_test(test_random_v6),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
