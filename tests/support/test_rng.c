// SPDX-License-Identifier: GPL-2.0-only
#include "test_rng.h"

#include <string.h>

uint64_t test_rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

void test_rng(void *ctx, void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len) {
		uint64_t z = test_rng_next(ctx);
		size_t n = len < sizeof(z) ? len : sizeof(z);
		memcpy(p, &z, n);
		p += n;
		len -= n;
	}
}
