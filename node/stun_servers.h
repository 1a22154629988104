/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * STUN servers from the coordinator's relay map, for a node whose stun: section lists none
 * (docs/nat-traversal.md, "STUN servers from the relay map"). Every relay with a stun_port is
 * a server; its host is resolved on a thread of its own (getaddrinfo may wait on DNS, and
 * neither the agent's loop nor the gateway's control lcore may), A and AAAA alike, again when
 * the map's relays change and every MG_STUN_SERVERS_REFRESH_S.
 *
 * The pick: two servers of one family whose addresses differ, since a NAT that maps by
 * destination address shows only towards two addresses (one relay's two addresses will do);
 * one when no family has two. The family with more distinct addresses wins, IPv4 on a tie;
 * the relays of the preferred region come first, then the map's order.
 *
 * Times in seconds of a monotonic clock of the caller's choice. One thread only.
 */
#ifndef MESHGATE_NODE_STUN_SERVERS_H
#define MESHGATE_NODE_STUN_SERVERS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "netmap_apply.h"

#define MG_STUN_SERVERS_REFRESH_S 300
#define MG_STUN_SERVERS_PER_HOST  4
#define MG_STUN_SERVERS_MAX_ADDRS (MG_NETMAP_MAX_RELAYS * MG_STUN_SERVERS_PER_HOST)

/* Families a caller can send from. */
#define MG_STUN_FAMILY_4 1u
#define MG_STUN_FAMILY_6 2u

/* Up to two servers of one family from cands (in order of preference), of the families
 * allowed; distinct addresses. Returns how many (0..2). */
size_t mg_stun_servers_pick(const struct mg_sockaddr *cands, size_t n, unsigned families,
                            struct mg_sockaddr out[2]);

struct mg_stun_servers_host {
	char host[256];
	uint16_t port;
};

struct mg_stun_servers {
	char region[64];
	bool check_route; /* keep only addresses the kernel has a route to (the agent) */
	/* the relays with STUN, preferred region first */
	struct mg_stun_servers_host hosts[MG_NETMAP_MAX_RELAYS];
	size_t n_hosts;
	bool changed;         /* hosts changed since the last resolve started */
	int64_t next_resolve; /* 0: none due until the map brings relays */
	/* the resolve under way */
	bool active;
	atomic_bool over;
	pthread_t th;
	struct mg_stun_servers_host work[MG_NETMAP_MAX_RELAYS];
	size_t n_work;
	struct mg_sockaddr found[MG_STUN_SERVERS_MAX_ADDRS];
	size_t n_found;
	unsigned failed; /* hosts that did not resolve in that run */
	/* the latest resolve's addresses, and the pick from them */
	struct mg_sockaddr addrs[MG_STUN_SERVERS_MAX_ADDRS];
	size_t n_addrs;
	unsigned picked_families;
	struct mg_sockaddr servers[2];
	size_t n_servers;
	uint64_t resolves, host_failures;
};

void mg_stun_servers_init(struct mg_stun_servers *s, const char *region, bool check_route);
/* Waits for a resolve under way (bounded by the resolver's own timeouts). */
void mg_stun_servers_free(struct mg_stun_servers *s);
/* The relay map of the latest map that carried one. */
void mg_stun_servers_set_map(struct mg_stun_servers *s, const struct mg_netmap_relay *relays,
                             size_t n);
/* Starts a resolve when due, takes one that ended, picks for families. True when the servers
 * (s->servers, s->n_servers) changed. */
bool mg_stun_servers_poll(struct mg_stun_servers *s, int64_t now, unsigned families);

#endif
