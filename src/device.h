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

/* One UDP socket and lanes TUN queues per worker (struct worker_lane): the device owns them
 * until the engine does. */
struct device {
	char ifname[IFNAMSIZ];
	unsigned int ifindex;
	unsigned int queues;     /* workers: UDP sockets */
	unsigned int lanes;      /* TUN queues per worker */
	int *tun_fds;            /* queues * lanes */
	struct transport **transports;
	struct transport *tcp; /* NULL: no TCP listener and no TCP to peers */
	int udp_family;
	bool vnet_hdr;  /* TUN offloads on: reads and writes carry a virtio-net header */
	int gro_flags;  /* enum offload_gro_flags */
	int mtu;
	union endpoint peer; /* resolved -a, in the socket's family; unset if none */
};

/* Opens queues UDP sockets on one port and worker_lane_count(queues) TUN queues for each
 * (IFF_MULTI_QUEUE when more than one). Either everything is set up, or nothing is left behind and err holds one line. */
int device_open(struct device *dev, const struct options *opts, unsigned int queues, char *err,
		size_t errlen);
/* The engine took the fds and transports: the device forgets them. */
void device_release(struct device *dev);
void device_close(struct device *dev);

#endif
