/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * One request through the server's admission (authentication on the headers, the body limit),
 * routing and handlers, without a socket: the seam the request fuzzer (tests/fuzz) drives.
 * Framing is libmicrohttpd's and http_guard.c's and is not part of it.
 */
#ifndef MESHGATE_COORD_HTTP_LOCAL_H
#define MESHGATE_COORD_HTTP_LOCAL_H

#include <stddef.h>

#include "coord.h"

struct http_field {
	const char *key, *value;
};

struct http_local_request {
	const char *method, *path; /* path without the query string */
	const struct http_field *headers, *query;
	size_t n_headers, n_query;
	const char *body;
	size_t body_len;
};

/*
 * Handles req as the server would, under c->lock. Returns the status; *reply gets the JSON body
 * (malloc'd; NULL for a map response, which is a stream). A map stream the request opened is
 * closed again before returning, as when its client disconnects.
 */
int http_local_handle(struct coord *c, const struct http_local_request *req, char **reply);

#endif
