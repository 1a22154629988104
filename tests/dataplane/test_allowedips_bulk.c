// SPDX-License-Identifier: GPL-2.0-only
/*
 * allowedips, the paths issue #16 added: mg_allowedips_insert_bulk against one insert at a time
 * (random batches with duplicates, moves and all-ones IPv4 prefixes; every lookup, count and
 * per-peer listing must agree), the all-ones IPv4 routes kept beside rte_fib, and a large batch
 * that grows the IPv4 copies and makes commit rebuild the other copy instead of replaying.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_errno.h>
#include <rte_memory.h>

#include "allowedips.h"
#include "check.h"
#include "eal_test_env.h"

#define NONE MG_ALLOWEDIPS_NO_PEER

static uint64_t rng_state = 0x62756c6b31362aULL;

static uint64_t rnd(void)
{
	uint64_t v;
	test_rng(&rng_state, &v, sizeof(v));
	return v;
}

static bool parse(const char *cidr, struct mg_allowedips_entry *e)
{
	char buf[64];
	const char *slash = strchr(cidr, '/');
	size_t n = slash ? (size_t)(slash - cidr) : strlen(cidr);

	if (n >= sizeof(buf))
		return false;
	memcpy(buf, cidr, n);
	buf[n] = 0;
	memset(e, 0, sizeof(*e));
	e->family = strchr(buf, ':') ? AF_INET6 : AF_INET;
	if (inet_pton(e->family, buf, e->addr) != 1)
		return false;
	e->len = (uint8_t)(slash ? atoi(slash + 1) : e->family == AF_INET ? 32 : 128);
	return true;
}

static uint32_t look(struct mg_allowedips *t, const char *ip)
{
	struct mg_allowedips_entry e;
	uint32_t got = 0xdeadbeef;

	if (!parse(ip, &e))
		return got;
	if (e.family == AF_INET) {
		uint32_t a = (uint32_t)e.addr[0] << 24 | (uint32_t)e.addr[1] << 16 |
		             (uint32_t)e.addr[2] << 8 | e.addr[3];
		mg_allowedips_lookup4_bulk(t, &a, &got, 1);
	} else {
		const uint8_t *p = e.addr;
		mg_allowedips_lookup6_bulk(t, &p, &got, 1);
	}
	return got;
}

#define EXPECT(t, ip, peer)                                                        \
	do {                                                                       \
		uint32_t got_ = look(t, ip);                                       \
		CHECK(got_ == (uint32_t)(peer), "%s -> %u, expected %u", ip, got_, \
		      (uint32_t)(peer));                                           \
	} while (0)

static int ins(struct mg_allowedips *t, const char *cidr, uint32_t peer)
{
	struct mg_allowedips_entry e;
	if (!parse(cidr, &e))
		return -EINVAL;
	return mg_allowedips_insert(t, e.family, e.addr, e.len, peer);
}

static int rem(struct mg_allowedips *t, const char *cidr)
{
	struct mg_allowedips_entry e;
	if (!parse(cidr, &e))
		return -EINVAL;
	return mg_allowedips_remove(t, e.family, e.addr, e.len);
}

/* rte_fib 22.11.11 wraps the range end of a prefix reaching 255.255.255.255 to 0: these live
 * beside it and must still lose to longer routes and win over shorter ones. */
static void all_ones_routes(void)
{
	struct mg_allowedips *t = mg_allowedips_create(64, 16, NULL);

	CHECK(t != NULL, "create: %s", rte_strerror(rte_errno));
	if (!t)
		return;
	CHECK(ins(t, "0.0.0.0/1", 1) == 0 && ins(t, "128.0.0.0/1", 2) == 0 &&
	          ins(t, "255.0.0.0/8", 3) == 0 && ins(t, "255.255.255.0/24", 4) == 0 &&
	          ins(t, "255.255.255.255/32", 5) == 0 && ins(t, "255.254.0.0/16", 6) == 0 &&
	          ins(t, "255.255.255.128/25", 7) == 0 && ins(t, "200.0.0.0/8", 8) == 0 &&
	          mg_allowedips_commit(t) == 0,
	      "insert");
	EXPECT(t, "10.0.0.1", 1);
	EXPECT(t, "127.255.255.255", 1);
	EXPECT(t, "128.0.0.0", 2);
	EXPECT(t, "200.1.1.1", 8);
	EXPECT(t, "255.1.1.1", 3);
	EXPECT(t, "255.254.1.1", 6); /* a longer route in the copy beats the /8 */
	EXPECT(t, "255.255.255.7", 4);
	EXPECT(t, "255.255.255.200", 7);
	EXPECT(t, "255.255.255.255", 5);
	CHECK(rem(t, "255.255.255.128/25") == 0 && rem(t, "255.255.255.255/32") == 0 &&
	          mg_allowedips_commit(t) == 0,
	      "remove the longest");
	EXPECT(t, "255.255.255.255", 4);
	EXPECT(t, "255.255.255.200", 4);
	CHECK(rem(t, "255.255.255.0/24") == 0 && rem(t, "255.0.0.0/8") == 0 &&
	          mg_allowedips_commit(t) == 0,
	      "remove the middle");
	EXPECT(t, "255.255.255.255", 2);
	EXPECT(t, "255.254.1.1", 6);
	CHECK(ins(t, "255.255.255.255/32", 9) == 0, "a host at the very top");
	EXPECT(t, "255.255.255.255", 9); /* in place, like /0 */
	CHECK(mg_allowedips_remove_peer(t, 2) == 1 && mg_allowedips_commit(t) == 0, "remove 2");
	EXPECT(t, "130.0.0.1", NONE);
	EXPECT(t, "255.255.255.255", 9);
	uint32_t peer = NONE;
	CHECK(mg_allowedips_get(t, AF_INET, (uint8_t[]){255, 255, 255, 255}, 32, &peer) == 0 &&
	          peer == 9,
	      "get");
	mg_allowedips_free(t);
}

/* Prefixes clustered under a few bases (so they nest), all-ones IPv4 ones among them. */
static void random_entry(struct mg_allowedips_entry *e, unsigned peers)
{
	static const uint8_t bases[4][4] = {
	    {10, 1, 0, 0}, {255, 255, 255, 0}, {0, 0, 0, 0}, {192, 168, 7, 0}};
	bool v6 = rnd() % 3 == 0;
	unsigned bits = v6 ? 128 : 32;

	memset(e, 0, sizeof(*e));
	e->family = v6 ? AF_INET6 : AF_INET;
	test_rng(&rng_state, e->addr, sizeof(e->addr));
	unsigned keep = (unsigned)(rnd() % (bits / 2));
	if (v6) {
		e->addr[0] = 0x20;
		e->addr[1] = (uint8_t)(rnd() % 4);
	} else {
		memcpy(e->addr, bases[rnd() % 4], 4 - (keep < 16));
		if (rnd() % 8 == 0) /* all ones */
			memset(e->addr, 0xff, 4);
	}
	e->len = (uint8_t)(rnd() % 10 == 0 ? bits : 1 + rnd() % bits);
	e->peer = (uint32_t)(rnd() % peers);
}

struct listing {
	unsigned count;
	uint64_t sum;
};

static int list_one(void *ctx, int family, const uint8_t *addr, uint8_t len)
{
	struct listing *l = ctx;
	l->count++;
	l->sum += (uint64_t)family * 131 + len;
	for (unsigned i = 0; i < 16; i++)
		l->sum = l->sum * 31 + addr[i] * (family == AF_INET6 || i < 4);
	return 0;
}

static unsigned compare_tables(struct mg_allowedips *a, struct mg_allowedips *b, unsigned peers)
{
	enum { BURST = 64 };
	unsigned wrong = 0;

	for (unsigned round = 0; round < 200; round++) {
		struct mg_allowedips_entry q[BURST];
		uint32_t ip4[BURST], got_a[BURST], got_b[BURST];
		const uint8_t *ip6[BURST];
		for (unsigned i = 0; i < BURST; i++) {
			random_entry(&q[i], 1);
			ip4[i] = (uint32_t)q[i].addr[0] << 24 | (uint32_t)q[i].addr[1] << 16 |
			         (uint32_t)q[i].addr[2] << 8 | q[i].addr[3];
			ip6[i] = q[i].addr;
		}
		mg_allowedips_lookup4_bulk(a, ip4, got_a, BURST);
		mg_allowedips_lookup4_bulk(b, ip4, got_b, BURST);
		wrong += memcmp(got_a, got_b, sizeof(got_a)) != 0;
		mg_allowedips_lookup6_bulk(a, ip6, got_a, BURST);
		mg_allowedips_lookup6_bulk(b, ip6, got_b, BURST);
		wrong += memcmp(got_a, got_b, sizeof(got_a)) != 0;
	}
	for (uint32_t p = 0; p < peers; p++) {
		struct listing la = {0}, lb = {0};
		mg_allowedips_for_each(a, p, list_one, &la);
		mg_allowedips_for_each(b, p, list_one, &lb);
		wrong += la.count != lb.count;
	}
	struct mg_allowedips_stats sa, sb;
	mg_allowedips_get_stats(a, &sa);
	mg_allowedips_get_stats(b, &sb);
	wrong += sa.v4_prefixes != sb.v4_prefixes || sa.v6_prefixes != sb.v6_prefixes ||
	         sa.v6_hosts != sb.v6_hosts || sa.peers_with_prefixes != sb.peers_with_prefixes;
	return wrong;
}

static void bulk_against_single(void)
{
	enum { N = 3000, PEERS = 50 };
	struct mg_allowedips_options o = {.socket_id = SOCKET_ID_ANY, .v6_tbl8s = 20000};
	struct mg_allowedips *one = mg_allowedips_create(N, N, &o);
	struct mg_allowedips *bulk = mg_allowedips_create(N, N, &o);
	struct mg_allowedips_entry *e = calloc(N, sizeof(*e));

	CHECK(one && bulk && e, "create");
	if (!one || !bulk || !e)
		goto out;
	for (unsigned round = 0; round < 4; round++) {
		unsigned n = round == 0 ? N / 2 : N / 8;
		for (unsigned i = 0; i < n; i++) {
			random_entry(&e[i], PEERS);
			if (i && rnd() % 10 == 0) { /* the same prefix again, for another peer */
				e[i] = e[rnd() % i];
				e[i].peer = (uint32_t)(rnd() % PEERS);
			}
		}
		int rc1 = 0;
		for (unsigned i = 0; i < n && rc1 == 0; i++)
			rc1 =
			    mg_allowedips_insert(one, e[i].family, e[i].addr, e[i].len, e[i].peer);
		size_t failed = SIZE_MAX;
		int rc2 = mg_allowedips_insert_bulk(bulk, e, n, &failed);
		CHECK(rc1 == 0 && rc2 == 0, "round %u: single %d, bulk %d (entry %zu)", round, rc1,
		      rc2, failed);
		CHECK(mg_allowedips_commit(one) == 0 && mg_allowedips_commit(bulk) == 0, "commit");
		unsigned wrong = compare_tables(one, bulk, PEERS);
		CHECK(wrong == 0, "round %u: %u disagreements between bulk and single inserts",
		      round, wrong);
		uint32_t gone = (uint32_t)(rnd() % PEERS);
		CHECK(mg_allowedips_remove_peer(one, gone) == mg_allowedips_remove_peer(bulk, gone),
		      "remove_peer");
		CHECK(mg_allowedips_commit(one) == 0 && mg_allowedips_commit(bulk) == 0, "commit");
		CHECK(compare_tables(one, bulk, PEERS) == 0, "round %u after remove_peer", round);
	}

	/* A bad entry changes nothing and is named. */
	struct mg_allowedips_stats before, after;
	mg_allowedips_get_stats(bulk, &before);
	e[1].len = 33;
	e[1].family = AF_INET;
	size_t failed = 0;
	CHECK(mg_allowedips_insert_bulk(bulk, e, 3, &failed) == -EINVAL && failed == 1, "bad /33");
	mg_allowedips_get_stats(bulk, &after);
	CHECK(after.v4_prefixes == before.v4_prefixes && after.v6_prefixes == before.v6_prefixes,
	      "nothing changed");
out:
	free(e);
	mg_allowedips_free(one);
	mg_allowedips_free(bulk);
}

/* 200,000 IPv4 /24s in one batch: the copies grow from 1,024 routes, commit rebuilds the old
 * copy; then a small change replays. */
static void large_batch(void)
{
	enum { N = 200000 };
	struct mg_allowedips *t = mg_allowedips_create(N + 16, 16, NULL);
	struct mg_allowedips_entry *e = calloc(N, sizeof(*e));

	CHECK(t && e, "create");
	if (!t || !e)
		goto out;
	for (unsigned i = 0; i < N; i++) {
		uint32_t a = 0x10000000u + i * 256;
		e[i] = (struct mg_allowedips_entry){.family = AF_INET, .len = 24, .peer = i % 1000};
		e[i].addr[0] = (uint8_t)(a >> 24);
		e[i].addr[1] = (uint8_t)(a >> 16);
		e[i].addr[2] = (uint8_t)(a >> 8);
	}
	CHECK(mg_allowedips_insert_bulk(t, e, N, NULL) == 0 && mg_allowedips_commit(t) == 0,
	      "bulk of %u", N);
	EXPECT(t, "16.0.0.1", 0);
	EXPECT(t, "16.3.13.64", (0x030d) % 1000);
	EXPECT(t, "19.13.63.255", (N - 1) % 1000);
	CHECK(ins(t, "16.0.0.0/24", 7) == 0 && ins(t, "16.0.1.5/32", 8) == 0 &&
	          mg_allowedips_commit(t) == 0,
	      "small change after");
	EXPECT(t, "16.0.0.1", 7);
	EXPECT(t, "16.0.1.5", 8);
	EXPECT(t, "16.0.1.6", 1);
	/* Both copies must hold it: a second commit publishes the other one. */
	CHECK(ins(t, "99.0.0.0/8", 9) == 0 && mg_allowedips_commit(t) == 0, "flip");
	EXPECT(t, "16.0.0.1", 7);
	EXPECT(t, "16.0.1.5", 8);
	EXPECT(t, "19.13.63.255", (N - 1) % 1000);
	EXPECT(t, "99.1.1.1", 9);
out:
	free(e);
	mg_allowedips_free(t);
}

int main(int argc, char **argv)
{
	(void)argc;
	if (eal_test_init(argv[0], 1, 2048) != 0)
		return 1;
	all_ones_routes();
	bulk_against_single();
	large_batch();
	eal_test_cleanup();
	return check_done("allowedips_bulk");
}
