/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The map's packet filter compiled for the workers: two rte_acl contexts (IPv4, IPv6) whose
 * fields are protocol, source prefix, destination prefix and destination port range. The
 * control thread builds a new struct mg_acl off the fast path (mg_acl_build) and publishes it
 * whole (mg_gateway_publish_acl); workers classify each decrypted burst with one
 * rte_acl_classify call per address family present, for the keys whose protocol and port some
 * rule takes (mg_acl_classify); what it replaces is freed after an RCU grace period.
 *
 * The rules come in the filter model's shape (node/filter.h, which the data plane may not
 * include): lists of source and destination prefixes, a protocol and destination port ranges.
 * mg_acl_build expands each into rte_acl rules so that classification agrees with
 * mg_filter_match, the plain reference (tests/dataplane/test_acl checks it differentially):
 *   TCP, UDP: one rule per (src, dst, port range);
 *   ICMP: protocol 1 on IPv4, 58 on IPv6, any port (the key carries 0);
 *   any protocol with ports "*" alone: protocol wildcard, every port;
 *   any protocol with other ports: the TCP and UDP rules for those ports, plus ICMP.
 * A source and a destination of different families make no rule.
 */
#ifndef MESHGATE_DATAPLANE_ACL_H
#define MESHGATE_DATAPLANE_ACL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

struct mg_flow_key;

/* Expanded rte_acl rules one filter may compile to, both families together. */
#define MG_ACL_MAX_RULES 262144u
/* rte_acl's run-time memory per family (its build's max_size). */
#define MG_ACL_MAX_BYTES (256u << 20)

enum mg_acl_proto { MG_ACL_ANY = 0, MG_ACL_TCP, MG_ACL_UDP, MG_ACL_ICMP };

struct mg_acl_ports {
	uint16_t lo, hi; /* inclusive */
};

/* One rule as the filter model states it (struct mg_filter_rule's fields). */
struct mg_acl_rule {
	const struct mg_prefix *src;
	size_t n_src;
	const struct mg_prefix *dst;
	size_t n_dst;
	enum mg_acl_proto proto;
	const struct mg_acl_ports *ports;
	size_t n_ports;
};

struct rte_acl_ctx;

struct mg_acl {
	struct rte_acl_ctx *ctx4, *ctx6; /* NULL: no rule of that family (nothing matches) */
	uint32_t n_rules4, n_rules6;     /* expanded */
	size_t n_filter_rules;           /* as given */
	int method;                      /* rte_acl's classify method for both; 0: no context */
	/* What the rules could admit at all, both families together, so that a packet no rule
	 * can match on its protocol and port is refused without a walk of the trie:
	 * every_proto: some rule takes any protocol; proto_all: protocols some rule takes on
	 * every port; tcp_ports, udp_ports: destination ports (host order) some rule takes. */
	bool every_proto;
	uint64_t proto_all[256 / 64];
	uint64_t tcp_ports[65536 / 64], udp_ports[65536 / 64];
};

/*
 * Compiles rules (may be 0: the filter that admits nothing). socket_id: NUMA socket or
 * SOCKET_ID_ANY (-1). Returns NULL with a reason in err (too many expanded rules, no memory,
 * rte_acl refused the build).
 */
struct mg_acl *mg_acl_build(const struct mg_acl_rule *rules, size_t n, int socket_id, char *err,
                            size_t errlen);
void mg_acl_free(struct mg_acl *acl); /* NULL is fine */

/*
 * Once, after rte_eal_init: raises DPDK's max SIMD bitwidth to 512 when the CPU has what
 * rte_acl's AVX512X32 method needs (AVX512F, VL, CD, BW). DPDK caps it at 256 by default, so
 * rte_acl would pick AVX512X16, which walks a 32-packet burst in two passes of 16 lanes;
 * AVX512X32 walks it in one (the filter a third cheaper with 1,000 rules, bench/README.md). The
 * bitwidth is the EAL's and holds for every library (rte_fib's allowed-IPs lookup picks its
 * AVX-512 path too); the EAL option --force-max-simd-bitwidth=N wins over this. Returns the
 * bitwidth in force.
 */
unsigned mg_acl_simd_setup(void);
/* The classify method rte_acl runs for acl: "avx512x32", "avx512x16", "avx2", "sse",
 * "scalar", or "none" (no rule of either family). */
const char *mg_acl_method(const struct mg_acl *acl);
/* Before acl is published: makes rte_acl classify it with the method named (as
 * mg_acl_method spells it). Returns 0, or -1 when the name is unknown or the CPU or the max
 * SIMD bitwidth does not allow it (the method stays). */
int mg_acl_set_method(struct mg_acl *acl, const char *name);

/*
 * keys[i] are one family's 5-tuples as mg_pkt_tuple fills them: rte_acl reads its fields in
 * place (acl.c), so no per-packet key is built. match[i] is set true when some rule admits it.
 * One rte_acl_classify call per 64 keys, for those whose protocol and destination port some
 * rule takes. Any n.
 */
void mg_acl_classify(const struct mg_acl *acl, uint8_t family,
                     const struct mg_flow_key *const *keys, bool *match, unsigned n);

#endif
