// SPDX-License-Identifier: GPL-2.0-only
#include "tai64n.h"

#include <string.h>
#include <time.h>

static void put_be64(uint8_t *p, uint64_t v)
{
	for (int i = 7; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

static void put_be32(uint8_t *p, uint32_t v)
{
	for (int i = 3; i >= 0; i--) {
		p[i] = (uint8_t)v;
		v >>= 8;
	}
}

void wg_tai64n_encode(uint8_t out[WG_TIMESTAMP_LEN], uint64_t unix_sec, uint32_t nsec)
{
	put_be64(out, WG_TAI64_BASE + unix_sec);
	put_be32(out + 8, nsec);
}

void wg_tai64n_now(uint8_t out[WG_TIMESTAMP_LEN])
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	uint32_t nsec = (uint32_t)ts.tv_nsec & ~(uint32_t)(WG_TAI64N_GRANULARITY_NS - 1);
	wg_tai64n_encode(out, (uint64_t)ts.tv_sec, nsec);
}

bool wg_tai64n_after(const uint8_t a[WG_TIMESTAMP_LEN], const uint8_t b[WG_TIMESTAMP_LEN])
{
	/* Big-endian fields compare as byte strings. */
	return memcmp(a, b, WG_TIMESTAMP_LEN) > 0;
}
