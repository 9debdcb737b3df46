/* Least privilege after set-up: another user and group, with only the capabilities the
 * running daemon still uses (libcap-ng). */
#include "privileges.h"
#include "log.h"

#include <cap-ng.h>
#include <errno.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int lookup_error(const char *user, int e, char *err, size_t errlen)
{
	if (!e)
		e = ENOENT; /* getpwnam's way of saying "no such user" */
	if (e == ENOENT)
		snprintf(err, errlen, "unknown user '%s'", user);
	else
		snprintf(err, errlen, "cannot look up user '%s': %s", user, strerror(e));
	return -e;
}

int privileges_lookup(struct privileges *p, const char *user, char *err, size_t errlen)
{
	struct passwd *pw;
	char *end;
	unsigned long id;

	if (strlen(user) >= sizeof(p->name))
		return lookup_error(user, ENOENT, err, errlen);
	errno = 0;
	pw = getpwnam(user);
	if (!pw && user[0] >= '0' && user[0] <= '9') {
		id = strtoul(user, &end, 10);
		if (!*end && id < (uid_t)-1)
			pw = getpwuid((uid_t)id);
	}
	if (!pw)
		return lookup_error(user, errno, err, errlen);
	p->uid = pw->pw_uid;
	p->gid = pw->pw_gid;
	snprintf(p->name, sizeof(p->name), "%s", user);
	return 0;
}

/* capng_change_id's return codes (its man page), none of them an errno. */
static const char *change_id_step(int ret)
{
	static const char *const steps[] = {
		"libcap-ng's set-up", "keeping capabilities across the uid change",
		"applying the capabilities", "changing the gid", "dropping the supplementary groups",
		"changing the uid", "dropping keep-caps", "clearing the bounding set",
		"dropping CAP_SETPCAP",
	};

	return ret <= -1 && ret >= -9 ? steps[-ret - 1] : "the switch";
}

int privileges_drop(const struct privileges *p, bool bind_service, char *err, size_t errlen)
{
	int ret;

	capng_clear(CAPNG_SELECT_BOTH);
	ret = capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED, CAP_NET_ADMIN);
	if (!ret && bind_service)
		ret = capng_update(CAPNG_ADD, CAPNG_EFFECTIVE | CAPNG_PERMITTED,
				   CAP_NET_BIND_SERVICE);
	if (!ret)
		ret = capng_change_id((int)p->uid, (int)p->gid,
				      CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING);
	if (ret) {
		snprintf(err, errlen, "cannot switch to user '%s' (uid %u, gid %u): %s failed; this needs CAP_SETUID, CAP_SETGID and CAP_SETPCAP",
			 p->name, (unsigned)p->uid, (unsigned)p->gid, change_id_step(ret));
		return -EPERM;
	}
	log_info("running as user %s (uid %u, gid %u) with CAP_NET_ADMIN%s only", p->name,
		 (unsigned)p->uid, (unsigned)p->gid, bind_service ? " and CAP_NET_BIND_SERVICE" : "");
	return 0;
}
