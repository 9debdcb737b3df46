/* The timer rules of timers.c applied to peers: one control-loop timer for the whole device,
 * armed at the earliest deadline of any peer; and what a worker's batch did to its peers,
 * applied once per peer at the end of the batch. */
#include "wg.h"
#include "log.h"

/* Workers cannot touch the control loop's timer: they post a deadline in worker_deadline_ns,
 * and wake the control thread only when it is earlier than the one armed there
 * (armed_deadline_ns; 0: none). A batch of traffic mostly moves its peer's deadlines later,
 * which needs no wake-up: when the timer fires, the control thread rescans every peer. The post
 * and the check of armed pair with the control's publish and collect in wg_timers_fold (both
 * sequentially consistent): either the worker sees the new armed deadline, or the control thread
 * sees the post. */
void wg_timers_changed(struct wg_peer *p)
{
	struct wg_device *dev = p->dev;
	uint64_t deadline = timers_next_deadline(&p->timers);
	uint64_t seen = __atomic_load_n(&dev->worker_deadline_ns, __ATOMIC_RELAXED), armed;

	if (!deadline)
		return;
	while (!seen || deadline < seen)
		if (__atomic_compare_exchange_n(&dev->worker_deadline_ns, &seen, deadline, false,
						__ATOMIC_SEQ_CST, __ATOMIC_RELAXED))
			break;
	armed = __atomic_load_n(&dev->armed_deadline_ns, __ATOMIC_SEQ_CST);
	if ((!armed || deadline < armed) && dev->engine)
		engine_wake(dev->engine);
}

/* Control thread: folds in the earliest deadline posted, and publishes what is armed. */
void wg_timers_fold(struct wg_device *dev)
{
	for (;;) {
		uint64_t d;

		__atomic_store_n(&dev->armed_deadline_ns, dev->timer.deadline_ns, __ATOMIC_SEQ_CST);
		d = __atomic_exchange_n(&dev->worker_deadline_ns, 0, __ATOMIC_SEQ_CST);
		if (!d || (dev->timer.deadline_ns && d >= dev->timer.deadline_ns))
			return;
		dev->timer.deadline_ns = d;
	}
}

static void zero_keys(struct wg_peer *p)
{
	log_debug("peer %u: zeroing keys after %d s without a new session", p->id, KEY_ZEROING_TIME);
	wg_write_lock(p->dev);
	wg_keypairs_clear(p);
	noise_handshake_clear(&p->hs);
	wg_sync_handshake_index(p);
	wg_unlock(p->dev);
}

static void give_up(struct wg_peer *p)
{
	pthread_mutex_lock(&p->lock);
	log_info("peer %u: no handshake reply after %d s; dropping %u waiting packets", p->id,
		 REKEY_ATTEMPT_TIME, p->staged_count);
	wg_drop_staged(p, &p->dev->engine->stats, DROP_HANDSHAKE_TIMEOUT);
	pthread_mutex_unlock(&p->lock);
	wg_write_lock(p->dev);
	noise_handshake_clear(&p->hs);
	wg_sync_handshake_index(p);
	wg_unlock(p->dev);
}

/* A keepalive without a session, or a worker's request: initiate, at most once per
 * REKEY_TIMEOUT. A worker checked the limit when it asked, but an initiation may have left
 * since (the start-up keepalive's): a second one would replace the first's handshake state,
 * so that the answer to the first is refused, and the peer the second reaches may refuse it
 * as a replay (the same timestamp), leaving both unanswered. */
void wg_want_handshake(struct wg_peer *p)
{
	bool wanted;

	pthread_mutex_lock(&p->lock);
	wanted = timers_handshake_wanted(&p->timers, wg_now(p->dev));
	pthread_mutex_unlock(&p->lock);
	if (wanted)
		wg_send_initiation(p, WG_INITIATION_NEW);
}

static void act(struct wg_peer *p, unsigned int actions)
{
	if (actions & TIMER_GIVE_UP) {
		give_up(p);
	} else if (actions & (TIMER_SEND_HANDSHAKE_RETRY | TIMER_SEND_NEW_HANDSHAKE)) {
		wg_send_initiation(p, actions & TIMER_SEND_HANDSHAKE_RETRY ? WG_INITIATION_RETRY :
				   WG_INITIATION_PEER_SILENT);
		wg_resolve_maybe(p, wg_now(p->dev)); /* the name may point elsewhere now */
	}
	if (actions & (TIMER_SEND_KEEPALIVE | TIMER_SEND_PERSISTENT_KEEPALIVE)) {
		if (p->current)
			wg_send_keepalive(p);
		else
			wg_want_handshake(p);
	}
	if (actions & TIMER_ZERO_KEYS)
		zero_keys(p);
}

static void on_timer(struct loop_timer *timer)
{
	struct wg_device *dev = container_of(timer, struct wg_device, timer);
	uint64_t now = dev->engine->loop.now_ns, earliest = 0;

	/* Until the rescan below is published, every deadline a worker sets wakes us. */
	__atomic_store_n(&dev->armed_deadline_ns, 0, __ATOMIC_SEQ_CST);
	wg_for_each_peer(dev, p) {
		unsigned int actions;

		pthread_mutex_lock(&p->lock);
		actions = timers_expire(&p->timers, now);
		pthread_mutex_unlock(&p->lock);
		if (actions)
			act(p, actions);
		wg_transport_tick(p, now);
		wg_pmtu_tick(p, now);
	}
	/* Deadlines the actions just set, and any a worker set meanwhile, are folded in here. */
	__atomic_store_n(&dev->worker_deadline_ns, 0, __ATOMIC_RELAXED);
	wg_for_each_peer(dev, p) {
		uint64_t d;

		pthread_mutex_lock(&p->lock);
		d = timers_next_deadline(&p->timers);
		pthread_mutex_unlock(&p->lock);
		if (d && (!earliest || d < earliest))
			earliest = d;
		d = wg_transport_deadline(p);
		if (d && (!earliest || d < earliest))
			earliest = d;
		d = wg_pmtu_deadline(p);
		if (d && (!earliest || d < earliest))
			earliest = d;
	}
	timer->deadline_ns = earliest;
	wg_timers_fold(dev);
}

/* Peers with a persistent keepalive speak at once: that opens NAT mappings and brings the
 * session up before the first packet needs it. */
int wg_timers_start(struct wg_device *dev)
{
	int ret;

	dev->timer.fire = on_timer;
	ret = loop_add_timer(&dev->engine->loop, &dev->timer);
	if (ret)
		return ret;
	wg_for_each_peer(dev, p) {
		pthread_mutex_lock(&p->lock);
		timers_start(&p->timers, dev->engine->loop.now_ns);
		wg_timers_changed(p);
		pthread_mutex_unlock(&p->lock);
	}
	wg_timers_fold(dev);
	return 0;
}

/* ---- a worker's batch ---- */

void wg_activity(struct worker *w, struct wg_peer *peer, unsigned int flags, uint64_t tx_bytes,
		 uint64_t rx_bytes)
{
	struct wg_worker_state *st = w->tunnel_local;
	struct wg_activity *a = NULL;

	/* Most batches are one flow of one peer: look from the newest entry back. */
	for (unsigned int i = st->count; i-- > 0;) {
		if (st->act[i].peer == peer) {
			a = &st->act[i];
			break;
		}
	}
	if (!a) {
		if (st->count == TRANSPORT_MAX_RX)
			wg_activity_flush(w); /* cannot happen: one entry per packet at most */
		a = &st->act[st->count++];
		*a = (struct wg_activity){ .peer = peer };
	}
	a->flags |= flags;
	a->tx_bytes += tx_bytes;
	a->rx_bytes += rx_bytes;
}

static bool apply(struct worker *w, struct wg_peer *p, unsigned int flags)
{
	uint64_t now = w->loop.now_ns;
	bool want = false;

	if (flags & WG_ACT_DATA_SENT)
		timers_data_sent(&p->timers, now, worker_jitter(w));
	if (flags & WG_ACT_SENT)
		timers_any_authenticated_packet_sent(&p->timers, now);
	if (flags & WG_ACT_RECEIVED)
		timers_any_authenticated_packet_received(&p->timers, now);
	if (flags & (WG_ACT_SENT | WG_ACT_RECEIVED))
		timers_any_authenticated_packet_traversal(&p->timers, now);
	if (flags & WG_ACT_DATA_RECEIVED)
		timers_data_received(&p->timers, now);
	if ((flags & WG_ACT_CONFIRMED) && p->current &&
	    timers_lastminute_rekey(&p->timers, p->current->kp.birth_ns,
				    p->current->kp.is_initiator, now))
		flags |= WG_ACT_WANT_HANDSHAKE;
	if (flags & WG_ACT_WANT_HANDSHAKE)
		want = timers_handshake_wanted(&p->timers, now);
	wg_timers_changed(p);
	return want;
}

void wg_activity_flush(struct worker *w)
{
	struct wg_worker_state *st = w->tunnel_local;

	for (unsigned int i = 0; i < st->count; i++) {
		struct wg_activity *a = &st->act[i];
		bool want;

		pthread_mutex_lock(&a->peer->lock);
		want = apply(w, a->peer, a->flags);
		pthread_mutex_unlock(&a->peer->lock);
		if (a->tx_bytes)
			__atomic_fetch_add(&a->peer->tx_bytes, a->tx_bytes, __ATOMIC_RELAXED);
		if (a->rx_bytes)
			__atomic_fetch_add(&a->peer->rx_bytes, a->rx_bytes, __ATOMIC_RELAXED);
		if (want)
			wg_peer_request(a->peer, WG_REQ_INITIATE);
	}
	st->count = 0;
}
