// SPDX-License-Identifier: GPL-2.0-only
/*
 * The data plane per worker core (issue #6): LAN to mesh (encrypt) and mesh to LAN (decrypt)
 * through the real worker loop, one worker lcore, fed over in-memory ring ports by a generator
 * on the other lcore. Every figure is also given as a ratio to the raw ChaCha20-Poly1305 rate
 * of crypto_burst measured on the same core in the same run (the ceiling, measured as
 * bench/crypto_ceiling.c does: burst 32, four keys interleaved, rate per CPU-second).
 *
 * Sizes are inner IP packet lengths (what the LAN side carries): 64 .. 1420 and IMIX, 7:4:1 of
 * 64/570/1420 (the classic 40/576/1500 mix scaled to a 1420-byte tunnel MTU and a 64-byte
 * floor). Gbit/s counts those inner bytes. Rates are per CPU-second of the worker thread.
 *
 * Peers: "1" sends everything to one peer, "10000" spreads it over 10,000 peers with 10 IPv4
 * prefixes each (100,000 allowed-IPs routes, each peer its own endpoint and keys); the gateway
 * holds all 10,000 peers in both cases.
 *
 * The decrypt path gets valid transport messages only: per peer, K messages with counters
 * 0..K-1 are sealed up front by the reference path (wg/transport.c). A counter can be accepted
 * once per keypair, so each peer has LAPS receive keypairs with the same key but their own
 * receiver index and replay window: the generator stamps lap n's index into the (unauthenticated)
 * header, and before reusing a keypair it waits until the worker is past every packet of that
 * keypair's last lap and then resets its window. Nothing in the worker is switched off: index
 * lookup, age check, tag, replay window, inner validation, allowed-IPs source check and the
 * neighbour lookup all run on every packet.
 *
 *   dataplane_bench [--quick] [--seconds S] [--peers N] [--out FILE] [--paths encrypt|decrypt|both]
 *                   [--sizes 64,128,256,512,1024,1420,imix] [--peer-sets one|many|both]
 *                   [--generator builtin|testpmd|both] [--testpmd PATH] [--filter]
 *
 * --generator testpmd drives the encrypt path from stock dpdk-testpmd over memif instead
 * (dataplane_bench_testpmd.c). --filter measures the decrypt path with the packet filter in
 * force against the same path without one instead (dataplane_bench_policy.c).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <rte_cycles.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_memcpy.h>
#include <rte_ring.h>
#include <rte_version.h>

#include "acl.h"
#include "allowedips.h"
#include "crypto.h"
#include "crypto_burst.h"
#include "index_table.h"
#include "neigh.h"
#include "noise.h"
#include "ring_gateway.h"
#include "timers.h"
#include "transport.h"
#include "worker.h"

#include "dataplane_bench.h"

const unsigned bench_sizes[N_SIZES] = {64, 128, 256, 512, 1024, 1420, IMIX};
const unsigned ceil_sizes[N_CEIL_SIZES] = {64, 128, 256, 512, 570, 1024, 1420};
/* 7 x 64, 4 x 570, 1 x 1420, interleaved as a mixed link would carry them. */
const uint16_t imix[IMIX_LEN] = {64, 570, 64, 64, 570, 64, 1420, 64, 570, 64, 64, 570};

/* Per-peer state: keys, the receive keypairs and the generator's cursor into its messages. */
struct bench_peer {
	struct wg_noise_keypair *rx[LAPS]; /* rx[0] is also the current (sending) keypair */
	uint8_t key[WG_KEY_LEN];
	uint32_t next_msg, lap;
	uint64_t last_pos[LAPS]; /* generator position of the last packet under rx[i] */
};

static struct mg_dp_addrs addrs; /* gw.addrs: mutable here, no worker runs meanwhile */
static struct mg_gateway gw;
static struct mg_worker worker;
static struct mg_peer **peers;
static struct mg_peer *_Atomic *peer_slots;
static struct mg_peer_counters *peer_counters;
static struct bench_peer *bp;
struct rte_mempool *pool;
static struct mg_ring_port rport[MG_PORT_COUNT];
static unsigned worker_lcore;
static clockid_t worker_clock;
static atomic_bool worker_clock_ready;
static long worker_csw; /* the last run's involuntary context switches */
uint64_t rng_state = 0x6d67626e63680001ull;
struct ceiling ceilings[N_CEIL_SIZES];
double c2c_ns[2];
char isa_name[16];

static const struct rte_ether_addr lan_mac = {{2, 0, 0, 0, 1, 1}}, mesh_mac = {{2, 0, 0, 0, 2, 1}};
static const struct rte_ether_addr host_mac = {{2, 0, 0, 0, 1, 0x10}};
static const struct rte_ether_addr router_mac = {{2, 0, 0, 0, 2, 0xfe}};
static const uint8_t host4[4] = {192, 168, 1, 10}, mesh4[4] = {10, 0, 0, 1};
static const uint8_t router4[4] = {10, 0, 0, 254};

/* ---- small helpers ---- */

double clock_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t now_ns(void *ctx)
{
	struct timespec ts;
	(void)ctx;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void bench_rng(void *ctx, void *buf, size_t len)
{
	uint64_t *s = ctx;
	uint8_t *o = buf;
	while (len) {
		uint64_t z = (*s += 0x9e3779b97f4a7c15ull);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
		z ^= z >> 31;
		size_t n = len < 8 ? len : 8;
		memcpy(o, &z, n);
		o += n;
		len -= n;
	}
}

static void be16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/*
 * Peer p's j-th prefix: lengths /20 to /24 in turn, laid out one after another from 48.0.0.0
 * (each aligned to its size), so no two overlap. Hosts use .5 of each.
 */
static uint32_t *prefix_base;

static uint8_t prefix_len(uint32_t p, unsigned j)
{
	return (uint8_t)(20 + (p * PREFIXES + j) % 5);
}

static int layout_prefixes(uint32_t n)
{
	uint32_t at = 48u << 24;
	prefix_base = malloc((size_t)n * PREFIXES * sizeof(*prefix_base));
	if (!prefix_base)
		return -1;
	for (uint32_t i = 0; i < n * PREFIXES; i++) {
		uint32_t size = 1u << (32 - prefix_len(i / PREFIXES, i % PREFIXES));
		at = (at + size - 1) & ~(size - 1);
		prefix_base[i] = at;
		at += size;
	}
	return 0;
}

uint32_t prefix_host(uint32_t p, unsigned j)
{
	return prefix_base[p * PREFIXES + j] + 5;
}

static void put_ipv4(uint8_t *ip, unsigned total, uint32_t src, uint32_t dst)
{
	memset(ip, 0, 20);
	ip[0] = 0x45;
	be16(ip + 2, total);
	ip[8] = 64;
	ip[9] = 253;
	uint32_t s = rte_cpu_to_be_32(src), d = rte_cpu_to_be_32(dst);
	memcpy(ip + 12, &s, 4);
	memcpy(ip + 16, &d, 4);
	struct rte_ipv4_hdr *h = (struct rte_ipv4_hdr *)ip;
	h->hdr_checksum = rte_ipv4_cksum(h);
	for (unsigned i = 20; i < total; i++)
		ip[i] = (uint8_t)(i * 7);
}

static uint32_t addr_of(const uint8_t a[4])
{
	return (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
}

uint32_t lan_host(void)
{
	return addr_of(host4);
}

struct mg_gateway *bench_gateway(void)
{
	return &gw;
}

const char *worker_isa(void)
{
	return worker.crypto ? mg_crypto_isa_name(worker.crypto) : "none";
}

struct mg_crypto *worker_crypto(void)
{
	return worker.crypto;
}

const struct mg_worker_counters *worker_counters(void)
{
	return &worker.counters;
}

/* ---- set-up ---- */

#define EAL_MB_N 1024
#define EAL_MB   "1024"

bool eal_hugepages;

/* Free 2 MB hugepages in MB (the default size; the EAL takes its pages from it). */
static unsigned long free_hugepages_mb(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[128];
	unsigned long free_pages = 0, kb = 0;
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		sscanf(line, "HugePages_Free: %lu", &free_pages);
		sscanf(line, "Hugepagesize: %lu kB", &kb);
	}
	fclose(f);
	return kb == 2048 ? free_pages * 2 : 0;
}

static int eal_init(const char *prog)
{
	static char lcores[64], prefix[64];
	cpu_set_t set;
	int cpus[2], n = 0;
	if (sched_getaffinity(0, sizeof(set), &set) != 0)
		return -1;
	for (int c = 0; c < CPU_SETSIZE && n < 2; c++)
		if (CPU_ISSET(c, &set))
			cpus[n++] = c;
	if (n == 0)
		return -1;
	if (n == 1) {
		fprintf(stderr, "warning: one CPU only: generator and worker share it\n");
		cpus[1] = cpus[0];
	}
	/* Generator (main lcore) on one CPU, the measured worker on the other. */
	snprintf(lcores, sizeof(lcores), "--lcores=0@%d,1@%d", cpus[0], cpus[1]);
	snprintf(prefix, sizeof(prefix), "--file-prefix=mgbench-%ld", (long)getpid());
	/* A forced ISA below AVX-512 runs the whole worker as on a CPU without it: DPDK's own
	 * vector paths (rte_fib's lookup, rte_acl) are held to the same width as the crypto. */
	const char *simd = opt.isa == MG_CRYPTO_ISA_AVX2 || opt.isa == MG_CRYPTO_ISA_AVX
	                       ? "--force-max-simd-bitwidth=256"
	                   : opt.isa == MG_CRYPTO_ISA_SSE ? "--force-max-simd-bitwidth=128"
	                                                  : NULL;
	char *argv[12] = {(char *)prog, "--no-huge", "--no-pci", "--no-telemetry",     prefix,
	                  "-m",         EAL_MB,      lcores,     "--log-level=warning"};
	int argc = 9;
	/* A gateway runs on hugepages (conf/gateway-nic.yaml); without them every mbuf the
	 * worker touches is another 4 KB TLB entry. --in-memory takes them from a hugetlbfs memfd,
	 * so nothing needs mounting and nothing stays behind. */
	eal_hugepages =
	    opt.hugepages == HUGE_ON ||
	    (opt.hugepages == HUGE_AUTO && !opt.gen_testpmd && free_hugepages_mb() >= EAL_MB_N);
	if (eal_hugepages)
		argv[1] = "--in-memory";
	if (simd)
		argv[argc++] = (char *)simd;
	/* memif registers a multi-process action, which needs the shared config: testpmd's
	 * clean-up removes the runtime directory then (testpmd_prepare). */
	if (!opt.gen_testpmd)
		argv[argc++] = "--no-shconf";
	if (rte_eal_init(argc, argv) < 0) {
		fprintf(stderr, "rte_eal_init: %s%s\n", rte_strerror(rte_errno),
		        eal_hugepages ? " (--hugepages on: " EAL_MB " MB of free 2 MB hugepages "
		                        "needed, see /proc/sys/vm/nr_hugepages)"
		                      : "");
		return -1;
	}
	mg_acl_simd_setup(); /* as mg_eal_init does for the gateway */
	const char *dir = rte_eal_get_runtime_dir();
	if (!opt.gen_testpmd && dir && strstr(dir, "mgbench-"))
		rmdir(dir);
	return 0;
}

int start_port(uint16_t id)
{
	struct rte_eth_conf conf;
	memset(&conf, 0, sizeof(conf));
	if (rte_eth_dev_configure(id, 1, 2, &conf) != 0 ||
	    rte_eth_rx_queue_setup(id, 0, RING_SIZE, SOCKET_ID_ANY, NULL, pool) != 0 ||
	    rte_eth_tx_queue_setup(id, 0, RING_SIZE, SOCKET_ID_ANY, NULL) != 0 ||
	    rte_eth_tx_queue_setup(id, 1, RING_SIZE, SOCKET_ID_ANY, NULL) != 0 ||
	    rte_eth_dev_start(id) != 0)
		return -1;
	return 0;
}

/* The worker reads the port id on every burst: a swap is safe while it is stopped. */
uint16_t set_lan_port(uint16_t id)
{
	uint16_t old = gw.ports[MG_PORT_LAN].port_id;
	gw.ports[MG_PORT_LAN].port_id = id;
	return old;
}

static int make_port(enum mg_port_id p, const char *name, const struct rte_ether_addr *mac)
{
	if (mg_ring_port_create(&rport[p], name, 2, RING_SIZE) != 0)
		return -1;
	return mg_ring_port_attach(&rport[p], &gw, p, pool, RING_SIZE, mac);
}

static void prefix(struct mg_prefix *p, const uint8_t *addr, uint8_t len)
{
	memset(p, 0, sizeof(*p));
	p->family = 4;
	p->len = len;
	memcpy(p->addr, addr, 4);
}

/* A keypair as a completed handshake leaves it, with key as both directions' key. */
static struct wg_noise_keypair *new_keypair(struct mg_peer *peer, const uint8_t *key)
{
	size_t size = (sizeof(struct wg_noise_keypair) + 63) & ~(size_t)63;
	struct wg_noise_keypair *kp = aligned_alloc(64, size);
	if (!kp)
		return NULL;
	memset(kp, 0, size);
	memcpy(kp->send_key, key, WG_KEY_LEN);
	memcpy(kp->recv_key, key, WG_KEY_LEN);
	kp->birth_ns = now_ns(NULL);
	kp->is_initiator = true;
	kp->remote = &peer->remote;
	atomic_init(&kp->valid, true);
	atomic_init(&kp->send_counter, 0);
	wg_replay_init(&kp->recv_replay);
	bench_rng(&rng_state, &kp->remote_index, sizeof(kp->remote_index));
	if (wg_index_table_insert(gw.index, WG_INDEX_KEYPAIR, kp, bench_rng, &rng_state,
	                          &kp->local_index) != WG_OK) {
		free(kp);
		return NULL;
	}
	return kp;
}

static int setup_peers(uint32_t n)
{
	peers = calloc(n, sizeof(*peers));
	peer_slots = calloc(n, sizeof(*peer_slots));
	gw.peer_tx = aligned_alloc(64, n * sizeof(*gw.peer_tx));
	/* Both hold cache-line aligned members (a counters row, a peer's send state). */
	peer_counters = aligned_alloc(64, n * sizeof(*peer_counters));
	bp = calloc(n, sizeof(*bp));
	if (!peers || !peer_slots || !gw.peer_tx || !peer_counters || !bp)
		return -1;
	memset(gw.peer_tx, 0, n * sizeof(*gw.peer_tx));
	memset(peer_counters, 0, n * sizeof(*peer_counters));
	gw.peers = peer_slots;
	gw.max_peers = n;
	gw.peer_counters[0] = peer_counters;
	/* Mixed lengths also keep set-up fast: rte_lpm scans all rules of the same length on
	 * every add, so 100,000 /24s alone take ~10 s. */
	if (layout_prefixes(n) != 0)
		return -1;
	for (uint32_t p = 0; p < n; p++) {
		struct mg_peer *peer = aligned_alloc(64, sizeof(*peer));
		if (!peer)
			return -1;
		memset(peer, 0, sizeof(*peer));
		peers[p] = peer;
		peer->slot = p;
		peer->tx = &gw.peer_tx[p];
		peer->remote.local = &gw.local;
		peer->remote.owner = peer;
		mg_peer_timers_init(peer, NULL, NULL, NULL);
		/* Each peer behind its own public address, reached through the mesh router. */
		struct mg_sockaddr ep = {.family = 4, .port = LISTEN};
		uint32_t a = rte_cpu_to_be_32((198u << 24 | 18u << 16) + p + 1);
		memcpy(ep.addr, &a, 4);
		mg_endpoint_write(&peer->endpoint, &ep);
		bench_rng(&rng_state, bp[p].key, WG_KEY_LEN);
		for (int l = 0; l < LAPS; l++)
			if (!(bp[p].rx[l] = new_keypair(peer, bp[p].key)))
				return -1;
		atomic_store(&peer->remote.current, bp[p].rx[0]);
		for (unsigned j = 0; j < PREFIXES; j++) {
			uint32_t a4 = rte_cpu_to_be_32(prefix_host(p, j));
			if (mg_allowedips_insert(gw.allowedips, AF_INET, &a4, prefix_len(p, j),
			                         p) != 0)
				return -1;
		}
		atomic_store(&peer_slots[p], peer);
	}
	gw.n_peers = n;
	return mg_allowedips_commit(gw.allowedips);
}

static int setup(uint32_t n_peers)
{
	pool = rte_pktmbuf_pool_create("bench", 32767, 512, 0, 2048 + RTE_PKTMBUF_HEADROOM,
	                               SOCKET_ID_ANY);
	if (!pool)
		return -1;
	gw.conf.listen_port = LISTEN;
	gw.conf.mtu = MTU;
	prefix(&addrs.ports[MG_PORT_LAN].ipv4, (uint8_t[]){192, 168, 1, 1}, 24);
	prefix(&addrs.ports[MG_PORT_MESH].ipv4, mesh4, 24);
	addrs.ports[MG_PORT_LAN].has_ipv4 = addrs.ports[MG_PORT_MESH].has_ipv4 = true;
	memcpy(addrs.ports[MG_PORT_MESH].gateway4, router4, 4);
	addrs.ports[MG_PORT_MESH].has_gateway4 = true;
	prefix(&addrs.addresses[0], (uint8_t[]){100, 64, 0, 1}, 32);
	addrs.n_addresses = 1;
	gw.conf.n_workers = 1;
	gw.conf.idle_backoff = false; /* busy polling, the production default */

	gw.addrs = &addrs;
	gw.listen_port = LISTEN;
	gw.mtu = MTU;
	gw.tsc_hz = rte_get_tsc_hz();
	if (make_port(MG_PORT_LAN, "lan", &lan_mac) || make_port(MG_PORT_MESH, "mesh", &mesh_mac))
		return -1;
	gw.punt_ring = rte_ring_create("punt", 1024, SOCKET_ID_ANY, RING_F_SC_DEQ);
	gw.event_ring = rte_ring_create_elem("events", sizeof(struct mg_event), 1024, SOCKET_ID_ANY,
	                                     RING_F_SC_DEQ);
	gw.index = wg_index_table_new(n_peers * LAPS + 64);
	gw.allowedips = mg_allowedips_create(n_peers * PREFIXES + 64, 64, NULL);
	gw.neigh = mg_neigh_create(64, SOCKET_ID_ANY);
	struct wg_noise_upcalls up = {.ctx = &rng_state, .random = bench_rng, .now = now_ns};
	if (!gw.punt_ring || !gw.event_ring || !gw.index || !gw.allowedips || !gw.neigh ||
	    wg_noise_local_init(&gw.local, gw.index, &up) != WG_OK)
		return -1;
	if (mg_neigh_update(gw.neigh, MG_PORT_MESH, 4, router4, &router_mac, now_ns(NULL)) != 0 ||
	    mg_neigh_update(gw.neigh, MG_PORT_LAN, 4, host4, &host_mac, now_ns(NULL)) != 0 ||
	    setup_peers(n_peers) != 0)
		return -1;
	gw.n_workers = 1;
	gw.workers[0] = &worker;
	worker_lcore = rte_get_next_lcore(-1, 1, 0);
	return mg_worker_init(&worker, &gw, 0, worker_lcore);
}

/* ---- traffic ---- */

static unsigned size_at(const struct traffic *t, uint64_t i)
{
	return t->size == IMIX ? imix[i % IMIX_LEN] : t->size;
}

int build_encrypt(struct traffic *t)
{
	unsigned n = t->size == IMIX ? IMIX_LEN : 1;
	for (unsigned k = 0; k < n; k++) {
		unsigned s = size_at(t, k);
		uint8_t *f = t->lan[k];
		memcpy(f, &lan_mac, 6);
		memcpy(f + 6, &host_mac, 6);
		be16(f + 12, 0x0800);
		put_ipv4(f + 14, s, addr_of(host4), prefix_host(0, 0));
		t->lan_len[k] = (uint16_t)(14 + s);
	}
	return 0;
}

/*
 * The size of peer p's i-th message. The generator sends message i of every peer before
 * message i + 1 of any: with one size per message index, IMIX over many peers would come as
 * runs of 10,000 packets of one size, not a mix. Shifting by the peer keeps every run mixed
 * 7:4:1 (consecutive packets' peers are 7919 apart, so their sizes walk through imix[]).
 */
static unsigned decrypt_size(const struct traffic *t, uint32_t p, uint32_t i)
{
	return t->size == IMIX ? imix[(p + i) % IMIX_LEN] : t->size;
}

/* Seals every peer's messages with the reference path, as that peer would send them. */
int build_decrypt(struct traffic *t)
{
	static uint8_t inner[MTU];
	size_t total = (size_t)t->n_peers * t->msgs_per_peer;
	t->frame_stride = (MAX_FRAME + 63) & ~(size_t)63;
	t->frames = malloc(total * t->frame_stride);
	t->frame_len = malloc(total * sizeof(uint16_t));
	size_t kp_size = (sizeof(struct wg_noise_keypair) + 63) & ~(size_t)63;
	struct wg_noise_keypair *far = aligned_alloc(64, kp_size);
	if (!t->frames || !t->frame_len || !far) {
		free(far);
		return -ENOMEM;
	}
	memset(far, 0, kp_size);
	atomic_init(&far->valid, true);
	far->birth_ns = now_ns(NULL);
	int rc = 0;
	for (uint32_t p = 0; p < t->n_peers && rc == 0; p++) {
		struct mg_sockaddr ep;
		mg_endpoint_read(&peers[p]->endpoint, &ep);
		memcpy(far->send_key, bp[p].key, WG_KEY_LEN);
		far->remote_index = bp[p].rx[0]->local_index;
		atomic_store(&far->send_counter, 0);
		for (uint32_t i = 0; i < t->msgs_per_peer; i++) {
			size_t at = (size_t)p * t->msgs_per_peer + i, ml = 0;
			uint8_t *f = t->frames + at * t->frame_stride;
			unsigned s = decrypt_size(t, p, i);
			if (t->inner)
				t->inner(inner, s, p, i);
			else
				put_ipv4(inner, s, prefix_host(p, i % PREFIXES), addr_of(host4));
			if (wg_transport_seal(far, inner, s, MTU, f + 42, MAX_FRAME - 42, &ml, NULL,
			                      now_ns(NULL)) != WG_OK) {
				rc = -EIO;
				break;
			}
			memcpy(f, &mesh_mac, 6);
			memcpy(f + 6, &router_mac, 6);
			be16(f + 12, 0x0800);
			uint8_t *ip = f + 14;
			memset(ip, 0, 28);
			ip[0] = 0x45;
			be16(ip + 2, (unsigned)ml + 28);
			ip[8] = 64;
			ip[9] = 17;
			memcpy(ip + 12, ep.addr, 4);
			memcpy(ip + 16, mesh4, 4);
			((struct rte_ipv4_hdr *)ip)->hdr_checksum = rte_ipv4_cksum((void *)ip);
			be16(ip + 20, LISTEN);
			be16(ip + 22, LISTEN);
			be16(ip + 24, (unsigned)ml + 8);
			t->frame_len[at] = (uint16_t)(42 + ml);
		}
	}
	wg_memzero(far, kp_size);
	free(far);
	return rc;
}

void free_traffic(struct traffic *t)
{
	free(t->frames);
	free(t->frame_len);
	t->frames = NULL;
	t->frame_len = NULL;
}

/* Fresh windows, lap 0, counters from 0, young keypairs: every point starts alike. */
static void reset_peers(void)
{
	uint64_t now = now_ns(NULL);
	for (uint32_t p = 0; p < gw.max_peers; p++) {
		bp[p].next_msg = bp[p].lap = 0;
		for (int l = 0; l < LAPS; l++) {
			wg_replay_init(&bp[p].rx[l]->recv_replay);
			bp[p].rx[l]->birth_ns = now;
			bp[p].last_pos[l] = 0;
		}
	}
}

/* Packets the worker has finished with: it classifies a burst only after the previous one. */
static uint64_t worker_done(enum mg_port_id port)
{
	uint64_t seen = __atomic_load_n(&worker.counters.rx_packets[port], __ATOMIC_ACQUIRE);
	return seen > BURST ? seen - BURST : 0;
}

static void fill_decrypt(struct traffic *t, struct rte_mbuf *m)
{
	uint32_t p = t->cur_peer;
	struct bench_peer *b = &bp[p];
	t->cur_peer = (t->cur_peer + t->stride) % t->n_peers;
	if (b->next_msg == t->msgs_per_peer) {
		b->next_msg = 0;
		b->lap++;
		unsigned slot = b->lap % LAPS;
		if (b->lap >= LAPS) {
			/* Reuse rx[slot] only once the worker is past its last packet. */
			bool waited = false;
			uint64_t give_up = rte_get_tsc_cycles() + 5 * rte_get_tsc_hz();
			while (!t->alone && worker_done(MG_PORT_MESH) <= b->last_pos[slot] &&
			       rte_get_tsc_cycles() < give_up) {
				/* (a stuck worker: the reused window then shows up as replay drops)
				 */
				waited = true;
				rte_pause();
			}
			t->lap_waits += waited;
			wg_replay_init(&b->rx[slot]->recv_replay);
		}
	}
	size_t at = (size_t)p * t->msgs_per_peer + b->next_msg++;
	uint16_t len = t->frame_len[at];
	uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
	rte_memcpy(d, t->frames + at * t->frame_stride, len);
	uint32_t idx = rte_cpu_to_le_32(b->rx[b->lap % LAPS]->local_index);
	memcpy(d + 42 + 4, &idx, 4);
	m->data_len = m->pkt_len = len;
	m->port = gw.ports[MG_PORT_MESH].port_id;
	b->last_pos[b->lap % LAPS] = t->pos;
}

static void fill_encrypt(struct traffic *t, struct rte_mbuf *m)
{
	uint32_t p = t->cur_peer;
	t->cur_peer = (t->cur_peer + t->stride) % t->n_peers;
	unsigned k = t->size == IMIX ? (unsigned)(t->pos % IMIX_LEN) : 0;
	uint8_t *d = rte_pktmbuf_mtod(m, uint8_t *);
	rte_memcpy(d, t->lan[k], t->lan_len[k]);
	struct rte_ipv4_hdr *h = (struct rte_ipv4_hdr *)(d + 14);
	h->dst_addr = rte_cpu_to_be_32(prefix_host(p, (unsigned)(t->pos % PREFIXES)));
	h->hdr_checksum = 0;
	h->hdr_checksum = rte_ipv4_cksum(h);
	m->data_len = m->pkt_len = t->lan_len[k];
	m->port = gw.ports[MG_PORT_LAN].port_id;
}

void fill_packet(struct traffic *t, struct rte_mbuf *m)
{
	if (t->dir == ENCRYPT)
		fill_encrypt(t, m);
	else
		fill_decrypt(t, m);
}

/* One burst into ring; returns how many went in (0: ring full or no mbufs). */
unsigned generate(struct traffic *t, struct rte_ring *ring)
{
	struct rte_mbuf *m[BURST];
	if (rte_ring_free_count(ring) < BURST || rte_pktmbuf_alloc_bulk(pool, m, BURST) != 0)
		return 0;
	for (unsigned i = 0; i < BURST; i++, t->pos++)
		fill_packet(t, m[i]);
	return rte_ring_sp_enqueue_bulk(ring, (void **)m, BURST, NULL);
}

unsigned drain(struct rte_ring *ring)
{
	struct rte_mbuf *m[64];
	unsigned n = rte_ring_sc_dequeue_burst(ring, (void **)m, 64, NULL);
	if (n)
		rte_pktmbuf_free_bulk(m, n);
	return n;
}

void drain_all(void)
{
	for (int p = 0; p < MG_PORT_COUNT; p++) {
		while (drain(rport[p].rx))
			;
		for (int q = 0; q < 2; q++)
			while (drain(rport[p].tx[q]))
				;
	}
	struct rte_mbuf *m;
	while (rte_ring_dequeue(gw.punt_ring, (void **)&m) == 0)
		rte_pktmbuf_free(m);
}

/* The generator alone (fill, enqueue, dequeue, free) on its core: it must outrun the worker. */
static double generator_rate(struct traffic *t, double seconds)
{
	struct rte_ring *r = rport[t->dir == ENCRYPT ? MG_PORT_LAN : MG_PORT_MESH].rx;
	uint64_t n = 0;
	reset_peers();
	t->pos = 0;
	t->cur_peer = 0;
	t->alone = true;
	double start = clock_s(CLOCK_MONOTONIC), cpu0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
	while (clock_s(CLOCK_MONOTONIC) - start < seconds) {
		for (int i = 0; i < 64; i++) {
			n += generate(t, r);
			drain(r);
		}
	}
	double rate = (double)n / (clock_s(CLOCK_THREAD_CPUTIME_ID) - cpu0);
	drain_all();
	t->alone = false;
	return rate;
}

/* The worker's crypto context, made on its own lcore before any point is timed. */
static int worker_prepare(void *arg)
{
	int err = 0;
	struct mg_worker *w = arg;
	if (!w->crypto)
		w->crypto = mg_crypto_create(opt.isa, &err);
	if (w->crypto)
		mg_crypto_set_prefetch(w->crypto, &opt.prefetch);
	return w->crypto ? 0 : err ? err : -ENOMEM;
}

static int worker_entry(void *arg)
{
	struct rusage a, b;
	pthread_getcpuclockid(pthread_self(), &worker_clock);
	getrusage(RUSAGE_THREAD, &a);
	atomic_store(&worker_clock_ready, true);
	int rc = mg_worker_main(arg);
	getrusage(RUSAGE_THREAD, &b);
	worker_csw = b.ru_nivcsw - a.ru_nivcsw;
	return rc;
}

long worker_nivcsw(void)
{
	return worker_csw;
}

void set_stall_log(struct mg_stall_log *log)
{
	worker.stall_log = log;
}

void restart_traffic(struct traffic *t)
{
	reset_peers();
	t->pos = 0;
	t->cur_peer = 0;
	t->lap_waits = 0;
	memset(&worker.counters, 0, sizeof(worker.counters));
}

int worker_start(void)
{
	atomic_store(&worker_clock_ready, false);
	atomic_store(&gw.stop, false);
	if (rte_eal_remote_launch(worker_entry, &worker, worker_lcore) != 0)
		return -1;
	while (!atomic_load(&worker_clock_ready))
		rte_pause();
	return 0;
}

int worker_stop(void)
{
	atomic_store(&gw.stop, true);
	int rc = rte_eal_wait_lcore(worker_lcore);
	drain_all();
	return rc;
}

struct rte_ring *input_ring(enum direction dir)
{
	return rport[dir == ENCRYPT ? MG_PORT_LAN : MG_PORT_MESH].rx;
}

struct rte_ring *output_ring(enum direction dir)
{
	return rport[dir == ENCRYPT ? MG_PORT_MESH : MG_PORT_LAN].tx[0];
}

void set_idle_backoff(bool on)
{
	gw.conf.idle_backoff = on;
}

void snapshot(struct snap *s, enum direction dir)
{
	const struct mg_worker_counters *c = &worker.counters;
	s->wall = clock_s(CLOCK_MONOTONIC);
	s->cpu = clock_s(worker_clock);
	s->done = __atomic_load_n(dir == ENCRYPT ? &c->encrypted : &c->decrypted, __ATOMIC_RELAXED);
	s->busy = __atomic_load_n(&c->busy_cycles, __ATOMIC_RELAXED);
	s->total = __atomic_load_n(&c->total_cycles, __ATOMIC_RELAXED);
	for (int r = 0; r < MG_DROP_REASON_COUNT; r++)
		s->drops[r] = __atomic_load_n(&c->drops[r], __ATOMIC_RELAXED);
}

/* Worker capacity over [a, b]: packets per CPU-second spent on iterations with packets. */
double window_mpps(const struct snap *a, const struct snap *b, double *idle)
{
	double cpu = b->cpu - a->cpu;
	*idle = b->total > a->total
	            ? 1.0 - (double)(b->busy - a->busy) / (double)(b->total - a->total)
	            : 0;
	return cpu > 0 && *idle < 1 ? (double)(b->done - a->done) / (cpu * (1.0 - *idle)) / 1e6 : 0;
}

/*
 * Runs the worker under load for warmup + seconds, split into windows. Other processes on a
 * shared machine only ever slow a window down, so the best window is the capacity figure and
 * the median shows the spread.
 */
static int run_point(struct traffic *t, struct point *pt)
{
	enum mg_port_id in = t->dir == ENCRYPT ? MG_PORT_LAN : MG_PORT_MESH;
	enum mg_port_id out = t->dir == ENCRYPT ? MG_PORT_MESH : MG_PORT_LAN;
	struct snap snaps[MAX_WINDOWS + 1];
	unsigned windows = opt.quick ? 3 : 8, taken = 0;

	pt->gen_mpps = generator_rate(t, opt.quick ? 0.05 : 0.3) / 1e6;
	restart_traffic(t);
	/* Prime the RX ring so the worker never starts on an empty queue. */
	while (generate(t, rport[in].rx))
		;
	if (worker_start() != 0)
		return -1;
	double start = clock_s(CLOCK_MONOTONIC);
	while (taken <= windows) {
		for (int i = 0; i < 16; i++) {
			generate(t, rport[in].rx);
			drain(rport[out].tx[0]);
		}
		double el = clock_s(CLOCK_MONOTONIC) - start;
		if (el >= opt.warmup + opt.seconds * taken / windows)
			snapshot(&snaps[taken++], t->dir);
	}
	int rc = worker_stop();
	pt->dir = t->dir;
	pt->peers = t->n_peers;
	pt->size = t->size;
	summarize_point(pt, snaps, windows);
	if (t->lap_waits)
		fprintf(stderr, "note: generator waited for the worker %lu times\n",
		        (unsigned long)t->lap_waits);
	return rc;
}

void summarize_point(struct point *pt, const struct snap *snaps, unsigned windows)
{
	const struct snap *a = &snaps[0], *b = &snaps[windows];
	double rates[MAX_WINDOWS], idle, cpu = b->cpu - a->cpu, wall = b->wall - a->wall;
	pt->packets = b->done - a->done;
	pt->drops = 0;
	for (int r = 0; r < MG_DROP_REASON_COUNT; r++) {
		uint64_t d = b->drops[r] - a->drops[r];
		pt->drops += d;
		if (d)
			fprintf(stderr, "note: %lu packets dropped as %s\n", (unsigned long)d,
			        mg_drop_reason_name((enum mg_drop_reason)r));
	}
	pt->wall_best_mpps = 0;
	for (unsigned i = 0; i < windows; i++) {
		rates[i] = window_mpps(&snaps[i], &snaps[i + 1], &idle);
		double w = (double)(snaps[i + 1].done - snaps[i].done) /
		           (snaps[i + 1].wall - snaps[i].wall) / 1e6;
		pt->wall_best_mpps = w > pt->wall_best_mpps ? w : pt->wall_best_mpps;
	}
	qsort(rates, windows, sizeof(rates[0]), cmp_double);
	pt->mpps = rates[windows - 1];
	pt->median_mpps = rates[windows / 2];
	window_mpps(a, b, &pt->idle_frac);
	pt->raw_mpps = (double)pt->packets / cpu / 1e6;
	pt->wall_mpps = (double)pt->packets / wall / 1e6;
	pt->cpu_share = cpu / wall;
	pt->gbps = pt->mpps * mean_size(pt->size) * 8 / 1e3;
	pt->ceiling_mpps = ceiling_of(pt->dir, pt->size);
	pt->ratio = pt->mpps / pt->ceiling_mpps;
	pt->median_ratio = pt->median_mpps / ceiling_median_of(pt->dir, pt->size);
}

int main(int argc, char **argv)
{
	static struct point pts[2 * 2 * N_SIZES];
	static struct traffic t;
	unsigned n = 0;

	double t_start = clock_s(CLOCK_MONOTONIC);
	if (parse_args(argc, argv) != 0)
		return 2;
	if (eal_init(argv[0]) != 0 || (opt.gen_testpmd && testpmd_prepare() != 0))
		return 1;
	if (rte_lcore_count() < 2 || setup(opt.peers) != 0) {
		fprintf(stderr, "set-up failed: %s\n", rte_strerror(rte_errno));
		return 1;
	}
	double t_setup = clock_s(CLOCK_MONOTONIC);
	double cs = opt.quick ? 0.1 : 1.0;
	if (!opt.filter) /* its report has no machine line to carry it */
		c2c_ns[0] = c2c_round_trip_ns(worker_lcore);
	/* --filter compares the worker with itself: no ceiling. */
	if ((!opt.filter && (rte_eal_remote_launch(ceiling_main, &cs, worker_lcore) != 0 ||
	                     rte_eal_wait_lcore(worker_lcore) != 0)) ||
	    rte_eal_remote_launch(worker_prepare, &worker, worker_lcore) != 0 ||
	    rte_eal_wait_lcore(worker_lcore) != 0) {
		fprintf(stderr, "ceiling measurement or worker crypto context failed\n");
		return 1;
	}
	if (opt.filter) {
		int rc = filter_points();
		mg_worker_fini(&worker);
		rte_eal_cleanup();
		return rc ? 1 : 0;
	}
	double t_ceiling = clock_s(CLOCK_MONOTONIC), t_build = 0;
	if (opt.ab)
		ab_header();
	const uint32_t peer_counts[2] = {1, opt.peers};
	for (unsigned s = 0; s < N_SIZES; s++) {
		for (unsigned pc = 0; pc < 2 && opt.size_on[s]; pc++) {
			for (int dir = ENCRYPT; dir <= DECRYPT; dir++) {
				if (!opt.gen_builtin || !opt.dir_on[dir] || !opt.set_on[pc])
					continue;
				memset(&t, 0, sizeof(t));
				t.dir = (enum direction)dir;
				t.n_peers = peer_counts[pc];
				/* Coprime with the peer count: every peer in turn, no locality. */
				t.stride = t.n_peers > 7919 && t.n_peers % 7919 ? 7919 : 1;
				t.size = bench_sizes[s];
				t.msgs_per_peer = t.n_peers == 1
				                      ? (opt.quick ? 12 * 512 : 12 * 8192)
				                      : (opt.quick ? 12 : 24);
				double b0 = clock_s(CLOCK_MONOTONIC);
				int rc = dir == ENCRYPT ? build_encrypt(&t) : build_decrypt(&t);
				t_build += clock_s(CLOCK_MONOTONIC) - b0;
				if (rc == 0 && opt.ab)
					rc = ab_point(&t);
				else if (rc == 0)
					rc = run_point(&t, &pts[n]);
				if (rc == 0 && !opt.ab && load_tests_want(&t))
					rc = load_tests(&t, &pts[n]);
				free_traffic(&t);
				if (rc != 0) {
					fprintf(stderr, "point failed: %d\n", rc);
					return 1;
				}
				n++;
			}
		}
	}
	c2c_ns[1] = c2c_round_trip_ns(worker_lcore);
	if (opt.ab) {
		print_round_trips();
		mg_worker_fini(&worker);
		rte_eal_cleanup();
		return 0;
	}
	if (opt.gen_testpmd && testpmd_points() != 0)
		return 1;
	double t_end = clock_s(CLOCK_MONOTONIC);
	fprintf(stderr, "time: set-up %.1f s, ceiling %.1f s, sealing %.1f s, points %.1f s\n",
	        t_setup - t_start, t_ceiling - t_setup, t_build, t_end - t_ceiling - t_build);
	print_table(pts, n);
	if (write_json(pts, n) != 0)
		return 1;
	printf("wrote %s\n", opt.out);
	mg_worker_fini(&worker);
	rte_eal_cleanup();
	return 0;
}
