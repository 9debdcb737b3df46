/* Turning a parsed configuration (a wg-quick file, or the seed-style encrypted flags) into a
 * running WireGuard device: keys, peers, endpoints, allowed IPs, keepalives. */
#include "wg_config.h"
#include "keys.h"
#include "uapi.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int wg_config_from_options(struct config *cfg, const struct options *opts, char *err,
			   size_t errlen)
{
	struct config_peer *peer;
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	ret = keys_read_file(opts->private_key_file, cfg->private_key, err, errlen);
	if (ret)
		return ret;
	cfg->has_private_key = true;
	peer = calloc(1, sizeof(*peer));
	cfg->peers = peer;
	if (peer)
		peer->allowed_ips = calloc(2, sizeof(*peer->allowed_ips));
	if (!peer || !peer->allowed_ips) {
		config_free(cfg);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	cfg->peer_count = 1;
	if (!wgcrypto_key_from_base64(peer->public_key, opts->peer_key)) {
		config_free(cfg);
		snprintf(err, errlen, "--peer-key '%s' is not a base64 public key (44 characters)",
			 opts->peer_key);
		return -EINVAL;
	}
	addr_parse_prefix("0.0.0.0/0", &peer->allowed_ips[0]);
	addr_parse_prefix("::/0", &peer->allowed_ips[1]);
	peer->allowed_ip_count = 2;
	peer->persistent_keepalive = (uint16_t)opts->keepalive;
	if (opts->peer_host) {
		peer->endpoint_host = strdup(opts->peer_host);
		peer->endpoint_port = opts->peer_port;
		peer->has_endpoint = true;
		if (!peer->endpoint_host) {
			config_free(cfg);
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
	}
	return 0;
}

static void where(char *buf, size_t len, const char *file, int line)
{
	if (file && line)
		snprintf(buf, len, "%s:%d: ", file, line);
	else
		buf[0] = '\0';
}

/* The checks that can name a line: a low-order public key, an endpoint that does not resolve.
 * At start-up (patient), a lookup that may pass is retried as wg(8) retries it; a reload runs
 * on the control thread, which must not wait. */
static int check_peer(const struct config *cfg, const struct config_peer *cp, int udp_family,
		      bool patient, union endpoint *ep, const char *file, char *err, size_t errlen)
{
	char at[300], why[256];
	uint8_t shared[NOISE_PUBLIC_KEY_LEN];
	int ret;

	where(at, sizeof(at), file, cp->line);
	if (!wgcrypto_x25519(shared, cfg->private_key, cp->public_key)) {
		snprintf(err, errlen, "%scannot add peer: its public key is unusable (low order point)", at);
		return -EINVAL;
	}
	wgcrypto_wipe(shared, sizeof(shared));
	if (!cp->has_endpoint)
		return 0;
	ret = (patient ? addr_resolve_patiently : addr_resolve)(cp->endpoint_host, cp->endpoint_port,
							       ep, why, sizeof(why));
	if (!ret && endpoint_to_family(ep, udp_family))
		ret = -EAFNOSUPPORT, snprintf(why, sizeof(why), "IPv6 is unavailable here");
	if (ret) {
		where(at, sizeof(at), file, cp->endpoint_line);
		snprintf(err, errlen, "%sendpoint: %s", at, why);
	}
	return ret;
}

/* A [Peer]'s lines after its public_key, as `wg setconf` sends them. */
static int put_peer_settings(struct uapi_buf *req, const struct config_peer *cp,
			     const union endpoint *ep)
{
	char text[INET6_ADDRSTRLEN + 16];
	int ret = 0;

	if (cp->has_psk)
		ret |= uapi_buf_put_key(req, "preshared_key", cp->psk);
	if (cp->has_endpoint)
		ret |= uapi_buf_printf(req, "endpoint=%s\n", endpoint_format(ep, text, sizeof(text)));
	/* a name is looked up again when the peer stops answering (wg_resolve.c) */
	if (cp->has_endpoint && addr_is_host_name(cp->endpoint_host))
		ret |= uapi_buf_printf(req, "endpoint_name=%s:%u\n", cp->endpoint_host,
				       cp->endpoint_port);
	if (cp->persistent_keepalive)
		ret |= uapi_buf_printf(req, "persistent_keepalive_interval=%u\n",
				       cp->persistent_keepalive);
	if (cp->tcp_port) /* myvpn's own key: uapi_set knows it, wg(8) never sends it */
		ret |= uapi_buf_printf(req, "tcp_port=%u\n", cp->tcp_port);
	for (size_t i = 0; i < cp->allowed_ip_count; i++) {
		const struct ip_prefix *p = &cp->allowed_ips[i];

		inet_ntop(p->family, &p->addr, text, sizeof(text));
		ret |= uapi_buf_printf(req, "allowed_ip=%s/%u\n", text, p->cidr);
	}
	return ret ? -ENOMEM : 0;
}

/* One [Peer] as the lines `wg setconf` would send for it. */
static int put_peer(struct uapi_buf *req, const struct config_peer *cp, const union endpoint *ep)
{
	return uapi_buf_put_key(req, "public_key", cp->public_key) ? -ENOMEM : put_peer_settings(req, cp, ep);
}

static int compare_keys(const void *a, const void *b)
{
	return memcmp(a, b, NOISE_PUBLIC_KEY_LEN);
}

/* The file's public keys, sorted for bsearch: a reload of 100,000 peers stays O(n log n). */
static uint8_t (*sorted_keys(const struct config *cfg))[NOISE_PUBLIC_KEY_LEN]
{
	uint8_t (*keys)[NOISE_PUBLIC_KEY_LEN] = calloc(cfg->peer_count + 1, sizeof(*keys));

	if (!keys)
		return NULL;
	for (size_t i = 0; i < cfg->peer_count; i++)
		memcpy(keys[i], cfg->peers[i].public_key, sizeof(keys[i]));
	qsort(keys, cfg->peer_count, sizeof(*keys), compare_keys);
	return keys;
}

/* Peers of the device that the file no longer has go, keys wiped by wg_peer_remove. */
static int put_removals(const struct wg_device *dev, const struct config *cfg, struct uapi_buf *req)
{
	uint8_t (*keys)[NOISE_PUBLIC_KEY_LEN] = sorted_keys(cfg);
	int ret = keys ? 0 : -ENOMEM;

	wg_for_each_peer(dev, p) {
		if (ret)
			break;
		if (bsearch(p->hs.remote_static, keys, cfg->peer_count, sizeof(*keys), compare_keys))
			continue;
		ret = uapi_buf_put_key(req, "public_key", p->hs.remote_static);
		ret |= uapi_buf_printf(req, "remove=true\n");
	}
	free(keys);
	return ret ? -ENOMEM : 0;
}

/* A peer as a reload sets it: every setting stated, so that one the file dropped (a
 * preshared key, a keepalive, an allowed IP) goes too; a peer that exists keeps its sessions. */
static int put_synced_peer(struct uapi_buf *req, const struct config_peer *cp,
			   const union endpoint *ep)
{
	static const uint8_t zero[32];
	struct config_peer bare = *cp;
	int ret = uapi_buf_put_key(req, "public_key", cp->public_key);

	ret |= uapi_buf_put_key(req, "preshared_key", cp->has_psk ? cp->psk : zero);
	ret |= uapi_buf_printf(req, "persistent_keepalive_interval=%u\ntcp_port=%u\n"
			       "replace_allowed_ips=true\n", cp->persistent_keepalive, cp->tcp_port);
	if (ret)
		return -ENOMEM;
	/* the rest as for a new device, without the public key line again */
	bare.has_psk = false;
	bare.persistent_keepalive = 0;
	bare.tcp_port = 0;
	return put_peer_settings(req, &bare, ep);
}

int wg_config_sync_request(const struct wg_device *dev, const struct config *cfg,
			   int udp_family, uint16_t listen_port, const char *file,
			   struct uapi_buf *req, char *err, size_t errlen)
{
	int ret = 0;

	if (!cfg->has_private_key) {
		snprintf(err, errlen, "%s: [Interface] has no PrivateKey", file ? file : "config");
		return -EINVAL;
	}
	/* the same private key changes nothing (uapi.c): sessions survive */
	ret |= uapi_buf_put_key(req, "private_key", cfg->private_key);
	if (cfg->has_listen_port && cfg->listen_port != listen_port)
		ret |= uapi_buf_printf(req, "listen_port=%u\n", cfg->listen_port);
	ret |= uapi_buf_printf(req, "fwmark=%u\n", cfg->fwmark);
	ret = ret ? -ENOMEM : put_removals(dev, cfg, req);
	for (size_t i = 0; i < cfg->peer_count && !ret; i++) {
		union endpoint ep = { 0 };

		ret = check_peer(cfg, &cfg->peers[i], udp_family, false, &ep, file, err, errlen);
		if (!ret)
			ret = put_synced_peer(req, &cfg->peers[i], &ep);
	}
	if (ret == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	return ret;
}

static int build_request(const struct config *cfg, int udp_family, const char *file,
			 struct uapi_buf *req, char *err, size_t errlen)
{
	int ret = uapi_buf_put_key(req, "private_key", cfg->private_key) ? -ENOMEM : 0;

	if (!ret && uapi_buf_printf(req, "replace_peers=true\n"))
		ret = -ENOMEM;
	for (size_t i = 0; i < cfg->peer_count && !ret; i++) {
		union endpoint ep = { 0 };

		ret = check_peer(cfg, &cfg->peers[i], udp_family, true, &ep, file, err, errlen);
		if (!ret)
			ret = put_peer(req, &cfg->peers[i], &ep);
	}
	if (ret == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	return ret;
}

/* A file and the one-liners become the request `wg setconf` would send, applied by the UAPI
 * code: one way to configure a device, whatever the front end. */
int wg_config_apply(struct wg_device *dev, const struct config *cfg, int udp_family,
		    const char *file, char *err, size_t errlen)
{
	const struct uapi_device_info info = { .udp_family = udp_family };
	struct uapi_buf req = { 0 };
	int ret;

	if (!cfg->has_private_key) {
		snprintf(err, errlen, "%s: [Interface] has no PrivateKey", file ? file : "config");
		return -EINVAL;
	}
	ret = wg_device_init(dev, NULL);
	if (ret) {
		snprintf(err, errlen, "cannot set up the device: %s", strerror(-ret));
		return ret;
	}
	ret = build_request(cfg, udp_family, file, &req, err, errlen);
	if (!ret) {
		ret = uapi_set(dev, &info, NULL, req.data, req.len, 0, NULL);
		if (ret)
			snprintf(err, errlen, "%s: cannot apply the configuration: %s",
				 file ? file : "config", strerror(-ret));
	}
	uapi_buf_free(&req);
	if (ret)
		wg_device_free(dev);
	return ret;
}
