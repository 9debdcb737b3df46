/* Unit tests for the metrics: the HTTP request router (a table of heads), the listen-address
 * parser, and the exposition of a device with peers (names, labels, the cardinality cap). */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "metrics.h"
#include "metrics_server.h"
#include "log.h"
#include "wgcrypto.h"

static void routes(void **state)
{
	static const struct {
		const char *head;
		enum metrics_route route;
	} cases[] = {
		{ "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n", METRICS_GET_METRICS },
		{ "GET /metrics HTTP/1.0\n\n", METRICS_GET_METRICS },
		{ "GET /metrics?x=1 HTTP/1.1\r\n\r\n", METRICS_GET_METRICS },
		{ "GET /metrics HTTP/1.1\r\nHost: x\r\n", METRICS_INCOMPLETE },
		{ "GET /metrics HTTP/1.1\r\n", METRICS_INCOMPLETE },
		{ "", METRICS_INCOMPLETE },
		{ "GET / HTTP/1.1\r\n\r\n", METRICS_NOT_FOUND },
		{ "GET /metricsx HTTP/1.1\r\n\r\n", METRICS_NOT_FOUND },
		{ "GET /metric HTTP/1.1\r\n\r\n", METRICS_NOT_FOUND },
		{ "POST /metrics HTTP/1.1\r\n\r\n", METRICS_BAD_METHOD },
		{ "HEAD /metrics HTTP/1.1\r\n\r\n", METRICS_BAD_METHOD },
		{ "GET /metrics HTTP/2.0\r\n\r\n", METRICS_BAD_REQUEST },
		{ "GET /metrics\r\n\r\n", METRICS_BAD_REQUEST },
		{ "GET metrics HTTP/1.1\r\n\r\n", METRICS_BAD_REQUEST },
		{ "GET  /metrics HTTP/1.1\r\n\r\n", METRICS_BAD_REQUEST },
		{ "GET /metrics HTTP/1.1 x\r\n\r\n", METRICS_BAD_REQUEST },
		{ " /metrics HTTP/1.1\r\n\r\n", METRICS_BAD_REQUEST },
		{ "\r\n\r\n", METRICS_BAD_REQUEST },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		enum metrics_route r = metrics_http_route(cases[i].head, strlen(cases[i].head));

		if (r != cases[i].route)
			fail_msg("case %zu (%s): %d, expected %d", i, cases[i].head, r, cases[i].route);
	}
}

static void listen_addresses(void **state)
{
	union endpoint ep;

	assert_int_equal(addr_parse_listen("127.0.0.1:9586", &ep), 0);
	assert_int_equal(ep.sa.sa_family, AF_INET);
	assert_int_equal(ntohs(ep.in.sin_port), 9586);
	assert_int_equal(addr_parse_listen("[::1]:80", &ep), 0);
	assert_int_equal(ep.sa.sa_family, AF_INET6);
	assert_int_equal(addr_parse_listen(":9586", &ep), 0);
	assert_int_equal(ep.sa.sa_family, AF_INET);
	assert_int_equal(addr_parse_listen("::1:80", &ep), -EINVAL);
	assert_int_equal(addr_parse_listen("127.0.0.1", &ep), -EINVAL);
	assert_int_equal(addr_parse_listen("127.0.0.1:0", &ep), -EINVAL);
	assert_int_equal(addr_parse_listen("127.0.0.1:65536", &ep), -EINVAL);
	assert_int_equal(addr_parse_listen("localhost:9586", &ep), -EINVAL);
	assert_int_equal(addr_parse_listen("[127.0.0.1]:9586", &ep), -EINVAL);
}

static struct wg_peer *peer(struct wg_device *dev, uint8_t seed, const char *ip)
{
	uint8_t priv[32], pub[32];
	struct ip_prefix p;
	struct wg_peer *out;

	memset(priv, seed, sizeof(priv));
	wgcrypto_x25519_clamp(priv);
	assert_true(wgcrypto_x25519_public(pub, priv));
	assert_int_equal(wg_peer_add(dev, pub, NULL, &out), 0);
	if (ip) {
		assert_int_equal(addr_parse_prefix(ip, &p), 0);
		assert_int_equal(wg_peer_allow(out, &p), 0);
	}
	return out;
}

static char *expose(const struct wg_device *dev, const struct stats *total,
		    const struct stats *workers, unsigned int count)
{
	struct uapi_buf out = { 0 };
	struct metrics_input in = { .ifname = "wg0", .dev = dev, .total = total,
				    .workers = workers, .worker_count = count };
	char *text;

	assert_int_equal(metrics_write(&out, &in), 0);
	assert_int_equal(uapi_buf_append(&out, "", 1), 0);
	text = strdup(out.data);
	uapi_buf_free(&out);
	return text;
}

static void has_line(const char *text, const char *line)
{
	const char *at = strstr(text, line);

	if (!at || (at != text && at[-1] != '\n') || at[strlen(line)] != '\n')
		fail_msg("no line '%s' in:\n%s", line, text);
}

static void exposition(void **state)
{
	struct wg_device dev;
	struct stats total = { 0 }, workers[2] = { 0 };
	struct wg_peer *a;
	char key[WGCRYPTO_KEY_B64_LEN + 1], line[512], *text;

	assert_int_equal(wgcrypto_init(), 0);
	assert_int_equal(wg_device_init(&dev, NULL), 0);
	a = peer(&dev, 1, "10.0.0.2/32");
	peer(&dev, 2, NULL);
	a->rx_bytes = 1234;
	a->tx_bytes = 99;
	a->last_handshake_real_ns = 1700000000123456789ull;
	addr_parse_literal("192.0.2.7", 51820, &a->endpoint.remote);
	a->endpoint.kind = TRANSPORT_TCP;
	a->transport_switches = 1;
	total.transport_switches = 1;
	total.drops[DROP_REPLAY] = 3;
	total.handshakes_received = 4;
	total.rx_packets = 11;
	workers[1].tx_packets = 5;
	text = expose(&dev, &total, workers, 2);
	wgcrypto_key_to_base64(key, a->hs.remote_static);
	snprintf(line, sizeof(line), "wireguard_peer_receive_bytes_total{device=\"wg0\",public_key=\"%s\"} 1234", key);
	has_line(text, line);
	snprintf(line, sizeof(line), "wireguard_peer_transmit_bytes_total{device=\"wg0\",public_key=\"%s\"} 99", key);
	has_line(text, line);
	snprintf(line, sizeof(line), "wireguard_peer_last_handshake_seconds{device=\"wg0\",public_key=\"%s\"} 1700000000", key);
	has_line(text, line);
	snprintf(line, sizeof(line), "wireguard_peer_info{device=\"wg0\",public_key=\"%s\",allowed_ips=\"10.0.0.2/32\",endpoint=\"192.0.2.7:51820\"} 1", key);
	has_line(text, line);
	snprintf(line, sizeof(line), "myvpn_peer_tcp{device=\"wg0\",public_key=\"%s\"} 1", key);
	has_line(text, line);
	snprintf(line, sizeof(line), "myvpn_peer_transport_switches_total{device=\"wg0\",public_key=\"%s\"} 1", key);
	has_line(text, line);
	has_line(text, "myvpn_transport_switches_total{device=\"wg0\"} 1");
	has_line(text, "# TYPE wireguard_peer_receive_bytes_total counter");
	has_line(text, "# TYPE wireguard_peer_last_handshake_seconds gauge");
	has_line(text, "myvpn_dropped_packets_total{device=\"wg0\",reason=\"replay\"} 3");
	has_line(text, "myvpn_dropped_packets_total{device=\"wg0\",reason=\"kernel_rx\"} 0");
	has_line(text, "myvpn_rx_packets_total{device=\"wg0\"} 11");
	has_line(text, "myvpn_handshakes_total{device=\"wg0\",result=\"accepted\"} 4");
	has_line(text, "myvpn_worker_tx_packets_total{device=\"wg0\",worker=\"1\"} 5");
	has_line(text, "myvpn_worker_tx_packets_total{device=\"wg0\",worker=\"0\"} 0");
	has_line(text, "myvpn_peers{device=\"wg0\"} 2");
	has_line(text, "myvpn_metrics_peers_omitted{device=\"wg0\"} 0");
	/* every drop reason, once */
	for (int r = 0; r < DROP_REASON_COUNT; r++) {
		snprintf(line, sizeof(line), "reason=\"%s\"}", stats_drop_reason_name(r));
		assert_non_null(strstr(text, line));
	}
	free(text);
	wg_device_free(&dev);
}

/* The port mapping: nothing while off; its state, protocol and address as labels; the
 * lifetime left only while mapped with one. */
static void port_mapping(void **state)
{
	struct stats total = { 0 };
	struct portmap_status pm = { .state = PORTMAP_MAPPED, .protocol = PORTMAP_PROTO_UPNP,
				     .expires_ns = 9000000000000ull };
	struct sockaddr_in *sin = (struct sockaddr_in *)&pm.external;
	struct metrics_input in = { .ifname = "wg0", .total = &total, .portmap = &pm,
				    .now_ns = 8000000000000ull };
	struct uapi_buf out = { 0 };

	sin->sin_family = AF_INET;
	inet_pton(AF_INET, "198.51.100.1", &sin->sin_addr);
	sin->sin_port = htons(51820);
	assert_int_equal(metrics_write(&out, &in), 0);
	assert_int_equal(uapi_buf_append(&out, "", 1), 0);
	has_line(out.data, "# TYPE myvpn_port_mapping_info gauge");
	has_line(out.data, "myvpn_port_mapping_info{device=\"wg0\",state=\"mapped\",protocol=\"upnp\",external=\"198.51.100.1:51820\"} 1");
	has_line(out.data, "myvpn_port_mapping_lifetime_seconds{device=\"wg0\"} 1000");
	out.len = 0;
	pm = (struct portmap_status){ .state = PORTMAP_FAILED };
	assert_int_equal(metrics_write(&out, &in), 0);
	assert_int_equal(uapi_buf_append(&out, "", 1), 0);
	has_line(out.data, "myvpn_port_mapping_info{device=\"wg0\",state=\"failed\",protocol=\"\",external=\"\"} 1");
	assert_null(strstr(out.data, "lifetime"));
	out.len = 0;
	pm.state = PORTMAP_NONE;
	assert_int_equal(metrics_write(&out, &in), 0);
	assert_int_equal(uapi_buf_append(&out, "", 1), 0);
	assert_null(strstr(out.data, "port_mapping"));
	uapi_buf_free(&out);
}

/* A plaintext interface's remote: 1 over TCP, 0 over UDP or not yet heard from; nothing for
 * an encrypted interface. */
static void plain_remote(void **state)
{
	struct stats total = { 0 };
	struct uapi_plain_remote r = { .role = UAPI_PLAIN_SERVER, .kind = TRANSPORT_TCP };
	struct metrics_input in = { .ifname = "tun0", .total = &total, .plain = &r };
	struct uapi_buf out = { 0 };

	addr_parse_literal("198.51.100.2", 12345, &r.endpoint);
	assert_int_equal(metrics_write(&out, &in), 0);
	assert_int_equal(uapi_buf_append(&out, "", 1), 0);
	has_line(out.data, "# TYPE myvpn_plain_tcp gauge");
	has_line(out.data, "myvpn_plain_tcp{device=\"tun0\",role=\"server\"} 1");
	out.len = 0;
	r.kind = TRANSPORT_UDP;
	assert_int_equal(metrics_write(&out, &in), 0);
	assert_int_equal(uapi_buf_append(&out, "", 1), 0);
	has_line(out.data, "myvpn_plain_tcp{device=\"tun0\",role=\"server\"} 0");
	out.len = 0;
	r = (struct uapi_plain_remote){ .role = UAPI_PLAIN_CLIENT, .kind = TRANSPORT_TCP };
	assert_int_equal(metrics_write(&out, &in), 0);
	assert_int_equal(uapi_buf_append(&out, "", 1), 0);
	has_line(out.data, "myvpn_plain_tcp{device=\"tun0\",role=\"client\"} 0");
	out.len = 0;
	r.role = UAPI_PLAIN_NONE;
	assert_int_equal(metrics_write(&out, &in), 0);
	assert_int_equal(uapi_buf_append(&out, "", 1), 0);
	assert_null(strstr(out.data, "myvpn_plain"));
	uapi_buf_free(&out);
}

/* Past METRICS_MAX_ALLOWED_IPS a peer's label ends ",..."; past METRICS_MAX_PEERS peers are
 * counted, not listed. */
static void cardinality(void **state)
{
	struct wg_device dev;
	struct stats total = { 0 };
	struct wg_peer *a;
	char ip[32], line[64], *text, *info;
	size_t lines = 0;

	assert_int_equal(wg_device_init(&dev, NULL), 0);
	a = peer(&dev, 1, NULL);
	for (int i = 0; i < METRICS_MAX_ALLOWED_IPS + 3; i++) {
		struct ip_prefix p;

		snprintf(ip, sizeof(ip), "10.1.%d.0/24", i);
		assert_int_equal(addr_parse_prefix(ip, &p), 0);
		assert_int_equal(wg_peer_allow(a, &p), 0);
	}
	for (int i = 0; i < METRICS_MAX_PEERS + 4; i++) {
		uint8_t pub[32] = { 0 };
		struct wg_peer *p;

		memcpy(pub, &i, sizeof(i));
		pub[31] = 0x40; /* not checked here: only a distinct key per peer */
		assert_int_equal(wg_peer_add(&dev, pub, NULL, &p), 0);
	}
	text = expose(&dev, &total, NULL, 0);
	snprintf(line, sizeof(line), "myvpn_metrics_peers_omitted{device=\"wg0\"} %d", 5);
	has_line(text, line);
	for (const char *c = text; (c = strstr(c, "\nwireguard_peer_receive_bytes_total{")); c++)
		lines++;
	assert_int_equal(lines, METRICS_MAX_PEERS);
	info = strstr(text, "\nwireguard_peer_info{");
	assert_non_null(info);
	assert_non_null(strstr(info, ",10.1.15.0/24,...\",endpoint=\"\"} 1\n"));
	free(text);
	wg_device_free(&dev);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(routes),
		cmocka_unit_test(listen_addresses),
		cmocka_unit_test(exposition),
		cmocka_unit_test(cardinality),
		cmocka_unit_test(port_mapping),
		cmocka_unit_test(plain_remote),
	};

	log_threshold = LOGL_WARN; /* no "peer N created" lines for a thousand peers */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
