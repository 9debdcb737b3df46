/* Tunnel MTU arithmetic: what fits inside one underlay packet. */
#include "mtu.h"

int mtu_for_underlay(int underlay_mtu, int tunnel_overhead)
{
	return underlay_mtu - IPV6_HEADER_LEN - UDP_HEADER_LEN - tunnel_overhead;
}

bool mtu_in_range(int mtu)
{
	return mtu >= TUNNEL_MTU_MIN && mtu <= TUNNEL_MTU_MAX;
}
