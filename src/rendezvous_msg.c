/* Rendezvous wire formats: control messages and relay envelopes, and the relay's byte
 * budgets. Pure: no I/O, no globals but the magic. */
#include "rendezvous.h"
#include "messages.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <string.h>

const uint8_t rdv_magic[4] = { 0x00, 'R', 'D', 'V' };

bool rdv_is_control(const uint8_t *plain, size_t len)
{
	return len >= RDV_HEADER_LEN && !memcmp(plain, rdv_magic, sizeof(rdv_magic));
}

static const uint8_t v4_mapped_prefix[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

static bool put_addr(uint8_t *out, const union endpoint *ep)
{
	if (ep->sa.sa_family == AF_INET) {
		memcpy(out, v4_mapped_prefix, 12);
		memcpy(out + 12, &ep->in.sin_addr, 4);
		memcpy(out + 16, &ep->in.sin_port, 2);
		return true;
	}
	if (ep->sa.sa_family == AF_INET6) {
		memcpy(out, &ep->in6.sin6_addr, 16);
		memcpy(out + 16, &ep->in6.sin6_port, 2);
		return true;
	}
	return false;
}

/* A zero address or port is "none": family 0. */
static void get_addr(const uint8_t *in, union endpoint *ep)
{
	static const uint8_t zero[16];

	memset(ep, 0, sizeof(*ep));
	if (!memcmp(in, zero, 16) || (!in[16] && !in[17]))
		return;
	if (!memcmp(in, v4_mapped_prefix, 12)) {
		ep->in.sin_family = AF_INET;
		memcpy(&ep->in.sin_addr, in + 12, 4);
		memcpy(&ep->in.sin_port, in + 16, 2);
		return;
	}
	ep->in6.sin6_family = AF_INET6;
	memcpy(&ep->in6.sin6_addr, in, 16);
	memcpy(&ep->in6.sin6_port, in + 16, 2);
}

static void put_be32(uint8_t *out, uint32_t v)
{
	v = htobe32(v);
	memcpy(out, &v, 4);
}

static uint32_t get_be32(const uint8_t *in)
{
	uint32_t v;

	memcpy(&v, in, 4);
	return be32toh(v);
}

/* The bytes between the header and the address list, by type. */
static size_t fixed_len(uint8_t type)
{
	switch (type) {
	case RDV_HELLO:
		return 0;
	case RDV_QUERY:
		return RDV_KEY_LEN;
	case RDV_PEER:
		return RDV_KEY_LEN + 8 + RDV_ADDR_LEN;
	case RDV_SEEN:
		return RDV_ADDR_LEN;
	}
	return SIZE_MAX;
}

size_t rdv_encode(const struct rdv_msg *m, uint8_t *buf, size_t cap)
{
	size_t fixed = fixed_len(m->type), len;
	uint8_t *p;

	if (fixed == SIZE_MAX || m->addr_count > RDV_MAX_ADDRS)
		return 0;
	len = RDV_HEADER_LEN + fixed + RDV_ADDR_LEN * m->addr_count;
	if (len > cap)
		return 0;
	memset(buf, 0, len);
	memcpy(buf, rdv_magic, sizeof(rdv_magic));
	buf[4] = m->type;
	buf[5] = m->flags;
	buf[6] = (uint8_t)m->addr_count;
	buf[7] = RDV_VERSION;
	p = buf + RDV_HEADER_LEN;
	if (m->type == RDV_QUERY || m->type == RDV_PEER) {
		memcpy(p, m->key, RDV_KEY_LEN);
		p += RDV_KEY_LEN;
	}
	if (m->type == RDV_SEEN) {
		put_addr(p, &m->observed);
		p += RDV_ADDR_LEN;
	}
	if (m->type == RDV_PEER) {
		put_be32(p, m->peer_id);
		put_be32(p + 4, m->your_id);
		put_addr(p + 8, &m->observed); /* none stays zero */
		p += 8 + RDV_ADDR_LEN;
	}
	for (unsigned int i = 0; i < m->addr_count; i++, p += RDV_ADDR_LEN)
		if (!put_addr(p, &m->addrs[i]))
			return 0;
	return len;
}

int rdv_decode(const uint8_t *buf, size_t len, struct rdv_msg *m)
{
	size_t fixed;
	const uint8_t *p;

	memset(m, 0, sizeof(*m));
	if (!rdv_is_control(buf, len) || buf[7] != RDV_VERSION || buf[6] > RDV_MAX_ADDRS)
		return -EBADMSG;
	fixed = fixed_len(buf[4]);
	if (fixed == SIZE_MAX || len < RDV_HEADER_LEN + fixed + (size_t)buf[6] * RDV_ADDR_LEN)
		return -EBADMSG;
	m->type = buf[4];
	m->flags = buf[5];
	p = buf + RDV_HEADER_LEN;
	if (m->type == RDV_QUERY || m->type == RDV_PEER) {
		memcpy(m->key, p, RDV_KEY_LEN);
		p += RDV_KEY_LEN;
	}
	if (m->type == RDV_SEEN) {
		get_addr(p, &m->observed);
		p += RDV_ADDR_LEN;
	}
	if (m->type == RDV_PEER) {
		m->peer_id = get_be32(p);
		m->your_id = get_be32(p + 4);
		get_addr(p + 8, &m->observed);
		p += 8 + RDV_ADDR_LEN;
	}
	for (unsigned int i = 0; i < buf[6]; i++, p += RDV_ADDR_LEN) {
		get_addr(p, &m->addrs[m->addr_count]);
		if (m->addrs[m->addr_count].sa.sa_family)
			m->addr_count++; /* a zero address is skipped, not an error */
	}
	return 0;
}

int rdv_relay_parse(const uint8_t *dgram, size_t len, struct rdv_relay_header *h)
{
	uint32_t inner;

	if (len < RDV_RELAY_HEADER_LEN + sizeof(inner))
		return -EBADMSG;
	h->dst = get_be32(dgram + 4);
	h->src = get_be32(dgram + 8);
	memcpy(&inner, dgram + RDV_RELAY_HEADER_LEN, sizeof(inner));
	return le32toh(inner) == MESSAGE_RELAY ? -EBADMSG : 0;
}

bool rdv_budget_take(struct rdv_budget *b, uint64_t now_ns, size_t len, uint64_t bytes_per_s)
{
	uint64_t cost = (uint64_t)len * 1000000000ull / bytes_per_s;
	uint64_t tat = __atomic_load_n(&b->tat, __ATOMIC_RELAXED), next;

	do {
		next = (tat > now_ns ? tat : now_ns) + cost;
		if (next - now_ns > RDV_BUDGET_BURST_NS)
			return false;
	} while (!__atomic_compare_exchange_n(&b->tat, &tat, next, true, __ATOMIC_RELAXED,
					      __ATOMIC_RELAXED));
	return true;
}
