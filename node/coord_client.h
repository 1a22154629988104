/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The coordinator client (meshgate-coord's protocol, docs/coord-protocol.md). A background
 * thread registers the node with proof of key possession, keeps the map long-poll open, and
 * turns each line of the stream into an event on a queue. The control thread (the gateway's
 * DPDK control loop or the agent's loop) never blocks on the network: it polls
 * mg_coord_client_fd() and drains events with mg_coord_client_next().
 *
 * Registration: GET /v1/key (the server's X25519 key), POST /v1/register/challenge, then
 * POST /v1/register with crypto_box("meshgate-register-v1" || challenge || BLAKE2b-256(auth
 * key)) from the node's WireGuard private key to the server key. The node credential in the
 * reply is kept in <state_dir>/node.json (0600) so a restart reuses it.
 *
 * Map: POST /v1/map with "Authorization: Bearer <credential>" and {endpoints, routes,
 * version}; the reply is newline-delimited JSON: a full map, then deltas with consecutive seq
 * numbers, heartbeats, and possibly a final line: expired or deleted (the node is logged out),
 * reconnect (reconnect at once), replaced (another stream took this node's place: wait the full
 * back-off cap, so two holders of one key do not take the stream from each other forever) or
 * shutdown (the server is stopping: retry at the shortest back-off, which may reach another
 * replica). Registration and the saved credential live in coord_register.c.
 *
 * Failures: any transport error, a silent stream (no line for read_timeout_s) or a malformed
 * line closes the stream and the thread reconnects after a capped exponential back-off with
 * jitter; the first line of every new stream is a full map, which the caller diffs against
 * what it has. Until then the caller keeps its last map. 401 (credential unknown) and 403
 * (node expired) make the client register again with the pre-auth key.
 */
#ifndef MESHGATE_CONTROL_COORD_CLIENT_H
#define MESHGATE_CONTROL_COORD_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node_config.h"
#include "constants.h"
#include "netmap_apply.h"

struct mg_coord_client_config {
	struct mg_coord_config coord; /* url, authkey_file, state_dir, hostname */
	uint8_t private_key[WG_KEY_LEN];
	const char *version; /* reported to the server; copied */
	/* What the map request reports (mg_coord_client_set_report changes it later). */
	struct mg_sockaddr endpoints[MG_MAX_REPORTED_ENDPOINTS];
	size_t n_endpoints;
	struct mg_prefix routes[MG_MAX_ADVERTISED_ROUTES];
	size_t n_routes;
	/* 0: defaults (500 ms, 30 s, 60 s). */
	unsigned backoff_min_ms, backoff_max_ms, read_timeout_s;
};

enum mg_coord_event_kind {
	MG_COORD_EV_MAP = 1,    /* update: a full map or a delta, to mg_netmap_apply */
	MG_COORD_EV_LOGGED_OUT, /* the server expired or deleted this node: drop every peer */
};

struct mg_coord_event {
	enum mg_coord_event_kind kind;
	struct mg_netmap_update update;
	struct mg_coord_event *next;
};

enum mg_coord_client_state {
	MG_COORD_CLIENT_IDLE = 0,
	MG_COORD_CLIENT_REGISTERING,
	MG_COORD_CLIENT_CONNECTING,
	MG_COORD_CLIENT_STREAMING, /* a full map arrived on the current stream */
	MG_COORD_CLIENT_BACKOFF,
};

struct mg_coord_status {
	enum mg_coord_client_state state;
	bool registered;
	int64_t node_id;
	uint64_t seq; /* of the last line handled */
	uint64_t lines, bad_lines, reconnects, registrations, queue_drops;
	int64_t last_line_unix; /* wall clock of the last line, 0: none yet */
	char last_error[160];   /* empty when the last attempt worked */
};

/* Copies cfg; reads nothing yet. NULL with err set on bad input or no memory. */
struct mg_coord_client *mg_coord_client_new(const struct mg_coord_client_config *cfg, char *err,
                                            size_t errlen);
int mg_coord_client_start(struct mg_coord_client *c);
/* Stops the thread (within about a second) and frees everything, queued events included. */
void mg_coord_client_free(struct mg_coord_client *c);

/* Readable (an eventfd) while events are queued; read it down with mg_coord_client_next. */
int mg_coord_client_fd(const struct mg_coord_client *c);
/* The oldest queued event or NULL; the caller frees it with mg_coord_event_free. */
struct mg_coord_event *mg_coord_client_next(struct mg_coord_client *c);
void mg_coord_event_free(struct mg_coord_event *ev);

/* New endpoints or routes to report: an open stream is replaced by one that reports them. */
void mg_coord_client_set_report(struct mg_coord_client *c, const struct mg_sockaddr *endpoints,
                                size_t n_endpoints, const struct mg_prefix *routes,
                                size_t n_routes);
/*
 * The endpoints STUN servers saw for this node and its NAT's mapping ("none", "easy", "hard",
 * "unknown"), reported from now on. A change reopens the stream at once, so peers learn a new
 * mapping within a round trip to the coordinator.
 */
void mg_coord_client_set_stun(struct mg_coord_client *c, const struct mg_sockaddr *eps, size_t n,
                              const char *nat);
/* The relay this node is connected to ("" for none), reported as home_relay from now on. */
void mg_coord_client_set_home_relay(struct mg_coord_client *c, const char *name);
/* Asks for a fresh full map (the caller lost track, e.g. an apply failed). */
void mg_coord_client_resync(struct mg_coord_client *c);
void mg_coord_client_status(struct mg_coord_client *c, struct mg_coord_status *out);
const char *mg_coord_client_state_name(enum mg_coord_client_state s);

/*
 * Parses one line of the map stream (without its newline). Returns 1 with *out filled for a
 * full map or a delta, 0 for a line that carries no map (heartbeat, unknown type: *type_out
 * says which), or -1 with err set for anything malformed. Exposed for tests.
 */
int mg_coord_parse_line(const char *line, size_t len, struct mg_netmap_update *out, char *type_out,
                        size_t type_len, char *err, size_t errlen);

#endif
