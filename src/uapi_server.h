/* The UAPI unix socket (/var/run/wireguard/IFNAME.sock) on the event loop: the I/O shell around
 * uapi.c, so that the stock `wg` tool can read and configure the device. */
#ifndef MYVPN_UAPI_SERVER_H
#define MYVPN_UAPI_SERVER_H

#include "loop.h"
#include "uapi.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>

/*
 * Every socket is non-blocking and served from the control thread, never from the data path.
 * There is no limit on clients but the fd limit: each costs a few KiB. A client that sends
 * half a request, drips it, or never reads its reply is closed when idle for
 * UAPI_IDLE_TIMEOUT_NS, or when its request is not complete UAPI_REQUEST_TIMEOUT_NS after it
 * began and has come slower than UAPI_MIN_REQUEST_RATE; it never delays another client. Each
 * client:
 *
 *   reading --complete request--> reply queued --sent--> reading
 *      |  \--over UAPI_MAX_REQUEST--> discarding --"\n\n"--> errno reply queued --+
 *      |  EOF, bad operation, idle, too slow                                    |
 *      +----------------------> closing (flush what is queued) --> closed <------+
 *
 * A refused request is read to its end before the answer, so that the client, still writing,
 * gets the answer and not EPIPE. Out of fds, accept sheds the waiting client with a reserve fd
 * (it reads errno=-EMFILE) and the socket is not watched for UAPI_BACKOFF_NS: no busy loop.
 */

#define UAPI_DEFAULT_DIR "/var/run/wireguard"

enum {
	UAPI_ACCEPT_PER_EVENT = 64,
	UAPI_MIN_REQUEST_RATE = 64 << 10, /* bytes a second, past UAPI_REQUEST_TIMEOUT_NS */
	/* `wg setconf` sends a whole config in one request: ~300 bytes a peer, 200,000 peers */
	UAPI_MAX_REQUEST = 64 << 20,
	UAPI_READ_PER_EVENT = 64 << 10, /* then back to the loop: packets wait meanwhile */
};

#define UAPI_IDLE_TIMEOUT_NS (5 * 1000000000ull)
#define UAPI_REQUEST_TIMEOUT_NS (5 * 1000000000ull)
#define UAPI_BACKOFF_NS (100 * 1000000ull)
#define UAPI_CHECK_INTERVAL_NS (1000000000ull) /* idle sweep and socket-file check */

/* The daemon's side. Called from the loop; ctx is passed back. Any may be NULL. */
struct uapi_server_ops {
	void *ctx;
	bool read_only; /* answer every set with -EPERM (plaintext interfaces) */
	/* The socket state for get=1: the port actually bound, SO_MARK, the UDP family. */
	void (*get_info)(void *ctx, struct uapi_device_info *info);
	/* Rebind the UDP socket (0 = any port) / set SO_MARK (0 = clear): 0 or -errno, which
	 * fails the whole set request before anything else changes. */
	int (*set_listen_port)(void *ctx, uint16_t port);
	int (*set_fwmark)(void *ctx, uint32_t fwmark);
	/* Around a set request's changes, after it was parsed and checked (uapi_set_hooks). */
	void (*begin_changes)(void *ctx);
	void (*end_changes)(void *ctx);
	/* The worker's counters for stats=1 (`myvpn show`); NULL or a NULL result makes stats=1
	 * an unknown operation, as it is for wireguard-go. */
	const struct stats *(*get_stats)(void *ctx);
	/* The Prometheus exposition for prometheus=1 (`myvpn show --prometheus`), appended to
	 * out: 0 or -errno. NULL makes prometheus=1 an unknown operation. */
	int (*get_metrics)(void *ctx, struct uapi_buf *out);
	/* The socket file was deleted or replaced (`wg-quick down`, rm): time to exit. Called
	 * once; the server keeps serving connected clients until closed. */
	void (*socket_gone)(void *ctx);
};

struct uapi_client;

struct uapi_server {
	struct loop *loop;
	struct wg_device *dev;
	struct uapi_server_ops ops;
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t st_dev; /* the socket file we created, to notice it deleted or replaced */
	ino_t st_ino;
	bool gone;
	struct loop_source source;
	struct loop_timer timer;
	uint64_t sweep_ns;    /* next idle sweep and socket-file check */
	uint64_t resume_ns;   /* not 0: accepting paused until then (out of fds) */
	int reserve_fd;       /* kept open to shed one client when out of fds; -1 if lost */
	struct uapi_client *clients; /* a list */
};

/*
 * Creates dir (NULL = UAPI_DEFAULT_DIR, mode 0700 if it is new) and dir/IFNAME.sock (0600), listening on
 * loop. Fails with -EADDRINUSE if a live server already answers there; a stale socket file is
 * replaced. Registers a loop timer, which loops cannot unregister: s must outlive loop_run,
 * and open it once per loop. 0 or -errno.
 */
int uapi_server_open(struct uapi_server *s, struct loop *loop, const char *dir,
		     const char *ifname, struct wg_device *dev, const struct uapi_server_ops *ops);
/* Closes every client and the socket, and unlinks the socket file if it is still ours. */
void uapi_server_close(struct uapi_server *s);

#endif
