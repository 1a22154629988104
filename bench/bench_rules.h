/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The rule set both packet-filter benches classify against: n rules as the coordinator compiles
 * a policy over n source nodes, each node's /32 and /128 allowed to reach this node's LAN on
 * tcp 22, 443 and 8000-8100 (three rte_acl rules per family and node).
 */
#ifndef MESHGATE_BENCH_BENCH_RULES_H
#define MESHGATE_BENCH_BENCH_RULES_H

#include <stdint.h>

#include "acl.h"

/* Node i's IPv4 address is src4(i) (host byte order), its IPv6 one fd7a:115c:a1e0::i; dst4 is
 * the LAN's IPv4 prefix (the IPv6 one is fd10:1::/48). src holds 2n prefixes and must outlive
 * the filter. Prints the reason and returns NULL on failure. */
struct mg_acl *bench_rules_build(unsigned n, uint32_t (*src4)(unsigned i), const char *dst4,
                                 struct mg_prefix *src);

#endif
