/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * What a node may claim about addresses: the endpoints it reports to its peers and the routes it
 * advertises. Both are attacker-controlled input that other nodes act on.
 */
#ifndef MESHGATE_COORD_ADDR_GUARD_H
#define MESHGATE_COORD_ADDR_GUARD_H

#include <stdbool.h>
#include <stddef.h>

#include "util.h"

/*
 * False (with why) for an endpoint no peer should be sent to: loopback, unspecified, multicast,
 * broadcast or link-local, also when written as an IPv4-mapped IPv6 address. s must already have
 * passed endpoint_valid.
 */
bool endpoint_routable(const char *s, char *why, size_t whylen);
/* True when route and the overlay prefix share any address (either contains the other). */
bool prefix_overlaps(const struct mg_prefix *a, const struct mg_prefix *b);
/*
 * True when route overlaps either overlay prefix: such a route could carry another node's
 * address. The exit routes (/0) are the one exception: they contain the overlay, but every node
 * reaches an overlay address through its owner's more specific /32 or /128.
 */
bool route_hits_overlay(const struct mg_prefix *route, const struct mg_prefix *v4,
                        const struct mg_prefix *v6);

#endif
