// SPDX-License-Identifier: GPL-2.0-only
/*
 * Known answers for every primitive behind wg/crypto.h: all Wycheproof ChaCha20-Poly1305,
 * XChaCha20-Poly1305 and X25519 cases, the BLAKE2 project's BLAKE2s KAT, RFC 7748 and RFC 8439
 * examples, and the KDF against HMAC computed step by step.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "crypto.h"

typedef enum wg_result (*aead_seal_fn)(uint8_t *, const uint8_t *, size_t, const uint8_t *, size_t,
                                       const uint8_t *, size_t, const uint8_t *);

struct aead_impl {
	const char *file;
	aead_seal_fn seal, open;
	size_t ivlen;
};

struct hexbuf {
	uint8_t *p;
	size_t len;
};

static struct hexbuf field(json_t *test, const char *name)
{
	struct hexbuf b = {NULL, 0};
	const char *s = json_string_value(json_object_get(test, name));

	if (!s || !hex_decode(s, &b.p, &b.len)) {
		CHECK(false, "test field %s missing or not hex", name);
		b.p = calloc(1, 1);
	}
	return b;
}

/* One Wycheproof AEAD case, both directions and in place. */
static void aead_case(const struct aead_impl *impl, json_t *t, size_t *valid, size_t *invalid)
{
	int id = (int)json_integer_value(json_object_get(t, "tcId"));
	const char *result = json_string_value(json_object_get(t, "result"));
	struct hexbuf key = field(t, "key"), iv = field(t, "iv"), aad = field(t, "aad");
	struct hexbuf msg = field(t, "msg"), ct = field(t, "ct"), tag = field(t, "tag");
	size_t sealed_len = ct.len + tag.len;
	uint8_t *expect = malloc(sealed_len + 1), *buf = malloc(sealed_len + 1);
	uint8_t *plain = malloc(msg.len + 1);
	bool is_valid = result && strcmp(result, "valid") == 0;
	enum wg_result r;

	memcpy(expect, ct.p, ct.len);
	memcpy(expect + ct.len, tag.p, tag.len);
	CHECK(key.len == WG_KEY_LEN, "%s #%d: key size", impl->file, id);

	if (iv.len != impl->ivlen) {
		/* Wrong nonce sizes are refused outright, never used in some padded form. */
		CHECK(!is_valid, "%s #%d: valid case with iv of %zu bytes", impl->file, id, iv.len);
		r = impl->seal(buf, msg.p, msg.len, aad.p, aad.len, iv.p, iv.len, key.p);
		CHECK(r == WG_ERR_INVALID, "%s #%d: seal with %zu-byte iv gave %s", impl->file, id,
		      iv.len, wg_result_str(r));
		r = impl->open(plain, expect, sealed_len, aad.p, aad.len, iv.p, iv.len, key.p);
		CHECK(r == WG_ERR_INVALID, "%s #%d: open with %zu-byte iv gave %s", impl->file, id,
		      iv.len, wg_result_str(r));
		(*invalid)++;
		goto out;
	}

	r = impl->seal(buf, msg.p, msg.len, aad.p, aad.len, iv.p, iv.len, key.p);
	CHECK(r == WG_OK, "%s #%d: seal: %s", impl->file, id, wg_result_str(r));
	r = impl->open(plain, expect, sealed_len, aad.p, aad.len, iv.p, iv.len, key.p);
	if (is_valid) {
		CHECK(tag.len == WG_AEAD_TAG_LEN && memcmp(buf, expect, sealed_len) == 0,
		      "%s #%d: ciphertext or tag differs", impl->file, id);
		CHECK(r == WG_OK && memcmp(plain, msg.p, msg.len) == 0, "%s #%d: open: %s",
		      impl->file, id, wg_result_str(r));
		/* In place: seal over the plaintext, then open over the ciphertext. */
		memcpy(buf, msg.p, msg.len);
		r = impl->seal(buf, buf, msg.len, aad.p, aad.len, iv.p, iv.len, key.p);
		CHECK(r == WG_OK && memcmp(buf, expect, sealed_len) == 0, "%s #%d: in-place seal",
		      impl->file, id);
		r = impl->open(buf, buf, sealed_len, aad.p, aad.len, iv.p, iv.len, key.p);
		CHECK(r == WG_OK && memcmp(buf, msg.p, msg.len) == 0, "%s #%d: in-place open",
		      impl->file, id);
		(*valid)++;
	} else {
		/* Only modified tags are left: our own tag differs, and the forged one fails. */
		CHECK(memcmp(buf, expect, sealed_len) != 0, "%s #%d: invalid case sealed equal",
		      impl->file, id);
		CHECK(r == WG_ERR_AUTH, "%s #%d: forged tag gave %s", impl->file, id,
		      wg_result_str(r));
		CHECK(msg.len == 0 || wg_is_zero(plain, msg.len),
		      "%s #%d: plaintext left behind on a failed open", impl->file, id);
		(*invalid)++;
	}
out:
	free(key.p), free(iv.p), free(aad.p), free(msg.p), free(ct.p), free(tag.p);
	free(expect), free(buf), free(plain);
}

static void test_wycheproof_aead(int argc, char **argv, const struct aead_impl *impl)
{
	json_t *root = vectors_load(argc, argv, impl->file);
	json_t *groups = json_object_get(root, "testGroups"), *group, *t;
	size_t gi, ti, valid = 0, invalid = 0;
	json_int_t expected = json_integer_value(json_object_get(root, "numberOfTests"));

	json_array_foreach(groups, gi, group)
	{
		json_array_foreach(json_object_get(group, "tests"), ti, t)
		{
			aead_case(impl, t, &valid, &invalid);
		}
	}
	CHECK((json_int_t)(valid + invalid) == expected && valid > 0 && invalid > 0,
	      "%s: ran %zu valid + %zu invalid of %lld", impl->file, valid, invalid,
	      (long long)expected);
	printf("%s: %zu valid, %zu invalid cases\n", impl->file, valid, invalid);
	json_decref(root);
}

static void test_wycheproof_x25519(int argc, char **argv)
{
	json_t *root = vectors_load(argc, argv, "wycheproof_x25519.json");
	json_t *group, *t;
	size_t gi, ti, ran = 0, refused = 0;

	json_array_foreach(json_object_get(root, "testGroups"), gi, group)
	{
		json_array_foreach(json_object_get(group, "tests"), ti, t)
		{
			int id = (int)json_integer_value(json_object_get(t, "tcId"));
			const char *result = json_string_value(json_object_get(t, "result"));
			uint8_t priv[WG_KEY_LEN], pub[WG_KEY_LEN], shared[WG_KEY_LEN];
			uint8_t out[WG_KEY_LEN];
			bool low_order = false;
			size_t fi;
			json_t *flag;

			CHECK(hex_decode_fixed(json_string_value(json_object_get(t, "private")),
			                       priv, sizeof(priv)) &&
			          hex_decode_fixed(json_string_value(json_object_get(t, "public")),
			                           pub, sizeof(pub)) &&
			          hex_decode_fixed(json_string_value(json_object_get(t, "shared")),
			                           shared, sizeof(shared)),
			      "x25519 #%d: fields", id);
			json_array_foreach(json_object_get(t, "flags"), fi, flag)
			{
				const char *f = json_string_value(flag);
				if (strcmp(f, "LowOrderPublic") == 0 ||
				    strcmp(f, "ZeroSharedSecret") == 0)
					low_order = true;
			}
			memset(out, 0xa5, sizeof(out));
			enum wg_result r = wg_x25519(out, priv, pub);
			bool expect_zero = wg_is_zero(shared, sizeof(shared));
			if (expect_zero) {
				CHECK(strcmp(result, "acceptable") == 0, "x25519 #%d: zero is %s",
				      id, result);
				CHECK(r == WG_ERR_LOW_ORDER && wg_is_zero(out, sizeof(out)),
				      "x25519 #%d: zero shared secret gave %s", id,
				      wg_result_str(r));
				refused++;
			} else {
				CHECK(r == WG_OK && memcmp(out, shared, sizeof(out)) == 0,
				      "x25519 #%d (%s): %s or wrong secret", id, result,
				      wg_result_str(r));
			}
			if (low_order)
				CHECK(r == WG_ERR_LOW_ORDER,
				      "x25519 #%d: low-order public accepted (%s)", id,
				      wg_result_str(r));
			ran++;
		}
	}
	CHECK((json_int_t)ran == json_integer_value(json_object_get(root, "numberOfTests")),
	      "x25519: ran %zu", ran);
	CHECK(refused >= 31, "x25519: only %zu low-order refusals", refused);
	printf("wycheproof_x25519.json: %zu cases, %zu refused as low order\n", ran, refused);
	json_decref(root);
}

static void test_blake2s_kat(int argc, char **argv)
{
	json_t *root = vectors_load(argc, argv, "blake2s_kat.json");
	json_t *t;
	size_t i, unkeyed = 0, keyed = 0;

	json_array_foreach(root, i, t)
	{
		struct hexbuf in = field(t, "in"), key = field(t, "key"), want = field(t, "out");
		uint8_t out[WG_HASH_LEN];
		enum wg_result r;

		CHECK(want.len == WG_HASH_LEN, "blake2s #%zu: output size %zu", i, want.len);
		if (key.len == 0) {
			r = wg_blake2s(out, sizeof(out), in.p, in.len);
			CHECK(r == WG_OK && memcmp(out, want.p, sizeof(out)) == 0,
			      "blake2s #%zu (%zu bytes)", i, in.len);
			/* Split in two at every third point: same digest. */
			for (size_t cut = 0; cut <= in.len; cut += 3) {
				r = wg_blake2s_2(out, in.p, cut, in.p + cut, in.len - cut);
				CHECK(r == WG_OK && memcmp(out, want.p, sizeof(out)) == 0,
				      "blake2s_2 #%zu cut at %zu", i, cut);
			}
			unkeyed++;
		} else {
			r = wg_blake2s_keyed(out, sizeof(out), key.p, key.len, in.p, in.len);
			CHECK(r == WG_OK && memcmp(out, want.p, sizeof(out)) == 0,
			      "keyed blake2s #%zu (%zu bytes)", i, in.len);
			keyed++;
		}
		free(in.p), free(key.p), free(want.p);
	}
	CHECK(unkeyed == 256 && keyed == 256, "blake2s: %zu unkeyed, %zu keyed", unkeyed, keyed);
	json_decref(root);
}

/* Values here come from outside this code: the RFCs, or CPython's hashlib/hmac as noted. */
static void test_blake2s_extra(void)
{
	uint8_t key[32], out[WG_HASH_LEN], want[WG_HASH_LEN], out32[WG_HASH_LEN];
	static const char construction[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";

	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)i;
	/* WireGuard's initial chaining key (wireguard-go's InitialChainKey). */
	hex_decode_fixed("60e26daef327efc02ec335e2a025d2d016eb4206f87277f52d38d1988b78cd36", want,
	                 32);
	CHECK(wg_blake2s(out, 32, construction, strlen(construction)) == WG_OK &&
	          memcmp(out, want, 32) == 0,
	      "HASH(construction)");

	/* A 16-byte keyed MAC (mac1, mac2, cookie) carries its length in the parameter block. */
	hex_decode_fixed("61ba5f165c194692e09d12520cc4c74a", want, 16); /* hashlib, key 00..1f */
	CHECK(wg_blake2s_keyed(out, 16, key, 32, "abc", 3) == WG_OK && memcmp(out, want, 16) == 0,
	      "keyed blake2s, 16-byte output");
	CHECK(wg_blake2s_keyed(out32, 32, key, 32, "abc", 3) == WG_OK &&
	          memcmp(out32, out, 16) != 0,
	      "16-byte MAC must not be a prefix of the 32-byte one");

	CHECK(wg_blake2s(out, 16, "abc", 3) == WG_ERR_INVALID, "unkeyed short output refused");
	CHECK(wg_blake2s_keyed(out, 0, key, 32, "abc", 3) == WG_ERR_INVALID, "outlen 0");
	CHECK(wg_blake2s_keyed(out, 33, key, 32, "abc", 3) == WG_ERR_INVALID, "outlen 33");
	CHECK(wg_blake2s_keyed(out, 16, key, 0, "abc", 3) == WG_ERR_INVALID, "keylen 0");
	CHECK(wg_blake2s_keyed(out, 16, key, 33, "abc", 3) == WG_ERR_INVALID, "keylen 33");
}

static void test_hmac_kdf(void)
{
	uint8_t key[32], out[WG_HASH_LEN], want[WG_HASH_LEN], ck[WG_HASH_LEN], data[32];
	uint8_t t0[WG_HASH_LEN], h1[WG_HASH_LEN], h2[WG_HASH_LEN], h3[WG_HASH_LEN], buf[33];
	uint8_t a1[WG_HASH_LEN], b1[WG_HASH_LEN], b2[WG_HASH_LEN];
	uint8_t c1[WG_HASH_LEN], c2[WG_HASH_LEN], c3[WG_HASH_LEN];
	static const char construction[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";

	for (int i = 0; i < 32; i++) {
		key[i] = (uint8_t)i;
		data[i] = (uint8_t)(0x20 + i);
	}
	/* hmac.new(bytes(range(32)), b"meshgate", hashlib.blake2s) */
	hex_decode_fixed("3703d720855cee2c70f4f8aa4d63bd75f64ae41d2e111d02142cb96650ee1030", want,
	                 32);
	CHECK(wg_hmac_blake2s(out, key, 32, "meshgate", 8) == WG_OK && memcmp(out, want, 32) == 0,
	      "HMAC-BLAKE2s");

	CHECK(wg_blake2s(ck, 32, construction, strlen(construction)) == WG_OK, "ck");
	CHECK(wg_kdf(c1, c2, c3, ck, data, sizeof(data)) == WG_OK, "kdf3");

	/* The paper's definition, one HMAC at a time. */
	CHECK(wg_hmac_blake2s(t0, ck, 32, data, sizeof(data)) == WG_OK, "T0");
	buf[0] = 1;
	CHECK(wg_hmac_blake2s(h1, t0, 32, buf, 1) == WG_OK, "T1");
	memcpy(buf, h1, 32), buf[32] = 2;
	CHECK(wg_hmac_blake2s(h2, t0, 32, buf, 33) == WG_OK, "T2");
	memcpy(buf, h2, 32), buf[32] = 3;
	CHECK(wg_hmac_blake2s(h3, t0, 32, buf, 33) == WG_OK, "T3");
	CHECK(memcmp(c1, h1, 32) == 0 && memcmp(c2, h2, 32) == 0 && memcmp(c3, h3, 32) == 0,
	      "KDF3 differs from HMAC by hand");

	/* The same chain computed by CPython's hmac with hashlib.blake2s. */
	hex_decode_fixed("a1bb5656571db2bfe717e0e0148b7c3d3e5270adf9392b07cd20fe3d461094bd", want,
	                 32);
	CHECK(memcmp(c1, want, 32) == 0, "KDF T1 vs independent value");
	hex_decode_fixed("0349d890ad1d9ebbf0f4775178115686d2d91c13baf7941534c73d193ee4503d", want,
	                 32);
	CHECK(memcmp(c2, want, 32) == 0, "KDF T2 vs independent value");
	hex_decode_fixed("20524b5a0058dc9994bc93028b6b30007b1e270bffa55ac5dc9a890abef958e7", want,
	                 32);
	CHECK(memcmp(c3, want, 32) == 0, "KDF T3 vs independent value");

	/* KDF1 and KDF2 are prefixes of KDF3. */
	CHECK(wg_kdf(a1, NULL, NULL, ck, data, sizeof(data)) == WG_OK && memcmp(a1, c1, 32) == 0,
	      "KDF1 prefix");
	CHECK(wg_kdf(b1, b2, NULL, ck, data, sizeof(data)) == WG_OK && memcmp(b1, c1, 32) == 0 &&
	          memcmp(b2, c2, 32) == 0,
	      "KDF2 prefix");

	/* Outputs may alias the chaining key (ck = KDF(ck, ...) in Noise). */
	memcpy(out, ck, 32);
	CHECK(wg_kdf(out, b2, NULL, out, data, sizeof(data)) == WG_OK && memcmp(out, c1, 32) == 0 &&
	          memcmp(b2, c2, 32) == 0,
	      "KDF with t1 aliasing ck");
	memcpy(out, ck, 32);
	CHECK(wg_kdf(b1, out, NULL, out, data, sizeof(data)) == WG_OK && memcmp(b1, c1, 32) == 0 &&
	          memcmp(out, c2, 32) == 0,
	      "KDF with t2 aliasing ck");
	CHECK(wg_kdf(b1, NULL, NULL, ck, NULL, 0) == WG_OK, "KDF of empty input");
	CHECK(wg_kdf(NULL, b2, NULL, ck, data, 1) == WG_ERR_INVALID, "KDF without t1");
}

static void test_rfc7748(void)
{
	uint8_t a[32], b[32], a_pub[32], b_pub[32], want_a_pub[32], want_b_pub[32], shared[32];
	uint8_t out[32], k[32], u[32], next[32], one[32], thousand[32];

	/* RFC 7748 section 6.1 */
	hex_decode_fixed("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a", a, 32);
	hex_decode_fixed("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
	                 want_a_pub, 32);
	hex_decode_fixed("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb", b, 32);
	hex_decode_fixed("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
	                 want_b_pub, 32);
	hex_decode_fixed("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742", shared,
	                 32);
	CHECK(wg_x25519_public(a_pub, a) == WG_OK && memcmp(a_pub, want_a_pub, 32) == 0,
	      "Alice's public key");
	CHECK(wg_x25519_public(b_pub, b) == WG_OK && memcmp(b_pub, want_b_pub, 32) == 0,
	      "Bob's public key");
	CHECK(wg_x25519(out, a, b_pub) == WG_OK && memcmp(out, shared, 32) == 0, "Alice's K");
	CHECK(wg_x25519(out, b, a_pub) == WG_OK && memcmp(out, shared, 32) == 0, "Bob's K");

	/* RFC 7748 section 5.2: k = u = 9, then (k, u) = (X25519(k, u), k), 1 and 1000 times. */
	hex_decode_fixed("422c8e7a6227d7bca1350b3e2bb7279f7897b87bb6854b783c60e80311ae3079", one,
	                 32);
	hex_decode_fixed("684cf59ba83309552800ef566f2f4d3c1c3887c49360e3875f2eb94d99532c51",
	                 thousand, 32);
	memset(k, 0, 32), memset(u, 0, 32);
	k[0] = u[0] = 9;
	for (int i = 1; i <= 1000; i++) {
		CHECK(wg_x25519(next, k, u) == WG_OK, "iteration %d", i);
		memcpy(u, k, 32);
		memcpy(k, next, 32);
		if (i == 1)
			CHECK(memcmp(k, one, 32) == 0, "RFC 7748 5.2 after 1 iteration");
	}
	CHECK(memcmp(k, thousand, 32) == 0, "RFC 7748 5.2 after 1000 iterations");

	/* Clamping sets exactly the bits the RFC's decodeScalar25519 sets. */
	memset(k, 0xff, 32);
	wg_x25519_clamp(k);
	CHECK(k[0] == 0xf8 && k[31] == 0x7f && k[15] == 0xff, "clamp of all ones");
	memset(k, 0, 32);
	wg_x25519_clamp(k);
	CHECK(k[0] == 0 && k[31] == 0x40, "clamp of zero");

	/* The zero point and the identity are low order. */
	memset(u, 0, 32);
	CHECK(wg_x25519(out, a, u) == WG_ERR_LOW_ORDER, "u = 0");
	u[0] = 1;
	CHECK(wg_x25519(out, a, u) == WG_ERR_LOW_ORDER, "u = 1");
}

static void test_rfc8439(void)
{
	static const char plaintext[] =
	    "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for "
	    "the future, sunscreen would be it.";
	size_t len = sizeof(plaintext) - 1;
	uint8_t key[32], iv[12], aad[12], want[114 + 16], out[114 + 16], back[114];

	CHECK(len == 114, "RFC 8439 plaintext length %zu", len);
	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(0x80 + i);
	hex_decode_fixed("070000004041424344454647", iv, 12);
	hex_decode_fixed("50515253c0c1c2c3c4c5c6c7", aad, 12);
	hex_decode_fixed("d31a8d34648e60db7b86afbc53ef7ec2a4aded51296e08fea9e2b5a736ee62d6"
	                 "3dbea45e8ca9671282fafb69da92728b1a71de0a9e060b2905d6a5b67ecd3b36"
	                 "92ddbd7f2d778b8c9803aee328091b58fab324e4fad675945585808b4831d7bc"
	                 "3ff4def08e4b7a9de576d26586cec64b6116"
	                 "1ae10b594f09e26a7e902ecbd0600691",
	                 want, sizeof(want));
	CHECK(wg_chacha20poly1305_seal(out, (const uint8_t *)plaintext, len, aad, 12, iv, 12,
	                               key) == WG_OK &&
	          memcmp(out, want, sizeof(want)) == 0,
	      "RFC 8439 2.8.2 seal");
	CHECK(wg_chacha20poly1305_open(back, want, sizeof(want), aad, 12, iv, 12, key) == WG_OK &&
	          memcmp(back, plaintext, len) == 0,
	      "RFC 8439 2.8.2 open");
	for (size_t i = 0; i < sizeof(want); i += 7) {
		memcpy(out, want, sizeof(want));
		out[i] ^= 0x01;
		CHECK(wg_chacha20poly1305_open(back, out, sizeof(out), aad, 12, iv, 12, key) ==
		          WG_ERR_AUTH,
		      "flipped byte %zu accepted", i);
	}
	CHECK(wg_chacha20poly1305_open(back, want, 15, aad, 12, iv, 12, key) == WG_ERR_INVALID,
	      "shorter than a tag");
	CHECK(wg_xaead_open(back, want, 15, aad, 12, iv, 24, key) == WG_ERR_INVALID,
	      "x: shorter than a tag");
}

/* wg_aead_*: the WireGuard nonce is 4 zero bytes then the counter, little-endian. */
static void test_wg_nonce(void)
{
	uint8_t key[32], iv[12] = {0}, a[64 + 16], b[64 + 16], msg[64], back[64];
	const uint64_t counter = 0x0102030405060708ULL;

	for (int i = 0; i < 32; i++)
		key[i] = (uint8_t)(i * 7);
	for (int i = 0; i < 64; i++)
		msg[i] = (uint8_t)i;
	for (int i = 0; i < 8; i++)
		iv[4 + i] = (uint8_t)(counter >> (8 * i));
	CHECK(wg_aead_seal(a, msg, 64, NULL, 0, counter, key) == WG_OK, "wg seal");
	CHECK(wg_chacha20poly1305_seal(b, msg, 64, NULL, 0, iv, 12, key) == WG_OK, "iv seal");
	CHECK(memcmp(a, b, sizeof(a)) == 0, "nonce layout");
	CHECK(wg_aead_open(back, a, sizeof(a), NULL, 0, counter, key) == WG_OK &&
	          memcmp(back, msg, 64) == 0,
	      "wg open");
	CHECK(wg_aead_open(back, a, sizeof(a), NULL, 0, counter + 1, key) == WG_ERR_AUTH &&
	          wg_is_zero(back, 64),
	      "wrong counter refused and output zeroed");
	/* Empty plaintext (keepalive): a bare tag. */
	CHECK(wg_aead_seal(a, NULL, 0, NULL, 0, 0, key) == WG_OK &&
	          wg_aead_open(NULL, a, 16, NULL, 0, 0, key) == WG_OK,
	      "empty message round trip");
}

static void test_helpers(void)
{
	uint8_t a[40] = {0}, b[40] = {0}, r1[32], r2[32];

	CHECK(wg_is_zero(a, sizeof(a)), "is_zero of zeros");
	a[39] = 1;
	CHECK(!wg_is_zero(a, sizeof(a)), "is_zero of non-zero");
	CHECK(!wg_memeq(a, b, sizeof(a)) && wg_memeq(a, b, 39), "memeq");
	wg_memzero(a, sizeof(a));
	CHECK(wg_is_zero(a, sizeof(a)), "memzero");
	wg_random_bytes(r1, sizeof(r1));
	wg_random_bytes(r2, sizeof(r2));
	CHECK(!wg_memeq(r1, r2, 32) && !wg_is_zero(r1, 32), "random bytes differ");
	CHECK(wg_crypto_init() == WG_OK && wg_crypto_init() == WG_OK, "init idempotent");
}

int main(int argc, char **argv)
{
	static const struct aead_impl chacha = {"wycheproof_chacha20_poly1305.json",
	                                        wg_chacha20poly1305_seal, wg_chacha20poly1305_open,
	                                        12};
	static const struct aead_impl xchacha = {"wycheproof_xchacha20_poly1305.json",
	                                         wg_xaead_seal, wg_xaead_open, 24};

	test_wycheproof_aead(argc, argv, &chacha);
	test_wycheproof_aead(argc, argv, &xchacha);
	test_wycheproof_x25519(argc, argv);
	test_blake2s_kat(argc, argv);
	test_blake2s_extra();
	test_hmac_kdf();
	test_rfc7748();
	test_rfc8439();
	test_wg_nonce();
	test_helpers();
	return check_done("crypto_kat");
}
