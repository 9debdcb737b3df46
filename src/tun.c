/* The TUN device: open, name, and read its MTU. */
#include "tun.h"
#include "offload.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/if_tun.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static const char tun_path[] = "/dev/net/tun";

#ifndef TUN_F_USO4
#define TUN_F_USO4 0x20 /* Linux 6.2; older headers lack them */
#define TUN_F_USO6 0x40
#endif

/* Opening the TUN device is a matter of its file mode, not of capabilities: say what the mode
 * is, so that the fix (run as root, or grant access to the node) is plain. */
static void explain_open(int err_no, char *err, size_t errlen)
{
	struct stat st;

	if ((err_no == EACCES || err_no == EPERM) && stat(tun_path, &st) == 0)
		snprintf(err, errlen,
			 "cannot open %s: %s (mode %04o, owner uid %u gid %u, and we run as uid %u: "
			 "run as root or give this user read and write access to it)",
			 tun_path, strerror(err_no), (unsigned int)(st.st_mode & 07777),
			 (unsigned int)st.st_uid, (unsigned int)st.st_gid, (unsigned int)geteuid());
	else
		snprintf(err, errlen, "cannot open %s: %s%s", tun_path, strerror(err_no),
			 err_no == ENOENT ? " (is the tun module loaded?)" : "");
}

static int open_flags(char ifname[IFNAMSIZ], short flags, char *err, size_t errlen)
{
	struct ifreq ifr = { .ifr_flags = flags };
	int fd, ret;

	fd = open(tun_path, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (fd < 0) {
		ret = -errno;
		explain_open(errno, err, errlen);
		return ret;
	}
	strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		ret = -errno;
		snprintf(err, errlen, "cannot create TUN interface '%s': %s%s",
			 ifname[0] ? ifname : "tun%d", strerror(errno),
			 errno == EBUSY ? " (the name is in use)" :
			 errno == EPERM ? " (creating an interface needs CAP_NET_ADMIN)" : "");
		close(fd);
		return ret;
	}
	memcpy(ifname, ifr.ifr_name, IFNAMSIZ);
	ifname[IFNAMSIZ - 1] = '\0';
	return fd;
}

int tun_open(char ifname[IFNAMSIZ], unsigned int flags, int *gro_flags, char *err, size_t errlen)
{
	const unsigned int tso = TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6;
	short tun_flags = IFF_TUN | IFF_NO_PI;
	int fd;

	if (flags & TUN_OPEN_OFFLOAD)
		tun_flags |= IFF_VNET_HDR;
	if (flags & TUN_OPEN_MULTI_QUEUE)
		tun_flags |= IFF_MULTI_QUEUE;
	fd = open_flags(ifname, tun_flags, err, errlen);
	if (fd < 0 || !(flags & TUN_OPEN_OFFLOAD))
		return fd;
	if (ioctl(fd, TUNSETOFFLOAD, tso | TUN_F_USO4 | TUN_F_USO6) == 0)
		*gro_flags = OFFLOAD_GRO_TCP | OFFLOAD_GRO_UDP;
	else if (ioctl(fd, TUNSETOFFLOAD, tso) == 0)
		*gro_flags = OFFLOAD_GRO_TCP;
	else
		*gro_flags = 0;
	return fd;
}

int tun_get_mtu(const char *ifname)
{
	struct ifreq ifr = { 0 };
	int sock, ret;

	sock = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (sock < 0)
		return -errno;
	strncpy(ifr.ifr_name, ifname, IFNAMSIZ - 1);
	ret = ioctl(sock, SIOCGIFMTU, &ifr) < 0 ? -errno : ifr.ifr_mtu;
	close(sock);
	return ret;
}
