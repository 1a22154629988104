// SPDX-License-Identifier: GPL-2.0-only
/* Admin API: nodes (list, show, rename, expire, delete) and routes (list, approve). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "http.h"
#include "log.h"

json_t *node_to_admin_json(struct coord *c, const struct node_info *n)
{
	char v4[16], v6[48];
	netmap_addresses(c->nm, n->addr_index, v4, v6);
	bool expired = n->key_expiry != 0 && n->key_expiry <= now_unix();
	json_t *o = json_pack(
	    "{sI ss ss ss s[ss] sO sO sO sO ss sb sb sb sI sI sI}", "id", (json_int_t)n->id, "name",
	    n->name, "user", n->user, "node_key", n->node_key, "addresses", v4, v6, "tags", n->tags,
	    "endpoints", n->endpoints, "routes_advertised", n->routes_advertised, "routes_approved",
	    n->routes_approved, "version", n->version, "online", n->online, "ephemeral",
	    n->ephemeral, "expired", expired, "key_expiry", (json_int_t)n->key_expiry, "last_seen",
	    (json_int_t)n->last_seen, "created_at", (json_int_t)n->created_at);
	/* What the node learned with STUN: an operator's first look at why a pair is relayed. */
	if (o != NULL) {
		json_object_set_new(o, "stun_endpoints",
		                    n->stun_endpoints ? json_deep_copy(n->stun_endpoints)
		                                      : json_array());
		json_object_set_new(o, "nat", json_string(n->nat[0] ? n->nat : "unknown"));
	}
	return o;
}

struct list_ctx {
	struct coord *c;
	json_t *out;
	const char *user;
};

static void list_one(void *ctx, const struct node_info *n)
{
	struct list_ctx *l = ctx;
	if (l->user == NULL || strcmp(l->user, n->user) == 0)
		json_array_append_new(l->out, node_to_admin_json(l->c, n));
}

static int cmp_node_id(const void *a, const void *b)
{
	json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "id"));
	json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "id"));
	return x < y ? -1 : x > y;
}

/* Every node, by id (the map keeps no order). */
static json_t *sorted_nodes(struct coord *c, const char *user)
{
	struct list_ctx l = {c, json_array(), user};
	netmap_foreach(c->nm, list_one, &l);
	size_t n = json_array_size(l.out);
	json_t **v = calloc(n + 1, sizeof(*v));
	json_t *out = json_array();
	for (size_t i = 0; v && i < n; i++)
		v[i] = json_array_get(l.out, i);
	if (v && n > 1)
		qsort(v, n, sizeof(*v), cmp_node_id);
	for (size_t i = 0; v && i < n; i++)
		json_array_append(out, v[i]);
	free(v);
	json_decref(l.out);
	return out;
}

static bool parse_id(const char *s, int64_t *id)
{
	char *end;
	long long v = strtoll(s, &end, 10);
	if (*s == '\0' || *end != '\0' || v <= 0)
		return false;
	*id = v;
	return true;
}

static void node_rename(struct http_req *r, struct http_reply *o, int64_t id)
{
	static const char *const known[] = {"name", NULL};
	struct coord *c = r->c;
	json_t *req = req_json(r, o);
	if (req == NULL || !req_keys_known(req, known, o))
		goto out;
	const char *name = json_string_value(json_object_get(req, "name"));
	if (name == NULL || !dns_label_valid(name)) {
		reply_error(
		    o, 400, "bad_name",
		    "'name' must be a DNS label: 1-63 of a-z, 0-9 and '-', not at the ends");
		goto out;
	}
	if (db_node_name_taken(c->store, name, id)) {
		reply_error(o, 409, "exists", "another node is named '%s'", name);
		goto out;
	}
	enum store_status st = db_node_rename(c->store, id, name);
	if (st == STORE_CONFLICT) {
		reply_error(o, 409, "exists", "another node is named '%s'", name);
		goto out;
	}
	if (st != STORE_OK) {
		reply_error(o, 500, "store_error", "cannot rename the node");
		goto out;
	}
	coord_node_changed(c, id);
	reply_json(o, 200, node_to_admin_json(c, netmap_node(c->nm, id)));
out:
	json_decref(req);
}

static void node_routes(struct http_req *r, struct http_reply *o, int64_t id)
{
	static const char *const known[] = {"approved", NULL};
	struct coord *c = r->c;
	json_t *req = req_json(r, o), *out = json_array();
	char *s = NULL;
	if (req == NULL || !req_keys_known(req, known, o))
		goto done;
	json_t *list = json_object_get(req, "approved");
	const struct node_info *n = netmap_node(c->nm, id);
	if (!json_is_array(list) || json_array_size(list) > 256) {
		reply_error(o, 400, "bad_field", "'approved' must be an array of prefixes");
		goto done;
	}
	size_t i;
	json_t *e;
	json_array_foreach(list, i, e)
	{
		struct mg_prefix p;
		char err[160], canon[64];
		const char *str = json_string_value(e);
		if (str == NULL || strlen(str) > 60 ||
		    !prefix_parse(str, &p, false, err, sizeof(err))) {
			reply_error(o, 400, "bad_route", "'approved[%zu]': %s", i,
			            str ? err : "expected a string");
			goto done;
		}
		mg_prefix_format(&p, canon, sizeof(canon));
		if (coord_route_hits_overlay(c, canon)) {
			reply_error(o, 400, "route_overlaps_overlay",
			            "'approved[%zu]': %s overlaps the overlay ranges, where every "
			            "address belongs to a node",
			            i, canon);
			goto done;
		}
		bool advertised = false;
		size_t j;
		json_t *a;
		json_array_foreach(n->routes_advertised, j, a)
		{
			advertised |= strcmp(json_string_value(a), canon) == 0;
		}
		if (!advertised) {
			reply_error(o, 400, "route_not_advertised",
			            "'approved[%zu]': node %lld does not advertise %s", i,
			            (long long)id, canon);
			goto done;
		}
		json_array_append_new(out, json_string(canon));
	}
	s = json_dumps(out, JSON_COMPACT);
	/* Auto-approved routes the admin listed again stay the policy's to withdraw. */
	json_t *old_auto = db_node_get_auto(c->store, id), *keep = json_array();
	json_array_foreach(old_auto, i, e)
	{
		size_t j;
		json_t *x;
		json_array_foreach(out, j, x)
		{
			if (json_equal(x, e))
				json_array_append(keep, e);
		}
	}
	char *sa = json_dumps(keep, JSON_COMPACT);
	json_decref(old_auto);
	json_decref(keep);
	bool stored = s != NULL && sa != NULL &&
	              db_node_set_approved(c->store, id, s) == STORE_OK &&
	              db_node_set_auto(c->store, id, sa) == STORE_OK;
	free(sa);
	if (!stored) {
		reply_error(o, 500, "store_error", "cannot store the approved routes");
		goto done;
	}
	coord_node_changed(c, id);
	reply_json(o, 200, node_to_admin_json(c, netmap_node(c->nm, id)));
done:
	free(s);
	json_decref(out);
	json_decref(req);
}

void api_nodes(struct http_req *r, struct http_reply *o, const char *ids, const char *action)
{
	struct coord *c = r->c;
	const char *m = r->method;
	if (ids == NULL) {
		if (strcmp(m, "GET") != 0) {
			reply_error(o, 405, "method_not_allowed", "use GET on /v1/admin/nodes");
			return;
		}
		reply_json(o, 200,
		           json_pack("{so}", "nodes", sorted_nodes(c, req_query(r, "user"))));
		return;
	}
	int64_t id;
	if (!parse_id(ids, &id)) {
		reply_error(o, 400, "bad_id", "'%.32s' is not a node id", ids);
		return;
	}
	const struct node_info *n = netmap_node(c->nm, id);
	if (n == NULL) {
		reply_error(o, 404, "not_found", "no node %lld", (long long)id);
		return;
	}
	if (action == NULL && strcmp(m, "GET") == 0) {
		reply_json(o, 200, node_to_admin_json(c, n));
	} else if (action == NULL && strcmp(m, "DELETE") == 0) {
		if (db_node_delete(c->store, id) != STORE_OK) {
			reply_error(o, 500, "store_error", "cannot delete the node");
			return;
		}
		mg_logf(MG_LOG_INFO, "deleted node %lld", (long long)id);
		coord_node_deleted(c, id);
		reply_json(o, 200, json_pack("{sI}", "deleted", (json_int_t)id));
	} else if (action != NULL && strcmp(action, "rename") == 0 && strcmp(m, "POST") == 0) {
		node_rename(r, o, id);
	} else if (action != NULL && strcmp(action, "expire") == 0 && strcmp(m, "POST") == 0) {
		if (db_node_set_expiry(c->store, id, now_unix()) != STORE_OK) {
			reply_error(o, 500, "store_error", "cannot expire the node");
			return;
		}
		coord_node_changed(c, id);
		reply_json(o, 200, node_to_admin_json(c, netmap_node(c->nm, id)));
	} else if (action != NULL && strcmp(action, "routes") == 0 && strcmp(m, "POST") == 0) {
		node_routes(r, o, id);
	} else {
		reply_error(o, 404, "not_found", "no such node action '%.32s %.32s'", m,
		            action ? action : "");
	}
}

void api_routes(struct http_req *r, struct http_reply *o)
{
	if (strcmp(r->method, "GET") != 0) {
		reply_error(o, 405, "method_not_allowed", "use GET on /v1/admin/routes");
		return;
	}
	json_t *nodes = sorted_nodes(r->c, NULL), *out = json_array();
	size_t i;
	json_t *n;
	json_array_foreach(nodes, i, n)
	{
		json_t *adv = json_object_get(n, "routes_advertised"),
		       *appr = json_object_get(n, "routes_approved");
		size_t j;
		json_t *p;
		json_array_foreach(adv, j, p)
		{
			bool approved = false;
			size_t k;
			json_t *a;
			json_array_foreach(appr, k, a)
			{
				approved |= json_equal(a, p);
			}
			json_array_append_new(
			    out, json_pack("{sO sO sO sb sb}", "node_id", json_object_get(n, "id"),
			                   "node", json_object_get(n, "name"), "prefix", p,
			                   "advertised", 1, "approved", approved));
		}
	}
	json_decref(nodes);
	reply_json(o, 200, json_pack("{so}", "routes", out));
}
