// SPDX-License-Identifier: GPL-2.0-only
#include "control_harness.h"

#include <endian.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <rte_eth_ring.h>
#include <rte_ethdev.h>
#include <rte_ip.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>
#include <rte_ring.h>

#include "check.h"
#include "crypto.h"
#include "eal_test_env.h"
#include "handshake_lcores.h"
#include "neigh.h"
#include "punt.h"
#include "ring_gateway.h"
#include "tai64n.h"
#include "transport.h"

#define RING_SIZE 4096
#define NTXQ      2 /* the worker's and the control thread's */
#define EAL_MB    512

struct harness H;

const uint8_t h_lan4[4] = {192, 168, 1, 1}, h_mesh4[4] = {10, 0, 0, 1};
const uint8_t h_host4[4] = {192, 168, 1, 10};
struct rte_ether_addr h_lan_mac, h_mesh_mac;
const struct rte_ether_addr h_host_mac = {{2, 0, 0, 0, 1, 0x10}};

static struct mg_ring_port ring[MG_PORT_COUNT];
static struct mg_control_test_hooks hooks;

/* ---- clocks ---- */

static uint64_t clock_now(void *ctx)
{
	(void)ctx;
	return H.now;
}

/* Handshake timestamps from the injected clock: every initiation sent at a later instant is
 * newer, which is all a receiver checks. */
static void clock_tai64n(void *ctx, uint8_t out[WG_TIMESTAMP_LEN])
{
	(void)ctx;
	wg_tai64n_encode(out, 1700000000ull + H.now / WG_NSEC_PER_SEC,
	                 (uint32_t)(H.now % WG_NSEC_PER_SEC));
}

/* ---- the wire ---- */

static void collect(void)
{
	struct rte_mbuf *m[64];
	for (unsigned p = 0; p < MG_PORT_COUNT; p++)
		for (unsigned q = 0; q < NTXQ; q++) {
			unsigned n;
			while ((n = rte_ring_dequeue_burst(ring[p].tx[q], (void **)m, 64, NULL))) {
				for (unsigned i = 0; i < n; i++) {
					if (H.n_wire == H_WIRE_MAX || m[i]->pkt_len > H_FRAME_MAX) {
						H.wire_lost++;
						continue;
					}
					struct frame *f = &H.wire[H.n_wire++];
					f->at = H.now;
					f->port = (uint8_t)p;
					f->len = (uint16_t)m[i]->pkt_len;
					const void *d = rte_pktmbuf_read(m[i], 0, f->len, f->b);
					if (d != f->b)
						memcpy(f->b, d, f->len);
				}
				rte_pktmbuf_free_bulk(m, n);
			}
		}
}

unsigned h_hs_lcores;
bool h_hs_threads;
static pthread_t hs_thread[MG_MAX_HS_LCORES];

/* Threads: until every handshake lcore's ring is empty and it has finished a pass since (so
 * what it took is handled). Otherwise: one pass of each here. */
static unsigned hs_step(void)
{
	unsigned work = 0;
	for (unsigned i = 0; i < H.ctl->n_hs_lcores; i++) {
		struct mg_hs_lcore *hs = H.ctl->hs_lcores[i];
		if (!h_hs_threads) {
			work += mg_hs_lcore_poll(hs);
			continue;
		}
		while (rte_ring_count(H.ctl->gw.hs_rings[i]) != 0)
			sched_yield();
		uint64_t p = atomic_load_explicit(&hs->passes, memory_order_acquire);
		while (atomic_load_explicit(&hs->passes, memory_order_acquire) < p + 2)
			sched_yield();
	}
	return work;
}

void h_pump(void)
{
	for (int i = 0; i < 64; i++) {
		mg_worker_flush(H.w);
		unsigned work = hs_step();
		work += mg_control_poll(H.ctl, H.now);
		collect();
		if (!work && rte_ring_count(H.ctl->gw.punt_ring) == 0 &&
		    rte_ring_count(H.ctl->gw.event_ring) == 0)
			break;
	}
}

void h_step(uint64_t ns)
{
	H.now += ns;
	h_pump();
}

void h_run(uint64_t total, uint64_t step)
{
	h_run_until(H.now + total, step);
}

void h_run_until(uint64_t at, uint64_t step)
{
	while (H.now < at)
		h_step(at - H.now < step ? at - H.now : step);
}

struct rte_mbuf *h_mbuf(int port, const uint8_t *bytes, size_t len)
{
	struct rte_mbuf *m = rte_pktmbuf_alloc(H.ctl->gw.ports[port].pool);
	uint8_t *d = m ? (uint8_t *)rte_pktmbuf_append(m, (uint16_t)len) : NULL;
	if (!d) {
		fprintf(stderr, "test_control: out of mbufs\n");
		exit(1);
	}
	memcpy(d, bytes, len);
	m->port = H.ctl->gw.ports[port].port_id;
	return m;
}

void h_rx(struct rte_mbuf **m, unsigned n)
{
	mg_worker_clock(H.w);
	mg_worker_rx_burst(H.w, m, n);
	mg_worker_flush(H.w);
}

void h_inject(int port, const uint8_t *bytes, size_t len)
{
	struct rte_mbuf *m = h_mbuf(port, bytes, len);
	h_rx(&m, 1);
	h_pump();
}

void h_punt(struct rte_mbuf *m, int kind, uint16_t l3_offset, const struct mg_sockaddr *src)
{
	struct mg_punt_meta *meta = mg_punt_meta(m);
	memset(meta, 0, sizeof(*meta));
	meta->kind = (uint8_t)kind;
	meta->port = MG_PORT_MESH;
	meta->l3_offset = l3_offset;
	meta->peer_slot = MG_PUNT_NO_PEER;
	if (src)
		meta->src = *src;
	meta->rx_ns = H.now;
	if (rte_ring_enqueue(H.ctl->gw.punt_ring, m) != 0)
		rte_pktmbuf_free(m);
}

/* ---- frames ---- */

static void be16(uint8_t *p, size_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static size_t put_eth(uint8_t *p, const struct rte_ether_addr *dst,
                      const struct rte_ether_addr *src)
{
	memcpy(p, dst, 6);
	memcpy(p + 6, src, 6);
	be16(p + 12, 0x0800);
	return 14;
}

static void ip4_cksum(uint8_t *ip)
{
	struct rte_ipv4_hdr *h = (struct rte_ipv4_hdr *)ip;
	h->hdr_checksum = 0;
	h->hdr_checksum = rte_ipv4_cksum(h);
}

bool h_udp4(const struct frame *f, struct udp_view *v)
{
	const uint8_t *ip = f->b + 14;
	if (f->len < 14 + 28 || rd16(f->b + 12) != 0x0800 || ip[0] != 0x45 || ip[9] != 17)
		return false;
	size_t total = rd16(ip + 2);
	if (total + 14 > f->len || total < 28 ||
	    rte_ipv4_cksum((const struct rte_ipv4_hdr *)ip) != 0)
		return false;
	const uint8_t *udp = ip + 20;
	if (rd16(udp + 4) != total - 20)
		return false;
	/* 0 means "no checksum" in IPv4; anything else must verify. */
	if (rd16(udp + 6) != 0 &&
	    rte_ipv4_udptcp_cksum_verify((const struct rte_ipv4_hdr *)ip, udp) != 0)
		return false;
	v->eth = f->b;
	memcpy(v->src, ip + 12, 4);
	memcpy(v->dst, ip + 16, 4);
	v->ttl = ip[8];
	v->sport = rd16(udp);
	v->dport = rd16(udp + 2);
	v->payload = udp + 8;
	v->len = (uint16_t)(total - 28);
	return true;
}

static int msg_type(const struct udp_view *v)
{
	return (int)wg_transport_classify(v->payload, v->len);
}

unsigned h_find(unsigned from, const struct far *x, int type, unsigned *idx, unsigned max)
{
	unsigned n = 0;
	for (unsigned i = from; i < H.n_wire; i++) {
		struct udp_view v;
		if (H.wire[i].port != MG_PORT_MESH || !h_udp4(&H.wire[i], &v) ||
		    memcmp(v.dst, x->ep, 4) != 0 || v.dport != x->port ||
		    (type && msg_type(&v) != type))
			continue;
		if (n < max)
			idx[n] = i;
		n++;
	}
	return n;
}

unsigned h_count_mesh(unsigned from, int type)
{
	unsigned n = 0;
	for (unsigned i = from; i < H.n_wire; i++) {
		struct udp_view v;
		if (H.wire[i].port == MG_PORT_MESH &&
		    (!type || (h_udp4(&H.wire[i], &v) && msg_type(&v) == type)))
			n++;
	}
	return n;
}

unsigned h_count_lan(unsigned from)
{
	unsigned n = 0;
	for (unsigned i = from; i < H.n_wire; i++)
		n += H.wire[i].port == MG_PORT_LAN;
	return n;
}

size_t h_inner(uint8_t *p, const uint8_t *src, const uint8_t *dst, uint32_t seq, uint8_t ttl)
{
	size_t total = 40 + (seq * 37) % 600;
	memset(p, 0, 20);
	p[0] = 0x45;
	be16(p + 2, total);
	p[8] = ttl;
	p[9] = 253;
	memcpy(p + 12, src, 4);
	memcpy(p + 16, dst, 4);
	ip4_cksum(p);
	memcpy(p + 20, &seq, 4);
	for (size_t i = 24; i < total; i++)
		p[i] = (uint8_t)(i * 7 + seq);
	return total;
}

bool h_inner_parse(const uint8_t *p, size_t len, uint8_t *src, uint8_t *dst, uint32_t *seq,
                   uint8_t *ttl)
{
	if (len < 24 || p[0] != 0x45 || p[9] != 253 || rd16(p + 2) != len ||
	    rte_ipv4_cksum((const struct rte_ipv4_hdr *)p) != 0)
		return false;
	uint32_t s;
	memcpy(&s, p + 20, 4);
	for (size_t i = 24; i < len; i++)
		if (p[i] != (uint8_t)(i * 7 + s))
			return false;
	if (len != 40 + (s * 37) % 600)
		return false;
	memcpy(src, p + 12, 4);
	memcpy(dst, p + 16, 4);
	*seq = s;
	*ttl = p[8];
	return true;
}

size_t h_mesh_frame(uint8_t *out, const struct far *x, const uint8_t src[4], uint16_t sport,
                    const void *msg, size_t len)
{
	size_t o = put_eth(out, &h_mesh_mac, &x->mac);
	uint8_t *ip = out + o, *udp = ip + 20;
	memset(ip, 0, 28);
	ip[0] = 0x45;
	be16(ip + 2, len + 28);
	ip[8] = 64;
	ip[9] = 17;
	memcpy(ip + 12, src, 4);
	memcpy(ip + 16, h_mesh4, 4);
	ip4_cksum(ip);
	be16(udp, sport);
	be16(udp + 2, H_LISTEN);
	be16(udp + 4, len + 8);
	memcpy(udp + 8, msg, len);
	return o + 28 + len;
}

size_t h_lan_frame(uint8_t *out, const uint8_t dst[4], uint32_t seq)
{
	size_t o = put_eth(out, &h_lan_mac, &h_host_mac);
	return o + h_inner(out + o, h_host4, dst, seq, 64);
}

void h_lan_send(const uint8_t dst[4], uint32_t seq)
{
	uint8_t f[H_FRAME_MAX];
	h_inject(MG_PORT_LAN, f, h_lan_frame(f, dst, seq));
}

/* ---- far peers ---- */

void far_initiation(struct far *x, struct wg_msg_initiation *msg)
{
	CHECK(fake_host_initiation(&x->host, x->remote, msg) == WG_OK, "%s: initiation", x->name);
}

void far_send(struct far *x, const void *msg, size_t len)
{
	uint8_t f[H_FRAME_MAX];
	h_inject(MG_PORT_MESH, f, h_mesh_frame(f, x, x->ep, x->port, msg, len));
}

static bool far_seal(struct far *x, const uint8_t *plain, size_t len)
{
	uint8_t msg[H_FRAME_MAX];
	size_t ml = 0;
	if (fake_host_seal(&x->host, x->remote, plain, len, H_MTU, msg, sizeof(msg), &ml) != WG_OK)
		return false;
	far_send(x, msg, ml);
	return true;
}

bool far_send_data(struct far *x, uint32_t seq)
{
	uint8_t inner[H_FRAME_MAX];
	return far_seal(x, inner, h_inner(inner, x->inner, h_host4, seq, 64));
}

bool far_send_keepalive(struct far *x)
{
	return far_seal(x, NULL, 0);
}

int far_open(struct far *x, const uint8_t *msg, size_t len, uint8_t *plain, size_t *inner_len,
             uint64_t *counter)
{
	size_t pl = 0;
	enum wg_result r = fake_host_open(&x->host, msg, len, plain, &pl, NULL);
	if (r != WG_OK && r != WG_OK_REKEY)
		return r;
	if (counter)
		*counter = le64toh(((const struct wg_msg_data *)msg)->counter);
	if (wg_transport_inner_len(plain, pl, inner_len) != WG_OK)
		return WG_ERR_INVALID;
	return WG_OK;
}

bool far_build_response(struct far *x, unsigned from, struct wg_msg_response *resp)
{
	unsigned idx[64];
	unsigned n = h_find(from, x, WG_MSG_HANDSHAKE_INITIATION, idx, 64);
	struct udp_view v;
	struct wg_noise_remote *got = NULL;
	if (n == 0 || n > 64 || !h_udp4(&H.wire[idx[n - 1]], &v))
		return false;
	return fake_host_respond(&x->host, v.payload, v.len, resp, &got) == WG_OK &&
	       got == x->remote;
}

bool far_answer_initiation(struct far *x, unsigned from)
{
	struct wg_msg_response resp;
	if (!far_build_response(x, from, &resp))
		return false;
	far_send(x, &resp, sizeof(resp));
	return true;
}

bool far_take_response(struct far *x, unsigned from)
{
	unsigned idx[8];
	unsigned n = h_find(from, x, WG_MSG_HANDSHAKE_RESPONSE, idx, 8);
	struct udp_view v;
	struct wg_noise_remote *got = NULL;
	if (n == 0 || n > 8 || !h_udp4(&H.wire[idx[n - 1]], &v))
		return false;
	return fake_host_take_response(&x->host, v.payload, v.len, &got) == WG_OK &&
	       got == x->remote;
}

bool far_handshake(struct far *x, uint32_t seq)
{
	struct wg_msg_initiation init;
	h_run(25 * H_MS, H_MS);
	unsigned mark = H.n_wire;
	far_initiation(x, &init);
	far_send(x, &init, sizeof(init));
	if (!far_take_response(x, mark))
		return false;
	unsigned lan = H.n_wire;
	struct mg_peer *peer = h_peer(x);
	if (!far_send_data(x, seq) || h_count_lan(lan) != 1 || !peer)
		return false;
	return wg_noise_keypair_current(&peer->remote) != NULL &&
	       wg_noise_keypair_next(&peer->remote) == NULL;
}

void far_learn_gateway_key(struct far *x, const uint8_t pub[WG_KEY_LEN])
{
	fake_host_relearn(&x->host, x->remote, pub);
}

static int far_init(struct far *x, unsigned i, const uint8_t gw_pub[WG_KEY_LEN])
{
	static const char *const names[FAR_COUNT] = {"A", "B", "C", "D", "E"};

	x->name = names[i];
	x->ep[0] = 10;
	x->ep[3] = (uint8_t)(2 + i);
	x->port = (uint16_t)(H_LISTEN + 1 + i);
	x->mac = (struct rte_ether_addr){{2, 0, 0, 0, 2, (uint8_t)(0x10 + i)}};
	x->prefix = (struct mg_prefix){.family = 4, .len = 24, .addr = {172, 16, (uint8_t)(1 + i)}};
	memcpy(x->inner, x->prefix.addr, 4);
	x->inner[3] = 5;
	if (fake_host_init(&x->host, x->name, 100 + i) != WG_OK)
		return -1;
	x->host.clock = &H.now;
	if (fake_host_add(&x->host, gw_pub, &x->remote) != WG_OK)
		return -1;
	x->maker = fake_host_maker(&x->host, x->remote);
	return 0;
}

static void far_fini(struct far *x)
{
	if (x->host.table)
		fake_host_destroy(&x->host);
}

/* ---- the gateway ---- */

struct mg_peer *h_peer(const struct far *x)
{
	return mg_device_find(H.ctl, x->host.local.static_public);
}

int h_peer_config(const struct far *x, struct mg_peer_config *pc)
{
	memset(pc, 0, sizeof(*pc));
	memcpy(pc->public_key, x->host.local.static_public, WG_KEY_LEN);
	pc->endpoint = (struct mg_sockaddr){.family = 4, .port = x->port};
	memcpy(pc->endpoint.addr, x->ep, 4);
	pc->allowed_ips = malloc(sizeof(*pc->allowed_ips));
	if (!pc->allowed_ips)
		return -1;
	pc->allowed_ips[0] = x->prefix;
	pc->n_allowed_ips = 1;
	return 0;
}

void h_neigh_refresh(void)
{
	struct mg_gateway *gw = &H.ctl->gw;
	for (unsigned i = 0; i < FAR_COUNT; i++)
		mg_neigh_update(gw->neigh, MG_PORT_MESH, 4, H.far[i].ep, &H.far[i].mac, H.now);
	mg_neigh_update(gw->neigh, MG_PORT_LAN, 4, h_host4, &h_host_mac, H.now);
}

/* The ring PMD cannot change its MAC: the gateway reads whatever it has. */
static int make_port(enum mg_port_id p, const char *name)
{
	return mg_ring_port_create(&ring[p], name, NTXQ, RING_SIZE);
}

static void set_prefix(struct mg_prefix *p, const uint8_t a[4], uint8_t len)
{
	*p = (struct mg_prefix){.family = 4, .len = len};
	memcpy(p->addr, a, 4);
}

void (*h_config_hook)(struct mg_config *cfg);

static int build_config(struct mg_config *cfg, const uint8_t priv[WG_KEY_LEN])
{
	memset(cfg, 0, sizeof(*cfg));
	snprintf(cfg->ifname, sizeof(cfg->ifname), "mgctl0");
	memcpy(cfg->private_key, priv, WG_KEY_LEN);
	cfg->listen_port = H_LISTEN;
	cfg->mtu = H_MTU;
	set_prefix(&cfg->addresses[0], (const uint8_t[]){100, 64, 0, 1}, 32);
	cfg->n_addresses = 1;
	/* Ring ports made by the test: "net_ring_" + the name given to rte_eth_from_rings. */
	snprintf(cfg->ports[MG_PORT_LAN].devargs, MG_PATH_MAX, "net_ring_mgc_lan");
	snprintf(cfg->ports[MG_PORT_MESH].devargs, MG_PATH_MAX, "net_ring_mgc_mesh");
	set_prefix(&cfg->ports[MG_PORT_LAN].ipv4, h_lan4, 24);
	set_prefix(&cfg->ports[MG_PORT_MESH].ipv4, h_mesh4, 24);
	cfg->ports[MG_PORT_LAN].has_ipv4 = cfg->ports[MG_PORT_MESH].has_ipv4 = true;
	cfg->control_lcore = rte_get_main_lcore();
	cfg->worker_lcores[0] = rte_get_next_lcore(cfg->control_lcore, 1, 0);
	cfg->n_workers = 1;
	for (unsigned i = 0; i < h_hs_lcores; i++)
		cfg->handshake_lcores[i] = rte_get_next_lcore(
		    i ? cfg->handshake_lcores[i - 1] : cfg->worker_lcores[0], 1, 0);
	cfg->n_handshake_lcores = h_hs_lcores;
	/* Threads that wait for work sleep instead of spinning on a shared machine. */
	cfg->idle_backoff = h_hs_lcores > 0;
	cfg->idle_max_sleep_us = 100;
	cfg->max_peers = 16;
	cfg->max_prefixes = 256;
	snprintf(cfg->uapi_dir, sizeof(cfg->uapi_dir), "%s", H.uapi_dir);
	snprintf(cfg->log_level, sizeof(cfg->log_level), "warning");
	cfg->test_timer_divisor = H_DIVISOR;
	cfg->peers = calloc(FAR_CONFIGURED, sizeof(*cfg->peers));
	if (!cfg->peers)
		return -1;
	for (unsigned i = 0; i < FAR_CONFIGURED; i++) {
		if (h_peer_config(&H.far[i], &cfg->peers[i]) != 0)
			return -1;
		cfg->n_peers++;
	}
	if (h_config_hook)
		h_config_hook(cfg);
	return 0;
}

static void *hs_thread_main(void *arg)
{
	mg_hs_lcore_main(arg);
	return NULL;
}

int h_setup(const char *prog)
{
	static uint64_t key_rng = 7;
	uint8_t priv[WG_KEY_LEN], pub[WG_KEY_LEN];
	struct mg_config cfg;
	char err[512];
	int rc = -1;

	H.now = 1000 * WG_NSEC_PER_SEC;
	H.wire = calloc(H_WIRE_MAX, sizeof(*H.wire));
	snprintf(H.uapi_dir, sizeof(H.uapi_dir), "/tmp/mgtest-ctl-XXXXXX");
	if (!H.wire || !mkdtemp(H.uapi_dir)) {
		fprintf(stderr, "test_control: no memory or temporary directory\n");
		H.uapi_dir[0] = '\0';
		return -1;
	}
	if (eal_test_init(prog, 2 + h_hs_lcores, EAL_MB) != 0)
		return -1;
	if (make_port(MG_PORT_LAN, "mgc_lan") != 0 || make_port(MG_PORT_MESH, "mgc_mesh") != 0) {
		fprintf(stderr, "test_control: cannot create the ring ports\n");
		return -1;
	}
	test_rng(&key_rng, priv, sizeof(priv));
	if (wg_crypto_init() != WG_OK || wg_x25519_public(pub, priv) != WG_OK)
		goto out;
	for (unsigned i = 0; i < FAR_COUNT; i++)
		if (far_init(&H.far[i], i, pub) != 0)
			goto out;
	if (build_config(&cfg, priv) != 0) {
		mg_config_free(&cfg);
		goto out;
	}
	hooks = (struct mg_control_test_hooks){
	    .now = clock_now,
	    .tai64n = clock_tai64n,
	    .eal_ready = true,
	    .no_launch = true,
	};
	H.ctl = calloc(1, sizeof(*H.ctl));
	if (!H.ctl) {
		mg_config_free(&cfg);
		goto out;
	}
	H.ctl->test = &hooks;
	if (mg_control_up(H.ctl, &cfg, prog, err, sizeof(err)) != 0) {
		fprintf(stderr, "test_control: mg_control_up: %s\n", err);
		goto out;
	}
	H.w = H.ctl->gw.workers[0];
	for (unsigned i = 0; h_hs_threads && i < H.ctl->n_hs_lcores; i++) {
		if (pthread_create(&hs_thread[i], NULL, hs_thread_main, H.ctl->hs_lcores[i]) != 0) {
			fprintf(stderr, "test_control: cannot start a handshake thread\n");
			goto out;
		}
		H.ctl->hs_launched = true;
	}
	h_lan_mac = H.ctl->gw.ports[MG_PORT_LAN].mac;
	h_mesh_mac = H.ctl->gw.ports[MG_PORT_MESH].mac;
	h_neigh_refresh();
	rc = 0;
out:
	wg_memzero(priv, sizeof(priv));
	return rc;
}

void h_teardown(void)
{
	if (H.ctl && H.ctl->hs_launched) {
		atomic_store(&H.ctl->gw.stop, true);
		for (unsigned i = 0; i < H.ctl->n_hs_lcores; i++)
			pthread_join(hs_thread[i], NULL);
		H.ctl->hs_launched = false;
	}
	if (H.ctl) {
		mg_control_down(H.ctl);
		free(H.ctl);
		H.ctl = NULL;
	}
	for (unsigned p = 0; p < MG_PORT_COUNT; p++)
		mg_ring_port_free(&ring[p]);
	for (unsigned i = 0; i < FAR_COUNT; i++)
		far_fini(&H.far[i]);
	free(H.wire);
	H.wire = NULL;
	if (H.uapi_dir[0])
		rmdir(H.uapi_dir);
	eal_test_cleanup();
}
