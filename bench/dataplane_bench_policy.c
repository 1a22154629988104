// SPDX-License-Identifier: GPL-2.0-only
/*
 * dataplane_bench --filter (issue 12): the worker's decrypt path (mesh port burst, index lookup,
 * open, replay window, allowed IPs, the filter, neighbour lookup, TX to the LAN port) with a
 * filter of N rules (default 1,000) and flow tracking in force, against the same path with no
 * filter, side by side in one run, at 64 and 1420 bytes.
 *
 * Rules as the coordinator compiles a policy over N source nodes: rule i admits a host of peer
 * i's first prefix (/32) and a /128 of its own to the LAN (192.168.1.0/24, fd10:1::/48) on tcp
 * 22, 443 and 8000-8100. One peer sends (every peer is in the gateway). Half of its messages are
 * TCP SYNs to the LAN host's port 22 (rule 0 admits them), half are replies from port 443 to one
 * of LIVE connections the LAN host opened (tracked beforehand as encap tracks them; no rule
 * admits them, only the flow table does).
 *
 * The worker runs throughout, with the idle back-off on (it sleeps between passes, never inside
 * one: a pass has no idle gap as long as the back-off's 256 empty polls). A pass
 * publishes the filter or none, as the control thread does (nothing is freed meanwhile, so no
 * grace period is needed), and hands the worker an untimed warm-up batch, then the timed batch,
 * each in one enqueue (pass()): the timed batch's cost is the lower of the worker's thread CPU
 * time and its busy TSC cycles over it. The passes come in pairs with the order flipped every
 * pair (ABBA, bench_pairs.h); the figure is the median of the pairs' ratios. The run fails
 * unless every packet sent was forwarded to the LAN port and nothing was dropped.
 *
 * Why batches: with a generator that feeds the ring while the worker runs, the worker's rate
 * followed the generator's share of a loaded machine (partial bursts, empty polls counted as
 * CPU time), and the control with no filter on either side came out 94.8-102.4 %. With whole
 * batches the worker always takes full bursts, as at capacity, and the control stays within
 * half a point of 100 %.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <rte_cycles.h>
#include <rte_ip.h>
#include <rte_ring.h>

#include "acl.h"
#include "bench_pairs.h"
#include "bench_rules.h"
#include "dataplane.h"
#include "flow.h"
#include "pkt.h"
#include "worker.h"

#include "dataplane_bench.h"

#define LIVE 1024 /* tracked connections the replies belong to */
/* Packets in a timed batch (64 bursts of 32) and in the untimed one before it. */
#define BATCH 2048
#define WARM  256
/* Pairs of timed batches per size. */
#define FILTER_PAIRS 600

struct filter_result {
	unsigned size;
	double plain_mpps, filtered_mpps, median, lo, hi, cpu_share, idle_pct, steal_pct;
	uint64_t sent, forwarded, replies;
	unsigned pairs, asked; /* pairs used (the worker's clock moved in both), pairs run */
};

static uint64_t sent, forwarded;

static void be16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

/* A TCP/IPv4 packet of size bytes (at least 40) from s:sp to d:dp (host order). */
static void tcp4(uint8_t *ip, unsigned size, uint32_t s, uint32_t d, unsigned sp, unsigned dp,
                 uint8_t flags)
{
	memset(ip, 0, size);
	ip[0] = 0x45;
	be16(ip + 2, size);
	ip[8] = 64;
	ip[9] = MG_IPPROTO_TCP;
	uint32_t sb = rte_cpu_to_be_32(s), db = rte_cpu_to_be_32(d);
	memcpy(ip + 12, &sb, 4);
	memcpy(ip + 16, &db, 4);
	((struct rte_ipv4_hdr *)ip)->hdr_checksum = rte_ipv4_cksum((struct rte_ipv4_hdr *)ip);
	be16(ip + 20, sp);
	be16(ip + 22, dp);
	ip[32] = 0x50;
	ip[33] = flags;
}

/* Message i of peer p: even ones open a connection to port 22, odd ones answer connection
 * (i / 2) % LIVE that the LAN host opened to the peer's port 443. */
static void filter_inner(uint8_t *ip, unsigned size, uint32_t p, uint32_t i)
{
	unsigned k = (i / 2) % LIVE;
	if (i % 2 == 0)
		tcp4(ip, size, prefix_host(p, 0), lan_host(), 40000 + k, 22, 0x02);
	else
		tcp4(ip, size, prefix_host(p, 0), lan_host(), 443, 30000 + k, 0x10);
}

/* Node i of the rule set is peer i's first inner address. */
static uint32_t rule_src4(unsigned i)
{
	return prefix_host(i, 0);
}

/* The LAN host's LIVE connections to peer 0's port 443, tracked as the control thread's own. */
static void track_flows(struct mg_flows *f)
{
	uint8_t out[40];
	struct mg_l3 l3;
	struct mg_pkt_tuple t;
	struct mg_flow_counters c = {0};
	uint64_t now = (uint64_t)(clock_s(CLOCK_MONOTONIC) * 1e9);
	for (unsigned k = 0; k < LIVE; k++) {
		tcp4(out, sizeof(out), lan_host(), prefix_host(0, 0), 30000 + k, 443, 0x02);
		if (mg_pkt_parse_ip(out, sizeof(out), &l3) == 0 && mg_pkt_tuple(out, &l3, &t) == 0)
			mg_flows_track(f, mg_flows_owners(f) - 1, &t, now, &c);
	}
}

/* Hands n packets to the worker in one enqueue and waits until all are on the LAN ring. */
static int hand_over(struct rte_mbuf **m, unsigned n)
{
	struct rte_ring *in = input_ring(DECRYPT), *out = output_ring(DECRYPT);
	if (rte_ring_sp_enqueue_bulk(in, (void **)m, n, NULL) != n) {
		rte_pktmbuf_free_bulk(m, n);
		return -1;
	}
	sent += n;
	uint64_t give_up = rte_get_tsc_cycles() + 5 * rte_get_tsc_hz();
	while (rte_ring_count(out) < n && rte_get_tsc_cycles() < give_up)
		rte_pause();
	return 0;
}

static unsigned take_out(void)
{
	unsigned got = 0;
	for (unsigned k; (k = drain(output_ring(DECRYPT)));)
		got += k;
	forwarded += got;
	return got;
}

/*
 * One pass of a variant (its filter already published): an untimed warm-up batch, then the
 * timed batch right after it, both made before either is handed over. Each is enqueued in one
 * go, so the worker takes it in full bursts whatever the generator's share of the machine, and
 * it goes from the warm-up to the timed batch without an idle sleep in between, as a worker at
 * capacity runs. Returns the timed batch's cost in worker CPU seconds, 0 when no clock moved,
 * < 0 when a packet went missing.
 */
static double pass(struct traffic *t)
{
	struct rte_mbuf *m[WARM + BATCH];
	struct snap a, b;

	if (rte_pktmbuf_alloc_bulk(pool, m, WARM + BATCH) != 0)
		return -1;
	for (unsigned i = 0; i < WARM + BATCH; i++, t->pos++)
		fill_packet(t, m[i]);
	if (hand_over(m, WARM) != 0) {
		rte_pktmbuf_free_bulk(m + WARM, BATCH);
		return -1;
	}
	snapshot(&a, DECRYPT);
	if (take_out() != WARM) {
		rte_pktmbuf_free_bulk(m + WARM, BATCH);
		return -1;
	}
	if (hand_over(m + WARM, BATCH) != 0)
		return -1;
	snapshot(&b, DECRYPT);
	/* Anything short of the whole batch on the LAN ring: dropped or stuck (check_counters
	 * says which). */
	if (take_out() != BATCH || b.done - a.done != BATCH)
		return -1;
	/* Two clocks, each over the batch's true cost for its own reason: the thread's CPU time
	 * also holds the empty polls until this thread sees the batch done (more when it is
	 * preempted meanwhile), the worker's busy TSC cycles also hold the time it was preempted
	 * in mid-burst. Neither can come out under the cost, so the lower one is the tighter. */
	double cpu = b.cpu - a.cpu, busy = (double)(b.busy - a.busy) / (double)rte_get_tsc_hz();
	return cpu < busy ? cpu : busy;
}

static int check_counters(unsigned size)
{
	const struct mg_worker_counters *c = worker_counters();
	uint64_t drops = 0;
	for (int r = 0; r < MG_DROP_REASON_COUNT; r++) {
		drops += c->drops[r];
		if (c->drops[r])
			fprintf(stderr, "filter %u B: %lu packets dropped as %s\n", size,
			        (unsigned long)c->drops[r],
			        mg_drop_reason_name((enum mg_drop_reason)r));
	}
	if (drops || forwarded != sent || c->decrypted != sent ||
	    c->tx_packets[MG_PORT_LAN] != sent || (c->flows.replies == 0) != opt.filter_aa) {
		fprintf(stderr,
		        "filter %u B: sent %lu, decrypted %lu, forwarded %lu (LAN TX %lu), "
		        "dropped %lu, replies passed by tracking %lu: want all forwarded\n",
		        size, (unsigned long)sent, (unsigned long)c->decrypted,
		        (unsigned long)forwarded, (unsigned long)c->tx_packets[MG_PORT_LAN],
		        (unsigned long)drops, (unsigned long)c->flows.replies);
		return -1;
	}
	return 0;
}

static int run_size(struct traffic *t, struct mg_acl *acl, struct filter_result *res)
{
	struct mg_gateway *gw = bench_gateway();
	unsigned pairs = opt.quick ? 20 : FILTER_PAIRS;
	double *ratio = malloc(pairs * sizeof(*ratio)), *cost[2];
	cost[0] = malloc(pairs * sizeof(double));
	cost[1] = malloc(pairs * sizeof(double));
	double wall0;
	struct bench_machine m0, m1;
	struct snap s0, s1;
	int rc = 0;

	res->pairs = 0;
	if (!ratio || !cost[0] || !cost[1]) {
		rc = -ENOMEM;
		goto out;
	}
	restart_traffic(t);
	sent = forwarded = 0;
	/* --filter-aa: both sides without a filter, to show the pairing's own bias. */
	struct mg_acl *on = opt.filter_aa ? NULL : acl;
	/* Between batches the worker backs off into sleeps, so a generator preempted before it
	 * sees a batch done costs the worker's clock a few hundred empty polls, not its slice. */
	set_idle_backoff(true);
	if (worker_start() != 0) {
		rc = -1;
		goto out;
	}
	/* Both variants' code and data warmed alike before anything is timed. */
	wall0 = clock_s(CLOCK_MONOTONIC);
	for (unsigned k = 0; rc == 0 && clock_s(CLOCK_MONOTONIC) - wall0 < opt.warmup; k++) {
		mg_gateway_publish_acl(gw, k & 1 ? on : NULL);
		rc = pass(t) < 0 ? -1 : 0;
	}
	bench_machine_read(&m0);
	snapshot(&s0, DECRYPT);
	res->asked = pairs;
	for (unsigned pair = 0; pair < pairs && rc == 0; pair++) {
		double c[2];
		for (unsigned o = 0; o < 2 && rc == 0; o++) {
			unsigned filtered = bench_pair_variant(pair, o);
			mg_gateway_publish_acl(gw, filtered ? on : NULL);
			if ((c[filtered] = pass(t)) < 0)
				rc = -1;
		}
		if (rc != 0)
			break;
		/* A batch whose CPU clock did not move has no cost: its pair is left out. */
		if (c[0] > 0 && c[1] > 0) {
			cost[0][res->pairs] = c[0];
			cost[1][res->pairs] = c[1];
			ratio[res->pairs++] =
			    c[0] / c[1]; /* rate with the filter to rate without */
		}
	}
	snapshot(&s1, DECRYPT);
	bench_machine_read(&m1);
	int stop = worker_stop();
	set_idle_backoff(false);
	mg_gateway_publish_acl(gw, NULL);
	rc = rc ? rc : stop;
	res->size = t->size;
	res->sent = sent;
	res->forwarded = forwarded;
	res->replies = worker_counters()->flows.replies;
	double lo, hi, med[2] = {0, 0};
	for (unsigned v = 0; v < 2; v++)
		bench_ratio_summary(cost[v], res->pairs, &med[v], &lo, &hi);
	res->plain_mpps = med[0] > 0 ? BATCH / med[0] / 1e6 : 0;
	res->filtered_mpps = med[1] > 0 ? BATCH / med[1] / 1e6 : 0;
	res->cpu_share = s1.wall > s0.wall ? (s1.cpu - s0.cpu) / (s1.wall - s0.wall) : 0;
	bench_ratio_summary(ratio, res->pairs, &res->median, &res->lo, &res->hi);
	bench_machine_share(&m0, &m1, &res->idle_pct, &res->steal_pct);
out:
	free(ratio);
	free(cost[0]);
	free(cost[1]);
	return rc ? rc : check_counters(t->size);
}

static int write_filter_json(const struct filter_result *r, unsigned n, const char *acl_method_name)
{
	char dir[512];
	snprintf(dir, sizeof(dir), "%s", opt.out);
	char *slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		mkdir(dir, 0755); /* an existing one is fine */
	}
	FILE *f = fopen(opt.out, "w");
	if (!f) {
		fprintf(stderr, "%s: %s\n", opt.out, strerror(errno));
		return -1;
	}
	char date[32];
	time_t now = time(NULL);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	fprintf(f,
	        "{\"bench\": \"dataplane_filter\", \"date\": \"%s\", \"isa\": \"%s\", "
	        "\"acl_method\": \"%s\", \"rules\": %u, \"pairs\": %u, "
	        "\"traffic\": \"one peer; half TCP SYNs a rule admits, half replies to %u "
	        "tracked flows\",\n \"figures\": [",
	        date, worker_isa(), acl_method_name, opt.rules, r[0].asked, LIVE);
	for (unsigned i = 0; i < n; i++) {
		const struct filter_result *x = &r[i];
		fprintf(
		    f,
		    "%s\n  {\"name\": \"decrypt_%u_mpps\", \"value\": %.4f, \"unit\": \"Mpps\"},\n"
		    "  {\"name\": \"decrypt_filter_%u_mpps\", \"value\": %.4f, \"unit\": "
		    "\"Mpps\"},\n"
		    "  {\"name\": \"filter_kept_%u\", \"value\": %.4f, \"unit\": \"ratio\"},\n"
		    "  {\"name\": \"filter_kept_%u_min\", \"value\": %.4f, \"unit\": \"ratio\"},\n"
		    "  {\"name\": \"filter_kept_%u_max\", \"value\": %.4f, \"unit\": \"ratio\"},\n"
		    "  {\"name\": \"pairs_%u\", \"value\": %u, \"unit\": \"pairs\"},\n"
		    "  {\"name\": \"worker_cpu_share_%u\", \"value\": %.3f, \"unit\": \"ratio\"},\n"
		    "  {\"name\": \"machine_idle_%u\", \"value\": %.1f, \"unit\": \"percent\"},\n"
		    "  {\"name\": \"machine_steal_%u\", \"value\": %.1f, \"unit\": \"percent\"},\n"
		    "  {\"name\": \"forwarded_%u\", \"value\": %lu, \"unit\": \"packets\"},\n"
		    "  {\"name\": \"tracked_replies_%u\", \"value\": %lu, \"unit\": \"packets\"}",
		    i ? "," : "", x->size, x->plain_mpps, x->size, x->filtered_mpps, x->size,
		    x->median, x->size, x->lo, x->size, x->hi, x->size, x->pairs, x->size,
		    x->cpu_share, x->size, x->idle_pct, x->size, x->steal_pct, x->size,
		    (unsigned long)x->forwarded, x->size, (unsigned long)x->replies);
	}
	fprintf(f, "\n]}\n");
	return fclose(f) == 0 ? 0 : -1;
}

int filter_points(void)
{
	static const unsigned sizes[] = {64, 1420};
	static struct traffic t;
	struct filter_result res[2];
	struct mg_gateway *gw = bench_gateway();
	struct mg_prefix *src = calloc(2 * (size_t)opt.rules, sizeof(*src));
	char why[160];
	int rc = 0;

	double t0 = clock_s(CLOCK_MONOTONIC);
	struct mg_acl *acl =
	    src ? bench_rules_build(opt.rules, rule_src4, "192.168.1.0/24", src) : NULL;
	double build_ms = (clock_s(CLOCK_MONOTONIC) - t0) * 1e3;
	/* As the control thread makes it: one owner per worker and one for itself. */
	gw->flows = mg_flows_create(gw->n_workers + 1, 0, NULL, why, sizeof(why));
	if (!acl || !gw->flows) {
		fprintf(stderr, "filter set-up: %s\n", gw->flows ? "rules" : why);
		rc = -1;
		goto out;
	}
	/* A CPU whose crypto runs AVX2 or less has no AVX-512 for rte_acl either. */
	const char *method = opt.acl_method;
	enum mg_crypto_isa isa = opt.isa == MG_CRYPTO_ISA_AUTO ? mg_crypto_best_isa() : opt.isa;
	if (!method &&
	    (isa == MG_CRYPTO_ISA_AVX2 || isa == MG_CRYPTO_ISA_AVX || isa == MG_CRYPTO_ISA_SSE))
		method = isa == MG_CRYPTO_ISA_AVX2 ? "avx2" : "sse";
	if (method && mg_acl_set_method(acl, method) != 0) {
		fprintf(stderr, "--acl-method %s: unknown, or not on this CPU\n", method);
		rc = -1;
		goto out;
	}
	track_flows(gw->flows);
	printf("decrypt path with the filter (%u rules: %u + %u rte_acl rules, built in %.0f ms, "
	       "classified by %s; %u tracked flows) vs without, one worker, one peer of %u, "
	       "crypto %s\n",
	       opt.rules, acl->n_rules4, acl->n_rules6, build_ms, mg_acl_method(acl),
	       mg_flows_count(gw->flows), opt.peers, worker_isa());
	if (opt.filter_aa)
		printf("  control run (--filter-aa): both passes of every pair without a filter\n");
	fflush(stdout);
	for (unsigned s = 0; s < 2 && rc == 0; s++) {
		memset(&t, 0, sizeof(t));
		t.dir = DECRYPT;
		t.n_peers = 1;
		t.stride = 1;
		t.size = sizes[s];
		t.msgs_per_peer = opt.quick ? 12 * 512 : 12 * 8192;
		t.inner = filter_inner;
		rc = build_decrypt(&t);
		if (rc == 0)
			rc = run_size(&t, acl, &res[s]);
		free_traffic(&t);
		if (rc != 0)
			break;
		const struct filter_result *x = &res[s];
		printf("  %4u B: decrypt %.3f Mpps, with the filter %.3f Mpps (median batches): "
		       "median of %u/%u paired batches %.1f %% (%.1f .. %.1f); %lu sent, %lu "
		       "forwarded, %lu passed by tracking, 0 dropped; worker on CPU %.0f %% of the "
		       "wall time (asleep between passes), machine idle %.0f %%, steal %.0f %%\n",
		       x->size, x->plain_mpps, x->filtered_mpps, x->pairs, x->asked,
		       100 * x->median, 100 * x->lo, 100 * x->hi, (unsigned long)x->sent,
		       (unsigned long)x->forwarded, (unsigned long)x->replies, 100 * x->cpu_share,
		       x->idle_pct, x->steal_pct);
	}
	if (rc == 0 && (res[0].pairs == 0 || res[1].pairs == 0)) {
		fprintf(stderr, "filter: the worker never ran in both passes of a pair\n");
		rc = -1;
	}
	if (rc == 0)
		rc = write_filter_json(res, 2, mg_acl_method(acl));
	if (rc == 0)
		printf("wrote %s\n", opt.out);
out:
	mg_acl_free(acl);
	mg_flows_free(gw->flows);
	gw->flows = NULL;
	free(src);
	return rc;
}
