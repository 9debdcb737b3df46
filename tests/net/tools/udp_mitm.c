/*
 * udp_mitm: a man-in-the-middle UDP relay for the netns security tests.
 *
 *   cc -O2 -o udp_mitm udp_mitm.c
 *   udp_mitm -a LISTEN_A -A PEER_A -b LISTEN_B -B PEER_B -c FIFO
 *
 * Addresses are IPv4 ADDR:PORT. What arrives on LISTEN_A is forwarded to PEER_B from LISTEN_B;
 * what arrives on LISTEN_B is forwarded to PEER_A from LISTEN_A. So side A's Endpoint is LISTEN_A,
 * side B's is LISTEN_B, and each side takes the relay for the other one.
 *
 * Commands are read from FIFO (made with mkfifo), one per line. The relay keeps the FIFO open for
 * writing too, so writers never block once it has printed "mitm: ready". The n-th line read is
 * command n. When command n has been carried out, the relay prints "mitm: done n: ..." (at once
 * for most; for flip and sweep once the packet they wait for has passed), or "mitm: error n: ..."
 * if it cannot be done. Output goes to stdout, a line at a time.
 *
 * DIR is ab (sent by A to B) or ba. TYPE is the message type in byte 0 (WireGuard: 1 initiation,
 * 2 response, 3 cookie reply, 4 data). X is an xor mask, 0x01..0xff, default 0xff.
 *
 *   replay N DIR [TYPE [foreign]]
 *                         re-send the last N forwarded packets of TYPE (default 4) of DIR,
 *                         oldest first, to their destination, exactly as first forwarded; with
 *                         "foreign", from the relay's own port instead (see below).
 *   flip DIR TYPE OFF [X] forward the next TYPE packet of DIR with byte OFF xored with X,
 *                         instead of the original.
 *   sweep DIR TYPE [FIRST [LAST [X [GAP_US]]]]
 *                         hold the next TYPE packet of DIR; for each offset FIRST..LAST (default
 *                         the whole packet; LAST -1 = its last byte) send one copy with only that
 *                         byte xored with X, GAP_US microseconds apart (default 0); then forward
 *                         the original. "done" reports the packet length and the copies sent.
 *   reflect N DIR         send the last N data packets of DIR back to the side that sent them.
 *   randidx N DIR         send N copies of the last data packet of DIR to its destination, each
 *                         with a random receiver index (bytes 4..7), never the original one.
 *   flood K GAP_US DIR [garbage]
 *                         send K copies of the last initiation of DIR to its destination, GAP_US
 *                         apart, from the relay's own port. With "garbage": random 148-byte
 *                         messages with a valid type-1 header instead. "done" (0.5 s after the
 *                         last one) reports the replies to the relay's own port meanwhile:
 *                         cookie replies (type 3, 64 bytes) and others.
 *   stats                 print the counters, with the replies to the relay's own ports.
 *
 * The relay's own port on a side is a second socket on that side's LISTEN address, with an
 * ephemeral port: a source that is not the endpoint either peer knows.
 *
 * Only one sweep and one flood run at a time; a packet that an armed sweep would take while
 * another sweep is running is forwarded untouched and the sweep stays armed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

enum { PKT_MAX = 4096, RING = 32, NTYPES = 5, MAX_ARMS = 32, CTL_MAX = 4096 };
enum { A, B };   /* sides; a direction is named by the side that sent: AB = A, BA = B */
static const char *const dir_name[2] = { "ab", "ba" };

struct packet {
	size_t len;
	uint8_t data[PKT_MAX];
};

/* The last RING packets of one type in one direction; count is how many ever arrived. */
struct ring {
	struct packet pkt[RING];
	unsigned long count;
};

/* A flip or sweep waiting for its packet. */
struct arm {
	bool used, sweep;
	long id, first, last, gap_us;
	int dir, type;
	uint8_t x;
};

static struct {
	bool active;
	long id, next, last, sent;
	int dir, type;
	uint8_t x;
	uint64_t gap_ns, due;
	struct packet orig;
} sweep;

static struct {
	bool active, garbage;
	long id, left, sent, cookies, others; /* replies: counts at the start, then the growth */
	int dir;
	uint64_t gap_ns, due, finish;
	struct packet pkt;
} flood;

static int side_sock[2];
static struct sockaddr_in listen_addr[2], peer_addr[2];
static struct ring captured[2][NTYPES];
static struct arm arms[MAX_ARMS];
static unsigned long forwarded[2], injected[2];
/* The relay's own port on each side, made on first use, and the replies it got there. */
static int own_sock[2] = { -1, -1 };
static unsigned int own_port[2];
static long own_cookies[2], own_others[2];

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "udp_mitm: %s: %s\n", what, strerror(errno));
	exit(1);
}

static int parse_addr(const char *s, struct sockaddr_in *out)
{
	char host[64];
	const char *colon = strrchr(s, ':');

	if (!colon || (size_t)(colon - s) >= sizeof(host))
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	memset(out, 0, sizeof(*out));
	out->sin_family = AF_INET;
	out->sin_port = htons((uint16_t)atoi(colon + 1));
	return inet_pton(AF_INET, host, &out->sin_addr) == 1 ? 0 : -1;
}

static int udp_socket(const struct sockaddr_in *bind_to)
{
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	int big = 4 << 20;

	if (fd < 0)
		die("socket");
	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof(big));
	if (bind(fd, (const struct sockaddr *)bind_to, sizeof(*bind_to)) < 0)
		die("bind");
	return fd;
}

/* Sends to side's real peer from the relay's socket on that side, waiting out a full buffer. */
static void send_from(int fd, int side, const uint8_t *data, size_t len)
{
	for (int tries = 0; tries < 1000; tries++) {
		if (sendto(fd, data, len, 0, (const struct sockaddr *)&peer_addr[side],
			   sizeof(peer_addr[side])) >= 0)
			return;
		if (errno != EAGAIN && errno != ENOBUFS)
			break;
		usleep(100);
	}
	fprintf(stderr, "udp_mitm: sendto: %s\n", strerror(errno));
}

static void send_to(int side, const uint8_t *data, size_t len)
{
	send_from(side_sock[side], side, data, len);
}

static int own_socket(int side)
{
	struct sockaddr_in a = listen_addr[side];

	if (own_sock[side] >= 0)
		return own_sock[side];
	a.sin_port = 0;
	own_sock[side] = udp_socket(&a);
	if (getsockname(own_sock[side], (struct sockaddr *)&a, &(socklen_t){ sizeof(a) }) < 0)
		die("getsockname");
	own_port[side] = ntohs(a.sin_port);
	return own_sock[side];
}

static int type_of(const struct packet *p)
{
	return p->len && p->data[0] < NTYPES ? p->data[0] : 0;
}

/* The i-th most recent captured packet (0 = the last), or NULL. */
static const struct packet *recent(int dir, int type, unsigned long i)
{
	const struct ring *r = &captured[dir][type];

	if (i >= r->count || i >= RING)
		return NULL;
	return &r->pkt[(r->count - 1 - i) % RING];
}

static void done(long id, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void done(long id, const char *fmt, ...)
{
	va_list ap;

	printf("mitm: done %ld: ", id);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
}

/* ---- commands ---- */

static int parse_dir(const char *s)
{
	return !s ? -1 : !strcmp(s, "ab") ? A : !strcmp(s, "ba") ? B : -1;
}

static long num(const char *s, long dflt)
{
	return s ? strtol(s, NULL, 0) : dflt;
}

static void cmd_replay(long id, long n, int dir, int type, bool foreign)
{
	long have = 0;

	while (have < n && recent(dir, type, (unsigned long)have))
		have++;
	if (have < n) {
		printf("mitm: error %ld: only %ld type-%d packets of %s captured\n", id, have, type,
		       dir_name[dir]);
		return;
	}
	for (long i = n - 1; i >= 0; i--) {
		const struct packet *p = recent(dir, type, (unsigned long)i);

		send_from(foreign ? own_socket(!dir) : side_sock[!dir], !dir, p->data, p->len);
		injected[dir]++;
	}
	done(id, "replayed %ld type-%d packets of %s from port %u", n, type, dir_name[dir],
	     foreign ? own_port[!dir] : ntohs(listen_addr[!dir].sin_port));
}

static void cmd_reflect(long id, long n, int dir)
{
	for (long i = n - 1; i >= 0; i--) {
		if (!recent(dir, 4, (unsigned long)i)) {
			printf("mitm: error %ld: only %ld data packets of %s captured\n", id, i,
			       dir_name[dir]);
			return;
		}
	}
	for (long i = n - 1; i >= 0; i--) {
		const struct packet *p = recent(dir, 4, (unsigned long)i);

		send_to(dir, p->data, p->len);
		injected[!dir]++;
	}
	done(id, "reflected %ld data packets of %s back to their sender", n, dir_name[dir]);
}

static void cmd_randidx(long id, long n, int dir)
{
	const struct packet *last = recent(dir, 4, 0);
	struct packet p;

	if (!last || last->len < 8) {
		printf("mitm: error %ld: no data packet of %s captured\n", id, dir_name[dir]);
		return;
	}
	p = *last;
	for (long i = 0; i < n; i++) {
		do {
			if (getrandom(p.data + 4, 4, 0) != 4)
				die("getrandom");
		} while (!memcmp(p.data + 4, last->data + 4, 4));
		send_to(!dir, p.data, p.len);
		injected[dir]++;
	}
	done(id, "sent %ld data packets of %s with random receiver indices", n, dir_name[dir]);
}

static void cmd_flood(long id, long k, long gap_us, int dir, bool garbage)
{
	const struct packet *init = recent(dir, 1, 0);

	if (flood.active || (!garbage && !init)) {
		printf("mitm: error %ld: %s\n", id,
		       flood.active ? "a flood is running" : "no initiation captured");
		return;
	}
	own_socket(!dir);
	flood.active = true;
	flood.garbage = garbage;
	flood.id = id;
	flood.dir = dir;
	flood.left = k;
	flood.sent = 0;
	flood.cookies = own_cookies[!dir];
	flood.others = own_others[!dir];
	flood.gap_ns = (uint64_t)gap_us * 1000u;
	flood.due = now_ns();
	flood.finish = 0;
	if (!garbage)
		flood.pkt = *init;
}

static void cmd_arm(long id, bool is_sweep, int dir, int type, long first, long last, long x,
		    long gap_us)
{
	if (type < 1 || type >= NTYPES || first < 0 || x < 1 || x > 255 || gap_us < 0) {
		printf("mitm: error %ld: bad arguments\n", id);
		return;
	}
	for (int i = 0; i < MAX_ARMS; i++) {
		if (arms[i].used)
			continue;
		arms[i] = (struct arm){ .used = true, .sweep = is_sweep, .id = id, .first = first,
					.last = last, .gap_us = gap_us, .dir = dir, .type = type,
					.x = (uint8_t)x };
		return;
	}
	printf("mitm: error %ld: too many armed commands\n", id);
}

static void command(long id, char *line)
{
	char *arg[8] = { 0 };
	int n = 0, dir;

	for (char *save, *t = strtok_r(line, " \t\r", &save); t && n < 8;
	     t = strtok_r(NULL, " \t\r", &save))
		arg[n++] = t;
	if (!n) {
		printf("mitm: error %ld: empty command\n", id);
		return;
	}
	if (!strcmp(arg[0], "stats")) {
		done(id, "forwarded ab=%lu ba=%lu (cookie replies ab=%lu ba=%lu), injected ab=%lu "
			 "ba=%lu; replies to own ports: from a cookie=%ld other=%ld, from b cookie=%ld "
			 "other=%ld",
		     forwarded[A], forwarded[B], captured[A][3].count, captured[B][3].count,
		     injected[A], injected[B], own_cookies[A], own_others[A], own_cookies[B],
		     own_others[B]);
		return;
	}
	if (!strcmp(arg[0], "flip") || !strcmp(arg[0], "sweep")) {
		bool is_sweep = arg[0][0] == 's';

		dir = parse_dir(arg[1]);
		if (dir < 0 || !arg[2] || (!is_sweep && !arg[3]))
			goto usage;
		if (is_sweep)
			cmd_arm(id, true, dir, (int)num(arg[2], 0), num(arg[3], 0), num(arg[4], -1),
				num(arg[5], 0xff), num(arg[6], 0));
		else
			cmd_arm(id, false, dir, (int)num(arg[2], 0), num(arg[3], 0), num(arg[3], 0),
				num(arg[4], 0xff), 0);
		return;
	}
	dir = parse_dir(arg[0][0] == 'f' ? arg[3] : arg[2]);
	if (dir < 0 || num(arg[1], 0) < 1)
		goto usage;
	if (!strcmp(arg[0], "replay")) {
		long type = num(arg[3], 4);

		if (type < 0 || type >= NTYPES)
			goto usage;
		cmd_replay(id, num(arg[1], 0), dir, (int)type, arg[4] && !strcmp(arg[4], "foreign"));
	} else if (!strcmp(arg[0], "reflect")) {
		cmd_reflect(id, num(arg[1], 0), dir);
	} else if (!strcmp(arg[0], "randidx")) {
		cmd_randidx(id, num(arg[1], 0), dir);
	} else if (!strcmp(arg[0], "flood") && arg[2]) {
		cmd_flood(id, num(arg[1], 0), num(arg[2], 0), dir, arg[4] && !strcmp(arg[4], "garbage"));
	} else {
		goto usage;
	}
	return;
usage:
	printf("mitm: error %ld: cannot parse command\n", id);
}

/* ---- packets ---- */

static void sweep_start(const struct arm *a, const struct packet *p, uint64_t now)
{
	sweep.active = true;
	sweep.id = a->id;
	sweep.dir = a->dir;
	sweep.type = a->type;
	sweep.x = a->x;
	sweep.next = a->first;
	sweep.last = a->last < 0 || (size_t)a->last >= p->len ? (long)p->len - 1 : a->last;
	sweep.sent = 0;
	sweep.gap_ns = (uint64_t)a->gap_us * 1000u;
	sweep.due = now;
	sweep.orig = *p;
}

/* A packet from side `dir`: captured, then flipped, held for a sweep, or forwarded. */
static void received(int dir, const struct packet *p, uint64_t now)
{
	int type = type_of(p);
	struct ring *r = &captured[dir][type];

	r->pkt[r->count++ % RING] = *p;
	forwarded[dir]++;
	for (int i = 0; i < MAX_ARMS; i++) {
		struct arm *a = &arms[i];

		if (!a->used || a->dir != dir || a->type != type)
			continue;
		if ((size_t)a->first >= p->len) {
			printf("mitm: error %ld: packet of %zu bytes has no offset %ld\n", a->id,
			       p->len, a->first);
			a->used = false;
			break;
		}
		if (!a->sweep) {
			struct packet t = *p;

			t.data[a->first] ^= a->x;
			send_to(!dir, t.data, t.len);
			a->used = false;
			done(a->id, "flipped byte %ld of a %zu-byte type-%d packet of %s", a->first,
			     p->len, type, dir_name[dir]);
			return;
		}
		if (sweep.active)
			break;
		sweep_start(a, p, now);
		a->used = false;
		return;
	}
	send_to(!dir, p->data, p->len);
}

/* Sends what is due; returns the next deadline (UINT64_MAX: none). */
static uint64_t run_jobs(uint64_t now)
{
	uint64_t wake = UINT64_MAX;
	int burst;

	for (burst = 0; sweep.active && sweep.due <= now && burst < 4096; burst++) {
		if (sweep.next <= sweep.last) {
			struct packet t = sweep.orig;

			t.data[sweep.next++] ^= sweep.x;
			send_to(!sweep.dir, t.data, t.len);
			injected[sweep.dir]++;
			sweep.sent++;
			sweep.due += sweep.gap_ns;
			continue;
		}
		send_to(!sweep.dir, sweep.orig.data, sweep.orig.len);
		sweep.active = false;
		done(sweep.id, "swept %s type %d len %zu offsets %ld-%ld xor 0x%02x: %ld tampered "
			       "copies, then the original",
		     dir_name[sweep.dir], sweep.type, sweep.orig.len, sweep.next - sweep.sent,
		     sweep.last, sweep.x, sweep.sent);
	}
	if (sweep.active)
		wake = sweep.due;

	for (burst = 0; flood.active && flood.left && flood.due <= now && burst < 256; burst++) {
		if (flood.garbage) {
			flood.pkt.len = 148;
			if (getrandom(flood.pkt.data, flood.pkt.len, 0) != (ssize_t)flood.pkt.len)
				die("getrandom");
			memcpy(flood.pkt.data, "\x01\0\0\0", 4);
		}
		send_from(own_sock[!flood.dir], !flood.dir, flood.pkt.data, flood.pkt.len);
		flood.sent++;
		flood.left--;
		flood.due += flood.gap_ns;
	}
	if (flood.active && !flood.left && !flood.finish)
		flood.finish = now + 500000000u;
	if (flood.active && flood.finish && now >= flood.finish) {
		int side = !flood.dir;

		flood.active = false;
		done(flood.id, "flooded %s with %ld %s from port %u: replies cookie=%ld other=%ld",
		     dir_name[flood.dir], flood.sent, flood.garbage ? "garbage initiations" :
		     "copies of an initiation", own_port[side], own_cookies[side] - flood.cookies,
		     own_others[side] - flood.others);
	}
	if (flood.active) {
		uint64_t t = flood.left ? flood.due : flood.finish;

		wake = t < wake ? t : wake;
	}
	return wake;
}

static void read_own(int side)
{
	uint8_t buf[PKT_MAX];
	ssize_t n;

	while ((n = recv(own_sock[side], buf, sizeof(buf), 0)) >= 0) {
		if (n == 64 && !memcmp(buf, "\x03\0\0\0", 4))
			own_cookies[side]++;
		else
			own_others[side]++;
	}
}

static void read_side(int side, uint64_t now)
{
	struct packet p;
	ssize_t n;

	while ((n = recv(side_sock[side], p.data, sizeof(p.data), 0)) >= 0) {
		p.len = (size_t)n;
		received(side, &p, now);
	}
}

static void read_control(int fd, long *next_id)
{
	static char buf[CTL_MAX];
	static size_t have;
	ssize_t n;
	char *nl;

	while ((n = read(fd, buf + have, sizeof(buf) - 1 - have)) > 0) {
		have += (size_t)n;
		buf[have] = '\0';
		while ((nl = strchr(buf, '\n'))) {
			*nl = '\0';
			command(++*next_id, buf);
			have -= (size_t)(nl + 1 - buf);
			memmove(buf, nl + 1, have + 1);
		}
		if (have == sizeof(buf) - 1)
			have = 0; /* a line too long for us: drop it */
	}
}

static void usage(void)
{
	fprintf(stderr, "usage: udp_mitm -a LISTEN_A -A PEER_A -b LISTEN_B -B PEER_B -c FIFO\n");
	exit(2);
}

int main(int argc, char **argv)
{
	const char *fifo = NULL;
	bool have[4] = { 0 };
	long next_id = 0;
	int opt, ctl;

	while ((opt = getopt(argc, argv, "a:A:b:B:c:")) != -1) {
		switch (opt) {
		case 'a': have[0] = !parse_addr(optarg, &listen_addr[A]); break;
		case 'A': have[1] = !parse_addr(optarg, &peer_addr[A]); break;
		case 'b': have[2] = !parse_addr(optarg, &listen_addr[B]); break;
		case 'B': have[3] = !parse_addr(optarg, &peer_addr[B]); break;
		case 'c': fifo = optarg; break;
		default: usage();
		}
	}
	if (!fifo || !have[0] || !have[1] || !have[2] || !have[3] || optind != argc)
		usage();
	setvbuf(stdout, NULL, _IOLBF, 0);
	side_sock[A] = udp_socket(&listen_addr[A]);
	side_sock[B] = udp_socket(&listen_addr[B]);
	ctl = open(fifo, O_RDWR | O_NONBLOCK | O_CLOEXEC);
	if (ctl < 0)
		die(fifo);
	printf("mitm: ready\n");

	for (;;) {
		uint64_t now = now_ns(), wake = run_jobs(now);
		struct pollfd fds[5] = {
			{ .fd = side_sock[A], .events = POLLIN },
			{ .fd = side_sock[B], .events = POLLIN },
			{ .fd = ctl, .events = POLLIN },
			{ .fd = own_sock[A], .events = POLLIN },
			{ .fd = own_sock[B], .events = POLLIN },
		};
		struct timespec ts, *timeout = NULL;

		if (wake != UINT64_MAX) {
			uint64_t left = wake > now ? wake - now : 0;

			ts.tv_sec = (time_t)(left / 1000000000u);
			ts.tv_nsec = (long)(left % 1000000000u);
			timeout = &ts;
		}
		if (ppoll(fds, 5, timeout, NULL) < 0) {
			if (errno == EINTR)
				continue;
			die("ppoll");
		}
		now = now_ns();
		if (fds[0].revents & POLLIN)
			read_side(A, now);
		if (fds[1].revents & POLLIN)
			read_side(B, now);
		if (fds[2].revents & POLLIN)
			read_control(ctl, &next_id);
		for (int side = A; side <= B; side++)
			if (own_sock[side] >= 0 && (fds[3 + side].revents & POLLIN))
				read_own(side);
	}
}
