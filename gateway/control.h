/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The gateway process as the control thread sees it: the shared struct mg_gateway (workers read
 * it) wrapped with everything only the control thread touches: the configuration it owns, the
 * peer-by-key hash, the cookie checker and rate limiter, the deferred-free list that waits out
 * RCU grace periods, the UAPI server and the control thread's own counters.
 *
 * Life cycle: mg_control_up (EAL, ports, tables, peers, workers), mg_control_run (the control
 * loop, returns once gw.stop is set), mg_control_down (stop and free everything; safe after a
 * partial mg_control_up).
 */
#ifndef MESHGATE_GATEWAY_CONTROL_H
#define MESHGATE_GATEWAY_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "cookie.h"
#include "hs_load.h"
#include "netmap_apply.h"
#include "ratelimiter.h"
#include "worker.h"

struct rte_hash;
struct rte_mbuf;
struct mg_uapi_server;
struct mg_control_health;
struct mg_coord_client;
struct mg_relay_gw;
struct mg_nat_gw;

/* Handshake frames waiting for their next hop's MAC (ARP/ND in flight). */
#define MG_CTL_PENDING_MAX 64
/* How long such a frame may wait before it is dropped (the retransmit timer tries again). */
#define MG_CTL_PENDING_NS (1000ull * 1000 * 1000)

/* Control-thread counters (the workers count their own drops). */
struct mg_ctl_stats {
	uint64_t hs_rx[4];         /* handshake messages taken from the punt ring, by type */
	uint64_t hs_malformed;     /* no valid IP/UDP/WireGuard framing */
	uint64_t hs_bad_mac;       /* mac1 wrong */
	uint64_t hs_rejected;      /* Noise refused it (auth, replay, flood, unknown peer…) */
	uint64_t hs_ratelimited;   /* under load and over the source's budget */
	uint64_t cookies_sent;     /* cookie replies sent because we were under load */
	uint64_t cookies_taken;    /* cookie replies accepted from peers */
	uint64_t cookies_rejected; /* cookie replies not matching anything we sent */
	uint64_t initiations_sent, responses_sent, keepalives_sent, staged_sent;
	uint64_t tx_failed;       /* no mbuf, no source address, no route or NIC refused */
	uint64_t tx_no_neighbour; /* dropped after waiting for ARP/ND */
	uint64_t staged_dropped;  /* staged packets dropped (queue full, peer gone, give-up) */
	uint64_t local_dropped;   /* MG_PUNT_LOCAL packets not answered */
	uint64_t echo_replies;    /* ICMP/ICMPv6 echo replies from the gateway's own address */
	uint64_t echo_replies_rx; /* echo replies to it (answers to meshctl ping's probe) */
	uint64_t events;          /* events taken from the event ring */
	uint64_t deferred_freed;  /* objects freed after a grace period */
	uint64_t filter_changes;  /* packet filters installed */
	uint64_t filter_errors;   /* filters that could not be compiled (the old one stayed) */
};

/* Where the filter in force came from (gateway/filter_gw.c). */
enum mg_filter_source {
	MG_FILTER_NONE,   /* static mode without a filter: no policy, everything passes */
	MG_FILTER_CONFIG, /* static mode: the config's filter section */
	MG_FILTER_COORD,  /* the coordinator's map (empty until the first one) */
};

/* Something to free once every worker has passed a quiescent state after token. */
struct mg_control;
struct mg_deferred {
	uint64_t token;
	void (*fn)(struct mg_control *ctl, void *ptr);
	void *ptr;
};

/* A built handshake frame waiting for the MAC of nh on the mesh port. */
struct mg_pending_tx {
	struct rte_mbuf *m;
	uint64_t since_ns;
	uint8_t family;
	uint8_t nh[16];
	uint16_t payload_len;
	uint32_t peer_slot; /* for the byte counters; MG_PUNT_NO_PEER when none */
};

/*
 * For tests that drive the gateway step by step (tests/dataplane/test_control.c): the EAL and the
 * ports' devices are the caller's, the workers are set up (with their crypto contexts) but never
 * launched, so the caller runs their bursts on its own thread, and every clock reading of the
 * control thread and the workers comes from now(). NULL in production.
 */
struct mg_control_test_hooks {
	uint64_t (*now)(void *ctx); /* monotonic ns */
	/* Handshake timestamps (NULL: the real clock, whose granularity would make a peer
	 * refuse a second initiation sent within the same real 16 ms as a replay). */
	void (*tai64n)(void *ctx, uint8_t out[WG_TIMESTAMP_LEN]);
	void *ctx;
	bool eal_ready; /* rte_eal_init ran already: mg_control_up skips it, down leaves it */
	bool no_launch; /* workers initialised, not launched */
};

struct mg_control {
	struct mg_gateway gw;                     /* first: the workers' view */
	const struct mg_control_test_hooks *test; /* set before mg_control_up; NULL normally */
	/* Owned, as loaded (the UAPI changes listen_port); the workers never read it: the data
	 * plane has its own copy of what it needs (gw.conf, gw.addrs). */
	struct mg_config cfg;

	struct mg_worker *worker_mem[MG_MAX_WORKERS];
	struct wg_timer_durations durations; /* the protocol timers, scaled for tests */
	struct wg_cookie_checker cookie_checker;
	struct wg_ratelimiter *ratelimiter;
	struct rte_hash *peer_by_key; /* public key -> slot */
	uint32_t *free_slots;         /* stack of slots free for reuse (past their grace period) */
	uint32_t n_free_slots;
	/* Bytes of handshake and control-sent data messages per slot (rows of workers' kind). */
	struct mg_peer_counters *ctl_counters;
	uint32_t slot_high; /* slots >= this are all free */

	struct mg_deferred *deferred;
	size_t n_deferred, cap_deferred;

	struct mg_pending_tx pending[MG_CTL_PENDING_MAX];
	unsigned n_pending;

	struct mg_uapi_server *uapi;
	struct mg_control_health *health; /* health socket (health.h); NULL: none */
	struct mg_relay_gw *relay;        /* the relay path (relay_gw.h); NULL: no relay section */
	struct mg_nat_gw *nat;            /* STUN client and disco responder (nat_gw.h) */

	/* Coordinated mode (cfg.coord.url set): the client thread's events are applied to the
	 * device through the map diff engine (gateway_coord.c). */
	struct mg_coord_client *coord;
	struct mg_netmap_state netmap;
	uint64_t last_coord_tick_ns;
	struct mg_hs_load hs_load; /* whether initiations must carry a cookie (hs_load.h) */
	uint64_t last_housekeeping_ns;
	uint16_t ip_id;
	uint32_t fwmark; /* accepted and echoed for wg(8); the gateway has no sockets to mark */

	/* The packet filter in force, as rules (what gw.acl was compiled from), for meshctl. */
	enum mg_filter_source filter_source;
	struct mg_filter filter;
	uint64_t filter_installed_ns;      /* wall clock */
	struct mg_flow_counters ctl_flows; /* flows the control thread's own packets opened */

	/* Handshake lcores (handshake_lcores.h); none: the control lcore answers every
	 * handshake. hs_pause is odd while they are held (mg_hs_lcores_pause). */
	struct mg_hs_lcore *hs_lcores[MG_MAX_HS_LCORES];
	unsigned n_hs_lcores;
	_Atomic uint32_t hs_pause;
	bool hs_launched; /* running on their lcores (or on threads a test started) */

	bool eal_up, ports_up, workers_launched;
	struct mg_ctl_stats stats;
};

/*
 * Compiles f into rte_acl contexts and publishes them to the workers (gateway/filter_gw.c);
 * the filter it replaces is freed after a grace period. f == NULL: no policy (static mode
 * only). On failure the filter in force stays and err says why. Returns 0 or -1.
 */
int mg_control_set_filter(struct mg_control *ctl, const struct mg_filter *f,
                          enum mg_filter_source source, char *err, size_t errlen);
/* At shutdown, the workers stopped: frees the filter and the flow table. */
void mg_control_filter_fini(struct mg_control *ctl);

/* Monotonic (the clock of keypair births and the workers' timestamps) and wall nanoseconds. */
uint64_t mg_mono_ns(void);
uint64_t mg_wall_ns(void);
/* The gateway's monotonic clock: mg_mono_ns, or the test hook's. */
uint64_t mg_control_now(const struct mg_control *ctl);
/* When the peer's last authenticated packet, and its last data packet, came in (monotonic
 * ns, 0 = never): the newest over the workers' counters rows and the peer's keepalive time. */
void mg_peer_rx_times(const struct mg_gateway *gw, const struct mg_peer *peer, uint64_t *auth_ns,
                      uint64_t *data_ns);

/*
 * Takes ownership of *cfg (its contents are moved into ctl, *cfg is zeroed) and brings the
 * gateway up: EAL, ports, tables, the configured peers, the UAPI socket, then the workers.
 * prog is argv[0] for the EAL. Returns 0, or -1 with err filled; call mg_control_down either
 * way.
 */
int mg_control_up(struct mg_control *ctl, struct mg_config *cfg, const char *prog, char *err,
                  size_t errlen);
/* The control loop (control_loop.c): returns when ctl->gw.stop is set. */
void mg_control_run(struct mg_control *ctl);
/* Stops the workers, then frees everything; leaves no runtime file behind. Idempotent. */
void mg_control_down(struct mg_control *ctl);

/* The control thread's and the workers' counters, a few log lines (at stop). */
void mg_control_log_stats(const struct mg_control *ctl);

/*
 * Coordinated mode (gateway_coord.c). start: nothing without cfg.coord.url; else the client
 * thread starts registering and streaming the map (0, or -1 with err). poll: applies queued map
 * updates and, once a second, key expiry and the client's state for the health socket; never
 * blocks; returns the number of updates applied. stop: joins the thread, drops the map state
 * (the peers stay until the device goes down).
 */
int mg_control_coord_start(struct mg_control *ctl, char *err, size_t errlen);
/* The endpoints the gateway reports as its own (up to MG_MAX_REPORTED_ENDPOINTS): the
 * configured ones, else the mesh port's addresses with the listen port. */
size_t mg_control_self_endpoints(const struct mg_config *cfg, struct mg_sockaddr *out);
unsigned mg_control_coord_poll(struct mg_control *ctl, uint64_t now_ns);
void mg_control_coord_stop(struct mg_control *ctl);

/* Frees ptr with fn once no worker can still hold it. fn(ptr) runs at once on allocation
 * failure after waiting for the readers synchronously. */
void mg_control_defer(struct mg_control *ctl, void (*fn)(struct mg_control *, void *), void *ptr);
/* Runs what is due. all: the workers are stopped, free everything now. */
void mg_control_reclaim(struct mg_control *ctl, bool all);
/* Retires a keypair out of every slot once no worker can hold it (the keypair_release
 * upcall's work; handshake lcores hand theirs over through their results). */
void mg_control_release_keypair(struct mg_control *ctl, struct wg_noise_keypair *kp);
/* Replaces the data plane's address set with next; the old one is freed after a grace period.
 * Returns 0 or -ENOMEM (nothing changed). */
int mg_control_set_addrs(struct mg_control *ctl, const struct mg_dp_addrs *next);

/* One pass of the control loop's work (control_loop.c); returns how much work it found. */
unsigned mg_control_poll(struct mg_control *ctl, uint64_t now_ns);

#endif
