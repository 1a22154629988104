// SPDX-License-Identifier: GPL-2.0-only
/* Admin API: users, API keys, pre-auth keys. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "db.h"
#include "http.h"
#include "log.h"

static bool user_name_valid(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 63 || strncmp(s, "group:", 6) == 0 || strncmp(s, "tag:", 4) == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!islower((unsigned char)s[i]) && !isdigit((unsigned char)s[i]) && s[i] != '-' &&
		    s[i] != '_' && s[i] != '.')
			return false;
	return true;
}

static void method_not_allowed(struct http_req *r, struct http_reply *o)
{
	reply_error(o, 405, "method_not_allowed", "%s is not supported on %.128s", r->method,
	            r->path);
}

void api_users(struct http_req *r, struct http_reply *o, const char *name)
{
	struct coord *c = r->c;
	if (strcmp(r->method, "GET") == 0 && name == NULL) {
		json_t *l = db_user_list(c->store);
		if (l == NULL)
			reply_error(o, 500, "store_error", "cannot list users");
		else
			reply_json(o, 200, json_pack("{so}", "users", l));
	} else if (strcmp(r->method, "POST") == 0 && name == NULL) {
		static const char *const known[] = {"name", NULL};
		json_t *req = req_json(r, o);
		if (req == NULL || !req_keys_known(req, known, o)) {
			json_decref(req);
			return;
		}
		const char *n = json_string_value(json_object_get(req, "name"));
		int64_t id;
		if (n == NULL || !user_name_valid(n)) {
			reply_error(o, 400, "bad_name",
			            "'name' must be 1-63 characters of a-z, 0-9, '-', '_' or '.'");
		} else {
			enum store_status st = db_user_create(c->store, n, &id);
			if (st == STORE_CONFLICT)
				reply_error(o, 409, "exists", "user '%s' already exists", n);
			else if (st != STORE_OK)
				reply_error(o, 500, "store_error", "cannot create the user");
			else
				reply_json(o, 201,
				           json_pack("{sI ss}", "id", (json_int_t)id, "name", n));
		}
		json_decref(req);
	} else if (strcmp(r->method, "DELETE") == 0 && name != NULL) {
		int64_t id;
		if (!db_user_find(c->store, name, &id)) {
			reply_error(o, 404, "not_found", "no user '%.64s'", name);
		} else if (db_user_node_count(c->store, id) != 0) {
			reply_error(o, 409, "user_has_nodes",
			            "user '%s' still has nodes; delete them first", name);
		} else if (policy_mentions_user(netmap_policy(c->nm), name)) {
			reply_error(o, 409, "user_in_policy",
			            "the policy names user '%s'; change the policy first", name);
		} else if (db_user_delete(c->store, id) != STORE_OK) {
			reply_error(o, 500, "store_error", "cannot delete the user");
		} else {
			reply_json(o, 200, json_pack("{ss}", "deleted", name));
		}
	} else {
		method_not_allowed(r, o);
	}
}

/* "expiration": a duration string ("90d") or seconds; def when absent. -1 after a reply. */
static int64_t expiration(json_t *req, int64_t def, struct http_reply *o)
{
	json_t *e = json_object_get(req, "expiration");
	int64_t d = def;
	if (e != NULL) {
		if (json_is_integer(e))
			d = json_integer_value(e);
		else if (json_is_string(e))
			d = parse_duration(json_string_value(e));
		else
			d = -1;
		if (d <= 0 || d > 10ll * 365 * 86400) {
			reply_error(o, 400, "bad_expiration",
			            "'expiration' must be a duration such as 1h, 30d, or seconds "
			            "(at most 10 years)");
			return -1;
		}
	}
	return d;
}

void api_apikeys(struct http_req *r, struct http_reply *o, const char *prefix)
{
	struct coord *c = r->c;
	if (strcmp(r->method, "GET") == 0 && prefix == NULL) {
		json_t *l = db_apikey_list(c->store);
		if (l == NULL)
			reply_error(o, 500, "store_error", "cannot list API keys");
		else
			reply_json(o, 200, json_pack("{so}", "apikeys", l));
	} else if (strcmp(r->method, "POST") == 0 && prefix == NULL) {
		static const char *const known[] = {"expiration", NULL};
		json_t *req = r->body_len ? req_json(r, o) : json_object();
		int64_t d;
		if (req == NULL || !req_keys_known(req, known, o) ||
		    (d = expiration(req, 90 * 86400, o)) < 0) {
			json_decref(req);
			return;
		}
		char tok[TOKEN_MAX_LEN], pfx[TOKEN_PREFIX_LEN + 1], hash[TOKEN_HASH_HEX_LEN + 1];
		token_new("api", tok, pfx, hash);
		int64_t exp = now_unix() + d;
		if (db_apikey_create(c->store, pfx, hash, exp) != STORE_OK)
			reply_error(o, 500, "store_error", "cannot store the API key");
		else
			reply_json(o, 201,
			           json_pack("{ss ss sI}", "key", tok, "prefix", pfx, "expires_at",
			                     (json_int_t)exp));
		wg_memzero(tok, sizeof(tok));
		json_decref(req);
	} else if (strcmp(r->method, "DELETE") == 0 && prefix != NULL) {
		if (db_apikey_delete(c->store, prefix) != STORE_OK)
			reply_error(o, 500, "store_error", "cannot delete the API key");
		else if (c->store->changes == 0)
			reply_error(o, 404, "not_found", "no API key with prefix '%.32s'", prefix);
		else
			reply_json(o, 200, json_pack("{ss}", "deleted", prefix));
	} else {
		method_not_allowed(r, o);
	}
}

static bool tags_valid(struct coord *c, json_t *tags, struct http_reply *o)
{
	if (tags == NULL)
		return true;
	if (!json_is_array(tags) || json_array_size(tags) > 32) {
		reply_error(o, 400, "bad_tags", "'tags' must be an array of at most 32 tag:NAME");
		return false;
	}
	size_t i;
	json_t *t;
	json_array_foreach(tags, i, t)
	{
		const char *s = json_string_value(t);
		if (s == NULL || strncmp(s, "tag:", 4) != 0) {
			reply_error(o, 400, "bad_tags", "'tags[%zu]' must look like tag:NAME", i);
			return false;
		}
		if (!policy_has_tag(netmap_policy(c->nm), s)) {
			reply_error(o, 400, "unknown_tag",
			            "'tags[%zu]': tag '%.64s' is not declared in the policy's "
			            "tagOwners",
			            i, s);
			return false;
		}
	}
	return true;
}

static int cmp_json_str(const void *a, const void *b)
{
	return strcmp(json_string_value(*(json_t *const *)a),
	              json_string_value(*(json_t *const *)b));
}

/* Sorted, without duplicates: a node's tag set is its identity. */
static json_t *tags_canonical(json_t *tags)
{
	size_t n = json_array_size(tags);
	json_t **v = calloc(n + 1, sizeof(*v));
	json_t *out = json_array();
	for (size_t i = 0; v && i < n; i++)
		v[i] = json_array_get(tags, i);
	if (v && n > 1)
		qsort(v, n, sizeof(*v), cmp_json_str);
	for (size_t i = 0; v && i < n; i++)
		if (i == 0 || !json_equal(v[i], v[i - 1]))
			json_array_append(out, v[i]);
	free(v);
	return out;
}

static void preauth_create(struct http_req *r, struct http_reply *o)
{
	static const char *const known[] = {"user",       "reusable", "ephemeral",
	                                    "expiration", "tags",     NULL};
	struct coord *c = r->c;
	json_t *req = req_json(r, o), *tags = NULL;
	char tok[TOKEN_MAX_LEN] = "", *tags_s = NULL;
	int64_t d, uid;
	if (req == NULL || !req_keys_known(req, known, o) || (d = expiration(req, 3600, o)) < 0)
		goto out;
	const char *user = json_string_value(json_object_get(req, "user"));
	json_t *reusable = json_object_get(req, "reusable"),
	       *ephemeral = json_object_get(req, "ephemeral");
	if (user == NULL || !db_user_find(c->store, user, &uid)) {
		reply_error(o, 400, "unknown_user", "'user' must name an existing user");
		goto out;
	}
	if ((reusable && !json_is_boolean(reusable)) ||
	    (ephemeral && !json_is_boolean(ephemeral))) {
		reply_error(o, 400, "bad_field",
		            "'reusable' and 'ephemeral' must be true or false");
		goto out;
	}
	if (!tags_valid(c, json_object_get(req, "tags"), o))
		goto out;
	tags = tags_canonical(json_object_get(req, "tags"));
	tags_s = json_dumps(tags, JSON_COMPACT);
	char pfx[TOKEN_PREFIX_LEN + 1], hash[TOKEN_HASH_HEX_LEN + 1];
	token_new("pre", tok, pfx, hash);
	int64_t exp = now_unix() + d;
	if (tags_s == NULL || db_preauth_create(c->store, pfx, hash, uid, json_is_true(reusable),
	                                        json_is_true(ephemeral), exp, tags_s) != STORE_OK) {
		reply_error(o, 500, "store_error", "cannot store the pre-auth key");
		goto out;
	}
	reply_json(o, 201,
	           json_pack("{ss ss ss sb sb sI sO}", "key", tok, "prefix", pfx, "user", user,
	                     "reusable", json_is_true(reusable), "ephemeral",
	                     json_is_true(ephemeral), "expires_at", (json_int_t)exp, "tags", tags));
out:
	wg_memzero(tok, sizeof(tok));
	free(tags_s);
	json_decref(tags);
	json_decref(req);
}

void api_preauthkeys(struct http_req *r, struct http_reply *o, const char *prefix)
{
	struct coord *c = r->c;
	if (strcmp(r->method, "GET") == 0 && prefix == NULL) {
		const char *user = req_query(r, "user");
		int64_t uid = 0;
		if (user != NULL && !db_user_find(c->store, user, &uid)) {
			reply_error(o, 404, "not_found", "no user '%.64s'", user);
			return;
		}
		json_t *l = db_preauth_list(c->store, uid);
		if (l == NULL)
			reply_error(o, 500, "store_error", "cannot list pre-auth keys");
		else
			reply_json(o, 200, json_pack("{so}", "preauthkeys", l));
	} else if (strcmp(r->method, "POST") == 0 && prefix == NULL) {
		preauth_create(r, o);
	} else if (strcmp(r->method, "DELETE") == 0 && prefix != NULL) {
		/* Revocation is expiry: the row stays for the record. */
		if (db_preauth_expire(c->store, prefix, now_unix()) != STORE_OK)
			reply_error(o, 500, "store_error", "cannot expire the pre-auth key");
		else if (c->store->changes == 0)
			reply_error(o, 404, "not_found", "no pre-auth key with prefix '%.32s'",
			            prefix);
		else
			reply_json(o, 200, json_pack("{ss}", "expired", prefix));
	} else {
		method_not_allowed(r, o);
	}
}
