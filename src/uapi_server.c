/* The UAPI unix socket on the event loop: accepts `wg`, cuts requests from the stream, hands
 * them to uapi.c and writes the replies back, never blocking. */
#include "uapi_server.h"
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

struct uapi_client {
	struct uapi_server *server;
	struct loop_source source;
	int fd;
	uint32_t events;       /* what epoll watches now */
	uint64_t last_active_ns;
	uint64_t request_start_ns; /* first byte of the request being read; 0 between requests */
	uint64_t request_bytes;    /* read since then */
	struct uapi_buf in, out;
	size_t scanned;        /* bytes of in already searched for the end of a request */
	int discard_err;       /* not 0: skipping an oversized request, then answering this */
	char last;             /* the last byte skipped, to find a "\n\n" across reads */
	bool closing;          /* close once out is flushed */
	struct uapi_client *next, *prev;
};

static void client_close(struct uapi_client *c)
{
	struct uapi_server *s = c->server;

	if (c->prev)
		c->prev->next = c->next;
	else
		s->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	close(c->fd); /* also takes it out of the epoll set */
	uapi_buf_free(&c->in);
	uapi_buf_free(&c->out);
	free(c);
}

static int watch(struct uapi_client *c, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = &c->source };

	if (c->events == events)
		return 0;
	if (epoll_ctl(c->server->loop->epoll_fd, EPOLL_CTL_MOD, c->fd, &ev) < 0)
		return -errno;
	c->events = events;
	return 0;
}

/* Fails the connection with a reply the client can show, then closes it. */
static void refuse(struct uapi_client *c, int err)
{
	uapi_buf_consume(&c->in, c->in.len);
	c->closing = true;
	if (uapi_buf_printf(&c->out, "errno=%d\n\n", err))
		c->out.len = 0;
}

/* Refuses a request still arriving: the rest of it is read and skipped first (skip). */
static void refuse_rest(struct uapi_client *c, int err)
{
	c->last = c->in.len ? c->in.data[c->in.len - 1] : '\0';
	uapi_buf_consume(&c->in, c->in.len);
	uapi_buf_free(&c->in);
	c->discard_err = err;
}

/* Skips bytes of a refused request; at its end ("\n\n"), answers. */
static void skip(struct uapi_client *c, const char *data, size_t len)
{
	for (size_t i = 0; i < len && c->discard_err; i++) {
		if (data[i] == '\n' && c->last == '\n')
			refuse(c, c->discard_err), c->discard_err = 0;
		c->last = data[i];
	}
}

static void take(struct uapi_client *c, const char *data, size_t len)
{
	if (!c->in.len && !c->discard_err) {
		c->request_start_ns = c->server->loop->now_ns;
		c->request_bytes = 0;
	}
	c->request_bytes += len;
	if (c->discard_err)
		skip(c, data, len);
	else if (c->in.len + len > UAPI_MAX_REQUEST)
		refuse_rest(c, -EMSGSIZE), skip(c, data, len);
	else if (uapi_buf_append(&c->in, data, len))
		refuse_rest(c, -ENOMEM), skip(c, data, len);
}

/* Reads what is there, up to UAPI_READ_PER_EVENT; the rest waits for the next turn. Returns
 * false when the connection is dead. */
static bool read_some(struct uapi_client *c)
{
	char tmp[16384];
	size_t total = 0;
	bool alive = true;

	while (total < UAPI_READ_PER_EVENT && !c->closing) {
		ssize_t n = recv(c->fd, tmp, sizeof(tmp), MSG_DONTWAIT);

		if (n < 0) {
			alive = errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
			break;
		}
		if (n == 0) {
			c->closing = true; /* `wg` probes by connecting and closing: not an error */
			break;
		}
		total += (size_t)n;
		c->last_active_ns = c->server->loop->now_ns;
		take(c, tmp, (size_t)n);
	}
	wgcrypto_wipe(tmp, sizeof(tmp)); /* set requests carry private and preshared keys */
	return alive;
}

static void get_info(struct uapi_server *s, struct uapi_device_info *info)
{
	memset(info, 0, sizeof(*info));
	if (s->ops.get_info)
		s->ops.get_info(s->ops.ctx, info);
}

static const struct stats *get_stats(struct uapi_server *s)
{
	return s->ops.get_stats ? s->ops.get_stats(s->ops.ctx) : NULL;
}

/* prometheus=1 is answered here, not by uapi.c: the exposition needs the engine's per-thread
 * counters, which only the daemon's side sees. The reply is the text, then errno=0. */
static bool is_metrics_request(const struct uapi_server *s, const char *req, size_t len)
{
	return s->ops.get_metrics && len == 14 && !memcmp(req, "prometheus=1\n\n", 14);
}

static int handle(struct uapi_server *s, const struct uapi_set_hooks *hooks,
		  const struct uapi_device_info *info, struct uapi_client *c, size_t len)
{
	if (is_metrics_request(s, c->in.data, len)) {
		int ret = s->ops.get_metrics(s->ops.ctx, &c->out);

		return uapi_buf_printf(&c->out, "errno=%d\n\n", ret);
	}
	/* This thread is the device's only writer: it reads the device without a lock. */
	return uapi_handle(s->dev, info, hooks, get_stats(s), c->in.data, len, s->loop->now_ns,
			   &c->out);
}

/* Answers complete requests in order while the queued replies stay small. */
static void process(struct uapi_client *c)
{
	struct uapi_server *s = c->server;
	struct uapi_set_hooks hooks = { .ctx = s->ops.ctx,
					.set_listen_port = s->ops.set_listen_port,
					.set_fwmark = s->ops.set_fwmark,
					.begin_changes = s->ops.begin_changes,
					.end_changes = s->ops.end_changes,
					.read_only = s->ops.read_only };
	struct uapi_device_info info;
	size_t len;

	while (c->out.len < UAPI_READ_PER_EVENT) {
		len = uapi_request_length(c->in.data, c->in.len, c->scanned);
		if (!len) {
			c->scanned = c->in.len;
			return;
		}
		get_info(s, &info);
		if (handle(s, &hooks, &info, c, len)) {
			log_debug("uapi: unknown operation or out of memory; closing the client");
			refuse(c, -EINVAL);
			return;
		}
		uapi_buf_consume(&c->in, len);
		c->scanned = 0;
		c->request_start_ns = c->in.len ? s->loop->now_ns : 0;
		c->request_bytes = c->in.len;
	}
}

/* Sends what the socket takes now. MSG_NOSIGNAL: a client gone away must not kill us. */
static bool flush(struct uapi_client *c)
{
	while (c->out.len) {
		ssize_t n = send(c->fd, c->out.data, c->out.len, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
		uapi_buf_consume(&c->out, (size_t)n);
		c->last_active_ns = c->server->loop->now_ns;
	}
	return true;
}

/* While a reply is pending, stop reading: a client that sends requests and never reads the
 * replies must not make us queue without bound. */
static void on_client(struct loop_source *src, uint32_t events)
{
	struct uapi_client *c = container_of(src, struct uapi_client, source);
	bool alive = true;

	if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) && !c->out.len && !c->closing)
		alive = read_some(c);
	/* a drained reply lets the next pipelined request through: no event will announce it */
	while (alive) {
		if (!c->out.len)
			process(c);
		alive = flush(c);
		if (c->out.len || !uapi_request_length(c->in.data, c->in.len, c->scanned))
			break;
	}
	/* EOF in the middle of a request: nothing to answer */
	if (!alive || (c->closing && !c->out.len) || ((events & EPOLLERR) && c->out.len)) {
		client_close(c);
		return;
	}
	if (watch(c, c->out.len ? EPOLLOUT : EPOLLIN))
		client_close(c);
}

static void client_open(struct uapi_server *s, int fd)
{
	struct uapi_client *c = calloc(1, sizeof(*c));

	if (!c) {
		log_warn("uapi: out of memory; refusing a client");
		close(fd);
		return;
	}
	c->server = s;
	c->fd = fd;
	c->source.on_event = on_client;
	c->events = EPOLLIN;
	c->last_active_ns = s->loop->now_ns;
	if (loop_add_fd(s->loop, fd, EPOLLIN, &c->source)) {
		close(fd);
		free(c);
		return;
	}
	c->next = s->clients;
	if (c->next)
		c->next->prev = c;
	s->clients = c;
}

static void listen_events(struct uapi_server *s, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = &s->source };

	epoll_ctl(s->loop->epoll_fd, EPOLL_CTL_MOD, s->fd, &ev);
}

/* Out of fds: the waiting client would make the listening socket readable forever. The
 * reserve fd makes room to take it and tell it why; then accepting pauses for a while. */
static void out_of_fds(struct uapi_server *s, int err)
{
	static const char reply[] = "errno=-24\n\n"; /* -EMFILE, as wg prints it */
	int fd;

	log_ratelimited(LOGL_WARN, s->loop->now_ns, "uapi: cannot accept a client: %s; refusing clients for a while",
			strerror(err));
	if (s->reserve_fd >= 0) {
		close(s->reserve_fd);
		fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd >= 0) {
			if (send(fd, reply, sizeof(reply) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
				log_debug("uapi: could not tell a refused client why");
			close(fd);
		}
		s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	listen_events(s, 0);
	s->resume_ns = s->loop->now_ns + UAPI_BACKOFF_NS;
	if (s->resume_ns < s->timer.deadline_ns)
		s->timer.deadline_ns = s->resume_ns;
}

static void on_listen(struct loop_source *src, uint32_t events)
{
	struct uapi_server *s = container_of(src, struct uapi_server, source);

	for (int i = 0; i < UAPI_ACCEPT_PER_EVENT; i++) {
		int fd = accept4(s->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				out_of_fds(s, errno);
			else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
				 errno != ECONNABORTED)
				log_ratelimited(LOGL_WARN, s->loop->now_ns, "uapi: accept: %s",
						strerror(errno));
			return;
		}
		client_open(s, fd);
	}
}

/* A request still arriving after UAPI_REQUEST_TIMEOUT_NS is given more time only while it
 * comes at UAPI_MIN_REQUEST_RATE on average: a big setconf flows, a dripper does not. */
static bool too_slow(const struct uapi_client *c, uint64_t now)
{
	uint64_t elapsed = now - c->request_start_ns;

	return c->request_start_ns && elapsed >= UAPI_REQUEST_TIMEOUT_NS &&
	       c->request_bytes < elapsed / 1000000000ull * UAPI_MIN_REQUEST_RATE;
}

/* Closes a client idle too long, or one whose request is taking too long to arrive. */
static void sweep(struct uapi_server *s, uint64_t now)
{
	struct uapi_client *c = s->clients, *next;

	for (; c; c = next) {
		next = c->next;
		if (now - c->last_active_ns >= UAPI_IDLE_TIMEOUT_NS) {
			log_debug("uapi: closing an idle client");
			client_close(c);
		} else if (too_slow(c, now)) {
			log_ratelimited(LOGL_INFO, now, "uapi: closing a client too slow to send its request");
			client_close(c);
		}
	}
}

/* After --user, a directory only root may search hides the file (EACCES): we cannot tell,
 * so we assume it is still ours rather than shut down. */
static bool socket_file_is_ours(const struct uapi_server *s)
{
	struct stat st;

	if (stat(s->path, &st) < 0)
		return errno == EACCES;
	return st.st_dev == s->st_dev && st.st_ino == s->st_ino;
}

/* Once a second: close idle and slow clients, and notice the socket file deleted or replaced;
 * sooner when accepting is paused, to resume it. */
static void on_timer(struct loop_timer *t)
{
	struct uapi_server *s = container_of(t, struct uapi_server, timer);
	uint64_t now = s->loop->now_ns;

	if (s->fd < 0)
		return;
	if (s->resume_ns && now >= s->resume_ns) {
		s->resume_ns = 0;
		if (s->reserve_fd < 0)
			s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
		listen_events(s, EPOLLIN);
	}
	if (now >= s->sweep_ns) {
		sweep(s, now);
		s->sweep_ns = now + UAPI_CHECK_INTERVAL_NS;
	}
	t->deadline_ns = s->resume_ns && s->resume_ns < s->sweep_ns ? s->resume_ns : s->sweep_ns;
	if (!s->gone && !socket_file_is_ours(s)) {
		s->gone = true;
		log_info("uapi: %s was removed", s->path);
		if (s->ops.socket_gone)
			s->ops.socket_gone(s->ops.ctx); /* may close s: touch nothing after */
	}
}

/* 0700: only root reaches the sockets, whatever their own mode. A directory that exists (made
 * by wireguard-go, systemd's RuntimeDirectory or an operator) is left as it is. */
static int make_dir(const char *dir)
{
	if (mkdir(dir, 0700) == 0)
		return chmod(dir, 0700) < 0 ? -errno : 0; /* whatever the umask */
	return errno == EEXIST ? 0 : -errno;
}

/* A server that answers owns the path; a socket nobody listens on is left over from a crash. */
static int claim_path(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	int err;

	if (fd < 0)
		return -errno;
	err = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0 ? 0 : errno;
	close(fd);
	if (err == 0 || err == EAGAIN)
		return -EADDRINUSE; /* EAGAIN: alive, its backlog full */
	if (err == ENOENT)
		return 0;
	return unlink(sa->sun_path) < 0 && errno != ENOENT ? -errno : 0;
}

static int bind_socket(struct uapi_server *s, const struct sockaddr_un *sa)
{
	struct stat st;
	mode_t old_mask;
	int ret;

	s->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->fd < 0)
		return -errno;
	old_mask = umask(0177); /* born 0600: no window in which others may connect */
	ret = bind(s->fd, (const struct sockaddr *)sa, sizeof(*sa));
	umask(old_mask);
	if (ret < 0)
		return -errno;
	if (listen(s->fd, SOMAXCONN) < 0 || stat(s->path, &st) < 0) {
		ret = -errno;
		unlink(s->path);
		return ret;
	}
	s->st_dev = st.st_dev;
	s->st_ino = st.st_ino;
	return 0;
}

static int open_socket(struct uapi_server *s, const char *dir, const char *ifname)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int n, ret;

	n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s.sock", dir, ifname);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(s->path, sa.sun_path, sizeof(s->path));
	ret = make_dir(dir);
	if (!ret)
		ret = claim_path(&sa);
	if (!ret)
		ret = bind_socket(s, &sa);
	return ret;
}

int uapi_server_open(struct uapi_server *s, struct loop *loop, const char *dir,
		     const char *ifname, struct wg_device *dev, const struct uapi_server_ops *ops)
{
	int ret;

	memset(s, 0, sizeof(*s));
	s->fd = -1;
	s->reserve_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
	s->loop = loop;
	s->dev = dev;
	if (ops)
		s->ops = *ops;
	s->source.on_event = on_listen;
	s->timer.fire = on_timer;
	ret = open_socket(s, dir ? dir : UAPI_DEFAULT_DIR, ifname);
	if (ret)
		goto err_socket;
	ret = loop_add_fd(loop, s->fd, EPOLLIN, &s->source);
	if (ret)
		goto err_bound;
	ret = loop_add_timer(loop, &s->timer);
	if (ret)
		goto err_bound;
	s->sweep_ns = loop->now_ns + UAPI_CHECK_INTERVAL_NS;
	s->timer.deadline_ns = s->sweep_ns;
	log_info("uapi: listening on %s", s->path);
	return 0;

err_bound:
	unlink(s->path);
err_socket:
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	if (s->reserve_fd >= 0)
		close(s->reserve_fd);
	s->reserve_fd = -1;
	return ret;
}

void uapi_server_close(struct uapi_server *s)
{
	while (s->clients)
		client_close(s->clients);
	s->timer.deadline_ns = 0;
	if (s->reserve_fd >= 0)
		close(s->reserve_fd);
	s->reserve_fd = -1;
	if (s->fd < 0)
		return;
	/* After --user the directory is root's: the file stays, and the next start, which
	 * finds nobody listening on it, replaces it. */
	if (socket_file_is_ours(s) && unlink(s->path) < 0)
		log_debug("uapi: cannot remove %s: %s (the next start replaces it)", s->path,
			  strerror(errno));
	close(s->fd);
	s->fd = -1;
}
