/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Addresses, routes and link state through a NETLINK_ROUTE socket (what `ip addr`, `ip route`
 * and `ip link` do), for the agent's WireGuard interface. Every request waits for the kernel's
 * acknowledgement, so a call returns the kernel's own error (a negative errno).
 *
 * Routes the agent installs carry protocol MG_RTPROT, so they can be told apart from the
 * administrator's and flushed after a restart without touching anything else.
 */
#ifndef MESHGATE_CONTROL_RTNL_H
#define MESHGATE_CONTROL_RTNL_H

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"

#define MG_RTPROT                                                                       \
	77 /* rtnetlink route protocol of meshgate's routes (RTPROT_* above 4 are free) \
	    */

struct mg_rtnl {
	int fd;
	uint32_t seq;
};

int mg_rtnl_open(struct mg_rtnl *r);
void mg_rtnl_close(struct mg_rtnl *r);

/* Sets the link up (or down) and, when mtu is not 0, its MTU. */
int mg_rtnl_link_set(struct mg_rtnl *r, int ifindex, bool up, uint32_t mtu);
/* Adds (replacing) or deletes an address with its prefix length; IPv6 skips DAD. */
int mg_rtnl_addr(struct mg_rtnl *r, bool add, int ifindex, const struct mg_prefix *addr);
/* Adds (replacing) or deletes a route to dst through the interface (no gateway) in main. */
int mg_rtnl_route(struct mg_rtnl *r, bool add, int ifindex, const struct mg_prefix *dst);

/* The same in routing table `table` (RT_TABLE_MAIN is 254). */
int mg_rtnl_route_table(struct mg_rtnl *r, bool add, int ifindex, const struct mg_prefix *dst,
                        uint32_t table);

/*
 * A routing policy rule (what `ip rule` does), tagged with protocol MG_RTPROT; a delete matches
 * only rules with that tag, so the administrator's rules are never touched.
 */
struct mg_rtnl_rule {
	int family; /* 4 or 6 */
	uint32_t priority;
	uint32_t table;
	uint32_t fwmark;        /* 0: any packet */
	bool not_fwmark;        /* match packets *without* fwmark */
	int suppress_prefixlen; /* -1: none; 0: ignore the table's default route */
};
int mg_rtnl_rule(struct mg_rtnl *r, bool add, const struct mg_rtnl_rule *rule);

/* Calls fn for every address of the system (fn returns non-zero to stop). */
typedef int (*mg_rtnl_addr_fn)(void *ctx, int ifindex, const struct mg_prefix *addr, uint8_t scope);
int mg_rtnl_list_addrs(struct mg_rtnl *r, mg_rtnl_addr_fn fn, void *ctx);
/* Calls fn for every main-table route through ifindex with protocol MG_RTPROT. */
typedef int (*mg_rtnl_route_fn)(void *ctx, const struct mg_prefix *dst);
int mg_rtnl_list_routes(struct mg_rtnl *r, int ifindex, mg_rtnl_route_fn fn, void *ctx);

#endif
