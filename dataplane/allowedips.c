// SPDX-License-Identifier: GPL-2.0-only
#include "allowedips_int.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <rte_byteorder.h>
#include <rte_branch_prediction.h>
#include <rte_errno.h>
#include <rte_hash.h>
#include <rte_hash_crc.h>
#include <rte_fib.h>
#include <rte_lpm6.h>
#include <rte_malloc.h>
#include <rte_memory.h>
#include <rte_random.h>
#include <rte_rcu_qsbr.h>

#define NIL          AI_NIL
#define MAX_PREFIXES (1u << 24)
#define LOOKUP_CHUNK RTE_HASH_LOOKUP_BULK_MAX

size_t ai_heap_allocated(void)
{
	size_t total = 0;
	for (unsigned i = 0; i < rte_socket_count(); i++) {
		struct rte_malloc_socket_stats s;
		if (rte_malloc_get_socket_stats(rte_socket_id_by_idx(i), &s) == 0)
			total += s.heap_allocsz_bytes;
	}
	return total;
}

/* CRC32-C of a key with byte-safe loads: lookup keys point straight into packets, at any
 * alignment, where rte_hash_crc would dereference them as uint64_t. */
static uint32_t key_hash(const void *data, uint32_t len, uint32_t init)
{
	const uint8_t *p = data;

	for (; len >= 8; len -= 8, p += 8) {
		uint64_t v;
		memcpy(&v, p, 8);
		init = rte_hash_crc_8byte(v, init);
	}
	for (; len >= 4; len -= 4, p += 4) {
		uint32_t v;
		memcpy(&v, p, 4);
		init = rte_hash_crc_4byte(v, init);
	}
	for (; len; len--, p++)
		init = rte_hash_crc_1byte(*p, init);
	return init;
}

static uint32_t at_least(uint32_t v, uint32_t min)
{
	return v < min ? min : v;
}

uint32_t mg_allowedips_default_v4_tbl8s(uint32_t max_v4)
{
	/* One group per /24 holding a longer prefix: never more than one per prefix. */
	return at_least(
	    max_v4 < MG_ALLOWEDIPS_DEFAULT_V4_TBL8S ? max_v4 : MG_ALLOWEDIPS_DEFAULT_V4_TBL8S, 16);
}

uint32_t mg_allowedips_default_v6_tbl8s(uint32_t max_v6)
{
	uint64_t small = 1024 + 4 * (uint64_t)max_v6;
	return small < MG_ALLOWEDIPS_DEFAULT_V6_TBL8S ? (uint32_t)small
	                                              : MG_ALLOWEDIPS_DEFAULT_V6_TBL8S;
}

static int create_v6_hosts(struct mg_allowedips *t, const struct mg_allowedips_options *o,
                           unsigned seq, uint32_t max_v6)
{
	char name[RTE_HASH_NAMESIZE];

	snprintf(name, sizeof(name), "mgai%u_h6", seq);
	struct rte_hash_parameters hp = {
	    .name = name,
	    .entries = at_least(max_v6, 8),
	    .key_len = 16,
	    .hash_func = key_hash,
	    .hash_func_init_val = (uint32_t)rte_rand(),
	    .socket_id = o->socket_id,
	    .extra_flag = RTE_HASH_EXTRA_FLAGS_RW_CONCURRENCY_LF | RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	t->v6_hosts = rte_hash_create(&hp);
	if (!t->v6_hosts)
		return -1;
	if (o->rcu) {
		struct rte_hash_rcu_config rc = {.v = o->rcu, .mode = RTE_HASH_QSBR_MODE_DQ};
		if (rte_hash_rcu_qsbr_add(t->v6_hosts, &rc) != 0)
			return -1;
	}

	return 0;
}

struct mg_allowedips *mg_allowedips_create(uint32_t max_v4, uint32_t max_v6,
                                           const struct mg_allowedips_options *opt)
{
	static unsigned name_seq;
	struct mg_allowedips_options o = {.rcu = NULL, .socket_id = SOCKET_ID_ANY};
	char name[RTE_HASH_NAMESIZE];

	if (opt)
		o = *opt;
	if (max_v4 > MAX_PREFIXES || max_v6 > MAX_PREFIXES || o.v4_tbl8s > MG_MAX_V4_TBL8_GROUPS ||
	    o.v6_tbl8s > MG_MAX_V6_TBL8_GROUPS) {
		rte_errno = EINVAL;
		return NULL;
	}
	struct mg_allowedips *t = calloc(1, sizeof(*t));
	if (!t) {
		rte_errno = ENOMEM;
		return NULL;
	}
	t->v4_default = t->v6_default = MG_ALLOWEDIPS_NO_PEER;
	for (unsigned len = 0; len <= 32; len++)
		t->v4_top_peer[len] = NIL;
	t->rcu = o.rcu;
	t->max_v4 = max_v4;
	t->max_v6 = max_v6;
	t->v4_tbl8s = o.v4_tbl8s ? o.v4_tbl8s : mg_allowedips_default_v4_tbl8s(max_v4);
	t->v6_tbl8s = o.v6_tbl8s ? o.v6_tbl8s : mg_allowedips_default_v6_tbl8s(max_v6);

	size_t heap_before = ai_heap_allocated();
	unsigned seq = __atomic_fetch_add(&name_seq, 1, __ATOMIC_RELAXED);

	t->seq = seq;
	t->socket_id = o.socket_id;
	if (ai_routes_create(t) != 0 || create_v6_hosts(t, &o, seq, max_v6) != 0)
		goto fail;

	snprintf(name, sizeof(name), "mgai%u_s", seq);
	struct rte_hash_parameters sp = {
	    .name = name,
	    .entries = at_least(max_v4 + max_v6, 8),
	    .key_len = sizeof(struct rule_key),
	    .hash_func = key_hash,
	    .socket_id = o.socket_id,
	    .extra_flag = RTE_HASH_EXTRA_FLAGS_EXT_TABLE,
	};
	t->shadow = rte_hash_create(&sp);
	if (!t->shadow)
		goto fail;
	t->dpdk_bytes = ai_heap_allocated() - heap_before;

	t->rule_cap = (uint32_t)rte_hash_max_key_id(t->shadow) + 1;
	t->rules = malloc((size_t)t->rule_cap * sizeof(*t->rules));
	if (!t->rules) {
		rte_errno = ENOMEM;
		goto fail;
	}
	for (uint32_t i = 0; i < t->rule_cap; i++)
		t->rules[i].peer = NIL;
	return t;
fail:;
	int saved = rte_errno ? rte_errno : ENOMEM;
	mg_allowedips_free(t);
	rte_errno = saved;
	return NULL;
}

void mg_allowedips_free(struct mg_allowedips *t)
{
	if (!t)
		return;
	ai_routes_free(t);
	rte_hash_free(t->v6_hosts);
	rte_hash_free(t->shadow);
	free(t->rules);
	free(t->peer_head);
	free(t->log);
	free(t);
}

static bool make_key(int family, const void *addr, uint8_t len, struct rule_key *k)
{
	size_t bytes;

	memset(k, 0, sizeof(*k));
	if (!addr)
		return false;
	if (family == AF_INET && len <= 32)
		bytes = 4;
	else if (family == AF_INET6 && len <= 128)
		bytes = 16;
	else
		return false;
	k->v6 = bytes == 16;
	k->len = len;
	memcpy(k->addr, addr, bytes);
	for (unsigned i = 0; i < 16; i++) {
		int bits = (int)len - 8 * (int)i;
		bits = bits < 0 ? 0 : bits > 8 ? 8 : bits;
		k->addr[i] &= (uint8_t)(0xff00u >> bits);
	}
	return true;
}

static int host_set(struct mg_allowedips *t, const uint8_t addr[16], uint32_t peer)
{
	if (peer != NIL) {
		int rc = rte_hash_add_key_data(t->v6_hosts, addr, (void *)(uintptr_t)peer);
		if (rc == -ENOSPC && t->rcu) {
			/* Slots freed less than a grace period ago are still held: wait once. */
			rte_rcu_qsbr_synchronize(t->rcu, RTE_QSBR_THRID_INVALID);
			rc = rte_hash_add_key_data(t->v6_hosts, addr, (void *)(uintptr_t)peer);
		}
		return rc < 0 ? rc : 0;
	}
	int32_t pos = rte_hash_del_key(t->v6_hosts, addr);
	if (pos < 0)
		return pos;
	/* With the RCU hook the slot is recycled after a grace period; without, nobody reads. */
	if (!t->rcu)
		rte_hash_free_key_with_position(t->v6_hosts, pos);
	return 0;
}

/* Makes the data-path tables map k to peer, or forget k when peer is NIL. */
static int table_set(struct mg_allowedips *t, const struct rule_key *k, uint32_t peer, bool is_new)
{
	if (k->len == 0) {
		__atomic_store_n(k->v6 ? &t->v6_default : &t->v4_default, peer, __ATOMIC_RELEASE);
		return 0;
	}
	if (k->v6 && k->len == 128)
		return host_set(t, k->addr, peer);
	if (ai_v4_top(k)) {
		uint32_t bit = 1u << (k->len - 1);
		/* The peer before the bit, the bit before the peer: a reader sees either answer. */
		if (peer != NIL) {
			__atomic_store_n(&t->v4_top_peer[k->len], peer, __ATOMIC_RELEASE);
			__atomic_fetch_or(&t->v4_top_mask, bit, __ATOMIC_RELEASE);
		} else {
			__atomic_fetch_and(&t->v4_top_mask, ~bit, __ATOMIC_RELEASE);
			__atomic_store_n(&t->v4_top_peer[k->len], NIL, __ATOMIC_RELEASE);
		}
		return 0;
	}
	return ai_route_set(t, k, peer, is_new);
}

static int reserve_peer(struct mg_allowedips *t, uint32_t peer)
{
	if (peer < t->peer_cap)
		return 0;
	uint32_t cap = t->peer_cap ? t->peer_cap : 64;
	while (cap <= peer)
		cap = cap > MG_ALLOWEDIPS_MAX_PEER / 2 ? MG_ALLOWEDIPS_MAX_PEER + 1 : cap * 2;
	uint32_t *head = realloc(t->peer_head, (size_t)cap * sizeof(*head));
	if (!head)
		return -ENOMEM;
	for (uint32_t p = t->peer_cap; p < cap; p++)
		head[p] = NIL;
	t->peer_head = head;
	t->peer_cap = cap;
	return 0;
}

static void peer_link(struct mg_allowedips *t, uint32_t i)
{
	struct rule *r = &t->rules[i];
	uint32_t *head = &t->peer_head[r->peer];

	if (*head == NIL)
		t->peers_with_prefixes++;
	r->prev = NIL;
	r->next = *head;
	if (r->next != NIL)
		t->rules[r->next].prev = i;
	*head = i;
}

static void peer_unlink(struct mg_allowedips *t, uint32_t i)
{
	struct rule *r = &t->rules[i];

	if (r->prev != NIL)
		t->rules[r->prev].next = r->next;
	else
		t->peer_head[r->peer] = r->next;
	if (r->next != NIL)
		t->rules[r->next].prev = r->prev;
	if (t->peer_head[r->peer] == NIL)
		t->peers_with_prefixes--;
}

static void count(struct mg_allowedips *t, const struct rule_key *k, int delta)
{
	if (k->v6) {
		t->n_v6 += (uint32_t)delta;
		if (k->len == 128)
			t->n_v6_hosts += (uint32_t)delta;
	} else {
		t->n_v4 += (uint32_t)delta;
		if (ai_v4_in_copy(k))
			t->n_v4_routes += (uint32_t)delta;
	}
}

int mg_allowedips_insert(struct mg_allowedips *t, int family, const void *addr, uint8_t len,
                         uint32_t peer)
{
	struct rule_key k;
	int rc;

	if (!t || peer > MG_ALLOWEDIPS_MAX_PEER || !make_key(family, addr, len, &k))
		return -EINVAL;
	rc = reserve_peer(t, peer);
	if (rc)
		return rc;

	int32_t pos = rte_hash_lookup(t->shadow, &k);
	if (pos >= 0) {
		struct rule *r = &t->rules[pos];
		if (r->peer == peer)
			return 0;
		rc = table_set(t, &k, peer, false);
		if (rc)
			return rc;
		peer_unlink(t, (uint32_t)pos);
		r->peer = peer;
		peer_link(t, (uint32_t)pos);
		return 0;
	}

	if (k.v6 ? t->n_v6 >= t->max_v6 : t->n_v4 >= t->max_v4)
		return -ENOSPC;
	rc = table_set(t, &k, peer, true);
	if (rc)
		return rc;
	pos = rte_hash_add_key(t->shadow, &k);
	if (pos < 0 || (uint32_t)pos >= t->rule_cap) {
		if (pos >= 0)
			rte_hash_del_key(t->shadow, &k);
		table_set(t, &k, NIL, false);
		return -ENOSPC;
	}
	struct rule *r = &t->rules[pos];
	r->key = k;
	r->peer = peer;
	peer_link(t, (uint32_t)pos);
	count(t, &k, 1);
	return 0;
}

static int remove_rule(struct mg_allowedips *t, uint32_t i)
{
	struct rule *r = &t->rules[i];
	int rc = table_set(t, &r->key, NIL, false);

	if (rc)
		return rc;
	peer_unlink(t, i);
	rte_hash_del_key(t->shadow, &r->key);
	count(t, &r->key, -1);
	r->peer = NIL;
	return 0;
}

int mg_allowedips_remove(struct mg_allowedips *t, int family, const void *addr, uint8_t len)
{
	struct rule_key k;

	if (!t || !make_key(family, addr, len, &k))
		return -EINVAL;
	int32_t pos = rte_hash_lookup(t->shadow, &k);
	if (pos < 0)
		return -ENOENT;
	return remove_rule(t, (uint32_t)pos);
}

int mg_allowedips_remove_peer(struct mg_allowedips *t, uint32_t peer)
{
	int removed = 0;

	if (!t || peer > MG_ALLOWEDIPS_MAX_PEER)
		return -EINVAL;
	while (peer < t->peer_cap && t->peer_head[peer] != NIL) {
		if (remove_rule(t, t->peer_head[peer]) != 0)
			return -EIO;
		removed++;
	}
	return removed;
}

/* Shortest first, input order kept among equal lengths (so a later duplicate still wins). */
static size_t *bulk_order(const struct mg_allowedips_entry *e, size_t n)
{
	size_t at[129] = {0}, total = 0;
	size_t *order = malloc((n ? n : 1) * sizeof(*order));

	if (!order)
		return NULL;
	for (size_t i = 0; i < n; i++)
		at[e[i].len]++;
	for (unsigned len = 0; len < 129; len++) {
		size_t c = at[len];
		at[len] = total;
		total += c;
	}
	for (size_t i = 0; i < n; i++)
		order[at[e[i].len]++] = i;
	return order;
}

int mg_allowedips_insert_bulk(struct mg_allowedips *t, const struct mg_allowedips_entry *e,
                              size_t n, size_t *failed)
{
	struct rule_key k;
	uint64_t new_v4 = 0;

	if (!t || (n && !e))
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (e[i].peer > MG_ALLOWEDIPS_MAX_PEER ||
		    !make_key(e[i].family, e[i].addr, e[i].len, &k)) {
			if (failed)
				*failed = i;
			return -EINVAL;
		}
		new_v4 += ai_v4_in_copy(&k) && rte_hash_lookup(t->shadow, &k) < 0;
	}
	size_t *order = bulk_order(e, n);
	if (!order)
		return -ENOMEM;
	/* One rebuild of the standby IPv4 copy at its final size, not one per doubling. A batch
	 * that does not fit is refused below, prefix by prefix, as single inserts are. */
	uint64_t room = t->max_v4 - t->n_v4_routes;
	int rc = ai_routes_reserve_v4(t, (uint32_t)(new_v4 < room ? new_v4 : room));
	for (size_t j = 0; j < n && rc == 0; j++) {
		const struct mg_allowedips_entry *x = &e[order[j]];
		rc = mg_allowedips_insert(t, x->family, x->addr, x->len, x->peer);
		if (rc && failed)
			*failed = order[j];
	}
	free(order);
	return rc;
}

int mg_allowedips_commit(struct mg_allowedips *t)
{
	return t ? ai_routes_commit(t) : -EINVAL;
}

int mg_allowedips_get(const struct mg_allowedips *t, int family, const void *addr, uint8_t len,
                      uint32_t *peer)
{
	struct rule_key k;

	if (!t || !make_key(family, addr, len, &k))
		return -EINVAL;
	int32_t pos = rte_hash_lookup(t->shadow, &k);
	if (pos < 0)
		return -ENOENT;
	if (peer)
		*peer = t->rules[pos].peer;
	return 0;
}

int mg_allowedips_for_each(const struct mg_allowedips *t, uint32_t peer,
                           int (*fn)(void *ctx, int family, const uint8_t *addr, uint8_t len),
                           void *ctx)
{
	if (!t || !fn || peer >= t->peer_cap)
		return 0;
	for (uint32_t i = t->peer_head[peer]; i != NIL;) {
		const struct rule *r = &t->rules[i];
		uint32_t next = r->next; /* fn must not change the table */
		int rc = fn(ctx, r->key.v6 ? AF_INET6 : AF_INET, r->key.addr, r->key.len);
		if (rc)
			return rc;
		i = next;
	}
	return 0;
}

void mg_allowedips_get_stats(const struct mg_allowedips *t, struct mg_allowedips_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!t)
		return;
	st->v4_prefixes = t->n_v4;
	st->v6_prefixes = t->n_v6;
	st->v6_hosts = t->n_v6_hosts;
	st->peers_with_prefixes = t->peers_with_prefixes;
	st->v4_tbl8s = t->v4_tbl8s;
	st->v6_tbl8s = t->v6_tbl8s;
	st->dpdk_bytes = t->dpdk_bytes;
	st->control_bytes = sizeof(*t) + (size_t)t->rule_cap * sizeof(*t->rules) +
	                    (size_t)t->peer_cap * sizeof(*t->peer_head) +
	                    t->log_cap * sizeof(*t->log);
}

uint32_t mg_allowedips_lookup(const struct mg_allowedips *t, uint8_t family, const uint8_t *addr)
{
	uint32_t peer = MG_ALLOWEDIPS_NO_PEER;

	if (family == 4) {
		uint32_t ip;
		memcpy(&ip, addr, 4);
		ip = rte_be_to_cpu_32(ip);
		mg_allowedips_lookup4_bulk(t, &ip, &peer, 1);
	} else if (family == 6) {
		mg_allowedips_lookup6_bulk(t, &addr, &peer, 1);
	}
	return peer;
}

/* The answer for ip when all-ones routes exist: the longest of them covering ip, if it is
 * longer than the copy's route (v). */
static uint32_t top_pick(const struct mg_allowedips *t, uint32_t top, uint32_t ip, uint64_t v,
                         uint32_t peer)
{
	unsigned ones = ip == UINT32_MAX ? 32 : (unsigned)__builtin_clz(~ip);
	uint32_t covering = top & (ones == 32 ? UINT32_MAX : (1u << ones) - 1);
	unsigned fib_len = v != AI_V4_MISS ? (unsigned)(v >> AI_V4_LEN_SHIFT) : 0;

	if (!covering)
		return peer;
	unsigned len = 32 - (unsigned)__builtin_clz(covering);
	uint32_t p = __atomic_load_n(&t->v4_top_peer[len], __ATOMIC_ACQUIRE);
	return len > fib_len && p != NIL ? p : peer;
}

void mg_allowedips_lookup4_bulk(const struct mg_allowedips *t, const uint32_t *ips4,
                                uint32_t *peers, unsigned n)
{
	uint32_t fallback = __atomic_load_n(&t->v4_default, __ATOMIC_ACQUIRE);
	struct rte_fib *routes = __atomic_load_n(&t->v4_active, __ATOMIC_ACQUIRE);
	uint64_t nh[LOOKUP_CHUNK];

	for (unsigned base = 0; base < n; base += LOOKUP_CHUNK) {
		unsigned c = n - base < LOOKUP_CHUNK ? n - base : LOOKUP_CHUNK;
		/* It only reads the addresses; its prototype lacks the const. */
		rte_fib_lookup_bulk(routes, (uint32_t *)(uintptr_t)(ips4 + base), nh, (int)c);
		uint32_t top = __atomic_load_n(&t->v4_top_mask, __ATOMIC_ACQUIRE);
		for (unsigned i = 0; i < c; i++) {
			uint64_t v = nh[i];
			peers[base + i] =
			    v != AI_V4_MISS ? (uint32_t)v & MG_ALLOWEDIPS_MAX_PEER : fallback;
			if (unlikely(top) && (ips4[base + i] >> 31))
				peers[base + i] =
				    top_pick(t, top, ips4[base + i], v, peers[base + i]);
		}
	}
}

static void lookup6_chunk(const struct mg_allowedips *t, const uint8_t *const *ips6,
                          uint32_t *peers, unsigned n, uint32_t fallback)
{
	const void *keys[LOOKUP_CHUNK];
	void *data[LOOKUP_CHUNK];
	uint8_t miss_ip[LOOKUP_CHUNK][16];
	int32_t miss_nh[LOOKUP_CHUNK];
	unsigned miss_idx[LOOKUP_CHUNK], misses = 0;
	uint64_t hits = 0;

	for (unsigned i = 0; i < n; i++)
		keys[i] = ips6[i];
	rte_hash_lookup_bulk_data(t->v6_hosts, keys, n, &hits, data);
	for (unsigned i = 0; i < n; i++) {
		if (hits & (1ull << i)) {
			peers[i] = (uint32_t)(uintptr_t)data[i];
			continue;
		}
		memcpy(miss_ip[misses], ips6[i], 16);
		miss_idx[misses++] = i;
	}
	if (!misses)
		return;
	const struct rte_lpm6 *routes = __atomic_load_n(&t->v6_active, __ATOMIC_ACQUIRE);
	rte_lpm6_lookup_bulk_func(routes, miss_ip, miss_nh, misses);
	for (unsigned m = 0; m < misses; m++)
		peers[miss_idx[m]] = miss_nh[m] >= 0 ? (uint32_t)miss_nh[m] : fallback;
}

void mg_allowedips_lookup6_bulk(const struct mg_allowedips *t, const uint8_t *const *ips6,
                                uint32_t *peers, unsigned n)
{
	uint32_t fallback = __atomic_load_n(&t->v6_default, __ATOMIC_ACQUIRE);

	for (unsigned base = 0; base < n; base += LOOKUP_CHUNK) {
		unsigned count6 = n - base < LOOKUP_CHUNK ? n - base : LOOKUP_CHUNK;
		lookup6_chunk(t, ips6 + base, peers + base, count6, fallback);
	}
}
