// SPDX-License-Identifier: GPL-2.0-only
#include "upgrade.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

static const char *find_end(const char *buf, size_t len)
{
	for (size_t i = 0; i + 3 < len; i++)
		if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' &&
		    buf[i + 3] == '\n')
			return buf + i;
	return NULL;
}

static bool is_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c && strchr("!#$%&'*+-.^_`|~", c));
}

static int fail(struct relay_upgrade_result *res, int status, const char *why)
{
	res->status = status;
	res->why = why;
	return -1;
}

/* Does the comma-separated list [v, v+n) hold token (case-insensitive)? */
static bool has_token(const char *v, size_t n, const char *token)
{
	size_t tl = strlen(token), i = 0;

	while (i < n) {
		size_t s, e;

		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		s = i;
		while (i < n && v[i] != ',')
			i++;
		e = i;
		while (e > s && (v[e - 1] == ' ' || v[e - 1] == '\t'))
			e--;
		if (e - s == tl && strncasecmp(v + s, token, tl) == 0)
			return true;
	}
	return false;
}

struct hdr_seen {
	int upgrade, connection, version;
	bool upgrade_ok, connection_ok, version_ok;
};

/*
 * Walks the header lines in [p, end). Each line: token ':' OWS value OWS, visible characters
 * and tabs only. Returns 0 or fails res.
 */
static int parse_headers(const char *p, const char *end, bool request, struct hdr_seen *h,
                         struct relay_upgrade_result *res)
{
	int count = 0;

	while (p < end) {
		const char *eol = p, *colon, *v, *ve;

		while (eol < end && *eol != '\r' && *eol != '\n')
			eol++;
		if (eol + 1 >= end || eol[0] != '\r' || eol[1] != '\n')
			return fail(res, 400, "header line does not end with CRLF");
		if (*p == ' ' || *p == '\t')
			return fail(res, 400, "folded header lines are not accepted");
		if (++count > RELAY_UPGRADE_MAX_HEADERS)
			return fail(res, 431, "too many header lines");
		colon = p;
		while (colon < eol && is_tchar(*colon))
			colon++;
		if (colon == p || colon == eol || *colon != ':')
			return fail(res, 400, "malformed header name");
		v = colon + 1;
		while (v < eol && (*v == ' ' || *v == '\t'))
			v++;
		ve = eol;
		while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
			ve--;
		for (const char *q = v; q < ve; q++)
			if ((unsigned char)*q < 0x20 && *q != '\t')
				return fail(res, 400, "control character in a header value");
			else if (*q == 0x7f)
				return fail(res, 400, "control character in a header value");
#define NAME_IS(s) ((size_t)(colon - p) == strlen(s) && strncasecmp(p, s, strlen(s)) == 0)
		if (NAME_IS("Upgrade")) {
			h->upgrade++;
			h->upgrade_ok =
			    (size_t)(ve - v) == strlen("meshgate-relay") &&
			    strncasecmp(v, "meshgate-relay", strlen("meshgate-relay")) == 0;
		} else if (NAME_IS("Connection")) {
			h->connection++;
			h->connection_ok = has_token(v, (size_t)(ve - v), "upgrade");
		} else if (NAME_IS("Meshgate-Relay-Version")) {
			h->version++;
			h->version_ok = ve - v == 1 && *v == '1';
		} else if (request && (NAME_IS("Content-Length") || NAME_IS("Transfer-Encoding"))) {
			return fail(res, 400, "an upgrade request carries no body");
		}
#undef NAME_IS
		p = eol + 2;
	}
	if (h->upgrade > 1 || h->connection > 1 || h->version > 1)
		return fail(res, 400,
		            "repeated Upgrade, Connection or Meshgate-Relay-Version header");
	return 0;
}

int relay_upgrade_parse_request(const char *buf, size_t len, struct relay_upgrade_result *res)
{
	static const char line[] = "GET /relay HTTP/1.1\r\n";
	const char *end;
	struct hdr_seen h = {0};

	memset(res, 0, sizeof(*res));
	/* Refuse early what can never become a valid request line. */
	if (len > 0 && memcmp(buf, line, len < 4 ? len : 4) != 0)
		return fail(res, 405, "only GET is served");
	end = find_end(buf, len < RELAY_UPGRADE_MAX ? len : RELAY_UPGRADE_MAX);
	if (memchr(buf, '\0', end ? (size_t)(end - buf) : len))
		return fail(res, 400, "NUL byte in the request");
	if (!end)
		return len >= RELAY_UPGRADE_MAX ? fail(res, 431, "request header too large") : 0;
	if ((size_t)(end - buf) + 2 < sizeof(line) - 1 || memcmp(buf, "GET /relay ", 11) != 0)
		return fail(res, 404, "the relay is served at GET /relay");
	if (memcmp(buf, line, sizeof(line) - 1) != 0)
		return fail(res, 400, "expected HTTP/1.1 request line 'GET /relay HTTP/1.1'");
	if (parse_headers(buf + sizeof(line) - 1, end + 2, true, &h, res) != 0)
		return -1;
	if (!h.upgrade || !h.upgrade_ok || !h.connection_ok)
		return fail(res, 426,
		            "expected 'Upgrade: meshgate-relay' and 'Connection: Upgrade' headers");
	if (h.version && !h.version_ok)
		return fail(res, 400, "unsupported Meshgate-Relay-Version (this relay speaks 1)");
	res->consumed = (size_t)(end - buf) + 4;
	return 1;
}

int relay_upgrade_parse_response(const char *buf, size_t len, struct relay_upgrade_result *res)
{
	const char *end, *eol;
	struct hdr_seen h = {0};
	int st = 0;

	memset(res, 0, sizeof(*res));
	end = find_end(buf, len < RELAY_UPGRADE_MAX ? len : RELAY_UPGRADE_MAX);
	/* Frames may follow the header at once: only the header must be text. */
	if (memchr(buf, '\0', end ? (size_t)(end - buf) : len))
		return fail(res, 0, "NUL byte in the response");
	if (!end)
		return len >= RELAY_UPGRADE_MAX ? fail(res, 0, "response header too large") : 0;
	eol = memchr(buf, '\r', (size_t)(end - buf) + 1);
	if (!eol || eol[1] != '\n' || (size_t)(eol - buf) < 12 ||
	    memcmp(buf, "HTTP/1.1 ", 9) != 0 || buf[9] < '1' || buf[9] > '5' || buf[10] < '0' ||
	    buf[10] > '9' || buf[11] < '0' || buf[11] > '9' ||
	    ((size_t)(eol - buf) > 12 && buf[12] != ' '))
		return fail(res, 0, "malformed HTTP status line");
	st = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
	res->status = st;
	if (st != 101) {
		res->consumed = (size_t)(end - buf) + 4;
		return fail(res, st, "the server refused the upgrade");
	}
	if (parse_headers(eol + 2, end + 2, false, &h, res) != 0) {
		res->status = 0;
		return -1;
	}
	if (!h.upgrade_ok || !h.connection_ok)
		return fail(res, 0, "101 without 'Upgrade: meshgate-relay'");
	res->consumed = (size_t)(end - buf) + 4;
	return 1;
}

int relay_upgrade_request(char *buf, size_t len, const char *host)
{
	int n = snprintf(buf, len,
	                 "GET /relay HTTP/1.1\r\nHost: %s\r\nUpgrade: meshgate-relay\r\n"
	                 "Connection: Upgrade\r\nMeshgate-Relay-Version: 1\r\n\r\n",
	                 host);

	return n < 0 || (size_t)n >= len ? -1 : n;
}
