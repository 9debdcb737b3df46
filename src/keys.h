/* Key files and the genkey/pubkey commands, compatible with wg(8). */
#ifndef MYVPN_KEYS_H
#define MYVPN_KEYS_H

#include <stddef.h>
#include <stdint.h>

/* Reads a base64 key (surrounding whitespace allowed) from path. Warns, as wg does, when the
 * file is readable by others. Returns 0 or -errno/-EINVAL with a one-line message in err. */
int keys_read_file(const char *path, uint8_t key[32], char *err, size_t errlen);
int keys_genkey_main(void);
int keys_pubkey_main(void);

#endif
