/* Name lookups off the event loop. A lookup may take seconds (a DNS server that does not
 * answer), so getaddrinfo runs on a thread of its own; its answers come back to the loop's
 * thread through an eventfd the loop watches. The thread and its owner share the resolver:
 * whichever lets go last frees it, so stopping never waits for a lookup under way. */
#ifndef MYVPN_RESOLVER_H
#define MYVPN_RESOLVER_H

#include "addr.h"
#include "loop.h"

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

#endif
