// SPDX-License-Identifier: GPL-2.0-only
/* Disco path selection wired to the agent's socket, the relay and the proxies (peer_paths.h). */
#include "peer_paths.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "disco_path.h"
#include "keys.h"
#include "log.h"

struct entry {
	uint8_t key[32];
	struct mg_disco_path dp;
	/* The peer's WireGuard endpoints from the map: a pong from one of them means its
	 * WireGuard port answers disco itself. */
	struct mg_sockaddr wg_eps[MG_NETMAP_MAX_ENDPOINTS];
	size_t n_wg;
	enum mg_relay_path_route route;
	uint64_t added_us, first_direct_us; /* time to direct, for the status file */
};

struct mg_agent_paths {
	const struct mg_netmap_state *st;
	struct mg_nat_probe *np;
	struct mg_agent_disco *disco;
	struct mg_relay_path *rp;
	struct mg_disco_path_params params;
	struct mg_disco_path_ops ops;
	struct entry **e;
	size_t n, cap;
	struct mg_sockaddr self[MG_DISCO_MAX_EPS];
	size_t n_self;
	uint64_t wg_unknown, not_ours, send_failed;
};

static uint64_t mono_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static uint64_t unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct entry *find(const struct mg_agent_paths *ps, const uint8_t key[32])
{
	for (size_t i = 0; i < ps->n; i++)
		if (memcmp(ps->e[i]->key, key, 32) == 0)
			return ps->e[i];
	return NULL;
}

static void seal_and_send(struct mg_agent_paths *ps, struct entry *en, struct mg_disco_msg *m,
                          const struct mg_sockaddr *ep)
{
	uint8_t out[MG_DISCO_MAX_LEN];
	size_t n = mg_agent_disco_seal(ps->disco, ps->st, en->key, m, unix_ms(), out, sizeof(out));
	int rc;

	if (n == 0) {
		ps->send_failed++;
		return;
	}
	rc = ep ? mg_nat_probe_sendto(ps->np, out, n, ep)
	        : mg_relay_path_send(ps->rp, en->key, out, n);
	ps->send_failed += rc != 0;
}

static void op_ping(void *ctx, void *peer, const struct mg_sockaddr *ep,
                    const uint8_t txid[MG_DISCO_TXID_LEN])
{
	struct mg_disco_msg m = {.type = MG_DISCO_PING};

	memcpy(m.txid, txid, MG_DISCO_TXID_LEN);
	seal_and_send(ctx, peer, &m, ep);
}

static void op_cmm(void *ctx, void *peer)
{
	struct mg_agent_paths *ps = ctx;
	struct mg_disco_msg m = {.type = MG_DISCO_CALL_ME_MAYBE};

	mg_disco_new_txid(m.txid);
	m.n_eps = (unsigned)ps->n_self;
	memcpy(m.eps, ps->self, ps->n_self * sizeof(m.eps[0]));
	seal_and_send(ps, peer, &m, NULL);
}

static bool is_wg_ep(const struct entry *en, const struct mg_sockaddr *ep)
{
	for (size_t i = 0; i < en->n_wg; i++)
		if (en->wg_eps[i].family == ep->family && en->wg_eps[i].port == ep->port &&
		    mg_addr_eq(ep->family, en->wg_eps[i].addr, ep->addr))
			return true;
	return false;
}

static void op_use(void *ctx, void *peer, const struct mg_disco_path_choice *c)
{
	struct mg_agent_paths *ps = ctx;
	struct entry *en = peer;

	if (c->kind == MG_DISCO_PATH_RELAY) {
		en->route = MG_RELAY_ROUTE_RELAY;
		mg_relay_path_route(ps->rp, en->key, en->route, NULL);
		return;
	}
	if (en->first_direct_us == 0)
		en->first_direct_us = mono_us();
	en->route = is_wg_ep(en, &c->ep) ? MG_RELAY_ROUTE_WG : MG_RELAY_ROUTE_SOCKET;
	mg_relay_path_route(ps->rp, en->key, en->route, &c->ep);
}

/* Authentic disco from a peer of the map (disco_sock.c opened it). */
static void on_msg(void *ctx, const uint8_t key[32], const struct mg_disco_msg *m,
                   const struct mg_sockaddr *from)
{
	struct mg_agent_paths *ps = ctx;
	struct entry *en = find(ps, key);
	uint64_t now = mono_us();

	if (!en)
		return;
	switch (m->type) {
	case MG_DISCO_PING:
		mg_disco_path_on_ping(&en->dp, from, now);
		break;
	case MG_DISCO_PONG:
		mg_disco_path_on_pong(&en->dp, m->txid, from, now);
		break;
	case MG_DISCO_CALL_ME_MAYBE:
		mg_disco_path_on_call_me_maybe(&en->dp, m->eps, m->n_eps, now);
		break;
	}
}

static void relay_disco(void *ctx, const uint8_t key[32], const uint8_t *buf, size_t len)
{
	struct mg_agent_paths *ps = ctx;

	mg_agent_disco_input(ps->disco, ps->st, ps->np, buf, len, NULL, key, unix_ms());
}

static int relay_tx(void *ctx, const uint8_t key[32], const uint8_t *buf, size_t len)
{
	struct mg_agent_paths *ps = ctx;

	return mg_relay_path_send(ps->rp, key, buf, len);
}

static int direct_tx(void *ctx, const uint8_t *buf, size_t len, const struct mg_sockaddr *to)
{
	struct mg_agent_paths *ps = ctx;

	return mg_nat_probe_sendto(ps->np, buf, len, to);
}

struct mg_agent_paths *mg_agent_paths_new(const struct mg_netmap_state *st, struct mg_nat_probe *np,
                                          struct mg_agent_disco *disco, struct mg_relay_path *rp)
{
	struct mg_agent_paths *ps = calloc(1, sizeof(*ps));

	if (!ps)
		return NULL;
	ps->st = st;
	ps->np = np;
	ps->disco = disco;
	ps->rp = rp;
	mg_disco_path_params_default(&ps->params);
	ps->ops = (struct mg_disco_path_ops){
	    .send_ping = op_ping, .send_call_me_maybe = op_cmm, .use_path = op_use, .ctx = ps};
	mg_agent_disco_set_handler(disco, on_msg, ps);
	mg_agent_disco_set_relay_tx(disco, relay_tx, ps);
	mg_relay_path_set_managed(rp, relay_disco, direct_tx, ps);
	return ps;
}

void mg_agent_paths_free(struct mg_agent_paths *ps)
{
	if (!ps)
		return;
	for (size_t i = 0; i < ps->n; i++)
		free(ps->e[i]);
	free(ps->e);
	free(ps);
}

void mg_agent_paths_peer(struct mg_agent_paths *ps, const struct mg_netmap_peer *p)
{
	struct mg_sockaddr cands[MG_NETMAP_MAX_ENDPOINTS + MG_NETMAP_MAX_STUN_ENDPOINTS];
	struct entry *en = find(ps, p->public_key);
	size_t n = 0;

	if (!en) {
		if (ps->n == ps->cap) {
			size_t cap = ps->cap ? 2 * ps->cap : 16;
			struct entry **grown = realloc(ps->e, cap * sizeof(*grown));

			if (!grown)
				return;
			ps->e = grown;
			ps->cap = cap;
		}
		if (!(en = calloc(1, sizeof(*en))))
			return;
		memcpy(en->key, p->public_key, 32);
		en->added_us = mono_us();
		mg_disco_path_init(&en->dp, &ps->ops, &ps->params, en, en->added_us);
		ps->e[ps->n++] = en;
	}
	en->n_wg = p->n_endpoints;
	memcpy(en->wg_eps, p->endpoints, p->n_endpoints * sizeof(p->endpoints[0]));
	for (size_t i = 0; i < p->n_endpoints; i++)
		cands[n++] = p->endpoints[i];
	for (size_t i = 0; i < p->n_stun_endpoints; i++)
		cands[n++] = p->stun_endpoints[i];
	mg_disco_path_set_map(&en->dp, cands, (unsigned)n, mono_us());
}

void mg_agent_paths_peer_gone(struct mg_agent_paths *ps, const uint8_t key[32])
{
	for (size_t i = 0; i < ps->n; i++) {
		if (memcmp(ps->e[i]->key, key, 32) != 0)
			continue;
		free(ps->e[i]);
		ps->e[i] = ps->e[--ps->n];
		return;
	}
}

void mg_agent_paths_set_self(struct mg_agent_paths *ps, const struct mg_sockaddr *eps, size_t n)
{
	ps->n_self = 0;
	for (size_t i = 0; i < n && ps->n_self < MG_DISCO_MAX_EPS; i++)
		if (eps[i].family == 4 || eps[i].family == 6)
			ps->self[ps->n_self++] = eps[i];
}

/* WireGuard's first bytes: type 1..4, then three zero bytes. */
static bool is_wireguard(const uint8_t *b, size_t len)
{
	return len >= 32 && b[0] >= 1 && b[0] <= 4 && b[1] == 0 && b[2] == 0 && b[3] == 0;
}

static bool ep_eq(const struct mg_sockaddr *a, const struct mg_sockaddr *b)
{
	return a->family == b->family && a->port == b->port &&
	       mg_addr_eq(a->family, a->addr, b->addr);
}

/*
 * The peer a WireGuard packet from `from` belongs to: the one whose direct path is there, else
 * one with it among its candidates (the peer went direct a moment before we did). The right peer
 * matters: wireguard-go would move the endpoint of the peer the packet authenticates as to the
 * proxy it came through.
 */
static struct entry *wg_sender(const struct mg_agent_paths *ps, const struct mg_sockaddr *from)
{
	for (size_t i = 0; i < ps->n; i++) {
		const struct mg_disco_path_choice *c = mg_disco_path_current(&ps->e[i]->dp);

		if (c->kind == MG_DISCO_PATH_DIRECT && ep_eq(&c->ep, from))
			return ps->e[i];
	}
	for (size_t i = 0; i < ps->n; i++)
		for (unsigned k = 0; k < ps->e[i]->dp.n_cands; k++)
			if (ep_eq(&ps->e[i]->dp.cands[k].ep, from))
				return ps->e[i];
	return NULL;
}

void mg_agent_paths_input(struct mg_agent_paths *ps, const uint8_t *buf, size_t len,
                          const struct mg_sockaddr *from)
{
	struct entry *en;

	if (mg_disco_is_disco(buf, len))
		mg_agent_disco_input(ps->disco, ps->st, ps->np, buf, len, from, NULL, unix_ms());
	else if (!is_wireguard(buf, len))
		ps->not_ours++;
	else if (!(en = wg_sender(ps, from)) || !mg_relay_path_deliver(ps->rp, en->key, buf, len))
		ps->wg_unknown++;
}

void mg_agent_paths_tick(struct mg_agent_paths *ps)
{
	uint64_t now = mono_us();

	for (size_t i = 0; i < ps->n; i++)
		if (mg_disco_path_next_us(&ps->e[i]->dp) <= now)
			mg_disco_path_tick(&ps->e[i]->dp, now);
}

bool mg_agent_paths_status(const struct mg_agent_paths *ps, const uint8_t key[32], FILE *f)
{
	const struct entry *en = ps ? find(ps, key) : NULL;
	const struct mg_disco_path_choice *c;
	struct mg_relay_path_counts pc = {0};
	char ep[MG_SOCKADDR_STRLEN];

	if (!en)
		return false;
	c = mg_disco_path_current(&en->dp);
	mg_relay_path_counts(ps->rp, key, &pc);
	if (c->kind == MG_DISCO_PATH_DIRECT) {
		mg_sockaddr_format(&c->ep, ep, sizeof(ep));
		fprintf(f,
		        "{\"kind\":\"direct\",\"via\":\"%s\",\"endpoint\":\"%s\",\"rtt_ms\":%.3f",
		        en->route == MG_RELAY_ROUTE_WG ? "wireguard" : "socket", ep,
		        (double)c->rtt_us / 1000.0);
	} else {
		fputs("{\"kind\":\"relay\"", f);
		if (c->rtt_us)
			fprintf(f, ",\"rtt_ms\":%.3f", (double)c->rtt_us / 1000.0);
	}
	fprintf(f, ",\"candidates\":%u", en->dp.n_cands);
	if (en->first_direct_us)
		fprintf(f, ",\"time_to_direct_ms\":%llu",
		        (unsigned long long)(en->first_direct_us - en->added_us) / 1000);
	fprintf(f,
	        ",\"pings\":%llu,\"pongs\":%llu,\"call_me_maybe\":%llu,\"to_direct\":%llu,"
	        "\"to_relay\":%llu,\"packets\":{\"to_relay\":%llu,\"from_relay\":%llu,"
	        "\"to_direct\":%llu,\"from_direct\":%llu,\"dropped\":%llu}}",
	        (unsigned long long)en->dp.stats.pings_sent,
	        (unsigned long long)en->dp.stats.pongs_matched,
	        (unsigned long long)en->dp.stats.cmm_sent,
	        (unsigned long long)en->dp.stats.to_direct,
	        (unsigned long long)en->dp.stats.to_relay, (unsigned long long)pc.to_relay,
	        (unsigned long long)pc.from_relay, (unsigned long long)pc.to_direct,
	        (unsigned long long)pc.from_direct, (unsigned long long)pc.dropped);
	return true;
}

void mg_agent_paths_stats(const struct mg_agent_paths *ps, FILE *f)
{
	fprintf(f, "{\"wg_from_unknown\":%llu,\"not_ours\":%llu,\"send_failed\":%llu}",
	        (unsigned long long)ps->wg_unknown, (unsigned long long)ps->not_ours,
	        (unsigned long long)ps->send_failed);
}
