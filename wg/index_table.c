// SPDX-License-Identifier: GPL-2.0-only
/*
 * Open addressing with linear probing. Lock-free readers; writers (the gateway's control thread
 * and its handshake lcores) take a spinlock among themselves, held for one slot write and its
 * probe, never by a reader.
 *
 * Each slot is a 64-bit key word {index, state, generation} and a value pointer. The writer bumps
 * the generation on every change of a slot and stores the value with release between two key
 * stores; a reader loads key, value (acquire), key again and retries the slot if the key word
 * changed. That is what lets a tombstone be reused while a reader still looks at the slot: without
 * the generation a reader could pair the old kind with the new value. The generation is 24 bits;
 * a false match needs 2^24 writes to one slot between a reader's two loads.
 *
 * Because we choose the indices, an index is only taken if it lands within MAX_PROBE slots of its
 * home; so lookups never probe further than MAX_PROBE, however many tombstones accumulate. With at
 * least half of the slots free, a random index fits with probability above one half.
 */
#include <stddef.h> /* index_table.h uses size_t without including it */

#include "index_table.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>

enum slot_state {
	SLOT_EMPTY = 0, /* ends a probe */
	/* WG_INDEX_HANDSHAKE (1) and WG_INDEX_KEYPAIR (2): live entries of that kind */
	SLOT_TOMBSTONE = 0xfe, /* removed; probes continue past it */
	SLOT_BUSY = 0xff,      /* being rewritten; readers treat it as a tombstone */
};

enum {
	MAX_PROBE = 8,
	INSERT_TRIES = 128,
	MIN_SLOTS = 16,
};

struct index_slot {
	_Atomic uint64_t key; /* index | state << 32 | generation << 40 */
	_Atomic(void *) value;
};

struct wg_index_table {
	atomic_flag write_lock;
	uint32_t capacity;
	uint32_t mask; /* slot count - 1 */
	_Atomic uint32_t live;
	struct index_slot *slots;
};

static uint64_t key_make(uint32_t index, uint8_t state, uint32_t generation)
{
	return (uint64_t)index | (uint64_t)state << 32 | (uint64_t)(generation & 0xffffff) << 40;
}

static uint32_t key_index(uint64_t key)
{
	return (uint32_t)key;
}

static uint8_t key_state(uint64_t key)
{
	return (uint8_t)(key >> 32);
}

static uint32_t key_generation(uint64_t key)
{
	return (uint32_t)(key >> 40);
}

static bool state_live(uint8_t state)
{
	return state == WG_INDEX_HANDSHAKE || state == WG_INDEX_KEYPAIR;
}

static uint32_t home_slot(const struct wg_index_table *t, uint32_t index)
{
	/* Indices are random, but a multiplicative mix costs nothing and keeps odd callers honest.
	 */
	return (uint32_t)(((uint64_t)index * 0x9e3779b97f4a7c15ULL) >> 32) & t->mask;
}

struct wg_index_table *wg_index_table_new(uint32_t capacity)
{
	if (capacity == 0 || capacity > (1u << 28))
		return NULL;
	uint32_t nslots = MIN_SLOTS;
	while (nslots < 2 * capacity)
		nslots <<= 1;
	struct wg_index_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	/* Line-aligned: a slot and the probe after it are one line, not two, most of the time. */
	t->slots = aligned_alloc(64, nslots * sizeof(*t->slots));
	if (!t->slots) {
		free(t);
		return NULL;
	}
	t->capacity = capacity;
	t->mask = nslots - 1;
	for (uint32_t i = 0; i < nslots; i++) {
		atomic_init(&t->slots[i].key, key_make(0, SLOT_EMPTY, 0));
		atomic_init(&t->slots[i].value, NULL);
	}
	atomic_init(&t->live, 0);
	atomic_flag_clear(&t->write_lock);
	return t;
}

void wg_index_table_free(struct wg_index_table *t)
{
	if (!t)
		return;
	free(t->slots);
	free(t);
}

static void write_lock(struct wg_index_table *t)
{
	while (atomic_flag_test_and_set_explicit(&t->write_lock, memory_order_acquire))
		;
}

static void write_unlock(struct wg_index_table *t)
{
	atomic_flag_clear_explicit(&t->write_lock, memory_order_release);
}

/* Writer only, under write_lock: every change of a slot goes through here. */
static void slot_write(struct index_slot *s, uint32_t index, uint8_t state, void *value)
{
	uint64_t old = atomic_load_explicit(&s->key, memory_order_relaxed);
	uint32_t generation = key_generation(old) + 1;
	/*
	 * Mark the slot busy first: a reader that sees the new value (acquire) then also sees this
	 * key word or a later one, so its second key load cannot match the first.
	 */
	atomic_store_explicit(&s->key, key_make(key_index(old), SLOT_BUSY, generation),
	                      memory_order_relaxed);
	atomic_store_explicit(&s->value, value, memory_order_release);
	atomic_store_explicit(&s->key, key_make(index, state, generation + 1),
	                      memory_order_release);
}

/* Finds the live slot of index (any kind). Reader-safe snapshot; NULL when absent. */
static struct index_slot *find_slot(const struct wg_index_table *t, uint32_t index,
                                    uint8_t *state_out, void **value_out)
{
	uint32_t home = home_slot(t, index);
	for (uint32_t i = 0; i < MAX_PROBE; i++) {
		struct index_slot *s = &t->slots[(home + i) & t->mask];
		for (;;) {
			uint64_t k1 = atomic_load_explicit(&s->key, memory_order_acquire);
			uint8_t state = key_state(k1);
			if (state == SLOT_EMPTY)
				return NULL;
			if (!state_live(state) || key_index(k1) != index)
				break;
			void *value = atomic_load_explicit(&s->value, memory_order_acquire);
			uint64_t k2 = atomic_load_explicit(&s->key, memory_order_relaxed);
			if (k1 != k2)
				continue; /* rewritten under us: look at the slot again */
			*state_out = state;
			*value_out = value;
			return s;
		}
	}
	return NULL;
}

void *wg_index_table_lookup(const struct wg_index_table *t, uint32_t index, enum wg_index_kind kind)
{
	uint8_t state;
	void *value;
	if (!find_slot(t, index, &state, &value) || state != (uint8_t)kind)
		return NULL;
	return value;
}

const void *wg_index_table_home(const struct wg_index_table *t, uint32_t index)
{
	return &t->slots[home_slot(t, index)];
}

uint32_t wg_index_table_count(const struct wg_index_table *t)
{
	return atomic_load_explicit(&t->live, memory_order_relaxed);
}

static bool kind_valid(enum wg_index_kind kind)
{
	return kind == WG_INDEX_HANDSHAKE || kind == WG_INDEX_KEYPAIR;
}

enum wg_result wg_index_table_insert(struct wg_index_table *t, enum wg_index_kind kind, void *value,
                                     void (*rand)(void *ctx, void *buf, size_t len), void *rand_ctx,
                                     uint32_t *index_out)
{
	if (!kind_valid(kind) || !value || !rand || !index_out)
		return WG_ERR_INVALID;
	if (atomic_load_explicit(&t->live, memory_order_relaxed) >= t->capacity)
		return WG_ERR_NOMEM;

	enum wg_result r = WG_ERR_NOMEM;
	for (int attempt = 0; attempt < INSERT_TRIES && r != WG_OK; attempt++) {
		uint32_t index;
		uint8_t state;
		void *existing;
		rand(rand_ctx, &index, sizeof(index));
		write_lock(t);
		if (find_slot(t, index, &state, &existing)) {
			write_unlock(t);
			continue;
		}
		/* First free slot (empty or tombstone) on this index's probe path. */
		uint32_t home = home_slot(t, index);
		for (uint32_t i = 0; i < MAX_PROBE; i++) {
			struct index_slot *s = &t->slots[(home + i) & t->mask];
			uint8_t st = key_state(atomic_load_explicit(&s->key, memory_order_relaxed));
			if (st == SLOT_EMPTY || st == SLOT_TOMBSTONE) {
				slot_write(s, index, (uint8_t)kind, value);
				atomic_fetch_add_explicit(&t->live, 1, memory_order_relaxed);
				*index_out = index;
				r = WG_OK;
				break;
			}
		}
		write_unlock(t);
	}
	return r;
}

enum wg_result wg_index_table_replace(struct wg_index_table *t, uint32_t index,
                                      enum wg_index_kind kind, void *value)
{
	uint8_t state;
	void *existing;
	if (!kind_valid(kind) || !value)
		return WG_ERR_INVALID;
	write_lock(t);
	struct index_slot *s = find_slot(t, index, &state, &existing);
	if (s)
		slot_write(s, index, (uint8_t)kind, value);
	write_unlock(t);
	return s ? WG_OK : WG_ERR_UNKNOWN_PEER;
}

/*
 * A tombstone followed by an empty slot is on no entry's probe path (paths are contiguous and end
 * at their entry), so it can become empty again; this keeps misses short after churn.
 */
static void clear_trailing_tombstones(struct wg_index_table *t, uint32_t pos)
{
	for (uint32_t n = 0; n <= t->mask; n++) {
		struct index_slot *s = &t->slots[pos & t->mask];
		struct index_slot *next = &t->slots[(pos + 1) & t->mask];
		uint64_t k = atomic_load_explicit(&s->key, memory_order_relaxed);
		uint64_t kn = atomic_load_explicit(&next->key, memory_order_relaxed);
		if (key_state(k) != SLOT_TOMBSTONE || key_state(kn) != SLOT_EMPTY)
			return;
		slot_write(s, 0, SLOT_EMPTY, NULL);
		pos--;
	}
}

void wg_index_table_remove(struct wg_index_table *t, uint32_t index)
{
	uint8_t state;
	void *existing;
	write_lock(t);
	struct index_slot *s = find_slot(t, index, &state, &existing);
	if (s) {
		slot_write(s, index, SLOT_TOMBSTONE, NULL);
		atomic_fetch_sub_explicit(&t->live, 1, memory_order_relaxed);
		clear_trailing_tombstones(t, (uint32_t)(s - t->slots));
	}
	write_unlock(t);
}
