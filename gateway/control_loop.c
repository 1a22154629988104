// SPDX-License-Identifier: GPL-2.0-only
/*
 * The control thread's loop: packets and events from the workers, every peer's timers, ARP/ND
 * aging, reclamation after grace periods and the UAPI socket. When a pass finds nothing to do it
 * sleeps in the UAPI poll for about a millisecond instead of spinning, so several gateways can
 * share two cores in tests and the demo; a pass with work goes round again at once.
 */
#include "control.h"

#include <stddef.h>
#include <string.h>
#include <time.h>

#include <rte_ethdev.h>
#include <rte_mbuf.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "device.h"
#include "echo.h"
#include "flow.h"
#include "handshake.h"
#include "handshake_lcores.h"
#include "health.h"
#include "index_table.h"
#include "keys.h"
#include "log.h"
#include "nat_gw.h"
#include "neigh.h"
#include "pkt.h"
#include "punt.h"
#include "relay_gw.h"
#include "ports.h"

#define PUNT_BURST 32
/* Packets per pass: timers, events and the UAPI still get their turn during a flood. */
#define PUNT_BUDGET     256
#define EVENT_BURST     32
#define HOUSEKEEPING_NS (100ull * 1000 * 1000)
#define IDLE_WAIT_MS    1

/* ---- timers ---- */

enum feed_kind { FEED_TX_AUTH, FEED_TX_DATA, FEED_RX_AUTH, FEED_RX_DATA };

struct feed {
	uint64_t at;
	enum feed_kind kind;
};

/* Adds an event when v moved since *fed; true when it did. */
static bool feed_one(uint64_t v, uint64_t *fed, enum feed_kind kind, struct feed *ev, unsigned *n)
{
	if (v == *fed)
		return false;
	*fed = v;
	ev[*n].at = v;
	ev[*n].kind = kind;
	(*n)++;
	return true;
}

/* The newest of a per-worker timestamp over the workers' counters rows of the peer. */
static uint64_t newest_over_workers(const struct mg_gateway *gw, const struct mg_peer *peer,
                                    size_t field)
{
	uint64_t newest = 0;
	for (unsigned w = 0; w < gw->n_workers; w++) {
		if (!gw->peer_counters[w])
			continue;
		const char *row = (const char *)&gw->peer_counters[w][peer->slot];
		const _Atomic uint64_t *p = (const _Atomic uint64_t *)(const void *)(row + field);
		uint64_t t = atomic_load_explicit(p, memory_order_relaxed);
		newest = t > newest ? t : newest;
	}
	return newest;
}

void mg_peer_rx_times(const struct mg_gateway *gw, const struct mg_peer *peer, uint64_t *auth_ns,
                      uint64_t *data_ns)
{
	/* A data packet is also an authenticated one: the authenticated time is the newer of the
	 * data time and the keepalive time. */
	uint64_t data =
	    newest_over_workers(gw, peer, offsetof(struct mg_peer_counters, last_rx_ns));
	uint64_t keepalive =
	    atomic_load_explicit(&peer->last_keepalive_rx_ns, memory_order_relaxed);
	*data_ns = data;
	*auth_ns = keepalive > data ? keepalive : data;
}

/*
 * The workers leave timestamps instead of calling the timers (which are the control thread's).
 * Replayed in time order, each as the event the kernel raises at that point of its send or
 * receive path; an authenticated packet sorts before the data it carried.
 */
static void feed_timers(const struct mg_gateway *gw, struct mg_peer *peer)
{
	struct feed ev[4];
	unsigned n = 0;
	/* Each worker keeps its own send and data receive times on its own counters row: the
	 * newest is the event. */
	uint64_t tx = newest_over_workers(gw, peer, offsetof(struct mg_peer_counters, last_tx_ns));
	uint64_t auth_rx, data_rx;
	mg_peer_rx_times(gw, peer, &auth_rx, &data_rx);
	if (feed_one(tx, &peer->fed_tx_ns, FEED_TX_AUTH, ev, &n))
		ev[n++] = (struct feed){.at = tx, .kind = FEED_TX_DATA};
	feed_one(auth_rx, &peer->fed_auth_rx_ns, FEED_RX_AUTH, ev, &n);
	feed_one(data_rx, &peer->fed_data_rx_ns, FEED_RX_DATA, ev, &n);
	for (unsigned i = 1; i < n; i++)
		for (unsigned j = i;
		     j > 0 && (ev[j].at < ev[j - 1].at ||
		               (ev[j].at == ev[j - 1].at && ev[j].kind < ev[j - 1].kind));
		     j--) {
			struct feed t = ev[j];
			ev[j] = ev[j - 1];
			ev[j - 1] = t;
		}
	struct wg_timers *t = &peer->timers;
	for (unsigned i = 0; i < n; i++) {
		switch (ev[i].kind) {
		case FEED_TX_AUTH:
			wg_timers_any_authenticated_packet_traversal(t, ev[i].at);
			wg_timers_any_authenticated_packet_sent(t);
			break;
		case FEED_TX_DATA:
			wg_timers_data_sent(t, ev[i].at);
			break;
		case FEED_RX_AUTH:
			wg_timers_any_authenticated_packet_received(t);
			wg_timers_any_authenticated_packet_traversal(t, ev[i].at);
			break;
		case FEED_RX_DATA:
			wg_timers_data_received(t, ev[i].at);
			break;
		}
	}
}

static void log_give_up(const struct mg_peer *peer)
{
	char key[WG_KEY_B64_SIZE];
	if (!mg_log_enabled(MG_LOG_INFO))
		return;
	wg_key_to_base64(key, peer->remote.remote_static);
	struct mg_log_line l;
	mg_log_begin(&l, MG_LOG_INFO, "handshake abandoned");
	mg_log_str(&l, "peer", key);
	mg_log_u64(&l, "attempts", peer->timers.handshake_attempts);
	mg_log_u64(&l, "staged_dropped", peer->n_staged);
	mg_log_end(&l);
}

static void peer_tick(struct mg_control *ctl, struct mg_peer *peer, uint64_t now_ns)
{
	feed_timers(&ctl->gw, peer);
	uint32_t req = atomic_exchange_explicit(&peer->requests, 0, memory_order_relaxed);
	if (req & MG_PEER_WANT_HANDSHAKE)
		mg_hs_maybe_initiate(ctl, peer, now_ns);

	uint64_t next = wg_timers_next_deadline(&peer->timers);
	if (next && next <= now_ns) {
		uint32_t act = wg_timers_tick(&peer->timers, now_ns);
		/* Clearing first: a handshake started in the same tick must survive it. */
		if (act & WG_TIMER_ZERO_KEYS) {
			rte_spinlock_lock(&peer->hs_lock);
			wg_noise_remote_clear(&peer->remote);
			rte_spinlock_unlock(&peer->hs_lock);
		}
		if (act & WG_TIMER_GIVE_UP) {
			log_give_up(peer);
			mg_device_drop_staged(ctl, peer);
		}
		if (act & WG_TIMER_SEND_INITIATION)
			mg_hs_send_initiation(ctl, peer, now_ns);
		if (act & WG_TIMER_SEND_KEEPALIVE)
			mg_hs_send_keepalive(ctl, peer, now_ns);
	}
	/* Staged packets wait for a keypair or for the endpoint's next hop: retried each pass. */
	if (peer->n_staged && mg_hs_has_usable_keypair(peer, now_ns))
		mg_hs_flush_staged(ctl, peer, now_ns);
}

/* ---- packets from the workers ---- */

static void stage_input(struct mg_control *ctl, struct rte_mbuf *m, const struct mg_punt_meta *meta,
                        uint64_t now_ns)
{
	struct mg_peer *peer = mg_gateway_peer(&ctl->gw, meta->peer_slot);
	if (!peer || meta->l3_offset >= rte_pktmbuf_data_len(m)) {
		rte_pktmbuf_free(m);
		ctl->stats.staged_dropped++;
		return;
	}
	rte_pktmbuf_adj(m, meta->l3_offset);
	mg_hs_stage(ctl, peer, m);
	if (mg_hs_has_usable_keypair(peer, now_ns))
		mg_hs_flush_staged(ctl, peer, now_ns);
	else
		mg_hs_maybe_initiate(ctl, peer, now_ns);
}

static void local_input(struct mg_control *ctl, struct rte_mbuf *m, const struct mg_punt_meta *meta,
                        uint64_t now_ns)
{
	struct mg_gateway *gw = &ctl->gw;
	uint32_t len = rte_pktmbuf_data_len(m), ip_len;
	uint8_t port = meta->port;

	if (port >= MG_PORT_COUNT || meta->l3_offset >= len)
		goto drop;
	uint8_t *ip = rte_pktmbuf_mtod_offset(m, uint8_t *, meta->l3_offset);
	if (!mg_echo_reply_in_place(gw, port, ip, len - meta->l3_offset, &ip_len)) {
		if (!mg_echo_is_reply_to_us(gw, port, ip, len - meta->l3_offset))
			goto drop;
		/* An answer to meshctl ping's probe: its arrival already timed the round trip. */
		ctl->stats.echo_replies_rx++;
		rte_pktmbuf_free(m);
		return;
	}
	if (meta->peer_slot != MG_PUNT_NO_PEER) {
		/* A peer pinged our overlay address through the tunnel: answer through it. */
		struct mg_peer *peer = mg_gateway_peer(gw, meta->peer_slot);
		if (!peer || mg_hs_send_data(ctl, peer, ip, ip_len, now_ns) != 0)
			goto drop;
		ctl->stats.echo_replies++;
		rte_pktmbuf_free(m);
		return;
	}
	if (meta->l3_offset != MG_ETH_HLEN)
		goto drop;
	uint8_t *eth = rte_pktmbuf_mtod(m, uint8_t *);
	struct rte_ether_addr to;
	memcpy(&to, eth + 6, sizeof(to));
	mg_eth_write(eth, &to, &gw->ports[port].mac,
	             ip[0] >> 4 == 4 ? RTE_ETHER_TYPE_IPV4 : RTE_ETHER_TYPE_IPV6);
	rte_pktmbuf_trim(m, (uint16_t)(len - MG_ETH_HLEN - ip_len));
	m->ol_flags = 0;
	if (!mg_port_control_tx(&gw->ports[port], m)) {
		ctl->stats.tx_failed++;
		rte_pktmbuf_free(m);
		return;
	}
	ctl->stats.echo_replies++;
	return;
drop:
	ctl->stats.local_dropped++;
	rte_pktmbuf_free(m);
}

static void punt_one(struct mg_control *ctl, struct rte_mbuf *m, uint64_t now_ns)
{
	/* A copy: the metadata lives in the headroom, which replies built in place may reuse. */
	const struct mg_punt_meta copy = *mg_punt_meta(m);
	const struct mg_punt_meta *meta = &copy;
	struct mg_gateway *gw = &ctl->gw;
	switch (meta->kind) {
	case MG_PUNT_HANDSHAKE:
		mg_hs_input(ctl, m, now_ns);
		break;
	case MG_PUNT_ARP:
		mg_neigh_input_arp(gw, meta->port, m, now_ns);
		break;
	case MG_PUNT_ND:
		mg_neigh_input_nd(gw, meta->port, m, now_ns);
		break;
	case MG_PUNT_STAGE:
		stage_input(ctl, m, meta, now_ns);
		break;
	case MG_PUNT_LOCAL:
		local_input(ctl, m, meta, now_ns);
		break;
	default:
		ctl->stats.local_dropped++;
		rte_pktmbuf_free(m);
		break;
	}
}

static unsigned poll_punts(struct mg_control *ctl, uint64_t now_ns)
{
	struct rte_mbuf *pkts[PUNT_BURST];
	unsigned total = 0, n;
	do {
		n = rte_ring_sc_dequeue_burst(ctl->gw.punt_ring, (void **)pkts, PUNT_BURST, NULL);
		for (unsigned i = 0; i < n; i++)
			punt_one(ctl, pkts[i], now_ns);
		total += n;
	} while (n == PUNT_BURST && total < PUNT_BUDGET);
	return total;
}

/* ---- events ---- */

static void key_confirmed(struct mg_control *ctl, const struct mg_event *ev, uint64_t now_ns)
{
	struct mg_peer *peer = mg_gateway_peer(&ctl->gw, ev->peer_slot);
	if (!peer)
		return;
	/* Under hs_lock: a handshake lcore may be installing a newer next keypair. */
	rte_spinlock_lock(&peer->hs_lock);
	struct wg_noise_keypair *kp =
	    wg_index_table_lookup(ctl->gw.index, ev->local_index, WG_INDEX_KEYPAIR);
	/* Stale events (the keypair was replaced or already confirmed) change nothing. */
	bool confirmed =
	    kp && kp->remote == &peer->remote && wg_noise_received_with_keypair(&peer->remote, kp);
	rte_spinlock_unlock(&peer->hs_lock);
	if (!confirmed)
		return;
	uint64_t wall = mg_wall_ns();
	peer->last_handshake_realtime_ns = wall;
	wg_timers_handshake_complete(&peer->timers, wall);
	mg_hs_flush_staged(ctl, peer, now_ns);
}

static unsigned poll_events(struct mg_control *ctl, uint64_t now_ns)
{
	struct mg_event ev[EVENT_BURST];
	unsigned n = rte_ring_sc_dequeue_burst_elem(ctl->gw.event_ring, ev, sizeof(ev[0]),
	                                            EVENT_BURST, NULL);
	for (unsigned i = 0; i < n; i++) {
		switch (ev[i].kind) {
		case MG_EVENT_KEY_CONFIRMED:
			key_confirmed(ctl, &ev[i], now_ns);
			break;
		case MG_EVENT_RESOLVE:
			if (ev[i].port < MG_PORT_COUNT)
				mg_neigh_resolve(&ctl->gw, ev[i].port, ev[i].family, ev[i].addr,
				                 now_ns);
			break;
		default:
			break;
		}
	}
	ctl->stats.events += n;
	return n;
}

/* ---- the loop ---- */

unsigned mg_control_poll(struct mg_control *ctl, uint64_t now_ns)
{
	unsigned work = poll_punts(ctl, now_ns);
	work += mg_hs_lcores_poll(ctl, now_ns);
	work += poll_events(ctl, now_ns);
	for (uint32_t slot = 0; slot < ctl->slot_high; slot++) {
		struct mg_peer *peer = mg_gateway_peer(&ctl->gw, slot);
		if (peer)
			peer_tick(ctl, peer, now_ns);
	}
	work += mg_hs_pending_poll(ctl, now_ns);
	work += mg_control_coord_poll(ctl, now_ns);
	work += mg_relay_gw_poll(ctl, now_ns);
	work += mg_relay_rtt_gw_poll(ctl);
	work += mg_nat_gw_poll(ctl, now_ns);
	if (now_ns - ctl->last_housekeeping_ns >= HOUSEKEEPING_NS) {
		mg_neigh_age(&ctl->gw, now_ns);
		/* The flows the gateway's own packets opened: the control thread owns that table.
		 */
		if (ctl->gw.flows)
			mg_flows_expire(ctl->gw.flows, mg_flows_owners(ctl->gw.flows) - 1, now_ns,
			                1024, &ctl->ctl_flows);
		ctl->last_housekeeping_ns = now_ns;
	}
	mg_control_reclaim(ctl, false);
	return work;
}

void mg_control_run(struct mg_control *ctl)
{
	while (!atomic_load_explicit(&ctl->gw.stop, memory_order_relaxed)) {
		unsigned work = mg_control_poll(ctl, mg_control_now(ctl));
		/* 0 ms: never waits there; the UAPI poll below stays the idle wait. */
		work += mg_control_health_poll(ctl->health, 0);
		if (ctl->uapi) {
			mg_control_uapi_poll(ctl, work ? 0 : IDLE_WAIT_MS);
		} else if (!work) {
			const struct timespec ms = {.tv_nsec = IDLE_WAIT_MS * 1000000L};
			nanosleep(&ms, NULL);
		}
	}
}
