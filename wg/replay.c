// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lock-free RFC 6479 replay window. Accepts exactly what the Linux module's counter_validate
 * accepts when calls are sequential; under concurrency it still accepts each counter at most once.
 *
 * Like the kernel, the window works on counter + 1 ("position"), so `top` is 0 before anything was
 * accepted and a position is too old when position + WG_REPLAY_WINDOW_SIZE < top.
 *
 * Why a counter is accepted at most once, whatever the interleaving:
 *  - a position p lives in block b = p / 64, which can only ever sit in slot b % 128;
 *  - every successful compare-and-swap on a slot either keeps its block number and only adds bits,
 *    or raises the block number; so per slot the pair (number, bits) never returns to an earlier
 *    value (no ABA) and a bit, once set for block b, stays set until the slot moves past b;
 *  - p is accepted only by a CAS from a state where the slot holds a smaller block, or block b
 *    with p's bit clear, to block b with p's bit set (perhaps with other bits of its run). The
 *    CAS compares the full 16 bytes we based the decision on, so a torn or stale read can only
 *    make it fail, never succeed wrongly;
 *  - after that CAS every later state of the slot has block b with p's bit set, or a block > b,
 *    and both are rejected. Hence a second acceptance of p is impossible.
 * Overwriting an older block is sound: a slot holding block n < b has n <= b - 128, and once p is
 * accepted every position of block n is more than WG_REPLAY_WINDOW_SIZE behind top.
 * The window test reads `top` without synchronising with the slot CAS; a stale `top` can only let
 * a not-yet-seen counter in slightly late, as if its packet had been checked a moment earlier.
 */
#include "replay.h"

#include <stddef.h>

#include "constants.h"

#if !defined(__SIZEOF_INT128__)
#error "the replay window needs a 16-byte compare-and-swap (unsigned __int128)"
#endif

__extension__ typedef unsigned __int128 replay_u128;

union replay_slot {
	struct wg_replay_block block;
	replay_u128 whole;
};

_Static_assert(sizeof(struct wg_replay_block) == 16, "a block is one 16-byte CAS unit");
_Static_assert(offsetof(struct wg_replay, blocks) % 16 == 0, "blocks are 16-byte aligned");
_Static_assert((WG_REPLAY_BLOCKS & (WG_REPLAY_BLOCKS - 1)) == 0, "block count is a power of two");

void wg_replay_init(struct wg_replay *r)
{
	__atomic_store_n(&r->top, 0, __ATOMIC_RELAXED);
	/* Slot i starts out owning block i, empty: positions 0..8191 are all unseen. */
	for (uint64_t i = 0; i < WG_REPLAY_BLOCKS; i++) {
		__atomic_store_n(&r->blocks[i].number, i, __ATOMIC_RELAXED);
		__atomic_store_n(&r->blocks[i].bits, 0, __ATOMIC_RELAXED);
	}
	/* No fence: a window is initialised before it is shared, and sharing it orders this. */
}

static bool slot_cas(struct wg_replay_block *slot, union replay_slot expected,
                     union replay_slot desired)
{
	return __sync_bool_compare_and_swap((replay_u128 *)(void *)slot, expected.whole,
	                                    desired.whole);
}

static void raise_top(struct wg_replay *r, uint64_t position)
{
	uint64_t cur = __atomic_load_n(&r->top, __ATOMIC_RELAXED);
	while (cur < position && !__atomic_compare_exchange_n(&r->top, &cur, position, true,
	                                                      __ATOMIC_RELAXED, __ATOMIC_RELAXED))
		;
}

/*
 * Counters c[0..k) of one block, each tested in turn against the window and the counters of the
 * run before it; *top is the greatest position accepted so far (or the window's top when read),
 * raised by what this run accepts. One compare-and-swap records every bit the run accepts, so the
 * argument above holds for each of them: the CAS compares the state the whole decision was based
 * on.
 */
static unsigned check_block_run(struct wg_replay *r, uint64_t block, const uint64_t *c, unsigned k,
                                bool *fresh, uint64_t *top)
{
	struct wg_replay_block *slot = &r->blocks[block % WG_REPLAY_BLOCKS];

	for (;;) {
		union replay_slot seen, next;
		/* Two halves read separately: a torn pair only makes the CAS below fail. */
		seen.block.number = __atomic_load_n(&slot->number, __ATOMIC_RELAXED);
		seen.block.bits = __atomic_load_n(&slot->bits, __ATOMIC_RELAXED);

		const uint64_t had = seen.block.number == block ? seen.block.bits : 0;
		uint64_t add = 0, t = *top;
		unsigned got = 0;
		for (unsigned i = 0; i < k; i++) {
			const uint64_t position = c[i] + 1;
			const uint64_t bit = 1ULL << (position % WG_REPLAY_BLOCK_BITS);
			fresh[i] = seen.block.number <= block &&
			           position + WG_REPLAY_WINDOW_SIZE >= t && !((had | add) & bit);
			if (!fresh[i])
				continue;
			add |= bit;
			got++;
			if (position > t)
				t = position;
		}
		if (!add)
			return 0;
		next.block.number = block;
		next.block.bits = had | add;
		if (slot_cas(slot, seen, next)) {
			*top = t;
			return got;
		}
	}
}

unsigned wg_replay_check_many(struct wg_replay *r, const uint64_t *counters, unsigned n,
                              bool *fresh)
{
	const uint64_t top0 = __atomic_load_n(&r->top, __ATOMIC_RELAXED);
	uint64_t top = top0;
	unsigned accepted = 0;

	for (unsigned i = 0; i < n;) {
		if (counters[i] >= WG_REJECT_AFTER_MESSAGES) {
			fresh[i++] = false;
			continue;
		}
		const uint64_t block = (counters[i] + 1) / WG_REPLAY_BLOCK_BITS;
		unsigned j = i + 1;
		while (j < n && counters[j] < WG_REJECT_AFTER_MESSAGES &&
		       (counters[j] + 1) / WG_REPLAY_BLOCK_BITS == block)
			j++;
		accepted += check_block_run(r, block, counters + i, j - i, fresh + i, &top);
		i = j;
	}
	if (top > top0)
		raise_top(r, top);
	return accepted;
}

bool wg_replay_check(struct wg_replay *r, uint64_t counter)
{
	bool fresh;
	return wg_replay_check_many(r, &counter, 1, &fresh) == 1;
}
