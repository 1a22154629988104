/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The table of local session indices (the "sender index" we hand out, and the receiver index a
 * peer puts in its messages to us). Writers (the control thread, the gateway's handshake lcores)
 * serialise on a spinlock of the table's for each insert, replace or remove; any number of
 * concurrent lock-free readers, the data-plane workers. Values are owned by the caller, who also
 * defers freeing them until readers are done (RCU).
 */
#ifndef MESHGATE_WG_INDEX_TABLE_H
#define MESHGATE_WG_INDEX_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "result.h"

enum wg_index_kind {
	WG_INDEX_HANDSHAKE = 1, /* value: struct wg_noise_remote * (handshake in flight) */
	WG_INDEX_KEYPAIR = 2,   /* value: struct wg_noise_keypair * */
};

struct wg_index_table;

/* capacity: maximum live entries; the table sizes itself so probes stay short. NULL on ENOMEM. */
struct wg_index_table *wg_index_table_new(uint32_t capacity);
void wg_index_table_free(struct wg_index_table *t);

/*
 * Inserts value under a fresh random index not already in use; rand fills 4 bytes.
 * WG_ERR_NOMEM when full.
 */
enum wg_result wg_index_table_insert(struct wg_index_table *t, enum wg_index_kind kind, void *value,
                                     void (*rand)(void *ctx, void *buf, size_t len), void *rand_ctx,
                                     uint32_t *index_out);
/* Replaces the kind and value under an existing index (a handshake becoming a keypair). */
enum wg_result wg_index_table_replace(struct wg_index_table *t, uint32_t index,
                                      enum wg_index_kind kind, void *value);
void wg_index_table_remove(struct wg_index_table *t, uint32_t index);
/* Lock-free. NULL when absent or of another kind. */
void *wg_index_table_lookup(const struct wg_index_table *t, uint32_t index,
                            enum wg_index_kind kind);
/* The slot a lookup of index reads first (almost always the only one), for a caller that
 * prefetches a burst's lookups before making them; never dereference it. */
const void *wg_index_table_home(const struct wg_index_table *t, uint32_t index);
uint32_t wg_index_table_count(const struct wg_index_table *t);

#endif
