/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The running coordinator. One lock (c->lock) guards the store connection and the network map:
 * HTTP handlers, the map-stream readers, the timer and the replica listener all take it. A change
 * is written to the store first, then applied to the map, then announced to other replicas.
 */
#ifndef MESHGATE_COORD_COORD_H
#define MESHGATE_COORD_COORD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "netmap.h"
#include "store.h"

struct eph_entry {
	int64_t id;
	int64_t offline_since;
};

struct coord {
	struct coord_config cfg;
	struct store *store;
	pthread_mutex_t lock;
	struct netmap *nm;
	uint8_t server_sk[32], server_pk[32], challenge_key[32];
	char server_pk_b64[WG_KEY_B64_SIZE];
	void *httpd; /* struct MHD_Daemon */
	pthread_t timer_thread;
	bool timer_started;
	atomic_bool stop;
	char replica_id[24];
	struct eph_entry *eph; /* ephemeral nodes whose stream closed, awaiting removal */
	size_t neph, eph_cap;
	int64_t policy_version;
};

/* Loads the store, keys, policy and nodes; false with err set. */
bool coord_init(struct coord *c, const struct coord_config *cfg, char *err, size_t errlen);
/* Starts the HTTP server and the timer, then blocks until a signal asks to stop. */
int coord_run(struct coord *c);
void coord_shutdown(struct coord *c);

/* The node changed in the store: reload it into the map and tell other replicas. Lock held. */
void coord_node_changed(struct coord *c, int64_t id);
/* The node is gone from the store. Lock held. */
void coord_node_deleted(struct coord *c, int64_t id);
/* The policy changed in the store: reload and apply it. Lock held. */
bool coord_policy_reload(struct coord *c, bool announce);
/* Re-checks every node's advertised routes against the auto-approvers. Lock held. */
void coord_auto_approve_all(struct coord *c);
/*
 * Decides the approved routes of a node: its manual approvals, plus the advertised routes the
 * policy approves now. *autos gets the second part, which is stored apart so that a route
 * leaves again when the policy stops approving it. Routes overlapping the overlay are never
 * approved. Caller frees both.
 */
json_t *coord_approved_routes(struct coord *c, const struct node_info *n, json_t *advertised,
                              json_t **autos);
/* True when a route (canonical text) overlaps the overlay and may not be approved. */
bool coord_route_hits_overlay(const struct coord *c, const char *route);
/* A node's stream closed: mark it offline; ephemeral nodes are queued for removal. Lock held. */
void coord_node_offline(struct coord *c, int64_t id);
void coord_ephemeral_cancel(struct coord *c, int64_t id);
bool coord_user_exists(void *ctx, const char *name);

/* The HTTP server (server.c). */
bool http_start(struct coord *c, char *err, size_t errlen);
void http_stop(struct coord *c);
void http_session_wake(struct map_session *s, void *conn);

#endif
