/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The agent's enforcement of the map's packet filter: one nftables table of its own,
 * `inet meshgate-<ifname>`, loaded through libnftables. Every load is one transaction that
 * deletes the table (whatever an earlier run, even a killed one, left) and adds the new one,
 * so the kernel never holds two versions, nor a moment with none.
 *
 * The table filters what arrives on the WireGuard interface, in the input hook (for this host)
 * and the forward hook (for the routes it carries):
 *   - replies in flows this side opened pass (conntrack: ct direction reply, established);
 *   - ICMP errors about a tracked flow pass (ct state related, ICMP or ICMPv6);
 *   - anything else passes only when a filter rule admits it, checked on every packet, so a
 *     flow the peer opened ends when the policy stops admitting it;
 *   - the rest is counted in the named counter `policy_drops` and dropped.
 * Traffic this host sends into the mesh is not filtered here: each receiver enforces its own.
 */
#ifndef MESHGATE_AGENT_NFT_H
#define MESHGATE_AGENT_NFT_H

#include <stddef.h>
#include <stdint.h>

#include "filter.h"

#define MG_NFT_TABLE_PREFIX "meshgate-"
#define MG_NFT_DROP_COUNTER "policy_drops"

struct mg_nft;

/* A libnftables context for ifname's table; NULL with err set (a name nft cannot carry). */
struct mg_nft *mg_nft_new(const char *ifname, char *err, size_t errlen);
/* Drops the context; the table stays (mg_nft_remove takes it away). */
void mg_nft_free(struct mg_nft *n);

/*
 * Replaces the table with one that enforces f (an empty filter admits nothing new). The drop
 * counter carries over from the table it replaces. Returns 0, or -1 with err holding nft's
 * message, in which case the table in force is unchanged.
 */
int mg_nft_apply(struct mg_nft *n, const struct mg_filter *f, char *err, size_t errlen);
/*
 * With mark (not 0), every later load also carries the exit node's chains: the mark of
 * outgoing packets is saved in conntrack and restored onto their replies (see exit_route.h).
 */
void mg_nft_set_exit_mark(struct mg_nft *n, uint32_t mark);
/* Deletes the table if it exists. Returns 0 or -1 with err set. */
int mg_nft_remove(struct mg_nft *n, char *err, size_t errlen);
/* The drop counter of the table in force; -1 when there is none. */
int mg_nft_drops(struct mg_nft *n, uint64_t *packets, uint64_t *bytes);

/*
 * The ruleset mg_nft_apply loads, as nft text (the table's name, ifname, f, the counter's
 * starting values). Caller frees; NULL when out of memory. Exposed for tests.
 */
char *mg_nft_ruleset(const char *table, const char *ifname, const struct mg_filter *f,
                     uint64_t packets, uint64_t bytes);

#endif
