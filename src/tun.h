/* The TUN device: open, name, and read its MTU. */
#ifndef MYVPN_TUN_H
#define MYVPN_TUN_H

#include <net/if.h>
#include <stddef.h>

/* Opens a non-blocking IFF_TUN|IFF_NO_PI device. ifname is the wanted name (empty for the
 * kernel's tun%d) and receives the real one. Returns the fd or -errno, with a message in err. */
int tun_open(char ifname[IFNAMSIZ], char *err, size_t errlen);
/* Turns on virtio-net headers and the segmentation offloads the kernel accepts (TSO, and USO
 * on Linux >= 6.2), so that one read or write carries up to 64 KB. Returns the
 * enum offload_gro_flags the worker may coalesce with (0 if only plain headers), or -errno
 * if the device cannot carry virtio-net headers at all. Must precede TUNSETIFF, so it takes
 * the fd tun_open would use: call tun_open_offload instead of tun_open. */
int tun_open_offload(char ifname[IFNAMSIZ], int *gro_flags, char *err, size_t errlen);
int tun_get_mtu(const char *ifname);

#endif
