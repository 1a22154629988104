/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Side-by-side measurement on a shared machine, as issue 12's benches do it: short passes of the
 * two variants in pairs, the order flipped every pair (a load spike hits both sides, and the
 * median of the pairs' ratios ignores the pairs it hit unevenly), timed in thread CPU time, with
 * the machine's idle and steal share over the run so that a disturbed run shows.
 */
#ifndef MESHGATE_BENCH_BENCH_PAIRS_H
#define MESHGATE_BENCH_BENCH_PAIRS_H

#include <stdint.h>
#include <time.h>

/* Paired passes per size. */
#define BENCH_PAIRS 40

/* All CPUs' jiffies from /proc/stat (zero when unreadable). */
struct bench_machine {
	uint64_t total, idle, steal;
};

double bench_clock_s(clockid_t id);
void bench_machine_read(struct bench_machine *m);
/* The idle and steal share of the machine between a and b, in percent. */
void bench_machine_share(const struct bench_machine *a, const struct bench_machine *b,
                         double *idle_pct, double *steal_pct);

/* Which variant (0 or 1) runs at position o (0 or 1) of pair p: flipped every pair. */
static inline unsigned bench_pair_variant(unsigned pair, unsigned o)
{
	return o ^ (pair & 1);
}

/* Sorts ratio[0..n) and gives its median, lowest and highest. */
void bench_ratio_summary(double *ratio, unsigned n, double *median, double *lo, double *hi);

#endif
