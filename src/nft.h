/* nftables through libnftables: one ruleset text applied as one transaction. */
#ifndef MYVPN_NFT_H
#define MYVPN_NFT_H

#include <stdbool.h>
#include <stddef.h>

/* Applies ruleset (nft syntax) atomically: all of it or, on error, none of it. Returns 0, or
 * -EINVAL with the first line of nft's message in err (-ENOMEM without a context; the socket's
 * -errno, e.g. -EPROTONOSUPPORT, when the kernel has no nftables netlink interface). */
int nft_apply(const char *ruleset, char *err, size_t errlen);

/* Runs a "list ..." command and copies its output into out (NUL-terminated, truncated).
 * Returns 0, or -ENOENT when nft refused (e.g. the table is not there). */
int nft_list(const char *command, char *out, size_t outlen);

/* Deletes table FAMILY NAME if it exists: 0 whether or not it was there, -EINVAL otherwise. */
int nft_delete_table(const char *family, const char *name, char *err, size_t errlen);

#endif
