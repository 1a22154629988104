/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * Big-endian fields of wire formats (STUN, the relay's frames) read and written byte by byte,
 * so no alignment is assumed and no host order leaks. The data plane has DPDK's rte_be*
 * helpers for headers it owns; these are for the code off the fast path.
 */
#ifndef MESHGATE_BASE_BYTES_H
#define MESHGATE_BASE_BYTES_H

#include <stdint.h>

static inline uint16_t mg_get_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t mg_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void mg_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void mg_put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

#endif
