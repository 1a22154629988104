/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The neighbour table: ARP (IPv4) and ND (IPv6) next-hop resolution for both ports.
 *
 * One writer (the control thread: updates, aging, protocol input, resolution) and any number of
 * lock-free readers (workers: mg_neigh_lookup). The table is a fixed open-addressing array whose
 * slots are guarded by per-slot sequence counters: readers never write shared memory and never
 * wait on the writer, nothing is ever freed while the gateway runs, so no RCU grace period is
 * needed (rte_hash's lock-free mode would need one for every delete). A lookup racing an update of
 * the same key may miss once (the worker then asks for resolution, which is rate limited); it
 * never returns a MAC that was not published for that key.
 *
 * Time is monotonic nanoseconds supplied by the caller, so tests drive it directly.
 */
#ifndef MESHGATE_DATAPLANE_NEIGH_H
#define MESHGATE_DATAPLANE_NEIGH_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include <rte_ether.h>

#include "dp_config.h"

struct rte_mbuf;
struct mg_gateway;
struct mg_neigh;

#define MG_NEIGH_REACHABLE_NS      (30ull * 1000000000ull) /* then re-probe, still usable */
#define MG_NEIGH_PROBE_INTERVAL_NS 1000000000ull /* at most one request per target per second */
#define MG_NEIGH_MAX_PROBES        3             /* unanswered probes before deletion */
/* an unresolved entry nobody asked about again for this long is forgotten */
#define MG_NEIGH_INCOMPLETE_NS (3ull * 1000000000ull)

enum mg_neigh_state {
	MG_NEIGH_FREE = 0,
	MG_NEIGH_INCOMPLETE, /* request sent, no answer yet: lookups miss */
	MG_NEIGH_STALE,      /* learned unsolicited (their request to us): usable, evicted first */
	MG_NEIGH_REACHABLE,  /* confirmed by an answer to our request */
	MG_NEIGH_PROBE,      /* confirmation overdue, re-probing; still usable */
};

/* Written by the control thread only; read it from there (the health socket) too. */
struct mg_neigh_stats {
	uint64_t entries;       /* live entries now, any state */
	uint64_t arp_rx, nd_rx; /* frames handed to the input functions */
	uint64_t arp_malformed; /* truncated, wrong hardware/protocol type, bad addresses */
	uint64_t nd_malformed;  /* bad checksum, hop limit != 255, bad length or options */
	uint64_t ignored;       /* valid but not for us (other target, router messages) */
	uint64_t replies_sent;  /* ARP replies and neighbour advertisements */
	uint64_t requests_sent; /* ARP requests and neighbour solicitations */
	uint64_t rate_limited;  /* resolutions not sent: one per target per interval */
	uint64_t learned;       /* entries created or refreshed from the wire */
	uint64_t evicted;       /* entries pushed out because the table was full */
	uint64_t expired;       /* entries deleted after unanswered probes */
	uint64_t tx_failed;     /* the control TX queue did not take a frame */
	uint64_t nomem;         /* no mbuf for a reply or request */
};

/* max: entries kept at most (the array holds a power of two >= 2 * max). socket: NUMA socket or
 * SOCKET_ID_ANY. Returns NULL on bad arguments or no memory. */
struct mg_neigh *mg_neigh_create(uint32_t max, int socket);
void mg_neigh_free(struct mg_neigh *n);

/*
 * Worker side, lock-free. family 4 or 6, addr in network byte order (4 or 16 bytes). True and
 * *mac_out filled when a usable entry (STALE, REACHABLE or PROBE) exists. On a miss the worker
 * posts MG_EVENT_RESOLVE; the control thread calls mg_neigh_resolve.
 */
bool mg_neigh_lookup(const struct mg_neigh *n, uint8_t port, uint8_t family, const uint8_t *addr,
                     struct rte_ether_addr *mac_out);

/*
 * Moves on every write to the table (and on mg_neigh_touch): what a worker resolved at one
 * generation still holds while the generation reads the same. Lets encap keep a peer's next-hop
 * MAC with its send state (peer.h) instead of looking it up per burst.
 */
uint32_t mg_neigh_gen(const struct mg_neigh *n);
/* Moves the generation without a write: the mesh addresses (hence next hops) changed. */
void mg_neigh_touch(struct mg_neigh *n);

/* ---- control thread only below ---- */

/* Sets addr -> mac as REACHABLE (a static entry or a confirmed answer). Evicts the least useful
 * entry when full. Returns 0, or -1 for bad arguments (unicast MAC and address required). */
int mg_neigh_update(struct mg_neigh *n, uint8_t port, uint8_t family, const uint8_t *addr,
                    const struct rte_ether_addr *mac, uint64_t now_ns);
/* Removes an entry; returns true if it existed. */
bool mg_neigh_delete(struct mg_neigh *n, uint8_t port, uint8_t family, const uint8_t *addr);
/* Control-side view of an entry (for tests and the health socket): false if absent. */
bool mg_neigh_state_of(const struct mg_neigh *n, uint8_t port, uint8_t family, const uint8_t *addr,
                       enum mg_neigh_state *state);
void mg_neigh_stats(const struct mg_neigh *n, struct mg_neigh_stats *out);

/*
 * Periodic maintenance (call every ~100 ms - 1 s): entries confirmed more than
 * MG_NEIGH_REACHABLE_NS ago are re-probed (unicast, once per interval) and stay usable; after
 * MG_NEIGH_MAX_PROBES unanswered probes they are deleted. INCOMPLETE entries nobody asked for in
 * MG_NEIGH_INCOMPLETE_NS are forgotten. Probes go out on each port's control_txq.
 */
void mg_neigh_age(struct mg_gateway *gw, uint64_t now_ns);

/*
 * Starts or continues resolution of addr on port: broadcasts an ARP request or sends a neighbour
 * solicitation to the solicited-node multicast address, at most once per MG_NEIGH_PROBE_INTERVAL_NS
 * per target (counted in rate_limited otherwise). Creates an INCOMPLETE entry. Does nothing
 * (returns 0) when the entry is already usable. Returns 0, or -1 when the port has no address of
 * that family or the frame could not be built or sent (counted).
 */
int mg_neigh_resolve(struct mg_gateway *gw, uint8_t port, uint8_t family, const uint8_t *addr,
                     uint64_t now_ns);

/*
 * Protocol input from the punt ring (untagged Ethernet frame as received). Both consume m: it is
 * freed (or reused) on every path. Replies go out on the port's control_txq.
 *  - ARP: answers requests for the port's IPv4 address; learns the sender from requests for our
 *    address and from replies addressed to us; refreshes existing entries from gratuitous ARP.
 *  - ND: validates (hop limit 255, ICMPv6 checksum, code 0, lengths, options, RFC 4861 7.1);
 *    answers NS for the port's global IPv6 address and its EUI-64 link-local address with a
 *    solicited NA (override set, target link-layer option), or to all-nodes for DAD probes; learns
 *    from NS source link-layer options and NA target link-layer options. Router messages are
 *    ignored. The gateway performs no DAD of its own.
 */
void mg_neigh_input_arp(struct mg_gateway *gw, uint8_t port, struct rte_mbuf *m, uint64_t now_ns);
void mg_neigh_input_nd(struct mg_gateway *gw, uint8_t port, struct rte_mbuf *m, uint64_t now_ns);

/* The EUI-64 link-local address (fe80::/64) derived from mac (RFC 4291 appendix A). */
static inline void mg_neigh_link_local(const struct rte_ether_addr *mac, uint8_t out[16])
{
	const uint8_t *b = mac->addr_bytes;

	memset(out, 0, 16);
	out[0] = 0xfe;
	out[1] = 0x80;
	out[8] = b[0] ^ 0x02; /* universal/local bit inverted */
	out[9] = b[1];
	out[10] = b[2];
	out[11] = 0xff;
	out[12] = 0xfe;
	out[13] = b[3];
	out[14] = b[4];
	out[15] = b[5];
}

/* a lies inside prefix p (same family assumed). */
static inline bool mg_neigh_prefix_contains(const struct mg_prefix *p, const uint8_t *a)
{
	unsigned full = p->len / 8, rest = p->len % 8;

	if (memcmp(p->addr, a, full) != 0)
		return false;
	return rest == 0 || ((p->addr[full] ^ a[full]) & (uint8_t)(0xff << (8 - rest))) == 0;
}

/*
 * Next hop for an outer destination leaving through port pc: dst itself when on-link (inside the
 * port's prefix; fe80::/10 always), else the configured gateway. False when off-link with no
 * gateway. nh_out gets 4 or 16 bytes.
 */
static inline bool mg_neigh_next_hop(const struct mg_port_addrs *pc, uint8_t family,
                                     const uint8_t *dst, uint8_t *nh_out)
{
	if (family == 4) {
		if (pc->has_ipv4 && mg_neigh_prefix_contains(&pc->ipv4, dst))
			memcpy(nh_out, dst, 4);
		else if (pc->has_gateway4)
			memcpy(nh_out, pc->gateway4, 4);
		else
			return false;
		return true;
	}
	if (family != 6)
		return false;
	if ((dst[0] == 0xfe && (dst[1] & 0xc0) == 0x80) ||
	    (pc->has_ipv6 && mg_neigh_prefix_contains(&pc->ipv6, dst)))
		memcpy(nh_out, dst, 16);
	else if (pc->has_gateway6)
		memcpy(nh_out, pc->gateway6, 16);
	else
		return false;
	return true;
}

#endif
