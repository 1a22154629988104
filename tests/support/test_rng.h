/* SPDX-License-Identifier: GPL-2.0-only */
/*
 * The one deterministic stream every test, fuzz target and benchmark seeds its keys, nonces and
 * shuffles from (splitmix64): the same seed gives the same bytes on every machine, so a failure
 * can be replayed. Not for real keys.
 */
#ifndef MESHGATE_TESTS_TEST_RNG_H
#define MESHGATE_TESTS_TEST_RNG_H

#include <stddef.h>
#include <stdint.h>

/* The next 64 bits of the stream whose state is *state. */
uint64_t test_rng_next(uint64_t *state);
/* Upcall-shaped (wg_noise_upcalls.random, index-table draws): ctx points to a uint64_t state. */
void test_rng(void *ctx, void *buf, size_t len);

#endif
