/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * NAT traversal on the control lcore (docs/nat-traversal.md, "The gateway"): the STUN client
 * (stun_gw.c), the disco responder (disco_gw.c) and the path choice (paths_gw.c), on the
 * WireGuard port and through the relay connection (relay_gw.c, on this lcore too). The workers
 * hand over what arrives (dataplane/wgport.h); replies leave through mg_hs_frame_send, from the
 * mesh port's address and listen port, so STUN sees the very mapping WireGuard's traffic uses.
 */
#ifndef MESHGATE_GATEWAY_NAT_GW_H
#define MESHGATE_GATEWAY_NAT_GW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "addr.h"
#include "disco.h"
#include "disco_path.h"
#include "nat_probe.h"
#include "stun.h"
#include "stun_servers.h"

struct mg_control;
struct mg_wgport_item;

/* What one STUN round found (the same verdicts as the agent's, nat_probe.h). */
struct mg_stun_gw_result {
	bool valid; /* a round has finished */
	struct mg_sockaddr mapped[2];
	size_t n_mapped;
	const char *nat; /* "none", "easy", "hard" or "unknown" */
	int rtt_ms[2];   /* per server, -1 when it did not answer */
	uint64_t at_ns;  /* when the round ended (the control clock) */
};

struct mg_stun_gw_stats {
	uint64_t rounds, requests_sent, send_failed, answers, refused, changes;
};

struct mg_disco_gw_stats {
	uint64_t received;       /* disco messages taken from the ring or the relay */
	uint64_t relay_received; /* of which through the relay */
	uint64_t unknown_sender; /* sender key not one of our peers: no crypto, no state */
	uint64_t relay_mismatch; /* through the relay, inside key not the relay's sender */
	uint64_t no_memory;      /* no replay window could be made */
	uint64_t pings, pongs_sent, pongs_received, call_me_maybe, send_failed;
	uint64_t relay_pongs_sent;         /* of pongs_sent, through the relay */
	uint64_t pings_sent;               /* by the path choice (paths_gw.c), direct */
	uint64_t relay_pings_sent;         /* by the path choice, through the relay */
	uint64_t call_me_maybe_sent;       /* by the path choice, through the relay */
	uint64_t paths_direct, paths_lost; /* a peer's direct path chosen / lost */
	uint64_t paths_relayed;            /* of paths_lost, peers moved to the relay at once */
};

struct mg_gw_path;

struct mg_nat_gw {
	/* STUN */
	struct mg_nat_probe_config cfg;
	bool in_round;
	uint64_t round_start_ns, next_round_ns;
	uint8_t txid[2][MG_STUN_TXID_LEN];
	bool answered[2];
	struct mg_sockaddr mapped[2];
	int rtt_ms[2];
	struct mg_stun_gw_result last;
	struct mg_stun_gw_stats stun;
	struct mg_stun_servers *map; /* servers from the relay map (cfg.from_map), else NULL */

	/* disco */
	struct mg_disco_node self;
	uint64_t self_generation; /* gw.local.key_generation self was derived from */
	bool self_ok;
	struct mg_disco_peer **win; /* by peer slot, made on a peer's first message */
	uint32_t n_win;
	struct mg_disco_gw_stats disco;

	/* path choice (coordinated peers), by slot like win */
	struct mg_gw_path **paths;
	struct mg_disco_path_params path_params;
	struct mg_disco_path_ops path_ops; /* ctx: the struct mg_control */
	uint64_t last_path_sync_ns;
	/* The last round trip of a ping through the relay (any peer's), and when (0: none). */
	uint64_t relay_rtt_us, relay_rtt_at_ns;
};

/* Sets up ctl->nat from ctl->cfg.stun. 0, or -1 with err. */
int mg_nat_gw_start(struct mg_control *ctl, char *err, size_t errlen);
void mg_nat_gw_stop(struct mg_control *ctl);
/* Takes what the workers handed over, sends STUN rounds when due, runs the peers' path choice.
 * Returns the work done. */
unsigned mg_nat_gw_poll(struct mg_control *ctl, uint64_t now_ns);
/* Sends len bytes in one UDP datagram from the WireGuard port to dst. 0, -EAGAIN (waits for
 * ARP/ND) or a negative errno. */
int mg_nat_gw_send(struct mg_control *ctl, const struct mg_sockaddr *dst, const void *buf,
                   size_t len, uint64_t now_ns);

/* stun_gw.c */
void mg_stun_gw_input(struct mg_control *ctl, const struct mg_wgport_item *it, const uint8_t *buf,
                      size_t len, uint64_t now_ns);
unsigned mg_stun_gw_tick(struct mg_control *ctl, uint64_t now_ns);
/* The relay map of a map that carried one: STUN servers when the config lists none. */
struct mg_netmap_relay;
void mg_stun_gw_set_map(struct mg_control *ctl, const struct mg_netmap_relay *relays, size_t n);

/* disco_gw.c */
void mg_disco_gw_input(struct mg_control *ctl, const struct mg_wgport_item *it, const uint8_t *buf,
                       size_t len, uint64_t now_ns);
/* A disco message the relay delivered from key (relay_gw.c). */
void mg_disco_gw_relay_input(struct mg_control *ctl, const uint8_t key[32], const uint8_t *buf,
                             size_t len, uint64_t now_ns);
void mg_disco_gw_fini(struct mg_nat_gw *ng);
struct mg_peer;
/* Seals m to peer and sends it from the WireGuard port to dst, or through the relay when dst is
 * NULL. 0 when sent (or waiting for ARP/ND), -1 when not (counted). */
int mg_disco_gw_send(struct mg_control *ctl, struct mg_peer *peer, struct mg_disco_msg *m,
                     const struct mg_sockaddr *dst, uint64_t now_ns);

/* netcheck_gw.c: the netcheck document (meshctl netcheck); NULL when not set up. */
json_t *mg_nat_gw_json(struct mg_control *ctl);
/* relay_rtt_gw.c: each connected relay's round trips, home relay first (a JSON array). */
json_t *mg_relay_rtt_gw_json(struct mg_control *ctl);
/* The home relay's last round trip in microseconds; -1 before the first or while none. */
int64_t mg_relay_rtt_gw_home_us(struct mg_control *ctl);

/* paths_gw.c */
unsigned mg_paths_gw_poll(struct mg_control *ctl, uint64_t now_ns);
/* The path of the peer in slot with key pk, or NULL. */
struct mg_disco_path *mg_paths_gw_find(struct mg_control *ctl, uint32_t slot, const uint8_t *pk);
/* An authentic pong for path, from src (NULL: through the relay, whose round trip it gives). */
void mg_paths_gw_pong(struct mg_control *ctl, struct mg_disco_path *path,
                      const uint8_t txid[MG_DISCO_TXID_LEN], const struct mg_sockaddr *src,
                      uint64_t now_us);
void mg_paths_gw_fini(struct mg_nat_gw *ng);

#endif
