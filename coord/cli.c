// SPDX-License-Identifier: GPL-2.0-only
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <jansson.h>

struct buf {
	char *p;
	size_t len;
};

static size_t on_data(char *data, size_t size, size_t n, void *ctx)
{
	struct buf *b = ctx;
	size_t add = size * n;
	if (b->len + add > 64 * 1024 * 1024)
		return 0;
	char *p = realloc(b->p, b->len + add + 1);
	if (p == NULL)
		return 0;
	memcpy(p + b->len, data, add);
	b->p = p;
	b->len += add;
	b->p[b->len] = '\0';
	return add;
}

/* One request; returns the parsed reply or NULL after printing why. */
static json_t *call(const struct cli_opts *o, const char *method, const char *path,
                    const char *body, const char *content_type)
{
	if (o->api_key == NULL) {
		fprintf(stderr, "meshgate-coord: no API key: set MESHGATE_COORD_API_KEY, "
		                "MESHGATE_COORD_API_KEY_FILE or --api-key-file\n");
		return NULL;
	}
	CURL *h = curl_easy_init();
	if (h == NULL)
		return NULL;
	char url[1024], auth[256];
	snprintf(url, sizeof(url), "%s%s", o->server, path);
	snprintf(auth, sizeof(auth), "Authorization: Bearer %s", o->api_key);
	char ct[128];
	snprintf(ct, sizeof(ct), "Content-Type: %s",
	         content_type ? content_type : "application/json");
	struct curl_slist *hdrs = curl_slist_append(NULL, auth);
	hdrs = curl_slist_append(hdrs, ct);
	struct buf b = {0};
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &b);
	curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
	if (body != NULL) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
	}
	if (o->cacert != NULL)
		curl_easy_setopt(h, CURLOPT_CAINFO, o->cacert);
	if (o->insecure) {
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	CURLcode rc = curl_easy_perform(h);
	long status = 0;
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	memset(auth, 0, sizeof(auth));
	json_t *j = NULL;
	if (rc != CURLE_OK) {
		fprintf(stderr, "meshgate-coord: %s: %s\n", url, curl_easy_strerror(rc));
	} else {
		j = b.p ? json_loads(b.p, 0, NULL) : NULL;
		if (j == NULL) {
			fprintf(stderr, "meshgate-coord: HTTP %ld with an unreadable reply\n",
			        status);
		} else if (status >= 400) {
			fprintf(stderr, "meshgate-coord: HTTP %ld %s: %s\n", status,
			        json_string_value(json_object_get(j, "error")),
			        json_string_value(json_object_get(j, "message")));
			json_decref(j);
			j = NULL;
		}
	}
	free(b.p);
	return j;
}

static void fmt_time(json_int_t t, char *out, size_t len)
{
	if (t == 0) {
		snprintf(out, len, "never");
		return;
	}
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(out, len, "%Y-%m-%d %H:%M", &tm);
}

static const char *str_list(json_t *a, char *out, size_t len)
{
	out[0] = '\0';
	size_t i;
	json_t *e;
	json_array_foreach(a, i, e)
	{
		size_t n = strlen(out);
		snprintf(out + n, len - n, "%s%s", i ? "," : "", json_string_value(e));
	}
	return out[0] ? out : "-";
}

static void table(json_t *rows, const char *area)
{
	size_t i;
	json_t *r;
	char t1[32], t2[32], l1[512], l2[512], l3[512];
	if (strcmp(area, "users") == 0) {
		printf("%-6s %-24s %s\n", "ID", "NAME", "CREATED");
		json_array_foreach(rows, i, r)
		{
			fmt_time(json_integer_value(json_object_get(r, "created_at")), t1,
			         sizeof(t1));
			printf("%-6lld %-24s %s\n",
			       (long long)json_integer_value(json_object_get(r, "id")),
			       json_string_value(json_object_get(r, "name")), t1);
		}
	} else if (strcmp(area, "keys") == 0) {
		printf("%-13s %-12s %-8s %-9s %-5s %-17s %s\n", "PREFIX", "USER", "REUSABLE",
		       "EPHEMERAL", "USED", "EXPIRES", "TAGS");
		json_array_foreach(rows, i, r)
		{
			fmt_time(json_integer_value(json_object_get(r, "expires_at")), t1,
			         sizeof(t1));
			printf("%-13s %-12s %-8s %-9s %-5s %-17s %s\n",
			       json_string_value(json_object_get(r, "prefix")),
			       json_string_value(json_object_get(r, "user")),
			       json_is_true(json_object_get(r, "reusable")) ? "yes" : "no",
			       json_is_true(json_object_get(r, "ephemeral")) ? "yes" : "no",
			       json_is_true(json_object_get(r, "used")) ? "yes" : "no", t1,
			       str_list(json_object_get(r, "tags"), l1, sizeof(l1)));
		}
	} else if (strcmp(area, "apikeys") == 0) {
		printf("%-13s %-17s %s\n", "PREFIX", "CREATED", "EXPIRES");
		json_array_foreach(rows, i, r)
		{
			fmt_time(json_integer_value(json_object_get(r, "created_at")), t1,
			         sizeof(t1));
			fmt_time(json_integer_value(json_object_get(r, "expires_at")), t2,
			         sizeof(t2));
			printf("%-13s %-17s %s\n", json_string_value(json_object_get(r, "prefix")),
			       t1, t2);
		}
	} else if (strcmp(area, "nodes") == 0) {
		printf("%-5s %-20s %-12s %-30s %-7s %-17s %s\n", "ID", "NAME", "USER", "ADDRESSES",
		       "ONLINE", "KEY EXPIRY", "TAGS");
		json_array_foreach(rows, i, r)
		{
			fmt_time(json_integer_value(json_object_get(r, "key_expiry")), t1,
			         sizeof(t1));
			printf("%-5lld %-20s %-12s %-30s %-7s %-17s %s\n",
			       (long long)json_integer_value(json_object_get(r, "id")),
			       json_string_value(json_object_get(r, "name")),
			       json_string_value(json_object_get(r, "user")),
			       str_list(json_object_get(r, "addresses"), l2, sizeof(l2)),
			       json_is_true(json_object_get(r, "expired"))  ? "expired"
			       : json_is_true(json_object_get(r, "online")) ? "yes"
			                                                    : "no",
			       t1, str_list(json_object_get(r, "tags"), l3, sizeof(l3)));
		}
	} else if (strcmp(area, "routes") == 0) {
		printf("%-5s %-20s %-24s %s\n", "NODE", "NAME", "PREFIX", "APPROVED");
		json_array_foreach(rows, i, r)
		{
			printf("%-5lld %-20s %-24s %s\n",
			       (long long)json_integer_value(json_object_get(r, "node_id")),
			       json_string_value(json_object_get(r, "node")),
			       json_string_value(json_object_get(r, "prefix")),
			       json_is_true(json_object_get(r, "approved")) ? "yes" : "no");
		}
	}
}

/* Prints j (JSON mode) or rows under key as a table, or the "key" field for creations. */
static int show(const struct cli_opts *o, json_t *j, const char *key, const char *area)
{
	if (j == NULL)
		return 1;
	if (o->json) {
		char *s = json_dumps(j, JSON_INDENT(2) | JSON_SORT_KEYS);
		printf("%s\n", s ? s : "null");
		free(s);
	} else if (key != NULL && json_is_array(json_object_get(j, key))) {
		table(json_object_get(j, key), area);
	} else if (json_is_string(json_object_get(j, "key"))) {
		printf("%s\n", json_string_value(json_object_get(j, "key")));
	} else if (json_is_object(j) && json_object_get(j, "id") && json_object_get(j, "name") &&
	           json_object_get(j, "addresses")) {
		json_t *rows = json_pack("[O]", j);
		table(rows, "nodes");
		json_decref(rows);
	} else {
		char *s = json_dumps(j, JSON_COMPACT | JSON_SORT_KEYS);
		printf("%s\n", s ? s : "");
		free(s);
	}
	json_decref(j);
	return 0;
}

static char *slurp(const char *path)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	if (f == NULL) {
		perror(path);
		return NULL;
	}
	size_t cap = 16 * 1024 * 1024;
	char *b = malloc(cap + 1);
	size_t n = b ? fread(b, 1, cap, f) : 0;
	if (f != stdin)
		fclose(f);
	if (b != NULL)
		b[n] = '\0';
	return b;
}

void cli_usage(void)
{
	fprintf(stderr,
	        "areas and commands:\n"
	        "  users list | create NAME | delete NAME\n"
	        "  keys list [--user U] | create --user U [--reusable] [--ephemeral]\n"
	        "       [--expiration 1h] [--tags tag:a,tag:b] | expire PREFIX\n"
	        "  apikeys list | create [--expiration 90d] | delete PREFIX\n"
	        "  nodes list [--user U] | show ID | rename ID NAME | expire ID | delete ID\n"
	        "  routes list | approve ID PREFIX | unapprove ID PREFIX\n"
	        "  policy get | set FILE | check FILE     (FILE is JSON or YAML; '-' for stdin)\n"
	        "exit nodes: a node gets a peer's 0.0.0.0/0 and ::/0 only when its map request\n"
	        "  chose that peer (agent exit_node:, gateway coordinator.use_exit_node:) and a\n"
	        "  policy rule lets it reach \"autogroup:internet:*\" (or \"*:*\"); approve the\n"
	        "  exit node's routes with 'routes approve' or autoApprovers.exitNode.\n");
}

static int bad(const char *what)
{
	fprintf(stderr, "meshgate-coord: %s\n", what);
	cli_usage();
	return 2;
}

static const char *flag_value(int argc, char **argv, const char *flag)
{
	for (int i = 0; i + 1 < argc; i++)
		if (strcmp(argv[i], flag) == 0)
			return argv[i + 1];
	return NULL;
}

static bool has_flag(int argc, char **argv, const char *flag)
{
	for (int i = 0; i < argc; i++)
		if (strcmp(argv[i], flag) == 0)
			return true;
	return false;
}

static int keys_create(const struct cli_opts *o, int argc, char **argv)
{
	const char *user = flag_value(argc, argv, "--user");
	if (user == NULL)
		return bad("keys create needs --user");
	json_t *req =
	    json_pack("{ss sb sb}", "user", user, "reusable", has_flag(argc, argv, "--reusable"),
	              "ephemeral", has_flag(argc, argv, "--ephemeral"));
	const char *exp = flag_value(argc, argv, "--expiration");
	if (exp != NULL)
		json_object_set_new(req, "expiration", json_string(exp));
	const char *tags = flag_value(argc, argv, "--tags");
	if (tags != NULL) {
		json_t *a = json_array();
		char *copy = strdup(tags), *save = NULL;
		for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save))
			json_array_append_new(a, json_string(t));
		free(copy);
		json_object_set_new(req, "tags", a);
	}
	char *body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	int rc = show(o, call(o, "POST", "/v1/admin/preauthkeys", body, NULL), NULL, "keys");
	free(body);
	return rc;
}

static int routes_change(const struct cli_opts *o, const char *id, const char *prefix, bool add)
{
	char path[128];
	snprintf(path, sizeof(path), "/v1/admin/nodes/%s", id);
	json_t *node = call(o, "GET", path, NULL, NULL);
	if (node == NULL)
		return 1;
	json_t *list = json_array(), *cur = json_object_get(node, "routes_approved");
	size_t i;
	json_t *e;
	json_array_foreach(cur, i, e)
	{
		if (strcmp(json_string_value(e), prefix) != 0)
			json_array_append(list, e);
	}
	if (add)
		json_array_append_new(list, json_string(prefix));
	json_decref(node);
	json_t *req = json_pack("{so}", "approved", list);
	char *body = json_dumps(req, JSON_COMPACT);
	json_decref(req);
	snprintf(path, sizeof(path), "/v1/admin/nodes/%s/routes", id);
	int rc = show(o, call(o, "POST", path, body, NULL), NULL, "nodes");
	free(body);
	return rc;
}

static int policy_cmd(const struct cli_opts *o, int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "get") == 0) {
		json_t *j = call(o, "GET", "/v1/admin/policy", NULL, NULL);
		if (j == NULL)
			return 1;
		if (o->json)
			return show(o, j, NULL, "policy");
		printf("%s", json_string_value(json_object_get(j, "policy")));
		json_decref(j);
		return 0;
	}
	if (argc >= 3 && (strcmp(argv[1], "set") == 0 || strcmp(argv[1], "check") == 0)) {
		char *text = slurp(argv[2]);
		if (text == NULL)
			return 1;
		const char *dot = strrchr(argv[2], '.');
		const char *ct = dot && strcmp(dot, ".json") == 0 ? "application/json"
		                 : dot && (strcmp(dot, ".yaml") == 0 || strcmp(dot, ".yml") == 0)
		                     ? "application/yaml"
		                     : "text/plain";
		bool check = strcmp(argv[1], "check") == 0;
		int rc =
		    show(o,
		         call(o, "PUT", check ? "/v1/admin/policy?dry_run=1" : "/v1/admin/policy",
		              text, ct),
		         NULL, "policy");
		free(text);
		return rc;
	}
	return bad("policy: expected get, set FILE or check FILE");
}

int cli_main(const struct cli_opts *o, int argc, char **argv)
{
	const char *area = argv[0], *cmd = argc > 1 ? argv[1] : "";
	char path[256], body[512];
	curl_global_init(CURL_GLOBAL_DEFAULT);
	int rc;
	if (strcmp(area, "users") == 0) {
		if (strcmp(cmd, "list") == 0)
			rc = show(o, call(o, "GET", "/v1/admin/users", NULL, NULL), "users",
			          "users");
		else if (strcmp(cmd, "create") == 0 && argc >= 3) {
			json_t *req = json_pack("{ss}", "name", argv[2]);
			char *b = json_dumps(req, JSON_COMPACT);
			json_decref(req);
			rc = show(o, call(o, "POST", "/v1/admin/users", b, NULL), NULL, "users");
			free(b);
		} else if (strcmp(cmd, "delete") == 0 && argc >= 3) {
			snprintf(path, sizeof(path), "/v1/admin/users/%s", argv[2]);
			rc = show(o, call(o, "DELETE", path, NULL, NULL), NULL, "users");
		} else
			rc = bad("users: expected list, create NAME or delete NAME");
	} else if (strcmp(area, "keys") == 0) {
		const char *user = flag_value(argc, argv, "--user");
		if (strcmp(cmd, "list") == 0) {
			snprintf(path, sizeof(path), "/v1/admin/preauthkeys%s%s",
			         user ? "?user=" : "", user ? user : "");
			rc = show(o, call(o, "GET", path, NULL, NULL), "preauthkeys", "keys");
		} else if (strcmp(cmd, "create") == 0)
			rc = keys_create(o, argc, argv);
		else if (strcmp(cmd, "expire") == 0 && argc >= 3) {
			snprintf(path, sizeof(path), "/v1/admin/preauthkeys/%s", argv[2]);
			rc = show(o, call(o, "DELETE", path, NULL, NULL), NULL, "keys");
		} else
			rc = bad("keys: expected list, create or expire PREFIX");
	} else if (strcmp(area, "apikeys") == 0) {
		if (strcmp(cmd, "list") == 0)
			rc = show(o, call(o, "GET", "/v1/admin/apikeys", NULL, NULL), "apikeys",
			          "apikeys");
		else if (strcmp(cmd, "create") == 0) {
			const char *exp = flag_value(argc, argv, "--expiration");
			snprintf(body, sizeof(body), "{\"expiration\":\"%s\"}", exp ? exp : "90d");
			rc = show(o, call(o, "POST", "/v1/admin/apikeys", body, NULL), NULL,
			          "apikeys");
		} else if (strcmp(cmd, "delete") == 0 && argc >= 3) {
			snprintf(path, sizeof(path), "/v1/admin/apikeys/%s", argv[2]);
			rc = show(o, call(o, "DELETE", path, NULL, NULL), NULL, "apikeys");
		} else
			rc = bad("apikeys: expected list, create or delete PREFIX");
	} else if (strcmp(area, "nodes") == 0) {
		const char *user = flag_value(argc, argv, "--user");
		if (strcmp(cmd, "list") == 0) {
			snprintf(path, sizeof(path), "/v1/admin/nodes%s%s", user ? "?user=" : "",
			         user ? user : "");
			rc = show(o, call(o, "GET", path, NULL, NULL), "nodes", "nodes");
		} else if (strcmp(cmd, "show") == 0 && argc >= 3) {
			snprintf(path, sizeof(path), "/v1/admin/nodes/%s", argv[2]);
			rc = show(o, call(o, "GET", path, NULL, NULL), NULL, "nodes");
		} else if (strcmp(cmd, "rename") == 0 && argc >= 4) {
			snprintf(path, sizeof(path), "/v1/admin/nodes/%s/rename", argv[2]);
			json_t *req = json_pack("{ss}", "name", argv[3]);
			char *b = json_dumps(req, JSON_COMPACT);
			json_decref(req);
			rc = show(o, call(o, "POST", path, b, NULL), NULL, "nodes");
			free(b);
		} else if (strcmp(cmd, "expire") == 0 && argc >= 3) {
			snprintf(path, sizeof(path), "/v1/admin/nodes/%s/expire", argv[2]);
			rc = show(o, call(o, "POST", path, "{}", NULL), NULL, "nodes");
		} else if (strcmp(cmd, "delete") == 0 && argc >= 3) {
			snprintf(path, sizeof(path), "/v1/admin/nodes/%s", argv[2]);
			rc = show(o, call(o, "DELETE", path, NULL, NULL), NULL, "nodes");
		} else
			rc = bad("nodes: expected list, show, rename, expire or delete");
	} else if (strcmp(area, "routes") == 0) {
		if (strcmp(cmd, "list") == 0)
			rc = show(o, call(o, "GET", "/v1/admin/routes", NULL, NULL), "routes",
			          "routes");
		else if ((strcmp(cmd, "approve") == 0 || strcmp(cmd, "unapprove") == 0) &&
		         argc >= 4)
			rc = routes_change(o, argv[2], argv[3], strcmp(cmd, "approve") == 0);
		else
			rc = bad("routes: expected list, approve ID PREFIX or unapprove ID PREFIX");
	} else if (strcmp(area, "policy") == 0) {
		rc = policy_cmd(o, argc, argv);
	} else {
		rc = bad("unknown area");
	}
	curl_global_cleanup();
	return rc;
}
