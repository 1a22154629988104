/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Exit-node NAT: packets a mesh peer sends to the internet leave by the uplink with their source
 * translated (IPv4 NAPT to the uplink address or a pool, IPv6 masquerade to the uplink's IPv6
 * address, both with port translation), and what comes back is translated to the peer's address
 * and handed to encap. TCP, UDP and ICMP echo (by identifier); ICMP errors are translated in
 * their quoted header too.
 *
 * Mappings are endpoint independent (RFC 4787 REQ-1, RFC 5382 REQ-1): one external port per
 * internal (address, port, protocol), whatever the destination, so hole punching through the
 * exit node works. Filtering is endpoint independent as well (RFC 4787 REQ-8's "transparency"
 * choice): any remote may answer on a live mapping, which is what hole punching needs.
 *
 * The table. Workers never take a lock, so no table may have two writers: each worker owns an
 * rte_hash of the mappings it created (single writer, lock-free readers:
 * RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF), a slice of the mapping pool and a slice of the port
 * range of every external address. Return traffic names its worker by its port, and finds its
 * mapping in a flat array indexed by (external address, protocol, port) that every worker reads;
 * outbound packets look in their own worker's hash first, then the others', since one peer's
 * packets may be decrypted on any worker. Two workers that see the first packets of one new flow
 * in the same instant may both create a mapping; both work for return traffic and the unused one
 * expires.
 *
 * Expiry is amortized on each owner (mg_nat_expire from the worker loop) and what it deletes is
 * reused only after an RCU grace period (an rte_rcu_qsbr defer queue per worker), so a reader
 * on another worker may keep a mapping it found until its next quiescent state.
 */
#ifndef MESHGATE_DATAPLANE_NAT_H
#define MESHGATE_DATAPLANE_NAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "counters.h"
#include "dp_config.h"
#include "pkt.h"

struct rte_mbuf;
struct rte_rcu_qsbr;
struct mg_nat;
struct mg_worker;

/*
 * cfg must be enabled; addrs supplies the uplink's own addresses where cfg names none.
 * n_workers: owners of slices (1..MG_MAX_WORKERS). rcu: the workers' QSBR variable, or NULL
 * (tests, single-threaded: freed at once). mtu: the tunnel's inner MTU, for the MSS clamp.
 * Returns NULL with a reason in err.
 */
struct mg_nat *mg_nat_create(const struct mg_dp_exit_config *cfg, const struct mg_dp_addrs *addrs,
                             unsigned n_workers, uint16_t mtu, struct rte_rcu_qsbr *rcu, char *err,
                             size_t errlen);
/* The workers have stopped. NULL is fine. */
void mg_nat_free(struct mg_nat *nat);

uint8_t mg_nat_uplink(const struct mg_nat *nat);
/* Bytes of DPDK memory the table holds (hashes, pool, inbound index). */
size_t mg_nat_memory(const struct mg_nat *nat);

/*
 * Whether a decrypted packet leaves through the NAT: its destination is outside the mesh
 * (overlay prefixes), the LAN port's subnets and the configured exclusions, and the NAT has an
 * external address of its family.
 */
bool mg_nat_wants(const struct mg_nat *nat, const struct mg_dp_addrs *addrs,
                  const struct mg_l3 *l3);

/*
 * Translates the packet at ip (l3 parsed from it, total_len bytes writable) in place, creating
 * a mapping owned by worker when none exists. Returns 0, or -1 with *why set (the caller drops).
 */
int mg_nat_translate_out(struct mg_nat *nat, unsigned worker, uint8_t *ip, const struct mg_l3 *l3,
                         uint64_t now_ns, struct mg_worker_counters *c, enum mg_drop_reason *why);
/* The most packets one burst call takes (rte_hash's bulk lookup allows 64). */
#define MG_NAT_BURST 32
/*
 * mg_nat_translate_out for n <= MG_NAT_BURST packets at once: one bulk lookup of the worker's
 * own hash for the whole burst, then the translations; only misses look further (the other
 * workers' hashes) or insert. rc[i] is what mg_nat_translate_out would return for ip[i], with
 * why[i] set when it is -1. Packets are translated in order, so two packets of one new flow in
 * a burst share the mapping the first creates.
 */
void mg_nat_translate_out_burst(struct mg_nat *nat, unsigned worker, uint8_t *const ip[],
                                const struct mg_l3 l3[], unsigned n, uint64_t now_ns,
                                struct mg_worker_counters *c, int rc[], enum mg_drop_reason why[]);
/*
 * Return traffic: 1 translated in place (destination now the peer's address), 0 not the NAT's
 * (no mapping: the caller goes on as without NAT), -1 drop with *why.
 */
int mg_nat_translate_in(struct mg_nat *nat, uint8_t *ip, const struct mg_l3 *l3, uint64_t now_ns,
                        struct mg_worker_counters *c, enum mg_drop_reason *why);

/*
 * Owner side: checks up to budget of worker's mappings for expiry and recycles those whose
 * grace period has passed. Call from the worker that owns the slice.
 */
void mg_nat_expire(struct mg_nat *nat, unsigned worker, uint64_t now_ns, unsigned budget,
                   struct mg_worker_counters *c);

/* ---- worker hooks (decap.c, worker.c) ---- */

/*
 * Decrypted packets (data at the IP header, n <= MG_NAT_BURST) that mg_nat_wants, collected
 * from one decrypt burst: translate as a burst, route, send.
 */
void mg_nat_forward_burst(struct mg_worker *w, struct rte_mbuf *const m[], const struct mg_l3 l3[],
                          unsigned n);

enum mg_nat_rx {
	MG_NAT_RX_PASS,    /* not the NAT's: handle as without it */
	MG_NAT_RX_ENCAP,   /* translated: the frame goes to encap towards its peer */
	MG_NAT_RX_DROPPED, /* counted and freed */
};
/* A frame from the uplink addressed to an external address (l3 parsed at MG_ETH_HLEN). */
enum mg_nat_rx mg_nat_rx(struct mg_worker *w, struct rte_mbuf *m, const struct mg_l3 *l3);
/* Amortized upkeep from the worker loop. */
void mg_nat_tick(struct mg_worker *w);

#endif
