/* Anti-replay window for data packet counters (RFC 6479 bitmap, as in WireGuard). */
#ifndef MYVPN_REPLAY_H
#define MYVPN_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

/*
 * The bitmap is a ring of 64-bit words. One word is kept as slack so that
 * advancing the window only ever zeroes whole words, which leaves
 * 8192 - 64 = 8128 counters behind the greatest one usable.
 */
#define REPLAY_BITS_TOTAL 8192u
#define REPLAY_WORD_BITS 64u
#define REPLAY_WORDS (REPLAY_BITS_TOTAL / REPLAY_WORD_BITS)
#define REPLAY_WINDOW_SIZE (REPLAY_BITS_TOTAL - REPLAY_WORD_BITS)

/* The protocol's REJECT_AFTER_MESSAGES, 2^64 - 2^13 - 1: counters >= it are refused. */
#define REPLAY_REJECT_AFTER_MESSAGES (UINT64_MAX - (UINT64_C(1) << 13))

struct replay_window {
	/* Greatest accepted counter plus one; 0 while nothing was accepted. */
	uint64_t top;
	/* Bit (counter + 1) is set once that counter was accepted. */
	uint64_t bitmap[REPLAY_WORDS];
};

void replay_init(struct replay_window *w);

/*
 * Returns true and records the counter if it is fresh: below
 * REPLAY_REJECT_AFTER_MESSAGES, not seen before, and no more than
 * REPLAY_WINDOW_SIZE behind the greatest accepted counter. Call only after
 * the packet authenticated, or a forged counter could slide the window.
 * Not thread-safe: the caller serialises access.
 */
bool replay_check_and_update(struct replay_window *w, uint64_t counter);

#endif
