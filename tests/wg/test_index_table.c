// SPDX-License-Identifier: GPL-2.0-only
/*
 * The session index table: basic operations, a full table, tombstone reuse under churn, 100k
 * random operations against a plain array model, and lock-free readers racing the writer.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "index_table.h"

static uint64_t next_rand(uint64_t *state)
{
	uint64_t z;
	test_rng(state, &z, sizeof(z));
	return z;
}

/* Hands out a fixed list of indices, then repeats the last one. */
struct scripted_rand {
	const uint32_t *indices;
	size_t n, pos;
	unsigned calls;
};

static void scripted(void *ctx, void *buf, size_t len)
{
	struct scripted_rand *s = ctx;
	uint32_t v = s->indices[s->pos < s->n ? s->pos : s->n - 1];
	if (s->pos < s->n)
		s->pos++;
	s->calls++;
	memset(buf, 0, len);
	memcpy(buf, &v, len < sizeof(v) ? len : sizeof(v));
}

static void basics(void)
{
	int a = 1, b = 2, c = 3;
	struct wg_index_table *t = wg_index_table_new(4);
	CHECK(t != NULL, "new");
	if (!t)
		return;
	CHECK(wg_index_table_new(0) == NULL, "zero capacity is refused");

	const uint32_t script[] = {0x11111111, 0x11111111, 0x22222222, 0x33333333};
	struct scripted_rand sr = {.indices = script, .n = 4};
	uint32_t ia = 0, ib = 0, ic = 0;
	CHECK(wg_index_table_insert(t, WG_INDEX_HANDSHAKE, &a, scripted, &sr, &ia) == WG_OK, "ins");
	CHECK(ia == 0x11111111, "first index used: %08x", ia);
	/* The next draw repeats an index in use: the table must draw again. */
	CHECK(wg_index_table_insert(t, WG_INDEX_KEYPAIR, &b, scripted, &sr, &ib) == WG_OK, "ins");
	CHECK(ib == 0x22222222, "a used index is skipped: %08x", ib);
	CHECK(sr.calls == 3, "three draws for two inserts, got %u", sr.calls);
	CHECK(wg_index_table_count(t) == 2, "count %u", wg_index_table_count(t));

	CHECK(wg_index_table_lookup(t, ia, WG_INDEX_HANDSHAKE) == &a, "lookup a");
	CHECK(wg_index_table_lookup(t, ia, WG_INDEX_KEYPAIR) == NULL, "kind mismatch gives NULL");
	CHECK(wg_index_table_lookup(t, ib, WG_INDEX_KEYPAIR) == &b, "lookup b");
	CHECK(wg_index_table_lookup(t, ib, WG_INDEX_HANDSHAKE) == NULL, "kind mismatch gives NULL");
	CHECK(wg_index_table_lookup(t, 0x33333333, WG_INDEX_KEYPAIR) == NULL, "absent");

	/* A handshake becomes a keypair under the same index. */
	CHECK(wg_index_table_replace(t, ia, WG_INDEX_KEYPAIR, &c) == WG_OK, "replace");
	CHECK(wg_index_table_lookup(t, ia, WG_INDEX_KEYPAIR) == &c, "replaced value");
	CHECK(wg_index_table_lookup(t, ia, WG_INDEX_HANDSHAKE) == NULL, "old kind gone");
	CHECK(wg_index_table_count(t) == 2, "replace keeps the count");
	CHECK(wg_index_table_replace(t, 0x44444444, WG_INDEX_KEYPAIR, &c) != WG_OK,
	      "replace of an absent index fails");
	CHECK(wg_index_table_replace(t, ia, (enum wg_index_kind)7, &c) == WG_ERR_INVALID,
	      "bad kind is refused");
	CHECK(wg_index_table_insert(t, (enum wg_index_kind)0, &c, scripted, &sr, &ic) ==
	          WG_ERR_INVALID,
	      "bad kind is refused");
	CHECK(wg_index_table_insert(t, WG_INDEX_KEYPAIR, NULL, scripted, &sr, &ic) ==
	          WG_ERR_INVALID,
	      "NULL value is refused");

	wg_index_table_remove(t, ia);
	CHECK(wg_index_table_lookup(t, ia, WG_INDEX_KEYPAIR) == NULL, "removed");
	CHECK(wg_index_table_lookup(t, ib, WG_INDEX_KEYPAIR) == &b, "other entry kept");
	CHECK(wg_index_table_count(t) == 1, "count after remove %u", wg_index_table_count(t));
	wg_index_table_remove(t, ia); /* twice: a no-op */
	wg_index_table_remove(t, 0x55555555);
	CHECK(wg_index_table_count(t) == 1, "removing absent indices changes nothing");
	wg_index_table_free(t);
	wg_index_table_free(NULL);
}

static void full_table(void)
{
	enum { CAP = 37 };
	int objs[CAP + 1];
	uint32_t idx[CAP + 1];
	uint64_t seed = 5;
	struct wg_index_table *t = wg_index_table_new(CAP);
	CHECK(t != NULL, "new");
	if (!t)
		return;
	for (int i = 0; i < CAP; i++)
		CHECK(wg_index_table_insert(t, WG_INDEX_KEYPAIR, &objs[i], test_rng, &seed,
		                            &idx[i]) == WG_OK,
		      "insert %d", i);
	CHECK(wg_index_table_count(t) == CAP, "full count");
	CHECK(wg_index_table_insert(t, WG_INDEX_KEYPAIR, &objs[CAP], test_rng, &seed, &idx[CAP]) ==
	          WG_ERR_NOMEM,
	      "beyond capacity is refused");
	for (int i = 0; i < CAP; i++)
		CHECK(wg_index_table_lookup(t, idx[i], WG_INDEX_KEYPAIR) == &objs[i], "entry %d",
		      i);
	wg_index_table_remove(t, idx[3]);
	CHECK(wg_index_table_insert(t, WG_INDEX_KEYPAIR, &objs[CAP], test_rng, &seed, &idx[CAP]) ==
	          WG_OK,
	      "room again after a removal");

	/* A generator stuck on one used index: bounded tries, then a clean failure. */
	wg_index_table_remove(t, idx[4]);
	const uint32_t stuck[] = {idx[5]};
	struct scripted_rand sr = {.indices = stuck, .n = 1};
	uint32_t out;
	CHECK(wg_index_table_insert(t, WG_INDEX_KEYPAIR, &objs[4], scripted, &sr, &out) ==
	          WG_ERR_NOMEM,
	      "an exhausted generator ends in NOMEM");
	CHECK(sr.calls > 1 && sr.calls <= 1024, "bounded tries: %u", sr.calls);
	CHECK(wg_index_table_lookup(t, idx[5], WG_INDEX_KEYPAIR) == &objs[5], "untouched");
	wg_index_table_free(t);
}

/* Far more inserts than slots: only works if removed slots are reused or reclaimed. */
static void tombstone_reuse(void)
{
	enum { CAP = 8, CYCLES = 20000 };
	int objs[CAP];
	uint32_t idx[CAP];
	uint64_t seed = 77;
	unsigned failures = 0;
	struct wg_index_table *t = wg_index_table_new(CAP);
	CHECK(t != NULL, "new");
	if (!t)
		return;
	for (int cycle = 0; cycle < CYCLES; cycle++) {
		for (int i = 0; i < CAP; i++)
			failures += wg_index_table_insert(t, WG_INDEX_HANDSHAKE, &objs[i], test_rng,
			                                  &seed, &idx[i]) != WG_OK;
		for (int i = 0; i < CAP; i++)
			failures +=
			    wg_index_table_lookup(t, idx[i], WG_INDEX_HANDSHAKE) != &objs[i];
		/* Remove in a scrambled order, leaving tombstones in the middle of runs. */
		for (int i = 0; i < CAP; i++)
			wg_index_table_remove(t, idx[(i * 5 + cycle) % CAP]);
		failures += wg_index_table_count(t) != 0;
	}
	CHECK(failures == 0, "%u failures over %d fill/empty cycles", failures, CYCLES);
	wg_index_table_free(t);
}

struct model_entry {
	uint32_t index;
	enum wg_index_kind kind;
	void *value;
};

static void random_against_model(void)
{
	enum { CAP = 300, OPS = 100000 };
	static char pool[CAP * 4];
	struct model_entry model[CAP];
	size_t n = 0;
	uint64_t rng = 1234, seed = 4321;
	unsigned mismatches = 0;
	struct wg_index_table *t = wg_index_table_new(CAP);
	CHECK(t != NULL, "new");
	if (!t)
		return;
	for (unsigned op = 0; op < OPS; op++) {
		uint64_t r = next_rand(&rng);
		void *value = &pool[r % sizeof(pool)];
		enum wg_index_kind kind = (r >> 20) & 1 ? WG_INDEX_KEYPAIR : WG_INDEX_HANDSHAKE;
		size_t pick = n ? (size_t)(r >> 32) % n : 0;
		switch ((r >> 8) % 6) {
		case 0:
		case 1: {
			uint32_t index;
			enum wg_result res =
			    wg_index_table_insert(t, kind, value, test_rng, &seed, &index);
			if (n < CAP) {
				mismatches += res != WG_OK;
				for (size_t i = 0; i < n && res == WG_OK; i++)
					mismatches += model[i].index == index;
				if (res == WG_OK)
					model[n++] = (struct model_entry){index, kind, value};
			} else {
				mismatches += res != WG_ERR_NOMEM;
			}
			break;
		}
		case 2:
			if (n) {
				wg_index_table_remove(t, model[pick].index);
				model[pick] = model[--n];
			}
			break;
		case 3:
			if (n) {
				mismatches += wg_index_table_replace(t, model[pick].index, kind,
				                                     value) != WG_OK;
				model[pick].kind = kind;
				model[pick].value = value;
			}
			break;
		case 4:
			if (n) {
				struct model_entry *e = &model[pick];
				enum wg_index_kind other = e->kind == WG_INDEX_KEYPAIR
				                               ? WG_INDEX_HANDSHAKE
				                               : WG_INDEX_KEYPAIR;
				mismatches +=
				    wg_index_table_lookup(t, e->index, e->kind) != e->value;
				mismatches += wg_index_table_lookup(t, e->index, other) != NULL;
			}
			break;
		default: {
			uint32_t probe = (uint32_t)(r >> 16);
			bool present = false;
			for (size_t i = 0; i < n; i++)
				present |= model[i].index == probe;
			if (!present) {
				mismatches += wg_index_table_lookup(t, probe, kind) != NULL;
				wg_index_table_remove(t, probe); /* must not disturb anything */
			}
			break;
		}
		}
		mismatches += wg_index_table_count(t) != n;
	}
	/* A final full sweep: every model entry is there, with its kind and value. */
	for (size_t i = 0; i < n; i++)
		mismatches +=
		    wg_index_table_lookup(t, model[i].index, model[i].kind) != model[i].value;
	CHECK(mismatches == 0, "%u mismatches over %d random operations", mismatches, OPS);
	wg_index_table_free(t);
}

/* ---- readers racing the writer ---- */

struct tracked {
	uint32_t index;
	enum wg_index_kind kind;
	uint64_t check; /* derived from index and kind: a torn or foreign object shows up here */
};

static uint64_t tracked_check(uint32_t index, enum wg_index_kind kind)
{
	return ((uint64_t)index * 0x100000001b3ULL) ^ (uint64_t)kind ^ 0x5eed;
}

struct labelling_rand {
	uint64_t seed;
	struct tracked *obj; /* not yet published: it learns each candidate index before use */
};

static void labelling(void *ctx, void *buf, size_t len)
{
	struct labelling_rand *lr = ctx;
	test_rng(&lr->seed, buf, len);
	memcpy(&lr->obj->index, buf, sizeof(lr->obj->index));
	lr->obj->check = tracked_check(lr->obj->index, lr->obj->kind);
}

enum { RACE_CAP = 512, RACE_OPS = 300000, HOT_OPS = 200000, HOT = 4, RECENT = 1024 };

struct race {
	struct wg_index_table *table;
	_Atomic uint32_t recent[RECENT]; /* indices the writer used, for readers to aim at */
	atomic_bool done;
};

struct reader {
	struct race *race;
	uint64_t seed;
	unsigned long lookups, hits, bad;
};

static void *reader_main(void *arg)
{
	struct reader *me = arg;
	while (!atomic_load_explicit(&me->race->done, memory_order_acquire)) {
		uint64_t r = next_rand(&me->seed);
		uint32_t index = (r & 7) == 0
		                     ? (uint32_t)(r >> 32)
		                     : atomic_load_explicit(&me->race->recent[(r >> 8) % RECENT],
		                                            memory_order_relaxed);
		enum wg_index_kind kind = (r >> 4) & 1 ? WG_INDEX_KEYPAIR : WG_INDEX_HANDSHAKE;
		const struct tracked *obj = wg_index_table_lookup(me->race->table, index, kind);
		me->lookups++;
		if (!obj)
			continue;
		me->hits++;
		if (obj->index != index || obj->kind != kind ||
		    obj->check != tracked_check(index, kind))
			me->bad++;
	}
	return NULL;
}

static void readers_during_churn(void)
{
	enum { READERS = 2, POOL = RACE_OPS + HOT_OPS };
	/* Objects are never reused: a reader may hold any of them until the end (as under RCU). */
	struct tracked *pool = calloc(POOL, sizeof(*pool));
	struct race *race = calloc(1, sizeof(*race));
	uint32_t live[RACE_CAP];
	size_t nlive = 0, used = 0;
	uint64_t rng = 99;
	unsigned writer_errors = 0;
	CHECK(pool && race, "out of memory");
	if (!pool || !race) {
		free(pool);
		free(race);
		return;
	}
	race->table = wg_index_table_new(RACE_CAP);
	CHECK(race->table != NULL, "new");
	if (!race->table) {
		free(pool);
		free(race);
		return;
	}
	struct reader readers[READERS];
	pthread_t tids[READERS];
	for (int i = 0; i < READERS; i++) {
		readers[i] = (struct reader){.race = race, .seed = 1000 + (uint64_t)i};
		pthread_create(&tids[i], NULL, reader_main, &readers[i]);
	}
	struct labelling_rand lr = {.seed = 31337};
	for (unsigned op = 0; op < RACE_OPS && used < POOL; op++) {
		uint64_t r = next_rand(&rng);
		unsigned what = nlive < RACE_CAP / 2 ? 0 : (unsigned)(r % 3);
		if (what == 0 && nlive < RACE_CAP) {
			struct tracked *obj = &pool[used++];
			obj->kind = WG_INDEX_HANDSHAKE;
			lr.obj = obj;
			uint32_t index;
			if (wg_index_table_insert(race->table, obj->kind, obj, labelling, &lr,
			                          &index) != WG_OK ||
			    index != obj->index) {
				writer_errors++;
				continue;
			}
			live[nlive++] = index;
			atomic_store_explicit(&race->recent[op % RECENT], index,
			                      memory_order_relaxed);
		} else if (what == 1 && nlive) {
			size_t pick = (size_t)(r >> 32) % nlive;
			wg_index_table_remove(race->table, live[pick]);
			live[pick] = live[--nlive];
		} else if (nlive && used < POOL) {
			/* A handshake turning into a keypair (or a keypair being rotated). */
			size_t pick = (size_t)(r >> 32) % nlive;
			struct tracked *obj = &pool[used++];
			*obj = (struct tracked){live[pick], WG_INDEX_KEYPAIR,
			                        tracked_check(live[pick], WG_INDEX_KEYPAIR)};
			writer_errors += wg_index_table_replace(race->table, live[pick],
			                                        WG_INDEX_KEYPAIR, obj) != WG_OK;
		}
	}
	/*
	 * Hot phase: readers aim only at a few indices whose kind and value the writer flips as
	 * fast as it can, so a lookup often straddles a rewrite of the very slot it reads.
	 */
	for (size_t i = 0; i < RECENT && nlive >= HOT; i++)
		atomic_store_explicit(&race->recent[i], live[i % HOT], memory_order_relaxed);
	for (unsigned op = 0; op < HOT_OPS && nlive >= HOT && used < POOL; op++) {
		uint32_t index = live[op % HOT];
		enum wg_index_kind kind = (op / HOT) & 1 ? WG_INDEX_KEYPAIR : WG_INDEX_HANDSHAKE;
		struct tracked *obj = &pool[used++];
		*obj = (struct tracked){index, kind, tracked_check(index, kind)};
		writer_errors += wg_index_table_replace(race->table, index, kind, obj) != WG_OK;
	}
	atomic_store_explicit(&race->done, true, memory_order_release);
	unsigned long lookups = 0, hits = 0, bad = 0;
	for (int i = 0; i < READERS; i++) {
		pthread_join(tids[i], NULL);
		lookups += readers[i].lookups;
		hits += readers[i].hits;
		bad += readers[i].bad;
	}
	CHECK(writer_errors == 0, "%u writer errors", writer_errors);
	CHECK(bad == 0, "%lu of %lu hits returned an object of another index or kind", bad, hits);
	CHECK(lookups > 0 && hits > 0, "readers did work: %lu lookups, %lu hits", lookups, hits);
	CHECK(wg_index_table_count(race->table) == nlive, "final count");
	printf("readers during churn: %lu lookups, %lu hits\n", lookups, hits);
	wg_index_table_free(race->table);
	free(race);
	free(pool);
}

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	basics();
	full_table();
	tombstone_reuse();
	random_against_model();
	readers_during_churn();
	return check_done("index_table");
}
