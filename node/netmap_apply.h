/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The network map as a node holds it, and the diff engine that turns each map update from the
 * coordinator (a full map or a delta) into the smallest list of peer operations for whatever
 * carries the peers: the gateway's tables (gateway/device.c) or a stock WireGuard interface
 * through its UAPI (the agent). No DPDK, no sockets, no clock of its own.
 *
 * Guarantees to the sink, for every apply:
 *   - a peer the update leaves unchanged gets no call at all, so its traffic never stops;
 *   - calls come in this order: remove_peer for peers that left, update_peer for peers that
 *     gave up an allowed IP which another peer takes in the same update (with only the IPs
 *     they keep), update_peer for the remaining changes, add_peer for new peers, and set_self
 *     last when the self node changed. So a prefix never belongs to two peers at once and a
 *     prefix moving between peers is dropped by its old owner before the new one claims it;
 *   - within each phase, peers come in public-key order;
 *   - an allowed IP is held by one peer only: when the map gives the same prefix to several
 *     peers (two routers for one subnet), the online one with the lowest node id keeps it and
 *     the others lose it until it is free again;
 *   - a peer whose key_expiry has passed is treated as removed (mg_netmap_expire re-checks).
 */
#ifndef MESHGATE_CONTROL_NETMAP_APPLY_H
#define MESHGATE_CONTROL_NETMAP_APPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "constants.h"
#include "filter.h"

#define MG_NETMAP_NAME_LEN           64
#define MG_NETMAP_MAX_ADDRS          4
#define MG_NETMAP_MAX_ENDPOINTS      8
#define MG_NETMAP_MAX_STUN_ENDPOINTS 8

/* One peer as the map describes it. Lists are sorted and free of duplicates. */
struct mg_netmap_peer {
	uint8_t public_key[WG_KEY_LEN];
	int64_t id;
	char name[MG_NETMAP_NAME_LEN];
	struct mg_prefix addresses[MG_NETMAP_MAX_ADDRS]; /* overlay addresses (/32, /128) */
	size_t n_addresses;
	/* What the map grants; allowed_ips below is what this node applies (see above). */
	struct mg_prefix *map_allowed_ips;
	size_t n_map_allowed_ips;
	struct mg_prefix *allowed_ips;
	size_t n_allowed_ips;
	/* In the coordinator's order (the first is the one to use), duplicates dropped. */
	struct mg_sockaddr endpoints[MG_NETMAP_MAX_ENDPOINTS];
	size_t n_endpoints;
	bool online;
	int64_t key_expiry;  /* unix seconds, 0: never */
	char home_relay[64]; /* the relay the peer is connected to, "" when it reports none */
	/* Where STUN servers saw the peer: candidates for disco, never used without a pong. */
	struct mg_sockaddr stun_endpoints[MG_NETMAP_MAX_STUN_ENDPOINTS];
	size_t n_stun_endpoints;
	bool nat_hard; /* its NAT maps by destination: its STUN endpoints are only hints */
};

/* This node as the coordinator sees it. */
struct mg_netmap_self {
	uint8_t public_key[WG_KEY_LEN];
	int64_t id;
	char name[MG_NETMAP_NAME_LEN];
	struct mg_prefix addresses[MG_NETMAP_MAX_ADDRS];
	size_t n_addresses;
	struct mg_prefix *routes; /* approved and advertised: what peers route to us */
	size_t n_routes;
	int64_t key_expiry;
};

enum mg_netmap_update_kind { MG_NETMAP_FULL = 1, MG_NETMAP_DELTA };

#define MG_NETMAP_MAX_RELAYS 64

/* One relay of the map's relay_map (docs/relay-protocol.md), flattened with its region. */
struct mg_netmap_relay {
	char region[64];
	char name[64];
	char host[256];
	char server_name[256];
	uint16_t port;
	uint16_t stun_port; /* 0: the relay answers no STUN */
};

/* One parsed line of the map stream (coord_client.c builds these). */
struct mg_netmap_update {
	enum mg_netmap_update_kind kind;
	uint64_t seq;
	bool has_self;
	struct mg_netmap_self self;
	/* FULL: every peer. DELTA: peers added or changed (whole entries). */
	struct mg_netmap_peer *peers;
	size_t n_peers;
	/* DELTA only: public keys of peers that left. */
	uint8_t (*removed)[WG_KEY_LEN];
	size_t n_removed;
	/* The packet filter, normalized. FULL without one: the empty filter (a coordinated node
	 * admits nothing new). DELTA without one: unchanged. */
	bool has_filter;
	struct mg_filter filter;
	/* The relay map, when the line carries one (every full map from a coordinator that has
	 * one configured), in the coordinator's order. */
	bool has_relay_map;
	struct mg_netmap_relay *relays;
	size_t n_relays;
};

/*
 * Where the operations go. Each returns 0 or a negative errno; a failed call is counted and
 * the engine remembers the state the sink really has (a failed add leaves the peer out and a
 * later apply retries it; a failed update or remove keeps the old entry), so nothing is
 * believed applied that was not. old/new point into the engine's state and are valid only
 * during the call. set_self may be NULL.
 */
struct mg_netmap_sink {
	int (*add_peer)(void *ctx, const struct mg_netmap_peer *peer);
	int (*update_peer)(void *ctx, const struct mg_netmap_peer *old_peer,
	                   const struct mg_netmap_peer *new_peer);
	int (*remove_peer)(void *ctx, const struct mg_netmap_peer *peer);
	int (*set_self)(void *ctx, const struct mg_netmap_self *old_self,
	                const struct mg_netmap_self *new_self);
	/* The filter to enforce from now on (old_filter is NULL before the first). Called before
	 * any peer operation of the same apply, so a new peer meets the new filter. A failure
	 * leaves the old filter in force and is retried on the next apply or expire. May be NULL
	 * (the engine then only records the filter). */
	int (*set_filter)(void *ctx, const struct mg_filter *old_filter,
	                  const struct mg_filter *new_filter);
};

struct mg_netmap_stats {
	uint64_t applied; /* updates applied */
	uint64_t added, updated, removed, self_changes;
	uint64_t sink_errors;
	uint64_t conflicts; /* prefixes claimed by more than one peer, last apply */
	uint64_t expired;   /* peers dropped because their key expired */
	uint64_t filter_changes;
};

/*
 * Two views, both sorted by public key: the map as the coordinator last described it, and what
 * the sink has applied. They differ by expired peers, contested prefixes and failed sink calls;
 * each apply brings the second towards the first.
 */
struct mg_netmap_state {
	bool has_map; /* a full map has been received */
	uint64_t seq;
	bool has_map_self;
	struct mg_netmap_self map_self;
	struct mg_netmap_peer *map_peers;
	size_t n_map_peers;

	bool has_self; /* applied */
	struct mg_netmap_self self;
	struct mg_netmap_peer *peers;
	size_t n_peers;

	/* The filter as the coordinator last sent it, and the one the sink enforces. */
	bool has_map_filter;
	struct mg_filter map_filter;
	bool has_filter;
	struct mg_filter filter;

	struct mg_netmap_stats stats;
};

void mg_netmap_state_init(struct mg_netmap_state *st);
void mg_netmap_state_free(struct mg_netmap_state *st);
/* The applied peer with this key, or NULL. */
const struct mg_netmap_peer *mg_netmap_find(const struct mg_netmap_state *st,
                                            const uint8_t key[WG_KEY_LEN]);

/*
 * Applies u (full: the new complete peer set; delta: changes on top of the current one) at
 * unix time now, calling sink for each difference. A delta before any full map, or out of
 * sequence, is refused with -EPROTO and changes nothing (the caller resynchronises). Returns 0,
 * -EPROTO, -EINVAL (a malformed update: a key listed twice) or -ENOMEM (nothing changed).
 * Sink failures do not fail the apply; they are counted in stats.sink_errors.
 */
int mg_netmap_apply(struct mg_netmap_state *st, const struct mg_netmap_update *u, int64_t now,
                    const struct mg_netmap_sink *sink, void *ctx);
/* Drops peers whose key expired by now (the coordinator says so too, but may be unreachable). */
int mg_netmap_expire(struct mg_netmap_state *st, int64_t now, const struct mg_netmap_sink *sink,
                     void *ctx);
/*
 * The sink lost everything it had (wireguard-go restarted, the port was reset): forget the
 * applied set without calls, so the next apply or expire adds every peer again.
 */
void mg_netmap_forget_applied(struct mg_netmap_state *st);
/* Removes every peer (the node was deleted or expired by the coordinator); the filter becomes
 * the empty one. */
int mg_netmap_clear(struct mg_netmap_state *st, const struct mg_netmap_sink *sink, void *ctx);

/*
 * The filter's part of an apply (netmap_filter.c): take_filter folds u's filter into the
 * coordinator's view (all or nothing), reconcile_filter hands it to the sink when it differs
 * from the one in force. Returns 0 or -ENOMEM.
 */
int mg_netmap_take_filter(struct mg_netmap_state *st, const struct mg_netmap_update *u);
int mg_netmap_reconcile_filter(struct mg_netmap_state *st, const struct mg_netmap_sink *sink,
                               void *ctx);

/* Deep copies and frees of the map types (an update owns its arrays). */
int mg_netmap_peer_copy(struct mg_netmap_peer *dst, const struct mg_netmap_peer *src);
void mg_netmap_peer_free(struct mg_netmap_peer *p);
int mg_netmap_self_copy(struct mg_netmap_self *dst, const struct mg_netmap_self *src);
void mg_netmap_self_free(struct mg_netmap_self *s);
void mg_netmap_update_free(struct mg_netmap_update *u);

/* Sorts and de-duplicates a prefix list in place (host bits cleared first); returns the count. */
size_t mg_prefix_list_normalize(struct mg_prefix *list, size_t n);
int mg_prefix_cmp(const struct mg_prefix *a, const struct mg_prefix *b);

#endif
