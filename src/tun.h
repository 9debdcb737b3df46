/* The TUN device: open, name, and read its MTU. */
#ifndef MYVPN_TUN_H
#define MYVPN_TUN_H

#include <net/if.h>
#include <stddef.h>

/* Opens a non-blocking IFF_TUN|IFF_NO_PI device. ifname is the wanted name (empty for the
 * kernel's tun%d) and receives the real one. Returns the fd or -errno, with a message in err. */
int tun_open(char ifname[IFNAMSIZ], char *err, size_t errlen);
int tun_get_mtu(const char *ifname);

#endif
