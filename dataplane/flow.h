/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The policy filter's connection tracking: the flows this side opened (LAN to mesh through a
 * worker, or the gateway itself through the control thread), so that their replies pass the
 * filter that would refuse them as new traffic (docs/coord-protocol.md, "Enforcement").
 *
 * A flow is stored under the key its replies carry (source and destination swapped). Each
 * owner (every worker, and the control thread as the last owner) has its own rte_hash with one
 * writer and lock-free readers (RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF), so nobody takes a
 * lock: a reply decrypted on any worker looks in every owner's table. Deleted keys are reused
 * only after an RCU grace period (the hash's own QSBR defer queue), so a reader may keep the
 * position it found until its next quiescent state. A flow lives while packets go either way;
 * its owner expires it after the protocol's idle timeout, a little at a time.
 *
 * The table is bounded: when an owner's share is full, the packet still leaves but its flow is
 * not tracked (counted as flows_full), so its replies meet the filter like new traffic.
 */
#ifndef MESHGATE_DATAPLANE_FLOW_H
#define MESHGATE_DATAPLANE_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pkt.h"

struct rte_rcu_qsbr;
struct mg_flows;

/* Idle timeouts, seconds: TCP as RFC 5382 REQ-5 (established), UDP as RFC 4787 REQ-5, ICMP echo
 * and other protocols as Linux conntrack's defaults. */
#define MG_FLOW_TCP_TIMEOUT_S   7440u
#define MG_FLOW_UDP_TIMEOUT_S   120u
#define MG_FLOW_ICMP_TIMEOUT_S  30u
#define MG_FLOW_OTHER_TIMEOUT_S 600u
#define MG_FLOW_DEFAULT_MAX     65536u
#define MG_FLOW_MIN             64u
#define MG_FLOW_MAX             (1u << 24)

/* A 5-tuple. Ports in network order; ICMP echo: the identifier in sport, dport 0; protocols
 * without ports: both 0. Padding is zero (the whole struct is the hash key). 8-byte aligned:
 * rte_hash_crc reads keys 8 bytes at a time (UBSan flagged a key in an array of tuples). */
struct mg_flow_key {
	_Alignas(8) uint8_t family; /* 4 or 6 */
	uint8_t proto;              /* upper-layer protocol, after IPv6 extension headers */
	uint16_t sport, dport;
	uint8_t pad[2];
	uint8_t src[16], dst[16];
};

/* What the filter reads in one IP packet. */
struct mg_pkt_tuple {
	struct mg_flow_key key; /* as the packet travels */
	uint16_t l4_off;        /* upper-layer header from the IP header; 0: absent or truncated */
	bool later_fragment;    /* a fragment other than the first: no ports to look at */
	bool icmp_error;        /* ICMP / ICMPv6 error quoting a packet at l4_off + 8 */
	bool echo_request;      /* ICMP / ICMPv6 echo request (key.sport: its identifier) */
	bool tcp_syn;           /* TCP with SYN and without ACK: a connection's first packet */
};

/*
 * Fills t from the packet at ip (l3 parsed from it, total_len bytes readable). IPv6 extension
 * headers (hop-by-hop, routing, fragment, destination options, AH) are walked. Returns 0, or -1
 * when the headers are inconsistent (the caller treats the packet as unmatched).
 */
int mg_pkt_tuple(const uint8_t *ip, const struct mg_l3 *l3, struct mg_pkt_tuple *t);

/* The key a reply to a packet with tuple t carries (addresses and ports swapped; ICMP echo:
 * the reply's type keeps the identifier). */
void mg_flow_key_reverse(const struct mg_flow_key *k, struct mg_flow_key *out);

/*
 * For an ICMP error (t->icmp_error): the key under which the flow of the packet it quotes is
 * stored, i.e. the reverse of the quoted packet's tuple. Returns -1 when the quote is too
 * short or the error is not addressed to the quoted packet's source.
 */
int mg_flow_key_of_icmp_error(const uint8_t *ip, const struct mg_l3 *l3,
                              const struct mg_pkt_tuple *t, struct mg_flow_key *out);

struct mg_flow_counters {
	uint64_t created, expired;
	uint64_t full;        /* outbound flows not tracked: the owner's share was full */
	uint64_t replies;     /* inbound packets the filter refused but a tracked flow passed */
	uint64_t icmp_errors; /* of which ICMP errors about a tracked flow */
	uint64_t fragments;   /* later fragments passed without a look at ports */
};

/*
 * n_owners: the workers plus one for the control thread. max_flows: all owners together
 * (MG_FLOW_MIN .. MG_FLOW_MAX; 0: MG_FLOW_DEFAULT_MAX). rcu: the readers' QSBR variable, or
 * NULL when nobody reads while owners write (tests). Returns NULL with a reason in err.
 */
struct mg_flows *mg_flows_create(unsigned n_owners, uint32_t max_flows, struct rte_rcu_qsbr *rcu,
                                 char *err, size_t errlen);
void mg_flows_free(struct mg_flows *f); /* readers have stopped; NULL is fine */
unsigned mg_flows_owners(const struct mg_flows *f);
/* Flows currently held, all owners (approximate while owners write). */
uint32_t mg_flows_count(const struct mg_flows *f);
size_t mg_flows_memory(const struct mg_flows *f);

/*
 * Owner side: a packet with tuple t (as it travels) leaves; remember or refresh the flow its
 * replies belong to. Looks in every owner's table before adding to its own. Only a packet that
 * opens a flow creates one: a TCP SYN, an ICMP echo request, any UDP or other packet (they have
 * no opening packet). TCP segments after the SYN and echo replies only refresh, so a
 * connection a peer opened is never tracked as this side's.
 */
void mg_flows_track(struct mg_flows *f, unsigned owner, const struct mg_pkt_tuple *t,
                    uint64_t now_ns, struct mg_flow_counters *c);
/* Any thread: whether k (as an inbound packet carries it) belongs to a live flow; refreshes it. */
bool mg_flows_lookup(struct mg_flows *f, const struct mg_flow_key *k, uint64_t now_ns);
/* The same for n <= 64 keys at once (one rte_hash_lookup_bulk per owner): hit[i] set. */
void mg_flows_lookup_bulk(struct mg_flows *f, const struct mg_flow_key *const *keys, unsigned n,
                          uint64_t now_ns, bool *hit);
/* Owner side: checks up to budget of its flows for expiry. */
void mg_flows_expire(struct mg_flows *f, unsigned owner, uint64_t now_ns, unsigned budget,
                     struct mg_flow_counters *c);

#endif
