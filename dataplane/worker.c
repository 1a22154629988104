// SPDX-License-Identifier: GPL-2.0-only
#include "worker.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <rte_branch_prediction.h>
#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "crypto_burst.h"
#include "decap.h"
#include "encap.h"
#include "mbuf_tail.h"
#include "policy.h"
#include "nat.h"
#include "pkt.h"
#include "prefetch.h"
#include "relay_ring.h"
#include "transport.h"
#include "wgport.h"

#define INPUT_RING_SIZE 2048
#define PREFETCH_AHEAD  8   /* frames whose first line is requested ahead of classification */
#define ICMPV6_ND_FIRST 133 /* router solicitation */
#define ICMPV6_ND_LAST  137 /* redirect */

/* ---- set-up ---- */

static void read_tx_offloads(struct mg_worker *w, enum mg_port_id p)
{
	struct rte_eth_conf conf;
	if (rte_eth_dev_conf_get(w->gw->ports[p].port_id, &conf) != 0)
		return;
	w->tx_ip_cksum_offload[p] = (conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_IPV4_CKSUM) != 0;
	w->tx_udp_cksum_offload[p] = (conf.txmode.offloads & RTE_ETH_TX_OFFLOAD_UDP_CKSUM) != 0;
}

int mg_worker_init(struct mg_worker *w, struct mg_gateway *gw, unsigned id, unsigned lcore)
{
	const struct mg_dp_config *cfg = &gw->conf;
	unsigned nw = gw->n_workers;
	bool any_fanout = false;

	memset(w, 0, sizeof(*w));
	w->gw = gw;
	w->id = id;
	w->lcore = lcore;
	if (id >= nw || id >= MG_MAX_WORKERS)
		return -EINVAL;
	w->peer_counters = gw->peer_counters[id];

	for (unsigned p = 0; p < MG_PORT_COUNT; p++) {
		const struct mg_port *port = &gw->ports[p];
		if (port->n_rxq == 1 && nw > 1 && cfg->rx_fanout) {
			w->has_rxq[p] = id == 0;
			w->fanout[p] = id == 0;
			any_fanout = true;
		} else if (id < port->n_rxq) {
			/* Workers beyond the queue count do not poll this port. */
			w->has_rxq[p] = true;
			w->rxq[p] = (uint16_t)id;
		}
		/* A TX queue may not be shared without a lock: every worker needs its own. */
		if (id >= port->n_txq || id == port->control_txq)
			return -ENOTSUP;
		w->txq[p] = (uint16_t)id;
		read_tx_offloads(w, p);
	}
	if (any_fanout) {
		char name[RTE_RING_NAMESIZE];
		snprintf(name, sizeof(name), "mg_in_%u", id);
		w->input = rte_ring_create(name, INPUT_RING_SIZE,
		                           (int)rte_lcore_to_socket_id(lcore), RING_F_SC_DEQ);
		if (!w->input)
			return -ENOMEM;
	}
	uint64_t hz = gw->tsc_hz ? gw->tsc_hz : rte_get_tsc_hz();
	w->drain_tsc = hz / 1000000 * MG_DRAIN_US;
	mg_resolve_limiter_init(&w->resolve, hz);
	mg_icmp_limiter_init(&w->icmp, MG_ICMP_RATE_PER_S / (nw ? nw : 1) + 1, MG_ICMP_BURST, hz);
	w->sleep_us = MG_IDLE_START_US;
	/* Workers share the outer source address: start their IPv4 IDs far apart so that one
	 * peer's fragments from different workers do not collide in the receiver's reassembly. */
	w->ip_id = (uint16_t)(id * (65536u / nw));
	return 0;
}

static void free_buffered(struct mg_worker *w)
{
	for (unsigned src = 0; src <= MG_PORT_COUNT; src++) {
		rte_pktmbuf_free_bulk(w->held[src], w->n_held[src]);
		w->n_held[src] = 0;
	}
	for (unsigned p = 0; p < MG_PORT_COUNT; p++) {
		rte_pktmbuf_free_bulk(w->tx[p].pkts, w->tx[p].n);
		w->tx[p].n = 0;
	}
	rte_pktmbuf_free_bulk(w->punts.pkts, w->punts.n);
	w->punts.n = 0;
}

void mg_worker_fini(struct mg_worker *w)
{
	free_buffered(w);
	if (w->input) {
		struct rte_mbuf *m;
		while (rte_ring_sc_dequeue(w->input, (void **)&m) == 0)
			rte_pktmbuf_free(m);
		rte_ring_free(w->input);
		w->input = NULL;
	}
	mg_crypto_destroy(w->crypto);
	w->crypto = NULL;
}

/* ---- TX, punts ---- */

static void tx_flush_port(struct mg_worker *w, enum mg_port_id p)
{
	struct mg_txbuf *b = &w->tx[p];
	uint64_t bytes = 0;
	if (b->n == 0)
		return;
	for (unsigned i = 0; i < b->n; i++)
		bytes += b->pkts[i]->pkt_len;
	uint16_t sent = rte_eth_tx_burst(w->gw->ports[p].port_id, w->txq[p], b->pkts, b->n);
	for (unsigned i = sent; i < b->n; i++)
		bytes -= b->pkts[i]->pkt_len;
	w->counters.tx_packets[p] += sent;
	w->counters.tx_bytes[p] += bytes;
	if (sent < b->n) {
		w->counters.drops[MG_DROP_TX_FULL] += b->n - sent;
		rte_pktmbuf_free_bulk(b->pkts + sent, b->n - sent);
	}
	b->n = 0;
}

void mg_worker_tx(struct mg_worker *w, enum mg_port_id port, struct rte_mbuf *m)
{
	struct mg_txbuf *b = &w->tx[port];
	if (b->n == 0)
		b->first_tsc = w->now_tsc;
	b->pkts[b->n++] = m;
	if (b->n == MG_BURST)
		tx_flush_port(w, port);
}

void mg_worker_flush(struct mg_worker *w)
{
	for (unsigned p = 0; p < MG_PORT_COUNT; p++)
		tx_flush_port(w, p);
	mg_punt_flush(w->gw, &w->counters, &w->punts);
}

void mg_worker_punt(struct mg_worker *w, struct rte_mbuf *m, enum mg_punt_kind kind,
                    enum mg_port_id port, uint16_t l3_offset, uint32_t peer_slot,
                    const struct mg_sockaddr *src)
{
	struct mg_punt_meta meta = {
	    .kind = (uint8_t)kind,
	    .port = (uint8_t)port,
	    .l3_offset = l3_offset,
	    .peer_slot = peer_slot,
	    .rx_ns = w->now_ns,
	};
	if (src)
		meta.src = *src;
	mg_punt_add(w->gw, &w->counters, &w->punts, m, &meta);
}

void mg_worker_clock(struct mg_worker *w)
{
	const struct wg_noise_upcalls *u = &w->gw->local.upcalls;
	w->now_tsc = rte_rdtsc();
	w->now_ns = u->now(u->ctx);
}

/* ---- classification ---- */

/* Frames sorted out of one burst. */
struct classified {
	unsigned n_lan, n_mesh;
	struct rte_mbuf *lan[MG_BURST];
	struct mg_decap_pkt mesh[MG_BURST];
};

static int port_of(const struct mg_gateway *gw, uint16_t port_id)
{
	for (int p = 0; p < MG_PORT_COUNT; p++)
		if (gw->ports[p].port_id == port_id)
			return p;
	return -1;
}

static bool ip_hdr_ok(const struct rte_mbuf *m, const uint8_t *ip, const struct mg_l3 *l3)
{
	if (l3->family != 4)
		return true;
	uint64_t f = m->ol_flags & RTE_MBUF_F_RX_IP_CKSUM_MASK;
	if (f == RTE_MBUF_F_RX_IP_CKSUM_GOOD)
		return true;
	if (f == RTE_MBUF_F_RX_IP_CKSUM_BAD)
		return false;
	return mg_ipv4_hdr_cksum_ok(ip, l3->hdr_len);
}

/*
 * The family comes from the EtherType (a register, and equal to l3's once parsed) and the next
 * header from the frame: reading l3's family and proto here let the compiler load them as one
 * 16-bit word just after mg_pkt_parse_ip stored them as two bytes, a load no store can forward,
 * and about a third of classify's samples sat on it.
 */
static bool is_nd(uint16_t etype, const struct mg_l3 *l3, const uint8_t *ip)
{
	if (etype != RTE_ETHER_TYPE_IPV6 || ip[6] != MG_IPPROTO_ICMPV6 ||
	    l3->total_len < MG_IPV6_HLEN + 1)
		return false;
	uint8_t type = ip[MG_IPV6_HLEN];
	return type >= ICMPV6_ND_FIRST && type <= ICMPV6_ND_LAST;
}

/* Return traffic of the exit NAT arrives on its uplink: translated, it goes to encap. */
static bool nat_in(struct mg_worker *w, struct classified *c, struct rte_mbuf *m,
                   const struct mg_l3 *l3, enum mg_port_id port)
{
	if (!w->gw->nat || mg_nat_uplink(w->gw->nat) != port)
		return false;
	switch (mg_nat_rx(w, m, l3)) {
	case MG_NAT_RX_PASS:
		return false;
	case MG_NAT_RX_ENCAP:
		c->lan[c->n_lan++] = m;
		return true;
	default:
		return true;
	}
}

static void classify_lan(struct mg_worker *w, struct classified *c, struct rte_mbuf *m,
                         const struct mg_l3 *l3)
{
	/* With the uplink here, replies come to the pool's addresses as well as the port's. */
	if (nat_in(w, c, m, l3, MG_PORT_LAN))
		return;
	if (mg_is_gateway_addr(mg_gateway_addrs(w->gw), l3->family, l3->dst) ||
	    (l3->family == 6 && mg_addr_is_link_local6(l3->dst))) {
		mg_worker_punt(w, m, MG_PUNT_LOCAL, MG_PORT_LAN, MG_ETH_HLEN, MG_PUNT_NO_PEER,
		               NULL);
		return;
	}
	/* Routers forward neither link-scope multicast nor broadcast, and nothing maps a group
	 * address to one peer. */
	if (mg_addr_is_multicast(l3->family, l3->dst)) {
		mg_worker_drop(w, m, MG_DROP_UNSUPPORTED);
		return;
	}
	c->lan[c->n_lan++] = m;
}

/* A handshake message on the mesh port: the peer is not known until the control side looks
 * up the receiver index or the initiator's static key. */
static struct mg_punt_meta handshake_meta(const struct mg_worker *w, const struct mg_sockaddr *src)
{
	return (struct mg_punt_meta){.kind = MG_PUNT_HANDSHAKE,
	                             .port = MG_PORT_MESH,
	                             .l3_offset = MG_ETH_HLEN,
	                             .peer_slot = MG_PUNT_NO_PEER,
	                             .src = *src,
	                             .rx_ns = w->now_ns};
}

static void classify_mesh(struct mg_worker *w, struct classified *c, struct rte_mbuf *m,
                          const struct mg_l3 *l3, const uint8_t *ip)
{
	const struct mg_gateway *gw = w->gw;
	if (!mg_port_is_own_addr(&mg_gateway_addrs(gw)->ports[MG_PORT_MESH], l3->family, l3->dst)) {
		if (nat_in(w, c, m, l3, MG_PORT_MESH))
			return;
		mg_worker_drop(w, m, MG_DROP_NOT_FOR_US);
		return;
	}
	if (l3->proto != MG_IPPROTO_UDP || l3->fragment) {
		/* Echo requests and the like are the control thread's; so are fragments, which
		 * only it could reassemble (WireGuard senders clear DF, so paths may split them).
		 */
		if (nat_in(w, c, m, l3, MG_PORT_MESH))
			return;
		mg_worker_punt(w, m, MG_PUNT_LOCAL, MG_PORT_MESH, MG_ETH_HLEN, MG_PUNT_NO_PEER,
		               NULL);
		return;
	}
	const uint8_t *udp = ip + l3->hdr_len;
	unsigned avail = l3->total_len - l3->hdr_len;
	if (avail < MG_UDP_HLEN) {
		mg_worker_drop(w, m, MG_DROP_MALFORMED);
		return;
	}
	unsigned udp_len = (unsigned)(udp[4] << 8 | udp[5]);
	uint16_t dport = (uint16_t)(udp[2] << 8 | udp[3]);
	if (udp_len < MG_UDP_HLEN || udp_len > avail ||
	    (m->ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK) == RTE_MBUF_F_RX_L4_CKSUM_BAD) {
		mg_worker_drop(w, m, MG_DROP_MALFORMED);
		return;
	}
	if (dport != gw->listen_port) {
		if (nat_in(w, c, m, l3, MG_PORT_MESH))
			return;
		mg_worker_punt(w, m, MG_PUNT_LOCAL, MG_PORT_MESH, MG_ETH_HLEN, MG_PUNT_NO_PEER,
		               NULL);
		return;
	}
	struct mg_sockaddr src = {.family = l3->family, .port = (uint16_t)(udp[0] << 8 | udp[1])};
	memcpy(src.addr, l3->src, mg_addr_len(l3->family));
	const uint8_t *msg = udp + MG_UDP_HLEN;
	unsigned msg_len = udp_len - MG_UDP_HLEN;

	switch (wg_transport_classify(msg, msg_len)) {
	case WG_MSG_DATA: {
		/* From here on the mbuf is exactly the WireGuard message. */
		unsigned off = (unsigned)(msg - rte_pktmbuf_mtod(m, const uint8_t *));
		rte_pktmbuf_adj(m, (uint16_t)off);
		mg_mbuf_trim(m, (uint16_t)(m->pkt_len - msg_len));
		struct mg_decap_pkt *d = &c->mesh[c->n_mesh++];
		mg_decap_prefetch(w, m);
		d->m = m;
		d->src = src;
		d->outer_tclass = l3->tclass;
		return;
	}
	case WG_MSG_HANDSHAKE_INITIATION: {
		const struct mg_punt_meta meta = handshake_meta(w, &src);
		mg_punt_initiation(w->gw, &w->counters, &w->punts, m, &meta);
		return;
	}
	case WG_MSG_HANDSHAKE_RESPONSE:
	case WG_MSG_HANDSHAKE_COOKIE: {
		const struct mg_punt_meta meta = handshake_meta(w, &src);
		mg_punt_reply(w->gw, &w->counters, &w->punts, m, &meta, msg, msg_len);
		return;
	}
	default:
		/* STUN, disco, or a counted drop. */
		mg_wgport_input(w, m, msg, msg_len, &src);
		return;
	}
}

static void classify(struct mg_worker *w, struct classified *c, struct rte_mbuf *m)
{
	int port = port_of(w->gw, m->port);
	if (port < 0) {
		mg_worker_drop(w, m, MG_DROP_UNSUPPORTED);
		return;
	}
	w->counters.rx_packets[port]++;
	w->counters.rx_bytes[port] += m->pkt_len;
	/* Everything below reads and rewrites headers in place: one segment only. */
	if (m->nb_segs > 1 && rte_pktmbuf_linearize(m) != 0) {
		mg_worker_drop(w, m, MG_DROP_NOMEM);
		return;
	}
	const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
	if (m->data_len < MG_ETH_HLEN) {
		mg_worker_drop(w, m, MG_DROP_MALFORMED);
		return;
	}
	uint16_t etype = (uint16_t)(frame[12] << 8 | frame[13]);
	if (etype == RTE_ETHER_TYPE_ARP) {
		mg_worker_punt(w, m, MG_PUNT_ARP, (enum mg_port_id)port, MG_ETH_HLEN,
		               MG_PUNT_NO_PEER, NULL);
		return;
	}
	if (etype != RTE_ETHER_TYPE_IPV4 && etype != RTE_ETHER_TYPE_IPV6) {
		mg_worker_drop(w, m, MG_DROP_UNSUPPORTED);
		return;
	}
	const uint8_t *ip = frame + MG_ETH_HLEN;
	struct mg_l3 l3;
	if (mg_pkt_parse_ip(ip, m->data_len - MG_ETH_HLEN, &l3) != 0 ||
	    l3.family != (etype == RTE_ETHER_TYPE_IPV4 ? 4 : 6) || !ip_hdr_ok(m, ip, &l3)) {
		mg_worker_drop(w, m, MG_DROP_MALFORMED);
		return;
	}
	if (is_nd(etype, &l3, ip)) {
		mg_worker_punt(w, m, MG_PUNT_ND, (enum mg_port_id)port, MG_ETH_HLEN,
		               MG_PUNT_NO_PEER, NULL);
		return;
	}
	/* Drop the Ethernet padding of short frames: the IP length is the packet. */
	mg_mbuf_trim(m, (uint16_t)(m->pkt_len - MG_ETH_HLEN - l3.total_len));
	if (port == MG_PORT_LAN)
		classify_lan(w, c, m, &l3);
	else
		classify_mesh(w, c, m, &l3, ip);
}

void mg_worker_rx_burst(struct mg_worker *w, struct rte_mbuf **pkts, unsigned n)
{
	struct classified c;
	while (n > 0) {
		unsigned k = n < MG_BURST ? n : MG_BURST;
		c.n_lan = c.n_mesh = 0;
		/* The mbufs were last written on another core (the PMD's or the fan-out
		 * worker's), and this one stores into each header and first line (lengths,
		 * TTL, the crypto in place): ask for them owned, every header at once, then
		 * the frames a few ahead. */
		for (unsigned i = 0; i < k; i++)
			mg_prefetch_w(pkts[i]);
		for (unsigned i = 0; i < k && i < PREFETCH_AHEAD; i++)
			mg_prefetch_w(rte_pktmbuf_mtod(pkts[i], void *));
		for (unsigned i = 0; i < k; i++) {
			if (i + PREFETCH_AHEAD < k)
				mg_prefetch_w(rte_pktmbuf_mtod(pkts[i + PREFETCH_AHEAD], void *));
			classify(w, &c, pkts[i]);
		}
		if (c.n_mesh)
			mg_decap_burst(w, c.mesh, c.n_mesh);
		if (c.n_lan)
			mg_encap_burst(w, c.lan, c.n_lan);
		pkts += k;
		n -= k;
	}
}

/* ---- the loop ---- */

/*
 * Where a received frame most likely starts: pools made by rte_pktmbuf_pool_create with no
 * private area (ports.c) put the data right after the header and the default headroom. Only
 * a prefetch address, so a PMD that starts elsewhere costs a wasted request, nothing more;
 * it lets the frame's line be asked for without first waiting for the header that says where.
 */
#define RX_DATA_AT (sizeof(struct rte_mbuf) + RTE_PKTMBUF_HEADROOM)

/*
 * Takes the burst just polled from source src. A full one means the queue had more: it is held
 * for one iteration with its headers and first lines requested, and the burst held before it
 * is handled now, so that burst's crypto hides this one's misses on lines the PMD (another
 * core or the NIC) wrote. A partial burst means the queue ran dry: both are handled at once,
 * and nothing waits when the load is light. Returns the frames handled.
 */
static unsigned take(struct mg_worker *w, unsigned src, struct rte_mbuf **pkts, unsigned n,
                     bool *clocked)
{
	unsigned held = w->n_held[src], done = held + (n < MG_BURST ? n : 0);
	if (done && !*clocked) {
		mg_worker_clock(w);
		*clocked = true;
	}
	if (n == MG_BURST) {
		for (unsigned i = 0; i < n; i++) {
			mg_prefetch_w(pkts[i]);
			mg_prefetch_w((const char *)pkts[i] + RX_DATA_AT);
		}
	}
	if (held)
		mg_worker_rx_burst(w, w->held[src], held);
	if (n == MG_BURST) {
		memcpy(w->held[src], pkts, n * sizeof(*pkts));
		w->n_held[src] = (uint16_t)n;
	} else {
		w->n_held[src] = 0;
		if (n)
			mg_worker_rx_burst(w, pkts, n);
	}
	return done;
}

/* Handles whatever take() still holds (the loop is ending). */
static void take_rest(struct mg_worker *w)
{
	bool clocked = false;
	for (unsigned src = 0; src <= MG_PORT_COUNT; src++)
		if (w->n_held[src])
			take(w, src, NULL, 0, &clocked);
}

static unsigned poll_port(struct mg_worker *w, enum mg_port_id p, struct rte_mbuf **pkts)
{
	struct mg_gateway *gw = w->gw;
	uint16_t n = rte_eth_rx_burst(gw->ports[p].port_id, w->rxq[p], pkts, MG_BURST);
	/* A PMD may have more RX queues than workers (af_packet opens one socket per queue pair
	 * and the kernel hashes flows over them): this worker owns every queue q with
	 * q % n_workers == id and visits them in turn. */
	if (!w->fanout[p] && gw->ports[p].n_rxq > gw->n_workers) {
		w->rxq[p] = (uint16_t)(w->rxq[p] + gw->n_workers);
		if (w->rxq[p] >= gw->ports[p].n_rxq)
			w->rxq[p] = (uint16_t)w->id;
	}
	if (n == 0 || !w->fanout[p])
		return n;
	/* Hand the whole burst to the next worker in turn (possibly ourselves). */
	struct mg_worker *to = gw->workers[w->fanout_next];
	w->fanout_next = (w->fanout_next + 1) % gw->n_workers;
	if (!to || !to->input) {
		w->counters.drops[MG_DROP_FANOUT_FULL] += n;
		rte_pktmbuf_free_bulk(pkts, n);
		return 0;
	}
	unsigned done = rte_ring_mp_enqueue_burst(to->input, (void **)pkts, n, NULL);
	if (done < n) {
		w->counters.drops[MG_DROP_FANOUT_FULL] += n - done;
		rte_pktmbuf_free_bulk(pkts + done, n - done);
	}
	return done; /* work was done, though not here: keeps the poller awake */
}

static void drain_expired(struct mg_worker *w)
{
	for (unsigned p = 0; p < MG_PORT_COUNT; p++)
		if (w->tx[p].n && w->now_tsc - w->tx[p].first_tsc >= w->drain_tsc)
			tx_flush_port(w, p);
	mg_punt_flush(w->gw, &w->counters, &w->punts);
}

/* Worker 0 sends what the control thread queued for ports without a control queue. */
static unsigned send_control(struct mg_worker *w)
{
	struct rte_mbuf *pkts[MG_BURST];
	unsigned total = 0;
	for (unsigned p = 0; p < MG_PORT_COUNT; p++) {
		struct rte_ring *ring = w->gw->ports[p].control_tx_ring;
		if (!ring)
			continue;
		unsigned n = rte_ring_sc_dequeue_burst(ring, (void **)pkts, MG_BURST, NULL);
		for (unsigned i = 0; i < n; i++)
			mg_worker_tx(w, (enum mg_port_id)p, pkts[i]);
		if (n)
			tx_flush_port(w, (enum mg_port_id)p);
		total += n;
	}
	return total;
}

/* Returns true when it slept. */
static bool idle(struct mg_worker *w)
{
	const struct mg_dp_config *cfg = &w->gw->conf;
	w->counters.empty_polls++;
	/* Nothing more is coming to batch with: send what waits. */
	mg_worker_flush(w);
	if (!cfg->idle_backoff || ++w->empty_polls < MG_IDLE_POLLS)
		return false;
	if (w->gw->rcu)
		rte_rcu_qsbr_thread_offline(w->gw->rcu, w->id);
	rte_delay_us_sleep(w->sleep_us);
	if (w->gw->rcu)
		rte_rcu_qsbr_thread_online(w->gw->rcu, w->id);
	uint32_t max = cfg->idle_max_sleep_us ? cfg->idle_max_sleep_us : 1000;
	w->sleep_us = w->sleep_us * 2 > max ? max : w->sleep_us * 2;
	return true;
}

int mg_worker_main(void *arg)
{
	struct mg_worker *w = arg;
	struct mg_gateway *gw = w->gw;
	struct rte_mbuf *pkts[MG_BURST];

	if (!w->crypto) {
		int err = 0;
		w->crypto = mg_crypto_create(MG_CRYPTO_ISA_AUTO, &err);
		if (!w->crypto)
			return err ? err : -ENOMEM;
	}
	if (gw->rcu) {
		rte_rcu_qsbr_thread_register(gw->rcu, w->id);
		rte_rcu_qsbr_thread_online(gw->rcu, w->id);
	}
	uint64_t start = rte_rdtsc();
	while (!atomic_load_explicit(&gw->stop, memory_order_relaxed)) {
		unsigned work = 0;
		bool clocked = false;
		w->counters.polls++;
		for (unsigned p = 0; p < MG_PORT_COUNT; p++) {
			if (!w->has_rxq[p])
				continue;
			unsigned n = poll_port(w, p, pkts);
			if (w->fanout[p])
				work += n;
			else
				work += take(w, p, pkts, n, &clocked) + n;
		}
		if (w->id == 0)
			work += send_control(w) + mg_relay_in_poll(w);
		if (w->input) {
			unsigned n =
			    rte_ring_sc_dequeue_burst(w->input, (void **)pkts, MG_BURST, NULL);
			work += take(w, MG_PORT_COUNT, pkts, n, &clocked) + n;
		}
		/* One TSC read per iteration (it is slow under some hypervisors): it ends this
		 * iteration and starts the next. */
		uint64_t now = rte_rdtsc();
		w->counters.total_cycles += now - start;
		if (unlikely(w->stall_log != NULL))
			mg_stall_note(w->stall_log, start, now, work);
		if (work) {
			w->empty_polls = 0;
			w->sleep_us = MG_IDLE_START_US;
			w->now_tsc = now;
			drain_expired(w);
			w->counters.busy_cycles += now - start;
		} else if (idle(w)) {
			/* The sleep is idle time, not part of the next iteration. */
			uint64_t woke = rte_rdtsc();
			w->counters.total_cycles += woke - now;
			now = woke;
		}
		start = now;
		/* Mapping expiry, a little at a time and off the packet path. */
		if (gw->nat && (w->counters.polls & 63) == 0)
			mg_nat_tick(w);
		if (gw->flows && (w->counters.polls & 63) == 32)
			mg_policy_tick(w);
		if (gw->rcu)
			rte_rcu_qsbr_quiescent(gw->rcu, w->id);
	}
	take_rest(w);
	mg_worker_flush(w);
	if (gw->rcu) {
		rte_rcu_qsbr_thread_offline(gw->rcu, w->id);
		rte_rcu_qsbr_thread_unregister(gw->rcu, w->id);
	}
	return 0;
}
