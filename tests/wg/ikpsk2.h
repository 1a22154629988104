/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Generic Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s messages for the known-answer tests: the token
 * sequences the WireGuard messages are built on (wg/noise_symmetric.h), with the prologue, the
 * payloads and the ephemeral private keys as inputs, so the core can be checked byte for byte
 * against Noise test vectors. Tests only: WireGuard fixes all three, so its own API cannot.
 */
#ifndef MESHGATE_TESTS_IKPSK2_H
#define MESHGATE_TESTS_IKPSK2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "constants.h"
#include "noise_symmetric.h"
#include "result.h"

struct ikpsk2 {
	bool is_initiator;
	struct wg_noise_symmetric sym;
	uint8_t s_priv[WG_KEY_LEN];
	uint8_t s_pub[WG_KEY_LEN];
	uint8_t e_priv[WG_KEY_LEN];
	uint8_t e_pub[WG_KEY_LEN];
	uint8_t rs[WG_KEY_LEN]; /* initiator: given; responder: learnt from message 1 */
	uint8_t re[WG_KEY_LEN];
	uint8_t psk[WG_KEY_LEN];
};

/* Message sizes: 1 = 32 + 48 + payload + 16, 2 = 32 + payload + 16. */
#define IKPSK2_MSG1_OVERHEAD (WG_KEY_LEN + WG_KEY_LEN + WG_AEAD_TAG_LEN + WG_AEAD_TAG_LEN)
#define IKPSK2_MSG2_OVERHEAD (WG_KEY_LEN + WG_AEAD_TAG_LEN)

/* rs: the responder's static public key (initiator only; NULL for the responder). */
enum wg_result ikpsk2_init(struct ikpsk2 *hs, bool is_initiator, const uint8_t *prologue,
                           size_t prologue_len, const uint8_t s_priv[WG_KEY_LEN],
                           const uint8_t rs[WG_KEY_LEN], const uint8_t psk[WG_KEY_LEN]);
/* -> e, es, s, ss, payload. */
enum wg_result ikpsk2_write_msg1(struct ikpsk2 *hs, const uint8_t e_priv[WG_KEY_LEN],
                                 const uint8_t *payload, size_t payload_len, uint8_t *out,
                                 size_t out_cap, size_t *out_len);
/* payload_out holds len - IKPSK2_MSG1_OVERHEAD bytes. */
enum wg_result ikpsk2_read_msg1(struct ikpsk2 *hs, const uint8_t *msg, size_t len,
                                uint8_t *payload_out, size_t *payload_len);
/* <- e, ee, se, psk, payload. */
enum wg_result ikpsk2_write_msg2(struct ikpsk2 *hs, const uint8_t e_priv[WG_KEY_LEN],
                                 const uint8_t *payload, size_t payload_len, uint8_t *out,
                                 size_t out_cap, size_t *out_len);
enum wg_result ikpsk2_read_msg2(struct ikpsk2 *hs, const uint8_t *msg, size_t len,
                                uint8_t *payload_out, size_t *payload_len);
/* Transport keys from the final chaining key, from this side's point of view. */
enum wg_result ikpsk2_split(struct ikpsk2 *hs, uint8_t send_key[WG_KEY_LEN],
                            uint8_t recv_key[WG_KEY_LEN]);
void ikpsk2_destroy(struct ikpsk2 *hs);

#endif
