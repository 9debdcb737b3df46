/* Wire format of the plaintext tunnel and IP packet validation (pure). */
#include "packet.h"

#include <stdbool.h>

void plain_write_header(uint8_t *header, enum plain_type type)
{
	header[0] = PLAIN_MAGIC0;
	header[1] = PLAIN_MAGIC1;
	header[2] = PLAIN_VERSION;
	header[3] = (uint8_t)type;
}

size_t ip_packet_length(const uint8_t *pkt, size_t len, enum drop_reason *why)
{
	size_t claimed;

	if (len < 1) {
		*why = DROP_NOT_IP;
		return 0;
	}
	switch (pkt[0] >> 4) {
	case 4:
		if (len < 20 || (pkt[0] & 0x0f) < 5) {
			*why = DROP_BAD_IP_LENGTH;
			return 0;
		}
		claimed = (size_t)pkt[2] << 8 | pkt[3];
		if (claimed < (size_t)(pkt[0] & 0x0f) * 4)
			claimed = 0;
		break;
	case 6:
		if (len < 40) {
			*why = DROP_BAD_IP_LENGTH;
			return 0;
		}
		claimed = ((size_t)pkt[4] << 8 | pkt[5]) + 40;
		break;
	default:
		*why = DROP_NOT_IP;
		return 0;
	}
	if (claimed == 0 || claimed > len) {
		*why = DROP_BAD_IP_LENGTH;
		return 0;
	}
	return claimed;
}

/* One end of a flow (address bytes and port) mixed to 32 bits: FNV-1a, then a finalizer. */
static uint32_t end_hash(const uint8_t *addr, size_t addr_len, const uint8_t *port)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < addr_len; i++)
		h = (h ^ addr[i]) * 16777619u;
	if (port)
		h = ((h ^ port[0]) * 16777619u ^ port[1]) * 16777619u;
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	return h;
}

static bool has_ports(uint8_t proto)
{
	return proto == 6 || proto == 17; /* TCP, UDP */
}

uint32_t packet_flow_hash(const uint8_t *pkt, size_t len)
{
	const uint8_t *ports = NULL;
	size_t addr_off, addr_len, l4;
	uint8_t proto;

	if (len >= 20 && pkt[0] >> 4 == 4) {
		bool fragment = (pkt[6] & 0x3f) || pkt[7]; /* MF or an offset */

		proto = pkt[9];
		addr_off = 12, addr_len = 4, l4 = (size_t)(pkt[0] & 0x0f) * 4;
		if (!fragment && has_ports(proto) && l4 >= 20 && len >= l4 + 4)
			ports = pkt + l4;
	} else if (len >= 40 && pkt[0] >> 4 == 6) {
		proto = pkt[6];
		addr_off = 8, addr_len = 16;
		if (has_ports(proto) && len >= 44)
			ports = pkt + 40;
	} else {
		return 0;
	}
	/* a sum of the two ends: the same whichever is the source */
	return (end_hash(pkt + addr_off, addr_len, ports) +
		end_hash(pkt + addr_off + addr_len, addr_len, ports ? ports + 2 : NULL)) ^ proto;
}

bool plain_tcp_hello(size_t len, uint8_t first)
{
	return len >= PLAIN_HEADER_LEN && first == PLAIN_MAGIC0;
}

enum rx_verdict plain_decode(const uint8_t *dgram, size_t len, size_t mtu, size_t *payload_len,
			     enum drop_reason *why)
{
	size_t ip_len;

	if (len < PLAIN_HEADER_LEN) {
		*why = DROP_SHORT;
		return RX_DROP;
	}
	if (dgram[0] != PLAIN_MAGIC0 || dgram[1] != PLAIN_MAGIC1 || dgram[2] != PLAIN_VERSION) {
		*why = DROP_BAD_HEADER;
		return RX_DROP;
	}
	if (dgram[3] == PLAIN_KEEPALIVE && len == PLAIN_HEADER_LEN)
		return RX_KEEPALIVE;
	if (dgram[3] != PLAIN_DATA) {
		*why = DROP_BAD_HEADER;
		return RX_DROP;
	}
	if (len - PLAIN_HEADER_LEN > mtu) {
		*why = DROP_OVERSIZED;
		return RX_DROP;
	}
	ip_len = ip_packet_length(dgram + PLAIN_HEADER_LEN, len - PLAIN_HEADER_LEN, why);
	if (!ip_len)
		return RX_DROP;
	*payload_len = ip_len;
	return RX_DATA;
}
