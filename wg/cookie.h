/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * WireGuard's DoS cookies (paper 5.4.4 and 5.4.7): mac1 on every handshake message proves the
 * sender knows our public key; under load mac2 proves it can receive at its source address,
 * using a cookie we sent it in a cookie reply, encrypted to the mac1 it used.
 *
 * The checker is the responder side (one per interface), the maker the initiator side (one
 * per peer). Neither locks: both belong to the control thread, which runs every handshake.
 * Time is a monotonic now_ns supplied by the caller.
 */
#ifndef MESHGATE_WG_COOKIE_H
#define MESHGATE_WG_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "constants.h"
#include "messages.h"
#include "result.h"

enum wg_cookie_mac_state {
	WG_COOKIE_MAC_INVALID = 0,       /* malformed or bad mac1: drop */
	WG_COOKIE_MAC_VALID,             /* mac1 good; not under load, so mac2 was not checked */
	WG_COOKIE_MAC_VALID_WITH_COOKIE, /* under load, mac1 and mac2 good: apply the rate limiter
	                                  */
	WG_COOKIE_NEEDS_COOKIE, /* under load, mac1 good, mac2 absent or stale: send a reply */
};

const char *wg_cookie_mac_state_str(enum wg_cookie_mac_state state);

/* Cookie-reply nonces drawn from the random source at once (see wg_cookie_reply_create). */
#define WG_COOKIE_NONCE_POOL 32

struct wg_cookie_checker {
	uint8_t mac1_key[WG_HASH_LEN];  /* HASH("mac1----" || local public) */
	uint8_t cookie_key[WG_KEY_LEN]; /* HASH("cookie--" || local public) */
	uint8_t secret[WG_HASH_LEN];    /* rotated when older than the max age, on use */
	uint64_t secret_birth_ns;
	bool secret_set;
	void (*rand)(void *ctx, void *buf, size_t len);
	void *rand_ctx;
	/* Random cookie-reply nonces; the first nonces_left of them are unused. */
	uint8_t nonces[WG_COOKIE_NONCE_POOL][WG_XNONCE_LEN];
	unsigned nonces_left;
};

/* rand NULL: wg_random_bytes. Call again when the local static key changes. */
enum wg_result wg_cookie_checker_init(struct wg_cookie_checker *c,
                                      const uint8_t local_public[WG_KEY_LEN],
                                      void (*rand)(void *ctx, void *buf, size_t len),
                                      void *rand_ctx);
/* Zeroes the whole checker, secret included. */
void wg_cookie_checker_clear(struct wg_cookie_checker *c);

/*
 * Checks a handshake initiation (148 bytes, type 1) or response (92 bytes, type 2) from src.
 * mac2 is checked only when under_load; src is needed only then (NULL otherwise is fine).
 */
enum wg_cookie_mac_state wg_cookie_validate(struct wg_cookie_checker *c, const void *msg,
                                            size_t len, const struct wg_endpoint *src,
                                            bool under_load, uint64_t now_ns);

/*
 * Builds the cookie reply to msg (which must have passed mac1) for src: type 3, receiver index
 * = the message's sender index, a random nonce, the cookie sealed to the message's mac1.
 */
enum wg_result wg_cookie_reply_create(struct wg_cookie_checker *c, struct wg_msg_cookie *reply,
                                      const void *msg, size_t len, const struct wg_endpoint *src,
                                      uint64_t now_ns);

struct wg_cookie_maker {
	uint8_t mac1_key[WG_HASH_LEN];  /* HASH("mac1----" || remote public) */
	uint8_t cookie_key[WG_KEY_LEN]; /* HASH("cookie--" || remote public) */
	uint8_t cookie[WG_COOKIE_LEN];  /* from the last reply; see cookie_set */
	uint64_t cookie_birth_ns;
	bool cookie_set;
	uint8_t last_mac1[WG_COOKIE_LEN]; /* mac1 of the last message sent: the reply's AD */
	uint32_t last_sender_index;       /* as on the wire, of that message */
	bool mac1_outstanding;            /* a reply may be accepted (at most one per message) */
};

enum wg_result wg_cookie_maker_init(struct wg_cookie_maker *m,
                                    const uint8_t remote_public[WG_KEY_LEN]);
void wg_cookie_maker_clear(struct wg_cookie_maker *m);

/*
 * Fills mac1, and mac2 while a cookie younger than WG_COOKIE_SECRET_MAX_AGE_S -
 * WG_COOKIE_SECRET_LATENCY_S is held (zeros otherwise), of an outgoing initiation or response
 * whose other fields are final.
 */
enum wg_result wg_cookie_add_macs(struct wg_cookie_maker *m, void *msg, size_t len,
                                  uint64_t now_ns);

/*
 * Takes the cookie from a reply to the last message sent. WG_ERR_INVALID: not a 64-byte type 3
 * message; WG_ERR_STATE: no message awaiting a reply (none sent, or a reply already taken);
 * WG_ERR_UNKNOWN_PEER: the receiver index is not that of the last message; WG_ERR_AUTH: the
 * reply does not decrypt against the last mac1. Only success consumes the outstanding mac1.
 */
enum wg_result wg_cookie_consume_reply(struct wg_cookie_maker *m, const void *reply, size_t len,
                                       uint64_t now_ns);

#endif
