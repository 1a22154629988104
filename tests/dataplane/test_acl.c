// SPDX-License-Identifier: GPL-2.0-only
/*
 * The rte_acl compile of the packet filter against the filter model's plain reference matcher
 * (node/filter.h, mg_filter_match): random rule sets, 100,000 random packets built as real IPv4
 * and IPv6 headers (IPv6 sometimes behind extension headers), every protocol the filter names
 * and some it does not, ports on and around every range edge. Seeded; the seed is printed, and
 * MG_TEST_SEED=<n> replays a run.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rte_cpuflags.h>

#include "acl.h"
#include "check.h"
#include "eal_test_env.h"
#include "filter.h"
#include "flow.h"
#include "pkt.h"

#define PACKETS    100000
#define RULE_SETS  25
#define BURST      32
#define MAX_LISTED 8

static uint64_t rng_state;
static uint32_t rnd(void)
{
	/* splitmix64: any seed, including 0, gives a full-period stream */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return (uint32_t)(z ^ (z >> 31));
}
static uint32_t below(uint32_t n)
{
	return n ? rnd() % n : 0;
}

/* A small pool of base networks so that rules overlap and packets hit them. */
static void random_addr(uint8_t family, uint8_t *a)
{
	memset(a, 0, 16);
	if (family == 4) {
		static const uint8_t bases[][2] = {
		    {100, 64}, {10, 1}, {192, 168}, {255, 255}, {0, 0}};
		const uint8_t *b = bases[below(5)];
		a[0] = b[0];
		a[1] = below(4) ? b[1] : (uint8_t)rnd();
		a[2] = (uint8_t)below(4);
		a[3] = (uint8_t)(below(3) ? below(4) : rnd());
		return;
	}
	static const uint8_t bases[][2] = {{0xfd, 0x7a}, {0x20, 0x01}, {0xff, 0xff}, {0, 0}};
	const uint8_t *b = bases[below(4)];
	a[0] = b[0];
	a[1] = b[1];
	for (unsigned i = 2; i < 16; i++)
		a[i] = below(3) ? (uint8_t)below(3) : (uint8_t)rnd();
}

static void random_prefix(struct mg_prefix *p)
{
	uint8_t family = below(2) ? 4 : 6;
	unsigned max = family == 4 ? 32 : 128;
	unsigned r = below(10);
	memset(p, 0, sizeof(*p));
	p->family = family;
	random_addr(family, p->addr);
	/* host routes, /0, and everything between, with word edges for IPv6 */
	p->len = (uint8_t)(r < 3    ? max
	                   : r == 3 ? 0
	                   : r == 4 ? (family == 4 ? 24 : 32 * below(4))
	                            : below(max + 1));
	for (unsigned b = p->len; b < max; b++)
		p->addr[b / 8] &= (uint8_t) ~(0x80u >> (b % 8));
}

static void random_rule(struct mg_filter_rule *r)
{
	memset(r, 0, sizeof(*r));
	r->n_src = below(5) ? 1 + below(3) : below(2) * MAX_LISTED;
	r->n_dst = 1 + below(3);
	r->src = calloc(r->n_src + 2, sizeof(*r->src));
	r->dst = calloc(r->n_dst, sizeof(*r->dst));
	for (size_t i = 0; i < r->n_src; i++)
		random_prefix(&r->src[i]);
	if (below(6) == 0) { /* "*": both families' /0 */
		mg_prefix_parse("0.0.0.0/0", &r->src[r->n_src++]);
		mg_prefix_parse("::/0", &r->src[r->n_src++]);
	}
	for (size_t i = 0; i < r->n_dst; i++)
		random_prefix(&r->dst[i]);
	r->proto = (enum mg_filter_proto)below(4);
	r->n_ports = r->proto == MG_FILTER_ICMP ? 1 : below(8) ? 1 + below(4) : below(2);
	r->ports = calloc(r->n_ports + 1, sizeof(*r->ports));
	for (size_t i = 0; i < r->n_ports; i++) {
		unsigned k = below(6);
		struct mg_port_range *p = &r->ports[i];
		if (r->proto == MG_FILTER_ICMP || k == 0) {
			p->lo = 0;
			p->hi = 65535;
		} else if (k == 1) {
			p->lo = p->hi = (uint16_t)(below(2) ? 0 : 65535);
		} else if (k == 2) {
			p->lo = p->hi = (uint16_t)(1 + below(1024));
		} else {
			uint16_t a = (uint16_t)rnd(), b = (uint16_t)rnd();
			p->lo = a < b ? a : b;
			p->hi = a < b ? b : a;
		}
	}
}

/* The edges the rule set draws, to aim packets' ports at. */
static uint16_t edges[4096];
static size_t n_edges;

static void collect(const struct mg_filter *f)
{
	n_edges = 0;
	for (size_t i = 0; i < f->n_rules; i++)
		for (size_t j = 0; j < f->rules[i].n_ports && n_edges + 6 <= 4096; j++) {
			const struct mg_port_range *p = &f->rules[i].ports[j];
			edges[n_edges++] = p->lo;
			edges[n_edges++] = p->hi;
			edges[n_edges++] = (uint16_t)(p->lo - 1);
			edges[n_edges++] = (uint16_t)(p->hi + 1);
		}
}

static uint16_t random_port(void)
{
	unsigned k = below(8);
	if (k < 5 && n_edges)
		return edges[below((uint32_t)n_edges)];
	if (k == 5)
		return below(2) ? 0 : 65535;
	return (uint16_t)rnd();
}

/* An address inside one of the rule set's prefixes of that family, or anywhere. */
static void aim(const struct mg_filter *f, bool src, uint8_t family, uint8_t *out)
{
	random_addr(family, out);
	if (!f->n_rules || below(4) == 0)
		return;
	const struct mg_filter_rule *r = &f->rules[below((uint32_t)f->n_rules)];
	const struct mg_prefix *list = src ? r->src : r->dst;
	size_t n = src ? r->n_src : r->n_dst;
	for (size_t tries = 0; tries < n; tries++) {
		const struct mg_prefix *p = &list[below((uint32_t)n)];
		if (p->family != family)
			continue;
		for (unsigned b = 0; b < p->len; b++) {
			uint8_t bit = (uint8_t)(0x80u >> (b % 8));
			out[b / 8] = (uint8_t)((out[b / 8] & ~bit) | (p->addr[b / 8] & bit));
		}
		return;
	}
}

struct gen {
	uint8_t buf[160];
	struct mg_filter_packet ref;
};

/* Builds the packet's bytes and the reference's view of it. */
static void random_packet(const struct mg_filter *f, struct gen *g)
{
	static const uint8_t protos[] = {
	    MG_IPPROTO_TCP, MG_IPPROTO_UDP, MG_IPPROTO_ICMP, MG_IPPROTO_ICMPV6,
	    47 /* GRE */,   132 /* SCTP */, 50 /* ESP */,    255};
	struct mg_filter_packet *p = &g->ref;
	uint8_t *b = g->buf;
	unsigned off;

	memset(g, 0, sizeof(*g));
	p->family = below(2) ? 4 : 6;
	p->proto = below(4) ? protos[below(4)] : protos[below(sizeof(protos))];
	aim(f, true, p->family, p->src);
	aim(f, false, p->family, p->dst);
	p->sport = random_port();
	p->dport = random_port();
	if (p->family == 4) {
		b[0] = 0x45;
		b[8] = 64;
		b[9] = p->proto;
		memcpy(b + 12, p->src, 4);
		memcpy(b + 16, p->dst, 4);
		off = 20;
	} else {
		b[0] = 0x60;
		b[7] = 64;
		memcpy(b + 8, p->src, 16);
		memcpy(b + 24, p->dst, 16);
		off = 40;
		uint8_t *nh = &b[6];
		/* Extension headers the filter must look past. */
		for (unsigned n = below(4) == 0 ? 1 + below(2) : 0; n; n--) {
			*nh = below(2) ? 0 /* hop-by-hop */ : 60 /* destination options */;
			nh = &b[off];
			b[off + 1] = 0; /* 8 bytes */
			off += 8;
		}
		*nh = p->proto;
	}
	bool ports = p->proto == MG_IPPROTO_TCP || p->proto == MG_IPPROTO_UDP;
	if (ports) {
		b[off] = (uint8_t)(p->sport >> 8);
		b[off + 1] = (uint8_t)p->sport;
		b[off + 2] = (uint8_t)(p->dport >> 8);
		b[off + 3] = (uint8_t)p->dport;
	} else {
		/* The filter has no ports for these; what the bytes say must not matter. */
		b[off] = (uint8_t)rnd();
		b[off + 4] = (uint8_t)rnd();
		p->sport = p->dport = 0;
	}
	off += 20;
	if (p->family == 4) {
		b[2] = (uint8_t)(off >> 8);
		b[3] = (uint8_t)off;
	} else {
		b[4] = (uint8_t)((off - 40) >> 8);
		b[5] = (uint8_t)(off - 40);
	}
}

static void to_acl(const struct mg_filter *f, struct mg_acl_rule *out, struct mg_acl_ports **ports)
{
	for (size_t i = 0; i < f->n_rules; i++) {
		const struct mg_filter_rule *r = &f->rules[i];
		ports[i] = calloc(r->n_ports + 1, sizeof(**ports));
		for (size_t j = 0; j < r->n_ports; j++)
			ports[i][j] = (struct mg_acl_ports){r->ports[j].lo, r->ports[j].hi};
		out[i] = (struct mg_acl_rule){
		    .src = r->src,
		    .n_src = r->n_src,
		    .dst = r->dst,
		    .n_dst = r->n_dst,
		    .proto = r->proto == MG_FILTER_TCP    ? MG_ACL_TCP
		             : r->proto == MG_FILTER_UDP  ? MG_ACL_UDP
		             : r->proto == MG_FILTER_ICMP ? MG_ACL_ICMP
		                                          : MG_ACL_ANY,
		    .ports = ports[i],
		    .n_ports = r->n_ports,
		};
	}
}

static void report(const struct mg_filter *f, const struct gen *g, bool got, uint64_t seed)
{
	char a[64], d[64], line[512];
	struct mg_prefix s = {.family = g->ref.family, .len = g->ref.family == 4 ? 32 : 128};
	memcpy(s.addr, g->ref.src, 16);
	mg_prefix_format(&s, a, sizeof(a));
	memcpy(s.addr, g->ref.dst, 16);
	mg_prefix_format(&s, d, sizeof(d));
	printf("MISMATCH seed %" PRIu64 ": %s -> %s proto %u dport %u: rte_acl %s, reference %s\n",
	       seed, a, d, g->ref.proto, g->ref.dport, got ? "admits" : "refuses",
	       got ? "refuses" : "admits");
	for (size_t i = 0; i < f->n_rules; i++) {
		mg_filter_rule_format(&f->rules[i], line, sizeof(line));
		printf("  rule %zu: %s\n", i, line);
	}
}

static unsigned mismatches;
static uint64_t scalar_compared;
static const char *want_method; /* the method mg_acl_build must leave in force */

/* The verdicts of rte_acl's scalar method for the same keys: every vector method must agree. */
static void scalar_agrees(struct mg_acl *acl, uint8_t family, const struct mg_flow_key *const *k,
                          const bool *hit, unsigned n)
{
	char method[16];
	bool ref[BURST];

	snprintf(method, sizeof(method), "%s", mg_acl_method(acl));
	if (!strcmp(method, "none") || !strcmp(method, "scalar"))
		return;
	CHECK(mg_acl_set_method(acl, "scalar") == 0);
	mg_acl_classify(acl, family, k, ref, n);
	CHECK(mg_acl_set_method(acl, method) == 0);
	for (unsigned i = 0; i < n; i++) {
		CHECK(hit[i] == ref[i], "IPv%u: %s says %d, scalar %d", family, method, hit[i],
		      ref[i]);
		scalar_compared++;
	}
}

static void check_burst(struct mg_acl *acl, const struct mg_filter *f, struct gen *g, unsigned n,
                        uint64_t seed, uint64_t *admitted)
{
	struct mg_pkt_tuple t[BURST];
	const struct mg_flow_key *k4[BURST], *k6[BURST];
	unsigned pos4[BURST], pos6[BURST], n4 = 0, n6 = 0;
	bool hit4[BURST], hit6[BURST], got[BURST];

	for (unsigned i = 0; i < n; i++) {
		struct mg_l3 l3;
		uint16_t len = g[i].ref.family == 4
		                   ? (uint16_t)(g[i].buf[2] << 8 | g[i].buf[3])
		                   : (uint16_t)(40 + (g[i].buf[4] << 8 | g[i].buf[5]));
		CHECK(mg_pkt_parse_ip(g[i].buf, len, &l3) == 0);
		CHECK(mg_pkt_tuple(g[i].buf, &l3, &t[i]) == 0);
		CHECK(t[i].key.proto == g[i].ref.proto, "upper layer %u, built %u", t[i].key.proto,
		      g[i].ref.proto);
		if (g[i].ref.family == 4) {
			pos4[n4] = i;
			k4[n4++] = &t[i].key;
		} else {
			pos6[n6] = i;
			k6[n6++] = &t[i].key;
		}
	}
	mg_acl_classify(acl, 4, k4, hit4, n4);
	mg_acl_classify(acl, 6, k6, hit6, n6);
	scalar_agrees(acl, 4, k4, hit4, n4);
	scalar_agrees(acl, 6, k6, hit6, n6);
	for (unsigned i = 0; i < n4; i++)
		got[pos4[i]] = hit4[i];
	for (unsigned i = 0; i < n6; i++)
		got[pos6[i]] = hit6[i];
	for (unsigned i = 0; i < n; i++) {
		bool want = mg_filter_match(f, &g[i].ref);
		*admitted += want;
		if (got[i] != want && mismatches++ < 3)
			report(f, &g[i], got[i], seed);
		CHECK(got[i] == want);
	}
}

static void differential(uint64_t seed)
{
	uint64_t admitted = 0, packets = 0, expanded = 0;
	char err[256];

	for (unsigned set = 0; set < RULE_SETS; set++) {
		struct mg_filter f = {0};
		/* Mostly small sets, one in five empty-ish or large. */
		f.n_rules = set == 0 ? 0 : below(5) == 0 ? 40 + below(60) : 1 + below(12);
		f.rules = calloc(f.n_rules + 1, sizeof(*f.rules));
		for (size_t i = 0; i < f.n_rules; i++) {
			random_rule(&f.rules[i]);
			CHECK(mg_filter_rule_normalize(&f.rules[i], err, sizeof(err)) == 0, "%s",
			      err);
		}
		collect(&f);
		struct mg_acl_rule *ar = calloc(f.n_rules + 1, sizeof(*ar));
		struct mg_acl_ports **ports = calloc(f.n_rules + 1, sizeof(*ports));
		to_acl(&f, ar, ports);
		struct mg_acl *acl = mg_acl_build(ar, f.n_rules, -1, err, sizeof(err));
		CHECK(acl != NULL, "%s", err);
		if (acl && (acl->ctx4 || acl->ctx6))
			CHECK(!strcmp(mg_acl_method(acl), want_method), "classified by %s, want %s",
			      mg_acl_method(acl), want_method);
		if (acl) {
			expanded += acl->n_rules4 + acl->n_rules6;
			unsigned per_set = PACKETS / RULE_SETS;
			struct gen g[BURST];
			for (unsigned done = 0; done < per_set; done += BURST) {
				unsigned n = per_set - done < BURST ? per_set - done : BURST;
				for (unsigned i = 0; i < n; i++)
					random_packet(&f, &g[i]);
				check_burst(acl, &f, g, n, seed, &admitted);
				packets += n;
			}
		}
		mg_acl_free(acl);
		for (size_t i = 0; i < f.n_rules; i++)
			free(ports[i]);
		free(ports);
		free(ar);
		mg_filter_free(&f);
	}
	printf("differential: %" PRIu64 " packets over %u rule sets (%" PRIu64
	       " rte_acl rules), %" PRIu64 " admitted, %u mismatches; classified by %s, %" PRIu64
	       " verdicts compared with rte_acl's scalar method\n",
	       packets, RULE_SETS, expanded, admitted, mismatches, want_method, scalar_compared);
	CHECK(packets == PACKETS);
	/* Both answers must be exercised, or the comparison proves little. */
	CHECK(admitted > packets / 20 && admitted < packets - packets / 20, "admitted %" PRIu64,
	      admitted);
}

/* A filter that expands past the limit is refused with a reason, not built half. */
static void too_big(void)
{
	static struct mg_prefix many[1024];
	struct mg_acl_ports range = {1, 1};
	char err[256] = "";
	for (unsigned i = 0; i < 1024; i++) {
		many[i] = (struct mg_prefix){
		    .family = 4, .len = 32, .addr = {10, 0, (uint8_t)(i >> 8), (uint8_t)i}};
	}
	struct mg_acl_rule r = {.src = many,
	                        .n_src = 1024,
	                        .dst = many,
	                        .n_dst = 1024,
	                        .proto = MG_ACL_TCP,
	                        .ports = &range,
	                        .n_ports = 1};
	struct mg_acl *acl = mg_acl_build(&r, 1, -1, err, sizeof(err));
	CHECK(acl == NULL);
	CHECK(strstr(err, "more than") != NULL, "%s", err);
}

int main(int argc, char **argv)
{
	(void)argc;
	const char *env = getenv("MG_TEST_SEED");
	uint64_t seed = env ? strtoull(env, NULL, 0) : (uint64_t)time(NULL) ^ (uint64_t)clock();
	printf("seed %" PRIu64 " (MG_TEST_SEED=%" PRIu64 " replays this run)\n", seed, seed);
	fflush(stdout);
	rng_state = seed;
	if (eal_test_init(argv[0], 1, 256) != 0)
		return 1;
	/* What mg_eal_init applies in the gateway: with AVX-512 the widest method must run. */
	unsigned bits = mg_acl_simd_setup();
	bool avx512 = rte_cpu_get_flag_enabled(RTE_CPUFLAG_AVX512F) > 0 &&
	              rte_cpu_get_flag_enabled(RTE_CPUFLAG_AVX512VL) > 0 &&
	              rte_cpu_get_flag_enabled(RTE_CPUFLAG_AVX512CD) > 0 &&
	              rte_cpu_get_flag_enabled(RTE_CPUFLAG_AVX512BW) > 0;
	bool avx2 = rte_cpu_get_flag_enabled(RTE_CPUFLAG_AVX2) > 0;
	want_method = avx512 ? "avx512x32" : avx2 ? "avx2" : "sse";
	printf("max SIMD bitwidth %u, CPU %s AVX-512\n", bits, avx512 ? "with" : "without");
	CHECK(bits == (avx512 ? 512u : 256u), "max SIMD bitwidth %u", bits);
	differential(seed);
	too_big();
	eal_test_cleanup();
	return check_done("acl");
}
