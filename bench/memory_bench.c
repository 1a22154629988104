// SPDX-License-Identifier: GPL-2.0-only
/*
 * memory_bench: what peers and allowed-IP prefixes cost the gateway in memory (issue #6), at a
 * given scale (default 10,000 peers, 1,000,000 prefixes). The DPDK tables never grow after
 * create, so memory is a matter of capacity: the figures are the DPDK heap (rte_malloc socket
 * stats) and libc heap (mallinfo2) taken by real objects created as the gateway creates them,
 * not sizeof sums, except where noted.
 *
 * Workload: peer p gets the host addresses 100.64.0.0 + p + 1 /32 and fd7a:115c:a1e0::p+1 /128,
 * then IPv4 /24 routes (a pool starting at 16.0.0.0, none needs a tbl8 group) and IPv6 /64
 * routes, alternating, until the prefix count is reached. IPv6 layout "site" (default): the
 * /64s sit in the peer's /48, fd5c:p::/48 + k; "spread" (gen_peers and the netns scale test):
 * fd5c:p:k::/64, each /64 in a /48 of its own, which takes 2.5x the tbl8 groups. The tbl8 groups
 * the table needs are counted from the prefixes (one per distinct /24 for IPv4; one per distinct
 * (24 + 8k)-bit prefix on each IPv6 route's path), the table is created with exactly that many,
 * and every insert must succeed, which checks the count.
 *
 * Output: JSON on stdout ({"bench": "memory", "figures": [...]}), a human summary on stderr.
 *   memory_bench [--peers N] [--prefixes N] [--v6-layout site|spread] [--workers N]
 */
#include <errno.h>
#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_jhash.h>
#include <rte_lcore.h>
#include <rte_malloc.h>

#include "allowedips.h"
#include "counters.h"
#include "eal_test_env.h"
#include "index_table.h"
#include "noise.h"
#include "peer.h"

#define MIB        (1024.0 * 1024.0)
#define V4_POOL    0x10000000u /* 16.0.0.0: the /24 routes */
#define MAX_FIGS   48
#define EAL_MEM_MB 4096 /* --no-huge: only what is touched becomes resident */

struct options {
	unsigned long peers, prefixes;
	bool spread;
	unsigned workers;
};

struct prefix {
	uint32_t peer;
	uint8_t v6, len;
	uint8_t addr[16];
};

struct figure {
	const char *name, *unit;
	double value;
};

static struct figure figs[MAX_FIGS];
static unsigned n_figs;

static void fig(const char *name, double value, const char *unit)
{
	if (n_figs < MAX_FIGS)
		figs[n_figs++] = (struct figure){name, unit, value};
}

static size_t dpdk_heap(void)
{
	size_t total = 0;
	for (unsigned i = 0; i < rte_socket_count(); i++) {
		struct rte_malloc_socket_stats s;
		if (rte_malloc_get_socket_stats(rte_socket_id_by_idx(i), &s) == 0)
			total += s.heap_allocsz_bytes;
	}
	return total;
}

static size_t libc_heap(void)
{
	struct mallinfo2 mi = mallinfo2();
	return mi.uordblks + mi.hblkhd;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- the workload ---- */

static void put_be16(uint8_t *p, unsigned v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	put_be16(p, v >> 16);
	put_be16(p + 2, v & 0xffff);
}

/* Prefix k (0-based) of peer p; *v4_route counts the IPv4 routes handed out so far. */
static void make_prefix(const struct options *o, uint32_t p, unsigned k, uint32_t *v4_route,
                        struct prefix *out)
{
	memset(out, 0, sizeof(*out));
	out->peer = p;
	if (k == 0) {
		out->len = 32;
		put_be32(out->addr, 0x64400000u + p + 1); /* 100.64.0.0 + p + 1 */
	} else if (k == 1) {
		out->v6 = 1;
		out->len = 128;
		put_be16(out->addr, 0xfd7a);
		put_be16(out->addr + 2, 0x115c);
		put_be16(out->addr + 4, 0xa1e0);
		put_be32(out->addr + 12, p + 1);
	} else if (k % 2 == 0) {
		out->len = 24;
		put_be32(out->addr, V4_POOL + (*v4_route)++ * 256);
	} else {
		unsigned r = (k - 3) / 2; /* this peer's IPv6 route number */
		out->v6 = 1;
		out->len = 64;
		put_be16(out->addr, 0xfd5c);
		put_be16(out->addr + 2, p & 0xffff);
		put_be16(out->addr + 4, p >> 16);
		if (o->spread)
			put_be16(out->addr + 4, r);
		else
			put_be16(out->addr + 6, r);
	}
}

static struct prefix *make_workload(const struct options *o, uint32_t *n_v4, uint32_t *n_v6)
{
	struct prefix *w = calloc(o->prefixes, sizeof(*w));
	uint32_t v4_route = 0;
	unsigned long per_peer = o->prefixes / o->peers, extra = o->prefixes % o->peers, i = 0;

	if (!w)
		return NULL;
	*n_v4 = *n_v6 = 0;
	for (uint32_t p = 0; p < o->peers; p++) {
		unsigned long mine = per_peer + (p < extra);
		for (unsigned k = 0; k < mine; k++, i++) {
			make_prefix(o, p, k, &v4_route, &w[i]);
			(*(w[i].v6 ? n_v6 : n_v4))++;
		}
	}
	return w;
}

/* ---- tbl8 groups the workload needs ---- */

struct group_id {
	uint8_t level;
	uint8_t bytes[16];
};

static int group_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct group_id));
}

/* Distinct entries of a sorted array. */
static uint32_t distinct(struct group_id *ids, size_t n)
{
	uint32_t count = 0;
	qsort(ids, n, sizeof(*ids), group_cmp);
	for (size_t i = 0; i < n; i++)
		if (i == 0 || group_cmp(&ids[i - 1], &ids[i]) != 0)
			count++;
	return count;
}

/* rte_lpm: one group per /24 holding a prefix longer than /24. rte_lpm6: one group per
 * distinct (24 + 8k)-bit prefix on the path of each route longer than /24 (/128 hosts live in
 * the hash, not in rte_lpm6). */
static int count_groups(const struct prefix *w, size_t n, uint32_t *g4, uint32_t *g6)
{
	size_t cap = 1024, used4 = 0, used6 = 0;
	struct group_id *ids4 = malloc(cap * sizeof(*ids4)), *ids6 = NULL;
	size_t cap6 = 1024;

	ids6 = malloc(cap6 * sizeof(*ids6));
	if (!ids4 || !ids6)
		goto nomem;
	for (size_t i = 0; i < n; i++) {
		const struct prefix *p = &w[i];
		if (!p->v6 && p->len > 24) {
			if (used4 == cap) {
				struct group_id *g = realloc(ids4, 2 * cap * sizeof(*g));
				if (!g)
					goto nomem;
				ids4 = g;
				cap *= 2;
			}
			memset(&ids4[used4], 0, sizeof(ids4[0]));
			memcpy(ids4[used4++].bytes, p->addr, 3);
		} else if (p->v6 && p->len > 24 && p->len < 128) {
			unsigned levels = (p->len - 24 + 7) / 8;
			for (unsigned k = 1; k <= levels; k++) {
				if (used6 == cap6) {
					struct group_id *g = realloc(ids6, 2 * cap6 * sizeof(*g));
					if (!g)
						goto nomem;
					ids6 = g;
					cap6 *= 2;
				}
				struct group_id *id = &ids6[used6++];
				memset(id, 0, sizeof(*id));
				id->level = (uint8_t)k;
				memcpy(id->bytes, p->addr, 3 + (k - 1));
			}
		}
	}
	*g4 = distinct(ids4, used4);
	*g6 = distinct(ids6, used6);
	free(ids4);
	free(ids6);
	return 0;
nomem:
	free(ids4);
	free(ids6);
	return -ENOMEM;
}

/* ---- measurements ---- */

/* DPDK + libc bytes an allowed-IPs table of this shape takes when created (empty). */
static int table_bytes(uint32_t max_v4, uint32_t max_v6, uint32_t g4, uint32_t g6, size_t *out)
{
	const struct mg_allowedips_options opt = {
	    .socket_id = SOCKET_ID_ANY, .v4_tbl8s = g4, .v6_tbl8s = g6};
	size_t d0 = dpdk_heap(), l0 = libc_heap();
	struct mg_allowedips *t = mg_allowedips_create(max_v4, max_v6, &opt);
	if (!t) {
		fprintf(stderr, "allowed IPs (%u/%u prefixes, %u/%u groups): %s\n", max_v4, max_v6,
		        g4, g6, rte_strerror(rte_errno));
		return -1;
	}
	*out = (dpdk_heap() - d0) + (libc_heap() - l0);
	mg_allowedips_free(t);
	return 0;
}

static int measure_components(void)
{
	size_t fixed, cap, grp4, grp6, def, test;
	const uint32_t c = 1u << 18, g = 16384;

	if (table_bytes(1, 1, 16, 16, &fixed) || table_bytes(c, c, 16, 16, &cap) ||
	    table_bytes(1, 1, 16 + g, 16, &grp4) || table_bytes(1, 1, 16, 16 + g, &grp6) ||
	    table_bytes(1u << 20, 1u << 20, 0, 0, &def) || table_bytes(4096, 4096, 0, 0, &test))
		return -1;
	fig("table_fixed_mib", (double)fixed / MIB, "MiB");
	fig("per_prefix_capacity_bytes", (double)(cap - fixed) / (2.0 * c), "B");
	fig("per_v4_tbl8_group_bytes", (double)(grp4 - fixed) / g, "B");
	fig("per_v6_tbl8_group_bytes", (double)(grp6 - fixed) / g, "B");
	fig("default_table_1m_prefixes_mib", (double)def / MIB, "MiB");
	fig("default_table_4096_prefixes_mib", (double)test / MIB, "MiB");
	fprintf(stderr,
	        "allowed IPs: fixed %.1f MiB; %.0f B per prefix of capacity (per family); tbl8 "
	        "group %.0f B (IPv4), %.0f B (IPv6, both copies)\n"
	        "  with default groups: max_prefixes 1<<20 -> %.1f MiB, 4096 -> %.1f MiB\n",
	        (double)fixed / MIB, (double)(cap - fixed) / (2.0 * c), (double)(grp4 - fixed) / g,
	        (double)(grp6 - fixed) / g, (double)def / MIB, (double)test / MIB);
	return 0;
}

static struct mg_allowedips_entry *to_batch(const struct prefix *w, unsigned long n)
{
	struct mg_allowedips_entry *b = calloc(n, sizeof(*b));

	for (unsigned long i = 0; b && i < n; i++) {
		b[i].family = w[i].v6 ? AF_INET6 : AF_INET;
		memcpy(b[i].addr, w[i].addr, 16);
		b[i].len = w[i].len;
		b[i].peer = w[i].peer;
	}
	return b;
}

static int load_workload(const struct options *o)
{
	uint32_t n_v4, n_v6, g4, g6, g6_other;
	struct prefix *w = make_workload(o, &n_v4, &n_v6);
	int rc = -1;

	if (!w || count_groups(w, o->prefixes, &g4, &g6) != 0) {
		fprintf(stderr, "workload: out of memory\n");
		free(w);
		return -1;
	}
	/* The other IPv6 layout, counted only: its groups cost the same per group. */
	struct options other = *o;
	other.spread = !o->spread;
	uint32_t o4, o6;
	struct prefix *w2 = make_workload(&other, &o4, &o6);
	if (!w2 || count_groups(w2, o->prefixes, &o4, &g6_other) != 0) {
		free(w);
		free(w2);
		return -1;
	}
	free(w2);

	const struct mg_allowedips_options opt = {.socket_id = SOCKET_ID_ANY,
	                                          .v4_tbl8s = g4 < 16 ? 16 : g4,
	                                          .v6_tbl8s = g6 < 16 ? 16 : g6};
	struct mg_allowedips_entry *batch = to_batch(w, o->prefixes);
	if (!batch) {
		free(w);
		return -1;
	}
	size_t d0 = dpdk_heap(), l0 = libc_heap();
	double t0 = now_s();
	struct mg_allowedips *t = mg_allowedips_create(n_v4, n_v6, &opt);
	if (!t) {
		fprintf(stderr, "allowed IPs for the workload: %s\n", rte_strerror(rte_errno));
		goto out;
	}
	/* As the gateway loads a config or a full map: one batch, one commit. */
	size_t failed = 0;
	int e = mg_allowedips_insert_bulk(t, batch, o->prefixes, &failed);
	if (e != 0) {
		fprintf(stderr, "bulk insert: entry %zu (peer %u, /%u): %s\n", failed,
		        w[failed].peer, w[failed].len, strerror(-e));
		goto out;
	}
	if (mg_allowedips_commit(t) != 0) {
		fprintf(stderr, "commit failed\n");
		goto out;
	}
	double load_s = now_s() - t0;
	/* Every peer's host addresses must find it: the load is real. */
	for (uint32_t p = 0; p < o->peers && o->prefixes / o->peers >= 2; p++) {
		uint32_t v4 = 0x64400000u + p + 1, got4, got6;
		uint8_t a6[16] = {0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0};
		const uint8_t *pa6 = a6;
		put_be32(a6 + 12, p + 1);
		mg_allowedips_lookup4_bulk(t, &v4, &got4, 1);
		mg_allowedips_lookup6_bulk(t, &pa6, &got6, 1);
		if (got4 != p || got6 != p) {
			fprintf(stderr, "lookup of peer %u's addresses: %u / %u\n", p, got4, got6);
			goto out;
		}
	}
	size_t total = (dpdk_heap() - d0) + (libc_heap() - l0);
	/* The same load one prefix at a time, into a fresh table, for comparison. */
	mg_allowedips_free(t);
	t0 = now_s();
	t = mg_allowedips_create(n_v4, n_v6, &opt);
	for (unsigned long i = 0; t && i < o->prefixes; i++)
		if (mg_allowedips_insert(t, batch[i].family, batch[i].addr, batch[i].len,
		                         batch[i].peer) != 0) {
			fprintf(stderr, "insert %lu failed\n", i);
			goto out;
		}
	if (!t || mg_allowedips_commit(t) != 0)
		goto out;
	double single_s = now_s() - t0;
	/* The control thread's own copy of each peer's prefixes (struct mg_peer.allowed_ips). */
	size_t peer_copy = o->prefixes * sizeof(struct mg_prefix);

	fig("workload_v4_prefixes", n_v4, "prefixes");
	fig("workload_v6_prefixes", n_v6, "prefixes");
	fig("workload_v4_tbl8_groups", g4, "groups");
	fig("workload_v6_tbl8_groups", g6, "groups");
	fig(o->spread ? "site_layout_v6_tbl8_groups" : "spread_layout_v6_tbl8_groups", g6_other,
	    "groups");
	fig("allowedips_total_mib", (double)(total + peer_copy) / MIB, "MiB");
	fig("allowedips_per_prefix_bytes", (double)(total + peer_copy) / (double)o->prefixes, "B");
	fig("allowedips_load_seconds", load_s, "s");
	fig("allowedips_load_single_seconds", single_s, "s");
	fprintf(stderr,
	        "workload: %lu peers, %u IPv4 + %u IPv6 prefixes (%s IPv6 layout): %u + %u tbl8 "
	        "groups (the %s layout would need %u IPv6 groups)\n"
	        "  allowed IPs hold %.1f MiB = %.0f B per prefix (tables sized to the load, the "
	        "peers' own prefix lists included); loaded in %.2f s in one batch, %.2f s one "
	        "prefix at a time\n",
	        o->peers, n_v4, n_v6, o->spread ? "spread" : "site", g4, g6,
	        o->spread ? "site" : "spread", g6_other, (double)(total + peer_copy) / MIB,
	        (double)(total + peer_copy) / (double)o->prefixes, load_s, single_s);
	rc = 0;
out:
	mg_allowedips_free(t);
	free(batch);
	free(w);
	return rc;
}

/* Upcalls the gateway's peers need: none here but a fixed clock. */
static uint64_t fixed_now(void *ctx)
{
	(void)ctx;
	return 1;
}

/* Per-peer memory, with real objects created the way gateway/device.c and gateway/control.c do. */
static int measure_peers(const struct options *o)
{
	uint32_t n = (uint32_t)o->peers, max = n;
	struct mg_peer **peers = calloc(n, sizeof(*peers));
	struct wg_index_table *index = NULL;
	struct rte_hash *by_key = NULL;
	struct wg_noise_local local;
	int rc = -1;

	if (!peers)
		return -1;
	size_t d0 = dpdk_heap(), l0 = libc_heap();
	/* Capacity-sized arrays (gateway.c, device.c): slot pointers, per-worker and control
	 * counters, the free-slot stack, the key hash and the session index table. */
	void *slots = rte_zmalloc("bench_slots", max * sizeof(void *), RTE_CACHE_LINE_SIZE);
	void *counters = rte_zmalloc("bench_counters",
	                             (size_t)o->workers * max * sizeof(struct mg_peer_counters),
	                             RTE_CACHE_LINE_SIZE);
	void *ctl_counters = calloc(max, sizeof(struct mg_peer_counters));
	void *free_slots = malloc(max * sizeof(uint32_t));
	struct rte_hash_parameters hp = {
	    .name = "bench_peer_keys",
	    .entries = max < 8 ? 8 : max,
	    .key_len = WG_KEY_LEN,
	    .hash_func = rte_jhash,
	    .socket_id = SOCKET_ID_ANY,
	    .extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	by_key = rte_hash_create(&hp);
	index = wg_index_table_new(max * 4);
	const struct wg_noise_upcalls up = {.now = fixed_now};
	if (!slots || !counters || !ctl_counters || !free_slots || !by_key || !index ||
	    wg_noise_local_init(&local, index, &up) != WG_OK)
		goto out;
	size_t cap_bytes = (dpdk_heap() - d0) + (libc_heap() - l0);

	/* The peers themselves (rte_zmalloc'd struct mg_peer with its Noise state and key). */
	size_t d1 = dpdk_heap(), l1 = libc_heap();
	for (uint32_t p = 0; p < n; p++) {
		uint8_t pub[WG_KEY_LEN] = {9};
		memcpy(pub + 1, &p, sizeof(p));
		peers[p] = rte_zmalloc("mg_peer", sizeof(struct mg_peer), RTE_CACHE_LINE_SIZE);
		if (!peers[p])
			goto out;
		wg_noise_remote_init(&peers[p]->remote, &local, pub, peers[p]);
		rte_hash_add_key_data(by_key, pub, (void *)(uintptr_t)p);
	}
	size_t peer_bytes = (dpdk_heap() - d1) + (libc_heap() - l1);
	/* A live peer holds up to three keypairs (previous, current, next), heap-allocated. */
	size_t kp_bytes = 3 * ((sizeof(struct wg_noise_keypair) + 63) / 64 * 64);

	fig("per_peer_capacity_bytes", (double)cap_bytes / max, "B");
	fig("per_peer_object_bytes", (double)peer_bytes / n, "B");
	fig("per_peer_session_keypairs_bytes", (double)kp_bytes, "B");
	fig("per_peer_total_bytes", (double)(cap_bytes + peer_bytes) / n + (double)kp_bytes, "B");
	fprintf(
	    stderr,
	    "peers: %.0f B per peer of max_peers capacity (%u worker%s) + %.0f B per "
	    "configured peer (struct mg_peer %zu B) + up to %zu B of keypairs per live session\n",
	    (double)cap_bytes / max, o->workers, o->workers == 1 ? "" : "s", (double)peer_bytes / n,
	    sizeof(struct mg_peer), kp_bytes);
	rc = 0;
out:
	for (uint32_t p = 0; p < n && peers[p]; p++) {
		wg_noise_remote_destroy(&peers[p]->remote);
		rte_free(peers[p]);
	}
	free(peers);
	rte_hash_free(by_key);
	wg_index_table_free(index);
	rte_free(slots);
	rte_free(counters);
	free(ctl_counters);
	free(free_slots);
	if (rc)
		fprintf(stderr, "peers: out of memory\n");
	return rc;
}

static int parse_args(int argc, char **argv, struct options *o)
{
	*o = (struct options){.peers = 10000, .prefixes = 1000000, .workers = 1};
	for (int i = 1; i < argc; i += 2) {
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end = NULL;
		if (v && !strcmp(argv[i], "--peers"))
			o->peers = strtoul(v, &end, 10);
		else if (v && !strcmp(argv[i], "--prefixes"))
			o->prefixes = strtoul(v, &end, 10);
		else if (v && !strcmp(argv[i], "--workers"))
			o->workers = (unsigned)strtoul(v, &end, 10);
		else if (v && !strcmp(argv[i], "--v6-layout") &&
		         (!strcmp(v, "site") || !strcmp(v, "spread")))
			o->spread = !strcmp(v, "spread");
		else
			end = NULL, v = NULL;
		if (!v || (end && *end)) {
			fprintf(stderr,
			        "usage: %s [--peers N] [--prefixes N] [--v6-layout site|spread] "
			        "[--workers N]\n",
			        argv[0]);
			return -1;
		}
	}
	if (o->peers == 0 || o->peers > 65535 || o->prefixes < 2 * o->peers ||
	    o->prefixes > (1u << 23) || o->workers == 0 || o->workers > 64 ||
	    o->prefixes / o->peers > 2 * 65536) {
		fprintf(stderr, "need 1..65535 peers, 2 to 131072 prefixes per peer (at most 8M "
		                "in all) and 1..64 workers\n");
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct options o;

	if (parse_args(argc, argv, &o) != 0)
		return 2;
	if (eal_test_init(argv[0], 1, EAL_MEM_MB) != 0)
		return 1;
	int rc = measure_components() || load_workload(&o) || measure_peers(&o);
	if (rc == 0) {
		printf("{\"bench\": \"memory\", \"peers\": %lu, \"prefixes\": %lu, \"v6_layout\": "
		       "\"%s\", \"workers\": %u, \"figures\": [",
		       o.peers, o.prefixes, o.spread ? "spread" : "site", o.workers);
		for (unsigned i = 0; i < n_figs; i++)
			printf("%s{\"name\": \"%s\", \"value\": %.6g, \"unit\": \"%s\"}",
			       i ? ", " : "", figs[i].name, figs[i].value, figs[i].unit);
		printf("]}\n");
	}
	eal_test_cleanup();
	return rc ? 1 : 0;
}
