// SPDX-License-Identifier: GPL-2.0-only
/*
 * The health socket server (protocol in health.h). Single-threaded and non-blocking: the control
 * thread calls mg_health_poll between its other duties, so a slow or stuck client can cost it at
 * most one poll(2) timeout, never a stall. Each client is a small state machine: reading its
 * request, waiting for a ping's answer, or writing its reply.
 */
#include "health.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#define NS_PER_MS    1000000ull
#define PEER_ARG_MAX 128

/* C_LINGER: the reply is out and our side shut; unread request bytes are drained until the
 * client closes, since closing a socket with unread data resets it and the client would lose
 * the reply. */
enum client_state { C_FREE = 0, C_READ, C_PING, C_WRITE, C_LINGER };
#define LINGER_MS 1000

struct client {
	enum client_state state;
	int fd;
	bool tcp;        /* from the metrics listener: HTTP GET /metrics only */
	bool input_done; /* end of stream seen while pinging: watch for hang-up only */
	char in[MG_HEALTH_REQUEST_MAX + 1];
	size_t in_len;
	char *out;
	size_t out_len, out_off;
	uint64_t deadline_ns;
	struct mg_health_ping ping;
};

struct mg_health_server {
	int unix_fd, tcp_fd;
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];
	struct mg_health_ops ops;
	struct client clients[MG_HEALTH_MAX_CLIENTS];
};

uint64_t mg_health_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- replies ---- */

static void client_close(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->out);
	memset(c, 0, sizeof(*c));
	c->fd = -1;
}

/* Takes ownership of body (malloc'd). */
static void reply_raw(struct client *c, char *body, size_t len)
{
	free(c->out);
	c->out = body;
	c->out_len = len;
	c->out_off = 0;
	c->state = C_WRITE;
	c->deadline_ns = mg_health_now_ns() + MG_HEALTH_IO_TIMEOUT_MS * NS_PER_MS;
}

static void reply_http(struct client *c, int code, const char *type, const char *body, size_t len,
                       bool head)
{
	const char *reason = code == 200   ? "OK"
	                     : code == 400 ? "Bad Request"
	                     : code == 404 ? "Not Found"
	                     : code == 405 ? "Method Not Allowed"
	                     : code == 413 ? "Content Too Large"
	                                   : "Service Unavailable";
	char hdr[256];
	int h = snprintf(hdr, sizeof(hdr),
	                 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
	                 "Connection: close\r\n\r\n",
	                 code, reason, type, len);
	size_t total = (size_t)h + (head ? 0 : len);
	char *out = malloc(total);
	if (!out) {
		client_close(c);
		return;
	}
	memcpy(out, hdr, (size_t)h);
	if (!head)
		memcpy(out + h, body, len);
	reply_raw(c, out, total);
}

/* Sends a JSON document and a newline; consumes doc. */
static void reply_json(struct client *c, json_t *doc)
{
	char *s = doc ? json_dumps(doc, JSON_COMPACT) : NULL;
	json_decref(doc);
	if (!s) {
		client_close(c);
		return;
	}
	size_t n = strlen(s);
	char *out = realloc(s, n + 2);
	if (!out) {
		free(s);
		client_close(c);
		return;
	}
	out[n] = '\n';
	out[n + 1] = '\0';
	reply_raw(c, out, n + 1);
}

static void reply_error(struct client *c, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void reply_error(struct client *c, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_t *o = json_object();
	json_object_set_new(o, "error", json_string(msg));
	json_object_set_new(o, "code", json_string(code));
	reply_json(c, o);
}

/* ---- requests ---- */

enum doc_kind { DOC_STATUS, DOC_PEERS, DOC_ROUTES, DOC_METRICS };

/* Renders one document from a fresh snapshot; *text gets the metrics, *json the others. */
static int render(struct mg_health_server *s, enum doc_kind kind, json_t **json, char **text,
                  size_t *len)
{
	struct mg_status st;
	mg_status_init(&st);
	int rc = s->ops.snapshot ? s->ops.snapshot(s->ops.ctx, &st) : -ENOTSUP;
	if (rc == 0) {
		switch (kind) {
		case DOC_STATUS:
			*json = mg_status_json(&st);
			break;
		case DOC_PEERS:
			*json = mg_status_peers_json(&st);
			break;
		case DOC_ROUTES:
			*json = mg_status_routes_json(&st);
			break;
		case DOC_METRICS:
			*text = mg_status_prometheus(&st, len);
			break;
		}
		if (kind == DOC_METRICS ? !*text : !*json)
			rc = -ENOMEM;
	}
	mg_status_free(&st);
	return rc;
}

static void answer_doc(struct mg_health_server *s, struct client *c, enum doc_kind kind)
{
	json_t *json = NULL;
	char *text = NULL;
	size_t len = 0;
	int rc = render(s, kind, &json, &text, &len);
	if (rc != 0) {
		reply_error(c, "unavailable", "status snapshot failed: %s", strerror(-rc));
		return;
	}
	if (kind == DOC_METRICS)
		reply_raw(c, text, len);
	else
		reply_json(c, json);
}

static void answer_filter(struct mg_health_server *s, struct client *c)
{
	json_t *o = s->ops.filter ? s->ops.filter(s->ops.ctx) : NULL;
	if (!o) {
		reply_error(c, "unavailable", "the packet filter cannot be shown");
		return;
	}
	reply_json(c, o);
}

static void answer_netcheck(struct mg_health_server *s, struct client *c)
{
	json_t *o = s->ops.netcheck ? s->ops.netcheck(s->ops.ctx) : NULL;
	if (!o) {
		reply_error(c, "unavailable", "no STUN or disco state to show");
		return;
	}
	reply_json(c, o);
}

static void start_ping(struct mg_health_server *s, struct client *c, json_t *req)
{
	json_t *jpeer = json_object_get(req, "peer"), *jt = json_object_get(req, "timeout_ms");
	const char *peer = json_string_value(jpeer);
	if (!peer || !*peer || strlen(peer) > PEER_ARG_MAX) {
		reply_error(c, "bad_request",
		            "ping needs \"peer\": a base64 public key or an overlay IP address");
		return;
	}
	json_int_t timeout_ms = MG_HEALTH_PING_DEFAULT_MS;
	if (jt) {
		if (!json_is_integer(jt) || json_integer_value(jt) < 1 ||
		    json_integer_value(jt) > MG_HEALTH_PING_MAX_MS) {
			reply_error(c, "bad_request",
			            "\"timeout_ms\" must be an integer from 1 to %d",
			            MG_HEALTH_PING_MAX_MS);
			return;
		}
		timeout_ms = json_integer_value(jt);
	}
	if (!s->ops.ping_start || !s->ops.ping_poll) {
		reply_error(c, "unavailable", "ping is not available on this gateway");
		return;
	}
	char err[256] = "";
	memset(&c->ping, 0, sizeof(c->ping));
	int rc = s->ops.ping_start(s->ops.ctx, peer, &c->ping, err, sizeof(err));
	if (rc != 0) {
		reply_error(c, rc == -ENOENT ? "unknown_peer" : "unavailable", "%s",
		            err[0] ? err : strerror(-rc));
		return;
	}
	c->state = C_PING;
	c->deadline_ns = mg_health_now_ns() + (uint64_t)timeout_ms * NS_PER_MS;
}

static void answer_json_request(struct mg_health_server *s, struct client *c)
{
	json_error_t jerr;
	json_t *req = json_loadb(c->in, c->in_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(req)) {
		reply_error(c, "bad_request", "request is not a JSON object: %s",
		            req ? "wrong type" : jerr.text);
		json_decref(req);
		return;
	}
	const char *cmd = json_string_value(json_object_get(req, "cmd"));
	if (!cmd)
		reply_error(c, "bad_request",
		            "missing \"cmd\": one of status, peers, routes, metrics, ping, filter, "
		            "netcheck");
	else if (strcmp(cmd, "status") == 0)
		answer_doc(s, c, DOC_STATUS);
	else if (strcmp(cmd, "peers") == 0)
		answer_doc(s, c, DOC_PEERS);
	else if (strcmp(cmd, "routes") == 0)
		answer_doc(s, c, DOC_ROUTES);
	else if (strcmp(cmd, "metrics") == 0)
		answer_doc(s, c, DOC_METRICS);
	else if (strcmp(cmd, "ping") == 0)
		start_ping(s, c, req);
	else if (strcmp(cmd, "filter") == 0)
		answer_filter(s, c);
	else if (strcmp(cmd, "netcheck") == 0)
		answer_netcheck(s, c);
	else
		reply_error(
		    c, "unknown_command",
		    "unknown command '%.64s': expected status, peers, routes, metrics, ping, "
		    "filter or netcheck",
		    cmd);
	json_decref(req);
}

static void answer_http_request(struct mg_health_server *s, struct client *c)
{
	char method[8] = "", path[256] = "";
	static const char text_type[] = "text/plain; charset=utf-8";
	c->in[c->in_len] = '\0';
	if (sscanf(c->in, "%7s %255s HTTP/1.%*c", method, path) != 2) {
		reply_http(c, 400, text_type, "bad request\n", 12, false);
		return;
	}
	bool head = strcmp(method, "HEAD") == 0;
	if (!head && strcmp(method, "GET") != 0) {
		reply_http(c, 405, text_type, "only GET and HEAD\n", 18, false);
		return;
	}
	char *q = strchr(path, '?');
	if (q)
		*q = '\0';
	enum doc_kind kind;
	if (strcmp(path, "/metrics") == 0)
		kind = DOC_METRICS;
	else if (!c->tcp && strcmp(path, "/status") == 0)
		kind = DOC_STATUS;
	else if (!c->tcp && strcmp(path, "/peers") == 0)
		kind = DOC_PEERS;
	else if (!c->tcp && strcmp(path, "/routes") == 0)
		kind = DOC_ROUTES;
	else {
		reply_http(c, 404, text_type, "not found\n", 10, head);
		return;
	}
	json_t *json = NULL;
	char *text = NULL;
	size_t len = 0;
	if (render(s, kind, &json, &text, &len) != 0) {
		reply_http(c, 503, text_type, "status unavailable\n", 19, head);
		return;
	}
	if (kind == DOC_METRICS) {
		reply_http(c, 200, "text/plain; version=0.0.4; charset=utf-8", text, len, head);
		free(text);
		return;
	}
	char *body = json_dumps(json, JSON_COMPACT);
	json_decref(json);
	if (!body) {
		client_close(c);
		return;
	}
	reply_http(c, 200, "application/json", body, strlen(body), head);
	free(body);
}

static bool is_http(const struct client *c)
{
	return c->in_len > 0 && c->in[0] >= 'A' && c->in[0] <= 'Z';
}

/* True when the buffered bytes hold a whole request. */
static bool request_complete(const struct client *c)
{
	if (is_http(c)) {
		return memmem(c->in, c->in_len, "\r\n\r\n", 4) ||
		       memmem(c->in, c->in_len, "\n\n", 2);
	}
	return memchr(c->in, '\n', c->in_len) != NULL;
}

static void answer(struct mg_health_server *s, struct client *c)
{
	if (is_http(c))
		answer_http_request(s, c);
	else if (c->tcp)
		/* The metrics listener speaks HTTP only. */
		client_close(c);
	else
		answer_json_request(s, c);
}

static void client_read(struct mg_health_server *s, struct client *c)
{
	for (;;) {
		size_t room = MG_HEALTH_REQUEST_MAX - c->in_len;
		if (room == 0) {
			if (is_http(c))
				reply_http(c, 413, "text/plain; charset=utf-8",
				           "request too large\n", 18, false);
			else
				reply_error(c, "too_large", "request larger than %d bytes",
				            MG_HEALTH_REQUEST_MAX);
			return;
		}
		ssize_t n = read(c->fd, c->in + c->in_len, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			/* End of stream: a JSON request without its newline still counts. */
			if (n == 0 && c->in_len > 0 && !is_http(c))
				answer(s, c);
			else
				client_close(c);
			return;
		}
		c->in_len += (size_t)n;
		if (request_complete(c)) {
			answer(s, c);
			return;
		}
	}
}

static void client_write(struct client *c)
{
	while (c->out_off < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (n <= 0) {
			client_close(c);
			return;
		}
		c->out_off += (size_t)n;
	}
	shutdown(c->fd, SHUT_WR);
	c->state = C_LINGER;
	c->deadline_ns = mg_health_now_ns() + LINGER_MS * NS_PER_MS;
}

/*
 * A client waiting for its ping's answer, or lingering, sends nothing that matters. End of
 * stream ends a lingering client; a pinging one may just have half-closed (meshctl does), so
 * it is dropped only once the connection is gone entirely (POLLHUP), and its input is no
 * longer watched.
 */
static void client_drain(struct client *c, short revents)
{
	char junk[1024];
	for (;;) {
		ssize_t n = read(c->fd, junk, sizeof(junk));
		if (n > 0)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			break;
		if (n < 0 || c->state == C_LINGER || (revents & (POLLHUP | POLLERR))) {
			client_close(c);
			return;
		}
		c->input_done = true;
		break;
	}
	if (c->state == C_PING && (revents & (POLLHUP | POLLERR)))
		client_close(c);
}

static void ping_finish(struct client *c)
{
	json_t *o = json_object();
	json_object_set_new(o, "peer", json_string(c->ping.peer));
	json_object_set_new(o, "rtt_ms", json_real((double)c->ping.rtt_ns / 1e6));
	json_object_set_new(o, "rtt_ns", json_integer((json_int_t)c->ping.rtt_ns));
	json_object_set_new(o, "via", json_string(c->ping.via));
	json_object_set_new(o, "probe", json_string(c->ping.probe));
	reply_json(c, o);
}

/* Answers finished pings and drops clients past their deadline. */
static unsigned check_clients(struct mg_health_server *s, uint64_t now)
{
	unsigned work = 0;
	for (unsigned i = 0; i < MG_HEALTH_MAX_CLIENTS; i++) {
		struct client *c = &s->clients[i];
		if (c->state == C_PING) {
			int rc = s->ops.ping_poll(s->ops.ctx, &c->ping, now);
			if (rc > 0) {
				ping_finish(c);
				client_write(c);
				work++;
				continue;
			}
			if (rc < 0) {
				reply_error(c, "unknown_peer", "peer %s went away during the ping",
				            c->ping.peer);
				client_write(c);
				work++;
				continue;
			}
			if (now >= c->deadline_ns) {
				uint64_t waited = (now - c->ping.sent_ns) / NS_PER_MS;
				reply_error(c, "timeout",
				            "no authenticated packet from peer %s within %" PRIu64
				            " ms (sent %s)",
				            c->ping.peer, waited, c->ping.probe);
				client_write(c);
				work++;
			}
		} else if (c->state != C_FREE && now >= c->deadline_ns) {
			client_close(c);
			work++;
		}
	}
	return work;
}

static void accept_clients(struct mg_health_server *s, int lfd, bool tcp)
{
	for (;;) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		struct client *c = NULL;
		for (unsigned i = 0; i < MG_HEALTH_MAX_CLIENTS && !c; i++)
			if (s->clients[i].state == C_FREE)
				c = &s->clients[i];
		if (!c) {
			/* Full: refusing now is kinder than leaving the client to its timeout. */
			close(fd);
			continue;
		}
		memset(c, 0, sizeof(*c));
		c->fd = fd;
		c->tcp = tcp;
		c->state = C_READ;
		c->deadline_ns = mg_health_now_ns() + MG_HEALTH_IO_TIMEOUT_MS * NS_PER_MS;
	}
}

unsigned mg_health_poll(struct mg_health_server *s, int timeout_ms)
{
	if (!s)
		return 0;
	struct pollfd pfd[2 + MG_HEALTH_MAX_CLIENTS];
	struct client *owner[2 + MG_HEALTH_MAX_CLIENTS];
	nfds_t n = 0;
	uint64_t now = mg_health_now_ns();
	unsigned work = check_clients(s, now);
	uint64_t next = UINT64_MAX;

	pfd[n] = (struct pollfd){.fd = s->unix_fd, .events = POLLIN};
	owner[n++] = NULL;
	if (s->tcp_fd >= 0) {
		pfd[n] = (struct pollfd){.fd = s->tcp_fd, .events = POLLIN};
		owner[n++] = NULL;
	}
	bool pinging = false;
	for (unsigned i = 0; i < MG_HEALTH_MAX_CLIENTS; i++) {
		struct client *c = &s->clients[i];
		if (c->state == C_FREE)
			continue;
		short ev = c->state == C_WRITE ? POLLOUT : c->input_done ? 0 : POLLIN;
		pfd[n] = (struct pollfd){.fd = c->fd, .events = ev};
		owner[n++] = c;
		pinging |= c->state == C_PING;
		if (c->deadline_ns < next)
			next = c->deadline_ns;
	}
	/* A ping's answer shows up in the peer's counters, not on a descriptor: look again soon. */
	if (pinging && timeout_ms > 1)
		timeout_ms = 1;
	if (next != UINT64_MAX && timeout_ms != 0) {
		uint64_t left_ms = next > now ? (next - now + NS_PER_MS - 1) / NS_PER_MS : 0;
		if (timeout_ms < 0 || left_ms < (uint64_t)timeout_ms)
			timeout_ms = (int)left_ms;
	}
	int ready = poll(pfd, n, timeout_ms);
	if (ready > 0) {
		for (nfds_t i = 0; i < n; i++) {
			if (!pfd[i].revents)
				continue;
			work++;
			struct client *c = owner[i];
			if (!c)
				accept_clients(s, pfd[i].fd, pfd[i].fd == s->tcp_fd);
			else if (c->state == C_READ)
				client_read(s, c);
			else if (c->state == C_PING || c->state == C_LINGER)
				client_drain(c, pfd[i].revents);
			else if (c->state == C_WRITE)
				client_write(c);
		}
		/* Answers made while reading go out at once when the socket takes them. */
		for (unsigned i = 0; i < MG_HEALTH_MAX_CLIENTS; i++)
			if (s->clients[i].state == C_WRITE && s->clients[i].out_off == 0)
				client_write(&s->clients[i]);
	}
	if (pinging)
		work += check_clients(s, mg_health_now_ns());
	return work;
}

/* ---- start and stop ---- */

static int make_parent_dirs(const char *path)
{
	char dir[sizeof(((struct sockaddr_un *)0)->sun_path)];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (!slash || slash == dir)
		return 0;
	*slash = '\0';
	for (char *p = dir + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(dir, 0755) != 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(dir, 0755) != 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Removes a socket file left by a dead gateway; -EADDRINUSE when someone still answers. */
static int clear_stale(const char *path, const struct sockaddr_un *sa, char *err, size_t errlen)
{
	struct stat stbuf;
	if (lstat(path, &stbuf) != 0)
		return 0;
	if (!S_ISSOCK(stbuf.st_mode)) {
		snprintf(err, errlen, "health socket %s: exists and is not a socket", path);
		return -EEXIST;
	}
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int rc = connect(fd, (const struct sockaddr *)sa, sizeof(*sa));
	close(fd);
	if (rc == 0) {
		snprintf(err, errlen, "health socket %s: another process is serving it", path);
		return -EADDRINUSE;
	}
	unlink(path);
	return 0;
}

static int start_unix(struct mg_health_server *s, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	if (!path || !*path || strlen(path) >= sizeof(sa.sun_path)) {
		snprintf(err, errlen, "health socket path %s (at most %zu bytes)",
		         path && *path ? "too long" : "missing", sizeof(sa.sun_path) - 1);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int rc = make_parent_dirs(path);
	if (rc != 0) {
		snprintf(err, errlen, "health socket %s: cannot create its directory: %s", path,
		         strerror(-rc));
		return rc;
	}
	rc = clear_stale(path, &sa, err, errlen);
	if (rc != 0)
		return rc;
	s->unix_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->unix_fd < 0 || bind(s->unix_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    chmod(path, 0660) != 0 || listen(s->unix_fd, 16) != 0) {
		rc = -errno;
		snprintf(err, errlen, "health socket %s: %s", path, strerror(errno));
		return rc;
	}
	snprintf(s->path, sizeof(s->path), "%s", path);
	return 0;
}

static int start_tcp(struct mg_health_server *s, const char *listen_at, char *err, size_t errlen)
{
	struct mg_sockaddr a;
	struct sockaddr_storage ss;
	socklen_t sl;
	memset(&ss, 0, sizeof(ss));
	if (mg_sockaddr_parse(listen_at, &a) != 0) {
		snprintf(err, errlen,
		         "metrics listen address '%s': expected IP:PORT such as 127.0.0.1:9586",
		         listen_at);
		return -EINVAL;
	}
	static const uint8_t v6_loopback[16] = {[15] = 1};
	bool loopback = a.family == 4 ? a.addr[0] == 127 : memcmp(a.addr, v6_loopback, 16) == 0;
	if (!loopback) {
		snprintf(err, errlen,
		         "metrics listen address '%s': must be loopback (127.0.0.0/8 or ::1), the "
		         "endpoint has no authentication",
		         listen_at);
		return -EINVAL;
	}
	if (a.family == 4) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		in->sin_family = AF_INET;
		in->sin_port = htons(a.port);
		memcpy(&in->sin_addr, a.addr, 4);
		sl = sizeof(*in);
	} else {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(a.port);
		memcpy(&in6->sin6_addr, a.addr, 16);
		sl = sizeof(*in6);
	}
	int one = 1;
	s->tcp_fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (s->tcp_fd < 0 || setsockopt(s->tcp_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(s->tcp_fd, (struct sockaddr *)&ss, sl) != 0 || listen(s->tcp_fd, 16) != 0) {
		int rc = -errno;
		snprintf(err, errlen, "metrics listen address %s: %s", listen_at, strerror(errno));
		return rc;
	}
	return 0;
}

int mg_health_start(struct mg_health_server **out, const struct mg_health_config *cfg,
                    const struct mg_health_ops *ops, char *err, size_t errlen)
{
	*out = NULL;
	struct mg_health_server *s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "health socket: out of memory");
		return -ENOMEM;
	}
	s->unix_fd = s->tcp_fd = -1;
	for (unsigned i = 0; i < MG_HEALTH_MAX_CLIENTS; i++)
		s->clients[i].fd = -1;
	s->ops = *ops;
	int rc = start_unix(s, cfg->socket_path, err, errlen);
	if (rc == 0 && cfg->metrics_listen && *cfg->metrics_listen)
		rc = start_tcp(s, cfg->metrics_listen, err, errlen);
	if (rc != 0) {
		mg_health_stop(s);
		return rc;
	}
	*out = s;
	return 0;
}

void mg_health_stop(struct mg_health_server *s)
{
	if (!s)
		return;
	for (unsigned i = 0; i < MG_HEALTH_MAX_CLIENTS; i++)
		if (s->clients[i].state != C_FREE)
			client_close(&s->clients[i]);
	if (s->unix_fd >= 0)
		close(s->unix_fd);
	if (s->tcp_fd >= 0)
		close(s->tcp_fd);
	if (s->path[0])
		unlink(s->path);
	free(s);
}
