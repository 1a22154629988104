// SPDX-License-Identifier: GPL-2.0-only
/*
 * The map diff engine against a model device: the sink keeps its own peer table and prefix
 * ownership, checks on every call that no prefix is ever held by two peers at once, and logs
 * the calls so each test asserts exactly which peers were touched and in what order.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "coord_client.h"
#include "keys.h"
#include "netmap_apply.h"

#define MAX_DEV_PEERS 10100
#define MAX_LOG       64

struct dev_peer {
	uint8_t key[WG_KEY_LEN];
	struct mg_prefix ips[16];
	size_t n_ips;
	struct mg_sockaddr endpoint;
	bool used;
};

struct dev {
	struct dev_peer peers[MAX_DEV_PEERS];
	char log[MAX_LOG][32];
	size_t n_log, calls;
	unsigned double_owner; /* a prefix held by two peers after some call */
	unsigned bad_op;       /* add of a present peer, update/remove of an absent one */
	int fail_add_key;      /* key[0] whose add fails, -1: none */
	bool self_set;
	struct mg_netmap_self self;
};

static struct dev *dev_new(void)
{
	struct dev *d = calloc(1, sizeof(*d));

	d->fail_add_key = -1;
	return d;
}

static struct dev_peer *dev_find(struct dev *d, const uint8_t *key)
{
	for (size_t i = 0; i < MAX_DEV_PEERS; i++)
		if (d->peers[i].used && memcmp(d->peers[i].key, key, WG_KEY_LEN) == 0)
			return &d->peers[i];
	return NULL;
}

static void dev_log(struct dev *d, char op, const uint8_t *key)
{
	d->calls++;
	if (d->n_log < MAX_LOG)
		snprintf(d->log[d->n_log++], sizeof(d->log[0]), "%c%u", op, key[0]);
}

static void dev_check_owners(struct dev *d)
{
	for (size_t i = 0; i < MAX_DEV_PEERS; i++) {
		if (!d->peers[i].used)
			continue;
		for (size_t k = i + 1; k < MAX_DEV_PEERS; k++) {
			if (!d->peers[k].used)
				continue;
			for (size_t a = 0; a < d->peers[i].n_ips; a++)
				for (size_t b = 0; b < d->peers[k].n_ips; b++)
					if (mg_prefix_cmp(&d->peers[i].ips[a],
					                  &d->peers[k].ips[b]) == 0)
						d->double_owner++;
		}
	}
}

static void dev_store(struct dev_peer *p, const struct mg_netmap_peer *np)
{
	memcpy(p->key, np->public_key, WG_KEY_LEN);
	p->n_ips = np->n_allowed_ips < 16 ? np->n_allowed_ips : 16;
	if (p->n_ips) /* allowed_ips is NULL when empty */
		memcpy(p->ips, np->allowed_ips, p->n_ips * sizeof(p->ips[0]));
	p->endpoint = np->n_endpoints ? np->endpoints[0] : (struct mg_sockaddr){0};
	p->used = true;
}

static bool small_dev; /* the owner check is quadratic: off for the 10k case */

static int dev_add(void *ctx, const struct mg_netmap_peer *np)
{
	struct dev *d = ctx;

	dev_log(d, '+', np->public_key);
	if (np->public_key[0] == d->fail_add_key)
		return -EIO;
	if (dev_find(d, np->public_key)) {
		d->bad_op++;
		return -EEXIST;
	}
	for (size_t i = 0; i < MAX_DEV_PEERS; i++) {
		if (!d->peers[i].used) {
			dev_store(&d->peers[i], np);
			break;
		}
	}
	if (small_dev)
		dev_check_owners(d);
	return 0;
}

static int dev_update(void *ctx, const struct mg_netmap_peer *old, const struct mg_netmap_peer *np)
{
	struct dev *d = ctx;
	struct dev_peer *p = dev_find(d, np->public_key);

	dev_log(d, '~', np->public_key);
	if (!p || memcmp(old->public_key, np->public_key, WG_KEY_LEN) != 0) {
		d->bad_op++;
		return -ENOENT;
	}
	dev_store(p, np);
	if (small_dev)
		dev_check_owners(d);
	return 0;
}

static int dev_remove(void *ctx, const struct mg_netmap_peer *np)
{
	struct dev *d = ctx;
	struct dev_peer *p = dev_find(d, np->public_key);

	dev_log(d, '-', np->public_key);
	if (!p) {
		d->bad_op++;
		return -ENOENT;
	}
	p->used = false;
	return 0;
}

static int dev_self(void *ctx, const struct mg_netmap_self *old, const struct mg_netmap_self *s)
{
	struct dev *d = ctx;

	(void)old;
	d->calls++;
	d->self_set = true;
	d->self.n_addresses = s->n_addresses;
	memcpy(d->self.addresses, s->addresses, sizeof(s->addresses));
	return 0;
}

static const struct mg_netmap_sink sink = {dev_add, dev_update, dev_remove, dev_self, NULL};

static void dev_reset_log(struct dev *d)
{
	d->n_log = 0;
	d->calls = 0;
}

/* "+1 ~2 -3": the call log as one string. */
static const char *dev_trace(struct dev *d)
{
	static char buf[MAX_LOG * 8];

	buf[0] = '\0';
	for (size_t i = 0; i < d->n_log; i++) {
		if (i)
			strcat(buf, " ");
		strcat(buf, d->log[i]);
	}
	return buf;
}

/* ---- building updates ---- */

static void set_key(uint8_t key[WG_KEY_LEN], unsigned n)
{
	memset(key, 0, WG_KEY_LEN);
	key[0] = (uint8_t)(n & 0xff);
	key[1] = (uint8_t)(n >> 8);
	key[31] = 0x42;
}

static struct mg_prefix pfx(const char *s)
{
	struct mg_prefix p;

	if (mg_prefix_parse(s, &p) != 0)
		abort();
	return p;
}

/* A peer n with overlay 100.64.x.y/32 plus extra prefixes (NULL-terminated list). */
static void make_peer(struct mg_netmap_peer *p, unsigned n, const char *endpoint, bool online,
                      const char *const *extra)
{
	char a[32];
	size_t k = 1, i;

	memset(p, 0, sizeof(*p));
	set_key(p->public_key, n);
	p->id = n;
	snprintf(p->name, sizeof(p->name), "node%u", n);
	snprintf(a, sizeof(a), "100.64.%u.%u/32", (n >> 8) & 0xff, n & 0xff);
	p->addresses[0] = pfx(a);
	p->n_addresses = 1;
	for (i = 0; extra && extra[i]; i++)
		k++;
	p->map_allowed_ips = calloc(k, sizeof(struct mg_prefix));
	p->map_allowed_ips[0] = p->addresses[0];
	for (i = 0; extra && extra[i]; i++)
		p->map_allowed_ips[i + 1] = pfx(extra[i]);
	p->n_map_allowed_ips = k;
	if (endpoint) {
		mg_sockaddr_parse(endpoint, &p->endpoints[0]);
		p->n_endpoints = 1;
	}
	p->online = online;
}

static void update_init(struct mg_netmap_update *u, enum mg_netmap_update_kind kind, uint64_t seq,
                        size_t n_peers, size_t n_removed)
{
	memset(u, 0, sizeof(*u));
	u->kind = kind;
	u->seq = seq;
	u->peers = calloc(n_peers + 1, sizeof(*u->peers));
	u->n_peers = n_peers;
	u->removed = calloc(n_removed + 1, WG_KEY_LEN);
	u->n_removed = n_removed;
}

static bool dev_has_prefix(struct dev *d, unsigned n, const char *prefix)
{
	uint8_t key[WG_KEY_LEN];
	struct dev_peer *p;
	struct mg_prefix want = pfx(prefix);

	set_key(key, n);
	p = dev_find(d, key);
	for (size_t i = 0; p && i < p->n_ips; i++)
		if (mg_prefix_cmp(&p->ips[i], &want) == 0)
			return true;
	return false;
}

static const int64_t NOW = 1700000000;

/* ---- tests ---- */

static void test_add_update_remove(void)
{
	struct mg_netmap_state st;
	struct mg_netmap_update u;
	struct dev *d = dev_new();
	uint8_t key[WG_KEY_LEN];

	small_dev = true;
	mg_netmap_state_init(&st);
	update_init(&u, MG_NETMAP_DELTA, 1, 0, 0);
	CHECK(mg_netmap_apply(&st, &u, NOW, &sink, d) == -EPROTO, "delta before a full map");
	CHECK(d->calls == 0);
	mg_netmap_update_free(&u);

	update_init(&u, MG_NETMAP_FULL, 1, 3, 0);
	make_peer(&u.peers[0], 3, "192.0.2.3:51820", true, NULL);
	make_peer(&u.peers[1], 1, "192.0.2.1:51820", true, NULL);
	make_peer(&u.peers[2], 2, NULL, false, NULL);
	u.has_self = true;
	set_key(u.self.public_key, 99);
	u.self.addresses[0] = pfx("100.64.0.99/32");
	u.self.n_addresses = 1;
	CHECK(mg_netmap_apply(&st, &u, NOW, &sink, d) == 0);
	CHECK(strcmp(dev_trace(d), "+1 +2 +3") == 0, "adds in key order, got '%s'", dev_trace(d));
	CHECK(d->self_set && d->self.n_addresses == 1, "set_self on the first map");
	CHECK(st.n_peers == 3 && st.stats.added == 3);

	/* The same full map again (a resync): nothing is touched. */
	dev_reset_log(d);
	u.seq = 1;
	CHECK(mg_netmap_apply(&st, &u, NOW, &sink, d) == 0);
	CHECK(d->calls == 0, "identical full map is a no-op, got '%s'", dev_trace(d));
	mg_netmap_update_free(&u);

	/* One delta: remove 3, change 2's endpoint, add 4. */
	dev_reset_log(d);
	update_init(&u, MG_NETMAP_DELTA, 2, 2, 1);
	make_peer(&u.peers[0], 4, "192.0.2.4:51820", true, NULL);
	make_peer(&u.peers[1], 2, "192.0.2.2:51820", true, NULL);
	set_key(u.removed[0], 3);
	CHECK(mg_netmap_apply(&st, &u, NOW, &sink, d) == 0);
	CHECK(strcmp(dev_trace(d), "-3 ~2 +4") == 0, "remove, update, add: got '%s'", dev_trace(d));
	set_key(key, 2);
	CHECK(dev_find(d, key) && dev_find(d, key)->endpoint.port == 51820, "endpoint applied");
	CHECK(st.seq == 2);

	/* The same delta content again with the next seq: entries equal, no calls. */
	dev_reset_log(d);
	u.seq = 3;
	u.n_removed = 0;
	CHECK(mg_netmap_apply(&st, &u, NOW, &sink, d) == 0);
	CHECK(d->calls == 0, "unchanged entries in a delta touch nothing, got '%s'", dev_trace(d));

	/* Out of sequence: refused, nothing changes. */
	u.seq = 9;
	CHECK(mg_netmap_apply(&st, &u, NOW, &sink, d) == -EPROTO, "sequence gap refused");
	CHECK(d->calls == 0 && st.seq == 3);
	mg_netmap_update_free(&u);

	/* A full map with a key twice is malformed; the state stays. */
	update_init(&u, MG_NETMAP_FULL, 1, 2, 0);
	make_peer(&u.peers[0], 7, NULL, true, NULL);
	make_peer(&u.peers[1], 7, NULL, true, NULL);
	CHECK(mg_netmap_apply(&st, &u, NOW, &sink, d) == -EINVAL);
	CHECK(d->calls == 0 && st.n_peers == 3 && st.seq == 3);
	mg_netmap_update_free(&u);

	/* A removal listed twice is malformed too. */
	update_init(&u, MG_NETMAP_DELTA, 4, 0, 2);
	set_key(u.removed[0], 1);
	set_key(u.removed[1], 1);
	CHECK(mg_netmap_apply(&st, &u, NOW, &sink, d) == -EINVAL);
	CHECK(d->calls == 0 && st.n_peers == 3);
	mg_netmap_update_free(&u);

	/* Removing a key that is not there is harmless. */
	update_init(&u, MG_NETMAP_DELTA, 4, 0, 1);
	set_key(u.removed[0], 200);
	CHECK(mg_netmap_apply(&st, &u, NOW, &sink, d) == 0 && d->calls == 0);
	mg_netmap_update_free(&u);

	CHECK(d->bad_op == 0 && d->double_owner == 0);
	mg_netmap_state_free(&st);
	free(d);
}

static void test_allowed_ips(void)
{
	static const char *const a_routes[] = {"10.1.0.0/24", "10.2.0.5/16", "10.2.0.0/16", NULL};
	static const char *const b_routes[] = {"10.3.0.0/24", NULL};
	static const char *const a_after[] = {"10.2.0.0/16", "10.3.0.0/24", NULL};
	static const char *const b_after[] = {"10.1.0.0/24", NULL};
	struct mg_netmap_state st;
	struct mg_netmap_update u;
	struct dev *d = dev_new();

	small_dev = true;
	mg_netmap_state_init(&st);
	update_init(&u, MG_NETMAP_FULL, 1, 3, 0);
	make_peer(&u.peers[0], 1, NULL, true, a_routes);
	make_peer(&u.peers[1], 2, NULL, true, b_routes);
	make_peer(&u.peers[2], 3, NULL, true, NULL);
	CHECK(mg_netmap_apply(&st, &u, NOW, &sink, d) == 0);
	mg_netmap_update_free(&u);
	CHECK(mg_netmap_find(&st, (uint8_t[WG_KEY_LEN]){1, [31] = 0x42})->n_allowed_ips == 3,
	      "host bits cleared and the duplicate 10.2.0.0/16 merged");
	CHECK(dev_has_prefix(d, 1, "10.2.0.0/16") && dev_has_prefix(d, 2, "10.3.0.0/24"));

	/* Swap: 10.1/24 moves a->b and 10.3/24 moves b->a in one delta (a cycle). */
	dev_reset_log(d);
	update_init(&u, MG_NETMAP_DELTA, 2, 2, 0);
	make_peer(&u.peers[0], 1, NULL, true, a_after);
	make_peer(&u.peers[1], 2, NULL, true, b_after);
	CHECK(mg_netmap_apply(&st, &u, NOW, &sink, d) == 0);
	mg_netmap_update_free(&u);
	CHECK(d->double_owner == 0, "a prefix was held by two peers during the swap");
	CHECK(strcmp(dev_trace(d), "~1 ~2 ~1 ~2") == 0, "both shrink, then both grow; got '%s'",
	      dev_trace(d));
	CHECK(dev_has_prefix(d, 1, "10.3.0.0/24") && dev_has_prefix(d, 2, "10.1.0.0/24"));
	CHECK(!dev_has_prefix(d, 1, "10.1.0.0/24") && !dev_has_prefix(d, 2, "10.3.0.0/24"));

	/* Move 10.2/16 from 1 to 3 where 1 has nothing else changing but loses it. */
	dev_reset_log(d);
	update_init(&u, MG_NETMAP_DELTA, 3, 2, 0);
	make_peer(&u.peers[0], 3, NULL, true, (const char *const[]){"10.2.0.0/16", NULL});
	make_peer(&u.peers[1], 1, NULL, true, (const char *const[]){"10.3.0.0/24", NULL});
	CHECK(mg_netmap_apply(&st, &u, NOW, &sink, d) == 0);
	mg_netmap_update_free(&u);
	CHECK(strcmp(dev_trace(d), "~1 ~3") == 0, "giver first, once; got '%s'", dev_trace(d));
	CHECK(dev_has_prefix(d, 3, "10.2.0.0/16") && !dev_has_prefix(d, 1, "10.2.0.0/16"));
	CHECK(d->double_owner == 0 && d->bad_op == 0);
	mg_netmap_state_free(&st);
	free(d);
}

static void test_conflicts_expiry_failures(void)
{
	static const char *const lan[] = {"192.168.10.0/24", NULL};
	struct mg_netmap_state st;
	struct mg_netmap_update u;
	struct dev *d = dev_new();

	small_dev = true;
	mg_netmap_state_init(&st);
	/* Two routers for one LAN: the online one with the lower id owns it. */
	update_init(&u, MG_NETMAP_FULL, 1, 4, 0);
	make_peer(&u.peers[0], 5, NULL, true, lan);
	make_peer(&u.peers[1], 6, NULL, true, lan);
	make_peer(&u.peers[2], 7, NULL, true, NULL);
	make_peer(&u.peers[3], 8, NULL, true, NULL);
	u.peers[2].key_expiry = NOW - 1; /* already expired: never added */
	u.peers[3].key_expiry = NOW + 10;
	u.has_self = true;
	set_key(u.self.public_key, 6); /* our own key in the peer list is ignored */
	CHECK(mg_netmap_apply(&st, &u, NOW, &sink, d) == 0);
	mg_netmap_update_free(&u);
	CHECK(strcmp(dev_trace(d), "+5 +8") == 0, "self and expired left out; got '%s'",
	      dev_trace(d));
	CHECK(st.stats.expired == 1);

	/* Now a second router 9 (lower id than nothing: id 9 > 5) and router 5 goes offline. */
	dev_reset_log(d);
	update_init(&u, MG_NETMAP_DELTA, 2, 2, 0);
	make_peer(&u.peers[0], 9, NULL, true, lan);
	make_peer(&u.peers[1], 5, NULL, false, lan);
	CHECK(mg_netmap_apply(&st, &u, NOW, &sink, d) == 0);
	mg_netmap_update_free(&u);
	CHECK(st.stats.conflicts == 1);
	CHECK(dev_has_prefix(d, 9, "192.168.10.0/24") && !dev_has_prefix(d, 5, "192.168.10.0/24"),
	      "the online router owns the LAN");
	CHECK(strcmp(dev_trace(d), "~5 +9") == 0, "offline owner shrinks first; got '%s'",
	      dev_trace(d));

	/* Expiry without the coordinator: 8 goes at NOW+10. */
	dev_reset_log(d);
	CHECK(mg_netmap_expire(&st, NOW + 5, &sink, d) == 0 && d->calls == 0);
	CHECK(mg_netmap_expire(&st, NOW + 10, &sink, d) == 0);
	CHECK(strcmp(dev_trace(d), "-8") == 0, "expired peer removed; got '%s'", dev_trace(d));

	/* A failed add is not believed: the next reconcile retries it. */
	dev_reset_log(d);
	d->fail_add_key = 11;
	update_init(&u, MG_NETMAP_DELTA, 3, 1, 0);
	make_peer(&u.peers[0], 11, NULL, true, NULL);
	CHECK(mg_netmap_apply(&st, &u, NOW + 10, &sink, d) == 0);
	mg_netmap_update_free(&u);
	CHECK(strcmp(dev_trace(d), "+11") == 0, "only the failing add; got '%s'", dev_trace(d));
	CHECK(st.stats.sink_errors == 1 &&
	      !mg_netmap_find(&st, (uint8_t[WG_KEY_LEN]){11, [31] = 0x42}));
	d->fail_add_key = -1;
	dev_reset_log(d);
	CHECK(mg_netmap_expire(&st, NOW + 10, &sink, d) == 0);
	CHECK(strcmp(dev_trace(d), "+11") == 0, "retried add; got '%s'", dev_trace(d));

	/* Clear: every peer goes. */
	dev_reset_log(d);
	CHECK(mg_netmap_clear(&st, &sink, d) == 0);
	CHECK(st.n_peers == 0 && strcmp(dev_trace(d), "-5 -9 -11") == 0, "got '%s'", dev_trace(d));
	CHECK(d->bad_op == 0 && d->double_owner == 0);
	mg_netmap_state_free(&st);
	free(d);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static void test_ten_thousand(void)
{
	enum { N = 10000 };
	static const char *const routes[] = {"10.200.0.0/24", NULL};
	struct mg_netmap_state st;
	struct mg_netmap_update u;
	struct dev *d = dev_new();
	char ep[32];
	double t0, full_ms, delta_ms;

	small_dev = false;
	mg_netmap_state_init(&st);
	update_init(&u, MG_NETMAP_FULL, 1, N, 0);
	for (unsigned i = 0; i < N; i++) {
		snprintf(ep, sizeof(ep), "198.18.%u.%u:51820", (i >> 8) & 0xff, i & 0xff);
		make_peer(&u.peers[i], i + 1, ep, true, i == 0 ? routes : NULL);
	}
	t0 = now_ms();
	CHECK(mg_netmap_apply(&st, &u, NOW, &sink, d) == 0);
	full_ms = now_ms() - t0;
	mg_netmap_update_free(&u);
	CHECK(d->calls == N && st.n_peers == N, "10k adds, got %zu", d->calls);

	/* One peer's endpoint changes: exactly that peer is touched. */
	dev_reset_log(d);
	update_init(&u, MG_NETMAP_DELTA, 2, 1, 0);
	make_peer(&u.peers[0], 4242, "203.0.113.7:41641", true, NULL);
	t0 = now_ms();
	CHECK(mg_netmap_apply(&st, &u, NOW, &sink, d) == 0);
	delta_ms = now_ms() - t0;
	mg_netmap_update_free(&u);
	CHECK(d->calls == 1, "one-peer delta touched %zu peers", d->calls);
	CHECK(strcmp(dev_trace(d), "~146") == 0, "the peer with key[0]=4242&0xff; got '%s'",
	      dev_trace(d));

	/* One removal, then a no-change resync with the full map minus that peer. */
	dev_reset_log(d);
	update_init(&u, MG_NETMAP_DELTA, 3, 0, 1);
	set_key(u.removed[0], 17);
	CHECK(mg_netmap_apply(&st, &u, NOW, &sink, d) == 0);
	mg_netmap_update_free(&u);
	CHECK(d->calls == 1 && st.n_peers == N - 1);
	CHECK(d->bad_op == 0);
	printf("10k peers: full map %.1f ms, one-peer delta %.1f ms\n", full_ms, delta_ms);
	mg_netmap_state_free(&st);
	free(d);
}

/* A peer that claims another peer's (or our own) overlay address never gets it. */
static void test_own_addresses(void)
{
	static const char *const steal[] = {"100.64.0.9/32", "100.64.0.2/32", NULL};
	struct mg_netmap_state st;
	struct mg_netmap_update u;
	struct dev *d = dev_new();

	mg_netmap_state_init(&st);
	update_init(&u, MG_NETMAP_FULL, 1, 2, 0);
	make_peer(&u.peers[0], 3, NULL, true, steal); /* online, lower id: would win a tie */
	make_peer(&u.peers[1], 9, NULL, false, NULL);
	u.has_self = true;
	set_key(u.self.public_key, 2);
	u.self.addresses[0] = pfx("100.64.0.2/32");
	u.self.n_addresses = 1;
	CHECK(mg_netmap_apply(&st, &u, NOW, &sink, d) == 0);
	mg_netmap_update_free(&u);
	CHECK(dev_has_prefix(d, 9, "100.64.0.9/32") && !dev_has_prefix(d, 3, "100.64.0.9/32"),
	      "peer 9 keeps its own address");
	CHECK(!dev_has_prefix(d, 3, "100.64.0.2/32"), "our own address is routed to nobody");
	CHECK(dev_has_prefix(d, 3, "100.64.0.3/32"));
	mg_netmap_state_free(&st);
	free(d);
}

/*
 * A route to another peer's own address loses even when that peer does not list the address
 * in its allowed IPs, and whichever comes first: here the route arrives in the full map and
 * the owner later in a delta (fuzz_map_stream found the order mattered).
 */
static void test_own_address_in_later_delta(void)
{
	static const char *const route[] = {"100.64.0.9/32", NULL};
	struct mg_netmap_state st;
	struct mg_netmap_update u;
	struct dev *d = dev_new();

	mg_netmap_state_init(&st);
	update_init(&u, MG_NETMAP_FULL, 1, 1, 0);
	make_peer(&u.peers[0], 3, NULL, true, route);
	CHECK(mg_netmap_apply(&st, &u, NOW, &sink, d) == 0);
	mg_netmap_update_free(&u);
	CHECK(dev_has_prefix(d, 3, "100.64.0.9/32"), "nobody owns 100.64.0.9 yet: the route holds");
	update_init(&u, MG_NETMAP_DELTA, 2, 1, 0);
	make_peer(&u.peers[0], 9, NULL, false, NULL);
	u.peers[0].n_map_allowed_ips = 0; /* its own address only, not in its allowed IPs */
	CHECK(mg_netmap_apply(&st, &u, NOW, &sink, d) == 0);
	mg_netmap_update_free(&u);
	CHECK(!dev_has_prefix(d, 3, "100.64.0.9/32"),
	      "peer 3 loses the route to peer 9's own address once peer 9 exists");
	mg_netmap_state_free(&st);
	free(d);
}

/* One map-stream peer as the coordinator writes it; allowed is the allowed_ips list's inside. */
static void peer_json(char *out, size_t cap, unsigned n, bool online, const char *allowed)
{
	uint8_t key[WG_KEY_LEN];
	char b64[WG_KEY_B64_SIZE];

	set_key(key, n);
	wg_key_to_base64(b64, key);
	snprintf(out, cap,
	         "{\"key\":\"%s\",\"id\":%u,\"name\":\"node%u\",\"addresses\":[\"100.64.0.%u/32\"],"
	         "\"allowed_ips\":[%s],\"endpoints\":[],\"online\":%s,\"key_expiry\":0}",
	         b64, n, n, n, allowed, online ? "true" : "false");
}

static void apply_line(struct mg_netmap_state *st, struct dev *d, const char *line)
{
	struct mg_netmap_update u;
	char type[32], err[256];

	CHECK(mg_coord_parse_line(line, strlen(line), &u, type, sizeof(type), err, sizeof(err)) ==
	          1,
	      "stream line parses: %s", err);
	CHECK(mg_netmap_apply(st, &u, NOW, &sink, d) == 0, "stream line applies");
	mg_netmap_update_free(&u);
}

/*
 * fuzz_map_stream's finding, as a stream through the parser: peer b routes peer c's own
 * address (100.64.0.c/32). Whichever comes first (b's route in the full map and c in a delta,
 * or the reverse), whether c is online, whether c lists its own address in its allowed IPs,
 * and whichever key sorts first, b never holds that prefix while c exists.
 */
static void test_own_address_stream_orders(void)
{
	static const unsigned pairs[2][2] = {{3, 9}, {9, 3}};
	char self[200], pb[512], pc[512], line[1400], self_b64[WG_KEY_B64_SIZE];
	uint8_t self_key[WG_KEY_LEN];

	small_dev = true;
	set_key(self_key, 1);
	wg_key_to_base64(self_b64, self_key);
	snprintf(self, sizeof(self),
	         "\"self\":{\"key\":\"%s\",\"id\":1,\"name\":\"gw\",\"addresses\":"
	         "[\"100.64.0.1/32\"],\"routes\":[]}",
	         self_b64);
	for (int v = 0; v < 16; v++) {
		unsigned b = pairs[v & 1][0], c = pairs[v & 1][1];
		bool route_first = v & 2, c_online = v & 4, c_lists = v & 8;
		char allowed[96], c_addr[32];
		struct mg_netmap_state st;
		struct dev *d = dev_new();

		snprintf(c_addr, sizeof(c_addr), "100.64.0.%u/32", c);
		/* b lists its own address and the route; c its own address or nothing. */
		snprintf(allowed, sizeof(allowed), "\"100.64.0.%u/32\",\"%s\"", b, c_addr);
		peer_json(pb, sizeof(pb), b, true, allowed);
		snprintf(allowed, sizeof(allowed), c_lists ? "\"%s\"" : "", c_addr);
		peer_json(pc, sizeof(pc), c, c_online, allowed);
		mg_netmap_state_init(&st);
		if (route_first) {
			snprintf(line, sizeof(line),
			         "{\"type\":\"full\",\"seq\":1,%s,\"peers\":[%s]}", self, pb);
			apply_line(&st, d, line);
			CHECK(dev_has_prefix(d, b, c_addr), "case %d: no owner yet, b routes %s", v,
			      c_addr);
			snprintf(line, sizeof(line),
			         "{\"type\":\"delta\",\"seq\":2,\"peers_changed\":[%s]}", pc);
		} else {
			snprintf(line, sizeof(line),
			         "{\"type\":\"full\",\"seq\":1,%s,\"peers\":[%s]}", self, pc);
			apply_line(&st, d, line);
			snprintf(line, sizeof(line),
			         "{\"type\":\"delta\",\"seq\":2,\"peers_changed\":[%s]}", pb);
		}
		apply_line(&st, d, line);
		CHECK(!dev_has_prefix(d, b, c_addr), "case %d: b (%u) lost c's (%u) own address", v,
		      b, c);
		CHECK(dev_has_prefix(d, c, c_addr) == c_lists,
		      "case %d: c holds its own address exactly when it lists it", v);
		CHECK(d->double_owner == 0 && d->bad_op == 0, "case %d: one owner per prefix", v);
		/* A full map again in the other order changes nothing. */
		snprintf(line, sizeof(line), "{\"type\":\"full\",\"seq\":3,%s,\"peers\":[%s,%s]}",
		         self, route_first ? pc : pb, route_first ? pb : pc);
		apply_line(&st, d, line);
		CHECK(!dev_has_prefix(d, b, c_addr),
		      "case %d: after a full map, b still without it", v);
		mg_netmap_state_free(&st);
		free(d);
	}
	small_dev = false;
}

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	test_add_update_remove();
	test_allowed_ips();
	test_conflicts_expiry_failures();
	test_own_addresses();
	test_own_address_in_later_delta();
	test_own_address_stream_orders();
	test_ten_thousand();
	return check_done("netmap_apply");
}
