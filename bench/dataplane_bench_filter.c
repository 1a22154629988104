// SPDX-License-Identifier: GPL-2.0-only
/*
 * The packet filter on the decrypt path, per worker core (issue 12), in one run: bursts of 32
 * transport messages opened with the worker's crypto context (random bytes fail the tag at the
 * same cost as good ones), then, in the filtered pass, the decrypted burst through the filter
 * as decap runs it (mg_policy_inbound: one rte_acl_classify per family, the flow table for what
 * no rule admits) with 1,000 rules in force. Half the packets open new connections a rule
 * admits, half are replies that only a tracked flow (1,024 of them, opened beforehand the way
 * encap opens them) lets in. Side by side with the same loop without a filter, at 64 and
 * 1420 bytes, in 40 pairs of short passes (the order flipped every pair); the figure is the
 * median of the pairs' ratios. Passes are timed in the thread's CPU time; the share of wall time
 * it got and the machine's idle and steal share over the run are printed with the figures.
 *
 *   dataplane_bench_filter [--quick] [--rules N] [--isa auto|avx512|avx2|avx|sse]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "acl.h"
#include "bench_pairs.h"
#include "bench_rules.h"
#include "crypto_burst.h"
#include "eal_test_env.h"
#include "flow.h"
#include "pkt.h"
#include "policy.h"
#include "worker.h"

#define BURST  32
#define LIVE   1024
#define NS     1000000000ull
#define PASSES BENCH_PAIRS

static double now_s(void)
{
	return bench_clock_s(CLOCK_MONOTONIC);
}

/* The thread's own CPU time: a pass the scheduler preempts is not charged the time it waited. */
static double cpu_s(void)
{
	return bench_clock_s(CLOCK_THREAD_CPUTIME_ID);
}

/* One decrypted burst through the filter as decap runs it, round r of the packet set. */
static void filter_burst(struct mg_worker *w, const struct mg_acl *acl, uint8_t (*pkts)[40],
                         const struct mg_l3 *l3s, unsigned r, uint64_t *passed, uint64_t *refused)
{
	uint8_t *ip[BURST];
	struct mg_l3 l3[BURST];
	bool ok[BURST];
	unsigned at = (r * BURST) % (2 * LIVE);
	for (unsigned j = 0; j < BURST; j++) {
		ip[j] = pkts[at + j];
		l3[j] = l3s[at + j];
	}
	mg_policy_inbound(w, acl, ip, l3, ok, BURST);
	for (unsigned j = 0; j < BURST; j++) {
		*passed += ok[j];
		*refused += !ok[j];
	}
}

/* A TCP header's worth of IPv4 packet (40 bytes) from s:sp to d:dp with flags. */
static void tcp4(uint8_t *p, const uint8_t *s, const uint8_t *d, uint16_t sp, uint16_t dp,
                 uint8_t flags)
{
	memset(p, 0, 40);
	p[0] = 0x45;
	p[3] = 40;
	p[8] = 64;
	p[9] = MG_IPPROTO_TCP;
	memcpy(p + 12, s, 4);
	memcpy(p + 16, d, 4);
	p[20] = (uint8_t)(sp >> 8);
	p[21] = (uint8_t)sp;
	p[22] = (uint8_t)(dp >> 8);
	p[23] = (uint8_t)dp;
	p[32] = 0x50;
	p[33] = flags;
}

/* Node i of the rule set is 100.64.x.y, x.y = i. */
static uint32_t rule_src4(unsigned i)
{
	return 0x64400000u | (i & 0xffffu);
}

int main(int argc, char **argv)
{
	bool quick = false;
	unsigned n_rules = 1000;
	enum mg_crypto_isa isa = MG_CRYPTO_ISA_AUTO;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			quick = true;
		} else if (strcmp(argv[i], "--rules") == 0 && i + 1 < argc) {
			n_rules = (unsigned)strtoul(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--isa") == 0 && i + 1 < argc) {
			if (mg_crypto_isa_parse(argv[++i], &isa) != 0 ||
			    !mg_crypto_isa_supported(isa)) {
				fprintf(stderr,
				        "--isa %s: not an ISA this CPU has (auto, avx512, avx2, "
				        "avx, sse)\n",
				        argv[i]);
				return 2;
			}
		} else {
			fprintf(
			    stderr,
			    "usage: %s [--quick] [--rules N] [--isa auto|avx512|avx2|avx|sse]\n",
			    argv[0]);
			return 2;
		}
	}
	if (n_rules < 1 || n_rules > 60000 || eal_test_init(argv[0], 1, 512) != 0)
		return 1;
	unsigned rounds = quick ? 20000 : 200000;

	int err = 0;
	struct mg_crypto *cr = mg_crypto_create(isa, &err);
	struct mg_prefix *src = calloc(2 * (size_t)n_rules, sizeof(*src));
	double tb = now_s();
	struct mg_acl *acl = bench_rules_build(n_rules, rule_src4, "10.1.0.0/16", src);
	double build_ms = (now_s() - tb) * 1e3;
	char why[160];
	struct mg_flows *flows = mg_flows_create(2, 65536, NULL, why, sizeof(why));
	if (!cr || !acl || !flows)
		return 1;
	/* A CPU whose crypto runs AVX2 or less has no AVX-512 for rte_acl either. */
	enum mg_crypto_isa got = mg_crypto_isa(cr);
	if (got != MG_CRYPTO_ISA_AVX512 &&
	    mg_acl_set_method(acl, got == MG_CRYPTO_ISA_AVX2 ? "avx2" : "sse") != 0)
		return 1;

	/* The worker as decap sees it: only what mg_policy_inbound reads. */
	static struct mg_gateway gw;
	static struct mg_worker w;
	gw.flows = flows;
	w.gw = &gw;
	w.now_ns = 1000 * NS;

	/* LIVE new connections (rule i's source to the LAN on tcp 22) and LIVE replies from the
	 * Internet to connections the LAN opened (tracked first, as encap does). */
	static uint8_t pkts[2 * LIVE][40];
	static struct mg_l3 l3s[2 * LIVE];
	const uint8_t web[4] = {93, 184, 216, 34};
	for (unsigned i = 0; i < LIVE; i++) {
		const uint8_t *s = src[2 * (i % n_rules)].addr;
		const uint8_t lan[4] = {10, 1, (uint8_t)(i >> 8), (uint8_t)(i + 2)};
		tcp4(pkts[2 * i], s, lan, (uint16_t)(40000 + i), 22, 0x02);
		uint8_t out[40];
		struct mg_l3 ol3;
		struct mg_pkt_tuple t;
		tcp4(out, lan, web, (uint16_t)(30000 + i), 443, 0x02);
		mg_pkt_parse_ip(out, 40, &ol3);
		mg_pkt_tuple(out, &ol3, &t);
		mg_flows_track(flows, 0, &t, w.now_ns, &w.counters.flows);
		tcp4(pkts[2 * i + 1], web, lan, 443, (uint16_t)(30000 + i), 0x10);
	}
	for (unsigned i = 0; i < 2 * LIVE; i++)
		mg_pkt_parse_ip(pkts[i], 40, &l3s[i]);

	printf("decrypt + filter (%u rules, %u + %u rte_acl rules, built in %.1f ms, classified by "
	       "%s; %u tracked flows) vs decrypt, one core, crypto %s\n",
	       n_rules, acl->n_rules4, acl->n_rules6, build_ms, mg_acl_method(acl),
	       mg_flows_count(flows), mg_crypto_isa_name(cr));
	static const unsigned sizes[] = {64, 1420};
	static uint8_t key[32] = {1};
	uint8_t *buf = aligned_alloc(64, (size_t)BURST * 2048);
	for (unsigned i = 0; i < BURST * 2048; i++)
		buf[i] = (uint8_t)i;
	static struct mg_crypto_job jobs[BURST];
	static enum mg_crypto_status st[BURST];
	for (unsigned s = 0; s < 2; s++) {
		unsigned len = sizes[s];
		double ratio[PASSES], secs[2] = {0, 0};
		uint64_t pk = 0, passed = 0, refused = 0;
		struct bench_machine c0, c1;
		bench_machine_read(&c0);
		double w0 = now_s();
		for (unsigned pass = 0; pass < PASSES; pass++) {
			double t[2];
			for (unsigned o = 0; o < 2; o++) {
				unsigned filtered = bench_pair_variant(pass, o);
				uint64_t base = ((uint64_t)pass * 2 + o) * rounds;
				double t0 = cpu_s();
				for (unsigned r = 0; r < rounds / PASSES; r++) {
					for (unsigned j = 0; j < BURST; j++) {
						uint8_t *m = buf + j * 2048;
						jobs[j] = (struct mg_crypto_job){
						    key, base + r * BURST + j, m, m, len, m + len};
					}
					mg_crypto_open_burst(cr, jobs, st, BURST);
					if (filtered)
						filter_burst(&w, acl, pkts, l3s, r, &passed,
						             &refused);
				}
				t[filtered] = cpu_s() - t0;
				secs[filtered] += t[filtered];
			}
			ratio[pass] = t[0] / t[1];
			pk += (uint64_t)(rounds / PASSES) * BURST;
		}
		bench_machine_read(&c1);
		double wall = now_s() - w0;
		double plain = (double)pk / secs[0], with = (double)pk / secs[1];
		double med, lo, hi, idle, steal;
		bench_ratio_summary(ratio, PASSES, &med, &lo, &hi);
		bench_machine_share(&c0, &c1, &idle, &steal);
		printf(
		    "  %4u B: decrypt %.2f Mpps, decrypt + filter %.2f Mpps: median of %u paired "
		    "passes %.1f %% (%.1f .. %.1f), overall %.1f %% (passed %lu, refused %lu); "
		    "on CPU %.0f %% of the wall time, machine idle %.0f %%, steal %.0f %%\n",
		    len, plain / 1e6, with / 1e6, PASSES, 100.0 * med, 100.0 * lo, 100.0 * hi,
		    100.0 * with / plain, (unsigned long)passed, (unsigned long)refused,
		    100.0 * (secs[0] + secs[1]) / wall, idle, steal);
		if (refused) {
			fprintf(stderr, "the filter refused packets it should admit\n");
			return 1;
		}
	}
	printf("  replies passed by tracking: %lu\n", (unsigned long)w.counters.flows.replies);

	/* The filter alone, per packet: where its share of the ratio goes. */
	static const char *const kinds[] = {"new connections (rte_acl)", "replies (flow table)",
	                                    "half and half"};
	for (unsigned kind = 0; kind < 3; kind++) {
		uint8_t *ip[BURST];
		struct mg_l3 l3[BURST];
		bool ok[BURST];
		unsigned n = 0;
		double t0 = cpu_s();
		for (unsigned r = 0; r < rounds; r++) {
			unsigned at = (r * BURST) % (2 * LIVE);
			for (unsigned j = 0; j < BURST; j++) {
				unsigned k = kind == 2 ? at + j : 2 * ((at / 2 + j) % LIVE) + kind;
				ip[j] = pkts[k];
				l3[j] = l3s[k];
			}
			mg_policy_inbound(&w, acl, ip, l3, ok, BURST);
			for (unsigned j = 0; j < BURST; j++)
				n += ok[j];
		}
		double ns = (cpu_s() - t0) * 1e9 / ((double)rounds * BURST);
		printf("  filter alone, %s: %.1f ns a packet (%u passed)\n", kinds[kind], ns, n);
	}
	free(buf);
	free(src);
	mg_acl_free(acl);
	mg_flows_free(flows);
	mg_crypto_destroy(cr);
	eal_test_cleanup();
	return 0;
}
