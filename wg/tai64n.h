/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * TAI64N timestamps, the payload of a handshake initiation: 8 bytes big-endian of
 * 2^62 + 10 + seconds since the Unix epoch, then 4 bytes big-endian of nanoseconds.
 */
#ifndef MESHGATE_WG_TAI64N_H
#define MESHGATE_WG_TAI64N_H

#include <stdbool.h>
#include <stdint.h>

#include "constants.h"

#define WG_TAI64_BASE ((1ULL << 62) + 10ULL)
/*
 * Sent timestamps are rounded down to this many nanoseconds (2^24, about 16.7 ms, the power of
 * two below the minimum initiation interval), as the kernel does, so that the timestamp does not
 * leak a fine-grained clock.
 */
#define WG_TAI64N_GRANULARITY_NS (1U << 24)

/* Encodes exactly, without rounding. nsec must be below 10^9. */
void wg_tai64n_encode(uint8_t out[WG_TIMESTAMP_LEN], uint64_t unix_sec, uint32_t nsec);
/* The wall clock (CLOCK_REALTIME), nanoseconds rounded down to WG_TAI64N_GRANULARITY_NS. */
void wg_tai64n_now(uint8_t out[WG_TIMESTAMP_LEN]);
/* True when a is strictly later than b. Not constant time: timestamps are not secret. */
bool wg_tai64n_after(const uint8_t a[WG_TIMESTAMP_LEN], const uint8_t b[WG_TIMESTAMP_LEN]);

#endif
