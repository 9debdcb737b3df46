/* Wire format of the plaintext tunnel and IP packet validation (pure). */
#ifndef MYVPN_PACKET_H
#define MYVPN_PACKET_H

#include "stats.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Plaintext messages carry a 4-byte header: 'm' 'v' VERSION TYPE. It lets the receiver tell
 * keepalives from data and reject stray datagrams (for example a WireGuard peer pointed at a
 * plaintext port) instead of writing them to the TUN. */
enum {
	PLAIN_MAGIC0 = 'm',
	PLAIN_MAGIC1 = 'v',
	PLAIN_VERSION = 1,
	PLAIN_HEADER_LEN = 4,
};

enum plain_type {
	PLAIN_DATA = 1,
	PLAIN_KEEPALIVE = 2,
};

enum rx_verdict {
	RX_DATA,      /* *payload_len bytes of IP packet follow the header */
	RX_KEEPALIVE,
	RX_DROP,      /* *why says which counter to bump */
};

void plain_write_header(uint8_t *header, enum plain_type type);

/* Whether a TCP stream whose first frame announces len bytes starting with first may carry the
 * plaintext tunnel (transport_tcp_options.hello). */
bool plain_tcp_hello(size_t len, uint8_t first);

/* Classifies one received datagram. mtu is the TUN's: larger payloads are dropped. */
enum rx_verdict plain_decode(const uint8_t *dgram, size_t len, size_t mtu, size_t *payload_len,
			     enum drop_reason *why);

/* Returns the length the IP header claims (<= len), or 0 with *why set if the buffer does not
 * hold a well-formed IPv4 or IPv6 packet. Trailing bytes beyond the claimed length are padding. */
size_t ip_packet_length(const uint8_t *pkt, size_t len, enum drop_reason *why);

/* A hash of the packet's flow that is the same in both directions: addresses, protocol and,
 * for TCP and UDP, ports (an IPv4 fragment or an IPv6 packet with extension headers hashes by
 * addresses and protocol alone). 0 for what is not IP. It spreads flows over TUN queues; it is
 * not keyed, so it is for nothing an attacker could gain by colliding. */
uint32_t packet_flow_hash(const uint8_t *pkt, size_t len);

#endif
