/* Least privilege after set-up: another user and group, with only the capabilities the
 * running daemon still uses (libcap-ng). */
#ifndef MYVPN_PRIVILEGES_H
#define MYVPN_PRIVILEGES_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct privileges {
	uid_t uid;
	gid_t gid; /* the user's primary group; supplementary groups are dropped */
	char name[64];
};

/*
 * Looks the user up (a name, or a numeric uid) while /etc/passwd and NSS are still
 * reachable: before the sandbox, and early enough for a one-line start-up error.
 * 0, or -ENOENT / -errno with err holding one line.
 */
int privileges_lookup(struct privileges *p, const char *user, char *err, size_t errlen);

/*
 * Becomes p's uid and gid for good (real, effective and saved), drops the supplementary groups
 * and clears the bounding set. Keeps CAP_NET_ADMIN (rebinding with SO_RCVBUFFORCE and SO_MARK,
 * routes, nftables, the forwarding sysctls) and, with bind_service, CAP_NET_BIND_SERVICE (a
 * port below 1024 to rebind to). Call on the only thread: capabilities are per thread, and
 * threads created afterwards inherit them. 0 or -EPERM with err holding one line.
 */
int privileges_drop(const struct privileges *p, bool bind_service, char *err, size_t errlen);

#endif
