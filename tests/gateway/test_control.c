// SPDX-License-Identifier: GPL-2.0-only
/*
 * The control thread as one component: the real struct mg_control (bring-up, device, handshake
 * driver, control loop) over ring ports, its worker driven by hand, against far WireGuard peers
 * built from wg/. Time is injected (control_harness.h) and the protocol timers are divided by
 * H_DIVISOR, so every timing below is exact to the test's step and nothing depends on load.
 *
 * (a) a far peer initiates: the response leaves on the mesh port, addressed and MACed right,
 *     the far peer consumes it, and its first data packet confirms the gateway's keypair;
 * (b) LAN traffic for a peer without keys is staged, an initiation goes out, and after the
 *     far peer's response the staged packets leave sealed, in order, the oldest beyond
 *     MG_STAGED_MAX dropped and counted;
 * (c) under load (the punt ring past its threshold) an initiation without mac2 gets a cookie
 *     reply, one with a valid mac2 passes, and the rate limiter caps a source; past the budget
 *     of initiations given a DH without a cookie in a window, the same;
 * (d) timers: retransmits with jitter and the give-up after the attempt limit (staged packets
 *     dropped), the passive keepalive, the new handshake when sent data gets no answer, the
 *     persistent keepalive, keys zeroed after 3 x REJECT_AFTER_TIME, and the rekey after
 *     REKEY_AFTER_TIME started by the gateway;
 * (e) live device changes (peers added and removed, allowed IPs replaced, the private key
 *     changed) while another peer's traffic flows without a loss, and the coordinator's
 *     map applied through the device's sink (add, narrow without a gap, self, remove);
 * (f) bad handshake input of every kind is counted and changes no state.
 * (c), (e) and (f) are in test_control_sections.c.
 */
#include <endian.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "control_harness.h"
#include "transport.h"

static const struct wg_timer_durations *durations(void)
{
	return &H.ctl->durations;
}

/* LAN frame i is inner packet seq from src to the host, forwarded (one hop) to its MAC. */
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

/* Mesh frame i is a data message for x carrying seq from the LAN host to dst. */
static bool far_got(struct far *x, unsigned i, const uint8_t dst[4], uint32_t seq,
                    uint64_t *counter)
{
	uint8_t plain[H_FRAME_MAX], s[4], d[4], ttl;
	size_t len;
	uint32_t got;
	struct udp_view v;
	return h_udp4(&H.wire[i], &v) && memcmp(v.eth, &x->mac, 6) == 0 &&
	       memcmp(v.eth + 6, &h_mesh_mac, 6) == 0 && memcmp(v.src, h_mesh4, 4) == 0 &&
	       v.sport == H_LISTEN &&
	       far_open(x, v.payload, v.len, plain, &len, counter) == WG_OK &&
	       h_inner_parse(plain, len, s, d, &got, &ttl) && memcmp(s, h_host4, 4) == 0 &&
	       memcmp(d, dst, 4) == 0 && got == seq && ttl == 63;
}

/* Mesh frame i is a keepalive x can open. */
static bool far_got_keepalive(struct far *x, unsigned i)
{
	uint8_t plain[64];
	size_t len = 1;
	struct udp_view v;
	return h_udp4(&H.wire[i], &v) && v.len == WG_DATA_OVERHEAD &&
	       far_open(x, v.payload, v.len, plain, &len, NULL) == WG_OK && len == 0;
}

/* ---- (a) ---- */

void test_far_initiates(void)
{
	struct far *a = &H.far[FAR_A];
	struct mg_peer *peer = h_peer(a);
	const struct mg_ctl_stats s0 = H.ctl->stats;
	struct wg_msg_initiation init;
	struct mg_sockaddr ep;
	struct udp_view v;
	unsigned idx[4];

	CHECK(peer && !wg_noise_keypair_current(&peer->remote), "A is configured, without keys");
	if (!peer)
		return;
	unsigned mark = H.n_wire;
	far_initiation(a, &init);
	far_send(a, &init, sizeof(init));
	CHECK(H.ctl->stats.hs_rx[1] == s0.hs_rx[1] + 1 &&
	          H.ctl->stats.responses_sent == s0.responses_sent + 1,
	      "one initiation in, one response out");
	unsigned n = h_find(mark, a, WG_MSG_HANDSHAKE_RESPONSE, idx, 4);
	CHECK(n == 1 && H.n_wire == mark + 1, "exactly one frame: the response to A");
	if (n == 1 && h_udp4(&H.wire[idx[0]], &v)) {
		const struct wg_msg_response *r = (const void *)v.payload;
		CHECK(memcmp(v.eth, &a->mac, 6) == 0 && memcmp(v.eth + 6, &h_mesh_mac, 6) == 0,
		      "to A's MAC from the mesh port's");
		CHECK(memcmp(v.src, h_mesh4, 4) == 0 && v.sport == H_LISTEN && v.dport == a->port,
		      "from the listen port to A's source port");
		CHECK(r->receiver_index == init.sender_index, "answers A's sender index");
	}
	CHECK(wg_noise_keypair_next(&peer->remote) && !wg_noise_keypair_current(&peer->remote),
	      "the responder's keypair waits for confirmation");
	CHECK(mg_endpoint_read(&peer->endpoint, &ep) && ep.port == a->port &&
	          memcmp(ep.addr, a->ep, 4) == 0,
	      "endpoint from the initiation");
	CHECK(far_take_response(a, mark), "A consumes the response (mac1, Noise, session)");

	struct wg_noise_keypair *next = wg_noise_keypair_next(&peer->remote);
	uint64_t events = H.ctl->stats.events;
	mark = H.n_wire;
	CHECK(far_send_data(a, 1), "A seals its first packet");
	CHECK(wg_noise_keypair_current(&peer->remote) == next &&
	          !wg_noise_keypair_next(&peer->remote),
	      "the first data packet confirmed the keypair");
	CHECK(H.ctl->stats.events == events + 1, "through one KEY_CONFIRMED event");
	CHECK(peer->last_handshake_realtime_ns != 0, "handshake time recorded for wg show");
	CHECK(H.n_wire == mark + 1 && lan_frame_is(mark, a->inner, 1),
	      "the packet came out on the LAN, one hop on");
	mark = H.n_wire;
	CHECK(far_send_data(a, 2) && H.ctl->stats.events == events + 1 &&
	          lan_frame_is(mark, a->inner, 2),
	      "later packets post no event");

	mark = H.n_wire;
	h_lan_send(a->inner, 3);
	CHECK(h_find(mark, a, WG_MSG_DATA, idx, 4) == 1 && far_got(a, idx[0], a->inner, 3, NULL),
	      "the LAN's answer reaches A sealed under the confirmed keypair");
}

/* ---- (b) ---- */

void test_staged(void)
{
	enum { EXTRA = 10, SENT = MG_STAGED_MAX + EXTRA };
	struct far *b = &H.far[FAR_B];
	struct mg_peer *peer = h_peer(b);
	const struct mg_ctl_stats s0 = H.ctl->stats;
	static struct rte_mbuf *m[SENT];
	static unsigned idx[SENT];
	uint8_t f[H_FRAME_MAX];

	if (!peer) {
		CHECK(false, "B is configured");
		return;
	}
	unsigned mark = H.n_wire;
	for (unsigned i = 0; i < SENT; i++)
		m[i] = h_mbuf(MG_PORT_LAN, f, h_lan_frame(f, b->inner, i));
	h_rx(m, SENT);
	h_pump();
	CHECK(peer->n_staged == MG_STAGED_MAX, "staged %u of %u", peer->n_staged, SENT);
	CHECK(H.ctl->stats.staged_dropped == s0.staged_dropped + EXTRA,
	      "the %u oldest beyond the bound dropped and counted", EXTRA);
	CHECK(H.ctl->stats.initiations_sent == s0.initiations_sent + 1 &&
	          h_find(mark, b, WG_MSG_HANDSHAKE_INITIATION, idx, 4) == 1 &&
	          h_find(mark, b, WG_MSG_DATA, idx, 4) == 0,
	      "one initiation and no data for B");

	CHECK(far_answer_initiation(b, mark), "B consumes the initiation and responds");
	unsigned n = h_find(mark, b, WG_MSG_DATA, idx, SENT), in_order = 0;
	CHECK(n == MG_STAGED_MAX, "%u sealed packets came out", n);
	for (unsigned i = 0; i < n && i < SENT; i++) {
		uint64_t counter;
		in_order += far_got(b, idx[i], b->inner, EXTRA + i, &counter) && counter == i;
	}
	CHECK(in_order == MG_STAGED_MAX, "all newest %u in order, nonces 0..%u (%u were)",
	      MG_STAGED_MAX, MG_STAGED_MAX - 1, in_order);
	CHECK(peer->n_staged == 0 && H.ctl->stats.staged_sent == s0.staged_sent + MG_STAGED_MAX &&
	          H.ctl->stats.keepalives_sent == s0.keepalives_sent,
	      "the staged packets confirmed the keys (no keepalive needed)");
	struct wg_noise_keypair *kp = wg_noise_keypair_current(&peer->remote);
	CHECK(kp && kp->is_initiator, "the gateway initiated this session");
	CHECK(far_send_keepalive(b), "B answers");
}

/* ---- (d) timers ---- */

void test_rekey_after_time(void)
{
	struct far *b = &H.far[FAR_B];
	struct mg_peer *peer = h_peer(b);
	const struct wg_timer_durations *d = durations();
	unsigned idx[8];

	struct wg_noise_keypair *old = peer ? wg_noise_keypair_current(&peer->remote) : NULL;
	if (!old || !old->is_initiator) {
		CHECK(false, "B has a session the gateway initiated");
		return;
	}
	h_run_until(old->birth_ns + d->rekey_after_time_ns - 5 * H_MS, H_MS);
	unsigned mark = H.n_wire;
	h_lan_send(b->inner, 1000);
	CHECK(h_find(mark, b, WG_MSG_DATA, idx, 8) == 1 && far_got(b, idx[0], b->inner, 1000, NULL),
	      "young keypair: data goes out");
	CHECK(h_find(mark, b, WG_MSG_HANDSHAKE_INITIATION, idx, 8) == 0, "and no handshake");
	far_send_keepalive(b);

	h_run_until(old->birth_ns + d->rekey_after_time_ns + 5 * H_MS, H_MS);
	mark = H.n_wire;
	h_lan_send(b->inner, 1001);
	CHECK(h_find(mark, b, WG_MSG_DATA, idx, 8) == 1 && far_got(b, idx[0], b->inner, 1001, NULL),
	      "past REKEY_AFTER_TIME the old keypair still sends");
	CHECK(h_find(mark, b, WG_MSG_HANDSHAKE_INITIATION, idx, 8) == 1,
	      "and the gateway starts a new handshake");
	CHECK(far_answer_initiation(b, mark), "B answers it");
	struct wg_noise_keypair *cur = wg_noise_keypair_current(&peer->remote);
	CHECK(cur && cur != old && cur->is_initiator &&
	          wg_noise_keypair_previous(&peer->remote) == old,
	      "new keypair current, old one previous");
	CHECK(h_find(mark, b, WG_MSG_DATA, idx, 8) == 2 && far_got_keepalive(b, idx[1]),
	      "a keepalive confirms the new keys to B");
	mark = H.n_wire;
	h_lan_send(b->inner, 1002);
	struct udp_view v;
	CHECK(h_find(mark, b, WG_MSG_DATA, idx, 8) == 1 && h_udp4(&H.wire[idx[0]], &v) &&
	          ((const struct wg_msg_data *)v.payload)->key_idx == htole32(cur->remote_index) &&
	          far_got(b, idx[0], b->inner, 1002, NULL),
	      "traffic moved to the new keypair");
	far_send_keepalive(b);
}

void test_keepalives(void)
{
	struct far *a = &H.far[FAR_A];
	struct mg_peer *peer = h_peer(a);
	const struct wg_timer_durations *d = durations();
	const uint64_t step = 100 * H_US;
	unsigned idx[32];

	if (!peer || !far_handshake(a, 2000)) {
		CHECK(false, "fresh session with A");
		return;
	}
	/* Passive: A's data arrived, the gateway had nothing to send back. */
	uint64_t t_rx = H.now;
	unsigned mark = H.n_wire;
	h_run(3 * d->keepalive_timeout_ns, step);
	unsigned n = h_find(mark, a, 0, idx, 32);
	CHECK(n == 1 && far_got_keepalive(a, idx[0]), "one keepalive to A (%u frames)", n);
	if (n == 1)
		CHECK(H.wire[idx[0]].at >= t_rx + d->keepalive_timeout_ns &&
		          H.wire[idx[0]].at <= t_rx + d->keepalive_timeout_ns + step,
		      "KEEPALIVE_TIMEOUT after the data (%llu ns)",
		      (unsigned long long)(H.wire[idx[0]].at - t_rx));

	/* Sent data that gets no answer: a new handshake after KEEPALIVE + REKEY_TIMEOUT. */
	uint64_t t_tx = H.now, wait = d->keepalive_timeout_ns + d->rekey_timeout_ns;
	mark = H.n_wire;
	h_lan_send(a->inner, 2001);
	h_run(wait + d->rekey_jitter_max_ns + 2 * step, step);
	n = h_find(mark, a, WG_MSG_HANDSHAKE_INITIATION, idx, 32);
	CHECK(n == 1, "one initiation after unanswered data (%u)", n);
	if (n == 1)
		CHECK(H.wire[idx[0]].at >= t_tx + wait &&
		          H.wire[idx[0]].at <= t_tx + wait + d->rekey_jitter_max_ns + step,
		      "at KEEPALIVE + REKEY_TIMEOUT + jitter (%llu ns)",
		      (unsigned long long)(H.wire[idx[0]].at - t_tx));
	CHECK(far_answer_initiation(a, mark), "A answers");

	/* Persistent: at once when switched on, then every interval while idle. */
	const uint64_t unit = d->persistent_keepalive_unit_ns;
	uint64_t t_on = H.now;
	mark = H.n_wire;
	mg_device_set_keepalive(H.ctl, peer, 1);
	h_pump();
	h_run(10 * unit + unit / 2, step);
	n = h_find(mark, a, WG_MSG_DATA, idx, 32);
	unsigned good = 0;
	for (unsigned i = 0; i < n && i < 32; i++) {
		uint64_t want = t_on + i * unit;
		good += far_got_keepalive(a, idx[i]) && H.wire[idx[i]].at >= want &&
		        H.wire[idx[i]].at <= want + step;
	}
	CHECK(n == 11 && good == 11, "persistent keepalives at 0, 1, ..., 10 intervals (%u, %u)", n,
	      good);
	mg_device_set_keepalive(H.ctl, peer, 0);
	mark = H.n_wire;
	h_run(5 * unit, step);
	CHECK(h_find(mark, a, 0, idx, 32) == 0, "switched off: silence");
}

void test_retransmit_and_give_up(void)
{
	struct far *c = &H.far[FAR_C];
	struct mg_peer *peer = h_peer(c);
	const struct wg_timer_durations *d = durations();
	const struct mg_ctl_stats s0 = H.ctl->stats;
	const uint64_t step = 100 * H_US, slot = d->rekey_timeout_ns + d->rekey_jitter_max_ns;
	/* The first initiation, then one per retransmit timer expiry while attempts <= the limit:
	 * the kernel's rule (timers.c) gives max_handshake_attempts + 1 retransmissions. */
	const unsigned want = d->max_handshake_attempts + 2;
	unsigned idx[64], n;

	if (!peer) {
		CHECK(false, "C is configured");
		return;
	}
	unsigned mark = H.n_wire;
	for (uint32_t i = 0; i < 3; i++)
		h_lan_send(c->inner, 3000 + i);
	CHECK(peer->n_staged == 3, "three packets wait for C");
	h_run((want + 3) * slot, step);
	n = h_find(mark, c, WG_MSG_HANDSHAKE_INITIATION, idx, 64);
	CHECK(n == want, "%u initiations, want %u", n, want);

	unsigned spaced = 0, distinct_gaps = 0, fresh = 0, macs = 0;
	uint64_t first_gap = 0;
	uint32_t senders[64];
	for (unsigned i = 0; i < n && i < 64; i++) {
		struct udp_view v;
		if (!h_udp4(&H.wire[idx[i]], &v))
			continue;
		macs += wg_cookie_validate(&c->host.checker, v.payload, v.len, NULL, false,
		                           H.now) == WG_COOKIE_MAC_VALID;
		senders[i] = ((const struct wg_msg_initiation *)v.payload)->sender_index;
		bool again = false;
		for (unsigned j = 0; j < i; j++)
			again |= senders[j] == senders[i];
		fresh += !again;
		if (i == 0)
			continue;
		uint64_t gap = H.wire[idx[i]].at - H.wire[idx[i - 1]].at;
		spaced += gap >= d->rekey_timeout_ns && gap <= slot + step;
		if (i == 1)
			first_gap = gap;
		else
			distinct_gaps += gap != first_gap;
	}
	CHECK(spaced + 1 == n && n > 1, "every retransmit REKEY_TIMEOUT + [0, jitter) later");
	CHECK(distinct_gaps > 0, "the gaps vary: jitter");
	CHECK(fresh == n && macs == n, "each a new handshake with a valid mac1");
	CHECK(peer->n_staged == 0 && H.ctl->stats.staged_dropped == s0.staged_dropped + 3,
	      "giving up dropped the staged packets");
	mark = H.n_wire;
	h_run(10 * slot, H_MS);
	CHECK(h_find(mark, c, 0, idx, 64) == 0, "and nothing more is sent");
}

void test_zero_keys(void)
{
	struct far *x = &H.far[FAR_D];
	struct mg_peer *peer = h_peer(x);
	const struct wg_timer_durations *d = durations();
	struct mg_worker_counters *wc = &H.w->counters;

	if (!peer || !far_handshake(x, 4000)) {
		CHECK(false, "fresh session with D");
		return;
	}
	/* The gateway derived its session when it sent the response, at this instant. */
	uint64_t zero_at = H.now + 3 * d->reject_after_time_ns;
	h_run_until(zero_at - 2 * H_MS, H_MS);
	CHECK(wg_noise_keypair_current(&peer->remote) != NULL, "keys kept before 3 x REJECT");
	h_run_until(zero_at + 2 * H_MS, H_MS);
	CHECK(!wg_noise_keypair_current(&peer->remote) && !wg_noise_keypair_next(&peer->remote) &&
	          !wg_noise_keypair_previous(&peer->remote) &&
	          wg_noise_remote_handshake_state(&peer->remote) == WG_NOISE_HANDSHAKE_ZEROED,
	      "every key zeroed at 3 x REJECT_AFTER_TIME");
	uint64_t unknown = wc->drops[MG_DROP_UNKNOWN_INDEX];
	unsigned mark = H.n_wire;
	CHECK(far_send_data(x, 4001) && wc->drops[MG_DROP_UNKNOWN_INDEX] == unknown + 1 &&
	          h_count_lan(mark) == 0,
	      "D's old session no longer opens");
}

/* The receive times the timers are fed: the newest data time over the workers' counters rows,
 * and for authenticated packets the newer of that and the peer's keepalive time. */
static void test_rx_times_over_workers(void)
{
	static struct mg_gateway gw;
	static struct mg_peer peer;
	static struct mg_peer_counters rows[2][4];
	uint64_t auth, data;

	gw.n_workers = 2;
	gw.peer_counters[0] = rows[0];
	gw.peer_counters[1] = rows[1];
	peer.slot = 2;
	mg_peer_rx_times(&gw, &peer, &auth, &data);
	CHECK(auth == 0 && data == 0, "nothing received: never");
	atomic_store(&rows[0][2].last_rx_ns, 500);
	atomic_store(&rows[1][2].last_rx_ns, 700);
	atomic_store(&rows[1][1].last_rx_ns, 900); /* another peer's */
	atomic_store(&peer.last_keepalive_rx_ns, 600);
	mg_peer_rx_times(&gw, &peer, &auth, &data);
	CHECK(data == 700 && auth == 700, "data on worker 1 is the newest (%llu, %llu)",
	      (unsigned long long)data, (unsigned long long)auth);
	atomic_store(&peer.last_keepalive_rx_ns, 800);
	mg_peer_rx_times(&gw, &peer, &auth, &data);
	CHECK(data == 700 && auth == 800, "a later keepalive moves only the authenticated time");
	gw.peer_counters[1] = NULL; /* a worker not started */
	mg_peer_rx_times(&gw, &peer, &auth, &data);
	CHECK(data == 500 && auth == 800, "rows of absent workers are skipped");
}

int main(int argc, char **argv)
{
	(void)argc;
	test_rx_times_over_workers();
	if (h_setup(argv[0]) != 0) {
		CHECK(false, "set-up");
		h_teardown();
		return check_done("control_thread");
	}
	CHECK(H.ctl->gw.n_peers == FAR_CONFIGURED, "%u configured peers up", H.ctl->gw.n_peers);
	test_far_initiates();
	test_staged();
	test_rekey_after_time();
	test_keepalives();
	test_retransmit_and_give_up();
	test_zero_keys();
	test_under_load();
	test_unproven_budget();
	test_device_changes();
	test_netmap_sink();
	test_filter_enforced();
	test_private_key_change();
	test_bad_handshakes();
	CHECK(H.wire_lost == 0, "wire log kept every frame (%u lost)", H.wire_lost);
	h_teardown();
	return check_done("control_thread");
}
