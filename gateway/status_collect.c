// SPDX-License-Identifier: GPL-2.0-only
/*
 * A status snapshot from a running gateway, taken on the control thread. The per-worker and
 * per-peer counters are plain uint64_t that each worker writes alone; reading them here without
 * atomics may give a value one burst old, never a torn one (aligned 64-bit loads on every
 * platform DPDK supports). Peers are read through gw->peers, which only this thread changes.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mempool.h>

#include "counters.h"
#include "keys.h"
#include "log.h"
#include "relay_ring.h"
#include "peer.h"
#include "status.h"
#include "acl.h"
#include "flow.h"
#include "worker.h"

static const char *const port_names[MG_PORT_COUNT] = {"lan", "mesh"};

static uint64_t wall_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void collect_ports(const struct mg_gateway *gw, struct mg_status *st)
{
	const struct rte_mempool *seen[MG_PORT_COUNT] = {NULL};
	for (unsigned i = 0; i < MG_PORT_COUNT; i++) {
		const struct mg_port *mp = &gw->ports[i];
		struct mg_status_port *p = &st->ports[i];
		snprintf(p->name, sizeof(p->name), "%s", port_names[i]);
		p->port_id = mp->port_id;
		snprintf(p->mac, sizeof(p->mac), RTE_ETHER_ADDR_PRT_FMT,
		         RTE_ETHER_ADDR_BYTES(&mp->mac));
		snprintf(p->devargs, sizeof(p->devargs), "%s", gw->conf.ports[i].devargs);
		if (rte_eth_dev_is_valid_port(mp->port_id)) {
			struct rte_eth_link link;
			memset(&link, 0, sizeof(link));
			if (rte_eth_link_get_nowait(mp->port_id, &link) == 0) {
				p->link_up = link.link_status == RTE_ETH_LINK_UP;
				p->speed_mbps = link.link_speed == RTE_ETH_SPEED_NUM_UNKNOWN
				                    ? 0
				                    : link.link_speed;
				p->full_duplex = link.link_duplex == RTE_ETH_LINK_FULL_DUPLEX;
			}
			struct rte_eth_stats es;
			if (rte_eth_stats_get(mp->port_id, &es) == 0) {
				p->nic_rx_missed = es.imissed;
				p->nic_rx_errors = es.ierrors;
				p->nic_tx_errors = es.oerrors;
			}
		}
		/* Both ports may share one pool: count it once, under the first port. */
		bool shared = false;
		for (unsigned j = 0; j < i; j++)
			shared |= seen[j] == mp->pool;
		seen[i] = mp->pool;
		if (mp->pool && !shared) {
			p->mbufs_in_use = rte_mempool_in_use_count(mp->pool);
			p->mbufs_total = mp->pool->size;
		}
		for (unsigned w = 0; w < gw->n_workers; w++) {
			const struct mg_worker *wk = gw->workers[w];
			if (!wk)
				continue;
			p->rx_packets += wk->counters.rx_packets[i];
			p->rx_bytes += wk->counters.rx_bytes[i];
			p->tx_packets += wk->counters.tx_packets[i];
			p->tx_bytes += wk->counters.tx_bytes[i];
		}
	}
	st->n_ports = MG_PORT_COUNT;
}

static void add_flows(struct mg_status_filter *f, const struct mg_flow_counters *c)
{
	f->flows_created += c->created;
	f->flows_expired += c->expired;
	f->flows_full += c->full;
	f->replies += c->replies;
	f->icmp_errors += c->icmp_errors;
	f->fragments += c->fragments;
}

static void collect_filter(const struct mg_gateway *gw, const struct mg_status_sources *src,
                           struct mg_status *st)
{
	struct mg_status_filter *f = &st->filter;
	const struct mg_acl *acl = mg_gateway_acl(gw);

	f->enabled = acl != NULL;
	snprintf(f->source, sizeof(f->source), "%s",
	         acl && src->filter_source ? src->filter_source : "none");
	if (acl) {
		f->rules = src->filter_rules;
		f->acl_rules4 = acl->n_rules4;
		f->acl_rules6 = acl->n_rules6;
	}
	f->installed_unix_ns = src->filter_installed_unix_ns;
	f->changes = src->filter_changes;
	f->errors = src->filter_errors;
	if (gw->flows)
		f->flows = mg_flows_count(gw->flows);
	if (src->ctl_flows)
		add_flows(f, src->ctl_flows);
}

static void collect_workers(const struct mg_gateway *gw, struct mg_status *st)
{
	uint64_t drops[MG_DROP_REASON_COUNT] = {0};
	for (unsigned w = 0; w < gw->n_workers && w < MG_MAX_WORKERS; w++) {
		const struct mg_worker *wk = gw->workers[w];
		if (!wk)
			continue;
		const struct mg_worker_counters *c = &wk->counters;
		struct mg_status_worker *o = &st->workers[st->n_workers++];
		o->id = wk->id;
		o->lcore = wk->lcore;
		for (unsigned p = 0; p < MG_PORT_COUNT; p++) {
			o->rx_packets += c->rx_packets[p];
			o->tx_packets += c->tx_packets[p];
			o->rx_bytes += c->rx_bytes[p];
			o->tx_bytes += c->tx_bytes[p];
		}
		o->encrypted = c->encrypted;
		o->decrypted = c->decrypted;
		o->punted = c->punted;
		for (unsigned r = 0; r < MG_DROP_REASON_COUNT; r++) {
			o->drops += c->drops[r];
			drops[r] += c->drops[r];
		}
		struct mg_status_nat *n = &st->nat;
		for (unsigned p = 0; p < MG_NAT_PROTO_COUNT; p++) {
			n->created[p] += c->nat.created[p];
			/* another worker's expiry may be counted before this one's creation */
			n->flows[p] += c->nat.created[p] - c->nat.expired[p];
		}
		n->out += c->nat.out;
		n->in += c->nat.in;
		n->icmp_errors += c->nat.icmp_errors;
		n->mss_clamped += c->nat.mss_clamped;
		n->no_port += c->drops[MG_DROP_NAT_NO_PORT];
		n->table_full += c->drops[MG_DROP_NAT_TABLE_FULL];
		n->unsupported += c->drops[MG_DROP_NAT_UNSUPPORTED];
		add_flows(&st->filter, &c->flows);
		st->filter.refused += c->drops[MG_DROP_POLICY];
		o->polls = c->polls;
		o->empty_polls = c->empty_polls;
		uint64_t busy = c->busy_cycles, total = c->total_cycles;
		o->busy_seconds = gw->tsc_hz ? (double)busy / (double)gw->tsc_hz : 0.0;
		o->load = total ? (double)(busy < total ? busy : total) / (double)total : 0.0;
		o->idle_ratio = c->polls ? (double)c->empty_polls / (double)c->polls : 0.0;
	}
	for (unsigned r = 0; r < MG_DROP_REASON_COUNT; r++)
		mg_status_add_drop(st, mg_drop_reason_name((enum mg_drop_reason)r), drops[r]);
}

static int collect_peers(const struct mg_gateway *gw, const struct mg_status_sources *src,
                         struct mg_status *st)
{
	uint32_t high =
	    src->slot_high && src->slot_high < gw->max_peers ? src->slot_high : gw->max_peers;
	if (!gw->peers)
		return 0;
	for (uint32_t slot = 0; slot < high; slot++) {
		const struct mg_peer *peer = mg_gateway_peer(gw, slot);
		if (!peer)
			continue;
		struct mg_status_peer *p = mg_status_add_peer(st);
		if (!p)
			return -ENOMEM;
		wg_key_to_base64(p->public_key, peer->remote.remote_static);
		struct mg_sockaddr ep;
		bool have_ep = mg_endpoint_read(&peer->endpoint, &ep);
		if (have_ep && ep.family == MG_FAMILY_RELAY) {
			const char *via =
			    src->relay_via ? src->relay_via(src->relay_ctx, slot) : NULL;
			if (!via)
				via = src->relay_name;
			snprintf(p->path, sizeof(p->path), "relay:%s", via ? via : "?");
		} else if (have_ep) {
			mg_sockaddr_format(&ep, p->endpoint, sizeof(p->endpoint));
			snprintf(p->path, sizeof(p->path), "direct");
		}
		p->last_handshake_unix_ns = peer->last_handshake_realtime_ns;
		p->persistent_keepalive = peer->persistent_keepalive;
		for (unsigned w = 0; w < gw->n_workers; w++) {
			if (!gw->peer_counters[w])
				continue;
			const struct mg_peer_counters *c = &gw->peer_counters[w][slot];
			p->rx_bytes += c->rx_bytes;
			p->tx_bytes += c->tx_bytes;
			p->rx_packets += c->rx_packets;
			p->tx_packets += c->tx_packets;
			p->drops += c->drops;
			p->policy_drops += c->policy_drops;
		}
		if (src->ctl_counters) {
			const struct mg_peer_counters *c = &src->ctl_counters[slot];
			p->rx_bytes += c->rx_bytes;
			p->tx_bytes += c->tx_bytes;
			p->rx_packets += c->rx_packets;
			p->tx_packets += c->tx_packets;
			p->drops += c->drops;
		}
		if (mg_status_peer_set_allowed_ips(p, peer->allowed_ips, peer->n_allowed_ips) != 0)
			return -ENOMEM;
	}
	return 0;
}

static void collect_memory(struct mg_status *st)
{
	st->rss_bytes = mg_status_read_rss();
	for (unsigned i = 0; i < rte_socket_count(); i++) {
		struct rte_malloc_socket_stats ms;
		int socket = rte_socket_id_by_idx(i);
		if (socket < 0 || rte_malloc_get_socket_stats(socket, &ms) != 0)
			continue;
		st->heap_allocated_bytes += ms.heap_allocsz_bytes;
		st->heap_free_bytes += ms.heap_freesz_bytes;
	}
}

int mg_status_collect(const struct mg_gateway *gw, const struct mg_status_sources *src,
                      struct mg_status *st)
{
	snprintf(st->version, sizeof(st->version), "%s",
	         src->version && *src->version ? src->version : "unknown");
	if (src->ifname)
		snprintf(st->ifname, sizeof(st->ifname), "%s", src->ifname);
	if (src->coordinator_url)
		snprintf(st->coordinator_url, sizeof(st->coordinator_url), "%s",
		         src->coordinator_url);
	snprintf(st->log_level, sizeof(st->log_level), "%s", mg_log_level_name(mg_log_get_level()));
	st->now_unix_ns = wall_ns();
	st->start_unix_ns = src->start_unix_ns;
	st->uptime_seconds = st->now_unix_ns > src->start_unix_ns && src->start_unix_ns
	                         ? (double)(st->now_unix_ns - src->start_unix_ns) / 1e9
	                         : 0.0;
	st->listen_port = gw->listen_port;
	if (src->coord)
		st->coord = *src->coord;
	else
		st->coord.state =
		    st->coordinator_url[0] ? MG_COORD_CONNECTING : MG_COORD_STANDALONE;

	collect_ports(gw, st);
	st->nat.enabled = gw->nat != NULL;
	collect_workers(gw, st);
	collect_filter(gw, src, st);
	collect_memory(st);
	return collect_peers(gw, src, st);
}
