// SPDX-License-Identifier: GPL-2.0-only
/*
 * The gateway's disco responder on its WireGuard port: a ping from one of its peers, sealed to
 * the gateway's node key, gets a pong carrying the ping's source as seen here, so a peer can
 * confirm a direct path to this port (and learn its own public endpoint on the way). The rules
 * are the agent's (agent/disco_sock.c): the sender key must be a peer's before any crypto and
 * before any state is made for it; mg_disco_open checks the box, the replay window and the
 * clock; nothing is ever sent for a refused message, and every refusal is counted.
 *
 * Disco also arrives through the relay (relay_gw.c hands over frames with the magic): the key the
 * relay vouches for must be the one inside, and a ping that came that way is answered that way,
 * with a placeholder for the source the relay hides.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"
#include "device.h"
#include "nat_gw.h"
#include "relay_gw.h"
#include "wgport.h"

/* The node key is the gateway's WireGuard key, which the UAPI may change at any time. */
static bool self_current(struct mg_control *ctl, struct mg_nat_gw *ng)
{
	const struct wg_noise_local *l = &ctl->gw.local;
	if (!l->has_identity)
		return false;
	if (ng->self_ok && ng->self_generation == l->key_generation)
		return true;
	struct mg_disco_stats keep = ng->self.stats;
	mg_disco_node_clear(&ng->self);
	ng->self_ok = mg_disco_node_init(&ng->self, l->static_private) == 0;
	ng->self.stats = keep;
	ng->self.max_skew_ms = MG_DISCO_DEFAULT_SKEW_MS;
	ng->self_generation = l->key_generation;
	/* Every shared key was made with the old private key. */
	for (uint32_t i = 0; i < ng->n_win; i++) {
		if (ng->win[i])
			mg_disco_peer_clear(ng->win[i]);
		free(ng->win[i]);
		ng->win[i] = NULL;
	}
	return ng->self_ok;
}

/* The peer's window, made on its first message; remade when its slot changed hands. */
static struct mg_disco_peer *window(struct mg_nat_gw *ng, uint32_t slot, const uint8_t *pk)
{
	if (slot >= ng->n_win)
		return NULL;
	struct mg_disco_peer *p = ng->win[slot];
	if (p && memcmp(p->pk, pk, 32) == 0)
		return p;
	if (!p && !(p = malloc(sizeof(*p))))
		return NULL;
	ng->win[slot] = p;
	if (mg_disco_peer_init(p, &ng->self, pk) != 0) {
		free(p);
		ng->win[slot] = NULL;
		return NULL;
	}
	return p;
}

/* Seals m to the peer in slot and sends it to dst from the WireGuard port, or through the relay
 * when dst is NULL. 0 when sent (or waiting for ARP/ND), else counted in send_failed. */
static int seal_send(struct mg_control *ctl, struct mg_disco_peer *p, uint32_t slot,
                     struct mg_disco_msg *m, const struct mg_sockaddr *dst, uint64_t now_ns)
{
	struct mg_nat_gw *ng = ctl->nat;
	uint8_t out[MG_DISCO_MAX_LEN];
	size_t n = mg_disco_seal(&ng->self, p, m, mg_wall_ns() / 1000000, out, sizeof(out));
	int rc = !n    ? -1
	         : dst ? mg_nat_gw_send(ctl, dst, out, n, now_ns)
	               : mg_relay_gw_send_slot(ctl, slot, out, n);
	if (rc != 0 && rc != -EAGAIN) {
		ng->disco.send_failed++;
		return -1;
	}
	return 0;
}

/*
 * One disco message from src on the WireGuard port, or through the relay when src is NULL (then
 * relay_key is the sender the relay vouches for). The checks before any crypto come in the
 * agent's order (disco_sock.c): a peer's key, then the relay's word for it.
 */
static void disco_input(struct mg_control *ctl, const uint8_t *buf, size_t len,
                        const struct mg_sockaddr *src, const uint8_t *relay_key, uint64_t now_ns)
{
	struct mg_nat_gw *ng = ctl->nat;
	struct mg_disco_msg m;

	const uint8_t *sender = mg_disco_sender(buf, len);
	struct mg_peer *peer = sender ? mg_device_find(ctl, sender) : NULL;
	if (!peer) {
		/* Too short to name a sender counts here too: no key, no peer. */
		ng->disco.unknown_sender++;
		return;
	}
	/* Someone replaying another node's message through their own relay connection. */
	if (!src && memcmp(relay_key, sender, 32) != 0) {
		ng->disco.relay_mismatch++;
		return;
	}
	if (!self_current(ctl, ng)) {
		ng->disco.no_memory++;
		return;
	}
	struct mg_disco_peer *p = window(ng, peer->slot, sender);
	if (!p) {
		ng->disco.no_memory++;
		return;
	}
	if (mg_disco_open(&ng->self, p, buf, len, mg_wall_ns() / 1000000, &m) != MG_DISCO_OK)
		return; /* counted by reason in ng->self.stats */
	struct mg_disco_path *path = mg_paths_gw_find(ctl, peer->slot, sender);
	uint64_t now_us = now_ns / 1000;
	switch (m.type) {
	case MG_DISCO_PING:
		ng->disco.pings++;
		break;
	case MG_DISCO_PONG:
		ng->disco.pongs_received++;
		if (path)
			mg_paths_gw_pong(ctl, path, m.txid, src, now_us);
		return;
	case MG_DISCO_CALL_ME_MAYBE:
		ng->disco.call_me_maybe++;
		if (path)
			mg_disco_path_on_call_me_maybe(path, m.eps, m.n_eps, now_us);
		return;
	}
	struct mg_disco_msg pong = {.type = MG_DISCO_PONG};
	memcpy(pong.txid, m.txid, sizeof(pong.txid));
	if (src)
		pong.src = *src;
	else
		mg_sockaddr_parse(MG_DISCO_RELAY_SRC, &pong.src);
	if (seal_send(ctl, p, peer->slot, &pong, src, now_ns) == 0) {
		ng->disco.pongs_sent++;
		ng->disco.relay_pongs_sent += !src;
	}
	/* After the pong: the path may ping the source back (a new candidate), which the pinger
	 * must not take for its answer. */
	if (path)
		mg_disco_path_on_ping(path, src, now_us);
}

void mg_disco_gw_input(struct mg_control *ctl, const struct mg_wgport_item *it, const uint8_t *buf,
                       size_t len, uint64_t now_ns)
{
	ctl->nat->disco.received++;
	disco_input(ctl, buf, len, &it->src, NULL, now_ns);
}

void mg_disco_gw_relay_input(struct mg_control *ctl, const uint8_t key[32], const uint8_t *buf,
                             size_t len, uint64_t now_ns)
{
	ctl->nat->disco.received++;
	ctl->nat->disco.relay_received++;
	disco_input(ctl, buf, len, NULL, key, now_ns);
}

int mg_disco_gw_send(struct mg_control *ctl, struct mg_peer *peer, struct mg_disco_msg *m,
                     const struct mg_sockaddr *dst, uint64_t now_ns)
{
	struct mg_nat_gw *ng = ctl->nat;
	struct mg_disco_peer *p;
	if (!self_current(ctl, ng) || !(p = window(ng, peer->slot, peer->remote.remote_static))) {
		ng->disco.no_memory++;
		return -1;
	}
	return seal_send(ctl, p, peer->slot, m, dst, now_ns);
}

void mg_disco_gw_fini(struct mg_nat_gw *ng)
{
	for (uint32_t i = 0; i < ng->n_win; i++) {
		if (ng->win[i])
			mg_disco_peer_clear(ng->win[i]);
		free(ng->win[i]);
	}
	free(ng->win);
	ng->win = NULL;
	ng->n_win = 0;
	mg_disco_node_clear(&ng->self);
}
