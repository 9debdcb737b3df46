/* Parser for wg-quick configuration files: pure, except config_read_file, which only reads. */
#include "config.h"
#include "codel.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "transport.h"
#include "wgcrypto.h"

/* Longest piece of user text quoted in a message, so that the message always fits. */
#define QUOTE "'%.64s'"

enum section { SECTION_NONE, SECTION_INTERFACE, SECTION_PEER };

struct parser {
	struct config cfg; /* built here and moved to *out only when the whole text parsed */
	size_t peer_cap;
	size_t allowed_ip_cap; /* of the open peer's allowed_ips */
	enum section section;
	int line;
	bool peer_has_key; /* the open [Peer] has had a PublicKey */
	int dns_line; /* the first DNS line, where an incomplete DNS setting is reported */
	struct config_error *err;
};

struct key_handler {
	const char *name;
	int (*parse)(struct parser *p, char *value);
};

static void set_error(struct config_error *err, int line, const char *fmt, va_list ap)
{
	if (!err)
		return;
	err->line = line;
	vsnprintf(err->message, sizeof(err->message), fmt, ap);
	/* quoted input may hold control characters; keep the message one printable line */
	for (char *c = err->message; *c; c++)
		if (!isprint((unsigned char)*c))
			*c = '?';
}

__attribute__((format(printf, 3, 4)))
static int fail_at(struct parser *p, int line, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_error(p->err, line, fmt, ap);
	va_end(ap);
	return -EINVAL;
}

#define fail(p, ...) fail_at((p), (p)->line, __VA_ARGS__)

static int fail_nomem(struct parser *p)
{
	fail(p, "out of memory");
	return -ENOMEM;
}

static char *trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		end--;
	*end = '\0';
	return s;
}

static bool all_of(const char *s, const char *set)
{
	return *s && s[strspn(s, set)] == '\0';
}

/*
 * Grows *arr to hold one more element. Not realloc: the old block may hold preshared keys,
 * and realloc could free it without wiping.
 */
static int grow(void **arr, size_t *cap, size_t count, size_t elem)
{
	size_t new_cap = *cap ? *cap * 2 : 4;
	void *bigger;

	if (count < *cap)
		return 0;
	if (new_cap > SIZE_MAX / elem)
		return -ENOMEM;
	bigger = calloc(new_cap, elem);
	if (!bigger)
		return -ENOMEM;
	if (*arr) {
		memcpy(bigger, *arr, count * elem);
		wgcrypto_wipe(*arr, count * elem);
		free(*arr);
	}
	*arr = bigger;
	*cap = new_cap;
	return 0;
}

/* Unsigned decimal, or hex after "0x" when hex is set (as wg reads FwMark); no sign or spaces. */
static int parse_number(struct parser *p, const char *name, const char *value, bool hex,
			unsigned long min, unsigned long max, unsigned long *out)
{
	bool is_hex = hex && (value[0] == '0') && (value[1] == 'x' || value[1] == 'X');
	const char *digits = is_hex ? value + 2 : value;
	unsigned long n;

	if (!all_of(digits, is_hex ? "0123456789abcdefABCDEF" : "0123456789"))
		return fail(p, "%s " QUOTE " is not a number", name, value);
	errno = 0;
	n = strtoul(digits, NULL, is_hex ? 16 : 10);
	if (errno == ERANGE || n < min || n > max)
		return fail(p, "%s " QUOTE " out of range (%lu-%lu)", name, value, min, max);
	*out = n;
	return 0;
}

/* addr_parse_prefix would let strtol accept "+24" or " 24" as a CIDR; wg does not. */
static int parse_prefix(const char *text, struct ip_prefix *out)
{
	const char *slash = strchr(text, '/');

	if (slash && (!all_of(slash + 1, "0123456789") || strlen(slash + 1) > 3))
		return -EINVAL;
	return addr_parse_prefix(text, out);
}

/* Comma-separated prefixes; an empty value names none, as in wg. */
static int parse_prefix_list(struct parser *p, const char *name, char *value,
			     int (*add)(struct parser *p, const struct ip_prefix *prefix))
{
	char *item, *rest = value;
	struct ip_prefix prefix;
	int ret;

	if (!*value)
		return 0;
	while ((item = strsep(&rest, ",")) != NULL) {
		item = trim(item);
		if (parse_prefix(item, &prefix) < 0)
			return fail(p, "%s: invalid prefix " QUOTE " (expected IP or IP/CIDR)", name,
				    item);
		ret = add(p, &prefix);
		if (ret)
			return ret;
	}
	return 0;
}

static struct config_peer *current_peer(struct parser *p)
{
	return &p->cfg.peers[p->cfg.peer_count - 1];
}

/* [Interface] keys */

static int set_private_key(struct parser *p, char *value)
{
	/* the value is never quoted back: it may be a nearly valid private key */
	if (!wgcrypto_key_from_base64(p->cfg.private_key, value))
		return fail(p, "PrivateKey is not a valid key (expected 44 characters of base64)");
	p->cfg.has_private_key = true;
	return 0;
}

static int set_listen_port(struct parser *p, char *value)
{
	unsigned long n;
	int ret = parse_number(p, "ListenPort", value, false, 0, 65535, &n);

	if (ret)
		return ret;
	p->cfg.listen_port = (uint16_t)n;
	p->cfg.has_listen_port = true;
	return 0;
}

static int set_tcp_port(struct parser *p, char *value)
{
	unsigned long n;
	int ret = parse_number(p, "TcpPort", value, false, 0, 65535, &n);

	if (!ret) {
		p->cfg.tcp_port = (uint16_t)n;
		p->cfg.has_tcp_port = true;
	}
	return ret;
}

static int set_transport(struct parser *p, char *value)
{
	static const char *const names[] = { [TRANSPORT_MODE_AUTO] = "auto",
					      [TRANSPORT_MODE_UDP] = "udp",
					      [TRANSPORT_MODE_TCP] = "tcp" };

	for (int i = 0; i < 3; i++) {
		if (!strcasecmp(value, names[i])) {
			p->cfg.transport = i;
			return 0;
		}
	}
	return fail(p, "Transport must be udp, tcp or auto, not '%s'", value);
}

static int set_fwmark(struct parser *p, char *value)
{
	unsigned long n = 0;
	int ret;

	if (strcasecmp(value, "off") != 0) {
		ret = parse_number(p, "FwMark", value, true, 0, UINT32_MAX, &n);
		if (ret)
			return ret;
	}
	p->cfg.fwmark = (uint32_t)n;
	return 0;
}

static int add_address(struct parser *p, const struct ip_prefix *prefix)
{
	if (p->cfg.address_count >= CONFIG_MAX_ADDRESSES)
		return fail(p, "too many addresses (at most %d)", CONFIG_MAX_ADDRESSES);
	p->cfg.addresses[p->cfg.address_count++] = *prefix;
	return 0;
}

static int add_addresses(struct parser *p, char *value)
{
	return parse_prefix_list(p, "Address", value, add_address);
}

static int add_dns(struct parser *p, char *value)
{
	char err[128];

	if (dns_parse_list(&p->cfg.dns, value, err, sizeof(err)))
		return fail(p, "%s", err);
	if (!p->dns_line)
		p->dns_line = p->line;
	return 0;
}

/* DNS accumulates over lines: whether it is complete shows only at the end of the file. */
static int check_dns(struct parser *p)
{
	char err[128];

	if (!dns_settings_check(&p->cfg.dns, err, sizeof(err)))
		return 0;
	p->line = p->dns_line;
	return fail(p, "%s", err);
}

static int set_workers(struct parser *p, char *value)
{
	unsigned long n;
	int ret = parse_number(p, "Workers", value, false, 1, CONFIG_WORKERS_MAX, &n);

	if (ret)
		return ret;
	p->cfg.workers = (int)n;
	return 0;
}

/* myvpn's own: queue management's target (the command line's --queue-target wins). */
static int set_queue_target(struct parser *p, char *value)
{
	if (codel_parse_target(value, &p->cfg.queue_target_ns))
		return fail(p, "QueueTarget '%s' is not a time (e.g. 1, 0.5ms, 250us, or off; 0.01-1000 ms)",
			    value);
	p->cfg.has_queue_target = true;
	return 0;
}

/* myvpn's own: where Prometheus scrapes (the command line's --metrics wins). */
static int set_metrics(struct parser *p, char *value)
{
	if (addr_parse_listen(value, &p->cfg.metrics))
		return fail(p, "Metrics '%s' is not ADDRESS:PORT (numeric, e.g. 127.0.0.1:9586)", value);
	p->cfg.has_metrics = true;
	return 0;
}

static int set_mtu(struct parser *p, char *value)
{
	unsigned long n;
	int ret = parse_number(p, "MTU", value, false, CONFIG_MTU_MIN, CONFIG_MTU_MAX, &n);

	if (ret)
		return ret;
	p->cfg.mtu = (int)n;
	return 0;
}

/* Gateway = yes | no | IFNAME (the uplink; yes takes the default route's interface). */
static int set_gateway(struct parser *p, char *value)
{
	static const char *const yes[] = { "yes", "true", "on" }, *const no[] = { "no", "false", "off" };
	size_t len = strlen(value);

	p->cfg.gateway_uplink[0] = '\0';
	for (size_t i = 0; i < 3; i++) {
		if (!strcasecmp(value, no[i])) {
			p->cfg.gateway = false;
			return 0;
		}
		if (!strcasecmp(value, yes[i])) {
			p->cfg.gateway = true;
			return 0;
		}
	}
	if (!len || len >= sizeof(p->cfg.gateway_uplink) ||
	    strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != len)
		return fail(p, "Gateway " QUOTE " is neither yes, no nor an interface name", value);
	strcpy(p->cfg.gateway_uplink, value);
	p->cfg.gateway = true;
	return 0;
}

/* PortMapping = yes | no (myvpn's own): ask the NAT router for a mapping of our ports. */
static int set_port_mapping(struct parser *p, char *value)
{
	static const char *const yes[] = { "yes", "true", "on" }, *const no[] = { "no", "false", "off" };

	for (size_t i = 0; i < 3; i++) {
		if (!strcasecmp(value, yes[i]) || !strcasecmp(value, no[i])) {
			p->cfg.port_mapping = !strcasecmp(value, yes[i]);
			p->cfg.has_port_mapping = true;
			return 0;
		}
	}
	return fail(p, "PortMapping " QUOTE " is neither yes nor no", value);
}

/* NatKeepalive = SECONDS | off (myvpn's own): behind NAT, a rendezvous client's keepalive to R
 * and its direct peers. Stored plus one, so that 0 is "unset". */
static int set_nat_keepalive(struct parser *p, char *value)
{
	unsigned long n = 0;
	int ret = 0;

	if (strcasecmp(value, "off"))
		ret = parse_number(p, "NatKeepalive", value, false, 0, 65535, &n);
	if (ret)
		return ret;
	p->cfg.nat_keepalive = (int)n + 1;
	return 0;
}

/* myvpn's own: the user to become after set-up; looked up by the caller. */
static int set_user(struct parser *p, char *value)
{
	size_t len = strlen(value);

	if (!len || len >= sizeof(p->cfg.user) ||
	    strspn(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-") != len)
		return fail(p, "User " QUOTE " is not a user name", value);
	strcpy(p->cfg.user, value);
	return 0;
}

/* myvpn's own: "serve" on the introducing node, its public key on the nodes it introduces. */
static int set_rendezvous(struct parser *p, char *value)
{
	if (!strcasecmp(value, "serve")) {
		p->cfg.rendezvous = CONFIG_RENDEZVOUS_SERVE;
		return 0;
	}
	if (!wgcrypto_key_from_base64(p->cfg.rendezvous_key, value))
		return fail(p, "Rendezvous " QUOTE " is neither \"serve\" nor a public key", value);
	p->cfg.rendezvous = CONFIG_RENDEZVOUS_CLIENT;
	return 0;
}

/* Table = off: no routes at all, so no full tunnel either; auto: wg-quick's default; else a
 * table's number or name, resolved by the caller. */
static int set_table(struct parser *p, char *value)
{
	p->cfg.table_off = !strcasecmp(value, "off");
	p->cfg.table[0] = '\0';
	if (p->cfg.table_off || !strcasecmp(value, "auto"))
		return 0;
	if (strlen(value) >= sizeof(p->cfg.table) ||
	    !all_of(value, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-."))
		return fail(p, "Table " QUOTE " is not off, auto, a number or a table name", value);
	strcpy(p->cfg.table, value);
	p->cfg.table_line = p->line;
	return 0;
}

/* wg-quick's own keys: its shell runs them, myvpn -c does not; the caller warns (first line). */
static int note_wg_quick_command(struct parser *p, char *value)
{
	if (!p->cfg.wg_quick_command_line)
		p->cfg.wg_quick_command_line = p->line;
	return 0;
}

static int check_save_config(struct parser *p, char *value)
{
	if (strcasecmp(value, "true") != 0 && strcasecmp(value, "false") != 0)
		return fail(p, "SaveConfig " QUOTE " is neither true nor false", value);
	if (!strcasecmp(value, "true"))
		p->cfg.save_config_line = p->line;
	return 0;
}

/* [Peer] keys */

static int set_public_key(struct parser *p, char *value)
{
	struct config_peer *peer = current_peer(p);

	if (!wgcrypto_key_from_base64(peer->public_key, value))
		return fail(p, "PublicKey is not a valid key (expected 44 characters of base64)");
	for (size_t i = 0; i + 1 < p->cfg.peer_count; i++)
		if (!memcmp(p->cfg.peers[i].public_key, peer->public_key, 32))
			return fail(p, "duplicate PublicKey: the peer on line %d has the same key",
				    p->cfg.peers[i].line);
	p->peer_has_key = true;
	return 0;
}

static int set_psk(struct parser *p, char *value)
{
	struct config_peer *peer = current_peer(p);

	if (!wgcrypto_key_from_base64(peer->psk, value))
		return fail(p, "PresharedKey is not a valid key (expected 44 characters of base64)");
	peer->has_psk = true;
	return 0;
}

/* The inside of [...]: only a literal, since addr_resolve sends nothing with ':' to DNS. */
static int check_ipv6_host(struct parser *p, const char *host)
{
	struct in6_addr addr;

	if (inet_pton(AF_INET6, host, &addr) != 1)
		return fail(p, "Endpoint host '[%.64s]' is not an IPv6 address", host);
	return 0;
}

/* A name or a dotted IPv4 address; a typo such as 300.1.1.1 is caught here, not in DNS. */
static int check_plain_host(struct parser *p, const char *host)
{
	struct in_addr addr;

	if (strchr(host, ':'))
		return fail(p, "Endpoint " QUOTE ": an IPv6 address needs brackets, as in "
			    "[2001:db8::1]:51820", host);
	if (all_of(host, "0123456789.")) {
		if (inet_pton(AF_INET, host, &addr) != 1)
			return fail(p, "Endpoint host " QUOTE " is not an IPv4 address", host);
		return 0;
	}
	if (strlen(host) > CONFIG_MAX_HOST_LEN ||
	    !all_of(host, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-_"))
		return fail(p, "Endpoint host " QUOTE " is not a valid host name", host);
	return 0;
}

/* Splits "host:port" or "[v6]:port" in place; the port is after the last ':' as in wg. */
static int split_endpoint(struct parser *p, char *value, char **host, char **port)
{
	char *sep;

	if (value[0] == '[') {
		sep = strchr(value, ']');
		if (!sep)
			return fail(p, "Endpoint " QUOTE " has no closing ']'", value);
		*sep++ = '\0';
		*host = value + 1;
		if (*sep != ':')
			return fail(p, "Endpoint has no port (expected [IPv6]:PORT)");
		*port = sep + 1;
		return check_ipv6_host(p, *host);
	}
	sep = strrchr(value, ':');
	if (!sep)
		return fail(p, "Endpoint " QUOTE " has no port (expected HOST:PORT)", value);
	*sep = '\0';
	*host = value;
	*port = sep + 1;
	if (!**host)
		return fail(p, "Endpoint has no host (expected HOST:PORT)");
	return check_plain_host(p, *host);
}

static int set_endpoint(struct parser *p, char *value)
{
	struct config_peer *peer = current_peer(p);
	char *host = NULL, *port = NULL, *copy;
	unsigned long n;
	int ret;

	ret = split_endpoint(p, value, &host, &port);
	if (!ret && !*port)
		ret = fail(p, "Endpoint has no port (expected HOST:PORT)");
	if (!ret)
		ret = parse_number(p, "Endpoint port", port, false, 1, 65535, &n);
	if (ret)
		return ret;
	copy = strdup(host);
	if (!copy)
		return fail_nomem(p);
	free(peer->endpoint_host);
	peer->endpoint_host = copy;
	peer->endpoint_port = (uint16_t)n;
	peer->has_endpoint = true;
	peer->endpoint_line = p->line;
	return 0;
}

static int add_allowed_ip(struct parser *p, const struct ip_prefix *prefix)
{
	struct config_peer *peer = current_peer(p);

	if (grow((void **)&peer->allowed_ips, &p->allowed_ip_cap, peer->allowed_ip_count,
		 sizeof(*prefix)))
		return fail_nomem(p);
	peer->allowed_ips[peer->allowed_ip_count++] = *prefix;
	return 0;
}

static int add_allowed_ips(struct parser *p, char *value)
{
	return parse_prefix_list(p, "AllowedIPs", value, add_allowed_ip);
}

static int set_keepalive(struct parser *p, char *value)
{
	unsigned long n = 0;
	int ret;

	if (strcasecmp(value, "off") != 0) {
		ret = parse_number(p, "PersistentKeepalive", value, false, 0, 65535, &n);
		if (ret)
			return ret;
	}
	current_peer(p)->persistent_keepalive = (uint16_t)n;
	return 0;
}

/* TcpPort in a [Peer]: the server listens on TCP at another port than its UDP one. */
static int set_peer_tcp_port(struct parser *p, char *value)
{
	unsigned long n;
	int ret = parse_number(p, "TcpPort", value, false, 1, 65535, &n);

	if (!ret)
		current_peer(p)->tcp_port = (uint16_t)n;
	return ret;
}

static const struct key_handler interface_keys[] = {
	{ "PrivateKey", set_private_key },
	{ "ListenPort", set_listen_port },
	{ "FwMark", set_fwmark },
	{ "TcpPort", set_tcp_port },
	{ "Transport", set_transport },
	{ "Address", add_addresses },
	{ "MTU", set_mtu },
	{ "Workers", set_workers },
	{ "QueueTarget", set_queue_target },
	{ "Metrics", set_metrics },
	{ "DNS", add_dns },
	{ "Table", set_table },
	{ "Gateway", set_gateway },
	{ "User", set_user },
	{ "Rendezvous", set_rendezvous },
	{ "NatKeepalive", set_nat_keepalive },
	{ "PortMapping", set_port_mapping },
	{ "PreUp", note_wg_quick_command },
	{ "PostUp", note_wg_quick_command },
	{ "PreDown", note_wg_quick_command },
	{ "PostDown", note_wg_quick_command },
	{ "SaveConfig", check_save_config },
	{ NULL, NULL },
};

static const struct key_handler peer_keys[] = {
	{ "PublicKey", set_public_key },
	{ "PresharedKey", set_psk },
	{ "Endpoint", set_endpoint },
	{ "AllowedIPs", add_allowed_ips },
	{ "PersistentKeepalive", set_keepalive },
	{ "TcpPort", set_peer_tcp_port },
	{ NULL, NULL },
};

/* Sections */

/* A peer is complete when the next section starts or the text ends. */
static int close_section(struct parser *p)
{
	if (p->section == SECTION_PEER && !p->peer_has_key)
		return fail_at(p, current_peer(p)->line, "[Peer] section has no PublicKey");
	return 0;
}

static int open_peer(struct parser *p)
{
	if (grow((void **)&p->cfg.peers, &p->peer_cap, p->cfg.peer_count, sizeof(*p->cfg.peers)))
		return fail_nomem(p);
	memset(&p->cfg.peers[p->cfg.peer_count], 0, sizeof(*p->cfg.peers));
	p->cfg.peers[p->cfg.peer_count++].line = p->line;
	p->section = SECTION_PEER;
	p->peer_has_key = false;
	p->allowed_ip_cap = 0;
	return 0;
}

static int parse_section(struct parser *p, char *line)
{
	size_t len = strlen(line);
	char *name;
	int ret;

	if (line[len - 1] != ']')
		return fail(p, "section header " QUOTE " has no closing ']'", line);
	line[len - 1] = '\0';
	name = trim(line + 1);
	ret = close_section(p);
	if (ret)
		return ret;
	if (!strcasecmp(name, "Interface")) {
		p->section = SECTION_INTERFACE;
		return 0;
	}
	if (!strcasecmp(name, "Peer"))
		return open_peer(p);
	return fail(p, "unknown section '[%.64s]' (expected [Interface] or [Peer])", name);
}

/* Lines */

static int parse_key_value(struct parser *p, char *line)
{
	const struct key_handler *h;
	char *eq = strchr(line, '='), *key;

	if (!eq)
		return fail(p, "missing '=' in " QUOTE " (expected Key = Value)", line);
	*eq = '\0';
	key = trim(line);
	if (!*key)
		return fail(p, "missing key before '='");
	if (p->section == SECTION_NONE)
		return fail(p, QUOTE " is outside any section (add [Interface] or [Peer] above it)",
			    key);
	h = p->section == SECTION_PEER ? peer_keys : interface_keys;
	for (; h->name; h++)
		if (!strcasecmp(key, h->name))
			return h->parse(p, trim(eq + 1));
	return fail(p, "unknown key " QUOTE " in %s", key,
		    p->section == SECTION_PEER ? "[Peer]" : "[Interface]");
}

static int parse_line(struct parser *p, char *line)
{
	char *comment = strchr(line, '#');

	if (comment)
		*comment = '\0';
	line = trim(line);
	if (!*line)
		return 0;
	if (*line == '[')
		return parse_section(p, line);
	return parse_key_value(p, line);
}

/* text holds len bytes and a NUL after them; lines are cut in place. */
static int parse_text(struct parser *p, char *text, size_t len)
{
	char *line = text, *end = text + len;
	int ret;

	while (line < end) {
		char *nl = memchr(line, '\n', (size_t)(end - line));
		size_t n = nl ? (size_t)(nl - line) : (size_t)(end - line);

		line[n] = '\0';
		if (p->line == INT_MAX)
			return fail(p, "too many lines");
		p->line++;
		if (strlen(line) != n)
			return fail(p, "NUL character in line");
		ret = parse_line(p, line);
		if (ret)
			return ret;
		line += n + 1;
	}
	ret = close_section(p);
	return ret ? ret : check_dns(p);
}

int config_parse(struct config *out, const char *buf, size_t len, struct config_error *err)
{
	struct parser p = { .err = err };
	char *text;
	int ret;

	memset(out, 0, sizeof(*out));
	if (err)
		memset(err, 0, sizeof(*err));
	text = len < SIZE_MAX ? malloc(len + 1) : NULL;
	if (!text)
		return fail_nomem(&p);
	memcpy(text, buf, len);
	text[len] = '\0';
	ret = parse_text(&p, text, len);
	wgcrypto_wipe(text, len);
	free(text);
	if (ret) {
		config_free(&p.cfg);
		return ret;
	}
	*out = p.cfg;
	wgcrypto_wipe(&p.cfg, sizeof(p.cfg));
	return 0;
}

/* File */

__attribute__((format(printf, 3, 4)))
static int file_fail(struct config_error *err, int ret, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	set_error(err, 0, fmt, ap);
	va_end(ap);
	return ret;
}

/*
 * Reads to EOF into buf, which holds CONFIG_MAX_FILE_SIZE + 1 bytes so that a file too big
 * is detectable. *len counts what was read even on failure, so that the caller can wipe it.
 */
static int read_all(int fd, char *buf, size_t *len, struct config_error *err)
{
	ssize_t n;

	*len = 0;
	while (*len <= CONFIG_MAX_FILE_SIZE) {
		n = read(fd, buf + *len, CONFIG_MAX_FILE_SIZE + 1 - *len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return file_fail(err, -errno, "cannot read: %s", strerror(errno));
		if (n == 0)
			return 0;
		*len += (size_t)n;
	}
	return file_fail(err, -EFBIG, "larger than %d bytes", CONFIG_MAX_FILE_SIZE);
}

static int open_config(const char *path, bool *exposed, struct config_error *err)
{
	struct stat st;
	int fd, ret;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return file_fail(err, -errno, "cannot open: %s", strerror(errno));
	ret = fstat(fd, &st) < 0 ? -errno : S_ISDIR(st.st_mode) ? -EISDIR : 0;
	if (ret) {
		close(fd);
		return file_fail(err, ret, "cannot read: %s", strerror(-ret));
	}
	/* only a regular file's mode says who else can read the keys; a pipe's says nothing */
	if (exposed)
		*exposed = S_ISREG(st.st_mode) && (st.st_mode & (S_IRGRP | S_IROTH));
	return fd;
}

int config_read_file(struct config *out, const char *path, bool *exposed,
		     struct config_error *err)
{
	size_t len = 0;
	char *buf;
	int fd, ret;

	memset(out, 0, sizeof(*out));
	if (err)
		memset(err, 0, sizeof(*err));
	if (exposed)
		*exposed = false;
	fd = open_config(path, exposed, err);
	if (fd < 0)
		return fd;
	buf = malloc(CONFIG_MAX_FILE_SIZE + 1);
	if (!buf) {
		close(fd);
		return file_fail(err, -ENOMEM, "out of memory");
	}
	ret = read_all(fd, buf, &len, err);
	close(fd);
	if (!ret)
		ret = config_parse(out, buf, len, err);
	wgcrypto_wipe(buf, len);
	free(buf);
	return ret;
}

void config_free(struct config *cfg)
{
	for (size_t i = 0; i < cfg->peer_count; i++) {
		free(cfg->peers[i].endpoint_host);
		free(cfg->peers[i].allowed_ips);
	}
	if (cfg->peers)
		wgcrypto_wipe(cfg->peers, cfg->peer_count * sizeof(*cfg->peers));
	free(cfg->peers);
	wgcrypto_wipe(cfg, sizeof(*cfg));
	memset(cfg, 0, sizeof(*cfg));
}
