// SPDX-License-Identifier: GPL-2.0-only
/*
 * The UAPI unix socket. Everything is non-blocking and each connection keeps its partial input
 * and unsent output, so a client that stalls mid-request or stops reading costs a slot until its
 * deadline, never the control thread's time.
 */
#include "uapi_server.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"

#define DEFAULT_MAX_REQUEST (16u << 20)
#define DEFAULT_DEADLINE_MS 10000
#define DEFAULT_MAX_CLIENTS 8
#define READ_CHUNK          65536

struct conn {
	int fd;
	char *in; /* may hold private keys: cleared before it is freed or reused */
	size_t in_len, in_cap;
	struct mg_uapi_buf out;
	size_t out_sent;
	int64_t deadline_ms;
	bool close_after_write; /* no more requests: the client hung up or misbehaved */
};

struct mg_uapi_server {
	int fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	dev_t dev;
	ino_t ino;
	const struct mg_uapi_ops *ops;
	void *ctx;
	struct mg_uapi_server_opts opts;
	struct conn *conns;
	size_t n_conns;
	struct pollfd *pfds;
};

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- opening ---- */

static int make_dirs(const char *dir)
{
	char buf[sizeof(((struct sockaddr_un *)0)->sun_path)];
	size_t n = strlen(dir);

	if (n == 0 || n >= sizeof(buf))
		return -1;
	memcpy(buf, dir, n + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) != 0 && errno != EEXIST)
			return -1;
		*p = '/';
	}
	return mkdir(buf, 0755) == 0 || errno == EEXIST ? 0 : -1;
}

/* True when something accepts connections at path (a live server, not a stale file). */
static bool socket_is_live(const struct sockaddr_un *sa)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	bool live;

	if (fd < 0)
		return true; /* cannot tell: do not remove it */
	live = connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0;
	close(fd);
	return live;
}

static int bind_owner_only(int fd, const struct sockaddr_un *sa)
{
	/* The socket file takes its mode from the umask: owner-only from the first moment. */
	mode_t old = umask(077);
	int rc = bind(fd, (const struct sockaddr *)sa, sizeof(*sa));
	int saved = errno;

	umask(old);
	errno = saved;
	return rc;
}

static int open_socket(struct mg_uapi_server *srv, const char *dir, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct stat st;

	if (make_dirs(dir) != 0) {
		snprintf(err, errlen, "cannot create %s: %s", dir, strerror(errno));
		return -1;
	}
	memcpy(sa.sun_path, srv->path, strlen(srv->path) + 1);
	srv->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (srv->fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (bind_owner_only(srv->fd, &sa) != 0) {
		if (errno != EADDRINUSE) {
			snprintf(err, errlen, "cannot bind %s: %s", srv->path, strerror(errno));
			return -1;
		}
		if (socket_is_live(&sa)) {
			snprintf(err, errlen, "%s is in use by another process", srv->path);
			return -1;
		}
		if (unlink(srv->path) != 0 || bind_owner_only(srv->fd, &sa) != 0) {
			snprintf(err, errlen, "cannot replace stale %s: %s", srv->path,
			         strerror(errno));
			return -1;
		}
	}
	if (lstat(srv->path, &st) != 0 || listen(srv->fd, 16) != 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", srv->path, strerror(errno));
		unlink(srv->path);
		return -1;
	}
	srv->dev = st.st_dev;
	srv->ino = st.st_ino;
	return 0;
}

struct mg_uapi_server *mg_uapi_server_open(const char *dir, const char *ifname,
                                           const struct mg_uapi_ops *ops, void *ctx,
                                           const struct mg_uapi_server_opts *opts, char *err,
                                           size_t errlen)
{
	struct mg_uapi_server *srv;
	char dummy[1];
	int n;

	if (!err || !errlen) {
		err = dummy;
		errlen = sizeof(dummy);
	}
	if (!dir || !ifname || !*ifname || strchr(ifname, '/') || !ops || !ops->get || !ops->set) {
		snprintf(err, errlen, "invalid arguments");
		return NULL;
	}
	srv = calloc(1, sizeof(*srv));
	if (!srv) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	srv->fd = -1;
	srv->ops = ops;
	srv->ctx = ctx;
	if (opts)
		srv->opts = *opts;
	if (!srv->opts.max_request)
		srv->opts.max_request = DEFAULT_MAX_REQUEST;
	if (!srv->opts.deadline_ms)
		srv->opts.deadline_ms = DEFAULT_DEADLINE_MS;
	if (!srv->opts.max_clients)
		srv->opts.max_clients = DEFAULT_MAX_CLIENTS;
	srv->conns = calloc(srv->opts.max_clients, sizeof(*srv->conns));
	srv->pfds = calloc(srv->opts.max_clients + 1, sizeof(*srv->pfds));
	n = snprintf(srv->path, sizeof(srv->path), "%s/%s.sock", dir, ifname);
	if (!srv->conns || !srv->pfds) {
		snprintf(err, errlen, "out of memory");
	} else if (n < 0 || (size_t)n >= sizeof(srv->path)) {
		snprintf(err, errlen, "socket path %s/%s.sock is longer than %zu characters", dir,
		         ifname, sizeof(srv->path) - 1);
	} else if (open_socket(srv, dir, err, errlen) == 0) {
		return srv;
	}
	if (srv->fd >= 0)
		close(srv->fd);
	free(srv->conns);
	free(srv->pfds);
	free(srv);
	return NULL;
}

const char *mg_uapi_server_path(const struct mg_uapi_server *srv)
{
	return srv->path;
}

/* ---- connections ---- */

static void conn_close(struct mg_uapi_server *srv, size_t i)
{
	struct conn *c = &srv->conns[i];

	close(c->fd);
	if (c->in)
		wg_memzero(c->in, c->in_cap);
	free(c->in);
	mg_uapi_buf_free(&c->out);
	srv->conns[i] = srv->conns[--srv->n_conns];
	memset(&srv->conns[srv->n_conns], 0, sizeof(srv->conns[0]));
}

static void accept_all(struct mg_uapi_server *srv)
{
	int fd;

	while ((fd = accept4(srv->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct conn *c;

		if (srv->n_conns >= srv->opts.max_clients) {
			close(fd);
			continue;
		}
		c = &srv->conns[srv->n_conns++];
		memset(c, 0, sizeof(*c));
		c->fd = fd;
		/* Replies can be large; the same bound as requests keeps memory in check. */
		c->out.max = srv->opts.max_request * 4;
		c->deadline_ms = now_ms() + srv->opts.deadline_ms;
	}
}

/* Sends what it can. Returns -1 when the connection is finished with or broken. */
static int conn_flush(struct conn *c)
{
	while (c->out_sent < c->out.len) {
		ssize_t n = send(c->fd, c->out.data + c->out_sent, c->out.len - c->out_sent,
		                 MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
		c->out_sent += (size_t)n;
	}
	/* Everything sent: clear the reply (a get carries the private key) for the next one. */
	if (c->out.data)
		wg_memzero(c->out.data, c->out.len);
	c->out.len = c->out_sent = 0;
	return c->close_after_write ? -1 : 0;
}

static void conn_consume(struct conn *c, size_t n)
{
	memmove(c->in, c->in + n, c->in_len - n);
	wg_memzero(c->in + c->in_len - n, n);
	c->in_len -= n;
}

static void reply_error(struct conn *c, int code)
{
	char line[32];
	int n = snprintf(line, sizeof(line), "errno=%d\n\n", code);

	mg_uapi_buf_append(&c->out, line, (size_t)n);
	c->close_after_write = true;
}

/* Answers every complete request in the input. Returns the number answered, -1 to drop. */
static int conn_process(struct mg_uapi_server *srv, struct conn *c)
{
	char why[256];
	int handled = 0;

	while (!c->close_after_write && c->in_len > 0) {
		ssize_t len = mg_uapi_request_length(c->in, c->in_len);

		if (len < 0)
			return -1; /* not get=1 or set=1: dropped without a reply, as wireguard-go
			            */
		if (len == 0) {
			if (c->in_len > srv->opts.max_request)
				reply_error(c, -EMSGSIZE);
			break;
		}
		if ((size_t)len > srv->opts.max_request) {
			reply_error(c, -EMSGSIZE);
			break;
		}
		mg_uapi_handle(srv->ops, srv->ctx, c->in, (size_t)len, &c->out, why, sizeof(why));
		if (c->out.failed) {
			/* The reply did not fit: the client gets an error instead of half of it. */
			mg_uapi_buf_free(&c->out);
			c->out.max = srv->opts.max_request * 4;
			reply_error(c, -ENOMEM);
		}
		conn_consume(c, (size_t)len);
		c->deadline_ms = now_ms() + srv->opts.deadline_ms;
		handled++;
	}
	return handled;
}

/* Reads what is there. Returns 0, 1 at end of file, or -1 on a read error. */
static int conn_read(struct mg_uapi_server *srv, struct conn *c)
{
	for (;;) {
		ssize_t n;

		/* Stop reading once a whole oversized request is buffered: it will be refused. */
		if (c->in_len > srv->opts.max_request)
			return 0;
		if (c->in_cap - c->in_len < READ_CHUNK) {
			size_t cap = c->in_cap ? c->in_cap * 2 : READ_CHUNK * 2;
			char *grown = malloc(cap);

			if (!grown)
				return -1;
			if (c->in) {
				memcpy(grown, c->in, c->in_len);
				wg_memzero(c->in, c->in_cap);
				free(c->in);
			}
			c->in = grown;
			c->in_cap = cap;
		}
		n = recv(c->fd, c->in + c->in_len, c->in_cap - c->in_len, MSG_DONTWAIT);
		if (n > 0) {
			c->in_len += (size_t)n;
			continue;
		}
		if (n == 0)
			return 1;
		return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
	}
}

/* Serves one connection that poll flagged. Returns requests answered, or -1 to drop it. */
static int conn_serve(struct mg_uapi_server *srv, struct conn *c, short revents)
{
	int handled = 0;

	if (!c->close_after_write && (revents & (POLLIN | POLLHUP | POLLERR))) {
		int eof = conn_read(srv, c);

		if (eof < 0)
			return -1;
		/* Requests already complete are answered even when the client then hung up. */
		handled = conn_process(srv, c);
		if (handled < 0)
			return -1;
		if (eof && !c->close_after_write) {
			/* A request cut short is never applied, only answered. */
			if (c->in_len > 0)
				reply_error(c, -EPROTO);
			c->close_after_write = true;
		}
	}
	if (conn_flush(c) != 0)
		return -1;
	return handled;
}

int mg_uapi_server_poll(struct mg_uapi_server *srv, int timeout_ms)
{
	int64_t now = now_ms(), next = -1;
	size_t n = srv->n_conns;
	int ready, handled = 0;

	srv->pfds[0] = (struct pollfd){.fd = srv->fd, .events = POLLIN};
	for (size_t i = 0; i < n; i++) {
		struct conn *c = &srv->conns[i];

		srv->pfds[i + 1] = (struct pollfd){
		    .fd = c->fd,
		    .events = (short)(c->out.len > c->out_sent ? POLLOUT : POLLIN),
		};
		if (next < 0 || c->deadline_ms < next)
			next = c->deadline_ms;
	}
	if (next >= 0) {
		int64_t wait = next > now ? next - now : 0;

		if (timeout_ms < 0 || wait < timeout_ms)
			timeout_ms = (int)wait;
	}
	ready = poll(srv->pfds, n + 1, timeout_ms);
	if (ready < 0)
		return errno == EINTR ? 0 : -1;
	now = now_ms();
	/* Backwards, so that closing (which moves the last connection down) skips nothing. */
	for (size_t i = n; i-- > 0;) {
		struct conn *c = &srv->conns[i];
		short revents = srv->pfds[i + 1].revents;
		int rc = 0;

		if (revents)
			rc = conn_serve(srv, c, revents);
		/* Serving a request moved the deadline on; anything else past it is dropped. */
		if (rc < 0 || now >= c->deadline_ms) {
			conn_close(srv, i);
			continue;
		}
		handled += rc;
	}
	if (srv->pfds[0].revents & POLLIN)
		accept_all(srv);
	return handled;
}

void mg_uapi_server_close(struct mg_uapi_server *srv)
{
	struct stat st;

	if (!srv)
		return;
	while (srv->n_conns)
		conn_close(srv, srv->n_conns - 1);
	/* Another instance may have replaced the file since: leave theirs alone. */
	if (lstat(srv->path, &st) == 0 && st.st_dev == srv->dev && st.st_ino == srv->ino)
		unlink(srv->path);
	close(srv->fd);
	free(srv->conns);
	free(srv->pfds);
	free(srv);
}
