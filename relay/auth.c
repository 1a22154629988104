// SPDX-License-Identifier: GPL-2.0-only
#include "auth.h"

#include <stdbool.h>
#include <string.h>

#include <sodium.h>

#define CTX_LEN (sizeof(RELAY_PROOF_CONTEXT) - 1)

static void proof_msg(uint8_t m[RELAY_PROOF_MSG_LEN], const uint8_t *challenge,
                      const uint8_t *exporter)
{
	memcpy(m, RELAY_PROOF_CONTEXT, CTX_LEN);
	memcpy(m + CTX_LEN, challenge, RELAY_CHALLENGE_LEN);
	memcpy(m + CTX_LEN + RELAY_CHALLENGE_LEN, exporter, RELAY_EXPORTER_LEN);
}

/* u < 2^255 - 19, little-endian. */
static bool canonical_key(const uint8_t k[32])
{
	if (k[31] & 0x80)
		return false;
	if (k[31] != 0x7f || k[0] < 0xed)
		return true;
	for (int i = 1; i < 31; i++)
		if (k[i] != 0xff)
			return true;
	return false;
}

int relay_proof_verify(const struct relay_auth_input *in, const uint8_t *body, size_t len,
                       uint8_t node_pub[RELAY_KEY_LEN], const char **why)
{
	uint8_t shared[crypto_box_BEFORENMBYTES], m[RELAY_PROOF_MSG_LEN];
	const uint8_t *nonce = body + RELAY_KEY_LEN, *box = nonce + crypto_box_NONCEBYTES;
	int ret = -1;

	if (len != RELAY_PROOF_BODY_LEN) {
		*why = "PROOF body has the wrong length";
		return -1;
	}
	memcpy(node_pub, body, RELAY_KEY_LEN);
	/* X25519 ignores the top bit and reduces mod p, so one private key would answer for
	 * several encodings of its public key; only the canonical one (as wg prints) may log in. */
	if (!canonical_key(node_pub)) {
		*why = "the node key is not a canonical X25519 public key";
		return -1;
	}
	if (sodium_is_zero(node_pub, RELAY_KEY_LEN) ||
	    crypto_box_beforenm(shared, node_pub, in->relay_sk) != 0) {
		*why = "the node key is not a usable X25519 public key";
		goto out;
	}
	if (crypto_box_open_easy_afternm(m, box, RELAY_PROOF_MSG_LEN + crypto_box_MACBYTES, nonce,
	                                 shared) != 0) {
		*why = "the proof does not open under the node key: the sender does not hold its "
		       "private key";
		goto out;
	}
	if (sodium_memcmp(m, RELAY_PROOF_CONTEXT, CTX_LEN) != 0) {
		*why = "the proof is not a relay proof (wrong context string)";
		goto out;
	}
	if (sodium_memcmp(m + CTX_LEN, in->challenge, RELAY_CHALLENGE_LEN) != 0) {
		*why = "the proof answers another challenge (replayed)";
		goto out;
	}
	if (sodium_memcmp(m + CTX_LEN + RELAY_CHALLENGE_LEN, in->exporter, RELAY_EXPORTER_LEN) !=
	    0) {
		*why = "the proof is bound to another TLS session";
		goto out;
	}
	ret = 0;
out:
	sodium_memzero(shared, sizeof(shared));
	sodium_memzero(m, sizeof(m));
	return ret;
}

int relay_proof_make(const uint8_t node_sk[32], const uint8_t relay_pk[32],
                     const uint8_t challenge[RELAY_CHALLENGE_LEN],
                     const uint8_t exporter[RELAY_EXPORTER_LEN], uint8_t body[RELAY_PROOF_BODY_LEN])
{
	uint8_t m[RELAY_PROOF_MSG_LEN];
	uint8_t *nonce = body + RELAY_KEY_LEN;
	int ret;

	if (crypto_scalarmult_base(body, node_sk) != 0)
		return -1;
	randombytes_buf(nonce, crypto_box_NONCEBYTES);
	proof_msg(m, challenge, exporter);
	ret =
	    crypto_box_easy(nonce + crypto_box_NONCEBYTES, m, sizeof(m), nonce, relay_pk, node_sk);
	sodium_memzero(m, sizeof(m));
	return ret;
}

static void mesh_mac(uint8_t mac[crypto_auth_BYTES], const uint8_t key[32],
                     const uint8_t *challenge, const uint8_t *exporter, const char *name,
                     size_t namelen)
{
	crypto_auth_hmacsha512256_state st;

	crypto_auth_hmacsha512256_init(&st, key, 32);
	crypto_auth_hmacsha512256_update(&st, (const uint8_t *)RELAY_MESH_CONTEXT,
	                                 sizeof(RELAY_MESH_CONTEXT) - 1);
	crypto_auth_hmacsha512256_update(&st, challenge, RELAY_CHALLENGE_LEN);
	crypto_auth_hmacsha512256_update(&st, exporter, RELAY_EXPORTER_LEN);
	crypto_auth_hmacsha512256_update(&st, (const uint8_t *)name, namelen);
	crypto_auth_hmacsha512256_final(&st, mac);
	sodium_memzero(&st, sizeof(st));
}

int relay_mesh_proof_make(const uint8_t mesh_key[32], const char *name,
                          const uint8_t challenge[RELAY_CHALLENGE_LEN],
                          const uint8_t exporter[RELAY_EXPORTER_LEN], uint8_t *body, size_t bodylen)
{
	size_t n = strlen(name);

	if (n == 0 || n > RELAY_MESH_NAME_MAX || bodylen < 32 + n)
		return -1;
	mesh_mac(body, mesh_key, challenge, exporter, name, n);
	memcpy(body + 32, name, n);
	return (int)(32 + n);
}

int relay_mesh_proof_verify(const uint8_t mesh_key[32], const struct relay_auth_input *in,
                            const uint8_t *body, size_t len, char name[RELAY_MESH_NAME_MAX + 1],
                            const char **why)
{
	uint8_t mac[crypto_auth_BYTES];
	size_t n = len - 32;
	int ret;

	if (len < 33 || len > 32 + RELAY_MESH_NAME_MAX) {
		*why = "MESH_PROOF body has the wrong length";
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		uint8_t ch = body[32 + i];
		if (ch <= 0x20 || ch >= 0x7f) {
			*why = "the mesh peer's name must be printable ASCII without spaces";
			return -1;
		}
	}
	mesh_mac(mac, mesh_key, in->challenge, in->exporter, (const char *)body + 32, n);
	ret = sodium_memcmp(mac, body, 32) == 0 ? 0 : -1;
	sodium_memzero(mac, sizeof(mac));
	if (ret != 0) {
		*why =
		    "the mesh proof does not verify: the peer does not hold this region's mesh key "
		    "(or answers another challenge or TLS session)";
		return -1;
	}
	memcpy(name, body + 32, n);
	name[n] = '\0';
	return 0;
}
