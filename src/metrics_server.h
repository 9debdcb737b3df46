/* `--metrics ADDR:PORT`: a minimal HTTP/1.x server on the control thread's event loop that
 * answers GET /metrics with the Prometheus exposition (metrics.h). */
#ifndef MYVPN_METRICS_SERVER_H
#define MYVPN_METRICS_SERVER_H

#include "addr.h"
#include "loop.h"
#include "uapi.h"

#include <stdbool.h>
#include <stddef.h>

/*
 * Each client, non-blocking, served between packet batches:
 *
 *   reading --request head complete--> reply queued --sent--> closed
 *      | head over METRICS_MAX_REQUEST, malformed, EOF, idle METRICS_TIMEOUT_NS  |
 *      +-------------------------------------------------------------> closed
 *
 * One request per connection (HTTP/1.0 semantics, "Connection: close"), so a scraper never
 * holds a slot between scrapes. At most METRICS_MAX_CLIENTS at once; more are refused.
 */
enum {
	METRICS_MAX_CLIENTS = 16,
	METRICS_MAX_REQUEST = 4096, /* request line and headers; a body is never read */
	METRICS_DEFAULT_PORT = 9586, /* the port the WireGuard exporters use */
};

#define METRICS_TIMEOUT_NS (5 * 1000000000ull)

/* What a request head asks for. */
enum metrics_route {
	METRICS_INCOMPLETE,   /* no empty line yet */
	METRICS_GET_METRICS,  /* GET /metrics (any query string): 200 */
	METRICS_NOT_FOUND,    /* GET of another path: 404 */
	METRICS_BAD_METHOD,   /* another method: 405 */
	METRICS_BAD_REQUEST,  /* not an HTTP/1.x request line: 400 */
};

/* Pure: routes the request head in data (len bytes, no NUL needed). Lines end in CRLF or LF. */
enum metrics_route metrics_http_route(const char *data, size_t len);

/* Writes the exposition into out (the daemon's side): 0 or -errno. */
typedef int (*metrics_collect_fn)(void *ctx, struct uapi_buf *out);

struct metrics_client;

struct metrics_server {
	struct loop *loop;
	int fd;
	metrics_collect_fn collect;
	void *ctx;
	struct loop_source source;
	struct loop_timer timer;
	struct metrics_client *clients[METRICS_MAX_CLIENTS];
};

/* Listens on addr (TCP) and serves on loop. Registers a loop timer: s must outlive loop_run.
 * 0 or -errno. */
int metrics_server_open(struct metrics_server *s, struct loop *loop, const union endpoint *addr,
			metrics_collect_fn collect, void *ctx);
void metrics_server_close(struct metrics_server *s);

#endif
