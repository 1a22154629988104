// SPDX-License-Identifier: GPL-2.0-only
/*
 * The ceiling for dataplane_bench: crypto_burst's raw ChaCha20-Poly1305 rate on the worker's
 * core, measured the way bench/crypto_ceiling.c measures it (burst 32, four keys interleaved,
 * messages per CPU-second of the thread), best and median of CEIL_RUNS runs per size.
 */
#include <errno.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "crypto_burst.h"
#include "dataplane_bench.h"

int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, b = *(const double *)y;
	return a < b ? -1 : a > b;
}

static double ceiling_rate(struct mg_crypto *c, unsigned size, bool seal, double seconds)
{
	size_t stride = ((size_t)size + 63) & ~(size_t)63;
	uint8_t *pt = aligned_alloc(64, stride * CEIL_BURST),
	        *ct = aligned_alloc(64, stride * CEIL_BURST);
	uint8_t *out = aligned_alloc(64, stride * CEIL_BURST),
	        *tag = aligned_alloc(64, 64 * CEIL_BURST);
	uint8_t keys[4][MG_CRYPTO_KEY_LEN];
	struct mg_crypto_job sj[CEIL_BURST], oj[CEIL_BURST];
	enum mg_crypto_status st[CEIL_BURST];
	double rate = -1;

	if (!pt || !ct || !out || !tag)
		goto out;
	bench_rng(&rng_state, keys, sizeof(keys));
	bench_rng(&rng_state, pt, stride * CEIL_BURST);
	for (unsigned j = 0; j < CEIL_BURST; j++) {
		sj[j] = (struct mg_crypto_job){.key = keys[j % 4],
		                               .counter = j,
		                               .src = pt + j * stride,
		                               .dst = ct + j * stride,
		                               .len = size,
		                               .tag = tag + j * 64};
		oj[j] = sj[j];
		oj[j].src = ct + j * stride;
		oj[j].dst = out + j * stride;
	}
	if (mg_crypto_seal_burst(c, sj, st, CEIL_BURST) != CEIL_BURST)
		goto out;
	unsigned long long msgs = 0;
	double start = clock_s(CLOCK_MONOTONIC), cpu0 = clock_s(CLOCK_THREAD_CPUTIME_ID);
	do {
		for (int r = 0; r < 64; r++) {
			unsigned ok = seal ? mg_crypto_seal_burst(c, sj, st, CEIL_BURST)
			                   : mg_crypto_open_burst(c, oj, st, CEIL_BURST);
			if (ok != CEIL_BURST)
				goto out;
			msgs += CEIL_BURST;
			if (seal)
				for (unsigned j = 0; j < CEIL_BURST; j++)
					sj[j].counter += CEIL_BURST;
		}
	} while (clock_s(CLOCK_MONOTONIC) - start < seconds);
	rate = (double)msgs / (clock_s(CLOCK_THREAD_CPUTIME_ID) - cpu0);
out:
	free(pt);
	free(ct);
	free(out);
	free(tag);
	return rate;
}

int ceiling_main(void *arg)
{
	double seconds = *(const double *)arg;
	int err = 0;
	struct mg_crypto *c = mg_crypto_create(opt.isa, &err);
	if (!c)
		return err ? err : -ENOMEM;
	mg_crypto_set_prefetch(c, &opt.prefetch);
	snprintf(isa_name, sizeof(isa_name), "%s", mg_crypto_isa_name(c));
	for (unsigned i = 0; i < N_CEIL_SIZES; i++) {
		double open[CEIL_RUNS], seal[CEIL_RUNS];
		ceiling_rate(c, ceil_sizes[i], false, seconds / 5); /* warm up */
		for (int r = 0; r < CEIL_RUNS; r++) {
			open[r] = ceiling_rate(c, ceil_sizes[i], false, seconds / CEIL_RUNS) / 1e6;
			seal[r] = ceiling_rate(c, ceil_sizes[i], true, seconds / CEIL_RUNS) / 1e6;
			if (open[r] <= 0 || seal[r] <= 0)
				err = -EIO;
		}
		qsort(open, CEIL_RUNS, sizeof(double), cmp_double);
		qsort(seal, CEIL_RUNS, sizeof(double), cmp_double);
		ceilings[i] = (struct ceiling){.size = ceil_sizes[i],
		                               .seal_mpps = seal[CEIL_RUNS - 1],
		                               .open_mpps = open[CEIL_RUNS - 1],
		                               .seal_median_mpps = seal[CEIL_RUNS / 2],
		                               .open_median_mpps = open[CEIL_RUNS / 2]};
	}
	mg_crypto_destroy(c);
	return err;
}

static double ceiling_pick(enum direction dir, unsigned size, bool median)
{
	if (size == IMIX) {
		/* The time of one IMIX packet is the mean of its members' times. */
		double t = 0;
		for (unsigned k = 0; k < IMIX_LEN; k++)
			t += 1.0 / ceiling_pick(dir, imix[k], median);
		return IMIX_LEN / t;
	}
	for (unsigned i = 0; i < N_CEIL_SIZES; i++) {
		const struct ceiling *c = &ceilings[i];
		if (c->size == size && dir == ENCRYPT)
			return median ? c->seal_median_mpps : c->seal_mpps;
		if (c->size == size)
			return median ? c->open_median_mpps : c->open_mpps;
	}
	return 0;
}

double ceiling_of(enum direction dir, unsigned size)
{
	return ceiling_pick(dir, size, false);
}

double ceiling_median_of(enum direction dir, unsigned size)
{
	return ceiling_pick(dir, size, true);
}
