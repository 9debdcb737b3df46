/* The control plane of an encrypted interface: the UAPI socket (so `wg` works), rebinding the
 * UDP socket and SO_MARK on request, and stopping when the link or the socket goes away. */
#include "control.h"
#include "log.h"
#include "netlink.h"
#include "udp.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

static void get_info(void *ctx, struct uapi_device_info *info)
{
	struct control *c = ctx;
	int port = udp_local_port(c->worker->udp_fd);

	info->listen_port = port > 0 ? (uint16_t)port : 0;
	info->fwmark = c->fwmark;
	info->udp_family = c->worker->udp_family;
}

static const struct stats *get_stats(void *ctx)
{
	struct control *c = ctx;

	return &c->worker->stats;
}

static int apply_mark(int fd, uint32_t mark)
{
	return setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, sizeof(mark)) < 0 ? -errno : 0;
}

static int set_fwmark(void *ctx, uint32_t fwmark)
{
	struct control *c = ctx;
	int ret = apply_mark(c->worker->udp_fd, fwmark);

	if (!ret)
		c->fwmark = fwmark;
	return ret;
}

int control_set_fwmark(struct control *c, uint32_t fwmark)
{
	return set_fwmark(c, fwmark);
}

static void convert_endpoints(struct wg_device *wg, int family)
{
	for (unsigned int i = 0; i < wg->peer_count; i++) {
		union endpoint *ep = &wg->peers[i]->endpoint;

		if (endpoint_is_set(ep) && endpoint_to_family(ep, family))
			memset(ep, 0, sizeof(*ep)); /* an IPv6 peer on an IPv4-only socket */
	}
}

/* The new socket is bound before the old one closes, so a failure changes nothing. */
static int set_listen_port(void *ctx, uint16_t port)
{
	struct control *c = ctx;
	char err[256];
	int family, ret, fd = udp_open(port, &family, err, sizeof(err));

	if (fd < 0)
		return fd;
	ret = c->fwmark ? apply_mark(fd, c->fwmark) : 0;
	if (!ret)
		ret = loop_add_fd(c->worker->loop, fd, EPOLLIN, &c->worker->udp_source);
	if (ret) {
		close(fd);
		return ret;
	}
	close(c->worker->udp_fd); /* also leaves the epoll set */
	c->worker->udp_fd = c->dev->udp_fd = fd;
	if (family != c->worker->udp_family)
		convert_endpoints(c->wg, family);
	c->worker->udp_family = c->dev->udp_family = family;
	log_info("listening on UDP port %d", udp_local_port(fd));
	return 0;
}

static void socket_gone(void *ctx)
{
	struct control *c = ctx;

	log_info("control socket removed: shutting down");
	c->worker->loop->stopping = true;
}

static void on_link_event(struct loop_source *src, uint32_t events)
{
	struct control *c = container_of(src, struct control, link_source);

	if (netlink_monitor_link_deleted(c->link_watch, c->dev->ifindex)) {
		log_info("interface %s was deleted: shutting down", c->dev->ifname);
		c->worker->loop->stopping = true;
	}
}

static int open_link_watch(struct control *c)
{
	c->link_watch = netlink_monitor_open();
	if (!c->link_watch)
		return -errno;
	c->link_source.on_event = on_link_event;
	return loop_add_fd(c->worker->loop, mnl_socket_get_fd(c->link_watch), EPOLLIN,
			   &c->link_source);
}

int control_open(struct control *c, struct device *dev, struct worker *w, struct wg_device *wg,
		 bool read_only, char *err, size_t errlen)
{
	struct uapi_server_ops ops = { .ctx = c, .get_info = get_info, .set_listen_port = set_listen_port,
				       .set_fwmark = set_fwmark, .get_stats = get_stats, .read_only = read_only,
				       .socket_gone = socket_gone };
	int ret;

	*c = (struct control){ .dev = dev, .worker = w, .wg = wg };
	ret = open_link_watch(c);
	if (ret) {
		snprintf(err, errlen, "cannot watch the interface through netlink: %s", strerror(-ret));
		control_close(c);
		return ret;
	}
	ret = uapi_server_open(&c->uapi, w->loop, NULL, dev->ifname, wg, &ops);
	if (ret) {
		snprintf(err, errlen, "cannot open %s/%s.sock: %s", UAPI_DEFAULT_DIR, dev->ifname,
			 ret == -EADDRINUSE ? "another process serves this interface" : strerror(-ret));
		control_close(c);
		return ret;
	}
	c->uapi_open = true;
	return 0;
}

void control_close(struct control *c)
{
	if (c->uapi_open)
		uapi_server_close(&c->uapi);
	c->uapi_open = false;
	if (c->link_watch)
		mnl_socket_close(c->link_watch);
	c->link_watch = NULL;
}
