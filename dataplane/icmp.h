/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Router-style ICMP errors for packets the gateway drops (RFC 792, 1812, 4443). Safe on a worker:
 * no locks and no shared writes; each caller owns its struct mg_icmp_limiter (a token bucket plus
 * counters). Split the gateway-wide budget over the workers (MG_ICMP_RATE_PER_S / n_workers).
 *
 * Like Linux WireGuard for a destination without a peer, "unreachable" is ICMP host unreachable
 * (type 3 code 1) for IPv4 and ICMPv6 address unreachable (type 1 code 3) for IPv6.
 */
#ifndef MESHGATE_DATAPLANE_ICMP_H
#define MESHGATE_DATAPLANE_ICMP_H

#include <stdint.h>

struct rte_mbuf;
struct mg_gateway;

#define MG_ICMP_RATE_PER_S 1000 /* per gateway */
#define MG_ICMP_BURST      50

enum mg_icmp_kind {
	MG_ICMP_UNREACHABLE, /* no peer / no key: v4 3/1 host unreachable, v6 1/3 addr unreachable
	                      */
	MG_ICMP_TOO_BIG,     /* v4 3/4 fragmentation needed + next-hop MTU, v6 2/0 packet too big */
	MG_ICMP_TIME_EXCEEDED, /* TTL / hop limit reached zero in transit: v4 11/0, v6 3/0 */
};

struct mg_icmp_limiter {
	/* token bucket; one token is ticks_per_s units so integer arithmetic stays exact */
	uint64_t tokens; /* scaled by ticks_per_s */
	uint64_t burst;  /* scaled by ticks_per_s */
	uint64_t rate;   /* tokens per second */
	uint64_t ticks_per_s;
	uint64_t last_ticks;
	uint16_t ip_id; /* IPv4 identification of the next error */
	/* counters, written only by the owner */
	uint64_t sent;         /* replies built and returned */
	uint64_t rate_limited; /* suppressed by the bucket */
	uint64_t
	    not_allowed; /* suppressed by the never-answer rules (error, multicast, fragment..) */
	uint64_t malformed; /* offending frame too short or not IPv4/IPv6 */
	uint64_t no_source; /* no address of that family to send from */
	uint64_t nomem;     /* no mbuf */
};

/* rate: errors per second (0 disables errors), burst: bucket depth, ticks_per_s: the unit of the
 * now_ticks passed below (rte_get_tsc_hz() on workers). The bucket starts full. */
void mg_icmp_limiter_init(struct mg_icmp_limiter *l, uint32_t rate, uint32_t burst,
                          uint64_t ticks_per_s);

/*
 * Builds the ICMP error for frame m (the untagged Ethernet frame as received on port; not
 * consumed, the caller still drops it). mtu: the next-hop MTU for MG_ICMP_TOO_BIG (ignored
 * otherwise; IPv6 uses at least 1280). The caller decides whether a DF-clear IPv4 packet should be
 * fragmented instead of answered.
 *
 * Returns a new mbuf from the port's pool: an Ethernet frame back to m's source MAC from the port
 * MAC, with the IP source set to the gateway's address on that port (falling back to an overlay
 * address, then for IPv6 the link-local address), quoting as much of the offending packet as fits
 * in 576 bytes (IPv4) or 1280 bytes (IPv6). Returns NULL, counted in l, when the rules forbid an
 * answer (m is an ICMP error or redirect, a non-first fragment, to a multicast or broadcast
 * destination, from an unspecified, multicast, broadcast or loopback source), when rate limited,
 * or when no mbuf is free.
 */
struct rte_mbuf *mg_icmp_error(const struct mg_gateway *gw, uint8_t port, const struct rte_mbuf *m,
                               enum mg_icmp_kind kind, uint32_t mtu, struct mg_icmp_limiter *l,
                               uint64_t now_ticks);

#endif
