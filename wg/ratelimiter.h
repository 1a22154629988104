/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Handshake-initiation rate limiter, applied under load to initiations whose mac2 is valid (so the
 * source address is genuine). One token bucket per source: an IPv4 address or an IPv6 /64 (the
 * port is ignored), refilled at WG_RATELIMIT_PER_SECOND with a burst of WG_RATELIMIT_BURST, the
 * same arithmetic as the Linux module. The table is bounded: when it is full, unknown sources are
 * refused rather than the table grown, so a flood of sources cannot exhaust memory. Sources idle
 * for more than a second are forgotten.
 *
 * Not thread-safe by design: it belongs to the control thread, which runs every handshake.
 * Time is a monotonic now_ns supplied by the caller.
 */
#ifndef MESHGATE_WG_RATELIMITER_H
#define MESHGATE_WG_RATELIMITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "messages.h"

#define WG_RATELIMITER_DEFAULT_CAPACITY 8192

struct wg_ratelimiter;

/*
 * capacity: most sources tracked at once. rand (required) seeds the keyed hash, so a remote
 * party cannot pick addresses that collide in the table. NULL on bad arguments or no memory.
 */
struct wg_ratelimiter *wg_ratelimiter_new(uint32_t capacity,
                                          void (*rand)(void *ctx, void *buf, size_t len),
                                          void *rand_ctx);
void wg_ratelimiter_free(struct wg_ratelimiter *rl);

/*
 * True if an initiation from src may be processed now (and charges its bucket). False when over
 * budget, when the table is full of other sources, or when src is not IPv4 or IPv6. Collects
 * idle sources itself at most once a second.
 */
bool wg_ratelimiter_allow(struct wg_ratelimiter *rl, const struct wg_endpoint *src,
                          uint64_t now_ns);
/* Forgets every source idle for more than a second. */
void wg_ratelimiter_gc(struct wg_ratelimiter *rl, uint64_t now_ns);
/* Sources currently tracked. */
uint32_t wg_ratelimiter_count(const struct wg_ratelimiter *rl);

#endif
