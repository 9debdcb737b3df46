/* Interface configuration through rtnetlink (libmnl): MTU, queue length, addresses, link up. */
#ifndef MYVPN_NETLINK_H
#define MYVPN_NETLINK_H

#include "addr.h"

#include <stdbool.h>

/* Each returns 0 or -errno (the kernel's answer). A value of 0 for mtu or txqlen leaves it. */
int netlink_set_link(unsigned int ifindex, int mtu, int txqlen, bool up);
int netlink_add_address(unsigned int ifindex, const struct ip_prefix *prefix);
/* prefix must have its host bits clear (the kernel refuses it otherwise). */
int netlink_add_route(unsigned int ifindex, const struct ip_prefix *prefix);

/* Caps how many segments one TUN super-packet may carry. */
int netlink_set_gso_max_segs(unsigned int ifindex, unsigned int segs);

struct mnl_socket;
/* A non-blocking socket that hears link events; mnl_socket_get_fd() gives its fd. */
struct mnl_socket *netlink_monitor_open(void);
/* Drains pending events; true if ifindex was deleted. */
bool netlink_monitor_link_deleted(struct mnl_socket *nl, unsigned int ifindex);

#endif
