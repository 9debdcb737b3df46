/* A full tunnel on a client. Routing, as wg-quick: the tunnel's sockets carry fwmark; packets
 * without it look up table fwmark, whose only route is the default through the tunnel, after
 * the main table has had its say without its default route (suppress_prefixlength 0). The
 * kill switch is a separate nftables table that a crash leaves in place, so that nothing leaks
 * while the daemon is dead. */
#include "route_all.h"
#include "log.h"
#include "netlink.h"
#include "nft.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static const int families[2] = { AF_INET, AF_INET6 };

static int append(char *buf, size_t len, size_t *used, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int append(char *buf, size_t len, size_t *used, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (*used >= len)
		return -ENOSPC;
	va_start(ap, fmt);
	n = vsnprintf(buf + *used, len - *used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= len - *used) {
		*used = len;
		return -ENOSPC;
	}
	*used += (size_t)n;
	return 0;
}

static void append_lan(char *buf, size_t len, size_t *used, const struct ip_prefix *lan,
		       size_t count)
{
	char addr[INET6_ADDRSTRLEN];

	for (size_t i = 0; i < count; i++) {
		inet_ntop(lan[i].family, &lan[i].addr, addr, sizeof(addr));
		append(buf, len, used, "\t\t%s daddr %s/%u accept\n",
		       lan[i].family == AF_INET ? "ip" : "ip6", addr, lan[i].cidr);
	}
	append(buf, len, used, "\t\tip daddr { 224.0.0.0/4, 255.255.255.255 } accept\n"
			       "\t\tip6 daddr { fe80::/10, ff00::/8 } accept\n");
}

int route_all_ruleset(char *buf, size_t len, const char *table, const char *tun, uint32_t fwmark,
		      const struct ip_prefix *lan, size_t lan_count)
{
	size_t used = 0;

	append(buf, len, &used, "table inet %s\ndelete table inet %s\ntable inet %s {\n", table,
	       table, table);
	append(buf, len, &used, "\tcomment \"myvpn kill switch: fwmark=%u\"\n", fwmark);
	append(buf, len, &used, "\tchain allowed {\n\t\toifname { \"lo\", \"%s\" } accept\n", tun);
	append(buf, len, &used, "\t\tmeta mark %u accept\n", fwmark);
	append(buf, len, &used, "\t\ticmpv6 type { nd-neighbor-solicit, nd-neighbor-advert, nd-router-solicit } ip6 hoplimit 255 accept\n");
	if (lan)
		append_lan(buf, len, &used, lan, lan_count);
	append(buf, len, &used, "\t\tcounter drop comment \"outside the tunnel\"\n\t}\n");
	append(buf, len, &used, "\tchain output {\n\t\ttype filter hook output priority filter; policy accept;\n\t\tjump allowed\n\t}\n");
	append(buf, len, &used, "\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n\t\tjump allowed\n\t}\n}\n");
	return used >= len ? -ENOSPC : (int)used;
}

static int install_kill_switch(struct route_all *r, const char *tun, bool allow_lan, char *err,
			       size_t errlen)
{
	struct ip_prefix lan[ROUTE_ALL_MAX_LAN];
	size_t lan_count = 0;
	char ruleset[8192];
	int ret;

	if (allow_lan && (ret = netlink_local_prefixes(r->ifindex, lan, ROUTE_ALL_MAX_LAN, &lan_count))) {
		snprintf(err, errlen, "cannot list the local networks: %s", strerror(-ret));
		return ret;
	}
	if (route_all_ruleset(ruleset, sizeof(ruleset), r->table, tun, r->fwmark,
			      allow_lan ? lan : NULL, lan_count) < 0) {
		snprintf(err, errlen, "kill switch: too many local networks");
		return -ENOSPC;
	}
	ret = nft_apply(ruleset, err, errlen);
	if (!ret)
		r->kill_switch = true;
	return ret;
}

/* Rules of an earlier run (a crash) would make ours fail with EEXIST: ours replace them. */
static int route_family(struct route_all *r, int i, char *err, size_t errlen)
{
	int ret;

	netlink_fwmark_rules(families[i], r->fwmark, r->fwmark, false);
	ret = netlink_table_default_route(r->ifindex, families[i], r->fwmark, true);
	if (ret == -EAFNOSUPPORT && families[i] == AF_INET6)
		return 0; /* no IPv6 here; the kill switch still drops it */
	if (!ret) {
		ret = netlink_fwmark_rules(families[i], r->fwmark, r->fwmark, true);
		if (ret)
			netlink_table_default_route(r->ifindex, families[i], r->fwmark, false);
	}
	if (ret) {
		snprintf(err, errlen, "cannot route %s through the tunnel (table %u): %s",
			 families[i] == AF_INET ? "IPv4" : "IPv6", r->fwmark, strerror(-ret));
		return ret;
	}
	r->routed[i] = true;
	return 0;
}

int route_all_open(struct route_all *r, const char *tun, unsigned int ifindex, uint32_t fwmark,
		   bool kill_switch, bool allow_lan, char *err, size_t errlen)
{
	int ret = 0;

	*r = (struct route_all){ .ifindex = ifindex, .fwmark = fwmark };
	snprintf(r->table, sizeof(r->table), "myvpn-ks-%s", tun);
	if (kill_switch)
		ret = install_kill_switch(r, tun, allow_lan, err, errlen);
	for (int i = 0; !ret && i < 2; i++)
		ret = route_family(r, i, err, errlen);
	if (ret) {
		route_all_close(r);
		return ret;
	}
	log_info("all traffic through %s (fwmark and table %u), kill switch %s", tun, fwmark,
		 !kill_switch ? "off (--allow-leaks)" : allow_lan ? "on, local networks allowed" : "on");
	return 0;
}

void route_all_close(struct route_all *r)
{
	char err[256];

	for (int i = 0; i < 2; i++) {
		if (!r->routed[i])
			continue;
		netlink_fwmark_rules(families[i], r->fwmark, r->fwmark, false);
		netlink_table_default_route(r->ifindex, families[i], r->fwmark, false);
		r->routed[i] = false;
	}
	if (r->kill_switch && nft_delete_table("inet", r->table, err, sizeof(err)))
		log_warn("cannot remove the kill switch (table inet %s): %s", r->table, err);
	r->kill_switch = false;
}

int route_all_remove_stale(const char *tun)
{
	char table[IFNAMSIZ + 12], cmd[64], out[4096];
	unsigned int fwmark = ROUTE_ALL_DEFAULT_MARK;
	const char *c;
	bool found;

	snprintf(table, sizeof(table), "myvpn-ks-%s", tun);
	snprintf(cmd, sizeof(cmd), "list table inet %s", table);
	found = !nft_list(cmd, out, sizeof(out));
	if (found && (c = strstr(out, "myvpn kill switch: fwmark=")))
		sscanf(c, "myvpn kill switch: fwmark=%u", &fwmark);
	for (int i = 0; i < 2; i++)
		netlink_fwmark_rules(families[i], fwmark, fwmark, false);
	if (found)
		nft_delete_table("inet", table, NULL, 0);
	return found ? 0 : -ENOENT;
}
