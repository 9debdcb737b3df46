/* Parsing of IP addresses, prefixes, ports and UDP endpoints (pure, except the name lookups). */
#include "addr.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int parse_ip(const char *text, int *family, void *addr)
{
	if (inet_pton(AF_INET, text, addr) == 1) {
		*family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, text, addr) == 1) {
		*family = AF_INET6;
		return 0;
	}
	return -EINVAL;
}

int addr_parse_prefix(const char *text, struct ip_prefix *out)
{
	char buf[INET6_ADDRSTRLEN + 8];
	char *slash, *end;
	long cidr;

	if (strlen(text) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, text);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	memset(out, 0, sizeof(*out));
	if (parse_ip(buf, &out->family, &out->addr) < 0)
		return -EINVAL;
	int max = out->family == AF_INET ? 32 : 128;
	if (!slash) {
		out->cidr = max;
		return 0;
	}
	errno = 0;
	cidr = strtol(slash + 1, &end, 10);
	if (errno || end == slash + 1 || *end || cidr < 0 || cidr > max)
		return -EINVAL;
	out->cidr = (uint8_t)cidr;
	return 0;
}

int addr_parse_port(const char *text, bool allow_zero, uint16_t *out)
{
	char *end;
	long port;

	errno = 0;
	port = strtol(text, &end, 10);
	if (errno || end == text || *end || port < (allow_zero ? 0 : 1) || port > 65535)
		return -ERANGE;
	*out = (uint16_t)port;
	return 0;
}

bool addr_looks_numeric(const char *text)
{
	return strchr(text, ':') || strspn(text, "0123456789.") == strlen(text);
}

bool addr_is_host_name(const char *text)
{
	size_t len = strlen(text);

	return len && len <= 253 && !addr_looks_numeric(text) &&
	       strspn(text, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.") == len;
}

int addr_parse_literal(const char *text, uint16_t port, union endpoint *out)
{
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, text, &out->in.sin_addr) == 1) {
		out->in.sin_family = AF_INET;
		out->in.sin_port = htons(port);
		return 0;
	}
	if (inet_pton(AF_INET6, text, &out->in6.sin6_addr) == 1) {
		out->in6.sin6_family = AF_INET6;
		out->in6.sin6_port = htons(port);
		return 0;
	}
	return -EINVAL;
}

/* Names are resolved; anything that looks like a literal must parse as one, so that a typo
 * such as 300.1.1.1 is reported at once instead of going to DNS. */
int addr_resolve(const char *host, uint16_t port, union endpoint *out, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_DGRAM }, *res;
	int ret;

	if (addr_parse_literal(host, port, out) == 0)
		return 0;
	if (addr_looks_numeric(host)) {
		snprintf(err, errlen, "invalid address '%s'", host);
		return -EINVAL;
	}
	ret = getaddrinfo(host, NULL, &hints, &res);
	if (ret) {
		snprintf(err, errlen, "cannot resolve '%s': %s", host, gai_strerror(ret));
		/* glibc's permanent failures (its NameResolver notes): no use asking again */
		return ret == EAI_NONAME || ret == EAI_FAIL || ret == EAI_NODATA ? -EHOSTUNREACH
										  : -EAGAIN;
	}
	memset(out, 0, sizeof(*out));
	memcpy(out, res->ai_addr, res->ai_addrlen);
	if (out->sa.sa_family == AF_INET)
		out->in.sin_port = htons(port);
	else
		out->in6.sin6_port = htons(port);
	freeaddrinfo(res);
	return 0;
}

/* As wg(8): WG_ENDPOINT_RESOLUTION_RETRIES, default 15, or "infinity". */
static long resolution_retries(void)
{
	const char *v = getenv("WG_ENDPOINT_RESOLUTION_RETRIES");
	char *end;
	long n;

	if (!v)
		return 15;
	if (!strcmp(v, "infinity"))
		return -1;
	n = strtol(v, &end, 10);
	return *v && !*end && n >= 0 ? n : 15;
}

int addr_resolve_patiently(const char *host, uint16_t port, union endpoint *out, char *err,
			   size_t errlen)
{
	long retries = resolution_retries();
	double delay_s = 1.0;
	int ret;

	while ((ret = addr_resolve(host, port, out, err, errlen)) == -EAGAIN && retries) {
		log_info("%s; trying again in %.1f s", err, delay_s);
		usleep((useconds_t)(delay_s * 1e6));
		delay_s = delay_s * 1.2 < 20.0 ? delay_s * 1.2 : 20.0;
		if (retries > 0)
			retries--;
	}
	return ret;
}

int endpoint_to_family(union endpoint *ep, int family)
{
	union endpoint conv = { 0 };

	if (ep->sa.sa_family == family)
		return 0;
	if (family == AF_INET6 && ep->sa.sa_family == AF_INET) {
		conv.in6.sin6_family = AF_INET6;
		conv.in6.sin6_port = ep->in.sin_port;
		conv.in6.sin6_addr.s6_addr[10] = 0xff;
		conv.in6.sin6_addr.s6_addr[11] = 0xff;
		memcpy(&conv.in6.sin6_addr.s6_addr[12], &ep->in.sin_addr, 4);
	} else if (family == AF_INET && ep->sa.sa_family == AF_INET6 &&
		   IN6_IS_ADDR_V4MAPPED(&ep->in6.sin6_addr)) {
		conv.in.sin_family = AF_INET;
		conv.in.sin_port = ep->in6.sin6_port;
		memcpy(&conv.in.sin_addr, &ep->in6.sin6_addr.s6_addr[12], 4);
	} else {
		return -EAFNOSUPPORT;
	}
	*ep = conv;
	return 0;
}

socklen_t endpoint_len(const union endpoint *ep)
{
	return ep->sa.sa_family == AF_INET6 ? sizeof(ep->in6) : sizeof(ep->in);
}

bool endpoint_is_set(const union endpoint *ep)
{
	return ep->sa.sa_family == AF_INET || ep->sa.sa_family == AF_INET6;
}

uint16_t endpoint_port(const union endpoint *ep)
{
	if (ep->sa.sa_family == AF_INET)
		return ntohs(ep->in.sin_port);
	return ep->sa.sa_family == AF_INET6 ? ntohs(ep->in6.sin6_port) : 0;
}

union endpoint endpoint_with_port(const union endpoint *ep, uint16_t port)
{
	union endpoint out = *ep;

	if (out.sa.sa_family == AF_INET)
		out.in.sin_port = htons(port);
	else if (out.sa.sa_family == AF_INET6)
		out.in6.sin6_port = htons(port);
	return out;
}

bool endpoint_equal(const union endpoint *a, const union endpoint *b)
{
	if (a->sa.sa_family != b->sa.sa_family)
		return false;
	if (a->sa.sa_family == AF_INET)
		return a->in.sin_port == b->in.sin_port &&
		       a->in.sin_addr.s_addr == b->in.sin_addr.s_addr;
	if (a->sa.sa_family == AF_INET6)
		return a->in6.sin6_port == b->in6.sin6_port &&
		       !memcmp(&a->in6.sin6_addr, &b->in6.sin6_addr, sizeof(struct in6_addr));
	return false;
}

const char *endpoint_format(const union endpoint *ep, char *buf, size_t len)
{
	char ip[INET6_ADDRSTRLEN];
	union endpoint tmp = *ep;

	if (tmp.sa.sa_family == AF_INET6)
		endpoint_to_family(&tmp, AF_INET);
	if (tmp.sa.sa_family == AF_INET) {
		inet_ntop(AF_INET, &tmp.in.sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(tmp.in.sin_port));
	} else if (tmp.sa.sa_family == AF_INET6) {
		inet_ntop(AF_INET6, &tmp.in6.sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, ntohs(tmp.in6.sin6_port));
	} else {
		snprintf(buf, len, "(none)");
	}
	return buf;
}

void addr_prefix_mask(struct ip_prefix *p)
{
	uint8_t *bytes = (uint8_t *)&p->addr;
	int len = p->family == AF_INET ? 4 : 16;

	for (int i = 0; i < len; i++) {
		int bits = p->cidr - i * 8;

		if (bits <= 0)
			bytes[i] = 0;
		else if (bits < 8)
			bytes[i] &= (uint8_t)(0xff << (8 - bits));
	}
}

int addr_parse_listen(const char *text, union endpoint *out)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(text, ':');
	size_t host_len;
	uint16_t port;

	if (!colon || addr_parse_port(colon + 1, false, &port))
		return -EINVAL;
	host_len = (size_t)(colon - text);
	if (host_len >= sizeof(host))
		return -EINVAL;
	memcpy(host, text, host_len);
	host[host_len] = '\0';
	if (host_len >= 2 && host[0] == '[' && host[host_len - 1] == ']') {
		host[host_len - 1] = '\0';
		return strchr(host + 1, ':') ? addr_parse_literal(host + 1, port, out) : -EINVAL;
	}
	if (strchr(host, ':'))
		return -EINVAL; /* IPv6 needs its brackets */
	return addr_parse_literal(host_len ? host : "0.0.0.0", port, out);
}
