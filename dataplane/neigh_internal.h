/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What the neighbour table (neigh.c) shares with its two protocols (arp.c, nd.c): the table's
 * layout, lookup and learning, and the frame helpers both protocols send with. Control thread
 * only, except struct neigh_slot, which the workers read (neigh.h has the concurrency model).
 */
#ifndef MESHGATE_DATAPLANE_NEIGH_INTERNAL_H
#define MESHGATE_DATAPLANE_NEIGH_INTERNAL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <rte_common.h>
#include <rte_ether.h>

#include "neigh.h"

#define ETH_HLEN 14

/* Shared with readers: every field under seq. */
struct neigh_slot {
	_Atomic uint32_t seq;
	_Atomic uint64_t key;     /* tag << 16 | family << 8 | port */
	_Atomic uint64_t addr[2]; /* the address, zero padded for IPv4 */
	_Atomic uint64_t mac;     /* 48-bit MAC | MAC_VALID */
} __rte_cache_aligned;

/* Control thread only. */
struct neigh_ctl {
	uint8_t state; /* enum mg_neigh_state */
	uint8_t probes;
	uint8_t port, family;
	uint8_t addr[16];
	struct rte_ether_addr mac;
	uint64_t confirmed_ns;
	uint64_t last_probe_ns;
};

struct mg_neigh {
	struct neigh_slot *slots;
	struct neigh_ctl *ctl;
	uint32_t mask;
	uint32_t max;
	uint32_t seed;
	struct mg_neigh_stats stats;
	_Atomic uint32_t gen; /* mg_neigh_gen */
};

/* Slot of the live entry for (port, family, addr), or -1. */
int64_t mg_neigh_find(const struct mg_neigh *n, uint8_t port, uint8_t family, const uint8_t *addr);
/*
 * Learns addr -> mac from the wire. answer: the frame answers our request (ARP reply, solicited
 * NA), which confirms reachability; otherwise the entry is usable but unconfirmed (STALE).
 * create: make an entry if none exists.
 */
void mg_neigh_learn(struct mg_neigh *n, uint8_t port, uint8_t family, const uint8_t *addr,
                    const struct rte_ether_addr *mac, uint64_t now_ns, bool answer, bool create);

/* Copies a built frame into a fresh mbuf and queues it on the control TX queue (counted). */
int mg_neigh_send_frame(struct mg_gateway *gw, uint8_t port, const uint8_t *frame, uint16_t len);
/* Copies the first len bytes of the frame (any segmentation) into buf. */
bool mg_neigh_copy_frame(const struct rte_mbuf *m, uint8_t *buf, uint32_t len);
void mg_neigh_eth_header(uint8_t *f, const struct rte_ether_addr *dst,
                         const struct rte_ether_addr *src, uint16_t type);

/* A request for addr on port: broadcast ARP / NS to the solicited-node group, or unicast to a
 * known MAC when re-probing. 0 or -1 (counted). */
int mg_arp_solicit(struct mg_gateway *gw, uint8_t port, const uint8_t *addr,
                   const struct rte_ether_addr *unicast);
int mg_nd_solicit(struct mg_gateway *gw, uint8_t port, const uint8_t *addr,
                  const struct rte_ether_addr *unicast);

static inline uint16_t mg_neigh_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void mg_neigh_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* 0.0.0.0, multicast, class E and limited broadcast never name a neighbour. */
static inline bool mg_neigh_v4_unusable(const uint8_t *a)
{
	return (a[0] == 0 && a[1] == 0 && a[2] == 0 && a[3] == 0) || a[0] >= 224;
}

static inline bool mg_neigh_v6_unspecified(const uint8_t *a)
{
	static const uint8_t zero[16];

	return memcmp(a, zero, 16) == 0;
}

#endif
