/* SPDX-License-Identifier: GPL-2.0-only */
/* The deterministic engine's mutator, apart from the loop that drives it (fuzz_driver.c). */
#ifndef MESHGATE_TESTS_FUZZ_MUTATE_H
#define MESHGATE_TESTS_FUZZ_MUTATE_H

#include <stddef.h>
#include <stdint.h>

/* A corpus entry or dictionary token. */
struct fuzz_blob {
	uint8_t *data;
	size_t len;
	char *name;
};

/* Restarts the stream every draw below comes from. */
void fuzz_mutate_seed(uint64_t seed);
/* A draw in [0, bound) (0 when bound is 0). */
uint64_t fuzz_rnd(uint64_t bound);
/*
 * One mutation of buf (len bytes, room for max_len), splicing from corpus and inserting
 * tokens. Returns the new length.
 */
size_t fuzz_mutate(uint8_t *buf, size_t len, size_t max_len, const struct fuzz_blob *corpus,
                   size_t corpus_len, const struct fuzz_blob *tokens, size_t token_count);

#endif
