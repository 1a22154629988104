// SPDX-License-Identifier: GPL-2.0-only
/*
 * The HTTP server: libmicrohttpd with an internal epoll thread (or a pool), suspend/resume for
 * map streams, a body cap per request, a memory limit and an idle timeout per connection, and
 * the admission checks of http_guard.c on every request's headers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "audit.h"
#include "db.h"
#include "http.h"
#include "http_guard.h"
#include "log.h"

void reply_json(struct http_reply *o, int status, json_t *j)
{
	json_decref(o->json);
	o->status = status;
	o->json = j;
}

void reply_error(struct http_reply *o, int status, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	reply_json(o, status, json_pack("{ss ss}", "error", code, "message", msg));
}

const char *req_query(struct http_req *r, const char *key)
{
	if (r->local != NULL)
		return http_local_value(r->local, false, key);
	return MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, key);
}

const char *req_header(struct http_req *r, const char *key)
{
	if (r->local != NULL)
		return http_local_value(r->local, true, key);
	return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, key);
}

json_t *req_json(struct http_req *r, struct http_reply *o)
{
	if (r->body_len == 0) {
		reply_error(o, 400, "bad_request", "the request needs a JSON object body");
		return NULL;
	}
	json_error_t err;
	json_t *j = json_loadb(r->body, r->body_len, JSON_REJECT_DUPLICATES, &err);
	if (j == NULL) {
		reply_error(o, 400, "bad_json", "malformed JSON at line %d column %d: %s", err.line,
		            err.column, err.text);
		return NULL;
	}
	if (!json_is_object(j)) {
		json_decref(j);
		reply_error(o, 400, "bad_json", "the body must be a JSON object");
		return NULL;
	}
	return j;
}

bool req_keys_known(json_t *obj, const char *const *known, struct http_reply *o)
{
	const char *key;
	json_t *v;
	json_object_foreach(obj, key, v)
	{
		bool ok = false;
		for (size_t i = 0; known[i] != NULL && !ok; i++)
			ok = strcmp(known[i], key) == 0;
		if (!ok) {
			reply_error(o, 400, "unknown_field", "unknown field '%.64s'", key);
			return false;
		}
	}
	return true;
}

/* Token from "Authorization: Bearer <token>", or NULL. */
static const char *bearer(struct http_req *r)
{
	const char *h = req_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
	if (h == NULL || strncmp(h, "Bearer ", 7) != 0)
		return NULL;
	return h + 7;
}

bool req_admin(struct http_req *r, struct http_reply *o)
{
	const char *tok = bearer(r);
	char prefix[TOKEN_PREFIX_LEN + 1], hash[TOKEN_HASH_HEX_LEN + 1];
	if (tok == NULL) {
		reply_error(o, 401, "unauthorized", "missing 'Authorization: Bearer <api key>'");
		return false;
	}
	if (!token_parse(tok, "api", prefix, hash) ||
	    !db_apikey_check(r->c->store, prefix, hash, now_unix())) {
		reply_error(o, 401, "unauthorized", "the API key is unknown, revoked or expired");
		return false;
	}
	memcpy(r->key_prefix, prefix, sizeof(prefix));
	return true;
}

void http_route(struct http_req *r, struct http_reply *o)
{
	const char *p = r->path, *m = r->method;
	bool get = strcmp(m, "GET") == 0, post = strcmp(m, "POST") == 0;
	char a[128] = "", b[128] = "";
	if (strcmp(p, "/health") == 0 && get) {
		reply_json(o, 200, json_pack("{sb}", "ok", 1));
	} else if (strcmp(p, "/v1/key") == 0 && get) {
		api_server_key(r, o);
	} else if (strcmp(p, "/v1/register/challenge") == 0 && post) {
		api_challenge(r, o);
	} else if (strcmp(p, "/v1/register") == 0 && post) {
		api_register(r, o);
	} else if (strcmp(p, "/v1/map") == 0 && post) {
		api_map(r, o);
	} else if (strcmp(p, "/v1/relay/admit") == 0 && post) {
		api_relay_admit(r, o);
	} else if (strncmp(p, "/v1/admin/", 10) == 0) {
		const char *rest = p + 10;
		char area[32] = "";
		if (sscanf(rest, "%31[^/]/%127[^/]/%127[^/]", area, a, b) < 1 ||
		    strlen(rest) > 300) {
			reply_error(o, 404, "not_found", "no such endpoint");
			return;
		}
		if (!r->admin_ok && !req_admin(r, o))
			return;
		/* sscanf would ignore a fourth segment: /nodes/1/expire/x must not mean expire. */
		size_t segs = 1;
		for (const char *q = rest; *q; q++)
			segs += *q == '/';
		if (segs > (strcmp(area, "nodes") == 0 ? 3u : 2u) || strstr(rest, "//") != NULL ||
		    rest[strlen(rest) - 1] == '/') {
			reply_error(o, 404, "not_found", "no such endpoint '%.128s'", p);
			return;
		}
		if (strcmp(area, "users") == 0 && !b[0])
			api_users(r, o, a[0] ? a : NULL);
		else if (strcmp(area, "apikeys") == 0 && !b[0])
			api_apikeys(r, o, a[0] ? a : NULL);
		else if (strcmp(area, "preauthkeys") == 0 && !b[0])
			api_preauthkeys(r, o, a[0] ? a : NULL);
		else if (strcmp(area, "nodes") == 0)
			api_nodes(r, o, a[0] ? a : NULL, b[0] ? b : NULL);
		else if (strcmp(area, "routes") == 0 && !a[0])
			api_routes(r, o);
		else if (strcmp(area, "policy") == 0 && !a[0])
			api_policy(r, o);
		else if (strcmp(area, "metrics") == 0 && !a[0])
			api_metrics(r, o);
		else
			reply_error(o, 404, "not_found", "no such endpoint '%.128s'", p);
	} else {
		reply_error(o, 404, "not_found", "no such endpoint '%.128s %.128s'", m, p);
	}
}

static enum MHD_Result send_reply(struct MHD_Connection *conn, struct http_reply *o)
{
	struct MHD_Response *resp = o->raw;
	if (resp == NULL) {
		if (o->json == NULL)
			o->json = json_pack("{ss ss}", "error", "internal", "message",
			                    "no reply was produced");
		char *s = json_dumps(o->json, JSON_COMPACT);
		json_decref(o->json);
		o->json = NULL;
		if (s == NULL)
			return MHD_NO;
		size_t len = strlen(s);
		s[len] = '\0';
		resp = MHD_create_response_from_buffer(len, s, MHD_RESPMEM_MUST_FREE);
		if (resp == NULL) {
			free(s);
			return MHD_NO;
		}
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
	}
	if (o->close)
		MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
	enum MHD_Result ret = MHD_queue_response(conn, (unsigned)o->status, resp);
	MHD_destroy_response(resp);
	return ret;
}

static void req_free(struct http_req *r)
{
	guard_release(r);
	free(r->body);
	free(r->path);
	free(r);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_size, void **con_cls)
{
	struct coord *c = cls;
	struct http_req *r = *con_cls;
	(void)version;
	if (r == NULL) {
		r = calloc(1, sizeof(*r));
		if (r == NULL)
			return MHD_NO;
		r->c = c;
		r->conn = conn;
		r->method = method;
		r->path = strdup(url);
		if (r->path == NULL) {
			free(r);
			return MHD_NO;
		}
		r->body_limit =
		    strcmp(url, "/v1/admin/policy") == 0 ? c->cfg.max_policy_body : c->cfg.max_body;
		r->deadline = now_mono() + (double)c->cfg.request_timeout;
		*con_cls = r;
		struct http_reply o = {0};
		if (!guard_framing(conn, method, &o))
			return send_reply(conn, &o);
		const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
		                                             MHD_HTTP_HEADER_CONTENT_LENGTH);
		unsigned long long want = cl != NULL ? strtoull(cl, NULL, 10) : 0;
		if (want > r->body_limit) {
			/* Refuse before reading: the body is never buffered. */
			reply_error(&o, 413, "body_too_large", "the body exceeds %zu bytes",
			            r->body_limit);
			o.close = true;
			return send_reply(conn, &o);
		}
		if (!guard_authenticate(r, &o))
			return send_reply(conn, &o);
		if (want > 0 && !guard_reserve(r, (size_t)want + 1)) {
			guard_count_refused();
			reply_error(&o, 503, "busy",
			            "too many request bodies are in flight; try again shortly");
			o.close = true;
			return send_reply(conn, &o);
		}
		return MHD_YES;
	}
	if (*upload_size > 0) {
		if (guard_expired(r)) {
			mg_logf(MG_LOG_WARNING, "closing a request for %.64s: its body took longer than %llds",
			         r->path, (long long)c->cfg.request_timeout);
			return MHD_NO;
		}
		if (!r->too_large && r->body_len + *upload_size > r->body_limit) {
			r->too_large = true;
			free(r->body);
			r->body = NULL;
			r->body_len = r->body_cap = 0;
		}
		if (!r->too_large) {
			if (r->body_len + *upload_size + 1 > r->body_cap) {
				size_t cap = r->body_cap ? r->body_cap : 1024;
				while (cap < r->body_len + *upload_size + 1)
					cap *= 2;
				if (cap > r->reserved && !guard_reserve(r, cap - r->reserved)) {
					/* A chunked body, whose size the headers did not say. */
					guard_count_dropped();
					return MHD_NO;
				}
				char *b = realloc(r->body, cap);
				if (b == NULL)
					return MHD_NO;
				r->body = b;
				r->body_cap = cap;
			}
			memcpy(r->body + r->body_len, upload_data, *upload_size);
			r->body_len += *upload_size;
			r->body[r->body_len] = '\0';
		}
		*upload_size = 0;
		return MHD_YES;
	}
	struct http_reply o = {.close = r->too_large};
	if (r->too_large) {
		reply_error(&o, 413, "body_too_large", "the body exceeds %zu bytes", r->body_limit);
	} else {
		pthread_mutex_lock(&c->lock);
		http_route(r, &o);
		netmap_flush(c->nm);
		pthread_mutex_unlock(&c->lock);
	}
	if (strncmp(r->path, "/v1/admin/", 10) == 0 && r->admin_ok)
		audit_admin(r, o.status);
	return send_reply(conn, &o);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
	struct coord *c = cls;
	struct http_req *r = *con_cls;
	(void)conn;
	(void)toe;
	if (r == NULL)
		return;
	if (r->sess != NULL) {
		pthread_mutex_lock(&c->lock);
		int64_t id = r->sess->node_id;
		if (netmap_detach(c->nm, r->sess))
			coord_node_offline(c, id);
		r->sess = NULL;
		netmap_flush(c->nm);
		pthread_mutex_unlock(&c->lock);
	}
	req_free(r);
	*con_cls = NULL;
}

void http_session_wake(struct map_session *s, void *conn)
{
	if (s->suspended) {
		s->suspended = false;
		MHD_resume_connection(conn);
	}
}

static char *slurp(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	size_t cap = 1 << 20;
	char *buf = malloc(cap + 1);
	size_t n = buf ? fread(buf, 1, cap, f) : 0;
	fclose(f);
	if (buf == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	buf[n] = '\0';
	return buf;
}

bool http_start(struct coord *c, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	bool v6 = strchr(c->cfg.listen_host, ':') != NULL;
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		a->sin6_port = htons((uint16_t)c->cfg.listen_port);
		inet_pton(AF_INET6, c->cfg.listen_host, &a->sin6_addr);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		a->sin_port = htons((uint16_t)c->cfg.listen_port);
		inet_pton(AF_INET, c->cfg.listen_host, &a->sin_addr);
	}
	bool tls = c->cfg.tls_cert != NULL;
	if (!tls && !host_is_loopback(c->cfg.listen_host) && !c->cfg.allow_plain_http) {
		snprintf(
		    err, errlen,
		    "refusing plain HTTP on non-loopback address %s: set tls.cert and tls.key, "
		    "or allow_plain_http: true",
		    c->cfg.listen_host);
		return false;
	}
	char *cert = NULL, *key = NULL;
	unsigned flags =
	    MHD_USE_AUTO_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ERROR_LOG;
	if (v6)
		flags |= MHD_USE_IPv6;
	if (tls) {
		if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
			snprintf(err, errlen, "this libmicrohttpd was built without TLS");
			return false;
		}
		cert = slurp(c->cfg.tls_cert, err, errlen);
		key = cert ? slurp(c->cfg.tls_key, err, errlen) : NULL;
		if (key == NULL) {
			free(cert);
			return false;
		}
		flags |= MHD_USE_TLS;
	}
	struct MHD_OptionItem opts[12];
	size_t no = 0;
	opts[no++] = (struct MHD_OptionItem){MHD_OPTION_SOCK_ADDR, 0, &ss};
	opts[no++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_TIMEOUT,
	                                     (intptr_t)c->cfg.connection_timeout, NULL};
	opts[no++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_LIMIT,
	                                     (intptr_t)c->cfg.max_connections, NULL};
	opts[no++] = (struct MHD_OptionItem){MHD_OPTION_CONNECTION_MEMORY_LIMIT, 16 * 1024, NULL};
	/*
	 * Behind a local proxy every client has the proxy's address, so by default the limit per
	 * address applies only when the server itself faces the clients.
	 */
	int per_ip = c->cfg.max_connections_per_ip;
	if (per_ip < 0)
		per_ip = host_is_loopback(c->cfg.listen_host) ? 0 : 256;
	if (per_ip > 0)
		opts[no++] =
		    (struct MHD_OptionItem){MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_ip, NULL};
	opts[no++] = (struct MHD_OptionItem){MHD_OPTION_STRICT_FOR_CLIENT, 1, NULL};
	opts[no++] =
	    (struct MHD_OptionItem){MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, c};
	if (c->cfg.threads > 1)
		opts[no++] = (struct MHD_OptionItem){MHD_OPTION_THREAD_POOL_SIZE,
		                                     (intptr_t)c->cfg.threads, NULL};
	if (tls) {
		opts[no++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, cert};
		opts[no++] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, key};
	}
	opts[no++] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
	struct MHD_Daemon *d = MHD_start_daemon(flags, 0, NULL, NULL, on_request, c,
	                                        MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
	if (key != NULL) {
		/* libmicrohttpd has parsed the key; our copy is not needed any more. */
		memset(key, 0, strlen(key));
		free(key);
	}
	free(cert);
	if (d == NULL) {
		snprintf(err, errlen, "cannot listen on %s port %d (in use, or bad TLS files?)",
		         c->cfg.listen_host, c->cfg.listen_port);
		return false;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT);
	mg_logf(MG_LOG_INFO, "listening on %s%s%s:%u (%s)", v6 ? "[" : "", c->cfg.listen_host, v6 ? "]" : "",
	         info ? info->port : (unsigned)c->cfg.listen_port, tls ? "https" : "http");
	c->httpd = d;
	return true;
}

void http_stop(struct coord *c)
{
	if (c->httpd != NULL) {
		MHD_stop_daemon(c->httpd);
		c->httpd = NULL;
	}
}
