/* WireGuard peers: creation and removal, their tables, staged packets and requests. */
#include "wg.h"
#include "harden.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint64_t key_hash(const struct wg_device *dev, const uint8_t key[NOISE_PUBLIC_KEY_LEN])
{
	return ht_hash_key(dev->hash_secret, key, NOISE_PUBLIC_KEY_LEN);
}

struct wg_peer *wg_peer_by_key(const struct wg_device *dev, const uint8_t key[NOISE_PUBLIC_KEY_LEN])
{
	uint64_t hash = key_hash(dev, key);

	for (struct ht_node *n = ht_first(&dev->peers_by_key, hash); n; n = ht_next(n)) {
		struct wg_peer *p = ht_entry(n, struct wg_peer, key_node);

		if (!memcmp(p->hs.remote_static, key, NOISE_PUBLIC_KEY_LEN))
			return p;
	}
	return NULL;
}

static uint64_t id_hash(const struct wg_device *dev, uint32_t id)
{
	return ht_hash_key(dev->hash_secret, &id, sizeof(id));
}

struct wg_peer *wg_peer_by_id(const struct wg_device *dev, uint32_t id)
{
	for (struct ht_node *n = ht_first(&dev->peers_by_id, id_hash(dev, id)); n; n = ht_next(n)) {
		struct wg_peer *p = ht_entry(n, struct wg_peer, id_node);

		if (p->id == id)
			return p;
	}
	return NULL;
}

static void link_peer(struct wg_device *dev, struct wg_peer *p)
{
	p->list_prev = dev->last_peer;
	if (dev->last_peer)
		dev->last_peer->list_next = p;
	else
		dev->first_peer = p;
	dev->last_peer = p;
	dev->peer_count++;
	ht_insert(&dev->peers_by_key, &p->key_node, key_hash(dev, p->hs.remote_static));
	ht_insert(&dev->peers_by_id, &p->id_node, id_hash(dev, p->id));
}

static void unlink_peer(struct wg_device *dev, struct wg_peer *p)
{
	if (p->list_prev)
		p->list_prev->list_next = p->list_next;
	else
		dev->first_peer = p->list_next;
	if (p->list_next)
		p->list_next->list_prev = p->list_prev;
	else
		dev->last_peer = p->list_prev;
	dev->peer_count--;
	ht_remove(&dev->peers_by_key, &p->key_node);
	ht_remove(&dev->peers_by_id, &p->id_node);
}

int wg_peer_new(struct wg_device *dev, const struct noise_static_identity *identity,
		const uint8_t public_key[NOISE_PUBLIC_KEY_LEN], const uint8_t *psk,
		struct wg_peer **out)
{
	struct wg_peer *p = calloc(1, sizeof(*p));
	char b64[WGCRYPTO_KEY_B64_LEN + 1];

	if (!p)
		return -ENOMEM;
	p->dev = dev;
	harden_lock_keys(&p->hs, sizeof(p->hs)); /* the preshared key and the static-static secret */
	/* Without our private key the handshake cannot be precomputed yet; setting the key later
	 * (noise_handshake_set_identity) completes it. */
	if ((!noise_handshake_init(&p->hs, identity, public_key, psk) && identity->has_identity) ||
	    !noise_cookie_init(&p->cookie, public_key)) {
		noise_handshake_wipe(&p->hs);
		free(p);
		return -EINVAL;
	}
	wgcrypto_key_to_base64(b64, public_key);
	memcpy(p->short_key, b64, WG_SHORT_KEY_LEN - 1);
	pthread_mutex_init(&p->lock, NULL);
	timers_init(&p->timers);
	*out = p;
	return 0;
}

void wg_peer_link(struct wg_device *dev, struct wg_peer *p)
{
	p->id = dev->next_peer_id++;
	if (dev->engine)
		timers_start(&p->timers, wg_now(dev));
	link_peer(dev, p);
	log_debug("peer %u (%s) created", p->id, p->short_key);
}

void wg_peer_discard(struct wg_peer *p)
{
	if (!p)
		return;
	noise_handshake_wipe(&p->hs);
	pthread_mutex_destroy(&p->lock);
	wgcrypto_wipe(p, sizeof(*p));
	free(p);
}

int wg_peer_add(struct wg_device *dev, const uint8_t public_key[NOISE_PUBLIC_KEY_LEN],
		const uint8_t *psk, struct wg_peer **out)
{
	int ret;

	if (wg_peer_by_key(dev, public_key))
		return -EEXIST;
	ret = wg_peer_new(dev, &dev->identity, public_key, psk, out);
	if (!ret)
		wg_peer_link(dev, *out);
	return ret;
}

int wg_peer_allow(struct wg_peer *peer, const struct ip_prefix *prefix)
{
	return allowedips_insert(&peer->dev->allowedips, prefix->family, &prefix->addr,
				 prefix->cidr, peer);
}

void wg_peer_set_endpoint(struct wg_peer *p, const struct dgram_addr *ep)
{
	p->endpoint = *ep;
	p->endpoint_configured = true;
	p->udp_port = endpoint_port(&ep->remote);
	wg_transport_configure(p);
}

static void forget_requests(struct wg_device *dev, struct wg_peer *p)
{
	pthread_mutex_lock(&dev->requests_lock);
	for (struct wg_peer **link = &dev->requests; *link; link = &(*link)->request_next) {
		if (*link == p) {
			*link = p->request_next;
			break;
		}
	}
	p->requests = 0;
	pthread_mutex_unlock(&dev->requests_lock);
}

static void peer_free(struct wg_peer *p)
{
	log_info("peer %u (%s) destroyed", p->id, p->short_key);
	wg_keypairs_clear(p);
	noise_handshake_wipe(&p->hs);
	wgcrypto_wipe(&p->cookie, sizeof(p->cookie));
	if (p->staged)
		wgcrypto_wipe(p->staged, p->stage_slot_size * MAX_STAGED_PACKETS);
	free(p->staged);
	endpoint_name_set(&p->endpoint_name, NULL, 0);
	pthread_mutex_destroy(&p->lock);
	wgcrypto_wipe(p, sizeof(*p));
	free(p);
}

/* Takes the peer out of every lookup (list, key table, indices, allowed IPs, requests) before
 * freeing it; staged plaintext is wiped, and counted as dropped. */
int wg_peer_remove(struct wg_device *dev, struct wg_peer *peer)
{
	if (wg_peer_by_key(dev, peer->hs.remote_static) != peer)
		return -ENOENT;
	unlink_peer(dev, peer);
	allowedips_remove_by_owner(&dev->allowedips, peer);
	forget_requests(dev, peer);
	if (peer->hs_index.linked) {
		ht_remove(&dev->indices, &peer->hs_index.node);
		peer->hs_index.linked = false;
	}
	if (dev->engine)
		stats_drop(&dev->engine->stats, DROP_NO_ROUTE, peer->staged_count);
	peer_free(peer);
	return 0;
}

/* The staging buffer holds slots sized by the MTU of its time. An empty one that is too small
 * for the current MTU is replaced; while packets wait in it, it stays. */
static bool stage_buffer(struct wg_peer *p)
{
	size_t want = __atomic_load_n(&p->dev->stage_slot_size, __ATOMIC_RELAXED);

	if (p->staged && !p->staged_count && p->stage_slot_size < want) {
		wgcrypto_wipe(p->staged, p->stage_slot_size * MAX_STAGED_PACKETS);
		free(p->staged);
		p->staged = NULL;
	}
	if (!p->staged) {
		p->staged = malloc(want * MAX_STAGED_PACKETS);
		if (!p->staged)
			return false;
		p->stage_slot_size = want;
	}
	return true;
}

/* Keeps the newest MAX_STAGED_PACKETS packets; the oldest is dropped to make room. Every drop
 * is counted: a packet too big for the slots (the MTU grew while others waited), no memory,
 * or the oldest making room. */
bool wg_stage(struct wg_peer *p, const uint8_t *pkt, size_t len, struct stats *stats)
{
	size_t slot_size;
	unsigned int pos;

	if (!stage_buffer(p)) {
		stats_drop(stats, DROP_STAGED_OVERFLOW, 1);
		return false;
	}
	slot_size = p->stage_slot_size;
	if (len > slot_size - SLOT_HEADROOM - SLOT_TAILROOM) {
		stats_drop(stats, DROP_STAGED_OVERSIZED, 1);
		return false;
	}
	if (p->staged_count == MAX_STAGED_PACKETS) {
		p->staged_first = (p->staged_first + 1) % MAX_STAGED_PACKETS;
		p->staged_count--;
		stats_drop(stats, DROP_STAGED_OVERFLOW, 1);
	}
	pos = (p->staged_first + p->staged_count++) % MAX_STAGED_PACKETS;
	memcpy(p->staged + pos * slot_size + SLOT_HEADROOM, pkt, len);
	p->staged_len[pos] = (uint16_t)len;
	return true;
}

void wg_drop_staged(struct wg_peer *p, struct stats *stats, enum drop_reason why)
{
	stats_drop(stats, why, p->staged_count);
	if (p->staged)
		wgcrypto_wipe(p->staged, p->stage_slot_size * MAX_STAGED_PACKETS);
	p->staged_count = 0;
	p->staged_first = 0;
}

void wg_peer_request(struct wg_peer *p, unsigned int requests)
{
	struct wg_device *dev = p->dev;

	pthread_mutex_lock(&dev->requests_lock);
	if ((p->requests & requests) == requests) {
		pthread_mutex_unlock(&dev->requests_lock);
		return;
	}
	if (!p->requests) {
		p->request_next = dev->requests;
		dev->requests = p;
	}
	p->requests |= requests;
	pthread_mutex_unlock(&dev->requests_lock);
	engine_wake(dev->engine);
}
