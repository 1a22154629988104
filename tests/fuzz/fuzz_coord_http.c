// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fuzz target: meshgate-coord's request handlers (coord/http_local.h: the server's admission,
 * routing and every endpoint's query and body parsing, without a socket). Each input is one
 * request as text: "METHOD PATH[?QUERY]\n", header lines "Name: value\n", an empty line, then
 * the body. Every input runs against a coordinator in its starting state: an in-memory SQLite
 * store holding one user (alice), an API key, a reusable pre-auth key and one node with a
 * credential, all with fixed tokens the seeds and the dictionary carry. Building that costs far
 * more than most requests, so the coordinator is kept while requests leave its store untouched
 * (SQLite's total_changes() did not move: no row was inserted, updated or deleted) and built
 * afresh after any request that wrote. Every 64th untouched request the whole store is digested
 * again to prove that it still equals the starting state.
 *
 * Invariants per input:
 *  - the status is one docs/coord-admin.md and coord-protocol.md document (200, 201, 400, 401,
 *    403, 404, 405, 409, 413): with a healthy store there is no 5xx;
 *  - every error reply is {"error": CODE, "message": TEXT} with CODE a non-empty word;
 *  - a request without the API key (or the node credential, or the pre-auth key) changes
 *    nothing in the store; neither does a GET, nor a refused request ("a request that fails has
 *    written nothing"), compared by a digest of every row of every table;
 *  - a success reply is a JSON value.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <sodium.h>

#include "coord.h"
#include "db.h"
#include "fuzz_driver.h"
#include "http_local.h"
#include "log.h"
#include "util.h"

#define MAX_FIELDS 16

/* Fixed tokens: "mg" kind "_" 12 hex "_" 43 base64url. */
#define API_KEY  "mgapi_0123456789ab_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
#define PRE_KEY  "mgpre_abcdef012345_BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB"
#define NODE_KEY "mgnode_fedcba987654_CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC"

static char key_path[300];

static struct coord_config make_config(void)
{
	struct coord_config cfg;
	config_defaults(&cfg);
	free(cfg.store_url);
	free(cfg.server_key_file);
	cfg.store_url = strdup("sqlite::memory:");
	cfg.server_key_file = strdup(key_path);
	cfg.log_level = 0;
	return cfg;
}

static bool add_token(struct coord *c, const char *token, const char *kind, int64_t user)
{
	char prefix[TOKEN_PREFIX_LEN + 1], hash[TOKEN_HASH_HEX_LEN + 1];
	if (!token_parse(token, kind, prefix, hash))
		return false;
	if (strcmp(kind, "api") == 0)
		return db_apikey_create(c->store, prefix, hash, 0) == STORE_OK;
	return db_preauth_create(c->store, prefix, hash, user, true, false, 0, "[]") == STORE_OK;
}

static bool add_node(struct coord *c, int64_t user)
{
	struct node_info n = {.user_id = user, .addr_index = 1, .created_at = now_unix()};
	char prefix[TOKEN_PREFIX_LEN + 1], hash[TOKEN_HASH_HEX_LEN + 1];
	uint8_t pk[32] = {9};
	int64_t id;
	snprintf(n.name, sizeof(n.name), "laptop");
	snprintf(n.user, sizeof(n.user), "alice");
	wg_key_to_base64(n.node_key, pk);
	n.tags = json_array();
	n.endpoints = json_pack("[s]", "198.51.100.1:41641");
	n.routes_advertised = json_pack("[s]", "10.1.0.0/24");
	n.routes_approved = json_array();
	bool ok = token_parse(NODE_KEY, "node", prefix, hash) &&
	          db_node_insert(c->store, &n, prefix, hash, &id) == STORE_OK;
	node_info_clear(&n);
	if (ok) {
		pthread_mutex_lock(&c->lock);
		coord_node_changed(c, id);
		netmap_flush(c->nm);
		pthread_mutex_unlock(&c->lock);
	}
	return ok;
}

static bool coord_fixture(struct coord *c)
{
	struct coord_config cfg = make_config();
	char err[256];
	int64_t alice;
	if (!coord_init(c, &cfg, err, sizeof(err))) {
		fprintf(stderr, "fuzz_coord_http: %s\n", err);
		return false;
	}
	return db_user_create(c->store, "alice", &alice) == STORE_OK &&
	       add_token(c, API_KEY, "api", 0) && add_token(c, PRE_KEY, "pre", alice) &&
	       add_node(c, alice);
}

/* ---- the store's digest ---- */

static int digest_row(void *ctx, int ncols, const char *const *vals)
{
	crypto_generichash_state *st = ctx;
	for (int i = 0; i < ncols; i++) {
		const char *v = vals[i] ? vals[i] : "\x01NULL";
		crypto_generichash_update(st, (const uint8_t *)v, strlen(v) + 1);
	}
	crypto_generichash_update(st, (const uint8_t *)"\n", 1);
	return 0;
}

static int collect_table(void *ctx, int ncols, const char *const *vals)
{
	json_t *names = ctx;
	if (ncols == 1 && vals[0])
		json_array_append_new(names, json_string(vals[0]));
	return 0;
}

static void store_digest(struct coord *c, uint8_t out[32])
{
	crypto_generichash_state st;
	json_t *names = json_array(), *v;
	size_t i;
	crypto_generichash_init(&st, NULL, 0, 32);
	FUZZ_CHECK(store_exec(c->store,
	                      "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name",
	                      NULL, 0, collect_table, names) == STORE_OK,
	           "cannot list tables");
	json_array_foreach(names, i, v)
	{
		char sql[200];
		snprintf(sql, sizeof(sql), "SELECT * FROM \"%s\" ORDER BY 1", json_string_value(v));
		crypto_generichash_update(&st, (const uint8_t *)sql, strlen(sql));
		FUZZ_CHECK(store_exec(c->store, sql, NULL, 0, digest_row, &st) == STORE_OK,
		           "cannot read %s", sql);
	}
	json_decref(names);
	crypto_generichash_final(&st, out, 32);
}

/* ---- the request ---- */

struct parsed {
	char *text;
	struct http_local_request req;
	struct http_field headers[MAX_FIELDS], query[MAX_FIELDS];
};

/* Splits the input into a request; false when it is not one (too few parts). */
static bool parse(const uint8_t *data, size_t len, struct parsed *p)
{
	const uint8_t *nl = memchr(data, '\n', len);
	if (nl == NULL)
		return false;
	p->text = malloc(len + 1);
	FUZZ_CHECK(p->text != NULL, "out of memory");
	memcpy(p->text, data, len);
	p->text[len] = '\0';
	char *line = p->text, *end = p->text + (nl - data);
	*end = '\0';
	char *sp = strchr(line, ' ');
	if (sp == NULL || memchr(line, '\0', (size_t)(end - line)) != NULL)
		return false;
	*sp = '\0';
	p->req.method = line;
	p->req.path = sp + 1;
	char *q = strchr(sp + 1, '?');
	if (q) {
		*q++ = '\0';
		for (char *save = NULL, *a = strtok_r(q, "&", &save);
		     a && p->req.n_query < MAX_FIELDS; a = strtok_r(NULL, "&", &save)) {
			char *eq = strchr(a, '=');
			if (eq)
				*eq++ = '\0';
			p->query[p->req.n_query++] = (struct http_field){a, eq ? eq : ""};
		}
	}
	/* Headers: up to the first empty line; the rest is the body, binary as it may be. */
	char *h = end + 1, *stop = p->text + len;
	while (h < stop && *h != '\n') {
		char *e = memchr(h, '\n', (size_t)(stop - h));
		if (e == NULL)
			e = stop;
		*e = '\0';
		char *colon = strchr(h, ':');
		if (colon && p->req.n_headers < MAX_FIELDS) {
			*colon = '\0';
			char *v = colon + 1;
			while (*v == ' ')
				v++;
			p->headers[p->req.n_headers++] = (struct http_field){h, v};
		}
		h = e + 1;
	}
	if (h < stop)
		h++;
	p->req.headers = p->headers;
	p->req.query = p->query;
	p->req.body = h < stop ? h : "";
	p->req.body_len = h < stop ? (size_t)(stop - h) : 0;
	return true;
}

/* The request carries one of the fixture's secrets where the server would look for it. */
static bool carries_secret(const struct parsed *p)
{
	for (size_t i = 0; i < p->req.n_headers; i++)
		if (strstr(p->headers[i].value, API_KEY) || strstr(p->headers[i].value, NODE_KEY))
			return true;
	return p->req.body_len && memmem(p->req.body, p->req.body_len, PRE_KEY, strlen(PRE_KEY));
}

static void check_reply(int status, const char *reply)
{
	static const int documented[] = {200, 201, 400, 401, 403, 404, 405, 409, 413};
	bool known = false;
	for (size_t i = 0; i < sizeof(documented) / sizeof(documented[0]); i++)
		known |= status == documented[i];
	FUZZ_CHECK(known, "undocumented status %d: %s", status, reply ? reply : "(stream)");
	if (reply == NULL)
		return;
	json_error_t e;
	json_t *j = json_loads(reply, 0, &e);
	FUZZ_CHECK(j != NULL, "the reply is not JSON: %s", reply);
	if (status >= 400) {
		const char *code = json_string_value(json_object_get(j, "error"));
		FUZZ_CHECK(json_is_object(j) && code && code[0] &&
		               json_is_string(json_object_get(j, "message")),
		           "error reply without error and message: %s", reply);
	}
	json_decref(j);
}

static const char *status_label(int status)
{
	static char labels[600][16];
	if (status < 0 || status >= 600)
		return "status: other";
	if (!labels[status][0])
		snprintf(labels[status], sizeof(labels[status]), "status %d", status);
	return labels[status];
}

static int64_t total_changes(struct coord *c)
{
	int64_t n = -1;
	FUZZ_CHECK(store_exec(c->store, "SELECT total_changes()", NULL, 0, store_row_int64, &n) ==
	                   STORE_OK &&
	               n >= 0,
	           "cannot read total_changes()");
	return n;
}

/* The coordinator in its starting state, the digest of that store and its write count. */
static struct coord live;
static bool live_ok;
static uint8_t live_digest[32];
static int64_t live_changes;
static uint64_t untouched;

static void live_up(void)
{
	if (live_ok)
		return;
	FUZZ_CHECK(coord_fixture(&live), "the fixture failed");
	store_digest(&live, live_digest);
	live_changes = total_changes(&live);
	live_ok = true;
}

static void live_down(void)
{
	if (live_ok)
		coord_shutdown(&live);
	live_ok = false;
}

int fuzz_one(const uint8_t *data, size_t len)
{
	struct parsed p = {0};
	uint8_t after[32];
	char *reply = NULL;
	if (!parse(data, len, &p)) {
		free(p.text);
		fuzz_outcome("not a request");
		return 0;
	}
	live_up();
	int status = http_local_handle(&live, &p.req, &reply);
	check_reply(status, reply);
	bool wrote = total_changes(&live) != live_changes, changed = false;
	if (wrote || ++untouched % 64 == 0) {
		store_digest(&live, after);
		changed = memcmp(live_digest, after, 32) != 0;
		FUZZ_CHECK(wrote || !changed, "the store changed with no row written (status %d)",
		           status);
	}
	FUZZ_CHECK(!changed || carries_secret(&p),
	           "a request without credentials changed the store (status %d)", status);
	FUZZ_CHECK(!changed || status < 400, "refused with %d but wrote to the store", status);
	FUZZ_CHECK(!changed || strcmp(p.req.method, "GET") != 0, "a GET wrote to the store");
	/* A write may have moved the coordinator's memory too (map, policy): start again. */
	if (wrote)
		live_down();
	fuzz_outcome(status_label(status));
	free(reply);
	free(p.text);
	return 0;
}

/* ---- set-up ---- */

static void seed(const char *name, const char *text, int want)
{
	struct parsed p = {0};
	struct coord c;
	char *reply = NULL;
	FUZZ_CHECK(parse((const uint8_t *)text, strlen(text), &p), "seed %s", name);
	FUZZ_CHECK(coord_fixture(&c), "the fixture failed");
	int status = http_local_handle(&c, &p.req, &reply);
	FUZZ_CHECK(status == want, "seed %s: %d, not %d: %s", name, status, want,
	           reply ? reply : "");
	free(reply);
	free(p.text);
	coord_shutdown(&c);
	fuzz_seed_add(name, text, strlen(text));
	fuzz_one((const uint8_t *)text, strlen(text));
}

#define AUTH "Authorization: Bearer " API_KEY "\n"

int fuzz_init(void)
{
	static const struct {
		const char *name, *text;
		int status;
	} seeds[] = {
	    {"health", "GET /health\n\n", 200},
	    {"key", "GET /v1/key\n\n", 200},
	    {"challenge", "POST /v1/register/challenge\n\n{}", 200},
	    {"register",
	     "POST /v1/register\n\n{\"auth_key\": \"" PRE_KEY "\", \"node_key\": "
	     "\"CQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\", \"hostname\": \"h\", "
	     "\"challenge\": \"00\", \"nonce\": \"00\", \"proof\": \"00\"}",
	     400},
	    {"map",
	     "POST /v1/map\nAuthorization: Bearer " NODE_KEY "\n\n{\"endpoints\": "
	     "[\"198.51.100.2:41641\", \"[2001:db8::1]:1\"], \"routes\": [\"10.1.0.0/24\"], "
	     "\"version\": \"v\", \"stream\": true}",
	     200},
	    {"map_once", "POST /v1/map\nAuthorization: Bearer " NODE_KEY "\n\n{\"stream\": false}",
	     200},
	    {"users", "GET /v1/admin/users\n" AUTH "\n", 200},
	    {"user_create", "POST /v1/admin/users\n" AUTH "\n{\"name\": \"bob\"}", 201},
	    {"user_delete", "DELETE /v1/admin/users/alice\n" AUTH "\n", 409},
	    {"apikeys", "GET /v1/admin/apikeys\n" AUTH "\n", 200},
	    {"apikey_create", "POST /v1/admin/apikeys\n" AUTH "\n{\"expiration\": \"90d\"}", 201},
	    {"apikey_delete", "DELETE /v1/admin/apikeys/0123456789ab\n" AUTH "\n", 200},
	    {"preauthkeys", "GET /v1/admin/preauthkeys?user=alice\n" AUTH "\n", 200},
	    {"preauth_create",
	     "POST /v1/admin/preauthkeys\n" AUTH "\n{\"user\": \"alice\", "
	     "\"reusable\": true, \"ephemeral\": false, \"expiration\": \"1h\", "
	     "\"tags\": []}",
	     201},
	    {"preauth_delete", "DELETE /v1/admin/preauthkeys/abcdef012345\n" AUTH "\n", 200},
	    {"nodes", "GET /v1/admin/nodes?user=alice\n" AUTH "\n", 200},
	    {"node", "GET /v1/admin/nodes/1\n" AUTH "\n", 200},
	    {"node_rename", "POST /v1/admin/nodes/1/rename\n" AUTH "\n{\"name\": \"db-1\"}", 200},
	    {"node_expire", "POST /v1/admin/nodes/1/expire\n" AUTH "\n", 200},
	    {"node_routes", "POST /v1/admin/nodes/1/routes\n" AUTH "\n{\"approved\": []}", 200},
	    {"node_delete", "DELETE /v1/admin/nodes/1\n" AUTH "\n", 200},
	    {"routes", "GET /v1/admin/routes\n" AUTH "\n", 200},
	    {"policy", "GET /v1/admin/policy?format=yaml\n" AUTH "\n", 200},
	    {"policy_put",
	     "PUT /v1/admin/policy?dry_run=1\n" AUTH "Content-Type: "
	     "application/yaml\n\ngroups:\n  group:eng: [alice]\ntagOwners:\n  "
	     "tag:web: [group:eng]\nacls:\n  - action: accept\n    src: [group:eng]\n"
	     "    dst: [\"tag:web:80,443\", \"alice:*\"]\nautoApprovers:\n  routes:\n"
	     "    10.1.0.0/16: [tag:web]\n  exitNode: [alice]\n",
	     200},
	    {"policy_json",
	     "PUT /v1/admin/policy\n" AUTH "Content-Type: application/json\n\n"
	     "{\"acls\": [{\"action\": \"accept\", \"src\": [\"*\"], \"dst\": "
	     "[\"*:*\"]}]}",
	     200},
	    {"metrics", "GET /v1/admin/metrics\n" AUTH "\n", 200},
	};
	static const char *const tokens[] = {API_KEY,
	                                     PRE_KEY,
	                                     NODE_KEY,
	                                     "Authorization: Bearer ",
	                                     "Content-Type: ",
	                                     "application/json",
	                                     "application/yaml",
	                                     "/v1/admin/",
	                                     "users",
	                                     "apikeys",
	                                     "preauthkeys",
	                                     "nodes",
	                                     "routes",
	                                     "policy",
	                                     "metrics",
	                                     "/rename",
	                                     "/expire",
	                                     "GET ",
	                                     "POST ",
	                                     "PUT ",
	                                     "DELETE ",
	                                     "?user=",
	                                     "?format=",
	                                     "?dry_run=1",
	                                     "\"name\": ",
	                                     "\"expiration\": ",
	                                     "\"approved\": ",
	                                     "\"endpoints\": ",
	                                     "\"routes\": ",
	                                     "\"stream\": ",
	                                     "\"tags\": ",
	                                     "\"tag:web\"",
	                                     "\"user\": ",
	                                     "null",
	                                     "true",
	                                     "[]",
	                                     "{}",
	                                     "\\u0000",
	                                     "1e999",
	                                     "-1",
	                                     "9223372036854775808",
	                                     "0.0.0.0/0",
	                                     "::/0",
	                                     "100.64.0.1/32",
	                                     "fd7a::/48",
	                                     "127.0.0.1:1",
	                                     "[::1]:1",
	                                     "224.0.0.1:1",
	                                     "group:",
	                                     "autoApprovers:",
	                                     "exitNode: "};
	snprintf(key_path, sizeof(key_path), "%s/server.key", fuzz_scratch_dir());
	/* The audit log writes every admin request; a fuzzer makes millions. */
	FILE *devnull = fopen("/dev/null", "w");
	if (devnull == NULL)
		return -1;
	mg_log_set_output(devnull);
	for (size_t i = 0; i < sizeof(seeds) / sizeof(seeds[0]); i++)
		seed(seeds[i].name, seeds[i].text, seeds[i].status);
	for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++)
		fuzz_token_add_str(tokens[i]);
	fuzz_set_max_len(4096);
	return 0;
}
