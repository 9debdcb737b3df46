/* Endpoint names looked up again. A peer configured by name (a home server behind a dynamic
 * address and a dynamic DNS name, say) that stops answering handshakes is looked up once more,
 * and moved to the address the name has now. A lookup may take seconds, so it runs on a thread
 * of its own; the control thread hands it names and takes the answers back through an eventfd
 * in its loop. The thread and the device share the queue: whichever lets go of it last frees
 * it, so the device never waits for a slow lookup at exit. */
#include "wg.h"
#include "addr.h"
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct wg_lookup {
	struct wg_lookup *next;
	uint8_t public_key[NOISE_PUBLIC_KEY_LEN];
	char *name;
	uint16_t port;
	int ret;
	union endpoint found;
	char why[200];
};

struct wg_resolver {
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct wg_lookup *todo, *done; /* newest first; reversed when taken */
	unsigned int refs;             /* the device's and the thread's */
	bool stopping;
	int done_fd; /* eventfd: readable when done has answers */
};

static void lookup_free(struct wg_lookup *l)
{
	free(l->name);
	free(l);
}

static void free_list(struct wg_lookup *l)
{
	while (l) {
		struct wg_lookup *next = l->next;

		lookup_free(l);
		l = next;
	}
}

/* Under r->lock: drops one reference; true when it was the last (the caller frees). */
static bool unref(struct wg_resolver *r)
{
	return --r->refs == 0;
}

static void resolver_free(struct wg_resolver *r)
{
	free_list(r->todo);
	free_list(r->done);
	close(r->done_fd);
	pthread_cond_destroy(&r->wake);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

static struct wg_lookup *take_oldest(struct wg_lookup **list)
{
	struct wg_lookup **link = list, *l;

	while ((*link)->next)
		link = &(*link)->next;
	l = *link;
	*link = NULL;
	return l;
}

static void *resolver_main(void *arg)
{
	struct wg_resolver *r = arg;
	uint64_t one = 1;
	bool last;

	pthread_mutex_lock(&r->lock);
	while (!r->stopping) {
		struct wg_lookup *l;

		if (!r->todo) {
			pthread_cond_wait(&r->wake, &r->lock);
			continue;
		}
		l = take_oldest(&r->todo);
		pthread_mutex_unlock(&r->lock);
		l->ret = addr_resolve(l->name, l->port, &l->found, l->why, sizeof(l->why));
		pthread_mutex_lock(&r->lock);
		l->next = r->done;
		r->done = l;
		if (write(r->done_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
			log_warn("endpoint lookups: cannot wake the control thread: %s", strerror(errno));
	}
	last = unref(r);
	pthread_mutex_unlock(&r->lock);
	if (last)
		resolver_free(r);
	return NULL;
}

static void on_done(struct loop_source *src, uint32_t events);

static int start_thread(struct wg_resolver *r)
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

/* The resolver, its eventfd watched by the control loop and its thread running. */
static int resolver_start(struct wg_device *dev)
{
	struct wg_resolver *r = calloc(1, sizeof(*r));
	int ret;

	if (!r)
		return -ENOMEM;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->wake, NULL);
	r->refs = 2;
	r->done_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (r->done_fd < 0) {
		ret = -errno;
		goto fail;
	}
	dev->resolve_source.on_event = on_done;
	ret = loop_add_fd(&dev->engine->loop, r->done_fd, EPOLLIN, &dev->resolve_source);
	if (!ret)
		ret = start_thread(r);
	if (!ret) {
		dev->resolver = r;
		return 0;
	}
	loop_del_fd(&dev->engine->loop, r->done_fd);
fail:
	if (r->done_fd >= 0)
		close(r->done_fd);
	r->done_fd = -1;
	pthread_cond_destroy(&r->wake);
	pthread_mutex_destroy(&r->lock);
	free(r);
	return ret;
}

void wg_resolve_stop(struct wg_device *dev)
{
	struct wg_resolver *r = dev->resolver;
	bool last;

	if (!r)
		return;
	dev->resolver = NULL;
	pthread_mutex_lock(&r->lock);
	r->stopping = true;
	pthread_cond_signal(&r->wake);
	last = unref(r);
	pthread_mutex_unlock(&r->lock);
	if (last)
		resolver_free(r);
}

void wg_peer_set_endpoint_name(struct wg_peer *p, char *name, uint16_t port)
{
	free(p->endpoint_name);
	p->endpoint_name = name;
	p->endpoint_name_port = name ? port : 0;
	p->lookup_pending = false; /* an answer for the old name is ignored */
	p->looked_up_ns = 0;
}

static int queue_lookup(struct wg_device *dev, struct wg_peer *p)
{
	struct wg_lookup *l = calloc(1, sizeof(*l));
	struct wg_resolver *r;
	int ret;

	if (!l || !(l->name = strdup(p->endpoint_name))) {
		free(l);
		return -ENOMEM;
	}
	memcpy(l->public_key, p->hs.remote_static, sizeof(l->public_key));
	l->port = p->endpoint_name_port;
	if (!dev->resolver && (ret = resolver_start(dev))) {
		lookup_free(l);
		return ret;
	}
	r = dev->resolver;
	pthread_mutex_lock(&r->lock);
	l->next = r->todo;
	r->todo = l;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
	return 0;
}

void wg_resolve_maybe(struct wg_peer *p, uint64_t now)
{
	int ret;

	if (!p->endpoint_name || p->lookup_pending ||
	    (p->looked_up_ns && now - p->looked_up_ns < WG_LOOKUP_INTERVAL_S * 1000000000ull))
		return;
	p->looked_up_ns = now;
	ret = queue_lookup(p->dev, p);
	if (ret) {
		log_ratelimited(LOGL_WARN, now, "peer %u: cannot look up %s again: %s", p->id,
				p->endpoint_name, strerror(-ret));
		return;
	}
	p->lookup_pending = true;
	log_debug("peer %u: no answer; looking up %s again", p->id, p->endpoint_name);
}

/* The peer is moved to the name's address when it has a new one, and handshakes there at once:
 * the initiation in flight went to the old address. */
static void apply_answer(struct wg_device *dev, struct wg_peer *p, struct wg_lookup *l)
{
	char was[INET6_ADDRSTRLEN + 8], now[INET6_ADDRSTRLEN + 8];
	int family = engine_sender(dev->engine)->transport->family;

	if (!l->ret && endpoint_to_family(&l->found, family))
		l->ret = -EAFNOSUPPORT, snprintf(l->why, sizeof(l->why), "IPv6 is unavailable here");
	endpoint_format(&p->endpoint.remote, was, sizeof(was));
	if (l->ret) {
		log_ratelimited(LOGL_INFO, wg_now(dev), "peer %u: %s; staying at %s", p->id, l->why,
				was);
		return;
	}
	if (endpoint_equal(&l->found, &p->endpoint.remote)) {
		log_debug("peer %u: %s still resolves to %s", p->id, l->name, was);
		return;
	}
	endpoint_format(&l->found, now, sizeof(now));
	log_info("peer %u: %s resolves to %s now (was %s): handshaking there", p->id, l->name, now,
		 was);
	wg_write_lock(dev);
	wg_peer_set_endpoint(p, &(struct dgram_addr){ .remote = l->found });
	wg_unlock(dev);
	wg_send_initiation(p, WG_INITIATION_NEW);
}

/* Control thread: each answer goes to its peer, if the peer is still there and still named so. */
static void serve_answers(struct wg_device *dev, struct wg_lookup *answers)
{
	while (answers) {
		struct wg_lookup *l = take_oldest(&answers);
		struct wg_peer *p = wg_peer_by_key(dev, l->public_key);

		if (p && p->lookup_pending && p->endpoint_name && !strcmp(p->endpoint_name, l->name) &&
		    p->endpoint_name_port == l->port) {
			p->lookup_pending = false;
			apply_answer(dev, p, l);
		}
		lookup_free(l);
	}
}

static void on_done(struct loop_source *src, uint32_t events)
{
	struct wg_device *dev = container_of(src, struct wg_device, resolve_source);
	struct wg_resolver *r = dev->resolver;
	struct wg_lookup *answers;
	uint64_t count;

	(void)events;
	if (!r)
		return;
	if (read(r->done_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_ratelimited(LOGL_WARN, wg_now(dev), "endpoint lookups: %s", strerror(errno));
	pthread_mutex_lock(&r->lock);
	answers = r->done;
	r->done = NULL;
	pthread_mutex_unlock(&r->lock);
	serve_answers(dev, answers);
}
