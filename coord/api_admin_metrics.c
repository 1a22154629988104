// SPDX-License-Identifier: GPL-2.0-only
/*
 * GET /v1/admin/metrics: nodes, open streams, and the server-side fan-out trace (netmap.h): for
 * each recent batch of deltas, how long building the lines took and how long until the last one
 * was handed to its socket. The benchmark reads it; an operator can watch it too.
 */
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "http_guard.h"

void api_metrics(struct http_req *r, struct http_reply *o)
{
	struct coord *c = r->c;
	if (strcmp(r->method, "GET") != 0) {
		reply_error(o, 405, "method_not_allowed", "metrics: only GET");
		return;
	}
	struct netmap_batch *b = calloc(NETMAP_TRACE_BATCHES, sizeof(*b));
	if (b == NULL) {
		reply_error(o, 500, "internal", "out of memory");
		return;
	}
	size_t n = netmap_trace_batches(c->nm, b, NETMAP_TRACE_BATCHES);
	json_t *list = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(
		    list,
		    json_pack("{sI sI sI sI sf sf sb}", "batch", (json_int_t)b[i].id, "sessions",
		              (json_int_t)b[i].sessions, "pending", (json_int_t)b[i].left,
		              "dropped", (json_int_t)b[i].dropped, "build_ms",
		              (b[i].built - b[i].start) * 1000.0, "last_write_ms",
		              (b[i].last_write - b[i].start) * 1000.0, "complete", b[i].left == 0));
	free(b);
	struct http_guard_counts g;
	guard_counts(&g);
	json_t *adm = json_pack(
	    "{sI sI sI sI sI sI sI}", "bad_framing", (json_int_t)g.bad_framing, "bad_method",
	    (json_int_t)g.bad_method, "unauthenticated", (json_int_t)g.early_auth, "budget_refused",
	    (json_int_t)g.budget_refused, "budget_dropped", (json_int_t)g.budget_dropped,
	    "deadline_closed", (json_int_t)g.deadline_closed, "buffered_bytes",
	    (json_int_t)g.buffered_bytes);
	reply_json(o, 200,
	           json_pack("{sI sI so so}", "nodes", (json_int_t)netmap_node_count(c->nm),
	                     "streams", (json_int_t)netmap_stream_count(c->nm), "fanout", list,
	                     "admission", adm));
}
