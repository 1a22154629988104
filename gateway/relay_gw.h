/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The gateway's relay path, control lcore side: the connection to the home relay
 * (node/relay_client.h), the messages between it and the data plane's relay rings
 * (dataplane/relay_ring.h), and each peer's choice of path.
 *
 * A peer is relayed by pointing its endpoint at a pseudo address (mg_relay_addr), so every
 * sender (workers, the handshake driver) takes the relay path by itself and roaming moves the
 * peer back: an authenticated packet or handshake from a direct address makes the path direct
 * again, one from the relay makes it relayed. The gateway relays a peer when relay.force is set,
 * when no handshake completed within relay.direct_timeout seconds of the first direct attempt
 * (its direct endpoint is kept to report), or at once when disco finds the peer's direct path
 * dead (paths_gw.c, mg_relay_gw_relay_peer).
 *
 * The home relay is relay.host, or without it one of the coordinator's relay map, chosen and
 * failed over as the agent does (node/relay_home.h). The connection is used on the control
 * lcore, but made on a thread of its own: an unreachable relay never stalls the lcore.
 *
 * A relayed peer homed (says the map) on a relay of another region, which our home relay's mesh
 * does not reach, gets its messages sent to that relay directly, on one of at most
 * MG_RELAY_EXTRA_MAX more connections made and closed as the agent's (node/relay_extra.h);
 * what arrives on them enters the decrypt path as the home relay's messages do.
 */
#ifndef MESHGATE_GATEWAY_RELAY_GW_H
#define MESHGATE_GATEWAY_RELAY_GW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

struct mg_control;

/* Nothing without cfg.relay; else the rings and the state (the connection comes on poll). */
int mg_relay_gw_start(struct mg_control *ctl, char *err, size_t errlen);
/* After the workers stopped. */
void mg_relay_gw_stop(struct mg_control *ctl);
/* Each control pass: connection upkeep, both directions, path choice. Returns work done. */
unsigned mg_relay_gw_poll(struct mg_control *ctl, uint64_t now_ns);
/* The relay map of a map that carried one (ignored with relay.host). */
struct mg_netmap_relay;
void mg_relay_gw_set_map(struct mg_control *ctl, const struct mg_netmap_relay *relays, size_t n,
                         uint64_t now_ns);
/* The handshake driver's send for a pseudo address: payload is one WireGuard message. */
int mg_relay_gw_send(struct mg_control *ctl, const struct mg_sockaddr *dst, const void *payload,
                     uint16_t len);
/* The same for the peer in slot, any message (disco): through the connection its WireGuard
 * messages take. 0, or a negative errno (counted in the relay path's drops). */
int mg_relay_gw_send_slot(struct mg_control *ctl, uint32_t slot, const void *payload, size_t len);
/* Moves peer to the relay now, logging why and counting the switch. False without a relay
 * connection (the rules above then apply once there is one) or when it is relayed already. */
struct mg_peer;
bool mg_relay_gw_relay_peer(struct mg_control *ctl, struct mg_peer *peer, const char *why,
                            uint64_t now_ns);
/* For status: the name of the relay behind a pseudo address ("" when not relayed). */
const char *mg_relay_gw_name(const struct mg_control *ctl, const struct mg_sockaddr *ep);
/* The relay behind relayed peers' endpoints: the home relay, or the last one while none is
 * connected ("" before the first); NULL without a relay path. */
const char *mg_relay_gw_relay(const struct mg_control *ctl);
/* The home relay's name while connected, NULL otherwise. */
const char *mg_relay_gw_home(const struct mg_control *ctl);
/* The relay a relayed peer's messages go to: its own home relay when we hold a connection there
 * (outside our region), else ours; NULL without a relay path. */
const char *mg_relay_gw_via(const struct mg_control *ctl, uint32_t slot);

/* The relay connections that are up, for their round trips (relay_rtt_gw.c): the home relay
 * first, then the extra ones. Returns how many (at most max). */
struct mg_relay_client;
struct mg_relay_gw_conn {
	const char *name;
	struct mg_relay_client *client;
	bool home;
};
size_t mg_relay_gw_conns(const struct mg_control *ctl, struct mg_relay_gw_conn *out, size_t max);
/* relay_rtt_gw.c: PINGs to those relays when due (flushed by mg_relay_gw_poll). */
unsigned mg_relay_rtt_gw_poll(struct mg_control *ctl);

struct mg_relay_gw_stats {
	uint64_t connects, disconnects, sent, received, dropped_unknown_key, dropped_malformed,
	    dropped_queue_full, dropped_down, dropped_in_full, switched_to_relay;
	bool connected;
	/* Connections to peers' home relays outside our region (node/relay_extra.h). */
	uint64_t extra_connected, extra_connects, extra_failures, extra_idle_closes;
};
void mg_relay_gw_get_stats(const struct mg_control *ctl, struct mg_relay_gw_stats *st);

#endif
