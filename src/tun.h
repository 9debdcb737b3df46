/* The TUN device: open, name, and read its MTU. */
#ifndef MYVPN_TUN_H
#define MYVPN_TUN_H

#include <net/if.h>
#include <stddef.h>

enum tun_open_flags {
	/* virtio-net headers and the segmentation offloads the kernel accepts (TSO, and USO on
	 * Linux >= 6.2), so that one read or write carries up to 64 KB */
	TUN_OPEN_OFFLOAD = 1 << 0,
	/* IFF_MULTI_QUEUE: open the same name again for each further queue; the kernel spreads
	 * flows over the queues by their hash, so a flow stays on one */
	TUN_OPEN_MULTI_QUEUE = 1 << 1,
};

/* Opens one non-blocking IFF_TUN|IFF_NO_PI queue. ifname is the wanted name (empty for the
 * kernel's tun%d) and receives the real one; further queues of a multi-queue device pass the
 * name the first returned. With TUN_OPEN_OFFLOAD, *gro_flags receives the enum
 * offload_gro_flags the worker may coalesce with (0 if only plain headers), and a device that
 * cannot carry virtio-net headers at all fails with -EINVAL. Returns the fd or -errno, with a
 * message in err. */
int tun_open(char ifname[IFNAMSIZ], unsigned int flags, int *gro_flags, char *err, size_t errlen);
int tun_get_mtu(const char *ifname);

#endif
