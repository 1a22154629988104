// SPDX-License-Identifier: GPL-2.0-only
/*
 * The listening socket, the TLS contexts, the relay's X25519 key, and the sweep that enforces
 * deadlines and sends keepalives for every connection.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <event2/listener.h>
#include <openssl/err.h>
#include <sodium.h>

#include "keys.h"
#include "log.h"
#include "admit.h"
#include "relay.h"

#define TICK_MS 250

uint64_t relay_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void tls_error(char *err, size_t errlen, const char *what, const char *file)
{
	char e[200] = "";
	unsigned long code = ERR_get_error();

	if (code)
		ERR_error_string_n(code, e, sizeof(e));
	snprintf(err, errlen, "%s %s: %s", what, file, e);
	ERR_clear_error();
}

static SSL_CTX *server_tls(const struct relay_config *cfg, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());

	if (!ctx) {
		snprintf(err, errlen, "SSL_CTX_new failed");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	/* Idle clients should cost as little as possible: no I/O buffers while idle, no session
	 * cache or tickets (nodes reconnect rarely). */
	SSL_CTX_set_mode(ctx, SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
	if (SSL_CTX_use_certificate_chain_file(ctx, cfg->cert_file) != 1) {
		tls_error(err, errlen, "cannot load the certificate chain", cfg->cert_file);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(ctx, cfg->key_file, SSL_FILETYPE_PEM) != 1) {
		tls_error(err, errlen, "cannot load the TLS private key", cfg->key_file);
		goto fail;
	}
	if (SSL_CTX_check_private_key(ctx) != 1) {
		tls_error(err, errlen, "the TLS key does not match the certificate", cfg->key_file);
		goto fail;
	}
	return ctx;
fail:
	SSL_CTX_free(ctx);
	return NULL;
}

static SSL_CTX *mesh_tls(const struct relay_config *cfg, char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());

	if (!ctx) {
		snprintf(err, errlen, "SSL_CTX_new failed");
		return NULL;
	}
	SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	if (cfg->mesh_ca_file[0]) {
		if (SSL_CTX_load_verify_locations(ctx, cfg->mesh_ca_file, NULL) != 1) {
			tls_error(err, errlen, "cannot load the mesh CA file", cfg->mesh_ca_file);
			SSL_CTX_free(ctx);
			return NULL;
		}
	} else {
		SSL_CTX_set_default_verify_paths(ctx);
	}
	return ctx;
}

static void accept_cb(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg)
{
	(void)lis;
	relay_conn_accept(arg, fd, sa, salen);
}

static void accept_error_cb(struct evconnlistener *lis, void *arg)
{
	int e = EVUTIL_SOCKET_ERROR();

	(void)lis;
	(void)arg;
	/* EMFILE and the like: keep listening; the sweep frees descriptors. */
	mg_log(MG_LOG_WARNING, "accept failed", "error", evutil_socket_error_to_string(e), NULL);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct relay_server *s = arg;
	uint64_t now = relay_now_ms();

	(void)fd;
	(void)what;
	relay_conns_tick(s, now);
	relay_mesh_tick(s, now);
	if (s->tap)
		fflush(s->tap);
}

static int load_relay_key(struct relay_server *s, char *err, size_t errlen)
{
	struct wg_key_status st;
	char msg[WG_KEY_ERRBUF_SIZE];

	if (!s->cfg->relay_key_file[0]) {
		randombytes_buf(s->relay_sk, sizeof(s->relay_sk));
	} else if (wg_key_from_file(s->cfg->relay_key_file, s->relay_sk, &st) != WG_KEY_OK) {
		snprintf(err, errlen, "%s",
		         wg_key_error_format(&st, s->cfg->relay_key_file, msg, sizeof(msg)));
		return -1;
	}
	return crypto_scalarmult_base(s->relay_pk, s->relay_sk);
}

int relay_server_init(struct relay_server *s, struct event_base *base,
                      const struct relay_config *cfg, char *err, size_t errlen)
{
	const struct mg_sockaddr *a = &cfg->listen;
	struct sockaddr_storage ss = {0};
	socklen_t len;
	struct timeval tv = {0, TICK_MS * 1000};

	memset(s, 0, sizeof(*s));
	s->base = base;
	s->cfg = cfg;
	if (keytab_init(&s->local) || keytab_init(&s->remote) || keytab_init(&s->per_ip)) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (load_relay_key(s, err, errlen) != 0)
		return -1;
	if (!(s->tls = server_tls(cfg, err, errlen)))
		return -1;
	if (cfg->mesh && !(s->mesh_tls = mesh_tls(cfg, err, errlen)))
		return -1;
	if (cfg->tap_file[0] && !(s->tap = fopen(cfg->tap_file, "wbe"))) {
		snprintf(err, errlen, "cannot open test.tap_file %s: %s", cfg->tap_file,
		         strerror(errno));
		return -1;
	}
	if (a->family == 4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(a->port);
		memcpy(&sin->sin_addr, a->addr, 4);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(a->port);
		memcpy(&sin6->sin6_addr, a->addr, 16);
		len = sizeof(*sin6);
	}
	s->listener = evconnlistener_new_bind(
	    base, accept_cb, s, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
	    4096, (struct sockaddr *)&ss, (int)len);
	if (!s->listener) {
		char as[MG_SOCKADDR_STRLEN];
		mg_sockaddr_format(a, as, sizeof(as));
		snprintf(err, errlen, "cannot listen on %s: %s", as, strerror(errno));
		return -1;
	}
	evconnlistener_set_error_cb(s->listener, accept_error_cb);
	s->tick = event_new(base, -1, EV_PERSIST, tick_cb, s);
	if (!s->tick || event_add(s->tick, &tv) != 0) {
		snprintf(err, errlen, "cannot start the timer");
		return -1;
	}
	if (relay_metrics_start(s, err, errlen) != 0)
		return -1;
	if (relay_stun_start(s, err, errlen) != 0)
		return -1;
	if (relay_admit_init(s, err, errlen) != 0)
		return -1;
	if (cfg->mesh && relay_mesh_start(s) != 0) {
		snprintf(err, errlen, "cannot start the mesh links");
		return -1;
	}
	return 0;
}

void relay_server_free(struct relay_server *s)
{
	s->stopping = true;
	relay_mesh_stop(s);
	relay_conns_close_all(s);
	relay_admit_free(s);
	relay_metrics_stop(s);
	relay_stun_stop(s);
	if (s->listener)
		evconnlistener_free(s->listener);
	if (s->tick)
		event_free(s->tick);
	SSL_CTX_free(s->tls);
	SSL_CTX_free(s->mesh_tls);
	keytab_free(&s->local);
	keytab_free(&s->remote);
	keytab_free(&s->per_ip);
	if (s->tap)
		fclose(s->tap);
	sodium_memzero(s->relay_sk, sizeof(s->relay_sk));
}
