// SPDX-License-Identifier: GPL-2.0-only
/*
 * The AEAD's second reference (issue 16): crypto_burst's seal on buffers another core has just
 * written, with keys drawn at random from 10,000 keypairs, against the same seal on buffers and
 * keys hot in the measuring core's cache, in one run, alternating. The worker opens and seals
 * payloads the RX side wrote, with per-peer keys nobody touched lately; this separates the
 * AEAD's memory stalls from the code around it. Each burst is timed alone in the thread's CPU
 * time, so waiting for the writer or being preempted is not charged.
 *
 * --prefetch compares crypto_burst's prefetch plans (AHEAD:LINES[:key], see crypto_burst.h) on
 * the same bursts: each round runs every plan hot and cold in turn, so a plan's figures and the
 * reference (the first plan, hot) come from the same stretch of the machine's load.
 *
 *   crypto_cold [--seconds S] [--isa auto|avx512|avx2|avx|sse] [--sizes a,b,..]
 *               [--prefetch PLAN,PLAN,..] [--rounds N] [--cold both|buffers|keys]
 *               [--keypairs N]
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto_burst.h"

#define BURST        32
#define SLOTS        64    /* bursts in flight between the writer and the sealer */
#define KEYPAIRS     10000 /* default; --keypairs */
#define MAX_KEYPAIRS 1000000
#define KP_BYTES     256 /* a keypair's footprint: its key is one cold line among others */
#define MAX_SIZE     1420
#define MAX_SIZES    8
#define MAX_PLANS    12
#define MAX_ROUNDS   15

struct slot {
	_Atomic unsigned long written, sealed; /* round numbers */
	uint8_t *data;                         /* BURST messages of MAX_SIZE + tag */
};

struct shared {
	struct slot slots[SLOTS];
	uint8_t *hot; /* the hot passes' own burst, which the writer never touches */
	unsigned size;
	_Atomic bool stop;
	int writer_cpu;
	bool cold_buffers, cold_keys; /* what a cold pass takes cold (--cold) */
	unsigned keypairs;            /* how many the cold keys are drawn from */
};

static double cpu_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static double wall_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void pin(int cpu)
{
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* The RX side: rewrites every byte of each slot the sealer has finished with. */
static void *writer(void *arg)
{
	struct shared *s = arg;
	if (s->writer_cpu >= 0)
		pin(s->writer_cpu);
	for (unsigned long round = 1; !atomic_load(&s->stop); round++) {
		for (unsigned k = 0; k < SLOTS && !atomic_load(&s->stop); k++) {
			struct slot *sl = &s->slots[k];
			while (atomic_load_explicit(&sl->sealed, memory_order_acquire) + 1 <
			       round) {
				if (atomic_load(&s->stop))
					return NULL;
				sched_yield();
			}
			/* What the RX side writes: each message and its tag, not the slack. */
			for (unsigned j = 0; j < BURST; j++)
				memset(sl->data + (size_t)j * (MAX_SIZE + 64), (int)(round + k + j),
				       s->size + 16);
			atomic_store_explicit(&sl->written, round, memory_order_release);
		}
	}
	return NULL;
}

/* Seals bursts for the given wall time: cold (slots the writer filled, random keypairs) or hot
 * (one slot and four keys over and over). Returns messages per CPU-second of the seals. */
static double run(struct mg_crypto *c, struct shared *s, const uint8_t *keypairs, bool cold,
                  double seconds, unsigned *seed)
{
	struct mg_crypto_job jobs[BURST];
	enum mg_crypto_status st[BURST];
	double busy = 0, end = wall_now() + seconds;
	unsigned long msgs = 0, round = 0;

	while (wall_now() < end) {
		round++;
		for (unsigned k = 0; k < SLOTS; k++) {
			struct slot *sl = &s->slots[k];
			bool slots = cold && s->cold_buffers;
			uint8_t *data = slots ? sl->data : s->hot;
			if (slots)
				while (atomic_load_explicit(&sl->written, memory_order_acquire) <
				       sl->sealed + 1)
					sched_yield();
			for (unsigned j = 0; j < BURST; j++) {
				uint8_t *m = data + (size_t)j * (MAX_SIZE + 64);
				unsigned kp = cold && s->cold_keys
				                  ? (unsigned)rand_r(seed) % s->keypairs
				                  : j % 4;
				jobs[j] = (struct mg_crypto_job){keypairs + (size_t)kp * KP_BYTES,
				                                 msgs + j,
				                                 m,
				                                 m,
				                                 s->size,
				                                 m + s->size};
			}
			double t0 = cpu_now();
			if (mg_crypto_seal_burst(c, jobs, st, BURST) != BURST)
				return -1;
			busy += cpu_now() - t0;
			msgs += BURST;
			if (slots)
				atomic_store_explicit(&sl->sealed, sl->sealed + 1,
				                      memory_order_release);
		}
	}
	return busy > 0 ? (double)msgs / busy : 0;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
	static struct shared s = {.cold_buffers = true, .cold_keys = true, .keypairs = KEYPAIRS};
	double seconds = 2;
	enum mg_crypto_isa isa = MG_CRYPTO_ISA_AUTO;
	unsigned sizes[MAX_SIZES] = {64, 1420}, nsizes = 2, nplans = 1, rounds = 5;
	struct mg_crypto_prefetch plans[MAX_PLANS] = {mg_crypto_prefetch_default()};
	char names[MAX_PLANS][24] = {"default"};
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(argv[i], "--seconds") && v) {
			seconds = atof(v);
		} else if (!strcmp(argv[i], "--isa") && v) {
			if (mg_crypto_isa_parse(v, &isa) != 0 || !mg_crypto_isa_supported(isa)) {
				fprintf(stderr, "--isa %s: not an ISA this CPU has\n", v);
				return 2;
			}
		} else if (!strcmp(argv[i], "--prefetch") && v) {
			char *copy = strdup(v), *save = NULL;
			nplans = 0;
			for (char *t = strtok_r(copy, ",", &save); t;
			     t = strtok_r(NULL, ",", &save)) {
				if (nplans == MAX_PLANS ||
				    mg_crypto_prefetch_parse(t, &plans[nplans]) != 0) {
					fprintf(stderr,
					        "--prefetch: at most %d plans, each none or "
					        "AHEAD:LINES[:key]\n",
					        MAX_PLANS);
					free(copy);
					return 2;
				}
				snprintf(names[nplans++], sizeof(names[0]), "%s", t);
			}
			free(copy);
			if (!nplans) {
				fprintf(stderr, "--prefetch: no plan\n");
				return 2;
			}
		} else if (!strcmp(argv[i], "--cold") && v) {
			s.cold_buffers = !strcmp(v, "both") || !strcmp(v, "buffers");
			s.cold_keys = !strcmp(v, "both") || !strcmp(v, "keys");
			if (!s.cold_buffers && !s.cold_keys) {
				fprintf(stderr, "--cold: both, buffers or keys\n");
				return 2;
			}
		} else if (!strcmp(argv[i], "--keypairs") && v) {
			s.keypairs = (unsigned)atoi(v);
			if (s.keypairs < 4 || s.keypairs > MAX_KEYPAIRS) {
				fprintf(stderr, "--keypairs: 4..%d\n", MAX_KEYPAIRS);
				return 2;
			}
		} else if (!strcmp(argv[i], "--rounds") && v) {
			rounds = (unsigned)atoi(v);
			if (rounds < 1 || rounds > MAX_ROUNDS) {
				fprintf(stderr, "--rounds: 1..%d\n", MAX_ROUNDS);
				return 2;
			}
		} else if (!strcmp(argv[i], "--sizes") && v) {
			char *copy = strdup(v), *save = NULL;
			nsizes = 0;
			for (char *t = strtok_r(copy, ",", &save); t && nsizes < MAX_SIZES;
			     t = strtok_r(NULL, ",", &save))
				sizes[nsizes++] = (unsigned)atoi(t);
			free(copy);
		} else {
			fprintf(stderr,
			        "usage: %s [--seconds S] [--isa auto|avx512|avx2|avx|sse] "
			        "[--sizes a,b,..] [--prefetch PLAN,..] [--rounds N] "
			        "[--cold both|buffers|keys] [--keypairs N]\n",
			        argv[0]);
			return 2;
		}
		i++;
	}
	for (unsigned i = 0; i < nsizes; i++)
		if (sizes[i] == 0 || sizes[i] > MAX_SIZE) {
			fprintf(stderr, "--sizes: each 1..%d\n", MAX_SIZE);
			return 2;
		}
	if (seconds <= 0) {
		fprintf(stderr, "--seconds: must be positive\n");
		return 2;
	}

	int err = 0, here = sched_getcpu();
	struct mg_crypto *c = mg_crypto_create(isa, &err);
	uint8_t *keypairs = aligned_alloc(64, (size_t)s.keypairs * KP_BYTES);
	if (!c || !keypairs)
		return 1;
	for (size_t i = 0; i < (size_t)s.keypairs * KP_BYTES; i++)
		keypairs[i] = (uint8_t)(i * 7 + 3);
	s.hot = aligned_alloc(64, (size_t)BURST * (MAX_SIZE + 64));
	if (!s.hot)
		return 1;
	memset(s.hot, 1, (size_t)BURST * (MAX_SIZE + 64));
	for (unsigned k = 0; k < SLOTS; k++) {
		s.slots[k].data = aligned_alloc(64, (size_t)BURST * (MAX_SIZE + 64));
		if (!s.slots[k].data)
			return 1;
		memset(s.slots[k].data, 1, (size_t)BURST * (MAX_SIZE + 64));
	}
	/* The writer on another CPU when there is one (on one CPU the figures are meaningless). */
	cpu_set_t online;
	sched_getaffinity(0, sizeof(online), &online);
	s.writer_cpu = -1;
	for (int cpu = 0; cpu < CPU_SETSIZE && s.writer_cpu < 0; cpu++)
		if (cpu != here && CPU_ISSET(cpu, &online))
			s.writer_cpu = cpu;
	if (here >= 0)
		pin(here);
	struct mg_crypto_prefetch dflt = mg_crypto_prefetch_default();
	printf(
	    "seal, hot (buffers and 4 keys in this core's cache) vs cold (%s), crypto %s, cpu %d, "
	    "per CPU-second of the seals, %u alternating rounds of %u plan(s), medians; "
	    "default plan %u:%u%s\n",
	    s.cold_buffers && s.cold_keys ? "buffers the writer on the other cpu just wrote, keys "
	                                    "of --keypairs at random"
	    : s.cold_buffers ? "buffers the writer on the other cpu just wrote, 4 hot keys"
	                     : "hot buffers, keys of --keypairs at random",
	    mg_crypto_isa_name(c), here, rounds, nplans, dflt.ahead, dflt.lines,
	    dflt.key ? ":key" : "");
	printf("writer on cpu %d, %u keypairs %d bytes apart\n", s.writer_cpu, s.keypairs,
	       KP_BYTES);
	unsigned seed = 1;
	int rc = 0;
	static double hot[MAX_PLANS][MAX_ROUNDS], cold[MAX_PLANS][MAX_ROUNDS],
	    ratio[MAX_PLANS][MAX_ROUNDS], ratio0[MAX_PLANS][MAX_ROUNDS];
	for (unsigned i = 0; i < nsizes && rc == 0; i++) {
		s.size = sizes[i];
		atomic_store(&s.stop, false);
		for (unsigned k = 0; k < SLOTS; k++) {
			atomic_store(&s.slots[k].written, 0);
			atomic_store(&s.slots[k].sealed, 0);
		}
		pthread_t t;
		if (pthread_create(&t, NULL, writer, &s) != 0)
			return 1;
		for (unsigned r = 0; r < rounds; r++)
			for (unsigned p = 0; p < nplans; p++) {
				mg_crypto_set_prefetch(c, &plans[p]);
				hot[p][r] = run(c, &s, keypairs, false, seconds / 10, &seed);
				cold[p][r] = run(c, &s, keypairs, true, seconds / 10, &seed);
				if (hot[p][r] <= 0 || cold[p][r] < 0)
					rc = 1;
				ratio[p][r] = cold[p][r] / hot[p][r];
			}
		atomic_store(&s.stop, true);
		pthread_join(t, NULL);
		for (unsigned p = 0; p < nplans; p++)
			for (unsigned r = 0; r < rounds; r++)
				ratio0[p][r] = cold[p][r] / hot[0][r];
		for (unsigned p = 0; p < nplans; p++) {
			qsort(hot[p], rounds, sizeof(double), cmp);
			qsort(cold[p], rounds, sizeof(double), cmp);
			qsort(ratio[p], rounds, sizeof(double), cmp);
			qsort(ratio0[p], rounds, sizeof(double), cmp);
			unsigned m = rounds / 2;
			printf("  %4u B  %-10s hot %.3f Mpps, cold %.3f Mpps: cold/hot %.1f %% "
			       "(%.1f .. %.1f), cold/hot of %s %.1f %% (%.1f .. %.1f)\n",
			       sizes[i], names[p], hot[p][m] / 1e6, cold[p][m] / 1e6,
			       100 * ratio[p][m], 100 * ratio[p][0], 100 * ratio[p][rounds - 1],
			       names[0], 100 * ratio0[p][m], 100 * ratio0[p][0],
			       100 * ratio0[p][rounds - 1]);
		}
		fflush(stdout);
	}
	for (unsigned k = 0; k < SLOTS; k++)
		free(s.slots[k].data);
	free(s.hot);
	free(keypairs);
	mg_crypto_destroy(c);
	return rc;
}
