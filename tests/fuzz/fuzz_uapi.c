/* libFuzzer harness for UAPI set requests on a device with one peer: any bytes must apply
 * whole or fail leaving the device exactly as it was. */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "uapi.h"

static const struct uapi_device_info info = { .listen_port = 51820, .udp_family = AF_INET6 };

/* Port 1 stands for a port the shell cannot bind: exercises the hook failure path. */
static int set_listen_port(void *ctx, uint16_t port)
{
	return port == 1 ? -EADDRINUSE : 0;
}

static int set_fwmark(void *ctx, uint32_t mark)
{
	return 0;
}

static void make_device(struct wg_device *dev)
{
	static const uint8_t device_key[32] = { 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1,
						1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1 };
	static uint8_t peer_key[32];
	struct ip_prefix prefix;
	struct wg_peer *p;

	if (!peer_key[0]) {
		uint8_t priv[32];

		memset(priv, 2, sizeof(priv));
		wgcrypto_x25519_clamp(priv);
		wgcrypto_x25519_public(peer_key, priv); /* 0202...: first byte is not zero */
	}
	if (wg_device_init(dev, device_key) || wg_peer_add(dev, peer_key, NULL, &p) ||
	    addr_parse_prefix("10.0.0.2/32", &prefix) || wg_peer_allow(p, &prefix))
		abort();
	{ /* a live session: only a real change may drop it */
		struct noise_keypair kp = { .local_index = 77 };
		uint8_t key[32] = { 5 };

		if (!wgcrypto_aead_init(&kp.send, key) || !wgcrypto_aead_init(&kp.recv, key) ||
		    wg_keypairs_install(p, &kp, true))
			abort();
	}
}

static char *get(const struct wg_device *dev, size_t *len)
{
	struct uapi_buf out = { 0 };
	char *copy;

	if (uapi_get(dev, &info, &out) || out.len < 9 ||
	    memcmp(out.data + out.len - 9, "errno=0\n\n", 9))
		abort();
	copy = malloc(out.len);
	if (!copy)
		abort();
	memcpy(copy, out.data, out.len);
	*len = out.len;
	uapi_buf_free(&out);
	return copy;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct uapi_set_hooks hooks = { .set_listen_port = set_listen_port,
					      .set_fwmark = set_fwmark };
	struct wg_device dev;
	size_t before_len, after_len;
	char *before, *after;
	int ret;

	log_threshold = LOGL_ERROR;
	make_device(&dev);
	before = get(&dev, &before_len);
	ret = uapi_set(&dev, &info, &hooks, (const char *)data, size, 1000000000000ull, NULL);
	after = get(&dev, &after_len);
	if (ret > 0)
		abort();
	/* all or nothing: a failed request leaves no trace (ENOMEM aside, as documented) */
	if (ret && ret != -ENOMEM &&
	    (before_len != after_len || memcmp(before, after, before_len) || !dev.first_peer->current))
		abort();
	free(before);
	free(after);
	wg_device_free(&dev);
	return 0;
}
