/* The UDP socket: dual-stack where the kernel allows it, large buffers, non-blocking. */
#ifndef MYVPN_UDP_H
#define MYVPN_UDP_H

#include <stddef.h>
#include <stdint.h>

enum { UDP_SOCKET_BUFFER = 4 << 20 }; /* absorbs bursts while the loop is busy elsewhere */

/* Binds port (0 = ephemeral) on every address. *family is AF_INET6 for a dual-stack socket, or
 * AF_INET when IPv6 is unavailable. Returns the fd or -errno, with a message in err. */
int udp_open(uint16_t port, int *family, char *err, size_t errlen);
int udp_local_port(int fd);

#endif
