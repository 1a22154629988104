/* SPDX-License-Identifier: GPL-2.0-only */
/* The NAT table's layout, shared by nat_table.c (mappings) and nat.c (packets). */
#ifndef MESHGATE_DATAPLANE_NAT_INTERNAL_H
#define MESHGATE_DATAPLANE_NAT_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_common.h>

#include "nat.h"

struct rte_hash;
struct rte_rcu_qsbr_dq;

/* The outbound key: the internal endpoint, whatever the destination (endpoint independent). */
struct mg_nat_key {
	uint8_t family;
	uint8_t proto; /* enum mg_nat_proto */
	uint16_t port; /* internal port or ICMP identifier, network order */
	uint8_t addr[16];
};

enum { MG_NAT_SEEN_IN = 1, MG_NAT_CLOSING = 2 }; /* TCP state bits */

struct mg_nat_map {
	/* fixed while the mapping is published */
	struct mg_nat_key key;
	uint16_t ext_port; /* network order */
	uint8_t ext;       /* index in nat->ext */
	uint8_t owner;
	int32_t hash_pos;
	bool live; /* owner only */
	/* written by any worker that translates for it (relaxed) */
	_Atomic uint64_t last_ns;
	_Atomic uint8_t tcp;
};

struct mg_nat_worker {
	struct rte_hash *h;
	struct rte_rcu_qsbr_dq *dq;
	uint32_t first, count; /* this worker's mappings: nat->maps[first .. first + count) */
	uint32_t *free_maps, n_free_maps;
	uint16_t port_lo, n_ports; /* this worker's slice of every address's range */
	uint16_t *free_ports;      /* [ext * 3 + proto] stacks of n_ports (host order) */
	uint32_t *n_free_ports;
	uint32_t hand; /* expiry scan position in the slice */
	uint64_t last_tick_ns;
} __rte_cache_aligned;

struct mg_nat_ext {
	uint8_t family;
	uint8_t addr[16];
};

struct mg_nat {
	struct mg_dp_exit_config cfg;
	unsigned n_workers, instance;
	struct rte_rcu_qsbr *rcu;
	struct mg_nat_ext ext[MG_NAT_MAX_POOL + 1];
	unsigned n_ext, n_ext4; /* IPv4 ones first, then at most one IPv6 */
	uint16_t port_min;
	uint32_t range; /* ports per address and protocol */
	uint64_t
	    timeout_ns[MG_NAT_PROTO_COUNT + 1]; /* UDP, ICMP, TCP established, TCP transitory */
	uint16_t mss4, mss6;                    /* MSS clamp for the tunnel MTU */
	struct mg_nat_map *maps;
	/* (ext * 3 + proto) * range + port - port_min -> mapping index + 1, 0 = none */
	_Atomic uint32_t *inbound;
	size_t bytes;
	struct mg_nat_worker w[MG_MAX_WORKERS];
};

#define MG_NAT_TIMEOUT_TCP_TRANS MG_NAT_PROTO_COUNT /* index in timeout_ns */

/* The mapping for key, looked up in worker's own hash first: NULL when none. */
struct mg_nat_map *mg_nat_find(struct mg_nat *nat, unsigned worker, const struct mg_nat_key *key);
/* The same, in the other workers' hashes only. */
struct mg_nat_map *mg_nat_find_others(struct mg_nat *nat, unsigned worker,
                                      const struct mg_nat_key *key);
/* A new mapping owned by worker (key not present). NULL with *why. */
struct mg_nat_map *mg_nat_create_map(struct mg_nat *nat, unsigned worker,
                                     const struct mg_nat_key *key, uint64_t now_ns,
                                     struct mg_worker_counters *c, enum mg_drop_reason *why);
/* Return traffic to ext_port (network order) of nat->ext[ext]. */
struct mg_nat_map *mg_nat_find_in(struct mg_nat *nat, unsigned ext, unsigned proto,
                                  uint16_t ext_port);
/* Index in nat->ext of an external address, or -1. */
int mg_nat_ext_index(const struct mg_nat *nat, uint8_t family, const uint8_t *addr);

static inline void mg_nat_touch(struct mg_nat_map *m, uint64_t now_ns)
{
	/* Once a second at most: a flow spread over several workers would otherwise bounce the
	 * line between them on every packet. */
	uint64_t last = atomic_load_explicit(&m->last_ns, memory_order_relaxed);
	if (now_ns > last + 1000000000ull || now_ns < last)
		atomic_store_explicit(&m->last_ns, now_ns, memory_order_relaxed);
}

#endif
