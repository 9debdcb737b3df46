/* WireGuard peers: creation, keypair slots (previous, current, next), index lookup, staging. */
#include "wg.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int wg_device_init(struct wg_device *dev, const uint8_t *private_key)
{
	memset(dev, 0, sizeof(*dev));
	allowedips_init(&dev->allowedips);
	if (private_key && !noise_static_identity_init(&dev->identity, private_key))
		return -EINVAL;
	if (!wgcrypto_random(&dev->prng, sizeof(dev->prng)))
		return -EIO;
	dev->prng |= 1;
	dev->next_peer_id = 1;
	return 0;
}

static void peer_free(struct wg_peer *p)
{
	log_info("peer %u (%s) destroyed", p->id, p->short_key);
	wg_peer_clear_sessions(p);
	noise_handshake_wipe(&p->hs);
	wgcrypto_wipe(&p->cookie, sizeof(p->cookie));
	free(p->staged);
	free(p);
}

void wg_device_free(struct wg_device *dev)
{
	for (unsigned int i = 0; i < dev->peer_count; i++)
		peer_free(dev->peers[i]);
	dev->peer_count = 0;
	allowedips_free(&dev->allowedips);
	noise_static_identity_clear(&dev->identity);
	noise_cookie_checker_clear(&dev->cookie_checker);
}

int wg_peer_add(struct wg_device *dev, const uint8_t public_key[NOISE_PUBLIC_KEY_LEN],
		const uint8_t *psk, struct wg_peer **out)
{
	struct wg_peer *p;
	char b64[45];

	if (dev->peer_count == WG_MAX_PEERS)
		return -ENOSPC;
	if (wg_peer_by_key(dev, public_key))
		return -EEXIST;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->dev = dev;
	p->id = dev->next_peer_id++;
	wgcrypto_key_to_base64(b64, public_key);
	memcpy(p->short_key, b64, WG_SHORT_KEY_LEN - 1);
	/* Without our private key the handshake cannot be precomputed yet; setting the key later
	 * (noise_handshake_set_identity) completes it. */
	if ((!noise_handshake_init(&p->hs, &dev->identity, public_key, psk) &&
	     dev->identity.has_identity) ||
	    !noise_cookie_init(&p->cookie, public_key)) {
		free(p);
		return -EINVAL;
	}
	timers_init(&p->timers);
	dev->peers[dev->peer_count++] = p;
	log_info("peer %u (%s) created", p->id, p->short_key);
	*out = p;
	return 0;
}

int wg_peer_allow(struct wg_peer *peer, const struct ip_prefix *prefix)
{
	return allowedips_insert(&peer->dev->allowedips, prefix->family, &prefix->addr,
				 prefix->cidr, peer);
}

struct wg_peer *wg_peer_by_key(struct wg_device *dev, const uint8_t key[NOISE_PUBLIC_KEY_LEN])
{
	for (unsigned int i = 0; i < dev->peer_count; i++)
		if (!memcmp(dev->peers[i]->hs.remote_static, key, NOISE_PUBLIC_KEY_LEN))
			return dev->peers[i];
	return NULL;
}

static struct wg_session *peer_session(struct wg_peer *p, uint32_t index)
{
	struct wg_session *slots[] = { &p->current, &p->next, &p->prev };

	for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++)
		if (slots[i]->valid && slots[i]->kp.local_index == index)
			return slots[i];
	return NULL;
}

/* A linear scan, with the last hit checked first; a hash table is due when peers number
 * in the hundreds. */
struct wg_session *wg_session_by_index(struct wg_device *dev, uint32_t index,
				       struct wg_peer **peer)
{
	struct wg_session *s;

	if (dev->last_session && dev->last_session->valid &&
	    dev->last_session->kp.local_index == index) {
		*peer = dev->last_peer;
		return dev->last_session;
	}
	for (unsigned int i = 0; i < dev->peer_count; i++) {
		s = peer_session(dev->peers[i], index);
		if (s) {
			*peer = dev->last_peer = dev->peers[i];
			return dev->last_session = s;
		}
	}
	return NULL;
}

struct wg_peer *wg_peer_by_handshake_index(struct wg_device *dev, uint32_t index)
{
	for (unsigned int i = 0; i < dev->peer_count; i++) {
		struct wg_peer *p = dev->peers[i];

		if (p->hs.state != NOISE_HANDSHAKE_ZEROED && p->hs.local_index == index)
			return p;
	}
	return NULL;
}

static bool index_in_use(void *ctx, uint32_t index)
{
	struct wg_device *dev = ctx;
	struct wg_peer *p;

	return wg_session_by_index(dev, index, &p) || wg_peer_by_handshake_index(dev, index);
}

bool wg_new_index(struct wg_device *dev, uint32_t *index)
{
	return noise_new_index(index, index_in_use, dev);
}

void wg_session_clear(struct wg_session *s)
{
	noise_keypair_clear(&s->kp);
	memset(s, 0, sizeof(*s));
}

void wg_session_install(struct wg_session *slot, struct noise_keypair *kp)
{
	wg_session_clear(slot);
	slot->kp = *kp;
	replay_init(&slot->replay);
	slot->valid = true;
	memset(kp, 0, sizeof(*kp)); /* the slot owns the cipher contexts now */
}

/* The responder's first data under "next" confirms the handshake: next becomes current. */
void wg_peer_promote_next(struct wg_peer *p)
{
	wg_session_clear(&p->prev);
	p->prev = p->current;
	p->current = p->next;
	memset(&p->next, 0, sizeof(p->next));
	p->dev->last_session = NULL;
}

void wg_peer_clear_sessions(struct wg_peer *p)
{
	wg_session_clear(&p->prev);
	wg_session_clear(&p->current);
	wg_session_clear(&p->next);
	p->dev->last_session = NULL;
}

/* Keeps the newest MAX_STAGED_PACKETS packets; the oldest is dropped to make room. */
bool wg_stage(struct wg_peer *p, const uint8_t *pkt, size_t len)
{
	size_t slot_size = p->dev->stage_slot_size;
	unsigned int pos;

	if (len > slot_size - SLOT_HEADROOM - SLOT_TAILROOM)
		return false;
	if (!p->staged) {
		p->staged = malloc(slot_size * MAX_STAGED_PACKETS);
		if (!p->staged)
			return false;
	}
	if (p->staged_count == MAX_STAGED_PACKETS) {
		p->staged_first = (p->staged_first + 1) % MAX_STAGED_PACKETS;
		p->staged_count--;
		worker_drop(p->dev->worker, DROP_STAGED_OVERFLOW);
	}
	pos = (p->staged_first + p->staged_count++) % MAX_STAGED_PACKETS;
	memcpy(p->staged + pos * slot_size + SLOT_HEADROOM, pkt, len);
	p->staged_len[pos] = (uint16_t)len;
	return true;
}

void wg_drop_staged(struct wg_peer *p)
{
	p->dev->worker->stats.drops[DROP_HANDSHAKE_TIMEOUT] += p->staged_count;
	p->staged_count = 0;
	p->staged_first = 0;
}

/* xorshift64: timer jitter needs spread, not secrecy. */
uint64_t wg_jitter(struct wg_device *dev)
{
	dev->prng ^= dev->prng << 13;
	dev->prng ^= dev->prng >> 7;
	dev->prng ^= dev->prng << 17;
	return dev->prng;
}

/* Takes the peer out of every lookup (peer list, allowed IPs, the last-session cache) before
 * freeing it; staged plaintext is wiped, and counted as dropped when a worker counts drops. */
int wg_peer_remove(struct wg_device *dev, struct wg_peer *peer)
{
	unsigned int i;

	for (i = 0; i < dev->peer_count && dev->peers[i] != peer; i++)
		;
	if (i == dev->peer_count)
		return -ENOENT;
	memmove(&dev->peers[i], &dev->peers[i + 1],
		(dev->peer_count - i - 1) * sizeof(dev->peers[0]));
	dev->peers[--dev->peer_count] = NULL;
	allowedips_remove_by_owner(&dev->allowedips, peer);
	dev->last_session = NULL;
	dev->last_peer = NULL;
	if (dev->worker)
		dev->worker->stats.drops[DROP_NO_ROUTE] += peer->staged_count;
	if (peer->staged)
		wgcrypto_wipe(peer->staged, dev->stage_slot_size * MAX_STAGED_PACKETS);
	peer_free(peer);
	return 0;
}
