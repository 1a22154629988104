// SPDX-License-Identifier: GPL-2.0-only
/* Generic IKpsk2 messages over wg/'s token sequences (see ikpsk2.h). */
#include "ikpsk2.h"

#include <string.h>

#include "crypto.h"

enum wg_result ikpsk2_init(struct ikpsk2 *hs, bool is_initiator, const uint8_t *prologue,
                           size_t prologue_len, const uint8_t s_priv[WG_KEY_LEN],
                           const uint8_t rs[WG_KEY_LEN], const uint8_t psk[WG_KEY_LEN])
{
	enum wg_result r;
	memset(hs, 0, sizeof(*hs));
	if (is_initiator && !rs)
		return WG_ERR_INVALID;
	r = wg_crypto_init();
	if (r != WG_OK)
		return r;
	hs->is_initiator = is_initiator;
	memcpy(hs->s_priv, s_priv, WG_KEY_LEN);
	r = wg_x25519_public(hs->s_pub, s_priv);
	if (r != WG_OK)
		return r;
	if (psk)
		memcpy(hs->psk, psk, WG_KEY_LEN);
	if (is_initiator)
		memcpy(hs->rs, rs, WG_KEY_LEN);
	return wg_ik_begin(&hs->sym, prologue, prologue_len, is_initiator ? hs->rs : hs->s_pub);
}

enum wg_result ikpsk2_write_msg1(struct ikpsk2 *hs, const uint8_t e_priv[WG_KEY_LEN],
                                 const uint8_t *payload, size_t payload_len, uint8_t *out,
                                 size_t out_cap, size_t *out_len)
{
	enum wg_result r;
	if (!hs->is_initiator)
		return WG_ERR_STATE;
	if (out_cap < IKPSK2_MSG1_OVERHEAD || out_cap - IKPSK2_MSG1_OVERHEAD < payload_len)
		return WG_ERR_INVALID;
	memcpy(hs->e_priv, e_priv, WG_KEY_LEN);
	/* e, es, s */
	r = wg_ik_write_e_es_s(&hs->sym, hs->e_priv, hs->rs, hs->s_pub, hs->e_pub,
	                       out + WG_KEY_LEN);
	memcpy(out, hs->e_pub, WG_KEY_LEN);
	/* ss */
	if (r == WG_OK)
		r = wg_sym_mix_dh(&hs->sym, hs->s_priv, hs->rs);
	/* payload */
	if (r == WG_OK)
		r = wg_sym_encrypt_and_hash(&hs->sym, out + 2 * WG_KEY_LEN + WG_AEAD_TAG_LEN,
		                            payload, payload_len);
	if (r == WG_OK)
		*out_len = IKPSK2_MSG1_OVERHEAD + payload_len;
	return r;
}

enum wg_result ikpsk2_read_msg1(struct ikpsk2 *hs, const uint8_t *msg, size_t len,
                                uint8_t *payload_out, size_t *payload_len)
{
	enum wg_result r;
	if (hs->is_initiator)
		return WG_ERR_STATE;
	if (len < IKPSK2_MSG1_OVERHEAD)
		return WG_ERR_INVALID;
	/* e, es, s */
	memcpy(hs->re, msg, WG_KEY_LEN);
	r = wg_ik_read_e_es_s(&hs->sym, hs->s_priv, hs->re, msg + WG_KEY_LEN, hs->rs);
	/* ss */
	if (r == WG_OK)
		r = wg_sym_mix_dh(&hs->sym, hs->s_priv, hs->rs);
	/* payload */
	if (r == WG_OK)
		r = wg_sym_decrypt_and_hash(&hs->sym, payload_out,
		                            msg + 2 * WG_KEY_LEN + WG_AEAD_TAG_LEN,
		                            len - 2 * WG_KEY_LEN - WG_AEAD_TAG_LEN);
	if (r == WG_OK)
		*payload_len = len - IKPSK2_MSG1_OVERHEAD;
	return r;
}

enum wg_result ikpsk2_write_msg2(struct ikpsk2 *hs, const uint8_t e_priv[WG_KEY_LEN],
                                 const uint8_t *payload, size_t payload_len, uint8_t *out,
                                 size_t out_cap, size_t *out_len)
{
	enum wg_result r;
	if (hs->is_initiator)
		return WG_ERR_STATE;
	if (out_cap < IKPSK2_MSG2_OVERHEAD || out_cap - IKPSK2_MSG2_OVERHEAD < payload_len)
		return WG_ERR_INVALID;
	memcpy(hs->e_priv, e_priv, WG_KEY_LEN);
	/* e, ee, se, psk */
	r = wg_ik_write_e_ee_se_psk(&hs->sym, hs->e_priv, hs->re, hs->rs, hs->psk, hs->e_pub);
	memcpy(out, hs->e_pub, WG_KEY_LEN);
	/* payload */
	if (r == WG_OK)
		r = wg_sym_encrypt_and_hash(&hs->sym, out + WG_KEY_LEN, payload, payload_len);
	if (r == WG_OK)
		*out_len = IKPSK2_MSG2_OVERHEAD + payload_len;
	return r;
}

enum wg_result ikpsk2_read_msg2(struct ikpsk2 *hs, const uint8_t *msg, size_t len,
                                uint8_t *payload_out, size_t *payload_len)
{
	enum wg_result r;
	if (!hs->is_initiator)
		return WG_ERR_STATE;
	if (len < IKPSK2_MSG2_OVERHEAD)
		return WG_ERR_INVALID;
	/* e, ee, se, psk */
	memcpy(hs->re, msg, WG_KEY_LEN);
	r = wg_ik_read_e_ee_se_psk(&hs->sym, hs->e_priv, hs->s_priv, hs->re, hs->psk);
	/* payload */
	if (r == WG_OK)
		r = wg_sym_decrypt_and_hash(&hs->sym, payload_out, msg + WG_KEY_LEN,
		                            len - WG_KEY_LEN);
	if (r == WG_OK)
		*payload_len = len - IKPSK2_MSG2_OVERHEAD;
	return r;
}

enum wg_result ikpsk2_split(struct ikpsk2 *hs, uint8_t send_key[WG_KEY_LEN],
                            uint8_t recv_key[WG_KEY_LEN])
{
	/* Split() */
	if (hs->is_initiator)
		return wg_sym_split(hs->sym.ck, send_key, recv_key);
	return wg_sym_split(hs->sym.ck, recv_key, send_key);
}

void ikpsk2_destroy(struct ikpsk2 *hs)
{
	wg_memzero(hs, sizeof(*hs));
}
