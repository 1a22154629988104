// SPDX-License-Identifier: GPL-2.0-only
/*
 * mg_status_collect against real DPDK objects: two ring ports (link state from the PMD, up
 * after start and down after stop), an mbuf pool whose in-use count follows allocations, the
 * DPDK heap statistics following an rte_malloc, and a gateway whose per-worker and per-peer
 * counter rows, peers (endpoints written through the seqlock, allowed IPs, handshake time) and
 * free slots are laid out as the workers and the control thread leave them. The snapshot is
 * then rendered, and JSON and Prometheus must carry the same sums.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "check.h"
#include "eal_test_env.h"
#include "keys.h"
#include "log.h"
#include "ring_gateway.h"
#include "status.h"
#include "worker.h"

#define NSLOTS   4
#define NWORKERS 2

/* What the control thread passes in mg_status_sources. */
static char ifname[16] = "mgtest0";
static char coord_url[8];
static struct mg_gateway gw;
static struct mg_worker workers[NWORKERS];
static struct mg_peer *_Atomic slots[NSLOTS];
static struct mg_peer_counters rows[NWORKERS][NSLOTS], ctl_rows[NSLOTS];
static struct rte_mempool *pool;
static struct mg_ring_port ring[MG_PORT_COUNT];

static int make_port(unsigned p)
{
	char name[32];
	snprintf(name, sizeof(name), "sc_ring%u", p);
	if (mg_ring_port_create(&ring[p], name, 1, 256) != 0 ||
	    mg_ring_port_attach(&ring[p], &gw, (enum mg_port_id)p, pool, 128, NULL) != 0)
		return -1;
	snprintf(gw.conf.ports[p].devargs, sizeof(gw.conf.ports[p].devargs), "net_ring_%s", name);
	return 0;
}

static struct mg_peer *make_peer(uint32_t slot, uint8_t seed, const char *ep, const char *ip1,
                                 const char *ip2)
{
	struct mg_peer *peer = aligned_alloc(64, sizeof(*peer)); /* its send state is a line */
	if (peer)
		memset(peer, 0, sizeof(*peer));
	for (unsigned i = 0; i < WG_KEY_LEN; i++)
		peer->remote.remote_static[i] = (uint8_t)(seed + i);
	peer->slot = slot;
	if (ep) {
		struct mg_sockaddr a;
		CHECK(mg_sockaddr_parse(ep, &a) == 0);
		mg_endpoint_write(&peer->endpoint, &a);
	}
	peer->allowed_ips = calloc(2, sizeof(struct mg_prefix));
	CHECK(mg_prefix_parse(ip1, &peer->allowed_ips[peer->n_allowed_ips++]) == 0);
	if (ip2)
		CHECK(mg_prefix_parse(ip2, &peer->allowed_ips[peer->n_allowed_ips++]) == 0);
	atomic_store(&slots[slot], peer);
	return peer;
}

static void setup_gateway(void)
{
	gw.peers = slots;
	gw.max_peers = NSLOTS;
	gw.listen_port = 51820;
	gw.tsc_hz = 2000000000ull;
	gw.n_workers = NWORKERS;
	for (unsigned w = 0; w < NWORKERS; w++) {
		struct mg_worker_counters *c = &workers[w].counters;
		workers[w].id = w;
		workers[w].lcore = 3 + w;
		gw.workers[w] = &workers[w];
		gw.peer_counters[w] = rows[w];
		c->rx_packets[MG_PORT_LAN] = 100 + w;
		c->rx_packets[MG_PORT_MESH] = 200 + w;
		c->rx_bytes[MG_PORT_LAN] = 10000 + w;
		c->rx_bytes[MG_PORT_MESH] = 20000 + w;
		c->tx_packets[MG_PORT_LAN] = 190 + w;
		c->tx_packets[MG_PORT_MESH] = 95 + w;
		c->tx_bytes[MG_PORT_LAN] = 19000 + w;
		c->tx_bytes[MG_PORT_MESH] = 9500 + w;
		c->encrypted = 95;
		c->decrypted = 190;
		c->punted = 7;
		c->drops[MG_DROP_NO_ROUTE] = 3 + w;
		c->drops[MG_DROP_AUTH] = 5;
		c->polls = 1000;
		c->empty_polls = 400 + 200 * w;
		c->busy_cycles = 500000000ull * (w + 1);
		c->total_cycles = 4000000000ull;
		for (uint32_t s = 0; s < NSLOTS; s++)
			rows[w][s] = (struct mg_peer_counters){.rx_bytes = 1000 * (s + 1) + w,
			                                       .tx_bytes = 2000 * (s + 1) + w,
			                                       .rx_packets = 10 * (s + 1),
			                                       .tx_packets = 20 * (s + 1),
			                                       .drops = s};
	}
	ctl_rows[0].tx_bytes = 148; /* an initiation sent by the control thread */
	ctl_rows[0].rx_bytes = 92;  /* and its response */
	struct mg_peer *p0 = make_peer(0, 1, "192.0.2.7:51820", "100.64.0.2/32", "10.2.0.0/16");
	p0->last_handshake_realtime_ns = 1700000000ull * 1000000000ull;
	p0->persistent_keepalive = 25;
	make_peer(2, 77, NULL, "fd7a:115c::3/128", NULL);
	make_peer(3, 99, "[2001:db8::9]:4500", "100.64.0.9/32", NULL);
}

static const struct mg_status_peer *find(const struct mg_status *st, uint8_t seed)
{
	uint8_t key[WG_KEY_LEN];
	char b64[WG_KEY_B64_SIZE];
	for (unsigned i = 0; i < WG_KEY_LEN; i++)
		key[i] = (uint8_t)(seed + i);
	wg_key_to_base64(b64, key);
	for (size_t i = 0; i < st->n_peers; i++)
		if (strcmp(st->peers[i].public_key, b64) == 0)
			return &st->peers[i];
	return NULL;
}

static void test_collect(void)
{
	struct mg_status st;
	struct mg_status_sources src = {
	    .version = "9.9.9", .ifname = ifname, .coordinator_url = coord_url, .start_unix_ns = 1};
	mg_status_init(&st);
	CHECK(mg_status_collect(&gw, &src, &st) == 0);
	CHECK(strcmp(st.version, "9.9.9") == 0 && strcmp(st.ifname, "mgtest0") == 0);
	CHECK(st.listen_port == 51820 && st.uptime_seconds > 1e9, "uptime %f", st.uptime_seconds);
	CHECK(st.coord.state == MG_COORD_STANDALONE);
	CHECK(strcmp(st.log_level, mg_log_level_name(mg_log_get_level())) == 0);

	/* Ports: the PMD's link, the workers' sums, the pool counted once. */
	CHECK(st.n_ports == 2);
	for (unsigned p = 0; p < 2; p++) {
		CHECK(st.ports[p].link_up, "ring port %u up after start", p);
		CHECK(st.ports[p].speed_mbps == RTE_ETH_SPEED_NUM_10G, "%u",
		      st.ports[p].speed_mbps);
		CHECK(st.ports[p].port_id == gw.ports[p].port_id);
	}
	CHECK(st.ports[MG_PORT_LAN].rx_packets == 201 && st.ports[MG_PORT_MESH].rx_packets == 401);
	CHECK(st.ports[MG_PORT_LAN].tx_bytes == 38001 && st.ports[MG_PORT_MESH].rx_bytes == 40001);
	CHECK(strcmp(st.ports[1].name, "mesh") == 0);
	CHECK(st.ports[0].mbufs_total == pool->size && st.ports[1].mbufs_total == 0,
	      "a shared pool counted once");
	CHECK(strncmp(st.ports[0].devargs, "net_ring_sc_ring0", 17) == 0);

	/* Workers: sums over ports, ratios, busy time at the TSC rate. */
	CHECK(st.n_workers == 2);
	CHECK(st.workers[1].rx_packets == 101 + 201 && st.workers[1].tx_packets == 191 + 96);
	CHECK(st.workers[0].load == 0.125 && st.workers[1].load == 0.25);
	CHECK(st.workers[0].idle_ratio == 0.4 && st.workers[1].idle_ratio == 0.6);
	CHECK(st.workers[1].busy_seconds == 0.5 && st.workers[1].lcore == 4);
	CHECK(st.workers[0].drops == 8 && st.workers[1].drops == 9);

	/* Drops: every reason present, summed over workers. */
	CHECK(st.n_drop_reasons == MG_DROP_REASON_COUNT);
	uint64_t total = 0;
	for (unsigned i = 0; i < st.n_drop_reasons; i++) {
		CHECK(strcmp(st.drop_names[i], mg_drop_reason_name((enum mg_drop_reason)i)) == 0);
		total += st.drops[i];
	}
	CHECK(st.drops[MG_DROP_NO_ROUTE] == 7 && st.drops[MG_DROP_AUTH] == 10 && total == 17);

	/* Peers: the free slot skipped; counters summed over workers and the control thread. */
	CHECK(st.n_peers == 3);
	const struct mg_status_peer *a = find(&st, 1), *b = find(&st, 77), *c = find(&st, 99);
	CHECK(a && b && c);
	if (a && b && c) {
		CHECK(strcmp(a->endpoint, "192.0.2.7:51820") == 0);
		CHECK(b->endpoint[0] == '\0');
		CHECK(strcmp(c->endpoint, "[2001:db8::9]:4500") == 0);
		CHECK(a->rx_bytes == 2001 + 0 && a->tx_bytes == 4001, "no ctl rows given yet");
		CHECK(c->rx_bytes == 8001 && c->rx_packets == 80 && c->drops == 6);
		CHECK(a->last_handshake_unix_ns == 1700000000ull * 1000000000ull);
		CHECK(a->persistent_keepalive == 25 && a->n_allowed_ips == 2 &&
		      b->n_allowed_ips == 1);
		char buf[MG_PREFIX_STRLEN];
		mg_prefix_format(&b->allowed_ips[0], buf, sizeof(buf));
		CHECK(strcmp(buf, "fd7a:115c::3/128") == 0, "%s", buf);
	}
	mg_status_free(&st);

	/* The control thread's rows, slot_high and the coordinator state. */
	struct mg_status_coord coord = {.state = MG_COORD_RETRYING, .last_seq = 17};
	snprintf(coord.error, sizeof(coord.error), "connection refused");
	src.ctl_counters = ctl_rows;
	src.slot_high = 3;
	src.coord = &coord;
	mg_status_init(&st);
	CHECK(mg_status_collect(&gw, &src, &st) == 0);
	CHECK(st.n_peers == 2, "slots from slot_high on are not scanned");
	a = find(&st, 1);
	CHECK(a && a->rx_bytes == 2001 + 92 && a->tx_bytes == 4001 + 148);
	CHECK(st.coord.state == MG_COORD_RETRYING && st.coord.last_seq == 17);
	CHECK(strcmp(st.coord.error, "connection refused") == 0);

	/* Both renderings carry the same sums. */
	json_t *pj = mg_status_peers_json(&st);
	char *prom = mg_status_prometheus(&st, NULL);
	char line[200];
	snprintf(line, sizeof(line),
	         "meshgate_peer_transmitted_bytes_total{peer=\"%s\"} %" PRIu64 "\n",
	         a ? a->public_key : "", a ? a->tx_bytes : 0);
	CHECK(prom && strstr(prom, line), "%s", line);
	CHECK(json_integer_value(json_object_get(json_array_get(json_object_get(pj, "peers"), 0),
	                                         "tx_bytes")) == 4149);
	CHECK(prom && strstr(prom, "meshgate_dropped_packets_total{reason=\"no_route\"} 7\n"));
	CHECK(prom && strstr(prom, "meshgate_port_link_up{port=\"lan\"} 1\n"));
	CHECK(prom && strstr(prom, "meshgate_coordinator_state{state=\"retrying\"} 1\n"));
	free(prom);
	json_decref(pj);
	mg_status_free(&st);

	coord_url[0] = 'h';
	src.coord = NULL;
	mg_status_init(&st);
	CHECK(mg_status_collect(&gw, &src, &st) == 0 && st.coord.state == MG_COORD_CONNECTING,
	      "a coordinator configured but not reporting yet");
	mg_status_free(&st);
	coord_url[0] = '\0';
}

static void test_memory_and_link(void)
{
	struct mg_status st;
	struct mg_status_sources src = {
	    .version = "x", .ifname = ifname, .coordinator_url = coord_url};
	mg_status_init(&st);
	CHECK(mg_status_collect(&gw, &src, &st) == 0);
	uint64_t in_use = st.ports[0].mbufs_in_use, heap = st.heap_allocated_bytes;
	CHECK(st.rss_bytes > 1 << 20, "rss %" PRIu64, st.rss_bytes);
	mg_status_free(&st);

	struct rte_mbuf *m[10];
	CHECK(rte_pktmbuf_alloc_bulk(pool, m, 10) == 0);
	void *block = rte_malloc("sc", 4 << 20, 0);
	CHECK(block != NULL);
	mg_status_init(&st);
	CHECK(mg_status_collect(&gw, &src, &st) == 0);
	CHECK(st.ports[0].mbufs_in_use == in_use + 10, "%" PRIu64 " -> %" PRIu64, in_use,
	      st.ports[0].mbufs_in_use);
	CHECK(st.heap_allocated_bytes >= heap + (4 << 20), "%" PRIu64 " -> %" PRIu64, heap,
	      st.heap_allocated_bytes);
	CHECK(st.heap_free_bytes > 0);
	mg_status_free(&st);
	rte_pktmbuf_free_bulk(m, 10);
	rte_free(block);

	CHECK(rte_eth_dev_stop(gw.ports[MG_PORT_MESH].port_id) == 0);
	mg_status_init(&st);
	CHECK(mg_status_collect(&gw, &src, &st) == 0);
	CHECK(st.ports[MG_PORT_LAN].link_up && !st.ports[MG_PORT_MESH].link_up,
	      "link down after stop");
	json_t *j = mg_status_json(&st);
	CHECK(json_is_false(
	    json_object_get(json_array_get(json_object_get(j, "ports"), 1), "link_up")));
	CHECK(json_integer_value(json_object_get(json_object_get(j, "memory"), "mbufs_in_use")) ==
	      (json_int_t)in_use);
	json_decref(j);
	mg_status_free(&st);
}

int main(int argc, char **argv)
{
	(void)argc;
	if (eal_test_init(argv[0], 1, 128) != 0)
		return 1;
	/* No per-lcore cache: the in-use count is exact. */
	pool =
	    rte_pktmbuf_pool_create("sc_pool", 511, 0, 0, RTE_MBUF_DEFAULT_BUF_SIZE, SOCKET_ID_ANY);
	CHECK(pool != NULL);
	if (!pool || make_port(0) != 0 || make_port(1) != 0) {
		CHECK(0, "ring ports");
		return check_done("status_collect");
	}
	setup_gateway();
	test_collect();
	test_memory_and_link();
	for (unsigned p = 0; p < 2; p++) {
		rte_eth_dev_stop(gw.ports[p].port_id);
		rte_eth_dev_close(gw.ports[p].port_id);
		mg_ring_port_free(&ring[p]);
	}
	for (unsigned s = 0; s < NSLOTS; s++) {
		struct mg_peer *peer = atomic_load(&slots[s]);
		if (peer) {
			free(peer->allowed_ips);
			free(peer);
		}
	}
	rte_mempool_free(pool);
	eal_test_cleanup();
	return check_done("status_collect");
}
