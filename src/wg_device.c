/* The WireGuard device: identity, tables, the handshake queue, and binding to the engine. */
#include "wg.h"
#include "harden.h"
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static int init_lock(struct wg_device *dev)
{
	pthread_rwlockattr_t attr;
	int ret;

	/* Writers first: with workers always reading, a default rwlock would starve the
	 * control thread (handshakes, UAPI changes) under load. */
	pthread_rwlockattr_init(&attr);
	pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	ret = -pthread_rwlock_init(&dev->lock, &attr);
	pthread_rwlockattr_destroy(&attr);
	return ret;
}

static int init_tables(struct wg_device *dev)
{
	if (!wgcrypto_random(dev->hash_secret, sizeof(dev->hash_secret)) ||
	    !wgcrypto_random(&dev->prng, sizeof(dev->prng)))
		return -EIO;
	dev->prng |= 1;
	if (ht_init(&dev->peers_by_key, 64) || ht_init(&dev->indices, 64) ||
	    ht_init(&dev->peers_by_id, 64))
		return -ENOMEM;
	dev->queue = calloc(WG_HANDSHAKE_QUEUE_LEN, sizeof(*dev->queue));
	if (!dev->queue)
		return -ENOMEM;
	if (ratelimiter_init(&dev->ratelimiter, WG_HANDSHAKES_PER_SECOND, WG_HANDSHAKE_BURST,
			     WG_RATELIMITER_SOURCES))
		return -ENOMEM;
	return ratelimiter_init(&dev->proven_ratelimiter, WG_HANDSHAKES_PER_SECOND,
				WG_HANDSHAKE_BURST, WG_RATELIMITER_SOURCES);
}

int wg_device_init(struct wg_device *dev, const uint8_t *private_key)
{
	int ret;

	memset(dev, 0, sizeof(*dev));
	allowedips_init(&dev->allowedips);
	pthread_mutex_init(&dev->queue_lock, NULL);
	pthread_mutex_init(&dev->requests_lock, NULL);
	pthread_mutex_init(&dev->rdv.queue_lock, NULL);
	dev->next_peer_id = 1;
	wg_pmtu_init(dev);
	harden_lock_keys(&dev->identity, sizeof(dev->identity)); /* the key may come later too */
	ret = init_lock(dev);
	if (!ret)
		ret = init_tables(dev);
	if (!ret && private_key && !noise_static_identity_init(&dev->identity, private_key))
		ret = -EINVAL;
	if (ret)
		wg_device_free(dev);
	return ret;
}

void wg_device_free(struct wg_device *dev)
{
	wg_resolve_stop(dev);
	while (dev->last_peer)
		wg_peer_remove(dev, dev->last_peer);
	allowedips_free(&dev->allowedips);
	ht_free(&dev->peers_by_key);
	ht_free(&dev->indices);
	ht_free(&dev->peers_by_id);
	rdv_free(dev);
	ratelimiter_free(&dev->ratelimiter);
	ratelimiter_free(&dev->proven_ratelimiter);
	if (dev->queue)
		wgcrypto_wipe(dev->queue, WG_HANDSHAKE_QUEUE_LEN * sizeof(*dev->queue));
	free(dev->queue);
	dev->queue = NULL;
	free(dev->probe_buf); /* ciphertext and zeros: nothing to wipe */
	dev->probe_buf = NULL;
	noise_static_identity_clear(&dev->identity);
	noise_cookie_checker_clear(&dev->cookie_checker);
	wgcrypto_wipe(dev->hash_secret, sizeof(dev->hash_secret));
}

/* Workers set their loop as the thread's clock; everything else runs on the control loop. */
static __thread const struct loop *thread_loop;

uint64_t wg_now(const struct wg_device *dev)
{
	return thread_loop ? thread_loop->now_ns : dev->engine->loop.now_ns;
}

static void batch_begin(struct worker *w)
{
	struct wg_device *dev = w->tunnel;

	thread_loop = &w->loop;
	wg_read_lock(dev);
}

static void batch_end(struct worker *w)
{
	wg_activity_flush(w);
	wg_unlock(w->tunnel);
}

static void on_wake(struct engine *e)
{
	struct wg_device *dev = e->tunnel;

	wg_serve_requests(dev);
	wg_serve_handshakes(dev);
	rdv_serve(dev);
	wg_timers_fold(dev);
}

int wg_device_start(struct wg_device *dev, struct engine *e)
{
	int ret;

	dev->engine = e;
	dev->cipher_slots = e->worker_count + 1;
	wg_device_set_mtu(dev, e->mtu);
	e->on_wake = on_wake;
	for (unsigned int i = 0; i < e->worker_count; i++) {
		e->workers[i].tunnel_local = calloc(1, sizeof(struct wg_worker_state));
		if (!e->workers[i].tunnel_local)
			return -ENOMEM;
	}
	if (!e->tcp)
		dev->transport = TRANSPORT_MODE_UDP;
	wg_for_each_peer(dev, p)
		if (endpoint_is_set(&p->endpoint.remote))
			wg_transport_configure(p);
	ret = wg_timers_start(dev);
	return ret ? ret : rdv_start(dev);
}

void wg_device_set_mtu(struct wg_device *dev, size_t mtu)
{
	__atomic_store_n(&dev->stage_slot_size, mtu + SLOT_HEADROOM + SLOT_TAILROOM, __ATOMIC_RELAXED);
}

const struct tunnel_ops wg_ops = {
	.batch_begin = batch_begin,
	.batch_end = batch_end,
	.encap = wg_encap,
	.decap = wg_decap,
};
