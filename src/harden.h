/* Keeping key material off the disk: no core dumps, key pages locked in memory. */
#ifndef MYVPN_HARDEN_H
#define MYVPN_HARDEN_H

#include <stdbool.h>
#include <stddef.h>

/* Makes the process not dumpable (no core file, no ptrace by other users, /proc/PID owned by
 * root), unless allow is true (--allow-core-dumps, for debugging). Call before any key is
 * read; children inherit the setting. 0 or -errno. */
int harden_core_dumps(bool allow);

/* Locks the pages holding [addr, addr + len) in memory, so that the keys there are never
 * written to swap. Pages stay locked until they are unmapped (locks are per page, not per
 * object: unlocking one object could unlock its neighbour's key). When RLIMIT_MEMLOCK
 * refuses, logs a warning once and the keys stay swappable; never fails otherwise. */
void harden_lock_keys(const void *addr, size_t len);

#endif
