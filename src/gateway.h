/* The server as the clients' way out: forwarding on, and one nftables table of our own that
 * forwards, masquerades and clamps the MSS for the tunnel's prefixes. */
#ifndef MYVPN_GATEWAY_H
#define MYVPN_GATEWAY_H

#include "addr.h"

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>

enum { GATEWAY_MAX_PREFIXES = 64 };

struct gateway {
	char table[IFNAMSIZ + 8];    /* "myvpn-IFNAME", in the inet family */
	char uplink[IFNAMSIZ];
	int old_forwarding[2];       /* IPv4, IPv6 before we started; -1 = no such sysctl */
	bool installed;
};

/*
 * The ruleset (pure, for the unit tests): replaces a table of the same name, if any, in the
 * same transaction. From tun to uplink it forwards only sources in prefixes (others are dropped
 * and counted: "spoofed"), from uplink to tun only established or related traffic; masquerades
 * prefixes on uplink; clamps the MSS of SYNs both ways to the route's MTU. The table's comment
 * records the forwarding values to put back, so that a start after a crash restores the
 * original ones. Returns the length, or -ENOSPC.
 */
int gateway_ruleset(char *buf, size_t len, const char *table, const char *tun, const char *uplink,
		    const struct ip_prefix *prefixes, size_t count, const int old_forwarding[2]);

/*
 * Installs it for interface tun (its addresses give the prefixes, plus extra ones such as the
 * peers' allowed IPs, /0 excepted). uplink NULL or "": the default route's interface. Either
 * everything is in place, or nothing is and err holds one line.
 */
int gateway_open(struct gateway *gw, const char *tun, unsigned int tun_ifindex, const char *uplink,
		 const struct ip_prefix *extra, size_t extra_count, char *err, size_t errlen);
/* Removes the table and puts the forwarding sysctls back. Safe on a zeroed gateway. */
void gateway_close(struct gateway *gw);
/* `myvpn down IFNAME` after a crash: removes a table left behind and restores from its
 * comment. 0 when there was one, -ENOENT when not. */
int gateway_remove_stale(const char *tun);

#endif
