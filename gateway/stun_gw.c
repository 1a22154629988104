// SPDX-License-Identifier: GPL-2.0-only
/*
 * The gateway's STUN client: every stun.interval seconds a Binding request from the WireGuard
 * port to each configured server, answers punted by the workers, and the agent's verdicts
 * (nat_probe.h): one mapping for two servers is "easy" (or "none" when it is the mesh port's
 * own address and listen port), two mappings are "hard". A result that differs from the last
 * one is logged and reported to the coordinator, which reopens the map stream at once, so
 * peers learn a new public endpoint within a probe interval and a round trip. Without servers
 * in the config, the relays' STUN ports from the relay map (node/stun_servers.h).
 */
#include <errno.h>
#include <string.h>

#include "control.h"
#include "coord_client.h"
#include "log.h"
#include "pkt.h"
#include "nat_gw.h"
#include "wgport.h"

/* A server that has not answered within this much of a round counts as silent. */
#define ROUND_WAIT_NS (1500ull * 1000 * 1000)
#define MS            (1000ull * 1000)

static bool ep_equal(const struct mg_sockaddr *a, const struct mg_sockaddr *b)
{
	return a->family == b->family && a->port == b->port &&
	       mg_addr_eq(a->family, a->addr, b->addr);
}

void mg_stun_gw_input(struct mg_control *ctl, const struct mg_wgport_item *it, const uint8_t *buf,
                      size_t len, uint64_t now_ns)
{
	struct mg_nat_gw *ng = ctl->nat;
	struct mg_stun_msg msg;
	struct mg_sockaddr mapped;
	for (size_t i = 0; ng->in_round && i < ng->cfg.n_servers; i++) {
		if (!ep_equal(&it->src, &ng->cfg.servers[i]) || ng->answered[i])
			continue;
		if (mg_stun_parse_response(buf, len, ng->txid[i], &msg, &mapped) != MG_STUN_OK)
			continue;
		ng->answered[i] = true;
		ng->mapped[i] = mapped;
		/* Arrival as the worker stamped it: the control loop's delay is not the path's. */
		uint64_t rx = it->rx_ns > ng->round_start_ns ? it->rx_ns : now_ns;
		ng->rtt_ms[i] = (int)((rx - ng->round_start_ns) / MS);
		ng->stun.answers++;
		return;
	}
	/* Someone else's request, a late or foreign answer: we are no STUN server. */
	ng->stun.refused++;
}

static bool same_result(const struct mg_stun_gw_result *a, const struct mg_stun_gw_result *b)
{
	if (a->valid != b->valid || a->n_mapped != b->n_mapped || strcmp(a->nat, b->nat) != 0)
		return false;
	for (size_t i = 0; i < a->n_mapped; i++)
		if (!ep_equal(&a->mapped[i], &b->mapped[i]))
			return false;
	return true;
}

static void log_result(const struct mg_stun_gw_result *r)
{
	char eps[2][MG_SOCKADDR_STRLEN] = {"", ""};
	for (size_t i = 0; i < r->n_mapped; i++)
		mg_sockaddr_format(&r->mapped[i], eps[i], sizeof(eps[i]));
	struct mg_log_line l;
	mg_log_begin(&l, MG_LOG_INFO, "stun mapping");
	mg_log_str(&l, "nat", r->nat);
	mg_log_str(&l, "endpoint", eps[0]);
	if (r->n_mapped > 1)
		mg_log_str(&l, "endpoint2", eps[1]);
	mg_log_end(&l);
}

static void finish_round(struct mg_control *ctl, uint64_t now_ns)
{
	struct mg_nat_gw *ng = ctl->nat;
	struct mg_stun_gw_result r = {.valid = true, .nat = "unknown", .rtt_ms = {-1, -1}};
	size_t answers = 0;
	for (size_t i = 0; i < ng->cfg.n_servers; i++) {
		r.rtt_ms[i] = ng->answered[i] ? ng->rtt_ms[i] : -1;
		if (!ng->answered[i])
			continue;
		answers++;
		if (r.n_mapped == 0 || !ep_equal(&r.mapped[0], &ng->mapped[i]))
			r.mapped[r.n_mapped++] = ng->mapped[i];
	}
	if (r.n_mapped == 2) {
		r.nat = "hard";
	} else if (answers == 2) {
		const struct mg_port_addrs *pa = &mg_gateway_addrs(&ctl->gw)->ports[MG_PORT_MESH];
		uint16_t port = __atomic_load_n(&ctl->gw.listen_port, __ATOMIC_RELAXED);
		r.nat = r.mapped[0].port == port &&
		                mg_port_is_own_addr(pa, r.mapped[0].family, r.mapped[0].addr)
		            ? "none"
		            : "easy";
	}
	/* With one server (or one answer) the mapping is known but not how the NAT maps. */
	r.at_ns = now_ns;
	ng->in_round = false;
	ng->stun.rounds++;
	bool changed = !same_result(&r, &ng->last);
	ng->last = r;
	if (!changed)
		return;
	ng->stun.changes++;
	log_result(&r);
	if (ctl->coord)
		mg_coord_client_set_stun(ctl->coord, r.mapped, r.n_mapped, r.nat);
}

static void send_round(struct mg_control *ctl, uint64_t now_ns)
{
	struct mg_nat_gw *ng = ctl->nat;
	for (size_t i = 0; i < ng->cfg.n_servers; i++) {
		uint8_t req[MG_STUN_REQUEST_LEN];
		size_t len = mg_stun_build_request(req, sizeof(req), ng->txid[i]);
		ng->answered[i] = false;
		int rc = mg_nat_gw_send(ctl, &ng->cfg.servers[i], req, len, now_ns);
		/* -EAGAIN: sent once the next hop answers ARP/ND. */
		if (rc != 0 && rc != -EAGAIN)
			ng->stun.send_failed++;
		else
			ng->stun.requests_sent++;
	}
	ng->round_start_ns = now_ns;
	ng->next_round_ns = now_ns + (uint64_t)ng->cfg.interval_s * 1000 * MS;
	ng->in_round = true;
}

void mg_stun_gw_set_map(struct mg_control *ctl, const struct mg_netmap_relay *relays, size_t n)
{
	if (ctl->nat && ctl->nat->map)
		mg_stun_servers_set_map(ctl->nat->map, relays, n);
}

/* Servers from the relay map, of the families the mesh port has an address of: a new set voids
 * the round under way and starts one at once. */
static void map_poll(struct mg_control *ctl, uint64_t now_ns)
{
	struct mg_nat_gw *ng = ctl->nat;
	const struct mg_port_addrs *pa = &mg_gateway_addrs(&ctl->gw)->ports[MG_PORT_MESH];
	unsigned fam =
	    (pa->has_ipv4 ? MG_STUN_FAMILY_4 : 0) | (pa->has_ipv6 ? MG_STUN_FAMILY_6 : 0);

	if (!mg_stun_servers_poll(ng->map, (int64_t)(now_ns / (1000 * MS)), fam))
		return;
	memcpy(ng->cfg.servers, ng->map->servers, sizeof(ng->cfg.servers));
	ng->cfg.n_servers = ng->map->n_servers;
	ng->in_round = false;
	ng->answered[0] = ng->answered[1] = false;
	ng->next_round_ns = now_ns;
}

unsigned mg_stun_gw_tick(struct mg_control *ctl, uint64_t now_ns)
{
	struct mg_nat_gw *ng = ctl->nat;
	if (!ng->cfg.enabled)
		return 0;
	if (ng->map)
		map_poll(ctl, now_ns);
	bool all = true;
	for (size_t i = 0; i < ng->cfg.n_servers; i++)
		all &= ng->answered[i];
	unsigned work = 0;
	if (ng->in_round && (all || now_ns - ng->round_start_ns >= ROUND_WAIT_NS)) {
		finish_round(ctl, now_ns);
		work++;
	}
	if (!ng->in_round && now_ns >= ng->next_round_ns && ng->cfg.n_servers > 0) {
		send_round(ctl, now_ns);
		work++;
	}
	return work;
}
