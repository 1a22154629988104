// SPDX-License-Identifier: GPL-2.0-only
/* Node table, identity classes, visibility, and the change-to-delta logic. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "log.h"
#include "netmap_internal.h"

void node_info_clear(struct node_info *n)
{
	json_decref(n->tags);
	json_decref(n->endpoints);
	json_decref(n->stun_endpoints);
	json_decref(n->routes_advertised);
	json_decref(n->routes_approved);
	memset(n, 0, sizeof(*n));
}

bool node_info_copy(struct node_info *dst, const struct node_info *src)
{
	*dst = *src;
	dst->tags = json_deep_copy(src->tags);
	dst->endpoints = json_deep_copy(src->endpoints);
	dst->stun_endpoints =
	    src->stun_endpoints ? json_deep_copy(src->stun_endpoints) : json_array();
	dst->routes_advertised = json_deep_copy(src->routes_advertised);
	dst->routes_approved = json_deep_copy(src->routes_approved);
	if (!dst->tags || !dst->endpoints || !dst->stun_endpoints || !dst->routes_advertised ||
	    !dst->routes_approved) {
		node_info_clear(dst);
		return false;
	}
	return true;
}

/* ---- node table: open addressing on the id, backward-shift deletion ---- */

static size_t slot_of(int64_t id, size_t nslots)
{
	uint64_t h = (uint64_t)id * 0x9e3779b97f4a7c15ull;
	return (size_t)(h >> 20) & (nslots - 1);
}

struct nm_node *nm_find(const struct netmap *nm, int64_t id)
{
	for (size_t i = slot_of(id, nm->nslots);; i = (i + 1) & (nm->nslots - 1)) {
		struct nm_node *n = nm->slots[i];
		if (n == NULL)
			return NULL;
		if (n->info.id == id)
			return n;
	}
}

static bool table_insert(struct netmap *nm, struct nm_node *n)
{
	if ((nm->count + 1) * 2 > nm->nslots) {
		size_t ns = nm->nslots * 2;
		struct nm_node **slots = calloc(ns, sizeof(*slots));
		if (slots == NULL)
			return false;
		for (size_t i = 0; i < nm->nslots; i++) {
			struct nm_node *e = nm->slots[i];
			if (e == NULL)
				continue;
			size_t j = slot_of(e->info.id, ns);
			while (slots[j] != NULL)
				j = (j + 1) & (ns - 1);
			slots[j] = e;
		}
		free(nm->slots);
		nm->slots = slots;
		nm->nslots = ns;
	}
	size_t i = slot_of(n->info.id, nm->nslots);
	while (nm->slots[i] != NULL)
		i = (i + 1) & (nm->nslots - 1);
	nm->slots[i] = n;
	nm->count++;
	return true;
}

static void table_remove(struct netmap *nm, int64_t id)
{
	size_t mask = nm->nslots - 1, i = slot_of(id, nm->nslots);
	while (nm->slots[i] != NULL && nm->slots[i]->info.id != id)
		i = (i + 1) & mask;
	if (nm->slots[i] == NULL)
		return;
	nm->slots[i] = NULL;
	nm->count--;
	/* Move later entries of the cluster back so lookups never stop early. */
	for (size_t j = (i + 1) & mask; nm->slots[j] != NULL; j = (j + 1) & mask) {
		size_t home = slot_of(nm->slots[j]->info.id, nm->nslots);
		bool between = i <= j ? (home > i && home <= j) : (home > i || home <= j);
		if (!between) {
			nm->slots[i] = nm->slots[j];
			nm->slots[j] = NULL;
			i = j;
		}
	}
}

/* ---- classes and visibility ---- */

static void identity_of(const struct nm_class *c, struct identity *id)
{
	id->user = c->user;
	id->tags = c->tags;
	id->ntags = c->ntags;
}

static void class_masks(struct netmap *nm, struct nm_class *c)
{
	struct identity id;
	identity_of(c, &id);
	memset(c->srcmask, 0, nm->rule_words * sizeof(uint64_t));
	memset(c->dstmask, 0, nm->rule_words * sizeof(uint64_t));
	for (size_t r = 0; r < nm->pol->nrules; r++) {
		if (policy_rule_src_matches(nm->pol, r, &id))
			c->srcmask[r / 64] |= 1ull << (r % 64);
		if (policy_rule_dst_matches(nm->pol, r, &id))
			c->dstmask[r / 64] |= 1ull << (r % 64);
	}
	c->filter_stale = true;
}

static bool masks_meet(const struct netmap *nm, const uint64_t *a, const uint64_t *b)
{
	for (size_t w = 0; w < nm->rule_words; w++)
		if (a[w] & b[w])
			return true;
	return false;
}

static void vis_set(struct netmap *nm, size_t a, size_t b, bool on)
{
	uint64_t *w = &nm->vis[a * nm->vis_words + b / 64];
	if (on)
		*w |= 1ull << (b % 64);
	else
		*w &= ~(1ull << (b % 64));
}

/* Two classes see each other when either may reach the other under some rule. */
static void vis_compute_pair(struct netmap *nm, size_t a, size_t b)
{
	struct nm_class *ca = &nm->classes[a], *cb = &nm->classes[b];
	bool v =
	    masks_meet(nm, ca->srcmask, cb->dstmask) || masks_meet(nm, cb->srcmask, ca->dstmask);
	vis_set(nm, a, b, v);
	vis_set(nm, b, a, v);
}

static bool grow_classes(struct netmap *nm)
{
	size_t cap = nm->cls_cap ? nm->cls_cap * 2 : 64;
	struct nm_class *cl = realloc(nm->classes, cap * sizeof(*cl));
	if (cl == NULL)
		return false;
	nm->classes = cl;
	size_t words = (cap + 63) / 64;
	uint64_t *vis = calloc(cap * words, sizeof(uint64_t));
	if (vis == NULL)
		return false;
	for (size_t r = 0; r < nm->ncls; r++)
		memcpy(&vis[r * words], &nm->vis[r * nm->vis_words],
		       nm->vis_words * sizeof(uint64_t));
	free(nm->vis);
	nm->vis = vis;
	nm->vis_words = words;
	nm->cls_cap = cap;
	return true;
}

static bool tags_equal(const struct nm_class *c, json_t *tags)
{
	if (c->ntags != json_array_size(tags))
		return false;
	for (size_t i = 0; i < c->ntags; i++)
		if (strcmp(c->tags[i], json_string_value(json_array_get(tags, i))) != 0)
			return false;
	return true;
}

/* The class for a node's identity, created when new. -1 when out of memory. */
static int class_for(struct netmap *nm, const struct node_info *info)
{
	bool tagged = json_array_size(info->tags) > 0;
	for (size_t k = 0; k < nm->ncls; k++) {
		struct nm_class *c = &nm->classes[k];
		if (tagged ? (c->user == NULL && tags_equal(c, info->tags))
		           : (c->user != NULL && strcmp(c->user, info->user) == 0))
			return (int)k;
	}
	if (nm->ncls == nm->cls_cap && !grow_classes(nm))
		return -1;
	struct nm_class *c = &nm->classes[nm->ncls];
	memset(c, 0, sizeof(*c));
	c->srcmask = calloc(nm->rule_words, sizeof(uint64_t));
	c->dstmask = calloc(nm->rule_words, sizeof(uint64_t));
	if (tagged) {
		c->ntags = json_array_size(info->tags);
		c->tags = calloc(c->ntags, sizeof(char *));
		for (size_t i = 0; c->tags && i < c->ntags; i++)
			c->tags[i] = strdup(json_string_value(json_array_get(info->tags, i)));
	} else {
		c->user = strdup(info->user);
	}
	if (!c->srcmask || !c->dstmask || (!tagged && !c->user) || (tagged && !c->tags)) {
		free(c->srcmask);
		free(c->dstmask);
		free(c->user);
		free(c->tags);
		return -1;
	}
	size_t k = nm->ncls++;
	class_masks(nm, c);
	for (size_t j = 0; j <= k; j++)
		vis_compute_pair(nm, k, j);
	return (int)k;
}

/* ---- pending deltas ---- */

static void mark_pending(struct netmap *nm, struct map_session *s)
{
	if (!s->pending) {
		s->pending = true;
		s->next_pending = nm->pending;
		nm->pending = s;
	}
}

static void pend_changed(struct netmap *nm, struct map_session *s, int64_t id)
{
	if (s->closed)
		return;
	if (s->nchanged == s->changed_cap) {
		size_t cap = s->changed_cap ? s->changed_cap * 2 : 16;
		int64_t *p = realloc(s->changed, cap * sizeof(*p));
		if (p == NULL) {
			s->overflow = s->closed = true;
			nm->cfg.wake(s, s->conn);
			return;
		}
		s->changed = p;
		s->changed_cap = cap;
	}
	s->changed[s->nchanged++] = id;
	mark_pending(nm, s);
}

static void pend_removed(struct netmap *nm, struct map_session *s, const char *key)
{
	if (s->closed)
		return;
	if (s->nremoved == s->removed_cap) {
		size_t cap = s->removed_cap ? s->removed_cap * 2 : 16;
		char **p = realloc(s->removed, cap * sizeof(*p));
		if (p == NULL) {
			s->overflow = s->closed = true;
			nm->cfg.wake(s, s->conn);
			return;
		}
		s->removed = p;
		s->removed_cap = cap;
	}
	char *k = strdup(key);
	if (k == NULL)
		return;
	s->removed[s->nremoved++] = k;
	mark_pending(nm, s);
}

/* Every class whose filter lists members of class k as sources must be rebuilt. */
static void filters_depending_on(struct netmap *nm, int k)
{
	struct nm_class *src = &nm->classes[k];
	for (size_t j = 0; j < nm->ncls; j++) {
		struct nm_class *c = &nm->classes[j];
		if (!masks_meet(nm, src->srcmask, c->dstmask))
			continue;
		c->filter_stale = true;
		for (size_t m = 0; m < c->n; m++) {
			struct map_session *s = c->members[m]->sess;
			if (s != NULL && !s->closed) {
				s->filter_dirty = true;
				mark_pending(nm, s);
			}
		}
	}
	/* Exit nodes list the sources of the internet rules too (filter.c, exit_entries). */
	bool internet = false;
	for (size_t r = 0; !internet && r < nm->pol->nrules; r++)
		internet = ((src->srcmask[r / 64] >> (r % 64)) & 1) &&
		           policy_rule_dst_internet(nm->pol, r);
	for (size_t i = 0; internet && i < nm->nslots; i++) {
		struct nm_node *x = nm->slots[i];
		if (x != NULL && x->peer_json_exit != NULL && x->sess != NULL && !x->sess->closed) {
			x->sess->filter_dirty = true;
			mark_pending(nm, x->sess);
		}
	}
}

/* Tells every session that sees class k about node n (added or changed, or removed). */
static void tell_viewers(struct netmap *nm, struct nm_node *n, bool removed)
{
	for (size_t j = 0; j < nm->ncls; j++) {
		if (!nm_vis(nm, n->cls, (int)j))
			continue;
		struct nm_class *c = &nm->classes[j];
		for (size_t m = 0; m < c->n; m++) {
			struct nm_node *v = c->members[m];
			if (v == n || v->sess == NULL)
				continue;
			if (removed)
				pend_removed(nm, v->sess, n->info.node_key);
			else
				pend_changed(nm, v->sess, n->info.id);
		}
	}
}

static bool node_active(const struct node_info *info, int64_t now)
{
	return info->key_expiry == 0 || info->key_expiry > now;
}

static void activate(struct netmap *nm, struct nm_node *n)
{
	int k = class_for(nm, &n->info);
	if (k < 0) {
		mg_logf(MG_LOG_ERROR, "netmap: out of memory adding node %lld",
		        (long long)n->info.id);
		return;
	}
	struct nm_class *c = &nm->classes[k];
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 8;
		struct nm_node **mem = realloc(c->members, cap * sizeof(*mem));
		if (mem == NULL)
			return;
		c->members = mem;
		c->cap = cap;
	}
	n->cls = k;
	n->cls_pos = c->n;
	c->members[c->n++] = n;
	tell_viewers(nm, n, false);
	filters_depending_on(nm, k);
}

static void deactivate(struct netmap *nm, struct nm_node *n)
{
	if (n->cls < 0)
		return;
	tell_viewers(nm, n, true);
	struct nm_class *c = &nm->classes[n->cls];
	struct nm_node *last = c->members[--c->n];
	c->members[n->cls_pos] = last;
	last->cls_pos = n->cls_pos;
	int k = n->cls;
	n->cls = -1;
	filters_depending_on(nm, k);
}

static void self_dirty(struct netmap *nm, struct nm_node *n)
{
	if (n->sess != NULL && !n->sess->closed) {
		n->sess->self_dirty = true;
		mark_pending(nm, n->sess);
	}
}

/* ---- public API ---- */

struct netmap *netmap_new(const struct netmap_config *cfg, struct policy *policy)
{
	struct netmap *nm = calloc(1, sizeof(*nm));
	if (nm == NULL)
		return NULL;
	nm->cfg = *cfg;
	nm->pol = policy;
	nm->rule_words = (policy->nrules + 63) / 64 + 1;
	nm->nslots = 1024;
	nm->slots = calloc(nm->nslots, sizeof(*nm->slots));
	if (nm->slots == NULL || !grow_classes(nm)) {
		netmap_free(nm);
		return NULL;
	}
	return nm;
}

static void node_free(struct nm_node *n)
{
	node_info_clear(&n->info);
	free(n->peer_json);
	free(n->peer_json_exit);
	free(n);
}

void netmap_free(struct netmap *nm)
{
	if (nm == NULL)
		return;
	for (size_t i = 0; i < nm->nslots; i++)
		if (nm->slots[i] != NULL)
			node_free(nm->slots[i]);
	free(nm->slots);
	for (size_t k = 0; k < nm->ncls; k++) {
		struct nm_class *c = &nm->classes[k];
		free(c->user);
		for (size_t i = 0; i < c->ntags; i++)
			free(c->tags[i]);
		free(c->tags);
		free(c->members);
		free(c->srcmask);
		free(c->dstmask);
		free(c->filter);
	}
	free(nm->classes);
	free(nm->vis);
	policy_free(nm->pol);
	free(nm);
}

const struct policy *netmap_policy(const struct netmap *nm)
{
	return nm->pol;
}

const struct node_info *netmap_node(const struct netmap *nm, int64_t id)
{
	struct nm_node *n = nm_find(nm, id);
	return n ? &n->info : NULL;
}

size_t netmap_node_count(const struct netmap *nm)
{
	return nm->count;
}

void netmap_foreach(const struct netmap *nm, void (*fn)(void *ctx, const struct node_info *n),
                    void *ctx)
{
	for (size_t i = 0; i < nm->nslots; i++)
		if (nm->slots[i] != NULL)
			fn(ctx, &nm->slots[i]->info);
}

bool netmap_upsert(struct netmap *nm, const struct node_info *info)
{
	int64_t now = now_unix();
	struct nm_node *n = nm_find(nm, info->id);
	if (n == NULL) {
		n = calloc(1, sizeof(*n));
		if (n == NULL || !node_info_copy(&n->info, info)) {
			free(n);
			return false;
		}
		n->cls = -1;
		if (!nm_build_peer_json(nm, n) || !table_insert(nm, n)) {
			node_free(n);
			return false;
		}
		if (node_active(&n->info, now))
			activate(nm, n);
		return true;
	}
	bool identity_changed = n->info.user_id != info->user_id ||
	                        !json_equal(n->info.tags, info->tags) ||
	                        n->info.addr_index != info->addr_index;
	struct node_info copy;
	if (!node_info_copy(&copy, info))
		return false;
	/* The node's routes are its own filter's destinations... */
	bool routes_changed = !json_equal(n->info.routes_approved, info->routes_approved) ||
	                      !json_equal(n->info.routes_advertised, info->routes_advertised);
	bool was_active = n->cls >= 0, now_active = node_active(info, now);
	if (was_active && (identity_changed || !now_active))
		deactivate(nm, n);
	if (!now_active)
		netmap_close_node(nm, n->info.id, "{\"type\":\"expired\"}\n");
	else if (identity_changed)
		netmap_close_node(nm, n->info.id, "{\"type\":\"reconnect\"}\n");
	node_info_clear(&n->info);
	n->info = copy;
	char *old_peer = n->peer_json, *old_exit = n->peer_json_exit;
	n->peer_json = n->peer_json_exit = NULL;
	if (!nm_build_peer_json(nm, n)) {
		n->peer_json = old_peer;
		n->peer_json_exit = old_exit;
		old_peer = old_exit = NULL;
	}
	bool exit_changed = (old_exit == NULL) != (n->peer_json_exit == NULL) ||
	                    (old_exit != NULL && strcmp(old_exit, n->peer_json_exit) != 0);
	if (now_active && n->cls < 0)
		activate(nm, n);
	else if (n->cls >= 0 &&
	         (old_peer == NULL || exit_changed || strcmp(old_peer, n->peer_json) != 0))
		tell_viewers(nm, n, false);
	free(old_peer);
	free(old_exit);
	if (routes_changed && n->sess != NULL && !n->sess->closed)
		n->sess->filter_dirty = true;
	/* ...and, for the filters that list it as a source, sources. */
	if (routes_changed && n->cls >= 0)
		filters_depending_on(nm, n->cls);
	self_dirty(nm, n);
	return true;
}

void netmap_remove(struct netmap *nm, int64_t id)
{
	struct nm_node *n = nm_find(nm, id);
	if (n == NULL)
		return;
	deactivate(nm, n);
	netmap_close_node(nm, id, "{\"type\":\"deleted\"}\n");
	table_remove(nm, id);
	node_free(n);
}

void netmap_expire(struct netmap *nm, int64_t now)
{
	for (size_t i = 0; i < nm->nslots; i++) {
		struct nm_node *n = nm->slots[i];
		if (n == NULL)
			continue;
		bool active = node_active(&n->info, now);
		if (n->cls >= 0 && !active) {
			deactivate(nm, n);
			netmap_close_node(nm, n->info.id, "{\"type\":\"expired\"}\n");
		} else if (n->cls < 0 && active) {
			activate(nm, n);
		}
	}
}

/* Queues the peers matching choice (by name or key) as changed on n's session. */
static void pend_exit_peers(struct netmap *nm, struct nm_node *n, const char *choice)
{
	if (choice[0] == '\0' || n->sess == NULL || n->sess->closed)
		return;
	for (size_t i = 0; i < nm->nslots; i++) {
		struct nm_node *p = nm->slots[i];
		if (p != NULL && p != n && p->peer_json_exit != NULL &&
		    (strcasecmp(choice, p->info.name) == 0 ||
		     strcmp(choice, p->info.node_key) == 0))
			pend_changed(nm, n->sess, p->info.id);
	}
}

void netmap_set_policy(struct netmap *nm, struct policy *policy)
{
	size_t words = nm->vis_words, rows = nm->ncls;
	uint64_t *old = malloc((rows ? rows : 1) * words * sizeof(uint64_t));
	size_t rule_words = (policy->nrules + 63) / 64 + 1;
	bool ok = old != NULL;
	for (size_t k = 0; ok && k < nm->ncls && rule_words > nm->rule_words; k++) {
		struct nm_class *c = &nm->classes[k];
		uint64_t *s = realloc(c->srcmask, rule_words * sizeof(uint64_t));
		if (s != NULL)
			c->srcmask = s;
		uint64_t *d = realloc(c->dstmask, rule_words * sizeof(uint64_t));
		if (d != NULL)
			c->dstmask = d;
		ok = s != NULL && d != NULL;
	}
	if (!ok) {
		mg_logf(MG_LOG_ERROR,
		        "netmap: out of memory applying a policy; keeping the old one");
		free(old);
		policy_free(policy);
		return;
	}
	if (rule_words > nm->rule_words)
		nm->rule_words = rule_words;
	memcpy(old, nm->vis, rows * words * sizeof(uint64_t));
	policy_free(nm->pol);
	nm->pol = policy;
	for (size_t k = 0; k < nm->ncls; k++)
		class_masks(nm, &nm->classes[k]);
	for (size_t a = 0; a < nm->ncls; a++)
		for (size_t b = 0; b <= a; b++)
			vis_compute_pair(nm, a, b);
	/* Only classes whose view changed produce peer deltas. */
	for (size_t a = 0; a < nm->ncls; a++) {
		struct nm_class *ca = &nm->classes[a];
		for (size_t b = 0; b < nm->ncls; b++) {
			bool was = (old[a * words + b / 64] >> (b % 64)) & 1;
			bool is = nm_vis(nm, (int)a, (int)b);
			if (was == is)
				continue;
			struct nm_class *cb = &nm->classes[b];
			for (size_t m = 0; m < ca->n; m++) {
				struct map_session *s = ca->members[m]->sess;
				if (s == NULL)
					continue;
				for (size_t p = 0; p < cb->n; p++) {
					if (cb->members[p] == ca->members[m])
						continue;
					if (is)
						pend_changed(nm, s, cb->members[p]->info.id);
					else
						pend_removed(nm, s, cb->members[p]->info.node_key);
				}
			}
		}
		for (size_t m = 0; m < ca->n; m++) {
			struct map_session *s = ca->members[m]->sess;
			if (s != NULL && !s->closed) {
				s->filter_dirty = true;
				mark_pending(nm, s);
			}
			/* The policy may have granted or withdrawn its use of an exit node. */
			pend_exit_peers(nm, ca->members[m], ca->members[m]->exit_choice);
			if (ca->members[m]->exit_choice[0] != '\0')
				self_dirty(nm, ca->members[m]);
		}
	}
	free(old);
}

void netmap_set_exit_choice(struct netmap *nm, int64_t node_id, const char *choice)
{
	struct nm_node *n = nm_find(nm, node_id);
	if (n == NULL)
		return;
	if (choice == NULL)
		choice = "";
	if (strcmp(n->exit_choice, choice) == 0)
		return;
	char old[sizeof(n->exit_choice)];
	memcpy(old, n->exit_choice, sizeof(old));
	snprintf(n->exit_choice, sizeof(n->exit_choice), "%s", choice);
	pend_exit_peers(nm, n, old);
	pend_exit_peers(nm, n, n->exit_choice);
	self_dirty(nm, n);
}

static int cmp_id(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Builds and queues the session's delta line; true when one was queued. */
static bool flush_one(struct netmap *nm, struct map_session *s)
{
	struct nm_node *n = nm_find(nm, s->node_id);
	if (n == NULL || n->sess != s || s->closed)
		return false;
	struct sbuf b = {0};
	sb_fmt(&b, "{\"type\":\"delta\",\"seq\":%llu", (unsigned long long)(s->seq + 1));
	bool any = false;
	/* A removal that was followed by a re-add in the same batch is not sent. */
	if (s->nchanged > 1)
		qsort(s->changed, s->nchanged, sizeof(int64_t), cmp_id);
	const char **keys = s->nremoved ? calloc(s->nchanged + 1, sizeof(char *)) : NULL;
	size_t nkeys = 0;
	for (size_t j = 0; keys != NULL && j < s->nchanged; j++) {
		struct nm_node *p = nm_find(nm, s->changed[j]);
		if (p && p->cls >= 0 && n->cls >= 0 && nm_vis(nm, n->cls, p->cls))
			keys[nkeys++] = p->info.node_key;
	}
	if (nkeys > 1)
		qsort(keys, nkeys, sizeof(char *), cmp_str);
	size_t nrem = 0;
	for (size_t i = 0; i < s->nremoved; i++) {
		const char *k = s->removed[i];
		if (nkeys > 0 && bsearch(&k, keys, nkeys, sizeof(char *), cmp_str) != NULL)
			continue;
		sb_str(&b, nrem++ ? ",\"" : ",\"peers_removed\":[\"");
		sb_str(&b, s->removed[i]);
		sb_str(&b, "\"");
	}
	free(keys);
	if (nrem) {
		sb_str(&b, "]");
		any = true;
	}
	size_t nch = 0;
	for (size_t i = 0; i < s->nchanged; i++) {
		if (i > 0 && s->changed[i] == s->changed[i - 1])
			continue;
		struct nm_node *p = nm_find(nm, s->changed[i]);
		if (p == NULL || p == n || p->cls < 0 || n->cls < 0 || !nm_vis(nm, n->cls, p->cls))
			continue;
		sb_str(&b, nch++ ? "," : ",\"peers_changed\":[");
		sb_str(&b, nm_peer_json_for(nm, n, p));
	}
	if (nch) {
		sb_str(&b, "]");
		any = true;
	}
	if (s->filter_dirty && n->cls >= 0) {
		char *f = nm_node_filter(nm, n);
		uint64_t h = nm_hash_str(f);
		if (f == NULL) {
			b.oom = true;
		} else if (h != n->filter_sent) {
			sb_str(&b, ",\"filter\":");
			sb_str(&b, f);
			n->filter_sent = h;
			any = true;
		}
		free(f);
	}
	if (s->self_dirty) {
		char *self = nm_self_json(nm, n);
		if (self != NULL) {
			sb_str(&b, ",\"self\":");
			sb_str(&b, self);
			free(self);
			any = true;
		}
	}
	sb_str(&b, "}\n");
	bool queued = any && !b.oom;
	if (queued) {
		s->seq++;
		nm_session_push(nm, s, b.p, b.len);
	}
	free(b.p);
	return queued;
}

void netmap_flush(struct netmap *nm)
{
	if (nm->pending == NULL)
		return;
	struct netmap_batch *batch = nm_trace_begin(nm);
	while (nm->pending != NULL) {
		struct map_session *s = nm->pending;
		nm->pending = s->next_pending;
		if (flush_one(nm, s) && !s->closed)
			nm_trace_queued(nm, batch, s);
		for (size_t i = 0; i < s->nremoved; i++)
			free(s->removed[i]);
		s->nremoved = s->nchanged = 0;
		s->filter_dirty = s->self_dirty = s->pending = false;
		s->next_pending = NULL;
	}
	batch->built = now_mono();
}

bool netmap_detach(struct netmap *nm, struct map_session *s)
{
	struct nm_node *n = nm_find(nm, s->node_id);
	bool current = n != NULL && n->sess == s;
	if (current)
		n->sess = NULL;
	if (s->pending) {
		struct map_session **pp = &nm->pending;
		while (*pp != NULL && *pp != s)
			pp = &(*pp)->next_pending;
		if (*pp == s)
			*pp = s->next_pending;
	}
	nm_session_free(s);
	return current;
}
