/* CoDel on the daemon's queues and ECN CE marks (RFC 8289, RFC 3168); see codel.h. */
#include "codel.h"
#include "offload.h"

#include <ctype.h>
#include <errno.h>
#include <string.h>

void codel_init(struct codel *c, uint64_t target_ns, uint64_t interval_ns)
{
	*c = (struct codel){ .target_ns = target_ns, .interval_ns = interval_ns };
}

/* floor(sqrt(x)), by Newton's method from above. */
static uint64_t isqrt(uint64_t x)
{
	uint64_t r = x, next;

	if (x < 2)
		return x;
	next = (r + 1) / 2;
	while (next < r) {
		r = next;
		next = (r + x / r) / 2;
	}
	return r;
}

/* The control law: signals come closer together as the count grows, interval / sqrt(count),
 * so that the sender's rate falls linearly with time until the queue drains. */
static uint64_t control_law(const struct codel *c, uint64_t t)
{
	uint64_t root = isqrt((uint64_t)c->count << 20); /* sqrt(count) * 1024 */

	return t + c->interval_ns * 1024 / (root ? root : 1024);
}

/* True once the sojourn has stayed at or above target for a whole interval. */
static bool standing_queue(struct codel *c, uint64_t sojourn_ns, uint64_t now_ns)
{
	if (sojourn_ns < c->target_ns) {
		c->first_above_ns = 0;
		return false;
	}
	if (!c->first_above_ns) {
		c->first_above_ns = now_ns + c->interval_ns;
		return false;
	}
	return now_ns >= c->first_above_ns;
}

/* The RFC's dequeue, one packet per call: true when a signal is due now. */
static bool signal_due(struct codel *c, uint64_t sojourn_ns, uint64_t now_ns)
{
	bool standing = standing_queue(c, sojourn_ns, now_ns);

	if (c->dropping) {
		if (!standing) {
			c->dropping = false;
			return false;
		}
		if (now_ns < c->drop_next_ns)
			return false;
		c->count++;
		c->drop_next_ns = control_law(c, c->drop_next_ns);
		return true;
	}
	if (!standing)
		return false;
	c->dropping = true;
	/* Congestion soon after the last dropping state: resume near its rate, not from 1. */
	if (c->count - c->last_count > 1 && now_ns - c->drop_next_ns < 16 * c->interval_ns)
		c->count = c->count - c->last_count;
	else
		c->count = 1;
	c->drop_next_ns = control_law(c, now_ns);
	c->last_count = c->count;
	return true;
}

bool codel_decide(struct codel *c, uint64_t sojourn_ns, uint64_t now_ns, size_t len)
{
	if (!c->target_ns)
		return false;
	if (signal_due(c, sojourn_ns, now_ns))
		c->pending = true;
	else if (!c->dropping)
		c->pending = false; /* the queue drained: a signal owed to it is stale */
	if (!c->pending || len <= CODEL_SPARSE_MAX)
		return false;
	c->pending = false;
	return true;
}

int codel_parse_target(const char *text, uint64_t *target_ns)
{
	uint64_t whole = 0, frac = 0, scale = 1, unit = 1000000; /* ms */
	const char *p = text;

	if (!strcmp(text, "off")) {
		*target_ns = 0;
		return 0;
	}
	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	for (; isdigit((unsigned char)*p) && whole < CODEL_TARGET_NS_MAX; p++)
		whole = whole * 10 + (uint64_t)(*p - '0');
	if (*p == '.' && isdigit((unsigned char)p[1]))
		for (p++; isdigit((unsigned char)*p); p++)
			if (scale < 1000000) {
				frac = frac * 10 + (uint64_t)(*p - '0');
				scale *= 10;
			}
	if (!strcmp(p, "us"))
		unit = 1000;
	else if (*p && strcmp(p, "ms"))
		return -EINVAL;
	if (whole >= CODEL_TARGET_NS_MAX)
		return -EINVAL;
	*target_ns = whole * unit + frac * unit / scale;
	if (*target_ns && (*target_ns < CODEL_TARGET_NS_MIN || *target_ns > CODEL_TARGET_NS_MAX))
		return -EINVAL;
	return 0;
}

enum { ECN_MASK = 3, ECN_CE = 3 };

bool codel_ecn_mark(uint8_t *pkt, size_t len)
{
	if (len >= 20 && pkt[0] >> 4 == 4) {
		uint16_t old, new;

		if (!(pkt[1] & ECN_MASK))
			return false;
		memcpy(&old, pkt, sizeof(old));
		pkt[1] |= ECN_CE;
		memcpy(&new, pkt, sizeof(new));
		offload_csum_replace(pkt + 10, old, new);
		return true;
	}
	if (len >= 40 && pkt[0] >> 4 == 6) {
		/* traffic class: low nibble of byte 0, high nibble of byte 1; ECN its low 2 bits */
		if (!((pkt[1] >> 4) & ECN_MASK))
			return false;
		pkt[1] |= ECN_CE << 4;
		return true;
	}
	return false;
}
