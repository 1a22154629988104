// SPDX-License-Identifier: GPL-2.0-only
/*
 * The handshake rate limiter: the Linux module's timing table (driven by an injected clock, then
 * once more against the real monotonic clock), per-source separation (IPv4 addresses, IPv6 /64s,
 * addresses inside one /64), sustained rates, the capacity bound and idle collection.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "check.h"
#include "constants.h"
#include "ratelimiter.h"

#define MSEC    WG_NSEC_PER_MSEC
#define SEC     WG_NSEC_PER_SEC
#define COST_NS (SEC / WG_RATELIMIT_PER_SECOND)

static uint64_t rng_state = 2024;

static struct wg_ratelimiter *new_limiter(uint32_t capacity)
{
	struct wg_ratelimiter *rl = wg_ratelimiter_new(capacity, test_rng, &rng_state);
	CHECK(rl != NULL, "wg_ratelimiter_new(%u)", capacity);
	return rl;
}

static struct wg_endpoint v4(uint32_t addr, uint16_t port)
{
	struct wg_endpoint e = {.family = 4, .port = port};
	e.addr[0] = (uint8_t)(addr >> 24);
	e.addr[1] = (uint8_t)(addr >> 16);
	e.addr[2] = (uint8_t)(addr >> 8);
	e.addr[3] = (uint8_t)addr;
	return e;
}

static void put_be32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* An IPv6 address from four 32-bit words, as the kernel test builds them. */
static struct wg_endpoint v6(uint32_t w0, uint32_t w1, uint32_t w2, uint32_t w3)
{
	struct wg_endpoint e = {.family = 6, .port = 51820};
	put_be32(e.addr, w0);
	put_be32(e.addr + 4, w1);
	put_be32(e.addr + 8, w2);
	put_be32(e.addr + 12, w3);
	return e;
}

/* The kernel self-test's expected_results: what the next initiation gets after a pause. */
static const struct {
	bool allowed;
	uint64_t sleep_before_ns;
} timing_table[] = {
    {true, 0},  {true, 0},       {true, 0},  {true, 0},           {true, 0}, /* the burst */
    {false, 0}, {true, COST_NS}, {false, 0}, {true, COST_NS * 2}, {true, 0}, {false, 0},
};
#define TIMING_STEPS (sizeof(timing_table) / sizeof(timing_table[0]))

enum step_outcome { STEP_OK, STEP_MISMATCH, STEP_TIMEOUT };

typedef uint64_t (*clock_fn)(void *ctx);

/*
 * One step of the kernel test at index i: the tracked IPv4 source and an IPv6 address inside the
 * tracked /64 (its low half changes every step) follow the table; a fresh IPv4 address and a
 * fresh /64 are always let through. If late_after_ns is set, the step is void once the clock has
 * passed it (a noisy machine slept too long), like the kernel's -ETIMEDOUT.
 */
static enum step_outcome timing_step(struct wg_ratelimiter *rl, size_t i, clock_fn now,
                                     void *clock_ctx, uint64_t late_after_ns, char *why,
                                     size_t whylen)
{
	const uint32_t base4 = 8182;
	struct wg_endpoint tracked4 = v4(base4, 1000);
	struct wg_endpoint other4 = v4(base4 + (uint32_t)i + 1, 1000);
	struct wg_endpoint tracked6 = v6(1212, 289188, (uint32_t)i, (uint32_t)i);
	struct wg_endpoint other6 = v6(1212 + (uint32_t)i + 1, 289188, (uint32_t)i, (uint32_t)i);
	const struct {
		const struct wg_endpoint *src;
		bool expected;
		const char *name;
	} probes[] = {
	    {&tracked4, timing_table[i].allowed, "tracked IPv4"},
	    {&other4, true, "another IPv4"},
	    {&tracked6, timing_table[i].allowed, "IPv6 inside the tracked /64"},
	    {&other6, true, "another /64"},
	};
	for (size_t p = 0; p < sizeof(probes) / sizeof(probes[0]); p++) {
		uint64_t t = now(clock_ctx);
		if (late_after_ns && t > late_after_ns)
			return STEP_TIMEOUT;
		bool got = wg_ratelimiter_allow(rl, probes[p].src, t);
		if (got != probes[p].expected) {
			snprintf(why, whylen, "step %zu, %s: %s, expected %s", i, probes[p].name,
			         got ? "allowed" : "refused",
			         probes[p].expected ? "allowed" : "refused");
			return STEP_MISMATCH;
		}
	}
	if (late_after_ns && now(clock_ctx) > late_after_ns)
		return STEP_TIMEOUT;
	return STEP_OK;
}

static uint64_t fake_now(void *ctx)
{
	return *(uint64_t *)ctx;
}

static void timing_table_injected(void)
{
	struct wg_ratelimiter *rl = new_limiter(WG_RATELIMITER_DEFAULT_CAPACITY);
	if (!rl)
		return;
	uint64_t clock = 1000 * SEC;
	char why[160];
	for (size_t i = 0; i < TIMING_STEPS; i++) {
		clock += timing_table[i].sleep_before_ns;
		enum step_outcome o = timing_step(rl, i, fake_now, &clock, 0, why, sizeof(why));
		CHECK(o == STEP_OK, "injected clock: %s", why);
	}
	wg_ratelimiter_free(rl);
}

static uint64_t monotonic_now(void *ctx)
{
	(void)ctx;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * SEC + (uint64_t)ts.tv_nsec;
}

static void sleep_ns(uint64_t ns)
{
	struct timespec ts = {.tv_sec = (time_t)(ns / SEC), .tv_nsec = (long)(ns % SEC)};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/*
 * The same table against CLOCK_MONOTONIC with real sleeps. Every step has a deadline: the sleeps
 * so far plus two thirds of a packet's cost (the kernel's slack). Within it, extra delay adds less
 * than one token, so any mismatch is a real fault; past it the attempt is retried (at most 5).
 */
static void timing_table_real_clock(void)
{
	enum { ATTEMPTS = 5 };
	char why[160] = "";
	int attempt, timeouts = 0;
	bool passed = false, mismatch = false;
	for (attempt = 0; attempt < ATTEMPTS && !passed && !mismatch; attempt++) {
		struct wg_ratelimiter *rl = new_limiter(WG_RATELIMITER_DEFAULT_CAPACITY);
		if (!rl)
			return;
		uint64_t start = monotonic_now(NULL), budget = 2 * COST_NS / 3;
		enum step_outcome o = STEP_OK;
		for (size_t i = 0; i < TIMING_STEPS && o == STEP_OK; i++) {
			budget += timing_table[i].sleep_before_ns;
			if (timing_table[i].sleep_before_ns)
				sleep_ns(timing_table[i].sleep_before_ns);
			o = timing_step(rl, i, monotonic_now, NULL, start + budget, why,
			                sizeof(why));
		}
		passed = o == STEP_OK;
		mismatch = o == STEP_MISMATCH;
		timeouts += o == STEP_TIMEOUT;
		wg_ratelimiter_free(rl);
	}
	CHECK(!mismatch, "real clock: %s", why);
	CHECK(passed, "real clock: no attempt finished in time (%d timeouts)", timeouts);
	printf("real clock timing table: %s after %d attempt(s)\n", passed ? "passed" : "failed",
	       attempt);
}

static unsigned allowed_of(struct wg_ratelimiter *rl, const struct wg_endpoint *src, unsigned n,
                           uint64_t now)
{
	unsigned allowed = 0;
	for (unsigned i = 0; i < n; i++)
		allowed += wg_ratelimiter_allow(rl, src, now);
	return allowed;
}

static void sources_are_separate(void)
{
	struct wg_ratelimiter *rl = new_limiter(64);
	if (!rl)
		return;
	uint64_t now = 5 * SEC;
	struct wg_endpoint a = v4(0x0a000001, 1), a_other_port = v4(0x0a000001, 2);
	struct wg_endpoint b = v4(0x0a000002, 1);
	CHECK(allowed_of(rl, &a, 10, now) == WG_RATELIMIT_BURST, "burst of one IPv4 source");
	CHECK(!wg_ratelimiter_allow(rl, &a_other_port, now), "the port does not matter");
	CHECK(allowed_of(rl, &b, 10, now) == WG_RATELIMIT_BURST, "a neighbour has its own bucket");

	/* An IPv6 address whose first bytes spell the IPv4 one is still another source. */
	struct wg_endpoint a6 = {.family = 6};
	memcpy(a6.addr, a.addr, 4);
	CHECK(allowed_of(rl, &a6, 10, now) == WG_RATELIMIT_BURST, "families are separate");

	struct wg_endpoint net1 = v6(0x20010db8, 1, 0, 1), net1_host = v6(0x20010db8, 1, ~0u, 77);
	struct wg_endpoint net2 = v6(0x20010db8, 2, 0, 1);
	CHECK(allowed_of(rl, &net1, 3, now) == 3, "three from one /64");
	CHECK(allowed_of(rl, &net1_host, 10, now) == WG_RATELIMIT_BURST - 3,
	      "the rest of the /64 shares the bucket");
	CHECK(allowed_of(rl, &net2, 10, now) == WG_RATELIMIT_BURST, "the next /64 does not");

	struct wg_endpoint none = {.family = 0}, bogus = {.family = 5};
	CHECK(!wg_ratelimiter_allow(rl, &none, now), "no family is refused");
	CHECK(!wg_ratelimiter_allow(rl, &bogus, now), "unknown family is refused");
	CHECK(!wg_ratelimiter_allow(rl, NULL, now), "NULL source is refused");
	CHECK(wg_ratelimiter_count(rl) == 5, "five sources tracked, got %u",
	      wg_ratelimiter_count(rl));
	wg_ratelimiter_free(rl);
	CHECK(wg_ratelimiter_new(0, test_rng, &rng_state) == NULL, "zero capacity is refused");
	CHECK(wg_ratelimiter_new(8, NULL, NULL) == NULL, "a hash key source is required");
}

static void sustained_rates(void)
{
	struct wg_ratelimiter *rl = new_limiter(16);
	if (!rl)
		return;
	struct wg_endpoint src = v4(0xc0000201, 9);
	uint64_t now = 100 * SEC;
	CHECK(allowed_of(rl, &src, WG_RATELIMIT_BURST, now) == WG_RATELIMIT_BURST, "burst");
	/* Exactly the permitted rate, for 10 s: every one passes (entry never idles out). */
	unsigned allowed = 0;
	for (int i = 0; i < 10 * WG_RATELIMIT_PER_SECOND; i++) {
		now += COST_NS;
		allowed += wg_ratelimiter_allow(rl, &src, now);
	}
	CHECK(allowed == 10 * WG_RATELIMIT_PER_SECOND, "at the rate: %u allowed", allowed);
	/* Twice the rate: every other one. */
	allowed = 0;
	for (int i = 0; i < 20 * WG_RATELIMIT_PER_SECOND; i++) {
		now += COST_NS / 2;
		allowed += wg_ratelimiter_allow(rl, &src, now);
	}
	CHECK(allowed == 10 * WG_RATELIMIT_PER_SECOND, "at twice the rate: %u allowed", allowed);
	/* A long pause refills only up to the burst. */
	now += 3 * SEC / 4;
	CHECK(allowed_of(rl, &src, 20, now) == WG_RATELIMIT_BURST, "refill is capped");
	/* A clock stepping backwards must not mint tokens. */
	CHECK(!wg_ratelimiter_allow(rl, &src, now - SEC / 2), "no tokens from the past");
	wg_ratelimiter_free(rl);
}

/* The kernel's capacity test: the table takes exactly capacity sources, then refuses. */
static void capacity_bound(uint32_t capacity)
{
	struct wg_ratelimiter *rl = new_limiter(capacity);
	if (!rl)
		return;
	uint64_t now = 50 * SEC;
	unsigned wrong = 0;
	for (uint32_t i = 0; i <= capacity; i++) {
		struct wg_endpoint src = v4(i, 1);
		wrong += wg_ratelimiter_allow(rl, &src, now) != (i != capacity);
	}
	CHECK(wrong == 0, "capacity %u: %u sources treated wrongly", capacity, wrong);
	CHECK(wg_ratelimiter_count(rl) == capacity, "capacity %u: count %u", capacity,
	      wg_ratelimiter_count(rl));
	/* Known sources are still served while full. */
	struct wg_endpoint first = v4(0, 1), stranger = v4(capacity + 7, 1);
	CHECK(wg_ratelimiter_allow(rl, &first, now), "a known source while full");
	CHECK(!wg_ratelimiter_allow(rl, &stranger, now + SEC / 2), "still full half a second on");

	/* Idle for exactly a second is not yet idle; a nanosecond more is. */
	wg_ratelimiter_gc(rl, now + SEC);
	CHECK(wg_ratelimiter_count(rl) == capacity, "nothing collected at exactly 1 s");
	wg_ratelimiter_gc(rl, now + SEC + 1);
	CHECK(wg_ratelimiter_count(rl) == 0, "all collected after 1 s: %u left",
	      wg_ratelimiter_count(rl));
	CHECK(wg_ratelimiter_allow(rl, &stranger, now + SEC + 2), "room again");
	wg_ratelimiter_free(rl);
}

/* Without any explicit gc call, allow() collects idle sources on its own. */
static void opportunistic_gc(void)
{
	enum { CAP = 100 };
	struct wg_ratelimiter *rl = new_limiter(CAP);
	if (!rl)
		return;
	uint64_t now = 10 * SEC;
	for (uint32_t i = 0; i < CAP; i++) {
		struct wg_endpoint src = v4(0x0b000000 + i, 1);
		wg_ratelimiter_allow(rl, &src, now);
	}
	struct wg_endpoint late = v4(0x0c000000, 1);
	CHECK(!wg_ratelimiter_allow(rl, &late, now), "full");
	CHECK(wg_ratelimiter_allow(rl, &late, now + 3 * SEC / 2), "idle sources made room");
	CHECK(wg_ratelimiter_count(rl) == 1, "only the newcomer remains: %u",
	      wg_ratelimiter_count(rl));
	wg_ratelimiter_free(rl);
}

/*
 * Collection in a crowded table: half the sources go idle, half stay active with drained buckets.
 * Afterwards the active ones must still be found with their state (a removal that broke a probe
 * run would turn one into a fresh, full bucket) and the idle ones must start afresh.
 */
static void gc_keeps_the_living(void)
{
	enum { N = 3000 };
	struct wg_ratelimiter *rl = new_limiter(4096);
	if (!rl)
		return;
	const uint64_t t0 = 20 * SEC, t_active = t0 + 900 * MSEC, t_gc = t0 + SEC + 1;
	unsigned wrong = 0;
	for (uint32_t i = 0; i < N; i++) {
		struct wg_endpoint src = v4(0x64400000 + i * 7919, 1);
		wrong += !wg_ratelimiter_allow(rl, &src, t0);
	}
	for (uint32_t i = 1; i < N; i += 2) {
		struct wg_endpoint src = v4(0x64400000 + i * 7919, 1);
		wrong += allowed_of(rl, &src, 6, t_active) != WG_RATELIMIT_BURST;
	}
	CHECK(wrong == 0, "setup: %u wrong", wrong);
	wg_ratelimiter_gc(rl, t_gc);
	CHECK(wg_ratelimiter_count(rl) == N / 2, "after gc %u tracked, expected %u",
	      wg_ratelimiter_count(rl), N / 2);
	unsigned idle_wrong = 0, active_wrong = 0;
	for (uint32_t i = 0; i < N; i++) {
		struct wg_endpoint src = v4(0x64400000 + i * 7919, 1);
		unsigned got = allowed_of(rl, &src, 6, t_gc);
		if (i % 2)
			active_wrong += got != 2; /* 100 ms since it drained: two packets' worth */
		else
			idle_wrong += got != WG_RATELIMIT_BURST;
	}
	CHECK(active_wrong == 0, "%u active sources lost their bucket", active_wrong);
	CHECK(idle_wrong == 0, "%u collected sources did not start afresh", idle_wrong);
	wg_ratelimiter_free(rl);
}

int main(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	timing_table_injected();
	sources_are_separate();
	sustained_rates();
	capacity_bound(1000);
	capacity_bound(WG_RATELIMITER_DEFAULT_CAPACITY);
	opportunistic_gc();
	gc_keeps_the_living();
	timing_table_real_clock();
	return check_done("ratelimiter");
}
