// SPDX-License-Identifier: GPL-2.0-only
/*
 * test.tap_file: a record of every payload the relay delivers, exactly as it holds it, so a test
 * can check what the relay sees (the node's ciphertext, byte for byte) and what it never sees
 * (any plaintext). Record: source key (32), destination key (32), length (u32 big-endian), bytes.
 */
#include <event2/buffer.h>

#include "relay.h"

void relay_tap(struct relay_server *s, const uint8_t src[32], const uint8_t dst[32],
               struct evbuffer *buf, uint32_t plen)
{
	uint8_t len[4] = {(uint8_t)(plen >> 24), (uint8_t)(plen >> 16), (uint8_t)(plen >> 8),
	                  (uint8_t)plen};
	const unsigned char *p = evbuffer_pullup(buf, plen);

	if (!p)
		return;
	fwrite(src, 1, 32, s->tap);
	fwrite(dst, 1, 32, s->tap);
	fwrite(len, 1, 4, s->tap);
	fwrite(p, 1, plen, s->tap);
}
