/* The -t hook: a user-given shell command that configures the interface. */
#ifndef MYVPN_HOOK_H
#define MYVPN_HOOK_H

#include <stddef.h>

/* Replaces every "%s" in template by ifname. Returns 0, or -ENAMETOOLONG if out is too small. */
int hook_expand(const char *template, const char *ifname, char *out, size_t outlen);
/* Runs the command with /bin/sh -c. Returns its exit status (0 = success) or -errno. */
int hook_run(const char *command);

#endif
