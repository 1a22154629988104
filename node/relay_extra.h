/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Connections to relayed peers' home relays besides the node's own, for the agent and the
 * gateway alike. The home relay reaches a peer homed elsewhere only through its relay mesh, and
 * that mesh spans one region: a peer homed on a relay of another region (or on one the node's
 * home relay does not mesh with) is reached by sending to that relay directly. At most
 * MG_RELAY_EXTRA_MAX such connections, each made off the caller's thread (relay_dial.h) like the
 * home one; a connection no relayed peer needs any more, or idle for MG_RELAY_EXTRA_IDLE_S, is
 * closed (an idle one is opened again by the next packet for it). While the home relay is down
 * (failing over) they are kept and used as they are.
 *
 * The owner calls, once a second: mg_relay_extras_begin, mg_relay_extras_want for every relayed
 * peer, mg_relay_extras_end. It polls each slot's descriptor (mg_relay_extra_fd) and calls
 * mg_relay_extras_finish when a dial is over, mg_relay_extras_down when a connection broke.
 * Times are in seconds of a monotonic clock of the caller's choice. One thread only.
 */
#ifndef MESHGATE_NODE_RELAY_EXTRA_H
#define MESHGATE_NODE_RELAY_EXTRA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "relay_client.h"
#include "relay_dial.h"
#include "relay_home.h"

#define MG_RELAY_EXTRA_MAX    3
#define MG_RELAY_EXTRA_IDLE_S 60

struct mg_relay_extra {
	char name[64]; /* the relay; "": a free slot */
	struct mg_relay_client *rc;
	struct mg_relay_dial dial;
	int64_t next_try;
	int64_t last_used; /* a packet sent or received */
	bool wanted;       /* between begin and end: a relayed peer is homed there */
	bool idle;         /* closed for idleness: dialled again by mg_relay_extras_use only */
};

struct mg_relay_extras {
	struct mg_relay_extra x[MG_RELAY_EXTRA_MAX];
	const struct mg_relay_home *home; /* the candidates, the home relay and the TLS context */
	uint8_t sk[32];
	uint32_t fwmark;
	int timeout_ms;
	uint64_t connects, failures, idle_closes;
};

void mg_relay_extras_init(struct mg_relay_extras *ex, const struct mg_relay_home *home,
                          const uint8_t sk[32], uint32_t fwmark, int timeout_ms);
/* Waits for dials under way (bounded by their timeout) and closes every connection. */
void mg_relay_extras_free(struct mg_relay_extras *ex);
void mg_relay_extras_set_key(struct mg_relay_extras *ex, const uint8_t sk[32]);

/* The relay to send a peer's packets to besides the home relay: the peer's home relay (from the
 * map) when it is a candidate, not ours, and of another region than ours; NULL otherwise (the
 * home relay and its mesh reach the peer). NULL too while no home relay is connected. */
const struct mg_netmap_relay *mg_relay_extras_target(const struct mg_relay_extras *ex,
                                                     const char *peer_home);

void mg_relay_extras_begin(struct mg_relay_extras *ex);
/* A relayed peer is homed on peer_home: keeps (or opens) a connection there when it is a target.
 */
void mg_relay_extras_want(struct mg_relay_extras *ex, const char *peer_home, int64_t now);
/* Closes the connections no peer wanted since begin, and the idle ones. */
void mg_relay_extras_end(struct mg_relay_extras *ex, int64_t now);

/* The connection for a packet to a peer homed on peer_home, NULL when the home relay is the way
 * (or the connection is not up yet: then it is dialled, if a slot is free). Counts as use. */
struct mg_relay_client *mg_relay_extras_use(struct mg_relay_extras *ex, const char *peer_home,
                                            int64_t now);
/* The connected slot for peer_home, NULL when none (no side effects: for status). */
const struct mg_relay_extra *mg_relay_extras_find(const struct mg_relay_extras *ex,
                                                  const char *peer_home);

/* What to poll for slot i: the connection, or the end of its dial (-1: neither). */
int mg_relay_extra_fd(const struct mg_relay_extra *x);
short mg_relay_extra_events(const struct mg_relay_extra *x);
/* Slot i's dial is over (mg_relay_dial_over, or its descriptor turned readable): takes the
 * connection, or schedules the next try. */
void mg_relay_extras_finish(struct mg_relay_extras *ex, size_t i, int64_t now);
/* Slot i's connection broke: closes it; it is dialled again at the next want or use. */
void mg_relay_extras_down(struct mg_relay_extras *ex, size_t i, int64_t now);
/* How many connections are up. */
size_t mg_relay_extras_connected(const struct mg_relay_extras *ex);

#endif
