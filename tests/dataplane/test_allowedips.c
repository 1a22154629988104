// SPDX-License-Identifier: GPL-2.0-only
/*
 * allowedips: the Linux selftest's behaviour (overlaps, /0, /32, /128, masking, removal by
 * peer, listing), a randomized comparison with a linear-scan reference, a 100,000-prefix load,
 * and readers on another lcore while the control side churns the table.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_launch.h>
#include <rte_lcore.h>
#include <rte_malloc.h>
#include <rte_rcu_qsbr.h>

#include "allowedips.h"
#include "check.h"
#include "eal_test_env.h"

#define NONE MG_ALLOWEDIPS_NO_PEER

static struct mg_allowedips *t;
static uint64_t rng_state = 0x616c6c6f776564ULL;

static uint64_t rnd(void)
{
	uint64_t v;
	test_rng(&rng_state, &v, sizeof(v));
	return v;
}

/* "a.b.c.d/len" or "x:y::z/len" into family, 16-byte address and length. */
static bool parse(const char *cidr, int *family, uint8_t addr[16], uint8_t *len)
{
	char buf[64];
	const char *slash = strchr(cidr, '/');
	size_t n = slash ? (size_t)(slash - cidr) : strlen(cidr);

	if (n >= sizeof(buf))
		return false;
	memcpy(buf, cidr, n);
	buf[n] = '\0';
	memset(addr, 0, 16);
	*family = strchr(buf, ':') ? AF_INET6 : AF_INET;
	*len = (uint8_t)(slash ? atoi(slash + 1) : (*family == AF_INET ? 32 : 128));
	return inet_pton(*family, buf, addr) == 1;
}

static int ins(const char *cidr, uint32_t peer)
{
	int family;
	uint8_t addr[16], len;
	CHECK(parse(cidr, &family, addr, &len), "bad test prefix %s", cidr);
	return mg_allowedips_insert(t, family, addr, len, peer);
}

static int rem(const char *cidr)
{
	int family;
	uint8_t addr[16], len;
	CHECK(parse(cidr, &family, addr, &len), "bad test prefix %s", cidr);
	return mg_allowedips_remove(t, family, addr, len);
}

static uint32_t look(const char *ip)
{
	int family;
	uint8_t addr[16], len;
	uint32_t peer = 12345;

	CHECK(parse(ip, &family, addr, &len), "bad test address %s", ip);
	if (family == AF_INET) {
		uint32_t host = (uint32_t)addr[0] << 24 | (uint32_t)addr[1] << 16 |
		                (uint32_t)addr[2] << 8 | addr[3];
		mg_allowedips_lookup4_bulk(t, &host, &peer, 1);
	} else {
		const uint8_t *p = addr;
		mg_allowedips_lookup6_bulk(t, &p, &peer, 1);
	}
	return peer;
}

#define EXPECT(ip, peer)                                                           \
	do {                                                                       \
		uint32_t got_ = look(ip);                                          \
		CHECK(got_ == (uint32_t)(peer), "%s -> %u, expected %u", ip, got_, \
		      (uint32_t)(peer));                                           \
	} while (0)

static struct mg_allowedips *fresh(uint32_t max_v4, uint32_t max_v6,
                                   const struct mg_allowedips_options *o)
{
	mg_allowedips_free(t);
	t = mg_allowedips_create(max_v4, max_v6, o);
	CHECK(t != NULL, "create: %s", rte_strerror(rte_errno));
	return t;
}

enum { A, B, C, D, E, F, G, H }; /* peer slots; A is slot 0 on purpose */

struct listed {
	unsigned count, matched;
	const char *const *want;
	unsigned nwant;
};

static int list_one(void *ctx, int family, const uint8_t *addr, uint8_t len)
{
	struct listed *l = ctx;
	char text[INET6_ADDRSTRLEN], cidr[64];
	inet_ntop(family, addr, text, sizeof(text));
	snprintf(cidr, sizeof(cidr), "%s/%u", text, len);
	l->count++;
	for (unsigned i = 0; i < l->nwant; i++)
		if (!strcmp(cidr, l->want[i]))
			l->matched++;
	return 0;
}

/* The kernel selftest's table, as behaviour. */
static void kernel_cases(void)
{
	if (!fresh(64, 256, NULL))
		return;
	struct entry {
		const char *text;
		uint32_t peer;
	};
	/* Inserted in this order; a later same-prefix entry (after masking) moves it. */
	static const struct entry inserts[] = {
	    {"192.168.4.0/24", A},
	    {"192.168.4.4/32", B},
	    {"192.168.0.0/16", C},
	    {"192.95.5.64/27", D},
	    {"192.95.5.65/27", C},
	    {"2607:5300:6000:6b00::c05f:543/128", D},
	    {"2607:5300:6000:6b00::/64", C},
	    {"0.0.0.0/0", E},
	    {"::/0", E},
	    {"::/0", F},
	    {"2404:6800::/32", G},
	    {"2404:6800:4004:800:dead:beef:dead:beef/64", H},
	    {"2404:6800:4004:800:dead:beef:dead:beef/128", A},
	    {"2444:6800:40e4:800:deae:beef:def:beef/128", C},
	    {"2444:6800:f0e4:800:eeae:beef::/98", B},
	    {"64.15.112.0/20", G},
	    {"64.15.123.211/25", H},
	    {"10.0.0.0/25", A},
	    {"10.0.0.128/25", B},
	    {"10.1.0.0/30", A},
	    {"10.1.0.4/30", B},
	    {"10.1.0.8/29", C},
	    {"10.1.0.16/29", D},
	};
	static const struct entry lookups[] = {
	    {"192.168.4.20", A},
	    {"192.168.4.0", A},
	    {"192.168.4.4", B},
	    {"192.168.200.182", C},
	    {"192.95.5.68", C},
	    {"192.95.5.96", E},
	    {"2607:5300:6000:6b00::c05f:543", D},
	    {"2607:5300:6000:6b00::c02e:1ee", C},
	    {"2607:5300:6000:6b01::", F},
	    {"2404:6800:4004:806::1006", G},
	    {"2404:6800:4004:806:0:1234:0:5678", G},
	    {"2404:67ff:4004:806:0:1234:0:5678", F},
	    {"2404:6801:4004:806:0:1234:0:5678", F},
	    {"2404:6800:4004:800:0:1234:0:5678", H},
	    {"2404:6800:4004:800::", H},
	    {"2404:6800:4004:800:1010:1010:1010:1010", H},
	    {"2404:6800:4004:800:dead:beef:dead:beef", A},
	    {"2444:6800:40e4:800:deae:beef:def:beef", C},
	    {"2444:6800:f0e4:800:eeae:beef:1:2", B},
	    {"64.15.116.26", G},
	    {"64.15.127.3", G},
	    {"64.15.123.1", G},
	    {"64.15.123.128", H},
	    {"64.15.123.129", H},
	    {"10.0.0.52", A},
	    {"10.0.0.220", B},
	    {"10.1.0.2", A},
	    {"10.1.0.6", B},
	    {"10.1.0.10", C},
	    {"10.1.0.20", D},
	};
	for (size_t i = 0; i < sizeof(inserts) / sizeof(inserts[0]); i++)
		CHECK(ins(inserts[i].text, inserts[i].peer) == 0, "insert %s", inserts[i].text);
	CHECK(mg_allowedips_commit(t) == 0, "commit");
	for (size_t i = 0; i < sizeof(lookups) / sizeof(lookups[0]); i++)
		EXPECT(lookups[i].text, lookups[i].peer);

	/* Removal by peer, including /32s spread over the address space. */
	ins("1.0.0.0/32", A);
	ins("64.0.0.0/32", A);
	ins("128.0.0.0/32", A);
	ins("192.0.0.0/32", A);
	ins("255.0.0.0/32", A);
	CHECK(mg_allowedips_commit(t) == 0, "commit");
	EXPECT("255.0.0.0", A);
	CHECK(mg_allowedips_remove_peer(t, A) == 9, "remove_peer(A) removes its 9 prefixes");
	mg_allowedips_commit(t);
	EXPECT("1.0.0.0", E);
	EXPECT("64.0.0.0", E);
	EXPECT("128.0.0.0", E);
	EXPECT("192.0.0.0", E);
	EXPECT("255.0.0.0", E);
	EXPECT("192.168.4.20", C); /* A's /24 gone: C's /16 governs */
	EXPECT("10.0.0.52", E);
	EXPECT("2404:6800:4004:800:dead:beef:dead:beef", H);
	EXPECT("10.0.0.220", B); /* neighbours untouched */
	CHECK(mg_allowedips_remove_peer(t, A) == 0, "second remove_peer finds nothing");

	/* Single removals fall back to the next shorter prefix, then to the default. */
	CHECK(rem("192.168.4.4/32") == 0 && mg_allowedips_commit(t) == 0, "remove /32");
	EXPECT("192.168.4.4", C);
	CHECK(rem("192.168.4.4/32") == -ENOENT, "remove twice");
	CHECK(rem("0.0.0.0/0") == 0, "remove v4 /0");
	EXPECT("192.95.5.96", NONE);
	CHECK(rem("::/0") == 0 && mg_allowedips_commit(t) == 0, "remove v6 /0");
	EXPECT("2607:5300:6000:6b01::", NONE);
	CHECK(rem("2404:6800::/32") == 0 && mg_allowedips_commit(t) == 0, "remove v6 route");
	EXPECT("2404:6800:4004:806::1006", NONE);
	EXPECT("2404:6800:4004:800::", H);
	CHECK(rem("2607:5300:6000:6b00::c05f:543/128") == 0, "remove /128");
	EXPECT("2607:5300:6000:6b00::c05f:543", C);

	/* A /16 and a /24 of the same peer both go. */
	fresh(64, 256, NULL);
	ins("192.168.0.0/16", A);
	ins("192.168.0.0/24", A);
	CHECK(mg_allowedips_remove_peer(t, A) == 2, "nested prefixes of one peer");
	EXPECT("192.168.0.1", NONE);

	/* 128 host routes differing in one bit each, all distinct and all removable. */
	for (unsigned i = 0; i < 128; i++) {
		uint8_t ip[16];
		memset(ip, 0xff, 16);
		ip[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
		CHECK(mg_allowedips_insert(t, AF_INET6, ip, 128, B + i % 3) == 0, "host %u", i);
	}
	for (unsigned i = 0; i < 128; i++) {
		uint8_t ip[16];
		const uint8_t *p = ip;
		uint32_t peer;
		memset(ip, 0xff, 16);
		ip[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
		mg_allowedips_lookup6_bulk(t, &p, &peer, 1);
		CHECK(peer == B + i % 3, "host %u -> %u", i, peer);
	}
	CHECK(mg_allowedips_remove_peer(t, B) + mg_allowedips_remove_peer(t, C) +
	              mg_allowedips_remove_peer(t, D) ==
	          128,
	      "all 128 hosts removed");

	/* Listing a peer's prefixes gives them masked, once each. */
	fresh(64, 256, NULL);
	ins("192.95.5.93/27", A);
	ins("2607:5300:6000:6b00::c05f:543/128", A);
	ins("10.1.0.20/29", A);
	ins("2607:5300:6d8a:6bf8:dab1:f1df:c05f:1523/83", A);
	ins("2607:5300:6d8a:6bf8:dab1:f1df:c05f:1523/21", A);
	static const char *const want[] = {"192.95.5.64/27", "2607:5300:6000:6b00::c05f:543/128",
	                                   "10.1.0.16/29", "2607:5300:6d8a:6bf8:dab1:e000::/83",
	                                   "2607:5000::/21"};
	struct listed l = {.want = want, .nwant = 5};
	mg_allowedips_for_each(t, A, list_one, &l);
	CHECK(l.count == 5 && l.matched == 5, "listing: %u prefixes, %u as expected", l.count,
	      l.matched);
}

/* Bad input is refused without changing anything; limits are enforced per family. */
static void edge_cases(void)
{
	uint8_t addr[16] = {10};
	uint32_t peer;

	if (!fresh(3, 3, NULL))
		return;
	CHECK(mg_allowedips_insert(t, AF_INET, addr, 33, A) == -EINVAL, "v4 /33");
	CHECK(mg_allowedips_insert(t, AF_INET6, addr, 129, A) == -EINVAL, "v6 /129");
	CHECK(mg_allowedips_insert(t, 12345, addr, 8, A) == -EINVAL, "bad family");
	CHECK(mg_allowedips_insert(t, AF_INET, NULL, 8, A) == -EINVAL, "NULL address");
	CHECK(mg_allowedips_insert(t, AF_INET, addr, 8, MG_ALLOWEDIPS_MAX_PEER + 1) == -EINVAL,
	      "peer out of range");
	CHECK(mg_allowedips_insert(t, AF_INET, addr, 8, MG_ALLOWEDIPS_MAX_PEER) == 0 &&
	          mg_allowedips_commit(t) == 0,
	      "largest peer slot");
	EXPECT("10.200.0.1", MG_ALLOWEDIPS_MAX_PEER);
	CHECK(ins("11.0.0.0/8", B) == 0 && ins("12.0.0.0/8", C) == 0, "fill v4");
	CHECK(ins("13.0.0.0/8", D) == -ENOSPC, "v4 limit");
	CHECK(ins("12.0.0.0/8", D) == 0, "moving an existing prefix needs no room");
	CHECK(mg_allowedips_get(t, AF_INET, (uint8_t[]){12, 9, 9, 9}, 8, &peer) == 0 && peer == D,
	      "get sees the move");
	CHECK(ins("2001:db8::/32", A) == 0 && ins("fd00::1/128", B) == 0, "fill v6");
	CHECK(mg_allowedips_commit(t) == 0, "commit");
	/* Route changes wait for commit; IPv6 hosts and /0 do not. */
	CHECK(ins("2001:db8:1::/48", C) == 0, "route");
	CHECK(ins("12.1.0.0/16", A) == -ENOSPC, "v4 limit (3)");
	CHECK(ins("12.0.0.0/8", B) == 0, "move a v4 route");
	EXPECT("2001:db8:1::7", A);
	EXPECT("fd00::1", B);
	EXPECT("12.1.2.3", D);
	mg_allowedips_commit(t);
	EXPECT("2001:db8:1::7", C);
	EXPECT("12.1.2.3", B);
	CHECK(ins("2001:db9::/32", A) == -ENOSPC, "v6 limit");
	CHECK(mg_allowedips_remove(t, AF_INET, addr, 40) == -EINVAL, "remove bad len");
	CHECK(mg_allowedips_remove_peer(t, MG_ALLOWEDIPS_MAX_PEER + 1) == -EINVAL, "bad peer");

	struct mg_allowedips_stats st;
	mg_allowedips_get_stats(t, &st);
	CHECK(st.v4_prefixes == 3 && st.v6_prefixes == 3 && st.v6_hosts == 1,
	      "stats counts %u %u %u", st.v4_prefixes, st.v6_prefixes, st.v6_hosts);
	CHECK(st.dpdk_bytes >= (64u << 20), "dpdk bytes %zu (tbl24 alone is 64 MiB)",
	      st.dpdk_bytes);
}

/* ---- randomized comparison with a linear scan ---- */

struct ref_rule {
	bool v6;
	uint8_t len;
	uint8_t addr[16];
	uint32_t peer;
};

static struct ref_rule *ref;
static size_t nref;

static void mask_bits(uint8_t a[16], unsigned len)
{
	for (unsigned i = 0; i < 16; i++) {
		int bits = (int)len - 8 * (int)i;
		bits = bits < 0 ? 0 : bits > 8 ? 8 : bits;
		a[i] &= (uint8_t)(0xff00u >> bits);
	}
}

static bool covers(const uint8_t *prefix, unsigned len, const uint8_t *addr)
{
	uint8_t a[16];
	memcpy(a, addr, 16);
	mask_bits(a, len);
	return !memcmp(a, prefix, 16);
}

static long ref_find(bool v6, const uint8_t *addr, uint8_t len)
{
	for (size_t i = 0; i < nref; i++)
		if (ref[i].v6 == v6 && ref[i].len == len && !memcmp(ref[i].addr, addr, 16))
			return (long)i;
	return -1;
}

static uint32_t ref_lookup(bool v6, const uint8_t *addr)
{
	int best = -1;
	uint32_t peer = NONE;
	for (size_t i = 0; i < nref; i++)
		if (ref[i].v6 == v6 && (int)ref[i].len > best &&
		    covers(ref[i].addr, ref[i].len, addr)) {
			best = ref[i].len;
			peer = ref[i].peer;
		}
	return peer;
}

static uint8_t bases[2][16][16];

static void random_prefix(bool v6, uint8_t addr[16], uint8_t *len)
{
	unsigned bits = v6 ? 128 : 32, r = (unsigned)(rnd() % 100);
	uint8_t noise[16];

	memcpy(addr, bases[v6][rnd() % 16], 16);
	test_rng(&rng_state, noise, sizeof(noise));
	unsigned keep = 8 + (unsigned)(rnd() % (bits - 7)); /* clusters under shared bases */
	for (unsigned b = keep; b < bits; b++)
		if (noise[b / 8] & (0x80u >> (b % 8)))
			addr[b / 8] ^= (uint8_t)(0x80u >> (b % 8));
	*len = (uint8_t)(r < 2 ? 0 : r < 22 ? bits : 1 + rnd() % (bits - 1));
	mask_bits(addr, *len);
}

static void random_query(bool v6, uint8_t addr[16])
{
	unsigned r = (unsigned)(rnd() % 10);
	test_rng(&rng_state, addr, 16);
	if (!v6)
		memset(addr + 4, 0, 12);
	if (r < 5 && nref) {
		const struct ref_rule *x = &ref[rnd() % nref];
		if (x->v6 == v6)
			for (unsigned b = 0; b < x->len; b++) {
				uint8_t m = (uint8_t)(0x80u >> (b % 8));
				addr[b / 8] = (uint8_t)((addr[b / 8] & ~m) | (x->addr[b / 8] & m));
			}
	} else if (r < 8) {
		memcpy(addr, bases[v6][rnd() % 16], v6 ? 12 : 3);
	}
}

static void compare_lookups(bool v6, unsigned queries)
{
	enum { BURST = 32 };
	uint8_t addr[BURST][16];
	uint32_t ip4[BURST], got[BURST], wrong = 0;
	const uint8_t *ptr[BURST];

	for (unsigned q = 0; q < queries; q += BURST) {
		for (unsigned i = 0; i < BURST; i++) {
			random_query(v6, addr[i]);
			ptr[i] = addr[i];
			ip4[i] = (uint32_t)addr[i][0] << 24 | (uint32_t)addr[i][1] << 16 |
			         (uint32_t)addr[i][2] << 8 | addr[i][3];
		}
		if (v6)
			mg_allowedips_lookup6_bulk(t, ptr, got, BURST);
		else
			mg_allowedips_lookup4_bulk(t, ip4, got, BURST);
		for (unsigned i = 0; i < BURST; i++)
			if (got[i] != ref_lookup(v6, addr[i]) && wrong++ < 5)
				CHECK(false, "v%d lookup %02x%02x%02x%02x..: %u, reference %u",
				      v6 ? 6 : 4, addr[i][0], addr[i][1], addr[i][2], addr[i][3],
				      got[i], ref_lookup(v6, addr[i]));
	}
	CHECK(wrong == 0, "v%d: %u of %u lookups differ from the reference", v6 ? 6 : 4, wrong,
	      queries);
}

static void ref_remove_at(size_t i)
{
	ref[i] = ref[--nref];
}

static void randomized(uint32_t max_v4, uint32_t max_v6, unsigned rounds)
{
	struct mg_allowedips_options o = {.socket_id = SOCKET_ID_ANY, .v6_tbl8s = 60000};
	unsigned ops_failed = 0;

	if (!fresh(max_v4, max_v6, &o))
		return;
	test_rng(&rng_state, bases, sizeof(bases));
	for (int v6 = 0; v6 < 2; v6++) { /* both ends of the address space */
		memset(bases[v6][0], 0xff, 16);
		memset(bases[v6][1], 0x00, 16);
	}
	ref = calloc(max_v4 + max_v6, sizeof(*ref));
	nref = 0;
	for (unsigned round = 0; round < rounds; round++) {
		for (unsigned k = 0; k < (max_v4 + max_v6) / 3; k++) {
			bool v6 = rnd() & 1;
			uint8_t addr[16], len;
			uint32_t peer = (uint32_t)(rnd() % 200);
			random_prefix(v6, addr, &len);
			int rc = mg_allowedips_insert(t, v6 ? AF_INET6 : AF_INET, addr, len, peer);
			long at = ref_find(v6, addr, len);
			size_t family_count = 0;
			for (size_t i = 0; i < nref; i++)
				family_count += ref[i].v6 == v6;
			if (rc == 0 && at >= 0) {
				ref[at].peer = peer;
			} else if (rc == 0) {
				ref[nref++] = (struct ref_rule){.v6 = v6, .len = len, .peer = peer};
				memcpy(ref[nref - 1].addr, addr, 16);
			} else if (!(rc == -ENOSPC && family_count >= (v6 ? max_v6 : max_v4))) {
				ops_failed++;
			}
		}
		for (unsigned k = 0; k < nref / 10 && nref; k++) {
			size_t i = rnd() % nref;
			if (mg_allowedips_remove(t, ref[i].v6 ? AF_INET6 : AF_INET, ref[i].addr,
			                         ref[i].len) != 0)
				ops_failed++;
			ref_remove_at(i);
		}
		uint32_t gone = (uint32_t)(rnd() % 200);
		int removed = mg_allowedips_remove_peer(t, gone), expect = 0;
		for (size_t i = 0; i < nref;)
			if (ref[i].peer == gone) {
				ref_remove_at(i);
				expect++;
			} else {
				i++;
			}
		CHECK(removed == expect, "remove_peer %u: %d, reference %d", gone, removed, expect);
		CHECK(mg_allowedips_commit(t) == 0, "commit");
		compare_lookups(false, 3000);
		compare_lookups(true, 3000);
	}
	CHECK(ops_failed == 0, "%u inserts/removes failed unexpectedly", ops_failed);
	struct mg_allowedips_stats st;
	mg_allowedips_get_stats(t, &st);
	size_t v6n = 0;
	for (size_t i = 0; i < nref; i++)
		v6n += ref[i].v6;
	CHECK(st.v4_prefixes == nref - v6n && st.v6_prefixes == v6n,
	      "stats %u/%u, reference %zu/%zu", st.v4_prefixes, st.v6_prefixes, nref - v6n, v6n);
	printf("  randomized: %zu v4 + %zu v6 prefixes live after %u rounds\n", nref - v6n, v6n,
	       rounds);
	free(ref);
	ref = NULL;
	nref = 0;
}

/* ---- 100,000 prefixes per family over 10,000 peers ---- */

#define LOAD_PEERS 10000u
#define PER_KIND   5u /* per peer: 5 v4 hosts, 5 v4 /24s, 5 v6 hosts, 5 v6 /48s */

static void load_addr(unsigned kind, unsigned idx, uint8_t a[16], uint8_t *len)
{
	memset(a, 0, 16);
	if (kind == 0) { /* 100.64.0.0/10 hosts, spread */
		uint32_t ip = (100u << 24 | 64u << 16) + (uint32_t)(idx * 73u) % (1u << 22);
		a[0] = (uint8_t)(ip >> 24), a[1] = (uint8_t)(ip >> 16), a[2] = (uint8_t)(ip >> 8);
		a[3] = (uint8_t)ip, *len = 32;
	} else if (kind == 1) { /* 10.x.y.0/24 */
		a[0] = 10, a[1] = (uint8_t)(idx >> 8), a[2] = (uint8_t)idx, *len = 24;
	} else if (kind == 2) { /* fd7a:115c:a1e0::/48 hosts */
		static const uint8_t p[6] = {0xfd, 0x7a, 0x11, 0x5c, 0xa1, 0xe0};
		memcpy(a, p, 6);
		a[13] = (uint8_t)(idx >> 16), a[14] = (uint8_t)(idx >> 8), a[15] = (uint8_t)idx;
		*len = 128;
	} else { /* 2001:db8:idx::/48 */
		a[0] = 0x20, a[1] = 0x01, a[2] = 0x0d, a[3] = 0xb8;
		a[4] = (uint8_t)(idx >> 8), a[5] = (uint8_t)idx, *len = 48;
	}
}

static uint32_t load_lookup(unsigned kind, unsigned idx)
{
	uint8_t a[16], len;
	uint32_t peer;
	load_addr(kind, idx, a, &len);
	a[15] |= len < 128 ? 0x21 : 0; /* an address inside the prefix */
	if (kind < 2) {
		uint32_t ip = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 |
		              (len == 32 ? a[3] : 0x21);
		mg_allowedips_lookup4_bulk(t, &ip, &peer, 1);
	} else {
		const uint8_t *p = a;
		mg_allowedips_lookup6_bulk(t, &p, &peer, 1);
	}
	return peer;
}

static void load_100k(void)
{
	const unsigned n = LOAD_PEERS * PER_KIND;
	unsigned failed = 0;

	if (!fresh(2 * n, 2 * n, NULL))
		return;
	for (unsigned idx = 0; idx < n; idx++)
		for (unsigned kind = 0; kind < 4; kind++) {
			uint8_t a[16], len;
			load_addr(kind, idx, a, &len);
			failed += mg_allowedips_insert(t, kind < 2 ? AF_INET : AF_INET6, a, len,
			                               idx / PER_KIND) != 0;
		}
	CHECK(failed == 0, "%u of %u inserts failed", failed, 4 * n);
	CHECK(mg_allowedips_commit(t) == 0, "commit");

	struct mg_allowedips_stats st;
	mg_allowedips_get_stats(t, &st);
	CHECK(st.v4_prefixes == 2 * n && st.v6_prefixes == 2 * n && st.v6_hosts == n &&
	          st.peers_with_prefixes == LOAD_PEERS,
	      "load stats: %u v4, %u v6, %u hosts, %u peers", st.v4_prefixes, st.v6_prefixes,
	      st.v6_hosts, st.peers_with_prefixes);
	printf("  load: %u v4 + %u v6 prefixes over %u peers; DPDK memory %.1f MiB, control %.1f "
	       "MiB\n",
	       st.v4_prefixes, st.v6_prefixes, st.peers_with_prefixes, st.dpdk_bytes / 1048576.0,
	       st.control_bytes / 1048576.0);

	for (unsigned kind = 0; kind < 4; kind++) {
		CHECK(load_lookup(kind, 0) == 0, "first peer, kind %u", kind);
		CHECK(load_lookup(kind, n - 1) == LOAD_PEERS - 1, "last peer, kind %u: %u", kind,
		      load_lookup(kind, n - 1));
	}
	unsigned wrong = 0;
	for (unsigned k = 0; k < 4000; k++) {
		unsigned idx = (unsigned)(rnd() % n), kind = (unsigned)(rnd() % 4);
		wrong += load_lookup(kind, idx) != idx / PER_KIND;
	}
	CHECK(wrong == 0, "%u sampled lookups wrong", wrong);

	CHECK(mg_allowedips_remove_peer(t, 5000) == 4 * PER_KIND, "remove one of 10,000 peers");
	mg_allowedips_commit(t);
	for (unsigned kind = 0; kind < 4; kind++) {
		CHECK(load_lookup(kind, 5000 * PER_KIND) == NONE, "removed peer, kind %u", kind);
		CHECK(load_lookup(kind, 5000 * PER_KIND - 1) == 4999, "neighbour, kind %u", kind);
		CHECK(load_lookup(kind, 5001 * PER_KIND) == 5001, "neighbour, kind %u", kind);
	}
}

/* ---- readers on another lcore while the control side churns ---- */

/*
 * Each churned prefix sits inside a stable one of its own peer (10.9.K.0/24 -> 100+K,
 * 2001:db8:1KK::/48 -> 300+K), so a reader that walks a recycled or half-rewritten table
 * part lands on another K's peer or on a miss, and is caught.
 */
#define CHURN_K   64
#define MAX_PROBE (2 * CHURN_K + 16)

struct probe {
	uint8_t addr[16];
	uint32_t want[3]; /* stable probes: all three equal */
	bool stable;
};

struct reader {
	struct rte_rcu_qsbr *rcu;
	unsigned stop;
	uint64_t loops, wrong, churn_wrong;
	struct probe p4[MAX_PROBE], p6[MAX_PROBE];
	unsigned n4, n6;
};

static void probe_add(struct reader *r, const char *ip, uint32_t w0, uint32_t w1, uint32_t w2)
{
	int family;
	uint8_t len;
	struct probe *p = NULL;

	if (r->n4 < MAX_PROBE && r->n6 < MAX_PROBE)
		p = strchr(ip, ':') ? &r->p6[r->n6++] : &r->p4[r->n4++];
	if (!p || !parse(ip, &family, p->addr, &len))
		return;
	p->want[0] = w0;
	p->want[1] = w1;
	p->want[2] = w2;
	p->stable = w0 == w1 && w1 == w2;
}

static void reader_check(struct reader *r, const struct probe *p, const uint32_t *got, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		bool ok =
		    got[i] == p[i].want[0] || got[i] == p[i].want[1] || got[i] == p[i].want[2];
		if (!ok && p[i].stable)
			r->wrong++;
		else if (!ok)
			r->churn_wrong++;
	}
}

static int reader_main(void *arg)
{
	struct reader *r = arg;
	uint32_t ip4[MAX_PROBE], got[MAX_PROBE];
	const uint8_t *ptr6[MAX_PROBE];

	for (unsigned i = 0; i < r->n4; i++)
		ip4[i] = (uint32_t)r->p4[i].addr[0] << 24 | (uint32_t)r->p4[i].addr[1] << 16 |
		         (uint32_t)r->p4[i].addr[2] << 8 | r->p4[i].addr[3];
	for (unsigned i = 0; i < r->n6; i++)
		ptr6[i] = r->p6[i].addr;
	rte_rcu_qsbr_thread_register(r->rcu, 1);
	rte_rcu_qsbr_thread_online(r->rcu, 1);
	while (!__atomic_load_n(&r->stop, __ATOMIC_ACQUIRE)) {
		mg_allowedips_lookup4_bulk(t, ip4, got, r->n4);
		reader_check(r, r->p4, got, r->n4);
		mg_allowedips_lookup6_bulk(t, ptr6, got, r->n6);
		reader_check(r, r->p6, got, r->n6);
		__atomic_fetch_add(&r->loops, 1, __ATOMIC_RELAXED);
		rte_rcu_qsbr_quiescent(r->rcu, 1);
	}
	rte_rcu_qsbr_thread_offline(r->rcu, 1);
	rte_rcu_qsbr_thread_unregister(r->rcu, 1);
	return 0;
}

static unsigned rem_bad(const char *cidr)
{
	int rc = rem(cidr);
	return rc != 0 && rc != -ENOENT;
}

/* One round of changes inside (never over) the stable prefixes; returns failures. */
static unsigned churn(unsigned iter)
{
	unsigned k = iter % CHURN_K, old = (iter + CHURN_K / 2) % CHURN_K, bad = 0;
	char a[64];

	snprintf(a, sizeof(a), "10.9.%u.77/32", k); /* allocates a tbl8 group */
	bad += ins(a, 6) != 0;
	snprintf(a, sizeof(a), "10.9.%u.77/32", old); /* frees one */
	bad += rem_bad(a);
	if (iter % 3 == 2)
		bad += rem_bad("10.1.2.64/26");
	else
		bad += ins("10.1.2.64/26", iter % 3 ? 5 : 4) != 0;
	snprintf(a, sizeof(a), "2001:db8:%x:77::/64", 0x100 + k);
	bad += ins(a, 15) != 0;
	snprintf(a, sizeof(a), "2001:db8:%x:77::/64", 0x100 + old);
	bad += rem_bad(a);
	bad += iter & 1 ? ins("2001:db8:1:2::/64", 16) != 0 : rem_bad("2001:db8:1:2::/64");
	snprintf(a, sizeof(a), "fd00::1:%x/128", k);
	bad += ins(a, 17) != 0;
	snprintf(a, sizeof(a), "fd00::1:%x/128", old);
	bad += rem_bad(a);
	bad += mg_allowedips_commit(t) != 0;
	return bad;
}

static unsigned concurrent_setup(struct reader *r)
{
	char a[64];
	unsigned bad = 0;

	bad += ins("10.0.0.0/8", 1) + ins("10.1.2.0/28", 2) + ins("10.1.2.192/26", 3) != 0;
	bad += ins("2001:db8::/32", 11) + ins("2001:db8:1::/48", 12) + ins("fd00::1", 13) +
	           ins("fd00::/16", 14) !=
	       0;
	probe_add(r, "10.1.2.5", 2, 2, 2);
	probe_add(r, "10.1.2.200", 3, 3, 3);
	probe_add(r, "10.50.0.1", 1, 1, 1);
	probe_add(r, "2001:db8:1:3::1", 12, 12, 12);
	probe_add(r, "2001:db8:ffff::1", 11, 11, 11);
	probe_add(r, "fd00::1", 13, 13, 13);
	probe_add(r, "fd00::2:1", 14, 14, 14);
	probe_add(r, "10.1.2.100", 4, 5, 1); /* churning: any of its values is right */
	probe_add(r, "10.9.7.77", 6, 107, 107);
	probe_add(r, "2001:db8:107:77::5", 15, 307, 307);
	probe_add(r, "2001:db8:1:2::1", 16, 12, 12);
	probe_add(r, "fd00::1:7", 17, 14, 14);
	for (unsigned k = 0; k < CHURN_K; k++) {
		snprintf(a, sizeof(a), "10.9.%u.0/24", k);
		bad += ins(a, 100 + k) != 0;
		snprintf(a, sizeof(a), "10.9.%u.1", k);
		probe_add(r, a, 100 + k, 100 + k, 100 + k);
		snprintf(a, sizeof(a), "2001:db8:%x::/48", 0x100 + k);
		bad += ins(a, 300 + k) != 0;
		snprintf(a, sizeof(a), "2001:db8:%x:1::1", 0x100 + k);
		probe_add(r, a, 300 + k, 300 + k, 300 + k);
	}
	return bad + (mg_allowedips_commit(t) != 0);
}

static void concurrent_readers(void)
{
	static struct reader r;
	size_t size = rte_rcu_qsbr_get_memsize(2);
	unsigned lcore = rte_get_next_lcore(-1, 1, 0), bad = 0;

	r.rcu = rte_zmalloc("mg_test_rcu", size, RTE_CACHE_LINE_SIZE);
	CHECK(r.rcu && rte_rcu_qsbr_init(r.rcu, 2) == 0, "rcu init");
	CHECK(lcore < RTE_MAX_LCORE, "no second lcore");
	if (!r.rcu || lcore >= RTE_MAX_LCORE)
		return;
	/* Few tbl8 groups, so freed ones are reused at once (the hazard RCU closes). */
	struct mg_allowedips_options o = {
	    .rcu = r.rcu, .socket_id = SOCKET_ID_ANY, .v4_tbl8s = 128, .v6_tbl8s = 512};
	if (!fresh(1024, 1024, &o))
		return;
	bad += concurrent_setup(&r);

	rte_eal_remote_launch(reader_main, &r, lcore);
	while (__atomic_load_n(&r.loops, __ATOMIC_RELAXED) == 0)
		;
	uint64_t loops_before = __atomic_load_n(&r.loops, __ATOMIC_RELAXED);
	for (unsigned iter = 0; iter < 20000; iter++)
		bad += churn(iter);
	uint64_t loops_during = __atomic_load_n(&r.loops, __ATOMIC_RELAXED) - loops_before;
	__atomic_store_n(&r.stop, 1, __ATOMIC_RELEASE);
	rte_eal_wait_lcore(lcore);

	CHECK(bad == 0, "%u control operations failed during churn", bad);
	CHECK(loops_during > 100, "reader ran only %llu bursts during the churn",
	      (unsigned long long)loops_during);
	CHECK(r.wrong == 0, "readers saw %llu wrong peers for unchanged prefixes",
	      (unsigned long long)r.wrong);
	CHECK(r.churn_wrong == 0, "readers saw %llu impossible peers for churning prefixes",
	      (unsigned long long)r.churn_wrong);
	printf("  concurrent: %llu reader bursts of %u lookups during 20000 churn rounds, %llu "
	       "wrong\n",
	       (unsigned long long)loops_during, r.n4 + r.n6,
	       (unsigned long long)(r.wrong + r.churn_wrong));
	mg_allowedips_free(t); /* the reader is gone; the tables go before their RCU variable */
	t = NULL;
	rte_free(r.rcu);
}

int main(int argc, char **argv)
{
	(void)argc;
	if (eal_test_init(argv[0], 2, 2048) != 0)
		return 1;
	kernel_cases();
	edge_cases();
	randomized(4000, 4000, 6);
	load_100k();
	concurrent_readers();
	mg_allowedips_free(t);
	t = NULL;
	eal_test_cleanup();
	return check_done("allowedips");
}
