/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * A peer as the gateway holds it. Workers read the first part inside their RCU read-side
 * section and never lock; the control thread owns the rest. A peer is freed only after an RCU
 * grace period, so a worker holding the pointer from gw->peers[slot] may keep using it for the
 * rest of its burst.
 */
#ifndef MESHGATE_DATAPLANE_PEER_H
#define MESHGATE_DATAPLANE_PEER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <rte_spinlock.h>

#include "addr.h"
#include "cookie.h"
#include "noise.h"
#include "timers.h"

struct rte_mbuf;

/* Packets held per peer while its first handshake completes (the kernel holds 128). */
#define MG_STAGED_MAX 128

/*
 * The outer endpoint. Workers read it once per burst; writers are the control thread (UAPI,
 * coordinator) and any worker that sees an authenticated packet from a new address (roaming).
 * A sequence lock keeps readers lock-free; writers that lose the race simply skip, since the
 * next authenticated packet roams again.
 */
struct mg_endpoint {
	_Atomic uint32_t seq; /* odd while a write is in progress */
	struct mg_sockaddr addr;
};

/* Reads a consistent copy; returns false when no endpoint is set. The family may be
 * MG_FAMILY_RELAY (relay_ring.h): a peer reached through the relay. */
bool mg_endpoint_read(const struct mg_endpoint *ep, struct mg_sockaddr *out);
/* Returns false when another writer holds it (roaming may skip). */
bool mg_endpoint_try_write(struct mg_endpoint *ep, const struct mg_sockaddr *addr);
/* Control thread: waits out concurrent roaming writers. */
void mg_endpoint_write(struct mg_endpoint *ep, const struct mg_sockaddr *addr);

/* Worker-to-control requests, set with atomic_fetch_or and cleared by the control thread. */
enum mg_peer_request {
	MG_PEER_WANT_HANDSHAKE = 1u << 0, /* a key is due for renewal (WG_OK_REKEY or age) */
};

struct mg_peer {
	/* ---- read by workers ---- */
	struct wg_noise_remote remote; /* keypair slots; remote.owner points back here */
	uint32_t slot;                 /* index in gw->peers: also the allowed-IPs next hop */
	struct mg_endpoint endpoint;
	/* Timer inputs, stored per burst by workers (relaxed): the control thread turns changes
	 * into wg_timers events on its next tick. Monotonic ns, 0 = never. */
	_Atomic uint64_t last_data_tx_ns;
	_Atomic uint64_t last_data_rx_ns;
	_Atomic uint64_t last_auth_tx_ns; /* any authenticated packet, keepalives included */
	_Atomic uint64_t last_auth_rx_ns;
	_Atomic uint32_t requests; /* enum mg_peer_request bits */

	/*
	 * Held by whoever changes remote's handshake state or keypair slots, or the cookie maker:
	 * the control thread and the handshake lcores (gateway/handshake_lcores.h). Workers never
	 * take it: they only read the slots.
	 */
	rte_spinlock_t hs_lock;

	/* ---- control thread only ---- */
	struct wg_timers timers;
	struct wg_cookie_maker cookie; /* under hs_lock */
	struct rte_mbuf *staged[MG_STAGED_MAX];
	unsigned n_staged;
	uint16_t persistent_keepalive;
	struct mg_prefix *allowed_ips;
	size_t n_allowed_ips, cap_allowed_ips;
	uint64_t last_handshake_realtime_ns; /* wall clock, for wg show */
	/* last values of the timer inputs already fed to the timers */
	uint64_t fed_data_tx_ns, fed_data_rx_ns, fed_auth_tx_ns, fed_auth_rx_ns;
};

static inline struct mg_peer *mg_peer_of_remote(struct wg_noise_remote *r)
{
	return (struct mg_peer *)r->owner;
}

#endif
