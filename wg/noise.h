/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The WireGuard handshake: Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s with WireGuard's prologue and
 * message layout, and the keypairs it produces.
 *
 * Threads. One writer per remote at a time: the caller serialises every function here that
 * changes a remote or its keypair slots (the gateway holds the peer's hs_lock, taken for an
 * initiation inside the remote_by_pubkey upcall, since the peer is known only there); a local
 * changes only while no handshake runs. The index table serialises its own writers. Data-plane
 * workers only read: wg_noise_keypair_current/next/previous, wg_noise_keypair_awaits_confirmation,
 * wg_noise_keypair_reserve and the transport calls, inside their RCU read-side section. A
 * keypair taken out of a slot is handed to the keypair_release upcall, which must keep it alive
 * until no worker can still hold it and then call wg_noise_keypair_free.
 *
 * MACs are not handled here: the driver checks mac1/mac2 (wg/cookie.h) before consuming a
 * message and adds them after creating one. The Noise layer never reads or writes the macs.
 * Lengths are the driver's too: wg_transport_classify (wg/transport.h) checks a datagram's type
 * and exact length before it is cast to a message struct; consume re-checks the type field.
 */
#ifndef MESHGATE_WG_NOISE_H
#define MESHGATE_WG_NOISE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "constants.h"
#include "messages.h"
#include "replay.h"
#include "result.h"

#define WG_NOISE_CONSTRUCTION "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
#define WG_NOISE_IDENTIFIER   "WireGuard v1 zx2c4 Jason@zx2c4.com"

/* Most nonces one wg_noise_keypair_reserve call may take (bounds the overshoot past the limit). */
#define WG_NOISE_MAX_RESERVE 256

struct wg_noise_remote;
struct wg_noise_keypair;

/*
 * What the Noise layer needs from its host. Any member may be NULL: random defaults to
 * wg_random_bytes, now to CLOCK_MONOTONIC, tai64n to the real clock (wg/tai64n.h),
 * remote_by_pubkey to "no such peer" (every initiation then fails with WG_ERR_UNKNOWN_PEER),
 * keypair_release to zero-and-free at once (only correct with no concurrent readers).
 */
struct wg_noise_upcalls {
	void *ctx;
	void (*random)(void *ctx, void *buf, size_t len);
	uint64_t (*now)(void *ctx); /* monotonic nanoseconds */
	void (*tai64n)(void *ctx, uint8_t out[WG_TIMESTAMP_LEN]);
	struct wg_noise_remote *(*remote_by_pubkey)(void *ctx, const uint8_t pub[WG_KEY_LEN]);
	/* kp is already out of every slot and the index table; free it later with
	 * wg_noise_keypair_free once readers are done (RCU). */
	void (*keypair_release)(void *ctx, struct wg_noise_keypair *kp);
	/* remote's current slot has just changed, before the keypair it held (if any) is
	 * released: for a host caching what it sends with (dataplane/peer.h). */
	void (*current_changed)(void *ctx, struct wg_noise_remote *remote);
};

/* This node: its static key, its index table, its host upcalls. */
struct wg_noise_local {
	uint8_t static_private[WG_KEY_LEN];
	uint8_t static_public[WG_KEY_LEN];
	bool has_identity;
	/* Bumped by every private key change; remotes recompute their static-static DH lazily. */
	uint64_t key_generation;
	struct wg_noise_upcalls upcalls;
	struct wg_index_table *index_table;
};

enum wg_noise_handshake_state {
	WG_NOISE_HANDSHAKE_ZEROED = 0,
	WG_NOISE_HANDSHAKE_CREATED_INITIATION,
	WG_NOISE_HANDSHAKE_CONSUMED_INITIATION,
	WG_NOISE_HANDSHAKE_CREATED_RESPONSE,
	WG_NOISE_HANDSHAKE_CONSUMED_RESPONSE,
};

/* One handshake in flight; only the control thread reads or writes it. */
struct wg_noise_handshake {
	enum wg_noise_handshake_state state;
	uint8_t hash[WG_HASH_LEN];
	uint8_t chaining_key[WG_HASH_LEN];
	uint8_t ephemeral_private[WG_KEY_LEN];
	uint8_t remote_ephemeral[WG_KEY_LEN];
	uint32_t local_index;  /* ours, registered in the index table while index_live */
	uint32_t remote_index; /* theirs, as put in their message */
	bool index_live;       /* local_index maps to this remote as WG_INDEX_HANDSHAKE */
};

/*
 * Keys of one session. Everything but the atomics is immutable once the keypair is in a slot,
 * so workers read it without locks.
 */
/* The first line holds all a send reads besides the counter (key, age, validity, index), so
 * a data plane sealing for many peers misses once per keypair there. */
struct wg_noise_keypair {
	_Alignas(64) uint8_t send_key[WG_KEY_LEN];
	uint64_t birth_ns;     /* upcalls.now() when the session began */
	uint32_t local_index;  /* receiver index of packets sent to us under this keypair */
	uint32_t remote_index; /* receiver index we put in packets we send */
	bool is_initiator;
	/* Cleared when the keypair may no longer send: counter or age exhausted, or expired by a
	 * key change (wg_noise_remote_expire_current). Receiving only checks the age. */
	atomic_bool valid;
	struct wg_noise_remote *remote;
	/* Next nonce to send; on its own cache line because every sending worker adds to it. */
	_Alignas(64) _Atomic uint64_t send_counter;
	/* A receive reads the key and the window's top together: one line (and the window's
	 * first block). Only receivers write it. */
	_Alignas(64) uint8_t recv_key[WG_KEY_LEN];
	struct wg_replay recv_replay;
};
_Static_assert(offsetof(struct wg_noise_keypair, send_counter) == 64,
               "a send's fields fill the keypair's first line");
_Static_assert(offsetof(struct wg_noise_keypair, recv_key) / 64 ==
                   (offsetof(struct wg_noise_keypair, recv_replay) +
                    offsetof(struct wg_replay, top) + sizeof(uint64_t) - 1) /
                       64,
               "the receive key and the window's top share a line");

/* One peer. Owned by the caller (embed it in the peer); initialise with wg_noise_remote_init. */
struct wg_noise_remote {
	struct wg_noise_local *local;
	void *owner; /* the caller's peer, for the index-table and upcall round trips */
	uint8_t remote_static[WG_KEY_LEN];
	uint8_t psk[WG_KEY_LEN]; /* all zero: none (Noise's psk of zeros, as WireGuard) */
	/* DH(local static, remote static), valid for local->key_generation == precomputed_gen.
	 * All zero: low-order remote key, every handshake fails with WG_ERR_LOW_ORDER. */
	uint8_t precomputed_static_static[WG_KEY_LEN];
	uint64_t precomputed_gen;
	bool precomputed_valid;
	struct wg_noise_handshake handshake;
	uint8_t latest_timestamp[WG_TIMESTAMP_LEN]; /* greatest TAI64N accepted from this peer */
	uint64_t last_initiation_ns;                /* when we last accepted an initiation */
	bool has_last_initiation;
	struct wg_noise_keypair *_Atomic next; /* responder's, until the first packet confirms it */
	struct wg_noise_keypair *_Atomic current;
	struct wg_noise_keypair *_Atomic previous;
};

/* ---- local ---- */

/* Zeroes local, takes the index table (not owned) and a copy of upcalls (NULL: all defaults). */
enum wg_result wg_noise_local_init(struct wg_noise_local *local, struct wg_index_table *table,
                                   const struct wg_noise_upcalls *upcalls);
/*
 * Sets (priv != NULL) or removes (NULL) the static identity. The remotes' precomputed DH becomes
 * stale and is recomputed on next use (or call wg_noise_remote_precompute per remote). Callers
 * changing a key should also call wg_noise_remote_expire_current on every remote, as the kernel
 * does. Without an identity every handshake fails with WG_ERR_STATE.
 */
enum wg_result wg_noise_local_set_private(struct wg_noise_local *local,
                                          const uint8_t priv[WG_KEY_LEN]);
/* Zeroes the private key. Remotes must be destroyed first. */
void wg_noise_local_destroy(struct wg_noise_local *local);

/* ---- remote ---- */

/* Zeroes remote and binds it to local. WG_ERR_LOW_ORDER: stored but unusable (see above). */
enum wg_result wg_noise_remote_init(struct wg_noise_remote *remote, struct wg_noise_local *local,
                                    const uint8_t pub[WG_KEY_LEN], void *owner);
/* psk NULL or all zero: none. */
void wg_noise_remote_set_psk(struct wg_noise_remote *remote, const uint8_t psk[WG_KEY_LEN]);
/* Recomputes DH(local static, remote static) now. WG_ERR_LOW_ORDER when it is all zero. */
enum wg_result wg_noise_remote_precompute(struct wg_noise_remote *remote);
/* Zeroes the handshake (freeing its index) and releases every keypair: the timers' ZERO_KEYS. */
void wg_noise_remote_clear(struct wg_noise_remote *remote);
/* Stops sending under the current and next keypairs (after a local key change). */
void wg_noise_remote_expire_current(struct wg_noise_remote *remote);
/* wg_noise_remote_clear, then zeroes every secret. The memory stays the caller's. */
void wg_noise_remote_destroy(struct wg_noise_remote *remote);
enum wg_noise_handshake_state wg_noise_remote_handshake_state(const struct wg_noise_remote *remote);

/* ---- handshake (control thread) ---- */

/*
 * Initiator, message 1. Fills everything but the macs (zeroed). Errors: WG_ERR_STATE (no local
 * identity), WG_ERR_LOW_ORDER (peer unusable), WG_ERR_NOMEM (index table full), WG_ERR_CRYPTO.
 */
enum wg_result wg_noise_create_initiation(struct wg_noise_remote *remote,
                                          struct wg_msg_initiation *out);
/*
 * Responder, message 1. On success *out_remote is the sender, now CONSUMED_INITIATION. Errors
 * leave every remote unchanged: WG_ERR_INVALID (type field), WG_ERR_STATE (no identity),
 * WG_ERR_LOW_ORDER (ephemeral or peer), WG_ERR_AUTH, WG_ERR_UNKNOWN_PEER, WG_ERR_REPLAY
 * (timestamp not newer than the last accepted), WG_ERR_FLOOD (< WG_HANDSHAKE_MIN_INTERVAL_NS
 * after the last accepted initiation), WG_ERR_CRYPTO.
 */
enum wg_result wg_noise_consume_initiation(struct wg_noise_local *local,
                                           const struct wg_msg_initiation *in,
                                           struct wg_noise_remote **out_remote);
/* Responder, message 2, from CONSUMED_INITIATION (else WG_ERR_STATE). Macs left zero. */
enum wg_result wg_noise_create_response(struct wg_noise_remote *remote,
                                        struct wg_msg_response *out);
/*
 * Initiator, message 2: receiver index must name a handshake (WG_ERR_UNKNOWN_PEER) in
 * CREATED_INITIATION (WG_ERR_STATE). Then WG_ERR_LOW_ORDER / WG_ERR_AUTH. On success the remote
 * is CONSUMED_RESPONSE; on error nothing changed.
 */
enum wg_result wg_noise_consume_response(struct wg_noise_local *local,
                                         const struct wg_msg_response *in,
                                         struct wg_noise_remote **out_remote);
/*
 * After CREATED_RESPONSE or CONSUMED_RESPONSE (else WG_ERR_STATE): derives the keypair, moves
 * the handshake's index over to it, zeroes the handshake and installs the keypair. Initiator:
 * new → current, old current → previous, old previous and old next released. Responder: new →
 * next (unusable for sending until confirmed), old next and old previous released.
 */
enum wg_result wg_noise_begin_session(struct wg_noise_remote *remote);
/*
 * Call on the control thread after a data packet under kp authenticated. If kp is the
 * unconfirmed next keypair: next → current, current → previous, old previous released; returns
 * true. Workers test wg_noise_keypair_awaits_confirmation and punt to the control thread.
 */
bool wg_noise_received_with_keypair(struct wg_noise_remote *remote, struct wg_noise_keypair *kp);

/* ---- keypairs (any thread, inside the RCU read-side section) ---- */

struct wg_noise_keypair *wg_noise_keypair_current(const struct wg_noise_remote *remote);
struct wg_noise_keypair *wg_noise_keypair_next(const struct wg_noise_remote *remote);
struct wg_noise_keypair *wg_noise_keypair_previous(const struct wg_noise_remote *remote);
/* True while kp sits in its remote's next slot: the first packet under it confirms it. */
bool wg_noise_keypair_awaits_confirmation(const struct wg_noise_keypair *kp);
/*
 * Reserves n (1..WG_NOISE_MAX_RESERVE) consecutive send nonces with one atomic add; *first is the
 * first. WG_OK, WG_OK_REKEY (a nonce reached WG_REKEY_AFTER_MESSAGES: start a handshake),
 * WG_ERR_EXPIRED (no longer valid, or a nonce would reach WG_REJECT_AFTER_MESSAGES: the keypair
 * is then invalidated and nothing may be sent), WG_ERR_INVALID (n out of range).
 */
enum wg_result wg_noise_keypair_reserve(struct wg_noise_keypair *kp, uint32_t n, uint64_t *first);
/* Zeroes and frees a released keypair (from the deferred keypair_release callback). */
void wg_noise_keypair_free(struct wg_noise_keypair *kp);

#endif
