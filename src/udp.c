/* The UDP socket: dual-stack where the kernel allows it, large buffers, non-blocking. */
#include "udp.h"
#include "addr.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* The *FORCE variants ignore rmem_max/wmem_max but need CAP_NET_ADMIN; fall back if refused. */
static void set_buffer(int fd, int force_opt, int opt, const char *name)
{
	int size = UDP_SOCKET_BUFFER;

	if (setsockopt(fd, SOL_SOCKET, force_opt, &size, sizeof(size)) == 0)
		return;
	if (setsockopt(fd, SOL_SOCKET, opt, &size, sizeof(size)) < 0)
		log_warn("cannot set %s: %s", name, strerror(errno));
}

static int open_family(int family, uint16_t port)
{
	union endpoint ep = { 0 };
	int fd, off = 0;

	fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (family == AF_INET6) {
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof(off));
		ep.in6.sin6_family = AF_INET6;
		ep.in6.sin6_port = htons(port);
	} else {
		ep.in.sin_family = AF_INET;
		ep.in.sin_port = htons(port);
	}
	if (bind(fd, &ep.sa, endpoint_len(&ep)) < 0) {
		int ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

int udp_open(uint16_t port, int *family, char *err, size_t errlen)
{
	int fd;

	*family = AF_INET6;
	fd = open_family(AF_INET6, port);
	if (fd == -EAFNOSUPPORT) {
		*family = AF_INET;
		fd = open_family(AF_INET, port);
	}
	if (fd < 0) {
		snprintf(err, errlen, "cannot listen on UDP port %u: %s", port, strerror(-fd));
		return fd;
	}
	set_buffer(fd, SO_RCVBUFFORCE, SO_RCVBUF, "SO_RCVBUF");
	set_buffer(fd, SO_SNDBUFFORCE, SO_SNDBUF, "SO_SNDBUF");
	return fd;
}

int udp_local_port(int fd)
{
	union endpoint ep;
	socklen_t len = sizeof(ep);

	if (getsockname(fd, &ep.sa, &len) < 0)
		return -errno;
	return ntohs(ep.sa.sa_family == AF_INET6 ? ep.in6.sin6_port : ep.in.sin_port);
}
