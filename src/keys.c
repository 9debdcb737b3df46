/* Key files and the genkey/pubkey commands, compatible with wg(8). */
#include "keys.h"
#include "wgcrypto.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

enum { KEY_B64_LEN = 44 };

/* Trims whitespace in place and decodes; the text buffer is wiped by the caller. */
static int decode_key(char *text, uint8_t key[32])
{
	char *start = text, *end = text + strlen(text);

	while (isspace((unsigned char)*start))
		start++;
	while (end > start && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return wgcrypto_key_from_base64(key, start) ? 0 : -EINVAL;
}

int keys_read_file(const char *path, uint8_t key[32], char *err, size_t errlen)
{
	char text[128] = { 0 };
	struct stat st;
	FILE *f = fopen(path, "r");
	size_t n;
	int ret;

	if (!f) {
		ret = -errno;
		snprintf(err, errlen, "cannot read key file '%s': %s", path, strerror(errno));
		return ret;
	}
	if (fstat(fileno(f), &st) == 0 && (st.st_mode & 0077))
		fprintf(stderr, "Warning: `%s' is world accessible\n", path);
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	ret = decode_key(text, key);
	wgcrypto_wipe(text, sizeof(text));
	if (ret)
		snprintf(err, errlen, "key file '%s' does not hold a base64 key (44 characters)", path);
	return ret;
}

int keys_genkey_main(void)
{
	uint8_t key[32];
	char b64[KEY_B64_LEN + 1];

	if (!wgcrypto_random(key, sizeof(key))) {
		fprintf(stderr, "genkey: no randomness available\n");
		return 1;
	}
	wgcrypto_x25519_clamp(key);
	wgcrypto_key_to_base64(b64, key);
	puts(b64);
	wgcrypto_wipe(key, sizeof(key));
	wgcrypto_wipe(b64, sizeof(b64));
	return 0;
}

int keys_pubkey_main(void)
{
	char text[128] = { 0 };
	uint8_t key[32], pub[32];
	char b64[KEY_B64_LEN + 1];
	size_t n = fread(text, 1, sizeof(text) - 1, stdin);
	int ok;

	text[n] = '\0';
	ok = decode_key(text, key) == 0 && wgcrypto_x25519_public(pub, key);
	wgcrypto_wipe(text, sizeof(text));
	wgcrypto_wipe(key, sizeof(key));
	if (!ok) {
		fprintf(stderr, "pubkey: Key is not the correct length or format\n");
		return 1;
	}
	wgcrypto_key_to_base64(b64, pub);
	puts(b64);
	return 0;
}
