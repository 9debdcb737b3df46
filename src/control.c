/* The control plane of an encrypted interface: the UAPI socket (so `wg` works), rebinding the
 * UDP socket and SO_MARK on request, and stopping when the link or the socket goes away. */
#include "control.h"
#include "log.h"
#include "metrics.h"
#include "netlink.h"
#include "plain.h"
#include "portmap.h"

#include <errno.h>
#include <libmnl/libmnl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

static struct transport *first_transport(const struct control *c)
{
	return c->engine->workers[0].transport;
}

static void get_info(void *ctx, struct uapi_device_info *info)
{
	struct control *c = ctx;
	int port = transport_local_port(first_transport(c));

	info->listen_port = port > 0 ? (uint16_t)port : 0;
	info->fwmark = c->fwmark;
	info->udp_family = first_transport(c)->family;
	if (c->portmap)
		portmap_get(c->portmap, &info->portmap);
	if (c->plain)
		plain_get_remote(c->plain, &info->plain);
}

static const struct stats *get_stats(void *ctx)
{
	struct control *c = ctx;

	engine_stats(c->engine, &c->stats);
	return &c->stats;
}

int control_metrics(void *ctx, struct uapi_buf *out)
{
	struct control *c = ctx;
	struct engine *e = c->engine;
	struct stats workers[ENGINE_MAX_WORKERS];
	struct portmap_status pm = { .state = PORTMAP_NONE };
	struct uapi_plain_remote plain = { .role = UAPI_PLAIN_NONE };
	struct metrics_input in = { .ifname = c->dev->ifname, .dev = c->wg, .total = &c->stats,
				    .workers = workers, .worker_count = e->worker_count,
				    .portmap = &pm, .now_ns = loop_clock_ns(), .plain = &plain };

	if (c->portmap)
		portmap_get(c->portmap, &pm);
	if (c->plain)
		plain_get_remote(c->plain, &plain);
	engine_stats(e, &c->stats);
	memset(workers, 0, sizeof(workers[0]) * e->worker_count);
	for (unsigned int i = 0; i < e->worker_count; i++)
		stats_sum(&workers[i], &e->workers[i].stats);
	return metrics_write(out, &in);
}

/* Every socket or none: a failure part way puts the old mark back. */
static int set_fwmark(void *ctx, uint32_t fwmark)
{
	struct control *c = ctx;

	for (unsigned int i = 0; i < c->engine->worker_count; i++) {
		struct transport *t = c->engine->workers[i].transport;
		int ret = t->ops->set_mark(t, fwmark);

		if (ret) {
			while (i-- > 0)
				c->engine->workers[i].transport->ops->set_mark(
					c->engine->workers[i].transport, c->fwmark);
			return ret;
		}
	}
	c->fwmark = fwmark;
	return 0;
}

int control_set_fwmark(struct control *c, uint32_t fwmark)
{
	return set_fwmark(c, fwmark);
}

static void convert_endpoints(struct wg_device *wg, int family)
{
	wg_for_each_peer(wg, p) {
		union endpoint *ep = &p->endpoint.remote;

		if (endpoint_is_set(ep) && endpoint_to_family(ep, family))
			memset(&p->endpoint, 0, sizeof(p->endpoint)); /* IPv6 on an IPv4-only socket */
	}
}

/* Called from a UAPI set, with the device's write lock held: no worker is inside a batch. The
 * new sockets are bound before the old ones close, so a failure changes nothing. */
static int set_listen_port(void *ctx, uint16_t port)
{
	struct control *c = ctx;
	struct engine *e = c->engine;
	struct transport_udp_options opts = { .port = port, .count = (int)e->worker_count,
					      .offload = c->offload, .mark = c->fwmark };
	struct transport *fresh[ENGINE_MAX_WORKERS];
	struct stats *stats[ENGINE_MAX_WORKERS];
	char err[256];
	int ret;

	for (unsigned int i = 0; i < e->worker_count; i++)
		stats[i] = &e->workers[i].stats;
	ret = transport_udp_open(&opts, stats, fresh, err, sizeof(err));
	if (ret)
		return ret;
	for (unsigned int i = 0; i < e->worker_count; i++) {
		ret = worker_swap_transport(&e->workers[i], fresh[i]);
		if (ret) /* epoll refused: cannot happen short of ENOMEM; keep what was swapped */
			fresh[i]->ops->close(fresh[i]);
	}
	if (fresh[0]->family != c->dev->udp_family)
		convert_endpoints(c->wg, fresh[0]->family);
	c->dev->udp_family = first_transport(c)->family;
	log_info("listening on UDP port %d", transport_local_port(first_transport(c)));
	if (c->portmap)
		portmap_set_ports(c->portmap, (uint16_t)transport_local_port(first_transport(c)),
				  e->tcp ? (uint16_t)transport_tcp_port(e->tcp) : 0);
	return 0;
}

/* Workers read the device while a set request is parsed and checked (seconds for 100,000
 * peers) and wait only while its changes apply. */
static void begin_changes(void *ctx)
{
	struct control *c = ctx;

	wg_write_lock(c->wg);
}

static void end_changes(void *ctx)
{
	struct control *c = ctx;

	wg_unlock(c->wg);
}

int control_apply(struct control *c, const char *text, size_t len, struct uapi_set_result *res)
{
	struct uapi_set_hooks hooks = { .ctx = c, .set_listen_port = set_listen_port,
					.set_fwmark = set_fwmark, .begin_changes = begin_changes,
					.end_changes = end_changes };
	struct uapi_device_info info;

	get_info(c, &info);
	return uapi_set(c->wg, &info, &hooks, text, len, c->engine->loop.now_ns, res);
}

uint16_t control_listen_port(struct control *c)
{
	struct uapi_device_info info;

	get_info(c, &info);
	return info.listen_port;
}

static void socket_gone(void *ctx)
{
	struct control *c = ctx;

	log_info("control socket removed: shutting down");
	engine_stop(c->engine);
}

/* `ip link set IF mtu N`: workers size, pad and accept packets by the new MTU from their next
 * batch on, and handshakes stage packets in slots of the new size. */
static void follow_mtu(struct control *c, int mtu)
{
	if (mtu == c->dev->mtu)
		return;
	log_info("interface %s: MTU %d (was %d)", c->dev->ifname, mtu, c->dev->mtu);
	c->dev->mtu = mtu;
	engine_set_mtu(c->engine, (size_t)mtu);
	wg_device_set_mtu(c->wg, (size_t)mtu);
}

/* A deletion stops the daemon; a move to another namespace does not (as wireguard-go): the TUN
 * keeps working there, and this namespace no longer reports on it. */
static void on_link_event(struct loop_source *src, uint32_t events)
{
	struct control *c = container_of(src, struct control, link_source);
	struct netlink_link_event ev;

	netlink_monitor_read(c->link_watch, c->dev->ifindex, &ev);
	if (ev.addresses && c->wg)
		rdv_addresses_changed(c->wg);
	if (!c->dev->ifindex)
		return;
	if (ev.mtu > 0)
		follow_mtu(c, ev.mtu);
	if (ev.moved) {
		log_info("interface %s moved to another network namespace: still serving it",
			 c->dev->ifname);
		c->dev->ifindex = 0;
	} else if (ev.deleted) {
		log_info("interface %s was deleted: shutting down", c->dev->ifname);
		engine_stop(c->engine);
	}
}

static int open_link_watch(struct control *c)
{
	c->link_watch = netlink_monitor_open();
	if (!c->link_watch)
		return -errno;
	c->link_source.on_event = on_link_event;
	return loop_add_fd(&c->engine->loop, mnl_socket_get_fd(c->link_watch), EPOLLIN,
			   &c->link_source);
}

int control_open(struct control *c, struct device *dev, struct engine *e, struct wg_device *wg,
		 bool read_only, bool offload, char *err, size_t errlen)
{
	struct uapi_server_ops ops = { .ctx = c, .get_info = get_info, .set_listen_port = set_listen_port,
				       .set_fwmark = set_fwmark, .get_stats = get_stats, .read_only = read_only,
				       .socket_gone = socket_gone, .begin_changes = begin_changes,
				       .end_changes = end_changes,
				       .get_metrics = control_metrics };
	int ret;

	*c = (struct control){ .dev = dev, .engine = e, .wg = wg, .offload = offload };
	ret = open_link_watch(c);
	if (ret) {
		snprintf(err, errlen, "cannot watch the interface through netlink: %s", strerror(-ret));
		control_close(c);
		return ret;
	}
	ret = uapi_server_open(&c->uapi, &e->loop, NULL, dev->ifname, wg, &ops);
	if (ret) {
		snprintf(err, errlen, "cannot open %s/%s.sock: %s%s", UAPI_DEFAULT_DIR, dev->ifname,
			 ret == -EADDRINUSE ? "another process serves this interface" : strerror(-ret),
			 ret == -EACCES || ret == -EPERM ?
			 " (the directory must be writable by this user: run as root, or create it "
			 "for this user first, e.g. install -d -o USER " UAPI_DEFAULT_DIR ")" : "");
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
