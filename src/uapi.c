/* The cross-platform userspace API (wireguard.com/xplatform) as pure text processing. */
#include "uapi.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/*
 * A set request goes through three stages, so that nothing changes unless all of it can:
 *   parse  text -> struct request (syntax: keys, values, device/peer sections)
 *   check  request against the device (self keys, unusable keys, peer count), no changes
 *   apply  hooks (fwmark, listen port), replace_peers, private key, then peers in order
 * The semantics follow Linux's wg_set_device() and wireguard-go's IpcSetOperation().
 */

/* ---- growable buffer ---- */

/* Grows by copying and wiping instead of realloc, which could leave key bytes in freed memory. */
static int buf_reserve(struct uapi_buf *b, size_t extra)
{
	size_t cap = b->cap ? b->cap : 512;
	char *data;

	if (b->len + extra < b->len)
		return -ENOMEM;
	if (b->len + extra <= b->cap)
		return 0;
	while (cap < b->len + extra)
		cap *= 2;
	data = malloc(cap);
	if (!data)
		return -ENOMEM;
	if (b->data) {
		memcpy(data, b->data, b->len);
		wgcrypto_wipe(b->data, b->cap);
		free(b->data);
	}
	b->data = data;
	b->cap = cap;
	return 0;
}

int uapi_buf_append(struct uapi_buf *b, const void *data, size_t len)
{
	int ret = buf_reserve(b, len);

	if (ret)
		return ret;
	memcpy(b->data + b->len, data, len);
	b->len += len;
	return 0;
}

int uapi_buf_printf(struct uapi_buf *b, const char *fmt, ...)
{
	char line[UAPI_MAX_LINE];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		return -EINVAL; /* every line we print is short; this is a bug */
	n = uapi_buf_append(b, line, (size_t)n);
	wgcrypto_wipe(line, sizeof(line));
	return n;
}

void uapi_buf_consume(struct uapi_buf *b, size_t n)
{
	if (n >= b->len) {
		if (b->data)
			wgcrypto_wipe(b->data, b->len);
		b->len = 0;
		return;
	}
	memmove(b->data, b->data + n, b->len - n);
	wgcrypto_wipe(b->data + b->len - n, n);
	b->len -= n;
}

void uapi_buf_free(struct uapi_buf *b)
{
	if (b->data) {
		wgcrypto_wipe(b->data, b->cap);
		free(b->data);
	}
	memset(b, 0, sizeof(*b));
}

/* ---- get ---- */

int uapi_buf_put_key(struct uapi_buf *out, const char *name, const uint8_t key[NOISE_PUBLIC_KEY_LEN])
{
	char hex[WGCRYPTO_KEY_HEX_LEN + 1];
	int ret;

	wgcrypto_key_to_hex(hex, key);
	ret = uapi_buf_printf(out, "%s=%s\n", name, hex);
	wgcrypto_wipe(hex, sizeof(hex));
	return ret;
}

static int put_allowed_ip(void *ctx, int family, const void *addr, uint8_t cidr)
{
	char ip[INET6_ADDRSTRLEN];

	if (!inet_ntop(family, addr, ip, sizeof(ip)))
		return -EINVAL;
	return uapi_buf_printf(ctx, "allowed_ip=%s/%u\n", ip, cidr);
}

static int put_peer(struct uapi_buf *out, const struct wg_peer *p)
{
	char ep[INET6_ADDRSTRLEN + 16];
	uint64_t hs = p->last_handshake_real_ns;
	int ret = 0;

	ret |= uapi_buf_put_key(out, "public_key", p->hs.remote_static);
	ret |= uapi_buf_put_key(out, "preshared_key", p->hs.preshared_key);
	ret |= uapi_buf_printf(out, "protocol_version=1\n");
	if (endpoint_is_set(&p->endpoint.remote))
		ret |= uapi_buf_printf(out, "endpoint=%s\ntransport=%s\n",
				       endpoint_format(&p->endpoint.remote, ep, sizeof(ep)),
				       p->endpoint.kind == TRANSPORT_TCP ? "tcp" : "udp");
	ret |= uapi_buf_printf(out, "transport_switches=%llu\n", (unsigned long long)
			       __atomic_load_n(&p->transport_switches, __ATOMIC_RELAXED));
	if (p->tcp_port)
		ret |= uapi_buf_printf(out, "tcp_port=%u\n", p->tcp_port);
	if (p->endpoint_name.name) /* myvpn's own */
		ret |= uapi_buf_printf(out, "endpoint_name=%s:%u\n", p->endpoint_name.name,
				       p->endpoint_name.port);
	ret |= uapi_buf_printf(out, "last_handshake_time_sec=%llu\nlast_handshake_time_nsec=%llu\n",
			       (unsigned long long)(hs / 1000000000u),
			       (unsigned long long)(hs % 1000000000u));
	ret |= uapi_buf_printf(out, "tx_bytes=%llu\nrx_bytes=%llu\n",
			       (unsigned long long)__atomic_load_n(&p->tx_bytes, __ATOMIC_RELAXED),
			       (unsigned long long)__atomic_load_n(&p->rx_bytes, __ATOMIC_RELAXED));
	ret |= uapi_buf_printf(out, "persistent_keepalive_interval=%u\n",
			       p->timers.persistent_keepalive_interval);
	/* myvpn's own (wg skips keys it does not know): the probed path's inner MTU */
	if (__atomic_load_n(&p->pmtu.mtu, __ATOMIC_RELAXED))
		ret |= uapi_buf_printf(out, "path_mtu=%zu\n", __atomic_load_n(&p->pmtu.mtu, __ATOMIC_RELAXED));
	if (ret)
		return -ENOMEM;
	return allowedips_walk_by_owner_in_order(&p->dev->allowedips, p, put_allowed_ip, out);
}

int uapi_get(const struct wg_device *dev, const struct uapi_device_info *info,
	     struct uapi_buf *out)
{
	size_t start = out->len;
	int ret = 0;

	/* no private key: wg would derive a public key from zeros, so say nothing */
	if (dev->identity.has_identity)
		ret |= uapi_buf_put_key(out, "private_key", dev->identity.private_key);
	ret |= uapi_buf_printf(out, "listen_port=%u\n", info->listen_port);
	if (info->fwmark)
		ret |= uapi_buf_printf(out, "fwmark=%u\n", info->fwmark);
	for (const struct wg_peer *p = dev->first_peer; p && !ret; p = p->list_next)
		ret = put_peer(out, p);
	if (!ret)
		ret = uapi_buf_printf(out, "errno=0\n\n");
	if (ret) {
		if (out->data)
			wgcrypto_wipe(out->data + start, out->len - start);
		out->len = start;
		return -ENOMEM;
	}
	return 0;
}

/* ---- stats (myvpn's extension) ---- */

int uapi_stats(const struct stats *stats, struct uapi_buf *out)
{
	size_t start = out->len;
	int ret = 0;

	for (size_t i = 0; i < stats_counter_count; i++)
		ret |= uapi_buf_printf(out, "%s=%" PRIu64 "\n", stats_counters[i].name,
				       stats_counter_value(stats, &stats_counters[i]));
	for (int r = 0; r < DROP_REASON_COUNT; r++)
		ret |= uapi_buf_printf(out, "drop_%s=%" PRIu64 "\n", stats_drop_reason_name(r),
				       stats->drops[r]);
	ret |= uapi_buf_printf(out, "errno=0\n\n");
	if (ret) {
		out->len = start;
		return -ENOMEM;
	}
	return 0;
}

/* ---- paths (myvpn's extension) ---- */

static const char *path_name(const struct wg_peer *p)
{
	if (!endpoint_is_set(&p->endpoint.remote))
		return "none";
	if (p->endpoint.kind == TRANSPORT_RELAY)
		return "relay";
	if (p->endpoint.kind == TRANSPORT_TCP)
		return "tcp";
	return p->rdv.mapped.sa.sa_family && endpoint_equal(&p->rdv.mapped, &p->endpoint.remote)
		       ? "mapped" : "direct";
}

/* The device's part: its role and, on a client, what R's SEEN said (rendezvous.h). */
static int rdv_status(const struct wg_device *dev, struct uapi_buf *out)
{
	static const char *const nat[] = { [RDV_NAT_UNKNOWN] = "unknown",
					   [RDV_NAT_BEHIND] = "behind",
					   [RDV_NAT_NONE] = "none" };
	char seen[INET6_ADDRSTRLEN + 8];
	int ret;

	if (dev->rdv.mode == RDV_SERVE)
		return uapi_buf_printf(out, "rendezvous=serve\n");
	ret = uapi_buf_printf(out, "rendezvous=client\nnat=%s\nnat_keepalive_interval=%u\n",
			      nat[dev->rdv.nat],
			      dev->rdv.nat == RDV_NAT_BEHIND ? dev->rdv.nat_keepalive_s : 0);
	if (dev->rdv.seen.sa.sa_family)
		ret |= uapi_buf_printf(out, "seen=%s\n",
				       endpoint_format(&dev->rdv.seen, seen, sizeof(seen)));
	return ret;
}

int uapi_paths(const struct wg_device *dev, struct uapi_buf *out)
{
	size_t start = out->len;
	int ret = rdv_status(dev, out);

	for (const struct wg_peer *p = dev->first_peer; p && !ret; p = p->list_next) {
		ret |= uapi_buf_put_key(out, "public_key", p->hs.remote_static);
		ret |= uapi_buf_printf(out, "path=%s\nrelay_tx_bytes=%" PRIu64 "\nrelay_rx_bytes=%" PRIu64
				       "\nrelayed_bytes=%" PRIu64 "\n", path_name(p),
				       __atomic_load_n(&p->rdv.relay_tx_bytes, __ATOMIC_RELAXED),
				       __atomic_load_n(&p->rdv.relay_rx_bytes, __ATOMIC_RELAXED),
				       __atomic_load_n(&p->rdv.relayed_bytes, __ATOMIC_RELAXED));
	}
	ret |= uapi_buf_printf(out, "errno=0\n\n");
	if (ret) {
		out->len = start;
		return -ENOMEM;
	}
	return 0;
}

/* ---- port mapping (myvpn's extension, at the head of the stats=1 reply) ---- */

/* The libraries' error texts, made safe for one line of the protocol. */
static void put_text(char *dst, size_t len, const char *src)
{
	size_t i = 0;

	for (; src[i] && i + 1 < len; i++)
		dst[i] = (unsigned char)src[i] < 0x20 || src[i] == 0x7f ? ' ' : src[i];
	dst[i] = '\0';
}

int uapi_portmap(const struct portmap_status *pm, uint64_t now_ns, struct uapi_buf *out)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)&pm->external;
	char ip[INET_ADDRSTRLEN] = "", text[sizeof(pm->error)];
	size_t start = out->len;
	int ret = 0;

	if (pm->state == PORTMAP_NONE)
		return 0;
	ret |= uapi_buf_printf(out, "portmap_state=%s\n", portmap_state_name(pm->state));
	if (pm->state == PORTMAP_MAPPED) {
		inet_ntop(AF_INET, &sin->sin_addr, ip, sizeof(ip));
		ret |= uapi_buf_printf(out, "portmap_protocol=%s\nportmap_external=%s:%u\n",
				       portmap_protocol_name(pm->protocol), ip, ntohs(sin->sin_port));
		if (pm->external_tcp_port)
			ret |= uapi_buf_printf(out, "portmap_external_tcp_port=%u\n",
					       pm->external_tcp_port);
		if (pm->expires_ns)
			ret |= uapi_buf_printf(out, "portmap_lifetime=%" PRIu64 "\n",
					       pm->expires_ns > now_ns ?
					       (pm->expires_ns - now_ns) / 1000000000u : 0);
	}
	if (pm->state == PORTMAP_FAILED && pm->error[0]) {
		put_text(text, sizeof(text), pm->error);
		ret |= uapi_buf_printf(out, "portmap_error=%s\n", text);
	}
	if (ret) {
		out->len = start;
		return -ENOMEM;
	}
	return 0;
}

/* ---- a plaintext interface's remote (myvpn's extension, in the stats=1 reply) ---- */

int uapi_plain(const struct uapi_plain_remote *r, struct uapi_buf *out)
{
	static const char *const roles[] = {
		[UAPI_PLAIN_SERVER] = "server", [UAPI_PLAIN_CLIENT] = "client", [UAPI_PLAIN_PEER] = "peer",
	};
	char ep[INET6_ADDRSTRLEN + 16];
	size_t start = out->len;
	int ret = 0;

	if (r->role == UAPI_PLAIN_NONE)
		return 0;
	ret |= uapi_buf_printf(out, "plain_role=%s\n", roles[r->role]);
	if (endpoint_is_set(&r->endpoint))
		ret |= uapi_buf_printf(out, "plain_endpoint=%s\nplain_transport=%s\n",
				       endpoint_format(&r->endpoint, ep, sizeof(ep)),
				       r->kind == TRANSPORT_TCP ? "tcp" : "udp");
	if (r->name)
		ret |= uapi_buf_printf(out, "plain_endpoint_name=%s:%u\n", r->name, r->name_port);
	if (ret) {
		out->len = start;
		return -ENOMEM;
	}
	return 0;
}

/* ---- set: parse ---- */

enum device_flags {
	DEV_PRIVATE_KEY = 1u << 0,
	DEV_LISTEN_PORT = 1u << 1,
	DEV_FWMARK = 1u << 2,
	DEV_REPLACE_PEERS = 1u << 3,
};

enum peer_flags {
	PEER_REMOVE = 1u << 0,
	PEER_UPDATE_ONLY = 1u << 1,
	PEER_PSK = 1u << 2,
	PEER_ENDPOINT = 1u << 3,
	PEER_KEEPALIVE = 1u << 4,
	PEER_REPLACE_ALLOWED_IPS = 1u << 5,
	/* set by check */
	PEER_IS_SELF = 1u << 6, /* our own public key: ignored, as Linux does */
	PEER_CREATES = 1u << 7, /* the peer does not exist when this section is applied */
	PEER_TCP_PORT = 1u << 8, /* myvpn's own tcp_port */
	PEER_ENDPOINT_NAME = 1u << 9, /* myvpn's own endpoint_name */
};

struct peer_op {
	uint8_t public_key[NOISE_PUBLIC_KEY_LEN];
	uint8_t psk[NOISE_SYMMETRIC_KEY_LEN];
	union endpoint endpoint;
	uint16_t keepalive;
	uint16_t tcp_port;
	char *endpoint_name; /* owned until applied */
	uint16_t endpoint_name_port;
	unsigned int flags;
	size_t first_ip, ip_count; /* into request.ips */
	struct wg_peer *fresh; /* PEER_CREATES: made while checking, linked while applying */
};

struct request {
	unsigned int flags;
	uint8_t private_key[NOISE_PUBLIC_KEY_LEN];
	uint16_t listen_port;
	uint32_t fwmark;
	struct peer_op *peers;
	size_t peer_count, peer_cap;
	struct ip_prefix *ips;
	size_t ip_count, ip_cap;
	/* set by check */
	struct noise_static_identity identity; /* the new one, when private_key changes it */
	bool key_changes;
	struct wg_peer *self_peer; /* an existing peer whose key becomes our own */
};

static void request_free(struct request *r)
{
	for (size_t i = 0; i < r->peer_count; i++) {
		wg_peer_discard(r->peers[i].fresh);
		free(r->peers[i].endpoint_name);
	}
	if (r->peers)
		wgcrypto_wipe(r->peers, r->peer_cap * sizeof(r->peers[0]));
	free(r->peers);
	free(r->ips);
	wgcrypto_wipe(r, sizeof(*r));
}

static int grow(void **array, size_t *cap, size_t count, size_t size)
{
	size_t new_cap = *cap ? *cap * 2 : 8;
	void *p;

	if (count < *cap)
		return 0;
	p = calloc(new_cap, size);
	if (!p)
		return -ENOMEM;
	if (*array) {
		memcpy(p, *array, *cap * size);
		wgcrypto_wipe(*array, *cap * size); /* peer ops hold preshared keys */
		free(*array);
	}
	*array = p;
	*cap = new_cap;
	return 0;
}

/* Unsigned decimal only: no sign, no spaces, no hex, as wg prints them. */
static int parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -EINVAL;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -EINVAL;
		v = v * 10 + (uint64_t)(*s - '0');
		if (v > max)
			return -EINVAL;
	}
	*out = v;
	return 0;
}

static int parse_true(const char *s)
{
	return strcmp(s, "true") ? -EINVAL : 0;
}

static int parse_key(const char *s, uint8_t key[NOISE_PUBLIC_KEY_LEN])
{
	return strlen(s) == WGCRYPTO_KEY_HEX_LEN && wgcrypto_key_from_hex(key, s) ? 0 : -EINVAL;
}

/* "fe80::1%3": only a numeric scope; a name would need a syscall (if_nametoindex). */
static int parse_ipv6_host(char *host, uint16_t port, union endpoint *ep)
{
	char *pct = strchr(host, '%');
	uint64_t scope = 0;

	if (pct) {
		*pct = '\0';
		if (parse_uint(pct + 1, UINT32_MAX, &scope))
			return -EINVAL;
	}
	if (!strchr(host, ':') || addr_parse_literal(host, port, ep) || ep->sa.sa_family != AF_INET6)
		return -EINVAL;
	ep->in6.sin6_scope_id = (uint32_t)scope;
	return 0;
}

/* "a.b.c.d:port" or "[v6]:port", numeric only: wg resolves names before it sends them. */
static int parse_endpoint(const char *s, union endpoint *ep)
{
	char host[UAPI_MAX_LINE];
	const char *colon = strrchr(s, ':');
	uint64_t port;
	size_t host_len;

	if (!colon || parse_uint(colon + 1, 65535, &port))
		return -EINVAL;
	host_len = (size_t)(colon - s);
	if (host_len >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, host_len);
	host[host_len] = '\0';
	if (host[0] == '[') {
		if (host_len < 3 || host[host_len - 1] != ']')
			return -EINVAL;
		host[host_len - 1] = '\0';
		return parse_ipv6_host(host + 1, (uint16_t)port, ep);
	}
	if (addr_parse_literal(host, (uint16_t)port, ep) || ep->sa.sa_family != AF_INET)
		return -EINVAL;
	return 0;
}

/* "addr/cidr" with the slash required and the cidr in plain decimal. */
static int parse_allowed_ip(const char *s, struct ip_prefix *p)
{
	const char *slash = strchr(s, '/');
	uint64_t cidr;

	if (!slash || parse_uint(slash + 1, 128, &cidr) || strlen(slash + 1) > 3)
		return -EINVAL;
	return addr_parse_prefix(s, p);
}

static int parse_device_line(struct request *r, const char *key, const char *value)
{
	uint64_t v;

	if (!strcmp(key, "private_key")) {
		r->flags |= DEV_PRIVATE_KEY;
		return parse_key(value, r->private_key);
	}
	if (!strcmp(key, "listen_port")) {
		r->flags |= DEV_LISTEN_PORT;
		if (parse_uint(value, UINT16_MAX, &v))
			return -EINVAL;
		r->listen_port = (uint16_t)v;
		return 0;
	}
	if (!strcmp(key, "fwmark")) {
		r->flags |= DEV_FWMARK;
		if (parse_uint(value, UINT32_MAX, &v))
			return -EINVAL;
		r->fwmark = (uint32_t)v;
		return 0;
	}
	if (!strcmp(key, "replace_peers")) {
		r->flags |= DEV_REPLACE_PEERS;
		return parse_true(value);
	}
	return -EINVAL;
}

static int add_allowed_ip(struct request *r, struct peer_op *op, const char *value)
{
	struct ip_prefix p;

	if (parse_allowed_ip(value, &p))
		return -EINVAL;
	if (grow((void **)&r->ips, &r->ip_cap, r->ip_count, sizeof(r->ips[0])))
		return -ENOMEM;
	r->ips[r->ip_count++] = p;
	op->ip_count++;
	return 0;
}

/* "NAME:PORT": the host name an endpoint came from, looked up again when the peer stops
 * answering. */
static int parse_endpoint_name(const char *s, struct peer_op *op)
{
	const char *colon = strrchr(s, ':');
	uint64_t port;

	if (!colon || parse_uint(colon + 1, 65535, &port) || !port)
		return -EINVAL;
	free(op->endpoint_name);
	op->endpoint_name = strndup(s, (size_t)(colon - s));
	if (!op->endpoint_name)
		return -ENOMEM;
	if (!addr_is_host_name(op->endpoint_name))
		return -EINVAL; /* freed with the request */
	op->endpoint_name_port = (uint16_t)port;
	op->flags |= PEER_ENDPOINT_NAME;
	return 0;
}

static int parse_peer_line(struct request *r, struct peer_op *op, const char *key,
			   const char *value)
{
	uint64_t v;

	if (!strcmp(key, "remove")) {
		op->flags |= PEER_REMOVE;
		return parse_true(value);
	}
	if (!strcmp(key, "update_only")) {
		op->flags |= PEER_UPDATE_ONLY;
		return parse_true(value);
	}
	if (!strcmp(key, "preshared_key")) {
		op->flags |= PEER_PSK;
		return parse_key(value, op->psk);
	}
	if (!strcmp(key, "endpoint")) {
		op->flags |= PEER_ENDPOINT;
		return parse_endpoint(value, &op->endpoint);
	}
	if (!strcmp(key, "persistent_keepalive_interval")) {
		op->flags |= PEER_KEEPALIVE;
		if (parse_uint(value, UINT16_MAX, &v))
			return -EINVAL;
		op->keepalive = (uint16_t)v;
		return 0;
	}
	if (!strcmp(key, "endpoint_name")) /* myvpn's own */
		return parse_endpoint_name(value, op);
	if (!strcmp(key, "tcp_port")) { /* myvpn's own */
		op->flags |= PEER_TCP_PORT;
		if (parse_uint(value, UINT16_MAX, &v))
			return -EINVAL;
		op->tcp_port = (uint16_t)v;
		return 0;
	}
	if (!strcmp(key, "replace_allowed_ips")) {
		/* line order, as wireguard-go: forgets the allowed_ip lines before it too */
		op->flags |= PEER_REPLACE_ALLOWED_IPS;
		r->ip_count = op->first_ip;
		op->ip_count = 0;
		return parse_true(value);
	}
	if (!strcmp(key, "allowed_ip"))
		return add_allowed_ip(r, op, value);
	if (!strcmp(key, "protocol_version")) {
		if (parse_uint(value, UINT32_MAX, &v))
			return -EINVAL;
		return v == 1 ? 0 : -EPROTONOSUPPORT;
	}
	return -EINVAL;
}

static int begin_peer(struct request *r, const char *value)
{
	struct peer_op *op;

	if (grow((void **)&r->peers, &r->peer_cap, r->peer_count, sizeof(r->peers[0])))
		return -ENOMEM;
	op = &r->peers[r->peer_count++];
	memset(op, 0, sizeof(*op));
	op->first_ip = r->ip_count;
	return parse_key(value, op->public_key);
}

/* One "key=value" line, NUL-terminated in a scratch copy that the caller wipes. */
static int parse_line(struct request *r, char *line)
{
	char *value = strchr(line, '=');

	if (!value || value == line)
		return -EINVAL;
	*value++ = '\0';
	if (!strcmp(line, "public_key"))
		return begin_peer(r, value);
	if (!r->peer_count)
		return parse_device_line(r, line, value);
	return parse_peer_line(r, &r->peers[r->peer_count - 1], line, value);
}

static int parse_request(struct request *r, const char *text, size_t len)
{
	char line[UAPI_MAX_LINE + 1];
	size_t pos = 0;
	int ret = 0;

	memset(r, 0, sizeof(*r));
	while (pos < len && !ret) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;

		if (n == 0)
			break; /* the empty line ends the request */
		if (n > UAPI_MAX_LINE || memchr(text + pos, '\0', n))
			ret = -EINVAL;
		else {
			memcpy(line, text + pos, n);
			line[n] = '\0';
			ret = parse_line(r, line);
		}
		pos += n + 1;
	}
	wgcrypto_wipe(line, sizeof(line));
	return ret;
}

/* ---- set: check ---- */

static bool final_has_identity(const struct wg_device *dev, const struct request *r)
{
	return r->key_changes ? r->identity.has_identity : dev->identity.has_identity;
}

static const uint8_t *final_public_key(const struct wg_device *dev, const struct request *r)
{
	if (!final_has_identity(dev, r))
		return NULL;
	return r->key_changes ? r->identity.public_key : dev->identity.public_key;
}

/* A key equal to the current one changes nothing: `wg setconf` repeats it every time, and
 * sessions must survive that. All zeros removes the key. */
static int check_private_key(struct wg_device *dev, struct request *r)
{
	uint8_t clamped[NOISE_PUBLIC_KEY_LEN];
	bool is_zero = wgcrypto_is_zero(r->private_key, sizeof(r->private_key));

	if (!(r->flags & DEV_PRIVATE_KEY))
		return 0;
	memcpy(clamped, r->private_key, sizeof(clamped));
	wgcrypto_x25519_clamp(clamped);
	if (is_zero)
		r->key_changes = dev->identity.has_identity;
	else
		r->key_changes = !dev->identity.has_identity ||
				 !wgcrypto_equal(clamped, dev->identity.private_key, sizeof(clamped));
	wgcrypto_wipe(clamped, sizeof(clamped));
	if (!r->key_changes || is_zero)
		return 0;
	if (!noise_static_identity_init(&r->identity, r->private_key))
		return -EINVAL;
	/* Linux removes a peer that has the device's new public key */
	if (!(r->flags & DEV_REPLACE_PEERS))
		r->self_peer = wg_peer_by_key(dev, r->identity.public_key);
	return 0;
}

/* Orders peer sections by key, then by position: each key's sections become a run. */
static int by_key_then_index(const void *a, const void *b, void *ctx)
{
	const struct peer_op *ops = ctx;
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	int c = memcmp(ops[i].public_key, ops[j].public_key, NOISE_PUBLIC_KEY_LEN);

	return c ? c : (i > j) - (i < j);
}

static bool exists_before_request(struct wg_device *dev, const struct request *r,
				  const uint8_t key[NOISE_PUBLIC_KEY_LEN])
{
	struct wg_peer *p;

	if (r->flags & DEV_REPLACE_PEERS)
		return false;
	p = wg_peer_by_key(dev, key);
	return p && p != r->self_peer;
}

/* Follows one key's sections in order; marks the ones that create the peer, and records in
 * delta[] how each section changes the peer count. */
static int check_key_run(struct wg_device *dev, struct request *r, const size_t *run,
			 size_t n, int *delta)
{
	const uint8_t *self = final_public_key(dev, r);
	const struct noise_static_identity *id = r->key_changes ? &r->identity : &dev->identity;
	bool exists = exists_before_request(dev, r, r->peers[run[0]].public_key);

	for (size_t k = 0; k < n; k++) {
		struct peer_op *op = &r->peers[run[k]];

		if (self && !memcmp(op->public_key, self, NOISE_PUBLIC_KEY_LEN)) {
			op->flags |= PEER_IS_SELF;
			continue;
		}
		if (op->flags & PEER_REMOVE) {
			delta[run[k]] = exists ? -1 : 0;
			exists = false;
		} else if (!exists && !(op->flags & PEER_UPDATE_ONLY)) {
			/* Made here, outside the device's lock: its X25519 precompute is the costly
			 * part of a big set. Without a private key a peer waits for one, as in
			 * Linux; with one, its key must give a usable DH (-EINVAL). */
			int ret = wg_peer_new(dev, id, op->public_key,
					      (op->flags & PEER_PSK) ? op->psk : NULL, &op->fresh);

			if (ret)
				return ret;
			op->flags |= PEER_CREATES;
			delta[run[k]] = 1;
			exists = true;
		}
	}
	return 0;
}

/* Peer indices are unsigned int; nothing else limits how many peers a device has. */
static int check_peer_count(const struct wg_device *dev, const struct request *r,
			    const int *delta)
{
	long count = (r->flags & DEV_REPLACE_PEERS) ? 0 : (long)dev->peer_count - !!r->self_peer;

	for (size_t i = 0; i < r->peer_count; i++) {
		count += delta[i];
		if (count > (long)(UINT_MAX / 2))
			return -ENOSPC;
	}
	return 0;
}

static int check_peers(struct wg_device *dev, struct request *r)
{
	size_t *order = calloc(r->peer_count + 1, sizeof(*order));
	int *delta = calloc(r->peer_count + 1, sizeof(*delta));
	int ret = 0;

	if (!order || !delta) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < r->peer_count; i++)
		order[i] = i;
	qsort_r(order, r->peer_count, sizeof(*order), by_key_then_index, r->peers);
	for (size_t start = 0, end; start < r->peer_count && !ret; start = end) {
		for (end = start + 1; end < r->peer_count &&
		     !memcmp(r->peers[order[start]].public_key, r->peers[order[end]].public_key,
			     NOISE_PUBLIC_KEY_LEN); end++)
			;
		ret = check_key_run(dev, r, order + start, end - start, delta);
	}
	if (!ret)
		ret = check_peer_count(dev, r, delta);
out:
	free(order);
	free(delta);
	return ret;
}

static int check_endpoints(struct request *r, int udp_family)
{
	for (size_t i = 0; i < r->peer_count; i++) {
		struct peer_op *op = &r->peers[i];

		if ((op->flags & PEER_ENDPOINT) && udp_family &&
		    endpoint_to_family(&op->endpoint, udp_family))
			return -EAFNOSUPPORT;
	}
	return 0;
}

static int check_request(struct wg_device *dev, const struct uapi_device_info *info,
			 struct request *r)
{
	int ret = check_private_key(dev, r);

	if (!ret)
		ret = check_endpoints(r, info->udp_family);
	if (!ret)
		ret = check_peers(dev, r);
	return ret;
}

/* ---- set: apply ---- */

/* The socket changes first: if the port is taken, nothing else has happened yet. */
static int apply_hooks(const struct uapi_device_info *info, const struct uapi_set_hooks *hooks,
		       const struct request *r)
{
	bool mark = (r->flags & DEV_FWMARK) && r->fwmark != info->fwmark;
	bool port = (r->flags & DEV_LISTEN_PORT) && r->listen_port != info->listen_port;
	int ret = 0;

	if (!hooks)
		return 0;
	if (mark && hooks->set_fwmark)
		ret = hooks->set_fwmark(hooks->ctx, r->fwmark);
	if (!ret && port && hooks->set_listen_port) {
		ret = hooks->set_listen_port(hooks->ctx, r->listen_port);
		if (ret && mark && hooks->set_fwmark)
			hooks->set_fwmark(hooks->ctx, info->fwmark); /* best effort undo */
	}
	return ret;
}

static void remove_all_peers(struct wg_device *dev, struct uapi_set_result *res)
{
	while (dev->last_peer) {
		wg_peer_remove(dev, dev->last_peer);
		res->peers_removed++;
	}
}

/* As Linux: every handshake is recomputed and every session expires, since they were made
 * with the old identity. */
static void apply_private_key(struct wg_device *dev, struct request *r,
			      struct uapi_set_result *res)
{
	bool had = dev->identity.has_identity;

	if (r->self_peer) {
		wg_peer_remove(dev, r->self_peer);
		res->peers_removed++;
	}
	noise_static_identity_clear(&dev->identity);
	if (r->identity.has_identity)
		dev->identity = r->identity;
	wg_for_each_peer(dev, p) {
		noise_handshake_set_identity(&p->hs, dev->identity.has_identity ? &dev->identity
									      : NULL);
		wg_keypairs_clear(p);
		wg_sync_handshake_index(p);
	}
	log_info("private key %s", !dev->identity.has_identity ? "removed" : had ? "changed" : "set");
}

static int apply_peer_settings(struct wg_device *dev, const struct request *r,
			       struct peer_op *op, struct wg_peer *p, uint64_t now_ns)
{
	int ret;

	if ((op->flags & PEER_PSK) && !(op->flags & PEER_CREATES))
		noise_handshake_set_preshared_key(&p->hs, op->psk);
	if (op->flags & PEER_TCP_PORT) { /* before the endpoint, which --transport tcp dials */
		p->tcp_port = op->tcp_port;
		if (p->endpoint_configured && dev->transport == TRANSPORT_MODE_TCP)
			wg_transport_configure(p);
	}
	if (op->flags & PEER_ENDPOINT)
		wg_peer_set_endpoint(p, &(struct dgram_addr){ .remote = op->endpoint });
	/* An address set without a name (wg set ... endpoint ADDR) replaces the name too. */
	if (op->flags & (PEER_ENDPOINT | PEER_ENDPOINT_NAME)) {
		endpoint_name_set(&p->endpoint_name, op->endpoint_name, op->endpoint_name_port);
		op->endpoint_name = NULL;
	}
	if (op->flags & PEER_REPLACE_ALLOWED_IPS)
		allowedips_remove_by_owner(&dev->allowedips, p);
	for (size_t i = 0; i < op->ip_count; i++) {
		ret = wg_peer_allow(p, &r->ips[op->first_ip + i]);
		if (ret)
			return ret;
	}
	if (op->flags & PEER_KEEPALIVE) {
		/* turned on, a keepalive falls due now: the device timer sends it */
		timers_set_persistent_keepalive(&p->timers, now_ns, op->keepalive);
		wg_timers_changed(p);
	}
	return 0;
}

static int apply_peer(struct wg_device *dev, const struct request *r, struct peer_op *op,
		      uint64_t now_ns, struct uapi_set_result *res)
{
	struct wg_peer *p = wg_peer_by_key(dev, op->public_key);
	int ret;

	if (op->flags & PEER_IS_SELF)
		return 0;
	if (op->flags & PEER_REMOVE) {
		if (p) {
			res->peers_removed++;
			return wg_peer_remove(dev, p);
		}
		return 0;
	}
	if (!p) {
		if (op->flags & PEER_UPDATE_ONLY)
			return 0;
		if (op->fresh) {
			p = op->fresh;
			op->fresh = NULL;
			wg_peer_link(dev, p);
		} else {
			ret = wg_peer_add(dev, op->public_key, (op->flags & PEER_PSK) ? op->psk : NULL,
					  &p);
			if (ret)
				return ret;
		}
		res->peers_added++;
	}
	return apply_peer_settings(dev, r, op, p, now_ns);
}

static int apply_request(struct wg_device *dev, struct request *r, uint64_t now_ns,
			 struct uapi_set_result *res)
{
	int ret = 0;

	if (r->flags & DEV_REPLACE_PEERS)
		remove_all_peers(dev, res);
	if (r->key_changes)
		apply_private_key(dev, r, res);
	for (size_t i = 0; i < r->peer_count && !ret; i++)
		ret = apply_peer(dev, r, &r->peers[i], now_ns, res);
	return ret;
}

static void fill_result(const struct uapi_device_info *info, const struct request *r,
			struct uapi_set_result *res)
{
	if ((r->flags & DEV_LISTEN_PORT) && r->listen_port != info->listen_port) {
		res->new_listen_port = true;
		res->listen_port = r->listen_port;
	}
	if ((r->flags & DEV_FWMARK) && r->fwmark != info->fwmark) {
		res->new_fwmark = true;
		res->fwmark = r->fwmark;
	}
}

static int apply_checked(struct wg_device *dev, const struct uapi_device_info *info,
			 const struct uapi_set_hooks *hooks, struct request *r, uint64_t now_ns,
			 struct uapi_set_result *result)
{
	int ret = apply_hooks(info, hooks, r);

	if (ret)
		return ret;
	fill_result(info, r, result);
	ret = apply_request(dev, r, now_ns, result);
	if (ret)
		log_warn("uapi: set failed part way: %s", strerror(-ret));
	return ret;
}

int uapi_set(struct wg_device *dev, const struct uapi_device_info *info,
	     const struct uapi_set_hooks *hooks, const char *text, size_t len, uint64_t now_ns,
	     struct uapi_set_result *result)
{
	struct uapi_set_result scratch;
	struct request r;
	int ret;

	if (!result)
		result = &scratch;
	memset(result, 0, sizeof(*result));
	ret = parse_request(&r, text, len);
	if (!ret)
		ret = check_request(dev, info, &r);
	if (!ret) {
		if (hooks && hooks->begin_changes)
			hooks->begin_changes(hooks->ctx);
		ret = apply_checked(dev, info, hooks, &r, now_ns, result);
		if (hooks && hooks->end_changes)
			hooks->end_changes(hooks->ctx);
	}
	request_free(&r);
	return ret;
}

/* ---- dispatch ---- */

size_t uapi_request_length(const char *data, size_t len, size_t from)
{
	const char *end;

	from = from ? from - 1 : 0; /* the "\n\n" may straddle the previous scan's end */
	if (len < 2 || from >= len - 1)
		return 0;
	end = memmem(data + from, len - from, "\n\n", 2);
	return end ? (size_t)(end - data) + 2 : 0;
}

static bool starts_with(const char *s, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && !memcmp(s, prefix, n);
}

int uapi_handle(struct wg_device *dev, const struct uapi_device_info *info,
		const struct uapi_set_hooks *hooks, const struct stats *stats, const char *request,
		size_t len, uint64_t now_ns, struct uapi_buf *out)
{
	int err;

	if (starts_with(request, len, "get=1\n")) {
		/* nothing may follow but the empty line */
		if (len == 7 && request[6] == '\n')
			return uapi_get(dev, info, out) ? uapi_buf_printf(out, "errno=%d\n\n", -ENOMEM)
							: 0;
		err = -EINVAL;
	} else if (stats && starts_with(request, len, "stats=1\n")) {
		if (len == 9 && request[8] == '\n')
			return uapi_portmap(&info->portmap, now_ns, out) ||
				       uapi_plain(&info->plain, out) || uapi_stats(stats, out) ?
				       uapi_buf_printf(out, "errno=%d\n\n", -ENOMEM) : 0;
		err = -EINVAL;
	} else if (stats && dev->rdv.mode != RDV_OFF && starts_with(request, len, "paths=1\n")) {
		if (len == 9 && request[8] == '\n')
			return uapi_paths(dev, out) ? uapi_buf_printf(out, "errno=%d\n\n", -ENOMEM) : 0;
		err = -EINVAL;
	} else if (starts_with(request, len, "set=1\n")) {
		err = hooks && hooks->read_only ? -EPERM
						: uapi_set(dev, info, hooks, request + 6, len - 6, now_ns, NULL);
	} else {
		return -EPROTO;
	}
	return uapi_buf_printf(out, "errno=%d\n\n", err);
}
