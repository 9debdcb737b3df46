/* timers.h: WireGuard's per-peer timer rules as a pure state machine: events in, actions out. */
#ifndef MYVPN_TIMERS_H
#define MYVPN_TIMERS_H

#include <stdbool.h>
#include <stdint.h>

#include "messages.h"

/*
 * Every time is uint64_t monotonic nanoseconds (CLOCK_BOOTTIME or CLOCK_MONOTONIC) passed in by
 * the caller; the module reads no clock, does no I/O and keeps no globals. Randomness for jitter
 * is passed in as a value too: any uint64_t, reduced modulo TIMERS_JITTER_MAX_NS (so a raw
 * random word or a value already in [0, 333 ms) both work; pass 0 in tests).
 *
 * Which events the packet paths raise, as in the Linux module:
 *   send initiation:  traversal, any_sent, handshake_initiated
 *   send response:    traversal, any_sent, session_derived, response_sent
 *   send data/keepalive: traversal, any_sent, then data_sent unless it was a keepalive
 *   consume initiation: any_received, traversal
 *   consume response:   session_derived, handshake_complete, any_received, traversal;
 *                       then send staged packets or a keepalive at once
 *   data decrypted and passed replay: any_received, traversal, then data_received unless
 *                       it was a keepalive; handshake_complete if it was the responder's
 *                       first packet under the "next" keypair
 *   no usable keypair, or a rekey predicate fired: timers_handshake_wanted() gates the send
 * Not thread-safe: the caller serialises access per peer.
 */

#define TIMERS_NSEC_PER_SEC UINT64_C(1000000000)
#define TIMERS_JITTER_MAX_NS ((uint64_t)REKEY_TIMEOUT_JITTER_MAX_MS * UINT64_C(1000000))

/* What timers_expire() asks the caller to do. Several may be set at once. */
enum timer_action {
	/* retransmit timer fired: send a fresh initiation (new ephemeral, index, timestamp) */
	TIMER_SEND_HANDSHAKE_RETRY = 1u << 0,
	/* more than MAX_TIMER_HANDSHAKES retries (REKEY_ATTEMPT_TIME worth) went unanswered:
	 * 1 + 19 initiations, ~100 s, as in Linux and wireguard-go. Drop the staged packets and
	 * stop initiating until new traffic wants a handshake. The caller may clear the half-done
	 * handshake now; TIMER_ZERO_KEYS follows within 540 s in any case. */
	TIMER_GIVE_UP = 1u << 1,
	/* data arrived and we sent nothing for KEEPALIVE_TIMEOUT: send an empty data packet */
	TIMER_SEND_KEEPALIVE = 1u << 2,
	/* data sent and nothing authenticated came back for KEEPALIVE_TIMEOUT + REKEY_TIMEOUT:
	 * send a new initiation (already rate-limited and counted as a fresh attempt) */
	TIMER_SEND_NEW_HANDSHAKE = 1u << 3,
	/* no new session for REJECT_AFTER_TIME * 3: wipe the handshake and all keypairs */
	TIMER_ZERO_KEYS = 1u << 4,
	/* persistent keepalive interval passed: send an empty data packet */
	TIMER_SEND_PERSISTENT_KEEPALIVE = 1u << 5,
};

/*
 * One per peer. Zero-initialised (or timers_init) is a valid idle state. Deadlines are absolute
 * monotonic nanoseconds, 0 = not armed. The fields are readable for logs and UAPI; change them
 * only through the functions below.
 */
struct timers {
	uint64_t retransmit_handshake;
	uint64_t send_keepalive;
	uint64_t new_handshake;
	uint64_t zero_key_material;
	uint64_t persistent_keepalive;
	/* when the current run of initiations began, for "gave up after N s" logs; 0 = none */
	uint64_t handshake_attempt_start;
	/* when we last sent an initiation or response; 0 = never since init or stop */
	uint64_t last_handshake_sent;
	/* seconds, 0 = off; as in UAPI persistent_keepalive_interval */
	uint16_t persistent_keepalive_interval;
	/* seconds, 0 = off: the keepalive the rendezvous chose behind NAT (rendezvous.h); used
	 * only while persistent_keepalive_interval is 0, so a configured one wins */
	uint16_t nat_keepalive_interval;
	/* retries of the current initiation; give up once it passes MAX_TIMER_HANDSHAKES */
	unsigned handshake_attempts;
	/* data arrived while the keepalive timer was already running */
	bool need_another_keepalive;
	/* the receive-side 165 s rekey already fired for this session */
	bool sent_lastminute_handshake;
};

/* Sets the idle state: nothing armed, persistent keepalive off. */
void timers_init(struct timers *t);

/* Call when the interface comes up: a persistent keepalive, if enabled, falls due now. */
void timers_start(struct timers *t, uint64_t now);

/* Call when the interface goes down or the peer is removed: disarms everything and forgets
 * the handshake history so the next initiation is not held back; keeps the configured interval. */
void timers_stop(struct timers *t);

/* Call after an authenticated data packet with a non-empty payload is sent. */
void timers_data_sent(struct timers *t, uint64_t now, uint64_t jitter_ns);

/* Call after an authenticated data packet with a non-empty payload is received. */
void timers_data_received(struct timers *t, uint64_t now);

/* Call after any authenticated packet (initiation, response, data, keepalive) is sent. */
void timers_any_authenticated_packet_sent(struct timers *t, uint64_t now);

/* Call after any authenticated packet (initiation, response, data, keepalive) is received. */
void timers_any_authenticated_packet_received(struct timers *t, uint64_t now);

/* Call when any authenticated packet is sent or received; restarts the persistent keepalive. */
void timers_any_authenticated_packet_traversal(struct timers *t, uint64_t now);

/* Call after a handshake initiation (first try or retry) is created and sent. */
void timers_handshake_initiated(struct timers *t, uint64_t now, uint64_t jitter_ns);

/* Call after a handshake response is sent; holds back our own initiation for REKEY_TIMEOUT. */
void timers_response_sent(struct timers *t, uint64_t now);

/* Call after a response is consumed (initiator), or on the first data under the next keypair
 * (responder): stops retransmission and resets the retry count. */
void timers_handshake_complete(struct timers *t, uint64_t now);

/* Call after a session's keys are derived (response sent or consumed): restarts the 540 s
 * countdown to zeroing key material. */
void timers_session_derived(struct timers *t, uint64_t now);

/* Call when the configured interval changes (0 = off). Turning it on from off makes a
 * keepalive due now, so the first one does not wait an interval. */
void timers_set_persistent_keepalive(struct timers *t, uint64_t now, uint16_t interval_s);
/* The rendezvous's keepalive behind NAT (0 = off); the same timer as the persistent one. */
void timers_set_nat_keepalive(struct timers *t, uint64_t now, uint16_t interval_s);

/*
 * Call when the send path wants a handshake: no usable keypair, or a rekey predicate fired.
 * Starts a fresh run of attempts (so the 90 s give-up counts from the last traffic that wanted
 * one) and returns true if an initiation may be sent now: at most one per REKEY_TIMEOUT.
 */
bool timers_handshake_wanted(struct timers *t, uint64_t now);

/* Fires every deadline at or before now and returns the enum timer_action flags to act on.
 * For each action the caller sends one packet and raises the matching events above. */
unsigned timers_expire(struct timers *t, uint64_t now);

/* The earliest armed deadline, 0 if none: the one wake-up the event loop should arm. */
uint64_t timers_next_deadline(const struct timers *t);

/*
 * Keypair rules, pure functions of a keypair's birth time (when its keys were derived), its
 * counter and who initiated it. "Older than X" means now >= birth + X, as Linux's
 * wg_birthdate_has_expired().
 */

/* Before sending: rekey if the send counter passed REKEY_AFTER_MESSAGES, or if we initiated
 * the keypair and it is REKEY_AFTER_TIME old. Only the initiator rekeys on time. */
bool timers_should_rekey_on_send(uint64_t birth, uint64_t counter, bool we_initiated,
				 uint64_t now);

/* After receiving: rekey if we initiated the keypair and it is REKEY_AFTER_TIME_RECV (165 s)
 * old, so a fresh one exists before the current one is rejected at 180 s. */
bool timers_should_rekey_on_receive(uint64_t birth, bool we_initiated, uint64_t now);

/* timers_should_rekey_on_receive(), but true at most once per handshake (Linux's
 * sent_lastminute_handshake), so a stream of packets triggers one initiation. */
bool timers_lastminute_rekey(struct timers *t, uint64_t birth, bool we_initiated, uint64_t now);

/* The keypair must not be used to send or receive: REJECT_AFTER_TIME old, or the counter
 * reached REJECT_AFTER_MESSAGES. */
bool timers_keypair_expired(uint64_t birth, uint64_t counter, uint64_t now);

#endif
