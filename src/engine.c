/* The engine: worker threads around the control thread's loop. */
#include "engine.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

unsigned int engine_default_workers(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (cpus < 1)
		return 1;
	return cpus > ENGINE_DEFAULT_MAX_WORKERS ? ENGINE_DEFAULT_MAX_WORKERS : (unsigned int)cpus;
}

void engine_wake(struct engine *e)
{
	uint64_t one = 1;

	/* EAGAIN means the counter is already non-zero: the control thread will wake anyway. */
	if (write(e->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		log_ratelimited(LOGL_WARN, loop_clock_ns(), "cannot wake the control thread: %s",
				strerror(errno));
}

void engine_stop(struct engine *e)
{
	loop_stop(&e->loop);
	engine_wake(e);
}

static void on_wake(struct loop_source *src, uint32_t events)
{
	struct engine *e = container_of(src, struct engine, wake_source);
	uint64_t count;

	if (read(e->wake_fd, &count, sizeof(count)) < 0 && errno != EAGAIN)
		log_ratelimited(LOGL_WARN, e->loop.now_ns, "eventfd: %s", strerror(errno));
	if (e->on_wake)
		e->on_wake(e);
}

static int open_eventfds(struct engine *e)
{
	e->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	e->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (e->wake_fd < 0 || e->stop_fd < 0)
		return -errno;
	e->wake_source.on_event = on_wake;
	return loop_add_fd(&e->loop, e->wake_fd, EPOLLIN, &e->wake_source);
}

int engine_init(struct engine *e, const struct tunnel_ops *ops, void *tunnel, size_t mtu,
		const int *tun_fds, unsigned int lanes, bool vnet_hdr, int gro_flags,
		struct transport **transports, unsigned int count)
{
	int ret;

	*e = (struct engine){ .ops = ops, .tunnel = tunnel, .mtu = mtu, .wake_fd = -1, .stop_fd = -1,
			      .loop = { .epoll_fd = -1 } };
	e->workers = calloc(count, sizeof(*e->workers));
	ret = e->workers ? loop_init(&e->loop) : -ENOMEM;
	e->loop.spin_ns = 0; /* handshakes and timers can wait for a wake-up; only workers poll */
	if (!ret)
		ret = open_eventfds(e);
	for (unsigned int i = 0; i < count; i++) {
		if (ret || !e->workers) { /* the fds are ours to close, even unused */
			for (unsigned int l = 0; l < lanes; l++)
				close(tun_fds[i * lanes + l]);
			transports[i]->ops->close(transports[i]);
			continue;
		}
		e->worker_count = i + 1;
		ret = worker_init(&e->workers[i], e, i, tun_fds + i * lanes, lanes, vnet_hdr, gro_flags,
				  transports[i]);
	}
	return ret;
}

int engine_add_tcp(struct engine *e, struct transport *tcp)
{
	int ret = worker_add_tcp(&e->workers[0], tcp);

	if (ret) {
		tcp->ops->close(tcp);
		return ret;
	}
	e->tcp = tcp;
	return 0;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	int ret = loop_run(&w->loop);

	if (ret) {
		log_error("worker %u: event loop failed: %s", w->id, strerror(-ret));
		engine_stop(w->engine);
	}
	return NULL;
}

static void stop_workers(struct engine *e)
{
	uint64_t one = 1;

	/* Never read: stays readable, so every worker's loop sees it. */
	if (write(e->stop_fd, &one, sizeof(one)) < 0)
		log_error("cannot stop the workers: %s", strerror(errno));
	for (unsigned int i = 0; i < e->worker_count; i++) {
		if (e->workers[i].started)
			pthread_join(e->workers[i].thread, NULL);
		e->workers[i].started = false;
	}
}

int engine_run(struct engine *e)
{
	int ret = 0;

	for (unsigned int i = 0; i < e->worker_count && !ret; i++) {
		ret = -pthread_create(&e->workers[i].thread, NULL, worker_main, &e->workers[i]);
		e->workers[i].started = !ret;
	}
	if (!ret)
		ret = loop_run(&e->loop);
	stop_workers(e);
	return ret;
}

void engine_free(struct engine *e)
{
	for (unsigned int i = 0; i < e->worker_count; i++)
		worker_free(&e->workers[i]);
	if (e->tcp)
		e->tcp->ops->close(e->tcp);
	e->tcp = NULL;
	free(e->workers);
	e->workers = NULL;
	e->worker_count = 0;
	loop_close(&e->loop);
	if (e->wake_fd >= 0)
		close(e->wake_fd);
	if (e->stop_fd >= 0)
		close(e->stop_fd);
	e->wake_fd = e->stop_fd = -1;
}

void engine_stats(const struct engine *e, struct stats *sum)
{
	memset(sum, 0, sizeof(*sum));
	stats_sum(sum, &e->stats);
	for (unsigned int i = 0; i < e->worker_count; i++)
		stats_sum(sum, &e->workers[i].stats);
	if (e->tcp)
		stats_sum(sum, transport_tcp_stats(e->tcp));
}
