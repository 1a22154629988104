// SPDX-License-Identifier: GPL-2.0-only
/*
 * The relay mesh of a region. Every relay dials every peer listed in its config, over the same
 * TLS upgrade nodes use, and proves the shared mesh key. On that link the dialled relay tells the
 * dialler which node keys are connected to it (MESH_PRESENT / MESH_ABSENT) and the dialler sends
 * it the packets for those keys (MESH_FORWARD). Each direction of a pair of relays is its own
 * link, so no link needs to pick a side. A forwarded packet is delivered locally or dropped,
 * never forwarded again, so a full mesh cannot loop.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/bufferevent_ssl.h>
#include <event2/event.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <sodium.h>

#include "auth.h"
#include "frame.h"
#include "log.h"
#include "relay.h"
#include "upgrade.h"

#define RETRY_MIN_MS 250
#define RETRY_MAX_MS 2000

enum link_state { ML_DOWN, ML_CONNECTING, ML_UPGRADE, ML_CHALLENGE, ML_WELCOME, ML_UP };

struct relay_mesh_link {
	struct relay_server *s;
	const struct relay_mesh_peer *peer;
	struct bufferevent *bev;
	struct event *retry;
	enum link_state st;
	unsigned backoff_ms;
	uint64_t last_rx, last_ping, deadline;
	struct relay_mesh_link *next;
};

static void link_dial(struct relay_mesh_link *l);

static void link_log(enum mg_log_level lvl, struct relay_mesh_link *l, const char *msg,
                     const char *why)
{
	mg_log(lvl, msg, "relay", l->peer->name, "address", l->peer->address, "reason", why, NULL);
}

static int forget_link(const uint8_t key[32], void *val, void *ctx)
{
	(void)key;
	return val == ctx;
}

static void link_down(struct relay_mesh_link *l, const char *why)
{
	struct timeval tv;

	if (l->st == ML_UP)
		link_log(MG_LOG_WARNING, l, "mesh link down", why);
	else
		link_log(MG_LOG_INFO, l, "mesh link failed", why);
	keytab_sweep(&l->s->remote, forget_link, l);
	if (l->bev)
		bufferevent_free(l->bev);
	l->bev = NULL;
	l->st = ML_DOWN;
	if (l->s->stopping)
		return;
	tv.tv_sec = l->backoff_ms / 1000;
	tv.tv_usec = (l->backoff_ms % 1000) * 1000;
	evtimer_add(l->retry, &tv);
	l->backoff_ms = l->backoff_ms * 2 > RETRY_MAX_MS ? RETRY_MAX_MS : l->backoff_ms * 2;
}

static void put_frame(struct relay_mesh_link *l, uint8_t type, const void *body, uint32_t len)
{
	struct evbuffer *out = bufferevent_get_output(l->bev);
	uint8_t hdr[RELAY_HDR_LEN];

	relay_frame_put(hdr, type, len);
	evbuffer_add(out, hdr, sizeof(hdr));
	if (len)
		evbuffer_add(out, body, len);
}

static int on_challenge(struct relay_mesh_link *l, const uint8_t *body)
{
	uint8_t exporter[32], proof[32 + RELAY_MESH_NAME_MAX];
	int n;

	if (body[0] != RELAY_PROTO_VERSION) {
		link_down(l, "peer relay speaks another protocol version");
		return -1;
	}
	if (relay_tls_exporter(bufferevent_openssl_get_ssl(l->bev), exporter) != 0) {
		link_down(l, "TLS exporter unavailable");
		return -1;
	}
	n = relay_mesh_proof_make(l->s->cfg->mesh_key, l->s->cfg->name, body + 2 + 32, exporter,
	                          proof, sizeof(proof));
	if (n < 0) {
		link_down(l, "cannot build the mesh proof");
		return -1;
	}
	put_frame(l, RELAY_F_MESH_PROOF, proof, (uint32_t)n);
	sodium_memzero(proof, sizeof(proof));
	l->st = ML_WELCOME;
	return 0;
}

static void on_presence(struct relay_mesh_link *l, uint8_t type, const uint8_t *keys, uint32_t len)
{
	int err;

	for (uint32_t i = 0; i < len; i += 32) {
		if (type == RELAY_F_MESH_PRESENT)
			keytab_put(&l->s->remote, keys + i, l, &err);
		else if (keytab_get(&l->s->remote, keys + i) == l)
			keytab_del(&l->s->remote, keys + i);
	}
}

/* One frame whose header is consumed; returns -1 when the link went down. */
static int on_frame(struct relay_mesh_link *l, struct evbuffer *in, const struct relay_frame_hdr *h)
{
	uint8_t *body = evbuffer_pullup(in, h->len);
	char text[RELAY_ERROR_TEXT_MAX + 1];
	int ret = 0;

	switch (h->type) {
	case RELAY_F_CHALLENGE:
		if (l->st != ML_CHALLENGE) {
			link_down(l, "unexpected CHALLENGE");
			return -1;
		}
		ret = on_challenge(l, body);
		break;
	case RELAY_F_WELCOME:
		if (l->st != ML_WELCOME) {
			link_down(l, "unexpected WELCOME");
			return -1;
		}
		l->st = ML_UP;
		l->backoff_ms = RETRY_MIN_MS;
		l->last_ping = l->last_rx;
		bufferevent_setwatermark(l->bev, EV_READ, 0, 2 * (RELAY_HDR_LEN + RELAY_MAX_BODY));
		link_log(MG_LOG_NOTICE, l, "mesh link up", "authenticated");
		break;
	case RELAY_F_MESH_PRESENT:
	case RELAY_F_MESH_ABSENT:
		if (l->st != ML_UP) {
			link_down(l, "presence before WELCOME");
			return -1;
		}
		on_presence(l, h->type, body, h->len);
		break;
	case RELAY_F_PING:
		put_frame(l, RELAY_F_PONG, body, 8);
		break;
	case RELAY_F_PONG:
		break;
	case RELAY_F_ERROR:
		snprintf(text, sizeof(text), "%s: %.*s", relay_error_name(body[0]), (int)h->len - 1,
		         (const char *)body + 1);
		link_down(l, text);
		return -1;
	default:
		link_down(l, "unexpected frame");
		return -1;
	}
	if (ret == 0)
		evbuffer_drain(in, h->len);
	return ret;
}

static void link_readcb(struct bufferevent *bev, void *arg)
{
	struct relay_mesh_link *l = arg;
	struct evbuffer *in = bufferevent_get_input(bev);

	l->last_rx = relay_now_ms();
	for (;;) {
		uint8_t hdr[RELAY_HDR_LEN];
		struct relay_frame_hdr h;
		const char *why;
		int rc;

		if (l->st == ML_UPGRADE) {
			struct relay_upgrade_result res;
			size_t len = evbuffer_get_length(in);
			const char *p;

			if (len > RELAY_UPGRADE_MAX)
				len = RELAY_UPGRADE_MAX;
			p = (const char *)evbuffer_pullup(in, (ev_ssize_t)len);
			rc = relay_upgrade_parse_response(p, len, &res);
			if (rc == 0)
				return;
			if (rc < 0) {
				char msg[96];
				snprintf(msg, sizeof(msg), "upgrade refused (HTTP %d): %s",
				         res.status, res.why);
				link_down(l, msg);
				return;
			}
			evbuffer_drain(in, res.consumed);
			l->st = ML_CHALLENGE;
			continue;
		}
		if (evbuffer_copyout(in, hdr, sizeof(hdr)) < (ev_ssize_t)sizeof(hdr))
			return;
		rc = relay_frame_check(hdr, RELAY_ROLE_MESH_OUT, &h, &why);
		if (rc != 0) {
			link_down(l, why);
			return;
		}
		if (evbuffer_get_length(in) < RELAY_HDR_LEN + (size_t)h.len)
			return;
		evbuffer_drain(in, RELAY_HDR_LEN);
		if (on_frame(l, in, &h) != 0)
			return;
	}
}

static void link_eventcb(struct bufferevent *bev, short events, void *arg)
{
	struct relay_mesh_link *l = arg;
	char why[160] = "connection closed";
	unsigned long e;

	if (events & BEV_EVENT_CONNECTED) {
		char req[512];
		int n = relay_upgrade_request(req, sizeof(req), l->peer->server_name);

		l->st = ML_UPGRADE;
		if (n > 0)
			evbuffer_add(bufferevent_get_output(bev), req, (size_t)n);
		return;
	}
	if (!(events & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)))
		return;
	if ((events & BEV_EVENT_ERROR) && EVUTIL_SOCKET_ERROR())
		snprintf(why, sizeof(why), "%s",
		         evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	while ((e = bufferevent_get_openssl_error(bev)))
		ERR_error_string_n(e, why, sizeof(why));
	link_down(l, why);
}

static void link_dial(struct relay_mesh_link *l)
{
	struct relay_server *s = l->s;
	const struct relay_mesh_peer *p = l->peer;
	struct sockaddr_storage ss = {0};
	socklen_t len;
	SSL *ssl = SSL_new(s->mesh_tls);
	unsigned char ipbuf[16];

	if (!ssl) {
		link_down(l, "SSL_new failed");
		return;
	}
	/* The name on the certificate: an IP address or a DNS name. */
	if (inet_pton(AF_INET, p->server_name, ipbuf) == 1 ||
	    inet_pton(AF_INET6, p->server_name, ipbuf) == 1) {
		X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), p->server_name);
	} else {
		SSL_set_tlsext_host_name(ssl, p->server_name);
		SSL_set1_host(ssl, p->server_name);
	}
	l->bev = bufferevent_openssl_socket_new(s->base, -1, ssl, BUFFEREVENT_SSL_CONNECTING,
	                                        BEV_OPT_CLOSE_ON_FREE);
	if (!l->bev) {
		SSL_free(ssl);
		link_down(l, "bufferevent_openssl_socket_new failed");
		return;
	}
	bufferevent_openssl_set_allow_dirty_shutdown(l->bev, 1);
	bufferevent_setwatermark(l->bev, EV_READ, 0, RELAY_UPGRADE_MAX);
	bufferevent_setcb(l->bev, link_readcb, NULL, link_eventcb, l);
	bufferevent_enable(l->bev, EV_READ | EV_WRITE);
	if (p->addr.family == 4) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(p->addr.port);
		memcpy(&sin->sin_addr, p->addr.addr, 4);
		len = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(p->addr.port);
		memcpy(&sin6->sin6_addr, p->addr.addr, 16);
		len = sizeof(*sin6);
	}
	l->st = ML_CONNECTING;
	l->deadline = relay_now_ms() + s->cfg->handshake_timeout_ms;
	l->last_rx = relay_now_ms();
	if (bufferevent_socket_connect(l->bev, (struct sockaddr *)&ss, (int)len) != 0) {
		link_down(l, "connect failed");
		return;
	}
	setsockopt(bufferevent_getfd(l->bev), IPPROTO_TCP, TCP_NODELAY, &(int){1}, sizeof(int));
}

static void retry_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	link_dial(arg);
}

int relay_mesh_start(struct relay_server *s)
{
	const struct relay_config *cfg = s->cfg;

	for (size_t i = 0; i < cfg->n_peers; i++) {
		struct relay_mesh_link *l = calloc(1, sizeof(*l));

		if (!l)
			return -1;
		l->s = s;
		l->peer = &cfg->peers[i];
		l->backoff_ms = RETRY_MIN_MS;
		l->retry = evtimer_new(s->base, retry_cb, l);
		if (!l->retry) {
			free(l);
			return -1;
		}
		l->next = s->links;
		s->links = l;
		s->n_links++;
		link_dial(l);
	}
	return 0;
}

void relay_mesh_stop(struct relay_server *s)
{
	while (s->links) {
		struct relay_mesh_link *l = s->links;

		s->links = l->next;
		if (l->bev)
			bufferevent_free(l->bev);
		event_free(l->retry);
		free(l);
	}
}

void relay_mesh_tick(struct relay_server *s, uint64_t now)
{
	for (struct relay_mesh_link *l = s->links; l; l = l->next) {
		if (l->st == ML_DOWN)
			continue;
		if (l->st != ML_UP && now >= l->deadline) {
			link_down(l, "no WELCOME before the handshake deadline");
		} else if (l->st == ML_UP && now - l->last_rx >= 1000ull * s->cfg->idle_timeout_s) {
			link_down(l, "nothing received (not even PONG)");
		} else if (l->st == ML_UP && now - l->last_ping >= 1000ull * s->cfg->keepalive_s) {
			uint8_t ping[8] = {0};
			put_frame(l, RELAY_F_PING, ping, sizeof(ping));
			l->last_ping = now;
		}
	}
}

bool relay_mesh_forward(struct relay_server *s, struct relay_mesh_link *l, const uint8_t src[32],
                        const uint8_t dst[32], struct evbuffer *src_buf, uint32_t plen)
{
	struct evbuffer *out;
	uint8_t hdr[RELAY_HDR_LEN + 64];

	if (l->st != ML_UP ||
	    evbuffer_get_length(out = bufferevent_get_output(l->bev)) + sizeof(hdr) + plen >
	        s->cfg->mesh_queue_bytes) {
		s->m.drops[RELAY_DROP_MESH_QUEUE_FULL]++;
		s->m.drop_bytes[RELAY_DROP_MESH_QUEUE_FULL] += plen;
		evbuffer_drain(src_buf, plen);
		return false;
	}
	relay_frame_put(hdr, RELAY_F_MESH_FORWARD, 64 + plen);
	memcpy(hdr + RELAY_HDR_LEN, src, 32);
	memcpy(hdr + RELAY_HDR_LEN + 32, dst, 32);
	evbuffer_add(out, hdr, sizeof(hdr));
	evbuffer_remove_buffer(src_buf, out, plen);
	return true;
}

unsigned relay_mesh_links_up(const struct relay_server *s)
{
	unsigned n = 0;

	for (const struct relay_mesh_link *l = s->links; l; l = l->next)
		n += l->st == ML_UP;
	return n;
}
