// SPDX-License-Identifier: GPL-2.0-only
/*
 * The UAPI protocol without sockets: request framing, set parsing with every key and every
 * error (with wireguard-go's errno), set serialisation round trips, get serialisation, and
 * mg_uapi_handle's all-or-nothing application against the in-memory device.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "crypto.h"
#include "uapi.h"
#include "uapi_test_device.h"

#define K1 "e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a"
#define K2 "58402e695ba1772b1cc9309755f043251ea77fdcf10fbe63989ceae7a3a5b17f"
#define K3 "662e5f5b4d71a2c1a1fb3ab1e8bba9b4ba3f1e2e5f1eb3d1d0e3a4b5c6d7e8f9"

static int parse(const char *body, struct mg_uapi_set *set, char *err, size_t errlen)
{
	return mg_uapi_set_parse(body, strlen(body), set, err, errlen);
}

static void test_framing(void)
{
	static const struct {
		const char *in;
		ssize_t want;
	} cases[] = {
	    {"", 0},
	    {"g", 0},
	    {"set=", 0},
	    {"get=1\n", 0},
	    {"get=1\n\n", 7},
	    {"get=1\n\nget=1\n\n", 7},
	    {"set=1\n\n", 7},
	    {"set=1\nlisten_port=1\n", 0},
	    {"set=1\nlisten_port=1\n\n", 21},
	    {"set=1\nlisten_port=1\n\nset=1\n", 21},
	    {"x", -1},
	    {"get=2\n\n", -1},
	    {"\n", -1},
	    {"GET=1\n\n", -1},
	    {"get=1\r\n\r\n", -1},
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ssize_t got = mg_uapi_request_length(cases[i].in, strlen(cases[i].in));

		CHECK(got == cases[i].want, "framing case %zu: %zd, expected %zd", i, got,
		      cases[i].want);
	}
}

/* Every key once, in wg's order: the canonical text mg_uapi_set_format writes. */
static const char every_key[] = "set=1\n"
                                "private_key=" K1 "\n"
                                "listen_port=51820\n"
                                "fwmark=4294967295\n"
                                "replace_peers=true\n"
                                "public_key=" K2 "\n"
                                "update_only=true\n"
                                "preshared_key=" K3 "\n"
                                "endpoint=[2001:db8::7]:65535\n"
                                "persistent_keepalive_interval=65535\n"
                                "replace_allowed_ips=true\n"
                                "allowed_ip=10.0.0.0/8\n"
                                "allowed_ip=fd00::/64\n"
                                "allowed_ip=0.0.0.0/0\n"
                                "public_key=" K3 "\n"
                                "remove=true\n"
                                "public_key=" K1 "\n"
                                "endpoint=192.0.2.1:1\n"
                                "persistent_keepalive_interval=0\n"
                                "\n";

static void test_parse_every_key(void)
{
	struct mg_uapi_set set;
	struct mg_uapi_buf out = {0};
	uint8_t k1[WG_KEY_LEN], k2[WG_KEY_LEN], k3[WG_KEY_LEN];
	char err[256];
	const char *body = every_key + 6;
	int rc = mg_uapi_set_parse(body, strlen(body) - 1, &set, err, sizeof(err));

	hex_decode_fixed(K1, k1, sizeof(k1));
	hex_decode_fixed(K2, k2, sizeof(k2));
	hex_decode_fixed(K3, k3, sizeof(k3));
	CHECK(rc == 0, "every key: %d %s", rc, err);
	if (rc)
		return;
	CHECK(set.has_private_key && memcmp(set.private_key, k1, WG_KEY_LEN) == 0, "private key");
	CHECK(set.has_listen_port && set.listen_port == 51820, "port");
	CHECK(set.has_fwmark && set.fwmark == UINT32_MAX && set.replace_peers, "fwmark, replace");
	CHECK(set.n_peers == 3, "three peer blocks, got %zu", set.n_peers);
	const struct mg_uapi_peer_change *a = &set.peers[0], *b = &set.peers[1], *c = &set.peers[2];

	CHECK(memcmp(a->public_key, k2, WG_KEY_LEN) == 0 && a->update_only && !a->remove &&
	          a->has_preshared_key && memcmp(a->preshared_key, k3, WG_KEY_LEN) == 0,
	      "peer 0 keys and flags");
	CHECK(a->has_endpoint && a->endpoint.family == 6 && a->endpoint.port == 65535 &&
	          a->has_persistent_keepalive && a->persistent_keepalive == 65535 &&
	          a->replace_allowed_ips && a->n_allowed_ips == 3,
	      "peer 0 values");
	CHECK(a->allowed_ips[2].family == 4 && a->allowed_ips[2].len == 0, "0.0.0.0/0");
	CHECK(memcmp(b->public_key, k3, WG_KEY_LEN) == 0 && b->remove && !b->has_endpoint,
	      "peer 1 removed");
	CHECK(memcmp(c->public_key, k1, WG_KEY_LEN) == 0 && c->has_endpoint &&
	          c->endpoint.port == 1 && c->has_persistent_keepalive &&
	          c->persistent_keepalive == 0 && !c->replace_allowed_ips && c->n_allowed_ips == 0,
	      "peer 2");
	mg_uapi_set_format(&set, &out);
	CHECK(!out.failed && out.len == strlen(every_key) &&
	          memcmp(out.data, every_key, out.len) == 0,
	      "round trip:\n%.*s", (int)out.len, out.data);
	mg_uapi_buf_free(&out);
	mg_uapi_set_free(&set);
	CHECK(set.peers == NULL && set.n_peers == 0 && wg_is_zero(set.private_key, WG_KEY_LEN),
	      "free clears");
}

static void test_parse_semantics(void)
{
	struct mg_uapi_set set;
	struct mg_uapi_buf out = {0};
	char err[256];

	/* An empty set request is valid and changes nothing. */
	CHECK(parse("", &set, err, sizeof(err)) == 0 && set.n_peers == 0 && !set.has_private_key,
	      "empty set");
	mg_uapi_set_free(&set);

	/* Upper-case hex, host bits, a zero private key (removes it), protocol_version. */
	CHECK(
	    parse("private_key="
	          "0000000000000000000000000000000000000000000000000000000000000000"
	          "\npublic_key=E84B5A6D2717C1003A13B431570353DBACA9146CF150C5F8575680FEBA52027A\n"
	          "protocol_version=1\nallowed_ip=10.1.2.3/8\nallowed_ip=2001:db8::1/32\n",
	          &set, err, sizeof(err)) == 0,
	    "upper-case hex: %s", err);
	CHECK(set.has_private_key && wg_is_zero(set.private_key, WG_KEY_LEN), "zero private key");
	CHECK(set.n_peers == 1 && set.peers[0].n_allowed_ips == 2, "one peer, two prefixes");
	mg_uapi_set_format(&set, &out);
	CHECK(out.len && strstr(out.data, "public_key=" K1 "\n") &&
	          strstr(out.data, "allowed_ip=10.0.0.0/8\nallowed_ip=2001:db8::/32\n"),
	      "masked and lower-cased: %.*s", (int)out.len, out.data);
	mg_uapi_buf_free(&out);
	mg_uapi_set_free(&set);

	/* replace_allowed_ips drops the prefixes given before it in the same block. */
	CHECK(parse("public_key=" K1 "\nallowed_ip=10.0.0.0/8\nreplace_allowed_ips=true\n"
	            "allowed_ip=11.0.0.0/8\n",
	            &set, err, sizeof(err)) == 0 &&
	          set.peers[0].n_allowed_ips == 1 && set.peers[0].allowed_ips[0].addr[0] == 11,
	      "replace_allowed_ips");
	mg_uapi_set_free(&set);

	/* remove wipes the block; later lines are checked but ignored. */
	CHECK(parse("public_key=" K1 "\nendpoint=192.0.2.1:5\nallowed_ip=10.0.0.0/8\nremove=true\n"
	            "allowed_ip=11.0.0.0/8\npersistent_keepalive_interval=5\n",
	            &set, err, sizeof(err)) == 0 &&
	          set.n_peers == 1 && set.peers[0].remove && !set.peers[0].has_endpoint &&
	          set.peers[0].n_allowed_ips == 0 && !set.peers[0].has_persistent_keepalive,
	      "remove");
	mg_uapi_set_free(&set);
	CHECK(parse("public_key=" K1 "\nremove=true\nallowed_ip=bad\n", &set, err, sizeof(err)) ==
	          -EINVAL,
	      "a bad line after remove still fails");

	/* The same key twice gives two changes, applied in order. */
	CHECK(parse("public_key=" K1 "\nremove=true\npublic_key=" K1 "\nallowed_ip=10.0.0.0/8\n",
	            &set, err, sizeof(err)) == 0 &&
	          set.n_peers == 2 && set.peers[0].remove && !set.peers[1].remove,
	      "a key twice");
	mg_uapi_set_free(&set);

	/* Many prefixes grow the arrays. */
	char big[64 * 32 + 100];
	size_t n = (size_t)snprintf(big, sizeof(big), "public_key=%s\n", K2);

	for (int i = 0; i < 60; i++)
		n += (size_t)snprintf(big + n, sizeof(big) - n, "allowed_ip=10.%d.0.0/16\n", i);
	CHECK(parse(big, &set, err, sizeof(err)) == 0 && set.peers[0].n_allowed_ips == 60 &&
	          set.peers[0].allowed_ips[59].addr[1] == 59,
	      "60 prefixes: %s", err);
	mg_uapi_set_free(&set);
}

static void test_parse_errors(void)
{
	static const struct {
		const char *body;
		int want;
		const char *says;
	} cases[] = {
	    {"listen_port\n", -EPROTO, "failed to parse line"},
	    {"public_key=" K1 "\nendpoint\n", -EPROTO, "failed to parse line"},
	    {"colour=red\n", -EINVAL, "invalid UAPI device key: colour"},
	    {"public_key=" K1 "\ncolour=red\n", -EINVAL, "invalid UAPI peer key: colour"},
	    {"public_key=" K1 "\nlisten_port=1\n", -EINVAL, "invalid UAPI peer key: listen_port"},
	    {"allowed_ip=10.0.0.0/8\n", -EINVAL, "invalid UAPI device key: allowed_ip"},
	    {"protocol_version=1\n", -EINVAL, "invalid UAPI device key"},
	    {"private_key=" K1 "0\n", -EINVAL, "private_key"},
	    {"private_key=e84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027\n",
	     -EINVAL, "private_key"},
	    {"private_key=g84b5a6d2717c1003a13b431570353dbaca9146cf150c5f8575680feba52027a\n",
	     -EINVAL, "private_key"},
	    {"private_key=\n", -EINVAL, "private_key"},
	    {"listen_port=65536\n", -EINVAL, "listen_port"},
	    {"listen_port=-1\n", -EINVAL, "listen_port"},
	    {"listen_port=+1\n", -EINVAL, "listen_port"},
	    {"listen_port= 1\n", -EINVAL, "listen_port"},
	    {"listen_port=\n", -EINVAL, "listen_port"},
	    {"listen_port=0x10\n", -EINVAL, "listen_port"},
	    {"fwmark=4294967296\n", -EINVAL, "fwmark"},
	    {"fwmark=99999999999999999999999\n", -EINVAL, "fwmark"},
	    {"replace_peers=false\n", -EINVAL, "replace_peers"},
	    {"replace_peers=TRUE\n", -EINVAL, "replace_peers"},
	    {"public_key=" K1 "1\n", -EINVAL, "public_key"},
	    {"public_key=\n", -EINVAL, "public_key"},
	    {"public_key=" K1 "\nupdate_only=yes\n", -EINVAL, "update_only"},
	    {"public_key=" K1 "\nremove=1\n", -EINVAL, "remove"},
	    {"public_key=" K1 "\npreshared_key=xyz\n", -EINVAL, "preshared_key"},
	    {"public_key=" K1 "\nendpoint=example.com:51820\n", -EINVAL, "endpoint"},
	    {"public_key=" K1 "\nendpoint=192.0.2.1\n", -EINVAL, "endpoint"},
	    {"public_key=" K1 "\nendpoint=192.0.2.1:0\n", -EINVAL, "endpoint"},
	    {"public_key=" K1 "\nendpoint=2001:db8::1:5\n", -EINVAL, "endpoint"},
	    {"public_key=" K1 "\npersistent_keepalive_interval=65536\n", -EINVAL, "keepalive"},
	    {"public_key=" K1 "\nreplace_allowed_ips=false\n", -EINVAL, "replace_allowed_ips"},
	    {"public_key=" K1 "\nallowed_ip=10.0.0.1\n", -EINVAL, "allowed_ip"},
	    {"public_key=" K1 "\nallowed_ip=10.0.0.0/33\n", -EINVAL, "allowed_ip"},
	    {"public_key=" K1 "\nallowed_ip=fe80::1%eth0/64\n", -EINVAL, "allowed_ip"},
	    {"public_key=" K1 "\nprotocol_version=2\n", -EINVAL, "protocol_version"},
	};
	struct mg_uapi_set set;
	char err[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = parse(cases[i].body, &set, err, sizeof(err));

		CHECK(rc == cases[i].want, "case %zu: %d, expected %d (%s)", i, rc, cases[i].want,
		      err);
		CHECK(strstr(err, cases[i].says) != NULL, "case %zu: '%s' lacks '%s'", i, err,
		      cases[i].says);
		CHECK(set.peers == NULL && set.n_peers == 0 && !set.has_private_key,
		      "case %zu: failed parse left state", i);
	}
	/* A NUL inside a value is not smuggled past the C-string parsers. */
	static const char nul[] = "public_key=" K1 "\nendpoint=192.0.2.1:5\0junk\n";

	CHECK(mg_uapi_set_parse(nul, sizeof(nul) - 1, &set, err, sizeof(err)) == -EINVAL,
	      "NUL in a value");
}

static void test_get_format(void)
{
	struct mg_uapi_buf out = {0};
	struct mg_uapi_device_info dev = {.listen_port = 51820};
	struct mg_prefix ips[2];
	struct mg_uapi_peer_info peer = {
	    .last_handshake_sec = 1700000000,
	    .last_handshake_nsec = 123456789,
	    .rx_bytes = 1234,
	    .tx_bytes = UINT64_MAX,
	    .persistent_keepalive = 25,
	    .allowed_ips = ips,
	    .n_allowed_ips = 2,
	};
	static const char want[] =
	    "private_key=" K1 "\n"
	    "listen_port=51820\n"
	    "public_key=" K2 "\n"
	    "preshared_key=0000000000000000000000000000000000000000000000000000"
	    "000000000000\n"
	    "protocol_version=1\n"
	    "endpoint=[2001:db8::7]:51820\n"
	    "last_handshake_time_sec=1700000000\n"
	    "last_handshake_time_nsec=123456789\n"
	    "tx_bytes=18446744073709551615\n"
	    "rx_bytes=1234\n"
	    "persistent_keepalive_interval=25\n"
	    "allowed_ip=10.0.0.0/8\n"
	    "allowed_ip=fd00::/64\n"
	    "public_key=" K3 "\n"
	    "preshared_key=" K1 "\n"
	    "protocol_version=1\n"
	    "last_handshake_time_sec=0\n"
	    "last_handshake_time_nsec=0\n"
	    "tx_bytes=0\n"
	    "rx_bytes=0\n"
	    "persistent_keepalive_interval=0\n";
	struct mg_uapi_peer_info bare = {0};

	hex_decode_fixed(K1, dev.private_key, WG_KEY_LEN);
	hex_decode_fixed(K2, peer.public_key, WG_KEY_LEN);
	mg_sockaddr_parse("[2001:db8::7]:51820", &peer.endpoint);
	mg_prefix_parse("10.0.0.0/8", &ips[0]);
	mg_prefix_parse("fd00::/64", &ips[1]);
	hex_decode_fixed(K3, bare.public_key, WG_KEY_LEN);
	hex_decode_fixed(K1, bare.preshared_key, WG_KEY_LEN);
	mg_uapi_emit_device(&out, &dev);
	mg_uapi_emit_peer(&out, &peer);
	mg_uapi_emit_peer(&out, &bare);
	CHECK(!out.failed && out.len == strlen(want) && memcmp(out.data, want, out.len) == 0,
	      "get text:\n%.*s", (int)out.len, out.data);
	mg_uapi_buf_free(&out);

	/* An empty device says nothing: no key, no port, no fwmark. */
	memset(&dev, 0, sizeof(dev));
	mg_uapi_emit_device(&out, &dev);
	CHECK(out.len == 0, "empty device emits %zu bytes", out.len);
	mg_uapi_buf_free(&out);

	/* The size bound turns into a failed buffer, not a short reply. */
	struct mg_uapi_buf small = {.max = 100};

	mg_uapi_emit_peer(&small, &peer);
	CHECK(small.failed && small.len <= 100, "bounded buffer");
	mg_uapi_buf_free(&small);
}

/* Sends one request through mg_uapi_handle; returns the reply (static) and the errno. */
static const char *handle(struct tdev *d, const char *req, int *rc)
{
	static char reply[4096];
	struct mg_uapi_buf out = {0};
	char err[256];

	*rc = mg_uapi_handle(&tdev_ops, d, req, strlen(req), &out, err, sizeof(err));
	snprintf(reply, sizeof(reply), "%.*s", (int)out.len, out.data ? out.data : "");
	mg_uapi_buf_free(&out);
	return reply;
}

static void test_handle(void)
{
	struct tdev d = {.busy_port = 1};
	const char *r;
	int rc;

	r = handle(&d,
	           "set=1\nlisten_port=4000\npublic_key=" K2 "\nallowed_ip=10.0.0.0/8\n"
	           "endpoint=192.0.2.1:51820\n\n",
	           &rc);
	CHECK(rc == 0 && strcmp(r, "errno=0\n\n") == 0, "set reply '%s'", r);
	CHECK(d.listen_port == 4000 && d.n_peers == 1 && d.peers[0].n_ips == 1, "set applied");

	/* A bad line anywhere means nothing at all is applied. */
	r = handle(&d,
	           "set=1\nlisten_port=5000\npublic_key=" K3 "\nallowed_ip=11.0.0.0/8\n"
	           "allowed_ip=nonsense\n\n",
	           &rc);
	CHECK(rc == -EINVAL && strcmp(r, "errno=-22\n\n") == 0, "invalid set reply '%s'", r);
	CHECK(d.listen_port == 4000 && d.n_peers == 1 && d.sets == 1,
	      "nothing applied, device never called");
	r = handle(&d, "set=1\nlisten_port\n\n", &rc);
	CHECK(rc == -EPROTO && strcmp(r, "errno=-71\n\n") == 0, "protocol error '%s'", r);

	/* The device's own refusal comes back as its errno, and it kept its state. */
	r = handle(&d, "set=1\nlisten_port=1\npublic_key=" K3 "\n\n", &rc);
	CHECK(rc == -EADDRINUSE && strcmp(r, "errno=-98\n\n") == 0, "busy port '%s'", r);
	CHECK(d.listen_port == 4000 && d.n_peers == 1, "device unchanged after its refusal");

	/* get, and get with anything between get=1 and the blank line. */
	d.peers[0].rx = 10;
	r = handle(&d, "get=1\n\n", &rc);
	CHECK(rc == 0 && strncmp(r, "listen_port=4000\npublic_key=" K2 "\n", 45) == 0 &&
	          strstr(r, "rx_bytes=10\n") && strstr(r, "allowed_ip=10.0.0.0/8\nerrno=0\n\n"),
	      "get reply '%s'", r);
	r = handle(&d, "get=1\nprivate_key=" K1 "\n\n", &rc);
	CHECK(rc == -EINVAL && strcmp(r, "errno=-22\n\n") == 0, "get with junk '%s'", r);

	/* replace_peers, a private key whose public key is a peer's, update_only. */
	uint8_t priv[WG_KEY_LEN], pub[WG_KEY_LEN];
	char req[512], pubhex[65];

	hex_decode_fixed(K1, priv, sizeof(priv));
	wg_x25519_clamp(priv);
	wg_x25519_public(pub, priv);
	for (int i = 0; i < WG_KEY_LEN; i++)
		snprintf(pubhex + 2 * i, 3, "%02x", pub[i]);
	snprintf(req, sizeof(req), "set=1\npublic_key=%s\nallowed_ip=12.0.0.0/8\n\n", pubhex);
	handle(&d, req, &rc);
	CHECK(rc == 0 && d.n_peers == 2, "peer with the future own key added");
	handle(&d, "set=1\nprivate_key=" K1 "\n\n", &rc);
	CHECK(rc == 0 && d.n_peers == 1 && !tdev_find(&d, pub), "own key's peer removed");
	handle(&d, req, &rc);
	CHECK(rc == 0 && d.n_peers == 1, "a peer with the own key is ignored");
	handle(&d, "set=1\npublic_key=" K3 "\nupdate_only=true\nallowed_ip=13.0.0.0/8\n\n", &rc);
	CHECK(rc == 0 && d.n_peers == 1, "update_only does not create");
	handle(&d, "set=1\nreplace_peers=true\npublic_key=" K3 "\nallowed_ip=10.0.0.0/8\n\n", &rc);
	CHECK(rc == 0 && d.n_peers == 1 && d.peers[0].n_ips == 1 &&
	          d.peers[0].public_key[0] == 0x66,
	      "replace_peers");
	r = handle(&d, "bogus\n\n", &rc);
	CHECK(rc == -EPROTO && strcmp(r, "errno=-71\n\n") == 0, "unframed request '%s'", r);
	wg_memzero(priv, sizeof(priv));
}

/*
 * Random requests built from protocol fragments: whatever they say, handling them never
 * crashes (the sanitizer builds watch), always ends the reply with one errno line, and a
 * refused request leaves the device as it was.
 */
static void test_random_requests(void)
{
	static const char *const parts[] = {
	    "set=1\n",
	    "get=1\n",
	    "\n",
	    "=",
	    "public_key=" K1 "\n",
	    "public_key=" K2 "\n",
	    "private_key=" K3 "\n",
	    "listen_port=",
	    "65535",
	    "99999",
	    "allowed_ip=",
	    "10.0.0.0/8\n",
	    "fd00::/64\n",
	    "endpoint=",
	    "[::1]:1\n",
	    "1.2.3.4:5\n",
	    "remove=true\n",
	    "replace_allowed_ips=true\n",
	    "update_only=true\n",
	    "replace_peers=true\n",
	    "\0",
	    "x",
	    "persistent_keepalive_interval=7\n",
	    "protocol_version=1\n",
	    "fwmark=3\n",
	};
	uint64_t seed = 42;
	unsigned bad_replies = 0, broken_atomicity = 0, applied = 0;

	for (int round = 0; round < 20000; round++) {
		char req[512];
		size_t len = 0;
		uint8_t r[16];
		struct tdev d = {0}, before;
		struct mg_uapi_buf out = {0};
		char err[256];

		test_rng(&seed, r, sizeof(r));
		memcpy(req, round & 1 ? "set=1\n" : "get=1\n", 6);
		len = 6;
		for (int i = 0; i < 1 + r[0] % 12; i++) {
			const char *p = parts[r[1 + i % 15] % (sizeof(parts) / sizeof(parts[0]))];
			size_t n = p[0] ? strlen(p) : 1;

			if (len + n + 1 >= sizeof(req))
				break;
			memcpy(req + len, p, n);
			len += n;
			r[1 + i % 15] = (uint8_t)(r[1 + i % 15] * 31 + 7);
		}
		req[len++] = '\n';
		/* Frame it the way the server does: up to the first blank line. */
		ssize_t framed = mg_uapi_request_length(req, len);

		if (framed <= 0)
			continue;
		before = d;
		int rc = mg_uapi_handle(&tdev_ops, &d, req, (size_t)framed, &out, err, sizeof(err));
		char tail[32];
		int n = snprintf(tail, sizeof(tail), "errno=%d\n\n", rc);

		if (out.len < (size_t)n || memcmp(out.data + out.len - (size_t)n, tail, (size_t)n))
			bad_replies++;
		if (rc != 0 && memcmp(&before, &d, offsetof(struct tdev, sets)) != 0)
			broken_atomicity++;
		applied += rc == 0 && req[0] == 's';
		mg_uapi_buf_free(&out);
	}
	CHECK(bad_replies == 0, "%u replies without their errno line", bad_replies);
	CHECK(broken_atomicity == 0, "%u refused requests changed the device", broken_atomicity);
	CHECK(applied > 100, "only %u random set requests were valid", applied);
}

int main(void)
{
	if (wg_crypto_init() != WG_OK)
		return 1;
	test_framing();
	test_parse_every_key();
	test_parse_semantics();
	test_parse_errors();
	test_get_format();
	test_handle();
	test_random_requests();
	return check_done("uapi");
}
