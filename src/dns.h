/* The tunnel's resolver (--dns, DNS = in -c files): set while the tunnel runs, given back on
 * exit.
 *
 * Where systemd-resolved owns /etc/resolv.conf (its stub, 127.0.0.53, or a link into
 * /run/systemd/resolve/), the servers are set on the tunnel's link over D-Bus (sd-bus), with
 * "~." so that every name goes to them, and reverted on exit (resolved also forgets them when
 * the interface goes). Elsewhere /etc/resolv.conf (the file a link points to) is rewritten and
 * its old content put back on exit, byte for byte, through a descriptor opened at set-up: the
 * running daemon needs no right to /etc. A copy of the old content waits in
 * DNS_BACKUP_DIR/IFNAME.resolv.conf so that `myvpn down IFNAME` can restore it after a crash.
 *
 * resolvconf(8) is not run: the sandbox forbids exec, so it could not be undone at exit. On a
 * system where resolvconf generates /etc/resolv.conf, the generated file is rewritten and
 * restored like any other (until resolvconf regenerates it).
 */
#ifndef MYVPN_DNS_H
#define MYVPN_DNS_H

#include "addr.h"

#include <stdbool.h>
#include <stddef.h>

enum {
	DNS_MAX_SERVERS = 8,
	DNS_MAX_SEARCH = 6,
	DNS_MAX_NAME = 253,
	DNS_MAX_FILE = 65536, /* a larger resolv.conf is refused rather than cut */
};

#define DNS_BACKUP_DIR "/run/myvpn"

/* What --dns and DNS = say: IP addresses are servers, anything else a search domain, as in
 * wg-quick. */
struct dns_settings {
	struct ip_prefix servers[DNS_MAX_SERVERS]; /* cidr unused */
	size_t server_count;
	char search[DNS_MAX_SEARCH][DNS_MAX_NAME + 1];
	size_t search_count;
};

struct dns {
	int fd;             /* /etc/resolv.conf while we own it, else -1 */
	char *saved;        /* its content before */
	size_t saved_len;
	void *bus;          /* sd_bus *: systemd-resolved holds our servers */
	unsigned int ifindex;
	char backup[sizeof(DNS_BACKUP_DIR) + 32];
};

/* Adds the comma- or space-separated items of text (pure): 0, or -EINVAL with err set. */
int dns_parse_list(struct dns_settings *s, const char *text, char *err, size_t errlen);
/* Whether the settings can be applied (pure): search domains need a server to ask. 0, or
 * -EINVAL with err set. */
int dns_settings_check(const struct dns_settings *s, char *err, size_t errlen);
/* The resolv.conf we write (pure): its length, or -ENOSPC. */
int dns_resolv_conf(char *buf, size_t len, const struct dns_settings *s, const char *ifname);

/* Sets the resolver. 0 or -errno with err holding one line; on failure nothing changed. */
int dns_open(struct dns *d, const struct dns_settings *s, const char *ifname,
	     unsigned int ifindex, char *err, size_t errlen);
/* Gives the old resolver back (a no-op when dns_open did not succeed). */
void dns_close(struct dns *d);
/* `myvpn down IFNAME`: puts back the resolv.conf a crashed run kept, if the file still holds
 * what that run wrote. 0 when restored, -ENOENT when there was nothing to do. */
int dns_remove_stale(const char *ifname);

#endif
