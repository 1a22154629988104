/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Per-worker counters. Each worker writes only its own struct (no atomics on the hot path); the
 * control thread sums them for the health socket, so a reader may see a value one burst old.
 */
#ifndef MESHGATE_DATAPLANE_COUNTERS_H
#define MESHGATE_DATAPLANE_COUNTERS_H

#include <stdint.h>

#include "dp_config.h"
#include "flow.h"

/* Every packet the gateway does not forward is counted under exactly one reason. */
enum mg_drop_reason {
	MG_DROP_MALFORMED,    /* truncated or invalid Ethernet, IP or UDP header */
	MG_DROP_NOT_FOR_US,   /* mesh port: not our address, or not our UDP port */
	MG_DROP_UNSUPPORTED,  /* ethertype or protocol we do not handle */
	MG_DROP_NO_ROUTE,     /* LAN to mesh: no peer's allowed IPs match (ICMP unreachable sent) */
	MG_DROP_NO_ENDPOINT,  /* the peer has no known endpoint */
	MG_DROP_TOO_BIG,      /* over the MTU (ICMP frag-needed / packet-too-big sent) */
	MG_DROP_STAGED_FULL,  /* waiting for a handshake and that peer's queue is full */
	MG_DROP_NO_NEIGHBOUR, /* next hop not resolved yet (resolution started) */
	MG_DROP_WG_INVALID,   /* WireGuard message of a bad type or length */
	MG_DROP_UNKNOWN_INDEX,   /* receiver index not ours */
	MG_DROP_KEY_EXPIRED,     /* keypair past REJECT_AFTER_TIME or its message limit */
	MG_DROP_AUTH,            /* AEAD tag did not verify */
	MG_DROP_REPLAY,          /* counter replayed or left of the window */
	MG_DROP_ALLOWED_IPS,     /* decrypted inner source outside the peer's allowed IPs */
	MG_DROP_INNER_INVALID,   /* decrypted payload is not a valid IPv4/IPv6 packet */
	MG_DROP_PUNT_FULL,       /* ring to the control lcore full */
	MG_DROP_FANOUT_FULL,     /* ring to another worker full */
	MG_DROP_TX_FULL,         /* the NIC did not take the packet */
	MG_DROP_TTL,             /* TTL/hop limit expired */
	MG_DROP_NOMEM,           /* mbuf allocation failed */
	MG_DROP_CRYPTO,          /* the crypto library refused a job (should never happen) */
	MG_DROP_NAT_NO_PORT,     /* exit NAT: this worker's share of the port range is in use */
	MG_DROP_NAT_TABLE_FULL,  /* exit NAT: no free mapping */
	MG_DROP_NAT_UNSUPPORTED, /* exit NAT: fragment, protocol or ICMP type it cannot map */
	MG_DROP_POLICY,          /* decrypted: the filter admits it not, no tracked flow owns it */
	MG_DROP_RELAY_FULL,      /* ring to or from the relay client full (or relay off) */
	MG_DROP_WGPORT_FULL,     /* STUN/disco ring to the control lcore full */
	MG_DROP_REASON_COUNT
};

const char *mg_drop_reason_name(enum mg_drop_reason r); /* snake_case, for metrics labels */

struct mg_nat_counters {
	uint64_t out, in;     /* packets translated each way */
	uint64_t icmp_errors; /* ICMP errors translated back, quoted header included */
	uint64_t mss_clamped; /* TCP SYNs whose MSS option was lowered */
	/* mappings by protocol: created on first use, expired by their owner; in use is the
	 * difference summed over workers */
	uint64_t created[MG_NAT_PROTO_COUNT], expired[MG_NAT_PROTO_COUNT];
};

struct mg_worker_counters {
	uint64_t rx_packets[2], rx_bytes[2]; /* by port: lan, mesh */
	uint64_t tx_packets[2], tx_bytes[2];
	uint64_t encrypted, decrypted, keepalives_rx;
	uint64_t punted;
	uint64_t events_lost; /* event ring to the control thread full */
	uint64_t drops[MG_DROP_REASON_COUNT];
	uint64_t polls, empty_polls;
	uint64_t busy_cycles, total_cycles;
	struct mg_nat_counters nat;
	struct mg_flow_counters flows; /* the policy filter's flow tracking */
} __attribute__((aligned(64)));

/*
 * Per peer and per worker: rows of a [worker][peer slot] array, summed by the control thread.
 * A row is a line of its own: the worker writes it every burst that sends to the peer, and a
 * row shared with another peer's (or a line shared with the peer itself, read by the control
 * thread) would cost a second miss per peer when bursts spread over many peers.
 */
struct mg_peer_counters {
	uint64_t rx_bytes, tx_bytes; /* whole WireGuard messages, as wg(8) counts them */
	uint64_t rx_packets, tx_packets;
	uint64_t drops;
	uint64_t policy_drops; /* of which the filter refused (MG_DROP_POLICY) */
	/* When this worker last sealed data for the peer (monotonic ns, 0 = never): the timer
	 * input for data and authenticated packets sent; the control thread feeds the newest. */
	_Atomic uint64_t last_tx_ns;
	/* When this worker last received authenticated data from the peer (likewise): the timer
	 * input for data and authenticated packets received; keepalives go to the peer's
	 * last_keepalive_rx_ns. */
	_Atomic uint64_t last_rx_ns;
} __attribute__((aligned(64)));
_Static_assert(sizeof(struct mg_peer_counters) == 64, "a counters row is one line");

#endif
