/* SPDX-License-Identifier: GPL-2.0-only */
/* Request and reply plumbing shared by the API handlers. */
#ifndef MESHGATE_COORD_HTTP_H
#define MESHGATE_COORD_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>
#include <microhttpd.h>

#include "coord.h"

struct http_local_request;

struct http_req {
	struct coord *c;
	struct MHD_Connection *conn;
	const struct http_local_request *local; /* instead of conn: http_local.h */
	const char *method;
	char *path; /* without the query string */
	char *body;
	size_t body_len, body_cap, body_limit;
	bool too_large;
	struct map_session *sess; /* set when the request became a map stream */
	size_t reserved;          /* bytes taken from the global body budget */
	double deadline;          /* monotonic seconds by which the whole body must be in */
	bool admin_ok;            /* the API key was checked on the headers */
	char key_prefix[TOKEN_PREFIX_LEN + 1]; /* that API key's public id */
};

struct http_reply {
	int status;
	json_t *json;             /* sent as application/json */
	struct MHD_Response *raw; /* or a ready response (map streams) */
	bool close;               /* close the connection after this reply */
};

void reply_json(struct http_reply *o, int status, json_t *j);
void reply_error(struct http_reply *o, int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Parses the body as a JSON object; on failure replies 400 and returns NULL. */
json_t *req_json(struct http_req *r, struct http_reply *o);
/* Checks "Authorization: Bearer <api key>"; on failure replies 401 and returns false. */
bool req_admin(struct http_req *r, struct http_reply *o);
const char *req_query(struct http_req *r, const char *key);
const char *req_header(struct http_req *r, const char *key);
/* Rejects unknown keys of a request object; on failure replies 400 and returns false. */
bool req_keys_known(json_t *obj, const char *const *known, struct http_reply *o);

/* Dispatches r to its handler by method and path (c->lock held). */
void http_route(struct http_req *r, struct http_reply *o);
/* A header (without case) or query argument of a request without a connection. */
const char *http_local_value(const struct http_local_request *l, bool header, const char *key);

/* Handlers: each fills o. Path parameters arrive already split. */
void api_server_key(struct http_req *r, struct http_reply *o);
void api_challenge(struct http_req *r, struct http_reply *o);
void api_register(struct http_req *r, struct http_reply *o);
void api_map(struct http_req *r, struct http_reply *o);
/* Checks a map request's node credential on the headers alone; false with o filled. */
bool api_map_preauth(struct http_req *r, struct http_reply *o);
/* Relay admission (api_relay.c): the relay credential on the headers, then the question. */
bool api_relay_preauth(struct http_req *r, struct http_reply *o);
void api_relay_admit(struct http_req *r, struct http_reply *o);
void api_users(struct http_req *r, struct http_reply *o, const char *name);
void api_apikeys(struct http_req *r, struct http_reply *o, const char *prefix);
void api_preauthkeys(struct http_req *r, struct http_reply *o, const char *prefix);
void api_nodes(struct http_req *r, struct http_reply *o, const char *id, const char *action);
void api_routes(struct http_req *r, struct http_reply *o);
void api_policy(struct http_req *r, struct http_reply *o);
void api_metrics(struct http_req *r, struct http_reply *o);
json_t *node_to_admin_json(struct coord *c, const struct node_info *n);

#endif
