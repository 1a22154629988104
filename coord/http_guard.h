/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Admission for HTTP requests, decided on the headers before any body byte is accepted: framing
 * that two parsers could read differently is refused, requests that need a key are
 * authenticated, and the bytes buffered for bodies are bounded across all connections and in time.
 */
#ifndef MESHGATE_COORD_HTTP_GUARD_H
#define MESHGATE_COORD_HTTP_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http.h"

/* Drops that cannot be answered with a status (the connection is closed instead), and refusals. */
struct http_guard_counts {
	uint64_t bad_framing;     /* refused with 400 before routing */
	uint64_t bad_method;      /* refused with 405 before routing */
	uint64_t early_auth;      /* refused with 401 before the body was read */
	uint64_t budget_refused;  /* refused with 503: the body budget was spent */
	uint64_t budget_dropped;  /* closed mid-body: a chunked body outgrew the budget */
	uint64_t deadline_closed; /* closed mid-body: the request outlived request_timeout */
	uint64_t buffered_bytes;  /* body bytes held right now */
};

/*
 * Checks the request line's method and the header fields. On refusal fills o (400 bad_framing or
 * 405 method_not_allowed, with the connection closed afterwards) and returns false.
 */
bool guard_framing(struct MHD_Connection *conn, const char *method, struct http_reply *o);
/* Authenticates admin and map requests on their headers; false with o filled (401). */
bool guard_authenticate(struct http_req *r, struct http_reply *o);
/* Takes want more bytes from the global body budget for r; false when the budget is spent. */
bool guard_reserve(struct http_req *r, size_t want);
/* Gives back everything r holds. */
void guard_release(struct http_req *r);
/* True (and counted) when r has outlived its deadline. */
bool guard_expired(struct http_req *r);
/* Counts a request refused with 503 because the budget was spent. */
void guard_count_refused(void);
/* Counts a chunked body dropped mid-way because the budget ran out. */
void guard_count_dropped(void);
void guard_counts(struct http_guard_counts *out);

#endif
