/* Bringing a tunnel up from options: socket, TUN, interface configuration, peer address. */
#ifndef MYVPN_DEVICE_H
#define MYVPN_DEVICE_H

#include "options.h"

#include <net/if.h>

enum {
	TUN_TXQUEUELEN = 1000, /* the kernel's 500 overflows silently under a burst */
	TUN_GSO_MAX_SEGS = 64, /* a super-packet read must fit one worker batch */
};

struct device {
	char ifname[IFNAMSIZ];
	unsigned int ifindex;
	int tun_fd, udp_fd, udp_family;
	bool vnet_hdr;  /* TUN offloads on: reads and writes carry a virtio-net header */
	int gro_flags;  /* enum offload_gro_flags */
	int mtu;
	union endpoint peer; /* resolved -a, in the socket's family; unset if none */
};

/* Either everything is set up, or nothing is left behind and err holds one line. */
int device_open(struct device *dev, const struct options *opts, char *err, size_t errlen);
void device_close(struct device *dev);

#endif
