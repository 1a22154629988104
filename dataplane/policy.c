// SPDX-License-Identifier: GPL-2.0-only
/* The filter on the data path (policy.h): rte_acl first, the flow table for what it refuses. */
#include "policy.h"

#include <rte_mbuf.h>

#include "acl.h"
#include "flow.h"
#include "worker.h"

/* Flows an owner looks at per tick (every 64 polls). */
#define EXPIRE_BUDGET 64

/* Packets no rule admits (idx[0..n)): does a tracked flow own them? One bulk lookup per owner
 * table for the lot; ICMP errors then by the flow they quote. */
static void tracked(struct mg_worker *w, uint8_t *const *ip, const struct mg_l3 *l3,
                    const struct mg_pkt_tuple *t, const unsigned *idx, unsigned n, bool *pass)
{
	struct mg_flows *f = w->gw->flows;
	struct mg_flow_counters *c = &w->counters.flows;
	const struct mg_flow_key *keys[MG_BURST];
	bool hit[MG_BURST];

	if (!f || !n)
		return;
	for (unsigned j = 0; j < n; j++)
		keys[j] = &t[idx[j]].key;
	mg_flows_lookup_bulk(f, keys, n, w->now_ns, hit);
	for (unsigned j = 0; j < n; j++) {
		unsigned i = idx[j];
		struct mg_flow_key k;
		if (hit[j]) {
			c->replies++;
			pass[i] = true;
		} else if (t[i].icmp_error &&
		           mg_flow_key_of_icmp_error(ip[i], &l3[i], &t[i], &k) == 0 &&
		           mg_flows_lookup(f, &k, w->now_ns)) {
			c->replies++;
			c->icmp_errors++;
			pass[i] = true;
		}
	}
}

void mg_policy_inbound(struct mg_worker *w, const struct mg_acl *acl, uint8_t *const *ip,
                       const struct mg_l3 *l3, bool *pass, unsigned n)
{
	struct mg_pkt_tuple t[MG_BURST];
	const struct mg_flow_key *k4[MG_BURST], *k6[MG_BURST];
	unsigned pos4[MG_BURST], pos6[MG_BURST], miss[MG_BURST], n4 = 0, n6 = 0, n_miss = 0;
	bool hit4[MG_BURST], hit6[MG_BURST];

	for (unsigned i = 0; i < n; i++) {
		pass[i] = false;
		if (mg_pkt_tuple(ip[i], &l3[i], &t[i]) != 0)
			continue; /* headers the filter cannot read: refused */
		if (t[i].later_fragment) {
			/* No ports to look at: the first fragment was judged (as Tailscale does).
			 */
			w->counters.flows.fragments++;
			pass[i] = true;
			continue;
		}
		if (l3[i].family == 4) {
			pos4[n4] = i;
			k4[n4++] = &t[i].key;
		} else {
			pos6[n6] = i;
			k6[n6++] = &t[i].key;
		}
	}
	if (n4)
		mg_acl_classify(acl, 4, k4, hit4, n4);
	if (n6)
		mg_acl_classify(acl, 6, k6, hit6, n6);
	/* What no rule admits goes to the flow table, in any order (tracked maps it back). */
	for (unsigned j = 0; j < n4; j++) {
		pass[pos4[j]] = hit4[j];
		miss[n_miss] = pos4[j];
		n_miss += !hit4[j];
	}
	for (unsigned j = 0; j < n6; j++) {
		pass[pos6[j]] = hit6[j];
		miss[n_miss] = pos6[j];
		n_miss += !hit6[j];
	}
	tracked(w, ip, l3, t, miss, n_miss, pass);
}

void mg_policy_outbound(struct mg_worker *w, struct rte_mbuf *const *frames, unsigned n)
{
	struct mg_gateway *gw = w->gw;

	if (!gw->flows || !mg_gateway_acl(gw))
		return;
	for (unsigned i = 0; i < n; i++) {
		struct rte_mbuf *m = frames[i];
		const uint8_t *ip = rte_pktmbuf_mtod_offset(m, const uint8_t *, MG_ETH_HLEN);
		struct mg_l3 l3;
		struct mg_pkt_tuple t;
		if (m->data_len <= MG_ETH_HLEN ||
		    mg_pkt_parse_ip(ip, m->data_len - MG_ETH_HLEN, &l3) != 0 ||
		    mg_pkt_tuple(ip, &l3, &t) != 0)
			continue;
		mg_flows_track(gw->flows, w->id, &t, w->now_ns, &w->counters.flows);
	}
}

void mg_policy_track_local(struct mg_gateway *gw, const uint8_t *ip, uint32_t len, uint64_t now_ns,
                           struct mg_flow_counters *c)
{
	struct mg_l3 l3;
	struct mg_pkt_tuple t;

	if (!gw->flows || !mg_gateway_acl(gw) || mg_pkt_parse_ip(ip, len, &l3) != 0 ||
	    mg_pkt_tuple(ip, &l3, &t) != 0)
		return;
	/* The control thread is the last owner. */
	mg_flows_track(gw->flows, mg_flows_owners(gw->flows) - 1, &t, now_ns, c);
}

void mg_policy_tick(struct mg_worker *w)
{
	if (w->gw->flows)
		mg_flows_expire(w->gw->flows, w->id, w->now_ns, EXPIRE_BUDGET, &w->counters.flows);
}
