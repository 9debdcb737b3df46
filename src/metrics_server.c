/* The metrics HTTP server: accepts scrapers, routes one request head each, answers and closes,
 * never blocking the control thread. */
#include "metrics_server.h"
#include "log.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

struct metrics_client {
	struct metrics_server *server;
	struct loop_source source;
	int fd;
	uint64_t opened_ns; /* the whole exchange must end within METRICS_TIMEOUT_NS */
	char in[METRICS_MAX_REQUEST];
	size_t in_len;
	struct uapi_buf out;
	size_t sent;
};

/* The end of the head: an empty line, "\r\n\r\n" or "\n\n". */
static const char *head_end(const char *data, size_t len)
{
	for (size_t i = 0; i + 1 < len; i++) {
		if (data[i] != '\n')
			continue;
		if (data[i + 1] == '\n')
			return data + i + 2;
		if (i + 2 < len && data[i + 1] == '\r' && data[i + 2] == '\n')
			return data + i + 3;
	}
	return NULL;
}

enum metrics_route metrics_http_route(const char *data, size_t len)
{
	const char *eol, *sp1, *sp2, *path, *version;
	size_t line_len, path_len;

	if (!head_end(data, len))
		return METRICS_INCOMPLETE;
	eol = memchr(data, '\n', len);
	line_len = (size_t)(eol - data);
	if (line_len && data[line_len - 1] == '\r')
		line_len--;
	sp1 = memchr(data, ' ', line_len);
	if (!sp1)
		return METRICS_BAD_REQUEST;
	path = sp1 + 1;
	sp2 = memchr(path, ' ', line_len - (size_t)(path - data));
	if (!sp2 || sp1 == data || sp2 == path || *path != '/')
		return METRICS_BAD_REQUEST;
	version = sp2 + 1;
	if ((size_t)(data + line_len - version) != 8 || memcmp(version, "HTTP/1.", 7) ||
	    (version[7] != '0' && version[7] != '1'))
		return METRICS_BAD_REQUEST;
	if (sp1 - data != 3 || memcmp(data, "GET", 3))
		return METRICS_BAD_METHOD;
	path_len = (size_t)(sp2 - path);
	for (size_t i = 0; i < path_len; i++)
		if (path[i] == '?')
			path_len = i;
	if (path_len == 8 && !memcmp(path, "/metrics", 8))
		return METRICS_GET_METRICS;
	return METRICS_NOT_FOUND;
}

static void client_close(struct metrics_client *c)
{
	struct metrics_server *s = c->server;

	for (int i = 0; i < METRICS_MAX_CLIENTS; i++)
		if (s->clients[i] == c)
			s->clients[i] = NULL;
	close(c->fd);
	uapi_buf_free(&c->out);
	free(c);
}

static int respond(struct metrics_client *c, const char *status, const char *type,
		   const char *body, size_t body_len)
{
	int ret = uapi_buf_printf(&c->out,
				  "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
				  "Connection: close\r\n\r\n",
				  status, type, body_len);

	return ret ? ret : uapi_buf_append(&c->out, body, body_len);
}

static int respond_text(struct metrics_client *c, const char *status)
{
	char body[64];
	int n = snprintf(body, sizeof(body), "%s\n", status);

	return respond(c, status, "text/plain; charset=utf-8", body, (size_t)n);
}

/* The exposition is built first, then framed: Content-Length needs its size. */
static int answer_metrics(struct metrics_client *c)
{
	struct metrics_server *s = c->server;
	struct uapi_buf body = { 0 };
	int ret = s->collect(s->ctx, &body);

	if (!ret)
		ret = respond(c, "200 OK", "text/plain; version=0.0.4; charset=utf-8", body.data,
			      body.len);
	else
		ret = respond_text(c, "500 Internal Server Error");
	uapi_buf_free(&body);
	return ret;
}

static int answer(struct metrics_client *c, enum metrics_route route)
{
	switch (route) {
	case METRICS_GET_METRICS:
		return answer_metrics(c);
	case METRICS_NOT_FOUND:
		return respond_text(c, "404 Not Found");
	case METRICS_BAD_METHOD:
		return respond_text(c, "405 Method Not Allowed");
	default:
		return respond_text(c, "400 Bad Request");
	}
}

/* False once the client is done with (answered, or failed). */
static bool read_request(struct metrics_client *c)
{
	enum metrics_route route;
	ssize_t n;

	for (;;) {
		if (c->in_len == sizeof(c->in))
			return false; /* oversized head: closed without an answer */
		n = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, MSG_DONTWAIT);
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
		if (n == 0)
			return false;
		c->in_len += (size_t)n;
		route = metrics_http_route(c->in, c->in_len);
		if (route != METRICS_INCOMPLETE) {
			if (answer(c, route))
				return false;
			shutdown(c->fd, SHUT_RD);
			return true;
		}
	}
}

/* False once everything is sent or the client is gone. */
static bool flush(struct metrics_client *c)
{
	while (c->sent < c->out.len) {
		ssize_t n = send(c->fd, c->out.data + c->sent, c->out.len - c->sent,
				 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
		c->sent += (size_t)n;
	}
	return false;
}

static void on_client(struct loop_source *src, uint32_t events)
{
	struct metrics_client *c = container_of(src, struct metrics_client, source);
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = &c->source };

	if (!c->out.len) {
		if (!read_request(c) || (events & (EPOLLHUP | EPOLLERR))) {
			client_close(c);
			return;
		}
		if (!c->out.len)
			return;
		if (epoll_ctl(c->server->loop->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev) < 0) {
			client_close(c);
			return;
		}
	}
	if (!flush(c))
		client_close(c);
}

static void client_open(struct metrics_server *s, int fd)
{
	struct metrics_client *c = NULL;
	int slot = -1;

	for (int i = 0; i < METRICS_MAX_CLIENTS && slot < 0; i++)
		if (!s->clients[i])
			slot = i;
	if (slot >= 0)
		c = calloc(1, sizeof(*c));
	if (!c) {
		log_ratelimited(LOGL_WARN, s->loop->now_ns, "metrics: too many clients; refusing one");
		close(fd);
		return;
	}
	*c = (struct metrics_client){ .server = s, .fd = fd, .opened_ns = s->loop->now_ns,
				      .source.on_event = on_client };
	if (loop_add_fd(s->loop, fd, EPOLLIN, &c->source)) {
		close(fd);
		free(c);
		return;
	}
	s->clients[slot] = c;
}

static void on_listen(struct loop_source *src, uint32_t events)
{
	struct metrics_server *s = container_of(src, struct metrics_server, source);

	for (int i = 0; i < METRICS_MAX_CLIENTS; i++) {
		int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
			    errno != ECONNABORTED)
				log_ratelimited(LOGL_WARN, s->loop->now_ns, "metrics: accept: %s",
						strerror(errno));
			return;
		}
		client_open(s, fd);
	}
}

/* Once a second: a client slower than METRICS_TIMEOUT_NS (a slow sender or a reader that
 * never drains its reply) loses its slot. */
static void on_timer(struct loop_timer *t)
{
	struct metrics_server *s = container_of(t, struct metrics_server, timer);
	uint64_t now = s->loop->now_ns;

	if (s->fd < 0)
		return;
	for (int i = 0; i < METRICS_MAX_CLIENTS; i++) {
		struct metrics_client *c = s->clients[i];

		if (c && now - c->opened_ns >= METRICS_TIMEOUT_NS)
			client_close(c);
	}
	t->deadline_ns = now + 1000000000ull;
}

static int listen_on(const union endpoint *addr)
{
	int one = 1, fd = socket(addr->sa.sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, &addr->sa, endpoint_len(addr)) < 0 || listen(fd, 16) < 0) {
		int ret = -errno;

		close(fd);
		return ret;
	}
	return fd;
}

int metrics_server_open(struct metrics_server *s, struct loop *loop, const union endpoint *addr,
			metrics_collect_fn collect, void *ctx)
{
	int ret;

	*s = (struct metrics_server){ .loop = loop, .collect = collect, .ctx = ctx,
				      .source.on_event = on_listen, .timer.fire = on_timer };
	s->fd = listen_on(addr);
	if (s->fd < 0)
		return s->fd;
	ret = loop_add_fd(loop, s->fd, EPOLLIN, &s->source);
	if (!ret)
		ret = loop_add_timer(loop, &s->timer);
	if (ret) {
		close(s->fd);
		s->fd = -1;
		return ret;
	}
	s->timer.deadline_ns = loop->now_ns + 1000000000ull;
	return 0;
}

void metrics_server_close(struct metrics_server *s)
{
	for (int i = 0; i < METRICS_MAX_CLIENTS; i++)
		if (s->clients[i])
			client_close(s->clients[i]);
	s->timer.deadline_ns = 0;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}
