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
#include <stddef.h>
#include <stdint.h>

#include <rte_ether.h>
#include <rte_spinlock.h>

#include "addr.h"
#include "cookie.h"
#include "noise.h"
#include "outer_hdr.h"
#include "timers.h"

struct rte_mbuf;

/* Packets held per peer while its first handshake completes (the kernel holds 128). */
#define MG_STAGED_MAX 128

/*
 * The outer endpoint, always the endpoint member of a struct mg_peer (a write marks the peer's
 * send state stale). Encap reads it only to rebuild that state; writers are the control thread
 * (UAPI, coordinator) and any worker that sees an authenticated packet from a new address
 * (roaming). A sequence lock keeps readers lock-free; writers that lose the race simply skip, since
 * the next authenticated packet roams again.
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

/*
 * What sealing for the peer reads, packed in two lines: a burst spread over many peers then
 * misses here once per peer instead of on the keypair slots, the endpoint, the timer durations
 * and the neighbour table, and the outer headers (outer_hdr.h) are built once per change
 * instead of once per peer and burst. The gateway keeps these in a dense array indexed by peer
 * slot (gw->peer_tx), so that encap can ask for a packet's state as soon as allowed-IPs names
 * the slot, without first loading the peer's pointer. A cache, not the truth: whoever changes
 * an input marks it stale after the change (the current keypair: mg_peer_current_changed, which
 * every noise host that feeds encap registers; the endpoint: mg_endpoint_*write; the neighbour
 * table, the mesh addresses and the listen port: the table's generation; the peer leaving its
 * slot: the gateway), and encap rebuilds it from the inputs on the next burst that finds it
 * stale. The sequence lock never lets a reader use a torn copy; readers do not wait, they take
 * the slow path. kp is only dereferenced inside the reader's RCU section, and it is marked
 * stale before kp is released, so a fresh state's kp is alive.
 */
struct mg_peer_tx {
	_Atomic uint32_t seq; /* odd while written */
	uint32_t neigh_gen;   /* mg_neigh_gen when the next hop was resolved */
	struct wg_noise_keypair *kp;
	uint64_t rekey_after_time_ns, reject_after_time_ns; /* the peer's timer durations */
	bool fresh;   /* built since the last change of an input */
	bool relayed; /* the endpoint is the relay path: no outer headers, no template */
	/* Ethernet to the data header for the endpoint, the next hop's MAC and kp's receiver
	 * index, with the mesh port's checksum modes (unless relayed). */
	struct mg_outer_tmpl tmpl;
};
_Static_assert(sizeof(struct mg_peer_tx) <= 128, "the send state is two cache lines");

/* Copies a consistent, fresh state into out; false when stale or being written. */
bool mg_peer_tx_read(const struct mg_peer_tx *tx, struct mg_peer_tx *out);
/* The sequence a rebuild starts from: read it before reading the inputs. */
static inline uint32_t mg_peer_tx_begin(const struct mg_peer_tx *tx)
{
	return atomic_load_explicit(&((struct mg_peer_tx *)tx)->seq, memory_order_acquire);
}
/* Stores in (built from inputs read after begin) unless anything wrote the line since; a
 * change then has marked it stale and the next burst tries again. */
void mg_peer_tx_store(struct mg_peer_tx *tx, uint32_t begin, const struct mg_peer_tx *in);
/* Marks the state stale; any thread, after changing an input. NULL (a peer that holds no slot,
 * so no state) is a no-op. */
void mg_peer_tx_invalidate(struct mg_peer_tx *tx);
/* wg_noise_upcalls.current_changed for the remotes of struct mg_peer (remote.owner). */
void mg_peer_current_changed(void *ctx, struct wg_noise_remote *remote);

/* Worker-to-control requests, set with atomic_fetch_or and cleared by the control thread. */
enum mg_peer_request {
	MG_PEER_WANT_HANDSHAKE = 1u << 0, /* a key is due for renewal (WG_OK_REKEY or age) */
};

struct mg_peer {
	/* ---- read by workers ---- */
	/* Line-aligned as a whole (its fields are laid out by line, and callers allocate it with
	 * aligned_alloc(64, sizeof), which wants a multiple of the alignment). */
	_Alignas(64) struct wg_noise_remote remote; /* keypair slots; remote.owner points back */
	uint32_t slot; /* index in gw->peers: also the allowed-IPs next hop */
	struct mg_endpoint endpoint;
	_Atomic uint32_t requests; /* enum mg_peer_request bits */
	/* What opening a message asks of the peer's timer durations (wg_keypair_may_open_after),
	 * copied from timers.d by mg_peer_timers_init: a packet then reads this line and not the
	 * control thread's. The durations never change after that. */
	uint64_t open_reject_after_ns, open_rekey_age_ns;
	/* Timer input, stored by workers (relaxed) when a keepalive authenticates: the control
	 * thread turns changes into wg_timers events on its next tick. Monotonic ns, 0 = never.
	 * Data packets, sent and received, leave their times per worker instead
	 * (mg_peer_counters.last_tx_ns, last_rx_ns), so that this line stays read-mostly. */
	_Atomic uint64_t last_keepalive_rx_ns;

	/*
	 * Held by whoever changes remote's handshake state or keypair slots, or the cookie maker:
	 * the control thread and the handshake lcores (gateway/handshake_lcores.h). Workers never
	 * take it: they only read the slots.
	 */
	rte_spinlock_t hs_lock;
	/* The send state of the peer's slot (gw->peer_tx[slot]), set by whoever gives the peer its
	 * slot; writers of the inputs mark it stale through this. NULL: the peer holds no slot
	 * (a test of other parts), and encap never stores a state through a peer whose tx is not
	 * its slot's. */
	struct mg_peer_tx *tx;

	/* ---- control thread only ---- */
	struct wg_timers timers;
	struct wg_cookie_maker cookie; /* under hs_lock */
	struct rte_mbuf *staged[MG_STAGED_MAX];
	unsigned n_staged;
	uint16_t persistent_keepalive;
	struct mg_prefix *allowed_ips;
	size_t n_allowed_ips, cap_allowed_ips;
	uint64_t last_handshake_realtime_ns; /* wall clock, for wg show */
	/* last values of the timer inputs already fed to the timers (one send time: what a worker
	 * sealed was both data and an authenticated packet) */
	uint64_t fed_tx_ns, fed_data_rx_ns, fed_auth_rx_ns;
};
/* One line for what every received packet reads of its peer (besides remote's slots). */
_Static_assert(offsetof(struct mg_peer, slot) / 64 ==
                   (offsetof(struct mg_peer, last_keepalive_rx_ns) + 7) / 64,
               "a packet's peer fields share a line");

/* wg_timers_init for the peer's timers, and the receive path's copy of their durations. */
void mg_peer_timers_init(struct mg_peer *peer, const struct wg_timer_durations *d,
                         void (*rand)(void *ctx, void *buf, size_t len), void *rand_ctx);

/*
 * Every remote the gateway knows is a peer's `remote` (device.c sets owner to that peer), so
 * the peer is found by address, not through r->owner: the receive path reaches a peer from a
 * keypair's `remote`, and loading owner was a dependent miss on a line nothing else there reads.
 */
static inline struct mg_peer *mg_peer_of_remote(struct wg_noise_remote *r)
{
	return (struct mg_peer *)(void *)((char *)r - offsetof(struct mg_peer, remote));
}

#endif
