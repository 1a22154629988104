/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Incremental checksum updates for the NAT (RFC 1624 eqn. 3), on 16-bit words in memory order:
 * the ones' complement sum does not care about byte order (RFC 1071 2.B) as long as every word
 * is read the same way, so nothing is swapped. Every field the NAT rewrites (addresses, ports,
 * identifiers, the MSS option's aligned word pair) starts at an even offset of the data its
 * checksum covers.
 */
#ifndef MESHGATE_DATAPLANE_NAT_CKSUM_H
#define MESHGATE_DATAPLANE_NAT_CKSUM_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* The checksum at ck after len bytes (even) changed from old to new_. */
static inline void mg_nat_cksum_adjust(uint8_t *ck, const uint8_t *old, const uint8_t *new_,
                                       unsigned len)
{
	uint16_t c;
	memcpy(&c, ck, 2);
	uint32_t s = (uint16_t)~c;
	for (unsigned i = 0; i < len; i += 2) {
		uint16_t o, n;
		memcpy(&o, old + i, 2);
		memcpy(&n, new_ + i, 2);
		s += (uint16_t)~o;
		s += n;
	}
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	c = (uint16_t)~s;
	memcpy(ck, &c, 2);
}

/*
 * Writes len bytes (even, at most 16) of new_ over field, adjusting the checksums at ck_a and
 * ck_b (NULL: none). b_udp: ck_b is a UDP checksum, where 0 means "none" and stays 0 and a
 * computed 0 is sent as 0xffff (RFC 768).
 */
static inline void mg_nat_rewrite(uint8_t *field, const void *new_, unsigned len, uint8_t *ck_a,
                                  uint8_t *ck_b, bool b_udp)
{
	uint8_t old[16];
	memcpy(old, field, len);
	memcpy(field, new_, len);
	if (ck_a)
		mg_nat_cksum_adjust(ck_a, old, field, len);
	if (ck_b && !(b_udp && !(ck_b[0] | ck_b[1]))) {
		mg_nat_cksum_adjust(ck_b, old, field, len);
		if (b_udp && !(ck_b[0] | ck_b[1]))
			ck_b[0] = ck_b[1] = 0xff;
	}
}

#endif
