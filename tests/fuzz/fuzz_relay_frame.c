// SPDX-License-Identifier: GPL-2.0-only
/*
 * Fuzz target: meshgate-relay's frame reader (relay/frame.c) and the proofs it leads to
 * (relay/auth.c). The first byte picks the reader's role (pre-auth, node, mesh in, mesh out,
 * client); the rest is a byte stream cut into frames as the relay cuts it. Seeds: a genuine
 * PROOF and MESH_PROOF for a fixed challenge and exporter, SEND, PING, presence and forward
 * frames.
 *
 * Invariants per frame:
 *  - a header is accepted only for a type the role may receive, with a length inside that
 *    type's bounds (never above RELAY_MAX_BODY), and a key list a multiple of 32; a refused one
 *    says why with an ERROR code the protocol defines;
 *  - re-encoding an accepted header gives the same five bytes;
 *  - a PROOF body verifies exactly when the node's private key made it for this challenge and
 *    session: its key is the node's and its box is what crypto_box makes under the body's own
 *    nonce (the nonce is random, so a proof from an earlier run of this target is genuine too);
 *    any other bytes fail with a reason, and success yields the node key. MESH_PROOF verifies
 *    exactly when it is the genuine seed's body (its MAC is deterministic).
 */
#include <string.h>

#include <sodium.h>

#include "auth.h"
#include "frame.h"
#include "fuzz_driver.h"
#include "test_rng.h"

static uint8_t relay_sk[32], relay_pk[32], node_sk[32], node_pk[32], mesh_key[32];
static uint8_t challenge[32], exporter[32];
static uint8_t good_proof[RELAY_PROOF_BODY_LEN], good_mesh[32 + RELAY_MESH_NAME_MAX];
static int good_mesh_len;

static void seed(const char *name, uint8_t role, uint8_t type, const void *body, uint32_t len)
{
	uint8_t buf[1 + RELAY_HDR_LEN + 512];

	buf[0] = role;
	relay_frame_put(buf + 1, type, len);
	memcpy(buf + 1 + RELAY_HDR_LEN, body, len);
	fuzz_seed_add(name, buf, 1 + RELAY_HDR_LEN + len);
}

int fuzz_init(void)
{
	uint64_t st = 42;
	uint8_t body[256];

	if (sodium_init() < 0)
		return 1;
	test_rng(&st, relay_sk, 32);
	test_rng(&st, node_sk, 32);
	test_rng(&st, mesh_key, 32);
	test_rng(&st, challenge, 32);
	test_rng(&st, exporter, 32);
	crypto_scalarmult_base(relay_pk, relay_sk);
	crypto_scalarmult_base(node_pk, node_sk);
	if (relay_proof_make(node_sk, relay_pk, challenge, exporter, good_proof) != 0)
		return 1;
	good_mesh_len = relay_mesh_proof_make(mesh_key, "relay-b", challenge, exporter, good_mesh,
	                                      sizeof(good_mesh));
	if (good_mesh_len < 0)
		return 1;
	seed("proof", RELAY_ROLE_PREAUTH, RELAY_F_PROOF, good_proof, sizeof(good_proof));
	seed("mesh_proof", RELAY_ROLE_PREAUTH, RELAY_F_MESH_PROOF, good_mesh,
	     (uint32_t)good_mesh_len);
	memset(body, 0xab, sizeof(body));
	seed("send", RELAY_ROLE_NODE, RELAY_F_SEND, body, 32 + 148);
	seed("ping", RELAY_ROLE_NODE, RELAY_F_PING, body, 8);
	seed("present", RELAY_ROLE_MESH_OUT, RELAY_F_MESH_PRESENT, body, 64);
	seed("forward", RELAY_ROLE_MESH_IN, RELAY_F_MESH_FORWARD, body, 64 + 32);
	seed("recv", RELAY_ROLE_CLIENT, RELAY_F_RECV, body, 32 + 100);
	seed("error", RELAY_ROLE_CLIENT, RELAY_F_ERROR, "\x03why", 4);
	fuzz_set_max_len(2048);
	return 0;
}

/* Whether the node's secret key made this PROOF body: built the way a node builds one, with
 * the body's nonce, rather than opened the way the relay checks one. */
static bool node_made(const uint8_t *body, uint32_t len)
{
	static const char ctx[] = RELAY_PROOF_CONTEXT;
	uint8_t m[RELAY_PROOF_MSG_LEN], box[RELAY_PROOF_MSG_LEN + crypto_box_MACBYTES];
	const uint8_t *nonce = body + RELAY_KEY_LEN;

	if (len != RELAY_PROOF_BODY_LEN || memcmp(body, node_pk, RELAY_KEY_LEN) != 0)
		return false;
	memcpy(m, ctx, sizeof(ctx) - 1);
	memcpy(m + sizeof(ctx) - 1, challenge, RELAY_CHALLENGE_LEN);
	memcpy(m + sizeof(ctx) - 1 + RELAY_CHALLENGE_LEN, exporter, RELAY_EXPORTER_LEN);
	if (crypto_box_easy(box, m, sizeof(m), nonce, relay_pk, node_sk) != 0)
		return false;
	return memcmp(box, nonce + crypto_box_NONCEBYTES, sizeof(box)) == 0;
}

static void check_proofs(const struct relay_frame_hdr *h, const uint8_t *body)
{
	struct relay_auth_input in = {relay_sk, challenge, exporter};
	const char *why = NULL;
	uint8_t pub[32];
	char name[RELAY_MESH_NAME_MAX + 1];
	bool genuine;
	int rc;

	if (h->type == RELAY_F_PROOF) {
		genuine = node_made(body, h->len);
		rc = relay_proof_verify(&in, body, h->len, pub, &why);
		FUZZ_CHECK((rc == 0) == genuine, "proof verified=%d genuine=%d", rc == 0, genuine);
		FUZZ_CHECK(rc != 0 || memcmp(pub, node_pk, 32) == 0, "%s",
		           "rc != 0 || memcmp(pub, node_pk, 32) == 0");
		FUZZ_CHECK(rc == 0 || (why && *why), "%s", "rc == 0 || (why && *why)");
		fuzz_outcome(rc == 0 ? "proof ok" : why);
	} else if (h->type == RELAY_F_MESH_PROOF) {
		genuine = h->len == (uint32_t)good_mesh_len && memcmp(body, good_mesh, h->len) == 0;
		rc = relay_mesh_proof_verify(mesh_key, &in, body, h->len, name, &why);
		FUZZ_CHECK((rc == 0) == genuine, "mesh proof verified=%d genuine=%d", rc == 0,
		           genuine);
		FUZZ_CHECK(rc != 0 || strcmp(name, "relay-b") == 0, "%s",
		           "rc != 0 || strcmp(name, \"relay-b\") == 0");
		fuzz_outcome(rc == 0 ? "mesh proof ok" : why);
	}
}

int fuzz_one(const uint8_t *data, size_t len)
{
	enum relay_role role;
	size_t off = 1;

	if (len < 1)
		return 0;
	role = (enum relay_role)(data[0] % RELAY_ROLE_COUNT);
	while (len - off >= RELAY_HDR_LEN) {
		struct relay_frame_hdr h;
		const char *why = NULL;
		uint8_t again[RELAY_HDR_LEN];
		int rc = relay_frame_check(data + off, role, &h, &why);

		if (rc != 0) {
			FUZZ_CHECK(rc == RELAY_E_BAD_FRAME || rc == RELAY_E_TOO_LARGE ||
			               rc == RELAY_E_UNEXPECTED,
			           "code %d", rc);
			FUZZ_CHECK(why && *why, "%s", "why && *why");
			fuzz_outcome(why);
			return 0;
		}
		FUZZ_CHECK(h.len <= RELAY_MAX_BODY, "%s", "h.len <= RELAY_MAX_BODY");
		FUZZ_CHECK(strcmp(relay_frame_name(h.type), "?") != 0, "%s",
		           "strcmp(relay_frame_name(h.type), \"?\") != 0");
		relay_frame_put(again, h.type, h.len);
		FUZZ_CHECK(memcmp(again, data + off, RELAY_HDR_LEN) == 0, "%s",
		           "memcmp(again, data + off, RELAY_HDR_LEN) == 0");
		if (role == RELAY_ROLE_PREAUTH)
			FUZZ_CHECK(h.type == RELAY_F_PROOF || h.type == RELAY_F_MESH_PROOF, "%s",
			           "h.type == RELAY_F_PROOF || h.type == RELAY_F_MESH_PROOF");
		if (h.type == RELAY_F_PROOF)
			FUZZ_CHECK(h.len == RELAY_PROOF_BODY_LEN, "%s",
			           "h.len == RELAY_PROOF_BODY_LEN");
		if (h.type == RELAY_F_MESH_PRESENT || h.type == RELAY_F_MESH_ABSENT)
			FUZZ_CHECK(
			    h.len % 32 == 0 && h.len >= 32 && h.len <= 32 * RELAY_MESH_KEYS_MAX,
			    "%s",
			    "h.len % 32 == 0 && h.len >= 32 && h.len <= 32 * RELAY_MESH_KEYS_MAX");
		if (h.type == RELAY_F_SEND || h.type == RELAY_F_RECV)
			FUZZ_CHECK(h.len > 32 && h.len <= 32 + RELAY_MAX_PACKET, "%s",
			           "h.len > 32 && h.len <= 32 + RELAY_MAX_PACKET");
		fuzz_outcome(relay_frame_name(h.type));
		off += RELAY_HDR_LEN;
		if (len - off < h.len) {
			fuzz_outcome("incomplete body");
			return 0;
		}
		check_proofs(&h, data + off);
		off += h.len;
	}
	return 0;
}
