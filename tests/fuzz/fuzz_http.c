/* libFuzzer harness for the metrics server's request router: any bytes from the network must
 * route to one of its answers without reading past them, and only a complete head routes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* a copy of the exact size: ASan catches any read past the end */
	char *copy = malloc(size ? size : 1);
	enum metrics_route r;

	if (!copy)
		return 0;
	memcpy(copy, data, size);
	r = metrics_http_route(copy, size);
	if (r > METRICS_BAD_REQUEST)
		abort();
	if (r == METRICS_INCOMPLETE && (memmem(copy, size, "\n\n", 2) || memmem(copy, size, "\n\r\n", 3)))
		abort();
	if (r == METRICS_GET_METRICS && (size < 4 || memcmp(copy, "GET ", 4)))
		abort();
	free(copy);
	return 0;
}
