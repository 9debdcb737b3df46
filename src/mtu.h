/* Tunnel MTU arithmetic: what fits inside one underlay packet. */
#ifndef MYVPN_MTU_H
#define MYVPN_MTU_H

#include <stdbool.h>

enum {
	UNDERLAY_MTU_DEFAULT = 1500,
	IPV4_HEADER_LEN = 20,
	IPV6_HEADER_LEN = 40,
	UDP_HEADER_LEN = 8,
	TUNNEL_MTU_MIN = 576,   /* the smallest datagram every IPv4 host must accept */
	TUNNEL_MTU_MAX = 65535 - IPV6_HEADER_LEN - UDP_HEADER_LEN - 32,
};

/* Largest inner packet such that outer IP + UDP + our per-packet overhead fits underlay_mtu.
 * IPv6 is assumed for the outer header because the peer may be reached over either family. */
int mtu_for_underlay(int underlay_mtu, int tunnel_overhead);
bool mtu_in_range(int mtu);

#endif
