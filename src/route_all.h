/* A full tunnel on a client: policy routing with a firewall mark, as wg-quick does, and a kill
 * switch (an nftables table of its own) that keeps everything else from leaving outside it. */
#ifndef MYVPN_ROUTE_ALL_H
#define MYVPN_ROUTE_ALL_H

#include "addr.h"

#include <net/if.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { ROUTE_ALL_DEFAULT_MARK = 51820, ROUTE_ALL_MAX_LAN = 64 };

struct route_all {
	char table[IFNAMSIZ + 12]; /* the kill switch: "myvpn-ks-IFNAME", inet family */
	unsigned int ifindex;
	uint32_t fwmark;           /* on the tunnel's sockets; also the routing table's number */
	bool kill_switch;
	bool routed[2];            /* IPv4, IPv6: route and rules in place */
};

/*
 * The kill switch (pure, for the unit tests): replaces a table of the same name in the same
 * transaction. Output and forwarded packets may leave only through tun or lo, when they carry
 * fwmark (the tunnel's own datagrams), as IPv6 neighbour discovery, or, when lan is given, to
 * its prefixes, IPv6 link-local and multicast; everything else is dropped and counted. The
 * comment records the mark so that `myvpn down` can remove the rules of a crashed run.
 */
int route_all_ruleset(char *buf, size_t len, const char *table, const char *tun, uint32_t fwmark,
		      const struct ip_prefix *lan, size_t lan_count);

/* Kill switch first (unless !kill_switch), then for IPv4 and IPv6 a default route in table
 * fwmark and the two rules. The caller has already marked the tunnel's sockets with fwmark.
 * Either everything is in place or nothing is, and err holds one line. */
int route_all_open(struct route_all *r, const char *tun, unsigned int ifindex, uint32_t fwmark,
		   bool kill_switch, bool allow_lan, char *err, size_t errlen);
/* Removes the rules, the routes, then the kill switch: a clean exit leaves nothing. */
void route_all_close(struct route_all *r);
/* `myvpn down IFNAME`: the kill switch and rules a crashed run kept. 0 when a kill switch was
 * found, -ENOENT when not (the rules of the default mark are removed anyway). */
int route_all_remove_stale(const char *tun);

#endif
