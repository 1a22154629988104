/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The in-memory network map: every node, grouped into identity classes (one per user for
 * untagged nodes, one per tag set for tagged ones), and the class-to-class visibility the policy
 * allows. What a node may see depends only on its class, so a change to one node reaches the
 * members of the classes that see it and nobody else, and a policy change costs O(classes^2)
 * plus the nodes whose view really changed. Nodes with an open map stream have a session that
 * queues newline-delimited JSON: a full map first, then deltas. Callers hold the coordinator lock.
 */
#ifndef MESHGATE_COORD_NETMAP_H
#define MESHGATE_COORD_NETMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "keys.h"
#include "policy.h"
#include "util.h"

/* One node as the store holds it. */
struct node_info {
	int64_t id;
	char name[64];
	int64_t user_id;
	char user[64];
	char node_key[WG_KEY_B64_SIZE];
	int64_t addr_index;
	json_t *tags;              /* sorted array of strings */
	json_t *endpoints;         /* array of "ip:port": the node's local endpoints */
	json_t *stun_endpoints;    /* array of "ip:port": as STUN servers saw it */
	json_t *routes_advertised; /* array of prefixes */
	json_t *routes_approved;   /* array of prefixes (approved by an admin or policy) */
	char version[65];
	char home_relay[64]; /* the relay the node reports as its home; "" when none */
	char nat[8];         /* "none", "easy", "hard" (maps by destination) or "unknown" */
	bool ephemeral;
	bool online;
	int64_t key_expiry; /* unix seconds; 0: never */
	int64_t last_seen;
	int64_t created_at;
};

void node_info_clear(struct node_info *n);
/* Deep copy; false when out of memory. */
bool node_info_copy(struct node_info *dst, const struct node_info *src);

struct map_session;
struct netmap;

/* Called with the lock held when a session has new output or must close. */
typedef void (*session_wake_fn)(struct map_session *s, void *conn);

struct map_session {
	struct netmap *nm;
	int64_t node_id;
	void *conn; /* the HTTP connection; opaque here */
	char *out;
	size_t out_len, out_off, out_cap;
	uint64_t seq;
	bool closed;    /* no more output; the stream ends after the queue drains */
	bool overflow;  /* the client did not read: the stream is cut */
	bool suspended; /* owned by the HTTP layer */
	/* Pending delta, built into one line by netmap_flush. */
	int64_t *changed;
	size_t nchanged, changed_cap;
	char **removed;
	size_t nremoved, removed_cap;
	bool filter_dirty, self_dirty, pending;
	struct map_session *next_pending;
	uint64_t trace_batch;                   /* fan-out batch whose line waits in out; 0: none */
	char cred_prefix[TOKEN_PREFIX_LEN + 1]; /* the credential that opened the stream */
};

/*
 * Fan-out timing. Every netmap_flush that queues delta lines is one batch; the batch is done when
 * the last of its sessions has handed its queue to the HTTP layer (which writes it to the socket
 * in the same call). The last NETMAP_TRACE_BATCHES batches are kept for the metrics endpoint.
 */
#define NETMAP_TRACE_BATCHES 64
struct netmap_batch {
	uint64_t id;       /* 0: slot unused */
	double start;      /* monotonic seconds: the flush began (the change is in the map) */
	double built;      /* every delta line of the batch is queued */
	double last_write; /* the latest hand-off so far */
	uint32_t sessions; /* sessions that got a line */
	uint32_t left;     /* of those, not yet handed off */
	uint32_t dropped;  /* closed, or overtaken by a later batch, before their hand-off */
};

struct netmap_config {
	struct mg_prefix prefix_v4, prefix_v6;
	size_t queue_limit;
	session_wake_fn wake;
	const char *relay_map_json; /* the config's relay map, sent in every full map; or NULL */
};

struct netmap *netmap_new(const struct netmap_config *cfg, struct policy *policy);
void netmap_free(struct netmap *nm);

/* Replaces the policy (takes ownership) and queues the resulting deltas. */
void netmap_set_policy(struct netmap *nm, struct policy *policy);
const struct policy *netmap_policy(const struct netmap *nm);
/* Inserts or updates a node from the store and queues deltas for those who see it. */
bool netmap_upsert(struct netmap *nm, const struct node_info *info);
void netmap_remove(struct netmap *nm, int64_t id);
const struct node_info *netmap_node(const struct netmap *nm, int64_t id);
size_t netmap_node_count(const struct netmap *nm);
/* Calls fn for every node (any order). */
void netmap_foreach(const struct netmap *nm, void (*fn)(void *ctx, const struct node_info *n),
                    void *ctx);
/* Re-evaluates key expiry at now; nodes whose keys ran out leave their peers' maps. */
void netmap_expire(struct netmap *nm, int64_t now);

/*
 * Records the exit node a node asked for in its map request (a peer's name or key; "" or NULL for
 * none) and queues deltas for the peers whose /0 routes it gains or loses.
 */
void netmap_set_exit_choice(struct netmap *nm, int64_t node_id, const char *choice);
/* Opens a stream for a node (replacing an older one) and queues the full map. */
struct map_session *netmap_attach(struct netmap *nm, int64_t node_id, void *conn);
/* Detaches and frees a session (its connection is gone); true when it was the node's current one.
 */
bool netmap_detach(struct netmap *nm, struct map_session *s);
/* The node's full map as one JSON object line (for a non-streaming request); caller frees. */
char *netmap_full_map(struct netmap *nm, int64_t node_id, size_t *len);
/* Turns pending changes into delta lines and wakes their sessions. */
void netmap_flush(struct netmap *nm);
/* Queues a heartbeat line on every session. */
void netmap_heartbeat(struct netmap *nm, int64_t now);
/* The node's open stream, or NULL. */
struct map_session *netmap_session(const struct netmap *nm, int64_t node_id);
/* Closes a node's session, after a final line such as {"type":"expired"}. */
void netmap_close_node(struct netmap *nm, int64_t node_id, const char *final_line);
/* Ends every stream (server shutdown): the final line is queued and nothing stays parked. */
void netmap_close_all(struct netmap *nm, const char *final_line);
/* Copies up to max queued bytes; returns the count. */
size_t session_read(struct map_session *s, char *buf, size_t max);
/* The kept fan-out batches, oldest first; returns how many were copied (at most max). */
size_t netmap_trace_batches(const struct netmap *nm, struct netmap_batch *out, size_t max);
/* Open map streams. */
size_t netmap_stream_count(const struct netmap *nm);
/* Address strings for an address index. */
void netmap_addresses(const struct netmap *nm, int64_t index, char v4[16], char v6[48]);

#endif
