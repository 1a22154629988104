/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Disco path selection for one peer: which way our traffic to it goes (a direct endpoint, or the
 * relay). Network-free and clock-free: the caller owns sockets and keys, feeds in what arrived
 * (pongs, pings, call-me-maybe, map changes) with the current time, calls mg_disco_path_tick()
 * when mg_disco_path_next_us() says so, and gets called back to send pings and to switch paths.
 * So the agent (its own UDP socket) and the gateway (its WireGuard port, control lcore) share it,
 * and tests drive it with a fake clock. docs/nat-traversal.md, "Path selection", has the state
 * machine and the timers.
 *
 * Rules:
 *  - candidates: the peer's endpoints and stun_endpoints from the map (mg_disco_path_set_map),
 *    endpoints from its call-me-maybe, and the source of any authentic ping it sent us directly;
 *  - a direct candidate is usable only while its last pong (to a ping we sent it, matched by
 *    transaction id and coming from that very endpoint) is younger than trust_us;
 *  - the best path: the usable direct candidate with the lowest RTT; the relay when none is.
 *    A relayed peer moves to direct on the first direct pong; a direct peer moves to another
 *    direct candidate only when its RTT is lower by more than the hysteresis;
 *  - pings: every candidate on a map change or call-me-maybe, then every probe_relayed_us while
 *    relayed (fast_relayed_us during the burst that follows a trigger), every probe_direct_us
 *    while direct, plus a heartbeat to the current direct path every heartbeat_us. While relayed,
 *    each round we start ourselves also sends call-me-maybe through the relay, so the peer pings
 *    back at the same time (which opens both NATs' mappings).
 *
 * The struct is plain data (no allocation); mg_disco_path_clear resets nothing but memory.
 */
#ifndef MESHGATE_NODE_DISCO_PATH_H
#define MESHGATE_NODE_DISCO_PATH_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "disco.h"

#define MG_DISCO_PATH_MAX_CANDS 48 /* map endpoints (32) + stun (8) + learned */
#define MG_DISCO_PATH_MAX_OUT   32 /* pings awaiting a pong */

enum mg_disco_path_kind {
	MG_DISCO_PATH_RELAY = 0, /* no direct path answers: use the relay */
	MG_DISCO_PATH_DIRECT = 1,
};

struct mg_disco_path_choice {
	enum mg_disco_path_kind kind;
	struct mg_sockaddr ep; /* DIRECT: the peer's endpoint */
	uint64_t rtt_us; /* DIRECT: the last RTT of that path; RELAY: of the relay (0 unknown) */
};

/* Callbacks into the owner; peer is the cookie given to mg_disco_path_init. */
struct mg_disco_path_ops {
	/* Send a ping with this transaction id to ep directly, or through the relay when ep is
	 * NULL.
	 */
	void (*send_ping)(void *ctx, void *peer, const struct mg_sockaddr *ep,
	                  const uint8_t txid[MG_DISCO_TXID_LEN]);
	/* Send call-me-maybe, listing our own candidate endpoints, through the relay. May be NULL.
	 */
	void (*send_call_me_maybe)(void *ctx, void *peer);
	/* The best path changed (also called once by the first tick: relay). */
	void (*use_path)(void *ctx, void *peer, const struct mg_disco_path_choice *c);
	void *ctx;
};

/* Timers, in microseconds; mg_disco_path_params_default() fills the documented defaults. */
struct mg_disco_path_params {
	uint64_t fast_relayed_us;  /* 1 s: probe period while relayed, during a burst */
	uint64_t burst_us;         /* 10 s: a burst's length after a trigger */
	uint64_t probe_relayed_us; /* 3 s: probe period while relayed, otherwise */
	uint64_t probe_direct_us;  /* 5 s: re-probe of every candidate while direct */
	uint64_t heartbeat_us;     /* 1.5 s: ping to the current direct path */
	uint64_t trust_us;         /* 4 s: a direct path with no pong for this long is dead */
	uint64_t ping_timeout_us;  /* 5 s: an unanswered ping is forgotten */
	uint64_t learned_ttl_us;   /* 60 s: a learned candidate with no news is dropped */
	uint64_t hysteresis_us;    /* 1 ms: and 1/8 of the current RTT */
	bool ping_relay;           /* true: each round also pings through the relay (its RTT) */
};

struct mg_disco_path_stats {
	uint64_t pings_sent, pings_relay, cmm_sent, pongs_matched, pongs_unmatched, pongs_wrong_src;
	uint64_t to_direct, to_relay, direct_changes, learned;
};

struct mg_disco_path_cand {
	struct mg_sockaddr ep;
	uint8_t from_map : 1, learned : 1;
	uint64_t last_hint_us; /* learned: last ping or call-me-maybe naming it */
	uint64_t last_pong_us; /* 0: never */
	uint64_t rtt_us;
};

struct mg_disco_path_out {
	uint8_t txid[MG_DISCO_TXID_LEN];
	struct mg_sockaddr ep; /* family 0: through the relay */
	uint64_t sent_us;      /* 0: free slot */
};

struct mg_disco_path {
	const struct mg_disco_path_ops *ops;
	const struct mg_disco_path_params *params;
	void *peer;
	struct mg_disco_path_cand cands[MG_DISCO_PATH_MAX_CANDS];
	unsigned n_cands;
	struct mg_disco_path_out out[MG_DISCO_PATH_MAX_OUT];
	unsigned out_next;
	struct mg_disco_path_choice cur;
	bool announced; /* use_path called at least once */
	uint64_t next_probe_us, next_heartbeat_us, burst_until_us;
	uint64_t last_cmm_round_us; /* call-me-maybe makes at most one round a second */
	uint64_t relay_rtt_us;
	uint64_t direct_since_us; /* when cur became direct (0: relayed) */
	struct mg_disco_path_stats stats;
};

void mg_disco_path_params_default(struct mg_disco_path_params *p);

/* ops and params must outlive p. The path starts relayed; the first tick announces it. */
void mg_disco_path_init(struct mg_disco_path *p, const struct mg_disco_path_ops *ops,
                        const struct mg_disco_path_params *params, void *peer, uint64_t now_us);

/*
 * The peer's candidates from the map (endpoints and stun_endpoints, in any order, duplicates
 * fine; at most MG_DISCO_PATH_MAX_CANDS are kept). A new candidate starts a burst of pings at
 * the next tick. A candidate the map no longer lists is kept only if learned otherwise.
 */
void mg_disco_path_set_map(struct mg_disco_path *p, const struct mg_sockaddr *eps, unsigned n,
                           uint64_t now_us);

/* An authentic ping arrived from src directly (NULL: through the relay). */
void mg_disco_path_on_ping(struct mg_disco_path *p, const struct mg_sockaddr *src, uint64_t now_us);

/* An authentic pong arrived from src (NULL: through the relay). */
void mg_disco_path_on_pong(struct mg_disco_path *p, const uint8_t txid[MG_DISCO_TXID_LEN],
                           const struct mg_sockaddr *src, uint64_t now_us);

/* An authentic call-me-maybe listing the peer's candidates: ping them all now. */
void mg_disco_path_on_call_me_maybe(struct mg_disco_path *p, const struct mg_sockaddr *eps,
                                    unsigned n, uint64_t now_us);

/* Runs what is due: pings, call-me-maybe, expiry of a dead path. */
void mg_disco_path_tick(struct mg_disco_path *p, uint64_t now_us);

/* When the next tick is due (absolute, same clock). */
uint64_t mg_disco_path_next_us(const struct mg_disco_path *p);

/* The current choice. */
const struct mg_disco_path_choice *mg_disco_path_current(const struct mg_disco_path *p);

#endif
