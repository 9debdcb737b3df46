/* Turning a parsed configuration (a wg-quick file, or the seed-style encrypted flags) into a
 * running WireGuard device: keys, peers, endpoints, allowed IPs, keepalives. */
#ifndef MYVPN_WG_CONFIG_H
#define MYVPN_WG_CONFIG_H

#include "config.h"
#include "options.h"
#include "wg.h"

/* Builds the one-peer configuration of `myvpn -a HOST --private-key F --peer-key K`: the peer
 * is reached at HOST:PORT (none for a server, which learns it) and owns every address. */
int wg_config_from_options(struct config *cfg, const struct options *opts, char *err,
			   size_t errlen);
/* Creates the device's peers. Endpoint names are resolved here. Nothing is half applied:
 * on error the device is freed and err holds one line ("FILE:LINE: ..." when from a file). */
int wg_config_apply(struct wg_device *dev, const struct config *cfg, int udp_family,
		    const char *file, char *err, size_t errlen);

/*
 * A reload (SIGHUP), as `wg syncconf`: appends to req the set request that makes the device
 * match cfg without replace_peers. Peers the file lacks are removed; the others are created
 * or updated with replace_allowed_ips, so a peer whose key stays keeps its sessions, endpoint
 * roaming aside, and its counters. listen_port is the port bound now: a file without
 * ListenPort, or with the same one, keeps the socket. Endpoints are resolved here. 0 or
 * -errno with one line in err ("FILE:LINE: ..." when it names a line).
 */
struct uapi_buf;
int wg_config_sync_request(const struct wg_device *dev, const struct config *cfg,
			   int udp_family, uint16_t listen_port, const char *file,
			   struct uapi_buf *req, char *err, size_t errlen);

#endif
