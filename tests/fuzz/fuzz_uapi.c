// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fuzz target: the WireGuard UAPI request parser (uapi/uapi.h): mg_uapi_request_length,
 * mg_uapi_set_parse, mg_uapi_set_format and mg_uapi_handle. Each input is what a client writes
 * to the socket. The seeds are get and set requests as stock `wg set` and `wg setconf` write
 * them, covering every key. The device behind mg_uapi_handle is a recorder (the device is not
 * under test here): get emits a fixed device and peer, set records what reached it.
 *
 * Invariants per input:
 *  - request_length equals an independent framing of the bytes (the first "\n\n" after a
 *    get=1 or set=1 line), and is 0 for the request cut one byte short;
 *  - set_parse answers 0, -EPROTO, -EINVAL or -ENOMEM; a refusal leaves the set all zero and
 *    says why without repeating key material; an accepted set is well formed (a removal
 *    carries nothing else, prefixes have no host bits, endpoints have a port, one peer per
 *    public_key line), formats into a request that frames as one and parses back equal, and
 *    frees to all zero;
 *  - handle replies "errno=N\n\n" with N <= 0; a set reaches the device exactly when it parses,
 *    whole and equal to the direct parse (all or nothing), a get exactly when it is "get=1\n\n";
 *    anything that is not exactly one complete request is -EPROTO and reaches nothing.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "fuzz_driver.h"
#include "uapi.h"
#include "test_rng.h"

#define OP_LEN 6

struct recorder {
	unsigned sets, gets;
	struct mg_uapi_buf last_set; /* the set that reached the device, formatted */
};

static uint8_t dev_key[WG_KEY_LEN], peer_key[WG_KEY_LEN];
static const struct mg_prefix peer_ips[] = {{.family = 4, .len = 24, .addr = {10, 9, 8, 0}}};
static struct mg_uapi_buf expected_get;
static uint64_t sets_applied;

/* ---- the device ---- */

static int rec_get(void *ctx, struct mg_uapi_buf *out)
{
	struct recorder *r = ctx;
	struct mg_uapi_device_info dev = {.listen_port = 51820, .fwmark = 7};
	struct mg_uapi_peer_info peer = {
	    .endpoint = {.family = 4, .port = 1234, .addr = {192, 0, 2, 9}},
	    .rx_bytes = 10,
	    .tx_bytes = 20,
	    .persistent_keepalive = 25,
	    .allowed_ips = peer_ips,
	    .n_allowed_ips = 1,
	};

	r->gets++;
	memcpy(dev.private_key, dev_key, WG_KEY_LEN);
	memcpy(peer.public_key, peer_key, WG_KEY_LEN);
	mg_uapi_emit_device(out, &dev);
	mg_uapi_emit_peer(out, &peer);
	wg_memzero(&dev, sizeof(dev));
	return 0;
}

static int rec_set(void *ctx, const struct mg_uapi_set *set)
{
	struct recorder *r = ctx;
	r->sets++;
	mg_uapi_set_format(set, &r->last_set);
	return 0;
}

static const struct mg_uapi_ops rec_ops = {.get = rec_get, .set = rec_set};

/* ---- oracles ---- */

static const char *find2(const uint8_t *d, size_t len, size_t from)
{
	for (size_t i = from; i + 1 < len; i++)
		if (d[i] == '\n' && d[i + 1] == '\n')
			return (const char *)d + i;
	return NULL;
}

/* The framing, read independently: what request_length must say. */
static ssize_t expected_length(const uint8_t *d, size_t len)
{
	size_t head = len < OP_LEN ? len : OP_LEN;
	const char *term;

	if (memcmp(d, "get=1\n", head) != 0 && memcmp(d, "set=1\n", head) != 0)
		return -1;
	if (len <= OP_LEN)
		return 0;
	term = find2(d, len, OP_LEN - 1);
	return term ? term + 2 - (const char *)d : 0;
}

static bool prefix_ok(const struct mg_prefix *p)
{
	return ((p->family == 4 && p->len <= 32) || (p->family == 6 && p->len <= 128)) &&
	       !mg_prefix_has_host_bits(p);
}

static bool same_sockaddr(const struct mg_sockaddr *a, const struct mg_sockaddr *b)
{
	return a->family == b->family && a->port == b->port &&
	       memcmp(a->addr, b->addr, a->family == 4 ? 4 : 16) == 0;
}

static bool same_prefix(const struct mg_prefix *a, const struct mg_prefix *b)
{
	return a->family == b->family && a->len == b->len &&
	       memcmp(a->addr, b->addr, a->family == 4 ? 4 : 16) == 0;
}

static bool same_peer(const struct mg_uapi_peer_change *a, const struct mg_uapi_peer_change *b)
{
	if (memcmp(a->public_key, b->public_key, WG_KEY_LEN) != 0 || a->remove != b->remove ||
	    a->update_only != b->update_only || a->has_preshared_key != b->has_preshared_key ||
	    a->has_endpoint != b->has_endpoint ||
	    a->has_persistent_keepalive != b->has_persistent_keepalive ||
	    a->replace_allowed_ips != b->replace_allowed_ips ||
	    a->n_allowed_ips != b->n_allowed_ips)
		return false;
	if (a->has_preshared_key && memcmp(a->preshared_key, b->preshared_key, WG_KEY_LEN) != 0)
		return false;
	if (a->has_endpoint && !same_sockaddr(&a->endpoint, &b->endpoint))
		return false;
	if (a->has_persistent_keepalive && a->persistent_keepalive != b->persistent_keepalive)
		return false;
	for (size_t i = 0; i < a->n_allowed_ips; i++)
		if (!same_prefix(&a->allowed_ips[i], &b->allowed_ips[i]))
			return false;
	return true;
}

static bool same_set(const struct mg_uapi_set *a, const struct mg_uapi_set *b)
{
	if (a->has_private_key != b->has_private_key || a->has_listen_port != b->has_listen_port ||
	    a->has_fwmark != b->has_fwmark || a->replace_peers != b->replace_peers ||
	    a->n_peers != b->n_peers)
		return false;
	if (a->has_private_key && memcmp(a->private_key, b->private_key, WG_KEY_LEN) != 0)
		return false;
	if ((a->has_listen_port && a->listen_port != b->listen_port) ||
	    (a->has_fwmark && a->fwmark != b->fwmark))
		return false;
	for (size_t i = 0; i < a->n_peers; i++)
		if (!same_peer(&a->peers[i], &b->peers[i]))
			return false;
	return true;
}

/* Lines whose key is exactly key (the text before the first '='). */
static size_t count_key_lines(const uint8_t *d, size_t len, const char *key)
{
	size_t n = 0, kl = strlen(key);
	for (size_t i = 0; i < len;) {
		const uint8_t *nl = memchr(d + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - d) : len;
		if (end - i > kl && memcmp(d + i, key, kl) == 0 && d[i + kl] == '=')
			n++;
		i = end + 1;
	}
	return n;
}

/* True when needle occurs in the key name (the text before '=') of some line. */
static bool in_a_key_name(const uint8_t *d, size_t len, const char *needle)
{
	size_t nl_len = strlen(needle);

	for (size_t i = 0; i < len;) {
		const uint8_t *nl = memchr(d + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - d) : len;
		const uint8_t *eq = memchr(d + i, '=', end - i);
		size_t key_end = eq ? (size_t)(eq - d) : end;
		for (size_t j = i; j + nl_len <= key_end; j++)
			if (memcmp(d + j, needle, nl_len) == 0)
				return true;
		i = end + 1;
	}
	return false;
}

/*
 * A secret value (12+ hex digits after private_key= or preshared_key=) must not be echoed.
 * Unknown key names are echoed on purpose, so text that also appears in a key name is allowed.
 */
static void check_no_secret(const uint8_t *d, size_t len, const char *err)
{
	static const char *const secrets[] = {"private_key=", "preshared_key="};

	for (size_t i = 0; i < len;) {
		const uint8_t *nl = memchr(d + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - d) : len;
		for (size_t s = 0; s < 2; s++) {
			size_t kl = strlen(secrets[s]), v = i + kl, hex = 0;
			if (end - i < kl || memcmp(d + i, secrets[s], kl) != 0)
				continue;
			while (v + hex < end && hex < 12 && isxdigit(d[v + hex]))
				hex++;
			if (hex == 12) {
				char needle[13];
				memcpy(needle, d + v, 12);
				needle[12] = '\0';
				FUZZ_CHECK(!strstr(err, needle) || in_a_key_name(d, len, needle),
				           "error repeats key material: %s", err);
			}
		}
		i = end + 1;
	}
}

static void check_wellformed(const struct mg_uapi_set *set, const uint8_t *body, size_t len)
{
	FUZZ_CHECK(set->n_peers <= set->cap_peers && (set->n_peers == 0 || set->peers),
	           "peer array");
	FUZZ_CHECK(set->n_peers == count_key_lines(body, len, "public_key"),
	           "%zu peers for %zu public_key lines", set->n_peers,
	           count_key_lines(body, len, "public_key"));
	for (size_t i = 0; i < set->n_peers; i++) {
		const struct mg_uapi_peer_change *pc = &set->peers[i];
		FUZZ_CHECK(pc->n_allowed_ips <= pc->cap_allowed_ips &&
		               (pc->n_allowed_ips == 0 || pc->allowed_ips),
		           "peer %zu allowed-IP array", i);
		if (pc->remove)
			FUZZ_CHECK(!pc->update_only && !pc->has_preshared_key &&
			               !pc->has_endpoint && !pc->has_persistent_keepalive &&
			               !pc->replace_allowed_ips && pc->n_allowed_ips == 0 &&
			               pc->allowed_ips == NULL &&
			               wg_is_zero(pc->preshared_key, WG_KEY_LEN),
			           "peer %zu: a removal carries other changes", i);
		FUZZ_CHECK(!pc->has_endpoint ||
		               ((pc->endpoint.family == 4 || pc->endpoint.family == 6) &&
		                pc->endpoint.port != 0),
		           "peer %zu endpoint", i);
		for (size_t j = 0; j < pc->n_allowed_ips; j++)
			FUZZ_CHECK(prefix_ok(&pc->allowed_ips[j]), "peer %zu allowed IP %zu", i, j);
	}
}

/* ---- the target ---- */

static void check_framing(const uint8_t *d, size_t len)
{
	ssize_t n = mg_uapi_request_length((const char *)d, len);

	FUZZ_CHECK(n == expected_length(d, len), "request_length %zd, framing says %zd", n,
	           expected_length(d, len));
	if (n > 0)
		FUZZ_CHECK(mg_uapi_request_length((const char *)d, (size_t)n - 1) == 0,
		           "a request cut short is not incomplete");
	fuzz_outcome(n < 0    ? "framing: not a request"
	             : n == 0 ? "framing: incomplete"
	                      : "framing: complete");
}

/* Parses body and checks everything; returns the verdict. */
static int check_parse(const uint8_t *body, size_t len)
{
	struct mg_uapi_set set, again;
	struct mg_uapi_buf buf = {0};
	char err[256];
	int rc;

	memset(err, 'Z', sizeof(err));
	rc = mg_uapi_set_parse((const char *)body, len, &set, err, sizeof(err));
	FUZZ_CHECK(rc == 0 || rc == -EPROTO || rc == -EINVAL || rc == -ENOMEM,
	           "set_parse returned %d", rc);
	FUZZ_CHECK(memchr(err, '\0', sizeof(err)), "message not terminated");
	if (rc != 0) {
		FUZZ_CHECK(err[0] != '\0', "refusal %d without a reason", rc);
		FUZZ_CHECK(wg_is_zero(&set, sizeof(set)), "a refused set is not empty");
		check_no_secret(body, len, err);
		fuzz_outcome(rc == -EPROTO   ? "set: -EPROTO"
		             : rc == -EINVAL ? "set: -EINVAL"
		                             : "set: -ENOMEM");
		return rc;
	}
	FUZZ_CHECK(err[0] == '\0', "accepted with a message: %s", err);
	check_wellformed(&set, body, len);

	mg_uapi_set_format(&set, &buf);
	FUZZ_CHECK(!buf.failed && buf.len >= OP_LEN + 1 && memcmp(buf.data, "set=1\n", OP_LEN) == 0,
	           "format failed");
	FUZZ_CHECK(mg_uapi_request_length(buf.data, buf.len) == (ssize_t)buf.len,
	           "formatted set is not one request");
	rc = mg_uapi_set_parse(buf.data + OP_LEN, buf.len - OP_LEN - 1, &again, err, sizeof(err));
	FUZZ_CHECK(rc == 0, "formatted set does not parse: %s", err);
	FUZZ_CHECK(same_set(&set, &again), "set changed through format and parse");
	mg_uapi_set_free(&again);
	mg_uapi_buf_free(&buf);
	const char *label = set.n_peers ? "set: parsed, with peers" : "set: parsed, device only";
	mg_uapi_set_free(&set);
	FUZZ_CHECK(wg_is_zero(&set, sizeof(set)), "set_free left data");
	mg_uapi_set_free(&set); /* documented safe on a freed set */
	fuzz_outcome(label);
	return 0;
}

static void check_handle(const uint8_t *d, size_t len, ssize_t n)
{
	struct recorder rec = {0};
	struct mg_uapi_buf out = {0};
	char err[256], tail[32];
	int rc, want_rc = -EPROTO;
	bool complete = n > 0 && (size_t)n == len;

	rc = mg_uapi_handle(&rec_ops, &rec, (const char *)d, len, &out, err, sizeof(err));
	FUZZ_CHECK(rc <= 0, "errno %d is positive", rc);
	snprintf(tail, sizeof(tail), "errno=%d\n\n", rc);
	FUZZ_CHECK(!out.failed && out.len >= strlen(tail) &&
	               memcmp(out.data + out.len - strlen(tail), tail, strlen(tail)) == 0,
	           "reply does not end in %s", tail);

	if (complete && memcmp(d, "get=1\n", OP_LEN) == 0) {
		want_rc = len == OP_LEN + 1 ? 0 : -EINVAL;
		FUZZ_CHECK(rc == want_rc && rec.gets == (rc == 0) && rec.sets == 0,
		           "get gave %d after %u gets", rc, rec.gets);
		if (rc == 0)
			FUZZ_CHECK(out.len == expected_get.len + strlen(tail) &&
			               memcmp(out.data, expected_get.data, expected_get.len) == 0,
			           "get reply differs from what the device emitted");
		fuzz_outcome(rc == 0 ? "handle: get" : "handle: bad get");
	} else if (complete) {
		struct mg_uapi_set direct;
		struct mg_uapi_buf formatted = {0};
		want_rc =
		    mg_uapi_set_parse((const char *)d + OP_LEN, len - OP_LEN - 1, &direct, NULL, 0);
		FUZZ_CHECK(rc == want_rc, "handle %d, direct parse %d", rc, want_rc);
		FUZZ_CHECK(rec.gets == 0 && rec.sets == (want_rc == 0),
		           "device saw %u sets for a set that parses with %d", rec.sets, want_rc);
		if (want_rc == 0) {
			mg_uapi_set_format(&direct, &formatted);
			FUZZ_CHECK(rec.last_set.len == formatted.len &&
			               memcmp(rec.last_set.data, formatted.data, formatted.len) ==
			                   0,
			           "the device got another set than the request holds");
			FUZZ_CHECK(out.len == strlen(tail), "set reply has more than errno");
			sets_applied++;
		}
		mg_uapi_buf_free(&formatted);
		mg_uapi_set_free(&direct);
		fuzz_outcome(rc == 0 ? "handle: set applied" : "handle: set refused");
	} else {
		FUZZ_CHECK(rc == -EPROTO && rec.gets == 0 && rec.sets == 0,
		           "not one complete request, yet %d with %u gets, %u sets", rc, rec.gets,
		           rec.sets);
		fuzz_outcome("handle: not one request");
	}
	mg_uapi_buf_free(&rec.last_set);
	mg_uapi_buf_free(&out);
}

int fuzz_one(const uint8_t *data, size_t len)
{
	ssize_t n;

	check_framing(data, len);
	/* The bytes as a set body: after set=1 when present, else all of them. */
	if (len >= OP_LEN && memcmp(data, "set=1\n", OP_LEN) == 0) {
		const char *term = find2(data, len, OP_LEN - 1);
		size_t body_end = term ? (size_t)(term + 1 - (const char *)data) : len;
		check_parse(data + OP_LEN, body_end - OP_LEN);
	} else {
		check_parse(data, len);
	}
	n = mg_uapi_request_length((const char *)data, len);
	check_handle(data, len, n);
	if (n > 0 && (size_t)n < len)
		check_handle(data, (size_t)n, n);
	return 0;
}

/* ---- setup ---- */

static void hex_key(char out[2 * WG_KEY_LEN + 1], uint64_t *rng)
{
	uint8_t k[WG_KEY_LEN];
	test_rng(rng, k, sizeof(k));
	for (size_t i = 0; i < WG_KEY_LEN; i++)
		snprintf(out + 2 * i, 3, "%02x", k[i]);
}

static void seed(const char *name, const char *text, bool must_apply)
{
	uint64_t n = sets_applied;
	fuzz_seed_add(name, text, strlen(text));
	fuzz_one((const uint8_t *)text, strlen(text));
	if (must_apply)
		FUZZ_CHECK(sets_applied == n + 1, "seed %s was not applied", name);
}

static void cleanup(void)
{
	mg_uapi_buf_free(&expected_get);
}

int fuzz_init(void)
{
	static const char *const tokens[] = {"private_key=",
	                                     "listen_port=",
	                                     "fwmark=",
	                                     "replace_peers=true\n",
	                                     "public_key=",
	                                     "remove=true\n",
	                                     "update_only=true\n",
	                                     "preshared_key=",
	                                     "endpoint=",
	                                     "persistent_keepalive_interval=",
	                                     "replace_allowed_ips=true\n",
	                                     "allowed_ip=",
	                                     "protocol_version=1\n",
	                                     "get=1\n",
	                                     "set=1\n",
	                                     "\n\n",
	                                     "=",
	                                     "\n",
	                                     "true",
	                                     "65535",
	                                     "65536",
	                                     "4294967295",
	                                     "4294967296",
	                                     "/0",
	                                     "/32",
	                                     "/33",
	                                     "/128",
	                                     "/129",
	                                     "[::1]:",
	                                     ":0",
	                                     ":65535",
	                                     "::ffff:",
	                                     "0000000000000000",
	                                     "ffffffffffffffff"};
	uint64_t rng = 61;
	char k1[65], k2[65], k3[65], k4[65], k5[65], text[2048];
	struct recorder rec = {0};

	if (wg_crypto_init() != WG_OK)
		return -1;
	atexit(cleanup);
	test_rng(&rng, dev_key, sizeof(dev_key));
	test_rng(&rng, peer_key, sizeof(peer_key));
	rec_get(&rec, &expected_get);
	FUZZ_CHECK(!expected_get.failed, "expected get reply");
	hex_key(k1, &rng);
	hex_key(k2, &rng);
	hex_key(k3, &rng);
	hex_key(k4, &rng);
	hex_key(k5, &rng);

	seed("get", "get=1\n\n", false);
	snprintf(text, sizeof(text),
	         "set=1\nprivate_key=%s\nlisten_port=51820\nfwmark=0\nreplace_peers=true\n"
	         "public_key=%s\npreshared_key=%s\nendpoint=192.0.2.1:51820\n"
	         "persistent_keepalive_interval=25\nreplace_allowed_ips=true\n"
	         "allowed_ip=10.0.0.0/8\nallowed_ip=fd00::/64\nprotocol_version=1\n"
	         "public_key=%s\nremove=true\n"
	         "public_key=%s\nupdate_only=true\nendpoint=[2001:db8::1]:443\n"
	         "allowed_ip=192.168.1.77/24\nallowed_ip=::ffff:10.1.2.3/128\n\n",
	         k1, k2, k3, k4, k5);
	seed("set-every-key", text, true);
	/* What `wg setconf` sends for a one-peer file. */
	snprintf(text, sizeof(text),
	         "set=1\nprivate_key=%s\nlisten_port=41641\nreplace_peers=true\npublic_key=%s\n"
	         "replace_allowed_ips=true\nallowed_ip=100.64.0.2/32\n\n",
	         k2, k1);
	seed("setconf", text, true);
	seed("remove-private-key",
	     "set=1\nprivate_key=0000000000000000000000000000000000000000000000000000000000000000"
	     "\n\n",
	     true);
	seed("empty-set", "set=1\n\n", true);
	snprintf(text, sizeof(text), "get=1\n\nset=1\npublic_key=%s\nremove=true\n\n", k3);
	seed("two-requests", text, false);
	for (size_t i = 0; i < sizeof(tokens) / sizeof(tokens[0]); i++)
		fuzz_token_add_str(tokens[i]);
	fuzz_set_max_len(2048);
	wg_memzero(k1, sizeof(k1));
	wg_memzero(text, sizeof(text));
	return 0;
}
