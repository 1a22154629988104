// SPDX-License-Identifier: GPL-2.0-only
/*
 * STUN and disco on the gateway's WireGuard port, as one component: the real control thread
 * and worker over ring ports (control_harness.h), the STUN servers and disco peers played by
 * the test with the far peers' addresses and keys.
 *
 * (a) the worker tells STUN and disco from WireGuard and hands them over; anything else on the
 *     port is a counted drop, and a full ring is a counted drop;
 * (b) the STUN client: Binding requests leave from the mesh address and listen port to both
 *     servers each interval; answers give easy, hard and none; answers from elsewhere or for
 *     another transaction are refused and counted; a silent server gives unknown;
 * (c) the disco responder: a peer's ping gets a pong sealed to that peer carrying the ping's
 *     source; a forged ping, a replayed one and one from a stranger get nothing, each counted.
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "control_harness.h"
#include "disco.h"
#include "nat_gw.h"
#include "stun.h"
#include "wgport.h"

#define STUN_PORT 3478
#define SEC       (1000ull * H_MS)

static struct far *srv1, *srv2;

static void stun_config(struct mg_config *cfg)
{
	cfg->stun.enabled = true;
	cfg->stun.interval_s = 1;
	cfg->stun.n_servers = 2;
	for (unsigned i = 0; i < 2; i++) {
		const struct far *x = i ? srv2 : srv1;
		cfg->stun.servers[i] = (struct mg_sockaddr){.family = 4, .port = STUN_PORT};
		memcpy(cfg->stun.servers[i].addr, x->ep, 4);
	}
}

static uint64_t drops(enum mg_drop_reason r)
{
	return H.w->counters.drops[r];
}

/* The last Binding request to x's STUN port logged from index from on; its txid to txid. */
static bool find_request(unsigned from, const struct far *x, uint8_t txid[MG_STUN_TXID_LEN])
{
	bool found = false;
	for (unsigned i = from; i < H.n_wire; i++) {
		struct udp_view v;
		struct mg_stun_msg msg;
		if (!h_udp4(&H.wire[i], &v) || memcmp(v.dst, x->ep, 4) != 0 ||
		    v.dport != STUN_PORT || v.sport != H_LISTEN || memcmp(v.src, h_mesh4, 4) != 0)
			continue;
		if (mg_stun_parse(v.payload, v.len, &msg) != MG_STUN_OK ||
		    msg.type != MG_STUN_BINDING_REQUEST || !msg.has_fingerprint)
			continue;
		memcpy(txid, msg.txid, MG_STUN_TXID_LEN);
		found = true;
	}
	return found;
}

/* A Binding success carrying XOR-MAPPED-ADDRESS addr:port (IPv4). */
static size_t stun_success(uint8_t *b, const uint8_t txid[MG_STUN_TXID_LEN], const uint8_t addr[4],
                           uint16_t port)
{
	static const uint8_t cookie[4] = {0x21, 0x12, 0xA4, 0x42};
	memset(b, 0, 32);
	b[0] = 0x01, b[1] = 0x01, b[3] = 12;
	memcpy(b + 4, cookie, 4);
	memcpy(b + 8, txid, MG_STUN_TXID_LEN);
	b[21] = 0x20, b[23] = 8; /* XOR-MAPPED-ADDRESS, 8 bytes */
	b[25] = 0x01;
	b[26] = (uint8_t)((port >> 8) ^ 0x21);
	b[27] = (uint8_t)((port & 0xff) ^ 0x12);
	for (unsigned i = 0; i < 4; i++)
		b[28 + i] = addr[i] ^ cookie[i];
	return 32;
}

static void server_answers(struct far *x, const uint8_t txid[MG_STUN_TXID_LEN],
                           const uint8_t addr[4], uint16_t port)
{
	uint8_t msg[32], frame[H_FRAME_MAX];
	size_t n = stun_success(msg, txid, addr, port);
	h_inject(MG_PORT_MESH, frame, h_mesh_frame(frame, x, x->ep, STUN_PORT, msg, n));
}

/* One STUN round: waits for both requests, answers with the given mappings (NULL: silent),
 * and waits for the round to end. */
/* The first round whose requests were sent after wire frame mark, answered as given. */
static bool round_trip_from(unsigned mark, const uint8_t *a1, uint16_t p1, const uint8_t *a2,
                            uint16_t p2)
{
	uint8_t t1[MG_STUN_TXID_LEN], t2[MG_STUN_TXID_LEN];
	uint64_t rounds = H.ctl->nat->stun.rounds;
	for (unsigned i = 0;
	     i < 300 && !(find_request(mark, srv1, t1) && find_request(mark, srv2, t2)); i++)
		h_step(10 * H_MS);
	if (!find_request(mark, srv1, t1) || !find_request(mark, srv2, t2))
		return false;
	h_step(3 * H_MS);
	if (a1)
		server_answers(srv1, t1, a1, p1);
	if (a2)
		server_answers(srv2, t2, a2, p2);
	for (unsigned i = 0; i < 200 && H.ctl->nat->stun.rounds == rounds; i++)
		h_step(10 * H_MS);
	return H.ctl->nat->stun.rounds == rounds + 1;
}

static bool round_trip(const uint8_t *a1, uint16_t p1, const uint8_t *a2, uint16_t p2)
{
	return round_trip_from(H.n_wire, a1, p1, a2, p2);
}

static bool last_is(const char *nat, size_t n, const uint8_t *addr, uint16_t port)
{
	const struct mg_stun_gw_result *r = &H.ctl->nat->last;
	return r->valid && strcmp(r->nat, nat) == 0 && r->n_mapped == n &&
	       (n == 0 || (r->mapped[0].family == 4 && memcmp(r->mapped[0].addr, addr, 4) == 0 &&
	                   r->mapped[0].port == port));
}

static void test_stun(void)
{
	static const uint8_t pub[4] = {203, 0, 113, 7}, pub2[4] = {203, 0, 113, 8};
	struct mg_nat_gw *ng = H.ctl->nat;

	CHECK(round_trip(pub, 40000, pub, 40000) && last_is("easy", 1, pub, 40000),
	      "one mapping for both servers: easy (%s)", ng->last.nat);
	CHECK(ng->last.rtt_ms[0] >= 0 && ng->last.rtt_ms[1] >= 0, "both round trips measured");
	uint64_t changes = ng->stun.changes;
	CHECK(round_trip(pub, 40000, pub, 40000) && ng->stun.changes == changes,
	      "the same result again is no change");
	CHECK(round_trip(pub, 40000, pub2, 40001) && last_is("hard", 2, pub, 40000) &&
	          ng->stun.changes == changes + 1,
	      "two mappings: hard (%s)", ng->last.nat);
	CHECK(round_trip(h_mesh4, H_LISTEN, h_mesh4, H_LISTEN) &&
	          last_is("none", 1, h_mesh4, H_LISTEN),
	      "our own address and port: none (%s)", ng->last.nat);
	CHECK(round_trip(pub, 40000, NULL, 0) && last_is("unknown", 1, pub, 40000) &&
	          ng->last.rtt_ms[1] == -1,
	      "one silent server: unknown with the one mapping (%s)", ng->last.nat);

	/* An answer from another source, and one for another transaction: refused. */
	uint8_t t1[MG_STUN_TXID_LEN], t2[MG_STUN_TXID_LEN], bogus[MG_STUN_TXID_LEN] = {1, 2, 3};
	unsigned mark = H.n_wire;
	for (unsigned i = 0; i < 300 && !find_request(mark, srv2, t2); i++)
		h_step(10 * H_MS);
	CHECK(find_request(mark, srv1, t1) && find_request(mark, srv2, t2), "next round sent");
	uint64_t refused = ng->stun.refused, answers = ng->stun.answers;
	uint8_t msg[32], frame[H_FRAME_MAX];
	size_t n = stun_success(msg, t1, pub, 1);
	struct far *a = &H.far[FAR_A];
	h_inject(MG_PORT_MESH, frame, h_mesh_frame(frame, a, a->ep, STUN_PORT, msg, n));
	n = stun_success(msg, bogus, pub, 1);
	h_inject(MG_PORT_MESH, frame, h_mesh_frame(frame, srv1, srv1->ep, STUN_PORT, msg, n));
	CHECK(ng->stun.refused == refused + 2 && ng->stun.answers == answers,
	      "foreign source and foreign transaction refused (%llu)",
	      (unsigned long long)(ng->stun.refused - refused));
	server_answers(srv1, t1, pub, 40000);
	server_answers(srv2, t2, pub, 40000);
	h_step(10 * H_MS);
	CHECK(last_is("easy", 1, pub, 40000), "the real answers still count (%s)", ng->last.nat);
	CHECK(ng->stun.send_failed == 0, "no request failed to leave");

	/* What meshctl netcheck shows. */
	json_t *o = mg_nat_gw_json(H.ctl), *st = json_object_get(o, "stun");
	const char *ep = json_string_value(json_array_get(json_object_get(st, "endpoints"), 0));
	CHECK(o && json_is_true(json_object_get(st, "enabled")) &&
	          strcmp(json_string_value(json_object_get(st, "nat")), "easy") == 0 && ep &&
	          strcmp(ep, "203.0.113.7:40000") == 0 &&
	          json_array_size(json_object_get(st, "servers")) == 2 &&
	          json_is_integer(
	              json_object_get(json_array_get(json_object_get(st, "servers"), 0), "rtt_ms")),
	      "netcheck: nat, endpoint, both servers' round trips");
	json_decref(o);
}

static struct mg_netmap_relay map_relay(const char *name, const struct far *x, uint16_t stun)
{
	struct mg_netmap_relay r;
	memset(&r, 0, sizeof(r));
	snprintf(r.region, sizeof(r.region), "test");
	snprintf(r.name, sizeof(r.name), "%s", name);
	snprintf(r.host, sizeof(r.host), "%u.%u.%u.%u", x->ep[0], x->ep[1], x->ep[2], x->ep[3]);
	r.port = 443;
	r.stun_port = stun;
	return r;
}

/* Steps the control loop (and waits for the resolver's thread) until n servers are in use. */
static bool servers_become(size_t n)
{
	for (unsigned i = 0; i < 2000; i++) {
		h_step(H_MS);
		if (H.ctl->nat->cfg.n_servers == n && !H.ctl->nat->map->active)
			return true;
		nanosleep(&(struct timespec){.tv_nsec = 1000000}, NULL);
	}
	return false;
}

/* stun: without servers: the relay map's STUN servers (set up here as mg_nat_gw_start does for
 * such a section), the same rounds and verdicts, and none once the map has no STUN relay. */
static void test_stun_from_map(void)
{
	static const uint8_t pub[4] = {203, 0, 113, 9};
	struct mg_nat_gw *ng = H.ctl->nat;
	ng->map = malloc(sizeof(*ng->map));
	if (!ng->map) {
		CHECK(false, "no memory");
		return;
	}
	mg_stun_servers_init(ng->map, "", false);
	ng->cfg.from_map = true;
	ng->cfg.n_servers = 0;
	memset(ng->cfg.servers, 0, sizeof(ng->cfg.servers));

	struct mg_netmap_relay m[] = {map_relay("r1", srv2, STUN_PORT), map_relay("r0", srv1, 0),
	                              map_relay("r2", srv1, STUN_PORT)};
	unsigned mark = H.n_wire;
	mg_stun_gw_set_map(H.ctl, m, 3);
	CHECK(servers_become(2), "two servers from the map (%zu)", ng->cfg.n_servers);
	CHECK(memcmp(ng->cfg.servers[0].addr, srv2->ep, 4) == 0 &&
	          memcmp(ng->cfg.servers[1].addr, srv1->ep, 4) == 0 &&
	          ng->cfg.servers[0].port == STUN_PORT,
	      "in the map's order, the relay without STUN left out");
	/* The new servers void the round under way and start one at once. */
	CHECK(round_trip_from(mark, pub, 40002, pub, 40002) && last_is("easy", 1, pub, 40002),
	      "a round with the map's servers: easy (%s)", ng->last.nat);
	json_t *o = mg_nat_gw_json(H.ctl), *st = json_object_get(o, "stun");
	CHECK(strcmp(json_string_value(json_object_get(st, "servers_from")), "relay_map") == 0 &&
	          json_array_size(json_object_get(st, "servers")) == 2,
	      "netcheck: servers from the relay map");
	json_decref(o);

	/* No relay with STUN any more: no requests. */
	mg_stun_gw_set_map(H.ctl, &m[1], 1);
	CHECK(servers_become(0), "no servers (%zu)", ng->cfg.n_servers);
	uint8_t t[MG_STUN_TXID_LEN];
	mark = H.n_wire;
	h_run(3 * SEC, 10 * H_MS);
	CHECK(!find_request(mark, srv1, t) && !find_request(mark, srv2, t),
	      "no request without servers");
}

static void test_demux(void)
{
	struct far *a = &H.far[FAR_A];
	uint8_t msg[64], frame[H_FRAME_MAX];
	uint64_t invalid = drops(MG_DROP_WG_INVALID), full = drops(MG_DROP_WGPORT_FULL);
	uint64_t disco_rx = H.ctl->nat->disco.received, refused = H.ctl->nat->stun.refused;

	/* Neither WireGuard, nor STUN (length field off by 4), nor disco. */
	memset(msg, 0, sizeof(msg));
	msg[0] = 0x00, msg[1] = 0x01, msg[3] = 8;
	msg[4] = 0x21, msg[5] = 0x12, msg[6] = 0xA4, msg[7] = 0x42;
	h_inject(MG_PORT_MESH, frame, h_mesh_frame(frame, a, a->ep, a->port, msg, 32));
	memcpy(msg, "MGds", 4); /* one byte short of the magic */
	h_inject(MG_PORT_MESH, frame, h_mesh_frame(frame, a, a->ep, a->port, msg, 4));
	CHECK(drops(MG_DROP_WG_INVALID) == invalid + 2, "none of the three: dropped as wg_invalid");
	/* A Binding request: STUN, handed over, refused (we are no server). */
	msg[0] = 0x00, msg[1] = 0x01, msg[2] = 0x00, msg[3] = 12;
	h_inject(MG_PORT_MESH, frame, h_mesh_frame(frame, a, a->ep, a->port, msg, 32));
	CHECK(H.ctl->nat->stun.refused == refused + 1, "a STUN request reaches the control lcore");

	/* The ring is bounded: bursts past its size without the control lcore polling. */
	memcpy(msg, "MGdsc", 5);
	unsigned sent = 0;
	while (sent < MG_WGPORT_RING_SIZE + 100) {
		struct rte_mbuf *m[32];
		for (unsigned i = 0; i < 32; i++) {
			size_t n = h_mesh_frame(frame, a, a->ep, a->port, msg, 40);
			m[i] = h_mbuf(MG_PORT_MESH, frame, n);
		}
		h_rx(m, 32);
		sent += 32;
	}
	uint64_t lost = drops(MG_DROP_WGPORT_FULL) - full;
	h_pump();
	uint64_t got = H.ctl->nat->disco.received - disco_rx;
	CHECK(lost > 0 && got + lost == sent && got < MG_WGPORT_RING_SIZE + 1,
	      "a full ring drops and counts: %llu taken, %llu dropped of %u",
	      (unsigned long long)got, (unsigned long long)lost, sent);
}

/* Far x's disco identity, as the peer of the gateway. */
static void far_disco(const struct far *x, struct mg_disco_node *self, struct mg_disco_peer *gw)
{
	mg_disco_node_init(self, x->host.priv);
	self->max_skew_ms = MG_DISCO_DEFAULT_SKEW_MS;
	mg_disco_peer_init(gw, self, H.ctl->gw.local.static_public);
}

static size_t ping(struct mg_disco_node *self, struct mg_disco_peer *gw, uint8_t *out,
                   uint8_t txid[MG_DISCO_TXID_LEN])
{
	struct mg_disco_msg m = {.type = MG_DISCO_PING};
	mg_disco_new_txid(m.txid);
	memcpy(txid, m.txid, MG_DISCO_TXID_LEN);
	return mg_disco_seal(self, gw, &m, mg_wall_ns() / 1000000, out, MG_DISCO_MAX_LEN);
}

/* Disco messages from index from on to x's endpoint. */
static unsigned disco_to(unsigned from, const struct far *x, struct udp_view *last)
{
	unsigned n = 0;
	for (unsigned i = from; i < H.n_wire; i++) {
		struct udp_view v;
		if (h_udp4(&H.wire[i], &v) && memcmp(v.dst, x->ep, 4) == 0 && v.dport == x->port &&
		    v.sport == H_LISTEN && mg_disco_is_disco(v.payload, v.len)) {
			*last = v;
			n++;
		}
	}
	return n;
}

static void test_disco(void)
{
	struct far *a = &H.far[FAR_A], *e = &H.far[FAR_E];
	struct mg_nat_gw *ng = H.ctl->nat;
	struct mg_disco_node self, stranger;
	struct mg_disco_peer gw, gw_s;
	struct mg_disco_msg got;
	struct udp_view v;
	uint8_t pkt[MG_DISCO_MAX_LEN], frame[H_FRAME_MAX], txid[MG_DISCO_TXID_LEN];

	far_disco(a, &self, &gw);
	size_t n = ping(&self, &gw, pkt, txid);
	unsigned mark = H.n_wire;
	h_inject(MG_PORT_MESH, frame, h_mesh_frame(frame, a, a->ep, a->port, pkt, n));
	CHECK(disco_to(mark, a, &v) == 1, "a peer's ping gets one pong");
	CHECK(mg_disco_open(&self, &gw, v.payload, v.len, mg_wall_ns() / 1000000, &got) ==
	              MG_DISCO_OK &&
	          got.type == MG_DISCO_PONG && memcmp(got.txid, txid, sizeof(txid)) == 0 &&
	          got.src.family == 4 && memcmp(got.src.addr, a->ep, 4) == 0 &&
	          got.src.port == a->port,
	      "the pong opens with the gateway's key and carries the ping's source");

	/* Replayed: the same datagram again. */
	json_t *nc = mg_nat_gw_json(H.ctl);
	CHECK(json_integer_value(json_object_get(json_object_get(nc, "disco"), "pongs_sent")) == 1,
	      "netcheck counts the pong");
	json_decref(nc);
	mark = H.n_wire;
	uint64_t replay = ng->self.stats.refused[MG_DISCO_ERR_REPLAY];
	h_inject(MG_PORT_MESH, frame, h_mesh_frame(frame, a, a->ep, a->port, pkt, n));
	CHECK(disco_to(mark, a, &v) == 0 &&
	          ng->self.stats.refused[MG_DISCO_ERR_REPLAY] == replay + 1,
	      "a replayed ping: no pong, counted");
	/* Forged: one bit of the box flipped. */
	n = ping(&self, &gw, pkt, txid);
	pkt[n - 1] ^= 1;
	uint64_t forged = ng->self.stats.refused[MG_DISCO_ERR_FORGED];
	h_inject(MG_PORT_MESH, frame, h_mesh_frame(frame, a, a->ep, a->port, pkt, n));
	CHECK(disco_to(mark, a, &v) == 0 &&
	          ng->self.stats.refused[MG_DISCO_ERR_FORGED] == forged + 1,
	      "a forged ping: no pong, counted");
	/* A stranger: far E is not a peer of the gateway. */
	far_disco(e, &stranger, &gw_s);
	n = ping(&stranger, &gw_s, pkt, txid);
	uint64_t unknown = ng->disco.unknown_sender;
	h_inject(MG_PORT_MESH, frame, h_mesh_frame(frame, e, e->ep, e->port, pkt, n));
	CHECK(disco_to(mark, e, &v) == 0 && ng->disco.unknown_sender == unknown + 1,
	      "a stranger's ping: no pong, counted");
	CHECK(ng->disco.pings == 1 && ng->disco.pongs_sent == 1, "one ping answered in all");
	mg_disco_peer_clear(&gw);
	mg_disco_peer_clear(&gw_s);
	mg_disco_node_clear(&self);
	mg_disco_node_clear(&stranger);
}

int main(int argc, char **argv)
{
	(void)argc;
	srv1 = &H.far[FAR_D];
	srv2 = &H.far[FAR_E];
	h_config_hook = stun_config;
	if (h_setup(argv[0]) != 0) {
		CHECK(false, "set-up");
		h_teardown();
		return check_done("natgw");
	}
	test_stun();
	test_stun_from_map();
	test_demux();
	test_disco();
	CHECK(H.wire_lost == 0, "wire log kept every frame (%u lost)", H.wire_lost);
	h_teardown();
	return check_done("natgw");
}
