/* Bringing a tunnel up from options: socket, TUN, interface configuration, peer address. */
#ifndef MYVPN_DEVICE_H
#define MYVPN_DEVICE_H

#include "options.h"
#include "transport.h"

#include <net/if.h>

enum {
	TUN_TXQUEUELEN = 1000, /* the kernel's 500 overflows silently under a burst */
	TUN_GSO_MAX_SEGS = 64, /* a super-packet read must fit one worker batch */
};

/* One TUN queue and one UDP socket per worker: the device owns them until the engine does. */
struct device {
	char ifname[IFNAMSIZ];
	unsigned int ifindex;
	unsigned int queues;
	int *tun_fds;
	struct transport **transports;
	struct transport *tcp; /* NULL: no TCP listener and no TCP to peers */
	int udp_family;
	bool vnet_hdr;  /* TUN offloads on: reads and writes carry a virtio-net header */
	int gro_flags;  /* enum offload_gro_flags */
	int mtu;
	union endpoint peer; /* resolved -a, in the socket's family; unset if none */
};

/* Opens queues TUN queues (IFF_MULTI_QUEUE when more than one) and as many UDP sockets on one
 * port. Either everything is set up, or nothing is left behind and err holds one line. */
int device_open(struct device *dev, const struct options *opts, unsigned int queues, char *err,
		size_t errlen);
/* The engine took the fds and transports: the device forgets them. */
void device_release(struct device *dev);
void device_close(struct device *dev);

#endif
