/* Name lookups off the event loop (see resolver.h). */
#include "resolver.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct lookup {
	struct lookup *next;
	struct resolver_answer answer; /* answer.name is the lookup's own copy */
};

struct resolver {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct lookup *todo, *done; /* newest first */
	unsigned int refs;          /* the owner's and the thread's */
	bool stopping;
	int done_fd; /* eventfd: readable when done has answers */
	struct loop_source source;
	resolver_answer_fn on_answer;
	void *ctx;
};

static void free_list(struct lookup *l)
{
	while (l) {
		struct lookup *next = l->next;

		free((char *)l->answer.name);
		free(l);
		l = next;
	}
}

static void resolver_free(struct resolver *r)
{
	free_list(r->todo);
	free_list(r->done);
	if (r->done_fd >= 0)
		close(r->done_fd);
	pthread_cond_destroy(&r->wake);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

/* Under r->lock: lets go of one reference; the last one frees. */
static void unref_locked(struct resolver *r)
{
	bool last = --r->refs == 0;

	pthread_mutex_unlock(&r->lock);
	if (last)
		resolver_free(r);
}

static struct lookup *take_oldest(struct lookup **list)
{
	struct lookup **link = list, *l;

	while ((*link)->next)
		link = &(*link)->next;
	l = *link;
	*link = NULL;
	return l;
}

static void *resolver_main(void *arg)
{
	struct resolver *r = arg;
	uint64_t one = 1;

	pthread_mutex_lock(&r->lock);
	while (!r->stopping) {
		struct lookup *l;
		struct resolver_answer *a;

		if (!r->todo) {
			pthread_cond_wait(&r->wake, &r->lock);
			continue;
		}
		l = take_oldest(&r->todo);
		pthread_mutex_unlock(&r->lock);
		a = &l->answer;
		a->ret = addr_resolve(a->name, a->port, &a->found, a->why, sizeof(a->why));
		pthread_mutex_lock(&r->lock);
		l->next = r->done;
		r->done = l;
		if (write(r->done_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			log_warn("name lookups: cannot wake the event loop: %s", strerror(errno));
	}
	unref_locked(r);
	return NULL;
}

/* The loop's thread: every answer so far, oldest first. */
static void on_done(struct loop_source *src, uint32_t events)
{
	struct resolver *r = container_of(src, struct resolver, source);
	struct lookup *answers;
	uint64_t count;

	(void)events;
	if (read(r->done_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_warn("name lookups: %s", strerror(errno));
	pthread_mutex_lock(&r->lock);
	answers = r->done;
	r->done = NULL;
	pthread_mutex_unlock(&r->lock);
	while (answers) {
		struct lookup *l = take_oldest(&answers);

		r->on_answer(r->ctx, &l->answer);
		free_list(l);
	}
}

static int start_thread(struct resolver *r)
{
	pthread_attr_t attr;
	pthread_t thread;
	int ret;

	pthread_attr_init(&attr);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	ret = -pthread_create(&thread, &attr, resolver_main, r);
	pthread_attr_destroy(&attr);
	return ret;
}

int resolver_start(struct resolver **out, struct loop *loop, resolver_answer_fn on_answer,
		   void *ctx)
{
	struct resolver *r = calloc(1, sizeof(*r));
	int ret;

	if (!r)
		return -ENOMEM;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->wake, NULL);
	r->refs = 2; /* the thread's is given back by resolver_free below if it does not start */
	r->source.on_event = on_done;
	r->on_answer = on_answer;
	r->ctx = ctx;
	r->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	ret = r->done_fd < 0 ? -errno : loop_add_fd(loop, r->done_fd, EPOLLIN, &r->source);
	if (!ret)
		ret = start_thread(r);
	if (ret) {
		if (r->done_fd >= 0)
			loop_del_fd(loop, r->done_fd);
		resolver_free(r);
		return ret;
	}
	*out = r;
	return 0;
}

int resolver_ask(struct resolver *r, const char *name, uint16_t port, uint64_t tag)
{
	struct lookup *l = calloc(1, sizeof(*l));

	if (!l || !(l->answer.name = strdup(name))) {
		free(l);
		return -ENOMEM;
	}
	l->answer.port = port;
	l->answer.tag = tag;
	pthread_mutex_lock(&r->lock);
	l->next = r->todo;
	r->todo = l;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
	return 0;
}

void endpoint_name_set(struct endpoint_name *en, char *name, uint16_t port)
{
	free(en->name);
	*en = (struct endpoint_name){ .name = name, .port = name ? port : 0 };
}

bool endpoint_name_due(struct endpoint_name *en, uint64_t now, uint64_t interval_ns,
		       struct stats *stats)
{
	if (!en->name || en->pending || (en->asked_ns && now - en->asked_ns < interval_ns))
		return false;
	en->asked_ns = now;
	en->pending = true;
	stats_add(&stats->endpoint_lookups, 1);
	return true;
}

bool endpoint_name_follow(struct endpoint_name *en, const struct resolver_answer *a, int family,
			  const union endpoint *current, const char *who, uint64_t now,
			  struct stats *stats, union endpoint *to)
{
	char was[INET6_ADDRSTRLEN + 8], found[INET6_ADDRSTRLEN + 8];

	if (!en->pending || !en->name || strcmp(en->name, a->name) || en->port != a->port)
		return false;
	en->pending = false;
	*to = a->found;
	endpoint_format(current, was, sizeof(was));
	if (a->ret || endpoint_to_family(to, family)) {
		stats_add(&stats->endpoint_lookup_failures, 1);
		if (a->ret)
			log_ratelimited(LOGL_INFO, now, "%s %s; staying at %s", who, a->why, was);
		else
			log_ratelimited(LOGL_INFO, now,
					"%s %s resolves to IPv6, unavailable here; staying at %s", who,
					a->name, was);
		return false;
	}
	if (endpoint_equal(to, current)) {
		log_debug("%s %s still resolves to %s", who, a->name, was);
		return false;
	}
	endpoint_format(to, found, sizeof(found));
	log_info("%s %s resolves to %s now (was %s)", who, a->name, found, was);
	stats_add(&stats->endpoint_changes, 1);
	return true;
}

void resolver_stop(struct resolver *r)
{
	if (!r)
		return;
	pthread_mutex_lock(&r->lock);
	r->stopping = true;
	pthread_cond_signal(&r->wake);
	unref_locked(r);
}
