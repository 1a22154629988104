// SPDX-License-Identifier: GPL-2.0-only
/*
 * The exit NAT per worker core (issue 13), in one run:
 *  - decrypt + NAT against plain decrypt, at 64 and 1420 bytes: bursts of 32 transport messages
 *    opened with the worker's crypto context, then (the NAT pass) the burst's inner packets
 *    translated over 1,024 live flows by mg_nat_translate_out_burst, as the worker does, and
 *    for comparison one by one by mg_nat_translate_out. The three modes run side by side in
 *    five rounds; the ratio is each round's NAT rate over the same round's decrypt rate, the
 *    median and the range printed. Opening random bytes fails the tag, which costs the same as
 *    a good one: the AEAD computes everything before it compares.
 *  - the flow table at 1,000,000 flows: DPDK memory it holds, the insert rate (first packet of
 *    each flow: a new mapping), the lookup rate (later packets of live flows, random order, out
 *    and in), outbound once one packet at a time and once in bursts of 32.
 *
 *   dataplane_bench_nat [--quick] [--flows N] [--isa auto|avx512|avx2|avx|sse]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_ip.h>
#include <rte_malloc.h>

#include "crypto_burst.h"
#include "eal_test_env.h"
#include "nat.h"
#include "pkt.h"

#define BURST 32
#define LIVE  1024
#define REPS  5

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static size_t heap_used(void)
{
	struct rte_malloc_socket_stats st;
	size_t used = 0;
	for (int s = 0; s < RTE_MAX_NUMA_NODES; s++)
		if (rte_malloc_get_socket_stats(s, &st) == 0)
			used += st.heap_allocsz_bytes;
	return used;
}

static struct mg_nat *make(uint32_t flows)
{
	struct mg_dp_exit_config cfg = {
	    .enabled = true, .uplink = MG_PORT_MESH, .max_flows = flows};
	struct mg_dp_addrs a;
	memset(&a, 0, sizeof(a));
	/* 16 addresses x 64,512 ports: room for a million UDP flows */
	cfg.n_pool4 = 16;
	for (unsigned i = 0; i < 16; i++)
		memcpy(cfg.pool4[i], (uint8_t[]){203, 0, 113, (uint8_t)(16 + i)}, 4);
	char err[160];
	struct mg_nat *nat = mg_nat_create(&cfg, &a, 1, 1420, NULL, err, sizeof(err));
	if (!nat)
		fprintf(stderr, "%s\n", err);
	return nat;
}

/* A UDP packet of len bytes from 100.64.x.y:port to 93.184.216.34:443. */
static void udp_packet(uint8_t *p, unsigned len, uint32_t flow)
{
	memset(p, 0, 28);
	p[0] = 0x45;
	p[2] = (uint8_t)(len >> 8);
	p[3] = (uint8_t)len;
	p[8] = 64;
	p[9] = MG_IPPROTO_UDP;
	memcpy(p + 12,
	       (uint8_t[]){100, (uint8_t)(64 + (flow >> 22)), (uint8_t)(flow >> 14),
	                   (uint8_t)(flow >> 6)},
	       4);
	memcpy(p + 16, (uint8_t[]){93, 184, 216, 34}, 4);
	uint16_t ck = rte_ipv4_cksum((struct rte_ipv4_hdr *)p);
	memcpy(p + 10, &ck, 2);
	if (flow & 1) {
		/* every other flow an ICMP echo: a million flows need more than one protocol's
		 * ports of a 16-address pool */
		p[9] = MG_IPPROTO_ICMP;
		ck = 0;
		memcpy(p + 10, &ck, 2);
		ck = rte_ipv4_cksum((struct rte_ipv4_hdr *)p);
		memcpy(p + 10, &ck, 2);
		p[20] = 8;
		p[24] = (uint8_t)((1024 + (flow & 63)) >> 8);
		p[25] = (uint8_t)(1024 + (flow & 63));
		return;
	}
	p[20] = (uint8_t)((1024 + (flow & 63)) >> 8);
	p[21] = (uint8_t)(1024 + (flow & 63));
	p[23] = 187;
	p[24] = (uint8_t)((len - 20) >> 8);
	p[25] = (uint8_t)(len - 20);
	p[26] = 0x12; /* a checksum to update */
}

/*
 * The NAT over the burst just opened: a fresh copy of each packet's headers (counted against
 * the NAT: the original keeps the internal source), then the translation.
 */
static void nat_pass(struct mg_nat *nat, bool burst, uint8_t *buf, const uint8_t *pkts,
                     const struct mg_l3 *l3, uint64_t pkt, struct mg_worker_counters *c)
{
	uint8_t *ip[BURST];
	struct mg_l3 bl3[BURST];
	int rc[BURST];
	enum mg_drop_reason why[BURST];
	for (unsigned j = 0; j < BURST; j++) {
		unsigned f = (unsigned)(pkt + j) % LIVE;
		ip[j] = buf + j * 2048;
		memcpy(ip[j], pkts + f * 64, 28);
		bl3[j] = l3[f];
	}
	if (burst) {
		mg_nat_translate_out_burst(nat, 0, ip, bl3, BURST, 0, c, rc, why);
	} else {
		for (unsigned j = 0; j < BURST; j++)
			rc[j] = mg_nat_translate_out(nat, 0, ip[j], &bl3[j], 0, c, &why[j]);
	}
	for (unsigned j = 0; j < BURST; j++)
		if (rc[j] != 0)
			exit(1);
}

static void decrypt_vs_nat(unsigned rounds, enum mg_crypto_isa isa)
{
	int err = 0;
	struct mg_crypto *cr = mg_crypto_create(isa, &err);
	struct mg_nat *nat = make(65536);
	static const unsigned sizes[] = {64, 1420};
	static uint8_t key[32] = {1};
	struct mg_worker_counters c;
	memset(&c, 0, sizeof(c));
	if (!cr || !nat)
		exit(1);
	printf("decrypt + NAT vs decrypt, one core, crypto %s, %u live flows\n",
	       mg_crypto_isa_name(cr), LIVE);
	for (unsigned s = 0; s < 2; s++) {
		unsigned len = sizes[s];
		uint8_t *buf = aligned_alloc(64, (size_t)BURST * 2048);
		uint8_t *pkts = aligned_alloc(64, (size_t)LIVE * 64);
		struct mg_crypto_job jobs[BURST];
		enum mg_crypto_status st[BURST];
		struct mg_l3 l3[LIVE];
		for (unsigned i = 0; i < BURST * 2048; i++)
			buf[i] = (uint8_t)i;
		for (unsigned i = 0; i < LIVE; i++) {
			udp_packet(pkts + i * 64, len, i * 977);
			mg_pkt_parse_ip(pkts + i * 64, 64, &l3[i]);
			l3[i].total_len = 28; /* the headers are what the NAT touches */
		}
		/* 0: decrypt alone; 1: + NAT as the worker does it, one bulk lookup per burst
		 * (mg_nat_translate_out_burst); 2: + NAT one packet at a time, for comparison.
		 * Side by side: REPS rounds of all three in turn, so a slow stretch of the shared
		 * machine or a clock change hits one round's three figures, not one mode. */
		double rate[REPS][3], ratio[2][REPS], best[3] = {0};
		uint64_t pkt = 0;
		for (unsigned rep = 0; rep < REPS; rep++) {
			for (unsigned mode = 0; mode < 3; mode++) {
				uint64_t n = 0;
				double t0 = now_s();
				for (unsigned r = 0; r < rounds / REPS; r++) {
					for (unsigned j = 0; j < BURST; j++) {
						uint8_t *m = buf + j * 2048;
						jobs[j] = (struct mg_crypto_job){
						    key, r * BURST + j, m, m, len, m + len};
					}
					mg_crypto_open_burst(cr, jobs, st, BURST);
					if (mode)
						nat_pass(nat, mode == 1, buf, pkts, l3, pkt, &c);
					pkt += BURST;
					n += BURST;
				}
				rate[rep][mode] = (double)n / (now_s() - t0);
				if (rate[rep][mode] > best[mode])
					best[mode] = rate[rep][mode];
			}
			ratio[0][rep] = rate[rep][1] / rate[rep][0];
			ratio[1][rep] = rate[rep][2] / rate[rep][0];
		}
		qsort(ratio[0], REPS, sizeof(double), cmp_double);
		qsort(ratio[1], REPS, sizeof(double), cmp_double);
		printf("  %4u B: decrypt %.2f Mpps, decrypt + NAT %.2f Mpps (best rounds); "
		       "NAT/decrypt per round: median %.1f %% (%.1f-%.1f %%); one packet at a time "
		       "instead of per burst: %.2f Mpps, median %.1f %% (%.1f-%.1f %%)\n",
		       len, best[0] / 1e6, best[1] / 1e6, 100 * ratio[0][REPS / 2],
		       100 * ratio[0][0], 100 * ratio[0][REPS - 1], best[2] / 1e6,
		       100 * ratio[1][REPS / 2], 100 * ratio[1][0], 100 * ratio[1][REPS - 1]);
		free(buf);
		free(pkts);
	}
	mg_nat_free(nat);
	mg_crypto_destroy(cr);
}

/* Translates packets [i0, i0 + n) of the table's flows outbound (k-th in order[k]), one by one
 * or in bursts of 32 as the worker does; exits on a failure when must. */
static void out_pass(struct mg_nat *nat, uint8_t *pkts, uint32_t n, uint32_t step, bool burst,
                     struct mg_worker_counters *c)
{
	uint8_t *ip[BURST];
	struct mg_l3 l3[BURST];
	int rc[BURST];
	enum mg_drop_reason why[BURST];
	unsigned b = 0;
	for (uint32_t k = 0, i = 0; k < n; k++, i = (i + step) % n) {
		ip[b] = pkts + (size_t)i * 32;
		mg_pkt_parse_ip(ip[b], 28, &l3[b]);
		if (!burst) {
			rc[0] = mg_nat_translate_out(nat, 0, ip[0], &l3[0], 0, c, &why[0]);
		} else if (++b == BURST || k + 1 == n) {
			mg_nat_translate_out_burst(nat, 0, ip, l3, b, 0, c, rc, why);
		} else {
			continue;
		}
		for (unsigned j = 0; j < (burst ? b : 1); j++)
			if (rc[j] != 0) {
				fprintf(stderr, "out %u failed: %s\n", i,
				        mg_drop_reason_name(why[j]));
				exit(1);
			}
		b = 0;
	}
}

static void table(uint32_t n, bool burst)
{
	size_t before = heap_used();
	struct mg_nat *nat = make(n + n / 8);
	if (!nat)
		exit(1);
	size_t after = heap_used();
	struct mg_worker_counters c;
	enum mg_drop_reason why;
	memset(&c, 0, sizeof(c));
	uint8_t *pkts = malloc((size_t)n * 32);
	struct mg_l3 l3;
	for (uint32_t i = 0; i < n; i++)
		udp_packet(pkts + (size_t)i * 32, 28, i);
	double t0 = now_s();
	out_pass(nat, pkts, n, 1, burst, &c); /* the first packet of each flow: an insert */
	double ins = (double)n / (now_s() - t0);
	/* Lookups: the same flows again in a scattered order (translated packets rebuilt). */
	for (uint32_t i = 0; i < n; i++)
		udp_packet(pkts + (size_t)i * 32, 28, i);
	uint32_t step = 2654435761u % n | 1;
	t0 = now_s();
	out_pass(nat, pkts, n, step, burst, &c);
	double out = (double)n / (now_s() - t0);
	/* Return traffic: swap to ext -> server, then translate in. */
	t0 = now_s();
	for (uint32_t k = 0, i = 0; k < n; k++, i = (i + step) % n) {
		uint8_t *p = pkts + (size_t)i * 32, a[4];
		memcpy(a, p + 12, 4);
		memcpy(p + 12, p + 16, 4);
		memcpy(p + 16, a, 4);
		if (p[9] == MG_IPPROTO_ICMP) {
			p[20] = 0; /* echo reply, same identifier */
		} else {
			uint8_t sp[2];
			memcpy(sp, p + 20, 2);
			memcpy(p + 20, p + 22, 2);
			memcpy(p + 22, sp, 2);
		}
		mg_pkt_parse_ip(p, 28, &l3);
		if (mg_nat_translate_in(nat, p, &l3, 0, &c, &why) != 1) {
			fprintf(stderr, "lookup in %u missed\n", i);
			exit(1);
		}
	}
	double in = (double)n / (now_s() - t0);
	printf("flow table, %u flows, %s: %.1f MiB of DPDK memory (%.0f B a flow), insert %.2f "
	       "M/s, lookup out %.2f M/s, in %.2f M/s\n",
	       n, burst ? "out in bursts of 32" : "one packet at a time",
	       (double)(after - before) / 1048576.0, (double)(after - before) / n, ins / 1e6,
	       out / 1e6, in / 1e6);
	free(pkts);
	mg_nat_free(nat);
}

int main(int argc, char **argv)
{
	bool quick = false;
	uint32_t flows = 1000000;
	enum mg_crypto_isa isa = MG_CRYPTO_ISA_AUTO;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0) {
			quick = true;
		} else if (strcmp(argv[i], "--flows") == 0 && i + 1 < argc) {
			flows = (uint32_t)strtoul(argv[++i], NULL, 10);
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
			    "usage: %s [--quick] [--flows N] [--isa auto|avx512|avx2|avx|sse]\n",
			    argv[0]);
			return 2;
		}
	}
	if (quick)
		flows = 100000;
	if (eal_test_init(argv[0], 1, quick ? 256 : 1024) != 0)
		return 1;
	decrypt_vs_nat(quick ? 20000 : 200000, isa);
	/* DPDK hands out never-used memory without zeroing it (it is known to be zero), so the
	 * first table would take its page faults inside the timed inserts: one untimed table
	 * first, so both measured ones reuse memory that is already mapped. */
	mg_nat_free(make(flows + flows / 8));
	table(flows, false);
	table(flows, true);
	eal_test_cleanup();
	return 0;
}
