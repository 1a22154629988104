// SPDX-License-Identifier: GPL-2.0-only
/* The policy filter's flow table (flow.h): one rte_hash per owner, timestamps beside it. */
#include "flow.h"

#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <rte_common.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_malloc.h>
#include <rte_prefetch.h>
#include <rte_random.h>
#include <rte_rcu_qsbr.h>

#include "dp_config.h"

#define NS         1000000000ull
#define MAX_OWNERS (MG_MAX_WORKERS + 1)

struct owner {
	struct rte_hash *h;
	/* Last packet of the flow at each key position, monotonic ns. Any reader refreshes it
	 * (relaxed); the owner sets it when it adds the key. */
	_Atomic uint64_t *last_ns;
	uint32_t entries;
	uint32_t iter; /* expiry scan: the next key position to look at */
	_Atomic uint32_t count;
} __rte_cache_aligned;

struct mg_flows {
	unsigned n_owners;
	bool rcu; /* deleted keys are recycled by the hash's defer queue; else at once */
	size_t bytes;
	uint32_t hash_init;
	struct owner o[MAX_OWNERS];
};

static void fail(char *err, size_t errlen, const char *what)
{
	if (err && errlen)
		snprintf(err, errlen, "%s", what);
}

static uint64_t timeout_ns(uint8_t family, uint8_t proto)
{
	if (proto == MG_IPPROTO_TCP)
		return MG_FLOW_TCP_TIMEOUT_S * NS;
	if (proto == MG_IPPROTO_UDP)
		return MG_FLOW_UDP_TIMEOUT_S * NS;
	if ((family == 4 && proto == MG_IPPROTO_ICMP) ||
	    (family == 6 && proto == MG_IPPROTO_ICMPV6))
		return MG_FLOW_ICMP_TIMEOUT_S * NS;
	return MG_FLOW_OTHER_TIMEOUT_S * NS;
}

/* Every owner hashes with rte_hash_crc and the same seed (mg_flows_create), so a key's signature
 * is computed here inline, without a call through the hash's function pointer or a load of its
 * parameters: its cache line is cold when a burst's replies come to be looked up. */
static hash_sig_t flow_sig(const struct mg_flows *f, const struct mg_flow_key *k)
{
	return rte_hash_crc(k, sizeof(*k), f->hash_init);
}

/* rte_hash compares keys of sizes other than 16, 32, 48... with memcmp, through a PLT call; the
 * key has a fixed size and alignment, so five word compares do. 0: equal. */
static int flow_key_cmp(const void *a, const void *b, size_t len)
{
	uint64_t x[sizeof(struct mg_flow_key) / 8], y[sizeof(struct mg_flow_key) / 8], d = 0;
	(void)len;
	memcpy(x, a, sizeof(x));
	memcpy(y, b, sizeof(y));
	for (size_t i = 0; i < RTE_DIM(x); i++)
		d |= x[i] ^ y[i];
	return d != 0;
}
_Static_assert(sizeof(struct mg_flow_key) % 8 == 0, "flow_key_cmp compares whole words");

static int owner_init(struct mg_flows *f, unsigned id, uint32_t entries, struct rte_rcu_qsbr *rcu)
{
	static _Atomic unsigned instances;
	struct owner *o = &f->o[id];
	char name[RTE_HASH_NAMESIZE];

	snprintf(name, sizeof(name), "mgfl%u_%u", atomic_fetch_add(&instances, 1), id);
	struct rte_hash_parameters hp = {
	    .name = name,
	    .entries = entries,
	    .key_len = sizeof(struct mg_flow_key),
	    .hash_func = rte_hash_crc,
	    .hash_func_init_val = f->hash_init,
	    .socket_id = SOCKET_ID_ANY,
	    .extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF | RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	o->h = rte_hash_create(&hp);
	if (!o->h)
		return -1;
	rte_hash_set_cmp_func(o->h, flow_key_cmp);
	if (rcu) {
		struct rte_hash_rcu_config rc = {.v = rcu, .mode = RTE_HASH_QSBR_MODE_DQ};
		if (rte_hash_rcu_qsbr_add(o->h, &rc) != 0)
			return -1;
	}
	/* Key positions run from 0 to entries - 1; one spare costs nothing. */
	o->entries = entries;
	o->last_ns =
	    rte_zmalloc("mg_flow_ts", (entries + 1) * sizeof(*o->last_ns), RTE_CACHE_LINE_SIZE);
	if (!o->last_ns)
		return -1;
	f->bytes += (entries + 1) * sizeof(*o->last_ns) +
	            (size_t)entries * (sizeof(struct mg_flow_key) + 32);
	return 0;
}

struct mg_flows *mg_flows_create(unsigned n_owners, uint32_t max_flows, struct rte_rcu_qsbr *rcu,
                                 char *err, size_t errlen)
{
	uint32_t total = max_flows ? max_flows : MG_FLOW_DEFAULT_MAX;

	if (n_owners == 0 || n_owners > MAX_OWNERS || total < MG_FLOW_MIN || total > MG_FLOW_MAX) {
		fail(err, errlen, "flow table: bad size or owner count");
		return NULL;
	}
	struct mg_flows *f = rte_zmalloc("mg_flows", sizeof(*f), RTE_CACHE_LINE_SIZE);
	if (!f) {
		fail(err, errlen, "flow table: no memory");
		return NULL;
	}
	f->n_owners = n_owners;
	f->rcu = rcu != NULL;
	f->bytes = sizeof(*f);
	/* One seed for every owner: a key's hash is computed once and probes them all. */
	f->hash_init = (uint32_t)rte_rand();
	uint32_t per = total / n_owners < 8 ? 8 : total / n_owners;
	for (unsigned i = 0; i < n_owners; i++) {
		if (owner_init(f, i, per, rcu) != 0) {
			fail(err, errlen, "flow table: no memory for the hashes");
			mg_flows_free(f);
			return NULL;
		}
	}
	return f;
}

void mg_flows_free(struct mg_flows *f)
{
	if (!f)
		return;
	for (unsigned i = 0; i < f->n_owners; i++) {
		rte_hash_free(f->o[i].h);
		rte_free(f->o[i].last_ns);
	}
	rte_free(f);
}

unsigned mg_flows_owners(const struct mg_flows *f)
{
	return f->n_owners;
}

uint32_t mg_flows_count(const struct mg_flows *f)
{
	uint32_t n = 0;
	for (unsigned i = 0; i < f->n_owners; i++)
		n += atomic_load_explicit(&f->o[i].count, memory_order_relaxed);
	return n;
}

size_t mg_flows_memory(const struct mg_flows *f)
{
	return f->bytes;
}

static void touch(struct owner *o, int32_t pos, uint64_t now_ns)
{
	/* Once a second at most: a flow seen by several workers would otherwise bounce the line
	 * between them on every packet. */
	uint64_t last = atomic_load_explicit(&o->last_ns[pos], memory_order_relaxed);
	if (now_ns > last + NS || now_ns < last)
		atomic_store_explicit(&o->last_ns[pos], now_ns, memory_order_relaxed);
}

/* The owner holding a live k and its position, starting with first; -1 when none. */
static int find(struct mg_flows *f, unsigned first, const struct mg_flow_key *k, uint64_t now_ns,
                int32_t *pos)
{
	hash_sig_t sig = flow_sig(f, k);
	for (unsigned n = 0; n < f->n_owners; n++) {
		unsigned i = (first + n) % f->n_owners;
		if (atomic_load_explicit(&f->o[i].count, memory_order_acquire) == 0)
			continue; /* as in mg_flows_lookup_bulk */
		int32_t p = rte_hash_lookup_with_hash(f->o[i].h, k, sig);
		if (p < 0)
			continue;
		uint64_t last = atomic_load_explicit(&f->o[i].last_ns[p], memory_order_relaxed);
		if (now_ns >= last && now_ns - last > timeout_ns(k->family, k->proto))
			continue; /* expired, not yet collected */
		*pos = p;
		return (int)i;
	}
	return -1;
}

void mg_flows_track(struct mg_flows *f, unsigned owner, const struct mg_pkt_tuple *t,
                    uint64_t now_ns, struct mg_flow_counters *c)
{
	struct mg_flow_key k;
	int32_t pos;

	if (t->later_fragment || t->icmp_error || owner >= f->n_owners)
		return;
	/* ICMP other than echo has no reply to wait for. */
	if ((t->key.proto == MG_IPPROTO_ICMP && t->key.family == 4) ||
	    (t->key.proto == MG_IPPROTO_ICMPV6 && t->key.family == 6)) {
		if (!t->echo_request)
			return;
	}
	mg_flow_key_reverse(&t->key, &k);
	int i = find(f, owner, &k, now_ns, &pos);
	if (i >= 0) {
		touch(&f->o[i], pos, now_ns);
		return;
	}
	if (t->key.proto == MG_IPPROTO_TCP && !t->tcp_syn)
		return;
	struct owner *o = &f->o[owner];
	/* An expired entry of our own is still in the hash: reuse its position. */
	pos = rte_hash_lookup(o->h, &k);
	if (pos >= 0) {
		atomic_store_explicit(&o->last_ns[pos], now_ns, memory_order_relaxed);
		c->created++;
		return;
	}
	pos = rte_hash_add_key(o->h, &k);
	if (pos < 0 || (uint32_t)pos > o->entries) {
		c->full++;
		return;
	}
	atomic_store_explicit(&o->last_ns[pos], now_ns, memory_order_relaxed);
	atomic_fetch_add_explicit(&o->count, 1, memory_order_release);
	c->created++;
}

bool mg_flows_lookup(struct mg_flows *f, const struct mg_flow_key *k, uint64_t now_ns)
{
	int32_t pos;
	int i = find(f, 0, k, now_ns, &pos);
	if (i < 0)
		return false;
	touch(&f->o[i], pos, now_ns);
	return true;
}

void mg_flows_lookup_bulk(struct mg_flows *f, const struct mg_flow_key *const *keys, unsigned n,
                          uint64_t now_ns, bool *hit)
{
	const void *left[RTE_HASH_LOOKUP_BULK_MAX];
	hash_sig_t sig[RTE_HASH_LOOKUP_BULK_MAX];
	unsigned idx[RTE_HASH_LOOKUP_BULK_MAX], m = 0;
	int32_t pos[RTE_HASH_LOOKUP_BULK_MAX];

	/* Every owner's hash shares the seed: one signature per key serves them all, where
	 * rte_hash_lookup_bulk would hash the keys again in each owner that misses them. */
	for (unsigned i = 0; i < n && i < RTE_HASH_LOOKUP_BULK_MAX; i++) {
		hit[i] = false;
		idx[m] = i;
		sig[m] = flow_sig(f, keys[i]);
		left[m++] = keys[i];
	}
	for (unsigned o = 0; o < f->n_owners && m; o++) {
		struct owner *ow = &f->o[o];
		unsigned still = 0;
		/* The control thread's table is mostly empty (the gateway itself opens few
		 * flows), and so is a worker's that encrypts nothing: not worth a bulk lookup.
		 * The count goes up after the key is in (release), before the packet that
		 * opened the flow leaves, so its replies cannot find it at 0. */
		if (atomic_load_explicit(&ow->count, memory_order_acquire) == 0)
			continue;
		rte_hash_lookup_with_hash_bulk(ow->h, left, sig, m, pos);
		/* The timestamps live beside the hash: start every hit's load before the first
		 * is needed. */
		for (unsigned j = 0; j < m; j++)
			if (pos[j] >= 0)
				rte_prefetch0(&ow->last_ns[pos[j]]);
		for (unsigned j = 0; j < m; j++) {
			const struct mg_flow_key *k = left[j];
			if (pos[j] >= 0) {
				uint64_t last = atomic_load_explicit(&ow->last_ns[pos[j]],
				                                     memory_order_relaxed);
				if (now_ns < last ||
				    now_ns - last <= timeout_ns(k->family, k->proto)) {
					touch(ow, pos[j], now_ns);
					hit[idx[j]] = true;
					continue;
				}
			}
			idx[still] = idx[j];
			sig[still] = sig[j];
			left[still++] = k;
		}
		m = still;
	}
}

void mg_flows_expire(struct mg_flows *f, unsigned owner, uint64_t now_ns, unsigned budget,
                     struct mg_flow_counters *c)
{
	if (owner >= f->n_owners)
		return;
	struct owner *o = &f->o[owner];
	if (atomic_load_explicit(&o->count, memory_order_relaxed) == 0)
		return;
	/* By key position rather than rte_hash_iterate, which may scan a whole sparse table
	 * in one call: the budget bounds the work whatever the table holds. */
	while (budget--) {
		int32_t pos = (int32_t)o->iter;
		void *key;
		o->iter = o->iter + 1 >= o->entries ? 0 : o->iter + 1;
		if (rte_hash_get_key_with_position(o->h, pos, &key) != 0)
			continue;
		struct mg_flow_key k;
		memcpy(&k, key, sizeof(k));
		uint64_t last = atomic_load_explicit(&o->last_ns[pos], memory_order_relaxed);
		if (now_ns < last || now_ns - last <= timeout_ns(k.family, k.proto))
			continue;
		int32_t del = rte_hash_del_key(o->h, &k);
		if (del < 0)
			continue;
		/* Lock-free mode never frees on delete by itself: with no readers to wait for,
		 * free now; otherwise the hash's defer queue does after the grace period. */
		if (!f->rcu)
			rte_hash_free_key_with_position(o->h, del);
		atomic_fetch_sub_explicit(&o->count, 1, memory_order_relaxed);
		c->expired++;
	}
}
