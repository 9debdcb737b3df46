/* Port mapping (portmap.h): a helper thread asks the router with NAT-PMP (libnatpmp), else
 * UPnP IGD (libminiupnpc), renews the mapping, and deletes it when told to stop. */
#include "portmap.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <miniupnpc/miniupnpc.h>
#include <miniupnpc/upnpcommands.h>
#include <miniupnpc/upnperrors.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define ENABLE_STRNATPMPERR
#include <natpmp.h>

#define NS_PER_S 1000000000ull
#define NS_PER_MS 1000000ull

/* UPnP error codes (IGD WANIPConnection) we act on. */
enum { UPNP_CONFLICT = 718, UPNP_ONLY_PERMANENT = 725 };

/* What we hold at the router, enough to renew and to delete it. Helper thread only. */
struct held {
	enum portmap_protocol protocol; /* NONE: nothing held */
	uint16_t udp_port, tcp_port;    /* ours */
	uint16_t ext_udp, ext_tcp;      /* the router's; ext_tcp 0 = no TCP mapping */
	struct in_addr external;
	uint32_t lifetime; /* granted, seconds; 0 = a permanent UPnP lease */
	bool has_igd;      /* PORTMAP_PROTO_UPNP: urls and igd are filled */
	struct UPNPUrls urls;
	struct IGDdatas igd;
	char lanaddr[64]; /* our address towards the IGD */
};

const char *portmap_state_name(enum portmap_state state)
{
	static const char *const names[] = { "none", "requesting", "mapped", "failed" };

	return (unsigned int)state < 4 ? names[state] : "?";
}

const char *portmap_protocol_name(enum portmap_protocol proto)
{
	return proto == PORTMAP_PROTO_NATPMP ? "natpmp" : proto == PORTMAP_PROTO_UPNP ? "upnp" : "";
}

static const char *protocol_label(enum portmap_protocol proto)
{
	return proto == PORTMAP_PROTO_NATPMP ? "NAT-PMP" : "UPnP IGD";
}

/* ---- waiting: the helper sleeps in poll, woken by the control thread ---- */

static bool stopping(struct portmap *pm)
{
	bool stop;

	pthread_mutex_lock(&pm->lock);
	stop = pm->stop;
	pthread_mutex_unlock(&pm->lock);
	return stop;
}

/* Waits up to ms for fd (or only the wake-up when fd < 0). 1: fd readable; 0: timeout or a
 * wake-up (the caller looks again at what is wanted); -ECANCELED: stop. With pm NULL (the
 * deletions at stop), waits for fd alone. */
static int wait_fd(struct portmap *pm, int fd, int ms)
{
	struct pollfd p[2] = { { .fd = pm ? pm->wake_fd : -1, .events = POLLIN },
			       { .fd = fd, .events = POLLIN } };
	uint64_t v;
	int n = poll(p, fd >= 0 ? 2 : 1, ms < 0 ? 0 : ms);

	if (n > 0 && (p[0].revents & POLLIN) && read(pm->wake_fd, &v, sizeof(v)) < 0)
		v = 0; /* drained by an earlier read: nothing to do */
	if (pm && stopping(pm))
		return -ECANCELED;
	return n > 0 && fd >= 0 && (p[1].revents & (POLLIN | POLLERR)) ? 1 : 0;
}

static int ms_until(uint64_t deadline_ns)
{
	uint64_t now = loop_clock_ns();

	if (deadline_ns <= now)
		return 0;
	return (int)((deadline_ns - now + NS_PER_MS - 1) / NS_PER_MS);
}

/* ---- NAT-PMP ---- */

/* One request already sent: libnatpmp resends on its own schedule until an answer, an error
 * or wait_ms. >= 0 with *resp, a NATPMP_ERR_* code, -ETIMEDOUT or -ECANCELED (a stop; never
 * with pm NULL). */
static int natpmp_answer(struct portmap *pm, natpmp_t *n, natpmpresp_t *resp, int wait_ms)
{
	uint64_t deadline = loop_clock_ns() + (uint64_t)wait_ms * NS_PER_MS;

	for (;;) {
		struct timeval tv;
		int r = readnatpmpresponseorretry(n, resp), ms;

		if (r != NATPMP_TRYAGAIN)
			return r;
		ms = ms_until(deadline);
		if (!ms)
			return -ETIMEDOUT;
		if (getnatpmprequesttimeout(n, &tv) == 0) {
			int retry_ms = (int)(tv.tv_sec * 1000 + tv.tv_usec / 1000) + 1;

			if (retry_ms < ms)
				ms = retry_ms;
		}
		if (wait_fd(pm, n->s, ms) == -ECANCELED)
			return -ECANCELED;
	}
}

static const char *natpmp_error(int r)
{
	if (r == -ETIMEDOUT)
		return "no answer";
	if (r == -ECANCELED)
		return "stopped";
	if (r == -EPROTO)
		return "answers to other requests";
	return strnatpmperr(r);
}

/* A late answer to an earlier request of the same exchange (libnatpmp resends) is not the
 * answer to this one: it is skipped, and the request sent again, a few times. */
enum { NATPMP_SEND_TRIES = 3 };

static bool answers(const natpmpresp_t *resp, int type, uint16_t port)
{
	return resp->type == type &&
	       (type == NATPMP_RESPTYPE_PUBLICADDRESS || resp->pnu.newportmapping.privateport == port);
}

/* The router's external address. */
static int natpmp_public(struct portmap *pm, natpmp_t *n, struct in_addr *addr)
{
	natpmpresp_t resp;
	int r = -EPROTO;

	for (int i = 0; i < NATPMP_SEND_TRIES && r == -EPROTO; i++) {
		r = sendpublicaddressrequest(n);
		if (r >= 0)
			r = natpmp_answer(pm, n, &resp, PORTMAP_NATPMP_WAIT_MS);
		if (r >= 0 && !answers(&resp, NATPMP_RESPTYPE_PUBLICADDRESS, 0))
			r = -EPROTO;
	}
	if (r >= 0)
		*addr = resp.pnu.publicaddress.addr;
	return r < 0 ? r : 0;
}

/* Maps one protocol's port; public is the external port we would like (0 = any); lifetime 0
 * deletes. pm NULL: not cancelled by a stop. */
static int natpmp_map(struct portmap *pm, natpmp_t *n, int proto, uint16_t port,
		      uint16_t public, uint32_t lifetime, uint16_t *ext, uint32_t *granted)
{
	int type = proto == NATPMP_PROTOCOL_UDP ? NATPMP_RESPTYPE_UDPPORTMAPPING :
						  NATPMP_RESPTYPE_TCPPORTMAPPING;
	natpmpresp_t resp;
	int r = -EPROTO;

	for (int i = 0; i < NATPMP_SEND_TRIES && r == -EPROTO; i++) {
		r = sendnewportmappingrequest(n, proto, port, public, lifetime);
		if (r >= 0)
			r = natpmp_answer(pm, n, &resp,
					  pm ? PORTMAP_NATPMP_WAIT_MS : PORTMAP_DELETE_WAIT_MS);
		if (r >= 0 && !answers(&resp, type, port))
			r = -EPROTO;
	}
	if (r < 0)
		return r;
	*ext = resp.pnu.newportmapping.mappedpublicport;
	*granted = resp.pnu.newportmapping.lifetime;
	return 0;
}

/* Asks for (or renews) the mapping of h's ports; 0, or a message in err. */
static int natpmp_request(struct portmap *pm, struct held *h, char *err, size_t errlen)
{
	natpmp_t n;
	uint32_t granted = 0, tcp_granted = 0;
	int r = initnatpmp(&n, 0, 0);

	if (r < 0) {
		snprintf(err, errlen, "NAT-PMP: %s", strnatpmperr(r));
		return -EHOSTUNREACH;
	}
	r = natpmp_public(pm, &n, &h->external);
	if (r >= 0)
		r = natpmp_map(pm, &n, NATPMP_PROTOCOL_UDP, h->udp_port,
			       h->ext_udp ? h->ext_udp : h->udp_port, pm->lifetime, &h->ext_udp,
			       &granted);
	if (r >= 0 && h->tcp_port)
		r = natpmp_map(pm, &n, NATPMP_PROTOCOL_TCP, h->tcp_port,
			       h->ext_tcp ? h->ext_tcp : h->tcp_port, pm->lifetime, &h->ext_tcp,
			       &tcp_granted);
	closenatpmp(&n);
	if (r < 0) {
		snprintf(err, errlen, "NAT-PMP: %s", natpmp_error(r));
		return -EHOSTUNREACH;
	}
	h->lifetime = h->tcp_port && tcp_granted < granted ? tcp_granted : granted;
	return 0;
}

/* Lifetime 0 deletes (RFC 6886 §3.4). The answer is awaited (libnatpmp resends meanwhile)
 * for up to PORTMAP_DELETE_WAIT_MS, even while stopping: that is when deletions happen. */
static void natpmp_delete(const struct held *h)
{
	natpmp_t n;
	uint16_t ext;
	uint32_t granted;

	if (initnatpmp(&n, 0, 0) < 0)
		return;
	natpmp_map(NULL, &n, NATPMP_PROTOCOL_UDP, h->udp_port, 0, 0, &ext, &granted);
	if (h->ext_tcp)
		natpmp_map(NULL, &n, NATPMP_PROTOCOL_TCP, h->tcp_port, 0, 0, &ext, &granted);
	closenatpmp(&n);
}

/* ---- UPnP IGD ---- */

static void upnp_forget(struct held *h)
{
	if (h->has_igd)
		FreeUPNPUrls(&h->urls);
	h->has_igd = false;
}

/* Finds a connected IGD by SSDP and reads its description. 0 or a message in err. */
static int upnp_discover(struct held *h, char *err, size_t errlen)
{
	struct UPNPDev *devs;
	int e = 0, r;

	devs = upnpDiscover(PORTMAP_UPNP_DISCOVER_MS, NULL, NULL, UPNP_LOCAL_PORT_ANY, 0, 2, &e);
	if (!devs) {
		snprintf(err, errlen, "UPnP: no IGD answered");
		return -EHOSTUNREACH;
	}
	/* 1: connected, with a public external address. 2: connected, but its external address
	 * is private or reserved (miniupnpc 2.2), as behind a carrier-grade NAT: the mapping
	 * still opens the router, and peers in that address realm can use it. */
	r = UPNP_GetValidIGD(devs, &h->urls, &h->igd, h->lanaddr, sizeof(h->lanaddr));
	freeUPNPDevlist(devs);
	if (r != 1 && r != 2) {
		if (r)
			FreeUPNPUrls(&h->urls);
		snprintf(err, errlen, "UPnP: no connected IGD found");
		return -EHOSTUNREACH;
	}
	if (r == 2)
		log_info("port mapping: the UPnP router's external address is private or reserved: another NAT may sit beyond it");
	h->has_igd = true;
	return 0;
}

/* AddPortMapping with the lease we ask for, then a permanent one if that is all the IGD
 * grants, then any external port (IGDv2) if ours is taken. */
static int upnp_add(struct portmap *pm, struct held *h, const char *proto, uint16_t port,
		    uint16_t *ext)
{
	const char *ctl = h->urls.controlURL, *svc = h->igd.first.servicetype;
	char in[8], want[8], lease[12], reserved[8] = "";
	int r;

	snprintf(in, sizeof(in), "%u", port);
	snprintf(want, sizeof(want), "%u", *ext ? *ext : port);
	snprintf(lease, sizeof(lease), "%u", h->lifetime);
	r = UPNP_AddPortMapping(ctl, svc, want, in, h->lanaddr, pm->description, proto, NULL, lease);
	if (r == UPNP_ONLY_PERMANENT) {
		h->lifetime = 0;
		r = UPNP_AddPortMapping(ctl, svc, want, in, h->lanaddr, pm->description, proto, NULL,
					"0");
	}
	if (r == UPNP_CONFLICT) {
		r = UPNP_AddAnyPortMapping(ctl, svc, want, in, h->lanaddr, pm->description, proto,
					   NULL, lease, reserved);
		if (!r)
			snprintf(want, sizeof(want), "%s", reserved);
	}
	if (!r)
		*ext = (uint16_t)atoi(want);
	return r;
}

static int upnp_request(struct portmap *pm, struct held *h, char *err, size_t errlen)
{
	char ip[40] = "";
	int r;

	if (!h->has_igd && upnp_discover(h, err, errlen))
		return -EHOSTUNREACH;
	/* a first request asks for pm->lifetime; a renewal of a permanent lease stays permanent */
	h->lifetime = h->lifetime || !h->ext_udp ? pm->lifetime : 0;
	r = UPNP_GetExternalIPAddress(h->urls.controlURL, h->igd.first.servicetype, ip);
	if (!r && inet_pton(AF_INET, ip, &h->external) != 1)
		r = UPNPCOMMAND_INVALID_RESPONSE;
	if (!r)
		r = upnp_add(pm, h, "UDP", h->udp_port, &h->ext_udp);
	if (!r && h->tcp_port)
		r = upnp_add(pm, h, "TCP", h->tcp_port, &h->ext_tcp);
	if (r) {
		snprintf(err, errlen, "UPnP: %s", strupnperror(r) ? strupnperror(r) : "refused");
		upnp_forget(h);
		return -EHOSTUNREACH;
	}
	return 0;
}

static void upnp_delete(struct held *h)
{
	char ext[8];

	snprintf(ext, sizeof(ext), "%u", h->ext_udp);
	UPNP_DeletePortMapping(h->urls.controlURL, h->igd.first.servicetype, ext, "UDP", NULL);
	if (h->ext_tcp) {
		snprintf(ext, sizeof(ext), "%u", h->ext_tcp);
		UPNP_DeletePortMapping(h->urls.controlURL, h->igd.first.servicetype, ext, "TCP", NULL);
	}
}

/* ---- the helper thread ---- */

static void publish(struct portmap *pm, const struct portmap_status *st)
{
	uint64_t one = 1;

	pthread_mutex_lock(&pm->lock);
	pm->status = *st;
	pthread_mutex_unlock(&pm->lock);
	if (write(pm->notify_fd, &one, sizeof(one)) < 0)
		log_debug("port mapping: cannot wake the control thread: %s", strerror(errno));
}

static void publish_mapped(struct portmap *pm, const struct held *h)
{
	struct portmap_status st = { .state = PORTMAP_MAPPED, .protocol = h->protocol,
				     .udp_port = h->udp_port, .tcp_port = h->tcp_port,
				     .external_tcp_port = h->ext_tcp };
	struct sockaddr_in *sin = (struct sockaddr_in *)&st.external;

	sin->sin_family = AF_INET;
	sin->sin_addr = h->external;
	sin->sin_port = htons(h->ext_udp);
	if (h->lifetime)
		st.expires_ns = loop_clock_ns() + (uint64_t)h->lifetime * NS_PER_S;
	publish(pm, &st);
}

/* A renewal that kept the address and port is a debug line; anything new is info. */
static void log_mapped(const struct portmap *pm, const struct held *h, bool renewal)
{
	char ip[INET_ADDRSTRLEN], tcp[32] = "";

	inet_ntop(AF_INET, &h->external, ip, sizeof(ip));
	if (h->ext_tcp)
		snprintf(tcp, sizeof(tcp), ", TCP port %u at port %u", h->tcp_port, h->ext_tcp);
	if (renewal)
		log_debug("port mapping: renewed UDP port %u at %s:%u%s (%s, %u s)", h->udp_port, ip,
			  h->ext_udp, tcp, protocol_label(h->protocol), h->lifetime);
	else
		log_info("port mapping: UDP port %u is reachable at %s:%u%s (%s, %s%u s)",
			 h->udp_port, ip, h->ext_udp, tcp, protocol_label(h->protocol),
			 h->lifetime ? "lifetime " : "permanent lease, renewed every ",
			 h->lifetime ? h->lifetime : pm->lifetime / 2);
}

/* Deletes what h holds at the router and forgets it. */
static void release(struct portmap *pm, struct held *h)
{
	char ip[INET_ADDRSTRLEN];

	if (h->protocol == PORTMAP_PROTO_NATPMP)
		natpmp_delete(h);
	else if (h->protocol == PORTMAP_PROTO_UPNP)
		upnp_delete(h);
	if (h->protocol) {
		inet_ntop(AF_INET, &h->external, ip, sizeof(ip));
		log_info("port mapping: deleted %s:%u -> UDP port %u at the router (%s)", ip,
			 h->ext_udp, h->udp_port, protocol_label(h->protocol));
	}
	upnp_forget(h);
	*h = (struct held){ 0 };
}

/* err = "pmp_err; err", cut to errlen */
static void join_errors(char *err, size_t errlen, const char *pmp_err)
{
	char both[2 * sizeof(((struct portmap_status *)0)->error)];
	int n = snprintf(both, sizeof(both), "%s; %s", pmp_err, err);

	if (n >= 0 && (size_t)n >= errlen)
		both[errlen - 1] = '\0';
	memcpy(err, both, errlen < sizeof(both) ? errlen : sizeof(both));
	err[errlen - 1] = '\0';
}

/* Renews what h holds with the same protocol (1), else asks anew (0): NAT-PMP, then UPnP
 * IGD. -EHOSTUNREACH with the reasons in err, or -ECANCELED. */
static int request(struct portmap *pm, struct held *h, uint16_t udp, uint16_t tcp, char *err,
		   size_t errlen)
{
	char pmp_err[64] = "";
	struct held fresh = { .udp_port = udp, .tcp_port = tcp };

	if (h->protocol == PORTMAP_PROTO_NATPMP && !natpmp_request(pm, h, err, errlen))
		return 1;
	if (h->protocol == PORTMAP_PROTO_UPNP && !upnp_request(pm, h, err, errlen))
		return 1;
	if (h->protocol)
		log_info("port mapping: the router refused to renew (%s); asking anew", err);
	upnp_forget(h);
	*h = fresh;
	if (!natpmp_request(pm, h, pmp_err, sizeof(pmp_err))) {
		h->protocol = PORTMAP_PROTO_NATPMP;
		return 0;
	}
	if (stopping(pm))
		return -ECANCELED;
	*h = fresh;
	if (!upnp_request(pm, h, err, errlen)) {
		h->protocol = PORTMAP_PROTO_UPNP;
		return 0;
	}
	join_errors(err, errlen, pmp_err);
	*h = (struct held){ 0 };
	return -EHOSTUNREACH;
}

/* The ports wanted now; false once told to stop. */
static bool wanted(struct portmap *pm, uint16_t *udp, uint16_t *tcp)
{
	bool go;

	pthread_mutex_lock(&pm->lock);
	*udp = pm->want_udp;
	*tcp = pm->want_tcp;
	go = !pm->stop;
	pthread_mutex_unlock(&pm->lock);
	return go;
}

static void on_failure(struct portmap *pm, uint16_t udp, uint16_t tcp, const char *err,
		       unsigned int retry, bool first)
{
	struct portmap_status st = { .state = PORTMAP_FAILED, .udp_port = udp, .tcp_port = tcp };

	snprintf(st.error, sizeof(st.error), "%s", err);
	if (first)
		log_warn("port mapping: the router maps no port for us (%s); the tunnel works without it, asking again in %u s",
			 err, retry);
	else
		log_debug("port mapping: still no mapping (%s); asking again in %u s", err, retry);
	publish(pm, &st);
}

/* One request or renewal; on success, publishes it and sets *next to the renewal time. */
static int mapped(struct portmap *pm, struct held *h, uint16_t udp, uint16_t tcp, char *err,
		  size_t errlen, uint64_t *next)
{
	struct in_addr old_ip = h->external;
	uint16_t old_port = h->ext_udp;
	int r = request(pm, h, udp, tcp, err, errlen);
	uint32_t half = h->lifetime ? h->lifetime / 2 + 1 : pm->lifetime / 2;

	if (r < 0)
		return r;
	log_mapped(pm, h, r == 1 && old_ip.s_addr == h->external.s_addr && old_port == h->ext_udp);
	publish_mapped(pm, h);
	*next = loop_clock_ns() + (uint64_t)half * NS_PER_S;
	return 0;
}

static void publish_requesting(struct portmap *pm, uint16_t udp, uint16_t tcp)
{
	struct portmap_status st = { .state = PORTMAP_REQUESTING, .udp_port = udp, .tcp_port = tcp };
	char also[32] = "";

	if (tcp)
		snprintf(also, sizeof(also), " and TCP port %u", tcp);
	log_info("port mapping: asking the router for UDP port %u%s (NAT-PMP, then UPnP IGD)", udp,
		 also);
	publish(pm, &st);
}

/* The state machine of portmap.h, until told to stop; then the mapping is deleted. */
static void *helper(void *arg)
{
	struct portmap *pm = arg;
	struct held h = { 0 };
	uint64_t next = 0; /* when to ask (again); 0 = now */
	unsigned int retry = PORTMAP_RETRY_MIN;
	bool failed = false;
	uint16_t udp, tcp, asked_udp = 0, asked_tcp = 0;
	char err[sizeof(((struct portmap_status *)0)->error)];

	while (wanted(pm, &udp, &tcp)) {
		if (udp != asked_udp || tcp != asked_tcp) { /* new ports: the old mapping goes */
			release(pm, &h);
			asked_udp = udp;
			asked_tcp = tcp;
			next = 0;
		}
		if (next && loop_clock_ns() < next) {
			wait_fd(pm, -1, ms_until(next));
			continue;
		}
		if (!h.protocol)
			publish_requesting(pm, udp, tcp);
		if (!mapped(pm, &h, udp, tcp, err, sizeof(err), &next)) {
			failed = false;
			retry = PORTMAP_RETRY_MIN;
		} else if (!stopping(pm)) {
			on_failure(pm, udp, tcp, err, retry, !failed);
			failed = true;
			next = loop_clock_ns() + (uint64_t)retry * NS_PER_S;
			retry = retry * 2 > PORTMAP_RETRY_MAX ? PORTMAP_RETRY_MAX : retry * 2;
		}
	}
	release(pm, &h);
	publish(pm, &(struct portmap_status){ .state = PORTMAP_NONE });
	return NULL;
}

/* ---- the control thread's side ---- */

static void on_notify(struct loop_source *src, uint32_t events)
{
	struct portmap *pm = container_of(src, struct portmap, notify_source);
	uint64_t v;

	if (read(pm->notify_fd, &v, sizeof(v)) == sizeof(v) && pm->on_change)
		pm->on_change(pm->ctx);
}

static void close_fds(struct portmap *pm)
{
	if (pm->notify_fd >= 0)
		close(pm->notify_fd);
	if (pm->wake_fd >= 0)
		close(pm->wake_fd);
	pm->notify_fd = pm->wake_fd = -1;
}

int portmap_start(struct portmap *pm, struct loop *loop, const char *ifname, uint16_t udp_port,
		  uint16_t tcp_port, void (*on_change)(void *ctx), void *ctx)
{
	int ret;

	*pm = (struct portmap){ .loop = loop, .on_change = on_change, .ctx = ctx,
				.want_udp = udp_port, .want_tcp = tcp_port, .wake_fd = -1,
				.notify_fd = -1 };
	snprintf(pm->description, sizeof(pm->description), "myvpn %s", ifname);
	pm->lifetime = PORTMAP_LIFETIME;
	if (getenv("MYVPN_TEST_PORTMAP_LIFETIME")) /* tests only: see renewals within seconds */
		pm->lifetime = (uint32_t)strtoul(getenv("MYVPN_TEST_PORTMAP_LIFETIME"), NULL, 10);
	if (pm->lifetime < 2)
		pm->lifetime = PORTMAP_LIFETIME;
	pm->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	pm->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (pm->wake_fd < 0 || pm->notify_fd < 0) {
		ret = -errno;
		close_fds(pm);
		return ret;
	}
	pm->notify_source.on_event = on_notify;
	ret = loop_add_fd(loop, pm->notify_fd, EPOLLIN, &pm->notify_source);
	if (!ret) {
		pthread_mutex_init(&pm->lock, NULL);
		ret = -pthread_create(&pm->thread, NULL, helper, pm);
		if (ret) {
			loop_del_fd(loop, pm->notify_fd);
			pthread_mutex_destroy(&pm->lock);
		}
	}
	if (ret) {
		close_fds(pm);
		return ret;
	}
	pm->running = true;
	return 0;
}

static void wake(struct portmap *pm)
{
	uint64_t one = 1;

	if (write(pm->wake_fd, &one, sizeof(one)) < 0)
		log_debug("port mapping: cannot wake the helper: %s", strerror(errno));
}

void portmap_set_ports(struct portmap *pm, uint16_t udp_port, uint16_t tcp_port)
{
	if (!pm->running)
		return;
	pthread_mutex_lock(&pm->lock);
	pm->want_udp = udp_port;
	pm->want_tcp = tcp_port;
	pthread_mutex_unlock(&pm->lock);
	wake(pm);
}

void portmap_stop(struct portmap *pm)
{
	if (!pm->running)
		return;
	pthread_mutex_lock(&pm->lock);
	pm->stop = true;
	pthread_mutex_unlock(&pm->lock);
	wake(pm);
	pthread_join(pm->thread, NULL);
	loop_del_fd(pm->loop, pm->notify_fd);
	close_fds(pm);
	pthread_mutex_destroy(&pm->lock);
	pm->running = false;
}

void portmap_get(struct portmap *pm, struct portmap_status *out)
{
	if (!pm->running) {
		*out = (struct portmap_status){ .state = PORTMAP_NONE };
		return;
	}
	pthread_mutex_lock(&pm->lock);
	*out = pm->status;
	pthread_mutex_unlock(&pm->lock);
}

int portmap_external(struct portmap *pm, struct sockaddr_storage *out)
{
	struct portmap_status st;

	portmap_get(pm, &st);
	if (st.state != PORTMAP_MAPPED)
		return -ENOENT;
	*out = st.external;
	return 0;
}
