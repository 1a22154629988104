/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Counters and the loopback HTTP endpoint (evhttp) serving /metrics (Prometheus text) and
 * /health (JSON).
 */
#ifndef MESHGATE_RELAY_METRICS_H
#define MESHGATE_RELAY_METRICS_H

#include <stdint.h>

/* Frames dropped while the connections that carried them stay up. */
enum relay_drop {
	RELAY_DROP_UNKNOWN_DST,      /* no node with that key here or on the mesh */
	RELAY_DROP_QUEUE_FULL,       /* the destination's send queue was full (a slow reader) */
	RELAY_DROP_MESH_QUEUE_FULL,  /* the peer relay's queue was full */
	RELAY_DROP_MESH_UNKNOWN_DST, /* a peer relay forwarded for a key no longer here */
	RELAY_DROP_COUNT
};

/* Why a connection ended (or never started). */
enum relay_close {
	RELAY_CLOSE_PER_IP_LIMIT,
	RELAY_CLOSE_SERVER_FULL,
	RELAY_CLOSE_TLS,         /* TLS handshake or record failure */
	RELAY_CLOSE_BAD_UPGRADE, /* HTTP upgrade refused */
	RELAY_CLOSE_BAD_PROOF,
	RELAY_CLOSE_BAD_MESH_PROOF,
	RELAY_CLOSE_BAD_FRAME, /* malformed, unexpected or oversized frame */
	RELAY_CLOSE_HANDSHAKE_TIMEOUT,
	RELAY_CLOSE_IDLE_TIMEOUT,
	RELAY_CLOSE_REPLACED, /* the same key connected again */
	RELAY_CLOSE_PEER,     /* the peer closed */
	RELAY_CLOSE_SHUTDOWN,
	RELAY_CLOSE_MEMORY,
	RELAY_CLOSE_NOT_ADMITTED, /* the coordinator does not know the key, or was not reachable */
	RELAY_CLOSE_COUNT
};

enum relay_path {
	RELAY_PATH_LOCAL,    /* node to node on this relay */
	RELAY_PATH_MESH_OUT, /* node here to a node on a peer relay */
	RELAY_PATH_MESH_IN,  /* from a peer relay to a node here */
	RELAY_PATH_COUNT
};

struct relay_metrics {
	uint64_t conns;   /* open connections, any state */
	uint64_t clients; /* authenticated nodes */
	uint64_t mesh_in; /* peer relays connected to us */
	uint64_t accepted_total, auth_ok_total, mesh_auth_ok_total;
	uint64_t frames[RELAY_PATH_COUNT], bytes[RELAY_PATH_COUNT];
	uint64_t drops[RELAY_DROP_COUNT], drop_bytes[RELAY_DROP_COUNT];
	uint64_t closes[RELAY_CLOSE_COUNT];
	uint64_t pings_sent, peer_gone_sent;
	/* admission: questions to the coordinator and their outcomes, answers from the cache */
	uint64_t admit_asked, admit_ok, admit_refused, admit_errors, admit_cache_hits;
};

const char *relay_drop_name(enum relay_drop d);
const char *relay_close_name(enum relay_close c);

struct relay_server;
/* Starts the endpoint on cfg->metrics (nothing when unset). */
int relay_metrics_start(struct relay_server *s, char *err, size_t errlen);
void relay_metrics_stop(struct relay_server *s);

#endif
