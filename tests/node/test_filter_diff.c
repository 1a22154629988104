// SPDX-License-Identifier: GPL-2.0-only
/*
 * The packet filter, differentially: random rule sets are written as the coordinator writes
 * them (a map line's "filter"), parsed by the node's map parser into the model, and every
 * random packet is judged by mg_filter_match and by a brute-force matcher here that works from
 * the generator's own description of the rules: bit-by-bit prefix compares, a 65,536-entry
 * port table per rule, protocols by name. 100,000 packets, IPv4 and IPv6, every protocol the
 * rules name and some they do not, ports on and around every range edge.
 *
 * Seeded: MG_TEST_SEED=N reruns one; the seed is printed either way.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "coord_client.h"
#include "filter.h"

#define RULE_SETS       100
#define PACKETS_PER_SET 1000
#define MAX_RULES       12
#define MAX_LIST        6

struct gen_prefix {
	bool star; /* "*": every address of both families */
	int family;
	uint8_t addr[16];
	int len;
};

struct gen_ports {
	bool star;
	int lo, hi;
};

struct gen_rule {
	struct gen_prefix src[MAX_LIST], dst[MAX_LIST];
	int n_src, n_dst;
	bool dst_absent;   /* an older coordinator's rule: no "dst" means "*" */
	const char *proto; /* NULL: absent */
	struct gen_ports ports[MAX_LIST];
	int n_ports;
	uint8_t covered[65536]; /* the brute force's port table */
	bool every_port;        /* covered holds no zero */
};

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* splitmix64 */
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static int below(int n)
{
	return (int)(rnd() % (uint64_t)n);
}

static bool chance(int percent)
{
	return below(100) < percent;
}

/* A few address bases, so packets and rules meet often; lengths biased to byte edges. */
static void gen_addr(int family, uint8_t addr[16])
{
	static const uint8_t bases4[][4] = {{100, 64, 0, 0}, {10, 1, 0, 0}, {192, 168, 7, 0}};
	static const uint8_t bases6[][16] = {
	    {0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0}, {0x20, 0x01, 0x0d, 0xb8}, {0xfe, 0x80}};

	memset(addr, 0, 16);
	if (family == 4)
		memcpy(addr, bases4[below(3)], 4);
	else
		memcpy(addr, bases6[below(3)], 16);
	int width = family == 4 ? 4 : 16;
	for (int i = width / 2; i < width; i++)
		if (chance(60))
			addr[i] = (uint8_t)(chance(50) ? (uint64_t)below(4) : rnd());
}

static int gen_len(int family)
{
	static const int edges4[] = {0, 1, 7, 8, 9, 16, 23, 24, 25, 31, 32};
	static const int edges6[] = {0, 1, 48, 63, 64, 65, 96, 120, 127, 128};

	if (chance(30))
		return below(family == 4 ? 33 : 129);
	return family == 4 ? edges4[below(sizeof(edges4) / sizeof(int))]
	                   : edges6[below(sizeof(edges6) / sizeof(int))];
}

static bool bit(const uint8_t *a, int i)
{
	return (a[i / 8] >> (7 - i % 8)) & 1;
}

static void gen_prefix(struct gen_prefix *p, int star_percent)
{
	memset(p, 0, sizeof(*p));
	if (chance(star_percent)) {
		p->star = true;
		return;
	}
	p->family = chance(50) ? 4 : 6;
	p->len = gen_len(p->family);
	gen_addr(p->family, p->addr);
	/* The coordinator never sends host bits. */
	for (int i = p->len; i < (p->family == 4 ? 32 : 128); i++)
		p->addr[i / 8] &= (uint8_t) ~(0x80 >> (i % 8));
}

static int gen_port(void)
{
	static const int edges[] = {0, 1, 22, 80, 443, 1023, 1024, 65534, 65535};

	return chance(50) ? edges[below(sizeof(edges) / sizeof(int))] : below(65536);
}

static void gen_rule(struct gen_rule *r)
{
	static const char *const protos[] = {NULL, "any", "tcp", "udp", "icmp"};

	memset(r, 0, sizeof(*r));
	r->n_src = below(MAX_LIST + 1);
	for (int i = 0; i < r->n_src; i++)
		gen_prefix(&r->src[i], 12);
	r->dst_absent = chance(8);
	r->n_dst = r->dst_absent || chance(3) ? 0 : 1 + below(MAX_LIST);
	for (int i = 0; i < r->n_dst; i++)
		gen_prefix(&r->dst[i], 5);
	r->proto = protos[below(5)];
	if (r->proto && strcmp(r->proto, "icmp") == 0) {
		r->n_ports = 1;
		r->ports[0].star = true;
	} else {
		r->n_ports = below(MAX_LIST) + (chance(95) ? 1 : 0);
		for (int i = 0; i < r->n_ports; i++) {
			struct gen_ports *p = &r->ports[i];

			p->star = chance(10);
			p->lo = gen_port();
			p->hi = chance(40) ? p->lo : p->lo + below(65536 - p->lo);
		}
	}
	for (int i = 0; i < r->n_ports; i++)
		for (int port = r->ports[i].star ? 0 : r->ports[i].lo;
		     port <= (r->ports[i].star ? 65535 : r->ports[i].hi); port++)
			r->covered[port] = 1;
	r->every_port = true;
	for (int port = 0; port < 65536; port++)
		r->every_port &= r->covered[port];
}

/* ---- the coordinator's text ---- */

static void emit_prefixes(FILE *f, const struct gen_prefix *l, int n)
{
	for (int i = 0; i < n; i++) {
		struct mg_prefix p = {.family = (uint8_t)l[i].family, .len = (uint8_t)l[i].len};
		char text[MG_PREFIX_STRLEN];

		memcpy(p.addr, l[i].addr, 16);
		if (l[i].star)
			snprintf(text, sizeof(text), "*");
		else
			mg_prefix_format(&p, text, sizeof(text));
		fprintf(f, "%s\"%s\"", i ? "," : "", text);
	}
}

static char *emit(const struct gen_rule *rules, int n)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	fprintf(f, "{\"type\":\"full\",\"seq\":1,\"peers\":[],\"filter\":[");
	for (int i = 0; i < n; i++) {
		const struct gen_rule *r = &rules[i];

		fprintf(f, "%s{\"src\":[", i ? "," : "");
		emit_prefixes(f, r->src, r->n_src);
		fprintf(f, "]");
		if (!r->dst_absent) {
			fprintf(f, ",\"dst\":[");
			emit_prefixes(f, r->dst, r->n_dst);
			fprintf(f, "]");
		}
		if (r->proto)
			fprintf(f, ",\"proto\":\"%s\"", r->proto);
		fprintf(f, ",\"ports\":[");
		for (int k = 0; k < r->n_ports; k++) {
			const struct gen_ports *p = &r->ports[k];

			if (p->star)
				fprintf(f, "%s\"*\"", k ? "," : "");
			else if (p->lo == p->hi)
				fprintf(f, "%s\"%d\"", k ? "," : "", p->lo);
			else
				fprintf(f, "%s\"%d-%d\"", k ? "," : "", p->lo, p->hi);
		}
		fprintf(f, "]}");
	}
	fprintf(f, "]}");
	fclose(f);
	return buf;
}

/* ---- the brute force ---- */

static bool gen_prefix_has(const struct gen_prefix *p, const struct mg_filter_packet *pk,
                           const uint8_t *addr)
{
	if (p->star)
		return true;
	if (p->family != pk->family)
		return false;
	for (int i = 0; i < p->len; i++)
		if (bit(p->addr, i) != bit(addr, i))
			return false;
	return true;
}

static bool any_has(const struct gen_prefix *l, int n, const struct mg_filter_packet *pk,
                    const uint8_t *addr)
{
	for (int i = 0; i < n; i++)
		if (gen_prefix_has(&l[i], pk, addr))
			return true;
	return false;
}

static bool brute(const struct gen_rule *rules, int n, const struct mg_filter_packet *pk)
{
	bool icmp = (pk->family == 4 && pk->proto == 1) || (pk->family == 6 && pk->proto == 58);

	for (int i = 0; i < n; i++) {
		const struct gen_rule *r = &rules[i];
		const char *proto = r->proto ? r->proto : "any";
		bool proto_ok = strcmp(proto, "any") == 0 ||
		                (strcmp(proto, "tcp") == 0 && pk->proto == 6) ||
		                (strcmp(proto, "udp") == 0 && pk->proto == 17) ||
		                (strcmp(proto, "icmp") == 0 && icmp);
		bool ports_ok;

		if (pk->proto == 6 || pk->proto == 17) {
			ports_ok = r->covered[pk->dport];
		} else if (icmp) {
			ports_ok = r->n_ports > 0;
		} else {
			ports_ok = r->every_port;
		}
		if (!proto_ok || !ports_ok || !any_has(r->src, r->n_src, pk, pk->src))
			continue;
		if (r->dst_absent || any_has(r->dst, r->n_dst, pk, pk->dst))
			return true;
	}
	return false;
}

/* ---- packets ---- */

/* An address inside (or, sometimes, just outside) one of the rules' prefixes, or anywhere. */
static void pick_addr(const struct gen_rule *rules, int n, bool dst, int family, uint8_t out[16])
{
	gen_addr(family, out);
	if (n == 0 || chance(25))
		return;
	const struct gen_rule *r = &rules[below(n)];
	const struct gen_prefix *l = dst ? r->dst : r->src;
	int cnt = dst ? r->n_dst : r->n_src;

	if (cnt == 0)
		return;
	const struct gen_prefix *p = &l[below(cnt)];
	if (p->star || p->family != family)
		return;
	for (int i = 0; i < p->len; i++)
		if (bit(p->addr, i) != bit(out, i))
			out[i / 8] ^= (uint8_t)(0x80 >> (i % 8));
	if (p->len > 0 && chance(20)) /* flip the last bit of the prefix: just outside */
		out[(p->len - 1) / 8] ^= (uint8_t)(0x80 >> ((p->len - 1) % 8));
}

static void gen_packet(const struct gen_rule *rules, int n, struct mg_filter_packet *pk)
{
	static const uint8_t protos[] = {6, 6, 6, 17, 17, 17, 1, 58, 132, 47, 0, 255};

	memset(pk, 0, sizeof(*pk));
	pk->family = chance(50) ? 4 : 6;
	pk->proto = protos[below(sizeof(protos))];
	pick_addr(rules, n, false, pk->family, pk->src);
	pick_addr(rules, n, true, pk->family, pk->dst);
	if (pk->proto != 6 && pk->proto != 17)
		return;
	pk->sport = (uint16_t)below(65536);
	pk->dport = (uint16_t)gen_port();
	if (n > 0 && chance(60)) {
		const struct gen_rule *r = &rules[below(n)];

		if (r->n_ports > 0) {
			const struct gen_ports *p = &r->ports[below(r->n_ports)];
			int edge[4] = {p->lo - 1, p->lo, p->hi, p->hi + 1};
			int v = edge[below(4)];

			if (!p->star && v >= 0 && v <= 65535)
				pk->dport = (uint16_t)v;
		}
	}
}

static void describe(const struct mg_filter_packet *pk, char *buf, size_t len)
{
	struct mg_prefix s = {.family = pk->family, .len = pk->family == 4 ? 32 : 128};
	struct mg_prefix d = s;
	char a[MG_PREFIX_STRLEN], b[MG_PREFIX_STRLEN];

	memcpy(s.addr, pk->src, 16);
	memcpy(d.addr, pk->dst, 16);
	mg_prefix_format(&s, a, sizeof(a));
	mg_prefix_format(&d, b, sizeof(b));
	snprintf(buf, len, "%s -> %s proto %u dport %u", a, b, pk->proto, pk->dport);
}

int main(void)
{
	const char *env = getenv("MG_TEST_SEED");
	struct timespec ts;
	uint64_t seed;
	struct gen_rule *rules = calloc(MAX_RULES, sizeof(*rules));
	unsigned long accepted = 0, denied = 0, mismatches = 0, packets = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	seed = env ? strtoull(env, NULL, 0)
	           : ((uint64_t)ts.tv_sec * 1000000007ull) ^ (uint64_t)ts.tv_nsec ^
	                 ((uint64_t)getpid() << 32);
	printf("filter_diff: seed %" PRIu64 " (rerun with MG_TEST_SEED=%" PRIu64 ")\n", seed, seed);
	fflush(stdout);
	rng_state = seed;
	for (int set = 0; set < RULE_SETS; set++) {
		int n = below(MAX_RULES + 1);
		struct mg_netmap_update u;
		char err[256];

		for (int i = 0; i < n; i++)
			gen_rule(&rules[i]);
		char *line = emit(rules, n);
		int rc = mg_coord_parse_line(line, strlen(line), &u, NULL, 0, err, sizeof(err));
		CHECK(rc == 1 && u.has_filter && u.filter.n_rules == (size_t)n,
		      "set %d: the map line parses (%s): %.300s", set, rc == 1 ? "ok" : err, line);
		if (rc != 1) {
			free(line);
			continue;
		}
		for (int k = 0; k < PACKETS_PER_SET; k++) {
			struct mg_filter_packet pk;

			gen_packet(rules, n, &pk);
			bool want = brute(rules, n, &pk), got = mg_filter_match(&u.filter, &pk);
			packets++;
			want ? accepted++ : denied++;
			if (want != got && mismatches++ < 5) {
				char text[200];

				describe(&pk, text, sizeof(text));
				CHECK(false,
				      "set %d: %s: model says %s, brute force %s; rules %.600s",
				      set, text, got ? "accept" : "deny", want ? "accept" : "deny",
				      line);
			}
		}
		mg_netmap_update_free(&u);
		free(line);
	}
	CHECK(mismatches == 0, "%lu of %lu packets judged differently", mismatches, packets);
	/* A generator that only ever produced one verdict would prove nothing. */
	CHECK(accepted > packets / 20 && denied > packets / 20, "accepted %lu, denied %lu",
	      accepted, denied);
	printf("filter_diff: %lu packets, %lu accepted, %lu denied, %lu mismatches\n", packets,
	       accepted, denied, mismatches);
	free(rules);
	return check_done("filter_diff");
}
