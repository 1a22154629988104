// SPDX-License-Identifier: GPL-2.0-only
/*
 * Sections (c), (e) and (f) of the control-thread test (see test_control.c): handshakes under
 * load, live device changes, and bad handshake input.
 */
#include <endian.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acl.h"
#include "check.h"
#include "crypto.h"
#include "hs_load.h"
#include "control_harness.h"
#include "neigh.h"
#include "netmap_apply.h"
#include "punt.h"
#include "transport.h"

/* ---- (c) under load ---- */

/* Initiations with garbage macs from spoofed sources, queued behind the real frames so that
 * the punt ring holds more than the load threshold when the real ones are handled. */
#define FLOOD 600

static void rx_under_load(struct rte_mbuf **first, unsigned n_first)
{
	static struct rte_mbuf *m[FLOOD + 64];
	static uint64_t rng = 31;
	uint8_t msg[sizeof(struct wg_msg_initiation)], f[H_FRAME_MAX];

	for (unsigned i = 0; i < n_first; i++)
		m[i] = first[i];
	for (unsigned i = 0; i < FLOOD; i++) {
		const uint8_t src[4] = {10, 0, 0, (uint8_t)(100 + i % 100)};
		test_rng(&rng, msg, sizeof(msg));
		memset(msg, 0, 4);
		msg[0] = WG_MSG_HANDSHAKE_INITIATION;
		m[n_first + i] = h_mbuf(
		    MG_PORT_MESH, f,
		    h_mesh_frame(f, &H.far[FAR_C], src, (uint16_t)(40000 + i), msg, sizeof(msg)));
	}
	h_rx(m, n_first + FLOOD);
	h_pump();
}

static struct rte_mbuf *initiation_mbuf(struct far *x, struct wg_msg_initiation *init)
{
	uint8_t f[H_FRAME_MAX];
	far_initiation(x, init);
	return h_mbuf(MG_PORT_MESH, f, h_mesh_frame(f, x, x->ep, x->port, init, sizeof(*init)));
}

void test_under_load(void)
{
	enum { TRIES = 30 };
	struct far *x = &H.far[FAR_D];
	struct mg_peer *peer = h_peer(x);
	const struct mg_ctl_stats *st = &H.ctl->stats;
	struct wg_msg_initiation init;
	struct rte_mbuf *m[TRIES];
	struct udp_view v;
	unsigned idx[4];

	if (!peer) {
		CHECK(false, "D is configured");
		return;
	}
	/* No mac2 yet: a cookie reply, no response, no state. */
	struct mg_ctl_stats s0 = *st;
	unsigned mark = H.n_wire;
	m[0] = initiation_mbuf(x, &init);
	CHECK(wg_is_zero(init.macs.mac2, WG_COOKIE_LEN), "D holds no cookie yet");
	rx_under_load(m, 1);
	CHECK(st->cookies_sent == s0.cookies_sent + 1 && st->responses_sent == s0.responses_sent &&
	          st->hs_bad_mac == s0.hs_bad_mac + FLOOD,
	      "under load: a cookie reply instead of a response; the flood counted bad_mac");
	unsigned n = h_find(mark, x, WG_MSG_HANDSHAKE_COOKIE, idx, 4);
	CHECK(n == 1 && h_count_mesh(mark, 0) == 1, "one frame out: the cookie reply to D");
	if (n == 1 && h_udp4(&H.wire[idx[0]], &v)) {
		CHECK(((const struct wg_msg_cookie *)v.payload)->receiver_index ==
		          init.sender_index,
		      "the reply names the initiation");
		CHECK(wg_cookie_consume_reply(x->maker, v.payload, v.len, H.now) == WG_OK,
		      "D decrypts the cookie");
	}
	CHECK(wg_noise_remote_handshake_state(&peer->remote) == WG_NOISE_HANDSHAKE_ZEROED &&
	          !wg_noise_keypair_next(&peer->remote),
	      "no handshake state for an initiation answered with a cookie");

	/* With the cookie's mac2: processed under load. */
	h_step(H_MS);
	s0 = *st;
	mark = H.n_wire;
	m[0] = initiation_mbuf(x, &init);
	CHECK(!wg_is_zero(init.macs.mac2, WG_COOKIE_LEN), "D sends mac2 now");
	rx_under_load(m, 1);
	CHECK(st->responses_sent == s0.responses_sent + 1 && st->cookies_sent == s0.cookies_sent &&
	          st->hs_ratelimited == s0.hs_ratelimited,
	      "a valid mac2 passes under load");
	CHECK(far_take_response(x, mark), "D takes the response");

	/* One source, many initiations at one instant: the bucket's burst passes. */
	h_run(WG_NSEC_PER_SEC, 10 * H_MS);
	s0 = *st;
	for (unsigned i = 0; i < TRIES; i++)
		m[i] = initiation_mbuf(x, &init);
	rx_under_load(m, TRIES);
	uint64_t passed =
	    (st->responses_sent - s0.responses_sent) + (st->hs_rejected - s0.hs_rejected);
	CHECK(st->hs_ratelimited == s0.hs_ratelimited + TRIES - WG_RATELIMIT_BURST &&
	          passed == WG_RATELIMIT_BURST && st->cookies_sent == s0.cookies_sent,
	      "rate limited %llu of %u, %llu passed (burst %u)",
	      (unsigned long long)(st->hs_ratelimited - s0.hs_ratelimited), TRIES,
	      (unsigned long long)passed, WG_RATELIMIT_BURST);
	CHECK(st->responses_sent == s0.responses_sent + 1,
	      "the first is answered, the replayed timestamps are refused");

	/* Load is judged sticky for a second; after it, no cookie is needed. */
	h_run(1100 * H_MS, 10 * H_MS);
	s0 = *st;
	CHECK(far_handshake(&H.far[FAR_A], 5000) && st->cookies_sent == s0.cookies_sent,
	      "load over: A's initiation without mac2 is answered");
}

/* A sender that keeps to the lcore's pace never backs the punt ring up, yet every initiation
 * it sends without a cookie costs a DH: past MG_HS_UNPROVEN_PER_WINDOW of them in a window the
 * gateway asks for cookies (hs_load.h), and a second later it no longer does. */
void test_unproven_budget(void)
{
	enum { BURST = 25 };
	struct far *x = &H.far[FAR_E]; /* not configured: each initiation a DH, then refused */
	const struct mg_ctl_stats *st = &H.ctl->stats;
	struct wg_msg_initiation init;
	struct rte_mbuf *m[BURST];

	h_run(1100 * H_MS, 10 * H_MS); /* out of any load from before */
	struct mg_ctl_stats s0 = *st;
	unsigned sent = 0;
	while (sent < MG_HS_UNPROVEN_PER_WINDOW) {
		unsigned n = 0;
		for (; n < BURST && sent < MG_HS_UNPROVEN_PER_WINDOW; n++, sent++)
			m[n] = initiation_mbuf(x, &init);
		h_rx(m, n);
		h_pump();
	}
	uint64_t dh = (st->responses_sent - s0.responses_sent) + (st->hs_rejected - s0.hs_rejected);
	CHECK(dh == MG_HS_UNPROVEN_PER_WINDOW && st->cookies_sent == s0.cookies_sent,
	      "%llu of %u initiations without a cookie given a DH in one window, %llu cookies",
	      (unsigned long long)dh, MG_HS_UNPROVEN_PER_WINDOW,
	      (unsigned long long)(st->cookies_sent - s0.cookies_sent));

	s0 = *st;
	unsigned mark = H.n_wire, idx[2];
	m[0] = initiation_mbuf(x, &init);
	CHECK(wg_is_zero(init.macs.mac2, WG_COOKIE_LEN), "E holds no cookie");
	h_rx(m, 1);
	h_pump();
	CHECK(st->cookies_sent == s0.cookies_sent + 1 && st->responses_sent == s0.responses_sent &&
	          st->hs_rejected == s0.hs_rejected,
	      "past the budget: a cookie reply, no DH");
	CHECK(h_find(mark, x, WG_MSG_HANDSHAKE_COOKIE, idx, 2) == 1,
	      "the cookie reply on the wire");

	h_run(1100 * H_MS, 10 * H_MS);
	s0 = *st;
	CHECK(far_handshake(&H.far[FAR_A], 6000) && st->cookies_sent == s0.cookies_sent,
	      "a second later: A's initiation without mac2 is answered");
}

/* ---- (e) device changes ---- */

struct flow {
	uint32_t next_seq;
	unsigned sent, lan_ok, far_ok;
};

/* One packet each way between A and the LAN host, both checked on arrival. */
static void flow_tick(struct flow *fl, struct far *a)
{
	uint8_t plain[H_FRAME_MAX], s[4], d[4], ttl;
	uint32_t seq = fl->next_seq++, got;
	size_t len;
	unsigned mark = H.n_wire;
	far_send_data(a, seq);
	h_lan_send(a->inner, seq);
	fl->sent++;
	for (unsigned i = mark; i < H.n_wire; i++) {
		const struct frame *f = &H.wire[i];
		struct udp_view v;
		if (f->port == MG_PORT_LAN)
			fl->lan_ok += h_inner_parse(f->b + 14, f->len - 14u, s, d, &got, &ttl) &&
			              memcmp(s, a->inner, 4) == 0 && got == seq;
		else if (h_udp4(f, &v) && memcmp(v.dst, a->ep, 4) == 0)
			fl->far_ok += far_open(a, v.payload, v.len, plain, &len, NULL) == WG_OK &&
			              h_inner_parse(plain, len, s, d, &got, &ttl) && got == seq;
	}
	h_step(H_MS);
}

/* Mesh frame i is a data message x opens, carrying seq. */
static bool far_opens(struct far *x, unsigned i, uint32_t seq)
{
	uint8_t plain[H_FRAME_MAX], s[4], d[4], ttl;
	uint32_t got;
	size_t len;
	struct udp_view v;
	return h_udp4(&H.wire[i], &v) &&
	       far_open(x, v.payload, v.len, plain, &len, NULL) == WG_OK &&
	       h_inner_parse(plain, len, s, d, &got, &ttl) && got == seq;
}

static uint64_t drops(enum mg_drop_reason r)
{
	return H.w->counters.drops[r];
}

void test_device_changes(void)
{
	struct far *a = &H.far[FAR_A], *b = &H.far[FAR_B], *e = &H.far[FAR_E];
	struct mg_peer *pb = h_peer(b), *pe = NULL;
	struct mg_peer_config pc;
	struct flow fl = {.next_seq = 10000};
	char err[256];
	unsigned idx[8];

	if (!pb || !far_handshake(a, 9999)) {
		CHECK(false, "B configured, fresh session with A");
		return;
	}
	uint64_t no_route = drops(MG_DROP_NO_ROUTE), unknown = drops(MG_DROP_UNKNOWN_INDEX);
	uint32_t peers = H.ctl->gw.n_peers;
	for (int t = 0; t < 100; t++)
		flow_tick(&fl, a);

	/* Add E live: its prefix routes to it, a handshake starts, the packet follows. */
	CHECK(h_peer_config(e, &pc) == 0 &&
	          mg_device_add_peer(H.ctl, &pc, &pe, err, sizeof(err)) == 0,
	      "add E: %s", err);
	free(pc.allowed_ips);
	CHECK(H.ctl->gw.n_peers == peers + 1 && h_peer(e) == pe, "E is a peer");
	unsigned mark = H.n_wire;
	h_lan_send(e->inner, 1);
	CHECK(far_answer_initiation(e, mark), "the gateway initiated to E");
	CHECK(h_find(mark, e, WG_MSG_DATA, idx, 8) == 1 && far_opens(e, idx[0], 1),
	      "E got the staged packet");
	for (int t = 0; t < 100; t++)
		flow_tick(&fl, a);

	/* Replace B's allowed IPs: the new prefix routes to B, the old one nowhere. */
	struct mg_prefix np = {.family = 4, .len = 24, .addr = {172, 16, 22}};
	const uint8_t new_host[4] = {172, 16, 22, 5};
	CHECK(mg_device_set_allowed_ips(H.ctl, pb, &np, 1, true, err, sizeof(err)) == 0,
	      "replace B's allowed IPs: %s", err);
	CHECK(pb->n_allowed_ips == 1 && pb->allowed_ips[0].addr[2] == 22,
	      "B lists only the new one");
	mark = H.n_wire;
	h_lan_send(new_host, 2);
	CHECK(far_answer_initiation(b, mark) && h_find(mark, b, WG_MSG_DATA, idx, 8) == 1 &&
	          far_opens(b, idx[0], 2),
	      "the new prefix reaches B");
	mark = H.n_wire;
	h_lan_send(b->inner, 3);
	CHECK(drops(MG_DROP_NO_ROUTE) == no_route + 1 && h_find(mark, b, 0, idx, 8) == 0,
	      "the old prefix has no route");
	for (int t = 0; t < 100; t++)
		flow_tick(&fl, a);

	/* Remove E: no route, its session gone, nothing more sent to it. */
	uint32_t e_slot = pe->slot;
	struct mg_peer_tx st;
	mark = H.n_wire;
	h_lan_send(e->inner, 5); /* sealed by the worker: the staged packet was the control's */
	CHECK(h_find(mark, e, WG_MSG_DATA, idx, 8) == 1 && far_opens(e, idx[0], 5) &&
	          mg_peer_tx_read(mg_gateway_peer_tx(&H.ctl->gw, e_slot), &st),
	      "E's send state was built by its traffic");
	mg_device_remove_peer(H.ctl, pe);
	h_pump();
	CHECK(H.ctl->gw.n_peers == peers && !h_peer(e), "E removed");
	unsigned after_remove = H.n_wire;
	h_lan_send(e->inner, 4);
	CHECK(drops(MG_DROP_NO_ROUTE) == no_route + 2, "E's prefix has no route");
	CHECK(far_send_data(e, 5) && drops(MG_DROP_UNKNOWN_INDEX) == unknown + 1,
	      "E's session no longer opens");
	for (int t = 0; t < 100; t++)
		flow_tick(&fl, a);
	CHECK(h_find(after_remove, e, 0, idx, 8) == 0, "nothing sent to E after its removal");

	/* E again, in the slot it left (free slots are taken last in, first out, once the grace
	 * period returned it): the state the old E left there must not serve the new one, whose
	 * keys come from a new handshake. */
	h_pump();
	CHECK(h_peer_config(e, &pc) == 0 &&
	          mg_device_add_peer(H.ctl, &pc, &pe, err, sizeof(err)) == 0,
	      "add E again: %s", err);
	free(pc.allowed_ips);
	CHECK(pe && pe->slot == e_slot && pe->tx == mg_gateway_peer_tx(&H.ctl->gw, e_slot) &&
	          !mg_peer_tx_read(pe->tx, &st),
	      "E is back in its old slot, whose send state is stale");
	mark = H.n_wire;
	h_lan_send(e->inner, 6);
	CHECK(far_answer_initiation(e, mark) && h_find(mark, e, WG_MSG_DATA, idx, 8) == 1 &&
	          far_opens(e, idx[0], 6),
	      "the new E gets its staged packet under the new session");
	mark = H.n_wire;
	h_lan_send(e->inner, 7);
	CHECK(h_find(mark, e, WG_MSG_DATA, idx, 8) == 1 && far_opens(e, idx[0], 7),
	      "and the worker's next one");
	CHECK(mg_peer_tx_read(pe->tx, &st) && st.kp == wg_noise_keypair_current(&pe->remote),
	      "the slot's state is the new E's");
	mg_device_remove_peer(H.ctl, pe);
	h_pump();
	for (int t = 0; t < 100; t++)
		flow_tick(&fl, a);

	CHECK(fl.lan_ok == fl.sent && fl.far_ok == fl.sent,
	      "A's traffic through every change: %u sent each way, %u and %u arrived in order",
	      fl.sent, fl.lan_ok, fl.far_ok);
}

void test_private_key_change(void)
{
	static uint64_t rng = 77;
	struct far *a = &H.far[FAR_A];
	struct mg_peer *peer = h_peer(a);
	const struct mg_ctl_stats s0 = H.ctl->stats;
	uint8_t priv[WG_KEY_LEN], pub[WG_KEY_LEN];
	struct wg_msg_initiation stale;
	char err[256];
	unsigned idx[8];

	if (!peer || !far_handshake(a, 7000)) {
		CHECK(false, "fresh session with A");
		return;
	}
	struct wg_noise_keypair *old = wg_noise_keypair_current(&peer->remote);
	h_run(2 * H.ctl->durations.rekey_timeout_ns, H_MS);
	test_rng(&rng, priv, sizeof(priv));
	wg_x25519_public(pub, priv);
	unsigned mark = H.n_wire;
	CHECK(mg_device_set_private_key(H.ctl, priv, err, sizeof(err)) == 0, "new key: %s", err);
	wg_memzero(priv, sizeof(priv));
	CHECK(memcmp(H.ctl->gw.local.static_public, pub, WG_KEY_LEN) == 0, "the new identity");
	CHECK(old && !atomic_load(&old->valid), "the old session may no longer send");

	far_initiation(a, &stale); /* still MACed for the old key */
	far_send(a, &stale, sizeof(stale));
	CHECK(H.ctl->stats.hs_bad_mac == s0.hs_bad_mac + 1, "mac1 for the old key is refused");

	h_lan_send(a->inner, 7001);
	CHECK(h_find(mark, a, WG_MSG_DATA, idx, 8) == 0, "nothing sealed under the old session");
	CHECK(h_find(mark, a, WG_MSG_HANDSHAKE_INITIATION, idx, 8) == 1 && peer->n_staged == 1,
	      "the packet waits for a handshake under the new key");
	far_learn_gateway_key(a, pub);
	CHECK(far_answer_initiation(a, mark), "A, told the new key, accepts the initiation");
	CHECK(h_find(mark, a, WG_MSG_DATA, idx, 8) == 1 && far_opens(a, idx[0], 7001),
	      "the staged packet follows under the new session");
	CHECK(far_handshake(a, 7002), "A's own initiations to the new key are answered");
}

/* ---- (f) bad handshake input ---- */

struct snap {
	struct wg_noise_keypair *cur, *next, *prev;
	enum wg_noise_handshake_state hs;
	uint32_t hs_index;
	struct mg_sockaddr ep;
	unsigned n_staged;
	struct wg_timers timers;
};

static void snap_take(struct mg_peer *p, struct snap *s)
{
	memset(s, 0, sizeof(*s));
	s->cur = wg_noise_keypair_current(&p->remote);
	s->next = wg_noise_keypair_next(&p->remote);
	s->prev = wg_noise_keypair_previous(&p->remote);
	s->hs = wg_noise_remote_handshake_state(&p->remote);
	s->hs_index = p->remote.handshake.local_index;
	mg_endpoint_read(&p->endpoint, &s->ep);
	s->n_staged = p->n_staged;
	memcpy(&s->timers, &p->timers, sizeof(s->timers));
}

static bool snap_same(struct mg_peer *p, const struct snap *before)
{
	struct snap now;
	snap_take(p, &now);
	return memcmp(&now, before, sizeof(now)) == 0;
}

static void send_raw(struct far *x, const void *msg, size_t len)
{
	uint8_t f[H_FRAME_MAX];
	h_inject(MG_PORT_MESH, f, h_mesh_frame(f, x, x->ep, x->port, msg, len));
}

/* The frame put on the punt ring by hand, cut to len bytes. */
static void punt_cut(const uint8_t *frame, size_t len, const struct far *x)
{
	struct mg_sockaddr src = {.family = 4, .port = x->port};
	memcpy(src.addr, x->ep, 4);
	h_punt(h_mbuf(MG_PORT_MESH, frame, len), MG_PUNT_HANDSHAKE, 14, &src);
}

void test_bad_handshakes(void)
{
	struct far *a = &H.far[FAR_A];
	struct mg_peer *peer = h_peer(a);
	const struct mg_ctl_stats *st = &H.ctl->stats;
	struct wg_msg_initiation init, bad;
	struct wg_msg_response resp, rbad;
	uint8_t msg[sizeof(init) + 16], f[H_FRAME_MAX];
	struct snap before;

	if (!peer) {
		CHECK(false, "A is configured");
		return;
	}
	h_run(3 * H.ctl->durations.keepalive_timeout_ns, H_MS); /* let due timers fire first */
	snap_take(peer, &before);
	const struct mg_ctl_stats s0 = *st;
	const uint64_t invalid0 = drops(MG_DROP_WG_INVALID);
	unsigned mark = H.n_wire;
	far_initiation(a, &init); /* valid: only damaged copies are sent */

	/* Every other length: the worker refuses them before they reach the control thread. */
	unsigned n_len = 0;
	for (size_t len = 0; len < sizeof(msg); len++) {
		if (len == sizeof(init))
			continue;
		memset(msg, 0, sizeof(msg));
		memcpy(msg, &init, len < sizeof(init) ? len : sizeof(init));
		send_raw(a, msg, len);
		n_len++;
	}
	/* Bad type bytes at the initiation's length (4 would be a data message). */
	const uint8_t types[] = {0, 2, 3, 5, 0x41, 0xff};
	for (size_t i = 0; i < sizeof(types); i++) {
		bad = init;
		bad.header.type = htole32(types[i]);
		send_raw(a, &bad, sizeof(bad));
	}
	for (int r = 1; r < 4; r++) {
		bad = init;
		((uint8_t *)&bad)[r] = 1; /* a reserved byte */
		send_raw(a, &bad, sizeof(bad));
	}
	CHECK(drops(MG_DROP_WG_INVALID) == invalid0 + n_len + sizeof(types) + 3,
	      "every wrong length and type dropped by the worker as wg_invalid");

	/* The control thread's own checks: frames cut anywhere, bad UDP lengths, bad types. */
	size_t full = h_mesh_frame(f, a, a->ep, a->port, &init, sizeof(init));
	for (size_t cut = 0; cut < full; cut++)
		punt_cut(f, cut, a);
	uint8_t g[H_FRAME_MAX];
	memcpy(g, f, full);
	g[14 + 24] = 0x01; /* UDP length past the IP packet */
	punt_cut(g, full, a);
	memcpy(g, f, full);
	g[14 + 24] = 0;
	g[14 + 25] = 7; /* UDP length below its header */
	punt_cut(g, full, a);
	for (size_t i = 0; i < sizeof(types); i++) {
		bad = init;
		bad.header.type = htole32(types[i]);
		punt_cut(g, h_mesh_frame(g, a, a->ep, a->port, &bad, sizeof(bad)), a);
	}
	bad = init;
	bad.header.type = htole32(WG_MSG_DATA);
	punt_cut(g, h_mesh_frame(g, a, a->ep, a->port, &bad, sizeof(bad)), a);
	h_pump();
	CHECK(st->hs_malformed == s0.hs_malformed + full + 2 + sizeof(types) + 1,
	      "malformed punts counted: %llu of %zu",
	      (unsigned long long)(st->hs_malformed - s0.hs_malformed),
	      full + 2 + sizeof(types) + 1);

	/* Flipped bits: with the original macs mac1 fails; re-MACed (anyone knowing our public
	 * key can) Noise refuses them. Left out: the type bytes (covered above), mac2 (ignored
	 * when not under load, as in WireGuard) and, re-MACed, the sender index, which the
	 * handshake does not authenticate. */
	unsigned raw = 0, remac = 0;
	for (size_t i = 4; i < offsetof(struct wg_msg_initiation, macs.mac2); i++) {
		bad = init;
		((uint8_t *)&bad)[i] ^= (uint8_t)(1u << (i % 8));
		send_raw(a, &bad, sizeof(bad));
		raw++;
		if (i < 8 || i >= offsetof(struct wg_msg_initiation, macs))
			continue;
		wg_cookie_add_macs(a->maker, &bad, sizeof(bad), H.now);
		send_raw(a, &bad, sizeof(bad));
		remac++;
	}
	CHECK(st->hs_bad_mac == s0.hs_bad_mac + raw, "flipped bits: mac1 failed %llu of %u",
	      (unsigned long long)(st->hs_bad_mac - s0.hs_bad_mac), raw);
	CHECK(st->hs_rejected == s0.hs_rejected + remac, "re-MACed: Noise refused %llu of %u",
	      (unsigned long long)(st->hs_rejected - s0.hs_rejected), remac);
	CHECK(st->responses_sent == s0.responses_sent && st->cookies_sent == s0.cookies_sent &&
	          H.n_wire == mark,
	      "nothing answered");
	CHECK(snap_same(peer, &before), "A's keys, handshake, endpoint and timers unchanged");

	/* Responses to the gateway's initiation: damaged ones refused, the true one taken. */
	mg_hs_send_initiation(H.ctl, peer, H.now);
	h_pump();
	if (!far_build_response(a, mark, &resp)) {
		CHECK(false, "A answers the gateway's initiation");
		return;
	}
	snap_take(peer, &before);
	const struct mg_ctl_stats s1 = *st;
	raw = remac = 0;
	for (size_t i = 4; i < offsetof(struct wg_msg_response, macs.mac2); i++) {
		rbad = resp;
		((uint8_t *)&rbad)[i] ^= (uint8_t)(0x80u >> (i % 8));
		send_raw(a, &rbad, sizeof(rbad));
		raw++;
		if (i < 8 || i >= offsetof(struct wg_msg_response, macs))
			continue;
		wg_cookie_add_macs(a->maker, &rbad, sizeof(rbad), H.now);
		send_raw(a, &rbad, sizeof(rbad));
		remac++;
	}
	CHECK(st->hs_bad_mac == s1.hs_bad_mac + raw && st->hs_rejected == s1.hs_rejected + remac,
	      "damaged responses: %u bad mac1, %u refused by Noise", raw, remac);
	CHECK(snap_same(peer, &before) && before.hs == WG_NOISE_HANDSHAKE_CREATED_INITIATION,
	      "the gateway still waits, state unchanged");

	/* Cookie replies that match nothing. */
	struct wg_msg_cookie cookie;
	memset(&cookie, 0x5a, sizeof(cookie));
	cookie.header.type = htole32(WG_MSG_HANDSHAKE_COOKIE);
	send_raw(a, &cookie, sizeof(cookie));
	cookie.receiver_index = htole32(before.hs_index); /* ours, but not sealed by A's checker */
	send_raw(a, &cookie, sizeof(cookie));
	CHECK(st->cookies_rejected == s1.cookies_rejected + 2 &&
	          st->cookies_taken == s1.cookies_taken,
	      "stray cookie replies refused");
	CHECK(snap_same(peer, &before), "still unchanged");

	unsigned m2 = H.n_wire;
	send_raw(a, &resp, sizeof(resp));
	struct wg_noise_keypair *cur = wg_noise_keypair_current(&peer->remote);
	CHECK(cur && cur != before.cur && cur->is_initiator, "the true response completes it");
	unsigned idx[4];
	CHECK(h_find(m2, a, WG_MSG_DATA, idx, 4) == 1, "and the gateway confirms with a keepalive");
}

/* ---- (e) continued: the coordinator's map through the device's sink ---- */

void test_netmap_sink(void)
{
	struct far *e = &H.far[FAR_E];
	struct mg_control *ctl = H.ctl;
	const struct mg_prefix extra = {.family = 4, .len = 24, .addr = {172, 16, 55}};
	const uint8_t extra_host[4] = {172, 16, 55, 7};
	struct mg_prefix grant[2] = {e->prefix, extra};
	struct mg_netmap_peer mp;
	uint8_t removed[1][WG_KEY_LEN];
	unsigned idx[8];

	memset(&mp, 0, sizeof(mp));
	memcpy(mp.public_key, e->host.local.static_public, WG_KEY_LEN);
	mp.id = 5;
	snprintf(mp.name, sizeof(mp.name), "far-e");
	mp.map_allowed_ips = grant;
	mp.n_map_allowed_ips = 2;
	mp.endpoints[0] = (struct mg_sockaddr){.family = 4, .port = e->port};
	memcpy(mp.endpoints[0].addr, e->ep, 4);
	mp.n_endpoints = 1;
	mp.online = true;
	struct mg_netmap_update u = {.kind = MG_NETMAP_FULL, .seq = 1, .peers = &mp, .n_peers = 1};
	uint32_t peers = ctl->gw.n_peers;

	CHECK(mg_netmap_apply(&ctl->netmap, &u, time(NULL), &mg_device_netmap_sink, ctl) == 0,
	      "full map applied");
	struct mg_peer *pe = h_peer(e);
	CHECK(pe && ctl->gw.n_peers == peers + 1 && pe->n_allowed_ips == 2, "the map's peer is up");
	const struct mg_acl *acl = mg_gateway_acl(&ctl->gw);
	CHECK(acl && acl->n_rules4 == 0 && acl->n_rules6 == 0 &&
	          ctl->filter_source == MG_FILTER_COORD,
	      "a full map without a filter puts the empty one in force");
	if (!pe)
		return;
	unsigned mark = H.n_wire;
	h_lan_send(extra_host, 1);
	CHECK(far_answer_initiation(e, mark) && h_find(mark, e, WG_MSG_DATA, idx, 8) == 1 &&
	          far_opens(e, idx[0], 1),
	      "its granted prefix routes to it, through a handshake");

	/* A delta narrows its prefixes and names our overlay address. */
	struct wg_noise_keypair *kp = wg_noise_keypair_current(&pe->remote);
	uint64_t no_route = drops(MG_DROP_NO_ROUTE);
	size_t n_addr = mg_gateway_addrs(&ctl->gw)->n_addresses;
	mp.n_map_allowed_ips = 1;
	u = (struct mg_netmap_update){
	    .kind = MG_NETMAP_DELTA, .seq = 2, .peers = &mp, .n_peers = 1, .has_self = true};
	memcpy(u.self.public_key, ctl->gw.local.static_public, WG_KEY_LEN);
	u.self.addresses[0] = (struct mg_prefix){.family = 4, .len = 32, .addr = {100, 64, 0, 9}};
	u.self.n_addresses = 1;
	CHECK(mg_netmap_apply(&ctl->netmap, &u, time(NULL), &mg_device_netmap_sink, ctl) == 0,
	      "delta applied");
	CHECK(h_peer(e) == pe && pe->n_allowed_ips == 1 &&
	          wg_noise_keypair_current(&pe->remote) == kp,
	      "same peer, same session, one prefix left");
	mark = H.n_wire;
	h_lan_send(e->inner, 2);
	CHECK(h_find(mark, e, WG_MSG_DATA, idx, 8) == 1 && far_opens(e, idx[0], 2),
	      "the kept prefix still routes, no new handshake");
	h_lan_send(extra_host, 3);
	CHECK(drops(MG_DROP_NO_ROUTE) == no_route + 1, "the dropped one no longer does");
	const struct mg_dp_addrs *own = mg_gateway_addrs(&ctl->gw);
	CHECK(own->n_addresses == n_addr + 1 && own->addresses[n_addr].addr[3] == 9,
	      "the coordinator's overlay address joined the configured ones");

	/* A delta removes it. */
	memcpy(removed[0], mp.public_key, WG_KEY_LEN);
	u = (struct mg_netmap_update){
	    .kind = MG_NETMAP_DELTA, .seq = 3, .removed = removed, .n_removed = 1};
	CHECK(mg_netmap_apply(&ctl->netmap, &u, time(NULL), &mg_device_netmap_sink, ctl) == 0 &&
	          !h_peer(e) && ctl->gw.n_peers == peers && ctl->netmap.stats.sink_errors == 0,
	      "removed by the map, no sink errors");

	/* The sections after this one run as a static gateway: no policy. */
	char err[256];
	CHECK(mg_control_set_filter(ctl, NULL, MG_FILTER_NONE, err, sizeof(err)) == 0 &&
	          !mg_gateway_acl(&ctl->gw),
	      "back to no filter");
}
