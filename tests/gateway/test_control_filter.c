// SPDX-License-Identifier: GPL-2.0-only
/*
 * The packet filter through the whole gateway (control thread, worker, real sessions with the
 * fake far hosts): a static filter admits one peer's (A) traffic to the LAN host and not another's
 * (C); what it refuses is counted under reason policy and in that peer's policy_drops; a flow the
 * LAN host opens lets its replies in; removing the filter lets everything through again.
 */
#include <string.h>

#include "acl.h"
#include "check.h"
#include "control_harness.h"

static uint64_t policy_drops(const struct far *x)
{
	struct mg_peer *p = h_peer(x);
	uint64_t n = 0;
	for (unsigned w = 0; p && w < H.ctl->gw.n_workers; w++)
		n += H.ctl->gw.peer_counters[w][p->slot].policy_drops;
	return n;
}

/* True when one data message from x reaches the LAN. */
static bool reaches_lan(struct far *x, uint32_t seq)
{
	unsigned lan = H.n_wire;
	return far_send_data(x, seq) && h_count_lan(lan) == 1;
}

void test_filter_enforced(void)
{
	struct far *a = &H.far[FAR_A], *c = &H.far[FAR_C];
	struct mg_control *ctl = H.ctl;
	char err[256];

	if (!far_handshake(a, 20000) || !far_handshake(c, 20001)) {
		CHECK(false, "fresh sessions with A and C");
		return;
	}
	/* A's prefix may reach the LAN host, by any protocol (the harness sends protocol 253). */
	struct mg_prefix host = {.family = 4, .len = 32};
	memcpy(host.addr, h_host4, 4);
	struct mg_port_range all = {0, 65535};
	struct mg_filter_rule rule = {.src = &a->prefix,
	                              .n_src = 1,
	                              .dst = &host,
	                              .n_dst = 1,
	                              .proto = MG_FILTER_ANY,
	                              .ports = &all,
	                              .n_ports = 1};
	struct mg_filter f = {.rules = &rule, .n_rules = 1};
	CHECK(mg_control_set_filter(ctl, &f, MG_FILTER_CONFIG, err, sizeof(err)) == 0, "%s", err);
	const struct mg_acl *acl = mg_gateway_acl(&ctl->gw);
	CHECK(acl && acl->n_rules4 == 1 && ctl->filter.n_rules == 1, "one rule in force");

	uint64_t refused = H.w->counters.drops[MG_DROP_POLICY], pc = policy_drops(c),
	         pa = policy_drops(a);
	CHECK(reaches_lan(a, 20002), "A's traffic passes the filter");
	CHECK(!reaches_lan(c, 20003) && !reaches_lan(c, 20004), "C's does not");
	CHECK(H.w->counters.drops[MG_DROP_POLICY] == refused + 2, "two drops under reason policy");
	CHECK(policy_drops(c) == pc + 2 && policy_drops(a) == pa, "counted for C, not for A");

	/* The LAN host opens a flow to C (protocol 253: tracked by addresses): C's replies pass. */
	uint64_t created = H.w->counters.flows.created;
	h_lan_send(c->inner, 20005);
	h_run(5 * H_MS, H_MS);
	CHECK(H.w->counters.flows.created == created + 1, "the LAN host's packet opened a flow");
	CHECK(reaches_lan(c, 20006), "C's reply to it passes");
	CHECK(H.w->counters.flows.replies >= 1, "counted as a reply");

	/* No filter: everything passes again, nothing more is tracked. */
	CHECK(mg_control_set_filter(ctl, NULL, MG_FILTER_NONE, err, sizeof(err)) == 0 &&
	          !mg_gateway_acl(&ctl->gw),
	      "filter removed");
	created = H.w->counters.flows.created;
	h_lan_send(a->inner, 20007);
	h_run(5 * H_MS, H_MS);
	CHECK(H.w->counters.flows.created == created, "no filter, no tracking");
	CHECK(reaches_lan(c, 20008), "C's traffic passes without a filter");
}
