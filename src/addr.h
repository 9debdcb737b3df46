/* Parsing of IP addresses, prefixes, ports and UDP endpoints (pure, except addr_resolve). */
#ifndef MYVPN_ADDR_H
#define MYVPN_ADDR_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct ip_prefix {
	int family; /* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} addr;
	uint8_t cidr;
};

/* A UDP endpoint; IPv4 may also be held as IPv4-mapped IPv6 for a dual-stack socket. */
union endpoint {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

int addr_parse_prefix(const char *text, struct ip_prefix *out);
int addr_parse_port(const char *text, bool allow_zero, uint16_t *out);
int addr_parse_literal(const char *text, uint16_t port, union endpoint *out);
bool addr_looks_numeric(const char *text);
/* A host name as a configuration gives one: 1-253 letters, digits, '-', '_' and dots, and
 * nothing that looks like an address. */
bool addr_is_host_name(const char *text);
/* A TCP listening address: "ADDR:PORT", "[V6]:PORT" or ":PORT" (any IPv4 address). Numeric
 * only, so that no resolver runs for a setting. 0 or -EINVAL. */
int addr_parse_listen(const char *text, union endpoint *out);
/* Clears the host bits: 10.1.2.3/8 becomes 10.0.0.0/8. */
void addr_prefix_mask(struct ip_prefix *p);
/* An address, or a name looked up: 0; -EAGAIN for a failure that may pass (no DNS server
 * reachable yet), -EHOSTUNREACH for one that will not (no such name), -EINVAL for a malformed
 * address; err says which. */
int addr_resolve(const char *host, uint16_t port, union endpoint *out, char *err, size_t errlen);
/* At start-up, as wg(8) does: a failure that may pass is retried, after 1 s and then 1.2 times
 * longer each time (at most 20 s), WG_ENDPOINT_RESOLUTION_RETRIES times (default 15;
 * "infinity": until it passes). */
int addr_resolve_patiently(const char *host, uint16_t port, union endpoint *out, char *err,
			   size_t errlen);

/* Convert between AF_INET and IPv4-mapped AF_INET6 so that one socket family can carry both. */
int endpoint_to_family(union endpoint *ep, int family);
socklen_t endpoint_len(const union endpoint *ep);
bool endpoint_equal(const union endpoint *a, const union endpoint *b);
bool endpoint_is_set(const union endpoint *ep);
/* The port, in host order (0 for an unset endpoint); and the same address at another port. */
uint16_t endpoint_port(const union endpoint *ep);
union endpoint endpoint_with_port(const union endpoint *ep, uint16_t port);
/* Prints "a.b.c.d:port" or "[v6]:port"; mapped addresses are shown as IPv4. */
const char *endpoint_format(const union endpoint *ep, char *buf, size_t len);

#endif
