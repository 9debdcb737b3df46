/* Anti-replay window for data packet counters (RFC 6479 bitmap, as in WireGuard). */
#include "replay.h"

#include <string.h>

void replay_init(struct replay_window *w)
{
	memset(w, 0, sizeof(*w));
}

/* Zero the ring words that the window slides over on its way up to pos. */
static void advance(struct replay_window *w, uint64_t pos)
{
	uint64_t cur = w->top / REPLAY_WORD_BITS;
	uint64_t diff = pos / REPLAY_WORD_BITS - cur;

	/* A jump of a whole ring or more wipes everything once, not diff times. */
	if (diff > REPLAY_WORDS)
		diff = REPLAY_WORDS;
	for (uint64_t i = 1; i <= diff; i++)
		w->bitmap[(cur + i) % REPLAY_WORDS] = 0;
	w->top = pos;
}

bool replay_check_and_update(struct replay_window *w, uint64_t counter)
{
	uint64_t pos, *word, bit;

	if (counter >= REPLAY_REJECT_AFTER_MESSAGES)
		return false;
	/*
	 * Work on counter + 1 so that top == 0 can mean "nothing seen" while
	 * counter 0 stays valid; the limit check above rules out overflow.
	 */
	pos = counter + 1;
	if (pos > w->top)
		advance(w, pos);
	else if (w->top - pos > REPLAY_WINDOW_SIZE)
		return false;

	word = &w->bitmap[(pos / REPLAY_WORD_BITS) % REPLAY_WORDS];
	bit = UINT64_C(1) << (pos % REPLAY_WORD_BITS);
	if (*word & bit)
		return false;
	*word |= bit;
	return true;
}
