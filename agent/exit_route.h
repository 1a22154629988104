/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The host's default route into the tunnel while it uses an exit node, by policy routing as
 * wg-quick does: wireguard-go's socket (and the agent's coordinator connections) carry
 * MG_EXIT_FWMARK; every other packet looks up MG_EXIT_TABLE, whose only route is the default
 * through the WireGuard interface. With allow_lan_access, a rule before it consults the main
 * table for everything but its default route, so the LAN and the host's other specific routes
 * stay where they are. Peers' endpoints and the coordinator never loop into the tunnel.
 *
 * Replies to marked packets get the mark back from conntrack (the agent's nftables table,
 * nft.h), and src_valid_mark makes the reverse-path check honour it: strict rp_filter would
 * otherwise drop them, their source being routed into the tunnel.
 *
 * Per address family, on while some peer carries that family's /0 in its allowed IPs (the
 * coordinator sends it only for the exit node this host chose and may use), off otherwise.
 * Off removes every rule and route it added; mg_exit_route_reset also removes what a killed
 * earlier run left behind.
 */
#ifndef MESHGATE_AGENT_EXIT_ROUTE_H
#define MESHGATE_AGENT_EXIT_ROUTE_H

#include <stdbool.h>

#include "rtnl.h"

#define MG_EXIT_FWMARK      0xce54u /* 52820: not wg-quick's 51820, so both can coexist */
#define MG_EXIT_TABLE       52820u
#define MG_EXIT_PRIO_LAN    5210u /* lookup main suppress_prefixlength 0 */
#define MG_EXIT_PRIO_TUNNEL 5220u /* not fwmark MG_EXIT_FWMARK lookup MG_EXIT_TABLE */

struct mg_exit_route {
	struct mg_rtnl *rtnl;
	int ifindex;
	bool allow_lan;
	bool on[2];             /* [0] IPv4, [1] IPv6 */
	int src_valid_mark_old; /* -1: not changed */
};

void mg_exit_route_init(struct mg_exit_route *e, struct mg_rtnl *rtnl, int ifindex, bool allow_lan);
/* Removes our rules and table route for both families, whatever state they are in. */
void mg_exit_route_reset(struct mg_exit_route *e);
/* Turns one family (4 or 6) on or off; returns 0 or a negative errno (the state is then off). */
int mg_exit_route_set(struct mg_exit_route *e, int family, bool on);

#endif
