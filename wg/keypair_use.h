/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The one rule for whether a keypair may seal or open a data message and when a new handshake is
 * due: the kernel's checks in send.c (keep_key_fresh) and receive.c (decrypt_packet, the last
 * minute handshake), OpenBSD's noise_keypair_encrypt/decrypt and noise_keep_key_fresh_*.
 * encap, decap, the reference transport and the handshake driver all ask here, with the peer's
 * timer durations, so that a shortened clock (test.timer_divisor) moves every one of them alike.
 * Inline because the data plane asks once per peer and burst when sealing and once per packet
 * when opening.
 */
#ifndef MESHGATE_WG_KEYPAIR_USE_H
#define MESHGATE_WG_KEYPAIR_USE_H

#include <stdatomic.h>
#include <stdint.h>

#include "constants.h"
#include "noise.h"
#include "timers.h"

enum wg_keypair_use {
	WG_KEYPAIR_OK = 0,
	WG_KEYPAIR_REKEY,   /* use it, and start a new handshake */
	WG_KEYPAIR_EXPIRED, /* must not be used */
};

/* A clock that reads before the birth (injected in tests) counts as age zero. */
static inline uint64_t wg_keypair_age_ns(const struct wg_noise_keypair *kp, uint64_t now_ns)
{
	return now_ns > kp->birth_ns ? now_ns - kp->birth_ns : 0;
}

/*
 * The counter limits on their own, for wg_noise_keypair_reserve, which must apply them to the
 * nonces it has just taken. nonce: the highest nonce a send uses. The limit keeps the peer's
 * replay window from wrapping; the rekey point leaves a new handshake ample time before it.
 */
static inline enum wg_keypair_use wg_keypair_nonce_use(uint64_t nonce)
{
	if (nonce >= WG_REJECT_AFTER_MESSAGES)
		return WG_KEYPAIR_EXPIRED;
	return nonce >= WG_REKEY_AFTER_MESSAGES ? WG_KEYPAIR_REKEY : WG_KEYPAIR_OK;
}

/*
 * Sealing. nonce: the highest nonce the send will use (before reserving: the send counter).
 * EXPIRED once invalidated (counter exhausted or a local key change) or REJECT_AFTER_TIME old;
 * REKEY from nonce REKEY_AFTER_MESSAGES, or for the initiator from REKEY_AFTER_TIME, because
 * only the initiator's clock starts the renewal (the responder's would make both sides
 * initiate at once). The _after form takes the two durations that count, for a caller that
 * keeps them nearer to hand than the peer's timers (dataplane/peer.h's send state).
 */
static inline enum wg_keypair_use wg_keypair_may_seal_after(const struct wg_noise_keypair *kp,
                                                            uint64_t rekey_after_time_ns,
                                                            uint64_t reject_after_time_ns,
                                                            uint64_t nonce, uint64_t now_ns)
{
	uint64_t age = wg_keypair_age_ns(kp, now_ns);
	if (!atomic_load_explicit(&kp->valid, memory_order_relaxed) || age >= reject_after_time_ns)
		return WG_KEYPAIR_EXPIRED;
	enum wg_keypair_use use = wg_keypair_nonce_use(nonce);
	if (use == WG_KEYPAIR_OK && kp->is_initiator && age >= rekey_after_time_ns)
		use = WG_KEYPAIR_REKEY;
	return use;
}

static inline enum wg_keypair_use wg_keypair_may_seal(const struct wg_noise_keypair *kp,
                                                      const struct wg_timer_durations *d,
                                                      uint64_t nonce, uint64_t now_ns)
{
	return wg_keypair_may_seal_after(kp, d->rekey_after_time_ns, d->reject_after_time_ns, nonce,
	                                 now_ns);
}

/*
 * Opening, before the tag is checked. Only the age counts: `valid` stops sending alone, so the
 * peer's packets in flight under a keypair we stopped using still arrive, and the received
 * counter is bounded by the replay window (wg_replay_check) once authenticated. REKEY for the
 * initiator from REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT: an initiator that only
 * receives still renews the keypair before it dies. The _after form takes that age and
 * REJECT_AFTER_TIME, for a caller that keeps them nearer to hand than the peer's timers
 * (dataplane/peer.h's receive fields).
 */
static inline uint64_t wg_keypair_open_rekey_age_ns(const struct wg_timer_durations *d)
{
	uint64_t margin = d->keepalive_timeout_ns + d->rekey_timeout_ns;
	return d->reject_after_time_ns > margin ? d->reject_after_time_ns - margin : 0;
}

static inline enum wg_keypair_use wg_keypair_may_open_after(const struct wg_noise_keypair *kp,
                                                            uint64_t reject_after_time_ns,
                                                            uint64_t rekey_age_ns, uint64_t now_ns)
{
	uint64_t age = wg_keypair_age_ns(kp, now_ns);
	if (age >= reject_after_time_ns)
		return WG_KEYPAIR_EXPIRED;
	return kp->is_initiator && age >= rekey_age_ns ? WG_KEYPAIR_REKEY : WG_KEYPAIR_OK;
}

static inline enum wg_keypair_use wg_keypair_may_open(const struct wg_noise_keypair *kp,
                                                      const struct wg_timer_durations *d,
                                                      uint64_t now_ns)
{
	return wg_keypair_may_open_after(kp, d->reject_after_time_ns,
	                                 wg_keypair_open_rekey_age_ns(d), now_ns);
}

#endif
