// SPDX-License-Identifier: GPL-2.0-only
#include "relay_path.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "disco.h"
#include "keys.h"
#include "log.h"
#include "relay_client.h"
#include "relay_extra.h"
#include "relay_home.h"

#define CONNECT_TIMEOUT_MS 5000
/* Packets moved per descriptor and poll round, so one busy peer cannot starve the rest. */
#define BATCH 64

struct proxy {
	uint8_t key[32];
	char name[64];
	bool relayed;
	int fd;        /* loopback UDP socket, connected to wireguard-go's port; -1 if none */
	uint16_t port; /* its local port */
	int64_t seen;  /* when the peer appeared with an endpoint */
	int64_t direct_since; /* handshakes before this were not on the direct path */
	bool has_endpoint;
	struct mg_sockaddr direct;      /* the map's first endpoint */
	bool no_endpoint;               /* relayed only because the map gave no endpoint */
	char home_relay[64];            /* the peer's home relay as the map says, "" if none */
	enum mg_relay_path_route route; /* managed mode */
	struct mg_sockaddr route_ep;
	uint64_t to_relay, from_relay, to_direct, from_direct, dropped;
};

struct mg_relay_path {
	struct mg_relay_config cfg;
	struct mg_relay_home *home; /* the home relay's choice and connection (node/) */
	/* Relayed peers' home relays outside our region: SENDs to them go there (node/). */
	struct mg_relay_extras extras;
	mg_relay_path_switch_fn fn;
	void *ctx;
	uint16_t wg_port;
	uint64_t to_relay_dropped;
	uint64_t disco_dropped; /* disco from the relay without stun: */
	bool managed;
	mg_relay_path_disco_fn disco_rx;
	mg_relay_path_direct_tx_fn direct_tx;
	void *mctx;
	struct proxy *peers;
	size_t n, cap;
};

struct mg_relay_path *mg_relay_path_new(const struct mg_relay_config *cfg,
                                        const uint8_t private_key[32], mg_relay_path_switch_fn fn,
                                        void *ctx)
{
	struct mg_relay_path *rp = calloc(1, sizeof(*rp));
	char err[256];

	if (!rp)
		return NULL;
	rp->cfg = *cfg;
	rp->fn = fn;
	rp->ctx = ctx;
	rp->home = mg_relay_home_new(
	    &(struct mg_relay_home_config){
	        .name = cfg->name,
	        .host = cfg->host,
	        .server_name = cfg->server_name,
	        .port = cfg->port,
	        .region = cfg->region,
	        .ca_file = cfg->ca_file,
	        .fwmark = cfg->fwmark,
	        .timeout_ms = CONNECT_TIMEOUT_MS,
	    },
	    private_key, err, sizeof(err));
	if (!rp->home) {
		mg_log(MG_LOG_ERROR, "relay: TLS setup failed", "error", err, NULL);
		free(rp);
		return NULL;
	}
	mg_relay_extras_init(&rp->extras, rp->home, private_key, cfg->fwmark, CONNECT_TIMEOUT_MS);
	return rp;
}

void mg_relay_path_free(struct mg_relay_path *rp)
{
	if (!rp)
		return;
	mg_relay_extras_free(&rp->extras);
	for (size_t i = 0; i < rp->n; i++)
		if (rp->peers[i].fd >= 0)
			close(rp->peers[i].fd);
	free(rp->peers);
	mg_relay_home_free(rp->home);
	free(rp);
}

static struct proxy *find(const struct mg_relay_path *rp, const uint8_t key[32])
{
	for (size_t i = 0; i < rp->n; i++)
		if (memcmp(rp->peers[i].key, key, 32) == 0)
			return &rp->peers[i];
	return NULL;
}

static void log_peer(enum mg_log_level lvl, const char *msg, const struct proxy *p, const char *k,
                     const char *v)
{
	char b64[WG_KEY_B64_SIZE];

	wg_key_to_base64(b64, p->key);
	mg_log(lvl, msg, "peer", b64, "name", p->name, k, v, NULL);
}

/* A loopback socket connected to wireguard-go's port: only wireguard-go can feed it. */
static int proxy_open(struct mg_relay_path *rp, struct proxy *p)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) != 0)
		goto fail;
	p->port = ntohs(a.sin_port);
	a.sin_port = htons(rp->wg_port);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0)
		goto fail;
	p->fd = fd;
	return 0;
fail:
	close(fd);
	return -errno;
}

static void to_relay_path(struct mg_relay_path *rp, struct proxy *p, const char *why)
{
	struct mg_sockaddr ep = {.family = 4, .addr = {127, 0, 0, 1}};
	int rc;

	if (p->relayed || rp->wg_port == 0)
		return;
	if (p->fd < 0 && (rc = proxy_open(rp, p)) != 0) {
		log_peer(MG_LOG_WARNING, "relay: cannot open a loopback proxy", p, "error",
		         strerror(-rc));
		return;
	}
	p->relayed = true;
	p->no_endpoint = !p->has_endpoint;
	ep.port = p->port;
	log_peer(MG_LOG_NOTICE, "peer path: relay", p, "reason", why);
	rp->fn(rp->ctx, p->key, &ep);
}

void mg_relay_path_set_wg_port(struct mg_relay_path *rp, uint16_t port)
{
	rp->wg_port = port;
}

void mg_relay_path_peer_seen(struct mg_relay_path *rp, const uint8_t key[32], const char *name,
                             const struct mg_sockaddr *endpoint, int64_t now)
{
	struct proxy *p = find(rp, key);

	if (!p) {
		if (rp->n == MG_RELAY_PATH_MAX_PEERS)
			return;
		if (rp->n == rp->cap) {
			size_t cap = rp->cap ? 2 * rp->cap : 16;
			struct proxy *grown = realloc(rp->peers, cap * sizeof(*grown));

			if (!grown)
				return;
			rp->peers = grown;
			rp->cap = cap;
		}
		p = &rp->peers[rp->n++];
		memset(p, 0, sizeof(*p));
		memcpy(p->key, key, 32);
		p->fd = -1;
		p->seen = now;
		p->direct_since = now;
	}
	snprintf(p->name, sizeof(p->name), "%s", name ? name : "");
	p->has_endpoint = endpoint != NULL;
	if (endpoint)
		p->direct = *endpoint;
	if (rp->managed) {
		/* Relayed until disco finds better (mg_relay_path_route). */
		if (!p->relayed && p->route == MG_RELAY_ROUTE_RELAY)
			to_relay_path(rp, p, "disco has no direct path yet");
		return;
	}
	if (rp->cfg.force) {
		to_relay_path(rp, p, "relay.force");
	} else if (!endpoint) {
		to_relay_path(rp, p, "the map gives no endpoint");
	} else if (p->relayed && p->no_endpoint) {
		/* The endpoint the peer lacked has arrived: try it, with the clock of a new peer.
		 */
		p->relayed = false;
		p->no_endpoint = false;
		p->direct_since = now;
		log_peer(MG_LOG_NOTICE, "peer path: direct", p, "reason",
		         "the map gives an endpoint");
		rp->fn(rp->ctx, p->key, &p->direct);
	}
}

void mg_relay_path_peer_gone(struct mg_relay_path *rp, const uint8_t key[32])
{
	struct proxy *p = find(rp, key);

	if (!p)
		return;
	if (p->fd >= 0)
		close(p->fd);
	*p = rp->peers[--rp->n];
}

bool mg_relay_path_endpoint(const struct mg_relay_path *rp, const uint8_t key[32],
                            struct mg_sockaddr *ep)
{
	const struct proxy *p = rp ? find(rp, key) : NULL;

	if (p && p->route == MG_RELAY_ROUTE_WG) {
		*ep = p->route_ep;
		return true;
	}
	if (!p || (!p->relayed && p->route != MG_RELAY_ROUTE_SOCKET))
		return false;
	memset(ep, 0, sizeof(*ep));
	ep->family = 4;
	ep->addr[0] = 127;
	ep->addr[3] = 1;
	ep->port = p->port;
	return true;
}

const char *mg_relay_path_of(const struct mg_relay_path *rp, const uint8_t key[32])
{
	const struct proxy *p = rp ? find(rp, key) : NULL;

	return p && p->relayed ? "relay" : "direct";
}

void mg_relay_path_observe(struct mg_relay_path *rp, const uint8_t key[32],
                           uint64_t last_handshake_sec, int64_t now)
{
	struct proxy *p = find(rp, key);

	if (!p || p->relayed || rp->managed)
		return;
	/* The clock runs from when the peer got its endpoint, traffic or not: wireguard-go does
	 * not count packets its socket failed to send (a local firewall), so "we tried" cannot
	 * be told from "we had nothing to send". An idle peer thus ends up relayed too, which
	 * costs nothing until it has traffic. */
	if (last_handshake_sec != 0 && (int64_t)last_handshake_sec >= p->direct_since)
		return;
	if (now - p->direct_since >= (int64_t)rp->cfg.direct_timeout_s)
		to_relay_path(rp, p, "no direct handshake within relay.direct_timeout");
}

const char *mg_relay_path_home(const struct mg_relay_path *rp)
{
	const struct mg_netmap_relay *r = rp ? mg_relay_home_relay(rp->home) : NULL;

	return r ? r->name : NULL;
}

void mg_relay_path_set_map(struct mg_relay_path *rp, const struct mg_netmap_relay *relays, size_t n,
                           int64_t now)
{
	mg_relay_home_set_map(rp->home, relays, n, now);
}

/* The relays our relayed peers are homed on, when outside our region: opened while such a peer
 * exists, closed when none is left or idle (node/relay_extra.h). */
static void extras_tick(struct mg_relay_path *rp, int64_t now)
{
	mg_relay_extras_begin(&rp->extras);
	for (size_t j = 0; j < rp->n; j++)
		if (rp->peers[j].relayed)
			mg_relay_extras_want(&rp->extras, rp->peers[j].home_relay, now);
	mg_relay_extras_end(&rp->extras, now);
}

void mg_relay_path_tick(struct mg_relay_path *rp, int64_t now)
{
	extras_tick(rp, now);
	mg_relay_home_tick(rp->home, now);
}

size_t mg_relay_path_pollfds(struct mg_relay_path *rp, struct pollfd *pfd, size_t max)
{
	size_t k = 0;

	if (max == 0)
		return 0;
	/* Slot 0 is always the relay, or the end of its dial (fd -1 when neither: poll ignores
	 * it). */
	struct mg_relay_client *rc = mg_relay_home_client(rp->home);

	pfd[k].fd = rc ? mg_relay_client_fd(rc) : mg_relay_home_dial_fd(rp->home);
	pfd[k].events = rc ? mg_relay_client_events(rc) : POLLIN;
	pfd[k++].revents = 0;
	/* Then one slot per extra connection, used or not, so the proxies start at a fixed
	 * place. */
	for (size_t i = 0; i < MG_RELAY_PATH_MAX_EXTRA && k < max; i++) {
		pfd[k].fd = mg_relay_extra_fd(&rp->extras.x[i]);
		pfd[k].events = mg_relay_extra_events(&rp->extras.x[i]);
		pfd[k++].revents = 0;
	}
	for (size_t i = 0; i < rp->n && k < max; i++) {
		pfd[k].fd = rp->peers[i].fd;
		pfd[k].events = POLLIN;
		pfd[k++].revents = 0;
	}
	return k;
}

/* Delivers what rc has; -1 when it broke. */
static int from_relay(struct mg_relay_path *rp, struct mg_relay_client *rc_)
{
	struct mg_relay_msg m;
	int rc;

	/* Until TLS has nothing buffered: poll cannot see records OpenSSL already read. */
	while ((rc = mg_relay_client_recv(rc_, &m)) != 0) {
		struct proxy *p;

		if (rc < 0)
			return -1;
		if (m.type != MG_RELAY_MSG_PACKET)
			continue;
		if (mg_disco_is_disco(m.data, m.len)) {
			/* Never WireGuard. Without disco (no stun:) it is dropped: taken for a
			 * packet it would make a direct peer relayed below. */
			if (rp->disco_rx)
				rp->disco_rx(rp->mctx, m.key, m.data, m.len);
			else
				rp->disco_dropped++;
			continue;
		}
		/* A packet from a peer of the map means that peer reaches us through the relay:
		 * answer the same way. Keys outside the map are dropped. */
		if (!(p = find(rp, m.key))) {
			rp->to_relay_dropped++;
			continue;
		}
		if (!p->relayed && !rp->managed)
			to_relay_path(rp, p, "the peer sends through the relay");
		if (p->fd < 0 || send(p->fd, m.data, m.len, 0) < 0) {
			p->dropped++;
			continue;
		}
		p->from_relay++;
	}
	return 0;
}

void mg_relay_path_io(struct mg_relay_path *rp, const struct pollfd *pfd, size_t n)
{
	int64_t now = (int64_t)time(NULL);
	uint8_t buf[MG_RELAY_MAX_PACKET];

	if (n == 0)
		return;
	struct mg_relay_client *rc = mg_relay_home_client(rp->home);

	if (!rc && pfd[0].fd >= 0 && pfd[0].fd == mg_relay_home_dial_fd(rp->home) &&
	    (pfd[0].revents & POLLIN))
		mg_relay_home_finish(rp->home, now);
	else if (rc && (pfd[0].revents & (POLLIN | POLLERR | POLLHUP)) && from_relay(rp, rc) < 0)
		mg_relay_home_down(rp->home, now, mg_relay_client_error(rc));
	for (size_t i = 0; i < MG_RELAY_PATH_MAX_EXTRA && 1 + i < n; i++) {
		struct mg_relay_extra *x = &rp->extras.x[i];
		short ev = pfd[1 + i].revents;

		if (x->dial.active && pfd[1 + i].fd == mg_relay_dial_fd(&x->dial) &&
		    (ev & POLLIN)) {
			mg_relay_extras_finish(&rp->extras, i, now);
		} else if (x->rc && pfd[1 + i].fd == mg_relay_client_fd(x->rc) &&
		           (ev & (POLLIN | POLLERR | POLLHUP))) {
			x->last_used = now;
			if (from_relay(rp, x->rc) < 0)
				mg_relay_extras_down(&rp->extras, i, now);
		}
	}
	/* Proxies: the array may have shrunk or grown since the descriptors were taken. */
	for (size_t k = 1 + MG_RELAY_PATH_MAX_EXTRA; k < n; k++) {
		struct mg_relay_client *out = NULL;
		struct proxy *p = NULL;

		if (!(pfd[k].revents & POLLIN))
			continue;
		for (size_t i = 0; i < rp->n; i++)
			if (rp->peers[i].fd == pfd[k].fd)
				p = &rp->peers[i];
		/* To the peer's home relay when we hold a connection there, else through ours
		 * (and the relay mesh). */
		if (p && !(out = mg_relay_extras_use(&rp->extras, p->home_relay, now)))
			out = mg_relay_home_client(rp->home);
		for (int j = 0; p && j < BATCH; j++) {
			ssize_t len = recv(p->fd, buf, sizeof(buf), 0);

			if (len <= 0)
				break;
			/* Routed direct: wireguard-go may still send to the proxy (it roamed here
			 * on a packet that came through it), so the proxy follows the route. */
			if (rp->managed && p->route != MG_RELAY_ROUTE_RELAY) {
				if (rp->direct_tx(rp->mctx, buf, (size_t)len, &p->route_ep) != 0)
					p->dropped++;
				else
					p->to_direct++;
				continue;
			}
			if (!out || mg_relay_client_send(out, p->key, buf, (size_t)len) != 0)
				p->dropped++;
			else
				p->to_relay++;
		}
	}
	/* Round trips (node/relay_rtt.h): a PING when due, flushed with the rest just below. */
	if ((rc = mg_relay_home_client(rp->home)))
		mg_relay_client_rtt_tick(rc);
	for (size_t i = 0; i < MG_RELAY_PATH_MAX_EXTRA; i++)
		if (rp->extras.x[i].rc)
			mg_relay_client_rtt_tick(rp->extras.x[i].rc);
	if ((rc = mg_relay_home_client(rp->home)) && mg_relay_client_pending(rc) > 0 &&
	    mg_relay_client_flush(rc) < 0)
		mg_relay_home_down(rp->home, now, mg_relay_client_error(rc));
	for (size_t i = 0; i < MG_RELAY_PATH_MAX_EXTRA; i++) {
		struct mg_relay_extra *x = &rp->extras.x[i];

		if (x->rc && mg_relay_client_pending(x->rc) > 0 && mg_relay_client_flush(x->rc) < 0)
			mg_relay_extras_down(&rp->extras, i, now);
	}
}

void mg_relay_path_set_managed(struct mg_relay_path *rp, mg_relay_path_disco_fn disco_rx,
                               mg_relay_path_direct_tx_fn direct_tx, void *ctx)
{
	rp->managed = true;
	rp->disco_rx = disco_rx;
	rp->direct_tx = direct_tx;
	rp->mctx = ctx;
}

void mg_relay_path_route(struct mg_relay_path *rp, const uint8_t key[32],
                         enum mg_relay_path_route route, const struct mg_sockaddr *ep)
{
	struct proxy *p = find(rp, key);
	char text[MG_SOCKADDR_STRLEN];

	if (!p || !rp->managed)
		return;
	p->route = route;
	if (route == MG_RELAY_ROUTE_RELAY) {
		to_relay_path(rp, p, "disco: no direct path answers");
		return;
	}
	p->route_ep = *ep;
	mg_sockaddr_format(ep, text, sizeof(text));
	if (route == MG_RELAY_ROUTE_WG) {
		p->relayed = false;
		log_peer(MG_LOG_NOTICE, "peer path: direct to its WireGuard port", p, "endpoint",
		         text);
		rp->fn(rp->ctx, p->key, ep);
		return;
	}
	if (p->fd < 0 && proxy_open(rp, p) != 0)
		return;
	log_peer(MG_LOG_NOTICE, "peer path: direct through the agent's socket", p, "endpoint",
	         text);
	p->relayed = false;
	rp->fn(rp->ctx, p->key,
	       &(struct mg_sockaddr){.family = 4, .addr = {127, 0, 0, 1}, .port = p->port});
}

int mg_relay_path_send(struct mg_relay_path *rp, const uint8_t key[32], const uint8_t *buf,
                       size_t len)
{
	struct proxy *p = find(rp, key);
	struct mg_relay_client *out =
	    p ? mg_relay_extras_use(&rp->extras, p->home_relay, (int64_t)time(NULL)) : NULL;

	if (!out)
		out = mg_relay_home_client(rp->home);

	if (!out || mg_relay_client_send(out, key, buf, len) != 0)
		return -1;
	return 0;
}

bool mg_relay_path_deliver(struct mg_relay_path *rp, const uint8_t key[32], const uint8_t *buf,
                           size_t len)
{
	struct proxy *p = find(rp, key);

	if (!p || p->fd < 0)
		return false;
	if (send(p->fd, buf, len, 0) < 0)
		p->dropped++;
	else
		p->from_direct++;
	return true;
}

bool mg_relay_path_counts(const struct mg_relay_path *rp, const uint8_t key[32],
                          struct mg_relay_path_counts *c)
{
	const struct proxy *p = rp ? find(rp, key) : NULL;

	if (!p)
		return false;
	*c = (struct mg_relay_path_counts){p->to_relay, p->from_relay, p->to_direct, p->from_direct,
	                                   p->dropped};
	return true;
}

const char *mg_relay_path_via(const struct mg_relay_path *rp, const uint8_t key[32])
{
	const struct proxy *p = rp ? find(rp, key) : NULL;
	const struct mg_relay_extra *x;

	if (!p || !p->relayed)
		return NULL;
	x = mg_relay_extras_find(&rp->extras, p->home_relay);
	return x ? x->name : mg_relay_path_home(rp);
}

void mg_relay_path_peer_home(struct mg_relay_path *rp, const uint8_t key[32], const char *home)
{
	struct proxy *p = find(rp, key);

	if (p)
		snprintf(p->home_relay, sizeof(p->home_relay), "%s", home ? home : "");
}

/* Text from a relay's name or an error, inside a JSON string: printable ASCII only, without the
 * characters that would need escaping. */
static void put_json_text(FILE *f, const char *s)
{
	for (const char *c = s; *c; c++)
		if (*c >= 0x20 && *c < 0x7f && *c != '"' && *c != '\\')
			fputc(*c, f);
}

static void rtt_ms(FILE *f, const char *key, int64_t us)
{
	if (us < 0)
		fprintf(f, ",\"%s\":null", key);
	else
		fprintf(f, ",\"%s\":%.3f", key, (double)us / 1000.0);
}

/* One relay connection's round trips, as meshctl netcheck shows the gateway's. */
static void rtt_status(FILE *f, const char *name, bool home, const struct mg_relay_client *rc)
{
	const struct mg_relay_rtt *r = mg_relay_client_rtt(rc);

	fputs("{\"name\":\"", f);
	put_json_text(f, name);
	fprintf(f, "\",\"home\":%s", home ? "true" : "false");
	rtt_ms(f, "rtt_ms", r->last_us);
	rtt_ms(f, "rtt_min_ms", r->min_us);
	rtt_ms(f, "rtt_smoothed_ms", r->smoothed_us);
	fprintf(f, ",\"pings\":%llu,\"pongs\":%llu,\"lost\":%llu}", (unsigned long long)r->pings,
	        (unsigned long long)r->pongs, (unsigned long long)r->lost);
}

void mg_relay_path_status(const struct mg_relay_path *rp, FILE *f)
{
	struct mg_relay_client_stats st = {0};
	struct mg_relay_client *rc = mg_relay_home_client(rp->home);
	const struct mg_netmap_relay *h = mg_relay_home_relay(rp->home);
	struct mg_relay_home_info info;

	mg_relay_home_get_info(rp->home, &info);
	if (rc)
		mg_relay_client_get_stats(rc, &st);

	fprintf(f,
	        "{\"name\":\"%s\",\"region\":\"%s\",\"host\":\"%s\",\"port\":%u,"
	        "\"connected\":%s,\"dialling\":\"%s\",\"candidates\":%zu,\"error\":\"",
	        h ? h->name : "", h ? h->region : "", h ? h->host : "", h ? h->port : 0,
	        rc ? "true" : "false", info.dialling, info.candidates);
	put_json_text(f, info.error);
	fprintf(f,
	        "\",\"connects\":%llu,\"sent\":%llu,\"received\":%llu,\"dropped_queue_full\":%llu,"
	        "\"dropped_unknown_peer\":%llu,\"dropped_disco\":%llu,\"relays\":[",
	        (unsigned long long)info.connects, (unsigned long long)st.sent,
	        (unsigned long long)st.received, (unsigned long long)st.dropped_queue_full,
	        (unsigned long long)rp->to_relay_dropped, (unsigned long long)rp->disco_dropped);
	bool first = true;
	if (rc && h) {
		rtt_status(f, h->name, true, rc);
		first = false;
	}
	for (size_t i = 0; i < MG_RELAY_PATH_MAX_EXTRA; i++) {
		const struct mg_relay_extra *x = &rp->extras.x[i];

		if (!x->rc)
			continue;
		if (!first)
			fputc(',', f);
		rtt_status(f, x->name, false, x->rc);
		first = false;
	}
	fputs("]}", f);
}
