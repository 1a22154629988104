// SPDX-License-Identifier: GPL-2.0-only
/*
 * One peer on every worker (issue #3): three worker lcores share one peer's keypair while the
 * ports have a single RX queue each and rx_fanout spreads the bursts. Four lcores (control and
 * three workers) float over whatever CPUs the process has, so two cores are oversubscribed on
 * purpose; idle back-off keeps the polling workers from starving the test thread.
 *
 * (a) mesh to LAN: the far node seals unique transport messages with the reference path, some
 *     injected twice, some replayed from long ago (left of the window) and some from the last
 *     wave (inside it). Every unique packet must come out on the LAN exactly once and intact,
 *     every extra copy must be counted as a replay, every worker must have decrypted some, and
 *     the endpoint, roamed concurrently between two source ports, is never read torn.
 * (b) LAN to mesh: every worker encrypts for the same peer; the counters on the wire are unique
 *     and contiguous, no nonce is wasted, and every message opens at the far node.
 * (c) the per-worker and per-peer counters sum exactly to what went in.
 *
 * Packets go in waves of at most WAVE_MAX frames, each wave drained before the next: fan-out
 * reorders packets by up to a wave, which must stay inside the replay window, or late but
 * legitimate packets would (correctly) be dropped and the exact counts would mean nothing.
 */
#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>

#include "allowedips.h"
#include "check.h"
#include "crypto.h"
#include "eal_test_env.h"
#include "index_table.h"
#include "neigh.h"
#include "noise.h"
#include "ring_gateway.h"
#include "timers.h"
#include "transport.h"
#include "worker.h"

#define NW         3 /* worker lcores */
#define LISTEN     51820
#define PORT_B     (LISTEN + 100) /* the far node's second source port (roaming) */
#define MTU        1420
#define RING_SIZE  4096
#define WAVE       1500 /* unique messages per wave */
#define WAVES      12
#define UNIQUE     (WAVE * WAVES)
#define DUPS       100 /* per wave: copies of packets of the same wave */
#define NEAR_REPL  40  /* per wave after the first: packets of the previous wave again */
#define FAR_REPL   40  /* per wave from FAR_FROM on: packets far left of the window */
#define FAR_FROM   7
#define WAVE_MAX   (WAVE + DUPS + NEAR_REPL + FAR_REPL)
#define ENC_WAVE   1800
#define ENC_TOTAL  20000
#define DEADLINE_S 50 /* the whole test; meson's timeout is above it */

static struct mg_dp_addrs addrs; /* gw.addrs: mutable here, no worker runs meanwhile */
static struct mg_gateway gw;
static struct mg_worker workers[NW];
static unsigned worker_lcore[NW];
static struct mg_peer *peer;
static struct mg_peer *_Atomic peer_slot[1];
static _Alignas(64) struct mg_peer_tx peer_tx[1];
static struct mg_peer_counters peer_counters[NW][1];
static uint64_t clock_ns = 1000 * WG_NSEC_PER_SEC;
static uint64_t gw_rng = 11, far_rng = 12;
static struct wg_index_table *far_table;
static struct wg_noise_local far_local;
static struct wg_noise_remote far_remote; /* the far node's view of the gateway */
static struct rte_mempool *pool;
static struct mg_ring_port ring[MG_PORT_COUNT];
static uint64_t deadline_tsc;
static unsigned control_tx; /* frames a worker put on the control thread's TX queue */

static const struct rte_ether_addr lan_mac = {{2, 0, 0, 0, 1, 1}}, mesh_mac = {{2, 0, 0, 0, 2, 1}};
static const struct rte_ether_addr host_mac = {{2, 0, 0, 0, 1, 0x10}};
static const struct rte_ether_addr nh_mac = {{2, 0, 0, 0, 2, 2}};
static const uint8_t host4[4] = {192, 168, 1, 10}, far_inner4[4] = {172, 16, 0, 5};
static const uint8_t ep4[4] = {10, 0, 0, 2}, mesh4[4] = {10, 0, 0, 1};

/* Relaxed reads of counters the workers are writing. */
static uint64_t rd(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static uint64_t sum_counter(size_t offset)
{
	uint64_t s = 0;
	for (unsigned i = 0; i < NW; i++)
		s += rd((const uint64_t *)((const uint8_t *)&workers[i].counters + offset));
	return s;
}
#define SUM(field) sum_counter(offsetof(struct mg_worker_counters, field))

static bool past_deadline(void)
{
	return rte_get_tsc_cycles() > deadline_tsc;
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
	return memcmp(peer->remote.remote_static, pub, WG_KEY_LEN) == 0 ? &peer->remote : NULL;
}
static struct wg_noise_remote *far_by_pub(void *ctx, const uint8_t pub[WG_KEY_LEN])
{
	(void)ctx;
	return memcmp(far_remote.remote_static, pub, WG_KEY_LEN) == 0 ? &far_remote : NULL;
}

/* ---- packets ---- */

static void be16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void cksum4(uint8_t *ip)
{
	struct rte_ipv4_hdr *h = (struct rte_ipv4_hdr *)ip;
	h->hdr_checksum = 0;
	h->hdr_checksum = rte_ipv4_cksum(h);
}

static size_t put_eth(uint8_t *p, const struct rte_ether_addr *dst,
                      const struct rte_ether_addr *src)
{
	memcpy(p, dst, 6);
	memcpy(p + 6, src, 6);
	be16(p + 12, 0x0800);
	return 14;
}

/* Inner packets carry their sequence number right after the IPv4 header; sizes vary with it. */
static size_t inner_len(uint32_t seq, unsigned mul)
{
	return 40 + (seq * mul) % (MTU - 40 + 1);
}

static size_t put_inner(uint8_t *p, const uint8_t *src, const uint8_t *dst, uint32_t seq,
                        unsigned mul, uint8_t ttl)
{
	size_t total = inner_len(seq, mul);
	memset(p, 0, 20);
	p[0] = 0x45;
	be16(p + 2, total);
	p[8] = ttl;
	p[9] = 253;
	memcpy(p + 12, src, 4);
	memcpy(p + 16, dst, 4);
	cksum4(p);
	memcpy(p + 20, &seq, 4);
	for (size_t i = 24; i < total; i++)
		p[i] = (uint8_t)(i * 13 + seq);
	return total;
}

/* Outer Ethernet, IPv4 and UDP around msg, from the far node's endpoint to the gateway. */
static size_t put_mesh_frame(uint8_t *p, uint16_t sport, const uint8_t *msg, size_t len)
{
	size_t o = put_eth(p, &mesh_mac, &nh_mac);
	uint8_t *ip = p + o, *udp = ip + 20;
	memset(ip, 0, 28);
	ip[0] = 0x45;
	be16(ip + 2, len + 28);
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, ep4, 4);
	memcpy(ip + 16, mesh4, 4);
	cksum4(ip);
	be16(udp, sport);
	be16(udp + 2, LISTEN);
	be16(udp + 4, len + 8);
	memcpy(udp + 8, msg, len);
	return o + 28 + len;
}

static struct rte_mbuf *mbuf_of(enum mg_port_id port, const uint8_t *bytes, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(pool);
	void *d = m ? rte_pktmbuf_append(m, (uint16_t)len) : NULL;
	if (!d) {
		fprintf(stderr, "out of mbufs\n");
		exit(1);
	}
	memcpy(d, bytes, len);
	m->port = gw.ports[port].port_id;
	return m;
}

static void shuffle(uint32_t *a, unsigned n, uint64_t *rng)
{
	for (unsigned i = n; i > 1; i--) {
		uint32_t r;
		test_rng(rng, &r, sizeof(r));
		unsigned j = r % i;
		uint32_t t = a[i - 1];
		a[i - 1] = a[j];
		a[j] = t;
	}
}

/* ---- set-up ---- */

/* One RX queue, a TX queue per worker and one for the control thread. */
static int make_port(enum mg_port_id p, const char *name, const struct rte_ether_addr *mac)
{
	if (mg_ring_port_create(&ring[p], name, NW + 1, RING_SIZE) != 0)
		return -1;
	return mg_ring_port_attach(&ring[p], &gw, p, pool, RING_SIZE, mac);
}

static void prefix(struct mg_prefix *p, const uint8_t *addr, uint8_t len)
{
	memset(p, 0, sizeof(*p));
	p->family = 4;
	p->len = len;
	memcpy(p->addr, addr, 4);
}

static void set_endpoint(uint16_t port)
{
	struct mg_sockaddr ep = {.family = 4, .port = port};
	memcpy(ep.addr, ep4, 4);
	mg_endpoint_write(&peer->endpoint, &ep);
}

/* The gateway initiates, so its keypair is current at once; the far node's waits in next. */
static void handshake(void)
{
	struct wg_msg_initiation m1;
	struct wg_msg_response m2;
	struct wg_noise_remote *got = NULL;
	CHECK(wg_noise_create_initiation(&peer->remote, &m1) == WG_OK, "initiation");
	CHECK(wg_noise_consume_initiation(&far_local, &m1, &got) == WG_OK && got == &far_remote,
	      "consume initiation");
	CHECK(wg_noise_create_response(&far_remote, &m2) == WG_OK, "response");
	CHECK(wg_noise_consume_response(&gw.local, &m2, &got) == WG_OK && got == &peer->remote,
	      "consume response");
	CHECK(wg_noise_begin_session(&peer->remote) == WG_OK &&
	          wg_noise_begin_session(&far_remote) == WG_OK,
	      "sessions");
}

static int setup_keys(void)
{
	uint8_t priv[WG_KEY_LEN];
	struct wg_noise_upcalls up = {.ctx = &gw_rng,
	                              .random = test_rng,
	                              .now = now_fn,
	                              .remote_by_pubkey = gw_by_pub,
	                              .current_changed = mg_peer_current_changed};
	struct wg_noise_upcalls fup = {
	    .ctx = &far_rng, .random = test_rng, .now = now_fn, .remote_by_pubkey = far_by_pub};

	far_table = wg_index_table_new(16);
	if (!far_table || wg_noise_local_init(&gw.local, gw.index, &up) != WG_OK ||
	    wg_noise_local_init(&far_local, far_table, &fup) != WG_OK)
		return -1;
	test_rng(&gw_rng, priv, sizeof(priv));
	enum wg_result r1 = wg_noise_local_set_private(&gw.local, priv);
	test_rng(&far_rng, priv, sizeof(priv));
	enum wg_result r2 = wg_noise_local_set_private(&far_local, priv);
	wg_memzero(priv, sizeof(priv));
	if (r1 != WG_OK || r2 != WG_OK)
		return -1;

	peer = aligned_alloc(64, sizeof(*peer));
	if (peer)
		memset(peer, 0, sizeof(*peer));
	if (!peer)
		return -1;
	peer->slot = 0;
	peer->tx = &peer_tx[0];
	if (wg_noise_remote_init(&peer->remote, &gw.local, far_local.static_public, peer) !=
	        WG_OK ||
	    wg_noise_remote_init(&far_remote, &far_local, gw.local.static_public, NULL) != WG_OK)
		return -1;
	mg_peer_timers_init(peer, NULL, NULL, NULL);
	set_endpoint(LISTEN);
	handshake();
	return 0;
}

static int setup(void)
{
	pool = rte_pktmbuf_pool_create("pool", 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
	                               SOCKET_ID_ANY);
	if (!pool)
		return -1;
	gw.conf.listen_port = LISTEN;
	gw.conf.mtu = MTU;
	prefix(&addrs.ports[MG_PORT_LAN].ipv4, (uint8_t[]){192, 168, 1, 1}, 24);
	prefix(&addrs.ports[MG_PORT_MESH].ipv4, mesh4, 24);
	addrs.ports[MG_PORT_LAN].has_ipv4 = addrs.ports[MG_PORT_MESH].has_ipv4 = true;
	prefix(&addrs.addresses[0], (uint8_t[]){100, 64, 0, 1}, 32);
	addrs.n_addresses = 1;
	gw.conf.n_workers = NW;
	gw.conf.rx_fanout = true;
	gw.conf.idle_backoff = true; /* four lcores on two CPUs */
	gw.conf.idle_max_sleep_us = 200;

	gw.addrs = &addrs;
	gw.listen_port = LISTEN;
	gw.mtu = MTU;
	gw.tsc_hz = rte_get_tsc_hz();
	if (make_port(MG_PORT_LAN, "lan", &lan_mac) || make_port(MG_PORT_MESH, "mesh", &mesh_mac))
		return -1;
	gw.punt_ring = rte_ring_create("punt", 1024, SOCKET_ID_ANY, RING_F_SC_DEQ);
	gw.event_ring = rte_ring_create_elem("events", sizeof(struct mg_event), 1024, SOCKET_ID_ANY,
	                                     RING_F_SC_DEQ);
	gw.index = wg_index_table_new(64);
	gw.allowedips = mg_allowedips_create(16, 16, NULL);
	gw.neigh = mg_neigh_create(16, SOCKET_ID_ANY);
	gw.rcu = rte_zmalloc("rcu", rte_rcu_qsbr_get_memsize(NW), RTE_CACHE_LINE_SIZE);
	if (!gw.punt_ring || !gw.event_ring || !gw.index || !gw.allowedips || !gw.neigh ||
	    !gw.rcu || rte_rcu_qsbr_init(gw.rcu, NW) != 0 || setup_keys() != 0)
		return -1;

	gw.max_peers = 1;
	gw.peers = peer_slot;
	gw.peer_tx = peer_tx;
	atomic_store(&peer_slot[0], peer);
	if (mg_allowedips_insert(gw.allowedips, AF_INET, far_inner4, 16, 0) != 0 ||
	    mg_allowedips_commit(gw.allowedips) != 0 ||
	    mg_neigh_update(gw.neigh, MG_PORT_MESH, 4, ep4, &nh_mac, clock_ns) != 0 ||
	    mg_neigh_update(gw.neigh, MG_PORT_LAN, 4, host4, &host_mac, clock_ns) != 0)
		return -1;

	/* Every worker exists before any runs: the fan-out worker hands bursts to all of them. */
	gw.n_workers = NW;
	unsigned lcore = rte_get_next_lcore(-1, 1, 0);
	for (unsigned i = 0; i < NW; i++) {
		if (lcore >= RTE_MAX_LCORE)
			return -1;
		gw.peer_counters[i] = peer_counters[i];
		gw.workers[i] = &workers[i];
		int err = mg_worker_init(&workers[i], &gw, i, lcore);
		if (err != 0) {
			fprintf(stderr, "worker %u init: %d\n", i, err);
			return -1;
		}
		worker_lcore[i] = lcore;
		lcore = rte_get_next_lcore(lcore, 1, 0);
	}
	CHECK(workers[0].fanout[MG_PORT_LAN] && workers[0].fanout[MG_PORT_MESH] &&
	          !workers[1].has_rxq[MG_PORT_MESH] && workers[2].input != NULL,
	      "worker 0 polls the only queues and fans out");
	return 0;
}

static void launch(void)
{
	atomic_store(&gw.stop, false);
	for (unsigned i = 0; i < NW; i++)
		CHECK(rte_eal_remote_launch(mg_worker_main, &workers[i], worker_lcore[i]) == 0,
		      "launch worker %u", i);
}

static void stop(void)
{
	atomic_store(&gw.stop, true);
	for (unsigned i = 0; i < NW; i++)
		CHECK(rte_eal_wait_lcore(worker_lcore[i]) == 0, "worker %u returned 0", i);
}

/* Takes what the workers sent on port; returns how many frames fn accepted. */
static unsigned drain(enum mg_port_id port, void (*fn)(struct rte_mbuf *m))
{
	struct rte_mbuf *m[64];
	unsigned n, total = 0;
	for (unsigned q = 0; q < NW; q++)
		while ((n = rte_ring_dequeue_burst(ring[port].tx[q], (void **)m, 64, NULL))) {
			for (unsigned i = 0; i < n; i++)
				fn(m[i]);
			rte_pktmbuf_free_bulk(m, n);
			total += n;
		}
	control_tx += rte_ring_count(ring[port].tx[NW]);
	return total;
}

/* ---- (a) one peer's packets decrypted on every worker ---- */

struct sealed {
	uint32_t off;
	uint16_t len;
};

static uint8_t *msgs;
static struct sealed sealed_msg[UNIQUE];
static uint8_t lan_seen[UNIQUE];
static unsigned lan_out, lan_bad, torn_endpoints;
static uint64_t sealed_bytes;

static void seal_all(void)
{
	static uint8_t inner[2048];
	struct wg_noise_keypair *kp = wg_noise_keypair_next(&far_remote);
	size_t stride = wg_transport_sealed_len(MTU, MTU);
	unsigned bad = 0;

	msgs = malloc(stride * UNIQUE);
	if (!msgs || !kp) {
		CHECK(false, "message store and the far node's keypair");
		exit(1);
	}
	for (uint32_t s = 0; s < UNIQUE; s++) {
		size_t len = put_inner(inner, far_inner4, host4, s, 131, 64), ml = 0;
		sealed_msg[s].off = (uint32_t)(s * stride);
		bad += wg_transport_seal(kp, inner, len, MTU, msgs + sealed_msg[s].off, stride, &ml,
		                         NULL, clock_ns) != WG_OK;
		sealed_msg[s].len = (uint16_t)ml;
	}
	CHECK(bad == 0, "reference seal of %u messages: %u failed", UNIQUE, bad);
	CHECK(atomic_load(&kp->send_counter) == UNIQUE, "counters 0..%u", UNIQUE - 1);
}

static void lan_check(struct rte_mbuf *m)
{
	static uint8_t want[2048];
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	uint32_t seq;
	lan_out++;
	if (m->pkt_len < 14 + 24 || m->nb_segs != 1) {
		lan_bad++;
		return;
	}
	memcpy(&seq, f + 14 + 20, 4);
	if (seq >= UNIQUE || lan_seen[seq]++) {
		if (lan_bad++ < 5)
			fprintf(stderr, "LAN: seq %u out of range or seen twice\n", seq);
		return;
	}
	size_t wl = put_eth(want, &host_mac, &lan_mac);
	wl += put_inner(want + wl, far_inner4, host4, seq, 131, 63);
	if (m->pkt_len != wl || memcmp(f, want, wl) != 0) {
		if (lan_bad++ < 5)
			fprintf(stderr, "LAN: seq %u differs from the forwarded original\n", seq);
	}
}

static void endpoint_check(void)
{
	struct mg_sockaddr ep;
	if (!mg_endpoint_read(&peer->endpoint, &ep) || ep.family != 4 ||
	    memcmp(ep.addr, ep4, 4) != 0 || (ep.port != LISTEN && ep.port != PORT_B))
		torn_endpoints++;
}

/* Injects one wave's frames; each entry is seq | (source port B ? 1u << 31 : 0). */
static uint64_t inject_mesh(const uint32_t *list, unsigned n)
{
	static uint8_t frame[2048];
	struct rte_mbuf *m[WAVE_MAX];
	uint64_t bytes = 0;
	for (unsigned i = 0; i < n; i++) {
		uint32_t seq = list[i] & 0x7fffffff;
		uint16_t sport = list[i] >> 31 ? PORT_B : LISTEN;
		size_t len =
		    put_mesh_frame(frame, sport, msgs + sealed_msg[seq].off, sealed_msg[seq].len);
		m[i] = mbuf_of(MG_PORT_MESH, frame, len);
		bytes += len;
	}
	CHECK(rte_ring_enqueue_bulk(ring[MG_PORT_MESH].rx, (void **)m, n, NULL) == n,
	      "wave fits the RX ring");
	return bytes;
}

static uint64_t sum_drops(void)
{
	uint64_t s = 0;
	for (unsigned r = 0; r < MG_DROP_REASON_COUNT; r++)
		s += SUM(drops[r]);
	return s;
}

/*
 * Waits for a wave's exact outcome. Gives up early when every frame was dealt with and the LAN
 * output has been still for half a second: the outcome is then wrong, not late.
 */
static bool wait_decap(unsigned want_out, uint64_t want_replays, uint64_t want_rx)
{
	uint64_t still_since = rte_get_tsc_cycles();
	unsigned last_out = lan_out;
	while (!past_deadline()) {
		drain(MG_PORT_LAN, lan_check);
		endpoint_check();
		if (lan_out == want_out && SUM(drops[MG_DROP_REPLAY]) == want_replays &&
		    SUM(rx_packets[MG_PORT_MESH]) == want_rx)
			return true;
		uint64_t now = rte_get_tsc_cycles();
		if (lan_out != last_out) {
			last_out = lan_out;
			still_since = now;
		}
		if (SUM(decrypted) + sum_drops() >= want_rx &&
		    now - still_since > rte_get_tsc_hz() / 2)
			return false;
		rte_delay_us_sleep(50);
	}
	return false;
}

static void test_decrypt_fanout(void)
{
	static uint32_t list[WAVE_MAX];
	uint64_t rng = 99, replays = 0, injected = 0, in_bytes = 0;

	seal_all();
	for (uint32_t s = 0; s < UNIQUE; s++)
		sealed_bytes += sealed_msg[s].len;
	launch();
	for (unsigned wv = 0; wv < WAVES && !past_deadline(); wv++) {
		unsigned n = 0;
		/* The last wave comes from port B only, so where the endpoint ends up is known. */
		uint32_t alt = wv == WAVES - 1 ? 1u << 31 : 0;
		for (uint32_t s = wv * WAVE; s < (wv + 1) * WAVE; s++)
			list[n++] = s | (s & 1 ? 1u << 31 : alt);
		for (unsigned i = 0; i < DUPS; i++) {
			uint32_t r;
			test_rng(&rng, &r, sizeof(r));
			list[n++] = list[r % WAVE];
		}
		/* Already accepted and still inside the window: the bitmap must refuse them. */
		for (unsigned i = 0; wv > 0 && i < NEAR_REPL; i++)
			list[n++] = (wv - 1) * WAVE + i * 37 % WAVE;
		/* Far behind the window: top is at least wv * WAVE, these are more than 8192 back.
		 */
		for (unsigned i = 0; wv >= FAR_FROM && i < FAR_REPL; i++)
			list[n++] = (uint32_t)((wv * WAVE - WG_REPLAY_BITS_TOTAL - 200 - i * 29) |
			                       (i & 1 ? 0 : alt));
		shuffle(list, n, &rng);
		replays += n - WAVE;
		injected += n;
		in_bytes += inject_mesh(list, n);
		if (!wait_decap((wv + 1) * WAVE, replays, injected)) {
			CHECK(false, "wave %u: %u out, %lu replays, expected %u and %lu", wv,
			      lan_out, (unsigned long)SUM(drops[MG_DROP_REPLAY]), (wv + 1) * WAVE,
			      (unsigned long)replays);
			break;
		}
	}
	/* Anything more would be a packet forwarded twice. */
	rte_delay_us_sleep(20000);
	drain(MG_PORT_LAN, lan_check);
	stop();
	drain(MG_PORT_LAN, lan_check);

	unsigned missing = 0;
	for (uint32_t s = 0; s < UNIQUE; s++)
		missing += lan_seen[s] == 0;
	CHECK(lan_out == UNIQUE && missing == 0 && lan_bad == 0,
	      "each of %u packets out exactly once and intact: %u out, %u missing, %u bad", UNIQUE,
	      lan_out, missing, lan_bad);
	CHECK(SUM(drops[MG_DROP_REPLAY]) == replays, "replays counted: %lu, injected %lu",
	      (unsigned long)SUM(drops[MG_DROP_REPLAY]), (unsigned long)replays);
	for (unsigned i = 0; i < NW; i++)
		CHECK(workers[i].counters.decrypted > 0, "worker %u decrypted %lu", i,
		      (unsigned long)workers[i].counters.decrypted);
	printf("decrypted per worker: %lu %lu %lu; replays %lu\n",
	       (unsigned long)workers[0].counters.decrypted,
	       (unsigned long)workers[1].counters.decrypted,
	       (unsigned long)workers[2].counters.decrypted, (unsigned long)replays);
	CHECK(SUM(decrypted) == UNIQUE, "decrypted total");
	CHECK(SUM(rx_packets[MG_PORT_MESH]) == injected && SUM(rx_bytes[MG_PORT_MESH]) == in_bytes,
	      "mesh rx counters");
	CHECK(torn_endpoints == 0, "endpoint never read torn (%u)", torn_endpoints);
	struct mg_sockaddr ep;
	CHECK(mg_endpoint_read(&peer->endpoint, &ep) && ep.port == PORT_B,
	      "endpoint roamed to the last wave's source port");
	uint64_t prx = 0, prb = 0;
	for (unsigned i = 0; i < NW; i++) {
		prx += peer_counters[i][0].rx_packets;
		prb += peer_counters[i][0].rx_bytes;
	}
	CHECK(prx == UNIQUE && prb == sealed_bytes, "peer rx %lu packets, %lu bytes",
	      (unsigned long)prx, (unsigned long)prb);
	free(msgs);
	msgs = NULL;
}

/* ---- (b) one peer's packets encrypted on every worker ---- */

static uint8_t *enc_msgs;
static uint16_t enc_len[ENC_TOTAL];
static uint64_t enc_c0, enc_bytes;
static unsigned mesh_out, mesh_bad;
static size_t enc_stride;

static void mesh_collect(struct rte_mbuf *m)
{
	const uint8_t *f = rte_pktmbuf_mtod(m, const uint8_t *);
	struct wg_noise_keypair *kp = wg_noise_keypair_current(&peer->remote);
	mesh_out++;
	if (m->pkt_len < 14 + 28 + WG_DATA_OVERHEAD || m->nb_segs != 1 ||
	    memcmp(f, &nh_mac, 6) != 0 || memcmp(f + 6, &mesh_mac, 6) != 0 ||
	    memcmp(f + 14 + 12, mesh4, 4) != 0 || memcmp(f + 14 + 16, ep4, 4) != 0 ||
	    (f[34] << 8 | f[35]) != LISTEN || (f[36] << 8 | f[37]) != LISTEN ||
	    (uint32_t)(f[38] << 8 | f[39]) != m->pkt_len - 34) {
		if (mesh_bad++ < 5)
			fprintf(stderr, "mesh: bad outer headers\n");
		return;
	}
	const uint8_t *msg = f + 42;
	size_t len = m->pkt_len - 42;
	struct wg_msg_data hdr;
	memcpy(&hdr, msg, sizeof(hdr));
	uint64_t c = le64toh(hdr.counter) - enc_c0;
	if (le32toh(hdr.header.type) != WG_MSG_DATA || le32toh(hdr.key_idx) != kp->remote_index ||
	    c >= ENC_TOTAL || enc_len[c] != 0 || len > enc_stride) {
		if (mesh_bad++ < 5)
			fprintf(stderr, "mesh: counter %lu out of range or seen twice\n",
			        (unsigned long)(c + enc_c0));
		return;
	}
	memcpy(enc_msgs + c * enc_stride, msg, len);
	enc_len[c] = (uint16_t)len;
	enc_bytes += len;
}

static void inject_lan(uint32_t first, unsigned n)
{
	static uint8_t frame[2048];
	struct rte_mbuf *m[ENC_WAVE];
	for (unsigned i = 0; i < n; i++) {
		size_t len = put_eth(frame, &lan_mac, &host_mac);
		len += put_inner(frame + len, host4, far_inner4, first + i, 97, 64);
		m[i] = mbuf_of(MG_PORT_LAN, frame, len);
	}
	CHECK(rte_ring_enqueue_bulk(ring[MG_PORT_LAN].rx, (void **)m, n, NULL) == n,
	      "wave fits the RX ring");
}

static void open_all(void)
{
	static uint8_t plain[2048], want[2048];
	static uint8_t seen[ENC_TOTAL];
	unsigned bad = 0, missing = 0;
	for (unsigned c = 0; c < ENC_TOTAL; c++) {
		if (!enc_len[c]) {
			missing++;
			continue;
		}
		struct wg_noise_keypair *kp = NULL;
		size_t pl = 0, il = 0;
		uint32_t seq;
		enum wg_result r = wg_transport_open(&far_local, enc_msgs + c * enc_stride,
		                                     enc_len[c], plain, &pl, &kp, NULL, clock_ns);
		if ((r != WG_OK && r != WG_OK_REKEY) ||
		    wg_transport_inner_len(plain, pl, &il) != WG_OK || il < 24) {
			if (bad++ < 5)
				fprintf(stderr, "counter %u: %s\n", c, wg_result_str(r));
			continue;
		}
		memcpy(&seq, plain + 20, 4);
		if (seq >= ENC_TOTAL || seen[seq]++ ||
		    put_inner(want, host4, far_inner4, seq, 97, 63) != il ||
		    memcmp(plain, want, il) != 0) {
			if (bad++ < 5)
				fprintf(stderr, "counter %u: inner seq %u wrong or repeated\n", c,
				        seq);
		}
	}
	CHECK(missing == 0 && bad == 0,
	      "counters %lu..%lu each used once, all open at the far node: %u missing, %u bad",
	      (unsigned long)enc_c0, (unsigned long)(enc_c0 + ENC_TOTAL - 1), missing, bad);
}

static void test_encrypt_fanout(void)
{
	struct wg_noise_keypair *kp = wg_noise_keypair_current(&peer->remote);
	enc_stride = wg_transport_sealed_len(MTU, MTU);
	enc_msgs = malloc(enc_stride * ENC_TOTAL);
	if (!enc_msgs || !kp) {
		CHECK(false, "message store and keypair");
		return;
	}
	set_endpoint(LISTEN);
	enc_c0 = atomic_load(&kp->send_counter);
	launch();
	for (uint32_t first = 0; first < ENC_TOTAL && !past_deadline(); first += ENC_WAVE) {
		unsigned n = ENC_TOTAL - first < ENC_WAVE ? ENC_TOTAL - first : ENC_WAVE;
		inject_lan(first, n);
		uint64_t still_since = rte_get_tsc_cycles();
		unsigned last_out = mesh_out;
		while (mesh_out < first + n && !past_deadline() &&
		       rte_get_tsc_cycles() - still_since < rte_get_tsc_hz() / 2) {
			drain(MG_PORT_MESH, mesh_collect);
			if (mesh_out != last_out) {
				last_out = mesh_out;
				still_since = rte_get_tsc_cycles();
			}
			rte_delay_us_sleep(50);
		}
		if (mesh_out != first + n) {
			CHECK(false, "wave at %u: %u frames out, expected %u", first, mesh_out,
			      first + n);
			break;
		}
	}
	rte_delay_us_sleep(20000);
	drain(MG_PORT_MESH, mesh_collect);
	stop();
	drain(MG_PORT_MESH, mesh_collect);

	CHECK(mesh_out == ENC_TOTAL && mesh_bad == 0, "%u frames out, %u bad", mesh_out, mesh_bad);
	CHECK(atomic_load(&kp->send_counter) == enc_c0 + ENC_TOTAL, "no nonce reserved unused");
	for (unsigned i = 0; i < NW; i++)
		CHECK(workers[i].counters.encrypted > 0, "worker %u encrypted %lu", i,
		      (unsigned long)workers[i].counters.encrypted);
	printf("encrypted per worker: %lu %lu %lu\n", (unsigned long)workers[0].counters.encrypted,
	       (unsigned long)workers[1].counters.encrypted,
	       (unsigned long)workers[2].counters.encrypted);
	open_all();
	free(enc_msgs);
	enc_msgs = NULL;
}

/* ---- (c) the totals ---- */

static void test_totals(void)
{
	uint64_t ptx = 0, ptb = 0, pdrops = 0;
	for (unsigned i = 0; i < NW; i++) {
		ptx += peer_counters[i][0].tx_packets;
		ptb += peer_counters[i][0].tx_bytes;
		pdrops += peer_counters[i][0].drops;
	}
	CHECK(SUM(rx_packets[MG_PORT_LAN]) == ENC_TOTAL && SUM(encrypted) == ENC_TOTAL &&
	          SUM(tx_packets[MG_PORT_MESH]) == ENC_TOTAL,
	      "encrypt totals: rx %lu, sealed %lu, tx %lu",
	      (unsigned long)SUM(rx_packets[MG_PORT_LAN]), (unsigned long)SUM(encrypted),
	      (unsigned long)SUM(tx_packets[MG_PORT_MESH]));
	CHECK(SUM(tx_packets[MG_PORT_LAN]) == UNIQUE && SUM(decrypted) == UNIQUE, "decrypt totals");
	CHECK(ptx == ENC_TOTAL && ptb == enc_bytes, "peer tx %lu packets, %lu bytes",
	      (unsigned long)ptx, (unsigned long)ptb);
	CHECK(pdrops == 0, "no per-peer drops");
	for (unsigned r = 0; r < MG_DROP_REASON_COUNT; r++)
		if (r != MG_DROP_REPLAY)
			CHECK(SUM(drops[r]) == 0, "no %s drops (%lu)", mg_drop_reason_name(r),
			      (unsigned long)SUM(drops[r]));
	CHECK(SUM(punted) == 0 && SUM(events_lost) == 0 && rte_ring_count(gw.punt_ring) == 0 &&
	          rte_ring_count(gw.event_ring) == 0,
	      "nothing punted, no events");
	CHECK(control_tx == 0, "no worker used the control thread's TX queue");
}

int main(int argc, char **argv)
{
	(void)argc;
	if (eal_test_init(argv[0], NW + 1, 512) != 0)
		return 1;
	if (rte_lcore_count() < NW + 1 || setup() != 0) {
		fprintf(stderr, "set-up failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	deadline_tsc = rte_get_tsc_cycles() + DEADLINE_S * rte_get_tsc_hz();
	test_decrypt_fanout();
	test_encrypt_fanout();
	test_totals();
	CHECK(!past_deadline(), "finished within %d s", DEADLINE_S);
	for (unsigned i = 0; i < NW; i++)
		mg_worker_fini(&workers[i]);
	return check_done("multiworker");
}
