// SPDX-License-Identifier: GPL-2.0-only
/*
 * The exit NAT per worker core (issue 13), in one run:
 *  - decrypt + NAT against plain decrypt, at 64 and 1420 bytes: bursts of 32 transport messages
 *    opened with the worker's crypto context, then (the NAT pass) each inner packet translated
 *    by mg_nat_translate_out over 1,024 live flows. Opening random bytes fails the tag, which
 *    costs the same as a good one: the AEAD computes everything before it compares.
 *  - the flow table at 1,000,000 flows: DPDK memory it holds, the insert rate (first packet of
 *    each flow: a new mapping), the lookup rate (later packets of live flows, random order, out
 *    and in).
 *
 *   dataplane_bench_nat [--quick] [--flows N]
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

static void decrypt_vs_nat(unsigned rounds)
{
	int err = 0;
	struct mg_crypto *cr = mg_crypto_create(MG_CRYPTO_ISA_AUTO, &err);
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
		double rate[2];
		for (unsigned with_nat = 0; with_nat < 2; with_nat++) {
			uint64_t pkt = 0;
			double t0 = now_s();
			for (unsigned r = 0; r < rounds; r++) {
				for (unsigned j = 0; j < BURST; j++) {
					uint8_t *m = buf + j * 2048;
					jobs[j] = (struct mg_crypto_job){key, r * BURST + j, m, m,
					                                 len, m + len};
				}
				mg_crypto_open_burst(cr, jobs, st, BURST);
				if (with_nat) {
					enum mg_drop_reason why;
					for (unsigned j = 0; j < BURST; j++) {
						unsigned f = (unsigned)(pkt + j) % LIVE;
						/* a fresh copy of the headers (counted against the
						 * NAT): the original keeps the internal source */
						uint8_t *p = buf + j * 2048;
						memcpy(p, pkts + f * 64, 28);
						if (mg_nat_translate_out(nat, 0, p, &l3[f], 0, &c,
						                         &why) != 0)
							exit(1);
					}
				}
				pkt += BURST;
			}
			rate[with_nat] = (double)pkt / (now_s() - t0);
		}
		printf("  %4u B: decrypt %.2f Mpps, decrypt + NAT %.2f Mpps: %.1f %%\n", len,
		       rate[0] / 1e6, rate[1] / 1e6, 100.0 * rate[1] / rate[0]);
		free(buf);
		free(pkts);
	}
	mg_nat_free(nat);
	mg_crypto_destroy(cr);
}

static void table(uint32_t n)
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
	for (uint32_t i = 0; i < n; i++) {
		uint8_t *p = pkts + (size_t)i * 32;
		mg_pkt_parse_ip(p, 28, &l3);
		if (mg_nat_translate_out(nat, 0, p, &l3, 0, &c, &why) != 0) {
			fprintf(stderr, "insert %u failed: %s\n", i, mg_drop_reason_name(why));
			exit(1);
		}
	}
	double ins = (double)n / (now_s() - t0);
	/* Lookups: the same flows again in a scattered order (translated packets rebuilt). */
	for (uint32_t i = 0; i < n; i++)
		udp_packet(pkts + (size_t)i * 32, 28, i);
	uint32_t step = 2654435761u % n | 1;
	t0 = now_s();
	for (uint32_t k = 0, i = 0; k < n; k++, i = (i + step) % n) {
		uint8_t *p = pkts + (size_t)i * 32;
		mg_pkt_parse_ip(p, 28, &l3);
		mg_nat_translate_out(nat, 0, p, &l3, 0, &c, &why);
	}
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
	printf("flow table, %u flows: %.1f MiB of DPDK memory (%.0f B a flow), insert %.2f M/s, "
	       "lookup out %.2f M/s, in %.2f M/s\n",
	       n, (double)(after - before) / 1048576.0, (double)(after - before) / n, ins / 1e6,
	       out / 1e6, in / 1e6);
	free(pkts);
	mg_nat_free(nat);
}

int main(int argc, char **argv)
{
	bool quick = false;
	uint32_t flows = 1000000;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--quick") == 0)
			quick = true;
		else if (strcmp(argv[i], "--flows") == 0 && i + 1 < argc)
			flows = (uint32_t)strtoul(argv[++i], NULL, 10);
	}
	if (quick)
		flows = 100000;
	if (eal_test_init(argv[0], 1, quick ? 256 : 1024) != 0)
		return 1;
	decrypt_vs_nat(quick ? 20000 : 200000);
	table(flows);
	eal_test_cleanup();
	return 0;
}
