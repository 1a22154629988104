// SPDX-License-Identifier: GPL-2.0-only
/*
 * The fast path end to end without namespaces: a gateway built by hand around two ring ports,
 * real keypairs from real handshakes with two far nodes (wg/noise.h), the real allowed-IPs,
 * neighbour, crypto-burst and ICMP modules. LAN frames go in, mesh frames come out, and both
 * directions are compared byte for byte against the reference transport (wg/transport.h) and
 * independently built headers. Every drop reason the path can produce is provoked and counted.
 */
#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_launch.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "allowedips.h"
#include "check.h"
#include "crypto.h"
#include "crypto_burst.h"
#include "eal_test_env.h"
#include "index_table.h"
#include "relay_ring.h"
#include "neigh.h"
#include "noise.h"
#include "punt.h"
#include "ring_gateway.h"
#include "tai64n.h"
#include "timers.h"
#include "transport.h"
#include "worker.h"

#define LISTEN 51820
#define MTU    1420
#define NPEERS 2

/* A far node: a stock WireGuard peer as seen from the gateway. */
struct far {
	uint64_t rng; /* first: the upcall context doubles as test_rng's state */
	struct wg_index_table *table;
	struct wg_noise_local local;
	struct wg_noise_remote gw; /* its view of the gateway */
};

static struct mg_dp_addrs addrs; /* gw.addrs: mutable here, no worker runs meanwhile */
static struct mg_gateway gw;
static struct mg_worker w;
static struct mg_peer *peers[NPEERS];
static struct mg_peer *_Atomic peer_slots[NPEERS];
static _Alignas(64) struct mg_peer_tx peer_tx[NPEERS];
static struct far far[NPEERS];
static uint64_t clock_ns = 1000 * WG_NSEC_PER_SEC;
static uint64_t gw_rng = 7;
static struct rte_mempool *pool;
static struct mg_ring_port ring[MG_PORT_COUNT];
static uint64_t drops_before[MG_DROP_REASON_COUNT];

static const struct rte_ether_addr lan_mac = {{2, 0, 0, 0, 1, 1}}, mesh_mac = {{2, 0, 0, 0, 2, 1}};
static const struct rte_ether_addr host_mac = {{2, 0, 0, 0, 1, 0x10}};
static const struct rte_ether_addr nh_mac[3] = {
    {{2, 0, 0, 0, 2, 2}}, {{2, 0, 0, 0, 2, 3}}, {{2, 0, 0, 0, 2, 0x12}}};
static const uint8_t host4[4] = {192, 168, 1, 10}, host6[16] = {0xfd, 0, 0, 1, [15] = 0x10};
static const uint8_t ep4[NPEERS][4] = {{10, 0, 0, 2}, {10, 0, 0, 3}};
static const uint8_t ep6[16] = {0xfd, 0, 0, 0xff, [15] = 2};
/* The address behind each peer: 172.16+peer.0.5 or fd0a+peer::5. */
static const uint8_t *inner_addr(int family, unsigned peer)
{
	static uint8_t a[NPEERS][2][16];
	uint8_t *o = a[peer][family == 6];
	memcpy(o,
	       family == 4 ? (uint8_t[16]){172, (uint8_t)(16 + peer), 0, 5}
	                   : (uint8_t[16]){0xfd, (uint8_t)(0x0a + peer), [15] = 5},
	       16);
	return o;
}
static const uint8_t *mesh_addr(int family)
{
	const struct mg_port_addrs *pc = &addrs.ports[MG_PORT_MESH];
	return family == 4 ? pc->ipv4.addr : pc->ipv6.addr;
}

/* ---- upcalls ---- */

static uint64_t now_fn(void *ctx)
{
	(void)ctx;
	return clock_ns;
}
static struct wg_noise_remote *gw_by_pub(void *ctx, const uint8_t pub[WG_KEY_LEN])
{
	(void)ctx;
	for (unsigned i = 0; i < NPEERS; i++)
		if (memcmp(peers[i]->remote.remote_static, pub, WG_KEY_LEN) == 0)
			return &peers[i]->remote;
	return NULL;
}
static struct wg_noise_remote *far_by_pub(void *ctx, const uint8_t pub[WG_KEY_LEN])
{
	struct far *f = ctx;
	return memcmp(f->gw.remote_static, pub, WG_KEY_LEN) == 0 ? &f->gw : NULL;
}

/* ---- frames ---- */

static void cksum4(uint8_t *ip)
{
	struct rte_ipv4_hdr *h = (struct rte_ipv4_hdr *)ip;
	h->hdr_checksum = 0;
	h->hdr_checksum = rte_ipv4_cksum(h);
}

static void be16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static size_t put_eth(uint8_t *p, const struct rte_ether_addr *dst,
                      const struct rte_ether_addr *src, uint16_t type)
{
	memcpy(p, dst, 6);
	memcpy(p + 6, src, 6);
	be16(p + 12, type);
	return 14;
}

/* An IP packet of exactly total bytes with a patterned payload; IPv4 carries ECT(1). */
static size_t put_ip(uint8_t *p, int family, const uint8_t *src, const uint8_t *dst, size_t total,
                     uint8_t ttl, bool df, uint8_t proto)
{
	size_t hl = family == 4 ? 20 : 40, al = family == 4 ? 4 : 16;
	memset(p, 0, hl);
	for (size_t i = hl; i < total; i++)
		p[i] = (uint8_t)(i * 7 + total);
	memcpy(p + hl - 2 * al, src, al);
	memcpy(p + hl - al, dst, al);
	if (family == 6) {
		p[0] = 0x60;
		be16(p + 4, total - 40);
		p[6] = proto;
		p[7] = ttl;
		return total;
	}
	p[0] = 0x45;
	p[1] = 0x01;
	be16(p + 2, total);
	p[4] = 0x12;
	p[6] = df ? 0x40 : 0;
	p[8] = ttl;
	p[9] = proto;
	cksum4(p);
	return total;
}

/* The inner packet as the gateway forwards it: one hop less, checksum recomputed from scratch. */
static void forwarded(uint8_t *p, int family)
{
	p[family == 4 ? 8 : 7]--;
	if (family == 4)
		cksum4(p);
}

/* Outer Ethernet + IP + UDP around msg, as the expectation for (or input to) the mesh port. */
static size_t put_outer(uint8_t *p, int family, const struct rte_ether_addr *dmac,
                        const struct rte_ether_addr *smac, const uint8_t *src, uint16_t sport,
                        const uint8_t *dst, uint16_t dport, uint8_t tclass, uint16_t id,
                        const uint8_t *msg, size_t len)
{
	size_t o = put_eth(p, dmac, smac, family == 4 ? 0x0800 : 0x86dd);
	size_t hl = family == 4 ? 20 : 40, al = family == 4 ? 4 : 16;
	uint8_t *ip = p + o, *udp = ip + hl;
	memset(ip, 0, hl + 8);
	memcpy(udp + 8, msg, len);
	be16(udp, sport);
	be16(udp + 2, dport);
	be16(udp + 4, len + 8);
	memcpy(ip + hl - 2 * al, src, al);
	memcpy(ip + hl - al, dst, al);
	if (family == 4) {
		ip[0] = 0x45;
		ip[1] = tclass;
		be16(ip + 2, len + 28);
		be16(ip + 4, id);
		ip[8] = 64;
		ip[9] = 17;
		cksum4(ip);
	} else {
		be16(ip, 0x6000u | (unsigned)tclass << 4);
		be16(ip + 4, len + 8);
		ip[6] = 17;
		ip[7] = 64;
		uint16_t ck = rte_ipv6_udptcp_cksum((void *)ip, udp);
		memcpy(udp + 6, &ck, 2);
	}
	return o + hl + 8 + len;
}

static struct rte_mbuf *mbuf_of(enum mg_port_id port, const uint8_t *bytes, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	void *d = m ? rte_pktmbuf_append(m, (uint16_t)len) : NULL;
	CHECK(d != NULL, "mbuf for %zu bytes", len);
	if (!d)
		exit(1);
	memcpy(d, bytes, len);
	m->port = gw.ports[port].port_id;
	return m;
}

/* Runs the worker over frames and flushes. */
static void run(struct rte_mbuf **pkts, unsigned n)
{
	mg_worker_clock(&w);
	mg_worker_rx_burst(&w, pkts, n);
	mg_worker_flush(&w);
}
static void run1(enum mg_port_id port, const uint8_t *bytes, size_t len)
{
	struct rte_mbuf *m = mbuf_of(port, bytes, len);
	run(&m, 1);
}

static unsigned take(enum mg_port_id port, struct rte_mbuf **out, unsigned max)
{
	return rte_ring_dequeue_burst(ring[port].tx[0], (void **)out, max, NULL);
}

static void snapshot(void)
{
	memcpy(drops_before, w.counters.drops, sizeof(drops_before));
}
/* Exactly n more drops under reason since the snapshot, and no other drop. */
static void expect_drops(enum mg_drop_reason reason, uint64_t n, const char *what)
{
	for (unsigned r = 0; r < MG_DROP_REASON_COUNT; r++) {
		uint64_t d = w.counters.drops[r] - drops_before[r];
		uint64_t want = r == reason ? n : 0;
		CHECK(d == want, "%s: drops[%s] moved by %lu, expected %lu", what,
		      mg_drop_reason_name(r), (unsigned long)d, (unsigned long)want);
	}
	snapshot();
}

static void flush_rings(void)
{
	struct rte_mbuf *m[64];
	unsigned n;
	for (unsigned p = 0; p < MG_PORT_COUNT; p++)
		while ((n = take(p, m, 64)))
			rte_pktmbuf_free_bulk(m, n);
	while ((n = rte_ring_dequeue_burst(gw.punt_ring, (void **)m, 64, NULL)))
		rte_pktmbuf_free_bulk(m, n);
	struct mg_event ev;
	while (rte_ring_dequeue_elem(gw.event_ring, &ev, sizeof(ev)) == 0)
		;
}

/* The one punted frame must be of kind (and, when slot != NO_PEER, for that peer). */
static struct rte_mbuf *expect_punt(enum mg_punt_kind kind, uint32_t slot, const char *what)
{
	struct rte_mbuf *m = NULL;
	CHECK(rte_ring_dequeue(gw.punt_ring, (void **)&m) == 0, "%s: a punt", what);
	if (!m)
		return NULL;
	struct mg_punt_meta *meta = mg_punt_meta(m);
	CHECK(meta->kind == kind, "%s: punt kind %u, expected %u", what, meta->kind, kind);
	if (slot != MG_PUNT_NO_PEER)
		CHECK(meta->peer_slot == slot, "%s: punt slot %u", what, meta->peer_slot);
	return m;
}

static void set_endpoint(unsigned peer, int family)
{
	struct mg_sockaddr ep = {.family = (uint8_t)family, .port = (uint16_t)(LISTEN + peer)};
	memcpy(ep.addr, family == 4 ? ep4[peer] : ep6, family == 4 ? 4 : 16);
	mg_endpoint_write(&peers[peer]->endpoint, &ep);
}

/* ---- set-up ---- */

static int make_port(enum mg_port_id p, const char *name, const struct rte_ether_addr *mac)
{
	if (mg_ring_port_create(&ring[p], name, 2, 1024) != 0)
		return -1;
	return mg_ring_port_attach(&ring[p], &gw, p, pool, 1024, mac);
}

static void prefix(struct mg_prefix *p, int family, const uint8_t *addr, uint8_t len)
{
	memset(p, 0, sizeof(*p));
	p->family = (uint8_t)family;
	p->len = len;
	memcpy(p->addr, addr, family == 4 ? 4 : 16);
}

static void far_init(struct far *f, unsigned i)
{
	uint8_t priv[WG_KEY_LEN];
	f->rng = 100 + i;
	f->table = wg_index_table_new(16);
	struct wg_noise_upcalls up = {
	    .ctx = f, .random = test_rng, .now = now_fn, .remote_by_pubkey = far_by_pub};
	CHECK(wg_noise_local_init(&f->local, f->table, &up) == WG_OK, "far local");
	test_rng(&f->rng, priv, sizeof(priv));
	CHECK(wg_noise_local_set_private(&f->local, priv) == WG_OK, "far key");
	wg_memzero(priv, sizeof(priv));
}

/* init creates message 1, resp consumes it and answers; both begin their sessions. */
static void handshake(struct wg_noise_remote *ini, struct wg_noise_local *resp_local,
                      struct wg_noise_remote *resp, struct wg_noise_local *ini_local)
{
	struct wg_msg_initiation m1;
	struct wg_msg_response m2;
	struct wg_noise_remote *got = NULL;
	CHECK(wg_noise_create_initiation(ini, &m1) == WG_OK, "initiation");
	CHECK(wg_noise_consume_initiation(resp_local, &m1, &got) == WG_OK && got == resp,
	      "consume initiation");
	CHECK(wg_noise_create_response(resp, &m2) == WG_OK, "response");
	CHECK(wg_noise_consume_response(ini_local, &m2, &got) == WG_OK && got == ini,
	      "consume response");
	CHECK(wg_noise_begin_session(ini) == WG_OK && wg_noise_begin_session(resp) == WG_OK,
	      "sessions");
}

static int setup(void)
{
	uint8_t priv[WG_KEY_LEN];

	/* Room for a 3000-byte LAN frame (the fragmentation case). */
	pool = rte_pktmbuf_pool_create("pool", 4095, 128, 0, 4096 + RTE_PKTMBUF_HEADROOM,
	                               SOCKET_ID_ANY);
	if (!pool) {
		fprintf(stderr, "mbuf pool: %s\n", rte_strerror(rte_errno));
		return -1;
	}
	gw.conf.listen_port = LISTEN;
	gw.conf.mtu = MTU;
	prefix(&addrs.ports[MG_PORT_LAN].ipv4, 4, (uint8_t[]){192, 168, 1, 1}, 24);
	prefix(&addrs.ports[MG_PORT_LAN].ipv6, 6, (uint8_t[16]){0xfd, 0, 0, 1, [15] = 1}, 64);
	prefix(&addrs.ports[MG_PORT_MESH].ipv4, 4, (uint8_t[]){10, 0, 0, 1}, 24);
	prefix(&addrs.ports[MG_PORT_MESH].ipv6, 6, (uint8_t[16]){0xfd, 0, 0, 0xff, [15] = 1}, 64);
	for (int p = 0; p < MG_PORT_COUNT; p++)
		addrs.ports[p].has_ipv4 = addrs.ports[p].has_ipv6 = true;
	memcpy(addrs.ports[MG_PORT_MESH].gateway4, (uint8_t[]){10, 0, 0, 254}, 4);
	addrs.ports[MG_PORT_MESH].has_gateway4 = true;
	prefix(&addrs.addresses[0], 4, (uint8_t[]){100, 64, 0, 1}, 32);
	addrs.n_addresses = 1;
	gw.conf.n_workers = 1;

	gw.addrs = &addrs;
	gw.listen_port = LISTEN;
	gw.mtu = MTU;
	gw.tsc_hz = rte_get_tsc_hz();
	if (make_port(MG_PORT_LAN, "lan", &lan_mac) || make_port(MG_PORT_MESH, "mesh", &mesh_mac)) {
		fprintf(stderr, "ring ports: %s\n", rte_strerror(rte_errno));
		return -1;
	}
	gw.punt_ring = rte_ring_create("punt", 1024, SOCKET_ID_ANY, RING_F_SC_DEQ);
	gw.event_ring = rte_ring_create_elem("events", sizeof(struct mg_event), 1024, SOCKET_ID_ANY,
	                                     RING_F_SC_DEQ);
	gw.index = wg_index_table_new(64);
	gw.allowedips = mg_allowedips_create(64, 64, NULL);
	gw.neigh = mg_neigh_create(64, SOCKET_ID_ANY);
	size_t rs = rte_rcu_qsbr_get_memsize(1);
	gw.rcu = rte_zmalloc("rcu", rs, RTE_CACHE_LINE_SIZE);
	if (!gw.punt_ring || !gw.event_ring || !gw.index || !gw.allowedips || !gw.neigh ||
	    !gw.rcu || rte_rcu_qsbr_init(gw.rcu, 1) != 0) {
		fprintf(stderr, "rings, tables or rcu: %s\n", rte_strerror(rte_errno));
		return -1;
	}
	struct wg_noise_upcalls up = {.ctx = &gw_rng,
	                              .random = test_rng,
	                              .now = now_fn,
	                              .remote_by_pubkey = gw_by_pub,
	                              .current_changed = mg_peer_current_changed};
	CHECK(wg_noise_local_init(&gw.local, gw.index, &up) == WG_OK, "gw local");
	test_rng(&gw_rng, priv, sizeof(priv));
	CHECK(wg_noise_local_set_private(&gw.local, priv) == WG_OK, "gw key");
	wg_memzero(priv, sizeof(priv));

	gw.max_peers = NPEERS;
	gw.peers = peer_slots;
	gw.peer_tx = peer_tx;
	static struct mg_peer_counters pc[NPEERS];
	gw.peer_counters[0] = pc;
	for (unsigned i = 0; i < NPEERS; i++) {
		far_init(&far[i], i);
		peers[i] = aligned_alloc(64, sizeof(struct mg_peer));
		CHECK(peers[i] != NULL, "peer");
		memset(peers[i], 0, sizeof(struct mg_peer));
		struct mg_peer *p = peers[i];
		p->slot = i;
		p->tx = &peer_tx[i];
		enum wg_result r1 =
		    wg_noise_remote_init(&p->remote, &gw.local, far[i].local.static_public, p);
		enum wg_result r2 =
		    wg_noise_remote_init(&far[i].gw, &far[i].local, gw.local.static_public, NULL);
		CHECK(r1 == WG_OK && r2 == WG_OK, "remotes");
		mg_peer_timers_init(p, NULL, NULL, NULL);
		set_endpoint(i, 4);
		CHECK(mg_allowedips_insert(gw.allowedips, AF_INET, inner_addr(4, i), 16, i) == 0 &&
		          mg_allowedips_insert(gw.allowedips, AF_INET6, inner_addr(6, i), 64, i) ==
		              0,
		      "allowed ips");
		atomic_store(&peer_slots[i], p);
		CHECK(mg_neigh_update(gw.neigh, MG_PORT_MESH, 4, ep4[i], &nh_mac[i], clock_ns) == 0,
		      "neigh");
	}
	CHECK(mg_allowedips_commit(gw.allowedips) == 0, "commit");
	CHECK(mg_neigh_update(gw.neigh, MG_PORT_MESH, 6, ep6, &nh_mac[2], clock_ns) == 0, "n6");
	CHECK(mg_neigh_update(gw.neigh, MG_PORT_LAN, 4, host4, &host_mac, clock_ns) == 0, "n4");
	CHECK(mg_neigh_update(gw.neigh, MG_PORT_LAN, 6, host6, &host_mac, clock_ns) == 0, "n6");
	/* The gateway initiates with peer 0 (its keypair is current at once); peer 1 initiates,
	 * so the gateway's keypair waits in "next" until peer 1's first packet confirms it. */
	handshake(&peers[0]->remote, &far[0].local, &far[0].gw, &gw.local);
	handshake(&far[1].gw, &gw.local, &peers[1]->remote, &far[1].local);

	gw.n_workers = 1;
	gw.workers[0] = &w;
	int err = mg_worker_init(&w, &gw, 0, rte_get_next_lcore(-1, 1, 0));
	CHECK(err == 0, "worker init: %d", err);
	w.crypto = mg_crypto_create(MG_CRYPTO_ISA_AUTO, &err);
	CHECK(w.crypto != NULL, "crypto: %d", err);
	snapshot();
	return w.crypto ? 0 : -1;
}

/* ---- helpers for the cases ---- */

static struct wg_noise_keypair *far_kp(unsigned i)
{
	struct wg_noise_keypair *kp = wg_noise_keypair_current(&far[i].gw);
	return kp ? kp : wg_noise_keypair_next(&far[i].gw);
}

/* A LAN frame from the host to peer's inner address (or to dst when given). */
static size_t lan_frame(uint8_t *buf, int family, unsigned peer, size_t total, uint8_t ttl, bool df,
                        const uint8_t *dst)
{
	const uint8_t *d = inner_addr(family, peer);
	size_t o = put_eth(buf, &lan_mac, &host_mac, family == 4 ? 0x0800 : 0x86dd);
	return o + put_ip(buf + o, family, family == 4 ? host4 : host6, dst ? dst : d, total, ttl,
	                  df, 253);
}

static struct rte_mbuf *lan_mbuf(int family, unsigned peer, size_t total)
{
	static uint8_t buf[4096];
	return mbuf_of(MG_PORT_LAN, buf, lan_frame(buf, family, peer, total, 64, true, NULL));
}

/* One MG_EVENT_RESOLVE for addr on port, and nothing else queued. */
static void expect_resolve(uint8_t port, int family, const uint8_t *addr, const char *what)
{
	struct mg_event ev;
	CHECK(rte_ring_dequeue_elem(gw.event_ring, &ev, sizeof(ev)) == 0 &&
	          ev.kind == MG_EVENT_RESOLVE && ev.port == port && ev.family == family &&
	          memcmp(ev.addr, addr, family == 4 ? 4 : 16) == 0 &&
	          rte_ring_count(gw.event_ring) == 0,
	      "%s: one resolve event", what);
}

/* A mesh frame carrying msg from peer's endpoint (of family) to the gateway. */
static size_t mesh_frame(uint8_t *buf, int family, unsigned peer, const uint8_t *msg, size_t len)
{
	return put_outer(buf, family, &mesh_mac, &nh_mac[peer], family == 4 ? ep4[peer] : ep6,
	                 (uint16_t)(LISTEN + peer), mesh_addr(family), LISTEN, 0, 0, msg, len);
}

/* Far node peer seals an inner packet (from its range to the LAN host) into msg. */
static size_t far_seal(unsigned peer, int family, size_t total, const uint8_t *src_override,
                       uint8_t *inner, uint8_t *msg)
{
	size_t ml = 0;
	const uint8_t *s = src_override ? src_override : inner_addr(family, peer);
	put_ip(inner, family, s, family == 4 ? host4 : host6, total, 64, true, 253);
	CHECK(wg_transport_seal(far_kp(peer), inner, total, MTU, msg, 2048, &ml, NULL, clock_ns) ==
	          WG_OK,
	      "far seal");
	return ml;
}

/* Checks one encrypted frame from the mesh port against the reference for inner packet exp
 * (already forwarded) under counter, and opens it at the far node. */
static void check_sealed(struct rte_mbuf *m, unsigned peer, int ofam, const uint8_t *exp,
                         size_t len, uint64_t counter, const char *what)
{
	static uint8_t msg[2048], want[2048], plain[2048];
	struct wg_noise_keypair *kp = wg_noise_keypair_current(&peers[peer]->remote);
	size_t ml = 0, pl = 0;
	uint64_t saved = atomic_load(&kp->send_counter);
	atomic_store(&kp->send_counter, counter);
	CHECK(wg_transport_seal(kp, exp, len, MTU, msg, sizeof(msg), &ml, NULL, clock_ns) == WG_OK,
	      "%s: reference seal", what);
	atomic_store(&kp->send_counter, saved);
	const uint8_t *frame = rte_pktmbuf_mtod(m, const uint8_t *);
	size_t hl = ofam == 4 ? 20 : 40;
	uint16_t id = ofam == 4 ? (uint16_t)(frame[18] << 8 | frame[19]) : 0;
	uint8_t tclass = exp[0] >> 4 == 4 ? exp[1] & 3 : 0;
	size_t wl =
	    put_outer(want, ofam, &nh_mac[ofam == 4 ? peer : 2], &mesh_mac, mesh_addr(ofam), LISTEN,
	              ofam == 4 ? ep4[peer] : ep6, (uint16_t)(LISTEN + peer), tclass, id, msg, ml);
	CHECK(m->pkt_len == wl && m->nb_segs == 1 && memcmp(frame, want, wl) == 0,
	      "%s: frame differs from the reference (len %u, want %zu)", what, m->pkt_len, wl);
	struct wg_noise_keypair *got = NULL;
	enum wg_result r = wg_transport_open(&far[peer].local, frame + 14 + hl + 8, ml, plain, &pl,
	                                     &got, NULL, clock_ns);
	CHECK((r == WG_OK || r == WG_OK_REKEY) && pl >= len && memcmp(plain, exp, len) == 0,
	      "%s: far node opens it: %s", what, wg_result_str(r));
	if (got && got->remote)
		wg_noise_received_with_keypair(got->remote, got);
}

/* ---- cases ---- */

/* Every inner/outer family combination at the edge sizes: the smallest packet (one payload
 * byte), 64, one below the MTU and the MTU. */
static void each_combination(void (*fn)(int ifam, int ofam, size_t total, const char *what),
                             const char *name)
{
	static const size_t sizes[] = {0, 64, MTU - 1, MTU};
	char what[64];
	for (int ifam = 4; ifam <= 6; ifam += 2)
		for (int ofam = 4; ofam <= 6; ofam += 2)
			for (unsigned s = 0; s < 4; s++) {
				size_t total = sizes[s] ? sizes[s] : (ifam == 4 ? 21u : 41u);
				snprintf(what, sizeof(what), "%s v%d in v%d, %zu", name, ifam, ofam,
				         total);
				fn(ifam, ofam, total, what);
			}
	expect_drops(MG_DROP_REASON_COUNT, 0, name);
}

static void encap_case(int ifam, int ofam, size_t total, const char *what)
{
	static uint8_t buf[2048], inner[2048];
	set_endpoint(0, ofam);
	struct wg_noise_keypair *kp = wg_noise_keypair_current(&peers[0]->remote);
	uint64_t c0 = atomic_load(&kp->send_counter), tx0 = w.peer_counters[0].tx_bytes;
	size_t len = lan_frame(buf, ifam, 0, total, 64, true, NULL);
	memcpy(inner, buf + 14, total);
	forwarded(inner, ifam);
	run1(MG_PORT_LAN, buf, len);
	struct rte_mbuf *m = NULL;
	CHECK(take(MG_PORT_MESH, &m, 1) == 1, "%s: one frame out", what);
	if (!m)
		return;
	check_sealed(m, 0, ofam, inner, total, c0, what);
	CHECK(atomic_load(&kp->send_counter) == c0 + 1, "%s: one nonce", what);
	CHECK(w.peer_counters[0].tx_bytes - tx0 == wg_transport_sealed_len(total, MTU),
	      "%s: tx bytes", what);
	rte_pktmbuf_free(m);
}

static void decap_case(int ifam, int ofam, size_t total, const char *what)
{
	static uint8_t inner[2048], msg[2048], buf[2048], want[2048];
	uint64_t rx0 = w.peer_counters[0].rx_bytes;
	size_t ml = far_seal(0, ifam, total, NULL, inner, msg);
	run1(MG_PORT_MESH, buf, mesh_frame(buf, ofam, 0, msg, ml));
	size_t wl = put_eth(want, &host_mac, &lan_mac, ifam == 4 ? 0x0800 : 0x86dd);
	memcpy(want + wl, inner, total);
	forwarded(want + wl, ifam);
	wl += total;
	struct rte_mbuf *m = NULL;
	CHECK(take(MG_PORT_LAN, &m, 1) == 1, "%s: one frame out", what);
	if (!m)
		return;
	CHECK(m->pkt_len == wl && memcmp(rte_pktmbuf_mtod(m, void *), want, wl) == 0,
	      "%s: LAN frame differs", what);
	CHECK(w.peer_counters[0].rx_bytes - rx0 == ml, "%s: rx bytes", what);
	struct mg_sockaddr ep;
	mg_endpoint_read(&peers[0]->endpoint, &ep);
	CHECK(ep.family == ofam, "%s: endpoint roamed to the source", what);
	rte_pktmbuf_free(m);
}

/* One ICMP error back on the LAN: type and code at off, and mtu (when given) at off + 4..7. */
static void expect_icmp(size_t off, uint8_t type, uint8_t code, uint32_t mtu, const char *what)
{
	struct rte_mbuf *m = NULL;
	CHECK(take(MG_PORT_LAN, &m, 1) == 1 && rte_ring_count(ring[MG_PORT_LAN].tx[0]) == 0,
	      "%s: one error sent", what);
	if (!m)
		return;
	const uint8_t *p = rte_pktmbuf_mtod(m, uint8_t *) + off;
	uint32_t got = (uint32_t)p[4] << 24 | p[5] << 16 | p[6] << 8 | p[7];
	CHECK(p[0] == type && p[1] == code && (!mtu || got == mtu), "%s: %u/%u mtu %u", what, p[0],
	      p[1], got);
	rte_pktmbuf_free(m);
}

static void test_lan_drops(void)
{
	static uint8_t buf[4096];
	size_t len;
	set_endpoint(0, 4);

	run1(MG_PORT_LAN, buf, lan_frame(buf, 4, 0, 100, 64, true, (uint8_t[]){8, 8, 8, 8}));
	expect_drops(MG_DROP_NO_ROUTE, 1, "no route v4");
	expect_icmp(34, 3, 1, 0, "host unreachable");

	run1(MG_PORT_LAN, buf, lan_frame(buf, 4, 0, MTU + 1, 64, true, NULL));
	expect_drops(MG_DROP_TOO_BIG, 1, "too big v4 DF");
	expect_icmp(34, 3, 4, MTU, "fragmentation needed");

	run1(MG_PORT_LAN, buf, lan_frame(buf, 6, 0, MTU + 1, 64, true, NULL));
	expect_drops(MG_DROP_TOO_BIG, 1, "too big v6");
	expect_icmp(54, 2, 0, MTU, "packet too big");

	run1(MG_PORT_LAN, buf, lan_frame(buf, 4, 0, 100, 1, true, NULL));
	expect_drops(MG_DROP_TTL, 1, "ttl");
	flush_rings();

	len = lan_frame(buf, 4, 0, 100, 64, true, NULL);
	buf[14 + 10] ^= 0x55; /* header checksum */
	run1(MG_PORT_LAN, buf, len);
	len = lan_frame(buf, 4, 0, 100, 64, true, NULL);
	run1(MG_PORT_LAN, buf, 30); /* truncated header */
	expect_drops(MG_DROP_MALFORMED, 2, "malformed");

	/* No endpoint: host unreachable too, as Linux answers -EDESTADDRREQ. */
	struct mg_sockaddr none = {0};
	mg_endpoint_write(&peers[0]->endpoint, &none);
	len = lan_frame(buf, 4, 0, 100, 64, true, NULL);
	run1(MG_PORT_LAN, buf, len);
	expect_drops(MG_DROP_NO_ENDPOINT, 1, "no endpoint");
	set_endpoint(0, 4);
	flush_rings();

	/* Unresolved next hop: dropped, resolution requested once for a burst of two. */
	mg_neigh_delete(gw.neigh, MG_PORT_MESH, 4, ep4[0]);
	struct rte_mbuf *two[2] = {mbuf_of(MG_PORT_LAN, buf, len), mbuf_of(MG_PORT_LAN, buf, len)};
	run(two, 2);
	expect_drops(MG_DROP_NO_NEIGHBOUR, 2, "no neighbour (encap)");
	expect_resolve(MG_PORT_MESH, 4, ep4[0], "unresolved endpoint");
	mg_neigh_update(gw.neigh, MG_PORT_MESH, 4, ep4[0], &nh_mac[0], clock_ns);
	flush_rings();
}

static void test_fragmentation(void)
{
	static uint8_t buf[4096], inner[4096], plain[2048];
	struct rte_mbuf *out[8];
	size_t len = lan_frame(buf, 4, 0, 3000, 64, false, NULL);
	memcpy(inner, buf + 14, 3000);
	run1(MG_PORT_LAN, buf, len);
	unsigned n = take(MG_PORT_MESH, out, 8);
	CHECK(n == 3, "3000 bytes without DF: %u fragments", n);
	size_t off = 0;
	for (unsigned i = 0; i < n; i++) {
		size_t pl = 0;
		struct wg_noise_keypair *kp = NULL;
		const uint8_t *msg = rte_pktmbuf_mtod(out[i], uint8_t *) + 42;
		CHECK(wg_transport_open(&far[0].local, msg, out[i]->pkt_len - 42, plain, &pl, &kp,
		                        NULL, clock_ns) == WG_OK,
		      "fragment %u opens", i);
		size_t tl = (size_t)plain[2] << 8 | plain[3];
		uint16_t fo = (uint16_t)(plain[6] << 8 | plain[7]);
		CHECK(tl <= MTU && (fo & 0x1fff) * 8u == off &&
		          ((fo & 0x2000) != 0) == (i + 1 < n) &&
		          rte_raw_cksum(plain, 20) == 0xffff && plain[8] == 63 &&
		          memcmp(plain + 20, inner + 20 + off, tl - 20) == 0,
		      "fragment %u: length %zu offset %u", i, tl, fo);
		off += tl - 20;
	}
	CHECK(off == 2980, "fragments carry the whole payload");
	rte_pktmbuf_free_bulk(out, n);
	expect_drops(MG_DROP_REASON_COUNT, 0, "fragmentation");
}

static void test_mesh_drops(void)
{
	static uint8_t inner[2048], msg[2048], buf[2048];
	size_t ml, len;

	ml = far_seal(0, 4, 100, NULL, inner, msg);
	len = mesh_frame(buf, 4, 0, msg, ml);
	buf[14 + 19] = 99; /* to 10.0.0.99 */
	cksum4(buf + 14);
	run1(MG_PORT_MESH, buf, len);
	expect_drops(MG_DROP_NOT_FOR_US, 1, "not for us");

	msg[4] ^= 0xff; /* receiver index */
	run1(MG_PORT_MESH, buf, mesh_frame(buf, 4, 0, msg, ml));
	expect_drops(MG_DROP_UNKNOWN_INDEX, 1, "unknown index");
	msg[4] ^= 0xff;

	msg[20] ^= 1;
	run1(MG_PORT_MESH, buf, mesh_frame(buf, 4, 0, msg, ml));
	expect_drops(MG_DROP_AUTH, 1, "auth");
	msg[20] ^= 1;

	len = mesh_frame(buf, 4, 0, msg, ml);
	run1(MG_PORT_MESH, buf, len);
	run1(MG_PORT_MESH, buf, len);
	expect_drops(MG_DROP_REPLAY, 1, "replay (first delivered)");
	CHECK(rte_ring_count(ring[MG_PORT_LAN].tx[0]) == 1, "the original was forwarded");

	ml = far_seal(0, 4, 100, (uint8_t[]){172, 17, 0, 9}, inner, msg); /* peer 1's range */
	run1(MG_PORT_MESH, buf, mesh_frame(buf, 4, 0, msg, ml));
	expect_drops(MG_DROP_ALLOWED_IPS, 1, "allowed ips");

	static const uint8_t junk[32] = {0x00, 1, 2, 3};
	size_t jl = 0;
	wg_transport_seal(far_kp(0), junk, sizeof(junk), MTU, msg, sizeof(msg), &jl, NULL,
	                  clock_ns);
	run1(MG_PORT_MESH, buf, mesh_frame(buf, 4, 0, msg, jl));
	put_ip(inner, 4, (uint8_t[]){172, 16, 0, 5}, host4, 100, 64, true, 253);
	inner[3] = 200; /* claims more than it carries */
	wg_transport_seal(far_kp(0), inner, 100, MTU, msg, sizeof(msg), &jl, NULL, clock_ns);
	run1(MG_PORT_MESH, buf, mesh_frame(buf, 4, 0, msg, jl));
	expect_drops(MG_DROP_INNER_INVALID, 2, "inner invalid");

	len = mesh_frame(buf, 4, 0, msg, 20); /* type 4 but shorter than header and tag */
	run1(MG_PORT_MESH, buf, len);
	expect_drops(MG_DROP_WG_INVALID, 1, "wg invalid");

	mg_neigh_delete(gw.neigh, MG_PORT_LAN, 4, host4);
	ml = far_seal(0, 4, 100, NULL, inner, msg);
	run1(MG_PORT_MESH, buf, mesh_frame(buf, 4, 0, msg, ml));
	expect_drops(MG_DROP_NO_NEIGHBOUR, 1, "no neighbour (decap)");
	expect_resolve(MG_PORT_LAN, 4, host4, "unresolved LAN host");
	mg_neigh_update(gw.neigh, MG_PORT_LAN, 4, host4, &host_mac, clock_ns);

	uint64_t ka = w.counters.keepalives_rx, rx0 = w.peer_counters[0].rx_bytes;
	wg_transport_seal(far_kp(0), NULL, 0, MTU, msg, sizeof(msg), &ml, NULL, clock_ns);
	len = mesh_frame(buf, 4, 0, msg, ml);
	run1(MG_PORT_MESH, buf, len);
	CHECK(w.counters.keepalives_rx == ka + 1 && w.peer_counters[0].rx_bytes == rx0 + 32,
	      "keepalive counted");
	CHECK(rte_ring_count(ring[MG_PORT_LAN].tx[0]) == 1, "keepalive not forwarded");
	expect_drops(MG_DROP_REASON_COUNT, 0, "keepalive");
	flush_rings();
}

static void test_punts(void)
{
	static uint8_t buf[2048];
	struct rte_mbuf *m;
	size_t len;

	len = put_eth(buf, &lan_mac, &host_mac, 0x0806);
	memset(buf + len, 0, 28);
	run1(MG_PORT_LAN, buf, len + 28);
	rte_pktmbuf_free(expect_punt(MG_PUNT_ARP, MG_PUNT_NO_PEER, "arp"));

	len = lan_frame(buf, 6, 0, 64, 255, true, (uint8_t[16]){0xff, 2, [11] = 1, 0xff, 0, 0, 1});
	buf[14 + 6] = 58;
	buf[14 + 40] = 135; /* neighbour solicitation */
	run1(MG_PORT_LAN, buf, len);
	rte_pktmbuf_free(expect_punt(MG_PUNT_ND, MG_PUNT_NO_PEER, "nd"));

	run1(MG_PORT_LAN, buf,
	     lan_frame(buf, 4, 0, 64, 64, true, addrs.ports[MG_PORT_LAN].ipv4.addr));
	rte_pktmbuf_free(expect_punt(MG_PUNT_LOCAL, MG_PUNT_NO_PEER, "lan local"));

	static uint8_t init[148] = {1};
	run1(MG_PORT_MESH, buf, mesh_frame(buf, 6, 1, init, sizeof(init)));
	m = expect_punt(MG_PUNT_HANDSHAKE, MG_PUNT_NO_PEER, "handshake");
	if (m) {
		const struct mg_punt_meta *meta = mg_punt_meta(m);
		CHECK(meta->src.family == 6 && meta->src.port == LISTEN + 1 &&
		          memcmp(meta->src.addr, ep6, 16) == 0 && meta->l3_offset == 14,
		      "handshake source in the meta");
		rte_pktmbuf_free(m);
	}
	len = put_outer(buf, 4, &mesh_mac, &nh_mac[0], ep4[0], 1,
	                addrs.ports[MG_PORT_MESH].ipv4.addr, LISTEN, 0, 0, init, 8);
	buf[14 + 9] = 1; /* ICMP */
	cksum4(buf + 14);
	run1(MG_PORT_MESH, buf, len);
	rte_pktmbuf_free(expect_punt(MG_PUNT_LOCAL, MG_PUNT_NO_PEER, "mesh local"));
	expect_drops(MG_DROP_REASON_COUNT, 0, "punts");
}

/* Peer 1 initiated: packets to it are staged until its first data packet confirms the key. */
static void test_confirmation(void)
{
	static uint8_t buf[2048], inner[2048], msg[2048];
	size_t len = lan_frame(buf, 4, 1, 100, 64, true, NULL);
	run1(MG_PORT_LAN, buf, len);
	rte_pktmbuf_free(expect_punt(MG_PUNT_STAGE, 1, "stage before confirmation"));

	struct wg_noise_keypair *next = wg_noise_keypair_next(&peers[1]->remote);
	size_t ml = far_seal(1, 4, 100, NULL, inner, msg);
	len = mesh_frame(buf, 4, 1, msg, ml);
	run1(MG_PORT_MESH, buf, len);
	struct mg_event ev;
	CHECK(rte_ring_dequeue_elem(gw.event_ring, &ev, sizeof(ev)) == 0 &&
	          ev.kind == MG_EVENT_KEY_CONFIRMED && ev.peer_slot == 1 && next &&
	          ev.local_index == next->local_index,
	      "key confirmed event");
	CHECK(rte_ring_count(ring[MG_PORT_LAN].tx[0]) == 1, "its packet is forwarded");
	/* What the control thread does with the event. */
	CHECK(wg_noise_received_with_keypair(&peers[1]->remote, next), "confirm");
	expect_drops(MG_DROP_REASON_COUNT, 0, "confirmation");
	flush_rings();
}

/* The WireGuard counter of an encrypted IPv4-outer frame. */
static uint64_t counter_of(const struct rte_mbuf *m)
{
	uint64_t le;
	memcpy(&le, rte_pktmbuf_mtod(m, const uint8_t *) + 14 + 28 + 8, sizeof(le));
	return le64toh(le);
}

/* Interleaved peers in one burst, then 64 packets of one peer: consecutive nonces. */
static void test_bursts(void)
{
	static uint8_t buf[2048], inner[2][2048];
	struct rte_mbuf *in[64], *out[64];
	uint64_t c[2];
	for (unsigned p = 0; p < 2; p++) {
		set_endpoint(p, 4);
		c[p] = atomic_load(&wg_noise_keypair_current(&peers[p]->remote)->send_counter);
	}
	for (unsigned i = 0; i < 8; i++)
		in[i] = lan_mbuf(4, i % 2, 200 + i);
	run(in, 8);
	unsigned n = take(MG_PORT_MESH, out, 64);
	CHECK(n == 8, "mixed burst: %u out", n);
	for (unsigned i = 0; i < n; i++) {
		const uint8_t *f = rte_pktmbuf_mtod(out[i], uint8_t *);
		unsigned p = f[14 + 19] == ep4[1][3];
		uint64_t ctr = counter_of(out[i]);
		CHECK(ctr >= c[p] && ctr < c[p] + 4, "peer %u counter %lu", p, (unsigned long)ctr);
		unsigned k = (unsigned)(ctr - c[p]) * 2 + p; /* the k-th frame sent */
		lan_frame(buf, 4, p, 200 + k, 64, true, NULL);
		memcpy(inner[p], buf + 14, 200 + k);
		forwarded(inner[p], 4);
		check_sealed(out[i], p, 4, inner[p], 200 + k, ctr, "mixed burst");
	}
	rte_pktmbuf_free_bulk(out, n);

	struct wg_noise_keypair *kp = wg_noise_keypair_current(&peers[0]->remote);
	uint64_t c0 = atomic_load(&kp->send_counter);
	for (unsigned i = 0; i < 64; i++)
		in[i] = lan_mbuf(4, 0, 100);
	run(in, 64);
	n = take(MG_PORT_MESH, out, 64);
	CHECK(n == 64 && atomic_load(&kp->send_counter) == c0 + 64, "64 sent, 64 nonces");
	for (unsigned i = 0; i < n; i++) {
		uint64_t ctr = counter_of(out[i]);
		CHECK(ctr == c0 + i, "frame %u has counter %lu", i, (unsigned long)ctr);
	}
	rte_pktmbuf_free_bulk(out, n);

	/* No headroom for the outer headers: the frame is copied, the result is the same. */
	size_t len = lan_frame(buf, 6, 0, 500, 64, true, NULL);
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	m->data_off = 0;
	memcpy(rte_pktmbuf_append(m, (uint16_t)len), buf, len);
	m->port = gw.ports[MG_PORT_LAN].port_id;
	memcpy(inner[0], buf + 14, 500);
	forwarded(inner[0], 6);
	c0 = atomic_load(&kp->send_counter);
	run(&m, 1);
	CHECK(take(MG_PORT_MESH, out, 64) == 1, "low-headroom frame sent");
	check_sealed(out[0], 0, 4, inner[0], 500, c0, "low headroom");
	rte_pktmbuf_free(out[0]);

	/* The same to a relayed peer: no outer headers, but room for the data header still. */
	CHECK(mg_relay_rings_create(&gw) == 0, "relay rings");
	struct mg_sockaddr relay_ep = mg_relay_addr(1, peers[0]->slot);
	mg_endpoint_write(&peers[0]->endpoint, &relay_ep);
	for (uint16_t off = 0; off <= 2; off++) {
		m = rte_pktmbuf_alloc(pool);
		m->data_off = off;
		memcpy(rte_pktmbuf_append(m, (uint16_t)len), buf, len);
		m->port = gw.ports[MG_PORT_LAN].port_id;
		c0 = atomic_load(&kp->send_counter);
		run(&m, 1);
		struct mg_relay_item it = {0};
		CHECK(mg_relay_out_take(&gw, &it, 1) == 1, "headroom %u: relayed", off);
		if (!it.m)
			continue;
		const struct wg_msg_data *d = rte_pktmbuf_mtod(it.m, const struct wg_msg_data *);
		CHECK(it.slot == peers[0]->slot && le32toh(d->header.type) == WG_MSG_DATA &&
		          le32toh(d->key_idx) == kp->remote_index && le64toh(d->counter) == c0,
		      "headroom %u: the data header", off);
		CHECK(it.m->pkt_len == sizeof(*d) + wg_padded_len(500, MTU) + WG_AEAD_TAG_LEN,
		      "headroom %u: %u bytes relayed", off, it.m->pkt_len);
		rte_pktmbuf_free(it.m);
	}
	set_endpoint(0, 4);
	mg_relay_rings_free(&gw);
	expect_drops(MG_DROP_REASON_COUNT, 0, "bursts");
}

/* One frame to peer 0 sealed and checked against the reference for an outer family ofam
 * endpoint (unless it went to another MAC or port); its destination MAC and UDP source port. */
static void send_checked(const char *what, int ofam, struct rte_ether_addr *dst, uint16_t *sport)
{
	static uint8_t buf[2048], inner[2048];
	struct rte_mbuf *m = NULL;
	uint64_t c0 = atomic_load(&wg_noise_keypair_current(&peers[0]->remote)->send_counter);
	size_t len = lan_frame(buf, 4, 0, 300, 64, true, NULL);
	memcpy(inner, buf + 14, 300);
	forwarded(inner, 4);
	run1(MG_PORT_LAN, buf, len);
	CHECK(take(MG_PORT_MESH, &m, 1) == 1, "%s: sent", what);
	if (!m)
		return;
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	memcpy(dst, f, sizeof(*dst));
	if (sport) {
		const uint8_t *udp = f + 14 + (ofam == 4 ? 20 : 40);
		*sport = (uint16_t)(udp[0] << 8 | udp[1]);
	}
	/* (The reference is built from the usual next hop and listen port.) */
	if (rte_is_same_ether_addr(dst, &nh_mac[ofam == 4 ? 0 : 2]) && gw.listen_port == LISTEN)
		check_sealed(m, 0, ofam, inner, 300, c0, what);
	rte_pktmbuf_free(m);
}

/* A rekey, a new next-hop MAC, a roamed endpoint and a new listen port take effect on the very
 * next burst, though the peer's send state (peer.h) cached the old ones, and the outer headers
 * built from them, on the burst before. */
static void test_next_burst(void)
{
	static const struct rte_ether_addr moved = {{2, 0, 0, 0, 2, 0x77}};
	struct rte_ether_addr dst;
	set_endpoint(0, 4);
	send_checked("before the rekey", 4, &dst, NULL);
	struct wg_noise_keypair *old = wg_noise_keypair_current(&peers[0]->remote);
	clock_ns += 10 * WG_NSEC_PER_SEC; /* past the far side's initiation rate limit */
	/* The initiation's timestamp (real clock, coarse) must move past the set-up's. */
	rte_delay_us_sleep(WG_TAI64N_GRANULARITY_NS / 1000 + 1000);
	handshake(&peers[0]->remote, &far[0].local, &far[0].gw, &gw.local);
	CHECK(wg_noise_keypair_current(&peers[0]->remote) != old, "rekeyed");
	send_checked("after the rekey: the new keypair, byte for byte", 4, &dst, NULL);
	CHECK(mg_neigh_update(gw.neigh, MG_PORT_MESH, 4, ep4[0], &moved, clock_ns) == 0, "move");
	send_checked("after the MAC moved", 4, &dst, NULL);
	CHECK(rte_is_same_ether_addr(&dst, &moved), "sent to the moved MAC");
	CHECK(mg_neigh_update(gw.neigh, MG_PORT_MESH, 4, ep4[0], &nh_mac[0], clock_ns) == 0,
	      "back");
	send_checked("after the MAC moved back", 4, &dst, NULL);
	CHECK(rte_is_same_ether_addr(&dst, &nh_mac[0]), "sent to the old MAC again");

	/* The endpoint roams (another family, then back): the headers follow, byte for byte. */
	set_endpoint(0, 6);
	send_checked("after roaming to IPv6", 6, &dst, NULL);
	CHECK(rte_is_same_ether_addr(&dst, &nh_mac[2]), "sent to the IPv6 next hop");
	set_endpoint(0, 4);
	send_checked("after roaming back to IPv4", 4, &dst, NULL);
	CHECK(rte_is_same_ether_addr(&dst, &nh_mac[0]), "sent to the IPv4 next hop");

	/* A new listen port moves the table's generation (gateway/device.c): the cached headers
	 * take the new source port on the next burst. */
	uint16_t sport = 0;
	send_checked("before the port change", 4, &dst, &sport);
	CHECK(sport == LISTEN, "sent from the listen port");
	gw.listen_port = LISTEN + 100;
	mg_neigh_touch(gw.neigh);
	send_checked("after the port change", 4, &dst, &sport);
	CHECK(sport == LISTEN + 100, "sent from the new listen port (%u)", sport);
	gw.listen_port = LISTEN;
	mg_neigh_touch(gw.neigh);
	send_checked("after the port changed back", 4, &dst, &sport);
	CHECK(sport == LISTEN, "sent from the listen port again");
	expect_drops(MG_DROP_REASON_COUNT, 0, "next burst");
}

/* Queues n frames on the LAN port's RX ring, starts the real loop on lcore and waits (5 s at
 * most) until `sent` frames are on the mesh port's TX ring. The loop keeps running. */
static void loop_until_sent(unsigned lcore, unsigned n, unsigned sent)
{
	for (unsigned i = 0; i < n; i++)
		rte_ring_enqueue(ring[MG_PORT_LAN].rx, lan_mbuf(4, 0, 300));
	atomic_store(&gw.stop, false);
	CHECK(rte_eal_remote_launch(mg_worker_main, &w, lcore) == 0, "launch");
	uint64_t end = rte_get_tsc_cycles() + 5 * rte_get_tsc_hz();
	while (rte_ring_count(ring[MG_PORT_MESH].tx[0]) < sent && rte_get_tsc_cycles() < end)
		rte_pause();
}

static void loop_stop(unsigned lcore)
{
	atomic_store(&gw.stop, true);
	CHECK(rte_eal_wait_lcore(lcore) == 0, "worker returned 0");
}

/* The real loop on a worker lcore, fed through the LAN port's RX ring. */
static void test_loop(void)
{
	unsigned lcore = rte_get_next_lcore(-1, 1, 0);
	gw.conf.idle_backoff = true;
	gw.conf.idle_max_sleep_us = 100;
	loop_until_sent(lcore, 40, 40);
	loop_stop(lcore);
	CHECK(rte_ring_count(ring[MG_PORT_MESH].tx[0]) == 40, "loop encrypted all 40");
	CHECK(w.counters.polls > 0 && w.counters.encrypted >= 40, "loop counters");
	flush_rings();
	expect_drops(MG_DROP_REASON_COUNT, 0, "loop");

	/* Whole bursts only: the loop holds each full one for an iteration (worker.c, take), and
	 * the empty poll after the last must hand it on. Order survives the hold: the nonces go
	 * up by one. Then a deep queue and the loop told to stop in the middle of it: every
	 * frame is sent or still queued, none stays held or leaks. */
	loop_until_sent(lcore, 2 * MG_BURST, 2 * MG_BURST);
	struct rte_mbuf *out[2 * MG_BURST];
	unsigned got = take(MG_PORT_MESH, out, 2 * MG_BURST);
	CHECK(got == 2 * MG_BURST, "two whole bursts sent with no more behind them (%u)", got);
	for (unsigned i = 1; i < got; i++)
		CHECK(counter_of(out[i]) == counter_of(out[i - 1]) + 1, "in order after the hold");
	rte_pktmbuf_free_bulk(out, got);
	loop_stop(lcore);
	unsigned fed = 30 * MG_BURST;
	loop_until_sent(lcore, fed, 3 * MG_BURST);
	loop_stop(lcore);
	unsigned sent = rte_ring_count(ring[MG_PORT_MESH].tx[0]);
	unsigned queued = rte_ring_count(ring[MG_PORT_LAN].rx);
	CHECK(sent + queued == fed, "stopped mid-stream: %u sent + %u still queued of %u", sent,
	      queued, fed);
	CHECK(w.n_held[MG_PORT_LAN] == 0, "nothing held after the loop");
	flush_rings();
	while (
	    (got = rte_ring_dequeue_burst(ring[MG_PORT_LAN].rx, (void **)out, 2 * MG_BURST, NULL)))
		rte_pktmbuf_free_bulk(out, got);
	expect_drops(MG_DROP_REASON_COUNT, 0, "loop with whole bursts");
}

/*
 * The timer inputs of received packets: a data packet's time goes to this worker's counters row
 * (the control thread takes the newest over the workers), a keepalive's to the peer's line. A
 * roamed endpoint is current for the next packet from there: no second write, so the send
 * state built for it stays fresh.
 */
static void test_rx_times(void)
{
	static uint8_t buf[2048], inner[2048], msg[2048];
	struct mg_peer *p = peers[0];
	struct mg_peer_counters *row = &w.peer_counters[p->slot];
	size_t ml;

	snapshot();
	set_endpoint(0, 4);
	uint64_t ka0 = atomic_load(&p->last_keepalive_rx_ns);
	clock_ns += WG_NSEC_PER_SEC;
	ml = far_seal(0, 4, 100, NULL, inner, msg);
	run1(MG_PORT_MESH, buf, mesh_frame(buf, 4, 0, msg, ml));
	uint64_t data_at = clock_ns;
	CHECK(atomic_load(&row->last_rx_ns) == data_at, "data: the time is on the worker's row");
	CHECK(atomic_load(&p->last_keepalive_rx_ns) == ka0, "data: the peer's line is not written");

	clock_ns += WG_NSEC_PER_SEC;
	wg_transport_seal(far_kp(0), NULL, 0, MTU, msg, sizeof(msg), &ml, NULL, clock_ns);
	run1(MG_PORT_MESH, buf, mesh_frame(buf, 4, 0, msg, ml));
	CHECK(atomic_load(&p->last_keepalive_rx_ns) == clock_ns,
	      "keepalive: the time is the peer's");
	CHECK(atomic_load(&row->last_rx_ns) == data_at, "keepalive: no data time");

	clock_ns += WG_NSEC_PER_SEC;
	ml = far_seal(0, 4, 100, NULL, inner, msg);
	run1(MG_PORT_MESH, buf, mesh_frame(buf, 6, 0, msg, ml));
	struct mg_sockaddr ep;
	CHECK(mg_endpoint_read(&p->endpoint, &ep) && ep.family == 6, "roamed to the v6 source");
	uint32_t ep_seq = atomic_load(&p->endpoint.seq), tx_seq = atomic_load(&p->tx->seq);
	ml = far_seal(0, 4, 100, NULL, inner, msg);
	run1(MG_PORT_MESH, buf, mesh_frame(buf, 6, 0, msg, ml));
	CHECK(atomic_load(&p->endpoint.seq) == ep_seq && atomic_load(&p->tx->seq) == tx_seq,
	      "the roamed endpoint is current for the next packet");
	CHECK(atomic_load(&row->last_rx_ns) == clock_ns, "data after roaming: timed");
	CHECK(rte_ring_count(ring[MG_PORT_LAN].tx[0]) == 3, "three data packets forwarded");
	expect_drops(MG_DROP_REASON_COUNT, 0, "rx times");
	flush_rings();
	set_endpoint(0, 4);
}

static void test_expiry(void)
{
	static uint8_t buf[2048], inner[2048], msg[2048];
	size_t ml = far_seal(0, 4, 100, NULL, inner, msg);
	clock_ns += (WG_REJECT_AFTER_TIME_S + 1) * WG_NSEC_PER_SEC;
	size_t len = mesh_frame(buf, 4, 0, msg, ml);
	run1(MG_PORT_MESH, buf, len);
	expect_drops(MG_DROP_KEY_EXPIRED, 1, "key expired");
	run1(MG_PORT_LAN, buf, lan_frame(buf, 4, 0, 100, 64, true, NULL));
	rte_pktmbuf_free(expect_punt(MG_PUNT_STAGE, 0, "stage after expiry"));
	expect_drops(MG_DROP_REASON_COUNT, 0, "expiry");
}

int main(int argc, char **argv)
{
	(void)argc;
	if (eal_test_init(argv[0], 2, 512) != 0 || setup() != 0) {
		fprintf(stderr, "set-up failed\n");
		return 1;
	}
	each_combination(encap_case, "encap");
	each_combination(decap_case, "decap");
	test_lan_drops();
	test_fragmentation();
	test_mesh_drops();
	test_punts();
	test_confirmation();
	test_bursts();
	test_next_burst();
	test_loop();
	test_rx_times();
	test_expiry();
	CHECK(w.counters.drops[MG_DROP_PUNT_FULL] == 0, "no punt lost");
	flush_rings();
	mg_worker_fini(&w);
	return check_done("encap_decap");
}
