/* Prometheus text exposition (format 0.0.4) of a device: the names the WireGuard exporters use
 * for peers, so existing dashboards work, and myvpn's own counters. Pure: no I/O, no clock. */
#ifndef MYVPN_METRICS_H
#define MYVPN_METRICS_H

#include "stats.h"
#include "uapi.h"
#include "wg.h"

/*
 * Families written, each with # HELP and # TYPE:
 *
 *   wireguard_peer_receive_bytes_total{device,public_key}     counter
 *   wireguard_peer_transmit_bytes_total{device,public_key}    counter
 *   wireguard_peer_last_handshake_seconds{device,public_key}  gauge (Unix time; 0 = never)
 *   wireguard_peer_info{device,public_key,allowed_ips,endpoint} gauge, always 1
 *   myvpn_peers{device}                                       gauge
 *   myvpn_metrics_peers_omitted{device}                       gauge: peers past the cap
 *   myvpn_<counter>_total{device}                             one per stats_counters[] entry
 *   myvpn_dropped_packets_total{device,reason}                one per drop reason
 *   myvpn_handshakes_total{device,result}                     accepted, invalid, cookie_sent,
 *                                                             ratelimited
 *   myvpn_worker_{rx,tx}_packets_total{device,worker}         per data-path thread
 *   myvpn_port_mapping_info{device,state,protocol,external}   gauge, always 1; with port
 *                                                             mapping on only
 *   myvpn_port_mapping_lifetime_seconds{device}               gauge: left; while mapped with
 *                                                             a lifetime only
 *   myvpn_plain_tcp{device,role}                              gauge: 1 while a plaintext
 *                                                             interface's remote is reached
 *                                                             over TCP; plaintext only
 *
 * Label cardinality is bounded: at most METRICS_MAX_PEERS peers are listed (in the device's
 * order), and a peer's allowed_ips label lists at most METRICS_MAX_ALLOWED_IPS prefixes
 * followed by ",...".
 */
enum {
	METRICS_MAX_PEERS = 1000,
	METRICS_MAX_ALLOWED_IPS = 16,
};

struct metrics_input {
	const char *ifname;
	const struct wg_device *dev; /* its peers; NULL or no peers for a plaintext tunnel */
	const struct stats *total;   /* every thread's counters, summed */
	const struct stats *workers; /* one per data-path thread, already read atomically */
	unsigned int worker_count;
	const struct portmap_status *portmap; /* NULL or state NONE: port mapping off */
	uint64_t now_ns;                      /* monotonic, for the mapping's lifetime left */
	const struct uapi_plain_remote *plain; /* NULL or role NONE: an encrypted interface */
};

/* Appends the whole exposition to out: 0 or -ENOMEM. Call on the device's control thread
 * (the only writer of its peers); byte counters are read atomically. */
int metrics_write(struct uapi_buf *out, const struct metrics_input *in);

#endif
