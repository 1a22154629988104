// SPDX-License-Identifier: GPL-2.0-only
/*
 * Request admission. libmicrohttpd resolves ambiguous framing on its own terms: of two
 * Content-Length fields the first wins, Transfer-Encoding silently beats Content-Length, and a
 * field name with a space before the colon is kept as another field. A TLS proxy in front may
 * resolve the same bytes differently and forward a second request hidden in the body, so
 * anything that is not one plain framing is refused and the connection closed.
 *
 * Memory: a client without credentials could hold a body buffer on every connection it opens.
 * Requests that need a key are authenticated on their headers; the rest draw from one byte
 * budget shared by all connections, and every request must be complete by its deadline however
 * slowly its bytes trickle in (each byte would otherwise restart the idle timeout).
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "audit.h"
#include "http_guard.h"
#include "log.h"

static atomic_size_t buffered;
static atomic_uint_fast64_t n_framing, n_method, n_auth, n_refused, n_dropped, n_deadline;

struct frame_scan {
	int content_length;
	int transfer_encoding;
	bool bad_cl_value, bad_te_value;
	char bad_name[48];
	char bad_value_of[48];
};

static bool is_tchar(unsigned char ch)
{
	return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
	       (ch != '\0' && strchr("!#$%&'*+-.^_`|~", ch) != NULL);
}

static enum MHD_Result scan_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value)
{
	struct frame_scan *f = cls;
	(void)kind;
	bool name_ok = key[0] != '\0';
	for (const unsigned char *p = (const unsigned char *)key; *p && name_ok; p++)
		name_ok = is_tchar(*p);
	if (!name_ok && f->bad_name[0] == '\0')
		snprintf(f->bad_name, sizeof(f->bad_name), "%s", key);
	for (const unsigned char *p = (const unsigned char *)(value ? value : ""); *p; p++)
		if ((*p < 0x20 && *p != '\t') || *p == 0x7f) {
			if (f->bad_value_of[0] == '\0')
				snprintf(f->bad_value_of, sizeof(f->bad_value_of), "%s", key);
			break;
		}
	if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0) {
		f->content_length++;
		size_t n = value ? strlen(value) : 0;
		f->bad_cl_value |= n == 0 || n > 18 || strspn(value, "0123456789") != n;
	} else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0) {
		f->transfer_encoding++;
		f->bad_te_value |= value == NULL || strcasecmp(value, "chunked") != 0;
	}
	return MHD_YES;
}

static bool refuse(struct http_reply *o, atomic_uint_fast64_t *counter, int status,
                   const char *code, const char *msg)
{
	atomic_fetch_add(counter, 1);
	reply_error(o, status, code, "%s", msg);
	o->close = true;
	return false;
}

bool guard_framing(struct MHD_Connection *conn, const char *method, struct http_reply *o)
{
	static const char *const methods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", NULL};
	bool known = false;
	for (size_t i = 0; methods[i] != NULL && !known; i++)
		known = strcmp(method, methods[i]) == 0;
	if (!known)
		return refuse(o, &n_method, 405, "method_not_allowed",
		              "this server answers GET, HEAD, POST, PUT and DELETE only");
	struct frame_scan f = {0};
	MHD_get_connection_values(conn, MHD_HEADER_KIND, scan_field, &f);
	char msg[160];
	if (f.bad_name[0] != '\0') {
		snprintf(msg, sizeof(msg), "header field name '%.40s' is not a token", f.bad_name);
		return refuse(o, &n_framing, 400, "bad_framing", msg);
	}
	if (f.bad_value_of[0] != '\0') {
		snprintf(msg, sizeof(msg), "header field '%.40s' holds a control character",
		         f.bad_value_of);
		return refuse(o, &n_framing, 400, "bad_framing", msg);
	}
	if (f.content_length > 1)
		return refuse(o, &n_framing, 400, "bad_framing",
		              "more than one Content-Length header");
	if (f.transfer_encoding > 1)
		return refuse(o, &n_framing, 400, "bad_framing",
		              "more than one Transfer-Encoding header");
	if (f.content_length && f.transfer_encoding)
		return refuse(o, &n_framing, 400, "bad_framing",
		              "both Content-Length and Transfer-Encoding");
	if (f.bad_cl_value)
		return refuse(o, &n_framing, 400, "bad_framing",
		              "Content-Length must be a plain decimal number");
	if (f.bad_te_value)
		return refuse(o, &n_framing, 400, "bad_framing",
		              "the only Transfer-Encoding accepted is 'chunked'");
	return true;
}

bool guard_authenticate(struct http_req *r, struct http_reply *o)
{
	struct coord *c = r->c;
	bool admin = strncmp(r->path, "/v1/admin/", 10) == 0;
	bool map = strcmp(r->path, "/v1/map") == 0 && strcmp(r->method, "POST") == 0;
	bool relay = strcmp(r->path, "/v1/relay/admit") == 0 && strcmp(r->method, "POST") == 0;
	if (!admin && !map && !relay)
		return true;
	pthread_mutex_lock(&c->lock);
	bool ok = admin ? req_admin(r, o) : relay ? api_relay_preauth(r, o) : api_map_preauth(r, o);
	pthread_mutex_unlock(&c->lock);
	r->admin_ok = admin && ok;
	if (!ok) {
		atomic_fetch_add(&n_auth, 1);
		o->close = true;
		json_t *code = json_object_get(o->json, "error");
		audit_auth_failed(r,
		                  admin   ? "api_key"
		                  : relay ? "relay_credential"
		                          : "node_credential",
		                  json_string_value(code) ? json_string_value(code) : "-");
	}
	return ok;
}

bool guard_reserve(struct http_req *r, size_t want)
{
	size_t limit = r->c->cfg.max_buffered_bytes;
	size_t cur = atomic_load(&buffered);
	do {
		if (want > limit || cur > limit - want)
			return false;
	} while (!atomic_compare_exchange_weak(&buffered, &cur, cur + want));
	r->reserved += want;
	return true;
}

void guard_release(struct http_req *r)
{
	if (r->reserved > 0) {
		atomic_fetch_sub(&buffered, r->reserved);
		r->reserved = 0;
	}
}

bool guard_expired(struct http_req *r)
{
	if (now_mono() < r->deadline)
		return false;
	atomic_fetch_add(&n_deadline, 1);
	return true;
}

void guard_count_refused(void)
{
	atomic_fetch_add(&n_refused, 1);
}

void guard_count_dropped(void)
{
	atomic_fetch_add(&n_dropped, 1);
}

void guard_counts(struct http_guard_counts *out)
{
	out->bad_framing = atomic_load(&n_framing);
	out->bad_method = atomic_load(&n_method);
	out->early_auth = atomic_load(&n_auth);
	out->budget_refused = atomic_load(&n_refused);
	out->budget_dropped = atomic_load(&n_dropped);
	out->deadline_closed = atomic_load(&n_deadline);
	out->buffered_bytes = atomic_load(&buffered);
}
