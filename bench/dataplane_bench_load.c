// SPDX-License-Identifier: GPL-2.0-only
/*
 * Overload and latency through one worker (issue #6), one peer, after each saturated point.
 *
 * Capacity is the saturated point's forwarded rate per wall second in its best window
 * (wall_best_mpps): what the worker delivered with its RX ring kept full, on this machine at
 * that moment (the best window, as one preempted stretch would otherwise set it for all). The
 * generator then paces its offered load by the TSC: a burst is due every burst / rate seconds; when
 * it falls behind (preempted) it sends due bursts back to back, so the offered rate is what was
 * asked for unless the generator itself cannot reach it (offered_mpps says what it reached).
 * What the worker's RX ring refuses is offered but dropped.
 *
 * Overload: 1x, 2x and 4x capacity in bursts of 32; forwarded = frames taken from the worker's
 * TX ring per wall second over the whole run; peak = the best of the saturated point's rate over
 * its whole run (wall_mpps) and the three paced ones. Peak is a whole-run figure like what it is
 * compared with: the best of eight windows is 2-4 % above any run's average on a VM, so against
 * it even an unloaded point lost that much (of_capacity still says how far each run came).
 * Latency: 10 % and 50 % of capacity in bursts of LAT_BURST, with busy polling and with the
 * idle back-off (the configuration's default, at most 1 ms asleep); each frame carries the TSC
 * of its enqueue in an mbuf dynamic field, read when the generator takes it from the TX ring.
 * Both loops log their gaps over STALL_US (the worker's iterations, the generator's likewise):
 * the share of the run they cover, and the p99 of the frames that no gap overlapped, show
 * whether a tail was the data plane or a thread off its CPU (preempted vCPU, other processes).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_ring.h>

#include "worker.h"

#include "dataplane_bench.h"

#define FACTORS      3
#define LOADS        2
#define MAX_LOAD_SET 6 /* (64, 1420, imix) x (encrypt, decrypt) */
#define LAT_BURST    4
#define MAX_SAMPLES  (1u << 22)
#define STALL_US     10 /* a loop gap this long is a stall (a latency burst takes ~5 us) */
#define LONG_US      100
#define MAX_STALLS   (1u << 18)

static const double factors[FACTORS] = {1, 2, 4};
static const double loads[LOADS] = {0.10, 0.50};

struct overload {
	enum direction dir;
	unsigned size;
	double capacity_mpps, peak_mpps;
	double offered_mpps[FACTORS], forwarded_mpps[FACTORS];
	uint64_t offered[FACTORS], refused[FACTORS];
};

/* One thread's loop gaps over STALL_US and over LONG_US in a run's measured part. */
struct stalls {
	uint64_t n, n_long;
	double share, share_long; /* of the measured wall time */
	long nivcsw;              /* involuntary context switches over the whole run */
};

struct lat_point {
	double offered_mpps, p50_us, p99_us, max_us;
	uint64_t samples, refused;
	/* the samples whose enqueue-to-dequeue interval overlaps no stall of either thread */
	uint64_t clear;
	double p99_clear_us;
	struct stalls worker, generator;
};

struct latency {
	enum direction dir;
	unsigned size;
	double capacity_mpps;
	struct lat_point pt[2][LOADS]; /* [0]: busy poll, [1]: back-off */
};

static struct overload overloads[MAX_LOAD_SET];
static struct latency latencies[MAX_LOAD_SET];
static unsigned n_overloads, n_latencies;
static int tsc_field = -1;
/* latency and enqueue TSC of each timed frame, in the order they came out; clear: scratch */
static uint32_t *samples, *clear;
static uint64_t *enqueued;
static struct mg_stall *stall_mem[2];
static struct mg_stall_log logs[2]; /* [0]: the worker's, [1]: the generator's */

struct paced {
	double rate_pps, seconds;
	unsigned burst;
	bool stamp;
	uint64_t offered, refused, forwarded, n_samples;
	uint64_t from, end; /* the measured part, TSC */
	long gen_nivcsw;
};

static uint64_t *tsc_of(struct rte_mbuf *m)
{
	return RTE_MBUF_DYNFIELD(m, tsc_field, uint64_t *);
}

/*
 * One burst offered to ring: returns how many of them the ring refused. Only what fits is made
 * (the generator is the ring's only producer, so the free count can only grow): a refused frame
 * must not use up a sealed message, or the decrypt laps would run ahead of the worker.
 */
static unsigned offer(struct traffic *t, struct rte_ring *ring, unsigned burst, uint64_t tsc,
                      bool stamp)
{
	struct rte_mbuf *m[BURST];
	unsigned room = rte_ring_free_count(ring), n = room < burst ? room : burst;
	if (n == 0 || rte_pktmbuf_alloc_bulk(pool, m, n) != 0)
		return burst;
	for (unsigned i = 0; i < n; i++, t->pos++) {
		fill_packet(t, m[i]);
		if (stamp)
			*tsc_of(m[i]) = tsc;
	}
	rte_ring_sp_enqueue_bulk(ring, (void **)m, n, NULL);
	return burst - n;
}

static void collect(struct paced *r, struct rte_ring *ring, uint64_t now, uint64_t from)
{
	struct rte_mbuf *m[64];
	unsigned n = rte_ring_sc_dequeue_burst(ring, (void **)m, 64, NULL);
	for (unsigned i = 0; i < n && r->stamp; i++) {
		uint64_t ts = *tsc_of(m[i]);
		if (ts >= from && ts <= now && r->n_samples < MAX_SAMPLES) {
			uint64_t d = now - ts;
			enqueued[r->n_samples] = ts;
			samples[r->n_samples++] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
		}
	}
	if (n)
		rte_pktmbuf_free_bulk(m, n);
	if (now >= from)
		r->forwarded += n;
}

/*
 * Warm-up, then opt.seconds of paced load; counts only what was offered after the warm-up.
 * Timed runs also log both loops' stalls: the worker's iterations and the generator's over
 * STALL_US.
 */
static int paced_run(struct traffic *t, struct paced *r)
{
	struct rte_ring *in = input_ring(t->dir), *out = output_ring(t->dir);
	uint64_t hz = rte_get_tsc_hz();
	struct rusage ru0, ru1;
	restart_traffic(t);
	r->offered = r->refused = r->forwarded = r->n_samples = 0;
	for (int i = 0; i < 2; i++)
		logs[i] = (struct mg_stall_log){
		    .min_tsc = hz / 1000000 * STALL_US, .at = stall_mem[i], .cap = MAX_STALLS};
	set_stall_log(r->stamp ? &logs[0] : NULL);
	getrusage(RUSAGE_THREAD, &ru0);
	if (worker_start() != 0)
		return -1;
	double gap = (double)r->burst * (double)hz / r->rate_pps, due = (double)rte_rdtsc();
	uint64_t from = (uint64_t)due + (uint64_t)(opt.warmup * (double)hz);
	uint64_t end = from + (uint64_t)(opt.seconds * (double)hz), now, last = (uint64_t)due;
	while ((now = rte_rdtsc()) < end) {
		if (r->stamp)
			mg_stall_note(&logs[1], last, now, 0);
		last = now;
		if ((double)now >= due) {
			unsigned refused = offer(t, in, r->burst, now, r->stamp);
			if (now >= from) {
				r->offered += r->burst;
				r->refused += refused;
			}
			due += gap;
		}
		collect(r, out, now, from);
	}
	int rc = worker_stop();
	getrusage(RUSAGE_THREAD, &ru1);
	set_stall_log(NULL);
	r->from = from;
	r->end = end;
	r->gen_nivcsw = ru1.ru_nivcsw - ru0.ru_nivcsw;
	return rc;
}

/*
 * On a shared machine the generator or the worker can lose its CPU for a whole run: a run that
 * offered less than half its frames, or got none through, is repeated (up to 3 tries, counted).
 */
static unsigned retries;

static int paced_run_retry(struct traffic *t, struct paced *r)
{
	double want = r->rate_pps * opt.seconds;
	for (int i = 0;; i++) {
		int rc = paced_run(t, r);
		bool starved = (double)r->offered < want / 2 || r->forwarded == 0 ||
		               (r->stamp && r->n_samples == 0);
		if (rc != 0 || !starved || i == 2)
			return rc;
		retries++;
		fprintf(stderr, "note: run starved (%lu of %.0f offered, %lu out): repeated\n",
		        (unsigned long)r->offered, want, (unsigned long)r->forwarded);
	}
}

static int cmp_u32(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
	return a < b ? -1 : a > b;
}

static double percentile_us(const uint32_t *v, uint64_t n, double q)
{
	uint64_t i = (uint64_t)(q * (double)(n - 1));
	return n ? (double)v[i] * 1e6 / (double)rte_get_tsc_hz() : 0;
}

/*
 * log's stalls within [from, end): what each gap took beyond its frames' work at per_frame TSC
 * each (the full bursts of a backlog are work, not a stall), clipped to [from, end).
 */
static struct stalls sum_stalls(const struct mg_stall_log *log, uint64_t from, uint64_t end,
                                double per_frame, long nivcsw)
{
	struct stalls s = {.nivcsw = nivcsw};
	uint64_t hz = rte_get_tsc_hz(), min = hz / 1000000 * STALL_US, sum = 0, sum_long = 0;
	uint64_t long_tsc = hz / 1000000 * LONG_US;
	for (uint32_t i = 0; i < log->n; i++) {
		const struct mg_stall *g = &log->at[i];
		uint64_t a = g->start > from ? g->start : from, b = g->end < end ? g->end : end;
		uint64_t work = (uint64_t)(per_frame * g->frames), len = b > a ? b - a : 0;
		uint64_t excess = len > work ? len - work : 0;
		if (excess <= min)
			continue;
		s.n++;
		sum += excess;
		if (excess > long_tsc) {
			s.n_long++;
			sum_long += excess;
		}
	}
	s.share = (double)sum / (double)(end - from);
	s.share_long = (double)sum_long / (double)(end - from);
	return s;
}

/* Whether [a, b] overlaps a logged stall (the log is in time order, its stalls disjoint). */
static bool overlaps(const struct mg_stall_log *log, uint64_t a, uint64_t b)
{
	uint32_t lo = 0, hi = log->n;
	while (lo < hi) { /* the first stall that ends after a */
		uint32_t mid = lo + (hi - lo) / 2;
		if (log->at[mid].end <= a)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < log->n && log->at[lo].start < b;
}

/*
 * The run's percentiles, raw and over the samples that overlap no logged gap: no stall, and no
 * worker iteration over STALL_US with work (at these loads only a backlog that a stall left
 * makes one), whose frames wait on the stall as well. Sorts samples. A frame's work is the
 * saturated point's time per frame (1 / capacity).
 */
static void summarize_latency(struct lat_point *p, const struct paced *r, double capacity_mpps)
{
	uint64_t n = r->n_samples, k = 0;
	double per_frame = (double)rte_get_tsc_hz() / (capacity_mpps * 1e6);
	p->worker = sum_stalls(&logs[0], r->from, r->end, per_frame, worker_nivcsw());
	p->generator = sum_stalls(&logs[1], r->from, r->end, 0, r->gen_nivcsw);
	for (uint64_t i = 0; i < n; i++) {
		uint64_t a = enqueued[i], b = a + samples[i];
		if (!overlaps(&logs[0], a, b) && !overlaps(&logs[1], a, b))
			clear[k++] = samples[i];
	}
	qsort(samples, n, sizeof(samples[0]), cmp_u32);
	qsort(clear, k, sizeof(clear[0]), cmp_u32);
	p->samples = n;
	p->refused = r->refused;
	p->offered_mpps = (double)r->offered / opt.seconds / 1e6;
	p->p50_us = percentile_us(samples, n, 0.50);
	p->p99_us = percentile_us(samples, n, 0.99);
	p->max_us = percentile_us(samples, n, 1.0);
	p->clear = k;
	p->p99_clear_us = percentile_us(clear, k, 0.99);
	if (logs[0].lost || logs[1].lost)
		fprintf(stderr,
		        "note: stall log full: %lu worker and %lu generator stalls not logged\n",
		        (unsigned long)logs[0].lost, (unsigned long)logs[1].lost);
}

bool load_tests_want(const struct traffic *t)
{
	return t->n_peers == 1 && (t->size == 64 || t->size == 1420 || t->size == IMIX);
}

static int run_overload(struct traffic *t, const struct point *sat)
{
	struct overload *o = &overloads[n_overloads];
	memset(o, 0, sizeof(*o));
	o->dir = t->dir;
	o->size = t->size;
	o->capacity_mpps = sat->wall_best_mpps;
	o->peak_mpps = sat->wall_mpps;
	for (unsigned f = 0; f < FACTORS; f++) {
		struct paced r = {.rate_pps = factors[f] * sat->wall_best_mpps * 1e6,
		                  .seconds = opt.seconds,
		                  .burst = BURST};
		if (paced_run_retry(t, &r) != 0) {
			fprintf(stderr, "overload run failed\n");
			return -1;
		}
		o->offered[f] = r.offered;
		o->refused[f] = r.refused;
		o->offered_mpps[f] = (double)r.offered / opt.seconds / 1e6;
		o->forwarded_mpps[f] = (double)r.forwarded / opt.seconds / 1e6;
		if (o->forwarded_mpps[f] > o->peak_mpps)
			o->peak_mpps = o->forwarded_mpps[f];
	}
	n_overloads++;
	return 0;
}

static int run_latency(struct traffic *t, const struct point *sat)
{
	struct latency *l = &latencies[n_latencies];
	memset(l, 0, sizeof(*l));
	l->dir = t->dir;
	l->size = t->size;
	l->capacity_mpps = sat->wall_best_mpps;
	for (int mode = 0; mode < 2; mode++) {
		set_idle_backoff(mode == 1);
		for (unsigned k = 0; k < LOADS; k++) {
			struct paced r = {.rate_pps = loads[k] * sat->wall_best_mpps * 1e6,
			                  .seconds = opt.seconds,
			                  .burst = LAT_BURST,
			                  .stamp = true};
			int rc = paced_run_retry(t, &r);
			if (rc != 0 || r.n_samples == 0) {
				fprintf(stderr,
				        "latency run failed: worker %d, %lu of %lu frames timed "
				        "(%lu refused)\n",
				        rc, (unsigned long)r.n_samples, (unsigned long)r.offered,
				        (unsigned long)r.refused);
				set_idle_backoff(false);
				return rc ? rc : -1;
			}
			summarize_latency(&l->pt[mode][k], &r, sat->wall_best_mpps);
		}
	}
	set_idle_backoff(false);
	n_latencies++;
	return 0;
}

int load_tests(struct traffic *t, const struct point *saturated)
{
	static const struct rte_mbuf_dynfield desc = {
	    .name = "meshgate_bench_tsc", .size = sizeof(uint64_t), .align = sizeof(uint64_t)};
	if (tsc_field < 0 && (tsc_field = rte_mbuf_dynfield_register(&desc)) < 0) {
		fprintf(stderr, "mbuf dynamic field: %s\n", rte_strerror(rte_errno));
		return -1;
	}
	if (!samples) {
		samples = malloc(MAX_SAMPLES * sizeof(*samples));
		clear = malloc(MAX_SAMPLES * sizeof(*clear));
		enqueued = malloc(MAX_SAMPLES * sizeof(*enqueued));
		for (int i = 0; i < 2; i++)
			stall_mem[i] = malloc(MAX_STALLS * sizeof(*stall_mem[i]));
		if (!samples || !clear || !enqueued || !stall_mem[0] || !stall_mem[1])
			return -ENOMEM;
		/* Fault every page in now, not on the generator's timed path. */
		memset(samples, 0, MAX_SAMPLES * sizeof(*samples));
		memset(clear, 0, MAX_SAMPLES * sizeof(*clear));
		memset(enqueued, 0, MAX_SAMPLES * sizeof(*enqueued));
		for (int i = 0; i < 2; i++)
			memset(stall_mem[i], 0, MAX_STALLS * sizeof(*stall_mem[i]));
	}
	if (saturated->wall_best_mpps <= 0 || n_overloads == MAX_LOAD_SET) {
		fprintf(stderr, "no capacity to offer load against (%.4f Mpps)\n",
		        saturated->wall_best_mpps);
		return -1;
	}
	if (run_overload(t, saturated) != 0)
		return -1;
	return t->size == IMIX ? 0 : run_latency(t, saturated);
}

static const char *dir_name(enum direction d)
{
	return d == ENCRYPT ? "encrypt" : "decrypt";
}

static const char *size_str(unsigned size, char *buf, size_t n)
{
	if (size == IMIX)
		return "imix";
	snprintf(buf, n, "%u", size);
	return buf;
}

static void write_stalls(FILE *f, const char *who, const struct stalls *st)
{
	fprintf(f,
	        "\"%s_stall_share\": %.5f, \"%s_stalls\": %lu, \"%s_stall_share_100us\": "
	        "%.5f, \"%s_stalls_100us\": %lu, \"%s_nivcsw\": %ld",
	        who, st->share, who, (unsigned long)st->n, who, st->share_long, who,
	        (unsigned long)st->n_long, who, st->nivcsw);
}

void write_load_json(FILE *f)
{
	char sz[16];
	fprintf(f,
	        " \"load_is\": \"one peer; capacity = the saturated point's wall_best_mpps; paced "
	        "by the TSC, overload in bursts of %d, latency in bursts of %d; peak = the best "
	        "whole-run rate (the saturated point's wall_mpps or a paced run's); stalls: loop "
	        "gaps over %d us (and over %d us) of the worker and the generator\",\n",
	        BURST, LAT_BURST, STALL_US, LONG_US);
	fprintf(f, " \"load_runs_repeated\": %u,\n \"overload\": [", retries);
	for (unsigned i = 0, k = 0; i < n_overloads; i++) {
		const struct overload *o = &overloads[i];
		for (unsigned x = 0; x < FACTORS; x++, k++)
			fprintf(
			    f,
			    "%s\n  {\"direction\": \"%s\", \"peers\": 1, \"size\": \"%s\", "
			    "\"factor\": %.0f, \"capacity_mpps\": %.4f, \"offered_mpps\": %.4f, "
			    "\"refused\": %lu, \"forwarded_mpps\": %.4f, \"peak_mpps\": %.4f, "
			    "\"of_peak\": %.3f, \"of_capacity\": %.3f}",
			    k ? "," : "", dir_name(o->dir), size_str(o->size, sz, sizeof(sz)),
			    factors[x], o->capacity_mpps, o->offered_mpps[x],
			    (unsigned long)o->refused[x], o->forwarded_mpps[x], o->peak_mpps,
			    o->forwarded_mpps[x] / o->peak_mpps,
			    o->forwarded_mpps[x] / o->capacity_mpps);
	}
	fprintf(f, "\n ],\n \"latency\": [");
	for (unsigned i = 0, k = 0; i < n_latencies; i++) {
		const struct latency *l = &latencies[i];
		for (int mode = 0; mode < 2; mode++)
			for (unsigned x = 0; x < LOADS; x++, k++) {
				const struct lat_point *p = &l->pt[mode][x];
				fprintf(
				    f,
				    "%s\n  {\"direction\": \"%s\", \"peers\": 1, \"size\": "
				    "\"%s\", \"idle_mode\": \"%s\", \"load\": %.2f, "
				    "\"capacity_mpps\": %.4f, \"offered_mpps\": %.4f, "
				    "\"refused\": %lu, \"samples\": %lu, \"p50_us\": %.2f, "
				    "\"p99_us\": %.2f, \"max_us\": %.1f, \"clear_samples\": %lu, "
				    "\"p99_clear_us\": %.2f,\n   ",
				    k ? "," : "", dir_name(l->dir),
				    size_str(l->size, sz, sizeof(sz)),
				    mode ? "backoff" : "busy-poll", loads[x], l->capacity_mpps,
				    p->offered_mpps, (unsigned long)p->refused,
				    (unsigned long)p->samples, p->p50_us, p->p99_us, p->max_us,
				    (unsigned long)p->clear, p->p99_clear_us);
				write_stalls(f, "worker", &p->worker);
				fprintf(f, ", ");
				write_stalls(f, "generator", &p->generator);
				fprintf(f, "}");
			}
	}
	fprintf(f, "\n ]\n");
}

void print_load_tables(void)
{
	char sz[16];
	if (n_overloads)
		printf("overload (1 peer; capacity = best saturated window per wall second; peak = "
		       "best whole-run rate; Mpps per wall second)\n"
		       "%-8s %5s %8s %6s %8s %9s %9s %8s %8s\n",
		       "path", "size", "capacity", "load", "offered", "refused", "forwarded",
		       "of peak", "of cap");
	for (unsigned i = 0; i < n_overloads; i++)
		for (unsigned x = 0; x < FACTORS; x++) {
			const struct overload *o = &overloads[i];
			printf("%-8s %5s %8.3f %5.0fx %8.3f %9lu %9.3f %7.1f%% %7.1f%%\n",
			       dir_name(o->dir), size_str(o->size, sz, sizeof(sz)),
			       o->capacity_mpps, factors[x], o->offered_mpps[x],
			       (unsigned long)o->refused[x], o->forwarded_mpps[x],
			       100 * o->forwarded_mpps[x] / o->peak_mpps,
			       100 * o->forwarded_mpps[x] / o->capacity_mpps);
		}
	if (n_latencies)
		printf("latency (1 peer, enqueue to TX ring, us; stall: share of the measured time "
		       "in loop gaps over %d us, worker/generator; csw: the worker's involuntary "
		       "context switches; clear: p99 of the samples no loop gap overlapped)\n"
		       "%-8s %5s %-9s %5s %8s %8s %8s %9s %13s %5s %9s %6s\n",
		       STALL_US, "path", "size", "idle", "load", "p50", "p99", "max", "samples",
		       "stall w/g", "csw", "p99 clear", "clear");
	for (unsigned i = 0; i < n_latencies; i++)
		for (int mode = 0; mode < 2; mode++)
			for (unsigned x = 0; x < LOADS; x++) {
				const struct latency *l = &latencies[i];
				const struct lat_point *p = &l->pt[mode][x];
				printf(
				    "%-8s %5s %-9s %4.0f%% %8.2f %8.2f %8.1f %9lu %5.2f%%/%5.2f%% "
				    "%5ld %9.2f %5.1f%%\n",
				    dir_name(l->dir), size_str(l->size, sz, sizeof(sz)),
				    mode ? "backoff" : "busy-poll", loads[x] * 100, p->p50_us,
				    p->p99_us, p->max_us, (unsigned long)p->samples,
				    100 * p->worker.share, 100 * p->generator.share,
				    p->worker.nivcsw, p->p99_clear_us,
				    p->samples ? 100.0 * (double)p->clear / (double)p->samples : 0);
			}
}
