/* `myvpn show`: wg show's output from the UAPI sockets, plus the drop counters; pure parsing
 * and formatting first, then the socket I/O. */
#include "show.h"
#include "options.h"
#include "uapi.h"
#include "uapi_server.h"
#include "wgcrypto.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

enum { LINE_MAX_LEN = 512 };

/* ---- parsing replies ---- */

/* Unsigned decimal, as the daemons print it. */
static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
	uint64_t v = 0;

	if (!*s)
		return -EBADMSG;
	for (; *s; s++) {
		unsigned int digit = (unsigned int)(*s - '0');

		if (*s < '0' || *s > '9' || v > (UINT64_MAX - digit) / 10)
			return -EBADMSG;
		v = v * 10 + digit;
	}
	if (v > max)
		return -EBADMSG;
	*out = v;
	return 0;
}

/* "errno=0" or "errno=-22"; a positive value is taken as its negation. */
static int parse_errno(const char *s, int *out)
{
	bool negative = *s == '-';
	uint64_t v;

	if (parse_u64(s + negative, 4095, &v))
		return -EBADMSG;
	*out = -(int)v;
	return 0;
}

static int parse_hex_key(const char *s, uint8_t key[32])
{
	return strlen(s) == WGCRYPTO_KEY_HEX_LEN && wgcrypto_key_from_hex(key, s) ? 0 : -EBADMSG;
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/*
 * Calls line_fn for each "key=value" line up to the empty line, then checks the "errno=N" line
 * that must come last. Returns 0, the daemon's errno, -EBADMSG or line_fn's error.
 */
static int parse_reply(const char *reply, size_t len,
		       int (*line_fn)(void *ctx, const char *key, char *value), void *ctx)
{
	char line[LINE_MAX_LEN + 1];
	size_t pos = 0;
	bool ended = false, have_errno = false;
	int ret = 0, err = 0;

	while (pos < len && !ret) {
		const char *nl = memchr(reply + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (reply + pos)) : len - pos;
		char *value;

		if (!nl || n > LINE_MAX_LEN || memchr(reply + pos, '\0', n)) {
			ret = -EBADMSG;
			break;
		}
		if (n == 0) {
			ended = true;
			break;
		}
		memcpy(line, reply + pos, n);
		line[n] = '\0';
		pos += n + 1;
		value = strchr(line, '=');
		if (!value || value == line || have_errno) {
			ret = -EBADMSG; /* nothing may follow the errno line */
			break;
		}
		*value++ = '\0';
		if (!strcmp(line, "errno")) {
			ret = parse_errno(value, &err);
			have_errno = true;
		} else {
			ret = line_fn(ctx, line, value);
		}
	}
	wgcrypto_wipe(line, sizeof(line)); /* the get reply holds the private key */
	if (ret)
		return ret;
	if (!ended || !have_errno)
		return -EBADMSG;
	return err;
}

static int add_peer(struct show_interface *ifc, const char *hex)
{
	struct show_peer *p;

	if (ifc->peer_count == ifc->peer_cap) {
		size_t cap = ifc->peer_cap ? ifc->peer_cap * 2 : 8;

		p = realloc(ifc->peers, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		ifc->peers = p;
		ifc->peer_cap = cap;
	}
	p = &ifc->peers[ifc->peer_count++];
	memset(p, 0, sizeof(*p));
	return parse_hex_key(hex, p->public_key);
}

static int add_allowed_ip(struct show_peer *p, const char *text)
{
	struct ip_prefix prefix;

	if (!strchr(text, '/') || addr_parse_prefix(text, &prefix))
		return -EBADMSG;
	if (p->allowed_ip_count == p->allowed_ip_cap) {
		size_t cap = p->allowed_ip_cap ? p->allowed_ip_cap * 2 : 4;
		struct ip_prefix *ips = realloc(p->allowed_ips, cap * sizeof(*ips));

		if (!ips)
			return -ENOMEM;
		p->allowed_ips = ips;
		p->allowed_ip_cap = cap;
	}
	p->allowed_ips[p->allowed_ip_count++] = prefix;
	return 0;
}

static int set_private_key(struct show_interface *ifc, const char *hex)
{
	uint8_t key[32];
	int ret = parse_hex_key(hex, key);

	if (!ret && !wgcrypto_x25519_public(ifc->public_key, key))
		ret = -EBADMSG;
	wgcrypto_wipe(key, sizeof(key));
	ifc->has_private_key = !ret;
	return ret;
}

static int parse_peer_line(struct show_peer *p, const char *key, const char *value)
{
	uint64_t v = 0;
	int ret = 0;

	if (!strcmp(key, "preshared_key")) {
		uint8_t psk[32];

		ret = parse_hex_key(value, psk);
		p->has_preshared_key = !ret && !wgcrypto_is_zero(psk, sizeof(psk));
		wgcrypto_wipe(psk, sizeof(psk));
	} else if (!strcmp(key, "endpoint")) {
		if (strlen(value) >= sizeof(p->endpoint) || !printable(value))
			return -EBADMSG;
		strcpy(p->endpoint, value);
	} else if (!strcmp(key, "endpoint_name")) {
		if (strlen(value) >= sizeof(p->endpoint_name) || !printable(value))
			return -EBADMSG;
		strcpy(p->endpoint_name, value);
	} else if (!strcmp(key, "last_handshake_time_sec")) {
		ret = parse_u64(value, UINT64_MAX, &p->last_handshake_sec);
	} else if (!strcmp(key, "last_handshake_time_nsec")) {
		ret = parse_u64(value, UINT64_MAX, &p->last_handshake_nsec);
	} else if (!strcmp(key, "rx_bytes")) {
		ret = parse_u64(value, UINT64_MAX, &p->rx_bytes);
	} else if (!strcmp(key, "tx_bytes")) {
		ret = parse_u64(value, UINT64_MAX, &p->tx_bytes);
	} else if (!strcmp(key, "persistent_keepalive_interval")) {
		ret = parse_u64(value, UINT16_MAX, &v);
		p->persistent_keepalive = (uint16_t)v;
	} else if (!strcmp(key, "path_mtu")) {
		ret = parse_u64(value, UINT16_MAX, &v);
		p->path_mtu = (uint32_t)v;
	} else if (!strcmp(key, "allowed_ip")) {
		ret = add_allowed_ip(p, value);
	} else if (!strcmp(key, "transport")) {
		if (strcmp(value, "udp") && strcmp(value, "tcp"))
			return -EBADMSG;
		strcpy(p->transport, value);
	} else if (!strcmp(key, "transport_switches")) {
		ret = parse_u64(value, UINT64_MAX, &p->transport_switches);
	}
	return ret;
}

static int get_line(void *ctx, const char *key, char *value)
{
	struct show_interface *ifc = ctx;
	uint64_t v = 0;
	int ret;

	if (!strcmp(key, "private_key"))
		return set_private_key(ifc, value);
	if (!strcmp(key, "listen_port")) {
		ret = parse_u64(value, UINT16_MAX, &v);
		ifc->listen_port = (uint16_t)v;
		return ret;
	}
	if (!strcmp(key, "fwmark")) {
		ret = parse_u64(value, UINT32_MAX, &v);
		ifc->fwmark = (uint32_t)v;
		return ret;
	}
	if (!strcmp(key, "public_key"))
		return add_peer(ifc, value);
	if (!ifc->peer_count)
		return 0; /* a device key we do not know */
	return parse_peer_line(&ifc->peers[ifc->peer_count - 1], key, value);
}

int show_parse_get(struct show_interface *ifc, const char *reply, size_t len)
{
	return parse_reply(reply, len, get_line, ifc);
}

static int stats_line(void *ctx, const char *key, char *value)
{
	struct stats *st = ctx;
	uint64_t *field = NULL;

	for (size_t i = 0; i < stats_counter_count && !field; i++)
		if (!strcmp(key, stats_counters[i].name))
			field = (uint64_t *)((char *)st + stats_counters[i].offset);
	if (!field && !strncmp(key, "drop_", 5)) {
		for (int r = 0; r < DROP_REASON_COUNT && !field; r++)
			if (!strcmp(key + 5, stats_drop_reason_name(r)))
				field = &st->drops[r];
	}
	return field ? parse_u64(value, UINT64_MAX, field) : 0;
}

int show_parse_stats(struct stats *stats, const char *reply, size_t len)
{
	memset(stats, 0, sizeof(*stats));
	return parse_reply(reply, len, stats_line, stats);
}

struct paths_ctx {
	struct show_interface *ifc;
	struct show_peer *peer; /* the one the lines are about, or NULL: skipped */
};

static int copy_text(char *dst, size_t len, const char *value);

/* The lines before the first peer: the rendezvous's state. */
static int interface_paths_line(struct show_interface *ifc, const char *key, const char *value)
{
	uint64_t n = 0;
	int ret;

	if (!strcmp(key, "rendezvous"))
		return copy_text(ifc->rendezvous, sizeof(ifc->rendezvous), value);
	if (!strcmp(key, "nat"))
		return copy_text(ifc->nat, sizeof(ifc->nat), value);
	if (!strcmp(key, "seen"))
		return copy_text(ifc->seen, sizeof(ifc->seen), value);
	if (!strcmp(key, "nat_keepalive_interval")) {
		ret = parse_u64(value, 65535, &n);
		ifc->nat_keepalive = (unsigned int)n;
		return ret;
	}
	return 0;
}

static int paths_line(void *ctx, const char *key, char *value)
{
	struct paths_ctx *c = ctx;
	uint8_t pub[32];

	if (!strcmp(key, "public_key")) {
		if (parse_hex_key(value, pub))
			return -EBADMSG;
		c->peer = NULL;
		for (size_t i = 0; i < c->ifc->peer_count && !c->peer; i++)
			if (!memcmp(c->ifc->peers[i].public_key, pub, sizeof(pub)))
				c->peer = &c->ifc->peers[i];
		return 0;
	}
	if (!c->peer)
		return interface_paths_line(c->ifc, key, value);
	if (!strcmp(key, "path")) {
		if (strlen(value) >= sizeof(c->peer->path) || !printable(value))
			return -EBADMSG;
		strcpy(c->peer->path, value);
	} else if (!strcmp(key, "relay_tx_bytes")) {
		return parse_u64(value, UINT64_MAX, &c->peer->relay_tx_bytes);
	} else if (!strcmp(key, "relay_rx_bytes")) {
		return parse_u64(value, UINT64_MAX, &c->peer->relay_rx_bytes);
	} else if (!strcmp(key, "relayed_bytes")) {
		return parse_u64(value, UINT64_MAX, &c->peer->relayed_bytes);
	}
	return 0;
}

static int copy_text(char *dst, size_t len, const char *value)
{
	if (strlen(value) >= len || !printable(value))
		return -EBADMSG;
	strcpy(dst, value);
	return 0;
}

static int portmap_line(void *ctx, const char *key, char *value)
{
	struct show_portmap *pm = ctx;
	uint64_t v = 0;
	int ret;

	if (strncmp(key, "portmap_", 8))
		return 0;
	key += 8;
	if (!strcmp(key, "state"))
		return copy_text(pm->state, sizeof(pm->state), value);
	if (!strcmp(key, "protocol"))
		return copy_text(pm->protocol, sizeof(pm->protocol), value);
	if (!strcmp(key, "external"))
		return copy_text(pm->external, sizeof(pm->external), value);
	if (!strcmp(key, "error"))
		return copy_text(pm->error, sizeof(pm->error), value);
	if (!strcmp(key, "external_tcp_port")) {
		ret = parse_u64(value, UINT16_MAX, &v);
		pm->external_tcp_port = (uint16_t)v;
		return ret;
	}
	if (!strcmp(key, "lifetime")) {
		pm->has_lifetime = true;
		return parse_u64(value, UINT32_MAX, &pm->lifetime);
	}
	return 0;
}

static bool one_of(const char *value, const char *const *names)
{
	for (; *names; names++)
		if (!strcmp(value, *names))
			return true;
	return false;
}

/* "ADDR:PORT" or "[V6]:PORT" as the daemon writes it: text, then a port from 1 to 65535. */
static bool endpoint_text(const char *value)
{
	const char *colon = strrchr(value, ':');
	uint64_t port;

	return colon && colon > value && printable(value) && !parse_u64(colon + 1, 65535, &port) &&
	       port;
}

static int plain_line(void *ctx, const char *key, char *value)
{
	static const char *const roles[] = { "server", "client", "peer", NULL };
	static const char *const transports[] = { "udp", "tcp", NULL };
	struct show_plain *pl = ctx;

	if (!strcmp(key, "plain_role"))
		return one_of(value, roles) ? copy_text(pl->role, sizeof(pl->role), value) : -EBADMSG;
	if (!strcmp(key, "plain_transport"))
		return one_of(value, transports) ?
			       copy_text(pl->transport, sizeof(pl->transport), value) : -EBADMSG;
	if (!strcmp(key, "plain_endpoint"))
		return endpoint_text(value) ?
			       copy_text(pl->endpoint, sizeof(pl->endpoint), value) : -EBADMSG;
	if (!strcmp(key, "plain_endpoint_name"))
		return printable(value) ?
			       copy_text(pl->endpoint_name, sizeof(pl->endpoint_name), value) : -EBADMSG;
	return 0;
}

int show_parse_plain(struct show_plain *pl, const char *reply, size_t len)
{
	int ret;

	memset(pl, 0, sizeof(*pl));
	ret = parse_reply(reply, len, plain_line, pl);
	if (!ret && (!pl->endpoint[0] != !pl->transport[0] || (pl->endpoint[0] && !pl->role[0])))
		ret = -EBADMSG;
	if (ret)
		memset(pl, 0, sizeof(*pl));
	return ret;
}

int show_parse_paths(struct show_interface *ifc, const char *reply, size_t len)
{
	struct paths_ctx c = { .ifc = ifc };

	return parse_reply(reply, len, paths_line, &c);
}

int show_parse_portmap(struct show_portmap *pm, const char *reply, size_t len)
{
	memset(pm, 0, sizeof(*pm));
	return parse_reply(reply, len, portmap_line, pm);
}

void show_interface_free(struct show_interface *ifc)
{
	for (size_t i = 0; i < ifc->peer_count; i++)
		free(ifc->peers[i].allowed_ips);
	free(ifc->peers);
	memset(ifc, 0, sizeof(*ifc));
}

/* ---- formatting ---- */

void show_format_duration(char *buf, size_t len, uint64_t left)
{
	static const struct {
		const char *name;
		uint64_t seconds;
	} units[] = {
		{ "year", 365 * 24 * 3600 }, { "day", 24 * 3600 }, { "hour", 3600 },
		{ "minute", 60 },	     { "second", 1 },
	};
	size_t off = 0;

	if (len)
		buf[0] = '\0';
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]) && off < len; i++) {
		uint64_t n = left / units[i].seconds;
		int w;

		left %= units[i].seconds;
		if (!n)
			continue;
		w = snprintf(buf + off, len - off, "%s%" PRIu64 " %s%s", off ? ", " : "", n,
			     units[i].name, n == 1 ? "" : "s");
		if (w < 0)
			return;
		off += (size_t)w;
	}
}

void show_format_bytes(char *buf, size_t len, uint64_t b)
{
	static const char *const units[] = { "KiB", "MiB", "GiB", "TiB" };
	double v = (double)b / 1024;
	int u = 0;

	if (b < 1024) {
		snprintf(buf, len, "%u B", (unsigned int)b);
		return;
	}
	/* thresholds on the integer, as wg: 1048575 bytes is "1024.00 KiB", not "1.00 MiB" */
	for (uint64_t limit = 1024ull * 1024; u < 3 && b >= limit; limit *= 1024, u++)
		v /= 1024;
	snprintf(buf, len, "%.2f %s", v, units[u]);
}

static void format_prefix(char *buf, size_t len, const struct ip_prefix *p)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	inet_ntop(p->family, &p->addr, ip, sizeof(ip));
	snprintf(buf, len, "%s/%u", ip, p->cidr);
}

static bool has_handshake(const struct show_peer *p)
{
	return p->last_handshake_sec || p->last_handshake_nsec;
}

/* wg's order: the latest handshake first, peers without one last; otherwise as given. */
static int by_handshake(const void *a, const void *b)
{
	const struct show_peer *x = *(const struct show_peer *const *)a;
	const struct show_peer *y = *(const struct show_peer *const *)b;

	if (has_handshake(x) != has_handshake(y))
		return has_handshake(x) ? -1 : 1;
	if (x->last_handshake_sec != y->last_handshake_sec)
		return x->last_handshake_sec > y->last_handshake_sec ? -1 : 1;
	if (x->last_handshake_nsec != y->last_handshake_nsec)
		return x->last_handshake_nsec > y->last_handshake_nsec ? -1 : 1;
	return (x > y) - (x < y); /* stable: the array order */
}

static void print_ago(FILE *out, uint64_t then, uint64_t now)
{
	char buf[128];

	if (now == then) {
		fputs("Now", out);
	} else if (now < then) {
		fputs("(System clock wound backward; connection problems may ensue.)", out);
	} else {
		show_format_duration(buf, sizeof(buf), now - then);
		fprintf(out, "%s ago", buf);
	}
}

/* all - part, never below 0: the counters are read at slightly different moments */
static uint64_t rest(uint64_t all, uint64_t part)
{
	return part < all ? all - part : 0;
}

/* With a rendezvous: the path, and the bytes each path carried when the relay carried any. */
static void print_path(FILE *out, const struct show_peer *p)
{
	char rx[64], tx[64];

	if (!p->path[0])
		return;
	fprintf(out, "  path: %s\n",
		!strcmp(p->path, "relay") ? "relayed through the rendezvous" : p->path);
	if (p->relay_rx_bytes || p->relay_tx_bytes) {
		show_format_bytes(rx, sizeof(rx), p->relay_rx_bytes);
		show_format_bytes(tx, sizeof(tx), p->relay_tx_bytes);
		fprintf(out, "  through the relay: %s received, %s sent\n", rx, tx);
		show_format_bytes(rx, sizeof(rx), rest(p->rx_bytes, p->relay_rx_bytes));
		show_format_bytes(tx, sizeof(tx), rest(p->tx_bytes, p->relay_tx_bytes));
		fprintf(out, "  direct: %s received, %s sent\n", rx, tx);
	}
	if (p->relayed_bytes) {
		show_format_bytes(tx, sizeof(tx), p->relayed_bytes);
		fprintf(out, "  relayed from this peer: %s\n", tx);
	}
}

static void print_peer(FILE *out, const struct show_peer *p, uint64_t now_sec)
{
	char b64[WGCRYPTO_KEY_B64_LEN + 1], buf[128], buf2[64];

	wgcrypto_key_to_base64(b64, p->public_key);
	fprintf(out, "peer: %s\n", b64);
	if (p->has_preshared_key)
		fputs("  preshared key: (hidden)\n", out);
	if (p->endpoint[0] && p->endpoint_name[0])
		fprintf(out, "  endpoint: %s (%s)\n", p->endpoint, p->endpoint_name);
	else if (p->endpoint[0])
		fprintf(out, "  endpoint: %s\n", p->endpoint);
	fputs("  allowed ips: ", out);
	for (size_t i = 0; i < p->allowed_ip_count; i++) {
		format_prefix(buf, sizeof(buf), &p->allowed_ips[i]);
		fprintf(out, "%s%s", i ? ", " : "", buf);
	}
	fputs(p->allowed_ip_count ? "\n" : "(none)\n", out);
	if (p->last_handshake_sec) {
		fputs("  latest handshake: ", out);
		print_ago(out, p->last_handshake_sec, now_sec);
		fputc('\n', out);
	}
	if (p->rx_bytes || p->tx_bytes) {
		show_format_bytes(buf, sizeof(buf), p->rx_bytes);
		show_format_bytes(buf2, sizeof(buf2), p->tx_bytes);
		fprintf(out, "  transfer: %s received, %s sent\n", buf, buf2);
	}
	if (p->persistent_keepalive) {
		show_format_duration(buf, sizeof(buf), p->persistent_keepalive);
		fprintf(out, "  persistent keepalive: every %s\n", buf);
	}
	print_path(out, p);
}

/* "port mapping: 203.0.113.1:51820 (natpmp, TCP port 51820), 59 minutes left" */
static void print_portmap(FILE *out, const struct show_portmap *pm)
{
	char buf[128];

	if (!pm->state[0])
		return;
	fputs("  port mapping: ", out);
	if (strcmp(pm->state, "mapped")) {
		fprintf(out, "%s%s%s%s\n", pm->state, pm->error[0] ? " (" : "", pm->error,
			pm->error[0] ? ")" : "");
		return;
	}
	fprintf(out, "%s (%s", pm->external, pm->protocol);
	if (pm->external_tcp_port)
		fprintf(out, ", TCP port %u", pm->external_tcp_port);
	show_format_duration(buf, sizeof(buf), pm->lifetime);
	if (!pm->has_lifetime)
		fputs("), permanent lease\n", out);
	else
		fprintf(out, "), %s left\n", pm->lifetime ? buf : "0 seconds");
}

/* "rendezvous: client, behind NAT (seen at 203.0.113.1:51820), keepalive every 25 s" */
static void print_rendezvous(FILE *out, const struct show_interface *ifc)
{
	if (!ifc->rendezvous[0])
		return;
	fprintf(out, "  rendezvous: %s", ifc->rendezvous);
	if (!strcmp(ifc->nat, "behind"))
		fprintf(out, ", behind NAT (seen at %s), keepalive every %u s", ifc->seen,
			ifc->nat_keepalive);
	else if (!strcmp(ifc->nat, "none"))
		fprintf(out, ", public address %s, no keepalives", ifc->seen);
	else if (ifc->nat[0])
		fputs(", not yet heard from", out);
	fputc('\n', out);
}

/* myvpn's own: below what wg prints, so that the part above stays wg's, line for line. */
static void print_path_mtus(FILE *out, const struct show_interface *ifc)
{
	char b64[WGCRYPTO_KEY_B64_LEN + 1];
	bool any = false;

	for (size_t i = 0; i < ifc->peer_count; i++) {
		const struct show_peer *p = &ifc->peers[i];

		if (!p->path_mtu)
			continue;
		if (!any)
			fputs("\npath mtu (probed):\n", out);
		any = true;
		wgcrypto_key_to_base64(b64, p->public_key);
		fprintf(out, "  peer %s: %u\n", b64, p->path_mtu);
	}
}

/* myvpn's own, below wg's part too: each peer's transport now and its moves between the two. */
static void print_transports(FILE *out, const struct show_interface *ifc)
{
	char b64[WGCRYPTO_KEY_B64_LEN + 1];
	bool any = false;

	for (size_t i = 0; i < ifc->peer_count; i++) {
		const struct show_peer *p = &ifc->peers[i];

		if (!p->transport[0])
			continue;
		if (!any)
			fputs("\ntransport:\n", out);
		any = true;
		wgcrypto_key_to_base64(b64, p->public_key);
		fprintf(out, "  peer %s: %s, %" PRIu64 " switch%s\n", b64, p->transport,
			p->transport_switches, p->transport_switches == 1 ? "" : "es");
	}
}

/* A plaintext interface's one remote, in the same section: "server 198.51.100.2:12345: tcp,
 * 1 switch"; the switches are the interface's, as it has only this remote. */
static void print_plain(FILE *out, const struct show_interface *ifc)
{
	const struct show_plain *pl = &ifc->plain;
	uint64_t n = ifc->stats.transport_switches;

	if (!pl->role[0])
		return;
	if (!pl->endpoint[0]) {
		fprintf(out, "\ntransport:\n  %s: not yet heard from\n", pl->role);
		return;
	}
	fprintf(out, "\ntransport:\n  %s %s%s%s%s: %s, %" PRIu64 " switch%s\n", pl->role,
		pl->endpoint, pl->endpoint_name[0] ? " (" : "", pl->endpoint_name,
		pl->endpoint_name[0] ? ")" : "", pl->transport, n, n == 1 ? "" : "es");
}

static void print_drops(FILE *out, const struct stats *st)
{
	bool any = false;

	for (int r = 0; r < DROP_REASON_COUNT; r++) {
		if (!st->drops[r])
			continue;
		if (!any)
			fputs("drops:\n", out);
		any = true;
		fprintf(out, "  %s: %" PRIu64 "\n", stats_drop_reason_name(r), st->drops[r]);
	}
	if (!any)
		fputs("drops: none\n", out);
}

void show_print_text(FILE *out, const struct show_interface *ifc, uint64_t now_sec)
{
	const struct show_peer **order = calloc(ifc->peer_count + 1, sizeof(*order));
	char b64[WGCRYPTO_KEY_B64_LEN + 1];

	fprintf(out, "interface: %s\n", ifc->name);
	if (ifc->has_private_key) {
		wgcrypto_key_to_base64(b64, ifc->public_key);
		fprintf(out, "  public key: %s\n  private key: (hidden)\n", b64);
	}
	if (ifc->listen_port)
		fprintf(out, "  listening port: %u\n", ifc->listen_port);
	if (ifc->fwmark)
		fprintf(out, "  fwmark: 0x%x\n", ifc->fwmark);
	print_portmap(out, &ifc->portmap);
	print_rendezvous(out, ifc);
	for (size_t i = 0; i < ifc->peer_count; i++)
		if (order)
			order[i] = &ifc->peers[i];
	if (order)
		qsort(order, ifc->peer_count, sizeof(*order), by_handshake);
	for (size_t i = 0; i < ifc->peer_count; i++) {
		fputc('\n', out);
		print_peer(out, order ? order[i] : &ifc->peers[i], now_sec);
	}
	free(order);
	print_path_mtus(out, ifc);
	print_transports(out, ifc);
	print_plain(out, ifc);
	if (ifc->has_stats) {
		fputc('\n', out);
		print_drops(out, &ifc->stats);
	}
}

static void json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c < 0x20 || c == 0x7f)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

static void json_key(FILE *out, const char *key)
{
	json_string(out, key);
	fputs(": ", out);
}

static void json_string_or_null(FILE *out, const char *s)
{
	if (s[0])
		json_string(out, s);
	else
		fputs("null", out);
}

static void json_peer(FILE *out, const struct show_peer *p)
{
	char b64[WGCRYPTO_KEY_B64_LEN + 1], buf[INET6_ADDRSTRLEN + 8];

	wgcrypto_key_to_base64(b64, p->public_key);
	fputs("      {\n        \"public_key\": ", out);
	json_string(out, b64);
	fprintf(out, ",\n        \"has_preshared_key\": %s,\n        \"endpoint\": ",
		p->has_preshared_key ? "true" : "false");
	json_string_or_null(out, p->endpoint);
	fputs(",\n        \"endpoint_name\": ", out);
	json_string_or_null(out, p->endpoint_name);
	fputs(",\n        \"allowed_ips\": [", out);
	for (size_t i = 0; i < p->allowed_ip_count; i++) {
		format_prefix(buf, sizeof(buf), &p->allowed_ips[i]);
		fputs(i ? ", " : "", out);
		json_string(out, buf);
	}
	fprintf(out,
		"],\n        \"latest_handshake\": %" PRIu64 ",\n        \"rx_bytes\": %" PRIu64
		",\n        \"tx_bytes\": %" PRIu64 ",\n        \"persistent_keepalive\": %u"
		",\n        \"path_mtu\": %u,\n        \"transport\": ",
		p->last_handshake_sec, p->rx_bytes, p->tx_bytes, p->persistent_keepalive, p->path_mtu);
	if (p->transport[0])
		json_string(out, p->transport);
	else
		fputs("null", out);
	fprintf(out, ",\n        \"transport_switches\": %" PRIu64, p->transport_switches);
	if (p->path[0]) {
		fputs(",\n        \"path\": ", out);
		json_string(out, p->path);
		fprintf(out, ",\n        \"relay_rx_bytes\": %" PRIu64 ",\n        \"relay_tx_bytes\": %" PRIu64
			",\n        \"relayed_bytes\": %" PRIu64, p->relay_rx_bytes, p->relay_tx_bytes,
			p->relayed_bytes);
	}
	fputs("\n      }", out);
}

static void json_counters(FILE *out, const struct show_interface *ifc)
{
	const struct stats *st = &ifc->stats;

	if (!ifc->has_stats) {
		fputs("    \"counters\": null,\n    \"drops\": null\n", out);
		return;
	}
	fputs("    \"counters\": {", out);
	for (size_t i = 0; i < stats_counter_count; i++) {
		fputs(i ? ",\n      " : "\n      ", out);
		json_key(out, stats_counters[i].name);
		fprintf(out, "%" PRIu64, stats_counter_value(st, &stats_counters[i]));
	}
	fputs("\n    },\n    \"drops\": {", out);
	for (int r = 0; r < DROP_REASON_COUNT; r++) {
		fputs(r ? ",\n      " : "\n      ", out);
		json_key(out, stats_drop_reason_name(r));
		fprintf(out, "%" PRIu64, st->drops[r]);
	}
	fputs("\n    }\n", out);
}

static void json_portmap(FILE *out, const struct show_portmap *pm)
{
	fputs("    \"port_mapping\": ", out);
	if (!pm->state[0]) {
		fputs("null,\n", out);
		return;
	}
	fputs("{\n      \"state\": ", out);
	json_string(out, pm->state);
	fputs(",\n      \"protocol\": ", out);
	json_string(out, pm->protocol);
	fputs(",\n      \"external\": ", out);
	json_string(out, pm->external);
	fprintf(out, ",\n      \"external_tcp_port\": %u,\n      \"lifetime\": ",
		pm->external_tcp_port);
	if (pm->has_lifetime)
		fprintf(out, "%" PRIu64, pm->lifetime);
	else
		fputs("null", out);
	fputs(",\n      \"error\": ", out);
	json_string(out, pm->error);
	fputs("\n    },\n", out);
}

static void json_rendezvous(FILE *out, const struct show_interface *ifc)
{
	fputs("    \"rendezvous\": ", out);
	if (!ifc->rendezvous[0]) {
		fputs("null,\n", out);
		return;
	}
	fputs("{\n      \"role\": ", out);
	json_string(out, ifc->rendezvous);
	fputs(",\n      \"nat\": ", out);
	json_string(out, ifc->nat);
	fputs(",\n      \"seen\": ", out);
	json_string(out, ifc->seen);
	fprintf(out, ",\n      \"nat_keepalive\": %u\n    },\n", ifc->nat_keepalive);
}

static void json_plain(FILE *out, const struct show_plain *pl)
{
	fputs("    \"plain\": ", out);
	if (!pl->role[0]) {
		fputs("null,\n", out);
		return;
	}
	fputs("{\n      \"role\": ", out);
	json_string(out, pl->role);
	fputs(",\n      \"endpoint\": ", out);
	json_string_or_null(out, pl->endpoint);
	fputs(",\n      \"endpoint_name\": ", out);
	json_string_or_null(out, pl->endpoint_name);
	fputs(",\n      \"transport\": ", out);
	json_string_or_null(out, pl->transport);
	fputs("\n    },\n", out);
}

static void json_interface(FILE *out, const struct show_interface *ifc)
{
	char b64[WGCRYPTO_KEY_B64_LEN + 1];

	fputs("  {\n    \"interface\": ", out);
	json_string(out, ifc->name);
	fputs(",\n    \"public_key\": ", out);
	if (ifc->has_private_key) {
		wgcrypto_key_to_base64(b64, ifc->public_key);
		json_string(out, b64);
	} else {
		fputs("null", out);
	}
	fprintf(out, ",\n    \"listen_port\": %u,\n    \"fwmark\": %" PRIu32 ",\n",
		ifc->listen_port, ifc->fwmark);
	json_portmap(out, &ifc->portmap);
	json_rendezvous(out, ifc);
	json_plain(out, &ifc->plain);
	fputs("    \"peers\": [", out);
	for (size_t i = 0; i < ifc->peer_count; i++) {
		fputs(i ? ",\n" : "\n", out);
		json_peer(out, &ifc->peers[i]);
	}
	fputs(ifc->peer_count ? "\n    ],\n" : "],\n", out);
	json_counters(out, ifc);
	fputs("  }", out);
}

void show_print_json(FILE *out, const struct show_interface *ifcs, size_t count)
{
	fputc('[', out);
	for (size_t i = 0; i < count; i++) {
		fputs(i ? ",\n" : "\n", out);
		json_interface(out, &ifcs[i]);
	}
	fputs(count ? "\n]\n" : "]\n", out);
}

/* ---- I/O: the sockets ---- */

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int connect_path(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, ret;

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (const struct sockaddr *)&sa, sizeof(sa)) < 0) {
		ret = -errno;
		close(fd);
		return ret;
	}
	return fd;
}

/* Reads until the reply's empty line, EOF (-EPROTO: the daemon refused the request), or
 * SHOW_TIMEOUT_MS in all. */
static int read_reply(int fd, struct uapi_buf *reply)
{
	uint64_t deadline = now_ms() + SHOW_TIMEOUT_MS;
	char tmp[4096];
	size_t scanned = 0;
	int ret = 0;

	while (!uapi_request_length(reply->data, reply->len, scanned)) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint64_t now = now_ms();
		ssize_t n;

		scanned = reply->len;
		if (now >= deadline) {
			ret = -ETIMEDOUT;
			break;
		}
		n = poll(&pfd, 1, (int)(deadline - now));
		if (n < 0 && errno != EINTR) {
			ret = -errno;
			break;
		}
		if (n <= 0)
			continue;
		n = recv(fd, tmp, sizeof(tmp), 0);
		if (n < 0 && errno != EINTR) {
			ret = -errno;
			break;
		}
		if (n == 0) {
			ret = -EPROTO;
			break;
		}
		if (n > 0 && reply->len + (size_t)n > SHOW_MAX_REPLY) {
			ret = -EMSGSIZE;
			break;
		}
		if (n > 0 && (ret = uapi_buf_append(reply, tmp, (size_t)n)))
			break;
	}
	wgcrypto_wipe(tmp, sizeof(tmp));
	return ret;
}

/* One request on a fresh connection, as wg does. 0 or -errno (connect's, for a missing or
 * dead daemon: -ENOENT, -ECONNREFUSED). */
static int exchange(const char *path, const char *request, struct uapi_buf *reply)
{
	size_t len = strlen(request), sent = 0;
	int fd = connect_path(path), ret = 0;

	if (fd < 0)
		return fd;
	while (sent < len && !ret) {
		ssize_t n = send(fd, request + sent, len - sent, MSG_NOSIGNAL);

		if (n < 0 && errno != EINTR)
			ret = -errno;
		else if (n > 0)
			sent += (size_t)n;
	}
	if (!ret)
		ret = read_reply(fd, reply);
	close(fd);
	return ret;
}

static int load_interface(const char *dir, const char *name, struct show_interface *ifc)
{
	struct uapi_buf reply = { 0 };
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
	int ret;

	memset(ifc, 0, sizeof(*ifc));
	snprintf(ifc->name, sizeof(ifc->name), "%s", name);
	if (snprintf(path, sizeof(path), "%s/%s.sock", dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	ret = exchange(path, "get=1\n\n", &reply);
	if (!ret)
		ret = show_parse_get(ifc, reply.data, reply.len);
	uapi_buf_free(&reply);
	if (ret) {
		show_interface_free(ifc);
		return ret;
	}
	/* optional: wireguard-go closes the connection on stats=1 */
	if (!exchange(path, "stats=1\n\n", &reply) &&
	    !show_parse_stats(&ifc->stats, reply.data, reply.len)) {
		ifc->has_stats = true;
		if (show_parse_portmap(&ifc->portmap, reply.data, reply.len))
			memset(&ifc->portmap, 0, sizeof(ifc->portmap));
		show_parse_plain(&ifc->plain, reply.data, reply.len); /* zeroed when malformed */
	} else {
		memset(&ifc->stats, 0, sizeof(ifc->stats));
	}
	uapi_buf_free(&reply);
	/* optional: only a daemon with a rendezvous answers paths=1 */
	if (!exchange(path, "paths=1\n\n", &reply))
		show_parse_paths(ifc, reply.data, reply.len);
	uapi_buf_free(&reply);
	return 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names of the *.sock files in dir, sorted; *names is owned by the caller. 0 if dir does
 * not exist, else the count or -errno. */
static int list_sockets(const char *dir, char ***names)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **list = NULL, **grown;
	size_t count = 0, cap = 0;

	*names = NULL;
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d))) {
		size_t len = strlen(e->d_name);

		if (len <= 5 || len - 5 >= IFNAMSIZ || strcmp(e->d_name + len - 5, ".sock"))
			continue;
		if (count == cap) {
			cap = cap ? cap * 2 : 16;
			grown = realloc(list, cap * sizeof(*list));
			if (!grown)
				goto out_of_memory;
			list = grown;
		}
		list[count] = strndup(e->d_name, len - 5);
		if (!list[count])
			goto out_of_memory;
		count++;
	}
	closedir(d);
	if (count)
		qsort(list, count, sizeof(*list), by_name);
	*names = list;
	return (int)count;

out_of_memory: /* a partial list would hide interfaces */
	closedir(d);
	while (count)
		free(list[--count]);
	free(list);
	return -ENOMEM;
}

static bool is_absent(int err)
{
	return err == -ENOENT || err == -ECONNREFUSED;
}

static void print_all(const struct show_interface *ifcs, size_t count, bool json)
{
	if (json) {
		show_print_json(stdout, ifcs, count);
		return;
	}
	for (size_t i = 0; i < count; i++) {
		if (i)
			putchar('\n');
		show_print_text(stdout, &ifcs[i], (uint64_t)time(NULL));
	}
}

/* Every socket in dir that answers; one that does not is left over from a dead daemon. */
static int show_all(const char *dir, bool json)
{
	struct show_interface *ifcs = NULL;
	char **names;
	int n = list_sockets(dir, &names), status = 0;
	size_t count = 0;

	if (n < 0) {
		fprintf(stderr, "myvpn show: cannot read %s: %s\n", dir, strerror(-n));
		return 1;
	}
	if (n)
		ifcs = calloc((size_t)n, sizeof(*ifcs));
	for (int i = 0; i < n && ifcs; i++) {
		int ret = load_interface(dir, names[i], &ifcs[count]);

		if (!ret)
			count++;
		else if (!is_absent(ret)) {
			fprintf(stderr, "myvpn show: %s: %s\n", names[i], strerror(-ret));
			status = 1;
		}
	}
	if (n && !ifcs) {
		fprintf(stderr, "myvpn show: %s\n", strerror(ENOMEM));
		status = 1;
	}
	if (count || json)
		print_all(ifcs, count, json);
	for (size_t i = 0; i < count; i++)
		show_interface_free(&ifcs[i]);
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	free(ifcs);
	return status;
}

static int show_one(const char *dir, const char *name, bool json)
{
	struct show_interface ifc;
	int ret;

	if (!options_ifname_valid(name) || strchr(name, '%')) {
		fprintf(stderr, "myvpn show: invalid interface name '%s'\n", name);
		return 1;
	}
	ret = load_interface(dir, name, &ifc);
	if (is_absent(ret)) {
		fprintf(stderr, "myvpn show: no such interface: %s (nothing answers on %s/%s.sock)\n",
			name, dir, name);
		return 1;
	}
	if (ret) {
		fprintf(stderr, "myvpn show: %s: %s\n", name, strerror(-ret));
		return 1;
	}
	print_all(&ifc, 1, json);
	show_interface_free(&ifc);
	return 0;
}

/* A reply is text then "errno=N\n\n": *text_len is the text's length; returns the errno. */
static int split_errno(const struct uapi_buf *reply, size_t *text_len)
{
	char line[32];
	size_t end, start;
	int err;

	if (reply->len < 2)
		return -EBADMSG;
	end = start = reply->len - 2;
	while (start && reply->data[start - 1] != '\n')
		start--;
	if (end - start >= sizeof(line) || end - start < 7 || memcmp(reply->data + start, "errno=", 6))
		return -EBADMSG;
	memcpy(line, reply->data + start, end - start);
	line[end - start] = '\0';
	if (parse_errno(line + 6, &err))
		return -EBADMSG;
	*text_len = start;
	return err;
}

/* The daemon's Prometheus exposition (prometheus=1), printed without the closing errno line. */
static int print_prometheus(const char *dir, const char *name)
{
	struct uapi_buf reply = { 0 };
	char path[sizeof(((struct sockaddr_un *)0)->sun_path) + 1];
	size_t text_len = 0;
	int ret;

	if (snprintf(path, sizeof(path), "%s/%s.sock", dir, name) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	ret = exchange(path, "prometheus=1\n\n", &reply);
	if (!ret)
		ret = split_errno(&reply, &text_len);
	if (!ret)
		fwrite(reply.data, 1, text_len, stdout);
	uapi_buf_free(&reply);
	return ret;
}

/* The exposition of IFNAME, or of the only interface: families cannot repeat in one text. */
static int show_prometheus(const char *dir, const char *name)
{
	char **names = NULL;
	int n = 0, ret;

	if (!name) {
		n = list_sockets(dir, &names);
		if (n < 0) {
			fprintf(stderr, "myvpn show: cannot read %s: %s\n", dir, strerror(-n));
			return 1;
		}
		if (n != 1) {
			fprintf(stderr, "myvpn show: --prometheus needs IFNAME %s\n",
				n > 1 ? "when several interfaces run" : "(no interface found)");
			for (int i = 0; i < n; i++)
				free(names[i]);
			free(names);
			return 1;
		}
		name = names[0];
	}
	ret = print_prometheus(dir, name);
	if (ret)
		fprintf(stderr, "myvpn show: %s: %s\n", name,
			ret == -EPROTO ? "the daemon has no Prometheus metrics" : strerror(-ret));
	for (int i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return ret ? 1 : 0;
}

static void usage(FILE *out)
{
	fputs("Usage: myvpn show [IFNAME] [--json | --prometheus]\n"
	      "  Prints each interface (or IFNAME) as `wg show` does, with myvpn's drop counters;\n"
	      "  --json prints a JSON array instead; --prometheus the metrics of --metrics, once.\n",
	      out);
}

int show_main(int argc, char **argv)
{
	const char *name = NULL;
	bool json = false, prometheus = false;
	int status;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--json")) {
			json = true;
		} else if (!strcmp(argv[i], "--prometheus")) {
			prometheus = true;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (argv[i][0] == '-' || name) {
			fprintf(stderr, "myvpn show: unexpected argument '%s'\n", argv[i]);
			usage(stderr);
			return 1;
		} else {
			name = argv[i];
		}
	}
	if (prometheus && json) {
		fprintf(stderr, "myvpn show: --json and --prometheus are two different outputs; pick one\n");
		return 1;
	}
	if (prometheus)
		status = show_prometheus(UAPI_DEFAULT_DIR, name);
	else
		status = name ? show_one(UAPI_DEFAULT_DIR, name, json) : show_all(UAPI_DEFAULT_DIR, json);
	if (fflush(stdout) || ferror(stdout)) {
		fprintf(stderr, "myvpn show: cannot write the output: %s\n", strerror(errno));
		return 1;
	}
	return status;
}
