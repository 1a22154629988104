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
 * The worker runs throughout; before each pass the generator publishes the filter or none, as
 * the control thread does (nothing is freed meanwhile, so no grace period is needed). The
 * passes come in pairs with the order flipped every pair (bench_pairs.h); a pass's rate is the
 * worker's decrypted packets per second of its thread's CPU time, with the idle back-off on so
 * that an empty RX ring (the generator preempted) costs the worker almost no CPU time; the
 * figure is the median of the pairs' ratios. The run fails unless every packet sent was forwarded
 * to the LAN port and nothing was dropped.
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

struct filter_result {
	unsigned size;
	double plain_mpps, filtered_mpps, median, lo, hi, cpu_share, idle_pct, steal_pct;
	uint64_t sent, forwarded, replies;
	unsigned pairs; /* of BENCH_PAIRS: those where the worker ran in both passes */
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

/*
 * Keeps the worker's RX ring fed and its LAN TX ring drained for the given time. The RX ring is
 * kept at most half full: when the generator is preempted the worker goes on emptying it into
 * the TX ring, which must have room for all of it (a full TX ring is a counted drop).
 */
static void pump(struct traffic *t, double seconds)
{
	struct rte_ring *in = input_ring(DECRYPT), *out = output_ring(DECRYPT);
	double end = clock_s(CLOCK_MONOTONIC) + seconds;
	while (clock_s(CLOCK_MONOTONIC) < end)
		for (int i = 0; i < 16; i++) {
			for (unsigned n; (n = drain(out));)
				forwarded += n;
			if (rte_ring_count(in) < RING_SIZE / 2)
				sent += generate(t, in);
		}
}

/* Waits (5 s at most) until the worker has forwarded all that was sent. */
static void settle(void)
{
	struct rte_ring *out = output_ring(DECRYPT);
	double end = clock_s(CLOCK_MONOTONIC) + 5;
	while (forwarded < sent && clock_s(CLOCK_MONOTONIC) < end)
		forwarded += drain(out);
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
	double pass_s = opt.quick ? 0.01 : 0.2, ratio[BENCH_PAIRS], cpu = 0, wall = 0;
	double done[2] = {0, 0}, cpu_of[2] = {0, 0};
	struct bench_machine m0, m1;

	res->pairs = 0;
	restart_traffic(t);
	sent = forwarded = 0;
	/* --filter-aa: both sides without a filter, to show the pairing's own bias. */
	struct mg_acl *on = opt.filter_aa ? NULL : acl;
	mg_gateway_publish_acl(gw, on);
	/* Primed: the worker never starts on an empty queue. */
	for (unsigned n = BURST; n && rte_ring_count(input_ring(DECRYPT)) < RING_SIZE / 2;) {
		n = generate(t, input_ring(DECRYPT));
		sent += n;
	}
	/* Idle polls sleep: the worker's CPU time is then (almost) all bursts, whatever share of
	 * the machine the generator gets. */
	set_idle_backoff(true);
	if (worker_start() != 0)
		return -1;
	pump(t, opt.warmup);
	bench_machine_read(&m0);
	for (unsigned pair = 0; pair < BENCH_PAIRS; pair++) {
		double rate[2];
		for (unsigned o = 0; o < 2; o++) {
			unsigned filtered = bench_pair_variant(pair, o);
			struct snap a, b;
			mg_gateway_publish_acl(gw, filtered ? on : NULL);
			snapshot(&a, DECRYPT);
			pump(t, pass_s);
			snapshot(&b, DECRYPT);
			rate[filtered] =
			    b.cpu > a.cpu ? (double)(b.done - a.done) / (b.cpu - a.cpu) : 0;
			done[filtered] += (double)(b.done - a.done);
			cpu_of[filtered] += b.cpu - a.cpu;
			cpu += b.cpu - a.cpu;
			wall += b.wall - a.wall;
		}
		/* A pass the worker got no CPU in has no rate: its pair is left out. */
		if (rate[0] > 0 && rate[1] > 0)
			ratio[res->pairs++] = rate[1] / rate[0];
	}
	bench_machine_read(&m1);
	settle();
	int rc = worker_stop();
	set_idle_backoff(false);
	mg_gateway_publish_acl(gw, NULL);
	res->size = t->size;
	res->sent = sent;
	res->forwarded = forwarded;
	res->replies = worker_counters()->flows.replies;
	res->plain_mpps = cpu_of[0] > 0 ? done[0] / cpu_of[0] / 1e6 : 0;
	res->filtered_mpps = cpu_of[1] > 0 ? done[1] / cpu_of[1] / 1e6 : 0;
	res->cpu_share = wall > 0 ? cpu / wall : 0;
	bench_ratio_summary(ratio, res->pairs, &res->median, &res->lo, &res->hi);
	bench_machine_share(&m0, &m1, &res->idle_pct, &res->steal_pct);
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
	        date, worker_isa(), acl_method_name, opt.rules, BENCH_PAIRS, LIVE);
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
		printf(
		    "  %4u B: decrypt %.3f Mpps, with the filter %.3f Mpps: median of %u/%u paired "
		    "passes %.1f %% (%.1f .. %.1f); %lu sent, %lu forwarded, %lu passed by "
		    "tracking, 0 dropped; worker on CPU %.0f %% of the wall time (asleep when its "
		    "ring is empty), machine idle "
		    "%.0f %%, steal %.0f %%\n",
		    x->size, x->plain_mpps, x->filtered_mpps, x->pairs, BENCH_PAIRS,
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
