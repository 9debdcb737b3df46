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
#include "engine.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

static int resolve_peer(struct device *dev, const struct options *opts, char *err, size_t errlen)
{
	int ret;

	if (!opts->peer_host)
		return 0;
	ret = addr_resolve_patiently(opts->peer_host, opts->peer_port, &dev->peer, err, errlen);
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

/* Offloads when the kernel has them; a plain TUN otherwise, or when asked. The first queue
 * creates the interface and names it; the others attach to it. */
static int open_queue(struct device *dev, const struct options *opts, unsigned int i,
		      unsigned int flags, char *err, size_t errlen)
{
	bool offload = i == 0 ? !opts->no_offload : dev->vnet_hdr; /* all queues alike */
	int fd;

	if (offload) {
		fd = tun_open(dev->ifname, flags | TUN_OPEN_OFFLOAD, &dev->gro_flags, err, errlen);
		if (fd >= 0) {
			dev->vnet_hdr = true;
			return fd;
		}
		if (fd != -EINVAL || i > 0)
			return fd;
		log_info("TUN offloads unavailable; continuing without");
	}
	return tun_open(dev->ifname, flags, NULL, err, errlen);
}

static int open_tun(struct device *dev, const struct options *opts, char *err, size_t errlen)
{
	unsigned int count = dev->queues * dev->lanes;
	unsigned int flags = count > 1 ? TUN_OPEN_MULTI_QUEUE : 0;

	for (unsigned int i = 0; i < count; i++) {
		int fd = open_queue(dev, opts, i, flags, err, errlen);

		if (fd < 0)
			return fd;
		dev->tun_fds[i] = fd;
	}
	return 0;
}

static int open_sockets(struct device *dev, const struct options *opts, char *err, size_t errlen)
{
	struct transport_udp_options topts = { .port = opts->listen_port, .count = (int)dev->queues,
					       .offload = !opts->no_offload };
	struct stats *none[ENGINE_MAX_WORKERS] = { 0 };
	int ret = transport_udp_open(&topts, none, dev->transports, err, errlen);

	if (!ret)
		dev->udp_family = dev->transports[0]->family;
	return ret;
}

/* The TCP listener takes the UDP port's number unless told otherwise; a client without a
 * fixed port listens on none but may still open connections (--transport tcp or auto).
 * Plaintext peers (both sides named) stay on UDP: only a client and its server use TCP. */
static int open_tcp(struct device *dev, const struct options *opts, char *err, size_t errlen)
{
	struct transport_tcp_options topts = { .udp_family = dev->udp_family,
					       .hello = opts->encrypted ? NULL : plain_tcp_hello };
	int port = opts->tcp_port;

	if (!opts->encrypted && opts->mode == MODE_PEER)
		return 0;
	if (port < 0)
		port = opts->listen_port ? transport_local_port(dev->transports[0]) : 0;
	if (!port && opts->transport == TRANSPORT_MODE_UDP)
		return 0;
	topts.port = (uint16_t)port;
	return transport_tcp_open(&topts, &dev->tcp, err, errlen);
}

static int alloc_queues(struct device *dev, unsigned int queues)
{
	dev->queues = queues;
	dev->lanes = worker_lane_count(queues);
	dev->tun_fds = malloc(queues * dev->lanes * sizeof(*dev->tun_fds));
	dev->transports = calloc(queues, sizeof(*dev->transports));
	if (!dev->tun_fds || !dev->transports)
		return -ENOMEM;
	for (unsigned int i = 0; i < queues * dev->lanes; i++)
		dev->tun_fds[i] = -1;
	return 0;
}

int device_open(struct device *dev, const struct options *opts, unsigned int queues, char *err,
		size_t errlen)
{
	int ret;

	*dev = (struct device){ 0 };
	err[0] = '\0';
	ret = alloc_queues(dev, queues);
	if (!ret)
		ret = open_sockets(dev, opts, err, errlen);
	if (!ret)
		ret = open_tcp(dev, opts, err, errlen);
	if (!ret)
		ret = resolve_peer(dev, opts, err, errlen);
	if (ret)
		goto fail;
	strcpy(dev->ifname, opts->ifname);
	ret = open_tun(dev, opts, err, errlen);
	if (!ret)
		ret = configure_interface(dev, opts, err, errlen);
	if (ret)
		goto fail;
	return 0;
fail:
	if (!*err)
		snprintf(err, errlen, "cannot set up the tunnel: %s", strerror(-ret));
	device_close(dev);
	return ret;
}

void device_release(struct device *dev)
{
	for (unsigned int i = 0; i < dev->queues * dev->lanes; i++)
		dev->tun_fds[i] = -1;
	for (unsigned int i = 0; i < dev->queues; i++)
		dev->transports[i] = NULL;
	dev->tcp = NULL;
}

void device_close(struct device *dev)
{
	for (unsigned int i = 0; dev->tun_fds && i < dev->queues * dev->lanes; i++)
		if (dev->tun_fds[i] >= 0)
			close(dev->tun_fds[i]);
	for (unsigned int i = 0; dev->transports && i < dev->queues; i++)
		if (dev->transports[i])
			dev->transports[i]->ops->close(dev->transports[i]);
	if (dev->tcp)
		dev->tcp->ops->close(dev->tcp);
	dev->tcp = NULL;
	free(dev->tun_fds);
	free(dev->transports);
	dev->tun_fds = NULL;
	dev->transports = NULL;
	dev->queues = 0;
}
