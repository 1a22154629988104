// SPDX-License-Identifier: GPL-2.0-only
/* dataplane_bench's output: bench/out/dataplane.json and the table on stdout. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <rte_vect.h>
#include <rte_version.h>

#include "crypto_burst.h"
#include "dataplane_bench.h"

double mean_size(unsigned size)
{
	if (size != IMIX)
		return size;
	double s = 0;
	for (unsigned k = 0; k < IMIX_LEN; k++)
		s += imix[k];
	return s / IMIX_LEN;
}

static void cpu_model(char *out, size_t size)
{
	char line[512];
	FILE *f = fopen("/proc/cpuinfo", "r");
	snprintf(out, size, "unknown");
	while (f && fgets(line, sizeof(line), f)) {
		char *colon = strchr(line, ':');
		if (strncmp(line, "model name", 10) != 0 || !colon)
			continue;
		colon += 2;
		colon[strcspn(colon, "\n")] = '\0';
		snprintf(out, size, "%s", colon);
		for (char *p = out; *p; p++)
			if (*p == '"' || *p == '\\' || (unsigned char)*p < 0x20)
				*p = ' ';
		break;
	}
	if (f)
		fclose(f);
}

static const char *size_name(unsigned size, char *buf, size_t n)
{
	if (size == IMIX)
		return "imix";
	snprintf(buf, n, "%u", size);
	return buf;
}

int write_json(const struct point *pts, unsigned n)
{
	char cpu[256], sz[16];
	cpu_model(cpu, sizeof(cpu));
	char dir[512];
	snprintf(dir, sizeof(dir), "%s", opt.out);
	char *slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		mkdir(dir, 0755); /* bench/out; an existing one is fine */
	}
	FILE *f = fopen(opt.out, "w");
	if (!f) {
		fprintf(stderr, "%s: %s\n", opt.out, strerror(errno));
		return -1;
	}
	fprintf(f,
	        "{\"bench\": \"dataplane\", \"machine\": {\"cpu\": \"%s\", \"cores\": %ld, "
	        "\"isa\": \"%s\", \"crypto_library\": \"intel-ipsec-mb %s\", \"dpdk\": \"%s\", "
	        "\"idle_mode\": \"busy-poll\", \"workers_measured\": 1, \"crypto_prefetch\": "
	        "\"%s\", \"dpdk_max_simd_bits\": %u, \"hugepages\": %s, "
	        "\"line_round_trip_ns\": {\"start\": %.1f, \"end\": %.1f}},\n",
	        cpu, sysconf(_SC_NPROCESSORS_ONLN), isa_name, mg_crypto_library_version(),
	        rte_version(), opt.prefetch_name, (unsigned)rte_vect_get_max_simd_bitwidth(),
	        eal_hugepages ? "true" : "false", c2c_ns[0], c2c_ns[1]);
	fprintf(f,
	        " \"quick\": %s, \"seconds\": %.2f, \"mtu\": %d, \"size_is\": \"inner IP packet "
	        "bytes\", \"rate_is\": \"per CPU-second the worker spent on iterations with "
	        "packets, best window (median_mpps: median window; cpu_mpps: whole run, per "
	        "CPU-second overall); ceiling: best of 3 runs\", \"imix\": "
	        "\"7:4:1 of 64/570/1420\", \"generator\": \"%s\",\n \"ceiling\": [",
	        opt.quick ? "true" : "false", opt.seconds, MTU,
	        !opt.gen_testpmd  ? "builtin"
	        : opt.gen_builtin ? "both"
	                          : "testpmd");
	for (unsigned i = 0; i < N_CEIL_SIZES; i++)
		fprintf(
		    f,
		    "%s\n  {\"size\": %u, \"isa\": \"%s\", \"seal_mpps\": %.4f, "
		    "\"open_mpps\": %.4f, \"seal_median_mpps\": %.4f, \"open_median_mpps\": %.4f}",
		    i ? "," : "", ceilings[i].size, isa_name, ceilings[i].seal_mpps,
		    ceilings[i].open_mpps, ceilings[i].seal_median_mpps,
		    ceilings[i].open_median_mpps);
	fprintf(f, "],\n \"points\": [");
	for (unsigned i = 0; i < n; i++) {
		const struct point *p = &pts[i];
		fprintf(f,
		        "%s\n  {\"direction\": \"%s\", \"isa\": \"%s\", \"peers\": %u, \"size\": "
		        "\"%s\", \"mpps\": "
		        "%.4f, \"median_mpps\": %.4f, \"median_ratio\": %.3f, \"gbps\": %.3f, "
		        "\"cpu_mpps\": %.4f, \"wall_mpps\": %.4f, \"wall_best_mpps\": %.4f, "
		        "\"cpu_share\": %.3f, "
		        "\"ceiling_mpps\": %.4f, \"ratio\": %.3f, \"generator_mpps\": %.3f, "
		        "\"worker_idle\": %.4f, \"packets\": %lu, \"drops\": %lu}",
		        i ? "," : "", p->dir == ENCRYPT ? "encrypt" : "decrypt", isa_name, p->peers,
		        size_name(p->size, sz, sizeof(sz)), p->mpps, p->median_mpps,
		        p->median_ratio, p->gbps, p->raw_mpps, p->wall_mpps, p->wall_best_mpps,
		        p->cpu_share, p->ceiling_mpps, p->ratio, p->gen_mpps, p->idle_frac,
		        (unsigned long)p->packets, (unsigned long)p->drops);
	}
	fprintf(f, "\n ],\n");
	write_testpmd_json(f, pts, n);
	write_load_json(f);
	fprintf(f, "}\n");
	return fclose(f) == 0 ? 0 : -1;
}

void print_round_trips(void)
{
	printf("a cache line's round trip between the generator's core and the worker's: %.0f ns "
	       "at the start, %.0f ns at the end\n",
	       c2c_ns[0], c2c_ns[1]);
}

void print_table(const struct point *pts, unsigned n)
{
	char cpu[256], sz[16];
	cpu_model(cpu, sizeof(cpu));
	printf("meshgate data plane, one worker core: %s, %s, intel-ipsec-mb %s, %s (SIMD %u "
	       "bits, %s), busy poll, crypto prefetch %s\n",
	       cpu, isa_name, mg_crypto_library_version(), rte_version(),
	       (unsigned)rte_vect_get_max_simd_bitwidth(),
	       eal_hugepages ? "2 MB hugepages" : "4 KB pages", opt.prefetch_name);
	print_round_trips();
	printf("%-8s %6s %5s %8s %8s %9s %6s %8s %6s %6s\n", "path", "peers", "size", "Mpps",
	       "Gbit/s", "ceil Mpps", "ratio", "gen Mpps", "idle", "drops");
	for (unsigned i = 0; i < n; i++) {
		const struct point *p = &pts[i];
		printf("%-8s %6u %5s %8.3f %8.2f %9.3f %5.0f%% %8.2f %5.1f%% %6lu\n",
		       p->dir == ENCRYPT ? "encrypt" : "decrypt", p->peers,
		       size_name(p->size, sz, sizeof(sz)), p->mpps, p->gbps, p->ceiling_mpps,
		       p->ratio * 100, p->gen_mpps, p->idle_frac * 100, (unsigned long)p->drops);
	}
	print_load_tables();
	print_testpmd_table(pts, n);
	/* 10,000 peers against 1, per direction and size. */
	for (unsigned i = 0; i < n; i++)
		for (unsigned j = 0; j < n; j++)
			if (pts[i].peers == 1 && pts[j].peers > 1 && pts[i].dir == pts[j].dir &&
			    pts[i].size == pts[j].size && pts[i].mpps > 0)
				printf("%s %s: %u peers at %.0f%% of 1 peer\n",
				       pts[i].dir == ENCRYPT ? "encrypt" : "decrypt",
				       size_name(pts[i].size, sz, sizeof(sz)), pts[j].peers,
				       100 * pts[j].mpps / pts[i].mpps);
}
