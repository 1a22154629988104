// SPDX-License-Identifier: GPL-2.0-only
/*
 * The replay window: the Linux module's counter self-test (its 34 cases and its sweeps,
 * re-expressed here), a sequential comparison with a plain reference model, the batched check
 * against single checks, and concurrent runs where four threads (two of them batching) race on
 * one window and every counter must be accepted exactly once.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "constants.h"
#include "replay.h"

#define W WG_REPLAY_WINDOW_SIZE
/* The kernel test's T_LIM: the first counter that pushes 0 out of the window. */
#define LIM ((uint64_t)W + 1)
#define REJ WG_REJECT_AFTER_MESSAGES

static struct wg_replay window;
static unsigned case_num;

static void expect(uint64_t counter, bool accepted, const char *what)
{
	case_num++;
	bool got = wg_replay_check(&window, counter);
	CHECK(got == accepted, "%s, step %u: counter %llu %s, expected %s", what, case_num,
	      (unsigned long long)counter, got ? "accepted" : "rejected",
	      accepted ? "accepted" : "rejected");
}

static void reset(void)
{
	wg_replay_init(&window);
	case_num = 0;
}

static void kernel_cases(void)
{
	static const struct {
		uint64_t counter;
		bool accepted;
	} cases[] = {
	    {0, true},
	    {1, true},
	    {1, false},
	    {9, true},
	    {8, true},
	    {7, true},
	    {7, false},
	    {LIM, true},
	    {LIM - 1, true},
	    {LIM - 1, false},
	    {LIM - 2, true},
	    {2, true},
	    {2, false},
	    {LIM + 16, true},
	    {3, false},
	    {LIM + 16, false},
	    {LIM * 4, true},
	    {LIM * 4 - (LIM - 1), true},
	    {10, false},
	    {LIM * 4 - LIM, false},
	    {LIM * 4 - (LIM + 1), false},
	    {LIM * 4 - (LIM - 2), true},
	    {LIM * 4 + 1 - LIM, false},
	    {0, false},
	    {REJ, false},
	    {REJ - 1, true},
	    {REJ, false},
	    {REJ - 1, false},
	    {REJ - 2, true},
	    {REJ + 1, false},
	    {REJ + 2, false},
	    {REJ - 2, false},
	    {REJ - 3, true},
	    {0, false},
	};
	_Static_assert(sizeof(cases) / sizeof(cases[0]) == 34, "the kernel's list has 34 cases");

	reset();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect(cases[i].counter, cases[i].accepted, "kernel case list");
}

static void kernel_sweeps(void)
{
	reset();
	for (uint64_t i = 1; i <= W; i++)
		expect(i, true, "forward sweep from 1");
	expect(0, true, "forward sweep from 1: 0 still inside");
	expect(0, false, "forward sweep from 1: 0 replayed");

	reset();
	for (uint64_t i = 2; i <= W + 1; i++)
		expect(i, true, "forward sweep from 2");
	expect(1, true, "forward sweep from 2: 1 still inside");
	expect(0, false, "forward sweep from 2: 0 fell out");

	reset();
	for (uint64_t i = W + 1; i-- > 0;)
		expect(i, true, "backward sweep W..0");

	reset();
	for (uint64_t i = W + 2; i-- > 1;)
		expect(i, true, "backward sweep W+1..1");
	expect(0, false, "backward sweep W+1..1: 0 outside");

	reset();
	for (uint64_t i = W + 1; i-- > 1;)
		expect(i, true, "backward sweep W..1");
	expect(W + 1, true, "backward sweep W..1 then W+1");
	expect(0, false, "backward sweep W..1 then W+1: 0 pushed out");

	reset();
	for (uint64_t i = W + 1; i-- > 1;)
		expect(i, true, "backward sweep W..1");
	expect(0, true, "backward sweep W..1 then 0");
	expect(W + 1, true, "backward sweep W..1, 0, then W+1");
}

static uint64_t next_rand(uint64_t *state)
{
	uint64_t z;
	test_rng(state, &z, sizeof(z));
	return z;
}

/*
 * The plain definition of the window, kept apart from the code under test: accept iff below the
 * limit, not more than W behind the greatest accepted counter, and never accepted before. Counters
 * at or past the limit are always refused; below it, the walks stay under SPAN.
 */
enum { SPAN = 1 << 24 };

struct model {
	uint8_t *seen;
	uint64_t greatest;
	bool any;
};

static bool model_init(struct model *m)
{
	m->seen = calloc(SPAN / 8, 1);
	m->greatest = 0;
	m->any = false;
	CHECK(m->seen != NULL, "out of memory");
	return m->seen != NULL;
}

static bool model_check(struct model *m, uint64_t counter)
{
	if (counter >= REJ)
		return false;
	if (counter >= SPAN) {
		CHECK(counter < SPAN, "the walk left the model's span at %llu",
		      (unsigned long long)counter);
		return false;
	}
	if (m->seen[counter / 8] & (1u << (counter % 8)))
		return false;
	if (m->any && counter + W < m->greatest)
		return false;
	m->seen[counter / 8] |= (uint8_t)(1u << (counter % 8));
	if (!m->any || counter > m->greatest)
		m->greatest = counter;
	m->any = true;
	return true;
}

/* A random walk of counters (small steps back and forth, occasional long jumps), one at a time. */
static void reference_model(void)
{
	enum { OPS = 300000 };
	struct model m;
	uint64_t rng = 42, cur = 0, mismatches = 0;
	if (!model_init(&m))
		return;
	wg_replay_init(&window);
	for (unsigned op = 0; op < OPS; op++) {
		uint64_t r = next_rand(&rng);
		if (r % 2000 == 0) {
			cur += 5000 + r % 20000; /* a jump of up to ~3 windows */
		} else {
			uint64_t step = (r >> 20) % 301; /* -140..+160, drifting forward */
			cur = cur + step >= 140 ? cur + step - 140 : 0;
		}
		if (cur >= SPAN)
			cur = SPAN - 1;
		uint64_t greatest = m.greatest;
		bool expected = model_check(&m, cur);
		bool got = wg_replay_check(&window, cur);
		if (got != expected && mismatches++ < 10)
			CHECK(got == expected, "model op %u counter %llu greatest %llu", op,
			      (unsigned long long)cur, (unsigned long long)greatest);
	}
	CHECK(mismatches == 0, "%llu mismatches against the reference model",
	      (unsigned long long)mismatches);
	free(m.seen);
}

/*
 * wg_replay_check_many against the model: a similar walk (repeats inside a batch included, since
 * steps go back and forth; jumps to the same slot 128 blocks on; counters W - 1, W and W + 1
 * behind the greatest; counters past the limit breaking up block runs), cut into batches of 1..32.
 * A second window fed the same counters one call at a time must end in the same state, bit for bit.
 */
static void many_against_model(void)
{
	enum { OPS = 400000, MAXB = 32 };
	static struct wg_replay single;
	struct model m;
	/* hi: the greatest counter so far, which is the greatest accepted, as each new one is. */
	uint64_t rng = 4242, cur = 0, hi = 0, mismatches = 0, batch[MAXB];
	bool got[MAXB];
	if (!model_init(&m))
		return;
	wg_replay_init(&window);
	wg_replay_init(&single);
	for (unsigned op = 0; op < OPS;) {
		unsigned n = 1 + (unsigned)(next_rand(&rng) % MAXB);
		for (unsigned i = 0; i < n; i++) {
			uint64_t r = next_rand(&rng);
			if (r % 1500 == 0)
				cur += 5000 + r % 20000;
			else if (r % 997 == 0)
				cur += 64 * 128; /* the same slot, 128 blocks on */
			else {
				uint64_t step = (r >> 20) % 161; /* -70..+90 */
				cur = cur + step >= 70 ? cur + step - 70 : 0;
			}
			if (cur >= SPAN)
				cur = SPAN - 1;
			if (cur > hi)
				hi = cur;
			batch[i] = cur;
			if ((r >> 40) % 4099 == 0)
				batch[i] = REJ + (r >> 60) % 3;
			else if ((r >> 40) % 53 == 0 && hi > W + 1)
				batch[i] = hi - W - 1 + (r >> 60) % 3; /* the window's edge */
		}
		unsigned accepted = wg_replay_check_many(&window, batch, n, got);
		unsigned expected_accepted = 0;
		for (unsigned i = 0; i < n; i++, op++) {
			bool expected = model_check(&m, batch[i]);
			(void)wg_replay_check(&single, batch[i]);
			expected_accepted += expected;
			if (got[i] != expected && mismatches++ < 10)
				CHECK(got[i] == expected, "batch op %u counter %llu: %s, model %s",
				      op, (unsigned long long)batch[i],
				      got[i] ? "accepted" : "rejected",
				      expected ? "accepted" : "rejected");
		}
		CHECK(accepted == expected_accepted, "batch at op %u: returned %u, accepted %u", op,
		      accepted, expected_accepted);
	}
	CHECK(mismatches == 0, "%llu mismatches between batched checks and the model",
	      (unsigned long long)mismatches);
	CHECK(m.greatest > 1000000, "the walk reached %llu: it must cover many windows",
	      (unsigned long long)m.greatest);
	CHECK(window.top == m.greatest + 1, "top %llu after batches, model's greatest %llu",
	      (unsigned long long)window.top, (unsigned long long)m.greatest);
	CHECK(window.top == single.top, "top %llu after batches, %llu after single checks",
	      (unsigned long long)window.top, (unsigned long long)single.top);
	CHECK(memcmp(window.blocks, single.blocks, sizeof(window.blocks)) == 0,
	      "the batched window's blocks differ from the single checks'");
	free(m.seen);
}

/* A batch's repeats and its limit, spelt out. */
static void many_cases(void)
{
	bool got[8];
	wg_replay_init(&window);
	const uint64_t a[] = {5, 6, 5, 7, 6, 70, 5};
	CHECK(wg_replay_check_many(&window, a, 7, got) == 4, "repeats in a batch: 4 accepted");
	CHECK(got[0] && got[1] && !got[2] && got[3] && !got[4] && got[5] && !got[6],
	      "repeats in a batch: only the first of each counter");
	const uint64_t b[] = {7, 8, LIM + 70, 8, 9};
	CHECK(wg_replay_check_many(&window, b, 5, got) == 2, "second batch: 2 accepted");
	CHECK(!got[0] && got[1] && got[2] && !got[3] && !got[4],
	      "a counter pushed out of the window by an earlier one in the same batch");
	const uint64_t c[] = {REJ - 1, REJ, REJ - 1, UINT64_MAX};
	wg_replay_init(&window);
	CHECK(wg_replay_check_many(&window, c, 4, got) == 1 && got[0] && !got[1] && !got[2] &&
	          !got[3],
	      "limit: REJ - 1 once, nothing from REJ on");
	CHECK(wg_replay_check_many(&window, c, 0, got) == 0, "an empty batch");
}

/* ---- concurrency ---- */

enum { THREADS = 4, CHUNK = 256 };

struct race {
	const uint64_t *counters; /* distinct, grouped in chunks of CHUNK */
	size_t n;
	_Atomic uint8_t *accepted_times; /* per counter index */
	pthread_barrier_t start;
};

struct racer {
	struct race *race;
	uint64_t seed;
	bool batched;
	size_t accepted;
};

static void *racer_main(void *arg)
{
	struct racer *me = arg;
	struct race *race = me->race;
	size_t order[CHUNK];
	pthread_barrier_wait(&race->start);
	for (size_t base = 0; base < race->n; base += CHUNK) {
		size_t len = race->n - base < CHUNK ? race->n - base : CHUNK;
		/* Each thread walks a chunk in its own shuffled order. */
		for (size_t i = 0; i < len; i++)
			order[i] = i;
		for (size_t i = len; i > 1; i--) {
			size_t j = next_rand(&me->seed) % i;
			size_t tmp = order[i - 1];
			order[i - 1] = order[j];
			order[j] = tmp;
		}
		for (size_t i = 0; i < len;) {
			/* Odd racers check runs of 1 to 32 of their order at once, as decap does.
			 */
			size_t run = me->batched ? 1 + next_rand(&me->seed) % 32 : 1;
			uint64_t counters[32];
			bool fresh[32];
			if (run > len - i)
				run = len - i;
			for (size_t q = 0; q < run; q++)
				counters[q] = race->counters[base + order[i + q]];
			if (me->batched)
				wg_replay_check_many(&window, counters, (unsigned)run, fresh);
			else
				fresh[0] = wg_replay_check(&window, counters[0]);
			for (size_t q = 0; q < run; q++) {
				if (!fresh[q])
					continue;
				me->accepted++;
				atomic_fetch_add(&race->accepted_times[base + order[i + q]], 1);
			}
			i += run;
		}
	}
	return NULL;
}

/*
 * Every thread is given every counter. A chunk spans less than the window and a thread only
 * reaches chunk k+1 after finishing chunk k, so whoever meets a counter first finds it inside the
 * window: exactly one acceptance per counter is the only correct outcome.
 */
static void race_once(const char *what, const uint64_t *counters, size_t n, uint64_t seed)
{
	struct race race = {.counters = counters, .n = n};
	struct racer racers[THREADS];
	pthread_t tids[THREADS];
	race.accepted_times = calloc(n, sizeof(*race.accepted_times));
	CHECK(race.accepted_times != NULL, "out of memory");
	if (!race.accepted_times)
		return;
	wg_replay_init(&window);
	pthread_barrier_init(&race.start, NULL, THREADS);
	for (int t = 0; t < THREADS; t++) {
		racers[t] = (struct racer){
		    .race = &race, .seed = seed * 131 + (uint64_t)t, .batched = t % 2 == 1};
		pthread_create(&tids[t], NULL, racer_main, &racers[t]);
	}
	size_t total = 0;
	for (int t = 0; t < THREADS; t++) {
		pthread_join(tids[t], NULL);
		total += racers[t].accepted;
	}
	pthread_barrier_destroy(&race.start);

	size_t never = 0, twice = 0;
	for (size_t i = 0; i < n; i++) {
		uint8_t times = atomic_load(&race.accepted_times[i]);
		never += times == 0;
		twice += times > 1;
	}
	CHECK(total == n, "%s: %zu acceptances for %zu distinct counters", what, total, n);
	CHECK(twice == 0, "%s: %zu counters accepted more than once", what, twice);
	CHECK(never == 0, "%s: %zu counters never accepted", what, never);

	/* Afterwards the window is exactly where a sequential run would have left it. */
	uint64_t greatest = 0;
	for (size_t i = 0; i < n; i++)
		greatest = counters[i] > greatest ? counters[i] : greatest;
	size_t replayed = 0;
	for (size_t i = 0; i < n; i++)
		replayed += wg_replay_check(&window, counters[i]);
	CHECK(replayed == 0, "%s: %zu counters accepted again after the race", what, replayed);
	CHECK(!wg_replay_check(&window, greatest - W - 1), "%s: left of the window", what);
	CHECK(wg_replay_check(&window, greatest + 1), "%s: next counter", what);
	free(race.accepted_times);
}

static void concurrent_dense(void)
{
	enum { N = 300000, ROUNDS = 3 };
	uint64_t *counters = malloc(N * sizeof(*counters));
	CHECK(counters != NULL, "out of memory");
	if (!counters)
		return;
	for (int round = 0; round < ROUNDS; round++) {
		/* Later rounds start high, so block numbers do not line up with slot numbers. */
		uint64_t base = round == 0 ? 0 : (1ULL << (20 + 12 * round)) + 17;
		for (size_t i = 0; i < N; i++)
			counters[i] = base + i;
		race_once("dense", counters, N, (uint64_t)round + 1);
	}
	free(counters);
}

/* Chunks separated by gaps of up to three windows: slots are taken over while others race. */
static void concurrent_sliding(void)
{
	enum { N = 500000 };
	uint64_t *counters = malloc(N * sizeof(*counters));
	uint64_t rng = 7, base = 1000;
	CHECK(counters != NULL, "out of memory");
	if (!counters)
		return;
	for (size_t i = 0; i < N; i += CHUNK) {
		uint64_t r = next_rand(&rng);
		base += CHUNK + (r % 4 == 0 ? r % (3 * W) : r % 512);
		for (size_t j = 0; j < CHUNK && i + j < N; j++)
			counters[i + j] = base + j;
	}
	race_once("sliding", counters, N, 99);
	free(counters);
}

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	kernel_cases();
	kernel_sweeps();
	reference_model();
	many_cases();
	many_against_model();
	concurrent_dense();
	concurrent_sliding();
	return check_done("replay");
}
