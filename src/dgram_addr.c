/* Comparison of datagram addresses: a peer's endpoint together with our side of the path. */
#include "transport.h"

#include <string.h>

static bool local_equal(const struct local_addr *a, const struct local_addr *b)
{
	if (a->family != b->family || a->ifindex != b->ifindex)
		return false;
	if (a->family == AF_INET)
		return a->addr.v4.s_addr == b->addr.v4.s_addr;
	if (a->family == AF_INET6)
		return !memcmp(&a->addr.v6, &b->addr.v6, sizeof(a->addr.v6));
	return true; /* both unknown */
}

bool dgram_addr_equal(const struct dgram_addr *a, const struct dgram_addr *b)
{
	if (a->kind != b->kind || a->conn != b->conn)
		return false;
	return endpoint_equal(&a->remote, &b->remote) && local_equal(&a->local, &b->local);
}
