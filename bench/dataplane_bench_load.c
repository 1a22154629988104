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
 * TX ring per wall second; peak = the best of the saturated rate and the three paced ones.
 * Latency: 10 % and 50 % of capacity in bursts of LAT_BURST, with busy polling and with the
 * idle back-off (the configuration's default, at most 1 ms asleep); each frame carries the TSC
 * of its enqueue in an mbuf dynamic field, read when the generator takes it from the TX ring.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <rte_cycles.h>
#include <rte_errno.h>
#include <rte_mbuf.h>
#include <rte_mbuf_dyn.h>
#include <rte_ring.h>

#include "dataplane_bench.h"

#define FACTORS      3
#define LOADS        2
#define MAX_LOAD_SET 6 /* (64, 1420, imix) x (encrypt, decrypt) */
#define LAT_BURST    4
#define MAX_SAMPLES  (1u << 22)

static const double factors[FACTORS] = {1, 2, 4};
static const double loads[LOADS] = {0.10, 0.50};

struct overload {
	enum direction dir;
	unsigned size;
	double capacity_mpps, peak_mpps;
	double offered_mpps[FACTORS], forwarded_mpps[FACTORS];
	uint64_t offered[FACTORS], refused[FACTORS];
};

struct latency {
	enum direction dir;
	unsigned size;
	double capacity_mpps;
	double offered_mpps[2][LOADS], p50_us[2][LOADS], p99_us[2][LOADS], max_us[2][LOADS];
	uint64_t samples[2][LOADS], refused[2][LOADS]; /* [0]: busy poll, [1]: back-off */
};

static struct overload overloads[MAX_LOAD_SET];
static struct latency latencies[MAX_LOAD_SET];
static unsigned n_overloads, n_latencies;
static int tsc_field = -1;
static uint32_t *samples;

struct paced {
	double rate_pps, seconds;
	unsigned burst;
	bool stamp;
	uint64_t offered, refused, forwarded, n_samples;
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
			samples[r->n_samples++] = d > UINT32_MAX ? UINT32_MAX : (uint32_t)d;
		}
	}
	if (n)
		rte_pktmbuf_free_bulk(m, n);
	if (now >= from)
		r->forwarded += n;
}

/* Warm-up, then opt.seconds of paced load; counts only what was offered after the warm-up. */
static int paced_run(struct traffic *t, struct paced *r)
{
	struct rte_ring *in = input_ring(t->dir), *out = output_ring(t->dir);
	uint64_t hz = rte_get_tsc_hz();
	restart_traffic(t);
	r->offered = r->refused = r->forwarded = r->n_samples = 0;
	if (worker_start() != 0)
		return -1;
	double gap = (double)r->burst * (double)hz / r->rate_pps, due = (double)rte_rdtsc();
	uint64_t from = (uint64_t)due + (uint64_t)(opt.warmup * (double)hz);
	uint64_t end = from + (uint64_t)(opt.seconds * (double)hz), now;
	while ((now = rte_rdtsc()) < end) {
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
	return worker_stop();
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

static double percentile_us(uint64_t n, double q)
{
	uint64_t i = (uint64_t)(q * (double)(n - 1));
	return (double)samples[i] * 1e6 / (double)rte_get_tsc_hz();
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
	o->capacity_mpps = o->peak_mpps = sat->wall_best_mpps;
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
			qsort(samples, r.n_samples, sizeof(samples[0]), cmp_u32);
			l->samples[mode][k] = r.n_samples;
			l->refused[mode][k] = r.refused;
			l->offered_mpps[mode][k] = (double)r.offered / opt.seconds / 1e6;
			l->p50_us[mode][k] = percentile_us(r.n_samples, 0.50);
			l->p99_us[mode][k] = percentile_us(r.n_samples, 0.99);
			l->max_us[mode][k] = percentile_us(r.n_samples, 1.0);
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
	if (!samples && !(samples = malloc(MAX_SAMPLES * sizeof(*samples))))
		return -ENOMEM;
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

void write_load_json(FILE *f)
{
	char sz[16];
	fprintf(f,
	        " \"load_is\": \"one peer; capacity = the saturated point's wall_best_mpps; paced "
	        "by the TSC, overload in bursts of %d, latency in bursts of %d\",\n",
	        BURST, LAT_BURST);
	fprintf(f, " \"load_runs_repeated\": %u,\n \"overload\": [", retries);
	for (unsigned i = 0, k = 0; i < n_overloads; i++) {
		const struct overload *o = &overloads[i];
		for (unsigned x = 0; x < FACTORS; x++, k++)
			fprintf(
			    f,
			    "%s\n  {\"direction\": \"%s\", \"peers\": 1, \"size\": \"%s\", "
			    "\"factor\": %.0f, \"capacity_mpps\": %.4f, \"offered_mpps\": %.4f, "
			    "\"refused\": %lu, \"forwarded_mpps\": %.4f, \"peak_mpps\": %.4f, "
			    "\"of_peak\": %.3f}",
			    k ? "," : "", dir_name(o->dir), size_str(o->size, sz, sizeof(sz)),
			    factors[x], o->capacity_mpps, o->offered_mpps[x],
			    (unsigned long)o->refused[x], o->forwarded_mpps[x], o->peak_mpps,
			    o->forwarded_mpps[x] / o->peak_mpps);
	}
	fprintf(f, "\n ],\n \"latency\": [");
	for (unsigned i = 0, k = 0; i < n_latencies; i++) {
		const struct latency *l = &latencies[i];
		for (int mode = 0; mode < 2; mode++)
			for (unsigned x = 0; x < LOADS; x++, k++)
				fprintf(
				    f,
				    "%s\n  {\"direction\": \"%s\", \"peers\": 1, \"size\": \"%s\", "
				    "\"idle_mode\": \"%s\", \"load\": %.2f, \"capacity_mpps\": "
				    "%.4f, \"offered_mpps\": %.4f, \"refused\": %lu, \"samples\": "
				    "%lu, \"p50_us\": %.2f, \"p99_us\": %.2f, \"max_us\": %.1f}",
				    k ? "," : "", dir_name(l->dir),
				    size_str(l->size, sz, sizeof(sz)),
				    mode ? "backoff" : "busy-poll", loads[x], l->capacity_mpps,
				    l->offered_mpps[mode][x], (unsigned long)l->refused[mode][x],
				    (unsigned long)l->samples[mode][x], l->p50_us[mode][x],
				    l->p99_us[mode][x], l->max_us[mode][x]);
	}
	fprintf(f, "\n ]\n");
}

void print_load_tables(void)
{
	char sz[16];
	if (n_overloads)
		printf("overload (1 peer; capacity = best saturated window per wall second; Mpps "
		       "per wall second)\n"
		       "%-8s %5s %8s %6s %8s %9s %9s %8s\n",
		       "path", "size", "capacity", "load", "offered", "refused", "forwarded",
		       "of peak");
	for (unsigned i = 0; i < n_overloads; i++)
		for (unsigned x = 0; x < FACTORS; x++) {
			const struct overload *o = &overloads[i];
			printf("%-8s %5s %8.3f %5.0fx %8.3f %9lu %9.3f %7.1f%%\n", dir_name(o->dir),
			       size_str(o->size, sz, sizeof(sz)), o->capacity_mpps, factors[x],
			       o->offered_mpps[x], (unsigned long)o->refused[x],
			       o->forwarded_mpps[x], 100 * o->forwarded_mpps[x] / o->peak_mpps);
		}
	if (n_latencies)
		printf("latency (1 peer, enqueue to TX ring, us)\n%-8s %5s %-9s %5s %8s %8s %8s "
		       "%9s\n",
		       "path", "size", "idle", "load", "p50", "p99", "max", "samples");
	for (unsigned i = 0; i < n_latencies; i++)
		for (int mode = 0; mode < 2; mode++)
			for (unsigned x = 0; x < LOADS; x++) {
				const struct latency *l = &latencies[i];
				printf("%-8s %5s %-9s %4.0f%% %8.2f %8.2f %8.1f %9lu\n",
				       dir_name(l->dir), size_str(l->size, sz, sizeof(sz)),
				       mode ? "backoff" : "busy-poll", loads[x] * 100,
				       l->p50_us[mode][x], l->p99_us[mode][x], l->max_us[mode][x],
				       (unsigned long)l->samples[mode][x]);
			}
}
