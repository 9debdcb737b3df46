/* Bringing a tunnel up from options: socket, TUN, interface configuration, peer address.
 *
 * Order matters for "nothing half set up": everything that can fail without side effects
 * (address resolution, the UDP port) comes before the TUN exists. After that, any failure
 * closes the TUN fd, and the kernel removes the interface with everything we configured. */
#include "device.h"
#include "hook.h"
#include "log.h"
#include "mtu.h"
#include "netlink.h"
#include "packet.h"
#include "tun.h"
#include "udp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int resolve_peer(struct device *dev, const struct options *opts, char *err, size_t errlen)
{
	int ret;

	if (!opts->peer_host)
		return 0;
	ret = addr_resolve(opts->peer_host, opts->peer_port, &dev->peer, err, errlen);
	if (ret)
		return ret;
	if (endpoint_to_family(&dev->peer, dev->udp_family)) {
		snprintf(err, errlen, "cannot reach IPv6 address '%s': IPv6 is unavailable here",
			 opts->peer_host);
		return -EAFNOSUPPORT;
	}
	return 0;
}

static int configure_addresses(struct device *dev, const struct options *opts, char *err,
			       size_t errlen)
{
	char text[INET6_ADDRSTRLEN];

	for (int i = 0; i < opts->address_count; i++) {
		const struct ip_prefix *p = &opts->addresses[i];
		int ret = netlink_add_address(dev->ifindex, p);

		if (ret) {
			inet_ntop(p->family, &p->addr, text, sizeof(text));
			snprintf(err, errlen, "cannot add address %s/%u to %s: %s", text, p->cidr,
				 dev->ifname, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

static int run_hook(struct device *dev, const char *template, char *err, size_t errlen)
{
	char command[4096];
	int ret;

	if (!template)
		return 0;
	if (hook_expand(template, dev->ifname, command, sizeof(command))) {
		snprintf(err, errlen, "-t command is too long");
		return -ENAMETOOLONG;
	}
	log_debug("running: %s", command);
	ret = hook_run(command);
	if (ret) {
		snprintf(err, errlen, "-t command failed (%s %d): %s", ret < 0 ? "error" : "status",
			 ret, command);
		return ret < 0 ? ret : -ECHILD;
	}
	return 0;
}

/* The MTU goes in before the hook runs, so that a hook which sets its own (the seed's
 * "ifconfig %s ... mtu 1450") has the last word; an explicit --mtu is applied again after it. */
static int configure_interface(struct device *dev, const struct options *opts, char *err,
			       size_t errlen)
{
	int default_mtu = mtu_for_underlay(UNDERLAY_MTU_DEFAULT, PLAIN_HEADER_LEN);
	int ret;

	dev->ifindex = if_nametoindex(dev->ifname);
	ret = netlink_set_link(dev->ifindex, opts->mtu ? opts->mtu : default_mtu, TUN_TXQUEUELEN, false);
	if (!ret && dev->vnet_hdr && netlink_set_gso_max_segs(dev->ifindex, TUN_GSO_MAX_SEGS))
		log_debug("cannot limit GSO segments; larger super-packets will be dropped");
	if (!ret)
		ret = configure_addresses(dev, opts, err, errlen);
	if (!ret)
		ret = run_hook(dev, opts->tun_command, err, errlen);
	if (ret)
		goto fail;
	ret = netlink_set_link(dev->ifindex, opts->tun_command && opts->mtu_set ? opts->mtu : 0, 0, true);
	if (ret)
		goto fail;
	dev->mtu = tun_get_mtu(dev->ifname);
	return dev->mtu < 0 ? dev->mtu : 0;
fail:
	if (!*err)
		snprintf(err, errlen, "cannot configure %s: %s", dev->ifname, strerror(-ret));
	return ret;
}

/* Offloads when the kernel has them; a plain TUN otherwise, or when asked. */
static int open_tun(struct device *dev, const struct options *opts, char *err, size_t errlen)
{
	int fd;

	if (!opts->no_offload) {
		fd = tun_open_offload(dev->ifname, &dev->gro_flags, err, errlen);
		if (fd >= 0) {
			dev->vnet_hdr = true;
			return fd;
		}
		if (fd != -EINVAL)
			return fd;
		log_info("TUN offloads unavailable; continuing without");
	}
	return tun_open(dev->ifname, err, errlen);
}

int device_open(struct device *dev, const struct options *opts, char *err, size_t errlen)
{
	int ret;

	*dev = (struct device){ .tun_fd = -1, .udp_fd = -1 };
	err[0] = '\0';
	ret = dev->udp_fd = udp_open(opts->listen_port, &dev->udp_family, err, errlen);
	if (ret < 0)
		return ret;
	ret = resolve_peer(dev, opts, err, errlen);
	if (ret)
		goto fail;
	strcpy(dev->ifname, opts->ifname);
	ret = dev->tun_fd = open_tun(dev, opts, err, errlen);
	if (ret < 0)
		goto fail;
	ret = configure_interface(dev, opts, err, errlen);
	if (ret)
		goto fail;
	return 0;
fail:
	device_close(dev);
	return ret;
}

void device_close(struct device *dev)
{
	if (dev->tun_fd >= 0)
		close(dev->tun_fd);
	if (dev->udp_fd >= 0)
		close(dev->udp_fd);
	dev->tun_fd = dev->udp_fd = -1;
}
