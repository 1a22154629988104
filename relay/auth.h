/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Proofs that open a relay session. A node proves it holds the private key of its WireGuard
 * public key exactly as registration with meshgate-coord does (coord/api_register.c): it seals
 * a context string and the server's fresh challenge with crypto_box under its private key and
 * the relay's public key. Here the message also carries the TLS exporter of the connection, so
 * a proof cannot be carried to another TLS session (a relay that forwards a node's challenge
 * from elsewhere gets a proof bound to the wrong session). A relay of the same mesh proves it
 * holds the mesh key with crypto_auth (HMAC-SHA-512-256) over the same inputs and its name.
 */
#ifndef MESHGATE_RELAY_AUTH_H
#define MESHGATE_RELAY_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

struct relay_auth_input {
	const uint8_t *relay_sk;  /* the relay's X25519 secret (NULL for mesh proofs) */
	const uint8_t *challenge; /* RELAY_CHALLENGE_LEN */
	const uint8_t *exporter;  /* RELAY_EXPORTER_LEN */
};

/*
 * Checks a PROOF body (RELAY_PROOF_BODY_LEN bytes). On success writes the node's public key
 * and returns 0; otherwise returns -1 with *why naming what failed.
 */
int relay_proof_verify(const struct relay_auth_input *in, const uint8_t *body, size_t len,
                       uint8_t node_pub[RELAY_KEY_LEN], const char **why);

/* Builds a PROOF body (what node/relay_client.c does; used by tests and the fuzz seeds). */
int relay_proof_make(const uint8_t node_sk[32], const uint8_t relay_pk[32],
                     const uint8_t challenge[RELAY_CHALLENGE_LEN],
                     const uint8_t exporter[RELAY_EXPORTER_LEN],
                     uint8_t body[RELAY_PROOF_BODY_LEN]);

/* MESH_PROOF: mac(32) || name. Returns the body length, or -1 when name is not 1..63 bytes. */
int relay_mesh_proof_make(const uint8_t mesh_key[32], const char *name,
                          const uint8_t challenge[RELAY_CHALLENGE_LEN],
                          const uint8_t exporter[RELAY_EXPORTER_LEN], uint8_t *body,
                          size_t bodylen);
/* Checks a MESH_PROOF body; writes the NUL-terminated name. */
int relay_mesh_proof_verify(const uint8_t mesh_key[32], const struct relay_auth_input *in,
                            const uint8_t *body, size_t len, char name[RELAY_MESH_NAME_MAX + 1],
                            const char **why);

#endif
