// SPDX-License-Identifier: GPL-2.0-only
/*
 * Token buckets in nanoseconds, as in the Linux module: a packet costs 1 s / PER_SECOND, a bucket
 * holds at most BURST packets' worth, and a new source starts full minus the packet that created
 * it. The table is open addressing with linear probing over a keyed SipHash (libsodium), sized to
 * at least twice the capacity; removal shifts the rest of the run back (Knuth's algorithm R), so
 * there are no tombstones and probes stay short however long the limiter runs.
 */
#include "ratelimiter.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "constants.h"

enum {
	MIN_SLOTS = 16,
};

#define PACKET_COST_NS (WG_NSEC_PER_SEC / WG_RATELIMIT_PER_SECOND)
#define TOKEN_MAX_NS   (PACKET_COST_NS * WG_RATELIMIT_BURST)
#define IDLE_NS        WG_NSEC_PER_SEC
#define GC_INTERVAL_NS WG_NSEC_PER_SEC

_Static_assert(WG_NSEC_PER_SEC % WG_RATELIMIT_PER_SECOND == 0, "whole nanoseconds per packet");

struct source_key {
	uint8_t family;  /* 4 or 6; 0 marks an empty slot */
	uint8_t addr[8]; /* IPv4 address, or the IPv6 /64 */
};

struct bucket {
	struct source_key key;
	uint64_t last_ns;
	uint64_t tokens_ns;
};

struct wg_ratelimiter {
	uint32_t capacity;
	uint32_t count;
	uint32_t mask; /* slot count - 1 */
	uint64_t last_gc_ns;
	unsigned char hash_key[crypto_shorthash_KEYBYTES];
	struct bucket *slots;
};

static bool key_from_endpoint(const struct wg_endpoint *src, struct source_key *key)
{
	memset(key, 0, sizeof(*key));
	if (src->family == 4) {
		memcpy(key->addr, src->addr, 4);
	} else if (src->family == 6) {
		memcpy(key->addr, src->addr, 8); /* the whole /64 shares one bucket */
	} else {
		return false;
	}
	key->family = src->family;
	return true;
}

static bool key_equal(const struct source_key *a, const struct source_key *b)
{
	return a->family == b->family && memcmp(a->addr, b->addr, sizeof(a->addr)) == 0;
}

static uint32_t home_slot(const struct wg_ratelimiter *rl, const struct source_key *key)
{
	unsigned char in[1 + sizeof(key->addr)], out[crypto_shorthash_BYTES];
	uint64_t h;
	in[0] = key->family;
	memcpy(in + 1, key->addr, sizeof(key->addr));
	crypto_shorthash(out, in, sizeof(in), rl->hash_key);
	memcpy(&h, out, sizeof(h));
	return (uint32_t)h & rl->mask;
}

struct wg_ratelimiter *wg_ratelimiter_new(uint32_t capacity,
                                          void (*rand)(void *ctx, void *buf, size_t len),
                                          void *rand_ctx)
{
	if (capacity == 0 || capacity > (1u << 26) || !rand)
		return NULL;
	if (sodium_init() < 0) /* idempotent; libsodium wants it before any use */
		return NULL;
	uint32_t nslots = MIN_SLOTS;
	while (nslots < 2 * capacity)
		nslots <<= 1;
	struct wg_ratelimiter *rl = calloc(1, sizeof(*rl));
	if (!rl)
		return NULL;
	rl->slots = calloc(nslots, sizeof(*rl->slots));
	if (!rl->slots) {
		free(rl);
		return NULL;
	}
	rl->capacity = capacity;
	rl->mask = nslots - 1;
	rand(rand_ctx, rl->hash_key, sizeof(rl->hash_key));
	return rl;
}

void wg_ratelimiter_free(struct wg_ratelimiter *rl)
{
	if (!rl)
		return;
	free(rl->slots);
	sodium_memzero(rl->hash_key, sizeof(rl->hash_key));
	free(rl);
}

uint32_t wg_ratelimiter_count(const struct wg_ratelimiter *rl)
{
	return rl->count;
}

/* Empties slot pos and pulls later members of its run back so no lookup path is broken. */
static void remove_at(struct wg_ratelimiter *rl, uint32_t pos)
{
	uint32_t hole = pos;
	for (uint32_t next = (hole + 1) & rl->mask;; next = (next + 1) & rl->mask) {
		struct bucket *b = &rl->slots[next];
		if (b->key.family == 0)
			break;
		uint32_t home = home_slot(rl, &b->key);
		/* b may fill the hole only if the hole lies on b's path, from home to next. */
		if (((next - home) & rl->mask) >= ((next - hole) & rl->mask)) {
			rl->slots[hole] = *b;
			hole = next;
		}
	}
	memset(&rl->slots[hole], 0, sizeof(rl->slots[hole]));
	rl->count--;
}

static bool idle(uint64_t last_ns, uint64_t now_ns)
{
	return now_ns > last_ns && now_ns - last_ns > IDLE_NS;
}

void wg_ratelimiter_gc(struct wg_ratelimiter *rl, uint64_t now_ns)
{
	rl->last_gc_ns = now_ns;
	if (rl->count == 0)
		return;
	/*
	 * Start just after an empty slot: runs then never wrap past the start, and a removal only
	 * pulls entries from ahead of the cursor back to it, so the cursor re-examines them.
	 */
	uint32_t start = 0;
	while (rl->slots[start].key.family != 0)
		start++; /* terminates: at most half the slots are used */
	uint32_t pos = (start + 1) & rl->mask;
	for (uint32_t steps = 0; steps < rl->mask; steps++) {
		struct bucket *b = &rl->slots[pos];
		if (b->key.family != 0 && idle(b->last_ns, now_ns)) {
			remove_at(rl, pos);
			if (rl->slots[pos].key.family != 0) {
				steps--; /* something moved into pos: look at it again */
				continue;
			}
		}
		pos = (pos + 1) & rl->mask;
	}
}

static bool charge(struct bucket *b, uint64_t now_ns)
{
	/* A clock that went backwards refills nothing. */
	uint64_t elapsed = now_ns > b->last_ns ? now_ns - b->last_ns : 0;
	uint64_t tokens =
	    elapsed >= TOKEN_MAX_NS - b->tokens_ns ? TOKEN_MAX_NS : b->tokens_ns + elapsed;
	b->last_ns = now_ns > b->last_ns ? now_ns : b->last_ns;
	bool ok = tokens >= PACKET_COST_NS;
	b->tokens_ns = ok ? tokens - PACKET_COST_NS : tokens;
	return ok;
}

bool wg_ratelimiter_allow(struct wg_ratelimiter *rl, const struct wg_endpoint *src, uint64_t now_ns)
{
	struct source_key key;
	if (!src || !key_from_endpoint(src, &key))
		return false;
	if (now_ns - rl->last_gc_ns >= GC_INTERVAL_NS || now_ns < rl->last_gc_ns)
		wg_ratelimiter_gc(rl, now_ns);

	uint32_t pos = home_slot(rl, &key);
	for (;; pos = (pos + 1) & rl->mask) {
		struct bucket *b = &rl->slots[pos];
		if (b->key.family == 0)
			break;
		if (key_equal(&b->key, &key))
			return charge(b, now_ns);
	}
	if (rl->count >= rl->capacity)
		return false;
	rl->slots[pos] = (struct bucket){
	    .key = key,
	    .last_ns = now_ns,
	    .tokens_ns = TOKEN_MAX_NS - PACKET_COST_NS,
	};
	rl->count++;
	return true;
}
