// SPDX-License-Identifier: GPL-2.0-only
/* Users, API keys, pre-auth keys, policy, server keys and challenges. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "db.h"
#include "keys.h"

#define I64(buf, v) snprintf(buf, sizeof(buf), "%lld", (long long)(v))

enum store_status db_user_create(struct store *s, const char *name, int64_t *id)
{
	char now[24];
	I64(now, now_unix());
	const char *p[] = {name, now};
	*id = 0;
	enum store_status st = store_exec(s,
	                                  "INSERT INTO users (name, created_at) VALUES ($1, $2) "
	                                  "RETURNING id",
	                                  p, 2, store_row_int64, id);
	return st;
}

bool db_user_find(struct store *s, const char *name, int64_t *id)
{
	const char *p[] = {name};
	*id = 0;
	return store_exec(s, "SELECT id FROM users WHERE name = $1", p, 1, store_row_int64, id) ==
	           STORE_OK &&
	       *id > 0;
}

enum store_status db_user_delete(struct store *s, int64_t id)
{
	char i[24];
	I64(i, id);
	const char *p[] = {i};
	enum store_status st =
	    store_exec(s, "DELETE FROM preauth_keys WHERE user_id = $1", p, 1, NULL, NULL);
	if (st != STORE_OK)
		return st;
	return store_exec(s, "DELETE FROM users WHERE id = $1", p, 1, NULL, NULL);
}

int64_t db_user_node_count(struct store *s, int64_t user_id)
{
	char i[24];
	I64(i, user_id);
	const char *p[] = {i};
	int64_t n = -1;
	store_exec(s, "SELECT COUNT(*) FROM nodes WHERE user_id = $1", p, 1, store_row_int64, &n);
	return n;
}

static int row_user(void *ctx, int ncols, const char *const *v)
{
	(void)ncols;
	json_array_append_new(ctx, json_pack("{sI ss sI}", "id",
	                                     (json_int_t)strtoll(v[0], NULL, 10), "name", v[1],
	                                     "created_at", (json_int_t)strtoll(v[2], NULL, 10)));
	return 0;
}

json_t *db_user_list(struct store *s)
{
	json_t *a = json_array();
	if (store_exec(s, "SELECT id, name, created_at FROM users ORDER BY id", NULL, 0, row_user,
	               a) != STORE_OK) {
		json_decref(a);
		return NULL;
	}
	return a;
}

enum store_status db_apikey_create(struct store *s, const char *prefix, const char *hash,
                                   int64_t expires_at)
{
	char now[24], exp[24];
	I64(now, now_unix());
	I64(exp, expires_at);
	const char *p[] = {prefix, hash, now, exp};
	return store_exec(s,
	                  "INSERT INTO api_keys (prefix, hash, created_at, expires_at) "
	                  "VALUES ($1, $2, $3, $4)",
	                  p, 4, NULL, NULL);
}

struct hash_row {
	char hash[TOKEN_HASH_HEX_LEN + 1];
	int64_t expires_at;
	bool found;
};

static int row_hash(void *ctx, int ncols, const char *const *v)
{
	struct hash_row *r = ctx;
	(void)ncols;
	snprintf(r->hash, sizeof(r->hash), "%s", v[0] ? v[0] : "");
	r->expires_at = v[1] ? strtoll(v[1], NULL, 10) : 0;
	r->found = true;
	return 1;
}

bool db_apikey_check(struct store *s, const char *prefix, const char *hash, int64_t now)
{
	struct hash_row r = {0};
	const char *p[] = {prefix};
	if (store_exec(s, "SELECT hash, expires_at FROM api_keys WHERE prefix = $1", p, 1, row_hash,
	               &r) != STORE_OK ||
	    !r.found)
		return false;
	bool ok = hash_hex_equal(r.hash, hash) && (r.expires_at == 0 || r.expires_at > now);
	wg_memzero(&r, sizeof(r));
	return ok;
}

static int row_apikey(void *ctx, int ncols, const char *const *v)
{
	(void)ncols;
	json_array_append_new(ctx, json_pack("{ss sI sI}", "prefix", v[0], "created_at",
	                                     (json_int_t)strtoll(v[1], NULL, 10), "expires_at",
	                                     (json_int_t)strtoll(v[2], NULL, 10)));
	return 0;
}

json_t *db_apikey_list(struct store *s)
{
	json_t *a = json_array();
	if (store_exec(s, "SELECT prefix, created_at, expires_at FROM api_keys ORDER BY id", NULL,
	               0, row_apikey, a) != STORE_OK) {
		json_decref(a);
		return NULL;
	}
	return a;
}

enum store_status db_apikey_delete(struct store *s, const char *prefix)
{
	const char *p[] = {prefix};
	return store_exec(s, "DELETE FROM api_keys WHERE prefix = $1", p, 1, NULL, NULL);
}

enum store_status db_preauth_create(struct store *s, const char *prefix, const char *hash,
                                    int64_t user_id, bool reusable, bool ephemeral,
                                    int64_t expires_at, const char *tags_json)
{
	char uid[24], now[24], exp[24];
	I64(uid, user_id);
	I64(now, now_unix());
	I64(exp, expires_at);
	const char *p[] = {prefix, hash,      uid, reusable ? "1" : "0", ephemeral ? "1" : "0",
	                   exp,    tags_json, now};
	return store_exec(s,
	                  "INSERT INTO preauth_keys (prefix, hash, user_id, reusable, ephemeral, "
	                  "expires_at, tags, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
	                  p, 8, NULL, NULL);
}

static int row_preauth(void *ctx, int ncols, const char *const *v)
{
	struct preauth_key *k = ctx;
	(void)ncols;
	k->id = strtoll(v[0], NULL, 10);
	snprintf(k->hash, sizeof(k->hash), "%s", v[1]);
	k->user_id = strtoll(v[2], NULL, 10);
	snprintf(k->user, sizeof(k->user), "%s", v[3]);
	k->reusable = strcmp(v[4], "1") == 0;
	k->ephemeral = strcmp(v[5], "1") == 0;
	k->used = strcmp(v[6], "1") == 0;
	k->expires_at = strtoll(v[7], NULL, 10);
	k->tags = json_loads(v[8], 0, NULL);
	return 1;
}

bool db_preauth_get(struct store *s, const char *prefix, struct preauth_key *k)
{
	memset(k, 0, sizeof(*k));
	const char *p[] = {prefix};
	if (store_exec(s,
	               "SELECT k.id, k.hash, k.user_id, u.name, k.reusable, k.ephemeral, k.used, "
	               "k.expires_at, k.tags FROM preauth_keys k JOIN users u ON u.id = k.user_id "
	               "WHERE k.prefix = $1",
	               p, 1, row_preauth, k) != STORE_OK ||
	    k->id == 0)
		return false;
	if (!json_is_array(k->tags)) {
		json_decref(k->tags);
		k->tags = json_array();
	}
	return true;
}

void db_preauth_clear(struct preauth_key *k)
{
	json_decref(k->tags);
	wg_memzero(k, sizeof(*k));
}

bool db_preauth_consume(struct store *s, int64_t id)
{
	char i[24];
	I64(i, id);
	const char *p[] = {i};
	/* The WHERE makes two concurrent registrations (two replicas) agree on one winner. */
	return store_exec(s, "UPDATE preauth_keys SET used = 1 WHERE id = $1 AND used = 0", p, 1,
	                  NULL, NULL) == STORE_OK &&
	       s->changes == 1;
}

enum store_status db_preauth_expire(struct store *s, const char *prefix, int64_t now)
{
	char n[24];
	I64(n, now);
	const char *p[] = {prefix, n};
	return store_exec(s, "UPDATE preauth_keys SET expires_at = $2 WHERE prefix = $1", p, 2,
	                  NULL, NULL);
}

static int row_preauth_list(void *ctx, int ncols, const char *const *v)
{
	(void)ncols;
	json_t *tags = json_loads(v[6], 0, NULL);
	json_array_append_new(ctx, json_pack("{ss ss sb sb sb sI so sI}", "prefix", v[0], "user",
	                                     v[1], "reusable", strcmp(v[2], "1") == 0, "ephemeral",
	                                     strcmp(v[3], "1") == 0, "used", strcmp(v[4], "1") == 0,
	                                     "expires_at", (json_int_t)strtoll(v[5], NULL, 10),
	                                     "tags", tags ? tags : json_array(), "created_at",
	                                     (json_int_t)strtoll(v[7], NULL, 10)));
	return 0;
}

json_t *db_preauth_list(struct store *s, int64_t user_id)
{
	json_t *a = json_array();
	char uid[24];
	I64(uid, user_id);
	const char *p[] = {uid};
	if (store_exec(
	        s,
	        "SELECT k.prefix, u.name, k.reusable, k.ephemeral, k.used, k.expires_at, "
	        "k.tags, k.created_at FROM preauth_keys k JOIN users u ON u.id = k.user_id "
	        "WHERE CAST($1 AS BIGINT) = 0 OR k.user_id = CAST($1 AS BIGINT) ORDER BY k.id",
	        p, 1, row_preauth_list, a) != STORE_OK) {
		json_decref(a);
		return NULL;
	}
	return a;
}

struct policy_row {
	char *body;
	char *format;
	int64_t version;
};

static int row_policy(void *ctx, int ncols, const char *const *v)
{
	struct policy_row *r = ctx;
	(void)ncols;
	r->body = strdup(v[0]);
	snprintf(r->format, 8, "%s", v[1]);
	r->version = strtoll(v[2], NULL, 10);
	return 1;
}

bool db_policy_get(struct store *s, char **body, char format[8], int64_t *version)
{
	struct policy_row r = {.format = format};
	if (store_exec(s, "SELECT body, format, version FROM policy WHERE id = 1", NULL, 0,
	               row_policy, &r) != STORE_OK ||
	    r.body == NULL)
		return false;
	*body = r.body;
	*version = r.version;
	return true;
}

enum store_status db_policy_set(struct store *s, const char *body, const char *format,
                                int64_t *version)
{
	char now[24];
	I64(now, now_unix());
	const char *p[] = {body, format, now};
	*version = 0;
	return store_exec(s,
	                  "INSERT INTO policy (id, body, format, version, updated_at) "
	                  "VALUES (1, $1, $2, 1, $3) ON CONFLICT (id) DO UPDATE SET body = $1, "
	                  "format = $2, version = policy.version + 1, updated_at = $3 "
	                  "RETURNING version",
	                  p, 3, store_row_int64, version);
}

enum store_status db_challenge_use(struct store *s, const char *challenge_hex, int64_t expires_at,
                                   int64_t now)
{
	char exp[24], n[24];
	I64(exp, expires_at);
	I64(n, now);
	const char *pd[] = {n};
	store_exec(s, "DELETE FROM used_challenges WHERE expires_at < $1", pd, 1, NULL, NULL);
	const char *p[] = {challenge_hex, exp};
	return store_exec(s, "INSERT INTO used_challenges (challenge, expires_at) VALUES ($1, $2)",
	                  p, 2, NULL, NULL);
}
