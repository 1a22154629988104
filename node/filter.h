/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The packet filter a node enforces on traffic that arrives from the mesh, as the coordinator
 * compiles it from the policy (docs/coord-protocol.md, "The packet filter"): a list of rules,
 * each admitting new traffic from some source prefixes to some destination prefixes (this
 * node's addresses and the routes it carries) for one protocol on destination port ranges.
 * This is the model every enforcer compiles from (nftables in the agent, rte_acl in the
 * gateway), and mg_filter_match is its plain reference matcher: no DPDK, no sockets.
 *
 * The matcher is stateless: it says whether a packet may open a flow. Replies to flows this
 * side opened, and ICMP errors about tracked flows, are the enforcer's connection tracking.
 */
#ifndef MESHGATE_NODE_FILTER_H
#define MESHGATE_NODE_FILTER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

/* Bounds on what one map may carry; the stream line itself is capped at 64 MiB. */
#define MG_FILTER_MAX_RULES    65536
#define MG_FILTER_MAX_PREFIXES 262144 /* per list */
#define MG_FILTER_MAX_PORTS    65536  /* per rule */

#define MG_IPPROTO_ICMP   1
#define MG_IPPROTO_TCP    6
#define MG_IPPROTO_UDP    17
#define MG_IPPROTO_ICMPV6 58

enum mg_filter_proto {
	MG_FILTER_ANY = 0, /* every protocol: a rule without "proto" */
	MG_FILTER_TCP,
	MG_FILTER_UDP,
	MG_FILTER_ICMP, /* ICMP on IPv4, ICMPv6 on IPv6 */
};

struct mg_port_range {
	uint16_t lo, hi; /* inclusive */
};

/*
 * After mg_filter_rule_normalize: prefix lists sorted (IPv4 first) with host bits clear and no
 * prefix inside another; port ranges sorted and merged (none overlap or touch).
 */
struct mg_filter_rule {
	struct mg_prefix *src;
	size_t n_src;
	struct mg_prefix *dst;
	size_t n_dst;
	enum mg_filter_proto proto;
	struct mg_port_range *ports;
	size_t n_ports;
};

struct mg_filter {
	struct mg_filter_rule *rules;
	size_t n_rules;
};

/* The part of a packet the filter looks at. Ports are 0 for protocols without them. */
struct mg_filter_packet {
	uint8_t family; /* 4 or 6 */
	uint8_t proto;  /* IP protocol number (the upper layer, after IPv6 extension headers) */
	uint16_t sport, dport;
	uint8_t src[16], dst[16]; /* network order; IPv4 in the first 4 bytes */
};

/*
 * True when some rule admits p: its protocol fits (ANY: every protocol), the source lies in one
 * of its source prefixes and the destination in one of its destination prefixes, and
 *   - TCP and UDP: the destination port lies in one of its ranges;
 *   - ICMP (IPv4) and ICMPv6 (IPv6): whatever the ports (they have none; as in Tailscale, a
 *     rule that opens any port to a host also lets it be pinged);
 *   - any other protocol (only a rule with ANY can match it): the rule's ports are all of
 *     0-65535, i.e. the policy said "*".
 * A rule with no source, destination or port entries matches nothing.
 */
bool mg_filter_match(const struct mg_filter *f, const struct mg_filter_packet *p);

/*
 * Text forms, as the coordinator sends them. Each returns 0, or -1 with err saying what was
 * expected (the caller prefixes where).
 *   prefix: "*" (both 0.0.0.0/0 and ::/0: *n = 2) or "10.1.0.0/24" with no host bits (*n = 1);
 *   ports:  "*" (0-65535), "22" or "8000-8100" (decimal, lo <= hi <= 65535);
 *   proto:  "tcp", "udp", "icmp" or "any".
 */
int mg_filter_parse_prefix(const char *s, struct mg_prefix out[2], size_t *n, char *err,
                           size_t errlen);
int mg_filter_parse_ports(const char *s, struct mg_port_range *out, char *err, size_t errlen);
int mg_filter_parse_proto(const char *s, enum mg_filter_proto *out, char *err, size_t errlen);
const char *mg_filter_proto_name(enum mg_filter_proto p);

/*
 * Sorts and merges the rule's lists (see struct mg_filter_rule). Returns -1 with err set when
 * the rule contradicts itself: an ICMP rule with ports other than "*".
 */
int mg_filter_rule_normalize(struct mg_filter_rule *r, char *err, size_t errlen);

void mg_filter_rule_free(struct mg_filter_rule *r);
void mg_filter_free(struct mg_filter *f);
/* Deep copy; -ENOMEM leaves dst empty. */
int mg_filter_copy(struct mg_filter *dst, const struct mg_filter *src);
/* Same rules in the same order (both normalized). */
bool mg_filter_equal(const struct mg_filter *a, const struct mg_filter *b);
/* One rule as text for logs and meshctl: "src 100.64.0.2/32 dst 100.64.0.1/32 tcp 22,80-90". */
void mg_filter_rule_format(const struct mg_filter_rule *r, char *buf, size_t len);

#endif
