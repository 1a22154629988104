/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Results returned by the protocol core. The data path and the handshake driver act on them
 * (drop and count by reason, send a cookie, start a rekey), so each names one reason.
 */
#ifndef MESHGATE_WG_RESULT_H
#define MESHGATE_WG_RESULT_H

enum wg_result {
	WG_OK = 0,
	WG_OK_REKEY,         /* success, and the sender should start a new handshake soon */
	WG_ERR_INVALID,      /* malformed: wrong length, type or field */
	WG_ERR_AUTH,         /* an AEAD tag or a MAC did not verify */
	WG_ERR_REPLAY,       /* counter already seen or left of the window; or a stale timestamp */
	WG_ERR_FLOOD,        /* initiation too soon after the last accepted one */
	WG_ERR_EXPIRED,      /* keypair too old or its counter exhausted */
	WG_ERR_NO_KEYPAIR,   /* nothing to encrypt with */
	WG_ERR_UNKNOWN_PEER, /* static key or receiver index not known */
	WG_ERR_STATE,        /* message not expected in the current handshake state */
	WG_ERR_LOW_ORDER,    /* an X25519 result was all zero */
	WG_ERR_COOKIE,       /* under load and mac2 missing or invalid: answer with a cookie */
	WG_ERR_RATELIMIT,    /* source over its handshake budget */
	WG_ERR_NOMEM,
	WG_ERR_CRYPTO, /* the crypto library failed for a reason other than authentication */
	WG_RESULT_COUNT
};

const char *wg_result_str(enum wg_result r);

#endif
