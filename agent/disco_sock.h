/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Disco on the agent's own socket (the one nat_probe.h runs STUN from): a ping from a peer of
 * the map gets a pong back to where it came from, carrying that source as seen, so the peer
 * learns a path that works and its round trip (docs/nat-traversal.md). Messages from keys
 * outside the map, forged, replayed or stale ones are dropped and counted; nothing is sent for
 * them. The replay window of each peer lives here, made on the peer's first message and
 * dropped when the peer leaves the map.
 */
#ifndef MESHGATE_AGENT_DISCO_SOCK_H
#define MESHGATE_AGENT_DISCO_SOCK_H

#include <stdint.h>
#include <stdio.h>

#include "disco.h"
#include "nat_probe.h"
#include "netmap_apply.h"

struct mg_agent_disco;

struct mg_agent_disco *mg_agent_disco_new(const uint8_t private_key[32]);
void mg_agent_disco_free(struct mg_agent_disco *d);
/*
 * One datagram that starts with the disco magic (or not: counted as not_disco), from `from` on
 * the agent's socket, or through the relay when from is NULL (then relay_key is the sender the
 * relay vouches for, which must be the key inside). A ping through the relay is not answered:
 * a pong carries the path's source, which the relay hides.
 */
void mg_agent_disco_input(struct mg_agent_disco *d, const struct mg_netmap_state *st,
                          struct mg_nat_probe *np, const uint8_t *buf, size_t len,
                          const struct mg_sockaddr *from, const uint8_t *relay_key,
                          uint64_t now_unix_ms);
#define MG_AGENT_DISCO_RELAY_SRC MG_DISCO_RELAY_SRC
typedef int (*mg_agent_disco_relay_tx_fn)(void *ctx, const uint8_t key[32], const uint8_t *buf,
                                          size_t len);
void mg_agent_disco_set_relay_tx(struct mg_agent_disco *d, mg_agent_disco_relay_tx_fn fn,
                                 void *ctx);
/* Every authentic message, after the pong (peer_paths.c). from NULL: through the relay. */
typedef void (*mg_agent_disco_msg_fn)(void *ctx, const uint8_t key[32],
                                      const struct mg_disco_msg *m, const struct mg_sockaddr *from);
void mg_agent_disco_set_handler(struct mg_agent_disco *d, mg_agent_disco_msg_fn fn, void *ctx);
/* Seals m for the map's peer `key`. Returns the length, or 0 (not in the map, or m invalid). */
size_t mg_agent_disco_seal(struct mg_agent_disco *d, const struct mg_netmap_state *st,
                           const uint8_t key[32], struct mg_disco_msg *m, uint64_t now_unix_ms,
                           uint8_t *out, size_t cap);
/* Forgets the windows of peers no longer in the map. */
void mg_agent_disco_prune(struct mg_agent_disco *d, const struct mg_netmap_state *st);
/* {"pongs":N,"refused":{"forged":N,...}} for the status file. */
void mg_agent_disco_status(const struct mg_agent_disco *d, FILE *f);

#endif
