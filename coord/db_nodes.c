// SPDX-License-Identifier: GPL-2.0-only
/* Node rows. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "db.h"

#define I64(buf, v) snprintf(buf, sizeof(buf), "%lld", (long long)(v))

#define NODE_COLS                                                                                  \
	"n.id, n.name, n.user_id, u.name, n.node_key, n.addr_index, n.tags, n.ephemeral, "         \
	"n.key_expiry, n.endpoints, n.routes_advertised, n.routes_approved, n.version, n.online, " \
	"n.last_seen, n.created_at, n.home_relay, n.stun_endpoints, n.nat FROM nodes n "           \
	"JOIN users u ON u.id = n.user_id"

static json_t *json_array_or_empty(const char *s)
{
	json_t *j = s ? json_loads(s, 0, NULL) : NULL;
	if (!json_is_array(j)) {
		json_decref(j);
		j = json_array();
	}
	return j;
}

static void parse_node(const char *const *v, struct node_info *n)
{
	memset(n, 0, sizeof(*n));
	n->id = strtoll(v[0], NULL, 10);
	snprintf(n->name, sizeof(n->name), "%s", v[1]);
	n->user_id = strtoll(v[2], NULL, 10);
	snprintf(n->user, sizeof(n->user), "%s", v[3]);
	snprintf(n->node_key, sizeof(n->node_key), "%s", v[4]);
	n->addr_index = strtoll(v[5], NULL, 10);
	n->tags = json_array_or_empty(v[6]);
	n->ephemeral = strcmp(v[7], "1") == 0;
	n->key_expiry = strtoll(v[8], NULL, 10);
	n->endpoints = json_array_or_empty(v[9]);
	n->routes_advertised = json_array_or_empty(v[10]);
	n->routes_approved = json_array_or_empty(v[11]);
	snprintf(n->version, sizeof(n->version), "%s", v[12] ? v[12] : "");
	n->online = strcmp(v[13], "1") == 0;
	n->last_seen = strtoll(v[14], NULL, 10);
	n->created_at = strtoll(v[15], NULL, 10);
	snprintf(n->home_relay, sizeof(n->home_relay), "%s", v[16] ? v[16] : "");
	n->stun_endpoints = json_array_or_empty(v[17]);
	snprintf(n->nat, sizeof(n->nat), "%s", v[18] && v[18][0] ? v[18] : "unknown");
}

static int row_node(void *ctx, int ncols, const char *const *v)
{
	(void)ncols;
	parse_node(v, ctx);
	return 1;
}

bool db_node_load(struct store *s, int64_t id, struct node_info *n)
{
	char i[24];
	I64(i, id);
	const char *p[] = {i};
	memset(n, 0, sizeof(*n));
	if (store_exec(s, "SELECT " NODE_COLS " WHERE n.id = $1", p, 1, row_node, n) != STORE_OK ||
	    n->id == 0) {
		node_info_clear(n);
		return false;
	}
	return true;
}

struct load_all {
	void (*fn)(void *ctx, struct node_info *n);
	void *ctx;
};

static int row_node_all(void *ctx, int ncols, const char *const *v)
{
	struct load_all *la = ctx;
	struct node_info n;
	(void)ncols;
	parse_node(v, &n);
	la->fn(la->ctx, &n);
	node_info_clear(&n);
	return 0;
}

bool db_node_load_all(struct store *s, void (*fn)(void *ctx, struct node_info *n), void *ctx)
{
	struct load_all la = {fn, ctx};
	return store_exec(s, "SELECT " NODE_COLS " ORDER BY n.id", NULL, 0, row_node_all, &la) ==
	       STORE_OK;
}

struct two_ids {
	int64_t a, b;
};

static int row_two(void *ctx, int ncols, const char *const *v)
{
	struct two_ids *t = ctx;
	(void)ncols;
	t->a = strtoll(v[0], NULL, 10);
	t->b = strtoll(v[1], NULL, 10);
	return 1;
}

bool db_node_find_by_key(struct store *s, const char *node_key, int64_t *id, int64_t *user_id)
{
	struct two_ids t = {0, 0};
	const char *p[] = {node_key};
	if (store_exec(s, "SELECT id, user_id FROM nodes WHERE node_key = $1", p, 1, row_two, &t) !=
	        STORE_OK ||
	    t.a == 0)
		return false;
	*id = t.a;
	*user_id = t.b;
	return true;
}

struct cred_row {
	int64_t id;
	char *hash;
};

static int row_cred(void *ctx, int ncols, const char *const *v)
{
	struct cred_row *r = ctx;
	(void)ncols;
	r->id = strtoll(v[0], NULL, 10);
	snprintf(r->hash, TOKEN_HASH_HEX_LEN + 1, "%s", v[1]);
	return 1;
}

bool db_node_find_by_cred(struct store *s, const char *prefix, int64_t *id, char hash[65])
{
	struct cred_row r = {0, hash};
	const char *p[] = {prefix};
	hash[0] = '\0';
	if (store_exec(s, "SELECT id, cred_hash FROM nodes WHERE cred_prefix = $1", p, 1, row_cred,
	               &r) != STORE_OK ||
	    r.id == 0)
		return false;
	*id = r.id;
	return true;
}

bool db_node_name_taken(struct store *s, const char *name, int64_t except_id)
{
	char e[24];
	I64(e, except_id);
	const char *p[] = {name, e};
	int64_t n = 0;
	store_exec(s, "SELECT COUNT(*) FROM nodes WHERE name = $1 AND id <> $2", p, 2,
	           store_row_int64, &n);
	return n != 0;
}

static int row_index(void *ctx, int ncols, const char *const *v)
{
	int64_t *want = ctx;
	(void)ncols;
	/* Rows come in ascending order: the first gap is the answer. */
	int64_t idx = strtoll(v[0], NULL, 10);
	if (idx > *want)
		return 1;
	*want = idx + 1;
	return 0;
}

int64_t db_node_free_index(struct store *s, int64_t max_index)
{
	int64_t top = 0;
	if (store_exec(s, "SELECT MAX(addr_index) FROM nodes", NULL, 0, store_row_int64, &top) !=
	    STORE_OK)
		return -1;
	if (top < max_index)
		return top + 1;
	/* The top is taken: search for the lowest gap (rare, so a scan is acceptable). */
	int64_t want = 1;
	if (store_exec(s, "SELECT addr_index FROM nodes ORDER BY addr_index", NULL, 0, row_index,
	               &want) != STORE_OK)
		return -1;
	return want <= max_index ? want : -1;
}

enum store_status db_node_insert(struct store *s, const struct node_info *n,
                                 const char *cred_prefix, const char *cred_hash, int64_t *id)
{
	char uid[24], idx[24], exp[24], now[24];
	I64(uid, n->user_id);
	I64(idx, n->addr_index);
	I64(exp, n->key_expiry);
	I64(now, n->created_at);
	char *tags = json_dumps(n->tags, JSON_COMPACT);
	if (tags == NULL)
		return STORE_ERROR;
	const char *p[] = {n->name, n->node_key, uid,       idx, tags, n->ephemeral ? "1" : "0",
	                   exp,     cred_prefix, cred_hash, now};
	*id = 0;
	enum store_status st =
	    store_exec(s,
	               "INSERT INTO nodes (name, node_key, user_id, addr_index, tags, ephemeral, "
	               "key_expiry, cred_prefix, cred_hash, created_at, last_seen) VALUES ($1, "
	               "$2, $3, $4, $5, $6, $7, $8, $9, $10, $10) RETURNING id",
	               p, 10, store_row_int64, id);
	free(tags);
	return st;
}

enum store_status db_node_reregister(struct store *s, int64_t id, const char *name,
                                     const char *tags_json, bool ephemeral, int64_t key_expiry,
                                     const char *cred_prefix, const char *cred_hash)
{
	char i[24], exp[24];
	I64(i, id);
	I64(exp, key_expiry);
	const char *p[] = {i, name, tags_json, ephemeral ? "1" : "0", exp, cred_prefix, cred_hash};
	return store_exec(s,
	                  "UPDATE nodes SET name = $2, tags = $3, ephemeral = $4, key_expiry = $5, "
	                  "cred_prefix = $6, cred_hash = $7 WHERE id = $1",
	                  p, 7, NULL, NULL);
}

enum store_status db_node_update_map(struct store *s, int64_t id, const struct db_map_report *r,
                                     int64_t now)
{
	char i[24], n[24];
	I64(i, id);
	I64(n, now);
	const char *p[] = {i, r->endpoints,          r->advertised, r->approved,       r->version,
	                   n, r->online ? "1" : "0", r->home_relay, r->stun_endpoints, r->nat};
	return store_exec(s,
	                  "UPDATE nodes SET endpoints = $2, routes_advertised = $3, "
	                  "routes_approved = $4, version = $5, last_seen = $6, online = $7, "
	                  "home_relay = $8, stun_endpoints = $9, nat = $10 WHERE id = $1",
	                  p, 10, NULL, NULL);
}

enum store_status db_node_set_online(struct store *s, int64_t id, bool online, int64_t now)
{
	char i[24], n[24];
	I64(i, id);
	I64(n, now);
	const char *p[] = {i, online ? "1" : "0", n};
	return store_exec(s, "UPDATE nodes SET online = $2, last_seen = $3 WHERE id = $1", p, 3,
	                  NULL, NULL);
}

enum store_status db_node_rename(struct store *s, int64_t id, const char *name)
{
	char i[24];
	I64(i, id);
	const char *p[] = {i, name};
	return store_exec(s, "UPDATE nodes SET name = $2 WHERE id = $1", p, 2, NULL, NULL);
}

enum store_status db_node_set_expiry(struct store *s, int64_t id, int64_t expiry)
{
	char i[24], e[24];
	I64(i, id);
	I64(e, expiry);
	const char *p[] = {i, e};
	return store_exec(s, "UPDATE nodes SET key_expiry = $2 WHERE id = $1", p, 2, NULL, NULL);
}

enum store_status db_node_set_approved(struct store *s, int64_t id, const char *approved)
{
	char i[24];
	I64(i, id);
	const char *p[] = {i, approved};
	return store_exec(s, "UPDATE nodes SET routes_approved = $2 WHERE id = $1", p, 2, NULL,
	                  NULL);
}

static int row_json(void *ctx, int ncols, const char *const *v)
{
	(void)ncols;
	*(json_t **)ctx = json_array_or_empty(v[0]);
	return 1;
}

json_t *db_node_get_auto(struct store *s, int64_t id)
{
	char i[24];
	I64(i, id);
	const char *p[] = {i};
	json_t *out = NULL;
	store_exec(s, "SELECT routes_auto FROM nodes WHERE id = $1", p, 1, row_json, &out);
	return out ? out : json_array();
}

enum store_status db_node_set_auto(struct store *s, int64_t id, const char *routes)
{
	char i[24];
	I64(i, id);
	const char *p[] = {i, routes};
	return store_exec(s, "UPDATE nodes SET routes_auto = $2 WHERE id = $1", p, 2, NULL, NULL);
}

enum store_status db_node_delete(struct store *s, int64_t id)
{
	char i[24];
	I64(i, id);
	const char *p[] = {i};
	return store_exec(s, "DELETE FROM nodes WHERE id = $1", p, 1, NULL, NULL);
}
