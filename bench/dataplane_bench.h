/* SPDX-License-Identifier: GPL-2.0-only */
/* What the parts of dataplane_bench share: options, results and the crypto ceiling. */
#ifndef MESHGATE_BENCH_DATAPLANE_BENCH_H
#define MESHGATE_BENCH_DATAPLANE_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define LISTEN       51820
#define MTU          1420
#define BURST        32
#define RING_SIZE    4096
#define PREFIXES     10 /* allowed-IPs prefixes per peer */
#define LAPS         4  /* receive keypairs per peer, used in rotation */
#define MAX_PEERS    100000
#define IMIX         0 /* the size code for the mix */
#define IMIX_LEN     12
#define MAX_FRAME    (14 + 28 + 16 + MTU + 16)
#define CEIL_BURST   32
#define N_SIZES      7
#define N_CEIL_SIZES 7
#define MAX_WINDOWS  8
#define CEIL_RUNS    3

extern const unsigned bench_sizes[N_SIZES];
extern const unsigned ceil_sizes[N_CEIL_SIZES];
extern const uint16_t imix[IMIX_LEN];

enum direction { ENCRYPT, DECRYPT };

struct options {
	bool quick;
	bool size_on[N_SIZES], dir_on[2], set_on[2]; /* set_on: 1 peer, many peers */
	double seconds, warmup;
	uint32_t peers;
	const char *out;
};

struct ceiling {
	unsigned size;
	double seal_mpps, open_mpps;               /* best of CEIL_RUNS */
	double seal_median_mpps, open_median_mpps; /* median of them */
};

struct point {
	enum direction dir;
	uint32_t peers;
	unsigned size;
	double mpps, median_mpps, median_ratio, raw_mpps, gbps, wall_mpps, ceiling_mpps, ratio,
	    gen_mpps, idle_frac, cpu_share;
	uint64_t packets, drops;
};

extern struct options opt;
extern struct ceiling ceilings[N_CEIL_SIZES];
extern char isa_name[16];

double clock_s(clockid_t id);
/* splitmix64 over ctx (a uint64_t): benchmark keys and indices, nothing secret. */
void bench_rng(void *ctx, void *buf, size_t len);
extern uint64_t rng_state;

/* dataplane_bench_ceiling.c: the raw AEAD rate on the calling lcore (arg: double seconds). */
int ceiling_main(void *arg);
double ceiling_of(enum direction dir, unsigned size);        /* best run, Mpps */
double ceiling_median_of(enum direction dir, unsigned size); /* median run, Mpps */
int cmp_double(const void *x, const void *y);

/* dataplane_bench_report.c */
double mean_size(unsigned size); /* inner bytes per packet (IMIX: the mix's mean) */
int write_json(const struct point *pts, unsigned n);
void print_table(const struct point *pts, unsigned n);

#endif
