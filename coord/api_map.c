// SPDX-License-Identifier: GPL-2.0-only
/*
 * POST /v1/map: the node reports endpoints (local and STUN-discovered), its NAT's mapping,
 * advertised routes and version; the reply is a
 * stream of newline-delimited JSON (a full map, then deltas and heartbeats). The reader
 * suspends the connection when the queue is empty; the map resumes it when a line is queued.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr_guard.h"
#include "crypto.h"
#include "db.h"
#include "http.h"
#include "log.h"
#include "relay_map.h"

#define MAX_ENDPOINTS      32
#define MAX_STUN_ENDPOINTS 8
#define MAX_ROUTES         256

static ssize_t map_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct http_req *r = cls;
	struct coord *c = r->c;
	(void)pos;
	pthread_mutex_lock(&c->lock);
	struct map_session *s = r->sess;
	ssize_t ret;
	size_t n = s ? session_read(s, buf, max) : 0;
	if (n > 0) {
		ret = (ssize_t)n;
	} else if (s == NULL || s->overflow) {
		ret = MHD_CONTENT_READER_END_WITH_ERROR;
	} else if (s->closed) {
		ret = MHD_CONTENT_READER_END_OF_STREAM;
	} else {
		/* Nothing to send: park the connection until the map queues a line. */
		s->suspended = true;
		MHD_suspend_connection(r->conn);
		ret = 0;
	}
	pthread_mutex_unlock(&c->lock);
	return ret;
}

/* Validates an array of strings with check(); on failure replies 400 naming the element. */
static bool string_list(const struct coord *c, json_t *v, const char *field, bool endpoints,
                        size_t max, json_t **out, struct http_reply *o)
{
	*out = NULL;
	if (v == NULL) {
		*out = json_array();
		return true;
	}
	if (!json_is_array(v) || json_array_size(v) > max) {
		reply_error(o, 400, "bad_field", "'%s' must be an array of at most %zu strings",
		            field, max);
		return false;
	}
	json_t *list = json_array();
	size_t i;
	json_t *e;
	json_array_foreach(v, i, e)
	{
		const char *s = json_string_value(e);
		char err[160], canon[64];
		struct mg_prefix p;
		if (s == NULL || strlen(s) > 60) {
			reply_error(o, 400, "bad_field", "'%s[%zu]' must be a short string", field,
			            i);
			goto fail;
		}
		if (endpoints) {
			if (!endpoint_valid(s)) {
				reply_error(o, 400, "bad_endpoint",
				            "'%s[%zu]': '%s' is not ipv4:port or [ipv6]:port",
				            field, i, s);
				goto fail;
			}
			if (!endpoint_routable(s, err, sizeof(err))) {
				reply_error(o, 400, "bad_endpoint",
				            "'%s[%zu]': '%s' is %s; peers cannot use it", field, i,
				            s, err);
				goto fail;
			}
			/* Stored in one spelling, so a duplicate is seen as one. */
			if (!endpoint_canonical(s, canon, sizeof(canon))) {
				reply_error(o, 400, "bad_endpoint", "'%s[%zu]': '%s' is too long",
				            field, i, s);
				goto fail;
			}
		} else {
			if (!prefix_parse(s, &p, false, err, sizeof(err))) {
				reply_error(o, 400, "bad_route", "'routes[%zu]': %s", i, err);
				goto fail;
			}
			mg_prefix_format(&p, canon, sizeof(canon));
			if (coord_route_hits_overlay(c, canon)) {
				reply_error(
				    o, 400, "route_overlaps_overlay",
				    "'routes[%zu]': %s overlaps the overlay ranges, where every "
				    "address belongs to a node",
				    i, canon);
				goto fail;
			}
		}
		bool dup = false;
		size_t j;
		json_t *x;
		json_array_foreach(list, j, x)
		{
			dup |= strcmp(json_string_value(x), canon) == 0;
		}
		if (!dup)
			json_array_append_new(list, json_string(canon));
	}
	*out = list;
	return true;
fail:
	json_decref(list);
	return false;
}

/* The NAT mapping a node reports: "hard" maps by destination, so its peers cannot punch to it
 * from the endpoint it learned with STUN (docs/nat-traversal.md). */
static bool nat_kind_known(const char *s)
{
	static const char *const kinds[] = {"none", "easy", "hard", "unknown"};
	for (size_t i = 0; s != NULL && i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (strcmp(s, kinds[i]) == 0)
			return true;
	return false;
}

/* Resolves the node credential; on failure replies 401/403 and returns 0. */
static int64_t map_auth(struct http_req *r, struct http_reply *o, char prefix[TOKEN_PREFIX_LEN + 1])
{
	const char *h = req_header(r, MHD_HTTP_HEADER_AUTHORIZATION);
	char hash[TOKEN_HASH_HEX_LEN + 1], stored[TOKEN_HASH_HEX_LEN + 1];
	int64_t id = 0;
	if (h == NULL || strncmp(h, "Bearer ", 7) != 0 ||
	    !token_parse(h + 7, "node", prefix, hash)) {
		reply_error(o, 401, "bad_credential",
		            "'Authorization: Bearer <node credential>' is missing or malformed");
		return 0;
	}
	if (!db_node_find_by_cred(r->c->store, prefix, &id, stored) ||
	    !hash_hex_equal(stored, hash)) {
		reply_error(o, 401, "bad_credential", "the node credential is unknown or replaced");
		return 0;
	}
	const struct node_info *n = netmap_node(r->c->nm, id);
	if (n == NULL) {
		reply_error(o, 401, "bad_credential", "the node no longer exists");
		return 0;
	}
	if (n->key_expiry != 0 && n->key_expiry <= now_unix()) {
		reply_error(o, 403, "node_expired", "the node key has expired; register again");
		return 0;
	}
	return id;
}

bool api_map_preauth(struct http_req *r, struct http_reply *o)
{
	char prefix[TOKEN_PREFIX_LEN + 1];
	return map_auth(r, o, prefix) != 0;
}

void api_map(struct http_req *r, struct http_reply *o)
{
	static const char *const known[] = {"endpoints",      "routes",    "version",
	                                    "stream",         "exit_node", "home_relay",
	                                    "stun_endpoints", "nat",       NULL};
	struct coord *c = r->c;
	json_t *eps = NULL, *stun = NULL, *routes = NULL, *approved = NULL, *autos = NULL;
	char *s_stun = NULL, *s_eps = NULL, *s_routes = NULL, *s_appr = NULL, *s_auto = NULL;
	char cred_prefix[TOKEN_PREFIX_LEN + 1];
	int64_t id = map_auth(r, o, cred_prefix);
	if (id == 0)
		return;
	json_t *req = req_json(r, o);
	if (req == NULL || !req_keys_known(req, known, o))
		goto out;
	json_t *ver = json_object_get(req, "version"), *stream = json_object_get(req, "stream");
	if (ver != NULL && (!json_is_string(ver) || strlen(json_string_value(ver)) > 64)) {
		reply_error(o, 400, "bad_field", "'version' must be a string of at most 64 bytes");
		goto out;
	}
	if (stream != NULL && !json_is_boolean(stream)) {
		reply_error(o, 400, "bad_field", "'stream' must be true or false");
		goto out;
	}
	json_t *exit = json_object_get(req, "exit_node");
	if (exit != NULL && !json_is_null(exit) &&
	    (!json_is_string(exit) || strlen(json_string_value(exit)) >= 64)) {
		reply_error(o, 400, "bad_field",
		            "'exit_node' must be a peer's name or key (under 64 bytes), or null");
		goto out;
	}
	json_t *home = json_object_get(req, "home_relay");
	if (home != NULL &&
	    (!json_is_string(home) ||
	     (json_string_length(home) > 0 && !relay_name_valid(json_string_value(home))))) {
		reply_error(
		    o, 400, "bad_field",
		    "'home_relay' must be a relay name (1..63 of A-Z a-z 0-9 . _ -) or \"\"");
		goto out;
	}
	json_t *nat = json_object_get(req, "nat");
	if (nat != NULL && !nat_kind_known(json_string_value(nat))) {
		reply_error(o, 400, "bad_field",
		            "'nat' must be \"none\", \"easy\", \"hard\" or \"unknown\"");
		goto out;
	}
	bool streaming = stream == NULL || json_is_true(stream);
	if (!string_list(c, json_object_get(req, "endpoints"), "endpoints", true, MAX_ENDPOINTS,
	                 &eps, o) ||
	    !string_list(c, json_object_get(req, "stun_endpoints"), "stun_endpoints", true,
	                 MAX_STUN_ENDPOINTS, &stun, o) ||
	    !string_list(c, json_object_get(req, "routes"), "routes", false, MAX_ROUTES, &routes,
	                 o))
		goto out;
	const struct node_info *n = netmap_node(c->nm, id);
	approved = coord_approved_routes(c, n, routes, &autos);
	s_eps = json_dumps(eps, JSON_COMPACT);
	s_stun = json_dumps(stun, JSON_COMPACT);
	s_routes = json_dumps(routes, JSON_COMPACT);
	s_appr = approved ? json_dumps(approved, JSON_COMPACT) : NULL;
	s_auto = autos ? json_dumps(autos, JSON_COMPACT) : NULL;
	if (s_eps == NULL || s_stun == NULL || s_routes == NULL || s_appr == NULL ||
	    s_auto == NULL) {
		reply_error(o, 500, "internal", "out of memory");
		goto out;
	}
	/* Absent means unknown: every map request replaces what the last one said. */
	struct db_map_report rep = {
	    .endpoints = s_eps,
	    .stun_endpoints = s_stun,
	    .nat = nat ? json_string_value(nat) : "unknown",
	    .advertised = s_routes,
	    .approved = s_appr,
	    .version = ver ? json_string_value(ver) : n->version,
	    .home_relay = home ? json_string_value(home) : n->home_relay,
	    .online = streaming ? 1 : n->online,
	};
	if (db_node_update_map(c->store, id, &rep, now_unix()) != STORE_OK ||
	    db_node_set_auto(c->store, id, s_auto) != STORE_OK) {
		reply_error(o, 500, "store_error", "the store refused the update");
		goto out;
	}
	coord_ephemeral_cancel(c, id);
	coord_node_changed(c, id);
	/* The choice belongs to this request: a request without it clears it. */
	netmap_set_exit_choice(c->nm, id, json_is_string(exit) ? json_string_value(exit) : NULL);
	if (!streaming) {
		size_t len;
		char *map = netmap_full_map(c->nm, id, &len);
		if (map == NULL) {
			reply_error(o, 500, "internal", "out of memory");
			goto out;
		}
		o->raw = MHD_create_response_from_buffer(len, map, MHD_RESPMEM_MUST_FREE);
		if (o->raw == NULL) {
			free(map);
			reply_error(o, 500, "internal", "out of memory");
			goto out;
		}
		MHD_add_response_header(o->raw, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
		o->status = 200;
		goto out;
	}
	r->sess = netmap_attach(c->nm, id, r->conn);
	if (r->sess == NULL) {
		reply_error(o, 500, "internal", "out of memory");
		goto out;
	}
	memcpy(r->sess->cred_prefix, cred_prefix, sizeof(cred_prefix));
	o->raw = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4 * 1024, map_reader, r, NULL);
	if (o->raw == NULL) {
		netmap_detach(c->nm, r->sess);
		r->sess = NULL;
		reply_error(o, 500, "internal", "out of memory");
		goto out;
	}
	MHD_add_response_header(o->raw, MHD_HTTP_HEADER_CONTENT_TYPE, "application/x-ndjson");
	MHD_add_response_header(o->raw, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	o->status = 200;
out:
	json_decref(req);
	json_decref(eps);
	json_decref(stun);
	json_decref(routes);
	json_decref(approved);
	json_decref(autos);
	free(s_auto);
	free(s_eps);
	free(s_stun);
	free(s_routes);
	free(s_appr);
}
