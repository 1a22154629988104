// SPDX-License-Identifier: GPL-2.0-only
/* dataplane_bench's command line (usage in dataplane_bench.c and bench/README.md). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dataplane_bench.h"
#include "prefetch.h"

struct options opt;

static int parse_sets(const char *v)
{
	opt.set_on[0] = !strcmp(v, "one") || !strcmp(v, "both");
	opt.set_on[1] = !strcmp(v, "many") || !strcmp(v, "both");
	return opt.set_on[0] || opt.set_on[1] ? 0 : -1;
}

static int parse_paths(const char *v)
{
	opt.dir_on[ENCRYPT] = !strcmp(v, "encrypt") || !strcmp(v, "both");
	opt.dir_on[DECRYPT] = !strcmp(v, "decrypt") || !strcmp(v, "both");
	return opt.dir_on[ENCRYPT] || opt.dir_on[DECRYPT] ? 0 : -1;
}

/* "64,1420,imix": a subset of the standard sizes. */
static int parse_sizes(const char *v)
{
	char buf[128], *save = NULL;
	snprintf(buf, sizeof(buf), "%s", v);
	memset(opt.size_on, 0, sizeof(opt.size_on));
	for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		unsigned want = !strcmp(tok, "imix") ? IMIX : (unsigned)strtoul(tok, NULL, 10), k;
		for (k = 0; k < N_SIZES && bench_sizes[k] != want; k++)
			;
		if (k == N_SIZES || (want == IMIX && strcmp(tok, "imix")))
			return -1;
		opt.size_on[k] = true;
	}
	return 0;
}

/* builtin (the in-process generator), testpmd (stock dpdk-testpmd over memif) or both. */
static int parse_generator(const char *v)
{
	opt.gen_builtin = !strcmp(v, "builtin") || !strcmp(v, "both");
	opt.gen_testpmd = !strcmp(v, "testpmd") || !strcmp(v, "both");
	return opt.gen_builtin || opt.gen_testpmd ? 0 : -1;
}

/* The ISA is forced for the worker and the ceiling alike: the ratio compares one code path. */
static int parse_isa(const char *v)
{
	static const enum mg_crypto_isa all[] = {MG_CRYPTO_ISA_AUTO, MG_CRYPTO_ISA_SSE,
	                                         MG_CRYPTO_ISA_AVX, MG_CRYPTO_ISA_AVX2,
	                                         MG_CRYPTO_ISA_AVX512};
	for (unsigned k = 0; k < sizeof(all) / sizeof(all[0]); k++)
		if (!strcmp(v, mg_crypto_isa_str(all[k]))) {
			opt.isa = all[k];
			return mg_crypto_isa_supported(all[k]) ? 0 : -1;
		}
	return -1;
}

int parse_args(int argc, char **argv)
{
	opt = (struct options){.isa = MG_CRYPTO_ISA_AUTO,
	                       .seconds = 2.0,
	                       .warmup = 0.3,
	                       .peers = 10000,
	                       .out = "bench/out/dataplane.json",
	                       .gen_builtin = true,
	                       .rules = 1000,
	                       .testpmd = "dpdk-testpmd"};
	opt.prefetch = mg_crypto_prefetch_default();
	snprintf(opt.prefetch_name, sizeof(opt.prefetch_name), "default");
	for (unsigned k = 0; k < N_SIZES; k++)
		opt.size_on[k] = true;
	opt.dir_on[ENCRYPT] = opt.dir_on[DECRYPT] = true;
	opt.set_on[0] = opt.set_on[1] = true;
	const char *out_given = NULL;
	for (int i = 1; i < argc; i++) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(argv[i], "--quick")) {
			opt.quick = true;
			opt.seconds = 0.25;
			opt.warmup = 0.05;
			continue;
		}
		if (!strcmp(argv[i], "--prefetchw-ab")) {
			opt.ab = opt.ab_prefetchw = true;
			continue;
		}
		if (!strcmp(argv[i], "--filter") || !strcmp(argv[i], "--filter-aa")) {
			opt.filter = true;
			opt.filter_aa |= !strcmp(argv[i], "--filter-aa");
			continue;
		}
		if (!v)
			goto usage;
		if (!strcmp(argv[i], "--seconds"))
			opt.seconds = atof(v);
		else if (!strcmp(argv[i], "--peers"))
			opt.peers = (uint32_t)strtoul(v, NULL, 10);
		else if (!strcmp(argv[i], "--out"))
			opt.out = out_given = v;
		else if (!strcmp(argv[i], "--peer-sets") && parse_sets(v) == 0)
			;
		else if (!strcmp(argv[i], "--paths") && parse_paths(v) == 0)
			;
		else if (!strcmp(argv[i], "--sizes") && parse_sizes(v) == 0)
			opt.sizes_given = true;
		else if (!strcmp(argv[i], "--generator") && parse_generator(v) == 0)
			;
		else if (!strcmp(argv[i], "--rules"))
			opt.rules = (unsigned)strtoul(v, NULL, 10);
		else if (!strcmp(argv[i], "--acl-method"))
			opt.acl_method = strcmp(v, "auto") ? v : NULL;
		else if (!strcmp(argv[i], "--testpmd"))
			opt.testpmd = v;
		else if (!strcmp(argv[i], "--isa") && parse_isa(v) == 0)
			;
		else if (!strcmp(argv[i], "--hugepages") &&
		         (!strcmp(v, "auto") || !strcmp(v, "on") || !strcmp(v, "off")))
			opt.hugepages = !strcmp(v, "on")    ? HUGE_ON
			                : !strcmp(v, "off") ? HUGE_OFF
			                                    : HUGE_AUTO;
		else if (!strcmp(argv[i], "--crypto-prefetch") &&
		         mg_crypto_prefetch_parse(v, &opt.prefetch) == 0)
			snprintf(opt.prefetch_name, sizeof(opt.prefetch_name), "%s", v);
		else if (!strcmp(argv[i], "--prefetch-ab") &&
		         mg_crypto_prefetch_parse(v, &opt.prefetch_b) == 0) {
			opt.ab = true;
			snprintf(opt.prefetch_b_name, sizeof(opt.prefetch_b_name), "%s", v);
		} else
			goto usage;
		i++;
	}
	if (opt.seconds <= 0 || opt.peers < 2 || opt.peers > MAX_PEERS)
		goto usage;
	if (opt.hugepages == HUGE_ON && opt.gen_testpmd) {
		fprintf(stderr,
		        "--hugepages on: the testpmd points need --no-huge (memif shares the "
		        "EAL's memory through its runtime directory)\n");
		goto usage;
	}
	if (opt.ab && (opt.filter || opt.gen_testpmd))
		goto usage;
	if (opt.ab_prefetchw) {
		if (opt.prefetch_b_name[0]) {
			fprintf(stderr,
			        "--prefetchw-ab and --prefetch-ab: one comparison at a time\n");
			return -1;
		}
		if (!atomic_load(&mg_have_prefetchw)) {
			fprintf(stderr,
			        "--prefetchw-ab: this CPU has no PREFETCHW (CPUID PRFCHW)\n");
			return -1;
		}
		opt.prefetch_b = opt.prefetch;
		snprintf(opt.prefetch_name, sizeof(opt.prefetch_name), "read");
		snprintf(opt.prefetch_b_name, sizeof(opt.prefetch_b_name), "prefetchw");
	}
	if (opt.filter && !out_given)
		opt.out = "bench/out/dataplane_filter.json";
	/* The filter's rule i admits peer i's first prefix: every rule has its peer. */
	if (opt.filter && (opt.rules < 1 || opt.rules > opt.peers || opt.gen_testpmd))
		goto usage;
	return 0;
usage:
	fprintf(
	    stderr,
	    "usage: %s [--quick] [--seconds S (> 0)] [--peers N (2..%d)] [--out FILE]\n"
	    "       [--paths encrypt|decrypt|both] [--sizes 64,128,256,512,1024,1420,imix]\n"
	    "       [--peer-sets one|many|both] [--generator builtin|testpmd|both]\n"
	    "       [--testpmd PATH (default: dpdk-testpmd in PATH)]\n"
	    "       [--isa auto|avx512|avx2|avx|sse (one this CPU has)] [--hugepages auto|on|off]\n"
	    "       [--crypto-prefetch none|AHEAD:LINES[:key]] [--prefetch-ab PLAN | "
	    "--prefetchw-ab]\n"
	    "       [--filter|--filter-aa [--rules N (1..peers, default 1000)]\n"
	    "        [--acl-method auto|avx512x32|avx512x16|avx2|sse|scalar]]\n",
	    argv[0], MAX_PEERS);
	return -1;
}
