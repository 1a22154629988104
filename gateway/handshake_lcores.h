/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Handshake lcores (lcores.handshake in the config): lcores besides the control lcore that
 * answer handshake initiations, the part of the handshake an outsider can make the gateway do
 * at will and the one a restart with many peers is made of (four X25519 each).
 *
 * Workers spread initiations over the lcores' rings by source address and port
 * (mg_punt_initiation), so one source always meets the same lcore: its cookie secret, its rate
 * limiter and its under-load state are that lcore's own and need no sharing. Each lcore checks
 * the macs, consumes the initiation, creates the response and derives the keypair. The peer is
 * known only after the first DH; from there on the lcore holds the peer's hs_lock, which the
 * control thread also takes around every change it makes to a peer's handshake state, keypair
 * slots or cookie maker. Two lcores meet on that lock only for the same peer; workers never take
 * it. New keypairs are published by wg_noise_begin_session's release stores, as on the control
 * thread; the ones they replace go back to the control thread with the result, which retires
 * them after an RCU grace period. The lcores are RCU readers themselves, so a peer removed while
 * one of them holds it stays allocated until it has moved on.
 *
 * Responses and cookie replies to the gateway's own messages name one of its indices: workers
 * look it up and send them to the lcore that owns the peer (its slot modulo the lcores,
 * mg_punt_reply), so one peer's replies always meet the same lcore.
 *
 * What follows the handshake, the peer's timers and the frames on the wire, stays on the control
 * thread: each lcore hands its results (responses and cookie replies built, sessions begun as the
 * initiator) back through a ring of its own, and mg_hs_lcores_poll finishes them. The gateway's
 * own initiations still leave from the control thread, on its timers.
 */
#ifndef MESHGATE_GATEWAY_HANDSHAKE_LCORES_H
#define MESHGATE_GATEWAY_HANDSHAKE_LCORES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "cookie.h"
#include "hs_load.h"
#include "ratelimiter.h"

struct mg_control;
struct rte_ring;

struct mg_hs_lcore_stats {
	uint64_t initiations; /* initiations taken from the ring */
	/* any message: broken framing, mac1 wrong, refused (Noise, unknown index, stale cookie
	 * reply), over the rate limit under load */
	uint64_t malformed, bad_mac, rejected, ratelimited;
	uint64_t cookies;       /* cookie replies built (under load, no valid mac2) */
	uint64_t handshakes;    /* responses built, keypairs derived */
	uint64_t responses;     /* responses to our initiations consumed, keypairs derived */
	uint64_t cookies_taken; /* cookie replies to our messages accepted */
	uint64_t busy_cpu_ns;   /* this thread's CPU time while it had messages to handle */
};

struct mg_hs_lcore {
	struct mg_control *ctl;
	unsigned id;    /* 0..n-1: its ring is gw.hs_rings[id] */
	unsigned lcore; /* EAL lcore id */
	unsigned rcu_id;
	bool rcu_online;       /* inside mg_hs_lcore_main (an RCU reader only there) */
	struct rte_ring *done; /* results to the control thread (struct mg_hs_result), SP/SC */
	struct wg_cookie_checker checker;
	struct wg_ratelimiter *ratelimiter;
	struct mg_hs_load load;
	_Atomic uint64_t passes;        /* completed mg_hs_lcore_poll calls (tests wait on it) */
	_Atomic uint32_t pause_ack;     /* the pause (ctl->hs_pause) it stopped for */
	struct mg_hs_lcore_stats stats; /* written by the lcore, read by anyone (relaxed) */
};

/* Creates the rings and per-lcore state for cfg.handshake_lcores; nothing without any. 0 or -1
 * with err. Before the workers start. */
int mg_hs_lcores_init(struct mg_control *ctl, char *err, size_t errlen);
/* Launches them on their lcores (after mg_hs_lcores_init; not in no_launch test mode). */
int mg_hs_lcores_launch(struct mg_control *ctl, char *err, size_t errlen);
/* After every lcore has returned: frees what init made, drains the rings. */
void mg_hs_lcores_fini(struct mg_control *ctl);

/* The lcore's loop until gw.stop (rte_eal_remote_launch's signature; arg: struct mg_hs_lcore). */
int mg_hs_lcore_main(void *arg);
/* One pass over hs's ring: what the loop does each turn (tests drive it). Returns the number of
 * messages handled. */
unsigned mg_hs_lcore_poll(struct mg_hs_lcore *hs);

/* Control thread: sends what the lcores built and retires the keypairs they replaced. */
unsigned mg_hs_lcores_poll(struct mg_control *ctl, uint64_t now_ns);

/*
 * Control thread: stops every handshake lcore between two messages and waits until each has
 * (a private key change rewrites what every handshake reads); resume lets them go on.
 */
void mg_hs_lcores_pause(struct mg_control *ctl);
void mg_hs_lcores_resume(struct mg_control *ctl);

/* Sum of every lcore's counters. */
void mg_hs_lcores_stats(const struct mg_control *ctl, struct mg_hs_lcore_stats *sum);

/*
 * The Noise upcalls' hooks (gateway/control.c). remote_by_pubkey: the peer comes back locked
 * (hs_lock) and remembered for the caller, which unlocks it with mg_hs_unlock_found. Keypairs
 * released on a handshake lcore go to its result; elsewhere mg_hs_keep_release returns false.
 */
struct mg_peer;
void mg_hs_found_peer(struct mg_peer *peer);
struct mg_peer *mg_hs_take_found(void);
bool mg_hs_keep_release(void *kp);

#endif
