/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The gateway context shared by the control thread and the workers. The control thread is the
 * only writer of everything here after start-up; workers read the tables lock-free and report
 * quiescent states to gw->rcu after each burst, so the control thread can free what it replaced.
 * The data plane's configuration is its own (dp_config.h): nothing here points into the parsed
 * config file, which the control thread may change at will.
 */
#ifndef MESHGATE_DATAPLANE_DATAPLANE_H
#define MESHGATE_DATAPLANE_DATAPLANE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_ether.h>

#include "counters.h"
#include "dp_config.h"
#include "index_table.h"
#include "noise.h"
#include "peer.h"

struct rte_mempool;
struct rte_ring;
struct mg_relay_rings;
struct rte_rcu_qsbr;
struct mg_acl;
struct mg_allowedips;
struct mg_flows;
struct mg_nat;
struct mg_neigh;
struct mg_worker;

struct mg_port {
	uint16_t port_id;
	struct rte_ether_addr mac;
	struct rte_mempool *pool;
	uint16_t n_rxq, n_txq; /* one RX and one TX queue per worker where the PMD allows; the
	                          last TX queue belongs to the control thread */
	uint16_t control_txq;  /* MG_NO_CONTROL_TXQ: the driver had no queue to spare */
	/* Only without a control queue: what the control thread sends, for worker 0 to send on its
	 * own queue (mg_port_control_tx). */
	struct rte_ring *control_tx_ring;
	bool link_up;
};

/*
 * Metadata the worker attaches to a punted mbuf. It lives at the start of the mbuf's headroom
 * (mg_punt_meta(m) in punt.h): it is larger than the mbuf's dynamic-field area. The consumer
 * copies it out before prepending any header.
 */
enum mg_punt_kind {
	MG_PUNT_HANDSHAKE, /* mesh: UDP to our port, message type 1, 2 or 3 */
	MG_PUNT_ARP,       /* either port */
	MG_PUNT_ND,        /* either port: ICMPv6 router/neighbour solicitation/advertisement */
	MG_PUNT_STAGE,     /* LAN: packet for peer_slot, which has no usable keypair yet */
	MG_PUNT_LOCAL,     /* addressed to the gateway itself (ICMP echo and the like) */
};

struct mg_punt_meta {
	uint8_t kind;           /* enum mg_punt_kind */
	uint8_t port;           /* enum mg_port_id it arrived on */
	uint16_t l3_offset;     /* start of the IP header (or ARP) in the frame */
	uint32_t peer_slot;     /* MG_PUNT_STAGE */
	struct mg_sockaddr src; /* outer source of a handshake message */
	uint64_t rx_ns;
};

/* Events without a packet, workers to control, through gw->event_ring (fixed-size elements). */
enum mg_event_kind {
	MG_EVENT_KEY_CONFIRMED, /* first authenticated packet under a responder's next keypair */
	MG_EVENT_RESOLVE,       /* next hop addr on port has no neighbour entry */
};

struct mg_event {
	uint8_t kind;
	uint8_t port;
	uint8_t family;
	uint8_t reserved;
	uint32_t peer_slot;
	uint32_t local_index; /* MG_EVENT_KEY_CONFIRMED: which keypair */
	uint8_t addr[16];
};

struct mg_gateway {
	struct mg_dp_config conf; /* fixed from mg_gateway_init on */
	/* The addresses the gateway owns. Replaced as a whole (mg_gateway_publish_addrs) and
	 * retired after a grace period, like peers; read through mg_gateway_addrs. */
	struct mg_dp_addrs *_Atomic addrs;
	struct mg_port ports[MG_PORT_COUNT];

	struct mg_worker *workers[MG_MAX_WORKERS];
	unsigned n_workers;
	struct rte_rcu_qsbr *rcu;
	struct rte_ring *punt_ring;  /* mbufs, multi-producer, single consumer (control) */
	struct rte_ring *event_ring; /* struct mg_event elements, MP/SC */
	/* Handshake initiations, when the gateway has handshake lcores (0: they go to punt_ring
	 * with the other handshake messages): one MP/SC ring per handshake lcore, chosen by the
	 * source address and port (mg_punt_initiation). */
	struct rte_ring *hs_rings[MG_MAX_HS_LCORES];
	unsigned n_hs_rings;
	struct mg_relay_rings *relay; /* relay_ring.h; NULL while the relay path is off */
	struct rte_ring *wgport; /* STUN and disco to control, struct mg_wgport_item (wgport.h) */

	/* Peers by slot; NULL = free. Pointers are published with release stores and retired
	 * through RCU. */
	struct mg_peer *_Atomic *peers;
	/* Their send states by slot (peer.h), max_peers of them, cache-line aligned: encap reads a
	 * packet's straight from the allowed-IPs result. A slot's state is stale until a worker
	 * builds it for the peer there, and made stale again when that peer leaves. */
	struct mg_peer_tx *peer_tx;
	uint32_t max_peers;
	uint32_t n_peers;

	struct wg_noise_local local;
	struct wg_index_table *index;
	struct mg_allowedips *allowedips;
	struct mg_neigh *neigh;
	struct mg_nat *nat; /* exit-node NAT; NULL when conf.exit is off */
	/* The packet filter in force (acl.h), replaced whole (mg_gateway_publish_acl) and retired
	 * after a grace period. NULL: no policy, everything passes and no flow is tracked. */
	struct mg_acl *_Atomic acl;
	struct mg_flows *flows; /* its connection tracking (flow.h); owners: workers, control */

	/* [worker][slot] byte and packet counts, summed for wg show and the health socket. */
	struct mg_peer_counters *peer_counters[MG_MAX_WORKERS];

	uint16_t listen_port;
	uint16_t mtu;
	uint64_t tsc_hz;
	_Atomic bool stop;
};

/* The worker's view of a peer slot (NULL when free); valid until its next quiescent state. */
static inline struct mg_peer *mg_gateway_peer(const struct mg_gateway *gw, uint32_t slot)
{
	if (slot >= gw->max_peers)
		return NULL;
	return atomic_load_explicit(&gw->peers[slot], memory_order_acquire);
}

/* The send state of a slot below max_peers, whether or not a peer holds it. */
static inline struct mg_peer_tx *mg_gateway_peer_tx(const struct mg_gateway *gw, uint32_t slot)
{
	return &gw->peer_tx[slot];
}

/* The worker's view of the gateway's addresses; valid until its next quiescent state. The
 * control thread, their only writer, may keep it as long as it likes. */
static inline const struct mg_dp_addrs *mg_gateway_addrs(const struct mg_gateway *gw)
{
	return atomic_load_explicit(&gw->addrs, memory_order_acquire);
}

/* The worker's view of the filter (NULL: no policy); valid until its next quiescent state. */
static inline const struct mg_acl *mg_gateway_acl(const struct mg_gateway *gw)
{
	return atomic_load_explicit(&gw->acl, memory_order_acquire);
}

/* Control thread: publishes next (may be NULL: no policy) and returns the one it replaces, to
 * be freed with mg_acl_free once every worker has passed a quiescent state. */
struct mg_acl *mg_gateway_publish_acl(struct mg_gateway *gw, struct mg_acl *next);

/*
 * Start-up, before the ports and workers: copies conf, takes n_workers, max_peers, the listen
 * port and the MTU from it, and publishes a copy of addrs. Returns 0 or -ENOMEM.
 */
int mg_gateway_init(struct mg_gateway *gw, const struct mg_dp_config *conf,
                    const struct mg_dp_addrs *addrs);
/* Frees the published addresses; the workers have stopped. Idempotent. */
void mg_gateway_fini(struct mg_gateway *gw);
/*
 * Control thread: publishes a copy of next (release store) and hands the set it replaces to
 * *old, to be freed with free() once every worker has passed a quiescent state. Returns 0, or
 * -ENOMEM with nothing changed.
 */
int mg_gateway_publish_addrs(struct mg_gateway *gw, const struct mg_dp_addrs *next,
                             struct mg_dp_addrs **old);

#endif
