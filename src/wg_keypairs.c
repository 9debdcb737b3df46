/* Session slots: the one place where a peer's sessions are installed, promoted and freed.
 *
 *   initiator: response consumed -> new session is current at once (the response proves the
 *              responder has it); old current becomes previous.
 *   responder: initiation answered -> new session waits as next; the initiator's first data
 *              under it confirms it: next becomes current, old current becomes previous.
 * Every change runs on the control thread under the device's write lock, so workers, which
 * hold the read lock, see either the old slots or the new ones. */
#include "wg.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static uint64_t index_hash(uint32_t index)
{
	return index; /* we choose indices at random: nobody else can aim them at one chain */
}

static struct wg_index_entry *index_lookup(const struct wg_device *dev, uint32_t index)
{
	for (struct ht_node *n = ht_first(&dev->indices, index_hash(index)); n; n = ht_next(n)) {
		struct wg_index_entry *e = ht_entry(n, struct wg_index_entry, node);

		if (e->index == index)
			return e;
	}
	return NULL;
}

struct wg_session *wg_session_by_index(const struct wg_device *dev, uint32_t index,
				       struct wg_peer **peer)
{
	struct wg_index_entry *e = index_lookup(dev, index);

	if (!e || !e->session)
		return NULL;
	*peer = e->peer;
	return e->session;
}

struct wg_peer *wg_peer_by_handshake_index(const struct wg_device *dev, uint32_t index)
{
	struct wg_index_entry *e = index_lookup(dev, index);

	return e && !e->session ? e->peer : NULL;
}

static bool index_in_use(void *ctx, uint32_t index)
{
	return index_lookup(ctx, index) != NULL;
}

bool wg_new_index(struct wg_device *dev, uint32_t *index)
{
	return noise_new_index(index, index_in_use, dev);
}

static void link_index(struct wg_device *dev, struct wg_index_entry *e)
{
	ht_insert(&dev->indices, &e->node, index_hash(e->index));
	e->linked = true;
}

static void unlink_index(struct wg_device *dev, struct wg_index_entry *e)
{
	if (e->linked)
		ht_remove(&dev->indices, &e->node);
	e->linked = false;
}

void wg_sync_handshake_index(struct wg_peer *p)
{
	unlink_index(p->dev, &p->hs_index);
	if (p->hs.state != NOISE_HANDSHAKE_CREATED_INITIATION)
		return;
	p->hs_index = (struct wg_index_entry){ .index = p->hs.local_index, .peer = p };
	link_index(p->dev, &p->hs_index);
}

static void session_free(struct wg_device *dev, struct wg_session *s)
{
	if (!s)
		return;
	unlink_index(dev, &s->index);
	for (unsigned int i = 0; i < s->cipher_slots; i++) {
		wgcrypto_aead_free(&s->send[i]);
		wgcrypto_aead_free(&s->recv[i]);
	}
	free(s->send);
	free(s->recv);
	noise_keypair_clear(&s->kp);
	pthread_spin_destroy(&s->replay_lock);
	wgcrypto_wipe(s, sizeof(*s));
	free(s);
}

static struct wg_session *session_new(struct wg_peer *p, struct noise_keypair *kp)
{
	unsigned int slots = p->dev->cipher_slots ? p->dev->cipher_slots : 1;
	struct wg_session *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->send = calloc(slots, sizeof(*s->send));
	s->recv = calloc(slots, sizeof(*s->recv));
	if (!s->send || !s->recv) {
		free(s->send);
		free(s->recv);
		free(s);
		return NULL;
	}
	s->cipher_slots = slots;
	s->kp = *kp;
	wgcrypto_wipe(kp, sizeof(*kp)); /* the session owns the contexts now */
	replay_init(&s->replay);
	pthread_spin_init(&s->replay_lock, PTHREAD_PROCESS_PRIVATE);
	s->index = (struct wg_index_entry){ .index = s->kp.local_index, .peer = p, .session = s };
	return s;
}

int wg_keypairs_install(struct wg_peer *p, struct noise_keypair *kp, bool as_current)
{
	struct wg_session *s = session_new(p, kp);

	if (!s) {
		noise_keypair_clear(kp);
		return -ENOMEM;
	}
	link_index(p->dev, &s->index);
	if (as_current) {
		session_free(p->dev, p->next);
		session_free(p->dev, p->previous);
		p->next = NULL;
		p->previous = p->current;
		p->current = s;
	} else {
		session_free(p->dev, p->next);
		p->next = s;
	}
	return 0;
}

bool wg_keypairs_promote(struct wg_peer *p, uint32_t index)
{
	if (!p->next || p->next->index.index != index)
		return false;
	session_free(p->dev, p->previous);
	p->previous = p->current;
	p->current = p->next;
	p->next = NULL;
	return true;
}

void wg_keypairs_clear(struct wg_peer *p)
{
	session_free(p->dev, p->previous);
	session_free(p->dev, p->current);
	session_free(p->dev, p->next);
	p->previous = p->current = p->next = NULL;
}

struct wgcrypto_aead_key *wg_session_cipher(struct wg_session *s, unsigned int slot, bool send)
{
	struct wgcrypto_aead_key *k;

	if (slot >= s->cipher_slots)
		return NULL;
	k = send ? &s->send[slot] : &s->recv[slot];
	if (!k->ctx && !wgcrypto_aead_dup(k, send ? &s->kp.send : &s->kp.recv))
		return NULL;
	return k;
}
