// SPDX-License-Identifier: GPL-2.0-only
/*
 * The map diff engine (see netmap_apply.h for what it promises the sink). Each apply first
 * folds the update into the coordinator's view (all or nothing: every allocation happens before
 * the old view is touched), then reconciles: it derives the desired peer set from that view
 * (expiry, the self key, one owner per prefix), merges it against the applied set in key order,
 * and calls the sink in phases.
 */
#include "netmap_apply.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "netmap_internal.h"

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, WG_KEY_LEN);
}

/* Peers start with their key, so key_cmp orders them too. */
static int peer_qcmp(const void *a, const void *b)
{
	return key_cmp(((const struct mg_netmap_peer *)a)->public_key,
	               ((const struct mg_netmap_peer *)b)->public_key);
}

static struct mg_netmap_peer *find_peer(struct mg_netmap_peer *peers, size_t n,
                                        const uint8_t key[WG_KEY_LEN])
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = memcmp(key, peers[mid].public_key, WG_KEY_LEN);

		if (c == 0)
			return &peers[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

const struct mg_netmap_peer *mg_netmap_find(const struct mg_netmap_state *st,
                                            const uint8_t key[WG_KEY_LEN])
{
	return find_peer(st->peers, st->n_peers, key);
}

/* ---- folding an update into the coordinator's view ---- */

/* Sorted deep copies of the update's peers; -EINVAL when a key appears twice. */
static int copy_sorted(const struct mg_netmap_update *u, struct mg_netmap_peer **out)
{
	struct mg_netmap_peer *p;
	size_t n = u->n_peers;

	*out = NULL;
	if (n == 0)
		return 0;
	p = calloc(n, sizeof(*p));
	if (!p)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		if (mg_netmap_peer_copy(&p[i], &u->peers[i]) != 0) {
			mg_nm_peers_free(p, i);
			return -ENOMEM;
		}
		/* The engine computes allowed_ips; only the map's grant counts here. */
		free(p[i].allowed_ips);
		p[i].allowed_ips = NULL;
		p[i].n_allowed_ips = 0;
		p[i].n_map_allowed_ips =
		    mg_prefix_list_normalize(p[i].map_allowed_ips, p[i].n_map_allowed_ips);
	}
	qsort(p, n, sizeof(*p), peer_qcmp);
	for (size_t i = 1; i < n; i++) {
		if (memcmp(p[i - 1].public_key, p[i].public_key, WG_KEY_LEN) == 0) {
			mg_nm_peers_free(p, n);
			return -EINVAL;
		}
	}
	*out = p;
	return 0;
}

/* Merges a delta into the map view; the old entries it replaces or removes are freed. */
static int fold_delta(struct mg_netmap_state *st, const struct mg_netmap_update *u)
{
	struct mg_netmap_peer *changed, *merged;
	uint8_t(*removed)[WG_KEY_LEN] = NULL;
	size_t nr = u->n_removed, nc = u->n_peers, i = 0, j = 0, out = 0;
	int ret;

	ret = copy_sorted(u, &changed);
	if (ret)
		return ret;
	if (nr) {
		removed = malloc(nr * WG_KEY_LEN);
		if (!removed) {
			mg_nm_peers_free(changed, nc);
			return -ENOMEM;
		}
		memcpy(removed, u->removed, nr * WG_KEY_LEN);
		qsort(removed, nr, WG_KEY_LEN, key_cmp);
		for (size_t k = 1; k < nr; k++) {
			if (key_cmp(removed[k - 1], removed[k]) == 0) {
				mg_nm_peers_free(changed, nc);
				free(removed);
				return -EINVAL;
			}
		}
	}
	merged = calloc(st->n_map_peers + nc + 1, sizeof(*merged));
	if (!merged) {
		mg_nm_peers_free(changed, nc);
		free(removed);
		return -ENOMEM;
	}
	/* Changed entries win over a removal of the same key (a remove then re-add). */
	while (i < st->n_map_peers || j < nc) {
		int c;

		if (j == nc)
			c = -1;
		else if (i == st->n_map_peers)
			c = 1;
		else
			c = key_cmp(st->map_peers[i].public_key, changed[j].public_key);
		if (c < 0) {
			struct mg_netmap_peer *old = &st->map_peers[i++];

			if (nr && bsearch(old->public_key, removed, nr, WG_KEY_LEN, key_cmp))
				mg_netmap_peer_free(old);
			else
				merged[out++] = *old;
		} else {
			if (c == 0)
				mg_netmap_peer_free(&st->map_peers[i++]);
			merged[out++] = changed[j++];
		}
	}
	free(st->map_peers);
	free(changed);
	free(removed);
	st->map_peers = merged;
	st->n_map_peers = out;
	return 0;
}

/* ---- the desired set ---- */

struct owner_slot {
	const struct mg_prefix *prefix;
	size_t owner; /* index into the desired array */
};

struct owner_table {
	struct owner_slot *slots;
	size_t mask;
};

static uint64_t prefix_hash(const struct mg_prefix *p)
{
	uint64_t h = 1469598103934665603ull ^ ((uint64_t)p->family << 8 | p->len);

	for (int i = 0; i < (p->family == 4 ? 4 : 16); i++)
		h = (h ^ p->addr[i]) * 1099511628211ull;
	return h ^ (h >> 29);
}

/* online first, then the lowest node id, then the lowest key: the same on every node. */
static bool better_owner(const struct mg_netmap_peer *a, const struct mg_netmap_peer *b)
{
	if (a->online != b->online)
		return a->online;
	if (a->id != b->id)
		return a->id < b->id;
	return key_cmp(a->public_key, b->public_key) < 0;
}

/*
 * A peer's own overlay address belongs to it whatever other peers advertise: otherwise a node
 * that claims another node's address (online, lower id) would receive that node's traffic.
 */
static bool in_addresses(const struct mg_prefix *a, size_t n, const struct mg_prefix *p)
{
	for (size_t i = 0; i < n; i++)
		if (mg_prefix_cmp(&a[i], p) == 0)
			return true;
	return false;
}

#define own_address(x, p) in_addresses((x)->addresses, (x)->n_addresses, (p))

static struct owner_slot *owner_find(const struct owner_table *t, const struct mg_prefix *p)
{
	for (size_t i = prefix_hash(p) & t->mask;; i = (i + 1) & t->mask) {
		if (!t->slots[i].prefix || mg_prefix_cmp(t->slots[i].prefix, p) == 0)
			return &t->slots[i];
	}
}

static size_t owner_of(const struct owner_table *t, const struct mg_prefix *p)
{
	struct owner_slot *s = owner_find(t, p);

	return s->prefix ? s->owner : SIZE_MAX;
}

/*
 * Deep copies of the map's live peers with allowed_ips filled in, and the prefix owner table
 * (its prefixes point into the copies). *conflicts counts prefixes several peers claimed.
 */
static int build_desired(const struct mg_netmap_state *st, int64_t now, struct mg_netmap_peer **out,
                         size_t *n_out, struct owner_table *t, uint64_t *conflicts,
                         uint64_t *expired)
{
	struct mg_netmap_peer *d;
	size_t n = 0, total = 0, cap = 16;

	*out = NULL;
	*n_out = 0;
	*conflicts = *expired = 0;
	d = calloc(st->n_map_peers + 1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	for (size_t i = 0; i < st->n_map_peers; i++) {
		const struct mg_netmap_peer *m = &st->map_peers[i];

		if (m->key_expiry != 0 && m->key_expiry <= now) {
			(*expired)++;
			continue;
		}
		if (st->has_map_self && key_cmp(m->public_key, st->map_self.public_key) == 0)
			continue;
		if (mg_netmap_peer_copy(&d[n], m) != 0)
			goto nomem;
		total += d[n].n_map_allowed_ips + d[n].n_addresses;
		n++;
	}
	while (cap < total * 2)
		cap *= 2;
	t->slots = calloc(cap, sizeof(*t->slots));
	if (!t->slots)
		goto nomem;
	t->mask = cap - 1;
	/*
	 * A peer's own addresses belong to it first, whether or not its allowed IPs list them:
	 * another peer's route to one of them (the order of a delta must not matter) loses.
	 */
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < d[i].n_addresses; k++) {
			struct owner_slot *s = owner_find(t, &d[i].addresses[k]);

			if (!s->prefix) {
				s->prefix = &d[i].addresses[k];
				s->owner = i;
			} else if (s->owner != i) {
				(*conflicts)++;
				if (better_owner(&d[i], &d[s->owner]))
					s->owner = i;
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < d[i].n_map_allowed_ips; k++) {
			struct owner_slot *s = owner_find(t, &d[i].map_allowed_ips[k]);

			if (!s->prefix) {
				s->prefix = &d[i].map_allowed_ips[k];
				s->owner = i;
			} else if (s->owner == i) {
				continue; /* its own address, claimed above */
			} else {
				const struct mg_prefix *q = s->prefix;
				bool mine = own_address(&d[i], q),
				     theirs = own_address(&d[s->owner], q);

				(*conflicts)++;
				if (mine != theirs ? mine : better_owner(&d[i], &d[s->owner]))
					s->owner = i;
			}
		}
	}
	for (size_t i = 0; i < n; i++) {
		size_t keep = 0;

		if (d[i].n_map_allowed_ips) {
			d[i].allowed_ips =
			    malloc(d[i].n_map_allowed_ips * sizeof(struct mg_prefix));
			if (!d[i].allowed_ips)
				goto nomem;
		}
		/* map_allowed_ips is sorted, so allowed_ips is too. */
		/* Our own addresses are never routed to a peer. */
		for (size_t k = 0; k < d[i].n_map_allowed_ips; k++)
			if (owner_of(t, &d[i].map_allowed_ips[k]) == i &&
			    !(st->has_map_self &&
			      own_address(&st->map_self, &d[i].map_allowed_ips[k])))
				d[i].allowed_ips[keep++] = d[i].map_allowed_ips[k];
		d[i].n_allowed_ips = keep;
	}
	*out = d;
	*n_out = n;
	return 0;
nomem:
	free(t->slots);
	t->slots = NULL;
	mg_nm_peers_free(d, n + 1);
	return -ENOMEM;
}

/* ---- reconcile ---- */

static bool peer_equal(const struct mg_netmap_peer *a, const struct mg_netmap_peer *b)
{
	if (a->id != b->id || a->online != b->online || a->key_expiry != b->key_expiry ||
	    strcmp(a->name, b->name) != 0 || strcmp(a->home_relay, b->home_relay) != 0 ||
	    a->n_addresses != b->n_addresses || a->n_endpoints != b->n_endpoints ||
	    a->n_stun_endpoints != b->n_stun_endpoints || a->nat_hard != b->nat_hard)
		return false;
	for (size_t i = 0; i < a->n_addresses; i++)
		if (mg_prefix_cmp(&a->addresses[i], &b->addresses[i]) != 0)
			return false;
	for (size_t i = 0; i < a->n_endpoints; i++)
		if (memcmp(&a->endpoints[i], &b->endpoints[i], sizeof(a->endpoints[i])) != 0)
			return false;
	/* Disco's candidates: a new mapping must reach the path manager. */
	for (size_t i = 0; i < a->n_stun_endpoints; i++)
		if (memcmp(&a->stun_endpoints[i], &b->stun_endpoints[i],
		           sizeof(a->stun_endpoints[i])) != 0)
			return false;
	return mg_nm_prefix_lists_equal(a->allowed_ips, a->n_allowed_ips, b->allowed_ips,
	                                b->n_allowed_ips) &&
	       mg_nm_prefix_lists_equal(a->map_allowed_ips, a->n_map_allowed_ips,
	                                b->map_allowed_ips, b->n_map_allowed_ips);
}

static bool self_equal(const struct mg_netmap_self *a, const struct mg_netmap_self *b)
{
	if (key_cmp(a->public_key, b->public_key) != 0 || a->id != b->id ||
	    a->key_expiry != b->key_expiry || strcmp(a->name, b->name) != 0 ||
	    a->n_addresses != b->n_addresses)
		return false;
	for (size_t i = 0; i < a->n_addresses; i++)
		if (mg_prefix_cmp(&a->addresses[i], &b->addresses[i]) != 0)
			return false;
	return mg_nm_prefix_lists_equal(a->routes, a->n_routes, b->routes, b->n_routes);
}

enum op { OP_KEEP, OP_REMOVE, OP_UPDATE, OP_ADD };

/* One row of the merge of the applied set (cur) with the desired set (want). */
struct merge_row {
	enum op op;
	struct mg_netmap_peer *cur, *want;
	size_t want_index;
	bool done; /* the sink accepted the operation */
};

/* The applied peer's allowed IPs that another peer claims in the desired set. */
static bool loses_to_other(const struct merge_row *r, const struct owner_table *t)
{
	for (size_t k = 0; k < r->cur->n_allowed_ips; k++) {
		const struct mg_prefix *p = &r->cur->allowed_ips[k];
		size_t o = owner_of(t, p);

		if (o != SIZE_MAX && o != r->want_index)
			return true;
	}
	return false;
}

/* Phase 2: the peer keeps only what it keeps in the end (old ∩ new), everything else new. */
static void shrink_first(struct mg_netmap_state *st, struct merge_row *r,
                         const struct mg_netmap_sink *sink, void *ctx)
{
	struct mg_netmap_peer mid;
	size_t keep = 0;

	if (mg_netmap_peer_copy(&mid, r->want) != 0) {
		st->stats.sink_errors++;
		return;
	}
	free(mid.allowed_ips);
	mid.allowed_ips = NULL;
	mid.n_allowed_ips = 0;
	if (r->cur->n_allowed_ips) {
		mid.allowed_ips = malloc(r->cur->n_allowed_ips * sizeof(struct mg_prefix));
		if (!mid.allowed_ips) {
			st->stats.sink_errors++;
			mg_netmap_peer_free(&mid);
			return;
		}
	}
	for (size_t k = 0; k < r->cur->n_allowed_ips; k++)
		if (mg_nm_prefix_in(r->want->allowed_ips, r->want->n_allowed_ips,
		                    &r->cur->allowed_ips[k]))
			mid.allowed_ips[keep++] = r->cur->allowed_ips[k];
	mid.n_allowed_ips = keep;
	if (sink->update_peer(ctx, r->cur, &mid) != 0) {
		st->stats.sink_errors++;
		mg_netmap_peer_free(&mid);
		return;
	}
	st->stats.updated++;
	mg_netmap_peer_free(r->cur);
	*r->cur = mid;
}

static int reconcile(struct mg_netmap_state *st, int64_t now, const struct mg_netmap_sink *sink,
                     void *ctx)
{
	struct owner_table t = {0};
	struct mg_netmap_peer *want, *next;
	struct merge_row *rows;
	size_t n_want, n_rows = 0, i = 0, j = 0, out = 0;
	uint64_t conflicts, expired;
	int ret;

	ret = mg_netmap_reconcile_filter(st, sink, ctx);
	if (ret)
		return ret;
	ret = build_desired(st, now, &want, &n_want, &t, &conflicts, &expired);
	if (ret)
		return ret;
	rows = calloc(st->n_peers + n_want + 1, sizeof(*rows));
	next = calloc(st->n_peers + n_want + 1, sizeof(*next));
	if (!rows || !next) {
		free(rows);
		free(next);
		free(t.slots);
		mg_nm_peers_free(want, n_want);
		return -ENOMEM;
	}
	st->stats.conflicts = conflicts;
	st->stats.expired += expired;
	while (i < st->n_peers || j < n_want) {
		struct merge_row *r = &rows[n_rows++];
		int c;

		if (j == n_want)
			c = -1;
		else if (i == st->n_peers)
			c = 1;
		else
			c = key_cmp(st->peers[i].public_key, want[j].public_key);
		if (c < 0) {
			r->op = OP_REMOVE;
			r->cur = &st->peers[i++];
		} else if (c > 0) {
			r->op = OP_ADD;
			r->want_index = j;
			r->want = &want[j++];
		} else {
			r->cur = &st->peers[i++];
			r->want_index = j;
			r->want = &want[j++];
			r->op = peer_equal(r->cur, r->want) ? OP_KEEP : OP_UPDATE;
		}
	}

	/* 1: removals free their prefixes; 2: peers giving a prefix away shrink first. */
	for (size_t k = 0; k < n_rows; k++) {
		struct merge_row *r = &rows[k];

		if (r->op != OP_REMOVE)
			continue;
		if (sink->remove_peer(ctx, r->cur) == 0) {
			r->done = true;
			st->stats.removed++;
		} else {
			st->stats.sink_errors++;
		}
	}
	for (size_t k = 0; k < n_rows; k++)
		if (rows[k].op == OP_UPDATE && loses_to_other(&rows[k], &t))
			shrink_first(st, &rows[k], sink, ctx);
	/* 3: the remaining updates; 4: additions. */
	for (size_t k = 0; k < n_rows; k++) {
		struct merge_row *r = &rows[k];

		if (r->op != OP_UPDATE)
			continue;
		if (peer_equal(r->cur, r->want)) {
			r->done = true;
		} else if (sink->update_peer(ctx, r->cur, r->want) == 0) {
			r->done = true;
			st->stats.updated++;
		} else {
			st->stats.sink_errors++;
		}
	}
	for (size_t k = 0; k < n_rows; k++) {
		struct merge_row *r = &rows[k];

		if (r->op != OP_ADD)
			continue;
		if (sink->add_peer(ctx, r->want) == 0) {
			r->done = true;
			st->stats.added++;
		} else {
			st->stats.sink_errors++;
		}
	}

	/* The applied set is what the sink accepted; rows are in key order already. */
	for (size_t k = 0; k < n_rows; k++) {
		struct merge_row *r = &rows[k];

		switch (r->op) {
		case OP_KEEP:
			next[out++] = *r->cur;
			mg_netmap_peer_free(r->want);
			break;
		case OP_REMOVE:
			if (r->done)
				mg_netmap_peer_free(r->cur);
			else
				next[out++] = *r->cur;
			break;
		case OP_UPDATE:
			if (r->done) {
				mg_netmap_peer_free(r->cur);
				next[out++] = *r->want;
			} else {
				next[out++] = *r->cur;
				mg_netmap_peer_free(r->want);
			}
			break;
		case OP_ADD:
			if (r->done)
				next[out++] = *r->want;
			else
				mg_netmap_peer_free(r->want);
			break;
		}
	}
	free(st->peers);
	st->peers = next;
	st->n_peers = out;
	free(want);
	free(rows);
	free(t.slots);

	if (st->has_map_self && (!st->has_self || !self_equal(&st->self, &st->map_self))) {
		struct mg_netmap_self copy;

		if (mg_netmap_self_copy(&copy, &st->map_self) != 0)
			return -ENOMEM;
		if (sink->set_self &&
		    sink->set_self(ctx, st->has_self ? &st->self : NULL, &copy) != 0) {
			st->stats.sink_errors++;
			mg_netmap_self_free(&copy);
		} else {
			mg_netmap_self_free(&st->self);
			st->self = copy;
			st->has_self = true;
			st->stats.self_changes++;
		}
	}
	return 0;
}

static int set_map_self(struct mg_netmap_state *st, const struct mg_netmap_self *self)
{
	struct mg_netmap_self copy;

	if (mg_netmap_self_copy(&copy, self) != 0)
		return -ENOMEM;
	copy.n_routes = mg_prefix_list_normalize(copy.routes, copy.n_routes);
	mg_netmap_self_free(&st->map_self);
	st->map_self = copy;
	st->has_map_self = true;
	return 0;
}

int mg_netmap_apply(struct mg_netmap_state *st, const struct mg_netmap_update *u, int64_t now,
                    const struct mg_netmap_sink *sink, void *ctx)
{
	int ret;

	if (u->kind == MG_NETMAP_FULL) {
		struct mg_netmap_peer *peers;

		ret = copy_sorted(u, &peers);
		if (ret)
			return ret;
		if ((u->has_self && (ret = set_map_self(st, &u->self)) != 0) ||
		    (ret = mg_netmap_take_filter(st, u)) != 0) {
			mg_nm_peers_free(peers, u->n_peers);
			return ret;
		}
		mg_nm_peers_free(st->map_peers, st->n_map_peers);
		st->map_peers = peers;
		st->n_map_peers = u->n_peers;
		st->has_map = true;
	} else if (u->kind == MG_NETMAP_DELTA) {
		if (!st->has_map || u->seq != st->seq + 1)
			return -EPROTO;
		ret = fold_delta(st, u);
		if (ret)
			return ret;
		if (u->has_self && (ret = set_map_self(st, &u->self)) != 0)
			return ret;
		if ((ret = mg_netmap_take_filter(st, u)) != 0)
			return ret;
	} else {
		return -EINVAL;
	}
	st->seq = u->seq;
	st->stats.applied++;
	return reconcile(st, now, sink, ctx);
}

int mg_netmap_expire(struct mg_netmap_state *st, int64_t now, const struct mg_netmap_sink *sink,
                     void *ctx)
{
	return reconcile(st, now, sink, ctx);
}

int mg_netmap_clear(struct mg_netmap_state *st, const struct mg_netmap_sink *sink, void *ctx)
{
	mg_nm_peers_free(st->map_peers, st->n_map_peers);
	st->map_peers = NULL;
	st->n_map_peers = 0;
	st->has_map = false;
	st->seq = 0;
	mg_filter_free(&st->map_filter);
	st->has_map_filter = true;
	return reconcile(st, 0, sink, ctx);
}

void mg_netmap_forget_applied(struct mg_netmap_state *st)
{
	mg_nm_peers_free(st->peers, st->n_peers);
	st->peers = NULL;
	st->n_peers = 0;
	mg_netmap_self_free(&st->self);
	st->has_self = false;
	mg_filter_free(&st->filter);
	st->has_filter = false;
}
