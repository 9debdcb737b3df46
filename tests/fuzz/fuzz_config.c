/* libFuzzer harness for the wg-quick config parser: any bytes must parse or fail cleanly. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

/* Checks what the parser promises beyond not crashing: all or nothing, and a usable error. */
static void check_result(int ret, const struct config *cfg, const struct config_error *err)
{
	static const struct config zero;

	if (ret == 0) {
		for (size_t i = 0; i < cfg->peer_count; i++)
			if (cfg->peers[i].has_endpoint != (cfg->peers[i].endpoint_host != NULL))
				abort();
		return;
	}
	if (ret != -EINVAL && ret != -ENOMEM)
		abort();
	if (memcmp(cfg, &zero, sizeof(zero)) != 0)
		abort();
	/* running out of memory may happen before the first line; a syntax error cannot */
	if ((ret == -EINVAL && err->line < 1) || !err->message[0] || memchr(err->message, '\n', sizeof(err->message)))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config cfg;
	struct config_error err;
	int ret = config_parse(&cfg, (const char *)data, size, &err);

	check_result(ret, &cfg, &err);
	config_free(&cfg);
	return 0;
}
