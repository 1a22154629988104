/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The agent's relay path. wireguard-go owns its UDP socket, so a peer without a working direct
 * path gets a loopback UDP proxy: its WireGuard endpoint becomes 127.0.0.1:P, a socket of the
 * agent, and whatever wireguard-go sends there goes to the home relay as a SEND to that peer's
 * key (node/relay_client.h); what the relay delivers from that key comes out of the same socket
 * towards wireguard-go's port, so wireguard-go sees one consistent endpoint. The agent only
 * moves opaque WireGuard messages: handshakes, replay and allowed IPs stay wireguard-go's.
 *
 * A peer goes through the relay when the config says so (relay.force), when the map gives it
 * no endpoint, when no direct handshake completed within relay.direct_timeout seconds of the
 * peer getting its endpoint, or when the relay delivers a packet from it (the peer chose the
 * relay). A peer relayed only for lack of an endpoint tries direct again once it has one.
 *
 * Config (agent.yaml):
 *   relay:
 *     region: fra                  # prefer the map's relays of this region
 *     ca_file: ...                 # trust anchors for the relays' certificates
 *     # or a static relay instead of the map's:
 *     name: fra-1                  # the home relay's name, reported to the coordinator
 *     host: fra-1.relay.example    # address or DNS name; port default 443
 *     port: 443
 *     server_name: fra-1.relay.example   # default: host
 *     ca_file: /etc/meshgate/relay-ca.pem  # default: the system's trust store
 *     direct_timeout: 5            # seconds, 1..300
 *     force: false                 # true: every peer through the relay
 *   status_file: /run/meshgate/agent-mg0.json   # top level; the path of every peer
 */
#ifndef MESHGATE_AGENT_RELAY_PATH_H
#define MESHGATE_AGENT_RELAY_PATH_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "addr.h"
#include "config_yaml.h"
#include "netmap_apply.h"
#include "relay_config.h"
#include "relay_extra.h"

#define MG_RELAY_PATH_MAX_PEERS 1024
/* Connections to relayed peers' home relays besides ours. */
#define MG_RELAY_PATH_MAX_EXTRA MG_RELAY_EXTRA_MAX
/* What mg_relay_path_pollfds may fill. */
#define MG_RELAY_PATH_MAX_POLLFDS (1 + MG_RELAY_PATH_MAX_EXTRA + MG_RELAY_PATH_MAX_PEERS)

struct mg_relay_path;

/* Called when a peer's path changes: the agent points wireguard-go's endpoint at ep. */
typedef void (*mg_relay_path_switch_fn)(void *ctx, const uint8_t key[32],
                                        const struct mg_sockaddr *ep);

struct mg_relay_path *mg_relay_path_new(const struct mg_relay_config *cfg,
                                        const uint8_t private_key[32], mg_relay_path_switch_fn fn,
                                        void *ctx);
void mg_relay_path_free(struct mg_relay_path *rp);

/*
 * The relay map of the latest map that carried one. Ignored with relay.host. The home relay is
 * kept while it stays in the map; otherwise (and after it fails) the next one is picked: the
 * preferred region's relays first, then the lowest measured connect time (TCP + TLS + proof),
 * then the map's order. A relay that failed is skipped for a while.
 */
void mg_relay_path_set_map(struct mg_relay_path *rp, const struct mg_netmap_relay *relays, size_t n,
                           int64_t now);

/* wireguard-go's UDP port (from UAPI), where proxies deliver. */
void mg_relay_path_set_wg_port(struct mg_relay_path *rp, uint16_t port);
/* A peer of the map appeared or changed; endpoint: the map's first one, or NULL. */
void mg_relay_path_peer_seen(struct mg_relay_path *rp, const uint8_t key[32], const char *name,
                             const struct mg_sockaddr *endpoint, int64_t now);
/* The peer's home relay from the map ("" for none): a relayed peer homed on another relay of
 * the map is sent to there directly, on one of at most MG_RELAY_PATH_MAX_EXTRA more
 * connections. */
void mg_relay_path_peer_home(struct mg_relay_path *rp, const uint8_t key[32], const char *home);
void mg_relay_path_peer_gone(struct mg_relay_path *rp, const uint8_t key[32]);
/* When the peer is relayed, its proxy endpoint (127.0.0.1:P) into *ep and true. */
bool mg_relay_path_endpoint(const struct mg_relay_path *rp, const uint8_t key[32],
                            struct mg_sockaddr *ep);
/* What wireguard-go says about a peer (once a second): decides direct vs relay. */
void mg_relay_path_observe(struct mg_relay_path *rp, const uint8_t key[32],
                           uint64_t last_handshake_sec, int64_t now);

/* The descriptors to poll (the relay connection and every proxy); returns how many. */
size_t mg_relay_path_pollfds(struct mg_relay_path *rp, struct pollfd *pfd, size_t max);
/* After poll: moves packets both ways. pfd/n as filled by mg_relay_path_pollfds. */
void mg_relay_path_io(struct mg_relay_path *rp, const struct pollfd *pfd, size_t n);
/* Once a second: starts a connect (on a thread of its own: TCP, TLS and key proof take up to
 * 5 s), to the next relay when the home one failed. Its end is seen through the relay's slot
 * of mg_relay_path_pollfds, and mg_relay_path_io takes the connection over. */
void mg_relay_path_tick(struct mg_relay_path *rp, int64_t now);
/* The relay is connected: the name to report as home relay; NULL while it is not. */
const char *mg_relay_path_home(const struct mg_relay_path *rp);

/*
 * Disco governs the paths (the agent has a stun: section, docs/nat-traversal.md): every peer
 * gets its loopback proxy at once, and the heuristics above (no endpoint, no direct handshake,
 * a packet through the relay) no longer move peers; mg_relay_path_route does. Disco messages
 * the relay delivers go to disco_rx, and what the proxy of a peer routed direct receives from
 * wireguard-go goes to direct_tx (the agent's own socket, whose NAT mapping disco opened).
 */
typedef void (*mg_relay_path_disco_fn)(void *ctx, const uint8_t key[32], const uint8_t *buf,
                                       size_t len);
typedef int (*mg_relay_path_direct_tx_fn)(void *ctx, const uint8_t *buf, size_t len,
                                          const struct mg_sockaddr *to);
void mg_relay_path_set_managed(struct mg_relay_path *rp, mg_relay_path_disco_fn disco_rx,
                               mg_relay_path_direct_tx_fn direct_tx, void *ctx);

enum mg_relay_path_route {
	MG_RELAY_ROUTE_RELAY,  /* the proxy sends through the relay */
	MG_RELAY_ROUTE_SOCKET, /* the proxy sends to ep from the agent's socket (direct_tx) */
	MG_RELAY_ROUTE_WG, /* wireguard-go sends to ep itself: ep is the peer's WireGuard port */
};
/* Managed mode: how a peer's packets go. wireguard-go is pointed at the proxy, or at ep. */
void mg_relay_path_route(struct mg_relay_path *rp, const uint8_t key[32],
                         enum mg_relay_path_route route, const struct mg_sockaddr *ep);
/* A message to the peer through the relay (a disco ping or call-me-maybe). 0 or -1. */
int mg_relay_path_send(struct mg_relay_path *rp, const uint8_t key[32], const uint8_t *buf,
                       size_t len);
/* A WireGuard message from the peer that the agent's socket received: to wireguard-go through
 * the peer's proxy (wireguard-go then sees the proxy as its endpoint). false without one. */
bool mg_relay_path_deliver(struct mg_relay_path *rp, const uint8_t key[32], const uint8_t *buf,
                           size_t len);
/* Packets a peer's proxy moved: through the relay, and direct through the agent's socket. */
struct mg_relay_path_counts {
	uint64_t to_relay, from_relay, to_direct, from_direct, dropped;
};
bool mg_relay_path_counts(const struct mg_relay_path *rp, const uint8_t key[32],
                          struct mg_relay_path_counts *c);

/* Writes {"relay":{...},"peers":{"<key>":{...}}} for the status file. */
void mg_relay_path_status(const struct mg_relay_path *rp, FILE *f);
/* The relay a relayed peer's packets go to (its home relay's connection, or ours); NULL while
 * none is connected or the peer is direct. */
const char *mg_relay_path_via(const struct mg_relay_path *rp, const uint8_t key[32]);
/* One peer's path for the status file: "direct" or "relay". */
const char *mg_relay_path_of(const struct mg_relay_path *rp, const uint8_t key[32]);

#endif
