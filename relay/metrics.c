// SPDX-License-Identifier: GPL-2.0-only
/* /metrics (Prometheus text format 0.0.4) and /health (JSON) on a loopback address. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/http.h>

#include "log.h"
#include "relay.h"

const char *relay_drop_name(enum relay_drop d)
{
	static const char *const n[RELAY_DROP_COUNT] = {"unknown_dst", "queue_full",
	                                                "mesh_queue_full", "mesh_unknown_dst"};
	return d < RELAY_DROP_COUNT ? n[d] : "?";
}

const char *relay_close_name(enum relay_close c)
{
	static const char *const n[RELAY_CLOSE_COUNT] = {
	    "per_ip_limit",  "server_full",    "tls",         "bad_upgrade",
	    "bad_proof",     "bad_mesh_proof", "bad_frame",   "handshake_timeout",
	    "idle_timeout",  "replaced",       "peer_closed", "shutdown",
	    "out_of_memory", "not_admitted"};
	return c < RELAY_CLOSE_COUNT ? n[c] : "?";
}

static void metrics_text(struct relay_server *s, struct evbuffer *b)
{
	const struct relay_metrics *m = &s->m;
	static const char *const paths[RELAY_PATH_COUNT] = {"local", "mesh_out", "mesh_in"};

	evbuffer_add_printf(
	    b,
	    "# HELP meshgate_relay_clients Authenticated nodes connected.\n"
	    "# TYPE meshgate_relay_clients gauge\n"
	    "meshgate_relay_clients %llu\n"
	    "# HELP meshgate_relay_connections Open connections in any state.\n"
	    "# TYPE meshgate_relay_connections gauge\n"
	    "meshgate_relay_connections %llu\n"
	    "# HELP meshgate_relay_mesh_peers_in Peer relays connected to this one.\n"
	    "# TYPE meshgate_relay_mesh_peers_in gauge\n"
	    "meshgate_relay_mesh_peers_in %llu\n"
	    "# HELP meshgate_relay_mesh_links_up Links this relay dialled that are up.\n"
	    "# TYPE meshgate_relay_mesh_links_up gauge\n"
	    "meshgate_relay_mesh_links_up %u\n"
	    "# HELP meshgate_relay_remote_keys Node keys known on peer relays.\n"
	    "# TYPE meshgate_relay_remote_keys gauge\n"
	    "meshgate_relay_remote_keys %zu\n"
	    "# TYPE meshgate_relay_accepted_total counter\n"
	    "meshgate_relay_accepted_total %llu\n"
	    "# TYPE meshgate_relay_auth_ok_total counter\n"
	    "meshgate_relay_auth_ok_total %llu\n"
	    "# TYPE meshgate_relay_mesh_auth_ok_total counter\n"
	    "meshgate_relay_mesh_auth_ok_total %llu\n"
	    "# TYPE meshgate_relay_pings_sent_total counter\n"
	    "meshgate_relay_pings_sent_total %llu\n"
	    "# TYPE meshgate_relay_peer_gone_sent_total counter\n"
	    "meshgate_relay_peer_gone_sent_total %llu\n",
	    (unsigned long long)m->clients, (unsigned long long)m->conns,
	    (unsigned long long)m->mesh_in, relay_mesh_links_up(s), s->remote.count,
	    (unsigned long long)m->accepted_total, (unsigned long long)m->auth_ok_total,
	    (unsigned long long)m->mesh_auth_ok_total, (unsigned long long)m->pings_sent,
	    (unsigned long long)m->peer_gone_sent);
	evbuffer_add_printf(b, "# HELP meshgate_relay_frames_forwarded_total Packets forwarded.\n"
	                       "# TYPE meshgate_relay_frames_forwarded_total counter\n");
	for (int i = 0; i < RELAY_PATH_COUNT; i++)
		evbuffer_add_printf(b, "meshgate_relay_frames_forwarded_total{path=\"%s\"} %llu\n",
		                    paths[i], (unsigned long long)m->frames[i]);
	evbuffer_add_printf(b,
	                    "# HELP meshgate_relay_bytes_forwarded_total Payload bytes forwarded.\n"
	                    "# TYPE meshgate_relay_bytes_forwarded_total counter\n");
	for (int i = 0; i < RELAY_PATH_COUNT; i++)
		evbuffer_add_printf(b, "meshgate_relay_bytes_forwarded_total{path=\"%s\"} %llu\n",
		                    paths[i], (unsigned long long)m->bytes[i]);
	evbuffer_add_printf(b, "# HELP meshgate_relay_drops_total Packets dropped, by reason.\n"
	                       "# TYPE meshgate_relay_drops_total counter\n");
	for (int i = 0; i < RELAY_DROP_COUNT; i++)
		evbuffer_add_printf(b, "meshgate_relay_drops_total{reason=\"%s\"} %llu\n",
		                    relay_drop_name(i), (unsigned long long)m->drops[i]);
	evbuffer_add_printf(b, "# TYPE meshgate_relay_drop_bytes_total counter\n");
	for (int i = 0; i < RELAY_DROP_COUNT; i++)
		evbuffer_add_printf(b, "meshgate_relay_drop_bytes_total{reason=\"%s\"} %llu\n",
		                    relay_drop_name(i), (unsigned long long)m->drop_bytes[i]);
	evbuffer_add_printf(b, "# HELP meshgate_relay_closed_total Connections ended, by reason.\n"
	                       "# TYPE meshgate_relay_closed_total counter\n");
	for (int i = 0; i < RELAY_CLOSE_COUNT; i++)
		evbuffer_add_printf(b, "meshgate_relay_closed_total{reason=\"%s\"} %llu\n",
		                    relay_close_name(i), (unsigned long long)m->closes[i]);
	evbuffer_add_printf(
	    b,
	    "# HELP meshgate_relay_admission_total Coordinator admission questions and answers.\n"
	    "# TYPE meshgate_relay_admission_total counter\n"
	    "meshgate_relay_admission_total{result=\"asked\"} %llu\n"
	    "meshgate_relay_admission_total{result=\"admitted\"} %llu\n"
	    "meshgate_relay_admission_total{result=\"refused\"} %llu\n"
	    "meshgate_relay_admission_total{result=\"error\"} %llu\n"
	    "meshgate_relay_admission_total{result=\"cache_hit\"} %llu\n",
	    (unsigned long long)m->admit_asked, (unsigned long long)m->admit_ok,
	    (unsigned long long)m->admit_refused, (unsigned long long)m->admit_errors,
	    (unsigned long long)m->admit_cache_hits);
	relay_stun_metrics(s, b);
}

static void http_cb(struct evhttp_request *req, void *arg)
{
	struct relay_server *s = arg;
	const char *uri = evhttp_request_get_uri(req);
	struct evbuffer *b = evbuffer_new();
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);

	if (!b) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	if (evhttp_request_get_command(req) != EVHTTP_REQ_GET) {
		evhttp_send_error(req, 405, "only GET");
	} else if (strcmp(uri, "/metrics") == 0) {
		metrics_text(s, b);
		evhttp_add_header(h, "Content-Type", "text/plain; version=0.0.4");
		evhttp_send_reply(req, 200, "OK", b);
	} else if (strcmp(uri, "/health") == 0) {
		evbuffer_add_printf(b,
		                    "{\"status\":\"%s\",\"name\":\"%s\",\"region\":\"%s\","
		                    "\"clients\":%llu,\"connections\":%llu,\"mesh_links\":%zu,"
		                    "\"mesh_links_up\":%u,\"mesh_peers_in\":%llu}\n",
		                    s->stopping ? "stopping" : "ok", s->cfg->name, s->cfg->region,
		                    (unsigned long long)s->m.clients,
		                    (unsigned long long)s->m.conns, s->n_links,
		                    relay_mesh_links_up(s), (unsigned long long)s->m.mesh_in);
		evhttp_add_header(h, "Content-Type", "application/json");
		evhttp_send_reply(req, 200, "OK", b);
	} else {
		evhttp_send_error(req, 404, "try /metrics or /health");
	}
	evbuffer_free(b);
}

int relay_metrics_start(struct relay_server *s, char *err, size_t errlen)
{
	const struct mg_sockaddr *a = &s->cfg->metrics;
	char host[64];

	if (!a->family)
		return 0;
	inet_ntop(a->family == 4 ? AF_INET : AF_INET6, a->addr, host, sizeof(host));
	s->http = evhttp_new(s->base);
	if (!s->http || evhttp_bind_socket(s->http, host, a->port) != 0) {
		snprintf(err, errlen, "cannot listen for metrics on %s port %u", host, a->port);
		return -1;
	}
	evhttp_set_allowed_methods(s->http, EVHTTP_REQ_GET);
	evhttp_set_max_headers_size(s->http, 8192);
	evhttp_set_max_body_size(s->http, 0);
	evhttp_set_timeout(s->http, 5);
	evhttp_set_gencb(s->http, http_cb, s);
	return 0;
}

void relay_metrics_stop(struct relay_server *s)
{
	if (s->http)
		evhttp_free(s->http);
	s->http = NULL;
}
