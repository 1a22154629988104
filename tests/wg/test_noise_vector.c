// SPDX-License-Identifier: GPL-2.0-only
/*
 * The generic IKpsk2 core (the token steps the WireGuard messages are built on) against the
 * cacophony Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s vector, byte for byte: both handshake
 * messages with their payloads, the handshake hash, the split keys and the four transport
 * messages (per-direction nonces from 0, empty AD).
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "crypto.h"
#include "ikpsk2.h"
#include "noise.h"

struct blob {
	uint8_t *p;
	size_t n;
};

static struct blob field(json_t *obj, const char *key)
{
	struct blob b = {NULL, 0};
	const char *hex = json_string_value(json_object_get(obj, key));
	if (!hex || !hex_decode(hex, &b.p, &b.n)) {
		CHECK(0, "vector field %s missing or bad hex", key);
		b.p = calloc(1, 1);
		b.n = 0;
	}
	return b;
}

static struct blob message_field(json_t *messages, size_t i, const char *key)
{
	return field(json_array_get(messages, i), key);
}

static bool key_ok(struct blob b)
{
	return b.n == WG_KEY_LEN;
}

static void run_vector(size_t vi, json_t *v)
{
	struct ikpsk2 ini, res;
	uint8_t out[1024], payload[1024], resp_static_pub[WG_KEY_LEN], init_static_pub[WG_KEY_LEN];
	uint8_t i_send[WG_KEY_LEN], i_recv[WG_KEY_LEN], r_send[WG_KEY_LEN], r_recv[WG_KEY_LEN];
	size_t out_len = 0, payload_len = 0;
	enum wg_result r;

	const char *proto = json_string_value(json_object_get(v, "protocol_name"));
	CHECK(proto && strcmp(proto, WG_NOISE_CONSTRUCTION) == 0, "vector %zu protocol %s", vi,
	      proto ? proto : "(none)");

	struct blob prologue = field(v, "init_prologue");
	struct blob resp_prologue = field(v, "resp_prologue");
	struct blob init_static = field(v, "init_static");
	struct blob init_eph = field(v, "init_ephemeral");
	struct blob init_rs = field(v, "init_remote_static");
	struct blob resp_static = field(v, "resp_static");
	struct blob resp_eph = field(v, "resp_ephemeral");
	struct blob hash = field(v, "handshake_hash");
	json_t *psks = json_object_get(v, "init_psks");
	json_t *resp_psks = json_object_get(v, "resp_psks");
	json_t *messages = json_object_get(v, "messages");
	struct blob psk = {NULL, 0}, resp_psk = {NULL, 0};
	if (json_array_size(psks) == 1 && json_array_size(resp_psks) == 1) {
		hex_decode(json_string_value(json_array_get(psks, 0)), &psk.p, &psk.n);
		hex_decode(json_string_value(json_array_get(resp_psks, 0)), &resp_psk.p,
		           &resp_psk.n);
	}
	if (!key_ok(init_static) || !key_ok(init_eph) || !key_ok(init_rs) || !key_ok(resp_static) ||
	    !key_ok(resp_eph) || hash.n != WG_HASH_LEN || psk.n != WG_KEY_LEN ||
	    resp_psk.n != WG_KEY_LEN || json_array_size(messages) != 6) {
		CHECK(0, "vector %zu: unexpected shape", vi);
		goto out;
	}

	/* The vector's remote static is the responder's public key. */
	CHECK(wg_x25519_public(resp_static_pub, resp_static.p) == WG_OK, "%s", __func__);
	CHECK(memcmp(resp_static_pub, init_rs.p, WG_KEY_LEN) == 0, "init_remote_static");
	CHECK(wg_x25519_public(init_static_pub, init_static.p) == WG_OK, "%s", __func__);

	CHECK(ikpsk2_init(&ini, true, prologue.p, prologue.n, init_static.p, init_rs.p, psk.p) ==
	          WG_OK,
	      "%s", __func__);
	CHECK(ikpsk2_init(&res, false, resp_prologue.p, resp_prologue.n, resp_static.p, NULL,
	                  resp_psk.p) == WG_OK,
	      "%s", __func__);

	/* Message 1: -> e, es, s, ss + payload. */
	struct blob p0 = message_field(messages, 0, "payload");
	struct blob c0 = message_field(messages, 0, "ciphertext");
	r = ikpsk2_write_msg1(&ini, init_eph.p, p0.p, p0.n, out, sizeof(out), &out_len);
	CHECK(r == WG_OK, "write_msg1: %s", wg_result_str(r));
	CHECK(out_len == c0.n && memcmp(out, c0.p, c0.n) == 0, "message 1 bytes (len %zu vs %zu)",
	      out_len, c0.n);
	r = ikpsk2_read_msg1(&res, c0.p, c0.n, payload, &payload_len);
	CHECK(r == WG_OK, "read_msg1: %s", wg_result_str(r));
	CHECK(payload_len == p0.n && memcmp(payload, p0.p, p0.n) == 0, "message 1 payload");
	CHECK(memcmp(res.rs, init_static_pub, WG_KEY_LEN) == 0,
	      "responder learnt initiator static");
	CHECK(memcmp(ini.sym.h, res.sym.h, WG_HASH_LEN) == 0, "hash after message 1");

	/* Message 2: <- e, ee, se, psk + payload. */
	struct blob p1 = message_field(messages, 1, "payload");
	struct blob c1 = message_field(messages, 1, "ciphertext");
	r = ikpsk2_write_msg2(&res, resp_eph.p, p1.p, p1.n, out, sizeof(out), &out_len);
	CHECK(r == WG_OK, "write_msg2: %s", wg_result_str(r));
	CHECK(out_len == c1.n && memcmp(out, c1.p, c1.n) == 0, "message 2 bytes");
	/* A flipped bit anywhere in message 2 must not authenticate (on a copy of the state). */
	for (size_t i = 0; i < c1.n; i++) {
		struct ikpsk2 copy = ini;
		uint8_t bad[1024];
		memcpy(bad, c1.p, c1.n);
		bad[i] ^= 0x01;
		CHECK(ikpsk2_read_msg2(&copy, bad, c1.n, payload, &payload_len) != WG_OK,
		      "tampered message 2 byte %zu accepted", i);
		ikpsk2_destroy(&copy);
	}
	r = ikpsk2_read_msg2(&ini, c1.p, c1.n, payload, &payload_len);
	CHECK(r == WG_OK, "read_msg2: %s", wg_result_str(r));
	CHECK(payload_len == p1.n && memcmp(payload, p1.p, p1.n) == 0, "message 2 payload");

	CHECK(memcmp(ini.sym.h, hash.p, WG_HASH_LEN) == 0, "initiator handshake hash");
	CHECK(memcmp(res.sym.h, hash.p, WG_HASH_LEN) == 0, "responder handshake hash");

	CHECK(ikpsk2_split(&ini, i_send, i_recv) == WG_OK, "%s", __func__);
	CHECK(ikpsk2_split(&res, r_send, r_recv) == WG_OK, "%s", __func__);
	CHECK(memcmp(i_send, r_recv, WG_KEY_LEN) == 0, "k1 agrees");
	CHECK(memcmp(i_recv, r_send, WG_KEY_LEN) == 0, "k2 agrees");
	CHECK(memcmp(i_send, i_recv, WG_KEY_LEN) != 0, "k1 != k2");

	/* Transport: alternating directions, each direction's nonce counting from 0. */
	for (size_t m = 2; m < 6; m++) {
		bool from_initiator = (m % 2) == 0;
		uint64_t nonce = (m - 2) / 2;
		const uint8_t *seal_key = from_initiator ? i_send : r_send;
		const uint8_t *open_key = from_initiator ? r_recv : i_recv;
		struct blob p = message_field(messages, m, "payload");
		struct blob c = message_field(messages, m, "ciphertext");
		CHECK(c.n == p.n + WG_AEAD_TAG_LEN, "message %zu length", m);
		if (c.n == p.n + WG_AEAD_TAG_LEN) {
			CHECK(wg_aead_seal(out, p.p, p.n, NULL, 0, nonce, seal_key) == WG_OK, "%s",
			      __func__);
			CHECK(memcmp(out, c.p, c.n) == 0, "transport message %zu bytes", m);
			CHECK(wg_aead_open(payload, c.p, c.n, NULL, 0, nonce, open_key) == WG_OK,
			      "transport message %zu opens", m);
			CHECK(memcmp(payload, p.p, p.n) == 0, "transport message %zu payload", m);
			CHECK(wg_aead_open(payload, c.p, c.n, NULL, 0, nonce + 1, open_key) ==
			          WG_ERR_AUTH,
			      "transport message %zu under the wrong nonce", m);
		}
		free(p.p);
		free(c.p);
	}

	/* A different prologue gives a different message 1 (the prologue is really mixed in). */
	{
		struct ikpsk2 other;
		static const uint8_t other_prologue[] = "John Galt?";
		CHECK(ikpsk2_init(&other, true, other_prologue, sizeof(other_prologue) - 1,
		                  init_static.p, init_rs.p, psk.p) == WG_OK,
		      "%s", __func__);
		CHECK(ikpsk2_write_msg1(&other, init_eph.p, p0.p, p0.n, out, sizeof(out),
		                        &out_len) == WG_OK,
		      "%s", __func__);
		CHECK(memcmp(out, c0.p, WG_KEY_LEN) == 0, "same ephemeral");
		CHECK(memcmp(out + WG_KEY_LEN, c0.p + WG_KEY_LEN, c0.n - WG_KEY_LEN) != 0,
		      "prologue changes the ciphertext");
		ikpsk2_destroy(&other);
	}

	ikpsk2_destroy(&ini);
	ikpsk2_destroy(&res);
	free(p0.p);
	free(c0.p);
	free(p1.p);
	free(c1.p);
out:
	free(prologue.p);
	free(resp_prologue.p);
	free(init_static.p);
	free(init_eph.p);
	free(init_rs.p);
	free(resp_static.p);
	free(resp_eph.p);
	free(hash.p);
	free(psk.p);
	free(resp_psk.p);
}

int main(int argc, char **argv)
{
	json_t *root = vectors_load(argc, argv, "noise_ikpsk2_cacophony.json");
	json_t *vectors = json_object_get(root, "vectors");
	CHECK(wg_crypto_init() == WG_OK, "%s", __func__);
	CHECK(json_array_size(vectors) > 0, "no vectors");
	for (size_t i = 0; i < json_array_size(vectors); i++)
		run_vector(i, json_array_get(vectors, i));
	json_decref(root);
	return check_done("noise_vector");
}
