/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Which protocol a datagram on a node's WireGuard port is, from its first bytes alone
 * (docs/nat-traversal.md, "Telling the three protocols apart"). Here rather than in node/ so
 * the data plane, which may not reach node/, runs the very same test as the agent: one copy.
 */
#ifndef MESHGATE_BASE_PORT_DEMUX_H
#define MESHGATE_BASE_PORT_DEMUX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define MG_DEMUX_STUN_HDR_LEN   20
#define MG_DEMUX_STUN_COOKIE    0x2112A442u
#define MG_DEMUX_DISCO_MAGIC    "MGdsc"
#define MG_DEMUX_DISCO_MAGIC_LN 5

/* STUN: top two bits zero, the magic cookie at offset 4, a length field that is the rest of
 * the datagram, and not a WireGuard first word. */
static inline bool mg_demux_is_stun(const uint8_t *b, size_t len)
{
	if (len < MG_DEMUX_STUN_HDR_LEN || (b[0] & 0xc0) != 0)
		return false;
	uint32_t cookie = (uint32_t)b[4] << 24 | (uint32_t)b[5] << 16 | (uint32_t)b[6] << 8 | b[7];
	if (cookie != MG_DEMUX_STUN_COOKIE)
		return false;
	/* A WireGuard sender index can equal the cookie by chance; its first word (type 1..4,
	 * three zero bytes) is a STUN type with no method and an empty body, never real. */
	if (b[0] >= 1 && b[0] <= 4 && b[1] == 0 && b[2] == 0 && b[3] == 0)
		return false;
	return MG_DEMUX_STUN_HDR_LEN + (size_t)((unsigned)b[2] << 8 | b[3]) == len;
}

/* Disco: the "MGdsc" magic ("M" has the top bits 01, so never STUN nor WireGuard). */
static inline bool mg_demux_is_disco(const uint8_t *b, size_t len)
{
	return len >= MG_DEMUX_DISCO_MAGIC_LN &&
	       memcmp(b, MG_DEMUX_DISCO_MAGIC, MG_DEMUX_DISCO_MAGIC_LN) == 0;
}

#endif
