// SPDX-License-Identifier: GPL-2.0-only
/* Paired side-by-side passes (bench_pairs.h). */
#include "bench_pairs.h"

#include <stdio.h>
#include <stdlib.h>

double bench_clock_s(clockid_t id)
{
	struct timespec ts;
	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void bench_machine_read(struct bench_machine *m)
{
	unsigned long long v[8] = {0};
	FILE *f = fopen("/proc/stat", "r");
	*m = (struct bench_machine){0, 0, 0};
	if (!f)
		return;
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
	           &v[4], &v[5], &v[6], &v[7]) == 8) {
		for (unsigned i = 0; i < 8; i++)
			m->total += v[i];
		m->idle = v[3] + v[4]; /* idle and iowait */
		m->steal = v[7];
	}
	fclose(f);
}

void bench_machine_share(const struct bench_machine *a, const struct bench_machine *b,
                         double *idle_pct, double *steal_pct)
{
	uint64_t total = b->total - a->total;
	*idle_pct = total ? 100.0 * (double)(b->idle - a->idle) / (double)total : 0.0;
	*steal_pct = total ? 100.0 * (double)(b->steal - a->steal) / (double)total : 0.0;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

void bench_ratio_summary(double *ratio, unsigned n, double *median, double *lo, double *hi)
{
	if (!n) {
		*median = *lo = *hi = 0;
		return;
	}
	qsort(ratio, n, sizeof(ratio[0]), cmp);
	*median = n % 2 ? ratio[n / 2] : (ratio[n / 2 - 1] + ratio[n / 2]) / 2;
	*lo = ratio[0];
	*hi = ratio[n - 1];
}
