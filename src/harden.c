/* No core dumps and locked key pages: a crash or memory pressure must not write the static
 * private key, the preshared keys or the handshake secrets to disk. */
#include "harden.h"
#include "log.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>

int harden_core_dumps(bool allow)
{
	return prctl(PR_SET_DUMPABLE, allow ? 1 : 0, 0, 0, 0) < 0 ? -errno : 0;
}

static void log_refused(int err)
{
	static atomic_flag logged = ATOMIC_FLAG_INIT;
	struct rlimit rl;

	if (atomic_flag_test_and_set(&logged))
		return;
	if (getrlimit(RLIMIT_MEMLOCK, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		log_warn("cannot lock key memory (%s; RLIMIT_MEMLOCK %llu KiB): keys may be written to swap",
			 strerror(err), (unsigned long long)rl.rlim_cur / 1024);
	else
		log_warn("cannot lock key memory (%s): keys may be written to swap", strerror(err));
}

void harden_lock_keys(const void *addr, size_t len)
{
	if (mlock(addr, len) < 0)
		log_refused(errno);
}
