/* Wire format of the plaintext tunnel and IP packet validation (pure). */
#include "packet.h"

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
