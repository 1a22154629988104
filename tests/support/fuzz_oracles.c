// SPDX-License-Identifier: GPL-2.0-only
#include "fuzz_oracles.h"

#include <stdio.h>

#include "result.h"

uint32_t fuzz_le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The sizes are the protocol's (148, 92, 64, and a 32-byte data minimum: header and tag), not
 * sizeof of wg/'s structs, so a wrong struct layout shows. */
enum wg_message_type fuzz_expected_type(const uint8_t *d, size_t len)
{
	if (len < 4)
		return WG_MSG_INVALID;
	switch (fuzz_le32(d)) {
	case WG_MSG_HANDSHAKE_INITIATION:
		return len == 148 ? WG_MSG_HANDSHAKE_INITIATION : WG_MSG_INVALID;
	case WG_MSG_HANDSHAKE_RESPONSE:
		return len == 92 ? WG_MSG_HANDSHAKE_RESPONSE : WG_MSG_INVALID;
	case WG_MSG_HANDSHAKE_COOKIE:
		return len == 64 ? WG_MSG_HANDSHAKE_COOKIE : WG_MSG_INVALID;
	case WG_MSG_DATA:
		return len >= 32 ? WG_MSG_DATA : WG_MSG_INVALID;
	default:
		return WG_MSG_INVALID;
	}
}

bool fuzz_all_bytes(const uint8_t *p, size_t len, uint8_t v)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != v)
			return false;
	return true;
}

void fuzz_result_labels(char labels[][FUZZ_LABEL_LEN], const char *prefix)
{
	for (int r = 0; r < WG_RESULT_COUNT; r++)
		snprintf(labels[r], FUZZ_LABEL_LEN, "%s: %s", prefix,
		         wg_result_str((enum wg_result)r));
}
