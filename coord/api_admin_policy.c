// SPDX-License-Identifier: GPL-2.0-only
/* Admin API: the policy. PUT (or POST) the text as JSON or YAML; GET returns it as stored. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db.h"
#include "http.h"
#include "log.h"

static const char *body_format(struct http_req *r)
{
	const char *q = req_query(r, "format");
	if (q != NULL)
		return q;
	const char *ct = req_header(r, MHD_HTTP_HEADER_CONTENT_TYPE);
	if (ct != NULL && strstr(ct, "json") != NULL)
		return "json";
	if (ct != NULL && strstr(ct, "yaml") != NULL)
		return "yaml";
	return NULL;
}

void api_policy(struct http_req *r, struct http_reply *o)
{
	struct coord *c = r->c;
	if (strcmp(r->method, "GET") == 0) {
		char *body = NULL, fmt[8];
		int64_t version = 0;
		if (db_policy_get(c->store, &body, fmt, &version))
			reply_json(o, 200,
			           json_pack("{ss ss sI sb}", "policy", body, "format", fmt,
			                     "version", (json_int_t)version, "default", 0));
		else
			reply_json(o, 200,
			           json_pack("{ss ss sI sb}", "policy",
			                     netmap_policy(c->nm)->source, "format", "json",
			                     "version", (json_int_t)0, "default", 1));
		free(body);
		return;
	}
	if (strcmp(r->method, "PUT") != 0 && strcmp(r->method, "POST") != 0) {
		reply_error(o, 405, "method_not_allowed", "use GET or PUT on /v1/admin/policy");
		return;
	}
	const char *fmt = body_format(r);
	if (fmt != NULL && strcmp(fmt, "json") != 0 && strcmp(fmt, "yaml") != 0) {
		reply_error(o, 400, "bad_format", "format must be json or yaml");
		return;
	}
	if (r->body_len == 0) {
		reply_error(o, 400, "bad_policy", "the body must hold the policy (JSON or YAML)");
		return;
	}
	if (memchr(r->body, '\0', r->body_len) != NULL) {
		reply_error(o, 400, "bad_policy", "the policy must be text without NUL bytes");
		return;
	}
	char err[512];
	struct policy *p =
	    policy_parse(r->body, r->body_len, fmt, coord_user_exists, c, err, sizeof(err));
	if (p == NULL) {
		reply_error(o, 400, "bad_policy", "%s", err);
		return;
	}
	const char *dry = req_query(r, "dry_run");
	if (dry != NULL && strcmp(dry, "0") != 0) {
		reply_json(o, 200, json_pack("{sb si}", "valid", 1, "rules", (int)p->nrules));
		policy_free(p);
		return;
	}
	int64_t version = 0;
	if (db_policy_set(c->store, p->source, p->format, &version) != STORE_OK) {
		policy_free(p);
		reply_error(o, 500, "store_error", "cannot store the policy");
		return;
	}
	policy_free(p);
	mg_logf(MG_LOG_INFO, "policy version %lld accepted", (long long)version);
	coord_policy_reload(c, true);
	reply_json(o, 200, json_pack("{sI sb}", "version", (json_int_t)version, "valid", 1));
}
