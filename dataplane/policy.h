/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Where the packet filter meets the packets. Decrypted packets (mesh to LAN or to the gateway)
 * pass when a rule of the filter in force admits them, or when they belong to a flow this side
 * opened: a reply, or an ICMP error about one. Everything that leaves for the mesh while a
 * filter is in force opens or refreshes its flow (flow.h). docs/coord-protocol.md, "Enforcement",
 * states the semantics.
 */
#ifndef MESHGATE_DATAPLANE_POLICY_H
#define MESHGATE_DATAPLANE_POLICY_H

#include <stdbool.h>
#include <stdint.h>

#include "pkt.h"

struct rte_mbuf;
struct mg_acl;
struct mg_gateway;
struct mg_worker;
struct mg_flow_counters;

/*
 * Decap: pass[i] says whether the decrypted packet ip[i] (parsed as l3[i]) may go on. One
 * rte_acl_classify call per family present (for the packets some rule could take, acl.h); the
 * flow table only for what no rule admits.
 * n <= MG_BURST.
 */
void mg_policy_inbound(struct mg_worker *w, const struct mg_acl *acl, uint8_t *const *ip,
                       const struct mg_l3 *l3, bool *pass, unsigned n);
/* Encap: frames (IP header at MG_ETH_HLEN) about to be sealed for a peer. No-op without a
 * filter in force. */
void mg_policy_outbound(struct mg_worker *w, struct rte_mbuf *const *frames, unsigned n);
/* Control thread: a packet the gateway itself sends into the tunnel (len bytes at ip). */
void mg_policy_track_local(struct mg_gateway *gw, const uint8_t *ip, uint32_t len, uint64_t now_ns,
                           struct mg_flow_counters *c);
/* Worker loop: amortized expiry of the worker's own flows. */
void mg_policy_tick(struct mg_worker *w);

#endif
