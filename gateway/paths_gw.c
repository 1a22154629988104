// SPDX-License-Identifier: GPL-2.0-only
/*
 * The gateway's own path choice per coordinated peer (node/disco_path.h): candidates are the
 * peer's map endpoints and STUN endpoints, pings leave from the WireGuard port, and the best
 * direct path that answered becomes the peer's WireGuard endpoint, so its traffic stays in the
 * workers. With a relay, each round the path choice starts while no direct candidate answers
 * also pings the peer through the relay (its round trip) and sends call-me-maybe there, listing
 * our STUN and own endpoints: the peer pings them at once, which is what opens a port-restricted
 * NAT in front of us to its pings. A peer that never had a direct path keeps its endpoint and
 * relay_gw.c's fallback (direct_timeout) decides about the relay as before. A direct path that
 * stops answering (no pong for the trust time) moves a peer that runs disco to the relay at
 * once: WireGuard alone would notice only after 15 s of silence, and relay_gw.c's rule another
 * direct_timeout later. A relayed peer moves back to direct on the first pong; a peer with a
 * session that moves to a new direct path, or back to direct, gets a handshake at once, in case
 * it restarted behind its old path and lost that session.
 */
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "device.h"
#include "handshake.h"
#include "keys.h"
#include "log.h"
#include "nat_gw.h"
#include "relay_gw.h"

struct mg_gw_path {
	uint8_t pk[32];
	uint32_t slot;
	/* The peer reports STUN endpoints, so it runs disco: only then does disco go to it through
	 * the relay (a node without stun: would only drop it, at the relay's cost). */
	bool speaks_disco;
	bool direct;       /* the last path announced was direct */
	bool lost;         /* and before that, a direct path died */
	uint64_t map_hash; /* of the candidates last given to set_map */
	struct mg_disco_path p;
};

#define SYNC_NS (500ull * 1000 * 1000)

static uint64_t now_us(uint64_t now_ns)
{
	return now_ns / 1000;
}

static struct mg_peer *path_peer(struct mg_control *ctl, const struct mg_gw_path *gp)
{
	struct mg_peer *peer = mg_gateway_peer(&ctl->gw, gp->slot);
	return peer && memcmp(peer->remote.remote_static, gp->pk, 32) == 0 ? peer : NULL;
}

static void send_ping(void *ctx, void *cookie, const struct mg_sockaddr *ep,
                      const uint8_t txid[MG_DISCO_TXID_LEN])
{
	struct mg_control *ctl = ctx;
	struct mg_gw_path *gp = cookie;
	struct mg_peer *peer = path_peer(ctl, gp);
	if (!peer || (!ep && !gp->speaks_disco))
		return;
	struct mg_disco_msg m = {.type = MG_DISCO_PING};
	memcpy(m.txid, txid, MG_DISCO_TXID_LEN);
	if (mg_disco_gw_send(ctl, peer, &m, ep, mg_control_now(ctl)) != 0)
		return;
	if (ep)
		ctl->nat->disco.pings_sent++;
	else
		ctl->nat->disco.relay_pings_sent++;
}

/* Our candidates for the peer to ping: where STUN saw us first (what a NAT in front of us
 * maps), then the endpoints we report ourselves. */
static void send_call_me_maybe(void *ctx, void *cookie)
{
	struct mg_control *ctl = ctx;
	struct mg_gw_path *gp = cookie;
	struct mg_peer *peer = path_peer(ctl, gp);
	const struct mg_stun_gw_result *r = &ctl->nat->last;
	struct mg_sockaddr own[MG_MAX_REPORTED_ENDPOINTS];
	struct mg_disco_msg m = {.type = MG_DISCO_CALL_ME_MAYBE};
	if (!peer || !gp->speaks_disco)
		return;
	mg_disco_new_txid(m.txid);
	for (size_t i = 0; r->valid && i < r->n_mapped && m.n_eps < MG_DISCO_MAX_EPS; i++)
		m.eps[m.n_eps++] = r->mapped[i];
	size_t n = mg_control_self_endpoints(&ctl->cfg, own);
	for (size_t i = 0; i < n && m.n_eps < MG_DISCO_MAX_EPS; i++)
		m.eps[m.n_eps++] = own[i];
	if (mg_disco_gw_send(ctl, peer, &m, NULL, mg_control_now(ctl)) == 0)
		ctl->nat->disco.call_me_maybe_sent++;
}

static void use_path(void *ctx, void *cookie, const struct mg_disco_path_choice *c)
{
	struct mg_control *ctl = ctx;
	struct mg_gw_path *gp = cookie;
	struct mg_peer *peer = path_peer(ctl, gp);
	char key[WG_KEY_B64_SIZE], ep[MG_SOCKADDR_STRLEN] = "relay";
	const char *hs = NULL;
	if (!peer)
		return;
	if (c->kind == MG_DISCO_PATH_DIRECT) {
		mg_device_set_endpoint(ctl, peer, &c->ep);
		mg_sockaddr_format(&c->ep, ep, sizeof(ep));
		ctl->nat->disco.paths_direct++;
		uint64_t now = mg_control_now(ctl);
		/* Packets waiting for a handshake go at once, not at the next retransmit to the
		 * endpoint that did not answer. Without any, the first packet starts one. */
		if (peer->n_staged && !mg_hs_has_usable_keypair(peer, now))
			mg_hs_send_initiation(ctl, peer, now);
		/* A new direct path after another one, or after losing one: the peer behind it may
		 * have restarted and lost our session, and would answer our old keys with silence;
		 * WireGuard would start a new handshake only after 15 s of it. One handshake now
		 * costs a round trip (spaced by REKEY_TIMEOUT like any other). */
		else if ((gp->direct || gp->lost) && mg_hs_has_usable_keypair(peer, now) &&
		         wg_timers_may_send_initiation(&peer->timers, now, false)) {
			mg_hs_send_initiation(ctl, peer, now);
			hs = "new";
		}
		gp->lost = false;
	}
	wg_key_to_base64(key, gp->pk);
	mg_log(MG_LOG_INFO, "disco path", "peer", key, "path", ep, hs ? "handshake" : NULL, hs,
	       NULL);
	if (c->kind == MG_DISCO_PATH_RELAY && gp->direct) {
		gp->lost = true;
		ctl->nat->disco.paths_lost++;
		/* Silence from a node that answers no disco says nothing about its path: such
		 * peers keep the handshake-timeout rule. */
		if (gp->speaks_disco &&
		    mg_relay_gw_relay_peer(ctl, peer, "disco_dead", mg_control_now(ctl)))
			ctl->nat->disco.paths_relayed++;
	}
	gp->direct = c->kind == MG_DISCO_PATH_DIRECT;
}

struct mg_disco_path *mg_paths_gw_find(struct mg_control *ctl, uint32_t slot, const uint8_t *pk)
{
	struct mg_nat_gw *ng = ctl->nat;
	if (!ng->paths || slot >= ng->n_win || !ng->paths[slot] ||
	    memcmp(ng->paths[slot]->pk, pk, 32) != 0)
		return NULL;
	return &ng->paths[slot]->p;
}

void mg_paths_gw_pong(struct mg_control *ctl, struct mg_disco_path *path,
                      const uint8_t txid[MG_DISCO_TXID_LEN], const struct mg_sockaddr *src,
                      uint64_t now_us)
{
	uint64_t matched = path->stats.pongs_matched;
	mg_disco_path_on_pong(path, txid, src, now_us);
	if (!src && path->stats.pongs_matched != matched) {
		ctl->nat->relay_rtt_us = path->relay_rtt_us;
		ctl->nat->relay_rtt_at_ns = now_us * 1000;
	}
}

static uint64_t cands_hash(const struct mg_netmap_peer *np)
{
	uint64_t h = 1469598103934665603ull;
	const uint8_t *b[2] = {(const uint8_t *)np->endpoints, (const uint8_t *)np->stun_endpoints};
	size_t len[2] = {np->n_endpoints * sizeof(np->endpoints[0]),
	                 np->n_stun_endpoints * sizeof(np->stun_endpoints[0])};
	for (unsigned k = 0; k < 2; k++) {
		for (size_t i = 0; i < len[k]; i++)
			h = (h ^ b[k][i]) * 1099511628211ull;
		h = (h ^ 0xff) * 1099511628211ull;
	}
	return h;
}

/* One map peer: its path (made on first sight, remade when the slot changed hands) gets the
 * candidates when they changed. */
static void sync_peer(struct mg_control *ctl, const struct mg_netmap_peer *np, uint64_t now_ns)
{
	struct mg_nat_gw *ng = ctl->nat;
	struct mg_peer *peer = mg_device_find(ctl, np->public_key);
	if (!peer || peer->slot >= ng->n_win)
		return;
	struct mg_gw_path *gp = ng->paths[peer->slot];
	if (gp && memcmp(gp->pk, np->public_key, 32) != 0) {
		free(gp);
		gp = ng->paths[peer->slot] = NULL;
	}
	if (!gp) {
		if (!(gp = calloc(1, sizeof(*gp)))) {
			ng->disco.no_memory++;
			return;
		}
		memcpy(gp->pk, np->public_key, 32);
		gp->slot = peer->slot;
		mg_disco_path_init(&gp->p, &ng->path_ops, &ng->path_params, gp, now_us(now_ns));
		ng->paths[peer->slot] = gp;
	}
	gp->speaks_disco = np->n_stun_endpoints > 0;
	uint64_t h = cands_hash(np);
	if (h == gp->map_hash)
		return;
	struct mg_sockaddr eps[MG_NETMAP_MAX_ENDPOINTS + MG_NETMAP_MAX_STUN_ENDPOINTS];
	unsigned n = 0;
	for (size_t i = 0; i < np->n_endpoints; i++)
		eps[n++] = np->endpoints[i];
	for (size_t i = 0; i < np->n_stun_endpoints; i++)
		eps[n++] = np->stun_endpoints[i];
	mg_disco_path_set_map(&gp->p, eps, n, now_us(now_ns));
	gp->map_hash = h;
}

unsigned mg_paths_gw_poll(struct mg_control *ctl, uint64_t now_ns)
{
	struct mg_nat_gw *ng = ctl->nat;
	/* Map peers only: configured peers keep the endpoint their config gives. */
	if (!ng->paths && ctl->netmap.n_peers == 0)
		return 0;
	if (!ng->paths) {
		if (!(ng->paths = calloc(ng->n_win, sizeof(*ng->paths))))
			return 0;
		mg_disco_path_params_default(&ng->path_params);
		/* Without a relay the path choice only pings candidates directly. */
		ng->path_params.ping_relay = ctl->relay != NULL;
		ng->path_ops = (struct mg_disco_path_ops){
		    .send_ping = send_ping,
		    .send_call_me_maybe = ctl->relay ? send_call_me_maybe : NULL,
		    .use_path = use_path,
		    .ctx = ctl};
	}
	if (now_ns - ng->last_path_sync_ns >= SYNC_NS) {
		ng->last_path_sync_ns = now_ns;
		for (size_t i = 0; i < ctl->netmap.n_peers; i++)
			sync_peer(ctl, &ctl->netmap.peers[i], now_ns);
		/* Paths of peers that left: their slot is free or holds another key. */
		for (uint32_t s = 0; s < ng->n_win; s++)
			if (ng->paths[s] && !path_peer(ctl, ng->paths[s])) {
				free(ng->paths[s]);
				ng->paths[s] = NULL;
			}
	}
	unsigned work = 0;
	uint64_t us = now_us(now_ns);
	for (uint32_t s = 0; s < ctl->slot_high && s < ng->n_win; s++) {
		struct mg_gw_path *gp = ng->paths[s];
		if (gp && mg_disco_path_next_us(&gp->p) <= us) {
			mg_disco_path_tick(&gp->p, us);
			work++;
		}
	}
	return work;
}

void mg_paths_gw_fini(struct mg_nat_gw *ng)
{
	if (!ng->paths)
		return;
	for (uint32_t s = 0; s < ng->n_win; s++)
		free(ng->paths[s]);
	free(ng->paths);
	ng->paths = NULL;
}
