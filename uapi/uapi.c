// SPDX-License-Identifier: GPL-2.0-only
/*
 * The UAPI protocol: framing, set parsing and validation, get serialisation. wireguard-go
 * applies a set request line by line and can leave half of it applied when a later line is bad;
 * here the whole request is parsed first and the device sees it only if every line is valid.
 */
#include "uapi.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "crypto.h"

#define BUF_DEFAULT_MAX (64u << 20)
/* No valid value is longer (an IPv6 prefix is at most 43 characters, a hex key 64). */
#define VALUE_MAX 128

/* ---- output buffer ---- */

void mg_uapi_buf_free(struct mg_uapi_buf *b)
{
	if (!b)
		return;
	if (b->data)
		wg_memzero(b->data, b->cap);
	free(b->data);
	b->data = NULL;
	b->len = b->cap = 0;
	b->failed = false;
}

void mg_uapi_buf_append(struct mg_uapi_buf *b, const void *data, size_t len)
{
	size_t max = b->max ? b->max : BUF_DEFAULT_MAX, cap;
	char *grown;

	if (b->failed || len == 0)
		return;
	if (len > max - b->len) {
		b->failed = true;
		return;
	}
	if (b->len + len > b->cap) {
		cap = b->cap ? b->cap : 256;
		while (cap < b->len + len)
			cap *= 2;
		if (cap > max)
			cap = max;
		/* Not realloc: the old block may hold key material and must be cleared first. */
		grown = malloc(cap);
		if (!grown) {
			b->failed = true;
			return;
		}
		if (b->len)
			memcpy(grown, b->data, b->len);
		if (b->data)
			wg_memzero(b->data, b->cap);
		free(b->data);
		b->data = grown;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
}

static void buf_printf(struct mg_uapi_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void buf_printf(struct mg_uapi_buf *b, const char *fmt, ...)
{
	char line[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line)) {
		b->failed = true;
		return;
	}
	mg_uapi_buf_append(b, line, (size_t)n);
}

static void buf_key(struct mg_uapi_buf *b, const char *name, const uint8_t key[WG_KEY_LEN])
{
	char hex[2 * WG_KEY_LEN + 1];

	/* libsodium's encoder runs in constant time: private keys pass through here. */
	sodium_bin2hex(hex, sizeof(hex), key, WG_KEY_LEN);
	buf_printf(b, "%s=%s\n", name, hex);
	wg_memzero(hex, sizeof(hex));
}

/* ---- set parsing ---- */

struct span {
	const char *p;
	size_t n;
};

static bool span_is(struct span s, const char *lit)
{
	return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int fail(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* A value as a C string for the address parsers; false when too long or holding a NUL. */
static bool value_string(struct span v, char out[VALUE_MAX])
{
	if (v.n >= VALUE_MAX || memchr(v.p, '\0', v.n))
		return false;
	memcpy(out, v.p, v.n);
	out[v.n] = '\0';
	return true;
}

/* Exactly 64 hex digits of either case, decoded in constant time. */
static bool parse_hex_key(struct span v, uint8_t key[WG_KEY_LEN])
{
	size_t bin_len = 0;
	const char *end = NULL;

	if (v.n != 2 * WG_KEY_LEN ||
	    sodium_hex2bin(key, WG_KEY_LEN, v.p, v.n, NULL, &bin_len, &end) != 0 ||
	    bin_len != WG_KEY_LEN || end != v.p + v.n) {
		wg_memzero(key, WG_KEY_LEN);
		return false;
	}
	return true;
}

/* Decimal digits only, as Go's strconv.ParseUint(v, 10, bits). */
static bool parse_uint(struct span v, uint64_t max, uint64_t *out)
{
	uint64_t x = 0;

	if (v.n == 0 || v.n > 20)
		return false;
	for (size_t i = 0; i < v.n; i++) {
		unsigned d = (unsigned char)v.p[i] - '0';

		if (d > 9 || x > (max - d) / 10)
			return false;
		x = x * 10 + d;
	}
	*out = x;
	return true;
}

static void *grow(void *array, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap ? *cap : 4;
	void *p;

	if (need <= *cap)
		return array;
	while (n < need)
		n *= 2;
	p = realloc(array, n * size);
	if (p)
		*cap = n;
	return p;
}

static int device_line(struct mg_uapi_set *set, struct span k, struct span v, char *err,
                       size_t errlen)
{
	uint64_t x;

	if (span_is(k, "private_key")) {
		if (!parse_hex_key(v, set->private_key))
			return fail(err, errlen, -EINVAL, "private_key: expected 64 hex digits");
		set->has_private_key = true;
	} else if (span_is(k, "listen_port")) {
		if (!parse_uint(v, UINT16_MAX, &x))
			return fail(err, errlen, -EINVAL, "listen_port: expected 0..65535");
		set->listen_port = (uint16_t)x;
		set->has_listen_port = true;
	} else if (span_is(k, "fwmark")) {
		if (!parse_uint(v, UINT32_MAX, &x))
			return fail(err, errlen, -EINVAL, "fwmark: expected 0..4294967295");
		set->fwmark = (uint32_t)x;
		set->has_fwmark = true;
	} else if (span_is(k, "replace_peers")) {
		if (!span_is(v, "true"))
			return fail(err, errlen, -EINVAL, "replace_peers: expected true");
		set->replace_peers = true;
	} else {
		return fail(err, errlen, -EINVAL, "invalid UAPI device key: %.*s",
		            (int)(k.n > 64 ? 64 : k.n), k.p);
	}
	return 0;
}

static int add_allowed_ip(struct mg_uapi_peer_change *pc, struct span v, char *err, size_t errlen)
{
	char text[VALUE_MAX];
	struct mg_prefix p, *grown;

	/* netip.ParsePrefix: the length is required. */
	if (!value_string(v, text) || !strchr(text, '/') || mg_prefix_parse(text, &p) != 0)
		return fail(err, errlen, -EINVAL, "allowed_ip: expected ADDRESS/LENGTH");
	mg_prefix_mask(&p);
	grown = grow(pc->allowed_ips, &pc->cap_allowed_ips, pc->n_allowed_ips + 1, sizeof(p));
	if (!grown)
		return fail(err, errlen, -ENOMEM, "out of memory");
	pc->allowed_ips = grown;
	pc->allowed_ips[pc->n_allowed_ips++] = p;
	return 0;
}

/* remove=true clears everything after the key, which must therefore come first. */
_Static_assert(offsetof(struct mg_uapi_peer_change, public_key) == 0, "public_key first");

/*
 * ignore: the block already said remove=true. Later lines are still checked (wireguard-go
 * rejects a bad one) but change nothing.
 */
static int peer_line(struct mg_uapi_peer_change *pc, bool ignore, struct span k, struct span v,
                     char *err, size_t errlen)
{
	struct mg_uapi_peer_change scratch;
	char text[VALUE_MAX];
	uint64_t x;
	int rc;

	if (ignore) {
		memset(&scratch, 0, sizeof(scratch));
		pc = &scratch;
	}
	if (span_is(k, "update_only")) {
		if (!span_is(v, "true"))
			return fail(err, errlen, -EINVAL, "update_only: expected true");
		pc->update_only = true;
	} else if (span_is(k, "remove")) {
		if (!span_is(v, "true"))
			return fail(err, errlen, -EINVAL, "remove: expected true");
		free(pc->allowed_ips);
		wg_memzero(pc->preshared_key, WG_KEY_LEN);
		/* Only the key and the removal remain. */
		memset((uint8_t *)pc + sizeof(pc->public_key), 0,
		       sizeof(*pc) - sizeof(pc->public_key));
		pc->remove = true;
	} else if (span_is(k, "preshared_key")) {
		if (!parse_hex_key(v, pc->preshared_key))
			return fail(err, errlen, -EINVAL, "preshared_key: expected 64 hex digits");
		pc->has_preshared_key = true;
	} else if (span_is(k, "endpoint")) {
		if (!value_string(v, text) || mg_sockaddr_parse(text, &pc->endpoint) != 0)
			return fail(err, errlen, -EINVAL,
			            "endpoint: expected IPv4:PORT or [IPv6]:PORT, port 1..65535");
		pc->has_endpoint = true;
	} else if (span_is(k, "persistent_keepalive_interval")) {
		if (!parse_uint(v, UINT16_MAX, &x))
			return fail(err, errlen, -EINVAL,
			            "persistent_keepalive_interval: expected 0..65535");
		pc->persistent_keepalive = (uint16_t)x;
		pc->has_persistent_keepalive = true;
	} else if (span_is(k, "replace_allowed_ips")) {
		if (!span_is(v, "true"))
			return fail(err, errlen, -EINVAL, "replace_allowed_ips: expected true");
		/* Allowed IPs given earlier in this block are dropped along with the old ones. */
		pc->replace_allowed_ips = true;
		pc->n_allowed_ips = 0;
	} else if (span_is(k, "allowed_ip")) {
		rc = add_allowed_ip(pc, v, err, errlen);
		if (ignore)
			free(scratch.allowed_ips);
		return rc;
	} else if (span_is(k, "protocol_version")) {
		if (!span_is(v, "1"))
			return fail(err, errlen, -EINVAL, "protocol_version: expected 1");
	} else {
		return fail(err, errlen, -EINVAL, "invalid UAPI peer key: %.*s",
		            (int)(k.n > 64 ? 64 : k.n), k.p);
	}
	if (ignore)
		wg_memzero(&scratch, sizeof(scratch));
	return 0;
}

static int new_peer(struct mg_uapi_set *set, struct span v, char *err, size_t errlen)
{
	struct mg_uapi_peer_change *grown, *pc;

	grown = grow(set->peers, &set->cap_peers, set->n_peers + 1, sizeof(*grown));
	if (!grown)
		return fail(err, errlen, -ENOMEM, "out of memory");
	set->peers = grown;
	pc = &set->peers[set->n_peers];
	memset(pc, 0, sizeof(*pc));
	if (!parse_hex_key(v, pc->public_key))
		return fail(err, errlen, -EINVAL, "public_key: expected 64 hex digits");
	set->n_peers++;
	return 0;
}

int mg_uapi_set_parse(const char *body, size_t len, struct mg_uapi_set *out, char *err,
                      size_t errlen)
{
	const char *p = body, *end = body + len;
	struct mg_uapi_peer_change *peer = NULL;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (err && errlen)
		err[0] = '\0';
	while (p < end && rc == 0) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *line_end = nl ? nl : end;
		const char *eq = memchr(p, '=', (size_t)(line_end - p));
		struct span k, v;

		if (!eq) {
			rc = fail(err, errlen, -EPROTO, "failed to parse line: no '='");
			break;
		}
		k = (struct span){p, (size_t)(eq - p)};
		v = (struct span){eq + 1, (size_t)(line_end - eq - 1)};
		if (span_is(k, "public_key")) {
			rc = new_peer(out, v, err, errlen);
			peer = rc == 0 ? &out->peers[out->n_peers - 1] : NULL;
		} else if (!peer) {
			rc = device_line(out, k, v, err, errlen);
		} else {
			rc = peer_line(peer, peer->remove, k, v, err, errlen);
		}
		p = nl ? nl + 1 : end;
	}
	if (rc != 0)
		mg_uapi_set_free(out);
	return rc;
}

void mg_uapi_set_free(struct mg_uapi_set *set)
{
	if (!set)
		return;
	for (size_t i = 0; i < set->n_peers; i++)
		free(set->peers[i].allowed_ips);
	if (set->peers)
		wg_memzero(set->peers, set->cap_peers * sizeof(*set->peers));
	free(set->peers);
	wg_memzero(set, sizeof(*set));
}

/* ---- serialisation ---- */

void mg_uapi_set_format(const struct mg_uapi_set *set, struct mg_uapi_buf *out)
{
	char text[MG_SOCKADDR_STRLEN];

	buf_printf(out, "set=1\n");
	if (set->has_private_key)
		buf_key(out, "private_key", set->private_key);
	if (set->has_listen_port)
		buf_printf(out, "listen_port=%u\n", set->listen_port);
	if (set->has_fwmark)
		buf_printf(out, "fwmark=%" PRIu32 "\n", set->fwmark);
	if (set->replace_peers)
		buf_printf(out, "replace_peers=true\n");
	for (size_t i = 0; i < set->n_peers; i++) {
		const struct mg_uapi_peer_change *pc = &set->peers[i];

		buf_key(out, "public_key", pc->public_key);
		if (pc->remove) {
			buf_printf(out, "remove=true\n");
			continue;
		}
		if (pc->update_only)
			buf_printf(out, "update_only=true\n");
		if (pc->has_preshared_key)
			buf_key(out, "preshared_key", pc->preshared_key);
		if (pc->has_endpoint) {
			mg_sockaddr_format(&pc->endpoint, text, sizeof(text));
			buf_printf(out, "endpoint=%s\n", text);
		}
		if (pc->has_persistent_keepalive)
			buf_printf(out, "persistent_keepalive_interval=%u\n",
			           pc->persistent_keepalive);
		if (pc->replace_allowed_ips)
			buf_printf(out, "replace_allowed_ips=true\n");
		for (size_t j = 0; j < pc->n_allowed_ips; j++) {
			mg_prefix_format(&pc->allowed_ips[j], text, sizeof(text));
			buf_printf(out, "allowed_ip=%s\n", text);
		}
	}
	buf_printf(out, "\n");
}

void mg_uapi_emit_device(struct mg_uapi_buf *out, const struct mg_uapi_device_info *dev)
{
	if (!wg_is_zero(dev->private_key, WG_KEY_LEN))
		buf_key(out, "private_key", dev->private_key);
	if (dev->listen_port)
		buf_printf(out, "listen_port=%u\n", dev->listen_port);
	if (dev->fwmark)
		buf_printf(out, "fwmark=%" PRIu32 "\n", dev->fwmark);
}

void mg_uapi_emit_peer(struct mg_uapi_buf *out, const struct mg_uapi_peer_info *peer)
{
	char text[MG_SOCKADDR_STRLEN];

	buf_key(out, "public_key", peer->public_key);
	buf_key(out, "preshared_key", peer->preshared_key);
	buf_printf(out, "protocol_version=1\n");
	if (peer->endpoint.family == 4 || peer->endpoint.family == 6) {
		mg_sockaddr_format(&peer->endpoint, text, sizeof(text));
		buf_printf(out, "endpoint=%s\n", text);
	}
	buf_printf(out, "last_handshake_time_sec=%" PRIu64 "\n", peer->last_handshake_sec);
	buf_printf(out, "last_handshake_time_nsec=%" PRIu32 "\n", peer->last_handshake_nsec);
	buf_printf(out, "tx_bytes=%" PRIu64 "\n", peer->tx_bytes);
	buf_printf(out, "rx_bytes=%" PRIu64 "\n", peer->rx_bytes);
	buf_printf(out, "persistent_keepalive_interval=%u\n", peer->persistent_keepalive);
	for (size_t i = 0; i < peer->n_allowed_ips; i++) {
		mg_prefix_format(&peer->allowed_ips[i], text, sizeof(text));
		buf_printf(out, "allowed_ip=%s\n", text);
	}
}

/* ---- requests ---- */

#define OP_LEN 6 /* "get=1\n" and "set=1\n" */

ssize_t mg_uapi_request_length(const char *buf, size_t len)
{
	size_t head = len < OP_LEN ? len : OP_LEN;
	const char *term;

	if (memcmp(buf, "get=1\n", head) != 0 && memcmp(buf, "set=1\n", head) != 0)
		return -1;
	if (len <= OP_LEN)
		return 0;
	/* The first line is not empty, so the first "\n\n" ends the request. */
	term = memmem(buf + OP_LEN - 1, len - (OP_LEN - 1), "\n\n", 2);
	return term ? (ssize_t)(term + 2 - buf) : 0;
}

static int handle_get(const struct mg_uapi_ops *ops, void *ctx, size_t len, struct mg_uapi_buf *out,
                      char *err, size_t errlen)
{
	struct mg_uapi_buf reply = {.max = out->max};
	int rc;

	/* wireguard-go wants the blank line right after get=1. */
	if (len != OP_LEN + 1)
		return fail(err, errlen, -EINVAL, "trailing characters in get request");
	rc = ops->get(ctx, &reply);
	if (rc == 0 && reply.failed)
		rc = fail(err, errlen, -ENOMEM, "get reply does not fit");
	else if (rc != 0)
		fail(err, errlen, rc, "device get failed");
	if (rc == 0)
		mg_uapi_buf_append(out, reply.data, reply.len);
	mg_uapi_buf_free(&reply);
	return rc;
}

int mg_uapi_handle(const struct mg_uapi_ops *ops, void *ctx, const char *req, size_t len,
                   struct mg_uapi_buf *out, char *err, size_t errlen)
{
	struct mg_uapi_set set;
	int rc;

	if (err && errlen)
		err[0] = '\0';
	if (len < OP_LEN + 1 || mg_uapi_request_length(req, len) != (ssize_t)len) {
		rc = fail(err, errlen, -EPROTO, "not a complete request");
	} else if (memcmp(req, "get=1\n", OP_LEN) == 0) {
		rc = handle_get(ops, ctx, len, out, err, errlen);
	} else {
		/* The body keeps each line's '\n' but not the blank line's. */
		rc = mg_uapi_set_parse(req + OP_LEN, len - OP_LEN - 1, &set, err, errlen);
		if (rc == 0) {
			rc = ops->set(ctx, &set);
			if (rc != 0)
				fail(err, errlen, rc, "device rejected the change");
		}
		mg_uapi_set_free(&set);
	}
	buf_printf(out, "errno=%d\n\n", rc);
	return rc;
}
