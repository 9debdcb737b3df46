/* The timer rules of timers.c applied to peers: one loop timer for the whole device, armed at
 * the earliest deadline of any peer. */
#include "wg.h"
#include "log.h"

void wg_timers_changed(struct wg_peer *p)
{
	struct loop_timer *t = &p->dev->timer;
	uint64_t deadline = timers_next_deadline(&p->timers);

	/* Only ever moved earlier here; a deadline pushed back costs one early wake-up, after
	 * which on_timer recomputes the exact minimum. */
	if (deadline && (!t->deadline_ns || deadline < t->deadline_ns))
		t->deadline_ns = deadline;
}

static void zero_keys(struct wg_peer *p)
{
	log_debug("peer %u: zeroing keys after %d s without a new session", p->id, KEY_ZEROING_TIME);
	wg_peer_clear_sessions(p);
	noise_handshake_clear(&p->hs);
}

static void act(struct wg_peer *p, unsigned int actions)
{
	if (actions & TIMER_GIVE_UP) {
		log_info("peer %u: no handshake reply after %d s; dropping %u waiting packets", p->id,
			 REKEY_ATTEMPT_TIME, p->staged_count);
		wg_drop_staged(p);
		noise_handshake_clear(&p->hs);
	} else if (actions & (TIMER_SEND_HANDSHAKE_RETRY | TIMER_SEND_NEW_HANDSHAKE)) {
		wg_send_initiation(p, actions & TIMER_SEND_HANDSHAKE_RETRY);
	}
	if (actions & (TIMER_SEND_KEEPALIVE | TIMER_SEND_PERSISTENT_KEEPALIVE))
		wg_send_keepalive(p);
	if (actions & TIMER_ZERO_KEYS)
		zero_keys(p);
}

static void on_timer(struct loop_timer *timer)
{
	struct wg_device *dev = container_of(timer, struct wg_device, timer);
	uint64_t now = dev->worker->loop->now_ns, earliest = 0;

	for (unsigned int i = 0; i < dev->peer_count; i++) {
		struct wg_peer *p = dev->peers[i];
		unsigned int actions = timers_expire(&p->timers, now);

		if (actions)
			act(p, actions);
	}
	for (unsigned int i = 0; i < dev->peer_count; i++) {
		uint64_t d = timers_next_deadline(&dev->peers[i]->timers);

		if (d && (!earliest || d < earliest))
			earliest = d;
	}
	timer->deadline_ns = earliest;
}

/* Peers with a persistent keepalive speak at once: that opens NAT mappings and brings the
 * session up before the first packet needs it. */
int wg_device_start(struct wg_device *dev, struct worker *w)
{
	int ret;

	dev->worker = w;
	dev->stage_slot_size = w->mtu + SLOT_HEADROOM + SLOT_TAILROOM;
	dev->timer.fire = on_timer;
	ret = loop_add_timer(w->loop, &dev->timer);
	if (ret)
		return ret;
	for (unsigned int i = 0; i < dev->peer_count; i++) {
		timers_start(&dev->peers[i]->timers, w->loop->now_ns);
		wg_timers_changed(dev->peers[i]);
	}
	return 0;
}
