/* Turning a parsed configuration (a wg-quick file, or the seed-style encrypted flags) into a
 * running WireGuard device: keys, peers, endpoints, allowed IPs, keepalives. */
#include "wg_config.h"
#include "keys.h"

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

static int add_peer(struct wg_device *dev, const struct config_peer *cp, int udp_family,
		    const char *file, char *err, size_t errlen)
{
	char at[300], why[256];
	struct wg_peer *p;
	int ret;

	where(at, sizeof(at), file, cp->line);
	ret = wg_peer_add(dev, cp->public_key, cp->has_psk ? cp->psk : NULL, &p);
	if (ret) {
		snprintf(err, errlen, "%scannot add peer: %s", at,
			 ret == -EINVAL ? "its public key is unusable (low order point)" : strerror(-ret));
		return ret;
	}
	for (size_t i = 0; i < cp->allowed_ip_count; i++) {
		ret = wg_peer_allow(p, &cp->allowed_ips[i]);
		if (ret) {
			snprintf(err, errlen, "%scannot add allowed IP: %s", at, strerror(-ret));
			return ret;
		}
	}
	if (cp->has_endpoint) {
		ret = addr_resolve(cp->endpoint_host, cp->endpoint_port, &p->endpoint, why, sizeof(why));
		if (!ret && endpoint_to_family(&p->endpoint, udp_family))
			ret = -EAFNOSUPPORT, snprintf(why, sizeof(why), "IPv6 is unavailable here");
		if (ret) {
			where(at, sizeof(at), file, cp->endpoint_line);
			snprintf(err, errlen, "%sendpoint: %s", at, why);
			return ret;
		}
	}
	timers_set_persistent_keepalive(&p->timers, 0, cp->persistent_keepalive);
	return 0;
}

int wg_config_apply(struct wg_device *dev, const struct config *cfg, int udp_family,
		    const char *file, char *err, size_t errlen)
{
	int ret;

	if (!cfg->has_private_key) {
		snprintf(err, errlen, "%s: [Interface] has no PrivateKey", file ? file : "config");
		return -EINVAL;
	}
	ret = wg_device_init(dev, cfg->private_key);
	if (ret) {
		snprintf(err, errlen, "cannot use the private key: %s", strerror(-ret));
		wg_device_free(dev);
		return ret;
	}
	for (size_t i = 0; i < cfg->peer_count; i++) {
		ret = add_peer(dev, &cfg->peers[i], udp_family, file, err, errlen);
		if (ret) {
			wg_device_free(dev);
			return ret;
		}
	}
	return 0;
}
