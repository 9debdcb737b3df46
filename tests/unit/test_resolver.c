/* Unit tests for name lookups off the event loop: each answer reaches the loop's thread with
 * its tag, name and port, in the order asked; a malformed address fails with its reason; and
 * stopping with lookups still queued drops them without waiting (ASan checks the memory); and
 * the rules of looking a remote's name up again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "resolver.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct seen {
	struct loop *loop;
	pthread_t loop_thread;
	int count, want;
	uint64_t tags[4];
	int rets[4];
	union endpoint found[4];
	char why[4][200];
};

static void on_answer(void *ctx, const struct resolver_answer *a)
{
	struct seen *s = ctx;

	assert_true(pthread_equal(pthread_self(), s->loop_thread));
	assert_true(s->count < 4);
	s->tags[s->count] = a->tag;
	s->rets[s->count] = a->ret;
	s->found[s->count] = a->found;
	strcpy(s->why[s->count], a->why);
	if (++s->count == s->want)
		loop_stop(s->loop);
}

static void answers_come_back_in_order(void **state)
{
	struct loop loop;
	struct seen s = { .loop = &loop, .loop_thread = pthread_self(), .want = 3 };
	struct resolver *r;

	(void)state;
	assert_int_equal(loop_init(&loop), 0);
	assert_int_equal(resolver_start(&r, &loop, on_answer, &s), 0);
	assert_int_equal(resolver_ask(r, "192.0.2.7", 51820, 1), 0); /* a literal: no lookup */
	assert_int_equal(resolver_ask(r, "300.1.1.1", 51820, 2), 0); /* not an address, no name */
	assert_int_equal(resolver_ask(r, "localhost", 80, 3), 0);    /* /etc/hosts */
	assert_int_equal(loop_run(&loop), 0);
	assert_int_equal(s.count, 3);
	assert_int_equal(s.tags[0], 1);
	assert_int_equal(s.rets[0], 0);
	assert_int_equal(s.found[0].sa.sa_family, AF_INET);
	assert_int_equal(ntohs(s.found[0].in.sin_port), 51820);
	assert_int_equal(s.found[0].in.sin_addr.s_addr, htonl(0xc0000207));
	assert_int_equal(s.tags[1], 2);
	assert_int_equal(s.rets[1], -EINVAL);
	assert_non_null(strstr(s.why[1], "300.1.1.1"));
	assert_int_equal(s.tags[2], 3);
	assert_int_equal(s.rets[2], 0);
	assert_int_equal(endpoint_port(&s.found[2]), 80);
	resolver_stop(r);
	loop_close(&loop);
}

static void stop_drops_what_is_queued(void **state)
{
	struct loop loop;
	struct seen s = { .loop = &loop, .loop_thread = pthread_self() };
	struct resolver *r;

	(void)state;
	assert_int_equal(loop_init(&loop), 0);
	assert_int_equal(resolver_start(&r, &loop, on_answer, &s), 0);
	for (int i = 0; i < 100; i++)
		assert_int_equal(resolver_ask(r, "localhost", 80, (uint64_t)i), 0);
	resolver_stop(r); /* returns at once; the thread frees what is left */
	loop_close(&loop);
	resolver_stop(NULL);
	assert_int_equal(s.count, 0); /* the loop never ran: nothing was delivered */
}

static struct resolver_answer answer(const char *name, uint16_t port, const char *ip)
{
	struct resolver_answer a = { .name = name, .port = port };

	if (ip)
		assert_int_equal(addr_parse_literal(ip, port, &a.found), 0);
	else
		a.ret = -EAGAIN, strcpy(a.why, "cannot resolve");
	return a;
}

/* The policy both tunnels share: at most one lookup per interval and one at a time; an answer
 * for a name that changed since is ignored; a failure, the same address and a new one. */
static void endpoint_name_rules(void **state)
{
	struct endpoint_name en = { 0 };
	struct stats st = { 0 };
	union endpoint current, to;
	struct resolver_answer a;

	(void)state;
	assert_int_equal(addr_parse_literal("192.0.2.2", 51820, &current), 0);
	assert_false(endpoint_name_due(&en, 100, 10, &st)); /* no name: nothing to look up */
	endpoint_name_set(&en, strdup("home.example.net"), 51820);
	assert_true(endpoint_name_due(&en, 100, 10, &st));
	assert_false(endpoint_name_due(&en, 200, 10, &st)); /* one at a time */
	a = answer("home.example.net", 51820, NULL);
	assert_false(endpoint_name_follow(&en, &a, AF_INET, &current, "peer 1:", 200, &st, &to));
	assert_int_equal(st.endpoint_lookup_failures, 1);
	assert_false(endpoint_name_due(&en, 105, 10, &st)); /* within the interval */
	assert_true(endpoint_name_due(&en, 110, 10, &st));
	a = answer("home.example.net", 51820, "192.0.2.2");
	assert_false(endpoint_name_follow(&en, &a, AF_INET, &current, "peer 1:", 200, &st, &to));
	assert_true(endpoint_name_due(&en, 120, 10, &st));
	endpoint_name_set(&en, strdup("other.example.net"), 51820); /* renamed meanwhile */
	a = answer("home.example.net", 51820, "192.0.2.3");
	assert_false(endpoint_name_follow(&en, &a, AF_INET, &current, "peer 1:", 200, &st, &to));
	assert_true(endpoint_name_due(&en, 120, 10, &st));
	a = answer("other.example.net", 51820, "192.0.2.3");
	assert_true(endpoint_name_follow(&en, &a, AF_INET, &current, "peer 1:", 200, &st, &to));
	assert_true(endpoint_equal(&to, &a.found));
	assert_int_equal(st.endpoint_lookups, 4);
	assert_int_equal(st.endpoint_lookup_failures, 1);
	assert_int_equal(st.endpoint_changes, 1);
	endpoint_name_set(&en, NULL, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(answers_come_back_in_order),
		cmocka_unit_test(stop_drops_what_is_queued),
		cmocka_unit_test(endpoint_name_rules),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
