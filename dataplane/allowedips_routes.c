// SPDX-License-Identifier: GPL-2.0-only
/*
 * The allowed-IPs route copies (see allowedips.h): two rte_fib for IPv4, two rte_lpm6 for IPv6
 * routes. Readers use the active copy of each family; the control thread changes the standby
 * one and logs what it touched; commit publishes, waits one grace period, then brings the old
 * copy up to date, by replaying the log or, after a large change, by building it anew from the
 * shadow, shortest prefixes first.
 */
#include "allowedips_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_errno.h>
#include <rte_fib.h>
#include <rte_hash.h>
#include <rte_lpm6.h>
#include <rte_rcu_qsbr.h>

/* An IPv4 copy's first size. rte_fib takes two rib nodes (~200 B each) per route of capacity,
 * per copy, so copies start small and double as routes arrive, up to max_v4. */
#define V4_FIRST_CAP 1024u

static bool is_route(const struct rule *r, bool v6)
{
	if (r->peer == AI_NIL || r->key.v6 != v6)
		return false;
	return v6 ? r->key.len != 0 && r->key.len != 128 : ai_v4_in_copy(&r->key);
}

/* The shadow's routes of one family, shortest first: a copy filled in that order writes each
 * prefix's own range once, instead of rewriting the ranges of longer prefixes already in. */
static uint32_t *routes_by_length(const struct mg_allowedips *t, bool v6, uint32_t *n)
{
	uint32_t at[129] = {0}, total = 0;

	for (uint32_t i = 0; i < t->rule_cap; i++)
		if (is_route(&t->rules[i], v6))
			at[t->rules[i].key.len]++;
	for (unsigned len = 0; len < 129; len++) {
		uint32_t c = at[len];
		at[len] = total;
		total += c;
	}
	uint32_t *order = malloc((total ? total : 1) * sizeof(*order));
	if (!order)
		return NULL;
	for (uint32_t i = 0; i < t->rule_cap; i++)
		if (is_route(&t->rules[i], v6))
			order[at[t->rules[i].key.len]++] = i;
	*n = total;
	return order;
}

static struct rte_fib *v4_create(struct mg_allowedips *t, uint32_t cap)
{
	static unsigned seq;
	char name[32];
	struct rte_fib_conf c = {
	    .type = RTE_FIB_DIR24_8,
	    .default_nh = AI_V4_MISS,
	    .max_routes = (int)cap,
	    .dir24_8 = {.nh_sz = RTE_FIB_DIR24_8_4B, .num_tbl8 = t->v4_tbl8s},
	};

	snprintf(name, sizeof(name), "mgai%u_4_%u", t->seq,
	         __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED));
	return rte_fib_create(name, t->socket_id, &c);
}

/* Replaces *copy (which no reader uses) with a new copy for cap routes holding the shadow's. */
static int v4_rebuild(struct mg_allowedips *t, struct rte_fib **copy, uint32_t *copy_cap,
                      uint32_t cap)
{
	size_t before = ai_heap_allocated();
	uint32_t n, *order = routes_by_length(t, false, &n);
	struct rte_fib *fib = order ? v4_create(t, cap) : NULL;
	int rc = fib ? 0 : -ENOMEM;

	for (uint32_t i = 0; i < n && rc == 0; i++) {
		const struct rule *r = &t->rules[order[i]];
		rc = rte_fib_add(fib, ai_v4_host_order(r->key.addr), r->key.len,
		                 AI_V4_NH(r->peer, r->key.len));
	}
	free(order);
	if (rc) {
		rte_fib_free(fib);
		return rc < 0 ? rc : -EIO;
	}
	rte_fib_free(*copy);
	*copy = fib;
	*copy_cap = cap;
	t->dpdk_bytes += ai_heap_allocated() - before;
	return 0;
}

static int v6_rebuild(struct mg_allowedips *t, struct rte_lpm6 *copy)
{
	uint32_t n, *order = routes_by_length(t, true, &n);
	int rc = order ? 0 : -ENOMEM;

	rte_lpm6_delete_all(copy);
	for (uint32_t i = 0; i < n && rc == 0; i++) {
		const struct rule *r = &t->rules[order[i]];
		rc = rte_lpm6_add(copy, r->key.addr, r->key.len, r->peer);
	}
	free(order);
	return rc < 0 ? rc : rc ? -EIO : 0;
}

static int v4_fix_standby(struct mg_allowedips *t)
{
	if (t->v4_stale &&
	    v4_rebuild(t, &t->v4_standby, &t->v4_standby_cap, t->v4_standby_cap) != 0)
		return -EIO;
	t->v4_stale = false;
	return 0;
}

static int v6_fix_standby(struct mg_allowedips *t)
{
	if (t->v6_stale && v6_rebuild(t, t->v6_standby) != 0)
		return -EIO;
	t->v6_stale = false;
	return 0;
}

int ai_routes_create(struct mg_allowedips *t)
{
	char name[32];
	uint32_t cap = t->max_v4 < V4_FIRST_CAP ? t->max_v4 : V4_FIRST_CAP;

	cap = cap ? cap : 1;
	t->v4_active = v4_create(t, cap);
	t->v4_standby = v4_create(t, cap);
	t->v4_active_cap = t->v4_standby_cap = cap;

	struct rte_lpm6_config lc = {
	    .max_rules = t->max_v6 ? t->max_v6 : 1,
	    .number_tbl8s = t->v6_tbl8s,
	};
	snprintf(name, sizeof(name), "mgai%u_r6a", t->seq);
	t->v6_active = rte_lpm6_create(name, t->socket_id, &lc);
	snprintf(name, sizeof(name), "mgai%u_r6b", t->seq);
	t->v6_standby = rte_lpm6_create(name, t->socket_id, &lc);
	return t->v4_active && t->v4_standby && t->v6_active && t->v6_standby ? 0 : -1;
}

void ai_routes_free(struct mg_allowedips *t)
{
	rte_fib_free(t->v4_active);
	rte_fib_free(t->v4_standby);
	rte_lpm6_free(t->v6_active);
	rte_lpm6_free(t->v6_standby);
}

int ai_routes_reserve_v4(struct mg_allowedips *t, uint32_t more)
{
	uint64_t need = (uint64_t)t->n_v4_routes + more;

	if (need <= t->v4_standby_cap)
		return 0;
	uint64_t cap = t->v4_standby_cap;
	while (cap < need)
		cap *= 2;
	if (cap > t->max_v4)
		cap = t->max_v4;
	if (cap < need)
		return -ENOSPC;
	int rc = v4_rebuild(t, &t->v4_standby, &t->v4_standby_cap, (uint32_t)cap);
	if (rc == 0)
		t->v4_stale = false;
	return rc;
}

int ai_route_set(struct mg_allowedips *t, const struct rule_key *k, uint32_t peer, bool is_new)
{
	int rc;

	if (t->log_len == t->log_cap) {
		size_t cap = t->log_cap ? 2 * t->log_cap : 64;
		struct logged_route *log = realloc(t->log, cap * sizeof(*log));
		if (!log)
			return -ENOMEM;
		t->log = log;
		t->log_cap = cap;
	}
	if (!k->v6) {
		if (v4_fix_standby(t) != 0)
			return -EIO;
		if (peer != AI_NIL && is_new && (rc = ai_routes_reserve_v4(t, 1)) != 0)
			return rc;
		uint32_t ip = ai_v4_host_order(k->addr);
		rc = peer == AI_NIL
		         ? rte_fib_delete(t->v4_standby, ip, k->len)
		         : rte_fib_add(t->v4_standby, ip, k->len, AI_V4_NH(peer, k->len));
	} else {
		if (v6_fix_standby(t) != 0)
			return -EIO;
		rc = peer == AI_NIL ? rte_lpm6_delete(t->v6_standby, k->addr, k->len)
		                    : rte_lpm6_add(t->v6_standby, k->addr, k->len, peer);
	}
	if (rc)
		return rc < 0 ? rc : -EIO;
	struct logged_route *l = &t->log[t->log_len++];
	memcpy(l->addr, k->addr, 16);
	l->len = k->len;
	l->v6 = k->v6;
	return 0;
}

/* Brings the old copies up to date with what was just published, prefix by prefix. */
static void replay(struct mg_allowedips *t, bool do4, bool do6)
{
	for (size_t i = 0; i < t->log_len; i++) {
		const struct logged_route *l = &t->log[i];
		if (l->v6 ? !do6 || t->v6_stale : !do4 || t->v4_stale)
			continue;
		struct rule_key k = {.v6 = l->v6, .len = l->len};
		memcpy(k.addr, l->addr, 16);
		int32_t pos = rte_hash_lookup(t->shadow, &k);
		uint32_t peer = pos >= 0 ? t->rules[pos].peer : AI_NIL;
		int rc;
		if (l->v6)
			rc = peer != AI_NIL ? rte_lpm6_add(t->v6_standby, k.addr, k.len, peer)
			                    : rte_lpm6_delete(t->v6_standby, k.addr, k.len);
		else
			rc = peer != AI_NIL
			         ? rte_fib_add(t->v4_standby, ai_v4_host_order(k.addr), k.len,
			                       AI_V4_NH(peer, k.len))
			         : rte_fib_delete(t->v4_standby, ai_v4_host_order(k.addr), k.len);
		if (rc && rc != -ENOENT)
			*(l->v6 ? &t->v6_stale : &t->v4_stale) = true;
	}
}

int ai_routes_commit(struct mg_allowedips *t)
{
	size_t n4 = 0, n6 = 0;

	if (v4_fix_standby(t) != 0 || v6_fix_standby(t) != 0)
		return -EIO;
	for (size_t i = 0; i < t->log_len; i++)
		t->log[i].v6 ? n6++ : n4++;
	if (n4 + n6 == 0)
		return 0;

	struct rte_fib *old4 = t->v4_active;
	struct rte_lpm6 *old6 = t->v6_active;
	bool replay4 = n4 != 0, replay6 = n6 != 0;
	if (n4)
		__atomic_store_n(&t->v4_active, t->v4_standby, __ATOMIC_RELEASE);
	if (n6)
		__atomic_store_n(&t->v6_active, t->v6_standby, __ATOMIC_RELEASE);
	if (t->rcu)
		rte_rcu_qsbr_synchronize(t->rcu, RTE_QSBR_THRID_INVALID);
	if (n4) {
		uint32_t cap = t->v4_active_cap;
		t->v4_standby = old4;
		t->v4_active_cap = t->v4_standby_cap;
		t->v4_standby_cap = cap;
		/* A grown copy, or a change touching most routes: building anew is cheaper. */
		if (t->v4_standby_cap < t->v4_active_cap || n4 > t->n_v4_routes / 2) {
			replay4 = false;
			t->v4_stale = v4_rebuild(t, &t->v4_standby, &t->v4_standby_cap,
			                         t->v4_active_cap) != 0;
		}
	}
	if (n6) {
		t->v6_standby = old6;
		if (n6 > (t->n_v6 - t->n_v6_hosts) / 2) {
			replay6 = false;
			t->v6_stale = v6_rebuild(t, t->v6_standby) != 0;
		}
	}
	replay(t, replay4, replay6);
	t->log_len = 0;
	/* The publish succeeded either way; a stale standby is rebuilt before it is used. */
	if (t->v4_stale)
		v4_fix_standby(t);
	if (t->v6_stale)
		v6_fix_standby(t);
	return 0;
}
