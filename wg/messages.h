/* SPDX-License-Identifier: GPL-2.0-only */
/* On-the-wire message layouts. All integers are little-endian on the wire. */
#ifndef MESHGATE_WG_MESSAGES_H
#define MESHGATE_WG_MESSAGES_H

#include <stddef.h>
#include <stdint.h>

#include "constants.h"

enum wg_message_type {
	WG_MSG_INVALID = 0,
	WG_MSG_HANDSHAKE_INITIATION = 1,
	WG_MSG_HANDSHAKE_RESPONSE = 2,
	WG_MSG_HANDSHAKE_COOKIE = 3,
	WG_MSG_DATA = 4,
};

struct wg_msg_header {
	uint32_t type; /* one byte of type, three reserved zero bytes */
} __attribute__((packed));

struct wg_msg_macs {
	uint8_t mac1[WG_COOKIE_LEN];
	uint8_t mac2[WG_COOKIE_LEN];
} __attribute__((packed));

struct wg_msg_initiation {
	struct wg_msg_header header;
	uint32_t sender_index;
	uint8_t unencrypted_ephemeral[WG_KEY_LEN];
	uint8_t encrypted_static[WG_KEY_LEN + WG_AEAD_TAG_LEN];
	uint8_t encrypted_timestamp[WG_TIMESTAMP_LEN + WG_AEAD_TAG_LEN];
	struct wg_msg_macs macs;
} __attribute__((packed));

struct wg_msg_response {
	struct wg_msg_header header;
	uint32_t sender_index;
	uint32_t receiver_index;
	uint8_t unencrypted_ephemeral[WG_KEY_LEN];
	uint8_t encrypted_nothing[WG_AEAD_TAG_LEN];
	struct wg_msg_macs macs;
} __attribute__((packed));

struct wg_msg_cookie {
	struct wg_msg_header header;
	uint32_t receiver_index;
	uint8_t nonce[WG_XNONCE_LEN];
	uint8_t encrypted_cookie[WG_COOKIE_LEN + WG_AEAD_TAG_LEN];
} __attribute__((packed));

struct wg_msg_data {
	struct wg_msg_header header;
	uint32_t key_idx;
	uint64_t counter;
	uint8_t encrypted_data[];
} __attribute__((packed));

_Static_assert(sizeof(struct wg_msg_initiation) == 148, "initiation is 148 bytes");
_Static_assert(sizeof(struct wg_msg_response) == 92, "response is 92 bytes");
_Static_assert(sizeof(struct wg_msg_cookie) == 64, "cookie reply is 64 bytes");
_Static_assert(sizeof(struct wg_msg_data) == 16, "data header is 16 bytes");

#define WG_DATA_OVERHEAD (sizeof(struct wg_msg_data) + WG_AEAD_TAG_LEN)
#define WG_DATA_MIN_LEN  WG_DATA_OVERHEAD

/* Length of a padded plaintext before sealing: round up to 16, but never past the MTU. */
static inline size_t wg_padded_len(size_t len, size_t mtu)
{
	size_t padded = (len + WG_PADDING_MULTIPLE - 1) & ~(size_t)(WG_PADDING_MULTIPLE - 1);
	if (mtu && len <= mtu && padded > mtu)
		padded = mtu;
	return padded;
}

/*
 * A UDP endpoint: the source of a handshake (cookie mac2 and the rate limiter key on it) and the
 * place a peer is reached at. Port in host byte order; IPv4 uses the first 4 bytes of addr.
 */
struct wg_endpoint {
	uint8_t family; /* 0 (none), 4 or 6 */
	uint8_t reserved;
	uint16_t port;
	uint8_t addr[16];
};

#endif
