/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The data plane's allowed-IPs table: IPv4 and IPv6 longest-prefix match from an address to a
 * peer slot. One control thread writes; any number of worker lcores read without locks.
 *
 * Layout and why (DPDK 22.11):
 *  - IPv4: one rte_lpm updated in place. Its entry writes are single atomic 32-bit stores and
 *    a new tbl8 group is filled before the tbl24 entry that points to it is published, so a
 *    reader sees either the old or the new answer for each address. The one hazard, a freed
 *    tbl8 group reused while a reader still walks it, is closed by the library's RCU
 *    integration (rte_lpm_rcu_qsbr_add, defer-queue mode): groups are recycled only after a
 *    grace period. Cost: nothing extra on lookup; tbl24 is 64 MiB plus 1 KiB per tbl8 group.
 *  - IPv6 /128 (the usual WireGuard host address): an rte_hash in lock-free read/write mode
 *    with its RCU integration, updated in place. A /128 is always the longest match, so a
 *    hit ends the lookup. Cost: one hash probe per IPv6 packet, ~100 bytes per host route,
 *    and no tbl8 chains (a /128 in a multibit trie needs up to 13 tbl8 groups, 13 KiB).
 *  - IPv6 /1../127: neither rte_lpm6 nor rte_fib6 is safe for concurrent readers in 22.11 (no
 *    RCU hook; tbl8 groups are freed and reused at once; entries are rewritten without atomic
 *    stores). So there are two rte_lpm6 copies: readers use the active one through an
 *    atomically published pointer, the writer changes the standby one and logs what it
 *    touched. mg_allowedips_commit() publishes the standby, waits for a grace period
 *    (rte_rcu_qsbr_synchronize), then replays the log onto the old copy so both match again.
 *    Cost: each route change is done twice, each commit waits one grace period (one worker
 *    loop), and the route table's memory (64 MiB tbl24 + 1 KiB per tbl8) is held twice.
 *    rte_fib6 (trie) was rejected: in DPDK 22.11.11 it returns wrong next hops once a route
 *    reaching the top of the address space (e.g. e000::/3) sits inside another route; the
 *    range walk wraps around to :: (found by this module's randomized test).
 *  - /0 in either family: a published default peer used on a miss (rte_lpm has no depth 0).
 *
 * Memory (issue #6; bench/memory_bench measures it): the three tbl24 arrays (IPv4 and two
 * IPv6 copies) are a fixed 192 MiB. Rule capacity (max_v4, max_v6) is cheap: rule arrays and
 * hash slots, a few hundred bytes per prefix of capacity. tbl8 groups are the expensive part
 * (1 KiB each, IPv6 ones twice) and are sized separately, from the options below, never from
 * the rule capacity alone: the old "one group per prefix" default made a 1M-prefix table take
 * 1 GiB of IPv4 groups, almost all of them never used.
 *  - IPv4: a prefix longer than /24 takes the group of its /24 (one per distinct /24); /24 and
 *    shorter take none. Default MG_ALLOWEDIPS_DEFAULT_V4_TBL8S (64 MiB): 65,536 distinct /24s
 *    holding host routes, e.g. 65,536 peers whose /32s are all in different /24s.
 *  - IPv6 routes (/1../127 but /128): one group per distinct (24 + 8k)-bit prefix on the way
 *    down, k = 1 .. (len - 24) / 8 rounded up. Peers' /64s in their own /48s take 2-5 groups
 *    each (the netns scale load, 40,000 such /64s over 10,000 peers, takes 100,040). Default
 *    MG_ALLOWEDIPS_DEFAULT_V6_TBL8S per copy (128 MiB each, 256 MiB both).
 *  Both defaults shrink for small tables to what the capacity could use (IPv4: max_v4; IPv6:
 *  1024 + 4 * max_v6), so a test table with 4,096 prefixes costs ~230 MiB, not ~520 MiB.
 *
 * Visibility: IPv4 changes, IPv6 /128 and /0 changes are visible to readers when the call
 * returns; IPv6 route changes when mg_allowedips_commit() returns. Call commit after a batch.
 * A lookup of an address whose covering prefixes did not change never sees a wrong peer; one
 * whose covering prefixes are changing sees the answer from before or from after the change.
 *
 * Threads: all calls except the lookups are for the single control thread, which must not be
 * an online reader of the RCU variable (commit waits for the readers). Readers report quiescent
 * states on that variable between bursts and never hold results across one.
 */
#ifndef MESHGATE_DATAPLANE_ALLOWEDIPS_H
#define MESHGATE_DATAPLANE_ALLOWEDIPS_H

#include <stddef.h>
#include <stdint.h>

#include "dp_config.h"

struct rte_rcu_qsbr;

/* Lookup result for an address no prefix covers. */
#define MG_ALLOWEDIPS_NO_PEER UINT32_MAX
/* rte_lpm6 stores 21-bit next hops (rte_lpm 24); larger slots are refused. */
#define MG_ALLOWEDIPS_MAX_PEER ((1u << 21) - 1)

struct mg_allowedips_options {
	/* The readers' QSBR variable. NULL only when nobody reads while the table changes. */
	struct rte_rcu_qsbr *rcu;
	/* NUMA socket for the tables, or SOCKET_ID_ANY (-1). Used as given. */
	int socket_id;
	/* IPv4 tbl8 groups (1 KiB each). 0: mg_allowedips_default_v4_tbl8s(max_v4). Too few makes
	 * inserts of prefixes longer than /24 fail with -ENOSPC. */
	uint32_t v4_tbl8s;
	/* IPv6 route tbl8 groups per copy (1 KiB each, two copies). 0:
	 * mg_allowedips_default_v6_tbl8s(max_v6). Too few makes inserts of long routes fail with
	 * -ENOSPC (/128 hosts use none). */
	uint32_t v6_tbl8s;
};

/* tbl8 group defaults (see Memory above); the most rte_lpm / rte_lpm6 accept is
 * MG_MAX_V4_TBL8_GROUPS / MG_MAX_V6_TBL8_GROUPS (dp_config.h). */
#define MG_ALLOWEDIPS_DEFAULT_V4_TBL8S 65536u
#define MG_ALLOWEDIPS_DEFAULT_V6_TBL8S 131072u

/* The group counts used when the option is 0: the default, or less when the rule capacity could
 * never use that many. */
uint32_t mg_allowedips_default_v4_tbl8s(uint32_t max_v4);
uint32_t mg_allowedips_default_v6_tbl8s(uint32_t max_v6);

struct mg_allowedips_stats {
	uint32_t v4_prefixes, v6_prefixes; /* including /0 and, for v6, /128 */
	uint32_t v6_hosts;                 /* the /128 subset */
	uint32_t peers_with_prefixes;
	uint32_t v4_tbl8s, v6_tbl8s; /* groups the tables were created with (v6: per copy) */
	size_t dpdk_bytes;           /* DPDK heap taken by the tables at create (they never grow) */
	size_t control_bytes; /* control-side shadow: rule array, per-peer heads, change log */
};

struct mg_allowedips;

/*
 * max_v4 / max_v6: prefixes per family the table must hold. opt may be NULL (no RCU, SOCKET_ID_ANY,
 * default tbl8 counts). Needs an initialised EAL. Returns NULL with rte_errno set: EINVAL for a
 * capacity over 1<<24 or a tbl8 count over its MG_MAX_V*_TBL8_GROUPS, ENOMEM when the DPDK
 * heap cannot hold the tables.
 */
struct mg_allowedips *mg_allowedips_create(uint32_t max_v4, uint32_t max_v6,
                                           const struct mg_allowedips_options *opt);
/* The caller guarantees no reader still uses the table. NULL is a no-op. */
void mg_allowedips_free(struct mg_allowedips *t);

/*
 * family is AF_INET or AF_INET6; addr points to 4 or 16 bytes in network order; bits past len
 * are ignored (the prefix is stored masked). Inserting an existing prefix moves it to the new
 * peer. Returns 0, -EINVAL (family, len or peer out of range), -ENOSPC (family's prefix limit
 * or tbl8 groups exhausted) or -ENOMEM; on error nothing changed.
 */
int mg_allowedips_insert(struct mg_allowedips *t, int family, const void *addr, uint8_t len,
                         uint32_t peer);
/* 0, -ENOENT when the exact prefix is absent, -EINVAL on bad family/len. */
int mg_allowedips_remove(struct mg_allowedips *t, int family, const void *addr, uint8_t len);
/* Removes every prefix of the peer; returns how many (>= 0) or -EINVAL / -EIO. */
int mg_allowedips_remove_peer(struct mg_allowedips *t, uint32_t peer);
/* Publishes pending IPv6 route changes (see above). 0 or -EIO when a copy could not be
 * rebuilt (readers then keep the last good table). */
int mg_allowedips_commit(struct mg_allowedips *t);

/* Control side: the peer of the exact prefix (0) or -ENOENT / -EINVAL. */
int mg_allowedips_get(const struct mg_allowedips *t, int family, const void *addr, uint8_t len,
                      uint32_t *peer);
/* Control side: calls fn for each prefix of the peer (addr in network order). Stops early and
 * returns fn's value when it is non-zero; 0 otherwise. */
int mg_allowedips_for_each(const struct mg_allowedips *t, uint32_t peer,
                           int (*fn)(void *ctx, int family, const uint8_t *addr, uint8_t len),
                           void *ctx);
void mg_allowedips_get_stats(const struct mg_allowedips *t, struct mg_allowedips_stats *st);

/*
 * Data path. ips4 holds IPv4 addresses in host byte order (as rte_lpm wants; convert with
 * rte_be_to_cpu_32 while gathering). ips6[i] points to 16 bytes in network order, e.g. straight
 * into the packet. peers[i] receives the peer slot or MG_ALLOWEDIPS_NO_PEER. Any n.
 */
/* One address (family 4 or 6, network order): its peer slot or MG_ALLOWEDIPS_NO_PEER. */
uint32_t mg_allowedips_lookup(const struct mg_allowedips *t, uint8_t family, const uint8_t *addr);
void mg_allowedips_lookup4_bulk(const struct mg_allowedips *t, const uint32_t *ips4,
                                uint32_t *peers, unsigned n);
void mg_allowedips_lookup6_bulk(const struct mg_allowedips *t, const uint8_t *const *ips6,
                                uint32_t *peers, unsigned n);

#endif
