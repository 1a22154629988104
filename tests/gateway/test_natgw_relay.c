// SPDX-License-Identifier: GPL-2.0-only
/*
 * The gateway's disco through its relay connection, as one component: the real control thread
 * and worker over ring ports (control_harness.h), a real meshgate-relay child process on loopback
 * (tests/relay's fixture), and far E, a map peer, played by the test with its own relay
 * connection and disco keys.
 *
 * (a) while E is relayed, the gateway's probe round pings E's candidates directly and sends a
 *     ping and call-me-maybe (listing the gateway's endpoints) through the relay; E's pong
 *     through the relay gives the relay's round trip (netcheck);
 * (b) E's ping through the relay gets a pong through the relay, whose source is the
 *     placeholder, not an endpoint;
 * (c) E's call-me-maybe through the relay makes the gateway ping the endpoints it lists at once;
 * (d) refused and counted, with nothing sent back: a message inside which is another peer's key
 *     than the one the relay vouches for (relay_mismatch), a forged box, a replay, a stranger;
 * (e) once E answers directly the path is direct and nothing more goes through the relay;
 * (f) E's direct pongs stop while its WireGuard session is up: at the trust time (4 s after the
 *     last pong) E's endpoint is the relay and the LAN's packets to E go through it, under the
 *     same session; the first direct pong makes E direct again;
 * (g) once E reports no STUN endpoint (a node without stun: runs no disco), nothing goes to it
 *     through the relay even while it has no direct path, and losing its direct path does not
 *     relay it (the handshake-timeout rule stays).
 *
 * The gateway's clock is injected and moves 1 ms per step; the relay is real, so waits for what
 * crosses it are bounded in real time.
 */
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "relay_fixture.h"
#undef CHECK /* the fixture's exits; check.h's records and carries on */

#include "check.h"
#include "control_harness.h"
#include "disco.h"
#include "nat_gw.h"
#include "netmap_apply.h"
#include "relay_gw.h"
#include "relay_ring.h"
#include "transport.h"

#define E_STUN_PORT 41000 /* E's STUN endpoint: its address, another port */
#define E_CMM_PORT  42000 /* a candidate only E's call-me-maybe names */

static struct rf_relay relay;
static struct mg_relay_client *e_rc;           /* E's relay connection */
static struct mg_disco_node e_self;            /* E's disco identity */
static struct mg_disco_peer e_gw;              /* E's view of the gateway */
static uint64_t e_rx[4];                       /* what E received through the relay, by type */
static uint8_t e_last_txid[MG_DISCO_TXID_LEN]; /* of the last relayed ping E received */
static struct mg_disco_msg e_last_cmm, e_last_pong;
static uint64_t e_wg_rx;               /* WireGuard data messages E received relayed */
static uint8_t e_last_wg[H_FRAME_MAX]; /* the last of them */
static size_t e_last_wg_len;
static uint64_t e_direct_pong_at; /* injected time of E's last direct pong */

static void relay_config(struct mg_config *cfg)
{
	cfg->relay.enabled = true;
	snprintf(cfg->relay.name, sizeof(cfg->relay.name), "r1");
	snprintf(cfg->relay.host, sizeof(cfg->relay.host), "127.0.0.1");
	snprintf(cfg->relay.server_name, sizeof(cfg->relay.server_name), "localhost");
	snprintf(cfg->relay.ca_file, sizeof(cfg->relay.ca_file), "%s", rf_ca_file());
	cfg->relay.port = relay.port;
	cfg->relay.direct_timeout_s = 5;
	/* WireGuard's timers at their real values: a session outlives the disco trust time, as it
	 * does in service, so (f) shows a live session moving to the relay. */
	cfg->test_timer_divisor = 1;
}

static uint64_t now_ms(void)
{
	return mg_wall_ns() / 1000000;
}

/* One step of the gateway, and whatever reached E through the relay meanwhile: opened with E's
 * keys and counted by type; E answers relayed pings as the agent does when answer is set. */
static void step(bool answer)
{
	struct mg_relay_msg m;
	struct mg_disco_msg d;
	h_step(H_MS);
	while (mg_relay_client_recv_wait(e_rc, &m, 1) > 0) {
		if (m.type == MG_RELAY_MSG_PACKET &&
		    memcmp(m.key, H.ctl->gw.local.static_public, 32) == 0 &&
		    wg_transport_classify(m.data, m.len) == WG_MSG_DATA && m.len <= H_FRAME_MAX) {
			memcpy(e_last_wg, m.data, m.len);
			e_last_wg_len = m.len;
			e_wg_rx++;
			continue;
		}
		if (m.type != MG_RELAY_MSG_PACKET ||
		    memcmp(m.key, H.ctl->gw.local.static_public, 32) != 0 ||
		    mg_disco_open(&e_self, &e_gw, m.data, m.len, now_ms(), &d) != MG_DISCO_OK)
			continue;
		e_rx[d.type]++;
		if (d.type == MG_DISCO_CALL_ME_MAYBE)
			e_last_cmm = d;
		if (d.type == MG_DISCO_PONG)
			e_last_pong = d;
		if (d.type != MG_DISCO_PING)
			continue;
		memcpy(e_last_txid, d.txid, sizeof(e_last_txid));
		if (!answer)
			continue;
		struct mg_disco_msg pong = {.type = MG_DISCO_PONG};
		uint8_t out[MG_DISCO_MAX_LEN];
		memcpy(pong.txid, d.txid, sizeof(pong.txid));
		mg_sockaddr_parse(MG_DISCO_RELAY_SRC, &pong.src);
		size_t n = mg_disco_seal(&e_self, &e_gw, &pong, now_ms(), out, sizeof(out));
		mg_relay_client_send(e_rc, H.ctl->gw.local.static_public, out, n);
		mg_relay_client_flush(e_rc);
	}
}

/* Steps until *counter passes base, for at most ms of real time. */
static bool wait_count(const uint64_t *counter, uint64_t base, int ms, bool answer)
{
	uint64_t end = rf_now_ms() + (uint64_t)ms;
	while (*counter <= base && rf_now_ms() < end)
		step(answer);
	return *counter > base;
}

/* Steps for ms of real time. */
static void settle(int ms)
{
	uint64_t end = rf_now_ms() + (uint64_t)ms;
	while (rf_now_ms() < end)
		step(false);
}

/* Sends bytes to the gateway through the relay on connection c. */
static void relay_send(struct mg_relay_client *c, const uint8_t *b, size_t n)
{
	CHECK(mg_relay_client_send(c, H.ctl->gw.local.static_public, b, n) == 0 &&
	          mg_relay_client_flush(c) >= 0,
	      "sent through the relay");
}

static size_t seal(struct mg_disco_node *self, struct mg_disco_peer *gw, struct mg_disco_msg *m,
                   uint8_t *out)
{
	return mg_disco_seal(self, gw, m, now_ms(), out, MG_DISCO_MAX_LEN);
}

/* Direct disco pings from the gateway to addr:port logged from index from on; the txid of the
 * last one to txid (when not NULL) and the injected time of the first to at. */
static unsigned direct_pings(unsigned from, const uint8_t addr[4], uint16_t port,
                             uint8_t txid[MG_DISCO_TXID_LEN], uint64_t *at)
{
	unsigned n = 0;
	for (unsigned i = from; i < H.n_wire; i++) {
		struct udp_view v;
		struct mg_disco_msg d;
		if (!h_udp4(&H.wire[i], &v) || memcmp(v.dst, addr, 4) != 0 || v.dport != port ||
		    v.sport != H_LISTEN || !mg_disco_is_disco(v.payload, v.len) ||
		    mg_disco_open(&e_self, &e_gw, v.payload, v.len, now_ms(), &d) != MG_DISCO_OK ||
		    d.type != MG_DISCO_PING)
			continue;
		if (txid)
			memcpy(txid, d.txid, MG_DISCO_TXID_LEN);
		if (at && n == 0)
			*at = H.wire[i].at;
		n++;
	}
	return n;
}

/* E in the map, with its STUN endpoint (it runs disco) or without (a node without stun:). */
static void map_with_e(bool stun, int64_t seq)
{
	struct far *e = &H.far[FAR_E];
	static struct mg_netmap_peer mp;
	static struct mg_prefix grant;
	grant = e->prefix;
	memset(&mp, 0, sizeof(mp));
	memcpy(mp.public_key, e->host.local.static_public, WG_KEY_LEN);
	mp.id = 5;
	snprintf(mp.name, sizeof(mp.name), "far-e");
	mp.map_allowed_ips = &grant;
	mp.n_map_allowed_ips = 1;
	mp.endpoints[0] = (struct mg_sockaddr){.family = 4, .port = e->port};
	memcpy(mp.endpoints[0].addr, e->ep, 4);
	mp.n_endpoints = 1;
	mp.stun_endpoints[0] = (struct mg_sockaddr){.family = 4, .port = E_STUN_PORT};
	memcpy(mp.stun_endpoints[0].addr, e->ep, 4);
	mp.n_stun_endpoints = stun;
	mp.online = true;
	struct mg_netmap_update u = {.kind = seq == 1 ? MG_NETMAP_FULL : MG_NETMAP_DELTA,
	                             .seq = seq,
	                             .peers = &mp,
	                             .n_peers = 1};
	CHECK(mg_netmap_apply(&H.ctl->netmap, &u, time(NULL), &mg_device_netmap_sink, H.ctl) == 0 &&
	          h_peer(e),
	      "E is a map peer");
}

/* (a) the gateway's probe round while E is relayed. */
static void test_probe_round(void)
{
	struct far *e = &H.far[FAR_E];
	struct mg_nat_gw *ng = H.ctl->nat;
	unsigned mark = H.n_wire;

	map_with_e(true, 1);
	CHECK(wait_count(&e_rx[MG_DISCO_CALL_ME_MAYBE], 0, 5000, true),
	      "call-me-maybe through the relay");
	CHECK(wait_count(&e_rx[MG_DISCO_PING], 0, 3000, true), "a ping through the relay");
	CHECK(ng->disco.relay_pings_sent >= 1 && ng->disco.call_me_maybe_sent >= 1,
	      "counted: %llu relayed pings, %llu call-me-maybe",
	      (unsigned long long)ng->disco.relay_pings_sent,
	      (unsigned long long)ng->disco.call_me_maybe_sent);
	bool lists_us = false;
	for (unsigned i = 0; i < e_last_cmm.n_eps; i++)
		lists_us |= e_last_cmm.eps[i].family == 4 &&
		            memcmp(e_last_cmm.eps[i].addr, h_mesh4, 4) == 0 &&
		            e_last_cmm.eps[i].port == H_LISTEN;
	CHECK(lists_us, "call-me-maybe lists the gateway's endpoint (%u listed)", e_last_cmm.n_eps);
	CHECK(direct_pings(mark, e->ep, e->port, NULL, NULL) >= 1 &&
	          direct_pings(mark, e->ep, E_STUN_PORT, NULL, NULL) >= 1,
	      "the same round pinged both map candidates directly");
	/* E answered the relayed ping through the relay: the relay's round trip, not a path. */
	CHECK(wait_count(&ng->relay_rtt_at_ns, 0, 2000, true), "E's relayed pong timed the relay");
	json_t *o = mg_nat_gw_json(H.ctl), *rl = json_object_get(o, "relay");
	CHECK(json_is_number(json_object_get(rl, "rtt_ms")) &&
	          json_is_true(json_object_get(rl, "connected")),
	      "netcheck shows the relay's round trip");
	json_decref(o);
	struct mg_disco_path *p =
	    mg_paths_gw_find(H.ctl, h_peer(e)->slot, e->host.local.static_public);
	CHECK(p && mg_disco_path_current(p)->kind == MG_DISCO_PATH_RELAY,
	      "a pong through the relay makes no direct path");
}

/* (b) E's ping through the relay; its bytes are kept for the replay in (d). */
static size_t test_relayed_ping(uint8_t *ping)
{
	struct far *e = &H.far[FAR_E];
	struct mg_nat_gw *ng = H.ctl->nat;
	struct mg_disco_msg m = {.type = MG_DISCO_PING}, placeholder;
	unsigned mark = H.n_wire;
	uint64_t pongs = ng->disco.relay_pongs_sent, seen = e_rx[MG_DISCO_PONG];

	mg_disco_new_txid(m.txid);
	size_t n = seal(&e_self, &e_gw, &m, ping);
	relay_send(e_rc, ping, n);
	CHECK(wait_count(&e_rx[MG_DISCO_PONG], seen, 3000, false), "a pong through the relay");
	mg_sockaddr_parse(MG_DISCO_RELAY_SRC, &placeholder.src);
	CHECK(memcmp(e_last_pong.txid, m.txid, sizeof(m.txid)) == 0 &&
	          e_last_pong.src.family == 4 && e_last_pong.src.port == placeholder.src.port &&
	          memcmp(e_last_pong.src.addr, placeholder.src.addr, 4) == 0,
	      "the pong answers that ping and carries the placeholder source");
	CHECK(ng->disco.relay_pongs_sent == pongs + 1 && ng->disco.relay_received >= 1,
	      "counted as a pong through the relay");
	/* Nothing went to E's endpoint for it: the relay hides where E is. */
	unsigned direct = 0;
	for (unsigned i = mark; i < H.n_wire; i++) {
		struct udp_view v;
		struct mg_disco_msg d;
		direct +=
		    h_udp4(&H.wire[i], &v) && memcmp(v.dst, e->ep, 4) == 0 &&
		    mg_disco_is_disco(v.payload, v.len) &&
		    mg_disco_open(&e_self, &e_gw, v.payload, v.len, now_ms(), &d) == MG_DISCO_OK &&
		    d.type == MG_DISCO_PONG;
	}
	CHECK(direct == 0, "no direct pong for a relayed ping (%u)", direct);
	return n;
}

/* (c) E's call-me-maybe through the relay: the gateway pings what it lists at once. */
static void test_call_me_maybe(void)
{
	struct far *e = &H.far[FAR_E];
	struct mg_nat_gw *ng = H.ctl->nat;
	struct mg_disco_msg m = {.type = MG_DISCO_CALL_ME_MAYBE};
	uint8_t b[MG_DISCO_MAX_LEN];
	uint64_t at = 0, cmm = ng->disco.call_me_maybe;

	/* Past the one-round-a-second limit of an earlier call-me-maybe round. */
	settle(50);
	h_run(1100 * H_MS, 10 * H_MS);
	mg_disco_new_txid(m.txid);
	m.eps[0] = (struct mg_sockaddr){.family = 4, .port = E_CMM_PORT};
	memcpy(m.eps[0].addr, e->ep, 4);
	m.n_eps = 1;
	unsigned mark = H.n_wire;
	size_t n = seal(&e_self, &e_gw, &m, b);
	relay_send(e_rc, b, n);
	CHECK(wait_count(&ng->disco.call_me_maybe, cmm, 3000, false), "call-me-maybe taken");
	uint64_t t_cmm = H.now;
	CHECK(direct_pings(mark, e->ep, E_CMM_PORT, NULL, &at) >= 1 && at <= t_cmm,
	      "the endpoint it lists was pinged in the same pass (%llu ns after)",
	      (unsigned long long)(at - t_cmm));
	CHECK(direct_pings(mark, e->ep, e->port, NULL, NULL) >= 1 &&
	          direct_pings(mark, e->ep, E_STUN_PORT, NULL, NULL) >= 1,
	      "and so were the map's candidates");
}

/* (d) what the gateway refuses from the relay. */
static void test_refusals(const uint8_t *old_ping, size_t old_len)
{
	struct far *a = &H.far[FAR_A];
	struct mg_nat_gw *ng = H.ctl->nat;
	struct mg_disco_node a_self, s_self;
	struct mg_disco_peer a_gw, s_gw;
	struct mg_disco_msg m = {.type = MG_DISCO_PING};
	uint8_t b[MG_DISCO_MAX_LEN], s_sk[32], s_pk[32];
	char err[256];
	uint64_t pongs = e_rx[MG_DISCO_PONG], sent = ng->disco.relay_pongs_sent;
	uint64_t mismatch = ng->disco.relay_mismatch, rx = ng->disco.relay_received;
	uint64_t forged = ng->self.stats.refused[MG_DISCO_ERR_FORGED];
	uint64_t replay = ng->self.stats.refused[MG_DISCO_ERR_REPLAY];
	uint64_t unknown = ng->disco.unknown_sender;

	/* A's authentic ping, sent by E: the relay says E, the message says A. */
	mg_disco_node_init(&a_self, a->host.priv);
	mg_disco_peer_init(&a_gw, &a_self, H.ctl->gw.local.static_public);
	mg_disco_new_txid(m.txid);
	relay_send(e_rc, b, seal(&a_self, &a_gw, &m, b));
	/* E's own ping with one bit of the box flipped. */
	mg_disco_new_txid(m.txid);
	size_t n = seal(&e_self, &e_gw, &m, b);
	b[n - 1] ^= 1;
	relay_send(e_rc, b, n);
	/* E's earlier ping again. */
	relay_send(e_rc, old_ping, old_len);
	/* A stranger's ping under its own key, on its own relay connection. */
	rf_keypair(s_sk, s_pk);
	struct mg_relay_client *s_rc = rf_client(&relay, s_sk, err, sizeof(err));
	CHECK(s_rc, "the stranger's relay connection: %s", err);
	mg_disco_node_init(&s_self, s_sk);
	mg_disco_peer_init(&s_gw, &s_self, H.ctl->gw.local.static_public);
	if (s_rc) {
		mg_disco_new_txid(m.txid);
		relay_send(s_rc, b, seal(&s_self, &s_gw, &m, b));
	}
	uint64_t end = rf_now_ms() + 3000;
	while (ng->disco.relay_received < rx + 3 + (s_rc != NULL) && rf_now_ms() < end)
		step(false);
	settle(200);
	CHECK(ng->disco.relay_received == rx + 3 + (s_rc != NULL), "all four arrived (%llu)",
	      (unsigned long long)(ng->disco.relay_received - rx));
	CHECK(ng->disco.relay_mismatch == mismatch + 1, "another peer's message: relay_mismatch");
	CHECK(ng->self.stats.refused[MG_DISCO_ERR_FORGED] == forged + 1, "a forged box: forged");
	CHECK(ng->self.stats.refused[MG_DISCO_ERR_REPLAY] == replay + 1, "a replay: replay");
	CHECK(ng->disco.unknown_sender == unknown + 1, "a stranger: unknown_sender");
	CHECK(e_rx[MG_DISCO_PONG] == pongs && ng->disco.relay_pongs_sent == sent,
	      "none of them answered");
	json_t *o = mg_nat_gw_json(H.ctl);
	json_t *rf = json_object_get(json_object_get(o, "disco"), "refused");
	CHECK(json_integer_value(json_object_get(rf, "relay_mismatch")) == (json_int_t)mismatch + 1,
	      "netcheck shows relay_mismatch");
	json_decref(o);
	if (s_rc)
		mg_relay_client_close(s_rc);
	mg_disco_peer_clear(&a_gw);
	mg_disco_peer_clear(&s_gw);
	mg_disco_node_clear(&a_self);
	mg_disco_node_clear(&s_self);
}

/* E answers, from its endpoint, the last direct ping the gateway sent there since mark (or
 * before, when none yet); the injected time goes to e_direct_pong_at. */
static void direct_pong(unsigned mark)
{
	struct far *e = &H.far[FAR_E];
	struct mg_nat_gw *ng = H.ctl->nat;
	uint8_t txid[MG_DISCO_TXID_LEN], b[MG_DISCO_MAX_LEN], frame[H_FRAME_MAX];

	uint64_t pings = ng->disco.pings_sent;
	CHECK(wait_count(&ng->disco.pings_sent, pings, 3000, false), "a direct ping");
	CHECK(direct_pings(mark, e->ep, e->port, txid, NULL) >= 1 ||
	          direct_pings(0, e->ep, e->port, txid, NULL) >= 1,
	      "a ping to E's endpoint");
	struct mg_disco_msg pong = {.type = MG_DISCO_PONG};
	memcpy(pong.txid, txid, sizeof(txid));
	pong.src = (struct mg_sockaddr){.family = 4, .port = H_LISTEN};
	memcpy(pong.src.addr, h_mesh4, 4);
	size_t n = seal(&e_self, &e_gw, &pong, b);
	e_direct_pong_at = H.now;
	h_inject(MG_PORT_MESH, frame, h_mesh_frame(frame, e, e->ep, e->port, b, n));
}

static bool e_endpoint_direct(void)
{
	struct far *e = &H.far[FAR_E];
	struct mg_sockaddr ep;
	return mg_endpoint_read(&h_peer(e)->endpoint, &ep) && ep.family == 4 &&
	       ep.port == e->port && memcmp(ep.addr, e->ep, 4) == 0;
}

static bool e_endpoint_relayed(void)
{
	struct mg_sockaddr ep;
	return mg_endpoint_read(&h_peer(&H.far[FAR_E])->endpoint, &ep) &&
	       ep.family == MG_FAMILY_RELAY;
}

/* (e) E answers a direct ping: direct, and the relay carries no more disco for E. */
static void test_direct(void)
{
	struct far *e = &H.far[FAR_E];
	struct mg_nat_gw *ng = H.ctl->nat;
	uint64_t direct = ng->disco.paths_direct;

	/* E's session, for (f): started by the LAN's packet, to E's map endpoint. */
	unsigned mark = H.n_wire;
	h_lan_send(e->inner, 1);
	CHECK(far_answer_initiation(e, mark) && h_find(mark, e, WG_MSG_DATA, NULL, 0) == 1 &&
	          wg_noise_keypair_current(&h_peer(e)->remote) != NULL,
	      "E's session, started by the LAN's packet");

	direct_pong(H.n_wire);
	CHECK(ng->disco.paths_direct == direct + 1, "E's direct pong makes the path direct");
	CHECK(e_endpoint_direct(), "and E's WireGuard endpoint");
	/* Within the trust time (4 s), rounds and heartbeats go direct only. The round whose
	 * ping E answered also went through the relay, which may still be delivering it. */
	settle(300);
	uint64_t rp = ng->disco.relay_pings_sent, cmm = ng->disco.call_me_maybe_sent;
	uint64_t got = e_rx[MG_DISCO_PING] + e_rx[MG_DISCO_CALL_ME_MAYBE];
	for (unsigned i = 0; i < 35; i++) {
		h_run(100 * H_MS, 10 * H_MS);
		step(false);
	}
	settle(100);
	CHECK(ng->disco.relay_pings_sent == rp && ng->disco.call_me_maybe_sent == cmm &&
	          e_rx[MG_DISCO_PING] + e_rx[MG_DISCO_CALL_ME_MAYBE] == got,
	      "3.5 s direct: nothing through the relay");
}

/* The LAN host sends seq to E: true when E received it through the relay, sealed under its
 * session, and nothing went to E's direct endpoint. */
static bool lan_to_e_relayed(uint32_t seq)
{
	struct far *e = &H.far[FAR_E];
	uint8_t plain[H_FRAME_MAX], s[4], d[4], ttl;
	uint32_t got = 0;
	size_t len = 0;
	unsigned mark = H.n_wire;
	uint64_t rx = e_wg_rx;

	h_lan_send(e->inner, seq);
	if (!wait_count(&e_wg_rx, rx, 3000, false))
		return false;
	return h_find(mark, e, 0, NULL, 0) == 0 &&
	       far_open(e, e_last_wg, e_last_wg_len, plain, &len, NULL) == WG_OK &&
	       h_inner_parse(plain, len, s, d, &got, &ttl) && got == seq &&
	       memcmp(d, e->inner, 4) == 0;
}

/* (f) E's direct path goes silent while its WireGuard session is up. */
static void test_dead_path(void)
{
	struct far *e = &H.far[FAR_E];
	struct mg_nat_gw *ng = H.ctl->nat;
	struct mg_relay_gw_stats r0, r1;
	uint64_t relayed = ng->disco.paths_relayed, lost = ng->disco.paths_lost;
	uint64_t direct = ng->disco.paths_direct;

	/* (e) left E direct, its last pong 3.5 s ago, with a session that stays up. */
	CHECK(e_endpoint_direct(), "E direct");
	struct wg_noise_keypair *kp = wg_noise_keypair_current(&h_peer(e)->remote);
	mg_relay_gw_get_stats(H.ctl, &r0);
	while (!e_endpoint_relayed() && H.now - e_direct_pong_at < 6000 * H_MS) {
		h_run(20 * H_MS, 10 * H_MS);
		step(false);
	}
	uint64_t after_ms = (H.now - e_direct_pong_at) / H_MS;
	mg_relay_gw_get_stats(H.ctl, &r1);
	printf("natgw_relay: E's direct path silent, relayed %llu ms after its last pong\n",
	       (unsigned long long)after_ms);
	CHECK(e_endpoint_relayed() && after_ms >= 3900 && after_ms <= 4100,
	      "E relayed %llu ms after its last direct pong (trust time 4 s)",
	      (unsigned long long)after_ms);
	CHECK(ng->disco.paths_relayed == relayed + 1 && ng->disco.paths_lost == lost + 1 &&
	          r1.switched_to_relay == r0.switched_to_relay + 1,
	      "counted: paths_lost, paths_relayed (disco_dead), the relay path's switch");
	json_t *o = mg_nat_gw_json(H.ctl);
	CHECK(json_integer_value(json_object_get(json_object_get(o, "disco"), "paths_relayed")) ==
	          (json_int_t)relayed + 1,
	      "netcheck shows paths_relayed");
	json_decref(o);
	CHECK(lan_to_e_relayed(2), "the LAN's packet reaches E through the relay, same session");
	CHECK(kp && wg_noise_keypair_current(&h_peer(e)->remote) == kp, "E's session is the same");

	/* The first direct pong: E's endpoint is direct again and the LAN's packets go there.
	 * E may have restarted meanwhile: the gateway starts a handshake at once. */
	unsigned mark = H.n_wire;
	direct_pong(mark);
	CHECK(ng->disco.paths_direct == direct + 1 && e_endpoint_direct(),
	      "E's direct pong makes it direct again");
	CHECK(far_answer_initiation(e, mark) && wg_noise_keypair_current(&h_peer(e)->remote) != kp,
	      "and starts a handshake there at once, which gives a new session");
	mark = H.n_wire;
	uint64_t rx = e_wg_rx;
	h_lan_send(e->inner, 3);
	settle(100);
	CHECK(h_find(mark, e, WG_MSG_DATA, NULL, 0) == 1 && e_wg_rx == rx,
	      "the LAN's next packet goes to E's endpoint, none through the relay");
}

/* (g) a peer that reports no STUN endpoint runs no disco: none goes to it through the relay,
 * though it has no direct path, and losing that path does not relay it. */
static void test_no_stun_peer(void)
{
	struct far *e = &H.far[FAR_E];
	struct mg_nat_gw *ng = H.ctl->nat;
	map_with_e(false, 2);
	/* Past the trust time without pongs: E's path falls back to the relay. */
	uint64_t rp = ng->disco.relay_pings_sent, cmm = ng->disco.call_me_maybe_sent;
	uint64_t pings = ng->disco.pings_sent, lost = ng->disco.paths_lost;
	uint64_t relayed = ng->disco.paths_relayed;
	uint64_t got = e_rx[MG_DISCO_PING] + e_rx[MG_DISCO_CALL_ME_MAYBE];
	for (unsigned i = 0; i < 80; i++) {
		h_run(100 * H_MS, 10 * H_MS);
		step(false);
	}
	settle(100);
	struct mg_disco_path *p =
	    mg_paths_gw_find(H.ctl, h_peer(e)->slot, e->host.local.static_public);
	CHECK(ng->disco.paths_lost == lost + 1 && p &&
	          mg_disco_path_current(p)->kind == MG_DISCO_PATH_RELAY,
	      "E without pongs is back on the relay");
	CHECK(ng->disco.paths_relayed == relayed && e_endpoint_direct(),
	      "but its WireGuard endpoint stays: E runs no disco");
	CHECK(ng->disco.pings_sent > pings, "its candidates are still pinged directly");
	CHECK(ng->disco.relay_pings_sent == rp && ng->disco.call_me_maybe_sent == cmm &&
	          e_rx[MG_DISCO_PING] + e_rx[MG_DISCO_CALL_ME_MAYBE] == got,
	      "8 s relayed without STUN endpoints: no disco through the relay");
}

int main(int argc, char **argv)
{
	char err[256];
	uint8_t e_sk[32];

	rf_init(argc, argv);
	rf_relay_start(&relay, "r1", 0, NULL);
	h_config_hook = relay_config;
	if (h_setup(argv[0]) != 0) {
		CHECK(false, "set-up");
		h_teardown();
		return check_done("natgw_relay");
	}
	memcpy(e_sk, H.far[FAR_E].host.priv, 32);
	e_rc = rf_client(&relay, e_sk, err, sizeof(err));
	CHECK(e_rc, "E's relay connection: %s", err);
	mg_disco_node_init(&e_self, e_sk);
	e_self.max_skew_ms = MG_DISCO_DEFAULT_SKEW_MS;
	mg_disco_peer_init(&e_gw, &e_self, H.ctl->gw.local.static_public);
	uint64_t end = rf_now_ms() + 10000;
	while (e_rc && !mg_relay_gw_home(H.ctl) && rf_now_ms() < end)
		step(false);
	CHECK(mg_relay_gw_home(H.ctl), "the gateway connected to the relay");
	if (e_rc && mg_relay_gw_home(H.ctl)) {
		uint8_t ping[MG_DISCO_MAX_LEN];
		test_probe_round();
		size_t ping_len = test_relayed_ping(ping);
		test_call_me_maybe();
		test_refusals(ping, ping_len);
		test_direct();
		test_dead_path();
		test_no_stun_peer();
	}
	CHECK(H.wire_lost == 0, "wire log kept every frame (%u lost)", H.wire_lost);
	mg_disco_peer_clear(&e_gw);
	mg_disco_node_clear(&e_self);
	if (e_rc)
		mg_relay_client_close(e_rc);
	h_teardown();
	rf_cleanup();
	return check_done("natgw_relay");
}
