/* The server as the clients' way out: IPv4 and IPv6 forwarding, and the table "myvpn-IFNAME"
 * (inet family) that gateway_ruleset describes. Set-up order makes failure clean: the table is
 * one nftables transaction, and the sysctls change only after it is in place. */
#include "gateway.h"
#include "log.h"
#include "netlink.h"
#include "nft.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const forwarding_path[2] = {
	"/proc/sys/net/ipv4/ip_forward",
	"/proc/sys/net/ipv6/conf/all/forwarding",
};

struct text {
	char *buf;
	size_t len, used;
	bool full;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void put(struct text *t, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (t->full)
		return;
	va_start(ap, fmt);
	n = vsnprintf(t->buf + t->used, t->len - t->used, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= t->len - t->used)
		t->full = true;
	else
		t->used += (size_t)n;
}

/* "{ 10.0.0.0/24, 10.1.0.0/16 }" of one family; false when it has none. */
static bool put_set(struct text *t, int family, const struct ip_prefix *p, size_t count)
{
	char addr[INET6_ADDRSTRLEN];
	bool any = false;

	for (size_t i = 0; i < count; i++) {
		if (p[i].family != family)
			continue;
		inet_ntop(family, &p[i].addr, addr, sizeof(addr));
		put(t, "%s%s/%u", any ? ", " : "{ ", addr, p[i].cidr);
		any = true;
	}
	if (any)
		put(t, " }");
	return any;
}

static bool has_family(int family, const struct ip_prefix *p, size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (p[i].family == family)
			return true;
	return false;
}

/* One family's anti-spoofing rule: sources outside the tunnel's prefixes (or all of that
 * family when it has none) are dropped before anything can accept them. */
static void put_spoof_rule(struct text *t, const char *tun, int family, const char *proto,
			   const char *nfproto, const struct ip_prefix *p, size_t count)
{
	put(t, "\t\tiifname \"%s\" meta nfproto %s ", tun, nfproto);
	if (has_family(family, p, count)) {
		put(t, "%s saddr != ", proto);
		put_set(t, family, p, count);
	}
	put(t, " counter drop comment \"spoofed\"\n");
}

static void put_masquerade(struct text *t, const char *uplink, int family, const char *proto,
			   const struct ip_prefix *p, size_t count)
{
	if (!has_family(family, p, count))
		return;
	put(t, "\t\toifname \"%s\" %s saddr ", uplink, proto);
	put_set(t, family, p, count);
	put(t, " masquerade\n");
}

int gateway_ruleset(char *buf, size_t len, const char *table, const char *tun, const char *uplink,
		    const struct ip_prefix *p, size_t count, const int old[2])
{
	struct text t = { .buf = buf, .len = len };
	static const char syn[] = "tcp flags & (syn | rst) == syn tcp option maxseg size set rt mtu";

	put(&t, "table inet %s\ndelete table inet %s\ntable inet %s {\n", table, table, table);
	put(&t, "\tcomment \"myvpn gateway: ip_forward=%d ipv6_forwarding=%d\"\n", old[0], old[1]);
	put(&t, "\tchain forward {\n\t\ttype filter hook forward priority filter; policy accept;\n");
	put(&t, "\t\tiifname \"%s\" oifname \"%s\" %s\n", tun, uplink, syn);
	put(&t, "\t\tiifname \"%s\" oifname \"%s\" %s\n", uplink, tun, syn);
	put_spoof_rule(&t, tun, AF_INET, "ip", "ipv4", p, count);
	put_spoof_rule(&t, tun, AF_INET6, "ip6", "ipv6", p, count);
	put(&t, "\t\tct state established,related accept\n");
	put(&t, "\t\tiifname \"%s\" oifname \"%s\" accept\n", tun, uplink);
	put(&t, "\t\tiifname \"%s\" oifname \"%s\" counter drop comment \"unsolicited\"\n", uplink, tun);
	put(&t, "\t}\n\tchain postrouting {\n\t\ttype nat hook postrouting priority srcnat; policy accept;\n");
	put_masquerade(&t, uplink, AF_INET, "ip", p, count);
	put_masquerade(&t, uplink, AF_INET6, "ip6", p, count);
	put(&t, "\t}\n}\n");
	return t.full ? -ENOSPC : (int)t.used;
}

static int read_sysctl(const char *path)
{
	char buf[16] = "";
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -1;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	return n > 0 ? atoi(buf) : -1;
}

/* Also after --user: the kernel lets CAP_NET_ADMIN write its network namespace's net.*
 * sysctls as root could, so the teardown as nobody still puts forwarding back. */
static int write_sysctl(const char *path, int value)
{
	char buf[16];
	int fd = open(path, O_WRONLY | O_CLOEXEC), len, ret = 0;

	if (fd < 0)
		return -errno;
	len = snprintf(buf, sizeof(buf), "%d\n", value);
	if (write(fd, buf, (size_t)len) != len)
		ret = -errno;
	close(fd);
	return ret;
}

/* The originals a crashed run recorded in its table's comment, if it left one. */
static bool stale_forwarding(const char *table, int old[2])
{
	char cmd[64], out[4096];
	const char *c;

	snprintf(cmd, sizeof(cmd), "list table inet %s", table);
	if (nft_list(cmd, out, sizeof(out)))
		return false;
	c = strstr(out, "myvpn gateway: ");
	return c && sscanf(c, "myvpn gateway: ip_forward=%d ipv6_forwarding=%d", &old[0], &old[1]) == 2;
}

static void restore_forwarding(const int old[2])
{
	for (int i = 0; i < 2; i++)
		if (old[i] >= 0 && write_sysctl(forwarding_path[i], old[i]))
			log_warn("cannot restore %s to %d", forwarding_path[i], old[i]);
}

static int enable_forwarding(const int old[2], char *err, size_t errlen)
{
	for (int i = 0; i < 2; i++) {
		int ret;

		if (old[i] < 0)
			continue; /* no IPv6 here: IPv4 alone */
		ret = write_sysctl(forwarding_path[i], 1);
		if (ret) {
			snprintf(err, errlen, "cannot turn on forwarding (%s): %s", forwarding_path[i],
				 strerror(-ret));
			restore_forwarding(old);
			return ret;
		}
	}
	return 0;
}

static int find_uplink(struct gateway *gw, const char *uplink, char *err, size_t errlen)
{
	unsigned int ifindex = 0;

	if (uplink && *uplink) {
		if (!if_nametoindex(uplink)) {
			snprintf(err, errlen, "gateway: no uplink interface '%s'", uplink);
			return -ENODEV;
		}
		snprintf(gw->uplink, sizeof(gw->uplink), "%s", uplink);
		return 0;
	}
	if (netlink_default_route_oif(AF_INET, &ifindex) &&
	    netlink_default_route_oif(AF_INET6, &ifindex)) {
		snprintf(err, errlen, "gateway: no default route to take the uplink from; name it with --gateway=IFNAME");
		return -ENOENT;
	}
	if (!if_indextoname(ifindex, gw->uplink)) {
		snprintf(err, errlen, "gateway: the default route's interface vanished");
		return -ENODEV;
	}
	return 0;
}

/* The tunnel's own prefixes plus the extra ones; a /0 would make anti-spoofing meaningless. */
static size_t collect_prefixes(unsigned int ifindex, const struct ip_prefix *extra,
			       size_t extra_count, struct ip_prefix *out)
{
	size_t count = 0;

	if (netlink_interface_prefixes(ifindex, out, GATEWAY_MAX_PREFIXES, &count))
		count = 0;
	for (size_t i = 0; i < extra_count && count < GATEWAY_MAX_PREFIXES; i++) {
		if (extra[i].cidr == 0)
			continue;
		out[count] = extra[i];
		addr_prefix_mask(&out[count++]);
	}
	return count;
}

int gateway_open(struct gateway *gw, const char *tun, unsigned int tun_ifindex, const char *uplink,
		 const struct ip_prefix *extra, size_t extra_count, char *err, size_t errlen)
{
	struct ip_prefix prefixes[GATEWAY_MAX_PREFIXES];
	char ruleset[8192];
	size_t count;
	int ret;

	*gw = (struct gateway){ 0 };
	snprintf(gw->table, sizeof(gw->table), "myvpn-%s", tun);
	ret = find_uplink(gw, uplink, err, errlen);
	if (ret)
		return ret;
	if (!strcmp(gw->uplink, tun)) {
		snprintf(err, errlen, "gateway: the uplink cannot be the tunnel itself");
		return -EINVAL;
	}
	count = collect_prefixes(tun_ifindex, extra, extra_count, prefixes);
	if (!stale_forwarding(gw->table, gw->old_forwarding))
		for (int i = 0; i < 2; i++)
			gw->old_forwarding[i] = read_sysctl(forwarding_path[i]);
	if (gateway_ruleset(ruleset, sizeof(ruleset), gw->table, tun, gw->uplink, prefixes, count,
			    gw->old_forwarding) < 0) {
		snprintf(err, errlen, "gateway: too many tunnel prefixes");
		return -ENOSPC;
	}
	ret = nft_apply(ruleset, err, errlen);
	if (ret)
		return ret;
	ret = enable_forwarding(gw->old_forwarding, err, errlen);
	if (ret) {
		nft_delete_table("inet", gw->table, NULL, 0);
		return ret;
	}
	gw->installed = true;
	log_info("gateway: %s to %s, table inet %s, %zu tunnel prefix%s", tun, gw->uplink, gw->table,
		 count, count == 1 ? "" : "es");
	return 0;
}

void gateway_close(struct gateway *gw)
{
	char err[256];

	if (!gw->installed)
		return;
	if (nft_delete_table("inet", gw->table, err, sizeof(err)))
		log_warn("gateway: cannot remove table inet %s: %s", gw->table, err);
	restore_forwarding(gw->old_forwarding);
	gw->installed = false;
}

int gateway_remove_stale(const char *tun)
{
	struct gateway gw = { .installed = true };

	snprintf(gw.table, sizeof(gw.table), "myvpn-%s", tun);
	if (!stale_forwarding(gw.table, gw.old_forwarding))
		return -ENOENT;
	gateway_close(&gw);
	return 0;
}
