/*
 * hsflood: sends WireGuard handshake initiations at a fixed rate, for the netns flood test.
 *
 *   hsflood -d ADDR:PORT -k SERVER_PUBLIC_KEY [-r RATE] [-t SECONDS] [-s SRC]... [-S FILE]
 *
 * Each initiation is 148 bytes, type 1, with a valid mac1 for SERVER_PUBLIC_KEY (base64), so the
 * server must go past its cheap check; the sender index, ephemeral key, encrypted static and
 * timestamp are random, so the handshake itself fails after the server has spent a DH on it.
 * mac2 is zero: cookie replies are counted, never used.
 *
 * ADDR is IPv4 (192.0.2.1:51820) or IPv6 ([2001:db8::1]:51820). RATE is messages per second
 * (default 20000), SECONDS the duration (default 5, fractions allowed). -s binds one socket per
 * source address (repeatable); -S FILE reads source addresses one per line. Messages go out from
 * the sources in turn. Without sources, one unbound socket is used.
 *
 * At the end it prints one line to stdout:
 *   hsflood: sent N in T s (R/s) from S sources, send errors E, cookie replies C
 * and exits 0, or 1 when it could not run.
 *
 * Built from the Makefile (build/tools/hsflood) with the project's noise.o and wgcrypto.o: mac1
 * comes from noise_cookie_add_macs, exactly as myvpn computes it for its own initiations.
 */
#include "messages.h"
#include "noise.h"
#include "wgcrypto.h"

#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { MAX_SOURCES = 65536, TICK_NS = 1000000, DRAIN_EVERY_NS = 100000000 };

union sa {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

static void usage(void)
{
	fputs("usage: hsflood -d ADDR:PORT -k SERVER_PUBLIC_KEY [-r RATE] [-t SECONDS] "
	      "[-s SRC]... [-S FILE]\n", stderr);
	exit(1);
}

static void die(const char *what, const char *detail)
{
	fprintf(stderr, "hsflood: %s%s%s\n", what, detail ? ": " : "", detail ? detail : "");
	exit(1);
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* ADDR:PORT or [ADDR6]:PORT */
static socklen_t parse_endpoint(const char *text, union sa *out)
{
	char host[INET6_ADDRSTRLEN + 2];
	const char *colon = strrchr(text, ':');
	size_t hl;
	long port;
	char *end;

	if (!colon)
		return 0;
	port = strtol(colon + 1, &end, 10);
	if (*end || port < 1 || port > 65535)
		return 0;
	hl = (size_t)(colon - text);
	if (hl >= 2 && text[0] == '[' && text[hl - 1] == ']') {
		text++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		return 0;
	memcpy(host, text, hl);
	host[hl] = '\0';
	memset(out, 0, sizeof(*out));
	if (inet_pton(AF_INET, host, &out->in.sin_addr) == 1) {
		out->in.sin_family = AF_INET;
		out->in.sin_port = htons((uint16_t)port);
		return sizeof(out->in);
	}
	if (inet_pton(AF_INET6, host, &out->in6.sin6_addr) == 1) {
		out->in6.sin6_family = AF_INET6;
		out->in6.sin6_port = htons((uint16_t)port);
		return sizeof(out->in6);
	}
	return 0;
}

/* A non-blocking-for-receive UDP socket of family, bound to src (NULL: unbound). */
static int open_socket(int family, const char *src)
{
	union sa sa = { 0 };
	socklen_t len;
	int fd = socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket", strerror(errno));
	if (!src)
		return fd;
	if (family == AF_INET) {
		sa.in.sin_family = AF_INET;
		len = sizeof(sa.in);
		if (inet_pton(AF_INET, src, &sa.in.sin_addr) != 1)
			die("not an IPv4 source address", src);
	} else {
		sa.in6.sin6_family = AF_INET6;
		len = sizeof(sa.in6);
		if (inet_pton(AF_INET6, src, &sa.in6.sin6_addr) != 1)
			die("not an IPv6 source address", src);
	}
	if (bind(fd, &sa.sa, len) < 0) {
		fprintf(stderr, "hsflood: bind %s: %s\n", src, strerror(errno));
		exit(1);
	}
	return fd;
}

/* Counts the cookie replies waiting on each socket. */
static uint64_t drain(const int *fds, size_t n)
{
	uint8_t buf[256];
	uint64_t replies = 0;

	for (size_t i = 0; i < n; i++) {
		ssize_t len;

		while ((len = recv(fds[i], buf, sizeof(buf), MSG_DONTWAIT)) >= 0)
			if (len == MESSAGE_COOKIE_LEN && buf[0] == MESSAGE_HANDSHAKE_COOKIE)
				replies++;
	}
	return replies;
}

static void raise_fd_limit(size_t want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur >= want + 16)
		return;
	rl.rlim_cur = rl.rlim_max == RLIM_INFINITY || rl.rlim_max > want + 16 ? want + 16 : rl.rlim_max;
	setrlimit(RLIMIT_NOFILE, &rl);
}

int main(int argc, char **argv)
{
	const char *dest_text = NULL, *key_text = NULL, *sources_file = NULL;
	const char **sources = calloc(MAX_SOURCES, sizeof(*sources));
	size_t nsrc = 0, nfd;
	double rate = 20000, seconds = 5;
	uint8_t server_pub[WGCRYPTO_KEY_LEN];
	struct noise_cookie cookie;
	union sa dest;
	socklen_t dest_len;
	int *fds, opt;
	uint64_t total, sent = 0, errors = 0, replies = 0, start, last_drain, elapsed;

	if (!sources)
		die("out of memory", NULL);
	while ((opt = getopt(argc, argv, "d:k:r:t:s:S:")) != -1) {
		switch (opt) {
		case 'd': dest_text = optarg; break;
		case 'k': key_text = optarg; break;
		case 'r': rate = atof(optarg); break;
		case 't': seconds = atof(optarg); break;
		case 's':
			if (nsrc == MAX_SOURCES)
				die("too many sources", NULL);
			sources[nsrc++] = optarg;
			break;
		case 'S': sources_file = optarg; break;
		default: usage();
		}
	}
	if (!dest_text || !key_text || optind != argc || rate <= 0 || seconds <= 0)
		usage();
	if (!(dest_len = parse_endpoint(dest_text, &dest)))
		die("bad destination", dest_text);
	if (!wgcrypto_key_from_base64(server_pub, key_text))
		die("bad server public key", key_text);
	if (wgcrypto_init() || !noise_cookie_init(&cookie, server_pub))
		die("crypto initialisation failed", NULL);
	if (sources_file) {
		FILE *f = fopen(sources_file, "r");
		char line[INET6_ADDRSTRLEN + 2];

		if (!f)
			die(sources_file, strerror(errno));
		while (fgets(line, sizeof(line), f)) {
			line[strcspn(line, " \t\r\n")] = '\0';
			if (!line[0])
				continue;
			if (nsrc == MAX_SOURCES)
				die("too many sources", NULL);
			if (!(sources[nsrc++] = strdup(line)))
				die("out of memory", NULL);
		}
		fclose(f);
	}

	nfd = nsrc ? nsrc : 1;
	raise_fd_limit(nfd);
	if (!(fds = calloc(nfd, sizeof(*fds))))
		die("out of memory", NULL);
	for (size_t i = 0; i < nfd; i++)
		fds[i] = open_socket(dest.sa.sa_family, nsrc ? sources[i] : NULL);

	total = (uint64_t)(rate * seconds);
	start = last_drain = now_ns();
	while (sent < total) {
		uint64_t now = now_ns(), due;

		elapsed = now - start;
		due = (uint64_t)(rate * (double)elapsed / 1e9) + 1;
		if (due > total)
			due = total;
		for (; sent < due; sent++) {
			struct message_handshake_initiation msg;

			if (!wgcrypto_random(&msg, offsetof(struct message_handshake_initiation, macs)))
				die("random bytes", NULL);
			msg.header.type = htole32(MESSAGE_HANDSHAKE_INITIATION);
			memset(&msg.macs, 0, sizeof(msg.macs));
			if (!noise_cookie_add_macs(&cookie, &msg, sizeof(msg), now))
				die("mac1", NULL);
			if (sendto(fds[sent % nfd], &msg, sizeof(msg), 0, &dest.sa, dest_len) !=
			    (ssize_t)sizeof(msg))
				errors++;
		}
		/* few sockets: drain every tick, before their small receive buffers overflow */
		if (nfd <= 16 || now - last_drain >= DRAIN_EVERY_NS) {
			replies += drain(fds, nfd);
			last_drain = now;
		}
		if (sent < total) {
			struct timespec tick = { 0, TICK_NS };

			nanosleep(&tick, NULL);
		}
	}
	elapsed = now_ns() - start;
	usleep(200000); /* the last replies */
	replies += drain(fds, nfd);
	printf("hsflood: sent %llu in %.2f s (%.0f/s) from %zu sources, send errors %llu, cookie replies %llu\n",
	       (unsigned long long)sent, (double)elapsed / 1e9, (double)sent * 1e9 / (double)elapsed,
	       nfd, (unsigned long long)errors, (unsigned long long)replies);
	return 0;
}
