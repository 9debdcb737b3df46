/* Prometheus text exposition of a device's peers and counters. */
#include "metrics.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <string.h>

static int family(struct uapi_buf *out, const char *name, const char *type, const char *help)
{
	return uapi_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Label values in the exposition escape backslash, double quote and newline. */
static int put_label_value(struct uapi_buf *out, const char *value)
{
	int ret = 0;

	for (const char *c = value; *c && !ret; c++) {
		if (*c == '\\' || *c == '"')
			ret = uapi_buf_printf(out, "\\%c", *c);
		else if (*c == '\n')
			ret = uapi_buf_append(out, "\\n", 2);
		else
			ret = uapi_buf_append(out, c, 1);
	}
	return ret;
}

struct ip_list {
	struct uapi_buf *out;
	unsigned int count;
};

static int put_allowed_ip(void *ctx, int af, const void *addr, uint8_t cidr)
{
	struct ip_list *l = ctx;
	char ip[INET6_ADDRSTRLEN];

	if (l->count++ == METRICS_MAX_ALLOWED_IPS)
		return uapi_buf_append(l->out, ",...", 4);
	if (l->count > METRICS_MAX_ALLOWED_IPS)
		return 0;
	if (!inet_ntop(af, addr, ip, sizeof(ip)))
		return -EINVAL;
	return uapi_buf_printf(l->out, "%s%s/%u", l->count > 1 ? "," : "", ip, cidr);
}

static int put_peer_labels(struct uapi_buf *out, const char *ifname, const struct wg_peer *p)
{
	char key[WGCRYPTO_KEY_B64_LEN + 1];
	int ret = uapi_buf_append(out, "{device=\"", 9);

	wgcrypto_key_to_base64(key, p->hs.remote_static);
	ret |= put_label_value(out, ifname);
	ret |= uapi_buf_printf(out, "\",public_key=\"%s\"", key);
	return ret;
}

/* One family over every listed peer: value(p) after the labels. */
static int peer_family(struct uapi_buf *out, const struct metrics_input *in, const char *name,
		       const char *type, const char *help, uint64_t (*value)(const struct wg_peer *))
{
	unsigned int n = 0;
	int ret = family(out, name, type, help);

	wg_for_each_peer(in->dev, p) {
		if (n++ == METRICS_MAX_PEERS || ret)
			break;
		ret |= uapi_buf_printf(out, "%s", name);
		ret |= put_peer_labels(out, in->ifname, p);
		ret |= uapi_buf_printf(out, "} %" PRIu64 "\n", value(p));
	}
	return ret;
}

static uint64_t rx_bytes(const struct wg_peer *p)
{
	return __atomic_load_n(&p->rx_bytes, __ATOMIC_RELAXED);
}

static uint64_t tx_bytes(const struct wg_peer *p)
{
	return __atomic_load_n(&p->tx_bytes, __ATOMIC_RELAXED);
}

static uint64_t handshake_seconds(const struct wg_peer *p)
{
	return p->last_handshake_real_ns / 1000000000u;
}

static uint64_t transport_switches(const struct wg_peer *p)
{
	return __atomic_load_n(&p->transport_switches, __ATOMIC_RELAXED);
}

static uint64_t over_tcp(const struct wg_peer *p)
{
	return p->endpoint.kind == TRANSPORT_TCP;
}

static int put_info(struct uapi_buf *out, const struct metrics_input *in, const struct wg_peer *p)
{
	struct ip_list ips = { .out = out };
	char ep[INET6_ADDRSTRLEN + 16] = "";
	int ret = uapi_buf_printf(out, "wireguard_peer_info");

	ret |= put_peer_labels(out, in->ifname, p);
	ret |= uapi_buf_append(out, ",allowed_ips=\"", 14);
	if (ret)
		return -ENOMEM;
	ret = allowedips_walk_by_owner_in_order(&in->dev->allowedips, p, put_allowed_ip, &ips);
	if (endpoint_is_set(&p->endpoint.remote))
		endpoint_format(&p->endpoint.remote, ep, sizeof(ep));
	ret |= uapi_buf_printf(out, "\",endpoint=\"%s\"} 1\n", ep);
	return ret ? -ENOMEM : 0;
}

static int put_peers(struct uapi_buf *out, const struct metrics_input *in)
{
	unsigned int n = 0, count = in->dev ? in->dev->peer_count : 0;
	int ret = 0;

	ret |= family(out, "myvpn_peers", "gauge", "peers configured");
	ret |= uapi_buf_printf(out, "myvpn_peers{device=\"%s\"} %u\n", in->ifname, count);
	ret |= family(out, "myvpn_metrics_peers_omitted", "gauge",
		      "peers left out of the per-peer metrics (label cardinality cap)");
	ret |= uapi_buf_printf(out, "myvpn_metrics_peers_omitted{device=\"%s\"} %u\n", in->ifname,
			       count > METRICS_MAX_PEERS ? count - METRICS_MAX_PEERS : 0);
	if (!in->dev || ret)
		return ret ? -ENOMEM : 0;
	ret |= peer_family(out, in, "wireguard_peer_receive_bytes_total", "counter",
			   "bytes received from the peer", rx_bytes);
	ret |= peer_family(out, in, "wireguard_peer_transmit_bytes_total", "counter",
			   "bytes sent to the peer", tx_bytes);
	ret |= peer_family(out, in, "wireguard_peer_last_handshake_seconds", "gauge",
			   "Unix time of the latest handshake; 0 = never", handshake_seconds);
	ret |= peer_family(out, in, "myvpn_peer_tcp", "gauge",
			   "1 while the peer is reached over TCP, 0 over UDP", over_tcp);
	ret |= peer_family(out, in, "myvpn_peer_transport_switches_total", "counter",
			   "times the peer moved between UDP and TCP", transport_switches);
	ret |= family(out, "wireguard_peer_info", "gauge", "the peer's allowed IPs and endpoint");
	wg_for_each_peer(in->dev, p) {
		if (n++ == METRICS_MAX_PEERS || ret)
			break;
		ret |= put_info(out, in, p);
	}
	return ret ? -ENOMEM : 0;
}

static int put_counters(struct uapi_buf *out, const struct metrics_input *in)
{
	const struct stats *s = in->total;
	int ret = 0;

	for (size_t i = 0; i < stats_counter_count; i++) {
		char name[96];

		snprintf(name, sizeof(name), "myvpn_%s_total", stats_counters[i].name);
		ret |= family(out, name, "counter", stats_counters[i].help);
		ret |= uapi_buf_printf(out, "%s{device=\"%s\"} %" PRIu64 "\n", name, in->ifname,
				       stats_counter_value(s, &stats_counters[i]));
	}
	ret |= family(out, "myvpn_dropped_packets_total", "counter",
		      "packets and datagrams dropped, by reason");
	for (int r = 0; r < DROP_REASON_COUNT; r++)
		ret |= uapi_buf_printf(out, "myvpn_dropped_packets_total{device=\"%s\",reason=\"%s\"} %" PRIu64 "\n",
				       in->ifname, stats_drop_reason_name(r), s->drops[r]);
	return ret;
}

/* Handshake messages by outcome: those that passed every check, and the drops that are about
 * handshakes. */
static int put_handshakes(struct uapi_buf *out, const struct metrics_input *in)
{
	static const struct {
		const char *result;
		int drop; /* -1: the accepted counter */
	} results[] = {
		{ "accepted", -1 },
		{ "invalid", DROP_HANDSHAKE_INVALID },
		{ "cookie_sent", DROP_COOKIE_SENT },
		{ "ratelimited", DROP_RATELIMITED },
		{ "queue_full", DROP_HANDSHAKE_QUEUE_FULL },
	};
	int ret = family(out, "myvpn_handshakes_total", "counter", "handshake messages received, by outcome");

	for (size_t i = 0; i < sizeof(results) / sizeof(results[0]); i++) {
		uint64_t v = results[i].drop < 0 ? in->total->handshakes_received
						 : in->total->drops[results[i].drop];

		ret |= uapi_buf_printf(out, "myvpn_handshakes_total{device=\"%s\",result=\"%s\"} %" PRIu64 "\n",
				       in->ifname, results[i].result, v);
	}
	return ret;
}

static int put_workers(struct uapi_buf *out, const struct metrics_input *in)
{
	static const struct {
		const char *name, *help;
		size_t offset;
	} fams[] = {
		{ "myvpn_worker_rx_packets_total", "datagrams accepted by the data-path thread",
		  offsetof(struct stats, rx_packets) },
		{ "myvpn_worker_tx_packets_total", "datagrams sent by the data-path thread",
		  offsetof(struct stats, tx_packets) },
	};
	int ret = 0;

	for (size_t f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
		ret |= family(out, fams[f].name, "counter", fams[f].help);
		for (unsigned int w = 0; w < in->worker_count; w++) {
			const char *base = (const char *)&in->workers[w];

			ret |= uapi_buf_printf(out, "%s{device=\"%s\",worker=\"%u\"} %" PRIu64 "\n",
					       fams[f].name, in->ifname, w,
					       *(const uint64_t *)(base + fams[f].offset));
		}
	}
	return ret;
}

/* The router's mapping of our port: its state as labels, and the seconds it has left. */
static int put_port_mapping(struct uapi_buf *out, const struct metrics_input *in)
{
	const struct portmap_status *pm = in->portmap;
	const struct sockaddr_in *sin;
	char ext[INET_ADDRSTRLEN + 8] = "", ip[INET_ADDRSTRLEN];
	int ret;

	if (!pm || pm->state == PORTMAP_NONE)
		return 0;
	sin = (const struct sockaddr_in *)&pm->external;
	if (pm->state == PORTMAP_MAPPED && inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip)))
		snprintf(ext, sizeof(ext), "%s:%u", ip, ntohs(sin->sin_port));
	ret = family(out, "myvpn_port_mapping_info", "gauge",
		     "the NAT router's mapping of the listen port (NAT-PMP or UPnP IGD)");
	ret |= uapi_buf_printf(out, "myvpn_port_mapping_info{device=\"%s\",state=\"%s\",protocol=\"%s\",external=\"%s\"} 1\n",
			       in->ifname, portmap_state_name(pm->state),
			       portmap_protocol_name(pm->protocol), ext);
	if (pm->state != PORTMAP_MAPPED || !pm->expires_ns)
		return ret;
	ret |= family(out, "myvpn_port_mapping_lifetime_seconds", "gauge",
		      "seconds until the mapping ends unless renewed (it is renewed at half)");
	ret |= uapi_buf_printf(out, "myvpn_port_mapping_lifetime_seconds{device=\"%s\"} %" PRIu64 "\n",
			       in->ifname, pm->expires_ns > in->now_ns ?
			       (pm->expires_ns - in->now_ns) / 1000000000u : 0);
	return ret;
}

/* A plaintext interface's one remote, as myvpn_peer_tcp is for each encrypted peer; role is
 * what the remote is to us (server, client, peer). */
static int put_plain(struct uapi_buf *out, const struct metrics_input *in)
{
	static const char *const roles[] = {
		[UAPI_PLAIN_SERVER] = "server", [UAPI_PLAIN_CLIENT] = "client", [UAPI_PLAIN_PEER] = "peer",
	};
	const struct uapi_plain_remote *r = in->plain;
	int ret;

	if (!r || r->role == UAPI_PLAIN_NONE)
		return 0;
	ret = family(out, "myvpn_plain_tcp", "gauge",
		     "1 while the plaintext tunnel's remote is reached over TCP, 0 over UDP or unknown");
	ret |= uapi_buf_printf(out, "myvpn_plain_tcp{device=\"%s\",role=\"%s\"} %d\n", in->ifname,
			       roles[r->role],
			       endpoint_is_set(&r->endpoint) && r->kind == TRANSPORT_TCP);
	return ret;
}

int metrics_write(struct uapi_buf *out, const struct metrics_input *in)
{
	if (put_peers(out, in) || put_counters(out, in) || put_handshakes(out, in) ||
	    put_workers(out, in) || put_port_mapping(out, in) || put_plain(out, in))
		return -ENOMEM;
	return 0;
}
