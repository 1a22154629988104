// SPDX-License-Identifier: GPL-2.0-only
/*
 * The deterministic engine's mutations (fuzz_driver.c): bit flips, interesting integers at
 * aligned offsets, arithmetic, truncation and extension, inserts and deletes, splices with
 * other corpus entries, fills and dictionary tokens. All draws come from one seeded stream, so
 * iteration N of a run can be regenerated from the seed alone.
 */
#include "fuzz_mutate.h"

#include <stdbool.h>
#include <string.h>

#include "test_rng.h"

static uint64_t mut_state;

void fuzz_mutate_seed(uint64_t seed)
{
	mut_state = seed;
}

uint64_t fuzz_rnd(uint64_t bound)
{
	return bound ? test_rng_next(&mut_state) % bound : 0;
}

static const uint64_t interesting[] = {
    0,
    1,
    2,
    3,
    4,
    7,
    8,
    15,
    16,
    31,
    32,
    63,
    64,
    91,
    92,
    93,
    127,
    128,
    147,
    148,
    149,
    255,
    256,
    1280,
    1420,
    1500,
    4096,
    8191,
    8192,
    8193,
    32767,
    32768,
    65535,
    65536,
    0x7fffffff,
    0x80000000,
    0xffffffffULL,
    1ULL << 60,
    UINT64_MAX - 8192,
    UINT64_MAX - 8191,
    UINT64_MAX - 1,
    UINT64_MAX,
};

/* Writes the low width bytes of v at pos, little- or big-endian. */
static void put_int(uint8_t *buf, size_t pos, uint64_t v, size_t width, bool big)
{
	for (size_t i = 0; i < width; i++) {
		size_t shift = 8 * (big ? width - 1 - i : i);
		buf[pos + i] = (uint8_t)(v >> shift);
	}
}

static uint64_t get_int(const uint8_t *buf, size_t pos, size_t width, bool big)
{
	uint64_t v = 0;
	for (size_t i = 0; i < width; i++) {
		size_t shift = 8 * (big ? width - 1 - i : i);
		v |= (uint64_t)buf[pos + i] << shift;
	}
	return v;
}

/* Makes room for n bytes at pos (n fits: the caller checked len + n <= max_len). */
static void open_gap(uint8_t *buf, size_t len, size_t pos, size_t n)
{
	memmove(buf + pos + n, buf + pos, len - pos);
}

enum mutation {
	MUT_FLIP_BIT,
	MUT_SET_BYTE,
	MUT_INTERESTING,
	MUT_ARITH,
	MUT_TRUNCATE,
	MUT_EXTEND,
	MUT_INSERT,
	MUT_DELETE,
	MUT_COPY_WITHIN,
	MUT_SPLICE,
	MUT_FILL,
	MUT_TOKEN,
	MUT_COUNT
};

size_t fuzz_mutate(uint8_t *buf, size_t len, size_t max_len, const struct fuzz_blob *corpus,
                   size_t corpus_len, const struct fuzz_blob *tokens, size_t token_count)
{
	enum mutation m = (enum mutation)fuzz_rnd(MUT_COUNT);
	size_t pos = fuzz_rnd(len ? len : 1), n;

	switch (m) {
	case MUT_FLIP_BIT:
		if (len)
			buf[pos] ^= (uint8_t)(1u << fuzz_rnd(8));
		break;
	case MUT_SET_BYTE:
		if (len)
			buf[pos] = (uint8_t)fuzz_rnd(256);
		break;
	case MUT_INTERESTING: {
		static const size_t widths[] = {1, 2, 4, 8};
		size_t width = widths[fuzz_rnd(4)];
		if (len < width)
			break;
		/* Fields are mostly aligned: favour aligned positions. */
		pos = fuzz_rnd(2) ? fuzz_rnd(len - width + 1)
		                  : (fuzz_rnd((len - width) / width + 1) * width);
		put_int(buf, pos,
		        interesting[fuzz_rnd(sizeof(interesting) / sizeof(interesting[0]))], width,
		        fuzz_rnd(2));
		break;
	}
	case MUT_ARITH: {
		static const size_t widths[] = {1, 4, 8};
		size_t width = widths[fuzz_rnd(3)];
		bool big = fuzz_rnd(2);
		if (len < width)
			break;
		pos = fuzz_rnd(len - width + 1);
		uint64_t delta = 1 + fuzz_rnd(35), v = get_int(buf, pos, width, big);
		put_int(buf, pos, fuzz_rnd(2) ? v + delta : v - delta, width, big);
		break;
	}
	case MUT_TRUNCATE:
		return fuzz_rnd(len + 1);
	case MUT_EXTEND:
		n = 1 + fuzz_rnd(fuzz_rnd(4) ? 16 : 256);
		if (len + n > max_len)
			n = max_len - len;
		if (fuzz_rnd(2)) {
			for (size_t i = 0; i < n; i++)
				buf[len + i] = (uint8_t)fuzz_rnd(256);
		} else {
			memset(buf + len, len ? buf[len - 1] : 0, n);
		}
		return len + n;
	case MUT_INSERT:
		n = 1 + fuzz_rnd(16);
		if (len + n > max_len)
			break;
		pos = fuzz_rnd(len + 1);
		open_gap(buf, len, pos, n);
		for (size_t i = 0; i < n; i++)
			buf[pos + i] = (uint8_t)fuzz_rnd(256);
		return len + n;
	case MUT_DELETE:
		if (!len)
			break;
		n = 1 + fuzz_rnd(len - pos < 32 ? len - pos : 32);
		memmove(buf + pos, buf + pos + n, len - pos - n);
		return len - n;
	case MUT_COPY_WITHIN: {
		if (len < 2)
			break;
		size_t src = fuzz_rnd(len), dst = fuzz_rnd(len);
		n = 1 + fuzz_rnd(len - (src > dst ? src : dst));
		memmove(buf + dst, buf + src, n);
		break;
	}
	case MUT_SPLICE: {
		const struct fuzz_blob *o = &corpus[fuzz_rnd(corpus_len)];
		if (!o->len)
			break;
		if (fuzz_rnd(2)) {
			/* Crossover at the same offset: keeps both messages' field layout. */
			size_t at = fuzz_rnd(o->len), cnt = 1 + fuzz_rnd(o->len - at);
			if (at + cnt > len)
				cnt = at < len ? len - at : 0;
			memcpy(buf + at, o->data + at, cnt);
		} else {
			/* Our prefix, the other's suffix. */
			size_t cut = fuzz_rnd(len + 1), from = fuzz_rnd(o->len);
			n = o->len - from;
			if (cut + n > max_len)
				n = max_len - cut;
			memcpy(buf + cut, o->data + from, n);
			return cut + n;
		}
		break;
	}
	case MUT_FILL: {
		if (!len)
			break;
		static const uint8_t fills[] = {0x00, 0xff, 0x41, 0x20, 0x0a};
		n = 1 + fuzz_rnd(len - pos);
		memset(buf + pos, fills[fuzz_rnd(sizeof(fills))], n);
		break;
	}
	case MUT_TOKEN: {
		if (!token_count)
			break;
		const struct fuzz_blob *t = &tokens[fuzz_rnd(token_count)];
		if (fuzz_rnd(2) && len + t->len <= max_len) {
			pos = fuzz_rnd(len + 1);
			open_gap(buf, len, pos, t->len);
			memcpy(buf + pos, t->data, t->len);
			return len + t->len;
		}
		if (t->len <= len) {
			pos = fuzz_rnd(len - t->len + 1);
			memcpy(buf + pos, t->data, t->len);
		}
		break;
	}
	case MUT_COUNT:
		break;
	}
	return len;
}
