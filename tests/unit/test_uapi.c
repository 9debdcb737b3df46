/* Unit tests for the UAPI text protocol: get output, every set key, all-or-nothing sets,
 * session survival, and a table of malformed requests. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "log.h"
#include "plain.h"
#include "uapi.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "uapi_server.h"

#define NOW 1000000000000ull /* any monotonic time */

/* Keys by number: private key n is 32 bytes of n; hex[n] and pub_hex[n] as UAPI writes them. */
enum { NKEYS = 8 };
static uint8_t priv[NKEYS][32], pub[NKEYS][32];
static char priv_hex[NKEYS][65], pub_hex[NKEYS][65];

static const struct uapi_device_info info = { .listen_port = 51820, .udp_family = AF_INET6 };

static int setup_keys(void **state)
{
	for (int i = 1; i < NKEYS; i++) {
		memset(priv[i], i, 32);
		wgcrypto_x25519_clamp(priv[i]);
		assert_true(wgcrypto_x25519_public(pub[i], priv[i]));
		wgcrypto_key_to_hex(priv_hex[i], priv[i]);
		wgcrypto_key_to_hex(pub_hex[i], pub[i]);
	}
	return 0;
}

static struct ip_prefix prefix(const char *text)
{
	struct ip_prefix p;

	assert_int_equal(addr_parse_prefix(text, &p), 0);
	return p;
}

static struct wg_peer *add_peer(struct wg_device *dev, int key, const char *ip)
{
	struct wg_peer *p;
	struct ip_prefix pfx = prefix(ip);

	assert_int_equal(wg_peer_add(dev, pub[key], NULL, &p), 0);
	assert_int_equal(wg_peer_allow(p, &pfx), 0);
	return p;
}

/* Device with key 1 and peers 2 (10.0.0.2/32) and 3 (10.0.0.3/32). */
static void make_device(struct wg_device *dev)
{
	assert_int_equal(wg_device_init(dev, priv[1]), 0);
	add_peer(dev, 2, "10.0.0.2/32");
	add_peer(dev, 3, "10.0.0.3/32");
}

static int set(struct wg_device *dev, const char *text)
{
	return uapi_set(dev, &info, NULL, text, strlen(text), NOW, NULL);
}

/* The whole get reply as a NUL-terminated string; the caller frees it. */
static char *get(const struct wg_device *dev)
{
	struct uapi_buf out = { 0 };
	char *s;

	assert_int_equal(uapi_get(dev, &info, &out), 0);
	s = strndup(out.data, out.len);
	uapi_buf_free(&out);
	return s;
}

static struct wg_peer *peer(struct wg_device *dev, int key)
{
	return wg_peer_by_key(dev, pub[key]);
}

static struct wg_peer *owner_of(struct wg_device *dev, const char *ip)
{
	struct ip_prefix p = prefix(ip);

	return allowedips_lookup(&dev->allowedips, p.family, &p.addr);
}

/* A live session, as a completed handshake installs it. */
static void fake_session(struct wg_peer *p)
{
	struct noise_keypair kp = { .local_index = 0x1234 + p->id };
	uint8_t key[32] = { 0x5a };

	assert_true(wgcrypto_aead_init(&kp.send, key));
	assert_true(wgcrypto_aead_init(&kp.recv, key));
	assert_int_equal(wg_keypairs_install(p, &kp, true), 0);
}

static void get_format(void **state)
{
	struct wg_device dev;
	struct wg_peer *p2, *p3;
	struct ip_prefix extra[] = { prefix("fd00::2/128"), prefix("192.168.7.7/16") };
	const struct uapi_device_info with_mark = { .listen_port = 4500, .fwmark = 51820 };
	char expected[4096], *got;

	make_device(&dev);
	p2 = peer(&dev, 2);
	p3 = peer(&dev, 3);
	memset(p2->hs.preshared_key, 0xab, 32);
	assert_int_equal(addr_parse_literal("192.0.2.1", 51820, &p2->endpoint.remote), 0);
	endpoint_to_family(&p2->endpoint.remote, AF_INET6); /* mapped: shown as IPv4 */
	p2->last_handshake_real_ns = 1700000000123456789ull;
	p2->tx_bytes = 1234;
	p2->rx_bytes = 5678;
	timers_set_persistent_keepalive(&p2->timers, NOW, 25);
	for (size_t i = 0; i < 2; i++)
		assert_int_equal(wg_peer_allow(p2, &extra[i]), 0);
	assert_int_equal(addr_parse_literal("2001:db8::7", 443, &p3->endpoint.remote), 0);
	p3->endpoint.kind = TRANSPORT_TCP;
	p3->transport_switches = 3;

	snprintf(expected, sizeof(expected),
		 "private_key=%s\nlisten_port=4500\nfwmark=51820\n"
		 "public_key=%s\npreshared_key=%s\nprotocol_version=1\nendpoint=192.0.2.1:51820\n"
		 "transport=udp\ntransport_switches=0\n"
		 "last_handshake_time_sec=1700000000\nlast_handshake_time_nsec=123456789\n"
		 "tx_bytes=1234\nrx_bytes=5678\npersistent_keepalive_interval=25\n"
		 "allowed_ip=10.0.0.2/32\nallowed_ip=fd00::2/128\nallowed_ip=192.168.0.0/16\n"
		 "public_key=%s\npreshared_key=%064d\nprotocol_version=1\n"
		 "endpoint=[2001:db8::7]:443\ntransport=tcp\ntransport_switches=3\n"
		 "last_handshake_time_sec=0\nlast_handshake_time_nsec=0\n"
		 "tx_bytes=0\nrx_bytes=0\npersistent_keepalive_interval=0\n"
		 "allowed_ip=10.0.0.3/32\n"
		 "errno=0\n\n",
		 priv_hex[1], pub_hex[2],
		 "abababababababababababababababababababababababababababababababab", pub_hex[3], 0);
	{
		struct uapi_buf out = { 0 };

		assert_int_equal(uapi_get(&dev, &with_mark, &out), 0);
		got = strndup(out.data, out.len);
		uapi_buf_free(&out);
	}
	assert_string_equal(got, expected);
	free(got);
	wg_device_free(&dev);
}

static void get_without_key_or_peers(void **state)
{
	struct wg_device dev;
	char *got;

	assert_int_equal(wg_device_init(&dev, priv[1]), 0);
	noise_static_identity_clear(&dev.identity);
	got = get(&dev);
	/* no private_key line: wg would show a public key derived from zeros */
	assert_string_equal(got, "listen_port=51820\nerrno=0\n\n");
	free(got);
	wg_device_free(&dev);
}

/* Peers without allowed IPs, one that never had any and one whose only one was replaced by
 * none: their sections have no allowed_ip line, and the walk over an owner with nothing
 * (the path of `wg show` that once passed a null pointer on) stays defined under UBSan. */
static void get_peers_without_allowed_ips(void **state)
{
	struct wg_device dev;
	struct wg_peer *p;
	char pub_line[128], *got, *section;

	assert_int_equal(wg_device_init(&dev, priv[1]), 0);
	assert_int_equal(wg_peer_add(&dev, pub[2], NULL, &p), 0);
	add_peer(&dev, 3, "10.0.0.3/32");
	snprintf(pub_line, sizeof(pub_line), "public_key=%s\nreplace_allowed_ips=true\n\n", pub_hex[3]);
	assert_int_equal(set(&dev, pub_line), 0);
	assert_null(owner_of(&dev, "10.0.0.3"));
	got = get(&dev);
	assert_null(strstr(got, "allowed_ip="));
	for (int key = 2; key <= 3; key++) {
		snprintf(pub_line, sizeof(pub_line), "public_key=%s\n", pub_hex[key]);
		section = strstr(got, pub_line);
		assert_non_null(section);
		assert_non_null(strstr(section, "persistent_keepalive_interval=0\n"));
	}
	assert_non_null(strstr(got, "errno=0\n\n"));
	free(got);
	wg_device_free(&dev);
}

static int hook_port_calls, hook_mark_calls, hook_port_result;
static uint16_t hook_port;
static uint32_t hook_mark;

static int hook_set_port(void *ctx, uint16_t port)
{
	hook_port_calls++;
	hook_port = port;
	return hook_port_result;
}

static int hook_set_mark(void *ctx, uint32_t mark)
{
	hook_mark_calls++;
	hook_mark = mark;
	return 0;
}

static void set_device_keys(void **state)
{
	struct uapi_set_hooks hooks = { .set_listen_port = hook_set_port,
					.set_fwmark = hook_set_mark };
	struct uapi_set_result res;
	struct wg_device dev;
	const char *req = "listen_port=4500\nfwmark=7\n\n";

	make_device(&dev);
	hook_port_calls = hook_mark_calls = hook_port_result = 0;
	assert_int_equal(uapi_set(&dev, &info, &hooks, req, strlen(req), NOW, &res), 0);
	assert_true(res.new_listen_port && res.new_fwmark);
	assert_int_equal(res.listen_port, 4500);
	assert_int_equal(res.fwmark, 7);
	assert_int_equal(hook_port, 4500);
	assert_int_equal(hook_mark, 7);

	/* the port and mark already in use change nothing */
	req = "listen_port=51820\nfwmark=0\n";
	hook_port_calls = hook_mark_calls = 0;
	assert_int_equal(uapi_set(&dev, &info, &hooks, req, strlen(req), NOW, &res), 0);
	assert_false(res.new_listen_port || res.new_fwmark);
	assert_int_equal(hook_port_calls + hook_mark_calls, 0);

	/* a port the shell cannot bind fails the request before any peer changes; the mark set
	 * before it is put back */
	{
		char r[512];

		snprintf(r, sizeof(r), "listen_port=53\nfwmark=9\npublic_key=%s\nremove=true\n",
			 pub_hex[2]);
		hook_port_result = -EADDRINUSE;
		hook_mark_calls = 0;
		assert_int_equal(uapi_set(&dev, &info, &hooks, r, strlen(r), NOW, &res), -EADDRINUSE);
		assert_non_null(peer(&dev, 2));
		assert_int_equal(hook_mark_calls, 2);
		assert_int_equal(hook_mark, 0);
		hook_port_result = 0;
	}
	wg_device_free(&dev);
}

static void set_private_key(void **state)
{
	struct wg_device dev;
	char req[512];

	make_device(&dev);
	fake_session(peer(&dev, 2));

	/* the same key again (as `wg setconf` sends it) keeps every session */
	snprintf(req, sizeof(req), "private_key=%s\n", priv_hex[1]);
	assert_int_equal(set(&dev, req), 0);
	assert_true(peer(&dev, 2)->current != NULL);

	/* a new key: handshakes recomputed, sessions gone, public key follows */
	snprintf(req, sizeof(req), "private_key=%s\n", priv_hex[4]);
	assert_int_equal(set(&dev, req), 0);
	assert_memory_equal(dev.identity.public_key, pub[4], 32);
	assert_false(peer(&dev, 2)->current != NULL);
	assert_false(wgcrypto_is_zero(peer(&dev, 2)->hs.precomputed_static_static, 32));

	/* a key whose public key is a peer's: that peer goes, as in Linux */
	snprintf(req, sizeof(req), "private_key=%s\n", priv_hex[3]);
	assert_int_equal(set(&dev, req), 0);
	assert_null(peer(&dev, 3));
	assert_null(owner_of(&dev, "10.0.0.3"));
	assert_int_equal(dev.peer_count, 1);

	/* all zeros removes the key */
	snprintf(req, sizeof(req), "private_key=%064d\n", 0);
	assert_int_equal(set(&dev, req), 0);
	assert_false(dev.identity.has_identity);
	assert_true(wgcrypto_is_zero(peer(&dev, 2)->hs.precomputed_static_static, 32));
	wg_device_free(&dev);
}

static void set_peer_keys(void **state)
{
	struct wg_device dev;
	struct wg_peer *p;
	char req[1024], *text;
	uint8_t psk[32];

	make_device(&dev);
	snprintf(req, sizeof(req),
		 "public_key=%s\npreshared_key=%s\nendpoint=[2001:db8::1]:51820\n"
		 "persistent_keepalive_interval=25\nallowed_ip=10.1.0.0/16\nallowed_ip=fd00::/64\n"
		 "protocol_version=1\n\n",
		 pub_hex[4], priv_hex[5]);
	assert_int_equal(set(&dev, req), 0);
	p = peer(&dev, 4);
	assert_non_null(p);
	assert_memory_equal(p->hs.preshared_key, priv[5], 32);
	assert_int_equal(p->endpoint.remote.sa.sa_family, AF_INET6);
	assert_int_equal(ntohs(p->endpoint.remote.in6.sin6_port), 51820);
	assert_int_equal(p->timers.persistent_keepalive_interval, 25);
	assert_int_equal(p->timers.persistent_keepalive, NOW); /* the first one is due at once */
	assert_int_equal(dev.worker_deadline_ns, NOW); /* the device timer folds it in */
	assert_ptr_equal(owner_of(&dev, "10.1.2.3"), p);
	assert_ptr_equal(owner_of(&dev, "fd00::9"), p);

	/* existing peer: psk cleared, IPv4 endpoint becomes mapped for the dual-stack socket,
	 * keepalive off, a prefix moves over from peer 2 */
	fake_session(peer(&dev, 2));
	snprintf(req, sizeof(req),
		 "public_key=%s\npreshared_key=%064d\nendpoint=192.0.2.9:1000\n"
		 "persistent_keepalive_interval=0\nallowed_ip=10.0.0.2/32\n",
		 pub_hex[4], 0);
	assert_int_equal(set(&dev, req), 0);
	memset(psk, 0, sizeof(psk));
	assert_memory_equal(p->hs.preshared_key, psk, 32);
	assert_true(IN6_IS_ADDR_V4MAPPED(&p->endpoint.remote.in6.sin6_addr));
	assert_int_equal(p->timers.persistent_keepalive_interval, 0);
	assert_ptr_equal(owner_of(&dev, "10.0.0.2"), p);
	assert_true(peer(&dev, 2)->current != NULL); /* untouched peers keep their sessions */
	assert_int_equal(p->tcp_port, 0);

	/* myvpn's tcp_port: kept, shown by get=1, and 0 takes it back */
	snprintf(req, sizeof(req), "public_key=%s\ntcp_port=4443\n", pub_hex[4]);
	assert_int_equal(set(&dev, req), 0);
	assert_int_equal(p->tcp_port, 4443);
	assert_int_equal(ntohs(p->endpoint.remote.in6.sin6_port), 1000); /* UDP: unchanged */
	text = get(&dev);
	assert_non_null(strstr(text, "tcp_port=4443\n"));
	free(text);
	snprintf(req, sizeof(req), "public_key=%s\ntcp_port=0\n", pub_hex[4]);
	assert_int_equal(set(&dev, req), 0);
	assert_int_equal(p->tcp_port, 0);

	/* myvpn's endpoint_name: kept with the address and shown by get=1; an address set
	 * without a name (wg set ... endpoint) replaces it */
	snprintf(req, sizeof(req), "public_key=%s\nendpoint=192.0.2.9:1000\n"
		 "endpoint_name=home.example.net:1000\n", pub_hex[4]);
	assert_int_equal(set(&dev, req), 0);
	assert_string_equal(p->endpoint_name.name, "home.example.net");
	assert_int_equal(p->endpoint_name.port, 1000);
	text = get(&dev);
	assert_non_null(strstr(text, "endpoint_name=home.example.net:1000\n"));
	free(text);
	snprintf(req, sizeof(req), "public_key=%s\npersistent_keepalive_interval=5\n", pub_hex[4]);
	assert_int_equal(set(&dev, req), 0);
	assert_non_null(p->endpoint_name.name); /* other settings leave it alone */
	snprintf(req, sizeof(req), "public_key=%s\nendpoint=192.0.2.9:1000\n", pub_hex[4]);
	assert_int_equal(set(&dev, req), 0);
	assert_null(p->endpoint_name.name);
	text = get(&dev);
	assert_null(strstr(text, "endpoint_name="));
	free(text);

	/* an endpoint change keeps the peer's own sessions too */
	fake_session(p);
	snprintf(req, sizeof(req), "public_key=%s\nendpoint=192.0.2.10:1000\n", pub_hex[4]);
	assert_int_equal(set(&dev, req), 0);
	assert_true(p->current != NULL);
	wg_device_free(&dev);
}

static void set_ipv4_only_socket(void **state)
{
	const struct uapi_device_info v4 = { .udp_family = AF_INET };
	struct wg_device dev;
	char req[512];

	make_device(&dev);
	snprintf(req, sizeof(req), "public_key=%s\nendpoint=[2001:db8::1]:1\n", pub_hex[2]);
	assert_int_equal(uapi_set(&dev, &v4, NULL, req, strlen(req), NOW, NULL), -EAFNOSUPPORT);
	snprintf(req, sizeof(req), "public_key=%s\nendpoint=[::ffff:192.0.2.1]:1\n", pub_hex[2]);
	assert_int_equal(uapi_set(&dev, &v4, NULL, req, strlen(req), NOW, NULL), 0);
	assert_int_equal(peer(&dev, 2)->endpoint.remote.sa.sa_family, AF_INET);
	wg_device_free(&dev);
}

static void set_replace_peers(void **state)
{
	struct uapi_set_result res;
	struct wg_device dev;
	char req[512];

	make_device(&dev);
	snprintf(req, sizeof(req), "replace_peers=true\npublic_key=%s\nallowed_ip=10.0.0.0/24\n",
		 pub_hex[3]);
	assert_int_equal(uapi_set(&dev, &info, NULL, req, strlen(req), NOW, &res), 0);
	assert_int_equal(res.peers_removed, 2);
	assert_int_equal(res.peers_added, 1);
	assert_int_equal(dev.peer_count, 1);
	assert_null(peer(&dev, 2));
	assert_ptr_equal(owner_of(&dev, "10.0.0.3"), peer(&dev, 3));
	assert_ptr_equal(owner_of(&dev, "10.0.0.2"), peer(&dev, 3));

	assert_int_equal(set(&dev, "replace_peers=true\n\n"), 0);
	assert_int_equal(dev.peer_count, 0);
	assert_null(owner_of(&dev, "10.0.0.3"));
	wg_device_free(&dev);
}

static void set_remove_and_update_only(void **state)
{
	struct wg_device dev;
	char req[1024];

	make_device(&dev);
	fake_session(peer(&dev, 2));
	/* remove wins over the lines after it; removing an unknown peer is no error */
	snprintf(req, sizeof(req),
		 "public_key=%s\nremove=true\nallowed_ip=10.9.0.0/16\n"
		 "public_key=%s\nremove=true\n",
		 pub_hex[2], pub_hex[5]);
	assert_int_equal(set(&dev, req), 0);
	assert_null(peer(&dev, 2));
	assert_null(owner_of(&dev, "10.0.0.2"));
	assert_null(owner_of(&dev, "10.9.0.1"));
	assert_null(wg_session_by_index(&dev, 0x1234 + 1, &(struct wg_peer *){ NULL }));
	assert_int_equal(dev.peer_count, 1);

	/* update_only: no new peer, but an existing one is updated */
	snprintf(req, sizeof(req),
		 "public_key=%s\nupdate_only=true\nallowed_ip=10.5.0.0/16\n"
		 "public_key=%s\nupdate_only=true\npersistent_keepalive_interval=5\n",
		 pub_hex[5], pub_hex[3]);
	assert_int_equal(set(&dev, req), 0);
	assert_null(peer(&dev, 5));
	assert_null(owner_of(&dev, "10.5.0.1"));
	assert_int_equal(peer(&dev, 3)->timers.persistent_keepalive_interval, 5);

	/* a peer removed then added again in one request exists afresh */
	snprintf(req, sizeof(req), "public_key=%s\nremove=true\npublic_key=%s\nallowed_ip=10.3.0.0/16\n",
		 pub_hex[3], pub_hex[3]);
	assert_int_equal(set(&dev, req), 0);
	assert_non_null(peer(&dev, 3));
	assert_null(owner_of(&dev, "10.0.0.3"));
	assert_ptr_equal(owner_of(&dev, "10.3.1.1"), peer(&dev, 3));
	wg_device_free(&dev);
}

static void set_replace_allowed_ips(void **state)
{
	struct wg_device dev;
	char req[512];

	make_device(&dev);
	/* line order: an allowed_ip before replace_allowed_ips is forgotten, as in wireguard-go */
	snprintf(req, sizeof(req),
		 "public_key=%s\nallowed_ip=10.7.0.0/16\nreplace_allowed_ips=true\n"
		 "allowed_ip=10.8.0.0/16\n",
		 pub_hex[2]);
	assert_int_equal(set(&dev, req), 0);
	assert_null(owner_of(&dev, "10.0.0.2"));
	assert_null(owner_of(&dev, "10.7.0.1"));
	assert_ptr_equal(owner_of(&dev, "10.8.0.1"), peer(&dev, 2));
	assert_ptr_equal(owner_of(&dev, "10.0.0.3"), peer(&dev, 3));

	snprintf(req, sizeof(req), "public_key=%s\nreplace_allowed_ips=true\n", pub_hex[2]);
	assert_int_equal(set(&dev, req), 0);
	assert_null(owner_of(&dev, "10.8.0.1"));
	wg_device_free(&dev);
}

static void set_self_and_keyless(void **state)
{
	struct wg_device dev;
	char req[512];

	make_device(&dev);
	/* our own public key as a peer is ignored silently, as in Linux */
	snprintf(req, sizeof(req), "public_key=%s\nallowed_ip=10.1.0.0/16\n", pub_hex[1]);
	assert_int_equal(set(&dev, req), 0);
	assert_null(peer(&dev, 1));
	assert_int_equal(dev.peer_count, 2);

	/* without a private key a peer is still created, and waits for one (as in Linux) */
	snprintf(req, sizeof(req), "private_key=%064d\npublic_key=%s\n", 0, pub_hex[4]);
	assert_int_equal(set(&dev, req), 0);
	assert_false(dev.identity.has_identity);
	assert_non_null(peer(&dev, 4));

	/* a key and peers in one request, as `wg setconf` on a fresh daemon */
	snprintf(req, sizeof(req), "private_key=%064d\n", 0);
	assert_int_equal(set(&dev, req), 0);
	snprintf(req, sizeof(req), "private_key=%s\nreplace_peers=true\npublic_key=%s\n",
		 priv_hex[1], pub_hex[4]);
	assert_int_equal(set(&dev, req), 0);
	assert_non_null(peer(&dev, 4));
	assert_int_equal(dev.peer_count, 1);
	wg_device_free(&dev);
}

/* No fixed peer limit: thousands of peers come and go in one request each, and every one is
 * found by key and by its allowed IP. */
static void set_many_peers(void **state)
{
	enum { MANY = 5000 };
	struct uapi_buf req = { 0 };
	struct wg_device dev;
	uint8_t key[32];
	char hex[65];

	make_device(&dev);
	for (int i = 0; i < MANY; i++) {
		memset(key, 0x55, sizeof(key));
		key[0] = (uint8_t)i;
		key[1] = (uint8_t)(i >> 8);
		wgcrypto_key_to_hex(hex, key);
		assert_int_equal(uapi_buf_printf(&req, "public_key=%s\nallowed_ip=10.200.%d.%d/32\n",
						 hex, i / 256, i % 256), 0);
	}
	assert_int_equal(uapi_set(&dev, &info, NULL, req.data, req.len, NOW, NULL), 0);
	assert_int_equal(dev.peer_count, 2 + MANY);
	assert_non_null(owner_of(&dev, "10.200.19.135")); /* the last: 4999 = 19 * 256 + 135 */
	memset(key, 0x55, sizeof(key));
	key[0] = (uint8_t)4999;
	key[1] = (uint8_t)(4999 >> 8);
	assert_ptr_equal(owner_of(&dev, "10.200.19.135"), wg_peer_by_key(&dev, key));
	assert_ptr_equal(dev.last_peer, wg_peer_by_key(&dev, key));
	/* replace_peers: all gone, in one request */
	assert_int_equal(uapi_set(&dev, &info, NULL, "replace_peers=true\n", 19, NOW, NULL), 0);
	assert_int_equal(dev.peer_count, 0);
	assert_null(owner_of(&dev, "10.200.19.135"));
	assert_null(dev.first_peer);
	uapi_buf_free(&req);
	wg_device_free(&dev);
}

/* Each request fails with its errno and leaves the get output, and a session, unchanged. */
static void set_errors_change_nothing(void **state)
{
	static const struct {
		const char *fmt; /* %1$s: a known peer's key, %2$s: a new key */
		int err;
	} cases[] = {
		{ "bogus=1\n", -EINVAL },
		{ "listen_port\n", -EINVAL },
		{ "=1\n", -EINVAL },
		{ "listen_port=65536\n", -EINVAL },
		{ "listen_port=-1\n", -EINVAL },
		{ "listen_port= 1\n", -EINVAL },
		{ "listen_port=0x10\n", -EINVAL },
		{ "listen_port=\n", -EINVAL },
		{ "fwmark=4294967296\n", -EINVAL },
		{ "private_key=abc\n", -EINVAL },
		{ "private_key=%1$sff\n", -EINVAL },
		{ "private_key=zz%1$.62s\n", -EINVAL },
		{ "replace_peers=false\n", -EINVAL },
		{ "replace_peers=1\n", -EINVAL },
		{ "remove=true\n", -EINVAL },              /* a peer key before any public_key */
		{ "allowed_ip=10.0.0.0/8\n", -EINVAL },
		{ "public_key=%1$s\nlisten_port=1\n", -EINVAL }, /* a device key inside a peer */
		{ "public_key=%1$s\nprivate_key=%2$s\n", -EINVAL },
		{ "public_key=%1$s\nremove=yes\n", -EINVAL },
		{ "public_key=%1$s\nupdate_only=false\n", -EINVAL },
		{ "public_key=%1$s\nreplace_allowed_ips=1\n", -EINVAL },
		{ "public_key=%1$s\nendpoint=1.2.3.4\n", -EINVAL },
		{ "public_key=%1$s\nendpoint=1.2.3.4:65536\n", -EINVAL },
		{ "public_key=%1$s\nendpoint=1.2.3:5\n", -EINVAL },
		{ "public_key=%1$s\nendpoint=example.com:5\n", -EINVAL },
		{ "public_key=%1$s\nendpoint=2001:db8::1:5\n", -EINVAL },
		{ "public_key=%1$s\nendpoint=[1.2.3.4]:5\n", -EINVAL },
		{ "public_key=%1$s\nendpoint=[2001:db8::1:5\n", -EINVAL },
		{ "public_key=%1$s\nendpoint=[fe80::1%%eth0]:5\n", -EINVAL },
		{ "public_key=%1$s\nallowed_ip=10.0.0.0\n", -EINVAL },
		{ "public_key=%1$s\nallowed_ip=10.0.0.0/33\n", -EINVAL },
		{ "public_key=%1$s\nallowed_ip=fd00::/129\n", -EINVAL },
		{ "public_key=%1$s\nallowed_ip=10.0.0.0/ 8\n", -EINVAL },
		{ "public_key=%1$s\nallowed_ip=10.0.0.0/+8\n", -EINVAL },
		{ "public_key=%1$s\nallowed_ip=10.0.0.256/8\n", -EINVAL },
		{ "public_key=%1$s\npersistent_keepalive_interval=65536\n", -EINVAL },
		{ "public_key=%1$s\ntcp_port=65536\n", -EINVAL },
		{ "public_key=%1$s\nendpoint_name=example.com\n", -EINVAL },
		{ "public_key=%1$s\nendpoint_name=example.com:0\n", -EINVAL },
		{ "public_key=%1$s\nendpoint_name=:51820\n", -EINVAL },
		{ "public_key=%1$s\nendpoint_name=192.0.2.1:51820\n", -EINVAL },
		{ "public_key=%1$s\nendpoint_name=[2001:db8::1]:51820\n", -EINVAL },
		{ "public_key=%1$s\nendpoint_name=exa mple.com:51820\n", -EINVAL },
		{ "public_key=%1$s\nendpoint_name=ex/ample.com:51820\n", -EINVAL },
		{ "public_key=%1$s\ntcp_port=-1\n", -EINVAL },
		{ "public_key=%1$s\npreshared_key=%1$.63s\n", -EINVAL },
		{ "public_key=%1$s\nprotocol_version=2\n", -EPROTONOSUPPORT },
		{ "public_key=%1$s\nprotocol_version=x\n", -EINVAL },
		{ "public_key=%1$s\nallowed_ip=10.0.0.0/8\r\n", -EINVAL },
		/* one bad line at the very end undoes everything before it */
		{ "private_key=%2$s\nlisten_port=1\nreplace_peers=true\npublic_key=%2$s\n"
		  "allowed_ip=10.0.0.0/8\npublic_key=%1$s\nremove=true\nbad=1\n", -EINVAL },
		{ "public_key=%1$s\nendpoint=192.0.2.1:1\nallowed_ip=0.0.0.0/0\npublic_key=xyz\n",
		  -EINVAL },
		/* a low-order public key cannot make a peer */
		{ "public_key=%1$s\nendpoint=192.0.2.1:1\npublic_key=%064d\n", -EINVAL },
	};
	struct uapi_device_info seen = info;
	char req[1024], *before, *after;
	struct wg_device dev;

	make_device(&dev);
	fake_session(peer(&dev, 2));
	before = get(&dev);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int ret;

		if (strstr(cases[i].fmt, "%064d"))
			snprintf(req, sizeof(req), "public_key=%s\nendpoint=192.0.2.1:1\npublic_key=%064d\n",
				 pub_hex[2], 0);
		else
			snprintf(req, sizeof(req), cases[i].fmt, pub_hex[2], pub_hex[6]);
		ret = uapi_set(&dev, &seen, NULL, req, strlen(req), NOW, NULL);
		if (ret != cases[i].err)
			fail_msg("case %zu (%s): got %d, want %d", i, req, ret, cases[i].err);
		after = get(&dev);
		if (strcmp(before, after))
			fail_msg("case %zu changed the device", i);
		free(after);
		assert_true(peer(&dev, 2)->current != NULL);
	}
	free(before);
	wg_device_free(&dev);
}

static void set_nul_and_long_lines(void **state)
{
	struct wg_device dev;
	char req[600];

	make_device(&dev);
	assert_int_equal(uapi_set(&dev, &info, NULL, "fwmark=1\0\n", 10, NOW, NULL), -EINVAL);
	memset(req, 'a', sizeof(req));
	memcpy(req, "fwmark=", 7);
	assert_int_equal(uapi_set(&dev, &info, NULL, req, sizeof(req), NOW, NULL), -EINVAL);
	/* the empty line ends the request: what follows is not read */
	assert_int_equal(uapi_set(&dev, &info, NULL, "fwmark=1\n\nbogus\n", 16, NOW, NULL), 0);
	/* an empty request is a valid no-op */
	assert_int_equal(uapi_set(&dev, &info, NULL, "\n", 1, NOW, NULL), 0);
	assert_int_equal(uapi_set(&dev, &info, NULL, "", 0, NOW, NULL), 0);
	wg_device_free(&dev);
}

static void handle_dispatch(void **state)
{
	struct uapi_buf out = { 0 };
	struct wg_device dev;
	char *expected;

	make_device(&dev);
	assert_int_equal(uapi_handle(&dev, &info, NULL, NULL, "get=1\n\n", 7, NOW, &out), 0);
	expected = get(&dev);
	assert_int_equal(out.len, strlen(expected));
	assert_memory_equal(out.data, expected, out.len);
	free(expected);
	uapi_buf_consume(&out, out.len);

	assert_int_equal(uapi_handle(&dev, &info, NULL, NULL, "set=1\nfwmark=3\n\n", 16, NOW, &out), 0);
	assert_int_equal(out.len, 9);
	assert_memory_equal(out.data, "errno=0\n\n", 9);
	uapi_buf_consume(&out, out.len);

	assert_int_equal(uapi_handle(&dev, &info, NULL, NULL, "set=1\nbad=3\n\n", 13, NOW, &out), 0);
	assert_int_equal(out.len, 11);
	assert_memory_equal(out.data, "errno=-22\n\n", 11);
	uapi_buf_consume(&out, out.len);

	assert_int_equal(uapi_handle(&dev, &info, NULL, NULL, "get=1\nx=1\n\n", 11, NOW, &out), 0);
	assert_memory_equal(out.data, "errno=-22\n\n", 11);
	uapi_buf_consume(&out, out.len);

	assert_int_equal(uapi_handle(&dev, &info, NULL, NULL, "put=1\n\n", 7, NOW, &out), -EPROTO);
	assert_int_equal(uapi_handle(&dev, &info, NULL, NULL, "\n\n", 2, NOW, &out), -EPROTO);
	assert_int_equal(out.len, 0);
	uapi_buf_free(&out);
	wg_device_free(&dev);
}

/* paths=1 (myvpn's, rendezvous): unknown without a rendezvous, as for wireguard-go; with one,
 * each peer's path and relay counters, and get is unchanged (wg show must still parse it). */
static void handle_paths(void **state)
{
	struct stats st = { 0 };
	struct uapi_buf out = { 0 };
	struct wg_device dev;
	struct wg_peer *p;
	char *text;

	make_device(&dev);
	assert_int_equal(uapi_handle(&dev, &info, NULL, &st, "paths=1\n\n", 9, NOW, &out), -EPROTO);
	assert_int_equal(out.len, 0);
	dev.rdv.mode = RDV_SERVE;
	p = dev.last_peer;
	p->endpoint.remote.in.sin_family = AF_INET;
	p->endpoint.remote.in.sin_port = htons(51820);
	p->endpoint.remote.in.sin_addr.s_addr = htonl(0xcb00710a);
	p->endpoint.kind = TRANSPORT_RELAY;
	p->rdv.relay_tx_bytes = 11;
	p->rdv.relay_rx_bytes = 12;
	p->rdv.relayed_bytes = 13;
	assert_int_equal(uapi_handle(&dev, &info, NULL, &st, "paths=1\n\n", 9, NOW, &out), 0);
	assert_int_equal(uapi_buf_append(&out, "", 1), 0);
	text = out.data;
	assert_non_null(strstr(text, "path=none\nrelay_tx_bytes=0\nrelay_rx_bytes=0\nrelayed_bytes=0\n"));
	assert_non_null(strstr(text, "path=relay\nrelay_tx_bytes=11\nrelay_rx_bytes=12\nrelayed_bytes=13\n"));
	assert_string_equal(text + out.len - 1 - 9, "errno=0\n\n");
	uapi_buf_consume(&out, out.len);
	/* the endpoint is the port mapping the peer's rendezvous reported */
	p->endpoint.kind = TRANSPORT_UDP;
	p->rdv.mapped = p->endpoint.remote;
	assert_int_equal(uapi_handle(&dev, &info, NULL, &st, "paths=1\n\n", 9, NOW, &out), 0);
	assert_non_null(memmem(out.data, out.len, "path=mapped\n", 12));
	uapi_buf_consume(&out, out.len);
	assert_int_equal(uapi_handle(&dev, &info, NULL, &st, "get=1\n\n", 7, NOW, &out), 0);
	assert_null(memmem(out.data, out.len, "path=", 5));
	uapi_buf_free(&out);
	wg_device_free(&dev);
}

/* stats=1 is myvpn's extension: answered only when the shell offers counters; without them it
 * is an unknown operation, as for wireguard-go, and get/set are unaffected. */
static void handle_stats(void **state)
{
	struct stats st = { .rx_packets = 1, .tx_packets = 2, .rx_bytes = 300, .tx_bytes = 400,
			    .keepalives_sent = 5, .keepalives_received = 6, .endpoint_changes = 7 };
	struct uapi_buf out = { 0 };
	struct wg_device dev;
	char *text;

	st.drops[DROP_BAD_HEADER] = 9;
	st.drops[DROP_CRYPTO] = 10;
	make_device(&dev);
	assert_int_equal(uapi_handle(&dev, &info, NULL, &st, "stats=1\n\n", 9, NOW, &out), 0);
	assert_int_equal(uapi_buf_append(&out, "", 1), 0);
	text = out.data;
	assert_non_null(strstr(text, "rx_packets=1\ntx_packets=2\nrx_bytes=300\ntx_bytes=400\n"
				     "keepalives_sent=5\nkeepalives_received=6\nendpoint_changes=7\n"
				     "handshakes_received=0\nrelayed_packets=0\nrelayed_bytes=0\n"
				     "ecn_marked=0\ntransport_switches=0\nendpoint_lookups=0\n"
				     "endpoint_lookup_failures=0\n"
				     "drop_short=0\ndrop_bad_header=9\n"));
	assert_non_null(strstr(text, "\ndrop_crypto=10\n"));
	assert_string_equal(text + out.len - 1 - 9, "errno=0\n\n");
	assert_int_equal(uapi_request_length(text, out.len - 1, 0), out.len - 1); /* one reply */
	for (int r = 0; r < DROP_REASON_COUNT; r++) {
		char line[64];

		snprintf(line, sizeof(line), "\ndrop_%s=", stats_drop_reason_name(r));
		assert_non_null(strstr(text, line));
	}
	uapi_buf_consume(&out, out.len);

	assert_int_equal(uapi_handle(&dev, &info, NULL, &st, "stats=1\nx=1\n\n", 13, NOW, &out), 0);
	assert_int_equal(out.len, 11);
	assert_memory_equal(out.data, "errno=-22\n\n", 11);
	uapi_buf_consume(&out, out.len);
	assert_int_equal(uapi_handle(&dev, &info, NULL, NULL, "stats=1\n\n", 9, NOW, &out), -EPROTO);
	assert_int_equal(uapi_handle(&dev, &info, NULL, &st, "stats=2\n\n", 9, NOW, &out), -EPROTO);
	assert_int_equal(out.len, 0);
	assert_int_equal(uapi_handle(&dev, &info, NULL, &st, "get=1\n\n", 7, NOW, &out), 0);
	assert_non_null(memmem(out.data, out.len, "listen_port=51820\n", 18));
	uapi_buf_free(&out);
	wg_device_free(&dev);
}

/* The stats=1 reply of a plaintext interface names its one remote, as plain_get_remote copies
 * it from the tunnel: what it is to us, where, over which transport; a server that has not
 * heard its client has only the role. An encrypted interface's reply has no plain_ line. */
static const char *plain_reply(enum run_mode mode, const char *ip, uint16_t port,
			       enum transport_kind kind, struct uapi_buf *out)
{
	struct uapi_device_info plain_info = info;
	union endpoint peer = { 0 };
	struct plain_tunnel t;
	struct stats st = { .transport_switches = 1 };
	struct wg_device dev;

	if (ip)
		assert_int_equal(addr_parse_literal(ip, port, &peer), 0);
	plain_init(&t, mode, &peer, 0, TRANSPORT_MODE_AUTO);
	t.endpoint.kind = kind;
	plain_get_remote(&t, &plain_info.plain);
	plain_free(&t);
	make_device(&dev);
	uapi_buf_consume(out, out->len);
	assert_int_equal(uapi_handle(&dev, &plain_info, NULL, &st, "stats=1\n\n", 9, NOW, out), 0);
	assert_int_equal(uapi_buf_append(out, "", 1), 0);
	wg_device_free(&dev);
	return out->data;
}

static void assert_starts(const char *text, const char *prefix)
{
	if (strncmp(text, prefix, strlen(prefix)))
		fail_msg("expected a reply beginning\n%s\ngot\n%s", prefix, text);
}

static void handle_stats_plain(void **state)
{
	struct uapi_buf out = { 0 };
	struct uapi_device_info mapped = info;
	struct stats st = { 0 };
	struct wg_device dev;
	const char *text;

	text = plain_reply(MODE_CLIENT, "198.51.100.2", 12345, TRANSPORT_TCP, &out);
	assert_starts(text, "plain_role=server\nplain_endpoint=198.51.100.2:12345\n"
				   "plain_transport=tcp\nrx_packets=0\n");
	assert_non_null(strstr(text, "\ntransport_switches=1\n"));
	text = plain_reply(MODE_SERVER, NULL, 0, TRANSPORT_UDP, &out);
	assert_starts(text, "plain_role=client\nrx_packets=0\n");
	assert_null(strstr(text, "plain_endpoint"));
	assert_null(strstr(text, "plain_transport"));
	text = plain_reply(MODE_PEER, "2001:db8::2", 51820, TRANSPORT_UDP, &out);
	assert_starts(text, "plain_role=peer\nplain_endpoint=[2001:db8::2]:51820\n"
				   "plain_transport=udp\nrx_packets=0\n");

	/* after the port mapping's lines; none at all for an encrypted interface */
	mapped.portmap.state = PORTMAP_REQUESTING;
	mapped.plain = (struct uapi_plain_remote){ .role = UAPI_PLAIN_SERVER, .kind = TRANSPORT_UDP };
	assert_int_equal(addr_parse_literal("192.0.2.1", 9, &mapped.plain.endpoint), 0);
	make_device(&dev);
	uapi_buf_consume(&out, out.len);
	assert_int_equal(uapi_handle(&dev, &mapped, NULL, &st, "stats=1\n\n", 9, NOW, &out), 0);
	assert_int_equal(uapi_buf_append(&out, "", 1), 0);
	assert_starts(out.data, "portmap_state=requesting\nplain_role=server\n"
				       "plain_endpoint=192.0.2.1:9\nplain_transport=udp\nrx_packets=");
	uapi_buf_consume(&out, out.len);
	assert_int_equal(uapi_handle(&dev, &info, NULL, &st, "stats=1\n\n", 9, NOW, &out), 0);
	assert_null(memmem(out.data, out.len, "plain_", 6));
	uapi_buf_free(&out);
	wg_device_free(&dev);
}

static void request_length(void **state)
{
	const char two[] = "get=1\n\nset=1\nfwmark=1\n\n";

	assert_int_equal(uapi_request_length("", 0, 0), 0);
	assert_int_equal(uapi_request_length("get=1\n", 6, 0), 0);
	assert_int_equal(uapi_request_length("get=1\n\n", 7, 0), 7);
	assert_int_equal(uapi_request_length("get=1\n\n", 7, 6), 7); /* straddles the last scan */
	assert_int_equal(uapi_request_length(two, sizeof(two) - 1, 0), 7);
	assert_int_equal(uapi_request_length(two + 7, sizeof(two) - 8, 0), sizeof(two) - 8);
}

static void buf_consume_and_grow(void **state)
{
	struct uapi_buf b = { 0 };

	for (int i = 0; i < 1000; i++)
		assert_int_equal(uapi_buf_printf(&b, "%04d", i), 0);
	assert_int_equal(b.len, 4000);
	uapi_buf_consume(&b, 3996);
	assert_int_equal(b.len, 4);
	assert_memory_equal(b.data, "0999", 4);
	uapi_buf_consume(&b, 10);
	assert_int_equal(b.len, 0);
	uapi_buf_free(&b);
	assert_null(b.data);
}

/* ---- the socket shell, in a temporary directory, on a real loop ---- */

static bool gone_called;

static void on_gone(void *ctx)
{
	gone_called = true;
}

struct stopper {
	struct loop_timer timer;
	struct loop *loop;
};

static void stopper_fire(struct loop_timer *t)
{
	struct stopper *s = container_of(t, struct stopper, timer);

	s->loop->stopping = true;
}

/* Runs the loop for about ms milliseconds. */
static void spin(struct loop *loop, struct stopper *st, int ms)
{
	loop->stopping = false;
	st->timer.deadline_ns = loop_clock_ns() + (uint64_t)ms * 1000000u;
	assert_int_equal(loop_run(loop), 0);
}

static int connect_to(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

static void server_serves_and_notices_removal(void **state)
{
	struct uapi_server_ops ops = { .socket_gone = on_gone };
	static struct uapi_server srv, other;
	char dir[] = "/tmp/test_uapi.XXXXXX", sub[64], reply[4096];
	struct stopper st = { .timer.fire = stopper_fire };
	struct wg_device dev;
	struct loop loop;
	struct stat sb;
	ssize_t n;
	int fd, probe;

	assert_non_null(mkdtemp(dir));
	snprintf(sub, sizeof(sub), "%s/wireguard", dir);
	make_device(&dev);
	assert_int_equal(loop_init(&loop), 0);
	st.loop = &loop;
	assert_int_equal(loop_add_timer(&loop, &st.timer), 0);
	assert_int_equal(uapi_server_open(&srv, &loop, sub, "wgtest0", &dev, &ops), 0);
	assert_int_equal(stat(sub, &sb), 0);
	assert_int_equal(sb.st_mode & 07777, 0700); /* a new directory: root only */
	assert_int_equal(stat(srv.path, &sb), 0);
	assert_true(S_ISSOCK(sb.st_mode));
	assert_int_equal(sb.st_mode & 07777, 0600);
	/* a live server owns the path */
	assert_int_equal(uapi_server_open(&other, &loop, sub, "wgtest0", &dev, NULL), -EADDRINUSE);

	probe = connect_to(srv.path); /* `wg` probes by connecting and closing */
	close(probe);
	fd = connect_to(srv.path);
	assert_int_equal(write(fd, "get=1\n", 6), 6); /* in two parts */
	spin(&loop, &st, 20);
	assert_int_equal(write(fd, "\n", 1), 1);
	spin(&loop, &st, 20);
	n = recv(fd, reply, sizeof(reply) - 1, MSG_DONTWAIT);
	assert_true(n > 9);
	reply[n] = '\0';
	assert_non_null(strstr(reply, "public_key="));
	assert_string_equal(reply + n - 9, "errno=0\n\n");
	close(fd);

	/* deleted: reported on the next check, and close leaves a successor's file alone */
	unlink(srv.path);
	srv.timer.fire(&srv.timer);
	assert_true(gone_called);
	uapi_server_close(&srv);

	/* a stale socket file (a crashed daemon) is replaced */
	loop.timer_count = 1; /* loops cannot unregister timers; a test may */
	assert_int_equal(uapi_server_open(&srv, &loop, sub, "wgtest0", &dev, NULL), 0);
	close(srv.fd);
	srv.fd = -1;
	loop.timer_count = 1;
	assert_int_equal(uapi_server_open(&srv, &loop, sub, "wgtest0", &dev, NULL), 0);
	uapi_server_close(&srv);
	assert_int_equal(stat(srv.path, &sb), -1); /* ours: unlinked */
	rmdir(sub);
	rmdir(dir);
	loop_close(&loop);
	wg_device_free(&dev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(get_format),
		cmocka_unit_test(get_without_key_or_peers),
		cmocka_unit_test(get_peers_without_allowed_ips),
		cmocka_unit_test(set_device_keys),
		cmocka_unit_test(set_private_key),
		cmocka_unit_test(set_peer_keys),
		cmocka_unit_test(set_ipv4_only_socket),
		cmocka_unit_test(set_replace_peers),
		cmocka_unit_test(set_remove_and_update_only),
		cmocka_unit_test(set_replace_allowed_ips),
		cmocka_unit_test(set_self_and_keyless),
		cmocka_unit_test(set_many_peers),
		cmocka_unit_test(set_errors_change_nothing),
		cmocka_unit_test(set_nul_and_long_lines),
		cmocka_unit_test(handle_dispatch),
		cmocka_unit_test(handle_stats),
		cmocka_unit_test(handle_stats_plain),
		cmocka_unit_test(handle_paths),
		cmocka_unit_test(request_length),
		cmocka_unit_test(buf_consume_and_grow),
		cmocka_unit_test(server_serves_and_notices_removal),
	};
	log_threshold = LOGL_WARN; /* "peer N created" lines by the thousand */
	return cmocka_run_group_tests(tests, setup_keys, NULL);
}
