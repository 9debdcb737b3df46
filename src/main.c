/* myvpn: wires options, device, worker and event loop together. */
#include "device.h"
#include "log.h"
#include "loop.h"
#include "options.h"
#include "plain.h"
#include "udp.h"
#include "worker.h"

#include <errno.h>
#include <libgen.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#define MYVPN_VERSION "0.1.0"

struct signals {
	struct loop_source source;
	int fd;
	struct loop *loop;
	struct worker *worker;
};

static void on_signal(struct loop_source *src, uint32_t events)
{
	struct signals *s = container_of(src, struct signals, source);
	struct signalfd_siginfo info;

	while (read(s->fd, &info, sizeof(info)) == sizeof(info)) {
		if (info.ssi_signo == SIGUSR1) {
			stats_print(&s->worker->stats, stderr);
			continue;
		}
		log_info("signal %d: shutting down", (int)info.ssi_signo);
		s->loop->stopping = true;
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
	return loop_add_fd(s->loop, s->fd, EPOLLIN, &s->source);
}

static const char *mode_name(enum run_mode mode)
{
	return mode == MODE_PEER ? "peer-to-peer" : mode == MODE_SERVER ? "server" : "client";
}

static void announce(const struct device *dev, const struct options *opts, int port)
{
	char buf[INET6_ADDRSTRLEN + 8];

	log_warn("plaintext mode: traffic is NEITHER encrypted NOR authenticated; anyone on the path can read and forge it");
	log_info("%s mode on %s, MTU %d, listening on UDP port %d", mode_name(opts->mode), dev->ifname,
		 dev->mtu, port);
	if (opts->peer_host)
		log_info("peer %s", endpoint_format(&dev->peer, buf, sizeof(buf)));
	if (opts->keepalive)
		log_info("keepalive every %d s of silence", opts->keepalive);
}

static int run(struct device *dev, const struct options *opts)
{
	struct loop loop;
	struct worker worker;
	struct plain_tunnel plain;
	struct signals sig = { .fd = -1, .loop = &loop, .worker = &worker };
	int ret;

	ret = loop_init(&loop);
	if (ret)
		return ret;
	plain_init(&plain, opts->mode, &dev->peer, opts->keepalive);
	ret = worker_init(&worker, &loop, &plain_ops, &plain, dev->tun_fd, dev->udp_fd,
			  dev->udp_family, (size_t)dev->mtu);
	if (ret)
		goto out_loop;
	ret = signals_open(&sig);
	if (ret)
		goto out_worker;
	announce(dev, opts, udp_local_port(dev->udp_fd));
	ret = plain_start(&plain, &worker);
	if (!ret)
		ret = loop_run(&loop);
	stats_print(&worker.stats, stderr);
	close(sig.fd);
out_worker:
	worker_free(&worker);
out_loop:
	loop_close(&loop);
	return ret;
}

int main(int argc, char **argv)
{
	char err[512];
	struct options opts;
	struct device dev;
	const char *prog = basename(argv[0]);
	int ret;

	ret = options_parse(&opts, argc, argv, strstr(prog, "_nat") != NULL, err, sizeof(err));
	if (ret) {
		fprintf(stderr, "%s: error: %s (see --help)\n", prog, err);
		return 1;
	}
	if (opts.show_help) {
		options_usage(stdout, prog);
		return 0;
	}
	if (opts.show_version) {
		printf("myvpn %s\n", MYVPN_VERSION);
		return 0;
	}
	log_threshold = opts.verbosity >= 1 ? LOG_DEBUG : LOG_INFO;
	signal(SIGPIPE, SIG_IGN);
	if (device_open(&dev, &opts, err, sizeof(err))) {
		fprintf(stderr, "%s: error: %s\n", prog, err);
		return 1;
	}
	ret = run(&dev, &opts);
	device_close(&dev);
	if (ret) {
		fprintf(stderr, "%s: error: %s\n", prog, strerror(-ret));
		return 1;
	}
	return 0;
}
