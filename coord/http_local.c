// SPDX-License-Identifier: GPL-2.0-only
/* Requests without a socket (http_local.h): the steps of server.c's on_request, in order. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "audit.h"
#include "http.h"
#include "http_guard.h"
#include "http_local.h"

const char *http_local_value(const struct http_local_request *l, bool header, const char *key)
{
	const struct http_field *f = header ? l->headers : l->query;
	size_t n = header ? l->n_headers : l->n_query;
	for (size_t i = 0; i < n; i++)
		/* libmicrohttpd matches header names without case and arguments exactly. */
		if (header ? strcasecmp(f[i].key, key) == 0 : strcmp(f[i].key, key) == 0)
			return f[i].value;
	return NULL;
}

int http_local_handle(struct coord *c, const struct http_local_request *req, char **reply)
{
	struct http_req r = {.c = c, .method = req->method, .local = req};
	struct http_reply o = {0};
	*reply = NULL;
	r.path = strdup(req->path);
	if (r.path == NULL)
		return 500;
	r.body_limit =
	    strcmp(r.path, "/v1/admin/policy") == 0 ? c->cfg.max_policy_body : c->cfg.max_body;
	if (req->body_len > r.body_limit) {
		reply_error(&o, 413, "body_too_large", "the body exceeds %zu bytes", r.body_limit);
	} else if (guard_authenticate(&r, &o)) {
		r.body = req->body_len ? malloc(req->body_len + 1) : NULL;
		if (r.body != NULL) {
			memcpy(r.body, req->body, req->body_len);
			r.body[req->body_len] = '\0';
			r.body_len = req->body_len;
		}
		pthread_mutex_lock(&c->lock);
		http_route(&r, &o);
		netmap_flush(c->nm);
		if (r.sess != NULL) {
			int64_t id = r.sess->node_id;
			if (netmap_detach(c->nm, r.sess))
				coord_node_offline(c, id);
			r.sess = NULL;
			netmap_flush(c->nm);
		}
		pthread_mutex_unlock(&c->lock);
		if (strncmp(r.path, "/v1/admin/", 10) == 0 && r.admin_ok)
			audit_admin(&r, o.status);
	}
	if (o.raw != NULL)
		MHD_destroy_response(o.raw);
	else if (o.json != NULL)
		*reply = json_dumps(o.json, JSON_COMPACT);
	json_decref(o.json);
	free(r.body);
	free(r.path);
	return o.status;
}
