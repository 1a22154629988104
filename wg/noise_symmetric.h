/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Noise's symmetric state (Noise spec section 5.2) and the IKpsk2 token sequences built on it,
 * for Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s. The WireGuard messages (noise.c) and the generic
 * Noise messages of the known-answer test (tests/wg/ikpsk2.c) are both built on these, so the
 * cacophony vector checks the code that speaks to peers. Internal to wg/ and its tests.
 *
 *   IKpsk2:  <- s
 *            ...
 *            -> e, es, s, ss
 *            <- e, ee, se, psk
 *
 * Every function zeroes its own temporaries; the caller zeroes the state.
 */
#ifndef MESHGATE_WG_NOISE_SYMMETRIC_H
#define MESHGATE_WG_NOISE_SYMMETRIC_H

#include <stddef.h>
#include <stdint.h>

#include "constants.h"
#include "result.h"

struct wg_noise_symmetric {
	uint8_t ck[WG_HASH_LEN];
	uint8_t h[WG_HASH_LEN];
	uint8_t k[WG_KEY_LEN];
	uint64_t n;
};

/* MixKey(ikm). */
enum wg_result wg_sym_mix_key(struct wg_noise_symmetric *s, const uint8_t *ikm, size_t len);
/* MixKey(DH(priv, pub)); WG_ERR_LOW_ORDER when the DH is all zero. */
enum wg_result wg_sym_mix_dh(struct wg_noise_symmetric *s, const uint8_t priv[WG_KEY_LEN],
                             const uint8_t pub[WG_KEY_LEN]);
/* EncryptAndHash: dst receives len bytes of ciphertext and the tag. src may be NULL when len 0. */
enum wg_result wg_sym_encrypt_and_hash(struct wg_noise_symmetric *s, uint8_t *dst,
                                       const uint8_t *src, size_t len);
/* DecryptAndHash of len_with_tag bytes; dst (len_with_tag - 16 bytes) may alias src. */
enum wg_result wg_sym_decrypt_and_hash(struct wg_noise_symmetric *s, uint8_t *dst,
                                       const uint8_t *src, size_t len_with_tag);
/* Split: k1 carries initiator to responder, k2 responder to initiator. */
enum wg_result wg_sym_split(const uint8_t ck[WG_HASH_LEN], uint8_t k1[WG_KEY_LEN],
                            uint8_t k2[WG_KEY_LEN]);

/* InitializeSymmetric, MixHash(prologue), then the pre-message "<- s". */
enum wg_result wg_ik_begin(struct wg_noise_symmetric *s, const uint8_t *prologue,
                           size_t prologue_len, const uint8_t responder_static[WG_KEY_LEN]);
/* Initiator writes "-> e, es, s"; the caller mixes "ss" and the payload. */
enum wg_result wg_ik_write_e_es_s(struct wg_noise_symmetric *s, const uint8_t e_priv[WG_KEY_LEN],
                                  const uint8_t rs[WG_KEY_LEN], const uint8_t s_pub[WG_KEY_LEN],
                                  uint8_t e_pub_out[WG_KEY_LEN],
                                  uint8_t enc_static_out[WG_KEY_LEN + WG_AEAD_TAG_LEN]);
/* Responder reads "-> e, es, s"; rs_out receives the initiator's static key. */
enum wg_result wg_ik_read_e_es_s(struct wg_noise_symmetric *s, const uint8_t s_priv[WG_KEY_LEN],
                                 const uint8_t e_in[WG_KEY_LEN],
                                 const uint8_t enc_static[WG_KEY_LEN + WG_AEAD_TAG_LEN],
                                 uint8_t rs_out[WG_KEY_LEN]);
/* Responder writes "<- e, ee, se, psk"; the caller encrypts the payload. */
enum wg_result wg_ik_write_e_ee_se_psk(struct wg_noise_symmetric *s,
                                       const uint8_t e_priv[WG_KEY_LEN],
                                       const uint8_t re[WG_KEY_LEN], const uint8_t rs[WG_KEY_LEN],
                                       const uint8_t psk[WG_KEY_LEN],
                                       uint8_t e_pub_out[WG_KEY_LEN]);
/* Initiator reads "<- e, ee, se, psk". */
enum wg_result wg_ik_read_e_ee_se_psk(struct wg_noise_symmetric *s,
                                      const uint8_t e_priv[WG_KEY_LEN],
                                      const uint8_t s_priv[WG_KEY_LEN],
                                      const uint8_t re[WG_KEY_LEN], const uint8_t psk[WG_KEY_LEN]);

#endif
