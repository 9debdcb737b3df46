/* Interface configuration through rtnetlink (libmnl): MTU, queue length, addresses, link up. */
#ifndef MYVPN_NETLINK_H
#define MYVPN_NETLINK_H

#include "addr.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Each returns 0 or -errno (the kernel's answer). A value of 0 for mtu or txqlen leaves it. */
int netlink_set_link(unsigned int ifindex, int mtu, int txqlen, bool up);
int netlink_add_address(unsigned int ifindex, const struct ip_prefix *prefix);
/* prefix must have its host bits clear (the kernel refuses it otherwise); table is a routing
 * table's id (RT_TABLE_MAIN, or any up to 2^32-1). A route to the same prefix that is there
 * already stays, and the answer is -EEXIST. */
int netlink_add_route(unsigned int ifindex, const struct ip_prefix *prefix, uint32_t table);

/* The interface of the main table's default route for family (AF_INET or AF_INET6): 0, or
 * -ENOENT when there is none. */
int netlink_default_route_oif(int family, unsigned int *ifindex);
/* The prefixes an interface's addresses cover, host bits clear: 10.0.0.1/24 gives 10.0.0.0/24,
 * and a point-to-point address gives both ends as /32 (or /128). Link-local ones are left out.
 * Fills at most max; *count is how many. 0 or -errno. */
int netlink_interface_prefixes(unsigned int ifindex, struct ip_prefix *out, size_t max,
			       size_t *count);
/* The same for every interface except one (the local networks, loopback's 127/8 and ::1
 * included). */
int netlink_local_prefixes(unsigned int except, struct ip_prefix *out, size_t max, size_t *count);

/* Policy routing for a full tunnel, as wg-quick does it: a default route through ifindex in
 * table, "not fwmark MARK lookup TABLE" and "lookup main suppress_prefixlength 0". add=false
 * removes them; removing what is not there is -ENOENT or -ESRCH. */
enum { NETLINK_RULE_PRIORITY = 32000 }; /* the suppress rule; the fwmark rule is one after */
int netlink_table_default_route(unsigned int ifindex, int family, uint32_t table, bool add);
int netlink_fwmark_rules(int family, uint32_t fwmark, uint32_t table, bool add);

/* Caps how many segments one TUN super-packet may carry. */
int netlink_set_gso_max_segs(unsigned int ifindex, unsigned int segs);

struct mnl_socket;
/* A non-blocking socket that hears link events; mnl_socket_get_fd() gives its fd. */
struct mnl_socket *netlink_monitor_open(void);
/* What the pending events say about one interface. The kernel tells a deletion from a move to
 * another network namespace (`ip link set IF netns NS`, which deletes the link here) by the
 * new namespace's id it attaches to the latter. */
struct netlink_link_event {
	bool deleted;
	bool moved; /* to another namespace: the link lives on, out of our sight */
	int mtu;    /* the latest MTU the events carried, 0 if none */
	bool addresses; /* an address of another interface came or went */
};
/* Drains pending events into ev (zeroed first). */
void netlink_monitor_read(struct mnl_socket *nl, unsigned int ifindex, struct netlink_link_event *ev);

#endif
