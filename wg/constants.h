/* SPDX-License-Identifier: GPL-2.0-only */
/* Protocol constants from the WireGuard paper (section 6) and the Linux module. */
#ifndef MESHGATE_WG_CONSTANTS_H
#define MESHGATE_WG_CONSTANTS_H

#include <stdint.h>

#define WG_NSEC_PER_SEC  1000000000ULL
#define WG_NSEC_PER_MSEC 1000000ULL

#define WG_KEY_LEN       32
#define WG_HASH_LEN      32
#define WG_MAC_LEN       16
#define WG_COOKIE_LEN    16
#define WG_AEAD_TAG_LEN  16
#define WG_TIMESTAMP_LEN 12
#define WG_NONCE_LEN     12 /* ChaCha20-Poly1305 (RFC 8439) */
#define WG_XNONCE_LEN    24

#define WG_REKEY_AFTER_MESSAGES (1ULL << 60)
/* 2^64 - 2^13 - 1: the replay window must never wrap. */
#define WG_REJECT_AFTER_MESSAGES (UINT64_MAX - 8192ULL)

#define WG_REKEY_AFTER_TIME_S          120
#define WG_REJECT_AFTER_TIME_S         180
#define WG_REKEY_ATTEMPT_TIME_S        90
#define WG_REKEY_TIMEOUT_S             5
#define WG_KEEPALIVE_TIMEOUT_S         10
#define WG_REKEY_TIMEOUT_JITTER_MAX_MS 333
#define WG_MAX_TIMER_HANDSHAKES        (WG_REKEY_ATTEMPT_TIME_S / WG_REKEY_TIMEOUT_S)

#define WG_COOKIE_SECRET_MAX_AGE_S 120
#define WG_COOKIE_SECRET_LATENCY_S 5

/* Accepted initiations from one peer are at least this far apart (kernel:
 * 1/INITIATIONS_PER_SECOND). */
#define WG_HANDSHAKE_MIN_INTERVAL_NS (20 * WG_NSEC_PER_MSEC)

/* Handshake initiations accepted per source under load (IPv4 address or IPv6 /64). */
#define WG_RATELIMIT_PER_SECOND 20
#define WG_RATELIMIT_BURST      5

/* Transport payloads are padded to a multiple of this. */
#define WG_PADDING_MULTIPLE 16

#endif
