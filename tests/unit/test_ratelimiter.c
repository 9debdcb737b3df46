/* Unit tests for the handshake rate limiter, on a fake clock: bursts, refill, keys, collection. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "ratelimiter.h"

#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <sys/un.h>

#define MS 1000000ULL
#define SEC 1000000000ULL
#define T0 (1000 * SEC) /* a monotonic clock does not start at 0 */

/* "192.0.2.1" or "2001:db8::1", with a port, which the limiter must ignore. */
static const struct sockaddr *addr(struct sockaddr_storage *ss, const char *text, uint16_t port)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
	} else {
		assert_int_equal(inet_pton(AF_INET6, text, &sin6->sin6_addr), 1);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
	}
	return (const struct sockaddr *)ss;
}

static bool allow(struct ratelimiter *r, const char *text, uint64_t now)
{
	struct sockaddr_storage ss;

	return ratelimiter_allow(r, addr(&ss, text, 51820), now);
}

static void init_default(struct ratelimiter *r, size_t max_entries)
{
	assert_int_equal(ratelimiter_init(r, RATELIMITER_PACKETS_PER_SECOND, RATELIMITER_BURST,
					  max_entries),
			 0);
}

/* How many of n packets at now pass. */
static int passed(struct ratelimiter *r, const char *text, uint64_t now, int n)
{
	int ok = 0;

	for (int i = 0; i < n; i++)
		ok += allow(r, text, now);
	return ok;
}

static void burst_then_refill(void **state)
{
	/* one source, 20/s with a burst of 5: a packet's worth of tokens every 50 ms */
	static const struct {
		uint64_t at;
		int sent, passed;
	} steps[] = {
		{ T0, 8, 5 },		    /* the burst, then refusals */
		{ T0 + 49 * MS, 1, 0 },	    /* not yet a whole token */
		{ T0 + 50 * MS, 2, 1 },	    /* one token, refusals in between did not cost any */
		{ T0 + 150 * MS, 3, 2 },    /* two more */
		{ T0 + 10 * SEC, 9, 5 },    /* a long pause refills only up to the burst */
		{ T0 + 10 * SEC + 25 * MS, 1, 0 },
		{ T0 + 10 * SEC + 50 * MS, 1, 1 }, /* half tokens add up */
	};
	struct ratelimiter r;

	init_default(&r, 16);
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++)
		if (passed(&r, "192.0.2.1", steps[i].at, steps[i].sent) != steps[i].passed)
			fail_msg("step %zu: expected %d to pass", i, steps[i].passed);
	ratelimiter_free(&r);
}

/*
 * Two addresses share a bucket when the second is refused after the first used the burst.
 * IPv6 is keyed by its /64; IPv4-mapped IPv6 is the IPv4 address; ports never matter.
 */
static void which_sources_share(void **state)
{
	static const struct {
		const char *a, *b;
		bool shared;
	} cases[] = {
		{ "192.0.2.1", "192.0.2.1", true },
		{ "192.0.2.1", "192.0.2.2", false },
		{ "192.0.2.1", "::ffff:192.0.2.1", true },
		{ "::ffff:192.0.2.1", "::ffff:192.0.2.2", false },
		{ "2001:db8:1:2::1", "2001:db8:1:2:ffff:ffff:ffff:ffff", true },
		{ "2001:db8:1:2::1", "2001:db8:1:3::1", false },
		{ "2001:db8:1:2::1", "2001:db9:1:2::1", false },
		{ "0.0.0.0", "::", false },		   /* the family is part of the key */
		{ "10.0.0.1", "::10.0.0.1", false },	   /* IPv4-compatible is not IPv4-mapped */
		{ "192.0.2.1", "c000:201::", false },	   /* same leading bytes, other family */
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ratelimiter r;
		struct sockaddr_storage ss;

		init_default(&r, 16);
		assert_int_equal(passed(&r, cases[i].a, T0, RATELIMITER_BURST), RATELIMITER_BURST);
		/* another port of the same address */
		assert_false(ratelimiter_allow(&r, addr(&ss, cases[i].a, 1), T0));
		if (allow(&r, cases[i].b, T0) == cases[i].shared)
			fail_msg("%s and %s: expected %s buckets", cases[i].a, cases[i].b,
				 cases[i].shared ? "shared" : "separate");
		ratelimiter_free(&r);
	}
}

static void other_families_refused(void **state)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct ratelimiter r;

	init_default(&r, 16);
	assert_false(ratelimiter_allow(&r, (const struct sockaddr *)&sun, T0));
	assert_int_equal(ratelimiter_count(&r), 0);
	ratelimiter_free(&r);
}

static void idle_sources_collected(void **state)
{
	struct ratelimiter r;

	init_default(&r, 16);
	assert_true(allow(&r, "192.0.2.1", T0));
	assert_true(allow(&r, "192.0.2.2", T0 + 500 * MS));
	assert_int_equal(ratelimiter_count(&r), 2);
	assert_true(allow(&r, "192.0.2.3", T0 + 999 * MS)); /* collection is once a second */
	assert_int_equal(ratelimiter_count(&r), 3);
	assert_true(allow(&r, "192.0.2.3", T0 + 1000 * MS)); /* .1 has been idle 1 s */
	assert_int_equal(ratelimiter_count(&r), 2);
	assert_true(allow(&r, "192.0.2.4", T0 + 1600 * MS)); /* not yet a second since the last */
	assert_int_equal(ratelimiter_count(&r), 3);
	assert_true(allow(&r, "192.0.2.4", T0 + 2000 * MS)); /* .2 and .3 idle at least 1 s */
	assert_int_equal(ratelimiter_count(&r), 1);
	ratelimiter_free(&r);
}

/* A slow bucket takes longer than a second to fill: it must not be forgotten, and refilled,
 * before then. */
static void slow_bucket_kept_until_full(void **state)
{
	struct ratelimiter r;

	assert_int_equal(ratelimiter_init(&r, 1, 3, 16), 0);
	assert_int_equal(passed(&r, "192.0.2.1", T0, 4), 3);
	assert_true(allow(&r, "192.0.2.2", T0 + 1500 * MS)); /* runs a collection */
	assert_int_equal(passed(&r, "192.0.2.1", T0 + 1500 * MS, 3), 1);
	assert_true(allow(&r, "192.0.2.2", T0 + 4500 * MS)); /* idle 3 s: full, so forgotten */
	assert_int_equal(ratelimiter_count(&r), 1);
	ratelimiter_free(&r);
}

static void full_table_refuses_then_recovers(void **state)
{
	static const char *const sources[] = { "192.0.2.1", "192.0.2.2", "2001:db8::1",
					       "2001:db8:0:1::1" };
	struct ratelimiter r;

	init_default(&r, 4);
	for (int i = 0; i < 4; i++)
		assert_true(allow(&r, sources[i], T0));
	assert_false(allow(&r, "198.51.100.1", T0));
	assert_true(allow(&r, sources[0], T0)); /* known sources keep their buckets */
	assert_false(allow(&r, "198.51.100.1", T0 + 999 * MS));
	assert_true(allow(&r, sources[1], T0 + 999 * MS));
	assert_true(allow(&r, "198.51.100.1", T0 + 1000 * MS)); /* three were collected */
	assert_int_equal(ratelimiter_count(&r), 2);
	for (int i = 2; i < 4; i++)
		assert_true(allow(&r, sources[i], T0 + 1000 * MS)); /* reusing collected entries */
	assert_false(allow(&r, "198.51.100.2", T0 + 1000 * MS));
	ratelimiter_free(&r);
}

/* The default bound, filled by distinct IPv4 sources, as a spoofing flood would. */
static void default_bound(void **state)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	struct ratelimiter r;

	init_default(&r, RATELIMITER_MAX_ENTRIES);
	for (uint32_t i = 0; i <= RATELIMITER_MAX_ENTRIES; i++) {
		sin.sin_addr.s_addr = htonl(0x0a000000 + i);
		assert_true(ratelimiter_allow(&r, (const struct sockaddr *)&sin, T0) ==
			    (i < RATELIMITER_MAX_ENTRIES));
	}
	assert_int_equal(ratelimiter_count(&r), RATELIMITER_MAX_ENTRIES);
	sin.sin_addr.s_addr = htonl(0x0a000000);
	assert_true(ratelimiter_allow(&r, (const struct sockaddr *)&sin, T0 + SEC));
	assert_int_equal(ratelimiter_count(&r), 1);
	ratelimiter_free(&r);
}

static void bad_parameters(void **state)
{
	static const struct {
		uint64_t pps, burst;
		size_t max_entries;
	} cases[] = {
		{ 0, 5, 16 }, { 20, 0, 16 }, { 20, 5, 0 }, { 2000000000, 5, 16 },
		{ 20, UINT64_MAX, 16 }, { 20, 5, SIZE_MAX },
	};
	struct ratelimiter r;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (ratelimiter_init(&r, cases[i].pps, cases[i].burst, cases[i].max_entries) != -EINVAL)
			fail_msg("case %zu accepted", i);
		ratelimiter_free(&r); /* zeroed by the failed init: safe */
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(burst_then_refill),
		cmocka_unit_test(which_sources_share),
		cmocka_unit_test(other_families_refused),
		cmocka_unit_test(idle_sources_collected),
		cmocka_unit_test(slow_bucket_kept_until_full),
		cmocka_unit_test(full_table_refuses_then_recovers),
		cmocka_unit_test(default_bound),
		cmocka_unit_test(bad_parameters),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
