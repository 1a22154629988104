// SPDX-License-Identifier: GPL-2.0-only
/* Type-4 data messages, one at a time, through the OpenSSL AEAD (the reference path). */
#include "transport.h"

#include <endian.h>
#include <string.h>

#include "crypto.h"
#include "index_table.h"
#include "keypair_use.h"

/* NULL durations: the protocol's. */
static const struct wg_timer_durations *durations_or_default(const struct wg_timer_durations *d,
                                                             struct wg_timer_durations *def)
{
	if (d)
		return d;
	wg_timer_durations_default(def);
	return def;
}

enum wg_message_type wg_transport_classify(const uint8_t *msg, size_t len)
{
	uint32_t type;
	if (len < sizeof(struct wg_msg_header))
		return WG_MSG_INVALID;
	memcpy(&type, msg, sizeof(type));
	switch (le32toh(type)) {
	case WG_MSG_HANDSHAKE_INITIATION:
		return len == sizeof(struct wg_msg_initiation) ? WG_MSG_HANDSHAKE_INITIATION
		                                               : WG_MSG_INVALID;
	case WG_MSG_HANDSHAKE_RESPONSE:
		return len == sizeof(struct wg_msg_response) ? WG_MSG_HANDSHAKE_RESPONSE
		                                             : WG_MSG_INVALID;
	case WG_MSG_HANDSHAKE_COOKIE:
		return len == sizeof(struct wg_msg_cookie) ? WG_MSG_HANDSHAKE_COOKIE
		                                           : WG_MSG_INVALID;
	case WG_MSG_DATA:
		return len >= WG_DATA_MIN_LEN ? WG_MSG_DATA : WG_MSG_INVALID;
	default:
		return WG_MSG_INVALID;
	}
}

size_t wg_transport_sealed_len(size_t len, size_t mtu)
{
	return sizeof(struct wg_msg_data) + wg_padded_len(len, mtu) + WG_AEAD_TAG_LEN;
}

enum wg_result wg_transport_seal(struct wg_noise_keypair *kp, const uint8_t *plain, size_t len,
                                 size_t mtu, uint8_t *out, size_t out_cap, size_t *out_len,
                                 const struct wg_timer_durations *d, uint64_t now)
{
	struct wg_timer_durations def;
	struct wg_msg_data hdr;
	size_t padded = wg_padded_len(len, mtu);
	uint64_t counter;
	enum wg_result status, r;

	if (!kp)
		return WG_ERR_NO_KEYPAIR;
	if (padded < len || out_cap < wg_transport_sealed_len(len, mtu))
		return WG_ERR_INVALID;
	/* Asked before reserving, so a refused message takes no nonce. */
	enum wg_keypair_use use =
	    wg_keypair_may_seal(kp, durations_or_default(d, &def),
	                        atomic_load_explicit(&kp->send_counter, memory_order_relaxed), now);
	if (use == WG_KEYPAIR_EXPIRED) {
		/* Stays refused even if an injected clock later reads younger. */
		atomic_store_explicit(&kp->valid, false, memory_order_relaxed);
		return WG_ERR_EXPIRED;
	}
	status = wg_noise_keypair_reserve(kp, 1, &counter);
	if (status != WG_OK && status != WG_OK_REKEY)
		return status;
	if (use == WG_KEYPAIR_REKEY)
		status = WG_OK_REKEY;

	uint8_t *body = out + sizeof(hdr);
	if (len)
		memmove(body, plain, len);
	memset(body + len, 0, padded - len);
	r = wg_aead_seal(body, body, padded, NULL, 0, counter, kp->send_key);
	if (r != WG_OK)
		return r;
	hdr.header.type = htole32(WG_MSG_DATA);
	hdr.key_idx = htole32(kp->remote_index);
	hdr.counter = htole64(counter);
	memcpy(out, &hdr, sizeof(hdr));
	*out_len = sizeof(hdr) + padded + WG_AEAD_TAG_LEN;
	return status;
}

enum wg_result wg_transport_open(struct wg_noise_local *local, const uint8_t *msg, size_t len,
                                 uint8_t *plain_out, size_t *plain_len,
                                 struct wg_noise_keypair **kp_out,
                                 const struct wg_timer_durations *d, uint64_t now)
{
	struct wg_timer_durations def;
	struct wg_msg_data hdr;
	struct wg_noise_keypair *kp;
	enum wg_result r;

	*kp_out = NULL;
	if (len < WG_DATA_MIN_LEN)
		return WG_ERR_INVALID;
	memcpy(&hdr, msg, sizeof(hdr));
	if (le32toh(hdr.header.type) != WG_MSG_DATA)
		return WG_ERR_INVALID;
	kp = wg_index_table_lookup(local->index_table, le32toh(hdr.key_idx), WG_INDEX_KEYPAIR);
	if (!kp)
		return WG_ERR_UNKNOWN_PEER;
	enum wg_keypair_use use = wg_keypair_may_open(kp, durations_or_default(d, &def), now);
	if (use == WG_KEYPAIR_EXPIRED)
		return WG_ERR_EXPIRED;

	uint64_t counter = le64toh(hdr.counter);
	size_t sealed = len - sizeof(hdr);
	r = wg_aead_open(plain_out, msg + sizeof(hdr), sealed, NULL, 0, counter, kp->recv_key);
	if (r != WG_OK)
		return r;
	/* Only an authenticated counter may move the window; it also refuses counters from
	 * WG_REJECT_AFTER_MESSAGES on. */
	if (!wg_replay_check(&kp->recv_replay, counter)) {
		wg_memzero(plain_out, sealed - WG_AEAD_TAG_LEN);
		return WG_ERR_REPLAY;
	}
	*plain_len = sealed - WG_AEAD_TAG_LEN;
	*kp_out = kp;
	return use == WG_KEYPAIR_REKEY ? WG_OK_REKEY : WG_OK;
}

enum wg_result wg_transport_inner_len(const uint8_t *plain, size_t len, size_t *inner_len)
{
	size_t n;
	*inner_len = 0;
	if (len == 0)
		return WG_OK;
	switch (plain[0] >> 4) {
	case 4: {
		size_t ihl = (size_t)(plain[0] & 0x0f) * 4;
		if (len < 20 || ihl < 20)
			return WG_ERR_INVALID;
		n = (size_t)plain[2] << 8 | plain[3];
		if (n < ihl)
			return WG_ERR_INVALID;
		break;
	}
	case 6:
		if (len < 40)
			return WG_ERR_INVALID;
		n = 40 + ((size_t)plain[4] << 8 | plain[5]);
		break;
	default:
		return WG_ERR_INVALID;
	}
	if (n > len)
		return WG_ERR_INVALID;
	*inner_len = n;
	return WG_OK;
}
