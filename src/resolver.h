/* Name lookups off the event loop. A lookup may take seconds (a DNS server that does not
 * answer), so getaddrinfo runs on a thread of its own; its answers come back to the loop's
 * thread through an eventfd the loop watches. The thread and its owner share the resolver:
 * whichever lets go last frees it, so stopping never waits for a lookup under way. */
#ifndef MYVPN_RESOLVER_H
#define MYVPN_RESOLVER_H

#include "addr.h"
#include "loop.h"
#include "stats.h"

#include <stdint.h>

struct resolver_answer {
	uint64_t tag; /* the asker's, to match the answer to what asked */
	const char *name;
	uint16_t port;
	int ret; /* 0: found holds the first address, with port; else why says what failed */
	union endpoint found;
	char why[200];
};

/* Called on the loop's thread, once per answer. */
typedef void (*resolver_answer_fn)(void *ctx, const struct resolver_answer *answer);

struct resolver;

/* A resolver whose answers go to on_answer(ctx, ...) from loop. 0 or -errno. */
int resolver_start(struct resolver **out, struct loop *loop, resolver_answer_fn on_answer,
		   void *ctx);
/* Queues a lookup of name (copied) for port. 0 or -ENOMEM. */
int resolver_ask(struct resolver *r, const char *name, uint16_t port, uint64_t tag);
/* Once the loop has stopped for good: a lookup under way finishes on its own thread and is
 * dropped. NULL is fine. */
void resolver_stop(struct resolver *r);

/* A remote given by name, which its owner (on the loop's thread) looks up again when the
 * remote stops answering, and follows to a new address. */
struct endpoint_name {
	char *name; /* NULL: the remote was given as an address */
	uint16_t port;
	bool pending;      /* a lookup is under way */
	uint64_t asked_ns; /* when the last one was asked */
};

/* name (malloc'd, or NULL) becomes en's; an answer still to come for the old one is ignored. */
void endpoint_name_set(struct endpoint_name *en, char *name, uint16_t port);
/* True when en has a name, no lookup under way and none asked within interval_ns of now; then
 * it counts as asked (stats->endpoint_lookups). */
bool endpoint_name_due(struct endpoint_name *en, uint64_t now, uint64_t interval_ns,
		       struct stats *stats);
/* An answer for en: true when it moves the remote, now at current in the socket's family, to
 * *to. Not for en's current name (asked before a change): false. Logged as "WHO NAME resolves
 * to ADDR now (was OLD)", or why not (rate limited at now); counted in stats. */
bool endpoint_name_follow(struct endpoint_name *en, const struct resolver_answer *a, int family,
			  const union endpoint *current, const char *who, uint64_t now,
			  struct stats *stats, union endpoint *to);

#endif
