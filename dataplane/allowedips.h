/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The data plane's allowed-IPs table: IPv4 and IPv6 longest-prefix match from an address to a
 * peer slot. One control thread writes; any number of worker lcores read without locks.
 *
 * Layout and why (DPDK 22.11):
 *  - Routes (IPv4 /1../32, IPv6 /1../127) live in two copies per family: readers use the active
 *    one through an atomically published pointer, the writer changes the standby one and logs
 *    what it touched. mg_allowedips_commit() publishes the standbys, waits for a grace period
 *    (rte_rcu_qsbr_synchronize), then brings the old copies up to date: it replays the log, or,
 *    after a change that touched most routes or grew a copy, builds the copy anew from the
 *    shadow, shortest prefixes first. Each commit waits one grace period (one worker loop) and
 *    each route change is done twice.
 *  - IPv4 copies are rte_fib (DIR24_8, 4-byte next hops). rte_lpm was dropped (issue #16): its
 *    rules are an array per prefix length that every insert scans whole for a duplicate, so a
 *    load is quadratic (1,000,000 prefixes took 81 s); rte_fib keeps its rules in an rte_rib
 *    tree (1,000,000 inserts in about a second). rte_fib has no RCU hook in 22.11 and frees and
 *    zeroes tbl8 groups at once, hence the two copies. Lookup: one tbl24 read (plus one tbl8
 *    read past /24), as rte_lpm. An rte_fib takes two rib nodes (~200 B each) per route of
 *    capacity, so the copies start at 1,024 routes and are rebuilt twice as large as routes
 *    arrive, up to max_v4: that part of the memory follows the routes held, not max_v4.
 *  - IPv6 copies are rte_lpm6: neither rte_lpm6 nor rte_fib6 is safe for concurrent readers in
 *    22.11 (no RCU hook; tbl8 groups are freed and reused at once; entries are rewritten without
 *    atomic stores). rte_fib6 (trie) was rejected: in DPDK 22.11.11 it returns wrong next hops
 *    once a route reaching the top of the address space (e.g. e000::/3) sits inside another
 *    route; the range walk wraps around to :: (found by this module's randomized test).
 *  - IPv6 /128 (the usual WireGuard host address): an rte_hash in lock-free read/write mode
 *    with its RCU integration, updated in place. A /128 is always the longest match, so a
 *    hit ends the lookup. Cost: one hash probe per IPv6 packet, ~100 bytes per host route,
 *    and no tbl8 chains (a /128 in a multibit trie needs up to 13 tbl8 groups, 13 KiB).
 *  - /0 in either family: a published default peer used on a miss.
 *
 * Memory (issue #6; bench/memory_bench measures it): the four tbl24 arrays (two per family) are
 * a fixed 256 MiB. Rule capacity (max_v4, max_v6) is cheap: the shadow and hash slots, a few
 * hundred bytes per prefix of capacity; IPv4 routes held cost ~800 B more each (rib nodes, both
 * copies). tbl8 groups are the expensive part (1 KiB each, in both copies) and are sized
 * separately, from the options below, never from the rule capacity alone.
 *  - IPv4: a prefix longer than /24 takes the group of its /24 (one per distinct /24); /24 and
 *    shorter take none. Default MG_ALLOWEDIPS_DEFAULT_V4_TBL8S per copy (64 MiB each): 65,536
 *    distinct /24s holding host routes, e.g. 65,536 peers whose /32s are all in different /24s.
 *  - IPv6 routes (/1../127 but /128): one group per distinct (24 + 8k)-bit prefix on the way
 *    down, k = 1 .. (len - 24) / 8 rounded up. Peers' /64s in their own /48s take 2-5 groups
 *    each (the netns scale load, 40,000 such /64s over 10,000 peers, takes 100,040). Default
 *    MG_ALLOWEDIPS_DEFAULT_V6_TBL8S per copy (128 MiB each, 256 MiB both).
 *  Both defaults shrink for small tables to what the capacity could use (IPv4: max_v4; IPv6:
 *  1024 + 4 * max_v6).
 *
 * Visibility: IPv6 /128 and /0 changes are visible to readers when the call returns; route
 * changes of either family when mg_allowedips_commit() returns. Call commit after a batch.
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
/* rte_lpm6 stores 21-bit next hops; larger slots are refused. */
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
	size_t dpdk_bytes;           /* DPDK heap the tables take (IPv4 copies grow with routes) */
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
/* One prefix of a batch: as mg_allowedips_insert's arguments. */
struct mg_allowedips_entry {
	int family;
	uint8_t addr[16];
	uint8_t len;
	uint32_t peer;
};

/*
 * Inserts a batch (a peer's allowed IPs, a whole map or config) with the result of n
 * mg_allowedips_insert calls in input order (a later duplicate wins), but applied shortest
 * prefix first and with the IPv4 standby copy grown once to its final size. Returns 0 or the
 * first error; *failed (may be NULL) then names the entry. -EINVAL for a bad entry: nothing
 * changed. Other errors: the entries applied before it stay, as after single inserts. Call
 * mg_allowedips_commit() after it, as after single inserts.
 */
int mg_allowedips_insert_bulk(struct mg_allowedips *t, const struct mg_allowedips_entry *e,
                              size_t n, size_t *failed);
/* 0, -ENOENT when the exact prefix is absent, -EINVAL on bad family/len. */
int mg_allowedips_remove(struct mg_allowedips *t, int family, const void *addr, uint8_t len);
/* Removes every prefix of the peer; returns how many (>= 0) or -EINVAL / -EIO. */
int mg_allowedips_remove_peer(struct mg_allowedips *t, uint32_t peer);
/* Publishes pending route changes (see above). 0 or -EIO when a copy could not be rebuilt
 * (readers then keep the last good table). */
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
 * Data path. ips4 holds IPv4 addresses in host byte order (as rte_fib wants; convert with
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
