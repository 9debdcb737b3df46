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

/* The checks that can name a line: a low-order public key, an endpoint that does not resolve. */
static int check_peer(const struct config *cfg, const struct config_peer *cp, int udp_family,
		      union endpoint *ep, const char *file, char *err, size_t errlen)
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
	ret = addr_resolve(cp->endpoint_host, cp->endpoint_port, ep, why, sizeof(why));
	if (!ret && endpoint_to_family(ep, udp_family))
		ret = -EAFNOSUPPORT, snprintf(why, sizeof(why), "IPv6 is unavailable here");
	if (ret) {
		where(at, sizeof(at), file, cp->endpoint_line);
		snprintf(err, errlen, "%sendpoint: %s", at, why);
	}
	return ret;
}

static int put_key(struct uapi_buf *req, const char *name, const uint8_t key[32])
{
	char hex[WGCRYPTO_KEY_HEX_LEN + 1];
	int ret;

	wgcrypto_key_to_hex(hex, key);
	ret = uapi_buf_printf(req, "%s=%s\n", name, hex);
	wgcrypto_wipe(hex, sizeof(hex));
	return ret;
}

/* One [Peer] as the lines `wg setconf` would send for it. */
static int put_peer(struct uapi_buf *req, const struct config_peer *cp, const union endpoint *ep)
{
	char text[INET6_ADDRSTRLEN + 16];
	int ret = put_key(req, "public_key", cp->public_key);

	if (cp->has_psk)
		ret |= put_key(req, "preshared_key", cp->psk);
	if (cp->has_endpoint)
		ret |= uapi_buf_printf(req, "endpoint=%s\n", endpoint_format(ep, text, sizeof(text)));
	if (cp->persistent_keepalive)
		ret |= uapi_buf_printf(req, "persistent_keepalive_interval=%u\n",
				       cp->persistent_keepalive);
	for (size_t i = 0; i < cp->allowed_ip_count; i++) {
		const struct ip_prefix *p = &cp->allowed_ips[i];

		inet_ntop(p->family, &p->addr, text, sizeof(text));
		ret |= uapi_buf_printf(req, "allowed_ip=%s/%u\n", text, p->cidr);
	}
	return ret ? -ENOMEM : 0;
}

static int build_request(const struct config *cfg, int udp_family, const char *file,
			 struct uapi_buf *req, char *err, size_t errlen)
{
	int ret = put_key(req, "private_key", cfg->private_key) ? -ENOMEM : 0;

	if (!ret && uapi_buf_printf(req, "replace_peers=true\n"))
		ret = -ENOMEM;
	for (size_t i = 0; i < cfg->peer_count && !ret; i++) {
		union endpoint ep = { 0 };

		ret = check_peer(cfg, &cfg->peers[i], udp_family, &ep, file, err, errlen);
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
