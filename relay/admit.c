// SPDX-License-Identifier: GPL-2.0-only
#include "admit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <jansson.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#include "keys.h"
#include "log.h"
#include "relay.h"

#define ADMIT_TIMEOUT_S 5
#define ADMIT_MAX_TTL_S 300
#define ADMIT_STALE_MS  (3600ull * 1000)
#define ADMIT_MAX_BODY  4096
#define ADMIT_CACHE_MAX 100000

struct admit_entry {
	bool admitted;
	uint64_t expires_ms;     /* answer valid until */
	uint64_t stale_until_ms; /* a positive answer still used while the coordinator is down */
	char reason[64];
};

struct relay_admit_req {
	struct relay_server *s;
	struct relay_conn *c; /* NULL once the connection is gone */
	struct evhttp_connection *evcon;
	uint8_t key[32];
	struct relay_admit_req *prev, *next;
};

struct relay_admit {
	struct evhttp_uri *uri;
	char host[256], path[512];
	int port;
	bool https;
	SSL_CTX *tls;
	char auth[64]; /* "Bearer <credential>" */
	struct keytab cache;
	struct relay_admit_req *pending;
};

static int free_entry(const uint8_t key[32], void *val, void *ctx)
{
	(void)key;
	(void)ctx;
	free(val);
	return 1;
}

int relay_admit_init(struct relay_server *s, char *err, size_t errlen)
{
	const struct relay_config *cfg = s->cfg;
	struct relay_admit *a;
	char b64[WG_KEY_B64_SIZE];
	const char *scheme, *host, *path;

	if (!cfg->admission)
		return 0;
	if (!(a = calloc(1, sizeof(*a))) || keytab_init(&a->cache) != 0) {
		free(a);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->admit = a;
	a->uri = evhttp_uri_parse(cfg->admit_url);
	scheme = a->uri ? evhttp_uri_get_scheme(a->uri) : NULL;
	host = a->uri ? evhttp_uri_get_host(a->uri) : NULL;
	if (!scheme || !host || (strcmp(scheme, "http") != 0 && strcmp(scheme, "https") != 0)) {
		snprintf(err, errlen, "admission.coordinator: '%s' is not an http(s):// URL",
		         cfg->admit_url);
		return -1;
	}
	a->https = strcmp(scheme, "https") == 0;
	snprintf(a->host, sizeof(a->host), "%s", host);
	a->port = evhttp_uri_get_port(a->uri);
	if (a->port < 0)
		a->port = a->https ? 443 : 80;
	path = evhttp_uri_get_path(a->uri);
	/* The coordinator may sit under a path prefix behind a reverse proxy. */
	snprintf(a->path, sizeof(a->path), "%s/v1/relay/admit",
	         path && strcmp(path, "/") != 0 ? path : "");
	wg_key_to_base64(b64, cfg->admit_credential);
	snprintf(a->auth, sizeof(a->auth), "Bearer %s", b64);
	sodium_memzero(b64, sizeof(b64));
	if (a->https) {
		if (!(a->tls = SSL_CTX_new(TLS_client_method()))) {
			snprintf(err, errlen, "SSL_CTX_new failed");
			return -1;
		}
		SSL_CTX_set_min_proto_version(a->tls, TLS1_2_VERSION);
		SSL_CTX_set_verify(a->tls, SSL_VERIFY_PEER, NULL);
		if (cfg->admit_ca_file[0]
		        ? SSL_CTX_load_verify_locations(a->tls, cfg->admit_ca_file, NULL) != 1
		        : SSL_CTX_set_default_verify_paths(a->tls) != 1) {
			snprintf(err, errlen, "admission.ca_file: cannot load '%s'",
			         cfg->admit_ca_file);
			return -1;
		}
	}
	mg_log(MG_LOG_NOTICE, "admission through the coordinator", "coordinator", cfg->admit_url,
	       NULL);
	return 0;
}

void relay_admit_free(struct relay_server *s)
{
	struct relay_admit *a = s->admit;

	if (!a)
		return;
	/* evhttp_connection_free drops its requests without calling their callbacks. */
	while (a->pending) {
		struct relay_admit_req *r = a->pending;

		a->pending = r->next;
		evhttp_connection_free(r->evcon);
		free(r);
	}
	keytab_sweep(&a->cache, free_entry, NULL);
	keytab_free(&a->cache);
	if (a->uri)
		evhttp_uri_free(a->uri);
	SSL_CTX_free(a->tls);
	sodium_memzero(a->auth, sizeof(a->auth));
	free(a);
	s->admit = NULL;
}

static void unlink_req(struct relay_admit *a, struct relay_admit_req *r)
{
	if (r->prev)
		r->prev->next = r->next;
	else
		a->pending = r->next;
	if (r->next)
		r->next->prev = r->prev;
}

static int expired_entry(const uint8_t key[32], void *val, void *ctx)
{
	const struct admit_entry *e = val;
	uint64_t now = *(const uint64_t *)ctx;

	(void)key;
	if (now < e->expires_ms || now < e->stale_until_ms)
		return 0;
	free(val);
	return 1;
}

static void cache_put(struct relay_admit *a, const uint8_t key[32], bool ok, const char *reason,
                      uint64_t ttl_s)
{
	uint64_t now = relay_now_ms();
	struct admit_entry *e = keytab_get(&a->cache, key);
	int err = 0;

	if (!e) {
		if (a->cache.count >= ADMIT_CACHE_MAX)
			keytab_sweep(&a->cache, expired_entry, &now);
		if (a->cache.count >= ADMIT_CACHE_MAX || !(e = calloc(1, sizeof(*e))))
			return;
		keytab_put(&a->cache, key, e, &err);
		if (err) {
			free(e);
			return;
		}
	}
	e->admitted = ok;
	e->expires_ms = now + 1000 * ttl_s;
	e->stale_until_ms = ok ? now + ADMIT_STALE_MS : 0;
	snprintf(e->reason, sizeof(e->reason), "%s", reason ? reason : "");
}

/* The coordinator's answer: 1 admitted, 0 refused (reason set), -1 no usable answer. */
static int parse_answer(struct evhttp_request *req, char *reason, size_t rlen, uint64_t *ttl)
{
	struct evbuffer *b;
	json_t *j, *ad;
	size_t len;
	int ret = -1;

	if (!req || evhttp_request_get_response_code(req) != 200)
		return -1;
	b = evhttp_request_get_input_buffer(req);
	len = evbuffer_get_length(b);
	if (len == 0 || len > ADMIT_MAX_BODY)
		return -1;
	j = json_loadb((const char *)evbuffer_pullup(b, (ev_ssize_t)len), len, 0, NULL);
	ad = json_object_get(j, "admitted");
	if (json_is_boolean(ad)) {
		json_int_t t = json_integer_value(json_object_get(j, "ttl"));
		const char *why = json_string_value(json_object_get(j, "reason"));

		*ttl = t <= 0 ? 0 : t > ADMIT_MAX_TTL_S ? ADMIT_MAX_TTL_S : (uint64_t)t;
		snprintf(reason, rlen, "%s", why && strlen(why) < 40 ? why : "refused");
		ret = json_is_true(ad) ? 1 : 0;
	}
	json_decref(j);
	return ret;
}

static const char *refusal_text(const char *reason)
{
	if (strcmp(reason, "unknown_node") == 0)
		return "the coordinator does not know this node key (unknown_node)";
	if (strcmp(reason, "node_expired") == 0)
		return "the node key has expired on the coordinator (node_expired)";
	return "the coordinator refused this node key";
}

static void done_cb(struct evhttp_request *req, void *arg)
{
	struct relay_admit_req *r = arg;
	struct relay_server *s = r->s;
	struct relay_admit *a = s->admit;
	char reason[48] = "";
	uint64_t ttl = 0;
	int rc = parse_answer(req, reason, sizeof(reason), &ttl);
	struct relay_conn *c = r->c;

	unlink_req(a, r);
	if (rc < 0) {
		const struct admit_entry *e = keytab_get(&a->cache, r->key);
		bool stale_ok = e && e->admitted && relay_now_ms() < e->stale_until_ms;

		s->m.admit_errors++;
		mg_log(
		    MG_LOG_WARNING, "admission: no answer from the coordinator", "status",
		    req ? (evhttp_request_get_response_code(req) == 200 ? "bad body" : "http error")
		        : "unreachable",
		    "decision", stale_ok ? "admitted (earlier answer)" : "refused", NULL);
		if (c)
			relay_conn_admitted(c, stale_ok,
			                    "the coordinator could not be asked whether this node "
			                    "key is known; try again later");
	} else {
		cache_put(a, r->key, rc == 1, reason, ttl);
		if (rc == 1)
			s->m.admit_ok++;
		else
			s->m.admit_refused++;
		if (c)
			relay_conn_admitted(c, rc == 1, rc == 1 ? NULL : refusal_text(reason));
	}
	free(r);
}

static struct relay_admit_req *ask(struct relay_server *s, const uint8_t key[32])
{
	struct relay_admit *a = s->admit;
	struct relay_admit_req *r = calloc(1, sizeof(*r));
	struct bufferevent *bev = NULL;
	struct evhttp_request *req;
	struct evkeyvalq *h;
	char b64[WG_KEY_B64_SIZE];

	if (!r)
		return NULL;
	r->s = s;
	memcpy(r->key, key, 32);
	if (a->https) {
		SSL *ssl = SSL_new(a->tls);

		if (!ssl)
			goto fail;
		SSL_set_tlsext_host_name(ssl, a->host);
		SSL_set1_host(ssl, a->host);
		bev =
		    bufferevent_openssl_socket_new(s->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
		                                   BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS);
		if (!bev) {
			SSL_free(ssl);
			goto fail;
		}
	} else if (!(bev = bufferevent_socket_new(s->base, -1, BEV_OPT_CLOSE_ON_FREE))) {
		goto fail;
	}
	r->evcon = evhttp_connection_base_bufferevent_new(s->base, NULL, bev, a->host,
	                                                  (unsigned short)a->port);
	if (!r->evcon) {
		bufferevent_free(bev);
		goto fail;
	}
	evhttp_connection_set_timeout(r->evcon, ADMIT_TIMEOUT_S);
	if (!(req = evhttp_request_new(done_cb, r))) {
		evhttp_connection_free(r->evcon);
		goto fail;
	}
	h = evhttp_request_get_output_headers(req);
	evhttp_add_header(h, "Host", a->host);
	evhttp_add_header(h, "Authorization", a->auth);
	evhttp_add_header(h, "Content-Type", "application/json");
	evhttp_add_header(h, "Connection", "close");
	wg_key_to_base64(b64, key);
	evbuffer_add_printf(evhttp_request_get_output_buffer(req), "{\"node_key\":\"%s\"}", b64);
	/* One connection per question, freed once it is answered: answers are cached, so this
	 * happens once per key and TTL. */
	evhttp_connection_free_on_completion(r->evcon);
	if (evhttp_make_request(r->evcon, req, EVHTTP_REQ_POST, a->path) != 0) {
		evhttp_connection_free(r->evcon);
		goto fail;
	}
	r->next = a->pending;
	if (a->pending)
		a->pending->prev = r;
	a->pending = r;
	s->m.admit_asked++;
	return r;
fail:
	free(r);
	return NULL;
}

int relay_admit_check(struct relay_server *s, const uint8_t key[32], struct relay_conn *c,
                      struct relay_admit_req **pending, const char **why)
{
	struct relay_admit *a = s->admit;
	const struct admit_entry *e;

	*pending = NULL;
	if (!a)
		return 1;
	e = keytab_get(&a->cache, key);
	if (e && relay_now_ms() < e->expires_ms) {
		s->m.admit_cache_hits++;
		if (e->admitted)
			return 1;
		*why = refusal_text(e->reason);
		return 0;
	}
	if (!(*pending = ask(s, key))) {
		*why = "out of memory asking the coordinator";
		return 0;
	}
	(*pending)->c = c;
	return 2;
}

void relay_admit_forget(struct relay_admit_req *r)
{
	if (r)
		r->c = NULL;
}
