/* Unit tests for the anti-replay window, ported from Linux wireguard selftest/counter.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "replay.h"

#define W ((uint64_t)REPLAY_WINDOW_SIZE)
#define T_LIM (W + 1)
#define REJ REPLAY_REJECT_AFTER_MESSAGES

/*
 * One table row feeds the counters first..last (either direction, both
 * inclusive) to the window and expects the same verdict for each. Most rows
 * are single counters; ranges express the kernel's bulk loops.
 */
struct replay_case {
	uint64_t first, last;
	bool expected;
};

#define T(n, v) { (n), (n), (v) }
#define RANGE(a, b, v) { (a), (b), (v) }

/* Kernel cases 1-34, in order, on one window. */
static const struct replay_case basic[] = {
	/*  1 */ T(0, true),
	/*  2 */ T(1, true),
	/*  3 */ T(1, false),
	/*  4 */ T(9, true),
	/*  5 */ T(8, true),
	/*  6 */ T(7, true),
	/*  7 */ T(7, false),
	/*  8 */ T(T_LIM, true),
	/*  9 */ T(T_LIM - 1, true),
	/* 10 */ T(T_LIM - 1, false),
	/* 11 */ T(T_LIM - 2, true),
	/* 12 */ T(2, true),
	/* 13 */ T(2, false),
	/* 14 */ T(T_LIM + 16, true),
	/* 15 */ T(3, false),
	/* 16 */ T(T_LIM + 16, false),
	/* 17 */ T(T_LIM * 4, true),
	/* 18 */ T(T_LIM * 4 - (T_LIM - 1), true),
	/* 19 */ T(10, false),
	/* 20 */ T(T_LIM * 4 - T_LIM, false),
	/* 21 */ T(T_LIM * 4 - (T_LIM + 1), false),
	/* 22 */ T(T_LIM * 4 - (T_LIM - 2), true),
	/* 23 */ T(T_LIM * 4 + 1 - T_LIM, false),
	/* 24 */ T(0, false),
	/* 25 */ T(REJ, false),
	/* 26 */ T(REJ - 1, true),
	/* 27 */ T(REJ, false),
	/* 28 */ T(REJ - 1, false),
	/* 29 */ T(REJ - 2, true),
	/* 30 */ T(REJ + 1, false),
	/* 31 */ T(REJ + 2, false),
	/* 32 */ T(REJ - 2, false),
	/* 33 */ T(REJ - 3, true),
	/* 34 */ T(0, false),
};

/* Kernel bulk sections: each starts from a fresh window and probes its edges. */
static const struct replay_case bulk_ascending_then_zero[] = {
	RANGE(1, W, true), T(0, true), T(0, false),
};
static const struct replay_case bulk_ascending_from_two[] = {
	RANGE(2, W + 1, true), T(1, true), T(0, false),
};
static const struct replay_case bulk_descending_to_zero[] = {
	RANGE(W, 0, true),
};
static const struct replay_case bulk_descending_past_edge[] = {
	RANGE(W + 1, 1, true), T(0, false),
};
static const struct replay_case bulk_descending_then_top[] = {
	RANGE(W, 1, true), T(W + 1, true), T(0, false),
};
static const struct replay_case bulk_descending_zero_then_top[] = {
	RANGE(W, 1, true), T(0, true), T(W + 1, true),
};

static void run_table(const struct replay_case *cases, size_t n)
{
	struct replay_window w;
	unsigned long test_num = 0;

	replay_init(&w);
	for (size_t i = 0; i < n; i++) {
		const struct replay_case *c = &cases[i];
		int64_t step = c->first <= c->last ? 1 : -1;

		for (uint64_t ctr = c->first;; ctr += (uint64_t)step) {
			bool got = replay_check_and_update(&w, ctr);

			test_num++;
			if (got != c->expected)
				fail_msg("row %zu (test %lu): counter %llu gave %d, want %d",
					 i + 1, test_num, (unsigned long long)ctr,
					 got, c->expected);
			if (ctr == c->last)
				break;
		}
	}
}

#define RUN_TABLE(t) run_table((t), sizeof(t) / sizeof((t)[0]))

static void test_basic(void **state)
{
	(void)state;
	RUN_TABLE(basic);
}

static void test_bulk(void **state)
{
	(void)state;
	RUN_TABLE(bulk_ascending_then_zero);
	RUN_TABLE(bulk_ascending_from_two);
	RUN_TABLE(bulk_descending_to_zero);
	RUN_TABLE(bulk_descending_past_edge);
	RUN_TABLE(bulk_descending_then_top);
	RUN_TABLE(bulk_descending_zero_then_top);
}

static void test_constants(void **state)
{
	(void)state;
	assert_int_equal(REPLAY_WINDOW_SIZE, 8128);
	assert_true(REJ == UINT64_MAX - 8192);
	assert_true(REJ == 0xffffffffffffdfffULL);
}

/* A jump of several ring lengths must wipe stale bits that alias new slots. */
static void test_large_jump_clears_ring(void **state)
{
	struct replay_window w;
	uint64_t far = 3 * REPLAY_BITS_TOTAL + 100;

	(void)state;
	replay_init(&w);
	for (uint64_t c = 0; c < REPLAY_BITS_TOTAL; c++)
		assert_true(replay_check_and_update(&w, c));
	assert_true(replay_check_and_update(&w, far));
	for (uint64_t c = far - W; c < far; c++)
		assert_true(replay_check_and_update(&w, c));
	assert_false(replay_check_and_update(&w, far - W - 1));
	assert_false(replay_check_and_update(&w, far));
}

/* Every counter arriving in any order within the window is accepted exactly once. */
static void test_shuffled_within_window(void **state)
{
	(void)state;
	/* Blocks of W: no counter arrives more than W - 1 behind the greatest. */
	enum { BLOCKS = 5, N = BLOCKS * REPLAY_WINDOW_SIZE };
	static uint64_t order[N];
	struct replay_window w;
	uint64_t seed = 0x5eed;

	for (uint64_t i = 0; i < N; i++)
		order[i] = i;
	for (uint64_t b = 0; b < N; b += W) {
		for (uint64_t i = W - 1; i > 0; i--) {
			uint64_t j, tmp;

			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			j = (seed >> 33) % (i + 1);
			tmp = order[b + i];
			order[b + i] = order[b + j];
			order[b + j] = tmp;
		}
	}
	replay_init(&w);
	for (uint64_t i = 0; i < N; i++)
		assert_true(replay_check_and_update(&w, order[i]));
	for (uint64_t i = N - W; i < N; i++)
		assert_false(replay_check_and_update(&w, i));
}

/* Naive model: a flat "seen" bitmap over [base, base + MODEL_SPAN) and the maximum. */
#define MODEL_SPAN (UINT64_C(1) << 22)
#define MODEL_STEPS 60000

struct model {
	uint64_t base, start, max;
	bool any;
	uint8_t seen[MODEL_SPAN / 8];
};

static bool model_check(struct model *m, uint64_t c)
{
	uint64_t off = c - m->base;

	if (c >= REJ)
		return false;
	if (m->any && c < m->max && m->max - c > W)
		return false;
	if (m->seen[off / 8] & (1u << (off % 8)))
		return false;
	m->seen[off / 8] |= (uint8_t)(1u << (off % 8));
	if (!m->any || c > m->max)
		m->max = c;
	m->any = true;
	return true;
}

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

/* Move from top by delta, clamped to the model's span (and so never wrapping). */
static uint64_t clamp_add(const struct model *m, uint64_t top, int64_t delta)
{
	uint64_t lo = m->base, hi = m->base + (MODEL_SPAN - 1);

	if (delta < 0)
		return top - lo < (uint64_t)-delta ? lo : top - (uint64_t)-delta;
	return hi - top < (uint64_t)delta ? hi : top + (uint64_t)delta;
}

/* Mostly in-order traffic with reordering, duplicates, stale and far-ahead counters. */
static uint64_t next_counter(const struct model *m, uint64_t *seed)
{
	uint64_t r = xorshift(seed), top = m->any ? m->max : m->start;
	int64_t arg = (int64_t)(r >> 16);

	switch (r % 8) {
	case 0: case 1: case 2:
		/* In order, sometimes skipping one or two. */
		return clamp_add(m, top, 1 + arg % 3);
	case 3:
		/* Rarely a jump of up to three ring lengths. */
		if ((r >> 3) % 32 == 0)
			return clamp_add(m, top, arg % (3 * REPLAY_BITS_TOTAL));
		return top;
	case 4:
		/* Straddle the window's trailing edge. */
		return clamp_add(m, top, -((int64_t)W - 64 + arg % 128));
	default:
		return clamp_add(m, top, -(arg % ((int64_t)W / 2)));
	}
}

/* Returns the greatest counter accepted, so callers can check what was covered. */
static uint64_t run_random(uint64_t base, uint64_t start, uint64_t seed)
{
	static struct model m;
	struct replay_window w;
	unsigned long accepted = 0;

	memset(&m, 0, sizeof(m));
	m.base = base;
	m.start = start;
	replay_init(&w);
	for (unsigned long step = 0; step < MODEL_STEPS; step++) {
		uint64_t c = next_counter(&m, &seed);
		bool want = model_check(&m, c);
		bool got = replay_check_and_update(&w, c);

		if (want != got)
			fail_msg("step %lu: counter %llu gave %d, model %d", step,
				 (unsigned long long)c, got, want);
		accepted += got;
	}
	/* Guard against a generator that only ever produces rejects. */
	assert_true(accepted > MODEL_STEPS / 10);
	return m.max;
}

static void test_random_vs_model(void **state)
{
	(void)state;
	/* Many ring lengths of travel, so the ring wraps repeatedly. */
	assert_true(run_random(0, 0, 0x9e3779b97f4a7c15ULL) > 100 * REPLAY_BITS_TOTAL);
	assert_true(run_random(1000, 12345, 42) > 100 * REPLAY_BITS_TOTAL);
}

/* Same at the top of the counter space, where traffic crosses REJECT_AFTER_MESSAGES. */
static void test_random_near_reject_limit(void **state)
{
	uint64_t base = UINT64_MAX - (MODEL_SPAN - 1);

	(void)state;
	/* The traffic must actually have reached the limit. */
	assert_true(run_random(base, REJ - 300000, 7) == REJ - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_constants),
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_bulk),
		cmocka_unit_test(test_large_jump_clears_ring),
		cmocka_unit_test(test_shuffled_within_window),
		cmocka_unit_test(test_random_vs_model),
		cmocka_unit_test(test_random_near_reject_limit),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
