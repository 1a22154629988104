// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fuzz target: the worker's handling of raw frames from either port (dataplane/worker.c
 * classify, encap.c, decap.c, punts, ICMP errors, IPv4 fragmentation), through the real worker
 * burst on ring ports (tests/support/ring_gateway.h) with EAL in memory (--no-huge). The gateway
 * has one peer whose keypair is current: LAN frames to 172.16.0.0/16 or fd00:16::/64 are
 * encrypted to it, and the far node's sealed messages open.
 *
 * Input: byte 0 picks the port (bit 0: mesh) and, on the mesh port, whether the rest is a raw
 * frame or an inner packet (bit 1) that the target seals as the far node with a fresh counter
 * and wraps in Ethernet, IPv4 and UDP to the gateway's port, so the decrypted path sees fuzzed
 * plaintext. Bit 2 puts a packet filter in force for the frame (UDP from the peer's prefixes to
 * the LAN host's port 39585 only, with flow tracking), so the filter's header walk, rte_acl
 * classification, flow table and ICMP-error quotes see fuzzed packets too. Each frame sits in an
 * external buffer that ends exactly where the frame ends: a read past it is out of bounds for
 * AddressSanitizer.
 *
 * Invariants per frame:
 *  - it is counted once as received on its port;
 *  - it is accounted for exactly once: dropped under one reason, punted, consumed as a
 *    keepalive, or sent on (decrypted onto the LAN, encrypted onto the mesh); an IPv4 packet
 *    without DF over the MTU becomes fragments, each accounted for the same way;
 *  - the LAN port only carries ICMP errors back for a LAN frame, one at most, and only with a
 *    drop; what goes to the mesh is an Ethernet+IP+UDP frame from the listen port;
 *  - every mbuf comes back to the pool (none leaks, none is freed twice).
 */
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_mempool.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "allowedips.h"
#include "crypto.h"
#include "crypto_burst.h"
#include "eal_test_env.h"
#include "fake_host.h"
#include "fuzz_driver.h"
#include "index_table.h"
#include "neigh.h"
#include "noise.h"
#include "ring_gateway.h"
#include "acl.h"
#include "flow.h"
#include "test_rng.h"
#include "timers.h"
#include "transport.h"
#include "worker.h"

#define LISTEN    51820
#define MTU       1420
#define RING_SIZE 1024
#define HEADROOM  RTE_PKTMBUF_HEADROOM
#define MAX_FRAME 4000

static struct mg_dp_addrs addrs;
static struct mg_gateway gw;
static struct mg_worker w;
static struct mg_peer *peer;
static struct mg_peer *_Atomic peer_slot[1];
static _Alignas(64) struct mg_peer_tx peer_tx[1];
static struct mg_peer_counters peer_counters[1];
static struct rte_mempool *pool;
static struct mg_ring_port ring[MG_PORT_COUNT];
static struct fake_host far;               /* the peer on the far side of the mesh */
static struct wg_noise_remote *far_remote; /* its view of the gateway */
static uint64_t clock_ns = 1000 * WG_NSEC_PER_SEC, gw_rng = 21;
static unsigned pool_baseline;
static const char *last_outcome;
static struct mg_acl *filter; /* in force for frames with bit 2 of byte 0 */

static const struct rte_ether_addr lan_mac = {{2, 0, 0, 0, 1, 1}}, mesh_mac = {{2, 0, 0, 0, 2, 1}};
static const struct rte_ether_addr host_mac = {{2, 0, 0, 0, 1, 0x10}};
static const struct rte_ether_addr nh_mac = {{2, 0, 0, 0, 2, 2}};
static const uint8_t host4[4] = {192, 168, 1, 10}, ep4[4] = {10, 0, 0, 2};
static const uint8_t mesh4[4] = {10, 0, 0, 1};
static const uint8_t host6[16] = {0xfd, 0, 0, 1, [15] = 0x10};
static const uint8_t far4[4] = {172, 16, 0, 0}, far6[16] = {0xfd, 0, 0, 0x16};

static uint64_t now_fn(void *ctx)
{
	(void)ctx;
	return clock_ns;
}
static struct wg_noise_remote *gw_by_pub(void *ctx, const uint8_t pub[WG_KEY_LEN])
{
	(void)ctx;
	return memcmp(peer->remote.remote_static, pub, WG_KEY_LEN) == 0 ? &peer->remote : NULL;
}

/* ---- frames in exact buffers ---- */

struct extbuf {
	struct rte_mbuf_ext_shared_info shinfo;
	uint8_t data[]; /* HEADROOM, then the frame, then nothing */
};

static void extbuf_free(void *addr, void *opaque)
{
	(void)addr;
	free(opaque);
}

static struct rte_mbuf *frame_mbuf(enum mg_port_id port, const uint8_t *bytes, size_t len)
{
	struct extbuf *x = malloc(sizeof(*x) + HEADROOM + len);
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	FUZZ_CHECK(x && m, "out of memory or mbufs");
	x->shinfo.free_cb = extbuf_free;
	x->shinfo.fcb_opaque = x;
	rte_mbuf_ext_refcnt_set(&x->shinfo, 1);
	rte_pktmbuf_attach_extbuf(m, x->data, RTE_BAD_IOVA, (uint16_t)(HEADROOM + len), &x->shinfo);
	m->data_off = HEADROOM;
	m->data_len = (uint16_t)len;
	m->pkt_len = (uint32_t)len;
	memcpy(x->data + HEADROOM, bytes, len);
	m->port = gw.ports[port].port_id;
	return m;
}

static void be16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* The far node seals inner and sends it from its endpoint to the gateway's port. */
static size_t sealed_frame(uint8_t *f, const uint8_t *inner, size_t len)
{
	struct wg_noise_keypair *kp = wg_noise_keypair_current(far_remote);
	size_t ml = 0;
	if (kp == NULL)
		kp = wg_noise_keypair_next(far_remote);
	FUZZ_CHECK(kp != NULL, "the far node has no keypair");
	FUZZ_CHECK(wg_transport_seal(kp, inner, len, MTU, f + 42, MAX_FRAME - 42, &ml, NULL,
	                             clock_ns) == WG_OK,
	           "reference seal of %zu bytes", len);
	memcpy(f, &mesh_mac, 6);
	memcpy(f + 6, &nh_mac, 6);
	be16(f + 12, 0x0800);
	uint8_t *ip = f + 14, *udp = ip + 20;
	memset(ip, 0, 28);
	ip[0] = 0x45;
	be16(ip + 2, ml + 28);
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, ep4, 4);
	memcpy(ip + 16, mesh4, 4);
	((struct rte_ipv4_hdr *)ip)->hdr_checksum = rte_ipv4_cksum((struct rte_ipv4_hdr *)ip);
	be16(udp, LISTEN);
	be16(udp + 2, LISTEN);
	be16(udp + 4, ml + 8);
	return 42 + ml;
}

/* ---- accounting ---- */

static uint64_t drops_total(void)
{
	uint64_t s = 0;
	for (unsigned r = 0; r < MG_DROP_REASON_COUNT; r++)
		s += w.counters.drops[r];
	return s;
}

/* IPv4 without DF, longer than the MTU: the LAN side may split it into fragments. */
static bool may_fragment(const uint8_t *f, size_t len)
{
	if (len < 34 || f[12] != 0x08 || f[13] != 0x00 || (f[14] >> 4) != 4)
		return false;
	return (f[20] & 0x40) == 0 && ((size_t)f[16] << 8 | f[17]) > MTU;
}

static unsigned drain_tx(enum mg_port_id port, bool check_mesh)
{
	struct rte_mbuf *m[32];
	unsigned n, total = 0;
	for (unsigned q = 0; q < ring[port].n_txq; q++)
		while ((n = rte_ring_dequeue_burst(ring[port].tx[q], (void **)m, 32, NULL))) {
			for (unsigned i = 0; i < n && check_mesh; i++) {
				const uint8_t *f = rte_pktmbuf_mtod(m[i], const uint8_t *);
				size_t l3 = f[12] == 0x86 ? 40 : 20;
				FUZZ_CHECK(m[i]->data_len >= 14 + l3 + 8 + 32 &&
				               m[i]->pkt_len <= 14 + 40 + 8 + 32 + MTU + 16 &&
				               ((f[14 + l3] << 8) | f[15 + l3]) == LISTEN,
				           "a malformed frame on the mesh port (%u bytes)",
				           m[i]->pkt_len);
			}
			rte_pktmbuf_free_bulk(m, n);
			total += n;
		}
	return total;
}

static unsigned drain_punts(void)
{
	struct rte_mbuf *m[32];
	struct mg_event ev[32];
	unsigned n, total = 0;
	while ((n = rte_ring_dequeue_burst(gw.punt_ring, (void **)m, 32, NULL))) {
		rte_pktmbuf_free_bulk(m, n);
		total += n;
	}
	while (rte_ring_dequeue_burst_elem(gw.event_ring, ev, sizeof(ev[0]), 32, NULL))
		;
	return total;
}

int fuzz_one(const uint8_t *data, size_t len)
{
	static uint8_t frame[MAX_FRAME];
	if (len < 1)
		return 0;
	bool mesh = data[0] & 1, seal = mesh && (data[0] & 2);
	atomic_store_explicit(&gw.acl, (data[0] & 4) ? filter : NULL, memory_order_release);
	size_t flen = len - 1;
	if (seal) {
		if (flen > MTU)
			flen = MTU;
		flen = sealed_frame(frame, data + 1, flen);
	} else {
		if (flen == 0 || flen > MAX_FRAME)
			return 0;
		memcpy(frame, data + 1, flen);
	}
	enum mg_port_id port = mesh ? MG_PORT_MESH : MG_PORT_LAN;
	struct mg_worker_counters c0 = w.counters;
	uint64_t d0 = drops_total();
	struct rte_mbuf *m = frame_mbuf(port, frame, flen);

	mg_worker_clock(&w);
	mg_worker_rx_burst(&w, &m, 1);
	mg_worker_flush(&w);

	unsigned punts = drain_punts();
	unsigned to_lan = drain_tx(MG_PORT_LAN, false), to_mesh = drain_tx(MG_PORT_MESH, true);
	uint64_t drops = drops_total() - d0, punted = w.counters.punted - c0.punted;
	uint64_t keep = w.counters.keepalives_rx - c0.keepalives_rx;
	FUZZ_CHECK(w.counters.rx_packets[port] == c0.rx_packets[port] + 1,
	           "not counted as received");
	FUZZ_CHECK(punted == punts, "%u punts on the ring, %lu counted", punts,
	           (unsigned long)punted);
	if (mesh) {
		FUZZ_CHECK(drops + punted + keep + to_lan == 1 && to_mesh == 0,
		           "mesh frame: %lu drops, %lu punts, %lu keepalives, %u to the LAN, %u to "
		           "the mesh",
		           (unsigned long)drops, (unsigned long)punted, (unsigned long)keep, to_lan,
		           to_mesh);
	} else {
		uint64_t fates = drops + punted + to_mesh;
		FUZZ_CHECK(fates == 1 || (fates > 1 && may_fragment(frame, flen)),
		           "LAN frame: %lu drops, %lu punts, %u to the mesh", (unsigned long)drops,
		           (unsigned long)punted, to_mesh);
		FUZZ_CHECK(to_lan <= 1 && to_lan <= drops, "LAN frame: %u ICMP errors, %lu drops",
		           to_lan, (unsigned long)drops);
	}
	FUZZ_CHECK(rte_mempool_in_use_count(pool) == pool_baseline, "%u mbufs in use, not %u",
	           rte_mempool_in_use_count(pool), pool_baseline);

	/* Outcomes: the drop reason, or the fate. */
	for (unsigned r = 0; r < MG_DROP_REASON_COUNT; r++)
		if (w.counters.drops[r] != c0.drops[r]) {
			last_outcome = mg_drop_reason_name((enum mg_drop_reason)r);
			fuzz_outcome(last_outcome);
			return 0;
		}
	last_outcome = punted   ? "punted"
	               : keep   ? "keepalive"
	               : to_lan ? "to the LAN"
	                        : "to the mesh";
	fuzz_outcome(last_outcome);
	return 0;
}

/* ---- set-up ---- */

static void prefix(struct mg_prefix *p, uint8_t family, const uint8_t *addr, uint8_t len)
{
	memset(p, 0, sizeof(*p));
	p->family = family;
	p->len = len;
	memcpy(p->addr, addr, family == 4 ? 4 : 16);
}

static int setup_peer(void)
{
	uint8_t priv[WG_KEY_LEN];
	struct wg_noise_upcalls up = {.ctx = &gw_rng,
	                              .random = test_rng,
	                              .now = now_fn,
	                              .remote_by_pubkey = gw_by_pub,
	                              .current_changed = mg_peer_current_changed};
	struct wg_msg_initiation m1;
	struct wg_msg_response m2;
	struct wg_noise_remote *got = NULL;

	if (wg_noise_local_init(&gw.local, gw.index, &up) != WG_OK ||
	    fake_host_init(&far, "far", 22) != WG_OK)
		return -1;
	far.clock = &clock_ns;
	test_rng(&gw_rng, priv, sizeof(priv));
	enum wg_result r1 = wg_noise_local_set_private(&gw.local, priv);
	wg_memzero(priv, sizeof(priv));
	peer = aligned_alloc(64, sizeof(*peer));
	if (peer)
		memset(peer, 0, sizeof(*peer));
	if (r1 != WG_OK || !peer ||
	    wg_noise_remote_init(&peer->remote, &gw.local, far.local.static_public, peer) !=
	        WG_OK ||
	    fake_host_add(&far, gw.local.static_public, &far_remote) != WG_OK)
		return -1;
	peer->tx = &peer_tx[0]; /* slot 0 */
	mg_peer_timers_init(peer, NULL, NULL, NULL);
	struct mg_sockaddr ep = {.family = 4, .port = LISTEN};
	memcpy(ep.addr, ep4, 4);
	mg_endpoint_write(&peer->endpoint, &ep);
	/* The gateway initiates: its keypair is current at once. */
	if (wg_noise_create_initiation(&peer->remote, &m1) != WG_OK ||
	    wg_noise_consume_initiation(&far.local, &m1, &got) != WG_OK ||
	    wg_noise_create_response(far_remote, &m2) != WG_OK ||
	    wg_noise_consume_response(&gw.local, &m2, &got) != WG_OK ||
	    wg_noise_begin_session(&peer->remote) != WG_OK ||
	    wg_noise_begin_session(far_remote) != WG_OK)
		return -1;
	gw.max_peers = 1;
	gw.peers = peer_slot;
	gw.peer_tx = peer_tx;
	atomic_store(&peer_slot[0], peer);
	gw.peer_counters[0] = peer_counters;
	return mg_allowedips_insert(gw.allowedips, AF_INET, far4, 16, 0) == 0 &&
	               mg_allowedips_insert(gw.allowedips, AF_INET6, far6, 64, 0) == 0 &&
	               mg_allowedips_commit(gw.allowedips) == 0
	           ? 0
	           : -1;
}

/* UDP from the far node's prefixes to the LAN host's port 39585 (put_ip4 writes it there). */
static int setup_filter(void)
{
	static struct mg_prefix src[2], dst[2];
	static const struct mg_acl_ports port = {39585, 39585};
	char err[128];
	prefix(&src[0], 4, (uint8_t[]){172, 16, 0, 0}, 16);
	prefix(&src[1], 6, (uint8_t[16]){0xfd, 0, 0, 0x16}, 64);
	prefix(&dst[0], 4, host4, 32);
	prefix(&dst[1], 6, host6, 128);
	const struct mg_acl_rule r = {.src = src,
	                              .n_src = 2,
	                              .dst = dst,
	                              .n_dst = 2,
	                              .proto = MG_ACL_UDP,
	                              .ports = &port,
	                              .n_ports = 1};
	filter = mg_acl_build(&r, 1, SOCKET_ID_ANY, err, sizeof(err));
	gw.flows = mg_flows_create(2, 1024, NULL, err, sizeof(err));
	return filter && gw.flows ? 0 : -1;
}

static int setup(void)
{
	pool = rte_pktmbuf_pool_create("pool", 2047, 0, 0, MAX_FRAME + HEADROOM, SOCKET_ID_ANY);
	if (!pool)
		return -1;
	gw.conf.listen_port = LISTEN;
	gw.conf.mtu = MTU;
	gw.conf.n_workers = 1;
	prefix(&addrs.ports[MG_PORT_LAN].ipv4, 4, (uint8_t[]){192, 168, 1, 1}, 24);
	prefix(&addrs.ports[MG_PORT_LAN].ipv6, 6, (uint8_t[16]){0xfd, 0, 0, 1, [15] = 1}, 64);
	prefix(&addrs.ports[MG_PORT_MESH].ipv4, 4, mesh4, 24);
	prefix(&addrs.ports[MG_PORT_MESH].ipv6, 6, (uint8_t[16]){0xfd, 0, 0, 0xff, [15] = 1}, 64);
	for (int p = 0; p < MG_PORT_COUNT; p++)
		addrs.ports[p].has_ipv4 = addrs.ports[p].has_ipv6 = true;
	prefix(&addrs.addresses[0], 4, (uint8_t[]){100, 64, 0, 1}, 32);
	addrs.n_addresses = 1;
	gw.addrs = &addrs;
	gw.listen_port = LISTEN;
	gw.mtu = MTU;
	gw.tsc_hz = rte_get_tsc_hz();
	if (mg_ring_port_create(&ring[MG_PORT_LAN], "lan", 2, RING_SIZE) != 0 ||
	    mg_ring_port_attach(&ring[MG_PORT_LAN], &gw, MG_PORT_LAN, pool, RING_SIZE, &lan_mac) !=
	        0 ||
	    mg_ring_port_create(&ring[MG_PORT_MESH], "mesh", 2, RING_SIZE) != 0 ||
	    mg_ring_port_attach(&ring[MG_PORT_MESH], &gw, MG_PORT_MESH, pool, RING_SIZE,
	                        &mesh_mac) != 0)
		return -1;
	gw.punt_ring = rte_ring_create("punt", 1024, SOCKET_ID_ANY, RING_F_SC_DEQ);
	gw.event_ring = rte_ring_create_elem("events", sizeof(struct mg_event), 1024, SOCKET_ID_ANY,
	                                     RING_F_SC_DEQ);
	gw.index = wg_index_table_new(64);
	gw.allowedips = mg_allowedips_create(16, 16, NULL);
	gw.neigh = mg_neigh_create(16, SOCKET_ID_ANY);
	gw.rcu = rte_zmalloc("rcu", rte_rcu_qsbr_get_memsize(1), RTE_CACHE_LINE_SIZE);
	if (!gw.punt_ring || !gw.event_ring || !gw.index || !gw.allowedips || !gw.neigh ||
	    !gw.rcu || rte_rcu_qsbr_init(gw.rcu, 1) != 0 || setup_peer() != 0 ||
	    setup_filter() != 0)
		return -1;
	if (mg_neigh_update(gw.neigh, MG_PORT_MESH, 4, ep4, &nh_mac, clock_ns) != 0 ||
	    mg_neigh_update(gw.neigh, MG_PORT_LAN, 4, host4, &host_mac, clock_ns) != 0 ||
	    mg_neigh_update(gw.neigh, MG_PORT_LAN, 6, host6, &host_mac, clock_ns) != 0)
		return -1;
	gw.n_workers = 1;
	gw.workers[0] = &w;
	int err = mg_worker_init(&w, &gw, 0, rte_get_next_lcore(-1, 1, 0));
	if (err != 0)
		return -1;
	w.crypto = mg_crypto_create(MG_CRYPTO_ISA_AUTO, &err);
	pool_baseline = rte_mempool_in_use_count(pool);
	return w.crypto ? 0 : -1;
}

/* ---- seeds ---- */

static size_t put_eth(uint8_t *f, const struct rte_ether_addr *dst,
                      const struct rte_ether_addr *src, uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	be16(f + 12, type);
	return 14;
}

/* An IPv4 packet of total bytes from src to dst (protocol proto, flags and offset frag). */
static size_t put_ip4(uint8_t *p, const uint8_t *src, const uint8_t *dst, uint8_t proto,
                      size_t total, uint16_t frag)
{
	memset(p, 0, total);
	p[0] = 0x45;
	be16(p + 2, total);
	be16(p + 6, frag);
	p[8] = 64;
	p[9] = proto;
	memcpy(p + 12, src, 4);
	memcpy(p + 16, dst, 4);
	((struct rte_ipv4_hdr *)p)->hdr_checksum = rte_ipv4_cksum((struct rte_ipv4_hdr *)p);
	for (size_t i = 20; i < total; i++)
		p[i] = (uint8_t)(i * 7);
	return total;
}

static size_t put_ip6(uint8_t *p, const uint8_t *src, const uint8_t *dst, uint8_t nh, size_t total)
{
	memset(p, 0, total);
	p[0] = 0x60;
	be16(p + 4, total - 40);
	p[6] = nh;
	p[7] = 64;
	memcpy(p + 8, src, 16);
	memcpy(p + 24, dst, 16);
	for (size_t i = 40; i < total; i++)
		p[i] = (uint8_t)(i * 5);
	return total;
}

/* Adds a seed and proves it takes the path its name says (want: its outcome). */
static void add(const char *name, const char *want, uint8_t mode, const uint8_t *f, size_t len)
{
	static uint8_t buf[MAX_FRAME + 1];
	buf[0] = mode;
	memcpy(buf + 1, f, len);
	fuzz_seed_add(name, buf, len + 1);
	last_outcome = NULL;
	fuzz_one(buf, len + 1);
	FUZZ_CHECK(last_outcome && strcmp(last_outcome, want) == 0, "seed %s: %s, not %s", name,
	           last_outcome ? last_outcome : "nothing", want);
}

static void add_seeds(void)
{
	static uint8_t f[MAX_FRAME];
	uint8_t dst4[4] = {172, 16, 0, 5}, dst6[16] = {0xfd, 0, 0, 0x16, [15] = 5};
	uint8_t lan6[16] = {0xfd, 0, 0, 1, [15] = 0x10};
	size_t o;

	o = put_eth(f, &lan_mac, &host_mac, 0x0800);
	add("lan_udp4", "to the mesh", 0, f, o + put_ip4(f + o, host4, dst4, 17, 100, 0x4000));
	add("lan_big4", "to the mesh", 0, f, o + put_ip4(f + o, host4, dst4, 17, 3000, 0));
	add("lan_frag4", "to the mesh", 0, f,
	    o + put_ip4(f + o, host4, dst4, 17, 200, 0x2000 | 10));
	add("lan_noroute4", "no_route", 0, f,
	    o + put_ip4(f + o, host4, (uint8_t[]){8, 8, 8, 8}, 1, 84, 0));
	add("lan_echo_gw", "punted", 0, f,
	    o + put_ip4(f + o, host4, (uint8_t[]){192, 168, 1, 1}, 1, 84, 0));
	o = put_eth(f, &lan_mac, &host_mac, 0x86dd);
	add("lan_udp6", "to the mesh", 0, f, o + put_ip6(f + o, lan6, dst6, 17, 120));
	size_t l = put_ip6(f + o, lan6, dst6, 0, 160); /* hop-by-hop, then routing, then UDP */
	f[o + 40] = 43;
	f[o + 41] = 0;
	f[o + 48] = 17;
	f[o + 49] = 0;
	add("lan_exthdr6", "to the mesh", 0, f, o + l);
	l = put_ip6(f + o, lan6, dst6, 44, 120); /* a fragment header */
	f[o + 40] = 17;
	add("lan_frag6", "to the mesh", 0, f, o + l);
	l = put_ip6(f + o, lan6, (uint8_t[16]){0xff, 2, [15] = 1}, 58, 72);
	f[o + 40] = 135; /* neighbour solicitation */
	add("lan_nd", "punted", 0, f, o + l);
	o = put_eth(f, &lan_mac, &host_mac, 0x0806);
	memset(f + o, 0, 28);
	be16(f + o, 1);
	be16(f + o + 2, 0x0800);
	f[o + 4] = 6;
	f[o + 5] = 4;
	be16(f + o + 6, 1);
	add("lan_arp", "punted", 0, f, o + 28);
	add("mesh_arp", "punted", 1, f, o + 28);
	o = put_eth(f, &mesh_mac, &nh_mac, 0x0800);
	l = put_ip4(f + o, ep4, mesh4, 17, 28 + 148, 0);
	be16(f + o + 20, LISTEN);
	be16(f + o + 22, LISTEN);
	be16(f + o + 24, 8 + 148);
	memcpy(f + o + 28, (uint8_t[]){1, 0, 0, 0}, 4); /* a handshake initiation */
	add("mesh_handshake", "punted", 1, f, o + l);
	add("mesh_echo", "punted", 1, f, o + put_ip4(f + o, ep4, mesh4, 1, 84, 0));
	add("mesh_frag", "punted", 1, f, o + put_ip4(f + o, ep4, mesh4, 17, 100, 0x2000));
	/* Inner packets for the far node to seal. */
	add("sealed_v4", "to the LAN", 3, f,
	    put_ip4(f, (uint8_t[]){172, 16, 0, 9}, host4, 17, 100, 0));
	add("sealed_v6", "to the LAN", 3, f,
	    put_ip6(f, (uint8_t[16]){0xfd, 0, 0, 0x16, [15] = 9}, host6, 17, 100));
	add("sealed_keepalive", "keepalive", 3, f, 0);
	add("sealed_spoofed", "allowed_ips", 3, f,
	    put_ip4(f, (uint8_t[]){10, 9, 9, 9}, host4, 17, 60, 0));
	l = put_ip4(f, (uint8_t[]){172, 16, 0, 9}, host4, 17, 60, 0);
	f[8] = 1;
	f[10] = f[11] = 0;
	((struct rte_ipv4_hdr *)f)->hdr_checksum = rte_ipv4_cksum((struct rte_ipv4_hdr *)f);
	add("sealed_ttl1", "ttl", 3, f, l);
	add("sealed_to_gw", "punted", 3, f,
	    put_ip4(f, (uint8_t[]){172, 16, 0, 9}, (uint8_t[]){100, 64, 0, 1}, 1, 60, 0));
	/* With the filter: its port passes, the same port over TCP does not; a flow the LAN opens
	 * lets its reply in, and an ICMP error about it. */
	l = put_ip4(f, (uint8_t[]){172, 16, 0, 9}, host4, 17, 100, 0);
	be16(f + 22, 39585);
	add("filter_udp4", "to the LAN", 7, f, l);
	l = put_ip6(f, (uint8_t[16]){0xfd, 0, 0, 0x16, [15] = 9}, host6, 17, 100);
	be16(f + 42, 39585);
	add("filter_udp6", "to the LAN", 7, f, l);
	add("filter_tcp4", "policy", 7, f,
	    put_ip4(f, (uint8_t[]){172, 16, 0, 9}, host4, 6, 100, 0));
	o = put_eth(f, &lan_mac, &host_mac, 0x0800);
	l = put_ip4(f + o, host4, dst4, 17, 100, 0x4000);
	be16(f + o + 20, 5353);
	be16(f + o + 22, 7000);
	add("filter_lan_out", "to the mesh", 4, f, o + l);
	l = put_ip4(f, dst4, host4, 17, 100, 0);
	be16(f + 20, 7000);
	be16(f + 22, 5353);
	add("filter_reply", "to the LAN", 7, f, l);
	l = put_ip4(f, (uint8_t[]){172, 16, 0, 1}, host4, 1, 56, 0);
	f[20] = 3; /* destination unreachable, quoting the LAN host's datagram */
	put_ip4(f + 28, host4, dst4, 17, 100, 0);
	be16(f + 28 + 20, 5353);
	be16(f + 28 + 22, 7000);
	add("filter_icmp_error", "to the LAN", 7, f, l);
	add("filter_icmp_other", "policy", 7, f, put_ip4(f, dst4, host4, 1, 56, 0));
}

int fuzz_init(void)
{
	if (wg_crypto_init() != WG_OK || eal_test_init("fuzz_worker_frames", 2, 512) != 0 ||
	    setup() != 0) {
		fprintf(stderr, "fuzz_worker_frames: set-up failed\n");
		return -1;
	}
	add_seeds();
	static const uint8_t tokens[][2] = {{0x08, 0x00}, {0x86, 0xdd}, {0x08, 0x06}, {0xca, 0x6c},
	                                    {0x45, 0x00}, {0x60, 0x00}, {0x40, 0x00}, {0x20, 0x00}};
	for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++)
		fuzz_token_add(tokens[i], 2);
	fuzz_set_max_len(MAX_FRAME);
	return 0;
}
