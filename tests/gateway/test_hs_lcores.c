// SPDX-License-Identifier: GPL-2.0-only
/*
 * Handshake lcores (gateway/handshake_lcores.h) on the control harness, twice:
 *
 * - two handshake lcores on threads of their own: the gateway initiates to every far peer and
 *   each response is handled by the lcore that owns the peer; then, answering at the same time,
 *   rounds in which every far peer initiates in one receive burst; each handshake ends with a
 *   keypair that carries data both ways, checked byte for byte, and no initiation reaches the
 *   control lcore; a private key change pauses them and handshakes go on under the new key;
 * - two handshake lcores polled on the test's thread, so a ring can be filled on purpose:
 *   initiations at a pace the lcore keeps up with get a DH up to the budget of a window
 *   (hs_load.h) and a cookie reply after it; under load, initiations without mac2 get cookie
 *   replies from the lcore that owns the source, and the initiation that carries the cookie
 *   completes the handshake there; a cookie reply to the gateway's own initiation is taken on
 *   the lcore that owns the peer.
 *
 *   test_hs_lcores threads|polled
 */
#include <stdio.h>
#include <string.h>

#include <rte_mbuf.h>
#include <rte_ring.h>

#include "check.h"
#include "crypto.h"
#include "control_harness.h"
#include "handshake_lcores.h"
#include "punt.h"
#include "transport.h"

#define ROUNDS 12

static bool lan_frame_is(unsigned i, const uint8_t src[4], uint32_t seq)
{
	const struct frame *f = &H.wire[i];
	uint8_t s[4], d[4], ttl;
	uint32_t got;
	return f->port == MG_PORT_LAN && f->len > 14 && memcmp(f->b, &h_host_mac, 6) == 0 &&
	       memcmp(f->b + 6, &h_lan_mac, 6) == 0 &&
	       h_inner_parse(f->b + 14, f->len - 14u, s, d, &got, &ttl) && memcmp(s, src, 4) == 0 &&
	       memcmp(d, h_host4, 4) == 0 && got == seq && ttl == 63;
}

/* Mesh frame i is a data message to x carrying seq from the LAN host, as x opens it. */
static bool far_got(struct far *x, unsigned i, uint32_t seq)
{
	uint8_t plain[H_FRAME_MAX], s[4], d[4], ttl;
	size_t len;
	uint32_t got;
	struct udp_view v;
	return h_udp4(&H.wire[i], &v) && memcmp(v.eth, &x->mac, 6) == 0 &&
	       memcmp(v.src, h_mesh4, 4) == 0 && v.sport == H_LISTEN &&
	       far_open(x, v.payload, v.len, plain, &len, NULL) == WG_OK &&
	       h_inner_parse(plain, len, s, d, &got, &ttl) && memcmp(s, h_host4, 4) == 0 &&
	       memcmp(d, x->inner, 4) == 0 && got == seq && ttl == 63;
}

/* Every configured far peer sends an initiation in one receive burst. */
static void burst_initiations(void)
{
	struct rte_mbuf *m[FAR_CONFIGURED];
	uint8_t f[H_FRAME_MAX];
	for (unsigned i = 0; i < FAR_CONFIGURED; i++) {
		struct far *x = &H.far[i];
		struct wg_msg_initiation init;
		far_initiation(x, &init);
		m[i] = h_mbuf(MG_PORT_MESH, f,
		              h_mesh_frame(f, x, x->ep, x->port, &init, sizeof(init)));
	}
	h_rx(m, FAR_CONFIGURED);
	h_pump();
}

/* Each far peer takes its response, then data goes both ways under the new keypair. */
static void check_sessions(unsigned mark, uint32_t seq, const char *what)
{
	for (unsigned i = 0; i < FAR_CONFIGURED; i++) {
		struct far *x = &H.far[i];
		CHECK(far_take_response(x, mark), "%s: %s took a response", what, x->name);
		unsigned lan = H.n_wire;
		CHECK(far_send_data(x, seq + i) && h_count_lan(lan) == 1 &&
		          lan_frame_is(lan, x->inner, seq + i),
		      "%s: %s's packet %u came out on the LAN", what, x->name, seq + i);
		struct mg_peer *peer = h_peer(x);
		CHECK(peer && wg_noise_keypair_current(&peer->remote) &&
		          !wg_noise_keypair_next(&peer->remote),
		      "%s: %s's keypair confirmed", what, x->name);
		unsigned out = H.n_wire, idx[4];
		h_lan_send(x->inner, seq + 100 + i);
		CHECK(h_find(out, x, WG_MSG_DATA, idx, 4) == 1 && far_got(x, idx[0], seq + 100 + i),
		      "%s: the LAN's packet %u reached %s", what, seq + 100 + i, x->name);
	}
}

/*
 * The gateway initiates (a LAN packet for a peer without a session): each far peer's response
 * goes to the lcore that owns the peer (slot modulo 2), which begins the session; the staged
 * packet then reaches the peer.
 */
static void test_gateway_initiates(void)
{
	struct mg_control *ctl = H.ctl;
	uint64_t before[2] = {ctl->hs_lcores[0]->stats.responses,
	                      ctl->hs_lcores[1]->stats.responses};
	uint64_t resp_on_control = ctl->stats.hs_rx[WG_MSG_HANDSHAKE_RESPONSE];
	unsigned want[2] = {0, 0};

	for (unsigned i = 0; i < FAR_CONFIGURED; i++) {
		struct far *x = &H.far[i];
		struct mg_peer *peer = h_peer(x);
		CHECK(peer && !wg_noise_keypair_current(&peer->remote), "%s: no session yet",
		      x->name);
		if (!peer)
			continue;
		want[mg_punt_reply_ring(&ctl->gw, peer->slot)]++;
		unsigned mark = H.n_wire;
		h_lan_send(x->inner, 9000 + i);
		CHECK(far_answer_initiation(x, mark), "%s answered the gateway's initiation",
		      x->name);
		unsigned idx[4];
		CHECK(h_find(mark, x, WG_MSG_DATA, idx, 4) == 1 && far_got(x, idx[0], 9000 + i),
		      "%s: the staged packet came under the new session", x->name);
	}
	CHECK(ctl->hs_lcores[0]->stats.responses - before[0] == want[0] &&
	          ctl->hs_lcores[1]->stats.responses - before[1] == want[1] && want[0] && want[1],
	      "responses on the owning lcores: %lu and %lu, want %u and %u",
	      (unsigned long)(ctl->hs_lcores[0]->stats.responses - before[0]),
	      (unsigned long)(ctl->hs_lcores[1]->stats.responses - before[1]), want[0], want[1]);
	CHECK(ctl->stats.hs_rx[WG_MSG_HANDSHAKE_RESPONSE] == resp_on_control,
	      "no response went to the control lcore");
}

static void test_threads(void)
{
	struct mg_control *ctl = H.ctl;
	uint64_t init_on_control = ctl->stats.hs_rx[WG_MSG_HANDSHAKE_INITIATION];

	CHECK(ctl->n_hs_lcores == 2 && ctl->gw.n_hs_rings == 2, "two handshake lcores");
	for (unsigned r = 0; r < ROUNDS; r++) {
		char what[32];
		snprintf(what, sizeof(what), "round %u", r);
		/* Past every peer's 20 ms initiation flood limit. */
		h_run(25 * H_MS, H_MS);
		unsigned mark = H.n_wire;
		burst_initiations();
		check_sessions(mark, 1000 * (r + 1), what);
	}
	struct mg_hs_lcore_stats sum;
	mg_hs_lcores_stats(ctl, &sum);
	CHECK(sum.handshakes == ROUNDS * FAR_CONFIGURED && sum.initiations == sum.handshakes,
	      "%lu handshakes on the lcores from %lu initiations, want %u",
	      (unsigned long)sum.handshakes, (unsigned long)sum.initiations,
	      ROUNDS * FAR_CONFIGURED);
	CHECK(ctl->hs_lcores[0]->stats.handshakes > 0 && ctl->hs_lcores[1]->stats.handshakes > 0,
	      "both lcores answered (%lu, %lu)", (unsigned long)ctl->hs_lcores[0]->stats.handshakes,
	      (unsigned long)ctl->hs_lcores[1]->stats.handshakes);
	CHECK(ctl->stats.hs_rx[WG_MSG_HANDSHAKE_INITIATION] == init_on_control,
	      "no initiation went to the control lcore");
	CHECK(ctl->stats.responses_sent >= ROUNDS * FAR_CONFIGURED, "responses sent: %lu",
	      (unsigned long)ctl->stats.responses_sent);

	/* A new static key while the lcores run: they stop for it, then answer under it. */
	uint8_t priv[WG_KEY_LEN], pub[WG_KEY_LEN];
	char err[256];
	wg_random_bytes(priv, sizeof(priv));
	wg_x25519_clamp(priv);
	CHECK(wg_x25519_public(pub, priv) == WG_OK, "new key");
	CHECK(mg_device_set_private_key(ctl, priv, err, sizeof(err)) == 0, "key change: %s", err);
	for (unsigned i = 0; i < FAR_CONFIGURED; i++)
		far_learn_gateway_key(&H.far[i], pub);
	h_run(25 * H_MS, H_MS);
	unsigned mark = H.n_wire;
	burst_initiations();
	check_sessions(mark, 50000, "after the key change");
	wg_memzero(priv, sizeof(priv));
}

/* The ring that far x's initiations go to. */
static struct rte_ring *ring_of(const struct far *x)
{
	struct mg_sockaddr src = {.family = 4, .port = x->port};
	memcpy(src.addr, x->ep, 4);
	return H.ctl->gw.hs_rings[mg_punt_initiation_ring(&H.ctl->gw, &src)];
}

/* A new initiation from x through the worker, left on its lcore's ring (nothing polls it). */
static void queue_initiation(struct far *x)
{
	uint8_t f[H_FRAME_MAX];
	struct wg_msg_initiation init;
	struct rte_mbuf *m[1];
	far_initiation(x, &init);
	m[0] = h_mbuf(MG_PORT_MESH, f, h_mesh_frame(f, x, x->ep, x->port, &init, sizeof(init)));
	mg_worker_clock(H.w);
	mg_worker_rx_burst(H.w, m, 1);
}

/* Initiations at a pace the lcore keeps up with: its ring never backs up, but past
 * MG_HS_UNPROVEN_PER_WINDOW given a DH without a cookie in a window it asks for cookies. */
static void test_lcore_unproven_budget(void)
{
	enum { BURST = 25 };
	struct mg_control *ctl = H.ctl;
	struct far *a = &H.far[FAR_A];
	struct rte_ring *ring = ring_of(a);
	struct mg_hs_lcore_stats before, after;

	h_run(25 * H_MS, H_MS);
	mg_hs_lcores_stats(ctl, &before);
	unsigned sent = 0, deepest = 0;
	while (sent < MG_HS_UNPROVEN_PER_WINDOW) {
		for (unsigned n = 0; n < BURST && sent < MG_HS_UNPROVEN_PER_WINDOW; n++, sent++)
			queue_initiation(a);
		if (rte_ring_count(ring) > deepest)
			deepest = rte_ring_count(ring);
		h_pump();
	}
	mg_hs_lcores_stats(ctl, &after);
	CHECK(deepest < rte_ring_get_capacity(ring) / 8, "the ring held at most %u", deepest);
	uint64_t dh = (after.handshakes - before.handshakes) + (after.rejected - before.rejected);
	CHECK(dh == MG_HS_UNPROVEN_PER_WINDOW && after.cookies == before.cookies,
	      "%lu initiations given a DH, %lu cookie replies (want %u, 0)", (unsigned long)dh,
	      (unsigned long)(after.cookies - before.cookies), MG_HS_UNPROVEN_PER_WINDOW);

	unsigned mark = H.n_wire, idx[2];
	struct wg_msg_initiation init;
	far_initiation(a, &init);
	far_send(a, &init, sizeof(init));
	h_pump();
	mg_hs_lcores_stats(ctl, &before);
	CHECK(before.cookies == after.cookies + 1 && before.handshakes == after.handshakes &&
	          before.rejected == after.rejected,
	      "past the budget: a cookie reply, no DH");
	CHECK(h_find(mark, a, WG_MSG_HANDSHAKE_COOKIE, idx, 2) == 1,
	      "the cookie reply on the wire");

	/* A second later A's initiation without mac2 is answered again. */
	h_run(1100 * H_MS, 10 * H_MS);
	mark = H.n_wire;
	far_initiation(a, &init);
	far_send(a, &init, sizeof(init));
	h_pump();
	mg_hs_lcores_stats(ctl, &after);
	CHECK(after.handshakes == before.handshakes + 1 && after.cookies == before.cookies,
	      "load over: answered without a cookie");
	CHECK(far_take_response(a, mark), "A took the response");
}

static void test_cookie_under_load(void)
{
	struct mg_control *ctl = H.ctl;
	struct far *a = &H.far[FAR_A];
	struct rte_ring *ring = ring_of(a);
	/* More than 1/8 of the ring: the lcore is under load from its first poll. */
	unsigned n = rte_ring_get_capacity(ring) / 8 + 40;
	struct mg_hs_lcore_stats before, after;

	h_run(25 * H_MS, H_MS);
	mg_hs_lcores_stats(ctl, &before);
	unsigned mark = H.n_wire;
	for (unsigned i = 0; i < n; i++)
		queue_initiation(a);
	CHECK(rte_ring_count(ring) == n, "%u initiations waiting on A's lcore, want %u",
	      rte_ring_count(ring), n);
	h_pump();
	h_pump();
	mg_hs_lcores_stats(ctl, &after);
	CHECK(after.cookies - before.cookies == n && after.handshakes == before.handshakes,
	      "under load: %lu cookie replies, %lu handshakes (want %u, 0)",
	      (unsigned long)(after.cookies - before.cookies),
	      (unsigned long)(after.handshakes - before.handshakes), n);
	unsigned idx[8];
	unsigned got = h_find(mark, a, WG_MSG_HANDSHAKE_COOKIE, idx, 8);
	struct udp_view v;
	CHECK(got == n, "%u cookie replies to A on the wire, want %u", got, n);
	/* The reply to the last initiation: the maker remembers the mac1 it sent last. */
	unsigned last = H.n_wire;
	while (last > mark && h_find(last - 1, a, WG_MSG_HANDSHAKE_COOKIE, idx, 1) == 0)
		last--;
	CHECK(last > mark && h_udp4(&H.wire[last - 1], &v) &&
	          wg_cookie_consume_reply(a->maker, (const struct wg_msg_cookie *)v.payload, v.len,
	                                  H.now) == WG_OK,
	      "A took a cookie reply");

	/* Still under load (a second, sticky): the initiation with mac2 gets through. */
	h_run(25 * H_MS, H_MS);
	mark = H.n_wire;
	struct wg_msg_initiation init;
	far_initiation(a, &init);
	far_send(a, &init, sizeof(init));
	mg_hs_lcores_stats(ctl, &after);
	CHECK(after.handshakes == before.handshakes + 1, "the initiation with a cookie answered");
	CHECK(far_take_response(a, mark), "A took the response");
	unsigned lan = H.n_wire;
	CHECK(far_send_data(a, 777) && h_count_lan(lan) == 1 && lan_frame_is(lan, a->inner, 777),
	      "A's data after the cookie came out on the LAN");
}

/*
 * The gateway initiates to B, which answers with a cookie reply (as a loaded peer would): the
 * reply names the gateway's handshake index and goes to the lcore that owns B, which takes the
 * cookie; the control lcore sees none of it.
 */
static void test_cookie_reply_to_owner(void)
{
	struct mg_control *ctl = H.ctl;
	struct far *b = &H.far[FAR_B];
	struct mg_peer *peer = h_peer(b);
	CHECK(peer != NULL, "B is a peer");
	if (!peer)
		return;
	unsigned owner = mg_punt_reply_ring(&ctl->gw, peer->slot);
	uint64_t taken[2] = {ctl->hs_lcores[0]->stats.cookies_taken,
	                     ctl->hs_lcores[1]->stats.cookies_taken};
	uint64_t on_control = ctl->stats.hs_rx[WG_MSG_HANDSHAKE_COOKIE];

	h_run(25 * H_MS, H_MS);
	unsigned mark = H.n_wire, idx[4];
	h_lan_send(b->inner, 4242);
	struct udp_view v;
	CHECK(h_find(mark, b, WG_MSG_HANDSHAKE_INITIATION, idx, 4) == 1 &&
	          h_udp4(&H.wire[idx[0]], &v),
	      "the gateway initiated to B");
	struct wg_endpoint gw_ep = {.family = 4, .port = H_LISTEN};
	memcpy(gw_ep.addr, h_mesh4, 4);
	struct wg_msg_cookie reply;
	CHECK(wg_cookie_reply_create(&b->host.checker, &reply, v.payload, v.len, &gw_ep, H.now) ==
	          WG_OK,
	      "B built a cookie reply");
	far_send(b, &reply, sizeof(reply));
	CHECK(ctl->hs_lcores[owner]->stats.cookies_taken == taken[owner] + 1 &&
	          ctl->hs_lcores[1 - owner]->stats.cookies_taken == taken[1 - owner],
	      "the cookie reply was taken on B's lcore %u", owner);
	CHECK(ctl->stats.hs_rx[WG_MSG_HANDSHAKE_COOKIE] == on_control,
	      "no cookie reply went to the control lcore");
}

int main(int argc, char **argv)
{
	bool threads = argc > 1 && strcmp(argv[1], "threads") == 0;
	h_hs_lcores = 2;
	h_hs_threads = threads;
	if (h_setup(argv[0]) != 0) {
		CHECK(false, "set-up");
		h_teardown();
		return check_done("hs_lcores");
	}
	if (threads) {
		test_gateway_initiates();
		test_threads();
	} else {
		test_lcore_unproven_budget();
		test_cookie_under_load();
		test_cookie_reply_to_owner();
	}
	CHECK(H.wire_lost == 0, "wire log kept every frame (%u lost)", H.wire_lost);
	h_teardown();
	return check_done(threads ? "hs_lcores_threads" : "hs_lcores_polled");
}
