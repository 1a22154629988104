// SPDX-License-Identifier: GPL-2.0-only
/*
 * dataplane_bench --prefetch-ab PLAN (issue 16): crypto_burst's prefetch plan A (--crypto-prefetch,
 * default: the module's own) against plan B on the real worker loop, in one process, point by
 * point. Two runs of the same binary here differ by more than the plans do (bench/README.md, "Run-
 * to-run spread"), so the plans take turns in short passes, paired with the order flipped every
 * pair (bench_pairs.h); the generator swaps the worker's plan between passes (the plan is read per
 * burst). A pass's rate is the point's usual figure: packets per CPU-second of the worker's busy
 * iterations. Each plan's rate over all its passes is also given against the same run's ceiling.
 *
 * --prefetchw-ab uses the same passes for dataplane/prefetch.h instead: the worker's prefetches
 * for writing as plain reads (A) against PREFETCHW (B), one flag the worker reads per prefetch.
 */
#include <stdio.h>

#include "bench_pairs.h"
#include "counters.h"
#include "crypto_burst.h"
#include "dataplane_bench.h"
#include "prefetch.h"

#define AB_PAIRS 20

static void pump(struct traffic *t, double seconds)
{
	double end = clock_s(CLOCK_MONOTONIC) + seconds;
	while (clock_s(CLOCK_MONOTONIC) < end)
		for (int i = 0; i < 16; i++) {
			generate(t, input_ring(t->dir));
			drain(output_ring(t->dir));
		}
}

int ab_point(struct traffic *t)
{
	const struct mg_crypto_prefetch plan[2] = {opt.prefetch, opt.prefetch_b};
	double pass_s = opt.quick ? 0.02 : 0.1, ratio[AB_PAIRS];
	double busy[2] = {0, 0}, done[2] = {0, 0};
	unsigned pairs = 0;
	uint64_t drops = 0, why[MG_DROP_REASON_COUNT] = {0};

	restart_traffic(t);
	while (generate(t, input_ring(t->dir)))
		;
	if (worker_start() != 0)
		return -1;
	pump(t, opt.warmup);
	for (unsigned pair = 0; pair < AB_PAIRS; pair++) {
		double rate[2];
		for (unsigned o = 0; o < 2; o++) {
			unsigned v = bench_pair_variant(pair, o);
			struct snap a, b;
			double idle;
			if (opt.ab_prefetchw)
				atomic_store(&mg_have_prefetchw, v == 1);
			else
				mg_crypto_set_prefetch(worker_crypto(), &plan[v]);
			/* The first bursts after the swap may have read the old plan. */
			pump(t, pass_s / 10);
			snapshot(&a, t->dir);
			pump(t, pass_s);
			snapshot(&b, t->dir);
			rate[v] = window_mpps(&a, &b, &idle);
			if (rate[v] > 0) {
				done[v] += (double)(b.done - a.done);
				busy[v] += (double)(b.done - a.done) / rate[v];
			}
			for (int r = 0; r < MG_DROP_REASON_COUNT; r++) {
				drops += b.drops[r] - a.drops[r];
				why[r] += b.drops[r] - a.drops[r];
			}
		}
		if (rate[0] > 0 && rate[1] > 0)
			ratio[pairs++] = rate[1] / rate[0];
	}
	int rc = worker_stop();
	mg_crypto_set_prefetch(worker_crypto(), &opt.prefetch);
	if (opt.ab_prefetchw) /* (only ever allowed where the CPU has it) */
		atomic_store(&mg_have_prefetchw, true);
	if (rc != 0 || pairs == 0) {
		fprintf(stderr, "prefetch-ab: the worker %s\n",
		        rc ? "failed" : "never ran in both passes of a pair");
		return -1;
	}
	double med, lo, hi, ceil = ceiling_of(t->dir, t->size);
	double mpps[2] = {busy[0] > 0 ? done[0] / busy[0] : 0, busy[1] > 0 ? done[1] / busy[1] : 0};
	bench_ratio_summary(ratio, pairs, &med, &lo, &hi);
	printf(
	    "%-8s %6u %5u  %-10s %7.3f %5.1f %%  %-10s %7.3f %5.1f %%  %6.1f %% (%5.1f .. %6.1f) "
	    "%2u/%u  %lu\n",
	    t->dir == ENCRYPT ? "encrypt" : "decrypt", t->n_peers, t->size, opt.prefetch_name,
	    mpps[0], ceil > 0 ? 100 * mpps[0] / ceil : 0, opt.prefetch_b_name, mpps[1],
	    ceil > 0 ? 100 * mpps[1] / ceil : 0, 100 * med, 100 * lo, 100 * hi, pairs, AB_PAIRS,
	    (unsigned long)drops);
	for (int r = 0; r < MG_DROP_REASON_COUNT; r++)
		if (why[r])
			printf("  (%lu dropped as %s)\n", (unsigned long)why[r],
			       mg_drop_reason_name((enum mg_drop_reason)r));
	fflush(stdout);
	return 0;
}

void ab_header(void)
{
	printf("%s, paired passes of %.2f s (%u pairs), crypto %s, %s; Mpps "
	       "per CPU-second of the worker's busy iterations, each plan's %% of the same run's "
	       "ceiling, and the median of the pairs' B/A ratios\n",
	       opt.ab_prefetchw ? "prefetch for writing: a read prefetch (A) against PREFETCHW (B)"
	                        : "crypto prefetch plans",
	       opt.quick ? 0.02 : 0.1, AB_PAIRS, isa_name,
	       eal_hugepages ? "2 MB hugepages" : "4 KB pages");
	printf("%-8s %6s %5s  %-10s %7s %7s  %-10s %7s %7s  %-24s %5s  %s\n", "path", "peers",
	       "size", "plan A", "Mpps", "ceil", "plan B", "Mpps", "ceil", "B/A median (range)",
	       "pairs", "drops");
	fflush(stdout);
}
