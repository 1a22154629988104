/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The agent's choice of path per peer, with disco (node/disco_path.h): pings from the agent's
 * own socket (nat_probe.h, whose NAT mapping STUN found) to every candidate of the peer, and
 * call-me-maybe through the relay so the peer pings back at the same moment. The choice goes
 * to the relay path's proxy (relay_path.h, managed mode): through the relay; direct through the
 * agent's socket (wireguard-go still talks to the loopback proxy, which now sends to the
 * peer's endpoint from the agent's socket); or, when the endpoint that answered is one the
 * peer's map entry lists as its WireGuard endpoint (a gateway answers disco on its WireGuard
 * port), wireguard-go straight to it. Active when the agent has both a stun: and a relay:
 * section; docs/nat-traversal.md, "The agent's paths".
 */
#ifndef MESHGATE_AGENT_PEER_PATHS_H
#define MESHGATE_AGENT_PEER_PATHS_H

#include <stdint.h>
#include <stdio.h>

#include "disco.h"
#include "disco_sock.h"
#include "nat_probe.h"
#include "netmap_apply.h"
#include "relay_path.h"

struct mg_agent_paths;

/* st, np, disco and rp must outlive the paths; rp is switched to managed mode. */
struct mg_agent_paths *mg_agent_paths_new(const struct mg_netmap_state *st, struct mg_nat_probe *np,
                                          struct mg_agent_disco *disco, struct mg_relay_path *rp);
void mg_agent_paths_free(struct mg_agent_paths *ps);

/* A peer of the map appeared or changed (its candidates), or left it. */
void mg_agent_paths_peer(struct mg_agent_paths *ps, const struct mg_netmap_peer *p);
void mg_agent_paths_peer_gone(struct mg_agent_paths *ps, const uint8_t key[32]);
/* Our own candidates for call-me-maybe: STUN's mapped endpoints and local addresses, with the
 * socket's port. */
void mg_agent_paths_set_self(struct mg_agent_paths *ps, const struct mg_sockaddr *eps, size_t n);

/* A datagram on the agent's socket that is not STUN: disco, or WireGuard of a direct peer. */
void mg_agent_paths_input(struct mg_agent_paths *ps, const uint8_t *buf, size_t len,
                          const struct mg_sockaddr *from);
/* Timers; call at least every 250 ms. */
void mg_agent_paths_tick(struct mg_agent_paths *ps);

/* {"kind":"direct","endpoint":"...","rtt_ms":1.2,...} for a peer, or nothing (returns false). */
bool mg_agent_paths_status(const struct mg_agent_paths *ps, const uint8_t key[32], FILE *f);
/* {"wg_in_unknown":N,"time_to_direct_ms":...} */
void mg_agent_paths_stats(const struct mg_agent_paths *ps, FILE *f);

#endif
