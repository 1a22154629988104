/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Internal to allowedips.c and allowedips_routes.c: the table's state and the route copies'
 * calls. Nothing else includes this.
 */
#ifndef MESHGATE_DATAPLANE_ALLOWEDIPS_INT_H
#define MESHGATE_DATAPLANE_ALLOWEDIPS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "allowedips.h"

struct rte_fib;
struct rte_hash;
struct rte_lpm6;

#define AI_NIL UINT32_MAX
/* An IPv4 copy's next hop: the peer slot, and the prefix length above it, which a lookup needs
 * to weigh the all-ones routes kept beside the copies (below). */
#define AI_V4_LEN_SHIFT     21
#define AI_V4_NH(peer, len) ((uint64_t)(peer) | (uint64_t)(len) << AI_V4_LEN_SHIFT)
/* rte_fib's answer for an address no route covers (above every encoded next hop). */
#define AI_V4_MISS ((uint64_t)1 << (AI_V4_LEN_SHIFT + 6))

/* The shadow's exact-match key: family, length and the masked address. */
struct rule_key {
	uint8_t v6;
	uint8_t len;
	uint8_t pad[2];
	uint8_t addr[16];
};

/* One prefix, linked into its peer's list (indices into the rule array). */
struct rule {
	uint32_t peer; /* AI_NIL when the slot is free */
	uint32_t prev, next;
	struct rule_key key;
};

struct logged_route {
	uint8_t addr[16];
	uint8_t len;
	uint8_t v6;
};

struct mg_allowedips {
	/* Read by the workers; the copies are published with release, read with acquire. */
	struct rte_fib *v4_active;
	struct rte_hash *v6_hosts;
	struct rte_lpm6 *v6_active;
	uint32_t v4_default, v6_default;
	/* IPv4 routes of all-ones prefixes (128.0.0.0/1, 192.0.0.0/2 .. 255.255.255.255/32) live
	 * here, updated in place like /0: rte_fib 22.11.11 overwrites its whole tbl24 (or crashes)
	 * when such a route covers another one reaching 255.255.255.255, its range end wrapping to
	 * 0. Bit len-1 of v4_top_mask says v4_top_peer[len] holds a peer. */
	uint32_t v4_top_mask;
	uint32_t v4_top_peer[33];

	/* Control thread only. */
	struct rte_fib *v4_standby;
	struct rte_lpm6 *v6_standby;
	uint32_t v4_active_cap, v4_standby_cap; /* routes each IPv4 copy was created for */
	uint32_t n_v4_routes;                   /* IPv4 prefixes but /0: what a copy holds */
	bool v4_stale, v6_stale;                /* a replay failed: rebuild before next use */
	struct rte_rcu_qsbr *rcu;
	int socket_id;
	unsigned seq; /* names this table's DPDK objects */
	struct rte_hash *shadow;
	struct rule *rules;
	uint32_t rule_cap;
	uint32_t *peer_head;
	uint32_t peer_cap, peers_with_prefixes;
	struct logged_route *log;
	size_t log_len, log_cap;
	uint32_t max_v4, max_v6, n_v4, n_v6, n_v6_hosts;
	uint32_t v4_tbl8s, v6_tbl8s;
	size_t dpdk_bytes; /* at create, plus what IPv4 copies grew by since */
};

size_t ai_heap_allocated(void);

static inline uint32_t ai_v4_host_order(const uint8_t *a)
{
	return (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
}

/* An IPv4 prefix of all ones (see v4_top_mask). */
static inline bool ai_v4_top(const struct rule_key *k)
{
	return !k->v6 && k->len && ai_v4_host_order(k->addr) == UINT32_MAX << (32 - k->len);
}

/* What an IPv4 copy holds: IPv4 prefixes but /0 and the all-ones ones. */
static inline bool ai_v4_in_copy(const struct rule_key *k)
{
	return !k->v6 && k->len && !ai_v4_top(k);
}

/* Creates the route copies (IPv4 at a small capacity that grows with use, IPv6 at max_v6). */
int ai_routes_create(struct mg_allowedips *t);
void ai_routes_free(struct mg_allowedips *t);
/* Makes the standby copy map k (len 1..32 IPv4, 1..127 IPv6) to peer, or forget it when peer
 * is AI_NIL, and logs it for the other copy. is_new: k is not yet in the shadow. */
int ai_route_set(struct mg_allowedips *t, const struct rule_key *k, uint32_t peer, bool is_new);
/* Room in the standby IPv4 copy for `more` new routes (one rebuild instead of several). */
int ai_routes_reserve_v4(struct mg_allowedips *t, uint32_t more);
int ai_routes_commit(struct mg_allowedips *t);

#endif
