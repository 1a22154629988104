/* SPDX-License-Identifier: GPL-2.0-only */
/* What the parts of dataplane_bench share: options, results and the crypto ceiling. */
#ifndef MESHGATE_BENCH_DATAPLANE_BENCH_H
#define MESHGATE_BENCH_DATAPLANE_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>
#include <time.h>

#include "counters.h"
#include "crypto_burst.h"

struct rte_mbuf;
struct rte_mempool;
struct rte_ring;

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
	enum mg_crypto_isa isa; /* --isa: intel-ipsec-mb's code path, worker and ceiling alike */
	struct mg_crypto_prefetch prefetch; /* --crypto-prefetch: crypto_burst's plan, likewise */
	char prefetch_name[24];
	bool ab;           /* --prefetch-ab: plan B against the plan above */
	bool ab_prefetchw; /* --prefetchw-ab: instead, read prefetch against PREFETCHW */
	struct mg_crypto_prefetch prefetch_b; /* (dataplane_bench_ab.c) */
	char prefetch_b_name[24];
	bool size_on[N_SIZES], dir_on[2], set_on[2]; /* set_on: 1 peer, many peers */
	bool sizes_given;              /* --sizes: also for testpmd (else --quick: 64 and 1420) */
	bool gen_builtin, gen_testpmd; /* --generator builtin|testpmd|both */
	bool filter;                   /* --filter: dataplane_bench_policy.c's run only */
	bool filter_aa;                /* --filter-aa: the same with no filter on either side */
	unsigned rules;                /* --rules: the filter's rules (default 1,000) */
	const char *acl_method;        /* --acl-method: rte_acl's classify method, NULL: auto */
	double seconds, warmup;
	enum { HUGE_AUTO, HUGE_ON, HUGE_OFF } hugepages; /* --hugepages: the EAL's memory */
	uint32_t peers;
	const char *out, *testpmd; /* testpmd: the dpdk-testpmd to run (PATH is searched) */
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
	double
	    wall_best_mpps; /* forwarded per wall second, best window: the load tests' capacity */
	uint64_t packets, drops;
};

/* What the generator sends in one point. */
struct traffic {
	enum direction dir;
	uint32_t n_peers, stride, cur_peer;
	unsigned size;
	uint64_t pos; /* packets generated */
	/* encrypt: a LAN frame per IMIX position (one when not IMIX), destination patched in */
	uint8_t lan[IMIX_LEN][14 + MTU];
	uint16_t lan_len[IMIX_LEN];
	/* decrypt: per peer, msgs_per_peer mesh frames sealed with counters 0.. */
	uint8_t *frames;
	uint16_t *frame_len;
	uint32_t msgs_per_peer;
	size_t frame_stride;
	uint64_t lap_waits;
	bool alone; /* generator_rate: no worker, nothing to wait for */
	/* decrypt: when set, writes message i of peer p's inner packet (size bytes) instead of the
	 * default (protocol 253 from the peer's prefixes to the LAN host) */
	void (*inner)(uint8_t *ip, unsigned size, uint32_t p, uint32_t i);
};

/* The worker's counters and clocks at one moment of a point. */
struct snap {
	double wall, cpu;
	uint64_t done, busy, total, drops[MG_DROP_REASON_COUNT];
};

extern struct options opt;
extern bool eal_hugepages; /* the EAL runs on 2 MB hugepages (else --no-huge, 4 KB pages) */
extern struct ceiling ceilings[N_CEIL_SIZES];
extern char isa_name[16];

double clock_s(clockid_t id);
/* splitmix64 over ctx (a uint64_t): benchmark keys and indices, nothing secret. */
void bench_rng(void *ctx, void *buf, size_t len);
extern uint64_t rng_state;

/* dataplane_bench_ceiling.c: the raw AEAD rate on the calling lcore (arg: double seconds). */
int ceiling_main(void *arg);
/* One cache line's round trip between the calling lcore and another, idle one, in ns (0 on
 * failure); c2c_ns holds the run's, at its start and its end. */
double c2c_round_trip_ns(unsigned other_lcore);
extern double c2c_ns[2];
double ceiling_of(enum direction dir, unsigned size);        /* best run, Mpps */
double ceiling_median_of(enum direction dir, unsigned size); /* median run, Mpps */
int cmp_double(const void *x, const void *y);

/* dataplane_bench.c: what the overload and latency runs drive. */
extern struct rte_mempool *pool;
void fill_packet(struct traffic *t, struct rte_mbuf *m); /* the next frame; t->pos not moved */
void restart_traffic(struct traffic *t); /* fresh peers, position 0, zeroed worker counters */
int worker_start(void);
int worker_stop(void); /* and drops whatever is left in any ring */
unsigned drain(struct rte_ring *ring);
void drain_all(void);
struct rte_ring *input_ring(enum direction dir);  /* the worker's RX ring */
struct rte_ring *output_ring(enum direction dir); /* the worker's TX ring */
void set_idle_backoff(bool on);
struct mg_stall_log;
void set_stall_log(struct mg_stall_log *log); /* the worker's (NULL: none), set while stopped */
long worker_nivcsw(void); /* the last worker run's involuntary context switches */
int build_encrypt(struct traffic *t);
void snapshot(struct snap *s, enum direction dir);
/* pt's dir, peers and size set: its rates from snaps[0..windows] (best and median window). */
void summarize_point(struct point *pt, const struct snap *snaps, unsigned windows);
/* Configures a port as the bench's ports are (1 RX queue from pool, 2 TX queues), starts it. */
int start_port(uint16_t port_id);
uint16_t set_lan_port(uint16_t port_id); /* the LAN port the worker polls; returns the old one */

/* dataplane_bench.c: what the filter run drives. */
struct mg_gateway;
struct mg_worker_counters;
uint32_t prefix_host(uint32_t peer, unsigned j); /* a host in peer's j-th prefix (host order) */
uint32_t lan_host(void);                         /* the LAN host the decrypt path forwards to */
struct mg_gateway *bench_gateway(void);
const char *worker_isa(void);
const struct mg_worker_counters *worker_counters(void);
int build_decrypt(struct traffic *t); /* seals t's messages (t->inner: the inner packets) */
void free_traffic(struct traffic *t);
unsigned generate(struct traffic *t, struct rte_ring *ring); /* one burst; how many went in */
/* Worker capacity over [a, b]: packets per CPU-second spent on bursts; idle: the rest's share. */
double window_mpps(const struct snap *a, const struct snap *b, double *idle);

/* dataplane_bench_ab.c: --prefetch-ab, one point with the two plans in paired passes. */
struct mg_crypto *worker_crypto(void);
void ab_header(void);
int ab_point(struct traffic *t);

/* dataplane_bench_policy.c: --filter, the decrypt path with and without the packet filter. */
int filter_points(void);

/* dataplane_bench_options.c */
int parse_args(int argc, char **argv);

/* dataplane_bench_testpmd.c: the encrypt path driven by stock dpdk-testpmd (txonly) over memif. */
int testpmd_prepare(void); /* after rte_eal_init: finds testpmd, cleans up on exit and signals */
int testpmd_points(void);
void write_testpmd_json(FILE *f, const struct point *pts, unsigned n);
void print_testpmd_table(const struct point *builtin, unsigned n);

/* dataplane_bench_load.c: offered load at multiples of capacity, and latency (one peer). */
bool load_tests_want(const struct traffic *t);
int load_tests(struct traffic *t, const struct point *saturated);
void write_load_json(FILE *f);
void print_load_tables(void);

/* dataplane_bench_report.c */
double mean_size(unsigned size); /* inner bytes per packet (IMIX: the mix's mean) */
int write_json(const struct point *pts, unsigned n);
void print_table(const struct point *pts, unsigned n);
void print_round_trips(void); /* c2c_ns, one line */

#endif
