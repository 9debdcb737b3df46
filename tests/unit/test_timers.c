/* Unit tests for the timer rules, driven by a fake clock and a simulated event loop. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "timers.h"

#define S(x) ((uint64_t)(x) * TIMERS_NSEC_PER_SEC)
#define MS(x) ((uint64_t)(x) * UINT64_C(1000000))
/* A boot time far from 0, so "0 = not armed" can't hide a bug. */
#define T0 S(1000)

enum { N_ACTIONS = 6, MAX_LOG = 256 };

/*
 * The fake clock plus the caller's side of the contract: each action is answered with the
 * packet it asks for, and that packet raises the events the header's call map lists. Every
 * fired action is logged with its time.
 */
struct sim {
	struct timers t;
	uint64_t now;
	uint64_t jitter;
	bool react;
	unsigned count[N_ACTIONS];
	size_t n_log;
	struct {
		uint64_t at;
		unsigned action;
	} log[MAX_LOG];
};

static unsigned bit_index(unsigned bit)
{
	return (unsigned)__builtin_ctz(bit);
}

static void send_initiation(struct sim *s)
{
	timers_any_authenticated_packet_traversal(&s->t, s->now);
	timers_any_authenticated_packet_sent(&s->t, s->now);
	timers_handshake_initiated(&s->t, s->now, s->jitter);
}

static void send_keepalive(struct sim *s)
{
	timers_any_authenticated_packet_traversal(&s->t, s->now);
	timers_any_authenticated_packet_sent(&s->t, s->now);
}

static void send_data(struct sim *s)
{
	send_keepalive(s);
	timers_data_sent(&s->t, s->now, s->jitter);
}

static void receive_data(struct sim *s)
{
	timers_any_authenticated_packet_received(&s->t, s->now);
	timers_any_authenticated_packet_traversal(&s->t, s->now);
	timers_data_received(&s->t, s->now);
}

static void record(struct sim *s, unsigned actions)
{
	for (unsigned bit = 1; bit < (1u << N_ACTIONS); bit <<= 1) {
		if (!(actions & bit))
			continue;
		s->count[bit_index(bit)]++;
		assert_true(s->n_log < MAX_LOG);
		s->log[s->n_log].at = s->now;
		s->log[s->n_log++].action = bit;
	}
}

static void react(struct sim *s, unsigned actions)
{
	if (actions & (TIMER_SEND_HANDSHAKE_RETRY | TIMER_SEND_NEW_HANDSHAKE))
		send_initiation(s);
	if (actions & (TIMER_SEND_KEEPALIVE | TIMER_SEND_PERSISTENT_KEEPALIVE))
		send_keepalive(s);
}

/* The event loop: sleep to each deadline in turn, never past until, then rest at until. */
static void run_until(struct sim *s, uint64_t until)
{
	for (;;) {
		uint64_t next = timers_next_deadline(&s->t);

		if (!next || next > until)
			break;
		assert_true(next >= s->now);
		s->now = next;
		unsigned actions = timers_expire(&s->t, s->now);

		/* Waking at the deadline must always fire something, or the loop would spin. */
		assert_false(actions == 0 && timers_next_deadline(&s->t) == next);
		record(s, actions);
		if (s->react)
			react(s, actions);
	}
	s->now = until;
}

static void sim_init(struct sim *s)
{
	memset(s, 0, sizeof(*s));
	timers_init(&s->t);
	s->now = T0;
	s->react = true;
}

static unsigned count(const struct sim *s, unsigned action)
{
	return s->count[bit_index(action)];
}

/* Time of the n-th (0-based) occurrence of action in the log, or 0. */
static uint64_t nth(const struct sim *s, unsigned action, unsigned n)
{
	for (size_t i = 0; i < s->n_log; i++)
		if (s->log[i].action == action && n-- == 0)
			return s->log[i].at;
	return 0;
}

/* --- handshake retransmission --- */

static void test_retransmit_at_rekey_timeout_plus_jitter(void **state)
{
	struct timers t;

	timers_init(&t);
	timers_handshake_initiated(&t, T0, MS(200));
	assert_int_equal(timers_next_deadline(&t), T0 + S(5) + MS(200));
	assert_int_equal(timers_expire(&t, T0 + S(5) + MS(200) - 1), 0);
	assert_int_equal(timers_expire(&t, T0 + S(5) + MS(200)), TIMER_SEND_HANDSHAKE_RETRY);
	assert_int_equal(t.handshake_attempts, 1);
	assert_int_equal(timers_next_deadline(&t), 0);

	/* A raw random word is reduced below 333 ms. */
	timers_handshake_initiated(&t, T0, UINT64_MAX);
	assert_true(timers_next_deadline(&t) >= T0 + S(5));
	assert_true(timers_next_deadline(&t) < T0 + S(5) + TIMERS_JITTER_MAX_NS);
}

static void test_give_up_after_rekey_attempt_time(void **state)
{
	struct sim s;

	sim_init(&s);
	send_initiation(&s);
	run_until(&s, T0 + S(200));

	/*
	 * As Linux and wireguard-go: give up once the retry count passes MAX_TIMER_HANDSHAKES
	 * (18), so the first try plus 19 retries go out and the 20th expiry gives up, ~100 s in.
	 */
	assert_int_equal(count(&s, TIMER_SEND_HANDSHAKE_RETRY), MAX_TIMER_HANDSHAKES + 1);
	assert_int_equal(count(&s, TIMER_GIVE_UP), 1);
	for (unsigned i = 0; i <= MAX_TIMER_HANDSHAKES; i++)
		assert_int_equal(nth(&s, TIMER_SEND_HANDSHAKE_RETRY, i), T0 + S(5) * (i + 1));
	uint64_t gave_up = nth(&s, TIMER_GIVE_UP, 0);

	assert_int_equal(gave_up, T0 + S(5) * (MAX_TIMER_HANDSHAKES + 2));
	assert_true(gave_up - T0 >= S(REKEY_ATTEMPT_TIME));
	assert_int_equal(s.t.handshake_attempt_start, T0);

	/* After giving up only the key wipe remains, 540 s later. */
	assert_int_equal(timers_next_deadline(&s.t), gave_up + S(540));
	run_until(&s, gave_up + S(540));
	assert_int_equal(count(&s, TIMER_ZERO_KEYS), 1);
	assert_int_equal(count(&s, TIMER_SEND_HANDSHAKE_RETRY), MAX_TIMER_HANDSHAKES + 1);
	assert_int_equal(timers_next_deadline(&s.t), 0);
}

static void test_give_up_with_max_jitter_stays_near_90s(void **state)
{
	struct sim s;

	sim_init(&s);
	s.jitter = TIMERS_JITTER_MAX_NS - 1;
	send_initiation(&s);
	run_until(&s, T0 + S(200));
	assert_int_equal(count(&s, TIMER_SEND_HANDSHAKE_RETRY), MAX_TIMER_HANDSHAKES + 1);
	uint64_t gave_up = nth(&s, TIMER_GIVE_UP, 0) - T0;

	assert_true(gave_up > S(REKEY_ATTEMPT_TIME));
	assert_true(gave_up < (MAX_TIMER_HANDSHAKES + 2) * (S(5) + TIMERS_JITTER_MAX_NS));
}

static void test_give_up_keeps_pending_key_wipe(void **state)
{
	struct sim s;

	sim_init(&s);
	timers_session_derived(&s.t, s.now);
	send_initiation(&s);
	run_until(&s, T0 + S(100));
	assert_int_equal(count(&s, TIMER_GIVE_UP), 1);
	assert_int_equal(s.t.zero_key_material, T0 + S(540));
}

static void test_give_up_cancels_keepalive(void **state)
{
	struct sim s;

	sim_init(&s);
	s.react = false;
	timers_handshake_initiated(&s.t, s.now, 0);
	s.t.handshake_attempts = MAX_TIMER_HANDSHAKES + 1;
	timers_data_received(&s.t, s.now + S(1));
	assert_int_equal(timers_expire(&s.t, s.now + S(5)), TIMER_GIVE_UP);
	assert_int_equal(s.t.send_keepalive, 0);
}

static void test_handshake_complete_stops_retransmit(void **state)
{
	struct sim s;

	sim_init(&s);
	send_initiation(&s);
	run_until(&s, T0 + S(12));
	assert_int_equal(count(&s, TIMER_SEND_HANDSHAKE_RETRY), 2);
	timers_handshake_complete(&s.t, s.now);
	assert_int_equal(s.t.handshake_attempts, 0);
	assert_int_equal(timers_next_deadline(&s.t), 0);
	run_until(&s, T0 + S(200));
	assert_int_equal(count(&s, TIMER_SEND_HANDSHAKE_RETRY), 2);
	assert_int_equal(count(&s, TIMER_GIVE_UP), 0);
}

static void test_handshake_wanted_rate_limit_and_fresh_attempts(void **state)
{
	struct sim s;

	sim_init(&s);
	assert_true(timers_handshake_wanted(&s.t, s.now));
	send_initiation(&s);
	assert_false(timers_handshake_wanted(&s.t, T0 + S(5) - 1));
	assert_true(timers_handshake_wanted(&s.t, T0 + S(5)));

	/* Traffic that keeps wanting a handshake keeps the attempt from giving up. */
	run_until(&s, T0 + S(80));
	assert_int_equal(count(&s, TIMER_SEND_HANDSHAKE_RETRY), 16);
	assert_false(timers_handshake_wanted(&s.t, s.now));
	assert_int_equal(s.t.handshake_attempts, 0);
	run_until(&s, T0 + S(190));
	assert_int_equal(count(&s, TIMER_GIVE_UP), 1);
	assert_int_equal(nth(&s, TIMER_GIVE_UP, 0), T0 + S(80) + S(5) * (MAX_TIMER_HANDSHAKES + 2));
	assert_int_equal(s.t.handshake_attempt_start, T0);

	/* A response we sent holds back our own initiation too. */
	timers_response_sent(&s.t, s.now);
	assert_false(timers_handshake_wanted(&s.t, s.now + S(4)));
	assert_true(timers_handshake_wanted(&s.t, s.now + S(5)));
}

/* --- passive keepalive --- */

static void test_keepalive_after_data_received_and_silence(void **state)
{
	struct sim s;

	sim_init(&s);
	receive_data(&s);
	assert_int_equal(timers_next_deadline(&s.t), T0 + S(10));
	run_until(&s, T0 + S(10) - 1);
	assert_int_equal(count(&s, TIMER_SEND_KEEPALIVE), 0);
	run_until(&s, T0 + S(60));
	assert_int_equal(count(&s, TIMER_SEND_KEEPALIVE), 1);
	assert_int_equal(nth(&s, TIMER_SEND_KEEPALIVE, 0), T0 + S(10));
	assert_int_equal(count(&s, TIMER_SEND_NEW_HANDSHAKE), 0);
}

static void test_no_keepalive_if_we_sent_meanwhile(void **state)
{
	struct sim s;

	sim_init(&s);
	receive_data(&s);
	run_until(&s, T0 + S(3));
	send_data(&s);
	timers_any_authenticated_packet_received(&s.t, s.now);	/* the peer answered */
	run_until(&s, T0 + S(60));
	assert_int_equal(count(&s, TIMER_SEND_KEEPALIVE), 0);
	assert_int_equal(s.n_log, 0);
}

static void test_keepalive_not_pushed_back_by_more_data(void **state)
{
	struct sim s;

	sim_init(&s);
	s.react = false;
	receive_data(&s);
	run_until(&s, T0 + S(4));
	receive_data(&s);
	assert_true(s.t.need_another_keepalive);
	run_until(&s, T0 + S(10));
	assert_int_equal(nth(&s, TIMER_SEND_KEEPALIVE, 0), T0 + S(10));
	/* Linux re-arms for the data that came in while it was pending. */
	assert_int_equal(s.t.send_keepalive, T0 + S(20));
	assert_false(s.t.need_another_keepalive);
}

/* --- new handshake after unanswered data --- */

static void test_new_handshake_after_unanswered_data(void **state)
{
	struct sim s;

	sim_init(&s);
	for (int i = 0; i < 14; i++) {
		send_data(&s);
		run_until(&s, s.now + S(1));
	}
	/* Counted from the first packet: steady sending doesn't push it back. */
	assert_int_equal(s.t.new_handshake, T0 + S(15));
	run_until(&s, T0 + S(15) - 1);
	assert_int_equal(count(&s, TIMER_SEND_NEW_HANDSHAKE), 0);
	run_until(&s, T0 + S(15));
	assert_int_equal(count(&s, TIMER_SEND_NEW_HANDSHAKE), 1);
	assert_int_equal(s.t.handshake_attempts, 0);
	assert_int_equal(s.t.retransmit_handshake, T0 + S(20));
}

static void test_new_handshake_jitter(void **state)
{
	struct timers t;

	timers_init(&t);
	timers_data_sent(&t, T0, MS(100));
	assert_int_equal(timers_next_deadline(&t), T0 + S(15) + MS(100));
}

static void test_no_new_handshake_if_answered(void **state)
{
	struct sim s;

	sim_init(&s);
	send_data(&s);
	run_until(&s, T0 + S(14));
	timers_any_authenticated_packet_received(&s.t, s.now);	/* even a bare keepalive */
	run_until(&s, T0 + S(100));
	assert_int_equal(count(&s, TIMER_SEND_NEW_HANDSHAKE), 0);
	assert_int_equal(s.n_log, 0);
}

static void test_new_handshake_rate_limited(void **state)
{
	struct timers t;

	timers_init(&t);
	timers_data_sent(&t, T0, 0);
	timers_handshake_initiated(&t, T0 + S(12), 0);
	t.handshake_attempts = 3;
	/* Within REKEY_TIMEOUT of the last initiation: nothing new, but a fresh attempt count. */
	assert_int_equal(timers_expire(&t, T0 + S(15)), 0);
	assert_int_equal(t.handshake_attempts, 0);
	assert_int_equal(t.new_handshake, 0);
}

static void test_retry_and_new_handshake_together_send_once(void **state)
{
	struct timers t;

	timers_init(&t);
	timers_handshake_initiated(&t, T0, 0);
	timers_data_sent(&t, T0 - S(10), 0);
	unsigned actions = timers_expire(&t, T0 + S(5));

	assert_int_equal(actions, TIMER_SEND_HANDSHAKE_RETRY);
	assert_int_equal(timers_next_deadline(&t), 0);
}

/* --- persistent keepalive --- */

static void test_persistent_keepalive_immediately_then_every_interval(void **state)
{
	struct sim s;

	sim_init(&s);
	timers_set_persistent_keepalive(&s.t, s.now, 25);
	assert_int_equal(timers_next_deadline(&s.t), T0);
	run_until(&s, T0 + S(100));
	assert_int_equal(count(&s, TIMER_SEND_PERSISTENT_KEEPALIVE), 5);
	for (unsigned i = 0; i < 5; i++)
		assert_int_equal(nth(&s, TIMER_SEND_PERSISTENT_KEEPALIVE, i), T0 + S(25) * i);
}

static void test_persistent_keepalive_restarts_on_any_traversal(void **state)
{
	struct sim s;

	sim_init(&s);
	timers_set_persistent_keepalive(&s.t, s.now, 25);
	run_until(&s, T0);
	assert_int_equal(count(&s, TIMER_SEND_PERSISTENT_KEEPALIVE), 1);

	/* Received at 10 s: next one at 35 s. */
	run_until(&s, T0 + S(10));
	timers_any_authenticated_packet_received(&s.t, s.now);
	timers_any_authenticated_packet_traversal(&s.t, s.now);
	/* Sent at 30 s: next one at 55 s. */
	run_until(&s, T0 + S(30));
	assert_int_equal(count(&s, TIMER_SEND_PERSISTENT_KEEPALIVE), 1);
	send_data(&s);
	timers_any_authenticated_packet_received(&s.t, s.now);
	run_until(&s, T0 + S(55) - 1);
	assert_int_equal(count(&s, TIMER_SEND_PERSISTENT_KEEPALIVE), 1);
	run_until(&s, T0 + S(55));
	assert_int_equal(nth(&s, TIMER_SEND_PERSISTENT_KEEPALIVE, 1), T0 + S(55));
}

/* The rendezvous's keepalive behind NAT: first due one interval on (the mapping is fresh),
 * restarted by traffic, and a configured PersistentKeepalive wins while set. */
static void test_nat_keepalive(void **state)
{
	struct timers t;

	timers_init(&t);
	timers_set_nat_keepalive(&t, T0, 25);
	assert_int_equal(timers_next_deadline(&t), T0 + S(25));
	timers_any_authenticated_packet_traversal(&t, T0 + S(10));
	assert_int_equal(timers_next_deadline(&t), T0 + S(35));
	assert_int_equal(timers_expire(&t, T0 + S(35)), TIMER_SEND_PERSISTENT_KEEPALIVE);

	timers_set_persistent_keepalive(&t, T0 + S(36), 5);
	timers_any_authenticated_packet_traversal(&t, T0 + S(36));
	assert_int_equal(timers_next_deadline(&t), T0 + S(41)); /* the configured one */
	timers_set_persistent_keepalive(&t, T0 + S(37), 0);
	timers_any_authenticated_packet_traversal(&t, T0 + S(37));
	assert_int_equal(timers_next_deadline(&t), T0 + S(62)); /* back to NAT's */
	timers_stop(&t);
	assert_int_equal(t.nat_keepalive_interval, 25);

	timers_set_nat_keepalive(&t, T0 + S(40), 0);
	timers_any_authenticated_packet_traversal(&t, T0 + S(41));
	assert_int_equal(timers_next_deadline(&t), 0);
	assert_int_equal(timers_expire(&t, T0 + S(1000)), 0);
}

static void test_persistent_keepalive_config_changes(void **state)
{
	struct timers t;

	timers_init(&t);
	timers_any_authenticated_packet_traversal(&t, T0);
	assert_int_equal(timers_next_deadline(&t), 0);	/* off: no timer */

	timers_set_persistent_keepalive(&t, T0, 25);
	assert_int_equal(timers_expire(&t, T0), TIMER_SEND_PERSISTENT_KEEPALIVE);
	timers_any_authenticated_packet_traversal(&t, T0);
	/* Changing a non-zero interval doesn't send at once. */
	timers_set_persistent_keepalive(&t, T0 + S(1), 40);
	assert_int_equal(timers_next_deadline(&t), T0 + S(25));
	timers_any_authenticated_packet_traversal(&t, T0 + S(2));
	assert_int_equal(timers_next_deadline(&t), T0 + S(42));

	timers_set_persistent_keepalive(&t, T0 + S(3), 0);
	assert_int_equal(timers_next_deadline(&t), 0);
	assert_int_equal(timers_expire(&t, T0 + S(1000)), 0);

	/* Interface up with it enabled: due at once. */
	timers_set_persistent_keepalive(&t, T0 + S(4), 25);
	timers_stop(&t);
	assert_int_equal(t.persistent_keepalive_interval, 25);
	assert_int_equal(timers_next_deadline(&t), 0);
	timers_start(&t, T0 + S(5));
	assert_int_equal(timers_expire(&t, T0 + S(5)), TIMER_SEND_PERSISTENT_KEEPALIVE);
}

/* --- key zeroing --- */

static void test_zero_keys_after_540s(void **state)
{
	struct sim s;

	sim_init(&s);
	timers_session_derived(&s.t, s.now);
	run_until(&s, T0 + S(540) - 1);
	assert_int_equal(count(&s, TIMER_ZERO_KEYS), 0);
	run_until(&s, T0 + S(540));
	assert_int_equal(count(&s, TIMER_ZERO_KEYS), 1);

	/* A new session pushes the wipe back. */
	timers_session_derived(&s.t, s.now);
	run_until(&s, s.now + S(100));
	timers_session_derived(&s.t, s.now);
	run_until(&s, T0 + S(540) + S(640) - 1);
	assert_int_equal(count(&s, TIMER_ZERO_KEYS), 1);
	run_until(&s, T0 + S(540) + S(640));
	assert_int_equal(count(&s, TIMER_ZERO_KEYS), 2);
}

/* --- keypair rules --- */

struct rekey_case {
	uint64_t age;
	uint64_t counter;
	bool initiator;
	bool on_send, on_receive, expired;
};

static const struct rekey_case rekey_cases[] = {
	{ 0, 0, true, false, false, false },
	{ S(120) - 1, 0, true, false, false, false },
	{ S(120), 0, true, true, false, false },
	{ S(120), 0, false, false, false, false },	/* responders never rekey on time */
	{ S(165) - 1, 0, true, true, false, false },
	{ S(165), 0, true, true, true, false },
	{ S(165), 0, false, false, false, false },
	{ S(180) - 1, 0, true, true, true, false },
	{ S(180), 0, true, true, true, true },
	{ S(180), 0, false, false, false, true },	/* rejection is for both sides */
	{ 0, REKEY_AFTER_MESSAGES, false, false, false, false },
	{ 0, REKEY_AFTER_MESSAGES + 1, false, true, false, false },
	{ 0, REKEY_AFTER_MESSAGES + 1, true, true, false, false },
	{ 0, REJECT_AFTER_MESSAGES - 1, false, true, false, false },
	{ 0, REJECT_AFTER_MESSAGES, false, true, false, true },
	{ 0, UINT64_MAX, true, true, false, true },
};

static void test_rekey_predicates(void **state)
{
	for (size_t i = 0; i < sizeof(rekey_cases) / sizeof(rekey_cases[0]); i++) {
		const struct rekey_case *c = &rekey_cases[i];
		uint64_t now = T0 + c->age;

		bool on_send = timers_should_rekey_on_send(T0, c->counter, c->initiator, now);
		bool on_receive = timers_should_rekey_on_receive(T0, c->initiator, now);
		bool expired = timers_keypair_expired(T0, c->counter, now);

		if (on_send != c->on_send || on_receive != c->on_receive || expired != c->expired)
			fail_msg("case %zu: send %d receive %d expired %d", i, on_send, on_receive,
				 expired);
	}
	/* A birth time after now (clock misuse) is never "old". */
	assert_false(timers_keypair_expired(T0 + S(1), 0, T0));
	assert_false(timers_should_rekey_on_send(T0 + S(1), 0, true, T0));
}

static void test_lastminute_rekey_once_per_handshake(void **state)
{
	struct timers t;

	timers_init(&t);
	assert_false(timers_lastminute_rekey(&t, T0, true, T0 + S(164)));
	assert_true(timers_lastminute_rekey(&t, T0, true, T0 + S(165)));
	assert_false(timers_lastminute_rekey(&t, T0, true, T0 + S(166)));
	timers_handshake_complete(&t, T0 + S(167));
	assert_true(timers_lastminute_rekey(&t, T0, true, T0 + S(168)));
	timers_init(&t);
	assert_false(timers_lastminute_rekey(&t, T0, false, T0 + S(170)));
}

/* --- next deadline --- */

static uint64_t naive_min(const struct timers *t)
{
	const uint64_t d[] = { t->retransmit_handshake, t->send_keepalive, t->new_handshake,
			       t->zero_key_material, t->persistent_keepalive };
	uint64_t m = 0;

	for (size_t i = 0; i < sizeof(d) / sizeof(d[0]); i++)
		if (d[i] && (!m || d[i] < m))
			m = d[i];
	return m;
}

static void test_next_deadline_basic(void **state)
{
	struct timers t;

	timers_init(&t);
	assert_int_equal(timers_next_deadline(&t), 0);
	timers_session_derived(&t, T0);
	assert_int_equal(timers_next_deadline(&t), T0 + S(540));
	timers_data_sent(&t, T0, 0);
	assert_int_equal(timers_next_deadline(&t), T0 + S(15));
	timers_handshake_initiated(&t, T0, 0);
	assert_int_equal(timers_next_deadline(&t), T0 + S(5));
	timers_data_received(&t, T0 + S(1));
	assert_int_equal(timers_next_deadline(&t), T0 + S(5));
	assert_int_equal(timers_expire(&t, T0 + S(5)), TIMER_SEND_HANDSHAKE_RETRY);
	assert_int_equal(timers_next_deadline(&t), T0 + S(11));
	timers_stop(&t);
	assert_int_equal(timers_next_deadline(&t), 0);

	/* A deadline at clock 0 is still armed. */
	timers_set_persistent_keepalive(&t, 0, 25);
	assert_int_not_equal(timers_next_deadline(&t), 0);
}

/* Random events; at every step the deadline is the earliest timer and nothing fires early. */
static void test_next_deadline_random_walk(void **state)
{
	struct timers t;
	uint64_t now = T0;

	srand(1);
	timers_init(&t);
	for (int step = 0; step < 20000; step++) {
		now += (uint64_t)(rand() % 4000) * MS(1);
		switch (rand() % 10) {
		case 0: timers_data_sent(&t, now, (uint64_t)rand()); break;
		case 1: timers_data_received(&t, now); break;
		case 2: timers_any_authenticated_packet_sent(&t, now); break;
		case 3: timers_any_authenticated_packet_received(&t, now); break;
		case 4: timers_any_authenticated_packet_traversal(&t, now); break;
		case 5: timers_handshake_initiated(&t, now, (uint64_t)rand()); break;
		case 6: timers_handshake_complete(&t, now); break;
		case 7: timers_session_derived(&t, now); break;
		case 8: timers_set_persistent_keepalive(&t, now, (uint16_t)(rand() % 3 * 10)); break;
		default: break;
		}
		uint64_t next = timers_next_deadline(&t);

		assert_int_equal(next, naive_min(&t));
		if (!next)
			continue;
		struct timers before;

		memcpy(&before, &t, sizeof(t));	/* memcpy, so padding compares equal too */

		assert_int_equal(timers_expire(&t, next - 1), 0);
		assert_memory_equal(&before, &t, sizeof(t));
		timers_expire(&t, next);
		assert_true(timers_next_deadline(&t) != next);
		now = next > now ? next : now;
	}
}

static void test_stop_forgets_everything_but_interval(void **state)
{
	struct sim s;

	sim_init(&s);
	timers_set_persistent_keepalive(&s.t, s.now, 25);
	send_initiation(&s);
	send_data(&s);
	receive_data(&s);
	timers_session_derived(&s.t, s.now);
	timers_stop(&s.t);
	assert_int_equal(timers_next_deadline(&s.t), 0);
	assert_int_equal(s.t.persistent_keepalive_interval, 25);
	/* The next initiation after a restart isn't held back by the old one. */
	assert_true(timers_handshake_wanted(&s.t, s.now));
	assert_int_equal(timers_expire(&s.t, s.now + S(10000)), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_retransmit_at_rekey_timeout_plus_jitter),
		cmocka_unit_test(test_give_up_after_rekey_attempt_time),
		cmocka_unit_test(test_give_up_with_max_jitter_stays_near_90s),
		cmocka_unit_test(test_give_up_keeps_pending_key_wipe),
		cmocka_unit_test(test_give_up_cancels_keepalive),
		cmocka_unit_test(test_handshake_complete_stops_retransmit),
		cmocka_unit_test(test_handshake_wanted_rate_limit_and_fresh_attempts),
		cmocka_unit_test(test_keepalive_after_data_received_and_silence),
		cmocka_unit_test(test_no_keepalive_if_we_sent_meanwhile),
		cmocka_unit_test(test_keepalive_not_pushed_back_by_more_data),
		cmocka_unit_test(test_new_handshake_after_unanswered_data),
		cmocka_unit_test(test_new_handshake_jitter),
		cmocka_unit_test(test_no_new_handshake_if_answered),
		cmocka_unit_test(test_new_handshake_rate_limited),
		cmocka_unit_test(test_retry_and_new_handshake_together_send_once),
		cmocka_unit_test(test_persistent_keepalive_immediately_then_every_interval),
		cmocka_unit_test(test_persistent_keepalive_restarts_on_any_traversal),
		cmocka_unit_test(test_persistent_keepalive_config_changes),
		cmocka_unit_test(test_nat_keepalive),
		cmocka_unit_test(test_zero_keys_after_540s),
		cmocka_unit_test(test_rekey_predicates),
		cmocka_unit_test(test_lastminute_rekey_once_per_handshake),
		cmocka_unit_test(test_next_deadline_basic),
		cmocka_unit_test(test_next_deadline_random_walk),
		cmocka_unit_test(test_stop_forgets_everything_but_interval),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
