/* The tunnel's resolver: systemd-resolved over D-Bus, or /etc/resolv.conf rewritten and put
 * back. See dns.h for the choice. */
#include "dns.h"
#include "log.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <systemd/sd-bus.h>
#include <unistd.h>

#define RESOLV_CONF "/etc/resolv.conf"
#define RESOLVED_DEST "org.freedesktop.resolve1"
#define RESOLVED_PATH "/org/freedesktop/resolve1"
#define RESOLVED_IFACE "org.freedesktop.resolve1.Manager"

static int fail(char *err, size_t errlen, int ret, const char *fmt, const char *arg)
{
	snprintf(err, errlen, fmt, arg);
	return ret;
}

/* ---- settings (pure) ---- */

static bool name_valid(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > DNS_MAX_NAME || s[0] == '.' || s[0] == '-')
		return false;
	for (; *s; s++)
		if (!(*s >= 'a' && *s <= 'z') && !(*s >= 'A' && *s <= 'Z') &&
		    !(*s >= '0' && *s <= '9') && *s != '.' && *s != '-' && *s != '_')
			return false;
	return true;
}

static int add_item(struct dns_settings *s, const char *item, char *err, size_t errlen)
{
	struct ip_prefix a = { 0 };

	if (inet_pton(AF_INET, item, &a.addr.v4) == 1 || inet_pton(AF_INET6, item, &a.addr.v6) == 1) {
		if (s->server_count == DNS_MAX_SERVERS)
			return fail(err, errlen, -EINVAL, "too many DNS servers (at most %s)", "8");
		a.family = strchr(item, ':') ? AF_INET6 : AF_INET;
		s->servers[s->server_count++] = a;
		return 0;
	}
	if (!name_valid(item))
		return fail(err, errlen, -EINVAL, "invalid DNS server or search domain '%s'", item);
	if (s->search_count == DNS_MAX_SEARCH)
		return fail(err, errlen, -EINVAL, "too many DNS search domains (at most %s)", "6");
	strcpy(s->search[s->search_count++], item);
	return 0;
}

int dns_parse_list(struct dns_settings *s, const char *text, char *err, size_t errlen)
{
	char item[DNS_MAX_NAME + 2];

	for (const char *p = text; *p;) {
		size_t n = strcspn(p, ", \t");

		if (n >= sizeof(item))
			return fail(err, errlen, -EINVAL, "DNS item too long: '%.40s...'", p);
		if (n) {
			memcpy(item, p, n);
			item[n] = 0;
			int ret = add_item(s, item, err, errlen);

			if (ret)
				return ret;
		}
		p += n;
		p += strspn(p, ", \t");
	}
	return 0;
}

/* The first line names the interface: `myvpn down` restores only a file that still says so. */
static int header(char *buf, size_t len, const char *ifname)
{
	return snprintf(buf, len, "# myvpn %s: the tunnel's resolvers until it stops\n", ifname);
}

int dns_resolv_conf(char *buf, size_t len, const struct dns_settings *s, const char *ifname)
{
	size_t at = (size_t)header(buf, len, ifname);

	for (size_t i = 0; i < s->server_count && at < len; i++) {
		char a[INET6_ADDRSTRLEN];

		inet_ntop(s->servers[i].family, &s->servers[i].addr, a, sizeof(a));
		at += (size_t)snprintf(buf + at, len - at, "nameserver %s\n", a);
	}
	for (size_t i = 0; i < s->search_count && at < len; i++)
		at += (size_t)snprintf(buf + at, len - at, "%s%s%s", i ? " " : "search ",
				       s->search[i], i + 1 == s->search_count ? "\n" : "");
	return at < len ? (int)at : -ENOSPC;
}

/* ---- systemd-resolved ---- */

/* resolved owns the file: a link into its directory, or its stub address inside. */
static bool resolved_owns(const char *content)
{
	char target[256];
	ssize_t n = readlink(RESOLV_CONF, target, sizeof(target) - 1);

	if (n > 0) {
		target[n] = 0;
		if (strstr(target, "/run/systemd/resolve/"))
			return true;
	}
	return content && strstr(content, "nameserver 127.0.0.53");
}

static int append_servers(sd_bus_message *m, const struct dns_settings *s)
{
	int r = sd_bus_message_open_container(m, 'a', "(iay)");

	for (size_t i = 0; r >= 0 && i < s->server_count; i++) {
		const struct ip_prefix *a = &s->servers[i];

		r = sd_bus_message_open_container(m, 'r', "iay");
		if (r >= 0)
			r = sd_bus_message_append(m, "i", a->family);
		if (r >= 0)
			r = sd_bus_message_append_array(m, 'y', &a->addr,
							a->family == AF_INET ? 4 : 16);
		if (r >= 0)
			r = sd_bus_message_close_container(m);
	}
	return r >= 0 ? sd_bus_message_close_container(m) : r;
}

static int append_domains(sd_bus_message *m, const struct dns_settings *s)
{
	int r = sd_bus_message_open_container(m, 'a', "(sb)");

	for (size_t i = 0; r >= 0 && i < s->search_count; i++)
		r = sd_bus_message_append(m, "(sb)", s->search[i], 0);
	if (r >= 0)
		r = sd_bus_message_append(m, "(sb)", "~.", 1); /* every name, not just these */
	return r >= 0 ? sd_bus_message_close_container(m) : r;
}

static int resolved_call(sd_bus *bus, const char *method, unsigned int ifindex,
			 const struct dns_settings *s, char *err, size_t errlen)
{
	sd_bus_message *m = NULL;
	sd_bus_error e = SD_BUS_ERROR_NULL;
	int r = sd_bus_message_new_method_call(bus, &m, RESOLVED_DEST, RESOLVED_PATH,
					       RESOLVED_IFACE, method);

	if (r >= 0)
		r = sd_bus_message_append(m, "i", (int)ifindex);
	if (r >= 0 && !strcmp(method, "SetLinkDNS"))
		r = append_servers(m, s);
	else if (r >= 0 && !strcmp(method, "SetLinkDomains"))
		r = append_domains(m, s);
	else if (r >= 0 && !strcmp(method, "SetLinkDefaultRoute"))
		r = sd_bus_message_append(m, "b", 1);
	if (r >= 0)
		r = sd_bus_call(bus, m, 0, &e, NULL);
	if (r < 0)
		snprintf(err, errlen, "systemd-resolved refused %s: %s", method,
			 e.message ? e.message : strerror(-r));
	sd_bus_error_free(&e);
	sd_bus_message_unref(m);
	return r < 0 ? r : 0;
}

static int resolved_open(struct dns *d, const struct dns_settings *s, char *err, size_t errlen)
{
	static const char *const methods[] = { "SetLinkDNS", "SetLinkDomains", "SetLinkDefaultRoute" };
	sd_bus *bus = NULL;
	int r = sd_bus_open_system(&bus);

	if (r < 0) {
		snprintf(err, errlen, "cannot reach systemd-resolved: %s", strerror(-r));
		return r;
	}
	/* SetLinkDefaultRoute is younger than the others: its absence costs nothing with "~." */
	for (size_t i = 0; r >= 0 && i < 2; i++)
		r = resolved_call(bus, methods[i], d->ifindex, s, err, errlen);
	if (r >= 0)
		resolved_call(bus, methods[2], d->ifindex, s, err, errlen);
	if (r < 0) {
		sd_bus_flush_close_unref(bus);
		return r;
	}
	d->bus = bus;
	return 0;
}

static void resolved_close(struct dns *d)
{
	char err[256];

	if (resolved_call(d->bus, "RevertLink", d->ifindex, NULL, err, sizeof(err)))
		log_warn("%s", err); /* resolved forgets the link with the interface anyway */
	sd_bus_flush_close_unref(d->bus);
	d->bus = NULL;
}

/* ---- /etc/resolv.conf ---- */

static int read_all(int fd, char **out, size_t *len)
{
	char *buf = malloc(DNS_MAX_FILE + 1);
	size_t at = 0;
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	while ((n = pread(fd, buf + at, DNS_MAX_FILE + 1 - at, (off_t)at)) > 0 && at < DNS_MAX_FILE + 1)
		at += (size_t)n;
	if (n < 0 || at > DNS_MAX_FILE) {
		int ret = n < 0 ? -errno : -EFBIG;

		free(buf);
		return ret;
	}
	buf[at] = 0;
	*out = buf;
	*len = at;
	return 0;
}

static int rewrite(int fd, const char *buf, size_t len)
{
	if (ftruncate(fd, 0) < 0)
		return -errno;
	for (size_t at = 0; at < len;) {
		ssize_t n = pwrite(fd, buf + at, len - at, (off_t)at);

		if (n < 0)
			return -errno;
		at += (size_t)n;
	}
	return 0;
}

static void backup_path(char *buf, size_t len, const char *ifname)
{
	snprintf(buf, len, "%s/%s.resolv.conf", DNS_BACKUP_DIR, ifname);
}

static int write_file(const char *path, const char *buf, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	int ret;

	if (fd < 0)
		return -errno;
	ret = rewrite(fd, buf, len);
	close(fd);
	return ret;
}

static int read_path(const char *path, char **out, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW), ret;

	if (fd < 0)
		return -errno;
	ret = read_all(fd, out, len);
	close(fd);
	return ret;
}

static bool ours(const char *content, const char *ifname)
{
	char h[128];
	int n = header(h, sizeof(h), ifname);

	return content && !strncmp(content, h, (size_t)n);
}

/* A crashed run of the same interface left its file and the real one's copy: the copy is
 * what we give back in the end. */
static void adopt_backup(struct dns *d, const char *ifname)
{
	char *old;
	size_t len;

	if (!ours(d->saved, ifname) || read_path(d->backup, &old, &len))
		return;
	free(d->saved);
	d->saved = old;
	d->saved_len = len;
}

static int file_open(struct dns *d, const struct dns_settings *s, const char *ifname, int fd,
		     char *err, size_t errlen)
{
	char text[4096];
	int n = dns_resolv_conf(text, sizeof(text), s, ifname), ret;

	if (n < 0)
		return fail(err, errlen, n, "DNS settings too long for %s", RESOLV_CONF);
	backup_path(d->backup, sizeof(d->backup), ifname);
	adopt_backup(d, ifname);
	if (mkdir(DNS_BACKUP_DIR, 0755) < 0 && errno != EEXIST)
		return fail(err, errlen, -errno, "cannot create %s", DNS_BACKUP_DIR);
	ret = write_file(d->backup, d->saved, d->saved_len);
	if (ret)
		return fail(err, errlen, ret, "cannot write %s", d->backup);
	ret = rewrite(fd, text, (size_t)n);
	if (ret) {
		rewrite(fd, d->saved, d->saved_len);
		unlink(d->backup);
		return fail(err, errlen, ret, "cannot write %s", RESOLV_CONF);
	}
	d->fd = fd;
	return 0;
}

int dns_settings_check(const struct dns_settings *s, char *err, size_t errlen)
{
	if (s->search_count && !s->server_count)
		return fail(err, errlen, -EINVAL,
			    "DNS search domain %s needs a server address too (an IP address)",
			    s->search[0]);
	return 0;
}

int dns_open(struct dns *d, const struct dns_settings *s, const char *ifname,
	     unsigned int ifindex, char *err, size_t errlen)
{
	int fd, ret;

	*d = (struct dns){ .fd = -1, .ifindex = ifindex };
	if (!s->server_count && !s->search_count)
		return 0;
	ret = dns_settings_check(s, err, errlen);
	if (ret)
		return ret;
	fd = open(RESOLV_CONF, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return fail(err, errlen, -errno, "cannot open %s", RESOLV_CONF);
	ret = read_all(fd, &d->saved, &d->saved_len);
	if (ret) {
		close(fd);
		return fail(err, errlen, ret, "cannot read %s", RESOLV_CONF);
	}
	if (resolved_owns(d->saved) && !resolved_open(d, s, err, errlen)) {
		close(fd);
		log_info("DNS: systemd-resolved sends every name to the tunnel's servers");
	} else {
		ret = file_open(d, s, ifname, fd, err, errlen);
		if (ret) {
			close(fd);
			free(d->saved);
			d->saved = NULL;
			return ret;
		}
		log_info("DNS: %s points at the tunnel's servers until exit", RESOLV_CONF);
	}
	return 0;
}

void dns_close(struct dns *d)
{
	if (d->bus)
		resolved_close(d);
	if (d->saved && d->fd >= 0) { /* saved: a zeroed struct has fd 0 but nothing to give back */
		if (rewrite(d->fd, d->saved, d->saved_len))
			log_warn("cannot restore %s: %s (its old content is in %s)", RESOLV_CONF,
				 strerror(errno), d->backup);
		else
			unlink(d->backup);
		close(d->fd);
		d->fd = -1;
	}
	free(d->saved);
	d->saved = NULL;
}

int dns_remove_stale(const char *ifname)
{
	char path[sizeof(DNS_BACKUP_DIR) + 32], *old, *now = NULL;
	size_t old_len, now_len;
	int fd, ret = -ENOENT;

	backup_path(path, sizeof(path), ifname);
	if (read_path(path, &old, &old_len))
		return -ENOENT;
	fd = open(RESOLV_CONF, O_RDWR | O_CLOEXEC);
	if (fd >= 0 && !read_all(fd, &now, &now_len) && ours(now, ifname))
		ret = rewrite(fd, old, old_len) ? -EIO : 0;
	if (fd >= 0)
		close(fd);
	if (ret != -EIO)
		unlink(path);
	free(old);
	free(now);
	return ret;
}
