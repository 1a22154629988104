// SPDX-License-Identifier: GPL-2.0-only
/*
 * The handshake lcores' loop and their hand-off to the control thread (handshake_lcores.h).
 * The order of the calls for one initiation follows gateway/handshake.c's input_initiation and
 * send_response, which the control lcore runs when there are no handshake lcores.
 */
#include "handshake_lcores.h"

#include <endian.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_mbuf.h>
#include <rte_pause.h>
#include <rte_rcu_qsbr.h>
#include <rte_ring.h>
#include <rte_ring_elem.h>

#include "control.h"
#include "crypto.h"
#include "handshake.h"
#include "noise.h"
#include "punt.h"
#include "transport.h"

#define HS_RING_SIZE   4096
#define DONE_RING_SIZE 4096
#define HS_BURST       16
#define DONE_BURST     32
#define MAX_RELEASE    2

enum result_kind { RESULT_RESPONSE, RESULT_INITIATOR, RESULT_COOKIE, RESULT_RELEASE };

/* One result for the control thread; a multiple of 4 bytes for the element ring. */
struct mg_hs_result {
	uint8_t kind;
	uint8_t n_release;
	uint16_t rx_len; /* the initiation's length, for the peer's byte counters */
	uint32_t peer_slot;
	struct mg_peer *peer;
	uint64_t now_ns;
	struct mg_sockaddr src;
	struct wg_noise_keypair *release[MAX_RELEASE];
	union {
		struct wg_msg_response response;
		struct wg_msg_cookie cookie;
	} msg;
};

/* What the Noise upcalls left for the handshake in progress on this thread. */
static _Thread_local struct mg_peer *found_peer;
static _Thread_local struct mg_hs_result *release_sink;

void mg_hs_found_peer(struct mg_peer *peer)
{
	found_peer = peer;
}

struct mg_peer *mg_hs_take_found(void)
{
	struct mg_peer *p = found_peer;
	found_peer = NULL;
	return p;
}

bool mg_hs_keep_release(void *kp)
{
	if (!release_sink || release_sink->n_release == MAX_RELEASE)
		return false;
	release_sink->release[release_sink->n_release++] = kp;
	return true;
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void count(uint64_t *c)
{
	__atomic_store_n(c, *c + 1, __ATOMIC_RELAXED);
}

/* ---- set-up ---- */

static void rng(void *ctx, void *buf, size_t len)
{
	(void)ctx;
	wg_random_bytes(buf, len);
}

int mg_hs_lcores_init(struct mg_control *ctl, char *err, size_t errlen)
{
	struct mg_gateway *gw = &ctl->gw;
	char name[RTE_RING_NAMESIZE];

	for (unsigned i = 0; i < ctl->cfg.n_handshake_lcores; i++) {
		unsigned lcore = ctl->cfg.handshake_lcores[i];
		int socket = lcore < RTE_MAX_LCORE ? (int)rte_lcore_to_socket_id(lcore) : 0;
		struct mg_hs_lcore *hs =
		    rte_zmalloc_socket("mg_hs_lcore", sizeof(*hs), RTE_CACHE_LINE_SIZE, socket);
		if (!hs) {
			snprintf(err, errlen, "no memory for handshake lcore %u", lcore);
			return -1;
		}
		ctl->hs_lcores[i] = hs;
		ctl->n_hs_lcores = i + 1;
		hs->ctl = ctl;
		hs->id = i;
		hs->lcore = lcore;
		hs->rcu_id = gw->n_workers + i;
		snprintf(name, sizeof(name), "mg_hs%u", i);
		gw->hs_rings[i] = rte_ring_create(name, HS_RING_SIZE, socket, RING_F_SC_DEQ);
		snprintf(name, sizeof(name), "mg_hs_done%u", i);
		hs->done = rte_ring_create_elem(name, sizeof(struct mg_hs_result), DONE_RING_SIZE,
		                                socket, RING_F_SP_ENQ | RING_F_SC_DEQ);
		hs->ratelimiter = wg_ratelimiter_new(WG_RATELIMITER_DEFAULT_CAPACITY, rng, NULL);
		if (!gw->hs_rings[i] || !hs->done || !hs->ratelimiter) {
			snprintf(err, errlen, "cannot create the rings of handshake lcore %u: %s",
			         lcore, rte_strerror(rte_errno));
			return -1;
		}
		if (wg_cookie_checker_init(&hs->checker, gw->local.static_public, rng, NULL) !=
		    WG_OK) {
			snprintf(err, errlen, "cannot initialise handshake lcore %u's cookies",
			         lcore);
			return -1;
		}
		if (rte_rcu_qsbr_thread_register(gw->rcu, hs->rcu_id) != 0) {
			snprintf(err, errlen, "cannot register handshake lcore %u with RCU", lcore);
			return -1;
		}
	}
	/* Only now do the workers send initiations there: every ring exists. */
	gw->n_hs_rings = ctl->n_hs_lcores;
	return 0;
}

int mg_hs_lcores_launch(struct mg_control *ctl, char *err, size_t errlen)
{
	for (unsigned i = 0; i < ctl->n_hs_lcores; i++) {
		int rc = rte_eal_remote_launch(mg_hs_lcore_main, ctl->hs_lcores[i],
		                               ctl->hs_lcores[i]->lcore);
		if (rc != 0) {
			snprintf(err, errlen, "cannot launch the handshake lcore %u: %s",
			         ctl->hs_lcores[i]->lcore, strerror(-rc));
			return -1;
		}
		ctl->workers_launched = true;
		ctl->hs_launched = true;
	}
	return 0;
}

static void result_release(struct mg_control *ctl, const struct mg_hs_result *r)
{
	for (unsigned k = 0; k < r->n_release; k++)
		mg_control_release_keypair(ctl, r->release[k]);
}

void mg_hs_lcores_fini(struct mg_control *ctl)
{
	struct mg_gateway *gw = &ctl->gw;
	gw->n_hs_rings = 0;
	for (unsigned i = 0; i < ctl->n_hs_lcores; i++) {
		struct mg_hs_lcore *hs = ctl->hs_lcores[i];
		struct rte_mbuf *m;
		struct mg_hs_result r;
		if (gw->hs_rings[i])
			while (rte_ring_sc_dequeue(gw->hs_rings[i], (void **)&m) == 0)
				rte_pktmbuf_free(m);
		rte_ring_free(gw->hs_rings[i]);
		gw->hs_rings[i] = NULL;
		if (hs->done)
			while (rte_ring_sc_dequeue_elem(hs->done, &r, sizeof(r)) == 0)
				result_release(ctl, &r);
		rte_ring_free(hs->done);
		wg_ratelimiter_free(hs->ratelimiter);
		wg_cookie_checker_clear(&hs->checker);
		rte_free(hs);
		ctl->hs_lcores[i] = NULL;
	}
	ctl->n_hs_lcores = 0;
}

/* ---- the lcore ---- */

/* Hands r to the control thread. It drains the ring every pass (also while it waits for a
 * pause), so a full ring only means waiting a moment; nothing in r may be lost (keypairs). */
static void post(struct mg_hs_lcore *hs, const struct mg_hs_result *r)
{
	while (rte_ring_sp_enqueue_elem(hs->done, (void *)(uintptr_t)r, sizeof(*r)) != 0) {
		if (atomic_load_explicit(&hs->ctl->gw.stop, memory_order_relaxed))
			return; /* shutdown: mg_hs_lcores_fini frees what is left */
		if (hs->rcu_online)
			rte_rcu_qsbr_quiescent(hs->ctl->gw.rcu, hs->rcu_id);
		rte_pause();
	}
}

/* mac1, and under load mac2 and the rate limit, as the control lcore's macs_ok; answers with a
 * cookie reply when mac2 is due. */
static bool macs_ok(struct mg_hs_lcore *hs, const void *msg, size_t len,
                    const struct mg_sockaddr *src, uint64_t now_ns)
{
	struct wg_endpoint ep = {.family = src->family, .port = src->port};
	struct mg_hs_result r = {.src = *src, .now_ns = now_ns};

	const struct rte_ring *q = hs->ctl->gw.hs_rings[hs->id];
	bool load =
	    mg_hs_load_under(&hs->load, rte_ring_count(q), rte_ring_get_capacity(q), now_ns);
	const struct wg_msg_header *h = msg;

	memcpy(ep.addr, src->addr, sizeof(ep.addr));
	switch (wg_cookie_validate(&hs->checker, msg, len, &ep, load, now_ns)) {
	case WG_COOKIE_MAC_VALID:
		if (h->type == htole32(WG_MSG_HANDSHAKE_INITIATION))
			mg_hs_load_unproven(&hs->load, now_ns); /* on to the DH */
		return true;
	case WG_COOKIE_MAC_VALID_WITH_COOKIE:
		if (wg_ratelimiter_allow(hs->ratelimiter, &ep, now_ns))
			return true;
		count(&hs->stats.ratelimited);
		return false;
	case WG_COOKIE_NEEDS_COOKIE:
		if (wg_cookie_reply_create(&hs->checker, &r.msg.cookie, msg, len, &ep, now_ns) !=
		    WG_OK)
			return false;
		r.kind = RESULT_COOKIE;
		r.peer_slot = MG_PUNT_NO_PEER;
		post(hs, &r);
		count(&hs->stats.cookies);
		return false;
	default:
		count(&hs->stats.bad_mac);
		return false;
	}
}

static void initiation(struct mg_hs_lcore *hs, const struct wg_msg_initiation *msg, size_t len,
                       const struct mg_sockaddr *src, uint64_t now_ns)
{
	struct mg_control *ctl = hs->ctl;
	struct mg_hs_result r = {.src = *src, .now_ns = now_ns, .rx_len = (uint16_t)len};
	struct wg_noise_remote *remote;

	if (!macs_ok(hs, msg, len, src, now_ns))
		return;
	release_sink = &r;
	enum wg_result res = wg_noise_consume_initiation(&ctl->gw.local, msg, &remote);
	struct mg_peer *peer = mg_hs_take_found();
	if (res == WG_OK) {
		res = wg_noise_create_response(remote, &r.msg.response);
		if (res == WG_OK) {
			wg_cookie_add_macs(&peer->cookie, &r.msg.response, sizeof(r.msg.response),
			                   now_ns);
			res = wg_noise_begin_session(remote);
		}
	}
	if (peer)
		rte_spinlock_unlock(&peer->hs_lock);
	release_sink = NULL;
	if (res != WG_OK) {
		count(&hs->stats.rejected);
		if (r.n_release) {
			r.kind = RESULT_RELEASE;
			post(hs, &r);
		}
		wg_memzero(&r, sizeof(r));
		return;
	}
	r.kind = RESULT_RESPONSE;
	r.peer = peer;
	r.peer_slot = peer->slot;
	post(hs, &r);
	count(&hs->stats.handshakes);
	wg_memzero(&r, sizeof(r));
}

/* A response to an initiation the control lcore sent for a peer this lcore owns. */
static void response(struct mg_hs_lcore *hs, const struct wg_msg_response *msg, size_t len,
                     const struct mg_sockaddr *src, uint64_t now_ns)
{
	struct mg_control *ctl = hs->ctl;
	struct mg_hs_result r = {.src = *src, .now_ns = now_ns, .rx_len = (uint16_t)len};
	struct wg_noise_remote *remote = NULL;

	if (!macs_ok(hs, msg, len, src, now_ns))
		return;
	struct mg_peer *peer = mg_hs_lock_index_owner(ctl, le32toh(msg->receiver_index));
	enum wg_result res = WG_ERR_UNKNOWN_PEER;
	release_sink = &r;
	if (peer) {
		res = wg_noise_consume_response(&ctl->gw.local, msg, &remote);
		if (res == WG_OK)
			res = wg_noise_begin_session(remote);
		rte_spinlock_unlock(&peer->hs_lock);
	}
	release_sink = NULL;
	if (res != WG_OK) {
		count(&hs->stats.rejected);
		if (r.n_release) {
			r.kind = RESULT_RELEASE;
			post(hs, &r);
		}
		return;
	}
	r.kind = RESULT_INITIATOR;
	r.peer = mg_peer_of_remote(remote);
	r.peer_slot = r.peer->slot;
	post(hs, &r);
	count(&hs->stats.responses);
}

static void cookie_reply(struct mg_hs_lcore *hs, const struct wg_msg_cookie *msg, size_t len,
                         uint64_t now_ns)
{
	struct mg_peer *peer = mg_hs_lock_index_owner(hs->ctl, le32toh(msg->receiver_index));
	bool ok = peer && wg_cookie_consume_reply(&peer->cookie, msg, len, now_ns) == WG_OK;
	if (peer)
		rte_spinlock_unlock(&peer->hs_lock);
	count(ok ? &hs->stats.cookies_taken : &hs->stats.rejected);
}

static void one(struct mg_hs_lcore *hs, struct rte_mbuf *m, uint64_t now_ns)
{
	const struct mg_sockaddr src = mg_punt_meta(m)->src;
	union {
		struct wg_msg_initiation init;
		struct wg_msg_response resp;
		struct wg_msg_cookie cookie;
	} msg;
	size_t len = 0;

	if (mg_hs_extract(m, &msg, sizeof(msg), &len) != 0) {
		count(&hs->stats.malformed);
	} else {
		switch (wg_transport_classify((const uint8_t *)&msg, len)) {
		case WG_MSG_HANDSHAKE_INITIATION:
			count(&hs->stats.initiations);
			initiation(hs, &msg.init, len, &src, now_ns);
			break;
		case WG_MSG_HANDSHAKE_RESPONSE:
			response(hs, &msg.resp, len, &src, now_ns);
			break;
		case WG_MSG_HANDSHAKE_COOKIE:
			cookie_reply(hs, &msg.cookie, len, now_ns);
			break;
		default:
			count(&hs->stats.malformed);
			break;
		}
	}
	wg_memzero(&msg, sizeof(msg));
	rte_pktmbuf_free(m);
}

static void wait_while_paused(struct mg_hs_lcore *hs)
{
	struct mg_gateway *gw = &hs->ctl->gw;
	/* Odd: a pause; each pause has its own number, so an old acknowledgement never
	 * answers a new one. */
	uint32_t g = atomic_load_explicit(&hs->ctl->hs_pause, memory_order_acquire);
	if (!(g & 1))
		return;
	atomic_store_explicit(&hs->pause_ack, g, memory_order_release);
	while (atomic_load_explicit(&hs->ctl->hs_pause, memory_order_acquire) == g &&
	       !atomic_load_explicit(&gw->stop, memory_order_relaxed)) {
		if (hs->rcu_online)
			rte_rcu_qsbr_quiescent(gw->rcu, hs->rcu_id);
		rte_pause();
	}
}

unsigned mg_hs_lcore_poll(struct mg_hs_lcore *hs)
{
	struct mg_control *ctl = hs->ctl;
	struct rte_mbuf *pkts[HS_BURST];

	wait_while_paused(hs);
	unsigned n =
	    rte_ring_sc_dequeue_burst(ctl->gw.hs_rings[hs->id], (void **)pkts, HS_BURST, NULL);
	if (n) {
		uint64_t c0 = thread_cpu_ns();
		uint64_t now_ns = mg_control_now(ctl);
		for (unsigned i = 0; i < n; i++)
			one(hs, pkts[i], now_ns);
		__atomic_store_n(&hs->stats.busy_cpu_ns,
		                 hs->stats.busy_cpu_ns + (thread_cpu_ns() - c0), __ATOMIC_RELAXED);
	}
	/* Polled by a test on its own thread, the lcore never went online: reporting would. */
	if (hs->rcu_online)
		rte_rcu_qsbr_quiescent(ctl->gw.rcu, hs->rcu_id);
	atomic_fetch_add_explicit(&hs->passes, 1, memory_order_release);
	return n;
}

int mg_hs_lcore_main(void *arg)
{
	struct mg_hs_lcore *hs = arg;
	struct mg_gateway *gw = &hs->ctl->gw;
	uint32_t max_sleep = gw->conf.idle_max_sleep_us ? gw->conf.idle_max_sleep_us : 1000;
	uint32_t sleep_us = 0;

	rte_rcu_qsbr_thread_online(gw->rcu, hs->rcu_id);
	hs->rcu_online = true;
	while (!atomic_load_explicit(&gw->stop, memory_order_relaxed)) {
		if (mg_hs_lcore_poll(hs)) {
			sleep_us = 0;
			continue;
		}
		if (!gw->conf.idle_backoff) {
			rte_pause();
			continue;
		}
		/* Idle: off the CPU, offline for RCU so grace periods need not wait for us. */
		sleep_us = sleep_us ? (sleep_us * 2 > max_sleep ? max_sleep : sleep_us * 2) : 1;
		rte_rcu_qsbr_thread_offline(gw->rcu, hs->rcu_id);
		const struct timespec ts = {.tv_nsec = (long)sleep_us * 1000};
		nanosleep(&ts, NULL);
		rte_rcu_qsbr_thread_online(gw->rcu, hs->rcu_id);
	}
	hs->rcu_online = false;
	rte_rcu_qsbr_thread_offline(gw->rcu, hs->rcu_id);
	return 0;
}

/* ---- the control thread's side ---- */

unsigned mg_hs_lcores_poll(struct mg_control *ctl, uint64_t now_ns)
{
	struct mg_hs_result r[DONE_BURST];
	unsigned total = 0;

	for (unsigned i = 0; i < ctl->n_hs_lcores; i++) {
		unsigned n = rte_ring_sc_dequeue_burst_elem(ctl->hs_lcores[i]->done, r,
		                                            sizeof(r[0]), DONE_BURST, NULL);
		for (unsigned k = 0; k < n; k++) {
			switch (r[k].kind) {
			case RESULT_RESPONSE:
				/* The peer may have gone since (its slot is not reused before
				 * the lcore's next quiescent state, which preceded this). */
				if (mg_gateway_peer(&ctl->gw, r[k].peer_slot) == r[k].peer)
					mg_hs_response_built(ctl, r[k].peer, &r[k].msg.response,
					                     r[k].rx_len, &r[k].src, now_ns);
				break;
			case RESULT_INITIATOR:
				if (mg_gateway_peer(&ctl->gw, r[k].peer_slot) == r[k].peer)
					mg_hs_initiator_done(ctl, r[k].peer, r[k].rx_len, &r[k].src,
					                     now_ns);
				break;
			case RESULT_COOKIE:
				mg_hs_cookie_built(ctl, &r[k].msg.cookie, &r[k].src, now_ns);
				break;
			default:
				break;
			}
			result_release(ctl, &r[k]);
		}
		if (n)
			wg_memzero(r, n * sizeof(r[0]));
		total += n;
	}
	return total;
}

void mg_hs_lcores_pause(struct mg_control *ctl)
{
	if (!ctl->n_hs_lcores)
		return;
	uint32_t g = atomic_fetch_add_explicit(&ctl->hs_pause, 1, memory_order_acq_rel) + 1;
	if (!ctl->hs_launched)
		return; /* nothing runs them (tests that poll them on their own thread) */
	for (unsigned i = 0; i < ctl->n_hs_lcores; i++)
		while (atomic_load_explicit(&ctl->hs_lcores[i]->pause_ack, memory_order_acquire) !=
		       g) {
			/* An lcore waiting for room in its result ring needs us to drain it. */
			mg_hs_lcores_poll(ctl, mg_control_now(ctl));
			rte_pause();
		}
}

void mg_hs_lcores_resume(struct mg_control *ctl)
{
	if (ctl->n_hs_lcores)
		atomic_fetch_add_explicit(&ctl->hs_pause, 1, memory_order_acq_rel);
}

void mg_hs_lcores_stats(const struct mg_control *ctl, struct mg_hs_lcore_stats *sum)
{
	memset(sum, 0, sizeof(*sum));
	for (unsigned i = 0; i < ctl->n_hs_lcores; i++) {
		const struct mg_hs_lcore_stats *s = &ctl->hs_lcores[i]->stats;
		sum->initiations += __atomic_load_n(&s->initiations, __ATOMIC_RELAXED);
		sum->malformed += __atomic_load_n(&s->malformed, __ATOMIC_RELAXED);
		sum->bad_mac += __atomic_load_n(&s->bad_mac, __ATOMIC_RELAXED);
		sum->rejected += __atomic_load_n(&s->rejected, __ATOMIC_RELAXED);
		sum->ratelimited += __atomic_load_n(&s->ratelimited, __ATOMIC_RELAXED);
		sum->cookies += __atomic_load_n(&s->cookies, __ATOMIC_RELAXED);
		sum->handshakes += __atomic_load_n(&s->handshakes, __ATOMIC_RELAXED);
		sum->responses += __atomic_load_n(&s->responses, __ATOMIC_RELAXED);
		sum->cookies_taken += __atomic_load_n(&s->cookies_taken, __ATOMIC_RELAXED);
		sum->busy_cpu_ns += __atomic_load_n(&s->busy_cpu_ns, __ATOMIC_RELAXED);
	}
}
