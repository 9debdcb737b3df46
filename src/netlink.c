/* Interface configuration through rtnetlink (libmnl): MTU, queue length, addresses, link up. */
#include "netlink.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <stdbool.h>
#include <linux/fib_rules.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <time.h>

/* Sends one request and reads the answers, handing each message to cb (may be NULL), until the
 * acknowledgement or the end of a dump; libmnl checks sequence and port. 0 or -errno. */
static int exchange(struct nlmsghdr *nlh, uint16_t flags, mnl_cb_t cb, void *data)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct mnl_socket *nl;
	unsigned int portid, seq = (unsigned int)time(NULL);
	int ret;

	nl = mnl_socket_open(NETLINK_ROUTE);
	if (!nl)
		return -errno;
	if (mnl_socket_bind(nl, 0, MNL_SOCKET_AUTOPID) < 0)
		goto err_socket;
	portid = mnl_socket_get_portid(nl);
	nlh->nlmsg_flags |= NLM_F_REQUEST | flags;
	nlh->nlmsg_seq = seq;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		goto err_socket;
	do {
		ret = (int)mnl_socket_recvfrom(nl, buf, sizeof(buf));
		if (ret < 0)
			goto err_socket;
		ret = mnl_cb_run(buf, (size_t)ret, seq, portid, cb, data);
	} while (ret > MNL_CB_STOP);
	if (ret < 0)
		goto err_socket;
	mnl_socket_close(nl);
	return 0;

err_socket:
	ret = -errno;
	mnl_socket_close(nl);
	return ret;
}

/* A change the kernel acknowledges. */
static int transact(struct nlmsghdr *nlh)
{
	return exchange(nlh, NLM_F_ACK, NULL, NULL);
}

/* An RTM_NEWLINK request that changes the existing link ifindex. */
static struct nlmsghdr *link_request(char *buf, unsigned int ifindex, struct ifinfomsg **ifi)
{
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);

	nlh->nlmsg_type = RTM_NEWLINK;
	*ifi = mnl_nlmsg_put_extra_header(nlh, sizeof(**ifi));
	(*ifi)->ifi_family = AF_UNSPEC;
	(*ifi)->ifi_index = (int)ifindex;
	return nlh;
}

int netlink_set_link(unsigned int ifindex, int mtu, int txqlen, bool up)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct ifinfomsg *ifi;
	struct nlmsghdr *nlh = link_request(buf, ifindex, &ifi);

	if (up) {
		ifi->ifi_flags = IFF_UP;
		ifi->ifi_change = IFF_UP;
	}
	if (mtu > 0)
		mnl_attr_put_u32(nlh, IFLA_MTU, (uint32_t)mtu);
	if (txqlen > 0)
		mnl_attr_put_u32(nlh, IFLA_TXQLEN, (uint32_t)txqlen);
	return transact(nlh);
}

/* IPv6 addresses skip duplicate address detection: a TUN has no neighbours to collide with,
 * and DAD would leave the address unusable for a second or more after start-up. */
int netlink_add_address(unsigned int ifindex, const struct ip_prefix *prefix)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;
	size_t len = prefix->family == AF_INET ? 4 : 16;

	nlh->nlmsg_type = RTM_NEWADDR;
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = (unsigned char)prefix->family;
	ifa->ifa_prefixlen = prefix->cidr;
	ifa->ifa_index = ifindex;
	ifa->ifa_flags = prefix->family == AF_INET6 ? IFA_F_NODAD : 0;
	mnl_attr_put(nlh, IFA_LOCAL, len, &prefix->addr);
	mnl_attr_put(nlh, IFA_ADDRESS, len, &prefix->addr);
	return transact(nlh);
}

/* A route through ifindex in table: to prefix, or family's default route when prefix is NULL.
 * RTA_TABLE carries the id (the header's field holds only 8 bits). */
static int route(uint16_t type, uint16_t flags, int family, const struct ip_prefix *prefix,
		 unsigned int ifindex, uint32_t table)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm;

	nlh->nlmsg_type = type;
	nlh->nlmsg_flags = flags;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (unsigned char)family;
	rtm->rtm_dst_len = prefix ? prefix->cidr : 0;
	rtm->rtm_table = RT_TABLE_UNSPEC;
	rtm->rtm_protocol = RTPROT_BOOT;
	rtm->rtm_scope = RT_SCOPE_LINK;
	rtm->rtm_type = RTN_UNICAST;
	if (prefix)
		mnl_attr_put(nlh, RTA_DST, family == AF_INET ? 4 : 16, &prefix->addr);
	mnl_attr_put_u32(nlh, RTA_TABLE, table);
	mnl_attr_put_u32(nlh, RTA_OIF, ifindex);
	return transact(nlh);
}

/* As wg-quick adds for each peer's allowed IPs; never over a route someone else made (the
 * host's default route, say): -EEXIST. */
int netlink_add_route(unsigned int ifindex, const struct ip_prefix *prefix, uint32_t table)
{
	return route(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, prefix->family, prefix, ifindex, table);
}

/* Link deletion watch: `ip link del IFNAME` (or wg-quick down) must stop the daemon. And
 * address changes: a rendezvous client's local candidates. */
struct mnl_socket *netlink_monitor_open(void)
{
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (!nl)
		return NULL;
	if (mnl_socket_bind(nl, RTMGRP_LINK | RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR,
			    MNL_SOCKET_AUTOPID) < 0) {
		mnl_socket_close(nl);
		return NULL;
	}
	return nl;
}

struct link_watch {
	unsigned int ifindex;
	struct netlink_link_event *ev;
};

static int link_attr(const struct nlattr *attr, void *data)
{
	struct netlink_link_event *ev = data;

	switch (mnl_attr_get_type(attr)) {
	case IFLA_MTU:
		if (mnl_attr_validate(attr, MNL_TYPE_U32) == 0)
			ev->mtu = (int)mnl_attr_get_u32(attr);
		break;
	case IFLA_NEW_NETNSID:
		ev->moved = true;
		break;
	}
	return MNL_CB_OK;
}

static int link_event(const struct nlmsghdr *nlh, void *data)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	struct link_watch *w = data;
	struct netlink_link_event seen = { 0 };

	if (nlh->nlmsg_type == RTM_NEWADDR || nlh->nlmsg_type == RTM_DELADDR) {
		const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);

		if (ifa->ifa_index != w->ifindex)
			w->ev->addresses = true;
		return MNL_CB_OK;
	}
	if ((unsigned int)ifi->ifi_index != w->ifindex ||
	    (nlh->nlmsg_type != RTM_NEWLINK && nlh->nlmsg_type != RTM_DELLINK))
		return MNL_CB_OK;
	mnl_attr_parse(nlh, sizeof(*ifi), link_attr, &seen);
	if (nlh->nlmsg_type == RTM_DELLINK) {
		w->ev->moved = seen.moved;
		w->ev->deleted = !seen.moved;
	} else if (seen.mtu > 0) {
		w->ev->mtu = seen.mtu;
	}
	return MNL_CB_OK;
}

void netlink_monitor_read(struct mnl_socket *nl, unsigned int ifindex, struct netlink_link_event *ev)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct link_watch w = { .ifindex = ifindex, .ev = ev };
	ssize_t n;

	*ev = (struct netlink_link_event){ 0 };
	while ((n = mnl_socket_recvfrom(nl, buf, sizeof(buf))) > 0)
		mnl_cb_run(buf, (size_t)n, 0, 0, link_event, &w);
}

int netlink_set_gso_max_segs(unsigned int ifindex, unsigned int segs)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct ifinfomsg *ifi;
	struct nlmsghdr *nlh = link_request(buf, ifindex, &ifi);

	mnl_attr_put_u32(nlh, IFLA_GSO_MAX_SEGS, segs);
	return transact(nlh);
}

/* A dump: every answer goes to cb until NLMSG_DONE. */
static int dump(struct nlmsghdr *nlh, mnl_cb_t cb, void *data)
{
	nlh->nlmsg_flags = 0;
	return exchange(nlh, NLM_F_DUMP, cb, data);
}

struct default_route_query {
	unsigned int ifindex;
};

static int default_route(const struct nlmsghdr *nlh, void *data)
{
	const struct rtmsg *rtm = mnl_nlmsg_get_payload(nlh);
	struct default_route_query *q = data;
	const struct nlattr *attr;
	uint32_t table = rtm->rtm_table;

	if (rtm->rtm_dst_len != 0 || rtm->rtm_type != RTN_UNICAST || q->ifindex)
		return MNL_CB_OK;
	mnl_attr_for_each(attr, nlh, sizeof(*rtm)) {
		if (mnl_attr_get_type(attr) == RTA_TABLE)
			table = mnl_attr_get_u32(attr);
	}
	if (table != RT_TABLE_MAIN)
		return MNL_CB_OK;
	mnl_attr_for_each(attr, nlh, sizeof(*rtm)) {
		if (mnl_attr_get_type(attr) == RTA_OIF)
			q->ifindex = mnl_attr_get_u32(attr);
	}
	return MNL_CB_OK;
}

int netlink_default_route_oif(int family, unsigned int *ifindex)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct default_route_query q = { 0 };
	struct rtmsg *rtm;
	int ret;

	nlh->nlmsg_type = RTM_GETROUTE;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (unsigned char)family;
	ret = dump(nlh, default_route, &q);
	if (ret)
		return ret;
	if (!q.ifindex)
		return -ENOENT;
	*ifindex = q.ifindex;
	return 0;
}

struct prefix_list {
	unsigned int ifindex, except; /* ifindex 0: every interface but except */
	struct ip_prefix *out;
	size_t max, count;
};

static bool link_local(const struct ip_prefix *p)
{
	return p->family == AF_INET6 && IN6_IS_ADDR_LINKLOCAL(&p->addr.v6);
}

static void prefix_list_add(struct prefix_list *l, int family, const void *addr, uint8_t cidr)
{
	struct ip_prefix p = { .family = family, .cidr = cidr };

	memcpy(&p.addr, addr, family == AF_INET ? 4 : 16);
	addr_prefix_mask(&p);
	if (link_local(&p) || l->count == l->max)
		return;
	for (size_t i = 0; i < l->count; i++) {
		if (l->out[i].family == p.family && l->out[i].cidr == p.cidr &&
		    !memcmp(&l->out[i].addr, &p.addr, sizeof(p.addr)))
			return;
	}
	l->out[l->count++] = p;
}

static int address_entry(const struct nlmsghdr *nlh, void *data)
{
	const struct ifaddrmsg *ifa = mnl_nlmsg_get_payload(nlh);
	struct prefix_list *l = data;
	const struct nlattr *attr, *local = NULL, *address = NULL;
	uint8_t host = ifa->ifa_family == AF_INET ? 32 : 128;

	if ((l->ifindex ? ifa->ifa_index != l->ifindex : ifa->ifa_index == l->except) ||
	    (ifa->ifa_family != AF_INET && ifa->ifa_family != AF_INET6))
		return MNL_CB_OK;
	mnl_attr_for_each(attr, nlh, sizeof(*ifa)) {
		if (mnl_attr_get_type(attr) == IFA_LOCAL)
			local = attr;
		else if (mnl_attr_get_type(attr) == IFA_ADDRESS)
			address = attr;
	}
	if (!address)
		return MNL_CB_OK;
	/* A point-to-point address: IFA_LOCAL is ours, IFA_ADDRESS the other end. */
	if (local && memcmp(mnl_attr_get_payload(local), mnl_attr_get_payload(address),
			    mnl_attr_get_payload_len(address))) {
		prefix_list_add(l, ifa->ifa_family, mnl_attr_get_payload(local), host);
		if (ifa->ifa_prefixlen == host)
			prefix_list_add(l, ifa->ifa_family, mnl_attr_get_payload(address), host);
		else
			prefix_list_add(l, ifa->ifa_family, mnl_attr_get_payload(address),
					ifa->ifa_prefixlen);
		return MNL_CB_OK;
	}
	prefix_list_add(l, ifa->ifa_family, mnl_attr_get_payload(address), ifa->ifa_prefixlen);
	return MNL_CB_OK;
}

static int list_prefixes(struct prefix_list l, size_t *count)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct ifaddrmsg *ifa;
	int ret;

	nlh->nlmsg_type = RTM_GETADDR;
	ifa = mnl_nlmsg_put_extra_header(nlh, sizeof(*ifa));
	ifa->ifa_family = AF_UNSPEC;
	ret = dump(nlh, address_entry, &l);
	*count = l.count;
	return ret;
}

int netlink_interface_prefixes(unsigned int ifindex, struct ip_prefix *out, size_t max,
			       size_t *count)
{
	return list_prefixes((struct prefix_list){ .ifindex = ifindex, .out = out, .max = max }, count);
}

int netlink_local_prefixes(unsigned int except, struct ip_prefix *out, size_t max, size_t *count)
{
	return list_prefixes((struct prefix_list){ .except = except, .out = out, .max = max }, count);
}

int netlink_table_default_route(unsigned int ifindex, int family, uint32_t table, bool add)
{
	return route(add ? RTM_NEWROUTE : RTM_DELROUTE, add ? NLM_F_CREATE | NLM_F_REPLACE : 0,
		     family, NULL, ifindex, table);
}

static int rule(int family, bool add, uint32_t priority, uint32_t fwmark, uint32_t table,
		bool suppress)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct fib_rule_hdr *frh;

	nlh->nlmsg_type = add ? RTM_NEWRULE : RTM_DELRULE;
	nlh->nlmsg_flags = add ? NLM_F_CREATE | NLM_F_EXCL : 0;
	frh = mnl_nlmsg_put_extra_header(nlh, sizeof(*frh));
	frh->family = (unsigned char)family;
	frh->action = FR_ACT_TO_TBL;
	frh->table = RT_TABLE_UNSPEC;
	mnl_attr_put_u32(nlh, FRA_TABLE, table);
	mnl_attr_put_u32(nlh, FRA_PRIORITY, priority);
	if (suppress) {
		mnl_attr_put_u32(nlh, FRA_SUPPRESS_PREFIXLEN, 0);
	} else {
		frh->flags = FIB_RULE_INVERT;
		mnl_attr_put_u32(nlh, FRA_FWMARK, fwmark);
		mnl_attr_put_u32(nlh, FRA_FWMASK, 0xffffffff);
	}
	return transact(nlh);
}

/* wg-quick's two rules, at fixed priorities below main's 32766 so that "ip rule" shows them in
 * the order they act: the main table first but without its default route, then the tunnel's
 * table for every packet the tunnel did not mark. */
int netlink_fwmark_rules(int family, uint32_t fwmark, uint32_t table, bool add)
{
	int ret = rule(family, add, NETLINK_RULE_PRIORITY, 0, RT_TABLE_MAIN, true);
	int ret2;

	if (ret && add)
		return ret;
	ret2 = rule(family, add, NETLINK_RULE_PRIORITY + 1, fwmark, table, false);
	if (ret2 && add)
		rule(family, false, NETLINK_RULE_PRIORITY, 0, RT_TABLE_MAIN, true);
	return ret ? ret : ret2;
}
