/* SPDX-License-Identifier: GPL-2.0-only */
/* Shared between netmap.c (structure, deltas) and netmap_json.c (serialisation, queues). */
#ifndef MESHGATE_COORD_NETMAP_INTERNAL_H
#define MESHGATE_COORD_NETMAP_INTERNAL_H

#include <string.h>

#include "netmap.h"

struct nm_node {
	struct node_info info;
	int cls; /* class index, -1 while the node's key has expired */
	size_t cls_pos;
	char *peer_json;      /* this node as others see it, without its exit routes, cached */
	char *peer_json_exit; /* the same with its exit routes (/0); NULL when it offers none */
	char exit_choice[64]; /* name or key of the exit node it asked for; "" for none */
	struct map_session *sess;
	uint64_t filter_sent; /* hash of the filter last sent on sess */
};

struct nm_class {
	char *user; /* NULL for a tagged class */
	char **tags;
	size_t ntags;
	struct nm_node **members;
	size_t n, cap;
	uint64_t *srcmask, *dstmask; /* rule bitsets */
	char *filter;                /* cached packet filter for members, a JSON array */
	bool filter_stale;
};

struct netmap {
	struct netmap_config cfg;
	struct policy *pol;
	struct nm_node **slots;
	size_t nslots, count;
	struct nm_class *classes;
	size_t ncls, cls_cap;
	uint64_t *vis; /* cls_cap rows of vis_words words */
	size_t vis_words, rule_words;
	struct map_session *pending;
	uint64_t trace_next;
	struct netmap_batch trace[NETMAP_TRACE_BATCHES];
	size_t streams;
};

struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

void sb_add(struct sbuf *b, const char *s, size_t n);
void sb_str(struct sbuf *b, const char *s);
void sb_fmt(struct sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static inline bool nm_vis(const struct netmap *nm, int a, int b)
{
	return (nm->vis[(size_t)a * nm->vis_words + (size_t)b / 64] >> (b % 64)) & 1;
}

struct nm_node *nm_find(const struct netmap *nm, int64_t id);
/* Rebuilds n->peer_json; false when out of memory. */
bool nm_build_peer_json(const struct netmap *nm, struct nm_node *n);
char *nm_self_json(const struct netmap *nm, const struct nm_node *n);
/* True when viewer chose p as its exit node and the policy lets viewer use exit nodes. */
bool nm_uses_exit(const struct netmap *nm, const struct nm_node *viewer, const struct nm_node *p);
/* Peer p as viewer sees it: with its /0 routes only when viewer uses p as exit node. */
const char *nm_peer_json_for(const struct netmap *nm, const struct nm_node *viewer,
                             const struct nm_node *p);
static inline bool nm_route_is_default(const char *p)
{
	return strcmp(p, "0.0.0.0/0") == 0 || strcmp(p, "::/0") == 0;
}
/* The class's filter template, rebuilt when stale (filter.c). */
const char *nm_class_filter(struct netmap *nm, struct nm_class *c);
/* Node n's packet filter, a JSON array; caller frees; NULL when out of memory (filter.c). */
char *nm_node_filter(struct netmap *nm, struct nm_node *n);
/* The routes a node carries: approved by an admin or policy, and currently advertised. */
json_t *nm_effective_routes(const struct node_info *n);
void nm_session_push(struct netmap *nm, struct map_session *s, const char *data, size_t len);
void nm_session_free(struct map_session *s);
/* Fan-out trace (netmap_trace.c): a session got a line of the current batch / handed it off. */
struct netmap_batch *nm_trace_begin(struct netmap *nm);
void nm_trace_queued(struct netmap *nm, struct netmap_batch *b, struct map_session *s);
void nm_trace_written(struct netmap *nm, struct map_session *s, bool delivered);
uint64_t nm_hash_str(const char *s);

#endif
