/* myvpn: wires options, device, tunnel (plaintext or WireGuard), worker and event loop. */
#include "config.h"
#include "control.h"
#include "daemon.h"
#include "device.h"
#include "keys.h"
#include "log.h"
#include "loop.h"
#include "metrics_server.h"
#include "mtu.h"
#include "netlink.h"
#include "notify.h"
#include "offload.h"
#include "options.h"
#include "plain.h"
#include "portmap.h"
#include "privileges.h"
#include "sandbox.h"
#include "show.h"
#include "engine.h"
#include "dns.h"
#include "gateway.h"
#include "route_all.h"
#include "route_table.h"
#include "harden.h"
#include "transport.h"
#include "wg_config.h"
#include "worker.h"

#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#define MYVPN_VERSION "0.3.0"
/* run() printed the reason itself; main() only sets the exit status. */
#define ALREADY_REPORTED (-ECANCELED)

struct tunnel;

struct signals {
	struct loop_source source;
	int fd;
	struct engine *engine;
	struct notify *notify;
	/* SIGHUP reloads these when the tunnel came from a -c file */
	struct tunnel *tunnel;
	struct control *control;
	struct device *dev;
};

static void reload(struct signals *s);

/* The tunnel behind the worker: its ops, its state, and how to start it. */
struct tunnel {
	const struct tunnel_ops *ops;
	struct plain_tunnel plain;
	struct wg_device wg;
	struct config cfg; /* encrypted mode: what the tunnel was built from */
	const char *config_file;
	int ready_fd; /* `myvpn IFNAME` in the background: tells the waiting parent we are up */
	bool test_abort; /* MYVPN_TEST_ABORT_AFTER_START: tests only, see run() */
	uint32_t fwmark; /* FwMark from a -c file */
	uint32_t route_table; /* Table from a -c file: the allowed IPs' routes go there; 0 = auto */
	/* Home as the exit: the server side (gateway) and the client side (route_all). */
	bool gateway, route_all;
	char uplink[IFNAMSIZ];
	struct ip_prefix gateway_extra[GATEWAY_MAX_PREFIXES]; /* the peers' allowed IPs */
	size_t gateway_extra_count;
	struct gateway gw;
	struct route_all ra;
	struct dns_settings dns_settings; /* --dns, else the file's DNS */
	struct dns dns;
	/* Least privilege once set up: --user or User (has_user), and the sandbox. */
	bool has_user, sandbox;
	struct privileges user;
	/* --port-mapping or PortMapping: the NAT router forwards our ports to us. */
	bool port_mapping;
	struct portmap portmap;
};

static void on_signal(struct loop_source *src, uint32_t events)
{
	struct signals *s = container_of(src, struct signals, source);
	struct signalfd_siginfo info;

	while (read(s->fd, &info, sizeof(info)) == sizeof(info)) {
		if (info.ssi_signo == SIGUSR1) {
			struct stats sum;

			engine_stats(s->engine, &sum);
			stats_print(&sum, stderr);
			continue;
		}
		if (info.ssi_signo == SIGHUP && s->tunnel->config_file) {
			reload(s);
			continue;
		}
		log_info("signal %d: shutting down", (int)info.ssi_signo);
		notify_stopping(s->notify);
		engine_stop(s->engine);
	}
}

static int signals_open(struct signals *s)
{
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGHUP);
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return -errno;
	s->fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (s->fd < 0)
		return -errno;
	s->source.on_event = on_signal;
	return loop_add_fd(&s->engine->loop, s->fd, EPOLLIN, &s->source);
}

static const char *mode_name(enum run_mode mode)
{
	return mode == MODE_PEER ? "peer-to-peer" : mode == MODE_SERVER ? "server" : "client";
}

static void announce(const struct device *dev, const struct options *opts, struct tunnel *t,
		     const struct control *control, struct engine *e)
{
	char buf[INET6_ADDRSTRLEN + 8];
	int port = transport_local_port(engine_sender(e)->transport);

	if (t->ops == &wg_ops) {
		if (t->wg.identity.has_identity)
			wgcrypto_key_to_base64(buf, t->wg.identity.public_key);
		else
			strcpy(buf, "(none yet: set one with wg)");
		log_info("encrypted mode (WireGuard protocol) on %s, MTU %d, listening on UDP port %d, %u worker%s, public key %s",
			 dev->ifname, dev->mtu, port, dev->queues, dev->queues == 1 ? "" : "s", buf);
		log_info("control socket %s/%s.sock", UAPI_DEFAULT_DIR, dev->ifname);
		if (e->tcp && transport_tcp_port(e->tcp))
			log_info("listening on TCP port %d too", transport_tcp_port(e->tcp));
		return;
	}
	log_warn("plaintext mode: traffic is NEITHER encrypted NOR authenticated; anyone on the path can read and forge it");
	if (control->uapi_open)
		log_info("control socket %s/%s.sock (read-only: wg show, myvpn show)", UAPI_DEFAULT_DIR,
			 dev->ifname);
	log_info("%s mode on %s, MTU %d, listening on UDP port %d, %u worker%s", mode_name(opts->mode),
		 dev->ifname, dev->mtu, port, dev->queues, dev->queues == 1 ? "" : "s");
	if (e->tcp && transport_tcp_port(e->tcp))
		log_info("listening on TCP port %d too", transport_tcp_port(e->tcp));
	if (opts->peer_host)
		log_info("peer %s", endpoint_format(&dev->peer, buf, sizeof(buf)));
	if (opts->keepalive)
		log_info("keepalive every %d s of silence", opts->keepalive);
}

/* systemd's STATUS= line: what `systemctl status` shows. */
static void service_status(void *ctx, char *buf, size_t len)
{
	const struct tunnel *t = ctx;
	struct timespec now;
	unsigned int recent = 0;

	if (t->ops != &wg_ops) {
		snprintf(buf, len, "plaintext tunnel");
		return;
	}
	clock_gettime(CLOCK_REALTIME, &now);
	wg_for_each_peer(&t->wg, p) {
		uint64_t hs = p->last_handshake_real_ns / 1000000000u;

		if (hs && (uint64_t)now.tv_sec - hs < REJECT_AFTER_TIME)
			recent++;
	}
	snprintf(buf, len, "%u peer%s, %u with a handshake in the last %d seconds", t->wg.peer_count,
		 t->wg.peer_count == 1 ? "" : "s", recent, REJECT_AFTER_TIME);
}

static int tunnel_start(struct tunnel *t, struct engine *e)
{
	return t->ops == &wg_ops ? wg_device_start(&t->wg, e) : plain_start(&t->plain, e);
}

/* The control socket: a plaintext tunnel gets an empty WireGuard device as its face to wg
 * show; without the socket it still works, so there a failure is only a warning. */
static int open_control(struct control *control, struct device *dev, const struct options *opts,
			struct tunnel *t, struct engine *e)
{
	char err[512];

	if (control_open(control, dev, e, &t->wg, t->ops != &wg_ops, !opts->no_offload, err,
			 sizeof(err))) {
		if (t->ops == &wg_ops) {
			fprintf(stderr, "myvpn: error: %s\n", err);
			return ALREADY_REPORTED;
		}
		log_warn("%s; continuing without it", err);
	}
	if (t->ops != &wg_ops)
		control->plain = &t->plain;
	if (t->fwmark && control_set_fwmark(control, t->fwmark)) {
		fprintf(stderr, "myvpn: error: cannot set FwMark %u: %s\n", t->fwmark, strerror(errno));
		return ALREADY_REPORTED;
	}
	return 0;
}

/* --metrics: a port already taken is a set-up error, as for the tunnel's own port. */
static int open_metrics(struct metrics_server *m, const struct options *opts,
			struct control *control, struct engine *e)
{
	char where[INET6_ADDRSTRLEN + 16];
	int ret;

	if (!opts->has_metrics)
		return 0;
	endpoint_format(&opts->metrics, where, sizeof(where));
	ret = metrics_server_open(m, &e->loop, &opts->metrics, control_metrics, control);
	if (ret) {
		fprintf(stderr, "myvpn: error: cannot serve metrics on %s: %s\n", where, strerror(-ret));
		return ALREADY_REPORTED;
	}
	log_info("metrics on http://%s/metrics", where);
	return 0;
}

/* After the sockets carry their mark and before any packet flows. */
static int open_exit(struct device *dev, const struct options *opts, struct tunnel *t)
{
	char err[512];
	int ret = 0;

	if (t->gateway)
		ret = gateway_open(&t->gw, dev->ifname, dev->ifindex, t->uplink, t->gateway_extra,
				   t->gateway_extra_count, err, sizeof(err));
	if (!ret && t->route_all)
		ret = route_all_open(&t->ra, dev->ifname, dev->ifindex, t->fwmark, !opts->allow_leaks,
				     opts->allow_lan, err, sizeof(err));
	/* the resolver changes once the tunnel (and its kill switch) can carry the queries */
	if (!ret)
		ret = dns_open(&t->dns, &t->dns_settings, dev->ifname, dev->ifindex, err, sizeof(err));
	if (ret) {
		route_all_close(&t->ra);
		gateway_close(&t->gw);
		fprintf(stderr, "myvpn: error: %s\n", err);
		return ALREADY_REPORTED;
	}
	return 0;
}

/* The router's mapping, or its end: the rendezvous offers it to our peers as a candidate. */
static void on_port_mapping(void *ctx)
{
	struct tunnel *t = ctx;
	struct sockaddr_storage ss;
	union endpoint ep = { 0 };

	if (!portmap_external(&t->portmap, &ss) && ss.ss_family == AF_INET)
		memcpy(&ep.in, &ss, sizeof(ep.in));
	rdv_set_extra_candidate(&t->wg, &ep);
}

/* Last, on the control thread, once confined: the helper thread inherits the sandbox and the
 * user. A router that maps nothing is only a warning (the helper logs it). */
static int open_port_mapping(const struct device *dev, struct tunnel *t, struct control *control,
			     struct engine *e)
{
	int udp = transport_local_port(engine_sender(e)->transport);
	int tcp = e->tcp ? transport_tcp_port(e->tcp) : 0;
	int ret;

	if (!t->port_mapping)
		return 0;
	ret = portmap_start(&t->portmap, &e->loop, dev->ifname, (uint16_t)udp, (uint16_t)tcp,
			    t->wg.rdv.mode == RDV_CLIENT ? on_port_mapping : NULL, t);
	if (ret) {
		fprintf(stderr, "myvpn: error: cannot start port mapping: %s\n", strerror(-ret));
		return ALREADY_REPORTED;
	}
	control->portmap = &t->portmap;
	return 0;
}

static void close_exit(struct tunnel *t)
{
	dns_close(&t->dns);
	route_all_close(&t->ra);
	gateway_close(&t->gw);
}

static bool privileged_port(int port)
{
	return port > 0 && port < 1024;
}

/* Whether a rebind (wg set listen-port, or the same port again after a link change) needs
 * CAP_NET_BIND_SERVICE: some port of ours is below 1024 already. */
static bool needs_bind_service(const struct options *opts, struct engine *e)
{
	const union endpoint *m = &opts->metrics;
	int mport = !opts->has_metrics ? 0 :
		    ntohs(m->sa.sa_family == AF_INET ? m->in.sin_port : m->in6.sin6_port);

	return privileged_port(transport_local_port(engine_sender(e)->transport)) ||
	       (e->tcp && privileged_port(transport_tcp_port(e->tcp))) || privileged_port(mport);
}

/* Last set-up step, on the only thread: every fd the daemon needs is open. Threads created
 * afterwards (the workers) inherit the user, the capabilities and the filter. */
static int confine(const struct options *opts, struct tunnel *t, struct engine *e)
{
	char err[512];
	int ret = 0;

	if (t->has_user)
		ret = privileges_drop(&t->user, needs_bind_service(opts, e), err, sizeof(err));
	/* A change of user made the process not dumpable again (fs.suid_dumpable); the sandbox
	 * would refuse prctl later. */
	if (!ret && t->has_user && opts->allow_core_dumps && harden_core_dumps(true))
		log_warn("cannot keep core dumps on after the change of user: %s", strerror(errno));
	if (!ret && t->sandbox)
		ret = sandbox_install(err, sizeof(err));
	if (ret) {
		fprintf(stderr, "myvpn: error: %s\n", err);
		return ALREADY_REPORTED;
	}
	if (t->sandbox)
		sandbox_test_forbidden();
	return 0;
}

/* Queue management's target: the command line's or the file's (setup copied it into opts),
 * or CODEL_TARGET_NS_DEFAULT. */
static uint64_t queue_target(const struct options *opts)
{
	return opts->queue_target_set ? opts->queue_target_ns : CODEL_TARGET_NS_DEFAULT;
}

static void set_queue_target(struct engine *e, uint64_t target_ns)
{
	for (unsigned int i = 0; i < e->worker_count; i++)
		worker_set_queue_target(&e->workers[i], target_ns, codel_interval(target_ns));
}

static int run(struct device *dev, const struct options *opts, struct tunnel *t)
{
	static struct engine engine;
	static struct metrics_server metrics = { .fd = -1 };
	static struct notify notify;
	struct control control = { 0 };
	struct signals sig = { .fd = -1, .engine = &engine, .notify = &notify, .tunnel = t,
			       .control = &control, .dev = dev };
	struct stats sum;
	void *state = t->ops == &wg_ops ? (void *)&t->wg : (void *)&t->plain;
	int ret;

	/* What reaches the TUN came in a datagram that was authenticated (WireGuard) or whose UDP
	 * checksum the kernel verified (plaintext): its packets' own checksums need no second
	 * check before they are merged. */
	ret = engine_init(&engine, t->ops, state, (size_t)dev->mtu, dev->tun_fds, dev->lanes,
			  dev->vnet_hdr, dev->gro_flags | OFFLOAD_GRO_TRUSTED, dev->transports,
			  dev->queues);
	if (!ret)
		set_queue_target(&engine, queue_target(opts));
	if (!ret && dev->tcp) {
		ret = engine_add_tcp(&engine, dev->tcp);
		dev->tcp = NULL;
	}
	device_release(dev);
	if (!ret)
		ret = notify_init(&notify, &engine.loop, service_status, t);
	if (!ret)
		ret = signals_open(&sig);
	if (!ret)
		ret = open_control(&control, dev, opts, t, &engine);
	if (!ret)
		ret = open_metrics(&metrics, opts, &control, &engine);
	if (!ret)
		ret = open_exit(dev, opts, t);
	if (!ret) {
		announce(dev, opts, t, &control, &engine);
		t->wg.transport = opts->transport;
		ret = tunnel_start(t, &engine);
	}
	if (!ret)
		ret = confine(opts, t, &engine);
	if (!ret)
		ret = open_port_mapping(dev, t, &control, &engine);
	if (!ret && t->ready_fd >= 0)
		daemon_ready(t->ready_fd);
	/* For the test that a crash leaves no core file with a key: keys loaded, tunnel up. */
	if (!ret && t->test_abort) {
		log_warn("MYVPN_TEST_ABORT_AFTER_START is set: aborting (a test-only trigger)");
		abort();
	}
	if (!ret)
		notify_ready(&notify);
	if (!ret)
		ret = engine_run(&engine);
	/* the mapping is deleted before anything else goes: the router stops forwarding to us */
	control.portmap = NULL;
	portmap_stop(&t->portmap);
	engine_stats(&engine, &sum);
	stats_print(&sum, stderr);
	metrics_server_close(&metrics);
	close_exit(t);
	control_close(&control);
	if (sig.fd >= 0)
		close(sig.fd);
	engine_free(&engine);
	return ret;
}

/* wg-quick names the interface after the file: /etc/wireguard/wg0.conf is wg0. */
static void ifname_from_file(struct options *opts, const char *path)
{
	char name[IFNAMSIZ + 8] = "", *dot;
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;

	if (opts->ifname[0] || strlen(base) >= sizeof(name))
		return;
	strcpy(name, base);
	dot = strstr(name, ".conf");
	if (dot && !dot[5])
		*dot = '\0';
	if (options_ifname_valid(name))
		strcpy(opts->ifname, name);
}

/* The id of the file's Table (0 for auto or off): 0, or -errno with err set. */
static int config_route_table(const struct config *cfg, const char *file, uint32_t *table,
			      char *err, size_t errlen)
{
	int ret;

	*table = 0;
	if (!cfg->table[0])
		return 0;
	ret = route_table_id(cfg->table, table);
	if (ret)
		snprintf(err, errlen, "%s:%d: Table '%s' %s", file, cfg->table_line, cfg->table,
			 ret == -EINVAL ? "is not a table number (1-4294967295)"
					: "is not a table named in /etc/iproute2/rt_tables");
	return ret;
}

static int load_config_file(struct options *opts, struct tunnel *t, char *err, size_t errlen)
{
	struct config_error cerr = { 0 };
	bool exposed = false;
	int ret = config_read_file(&t->cfg, opts->config_file, &exposed, &cerr);

	if (ret) {
		if (cerr.line)
			snprintf(err, errlen, "%s:%d: %s", opts->config_file, cerr.line, cerr.message);
		else
			snprintf(err, errlen, "%s: %s", opts->config_file, cerr.message);
		return ret;
	}
	ret = config_route_table(&t->cfg, opts->config_file, &t->route_table, err, errlen);
	if (ret)
		return ret;
	if (exposed)
		fprintf(stderr, "Warning: `%s' is world accessible\n", opts->config_file);
	if (t->cfg.wg_quick_command_line)
		log_warn("%s:%d: PreUp, PostUp, PreDown and PostDown are not run by myvpn -c (wg-quick "
			 "runs them: WG_QUICK_USERSPACE_IMPLEMENTATION=myvpn wg-quick up FILE)",
			 opts->config_file, t->cfg.wg_quick_command_line);
	if (t->cfg.save_config_line)
		log_warn("%s:%d: SaveConfig = true: myvpn -c does not write the file back (wg-quick does)",
			 opts->config_file, t->cfg.save_config_line);
	t->config_file = opts->config_file;
	t->fwmark = t->cfg.fwmark;
	opts->listen_port = t->cfg.listen_port;
	if (opts->tcp_port < 0 && t->cfg.has_tcp_port)
		opts->tcp_port = t->cfg.tcp_port;
	if (!opts->transport_set)
		opts->transport = (enum transport_mode)t->cfg.transport;
	if (!opts->queue_target_set && t->cfg.has_queue_target) {
		opts->queue_target_ns = t->cfg.queue_target_ns;
		opts->queue_target_set = true;
	}
	if (!opts->has_metrics && t->cfg.has_metrics) {
		opts->metrics = t->cfg.metrics;
		opts->has_metrics = true;
	}
	opts->mtu = t->cfg.mtu;
	opts->address_count = t->cfg.address_count < MAX_ADDRESSES ? t->cfg.address_count : MAX_ADDRESSES;
	memcpy(opts->addresses, t->cfg.addresses, sizeof(opts->addresses[0]) * (size_t)opts->address_count);
	ifname_from_file(opts, opts->config_file);
	return 0;
}

/* Rendezvous from a -c file: introduced and relayed by a peer, or introducing ours. */
static int apply_rendezvous(struct tunnel *t, const struct device *dev, char *err, size_t errlen)
{
	static const enum rdv_mode modes[] = {
		[CONFIG_RENDEZVOUS_OFF] = RDV_OFF,
		[CONFIG_RENDEZVOUS_SERVE] = RDV_SERVE,
		[CONFIG_RENDEZVOUS_CLIENT] = RDV_CLIENT,
	};
	int ret = rdv_configure(&t->wg, modes[t->cfg.rendezvous], t->cfg.rendezvous_key,
				dev->ifname, err, errlen);

	if (ret)
		wg_device_free(&t->wg);
	else if (t->cfg.nat_keepalive)
		t->wg.rdv.nat_keepalive_s = (uint16_t)(t->cfg.nat_keepalive - 1);
	return ret;
}

static int prepare_encrypted(struct options *opts, struct tunnel *t, char *err, size_t errlen)
{
	int ret = 0;

	t->ops = &wg_ops;
	if (opts->config_file)
		ret = load_config_file(opts, t, err, errlen);
	else if (!opts->uapi_only)
		ret = wg_config_from_options(&t->cfg, opts, err, errlen);
	if (!ret && !opts->mtu)
		opts->mtu = mtu_for_underlay(UNDERLAY_MTU_DEFAULT, WG_OVERHEAD);
	return ret;
}

/* Routes for each peer's allowed IPs, as wg-quick adds them, in table (0: auto, the main
 * table). With auto a default route (/0) is left to the full tunnel (route_all.h): taking it
 * over needs policy routing so the tunnel's own packets still reach the peer. A route that
 * exists stays: at start, an existing default route is worth a warning (at a reload it is
 * ours). */
static int add_routes(const struct device *dev, const struct config *cfg, uint32_t table,
		      bool at_start, char *err, size_t errlen)
{
	if (cfg->table_off)
		return 0;
	for (size_t i = 0; i < cfg->peer_count; i++) {
		for (size_t j = 0; j < cfg->peers[i].allowed_ip_count; j++) {
			struct ip_prefix p = cfg->peers[i].allowed_ips[j];
			int ret;

			if (p.cidr == 0 && !table) /* auto: the full tunnel's policy routing */
				continue;
			addr_prefix_mask(&p);
			ret = netlink_add_route(dev->ifindex, &p, table ? table : ROUTE_TABLE_MAIN);
			if (ret == -EEXIST && p.cidr == 0 && at_start)
				log_warn("table %u has a default route already: left as it is",
					 table);
			if (ret && ret != -EEXIST) {
				snprintf(err, errlen, "cannot add route for an allowed IP of peer %zu: %s",
					 i + 1, strerror(-ret));
				return ret;
			}
		}
	}
	return 0;
}

/* SIGHUP: the -c file again, applied as `wg syncconf` would. A file that does not parse, or
 * a request the device refuses, changes nothing. */
/* Peers added without an Endpoint are looked for through the rendezvous too; the role itself
 * (Rendezvous) stays as it started. */
static void reload_rendezvous(struct tunnel *t, const struct config *cfg)
{
	const struct rdv_device *r = &t->wg.rdv;
	bool same = (cfg->rendezvous == CONFIG_RENDEZVOUS_OFF && r->mode == RDV_OFF) ||
		    (cfg->rendezvous == CONFIG_RENDEZVOUS_SERVE && r->mode == RDV_SERVE) ||
		    (cfg->rendezvous == CONFIG_RENDEZVOUS_CLIENT && r->mode == RDV_CLIENT &&
		     !memcmp(cfg->rendezvous_key, r->server_key, sizeof(r->server_key)));

	if (!same)
		log_warn("%s: a new Rendezvous takes a restart; keeping the old one", t->config_file);
	for (size_t i = 0; i < cfg->peer_count; i++) {
		struct wg_peer *p = wg_peer_by_key(&t->wg, cfg->peers[i].public_key);

		if (p)
			rdv_manage(&t->wg, p, !cfg->peers[i].has_endpoint);
	}
}

/* The routes stay in the table the tunnel started with: a file that names another (or turns
 * them off or on) is applied otherwise, with a warning. False if its Table is invalid. */
static bool reload_keeps_table(const struct tunnel *t, struct config *cfg)
{
	char err[512];
	uint32_t table;

	if (config_route_table(cfg, t->config_file, &table, err, sizeof(err))) {
		log_error("%s; configuration unchanged", err);
		return false;
	}
	if (table != t->route_table || cfg->table_off != t->cfg.table_off)
		log_warn("%s: a new Table takes a restart; the routes stay as they are", t->config_file);
	cfg->table_off = t->cfg.table_off;
	return true;
}

static void reload(struct signals *s)
{
	struct tunnel *t = s->tunnel;
	struct config cfg = { 0 };
	struct config_error cerr = { 0 };
	struct uapi_set_result res = { 0 };
	struct uapi_buf req = { 0 };
	char err[512];
	int ret;

	ret = config_read_file(&cfg, t->config_file, NULL, &cerr);
	if (ret) {
		if (cerr.line)
			log_error("%s:%d: %s; configuration unchanged", t->config_file, cerr.line, cerr.message);
		else
			log_error("%s: %s; configuration unchanged", t->config_file, cerr.message);
		return;
	}
	if (!reload_keeps_table(t, &cfg)) {
		config_free(&cfg);
		return;
	}
	ret = wg_config_sync_request(&t->wg, &cfg, s->dev->udp_family,
				     control_listen_port(s->control), t->config_file, &req, err,
				     sizeof(err));
	if (!ret) {
		ret = control_apply(s->control, req.data, req.len, &res);
		if (ret)
			snprintf(err, sizeof(err), "%s: cannot apply: %s", t->config_file, strerror(-ret));
	}
	uapi_buf_free(&req);
	if (!ret)
		reload_rendezvous(t, &cfg);
	if (!ret && add_routes(s->dev, &cfg, t->route_table, false, err, sizeof(err)))
		log_warn("%s", err);
	else if (ret)
		log_error("%s; configuration unchanged", err);
	else
		log_info("reloaded %s: %u peer%s added, %u removed, %u in all", t->config_file,
			 res.peers_added, res.peers_added == 1 ? "" : "s", res.peers_removed,
			 t->wg.peer_count);
	config_free(&cfg);
}

/* The command line overrides the file; by default one worker per online CPU, up to 8. */
static unsigned int worker_count(const struct options *opts, const struct tunnel *t)
{
	if (opts->workers > 0)
		return (unsigned int)opts->workers;
	if (t->cfg.workers > 0)
		return (unsigned int)t->cfg.workers;
	return engine_default_workers();
}

/* wg-quick's rule: a peer that owns 0.0.0.0/0 or ::/0 makes a full tunnel, unless Table is off
 * or names a table (the default route then goes there, and nothing else is done). */
static bool config_routes_all(const struct config *cfg)
{
	if (cfg->table_off || cfg->table[0] || cfg->gateway)
		return false;
	for (size_t i = 0; i < cfg->peer_count; i++)
		for (size_t j = 0; j < cfg->peers[i].allowed_ip_count; j++)
			if (cfg->peers[i].allowed_ips[j].cidr == 0)
				return true;
	return false;
}

/* Which side of "home as the exit" this process plays, from the flags and the file. */
static void plan_exit(const struct options *opts, struct tunnel *t)
{
	const struct config *cfg = &t->cfg;

	t->gateway = opts->gateway || cfg->gateway;
	snprintf(t->uplink, sizeof(t->uplink), "%s",
		 opts->gateway_uplink ? opts->gateway_uplink : cfg->gateway_uplink);
	t->route_all = opts->route_all || (opts->config_file && config_routes_all(cfg));
	t->dns_settings = opts->dns.server_count || opts->dns.search_count ? opts->dns : cfg->dns;
	if (t->route_all && !t->fwmark)
		t->fwmark = ROUTE_ALL_DEFAULT_MARK;
	for (size_t i = 0; i < cfg->peer_count; i++)
		for (size_t j = 0; j < cfg->peers[i].allowed_ip_count &&
				   t->gateway_extra_count < GATEWAY_MAX_PREFIXES; j++)
			t->gateway_extra[t->gateway_extra_count++] = cfg->peers[i].allowed_ips[j];
}

/* --port-mapping wins over the file's PortMapping. Without either, on for a node that names
 * its rendezvous (`Rendezvous = KEY`): a mapped port is the best candidate a node behind NAT
 * can offer its peers; else off. */
static void plan_port_mapping(const struct options *opts, struct tunnel *t)
{
	if (opts->port_mapping >= 0)
		t->port_mapping = opts->port_mapping;
	else if (t->cfg.has_port_mapping)
		t->port_mapping = t->cfg.port_mapping;
	else
		t->port_mapping = t->cfg.rendezvous == CONFIG_RENDEZVOUS_CLIENT;
}

/* --user wins over the file's User; looked up now, while /etc/passwd is reachable. */
static int plan_privileges(const struct options *opts, struct tunnel *t, char *err,
			   size_t errlen)
{
	const char *user = opts->user ? opts->user : t->cfg.user[0] ? t->cfg.user : NULL;

	t->sandbox = !opts->no_sandbox;
	if (!user)
		return 0;
	t->has_user = true;
	return privileges_lookup(&t->user, user, err, errlen);
}

static int setup(struct device *dev, struct options *opts, struct tunnel *t, char *err,
		 size_t errlen)
{
	int ret;

	if (opts->encrypted) {
		ret = prepare_encrypted(opts, t, err, errlen);
		if (ret)
			return ret;
	} else {
		t->ops = &plain_ops;
	}
	plan_exit(opts, t);
	plan_port_mapping(opts, t);
	ret = plan_privileges(opts, t, err, errlen);
	if (ret)
		return ret;
	ret = device_open(dev, opts, worker_count(opts, t), err, errlen);
	if (ret)
		return ret;
	if (!opts->encrypted) {
		plain_init(&t->plain, opts->mode, &dev->peer, opts->keepalive, opts->transport);
		if (opts->mode == MODE_CLIENT && opts->peer_host && addr_is_host_name(opts->peer_host) &&
		    plain_set_endpoint_name(&t->plain, opts->peer_host, opts->peer_port)) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		return wg_device_init(&t->wg, NULL);
	}
	if (opts->uapi_only)
		ret = wg_device_init(&t->wg, NULL);
	else
		ret = wg_config_apply(&t->wg, &t->cfg, dev->udp_family, t->config_file, err, errlen);
	if (!ret)
		ret = apply_rendezvous(t, dev, err, errlen);
	if (!ret) {
		ret = add_routes(dev, &t->cfg, t->route_table, true, err, errlen);
		if (ret)
			wg_device_free(&t->wg);
	}
	if (ret)
		device_close(dev);
	return ret;
}

static int parse_or_exit(struct options *opts, int argc, char **argv, const char *prog)
{
	char err[512];

	if (options_parse(opts, argc, argv, strstr(prog, "_nat") != NULL, err, sizeof(err))) {
		fprintf(stderr, "%s: error: %s (see --help)\n", prog, err);
		exit(1);
	}
	if (opts->show_help) {
		options_usage(stdout, prog);
		exit(0);
	}
	if (opts->show_version) {
		printf("myvpn %s\n", MYVPN_VERSION);
		exit(0);
	}
	return 0;
}

/* `myvpn down IFNAME`: what a crashed daemon of IFNAME kept (its kill switch and routing
 * rules, or its gateway table, whose comment gives the forwarding values to put back, and
 * the resolv.conf it replaced). */
static int down_main(int argc, char **argv)
{
	bool gw, ks, dns;

	if (argc != 2 || !options_ifname_valid(argv[1]) || strchr(argv[1], '%')) {
		fprintf(stderr, "Usage: myvpn down IFNAME\n");
		return 1;
	}
	gw = !gateway_remove_stale(argv[1]);
	ks = !route_all_remove_stale(argv[1]);
	dns = !dns_remove_stale(argv[1]);
	if (gw)
		printf("removed the gateway table of %s and restored forwarding\n", argv[1]);
	if (ks)
		printf("removed the kill switch and routing rules of %s\n", argv[1]);
	if (dns)
		printf("restored the resolv.conf that %s replaced\n", argv[1]);
	if (!gw && !ks && !dns)
		printf("nothing of %s was left behind\n", argv[1]);
	return 0;
}

int main(int argc, char **argv)
{
	char err[512];
	struct options opts;
	struct device dev;
	static struct tunnel tunnel = { .ready_fd = -1, .dns = { .fd = -1 } };
	const char *prog = basename(argv[0]);
	int ret;

	if (argc == 2 && !strcmp(argv[1], "genkey"))
		return keys_genkey_main();
	if (argc == 2 && !strcmp(argv[1], "pubkey"))
		return keys_pubkey_main();
	if (argc >= 2 && !strcmp(argv[1], "show"))
		return show_main(argc - 1, argv + 1);
	if (argc >= 2 && !strcmp(argv[1], "down"))
		return down_main(argc - 1, argv + 1);
	sandbox_read_test_env();
	parse_or_exit(&opts, argc, argv, prog);
	log_threshold = opts.verbosity >= 1 ? LOGL_DEBUG : LOGL_INFO;
	log_init();
	/* Before any key is read: a core file would hold them all. */
	ret = harden_core_dumps(opts.allow_core_dumps);
	if (ret)
		log_warn("cannot turn core dumps off: %s", strerror(-ret));
	tunnel.test_abort = getenv("MYVPN_TEST_ABORT_AFTER_START") != NULL;
	signal(SIGPIPE, SIG_IGN);
	ret = wgcrypto_init(); /* a library without ChaCha20-Poly1305 or BLAKE2s fails here, once */
	if (ret) {
		fprintf(stderr, "%s: error: the crypto libraries lack an algorithm WireGuard needs: %s\n",
			prog, strerror(-ret));
		return 1;
	}
	if (opts.uapi_only && !opts.foreground) {
		tunnel.ready_fd = daemon_start();
		if (tunnel.ready_fd < 0) {
			fprintf(stderr, "%s: error: cannot daemonize: %s\n", prog, strerror(-tunnel.ready_fd));
			return 1;
		}
	}
	if (setup(&dev, &opts, &tunnel, err, sizeof(err))) {
		config_free(&tunnel.cfg);
		fprintf(stderr, "%s: error: %s\n", prog, err);
		return 1;
	}
	config_free(&tunnel.cfg);
	ret = run(&dev, &opts, &tunnel);
	wg_device_free(&tunnel.wg);
	if (tunnel.ops == &plain_ops)
		plain_free(&tunnel.plain);
	device_close(&dev);
	if (ret == ALREADY_REPORTED)
		return 1;
	if (ret) {
		fprintf(stderr, "%s: error: %s\n", prog, strerror(-ret));
		return 1;
	}
	return 0;
}
