/* timers.c: WireGuard's per-peer timer rules, after Linux drivers/net/wireguard/timers.c. */

/*
 * - retransmit_handshake: an initiation got no response within REKEY_TIMEOUT + jitter; send
 *   another, and give up once more than MAX_TIMER_HANDSHAKES (REKEY_ATTEMPT_TIME /
 *   REKEY_TIMEOUT = 18) retries went unanswered: 1 + 19 initiations, giving up ~100 s in.
 *
 * - send_keepalive: we received data but have sent nothing for KEEPALIVE_TIMEOUT; send an
 *   empty packet so the peer knows its data arrived.
 *
 * - new_handshake: we sent data but have received nothing authenticated (not even a
 *   keepalive) for KEEPALIVE_TIMEOUT + REKEY_TIMEOUT + jitter; the session is presumed dead,
 *   so initiate a new one.
 *
 * - zero_key_material: no new session for REJECT_AFTER_TIME * 3; wipe the handshake and all
 *   keypairs so old keys don't linger in memory.
 *
 * - persistent_keepalive: if configured, send an empty packet when no authenticated packet has
 *   passed either way for the interval (keeps NAT mappings open); also at once when enabled.
 *
 * Each deadline is an absolute time; timers_expire() fires the due ones, and the caller turns
 * the returned actions into packets, which raise the events that re-arm the timers.
 */
#include <string.h>

#include "timers.h"

#define NS TIMERS_NSEC_PER_SEC

/* Deadlines use 0 for "not armed", so a real deadline at time 0 is nudged to 1 ns. */
static void arm(uint64_t *deadline, uint64_t at)
{
	*deadline = at ? at : 1;
}

static bool due(uint64_t deadline, uint64_t now)
{
	return deadline && deadline <= now;
}

static uint64_t jitter(uint64_t random)
{
	return random % TIMERS_JITTER_MAX_NS;
}

/* Linux's wg_birthdate_has_expired(): at least secs have passed since birth. */
static bool older_than(uint64_t birth, uint64_t now, uint64_t secs)
{
	return now >= birth && now - birth >= secs * NS;
}

/* Linux's rate limit on initiations: one per REKEY_TIMEOUT, counting responses too. */
static bool may_initiate(const struct timers *t, uint64_t now)
{
	return !t->last_handshake_sent || older_than(t->last_handshake_sent, now, REKEY_TIMEOUT);
}

void timers_init(struct timers *t)
{
	memset(t, 0, sizeof(*t));
}

/* The configured persistent keepalive, else the one the rendezvous chose behind NAT. */
static uint16_t keepalive_interval(const struct timers *t)
{
	return t->persistent_keepalive_interval ? t->persistent_keepalive_interval
						: t->nat_keepalive_interval;
}

void timers_start(struct timers *t, uint64_t now)
{
	if (keepalive_interval(t))
		arm(&t->persistent_keepalive, now);
}

void timers_stop(struct timers *t)
{
	uint16_t interval = t->persistent_keepalive_interval, nat = t->nat_keepalive_interval;

	timers_init(t);
	t->persistent_keepalive_interval = interval;
	t->nat_keepalive_interval = nat;
}

void timers_data_sent(struct timers *t, uint64_t now, uint64_t jitter_ns)
{
	/* Counted from the first unanswered packet, so steady sending doesn't push it back. */
	if (!t->new_handshake)
		arm(&t->new_handshake,
		    now + (KEEPALIVE_TIMEOUT + REKEY_TIMEOUT) * NS + jitter(jitter_ns));
}

void timers_data_received(struct timers *t, uint64_t now)
{
	if (!t->send_keepalive)
		arm(&t->send_keepalive, now + KEEPALIVE_TIMEOUT * NS);
	else
		t->need_another_keepalive = true;
}

void timers_any_authenticated_packet_sent(struct timers *t, uint64_t now)
{
	/* Anything we send already tells the peer we are alive. */
	t->send_keepalive = 0;
}

void timers_any_authenticated_packet_received(struct timers *t, uint64_t now)
{
	/* The peer answered, so the session is not dead. */
	t->new_handshake = 0;
}

void timers_any_authenticated_packet_traversal(struct timers *t, uint64_t now)
{
	if (keepalive_interval(t))
		arm(&t->persistent_keepalive, now + keepalive_interval(t) * NS);
}

void timers_handshake_initiated(struct timers *t, uint64_t now, uint64_t jitter_ns)
{
	if (!t->handshake_attempts || !t->handshake_attempt_start)
		arm(&t->handshake_attempt_start, now);
	arm(&t->last_handshake_sent, now);
	/* Jitter keeps two peers that start together from retrying in lockstep. */
	arm(&t->retransmit_handshake, now + REKEY_TIMEOUT * NS + jitter(jitter_ns));
}

void timers_response_sent(struct timers *t, uint64_t now)
{
	arm(&t->last_handshake_sent, now);
}

void timers_handshake_complete(struct timers *t, uint64_t now)
{
	t->retransmit_handshake = 0;
	t->handshake_attempts = 0;
	t->handshake_attempt_start = 0;
	t->sent_lastminute_handshake = false;
}

void timers_session_derived(struct timers *t, uint64_t now)
{
	arm(&t->zero_key_material, now + (uint64_t)KEY_ZEROING_TIME * NS);
}

void timers_set_persistent_keepalive(struct timers *t, uint64_t now, uint16_t interval_s)
{
	bool turned_on = !keepalive_interval(t) && interval_s;

	t->persistent_keepalive_interval = interval_s;
	if (!keepalive_interval(t))
		t->persistent_keepalive = 0;
	else if (turned_on)
		arm(&t->persistent_keepalive, now);
	/* A changed non-zero interval takes effect at the next traversal, as in Linux. */
}

/* Not at once when turned on: the mapping is fresh (a packet just crossed it); the first
 * keepalive falls due one interval after the last traversal, or from now. */
void timers_set_nat_keepalive(struct timers *t, uint64_t now, uint16_t interval_s)
{
	bool turned_on = !keepalive_interval(t) && interval_s;

	t->nat_keepalive_interval = interval_s;
	if (!keepalive_interval(t))
		t->persistent_keepalive = 0;
	else if (turned_on)
		arm(&t->persistent_keepalive, now + (uint64_t)interval_s * NS);
}

bool timers_handshake_wanted(struct timers *t, uint64_t now)
{
	/* Reset even when rate-limited: live traffic keeps the attempt from giving up. */
	t->handshake_attempts = 0;
	return may_initiate(t, now);
}

static unsigned expire_retransmit(struct timers *t, uint64_t now)
{
	if (!due(t->retransmit_handshake, now))
		return 0;
	t->retransmit_handshake = 0;
	if (t->handshake_attempts > MAX_TIMER_HANDSHAKES) {
		t->send_keepalive = 0;
		/* Wipe whatever a partial exchange left, unless a wipe is already pending. */
		if (!t->zero_key_material)
			arm(&t->zero_key_material, now + (uint64_t)KEY_ZEROING_TIME * NS);
		return TIMER_GIVE_UP;
	}
	t->handshake_attempts++;
	return TIMER_SEND_HANDSHAKE_RETRY;
}

static unsigned expire_new_handshake(struct timers *t, uint64_t now, unsigned actions)
{
	if (!due(t->new_handshake, now))
		return 0;
	t->new_handshake = 0;
	/* A retry about to go out in this same round counts as the one allowed initiation. */
	if (!timers_handshake_wanted(t, now) || (actions & TIMER_SEND_HANDSHAKE_RETRY))
		return 0;
	return TIMER_SEND_NEW_HANDSHAKE;
}

static unsigned expire_keepalive(struct timers *t, uint64_t now)
{
	if (!due(t->send_keepalive, now))
		return 0;
	t->send_keepalive = 0;
	/* Linux re-arms here; the keepalive's own any_sent event then disarms it again. */
	if (t->need_another_keepalive) {
		t->need_another_keepalive = false;
		arm(&t->send_keepalive, now + KEEPALIVE_TIMEOUT * NS);
	}
	return TIMER_SEND_KEEPALIVE;
}

static unsigned expire_zero_keys(struct timers *t, uint64_t now)
{
	if (!due(t->zero_key_material, now))
		return 0;
	t->zero_key_material = 0;
	return TIMER_ZERO_KEYS;
}

static unsigned expire_persistent(struct timers *t, uint64_t now)
{
	if (!due(t->persistent_keepalive, now))
		return 0;
	/* Not re-armed here: sending the keepalive is a traversal, and that re-arms it. */
	t->persistent_keepalive = 0;
	return keepalive_interval(t) ? TIMER_SEND_PERSISTENT_KEEPALIVE : 0;
}

unsigned timers_expire(struct timers *t, uint64_t now)
{
	unsigned actions = expire_retransmit(t, now);

	actions |= expire_new_handshake(t, now, actions);
	actions |= expire_keepalive(t, now);
	actions |= expire_zero_keys(t, now);
	actions |= expire_persistent(t, now);
	return actions;
}

static uint64_t earlier(uint64_t a, uint64_t b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	return a < b ? a : b;
}

uint64_t timers_next_deadline(const struct timers *t)
{
	uint64_t next = earlier(t->retransmit_handshake, t->send_keepalive);

	next = earlier(next, t->new_handshake);
	next = earlier(next, t->zero_key_material);
	return earlier(next, t->persistent_keepalive);
}

bool timers_should_rekey_on_send(uint64_t birth, uint64_t counter, bool we_initiated,
				 uint64_t now)
{
	return counter > REKEY_AFTER_MESSAGES ||
	       (we_initiated && older_than(birth, now, REKEY_AFTER_TIME));
}

bool timers_should_rekey_on_receive(uint64_t birth, bool we_initiated, uint64_t now)
{
	return we_initiated && older_than(birth, now, REKEY_AFTER_TIME_RECV);
}

bool timers_lastminute_rekey(struct timers *t, uint64_t birth, bool we_initiated, uint64_t now)
{
	if (t->sent_lastminute_handshake || !timers_should_rekey_on_receive(birth, we_initiated, now))
		return false;
	t->sent_lastminute_handshake = true;
	return true;
}

bool timers_keypair_expired(uint64_t birth, uint64_t counter, uint64_t now)
{
	return counter >= REJECT_AFTER_MESSAGES || older_than(birth, now, REJECT_AFTER_TIME);
}
