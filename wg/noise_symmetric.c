// SPDX-License-Identifier: GPL-2.0-only
/* The Noise symmetric state and the IKpsk2 token sequences (see noise_symmetric.h). */
#include "noise_symmetric.h"

#include <string.h>

#include "crypto.h"
#include "noise.h" /* WG_NOISE_CONSTRUCTION */

/* Non-NULL source for zero-length AEAD and hash inputs. */
static const uint8_t empty_input[1];

/* ---- Noise symmetric state ---- */

static enum wg_result sym_mix_hash(struct wg_noise_symmetric *s, const void *data, size_t len)
{
	uint8_t h[WG_HASH_LEN];
	enum wg_result r = wg_blake2s_2(h, s->h, WG_HASH_LEN, len ? data : empty_input, len);
	if (r == WG_OK)
		memcpy(s->h, h, WG_HASH_LEN);
	wg_memzero(h, sizeof(h));
	return r;
}

/* InitializeSymmetric(name) + MixHash(prologue). The name is longer than HASHLEN, so hashed. */
static enum wg_result sym_initialize(struct wg_noise_symmetric *s, const uint8_t *prologue,
                                     size_t prologue_len)
{
	memset(s, 0, sizeof(*s));
	enum wg_result r =
	    wg_blake2s(s->h, WG_HASH_LEN, WG_NOISE_CONSTRUCTION, sizeof(WG_NOISE_CONSTRUCTION) - 1);
	if (r != WG_OK)
		return r;
	memcpy(s->ck, s->h, WG_HASH_LEN);
	return sym_mix_hash(s, prologue, prologue_len);
}

/* MixKey: ck, k = HKDF(ck, ikm). */
enum wg_result wg_sym_mix_key(struct wg_noise_symmetric *s, const uint8_t *ikm, size_t len)
{
	s->n = 0;
	return wg_kdf(s->ck, s->k, NULL, s->ck, ikm, len);
}

/*
 * The "e" token's MixKey(e.pub) of the psk modes. Only the chaining key is kept: the key it
 * would yield is always replaced by the DH token that follows before anything is encrypted.
 */
static enum wg_result sym_mix_ephemeral(struct wg_noise_symmetric *s, const uint8_t pub[WG_KEY_LEN])
{
	enum wg_result r = sym_mix_hash(s, pub, WG_KEY_LEN);
	if (r != WG_OK)
		return r;
	return wg_kdf(s->ck, NULL, NULL, s->ck, pub, WG_KEY_LEN);
}

/* MixKey(DH(priv, pub)); an all-zero DH (low-order point) is refused. */
enum wg_result wg_sym_mix_dh(struct wg_noise_symmetric *s, const uint8_t priv[WG_KEY_LEN],
                             const uint8_t pub[WG_KEY_LEN])
{
	uint8_t dh[WG_KEY_LEN];
	enum wg_result r = wg_x25519(dh, priv, pub);
	if (r == WG_OK && wg_is_zero(dh, sizeof(dh)))
		r = WG_ERR_LOW_ORDER;
	if (r == WG_OK)
		r = wg_sym_mix_key(s, dh, sizeof(dh));
	wg_memzero(dh, sizeof(dh));
	return r;
}

/* MixKeyAndHash(psk): ck, t, k = HKDF(ck, psk, 3); MixHash(t). */
static enum wg_result sym_mix_key_and_hash(struct wg_noise_symmetric *s,
                                           const uint8_t psk[WG_KEY_LEN])
{
	uint8_t t[WG_HASH_LEN];
	s->n = 0;
	enum wg_result r = wg_kdf(s->ck, t, s->k, s->ck, psk, WG_KEY_LEN);
	if (r == WG_OK)
		r = sym_mix_hash(s, t, sizeof(t));
	wg_memzero(t, sizeof(t));
	return r;
}

/* dst receives len bytes of ciphertext and the tag; the hash absorbs both. */
enum wg_result wg_sym_encrypt_and_hash(struct wg_noise_symmetric *s, uint8_t *dst,
                                       const uint8_t *src, size_t len)
{
	enum wg_result r =
	    wg_aead_seal(dst, len ? src : empty_input, len, s->h, WG_HASH_LEN, s->n, s->k);
	if (r != WG_OK)
		return r;
	s->n++;
	return sym_mix_hash(s, dst, len + WG_AEAD_TAG_LEN);
}

/* The hash is computed over the ciphertext before decrypting, so dst may alias src. */
enum wg_result wg_sym_decrypt_and_hash(struct wg_noise_symmetric *s, uint8_t *dst,
                                       const uint8_t *src, size_t len_with_tag)
{
	uint8_t next_h[WG_HASH_LEN];
	enum wg_result r;
	if (len_with_tag < WG_AEAD_TAG_LEN)
		return WG_ERR_INVALID;
	r = wg_blake2s_2(next_h, s->h, WG_HASH_LEN, src, len_with_tag);
	if (r == WG_OK)
		r = wg_aead_open(dst, src, len_with_tag, s->h, WG_HASH_LEN, s->n, s->k);
	if (r == WG_OK) {
		s->n++;
		memcpy(s->h, next_h, WG_HASH_LEN);
	}
	wg_memzero(next_h, sizeof(next_h));
	return r;
}

/* Split: k1 (initiator to responder), k2 (responder to initiator) = HKDF(ck, empty). */
enum wg_result wg_sym_split(const uint8_t ck[WG_HASH_LEN], uint8_t k1[WG_KEY_LEN],
                            uint8_t k2[WG_KEY_LEN])
{
	return wg_kdf(k1, k2, NULL, ck, empty_input, 0);
}

/* ---- IKpsk2 token sequences, shared by the WireGuard and the generic messages ---- */

/* Initialize with the prologue, then the pre-message "<- s": MixHash(responder static). */
enum wg_result wg_ik_begin(struct wg_noise_symmetric *s, const uint8_t *prologue,
                           size_t prologue_len, const uint8_t responder_static[WG_KEY_LEN])
{
	enum wg_result r = sym_initialize(s, prologue, prologue_len);
	if (r != WG_OK)
		return r;
	return sym_mix_hash(s, responder_static, WG_KEY_LEN);
}

/* Initiator: "-> e, es, s". The caller mixes "ss" and the payload. */
enum wg_result wg_ik_write_e_es_s(struct wg_noise_symmetric *s, const uint8_t e_priv[WG_KEY_LEN],
                                  const uint8_t rs[WG_KEY_LEN], const uint8_t s_pub[WG_KEY_LEN],
                                  uint8_t e_pub_out[WG_KEY_LEN],
                                  uint8_t enc_static_out[WG_KEY_LEN + WG_AEAD_TAG_LEN])
{
	/* e */
	enum wg_result r = wg_x25519_public(e_pub_out, e_priv);
	if (r == WG_OK)
		r = sym_mix_ephemeral(s, e_pub_out);
	/* es */
	if (r == WG_OK)
		r = wg_sym_mix_dh(s, e_priv, rs);
	/* s */
	if (r == WG_OK)
		r = wg_sym_encrypt_and_hash(s, enc_static_out, s_pub, WG_KEY_LEN);
	return r;
}

/* Responder: "-> e, es, s" read; rs_out receives the initiator's static key. */
enum wg_result wg_ik_read_e_es_s(struct wg_noise_symmetric *s, const uint8_t s_priv[WG_KEY_LEN],
                                 const uint8_t e_in[WG_KEY_LEN],
                                 const uint8_t enc_static[WG_KEY_LEN + WG_AEAD_TAG_LEN],
                                 uint8_t rs_out[WG_KEY_LEN])
{
	/* e */
	enum wg_result r = sym_mix_ephemeral(s, e_in);
	/* es */
	if (r == WG_OK)
		r = wg_sym_mix_dh(s, s_priv, e_in);
	/* s */
	if (r == WG_OK)
		r = wg_sym_decrypt_and_hash(s, rs_out, enc_static, WG_KEY_LEN + WG_AEAD_TAG_LEN);
	return r;
}

/* Responder: "<- e, ee, se, psk". The caller encrypts the payload. */
enum wg_result wg_ik_write_e_ee_se_psk(struct wg_noise_symmetric *s,
                                       const uint8_t e_priv[WG_KEY_LEN],
                                       const uint8_t re[WG_KEY_LEN], const uint8_t rs[WG_KEY_LEN],
                                       const uint8_t psk[WG_KEY_LEN], uint8_t e_pub_out[WG_KEY_LEN])
{
	/* e */
	enum wg_result r = wg_x25519_public(e_pub_out, e_priv);
	if (r == WG_OK)
		r = sym_mix_ephemeral(s, e_pub_out);
	/* ee */
	if (r == WG_OK)
		r = wg_sym_mix_dh(s, e_priv, re);
	/* se */
	if (r == WG_OK)
		r = wg_sym_mix_dh(s, e_priv, rs);
	/* psk */
	if (r == WG_OK)
		r = sym_mix_key_and_hash(s, psk);
	return r;
}

/* Initiator: "<- e, ee, se, psk" read. */
enum wg_result wg_ik_read_e_ee_se_psk(struct wg_noise_symmetric *s,
                                      const uint8_t e_priv[WG_KEY_LEN],
                                      const uint8_t s_priv[WG_KEY_LEN],
                                      const uint8_t re[WG_KEY_LEN], const uint8_t psk[WG_KEY_LEN])
{
	/* e */
	enum wg_result r = sym_mix_ephemeral(s, re);
	/* ee */
	if (r == WG_OK)
		r = wg_sym_mix_dh(s, e_priv, re);
	/* se */
	if (r == WG_OK)
		r = wg_sym_mix_dh(s, s_priv, re);
	/* psk */
	if (r == WG_OK)
		r = sym_mix_key_and_hash(s, psk);
	return r;
}
