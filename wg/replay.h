/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The receive replay window: the RFC 6479 bitmap, 8192 bits, as 128 blocks of 64. Safe for
 * concurrent callers without a lock, so one peer's packets can be checked on every worker:
 * each block carries the block number it currently holds and is updated with one 16-byte
 * compare-and-swap, so a counter can be accepted at most once whatever the interleaving.
 * Check only after the AEAD tag has verified.
 */
#ifndef MESHGATE_WG_REPLAY_H
#define MESHGATE_WG_REPLAY_H

#include <stdbool.h>
#include <stdint.h>

#define WG_REPLAY_BITS_TOTAL 8192
#define WG_REPLAY_BLOCK_BITS 64
#define WG_REPLAY_BLOCKS     (WG_REPLAY_BITS_TOTAL / WG_REPLAY_BLOCK_BITS)
/* As in the Linux module: one block is redundant so the window slides without clearing it. */
#define WG_REPLAY_WINDOW_SIZE (WG_REPLAY_BITS_TOTAL - WG_REPLAY_BLOCK_BITS)

struct wg_replay_block {
	uint64_t number; /* which 64-counter block these bits describe */
	uint64_t bits;
} __attribute__((aligned(16)));

struct wg_replay {
	uint64_t top; /* greatest accepted counter + 1; 0 before the first; atomic */
	struct wg_replay_block blocks[WG_REPLAY_BLOCKS];
};

void wg_replay_init(struct wg_replay *r);
/* True when counter is new and inside the window; it is then recorded. Thread-safe. */
bool wg_replay_check(struct wg_replay *r, uint64_t counter);
/*
 * The same for n counters of one window, in order: fresh[i] is what the i-th of n successive
 * wg_replay_check calls would return. Consecutive counters of one 64-counter block are recorded
 * with one compare-and-swap, and `top` is raised once: a burst of one peer's packets pays two
 * atomic operations instead of two per packet. Returns how many were accepted. Thread-safe.
 */
unsigned wg_replay_check_many(struct wg_replay *r, const uint64_t *counters, unsigned n,
                              bool *fresh);

#endif
