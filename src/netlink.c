/* Interface configuration through rtnetlink (libmnl): MTU, queue length, addresses, link up. */
#include "netlink.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <stdbool.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <string.h>
#include <time.h>

/* Sends one request and waits for its acknowledgement; libmnl checks sequence and port. */
static int transact(struct nlmsghdr *nlh)
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
	nlh->nlmsg_flags |= NLM_F_REQUEST | NLM_F_ACK;
	nlh->nlmsg_seq = seq;
	if (mnl_socket_sendto(nl, nlh, nlh->nlmsg_len) < 0)
		goto err_socket;
	ret = mnl_socket_recvfrom(nl, buf, sizeof(buf));
	if (ret < 0)
		goto err_socket;
	ret = mnl_cb_run(buf, ret, seq, portid, NULL, NULL);
	if (ret < 0)
		goto err_socket;
	mnl_socket_close(nl);
	return 0;

err_socket:
	ret = -errno;
	mnl_socket_close(nl);
	return ret;
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

/* A route to prefix through the interface, as wg-quick adds for each peer's allowed IPs. */
int netlink_add_route(unsigned int ifindex, const struct ip_prefix *prefix)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nlmsghdr *nlh = mnl_nlmsg_put_header(buf);
	struct rtmsg *rtm;

	nlh->nlmsg_type = RTM_NEWROUTE;
	nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_REPLACE;
	rtm = mnl_nlmsg_put_extra_header(nlh, sizeof(*rtm));
	rtm->rtm_family = (unsigned char)prefix->family;
	rtm->rtm_dst_len = prefix->cidr;
	rtm->rtm_table = RT_TABLE_MAIN;
	rtm->rtm_protocol = RTPROT_BOOT;
	rtm->rtm_scope = RT_SCOPE_LINK;
	rtm->rtm_type = RTN_UNICAST;
	mnl_attr_put(nlh, RTA_DST, prefix->family == AF_INET ? 4 : 16, &prefix->addr);
	mnl_attr_put_u32(nlh, RTA_OIF, ifindex);
	return transact(nlh);
}

/* Link deletion watch: `ip link del IFNAME` (or wg-quick down) must stop the daemon. */
struct mnl_socket *netlink_monitor_open(void)
{
	struct mnl_socket *nl = mnl_socket_open2(NETLINK_ROUTE, SOCK_NONBLOCK | SOCK_CLOEXEC);

	if (!nl)
		return NULL;
	if (mnl_socket_bind(nl, RTMGRP_LINK, MNL_SOCKET_AUTOPID) < 0) {
		mnl_socket_close(nl);
		return NULL;
	}
	return nl;
}

static int link_event(const struct nlmsghdr *nlh, void *data)
{
	const struct ifinfomsg *ifi = mnl_nlmsg_get_payload(nlh);
	unsigned int *ifindex = data;

	if (nlh->nlmsg_type == RTM_DELLINK && (unsigned int)ifi->ifi_index == *ifindex)
		*ifindex = 0;
	return MNL_CB_OK;
}

bool netlink_monitor_link_deleted(struct mnl_socket *nl, unsigned int ifindex)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	ssize_t n;

	while ((n = mnl_socket_recvfrom(nl, buf, sizeof(buf))) > 0) {
		mnl_cb_run(buf, (size_t)n, 0, 0, link_event, &ifindex);
		if (!ifindex)
			return true;
	}
	return false;
}

int netlink_set_gso_max_segs(unsigned int ifindex, unsigned int segs)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct ifinfomsg *ifi;
	struct nlmsghdr *nlh = link_request(buf, ifindex, &ifi);

	mnl_attr_put_u32(nlh, IFLA_GSO_MAX_SEGS, segs);
	return transact(nlh);
}
